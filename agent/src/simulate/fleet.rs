//! The simulated fleet: its seed, mix and anchor date, and the reports its hosts send.
//!
//! A [`Fleet`] holds no per-host data. Everything about host `i` — profile, inventory at
//! a revision, a report's utilisation — is regenerated from (seed, i) when needed, so
//! the driver keeps only a few dozen bytes per host. This module must not do I/O or read
//! the clock: times come in as arguments.

use chrono::{DateTime, NaiveDate, Utc};
use estate_protocol::{AgentInfo, Inventory, Report, SCHEMA_VERSION, Window};
use uuid::Uuid;

use super::activity;
use super::inventory::{self, Revision};
use super::profile::{self, HostProfile, Mix};
use super::rng::{Rng, Stream};

/// Default share of reports at which a looked-after host's inventory changes (a patch
/// round: new kernel or Windows build revision, browser and Office builds, a reboot).
pub const DEFAULT_CHANGE_RATE: f64 = 0.002;

/// The fleet's fixed parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// The seed: the same seed gives the same hosts, inventories and series.
    pub seed: u64,
    /// Proportions of host classes and traits.
    pub mix: Mix,
    /// The day the fleet's ages are counted from (midnight UTC): boot, patch and install
    /// dates of revision 0 lie before it.
    pub anchor: DateTime<Utc>,
    /// Probability per report that a looked-after host's inventory changes.
    pub change_rate: f64,
}

/// What one report is: which of the host's reports, its id, its window and whether it
/// carries the full inventory. Kept by the driver while a report is being retried, so
/// the identical report can be rebuilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSpec {
    /// The host's report sequence number (1 for its first).
    pub sequence: u32,
    /// The report's id (fresh per report, as a real agent's).
    pub report_id: Uuid,
    /// Start of the window.
    pub window_start: DateTime<Utc>,
    /// End of the window, and when the report was assembled.
    pub collected_at: DateTime<Utc>,
    /// Whether the full inventory goes with it.
    pub with_inventory: bool,
}

impl Fleet {
    /// A fleet of `seed` and `mix` anchored at midnight UTC of `anchor`.
    pub fn new(seed: u64, mix: Mix, anchor: NaiveDate, change_rate: f64) -> Fleet {
        let anchor = anchor
            .and_hms_opt(0, 0, 0)
            .map(|d| d.and_utc())
            .unwrap_or_default();
        Fleet {
            seed,
            mix,
            anchor,
            change_rate,
        }
    }

    /// Host `index`.
    pub fn profile(&self, index: u64) -> HostProfile {
        profile::profile(self.seed, index, &self.mix)
    }

    /// The host's inventory at `revision`, collected at `now`; `volatile` keys the
    /// values that change between collections.
    pub fn inventory(
        &self,
        profile: &HostProfile,
        revision: Revision,
        now: DateTime<Utc>,
        volatile: u64,
    ) -> Inventory {
        inventory::inventory(self.seed, profile, self.anchor, revision, now, volatile)
    }

    /// The stable hash of the host's inventory at `revision`, as raw bytes.
    pub fn inventory_hash(&self, profile: &HostProfile, revision: Revision) -> [u8; 32] {
        let inventory = self.inventory(profile, revision, self.anchor, 0);
        decode_hash(&inventory.stable_hash())
    }

    /// Whether the host's inventory changes just before its report `sequence`: never
    /// for a neglected host (nobody patches it), else with [`Fleet::change_rate`].
    pub fn changes_at(&self, profile: &HostProfile, sequence: u32) -> bool {
        if profile.traits.neglected || sequence <= 1 {
            return false;
        }
        Rng::keyed(
            self.seed,
            profile.index,
            Stream::Change,
            u64::from(sequence),
        )
        .chance(self.change_rate)
    }

    /// Where host `index`'s first report falls in the first interval, as a fraction
    /// 0–1: spreads the fleet's reports over the interval.
    pub fn first_offset(&self, index: u64) -> f64 {
        Rng::keyed(self.seed, index, Stream::Jitter, 0).unit()
    }

