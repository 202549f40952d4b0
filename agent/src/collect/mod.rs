//! Inventory collectors: the `Collector` trait, the sections they fill and the runner
//! that runs them under their time budgets.
//!
//! Each collector owns one concern (one file under `platform/<os>/`). The runner gives
//! every collector its own thread and waits for it no longer than its budget: a
//! collector that fails, panics or runs over adds an entry to the report's
//! `collector_errors`, and the others still report. A collector that ran over is
//! abandoned (a thread cannot be cancelled: it finishes in the background and its
//! result is dropped) and is not started again, in any later report built with the
//! same [`Context`], until it has finished. Platform code lives only under `platform/`.

pub mod nvml;
pub mod platform;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use estate_protocol::{
    CollectorError, CollectorErrorKind, Cpu, Disk, Filesystem, Gpu, Hardware, Inventory,
    ListeningSocket, Memory, Network, Os, Security, Services, Software,
};

use crate::config::AgentConfig;
use crate::root::{ReadError, SysRoot};

/// What a collector needs from the outside world.
#[derive(Debug, Clone)]
pub struct Context {
    /// The root all files are read under.
    pub root: SysRoot,
    /// The agent's validated config.
    pub config: Arc<AgentConfig>,
    /// Collectors running now, on threads of this context or its clones (an abandoned
    /// one stays here until its thread returns).
    running: Arc<Mutex<BTreeSet<&'static str>>>,
}

impl Context {
    /// A context over `root` with the given config.
    pub fn new(root: SysRoot, config: Arc<AgentConfig>) -> Self {
        Context {
            root,
            config,
            running: Arc::default(),
        }
    }

    /// Names of the collectors running now (those abandoned after their budget
    /// included, until they return).
    pub fn running_collectors(&self) -> Vec<&'static str> {
        self.running_set().iter().copied().collect()
    }

    fn running_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<&'static str>> {
        // Plain data: a panic elsewhere while holding it leaves a usable set.
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Marks a collector as running in its context until dropped (the thread returns).
struct RunningGuard<'a> {
    ctx: &'a Context,
    name: &'static str,
}

impl<'a> RunningGuard<'a> {
    fn enter(ctx: &'a Context, name: &'static str) -> Self {
        ctx.running_set().insert(name);
        RunningGuard { ctx, name }
    }
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.ctx.running_set().remove(self.name);
    }
}

/// One section of the inventory, as delivered by one collector.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Section {
    /// Operating system.
    Os(Os),
    /// Hardware identity and virtualisation.
    Hardware(Hardware),
    /// Processors.
    Cpu(Cpu),
    /// Memory and swap.
    Memory(Memory),
    /// Block devices.
    Disks(Vec<Disk>),
    /// Filesystems.
    Filesystems(Vec<Filesystem>),
    /// Network configuration.
    Network(Network),
    /// Installed software.
    Software(Software),
    /// Services.
    Services(Services),
    /// Listening sockets.
    Listening(Vec<ListeningSocket>),
    /// Security posture.
    Security(Security),
    /// GPUs.
    Gpus(Vec<Gpu>),
}

impl Section {
    /// Puts the section into its place in the inventory.
    pub fn store(self, inventory: &mut Inventory) {
        match self {
            Section::Os(v) => inventory.os = Some(v),
            Section::Hardware(v) => inventory.hardware = Some(v),
            Section::Cpu(v) => inventory.cpu = Some(v),
            Section::Memory(v) => inventory.memory = Some(v),
            Section::Disks(v) => inventory.disks = Some(v),
            Section::Filesystems(v) => inventory.filesystems = Some(v),
            Section::Network(v) => inventory.network = Some(v),
            Section::Software(v) => inventory.software = Some(v),
            Section::Services(v) => inventory.services = Some(v),
            Section::Listening(v) => inventory.listening = Some(v),
            Section::Security(v) => inventory.security = Some(v),
            Section::Gpus(v) => inventory.gpus = Some(v),
        }
    }
}

/// What a collector delivered: its section, and the parts it could not get.
#[derive(Debug, Clone, PartialEq)]
pub struct Collected {
    /// The section, possibly incomplete.
    pub section: Section,
    /// Parts that are missing and why (each becomes a `partial` collector error).
    pub problems: Vec<String>,
}

impl Collected {
    /// A complete section.
    pub fn complete(section: Section) -> Self {
        Collected {
            section,
            problems: Vec::new(),
        }
    }

    /// A section with the parts that are missing.
    pub fn partial(section: Section, problems: Vec<String>) -> Self {
        Collected { section, problems }
    }
}

