//! What the estimate needs to know about one host, built from a protocol [`Report`] (and
//! the stored inventory when the latest report carries none).
//!
//! This module owns the translation from the wire format; it keeps every value the
//! agent sent as sent (no defaults: a missing value stays `None` and the estimate takes
//! the archetype's and says so).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::{
    Chassis, DiskKind, Inventory, PowerMeter, PowerSource, Report, Summary, Utilisation,
    VirtualizationKind,
};
use serde::{Deserialize, Serialize};

/// Bytes per GiB.
pub const BYTES_PER_GIB: f64 = 1_073_741_824.0;
/// Bytes per TB (storage is counted in decimal terabytes, as drives are sold).
pub const BYTES_PER_TB: f64 = 1e12;

/// How the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// Bare metal (or not known to be virtual).
    Physical,
    /// A virtual machine.
    Vm,
    /// A container: its power is its host's, so it is not estimated on its own.
    Container,
}

/// Cloud readiness of a host, as the caller knows it (the check engine's
/// `cloud-readiness` profile), and as a scenario result reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// Can move as it is.
    Ready,
    /// Can move after named changes.
    ConditionallyReady,
    /// Cannot move.
    NotReady,
    /// Not assessed.
    #[default]
    Unknown,
}

impl Readiness {
    /// Severity used to combine readiness: the most severe wins.
    pub fn severity(self) -> u8 {
        match self {
            Readiness::Ready => 0,
            Readiness::Unknown => 1,
            Readiness::ConditionallyReady => 2,
            Readiness::NotReady => 3,
        }
    }

    /// The more severe of two.
    pub fn worst(self, other: Readiness) -> Readiness {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// The processor as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuInput {
    /// Brand string, e.g. `Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz`.
    pub model: String,
    /// Populated sockets.
    pub sockets: u32,
    /// Physical cores, all sockets.
    pub physical_cores: u32,
    /// Logical CPUs (vCPUs for a VM).
    pub logical_cpus: u32,
}

/// Storage media as the power model distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    /// Spinning disk.
    Hdd,
    /// SATA/SAS SSD or NVMe.
    Ssd,
    /// Virtual or unknown media.
    Unknown,
}

/// One disk.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DiskInput {
    /// Media.
    pub media: Media,
    /// Capacity, bytes.
    pub size_bytes: u64,
}

/// One GPU or display device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuInput {
    /// PCI vendor id (hex).
    pub vendor_id: String,
    /// Model name, where known.
    pub model: Option<String>,
    /// Utilisation 0-1, where known.
    pub utilisation_ratio: Option<f64>,
}

/// The distribution of one utilisation metric over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile of the samples.
    pub p95: f64,
    /// Maximum.
    pub max: f64,
    /// 10-minute peaks, when the agent sent them.
    pub peaks_10m: Vec<f64>,
}

impl Distribution {
    fn from_summary(s: &Summary) -> Self {
        Distribution {
            mean: s.mean,
            p50: s.p50,
            p95: s.p95,
            max: s.max,
            peaks_10m: s.peaks_10m.clone(),
        }
    }

    /// The value at `percentile` (0-100]: the nearest-rank percentile of the 10-minute
    /// peaks when there are any, else from the summary (p50 up to 50, p95 up to 95,
    /// else the maximum), clamped to 0-1. `None` when nothing finite is known.
    pub fn at(&self, percentile: f64) -> Option<f64> {
        let v = if self.peaks_10m.iter().any(|p| p.is_finite()) {
            let mut peaks: Vec<f64> = self
                .peaks_10m
                .iter()
                .copied()
                .filter(|p| p.is_finite())
                .collect();
            peaks.sort_by(f64::total_cmp);
            let n = peaks.len();
            // Nearest rank, with a little slack so that 95 % of 20 is rank 19 exactly.
            let rank = ((percentile / 100.0) * n as f64 - 1e-9).ceil().max(1.0) as usize;
            peaks.get(rank.min(n) - 1).copied()?
        } else if percentile <= 50.0 {
            self.p50
        } else if percentile <= 95.0 {
            self.p95
        } else {
            self.max
        };
        v.is_finite().then(|| v.clamp(0.0, 1.0))
    }
}

