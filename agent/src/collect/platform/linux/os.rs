//! The OS collector: distribution (`os-release`), kernel, architecture, time zone, boot
//! time and uptime, and the patch state (last package change, pending updates, reboot
//! required, install time).
//!
//! Reads only files under the context's root; runs no package manager and asks no
//! repository. Parsing of the sub-parts lives in the child modules.

mod packages;
mod release;
mod tz;

use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, NaiveDate, Utc};
use estate_protocol::{Known, Os};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

pub use packages::{compare_versions, installed_kernels};
pub use tz::{Zone, host_zone};

/// Collects the [`Os`] section.
///
/// What cannot change within a boot (kernel release and version, boot time,
/// architecture) is read once per boot ([`super::boot_id`]); the package-change time is
/// searched for again only when one of the logs or databases it reads changes (their
/// [`super::FileStamp`]s) or the time zone does. The rest (uptime, `os-release`, the
/// time zone, reboot and update state) is read every time.
#[derive(Debug, Default)]
pub struct OsCollector {
    boot: Mutex<Option<(PathBuf, String, BootFacts)>>,
    package_change: Mutex<Option<PackageChange>>,
}

/// The facts of one boot.
#[derive(Debug, Clone)]
struct BootFacts {
    kernel: String,
    kernel_version: Option<String>,
    kernel_version_problem: Option<String>,
    boot_time: DateTime<Utc>,
    arch: Result<String, String>,
}

/// The last package-change search, with what it depended on.
#[derive(Debug)]
struct PackageChange {
    root: PathBuf,
    stamps: Vec<super::FileStamp>,
    zone: Zone,
    found: (Known<DateTime<Utc>>, Vec<String>),
}

impl OsCollector {
    /// The boot's facts, from the last read while the boot id is the same.
    fn boot_facts(&self, root: &SysRoot) -> Result<BootFacts, CollectError> {
        // Plain data: a panic elsewhere while holding it leaves a usable cache.
        let mut last = self
            .boot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let boot_id = super::boot_id(root);
        if let (Some((cached_root, cached_id, facts)), Some(boot_id)) =
            (last.as_ref(), boot_id.as_deref())
            && cached_root == root.root()
            && cached_id == boot_id
        {
            return Ok(facts.clone());
        }
        let facts = read_boot_facts(root)?;
        *last = boot_id.map(|id| (root.root().to_path_buf(), id, facts.clone()));
        Ok(facts)
    }

    /// [`packages::last_package_change`], from the last search while none of the files
    /// it reads has changed and the zone is the same.
    fn last_package_change(
        &self,
        root: &SysRoot,
        zone: &Zone,
    ) -> (Known<DateTime<Utc>>, Vec<String>) {
        let mut last = self
            .package_change
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamps: Vec<super::FileStamp> = packages::CHANGE_SOURCES
            .iter()
            .map(|path| super::file_stamp(root, path))
            .collect();
        if let Some(cached) = last.as_ref()
            && cached.root == root.root()
            && cached.stamps == stamps
            && cached.zone == *zone
        {
            return cached.found.clone();
        }
        let found = packages::last_package_change(root, zone);
        *last = Some(PackageChange {
            root: root.root().to_path_buf(),
            stamps,
            zone: zone.clone(),
            found: found.clone(),
        });
        found
    }
}

/// Reads what cannot change within a boot.
fn read_boot_facts(root: &SysRoot) -> Result<BootFacts, CollectError> {
    let kernel = root
        .read_attr("/proc/sys/kernel/osrelease")?
        .ok_or_else(|| CollectError::parse("/proc/sys/kernel/osrelease", "empty or absent"))?;
    let (kernel_version, kernel_version_problem) = match root.read_attr("/proc/sys/kernel/version")
    {
        Ok(version) => (version, None),
        Err(err) => (None, Some(err.to_string())),
    };
    let stat = root.read_to_string("/proc/stat")?;
    let boot_time = parse_btime(&stat)?;
    let arch = architecture(root, &kernel);
    Ok(BootFacts {
        kernel,
        kernel_version,
        kernel_version_problem,
        boot_time,
        arch,
    })
}

