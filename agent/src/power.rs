//! The power meter: average power per measured domain over a window, from energy
//! counters read at its start, at its end and (in the daemon) in between.
//!
//! Two meters, each reading labelled with its source:
//! - RAPL through Linux powercap ([`crate::collect::platform::rapl::read`]): one
//!   `energy_uj` counter per zone (package, dram, core, uncore, psys), corrected for
//!   wrap-around through `max_energy_range_uj`. A counter wraps every few minutes at
//!   high power (262 kJ at 200 W is 22 minutes), so a window longer than that must be
//!   polled in between ([`PowerMeter::poll`]) or it is under-counted.
//! - NVML for NVIDIA GPUs ([`crate::collect::nvml`]), on the live host only: the total
//!   energy counter (mJ, Volta and newer) where supported, else the mean of the
//!   instantaneous power readings taken at each poll.
//!
//! Where neither measures anything, the report says `source: none` with notes saying
//! why. The energy arithmetic ([`energy_delta`]) is pure; this module must not read
//! files itself (the platform's `rapl` module does).

use std::collections::BTreeMap;
use std::time::Instant;

use estate_protocol::{CollectorError, CollectorErrorKind, Power, PowerReading, PowerSource};

use crate::collect::nvml;
use crate::collect::platform::rapl;
use crate::root::SysRoot;

/// Name used for the meter's entries in `collector_errors` (and in `[collectors]`).
pub const COLLECTOR_NAME: &str = "power";

/// One RAPL energy counter, as read from powercap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnergyCounter {
    /// Domain as reported: `package-0`, `dram`, `dram-1`, `core`, `uncore`, `psys`.
    pub domain: String,
    /// The zone's directory as the host sees it (`/sys/class/powercap/intel-rapl:0`):
    /// what matches one reading of the zone with the next.
    pub zone: String,
    /// The counter, microjoules.
    pub energy_uj: u64,
    /// The value the counter wraps at, microjoules, where known.
    pub max_energy_range_uj: Option<u64>,
}

/// One reading of every RAPL counter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaplSnapshot {
    /// The counters that could be read.
    pub counters: Vec<EnergyCounter>,
    /// Why RAPL is (partly) not measured, when it is expected: e.g. "no
    /// /sys/class/powercap: RAPL not exposed (VM or unsupported CPU)".
    pub notes: Vec<String>,
    /// Faults worth an operator's attention (unreadable or malformed files), each
    /// naming the file.
    pub problems: Vec<String>,
}

impl RaplSnapshot {
    /// The reading on a platform without RAPL.
    pub fn unsupported() -> Self {
        RaplSnapshot {
            notes: vec!["RAPL: not supported on this platform".to_owned()],
            ..RaplSnapshot::default()
        }
    }
}

/// Energy between two readings of a counter that wraps at `max_range` (inclusive of
/// the wrap): `None` when the counter went backwards and the wrap point is unknown or
/// the earlier value lies beyond it (a reset, not a wrap).
pub fn energy_delta(before: u64, after: u64, max_range: Option<u64>) -> Option<u64> {
    if after >= before {
        return Some(after - before);
    }
    let max = max_range?;
    if before > max {
        return None;
    }
    (max - before).checked_add(after)
}

/// A counter followed across polls.
#[derive(Debug)]
struct Tracked {
    domain: String,
    last: u64,
    max_range: Option<u64>,
    /// Energy since `since`, in the counter's unit.
    accumulated: u128,
    since: Instant,
    last_at: Instant,
    /// Readings since `since` (at least 2 for a measurement).
    readings: u32,
}

impl Tracked {
    fn new(domain: String, value: u64, max_range: Option<u64>, at: Instant) -> Self {
        Tracked {
            domain,
            last: value,
            max_range,
            accumulated: 0,
            since: at,
            last_at: at,
            readings: 1,
        }
    }

    /// Adds a reading. `false` when the counter went backwards without a known wrap:
    /// the window restarts from this reading.
    fn update(&mut self, value: u64, at: Instant) -> bool {
        let ok = match energy_delta(self.last, value, self.max_range) {
            Some(delta) => {
                self.accumulated += u128::from(delta);
                self.readings += 1;
                true
            }
            None => {
                self.accumulated = 0;
                self.since = at;
                self.readings = 1;
                false
            }
        };
        self.last = value;
        self.last_at = at;
        ok
    }

    fn interval_secs(&self) -> f64 {
        self.last_at
            .saturating_duration_since(self.since)
            .as_secs_f64()
    }

    fn restart(&mut self) {
        self.accumulated = 0;
        self.since = self.last_at;
        self.readings = 1;
    }
}