/// Utilisation over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UtilisationInput {
    /// Samples taken.
    pub samples_taken: u64,
    /// Samples expected at the configured interval.
    pub samples_expected: u64,
    /// CPU busy ratio.
    pub cpu: Option<Distribution>,
    /// Memory used ratio.
    pub memory: Option<Distribution>,
}

impl UtilisationInput {
    /// From one report's utilisation.
    pub fn from_report(u: &Utilisation) -> Self {
        UtilisationInput {
            samples_taken: u64::from(u.samples_taken),
            samples_expected: u64::from(u.samples_expected),
            cpu: u.cpu_busy_ratio.as_ref().map(Distribution::from_summary),
            memory: u.memory_used_ratio.as_ref().map(Distribution::from_summary),
        }
    }

    /// Combines several windows (e.g. a month of reports): samples add up, means are
    /// weighted by samples taken, 10-minute peaks are pooled, and p50/p95/max are the
    /// largest of the windows' (a conservative bound when no peaks were sent).
    pub fn combine<'a>(windows: impl IntoIterator<Item = &'a Utilisation>) -> Self {
        fn merge(acc: &mut Option<(Distribution, f64)>, s: &Summary, weight: f64) {
            let (d, w) = acc.get_or_insert_with(|| (Distribution::default(), 0.0));
            let total = *w + weight;
            if total > 0.0 {
                d.mean = (d.mean * *w + s.mean * weight) / total;
            }
            d.p50 = d.p50.max(s.p50);
            d.p95 = d.p95.max(s.p95);
            d.max = d.max.max(s.max);
            d.peaks_10m.extend_from_slice(&s.peaks_10m);
            *w = total;
        }
        let mut out = UtilisationInput::default();
        let mut cpu = None;
        let mut memory = None;
        for u in windows {
            out.samples_taken += u64::from(u.samples_taken);
            out.samples_expected += u64::from(u.samples_expected);
            let w = f64::from(u.samples_taken);
            if let Some(s) = &u.cpu_busy_ratio {
                merge(&mut cpu, s, w);
            }
            if let Some(s) = &u.memory_used_ratio {
                merge(&mut memory, s, w);
            }
        }
        out.cpu = cpu.map(|(d, _)| d);
        out.memory = memory.map(|(d, _)| d);
        out
    }

    /// Samples taken over samples expected, 0-1.
    pub fn coverage_ratio(&self) -> f64 {
        if self.samples_expected == 0 {
            0.0
        } else {
            (self.samples_taken as f64 / self.samples_expected as f64).clamp(0.0, 1.0)
        }
    }
}

/// Power measured over the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MeasuredPower {
    /// RAPL `psys` (whole platform, client CPUs), watts.
    pub psys_watts: Option<f64>,
    /// Sum of RAPL `package-*`, watts (`None` when no package domain was read).
    pub package_watts: Option<f64>,
    /// Sum of RAPL `dram*`, watts.
    pub dram_watts: f64,
    /// Sum of NVML GPU power, watts (`None` when NVML read nothing).
    pub gpu_watts: Option<f64>,
}

impl MeasuredPower {
    /// The measured power without overlaps, before any overhead, watts: `psys` when
    /// read (it covers the platform), else the packages and DRAM; plus the GPUs. `None`
    /// when no CPU or GPU domain was read.
    pub fn total_watts(&self) -> Option<f64> {
        let cpu = self
            .psys_watts
            .or_else(|| self.package_watts.map(|p| p + self.dram_watts));
        match (cpu, self.gpu_watts) {
            (None, None) => None,
            (c, g) => Some(c.unwrap_or(0.0) + g.unwrap_or(0.0)),
        }
    }
}

