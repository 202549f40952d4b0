//! Facts: the flat, check-writer-friendly document that health checks read as the CEL
//! variable `facts`, derived from what the collector stores about one host.
//!
//! [`derive()`] is a pure function of a [`FactsInput`] (host metadata, the stored
//! inventory, the latest report, the host's series, `now` and the OS lifecycle table):
//! no I/O, no clock, no store. This module owns the facts schema and every derived value
//! (days since, ratios, support status); it must not evaluate checks (the checks module
//! does) and must not guess: a value the agent did not send is absent. The schema is
//! documented field by field in `docs/facts.md`.
//!
//! Conventions (see `docs/facts.md`):
//! - Names are snake_case and carry their unit: `_bytes`, `_ratio` (0–1), `_seconds`,
//!   `_days` (whole days, rounded down), `_watts`, `_joules`; dates are `YYYY-MM-DD`,
//!   times RFC 3339 UTC.
//! - **Absent when unknown.** Every section object is always present; a scalar, list or
//!   map inside it is left out when it cannot be known (never `null`), so a check tests
//!   `has(facts.os.end_of_support)` first (every top-level key is a section object, so
//!   that never errors). Enumerations (`host.kind`, `os.support_status`,
//!   `security.secure_boot`, ...) are always present and say `"unknown"` instead.
//! - Lists of objects (filesystems, listening ports, services, packages, probes) are
//!   present and empty when known to be empty.

mod agent;
mod hardware;
mod host;
pub mod lifecycle;
mod network;
mod os;
mod security;
mod services;
mod storage;
mod usage;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use estate_protocol::{Inventory, Known, Report};
use serde::Serialize;

pub use agent::{AgentFacts, CollectorErrorFact, DataFacts, ProbeFact, ProbeFacts};
pub use hardware::{DiskFact, GpuFact, HardwareFacts};
pub use host::HostFacts;
pub use lifecycle::{Edition, LifecycleEntry, LifecycleMatch, LifecycleTable};
pub use network::{InterfaceFact, ListeningFacts, NetworkFacts, PortFact};
pub use os::{LifecycleFacts, OsFacts, PatchingFacts, SupportStatus, UptimeFacts};
pub use security::SecurityFacts;
pub use services::{PackageFact, ServiceFacts, SoftwareFacts, UnitFact};
pub use storage::{FilesystemFact, StorageFacts};
pub use usage::{PowerFacts, PowerReadingFact, UtilisationFacts};

use crate::store::{HostRecord, SeriesPoint};

/// Version of the facts schema; bumped when a fact is renamed or changes meaning.
pub const FACTS_SCHEMA_VERSION: u32 = 1;

/// Default window before an end-of-support date in which a release is `ending_soon`
/// (365 days).
pub const DEFAULT_ENDING_SOON_DAYS: i64 = 365;

/// Default silence after which a host's agent is `stale`: the collector's default
/// `server.stale_after_secs` ([`crate::config::DEFAULT_STALE_AFTER_SECS`]). Callers pass
/// the configured value (`ServerConfig::stale_after`) in [`DeriveOptions::stale_after`].
pub const DEFAULT_STALE_AFTER: Duration =
    Duration::from_secs(crate::config::DEFAULT_STALE_AFTER_SECS);

/// Tunable parts of the derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeriveOptions {
    /// A release whose end of support is this many days away or fewer (and not past) is
    /// `ending_soon` ([`DEFAULT_ENDING_SOON_DAYS`]). Checks that want another horizon
    /// compare `os.days_to_end_of_support` themselves.
    pub ending_soon_days: i64,
    /// An agent silent for longer than this is `stale` ([`DEFAULT_STALE_AFTER`]).
    pub stale_after: Duration,
}

