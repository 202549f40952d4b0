//! Tests of the carbon module: the committed data, CPU matching, the worked examples of
//! `docs/methodology.md` (asserted to the precision printed there), scenarios, estate
//! totals, invalid data files, and property tests of the model's invariants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use estate_protocol::{Chassis, PowerSource, Report};
use proptest::prelude::*;

use super::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn data() -> Arc<CarbonData> {
    static DATA: OnceLock<Arc<CarbonData>> = OnceLock::new();
    DATA.get_or_init(|| Arc::new(CarbonData::load(&root().join("config/data")).unwrap()))
        .clone()
}

fn report(name: &str) -> Report {
    let path = root().join("protocol/examples").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn r740() -> Report {
    report("full-report-dell-r740.json")
}

fn debian_vm() -> Report {
    report("full-report-debian-vm.json")
}

fn config(text: &str) -> CarbonConfig {
    toml::from_str(text).unwrap()
}

/// The scenarios of the worked examples.
const SCENARIOS: &str = r#"
[[scenarios]]
name = "aws-london"
kind = "cloud"
provider = "aws"
region = "eu-west-2"
families = ["m6i", "c6i", "r6i"]

[[scenarios]]
name = "azure-uksouth"
kind = "cloud"
provider = "azure"
region = "uksouth"
families = ["Dsv5", "Esv5", "Fsv2"]

[[scenarios]]
name = "gcp-london"
kind = "cloud"
provider = "gcp"
region = "europe-west2"
families = ["n2-standard", "n2-highmem", "n2-highcpu"]

[[scenarios]]
name = "retire-idle"
kind = "retire"
"#;

fn estimator(text: &str) -> Estimator {
    Estimator::new(data(), &config(text)).unwrap()
}

fn round(x: f64, places: i32) -> f64 {
    let p = 10f64.powi(places);
    (x * p).round() / p
}

// ---------------------------------------------------------------------------------
// The committed data.

#[test]
fn committed_data_has_the_promised_coverage() {
    let d = data();
    assert!(d.cpus.rows.len() >= 150, "{} CPU models", d.cpus.rows.len());
    for c in &d.clouds {
        assert!(
            c.instances.len() >= 40,
            "{:?}: {}",
            c.provider,
            c.instances.len()
        );
        for cat in ["general", "compute", "memory"] {
            assert!(
                c.instances.iter().any(|i| i.category.as_str() == cat),
                "{:?} has no {cat} family",
                c.provider
            );
        }
        assert!(c.instances.iter().map(|i| i.vcpus).min().unwrap() <= 2);
        assert!(c.instances.iter().map(|i| i.vcpus).max().unwrap() >= 64);
    }
    assert_eq!(d.clouds.len(), 3);
    let years: Vec<(i32, f64)> = d.grid_uk.iter().map(|g| (g.year, g.factor.v())).collect();
    assert_eq!(
        years,
        [
            (2019, 0.2556),
            (2020, 0.23314),
            (2021, 0.21233),
            (2022, 0.19338),
            (2023, 0.20707),
            (2024, 0.20705),
            (2025, 0.177)
        ]
    );
    for (p, region) in [
        (Provider::Aws, "eu-west-2"),
        (Provider::Azure, "uksouth"),
        (Provider::Azure, "ukwest"),
        (Provider::Gcp, "europe-west2"),
    ] {
        assert!(
            matches!(d.region(p, region).unwrap().grid, Grid::Uk),
            "{region}"
        );
    }
    let m = &d.method;
    assert_eq!(m.platform_overhead_ratio.factor.v(), 0.33);
    assert_eq!(
        (
            m.platform_overhead_ratio.low,
            m.platform_overhead_ratio.high
        ),
        (0.2, 0.6)
    );
    assert_eq!(
        (m.memory_watts_per_gib.low, m.memory_watts_per_gib.high),
        (0.284, 0.392)
    );
    assert_eq!(m.onprem_pue.factor.v(), 1.58);
    let aws = d.cloud(Provider::Aws).unwrap();
    assert_eq!(
        (aws.pue.factor.v(), aws.block_storage_replication.factor.v()),
        (1.135, 2.0)
    );
    let azure = d.cloud(Provider::Azure).unwrap();
    assert_eq!(
        (
            azure.pue.factor.v(),
            azure.block_storage_replication.factor.v()
        ),
        (1.185, 3.0)
    );
    assert_eq!(
        (
            azure.min_watts_per_vcpu.factor.v(),
            azure.max_watts_per_vcpu.factor.v()
        ),
        (0.78, 3.76)
    );
    let gcp = d.cloud(Provider::Gcp).unwrap();
    assert_eq!(
        (gcp.pue.factor.v(), gcp.min_watts_per_vcpu.factor.v()),
        (1.1, 0.71)
    );
}

#[test]
fn the_microarchitecture_table_has_the_ccf_coefficients() {
    let d = data();
    for (name, min, max) in [
        ("Cascade Lake", 0.64, 3.97),
        ("Skylake", 0.65, 4.26),
        ("Broadwell", 0.71, 3.69),
        ("Haswell", 1.00, 4.74),
        ("EPYC 2nd Gen", 0.47, 1.69),
        ("EPYC 3rd Gen", 0.45, 2.02),
    ] {
        let u = d.microarchs.get(d.microarchs.index(name).unwrap()).unwrap();
        let (a, b) = u.coefficients.as_ref().unwrap();
        assert_eq!((a.v(), b.v()), (min, max), "{name}");
    }
}

#[test]
fn cpu_brand_strings_match_with_the_right_confidence() {
    let d = data();
    let cases = [
        (
            "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
            MatchConfidence::Exact,
            "Xeon Gold 6230",
        ),
        (
            "Intel(R) Xeon(R) Gold 6230R CPU @ 2.10GHz",
            MatchConfidence::Exact,
            "Xeon Gold 6230R",
        ),
        (
            "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz",
            MatchConfidence::Exact,
            "Xeon Silver 4210",
        ),
        (
            "Intel(R) Xeon(R) Silver 4416+",
            MatchConfidence::Exact,
            "Xeon Silver 4416+",
        ),
        (
            "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz",
            MatchConfidence::Exact,
            "Xeon E5-2680 v4",
        ),
        (
            "Intel(R) Xeon(R) CPU E5-2680 v2 @ 2.80GHz",
            MatchConfidence::Exact,
            "Xeon E5-2680 v2",
        ),
        (
            "Intel(R) Xeon(R) CPU E5-2680 0 @ 2.70GHz",
            MatchConfidence::Exact,
            "Xeon E5-2680",
        ),
        (
            "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz",
            MatchConfidence::Family,
            "Broadwell",
        ),
        (
            "Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz",
            MatchConfidence::Family,
            "Skylake",
        ),
        (
            "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz",
            MatchConfidence::Family,
            "Cascade Lake",
        ),
        (
            "Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz",
            MatchConfidence::Family,
            "Ice Lake",
        ),
        (
            "AMD EPYC 7763 64-Core Processor",
            MatchConfidence::Exact,
            "EPYC 7763",
        ),
        (
            "AMD EPYC 7R13 Processor",
            MatchConfidence::Family,
            "EPYC 3rd Gen",
        ),
        (
            "AMD EPYC 9654 96-Core Processor",
            MatchConfidence::Exact,
            "EPYC 9654",
        ),
        (
            "AMD EPYC-Rome Processor",
            MatchConfidence::Family,
            "EPYC 2nd Gen",
        ),
        (
            "Intel Xeon Processor (Cascadelake)",
            MatchConfidence::Family,
            "Cascade Lake",
        ),
        (
            "Intel Xeon Processor (Icelake)",
            MatchConfidence::Family,
            "Ice Lake",
        ),
        (
            "Intel Core Processor (Broadwell, IBRS)",
            MatchConfidence::Family,
            "Broadwell",
        ),
        (
            "11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz",
            MatchConfidence::Exact,
            "Core i7-1165G7",
        ),
        (
            "12th Gen Intel(R) Core(TM) i5-1245U",
            MatchConfidence::Exact,
            "Core i5-1245U",
        ),
        (
            "13th Gen Intel(R) Core(TM) i7-13700",
            MatchConfidence::Exact,
            "Core i7-13700",
        ),
        (
            "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz",
            MatchConfidence::Exact,
            "Core i7-8700",
        ),
        (
            "Intel(R) Core(TM) i7-8650U CPU @ 1.90GHz",
            MatchConfidence::Family,
            "Kaby Lake",
        ),
        (
            "Intel(R) Core(TM) Ultra 7 155H",
            MatchConfidence::Exact,
            "Core Ultra 7 155H",
        ),
        (
            "AMD Ryzen 5 PRO 4650U with Radeon Graphics",
            MatchConfidence::Exact,
            "Ryzen 5 PRO 4650U",
        ),
        (
            "AMD Ryzen 7 5800X3D 8-Core Processor",
            MatchConfidence::Family,
            "Zen 3",
        ),
        (
            "Intel(R) Xeon(R) E-2236 CPU @ 3.40GHz",
            MatchConfidence::Exact,
            "Xeon E-2236",
        ),
    ];
    for (brand, confidence, matched) in cases {
        let m = d.match_cpu(brand);
        assert_eq!(m.confidence, confidence, "{brand}");
        assert_eq!(m.matched().map(Text::as_str), Some(matched), "{brand}");
    }
    for brand in ["QEMU Virtual CPU version 2.5+", "Common KVM processor", ""] {
        let m = d.match_cpu(brand);
        assert_eq!(m.confidence, MatchConfidence::Fallback, "{brand}");
        assert!(m.matched().is_none());
    }
    // An exact match carries the vendor's figures.
    let m = d.match_cpu("Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz");
    let row = m.row.unwrap();
    assert_eq!((row.cores, row.threads, row.tdp_watts.v()), (10, 20, 85.0));
}

// ---------------------------------------------------------------------------------
// Worked examples (docs/methodology.md, "Worked examples").

#[test]
fn worked_example_1_dell_r740_measured() {
    let est = estimator(SCENARIOS);
    let host = HostInput::from_report(&r740(), None);
    let e = est.estimate(&host, &WhatIf::default());
    let o = &e.onprem;
    assert_eq!(o.method, OnPremMethod::MeasuredRapl);
    assert_eq!(round(o.power_watts, 1), 221.2);
    assert_eq!(round(o.energy_kwh_per_year, 1), 3061.3);
    assert_eq!(round(o.location_kgco2e_per_year, 1), 541.8);
    assert_eq!(round(o.market_kgco2e_per_year, 1), 541.8);
    assert_eq!(round(o.embodied_kgco2e_per_year, 1), 450.5);
    assert_eq!(round(o.low, 1), 702.6);
    assert_eq!(round(o.high, 1), 1467.0);
    assert_eq!(o.grid_year, 2025);
    let names: Vec<&str> = e.factors.iter().map(|f| f.name.as_str()).collect();
    for n in [
        "platform_overhead_ratio",
        "server_hours_per_year",
        "onprem_pue",
        "uk_grid_kgco2e_per_kwh:2025",
        "embodied_base_kgco2e",
        "lifespan_years",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("tdp_ratio")),
        "measured: no TDP curve"
    );
}

