//! The Windows security collector: firewall profiles, BitLocker per volume, antivirus
//! (Security Center, Defender) with signature age, Secure Boot, time sync, automatic
//! updates, SMBv1, Remote Desktop with or without NLA, and the local Administrators group.
//!
//! Each item is read and interpreted in its own module; this one gathers them and maps
//! them to Report v1: the common items (firewall, disk encryption, Secure Boot, time
//! sync, SSH, automatic updates, antivirus names) and `security.windows` (SMBv1, Remote
//! Desktop and NLA, the local Administrators, each antivirus product's state and
//! signature age, and the TPM, read with the hardware module's [`hardware::TPM`]). The
//! per-volume BitLocker detail, which Report v1 has no field for, is named in a `partial`
//! problem. An item that cannot be read (BitLocker and the TPM need administrator
//! rights; servers have no Security Center) is unknown with the reason.

pub mod admins;
pub mod antivirus;
pub mod bitlocker;
pub mod firewall;
pub mod remote;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use estate_protocol::{
    AntivirusProduct as AntivirusState, Known, LocalAdministrators, RemoteDesktop, Security, Smb1,
    Tpm,
};

use super::cim::CimObject;
use super::hardware;
use super::registry::{RegRead, Registry};
use super::source::{Source, SourceError};
use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::config::AntivirusProduct;

/// Every registry key the security collector reads.
pub fn reads() -> Vec<RegRead> {
    [
        firewall::READS,
        antivirus::READS,
        remote::READS,
        settings::READS,
    ]
    .concat()
}

/// What the security collector gathered, before mapping.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The registry keys in [`reads`].
    pub registry: Registry,
    /// `Win32_EncryptableVolume`.
    pub bitlocker: Result<Vec<CimObject>, SourceError>,
    /// Security Center's `AntiVirusProduct`.
    pub security_center: Result<Vec<CimObject>, SourceError>,
    /// Defender's `MSFT_MpComputerStatus`.
    pub defender: Result<Vec<CimObject>, SourceError>,
    /// The local Administrators group.
    pub administrators: Result<Vec<admins::GroupMember>, SourceError>,
    /// `Win32_Tpm`.
    pub tpm: Result<Vec<CimObject>, SourceError>,
    /// Running image names.
    pub processes: Vec<String>,
    /// The time of collection.
    pub now: DateTime<Utc>,
}

/// What the security collector found beyond what Report v1 carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsSecurity {
    /// The protocol section.
    pub security: Security,
    /// The firewall profiles.
    pub firewall_profiles: Vec<firewall::Profile>,
    /// BitLocker per volume.
    pub bitlocker: Known<Vec<bitlocker::Volume>>,
    /// Antivirus products and their state.
    pub antivirus: Vec<antivirus::Product>,
    /// SMBv1.
    pub smb1: remote::Smb1,
    /// Remote Desktop.
    pub rdp: Known<remote::Rdp>,
    /// The local Administrators group.
    pub administrators: Known<admins::Administrators>,
    /// The TPM.
    pub tpm: Known<Tpm>,
}

/// Collects the [`Security`] section from a [`Source`].
#[derive(Debug, Clone)]
pub struct SecurityCollector {
    source: Arc<dyn Source>,
}

impl SecurityCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        SecurityCollector { source }
    }
}

impl Collector for SecurityCollector {
    fn name(&self) -> &'static str {
        "security"
    }

    fn budget(&self, configured: Duration) -> Duration {
        configured.max(super::WMI_BUDGET)
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let read = self
            .source
            .registry(&reads())
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut problems = read.problems;
        let processes = match self.source.processes() {
            Ok(p) => p.into_values().collect(),
            Err(err) => {
                problems.push(format!("process names (for [antivirus] products): {err}"));
                Vec::new()
            }
        };
        let inputs = Inputs {
            registry: read.registry,
            bitlocker: self.source.wmi(&bitlocker::QUERY),
            security_center: self.source.wmi(&antivirus::SECURITY_CENTER),
            defender: self.source.wmi(&antivirus::DEFENDER),
            administrators: self.source.group_members(admins::ADMINISTRATORS_SID),
            tpm: self.source.wmi(&hardware::TPM),
            processes,
            now: self.source.now(),
        };
        let parsed = parse(inputs, &ctx.config.antivirus);
        let unsent = unsent(&parsed);
        if !unsent.is_empty() {
            problems.push(format!(
                "collected but not sent, Report v1 has no field for it: {}",
                unsent.join("; ")
            ));
        }
        Ok(if problems.is_empty() {
            Collected::complete(Section::Security(parsed.security))
        } else {
            Collected::partial(Section::Security(parsed.security), problems)
        })
    }
}

