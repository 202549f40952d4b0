//! The check engine's pure core: health checks written in TOML with CEL conditions
//! (`config/checks/*.toml`), audit profiles (`config/profiles/*.toml`), waivers
//! (`config/waivers.toml`), evaluation of a host's facts, scoring, and the fixture
//! runner. `docs/checks.md` is the author's guide.
//!
//! - Loading ([`ChecksConfig::load`], [`Catalogue::load`], [`Profiles::load`],
//!   [`Waivers::load`]) validates everything and compiles every expression once,
//!   reporting *all* problems, each as `FILE:LINE:COL: `key`: message` ([`LoadError`]).
//! - Evaluation ([`Plan::evaluate`], [`Plan::evaluate_all`], [`evaluate_host`]) is a pure
//!   function of (facts, catalogue, profile, waivers, now). Facts are read in place
//!   (`json_view.rs`); most expressions run in a direct evaluator (`fast.rs`) that falls
//!   back to cel for anything else or on any doubt.
//! - Scoring ([`score_host`], [`score_estate`], [`host_improvements`],
//!   [`estate_improvements`]) is a pure function of the results.
//!
//! This module must not do HTTP, touch the store, or read anything but its config files
//! and fixture files. Facts are a JSON document built elsewhere (`crate::facts`); this
//! module does not depend on their schema.

mod catalogue;
mod diag;
mod eval;
mod expr;
mod fast;
mod fixtures;
mod json_view;
mod model;
mod profile;
mod score;
mod waiver;

#[cfg(test)]
mod fast_tests;
#[cfg(test)]
mod score_tests;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use catalogue::{CREDIT_TOLERANCE, Catalogue, DEFAULT_FIXTURE_NOW};
pub use diag::{ConfigError, ConfigIssue, LoadError};
pub use eval::{
    CheckResult, HostEvaluation, HostRef, Plan, PlannedCheck, Status, WaiverMatch, default_threads,
    evaluate_host,
};
pub use expr::{Expr, MAX_EVIDENCE_DEPTH, VARIABLES};
pub use fixtures::{
    Coverage, FixtureOutcome, FixtureReport, MissingFixture, differential, missing_fixtures,
    run_fixtures,
};
pub use model::{
    Category, Check, CheckId, Expect, Fixture, Param, Rule, Severity, SourceLoc, WEIGHT_CRITICAL,
    WEIGHT_HIGH, WEIGHT_INFO, WEIGHT_LOW, WEIGHT_MEDIUM,
};
pub use profile::{BASELINE, Override, Profile, Profiles, Selection};
pub use score::{
    Band, BandCounts, CheckTally, DEFAULT_AMBER_AT, DEFAULT_CRITICALITY_LABEL, DEFAULT_GREEN_AT,
    DEFAULT_HOST_WEIGHT, EstateHost, EstateImprovement, EstateScore, HostScore, Improvement,
    RawScoring, ScoringConfig, StatusCounts, Tally, counts_in_score, estate_improvements,
    host_improvements, score_estate, score_host,
};
pub use waiver::{Waiver, WaiverCounts, WaiverState, Waivers};

use diag::Diagnostics;

/// Where the check config lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksPaths {
    /// The catalogue directory (`config/checks`).
    pub checks_dir: PathBuf,
    /// The profiles directory (`config/profiles`), if any.
    pub profiles_dir: Option<PathBuf>,
    /// The waivers file (`config/waivers.toml`), if any.
    pub waivers_file: Option<PathBuf>,
}

impl ChecksPaths {
    /// The standard layout under a config directory: `checks/`, and `profiles/` and
    /// `waivers.toml` where they exist.
    pub fn under(config_dir: &Path) -> ChecksPaths {
        let profiles = config_dir.join("profiles");
        let waivers = config_dir.join("waivers.toml");
        ChecksPaths {
            checks_dir: config_dir.join("checks"),
            profiles_dir: profiles.is_dir().then_some(profiles),
            waivers_file: waivers.is_file().then_some(waivers),
        }
    }
}

/// The whole check config: catalogue, profiles and waivers, validated together.
#[derive(Debug, Clone)]
pub struct ChecksConfig {
    /// The checks.
    pub catalogue: Catalogue,
    /// The audit profiles.
    pub profiles: Profiles,
    /// The waivers.
    pub waivers: Waivers,
}

impl ChecksConfig {
    /// Loads and validates everything, reporting every problem in every file at once:
    /// profiles and waivers are checked against the checks that were found, even when
    /// some of those have errors of their own.
    pub fn load(paths: &ChecksPaths) -> Result<ChecksConfig, LoadError> {
        let mut diags = Diagnostics::default();
        let loaded = catalogue::load_dir(&paths.checks_dir, &mut diags);
        let profiles = match &paths.profiles_dir {
            Some(dir) => profile::load_dir(dir, &loaded.catalogue, &loaded.known, &mut diags),
            None => Profiles::default(),
        };
        let waivers = match &paths.waivers_file {
            Some(path) => match diag::SourceFile::read(path) {
                Ok(file) => waiver::parse_file(&file, &loaded.known, &mut diags),
                Err(e) => {
                    diags.read_error(path, e);
                    Waivers::none()
                }
            },
            None => Waivers::none(),
        };
        diags.finish(ChecksConfig {
            catalogue: loaded.catalogue,
            profiles,
            waivers,
        })
    }

    /// A plan for the profile called `name` (`baseline` always exists).
    pub fn plan(&self, profile: &str) -> Option<Plan> {
        self.profiles
            .get(profile)
            .map(|p| Plan::new(&self.catalogue, &p, &self.waivers))
    }
}