#[test]
fn worked_example_2_dell_r740_modelled() {
    let est = estimator("");
    let mut report = r740();
    report.power = estate_protocol::Power::none(Vec::new());
    let e = est.estimate(&HostInput::from_report(&report, None), &WhatIf::default());
    let o = &e.onprem;
    assert_eq!(o.method, OnPremMethod::ModelledTdp);
    assert_eq!(
        o.cpu_match.as_ref().unwrap().confidence,
        MatchConfidence::Exact
    );
    assert_eq!(round(o.power_watts, 1), 286.1);
    assert_eq!(round(o.energy_kwh_per_year, 1), 3960.2);
    assert_eq!(round(o.location_kgco2e_per_year, 1), 701.0);
    assert_eq!(round(o.embodied_kgco2e_per_year, 1), 450.5);
    assert_eq!(round(o.low, 1), 722.0);
    assert_eq!(round(o.high, 1), 1721.4);
    assert!(e.factors.get("cpu_tdp_watts:Xeon Silver 4210").is_some());
}

#[test]
fn worked_example_3_debian_kvm_vm() {
    let est = estimator("");
    let e = est.estimate(
        &HostInput::from_report(&debian_vm(), None),
        &WhatIf::default(),
    );
    let o = &e.onprem;
    assert_eq!(o.method, OnPremMethod::ModelledVm);
    assert_eq!(o.notes, [Note::CpuFamilyMatch]);
    assert_eq!(round(o.power_watts, 2), 6.26);
    assert_eq!(round(o.energy_kwh_per_year, 1), 86.6);
    assert_eq!(round(o.location_kgco2e_per_year, 2), 15.33);
    assert_eq!(round(o.embodied_kgco2e_per_year, 2), 24.41);
    assert!(e.factors.get("min_watts_per_vcpu:Cascade Lake").is_some());
}

#[test]
fn worked_example_4_dell_r740_to_aws_london() {
    let est = estimator(SCENARIOS);
    let e = est.estimate(&HostInput::from_report(&r740(), None), &WhatIf::default());
    let s = e
        .scenarios
        .iter()
        .find(|s| s.name.as_str() == "aws-london")
        .unwrap();
    assert_eq!(s.instance.as_ref().map(Text::as_str), Some("r6i.12xlarge"));
    assert_eq!((s.vcpus, s.memory_gib), (48, 384.0));
    assert_eq!((s.min_watts_per_vcpu, s.max_watts_per_vcpu), (0.77, 3.76));
    assert_eq!(round(s.power_watts, 1), 219.8);
    assert_eq!(round(s.energy_kwh_per_year, 1), 2185.7);
    assert_eq!(round(s.location_kgco2e_per_year, 1), 386.9);
    assert_eq!(round(s.embodied_kgco2e_per_year, 1), 234.3);
    assert_eq!(s.market_kgco2e_per_year, 0.0);
    assert_eq!(round(s.saved_kgco2e_per_year, 1), 371.2);
    assert_eq!(s.confidence, 5);
    assert_eq!(s.readiness, Readiness::Unknown);
    // Not under-utilised: CPU p95 of the 10-minute peaks is 0.412.
    assert!(e.scenarios.iter().all(|s| s.kind != ScenarioKind::Retire));
}

