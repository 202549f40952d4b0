//! What a simulated host does over one report window: utilisation samples summarised
//! exactly as the agent's sampler summarises real ones ([`sampler::summarise_samples`]),
//! power readings for hosts with a meter, and the results of its service probes.
//!
//! A window's samples are a pure function of (seed, host, report sequence number, window
//! length): the same seed gives the same series. This module must not do I/O or read
//! the clock.

use chrono::{DateTime, Duration, Utc};
use estate_protocol::{
    Power, PowerMeter, PowerReading, PowerSource, ProbeKind, ProbeResult, TlsCertificate,
    Utilisation,
};

use super::profile::{HostProfile, Platform};
use super::rng::{Rng, Stream};
use crate::sampler::{self, Sample};

/// Seconds between the agent's utilisation samples (its default `sample_interval_secs`).
pub const SAMPLE_INTERVAL_SECS: f64 = 10.0;
/// Most samples kept for one window (the agent's ring buffer holds two report intervals;
/// a longer window has gaps, as after an agent stall).
pub const MAX_SAMPLES: usize = 720;

/// The utilisation of report `sequence` of a host, over a window of `window_secs`.
pub fn utilisation(
    seed: u64,
    profile: &HostProfile,
    sequence: u64,
    window_secs: f64,
) -> Option<Utilisation> {
    let window_secs = window_secs.max(SAMPLE_INTERVAL_SECS);
    let n = ((window_secs / SAMPLE_INTERVAL_SECS).round() as usize).clamp(1, MAX_SAMPLES);
    let mut rng = Rng::keyed(seed, profile.index, Stream::Utilisation, sequence);
    let load = profile.load;
    // The window's own level drifts around the host's typical load.
    let level = (load.cpu_base * (0.35 * rng.normalish()).exp()).min(load.cpu_peak);
    let memory = (load.memory_base + 0.03 * rng.normalish()).clamp(0.02, 0.99);
    let disk = load.disk_bytes_per_second * (0.5 * rng.normalish()).exp();
    let net = load.network_bytes_per_second * (0.5 * rng.normalish()).exp();
    // The window's samples end at its end: the last n intervals of SAMPLE_INTERVAL_SECS.
    let first_offset = window_secs - (n as f64 - 1.0) * SAMPLE_INTERVAL_SECS;
    let samples: Vec<Sample> = (0..n)
        .map(|j| {
            let mut cpu = level * (1.0 + 0.3 * rng.normalish());
            if rng.chance(load.spike_chance) {
                cpu = rng.range_f64(level, load.cpu_peak.max(level));
            }
            let cpu = cpu.clamp(0.001, load.cpu_peak.max(0.001));
            let read = disk * 0.6 * (0.6 * rng.normalish()).exp();
            let write = disk * 0.4 * (0.6 * rng.normalish()).exp();
            let rx = net * 0.6 * (0.6 * rng.normalish()).exp();
            let tx = net * 0.4 * (0.6 * rng.normalish()).exp();
            Sample {
                offset_secs: first_offset + j as f64 * SAMPLE_INTERVAL_SECS,
                cpu_busy_ratio: Some(cpu),
                memory_used_ratio: Some((memory + 0.005 * rng.normalish()).clamp(0.0, 1.0)),
                disk_read_bytes_per_second: Some(read.round()),
                disk_write_bytes_per_second: Some(write.round()),
                network_receive_bytes_per_second: Some(rx.round()),
                network_transmit_bytes_per_second: Some(tx.round()),
            }
        })
        .collect();
    sampler::summarise_samples(&samples, window_secs, SAMPLE_INTERVAL_SECS)
}

/// Power over the window: RAPL readings (one package and one DRAM domain per socket)
/// for hosts with a meter, consistent with their CPU utilisation; otherwise `none` with
/// the note the agent gives on such a host.
pub fn power(
    seed: u64,
    profile: &HostProfile,
    sequence: u64,
    window_secs: f64,
    utilisation: Option<&Utilisation>,
) -> Power {
    if !profile.traits.power_measured {
        let notes = if profile.is_windows() {
            vec![
                "RAPL: not supported on this platform".to_owned(),
                "NVML not loaded: nvml.dll: the NVIDIA driver is not installed".to_owned(),
            ]
        } else if matches!(profile.platform, Platform::Virtual { .. }) {
            vec![
                "no /sys/class/powercap: RAPL not exposed (VM or unsupported CPU)".to_owned(),
                "NVML not loaded: libnvidia-ml.so.1: cannot open shared object file".to_owned(),
            ]
        } else {
            vec![
                "RAPL not read: /sys/class/powercap/intel-rapl:0/energy_uj: permission denied (root only)"
                    .to_owned(),
            ]
        };
        return Power::none(notes);
    }
    let mut rng = Rng::keyed(
        seed,
        profile.index,
        Stream::Utilisation,
        sequence ^ (1 << 62),
    );
    let cpu = utilisation
        .and_then(|u| u.cpu_busy_ratio.as_ref())
        .map_or(profile.load.cpu_base, |s| s.mean);
    let window_secs = window_secs.max(1.0);
    let memory_per_socket = profile.memory_gib as f64 / f64::from(profile.sockets.max(1));
    let mut readings = Vec::new();
    for socket in 0..profile.sockets {
        // Package power: about a quarter of TDP at idle, rising with load (the shape of
        // SPECpower curves).
        let package = profile.cpu.tdp_watts * (0.22 + 0.6 * cpu) * (1.0 + 0.03 * rng.normalish());
        let dram = (2.0 + 0.04 * memory_per_socket) * (1.0 + 0.05 * rng.normalish());
        for (domain, watts) in [("package", package), ("dram", dram)] {
            let watts = (watts.max(0.5) * 10.0).round() / 10.0;
            readings.push(PowerReading {
                meter: PowerMeter::Rapl,
                domain: format!("{domain}-{socket}"),
                average_watts: watts,
                energy_joules: (watts * window_secs).round(),
                interval_secs: window_secs,
            });
        }
    }
    Power {
        source: PowerSource::Measured,
        readings,
        notes: vec![
            "NVML not loaded: libnvidia-ml.so.1: cannot open shared object file".to_owned(),
        ],
    }
}

