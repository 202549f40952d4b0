//! The daemon, its transport and its spool against a scripted collector: a tiny HTTP
//! server on a std `TcpListener` thread that decodes gzip, checks headers and tokens,
//! and answers with scripted statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use estate_agent::collect::{CollectError, Collected, Collector, Context};
use estate_agent::config::AgentConfig;
use estate_agent::daemon::{self, DaemonOptions, RunSummary};
use estate_agent::root::SysRoot;
use estate_agent::spool;
use estate_agent::transport::{SendOutcome, Transport};
use estate_protocol::{CollectorErrorKind, EnrolRequest, EnrolResponse, IngestResponse, Report};
use uuid::Uuid;

const ENROL_SECRET: &str = "enrol-secret";

/// One answer the server gives to the next report instead of accepting it.
#[derive(Debug, Clone)]
struct Scripted {
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// The agent token the server accepts (set by enrolment).
    agent_token: Option<String>,
    script: VecDeque<Scripted>,
    /// Every report accepted, in order.
    reports: Vec<Report>,
    /// Every enrolment request.
    enrols: Vec<EnrolRequest>,
    /// Requests refused for a wrong header.
    bad_headers: Vec<String>,
    /// Attempts at /api/v1/reports, whatever the answer.
    attempts: usize,
}

struct Server {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// While set, connections are accepted and closed without an answer.
    down: Arc<AtomicBool>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let down = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_down) = (Arc::clone(&state), Arc::clone(&down));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if thread_down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let state = Arc::clone(&thread_state);
                std::thread::spawn(move || handle(stream, &state));
            }
        });
        Server { addr, state, down }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let (status, extra, answer) = route(&method, &path, &headers, &bearer, &body, state);
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        answer.len()
    );
    let _ = stream.write_all(answer.as_bytes());
}

fn api_error(code: &str) -> String {
    format!("{{\"error_code\":\"{code}\",\"message\":\"scripted {code}\"}}")
}

fn route(
    method: &str,
    path: &str,
    headers: &HashMap<String, String>,
    bearer: &str,
    body: &[u8],
    state: &Mutex<State>,
) -> (u16, String, String) {
    let mut state = state.lock().unwrap();
    match (method, path) {
        ("POST", "/api/v1/enrol") => {
            if bearer != ENROL_SECRET {
                return (401, String::new(), api_error("unauthenticated"));
            }
            let request: EnrolRequest = serde_json::from_slice(body).unwrap();
            state.enrols.push(request.clone());
            let token = format!("agent-token-{}", state.enrols.len());
            state.agent_token = Some(token.clone());
            let answer = EnrolResponse {
                host_id: request.host_id,
                agent_token: token,
            };
            (200, String::new(), serde_json::to_string(&answer).unwrap())
        }
        ("POST", "/api/v1/reports") => {
            state.attempts += 1;
            if state.agent_token.as_deref() != Some(bearer) {
                return (401, String::new(), api_error("unauthenticated"));
            }
            if headers.get("content-encoding").map(String::as_str) != Some("gzip")
                || headers.get("content-type").map(String::as_str) != Some("application/json")
            {
                state.bad_headers.push(format!("{headers:?}"));
                return (415, String::new(), api_error("unsupported_media_type"));
            }
            if let Some(scripted) = state.script.pop_front() {
                let extra = scripted
                    .retry_after
                    .map(|s| format!("Retry-After: {s}\r\n"))
                    .unwrap_or_default();
                return (scripted.status, extra, api_error("scripted"));
            }
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut json)
                .unwrap();
            let report: Report = serde_json::from_slice(&json).unwrap();
            assert!(report.check_invariants().is_empty());
            let duplicate = state
                .reports
                .iter()
                .any(|r| r.report_id == report.report_id);
            let answer = IngestResponse {
                report_id: report.report_id,
                duplicate,
            };
            if !duplicate {
                state.reports.push(report);
            }
            (200, String::new(), serde_json::to_string(&answer).unwrap())
        }
        _ => (404, String::new(), api_error("not_found")),
    }
}

