//! The reference data of the carbon model (`config/data/*.toml`), loaded and validated
//! into one [`CarbonData`].
//!
//! Every problem in every file is reported, each located as `FILE:LINE:COL: `key`:
//! message` (the shared [`located`] diagnostics). This module owns reading and
//! validating the files and the lookups on them (CPU and GPU matching, catalogues); it
//! must not compute an estimate.

mod cloud;
mod cpu;
mod method;
mod raw;

use std::collections::BTreeSet;
use std::path::Path;

use estate_agent::config::located::{self, ConfigError};

pub use cloud::{CloudCatalogue, Grid, Instance, Platform, Provider, Region};
pub use cpu::{CpuMatch, CpuRow, CpuTable, MatchConfidence, Segment};
pub use method::{
    Archetype, Archetypes, GpuClass, GpuRow, GpuTable, GridYear, Method, Microarch, Microarchs,
    ReadinessCondition, ReadinessRule,
};

use crate::carbon::Readiness;

/// The data files, in the order they are loaded (later files refer to earlier ones).
pub const DATA_FILES: [&str; 10] = [
    "carbon-method.toml",
    "grid-uk.toml",
    "microarchitectures.toml",
    "cpu-power.toml",
    "gpu-power.toml",
    "archetypes.toml",
    "cloud-aws.toml",
    "cloud-azure.toml",
    "cloud-gcp.toml",
    "cloud-regions.toml",
];

/// Every table the carbon model uses, validated.
#[derive(Debug, Clone)]
pub struct CarbonData {
    /// Method scalars, readiness rules and confidence bands (`carbon-method.toml`).
    pub method: Method,
    /// UK electricity factors by year, oldest first (`grid-uk.toml`).
    pub grid_uk: Vec<GridYear>,
    /// Microarchitectures and their per-vCPU watts (`microarchitectures.toml`).
    pub microarchs: Microarchs,
    /// CPU models and family rules (`cpu-power.toml`).
    pub cpus: CpuTable,
    /// GPU power (`gpu-power.toml`).
    pub gpus: GpuTable,
    /// Defaults by chassis (`archetypes.toml`).
    pub archetypes: Archetypes,
    /// AWS, Azure and GCP, in that order (`cloud-*.toml`).
    pub clouds: Vec<CloudCatalogue>,
    /// Cloud regions (`cloud-regions.toml`).
    pub regions: Vec<Region>,
}

/// The data could not be loaded: every problem in every file.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct DataError(pub Vec<ConfigError>);

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn keep<T>(errors: &mut Vec<ConfigError>, r: Result<T, ConfigError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

impl CarbonData {
    /// Reads and validates every file of [`DATA_FILES`] in `dir`.
    pub fn load(dir: &Path) -> Result<CarbonData, DataError> {
        let mut texts = Vec::with_capacity(DATA_FILES.len());
        let mut errors = Vec::new();
        for name in DATA_FILES {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => texts.push((path.display().to_string(), text)),
                Err(source) => {
                    errors.push(ConfigError::Read {
                        path: path.display().to_string(),
                        source,
                    });
                    texts.push((path.display().to_string(), String::new()));
                }
            }
        }
        if !errors.is_empty() {
            return Err(DataError(errors));
        }
        Self::parse(&texts)
    }

    /// Validates the texts of the [`DATA_FILES`], given in that order as (origin, text).
    pub fn parse(files: &[(String, String)]) -> Result<CarbonData, DataError> {
        let mut errors = Vec::new();
        let text = |i: usize| {
            files
                .get(i)
                .map_or(("", ""), |(o, t)| (o.as_str(), t.as_str()))
        };

        let (o, t) = text(0);
        let method = keep(&mut errors, located::parse(t, o, method::validate_method)).flatten();
        let (o, t) = text(1);
        let grid_uk = keep(&mut errors, located::parse(t, o, method::validate_grid));
        let (o, t) = text(2);
        let microarchs = keep(
            &mut errors,
            located::parse(t, o, method::validate_microarchs),
        );
        let names: Option<BTreeSet<String>> = microarchs.as_ref().map(Microarchs::names);
        let (o, t) = text(3);
        let cpus = keep(
            &mut errors,
            located::parse(t, o, |raw, issues| {
                cpu::validate(raw, issues, names.as_ref(), microarchs.as_ref())
            }),
        );
        let (o, t) = text(4);
        let gpus = keep(&mut errors, located::parse(t, o, method::validate_gpus));
        let (o, t) = text(5);
        let archetypes = keep(
            &mut errors,
            located::parse(t, o, method::validate_archetypes),
        )
        .flatten();
        let mut clouds = Vec::new();
        for (i, provider) in [(6, Provider::Aws), (7, Provider::Azure), (8, Provider::Gcp)] {
            let (o, t) = text(i);
            if let Some(c) = keep(
                &mut errors,
                located::parse(t, o, |raw, issues| {
                    cloud::validate_catalogue(raw, issues, provider, microarchs.as_ref())
                }),
            )
            .flatten()
            {
                clouds.push(c);
            }
        }
        let (o, t) = text(9);
        let regions = keep(&mut errors, located::parse(t, o, cloud::validate_regions));

        match (method, grid_uk, microarchs, cpus, gpus, archetypes, regions) {
            (
                Some(method),
                Some(grid_uk),
                Some(microarchs),
                Some(cpus),
                Some(gpus),
                Some(a),
                Some(r),
            ) if errors.is_empty() => Ok(CarbonData {
                method,
                grid_uk,
                microarchs,
                cpus,
                gpus,
                archetypes: a,
                clouds,
                regions: r,
            }),
            _ => Err(DataError(errors)),
        }
    }

    /// The UK factor for `year`, or the latest when `year` is `None`.
    pub fn uk_factor(&self, year: Option<i32>) -> Option<&GridYear> {
        match year {
            Some(y) => self.grid_uk.iter().find(|g| g.year == y),
            None => self.grid_uk.last(),
        }
    }

    /// The catalogue of a provider.
    pub fn cloud(&self, provider: Provider) -> Option<&CloudCatalogue> {
        self.clouds.iter().find(|c| c.provider == provider)
    }

    /// A provider's region.
    pub fn region(&self, provider: Provider, name: &str) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.provider == provider && r.name.as_str() == name)
    }

    /// Matches a CPU brand string (see [`CpuTable::match_brand`]).
    pub fn match_cpu(&self, brand: &str) -> CpuMatch<'_> {
        self.cpus.match_brand(brand, &self.microarchs)
    }

    /// The readiness rules' outcome for one condition, if a rule names it.
    pub(crate) fn readiness_for(&self, condition: ReadinessCondition) -> Option<Readiness> {
        self.method
            .readiness
            .iter()
            .find(|r| r.condition == condition)
            .map(|r| r.outcome)
    }
}
