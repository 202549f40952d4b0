//! Patch state from files: when packages last changed, whether a reboot is required,
//! pending updates where the host keeps a count offline, and when the OS was
//! installed.
//!
//! Everything here comes from files the package tools leave behind; nothing asks a
//! repository or runs a package manager. Where a value cannot be known offline it is
//! `Known::Unknown` with the reason; it is never guessed.

use std::cmp::Ordering;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDateTime, Utc};
use estate_protocol::{Known, PendingUpdates};

use super::tz::Zone;
use crate::root::SysRoot;

/// Ubuntu's update-notifier count of pending updates (the text shown in the motd).
pub const UPDATES_AVAILABLE: &str = "/var/lib/update-notifier/updates-available";

/// What the package-change search found: the newest install or upgrade, and problems
/// met on the way (unreadable or malformed logs).
#[derive(Debug, Default)]
pub struct Search {
    /// Newest install or upgrade found, and the file it came from.
    pub newest: Option<(DateTime<Utc>, &'static str)>,
    /// Files that exist but could not be used.
    pub problems: Vec<String>,
    /// Files looked at (for the reason when nothing is found).
    pub looked: Vec<&'static str>,
}

impl Search {
    fn offer(&mut self, when: Option<DateTime<Utc>>, source: &'static str) {
        if let Some(when) = when
            && self.newest.is_none_or(|(newest, _)| when > newest)
        {
            self.newest = Some((when, source));
        }
    }

