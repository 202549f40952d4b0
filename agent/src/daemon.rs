//! The agent daemon (`estate-agent run`): samples utilisation and power, builds a report
//! every `report_interval`, spools it, and drains the spool to the collector; on
//! SIGTERM/SIGINT builds a final report and tries one flush before exiting. With its
//! self-limits enforced ([`DaemonOptions::enforce_self_limits`], `[limits]`), it stretches
//! the report interval while over its CPU budget, and past its memory limit flushes and
//! stops with [`DaemonError::MemoryLimit`] so the service manager restarts it.
//!
//! This module owns the schedule, the decision to include the full inventory (and the
//! persisted record of the last one sent), and the sender loop. It must not parse host
//! files (collectors do), format HTTP (the transport does) or lay out spool files (the
//! spool does).

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use estate_protocol::Report;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::collect::{Context, platform};
use crate::config::AgentConfig;
use crate::host_id;
use crate::limits::{self, CpuBudget, MemoryExceeded};
use crate::power::PowerMeter;
use crate::report::{self, Identity, Measured};
use crate::root::SysRoot;
use crate::sampler::Sampler;
use crate::spool::{self, Spool, SpoolError};
use crate::transport::{Backoff, SendOutcome, Transport, TransportError};

/// Default time the final flush may take after SIGTERM.
pub const DEFAULT_FLUSH_DEADLINE: Duration = Duration::from_secs(10);
/// File in the state directory recording the last inventory the collector acknowledged.
pub const INVENTORY_SENT_FILE: &str = "inventory-sent.json";

/// Why the daemon could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The host has no usable identity.
    #[error(transparent)]
    HostId(#[from] host_id::HostIdError),
    /// The spool could not be opened or written.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The transport could not be set up.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The async runtime could not be built.
    #[error("could not start the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Building a report failed unexpectedly (a collector thread panicked).
    #[error("building a report: {0}")]
    Build(String),
    /// The agent's resident memory went over `limits.max_rss_bytes`: it flushed what it
    /// could and stopped, for the service manager to restart it.
    #[error("stopped: {0}")]
    MemoryLimit(#[from] MemoryExceeded),
}

/// Settings of the daemon that are not in the config file (tests shorten them).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The system to read (`/` in production, a recorded sysroot in tests).
    pub root: SysRoot,
    /// First retry delay after a failed send.
    pub backoff_initial: Duration,
    /// Longest retry delay.
    pub backoff_max: Duration,
    /// Time the final flush may take on shutdown.
    pub flush_deadline: Duration,
    /// Whether `[limits]` (CPU budget, memory limit) is enforced. They measure the whole
    /// process, so only a process that is the agent sets this (`estate-agent run`
    /// does); a program that runs the daemon inside itself (the collector's quickstart)
    /// leaves it off. Off by default here.
    pub enforce_self_limits: bool,
    /// The inventory collectors (`None`: the platform's, `collect::platform::collectors`).
    pub collectors: Option<Vec<Arc<dyn crate::collect::Collector>>>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            root: SysRoot::default(),
            backoff_initial: crate::transport::DEFAULT_BACKOFF_INITIAL,
            backoff_max: crate::transport::DEFAULT_BACKOFF_MAX,
            flush_deadline: DEFAULT_FLUSH_DEADLINE,
            enforce_self_limits: false,
            collectors: None,
        }
    }
}

/// The daemon's view of its own CPU and memory (`[limits]`), when enforced.
struct SelfLimits {
    budget: CpuBudget,
    max_rss_bytes: u64,
    origin: Instant,
}

