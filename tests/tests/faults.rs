//! Faults the collector survives (issue 8), end to end with real processes: the
//! `estate-server` and `estate-agent simulate` binaries, a real SQLite file on a real
//! (small) filesystem, a private PostgreSQL instance. `docs/security.md` ("Faults
//! survived") says what each test proves.
//!
//! - `every_acknowledged_report_is_stored_once_across_ten_sigkills_under_load`: the
//!   collector is killed with SIGKILL ten times at seeded moments while the fleet
//!   simulator sends; every report the simulator got a 2xx for is in the store exactly
//!   once and the database passes `PRAGMA integrity_check`.
//! - `a_full_disk_answers_503_storage_full_and_recovers_when_space_returns`: the data
//!   dir is a small tmpfs; ingest fills it until writes fail; ingest then answers `503
//!   storage_full` with `Retry-After`, `/readyz` says so, the collector keeps running,
//!   nothing stored is damaged, and ingest succeeds again once a file is deleted.
//! - `postgres_restarted_under_load_loses_no_acknowledged_report`: a private PostgreSQL
//!   is stopped (immediate) and started again while the simulator sends; the collector
//!   answers `503` (never `500`) and `/readyz` is not ready meanwhile, reconnects by
//!   itself, and every acknowledged report is in the database exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use estate_tests::{
    HttpResponse, Proc, free_local_port, http_get, http_post, logged_addr, poll_until, toml_string,
    workspace_bin,
};
use serde_json::Value;

/// Longest wait for a process to start or for something to happen.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const ENROLMENT_TOKEN: &str = "faults-enrolment-token-0123456789abcdef";
/// The simulator's acknowledgement log (`agent/src/simulate/driver`'s `ACKED_LOG_ENV`).
const ACKED_LOG_ENV: &str = "ESTATE_SIMULATE_ACKED_LOG";

fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::write(dir.path().join("enrolment-token"), ENROLMENT_TOKEN).unwrap();
    dir
}

/// A small deterministic generator (SplitMix64) for the moments of the faults: the same
/// seed, the same schedule.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A duration in `[low, high)` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low))
    }
}

/// A collector started (and restarted) from one config in a temporary directory, on the
/// port of its first start.
struct Collector {
    dir: PathBuf,
    /// The `[storage]` section's body and any extra `[server]` lines.
    storage: String,
    server_extra: String,
    port: u16,
    starts: usize,
    process: Option<Proc>,
}

