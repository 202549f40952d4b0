//! Sustained ingest benchmark: a collector started in-process on SQLite (WAL,
//! `synchronous = FULL`) and on PostgreSQL, and concurrent HTTP clients posting
//! gzip-compressed reports the way agents do (keep-alive connections, one report per
//! request, a fresh `report_id` each), swept over a list of client counts. Prints
//! reports/s and the p50/p90/p99/max latency of each request, for:
//!
//! - `echo`: the same HTTP stack answering a trivial handler that reads the body (the
//!   ceiling of HTTP alone on this machine, for comparison); posted the `regular` bodies;
//! - `regular`: reports without inventory (what agents send every five minutes);
//! - `inventory`: reports with the full inventory (sent when it changes, and daily).
//!
//! ```sh
//! cargo run --release -p estate-server --example ingest_bench -- [SECONDS] [CLIENTS] [HOSTS] [FULL_REPORT.json]
//! ```
//! - `SECONDS`: timed seconds per mode and client count (default 10);
//! - `CLIENTS`: comma-separated client counts to sweep (default `1,8,32,64,128`; one
//!   number runs one);
//! - `HOSTS`: hosts enrolled, the reports cycling through them (default 1,000);
//! - `FULL_REPORT.json`: the inventory report (default
//!   `protocol/examples/full-report-dell-r740.json`); pass a report collected on a real
//!   host (`estate-agent collect > r.json`) for a heavier inventory.
//!
//! Environment:
//! - `INGEST_BACKENDS`: `sqlite`, `postgres` or both (default `sqlite,postgres`);
//! - `INGEST_MODES`: any of `echo,regular,inventory` (default all three);
//! - `ESTATE_BENCH_POSTGRES_URL`, else `ESTATE_TEST_POSTGRES_URL`: a role that may create
//!   schemas in its database (`.ci/run` sets one up; `bench/ingest_sweep.sh` too). Without
//!   either, PostgreSQL is skipped with a note.
//!
//! Each backend and client count gets a fresh store: a new SQLite file in a temporary
//! directory, or a new PostgreSQL schema (on the `search_path`, as the store tests do),
//! dropped afterwards, so runs neither pile up nor slow each other down. The hosts are
//! enrolled before the timed part and the bodies prepared before the first run (a
//! report's `report_id` is only unique within a store, so each store gets the same
//! bodies). The bench prints `timing …` on stderr when each timed part starts (for
//! `perf record -p PID`), then one markdown table per backend on stdout, the ratio
//! column comparing reports/s with the echo at the same client count. Client and server
//! share the machine's cores (and PostgreSQL's, when it runs here).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use estate_server::config::{AuthConfig, Backend, ServerConfig};
use serde_json::Value;

