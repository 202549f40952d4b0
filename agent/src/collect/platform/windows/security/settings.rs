//! Secure Boot, time synchronisation, automatic updates and the OpenSSH server, from the
//! registry.
//!
//! - Secure Boot: `Control\PEFirmwareType` (1 legacy BIOS, 2 UEFI) and
//!   `Control\SecureBoot\State\UEFISecureBootEnabled` (what `Confirm-SecureBootUEFI`
//!   reads).
//! - Time: the Windows Time service (`Services\W32Time`: not disabled) and its
//!   `Parameters\Type` (`NT5DS` domain hierarchy, `NTP`, `AllSync`; `NoSync` is off).
//! - Automatic updates: Group Policy under `Policies\Microsoft\Windows\WindowsUpdate\AU`
//!   (`NoAutoUpdate` = 1 off; `AUOptions` 2 "notify only" off, 3/4/5/7 on), the Windows
//!   Update service not disabled; with no policy, Windows installs updates automatically.
//! - SSH: an OpenSSH server is installed when the `sshd` service exists; its
//!   `sshd_config` is not read yet.

use estate_protocol::{AutomaticUpdates, Known, SecureBoot, TimeSync};

use crate::collect::platform::windows::registry::{RegRead, Registry};

/// Holds `PEFirmwareType`.
pub const CONTROL: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control";
/// Holds `UEFISecureBootEnabled`.
pub const SECURE_BOOT: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecureBoot\State";
/// The Windows Time service.
pub const W32TIME: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\W32Time";
/// Its parameters.
pub const W32TIME_PARAMETERS: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\W32Time\Parameters";
/// Windows Update policy.
pub const WU_POLICY: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate";
/// Automatic Updates policy.
pub const AU_POLICY: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU";
/// The Windows Update service.
pub const WUAUSERV: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\wuauserv";
/// The OpenSSH server service.
pub const SSHD: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\sshd";

/// The keys read.
pub const READS: &[RegRead] = &[
    RegRead::key(CONTROL),
    RegRead::key(SECURE_BOOT),
    RegRead::key(W32TIME),
    RegRead::key(W32TIME_PARAMETERS),
    RegRead::key(WU_POLICY),
    RegRead::key(AU_POLICY),
    RegRead::key(WUAUSERV),
    RegRead::key(SSHD),
];

/// Secure Boot's state.
pub fn secure_boot(reg: &Registry) -> Known<SecureBoot> {
    let firmware = reg.dword(CONTROL, "PEFirmwareType");
    if firmware == Some(1) {
        return Known::Known {
            value: SecureBoot::NotUefi,
        };
    }
    match reg.dword(SECURE_BOOT, "UEFISecureBootEnabled") {
        Some(1) => Known::Known {
            value: SecureBoot::Enabled,
        },
        Some(_) => Known::Known {
            value: SecureBoot::Disabled,
        },
        None if firmware == Some(2) => Known::Known {
            value: SecureBoot::Disabled,
        },
        None => Known::unknown(
            "neither PEFirmwareType nor SecureBoot\\State\\UEFISecureBootEnabled is set",
        ),
    }
}

/// Time synchronisation by the Windows Time service.
pub fn time_sync(reg: &Registry) -> Known<TimeSync> {
    if !reg.key_exists(W32TIME) {
        return Known::unknown("the Windows Time service (W32Time) is not installed");
    }
    let disabled = reg.dword(W32TIME, "Start") == Some(4);
    let kind = reg.string(W32TIME_PARAMETERS, "Type").unwrap_or("NT5DS");
    Known::Known {
        value: TimeSync {
            active: !disabled && !kind.eq_ignore_ascii_case("NoSync"),
            service: Some("W32Time".to_owned()),
            synchronised: None,
        },
    }
}

