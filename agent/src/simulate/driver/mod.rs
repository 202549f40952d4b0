//! The simulator's driver: N hosts enrolling and reporting to a collector over HTTP from
//! one process, on one thread.
//!
//! Each host keeps only a small `HostState` (its token, the hash of its current
//! inventory, a few counters and times); its profile, inventory and utilisation are
//! regenerated from the [`Fleet`] whenever a report is built, and dropped once the report
//! is compressed. A scheduler (a binary heap of due times) hands due hosts to at most
//! `concurrency` tasks. A host behaves as the agent daemon does: it enrols with the
//! enrolment token, sends its first report with the full inventory and later ones
//! without unless the inventory changed or the last full one is a day old, a fresh
//! report id per report, gzip, `Authorization: Bearer`, re-enrolment on `401`, and on
//! `429`/`503`/network errors it keeps the report and retries it with exponential backoff
//! and jitter, honouring `Retry-After`. While a report is retried the host builds no new
//! one (the agent would spool it); the next report's window starts where the
//! acknowledged one ended.
//!
//! This module owns the schedule, the per-host state and the HTTP exchange; it must not
//! generate inventories (the fleet does) or print (`main` prints the summary).

mod host;
mod http;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::fleet::{Fleet, ReportSpec};
use super::stats::{Stats, Summary};
use host::{HostState, Next, Turn, turn};

pub use host::backoff_delay;

/// Default report interval (the agent's default `report_interval_secs`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);
/// Default number of requests in flight.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// A full inventory is sent at least this often (the agent's `full_inventory_interval`).
pub const DEFAULT_FULL_INVENTORY_INTERVAL: Duration = Duration::from_secs(86_400);
/// First retry delay.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// Default time between progress lines in the log.
pub const DEFAULT_PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Time in-flight requests get to finish once the run stops.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// Threads that build and compress reports (the runtime's blocking pool).
pub const BUILD_THREADS: usize = 2;
/// Jitter of the report interval (± this fraction), so hosts do not fall into step.
pub const INTERVAL_JITTER: f64 = 0.02;
/// Environment variable naming the acknowledgement log when [`Options::acked_log`] is
/// not set (read by [`run_until_signal`]).
pub const ACKED_LOG_ENV: &str = "ESTATE_SIMULATE_ACKED_LOG";

