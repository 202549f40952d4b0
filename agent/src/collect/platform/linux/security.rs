//! Security posture: firewall, disk encryption, Secure Boot, time sync, SSH server
//! settings, automatic updates and antivirus/EDR.
//!
//! Every item is `Known` with its evidence or `Unknown` with the reason — never
//! guessed. This module owns Secure Boot, time sync and antivirus detection and puts
//! the items together; the others live in the child modules. It reads through the root
//! only and changes nothing.

pub mod encryption;
pub mod firewall;
pub mod processes;
pub mod ssh;
pub mod updates;

use std::collections::BTreeSet;
use std::sync::Arc;

use estate_protocol::{Known, SecureBoot, Security, TimeSync};

use crate::collect::platform::linux::services::SYSTEMD_RUNNING;
use crate::collect::platform::linux::services::unit_files::{self, UnitFiles};
use crate::collect::platform::linux::software;
use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::config::AntivirusProduct;
use crate::root::SysRoot;

/// Present on UEFI boots only.
pub const EFI_DIR: &str = "/sys/firmware/efi";
/// The efivarfs directory.
pub const EFIVARS_DIR: &str = "/sys/firmware/efi/efivars";
/// The `SecureBoot` variable: 4 attribute bytes, then 1 data byte (1 = enforcing).
pub const SECURE_BOOT_VAR: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";

/// Time sync daemons: (reported name, unit names, process `comm` names).
pub const TIME_SYNC_SERVICES: &[(&str, &[&str], &[&str])] = &[
    (
        "chronyd",
        &["chronyd.service", "chrony.service"],
        &["chronyd"],
    ),
    (
        "systemd-timesyncd",
        &["systemd-timesyncd.service"],
        // `comm` is cut to 15 bytes.
        &["systemd-timesyn"],
    ),
    (
        "ntpd",
        &["ntpd.service", "ntp.service", "ntpsec.service"],
        &["ntpd"],
    ),
    ("openntpd", &["openntpd.service"], &["openntpd"]),
];

/// Collects the security posture.
#[derive(Debug, Default)]
pub struct SecurityCollector {
    packages: Arc<software::PackageCache>,
    processes: processes::ProcessNames,
}

impl SecurityCollector {
    /// A collector reading installed packages through `packages` (shared with the
    /// software collector).
    pub fn new(packages: Arc<software::PackageCache>) -> Self {
        SecurityCollector {
            packages,
            processes: processes::ProcessNames::default(),
        }
    }
}

impl Collector for SecurityCollector {
    fn name(&self) -> &'static str {
        "security"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let root = &ctx.root;
        let mut problems = Vec::new();
        // Enablement means something only where systemd is the running init.
        let systemd_running = root.exists(SYSTEMD_RUNNING);
        let units = if systemd_running {
            unit_files::scan(root)
        } else {
            UnitFiles::default()
        };
        problems.extend(units.problems.iter().cloned());
        let processes = match self.processes.names(root) {
            Ok(p) => Some(p),
            Err(err) => {
                problems.push(format!("process list: {err}"));
                None
            }
        };
        // Only the packages asked about below, looked up in the shared list without
        // copying it: [`updates::UNATTENDED_UPGRADES`] and the antivirus products'.
        let wanted: BTreeSet<&str> = std::iter::once(updates::UNATTENDED_UPGRADES)
            .chain(
                ctx.config
                    .antivirus
                    .iter()
                    .flat_map(|p| p.packages.iter().map(String::as_str)),
            )
            .collect();
        let packages: Option<BTreeSet<String>> =
            match self.packages.with_installed(root, |sw, _| {
                sw.packages
                    .iter()
                    .filter(|p| wanted.contains(p.name.as_str()))
                    .map(|p| p.name.clone())
                    .collect()
            }) {
                Ok(names) => Some(names),
                Err(err) => {
                    problems.push(format!("package database: {err}"));
                    None
                }
            };
        let installed = |name: &str| packages.as_ref().map(|p| p.contains(name));
        let no_processes = BTreeSet::new();