/// Instantaneous GPU power readings averaged over the window (for GPUs without an
/// energy counter).
#[derive(Debug)]
struct Averaged {
    sum_mw: u64,
    count: u32,
    since: Instant,
    last_at: Instant,
}

/// Measures average power per domain between `start` and each `read`.
#[derive(Debug)]
pub struct PowerMeter {
    root: SysRoot,
    rapl: BTreeMap<String, Tracked>,
    gpu_energy: BTreeMap<u32, Tracked>,
    gpu_average: BTreeMap<u32, Averaged>,
    rapl_notes: Vec<String>,
    nvml_note: Option<String>,
    problems: BTreeMap<String, u32>,
}

impl PowerMeter {
    /// Starts measuring: reads the energy counters now.
    pub fn start(root: &SysRoot) -> Self {
        let mut meter = PowerMeter {
            root: root.clone(),
            rapl: BTreeMap::new(),
            gpu_energy: BTreeMap::new(),
            gpu_average: BTreeMap::new(),
            rapl_notes: Vec::new(),
            nvml_note: None,
            problems: BTreeMap::new(),
        };
        meter.poll();
        meter
    }

    /// Reads the counters again, adding the energy since the previous reading (call it
    /// every few seconds in a long window so no counter wraps twice unseen).
    pub fn poll(&mut self) {
        let now = Instant::now();
        let snapshot = rapl::read(&self.root);
        self.poll_rapl(snapshot, now);
        if self.root.is_live() {
            let readings = nvml::power();
            self.poll_nvml(readings, Instant::now());
        } else {
            self.nvml_note = Some(
                "NVML not queried: reading a recorded system root, not the live host".to_owned(),
            );
        }
    }

    fn poll_rapl(&mut self, snapshot: RaplSnapshot, now: Instant) {
        for counter in snapshot.counters {
            match self.rapl.get_mut(&counter.zone) {
                Some(tracked) => {
                    if !tracked.update(counter.energy_uj, now) {
                        self.problem(format!(
                            "{}/energy_uj went backwards beyond its wrap point (reset?): interval restarted",
                            counter.zone
                        ));
                    }
                }
                None => {
                    self.rapl.insert(
                        counter.zone.clone(),
                        Tracked::new(
                            counter.domain,
                            counter.energy_uj,
                            counter.max_energy_range_uj,
                            now,
                        ),
                    );
                }
            }
        }
        self.rapl_notes = snapshot.notes;
        for problem in snapshot.problems {
            self.problem(problem);
        }
    }

    fn poll_nvml(&mut self, readings: Result<Vec<nvml::NvmlPower>, String>, now: Instant) {
        let readings = match readings {
            Ok(readings) => readings,
            Err(note) => {
                self.nvml_note = Some(note);
                return;
            }
        };
        self.nvml_note = None;
        for gpu in readings {
            if let Some(mj) = gpu.total_energy_mj {
                match self.gpu_energy.get_mut(&gpu.index) {
                    Some(tracked) => {
                        tracked.update(mj, now);
                    }
                    None => {
                        self.gpu_energy.insert(
                            gpu.index,
                            Tracked::new(format!("gpu-{}", gpu.index), mj, None, now),
                        );
                    }
                }
            } else if let Some(mw) = gpu.power_mw {
                let entry = self.gpu_average.entry(gpu.index).or_insert(Averaged {
                    sum_mw: 0,
                    count: 0,
                    since: now,
                    last_at: now,
                });
                entry.sum_mw = entry.sum_mw.saturating_add(u64::from(mw));
                entry.count += 1;
                entry.last_at = now;
            }
        }
    }

    fn problem(&mut self, message: String) {
        *self.problems.entry(message).or_insert(0) += 1;
    }

