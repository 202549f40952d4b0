//! End-to-end: a real `estate-server` and a real `estate-agent`, as processes on
//! loopback, in a temporary directory (issue 3's acceptance test).
//!
//! The agent reads the recorded `debian-kvm` sysroot (deterministic, no privileges
//! needed), reports every second and logs JSON. The host must appear in the read API with
//! its inventory and in `/metrics`; the collector is then killed with SIGKILL while the
//! agent keeps collecting (it spools), and restarted on the same port and database. In the
//! end every report the agent built (its `report spooled` log lines) must be in the
//! store's SQLite file exactly once, by `report_id`: none lost, none duplicated, none
//! extra.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use estate_tests::{HttpResponse, Proc, http_get, poll_until, toml_string, workspace_bin};
use serde_json::Value;

/// The `debian-kvm` fixture's host id (its `/etc/machine-id`).
const HOST_ID: &str = "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b";
/// Longest wait for anything to happen.
const WAIT: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// Reports the agent must build while the collector is down.
const OUTAGE_REPORTS: usize = 3;

fn fixture_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/sysroots/debian-kvm")
}

/// A collector and an agent in one temporary directory.
struct Estate {
    dir: tempfile::TempDir,
    /// The collector's port: chosen by the kernel on the first start, kept afterwards.
    port: u16,
    server: Option<Proc>,
    server_starts: usize,
    agent: Option<Proc>,
}

impl Estate {
    fn new() -> Estate {
        let dir = tempfile::Builder::new()
            .prefix("estate-e2e-")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("enrolment-token"),
            "e2e-enrolment-token-0123456789abcdef\n",
        )
        .unwrap();
        Estate {
            dir,
            port: 0,
            server: None,
            server_starts: 0,
            agent: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Starts the collector (on the port of the previous start, if any) and waits until it
    /// listens.
    fn start_server(&mut self) {
        assert!(self.server.is_none(), "the collector is already running");
        let config = self.path("server.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{}\"\n\n\
                 [storage]\nsqlite_path = {}\n\n\
                 [auth]\nenrolment_token_file = {}\n",
                self.port,
                toml_string(&self.path("estate.db")),
                toml_string(&self.path("enrolment-token")),
            ),
        )
        .unwrap();
        self.server_starts += 1;
        let mut command = Command::new(workspace_bin("estate-server"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env_remove("ESTATE_LOG");
        let log = self.path(&format!("server-{}.log", self.server_starts));
        let mut server = Proc::spawn("estate-server", command, &log).unwrap();
        // The collector logs the address it bound: `collector listening addr=IP:PORT`.
        let addr = poll_until(WAIT, POLL, || {
            if server.try_wait().is_some() {
                return Some(None);
            }
            server
                .log()
                .lines()
                .filter(|line| line.contains("collector listening"))
                .find_map(|line| line.split("addr=").nth(1))
                .and_then(|addr| addr.split_whitespace().next())
                .and_then(|addr| addr.parse::<SocketAddr>().ok())
                .map(Some)
        });
        let Some(Some(addr)) = addr else {
            panic!(
                "the collector did not start listening (exit: {:?})\n{}",
                server.try_wait(),
                server.log_tail(40)
            );
        };
        if self.port != 0 {
            assert_eq!(addr.port(), self.port, "the collector moved port");
        }
        self.port = addr.port();
        self.server = Some(server);
    }

    /// Kills the collector with SIGKILL (no shutdown, no flush).
    fn kill_server(&mut self) {
        let mut server = self.server.take().expect("the collector is running");
        server.kill();
    }

    /// Stops the collector with SIGTERM; it must exit successfully.
    fn stop_server(&mut self) {
        let mut server = self.server.take().expect("the collector is running");
        let status = server.terminate(WAIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "the collector did not exit cleanly on SIGTERM: {status:?}\n{}",
            server.log_tail(40)
        );
    }

    fn start_agent(&mut self) {
        assert!(self.server.is_some(), "start the collector first");
        let config = self.path("agent.toml");
        std::fs::write(
            &config,
            format!(
                "[collector]\nurl = \"http://{}\"\nenrolment_token_file = {}\n\n\
                 [agent]\nstate_dir = {}\nreport_interval_secs = 1\nsample_interval_secs = 1\n\
                 log_format = \"json\"\n\n\
                 [labels]\nsite = \"e2e\"\n",
                self.addr(),
                toml_string(&self.path("enrolment-token")),
                toml_string(&self.path("agent")),
            ),
        )
        .unwrap();
        let mut command = Command::new(workspace_bin("estate-agent"));
        command
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(fixture_root())
            .env("ESTATE_LOG", "info");
        self.agent = Some(Proc::spawn("estate-agent", command, &self.path("agent.log")).unwrap());
    }

    /// Stops the agent with SIGTERM (it builds a final report and flushes); it must exit
    /// successfully. Answers the fields of its `agent stopped` line.
    fn stop_agent(&mut self) -> Value {
        let mut agent = self.agent.take().expect("the agent is running");
        let status = agent.terminate(WAIT);
        self.agent = Some(agent);
        assert!(
            status.is_some_and(|s| s.success()),
            "the agent did not exit cleanly on SIGTERM: {status:?}\n{}",
            self.diagnostics()
        );
        self.agent_events("agent stopped")
            .pop()
            .unwrap_or_else(|| panic!("no `agent stopped` line\n{}", self.diagnostics()))
    }

    /// The fields of the agent's JSON log lines with this message, in order.
    fn agent_events(&self, message: &str) -> Vec<Value> {
        let log = self.agent.as_ref().map(Proc::log).unwrap_or_default();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .map(|mut line| match line.get_mut("fields") {
                Some(fields) => fields.take(),
                None => line,
            })
            .filter(|fields| fields["message"] == message)
            .collect()
    }

    fn report_ids(&self, message: &str) -> Vec<String> {
        self.agent_events(message)
            .iter()
            .map(|fields| {
                fields["report_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{message} without a report_id: {fields}"))
                    .to_owned()
            })
            .collect()
    }

    /// The report ids the agent built and spooled, in order.
    fn spooled(&self) -> Vec<String> {
        self.report_ids("report spooled")
    }

    /// The report ids the collector acknowledged to the agent.
    fn delivered(&self) -> BTreeSet<String> {
        self.report_ids("report delivered").into_iter().collect()
    }

    /// The tails of every log, for failure messages.
    fn diagnostics(&self) -> String {
        let mut out = String::new();
        if let Some(agent) = &self.agent {
            out.push_str(&agent.log_tail(60));
            out.push('\n');
        }
        for n in 1..=self.server_starts {
            let path = self.path(&format!("server-{n}.log"));
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(20)..];
            out.push_str(&format!(
                "--- last {} lines of estate-server start {n} ---\n{}\n",
                tail.len(),
                tail.join("\n")
            ));
        }
        out
    }

