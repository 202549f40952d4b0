//! Utilisation summaries over a report's window.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Utilisation sampled every `sample_interval_secs` over the window.
///
/// A sample covers the interval between two readings of the host's counters: CPU and
/// byte rates are counter deltas over it, memory is read at its end. An interval in
/// which a counter went backwards (reset, wrap, device removed) has no value for that
/// metric rather than a negative or huge one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Utilisation {
    /// Seconds between samples.
    pub sample_interval_secs: f64,
    /// Samples taken in the window (with at least one metric).
    pub samples_taken: u32,
    /// Samples the window should have had at the configured interval (window length
    /// divided by the interval, rounded). Fewer taken means gaps (the agent's first
    /// window, a stalled agent, a full buffer).
    pub samples_expected: u32,
    /// CPU busy ratio (0–1, all CPUs together): time neither idle nor waiting for I/O
    /// (steal counts as busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_busy_ratio: Option<Summary>,
    /// Memory used ratio (0–1): `1 - MemAvailable / MemTotal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_ratio: Option<Summary>,
    /// Disk reads, bytes per second (all whole disks together: partitions and stacked
    /// devices such as device-mapper and md are left out so nothing counts twice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_read_bytes_per_second: Option<Summary>,
    /// Disk writes, bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_write_bytes_per_second: Option<Summary>,
    /// Network received, bytes per second (interfaces backed by a device: loopback,
    /// bridges, veth, bonds, VLANs and tunnels are left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_receive_bytes_per_second: Option<Summary>,
    /// Network transmitted, bytes per second (same interfaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_transmit_bytes_per_second: Option<Summary>,
}

/// Summary statistics of one metric over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Maximum.
    pub max: f64,
    /// The maximum of each 10-minute sub-window that has samples, oldest first,
    /// counted from the start of the window (right-sizing takes the 95th percentile of
    /// these). A window shorter than 10 minutes has one, equal to `max`.
    #[serde(default)]
    pub peaks_10m: Vec<f64>,
}
