//! The security section, and what the Windows agent collects but cannot send
//! (`collector_errors`).

use estate_protocol::{
    AutomaticUpdates, CollectorError, CollectorErrorKind, DiskEncryption, Filesystem, Firewall,
    Known, SecureBoot, Security, SshConfig, TimeSync,
};

use super::Ctx;
use super::os::windows_ubr;
use crate::simulate::catalogue::{self, OsKind, PackageFormat};
use crate::simulate::profile::{HostProfile, Platform};

/// The antivirus product's name as the agent reports it: Windows clients name Defender
/// as Security Center does (`Windows Defender`), servers as Defender's own status does.
pub(crate) fn antivirus_name(p: &HostProfile) -> Option<&'static str> {
    match p.traits.antivirus {
        Some("Microsoft Defender Antivirus") if p.is_windows() && !p.class.is_server() => {
            Some("Windows Defender")
        }
        other => other,
    }
}

/// `security`.
pub(crate) fn security(ctx: &Ctx<'_>, filesystems: &[Filesystem]) -> Security {
    let p = ctx.p;
    let t = &p.traits;
    let secure_boot = Known::Known {
        value: if !t.uefi {
            SecureBoot::NotUefi
        } else if t.secure_boot {
            SecureBoot::Enabled
        } else {
            SecureBoot::Disabled
        },
    };
    let mounts: Vec<String> = filesystems.iter().map(|f| f.mount_point.clone()).collect();
    let (encrypted_mounts, unencrypted_mounts): (Vec<String>, Vec<String>) = mounts
        .into_iter()
        .partition(|m| t.encrypted && (m == "/" || m == "C:\\"));
    let disk_encryption = Known::Known {
        value: DiskEncryption {
            encrypted_mounts,
            unencrypted_mounts,
        },
    };
    let antivirus = Known::Known {
        value: antivirus_name(p)
            .map(|a| vec![a.to_owned()])
            .unwrap_or_default(),
    };
    if p.is_windows() {
        // As the Windows agent reads the firewall policy: every profile, set by Group
        // Policy; the firewall is active when all are on.
        let firewall = Firewall {
            active: t.firewall,
            evidence: [
                ("Domain", t.firewall),
                ("Private", true),
                ("Public", t.firewall),
            ]
            .iter()
            .map(|(name, on)| {
                format!(
                    "Windows Defender Firewall: {name} profile {} (Group Policy)",
                    if *on { "on" } else { "off" }
                )
            })
            .collect(),
        };
        let mut evidence = vec![if !t.auto_updates && t.neglected {
            "Group Policy AU\\NoAutoUpdate = 1".to_owned()
        } else if !t.auto_updates {
            "Group Policy AU\\AUOptions = 2 (notify before download)".to_owned()
        } else {
            "Group Policy AU\\AUOptions = 4 (download automatically and schedule the install)"
                .to_owned()
        }];
        if p.class.is_server() {
            evidence.push("updates from WSUS http://wsus.council.local:8530".to_owned());
        }
        let automatic_updates = AutomaticUpdates {
            enabled: t.auto_updates,
            mechanism: Some("windows-update".to_owned()),
            evidence,
        };
        return Security {
            firewall: Known::Known { value: firewall },
            disk_encryption,
            secure_boot,
            time_sync: Known::Known {
                value: TimeSync {
                    active: t.time_sync,
                    service: Some("W32Time".to_owned()),
                    synchronised: None,
                },
            },
            ssh: Known::unknown("no OpenSSH server installed (no sshd service)"),
            automatic_updates: Known::Known {
                value: automatic_updates,
            },
            antivirus,
            windows: None,
        };
    }
    let deb = p.os.packages == PackageFormat::Deb;
    let firewall = if deb {
        Firewall {
            active: t.firewall,
            evidence: vec![format!(
                "ufw {} (/etc/ufw/ufw.conf: ENABLED={})",
                if t.firewall {
                    "enabled"
                } else {
                    "installed but disabled"
                },
                if t.firewall { "yes" } else { "no" }
            )],
        }
    } else if t.firewall {
        Firewall {
            active: true,
            evidence: vec![
                "firewalld enabled (firewalld.service) and running, backend nftables (/etc/firewalld/firewalld.conf)".to_owned(),
            ],
        }
    } else {
        Firewall {
            active: false,
            evidence: vec![
                "no firewall enabled: ufw, firewalld and nftables.service are off or absent and no iptables table is loaded (nftables rules loaded by other means are not visible)".to_owned(),
            ],
        }
    };
    let (service, mechanism, evidence) = if deb {
        (
            "systemd-timesyncd",
            "unattended-upgrades",
            format!(
                "/etc/apt/apt.conf.d/20auto-upgrades: APT::Periodic::Unattended-Upgrade \"{}\"",
                u8::from(t.auto_updates)
            ),
        )
    } else if p.os.key == "centos-7" {
        (
            "chronyd",
            "yum-cron",
            format!(
                "/etc/yum/yum-cron.conf: apply_updates = {}",
                if t.auto_updates { "yes" } else { "no" }
            ),
        )
    } else {
        (
            "chronyd",
            "dnf-automatic",
            format!(
                "/etc/dnf/automatic.conf: apply_updates = {}",
                if t.auto_updates { "yes" } else { "no" }
            ),
        )
    };
    let ssh = SshConfig {
        permit_root_login: if t.ssh_root_password {
            "yes"
        } else {
            "prohibit-password"
        }
        .to_owned(),
        password_authentication: t.ssh_root_password || !p.class.is_server(),
        files: vec!["/etc/ssh/sshd_config".to_owned()],
    };
    Security {
        firewall: Known::Known { value: firewall },
        disk_encryption,
        secure_boot,
        time_sync: Known::Known {
            value: TimeSync {
                active: t.time_sync,
                service: t.time_sync.then(|| service.to_owned()),
                synchronised: t.time_sync.then_some(true),
            },
        },
        ssh: Known::Known { value: ssh },
        automatic_updates: Known::Known {
            value: AutomaticUpdates {
                enabled: t.auto_updates,
                mechanism: Some(mechanism.to_owned()),
                evidence: vec![evidence],
            },
        },
        antivirus,
        windows: None,
    }
}

