//! Re-assessing hosts after they report, and the whole estate after a config reload:
//! a queue of host ids drained by a worker task running a few assessments per core at
//! once ([`IN_FLIGHT_PER_CORE`]);
//! each reads what the store keeps, assesses on a blocking thread
//! ([`crate::assess::Assessor::assess`]) and stores the result. Ingest never waits for
//! it: a report is acknowledged once durable, and its host is re-scored moments later.
//!
//! The queue holds each host at most once, so it is bounded by the number of hosts in
//! the store (about 50 bytes a host) and never drops one: when 100,000 agents enrol at
//! once, every host is assessed, in arrival order, as fast as the worker goes.
//!
//! A host is re-assessed at most once per [`MIN_INTERVAL`] for its reports (a burst of
//! reports, e.g. an agent flushing its spool after an outage, or every agent catching up
//! after a collector outage, costs one assessment per host, not one per report); a
//! report within the interval marks the host for one more assessment when it ends. A
//! config reload re-assesses every host at once.
//!
//! The assessor sits behind a lock so a reload swaps it atomically; assessments in flight
//! finish with the config they started with.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use chrono::{Duration, Utc};
use estate_protocol::{Inventory, Report};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::assess::{AssessInput, Assessor};
use crate::store::{Store, StoreError};

/// Assessments in flight per core. More than one: an assessment spends much of its time
/// waiting for the store (its reads, then the commit of its result, which the writer
/// groups with the others in flight), not on a core.
pub const IN_FLIGHT_PER_CORE: usize = 4;
/// The shortest time between two report-triggered assessments of one host.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
/// How often hosts deferred by [`MIN_INTERVAL`] are looked at.
const DEFERRED_SWEEP: std::time::Duration = std::time::Duration::from_secs(5);
/// After this many assessments, the worker hands the heap's free pages back to the kernel
/// once it falls idle: a re-score of a large estate leaves most of the memory it went
/// through free but resident in glibc's arenas (one per thread that allocated at once).
pub const TRIM_AFTER: u64 = 1_000;
/// How far back the series used for facts reaches.
pub const SERIES_DAYS: i64 = crate::assess::DEFAULT_SERIES_DAYS;

/// The assessor in use, swappable on reload.
#[derive(Debug, Clone)]
pub struct SharedAssessor(Arc<RwLock<Arc<Assessor>>>);

impl SharedAssessor {
    /// Shares `assessor`.
    pub fn new(assessor: Assessor) -> SharedAssessor {
        SharedAssessor(Arc::new(RwLock::new(Arc::new(assessor))))
    }

    /// The assessor now.
    pub fn current(&self) -> Arc<Assessor> {
        match self.0.read() {
            Ok(a) => Arc::clone(&a),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the assessor (a config reload).
    pub fn replace(&self, assessor: Assessor) {
        match self.0.write() {
            Ok(mut a) => *a = Arc::new(assessor),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(assessor),
        }
    }
}

/// Counters of the queue, for metrics.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Hosts assessed and stored.
    pub assessed: AtomicU64,
    /// Assessments that failed (store errors, unreadable stored JSON).
    pub failed: AtomicU64,
}

/// The sending side: queue a host for re-assessment.
#[derive(Debug, Clone)]
pub struct AssessQueue {
    tx: mpsc::UnboundedSender<(String, bool)>,
    pending: Arc<Mutex<HashSet<String>>>,
    /// Counters.
    pub stats: Arc<QueueStats>,
}

impl AssessQueue {
    /// Queues `host_id` unless it is already waiting; never blocks, never drops.
    pub fn enqueue(&self, host_id: &str) {
        self.push(host_id.to_owned(), false);
    }

    /// Queues every host in the store (after a config reload); returns how many were
    /// not already waiting.
    pub async fn enqueue_all(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let hosts = store.hosts().await?;
        Ok(hosts
            .into_iter()
            .filter(|host| self.push(host.host_id.clone(), true))
            .count())
    }

    /// Hosts waiting to be assessed (each at most once).
    pub fn waiting(&self) -> usize {
        self.lock_pending().len()
    }

