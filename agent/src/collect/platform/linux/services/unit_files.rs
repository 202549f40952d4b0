//! systemd unit files on disk, and whether each is enabled, read the way
//! `systemctl is-enabled` decides it — without asking systemd.
//!
//! Used when systemd's D-Bus API cannot be reached, and by the security collector
//! (is `chronyd.service` enabled? `dnf-automatic.timer`?). This module owns the unit
//! search path and the enablement rules; it must not talk to systemd.
//!
//! Rules, in order, for a unit `N`:
//! - `masked` when the first `N` found on the search path is a symlink to `/dev/null`
//!   or an empty file;
//! - `enabled` when `N` is linked from a `*.wants/`, `*.requires/` or `*.upholds/`
//!   directory under `/etc/systemd/system`, or an alias symlink there points at it
//!   (`enabled-runtime` for the same under `/run/systemd/system`); a template
//!   `foo@.service` is enabled when one of its instances is;
//! - `linked` when `N` is a symlink with the same name into a path outside the search
//!   path;
//! - from its `[Install]` section: `disabled` when it has `WantedBy=`, `RequiredBy=`,
//!   `UpheldBy=` or `Alias=`, `indirect` when it has only `Also=`, `static` when it has
//!   none.
//!
//! Only `.service`, `.socket` and `.timer` units are listed.

use std::collections::BTreeMap;

use crate::root::SysRoot;

/// The unit search path, highest precedence first (systemd's system manager path,
/// without generator and transient directories).
pub const UNIT_DIRS: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Directories whose `*.wants/` links mean "enabled", with the state they give.
const ENABLING_DIRS: &[(&str, &str)] = &[
    ("/etc/systemd/system", "enabled"),
    ("/run/systemd/system", "enabled-runtime"),
];

/// Unit types listed as services.
pub const UNIT_SUFFIXES: &[&str] = &[".service", ".socket", ".timer"];

/// Whether `name` is a unit of a listed type.
pub fn is_listed_unit(name: &str) -> bool {
    UNIT_SUFFIXES
        .iter()
        .any(|s| name.len() > s.len() && name.ends_with(s))
}

/// One unit file as found on the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitFile {
    /// Host path of the file (or of the symlink) that defines it.
    pub path: String,
    /// `Description=` from `[Unit]`, where set.
    pub description: Option<String>,
    /// Enablement, as `systemctl is-enabled` would print it.
    pub state: String,
}

/// Every listed unit file found, by name, and the problems met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitFiles {
    /// Units by name.
    pub units: BTreeMap<String, UnitFile>,
    /// Whether any directory of the search path other than `/run/systemd/system`
    /// exists.
    pub found_any_dir: bool,
    /// Files or directories that could not be read, each naming the path.
    pub problems: Vec<String>,
}

impl UnitFiles {
    /// Enablement of unit `name` (an instance falls back to its template's file);
    /// `None` when there is no such unit file.
    pub fn state(&self, name: &str) -> Option<&str> {
        if let Some(unit) = self.units.get(name) {
            return Some(&unit.state);
        }
        self.units
            .get(&template_of(name)?)
            .map(|unit| unit.state.as_str())
    }

    /// Whether unit `name` is enabled (`enabled` or `enabled-runtime`).
    pub fn is_enabled(&self, name: &str) -> bool {
        matches!(self.state(name), Some("enabled" | "enabled-runtime"))
    }
}

/// `foo@.service` for `foo@bar.service`; `None` for a name that is not an instance.
pub fn template_of(name: &str) -> Option<String> {
    let (prefix, rest) = name.split_once('@')?;
    let suffix = &rest[rest.rfind('.')?..];
    (!rest.starts_with('.')).then(|| format!("{prefix}@{suffix}"))
}

