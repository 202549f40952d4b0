//! The fleet simulator's driver against a scripted collector on loopback: enrolment,
//! bearer tokens and gzip as a real agent sends them, `429`/`503` retried with the same
//! report and `Retry-After` honoured, a refused token replaced by enrolling again, a
//! rejected report not retried, and later reports sent without the inventory with
//! contiguous windows. (The end-to-end test against the real collector is
//! `tests/tests/simulate.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use estate_agent::simulate::{self, Fleet, Mix};
use estate_protocol::{EnrolRequest, EnrolResponse, IngestResponse, Report};

const ENROLMENT_TOKEN: &str = "driver-test-enrolment-token-0123456789";

/// One request as the scripted collector saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// What the script answers: status, extra headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);
/// The script: given the request and how many report requests this host made before,
/// the answer (`None`: the default behaviour, enrol or acknowledge).
type Script = dyn Fn(&Seen, Option<&Report>, usize) -> Option<Answer> + Send + Sync;

#[derive(Default)]
struct Log {
    requests: Vec<Seen>,
    /// Token → host id.
    tokens: HashMap<String, String>,
    /// Report requests per host id.
    attempts: HashMap<String, usize>,
    enrolments: usize,
}

struct Collector {
    addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

impl Collector {
    /// Listens on loopback; one thread per connection (blocking I/O keeps the scripted
    /// side independent of the simulator's runtime).
    fn start(script: Arc<Script>) -> Collector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let shared = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else {
                    return;
                };
                let (log, script) = (Arc::clone(&shared), Arc::clone(&script));
                std::thread::spawn(move || serve(stream, log, script));
            }
        });
        Collector { addr, log }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Report requests, decoded, in arrival order: (when, token, report).
    fn reports(&self) -> Vec<(Instant, String, Report)> {
        let log = self.log.lock().unwrap();
        log.requests
            .iter()
            .filter(|r| r.path == "/api/v1/reports")
            .map(|r| {
                assert_eq!(r.headers["content-encoding"], "gzip");
                assert_eq!(r.headers["content-type"], "application/json");
                let token = r.headers["authorization"]
                    .strip_prefix("Bearer ")
                    .unwrap()
                    .to_owned();
                (r.at, token, decode(&r.body))
            })
            .collect()
    }
}

fn decode(body: &[u8]) -> Report {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut json)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

