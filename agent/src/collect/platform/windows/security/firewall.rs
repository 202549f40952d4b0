//! Windows Defender Firewall: each profile's state, Group Policy first.
//!
//! A profile is on when `EnableFirewall` is 1 under the policy key
//! (`HKLM\SOFTWARE\Policies\Microsoft\WindowsFirewall\<Profile>`), else under the local
//! settings (`HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\
//! FirewallPolicy\<Profile>`, where the Private profile is called `StandardProfile`).
//! With the firewall service (`MpsSvc`) disabled no profile filters anything. The firewall
//! is `active` when every profile is on: a laptop whose Public profile is off is open on
//! every café network.

use estate_protocol::Firewall;

use crate::collect::platform::windows::registry::{RegRead, Registry};

/// Local profile settings.
pub const LOCAL: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy";
/// Group Policy profile settings.
pub const POLICY: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\WindowsFirewall";
/// The firewall service.
pub const SERVICE: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MpsSvc";

/// The keys read.
pub const READS: &[RegRead] = &[
    RegRead::children(LOCAL),
    RegRead::children(POLICY),
    RegRead::key(SERVICE),
];

/// One firewall profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `Domain`, `Private` or `Public`.
    pub name: &'static str,
    /// Whether it is on; `None` when neither key says.
    pub enabled: Option<bool>,
    /// Whether Group Policy set it.
    pub by_policy: bool,
}

/// The three profiles: (name, local key, policy key).
const PROFILES: &[(&str, &str, &str)] = &[
    ("Domain", "DomainProfile", "DomainProfile"),
    ("Private", "StandardProfile", "PrivateProfile"),
    ("Public", "PublicProfile", "PublicProfile"),
];

/// The profiles' states.
pub fn profiles(reg: &Registry) -> Vec<Profile> {
    PROFILES
        .iter()
        .map(|(name, local, policy)| {
            let by_policy = reg.dword(&format!(r"{POLICY}\{policy}"), "EnableFirewall");
            let local = reg.dword(&format!(r"{LOCAL}\{local}"), "EnableFirewall");
            Profile {
                name,
                enabled: by_policy.or(local).map(|v| v != 0),
                by_policy: by_policy.is_some(),
            }
        })
        .collect()
}

/// The firewall's state, or `None` when the registry says nothing about it.
pub fn firewall(reg: &Registry) -> Option<(Firewall, Vec<Profile>)> {
    let profiles = profiles(reg);
    if profiles.iter().all(|p| p.enabled.is_none()) {
        return None;
    }
    let service_disabled = reg.dword(SERVICE, "Start") == Some(4);
    let mut evidence: Vec<String> = profiles
        .iter()
        .map(|p| {
            format!(
                "Windows Defender Firewall: {} profile {}{}",
                p.name,
                match p.enabled {
                    Some(true) => "on",
                    Some(false) => "off",
                    None => "not set",
                },
                if p.by_policy { " (Group Policy)" } else { "" }
            )
        })
        .collect();
    if service_disabled {
        evidence.push("the firewall service (MpsSvc) is disabled".to_owned());
    }
    let active = !service_disabled && profiles.iter().all(|p| p.enabled == Some(true));
    Some((Firewall { active, evidence }, profiles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::registry::RegValue;

    fn reg(entries: &[(&str, &str, u32)]) -> Registry {
        let mut r = Registry::new();
        for (key, name, v) in entries {
            r.set(key, name, RegValue::Dword(*v));
        }
        r
    }

    #[test]
    fn policy_wins_over_local_settings_and_every_profile_must_be_on() {
        let r = reg(&[
            (&format!(r"{LOCAL}\DomainProfile"), "EnableFirewall", 1),
            (&format!(r"{LOCAL}\StandardProfile"), "EnableFirewall", 1),
            (&format!(r"{LOCAL}\PublicProfile"), "EnableFirewall", 1),
            (&format!(r"{POLICY}\PublicProfile"), "EnableFirewall", 0),
        ]);
        let (fw, profiles) = firewall(&r).unwrap();
        assert!(!fw.active);
        assert_eq!(profiles[2].enabled, Some(false));
        assert!(profiles[2].by_policy);
        assert_eq!(
            fw.evidence[2],
            "Windows Defender Firewall: Public profile off (Group Policy)"
        );
    }

    #[test]
    fn a_disabled_service_means_no_firewall_and_no_keys_means_unknown() {
        let mut r = reg(&[
            (&format!(r"{LOCAL}\DomainProfile"), "EnableFirewall", 1),
            (&format!(r"{LOCAL}\StandardProfile"), "EnableFirewall", 1),
            (&format!(r"{LOCAL}\PublicProfile"), "EnableFirewall", 1),
        ]);
        assert!(firewall(&r).unwrap().0.active);
        r.set(SERVICE, "Start", RegValue::Dword(4));
        let (fw, _) = firewall(&r).unwrap();
        assert!(!fw.active);
        assert!(fw.evidence.last().unwrap().contains("MpsSvc"));
        assert!(firewall(&Registry::new()).is_none());
    }
}