impl SelfLimits {
    fn new(config: &AgentConfig, enforce: bool) -> Option<SelfLimits> {
        if !(enforce && config.limits.enabled) {
            return None;
        }
        // One reading up front: a platform that cannot measure turns the limits off,
        // saying so once.
        match platform::own_usage() {
            Ok(usage) => {
                let mut limits = SelfLimits {
                    budget: CpuBudget::new(&config.limits),
                    max_rss_bytes: config.limits.max_rss_bytes,
                    origin: Instant::now(),
                };
                limits.budget.observe(Duration::ZERO, usage.cpu_seconds);
                tracing::info!(
                    max_cpu_percent = config.limits.max_cpu_ratio * 100.0,
                    cpu_window_secs = config.limits.cpu_window.as_secs(),
                    max_rss_bytes = config.limits.max_rss_bytes,
                    rss_bytes = usage.rss_bytes,
                    "self-limits on"
                );
                Some(limits)
            }
            Err(err) => {
                tracing::warn!(error = %err, "self-limits off: cannot read the agent's own CPU and memory use");
                None
            }
        }
    }

    /// Takes a reading: a change of the interval's stretch, or the memory limit passed.
    fn check(&mut self) -> Result<Option<limits::Stretch>, MemoryExceeded> {
        let usage = match platform::own_usage() {
            Ok(usage) => usage,
            Err(err) => {
                tracing::debug!(error = %err, "cannot read the agent's own usage");
                return Ok(None);
            }
        };
        limits::check_memory(usage.rss_bytes, self.max_rss_bytes)?;
        self.budget
            .observe(self.origin.elapsed(), usage.cpu_seconds);
        Ok(self.budget.update())
    }
}

/// What a daemon run did, counted from its start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Reports built and spooled.
    pub built: u64,
    /// Reports built with the full inventory.
    pub with_inventory: u64,
    /// Reports the collector acknowledged.
    pub delivered: u64,
    /// Reports the collector rejected for good (moved to `rejected/`).
    pub rejected: u64,
    /// Reports dropped because the spool was full.
    pub dropped: u64,
    /// Reports still in the spool at exit.
    pub left_in_spool: usize,
}

/// The last inventory the collector acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventorySent {
    /// Its stable hash.
    pub hash: String,
    /// When the report carrying it was built.
    pub collected_at: DateTime<Utc>,
}

impl InventorySent {
    /// Reads the record from `state_dir`; none when absent or unreadable.
    pub fn load(state_dir: &Path) -> Option<InventorySent> {
        let text = std::fs::read(state_dir.join(INVENTORY_SENT_FILE)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Writes the record atomically.
    pub fn save(&self, state_dir: &Path) -> std::io::Result<()> {
        let path = state_dir.join(INVENTORY_SENT_FILE);
        let temp = state_dir.join(format!(".{INVENTORY_SENT_FILE}.tmp"));
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&temp, bytes)?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::rename(&temp, path)
    }
}

/// State shared by the report builder and the sender. Never held across an `.await`.
#[derive(Debug)]
struct Shared {
    spool: Spool,
    state_dir: PathBuf,
    sent: Option<InventorySent>,
    /// Spooled reports that carry a full inventory: report id → (hash, collected at).
    pending_inventory: HashMap<Uuid, (String, DateTime<Utc>)>,
    summary: RunSummary,
}

type SharedRef = Arc<Mutex<Shared>>;

fn lock(shared: &SharedRef) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock leaves plain data behind: keep going with it.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Whether a report with this inventory hash must carry the full inventory: it differs
/// from the last one acknowledged (and from any waiting in the spool), or the last full
/// one is older than `full_interval`.
pub fn needs_full_inventory<'a>(
    sent: Option<&InventorySent>,
    pending_hashes: impl IntoIterator<Item = &'a str>,
    hash: &str,
    now: DateTime<Utc>,
    full_interval: Duration,
) -> bool {
    let due = |at: DateTime<Utc>| {
        now.signed_duration_since(at)
            .to_std()
            .is_ok_and(|age| age >= full_interval)
    };
    match sent {
        Some(sent) if sent.hash == hash => due(sent.collected_at),
        _ => !pending_hashes.into_iter().any(|pending| pending == hash),
    }
}

