//! Installed software.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Installed packages from every package database found on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Software {
    /// Package databases that were read (e.g. `dpkg`, `rpm`, `windows-registry`).
    pub sources: Vec<String>,
    /// Packages, sorted by name then version.
    pub packages: Vec<Package>,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Version as the package manager writes it (epoch and release included).
    pub version: String,
    /// Architecture (e.g. `amd64`, `x86_64`, `noarch`), where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Which database it came from (`dpkg`, `rpm`, ...).
    pub source: String,
    /// Installed size, bytes, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_size_bytes: Option<u64>,
    /// Vendor or publisher, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// When it was installed, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_time: Option<DateTime<Utc>>,
}