/// The items Report v1 cannot carry (the per-volume BitLocker detail), in words.
pub fn unsent(s: &WindowsSecurity) -> Vec<String> {
    let mut out = Vec::new();
    if let Known::Known { value } = &s.bitlocker {
        for v in value {
            out.push(format!(
                "BitLocker {} {}, {}, {}",
                v.mount_point,
                if v.protected {
                    "protection on"
                } else {
                    "protection off"
                },
                v.conversion,
                v.method
            ));
        }
    }
    out
}

/// Maps the inputs to the security section and the items beyond it.
pub fn parse(inputs: Inputs, configured: &[AntivirusProduct]) -> WindowsSecurity {
    let reg = &inputs.registry;
    let (firewall, firewall_profiles) = match firewall::firewall(reg) {
        Some((fw, profiles)) => (Known::Known { value: fw }, profiles),
        None => (
            Known::unknown(format!("{}: no profile settings found", firewall::LOCAL)),
            firewall::profiles(reg),
        ),
    };
    let volumes = match &inputs.bitlocker {
        Ok(list) => Known::Known {
            value: bitlocker::volumes(list),
        },
        Err(err) => Known::unknown(err.to_string()),
    };
    let disk_encryption = match &volumes {
        Known::Known { value } => Known::Known {
            value: bitlocker::disk_encryption(value),
        },
        Known::Unknown { reason } => Known::unknown(reason.clone()),
    };
    let products = antivirus::products(
        inputs.security_center.as_deref().ok(),
        inputs.defender.as_deref().ok(),
        reg,
        configured,
        &inputs.processes,
        inputs.now,
    );
    let antivirus_list =
        if products.is_empty() && inputs.security_center.is_err() && inputs.defender.is_err() {
            let reason = [&inputs.security_center, &inputs.defender]
                .into_iter()
                .filter_map(|r| r.as_ref().err().map(ToString::to_string))
                .collect::<Vec<_>>()
                .join("; ");
            Known::unknown(reason)
        } else {
            let mut names: Vec<String> = products
                .iter()
                .filter(|p| p.enabled)
                .map(|p| p.name.clone())
                .collect();
            names.sort();
            names.dedup();
            Known::Known { value: names }
        };
    let smb1 = remote::smb1(reg);
    let rdp = match remote::rdp(reg) {
        Some(r) => Known::Known { value: r },
        None => Known::unknown(format!("{}: not found", remote::TERMINAL_SERVER)),
    };
    let administrators = match &inputs.administrators {
        Ok(members) => Known::Known {
            value: admins::administrators(members),
        },
        Err(err) => Known::unknown(err.to_string()),
    };
    let tpm = hardware::tpm(inputs.tpm);
    let windows = windows_items(&smb1, &rdp, &administrators, &products, &tpm);
    let security = Security {
        firewall,
        disk_encryption,
        secure_boot: settings::secure_boot(reg),
        time_sync: settings::time_sync(reg),
        ssh: Known::unknown(settings::ssh_reason(reg)),
        automatic_updates: settings::automatic_updates(reg),
        antivirus: antivirus_list,
        windows: Some(windows),
    };
    WindowsSecurity {
        security,
        firewall_profiles,
        bitlocker: volumes,
        antivirus: products,
        smb1,
        rdp,
        administrators,
        tpm,
    }
}

