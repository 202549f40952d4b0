//! A simulated host's full inventory, as the agent would collect it: a pure function of
//! (seed, profile, anchor date, revision, collection time).
//!
//! The stable part depends only on the seed, the profile, the anchor date and the
//! [`Revision`] (how many times the host has been patched since the anchor, and when it
//! last was): regenerating it gives the same [`Inventory::stable_hash`]. The collection
//! time and the `volatile` key move only what the hash ignores (uptime, free memory and
//! space, process ids, unit states). Windows hosts are shaped as the Windows agent of
//! issue 10 will report them (the registry's Uninstall keys as `windows-registry`, the
//! Service Control Manager as `windows-scm`, Windows Update as `windows-update`, the
//! MachineGuid as the host id) within today's protocol. This module must not do I/O or
//! read the clock.

mod machine;
mod network;
mod os;
mod security;
mod services;
mod software;
mod storage;

use chrono::{DateTime, Duration, Utc};
use estate_protocol::{CollectorError, Inventory};

use super::profile::HostProfile;
use super::rng::{Rng, Stream};

/// How far a host has moved from its state at the anchor date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Revision {
    /// Patches installed since the anchor (0: the host as generated).
    pub number: u32,
    /// When the last of them was installed (`None` for revision 0).
    pub patched_at: Option<DateTime<Utc>>,
}

/// Everything an inventory section needs.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub seed: u64,
    pub p: &'a HostProfile,
    pub rev: Revision,
    pub now: DateTime<Utc>,
    pub volatile: u64,
    pub times: Timeline,
}

impl Ctx<'_> {
    /// The generator of one section's stable values.
    pub fn rng(&self, section: u64) -> Rng {
        Rng::keyed(self.seed, self.p.index, Stream::Inventory, section)
    }

    /// The generator of one section's volatile values for this collection.
    pub fn volatile_rng(&self, section: u64) -> Rng {
        Rng::keyed(
            self.seed,
            self.p.index,
            Stream::Inventory,
            (1 << 40) | (self.volatile << 8) | section,
        )
    }

    /// A patch level: the release's current level plus the patches since the anchor, or
    /// well behind it on a neglected host.
    pub fn patch_level(&self, base: u32) -> u32 {
        if self.p.traits.neglected {
            let lag = self.rng(90).range_u64(5, 40) as u32;
            base.saturating_sub(lag).max(1)
        } else {
            base + self.rev.number
        }
    }
}

/// The dates of a host's life as of its revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeline {
    /// The last package change (patch install).
    pub patched_at: DateTime<Utc>,
    /// The last boot.
    pub boot_time: DateTime<Utc>,
    /// The OS install.
    pub install_time: DateTime<Utc>,
    /// Whether a reboot is pending.
    pub reboot_required: bool,
}

fn timeline(seed: u64, p: &HostProfile, anchor: DateTime<Utc>, rev: Revision) -> Timeline {
    let mut rng = Rng::keyed(seed, p.index, Stream::Inventory, 91);
    let t = &p.traits;
    // Patches go in overnight (Windows Update's maintenance window, unattended-upgrades).
    let night = Duration::seconds(rng.range_u64(3_600, 6 * 3_600) as i64);
    let base_patch = anchor - Duration::days(i64::from(t.days_since_patch)) + night;
    let base_patch = base_patch.min(anchor - Duration::minutes(30));
    let by_uptime = anchor - Duration::days(i64::from(t.uptime_days))
        + Duration::seconds(rng.range_u64(0, 20 * 3_600) as i64);
    let install_time = anchor
        - Duration::days(i64::from(
            t.install_age_days
                .max(t.days_since_patch.max(t.uptime_days) + 30),
        ));
    match rev.patched_at {
        None => {
            let boot_time = if t.reboot_pending {
                by_uptime.min(base_patch - Duration::days(1))
            } else {
                // Rebooted after the last patch.
                by_uptime.max(base_patch + Duration::minutes(5))
            }
            .min(anchor);
            Timeline {
                patched_at: base_patch,
                boot_time,
                install_time,
                reboot_required: t.reboot_pending,
            }
        }
        Some(at) => {
            let patched_at = at - Duration::minutes(10);
            let boot_time = if t.reboot_pending {
                by_uptime.min(base_patch - Duration::days(1))
            } else {
                at - Duration::minutes(5)
            };
            Timeline {
                patched_at,
                boot_time,
                install_time,
                reboot_required: t.reboot_pending,
            }
        }
    }
}