fn fixture_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysroots/debian-kvm")
}

fn config(server: &Server, state_dir: &Path, report_interval_secs: u64) -> AgentConfig {
    let enrol = state_dir.join("enrolment-token");
    std::fs::create_dir_all(state_dir).unwrap();
    std::fs::write(&enrol, format!("{ENROL_SECRET}\n")).unwrap();
    let text = format!(
        "[collector]\nurl = \"{}\"\nenrolment_token_file = \"{}\"\n\n[agent]\nstate_dir = \"{}\"\nreport_interval_secs = {report_interval_secs}\nsample_interval_secs = 1\n",
        server.url(),
        enrol.display(),
        state_dir.display()
    );
    AgentConfig::parse(&text, "test.toml").unwrap()
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// Runs the daemon for `secs`, calling `during` from another thread at `at` seconds.
fn run_daemon(
    config: AgentConfig,
    secs: f64,
    during: Option<(f64, Box<dyn FnOnce() + Send>)>,
) -> RunSummary {
    let options = DaemonOptions {
        root: SysRoot::new(fixture_root()),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(300),
        flush_deadline: Duration::from_secs(5),
        ..DaemonOptions::default()
    };
    if let Some((at, action)) = during {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs_f64(at));
            action();
        });
    }
    block_on(daemon::run(config, options, async move {
        tokio::time::sleep(Duration::from_secs_f64(secs)).await
    }))
    .unwrap()
}

fn spool_files(state_dir: &Path) -> usize {
    std::fs::read_dir(state_dir.join("spool"))
        .unwrap()
        .filter(|f| f.as_ref().unwrap().path().is_file())
        .count()
}

// ---------------------------------------------------------------------------------
// Transport.

#[test]
fn transport_enrols_then_sends_gzip_with_the_agent_token() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&server, dir.path(), 60);
    let mut transport = Transport::new(&config, "host-1", "web01").unwrap();
    assert!(!transport.has_token());
    let (id, bytes) = gzipped_report_with_real_body();
    let outcome = block_on(transport.send(id, &bytes));
    assert_eq!(outcome, SendOutcome::Acknowledged { duplicate: false });
    let state = server.state();
    assert_eq!(state.enrols.len(), 1);
    assert_eq!(state.enrols[0].host_id, "host-1");
    assert_eq!(state.enrols[0].hostname, "web01");
    assert_eq!(state.reports[0].report_id, id);
    assert!(state.bad_headers.is_empty());
    // The token is kept, owner-only.
    let token_file = dir.path().join("token");
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        "agent-token-1"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A minimal valid report (the server decodes and checks it).
fn gzipped_report_with_real_body() -> (Uuid, Vec<u8>) {
    let text = include_str!("../../protocol/examples/regular-report-no-inventory.json");
    let mut report: Report = serde_json::from_str(text).unwrap();
    report.report_id = Uuid::new_v4();
    let json = serde_json::to_vec(&report).unwrap();
    (report.report_id, spool::gzip(&json).unwrap())
}

#[test]
fn transport_honours_503_retry_after_then_succeeds() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&server, dir.path(), 60);
    server.state().script.push_back(Scripted {
        status: 503,
        retry_after: Some(7),
    });
    let mut transport = Transport::new(&config, "host-1", "web01").unwrap();
    let (id, bytes) = gzipped_report_with_real_body();
    let first = block_on(transport.send(id, &bytes));
    let SendOutcome::Retry { after, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(7)));
    let mut backoff =
        estate_agent::transport::Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    assert_eq!(backoff.next_delay(after), Duration::from_secs(7));
    let second = block_on(transport.send(id, &bytes));
    assert_eq!(second, SendOutcome::Acknowledged { duplicate: false });
    // A repeat is acknowledged as a duplicate.
    let third = block_on(transport.send(id, &bytes));
    assert_eq!(third, SendOutcome::Acknowledged { duplicate: true });
    assert_eq!(server.state().reports.len(), 1);
}