const ENROLMENT_TOKEN: &str = "bench-enrolment-token-0123456789";
/// Most reports/s each mode is prepared for; a run that uses its bodies up stops early
/// (its rate stays right: it is divided by the time it actually ran).
const REGULAR_PER_SEC: usize = 15_000;
const INVENTORY_PER_SEC: usize = 5_000;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn load(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `n` gzip-compressed copies of `report`, each with a fresh id and timestamps, for host
/// `i % hosts`; built on every core.
fn prepare(report: &Value, n: usize, hosts: usize) -> Arc<Vec<Vec<u8>>> {
    let now = Utc::now();
    let mut template = report.clone();
    template["report_id"] = Value::from("@REPORT_ID@");
    template["host_id"] = Value::from("@HOST_ID@");
    template["collected_at"] = Value::from(now.to_rfc3339());
    template["window"]["start"] = Value::from((now - chrono::Duration::minutes(5)).to_rfc3339());
    template["window"]["end"] = Value::from(now.to_rfc3339());
    let template = template.to_string();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = n.div_ceil(threads).max(1);
    let parts: Vec<Vec<Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let template = &template;
                scope.spawn(move || {
                    (start..(start + chunk).min(n))
                        .map(|i| {
                            let json = template
                                .replace("@REPORT_ID@", &uuid::Uuid::new_v4().to_string())
                                .replace("@HOST_ID@", &host_name(i % hosts));
                            gzip(json.as_bytes())
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Arc::new(parts.into_iter().flatten().collect())
}

fn host_name(i: usize) -> String {
    format!("bench-{i:05}")
}

#[derive(Default)]
struct Outcome {
    reports: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// The prepared bodies ran out before the time did.
    exhausted: bool,
    /// Store transactions during the run (none for the echo).
    transactions: Option<u64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.reports as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Posts prepared bodies from `clients` tasks for `seconds`, client `c` sending bodies
/// `c`, `c + clients`, … with the token of the body's host; `cycle` starts the bodies
/// over when they run out (for the echo, which does not care that an id repeats).
async fn drive(
    url: String,
    bodies: Arc<Vec<Vec<u8>>>,
    tokens: Arc<Vec<String>>,
    clients: usize,
    seconds: u64,
    cycle: bool,
) -> Outcome {
    // A marker on stderr for profilers attaching to the timed part only
    // (`perf record -p PID` once it appears).
    eprintln!("timing {url} with {clients} clients for {seconds} s");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let url = url.clone();
        let bodies = Arc::clone(&bodies);
        let tokens = Arc::clone(&tokens);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut i = c;
            let mut exhausted = false;
            while Instant::now() < deadline {
                if i >= bodies.len() {
                    if !cycle {
                        exhausted = true;
                        break;
                    }
                    i %= bodies.len();
                }
                let token = &tokens[i % tokens.len()];
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .header("content-encoding", "gzip")
                    .body(bodies[i].clone())
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                let _ = resp.bytes().await.unwrap();
                if status.is_success() {
                    latencies.push(t.elapsed());
                } else {
                    if errors == 0 {
                        eprintln!("{url}: status {status}");
                    }
                    errors += 1;
                }
                i += clients;
            }
            (latencies, errors, exhausted)
        }));
    }
    let mut outcome = Outcome::default();
    for t in tasks {
        let (latencies, errors, exhausted) = t.await.unwrap();
        outcome.latencies.extend(latencies);
        outcome.errors += errors;
        outcome.exhausted |= exhausted;
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies.sort();
    outcome.reports = outcome.latencies.len();
    outcome
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
    format!("http://{addr}/echo")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Regular,
    Inventory,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Regular => "regular",
            Mode::Inventory => "inventory",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

/// A fresh PostgreSQL schema, its URL (the schema first on the `search_path`), and the
/// base URL to drop it with.
struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    async fn create(base: &str) -> PgSchema {
        let name = format!("estate_bench_{}", uuid::Uuid::new_v4().simple());
        pg_admin(base, &format!("CREATE SCHEMA {name}")).await;
        PgSchema {
            base: base.to_owned(),
            name,
        }
    }

    /// The base URL with `-c search_path=<schema>` in its options.
    fn url(&self) -> String {
        let base = self.base.trim();
        if base.starts_with("postgres://") || base.starts_with("postgresql://") {
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-c%20search_path%3D{}", self.name)
        } else {
            format!("{base} options='-c search_path={}'", self.name)
        }
    }

    async fn drop_schema(self) {
        pg_admin(
            &self.base,
            &format!(
                "SET lock_timeout = '30s'; DROP SCHEMA IF EXISTS {} CASCADE",
                self.name
            ),
        )
        .await;
    }
}

/// PostgreSQL's durability settings, for the table's title.
async fn pg_settings(url: &str) -> String {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    let mut out = Vec::new();
    for name in [
        "server_version",
        "fsync",
        "synchronous_commit",
        "wal_sync_method",
    ] {
        let row = client
            .query_one(&format!("SHOW {name}"), &[])
            .await
            .unwrap();
        out.push(format!("{name} = {}", row.get::<_, String>(0)));
    }
    drop(client);
    let _ = driver.await;
    out.join(", ")
}

async fn pg_admin(url: &str, sql: &str) {
    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await.unwrap();
    drop(client);
    let _ = driver.await;
}

/// A collector on a fresh store with `hosts` hosts enrolled: the server, its report URL,
/// the hosts' tokens, and the schema to drop afterwards (PostgreSQL).
async fn collector(
    store: Store,
    pg_url: Option<&str>,
    dir: &std::path::Path,
    hosts: usize,
) -> (
    estate_server::Server,
    String,
    Arc<Vec<String>>,
    Option<PgSchema>,
) {
    let enrol_file = dir.join("enrolment-token");
    std::fs::write(&enrol_file, ENROLMENT_TOKEN).unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_reports_per_host_per_minute: None,
        ..ServerConfig::default()
    };
    let mut schema = None;
    config.storage.backend = match store {
        Store::Sqlite => Backend::Sqlite(dir.join("estate.db")),
        Store::Postgres => {
            let s = PgSchema::create(pg_url.unwrap()).await;
            let url = s.url();
            schema = Some(s);
            Backend::Postgres(url)
        }
    };
    config.auth = AuthConfig {
        enrolment_token_file: Some(enrol_file),
        read_token_file: None,
    };
    let server = estate_server::start(&config).await.unwrap();
    let url = format!("http://{}", server.local_addr());
    // Enrol 16 at a time (the store batches them).
    let client = reqwest::Client::new();
    let mut tokens = vec![String::new(); hosts];
    for start in (0..hosts).step_by(16) {
        let enrolments: Vec<_> = (start..(start + 16).min(hosts))
            .map(|h| {
                let client = client.clone();
                let url = url.clone();
                tokio::spawn(async move {
                    let host = host_name(h);
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
                    (h, resp["agent_token"].as_str().unwrap().to_owned())
                })
            })
            .collect();
        for e in enrolments {
            let (h, token) = e.await.unwrap();
            tokens[h] = token;
        }
    }
    (
        server,
        format!("{url}/api/v1/reports"),
        Arc::new(tokens),
        schema,
    )
}

struct Row {
    mode: Mode,
    clients: usize,
    size: usize,
    outcome: Outcome,
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    println!(
        "| mode | clients | body (gzip) | reports/s | p50 | p90 | p99 | max | reports/tx | of echo |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let o = &r.outcome;
        let echo = rows
            .iter()
            .find(|e| e.mode == Mode::Echo && e.clients == r.clients)
            .map(|e| e.outcome.rate());
        let ratio = match (r.mode, echo) {
            (Mode::Echo, _) | (_, None) => "—".to_owned(),
            (_, Some(e)) => format!("{:.1} %", 100.0 * o.rate() / e.max(1e-9)),
        };
        let per_tx = match o.transactions {
            Some(tx) => format!("{:.1}", o.reports as f64 / tx.max(1) as f64),
            None => "—".to_owned(),
        };
        let mut notes = String::new();
        if o.errors > 0 {
            notes.push_str(&format!(" ({} errors)", o.errors));
        }
        if o.exhausted {
            notes.push_str(" (bodies ran out)");
        }
        println!(
            "| {} | {} | {} B | {}{} | {} | {} | {} | {} | {} | {} |",
            r.mode.name(),
            r.clients,
            thousands(r.size as f64),
            thousands(o.rate()),
            notes,
            ms(percentile(&o.latencies, 50.0)),
            ms(percentile(&o.latencies, 90.0)),
            ms(percentile(&o.latencies, 99.0)),
            ms(o.latencies.last().copied().unwrap_or_default()),
            per_tx,
            ratio,
        );
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
}

fn list(var: &str, default: &str) -> Vec<String> {
    std::env::var(var)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().map_or(10, |s| s.parse().unwrap());
    let sweep: Vec<usize> = args
        .get(1)
        .map_or("1,8,32,64,128", String::as_str)
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let hosts: usize = args.get(2).map_or(1000, |s| s.parse().unwrap());
    let root = env!("CARGO_MANIFEST_DIR");
    let full_path = args
        .get(3)
        .cloned()
        .unwrap_or_else(|| format!("{root}/../protocol/examples/full-report-dell-r740.json"));
    let modes: Vec<Mode> = list("INGEST_MODES", "echo,regular,inventory")
        .iter()
        .map(|m| match m.as_str() {
            "echo" => Mode::Echo,
            "regular" => Mode::Regular,
            "inventory" => Mode::Inventory,
            other => panic!("INGEST_MODES: unknown mode `{other}`"),
        })
        .collect();
    let pg_url = ["ESTATE_BENCH_POSTGRES_URL", "ESTATE_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.trim().is_empty()));
    let mut stores = Vec::new();
    for b in list("INGEST_BACKENDS", "sqlite,postgres") {
        match b.as_str() {
            "sqlite" => stores.push(Store::Sqlite),
            "postgres" | "postgresql" if pg_url.is_some() => stores.push(Store::Postgres),
            "postgres" | "postgresql" => eprintln!(
                "PostgreSQL skipped: set ESTATE_BENCH_POSTGRES_URL or ESTATE_TEST_POSTGRES_URL"
            ),
            other => panic!("INGEST_BACKENDS: unknown backend `{other}`"),
        }
    }
    let regular = load(&format!(
        "{root}/../protocol/examples/regular-report-no-inventory.json"
    ));
    let full = load(&full_path);

    println!(
        "ingest_bench: {} s per run, clients {:?}, {} hosts, {} CPUs, load average {} at the start, {}",
        seconds,
        sweep,
        hosts,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        Utc::now().format("%Y-%m-%d %H:%M UTC"),
    );
    let started = Instant::now();
    let n = |per_sec: usize| per_sec * seconds as usize;
    let regular_bodies = prepare(&regular, n(REGULAR_PER_SEC), hosts);
    let inventory_bodies = if modes.contains(&Mode::Inventory) {
        prepare(&full, n(INVENTORY_PER_SEC), hosts)
    } else {
        Arc::new(Vec::new())
    };
    eprintln!(
        "prepared {} + {} bodies in {:.1} s",
        regular_bodies.len(),
        inventory_bodies.len(),
        started.elapsed().as_secs_f64()
    );
    let echo_url = echo_server().await;
    let echo_tokens = Arc::new(vec![String::from("echo")]);

    let mut tables = Vec::new();
    for &store in &stores {
        let mut rows = Vec::new();
        for &clients in &sweep {
            let dir = tempfile::tempdir().unwrap();
            let (server, url, tokens, schema) =
                collector(store, pg_url.as_deref(), dir.path(), hosts).await;
            for &mode in &modes {
                let bodies = match mode {
                    Mode::Echo | Mode::Regular => Arc::clone(&regular_bodies),
                    Mode::Inventory => Arc::clone(&inventory_bodies),
                };
                let size = bodies.first().map_or(0, Vec::len);
                let outcome = if mode == Mode::Echo {
                    drive(
                        echo_url.clone(),
                        bodies,
                        Arc::clone(&echo_tokens),
                        clients,
                        seconds,
                        true,
                    )
                    .await
                } else {
                    let before = server.store().transactions();
                    let mut o = drive(
                        url.clone(),
                        bodies,
                        Arc::clone(&tokens),
                        clients,
                        seconds,
                        false,
                    )
                    .await;
                    o.transactions = Some(server.store().transactions() - before);
                    o
                };
                eprintln!(
                    "{:<9} {:<8} {:>4} clients {:>8.0} /s  p50 {}  p99 {}  errors {}",
                    if store == Store::Sqlite {
                        "sqlite"
                    } else {
                        "postgres"
                    },
                    mode.name(),
                    clients,
                    outcome.rate(),
                    ms(percentile(&outcome.latencies, 50.0)),
                    ms(percentile(&outcome.latencies, 99.0)),
                    outcome.errors
                );
                rows.push(Row {
                    mode,
                    clients,
                    size,
                    outcome,
                });
            }
            server.shutdown().await.unwrap();
            if let Some(schema) = schema {
                schema.drop_schema().await;
            }
        }
        tables.push((store, rows));
    }
    for (store, rows) in &tables {
        let title = match store {
            Store::Sqlite => "SQLite (WAL, synchronous = FULL)".to_owned(),
            Store::Postgres => format!(
                "PostgreSQL ({})",
                pg_settings(pg_url.as_deref().unwrap()).await
            ),
        };
        table(&title, rows);
    }
    println!(
        "\nload average {} at the end, {:.0} s in all",
        load_average(),
        started.elapsed().as_secs_f64()
    );
}
