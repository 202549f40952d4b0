//! `facts.security`: firewall, disk encryption, Secure Boot, time sync, SSH server
//! settings and antivirus/EDR, and the items only the Windows agent reads (SMBv1, Remote
//! Desktop and NLA, the local Administrators, antivirus state and signature age, the
//! TPM). (Automatic updates are in `facts.patching`.)

use estate_protocol::{AntivirusProduct, SecureBoot, Security};
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
    /// Windows: whether a registered antivirus product has real-time scanning on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub antivirus_enabled: Option<bool>,
    /// Windows: days since the signatures of the freshest product that is on were
    /// updated; absent when no product that is on says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub antivirus_signature_age_days: Option<u32>,
    /// Windows: whether a product that is on says its definitions are up to date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub antivirus_up_to_date: Option<bool>,
    /// Windows: whether the SMB1 server accepts SMBv1 sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_server_enabled: Option<bool>,
    /// Windows: whether the SMB1 client driver is installed and not disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_client_enabled: Option<bool>,
    /// Windows: whether either SMBv1 side is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_enabled: Option<bool>,
    /// Windows: what the SMBv1 conclusion rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smb1_evidence: Option<Vec<String>>,
    /// Windows: whether Remote Desktop accepts connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp_enabled: Option<bool>,
    /// Windows: whether Remote Desktop requires Network Level Authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp_nla_required: Option<bool>,
    /// Windows: what the Remote Desktop conclusion rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rdp_evidence: Option<Vec<String>>,
    /// Windows: members of the local Administrators group (`DOMAIN\name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_admins: Option<Vec<String>>,
    /// Windows: how many members the local Administrators group has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_admin_count: Option<u32>,
    /// Whether a TPM is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_present: Option<bool>,
    /// The TPM specification version (`2.0`, `1.2`); absent without a TPM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm_version: Option<String>,
    /// Whether a TPM 2.0 is present (what Windows 11 requires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm2: Option<bool>,
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
    let win = s.and_then(|s| s.windows.as_ref());
    let smb1 = win.and_then(|w| known(&w.smb1, "security.smb1", unknown));
    let rdp = win.and_then(|w| known(&w.remote_desktop, "security.remote_desktop", unknown));
    let admins = win.and_then(|w| {
        known(
            &w.local_administrators,
            "security.local_administrators",
            unknown,
        )
    });
    let tpm = win.and_then(|w| known(&w.tpm, "security.tpm", unknown));
    let on: Option<Vec<&AntivirusProduct>> =
        win.map(|w| w.antivirus_products.iter().filter(|p| p.enabled).collect());
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
        antivirus_enabled: on.as_ref().map(|on| !on.is_empty()),
        antivirus_signature_age_days: on
            .as_ref()
            .and_then(|on| on.iter().filter_map(|p| p.signature_age_days).min()),
        antivirus_up_to_date: on.as_ref().and_then(|on| {
            let said: Vec<bool> = on.iter().filter_map(|p| p.up_to_date).collect();
            (!said.is_empty()).then(|| said.contains(&true))
        }),
        smb1_server_enabled: smb1.map(|v| v.server),
        smb1_client_enabled: smb1.map(|v| v.client),
        smb1_enabled: smb1.map(|v| v.server || v.client),
        smb1_evidence: smb1.map(|v| v.evidence.clone()),
        rdp_enabled: rdp.map(|r| r.enabled),
        rdp_nla_required: rdp.map(|r| r.nla_required),
        rdp_evidence: rdp.map(|r| r.evidence.clone()),
        local_admin_count: admins.map(|a| u32::try_from(a.members.len()).unwrap_or(u32::MAX)),
        local_admins: admins.map(|a| a.members.clone()),
        tpm_present: tpm.map(|t| t.present),
        tpm_version: tpm.and_then(|t| t.version.clone()),
        tpm2: tpm.map(|t| t.present && t.version.as_deref().is_some_and(|v| v.starts_with('2'))),
    }
}