#[test]
fn worked_example_5_debian_vm_to_aws_london() {
    let est = estimator(SCENARIOS);
    let e = est.estimate(
        &HostInput::from_report(&debian_vm(), None),
        &WhatIf::default(),
    );
    let s = e
        .scenarios
        .iter()
        .find(|s| s.name.as_str() == "aws-london")
        .unwrap();
    assert_eq!(s.instance.as_ref().map(Text::as_str), Some("c6i.large"));
    assert_eq!(round(s.power_watts, 2), 3.79);
    assert_eq!(round(s.energy_kwh_per_year, 1), 37.7);
    assert_eq!(round(s.location_kgco2e_per_year, 2), 6.66);
    assert_eq!(round(s.embodied_kgco2e_per_year, 2), 5.60);
}

#[test]
fn every_scenario_of_the_examples_places_both_hosts() {
    let est = estimator(SCENARIOS);
    for r in [r740(), debian_vm()] {
        let e = est.estimate(&HostInput::from_report(&r, None), &WhatIf::default());
        let clouds: Vec<_> = e
            .scenarios
            .iter()
            .filter(|s| s.kind == ScenarioKind::Cloud)
            .collect();
        assert_eq!(clouds.len(), 3);
        for s in clouds {
            assert!(s.instance.is_some(), "{}", s.name);
            assert!(s.power_watts > 0.0 && s.location_kgco2e_per_year > 0.0);
        }
    }
}

// ---------------------------------------------------------------------------------
// Scenarios, readiness, confidence.

#[test]
fn sizing_takes_the_percentile_times_comfort_rounded_up_exactly() {
    let est = estimator(SCENARIOS);
    let host = HostInput::from_report(&r740(), None);
    // 40 x 0.5 x 1.3 = 26.000000000000004 in floating point: still 26 vCPUs.
    let what_if = WhatIf {
        cpu_p95_ratio: Some(0.5),
        memory_p95_ratio: Some(0.05),
        ..WhatIf::default()
    };
    let e = est.estimate(&host, &what_if);
    let s = e
        .scenarios
        .iter()
        .find(|s| s.name.as_str() == "gcp-london")
        .unwrap();
    // The smallest n2 with >= 26 vCPUs is 32 vCPUs; highcpu (32 GiB) has the least memory.
    assert_eq!(s.instance.as_ref().map(Text::as_str), Some("n2-highcpu-32"));
}

#[test]
fn as_onprem_sizing_keeps_the_hosts_size() {
    let est = estimator(
        r#"
[[scenarios]]
name = "lift-and-shift"
kind = "cloud"
provider = "aws"
region = "eu-west-2"
families = ["m6i", "r6i"]
sizing = "as_onprem"
"#,
    );
    let e = est.estimate(
        &HostInput::from_report(&debian_vm(), None),
        &WhatIf::default(),
    );
    let s = &e.scenarios[0];
    // 4 vCPUs, 7.76 GiB: m6i.xlarge (4 vCPUs, 16 GiB).
    assert_eq!(s.instance.as_ref().map(Text::as_str), Some("m6i.xlarge"));
    assert_eq!(s.sizing, Some(Sizing::AsOnprem));
}

#[test]
fn retire_picks_under_utilised_servers_only() {
    let est = estimator(SCENARIOS);
    let host = HostInput::from_report(&debian_vm(), None);
    let busy = est.estimate(&host, &WhatIf::default());
    assert!(
        busy.scenarios
            .iter()
            .all(|s| s.kind != ScenarioKind::Retire)
    );
    let idle = est.estimate(
        &host,
        &WhatIf {
            cpu_p95_ratio: Some(0.03),
            ..WhatIf::default()
        },
    );
    let r = idle
        .scenarios
        .iter()
        .find(|s| s.kind == ScenarioKind::Retire)
        .unwrap();
    assert_eq!(r.energy_kwh_per_year, 0.0);
    assert!(r.instance.is_none() && r.provider.is_none());
    assert!(
        (r.saved_kgco2e_per_year - idle.onprem.total_kgco2e_per_year()).abs() < 1e-9,
        "a retired server saves all it emits"
    );
}

#[test]
fn readiness_rules_and_the_callers_readiness_combine() {
    let est = estimator(SCENARIOS);
    let mut host = HostInput::from_report(&r740(), None);
    host.readiness = Readiness::Ready;
    let e = est.estimate(&host, &WhatIf::default());
    assert!(e.scenarios.iter().all(|s| s.readiness == Readiness::Ready));

    // A compute GPU makes the move conditional.
    host.gpus.push(GpuInput {
        vendor_id: "10de".into(),
        model: Some("Tesla T4".into()),
        utilisation_ratio: Some(0.5),
    });
    let e = est.estimate(&host, &WhatIf::default());
    assert!(
        e.scenarios
            .iter()
            .all(|s| s.readiness == Readiness::ConditionallyReady)
    );

    // Too big for any family: not ready, not placed, nothing saved.
    host.cpu.as_mut().unwrap().logical_cpus = 4000;
    let e = est.estimate(&host, &WhatIf::default());
    let s = e
        .scenarios
        .iter()
        .find(|s| s.name.as_str() == "aws-london")
        .unwrap();
    assert_eq!(s.readiness, Readiness::NotReady);
    assert!(s.instance.is_none());
    assert_eq!(s.notes, [Note::NoInstanceFits]);
    assert_eq!(s.saved_kgco2e_per_year, 0.0);
}

#[test]
fn confidence_stars_follow_coverage_bands() {
    let est = estimator(SCENARIOS);
    let mut host = HostInput::from_report(&debian_vm(), None);
    for (taken, stars) in [
        (0, 1),
        (20, 1),
        (21, 2),
        (40, 2),
        (41, 3),
        (60, 3),
        (61, 4),
        (81, 5),
        (100, 5),
    ] {
        let u = host.utilisation.as_mut().unwrap();
        u.samples_taken = taken;
        u.samples_expected = 100;
        let e = est.estimate(&host, &WhatIf::default());
        assert_eq!(e.scenarios[0].confidence, stars, "{taken} % coverage");
    }
}

