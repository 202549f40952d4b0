//! `facts.os` (with the derived lifecycle), `facts.patching` and `facts.uptime`.

use chrono::{DateTime, NaiveDate, Utc};
use estate_protocol::{Os, Security};
use serde::Serialize;

use super::lifecycle::LifecycleTable;
use super::{Ctx, DeriveOptions, Unknown, known};

/// Where a release stands against an end-of-support date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportStatus {
    /// More than the `ending_soon` window before the end date.
    Supported,
    /// The end date is today or within the window.
    EndingSoon,
    /// The end date has passed.
    Unsupported,
    /// No end date is known for the release.
    Unknown,
}

impl SupportStatus {
    /// The status on `today` for a release supported until `end` (inclusive).
    pub fn judge(end: Option<NaiveDate>, today: NaiveDate, ending_soon_days: i64) -> Self {
        match end {
            None => SupportStatus::Unknown,
            Some(end) if today > end => SupportStatus::Unsupported,
            Some(end) if (end - today).num_days() <= ending_soon_days => SupportStatus::EndingSoon,
            Some(_) => SupportStatus::Supported,
        }
    }
}

/// The operating system and where it stands in its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsFacts {
    /// `linux`, `windows`, ...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// os-release `ID` (`debian`, `rhel`, ...) or `windows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// os-release `ID_LIKE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_like: Option<Vec<String>>,
    /// Human-readable name (`PRETTY_NAME`, or the Windows product name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `VERSION_ID` (or the Windows version, e.g. `11 (22631)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `VERSION_CODENAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codename: Option<String>,
    /// Windows build number, or os-release `BUILD_ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// Kernel release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Machine architecture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `SUPPORT_END` from os-release, as the distribution publishes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_release_support_end: Option<NaiveDate>,
    /// When the OS was installed, where there is evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_time: Option<DateTime<Utc>>,
    /// Whole days since `install_time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_since_install: Option<i64>,
    /// Regular support judged against `end_of_support`.
    pub support_status: SupportStatus,
    /// Support judged against `extended_support_end`, or against `end_of_support` when
    /// the release has no extended programme.
    pub extended_support_status: SupportStatus,
    /// End of active (full/mainstream) support, where the vendor has such a phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_of_active_support: Option<NaiveDate>,
    /// Last day of regular security support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_of_support: Option<NaiveDate>,
    /// Days from today to `end_of_support` (negative once past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_to_end_of_support: Option<i64>,
    /// Last day of extended (paid) security support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_support_end: Option<NaiveDate>,
    /// Days from today to `extended_support_end` (negative once past).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_to_extended_support_end: Option<i64>,
    /// Which lifecycle entry the dates come from.
    pub lifecycle: LifecycleFacts,
}

/// The lifecycle entry that gave the dates, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LifecycleFacts {
    /// `table` (the lifecycle table matched), `os_release` (no table entry; the
    /// distribution's own `SUPPORT_END`), or `none`.
    pub basis: &'static str,
    /// The table entry's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The table entry's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What matched (e.g. `ID=rocky VERSION_ID=9.4 (major 9)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_on: Option<String>,
    /// Where the dates come from (a URL, or `os-release SUPPORT_END`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// First release of the matched release.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub released: Option<NaiveDate>,
    /// What the extended support is called (ESU, ESM, ELS, LTSS, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended_support_name: Option<String>,
    /// The entry's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Patch state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchingFacts {
    /// When a package was last installed or upgraded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_package_change: Option<DateTime<Utc>>,
    /// Whole days since `last_package_change`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_since_last_patch: Option<i64>,
    /// Whether a reboot is pending to finish applying updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot_required: Option<bool>,
    /// Packages that asked for the reboot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reboot_required_packages: Option<Vec<String>>,
    /// Updates available but not installed, where known offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_updates: Option<u32>,
    /// How many of them are security updates, where the source says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_security_updates: Option<u32>,
    /// Whether automatic updates are configured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_updates: Option<bool>,
    /// The automatic update mechanism (e.g. `unattended-upgrades`, `dnf-automatic`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_updates_mechanism: Option<String>,
}

/// Boot time and uptime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UptimeFacts {
    /// When the host booted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<DateTime<Utc>>,
    /// Seconds from `boot_time` to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime_seconds: Option<i64>,
    /// Whole days from `boot_time` to now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_since_boot: Option<i64>,
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

