//! Installed software: the dpkg status file and the RPM database.
//!
//! This module owns finding the package databases under the root and merging what
//! they hold; the formats are parsed in [`dpkg`] and [`rpm`]. It must not run a
//! package manager (no shell-outs) nor write to any database.

pub mod dpkg;
pub mod rpm;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use estate_protocol::{Package, Software};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

/// Host path of the dpkg status file.
pub const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// Collects installed packages from every package database found.
#[derive(Debug, Default)]
pub struct SoftwareCollector {
    packages: Arc<PackageCache>,
}

impl SoftwareCollector {
    /// A collector reading through `packages` (shared with the security collector).
    pub fn new(packages: Arc<PackageCache>) -> Self {
        SoftwareCollector { packages }
    }
}

impl Collector for SoftwareCollector {
    fn name(&self) -> &'static str {
        "software"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let (software, problems) = self.packages.installed_packages(&ctx.root)?;
        Ok(Collected::partial(Section::Software(software), problems))
    }
}

/// The package databases as last read, kept until one of their files changes.
///
/// Reading the dpkg status file is the largest part of a report's work after the socket
/// tables (650 KB parsed per read on a desktop), and both the software and the security
/// collectors need it, every report, while it changes when a package is installed.
/// A database file is taken as unchanged while its size, modification time (to the
/// nanosecond), change time and inode are: dpkg and rpm replace or write the file on
/// every change.
#[derive(Debug, Default)]
pub struct PackageCache {
    last: Mutex<Option<CachedPackages>>,
}

#[derive(Debug)]
struct CachedPackages {
    root: PathBuf,
    stamps: Vec<Stamp>,
    software: Software,
    problems: Vec<String>,
}

type Stamp = super::FileStamp;

impl PackageCache {
    /// [`installed_packages`], from the last read when no database file has changed.
    /// Failures are not remembered: the next call reads again.
    pub fn installed_packages(
        &self,
        root: &SysRoot,
    ) -> Result<(Software, Vec<String>), CollectError> {
        self.with_installed(root, |software, problems| {
            (software.clone(), problems.to_vec())
        })
    }

    /// Runs `f` on the installed packages and the problems met reading them, from the
    /// last read when no database file has changed, without copying them: for a
    /// caller that asks about a few packages (the security collector), where a copy of
    /// the whole list (hundreds of packages, a few allocations each) per report would
    /// cost more than the question. Failures are not remembered.
    pub fn with_installed<R>(
        &self,
        root: &SysRoot,
        f: impl FnOnce(&Software, &[String]) -> R,
    ) -> Result<R, CollectError> {
        // Plain data: a panic elsewhere while holding it leaves a usable cache. Held
        // while reading, so two collectors asking at once read the files once.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stamps = stamps(root);
        if let Some(cached) = last.as_ref()
            && cached.root == root.root()
            && cached.stamps == stamps
        {
            return Ok(f(&cached.software, &cached.problems));
        }
        *last = None;
        let (software, problems) = installed_packages(root)?;
        let result = f(&software, &problems);
        *last = Some(CachedPackages {
            root: root.root().to_path_buf(),
            stamps,
            software,
            problems,
        });
        Ok(result)
    }
}

/// Stamps of every file [`installed_packages`] may read, in a fixed order.
fn stamps(root: &SysRoot) -> Vec<Stamp> {
    let stamp = |path: &str| super::file_stamp(root, path);
    let mut stamps = vec![stamp(DPKG_STATUS)];
    for path in rpm::SQLITE_PATHS.iter().chain(rpm::OTHER_DB_PATHS) {
        stamps.push(stamp(path));
        // rpm's SQLite database commits to its write-ahead log first.
        stamps.push(stamp(&format!("{path}-wal")));
    }
    stamps
}

