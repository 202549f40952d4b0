//! The Windows software collector: programs from the registry's Uninstall keys, and
//! Store/MSIX packages where the registry lists them.
//!
//! Uninstall keys read, in this order (what "Apps & features" shows):
//! 1. `HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall` (64-bit programs),
//! 2. `HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall` (32-bit),
//! 3. `HKU\<SID>\Software\Microsoft\Windows\CurrentVersion\Uninstall` for **every loaded
//!    user hive**: per-user installs (Teams, Zoom, Chrome, VS Code user setup...) that
//!    inventories reading only HKLM miss. Hives of users who are not logged on are not
//!    loaded and not read.
//!
//! An entry counts when it has a `DisplayName` and is not a system component
//! (`SystemComponent` = 1), an update or patch of another entry (`ParentKeyName`, or a
//! `ReleaseType` of update, hotfix or security update). The same program registered in
//! several places (both registry views, or the machine and a user) is reported once:
//! entries with the same name (ignoring case) and version are one package, kept from the
//! first place in the order above.
//!
//! MSIX/Store packages come from the package full names (`Name_Version_Arch_Resource_
//! PublisherId`) under `HKLM\...\Appx\AppxAllUserStore\Applications`, the per-user
//! `AppxAllUserStore\<SID>` keys and each loaded user's `AppModel\Repository\Packages`;
//! resource packages (language and scale splits) are skipped. The registry holds the
//! publisher only as a hash: the two Microsoft ones are named, others left out.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use estate_protocol::{Package, Software};

use super::cim;
use super::registry::{RegRead, Registry};
use super::source::Source;
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// The 64-bit view's Uninstall key.
pub const UNINSTALL_64: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall";
/// The 32-bit view's Uninstall key.
pub const UNINSTALL_32: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall";
/// Each loaded user hive's Uninstall key (`*` is the SID).
pub const UNINSTALL_USERS: &str =
    r"HKEY_USERS\*\Software\Microsoft\Windows\CurrentVersion\Uninstall";
/// Packages installed for any user.
pub const APPX_ALL_USERS: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore\Applications";
/// Packages per user (`*` is the SID).
pub const APPX_PER_USER: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Appx\AppxAllUserStore\*";
/// Each loaded user's package repository (in the `<SID>_Classes` hive).
pub const APPX_USER_REPOSITORY: &str = r"HKEY_USERS\*\Local Settings\Software\Microsoft\Windows\CurrentVersion\AppModel\Repository\Packages";

/// The registry keys the software collector reads.
pub const READS: &[RegRead] = &[
    RegRead::children(UNINSTALL_64),
    RegRead::children(UNINSTALL_32),
    RegRead::children(UNINSTALL_USERS),
    RegRead::children(APPX_ALL_USERS),
    RegRead::children(APPX_PER_USER),
    RegRead::children(APPX_USER_REPOSITORY),
];

/// `Package::source` of Uninstall-key programs (and `Software::sources`).
pub const SOURCE_REGISTRY: &str = "windows-registry";
/// `Package::source` of MSIX/Store packages.
pub const SOURCE_MSIX: &str = "msix";

/// Where a program was registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// HKLM, 64-bit view.
    Machine64,
    /// HKLM, 32-bit view (`WOW6432Node`).
    Machine32,
    /// A user's hive (the SID).
    User(String),
}

/// One program as registered, before de-duplication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The package as reported.
    pub package: Package,
    /// Where it was registered.
    pub origin: Origin,
    /// The Uninstall subkey (a product code GUID for MSI installs).
    pub key: String,
}

/// Collects the [`Software`] section from a [`Source`].
#[derive(Debug, Clone)]
pub struct SoftwareCollector {
    source: Arc<dyn Source>,
}

impl SoftwareCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        SoftwareCollector { source }
    }
}

