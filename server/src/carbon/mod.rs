//! Carbon: energy and emissions per host on-premises, and after a move to the cloud or
//! a retirement, as pure functions of the host's report, the reference data in
//! `config/data/` and the `[carbon]` settings. The method (v1) is written out in
//! `docs/methodology.md`.
//!
//! Use: load [`CarbonData`] once ([`CarbonData::load`], the only I/O here), compile it
//! with the settings into an [`Estimator`], build a [`HostInput`] per host
//! ([`HostInput::from_report`]) and call [`estimate`]; [`summarise`] adds the results up
//! for the estate. Every result lists the factors it used with their unit, source and
//! version, and carries a low and a high figure from the parameters' ranges.
//!
//! This module must not read anything but the data files, nor touch the store or the
//! network.

mod config;
mod data;
mod estate;
mod factor;
mod input;
mod model;
mod result;
mod scenario;

#[cfg(test)]
mod tests;

pub use config::{
    CarbonConfig, HypervisorHostConfig, Problem, ScenarioConfig, ScenarioKind, SiteConfig, Sizing,
};
pub use data::{
    Archetype, Archetypes, CarbonData, CloudCatalogue, CpuMatch, CpuRow, CpuTable, DATA_FILES,
    DataError, GpuClass, GpuRow, GpuTable, Grid, GridYear, Instance, MatchConfidence, Method,
    Microarch, Microarchs, Platform, Provider, ReadinessCondition, ReadinessRule, Region, Segment,
};
pub use estate::{Candidate, EstateSummary, ReadinessCounts, ScenarioTotals, Totals, summarise};
pub use factor::{End, Factor, FactorRef, Factors, Param, Text};
pub use input::{
    BYTES_PER_GIB, BYTES_PER_TB, CpuInput, DiskInput, Distribution, GpuInput, HostInput, HostKind,
    MeasuredPower, Media, Readiness, UtilisationInput,
};
pub use model::{Estimator, WhatIf, estimate};
pub use result::{CpuMatchInfo, HostEstimate, Note, OnPrem, OnPremMethod, ScenarioResult};