    /// Queues a host not already waiting; false when it was (or the worker is gone).
    fn push(&self, host_id: String, force: bool) -> bool {
        let mut pending = self.lock_pending();
        if pending.contains(&host_id) {
            return false;
        }
        if self.tx.send((host_id.clone(), force)).is_err() {
            return false;
        }
        pending.insert(host_id);
        true
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        match self.pending.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn done(&self, host_id: &str) {
        self.lock_pending().remove(host_id);
    }
}

/// Starts the worker; returns the queue feeding it. The worker ends when every sender
/// is dropped.
pub fn start(store: Arc<dyn Store>, assessor: SharedAssessor) -> AssessQueue {
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, bool)>();
    let queue = AssessQueue {
        tx,
        pending: Arc::new(Mutex::new(HashSet::new())),
        stats: Arc::new(QueueStats::default()),
    };
    let worker_queue = queue.clone();
    let parallel =
        IN_FLIGHT_PER_CORE * std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    tokio::spawn(async move {
        let mut last: HashMap<String, Instant> = HashMap::new();
        let mut deferred: HashSet<String> = HashSet::new();
        let mut sweep = tokio::time::interval(DEFERRED_SWEEP);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Assessments in flight: IN_FLIGHT_PER_CORE per core (each reads the store, then
        // evaluates on a blocking thread; a host's newest assessment wins in the store).
        let mut running: JoinSet<(String, Result<u64, AssessHostError>)> = JoinSet::new();
        let finished = |done: Result<(String, Result<u64, AssessHostError>), JoinError>| match done
        {
            Ok((host_id, Ok(transitions))) => {
                worker_queue.stats.assessed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(host = %host_id, transitions, "host assessed");
            }
            Ok((host_id, Err(e))) => {
                worker_queue.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(host = %host_id, error = %e, "host assessment failed");
            }
            Err(e) => {
                worker_queue.stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "host assessment task failed");
            }
        };
        let mut since_trim: u64 = 0;
        loop {
            let due: Vec<String> = tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    finished(done);
                    since_trim += 1;
                    if since_trim >= TRIM_AFTER && running.is_empty() && rx.is_empty() {
                        since_trim = 0;
                        tokio::task::spawn_blocking(
                            estate_agent::collect::platform::release_free_memory,
                        );
                    }
                    continue;
                }
                next = rx.recv() => {
                    let Some((host_id, force)) = next else { break };
                    worker_queue.done(&host_id);
                    let recent = last
                        .get(&host_id)
                        .is_some_and(|at| at.elapsed() < MIN_INTERVAL);
                    if recent && !force {
                        deferred.insert(host_id);
                        continue;
                    }
                    deferred.remove(&host_id);
                    vec![host_id]
                }
                _ = sweep.tick() => {
                    let due: Vec<String> = deferred
                        .iter()
                        .filter(|h| last.get(*h).is_none_or(|at| at.elapsed() >= MIN_INTERVAL))
                        .cloned()
                        .collect();
                    for h in &due {
                        deferred.remove(h);
                    }
                    due
                }
            };
            for host_id in due {
                while running.len() >= parallel {
                    match running.join_next().await {
                        Some(done) => {
                            finished(done);
                            since_trim += 1;
                        }
                        None => break,
                    }
                }
                last.insert(host_id.clone(), Instant::now());
                let store = Arc::clone(&store);
                let assessor = assessor.current();
                running.spawn(async move {
                    let result = assess_host(store.as_ref(), &assessor, &host_id).await;
                    (host_id, result)
                });
            }
        }
        while let Some(done) = running.join_next().await {
            finished(done);
        }
    });
    queue
}

/// Why a host could not be assessed.
#[derive(Debug, thiserror::Error)]
pub enum AssessHostError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored JSON could not be read back.
    #[error("stored {what} is not readable: {message}")]
    Stored {
        /// Which document.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The blocking task failed.
    #[error("assessment task failed: {0}")]
    Task(String),
}

/// Reads what the store keeps about `host_id`, assesses it and stores the result;
/// returns the number of check transitions recorded (0 for an unknown host).
pub async fn assess_host(
    store: &dyn Store,
    assessor: &Arc<Assessor>,
    host_id: &str,
) -> Result<u64, AssessHostError> {
    let Some(mut host) = store.host(host_id.to_owned()).await? else {
        return Ok(0);
    };
    let now = Utc::now();
    let report_json = store.latest_report(host_id.to_owned()).await?;
    let series = store
        .series(host_id.to_owned(), now - Duration::days(SERIES_DAYS), now)
        .await?;
    let inventory_value = host.inventory.take();
    let assessor = Arc::clone(assessor);
    let record = tokio::task::spawn_blocking(move || {
        let inventory: Option<Inventory> = inventory_value
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| AssessHostError::Stored {
                what: "inventory",
                message: e.to_string(),
            })?;
        let report: Option<Report> = report_json
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| AssessHostError::Stored {
                what: "report",
                message: e.to_string(),
            })?;
        let input = AssessInput {
            host: &host,
            inventory: inventory.as_ref(),
            report: report.as_ref(),
            series: &series,
        };
        let assessment = assessor.assess(&input, None, now);
        assessment
            .to_record(&host.host_id)
            .map_err(|e| AssessHostError::Stored {
                what: "assessment",
                message: e.to_string(),
            })
    })
    .await
    .map_err(|e| AssessHostError::Task(e.to_string()))??;
    Ok(store.save_assessment(record).await?)
}