/// Why a collector delivered nothing.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// A file it needs could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A file or answer was not in the expected format.
    #[error("{path}: {message}")]
    Parse {
        /// The host path (or API) that was malformed.
        path: String,
        /// What was wrong with it.
        message: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
    /// The collector does not exist on this platform.
    #[error("not supported on this platform")]
    Unsupported,
}

impl CollectError {
    /// A parse error in `path`.
    pub fn parse(path: impl Into<String>, message: impl Into<String>) -> Self {
        CollectError::Parse {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// One inventory collector.
pub trait Collector: Send + Sync {
    /// Stable name, used in config (`[collectors]`) and in `collector_errors`.
    fn name(&self) -> &'static str;

    /// How long the runner waits for it, given the configured budget
    /// (`agent.collector_budget_ms`). Override only for a collector that needs more.
    fn budget(&self, configured: Duration) -> Duration {
        configured
    }

    /// Collects the section.
    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError>;
}

impl std::fmt::Debug for dyn Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Collector({})", self.name())
    }
}

/// Runs one collector on the current thread and turns its outcome into a section and
/// error entries. Panics are caught and reported, not propagated.
pub fn run_one(collector: &dyn Collector, ctx: &Context) -> (Option<Section>, Vec<CollectorError>) {
    let name = collector.name();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collector.collect(ctx)));
    match outcome {
        Ok(Ok(collected)) => {
            let errors = collected
                .problems
                .into_iter()
                .map(|message| error(name, CollectorErrorKind::Partial, message))
                .collect();
            (Some(collected.section), errors)
        }
        Ok(Err(CollectError::Unsupported)) => (
            None,
            vec![error(
                name,
                CollectorErrorKind::Unsupported,
                "not supported on this platform".to_owned(),
            )],
        ),
        Ok(Err(err)) => (
            None,
            vec![error(name, CollectorErrorKind::Failed, err.to_string())],
        ),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            (
                None,
                vec![error(
                    name,
                    CollectorErrorKind::Failed,
                    format!("collector panicked: {what}"),
                )],
            )
        }
    }
}

fn error(collector: &str, kind: CollectorErrorKind, message: String) -> CollectorError {
    CollectorError {
        collector: collector.to_owned(),
        kind,
        message,
    }
}

/// Worker threads that run the collectors (two: enough to overlap a collector waiting on
/// I/O with one computing, few enough that glibc does not grow an allocation arena per
/// collector thread, which inflated the daemon's resident memory by several MB).
pub const WORKERS: usize = 2;

/// What a worker tells the runner.
enum Event {
    /// The worker took a collector (index into the list) and started it.
    Started(usize, Instant),
    /// The collector finished.
    Finished(usize, Box<(Option<Section>, Vec<CollectorError>)>),
}

/// Where each collector stands, as the runner sees it.
#[derive(Clone, Copy)]
enum State {
    Queued,
    Running(Instant),
    Done,
}