impl Collector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let root = &ctx.root;
        let mut problems = Vec::new();

        let BootFacts {
            kernel,
            kernel_version,
            kernel_version_problem,
            boot_time,
            arch,
        } = self.boot_facts(root)?;
        problems.extend(kernel_version_problem);
        let uptime_secs = match read_uptime(root) {
            Ok(secs) => secs,
            Err(problem) => {
                problems.push(format!("{problem}; uptime computed from btime"));
                u64::try_from((Utc::now() - boot_time).num_seconds()).unwrap_or(0)
            }
        };

        let release = read_os_release(root, &mut problems);
        let field = |key: &str| release.get(key).filter(|v| !v.is_empty()).cloned();
        let id = field("ID").unwrap_or_else(|| "linux".to_owned());
        let id_like: Vec<String> = field("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        let name = field("PRETTY_NAME")
            .or_else(|| field("NAME"))
            .unwrap_or_else(|| "Linux".to_owned());
        let support_end = field("SUPPORT_END").and_then(|text| {
            let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok();
            if date.is_none() {
                problems.push(format!(
                    "os-release: SUPPORT_END `{text}` is not a YYYY-MM-DD date"
                ));
            }
            date
        });

        let arch = match arch {
            Ok(arch) => arch,
            Err(problem) => {
                problems.push(problem);
                "unknown".to_owned()
            }
        };

        let (timezone, zone) = host_zone(root);
        let zone = zone.unwrap_or_else(|problem| {
            problems.push(problem);
            Zone::utc()
        });

        let (reboot_required, reboot_required_packages, reboot_problems) =
            packages::reboot_required(root, &kernel);
        problems.extend(reboot_problems);
        let (last_package_change, change_problems) = self.last_package_change(root, &zone);
        problems.extend(change_problems);
        let mut like: Vec<&str> = id_like.iter().map(String::as_str).collect();
        like.push(&id);
        let (pending_updates, pending_problem) = packages::pending_updates(root, &like);
        problems.extend(pending_problem);

        let os = Os {
            family: "linux".to_owned(),
            id,
            id_like,
            name,
            version_id: field("VERSION_ID"),
            version_codename: field("VERSION_CODENAME"),
            build: field("BUILD_ID"),
            support_end,
            kernel,
            kernel_version,
            arch,
            timezone,
            boot_time,
            uptime_secs,
            install_time: packages::install_time(root),
            reboot_required,
            reboot_required_packages,
            last_package_change,
            pending_updates,
        };
        Ok(Collected::partial(Section::Os(os), problems))
    }
}

/// `/etc/os-release`, else `/usr/lib/os-release`, as key/value pairs. Absent or
/// malformed files are noted in `problems`.
fn read_os_release(
    root: &SysRoot,
    problems: &mut Vec<String>,
) -> std::collections::HashMap<String, String> {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        match root.read_optional(path) {
            Ok(Some(text)) => {
                let (fields, garbage) = release::parse(&text);
                if garbage > 0 {
                    problems.push(format!(
                        "{path}: {garbage} line(s) are not KEY=value assignments"
                    ));
                }
                if !fields.contains_key("ID") {
                    problems.push(format!("{path}: no ID; the distribution is unknown"));
                }
                return fields;
            }
            Ok(None) => continue,
            Err(err) => {
                problems.push(err.to_string());
                return Default::default();
            }
        }
    }
    problems.push(
        "/etc/os-release and /usr/lib/os-release: absent; the distribution is unknown".to_owned(),
    );
    Default::default()
}

/// Boot time from the `btime` line of `/proc/stat` (Unix seconds).
pub fn parse_btime(stat: &str) -> Result<DateTime<Utc>, CollectError> {
    let line = stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .ok_or_else(|| CollectError::parse("/proc/stat", "no btime line"))?;
    let secs: i64 = line.trim().parse().map_err(|_| {
        CollectError::parse(
            "/proc/stat",
            format!("btime `{}` is not a number", line.trim()),
        )
    })?;
    DateTime::from_timestamp(secs, 0)
        .filter(|t| secs > 0 && *t <= Utc::now() + chrono::Duration::days(1))
        .ok_or_else(|| CollectError::parse("/proc/stat", format!("btime {secs} is not plausible")))
}

/// Whole seconds since boot from `/proc/uptime`.
fn read_uptime(root: &SysRoot) -> Result<u64, String> {
    let text = root
        .read_to_string("/proc/uptime")
        .map_err(|err| err.to_string())?;
    let first = text.split_whitespace().next().unwrap_or_default();
    first
        .parse::<f64>()
        .ok()
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map(|secs| secs as u64)
        .ok_or_else(|| format!("/proc/uptime: `{first}` is not a number of seconds"))
}

