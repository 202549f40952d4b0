//! Automatic updates: apt's unattended-upgrades and dnf-automatic.
//!
//! apt: `APT::Periodic::Unattended-Upgrade` (a number of days; `0` is off) from
//! `/etc/apt/apt.conf` and `/etc/apt/apt.conf.d/*` (files read in name order, the last
//! value wins, as apt does), not overridden by `APT::Periodic::Enable "0"`, and the
//! `unattended-upgrades` package installed. dnf: `dnf-automatic-install.timer`
//! enabled, or `dnf-automatic.timer` enabled with `apply_updates = yes` in
//! `/etc/dnf/automatic.conf`. This module owns those rules and apt's config syntax; it
//! reads through the root only.

use std::collections::BTreeMap;

use estate_protocol::{AutomaticUpdates, Known};

use crate::collect::platform::linux::services::unit_files::UnitFiles;
use crate::root::SysRoot;

/// The package whose presence [`automatic_updates`] asks about (through its `installed`
/// argument): the only one.
pub const UNATTENDED_UPGRADES: &str = "unattended-upgrades";

/// apt's main configuration file.
pub const APT_CONF: &str = "/etc/apt/apt.conf";
/// apt's configuration fragments directory.
pub const APT_CONF_D: &str = "/etc/apt/apt.conf.d";
/// dnf-automatic's configuration.
pub const DNF_AUTOMATIC_CONF: &str = "/etc/dnf/automatic.conf";

/// Parses apt configuration text (from host file `file`) into `Scope::Key` →
/// (value, file) (keys lower-cased, as apt compares them), over what earlier files set. Understands `//`, `/* */` and `#` comments, nested scopes
/// (`APT { Periodic { X "1"; }; };`) and `#clear`. Lists (`key { "a"; "b"; };`) are
/// skipped. Returns the first syntax error, if any, with its line.
pub fn parse_apt_conf(
    text: &str,
    file: &str,
    into: &mut BTreeMap<String, (String, String)>,
) -> Result<(), String> {
    let tokens = tokenize(text)?;
    let mut scope: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let (line, ref token) = tokens[i];
        match token {
            Token::Close => {
                if scope.pop().is_none() {
                    return Err(format!("line {line}: `}}` without a matching `{{`"));
                }
                i += 1;
                if matches!(tokens.get(i), Some((_, Token::Semi))) {
                    i += 1;
                }
            }
            Token::Semi => i += 1,
            Token::Word(word) if word.starts_with('#') => {
                // `#clear KEY;` / `#include FILE;`: skip to the `;`.
                if word == "#clear"
                    && let Some((_, Token::Word(key))) = tokens.get(i + 1)
                {
                    let key = full_key(&scope, key);
                    into.retain(|k, _| k != &key && !k.starts_with(&format!("{key}::")));
                }
                while i < tokens.len() && !matches!(tokens[i].1, Token::Semi) {
                    i += 1;
                }
            }
            Token::Word(key) | Token::Quoted(key) => {
                let key = key.clone();
                match tokens.get(i + 1).map(|t| &t.1) {
                    Some(Token::Open) => {
                        scope.push(key);
                        i += 2;
                    }
                    Some(Token::Quoted(value)) | Some(Token::Word(value)) => {
                        into.insert(full_key(&scope, &key), (value.clone(), file.to_owned()));
                        i += 2;
                    }
                    Some(Token::Semi) => i += 2,
                    _ => return Err(format!("line {line}: `{key}` is not followed by a value")),
                }
            }
            Token::Open => {
                // An anonymous list element block; treat like a scope with no name.
                scope.push(String::new());
                i += 1;
            }
        }
    }
    if !scope.is_empty() {
        return Err("a `{` is never closed".to_owned());
    }
    Ok(())
}