#[test]
fn transport_reenrols_once_when_the_token_is_revoked() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&server, dir.path(), 60);
    std::fs::write(dir.path().join("token"), "revoked-token\n").unwrap();
    let mut transport = Transport::new(&config, "host-1", "web01").unwrap();
    assert!(transport.has_token());
    let (id, bytes) = gzipped_report_with_real_body();
    let outcome = block_on(transport.send(id, &bytes));
    assert_eq!(outcome, SendOutcome::Acknowledged { duplicate: false });
    let state = server.state();
    assert_eq!(state.enrols.len(), 1);
    assert_eq!(state.attempts, 2);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("token"))
            .unwrap()
            .trim(),
        "agent-token-1"
    );
}

#[test]
fn transport_treats_422_as_rejected_and_connection_errors_as_retry() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let config = config(&server, dir.path(), 60);
    server.state().script.push_back(Scripted {
        status: 422,
        retry_after: None,
    });
    let mut transport = Transport::new(&config, "host-1", "web01").unwrap();
    let (id, bytes) = gzipped_report_with_real_body();
    let outcome = block_on(transport.send(id, &bytes));
    assert!(
        matches!(&outcome, SendOutcome::Rejected { status: 422, message } if message.contains("scripted")),
        "{outcome:?}"
    );
    server.down.store(true, Ordering::SeqCst);
    let outcome = block_on(transport.send(id, &bytes));
    assert!(
        matches!(outcome, SendOutcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
}

// ---------------------------------------------------------------------------------
// Daemon.

#[test]
fn daemon_delivers_every_report_once_with_inventory_only_when_needed() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let summary = run_daemon(config(&server, dir.path(), 1), 3.2, None);
    // Three ticks and the final report on shutdown.
    assert!(summary.built >= 3, "{summary:?}");
    assert_eq!(summary.delivered, summary.built, "{summary:?}");
    assert_eq!(summary.left_in_spool, 0);
    assert_eq!(spool_files(dir.path()), 0);
    {
        let state = server.state();
        assert_eq!(state.reports.len() as u64, summary.built);
        let mut ids: Vec<Uuid> = state.reports.iter().map(|r| r.report_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(
            ids.len(),
            state.reports.len(),
            "a report was delivered twice"
        );
        assert!(
            state.reports[0].inventory.is_some(),
            "the first report carries the inventory"
        );
        let hash = &state.reports[0].inventory_hash;
        for later in &state.reports[1..] {
            assert!(
                later.inventory.is_none(),
                "inventory resent though unchanged"
            );
            assert_eq!(&later.inventory_hash, hash);
            assert!(later.window.start >= state.reports[0].window.start);
        }
        assert_eq!(state.enrols.len(), 1);
    }

    // A restart does not resend the unchanged inventory, nor enrol again.
    let summary = run_daemon(config(&server, dir.path(), 1), 1.3, None);
    let state = server.state();
    assert_eq!(summary.with_inventory, 0, "{summary:?}");
    assert!(state.reports.iter().skip(1).all(|r| r.inventory.is_none()));
    assert_eq!(state.enrols.len(), 1);
}

#[test]
fn daemon_spools_while_the_collector_is_down_and_delivers_after() {
    let server = Server::start();
    server.down.store(true, Ordering::SeqCst);
    let dir = tempfile::tempdir().unwrap();
    let spooled_while_down = Arc::new(Mutex::new(0));
    let (down, counted, spool_dir) = (
        Arc::clone(&server.down),
        Arc::clone(&spooled_while_down),
        dir.path().to_path_buf(),
    );
    let summary = run_daemon(
        config(&server, dir.path(), 1),
        4.5,
        Some((
            2.6,
            Box::new(move || {
                *counted.lock().unwrap() = spool_files(&spool_dir);
                down.store(false, Ordering::SeqCst);
            }),
        )),
    );
    assert!(
        *spooled_while_down.lock().unwrap() >= 2,
        "reports did not accumulate"
    );
    assert_eq!(summary.delivered, summary.built, "{summary:?}");
    assert_eq!(spool_files(dir.path()), 0);
    let state = server.state();
    assert_eq!(state.reports.len() as u64, summary.built);
    // Oldest first.
    let times: Vec<_> = state.reports.iter().map(|r| r.collected_at).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}

#[test]
fn daemon_moves_a_rejected_report_aside_and_carries_on() {
    let server = Server::start();
    server.state().script.push_back(Scripted {
        status: 422,
        retry_after: None,
    });
    let dir = tempfile::tempdir().unwrap();
    let summary = run_daemon(config(&server, dir.path(), 1), 2.2, None);
    assert_eq!(summary.rejected, 1, "{summary:?}");
    assert_eq!(summary.delivered + 1, summary.built, "{summary:?}");
    let rejected = std::fs::read_dir(dir.path().join("spool/rejected"))
        .unwrap()
        .count();
    assert_eq!(rejected, 1);
    // The inventory was in the rejected report, so the next one carries it again.
    let state = server.state();
    assert!(state.reports[0].inventory.is_some());
}

#[test]
fn daemon_leaves_a_crashed_spool_readable() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("spool");
    std::fs::create_dir_all(&spool_dir).unwrap();
    let (id, bytes) = gzipped_report_with_real_body();
    std::fs::write(
        spool_dir.join(format!("{:020}-{id}{}", 1, spool::SUFFIX)),
        &bytes,
    )
    .unwrap();
    let (torn, torn_bytes) = gzipped_report_with_real_body();
    let temp = spool_dir.join(format!(
        "{}{:020}-{torn}{}",
        spool::TEMP_PREFIX,
        2,
        spool::SUFFIX
    ));
    std::fs::write(&temp, &torn_bytes[..torn_bytes.len() / 2]).unwrap();
    let summary = run_daemon(config(&server, dir.path(), 60), 0.5, None);
    assert!(!temp.exists());
    let state = server.state();
    assert_eq!(
        state.reports[0].report_id, id,
        "the report left from before goes first"
    );
    assert!(state.reports.iter().all(|r| r.report_id != torn));
    assert_eq!(summary.delivered, 2, "{summary:?}");
}

