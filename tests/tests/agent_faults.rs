//! End-to-end faults an agent must survive (issue 8, item 2, agent side), with a real
//! `estate-server` and real `estate-agent` processes on loopback in a temporary directory:
//!
//! - a long collector outage, compressed in time: the spool stays within `max_bytes`
//!   the whole time (sampled on disk), drops the oldest reports first and says so, and
//!   everything it still holds is delivered once the collector is back;
//! - the agent killed with SIGKILL, again and again, while it spools during an outage
//!   and while it drains afterwards: every restart reads its spool (a torn file is set
//!   aside), and the store holds every report once, resent ones answered as duplicates.
//!
//! The agent reads the recorded `debian-kvm` sysroot and reports every second. Its
//! reports carry four TCP probes with 40,000-character random names (about 30 KB each
//! after gzip, incompressible), so a report is about 120 KB, as a large server's full
//! inventory is, and the smallest spool the config allows (1 MiB) fills in a few
//! intervals instead of a thousand.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use estate_tests::{
    Proc, free_local_port, http_get, logged_addr, poll_until, toml_string, workspace_bin,
};
use serde_json::Value;

/// The `debian-kvm` fixture's host id (its `/etc/machine-id`).
const HOST_ID: &str = "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b";
/// Longest wait for anything to happen.
const WAIT: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);
/// The spool's limit: the smallest `spool.max_bytes` accepts.
const SPOOL_MAX_BYTES: u64 = 1024 * 1024;

fn fixture_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/sysroots/debian-kvm")
}

/// A small xorshift generator: the test's randomness, seeded from the clock and printed
/// so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn from_clock(test: &str) -> Rng {
        let seed = std::env::var("ESTATE_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("{test}: ESTATE_TEST_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn alphanumeric(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len)
            .map(|_| char::from(CHARS[self.below(CHARS.len() as u64) as usize]))
            .collect()
    }
}

/// A collector and an agent in one temporary directory.
struct Rig {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Proc>,
    server_starts: usize,
    agent: Option<Proc>,
    agent_starts: usize,
    spool_max_bytes: u64,
}