/// Seconds of `[from, to)` covered by at least one of `windows` (start, end), counting
/// overlapping windows once. Windows are clipped to the range; empty or reversed ones
/// count nothing.
pub fn covered_seconds(
    windows: impl IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> f64 {
    let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = windows
        .into_iter()
        .map(|(s, e)| (s.max(from), e.min(to)))
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort();
    let mut covered = chrono::Duration::zero();
    let mut current: Option<(DateTime<Utc>, DateTime<Utc>)> = None;
    for (s, e) in spans {
        match &mut current {
            Some((_, ce)) if s <= *ce => *ce = (*ce).max(e),
            _ => {
                if let Some((cs, ce)) = current {
                    covered += ce - cs;
                }
                current = Some((s, e));
            }
        }
    }
    if let Some((cs, ce)) = current {
        covered += ce - cs;
    }
    covered.num_milliseconds() as f64 / 1000.0
}

impl UtilisationInput {
    /// Restates the samples over a longer assessment window: at the sampling rate of
    /// this report (`samples_expected` over `report_secs`), the samples expected over
    /// `window_secs`, and as taken the samples of `covered_secs` (the part of the window
    /// that reports with utilisation cover, [`covered_seconds`]). The coverage ratio —
    /// and so the confidence stars — then says how much of the window the data covers,
    /// not only how complete the last report was.
    pub fn over_window(mut self, covered_secs: f64, window_secs: f64, report_secs: f64) -> Self {
        let rate = if report_secs > 0.0 && self.samples_expected > 0 {
            self.samples_expected as f64 / report_secs
        } else {
            // No rate known: one sample a second, which leaves the ratio unchanged.
            1.0
        };
        let window = window_secs.max(0.0);
        let expected = (rate * window).round().max(1.0);
        let taken = (rate * covered_secs.clamp(0.0, window))
            .round()
            .min(expected);
        self.samples_expected = expected as u64;
        self.samples_taken = taken as u64;
        self
    }
}

/// Everything the estimate needs about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostInput {
    /// The host's identity.
    pub host_id: String,
    /// The site (from the `site` label), for the site's PUE and supplier factor.
    pub site: Option<String>,
    /// Labels, for scenario selectors.
    pub labels: BTreeMap<String, String>,
    /// Physical, VM or container.
    pub kind: HostKind,
    /// Chassis class.
    pub chassis: Chassis,
    /// Processor, when reported.
    pub cpu: Option<CpuInput>,
    /// Memory, GiB, when reported.
    pub memory_gib: Option<f64>,
    /// Disks (`None` when the disk collector did not report).
    pub disks: Option<Vec<DiskInput>>,
    /// GPUs and display devices.
    pub gpus: Vec<GpuInput>,
    /// Utilisation, when the sampler ran.
    pub utilisation: Option<UtilisationInput>,
    /// Measured power, when anything was measured.
    pub measured: Option<MeasuredPower>,
    /// Readiness from the caller (the check engine); unknown by default.
    pub readiness: Readiness,
}