/// Reads every package database under `root`: installed packages sorted by name,
/// version and architecture, and the problems met on the way (each naming the file).
///
/// Fails when no database could be read at all: an empty list would read as "nothing
/// installed".
pub fn installed_packages(root: &SysRoot) -> Result<(Software, Vec<String>), CollectError> {
    let mut sources = Vec::new();
    let mut packages: Vec<Package> = Vec::new();
    let mut problems = Vec::new();
    let mut looked_for = vec![DPKG_STATUS];

    // Streamed: the file is read every report, and holding it whole (0.5–3 MB) was the
    // largest transient allocation of the daemon's report.
    match root.stream_optional(DPKG_STATUS, |lines| {
        dpkg::parse_status_from(lines, DPKG_STATUS)
    }) {
        Ok(None) => {}
        Ok(Some(parsed)) => {
            if parsed.packages.is_empty() && !parsed.problems.is_empty() {
                problems.push(format!("{DPKG_STATUS}: no installed package could be read"));
            } else {
                sources.push(dpkg::SOURCE.to_owned());
                // The list is still empty here: take it rather than copy it.
                packages = parsed.packages;
            }
            problems.extend(parsed.problems);
        }
        Err(err) => problems.push(err.to_string()),
    }

    looked_for.extend_from_slice(rpm::SQLITE_PATHS);
    match rpm::SQLITE_PATHS.iter().find(|p| root.exists(p)) {
        Some(path) => match rpm::read_sqlite(&root.path(path), path) {
            Ok(db) => {
                if db.packages.is_empty() && !db.problems.is_empty() {
                    problems.push(format!("{path}: no package header could be read"));
                } else {
                    sources.push(rpm::SOURCE.to_owned());
                    packages.extend(db.packages);
                }
                problems.extend(db.problems);
            }
            Err(err) => problems.push(err),
        },
        None => {
            if let Some(path) = rpm::OTHER_DB_PATHS.iter().find(|p| root.exists(p)) {
                problems.push(format!(
                    "{path}: RPM database in Berkeley DB or ndb format (rpm < 4.16 or SUSE), \
                     which this agent does not read"
                ));
            }
        }
    }

    if sources.is_empty() {
        return Err(CollectError::Other(if problems.is_empty() {
            format!(
                "no package database found (looked for {})",
                looked_for.join(", ")
            )
        } else {
            problems.join("; ")
        }));
    }
    packages.sort_by(|a, b| {
        (&a.name, &a.version, &a.arch, &a.source).cmp(&(&b.name, &b.version, &b.arch, &b.source))
    });
    Ok((Software { sources, packages }, problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL};

    #[test]
    fn live_dpkg_count_matches_an_independent_count() {
        let root = SysRoot::default();
        let Ok(Some(text)) = root.read_optional(DPKG_STATUS) else {
            return;
        };
        // Independent count: split on blank lines, look for the Status line by hand.
        let expected = text
            .split("\n\n")
            .filter(|stanza| {
                stanza.lines().any(|l| {
                    let l = l.trim_end();
                    l.starts_with("Status: ")
                        && (l.ends_with(" installed")
                            || l.ends_with(" triggers-pending")
                            || l.ends_with(" triggers-awaited"))
                })
            })
            .count();
        let started = std::time::Instant::now();
        let parsed = dpkg::parse_status(&text, DPKG_STATUS);
        let elapsed = started.elapsed();
        assert_eq!(parsed.problems, Vec::<String>::new());
        assert_eq!(parsed.packages.len(), expected);
        assert!(expected > 0);
        // ~2 ms for 728 packages (640 KB) in a release build, ~120 ms in a debug
        // build; the bound only catches a pathological (e.g. quadratic) parser.
        assert!(elapsed.as_millis() < 1000, "{elapsed:?}");
    }

    #[test]
    fn the_package_cache_reads_again_only_when_a_database_changes() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        let c = testutil::ctx_at(dir.path());
        let cache = PackageCache::default();
        let first = cache.installed_packages(&c.root).unwrap();
        assert_eq!(first, installed_packages(&c.root).unwrap());
        assert_eq!(cache.installed_packages(&c.root).unwrap(), first);

        // Another root is another machine.
        let other = testutil::ctx(DELL);
        assert_eq!(
            cache.installed_packages(&other.root).unwrap(),
            installed_packages(&other.root).unwrap()
        );

        // dpkg rewrites its status file: a package is added.
        let status = dir.path().join(DPKG_STATUS.trim_start_matches('/'));
        let mut text = std::fs::read_to_string(&status).unwrap();
        text.push_str(
            "\nPackage: zz-added\nStatus: install ok installed\nVersion: 1.0\n\
             Architecture: amd64\n",
        );
        testutil::write(dir.path(), DPKG_STATUS, text.as_bytes());
        let (after, _) = cache.installed_packages(&c.root).unwrap();
        assert_eq!(after, installed_packages(&c.root).unwrap().0);
        assert!(after.packages.iter().any(|p| p.name == "zz-added"));

        // The database goes away: the failure is not served from the cache.
        testutil::remove(dir.path(), DPKG_STATUS);
        assert!(cache.installed_packages(&c.root).is_err());
    }

    fn software(ctx: &Context) -> (Software, Vec<String>) {
        let c = SoftwareCollector::default().collect(ctx).unwrap();
        let Section::Software(sw) = c.section else {
            panic!("wrong section")
        };
        (sw, c.problems)
    }

    #[test]
    fn debian_dpkg_status_counts_installed_packages_only() {
        let (sw, problems) = software(&testutil::ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(sw.sources, vec!["dpkg"]);
        // 39 stanzas: `dpkg-query --admindir=... -W | wc -l` says 39, of which 3 are
        // `rc` (deinstall ok config-files).
        assert_eq!(sw.packages.len(), 36);
        for gone in ["apache2", "apache2-bin", "linux-image-6.1.0-13-amd64"] {
            assert!(!sw.packages.iter().any(|p| p.name == gone), "{gone}");
        }
        let nginx = sw.packages.iter().find(|p| p.name == "nginx").unwrap();
        assert_eq!(
            nginx,
            &Package {
                name: "nginx".to_owned(),
                version: "1.22.1-9".to_owned(),
                arch: Some("amd64".to_owned()),
                source: "dpkg".to_owned(),
                installed_size_bytes: Some(1186 * 1024),
                publisher: Some(
                    "Debian Nginx Maintainers <pkg-nginx-maintainers@alioth-lists.debian.net>"
                        .to_owned()
                ),
                install_time: None,
            }
        );
        let kernels: Vec<&str> = sw
            .packages
            .iter()
            .filter(|p| p.name.starts_with("linux-image-"))
            .map(|p| p.version.as_str())
            .collect();
        assert_eq!(kernels, vec!["6.1.76-1", "6.1.85-1"]);
        let names: Vec<&str> = sw.packages.iter().map(|p| p.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(names.first(), Some(&"apt"));
        assert_eq!(names.last(), Some(&"util-linux"));
    }

    #[test]
    fn dell_rpmdb_yields_rpms_own_headers() {
        let (sw, problems) = software(&testutil::ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(sw.sources, vec!["rpm"]);
        let summary: Vec<(&str, &str, Option<&str>, Option<u64>)> = sw
            .packages
            .iter()
            .map(|p| {
                (
                    p.name.as_str(),
                    p.version.as_str(),
                    p.arch.as_deref(),
                    p.installed_size_bytes,
                )
            })
            .collect();
        // What `rpm --dbpath .../var/lib/rpm -qa` prints; gpg-pubkey skipped.
        assert_eq!(
            summary,
            vec![
                ("bash", "5.1.8-9.el9", Some("x86_64"), Some(7340)),
                ("chrony", "4.5-1.el9", Some("x86_64"), Some(1210)),
                ("dnf-automatic", "4.14.0-9.el9", Some("noarch"), Some(512)),
                (
                    "falcon-sensor",
                    "7.10.0-16303.el9",
                    Some("x86_64"),
                    Some(9000)
                ),
                ("firewalld", "1.3.4-1.el9", Some("noarch"), Some(2048)),
                (
                    "kernel",
                    "5.14.0-427.13.1.el9_4",
                    Some("x86_64"),
                    Some(4096)
                ),
                ("openssh-server", "8.7p1-38.el9", Some("x86_64"), Some(3072)),
                ("openssl", "1:3.0.7-27.el9", Some("x86_64"), Some(1500)),
                (
                    "postgresql-server",
                    "13.14-1.el9_3",
                    Some("x86_64"),
                    Some(6000)
                ),
            ]
        );
        let falcon = &sw.packages[3];
        assert_eq!(falcon.publisher.as_deref(), Some("CrowdStrike, Inc."));
        assert_eq!(
            falcon.install_time.map(|t| t.to_rfc3339()),
            Some("2026-11-27T09:41:50+00:00".to_owned())
        );
        assert_eq!(falcon.source, "rpm");
        // Read-only and immutable: sqlite left no -wal/-shm beside the fixture.
        let dir = testutil::fixture_path(DELL).join("var/lib/rpm");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(files, vec!["rpmdb.sqlite"]);
    }

    #[test]
    fn no_database_is_an_error_naming_what_was_looked_for() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), DPKG_STATUS);
        let err = SoftwareCollector::default()
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no package database found (looked for /var/lib/dpkg/status, \
             /var/lib/rpm/rpmdb.sqlite, /usr/lib/sysimage/rpm/rpmdb.sqlite)"
        );
    }

    #[test]
    fn garbage_dpkg_status_is_an_error_naming_the_file() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::write(dir.path(), DPKG_STATUS, b"\x00\x01garbage\nmore garbage\n");
        let err = SoftwareCollector::default()
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("/var/lib/dpkg/status: no installed package could be read"),
            "{text}"
        );
    }

    #[test]
    fn truncated_dpkg_status_delivers_what_it_holds_and_names_the_broken_stanza() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        // Cut inside the libc6 stanza, before its Version field.
        let text = std::fs::read_to_string(dir.path().join("var/lib/dpkg/status")).unwrap();
        let cut = text.find("Version: 2.36-9+deb12u14").unwrap();
        testutil::write(dir.path(), DPKG_STATUS, &text.as_bytes()[..cut]);
        let (sw, problems) = software(&testutil::ctx_at(dir.path()));
        assert_eq!(sw.packages.len(), 12);
        assert_eq!(
            problems,
            vec![
                "/var/lib/dpkg/status: installed package libc6 (line 360) has no Version field"
                    .to_owned()
            ]
        );
    }

    #[test]
    fn broken_rpmdb_is_an_error_naming_the_file() {
        let dir = testutil::broken_copy(DELL);
        testutil::truncate_half(dir.path(), "/var/lib/rpm/rpmdb.sqlite");
        let err = SoftwareCollector::default()
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("/var/lib/rpm/rpmdb.sqlite: "),
            "{err}"
        );
        testutil::write(dir.path(), "/var/lib/rpm/rpmdb.sqlite", b"not a database");
        let err = SoftwareCollector::default()
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/var/lib/rpm/rpmdb.sqlite: not an RPM database: "),
            "{err}"
        );
    }

    #[test]
    fn berkeley_db_rpm_databases_are_named_as_unsupported() {
        let dir = testutil::broken_copy(DELL);
        testutil::remove(dir.path(), "/var/lib/rpm/rpmdb.sqlite");
        testutil::write(dir.path(), "/var/lib/rpm/Packages", b"\x00\x06\x15\x61");
        let err = SoftwareCollector::default()
            .collect(&testutil::ctx_at(dir.path()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/var/lib/rpm/Packages: RPM database in Berkeley DB or ndb format \
             (rpm < 4.16 or SUSE), which this agent does not read"
        );
    }
}
