//! The collector's offline commands: `checks test|list`, `audit`, `facts`, `estimate`,
//! `carbon`, `report` and `import`. They run the same pure cores as the collector
//! ([`crate::assess`]) on an agent report file, or on what the store keeps, without
//! starting a server.
//!
//! Each command's arguments are a `clap` struct defined here (so `main.rs` only parses
//! and dispatches); each runs against the writer it is given and returns a [`Verdict`]
//! or a [`CliError`], which `main.rs` maps to the exit status: 0 ok, 1 the audit or
//! fixtures failed, 2 a usage, config or input error. This module must not print to the
//! process's streams itself nor write to the store (`import` writes through
//! [`crate::import`]).

mod audit;
mod carbon;
mod catalogue;
mod hosts;
mod import;
mod render;
mod report;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use audit::{AuditArgs, AuditFormat, FactsArgs, audit, facts};
pub use carbon::{CarbonArgs, CarbonFormat, EstimateArgs, EstimateFormat, carbon, estimate};
pub use catalogue::{ChecksAction, ChecksArgs, ListArgs, TestArgs, checks};
pub use import::{ImportArgs, import};
pub use report::{ReportArgs, report};

use crate::assess::{AssessConfig, AssessError, Assessor};
use crate::config::{ConfigError, ServerConfig};

/// Exit status of a usage, config or input error.
pub const EXIT_ERROR: u8 = 2;

/// What a command concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// All good (exit 0).
    Ok,
    /// The audit is below its threshold, or fixtures failed (exit 1).
    Failed,
}

impl Verdict {
    /// The process exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Failed => 1,
        }
    }
}

/// Why a command could not run (exit [`EXIT_ERROR`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config file.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The check config, lifecycle table or carbon data and settings.
    #[error("{0}")]
    Assess(#[from] AssessError),
    /// A check catalogue given on the command line.
    #[error("{0}")]
    Checks(#[from] crate::checks::LoadError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A report file is not a valid agent report.
    #[error("{path}: not a valid agent report: {message}")]
    Report {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// The store could not be opened.
    #[error("{0}")]
    Open(#[from] crate::AppError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    /// An import could not be read or stored.
    #[error("{0}")]
    Import(#[from] crate::import::ImportError),
    /// A stored document could not be read.
    #[error("host `{host}`: stored {what} is not readable: {message}")]
    Stored {
        /// The host.
        host: String,
        /// Which document.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// An option's value is unusable (unknown host or scenario, ...).
    #[error("{0}")]
    Usage(String),
    /// The output could not be written.
    #[error("cannot write the output: {0}")]
    Write(#[from] std::io::Error),
}

impl CliError {
    /// The process exit status.
    pub fn exit_code(&self) -> u8 {
        EXIT_ERROR
    }

    /// Whether the message is a list of `FILE:LINE:COL: ...` problems (printed as they
    /// are, without the program's name in front).
    pub fn is_located(&self) -> bool {
        matches!(
            self,
            CliError::Config(_) | CliError::Assess(_) | CliError::Checks(_)
        )
    }
}

/// A ratio 0–1 given on the command line (for `clap`'s `value_parser`).
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        Ok(v) => Err(format!("{v} is outside 0–1")),
        Err(_) => Err(format!("`{text}` is not a number")),
    }
}

/// A time given on the command line: RFC 3339, or `now`.
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if text.trim() == "now" {
        return Ok(Utc::now());
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time or `now`: {e}"))
}

/// The collector config from `path`, or the defaults (embedded check config, no store)
/// when none is given.
fn server_config(path: Option<&Path>) -> Result<ServerConfig, CliError> {
    match path {
        Some(p) => Ok(ServerConfig::load(p)?),
        None => Ok(ServerConfig::default()),
    }
}

/// The assessment settings of `config`, with the profile given on the command line.
fn assess_config(config: &ServerConfig, profile: Option<&str>) -> AssessConfig {
    let mut assess = config.assess.clone();
    if let Some(name) = profile {
        assess.profile = name.to_owned();
        assess.origins.remove("checks.profile");
    }
    assess
}

/// Loads the assessor, every problem reported.
fn assessor(config: &AssessConfig) -> Result<Assessor, CliError> {
    Ok(Assessor::load(config)?)
}

/// A path as shown in messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}
