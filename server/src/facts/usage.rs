//! `facts.utilisation` (the latest window and the stored series) and `facts.power`.

use chrono::{DateTime, Utc};
use estate_protocol::{Memory, Power, PowerMeter, PowerSource, Summary, Utilisation, Window};
use serde::Serialize;

use super::{percentile, ratio};
use crate::store::SeriesPoint;

/// Utilisation: `*_window` facts summarise the latest report's window; `*_series` facts
/// summarise the stored series the caller passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UtilisationFacts {
    /// Start of the latest report's window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_start: Option<DateTime<Utc>>,
    /// End of the latest report's window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_end: Option<DateTime<Utc>>,
    /// Length of the latest window, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<f64>,
    /// Seconds between samples.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_interval_seconds: Option<f64>,
    /// Samples taken in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_taken: Option<u32>,
    /// Samples the window should have had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_expected: Option<u32>,
    /// `samples_taken / samples_expected` (capped at 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub samples_coverage_ratio: Option<f64>,
    /// Mean CPU busy ratio over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_mean_ratio_window: Option<f64>,
    /// 95th percentile CPU busy ratio over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_p95_ratio_window: Option<f64>,
    /// Highest CPU busy ratio in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_max_ratio_window: Option<f64>,
    /// Mean memory used ratio over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mean_ratio_window: Option<f64>,
    /// 95th percentile memory used ratio over the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_p95_ratio_window: Option<f64>,
    /// Highest memory used ratio in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max_ratio_window: Option<f64>,
    /// Mean disk reads over the window, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read_mean_bytes_per_second_window: Option<f64>,
    /// 95th percentile disk reads, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_read_p95_bytes_per_second_window: Option<f64>,
    /// Mean disk writes, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write_mean_bytes_per_second_window: Option<f64>,
    /// 95th percentile disk writes, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_write_p95_bytes_per_second_window: Option<f64>,
    /// Mean network receive, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_receive_mean_bytes_per_second_window: Option<f64>,
    /// 95th percentile network receive, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_receive_p95_bytes_per_second_window: Option<f64>,
    /// Mean network transmit, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_transmit_mean_bytes_per_second_window: Option<f64>,
    /// 95th percentile network transmit, bytes per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_transmit_p95_bytes_per_second_window: Option<f64>,
    /// Used swap as a ratio of swap size, at inventory collection; absent without swap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_used_ratio: Option<f64>,
    /// Number of series points passed in.
    pub series_points: usize,
    /// Start of the oldest series window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_start: Option<DateTime<Utc>>,
    /// End of the newest series window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_end: Option<DateTime<Utc>>,
    /// Seconds from `series_start` to `series_end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_span_seconds: Option<f64>,
    /// Time covered by the windows, as a ratio of the span (gaps lower it; capped at 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_coverage_ratio: Option<f64>,
    /// Time-weighted mean of the windows' mean CPU busy ratios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_mean_ratio_series: Option<f64>,
    /// 95th percentile (nearest rank) of the windows' p95 CPU busy ratios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_p95_ratio_series: Option<f64>,
    /// Highest window p95 CPU busy ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_max_p95_ratio_series: Option<f64>,
    /// Time-weighted mean of the windows' mean memory used ratios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mean_ratio_series: Option<f64>,
    /// 95th percentile (nearest rank) of the windows' p95 memory used ratios.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_p95_ratio_series: Option<f64>,
    /// Highest window p95 memory used ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max_p95_ratio_series: Option<f64>,
}

/// Measured power over the latest report's window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerFacts {
    /// `measured`, `none` (nothing could be measured) or `unknown` (no report).
    pub source: &'static str,
    /// CPU + DRAM + GPU power (the non-overlapping domains), watts; `psys` alone when
    /// only the platform domain was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watts: Option<f64>,
    /// Sum of the RAPL `package-*` domains, watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_watts: Option<f64>,
    /// Sum of the RAPL `dram*` domains, watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dram_watts: Option<f64>,
    /// Sum of the NVML GPU domains, watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_watts: Option<f64>,
    /// RAPL `psys` (whole platform, client CPUs), watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_watts: Option<f64>,
    /// Energy of the domains counted in `watts`, joules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub energy_joules: Option<f64>,
    /// Every reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readings: Option<Vec<PowerReadingFact>>,
    /// Why a meter was not available, and how readings were taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<String>>,
    /// Series points with measured power.
    pub measured_points_series: usize,
    /// Mean of the series' measured power (the store's sum of all readings), watts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_watts_series: Option<f64>,
}

