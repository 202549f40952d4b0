//! Operating system section.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Known;

/// The operating system and its patch state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Os {
    /// OS family: `linux`, `windows`, `macos`, ...
    pub family: String,
    /// `ID` from os-release (e.g. `debian`, `ubuntu`, `rhel`), or `windows`.
    pub id: String,
    /// `ID_LIKE` from os-release, split on spaces.
    #[serde(default)]
    pub id_like: Vec<String>,
    /// Human-readable name (`PRETTY_NAME`, else `NAME`).
    pub name: String,
    /// `VERSION_ID` (e.g. `12`, `22.04`, `9.4`), or the Windows version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_codename: Option<String>,
    /// Build number (Windows) or `BUILD_ID` (os-release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// `SUPPORT_END` from os-release, when the distribution publishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_end: Option<NaiveDate>,
    /// Kernel release (e.g. `6.1.0-18-amd64`).
    pub kernel: String,
    /// Kernel version string (build details), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// Machine architecture (e.g. `x86_64`, `aarch64`).
    pub arch: String,
    /// IANA time zone (e.g. `Europe/London`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// When the host booted.
    pub boot_time: DateTime<Utc>,
    /// Seconds since boot at collection time (volatile: not part of the inventory hash).
    pub uptime_secs: u64,
    /// When the OS was installed, where there is evidence (the installer's leftover
    /// files, else the root filesystem's creation time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_time: Option<DateTime<Utc>>,
    /// Whether a reboot is required to finish applying updates.
    pub reboot_required: Known<bool>,
    /// Packages that asked for the reboot (`/run/reboot-required.pkgs`).
    #[serde(default)]
    pub reboot_required_packages: Vec<String>,
    /// When a package was last installed or upgraded (package manager logs, else the
    /// package database's modification time).
    pub last_package_change: Known<DateTime<Utc>>,
    /// Updates waiting to be installed, where they can be known without the network.
    pub pending_updates: Known<PendingUpdates>,
}

/// Updates that are available but not installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PendingUpdates {
    /// Number of updates available.
    pub count: u32,
    /// How many of them are security updates, where the source says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_count: Option<u32>,
    /// Where the numbers came from (a file path or API).
    pub source: String,
}