/// Runs the daemon until SIGTERM or SIGINT, on a current-thread runtime.
pub fn run_until_signal(
    config: AgentConfig,
    options: DaemonOptions,
) -> Result<RunSummary, DaemonError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .thread_keep_alive(blocking_keep_alive(config.report_interval))
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(async move { run(config, options, shutdown_signal()).await })
}

/// How long the runtime keeps an idle blocking thread: past the next report, so each
/// report reuses the thread that built the last one instead of starting one (tokio's
/// default of 10 s is shorter than a report interval: a thread started and ended every
/// report, its stack faulted in afresh each time). An idle thread costs only the stack
/// pages it touched.
fn blocking_keep_alive(report_interval: Duration) -> Duration {
    report_interval
        .saturating_mul(2)
        .max(Duration::from_secs(10))
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
            tracing::warn!(error = %err, "cannot listen for SIGTERM; only SIGINT stops the agent");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Runs the daemon until `shutdown` completes, then builds and spools a final report,
/// tries one flush within `options.flush_deadline`, and returns what it did.
pub async fn run(
    config: AgentConfig,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<RunSummary, DaemonError> {
    run_with_first_report(config, options, None, shutdown).await
}

/// [`run`], with the first report built `first_report_after` the start instead of one
/// `report_interval` after it (`None`: as [`run`]). The quickstart uses it so the host
/// shows up at once; later reports follow every `report_interval`.
pub async fn run_with_first_report(
    config: AgentConfig,
    options: DaemonOptions,
    first_report_after: Option<Duration>,
    shutdown: impl Future<Output = ()>,
) -> Result<RunSummary, DaemonError> {
    let root = options.root.clone();
    std::fs::create_dir_all(&config.state_dir).map_err(|source| {
        DaemonError::Spool(SpoolError::Io {
            path: config.state_dir.clone(),
            source,
        })
    })?;
    let (host_id, host_id_source) = host_id::host_id(&root, &config.state_dir)?;
    let hostname = platform::hostname(&root).unwrap_or_default();
    let identity = Identity {
        host_id: host_id.clone(),
        host_id_source,
    };
    let spool_dir = config
        .spool
        .dir
        .clone()
        .unwrap_or_else(|| config.state_dir.join("spool"));
    let spool = Spool::open(&spool_dir, config.spool.max_bytes)?;
    if !spool.is_empty() {
        tracing::info!(
            reports = spool.len(),
            bytes = spool.total_bytes(),
            "spool holds reports from a previous run"
        );
    }
    let transport = Transport::new(&config, &host_id, &hostname)?;
    let shared: SharedRef = Arc::new(Mutex::new(Shared {
        spool,
        state_dir: config.state_dir.clone(),
        sent: InventorySent::load(&config.state_dir),
        pending_inventory: HashMap::new(),
        summary: RunSummary::default(),
    }));
    let mut self_limits = SelfLimits::new(&config, options.enforce_self_limits);
    let config = Arc::new(config);
    let ctx = Context::new(root.clone(), Arc::clone(&config));
    let collectors = options
        .collectors
        .clone()
        .unwrap_or_else(platform::collectors);
    tracing::info!(
        host_id = %host_id,
        collector = config.collector.url.as_deref().unwrap_or_default(),
        report_interval_secs = config.report_interval.as_secs(),
        spool = %spool_dir.display(),
        "agent started"
    );

    let wake = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let sender = tokio::spawn(sender_loop(
        transport,
        Arc::clone(&shared),
        Arc::clone(&wake),
        stop_rx,
        Backoff::new(options.backoff_initial, options.backoff_max),
    ));
    // Reports from a previous run go first.
    wake.notify_one();

    let enabled = |name| config.collectors.is_enabled(name);
    let mut sampler = Sampler::with_max_window(
        root.clone(),
        config.sample_interval,
        config.report_interval * 2,
    );
    let mut meter = enabled("power").then(|| PowerMeter::start(&root));
    let sampling = enabled("utilisation");
    if sampling {
        sampler.sample();
    }
    let mut window_start = Utc::now();
    let mut window_started = Instant::now();

    // One wake-up per sample (a timerfd on Linux; see `crate::ticker`).
    let mut sample_tick = crate::ticker::Ticker::new(config.sample_interval);
    // The next report is due one (possibly stretched) interval after the last one.
    let mut last_report = tokio::time::Instant::now();
    let mut multiplier: u32 = 1;
    let report_sleep = tokio::time::sleep_until(
        last_report + first_report_after.unwrap_or(config.report_interval),
    );
    tokio::pin!(report_sleep);
    let mut stopped_by: Option<MemoryExceeded> = None;

    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = sample_tick.tick() => {
                if sampling {
                    sampler.sample();
                }
                if let Some(meter) = meter.as_mut() {
                    meter.poll();
                }
                match self_limits.as_mut().map(SelfLimits::check) {
                    Some(Err(exceeded)) => {
                        stopped_by = Some(exceeded);
                        break;
                    }
                    Some(Ok(Some(stretch))) => {
                        multiplier = stretch.to;
                        let interval = config.report_interval * multiplier;
                        log_stretch(&stretch, self_limits.as_ref().map_or(0.0, |l| l.budget.budget()), interval);
                        report_sleep.as_mut().reset(last_report + interval);
                    }
                    Some(Ok(None)) | None => {}
                }
            }
            () = &mut report_sleep => {
                last_report = tokio::time::Instant::now();
                report_sleep.as_mut().reset(last_report + config.report_interval * multiplier);
                let measured = report::measure(&mut sampler, meter.as_mut(), sampling, window_start, window_started);
                window_start = measured.window.end;
                window_started = Instant::now();
                // A report that cannot be built or spooled (disk full, say) is lost; the
                // daemon keeps sampling and sending what it has.
                if let Err(err) = build_and_spool(&ctx, &collectors, &identity, measured, &shared).await {
                    tracing::error!(error = %err, "report lost: could not build or spool it");
                }
                wake.notify_one();
                if let Some(Err(exceeded)) = self_limits.as_mut().map(SelfLimits::check) {
                    stopped_by = Some(exceeded);
                    break;
                }
            }
        }
    }

    if let Some(exceeded) = &stopped_by {
        // No final report: building one takes memory the agent is already over on.
        tracing::error!(
            rss_bytes = exceeded.rss_bytes,
            max_rss_bytes = exceeded.max_rss_bytes,
            "over the memory limit: flushing the spool and exiting for the service manager to restart the agent"
        );
    } else {
        // Shutdown: a final report covering the last partial window, then one flush.
        if sampling {
            sampler.sample();
        }
        let measured = report::measure(
            &mut sampler,
            meter.as_mut(),
            sampling,
            window_start,
            window_started,
        );
        let built = tokio::time::timeout(
            options.flush_deadline,
            build_and_spool(&ctx, &collectors, &identity, measured, &shared),
        )
        .await;
        match built {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::error!(error = %err, "final report lost: could not build or spool it")
            }
            Err(_) => tracing::warn!("final report not built within the flush deadline"),
        }
    }
    let _ = stop_tx.send(true);
    wake.notify_one();
    match tokio::time::timeout(options.flush_deadline, sender).await {
        Ok(_) => {}
        Err(_) => tracing::warn!(
            deadline_secs = options.flush_deadline.as_secs_f64(),
            "final flush did not finish within its deadline; reports stay in the spool"
        ),
    }
    let mut state = lock(&shared);
    state.summary.left_in_spool = state.spool.len();
    state.summary.dropped = state.spool.dropped_total();
    let summary = state.summary.clone();
    tracing::info!(
        built = summary.built,
        delivered = summary.delivered,
        rejected = summary.rejected,
        dropped = summary.dropped,
        left_in_spool = summary.left_in_spool,
        "agent stopped"
    );
    match stopped_by {
        Some(exceeded) => Err(DaemonError::MemoryLimit(exceeded)),
        None => Ok(summary),
    }
}