    /// Average power since `start` or the previous `read`, and restarts the interval.
    pub fn read(&mut self) -> (Power, Vec<CollectorError>) {
        self.poll();
        let mut readings = Vec::new();
        for tracked in self.rapl.values_mut() {
            if let Some(reading) = reading_from(tracked, estate_protocol::PowerMeter::Rapl, 1e-6) {
                readings.push(reading);
            }
            tracked.restart();
        }
        for tracked in self.gpu_energy.values_mut() {
            if let Some(reading) = reading_from(tracked, estate_protocol::PowerMeter::Nvml, 1e-3) {
                readings.push(reading);
            }
            tracked.restart();
        }
        let mut notes = self.rapl_notes.clone();
        for (index, average) in &mut self.gpu_average {
            let interval_secs = average
                .last_at
                .saturating_duration_since(average.since)
                .as_secs_f64();
            if average.count > 0 && interval_secs > 0.0 {
                let watts = average.sum_mw as f64 / f64::from(average.count) / 1000.0;
                readings.push(PowerReading {
                    meter: estate_protocol::PowerMeter::Nvml,
                    domain: format!("gpu-{index}"),
                    average_watts: watts,
                    energy_joules: watts * interval_secs,
                    interval_secs,
                });
                notes.push(format!(
                    "gpu-{index}: no energy counter; mean of {} power readings",
                    average.count
                ));
            }
            average.sum_mw = 0;
            average.count = 0;
            average.since = average.last_at;
        }
        if let Some(note) = &self.nvml_note {
            notes.push(note.clone());
        }
        let errors = std::mem::take(&mut self.problems)
            .into_iter()
            .map(|(message, count)| CollectorError {
                collector: COLLECTOR_NAME.to_owned(),
                kind: CollectorErrorKind::Partial,
                message: if count > 1 {
                    format!("{message} ({count} times)")
                } else {
                    message
                },
            })
            .collect();
        let source = if readings.is_empty() {
            PowerSource::None
        } else {
            PowerSource::Measured
        };
        (
            Power {
                source,
                readings,
                notes,
            },
            errors,
        )
    }
}