    /// Builds report `spec` of a host at `revision`. `hash` is the stable hash of that
    /// revision's inventory when known (see [`Fleet::inventory_hash`]); without it the
    /// inventory is generated to compute it. Returns the report and the hash.
    pub fn report(
        &self,
        profile: &HostProfile,
        spec: &ReportSpec,
        revision: Revision,
        hash: Option<[u8; 32]>,
    ) -> (Report, [u8; 32]) {
        let window_secs =
            (spec.collected_at - spec.window_start).num_milliseconds() as f64 / 1000.0;
        let sequence = u64::from(spec.sequence);
        let utilisation = activity::utilisation(self.seed, profile, sequence, window_secs);
        let power = activity::power(
            self.seed,
            profile,
            sequence,
            window_secs,
            utilisation.as_ref(),
        );
        let inventory = (spec.with_inventory || hash.is_none())
            .then(|| self.inventory(profile, revision, spec.collected_at, sequence));
        // The stable hash ignores the collection time: the inventory collected now has
        // the hash of its revision.
        let hash = match (hash, &inventory) {
            (Some(hash), _) => hash,
            (None, Some(inventory)) => decode_hash(&inventory.stable_hash()),
            (None, None) => self.inventory_hash(profile, revision),
        };
        let inventory = if spec.with_inventory { inventory } else { None };
        let report = Report {
            schema_version: SCHEMA_VERSION,
            report_id: spec.report_id,
            host_id: profile.host_id.clone(),
            host_id_source: profile.host_id_source,
            hostname: profile.hostname.clone(),
            agent: AgentInfo {
                version: env!("CARGO_PKG_VERSION").to_owned(),
                platform: if profile.is_windows() {
                    "windows"
                } else {
                    "linux"
                }
                .to_owned(),
                arch: "x86_64".to_owned(),
            },
            labels: profile.labels.clone(),
            collected_at: spec.collected_at,
            window: Window {
                start: spec.window_start,
                end: spec.collected_at,
            },
            inventory,
            inventory_hash: encode_hash(&hash),
            utilisation,
            power,
            probes: activity::probes(self.seed, profile, self.anchor, sequence, spec.collected_at),
            collector_errors: inventory::collector_errors(
                self.seed,
                profile,
                self.anchor,
                revision,
                spec.collected_at,
                sequence,
            ),
        };
        (report, hash)
    }

    /// Host `index`'s first report, with its full inventory, over the window of
    /// `window_secs` ending at `now` (for `simulate --print` and for tests).
    pub fn first_report(
        &self,
        index: u64,
        now: DateTime<Utc>,
        window_secs: i64,
        report_id: Uuid,
    ) -> Report {
        let profile = self.profile(index);
        let spec = ReportSpec {
            sequence: 1,
            report_id,
            window_start: now - chrono::Duration::seconds(window_secs),
            collected_at: now,
            with_inventory: true,
        };
        self.report(&profile, &spec, Revision::default(), None).0
    }
}

/// Lower-case hex of a hash.
pub fn encode_hash(hash: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in hash {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// The bytes of a 64-character hex hash (zeros where it is not hex: never the case for
/// [`Inventory::stable_hash`]).
pub fn decode_hash(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    let digits = hex.as_bytes();
    for (i, byte) in out.iter_mut().enumerate() {
        let hi = digits.get(2 * i).and_then(|d| char::from(*d).to_digit(16));
        let lo = digits
            .get(2 * i + 1)
            .and_then(|d| char::from(*d).to_digit(16));
        if let (Some(hi), Some(lo)) = (hi, lo) {
            *byte = u8::try_from(hi * 16 + lo).unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn hashes_round_trip() {
        let hex = "b058afdf789ccc7047acce4a27ea1d0a802cf14dbe072b050360f9776482c3e9";
        assert_eq!(encode_hash(&decode_hash(hex)), hex);
    }

    #[test]
    fn reports_carry_a_matching_hash_and_rebuild_identically() {
        let fleet = Fleet::new(
            3,
            Mix::COUNCIL,
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap(),
            DEFAULT_CHANGE_RATE,
        );
        let now = Utc
            .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
            .single()
            .unwrap();
        for i in 0..100 {
            let id = Uuid::from_u128(u128::from(i) + 1);
            let report = fleet.first_report(i, now, 300, id);
            assert!(
                report.check_invariants().is_empty(),
                "{:?}",
                report.check_invariants()
            );
            assert_eq!(report, fleet.first_report(i, now, 300, id));
            let profile = fleet.profile(i);
            let spec = ReportSpec {
                sequence: 2,
                report_id: id,
                window_start: now,
                collected_at: now + chrono::Duration::seconds(300),
                with_inventory: false,
            };
            let hash = fleet.inventory_hash(&profile, Revision::default());
            let (regular, same) = fleet.report(&profile, &spec, Revision::default(), Some(hash));
            assert_eq!(same, hash);
            assert!(regular.inventory.is_none());
            assert_eq!(regular.inventory_hash, report.inventory_hash);
        }
    }
}