/// Whether updates install automatically.
pub fn automatic_updates(reg: &Registry) -> Known<AutomaticUpdates> {
    let mut evidence = Vec::new();
    let mut enabled = true;
    let no_auto = reg.dword(AU_POLICY, "NoAutoUpdate");
    let options = reg.dword(AU_POLICY, "AUOptions");
    match (no_auto, options) {
        (Some(1), _) => {
            enabled = false;
            evidence.push("Group Policy AU\\NoAutoUpdate = 1".to_owned());
        }
        (_, Some(o)) => {
            let words = match o {
                2 => "notify before download",
                3 => "download automatically, notify to install",
                4 => "download automatically and schedule the install",
                5 => "local administrators choose",
                7 => "download automatically, notify to install, notify to restart",
                _ => "unknown option",
            };
            if o == 2 {
                enabled = false;
            }
            evidence.push(format!("Group Policy AU\\AUOptions = {o} ({words})"));
        }
        _ => evidence.push(
            "no Windows Update policy: Windows downloads and installs updates automatically"
                .to_owned(),
        ),
    }
    if reg.dword(AU_POLICY, "UseWUServer") == Some(1)
        && let Some(server) = reg.string(WU_POLICY, "WUServer")
    {
        evidence.push(format!("updates from WSUS {server}"));
    }
    if reg.dword(WUAUSERV, "Start") == Some(4) {
        enabled = false;
        evidence.push("the Windows Update service (wuauserv) is disabled".to_owned());
    }
    Known::Known {
        value: AutomaticUpdates {
            enabled,
            mechanism: Some("windows-update".to_owned()),
            evidence,
        },
    }
}

/// Why the SSH settings are unknown on Windows.
pub fn ssh_reason(reg: &Registry) -> String {
    if reg.key_exists(SSHD) {
        "OpenSSH server installed (sshd service); its sshd_config is not read on Windows yet"
            .to_owned()
    } else {
        "no OpenSSH server installed (no sshd service)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::registry::RegValue;

    #[test]
    fn secure_boot_states() {
        let mut r = Registry::new();
        assert!(matches!(secure_boot(&r), Known::Unknown { .. }));
        r.set(CONTROL, "PEFirmwareType", RegValue::Dword(2));
        assert_eq!(
            secure_boot(&r),
            Known::Known {
                value: SecureBoot::Disabled
            }
        );
        r.set(SECURE_BOOT, "UEFISecureBootEnabled", RegValue::Dword(1));
        assert_eq!(
            secure_boot(&r),
            Known::Known {
                value: SecureBoot::Enabled
            }
        );
        r.set(CONTROL, "PEFirmwareType", RegValue::Dword(1));
        assert_eq!(
            secure_boot(&r),
            Known::Known {
                value: SecureBoot::NotUefi
            }
        );
    }

    #[test]
    fn update_policies() {
        let mut r = Registry::new();
        let on = |r: &Registry| automatic_updates(r).value().unwrap().enabled;
        assert!(on(&r));
        r.set(AU_POLICY, "AUOptions", RegValue::Dword(4));
        r.set(AU_POLICY, "UseWUServer", RegValue::Dword(1));
        r.set(
            WU_POLICY,
            "WUServer",
            RegValue::Sz("https://wsus.example.gov.uk:8531".into()),
        );
        assert!(on(&r));
        assert_eq!(
            automatic_updates(&r).value().unwrap().evidence[1],
            "updates from WSUS https://wsus.example.gov.uk:8531"
        );
        r.set(AU_POLICY, "AUOptions", RegValue::Dword(2));
        assert!(!on(&r));
        r.set(AU_POLICY, "AUOptions", RegValue::Dword(4));
        r.set(WUAUSERV, "Start", RegValue::Dword(4));
        assert!(!on(&r));
        r.set(WUAUSERV, "Start", RegValue::Dword(3));
        r.set(AU_POLICY, "NoAutoUpdate", RegValue::Dword(1));
        assert!(!on(&r));
    }

    #[test]
    fn time_sync_and_ssh() {
        let mut r = Registry::new();
        assert!(matches!(time_sync(&r), Known::Unknown { .. }));
        r.set(W32TIME, "Start", RegValue::Dword(3));
        assert!(
            time_sync(&r).value().unwrap().active,
            "trigger-started, domain hierarchy"
        );
        r.set(W32TIME_PARAMETERS, "Type", RegValue::Sz("NoSync".into()));
        assert!(!time_sync(&r).value().unwrap().active);
        assert!(ssh_reason(&r).starts_with("no OpenSSH"));
        r.set(SSHD, "Start", RegValue::Dword(2));
        assert!(ssh_reason(&r).starts_with("OpenSSH server installed"));
    }
}