#[test]
fn a_gpu_server_is_modelled_with_the_gpu_table() {
    let est = estimator("");
    let mut report = r740();
    report.power = estate_protocol::Power::none(Vec::new());
    let mut host = HostInput::from_report(&report, None);
    let without = est.estimate(&host, &WhatIf::default()).onprem.power_watts;
    host.gpus.push(GpuInput {
        vendor_id: "10de".into(),
        model: Some("NVIDIA A100-SXM4-40GB".into()),
        utilisation_ratio: None,
    });
    let e = est.estimate(&host, &WhatIf::default());
    // Unknown utilisation: idle 46 W, times the platform overhead.
    assert!((e.onprem.power_watts - without - 46.0 * 1.33).abs() < 1e-9);
    assert!(e.onprem.notes.contains(&Note::GpuUtilisationUnknown));
    host.gpus.last_mut().unwrap().model = Some("NVIDIA H100 80GB HBM3".into());
    let e = est.estimate(&host, &WhatIf::default());
    assert!(
        (e.onprem.power_watts - without).abs() < 1e-9,
        "unknown model: 0 W, {} vs {without}, {:?}",
        e.onprem.power_watts,
        e.onprem.notes
    );
    assert!(e.onprem.notes.contains(&Note::GpuModelUnknown));
    // NVML measured the GPUs but RAPL was not read: NVML's watts, the rest modelled.
    host.measured = Some(MeasuredPower {
        gpu_watts: Some(100.0),
        ..MeasuredPower::default()
    });
    let e = est.estimate(&host, &WhatIf::default());
    assert_eq!(e.onprem.method, OnPremMethod::ModelledTdp);
    assert!((e.onprem.power_watts - without - 100.0 * 1.33).abs() < 1e-9);
    // The Matrox BMC graphics of the R740 is not a GPU at all.
    assert!(
        est.estimate(&HostInput::from_report(&report, None), &WhatIf::default())
            .onprem
            .notes
            .is_empty()
    );
}

#[test]
fn a_report_without_inventory_uses_the_stored_one_else_the_archetype() {
    let est = estimator(SCENARIOS);
    let stored = r740().inventory.unwrap();
    let regular = report("regular-report-no-inventory.json");
    let with = est.estimate(
        &HostInput::from_report(&regular, Some(&stored)),
        &WhatIf::default(),
    );
    assert_eq!(with.onprem.method, OnPremMethod::MeasuredRapl);
    assert_eq!(
        with.onprem.cpu_match.as_ref().unwrap().confidence,
        MatchConfidence::Exact
    );

    let mut regular = regular;
    regular.power = estate_protocol::Power::none(Vec::new());
    let without = est.estimate(&HostInput::from_report(&regular, None), &WhatIf::default());
    assert_eq!(without.onprem.method, OnPremMethod::Archetype);
    for n in [
        Note::CpuFromArchetype,
        Note::MemoryFromArchetype,
        Note::DisksFromArchetype,
    ] {
        assert!(without.onprem.notes.contains(&n), "{n:?}");
    }
    assert!(
        without
            .factors
            .get("archetype.unknown.memory_gib")
            .is_some()
    );
    assert!(without.onprem.power_watts > 0.0);
}

#[test]
fn containers_are_not_estimated_and_endpoints_are_not_migrated() {
    let est = estimator(SCENARIOS);
    let mut host = HostInput::from_report(&debian_vm(), None);
    host.kind = HostKind::Container;
    let e = est.estimate(&host, &WhatIf::default());
    assert_eq!(e.onprem.method, OnPremMethod::NotEstimated);
    assert_eq!(e.onprem.total_kgco2e_per_year(), 0.0);
    assert!(e.scenarios.is_empty());

    let mut laptop = HostInput::from_report(&r740(), None);
    laptop.kind = HostKind::Physical;
    laptop.chassis = Chassis::Laptop;
    laptop.measured = None;
    let e = est.estimate(&laptop, &WhatIf::default());
    assert!(e.scenarios.is_empty());
    assert_eq!(e.onprem.pue, 1.0);
    assert!((e.onprem.embodied_kgco2e_per_year - 250.0 / 4.0).abs() < 1e-9);
    let hours = e.onprem.energy_kwh_per_year * 1000.0 / e.onprem.power_watts;
    assert!((hours - 2080.0).abs() < 1e-6);
}

#[test]
fn site_settings_and_reporting_year_apply() {
    let est = estimator(
        r#"
reporting_year = 2021
lifespan_years = 5.0
[sites.county-hall]
pue = 1.8
market_kgco2e_per_kwh = 0.05
"#,
    );
    let e = est.estimate(&HostInput::from_report(&r740(), None), &WhatIf::default());
    let o = &e.onprem;
    assert_eq!((o.pue, o.grid_year), (1.8, 2021));
    assert!((o.energy_kwh_per_year - 221.179 * 8760.0 * 1.8 / 1000.0).abs() < 1e-6);
    assert!((o.location_kgco2e_per_year - o.energy_kwh_per_year * 0.21233).abs() < 1e-9);
    assert!((o.market_kgco2e_per_year - o.energy_kwh_per_year * 0.05).abs() < 1e-9);
    assert!((o.embodied_kgco2e_per_year - 1_801.893_009_231_567 / 5.0).abs() < 1e-6);
    assert!(e.factors.get("site_pue:county-hall").is_some());
}

