//! What a simulator run did: counters, errors by status, and a latency histogram with
//! p50/p99. Pure: the driver feeds it, `main` prints its [`Summary`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// Log-linear histogram of durations in microseconds: exact below 64 µs, then 32
/// buckets per power of two (under 3.2 % relative error), up to about 2^40 µs (12 days).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    max_micros: u64,
}

const LINEAR: u64 = 64;
const SUB_BUCKETS: u64 = 32;
const MAX_EXPONENT: u64 = 40;

impl Default for LatencyHistogram {
    fn default() -> Self {
        let buckets = LINEAR + (MAX_EXPONENT - 6 + 1) * SUB_BUCKETS;
        LatencyHistogram {
            counts: vec![0; buckets as usize],
            total: 0,
            max_micros: 0,
        }
    }
}

impl LatencyHistogram {
    fn bucket(micros: u64) -> usize {
        if micros < LINEAR {
            return micros as usize;
        }
        let exponent = u64::from(63 - micros.leading_zeros()).min(MAX_EXPONENT);
        let sub = (micros >> (exponent - 5)) & (SUB_BUCKETS - 1);
        (LINEAR + (exponent - 6) * SUB_BUCKETS + sub) as usize
    }

    /// The lowest value that falls in `bucket`.
    fn lower_bound(bucket: usize) -> u64 {
        let bucket = bucket as u64;
        if bucket < LINEAR {
            return bucket;
        }
        let exponent = (bucket - LINEAR) / SUB_BUCKETS + 6;
        let sub = (bucket - LINEAR) % SUB_BUCKETS;
        (1 << exponent) + (sub << (exponent - 5))
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let bucket = Self::bucket(micros).min(self.counts.len() - 1);
        self.counts[bucket] += 1;
        self.total += 1;
        self.max_micros = self.max_micros.max(micros);
    }

    /// Durations recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0–1, nearest rank) as the middle of its bucket (within 1.6 %);
    /// `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (bucket, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                // The middle of the bucket (exact below 64 µs), never above the maximum.
                let lower = Self::lower_bound(bucket);
                let width = Self::lower_bound(bucket + 1).saturating_sub(lower);
                let value = (lower + width / 2).min(self.max_micros);
                return Some(Duration::from_micros(value));
            }
        }
        Some(Duration::from_micros(self.max_micros))
    }

    /// The longest duration recorded.
    pub fn max(&self) -> Option<Duration> {
        (self.total > 0).then(|| Duration::from_micros(self.max_micros))
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Hosts enrolled.
    pub enrolled: u64,
    /// Reports built (retries of the same report not counted).
    pub built: u64,
    /// Of them, reports carrying the full inventory.
    pub with_inventory: u64,
    /// HTTP attempts to send a report.
    pub sent: u64,
    /// Reports the collector acknowledged (duplicates included).
    pub acknowledged: u64,
    /// Acknowledgements saying the report was stored before.
    pub duplicates: u64,
    /// Reports refused for good (a 4xx other than 401, 408, 429).
    pub rejected: u64,
    /// Reports kept for another attempt (429, 503, network errors, ...).
    pub retried: u64,
    /// Hosts whose `--once` report is settled (acknowledged or rejected).
    pub hosts_done: u64,
    /// Gzip-compressed bytes of report bodies built.
    pub bytes: u64,
    /// Report errors by HTTP status or kind (`429`, `503`, `connect`, `timeout`, ...).
    pub report_errors: BTreeMap<String, u64>,
    /// Enrolment errors by HTTP status or kind.
    pub enrol_errors: BTreeMap<String, u64>,
    /// Latency of report POSTs (request sent to answer read).
    pub latency: LatencyHistogram,
}

impl Stats {
    /// The summary after `elapsed`, for `hosts` hosts.
    pub fn summary(&self, hosts: u64, elapsed: Duration) -> Summary {
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        let secs = elapsed.as_secs_f64();
        Summary {
            hosts,
            elapsed_secs: secs,
            enrolled: self.enrolled,
            built: self.built,
            with_inventory: self.with_inventory,
            sent: self.sent,
            acknowledged: self.acknowledged,
            duplicates: self.duplicates,
            rejected: self.rejected,
            retried: self.retried,
            hosts_done: self.hosts_done,
            bytes: self.bytes,
            acknowledged_per_second: if secs > 0.0 {
                self.acknowledged as f64 / secs
            } else {
                0.0
            },
            report_errors: self.report_errors.clone(),
            enrol_errors: self.enrol_errors.clone(),
            latency_p50_ms: ms(self.latency.quantile(0.50)),
            latency_p99_ms: ms(self.latency.quantile(0.99)),
            latency_max_ms: ms(self.latency.max()),
        }
    }
}