fn log_stretch(stretch: &limits::Stretch, budget: f64, interval: Duration) {
    if stretch.to > stretch.from {
        tracing::warn!(
            cpu_percent = stretch.usage * 100.0,
            max_cpu_percent = budget * 100.0,
            multiplier = stretch.to,
            report_interval_secs = interval.as_secs(),
            "over the CPU budget: stretching the report interval"
        );
    } else {
        tracing::info!(
            cpu_percent = stretch.usage * 100.0,
            max_cpu_percent = budget * 100.0,
            multiplier = stretch.to,
            report_interval_secs = interval.as_secs(),
            "under the CPU budget: shortening the report interval again"
        );
    }
}

/// Runs the collectors and probes on a blocking thread, drops the inventory when the
/// collector already has it, and spools the report.
async fn build_and_spool(
    ctx: &Context,
    collectors: &[Arc<dyn crate::collect::Collector>],
    identity: &Identity,
    measured: Measured,
    shared: &SharedRef,
) -> Result<(), DaemonError> {
    let ctx = ctx.clone();
    let collectors = collectors.to_vec();
    let identity = identity.clone();
    let shared = Arc::clone(shared);
    let full_interval = ctx.config.full_inventory_interval;
    let task = tokio::task::spawn_blocking(move || {
        let mut report = report::assemble_with(&ctx, collectors, identity, measured);
        let spooled = spool_report(&mut report, &shared, full_interval);
        // The report's transient memory (inventory, hash, gzip state) is free now: hand
        // the heap's free pages back so the daemon sleeps small until the next report.
        drop(report);
        platform::release_free_memory();
        spooled
    });
    match task.await {
        Ok(result) => result,
        Err(err) => Err(DaemonError::Build(err.to_string())),
    }
}

