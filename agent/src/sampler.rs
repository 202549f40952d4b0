//! The utilisation sampler: CPU, memory, disk and network counters read every
//! `sample_interval` into a bounded ring buffer, summarised per report window.
//!
//! A *reading* is one snapshot of the system-wide counters (from
//! [`crate::collect::platform::counters::Reader`]); a *sample* is what two consecutive
//! readings say about the interval between them (CPU busy ratio and byte rates from the
//! counter deltas, memory used at the end of the interval). The first reading of a
//! sampler is only a baseline. A counter that goes backwards (a reset, a 32-bit wrap, a
//! device that went away) drops that metric for that interval: it never yields a
//! negative or a huge rate.
//!
//! Each window's summary carries mean, p50, p95 (nearest rank) and max per metric, the
//! peak of each 10-minute sub-window ([`PEAK_WINDOW`]) and the samples taken against the
//! samples expected. The statistics ([`summary`], [`summarise_samples`], [`interval`])
//! are pure functions; only [`Sampler::sample`] does I/O. This module must not parse
//! host files (the platform's `counters` module does) nor know about platforms.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use estate_protocol::{CollectorError, CollectorErrorKind, Summary, Utilisation};

use crate::collect::platform::counters;
use crate::root::SysRoot;

/// Name used for the sampler's entries in `collector_errors` (and in `[collectors]`).
pub const COLLECTOR_NAME: &str = "utilisation";
/// Longest window [`Sampler::new`] keeps samples for (one hour): the default report
/// interval (300 s) twelve times over, so a late report still has its whole window.
pub const DEFAULT_MAX_WINDOW: Duration = Duration::from_secs(3600);
/// Hard cap on the samples held (10,000: under 1 MB, about 28 hours at 10 s).
pub const MAX_SAMPLES: usize = 10_000;
/// Length of the sub-windows whose peaks are reported (10 minutes), as right-sizing
/// takes the 95th percentile of 10-minute peaks.
pub const PEAK_WINDOW: Duration = Duration::from_secs(600);

// -------------------------------------------------------------------------------------
// The counters: what the platform reads.

/// CPU time of all CPUs together since boot, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    /// Busy time: total minus idle and iowait.
    pub busy: u64,
    /// Total time.
    pub total: u64,
}

/// Memory in use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryUse {
    /// Total usable memory, bytes.
    pub total_bytes: u64,
    /// Memory available to new work without swapping, bytes.
    pub available_bytes: u64,
}

/// Cumulative byte counters of one disk or network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoCounter {
    /// Device or interface name.
    pub name: String,
    /// Bytes read (disk) or received (network).
    pub in_bytes: u64,
    /// Bytes written (disk) or transmitted (network).
    pub out_bytes: u64,
}

/// Why one counter could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    /// There is no such counter on this platform.
    #[error("not supported on this platform")]
    Unsupported,
    /// It could not be read or parsed; the message names the file.
    #[error("{0}")]
    Failed(String),
}

/// One reading of every system-wide counter the sampler uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// CPU times.
    pub cpu: Result<CpuTimes, CounterError>,
    /// Memory in use.
    pub memory: Result<MemoryUse, CounterError>,
    /// Whole disks (partitions, loop, RAM and stacked dm/md devices left out).
    pub disks: Result<Vec<IoCounter>, CounterError>,
    /// Network interfaces (loopback and virtual interfaces left out).
    pub networks: Result<Vec<IoCounter>, CounterError>,
}

impl Counters {
    /// A reading on a platform that has none of these counters.
    pub fn unsupported() -> Self {
        Counters {
            cpu: Err(CounterError::Unsupported),
            memory: Err(CounterError::Unsupported),
            disks: Err(CounterError::Unsupported),
            networks: Err(CounterError::Unsupported),
        }
    }

    fn errors(&self) -> impl Iterator<Item = &CounterError> {
        [
            self.cpu.as_ref().err(),
            self.memory.as_ref().err(),
            self.disks.as_ref().err(),
            self.networks.as_ref().err(),
        ]
        .into_iter()
        .flatten()
    }
}

// -------------------------------------------------------------------------------------
// Samples and their statistics (pure).