/// The host's inventory at `now`, `revision` patches after the anchor date. `volatile`
/// keys the values that change between collections (the report's sequence number).
pub fn inventory(
    seed: u64,
    profile: &HostProfile,
    anchor: DateTime<Utc>,
    revision: Revision,
    now: DateTime<Utc>,
    volatile: u64,
) -> Inventory {
    let ctx = context(seed, profile, anchor, revision, now, volatile);
    let windows = profile.is_windows();
    let filesystems = storage::filesystems(&ctx);
    let network = network::network(&ctx);
    let (software, packages) = software::software(&ctx);
    let services = services::services(&ctx);
    let listening = services::listening(&ctx, &network);
    let security = security::security(&ctx, &filesystems);
    Inventory {
        os: Some(os::os(&ctx)),
        hardware: Some(machine::hardware(&ctx)),
        cpu: Some(machine::cpu(&ctx)),
        memory: Some(machine::memory(&ctx)),
        disks: Some(storage::disks(&ctx)),
        filesystems: Some(filesystems),
        network: Some(network),
        software: Some(Software::new(software, packages)),
        services: Some(services),
        listening: Some(listening),
        security: Some(security),
        // The Windows agent has no GPU collector yet (`collector_errors` says so).
        gpus: (!windows).then(|| machine::gpus(&ctx)),
    }
}

fn context<'a>(
    seed: u64,
    profile: &'a HostProfile,
    anchor: DateTime<Utc>,
    revision: Revision,
    now: DateTime<Utc>,
    volatile: u64,
) -> Ctx<'a> {
    Ctx {
        seed,
        p: profile,
        rev: revision,
        now,
        volatile,
        times: timeline(seed, profile, anchor, revision),
    }
}

/// The `collector_errors` the agent sends with each report of this host: none on Linux;
/// on Windows what the Windows agent collects but cannot send in Report v1 (edition,
/// update revision, BitLocker per volume, service accounts) and the collector it lacks
/// (GPUs).
pub fn collector_errors(
    seed: u64,
    profile: &HostProfile,
    anchor: DateTime<Utc>,
    revision: Revision,
    now: DateTime<Utc>,
    sequence: u64,
) -> Vec<CollectorError> {
    if !profile.is_windows() {
        return Vec::new();
    }
    let ctx = context(seed, profile, anchor, revision, now, sequence);
    let filesystems = storage::filesystems(&ctx);
    security::windows_collector_errors(&ctx, &filesystems)
}

/// `estate_protocol::Software` from its parts (sources, sorted packages).
struct Software;

impl Software {
    #[allow(clippy::new_ret_no_self)]
    fn new(
        sources: Vec<String>,
        mut packages: Vec<estate_protocol::Package>,
    ) -> estate_protocol::Software {
        packages.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.version.cmp(&b.version)));
        estate_protocol::Software { sources, packages }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;
    use crate::simulate::profile::{Mix, profile};

    fn anchor() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn the_hash_ignores_the_collection_time_but_not_a_patch() {
        let now = anchor() + Duration::hours(9);
        for i in 0..200 {
            let p = profile(4, i, &Mix::COUNCIL);
            let a = inventory(4, &p, anchor(), Revision::default(), now, 1);
            let b = inventory(
                4,
                &p,
                anchor(),
                Revision::default(),
                now + Duration::hours(3),
                2,
            );
            assert_eq!(a.stable_hash(), b.stable_hash(), "{}", p.hostname);
            let patched = Revision {
                number: 1,
                patched_at: Some(now + Duration::hours(1)),
            };
            let c = inventory(4, &p, anchor(), patched, now + Duration::hours(2), 3);
            assert_ne!(a.stable_hash(), c.stable_hash(), "{}", p.hostname);
        }
    }

    #[test]
    fn times_are_in_order() {
        let now = anchor() + Duration::hours(9);
        for i in 0..500 {
            let p = profile(9, i, &Mix::COUNCIL);
            for rev in [
                Revision::default(),
                Revision {
                    number: 2,
                    patched_at: Some(now - Duration::hours(1)),
                },
            ] {
                let inv = inventory(9, &p, anchor(), rev, now, 0);
                let os = inv.os.unwrap();
                assert!(os.boot_time <= now, "{}", p.hostname);
                assert!(os.install_time.unwrap() < os.boot_time, "{}", p.hostname);
                let patched = *os.last_package_change.value().unwrap();
                assert!(patched <= now && patched > os.install_time.unwrap());
                let pending = *os.reboot_required.value().unwrap();
                // No pending reboot: booted after the last patch.
                assert!(pending || os.boot_time >= patched, "{}", p.hostname);
                assert_eq!(
                    os.uptime_secs,
                    (now - os.boot_time).num_seconds() as u64,
                    "{}",
                    p.hostname
                );
            }
        }
    }
}