    /// Polls `check` until it answers `Some` or [`WAIT`] passes (then fails the test).
    fn wait<T>(&self, what: &str, check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        poll_until(WAIT, POLL, check).unwrap_or_else(|| {
            panic!(
                "timed out after {:?} waiting for {what}\n{}",
                started.elapsed(),
                self.diagnostics()
            )
        })
    }

    fn get(&self, path: &str) -> Option<HttpResponse> {
        http_get(self.addr(), path).ok()
    }

    /// Waits until the read API has the host with its inventory; answers the host.
    fn wait_for_host_with_inventory(&self) -> Value {
        self.wait("the host in the read API with its inventory", || {
            let response = self.get(&format!("/api/v1/hosts/{HOST_ID}"))?;
            if response.status != 200 {
                return None;
            }
            let host: Value = serde_json::from_str(&response.body).ok()?;
            host["inventory"].is_object().then_some(host)
        })
    }

    /// Waits until `/metrics` counts exactly one reporting host.
    fn wait_for_one_reporting_host(&self) {
        self.wait("estate_hosts{state=\"reporting\"} 1 in /metrics", || {
            let response = self.get("/metrics")?;
            (response.status == 200
                && response
                    .body
                    .lines()
                    .any(|line| line.trim() == "estate_hosts{state=\"reporting\"} 1"))
            .then_some(())
        });
    }

    /// Waits until every report the agent has spooled so far has been acknowledged.
    fn wait_until_all_delivered(&self) {
        self.wait("every spooled report delivered", || {
            let spooled = self.spooled();
            let delivered = self.delivered();
            (!spooled.is_empty() && spooled.iter().all(|id| delivered.contains(id))).then_some(())
        });
    }

    /// Kills the collector, waits until the agent has built [`OUTAGE_REPORTS`] more
    /// reports and failed to send, restarts the collector on the same port and database,
    /// and answers the ids built during the outage.
    fn outage(&mut self) -> Vec<String> {
        self.kill_server();
        // Read after the kill: a report logged from here on was built with the collector
        // down (the agent logs `report spooled` before the sender can see the report).
        let before = self.spooled().len();
        let failures_before = self.agent_events("sending failed; will retry").len();
        let outage = self.wait("reports spooled while the collector is down", || {
            let spooled = self.spooled();
            let failed = self.agent_events("sending failed; will retry").len() > failures_before;
            (failed && spooled.len() >= before + OUTAGE_REPORTS).then(|| spooled[before..].to_vec())
        });
        let delivered = self.delivered();
        assert!(
            outage.iter().all(|id| !delivered.contains(id)),
            "a report was delivered while the collector was down\n{}",
            self.diagnostics()
        );
        self.start_server();
        outage
    }