        let security = Security {
            firewall: firewall::firewall(
                root,
                &units,
                processes.as_ref().unwrap_or(&no_processes),
                &mut problems,
            ),
            disk_encryption: encryption::disk_encryption(root, &mut problems),
            secure_boot: secure_boot(root),
            time_sync: time_sync(&units, processes.as_ref()),
            ssh: ssh::ssh_config(root),
            automatic_updates: updates::automatic_updates(root, &units, &installed, &mut problems),
            antivirus: antivirus(
                root,
                &ctx.config.antivirus,
                packages.as_ref(),
                processes.as_ref(),
            ),
            windows: None,
        };
        Ok(Collected::partial(Section::Security(security), problems))
    }
}

/// Secure Boot from the `SecureBoot` EFI variable.
pub fn secure_boot(root: &SysRoot) -> Known<SecureBoot> {
    if !root.exists(EFI_DIR) {
        return Known::Known {
            value: SecureBoot::NotUefi,
        };
    }
    match root.read(SECURE_BOOT_VAR) {
        Ok(bytes) => match bytes.get(4) {
            Some(1) => Known::Known {
                value: SecureBoot::Enabled,
            },
            Some(0) => Known::Known {
                value: SecureBoot::Disabled,
            },
            Some(other) => Known::unknown(format!(
                "{SECURE_BOOT_VAR}: unexpected value {other} (expected 0 or 1)"
            )),
            None => Known::unknown(format!(
                "{SECURE_BOOT_VAR}: {} bytes, expected 4 attribute bytes and 1 data byte",
                bytes.len()
            )),
        },
        Err(err) if err.is_not_found() => {
            // Firmware without Secure Boot has no such variable; an empty or absent
            // efivarfs says nothing.
            match root.read_dir(EFIVARS_DIR) {
                Ok(vars) if !vars.is_empty() => Known::Known {
                    value: SecureBoot::Disabled,
                },
                _ => Known::unknown(format!(
                    "UEFI boot, but {EFIVARS_DIR} is empty or absent (efivarfs not mounted)"
                )),
            }
        }
        Err(err) => Known::unknown(err.to_string()),
    }
}

/// Time sync: a known daemon enabled (unit-file links; pass empty [`UnitFiles`] where
/// systemd is not the running init) or running (`comm`).
pub fn time_sync(units: &UnitFiles, processes: Option<&BTreeSet<String>>) -> Known<TimeSync> {
    let mut enabled_only = None;
    for (service, unit_names, comms) in TIME_SYNC_SERVICES {
        let running = processes.is_some_and(|p| comms.iter().any(|c| p.contains(*c)));
        let enabled = unit_names.iter().any(|u| units.is_enabled(u));
        if running {
            return Known::Known {
                value: TimeSync {
                    active: true,
                    service: Some((*service).to_owned()),
                    synchronised: None,
                },
            };
        }
        if enabled && enabled_only.is_none() {
            enabled_only = Some(*service);
        }
    }
    if let Some(service) = enabled_only {
        return Known::Known {
            value: TimeSync {
                active: true,
                service: Some(service.to_owned()),
                synchronised: None,
            },
        };
    }
    match processes {
        None => Known::unknown(
            "no time sync unit enabled, and the process list could not be read to see \
             whether a daemon runs",
        ),
        Some(_) => Known::Known {
            value: TimeSync {
                active: false,
                service: None,
                synchronised: None,
            },
        },
    }
}

/// Configured antivirus/EDR products found: by package, path or process.
pub fn antivirus(
    root: &SysRoot,
    products: &[AntivirusProduct],
    packages: Option<&BTreeSet<String>>,
    processes: Option<&BTreeSet<String>>,
) -> Known<Vec<String>> {
    let mut found = Vec::new();
    for product in products {
        let by_package = packages.is_some_and(|p| product.packages.iter().any(|n| p.contains(n)));
        let by_path = product.paths.iter().any(|path| root.exists(path));
        let by_process =
            processes.is_some_and(|p| product.processes.iter().any(|n| p.contains(comm_of(n))));
        if by_package || by_path || by_process {
            found.push(product.name.clone());
        }
    }
    if found.is_empty() && (packages.is_none() || processes.is_none()) {
        return Known::unknown(format!(
            "none of the {} configured products found, but the {} could not be read",
            products.len(),
            match (packages.is_none(), processes.is_none()) {
                (true, true) => "package database and process list",
                (true, false) => "package database",
                _ => "process list",
            }
        ));
    }
    Known::Known { value: found }
}