/// A deliberately slow `software` collector (a hung package database): sleeps, counting
/// its runs.
struct SlowSoftware {
    runs: Arc<std::sync::atomic::AtomicUsize>,
    sleep: Duration,
}

impl Collector for SlowSoftware {
    fn name(&self) -> &'static str {
        "software"
    }
    fn collect(&self, _: &Context) -> Result<Collected, CollectError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.sleep);
        Err(CollectError::Other("woke up too late".to_owned()))
    }
}

#[test]
fn daemon_abandons_a_slow_collector_reports_it_and_does_not_restart_it_while_it_runs() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path(), 1);
    config.collector_budget = Duration::from_millis(200);
    let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut collectors: Vec<Arc<dyn Collector>> = estate_agent::collect::platform::collectors()
        .into_iter()
        .filter(|c| c.name() != "software")
        .collect();
    collectors.push(Arc::new(SlowSoftware {
        runs: Arc::clone(&runs),
        sleep: Duration::from_secs(4),
    }));
    let options = DaemonOptions {
        root: SysRoot::new(fixture_root()),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(300),
        flush_deadline: Duration::from_secs(5),
        collectors: Some(collectors),
        ..DaemonOptions::default()
    };
    let summary = block_on(daemon::run(config, options, async {
        tokio::time::sleep(Duration::from_millis(2600)).await
    }))
    .unwrap();
    assert!(summary.delivered >= 3, "{summary:?}");
    let state = server.state();
    let software_errors: Vec<(CollectorErrorKind, String)> = state
        .reports
        .iter()
        .map(|r| {
            let found: Vec<_> = r
                .collector_errors
                .iter()
                .filter(|e| e.collector == "software")
                .collect();
            assert_eq!(found.len(), 1, "{:?}", r.collector_errors);
            (found[0].kind, found[0].message.clone())
        })
        .collect();
    // The first report abandons it; the next ones (it sleeps 4 s) skip it, saying why.
    assert!(
        software_errors[0].1.starts_with(
            "abandoned: did not finish within its budget of 200 ms (agent.collector_budget_ms)"
        ),
        "{software_errors:?}"
    );
    for (kind, message) in &software_errors[1..] {
        assert!(
            message.starts_with("skipped: still running from an earlier report"),
            "{software_errors:?}"
        );
        assert_eq!(*kind, CollectorErrorKind::Timeout);
    }
    assert_eq!(software_errors[0].0, CollectorErrorKind::Timeout);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "started again while running"
    );
    // The other collectors still reported, every time.
    let first = state.reports[0].inventory.as_ref().unwrap();
    assert!(first.os.is_some() && first.cpu.is_some());
    assert!(first.software.is_none());
}

