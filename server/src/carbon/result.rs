//! The serialisable results: one [`HostEstimate`] per host (on-premises, each scenario
//! that applies, and the factors used), and the codes of the notes they carry.

use serde::{Deserialize, Serialize};

use crate::carbon::Readiness;
use crate::carbon::config::{ScenarioKind, Sizing};
use crate::carbon::data::{MatchConfidence, Provider};
use crate::carbon::factor::{Factors, Text};

/// The estimate for one host.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HostEstimate {
    /// The host.
    pub host_id: String,
    /// On-premises today.
    pub onprem: OnPrem,
    /// Each scenario that applies to the host.
    pub scenarios: Vec<ScenarioResult>,
    /// Every factor used, once each (empty when read back from a compact copy).
    #[serde(default)]
    pub factors: Factors,
}

/// A [`HostEstimate`] without its factors, for storing beside the full one: the figures
/// estate totals need, a fraction of the size. It reads back as a `HostEstimate` with
/// empty `factors`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CompactEstimate<'a> {
    /// The host.
    pub host_id: &'a str,
    /// On-premises today.
    pub onprem: &'a OnPrem,
    /// Each scenario that applies to the host.
    pub scenarios: &'a [ScenarioResult],
}

impl HostEstimate {
    /// The estimate without its factors ([`CompactEstimate`]).
    pub fn compact(&self) -> CompactEstimate<'_> {
        CompactEstimate {
            host_id: &self.host_id,
            onprem: &self.onprem,
            scenarios: &self.scenarios,
        }
    }
}

/// How the on-premises power was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnPremMethod {
    /// RAPL `psys` (whole platform), plus NVML GPU power.
    MeasuredPsys,
    /// RAPL package + DRAM times the platform overhead, plus NVML GPU power.
    MeasuredRapl,
    /// CPU from TDP and the Teads curve, memory, storage and GPUs, times the overhead.
    ModelledTdp,
    /// A virtual machine: per-vCPU watts of its microarchitecture, memory and storage.
    ModelledVm,
    /// The report gave no CPU: the chassis archetype, modelled like `modelled_tdp`.
    Archetype,
    /// A container: its power belongs to its host.
    NotEstimated,
}

/// What the CPU brand string matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuMatchInfo {
    /// Exact, family or fallback.
    pub confidence: MatchConfidence,
    /// The model (exact) or microarchitecture (family) matched.
    pub matched: Option<Text>,
    /// The microarchitecture, when known.
    pub microarchitecture: Option<Text>,
}

/// Flags explaining where an estimate rests on an assumption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Note {
    /// Only the CPU's microarchitecture was recognised.
    CpuFamilyMatch,
    /// The CPU was not recognised: generic values.
    CpuNotMatched,
    /// The report gave no CPU: the archetype's.
    CpuFromArchetype,
    /// The report gave no memory: the archetype's.
    MemoryFromArchetype,
    /// The report gave no disks: the archetype's.
    DisksFromArchetype,
    /// The microarchitecture has no published per-vCPU watts: generic values.
    GenericCoefficients,
    /// No CPU utilisation: the method's default and its range.
    UtilisationUnknown,
    /// A GPU's model is not in the table: counted as 0 W.
    GpuModelUnknown,
    /// A GPU's utilisation is not known: counted at idle.
    GpuUtilisationUnknown,
    /// RAPL was measured but NVML was not, so GPUs are modelled.
    GpuModelled,
    /// A container: not estimated on its own.
    Container,
    /// No CPU percentile: sized with as many vCPUs as the host has.
    CpuSizedAsOnprem,
    /// No memory percentile: sized with as much memory as the host has.
    MemorySizedAsOnprem,
    /// No instance of the families fits.
    NoInstanceFits,
    /// RAPL read less than [`crate::carbon::MIN_PLAUSIBLE_RAPL_WATTS`] (counters that did
    /// not move: a stuck driver, or a recorded system): modelled instead.
    MeasuredImplausible,
}

/// On-premises today, per year.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnPrem {
    /// How the power was obtained.
    pub method: OnPremMethod,
    /// Average power at the plug (before the facility's PUE), watts.
    pub power_watts: f64,
    /// What the report measured, watts: RAPL `psys`, else its `package-*` and `dram*`
    /// domains, plus NVML GPUs; before any overhead. `None` when nothing was measured.
    #[serde(default)]
    pub measured_watts: Option<f64>,
    /// Energy including the facility's PUE, kWh/yr.
    pub energy_kwh_per_year: f64,
    /// Location-based operational emissions, kgCO2e/yr.
    pub location_kgco2e_per_year: f64,
    /// Market-based operational emissions (site supplier factor), kgCO2e/yr.
    pub market_kgco2e_per_year: f64,
    /// Embodied emissions amortised over the lifespan, kgCO2e/yr.
    pub embodied_kgco2e_per_year: f64,
    /// Location-based plus embodied, every parameter at its low end, kgCO2e/yr.
    pub low: f64,
    /// Location-based plus embodied, every parameter at its high end, kgCO2e/yr.
    pub high: f64,
    /// The CPU match, when the report named a CPU.
    pub cpu_match: Option<CpuMatchInfo>,
    /// The PUE applied.
    pub pue: f64,
    /// The year of the UK factor applied.
    pub grid_year: i32,
    /// Assumptions made.
    pub notes: Vec<Note>,
}

impl OnPrem {
    /// Location-based plus embodied, kgCO2e/yr.
    pub fn total_kgco2e_per_year(&self) -> f64 {
        self.location_kgco2e_per_year + self.embodied_kgco2e_per_year
    }
}

/// One scenario for one host, per year.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// The scenario's name.
    pub name: Text,
    /// Cloud or retire.
    pub kind: ScenarioKind,
    /// Provider (cloud).
    pub provider: Option<Provider>,
    /// Region (cloud).
    pub region: Option<Text>,
    /// Chosen instance type; `null` for retire, or when none fits.
    pub instance: Option<Text>,
    /// Its vCPUs.
    pub vcpus: u32,
    /// Its memory, GiB.
    pub memory_gib: f64,
    /// Watts per vCPU at idle used.
    pub min_watts_per_vcpu: f64,
    /// Watts per vCPU at 100 % used.
    pub max_watts_per_vcpu: f64,
    /// Average power of the instance and its replicated storage, watts.
    pub power_watts: f64,
    /// Energy including the provider's PUE, kWh/yr.
    pub energy_kwh_per_year: f64,
    /// Location-based: the region's grid, kgCO2e/yr.
    pub location_kgco2e_per_year: f64,
    /// Embodied share of the host platform, kgCO2e/yr.
    pub embodied_kgco2e_per_year: f64,
    /// Readiness.
    pub readiness: Readiness,
    /// Confidence, 1 to 5 stars, from data coverage.
    pub confidence: u8,
    /// Market-based, from the provider's claim (see `market_basis`), kgCO2e/yr.
    pub market_kgco2e_per_year: f64,
    /// What the market-based figure rests on.
    pub market_basis: Option<Text>,
    /// Location-based plus embodied at the low end of the parameters, kgCO2e/yr.
    pub low: f64,
    /// Location-based plus embodied at the high end of the parameters, kgCO2e/yr.
    pub high: f64,
    /// On-premises minus this scenario, location-based plus embodied, kgCO2e/yr.
    pub saved_kgco2e_per_year: f64,
    /// The sizing rule applied.
    pub sizing: Option<Sizing>,
    /// Assumptions made.
    pub notes: Vec<Note>,
}
