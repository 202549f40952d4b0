//! The OS lifecycle table (`config/data/os-lifecycle.toml`): end-of-support dates per
//! operating system release, its loader with located errors, and the matcher that finds
//! a host's release from the inventory's OS section.
//!
//! This module owns the table's format, its validation and the matching rules; it
//! judges nothing (whether a date is near or past is decided in `facts::os`) and reads
//! no file except through [`LifecycleTable::load`].
//!
//! # Matching
//!
//! - **Windows** (`os.family` or `os.id` is `windows`): the product is `windows-server`
//!   when the product name contains "Server", else `windows`; the build number comes from
//!   `os.build`, else `os.kernel`, else the number in parentheses in `os.version_id`
//!   (sysinfo writes `11 (22631)`). Among the entries for that product and build, the
//!   edition taken from the product name picks the entry: `LTSC`/`LTSB` names try
//!   `iot-ltsc` (with "IoT") then `ltsc`, then `enterprise`; Enterprise and Education
//!   (not "Pro Education") try `enterprise`; Home/Pro/Professional/Ultimate/Starter try
//!   `consumer`; every name finally tries `any`.
//! - **Everything else**: the product is the os-release `ID`, then each `ID_LIKE` in
//!   order (a derivative follows its parent's dates; the match says so). An entry's
//!   `version` matches `VERSION_ID` exactly, or as its major part (`9` matches `9.4`)
//!   unless the entry sets `exact_version`. An entry with `name_contains` matches only
//!   when the OS name contains it (CentOS Stream and CentOS Linux share `ID=centos`),
//!   and is preferred over one without; an exact version is preferred over a major one.

mod load;

use std::path::Path;

use chrono::NaiveDate;
use estate_agent::config::located::{self, ConfigError};
use estate_protocol::Os;
use serde::Serialize;

/// The shipped table, `config/data/os-lifecycle.toml`, compiled in.
pub const SHIPPED_TOML: &str = include_str!("../../../../config/data/os-lifecycle.toml");

/// The name the shipped table has in errors.
pub const SHIPPED_ORIGIN: &str = "config/data/os-lifecycle.toml";

/// Product names that are Windows rather than an os-release `ID`.
pub const WINDOWS_PRODUCTS: &[&str] = &["windows", "windows-server"];

/// A validated lifecycle table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LifecycleTable {
    entries: Vec<LifecycleEntry>,
}

/// One OS release and its support dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleEntry {
    /// Unique id (e.g. `windows-10-22h2`, `ubuntu-20.04`).
    pub id: String,
    /// Human-readable name (e.g. "Windows 10 22H2").
    pub label: String,
    /// os-release `ID`s, or `windows` / `windows-server`.
    pub products: Vec<String>,
    /// The `VERSION_ID` (or its major part) this entry is for (not Windows).
    pub version: Option<String>,
    /// Whether `version` must equal `VERSION_ID` (no major-version match).
    pub exact_version: bool,
    /// Windows build numbers this entry is for (Windows only).
    pub windows_builds: Vec<u32>,
    /// Windows client edition class this entry is for.
    pub edition: Edition,
    /// A text the OS name must contain (case-insensitive).
    pub name_contains: Option<String>,
    /// First release.
    pub released: Option<NaiveDate>,
    /// End of active (full/mainstream) support, where the vendor has such a phase.
    pub end_of_active_support: Option<NaiveDate>,
    /// End of regular security support: after this day the release gets no security
    /// fixes without a paid extension.
    pub end_of_support: NaiveDate,
    /// End of paid or extended security support (ESU, ESM, ELS, LTSS, Debian LTS).
    pub extended_support_end: Option<NaiveDate>,
    /// What the extended support is called.
    pub extended_support_name: Option<String>,
    /// Where the dates come from (the vendor's page or endoflife.date's).
    pub source: String,
    /// Anything a reader of the dates should know.
    pub note: Option<String>,
}

/// Windows client edition classes (endoflife.date's "(W)" and "(E)" legends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Edition {
    /// Any edition (the only one for Linux and Windows Server).
    Any,
    /// Home, Pro, Pro Education, Pro for Workstations ("W").
    Consumer,
    /// Enterprise, Education, IoT Enterprise ("E").
    Enterprise,
    /// Enterprise LTSC/LTSB.
    Ltsc,
    /// IoT Enterprise LTSC.
    IotLtsc,
}

impl Edition {
    fn parse(text: &str) -> Option<Edition> {
        Some(match text {
            "any" => Edition::Any,
            "consumer" => Edition::Consumer,
            "enterprise" => Edition::Enterprise,
            "ltsc" => Edition::Ltsc,
            "iot-ltsc" => Edition::IotLtsc,
            _ => return None,
        })
    }

    /// The name used in the table and in facts.
    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Any => "any",
            Edition::Consumer => "consumer",
            Edition::Enterprise => "enterprise",
            Edition::Ltsc => "ltsc",
            Edition::IotLtsc => "iot-ltsc",
        }
    }
}

/// A host's release found in the table, and on what grounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleMatch<'a> {
    /// The entry.
    pub entry: &'a LifecycleEntry,
    /// What matched, e.g. `ID=rocky VERSION_ID=9.4 (major 9)` or
    /// `windows build 19045, edition consumer`.
    pub matched_on: String,
}