/// What one interval between two readings says. A metric is `None` when it could not
/// be measured over that interval.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// When the interval ended, seconds since the start of the summarised window.
    pub offset_secs: f64,
    /// CPU busy ratio over the interval, 0–1.
    pub cpu_busy_ratio: Option<f64>,
    /// Memory used ratio at the end of the interval, 0–1.
    pub memory_used_ratio: Option<f64>,
    /// Disk reads, bytes per second.
    pub disk_read_bytes_per_second: Option<f64>,
    /// Disk writes, bytes per second.
    pub disk_write_bytes_per_second: Option<f64>,
    /// Network received, bytes per second.
    pub network_receive_bytes_per_second: Option<f64>,
    /// Network transmitted, bytes per second.
    pub network_transmit_bytes_per_second: Option<f64>,
}

impl Sample {
    fn has_any(&self) -> bool {
        self.cpu_busy_ratio.is_some()
            || self.memory_used_ratio.is_some()
            || self.disk_read_bytes_per_second.is_some()
            || self.disk_write_bytes_per_second.is_some()
            || self.network_receive_bytes_per_second.is_some()
            || self.network_transmit_bytes_per_second.is_some()
    }
}

/// Computes the sample for the interval between readings `previous` and `current`,
/// `elapsed_secs` apart. Metrics whose counters are missing in either reading, or went
/// backwards, are `None`. The offset is left at 0.
pub fn interval(previous: &Counters, current: &Counters, elapsed_secs: f64) -> Sample {
    let positive_time = elapsed_secs.is_finite() && elapsed_secs > 0.0;
    let cpu_busy_ratio = match (&previous.cpu, &current.cpu) {
        (Ok(a), Ok(b)) => cpu_ratio(a, b),
        _ => None,
    };
    let memory_used_ratio = current.memory.as_ref().ok().and_then(memory_ratio);
    let (disk_read, disk_write) = match (&previous.disks, &current.disks) {
        (Ok(a), Ok(b)) if positive_time => io_rates(a, b, elapsed_secs),
        _ => (None, None),
    };
    let (net_rx, net_tx) = match (&previous.networks, &current.networks) {
        (Ok(a), Ok(b)) if positive_time => io_rates(a, b, elapsed_secs),
        _ => (None, None),
    };
    Sample {
        offset_secs: 0.0,
        cpu_busy_ratio,
        memory_used_ratio,
        disk_read_bytes_per_second: disk_read,
        disk_write_bytes_per_second: disk_write,
        network_receive_bytes_per_second: net_rx,
        network_transmit_bytes_per_second: net_tx,
    }
}

fn cpu_ratio(previous: &CpuTimes, current: &CpuTimes) -> Option<f64> {
    let total = current.total.checked_sub(previous.total)?;
    let busy = current.busy.checked_sub(previous.busy)?;
    if total == 0 {
        return None;
    }
    Some((busy as f64 / total as f64).clamp(0.0, 1.0))
}

fn memory_ratio(memory: &MemoryUse) -> Option<f64> {
    if memory.total_bytes == 0 {
        return None;
    }
    let available = memory.available_bytes.min(memory.total_bytes);
    Some((1.0 - available as f64 / memory.total_bytes as f64).clamp(0.0, 1.0))
}

/// Byte rates summed over the devices present in both readings. Any device whose
/// counter went backwards drops the direction concerned for the whole interval.
fn io_rates(
    previous: &[IoCounter],
    current: &[IoCounter],
    secs: f64,
) -> (Option<f64>, Option<f64>) {
    let before: HashMap<&str, &IoCounter> = previous.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut read: Option<u64> = Some(0);
    let mut write: Option<u64> = Some(0);
    for now in current {
        let Some(then) = before.get(now.name.as_str()) else {
            continue;
        };
        read = read.and_then(|sum| sum.checked_add(now.in_bytes.checked_sub(then.in_bytes)?));
        write = write.and_then(|sum| sum.checked_add(now.out_bytes.checked_sub(then.out_bytes)?));
    }
    (
        read.map(|bytes| bytes as f64 / secs),
        write.map(|bytes| bytes as f64 / secs),
    )
}