impl Rig {
    fn new(rng: &mut Rng, spool_max_bytes: u64) -> Rig {
        let dir = tempfile::Builder::new()
            .prefix("estate-faults-")
            .tempdir()
            .unwrap();
        std::fs::write(
            dir.path().join("enrolment-token"),
            "faults-enrolment-token-0123456789abcdef\n",
        )
        .unwrap();
        let rig = Rig {
            dir,
            port: 0,
            server: None,
            server_starts: 0,
            agent: None,
            agent_starts: 0,
            spool_max_bytes,
        };
        rig.write_probes(rng);
        rig
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn spool_dir(&self) -> PathBuf {
        self.path("agent/spool")
    }

    fn start_server(&mut self) {
        assert!(self.server.is_none(), "the collector is already running");
        let config = self.path("server.toml");
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{}\"\nmax_reports_per_host_per_minute = 0\n\n\
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
        let Some(addr) = logged_addr(&mut server, "collector listening", WAIT) else {
            panic!(
                "the collector did not start listening\n{}",
                server.log_tail(40)
            );
        };
        if self.port != 0 {
            assert_eq!(addr.port(), self.port, "the collector moved port");
        }
        self.port = addr.port();
        self.server = Some(server);
    }

    fn kill_server(&mut self) {
        self.server.take().expect("the collector is running").kill();
    }

    fn stop_server(&mut self) {
        let mut server = self.server.take().expect("the collector is running");
        let status = server.terminate(WAIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "{}",
            server.log_tail(40)
        );
    }

    /// The padding probes (see the module's doc), the same for every start.
    fn write_probes(&self, rng: &mut Rng) {
        let closed = free_local_port().unwrap();
        let probes: String = (0..4)
            .map(|_| {
                format!(
                    "[[probes]]\nname = \"{}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:{closed}\"\ntimeout_ms = 500\n\n",
                    rng.alphanumeric(40_000)
                )
            })
            .collect();
        std::fs::write(self.path("probes.toml"), probes).unwrap();
    }

    fn start_agent(&mut self) {
        assert!(self.agent.is_none(), "the agent is already running");
        assert!(self.port != 0, "start the collector once first");
        let config = self.path("agent.toml");
        let probes = std::fs::read_to_string(self.path("probes.toml")).unwrap();
        std::fs::write(
            &config,
            format!(
                "[collector]\nurl = \"http://{}\"\nenrolment_token_file = {}\n\n\
                 [agent]\nstate_dir = {}\nreport_interval_secs = 1\nsample_interval_secs = 1\n\
                 log_format = \"json\"\n\n\
                 [spool]\nmax_bytes = {}\n\n{probes}",
                self.addr(),
                toml_string(&self.path("enrolment-token")),
                toml_string(&self.path("agent")),
                self.spool_max_bytes,
            ),
        )
        .unwrap();
        self.agent_starts += 1;
        let mut command = Command::new(workspace_bin("estate-agent"));
        command
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(fixture_root())
            .env("ESTATE_LOG", "info");
        let log = self.path(&format!("agent-{}.log", self.agent_starts));
        self.agent = Some(Proc::spawn("estate-agent", command, &log).unwrap());
    }

    /// SIGKILL: the agent must still be running when it comes (it never exits itself).
    fn kill_agent(&mut self) {
        let mut agent = self.agent.take().expect("the agent is running");
        let exited = agent.try_wait();
        assert!(
            exited.is_none(),
            "the agent exited by itself: {exited:?}\n{}",
            agent.log_tail(40)
        );
        agent.kill();
    }

    fn stop_agent(&mut self) -> Value {
        let mut agent = self.agent.take().expect("the agent is running");
        let status = agent.terminate(WAIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "the agent did not exit cleanly: {status:?}\n{}",
            agent.log_tail(40)
        );
        self.events("agent stopped")
            .pop()
            .unwrap_or_else(|| panic!("no `agent stopped` line\n{}", self.diagnostics()))
    }

    /// The fields of every agent log line (all starts, in order) with this message.
    fn events(&self, message: &str) -> Vec<Value> {
        (1..=self.agent_starts)
            .flat_map(|n| {
                std::fs::read_to_string(self.path(&format!("agent-{n}.log")))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .map(|mut line| match line.get_mut("fields") {
                        Some(fields) => fields.take(),
                        None => line,
                    })
                    .filter(|fields| fields["message"] == message)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn ids(&self, message: &str) -> Vec<String> {
        self.events(message)
            .iter()
            .map(|f| f["report_id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn spooled(&self) -> Vec<String> {
        self.ids("report spooled")
    }

    fn delivered(&self) -> BTreeSet<String> {
        self.ids("report delivered").into_iter().collect()
    }

    fn dropped(&self) -> Vec<String> {
        self.ids("spool full: dropping the oldest report")
    }

    fn diagnostics(&self) -> String {
        let mut out = String::new();
        let tail = |path: PathBuf, n: usize| {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            format!(
                "--- last lines of {} ---\n{}\n",
                path.display(),
                lines[lines.len().saturating_sub(n)..].join("\n")
            )
        };
        if self.agent_starts > 0 {
            out.push_str(&tail(
                self.path(&format!("agent-{}.log", self.agent_starts)),
                40,
            ));
        }
        if self.server_starts > 0 {
            out.push_str(&tail(
                self.path(&format!("server-{}.log", self.server_starts)),
                20,
            ));
        }
        out
    }

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

    /// Report ids in the store's `raw_reports` for the fixture's host, each with its
    /// number of rows (the collector must be stopped).
    fn stored(&self) -> BTreeMap<String, i64> {
        let db = rusqlite::Connection::open_with_flags(
            self.path("estate.db"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut query = db
            .prepare(
                "SELECT report_id, COUNT(*) FROM raw_reports WHERE host_id = ?1 GROUP BY report_id",
            )
            .unwrap();
        query
            .query_map([HOST_ID], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// `estate_ingest_reports_total{outcome}` of the running collector.
    fn ingest_counter(&self, outcome: &str) -> u64 {
        let metrics = http_get(self.addr(), "/metrics").unwrap();
        assert_eq!(metrics.status, 200, "{}", metrics.body);
        let prefix = format!("estate_ingest_reports_total{{outcome=\"{outcome}\"}} ");
        metrics
            .body
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse::<f64>().unwrap() as u64)
    }
}

/// Total size of the regular files under `dir`, read twice until two readings agree (a
/// listing is not atomic: a file renamed or removed between `readdir` and `stat` could
/// be counted twice or not at all).
fn dir_bytes(dir: &Path) -> Option<u64> {
    fn read(dir: &Path, out: &mut Vec<(PathBuf, u64)>) {
        let Ok(items) = std::fs::read_dir(dir) else {
            return;
        };
        for item in items.flatten() {
            let path = item.path();
            match item.metadata() {
                Ok(meta) if meta.is_dir() => read(&path, out),
                Ok(meta) => out.push((path, meta.len())),
                Err(_) => {}
            }
        }
    }
    for _ in 0..20 {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        read(dir, &mut a);
        read(dir, &mut b);
        a.sort();
        b.sort();
        if a == b {
            return Some(a.iter().map(|(_, len)| len).sum());
        }
    }
    None
}

/// Samples the spool directory's size on a thread until stopped; answers the largest
/// size seen and the number of readings.
struct SpoolWatch {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicU64>,
    readings: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SpoolWatch {
    fn start(dir: PathBuf) -> SpoolWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicU64::new(0));
        let readings = Arc::new(AtomicU64::new(0));
        let (s, m, r) = (Arc::clone(&stop), Arc::clone(&max), Arc::clone(&readings));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                if let Some(bytes) = dir_bytes(&dir) {
                    m.fetch_max(bytes, Ordering::SeqCst);
                    r.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        SpoolWatch {
            stop,
            max,
            readings,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        (
            self.max.load(Ordering::SeqCst),
            self.readings.load(Ordering::SeqCst),
        )
    }
}

#[test]
fn a_long_collector_outage_keeps_the_spool_within_its_limit_and_loses_only_what_it_counts() {
    let started = Instant::now();
    let mut rng = Rng::from_clock("long outage");
    let mut rig = Rig::new(&mut rng, SPOOL_MAX_BYTES);
    rig.start_server();
    rig.start_agent();
    rig.wait("two reports delivered", || {
        (rig.delivered().len() >= 2).then_some(())
    });
    let watch = SpoolWatch::start(rig.spool_dir());

    // The outage: many report intervals, until the spool has dropped several reports.
    rig.kill_server();
    let before = rig.spooled().len();
    rig.wait("reports dropped for space during the outage", || {
        (rig.dropped().len() >= 5 && rig.spooled().len() >= before + 15).then_some(())
    });
    let outage_reports = rig.spooled().len() - before;
    rig.start_server();

    // Everything still spooled is delivered; the rest was dropped, and said so.
    rig.wait("every spooled report delivered or dropped", || {
        let delivered = rig.delivered();
        let dropped: BTreeSet<String> = rig.dropped().into_iter().collect();
        rig.spooled()
            .iter()
            .all(|id| delivered.contains(id) || dropped.contains(id))
            .then_some(())
    });
    let (max_bytes, readings) = watch.finish();
    let summary = rig.stop_agent();
    rig.stop_server();

    let spooled = rig.spooled();
    let delivered = rig.delivered();
    let dropped = rig.dropped();
    assert!(
        readings > 100,
        "the spool was sampled only {readings} times"
    );
    assert!(
        max_bytes <= SPOOL_MAX_BYTES,
        "the spool reached {max_bytes} bytes, over its limit of {SPOOL_MAX_BYTES}"
    );
    assert!(
        max_bytes > SPOOL_MAX_BYTES / 2,
        "the spool never filled ({max_bytes} bytes): the test did not test the limit"
    );
    // Dropped: exactly the reports not delivered, oldest first (in creation order).
    let undelivered: Vec<String> = spooled
        .iter()
        .filter(|id| !delivered.contains(*id))
        .cloned()
        .collect();
    assert_eq!(
        dropped, undelivered,
        "dropped must be the oldest undelivered"
    );
    assert!(delivered.iter().all(|id| spooled.contains(id)));
    // The agent's own accounting agrees with its log.
    assert_eq!(summary["built"], spooled.len() as u64, "{summary}");
    assert_eq!(summary["delivered"], delivered.len() as u64, "{summary}");
    assert_eq!(summary["dropped"], dropped.len() as u64, "{summary}");
    assert_eq!(summary["left_in_spool"], 0, "{summary}");
    let last_drop = rig
        .events("spool full: dropping the oldest report")
        .pop()
        .unwrap();
    assert_eq!(last_drop["dropped_total"], dropped.len() as u64);
    // The store holds each delivered report once, and nothing dropped.
    let stored = rig.stored();
    assert!(stored.values().all(|n| *n == 1), "{stored:?}");
    let stored_ids: BTreeSet<String> = stored.into_keys().collect();
    assert_eq!(stored_ids, delivered);
    assert!(
        std::fs::read_dir(rig.spool_dir().join("rejected"))
            .unwrap()
            .next()
            .is_none()
    );
    eprintln!(
        "outage of {outage_reports} reports: {} dropped, {} delivered, spool peak {max_bytes} of \
         {SPOOL_MAX_BYTES} bytes over {readings} readings; took {:?}",
        dropped.len(),
        delivered.len(),
        started.elapsed()
    );
}

#[test]
fn an_agent_killed_mid_write_again_and_again_reads_its_spool_and_stores_each_report_once() {
    let started = Instant::now();
    let mut rng = Rng::from_clock("killed mid-write");
    // Room for every report of the test: none is dropped for space here.
    let mut rig = Rig::new(&mut rng, 64 * SPOOL_MAX_BYTES);
    rig.start_server();
    rig.start_agent();
    rig.wait("a report delivered", || {
        (!rig.delivered().is_empty()).then_some(())
    });

    // During an outage: SIGKILL at varied moments while the agent builds and spools.
    rig.kill_server();
    let mut torn: Option<String> = None;
    for round in 0..8 {
        if rig.agent.is_none() {
            rig.start_agent();
        }
        // Once this start has spooled a report, at a random point of the next report
        // interval: building, writing, renaming or sleeping.
        let before = rig.spooled().len();
        rig.wait("a report spooled by this start", || {
            (rig.spooled().len() > before).then_some(())
        });
        std::thread::sleep(Duration::from_millis(rng.below(1000)));
        rig.kill_agent();
        if round == 3 {
            // A torn report, as a crash on a file system that does not order the
            // rename after the data could leave: the newest spooled file, cut in half.
            let mut files: Vec<PathBuf> = std::fs::read_dir(rig.spool_dir())
                .unwrap()
                .flatten()
                .map(|f| f.path())
                .filter(|p| p.is_file() && p.to_string_lossy().ends_with(".json.gz"))
                .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
                .collect();
            files.sort();
            let newest = files.pop().expect("a spooled report to tear");
            let bytes = std::fs::read(&newest).unwrap();
            std::fs::write(&newest, &bytes[..bytes.len() / 2]).unwrap();
            let name = newest.file_name().unwrap().to_string_lossy().into_owned();
            torn = Some(
                name.split_once('-')
                    .unwrap()
                    .1
                    .trim_end_matches(".json.gz")
                    .to_owned(),
            );
        }
    }
    let torn = torn.unwrap();

    // The collector back: SIGKILL while the agent drains (acknowledged, maybe not yet
    // removed from the spool: resent, answered as duplicates).
    rig.start_server();
    for _ in 0..4 {
        let before = rig.ids("report delivered").len();
        rig.start_agent();
        // Once it is draining: mid-send, between the 2xx and the removal, or after.
        rig.wait("a report delivered by this start", || {
            (rig.ids("report delivered").len() > before).then_some(())
        });
        std::thread::sleep(Duration::from_millis(rng.below(200)));
        rig.kill_agent();
    }
    rig.start_agent();
    rig.wait("the last start running", || {
        (rig.events("agent started").len() == rig.agent_starts).then_some(())
    });
    let spooled = rig.spooled();
    rig.wait("every report spooled before delivered", || {
        let delivered = rig.delivered();
        spooled
            .iter()
            .filter(|id| **id != torn)
            .all(|id| delivered.contains(id))
            .then_some(())
    });
    let stored_metric = rig.ingest_counter("stored");
    let duplicate_metric = rig.ingest_counter("duplicate");
    rig.stop_agent();
    rig.stop_server();

    // Every start read its spool and ran: the torn file set aside, not crashed on.
    assert_eq!(rig.events("agent started").len(), rig.agent_starts);
    let quarantined = rig.events("quarantining an unreadable spool file");
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    let rejected: Vec<String> = std::fs::read_dir(rig.spool_dir().join("rejected"))
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(rejected[0].contains(&torn), "{rejected:?}");

    // The store holds every report once; none of them twice, the torn one not at all.
    let spooled = rig.spooled();
    let unique: BTreeSet<&String> = spooled.iter().collect();
    assert_eq!(unique.len(), spooled.len(), "a report id was spooled twice");
    let stored = rig.stored();
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let missing: Vec<_> = spooled
        .iter()
        .filter(|id| **id != torn && !stored.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "spooled but not stored: {missing:?}");
    assert!(!stored.contains_key(&torn), "the torn report was stored");
    // Reports spooled but killed before their log line are stored too; at most one per
    // kill.
    let unlogged = stored.keys().filter(|id| !unique.contains(id)).count();
    assert!(
        unlogged <= 12,
        "{unlogged} stored reports the agent never logged"
    );
    // Resent reports were answered as duplicates, not stored again: the last collector
    // stored each report it took once and counted the rest as duplicates.
    let logged_duplicates = rig
        .events("report delivered")
        .iter()
        .filter(|f| f["duplicate"] == true)
        .count() as u64;
    assert!(
        duplicate_metric >= logged_duplicates,
        "{duplicate_metric} duplicates counted, {logged_duplicates} acknowledged as such"
    );
    assert!(
        stored_metric <= stored.len() as u64,
        "the collector counted {stored_metric} stored, the store holds {}",
        stored.len()
    );
    eprintln!(
        "{} starts, {} reports stored once each ({unlogged} not logged before a kill), \
         last collector: {stored_metric} stored, {duplicate_metric} duplicates \
         ({logged_duplicates} seen by the agent), {} crash leftovers removed; took {:?}",
        rig.agent_starts,
        stored.len(),
        rig.events("removing a partly written report left by a crash")
            .len(),
        started.elapsed()
    );
}