impl Collector for SoftwareCollector {
    fn name(&self) -> &'static str {
        "software"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let read = self
            .source
            .registry(READS)
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut problems = read.problems;
        let programs = programs(&read.registry);
        if programs.is_empty() && !read.registry.key_exists(UNINSTALL_64) {
            return Err(CollectError::Other(format!(
                "{UNINSTALL_64}: not found; no installed program could be listed"
            )));
        }
        let per_user: BTreeSet<&str> = programs
            .iter()
            .filter_map(|p| match &p.origin {
                Origin::User(sid) => Some(sid.as_str()),
                _ => None,
            })
            .collect();
        if !per_user.is_empty() {
            problems.push(format!(
                "collected but not sent, Report v1 has no field for it: which user installed \
                 the per-user programs (hives {})",
                per_user.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        let software = software(programs, msix_packages(&read.registry));
        Ok(Collected::partial(Section::Software(software), problems))
    }
}

/// Every program registered in the Uninstall keys, in reading order, before
/// de-duplication.
pub fn programs(reg: &Registry) -> Vec<Program> {
    let mut out = Vec::new();
    let mut add = |base: &str, origin: Origin, arch: Option<&str>| {
        for key in reg.subkeys(base) {
            let path = format!(r"{base}\{key}");
            if let Some(package) = program(reg, &path, arch) {
                out.push(Program {
                    package,
                    origin: origin.clone(),
                    key,
                });
            }
        }
    };
    add(UNINSTALL_64, Origin::Machine64, Some("x64"));
    add(UNINSTALL_32, Origin::Machine32, Some("x86"));
    for sid in reg.subkeys(super::registry::HKU) {
        let base = UNINSTALL_USERS.replacen('*', &sid, 1);
        add(&base, Origin::User(sid.clone()), None);
    }
    out
}

/// One Uninstall subkey as a package, or `None` when it is not a program a user would
/// recognise as installed (see the module docs).
fn program(reg: &Registry, path: &str, arch: Option<&str>) -> Option<Package> {
    let name = reg.string(path, "DisplayName")?;
    if reg.dword(path, "SystemComponent") == Some(1) || reg.string(path, "ParentKeyName").is_some()
    {
        return None;
    }
    if let Some(kind) = reg.string(path, "ReleaseType")
        && [
            "update",
            "hotfix",
            "security update",
            "update rollup",
            "service pack",
        ]
        .contains(&kind.to_ascii_lowercase().as_str())
    {
        return None;
    }
    Some(Package {
        name: name.to_owned(),
        version: reg
            .string(path, "DisplayVersion")
            .unwrap_or_default()
            .to_owned(),
        arch: arch.map(str::to_owned),
        source: SOURCE_REGISTRY.to_owned(),
        installed_size_bytes: reg
            .dword(path, "EstimatedSize")
            .map(|kib| u64::from(kib) * 1024),
        publisher: reg.string(path, "Publisher").map(str::to_owned),
        install_time: reg
            .string(path, "InstallDate")
            .and_then(cim::parse_date)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|n| Utc.from_utc_datetime(&n)),
    })
}

/// The software section: programs de-duplicated by name and version (first kept), then
/// the MSIX packages not already listed, sorted by name, version, arch and source.
pub fn software(programs: Vec<Program>, msix: Vec<Package>) -> Software {
    let mut seen = BTreeSet::new();
    let mut packages = Vec::new();
    for p in programs {
        if seen.insert((
            p.package.name.to_lowercase(),
            p.package.version.to_lowercase(),
        )) {
            packages.push(p.package);
        }
    }
    let mut sources = vec![SOURCE_REGISTRY.to_owned()];
    if !msix.is_empty() {
        sources.push(SOURCE_MSIX.to_owned());
    }
    for p in msix {
        if seen.insert((p.name.to_lowercase(), p.version.to_lowercase())) {
            packages.push(p);
        }
    }
    packages.sort_by(|a, b| {
        (&a.name, &a.version, &a.arch, &a.source).cmp(&(&b.name, &b.version, &b.arch, &b.source))
    });
    Software { sources, packages }
}

/// The MSIX packages the registry lists, main and framework packages only.
pub fn msix_packages(reg: &Registry) -> Vec<Package> {
    let mut names: BTreeSet<String> = reg.subkeys(APPX_ALL_USERS).into_iter().collect();
    let store = APPX_ALL_USERS.trim_end_matches(r"\Applications");
    for sid in reg.subkeys(store) {
        if sid.starts_with("S-1-") {
            names.extend(reg.subkeys(&format!(r"{store}\{sid}")));
        }
    }
    for hive in reg.subkeys(super::registry::HKU) {
        names.extend(reg.subkeys(&APPX_USER_REPOSITORY.replacen('*', &hive, 1)));
    }
    let mut parsed: Vec<Package> = names
        .iter()
        .filter_map(|full| parse_package_full_name(full))
        .collect();
    // A bundle (`neutral`) and its main package share name and version: keep the main one.
    parsed.sort_by_key(|p| p.arch.as_deref() == Some("neutral"));
    let mut seen = BTreeSet::new();
    parsed.retain(|p| seen.insert((p.name.to_lowercase(), p.version.clone())));
    parsed.sort_by(|a, b| {
        (a.name.to_lowercase(), &a.version).cmp(&(b.name.to_lowercase(), &b.version))
    });
    parsed
}

/// A package full name (`Microsoft.WindowsTerminal_1.18.3181.0_x64__8wekyb3d8bbwe`) as
/// a package; `None` for a resource package (`..._split.scale-125_...`) or a string that
/// is not a package full name.
pub fn parse_package_full_name(full: &str) -> Option<Package> {
    let parts: Vec<&str> = full.split('_').collect();
    let [name, version, arch, resource, publisher_id] = parts.as_slice() else {
        return None;
    };
    if name.is_empty()
        || version.split('.').count() != 4
        || !version.split('.').all(|p| p.parse::<u16>().is_ok())
        || publisher_id.len() != 13
    {
        return None;
    }
    // "" is a main or framework package, "~" a bundle; anything else is a resource split.
    if !resource.is_empty() && *resource != "~" {
        return None;
    }
    let publisher = match *publisher_id {
        "8wekyb3d8bbwe" => Some("Microsoft Corporation"),
        "cw5n1h2txyewy" => Some("Microsoft Windows"),
        _ => None,
    };
    Some(Package {
        name: (*name).to_owned(),
        version: (*version).to_owned(),
        arch: Some((*arch).to_owned()),
        source: SOURCE_MSIX.to_owned(),
        installed_size_bytes: None,
        publisher: publisher.map(str::to_owned),
        install_time: None::<DateTime<Utc>>,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};

    fn registry(machine: &str) -> Registry {
        RecordedSource::fixture(machine)
            .registry(READS)
            .unwrap()
            .registry
    }

    fn find<'a>(sw: &'a Software, name: &str) -> Vec<&'a Package> {
        sw.packages.iter().filter(|p| p.name == name).collect()
    }

