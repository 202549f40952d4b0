//! Model and renderer tests on a small synthetic estate whose every figure can be worked
//! out from the input: five hosts of every type, three scored checks and one info check,
//! carbon estimates from the real estimator, and a previous report to compare with.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use estate_protocol::Chassis;

use super::*;
use crate::assess::{AssessConfig, Assessor};
use crate::carbon::{
    CpuInput, DiskInput, Distribution, HostEstimate, HostInput, HostKind, Media, Readiness,
    UtilisationInput, WhatIf,
};
use crate::checks::{
    Category, CheckId, CheckResult, EstateHost, ScoringConfig, Severity, Status,
    estate_improvements, score_estate, score_host,
};
use crate::report::model::Report;
use crate::report::render::csv::{CsvFile, FILES};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn checks() -> Vec<CheckInfo> {
    let c = |id: &str, category, severity, weight| CheckInfo {
        id: id.to_owned(),
        title: format!("Title of {id}"),
        category,
        severity,
        weight,
        remediation: format!("Fix {id}. Then check again."),
    };
    vec![
        c("security.a", Category::Security, Severity::Critical, 10.0),
        c("lifecycle.b", Category::Lifecycle, Severity::High, 5.0),
        c("capacity.c", Category::Capacity, Severity::Medium, 3.0),
        c("operations.info", Category::Operations, Severity::Info, 0.0),
    ]
}

fn scoring() -> ScoringConfig {
    let mut s = ScoringConfig::default();
    s.criticality_weights.insert("high".to_owned(), 3.0);
    s
}

/// The check results of a host: (check index, status, credit).
fn results(checks: &[CheckInfo], outcomes: &[(usize, Status, f64)]) -> Vec<CheckResult> {
    outcomes
        .iter()
        .map(|(i, status, credit)| {
            let c = &checks[*i];
            CheckResult {
                id: CheckId::new(&c.id),
                category: c.category,
                severity: c.severity,
                weight: c.weight,
                status: *status,
                credit: *credit,
                evidence: (*status == Status::Fail)
                    .then(|| serde_json::json!(format!("{} failed", c.id))),
                error: None,
                waiver: None,
            }
        })
        .collect()
}

fn estimator() -> Assessor {
    Assessor::load(&AssessConfig::default()).unwrap()
}

fn carbon_input(id: &str, kind: HostKind, chassis: Chassis, cpu_p95: f64) -> HostInput {
    let dist = |m: f64, p: f64| Distribution {
        mean: m,
        p50: m,
        p95: p,
        max: p,
        peaks_10m: vec![p * 0.9, p],
    };
    HostInput {
        host_id: id.to_owned(),
        site: Some("county-hall".to_owned()),
        labels: BTreeMap::new(),
        kind,
        chassis,
        cpu: Some(CpuInput {
            model: "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz".to_owned(),
            sockets: if kind == HostKind::Vm { 1 } else { 2 },
            physical_cores: 8,
            logical_cpus: 16,
        }),
        memory_gib: Some(64.0),
        disks: Some(vec![DiskInput {
            media: Media::Ssd,
            size_bytes: 500_000_000_000,
        }]),
        gpus: Vec::new(),
        utilisation: Some(UtilisationInput {
            samples_taken: 30,
            samples_expected: 30,
            cpu: Some(dist(cpu_p95 / 2.0, cpu_p95)),
            memory: Some(dist(0.4, 0.5)),
        }),
        measured: None,
        readiness: Readiness::Unknown,
    }
}

struct HostSpec {
    id: &'static str,
    name: &'static str,
    kind: &'static str,
    chassis: &'static str,
    labels: &'static [(&'static str, &'static str)],
    outcomes: Option<Vec<(usize, Status, f64)>>,
    facts: HostFacts,
    carbon: Option<(HostKind, Chassis, f64)>,
}