fn spool_report(
    report: &mut Report,
    shared: &SharedRef,
    full_interval: Duration,
) -> Result<(), DaemonError> {
    let mut state = lock(shared);
    let full = needs_full_inventory(
        state.sent.as_ref(),
        state.pending_inventory.values().map(|(h, _)| h.as_str()),
        &report.inventory_hash,
        report.collected_at,
        full_interval,
    );
    if !full {
        report.inventory = None;
    }
    let gzipped = spool::gzip_json(&*report).map_err(|e| DaemonError::Build(e.to_string()))?;
    match state.spool.push(report.report_id, &gzipped) {
        Ok(pushed) => {
            for dropped in pushed.dropped {
                state.pending_inventory.remove(&dropped);
            }
            if full {
                state.pending_inventory.insert(
                    report.report_id,
                    (report.inventory_hash.clone(), report.collected_at),
                );
                state.summary.with_inventory += 1;
            }
            state.summary.built += 1;
            tracing::info!(
                report_id = %report.report_id,
                bytes = gzipped.len(),
                inventory = full,
                spooled = state.spool.len(),
                "report spooled"
            );
            Ok(())
        }
        Err(err @ SpoolError::TooLarge { .. }) => {
            tracing::warn!(report_id = %report.report_id, error = %err, "report not spooled");
            Ok(())
        }
        Err(err) => Err(err.into()),
    }
}

enum Drained {
    Empty,
    Wait(Duration),
}

