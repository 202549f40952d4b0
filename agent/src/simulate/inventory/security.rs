//! The security section (with `security.windows` as the Windows agent reads it), and
//! what the Windows agent collects but cannot send (`collector_errors`).

use estate_protocol::{
    AntivirusProduct, AutomaticUpdates, CollectorError, CollectorErrorKind, DiskEncryption,
    Filesystem, Firewall, Known, LocalAdministrators, RemoteDesktop, SecureBoot, Security, Smb1,
    SshConfig, TimeSync, Tpm, WindowsSecurity,
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
            windows: Some(windows_security(ctx)),
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

    // security: BitLocker per volume (the rest travels in `security.windows`).
    let mut security = Vec::new();
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
        unsupported("gpus"),
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
                "collected but not sent, Report v1 has no field for it: {}",
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

/// The host's TPM as `Win32_Tpm` gives it: 2.0 on physical machines from 2017 on, 1.2 on
/// older clients, none on older servers; a virtual TPM on Hyper-V generation 2 VMs and on
/// recent VMware VMs with EFI firmware.
fn tpm(p: &HostProfile) -> Tpm {
    let present = |version: &str, manufacturer: &str| Tpm {
        present: true,
        version: Some(version.to_owned()),
        manufacturer: Some(manufacturer.to_owned()),
        ready: Some(true),
    };
    let absent = Tpm {
        present: false,
        version: None,
        manufacturer: None,
        ready: None,
    };
    let server = p.class.is_server();
    match p.platform {
        Platform::Physical(model) if model.year >= 2017 => {
            let maker = if p.cpu.vendor == "AuthenticAMD" {
                "AMD"
            } else if server {
                "NTC"
            } else {
                "INTC"
            };
            present("2.0", maker)
        }
        Platform::Physical(_) if !server => present("1.2", "IFX"),
        Platform::Physical(_) => absent,
        Platform::Virtual { cluster, efi } => match cluster.hypervisor {
            catalogue::Hypervisor::HyperV if efi => present("2.0", "MSFT"),
            catalogue::Hypervisor::Vmware if efi && p.os.year >= 2021 => present("2.0", "VMW"),
            _ => absent,
        },
    }
}

/// `security.windows`, with the evidence the Windows agent gives.
fn windows_security(ctx: &Ctx<'_>) -> WindowsSecurity {
    let p = ctx.p;
    let t = &p.traits;
    let server = p.class.is_server();
    let installed = |on: bool, start: u32| {
        if on {
            format!("installed (Start = {start})")
        } else {
            "not installed".to_owned()
        }
    };
    let smb1 = Smb1 {
        server: t.smb1,
        client: t.smb1,
        evidence: vec![
            format!("SMB1 server (srv) driver {}", installed(t.smb1, 3)),
            if t.smb1 {
                "LanmanServer\\Parameters SMB1 not set (on by default)".to_owned()
            } else {
                "LanmanServer\\Parameters SMB1 = 0".to_owned()
            },
            format!("SMB1 client (mrxsmb10) driver {}", installed(t.smb1, 2)),
        ],
    };
    let remote_desktop = RemoteDesktop {
        enabled: t.rdp,
        nla_required: t.rdp_nla,
        port: Some(3389),
        evidence: vec![
            format!("fDenyTSConnections = {} (local)", u8::from(!t.rdp)),
            format!("UserAuthentication = {} (local)", u8::from(t.rdp_nla)),
        ],
    };
    let mut members = vec![
        "COUNCIL\\Domain Admins".to_owned(),
        format!("{}\\Administrator", p.hostname),
    ];
    if t.neglected && !server {
        members.push(format!("COUNCIL\\user{:05}", p.index % 100_000));
    }
    if server {
        members.push("COUNCIL\\ICT Server Admins".to_owned());
    }
    members.sort();
    // Security Center on clients; Defender's own status on servers. A product found only
    // by its process (CrowdStrike) has no signature state to report.
    let antivirus_products = antivirus_name(p)
        .filter(|name| *name != "CrowdStrike Falcon")
        .filter(|name| !server || name.contains("Defender"))
        .map(|name| {
            let days = if t.neglected {
                ctx.rng(61).range_u64(20, 200)
            } else {
                ctx.rng(61).range_u64(0, 2)
            };
            AntivirusProduct {
                name: name.to_owned(),
                enabled: true,
                up_to_date: (!server).then_some(!t.neglected),
                signature_age_days: Some(u32::try_from(days).unwrap_or(u32::MAX)),
                source: if server {
                    "MSFT_MpComputerStatus".to_owned()
                } else {
                    "Security Center".to_owned()
                },
            }
        })
        .into_iter()
        .collect();
    WindowsSecurity {
        smb1: Known::Known { value: smb1 },
        remote_desktop: Known::Known {
            value: remote_desktop,
        },
        local_administrators: Known::Known {
            value: LocalAdministrators {
                members,
                builtin_administrator: true,
            },
        },
        antivirus_products,
        tpm: Known::Known { value: tpm(p) },
    }
}