#[test]
fn daemon_over_its_memory_limit_flushes_and_stops_with_an_error() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path(), 1);
    // Below any real process (validation refuses under 16 MiB; set here directly).
    config.limits.max_rss_bytes = 1024 * 1024;
    let options = DaemonOptions {
        root: SysRoot::new(fixture_root()),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_millis(300),
        flush_deadline: Duration::from_secs(5),
        enforce_self_limits: true,
        ..DaemonOptions::default()
    };
    let started = std::time::Instant::now();
    let result = block_on(daemon::run(config, options, async {
        tokio::time::sleep(Duration::from_secs(20)).await
    }));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    match result {
        Err(daemon::DaemonError::MemoryLimit(exceeded)) => {
            assert_eq!(exceeded.max_rss_bytes, 1024 * 1024);
            assert!(exceeded.rss_bytes > exceeded.max_rss_bytes, "{exceeded:?}");
        }
        other => panic!("expected a memory-limit stop, got {other:?}"),
    }
    // Whatever was spooled was flushed before stopping.
    assert_eq!(spool_files(dir.path()), 0);
}

#[test]
fn self_limits_are_left_to_the_embedding_program_by_default() {
    // A program that runs the daemon inside itself (the quickstart) measures its own
    // process, not the agent's: the limits are off unless the agent's binary asks.
    assert!(!DaemonOptions::default().enforce_self_limits);
    assert!(AgentConfig::default().limits.enabled);
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&server, dir.path(), 1);
    config.limits.max_rss_bytes = 1024 * 1024;
    let summary = run_daemon(config, 1.5, None);
    assert!(summary.delivered >= 1, "{summary:?}");
}

#[cfg(unix)]
#[test]
fn sigterm_spools_and_flushes_a_final_report_and_exits_0() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let enrol = dir.path().join("enrolment-token");
    std::fs::write(&enrol, ENROL_SECRET).unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(
        &file,
        format!(
            "[collector]\nurl = \"{}\"\nenrolment_token_file = \"{}\"\n\n[agent]\nstate_dir = \"{}\"\nreport_interval_secs = 60\nsample_interval_secs = 1\nlog_format = \"json\"\n",
            server.url(),
            enrol.display(),
            dir.path().join("state").display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_estate-agent"))
        .args(["run", "--config"])
        .arg(&file)
        .arg("--root")
        .arg(fixture_root())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Enrolment happens at start; then nothing is due for 60 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.state().enrols.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not enrol"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(server.state().reports.is_empty());
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{log}", out.status);
    let state = server.state();
    assert_eq!(state.reports.len(), 1, "{log}");
    assert!(state.reports[0].inventory.is_some());
    // JSON logs, one object a line, with structured fields.
    let stopped = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["fields"]["message"] == "agent stopped")
        .expect("an `agent stopped` line");
    assert_eq!(stopped["fields"]["delivered"], 1);
    assert_eq!(stopped["fields"]["left_in_spool"], 0);
}
