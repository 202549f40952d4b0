//! The SSH server's effective `PermitRootLogin` and `PasswordAuthentication`, read from
//! `sshd_config` and the files it `Include`s, the way sshd reads them: keywords are
//! case-insensitive, the first value of a keyword wins, `Include` is expanded in place
//! (globs sorted, relative paths under `/etc/ssh`, a path matching nothing ignored), and lines inside a `Match` block —
//! which runs to the next `Match` or to the end of the file that opened it, and takes
//! in the files it `Include`s — do not set the global value (`Match all` ends one).
//!
//! This module owns that parsing; it reads through the root only.

use estate_protocol::{Known, SshConfig};

use crate::root::SysRoot;

/// Host path of the SSH server's configuration.
pub const SSHD_CONFIG: &str = "/etc/ssh/sshd_config";
/// sshd's default `PermitRootLogin` (OpenSSH ≥ 7.0).
pub const DEFAULT_PERMIT_ROOT_LOGIN: &str = "prohibit-password";
/// sshd's default `PasswordAuthentication`.
pub const DEFAULT_PASSWORD_AUTHENTICATION: bool = true;
/// How deep `Include`s may nest (sshd's own limit is 16).
const MAX_INCLUDE_DEPTH: usize = 16;

#[derive(Default)]
struct Found {
    permit_root_login: Option<(String, String)>,
    password_authentication: Option<(String, String)>,
    problems: Vec<String>,
}

/// The effective settings, or why they are unknown.
pub fn ssh_config(root: &SysRoot) -> Known<SshConfig> {
    let text = match root.read_optional(SSHD_CONFIG) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return Known::unknown(format!(
                "no SSH server configured ({SSHD_CONFIG} not found)"
            ));
        }
        Err(err) => return Known::unknown(err.to_string()),
    };
    let mut found = Found::default();
    read_file(root, SSHD_CONFIG, &text, 0, false, &mut found);
    if let Some(problem) = found.problems.first() {
        return Known::unknown(problem.clone());
    }
    let mut files: Vec<String> = Vec::new();
    let permit_root_login = match found.permit_root_login {
        Some((value, file)) => {
            files.push(file);
            value
        }
        None => DEFAULT_PERMIT_ROOT_LOGIN.to_owned(),
    };
    let password_authentication = match found.password_authentication {
        Some((value, file)) => {
            if !files.contains(&file) {
                files.push(file);
            }
            value == "yes"
        }
        None => DEFAULT_PASSWORD_AUTHENTICATION,
    };
    Known::Known {
        value: SshConfig {
            permit_root_login,
            password_authentication,
            files,
        },
    }
}

fn read_file(
    root: &SysRoot,
    path: &str,
    text: &str,
    depth: usize,
    mut in_match: bool,
    found: &mut Found,
) {
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, value) = split_keyword(line);
        let keyword = keyword.to_ascii_lowercase();
        let at = format!("{path}:{}", index + 1);
        match keyword.as_str() {
            // `Match all` applies to every connection: global again.
            "match" => in_match = !value.eq_ignore_ascii_case("all"),
            "include" => {
                for pattern in value.split_whitespace() {
                    include(root, pattern, depth, in_match, &at, found);
                }
            }
            "permitrootlogin" if !in_match && found.permit_root_login.is_none() => {
                let value = value.to_ascii_lowercase();
                let value = match value.as_str() {
                    "without-password" => DEFAULT_PERMIT_ROOT_LOGIN.to_owned(),
                    "yes" | "no" | "prohibit-password" | "forced-commands-only" => value,
                    _ => {
                        found.problems.push(format!(
                            "{at}: PermitRootLogin has an invalid value `{value}`"
                        ));
                        continue;
                    }
                };
                found.permit_root_login = Some((value, path.to_owned()));
            }
            "passwordauthentication" if !in_match && found.password_authentication.is_none() => {
                let value = value.to_ascii_lowercase();
                if value != "yes" && value != "no" {
                    found.problems.push(format!(
                        "{at}: PasswordAuthentication has an invalid value `{value}`"
                    ));
                    continue;
                }
                found.password_authentication = Some((value, path.to_owned()));
            }
            _ => {}
        }
    }
}