/// A process name as `/proc/<pid>/comm` shows it (cut to 15 bytes).
fn comm_of(name: &str) -> &str {
    let mut end = name.len().min(15);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL};
    use estate_protocol::{AutomaticUpdates, DiskEncryption, Firewall, SshConfig};

    fn security(ctx: &Context) -> (Security, Vec<String>) {
        let c = SecurityCollector::default().collect(ctx).unwrap();
        let Section::Security(s) = c.section else {
            panic!("wrong section")
        };
        (s, c.problems)
    }

    fn known<T>(value: T) -> Known<T> {
        Known::Known { value }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dell_posture() {
        let (s, problems) = security(&testutil::ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            s,
            Security {
                firewall: known(Firewall {
                    active: true,
                    evidence: strings(&[
                        "firewalld enabled (firewalld.service) and running, backend nftables \
                         (/etc/firewalld/firewalld.conf)"
                    ]),
                }),
                disk_encryption: known(DiskEncryption {
                    encrypted_mounts: strings(&["/"]),
                    unencrypted_mounts: strings(&[
                        "/boot",
                        "/boot/efi",
                        "/srv/backup",
                        "/mnt/backup",
                        "/var/lib/pgsql/backups"
                    ]),
                }),
                secure_boot: known(SecureBoot::Enabled),
                time_sync: known(TimeSync {
                    active: true,
                    service: Some("chronyd".to_owned()),
                    synchronised: None,
                }),
                ssh: known(SshConfig {
                    permit_root_login: "no".to_owned(),
                    password_authentication: true,
                    files: strings(&["/etc/ssh/sshd_config.d/01-permitrootlogin.conf"]),
                }),
                automatic_updates: known(AutomaticUpdates {
                    enabled: true,
                    mechanism: Some("dnf-automatic".to_owned()),
                    evidence: strings(&[
                        "dnf-automatic.timer enabled",
                        "/etc/dnf/automatic.conf: apply_updates = yes"
                    ]),
                }),
                antivirus: known(strings(&["CrowdStrike Falcon"])),
                windows: None,
            }
        );
    }

    #[test]
    fn debian_posture() {
        let (s, problems) = security(&testutil::ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            s,
            Security {
                firewall: known(Firewall {
                    active: true,
                    evidence: strings(&["ufw enabled (/etc/ufw/ufw.conf: ENABLED=yes)"]),
                }),
                disk_encryption: known(DiskEncryption {
                    encrypted_mounts: Vec::new(),
                    unencrypted_mounts: strings(&["/", "/boot/efi"]),
                }),
                secure_boot: known(SecureBoot::NotUefi),
                time_sync: known(TimeSync {
                    active: true,
                    service: Some("systemd-timesyncd".to_owned()),
                    synchronised: None,
                }),
                ssh: known(SshConfig {
                    permit_root_login: "prohibit-password".to_owned(),
                    password_authentication: false,
                    files: strings(&["/etc/ssh/sshd_config.d/90-council-hardening.conf"]),
                }),
                automatic_updates: known(AutomaticUpdates {
                    enabled: true,
                    mechanism: Some("unattended-upgrades".to_owned()),
                    evidence: strings(&[
                        "/etc/apt/apt.conf.d/20auto-upgrades: \
                         APT::Periodic::Unattended-Upgrade \"1\"",
                        "package unattended-upgrades installed"
                    ]),
                }),
                antivirus: known(Vec::new()),
                windows: None,
            }
        );
    }

    #[test]
    fn secure_boot_variants() {
        let dir = testutil::broken_copy(DELL);
        let root = SysRoot::new(dir.path());
        testutil::write(dir.path(), SECURE_BOOT_VAR, &[6, 0, 0, 0, 0]);
        assert_eq!(secure_boot(&root), known(SecureBoot::Disabled));
        testutil::write(dir.path(), SECURE_BOOT_VAR, &[6, 0]);
        assert_eq!(
            secure_boot(&root),
            Known::unknown(format!(
                "{SECURE_BOOT_VAR}: 2 bytes, expected 4 attribute bytes and 1 data byte"
            ))
        );
        testutil::remove(dir.path(), SECURE_BOOT_VAR);
        // Other variables present: firmware without Secure Boot.
        assert_eq!(secure_boot(&root), known(SecureBoot::Disabled));
        testutil::remove(dir.path(), EFIVARS_DIR);
        assert_eq!(
            secure_boot(&root),
            Known::unknown(
                "UEFI boot, but /sys/firmware/efi/efivars is empty or absent (efivarfs not \
                 mounted)"
            )
        );
    }

    #[test]
    fn without_a_package_database_package_based_items_are_unknown() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), "/var/lib/dpkg/status");
        let (s, problems) = security(&testutil::ctx_at(dir.path()));
        assert_eq!(
            problems,
            strings(&["package database: no package database found (looked for \
                 /var/lib/dpkg/status, /var/lib/rpm/rpmdb.sqlite, \
                 /usr/lib/sysimage/rpm/rpmdb.sqlite)"])
        );
        assert_eq!(
            s.automatic_updates,
            Known::unknown(
                "APT::Periodic::Unattended-Upgrade is on, but the package database could not \
                 be read to tell whether unattended-upgrades is installed"
            )
        );
        assert_eq!(
            s.antivirus,
            Known::unknown(
                "none of the 9 configured products found, but the package database could not \
                 be read"
            )
        );
        // The rest is unaffected.
        assert_eq!(s.secure_boot, known(SecureBoot::NotUefi));
        assert!(s.firewall.value().unwrap().active);
    }

    #[test]
    fn broken_mount_table_makes_encryption_unknown_naming_the_file() {
        let dir = testutil::broken_copy(DELL);
        testutil::write(dir.path(), "/proc/self/mountinfo", b"\xff\xfe garbage\n");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        let Known::Unknown { reason } = &s.disk_encryption else {
            panic!("known")
        };
        assert!(
            reason.starts_with("/proc/self/mountinfo:1: not a mountinfo line"),
            "{reason}"
        );
        testutil::remove(dir.path(), "/proc/self/mountinfo");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        let Known::Unknown { reason } = &s.disk_encryption else {
            panic!("known")
        };
        assert!(reason.starts_with("/proc/self/mountinfo: "), "{reason}");
    }

    #[test]
    fn a_mount_whose_device_is_missing_is_a_problem_not_a_guess() {
        let dir = testutil::broken_copy(DELL);
        for path in [
            "/sys/block/sda",
            "/sys/dev/block/8:1",
            "/sys/class/block/sda1",
        ] {
            if std::fs::symlink_metadata(dir.path().join(&path[1..])).is_ok() {
                testutil::remove(dir.path(), path);
            }
        }
        let (s, problems) = security(&testutil::ctx_at(dir.path()));
        let enc = s.disk_encryption.value().unwrap();
        assert_eq!(enc.unencrypted_mounts, strings(&["/boot", "/boot/efi"]));
        assert_eq!(
            problems[0],
            "/proc/self/mountinfo: device /dev/sda1 (8:1) of /srv/backup not found under \
             /sys/block"
        );
    }

    #[test]
    fn lvm_over_luks_is_encrypted_through_the_slaves() {
        let dir = testutil::broken_copy(DELL);
        let p = dir.path();
        testutil::write(p, "/sys/block/dm-1/dm/name", b"rl-var\n");
        testutil::write(p, "/sys/block/dm-1/dm/uuid", b"LVM-abc\n");
        std::fs::create_dir_all(p.join("sys/block/dm-1/slaves")).unwrap();
        std::os::unix::fs::symlink("../../dm-0", p.join("sys/block/dm-1/slaves/dm-0")).unwrap();
        let text = std::fs::read_to_string(p.join("proc/self/mountinfo")).unwrap()
            + "90 22 253:1 / /var rw,relatime - xfs /dev/mapper/rl-var rw\n";
        testutil::write(p, "/proc/self/mountinfo", text.as_bytes());
        let (s, _) = security(&testutil::ctx_at(p));
        assert_eq!(
            s.disk_encryption.value().unwrap().encrypted_mounts,
            strings(&["/", "/var"])
        );
    }

    #[test]
    fn firewall_off_and_iptables_tables() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::write(
            dir.path(),
            "/etc/ufw/ufw.conf",
            b"ENABLED=no\nLOGLEVEL=low\n",
        );
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        let fw = s.firewall.value().unwrap();
        assert!(!fw.active);
        assert_eq!(
            fw.evidence[0],
            "ufw installed but disabled (/etc/ufw/ufw.conf: ENABLED=no)"
        );
        testutil::write(dir.path(), "/proc/net/ip_tables_names", b"nat\nfilter\n");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        let fw = s.firewall.value().unwrap();
        assert!(fw.active);
        assert_eq!(
            fw.evidence[1],
            "iptables tables loaded: nat, filter (/proc/net/ip_tables_names)"
        );
    }

    #[test]
    fn nftables_service_needs_a_ruleset() {
        let dir = testutil::broken_copy(DELL);
        let p = dir.path();
        std::os::unix::fs::symlink(
            "/usr/lib/systemd/system/nftables.service",
            p.join("etc/systemd/system/multi-user.target.wants/nftables.service"),
        )
        .unwrap();
        let (s, _) = security(&testutil::ctx_at(p));
        assert_eq!(
            s.firewall.value().unwrap().evidence[1],
            "nftables.service enabled but /etc/sysconfig/nftables.conf defines no table"
        );
        testutil::write(
            p,
            "/etc/sysconfig/nftables.conf",
            b"include \"/etc/nftables/main.nft\"\n",
        );
        let (s, _) = security(&testutil::ctx_at(p));
        assert_eq!(
            s.firewall.value().unwrap().evidence[1],
            "nftables.service enabled, ruleset /etc/sysconfig/nftables.conf (1 table/include \
             statements)"
        );
    }

    #[test]
    fn without_systemd_only_running_daemons_count_for_time_sync() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), "/run/systemd/system");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        assert!(s.time_sync.value().unwrap().active);
        testutil::remove(dir.path(), "/proc/5012");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        assert_eq!(
            s.time_sync,
            known(TimeSync {
                active: false,
                service: None,
                synchronised: None
            })
        );
    }

    #[test]
    fn dnf_automatic_that_only_downloads_is_not_automatic_updates() {
        let dir = testutil::broken_copy(DELL);
        testutil::write(
            dir.path(),
            "/etc/dnf/automatic.conf",
            b"[commands]\napply_updates = no\n",
        );
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        let au = s.automatic_updates.value().unwrap();
        assert!(!au.enabled);
        assert_eq!(
            au.evidence[1],
            "/etc/dnf/automatic.conf: apply_updates = no"
        );
    }

    /// The package questions go to the shared package list without copying it, and see
    /// it change: an antivirus package installed between two reports is found, and
    /// removing `unattended-upgrades` is seen.
    #[test]
    fn packages_installed_or_removed_between_reports_are_seen() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        let ctx = testutil::ctx_at(dir.path());
        let collector = SecurityCollector::new(Arc::new(software::PackageCache::default()));
        let collect = || {
            let Section::Security(s) = collector.collect(&ctx).unwrap().section else {
                panic!("wrong section")
            };
            s
        };
        let before = collect();
        assert_eq!(before.antivirus, known(Vec::new()));
        let evidence = |s: &Security| match &s.automatic_updates {
            Known::Known { value } => value.evidence.join("; "),
            Known::Unknown { reason } => reason.clone(),
        };
        assert!(
            evidence(&before).contains("package unattended-upgrades installed"),
            "{}",
            evidence(&before)
        );

        let status = dir.path().join("var/lib/dpkg/status");
        let text = std::fs::read_to_string(&status).unwrap();
        // Drop the unattended-upgrades stanza and add ClamAV's daemon.
        let mut kept: Vec<&str> = text
            .split("\n\n")
            .filter(|stanza| !stanza.starts_with("Package: unattended-upgrades\n"))
            .collect();
        let clamav = "Package: clamav-daemon\nStatus: install ok installed\nVersion: 1.0\n\
                      Architecture: amd64";
        kept.push(clamav);
        testutil::write(
            dir.path(),
            "/var/lib/dpkg/status",
            kept.join("\n\n").as_bytes(),
        );
        let after = collect();
        assert_eq!(after.antivirus, known(strings(&["ClamAV"])));
        assert!(
            evidence(&after).contains("package unattended-upgrades not installed"),
            "{}",
            evidence(&after)
        );
    }

    #[test]
    fn antivirus_by_process_name_is_cut_like_comm() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::write(dir.path(), "/proc/5400/comm", b"sentinelone-age\n");
        let (s, _) = security(&testutil::ctx_at(dir.path()));
        assert_eq!(s.antivirus, known(strings(&["SentinelOne"])));
    }
}