impl HostInput {
    /// Builds the input from a report, taking the inventory from `stored` when the
    /// report carries none (the agent sends it only when it changed).
    pub fn from_report(report: &Report, stored: Option<&Inventory>) -> HostInput {
        let inventory = report.inventory.as_ref().or(stored);
        let hardware = inventory.and_then(|i| i.hardware.as_ref());
        let cpu = inventory.and_then(|i| i.cpu.as_ref());
        let kind = match hardware.map(|h| h.virtualization.kind) {
            Some(VirtualizationKind::Physical) => HostKind::Physical,
            Some(VirtualizationKind::Vm) => HostKind::Vm,
            Some(VirtualizationKind::Container) => HostKind::Container,
            Some(VirtualizationKind::Unknown) | None => {
                let virtual_chassis = hardware.is_some_and(|h| h.chassis == Chassis::Virtual);
                let hypervisor_flag =
                    cpu.is_some_and(|c| c.flags.iter().any(|f| f == "hypervisor"));
                if virtual_chassis || hypervisor_flag {
                    HostKind::Vm
                } else {
                    HostKind::Physical
                }
            }
        };
        let chassis = hardware.map_or(Chassis::Unknown, |h| h.chassis);
        let disks = inventory.and_then(|i| i.disks.as_ref()).map(|disks| {
            disks
                .iter()
                .filter(|d| !d.removable)
                .map(|d| DiskInput {
                    media: match d.kind {
                        DiskKind::Hdd => Media::Hdd,
                        DiskKind::Ssd | DiskKind::Nvme => Media::Ssd,
                        DiskKind::Virtual | DiskKind::Unknown => Media::Unknown,
                    },
                    size_bytes: d.size_bytes,
                })
                .collect()
        });
        let gpus = inventory
            .and_then(|i| i.gpus.as_ref())
            .map(|gpus| {
                gpus.iter()
                    .map(|g| GpuInput {
                        vendor_id: g.vendor_id.clone(),
                        model: g.model.clone(),
                        utilisation_ratio: g.utilisation_ratio,
                    })
                    .collect()
            })
            .unwrap_or_default();
        HostInput {
            host_id: report.host_id.clone(),
            site: report.labels.get("site").cloned(),
            labels: report.labels.clone(),
            kind,
            chassis,
            cpu: cpu.map(|c| CpuInput {
                model: c.model.clone(),
                sockets: c.sockets,
                physical_cores: c.physical_cores,
                logical_cpus: c.logical_cpus,
            }),
            memory_gib: inventory
                .and_then(|i| i.memory.as_ref())
                .map(|m| m.total_bytes as f64 / BYTES_PER_GIB),
            disks,
            gpus,
            utilisation: report
                .utilisation
                .as_ref()
                .map(UtilisationInput::from_report),
            measured: measured(report),
            readiness: Readiness::Unknown,
        }
    }
}

/// The readings that add up to the host's power without counting anything twice: RAPL
/// `psys` when read (it covers the platform), else the `package-*` and `dram*` domains
/// (`core` and `uncore` are parts of their package); plus every NVML GPU.
pub fn non_overlapping(
    readings: &[estate_protocol::PowerReading],
) -> impl Iterator<Item = &estate_protocol::PowerReading> {
    let psys = readings
        .iter()
        .any(|r| r.meter == PowerMeter::Rapl && r.domain.starts_with("psys"));
    readings.iter().filter(move |r| match r.meter {
        PowerMeter::Rapl if psys => r.domain.starts_with("psys"),
        PowerMeter::Rapl => r.domain.starts_with("package") || r.domain.starts_with("dram"),
        PowerMeter::Nvml => true,
    })
}

fn measured(report: &Report) -> Option<MeasuredPower> {
    if report.power.source != PowerSource::Measured {
        return None;
    }
    let mut m = MeasuredPower::default();
    let mut any = false;
    for r in &report.power.readings {
        let w = if r.average_watts.is_finite() {
            r.average_watts.max(0.0)
        } else {
            continue;
        };
        match r.meter {
            PowerMeter::Rapl if r.domain.starts_with("psys") => {
                *m.psys_watts.get_or_insert(0.0) += w;
                any = true;
            }
            PowerMeter::Rapl if r.domain.starts_with("package") => {
                *m.package_watts.get_or_insert(0.0) += w;
                any = true;
            }
            PowerMeter::Rapl if r.domain.starts_with("dram") => m.dram_watts += w,
            PowerMeter::Rapl => {} // core and uncore are parts of their package
            PowerMeter::Nvml => {
                *m.gpu_watts.get_or_insert(0.0) += w;
                any = true;
            }
        }
    }
    any.then_some(m)
}