/// Mean, p50, p95 (nearest rank) and max of `values`, each `(offset_secs, value)`, and
/// the maximum of each [`PEAK_WINDOW`] sub-window that has values, oldest first.
/// Non-finite values are ignored; `None` when nothing is left.
pub fn summary(values: &[(f64, f64)]) -> Option<Summary> {
    let finite: Vec<(f64, f64)> = values
        .iter()
        .copied()
        .filter(|(offset, value)| offset.is_finite() && value.is_finite())
        .collect();
    if finite.is_empty() {
        return None;
    }
    let mut sorted: Vec<f64> = finite.iter().map(|(_, v)| *v).collect();
    sorted.sort_by(f64::total_cmp);
    let min = sorted[0];
    let max = sorted[sorted.len() - 1];
    let mean = (sorted.iter().sum::<f64>() / sorted.len() as f64).clamp(min, max);

    let mut peaks: BTreeMap<u64, f64> = BTreeMap::new();
    let peak_secs = PEAK_WINDOW.as_secs_f64();
    for (offset, value) in &finite {
        // A sample is labelled by the end of its interval: sub-windows are (start, end].
        let index = ((offset.max(0.0) / peak_secs).ceil() as u64).saturating_sub(1);
        let peak = peaks.entry(index).or_insert(*value);
        *peak = peak.max(*value);
    }
    Some(Summary {
        mean,
        p50: nearest_rank(&sorted, 50.0),
        p95: nearest_rank(&sorted, 95.0),
        max,
        peaks_10m: peaks.into_values().collect(),
    })
}

