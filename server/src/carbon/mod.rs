//! Carbon: energy and emissions per host on-premises, and after a move to the cloud or
//! a retirement, as pure functions of the host's report, the reference data in
//! `config/data/` and the `[carbon]` settings. The method (v1) is written out in
//! `docs/methodology.md`.
//!
//! Use: load [`CarbonData`] once ([`CarbonData::load`], the only I/O here), compile it
//! with the settings into an [`Estimator`], build a [`HostInput`] per host
//! ([`HostInput::from_report`]) and call [`estimate`]; [`summarise`] adds the results up
//! for the estate. Every result lists the factors it used with their unit, source and
//! version, and carries a low and a high figure from the parameters' ranges. A host's
//! cloud readiness comes from an audit profile's check results ([`host_readiness`]).
//!
//! This module must not read anything but the data files, nor touch the store or the
//! network.

mod config;
mod data;
mod estate;
mod factor;
mod input;
mod model;
mod readiness;
mod result;
mod scenario;

#[cfg(test)]
mod tests;

pub use config::{
    CarbonConfig, DEFAULT_READINESS_PROFILE, DEFAULT_UNKNOWN_ABOVE_RATIO, HypervisorHostConfig,
    ONPREM, OnFail, Problem, ReadinessConfig, ScenarioConfig, ScenarioKind, SiteConfig, Sizing,
};
pub use data::{
    Archetype, Archetypes, CarbonData, CloudCatalogue, CpuMatch, CpuRow, CpuTable, DATA_FILES,
    DataError, GpuClass, GpuRow, GpuTable, Grid, GridYear, Instance, MatchConfidence, Method,
    Microarch, Microarchs, Platform, Provider, ReadinessCondition, ReadinessRule, Region, Segment,
};
pub use estate::{
    Candidate, EstateSummary, PlacedCount, READINESS_ORDER, ReadinessCounts, ScenarioTotals,
    Totals, candidates, summarise,
};
pub use factor::{End, Factor, FactorRef, Factors, Param, Text};
pub use input::{
    BYTES_PER_GIB, BYTES_PER_TB, CpuInput, DiskInput, Distribution, GpuInput, HostInput, HostKind,
    MeasuredPower, Media, Readiness, UtilisationInput, covered_seconds, non_overlapping,
};
pub use model::{Estimator, WhatIf, estimate};

/// The least RAPL `psys` or `package` power, watts, taken as a measurement; below it the
/// host is modelled (note `measured_implausible`). An idle server package draws
/// 10–40 W, a laptop's 1–3 W.
pub const MIN_PLAUSIBLE_RAPL_WATTS: f64 = 0.5;
pub use readiness::{HostReadiness, ReadinessReason, host_readiness};
pub use result::{
    CompactEstimate, CpuMatchInfo, HostEstimate, Note, OnPrem, OnPremMethod, ScenarioResult,
};
