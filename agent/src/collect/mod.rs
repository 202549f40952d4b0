//! Inventory collectors: the `Collector` trait, the sections they fill and the runner
//! that runs them under their time budgets.
//!
//! Each collector owns one concern (one file under `platform/<os>/`). The runner gives
//! every collector its own thread and waits for it no longer than its budget: a
//! collector that fails, panics or runs over adds an entry to the report's
//! `collector_errors`, and the others still report. Platform code lives only under
//! `platform/`.

pub mod nvml;
pub mod platform;

use std::sync::Arc;
use std::sync::mpsc;
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
}

impl Context {
    /// A context over `root` with the given config.
    pub fn new(root: SysRoot, config: Arc<AgentConfig>) -> Self {
        Context { root, config }
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

/// Runs every enabled collector, each on its own thread, waiting for each no longer
/// than its budget (measured from the start of the run). A collector that runs over is
/// left to finish on its own; its result is dropped and a `timeout` error reported.
pub fn run_all(
    collectors: Vec<Arc<dyn Collector>>,
    ctx: &Context,
) -> (Inventory, Vec<CollectorError>) {
    let started = Instant::now();
    let mut inventory = Inventory::default();
    let mut errors = Vec::new();
    let mut pending = Vec::new();
    for collector in collectors {
        if !ctx.config.collectors.is_enabled(collector.name()) {
            continue;
        }
        let (tx, rx) = mpsc::channel();
        let thread_collector = Arc::clone(&collector);
        let thread_ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("collect-{}", collector.name()))
            .spawn(move || {
                let result = run_one(thread_collector.as_ref(), &thread_ctx);
                // The receiver is gone when the collector ran over its budget.
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => pending.push((collector, rx)),
            Err(err) => errors.push(error(
                collector.name(),
                CollectorErrorKind::Failed,
                format!("could not start a thread: {err}"),
            )),
        }
    }
    for (collector, rx) in pending {
        let budget = collector.budget(ctx.config.collector_budget);
        let deadline = started + budget;
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok((section, section_errors)) => {
                if let Some(section) = section {
                    section.store(&mut inventory);
                }
                errors.extend(section_errors);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => errors.push(error(
                collector.name(),
                CollectorErrorKind::Timeout,
                format!(
                    "did not finish within its budget of {} ms",
                    budget.as_millis()
                ),
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => errors.push(error(
                collector.name(),
                CollectorErrorKind::Failed,
                "collector thread ended without a result".to_owned(),
            )),
        }
    }
    errors.sort_by(|a, b| a.collector.cmp(&b.collector));
    (inventory, errors)
}

#[cfg(test)]
mod tests {
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