/// One power reading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerReadingFact {
    /// `rapl` or `nvml`.
    pub meter: &'static str,
    /// Domain (`package-0`, `dram-0`, `psys`, `gpu-0`, ...).
    pub domain: String,
    /// Average power, watts.
    pub watts: f64,
    /// Energy, joules.
    pub energy_joules: f64,
    /// Length of the measured interval, seconds.
    pub interval_seconds: f64,
}

fn pick(summary: Option<&Summary>, f: fn(&Summary) -> f64) -> Option<f64> {
    summary.map(f)
}

/// Time-weighted mean of `value` over the points that have it (equal weights when no
/// window has a length).
fn weighted_mean(points: &[SeriesPoint], value: fn(&SeriesPoint) -> Option<f64>) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = points
        .iter()
        .filter_map(|p| {
            let v = value(p).filter(|v| v.is_finite())?;
            let secs = (p.window_end - p.window_start).num_milliseconds() as f64 / 1000.0;
            Some((v, secs.max(0.0)))
        })
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let total: f64 = pairs.iter().map(|(_, w)| w).sum();
    if total > 0.0 {
        Some(pairs.iter().map(|(v, w)| v * w).sum::<f64>() / total)
    } else {
        Some(pairs.iter().map(|(v, _)| v).sum::<f64>() / pairs.len() as f64)
    }
}

fn values(points: &[SeriesPoint], value: fn(&SeriesPoint) -> Option<f64>) -> Vec<f64> {
    points.iter().filter_map(value).collect()
}

fn max(values: &[f64]) -> Option<f64> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .reduce(f64::max)
}

pub(super) fn utilisation(
    u: Option<&Utilisation>,
    window: Option<Window>,
    memory: Option<&Memory>,
    series: &[SeriesPoint],
) -> UtilisationFacts {
    let window = u.and(window);
    let cpu = u.and_then(|u| u.cpu_busy_ratio.as_ref());
    let mem = u.and_then(|u| u.memory_used_ratio.as_ref());
    let read = u.and_then(|u| u.disk_read_bytes_per_second.as_ref());
    let write = u.and_then(|u| u.disk_write_bytes_per_second.as_ref());
    let rx = u.and_then(|u| u.network_receive_bytes_per_second.as_ref());
    let tx = u.and_then(|u| u.network_transmit_bytes_per_second.as_ref());

    let start = series.iter().map(|p| p.window_start).min();
    let end = series.iter().map(|p| p.window_end).max();
    let span = start
        .zip(end)
        .map(|(s, e)| (e - s).num_milliseconds() as f64 / 1000.0);
    let covered: f64 = series
        .iter()
        .map(|p| ((p.window_end - p.window_start).num_milliseconds() as f64 / 1000.0).max(0.0))
        .sum();
    let cpu_p95s = values(series, |p| p.cpu_p95_ratio);
    let mem_p95s = values(series, |p| p.memory_p95_ratio);

    UtilisationFacts {
        window_start: window.map(|w| w.start),
        window_end: window.map(|w| w.end),
        window_seconds: window.map(|w| (w.end - w.start).num_milliseconds() as f64 / 1000.0),
        sample_interval_seconds: u.map(|u| u.sample_interval_secs),
        samples_taken: u.map(|u| u.samples_taken),
        samples_expected: u.map(|u| u.samples_expected),
        samples_coverage_ratio: u
            .and_then(|u| ratio(u64::from(u.samples_taken), u64::from(u.samples_expected)))
            .map(|r| r.min(1.0)),
        cpu_mean_ratio_window: pick(cpu, |s| s.mean),
        cpu_p95_ratio_window: pick(cpu, |s| s.p95),
        cpu_max_ratio_window: pick(cpu, |s| s.max),
        memory_mean_ratio_window: pick(mem, |s| s.mean),
        memory_p95_ratio_window: pick(mem, |s| s.p95),
        memory_max_ratio_window: pick(mem, |s| s.max),
        disk_read_mean_bytes_per_second_window: pick(read, |s| s.mean),
        disk_read_p95_bytes_per_second_window: pick(read, |s| s.p95),
        disk_write_mean_bytes_per_second_window: pick(write, |s| s.mean),
        disk_write_p95_bytes_per_second_window: pick(write, |s| s.p95),
        network_receive_mean_bytes_per_second_window: pick(rx, |s| s.mean),
        network_receive_p95_bytes_per_second_window: pick(rx, |s| s.p95),
        network_transmit_mean_bytes_per_second_window: pick(tx, |s| s.mean),
        network_transmit_p95_bytes_per_second_window: pick(tx, |s| s.p95),
        swap_used_ratio: memory.and_then(|m| {
            ratio(
                m.swap_total_bytes.saturating_sub(m.swap_free_bytes),
                m.swap_total_bytes,
            )
        }),
        series_points: series.len(),
        series_start: start,
        series_end: end,
        series_span_seconds: span,
        series_coverage_ratio: span.filter(|s| *s > 0.0).map(|s| (covered / s).min(1.0)),
        cpu_mean_ratio_series: weighted_mean(series, |p| p.cpu_mean_ratio),
        cpu_p95_ratio_series: percentile(&cpu_p95s, 95.0),
        cpu_max_p95_ratio_series: max(&cpu_p95s),
        memory_mean_ratio_series: weighted_mean(series, |p| p.memory_mean_ratio),
        memory_p95_ratio_series: percentile(&mem_p95s, 95.0),
        memory_max_p95_ratio_series: max(&mem_p95s),
    }
}