/// `Keyword value` or `Keyword=value`; the value's surrounding quotes removed.
fn split_keyword(line: &str) -> (&str, &str) {
    let end = line
        .find(|c: char| c.is_whitespace() || c == '=')
        .unwrap_or(line.len());
    let (keyword, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    let rest = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(rest);
    (keyword, rest)
}

fn include(
    root: &SysRoot,
    pattern: &str,
    depth: usize,
    in_match: bool,
    at: &str,
    found: &mut Found,
) {
    if depth + 1 > MAX_INCLUDE_DEPTH {
        found.problems.push(format!(
            "{at}: Include nested deeper than {MAX_INCLUDE_DEPTH}"
        ));
        return;
    }
    let pattern = if pattern.starts_with('/') {
        pattern.to_owned()
    } else {
        format!("/etc/ssh/{pattern}")
    };
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern.as_str()));
    let paths: Vec<String> = if name.contains(['*', '?', '[']) {
        match root.read_dir(if dir.is_empty() { "/" } else { dir }) {
            Ok(names) => names
                .into_iter()
                .filter(|n| !n.starts_with('.') && glob_match(name, n))
                .map(|n| format!("{dir}/{n}"))
                .collect(),
            // A glob that matches nothing is not an error for sshd.
            Err(err) if err.is_not_found() => Vec::new(),
            Err(err) => {
                found.problems.push(format!("{at}: Include: {err}"));
                return;
            }
        }
    } else {
        vec![pattern.clone()]
    };
    for path in paths {
        match root.read_to_string(&path) {
            Ok(text) => read_file(root, &path, &text, depth + 1, in_match, found),
            // Like glob(3) in sshd: a path that matches nothing includes nothing.
            Err(err) if err.is_not_found() => {}
            Err(_) if root.metadata(&path).map(|m| m.is_dir()).unwrap_or(false) => {}
            Err(err) => found.problems.push(format!("{at}: Include: {err}")),
        }
    }
}

/// Shell-style match of `*` and `?` (character classes are treated literally).
fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    fn at(files: &[(&str, &str)]) -> (tempfile::TempDir, SysRoot) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            testutil::write(dir.path(), path, text.as_bytes());
        }
        let root = SysRoot::new(dir.path());
        (dir, root)
    }

    fn value(k: Known<SshConfig>) -> SshConfig {
        match k {
            Known::Known { value } => value,
            Known::Unknown { reason } => panic!("unknown: {reason}"),
        }
    }

    #[test]
    fn first_value_wins_includes_in_place_and_match_is_ignored() {
        let (_d, root) = at(&[
            (
                SSHD_CONFIG,
                "# comment\nInclude /etc/ssh/sshd_config.d/*.conf\npermitrootlogin yes\n\
                 Match User backup\n  PasswordAuthentication no\n",
            ),
            (
                "/etc/ssh/sshd_config.d/10-a.conf",
                "PermitRootLogin=\"no\"\n",
            ),
            ("/etc/ssh/sshd_config.d/20-b.conf", "PermitRootLogin yes\n"),
            (
                "/etc/ssh/sshd_config.d/30-c.conf.disabled",
                "PasswordAuthentication no\n",
            ),
        ]);
        assert_eq!(
            value(ssh_config(&root)),
            SshConfig {
                permit_root_login: "no".to_owned(),
                password_authentication: true,
                files: vec!["/etc/ssh/sshd_config.d/10-a.conf".to_owned()],
            }
        );
    }

    #[test]
    fn a_match_block_in_an_included_file_ends_with_that_file() {
        let (_d, root) = at(&[
            (
                SSHD_CONFIG,
                "Include sshd_config.d/*.conf\nPasswordAuthentication no\n",
            ),
            (
                "/etc/ssh/sshd_config.d/a.conf",
                "Match Address 10.0.0.0/8\nPermitRootLogin yes\n",
            ),
        ]);
        let v = value(ssh_config(&root));
        assert_eq!(v.permit_root_login, "prohibit-password");
        assert!(!v.password_authentication);
        assert_eq!(v.files, vec![SSHD_CONFIG.to_owned()]);
    }

    #[test]
    fn defaults_when_unset_and_unknown_without_a_server() {
        let (_d, root) = at(&[(SSHD_CONFIG, "Port 22\nPermitRootLogin without-password\n")]);
        let v = value(ssh_config(&root));
        assert_eq!(v.permit_root_login, "prohibit-password");
        assert!(v.password_authentication);
        let (_d, root) = at(&[]);
        assert_eq!(
            ssh_config(&root),
            Known::unknown("no SSH server configured (/etc/ssh/sshd_config not found)")
        );
    }

    #[test]
    fn invalid_values_and_include_loops_make_it_unknown_with_the_line() {
        let (_d, root) = at(&[(SSHD_CONFIG, "\nPasswordAuthentication maybe\n")]);
        assert_eq!(
            ssh_config(&root),
            Known::unknown(
                "/etc/ssh/sshd_config:2: PasswordAuthentication has an invalid value `maybe`"
            )
        );
        let (_d, root) = at(&[(SSHD_CONFIG, "Include /etc/ssh/sshd_config\n")]);
        let Known::Unknown { reason } = ssh_config(&root) else {
            panic!("known")
        };
        assert!(
            reason.ends_with("Include nested deeper than 16"),
            "{reason}"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match("*.conf", "50-cloud-init.conf"));
        assert!(!glob_match("*.conf", "50-cloud-init.conf.bak"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(!glob_match("a?c", "ac"));
    }
}
