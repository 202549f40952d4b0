//! Estate's wire contract between the agent and the collector: `Report` v1.
//!
//! This crate owns the serde types, the JSON Schema generated from them
//! (`protocol/schema/report-v1.json`) and the golden examples (`protocol/examples/`).
//! It must not do I/O: it is shared by the agent, the collector and anyone who
//! writes their own producer.
//!
//! Conventions used throughout:
//! - Quantities carry their unit in the field name (`_bytes`, `_secs`, `_watts`,
//!   `_ratio` for 0–1) and are in base units.
//! - Timestamps are UTC, RFC 3339.
//! - A section or value that could not be known is absent (`null`) or an explicit
//!   [`Known::Unknown`] with the reason; it is never guessed. When a whole collector
//!   failed, its section is absent and [`Report::collector_errors`] says why.
#![deny(missing_docs)]

mod api;
mod inventory;
mod power;
mod probe;
mod utilisation;

pub use api::*;
pub use inventory::*;
pub use power::*;
pub use probe::*;
pub use utilisation::*;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// One report from one agent about one host over one window of time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`] (1) for this type.
    pub schema_version: u32,
    /// Unique per report; the collector uses it to make ingest idempotent.
    pub report_id: Uuid,
    /// Stable identity of the host (see [`HostIdSource`]).
    pub host_id: String,
    /// Where `host_id` came from.
    pub host_id_source: HostIdSource,
    /// Host name at collection time (informational: it is not the identity).
    pub hostname: String,
    /// The agent that produced the report.
    pub agent: AgentInfo,
    /// Labels from the agent's config (site, role, owner, department, ...).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// When the report was assembled.
    pub collected_at: DateTime<Utc>,
    /// The window that utilisation and power summaries cover.
    pub window: Window,
    /// Full inventory; sent when it changed and at least daily, absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// SHA-256 (hex) of the inventory's stable part (see [`Inventory::stable_hash`]);
    /// always present, so the collector knows which inventory the host still has.
    pub inventory_hash: String,
    /// Utilisation summaries over the window; absent when the sampler could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation: Option<Utilisation>,
    /// Power readings over the window (`source: none` when nothing could be measured).
    pub power: Power,
    /// Results of the service probes configured on the agent.
    #[serde(default)]
    pub probes: Vec<ProbeResult>,
    /// Collectors that failed, timed out or are unsupported, and why.
    #[serde(default)]
    pub collector_errors: Vec<CollectorError>,
}

/// How the host's identity was obtained, from most to least durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HostIdSource {
    /// `/etc/machine-id` (Linux) or the equivalent OS installation id.
    MachineId,
    /// The SMBIOS/DMI product UUID of the hardware or virtual machine.
    SmbiosUuid,
    /// A UUID generated once by the agent and kept in its state directory.
    Generated,
}

/// Which agent produced a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInfo {
    /// The agent's version (semver).
    pub version: String,
    /// The platform the agent was built for, e.g. `linux` or `windows`.
    pub platform: String,
    /// The CPU architecture the agent was built for, e.g. `x86_64`.
    pub arch: String,
}

/// A closed-open interval of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start of the window.
    pub start: DateTime<Utc>,
    /// End of the window.
    pub end: DateTime<Utc>,
}

/// A collector that did not deliver (all or part of) its section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectorError {
    /// The collector's name, e.g. `software` or `power`.
    pub collector: String,
    /// What kind of failure it was.
    pub kind: CollectorErrorKind,
    /// What went wrong, naming the file or call where one is involved.
    pub message: String,
}

/// Kinds of collector failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectorErrorKind {
    /// The collector failed; its section is absent.
    Failed,
    /// The collector delivered its section but some part of it is missing.
    Partial,
    /// The collector ran past its time budget; its section is absent.
    Timeout,
    /// The collector does not exist on this platform.
    Unsupported,
}

/// A value that the agent either knows or explicitly does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Known<T> {
    /// The value was determined.
    Known {
        /// The value.
        value: T,
    },
    /// The value could not be determined, and why.
    Unknown {
        /// Why it could not be determined.
        reason: String,
    },
}

impl<T> Known<T> {
    /// The value when known.
    pub fn value(&self) -> Option<&T> {
        match self {
            Known::Known { value } => Some(value),
            Known::Unknown { .. } => None,
        }
    }

    /// Shorthand for [`Known::Unknown`].
    pub fn unknown(reason: impl Into<String>) -> Self {
        Known::Unknown {
            reason: reason.into(),
        }
    }
}

impl Report {
    /// The JSON Schema of [`Report`], as committed in `protocol/schema/report-v1.json`.
    pub fn json_schema() -> serde_json::Value {
        let schema = schemars::schema_for!(Report);
        serde_json::to_value(&schema).unwrap_or(serde_json::Value::Null)
    }

    /// Checks the invariants a schema cannot express. Returns every problem found.
    pub fn check_invariants(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.schema_version != SCHEMA_VERSION {
            problems.push(format!(
                "schema_version is {}, expected {SCHEMA_VERSION}",
                self.schema_version
            ));
        }
        if self.host_id.trim().is_empty() {
            problems.push("host_id is empty".to_owned());
        }
        if self.window.end < self.window.start {
            problems.push("window.end is before window.start".to_owned());
        }
        if let Some(inventory) = &self.inventory {
            let hash = inventory.stable_hash();
            if hash != self.inventory_hash {
                problems.push(format!(
                    "inventory_hash {} does not match the inventory ({hash})",
                    self.inventory_hash
                ));
            }
        }
        problems
    }
}