#[test]
fn config_problems_name_their_keys() {
    let cfg = config(
        r#"
reporting_year = 2031
[sites.annex]
pue = 0.9
[[scenarios]]
name = "x"
kind = "cloud"
provider = "aws"
region = "mars-1"
families = ["m6i", "z9"]
[[scenarios]]
name = "x"
kind = "retire"
provider = "gcp"
"#,
    );
    let problems: Vec<String> = Estimator::new(data(), &cfg)
        .unwrap_err()
        .iter()
        .map(ToString::to_string)
        .collect();
    let expect = [
        "`carbon.reporting_year`: no UK factor for 2031",
        "`carbon.sites.annex.pue`: must be between 1 and 5, found 0.9",
        "`carbon.scenarios[0].region`: no region `mars-1` for aws",
        "`carbon.scenarios[0].families`: no family `z9` in cloud-aws.toml",
        "`carbon.scenarios[1].name`: scenario names must be unique",
        "`carbon.scenarios[1].kind`: a retire scenario takes no provider",
    ];
    assert_eq!(problems.len(), expect.len(), "{problems:#?}");
    for (p, e) in problems.iter().zip(expect) {
        assert!(p.starts_with(e), "{p} / {e}");
    }
    assert!(
        toml::from_str::<CarbonConfig>(
            "[[scenarios]]\nname = \"a\"\nkind = \"cloud\"\nflavour = 1\n"
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------------------
// Estate aggregation.

#[test]
fn estate_totals_add_up_and_candidates_rank_by_saving() {
    let est = estimator(SCENARIOS);
    let mut hosts = Vec::new();
    for (i, r) in [r740(), debian_vm(), r740()].iter().enumerate() {
        let mut h = HostInput::from_report(r, None);
        h.host_id = format!("h{i}");
        hosts.push(h);
    }
    hosts[2].cpu.as_mut().unwrap().logical_cpus = 4000; // fits nowhere
    let estimates: Vec<_> = hosts
        .iter()
        .map(|h| est.estimate(h, &WhatIf::default()))
        .collect();
    let s = summarise(&estimates, None);
    assert_eq!(s.onprem.hosts, 3);
    let sum: f64 = estimates
        .iter()
        .map(|e| e.onprem.location_kgco2e_per_year)
        .sum();
    assert!((s.onprem.location_kgco2e_per_year - sum).abs() < 1e-9);
    let aws = s
        .scenarios
        .iter()
        .find(|t| t.name.as_str() == "aws-london")
        .unwrap();
    assert_eq!((aws.totals.hosts, aws.unplaced_hosts), (2, 1));
    let placed: f64 = estimates[..2]
        .iter()
        .map(|e| e.scenarios[0].saved_kgco2e_per_year)
        .sum();
    assert!((aws.saved_kgco2e_per_year - placed).abs() < 1e-9);
    assert!(!s.candidates.is_empty());
    assert!(
        s.candidates
            .windows(2)
            .all(|w| w[0].saved_kgco2e_per_year >= w[1].saved_kgco2e_per_year)
    );
    assert_eq!(summarise(&estimates, Some(1)).candidates.len(), 1);
    // The whole summary serialises.
    assert!(
        serde_json::to_string(&s)
            .unwrap()
            .contains("\"candidates\"")
    );
}

#[test]
fn results_serialise_with_the_documented_fields() {
    let est = estimator(SCENARIOS);
    let e = est.estimate(&HostInput::from_report(&r740(), None), &WhatIf::default());
    let v = serde_json::to_value(&e).unwrap();
    for k in [
        "method",
        "power_watts",
        "energy_kwh_per_year",
        "location_kgco2e_per_year",
        "market_kgco2e_per_year",
        "embodied_kgco2e_per_year",
        "low",
        "high",
    ] {
        assert!(v["onprem"].get(k).is_some(), "onprem.{k}");
    }
    for k in [
        "name",
        "provider",
        "region",
        "instance",
        "vcpus",
        "memory_gib",
        "min_watts_per_vcpu",
        "max_watts_per_vcpu",
        "power_watts",
        "energy_kwh_per_year",
        "location_kgco2e_per_year",
        "embodied_kgco2e_per_year",
        "readiness",
        "confidence",
    ] {
        assert!(v["scenarios"][0].get(k).is_some(), "scenarios[].{k}");
    }
    for k in ["name", "value", "unit", "source", "version"] {
        assert!(v["factors"][0].get(k).is_some(), "factors[].{k}");
    }
    assert_eq!(v["onprem"]["method"], "measured_rapl");
    assert_eq!(v["scenarios"][0]["provider"], "aws");
}

#[test]
fn estimates_read_back_from_json_equal_themselves_and_the_compact_copy_drops_factors() {
    let est = estimator(SCENARIOS);
    for r in [r740(), debian_vm()] {
        let e = est.estimate(&HostInput::from_report(&r, None), &WhatIf::default());
        let full = serde_json::to_value(&e).unwrap();
        let back: HostEstimate = serde_json::from_value(full.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), full);
        assert_eq!(back.factors.len(), e.factors.len());
        let compact = serde_json::to_string(&e.compact()).unwrap();
        let read: HostEstimate = serde_json::from_str(&compact).unwrap();
        assert!(read.factors.is_empty());
        let mut without = full.clone();
        without["factors"] = serde_json::json!([]);
        assert_eq!(serde_json::to_value(&read).unwrap(), without);
        // Adding up the compact copies gives the same totals as the estimates.
        assert_eq!(summarise([&read], None), summarise([&e], None));
    }
}

#[test]
fn measured_watts_are_what_the_report_read_without_overlaps() {
    let est = estimator(SCENARIOS);
    // The R740: two packages and two DRAM domains, no psys.
    let host = HostInput::from_report(&r740(), None);
    let m = host.measured.clone().unwrap();
    let e = est.estimate(&host, &WhatIf::default());
    let want = m.package_watts.unwrap() + m.dram_watts;
    assert_eq!(e.onprem.measured_watts, Some(want));
    // RAPL: the estimate adds the platform overhead to what was measured.
    assert!(e.onprem.power_watts > want);
    // psys covers the platform: packages and DRAM are not added to it; GPUs are.
    let p = MeasuredPower {
        psys_watts: Some(30.0),
        package_watts: Some(12.0),
        dram_watts: 2.0,
        gpu_watts: Some(5.0),
    };
    assert_eq!(p.total_watts(), Some(35.0));
    let gpu_only = MeasuredPower {
        gpu_watts: Some(70.0),
        ..MeasuredPower::default()
    };
    assert_eq!(gpu_only.total_watts(), Some(70.0));
    assert_eq!(MeasuredPower::default().total_watts(), None);
    // A VM measured nothing.
    let vm = est.estimate(
        &HostInput::from_report(&debian_vm(), None),
        &WhatIf::default(),
    );
    assert_eq!(vm.onprem.measured_watts, None);
}

/// Counters that did not move (0 W from RAPL) are not a measurement: the host is modelled,
/// with a note saying why.
#[test]
fn an_implausible_rapl_reading_is_modelled_instead() {
    let est = estimator(SCENARIOS);
    let mut report = r740();
    for r in &mut report.power.readings {
        r.average_watts = 0.0;
        r.energy_joules = 0.0;
    }
    let e = est.estimate(&HostInput::from_report(&report, None), &WhatIf::default());
    assert_eq!(e.onprem.method, OnPremMethod::ModelledTdp);
    assert!(e.onprem.notes.contains(&Note::MeasuredImplausible));
    assert!(e.onprem.power_watts > 50.0, "{}", e.onprem.power_watts);
    // A real reading is still taken as it is.
    let real = est.estimate(&HostInput::from_report(&r740(), None), &WhatIf::default());
    assert_eq!(real.onprem.method, OnPremMethod::MeasuredRapl);
    assert!(!real.onprem.notes.contains(&Note::MeasuredImplausible));
}

#[test]
fn coverage_over_a_window_counts_overlaps_once_and_clips() {
    use chrono::{Duration, TimeZone, Utc};
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let h = |n: i64| t0 + Duration::hours(n);
    let to = h(100);
    assert_eq!(covered_seconds([], t0, to), 0.0);
    // [0,2) and [1,3) overlap: 3 h; [5,6): 1 h; [99,105) clipped to 1 h; a reversed and a
    // before-the-window one: nothing.
    let windows = [
        (h(1), h(3)),
        (h(0), h(2)),
        (h(5), h(6)),
        (h(99), h(105)),
        (h(8), h(7)),
        (h(-10), h(-5)),
    ];
    assert_eq!(covered_seconds(windows, t0, to), 5.0 * 3600.0);
    // Restated over the window at the report's sampling rate (30 samples in 300 s).
    let u = UtilisationInput {
        samples_taken: 30,
        samples_expected: 30,
        ..UtilisationInput::default()
    };
    let w = u.over_window(5.0 * 3600.0, 100.0 * 3600.0, 300.0);
    assert_eq!(w.samples_expected, 36_000);
    assert_eq!(w.samples_taken, 1_800);
    assert!((w.coverage_ratio() - 0.05).abs() < 1e-12);
    // Covered time past the window is capped at the whole window.
    let full = UtilisationInput::default().over_window(1e9, 3600.0, 0.0);
    assert_eq!(full.coverage_ratio(), 1.0);
}

#[test]
fn estate_counts_by_confidence_and_readiness_and_ranks_candidates_per_scenario() {
    let est = estimator(SCENARIOS);
    let mut hosts = Vec::new();
    for (i, (r, readiness, taken)) in [
        (r740(), Readiness::Ready, 30),
        (debian_vm(), Readiness::NotReady, 30),
        (r740(), Readiness::ConditionallyReady, 5),
    ]
    .into_iter()
    .enumerate()
    {
        let mut h = HostInput::from_report(&r, None);
        h.host_id = format!("h{i}");
        h.readiness = readiness;
        h.utilisation.as_mut().unwrap().samples_taken = taken;
        hosts.push(h);
    }
    let estimates: Vec<HostEstimate> = hosts
        .iter()
        .map(|h| est.estimate(h, &WhatIf::default()))
        .collect();
    let s = summarise(&estimates, None);
    for t in &s.scenarios {
        let placed = t.totals.hosts;
        assert_eq!(t.confidence.values().sum::<usize>(), placed, "{}", t.name);
        assert_eq!(t.confidence.len(), 5);
        let pairs: usize = t.by_readiness_and_confidence.iter().map(|p| p.hosts).sum();
        assert_eq!(pairs, placed, "{}", t.name);
        let r = t.readiness;
        assert_eq!(
            r.ready + r.conditionally_ready + r.not_ready + r.unknown,
            placed
        );
        for p in &t.by_readiness_and_confidence {
            assert_eq!(t.placed(p.readiness, p.confidence), p.hosts);
        }
    }
    let aws = s
        .scenarios
        .iter()
        .find(|t| t.name.as_str() == "aws-london")
        .unwrap();
    // h2 covered 5 of 30 samples: 17 % → 1 star; the others 5 stars.
    assert_eq!(aws.confidence[&1], 1);
    assert_eq!(aws.confidence[&5], 2);
    assert_eq!(aws.placed(Readiness::NotReady, 5), 1);

    // Candidates of one scenario, best first, limited; the total counts them all.
    let (total, best) = candidates(&estimates, Some("aws-london"), Some(1));
    let all_aws: Vec<f64> = estimates
        .iter()
        .flat_map(|e| &e.scenarios)
        .filter(|r| r.name.as_str() == "aws-london" && r.saved_kgco2e_per_year > 0.0)
        .map(|r| r.saved_kgco2e_per_year)
        .collect();
    assert_eq!(total, all_aws.len());
    assert_eq!(best.len(), 1);
    assert_eq!(
        best[0].saved_kgco2e_per_year,
        all_aws.iter().copied().fold(f64::MIN, f64::max)
    );
    let (every, listed) = candidates(&estimates, None, None);
    assert_eq!(every, s.candidates.len());
    assert_eq!(listed, s.candidates);
    assert_eq!(candidates(&estimates, Some("moon"), None).0, 0);

    // Over the configured scenarios: config order, an empty one shows zeros, a dropped
    // one (and its candidates) goes.
    let fewer = estimator(
        r#"
[[scenarios]]
name = "gcp-london"
kind = "cloud"
provider = "gcp"
region = "europe-west2"
families = ["n2-standard"]

[[scenarios]]
name = "nothing-matches"
kind = "retire"
hosts = { role = "none" }
"#,
    );
    let view = summarise(&estimates, None).for_scenarios(fewer.empty_totals());
    let names: Vec<&str> = view.scenarios.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["gcp-london", "nothing-matches"]);
    assert_eq!(view.scenarios[1].totals.hosts, 0);
    assert_eq!(view.scenarios[1].kind, ScenarioKind::Retire);
    assert!(view.scenarios[1].by_readiness_and_confidence.is_empty());
    assert!(
        view.candidates
            .iter()
            .all(|c| c.scenario.as_str() == "gcp-london")
    );
    assert_eq!(view.onprem, s.onprem);
}

#[test]
fn a_scenario_may_not_be_called_onprem() {
    let problems = config(
        r#"
[[scenarios]]
name = "onprem"
kind = "retire"
"#,
    )
    .problems(&data());
    assert_eq!(problems.len(), 1);
    assert_eq!(
        problems[0].key,
        "scenarios[0].name".replace("scenarios", "carbon.scenarios")
    );
    assert!(problems[0].message.contains("reserved"), "{}", problems[0]);
}

// ---------------------------------------------------------------------------------
// Invalid data files: each fixture folder replaces data files and lists, in `expected`,
// the messages the load must produce.

fn copy_data(to: &Path) {
    for name in DATA_FILES {
        std::fs::copy(root().join("config/data").join(name), to.join(name)).unwrap();
    }
}

#[test]
fn invalid_data_files_are_reported_located() {
    let fixtures = root().join("server/tests/fixtures/carbon/invalid");
    let mut cases = 0;
    for case in std::fs::read_dir(&fixtures).unwrap() {
        let case = case.unwrap().path();
        let dir = tempfile::tempdir().unwrap();
        copy_data(dir.path());
        for file in std::fs::read_dir(&case).unwrap() {
            let file = file.unwrap().path();
            let name = file.file_name().unwrap().to_str().unwrap().to_owned();
            if name != "expected" {
                std::fs::copy(&file, dir.path().join(&name)).unwrap();
            }
        }
        let err = CarbonData::load(dir.path()).unwrap_err().to_string();
        let err = err.replace(&format!("{}/", dir.path().display()), "");
        let expected = std::fs::read_to_string(case.join("expected")).unwrap();
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                err.contains(line),
                "{}: missing\n  {line}\nin\n{err}",
                case.display()
            );
        }
        cases += 1;
    }
    assert!(cases >= 4, "{cases} cases");
}