/// The `security.windows` part of the report.
fn windows_items(
    smb1: &remote::Smb1,
    rdp: &Known<remote::Rdp>,
    administrators: &Known<admins::Administrators>,
    products: &[antivirus::Product],
    tpm: &Known<Tpm>,
) -> estate_protocol::WindowsSecurity {
    estate_protocol::WindowsSecurity {
        smb1: Known::Known {
            value: Smb1 {
                server: smb1.server,
                client: smb1.client,
                evidence: smb1.evidence.clone(),
            },
        },
        remote_desktop: match rdp {
            Known::Known { value } => Known::Known {
                value: RemoteDesktop {
                    enabled: value.enabled,
                    nla_required: value.nla_required,
                    port: value.port,
                    evidence: value.evidence.clone(),
                },
            },
            Known::Unknown { reason } => Known::unknown(reason.clone()),
        },
        local_administrators: match administrators {
            Known::Known { value } => Known::Known {
                value: LocalAdministrators {
                    members: value.members.clone(),
                    builtin_administrator: value.builtin_administrator,
                },
            },
            Known::Unknown { reason } => Known::unknown(reason.clone()),
        },
        antivirus_products: products
            .iter()
            .map(|p| AntivirusState {
                name: p.name.clone(),
                enabled: p.enabled,
                up_to_date: p.up_to_date,
                // A negative age is a clock set wrong: unknown rather than "fresh".
                signature_age_days: p.signature_age_days.and_then(|d| u32::try_from(d).ok()),
                source: p.source.to_owned(),
            })
            .collect(),
        tpm: tpm.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};
    use crate::config::default_antivirus;
    use estate_protocol::SecureBoot;

    fn parsed(machine: &str) -> WindowsSecurity {
        parsed_with(machine, &default_antivirus())
    }

    fn parsed_with(machine: &str, configured: &[AntivirusProduct]) -> WindowsSecurity {
        let src = RecordedSource::fixture(machine);
        let inputs = Inputs {
            registry: src.registry(&reads()).unwrap().registry,
            bitlocker: src.wmi(&bitlocker::QUERY),
            security_center: src.wmi(&antivirus::SECURITY_CENTER),
            defender: src.wmi(&antivirus::DEFENDER),
            administrators: src.group_members(admins::ADMINISTRATORS_SID),
            tpm: src.wmi(&hardware::TPM),
            processes: src.processes().unwrap().into_values().collect(),
            now: src.now(),
        };
        parse(inputs, configured)
    }

    #[test]
    fn windows_10_laptop_without_bitlocker_and_with_smb1_on() {
        let s = parsed(recorded::WIN10_LAPTOP);
        let sec = &s.security;
        let enc = sec.disk_encryption.value().unwrap();
        assert_eq!(enc.encrypted_mounts, Vec::<String>::new());
        assert_eq!(enc.unencrypted_mounts, vec!["C:\\".to_owned()]);
        assert!(s.smb1.server, "{:?}", s.smb1.evidence);
        assert!(s.smb1.client);
        let fw = sec.firewall.value().unwrap();
        assert!(!fw.active, "public profile off");
        assert_eq!(
            fw.evidence,
            vec![
                "Windows Defender Firewall: Domain profile on".to_owned(),
                "Windows Defender Firewall: Private profile on".to_owned(),
                "Windows Defender Firewall: Public profile off".to_owned(),
            ]
        );
        assert_eq!(
            sec.secure_boot,
            Known::Known {
                value: SecureBoot::Enabled
            }
        );
        assert_eq!(
            sec.antivirus,
            Known::Known {
                value: vec!["Windows Defender".to_owned()]
            }
        );
        let defender = &s.antivirus[0];
        assert_eq!(defender.up_to_date, Some(true));
        assert_eq!(defender.signature_age_days, Some(1));
        let rdp = s.rdp.value().unwrap();
        assert!(rdp.enabled && !rdp.nla_required);
        let admins = s.administrators.value().unwrap();
        assert_eq!(admins.members.len(), 3);
        assert!(sec.automatic_updates.value().unwrap().enabled);
        assert!(sec.time_sync.value().unwrap().active);
        assert_eq!(
            sec.ssh,
            Known::unknown("no OpenSSH server installed (no sshd service)")
        );
        assert_eq!(
            unsent(&s),
            vec!["BitLocker C:\\ protection off, fully decrypted, none".to_owned()]
        );
        // What Report v1 carries in `security.windows`.
        let w = sec.windows.as_ref().unwrap();
        let smb1 = w.smb1.value().unwrap();
        assert!(smb1.server && smb1.client);
        let rd = w.remote_desktop.value().unwrap();
        assert!(rd.enabled && !rd.nla_required);
        assert_eq!(
            w.local_administrators.value().unwrap().members,
            vec![
                "EXAMPLE\\Domain Admins".to_owned(),
                "LAPTOP-7XK2QF2\\Administrator".to_owned(),
                "LAPTOP-7XK2QF2\\jsmith".to_owned(),
            ]
        );
        assert_eq!(
            w.antivirus_products,
            vec![AntivirusState {
                name: "Windows Defender".to_owned(),
                enabled: true,
                up_to_date: Some(true),
                signature_age_days: Some(1),
                source: "Security Center".to_owned(),
            }]
        );
        assert_eq!(
            w.tpm,
            Known::Known {
                value: Tpm {
                    present: true,
                    version: Some("2.0".to_owned()),
                    manufacturer: Some("INTC".to_owned()),
                    ready: Some(true),
                }
            }
        );
    }

    #[test]
    fn windows_11_desktop_is_locked_down() {
        let s = parsed(recorded::WIN11_DESKTOP);
        let sec = &s.security;
        assert_eq!(
            sec.disk_encryption.value().unwrap().encrypted_mounts,
            vec!["C:\\".to_owned()]
        );
        assert!(sec.firewall.value().unwrap().active);
        assert!(!s.smb1.server && !s.smb1.client);
        assert!(!s.rdp.value().unwrap().enabled);
        // Defender stood down for a third-party product: only that one is on.
        assert_eq!(
            sec.antivirus,
            Known::Known {
                value: vec!["Sophos Intercept X".to_owned()]
            }
        );
        assert_eq!(s.antivirus.len(), 2);
        assert!(
            !s.antivirus
                .iter()
                .find(|p| p.name == "Windows Defender")
                .unwrap()
                .enabled
        );
        let au = sec.automatic_updates.value().unwrap();
        assert!(au.enabled);
        assert!(au.evidence.iter().any(|e| e.contains("WSUS")));
    }

    #[test]
    fn server_2019_vm_without_admin_rights_and_without_security_center() {
        let s = parsed(recorded::SERVER2019_VM);
        let sec = &s.security;
        // Not an administrator: BitLocker unknown, with the reason.
        assert!(
            matches!(&sec.disk_encryption, Known::Unknown { reason } if reason.contains("access denied")),
            "{:?}",
            sec.disk_encryption
        );
        // No Security Center on servers: Defender's own status speaks.
        assert_eq!(
            sec.antivirus,
            Known::Known {
                value: vec!["Microsoft Defender Antivirus".to_owned()]
            }
        );
        assert_eq!(s.antivirus[0].signature_age_days, Some(0));
        assert_eq!(
            sec.secure_boot,
            Known::Known {
                value: SecureBoot::Disabled
            }
        );
        let rdp = s.rdp.value().unwrap();
        assert!(rdp.enabled && rdp.nla_required);
        assert!(!s.smb1.server);
        // Not an administrator: the TPM is unknown, with the reason.
        let tpm = &sec.windows.as_ref().unwrap().tpm;
        assert!(
            matches!(tpm, Known::Unknown { reason } if reason.contains("access denied")),
            "{tpm:?}"
        );
        assert_eq!(
            sec.ssh,
            Known::unknown(
                "OpenSSH server installed (sshd service); its sshd_config is not read on Windows yet"
            )
        );
    }

    #[test]
    fn server_2012_r2_physical_on_legacy_bios_with_an_edr_process() {
        // The shipped [antivirus] list names Linux processes; a site adds the Windows ones.
        let falcon = AntivirusProduct {
            name: "CrowdStrike Falcon".to_owned(),
            packages: Vec::new(),
            paths: Vec::new(),
            processes: vec!["CSFalconService.exe".to_owned()],
        };
        let without = parsed(recorded::SERVER2012R2);
        // Neither Security Center nor Defender exists there: with no configured product
        // running, the antivirus state is unknown, not "none".
        assert!(
            matches!(&without.security.antivirus, Known::Unknown { reason } if reason.contains("SecurityCenter2")),
            "{:?}",
            without.security.antivirus
        );
        let s = parsed_with(recorded::SERVER2012R2, &[falcon]);
        let sec = &s.security;
        assert_eq!(
            sec.secure_boot,
            Known::Known {
                value: SecureBoot::NotUefi
            }
        );
        assert!(s.smb1.server);
        // No Security Center, no Defender: the configured CrowdStrike process is found.
        assert_eq!(
            sec.antivirus,
            Known::Known {
                value: vec!["CrowdStrike Falcon".to_owned()]
            }
        );
        let au = sec.automatic_updates.value().unwrap();
        assert!(!au.enabled, "{:?}", au.evidence);
        assert_eq!(s.administrators.value().unwrap().members.len(), 5);
        let w = sec.windows.as_ref().unwrap();
        assert_eq!(
            w.tpm,
            Known::Known {
                value: Tpm {
                    present: false,
                    version: None,
                    manufacturer: None,
                    ready: None,
                }
            }
        );
        assert!(w.smb1.value().unwrap().server);
        assert!(!w.remote_desktop.value().unwrap().nla_required);
    }
}