async fn sender_loop(
    mut transport: Transport,
    shared: SharedRef,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    mut backoff: Backoff,
) {
    if !transport.has_token()
        && let Err(err) = transport.enrol().await
    {
        tracing::warn!(error = %err, "enrolment failed; will retry");
    }
    loop {
        if *stop.borrow() {
            break;
        }
        match drain(&mut transport, &shared, &mut backoff).await {
            Drained::Empty => {
                tokio::select! {
                    () = wake.notified() => {}
                    _ = stop.changed() => break,
                }
            }
            Drained::Wait(delay) => {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
    // The final flush: one pass, stopping at the first failure.
    if let Drained::Wait(_) = drain(&mut transport, &shared, &mut backoff).await {
        tracing::warn!(
            left = lock(&shared).spool.len(),
            "collector unreachable at shutdown; reports stay in the spool"
        );
    }
}

/// Sends the spooled reports oldest first until the spool is empty or a send fails.
async fn drain(transport: &mut Transport, shared: &SharedRef, backoff: &mut Backoff) -> Drained {
    loop {
        let (entry, bytes) = {
            let mut state = lock(shared);
            let Some(entry) = state.spool.oldest().cloned() else {
                return Drained::Empty;
            };
            match state.spool.read(&entry) {
                Ok(Some(bytes)) => {
                    state.spool.set_in_flight(Some(entry.seq));
                    (entry, bytes)
                }
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(report_id = %entry.report_id, error = %err, "cannot read a spooled report");
                    return Drained::Wait(backoff.next_delay(None));
                }
            }
        };
        let outcome = transport.send(entry.report_id, &bytes).await;
        let mut state = lock(shared);
        state.spool.set_in_flight(None);
        match outcome {
            SendOutcome::Acknowledged { duplicate } => {
                backoff.reset();
                if let Err(err) = state.spool.remove(&entry) {
                    tracing::warn!(report_id = %entry.report_id, error = %err, "cannot remove an acknowledged report");
                }
                state.summary.delivered += 1;
                if let Some((hash, collected_at)) = state.pending_inventory.remove(&entry.report_id)
                {
                    let sent = InventorySent { hash, collected_at };
                    if let Err(err) = sent.save(&state.state_dir) {
                        tracing::warn!(error = %err, "cannot record the inventory sent");
                    }
                    state.sent = Some(sent);
                }
                tracing::info!(report_id = %entry.report_id, duplicate, "report delivered");
            }
            SendOutcome::Rejected { status, message } => {
                state.summary.rejected += 1;
                state.pending_inventory.remove(&entry.report_id);
                tracing::warn!(
                    report_id = %entry.report_id,
                    status,
                    error = %message,
                    rejected_total = state.summary.rejected,
                    "report rejected; moved to the spool's rejected/ directory"
                );
                if let Err(err) = state.spool.reject(&entry) {
                    tracing::warn!(report_id = %entry.report_id, error = %err, "cannot set a rejected report aside");
                }
            }
            SendOutcome::Retry { after, reason } => {
                let delay = backoff.next_delay(after);
                tracing::warn!(
                    report_id = %entry.report_id,
                    error = %reason,
                    failures = backoff.failures(),
                    retry_in_ms = delay.as_millis() as u64,
                    "sending failed; will retry"
                );
                return Drained::Wait(delay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sent(hash: &str, secs_ago: i64) -> InventorySent {
        InventorySent {
            hash: hash.to_owned(),
            collected_at: Utc::now() - chrono::Duration::seconds(secs_ago),
        }
    }

    #[test]
    fn inventory_is_sent_when_new_changed_or_due() {
        let day = Duration::from_secs(86_400);
        let now = Utc::now();
        let none: [&str; 0] = [];
        assert!(needs_full_inventory(None, none, "a", now, day));
        assert!(!needs_full_inventory(
            Some(&sent("a", 60)),
            none,
            "a",
            now,
            day
        ));
        assert!(needs_full_inventory(
            Some(&sent("a", 60)),
            none,
            "b",
            now,
            day
        ));
        assert!(needs_full_inventory(
            Some(&sent("a", 90_000)),
            none,
            "a",
            now,
            day
        ));
        // Already waiting in the spool: not again.
        assert!(!needs_full_inventory(
            Some(&sent("a", 60)),
            ["b"],
            "b",
            now,
            day
        ));
    }

    #[test]
    fn inventory_record_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(InventorySent::load(dir.path()), None);
        let record = sent("abc", 5);
        record.save(dir.path()).unwrap();
        assert_eq!(InventorySent::load(dir.path()), Some(record));
    }
}
