//! Power readings over a report's window.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Measured power over the report's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Power {
    /// `measured` when at least one reading is present, `none` when nothing could be
    /// measured and the collector must model the host's power.
    pub source: PowerSource,
    /// One reading per measured domain.
    #[serde(default)]
    pub readings: Vec<PowerReading>,
    /// Why a meter was not available (e.g. "no /sys/class/powercap: RAPL not exposed
    /// (VM or unsupported CPU)", "NVML not loaded: libnvidia-ml.so.1: cannot open
    /// shared object file: No such file or directory"), and how a reading was taken
    /// where that is not the default (e.g. "gpu-0: no energy counter; mean of 30 power
    /// readings").
    #[serde(default)]
    pub notes: Vec<String>,
}

impl Power {
    /// No power could be measured, for the given reasons.
    pub fn none(notes: Vec<String>) -> Self {
        Power {
            source: PowerSource::None,
            readings: Vec::new(),
            notes,
        }
    }
}

/// Whether anything was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerSource {
    /// At least one domain was measured.
    Measured,
    /// Nothing measured.
    None,
}

/// Average power of one domain over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PowerReading {
    /// The meter: `rapl` or `nvml`.
    pub meter: PowerMeter,
    /// The domain: RAPL `package-0`, `dram`, `psys`, `core`, `uncore` (with the
    /// socket where there are several, e.g. `package-1`, `dram-1`), or `gpu-N` for NVML
    /// (`N` is NVML's device index).
    ///
    /// RAPL domains overlap: `core` and `uncore` are parts of their `package`, and
    /// `psys` (client CPUs) covers the whole platform. CPU and memory power is the sum
    /// of the `package-*` and `dram*` domains.
    pub domain: String,
    /// Average power over `interval_secs`, watts.
    pub average_watts: f64,
    /// Energy over `interval_secs`, joules (wrap-corrected).
    pub energy_joules: f64,
    /// Length of the measured interval, seconds.
    pub interval_secs: f64,
}

/// Power meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PowerMeter {
    /// Intel/AMD RAPL through Linux powercap.
    Rapl,
    /// NVIDIA Management Library.
    Nvml,
}