fn specs() -> Vec<HostSpec> {
    vec![
        HostSpec {
            id: "h1",
            name: "srv-db01",
            kind: "physical",
            chassis: "server",
            labels: &[
                ("site", "county-hall"),
                ("role", "database"),
                ("criticality", "high"),
            ],
            outcomes: Some(vec![
                (0, Status::Pass, 1.0),
                (1, Status::Fail, 0.0),
                (2, Status::Pass, 1.0),
                (3, Status::Pass, 1.0),
            ]),
            facts: HostFacts {
                os_release: Some("Windows Server 2012 R2".to_owned()),
                os_end_of_support: Some(d(2023, 10, 10)),
                os_extended_support_end: Some(d(2026, 10, 13)),
                hardware_vendor: Some("Dell Inc.".to_owned()),
                hardware_model: Some("PowerEdge R740".to_owned()),
                bios_date: Some(d(2021, 5, 20)),
                hardware_age_days: Some(2000),
                cpu_p95_ratio: Some(0.02),
                memory_p95_ratio: Some(0.3),
                history_days: Some(30.0),
                memory_bytes: Some(64 << 30),
                ..HostFacts::default()
            },
            carbon: Some((HostKind::Physical, Chassis::Server, 0.02)),
        },
        HostSpec {
            id: "h2",
            name: "srv-app02",
            kind: "vm",
            chassis: "virtual",
            labels: &[("site", "county-hall"), ("role", "app")],
            outcomes: Some(vec![
                (0, Status::Fail, 0.0),
                (1, Status::Pass, 1.0),
                (2, Status::Fail, 0.5),
                (3, Status::NotApplicable, 0.0),
            ]),
            facts: HostFacts {
                os_release: Some("Ubuntu 22.04 LTS".to_owned()),
                os_end_of_support: Some(d(2027, 6, 1)),
                cpu_p95_ratio: Some(0.95),
                memory_p95_ratio: Some(0.5),
                history_days: Some(20.0),
                min_available_ratio: Some(0.05),
                min_available_mount: Some("/var".to_owned()),
                ..HostFacts::default()
            },
            carbon: Some((HostKind::Vm, Chassis::Virtual, 0.95)),
        },
        HostSpec {
            id: "h3",
            name: "lap-0001",
            kind: "physical",
            chassis: "laptop",
            labels: &[("site", "depot")],
            outcomes: Some(vec![
                (0, Status::Pass, 1.0),
                (1, Status::Pass, 1.0),
                (2, Status::NotApplicable, 0.0),
                (3, Status::Pass, 1.0),
            ]),
            facts: HostFacts {
                os_release: Some("Windows 11 Enterprise 23H2".to_owned()),
                os_end_of_support: Some(d(2028, 10, 10)),
                hardware_age_days: Some(400),
                stale: Some(true),
                ..HostFacts::default()
            },
            carbon: Some((HostKind::Physical, Chassis::Laptop, 0.1)),
        },
        HostSpec {
            id: "h4",
            name: "desk-0002",
            kind: "physical",
            chassis: "desktop",
            labels: &[],
            outcomes: None,
            facts: HostFacts::default(),
            carbon: None,
        },
        HostSpec {
            id: "h5",
            name: "ctr-01",
            kind: "container",
            chassis: "virtual",
            labels: &[],
            outcomes: Some(vec![
                (0, Status::NotApplicable, 0.0),
                (1, Status::NotApplicable, 0.0),
                (2, Status::NotApplicable, 0.0),
            ]),
            facts: HostFacts::default(),
            carbon: Some((HostKind::Container, Chassis::Virtual, 0.5)),
        },
    ]
}

struct Estate {
    input: ReportInput,
    /// Each host's check results, as the checks module scores them.
    results: Vec<Option<Vec<CheckResult>>>,
    estimates: Vec<Option<HostEstimate>>,
}