fn reading_from(
    tracked: &Tracked,
    meter: estate_protocol::PowerMeter,
    joules_per_unit: f64,
) -> Option<PowerReading> {
    let interval_secs = tracked.interval_secs();
    if tracked.readings < 2 || interval_secs <= 0.0 {
        return None;
    }
    let energy_joules = tracked.accumulated as f64 * joules_per_unit;
    Some(PowerReading {
        meter,
        domain: tracked.domain.clone(),
        average_watts: energy_joules / interval_secs,
        energy_joules,
        interval_secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL, fixture_path};
    use std::time::Duration;

    #[test]
    fn wrap_correction() {
        assert_eq!(energy_delta(100, 350, Some(1000)), Some(250));
        assert_eq!(energy_delta(900, 50, Some(1000)), Some(150));
        assert_eq!(energy_delta(900, 50, None), None);
        // Beyond the wrap point: a reset, not a wrap.
        assert_eq!(energy_delta(2000, 50, Some(1000)), None);
        assert_eq!(energy_delta(u64::MAX, 0, Some(u64::MAX)), Some(0));
    }

    fn counter(zone: &str, domain: &str, uj: u64) -> EnergyCounter {
        EnergyCounter {
            domain: domain.to_owned(),
            zone: zone.to_owned(),
            energy_uj: uj,
            max_energy_range_uj: Some(262_143_328_850),
        }
    }

    fn meter() -> PowerMeter {
        PowerMeter {
            root: SysRoot::new("/nonexistent"),
            rapl: BTreeMap::new(),
            gpu_energy: BTreeMap::new(),
            gpu_average: BTreeMap::new(),
            rapl_notes: Vec::new(),
            nvml_note: None,
            problems: BTreeMap::new(),
        }
    }

    #[test]
    fn polls_accumulate_across_a_wrap() {
        let mut m = meter();
        let t0 = Instant::now();
        let snap = |uj| RaplSnapshot {
            counters: vec![counter("/sys/class/powercap/intel-rapl:0", "package-0", uj)],
            ..RaplSnapshot::default()
        };
        m.poll_rapl(snap(262_000_000_000), t0);
        m.poll_rapl(snap(262_100_000_000), t0 + Duration::from_secs(100));
        // 100 J, then a wrap: 43,328,850 µJ to the top and 56,671,150 µJ after it.
        m.poll_rapl(snap(56_671_150), t0 + Duration::from_secs(200));
        let tracked = &m.rapl["/sys/class/powercap/intel-rapl:0"];
        let reading = reading_from(tracked, estate_protocol::PowerMeter::Rapl, 1e-6).unwrap();
        assert_eq!(reading.domain, "package-0");
        assert_eq!(reading.interval_secs, 200.0);
        assert!((reading.energy_joules - 200.0).abs() < 1e-9, "{reading:?}");
        assert!((reading.average_watts - 1.0).abs() < 1e-12);
    }

    #[test]
    fn nvml_energy_counter_or_mean_power() {
        let mut m = meter();
        let t0 = Instant::now();
        let gpus = |mj, mw| {
            Ok(vec![
                nvml::NvmlPower {
                    index: 0,
                    total_energy_mj: Some(mj),
                    power_mw: Some(1),
                },
                nvml::NvmlPower {
                    index: 1,
                    total_energy_mj: None,
                    power_mw: Some(mw),
                },
            ])
        };
        m.poll_nvml(gpus(1_000_000, 60_000), t0);
        m.poll_nvml(gpus(1_300_000, 80_000), t0 + Duration::from_secs(2));
        m.poll_nvml(gpus(1_600_000, 100_000), t0 + Duration::from_secs(4));
        let tracked = &m.gpu_energy[&0];
        let reading = reading_from(tracked, estate_protocol::PowerMeter::Nvml, 1e-3).unwrap();
        assert_eq!(
            (reading.energy_joules, reading.average_watts),
            (600.0, 150.0)
        );
        let avg = &m.gpu_average[&1];
        assert_eq!((avg.sum_mw, avg.count), (240_000, 3));
        m.poll_nvml(
            Err("NVML not loaded: libnvidia-ml.so.1: cannot open shared object file".to_owned()),
            t0,
        );
        assert!(
            m.nvml_note
                .as_deref()
                .unwrap()
                .starts_with("NVML not loaded")
        );
    }

    #[test]
    fn dell_rapl_measures_every_domain_over_the_window() {
        let dir = testutil::broken_copy(DELL);
        let root = SysRoot::new(dir.path());
        let mut meter = PowerMeter::start(&root);
        std::thread::sleep(Duration::from_millis(20));
        // 1.5 kJ on package-0, 0.25 kJ on its dram; package-1 wrapped.
        let bump = |path: &str, uj: u64| {
            testutil::write(dir.path(), path, format!("{uj}\n").as_bytes());
        };
        bump(
            "/sys/class/powercap/intel-rapl:0/energy_uj",
            184_467_219_833 + 1_500_000_000,
        );
        bump(
            "/sys/class/powercap/intel-rapl:0:0/energy_uj",
            39_112_876_544 + 250_000_000,
        );
        bump("/sys/class/powercap/intel-rapl:1/energy_uj", 1_000_000);
        let (power, errors) = meter.read();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(power.source, PowerSource::Measured);
        let got: Vec<(&str, f64)> = power
            .readings
            .iter()
            .map(|r| (r.domain.as_str(), (r.energy_joules * 1e6).round() / 1e6))
            .collect();
        assert_eq!(
            got,
            vec![
                ("package-0", 1500.0),
                ("dram-0", 250.0),
                // Wrapped: (262,143,328,850 − 261,904,116,233) + 1,000,000 µJ.
                ("package-1", 240.212617),
                ("dram-1", 0.0),
            ]
        );
        for r in &power.readings {
            assert_eq!(r.meter, estate_protocol::PowerMeter::Rapl);
            assert!(r.interval_secs >= 0.02, "{r:?}");
            assert!((r.average_watts - r.energy_joules / r.interval_secs).abs() < 1e-6);
        }
        assert_eq!(
            power.notes,
            vec!["NVML not queried: reading a recorded system root, not the live host"]
        );
        // The next read covers only the time since this one.
        let (power, _) = meter.read();
        assert!(power.readings.iter().all(|r| r.energy_joules == 0.0));
    }

    #[test]
    fn debian_vm_has_no_power_meter_and_says_why() {
        let mut meter = PowerMeter::start(&SysRoot::new(fixture_path(DEBIAN_VM)));
        let (power, errors) = meter.read();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(power.source, PowerSource::None);
        assert!(power.readings.is_empty());
        assert_eq!(
            power.notes,
            vec![
                "no /sys/class/powercap: RAPL not exposed (VM or unsupported CPU)",
                "NVML not queried: reading a recorded system root, not the live host",
            ]
        );
    }

    #[test]
    fn unreadable_energy_is_a_note_and_an_error() {
        let dir = testutil::broken_copy(DELL);
        testutil::write(
            dir.path(),
            "/sys/class/powercap/intel-rapl:1/energy_uj",
            b"garbage\n",
        );
        let mut meter = PowerMeter::start(&SysRoot::new(dir.path()));
        let (power, errors) = meter.read();
        assert_eq!(power.source, PowerSource::Measured);
        let domains: Vec<&str> = power.readings.iter().map(|r| r.domain.as_str()).collect();
        assert_eq!(domains, vec!["package-0", "dram-0", "dram-1"]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].collector, "power");
        assert!(
            errors[0]
                .message
                .starts_with("/sys/class/powercap/intel-rapl:1/energy_uj: not a number"),
            "{errors:?}"
        );
    }

    /// On the live host (no RAPL, no GPU on the build machine) the meter says why.
    #[test]
    fn live_meter_never_panics_and_explains_itself() {
        let mut meter = PowerMeter::start(&SysRoot::default());
        let (power, _) = meter.read();
        if power.source == PowerSource::None {
            assert!(!power.notes.is_empty());
        }
        if nvml::gpus().is_err() {
            assert!(
                power
                    .notes
                    .iter()
                    .any(|n| n.starts_with("NVML not loaded: ")),
                "{:?}",
                power.notes
            );
        }
    }
}
