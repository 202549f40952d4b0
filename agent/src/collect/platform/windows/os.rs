//! The Windows OS collector: product, version, build, edition, install date, boot time,
//! Windows Update's last install and whether a reboot is pending.
//!
//! Sources (all readable without administrator rights):
//! - `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`: `ProductName`, `DisplayVersion`
//!   (20H2 and later; `ReleaseId` before), `CurrentBuild` + `UBR`, `EditionID`,
//!   `InstallationType`, `CurrentMajorVersionNumber`/`CurrentMinorVersionNumber` (else
//!   `CurrentVersion`), `InstallDate`.
//! - `HKLM\SYSTEM\Setup\Source OS (Updated on ...)`: the install dates of the releases a
//!   feature update replaced. A feature update resets `InstallDate`, so the OS's install
//!   time is the earliest of them.
//! - Pending reboot, the keys Windows itself uses: `Component Based
//!   Servicing\RebootPending`, `WindowsUpdate\Auto Update\RebootRequired` (either key
//!   existing), and a non-empty `Session Manager\PendingFileRenameOperations` (or `...2`).
//! - Last successful update install: `WindowsUpdate\Auto Update\Results\Install\
//!   LastSuccessTime` (kept up to Windows 10 1511 and Server 2012 R2; UTC) and the newest
//!   `Win32_QuickFixEngineering.InstalledOn` (a date).
//! - Time zone (`TimeZoneInformation\TimeZoneKeyName`, mapped to IANA) and architecture
//!   (`PROCESSOR_ARCHITECTURE` of the system environment).
//!
//! Windows 11 keeps `ProductName` = "Windows 10 ..." in the registry; a client build of
//! 22000 or later is named "Windows 11 ..." here, as Windows' own Settings page does.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use estate_protocol::{Known, Os};

