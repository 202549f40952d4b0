//! `facts.security`: firewall, disk encryption, Secure Boot, time sync, SSH server
//! settings and antivirus/EDR. (Automatic updates are in `facts.patching`.)

use estate_protocol::{SecureBoot, Security};
use serde::Serialize;

use super::{Unknown, known};

/// Security posture. A value the agent reported as unknown is absent (its reason is in
/// `data.unknown`); enumerations say `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecurityFacts {
    /// Whether a host firewall is active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall_active: Option<bool>,
    /// What the firewall conclusion rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firewall_evidence: Option<Vec<String>>,
    /// Mount points backed by an encrypted device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_mounts: Option<Vec<String>>,
    /// Mount points of block-device filesystems not backed by an encrypted device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unencrypted_mounts: Option<Vec<String>>,
    /// `unencrypted_mounts` without `/boot` and what is under it (which hold no data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unencrypted_data_mounts: Option<Vec<String>>,
    /// Whether `/` is on an encrypted device; absent when `/` is in neither list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_encrypted: Option<bool>,
    /// Whether `unencrypted_data_mounts` is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_encryption_complete: Option<bool>,
    /// `enabled`, `disabled`, `not_uefi` (legacy BIOS boot) or `unknown`.
    pub secure_boot: &'static str,
    /// Whether Secure Boot is enforcing (false for legacy BIOS boot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_boot_enabled: Option<bool>,
    /// Whether the host booted through UEFI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uefi: Option<bool>,
    /// Whether a time synchronisation service is active or enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_sync_active: Option<bool>,
    /// Which time sync service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_sync_service: Option<String>,
    /// Whether the kernel reports the clock as synchronised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_synchronised: Option<bool>,
    /// Effective `PermitRootLogin` (`yes`, `no`, `prohibit-password`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_permit_root_login: Option<String>,
    /// Whether root may log in over SSH at all (`PermitRootLogin` is not `no`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_root_login: Option<bool>,
    /// Whether root may log in over SSH with a password (`PermitRootLogin yes` and
    /// password authentication on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_root_password_login: Option<bool>,
    /// Effective `PasswordAuthentication`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_password_authentication: Option<bool>,
    /// Antivirus/EDR products found (from the agent's configured list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub antivirus: Option<Vec<String>>,
    /// Whether at least one antivirus/EDR product was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub antivirus_present: Option<bool>,
}

fn is_boot(mount: &str) -> bool {
    mount == "/boot" || mount.starts_with("/boot/")
}

pub(super) fn derive(security: Option<&Security>, unknown: &mut Unknown) -> SecurityFacts {
    let s = security;
    let firewall = s.and_then(|s| known(&s.firewall, "security.firewall", unknown));
    let encryption = s.and_then(|s| known(&s.disk_encryption, "security.disk_encryption", unknown));
    let boot = s
        .and_then(|s| known(&s.secure_boot, "security.secure_boot", unknown))
        .copied();
    let time = s.and_then(|s| known(&s.time_sync, "security.time_sync", unknown));
    let ssh = s.and_then(|s| known(&s.ssh, "security.ssh", unknown));
    let av = s.and_then(|s| known(&s.antivirus, "security.antivirus", unknown));
    let data_mounts = encryption.map(|e| {
        e.unencrypted_mounts
            .iter()
            .filter(|m| !is_boot(m))
            .cloned()
            .collect::<Vec<_>>()
    });
    let root_encrypted = encryption.and_then(|e| {
        if e.encrypted_mounts.iter().any(|m| m == "/") {
            Some(true)
        } else if e.unencrypted_mounts.iter().any(|m| m == "/") {
            Some(false)
        } else {
            None
        }
    });
    SecurityFacts {
        firewall_active: firewall.map(|f| f.active),
        firewall_evidence: firewall.map(|f| f.evidence.clone()),
        encrypted_mounts: encryption.map(|e| e.encrypted_mounts.clone()),
        unencrypted_mounts: encryption.map(|e| e.unencrypted_mounts.clone()),
        disk_encryption_complete: data_mounts.as_ref().map(Vec::is_empty),
        unencrypted_data_mounts: data_mounts,
        root_encrypted,
        secure_boot: match boot {
            Some(SecureBoot::Enabled) => "enabled",
            Some(SecureBoot::Disabled) => "disabled",
            Some(SecureBoot::NotUefi) => "not_uefi",
            None => "unknown",
        },
        secure_boot_enabled: boot.map(|b| b == SecureBoot::Enabled),
        uefi: boot.map(|b| b != SecureBoot::NotUefi),
        time_sync_active: time.map(|t| t.active),
        time_sync_service: time.and_then(|t| t.service.clone()),
        clock_synchronised: time.and_then(|t| t.synchronised),
        ssh_permit_root_login: ssh.map(|c| c.permit_root_login.clone()),
        ssh_root_login: ssh.map(|c| c.permit_root_login != "no"),
        ssh_root_password_login: ssh
            .map(|c| c.permit_root_login == "yes" && c.password_authentication),
        ssh_password_authentication: ssh.map(|c| c.password_authentication),
        antivirus_present: av.map(|list| !list.is_empty()),
        antivirus: av.cloned(),
    }
}
