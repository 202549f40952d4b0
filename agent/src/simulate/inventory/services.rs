//! The services and listening sections: systemd units or the Service Control Manager's
//! services, and the sockets the host's roles listen on.

use estate_protocol::{ListeningSocket, Network, ServiceUnit, Services};

use super::Ctx;
use crate::simulate::catalogue::{self, PackageFormat};

fn unit(name: &str, description: &str, enabled: &str, active: bool) -> ServiceUnit {
    ServiceUnit {
        name: name.to_owned(),
        description: description.to_owned(),
        load_state: "loaded".to_owned(),
        active_state: if active { "active" } else { "inactive" }.to_owned(),
        sub_state: if active { "running" } else { "dead" }.to_owned(),
        enabled: Some(enabled.to_owned()),
    }
}

/// `services`: systemd units, or the Service Control Manager's services (start type
/// Automatic as `enabled`, Manual as `manual`, Disabled as `disabled`; Running as
/// `active`/`running`, Stopped as `inactive`/`stopped`).
pub(crate) fn services(ctx: &Ctx<'_>) -> Services {
    let p = ctx.p;
    let t = &p.traits;
    let mut units = Vec::new();
    if p.is_windows() {
        let scm = |name: &str, description: &str, start: &str, running: bool| ServiceUnit {
            name: name.to_owned(),
            description: description.to_owned(),
            load_state: "loaded".to_owned(),
            active_state: if running { "active" } else { "inactive" }.to_owned(),
            sub_state: if running { "running" } else { "stopped" }.to_owned(),
            enabled: Some(start.to_owned()),
        };
        units.push(scm(
            "BITS",
            "Background Intelligent Transfer Service",
            "manual",
            true,
        ));
        units.push(scm("Dnscache", "DNS Client", "enabled", true));
        units.push(scm("EventLog", "Windows Event Log", "enabled", true));
        units.push(scm("LanmanServer", "Server", "enabled", true));
        units.push(scm("LanmanWorkstation", "Workstation", "enabled", true));
        units.push(scm(
            "mpssvc",
            "Windows Defender Firewall",
            "enabled",
            t.firewall,
        ));
        units.push(scm(
            "RemoteRegistry",
            "Remote Registry",
            if t.neglected { "enabled" } else { "disabled" },
            t.neglected,
        ));
        units.push(scm("Spooler", "Print Spooler", "enabled", true));
        units.push(scm(
            "TermService",
            "Remote Desktop Services",
            if t.rdp { "enabled" } else { "manual" },
            t.rdp,
        ));
        units.push(scm("W32Time", "Windows Time", "manual", t.time_sync));
        units.push(scm(
            "WinRM",
            "Windows Remote Management (WS-Management)",
            if p.class.is_server() {
                "enabled"
            } else {
                "manual"
            },
            p.class.is_server(),
        ));
        units.push(scm(
            "wuauserv",
            "Windows Update",
            if t.auto_updates { "manual" } else { "disabled" },
            t.auto_updates,
        ));
        if t.encrypted {
            units.push(scm(
                "BDESVC",
                "BitLocker Drive Encryption Service",
                "manual",
                true,
            ));
        }
        if let Some((_, service, description)) = catalogue::WINDOWS_AV
            .iter()
            .map(|(_, av)| av)
            .find(|(name, _, _)| Some(*name) == t.antivirus)
        {
            units.push(scm(service, description, "enabled", true));
        }
        if t.telnet {
            units.push(scm("TlntSvr", "Telnet", "enabled", true));
        }
        if p.class.is_server() {
            match p.role {
                "database" => units.push(scm(
                    "MSSQLSERVER",
                    "SQL Server (MSSQLSERVER)",
                    "enabled",
                    true,
                )),
                "web" => units.push(scm(
                    "W3SVC",
                    "World Wide Web Publishing Service",
                    "enabled",
                    true,
                )),
                "domain-controller" => {
                    units.push(scm(
                        "NTDS",
                        "Active Directory Domain Services",
                        "enabled",
                        true,
                    ));
                    units.push(scm("DNS", "DNS Server", "enabled", true));
                }
                "backup" => units.push(scm(
                    "VeeamBackupSvc",
                    "Veeam Backup Service",
                    "enabled",
                    true,
                )),
                _ => {}
            }
        } else {
            units.push(scm(
                "IntuneManagementExtension",
                "Microsoft Intune Management Extension",
                "enabled",
                true,
            ));
            units.push(scm("CcmExec", "SMS Agent Host", "enabled", true));
        }
        if t.failed_unit {
            // The SCM's view of a failed service: stopped although set to start automatically.
            units.push(ServiceUnit {
                active_state: "failed".to_owned(),
                ..scm(
                    "gupdate",
                    "Google Update Service (gupdate)",
                    "enabled",
                    false,
                )
            });
        }
        units.sort_by(|a, b| a.name.cmp(&b.name));
        return Services {
            manager: "windows-scm".to_owned(),
            available: true,
            reason: None,
            units,
        };
    }
    let deb = p.os.packages == PackageFormat::Deb;
    if deb {
        units.push(unit(
            "ssh.service",
            "OpenBSD Secure Shell server",
            "enabled",
            true,
        ));
        units.push(unit(
            "cron.service",
            "Regular background program processing daemon",
            "enabled",
            true,
        ));
        units.push(unit(
            "ufw.service",
            "Uncomplicated firewall",
            if t.firewall { "enabled" } else { "disabled" },
            t.firewall,
        ));
        units.push(unit(
            "systemd-timesyncd.service",
            "Network Time Synchronization",
            if t.time_sync { "enabled" } else { "disabled" },
            t.time_sync,
        ));
        units.push(unit(
            "unattended-upgrades.service",
            "Unattended Upgrades Shutdown",
            if t.auto_updates {
                "enabled"
            } else {
                "disabled"
            },
            t.auto_updates,
        ));
        units.push(ServiceUnit {
            sub_state: "waiting".to_owned(),
            ..unit(
                "apt-daily.timer",
                "Daily apt download activities",
                "enabled",
                true,
            )
        });
    } else {
        units.push(unit(
            "sshd.service",
            "OpenSSH server daemon",
            "enabled",
            true,
        ));
        units.push(unit("crond.service", "Command Scheduler", "enabled", true));
        units.push(unit(
            "auditd.service",
            "Security Auditing Service",
            "enabled",
            true,
        ));
        units.push(unit(
            "firewalld.service",
            "firewalld - dynamic firewall daemon",
            if t.firewall { "enabled" } else { "disabled" },
            t.firewall,
        ));
        units.push(unit(
            "chronyd.service",
            "NTP client/server",
            if t.time_sync { "enabled" } else { "disabled" },
            t.time_sync,
        ));
        if p.os.key == "centos-7" {
            units.push(unit(
                "yum-cron.service",
                "Run automatic yum updates as a cron job",
                if t.auto_updates {
                    "enabled"
                } else {
                    "disabled"
                },
                t.auto_updates,
            ));
        } else {
            units.push(ServiceUnit {
                sub_state: if t.auto_updates { "waiting" } else { "dead" }.to_owned(),
                ..unit(
                    "dnf-automatic.timer",
                    "dnf-automatic timer",
                    if t.auto_updates {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    t.auto_updates,
                )
            });
        }
    }
    units.push(unit(
        "rsyslog.service",
        "System Logging Service",
        "enabled",
        true,
    ));
    for service in catalogue::LINUX_ROLE_SERVICES {
        if service.role == p.role {
            units.push(unit(service.unit, service.description, "enabled", true));
        }
    }
    if p.traits.netbios && p.role == "file-server" {
        units.push(unit("nmbd.service", "Samba NMB Daemon", "enabled", true));
    }
    if t.telnet {
        if deb {
            units.push(unit(
                "inetutils-inetd.service",
                "Internet superserver",
                "enabled",
                true,
            ));
        } else {
            units.push(ServiceUnit {
                sub_state: "listening".to_owned(),
                ..unit(
                    "telnet.socket",
                    "Telnet Server Activation Socket",
                    "enabled",
                    true,
                )
            });
        }
    }
    if t.antivirus == Some("CrowdStrike Falcon") {
        units.push(unit(
            "falcon-sensor.service",
            "CrowdStrike Falcon Sensor",
            "enabled",
            true,
        ));
    }
    if t.failed_unit {
        units.push(ServiceUnit {
            active_state: "failed".to_owned(),
            sub_state: "failed".to_owned(),
            ..unit(
                "systemd-networkd-wait-online.service",
                "Wait for Network to be Configured",
                "enabled",
                false,
            )
        });
    }
    // Volatile: a unit's state moves between collections (not hashed); only the
    // description order is stable.
    let mut volatile = ctx.volatile_rng(41);
    if volatile.chance(0.05)
        && let Some(timer) = units.iter_mut().find(|u| u.name.ends_with(".timer"))
    {
        timer.sub_state = "running".to_owned();
    }
    units.sort_by(|a, b| a.name.cmp(&b.name));
    Services {
        manager: "systemd".to_owned(),
        available: true,
        reason: None,
        units,
    }
}

/// `listening`.
pub(crate) fn listening(ctx: &Ctx<'_>, network: &Network) -> Vec<ListeningSocket> {
    let p = ctx.p;
    let t = &p.traits;
    let mut volatile = ctx.volatile_rng(50);
    let address = network
        .interfaces
        .iter()
        .flat_map(|i| i.addresses.first())
        .find(|a| a.starts_with("10."))
        .and_then(|a| a.split('/').next())
        .unwrap_or("0.0.0.0")
        .to_owned();
    let mut sockets: Vec<(String, String, u16, String)> = Vec::new();
    let mut add = |protocol: &str, addr: &str, port: u16, process: &str| {
        sockets.push((
            protocol.to_owned(),
            addr.to_owned(),
            port,
            process.to_owned(),
        ));
    };
    if p.is_windows() {
        add("tcp", "0.0.0.0", 135, "svchost.exe");
        add("tcp", "0.0.0.0", 445, "System");
        add("tcp6", "::", 135, "svchost.exe");
        add("tcp6", "::", 445, "System");
        for (port, process) in [
            (49664, "lsass.exe"),
            (49665, "wininit.exe"),
            (49666, "svchost.exe"),
            (49667, "svchost.exe"),
            (49668, "spoolsv.exe"),
            (49669, "services.exe"),
        ] {
            add("tcp", "0.0.0.0", port, process);
        }
        add("udp", "0.0.0.0", 5353, "svchost.exe");
        add("udp", "0.0.0.0", 5355, "svchost.exe");
        if t.time_sync {
            add("udp", "0.0.0.0", 123, "svchost.exe");
        }
        if t.netbios {
            add("tcp", &address, 139, "System");
            add("udp", &address, 137, "System");
            add("udp", &address, 138, "System");
        }
        if t.rdp {
            add("tcp", "0.0.0.0", 3389, "svchost.exe");
            add("udp", "0.0.0.0", 3389, "svchost.exe");
        }
        if t.telnet {
            add("tcp", "0.0.0.0", 23, "tlntsvr.exe");
        }
        if p.class.is_server() {
            add("tcp", "0.0.0.0", 5985, "System");
            match p.role {
                "database" => add("tcp", "0.0.0.0", 1433, "sqlservr.exe"),
                "web" => {
                    add("tcp", "0.0.0.0", 80, "System");
                    add("tcp", "0.0.0.0", 443, "System");
                }
                "domain-controller" => {
                    add("tcp", "0.0.0.0", 53, "dns.exe");
                    add("udp", "0.0.0.0", 53, "dns.exe");
                    add("tcp", "0.0.0.0", 88, "lsass.exe");
                    add("tcp", "0.0.0.0", 389, "lsass.exe");
                    add("tcp", "0.0.0.0", 636, "lsass.exe");
                    add("tcp", "0.0.0.0", 3268, "lsass.exe");
                }
                "backup" => add("tcp", "0.0.0.0", 9392, "Veeam.Backup.Service.exe"),
                _ => {}
            }
        } else {
            add("tcp", "0.0.0.0", 7680, "svchost.exe");
        }
    } else {
        add("tcp", "0.0.0.0", 22, "sshd");
        add("tcp6", "::", 22, "sshd");
        if p.os.id == "ubuntu" {
            add("tcp", "127.0.0.53", 53, "systemd-resolve");
            add("udp", "127.0.0.53", 53, "systemd-resolve");
        }
        if t.time_sync && p.os.packages == PackageFormat::Rpm {
            add("udp", "127.0.0.1", 323, "chronyd");
        }
        for service in catalogue::LINUX_ROLE_SERVICES {
            if service.role == p.role {
                for (protocol, port, process) in service.ports {
                    add(protocol, "0.0.0.0", *port, process);
                }
            }
        }
        if t.netbios && p.role == "file-server" {
            add("udp", "0.0.0.0", 137, "nmbd");
            add("udp", "0.0.0.0", 138, "nmbd");
        }
        if t.telnet {
            let process = if p.os.packages == PackageFormat::Deb {
                "inetd"
            } else {
                "systemd"
            };
            add("tcp", "0.0.0.0", 23, process);
        }
    }
    sockets.sort();
    sockets.dedup();
    let system_pid = |process: &str| if process == "System" { Some(4) } else { None };
    sockets
        .into_iter()
        .map(|(protocol, address, port, process)| ListeningSocket {
            pid: system_pid(&process).or_else(|| Some(volatile.range_u64(300, 65_000) as u32)),
            protocol,
            address,
            port,
            process: Some(process),
        })
        .collect()
}