use super::cim::{self, CimObject};
use super::registry::{RegRead, RegValue, Registry};
use super::source::{Source, WmiQuery};
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`.
pub const CURRENT_VERSION: &str =
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion";
/// Where Windows Setup keeps the releases a feature update replaced.
pub const SETUP: &str = r"HKEY_LOCAL_MACHINE\SYSTEM\Setup";
/// Exists while servicing (CBS) waits for a reboot.
pub const CBS_REBOOT_PENDING: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending";
/// Exists while Windows Update waits for a reboot.
pub const WU_REBOOT_REQUIRED: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired";
/// Holds `PendingFileRenameOperations`.
pub const SESSION_MANAGER: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager";
/// Windows Update's last install result (up to Windows 10 1511 / Server 2012 R2).
pub const WU_INSTALL_RESULTS: &str = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\Results\Install";
/// Holds `TimeZoneKeyName`.
pub const TIME_ZONE: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\TimeZoneInformation";
/// The system environment (`PROCESSOR_ARCHITECTURE`).
pub const ENVIRONMENT: &str =
    r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager\Environment";

/// The registry keys the OS collector reads.
pub const READS: &[RegRead] = &[
    RegRead::key(CURRENT_VERSION),
    RegRead::children(SETUP),
    RegRead::key(CBS_REBOOT_PENDING),
    RegRead::key(WU_REBOOT_REQUIRED),
    RegRead::key(SESSION_MANAGER),
    RegRead::key(WU_INSTALL_RESULTS),
    RegRead::key(TIME_ZONE),
    RegRead::key(ENVIRONMENT),
];

/// Installed updates (hotfixes, cumulative and servicing-stack updates).
pub const QFE: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_QuickFixEngineering",
    properties: &["HotFixID", "Description", "InstalledOn"],
    privacy: false,
};

/// Why `pending_updates` is unknown on Windows.
pub const PENDING_UPDATES_UNKNOWN: &str = "Windows Update keeps no offline count of available updates; counting them needs an online scan, which the agent does not run";

/// What the OS collector found beyond what Report v1 carries.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowsOs {
    /// The protocol section.
    pub os: Os,
    /// `EditionID` (`Professional`, `Enterprise`, `ServerStandard`, ...).
    pub edition: Option<String>,
    /// `InstallationType` (`Client`, `Server`, `Server Core`).
    pub installation_type: Option<String>,
    /// The display version (`22H2`), else `ReleaseId` (`1809`).
    pub display_version: Option<String>,
    /// The update build revision (`UBR`).
    pub ubr: Option<u32>,
    /// The registry evidence for a pending reboot (empty when none).
    pub reboot_reasons: Vec<String>,
    /// Where the last update time came from.
    pub last_update_source: Option<String>,
}

/// Collects the [`Os`] section from a [`Source`].
#[derive(Debug, Clone)]
pub struct OsCollector {
    source: Arc<dyn Source>,
}

impl OsCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        OsCollector { source }
    }
}

impl Collector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn budget(&self, configured: Duration) -> Duration {
        configured.max(super::WMI_BUDGET)
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let read = self
            .source
            .registry(READS)
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut problems = read.problems;
        let boot = self
            .source
            .boot_time()
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let hotfixes = match self.source.wmi(&QFE) {
            Ok(list) => list,
            Err(err) => {
                problems.push(format!("installed updates: {err}"));
                Vec::new()
            }
        };
        let parsed = parse(&read.registry, &hotfixes, boot, self.source.now())
            .map_err(|message| CollectError::parse(CURRENT_VERSION, message))?;
        let mut unsent = Vec::new();
        if let Some(edition) = &parsed.edition {
            unsent.push(format!("edition {edition}"));
        }
        if let Some(kind) = &parsed.installation_type {
            unsent.push(format!("installation type {kind}"));
        }
        if !parsed.reboot_reasons.is_empty() {
            unsent.push(format!(
                "reboot pending because of {}",
                parsed.reboot_reasons.join(", ")
            ));
        }
        if !unsent.is_empty() {
            problems.push(format!(
                "collected but not sent, Report v1 has no field for them: {}",
                unsent.join("; ")
            ));
        }
        Ok(Collected::partial(Section::Os(parsed.os), problems))
    }
}

/// Maps the registry keys in [`READS`], the installed updates and the boot time to the
/// OS section. Fails only when `CurrentVersion` is missing or has no build number.
pub fn parse(
    reg: &Registry,
    hotfixes: &[CimObject],
    boot_time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<WindowsOs, String> {
    if !reg.key_exists(CURRENT_VERSION) {
        return Err("key not found".to_owned());
    }
    let s = |name| reg.string(CURRENT_VERSION, name).map(str::to_owned);
    let build: u32 = s("CurrentBuild")
        .or_else(|| s("CurrentBuildNumber"))
        .and_then(|b| b.parse().ok())
        .ok_or("no CurrentBuild or CurrentBuildNumber")?;
    let ubr = reg.dword(CURRENT_VERSION, "UBR");
    let installation_type = s("InstallationType");
    let edition = s("EditionID");
    let is_server = installation_type
        .as_deref()
        .is_some_and(|t| t.starts_with("Server"));
    let mut name = s("ProductName").unwrap_or_else(|| "Windows".to_owned());
    if build >= 22000 && !is_server && name.starts_with("Windows 10") {
        name = name.replacen("Windows 10", "Windows 11", 1);
    }
    let display_version = s("DisplayVersion").or_else(|| s("ReleaseId"));
    let nt_version = match (
        reg.dword(CURRENT_VERSION, "CurrentMajorVersionNumber"),
        reg.dword(CURRENT_VERSION, "CurrentMinorVersionNumber"),
    ) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        _ => s("CurrentVersion").unwrap_or_else(|| "unknown".to_owned()),
    };
    let kernel = format!("{nt_version}.{build}");
    let build_text = match ubr {
        Some(ubr) => format!("{build}.{ubr}"),
        None => build.to_string(),
    };

    let mut reboot_reasons = Vec::new();
    if reg.key_exists(CBS_REBOOT_PENDING) {
        reboot_reasons.push("Component Based Servicing\\RebootPending".to_owned());
    }
    if reg.key_exists(WU_REBOOT_REQUIRED) {
        reboot_reasons.push("WindowsUpdate\\Auto Update\\RebootRequired".to_owned());
    }
    for value in [
        "PendingFileRenameOperations",
        "PendingFileRenameOperations2",
    ] {
        if let Some(RegValue::MultiSz(ops)) = reg.value(SESSION_MANAGER, value)
            && ops.iter().any(|op| !op.trim().is_empty())
        {
            reboot_reasons.push(format!("Session Manager\\{value}"));
        }
    }
    let reboot_required = if reg.key_exists(SESSION_MANAGER) {
        Known::Known {
            value: !reboot_reasons.is_empty(),
        }
    } else {
        Known::unknown(format!("{SESSION_MANAGER}: not readable"))
    };

    let (last_update, last_update_source) = last_update(reg, hotfixes);
    let last_package_change = match last_update {
        Some(t) => Known::Known { value: t },
        None => Known::unknown(
            "no Windows Update install time found (no Results\\Install\\LastSuccessTime, no \
             Win32_QuickFixEngineering entry with a date)",
        ),
    };

    let uptime_secs = u64::try_from((now - boot_time).num_seconds()).unwrap_or(0);
    let os = Os {
        family: "windows".to_owned(),
        id: "windows".to_owned(),
        id_like: Vec::new(),
        name,
        version_id: display_version.clone().or_else(|| Some(nt_version.clone())),
        version_codename: None,
        build: Some(build_text.clone()),
        support_end: None,
        kernel: kernel.clone(),
        kernel_version: Some(match ubr {
            Some(ubr) => format!("{kernel}.{ubr}"),
            None => kernel,
        }),
        arch: arch(reg),
        timezone: reg
            .string(TIME_ZONE, "TimeZoneKeyName")
            .and_then(iana_time_zone)
            .map(str::to_owned),
        boot_time,
        uptime_secs,
        install_time: install_time(reg),
        reboot_required,
        reboot_required_packages: Vec::new(),
        last_package_change,
        pending_updates: Known::unknown(PENDING_UPDATES_UNKNOWN),
    };
    Ok(WindowsOs {
        os,
        edition,
        installation_type,
        display_version,
        ubr,
        reboot_reasons,
        last_update_source,
    })
}

/// The install time: the earliest `InstallDate` (Unix seconds) of `CurrentVersion` and
/// the `Setup\Source OS (...)` keys a feature update leaves behind.
pub fn install_time(reg: &Registry) -> Option<DateTime<Utc>> {
    let mut dates: Vec<u32> = reg
        .dword(CURRENT_VERSION, "InstallDate")
        .into_iter()
        .collect();
    for sub in reg.subkeys(SETUP) {
        if sub.starts_with("Source OS") {
            dates.extend(reg.dword(&format!(r"{SETUP}\{sub}"), "InstallDate"));
        }
    }
    dates
        .into_iter()
        .filter(|d| *d > 0)
        .min()
        .and_then(|secs| Utc.timestamp_opt(i64::from(secs), 0).single())
}

/// The newest successful update install and where it came from.
fn last_update(reg: &Registry, hotfixes: &[CimObject]) -> (Option<DateTime<Utc>>, Option<String>) {
    let from_results = reg
        .string(WU_INSTALL_RESULTS, "LastSuccessTime")
        .and_then(cim::parse_datetime)
        .map(|t| {
            (
                t,
                "WindowsUpdate\\Auto Update\\Results\\Install\\LastSuccessTime".to_owned(),
            )
        });
    let from_qfe = hotfixes
        .iter()
        .filter_map(|h| {
            let at = cim::datetime(h, "InstalledOn")?;
            let id = cim::string(h, "HotFixID").unwrap_or_else(|| "?".to_owned());
            Some((at, format!("Win32_QuickFixEngineering {id}")))
        })
        .max_by_key(|(at, _)| *at);
    match [from_results, from_qfe]
        .into_iter()
        .flatten()
        .max_by_key(|(at, _)| *at)
    {
        Some((at, source)) => (Some(at), Some(source)),
        None => (None, None),
    }
}

fn arch(reg: &Registry) -> String {
    match reg
        .string(ENVIRONMENT, "PROCESSOR_ARCHITECTURE")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("AMD64") => "x86_64".to_owned(),
        Some("ARM64") => "aarch64".to_owned(),
        Some("X86") => "x86".to_owned(),
        Some(other) => other.to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The IANA zone for a Windows time zone key name, for the zones in CLDR's
/// `windowsZones.xml` (territory 001) that an estate is likely to use; `None` otherwise.
pub fn iana_time_zone(windows: &str) -> Option<&'static str> {
    const ZONES: &[(&str, &str)] = &[
        ("GMT Standard Time", "Europe/London"),
        ("Greenwich Standard Time", "Atlantic/Reykjavik"),
        ("UTC", "Etc/UTC"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Romance Standard Time", "Europe/Paris"),
        ("Central Europe Standard Time", "Europe/Budapest"),
        ("Central European Standard Time", "Europe/Warsaw"),
        ("E. Europe Standard Time", "Europe/Chisinau"),
        ("GTB Standard Time", "Europe/Bucharest"),
        ("FLE Standard Time", "Europe/Kiev"),
        ("Russian Standard Time", "Europe/Moscow"),
        ("Turkey Standard Time", "Europe/Istanbul"),
        ("Israel Standard Time", "Asia/Jerusalem"),
        ("South Africa Standard Time", "Africa/Johannesburg"),
        ("Arabian Standard Time", "Asia/Dubai"),
        ("India Standard Time", "Asia/Calcutta"),
        ("China Standard Time", "Asia/Shanghai"),
        ("Singapore Standard Time", "Asia/Singapore"),
        ("Tokyo Standard Time", "Asia/Tokyo"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("New Zealand Standard Time", "Pacific/Auckland"),
        ("Eastern Standard Time", "America/New_York"),
        ("Central Standard Time", "America/Chicago"),
        ("Mountain Standard Time", "America/Denver"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("Atlantic Standard Time", "America/Halifax"),
        ("E. South America Standard Time", "America/Sao_Paulo"),
    ];
    ZONES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(windows))
        .map(|(_, iana)| *iana)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};

    fn parsed(machine: &str) -> WindowsOs {
        let src = RecordedSource::fixture(machine);
        let read = src.registry(READS).unwrap();
        let qfe = src.wmi(&QFE).unwrap_or_default();
        parse(&read.registry, &qfe, src.boot_time().unwrap(), src.now()).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn windows_10_laptop_with_a_pending_reboot_and_a_feature_update_behind_it() {
        let w = parsed(recorded::WIN10_LAPTOP);
        let os = &w.os;
        assert_eq!(os.name, "Windows 10 Pro");
        assert_eq!(os.version_id.as_deref(), Some("22H2"));
        assert_eq!(os.build.as_deref(), Some("19045.3803"));
        assert_eq!(os.kernel, "10.0.19045");
        assert_eq!(os.kernel_version.as_deref(), Some("10.0.19045.3803"));
        assert_eq!(os.arch, "x86_64");
        assert_eq!(os.timezone.as_deref(), Some("Europe/London"));
        assert_eq!(w.edition.as_deref(), Some("Professional"));
        assert_eq!(w.ubr, Some(3803));
        // InstallDate was reset by the 22H2 feature update; the original install
        // (Source OS key, 1909) is older.
        assert_eq!(os.install_time, Some(at("2020-03-02T09:14:11Z")));
        assert_eq!(os.reboot_required, Known::Known { value: true });
        assert_eq!(
            w.reboot_reasons,
            vec![
                "WindowsUpdate\\Auto Update\\RebootRequired".to_owned(),
                "Session Manager\\PendingFileRenameOperations".to_owned()
            ]
        );
        // The newest hotfix (KB5033372, 12/12/2023) wins.
        assert_eq!(
            os.last_package_change,
            Known::Known {
                value: at("2023-12-12T00:00:00Z")
            }
        );
        assert_eq!(
            w.last_update_source.as_deref(),
            Some("Win32_QuickFixEngineering KB5033372")
        );
        assert_eq!(os.boot_time, at("2023-12-14T07:58:20Z"));
        assert_eq!(os.uptime_secs, 2 * 3600 + 3 * 60 + 40);
    }

    #[test]
    fn windows_11_is_named_windows_11_although_the_registry_says_10() {
        let w = parsed(recorded::WIN11_DESKTOP);
        assert_eq!(w.os.name, "Windows 11 Enterprise");
        assert_eq!(w.os.version_id.as_deref(), Some("23H2"));
        assert_eq!(w.os.build.as_deref(), Some("22631.2861"));
        assert_eq!(w.os.reboot_required, Known::Known { value: false });
        assert!(w.reboot_reasons.is_empty());
    }

    #[test]
    fn servers_keep_their_name_and_fall_back_to_release_id_and_nt_version() {
        let w = parsed(recorded::SERVER2019_VM);
        assert_eq!(w.os.name, "Windows Server 2019 Standard");
        assert_eq!(w.os.version_id.as_deref(), Some("1809"));
        assert_eq!(w.os.build.as_deref(), Some("17763.5206"));
        assert_eq!(w.installation_type.as_deref(), Some("Server"));
        assert_eq!(
            w.os.reboot_required,
            Known::Known { value: true },
            "CBS RebootPending"
        );

        let old = parsed(recorded::SERVER2012R2);
        assert_eq!(old.os.name, "Windows Server 2012 R2 Standard");
        assert_eq!(old.os.kernel, "6.3.9600");
        assert_eq!(old.os.version_id.as_deref(), Some("6.3"));
        assert_eq!(old.os.build.as_deref(), Some("9600.21620"));
        // Results\Install\LastSuccessTime (a time) is newer than the last hotfix date.
        assert_eq!(
            old.os.last_package_change,
            Known::Known {
                value: at("2023-10-11T03:12:45Z")
            }
        );
        assert_eq!(
            old.last_update_source.as_deref(),
            Some("WindowsUpdate\\Auto Update\\Results\\Install\\LastSuccessTime")
        );
    }

    #[test]
    fn a_missing_build_is_an_error_and_no_update_time_is_unknown() {
        let mut reg = Registry::new();
        reg.set(
            CURRENT_VERSION,
            "ProductName",
            RegValue::Sz("Windows 10 Pro".into()),
        );
        let now = at("2024-01-01T00:00:00Z");
        assert!(
            parse(&reg, &[], now, now)
                .unwrap_err()
                .contains("CurrentBuild")
        );
        assert!(parse(&Registry::new(), &[], now, now).is_err());
        reg.set(
            CURRENT_VERSION,
            "CurrentBuildNumber",
            RegValue::Sz("19045".into()),
        );
        let w = parse(&reg, &[], now, now).unwrap();
        assert!(matches!(w.os.last_package_change, Known::Unknown { .. }));
        assert!(matches!(w.os.reboot_required, Known::Unknown { .. }));
        assert_eq!(w.os.build.as_deref(), Some("19045"));
        assert_eq!(w.os.arch, "");
    }

    #[test]
    fn an_empty_pending_rename_list_is_no_reboot() {
        let mut reg = Registry::new();
        reg.set(
            CURRENT_VERSION,
            "CurrentBuild",
            RegValue::Sz("22631".into()),
        );
        reg.set(
            SESSION_MANAGER,
            "PendingFileRenameOperations",
            RegValue::MultiSz(vec![String::new()]),
        );
        let now = at("2024-01-01T00:00:00Z");
        let w = parse(&reg, &[], now, now).unwrap();
        assert_eq!(w.os.reboot_required, Known::Known { value: false });
    }
}