    /// Reads `path` (and, when it holds nothing useful, its first rotation `path.1`)
    /// with `scan`.
    fn log(
        &mut self,
        root: &SysRoot,
        paths: [&'static str; 2],
        scan: impl Fn(&str) -> Option<DateTime<Utc>>,
    ) {
        for path in paths {
            self.looked.push(path);
            match root.read_optional(path) {
                Ok(Some(text)) => {
                    let found = scan(&text);
                    self.offer(found, path);
                    if found.is_some() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(err) => self.problems.push(err.to_string()),
            }
        }
    }
}

/// Every file [`last_package_change`] may read or take the time of: a search is valid
/// while none of them changes (and the zone its local times were read in is the same).
pub const CHANGE_SOURCES: &[&str] = &[
    "/var/log/dpkg.log",
    "/var/log/dpkg.log.1",
    "/var/log/apt/history.log",
    "/var/log/apt/history.log.1",
    "/var/log/dnf.rpm.log",
    "/var/log/dnf.rpm.log.1",
    "/var/log/zypp/history",
    "/var/log/zypp/history.1",
    "/var/lib/dpkg/status",
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
];

/// When a package was last installed or upgraded: the newest entry in `dpkg.log`
/// (else apt's `history.log`), `dnf.rpm.log` or zypper's `history` (each with its first
/// rotation). On the live system only, falls back to the modification time of the
/// package database. Local times in the logs are converted with the host's `zone`.
pub fn last_package_change(root: &SysRoot, zone: &Zone) -> (Known<DateTime<Utc>>, Vec<String>) {
    let mut search = Search::default();
    search.log(root, ["/var/log/dpkg.log", "/var/log/dpkg.log.1"], |text| {
        scan_dpkg_log(text, zone)
    });
    // apt's history only when dpkg's own log has nothing: dpkg also sees `dpkg -i`.
    if search.newest.is_none() {
        search.log(
            root,
            ["/var/log/apt/history.log", "/var/log/apt/history.log.1"],
            |text| scan_apt_history(text, zone),
        );
    }
    search.log(
        root,
        ["/var/log/dnf.rpm.log", "/var/log/dnf.rpm.log.1"],
        scan_dnf_rpm_log,
    );
    search.log(
        root,
        ["/var/log/zypp/history", "/var/log/zypp/history.1"],
        |text| scan_zypp_history(text, zone),
    );
    if let Some((when, _)) = search.newest {
        return (Known::Known { value: when }, search.problems);
    }
    // The database's mtime is only meaningful on the live system: a recorded
    // sysroot's files carry the time they were copied.
    if root.is_live() {
        for db in [
            "/var/lib/dpkg/status",
            "/var/lib/rpm/rpmdb.sqlite",
            "/var/lib/rpm/Packages",
        ] {
            if let Some(when) = mtime(root, db) {
                return (Known::Known { value: when }, search.problems);
            }
        }
    }
    let reason = format!(
        "no package install or upgrade found in {} and no package database timestamp{}",
        search.looked.join(", "),
        if root.is_live() {
            ""
        } else {
            " (database mtimes are used on the live system only)"
        }
    );
    (Known::unknown(reason), search.problems)
}

/// Newest `install` or `upgrade` action in a dpkg log (`YYYY-MM-DD HH:MM:SS action ...`,
/// local time). Trigger runs and `status` lines are not package changes.
pub fn scan_dpkg_log(text: &str, zone: &Zone) -> Option<DateTime<Utc>> {
    text.lines().rev().find_map(|line| {
        let stamp = line.get(..19)?;
        let action = line.get(20..)?.split(' ').next()?;
        if action != "install" && action != "upgrade" {
            return None;
        }
        let local = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()?;
        Some(zone.to_utc(local))
    })
}

/// End of the newest apt transaction that installed or upgraded something
/// (`Start-Date:` ... `Install:`/`Upgrade:` ... `End-Date:`, local time; the dates have
/// two spaces between day and time).
pub fn scan_apt_history(text: &str, zone: &Zone) -> Option<DateTime<Utc>> {
    let mut newest = None;
    let mut changed = false;
    let mut start = None;
    for line in text.lines() {
        if let Some(date) = line.strip_prefix("Start-Date:") {
            start = parse_apt_date(date);
            changed = false;
        } else if line.starts_with("Install:")
            || line.starts_with("Upgrade:")
            || line.starts_with("Reinstall:")
            || line.starts_with("Downgrade:")
        {
            changed = true;
        } else if let Some(date) = line.strip_prefix("End-Date:")
            && changed
        {
            newest = parse_apt_date(date).or(start).or(newest);
            changed = false;
        }
    }
    // A transaction cut off before its End-Date (the log truncated mid-write) still
    // counts from its start.
    if changed {
        newest = start.or(newest);
    }
    newest.map(|local| zone.to_utc(local))
}

fn parse_apt_date(text: &str) -> Option<NaiveDateTime> {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S").ok()
}

/// Newest install or upgrade in dnf's `dnf.rpm.log`
/// (`2024-06-05T06:42:10+0100 SUBDEBUG Installed: kernel-...`; older dnf writes `Z`).
pub fn scan_dnf_rpm_log(text: &str) -> Option<DateTime<Utc>> {
    text.lines().rev().find_map(|line| {
        let (stamp, rest) = line.split_once(' ')?;
        let (_level, message) = rest.split_once(' ')?;
        let verb = message.split(':').next()?;
        if !matches!(
            verb,
            "Installed" | "Install" | "Upgrade" | "Upgraded" | "Reinstall" | "Reinstalled"
        ) {
            return None;
        }
        parse_dnf_stamp(stamp)
    })
}

fn parse_dnf_stamp(stamp: &str) -> Option<DateTime<Utc>> {
    if let Some(naive) = stamp.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .map(|t| t.and_utc());
    }
    DateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Newest `install` in zypper's history (`2024-06-05 06:42:10|install|name|...`, local
/// time); zypper logs upgrades as installs.
pub fn scan_zypp_history(text: &str, zone: &Zone) -> Option<DateTime<Utc>> {
    text.lines().rev().find_map(|line| {
        let mut fields = line.split('|');
        let stamp = fields.next()?;
        if fields.next()? != "install" {
            return None;
        }
        let local = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()?;
        Some(zone.to_utc(local))
    })
}

fn mtime(root: &SysRoot, path: &str) -> Option<DateTime<Utc>> {
    let modified = root.metadata(path).ok()?.modified().ok()?;
    plausible(modified)
}

/// A file time that could be a real event: after 2000 and not in the future (a clock
/// that was never set reads 1970).
fn plausible(time: SystemTime) -> Option<DateTime<Utc>> {
    let when: DateTime<Utc> = time.into();
    let earliest = DateTime::from_timestamp(946_684_800, 0)?;
    (when >= earliest && when <= Utc::now()).then_some(when)
}

/// Pending updates from Ubuntu's `/var/lib/update-notifier/updates-available`; unknown
/// elsewhere, with the reason. `like` is the os-release `ID` and `ID_LIKE` words.
pub fn pending_updates(root: &SysRoot, like: &[&str]) -> (Known<PendingUpdates>, Option<String>) {
    match root.read_optional(UPDATES_AVAILABLE) {
        Ok(Some(text)) => match parse_updates_available(&text) {
            Some((count, security_count)) => (
                Known::Known {
                    value: PendingUpdates {
                        count,
                        security_count,
                        source: UPDATES_AVAILABLE.to_owned(),
                    },
                },
                None,
            ),
            None => {
                let reason = format!("{UPDATES_AVAILABLE}: no update count in the file");
                (Known::unknown(reason.clone()), Some(reason))
            }
        },
        Ok(None) => {
            let is = |name: &str| like.contains(&name);
            let reason = if is("debian") || is("ubuntu") {
                format!(
                    "apt keeps no offline count of pending updates and there is no \
                     {UPDATES_AVAILABLE} (written by Ubuntu's update-notifier)"
                )
            } else if is("rhel") || is("fedora") || is("centos") || is("suse") {
                "dnf/zypper keep no offline record of available updates; counting them \
                 needs the repositories, which the agent does not contact"
                    .to_owned()
            } else {
                "no offline record of pending updates is known for this distribution".to_owned()
            };
            (Known::unknown(reason), None)
        }
        Err(err) => (Known::unknown(err.to_string()), Some(err.to_string())),
    }
}

/// Parses the update-notifier text: `12 updates can be applied immediately.` /
/// `5 of these updates are standard security updates.` (Ubuntu 20.04+) or
/// `23 packages can be updated.` / `10 updates are security updates.` (older).
pub fn parse_updates_available(text: &str) -> Option<(u32, Option<u32>)> {
    let mut count = None;
    let mut security = None;
    for line in text.lines() {
        let line = line.trim();
        let Some((number, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(number) = number.parse::<u32>() else {
            continue;
        };
        if rest.starts_with("update can be applied immediately")
            || rest.starts_with("updates can be applied immediately")
            || rest.starts_with("package can be updated")
            || rest.starts_with("packages can be updated")
        {
            count = Some(number);
        } else if (rest.starts_with("of these updates is a")
            || rest.starts_with("of these updates are")
            || rest.starts_with("update is a security update")
            || rest.starts_with("updates are security updates"))
            && rest.contains("security")
        {
            security = Some(number);
        }
    }
    // "0 updates can be applied immediately." carries no security line.
    count.map(|count| (count, security.or((count == 0).then_some(0))))
}

/// Whether a reboot is required, and the packages that asked for it.
///
/// 1. `/run/reboot-required` (Debian/Ubuntu, written by the kernel and libc hooks):
///    required, with `/run/reboot-required.pkgs`.
/// 2. Else, where installed kernels can be listed from files (`/usr/lib/modules/V/vmlinuz`,
///    `/boot/vmlinuz-V`): required when one of the running kernel's flavour is newer
///    than the running kernel (the RHEL-like case: there is no reboot-required file).
/// 3. Else, not required when the Debian hook that would write the file is installed.
/// 4. Else unknown.
pub fn reboot_required(root: &SysRoot, running: &str) -> (Known<bool>, Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    match root.read_optional("/run/reboot-required") {
        Ok(Some(_)) => {
            let packages = match root.read_optional("/run/reboot-required.pkgs") {
                Ok(text) => {
                    let mut packages: Vec<String> = text
                        .unwrap_or_default()
                        .lines()
                        .map(str::trim)
                        .filter(|line| !line.is_empty())
                        .map(str::to_owned)
                        .collect();
                    packages.dedup();
                    packages
                }
                Err(err) => {
                    problems.push(err.to_string());
                    Vec::new()
                }
            };
            return (Known::Known { value: true }, packages, problems);
        }
        Ok(None) => {}
        Err(err) => problems.push(err.to_string()),
    }
    let kernels = installed_kernels(root);
    let flavour = kernel_flavour(running);
    let newest = kernels
        .iter()
        .filter(|k| kernel_flavour(k) == flavour)
        .max_by(|a, b| compare_versions(a, b));
    if let Some(newest) = newest {
        let newer = compare_versions(newest, running) == Ordering::Greater;
        return (Known::Known { value: newer }, Vec::new(), problems);
    }
    let hooks = [
        "/etc/kernel/postinst.d/unattended-upgrades",
        "/etc/kernel/postinst.d/update-notifier",
    ];
    if hooks.iter().any(|hook| root.exists(hook)) {
        return (Known::Known { value: false }, Vec::new(), problems);
    }
    let reason = format!(
        "no /run/reboot-required mechanism (its kernel hook is not installed) and no \
         installed kernel found under /usr/lib/modules or /boot to compare with the \
         running kernel {running}"
    );
    (Known::unknown(reason), Vec::new(), problems)
}

/// Kernel releases installed: `/usr/lib/modules/V/vmlinuz` (RHEL-likes, Fedora, SUSE)
/// and `/boot/vmlinuz-V` (Debian, Ubuntu, older RHEL). A modules directory without a
/// kernel image is a leftover of a removed kernel and does not count.
pub fn installed_kernels(root: &SysRoot) -> Vec<String> {
    let mut kernels = Vec::new();
    for dir in ["/usr/lib/modules", "/lib/modules"] {
        if let Ok(names) = root.read_dir(dir) {
            for name in names {
                if root.exists(&format!("{dir}/{name}/vmlinuz")) {
                    kernels.push(name);
                }
            }
        }
    }
    if let Ok(names) = root.read_dir("/boot") {
        kernels.extend(
            names
                .iter()
                .filter_map(|name| name.strip_prefix("vmlinuz-"))
                .filter(|v| !v.contains("rescue"))
                .map(str::to_owned),
        );
    }
    kernels.sort();
    kernels.dedup();
    kernels
}

/// A kernel release with its numbers taken out: `6.1.0-18-amd64` → `..--amd`.
/// Kernels of another flavour (`-cloud-amd64`, `+debug`, `-rt`) are not upgrades of
/// the running one.
fn kernel_flavour(release: &str) -> String {
    release.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// rpmvercmp-style comparison: runs of digits compare as numbers, runs of letters as
/// text, a digit run beats a letter run, and the longer version wins a tie.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let segments = |s: &str| -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            if !c.is_ascii_alphanumeric() {
                out.push((false, String::new()));
                continue;
            }
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, seg)) if *d == digit && !seg.is_empty() => seg.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out.into_iter().filter(|(_, seg)| !seg.is_empty()).collect()
    };
    let (left, right) = (segments(a), segments(b));
    for ((ld, l), (rd, r)) in left.iter().zip(right.iter()) {
        let ord = match (ld, rd) {
            (true, true) => {
                let l = l.trim_start_matches('0');
                let r = r.trim_start_matches('0');
                l.len().cmp(&r.len()).then_with(|| l.cmp(r))
            }
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => l.cmp(r),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    left.len().cmp(&right.len())
}

/// When the OS was installed, on the live system only (file times under a recorded
/// sysroot are copy times): the installer's leftovers (Debian/Ubuntu
/// `/var/log/installer/syslog`, RHEL-like `/root/anaconda-ks.cfg` and
/// `/var/log/anaconda/anaconda.log`), else the birth time of the root filesystem's top
/// directory (when the filesystem records it and it is plausible).
pub fn install_time(root: &SysRoot) -> Option<DateTime<Utc>> {
    if !root.is_live() {
        return None;
    }
    for evidence in [
        "/var/log/installer/syslog",
        "/root/anaconda-ks.cfg",
        "/var/log/anaconda/anaconda.log",
    ] {
        if let Some(when) = mtime(root, evidence) {
            return Some(when);
        }
    }
    let created = root.metadata("/").ok()?.created().ok()?;
    plausible(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_log_takes_the_last_install_or_upgrade_not_removals_or_triggers() {
        let log = "2024-06-12 06:25:14 upgrade libc6:amd64 1 2\n\
                   2024-06-12 06:25:16 trigproc libc-bin:amd64 2 <none>\n\
                   2024-06-12 06:25:16 status installed libc-bin:amd64 2\n\
                   2024-06-12 09:02:51 remove telnet:amd64 1 <none>\n\
                   garbage line\n";
        let when = scan_dpkg_log(log, &Zone::utc()).unwrap();
        assert_eq!(when.to_rfc3339(), "2024-06-12T06:25:14+00:00");
        assert_eq!(scan_dpkg_log("garbage\n\n", &Zone::utc()), None);
    }

    #[test]
    fn apt_history_uses_the_end_of_the_last_changing_transaction() {
        let log = "Start-Date: 2024-06-12  06:25:14\nUpgrade: libc6:amd64 (1, 2)\n\
                   End-Date: 2024-06-12  06:25:17\n\nStart-Date: 2024-06-12  09:02:50\n\
                   Remove: telnet:amd64 (1)\nEnd-Date: 2024-06-12  09:02:52\n";
        let when = scan_apt_history(log, &Zone::utc()).unwrap();
        assert_eq!(when.to_rfc3339(), "2024-06-12T06:25:17+00:00");
        // Cut off before End-Date: the start counts.
        let cut = "Start-Date: 2024-07-01  10:00:00\nInstall: x:amd64 (1)\n";
        let when = scan_apt_history(cut, &Zone::utc()).unwrap();
        assert_eq!(when.to_rfc3339(), "2024-07-01T10:00:00+00:00");
    }

    #[test]
    fn dnf_log_reads_both_timestamp_forms_and_skips_erase() {
        let log = "2019-11-04T13:36:04Z SUBDEBUG Installed: a-1.x86_64\n\
                   2024-06-05T06:42:10+0100 SUBDEBUG Upgraded: b-1.x86_64\n\
                   2024-06-05T06:42:11+0100 SUBDEBUG Erase: c-1.x86_64\n\
                   2024-06-05T06:42:13+0100 INFO --- logging initialized ---\n";
        assert_eq!(
            scan_dnf_rpm_log(log).unwrap().to_rfc3339(),
            "2024-06-05T05:42:10+00:00"
        );
        assert_eq!(
            scan_dnf_rpm_log("2019-11-04T13:36:04Z SUBDEBUG Installed: a\n")
                .unwrap()
                .to_rfc3339(),
            "2019-11-04T13:36:04+00:00"
        );
    }

    #[test]
    fn zypper_history_reads_installs() {
        let log = "# 2024-06-05 06:42:10 kernel-default installed ok\n\
                   2024-06-05 06:42:10|install|kernel-default|6.4.0|x86_64||repo|abc|\n\
                   2024-06-05 07:00:00|remove |telnet|1|x86_64|root@h|\n";
        assert_eq!(
            scan_zypp_history(log, &Zone::utc()).unwrap().to_rfc3339(),
            "2024-06-05T06:42:10+00:00"
        );
    }

    #[test]
    fn update_notifier_formats_are_read() {
        let new = "\nExpanded Security Maintenance for Applications is not enabled.\n\n\
                   12 updates can be applied immediately.\n\
                   5 of these updates are standard security updates.\n\
                   To see these additional updates run: apt list --upgradable\n";
        assert_eq!(parse_updates_available(new), Some((12, Some(5))));
        let old = "23 packages can be updated.\n10 updates are security updates.\n";
        assert_eq!(parse_updates_available(old), Some((23, Some(10))));
        let none = "0 updates can be applied immediately.\n";
        assert_eq!(parse_updates_available(none), Some((0, Some(0))));
        let no_security = "3 updates can be applied immediately.\n";
        assert_eq!(parse_updates_available(no_security), Some((3, None)));
        assert_eq!(parse_updates_available("garbage\n"), None);
    }

    #[test]
    fn kernel_versions_compare_numerically() {
        use Ordering::*;
        let cmp = compare_versions;
        assert_eq!(
            cmp(
                "5.14.0-427.18.1.el9_4.x86_64",
                "5.14.0-427.13.1.el9_4.x86_64"
            ),
            Greater
        );
        assert_eq!(
            cmp(
                "5.14.0-362.24.1.el9_3.x86_64",
                "5.14.0-427.13.1.el9_4.x86_64"
            ),
            Less
        );
        assert_eq!(cmp("6.1.0-20-amd64", "6.1.0-18-amd64"), Greater);
        assert_eq!(cmp("6.1.0-9-amd64", "6.1.0-18-amd64"), Less);
        assert_eq!(cmp("6.1.0-18-amd64", "6.1.0-18-amd64"), Equal);
        assert_eq!(
            kernel_flavour("6.1.0-18-amd64"),
            kernel_flavour("6.1.0-20-amd64")
        );
        assert_ne!(
            kernel_flavour("6.1.0-18-amd64"),
            kernel_flavour("6.1.0-20-cloud-amd64")
        );
    }
}