impl Default for DeriveOptions {
    fn default() -> Self {
        DeriveOptions {
            ending_soon_days: DEFAULT_ENDING_SOON_DAYS,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

/// What the collector knows about the host itself (not what the agent sent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostMeta<'a> {
    /// The host's id.
    pub host_id: &'a str,
    /// Latest host name.
    pub hostname: &'a str,
    /// Latest labels.
    pub labels: &'a BTreeMap<String, String>,
    /// First report's `collected_at`.
    pub first_seen: DateTime<Utc>,
    /// Latest report's `collected_at`.
    pub last_seen: DateTime<Utc>,
}

impl<'a> From<&'a HostRecord> for HostMeta<'a> {
    fn from(record: &'a HostRecord) -> Self {
        HostMeta {
            host_id: &record.host_id,
            hostname: &record.hostname,
            labels: &record.labels,
            first_seen: record.first_seen,
            last_seen: record.last_seen,
        }
    }
}

/// Everything [`derive()`] reads.
#[derive(Debug, Clone, Copy)]
pub struct FactsInput<'a> {
    /// The host's metadata.
    pub host: HostMeta<'a>,
    /// The latest stored inventory. When `None`, the latest report's inventory (if it
    /// carries one) is used instead.
    pub inventory: Option<&'a Inventory>,
    /// When the inventory was collected (for `data.inventory_age_days`).
    pub inventory_collected_at: Option<DateTime<Utc>>,
    /// The latest report: its utilisation, power, probes, agent and collector errors.
    pub report: Option<&'a Report>,
    /// The host's series, oldest first (the caller chooses how far back).
    pub series: &'a [SeriesPoint],
    /// The evaluation time: every "days since/to" is counted from it.
    pub now: DateTime<Utc>,
    /// The OS lifecycle table.
    pub lifecycle: &'a LifecycleTable,
    /// Thresholds.
    pub options: DeriveOptions,
}

/// The facts about one host. Serialises to the JSON object that checks read as `facts`;
/// `docs/facts.md` describes every field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Facts {
    /// [`FACTS_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The `now` the facts were derived at.
    pub evaluated_at: DateTime<Utc>,
    /// Identity, labels, physical/virtual, chassis.
    pub host: HostFacts,
    /// Operating system and its lifecycle.
    pub os: OsFacts,
    /// Patch state.
    pub patching: PatchingFacts,
    /// Boot time and uptime.
    pub uptime: UptimeFacts,
    /// Hardware, CPU, memory, disks, GPUs.
    pub hardware: HardwareFacts,
    /// Mounted filesystems and a summary over them.
    pub storage: StorageFacts,
    /// Interfaces and addresses.
    pub network: NetworkFacts,
    /// Listening sockets and the well-known risky services among them.
    pub listening: ListeningFacts,
    /// Service units.
    pub services: ServiceFacts,
    /// Installed packages.
    pub software: SoftwareFacts,
    /// Security posture.
    pub security: SecurityFacts,
    /// Utilisation over the latest window and over the stored series.
    pub utilisation: UtilisationFacts,
    /// Measured power.
    pub power: PowerFacts,
    /// Service probes run by the agent.
    pub probes: ProbeFacts,
    /// The agent and how recently it reported.
    pub agent: AgentFacts,
    /// What the facts were derived from, and why some are unknown.
    pub data: DataFacts,
}