    #[test]
    fn per_user_installs_from_every_loaded_hive_are_listed() {
        let reg = registry(recorded::WIN10_LAPTOP);
        let progs = programs(&reg);
        let users: Vec<(&str, &str)> = progs
            .iter()
            .filter_map(|p| match &p.origin {
                Origin::User(sid) => Some((sid.as_str(), p.package.name.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            users,
            vec![
                (
                    "S-1-5-21-3623811015-3361044348-30300820-1013",
                    "Microsoft OneDrive"
                ),
                (
                    "S-1-5-21-3623811015-3361044348-30300820-1013",
                    "Microsoft Teams classic"
                ),
                ("S-1-5-21-3623811015-3361044348-30300820-1013", "Zoom"),
                ("S-1-5-21-3623811015-3361044348-30300820-1014", "Zoom"),
                (
                    "S-1-5-21-3623811015-3361044348-30300820-1014",
                    "Microsoft Visual Studio Code (User)"
                ),
            ]
        );
        let sw = software(progs, Vec::new());
        let code = find(&sw, "Microsoft Visual Studio Code (User)");
        assert_eq!(code.len(), 1);
        assert_eq!(code[0].version, "1.85.1");
        assert_eq!(
            code[0].arch, None,
            "per-user installs have no registry view"
        );
        // Two users with the same Zoom version: one package.
        assert_eq!(find(&sw, "Zoom").len(), 1);
    }

    #[test]
    fn the_same_product_in_the_64_and_32_bit_views_is_reported_once() {
        let reg = registry(recorded::WIN10_LAPTOP);
        let progs = programs(&reg);
        let adobe: Vec<&Program> = progs
            .iter()
            .filter(|p| p.package.name == "Adobe Acrobat (64-bit)")
            .collect();
        assert_eq!(adobe.len(), 2, "registered in both views");
        assert_eq!(adobe[0].origin, Origin::Machine64);
        assert_eq!(adobe[1].origin, Origin::Machine32);
        assert_eq!(adobe[0].key, adobe[1].key);
        let sw = software(progs, Vec::new());
        let once = find(&sw, "Adobe Acrobat (64-bit)");
        assert_eq!(once.len(), 1);
        assert_eq!(
            once[0].arch.as_deref(),
            Some("x64"),
            "the 64-bit view's entry is kept"
        );
        assert_eq!(once[0].version, "23.008.20421");
        assert_eq!(once[0].publisher.as_deref(), Some("Adobe"));
    }

    #[test]
    fn fields_filters_and_32_bit_programs() {
        let reg = registry(recorded::WIN10_LAPTOP);
        let sw = software(programs(&reg), Vec::new());
        let chrome = find(&sw, "Google Chrome");
        assert_eq!(chrome.len(), 1);
        let chrome = chrome[0];
        assert_eq!(chrome.version, "120.0.6099.110");
        assert_eq!(chrome.arch.as_deref(), Some("x86"));
        assert_eq!(chrome.publisher.as_deref(), Some("Google LLC"));
        assert_eq!(
            chrome.install_time,
            Some(Utc.with_ymd_and_hms(2023, 12, 13, 0, 0, 0).unwrap())
        );
        let sevenzip = find(&sw, "7-Zip 23.01 (x64)")[0];
        assert_eq!(sevenzip.installed_size_bytes, Some(5_743 * 1024));
        // System components, updates and nameless keys are not programs.
        let all = programs(&reg);
        let registered: Vec<&str> = all.iter().map(|p| p.key.as_str()).collect();
        for hidden in [
            "Microsoft Visual C++ 2022 X64 Minimum Runtime - 14.38.33130",
            "Security Update for Microsoft Office 2016 (KB5002520) 64-Bit Edition",
        ] {
            assert!(find(&sw, hidden).is_empty(), "{hidden}");
        }
        // Keys without a DisplayName (AddressBook) or marked SystemComponent (Connection
        // Manager) are not even programs.
        assert!(!registered.contains(&"AddressBook"));
        assert!(!registered.contains(&"Connection Manager"));
        assert!(reg.key_exists(&format!(r"{UNINSTALL_64}\AddressBook")));
        assert!(sw.packages.iter().all(|p| !p.name.is_empty()));
        assert_eq!(
            sw.packages.len(),
            12,
            "{:#?}",
            sw.packages.iter().map(|p| &p.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn msix_packages_from_all_users_and_loaded_user_repositories() {
        let reg = registry(recorded::WIN11_DESKTOP);
        let msix = msix_packages(&reg);
        let names: Vec<&str> = msix.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "Microsoft.DesktopAppInstaller",
                "Microsoft.VCLibs.140.00",
                "Microsoft.WindowsStore",
                "Microsoft.WindowsTerminal",
                "MSTeams",
                "SpotifyAB.SpotifyMusic",
            ]
        );
        let terminal = msix
            .iter()
            .find(|p| p.name == "Microsoft.WindowsTerminal")
            .unwrap();
        assert_eq!(terminal.version, "1.18.3181.0");
        assert_eq!(terminal.arch.as_deref(), Some("x64"));
        assert_eq!(terminal.publisher.as_deref(), Some("Microsoft Corporation"));
        let spotify = msix
            .iter()
            .find(|p| p.name == "SpotifyAB.SpotifyMusic")
            .unwrap();
        assert_eq!(spotify.publisher, None);
        let sw = software(programs(&reg), msix);
        assert_eq!(
            sw.sources,
            vec!["windows-registry".to_owned(), "msix".to_owned()]
        );
    }

    #[test]
    fn package_full_names() {
        let p = parse_package_full_name(
            "Microsoft.WindowsStore_22310.1401.5.0_neutral_~_8wekyb3d8bbwe",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.arch.as_deref()),
            ("Microsoft.WindowsStore", Some("neutral"))
        );
        assert!(
            parse_package_full_name(
                "Microsoft.WindowsStore_22310.1401.5.0_neutral_split.scale-125_8wekyb3d8bbwe"
            )
            .is_none()
        );
        assert!(parse_package_full_name("Microsoft.Thing_1.2_x64__8wekyb3d8bbwe").is_none());
        assert!(parse_package_full_name("Deprovisioned").is_none());
        assert!(parse_package_full_name("S-1-5-21-1-2-3-1001").is_none());
    }
}