pub(super) fn derive(
    os: Option<&Os>,
    table: &LifecycleTable,
    options: DeriveOptions,
    ctx: &Ctx,
) -> OsFacts {
    let found = os.and_then(|os| table.lookup(os));
    let (lifecycle, active, end, extended) = match (found, os) {
        (Some(m), _) => (
            LifecycleFacts {
                basis: "table",
                entry: Some(m.entry.id.clone()),
                label: Some(m.entry.label.clone()),
                matched_on: Some(m.matched_on),
                source: Some(m.entry.source.clone()),
                released: m.entry.released,
                extended_support_name: m.entry.extended_support_name.clone(),
                note: m.entry.note.clone(),
            },
            m.entry.end_of_active_support,
            Some(m.entry.end_of_support),
            m.entry.extended_support_end,
        ),
        (None, Some(os)) if os.support_end.is_some() => (
            LifecycleFacts {
                basis: "os_release",
                source: Some("os-release SUPPORT_END".to_owned()),
                ..LifecycleFacts::none()
            },
            None,
            os.support_end,
            None,
        ),
        _ => (LifecycleFacts::none(), None, None, None),
    };
    let days = options.ending_soon_days;
    OsFacts {
        family: os.and_then(|o| non_empty(&o.family)),
        id: os.and_then(|o| non_empty(&o.id)),
        id_like: os.map(|o| o.id_like.clone()),
        name: os.and_then(|o| non_empty(&o.name)),
        version: os.and_then(|o| o.version_id.clone()),
        codename: os.and_then(|o| o.version_codename.clone()),
        build: os.and_then(|o| o.build.clone()),
        kernel: os.and_then(|o| non_empty(&o.kernel)),
        arch: os
            .and_then(|o| non_empty(&o.arch))
            .filter(|a| a != "unknown"),
        timezone: os.and_then(|o| o.timezone.clone()),
        os_release_support_end: os.and_then(|o| o.support_end),
        install_time: os.and_then(|o| o.install_time),
        days_since_install: os.and_then(|o| o.install_time).map(|t| ctx.days_since(t)),
        support_status: SupportStatus::judge(end, ctx.today, days),
        extended_support_status: SupportStatus::judge(extended.or(end), ctx.today, days),
        end_of_active_support: active,
        end_of_support: end,
        days_to_end_of_support: end.map(|d| ctx.days_to_date(d)),
        extended_support_end: extended,
        days_to_extended_support_end: extended.map(|d| ctx.days_to_date(d)),
        lifecycle,
    }
}

impl LifecycleFacts {
    fn none() -> Self {
        LifecycleFacts {
            basis: "none",
            entry: None,
            label: None,
            matched_on: None,
            source: None,
            released: None,
            extended_support_name: None,
            note: None,
        }
    }
}

pub(super) fn patching(
    os: Option<&Os>,
    security: Option<&Security>,
    ctx: &Ctx,
    unknown: &mut Unknown,
) -> PatchingFacts {
    let last = os.and_then(|o| known(&o.last_package_change, "os.last_package_change", unknown));
    let pending = os.and_then(|o| known(&o.pending_updates, "os.pending_updates", unknown));
    let updates =
        security.and_then(|s| known(&s.automatic_updates, "security.automatic_updates", unknown));
    PatchingFacts {
        last_package_change: last.copied(),
        days_since_last_patch: last.map(|t| ctx.days_since(*t)),
        reboot_required: os
            .and_then(|o| known(&o.reboot_required, "os.reboot_required", unknown))
            .copied(),
        reboot_required_packages: os.map(|o| o.reboot_required_packages.clone()),
        pending_updates: pending.map(|p| p.count),
        pending_security_updates: pending.and_then(|p| p.security_count),
        automatic_updates: updates.map(|u| u.enabled),
        automatic_updates_mechanism: updates.and_then(|u| u.mechanism.clone()),
    }
}

pub(super) fn uptime(os: Option<&Os>, ctx: &Ctx) -> UptimeFacts {
    // The boot time is part of the inventory hash, so the stored inventory's is current
    // (a reboot sends a new inventory); uptime is counted from it to `now`.
    // A boot time at the Unix epoch is "not known" (hosts imported from an export that
    // gives no power-on time: `crate::import::build`).
    let boot = os
        .map(|o| o.boot_time)
        .filter(|b| *b > DateTime::UNIX_EPOCH);
    UptimeFacts {
        boot_time: boot,
        uptime_seconds: boot.map(|b| ctx.seconds_since(b)),
        days_since_boot: boot.map(|b| ctx.days_since(b)),
    }
}