impl Facts {
    /// The facts as a JSON value (what checks see as `facts`).
    pub fn to_json_value(&self) -> serde_json::Value {
        // Serialising plain structs, strings, numbers and maps cannot fail; a non-finite
        // float becomes `null` (serde_json's own rule).
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Derives the facts of one host. Pure: the same input always gives the same facts.
pub fn derive(input: &FactsInput<'_>) -> Facts {
    let inventory = input
        .inventory
        .or_else(|| input.report.and_then(|r| r.inventory.as_ref()));
    let mut unknown = Unknown::default();
    let ctx = Ctx {
        now: input.now,
        today: input.now.date_naive(),
    };

    if let Some(inv) = inventory {
        unknown.missing_sections(inv, input.report);
    }
    let hardware_section = inventory.and_then(|i| i.hardware.as_ref());
    let os_section = inventory.and_then(|i| i.os.as_ref());

    Facts {
        schema_version: FACTS_SCHEMA_VERSION,
        evaluated_at: input.now,
        host: host::derive(&input.host, hardware_section, &ctx),
        os: os::derive(os_section, input.lifecycle, input.options, &ctx),
        patching: os::patching(
            os_section,
            inventory.and_then(|i| i.security.as_ref()),
            &ctx,
            &mut unknown,
        ),
        uptime: os::uptime(os_section, &ctx),
        hardware: hardware::derive(inventory, &ctx, &mut unknown),
        storage: storage::derive(inventory.and_then(|i| i.filesystems.as_deref())),
        network: network::derive(inventory.and_then(|i| i.network.as_ref())),
        listening: network::listening(inventory.and_then(|i| i.listening.as_deref())),
        services: services::services(inventory.and_then(|i| i.services.as_ref())),
        software: services::software(inventory.and_then(|i| i.software.as_ref())),
        security: security::derive(inventory.and_then(|i| i.security.as_ref()), &mut unknown),
        utilisation: usage::utilisation(
            input.report.and_then(|r| r.utilisation.as_ref()),
            input.report.map(|r| r.window),
            inventory.and_then(|i| i.memory.as_ref()),
            input.series,
        ),
        power: usage::power(input.report.map(|r| &r.power), input.series),
        probes: agent::probes(input.report.map(|r| r.probes.as_slice()), &ctx),
        agent: agent::agent(&input.host, input.report, input.options, &ctx),
        data: agent::data(
            inventory.is_some(),
            input.inventory_collected_at,
            input.report,
            &ctx,
            unknown.0,
        ),
    }
}

/// The evaluation time, shared by the section derivations.
#[derive(Debug, Clone, Copy)]
struct Ctx {
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl Ctx {
    /// Whole days from `then` to now, rounded down; 0 when `then` is in the future
    /// (clock skew).
    fn days_since(&self, then: DateTime<Utc>) -> i64 {
        floor_days(self.now - then).max(0)
    }

    /// Whole seconds from `then` to now; 0 when `then` is in the future.
    fn seconds_since(&self, then: DateTime<Utc>) -> i64 {
        (self.now - then).num_seconds().max(0)
    }

    /// Calendar days from today (UTC) to `date`: negative once it has passed.
    fn days_to_date(&self, date: NaiveDate) -> i64 {
        (date - self.today).num_days()
    }

    /// Calendar days from `date` to today (UTC).
    fn days_since_date(&self, date: NaiveDate) -> i64 {
        (self.today - date).num_days()
    }
}

/// Whole days in a duration, rounded towards minus infinity.
fn floor_days(duration: chrono::TimeDelta) -> i64 {
    duration.num_seconds().div_euclid(86_400)
}

/// The value of a [`Known`], recording the reason under `key` when it is unknown.
fn known<'a, T>(value: &'a Known<T>, key: &str, unknown: &mut Unknown) -> Option<&'a T> {
    match value {
        Known::Known { value } => Some(value),
        Known::Unknown { reason } => {
            unknown.0.insert(key.to_owned(), reason.clone());
            None
        }
    }
}

/// Why values are unknown, by fact or inventory section (becomes `data.unknown`).
#[derive(Debug, Default)]
struct Unknown(BTreeMap<String, String>);

impl Unknown {
    /// Records why each absent inventory section is absent: the matching collector
    /// error of the report, else a plain statement.
    fn missing_sections(&mut self, inv: &Inventory, report: Option<&Report>) {
        let sections = [
            ("os", inv.os.is_none()),
            ("hardware", inv.hardware.is_none()),
            ("cpu", inv.cpu.is_none()),
            ("memory", inv.memory.is_none()),
            ("disks", inv.disks.is_none()),
            ("filesystems", inv.filesystems.is_none()),
            ("network", inv.network.is_none()),
            ("software", inv.software.is_none()),
            ("services", inv.services.is_none()),
            ("listening", inv.listening.is_none()),
            ("security", inv.security.is_none()),
            ("gpus", inv.gpus.is_none()),
        ];
        for (name, missing) in sections {
            if !missing {
                continue;
            }
            let reason = report
                .and_then(|r| r.collector_errors.iter().find(|e| e.collector == name))
                .map(|e| e.message.clone())
                .unwrap_or_else(|| "the inventory has no such section".to_owned());
            self.0.insert(format!("inventory.{name}"), reason);
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of `values` (unsorted); `None` when empty.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// `part / whole`, `None` when `whole` is 0.
fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests;
