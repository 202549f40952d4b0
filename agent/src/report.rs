//! Assembles one report: identity, a utilisation burst with power over the same window,
//! the inventory collectors, and the service probes.
//!
//! This module owns the order of work and the report's envelope; it must not parse host
//! files itself (collectors do) and must not send anything (the transport does).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use estate_protocol::{
    AgentInfo, CollectorError, CollectorErrorKind, Report, SCHEMA_VERSION, Window,
};

use crate::collect::{self, Context, platform};
use crate::host_id;
use crate::power::PowerMeter;
use crate::probes;
use crate::sampler::Sampler;

/// Length of the sampling burst of a one-shot `collect` (1 s).
pub const DEFAULT_BURST: Duration = Duration::from_secs(1);
/// Samples taken in a one-shot burst (one every 200 ms).
pub const DEFAULT_BURST_SAMPLES: u32 = 5;

/// Why no report could be assembled at all.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The host has no usable identity.
    #[error(transparent)]
    HostId(#[from] host_id::HostIdError),
}

/// How a one-shot report is taken.
#[derive(Debug, Clone, Copy)]
pub struct OneShot {
    /// Length of the utilisation and power burst.
    pub burst: Duration,
    /// Samples taken over the burst (at least 2: a rate needs two readings).
    pub samples: u32,
}

impl Default for OneShot {
    fn default() -> Self {
        OneShot {
            burst: DEFAULT_BURST,
            samples: DEFAULT_BURST_SAMPLES,
        }
    }
}

/// The agent's own description.
pub fn agent_info() -> AgentInfo {
    AgentInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        platform: std::env::consts::OS.to_owned(),
        arch: std::env::consts::ARCH.to_owned(),
    }
}

/// Takes one complete report: a burst of utilisation samples with power measured over
/// the same window, then the full inventory, then the probes.
///
/// The burst runs before the collectors so that the agent's own collection work does
/// not show up in the host's utilisation.
pub fn collect_once(ctx: &Context, shot: OneShot) -> Result<Report, ReportError> {
    let (host_id, host_id_source) = host_id::host_id(&ctx.root, &ctx.config.state_dir)?;
    let samples = shot.samples.max(2);
    let step = shot.burst / (samples - 1);
    let enabled = |name| ctx.config.collectors.is_enabled(name);

    let start = Utc::now();
    let started = Instant::now();
    let mut meter = enabled("power").then(|| PowerMeter::start(&ctx.root));
    let mut sampler = Sampler::new(ctx.root.clone(), step);
    if enabled("utilisation") {
        sampler.sample();
        for _ in 1..samples {
            std::thread::sleep(step);
            sampler.sample();
        }
    } else {
        std::thread::sleep(shot.burst);
    }
    let measured = measure(
        &mut sampler,
        meter.as_mut(),
        enabled("utilisation"),
        start,
        started,
    );
    Ok(assemble(
        ctx,
        Identity {
            host_id,
            host_id_source,
        },
        measured,
    ))
}

/// Ends a measurement window: power since the meter's start (or a note that it is off)
/// and the utilisation summary since `started`, as the daemon and `collect_once` both need.
pub fn measure(
    sampler: &mut Sampler,
    meter: Option<&mut PowerMeter>,
    sampling: bool,
    start: DateTime<Utc>,
    started: Instant,
) -> Measured {
    let mut errors = Vec::new();
    let power = match meter {
        Some(meter) => {
            let (power, power_errors) = meter.read();
            errors.extend(power_errors);
            power
        }
        None => {
            estate_protocol::Power::none(vec!["power collector turned off in config".to_owned()])
        }
    };
    let utilisation = if sampling {
        let (utilisation, sampler_errors) = sampler.summarise(started.elapsed());
        errors.extend(sampler_errors);
        utilisation
    } else {
        None
    };
    Measured {
        window: Window {
            start,
            end: Utc::now(),
        },
        utilisation,
        power,
        errors,
    }
}

/// The host's identity, as [`host_id::host_id`] found it.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The stable host id.
    pub host_id: String,
    /// Where it came from.
    pub host_id_source: estate_protocol::HostIdSource,
}

/// What was measured over a report's window before the collectors run.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The window the utilisation and power cover.
    pub window: Window,
    /// Utilisation summaries, when sampled.
    pub utilisation: Option<estate_protocol::Utilisation>,
    /// Power over the window.
    pub power: estate_protocol::Power,
    /// Errors met while measuring.
    pub errors: Vec<CollectorError>,
}

/// Runs the inventory collectors and the probes (blocking: call it off any async
/// runtime thread) and assembles the report with `measured`. The report always carries
/// the full inventory; the daemon drops it when unchanged.
pub fn assemble(ctx: &Context, identity: Identity, measured: Measured) -> Report {
    assemble_with(ctx, platform::collectors(), identity, measured)
}

/// [`assemble`] with the given inventory collectors instead of the platform's.
pub fn assemble_with(
    ctx: &Context,
    collectors: Vec<std::sync::Arc<dyn collect::Collector>>,
    identity: Identity,
    measured: Measured,
) -> Report {
    let enabled = |name| ctx.config.collectors.is_enabled(name);
    let mut errors = measured.errors;
    let (inventory, collector_errors) = collect::run_all(collectors, ctx);
    errors.extend(collector_errors);
    let probes = if enabled("probes") {
        probes::run_probes(&ctx.config.probes)
    } else {
        Vec::new()
    };

    let hostname = platform::hostname(&ctx.root).unwrap_or_else(|err| {
        errors.push(CollectorError {
            collector: "os".to_owned(),
            kind: CollectorErrorKind::Partial,
            message: format!("hostname: {err}"),
        });
        String::new()
    });
    errors.sort_by(|a, b| a.collector.cmp(&b.collector));

    Report {
        schema_version: SCHEMA_VERSION,
        report_id: uuid::Uuid::new_v4(),
        host_id: identity.host_id,
        host_id_source: identity.host_id_source,
        hostname,
        agent: agent_info(),
        labels: ctx.config.labels.clone(),
        collected_at: Utc::now(),
        window: measured.window,
        inventory_hash: inventory.stable_hash(),
        inventory: Some(inventory),
        utilisation: measured.utilisation,
        power: measured.power,
        probes,
        collector_errors: errors,
    }
}