pub(super) fn power(power: Option<&Power>, series: &[SeriesPoint]) -> PowerFacts {
    let measured: Vec<f64> = series
        .iter()
        .filter(|p| p.power_source == "measured")
        .filter_map(|p| p.power_watts)
        .filter(|w| w.is_finite())
        .collect();
    let mean_series =
        (!measured.is_empty()).then(|| measured.iter().sum::<f64>() / measured.len() as f64);
    let Some(power) = power else {
        return PowerFacts {
            source: "unknown",
            watts: None,
            cpu_watts: None,
            dram_watts: None,
            gpu_watts: None,
            platform_watts: None,
            energy_joules: None,
            readings: None,
            notes: None,
            measured_points_series: measured.len(),
            mean_watts_series: mean_series,
        };
    };
    let sum = |keep: &dyn Fn(&estate_protocol::PowerReading) -> bool| -> Option<(f64, f64)> {
        let chosen: Vec<_> = power.readings.iter().filter(|r| keep(r)).collect();
        (!chosen.is_empty()).then(|| {
            (
                chosen.iter().map(|r| r.average_watts).sum(),
                chosen.iter().map(|r| r.energy_joules).sum(),
            )
        })
    };
    let rapl = |r: &estate_protocol::PowerReading, prefix: &str| {
        r.meter == PowerMeter::Rapl && r.domain.starts_with(prefix)
    };
    let cpu = sum(&|r| rapl(r, "package"));
    let dram = sum(&|r| rapl(r, "dram"));
    let gpu = sum(&|r| r.meter == PowerMeter::Nvml);
    let psys = sum(&|r| rapl(r, "psys"));
    let parts: Vec<(f64, f64)> = [cpu, dram, gpu].into_iter().flatten().collect();
    let total = if parts.is_empty() {
        psys
    } else {
        Some((
            parts.iter().map(|p| p.0).sum(),
            parts.iter().map(|p| p.1).sum(),
        ))
    };
    PowerFacts {
        source: match power.source {
            PowerSource::Measured => "measured",
            PowerSource::None => "none",
        },
        watts: total.map(|t| t.0),
        cpu_watts: cpu.map(|t| t.0),
        dram_watts: dram.map(|t| t.0),
        gpu_watts: gpu.map(|t| t.0),
        platform_watts: psys.map(|t| t.0),
        energy_joules: total.map(|t| t.1),
        readings: Some(
            power
                .readings
                .iter()
                .map(|r| PowerReadingFact {
                    meter: match r.meter {
                        PowerMeter::Rapl => "rapl",
                        PowerMeter::Nvml => "nvml",
                    },
                    domain: r.domain.clone(),
                    watts: r.average_watts,
                    energy_joules: r.energy_joules,
                    interval_seconds: r.interval_secs,
                })
                .collect(),
        ),
        notes: Some(power.notes.clone()),
        measured_points_series: measured.len(),
        mean_watts_series: mean_series,
    }
}