/// Nearest-rank percentile of sorted, non-empty `sorted`: the value at rank
/// `ceil(p / 100 × n)` (1-based, at least 1).
fn nearest_rank(sorted: &[f64], percentile: f64) -> f64 {
    let n = sorted.len();
    let rank = ((percentile / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// Summarises the samples of one window of `window_secs` taken every `interval_secs`.
/// `None` when no sample measured anything.
pub fn summarise_samples(
    samples: &[Sample],
    window_secs: f64,
    interval_secs: f64,
) -> Option<Utilisation> {
    let taken: Vec<&Sample> = samples.iter().filter(|s| s.has_any()).collect();
    if taken.is_empty() {
        return None;
    }
    let metric = |get: fn(&Sample) -> Option<f64>| {
        let values: Vec<(f64, f64)> = taken
            .iter()
            .filter_map(|s| get(s).map(|v| (s.offset_secs, v)))
            .collect();
        summary(&values)
    };
    let expected = if interval_secs > 0.0 && window_secs.is_finite() && window_secs > 0.0 {
        (window_secs / interval_secs)
            .round()
            .min(f64::from(u32::MAX)) as u32
    } else {
        0
    };
    Some(Utilisation {
        sample_interval_secs: interval_secs,
        samples_taken: u32::try_from(taken.len()).unwrap_or(u32::MAX),
        samples_expected: expected,
        cpu_busy_ratio: metric(|s| s.cpu_busy_ratio),
        memory_used_ratio: metric(|s| s.memory_used_ratio),
        disk_read_bytes_per_second: metric(|s| s.disk_read_bytes_per_second),
        disk_write_bytes_per_second: metric(|s| s.disk_write_bytes_per_second),
        network_receive_bytes_per_second: metric(|s| s.network_receive_bytes_per_second),
        network_transmit_bytes_per_second: metric(|s| s.network_transmit_bytes_per_second),
    })
}

// -------------------------------------------------------------------------------------
// The sampler.

/// Reads the counters on demand and keeps the samples of the current window.
#[derive(Debug)]
pub struct Sampler {
    counters: counters::Reader,
    interval: Duration,
    capacity: usize,
    last: Option<(Instant, Counters)>,
    samples: VecDeque<(Instant, Sample)>,
    /// Distinct problems seen since the last summary, with how many readings had each.
    problems: BTreeMap<String, u32>,
    readings: u32,
    unsupported: bool,
    overflowed: u32,
}

impl Sampler {
    /// A sampler reading counters under `root`, meant to be called every `interval`,
    /// keeping samples for up to [`DEFAULT_MAX_WINDOW`].
    pub fn new(root: SysRoot, interval: Duration) -> Self {
        Sampler::with_max_window(root, interval, DEFAULT_MAX_WINDOW)
    }

    /// A sampler that keeps enough samples for a window of `max_window` at `interval`
    /// (the daemon passes its report interval with some slack), capped at
    /// [`MAX_SAMPLES`].
    pub fn with_max_window(root: SysRoot, interval: Duration, max_window: Duration) -> Self {
        Sampler {
            counters: counters::Reader::new(root),
            interval,
            capacity: capacity_for(interval, max_window),
            last: None,
            samples: VecDeque::new(),
            problems: BTreeMap::new(),
            readings: 0,
            unsupported: false,
            overflowed: 0,
        }
    }

    /// How many samples the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Takes one reading now and records the sample since the previous one.
    pub fn sample(&mut self) {
        let counters = self.counters.read();
        self.record(Instant::now(), counters);
    }

    /// Records a reading taken at `at` (the I/O-free half of [`Sampler::sample`]).
    pub fn record(&mut self, at: Instant, counters: Counters) {
        self.readings = self.readings.saturating_add(1);
        for err in counters.errors() {
            match err {
                CounterError::Unsupported => self.unsupported = true,
                CounterError::Failed(message) => {
                    *self.problems.entry(message.clone()).or_insert(0) += 1;
                }
            }
        }
        if let Some((then, previous)) = &self.last {
            let elapsed = at.saturating_duration_since(*then).as_secs_f64();
            let sample = interval(previous, &counters, elapsed);
            if sample.has_any() {
                if self.samples.len() >= self.capacity {
                    self.samples.pop_front();
                    self.overflowed = self.overflowed.saturating_add(1);
                }
                self.samples.push_back((at, sample));
            }
        }
        self.last = Some((at, counters));
    }

    /// Summarises the samples taken since the last call over a window of `window`
    /// ending now, and starts a new window. The last reading stays as the baseline of
    /// the next window's first sample.
    pub fn summarise(&mut self, window: Duration) -> (Option<Utilisation>, Vec<CollectorError>) {
        self.summarise_at(Instant::now(), window)
    }

    /// [`Sampler::summarise`] for a window ending at `now`.
    pub fn summarise_at(
        &mut self,
        now: Instant,
        window: Duration,
    ) -> (Option<Utilisation>, Vec<CollectorError>) {
        let window_secs = window.as_secs_f64();
        let samples: Vec<Sample> = self
            .samples
            .drain(..)
            .map(|(at, mut sample)| {
                let age = now.saturating_duration_since(at).as_secs_f64();
                sample.offset_secs = (window_secs - age).max(0.0);
                sample
            })
            .collect();
        let utilisation = summarise_samples(&samples, window_secs, self.interval.as_secs_f64());

        let mut errors = Vec::new();
        let kind = if utilisation.is_some() {
            CollectorErrorKind::Partial
        } else {
            CollectorErrorKind::Failed
        };
        if self.unsupported && utilisation.is_none() && self.problems.is_empty() {
            errors.push(error(
                CollectorErrorKind::Unsupported,
                "not supported on this platform".to_owned(),
            ));
        }
        for (message, count) in std::mem::take(&mut self.problems) {
            errors.push(error(
                kind,
                format!("{message} (in {count} of {} readings)", self.readings),
            ));
        }
        if self.overflowed > 0 {
            errors.push(error(
                CollectorErrorKind::Partial,
                format!(
                    "sample buffer full ({} samples): the {} oldest samples of the window were dropped",
                    self.capacity, self.overflowed
                ),
            ));
        }
        if utilisation.is_none() && errors.is_empty() {
            errors.push(error(
                CollectorErrorKind::Failed,
                format!(
                    "no utilisation sample in the window ({} readings; a sample needs two)",
                    self.readings
                ),
            ));
        }
        self.readings = 0;
        self.unsupported = false;
        self.overflowed = 0;
        (utilisation, errors)
    }
}

fn capacity_for(interval: Duration, max_window: Duration) -> usize {
    let interval_secs = interval.as_secs_f64();
    if interval_secs <= 0.0 {
        return MAX_SAMPLES;
    }
    let needed = (max_window.as_secs_f64() / interval_secs).ceil() + 1.0;
    if needed.is_finite() {
        (needed as usize).clamp(2, MAX_SAMPLES)
    } else {
        MAX_SAMPLES
    }
}

fn error(kind: CollectorErrorKind, message: String) -> CollectorError {
    CollectorError {
        collector: COLLECTOR_NAME.to_owned(),
        kind,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn io(name: &str, in_bytes: u64, out_bytes: u64) -> IoCounter {
        IoCounter {
            name: name.to_owned(),
            in_bytes,
            out_bytes,
        }
    }

    fn counters(busy: u64, total: u64, disk: (u64, u64), net: (u64, u64)) -> Counters {
        Counters {
            cpu: Ok(CpuTimes { busy, total }),
            memory: Ok(MemoryUse {
                total_bytes: 8 << 30,
                available_bytes: 6 << 30,
            }),
            disks: Ok(vec![io("vda", disk.0, disk.1)]),
            networks: Ok(vec![io("enp1s0", net.0, net.1)]),
        }
    }

    #[test]
    fn an_interval_gives_ratios_and_rates() {
        let a = counters(100, 1000, (0, 0), (1000, 2000));
        let b = counters(350, 2000, (1_048_576, 524_288), (11_000, 2_500));
        let s = interval(&a, &b, 2.0);
        assert_eq!(s.cpu_busy_ratio, Some(0.25));
        assert_eq!(s.memory_used_ratio, Some(0.25));
        assert_eq!(s.disk_read_bytes_per_second, Some(524_288.0));
        assert_eq!(s.disk_write_bytes_per_second, Some(262_144.0));
        assert_eq!(s.network_receive_bytes_per_second, Some(5_000.0));
        assert_eq!(s.network_transmit_bytes_per_second, Some(250.0));
    }

    #[test]
    fn a_counter_going_backwards_drops_only_that_metric() {
        let a = counters(100, 1000, (5000, 5000), (1000, 2000));
        // The disk's read counter reset; the network's transmit counter wrapped.
        let b = counters(200, 1100, (10, 6000), (1500, 10));
        let s = interval(&a, &b, 1.0);
        assert_eq!(s.cpu_busy_ratio, Some(1.0));
        assert_eq!(s.disk_read_bytes_per_second, None);
        assert_eq!(s.disk_write_bytes_per_second, Some(1000.0));
        assert_eq!(s.network_receive_bytes_per_second, Some(500.0));
        assert_eq!(s.network_transmit_bytes_per_second, None);
        // CPU counters going backwards (e.g. a restored VM snapshot) drop the CPU too.
        let c = counters(50, 900, (10, 6000), (1500, 10));
        assert_eq!(interval(&b, &c, 1.0).cpu_busy_ratio, None);
    }

    #[test]
    fn devices_that_come_and_go_are_not_counted_in_that_interval() {
        let mut a = counters(0, 10, (1000, 1000), (0, 0));
        let mut b = counters(5, 20, (3000, 1000), (0, 0));
        a.disks = Ok(vec![io("vda", 1000, 1000), io("vdb", 50, 50)]);
        // vdb went away, vdc appeared with a lifetime of counters: neither counts.
        b.disks = Ok(vec![io("vda", 3000, 1000), io("vdc", 1 << 40, 1 << 40)]);
        let s = interval(&a, &b, 2.0);
        assert_eq!(s.disk_read_bytes_per_second, Some(1000.0));
        assert_eq!(s.disk_write_bytes_per_second, Some(0.0));
    }

    #[test]
    fn zero_elapsed_time_gives_no_rates() {
        let a = counters(0, 10, (0, 0), (0, 0));
        let b = counters(5, 20, (10, 10), (10, 10));
        let s = interval(&a, &b, 0.0);
        assert_eq!(s.disk_read_bytes_per_second, None);
        assert_eq!(s.network_receive_bytes_per_second, None);
        assert_eq!(s.cpu_busy_ratio, Some(0.5));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<(f64, f64)> = (1..=20).map(|v| (0.0, f64::from(v))).collect();
        let s = summary(&values).unwrap();
        assert_eq!(s.p50, 10.0);
        assert_eq!(s.p95, 19.0);
        assert_eq!(s.max, 20.0);
        assert_eq!(s.mean, 10.5);
        let one = summary(&[(0.0, 0.3)]).unwrap();
        assert_eq!((one.p50, one.p95, one.max, one.mean), (0.3, 0.3, 0.3, 0.3));
        assert_eq!(summary(&[]), None);
        assert_eq!(summary(&[(0.0, f64::NAN)]), None);
    }

    #[test]
    fn peaks_are_per_ten_minute_sub_window() {
        // 30 minutes of samples every 60 s; the peak of each 10 minutes is known.
        let values: Vec<(f64, f64)> = (0..30)
            .map(|i| {
                let offset = f64::from(i) * 60.0 + 60.0;
                let value = match i {
                    3 => 0.9,
                    9 => 0.2,
                    10 => 0.7,
                    29 => 0.5,
                    _ => 0.1,
                };
                (offset, value)
            })
            .collect();
        let s = summary(&values).unwrap();
        // Offsets 60..=600 fall in the first sub-window, 660..=1200 in the second, ...
        assert_eq!(s.peaks_10m, vec![0.9, 0.7, 0.5]);
    }

    #[test]
    fn a_sampler_summarises_its_window_and_starts_the_next() {
        let root = SysRoot::new("/nonexistent");
        let mut sampler = Sampler::new(root, Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        sampler.record(at(0), counters(0, 0, (0, 0), (0, 0)));
        sampler.record(at(10), counters(100, 1000, (10_240, 0), (0, 0)));
        sampler.record(at(20), counters(600, 2000, (10_240, 0), (0, 0)));
        sampler.record(at(30), counters(700, 3000, (20_480, 0), (0, 0)));
        let (u, errors) = sampler.summarise_at(at(30), Duration::from_secs(30));
        assert!(errors.is_empty(), "{errors:?}");
        let u = u.unwrap();
        assert_eq!((u.samples_taken, u.samples_expected), (3, 3));
        let cpu = u.cpu_busy_ratio.unwrap();
        assert_eq!((cpu.p50, cpu.p95, cpu.max), (0.1, 0.5, 0.5));
        assert!((cpu.mean - 0.7 / 3.0).abs() < 1e-12);
        assert_eq!(cpu.peaks_10m, vec![0.5]);
        assert_eq!(u.disk_read_bytes_per_second.unwrap().max, 1024.0);
        assert_eq!(u.memory_used_ratio.unwrap().p95, 0.25);

        // The next window starts from the last reading: one sample, no re-counting.
        sampler.record(at(40), counters(1200, 4000, (20_480, 0), (0, 0)));
        let (u, _) = sampler.summarise_at(at(40), Duration::from_secs(10));
        let u = u.unwrap();
        assert_eq!((u.samples_taken, u.samples_expected), (1, 1));
        assert_eq!(u.cpu_busy_ratio.unwrap().max, 0.5);
    }

    #[test]
    fn the_ring_is_bounded_and_says_when_it_dropped_samples() {
        let root = SysRoot::new("/nonexistent");
        let mut sampler =
            Sampler::with_max_window(root, Duration::from_secs(10), Duration::from_secs(30));
        assert_eq!(sampler.capacity(), 4);
        let t0 = Instant::now();
        for i in 0..10u64 {
            sampler.record(
                t0 + Duration::from_secs(i * 10),
                counters(i * 10, i * 100, (0, 0), (0, 0)),
            );
        }
        let (u, errors) =
            sampler.summarise_at(t0 + Duration::from_secs(90), Duration::from_secs(90));
        let u = u.unwrap();
        assert_eq!((u.samples_taken, u.samples_expected), (4, 9));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("5 oldest samples"), "{errors:?}");
        assert_eq!(
            capacity_for(Duration::from_millis(1), Duration::from_secs(86_400 * 365)),
            MAX_SAMPLES
        );
    }

    #[test]
    fn read_problems_are_reported_once_with_their_count() {
        let root = SysRoot::new("/nonexistent");
        let mut sampler = Sampler::new(root, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..3u64 {
            let mut c = counters(i * 10, i * 100, (0, 0), (0, 0));
            c.disks = Err(CounterError::Failed(
                "/proc/diskstats: Permission denied".to_owned(),
            ));
            sampler.record(t0 + Duration::from_secs(i * 10), c);
        }
        let (u, errors) =
            sampler.summarise_at(t0 + Duration::from_secs(20), Duration::from_secs(20));
        let u = u.unwrap();
        assert!(u.disk_read_bytes_per_second.is_none());
        assert_eq!(u.cpu_busy_ratio.unwrap().max, 0.1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, CollectorErrorKind::Partial);
        assert_eq!(
            errors[0].message,
            "/proc/diskstats: Permission denied (in 3 of 3 readings)"
        );
    }

    #[test]
    fn nothing_to_read_is_a_failure_or_unsupported() {
        let mut sampler = Sampler::new(SysRoot::new("/nonexistent"), Duration::from_secs(1));
        let t0 = Instant::now();
        sampler.record(t0, Counters::unsupported());
        sampler.record(t0 + Duration::from_secs(1), Counters::unsupported());
        let (u, errors) = sampler.summarise_at(t0 + Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(u, None);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].kind, CollectorErrorKind::Unsupported);

        let (u, errors) = sampler.summarise_at(t0 + Duration::from_secs(2), Duration::from_secs(1));
        assert_eq!(u, None);
        assert_eq!(errors[0].kind, CollectorErrorKind::Failed);
        assert!(
            errors[0].message.contains("no utilisation sample"),
            "{errors:?}"
        );
    }

    fn arb_counters() -> impl Strategy<Value = Counters> {
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            (any::<u64>(), any::<u64>()),
            (any::<u64>(), any::<u64>()),
        )
            .prop_map(|(busy, total, mem_total, mem_avail, disk, net)| Counters {
                cpu: Ok(CpuTimes { busy, total }),
                memory: Ok(MemoryUse {
                    total_bytes: mem_total,
                    available_bytes: mem_avail,
                }),
                disks: Ok(vec![io("sda", disk.0, disk.1)]),
                networks: Ok(vec![io("eth0", net.0, net.1)]),
            })
    }

    proptest! {
        #[test]
        fn summaries_are_ordered(values in prop::collection::vec((0.0f64..7200.0, -1e12f64..1e12), 1..200)) {
            let s = summary(&values).unwrap();
            let min = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
            prop_assert!(s.p50 <= s.p95);
            prop_assert!(s.p95 <= s.max);
            prop_assert!(min <= s.mean && s.mean <= s.max);
            prop_assert!(min <= s.p50);
            prop_assert!(s.peaks_10m.iter().all(|p| *p <= s.max && *p >= min));
            prop_assert!(s.peaks_10m.contains(&s.max));
            prop_assert!(s.peaks_10m.len() <= 12);
        }

        #[test]
        fn intervals_never_give_negative_rates_or_ratios_outside_0_1(
            a in arb_counters(), b in arb_counters(), secs in 0.0f64..1e6
        ) {
            let s = interval(&a, &b, secs);
            for ratio in [s.cpu_busy_ratio, s.memory_used_ratio].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&ratio));
            }
            for rate in [
                s.disk_read_bytes_per_second,
                s.disk_write_bytes_per_second,
                s.network_receive_bytes_per_second,
                s.network_transmit_bytes_per_second,
            ].into_iter().flatten() {
                prop_assert!(rate.is_finite() && rate >= 0.0);
            }
        }

        #[test]
        fn window_summaries_keep_ratios_in_0_1(
            readings in prop::collection::vec(arb_counters(), 2..40)
        ) {
            let mut sampler = Sampler::new(SysRoot::new("/nonexistent"), Duration::from_secs(10));
            let t0 = Instant::now();
            let n = readings.len() as u64;
            for (i, c) in readings.into_iter().enumerate() {
                sampler.record(t0 + Duration::from_secs(10 * i as u64), c);
            }
            let (u, _) = sampler.summarise_at(t0 + Duration::from_secs(10 * (n - 1)), Duration::from_secs(10 * (n - 1)));
            let u = u.unwrap();
            prop_assert!(u.samples_taken <= u.samples_expected);
            for s in [u.cpu_busy_ratio, u.memory_used_ratio].into_iter().flatten() {
                prop_assert!(0.0 <= s.mean && s.max <= 1.0 && s.p50 >= 0.0);
            }
        }
    }
}
