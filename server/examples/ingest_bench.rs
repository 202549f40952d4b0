//! Sustained ingest benchmark: a collector on SQLite (WAL, `synchronous = FULL`) started
//! in-process, and concurrent HTTP clients posting gzip-compressed reports the way agents
//! do (keep-alive connections, one report per request, a fresh `report_id` each).
//! Prints reports/s and the p50/p90/p99/max latency of each request, for:
//!
//! - `echo`: the same HTTP stack answering a trivial handler that reads the body (the
//!   ceiling of HTTP alone on this machine, for comparison);
//! - `regular`: reports without inventory (what agents send every five minutes);
//! - `inventory`: reports with the full inventory (sent when it changes, and daily).
//!
//! ```sh
//! cargo run --release -p estate-server --example ingest_bench -- [SECONDS] [CLIENTS] [HOSTS] [FULL_REPORT.json]
//! ```
//! Defaults: 10 s per mode, 32 clients, 1,000 hosts, `protocol/examples/full-report-dell-r740.json`.
//! Pass a report collected on a real host (`estate-agent collect > r.json`) for a
//! heavier inventory. Client and server share the machine's cores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use estate_server::config::{AuthConfig, Backend, ServerConfig};
use serde_json::Value;

const ENROLMENT_TOKEN: &str = "bench-enrolment-token-0123456789";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn load(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `report` for `host`, with a fresh id and timestamps, gzip-compressed.
fn body(report: &Value, host: &str) -> Vec<u8> {
    let mut r = report.clone();
    let now = Utc::now();
    r["report_id"] = Value::from(uuid::Uuid::new_v4().to_string());
    r["host_id"] = Value::from(host);
    r["collected_at"] = Value::from(now.to_rfc3339());
    r["window"]["start"] = Value::from((now - chrono::Duration::minutes(5)).to_rfc3339());
    r["window"]["end"] = Value::from(now.to_rfc3339());
    gzip(r.to_string().as_bytes())
}

struct Outcome {
    reports: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Posts prepared bodies from `clients` tasks for `seconds`, each task cycling through
/// its hosts.
async fn drive(
    url: String,
    path: &'static str,
    bodies: Arc<Vec<(String, Vec<u8>)>>,
    clients: usize,
    seconds: u64,
) -> Outcome {
    // A marker on stderr for profilers attaching to the timed part only
    // (`perf record -p PID` once it appears).
    eprintln!("timing {path} for {seconds} s");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = format!("{url}{path}");
        let bodies = Arc::clone(&bodies);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut i = c;
            while Instant::now() < deadline && i < bodies.len() {
                let (token, body) = &bodies[i];
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let _ = resp.bytes().await.unwrap();
                assert!(status.is_success(), "status {status}");
                latencies.push(t.elapsed());
                i += clients;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Outcome {
        reports: latencies.len(),
        elapsed,
        latencies,
    }
}

fn print(mode: &str, size: usize, o: &Outcome) {
    println!(
        "{mode:<10} {:>7} B gz  {:>7} reqs  {:>8.0} /s   p50 {:>6.1} ms  p90 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
        size,
        o.reports,
        o.reports as f64 / o.elapsed.as_secs_f64(),
        percentile(&o.latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&o.latencies, 90.0).as_secs_f64() * 1e3,
        percentile(&o.latencies, 99.0).as_secs_f64() * 1e3,
        o.latencies
            .last()
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3,
    );
}

async fn echo_server() -> String {
    use axum::routing::post;
    let app = axum::Router::new().route(
        "/echo",
        post(|body: axum::body::Bytes| async move {
            axum::Json(serde_json::json!({"bytes": body.len()}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().map_or(10, |s| s.parse().unwrap());
    let clients: usize = args.get(1).map_or(32, |s| s.parse().unwrap());
    let hosts: usize = args.get(2).map_or(1000, |s| s.parse().unwrap());
    let root = env!("CARGO_MANIFEST_DIR");
    let full_path = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("{root}/../protocol/examples/full-report-dell-r740.json"));
    let regular = load(&format!(
        "{root}/../protocol/examples/regular-report-no-inventory.json"
    ));
    let full = load(&full_path);

    let dir = tempfile::tempdir().unwrap();
    let enrol_file = dir.path().join("enrolment-token");
    std::fs::write(&enrol_file, ENROLMENT_TOKEN).unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_reports_per_host_per_minute: None,
        ..ServerConfig::default()
    };
    config.storage.backend = Backend::Sqlite(dir.path().join("estate.db"));
    config.auth = AuthConfig {
        enrolment_token_file: Some(enrol_file),
        read_token_file: None,
    };
    let server = estate_server::start(&config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    let client = reqwest::Client::new();
    let mut tokens = Vec::new();
    for h in 0..hosts {
        let host = format!("bench-{h:05}");
        let resp: Value = client
            .post(format!("{url}/api/v1/enrol"))
            .bearer_auth(ENROLMENT_TOKEN)
            .json(&serde_json::json!({"host_id": host, "hostname": host}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push((host, resp["agent_token"].as_str().unwrap().to_owned()));
    }
    println!(
        "{} clients, {} hosts, {} s per mode, {} CPUs, SQLite WAL synchronous=FULL in {}",
        clients,
        hosts,
        seconds,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        dir.path().display()
    );
    // Enough prepared bodies for the fastest plausible rate; built before timing.
    let prepare = |report: &Value, per_sec: usize| -> Arc<Vec<(String, Vec<u8>)>> {
        let n = per_sec * seconds as usize;
        Arc::new(
            (0..n)
                .map(|i| {
                    let (host, token) = &tokens[i % tokens.len()];
                    (token.clone(), body(report, host))
                })
                .collect(),
        )
    };

    let echo_url = echo_server().await;
    let echo_bodies = prepare(&regular, 20_000);
    let size = echo_bodies[0].1.len();
    print(
        "echo",
        size,
        &drive(echo_url, "/echo", echo_bodies, clients, seconds).await,
    );

    let before = server.store().transactions();
    let bodies = prepare(&regular, 8_000);
    let size = bodies[0].1.len();
    let o = drive(url.clone(), "/api/v1/reports", bodies, clients, seconds).await;
    print("regular", size, &o);
    let tx = server.store().transactions() - before;
    println!(
        "           {} transactions, {:.1} reports each",
        tx,
        o.reports as f64 / tx.max(1) as f64
    );

    let before = server.store().transactions();
    let bodies = prepare(&full, 2_000);
    let size = bodies[0].1.len();
    let o = drive(url.clone(), "/api/v1/reports", bodies, clients, seconds).await;
    print("inventory", size, &o);
    let tx = server.store().transactions() - before;
    println!(
        "           {} transactions, {:.1} reports each",
        tx,
        o.reports as f64 / tx.max(1) as f64
    );
    let counts = server.store().counts().await.unwrap();
    println!(
        "stored: {} series rows, {} raw reports, {} hosts",
        counts.series, counts.raw_reports, counts.hosts
    );
    server.shutdown().await.unwrap();
}
