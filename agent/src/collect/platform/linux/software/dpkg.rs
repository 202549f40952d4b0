//! The dpkg status file (`/var/lib/dpkg/status`): which packages are installed.
//!
//! This module owns the parsing of deb822 stanzas and the rule for "installed"; it
//! reads nothing itself.
//!
//! # The rule
//!
//! A stanza's `Status:` field holds three words, `WANT FLAG STATE` (e.g.
//! `install ok installed`). A package counts as installed when `STATE` is `installed`,
//! `triggers-pending` or `triggers-awaited` — dpkg's own "configured" states, in which
//! the package's files are on disk and it satisfies dependencies — whatever `WANT`
//! says (`hold ok installed` is installed; so is `deinstall ok installed` until it is
//! removed). `config-files`, `half-installed`, `unpacked`, `half-configured` and
//! `not-installed` are not installed.
//!
//! `dpkg-query -W` lists every stanza whose state is not `not-installed`, so it also
//! counts `config-files` (`rc`) and half-done packages. On a host where every stanza
//! is `ii` (`dpkg-query -W -f='${db:Status-Abbrev}\n' | sort | uniq -c` prints one
//! line), the two counts are equal; where they differ, the difference is exactly the
//! removed-but-not-purged and broken packages, which are not installed software.
//!
//! Multi-arch packages installed for two architectures are two stanzas, hence two
//! packages.

use estate_protocol::Package;

/// Source name of packages read from the dpkg status file.
pub const SOURCE: &str = "dpkg";

/// What the status file yielded: installed packages, and stanzas that were malformed.
#[derive(Debug, Default, PartialEq)]
pub struct DpkgStatus {
    /// Installed packages, in file order.
    pub packages: Vec<Package>,
    /// Stanzas that could not be understood, each saying where and why.
    pub problems: Vec<String>,
}

/// Whether a `Status:` value means the package is installed (see the module docs).
pub fn is_installed(status: &str) -> bool {
    matches!(
        status.split_ascii_whitespace().nth(2),
        Some("installed" | "triggers-pending" | "triggers-awaited")
    )
}

#[derive(Default)]
struct Stanza<'a> {
    line: usize,
    package: Option<&'a str>,
    status: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    installed_size: Option<&'a str>,
    maintainer: Option<&'a str>,
}

/// Parses a dpkg status file (`path` is only used in problem messages).
///
/// Only the fields needed are looked at; continuation lines (descriptions,
/// conffiles) are skipped without allocating: a 728-package, 640 KB file takes about
/// 2 ms in a release build.
pub fn parse_status(text: &str, path: &str) -> DpkgStatus {
    let mut out = DpkgStatus::default();
    let mut stanza = Stanza::default();
    let mut in_stanza = false;
    let mut bad_lines = 0usize;
    let mut first_bad: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            if in_stanza {
                finish(std::mem::take(&mut stanza), path, &mut out);
                in_stanza = false;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of a multi-line field.
            continue;
        }
        if !in_stanza {
            in_stanza = true;
            stanza.line = number;
        }
        let Some((name, value)) = line.split_once(':') else {
            bad_lines += 1;
            first_bad.get_or_insert(number);
            continue;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            bad_lines += 1;
            first_bad.get_or_insert(number);
            continue;
        }
        let value = value.trim();
        let slot = match name {
            "Package" => &mut stanza.package,
            "Status" => &mut stanza.status,
            "Version" => &mut stanza.version,
            "Architecture" => &mut stanza.arch,
            "Installed-Size" => &mut stanza.installed_size,
            "Maintainer" => &mut stanza.maintainer,
            _ => continue,
        };
        *slot = Some(value);
    }
    if in_stanza {
        finish(stanza, path, &mut out);
    }
    if let Some(line) = first_bad {
        out.problems.push(format!(
            "{path}: {bad_lines} line(s) are not `Field: value` (first at line {line})"
        ));
    }
    out
}