impl Collector {
    fn new(dir: &Path, storage: String, server_extra: &str) -> Collector {
        Collector {
            dir: dir.to_path_buf(),
            storage,
            server_extra: server_extra.to_owned(),
            port: 0,
            starts: 0,
            process: None,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn start(&mut self) {
        assert!(self.process.is_none(), "the collector is already running");
        let config = self.dir.join("server.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{}\"\n{}\n\n[storage]\n{}\n\n\
                 [auth]\nenrolment_token_file = {}\n",
                self.port,
                self.server_extra,
                self.storage,
                toml_string(&self.dir.join("enrolment-token")),
            ),
        )
        .unwrap();
        self.starts += 1;
        let mut command = Command::new(workspace_bin("estate-server"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env_remove("ESTATE_LOG");
        let log = self.dir.join(format!("server-{}.log", self.starts));
        let mut process = Proc::spawn("estate-server", command, &log).unwrap();
        let Some(addr) = logged_addr(&mut process, "collector listening", WAIT) else {
            panic!(
                "the collector did not start listening (exit: {:?})\n{}",
                process.try_wait(),
                process.log_tail(40)
            );
        };
        if self.port != 0 {
            assert_eq!(addr.port(), self.port, "the collector moved port");
        }
        self.port = addr.port();
        self.process = Some(process);
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self) {
        self.process
            .take()
            .expect("the collector is running")
            .kill();
    }

    /// Still running (a collector that crashed fails the test with its log).
    fn assert_running(&mut self) {
        let process = self.process.as_mut().expect("the collector is running");
        if let Some(status) = process.try_wait() {
            panic!("the collector exited: {status}\n{}", process.log_tail(60));
        }
    }

    fn log_tail(&self, lines: usize) -> String {
        self.process
            .as_ref()
            .map(|p| p.log_tail(lines))
            .unwrap_or_default()
    }

    fn get(&self, path: &str) -> Option<HttpResponse> {
        http_get(self.addr(), path).ok()
    }
}

/// `estate-agent simulate` against `collector`, reporting every second, recording every
/// acknowledgement in `acked` (one line per 2xx: `host_id report_id stored|duplicate`).
fn start_simulator(dir: &Path, collector: SocketAddr, hosts: u32, acked: &Path) -> Proc {
    let mut command = Command::new(workspace_bin("estate-agent"));
    command
        .arg("simulate")
        .args(["--hosts", &hosts.to_string(), "--seed", "8"])
        .args(["--interval-secs", "1", "--concurrency", "8"])
        .args(["--collector", &format!("http://{collector}")])
        .arg("--enrolment-token-file")
        .arg(dir.join("enrolment-token"))
        .args(["--progress-secs", "0", "--json"])
        .env(ACKED_LOG_ENV, acked)
        .env("ESTATE_LOG", "warn");
    Proc::spawn("estate-agent simulate", command, &dir.join("simulate.log")).unwrap()
}

/// Stops the simulator with SIGTERM and answers its JSON summary.
fn stop_simulator(mut simulator: Proc) -> Value {
    let status = simulator.terminate(WAIT);
    assert!(
        status.is_some_and(|s| s.success()),
        "the simulator did not stop cleanly: {status:?}\n{}",
        simulator.log_tail(40)
    );
    let log = simulator.log();
    log.lines()
        .rev()
        .find_map(|line| {
            line.starts_with('{')
                .then(|| serde_json::from_str(line).ok())
                .flatten()
        })
        .unwrap_or_else(|| panic!("no JSON summary in the simulator's output\n{log}"))
}

/// One line of the acknowledgement log.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    host_id: String,
    report_id: String,
    duplicate: bool,
}

fn read_acks(path: &Path) -> Vec<Ack> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A line is written with one `write` call: only a complete line ends with '\n'.
    text.split_inclusive('\n')
        .filter(|line| line.ends_with('\n'))
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "bad acknowledgement line {line:?}");
            assert!(
                fields[2] == "stored" || fields[2] == "duplicate",
                "bad acknowledgement line {line:?}"
            );
            Ack {
                host_id: fields[0].to_owned(),
                report_id: fields[1].to_owned(),
                duplicate: fields[2] == "duplicate",
            }
        })
        .collect()
}

/// Waits until the acknowledgement log has more than `count` lines; answers how many.
fn wait_for_acks(path: &Path, count: usize, what: &str, diagnostics: impl Fn() -> String) -> usize {
    poll_until(Duration::from_secs(60), POLL, || {
        let n = read_acks(path).len();
        (n > count).then_some(n)
    })
    .unwrap_or_else(|| {
        panic!(
            "no acknowledgement {what} (still {count})\n{}",
            diagnostics()
        )
    })
}

/// Every acknowledged report id once, with its host; fails on an id acknowledged twice.
fn unique_acks(acks: &[Ack]) -> BTreeMap<String, String> {
    let mut by_id = BTreeMap::new();
    for ack in acks {
        let previous = by_id.insert(ack.report_id.clone(), ack.host_id.clone());
        assert!(
            previous.is_none(),
            "report {} acknowledged twice",
            ack.report_id
        );
    }
    by_id
}