/// The host's service probes at `checked_at`: an HTTPS check of its own front end,
/// with a certificate that a neglected host lets run close to expiry.
pub fn probes(
    seed: u64,
    profile: &HostProfile,
    anchor: DateTime<Utc>,
    sequence: u64,
    checked_at: DateTime<Utc>,
) -> Vec<ProbeResult> {
    if !profile.traits.probe {
        return Vec::new();
    }
    let mut stable = Rng::keyed(seed, profile.index, Stream::Inventory, 95);
    let mut volatile = Rng::keyed(
        seed,
        profile.index,
        Stream::Utilisation,
        sequence ^ (1 << 61),
    );
    let days_left = if profile.traits.neglected {
        stable.range_u64(0, 20) as i64
    } else {
        stable.range_u64(40, 380) as i64
    };
    let not_after = anchor + Duration::days(days_left);
    let not_before = not_after - Duration::days(397);
    let host = profile.hostname.to_ascii_lowercase();
    let up = volatile.chance(0.995);
    vec![ProbeResult {
        name: format!("{}-https", profile.role),
        kind: ProbeKind::Http,
        target: format!("https://{host}.council.local/"),
        checked_at,
        up,
        status: up.then_some(200),
        latency_ms: up.then(|| (volatile.range_f64(4.0, 60.0) * 10.0).round() / 10.0),
        tls: Some(TlsCertificate {
            subject: format!("CN={host}.council.local"),
            issuer: "CN=Council Issuing CA 01, DC=council, DC=local".to_owned(),
            not_before,
            not_after,
        }),
        error: (!up).then(|| "connection timed out after 10 s".to_owned()),
    }]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::simulate::profile::{Mix, profile};

    #[test]
    fn summaries_are_consistent_and_idle_hosts_stay_idle() {
        let mut idle_seen = 0;
        for i in 0..1_000 {
            let p = profile(21, i, &Mix::COUNCIL);
            let u = utilisation(21, &p, 3, 300.0).unwrap();
            assert_eq!(u.samples_expected, 30);
            assert_eq!(u.samples_taken, 30);
            for s in [
                u.cpu_busy_ratio.as_ref().unwrap(),
                u.memory_used_ratio.as_ref().unwrap(),
            ] {
                assert!(s.p50 <= s.p95 && s.p95 <= s.max && s.mean <= s.max, "{s:?}");
                assert!(s.max <= 1.0 && s.p50 >= 0.0);
                assert_eq!(s.peaks_10m.len(), 1);
            }
            if p.traits.idle {
                idle_seen += 1;
                assert!(
                    u.cpu_busy_ratio.as_ref().unwrap().p95 < 0.05,
                    "{}",
                    p.hostname
                );
            }
        }
        assert!(idle_seen > 50, "{idle_seen}");
    }

    #[test]
    fn the_same_seed_gives_the_same_series() {
        let p = profile(8, 77, &Mix::COUNCIL);
        assert_eq!(utilisation(8, &p, 5, 300.0), utilisation(8, &p, 5, 300.0));
        assert_ne!(utilisation(8, &p, 5, 300.0), utilisation(8, &p, 6, 300.0));
        let q = profile(9, 77, &Mix::COUNCIL);
        assert_ne!(utilisation(8, &p, 5, 300.0), utilisation(9, &q, 5, 300.0));
    }

    #[test]
    fn long_windows_are_capped_like_the_agents_buffer() {
        let p = profile(1, 1, &Mix::COUNCIL);
        let u = utilisation(1, &p, 1, 3.0 * 3600.0).unwrap();
        assert_eq!(u.samples_expected, 1080);
        assert_eq!(u.samples_taken, MAX_SAMPLES as u32);
        assert_eq!(u.cpu_busy_ratio.unwrap().peaks_10m.len(), 12);
    }

    #[test]
    fn measured_power_follows_sockets_and_window() {
        let measured = (0..20_000)
            .map(|i| profile(2, i, &Mix::COUNCIL))
            .find(|p| p.traits.power_measured && p.sockets == 2)
            .unwrap();
        let u = utilisation(2, &measured, 1, 300.0);
        let power = power(2, &measured, 1, 300.0, u.as_ref());
        assert_eq!(power.source, PowerSource::Measured);
        assert_eq!(power.readings.len(), 4);
        for r in &power.readings {
            assert!(r.average_watts > 0.0);
            assert!((r.energy_joules - r.average_watts * 300.0).abs() <= 0.5);
            assert_eq!(r.interval_secs, 300.0);
        }
        let vm = (0..20_000)
            .map(|i| profile(2, i, &Mix::COUNCIL))
            .find(|p| p.is_virtual())
            .unwrap();
        let none = super::power(2, &vm, 1, 300.0, None);
        assert_eq!(none.source, PowerSource::None);
        assert!(!none.notes.is_empty());
    }
}
