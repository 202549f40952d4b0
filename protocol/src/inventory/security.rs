//! Security posture.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Known;

/// Security posture facts. Each is known with its evidence, or unknown with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Host firewall.
    pub firewall: Known<Firewall>,
    /// Disk encryption of mounted filesystems.
    pub disk_encryption: Known<DiskEncryption>,
    /// UEFI Secure Boot state.
    pub secure_boot: Known<SecureBoot>,
    /// Time synchronisation.
    pub time_sync: Known<TimeSync>,
    /// SSH server settings, when an SSH server is configured.
    pub ssh: Known<SshConfig>,
    /// Automatic updates.
    pub automatic_updates: Known<AutomaticUpdates>,
    /// Antivirus / EDR products found (from the agent's configured list).
    pub antivirus: Known<Vec<String>>,
}

/// Host firewall state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Firewall {
    /// Whether a firewall is active (rules loaded or a firewall service enabled).
    pub active: bool,
    /// Firewalls found and their state (e.g. `ufw enabled`, `nftables 12 rules`).
    pub evidence: Vec<String>,
}

/// Disk encryption state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiskEncryption {
    /// Mount points backed by an encrypted device.
    pub encrypted_mounts: Vec<String>,
    /// Mount points of block-device filesystems not backed by an encrypted device.
    pub unencrypted_mounts: Vec<String>,
}

/// Secure Boot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecureBoot {
    /// UEFI with Secure Boot enforcing.
    Enabled,
    /// UEFI with Secure Boot off.
    Disabled,
    /// Legacy BIOS boot: Secure Boot does not apply.
    NotUefi,
}

/// Time synchronisation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeSync {
    /// Whether a time sync service is active or enabled.
    pub active: bool,
    /// Which service (e.g. `chronyd`, `systemd-timesyncd`, `ntpd`), where found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Whether the kernel reports the clock as synchronised, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronised: Option<bool>,
}

/// Effective SSH server settings (after `Include`d files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SshConfig {
    /// `PermitRootLogin` (e.g. `yes`, `no`, `prohibit-password`), the default if unset.
    pub permit_root_login: String,
    /// `PasswordAuthentication`, the default if unset.
    pub password_authentication: bool,
    /// The files that set them, in the order read.
    pub files: Vec<String>,
}

/// Automatic update configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomaticUpdates {
    /// Whether automatic updates are configured on.
    pub enabled: bool,
    /// The mechanism (e.g. `unattended-upgrades`, `dnf-automatic`, `windows-update`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    /// What the conclusion rests on (file and setting).
    pub evidence: Vec<String>,
}