fn finish(stanza: Stanza<'_>, path: &str, out: &mut DpkgStatus) {
    let line = stanza.line;
    let Some(name) = stanza.package.filter(|n| !n.is_empty()) else {
        out.problems.push(format!(
            "{path}: stanza at line {line} has no Package field"
        ));
        return;
    };
    let Some(status) = stanza.status else {
        out.problems.push(format!(
            "{path}: package {name} (line {line}) has no Status field"
        ));
        return;
    };
    if status.split_ascii_whitespace().count() != 3 {
        out.problems.push(format!(
            "{path}: package {name} (line {line}) has a malformed Status `{status}`"
        ));
        return;
    }
    if !is_installed(status) {
        return;
    }
    let Some(version) = stanza.version.filter(|v| !v.is_empty()) else {
        out.problems.push(format!(
            "{path}: installed package {name} (line {line}) has no Version field"
        ));
        return;
    };
    let installed_size_bytes = match stanza.installed_size {
        None => None,
        Some(kib) => match kib.parse::<u64>() {
            Ok(kib) => Some(kib.saturating_mul(1024)),
            Err(_) => {
                out.problems.push(format!(
                    "{path}: package {name} (line {line}) has a malformed Installed-Size `{kib}`"
                ));
                None
            }
        },
    };
    out.packages.push(Package {
        name: name.to_owned(),
        version: version.to_owned(),
        arch: stanza.arch.filter(|a| !a.is_empty()).map(str::to_owned),
        source: SOURCE.to_owned(),
        installed_size_bytes,
        publisher: stanza
            .maintainer
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        install_time: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Package: libc6
Status: install ok installed
Priority: optional
Installed-Size: 12988
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries
 Contains the standard libraries.
 .
 More text: with a colon.

Package: libc6
Status: install ok installed
Installed-Size: 11010
Architecture: i386
Version: 2.36-9+deb12u4

Package: apache2
Status: deinstall ok config-files
Architecture: amd64
Version: 2.4.57-2
Conffiles:
 /etc/apache2/apache2.conf 354c9e6d2b88a0a3e0548f853840674c

Package: vim
Status: hold ok installed
Architecture: amd64
Version: 2:9.0.1378-2

Package: broken
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: man-db
Status: install ok triggers-pending
Architecture: amd64
Version: 2.11.2-2
";

    #[test]
    fn only_installed_states_count_and_multiarch_duplicates_are_separate() {
        let parsed = parse_status(SAMPLE, "/var/lib/dpkg/status");
        assert_eq!(parsed.problems, Vec::<String>::new());
        let names: Vec<(&str, Option<&str>, &str)> = parsed
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.arch.as_deref(), p.version.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("libc6", Some("amd64"), "2.36-9+deb12u4"),
                ("libc6", Some("i386"), "2.36-9+deb12u4"),
                ("vim", Some("amd64"), "2:9.0.1378-2"),
                ("man-db", Some("amd64"), "2.11.2-2"),
            ]
        );
        assert_eq!(parsed.packages[0].installed_size_bytes, Some(12988 * 1024));
        assert_eq!(
            parsed.packages[0].publisher.as_deref(),
            Some("GNU Libc Maintainers <debian-glibc@lists.debian.org>")
        );
        assert_eq!(parsed.packages[2].installed_size_bytes, None);
    }

    #[test]
    fn the_rule_reads_the_third_status_word() {
        assert!(is_installed("install ok installed"));
        assert!(is_installed("hold ok installed"));
        assert!(is_installed("install ok triggers-awaited"));
        assert!(!is_installed("deinstall ok config-files"));
        assert!(!is_installed("install ok half-installed"));
        assert!(!is_installed("install ok unpacked"));
        assert!(!is_installed("purge ok not-installed"));
        assert!(!is_installed("installed"));
    }

    #[test]
    fn malformed_stanzas_are_reported_with_the_file_and_line() {
        let text = "Package: a\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n\
                    Installed-Size: lots\nVersion: 2\n\ngarbage line\nStatus: weird\n";
        let parsed = parse_status(text, "/var/lib/dpkg/status");
        assert_eq!(parsed.packages.len(), 1);
        assert_eq!(parsed.packages[0].installed_size_bytes, None);
        assert_eq!(
            parsed.problems,
            vec![
                "/var/lib/dpkg/status: package a (line 1) has no Status field".to_owned(),
                "/var/lib/dpkg/status: package b (line 4) has a malformed Installed-Size `lots`"
                    .to_owned(),
                "/var/lib/dpkg/status: stanza at line 9 has no Package field".to_owned(),
                "/var/lib/dpkg/status: 1 line(s) are not `Field: value` (first at line 9)"
                    .to_owned(),
            ]
        );
    }

    #[test]
    fn an_empty_file_has_no_packages_and_no_problems() {
        assert_eq!(parse_status("", "/s"), DpkgStatus::default());
    }
}