/// Opens the collector's SQLite file and checks it: `PRAGMA integrity_check` is `ok`, and
/// every acknowledged report is in `series` and `raw_reports` exactly once, for its host,
/// its raw body naming it. Answers the number of reports stored.
fn assert_sqlite_holds_each_once(db: &Path, acked: &BTreeMap<String, String>) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(integrity, ["ok"], "PRAGMA integrity_check");
    for table in ["series", "raw_reports"] {
        let mut rows = BTreeMap::<String, (String, i64)>::new();
        let mut query = conn
            .prepare(&format!(
                "SELECT report_id, MIN(host_id), COUNT(*) FROM {table} GROUP BY report_id"
            ))
            .unwrap();
        let found = query
            .query_map([], |row| Ok((row.get(0)?, (row.get(1)?, row.get(2)?))))
            .unwrap();
        for row in found {
            let (id, value): (String, (String, i64)) = row.unwrap();
            rows.insert(id, value);
        }
        let missing: Vec<&String> = acked.keys().filter(|id| !rows.contains_key(*id)).collect();
        assert!(
            missing.is_empty(),
            "{table}: {} of {} acknowledged reports missing: {missing:?}",
            missing.len(),
            acked.len()
        );
        for (id, host) in acked {
            let (stored_host, count) = &rows[id];
            assert_eq!(count, &1, "{table}: report {id} stored {count} times");
            assert_eq!(stored_host, host, "{table}: report {id} under another host");
        }
    }
    let mut raw = conn
        .prepare("SELECT body FROM raw_reports WHERE report_id = ?1")
        .unwrap();
    for id in acked.keys() {
        let body: String = raw.query_row([id], |row| row.get(0)).unwrap();
        let report: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("raw report {id} is not JSON: {e}"));
        assert_eq!(report["report_id"], id.as_str());
    }
    conn.query_row("SELECT COUNT(*) FROM series", [], |row| row.get(0))
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// 1. SIGKILL under load, ten times.

/// Seed of the kill schedule (printed, so a failure can be replayed).
const KILL_SEED: u64 = 0x8_2026;
const KILLS: usize = 10;