#[test]
fn a_missing_data_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    copy_data(dir.path());
    std::fs::remove_file(dir.path().join("grid-uk.toml")).unwrap();
    let err = CarbonData::load(dir.path()).unwrap_err().to_string();
    assert!(err.contains("grid-uk.toml"), "{err}");
}

// ---------------------------------------------------------------------------------
// Property tests.

const READINESS: [Readiness; 4] = [
    Readiness::Ready,
    Readiness::ConditionallyReady,
    Readiness::NotReady,
    Readiness::Unknown,
];

const BRANDS: [&str; 8] = [
    "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
    "Intel Xeon Processor (Cascadelake)",
    "AMD EPYC 7763 64-Core Processor",
    "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz",
    "QEMU Virtual CPU version 2.5+",
    "AMD EPYC 7R13 Processor",
    "Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz",
    "Intel Xeon Processor (Icelake)",
];

fn ratio() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => 0.0..=1.0f64,
        1 => Just(f64::NAN),
        1 => -2.0..3.0f64,
    ]
}

prop_compose! {
    fn any_host()(
        kind in prop_oneof![Just(HostKind::Physical), Just(HostKind::Vm), Just(HostKind::Container)],
        chassis in prop_oneof![Just(Chassis::Server), Just(Chassis::Desktop), Just(Chassis::Laptop),
            Just(Chassis::Virtual), Just(Chassis::Unknown)],
        cpu in proptest::option::weighted(0.9, (0..BRANDS.len(), 0u32..4, 0u32..128, 0u32..512)),
        memory_gib in proptest::option::weighted(0.9, 0.0..4096.0f64),
        disks in proptest::option::weighted(0.9, proptest::collection::vec(
            (prop_oneof![Just(Media::Hdd), Just(Media::Ssd), Just(Media::Unknown)], 0u64..20_000_000_000_000), 0..6)),
        gpus in proptest::collection::vec((prop_oneof![Just("10de"), Just("102b")],
            prop_oneof![Just(Some("Tesla T4")), Just(Some("H100")), Just(None)], proptest::option::of(ratio())), 0..3),
        util in proptest::option::weighted(0.9, (0u64..200, 0u64..200, ratio(), ratio(), ratio(),
            proptest::collection::vec(ratio(), 0..5))),
        measured in proptest::option::weighted(0.3, (proptest::option::of(-10.0..500.0f64),
            proptest::option::of(-10.0..500.0f64), 0.0..100.0f64, proptest::option::of(0.0..600.0f64))),
        readiness in proptest::sample::select(READINESS.to_vec()),
        site in proptest::option::of(prop_oneof![Just("county-hall".to_owned()), Just("annex".to_owned())]),
    ) -> HostInput {
        HostInput {
            host_id: "prop".into(),
            site: site.clone(),
            labels: site.map(|s| [("site".to_owned(), s)].into()).unwrap_or_default(),
            kind,
            chassis,
            cpu: cpu.map(|(b, sockets, cores, threads)| CpuInput {
                model: BRANDS[b].to_owned(),
                sockets,
                physical_cores: cores,
                logical_cpus: threads,
            }),
            memory_gib,
            disks: disks.map(|d| d.into_iter().map(|(media, size_bytes)| DiskInput { media, size_bytes }).collect()),
            gpus: gpus.into_iter().map(|(v, m, u)| GpuInput {
                vendor_id: v.to_owned(),
                model: m.map(str::to_owned),
                utilisation_ratio: u,
            }).collect(),
            utilisation: util.map(|(taken, expected, mean, p95, mem, peaks)| UtilisationInput {
                samples_taken: taken,
                samples_expected: expected,
                cpu: Some(Distribution { mean, p50: mean, p95, max: p95, peaks_10m: peaks }),
                memory: Some(Distribution { mean: mem, p50: mem, p95: mem, max: mem, peaks_10m: Vec::new() }),
            }),
            measured: measured.map(|(psys, pkg, dram, gpu)| MeasuredPower {
                psys_watts: psys.map(|w| w.max(0.0)),
                package_watts: pkg.map(|w| w.max(0.0)),
                dram_watts: dram,
                gpu_watts: gpu,
            }),
            readiness,
        }
    }
}