/// What the Windows agent says it collected but could not send (Report v1 has no field
/// for it), and the collectors it does not have on Windows: the `collector_errors` of a
/// Windows host's every report, sorted by collector.
pub(crate) fn windows_collector_errors(
    ctx: &Ctx<'_>,
    filesystems: &[Filesystem],
    sequence: u64,
) -> Vec<CollectorError> {
    let p = ctx.p;
    let t = &p.traits;
    let partial = |collector: &str, message: String| CollectorError {
        collector: collector.to_owned(),
        kind: CollectorErrorKind::Partial,
        message,
    };
    let unsupported = |collector: &str| CollectorError {
        collector: collector.to_owned(),
        kind: CollectorErrorKind::Unsupported,
        message: "not supported on this platform".to_owned(),
    };
    let on_off = |b: bool| if b { "on" } else { "off" };
    let server = p.class.is_server();

    // hardware: the TPM.
    let tpm = match p.platform {
        Platform::Physical(model) if model.year >= 2017 => {
            let maker = if p.cpu.vendor == "AuthenticAMD" {
                "AMD"
            } else if server {
                "NTC"
            } else {
                "INTC"
            };
            format!("2.0 ({maker}, ready)")
        }
        Platform::Physical(_) if !server => "1.2 (IFX, ready)".to_owned(),
        Platform::Physical(_) => "absent".to_owned(),
        Platform::Virtual { cluster, efi } => match cluster.hypervisor {
            catalogue::Hypervisor::HyperV if efi => "2.0 (MSFT, ready)".to_owned(),
            catalogue::Hypervisor::Vmware if efi && p.os.year >= 2021 => {
                "2.0 (VMW, ready)".to_owned()
            }
            _ => "absent".to_owned(),
        },
    };

    // os: the edition, the update revision and why a reboot is pending.
    let edition = match (p.os.kind, p.edition) {
        (OsKind::WindowsServer, edition) => format!("Server{edition}"),
        (_, "Pro") => "Professional".to_owned(),
        (_, edition) => edition.to_owned(),
    };
    let mut os = vec![format!("edition {edition}")];
    if let Some(ubr) = windows_ubr(p.os.build, ctx.patch_level(p.os.patch_base)) {
        os.push(format!("UBR {ubr} (sent only inside `build`)"));
    }
    if ctx.times.reboot_required {
        os.push(
            "reboot pending because of Component Based Servicing\\RebootPending, WindowsUpdate\\Auto Update\\RebootRequired"
                .to_owned(),
        );
    }

    // security: SMB1, Remote Desktop, local administrators, antivirus, BitLocker.
    let mut security = vec![format!(
        "SMBv1 server {}, client {}",
        on_off(t.smb1),
        on_off(t.smb1)
    )];
    security.push(if t.rdp {
        format!(
            "Remote Desktop on, {}",
            if t.rdp_nla {
                "NLA required"
            } else {
                "NLA not required"
            }
        )
    } else {
        "Remote Desktop off".to_owned()
    });
    let mut admins = vec![
        "COUNCIL\\Domain Admins".to_owned(),
        format!("{}\\Administrator", p.hostname),
    ];
    if t.neglected && !server {
        admins.push(format!("COUNCIL\\user{:05}", p.index % 100_000));
    }
    if server {
        admins.push("COUNCIL\\ICT Server Admins".to_owned());
    }
    admins.sort();
    security.push(format!(
        "{} local administrators ({})",
        admins.len(),
        admins.join(", ")
    ));
    if let Some(name) = antivirus_name(p) {
        let mut volatile = ctx.volatile_rng(60 + (sequence % 7));
        let mut words = vec![format!("{name} on")];
        if name != "CrowdStrike Falcon" {
            let days = if t.neglected {
                volatile.range_u64(20, 200)
            } else {
                volatile.range_u64(0, 2)
            };
            if !server {
                words.push(
                    if t.neglected {
                        "definitions out of date"
                    } else {
                        "definitions up to date"
                    }
                    .to_owned(),
                );
            }
            words.push(format!(
                "signatures {days} day{} old",
                if days == 1 { "" } else { "s" }
            ));
        }
        security.push(words.join(", "));
    }
    for fs in filesystems {
        let protected = t.encrypted && fs.mount_point == "C:\\";
        security.push(if protected {
            format!(
                "BitLocker {} protection on, fully encrypted, XTS-AES 128",
                fs.mount_point
            )
        } else {
            format!(
                "BitLocker {} protection off, fully decrypted, none",
                fs.mount_point
            )
        });
    }

    vec![
        unsupported("disks"),
        unsupported("gpus"),
        partial(
            "hardware",
            format!("collected but not sent, Report v1 has no field for it: TPM {tpm}"),
        ),
        partial(
            "os",
            format!(
                "collected but not sent, Report v1 has no field for them: {}",
                os.join("; ")
            ),
        ),
        partial(
            "security",
            format!(
                "collected but not sent, Report v1 has no field for them: {}",
                security.join("; ")
            ),
        ),
        partial(
            "services",
            "collected but not sent, Report v1 has no field for them: the account each service runs as and delayed automatic start"
                .to_owned(),
        ),
    ]
}