/// What a run did, for people (`Display`) and scripts (JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Hosts simulated.
    pub hosts: u64,
    /// Seconds the run took.
    pub elapsed_secs: f64,
    /// Hosts enrolled.
    pub enrolled: u64,
    /// Reports built.
    pub built: u64,
    /// Reports built with the full inventory.
    pub with_inventory: u64,
    /// HTTP attempts to send a report.
    pub sent: u64,
    /// Reports acknowledged.
    pub acknowledged: u64,
    /// Acknowledged as duplicates.
    pub duplicates: u64,
    /// Rejected for good.
    pub rejected: u64,
    /// Kept for another attempt.
    pub retried: u64,
    /// Hosts whose `--once` report is settled.
    pub hosts_done: u64,
    /// Gzip-compressed bytes of report bodies built.
    pub bytes: u64,
    /// Acknowledged reports per second over the run.
    pub acknowledged_per_second: f64,
    /// Report errors by status or kind.
    pub report_errors: BTreeMap<String, u64>,
    /// Enrolment errors by status or kind.
    pub enrol_errors: BTreeMap<String, u64>,
    /// Median report latency, milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// 99th percentile report latency, milliseconds.
    pub latency_p99_ms: Option<f64>,
    /// Longest report latency, milliseconds.
    pub latency_max_ms: Option<f64>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        let errors = |map: &BTreeMap<String, u64>| {
            if map.is_empty() {
                "none".to_owned()
            } else {
                map.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        writeln!(
            f,
            "hosts {} (enrolled {}), {:.1} s",
            self.hosts, self.enrolled, self.elapsed_secs
        )?;
        writeln!(
            f,
            "reports built {} ({} with inventory, {:.1} KiB gzipped), sent {}, acknowledged {} ({:.1}/s), duplicates {}, rejected {}, retried {}",
            self.built,
            self.with_inventory,
            self.bytes as f64 / 1024.0,
            self.sent,
            self.acknowledged,
            self.acknowledged_per_second,
            self.duplicates,
            self.rejected,
            self.retried
        )?;
        writeln!(
            f,
            "latency p50 {}, p99 {}, max {}",
            ms(self.latency_p50_ms),
            ms(self.latency_p99_ms),
            ms(self.latency_max_ms)
        )?;
        writeln!(f, "report errors: {}", errors(&self.report_errors))?;
        write!(f, "enrolment errors: {}", errors(&self.enrol_errors))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_precision() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile(0.5), None);
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile(0.5).unwrap().as_secs_f64() * 1000.0;
        let p99 = h.quantile(0.99).unwrap().as_secs_f64() * 1000.0;
        assert!((500.0 * 0.984..=500.0 * 1.016).contains(&p50), "{p50}");
        assert!((990.0 * 0.984..=990.0 * 1.016).contains(&p99), "{p99}");
        assert_eq!(h.max(), Some(Duration::from_millis(1000)));
        assert_eq!(h.count(), 1000);
    }

    #[test]
    fn buckets_are_ordered_and_bounds_invert_them() {
        let mut last = 0;
        for micros in (0..200_000u64).step_by(7).chain([1 << 30, 1 << 39]) {
            let b = LatencyHistogram::bucket(micros);
            assert!(b >= last);
            last = b;
            let lower = LatencyHistogram::lower_bound(b);
            assert!(lower <= micros, "{micros}: {lower}");
            assert!(micros - lower <= lower / 31 + 1, "{micros}: {lower}");
        }
    }

    #[test]
    fn the_summary_reads_well() {
        let mut s = Stats {
            acknowledged: 10,
            sent: 12,
            ..Stats::default()
        };
        s.report_errors.insert("429".to_owned(), 2);
        s.latency.record(Duration::from_millis(3));
        let text = s.summary(10, Duration::from_secs(2)).to_string();
        assert!(text.contains("acknowledged 10 (5.0/s)"), "{text}");
        assert!(text.contains("report errors: 429: 2"), "{text}");
        assert!(text.contains("enrolment errors: none"), "{text}");
        assert!(text.contains("p50 3.0 ms"), "{text}");
    }
}