/// Why the simulator could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// A setting is unusable.
    #[error("{0}")]
    Invalid(String),
    /// The CA file could not be read or parsed.
    #[error("--ca-file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
    /// The async runtime could not be built.
    #[error("could not start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The acknowledgement log could not be opened.
    #[error("acknowledgement log {path}: {source}")]
    AckedLog {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct Options {
    /// The fleet.
    pub fleet: Fleet,
    /// Number of hosts (indices `0..hosts`).
    pub hosts: u32,
    /// The collector's base URL (`http://host:port`); unused with `dry_run`.
    pub collector: String,
    /// The enrolment token; unused with `dry_run`.
    pub enrolment_token: String,
    /// Extra CA certificates (PEM) for an HTTPS collector.
    pub ca_file: Option<PathBuf>,
    /// Report interval per host.
    pub interval: Duration,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Each host sends one report (with its inventory) and is done.
    pub once: bool,
    /// Build and compress reports but send nothing (no enrolment either).
    pub dry_run: bool,
    /// Stop after this long (`None`: until the shutdown future completes, or with
    /// `once` until every host is done).
    pub duration: Option<Duration>,
    /// A full inventory is sent at least this often.
    pub full_inventory_interval: Duration,
    /// First retry delay.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Time between progress lines in the log (`None`: none).
    pub progress_every: Option<Duration>,
    /// A file to which every acknowledged report is appended as one line, `host_id
    /// report_id stored|duplicate`, written with one `write` call as soon as the
    /// acknowledgement arrives (no buffering: a crash of the collector, or of the
    /// simulator, never loses a line for an acknowledgement already received). For
    /// the fault tests, which check that every acknowledged report is stored.
    pub acked_log: Option<PathBuf>,
}

impl Options {
    /// Options with the defaults for everything but the fleet, size and collector.
    pub fn new(fleet: Fleet, hosts: u32, collector: String, enrolment_token: String) -> Options {
        Options {
            fleet,
            hosts,
            collector,
            enrolment_token,
            ca_file: None,
            interval: DEFAULT_INTERVAL,
            concurrency: DEFAULT_CONCURRENCY,
            once: false,
            dry_run: false,
            duration: None,
            full_inventory_interval: DEFAULT_FULL_INVENTORY_INTERVAL,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            progress_every: Some(DEFAULT_PROGRESS_EVERY),
            acked_log: None,
        }
    }
}

/// State shared by the turns (never locked across an `.await`).
#[derive(Debug)]
struct Shared {
    options: Options,
    client: Option<reqwest::Client>,
    stats: Mutex<Stats>,
    /// Error keys already logged once at `warn`.
    warned: Mutex<HashSet<String>>,
    /// The acknowledgement log, when one is kept.
    acked_log: Option<Mutex<std::fs::File>>,
}

impl Shared {
    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an error and logs the first of each kind at `warn` (the rest at `debug`),
    /// so a collector outage does not flood the log with one line per host.
    fn error(&self, enrol: bool, key: &str, message: &str) {
        {
            let mut stats = self.stats();
            let map = if enrol {
                &mut stats.enrol_errors
            } else {
                &mut stats.report_errors
            };
            *map.entry(key.to_owned()).or_insert(0) += 1;
        }
        let what = if enrol { "enrolment" } else { "report" };
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(format!("{what} {key}"));
        if first {
            tracing::warn!(kind = %key, error = %message, "simulated {what} failed (first of its kind; the summary counts them all)");
        } else {
            tracing::debug!(kind = %key, error = %message, "simulated {what} failed");
        }
    }

    /// Appends an acknowledged report to the acknowledgement log, when one is kept: one
    /// line, one unbuffered `write` (the file is opened for appending, so lines never
    /// interleave).
    fn record_ack(&self, host_id: &str, report_id: uuid::Uuid, duplicate: bool) {
        use std::io::Write as _;
        let Some(file) = &self.acked_log else {
            return;
        };
        let line = format!(
            "{host_id} {report_id} {}\n",
            if duplicate { "duplicate" } else { "stored" }
        );
        let written = file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(line.as_bytes());
        if let Err(err) = written {
            self.error(false, "acked_log", &err.to_string());
        }
    }
}

/// Runs the simulator on a current-thread runtime until SIGINT/SIGTERM, the duration
/// ends, or (with `once`) every host is done.
/// Without [`Options::acked_log`], the file named by [`ACKED_LOG_ENV`] (when set and not
/// empty) is the acknowledgement log.
pub fn run_until_signal(mut options: Options) -> Result<Summary, SimulateError> {
    if options.acked_log.is_none() {
        options.acked_log = std::env::var_os(ACKED_LOG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
    }
    // One thread for the HTTP exchanges, and at most two building reports.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(BUILD_THREADS)
        .build()
        .map_err(SimulateError::Runtime)?;
    runtime.block_on(run(options, shutdown_signal()))
}

#[cfg(unix)]
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops the simulator");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the simulator until `shutdown` completes, the duration ends, or (with `once`)
/// every host is done; in-flight requests then get [`DRAIN_DEADLINE`] to finish.
pub async fn run(
    options: Options,
    shutdown: impl Future<Output = ()>,
) -> Result<Summary, SimulateError> {
    if options.hosts == 0 {
        return Err(SimulateError::Invalid(
            "--hosts must be at least 1".to_owned(),
        ));
    }
    if options.concurrency == 0 {
        return Err(SimulateError::Invalid(
            "--concurrency must be at least 1".to_owned(),
        ));
    }
    if options.interval.is_zero() {
        return Err(SimulateError::Invalid(
            "--interval-secs must be at least 1".to_owned(),
        ));
    }
    let http =
        options.collector.starts_with("http://") || options.collector.starts_with("https://");
    if !(options.dry_run || http) {
        return Err(SimulateError::Invalid(format!(
            "--collector must be an http:// or https:// URL, got `{}`",
            options.collector
        )));
    }
    let client = if options.dry_run {
        None
    } else {
        Some(http::client(&options)?)
    };
    let acked_log = match &options.acked_log {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| SimulateError::AckedLog {
                    path: path.clone(),
                    source,
                })?,
        )),
        None => None,
    };
    let hosts = options.hosts;
    let started = Instant::now();
    let shared = Arc::new(Shared {
        options: Options {
            collector: options.collector.trim_end_matches('/').to_owned(),
            ..options
        },
        client,
        stats: Mutex::new(Stats::default()),
        warned: Mutex::new(HashSet::new()),
        acked_log,
    });
    let options = &shared.options;
    tracing::info!(
        hosts,
        seed = options.fleet.seed,
        interval_secs = options.interval.as_secs_f64(),
        concurrency = options.concurrency,
        once = options.once,
        dry_run = options.dry_run,
        collector = %options.collector,
        "simulator started"
    );

    // Due times in milliseconds since the start, and the host index.
    let mut due: BinaryHeap<Reverse<(u64, u32)>> = (0..hosts)
        .map(|index| {
            let offset = if options.once {
                0
            } else {
                (options.fleet.first_offset(u64::from(index)) * options.interval.as_millis() as f64)
                    as u64
            };
            Reverse((offset, index))
        })
        .collect();
    let mut states: Vec<HostState> = vec![HostState::default(); hosts as usize];
    let mut pending: HashMap<u32, ReportSpec> = HashMap::new();
    let mut tasks: JoinSet<Turn> = JoinSet::new();
    let deadline = options.duration.map(|d| started + d);
    let mut progress = options.progress_every.map(|every| {
        let mut tick = tokio::time::interval_at(started + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick
    });
    tokio::pin!(shutdown);

    loop {
        let now_ms = started.elapsed().as_millis() as u64;
        while tasks.len() < options.concurrency {
            match due.peek() {
                Some(Reverse((at, _))) if *at <= now_ms => {}
                _ => break,
            }
            let Some(Reverse((_, index))) = due.pop() else {
                break;
            };
            let state = std::mem::take(&mut states[index as usize]);
            let spec = pending.remove(&index);
            tasks.spawn(turn(Arc::clone(&shared), index, state, spec));
        }
        if due.is_empty() && tasks.is_empty() {
            break;
        }
        let next_due = due
            .peek()
            .filter(|_| tasks.len() < options.concurrency)
            .map(|Reverse((at, _))| started + Duration::from_millis(*at));
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => {
                match joined {
                    Some(Ok(turn)) => {
                        let Turn { index, state, pending: spec, next } = turn;
                        states[index as usize] = state;
                        if let Some(spec) = spec {
                            pending.insert(index, spec);
                        }
                        if let Next::After(delay) = next {
                            let at = started.elapsed() + delay;
                            due.push(Reverse((at.as_millis() as u64, index)));
                        }
                    }
                    Some(Err(err)) => {
                        shared.error(false, "task", &err.to_string());
                    }
                    None => {}
                }
            }
            () = async {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = async {
                match progress.as_mut() {
                    Some(tick) => tick.tick().await,
                    None => std::future::pending().await,
                }
            } => {
                let summary = shared.stats().summary(u64::from(hosts), started.elapsed());
                tracing::info!(
                    built = summary.built,
                    acknowledged = summary.acknowledged,
                    per_second = format!("{:.1}", summary.acknowledged_per_second),
                    retried = summary.retried,
                    rejected = summary.rejected,
                    errors = summary.report_errors.values().sum::<u64>() + summary.enrol_errors.values().sum::<u64>(),
                    p50_ms = format!("{:.1}", summary.latency_p50_ms.unwrap_or_default()),
                    p99_ms = format!("{:.1}", summary.latency_p99_ms.unwrap_or_default()),
                    "simulator progress"
                );
            }
            () = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                tracing::info!("duration reached: stopping");
                break;
            }
            () = &mut shutdown => break,
        }
    }

    // Let what is in flight finish, within the drain deadline.
    let drain_until = Instant::now() + DRAIN_DEADLINE;
    while !tasks.is_empty() {
        match tokio::time::timeout_at(drain_until, tasks.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    in_flight = tasks.len(),
                    "requests still in flight at the drain deadline: abandoned"
                );
                tasks.abort_all();
                break;
            }
        }
    }
    let summary = shared.stats().summary(u64::from(hosts), started.elapsed());
    tracing::info!(
        acknowledged = summary.acknowledged,
        built = summary.built,
        "simulator stopped"
    );
    Ok(summary)
}