/// The machine architecture (`uname -m`): `/proc/sys/kernel/arch` (Linux 6.1+), else
/// the architecture suffix of the kernel release (`.x86_64` on RHEL-likes, `-amd64` on
/// Debian), else the architecture the agent was built for (the agent runs natively).
fn architecture(root: &SysRoot, kernel: &str) -> Result<String, String> {
    match root.read_attr("/proc/sys/kernel/arch") {
        Ok(Some(arch)) => return Ok(arch),
        Ok(None) => {}
        Err(err) => return Err(err.to_string()),
    }
    const SUFFIXES: &[(&str, &str)] = &[
        (".x86_64", "x86_64"),
        ("-amd64", "x86_64"),
        (".aarch64", "aarch64"),
        ("-arm64", "aarch64"),
        (".ppc64le", "ppc64le"),
        ("-powerpc64le", "ppc64le"),
        (".s390x", "s390x"),
        ("-s390x", "s390x"),
        ("-686-pae", "i686"),
        (".i686", "i686"),
    ];
    let release = kernel.split('+').next().unwrap_or(kernel);
    if let Some((_, arch)) = SUFFIXES
        .iter()
        .find(|(suffix, _)| release.ends_with(suffix))
    {
        return Ok((*arch).to_owned());
    }
    if root.is_live() {
        return Ok(std::env::consts::ARCH.to_owned());
    }
    Err(format!(
        "/proc/sys/kernel/arch: absent and the kernel release `{kernel}` names no \
         architecture; architecture unknown"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };
    use estate_protocol::Known;

    fn collect(ctx: &Context) -> (Os, Vec<String>) {
        let collected = OsCollector::default().collect(ctx).unwrap();
        match collected.section {
            Section::Os(os) => (os, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().into()
    }

    #[test]
    fn dell_rocky_linux() {
        let (os, problems) = collect(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(os.family, "linux");
        assert_eq!(os.id, "rocky");
        assert_eq!(os.id_like, vec!["rhel", "centos", "fedora"]);
        assert_eq!(os.name, "Rocky Linux 9.4 (Blue Onyx)");
        assert_eq!(os.version_id.as_deref(), Some("9.4"));
        assert_eq!(os.version_codename, None);
        assert_eq!(os.build, None);
        assert_eq!(os.support_end, NaiveDate::from_ymd_opt(2032, 5, 31));
        assert_eq!(os.kernel, "5.14.0-427.13.1.el9_4.x86_64");
        assert_eq!(
            os.kernel_version.as_deref(),
            Some("#1 SMP PREEMPT_DYNAMIC Wed May 1 19:11:28 UTC 2024")
        );
        // No /proc/sys/kernel/arch on 5.14: from the release suffix.
        assert_eq!(os.arch, "x86_64");
        assert_eq!(os.timezone.as_deref(), Some("Europe/London"));
        assert_eq!(os.boot_time, time("2024-05-02T09:02:03Z"));
        assert_eq!(os.uptime_secs, 3_542_116);
        assert_eq!(os.install_time, None);
        // 5.14.0-427.18.1 is installed (dnf-automatic) but 427.13.1 is running.
        assert_eq!(os.reboot_required, Known::Known { value: true });
        assert!(os.reboot_required_packages.is_empty());
        assert_eq!(
            os.last_package_change,
            Known::Known {
                value: time("2024-06-05T05:42:10Z")
            }
        );
        let Known::Unknown { reason } = &os.pending_updates else {
            panic!("pending updates cannot be known offline on Rocky");
        };
        assert!(reason.contains("dnf"), "{reason}");
    }

    #[test]
    fn boot_facts_are_kept_for_the_boot_and_the_package_change_until_a_log_changes() {
        let dir = broken_copy(DEBIAN_VM);
        let c = ctx_at(dir.path());
        let collector = OsCollector::default();
        let collect_with = |collector: &OsCollector| match collector.collect(&c).unwrap().section {
            Section::Os(os) => os,
            other => panic!("wrong section {other:?}"),
        };
        write(
            dir.path(),
            crate::collect::platform::linux::BOOT_ID,
            b"boot-a\n",
        );
        let first = collect_with(&collector);
        assert_eq!(first.kernel, "6.1.0-18-amd64");
        let change = time("2024-06-12T05:25:14Z");
        assert_eq!(first.last_package_change, Known::Known { value: change });

        // Same boot: the kernel is not read again; the uptime is.
        write(
            dir.path(),
            "/proc/sys/kernel/osrelease",
            b"6.1.0-99-amd64\n",
        );
        write(dir.path(), "/proc/uptime", b"2000100.00 1.00\n");
        let second = collect_with(&collector);
        assert_eq!(second.kernel, "6.1.0-18-amd64");
        assert_eq!(second.uptime_secs, 2_000_100);
        assert_eq!(second.last_package_change, first.last_package_change);

        // A package installed: dpkg's log grew, the time is searched for again.
        let log = dir.path().join("var/log/dpkg.log");
        let mut text = std::fs::read(&log).unwrap();
        text.extend_from_slice(b"2024-07-01 10:00:00 install newpkg:amd64 <none> 1.0-1\n");
        std::fs::write(&log, text).unwrap();
        let third = collect_with(&collector);
        assert_ne!(third.last_package_change, first.last_package_change);
        assert_eq!(
            third.last_package_change,
            collect_with(&OsCollector::default()).last_package_change,
            "the same as a fresh collector"
        );

        // A new boot: the kernel is read again.
        write(
            dir.path(),
            crate::collect::platform::linux::BOOT_ID,
            b"boot-b\n",
        );
        assert_eq!(collect_with(&collector).kernel, "6.1.0-99-amd64");
    }

    #[test]
    fn debian_vm() {
        let (os, problems) = collect(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(os.id, "debian");
        assert!(os.id_like.is_empty());
        assert_eq!(os.name, "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(os.version_id.as_deref(), Some("12"));
        assert_eq!(os.version_codename.as_deref(), Some("bookworm"));
        assert_eq!(os.support_end, None);
        assert_eq!(os.kernel, "6.1.0-18-amd64");
        assert_eq!(os.arch, "x86_64");
        assert_eq!(os.timezone.as_deref(), Some("Europe/London"));
        assert_eq!(os.boot_time, time("2024-05-20T08:00:00Z"));
        assert_eq!(os.uptime_secs, 2_000_000);
        assert_eq!(os.reboot_required, Known::Known { value: true });
        assert_eq!(
            os.reboot_required_packages,
            vec!["linux-image-6.1.0-20-amd64", "libc6"]
        );
        // dpkg.log: `2024-06-12 06:25:14 upgrade libc6` in BST; the later removal of
        // telnet is not an install or upgrade.
        assert_eq!(
            os.last_package_change,
            Known::Known {
                value: time("2024-06-12T05:25:14Z")
            }
        );
        let Known::Unknown { reason } = &os.pending_updates else {
            panic!("Debian has no offline count");
        };
        assert!(reason.contains("updates-available"), "{reason}");
    }

    #[test]
    fn ubuntu_update_notifier_count_is_read() {
        let dir = broken_copy(DEBIAN_VM);
        write(
            dir.path(),
            packages::UPDATES_AVAILABLE,
            b"\n7 updates can be applied immediately.\n\
              2 of these updates are standard security updates.\n",
        );
        let (os, _) = collect(&ctx_at(dir.path()));
        let Known::Known { value } = os.pending_updates else {
            panic!("count expected");
        };
        assert_eq!((value.count, value.security_count), (7, Some(2)));
        assert_eq!(value.source, packages::UPDATES_AVAILABLE);

        write(dir.path(), packages::UPDATES_AVAILABLE, b"garbage\n");
        let (os, problems) = collect(&ctx_at(dir.path()));
        assert!(matches!(os.pending_updates, Known::Unknown { .. }));
        assert!(
            problems.iter().any(|p| p.contains("updates-available")),
            "{problems:?}"
        );
    }

    #[test]
    fn rhel_without_a_newer_kernel_needs_no_reboot() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/usr/lib/modules/5.14.0-427.18.1.el9_4.x86_64");
        let (os, _) = collect(&ctx_at(dir.path()));
        assert_eq!(os.reboot_required, Known::Known { value: false });
        // Without any kernel to compare and no reboot-required hook: unknown.
        remove(dir.path(), "/usr/lib/modules");
        let (os, _) = collect(&ctx_at(dir.path()));
        let Known::Unknown { reason } = os.reboot_required else {
            panic!("unknown expected");
        };
        assert!(reason.contains("5.14.0-427.13.1.el9_4.x86_64"), "{reason}");
    }

    #[test]
    fn debian_without_the_flag_file_and_with_the_hook_needs_no_reboot() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/run/reboot-required");
        remove(dir.path(), "/run/reboot-required.pkgs");
        let (os, _) = collect(&ctx_at(dir.path()));
        assert_eq!(os.reboot_required, Known::Known { value: false });
        assert!(os.reboot_required_packages.is_empty());
    }

    #[test]
    fn missing_os_release_is_partial_and_named() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/etc/os-release");
        remove(dir.path(), "/usr/lib/os-release");
        let (os, problems) = collect(&ctx_at(dir.path()));
        assert_eq!(os.id, "linux");
        assert_eq!(os.name, "Linux");
        assert!(
            problems.iter().any(|p| p.contains("/etc/os-release")),
            "{problems:?}"
        );
        // The rest is still there.
        assert_eq!(os.kernel, "6.1.0-18-amd64");
    }

    #[test]
    fn garbage_os_release_and_bad_support_end_are_reported() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/etc/os-release");
        write(
            dir.path(),
            "/etc/os-release",
            b"\x00\xffgarbage\nID=rocky\nSUPPORT_END=someday\n",
        );
        let (os, problems) = collect(&ctx_at(dir.path()));
        assert_eq!(os.id, "rocky");
        assert_eq!(os.support_end, None);
        assert!(
            problems.iter().any(|p| p.contains("SUPPORT_END")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("/etc/os-release: 1 line")),
            "{problems:?}"
        );
    }

    #[test]
    fn missing_or_broken_proc_stat_fails_with_the_file_named() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/proc/stat");
        let err = OsCollector::default()
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert!(err.to_string().starts_with("/proc/stat: "), "{err}");

        // Truncated before the btime line.
        let dir = broken_copy(DELL);
        truncate_half(dir.path(), "/proc/stat");
        let err = OsCollector::default()
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert_eq!(err.to_string(), "/proc/stat: no btime line");

        write(dir.path(), "/proc/stat", b"btime soon\n");
        let err = OsCollector::default()
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert_eq!(err.to_string(), "/proc/stat: btime `soon` is not a number");
    }

    #[test]
    fn missing_kernel_release_fails_and_bad_uptime_is_partial() {
        let dir = broken_copy(DEBIAN_VM);
        write(dir.path(), "/proc/uptime", b"garbage");
        let (os, problems) = collect(&ctx_at(dir.path()));
        assert!(os.uptime_secs > 2_000_000, "from btime: {}", os.uptime_secs);
        assert!(
            problems[0].starts_with("/proc/uptime: `garbage`"),
            "{problems:?}"
        );

        remove(dir.path(), "/proc/sys/kernel/osrelease");
        let err = OsCollector::default()
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("/proc/sys/kernel/osrelease"),
            "{err}"
        );
    }

    #[test]
    fn broken_localtime_is_reported_and_times_taken_as_utc() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/usr/share/zoneinfo/Europe/London");
        let (os, problems) = collect(&ctx_at(dir.path()));
        assert_eq!(os.timezone.as_deref(), Some("Europe/London"));
        assert!(
            problems.iter().any(|p| p.starts_with("/etc/localtime: ")),
            "{problems:?}"
        );
        assert_eq!(
            os.last_package_change,
            Known::Known {
                value: time("2024-06-12T06:25:14Z")
            }
        );
    }

    #[test]
    fn truncated_dpkg_log_falls_back_to_apt_history() {
        let dir = broken_copy(DEBIAN_VM);
        write(dir.path(), "/var/log/dpkg.log", b"2024-06-12 06:2");
        let (os, _) = collect(&ctx_at(dir.path()));
        // apt's End-Date of the libc6 upgrade, 06:25:17 BST.
        assert_eq!(
            os.last_package_change,
            Known::Known {
                value: time("2024-06-12T05:25:17Z")
            }
        );
        remove(dir.path(), "/var/log/apt/history.log");
        let (os, _) = collect(&ctx_at(dir.path()));
        let Known::Unknown { reason } = os.last_package_change else {
            panic!("unknown expected");
        };
        assert!(reason.contains("/var/log/dpkg.log"), "{reason}");
    }

    #[test]
    fn live_boot_time_matches_proc_stat() {
        let root = SysRoot::default();
        let Ok(stat) = root.read_to_string("/proc/stat") else {
            return;
        };
        let ctx = ctx_at(std::path::Path::new("/"));
        let (os, _) = collect(&ctx);
        // An independent reading of btime.
        let btime: i64 = stat
            .split('\n')
            .filter(|l| l.starts_with("btime"))
            .map(|l| l[6..].trim().parse().unwrap())
            .next()
            .unwrap();
        assert!((os.boot_time.timestamp() - btime).abs() <= 1);
        assert_eq!(os.arch, std::env::consts::ARCH);
    }
}