fn full_key(scope: &[String], key: &str) -> String {
    let mut parts: Vec<&str> = scope.iter().map(String::as_str).collect();
    parts.push(key);
    parts.join("::").to_ascii_lowercase()
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Open,
    Close,
    Semi,
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let start = line;
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("line {start}: comment is never closed"));
                }
                i += 2;
            }
            '#' => {
                let word: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic())
                    .collect();
                if word == "clear" || word == "include" {
                    out.push((line, Token::Word(format!("#{word}"))));
                    i += 1 + word.len();
                } else {
                    while i < chars.len() && chars[i] != '\n' {
                        i += 1;
                    }
                }
            }
            '{' => {
                out.push((line, Token::Open));
                i += 1;
            }
            '}' => {
                out.push((line, Token::Close));
                i += 1;
            }
            ';' => {
                out.push((line, Token::Semi));
                i += 1;
            }
            '"' => {
                let start = line;
                i += 1;
                let mut value = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    value.push(chars[i]);
                    i += 1;
                }
                if i >= chars.len() {
                    return Err(format!("line {start}: string is never closed"));
                }
                i += 1;
                out.push((start, Token::Quoted(value)));
            }
            _ => {
                let mut word = String::new();
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '{' | '}' | ';' | '"')
                {
                    word.push(chars[i]);
                    i += 1;
                }
                out.push((line, Token::Word(word)));
            }
        }
    }
    Ok(out)
}

/// Whether apt would read a file of `apt.conf.d` (apt's `Dir::Ignore-Files-Silently`
/// rules: names of letters, digits, `_`, `-`, `.`, with no extension or `.conf`).
fn apt_reads(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && (!name.contains('.') || name.ends_with(".conf"))
}

/// Value of an apt interval setting: days, `always`, or a number with a unit.
fn interval_on(value: &str) -> bool {
    let value = value.trim();
    if value.eq_ignore_ascii_case("always") {
        return true;
    }
    let digits: String = value.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse::<u64>().map(|n| n > 0).unwrap_or(false)
}

/// The automatic update configuration. `installed` answers "is this package
/// installed?" (`None` when the package database could not be read).
pub fn automatic_updates(
    root: &SysRoot,
    units: &UnitFiles,
    installed: &dyn Fn(&str) -> Option<bool>,
    problems: &mut Vec<String>,
) -> Known<AutomaticUpdates> {
    let has_apt = root.exists(APT_CONF_D) || root.exists(APT_CONF);
    let has_dnf = root.exists("/etc/dnf");
    if !has_apt && !has_dnf {
        return Known::unknown(format!(
            "neither apt ({APT_CONF_D}) nor dnf (/etc/dnf) is configured on this host"
        ));
    }
    let mut evidence = Vec::new();
    let mut mechanism = None;
    let mut enabled = false;
    if has_apt {
        match apt(root, installed, &mut evidence, problems) {
            Ok(on) => {
                mechanism = Some("unattended-upgrades".to_owned());
                enabled |= on;
            }
            Err(reason) => return Known::unknown(reason),
        }
    }
    if has_dnf {
        let on = dnf(root, units, &mut evidence, problems);
        if on || mechanism.is_none() {
            mechanism = Some("dnf-automatic".to_owned());
        }
        enabled |= on;
    }
    Known::Known {
        value: AutomaticUpdates {
            enabled,
            mechanism,
            evidence,
        },
    }
}