enum Found {
    Masked,
    File {
        description: Option<String>,
        install: Install,
    },
    Linked {
        description: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Install {
    None,
    AlsoOnly,
    Enableable,
}

/// Reads the unit search path under `root`.
pub fn scan(root: &SysRoot) -> UnitFiles {
    let mut out = UnitFiles::default();
    let mut found: BTreeMap<String, (String, Found)> = BTreeMap::new();
    let mut enabled: BTreeMap<String, &'static str> = BTreeMap::new();

    for dir in UNIT_DIRS {
        let names = match root.read_dir(dir) {
            Ok(names) => names,
            Err(err) if err.is_not_found() => continue,
            Err(err) => {
                out.problems.push(err.to_string());
                continue;
            }
        };
        // systemd itself creates /run/systemd/system: it says nothing about unit files.
        if *dir != "/run/systemd/system" {
            out.found_any_dir = true;
        }
        let enabling = ENABLING_DIRS
            .iter()
            .find(|(d, _)| d == dir)
            .map(|(_, state)| *state);
        for name in names {
            let path = format!("{dir}/{name}");
            if let Some(state) = enabling
                && [".wants", ".requires", ".upholds"]
                    .iter()
                    .any(|s| name.ends_with(s))
            {
                match root.read_dir(&path) {
                    Ok(linked) => {
                        for unit in linked {
                            enabled.entry(unit).or_insert(state);
                        }
                    }
                    Err(err) => out.problems.push(err.to_string()),
                }
                continue;
            }
            if !is_listed_unit(&name) || found.contains_key(&name) {
                continue;
            }
            match root.read_link(&path) {
                Ok(target) => {
                    let target = target.to_string_lossy().into_owned();
                    if target == "/dev/null" {
                        found.insert(name, (path, Found::Masked));
                        continue;
                    }
                    let base = target.rsplit('/').next().unwrap_or_default().to_owned();
                    if base != name {
                        // An alias: enabling the target created it.
                        if let Some(state) = enabling {
                            enabled.entry(base).or_insert(state);
                        }
                        continue;
                    }
                    let host_target = if target.starts_with('/') {
                        target
                    } else {
                        format!("{dir}/{target}")
                    };
                    match root.read_to_string(&host_target) {
                        Ok(text) => {
                            let (description, _) = parse_unit(&text);
                            found.insert(name, (path, Found::Linked { description }));
                        }
                        Err(err) => out.problems.push(format!("{path}: {err}")),
                    }
                }
                Err(_) => match root.read_to_string(&path) {
                    Ok(text) if text.trim().is_empty() => {
                        found.insert(name, (path, Found::Masked));
                    }
                    Ok(text) => {
                        let (description, install) = parse_unit(&text);
                        found.insert(
                            name,
                            (
                                path,
                                Found::File {
                                    description,
                                    install,
                                },
                            ),
                        );
                    }
                    // A directory named like a unit, or unreadable: say so.
                    Err(err) => out.problems.push(err.to_string()),
                },
            }
        }
    }

    let enabled_templates: BTreeMap<String, &'static str> = enabled
        .iter()
        .filter_map(|(unit, state)| Some((template_of(unit)?, *state)))
        .collect();
    for (name, (path, what)) in found {
        let enabled_as = enabled
            .get(&name)
            .or_else(|| enabled_templates.get(&name))
            .copied();
        let (description, state) = match (what, enabled_as) {
            (Found::Masked, _) => (None, "masked"),
            (Found::File { description, .. } | Found::Linked { description }, Some(state)) => {
                (description, state)
            }
            (Found::Linked { description }, None) => (description, "linked"),
            (
                Found::File {
                    description,
                    install,
                },
                None,
            ) => (
                description,
                match install {
                    Install::Enableable => "disabled",
                    Install::AlsoOnly => "indirect",
                    Install::None => "static",
                },
            ),
        };
        out.units.insert(
            name,
            UnitFile {
                path,
                description,
                state: state.to_owned(),
            },
        );
    }
    out
}

/// `Description=` and the kind of `[Install]` section of a unit file.
fn parse_unit(text: &str) -> (Option<String>, Install) {
    let mut section = "";
    let mut description = None;
    let mut install = Install::None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') {
            section = line;
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (section, key) {
            ("[Unit]", "Description") if !value.is_empty() => description = Some(value.to_owned()),
            ("[Install]", "WantedBy" | "RequiredBy" | "UpheldBy" | "Alias")
                if !value.is_empty() =>
            {
                install = Install::Enableable
            }
            ("[Install]", "Also") if !value.is_empty() && install == Install::None => {
                install = Install::AlsoOnly
            }
            _ => {}
        }
    }
    (description, install)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_of_instances() {
        assert_eq!(
            template_of("getty@tty1.service").as_deref(),
            Some("getty@.service")
        );
        assert_eq!(template_of("getty@.service"), None);
        assert_eq!(template_of("ssh.service"), None);
    }

    #[test]
    fn install_sections_decide_static_disabled_indirect() {
        let (d, i) = parse_unit("[Unit]\nDescription=X\n[Service]\nExecStart=/x\n");
        assert_eq!(d.as_deref(), Some("X"));
        assert!(i == Install::None);
        let (_, i) = parse_unit("[Install]\n# WantedBy=a\nAlso=b.socket\n");
        assert!(i == Install::AlsoOnly);
        let (_, i) = parse_unit("[Install]\nAlso=b.socket\nWantedBy=multi-user.target\n");
        assert!(i == Install::Enableable);
    }
}