fn serve(mut stream: TcpStream, log: Arc<Mutex<Log>>, script: Arc<Script>) {
    let mut buffer = Vec::new();
    loop {
        // Headers.
        let end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let mut lines = head.lines();
        let path = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        buffer.drain(..end + 4);
        while buffer.len() < length {
            let mut chunk = [0u8; 8192];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buffer.drain(..length).collect();
        let seen = Seen {
            at: Instant::now(),
            path: path.clone(),
            headers,
            body,
        };
        let (status, extra, text) = answer(&seen, &log, script.as_ref());
        log.lock().unwrap().requests.push(seen);
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            422 => "Unprocessable Entity",
            429 => "Too Many Requests",
            503 => "Service Unavailable",
            _ => "Other",
        };
        let mut response = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            text.len()
        );
        for (name, value) in extra {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("\r\n");
        response.push_str(&text);
        if stream.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn answer(seen: &Seen, log: &Mutex<Log>, script: &Script) -> Answer {
    let auth = seen
        .headers
        .get("authorization")
        .cloned()
        .unwrap_or_default();
    let token = auth.strip_prefix("Bearer ").unwrap_or_default().to_owned();
    if seen.path == "/api/v1/enrol" {
        assert_eq!(token, ENROLMENT_TOKEN, "enrolment with the enrolment token");
        let request: EnrolRequest = serde_json::from_slice(&seen.body).unwrap();
        let mut log = log.lock().unwrap();
        log.enrolments += 1;
        let agent_token = format!("{:064x}", log.enrolments);
        log.tokens
            .insert(agent_token.clone(), request.host_id.clone());
        let body = serde_json::to_string(&EnrolResponse {
            host_id: request.host_id,
            agent_token,
        })
        .unwrap();
        return (200, Vec::new(), body);
    }
    let report = decode(&seen.body);
    let attempt = {
        let mut log = log.lock().unwrap();
        let owner = log.tokens.get(&token).cloned();
        assert_eq!(
            owner.as_deref(),
            Some(report.host_id.as_str()),
            "the host's own token"
        );
        let count = log.attempts.entry(report.host_id.clone()).or_insert(0);
        *count += 1;
        *count - 1
    };
    if let Some(answer) = script(seen, Some(&report), attempt) {
        return answer;
    }
    let body = serde_json::to_string(&IngestResponse {
        report_id: report.report_id,
        duplicate: false,
    })
    .unwrap();
    (200, Vec::new(), body)
}

fn error(code: &str) -> String {
    format!(r#"{{"error_code":"{code}","message":"scripted"}}"#)
}

fn options(collector: &Collector, hosts: u32) -> simulate::Options {
    let fleet = Fleet::new(
        31,
        Mix::COUNCIL,
        NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
        0.0,
    );
    let mut options =
        simulate::Options::new(fleet, hosts, collector.url(), ENROLMENT_TOKEN.to_owned());
    options.backoff_initial = Duration::from_millis(20);
    options.backoff_max = Duration::from_millis(100);
    options.progress_every = None;
    options.concurrency = 2;
    options.duration = Some(Duration::from_secs(30));
    options
}

#[tokio::test]
async fn retries_keep_the_report_and_honour_retry_after() {
    let script: Arc<Script> = Arc::new(|_seen, _report, attempt| match attempt {
        0 => Some((
            429,
            vec![("retry-after", "1".to_owned())],
            error("rate_limited"),
        )),
        1 => Some((
            503,
            vec![("retry-after", "1".to_owned())],
            error("overloaded"),
        )),
        _ => None,
    });
    let collector = Collector::start(script);
    let mut options = options(&collector, 3);
    options.once = true;
    let summary = simulate::run(options, std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.acknowledged, 3, "{summary}");
    assert_eq!(summary.enrolled, 3);
    assert_eq!(summary.built, 3);
    assert_eq!(summary.with_inventory, 3);
    assert_eq!(summary.sent, 9);
    assert_eq!(summary.retried, 6);
    assert_eq!(summary.report_errors.get("429"), Some(&3));
    assert_eq!(summary.report_errors.get("503"), Some(&3));
    assert_eq!(summary.hosts_done, 3);
    assert!(summary.latency_p50_ms.is_some() && summary.latency_p99_ms.is_some());

    let mut by_host: HashMap<String, Vec<(Instant, String, Report)>> = HashMap::new();
    for seen in collector.reports() {
        by_host
            .entry(seen.2.host_id.clone())
            .or_default()
            .push(seen);
    }
    assert_eq!(by_host.len(), 3);
    for attempts in by_host.values() {
        assert_eq!(attempts.len(), 3);
        // The same report each time: a retry, not a new report.
        assert!(attempts.iter().all(|(_, _, r)| r == &attempts[0].2));
        assert!(attempts[0].2.inventory.is_some());
        // Retry-After (1 s) wins over the backoff (at most 100 ms here).
        for pair in attempts.windows(2) {
            let gap = pair[1].0 - pair[0].0;
            assert!(gap >= Duration::from_millis(950), "{gap:?}");
        }
    }
}

#[tokio::test]
async fn a_refused_token_is_replaced_by_enrolling_again() {
    let script: Arc<Script> = Arc::new(|_seen, _report, attempt| {
        (attempt == 0).then(|| {
            (
                401,
                vec![("www-authenticate", "Bearer".to_owned())],
                error("unauthenticated"),
            )
        })
    });
    let collector = Collector::start(script);
    let mut options = options(&collector, 2);
    options.once = true;
    let summary = simulate::run(options, std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.acknowledged, 2, "{summary}");
    assert_eq!(summary.enrolled, 4, "each host enrolled twice");
    assert_eq!(summary.report_errors.get("401"), Some(&2));
    let reports = collector.reports();
    assert_eq!(reports.len(), 4);
    let mut tokens: HashMap<String, Vec<String>> = HashMap::new();
    for (_, token, report) in &reports {
        tokens
            .entry(report.host_id.clone())
            .or_default()
            .push(token.clone());
    }
    for used in tokens.values() {
        assert_eq!(used.len(), 2);
        assert_ne!(used[0], used[1], "the resend uses the new token");
    }
}

#[tokio::test]
async fn a_rejected_report_is_set_aside_not_retried() {
    let script: Arc<Script> =
        Arc::new(|_seen, _report, _attempt| Some((422, Vec::new(), error("invalid_report"))));
    let collector = Collector::start(script);
    let mut options = options(&collector, 2);
    options.once = true;
    let started = Instant::now();
    let summary = simulate::run(options, std::future::pending())
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(summary.acknowledged, 0);
    assert_eq!(summary.rejected, 2);
    assert_eq!(summary.sent, 2);
    assert_eq!(summary.report_errors.get("422"), Some(&2));
    assert_eq!(collector.reports().len(), 2);
}

#[tokio::test]
async fn later_reports_leave_the_inventory_out_and_follow_on() {
    let script: Arc<Script> = Arc::new(|_seen, _report, _attempt| None);
    let collector = Collector::start(script);
    let mut options = options(&collector, 3);
    options.interval = Duration::from_millis(700);
    options.duration = Some(Duration::from_millis(3_300));
    let summary = simulate::run(options, std::future::pending())
        .await
        .unwrap();
    assert_eq!(summary.enrolled, 3);
    assert_eq!(summary.acknowledged, summary.built, "{summary}");
    assert_eq!(summary.with_inventory, 3, "{summary}");
    let mut by_host: HashMap<String, Vec<Report>> = HashMap::new();
    for (_, _, report) in collector.reports() {
        by_host
            .entry(report.host_id.clone())
            .or_default()
            .push(report);
    }
    assert_eq!(by_host.len(), 3);
    for reports in by_host.values() {
        assert!(reports.len() >= 3, "{}", reports.len());
        assert!(reports[0].inventory.is_some());
        assert!(reports[1..].iter().all(|r| r.inventory.is_none()));
        let ids: std::collections::HashSet<_> = reports.iter().map(|r| r.report_id).collect();
        assert_eq!(ids.len(), reports.len(), "a fresh report id per report");
        for pair in reports.windows(2) {
            assert_eq!(pair[1].inventory_hash, pair[0].inventory_hash);
            assert_eq!(
                pair[1].window.start, pair[0].window.end,
                "contiguous windows"
            );
            let gap = (pair[1].collected_at - pair[0].collected_at).num_milliseconds();
            // The interval, jittered by ±2 %, plus the time to build and send.
            assert!((680..=1_200).contains(&gap), "{gap} ms");
        }
    }
}