    /// The report ids in a table of the collector's database for the fixture's host, each
    /// with how many rows it has (read-only; the collector must be stopped).
    fn stored(&self, table: &str) -> (BTreeMap<String, i64>, i64) {
        let db = rusqlite::Connection::open_with_flags(
            self.path("estate.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut query = db
            .prepare(&format!(
                "SELECT report_id, COUNT(*) FROM {table} WHERE host_id = ?1 GROUP BY report_id"
            ))
            .unwrap();
        let rows = query
            .query_map([HOST_ID], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<BTreeMap<String, i64>, _>>()
            .unwrap();
        let total: i64 = db
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap();
        (rows, total)
    }

    /// Every report the agent built is stored exactly once in `series` and `raw_reports`,
    /// and nothing else is stored.
    fn assert_each_report_stored_exactly_once(&self, summary: &Value) {
        let spooled = self.spooled();
        let unique: BTreeSet<String> = spooled.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            spooled.len(),
            "the agent logged a report id twice"
        );
        assert_eq!(summary["built"], spooled.len() as u64, "{summary}");
        assert_eq!(summary["delivered"], spooled.len() as u64, "{summary}");
        assert_eq!(summary["rejected"], 0, "{summary}");
        assert_eq!(summary["dropped"], 0, "{summary}");
        assert_eq!(summary["left_in_spool"], 0, "{summary}");
        for table in ["series", "raw_reports"] {
            let (stored, total) = self.stored(table);
            let duplicated: Vec<_> = stored.iter().filter(|(_, n)| **n != 1).collect();
            assert!(
                duplicated.is_empty(),
                "{table}: reports stored more than once: {duplicated:?}"
            );
            let stored_ids: BTreeSet<String> = stored.into_keys().collect();
            let missing: Vec<_> = unique.difference(&stored_ids).collect();
            let extra: Vec<_> = stored_ids.difference(&unique).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{table}: {} of {} reports missing: {missing:?}; {} not built by the agent: {extra:?}\n{}",
                missing.len(),
                unique.len(),
                extra.len(),
                self.diagnostics()
            );
            assert_eq!(total, unique.len() as i64, "{table}: rows of other hosts");
        }
        let resent = self
            .agent_events("report delivered")
            .iter()
            .filter(|fields| fields["duplicate"] == true)
            .count();
        eprintln!(
            "{} reports built, all stored exactly once ({resent} acknowledged as duplicates)",
            spooled.len()
        );
    }
}

/// The host in the read API is the fixture, with its inventory and labels.
fn assert_is_the_fixture(host: &Value) {
    let hostname = std::fs::read_to_string(fixture_root().join("etc/hostname")).unwrap();
    assert_eq!(host["host_id"], HOST_ID, "{host}");
    assert_eq!(host["hostname"], hostname.trim(), "{host}");
    assert_eq!(host["labels"]["site"], "e2e", "{host}");
    assert!(host["inventory"]["os"].is_object(), "{host}");
    assert!(host["inventory"]["cpu"].is_object(), "{host}");
    assert_eq!(
        host["inventory_hash"], host["reported_inventory_hash"],
        "{host}"
    );
}

#[test]
fn every_report_is_stored_exactly_once_across_a_collector_crash() {
    let started = Instant::now();
    let mut estate = Estate::new();
    estate.start_server();
    estate.start_agent();

    let host = estate.wait_for_host_with_inventory();
    assert_is_the_fixture(&host);
    estate.wait_for_one_reporting_host();
    estate.wait_until_all_delivered();

    let outage = estate.outage();

    // The restarted collector has everything from before the crash, and takes the
    // reports spooled during it.
    let host = estate.wait_for_host_with_inventory();
    assert_is_the_fixture(&host);
    estate.wait_for_one_reporting_host();
    estate.wait_until_all_delivered();
    let delivered = estate.delivered();
    assert!(outage.iter().all(|id| delivered.contains(id)));

    let summary = estate.stop_agent();
    estate.stop_server();
    estate.assert_each_report_stored_exactly_once(&summary);
    eprintln!("took {:?}", started.elapsed());
}

#[test]
fn every_report_is_stored_exactly_once_across_repeated_collector_crashes() {
    let started = Instant::now();
    let mut estate = Estate::new();
    estate.start_server();
    estate.start_agent();
    assert_is_the_fixture(&estate.wait_for_host_with_inventory());
    estate.wait_until_all_delivered();

    for _ in 0..3 {
        let outage = estate.outage();
        // Sending resumes before the next crash (so every crash finds the agent sending).
        estate.wait_until_all_delivered();
        let delivered = estate.delivered();
        assert!(outage.iter().all(|id| delivered.contains(id)));
    }
    assert_is_the_fixture(&estate.wait_for_host_with_inventory());
    estate.wait_for_one_reporting_host();

    let summary = estate.stop_agent();
    estate.stop_server();
    estate.assert_each_report_stored_exactly_once(&summary);
    eprintln!("took {:?}", started.elapsed());
}