fn estate() -> Estate {
    let assessor = estimator();
    let checks = checks();
    let scoring = scoring();
    let mut hosts = Vec::new();
    let mut all_results = Vec::new();
    let mut estimates = Vec::new();
    for s in specs() {
        let labels: BTreeMap<String, String> = s
            .labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let estimate = s.carbon.map(|(kind, chassis, p95)| {
            assessor
                .estimator()
                .estimate(&carbon_input(s.id, kind, chassis, p95), &WhatIf::default())
        });
        let assessment = s.outcomes.as_ref().map(|o| {
            let r = results(&checks, o);
            let score = score_host(&r, &scoring, None);
            HostAssessment {
                assessed_at: now(),
                score: score.score,
                band: score.band,
                results: o
                    .iter()
                    .map(|(i, status, credit)| CheckOutcome {
                        check: *i,
                        status: *status,
                        credit: *credit,
                        evidence: (*status == Status::Fail)
                            .then(|| format!("{} failed", checks[*i].id)),
                    })
                    .collect(),
                facts: s.facts.clone(),
                carbon: estimate.clone(),
            }
        });
        all_results.push(s.outcomes.as_ref().map(|o| results(&checks, o)));
        estimates.push(estimate);
        hosts.push(ReportHost {
            host_id: s.id.to_owned(),
            hostname: s.name.to_owned(),
            labels,
            machine_kind: Some(s.kind.to_owned()),
            chassis: Some(s.chassis.to_owned()),
            os_family: None,
            os_name: Some("Some OS".to_owned()),
            first_seen: now() - chrono::Duration::days(90),
            last_seen: now() - chrono::Duration::minutes(3),
            assessment,
        });
    }
    Estate {
        input: ReportInput {
            generated_at: now(),
            title: "Test <Council> & Co".to_owned(),
            profile: "baseline".to_owned(),
            scoring,
            checks,
            hosts,
            scenarios: assessor
                .estimator()
                .scenario_names()
                .map(str::to_owned)
                .collect(),
            settings: ReportSettings::default(),
            previous: None,
        },
        results: all_results,
        estimates,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn the_summary_counts_every_host_and_matches_the_checks_estate_score() {
    let e = estate();
    let r = build(&e.input);
    let s = &r.summary;
    assert_eq!((s.hosts, s.assessed_hosts, s.stale_hosts), (5, 4, 1));
    let types: BTreeMap<&str, usize> = s
        .by_type
        .iter()
        .map(|c| (c.name.as_str(), c.hosts))
        .collect();
    assert_eq!(
        types,
        BTreeMap::from([
            ("container", 1),
            ("desktop", 1),
            ("laptop", 1),
            ("physical server", 1),
            ("virtual server", 1)
        ])
    );
    assert_eq!(s.by_site[0].name, "county-hall");
    assert_eq!(s.by_site[0].hosts, 2);
    assert_eq!(s.by_site.iter().map(|c| c.hosts).sum::<usize>(), 5);
    assert_eq!(s.by_os.iter().map(|c| c.hosts).sum::<usize>(), 5);
    assert_eq!(
        (s.bands.green, s.bands.amber, s.bands.red, s.bands.unscored),
        (1, 1, 1, 2)
    );

    // The estate score and "what raises it most" are the checks module's.
    let labels: Vec<BTreeMap<String, String>> =
        e.input.hosts.iter().map(|h| h.labels.clone()).collect();
    let members: Vec<EstateHost<'_>> = e
        .results
        .iter()
        .zip(&labels)
        .filter_map(|(r, l)| {
            r.as_ref().map(|r| EstateHost {
                results: r,
                labels: l,
            })
        })
        .collect();
    let expected = score_estate(&members, &e.input.scoring);
    assert!(
        close(s.score.unwrap(), expected.score.unwrap()),
        "{:?} vs {:?}",
        s.score,
        expected.score
    );
    // By hand: h1 (weight 3) 13/18, h2 (red, capped) 6.5/18, h3 1.0.
    let by_hand = (3.0 * 13.0 / 18.0 + 6.5 / 18.0 + 1.0) / 5.0;
    assert!(close(s.score.unwrap(), by_hand));
    // 0.706: amber, although one host is capped at red (the estate has no cap).
    assert_eq!(s.band.as_deref(), Some("amber"));
    for c in &s.categories {
        let cat = Category::parse(&c.category).unwrap();
        assert!(close(c.score, expected.categories[&cat]), "{}", c.category);
    }
    let gains = estate_improvements(&members, &e.input.scoring);
    let ours: Vec<(&str, f64, usize)> = r
        .risks
        .improvements
        .iter()
        .map(|g| (g.id.as_str(), g.gain, g.failing_hosts))
        .collect();
    assert_eq!(ours.len(), gains.len());
    for (o, g) in ours.iter().zip(&gains) {
        assert_eq!(o.0, g.id.as_str());
        assert!(close(o.1, g.gain));
        assert_eq!(o.2, g.hosts_failing);
    }
}

#[test]
fn risks_and_fleet_counts_follow_the_outcomes() {
    let r = build(&estate().input);
    let top: Vec<(&str, usize)> = r
        .risks
        .top
        .iter()
        .map(|k| (k.id.as_str(), k.failing_hosts))
        .collect();
    assert_eq!(
        top,
        [("security.a", 1), ("lifecycle.b", 1), ("capacity.c", 1)]
    );
    assert!(close(r.risks.top[0].failing_ratio, 1.0 / 3.0));
    assert_eq!(r.risks.hosts_with_critical_failures, 1);
    assert_eq!(r.risks.worst_hosts[0].hostname, "srv-app02");
    assert_eq!(r.risks.worst_hosts[0].critical_failures, ["security.a"]);
    assert_eq!(r.risks.worst_hosts.len(), 3);

    let a = &r.checks[0];
    assert_eq!(
        (a.pass, a.fail, a.not_applicable, a.waived, a.error),
        (2, 1, 1, 0, 0)
    );
    assert!(close(a.pass_ratio.unwrap(), 2.0 / 3.0));
    let info = &r.checks[3];
    assert_eq!((info.pass, info.not_applicable), (2, 1));
    // The info check (weight 0) is shown but never a risk.
    assert!(r.risks.top.iter().all(|k| k.id != "operations.info"));
}

#[test]
fn lifecycle_lists_what_ends_within_the_horizon() {
    let r = build(&estate().input);
    let l = &r.lifecycle;
    assert_eq!(
        (l.os_ended_hosts, l.os_ending_hosts, l.os_unknown_hosts),
        (1, 1, 1)
    );
    let os: Vec<(&str, &str, Option<i64>)> =
        l.os.iter()
            .map(|o| (o.release.as_str(), o.status.as_str(), o.days_left))
            .collect();
    assert_eq!(
        os,
        [
            ("Windows Server 2012 R2", "ended", Some(-1148)),
            ("Ubuntu 22.04 LTS", "ending", Some(182))
        ]
    );
    assert_eq!(l.os[0].extended_support_end, Some(d(2026, 10, 13)));
    // 2000 days old against 5 × 365.25: overdue; the laptop (400 days) is not due.
    assert_eq!((l.hardware_overdue_hosts, l.hardware_due_hosts), (1, 0));
    assert_eq!(l.hardware.len(), 1);
    assert_eq!(l.hardware[0].model, "Dell Inc. PowerEdge R740");
    assert_eq!(l.hardware[0].oldest_bios_date, Some(d(2021, 5, 20)));
    // Due 2000 - 1826.25 = 173.75 days ago, rounded.
    assert_eq!(l.hardware[0].first_due, Some(d(2026, 6, 10)));
}

#[test]
fn capacity_finds_idle_and_busy_hosts() {
    let r = build(&estate().input);
    let c = &r.capacity;
    assert_eq!((c.servers_with_history, c.servers_without_history), (2, 0));
    let under: Vec<&str> = c
        .under_utilised
        .iter()
        .map(|h| h.hostname.as_str())
        .collect();
    assert_eq!(under, ["srv-db01"]);
    assert_eq!(c.under_utilised[0].memory_gib, Some(64.0));
    assert_eq!(c.over_utilised.len(), 1);
    assert_eq!(c.over_utilised[0].hostname, "srv-app02");
    assert_eq!(c.over_utilised[0].reasons, ["cpu", "storage"]);
}

#[test]
fn carbon_totals_are_the_sum_of_the_host_estimates() {
    let e = estate();
    let r = build(&e.input);
    let c = &r.carbon;
    let onprem: Vec<&HostEstimate> = e
        .estimates
        .iter()
        .flatten()
        .filter(|x| x.onprem.method != crate::carbon::OnPremMethod::NotEstimated)
        .collect();
    // The container is not estimated; the desktop has no assessment.
    assert_eq!(onprem.len(), 3);
    assert_eq!(c.onprem.hosts, 3);
    assert_eq!(c.hosts_without_estimate, 2);
    let sum = |f: &dyn Fn(&HostEstimate) -> f64| onprem.iter().map(|x| f(x)).sum::<f64>();
    assert!(close(
        c.onprem.energy_kwh_per_year,
        sum(&|x| x.onprem.energy_kwh_per_year)
    ));
    assert!(close(
        c.onprem.location_kgco2e_per_year,
        sum(&|x| x.onprem.location_kgco2e_per_year)
    ));
    assert!(close(
        c.onprem.market_kgco2e_per_year,
        sum(&|x| x.onprem.market_kgco2e_per_year)
    ));
    assert!(close(
        c.onprem.embodied_kgco2e_per_year,
        sum(&|x| x.onprem.embodied_kgco2e_per_year)
    ));
    assert!(close(
        c.onprem.total_kgco2e_per_year,
        sum(&|x| x.onprem.total_kgco2e_per_year())
    ));
    assert!(c.onprem.low_kgco2e_per_year <= c.onprem.total_kgco2e_per_year);
    assert!(c.onprem.high_kgco2e_per_year >= c.onprem.total_kgco2e_per_year);
    assert_eq!(c.grid_year, Some(onprem[0].onprem.grid_year));

    // Every configured scenario has a row, in configured order.
    let names: Vec<&str> = c.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        e.input
            .scenarios
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    for s in &c.scenarios {
        let results: Vec<_> = e
            .estimates
            .iter()
            .flatten()
            .flat_map(|x| x.scenarios.iter().map(move |sc| (x, sc)))
            .filter(|(_, sc)| sc.name.as_str() == s.name)
            .filter(|(_, sc)| sc.instance.is_some() || s.kind == "retire")
            .collect();
        assert_eq!(s.scenario.hosts, results.len(), "{}", s.name);
        let saved: f64 = results.iter().map(|(_, sc)| sc.saved_kgco2e_per_year).sum();
        assert!(close(s.saved_kgco2e_per_year, saved), "{}", s.name);
        let stars: usize = s.confidence.iter().sum();
        assert_eq!(stars, s.scenario.hosts);
        let r = &s.readiness;
        assert_eq!(
            r.ready + r.conditionally_ready + r.not_ready + r.unknown,
            s.scenario.hosts
        );
    }
    // The idle physical server is a retire candidate; candidates are largest first.
    assert!(
        c.candidates
            .iter()
            .any(|k| k.hostname == "srv-db01" && k.scenario == "retire-idle")
    );
    assert!(
        c.candidates
            .windows(2)
            .all(|w| w[0].saved_kgco2e_per_year >= w[1].saved_kgco2e_per_year)
    );

    // Assumptions: every factor of every estimate, with its source.
    let used: std::collections::BTreeSet<&str> = e
        .estimates
        .iter()
        .flatten()
        .flat_map(|x| x.factors.iter().map(|f| f.name.as_str()))
        .collect();
    let listed: std::collections::BTreeSet<&str> = r
        .assumptions
        .factors
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(used, listed);
    assert!(
        r.assumptions
            .factors
            .iter()
            .all(|f| !f.source.is_empty() && f.hosts >= 1)
    );
}

#[test]
fn the_appendix_lists_every_host_worst_first_with_its_findings() {
    let r = build(&estate().input);
    let names: Vec<&str> = r.hosts.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(
        names,
        ["srv-app02", "srv-db01", "lap-0001", "ctr-01", "desk-0002"]
    );
    let app = &r.hosts[0];
    assert_eq!((app.failing, app.critical_failing), (2, 1));
    assert_eq!(app.findings[0].check, "security.a");
    assert_eq!(
        app.findings[0].evidence.as_deref(),
        Some("security.a failed")
    );
    assert!(close(app.findings[1].credit, 0.5));
    assert_eq!(app.host_type, "virtual server");
    assert!(r.hosts[1].carbon.iter().any(|c| c.case == "onprem"));
    assert!(r.hosts[4].assessed_at.is_none() && r.hosts[4].score.is_none());
    assert!(r.hosts[2].stale);
}

/// The estate a month earlier: the app server passed `capacity.c`, the database server
/// failed `security.a`, the laptop did not exist and `old-01` did.
fn previous_json() -> Vec<u8> {
    let mut e = estate();
    e.input.generated_at = now() - chrono::Duration::days(30);
    e.input.hosts.retain(|h| h.host_id != "h3");
    let mut old = e.input.hosts[0].clone();
    old.host_id = "old".to_owned();
    old.hostname = "old-01".to_owned();
    e.input.hosts.push(old);
    for h in &mut e.input.hosts {
        let Some(a) = h.assessment.as_mut() else {
            continue;
        };
        for r in &mut a.results {
            match (h.host_id.as_str(), r.check) {
                ("h2", 2) => (r.status, r.credit) = (Status::Pass, 1.0),
                ("h1", 0) => (r.status, r.credit) = (Status::Fail, 0.0),
                _ => {}
            }
        }
        if h.host_id == "h1" {
            (a.score, a.band) = (Some(0.2), Some(crate::checks::Band::Red));
        }
    }
    let report = build(&e.input);
    let mut out = Vec::new();
    render::json(&report, &mut out).unwrap();
    out
}

#[test]
fn what_changed_compares_with_the_previous_report_json() {
    let mut e = estate();
    e.input.previous = Some(PreviousReport::from_json(&previous_json()).unwrap());
    let r = build(&e.input);
    let c = r.changes.as_ref().unwrap();
    assert_eq!(c.previous_at, now() - chrono::Duration::days(30));
    assert_eq!(
        c.new_hosts
            .iter()
            .map(|h| h.hostname.as_str())
            .collect::<Vec<_>>(),
        ["lap-0001"]
    );
    assert_eq!(
        c.gone_hosts
            .iter()
            .map(|h| h.hostname.as_str())
            .collect::<Vec<_>>(),
        ["old-01"]
    );
    let failing: Vec<(&str, usize)> = c
        .newly_failing
        .iter()
        .map(|k| (k.id.as_str(), k.hosts))
        .collect();
    assert_eq!(failing, [("capacity.c", 1)]);
    let fixed: Vec<(&str, usize)> = c
        .newly_fixed
        .iter()
        .map(|k| (k.id.as_str(), k.hosts))
        .collect();
    assert_eq!(fixed, [("security.a", 1)]);
    assert_eq!((c.newly_failing_total, c.newly_fixed_total), (1, 1));
    assert_eq!(c.better.len(), 1);
    assert_eq!(
        (
            c.better[0].hostname.as_str(),
            c.better[0].from.as_str(),
            c.better[0].to.as_str()
        ),
        ("srv-db01", "red", "amber")
    );
    assert!(c.worse.is_empty());
    let t = r.summary.trend.as_ref().unwrap();
    assert_eq!(t.hosts_change, 0);
    assert!(close(
        t.score_change.unwrap(),
        r.summary.score.unwrap() - c.previous_score.unwrap()
    ));
    assert_eq!(r.history.len(), 2);
    assert_eq!(r.history[0].generated_at, c.previous_at);
    assert_eq!(r.history[1].generated_at, now());

    // A report read back keeps its history: the third report has three points.
    let mut json = Vec::new();
    render::json(&r, &mut json).unwrap();
    let mut third = estate();
    third.input.generated_at = now() + chrono::Duration::days(30);
    third.input.previous = Some(PreviousReport::from_json(&json).unwrap());
    let r3 = build(&third.input);
    assert_eq!(r3.history.len(), 3);
    assert!(r3.changes.as_ref().unwrap().new_hosts.is_empty());
}

#[test]
fn the_report_is_deterministic_and_its_json_round_trips() {
    let e = estate();
    let a = build(&e.input);
    let b = build(&e.input);
    assert_eq!(a, b);
    let mut json = Vec::new();
    render::json(&a, &mut json).unwrap();
    let back: Report = serde_json::from_slice(&json).unwrap();
    assert_eq!(back, a);
    assert_eq!(back.schema_version, model::REPORT_SCHEMA_VERSION);
}

#[test]
fn an_empty_estate_still_makes_a_report() {
    let mut e = estate();
    e.input.hosts.clear();
    let r = build(&e.input);
    assert_eq!(r.summary.hosts, 0);
    assert_eq!(r.summary.score, None);
    assert_eq!(r.carbon.onprem.hosts, 0);
    let html = render::html::render(&r);
    assert!(html.contains("No host has a score yet"));
    let md = render::markdown::render(&r);
    assert!(md.starts_with("# Test"));
}

#[test]
fn stored_assessment_json_reads_back_into_the_same_outcomes() {
    let e = estate();
    let index = input::check_index(&e.input.checks);
    let h = &e.input.hosts[1];
    let a = h.assessment.as_ref().unwrap();
    let res = &e.results[1].as_ref().unwrap();
    let detail = serde_json::json!({
        "assessed_at": a.assessed_at,
        "profile": "baseline",
        "score": {"score": a.score, "band": "red", "capped_by": ["security.a"]},
        "results": res,
        "improvements": [],
        "carbon": a.carbon,
        "facts": {
            "os": {"lifecycle": {"label": "Ubuntu 22.04 LTS"}, "end_of_support": "2027-06-01"},
            "utilisation": {"cpu_p95_ratio_series": 0.95, "memory_p95_ratio_series": 0.5, "series_span_seconds": 1_728_000.0},
            "storage": {"min_available_ratio": 0.05, "min_available_mount": "/var"},
            "hardware": {"disks": [], "memory_bytes": 68_719_476_736u64},
            "agent": {"stale": false},
            "software": {"packages": [{"name": "x"}]}
        }
    })
    .to_string();
    let (profile, back) = HostAssessment::from_detail_json(&detail, &index).unwrap();
    assert_eq!(profile, "baseline");
    assert_eq!(back.results, a.results);
    assert_eq!(back.score, a.score);
    assert_eq!(back.band, a.band);
    assert_eq!(back.facts.os_release.as_deref(), Some("Ubuntu 22.04 LTS"));
    assert_eq!(back.facts.os_end_of_support, Some(d(2027, 6, 1)));
    assert_eq!(back.facts.history_days, Some(20.0));
    assert_eq!(back.facts.memory_bytes, Some(64 << 30));
    assert_eq!(back.facts.stale, Some(false));
    assert_eq!(
        serde_json::to_value(&back.carbon).unwrap(),
        serde_json::to_value(&a.carbon).unwrap()
    );
    // A result of a check the profile does not have is left out.
    let other = detail.replace("\"capacity.c\"", "\"gone.check\"");
    let (_, fewer) = HostAssessment::from_detail_json(&other, &index).unwrap();
    assert_eq!(fewer.results.len(), a.results.len() - 1);

    // Read together, two estimates share one copy of each factor (the report loader's
    // memory at 100,000 hosts), and the report still counts each factor's hosts.
    let factors_of = |h: &HostAssessment| h.carbon.as_ref().unwrap().factors.clone();
    assert!(!factors_of(a).is_empty(), "the fixture has factors");
    let mut shared = input::FactorInterner::default();
    let (_, one) = HostAssessment::from_detail_json_shared(&detail, &index, &mut shared).unwrap();
    let (_, two) = HostAssessment::from_detail_json_shared(&detail, &index, &mut shared).unwrap();
    assert_eq!(shared.len(), factors_of(a).len());
    for (x, y) in factors_of(&one).iter().zip(factors_of(&two).iter()) {
        assert_eq!(x.addr(), y.addr(), "{} is not shared", x.name);
    }
    let mut together = e.input.clone();
    together.hosts = vec![h.clone(), h.clone()];
    together.hosts[0].assessment = Some(one);
    together.hosts[1].host_id = "twin".to_owned();
    together.hosts[1].assessment = Some(two);
    let report = build(&together);
    assert!(!report.assumptions.factors.is_empty());
    for f in &report.assumptions.factors {
        assert_eq!(f.hosts, 2, "{}", f.name);
    }
}

// ---------------------------------------------------------------------------------
// Renderers.

/// Every way the HTML could fetch something: `src`/`href`-like attributes (other than
/// in-page `#` links) inside tags, elements that load things, and `url(` or `@import` in
/// the style sheet or a style attribute. Text cannot hold a tag: `<` is escaped in it.
fn fetches(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        let tag_end = rest[i..].find('>').map_or(rest.len(), |j| i + j);
        let tag = rest[i..tag_end].to_ascii_lowercase();
        let name: String = tag[1..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if [
            "script", "link", "img", "iframe", "object", "embed", "image", "use", "video", "audio",
            "source",
        ]
        .contains(&name.as_str())
        {
            found.push(format!("<{name}>"));
        }
        for attr in [
            " src=",
            " href=",
            " srcset=",
            " action=",
            " poster=",
            " data=",
            " xlink:href=",
            " background=",
        ] {
            if let Some(a) = tag.find(attr) {
                let value = tag[a + attr.len()..].trim_start_matches(['"', '\'']);
                if !value.starts_with('#') {
                    found.push(format!("{name}{attr}{value}"));
                }
            }
        }
        if let Some(a) = tag.find(" style=")
            && (tag[a..].contains("url(") || tag[a..].contains("@import"))
        {
            found.push(format!("style attribute in <{name}>"));
        }
        rest = &rest[tag_end.min(rest.len())..];
        if rest.is_empty() {
            break;
        }
        rest = &rest[1..];
    }
    let lower = html.to_ascii_lowercase();
    if let (Some(a), Some(b)) = (lower.find("<style>"), lower.find("</style>")) {
        let sheet = &lower[a..b];
        for needle in ["url(", "@import", "http:", "https:"] {
            if sheet.contains(needle) {
                found.push(format!("{needle} in the style sheet"));
            }
        }
    }
    found
}

fn hostile() -> ReportInput {
    let mut e = estate();
    e.input.hosts[0].hostname = "<script>alert(1)</script>".to_owned();
    e.input.hosts[1].hostname = "a\"b'c&d<img src=https://evil.example/x.png>".to_owned();
    e.input.hosts[2].labels.insert(
        "site".to_owned(),
        "url(https://evil.example/) | *x*".to_owned(),
    );
    if let Some(a) = e.input.hosts[1].assessment.as_mut() {
        a.results[0].evidence = Some("<b>@import url(http://x)</b>".to_owned());
    }
    e.input
}

#[test]
fn html_is_self_contained_escaped_and_has_every_section() {
    let r = build(&hostile());
    let html = render::html::render(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(fetches(&html).is_empty(), "{:?}", fetches(&html));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("a&quot;b&#39;c&amp;d&lt;img src=https://evil.example/x.png&gt;"));
    assert!(html.contains("Test &lt;Council&gt; &amp; Co"));
    assert!(html.contains("@media print"));
    for id in [
        "summary",
        "risks",
        "checks",
        "lifecycle",
        "capacity",
        "carbon",
        "changes",
        "assumptions",
        "hosts",
    ] {
        assert!(html.contains(&format!("<section id=\"{id}\"")), "{id}");
    }
    assert!(html.contains("<svg class=\"chart\""));
    // Each host is in the appendix once.
    assert_eq!(html.matches("desk-0002").count(), 1);
}

#[test]
fn markdown_escapes_table_cells() {
    let r = build(&hostile());
    let md = render::markdown::render(&r);
    for line in md.lines().filter(|l| l.starts_with('|')) {
        // Escaped pipes do not split cells: every row of a table has as many cells.
        let cells = line.replace("\\|", "").matches('|').count();
        assert!(cells >= 3, "{line}");
    }
    assert!(md.contains("url(https://evil.example/) \\| \\*x\\*"));
    assert!(md.contains("\\<script\\>alert(1)\\</script\\>"));
    for heading in [
        "## Estate summary",
        "## Top risks",
        "## Checks across the fleet",
        "## Lifecycle",
        "## Capacity",
        "## Energy and carbon",
        "## What changed",
        "## Assumptions",
        "## Appendix",
    ] {
        assert!(md.contains(heading), "{heading}");
    }
}

#[test]
fn csv_files_parse_with_typed_columns() {
    let r = build(&hostile());
    for file in FILES {
        let mut out = Vec::new();
        render::csv::write(&r, file, &mut out).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(out.as_slice());
        let header: Vec<String> = reader
            .headers()
            .unwrap()
            .iter()
            .map(str::to_owned)
            .collect();
        assert_eq!(header, file.header(), "{}", file.file_name());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let expected = match file {
            CsvFile::Hosts => r.hosts.len(),
            CsvFile::Checks => r.checks.len(),
            CsvFile::CheckResults => r.hosts.iter().map(|h| h.findings.len()).sum(),
            CsvFile::Carbon => r.hosts.iter().map(|h| h.carbon.len()).sum(),
            CsvFile::Windows11 => r.windows11.as_ref().map_or(0, |w| w.hosts.len()),
        };
        assert_eq!(rows.len(), expected, "{}", file.file_name());
        for row in &rows {
            assert_eq!(row.len(), header.len());
            for (name, cell) in header.iter().zip(row.iter()) {
                if cell.is_empty() {
                    continue;
                }
                let numeric = [
                    "_ratio",
                    "_per_year",
                    "_years",
                    "_watts",
                    "_hosts",
                    "_checks",
                    "weight",
                    "_stars",
                ]
                .iter()
                .any(|s| name.ends_with(s));
                if numeric {
                    let v: f64 = cell.parse().unwrap_or_else(|_| panic!("{name}: {cell}"));
                    assert!(v.is_finite());
                    if name.ends_with("_ratio") {
                        assert!((0.0..=1.0).contains(&v), "{name}: {v}");
                    }
                } else if name == "last_seen" || name == "assessed_at" {
                    assert!(
                        DateTime::parse_from_rfc3339(cell).is_ok() && cell.ends_with('Z'),
                        "{cell}"
                    );
                } else if name == "os_end_of_support" {
                    assert!(
                        NaiveDate::parse_from_str(cell, "%Y-%m-%d").is_ok(),
                        "{cell}"
                    );
                } else if name == "stale" {
                    assert!(cell == "true" || cell == "false");
                }
            }
        }
    }
    // The hostile host name survives quoting.
    let mut out = Vec::new();
    render::csv::write(&r, CsvFile::Hosts, &mut out).unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert!(names.contains(&"a\"b'c&d<img src=https://evil.example/x.png>".to_owned()));
}