fn finite_non_negative(values: &[f64]) -> bool {
    values.iter().all(|v| v.is_finite() && *v >= 0.0)
}

fn what_if() -> impl Strategy<Value = WhatIf> {
    (
        proptest::option::weighted(0.3, ratio()),
        proptest::option::weighted(0.3, ratio()),
        proptest::option::weighted(0.3, ratio()),
    )
        .prop_map(|(a, b, c)| WhatIf {
            cpu_mean_ratio: a,
            cpu_p95_ratio: b,
            memory_p95_ratio: c,
        })
}

fn site_config(pue: f64) -> String {
    format!("{SCENARIOS}\n[sites.county-hall]\npue = {pue}\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every figure is finite and never negative, and low <= point <= high.
    #[test]
    fn estimates_are_never_negative(host in any_host(), w in what_if()) {
        let est = estimator(SCENARIOS);
        let e = est.estimate(&host, &w);
        let o = &e.onprem;
        prop_assert!(finite_non_negative(&[o.power_watts, o.energy_kwh_per_year,
            o.location_kgco2e_per_year, o.market_kgco2e_per_year, o.embodied_kgco2e_per_year,
            o.low, o.high]), "{o:?}");
        let total = o.total_kgco2e_per_year();
        prop_assert!(o.low <= total + 1e-9 && total <= o.high + 1e-9, "{o:?}");
        for s in &e.scenarios {
            prop_assert!(finite_non_negative(&[s.memory_gib, s.min_watts_per_vcpu,
                s.max_watts_per_vcpu, s.power_watts, s.energy_kwh_per_year,
                s.location_kgco2e_per_year, s.embodied_kgco2e_per_year,
                s.market_kgco2e_per_year, s.low, s.high]), "{s:?}");
            let t = s.location_kgco2e_per_year + s.embodied_kgco2e_per_year;
            prop_assert!(s.low <= t + 1e-9 && t <= s.high + 1e-9, "{s:?}");
            prop_assert!((1..=5).contains(&s.confidence));
            prop_assert!(s.saved_kgco2e_per_year.is_finite());
        }
        prop_assert!(e.factors.iter().all(|f| f.value.is_finite() && f.value >= 0.0));
    }

    /// Energy and operational emissions scale linearly with the site's PUE; embodied
    /// does not move.
    #[test]
    fn operational_emissions_are_linear_in_pue(host in any_host(), pue in 1.0..2.5f64, k in 1.0..2.0f64) {
        let mut host = host;
        host.site = Some("county-hall".into());
        prop_assume!(!matches!(host.chassis, Chassis::Desktop | Chassis::Laptop) || host.kind != HostKind::Physical);
        let a = estimator(&site_config(pue)).estimate(&host, &WhatIf::default());
        let b = estimator(&site_config(pue * k)).estimate(&host, &WhatIf::default());
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()));
        prop_assert!(close(b.onprem.energy_kwh_per_year, a.onprem.energy_kwh_per_year * k));
        prop_assert!(close(b.onprem.location_kgco2e_per_year, a.onprem.location_kgco2e_per_year * k));
        prop_assert!(close(b.onprem.market_kgco2e_per_year, a.onprem.market_kgco2e_per_year * k));
        prop_assert!(close(b.onprem.embodied_kgco2e_per_year, a.onprem.embodied_kgco2e_per_year));
    }

    /// Location-based emissions scale linearly with the grid factor, on both sides of
    /// the comparison (UK regions share the on-premises factor); energy does not move.
    #[test]
    fn location_emissions_are_linear_in_the_grid_factor(host in any_host(), k in 0.1..5.0f64) {
        let base = data();
        let mut scaled = (*base).clone();
        for g in &mut scaled.grid_uk {
            g.factor = FactorRef::new(Factor { value: g.factor.v() * k, ..(*g.factor).clone() });
        }
        let cfg = config(SCENARIOS);
        let a = Estimator::new(base, &cfg).unwrap().estimate(&host, &WhatIf::default());
        let b = Estimator::new(Arc::new(scaled), &cfg).unwrap().estimate(&host, &WhatIf::default());
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()));
        prop_assert!(close(b.onprem.location_kgco2e_per_year, a.onprem.location_kgco2e_per_year * k));
        prop_assert!(close(b.onprem.energy_kwh_per_year, a.onprem.energy_kwh_per_year));
        for (sa, sb) in a.scenarios.iter().zip(&b.scenarios) {
            prop_assert!(close(sb.location_kgco2e_per_year, sa.location_kgco2e_per_year * k));
            prop_assert!(close(sb.energy_kwh_per_year, sa.energy_kwh_per_year));
        }
    }

    /// More utilisation never means less power, on-premises or in the cloud (at a
    /// fixed size).
    #[test]
    fn power_is_monotone_in_utilisation(host in any_host(), u1 in 0.0..=1.0f64, u2 in 0.0..=1.0f64, p95 in 0.0..=1.0f64) {
        let (lo, hi) = if u1 <= u2 { (u1, u2) } else { (u2, u1) };
        let est = estimator(SCENARIOS);
        let at = |u: f64| est.estimate(&host, &WhatIf { cpu_mean_ratio: Some(u), cpu_p95_ratio: Some(p95), memory_p95_ratio: Some(p95) });
        let (a, b) = (at(lo), at(hi));
        prop_assert!(a.onprem.power_watts <= b.onprem.power_watts + 1e-9);
        for (sa, sb) in a.scenarios.iter().zip(&b.scenarios) {
            prop_assert_eq!(&sa.instance, &sb.instance);
            prop_assert!(sa.power_watts <= sb.power_watts + 1e-9);
        }
    }

    /// At equal utilisation and size, on the same microarchitecture, the cloud
    /// instance's power never exceeds the host's as-on-premises power (the VM model;
    /// no local storage, whose replication in the cloud is extra disks by design), and
    /// its energy never exceeds on-premises energy (the provider's PUE is lower).
    #[test]
    fn cloud_power_never_exceeds_onprem_at_equal_size(i in 0usize..9, u in 0.0..=1.0f64, site_pue in 1.2..2.5f64) {
        let d = data();
        let aws = d.cloud(Provider::Aws).unwrap();
        let sizes: Vec<&Instance> = aws.instances.iter().filter(|x| x.family.as_str() == "m6i").collect();
        let inst = sizes[i % sizes.len()];
        let est = estimator(&format!(r#"
[sites.county-hall]
pue = {site_pue}
[[scenarios]]
name = "same"
kind = "cloud"
provider = "aws"
region = "eu-west-2"
families = ["m6i"]
sizing = "as_onprem"
"#));
        let host = HostInput {
            host_id: "vm".into(),
            site: Some("county-hall".into()),
            labels: Default::default(),
            kind: HostKind::Vm,
            chassis: Chassis::Virtual,
            cpu: Some(CpuInput { model: "Intel Xeon Processor (Icelake)".into(), sockets: 1,
                physical_cores: inst.vcpus, logical_cpus: inst.vcpus }),
            memory_gib: Some(inst.memory_gib),
            disks: Some(Vec::new()),
            gpus: Vec::new(),
            utilisation: None,
            measured: None,
            readiness: Readiness::Unknown,
        };
        let e = est.estimate(&host, &WhatIf { cpu_mean_ratio: Some(u), ..WhatIf::default() });
        let s = &e.scenarios[0];
        prop_assert_eq!(s.instance.as_ref(), Some(&inst.name));
        prop_assert!(s.power_watts <= e.onprem.power_watts + 1e-9, "{} > {}", s.power_watts, e.onprem.power_watts);
        prop_assert!(s.energy_kwh_per_year <= e.onprem.energy_kwh_per_year + 1e-9);
    }

    /// A right-sized instance (never more vCPUs than the host) on the host's
    /// microarchitecture draws no more compute power than the host at equal utilisation.
    #[test]
    fn right_sizing_never_adds_compute_power(threads in 2u32..96, u in 0.0..=1.0f64, p95 in 0.0..=1.0f64) {
        let est = estimator(r#"
[[scenarios]]
name = "right"
kind = "cloud"
provider = "aws"
region = "eu-west-2"
families = ["c6i", "m6i", "r6i"]
"#);
        let host = HostInput {
            host_id: "vm".into(),
            site: None,
            labels: Default::default(),
            kind: HostKind::Vm,
            chassis: Chassis::Virtual,
            cpu: Some(CpuInput { model: "Intel Xeon Processor (Icelake)".into(), sockets: 1,
                physical_cores: threads, logical_cpus: threads }),
            memory_gib: Some(0.0),
            disks: Some(Vec::new()),
            gpus: Vec::new(),
            utilisation: None,
            measured: None,
            readiness: Readiness::Unknown,
        };
        let w = WhatIf { cpu_mean_ratio: Some(u), cpu_p95_ratio: Some(p95), memory_p95_ratio: Some(0.0) };
        let e = est.estimate(&host, &w);
        let s = &e.scenarios[0];
        prop_assume!(s.vcpus <= threads);
        let compute = s.power_watts - s.memory_gib * 0.392;
        prop_assert!(compute <= e.onprem.power_watts + 1e-9, "{compute} > {}", e.onprem.power_watts);
    }
}

#[test]
fn from_report_reads_power_kind_and_disks() {
    let h = HostInput::from_report(&r740(), None);
    assert_eq!(h.kind, HostKind::Physical);
    assert_eq!(h.site.as_deref(), Some("county-hall"));
    let m = h.measured.unwrap();
    assert!((m.package_watts.unwrap() - 138.3).abs() < 1e-9);
    assert!((m.dram_watts - 28.0).abs() < 1e-9);
    assert_eq!(h.disks.unwrap().len(), 3);
    let vm = HostInput::from_report(&debian_vm(), None);
    assert_eq!(vm.kind, HostKind::Vm);
    assert!(vm.measured.is_none());
    assert_eq!(debian_vm().power.source, PowerSource::None);
}

#[test]
fn utilisation_windows_combine() {
    let u = r740().utilisation.unwrap();
    let c = UtilisationInput::combine([&u, &u]);
    assert_eq!((c.samples_taken, c.samples_expected), (60, 60));
    let cpu = c.cpu.unwrap();
    assert_eq!(cpu.peaks_10m.len(), 2);
    assert!((cpu.mean - 0.142).abs() < 1e-12);
    assert_eq!(cpu.at(95.0), Some(0.412));
}