fn apt(
    root: &SysRoot,
    installed: &dyn Fn(&str) -> Option<bool>,
    evidence: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> Result<bool, String> {
    let mut files = Vec::new();
    if root.exists(APT_CONF) {
        files.push(APT_CONF.to_owned());
    }
    match root.read_dir(APT_CONF_D) {
        Ok(names) => files.extend(
            names
                .into_iter()
                .filter(|n| apt_reads(n))
                .map(|n| format!("{APT_CONF_D}/{n}")),
        ),
        Err(err) if err.is_not_found() => {}
        Err(err) => problems.push(err.to_string()),
    }
    let mut config = BTreeMap::new();
    for file in &files {
        match root.read_to_string(file) {
            Ok(text) => {
                if let Err(why) = parse_apt_conf(&text, file, &mut config) {
                    problems.push(format!("{file}: {why}"));
                }
            }
            Err(err) => problems.push(err.to_string()),
        }
    }
    let setting = config.get("apt::periodic::unattended-upgrade");
    let master = config.get("apt::periodic::enable");
    let package = installed(UNATTENDED_UPGRADES);
    let configured = setting.is_some_and(|(v, _)| interval_on(v));
    evidence.push(match setting {
        Some((value, file)) => format!("{file}: APT::Periodic::Unattended-Upgrade \"{value}\""),
        None => format!("APT::Periodic::Unattended-Upgrade is not set in {APT_CONF_D}"),
    });
    let master_off = master.is_some_and(|(v, _)| !interval_on(v));
    if let Some((value, file)) = master.filter(|_| master_off) {
        evidence.push(format!(
            "{file}: APT::Periodic::Enable \"{value}\" turns periodic apt jobs off"
        ));
    }
    match package {
        Some(true) => evidence.push("package unattended-upgrades installed".to_owned()),
        Some(false) => evidence.push("package unattended-upgrades not installed".to_owned()),
        None if configured => {
            return Err(
                "APT::Periodic::Unattended-Upgrade is on, but the package database could not \
                 be read to tell whether unattended-upgrades is installed"
                    .to_owned(),
            );
        }
        None => {}
    }
    Ok(configured && !master_off && package == Some(true))
}

fn dnf(
    root: &SysRoot,
    units: &UnitFiles,
    evidence: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> bool {
    if units.is_enabled("dnf-automatic-install.timer") {
        evidence.push("dnf-automatic-install.timer enabled (installs updates)".to_owned());
        return true;
    }
    let timer = units.is_enabled("dnf-automatic.timer");
    evidence.push(format!(
        "dnf-automatic.timer {}",
        match units.state("dnf-automatic.timer") {
            Some(state) => state.to_owned(),
            None if !units.found_any_dir => "unknown (systemd not running)".to_owned(),
            None => "not installed".to_owned(),
        }
    ));
    if !timer {
        return false;
    }
    let apply = match root.read_optional(DNF_AUTOMATIC_CONF) {
        Ok(Some(text)) => ini_value(&text, "commands", "apply_updates"),
        Ok(None) => None,
        Err(err) => {
            problems.push(err.to_string());
            None
        }
    };
    let on = apply
        .as_deref()
        .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on"));
    evidence.push(match apply {
        Some(value) => format!("{DNF_AUTOMATIC_CONF}: apply_updates = {value}"),
        None => format!("{DNF_AUTOMATIC_CONF}: apply_updates not set (default no)"),
    });
    on
}

/// `key` in `[section]` of an INI file, last one wins.
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut current = String::new();
    let mut value = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['#', ';']) || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.trim().to_owned();
            continue;
        }
        if current == section
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        parse_apt_conf(text, "/f", &mut m).unwrap();
        m.into_iter().map(|(k, (v, _))| (k, v)).collect()
    }

    #[test]
    fn apt_syntax_flat_nested_comments_and_clear() {
        let m = parse(
            "// comment\nAPT::Periodic::Update-Package-Lists \"1\";\n# hash comment\n\
             APT { Periodic { Unattended-Upgrade \"1\"; /* c */ }; };\n\
             Unattended-Upgrade::Origins-Pattern { \"origin=Debian\"; };\n",
        );
        assert_eq!(
            m.get("apt::periodic::update-package-lists")
                .map(String::as_str),
            Some("1")
        );
        assert_eq!(
            m.get("apt::periodic::unattended-upgrade")
                .map(String::as_str),
            Some("1")
        );
        let m = parse("APT::Periodic::X \"1\";\n#clear APT::Periodic;\n");
        assert!(m.is_empty(), "{m:?}");
    }

    #[test]
    fn apt_syntax_errors_name_the_line() {
        let mut m = BTreeMap::new();
        assert_eq!(
            parse_apt_conf("A \"1\";\nB \"oops;\n", "/f", &mut m),
            Err("line 2: string is never closed".to_owned())
        );
        assert_eq!(
            parse_apt_conf("A { B \"1\";\n", "/f", &mut m),
            Err("a `{` is never closed".to_owned())
        );
    }

    #[test]
    fn apt_file_names_and_intervals() {
        assert!(apt_reads("20auto-upgrades"));
        assert!(apt_reads("50unattended-upgrades"));
        assert!(apt_reads("99local.conf"));
        assert!(!apt_reads("20auto-upgrades.dpkg-old"));
        assert!(!apt_reads("20auto-upgrades.ucf-dist"));
        assert!(interval_on("1"));
        assert!(interval_on("always"));
        assert!(interval_on("7d"));
        assert!(!interval_on("0"));
        assert!(!interval_on("no"));
    }

    #[test]
    fn ini_values() {
        let text = "[commands]\n# apply_updates = yes\napply_updates = yes\n[emitters]\napply_updates = no\n";
        assert_eq!(
            ini_value(text, "commands", "apply_updates").as_deref(),
            Some("yes")
        );
        assert_eq!(ini_value(text, "base", "apply_updates"), None);
    }
}
