//! Carbon estimation throughput: 100,000 hosts (a council-like mix of VMs and physical
//! servers, with varied CPUs, sizes and utilisation) against four scenarios (AWS, Azure
//! and GCP London, and retirement), then the estate summary. Prints the figures.
//!
//! Run: `cargo run --release -p estate-server --example carbon_bench [HOSTS] [THREADS]`

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use estate_protocol::Chassis;
use estate_server::carbon::{
    CarbonConfig, CarbonData, CpuInput, DiskInput, Distribution, Estimator, HostInput, HostKind,
    Media, Readiness, UtilisationInput, WhatIf, summarise,
};

const SCENARIOS: &str = r#"
[[scenarios]]
name = "aws-london"
kind = "cloud"
provider = "aws"
region = "eu-west-2"
families = ["m6i", "c6i", "r6i", "m6a", "c6a", "r6a"]

[[scenarios]]
name = "azure-uksouth"
kind = "cloud"
provider = "azure"
region = "uksouth"
families = ["Dsv5", "Esv5", "Fsv2", "Dasv5", "Easv5"]

[[scenarios]]
name = "gcp-london"
kind = "cloud"
provider = "gcp"
region = "europe-west2"
families = ["n2-standard", "n2-highmem", "n2-highcpu", "e2-standard"]

[[scenarios]]
name = "retire-idle"
kind = "retire"
"#;

const BRANDS: [&str; 8] = [
    "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
    "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz",
    "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
    "Intel Xeon Processor (Cascadelake)",
    "AMD EPYC 7763 64-Core Processor",
    "AMD EPYC-Rome Processor",
    "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
    "QEMU Virtual CPU version 2.5+",
];

/// A deterministic pseudo-random mix (xorshift), so runs are comparable.
fn hosts(n: usize) -> Vec<HostInput> {
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..n)
        .map(|i| {
            let r = next();
            let vm = r % 10 < 8;
            let threads = [2u32, 4, 8, 16, 32, 48, 64][(r >> 8) as usize % 7];
            let mean = (r >> 16) as f64 % 1000.0 / 2000.0;
            let peak = (mean * 2.0).min(1.0);
            let dist = |m: f64, p: f64| Distribution {
                mean: m,
                p50: m,
                p95: p,
                max: p,
                peaks_10m: vec![p * 0.8, p, p * 0.9],
            };
            HostInput {
                host_id: format!("host-{i:06}"),
                site: Some("county-hall".to_owned()),
                labels: [("site".to_owned(), "county-hall".to_owned())].into(),
                kind: if vm { HostKind::Vm } else { HostKind::Physical },
                chassis: if vm {
                    Chassis::Virtual
                } else {
                    Chassis::Server
                },
                cpu: Some(CpuInput {
                    model: BRANDS[(r >> 24) as usize % BRANDS.len()].to_owned(),
                    sockets: if vm { 1 } else { 2 },
                    physical_cores: threads / 2,
                    logical_cpus: threads,
                }),
                memory_gib: Some(f64::from(threads) * 4.0),
                disks: Some(vec![DiskInput {
                    media: if vm { Media::Unknown } else { Media::Ssd },
                    size_bytes: 100_000_000_000 * (1 + (r >> 32) % 20),
                }]),
                gpus: Vec::new(),
                utilisation: Some(UtilisationInput {
                    samples_taken: 25 + (r >> 40) % 6,
                    samples_expected: 30,
                    cpu: Some(dist(mean, peak)),
                    memory: Some(dist(0.5, 0.7)),
                }),
                measured: None,
                readiness: Readiness::Unknown,
            }
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(100_000), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/data");

    let t = Instant::now();
    let data = Arc::new(CarbonData::load(&dir)?);
    let config: CarbonConfig = toml::from_str(SCENARIOS)?;
    let estimator = Estimator::new(data, &config).map_err(|p| format!("{p:?}"))?;
    let load = t.elapsed();

    let inputs = hosts(n);
    let what_if = WhatIf::default();
    let t = Instant::now();
    let estimates: Vec<_> = if threads <= 1 {
        inputs
            .iter()
            .map(|h| estimator.estimate(h, &what_if))
            .collect()
    } else {
        let chunk = n.div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = inputs
                .chunks(chunk.max(1))
                .map(|part| {
                    let estimator = &estimator;
                    s.spawn(move || {
                        part.iter()
                            .map(|h| estimator.estimate(h, &what_if))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    let estimate = t.elapsed();

    let t = Instant::now();
    let summary = summarise(&estimates, Some(100));
    let summarise_time = t.elapsed();

    let scenario_results: usize = estimates.iter().map(|e| e.scenarios.len()).sum();
    println!(
        "carbon_bench: {n} hosts x {} scenarios, {threads} thread(s)",
        config.scenarios.len()
    );
    println!(
        "  load data + compile:     {:>8.1} ms",
        load.as_secs_f64() * 1e3
    );
    println!(
        "  estimate:                {:>8.1} ms  ({:.2} us/host, {scenario_results} scenario results)",
        estimate.as_secs_f64() * 1e3,
        estimate.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "  summarise:               {:>8.1} ms",
        summarise_time.as_secs_f64() * 1e3
    );
    println!(
        "  estate: {:.0} tCO2e/yr on-premises (location + embodied), {} candidates kept",
        (summary.onprem.location_kgco2e_per_year + summary.onprem.embodied_kgco2e_per_year)
            / 1000.0,
        summary.candidates.len()
    );
    for s in &summary.scenarios {
        println!(
            "  {:<14} {:>6} hosts placed, {:>5} unplaced, saves {:>8.0} tCO2e/yr",
            s.name.as_str(),
            s.totals.hosts,
            s.unplaced_hosts,
            s.saved_kgco2e_per_year / 1000.0
        );
    }
    Ok(())
}
