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
    /// What the Windows agent reads beyond the items above (SMBv1, Remote Desktop, the
    /// local Administrators group, each antivirus product's state, the TPM); absent from
    /// other agents and from agents older than these fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<WindowsSecurity>,
}

/// Security items read on Windows. Each is known with its evidence, or unknown with the
/// reason (the TPM needs administrator rights).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowsSecurity {
    /// SMB version 1.
    pub smb1: Known<Smb1>,
    /// Remote Desktop.
    pub remote_desktop: Known<RemoteDesktop>,
    /// The local Administrators group (`S-1-5-32-544`).
    pub local_administrators: Known<LocalAdministrators>,
    /// Every antivirus product registered (Security Center, Defender's own status, the
    /// agent's configured list), on or off, with its signature state.
    #[serde(default)]
    pub antivirus_products: Vec<AntivirusProduct>,
    /// The Trusted Platform Module (`Win32_Tpm`).
    pub tpm: Known<Tpm>,
}

/// SMB version 1 state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Smb1 {
    /// The SMB1 server accepts SMB1 sessions.
    pub server: bool,
    /// The SMB1 client driver is installed and not disabled.
    pub client: bool,
    /// What the conclusion rests on (drivers and settings).
    pub evidence: Vec<String>,
}

/// Remote Desktop state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteDesktop {
    /// Remote Desktop accepts connections.
    pub enabled: bool,
    /// Network Level Authentication is required before a session is created.
    pub nla_required: bool,
    /// The listener's TCP port, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// What the conclusion rests on (settings and Group Policy).
    pub evidence: Vec<String>,
}

/// The local Administrators group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocalAdministrators {
    /// Members (`DOMAIN\name`), sorted; a nested group counts as one member.
    pub members: Vec<String>,
    /// Whether the built-in Administrator account (RID 500) is a member.
    pub builtin_administrator: bool,
}

/// One antivirus product and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AntivirusProduct {
    /// Its name (`Windows Defender`, `Sophos Intercept X`).
    pub name: String,
    /// Real-time scanning is on.
    pub enabled: bool,
    /// The product says its definitions are up to date, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_to_date: Option<bool>,
    /// Whole days since the signatures were last updated, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_age_days: Option<u32>,
    /// Where the agent learnt of it (`security_center`, `defender`, `process`).
    pub source: String,
}

/// A Trusted Platform Module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tpm {
    /// Whether a TPM is present.
    pub present: bool,
    /// The TPM specification version (`2.0`, `1.2`), where present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The manufacturer id (`INTC`, `IFX`, `NTC`; `MSFT` for a virtual TPM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Whether the TPM is enabled, activated and owned (ready for use), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
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