#[test]
fn every_acknowledged_report_is_stored_once_across_ten_sigkills_under_load() {
    let started = Instant::now();
    let dir = temp_dir("estate-faults-kill-");
    let db = dir.path().join("estate.db");
    let mut collector = Collector::new(
        dir.path(),
        format!("sqlite_path = {}", toml_string(&db)),
        "max_reports_per_host_per_minute = 0",
    );
    collector.start();
    let acked_log = dir.path().join("acked.log");
    let simulator = start_simulator(dir.path(), collector.addr(), 40, &acked_log);
    let sim_log = dir.path().join("simulate.log");
    let diagnostics = |collector: &Collector| {
        format!(
            "{}\n--- simulator ---\n{}",
            collector.log_tail(30),
            std::fs::read_to_string(&sim_log).unwrap_or_default()
        )
    };
    wait_for_acks(&acked_log, 19, "before the first kill", || {
        diagnostics(&collector)
    });

    let mut rng = SplitMix(KILL_SEED);
    eprintln!("kill schedule seed {KILL_SEED:#x}");
    let mut acked_at_kill = Vec::new();
    for round in 1..=KILLS {
        // A random moment while the simulator is sending.
        std::thread::sleep(rng.millis(100, 1200));
        collector.assert_running();
        collector.kill();
        let at_kill = read_acks(&acked_log).len();
        acked_at_kill.push(at_kill);
        // Down for a random while (the simulator meets refused connections), then back
        // on the same port and database.
        std::thread::sleep(rng.millis(50, 800));
        collector.start();
        // The simulator keeps going: new acknowledgements after the restart.
        wait_for_acks(
            &acked_log,
            at_kill,
            &format!("after restart {round}"),
            || diagnostics(&collector),
        );
    }
    let after_last = read_acks(&acked_log).len();
    wait_for_acks(
        &acked_log,
        after_last + 20,
        "after the last restart",
        || diagnostics(&collector),
    );

    let summary = stop_simulator(simulator);
    // The last kill: the database is checked as a crash leaves it (SQLite recovers the
    // WAL on open, as the collector does on start).
    collector.kill();
    let acks = read_acks(&acked_log);
    let acked = unique_acks(&acks);
    assert_eq!(summary["acknowledged"], acks.len() as u64, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    assert!(
        summary["retried"].as_u64().unwrap_or(0) > 0,
        "the simulator never retried across {KILLS} outages: {summary}"
    );
    let errors = summary["report_errors"].as_object().unwrap();
    assert!(
        errors
            .keys()
            .all(|k| ["connect", "request", "body", "timeout", "503"].contains(&k.as_str())),
        "report errors other than outages: {summary}"
    );
    assert!(
        !errors.contains_key("500"),
        "the collector answered 500: {summary}"
    );
    // Open read-write first so that SQLite recovers the WAL the kill left, then check
    // read-only.
    drop(rusqlite::Connection::open(&db).unwrap());
    let stored = assert_sqlite_holds_each_once(&db, &acked);
    let duplicates = acks.iter().filter(|a| a.duplicate).count();
    eprintln!(
        "{KILLS} SIGKILLs: {} reports acknowledged ({duplicates} as duplicates: stored before \
         the kill, acknowledgement lost, resent), all stored exactly once; {stored} stored in \
         all; acknowledged at each kill: {acked_at_kill:?}; took {:?}",
        acked.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 2. A full disk.

/// A tmpfs mounted for the test, unmounted when dropped (also on panic).
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as `mount -o size=`) on `path`; `Err` with the reason
    /// when it cannot (not root, no `CAP_SYS_ADMIN`, no `mount`).
    fn mount(path: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("estate-faults")
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if output.status.success() {
            Ok(Tmpfs {
                path: path.to_path_buf(),
            })
        } else {
            Err(format!(
                "mount -t tmpfs failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let done = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !done {
            // Still busy (a process not yet reaped): detach it now, freed when unused.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// An HTTP/1.1 request whose whole answer comes back: status, headers (names in lower
/// case) and body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, BTreeMap<String, String>, String) {
    let timeout = Duration::from_secs(10);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let extra: String = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// The protocol's full Debian VM example as a fresh report: new id, times around now
/// (the inventory, and so its hash, unchanged).
fn fresh_report(template: &Value, n: u64) -> (String, Vec<u8>) {
    let mut report = template.clone();
    let id = format!("f0000000-0000-4000-8000-{n:012x}");
    let now = chrono::Utc::now();
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    report["report_id"] = Value::from(id.clone());
    report["collected_at"] = Value::from(at(now));
    report["window"]["start"] = Value::from(at(now - chrono::Duration::seconds(300)));
    report["window"]["end"] = Value::from(at(now));
    (id, serde_json::to_vec(&report).unwrap())
}

#[test]
fn a_full_disk_answers_503_storage_full_and_recovers_when_space_returns() {
    let dir = temp_dir("estate-faults-full-");
    let data = dir.path().join("data");
    let tmpfs = match Tmpfs::mount(&data, "3m") {
        Ok(tmpfs) => tmpfs,
        Err(why) => {
            eprintln!(
                "SKIPPED a_full_disk_answers_503_storage_full_and_recovers_when_space_returns: \
                 cannot mount a tmpfs for the collector's data dir ({why}); it needs root with \
                 CAP_SYS_ADMIN, as in CI"
            );
            return;
        }
    };
    // Space an operator can free later.
    let filler = tmpfs.path.join("filler");
    std::fs::write(&filler, vec![0x5a_u8; 1024 * 1024]).unwrap();
    let db = tmpfs.path.join("estate.db");
    let mut collector = Collector::new(
        dir.path(),
        format!("sqlite_path = {}", toml_string(&db)),
        "max_reports_per_host_per_minute = 0",
    );
    collector.start();
    let addr = collector.addr();
    assert_eq!(collector.get("/readyz").map(|r| r.status), Some(200));

    let template: Value = serde_json::from_str(include_str!(
        "../../protocol/examples/full-report-debian-vm.json"
    ))
    .unwrap();
    let host_id = template["host_id"].as_str().unwrap().to_owned();
    let enrol = http_post(
        addr,
        "/api/v1/enrol",
        Some(ENROLMENT_TOKEN),
        "application/json",
        serde_json::json!({"host_id": host_id, "hostname": "full-disk"})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let token: Value = serde_json::from_str(&enrol.body).unwrap();
    let bearer = format!("Bearer {}", token["agent_token"].as_str().unwrap());
    let mut n = 0u64;
    let mut post = || {
        n += 1;
        let (id, body) = fresh_report(&template, n);
        let headers = [
            ("Authorization", bearer.as_str()),
            ("Content-Type", "application/json"),
        ];
        let (status, headers, answer) = exchange(addr, "POST", "/api/v1/reports", &headers, &body);
        (id, status, headers, answer)
    };

    // Fill the disk: every 2xx is an acknowledged report; the first failure must be
    // `503 storage_full` with `Retry-After`.
    let mut acked = BTreeMap::new();
    let full = loop {
        let (id, status, headers, answer) = post();
        match status {
            200 => {
                acked.insert(id, host_id.clone());
            }
            503 => break (headers, answer),
            other => panic!("report {id}: {other} {answer}\n{}", collector.log_tail(30)),
        }
        assert!(
            acked.len() < 2000,
            "3 MiB never filled up after {} reports",
            acked.len()
        );
    };
    let (headers, answer) = full;
    let error: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(error["error_code"], "storage_full", "{answer}");
    assert_eq!(
        headers.get("retry-after").map(String::as_str),
        Some("30"),
        "{headers:?}"
    );
    assert!(
        !acked.is_empty(),
        "nothing was stored before the disk filled"
    );
    eprintln!("the disk filled after {} reports", acked.len());

    // Still full: the same answer, and the collector keeps running.
    for _ in 0..3 {
        let (id, status, _, answer) = post();
        assert_eq!(status, 503, "report {id} while full: {answer}");
        assert!(answer.contains("storage_full"), "{answer}");
    }
    collector.assert_running();
    // `/readyz` says why.
    let ready = collector.get("/readyz").unwrap();
    assert_eq!(
        ready.status, 503,
        "/readyz with a full disk: {}",
        ready.body
    );
    let error: Value = serde_json::from_str(&ready.body).unwrap();
    assert_eq!(error["error_code"], "storage_full", "{}", ready.body);
    // Reads still work, and nothing stored is damaged.
    let host = collector.get(&format!("/api/v1/hosts/{host_id}")).unwrap();
    assert_eq!(host.status, 200, "{}", host.body);
    assert_sqlite_holds_each_once(&db, &acked);

    // Space returns: ingest and readiness come back without a restart.
    std::fs::remove_file(&filler).unwrap();
    let recovered = poll_until(Duration::from_secs(10), Duration::from_millis(200), || {
        let (id, status, _, _) = post();
        (status == 200).then_some(id)
    })
    .unwrap_or_else(|| {
        panic!(
            "ingest did not recover after space returned\n{}",
            collector.log_tail(30)
        )
    });
    acked.insert(recovered, host_id.clone());
    for _ in 0..5 {
        let (id, status, _, answer) = post();
        assert_eq!(status, 200, "report {id} after recovery: {answer}");
        acked.insert(id, host_id.clone());
    }
    let ready = poll_until(Duration::from_secs(10), POLL, || {
        collector.get("/readyz").filter(|r| r.status == 200)
    });
    assert!(
        ready.is_some(),
        "/readyz did not come back\n{}",
        collector.log_tail(30)
    );
    collector.assert_running();
    assert_eq!(collector.starts, 1, "the collector was restarted");

    collector
        .process
        .take()
        .unwrap()
        .terminate(WAIT)
        .expect("the collector stops on SIGTERM");
    assert_sqlite_holds_each_once(&db, &acked);
}

// ---------------------------------------------------------------------------------------
// 3. PostgreSQL restarted under load.

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL instance in a temporary directory, on its own port, run as the
/// `postgres` user when the test runs as root (PostgreSQL refuses root). Stopped
/// (immediate shutdown) when dropped.
struct Postgres {
    dir: PathBuf,
    port: u16,
    /// `uid:gid` of `postgres` when running as root.
    run_as: Option<(u32, u32)>,
    starts: usize,
    process: Option<Proc>,
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn user_ids(user: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").arg(flag).arg(user).output().ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    };
    Some((id("-u")?, id("-g")?))
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        let path = Path::new(PG_BIN).join(program);
        match self.run_as {
            Some((uid, gid)) => {
                // setpriv execs (no child left behind when the test kills it).
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .arg("--clear-groups")
                    .arg("--")
                    .arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Creates the cluster (`initdb`, trust authentication, superuser `estate`).
    fn init(dir: &Path) -> Postgres {
        let run_as = if is_root() {
            let ids = user_ids("postgres").expect("running as root: a `postgres` user is needed");
            std::os::unix::fs::chown(dir, Some(ids.0), Some(ids.1)).unwrap();
            Some(ids)
        } else {
            None
        };
        let pg = Postgres {
            dir: dir.to_path_buf(),
            port: free_local_port().unwrap(),
            run_as,
            starts: 0,
            process: None,
        };
        let output = pg
            .command("initdb")
            .arg("-D")
            .arg(pg.data())
            .args(["-U", "estate", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .current_dir(&pg.dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.join("pgdata")
    }

    fn url(&self) -> String {
        format!(
            "postgres://estate@127.0.0.1:{}/postgres?connect_timeout=2",
            self.port
        )
    }

    fn start(&mut self) {
        assert!(self.process.is_none(), "PostgreSQL is already running");
        self.starts += 1;
        let mut command = self.command("postgres");
        command
            .arg("-D")
            .arg(self.data())
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            .args(["-c", "max_connections=40", "-c", "shared_buffers=16MB"])
            .current_dir(&self.dir);
        let log = self.dir.join(format!("postgres-{}.log", self.starts));
        let mut process = Proc::spawn("postgres", command, &log).unwrap();
        let ready = poll_until(WAIT, POLL, || {
            if process.try_wait().is_some() {
                return Some(false);
            }
            process
                .log()
                .contains("database system is ready to accept connections")
                .then_some(true)
        });
        assert!(
            ready == Some(true),
            "PostgreSQL did not start\n{}",
            process.log_tail(30)
        );
        self.process = Some(process);
    }

    /// Immediate shutdown (SIGQUIT: no checkpoint; the next start recovers from the WAL,
    /// as after a crash).
    fn stop_immediate(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let pid = rustix::process::Pid::from_raw(process.id() as i32);
        if let Some(pid) = pid {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
        }
        let exited = poll_until(WAIT, POLL, || process.try_wait());
        assert!(
            exited.is_some(),
            "PostgreSQL did not stop\n{}",
            process.log_tail(20)
        );
    }

    /// `psql` as `estate`: the rows of a query, fields split on `|`.
    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let output = Command::new(Path::new(PG_BIN).join("psql"))
            .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "estate", "-d", "postgres", "-c", sql])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(process.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::QUIT);
            }
            let _ = poll_until(Duration::from_secs(10), POLL, || process.try_wait());
        }
    }
}

#[test]
fn postgres_restarted_under_load_loses_no_acknowledged_report() {
    let test = "postgres_restarted_under_load_loses_no_acknowledged_report";
    if !Path::new(PG_BIN).join("postgres").is_file() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{PG_BIN}/postgres is missing and CI=true: {test} must run in CI"
        );
        eprintln!("SKIPPED {test}: no PostgreSQL 15 binaries in {PG_BIN}");
        return;
    }
    let started = Instant::now();
    let dir = temp_dir("estate-faults-pg-");
    let mut pg = Postgres::init(dir.path());
    pg.start();
    let mut collector = Collector::new(dir.path(), format!("postgres_url = \"{}\"", pg.url()), "");
    collector.start();
    assert_eq!(collector.get("/readyz").map(|r| r.status), Some(200));
    let acked_log = dir.path().join("acked.log");
    let simulator = start_simulator(dir.path(), collector.addr(), 30, &acked_log);
    let sim_log = dir.path().join("simulate.log");
    let diagnostics = |collector: &Collector| {
        format!(
            "{}\n--- simulator ---\n{}",
            collector.log_tail(30),
            std::fs::read_to_string(&sim_log).unwrap_or_default()
        )
    };
    let before = wait_for_acks(&acked_log, 29, "before the restart", || {
        diagnostics(&collector)
    });

    // Down: the collector is not ready and says why; ingest answers 503.
    pg.stop_immediate();
    let down_at = Instant::now();
    let not_ready = poll_until(Duration::from_secs(15), POLL, || {
        collector.get("/readyz").filter(|r| r.status == 503)
    })
    .unwrap_or_else(|| {
        panic!(
            "/readyz stayed ready with PostgreSQL down\n{}",
            diagnostics(&collector)
        )
    });
    let error: Value = serde_json::from_str(&not_ready.body).unwrap();
    assert_eq!(
        error["error_code"], "store_unavailable",
        "{}",
        not_ready.body
    );
    // Stay down a little while the simulator keeps sending.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(down_at.elapsed()));
    collector.assert_running();
    let acks_while_down = read_acks(&acked_log).len();

    // Up again: the collector reconnects by itself, and ingest resumes.
    pg.start();
    let up_at = Instant::now();
    poll_until(Duration::from_secs(20), POLL, || {
        collector.get("/readyz").filter(|r| r.status == 200)
    })
    .unwrap_or_else(|| {
        panic!(
            "/readyz not ready after PostgreSQL came back\n{}",
            diagnostics(&collector)
        )
    });
    let reconnected = up_at.elapsed();
    wait_for_acks(
        &acked_log,
        acks_while_down + 30,
        "after PostgreSQL came back",
        || diagnostics(&collector),
    );

    let summary = stop_simulator(simulator);
    let acks = read_acks(&acked_log);
    let acked = unique_acks(&acks);
    assert_eq!(summary["acknowledged"], acks.len() as u64, "{summary}");
    assert_eq!(summary["rejected"], 0, "{summary}");
    let errors = summary["report_errors"].as_object().unwrap();
    assert!(
        errors.get("503").and_then(Value::as_u64).unwrap_or(0) > 0,
        "no report answered 503 while PostgreSQL was down: {summary}"
    );
    assert!(
        errors.keys().all(|k| k == "503"),
        "report errors other than 503 (a 500 is a bug): {summary}"
    );
    let enrol_errors = summary["enrol_errors"].as_object().unwrap();
    assert!(
        enrol_errors.keys().all(|k| k == "503"),
        "enrolment errors other than 503: {summary}"
    );

    // Every acknowledged report is in the database once, under its host.
    let stored: BTreeMap<String, (String, i64)> = pg
        .query("SELECT report_id::text, MIN(host_id), COUNT(*) FROM series GROUP BY report_id")
        .into_iter()
        .map(|row| (row[0].clone(), (row[1].clone(), row[2].parse().unwrap())))
        .collect();
    let raw: BTreeSet<String> = pg
        .query("SELECT report_id::text FROM raw_reports")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let missing: Vec<&String> = acked
        .keys()
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged reports lost: {missing:?}",
        missing.len(),
        acked.len()
    );
    for (id, host) in &acked {
        assert_eq!(stored[id], (host.clone(), 1), "series row of report {id}");
        assert!(raw.contains(id), "raw report {id} missing");
    }
    eprintln!(
        "PostgreSQL restarted under load: {} reports acknowledged ({before} before the stop), \
         all stored once; {} answered 503 meanwhile; ready again {reconnected:?} after \
         PostgreSQL; took {:?}",
        acked.len(),
        errors["503"],
        started.elapsed()
    );
}