impl LifecycleTable {
    /// Reads and validates a table file.
    pub fn load(path: &Path) -> Result<LifecycleTable, ConfigError> {
        located::load::<load::RawTable, _>(path, load::validate)
    }

    /// Parses and validates table text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<LifecycleTable, ConfigError> {
        located::parse::<load::RawTable, _>(text, origin, load::validate)
    }

    /// The table shipped with the collector ([`SHIPPED_TOML`]).
    pub fn shipped() -> Result<LifecycleTable, ConfigError> {
        LifecycleTable::parse(SHIPPED_TOML, SHIPPED_ORIGIN)
    }

    /// A table made of `entries` as they are (for tests and callers that build one).
    pub fn from_entries(entries: Vec<LifecycleEntry>) -> LifecycleTable {
        LifecycleTable { entries }
    }

    /// The entries, in file order.
    pub fn entries(&self) -> &[LifecycleEntry] {
        &self.entries
    }

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<&LifecycleEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The release of the host whose OS section is `os`, when the table has it.
    pub fn lookup(&self, os: &Os) -> Option<LifecycleMatch<'_>> {
        if is_windows(os) {
            self.lookup_windows(os)
        } else {
            self.lookup_os_release(os)
        }
    }

    fn lookup_windows(&self, os: &Os) -> Option<LifecycleMatch<'_>> {
        let product = if contains_ci(&os.name, "server") {
            "windows-server"
        } else {
            "windows"
        };
        let build = windows_build(os)?;
        let candidates: Vec<&LifecycleEntry> = self
            .entries
            .iter()
            .filter(|e| {
                e.products.iter().any(|p| p == product) && e.windows_builds.contains(&build)
            })
            .collect();
        let preferences = if product == "windows" {
            edition_preferences(&os.name)
        } else {
            vec![Edition::Any]
        };
        preferences.iter().find_map(|wanted| {
            candidates
                .iter()
                .find(|e| e.edition == *wanted)
                .map(|entry| LifecycleMatch {
                    entry,
                    matched_on: format!(
                        "{product} build {build}, edition {} (from name `{}`)",
                        wanted.as_str(),
                        os.name
                    ),
                })
        })
    }

    fn lookup_os_release(&self, os: &Os) -> Option<LifecycleMatch<'_>> {
        let version = os.version_id.as_deref()?.trim();
        if version.is_empty() {
            return None;
        }
        let ids = std::iter::once(("ID", os.id.as_str()))
            .chain(os.id_like.iter().map(|like| ("ID_LIKE", like.as_str())));
        for (field, id) in ids {
            let best = self
                .entries
                .iter()
                .filter(|e| e.products.iter().any(|p| p == id))
                .filter(|e| {
                    e.name_contains
                        .as_deref()
                        .is_none_or(|needle| contains_ci(&os.name, needle))
                })
                .filter_map(|e| {
                    let wanted = e.version.as_deref()?;
                    let exact = wanted == version;
                    let major = !e.exact_version
                        && version
                            .strip_prefix(wanted)
                            .is_some_and(|rest| rest.starts_with('.'));
                    (exact || major).then_some((e, exact))
                })
                .max_by_key(|(e, exact)| (e.name_contains.is_some(), *exact));
            if let Some((entry, exact)) = best {
                let wanted = entry.version.as_deref().unwrap_or_default();
                let mut matched_on = format!("{field}={id} VERSION_ID={version}");
                if !exact {
                    matched_on.push_str(&format!(" (major {wanted})"));
                }
                if let Some(needle) = &entry.name_contains {
                    matched_on.push_str(&format!(", name contains `{needle}`"));
                }
                return Some(LifecycleMatch { entry, matched_on });
            }
        }
        None
    }
}

fn is_windows(os: &Os) -> bool {
    os.family.eq_ignore_ascii_case("windows") || os.id.eq_ignore_ascii_case("windows")
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn has_word(name: &str, word: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case(word))
}

/// The Windows build number: `build`, else `kernel`, else `N` in `version_id` `X (N)`.
fn windows_build(os: &Os) -> Option<u32> {
    let parse = |text: &str| text.trim().split('.').next()?.trim().parse::<u32>().ok();
    os.build
        .as_deref()
        .and_then(parse)
        .or_else(|| parse(&os.kernel))
        .or_else(|| {
            let version = os.version_id.as_deref()?;
            let inner = version.split_once('(')?.1.split_once(')')?.0;
            parse(inner)
        })
}

/// Editions to try, most specific first, for a Windows client product name.
fn edition_preferences(name: &str) -> Vec<Edition> {
    let mut prefs = Vec::new();
    if has_word(name, "LTSC") || has_word(name, "LTSB") {
        if has_word(name, "IoT") {
            prefs.push(Edition::IotLtsc);
        }
        prefs.push(Edition::Ltsc);
        prefs.push(Edition::Enterprise);
    } else if has_word(name, "Enterprise")
        || (has_word(name, "Education") && !contains_ci(name, "pro education"))
    {
        prefs.push(Edition::Enterprise);
    } else if [
        "Home",
        "Pro",
        "Professional",
        "Ultimate",
        "Starter",
        "Education",
    ]
    .iter()
    .any(|w| has_word(name, w))
    {
        prefs.push(Edition::Consumer);
    }
    prefs.push(Edition::Any);
    prefs
}

#[cfg(test)]
mod tests;
