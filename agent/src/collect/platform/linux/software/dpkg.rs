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

use std::io::{self, BufRead};

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

/// The fields of one stanza that matter, owned: the file is streamed a line at a time,
/// and these move into the [`Package`] without another copy.
#[derive(Default)]
struct Stanza {
    line: usize,
    package: Option<String>,
    status: Option<String>,
    version: Option<String>,
    arch: Option<String>,
    installed_size: Option<String>,
    maintainer: Option<String>,
}

/// Parses a dpkg status file held in memory (`path` is only used in problem messages).
pub fn parse_status(text: &str, path: &str) -> DpkgStatus {
    let mut parser = Parser::new(path);
    for line in text.lines() {
        parser.line(line);
    }
    parser.finish()
}

/// Parses a dpkg status file read line by line from `reader`, holding one line and one
/// stanza's fields at a time rather than the whole file (0.5–3 MB on a typical host,
/// read every report by the daemon). Gives the same result as [`parse_status`] on the
/// same bytes (invalid UTF-8 is replaced, as `SysRoot::read_to_string` does).
pub fn parse_status_from(reader: &mut dyn BufRead, path: &str) -> io::Result<DpkgStatus> {
    let mut parser = Parser::new(path);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        // As `str::lines`: strip "\n", and "\r" only before it.
        let line = match line.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => &line,
        };
        parser.line(line);
    }
    Ok(parser.finish())
}

/// The line-by-line state of a parse.
///
/// Only the fields needed are looked at; continuation lines (descriptions, conffiles)
/// are skipped without allocating: a 728-package, 640 KB file takes about 2 ms in a
/// release build.
struct Parser<'p> {
    path: &'p str,
    out: DpkgStatus,
    stanza: Stanza,
    in_stanza: bool,
    number: usize,
    bad_lines: usize,
    first_bad: Option<usize>,
}

impl<'p> Parser<'p> {
    fn new(path: &'p str) -> Self {
        Parser {
            path,
            out: DpkgStatus::default(),
            stanza: Stanza::default(),
            in_stanza: false,
            number: 0,
            bad_lines: 0,
            first_bad: None,
        }
    }

    fn line(&mut self, line: &str) {
        self.number += 1;
        let number = self.number;
        if line.trim().is_empty() {
            if self.in_stanza {
                finish(std::mem::take(&mut self.stanza), self.path, &mut self.out);
                self.in_stanza = false;
            }
            return;
        }
        if line.starts_with([' ', '\t']) {
            // Continuation of a multi-line field.
            return;
        }
        if !self.in_stanza {
            self.in_stanza = true;
            self.stanza.line = number;
        }
        let Some((name, value)) = line.split_once(':') else {
            self.bad_lines += 1;
            self.first_bad.get_or_insert(number);
            return;
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            self.bad_lines += 1;
            self.first_bad.get_or_insert(number);
            return;
        }
        let stanza = &mut self.stanza;
        let slot = match name {
            "Package" => &mut stanza.package,
            "Status" => &mut stanza.status,
            "Version" => &mut stanza.version,
            "Architecture" => &mut stanza.arch,
            "Installed-Size" => &mut stanza.installed_size,
            "Maintainer" => &mut stanza.maintainer,
            _ => return,
        };
        *slot = Some(value.trim().to_owned());
    }

    fn finish(mut self) -> DpkgStatus {
        if self.in_stanza {
            finish(self.stanza, self.path, &mut self.out);
        }
        if let Some(line) = self.first_bad {
            self.out.problems.push(format!(
                "{}: {} line(s) are not `Field: value` (first at line {line})",
                self.path, self.bad_lines
            ));
        }
        self.out
    }
}

fn finish(stanza: Stanza, path: &str, out: &mut DpkgStatus) {
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
    if !is_installed(&status) {
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
        name,
        version,
        arch: stanza.arch.filter(|a| !a.is_empty()),
        source: SOURCE.to_owned(),
        installed_size_bytes,
        publisher: stanza.maintainer.filter(|m| !m.is_empty()),
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
    fn streaming_gives_what_parsing_the_whole_text_gives() {
        let odd = "Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n\
                   Package: b\nStatus: install ok installed\nVersion: 2\r";
        let mut bytes = odd.as_bytes().to_vec();
        bytes[50] = 0xff; // invalid UTF-8, replaced by both
        for input in [SAMPLE.as_bytes(), &bytes, b"", b"\n\n", b"garbage"] {
            let text = String::from_utf8_lossy(input);
            let streamed = parse_status_from(&mut &input[..], "/s").unwrap();
            assert_eq!(streamed, parse_status(&text, "/s"), "{text:?}");
        }
    }

    #[test]
    fn an_empty_file_has_no_packages_and_no_problems() {
        assert_eq!(parse_status("", "/s"), DpkgStatus::default());
    }
}