/// Runs every enabled collector on a small pool of [`WORKERS`] threads, waiting for each
/// no longer than its budget, measured from when it starts. A collector that runs over
/// is reported as `timeout` and its worker is given up on (left to finish on its own,
/// its result dropped); a new worker takes its place so the queue keeps moving. A
/// collector still running from an earlier call with the same context is not started
/// again: it is reported as `timeout` too, saying so.
pub fn run_all(
    collectors: Vec<Arc<dyn Collector>>,
    ctx: &Context,
) -> (Inventory, Vec<CollectorError>) {
    let mut inventory = Inventory::default();
    let mut errors = Vec::new();
    let still_running = ctx.running_collectors();
    let collectors: Vec<Arc<dyn Collector>> = collectors
        .into_iter()
        .filter(|c| ctx.config.collectors.is_enabled(c.name()))
        .filter(|c| {
            let busy = still_running.contains(&c.name());
            if busy {
                errors.push(error(
                    c.name(),
                    CollectorErrorKind::Timeout,
                    format!(
                        "skipped: still running from an earlier report, where it ran past its \
                         budget of {} ms; not started again until it finishes",
                        c.budget(ctx.config.collector_budget).as_millis()
                    ),
                ));
            }
            !busy
        })
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(
        (0..collectors.len()).collect::<std::collections::VecDeque<usize>>(),
    ));
    let (tx, rx) = mpsc::channel::<Event>();
    let mut state = vec![State::Queued; collectors.len()];
    let spawn_worker = |id: usize| {
        let queue = Arc::clone(&queue);
        let collectors = collectors.clone();
        let ctx = ctx.clone();
        let tx = tx.clone();
        std::thread::Builder::new()
            .name(format!("collect-{id}"))
            .spawn(move || {
                loop {
                    let next = match queue.lock() {
                        Ok(mut queue) => queue.pop_front(),
                        Err(_) => None,
                    };
                    let Some(index) = next else { break };
                    // A send fails only when the runner has gone: nothing left to report to.
                    if tx.send(Event::Started(index, Instant::now())).is_err() {
                        break;
                    }
                    let collector = collectors[index].as_ref();
                    let result = {
                        let _running = RunningGuard::enter(&ctx, collector.name());
                        run_one(collector, &ctx)
                    };
                    if tx.send(Event::Finished(index, Box::new(result))).is_err() {
                        break;
                    }
                }
            })
    };
    let mut workers = 0;
    for _ in 0..WORKERS.min(collectors.len()) {
        match spawn_worker(workers) {
            Ok(_) => workers += 1,
            Err(err) => tracing::warn!(error = %err, "could not start a collector thread"),
        }
    }
    if workers == 0 {
        for collector in &collectors {
            errors.push(error(
                collector.name(),
                CollectorErrorKind::Failed,
                "could not start a thread to run it".to_owned(),
            ));
        }
        return (inventory, errors);
    }
    let budget_of = |i: usize| collectors[i].budget(ctx.config.collector_budget);
    loop {
        if state.iter().all(|s| matches!(s, State::Done)) {
            break;
        }
        // Wake at the earliest deadline of a running collector (or poll when none runs).
        let now = Instant::now();
        let wait = state
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                State::Running(started) => {
                    Some((*started + budget_of(i)).saturating_duration_since(now))
                }
                _ => None,
            })
            .min()
            .unwrap_or(Duration::from_millis(100));
        match rx.recv_timeout(wait) {
            Ok(Event::Started(i, at)) => state[i] = State::Running(at),
            Ok(Event::Finished(i, result)) => {
                let (section, section_errors) = *result;
                if matches!(state[i], State::Done) {
                    continue; // already reported as a timeout
                }
                state[i] = State::Done;
                if let Some(section) = section {
                    section.store(&mut inventory);
                }
                errors.extend(section_errors);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let mut starved = false;
        for i in 0..state.len() {
            if let State::Running(started) = state[i] {
                let budget = budget_of(i);
                if now >= started + budget {
                    state[i] = State::Done;
                    errors.push(error(
                        collectors[i].name(),
                        CollectorErrorKind::Timeout,
                        format!(
                            "abandoned: did not finish within its budget of {} ms \
                             (agent.collector_budget_ms); left to finish in the background, \
                             its result discarded",
                            budget.as_millis()
                        ),
                    ));
                    // Its worker is stuck: replace it so the queue keeps moving.
                    if spawn_worker(workers).is_ok() {
                        workers += 1;
                    } else {
                        starved = true;
                    }
                }
            }
        }
        if starved {
            // No thread can be started to replace a stuck one: what is still queued
            // would wait for ever.
            for i in 0..state.len() {
                if matches!(state[i], State::Queued) {
                    state[i] = State::Done;
                    errors.push(error(
                        collectors[i].name(),
                        CollectorErrorKind::Failed,
                        "could not start a thread to run it".to_owned(),
                    ));
                }
            }
        }
    }
    errors.sort_by(|a, b| a.collector.cmp(&b.collector));
    (inventory, errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    struct Slow;
    impl Collector for Slow {
        fn name(&self) -> &'static str {
            "slow"
        }
        fn budget(&self, _: Duration) -> Duration {
            Duration::from_millis(50)
        }
        fn collect(&self, _: &Context) -> Result<Collected, CollectError> {
            std::thread::sleep(Duration::from_secs(2));
            Ok(Collected::complete(Section::Gpus(Vec::new())))
        }
    }

    struct Panics;
    impl Collector for Panics {
        fn name(&self) -> &'static str {
            "panics"
        }
        fn collect(&self, _: &Context) -> Result<Collected, CollectError> {
            panic!("boom")
        }
    }

    struct Good;
    impl Collector for Good {
        fn name(&self) -> &'static str {
            "good"
        }
        fn collect(&self, _: &Context) -> Result<Collected, CollectError> {
            Ok(Collected::partial(
                Section::Listening(Vec::new()),
                vec!["/proc/net/udp6: missing".to_owned()],
            ))
        }
    }

    /// A collector that blocks until released, counting its runs (a deliberately slow
    /// collector: a hung package database, an NFS mount that does not answer).
    struct Hangs {
        runs: std::sync::atomic::AtomicUsize,
        release: Mutex<bool>,
        released: std::sync::Condvar,
    }

    impl Hangs {
        fn new() -> Self {
            Hangs {
                runs: Default::default(),
                release: Mutex::new(false),
                released: std::sync::Condvar::new(),
            }
        }

        fn release(&self) {
            *self.release.lock().unwrap() = true;
            self.released.notify_all();
        }
    }

    impl Collector for Arc<Hangs> {
        fn name(&self) -> &'static str {
            "software"
        }
        fn budget(&self, _: Duration) -> Duration {
            Duration::from_millis(100)
        }
        fn collect(&self, _: &Context) -> Result<Collected, CollectError> {
            self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut released = self.release.lock().unwrap();
            while !*released {
                released = self.released.wait(released).unwrap();
            }
            Ok(Collected::complete(Section::Gpus(Vec::new())))
        }
    }

    #[test]
    fn an_abandoned_collector_is_not_started_again_while_it_still_runs() {
        let ctx = Context::new(SysRoot::default(), Arc::new(AgentConfig::default()));
        let hangs = Arc::new(Hangs::new());
        let list =
            || -> Vec<Arc<dyn Collector>> { vec![Arc::new(Arc::clone(&hangs)), Arc::new(Good)] };

        let (inventory, errors) = run_all(list(), &ctx);
        assert_eq!(inventory.listening, Some(Vec::new()));
        assert_eq!(
            inventory.gpus, None,
            "an abandoned result must be discarded"
        );
        let abandoned = errors.iter().find(|e| e.collector == "software").unwrap();
        assert_eq!(abandoned.kind, CollectorErrorKind::Timeout);
        assert!(
            abandoned
                .message
                .starts_with("abandoned: did not finish within its budget of 100 ms"),
            "{abandoned:?}"
        );
        assert_eq!(ctx.running_collectors(), vec!["software"]);

        // The next report, from a clone of the context (as the daemon's): skipped, said so.
        let (inventory, errors) = run_all(list(), &ctx.clone());
        assert_eq!(inventory.listening, Some(Vec::new()));
        let skipped = errors.iter().find(|e| e.collector == "software").unwrap();
        assert_eq!(skipped.kind, CollectorErrorKind::Timeout);
        assert!(
            skipped
                .message
                .starts_with("skipped: still running from an earlier report"),
            "{skipped:?}"
        );
        assert_eq!(hangs.runs.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Once it returns, it runs again (and, released, delivers).
        hangs.release();
        let freed = (0..200).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            ctx.running_collectors().is_empty()
        });
        assert!(freed, "the abandoned thread never returned");
        let (inventory, errors) = run_all(list(), &ctx);
        assert_eq!(hangs.runs.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(inventory.gpus, Some(Vec::new()));
        assert!(
            errors.iter().all(|e| e.collector != "software"),
            "{errors:?}"
        );
    }

    /// Regression: with a fixed pool, collectors stuck past their budget must not hold up
    /// the ones queued behind them.
    #[test]
    fn stuck_collectors_do_not_starve_the_queue() {
        let ctx = Context::new(SysRoot::default(), Arc::new(AgentConfig::default()));
        let started = Instant::now();
        let collectors: Vec<Arc<dyn Collector>> = vec![
            Arc::new(Slow),
            Arc::new(Slow),
            Arc::new(Slow),
            Arc::new(Good),
        ];
        let (inventory, errors) = run_all(collectors, &ctx);
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(inventory.listening, Some(Vec::new()));
        let timeouts = errors
            .iter()
            .filter(|e| e.kind == CollectorErrorKind::Timeout)
            .count();
        assert_eq!(timeouts, 3, "{errors:?}");
    }

    #[test]
    fn failures_and_timeouts_are_reported_and_the_rest_still_deliver() {
        let ctx = Context::new(SysRoot::default(), Arc::new(AgentConfig::default()));
        let (inventory, errors) =
            run_all(vec![Arc::new(Slow), Arc::new(Panics), Arc::new(Good)], &ctx);
        assert_eq!(inventory.listening, Some(Vec::new()));
        assert_eq!(inventory.gpus, None);
        let summary: Vec<(&str, CollectorErrorKind)> = errors
            .iter()
            .map(|e| (e.collector.as_str(), e.kind))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("good", CollectorErrorKind::Partial),
                ("panics", CollectorErrorKind::Failed),
                ("slow", CollectorErrorKind::Timeout),
            ]
        );
        assert!(errors[1].message.contains("boom"));
    }
}
