//! Builds a [`Report`] from a [`ReportInput`]: every section's figures, from the hosts'
//! stored scores, check outcomes, facts and carbon estimates. Pure and deterministic:
//! the same input gives the same report.
//!
//! The estate score and "what raises it most" follow `checks::score_estate` and
//! `checks::estate_improvements` (host scores weighted by the criticality label; a fix's
//! gain is `weight × (1 − credit) / Σ weight` of each host failing it), computed on the
//! compact outcomes so that 100,000 hosts fit in memory; a test holds the two equal.
//! Carbon totals and candidates are [`crate::carbon::summarise`]'s.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, NaiveDate};
use serde::Serialize;

use crate::carbon::{FactorRef, HostEstimate, OnPremMethod, summarise};
use crate::checks::{Band, Category, Severity, Status};
use crate::report::changes::{self, PreviousReport};
use crate::report::input::{HostAssessment, HostFacts, ReportHost, ReportInput};
use crate::report::model::{
    Assumptions, Bands, Candidate, Capacity, CapacityRow, CarbonCase, CarbonFigures, CarbonSection,
    CategoryScore, Count, FactorRow, Finding, FleetCheck, Gain, HardwareEnd, HistoryPoint,
    HostBrief, HostRow, Lifecycle, NoteCount, OsEnd, REPORT_SCHEMA_VERSION, Readiness, Report,
    Risk, Risks, ScenarioRow, Summary,
};
use crate::report::windows11;

/// Rows of the "top risks" and "raises the score most" lists.
pub const TOP_ROWS: usize = 10;
/// Role labels that make a host an endpoint (as the check catalogue's predicate).
pub const ENDPOINT_ROLES: [&str; 6] = [
    "desktop",
    "laptop",
    "workstation",
    "endpoint",
    "kiosk",
    "vdi",
];
/// Days per year used for ages.
const DAYS_PER_YEAR: f64 = 365.25;

/// The name a serde enum serialises to.
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// What kind of host this is, as the summary counts it: `laptop`, `desktop`,
/// `virtual desktop`, `physical server`, `virtual server`, `container` or `unknown`.
pub fn host_type(host: &ReportHost) -> &'static str {
    let kind = host.machine_kind.as_deref();
    let chassis = host.chassis.as_deref();
    if kind == Some("container") {
        return "container";
    }
    let virtual_ = kind == Some("vm") || chassis == Some("virtual");
    let endpoint = chassis == Some("laptop")
        || match host.labels.get("role") {
            Some(role) => ENDPOINT_ROLES.contains(&role.as_str()),
            None => chassis == Some("desktop"),
        };
    match (endpoint, virtual_) {
        (true, _) if chassis == Some("laptop") => "laptop",
        (true, true) => "virtual desktop",
        (true, false) => "desktop",
        (false, true) => "virtual server",
        // Not an endpoint: a server, whatever its chassis says (a tower server reports
        // a desktop chassis and is told apart by its role label).
        (false, false) if kind == Some("physical") || chassis.is_some_and(|c| c != "unknown") => {
            "physical server"
        }
        (false, false) => "unknown",
    }
}

fn is_server(t: &str) -> bool {
    matches!(t, "physical server" | "virtual server")
}

/// The OS release a host counts under.
fn os_release(host: &ReportHost) -> String {
    host.assessment
        .as_ref()
        .and_then(|a| a.facts.os_release.clone())
        .or_else(|| host.os_name.clone())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn counted(map: BTreeMap<String, usize>) -> Vec<Count> {
    let mut v: Vec<Count> = map
        .into_iter()
        .map(|(name, hosts)| Count { name, hosts })
        .collect();
    v.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.name.cmp(&b.name)));
    v
}

/// Per check: hosts by status [pass, fail, not_applicable, waived, error].
fn fleet_counts(input: &ReportInput) -> Vec<[usize; 5]> {
    let mut counts = vec![[0usize; 5]; input.checks.len()];
    for a in input.hosts.iter().filter_map(|h| h.assessment.as_ref()) {
        for r in &a.results {
            if let Some(c) = counts.get_mut(r.check) {
                let i = match r.status {
                    Status::Pass => 0,
                    Status::Fail => 1,
                    Status::NotApplicable => 2,
                    Status::Waived => 3,
                    Status::Error => 4,
                };
                c[i] += 1;
            }
        }
    }
    counts
}

/// Σ weight of the results that count (pass and fail).
fn possible(input: &ReportInput, a: &HostAssessment) -> f64 {
    a.results
        .iter()
        .filter(|r| matches!(r.status, Status::Pass | Status::Fail))
        .filter_map(|r| input.checks.get(r.check))
        .map(|c| c.weight)
        .sum()
}

struct ScoreView {
    score: Option<f64>,
    categories: Vec<CategoryScore>,
    gains: Vec<(usize, f64, usize)>,
}

fn score_view(input: &ReportInput) -> ScoreView {
    let (mut sum, mut weights) = (0.0, 0.0);
    let mut cats: BTreeMap<Category, (f64, f64, usize)> = BTreeMap::new();
    let mut gains: Vec<(f64, usize)> = vec![(0.0, 0); input.checks.len()];
    let mut gain_weights = 0.0;
    for host in &input.hosts {
        let Some(a) = &host.assessment else { continue };
        let hw = input.scoring.host_weight(&host.labels);
        if let Some(s) = a.score {
            sum += hw * s;
            weights += hw;
        }
        let mut per_cat: BTreeMap<Category, (f64, f64)> = BTreeMap::new();
        for r in &a.results {
            let Some(c) = input.checks.get(r.check) else {
                continue;
            };
            if matches!(r.status, Status::Pass | Status::Fail) {
                let e = per_cat.entry(c.category).or_default();
                e.0 += c.weight * r.credit.clamp(0.0, 1.0);
                e.1 += c.weight;
            }
        }
        for (c, (earned, possible)) in per_cat {
            if possible > 0.0 {
                let e = cats.entry(c).or_default();
                e.0 += hw * earned / possible;
                e.1 += hw;
                e.2 += 1;
            }
        }
        let total = possible(input, a);
        if total <= 0.0 {
            continue;
        }
        gain_weights += hw;
        for r in a.results.iter().filter(|r| r.status == Status::Fail) {
            if let (Some(c), Some(g)) = (input.checks.get(r.check), gains.get_mut(r.check)) {
                g.0 += hw * c.weight * (1.0 - r.credit.clamp(0.0, 1.0)) / total;
                g.1 += 1;
            }
        }
    }
    let categories = Category::ALL
        .iter()
        .filter_map(|c| {
            cats.get(c)
                .filter(|(_, w, _)| *w > 0.0)
                .map(|(s, w, n)| CategoryScore {
                    category: c.as_str().to_owned(),
                    score: (s / w).clamp(0.0, 1.0),
                    hosts: *n,
                })
        })
        .collect();
    let gains = if gain_weights > 0.0 {
        gains
            .into_iter()
            .enumerate()
            .map(|(i, (g, n))| (i, g / gain_weights, n))
            .filter(|(_, g, _)| *g > 0.0)
            .collect()
    } else {
        Vec::new()
    };
    ScoreView {
        score: (weights > 0.0).then(|| (sum / weights).clamp(0.0, 1.0)),
        categories,
        gains,
    }
}

fn summary(input: &ReportInput, types: &[&'static str], view: &ScoreView) -> Summary {
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_os: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_site: BTreeMap<String, usize> = BTreeMap::new();
    let mut bands = Bands::default();
    let mut assessed = 0;
    let mut stale = 0;
    for (host, t) in input.hosts.iter().zip(types) {
        *by_type.entry((*t).to_owned()).or_default() += 1;
        *by_os.entry(os_release(host)).or_default() += 1;
        *by_site
            .entry(
                host.labels
                    .get("site")
                    .cloned()
                    .unwrap_or_else(|| "unknown".to_owned()),
            )
            .or_default() += 1;
        let band = host.assessment.as_ref().and_then(|a| a.band);
        match band {
            Some(Band::Green) => bands.green += 1,
            Some(Band::Amber) => bands.amber += 1,
            Some(Band::Red) => bands.red += 1,
            None => bands.unscored += 1,
        }
        if let Some(a) = &host.assessment {
            assessed += 1;
            if a.facts.stale == Some(true) {
                stale += 1;
            }
        }
    }
    Summary {
        hosts: input.hosts.len(),
        assessed_hosts: assessed,
        stale_hosts: stale,
        by_type: counted(by_type),
        by_os: counted(by_os),
        by_site: counted(by_site),
        score: view.score,
        band: view
            .score
            .map(|s| input.scoring.band(s).as_str().to_owned()),
        green_at: input.scoring.green_at,
        amber_at: input.scoring.amber_at,
        bands,
        categories: view.categories.clone(),
        trend: None,
    }
}

fn risks(input: &ReportInput, counts: &[[usize; 5]], view: &ScoreView) -> Risks {
    let mut top: Vec<Risk> = input
        .checks
        .iter()
        .zip(counts)
        .filter(|(c, n)| n[1] > 0 && c.weight > 0.0)
        .map(|(c, n)| Risk {
            id: c.id.clone(),
            title: c.title.clone(),
            category: c.category.as_str().to_owned(),
            severity: c.severity.as_str().to_owned(),
            failing_hosts: n[1],
            failing_ratio: n[1] as f64 / (n[0] + n[1]) as f64,
            remediation: c.remediation.clone(),
        })
        .collect();
    top.sort_by(|a, b| {
        let sev = |r: &Risk| Severity::parse(&r.severity).unwrap_or(Severity::Info);
        sev(a)
            .cmp(&sev(b))
            .then(b.failing_hosts.cmp(&a.failing_hosts))
            .then_with(|| a.id.cmp(&b.id))
    });
    top.truncate(TOP_ROWS);

    let mut gains: Vec<&(usize, f64, usize)> = view.gains.iter().collect();
    gains.sort_by(|a, b| {
        let sev = |i: usize| input.checks.get(i).map(|c| c.severity);
        b.1.total_cmp(&a.1)
            .then(b.2.cmp(&a.2))
            .then(sev(a.0).cmp(&sev(b.0)))
            .then_with(|| {
                let id = |i: usize| input.checks.get(i).map(|c| c.id.as_str());
                id(a.0).cmp(&id(b.0))
            })
    });
    let improvements = gains
        .into_iter()
        .take(TOP_ROWS)
        .filter_map(|(i, g, n)| {
            input.checks.get(*i).map(|c| Gain {
                id: c.id.clone(),
                title: c.title.clone(),
                severity: c.severity.as_str().to_owned(),
                gain: *g,
                failing_hosts: *n,
                remediation: c.remediation.clone(),
            })
        })
        .collect();

    let critical = |a: &HostAssessment| -> Vec<String> {
        a.results
            .iter()
            .filter(|r| r.status == Status::Fail)
            .filter_map(|r| input.checks.get(r.check))
            .filter(|c| c.severity == Severity::Critical)
            .map(|c| c.id.clone())
            .collect()
    };
    let mut scored: Vec<(&ReportHost, &HostAssessment, f64)> = input
        .hosts
        .iter()
        .filter_map(|h| {
            let a = h.assessment.as_ref()?;
            a.score.map(|s| (h, a, s))
        })
        .collect();
    let worst_n = TOP_ROWS.min(scored.len());
    let order = |x: &(&ReportHost, &HostAssessment, f64),
                 y: &(&ReportHost, &HostAssessment, f64)| {
        x.2.total_cmp(&y.2)
            .then_with(|| x.0.hostname.cmp(&y.0.hostname))
    };
    if worst_n > 0 && worst_n < scored.len() {
        scored.select_nth_unstable_by(worst_n - 1, order);
        scored.truncate(worst_n);
    }
    scored.sort_by(order);
    let worst_hosts = scored
        .into_iter()
        .map(|(h, a, s)| HostBrief {
            host_id: h.host_id.clone(),
            hostname: h.hostname.clone(),
            score: Some(s),
            band: a.band.map(|b| b.as_str().to_owned()),
            critical_failures: critical(a),
        })
        .collect();
    let hosts_with_critical_failures = input
        .hosts
        .iter()
        .filter_map(|h| h.assessment.as_ref())
        .filter(|a| {
            a.results.iter().any(|r| {
                r.status == Status::Fail
                    && input
                        .checks
                        .get(r.check)
                        .is_some_and(|c| c.severity == Severity::Critical)
            })
        })
        .count();
    Risks {
        top,
        improvements,
        worst_hosts,
        hosts_with_critical_failures,
    }
}

fn fleet(input: &ReportInput, counts: &[[usize; 5]]) -> Vec<FleetCheck> {
    input
        .checks
        .iter()
        .zip(counts)
        .map(|(c, n)| FleetCheck {
            id: c.id.clone(),
            title: c.title.clone(),
            category: c.category.as_str().to_owned(),
            severity: c.severity.as_str().to_owned(),
            weight: c.weight,
            pass: n[0],
            fail: n[1],
            not_applicable: n[2],
            waived: n[3],
            error: n[4],
            pass_ratio: (n[0] + n[1] > 0).then(|| n[0] as f64 / (n[0] + n[1]) as f64),
        })
        .collect()
}

fn lifecycle(input: &ReportInput) -> Lifecycle {
    let s = &input.settings;
    let today = input.generated_at.date_naive();
    type OsKey = (Option<NaiveDate>, String, Option<NaiveDate>);
    let mut os: BTreeMap<OsKey, usize> = BTreeMap::new();
    let (mut ended, mut ending, mut unknown) = (0, 0, 0);
    let refresh_days = s.refresh_age_years * DAYS_PER_YEAR;
    // model -> (hosts, overdue, oldest bios, first due)
    let mut hw: BTreeMap<String, (usize, usize, Option<NaiveDate>, Option<NaiveDate>)> =
        BTreeMap::new();
    let (mut hw_overdue, mut hw_due, mut hw_unknown) = (0, 0, 0);
    for host in &input.hosts {
        let Some(a) = &host.assessment else { continue };
        let f = &a.facts;
        match f.os_end_of_support {
            None => unknown += 1,
            Some(end) => {
                let days = (end - today).num_days();
                if days <= s.horizon_days {
                    if days < 0 {
                        ended += 1;
                    } else {
                        ending += 1;
                    }
                    *os.entry((Some(end), os_release(host), f.os_extended_support_end))
                        .or_default() += 1;
                }
            }
        }
        let physical = host.machine_kind.as_deref() == Some("physical");
        match f.hardware_age_days {
            Some(age) => {
                let age = age as f64;
                if age + s.horizon_days as f64 >= refresh_days {
                    let overdue = age >= refresh_days;
                    if overdue {
                        hw_overdue += 1;
                    } else {
                        hw_due += 1;
                    }
                    let model = format!(
                        "{} {}",
                        f.hardware_vendor.as_deref().unwrap_or("unknown vendor"),
                        f.hardware_model.as_deref().unwrap_or("unknown model")
                    );
                    let due = today
                        .checked_add_signed(Duration::days((refresh_days - age).round() as i64));
                    let e = hw.entry(model).or_insert((0, 0, None, None));
                    e.0 += 1;
                    e.1 += usize::from(overdue);
                    e.2 = min_date(e.2, f.bios_date);
                    e.3 = min_date(e.3, due);
                }
            }
            None if physical => hw_unknown += 1,
            None => {}
        }
    }
    let os = os
        .into_iter()
        .map(|((end, release, extended), hosts)| {
            let days_left = end.map(|e| (e - today).num_days());
            OsEnd {
                release,
                end_of_support: end,
                extended_support_end: extended,
                days_left,
                status: if days_left.is_some_and(|d| d < 0) {
                    "ended"
                } else {
                    "ending"
                }
                .to_owned(),
                hosts,
            }
        })
        .collect();
    let mut hardware: Vec<HardwareEnd> = hw
        .into_iter()
        .map(|(model, (hosts, overdue, oldest, due))| HardwareEnd {
            model,
            hosts,
            overdue,
            oldest_bios_date: oldest,
            first_due: due,
        })
        .collect();
    hardware.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.model.cmp(&b.model)));
    Lifecycle {
        horizon_days: s.horizon_days,
        refresh_age_years: s.refresh_age_years,
        os_ended_hosts: ended,
        os_ending_hosts: ending,
        os_unknown_hosts: unknown,
        os,
        hardware_overdue_hosts: hw_overdue,
        hardware_due_hosts: hw_due,
        hardware_unknown_hosts: hw_unknown,
        hardware,
    }
}

fn min_date(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn gib(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / crate::carbon::BYTES_PER_GIB)
}

fn capacity(input: &ReportInput, types: &[&'static str]) -> Capacity {
    let s = &input.settings;
    let mut under = Vec::new();
    let mut over = Vec::new();
    let (mut with_history, mut without) = (0, 0);
    for (host, t) in input.hosts.iter().zip(types) {
        let Some(a) = &host.assessment else { continue };
        let f = &a.facts;
        let row = |reasons: Vec<String>| CapacityRow {
            host_id: host.host_id.clone(),
            hostname: host.hostname.clone(),
            cpu_p95_ratio: f.cpu_p95_ratio,
            memory_p95_ratio: f.memory_p95_ratio,
            memory_gib: gib(f.memory_bytes),
            min_available_ratio: f.min_available_ratio,
            min_available_mount: f.min_available_mount.clone(),
            reasons,
        };
        if is_server(t) {
            let enough = f.cpu_p95_ratio.is_some()
                && f.history_days.is_some_and(|d| d >= s.min_history_days);
            if enough {
                with_history += 1;
                if f.cpu_p95_ratio.is_some_and(|c| c < s.idle_cpu_p95_below) {
                    under.push(row(vec!["idle".to_owned()]));
                }
            } else {
                without += 1;
            }
        }
        if *t == "container" {
            continue;
        }
        let mut reasons = Vec::new();
        if f.cpu_p95_ratio.is_some_and(|c| c >= s.busy_cpu_p95_at) {
            reasons.push("cpu".to_owned());
        }
        if f.memory_p95_ratio
            .is_some_and(|m| m >= s.busy_memory_p95_at)
        {
            reasons.push("memory".to_owned());
        }
        if f.min_available_ratio
            .is_some_and(|r| r < s.min_available_ratio)
        {
            reasons.push("storage".to_owned());
        }
        if !reasons.is_empty() {
            over.push(row(reasons));
        }
    }
    let key = |r: &CapacityRow| r.cpu_p95_ratio.unwrap_or(f64::INFINITY);
    under.sort_by(|a, b| {
        key(a)
            .total_cmp(&key(b))
            .then_with(|| a.hostname.cmp(&b.hostname))
    });
    let pressure = |r: &CapacityRow| {
        r.cpu_p95_ratio
            .unwrap_or(0.0)
            .max(r.memory_p95_ratio.unwrap_or(0.0))
            .max(1.0 - r.min_available_ratio.unwrap_or(1.0))
    };
    over.sort_by(|a, b| {
        pressure(b)
            .total_cmp(&pressure(a))
            .then_with(|| a.hostname.cmp(&b.hostname))
    });
    Capacity {
        idle_cpu_p95_below: s.idle_cpu_p95_below,
        min_history_days: s.min_history_days,
        busy_cpu_p95_at: s.busy_cpu_p95_at,
        busy_memory_p95_at: s.busy_memory_p95_at,
        min_available_ratio: s.min_available_ratio,
        servers_with_history: with_history,
        servers_without_history: without,
        under_utilised: under,
        over_utilised: over,
    }
}

fn figures(t: &crate::carbon::Totals) -> CarbonFigures {
    CarbonFigures {
        hosts: t.hosts,
        power_watts: t.power_watts,
        energy_kwh_per_year: t.energy_kwh_per_year,
        location_kgco2e_per_year: t.location_kgco2e_per_year,
        market_kgco2e_per_year: t.market_kgco2e_per_year,
        embodied_kgco2e_per_year: t.embodied_kgco2e_per_year,
        total_kgco2e_per_year: t.location_kgco2e_per_year + t.embodied_kgco2e_per_year,
        low_kgco2e_per_year: t.low,
        high_kgco2e_per_year: t.high,
    }
}

fn carbon(input: &ReportInput, estimates: &[&HostEstimate]) -> CarbonSection {
    let sum = summarise(
        estimates.iter().copied(),
        Some(input.settings.max_candidates),
    );
    let names: HashMap<&str, &str> = input
        .hosts
        .iter()
        .map(|h| (h.host_id.as_str(), h.hostname.as_str()))
        .collect();
    let mut years: BTreeMap<i32, usize> = BTreeMap::new();
    let mut confidence: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    for e in estimates {
        if e.onprem.method != OnPremMethod::NotEstimated {
            *years.entry(e.onprem.grid_year).or_default() += 1;
        }
        for s in &e.scenarios {
            let placed = s.instance.is_some() || s.kind == crate::carbon::ScenarioKind::Retire;
            if placed {
                let c = confidence.entry(s.name.as_str()).or_default();
                let i = usize::from(s.confidence.clamp(1, 5)) - 1;
                c[i] += 1;
            }
        }
    }
    let row = |t: &crate::carbon::ScenarioTotals| {
        let onprem = t.onprem_kgco2e_per_year;
        ScenarioRow {
            name: t.name.to_string(),
            kind: name(&t.kind),
            provider: t.provider.map(|p| name(&p)),
            region: t.region.as_ref().map(ToString::to_string),
            scenario: figures(&t.totals),
            onprem_kgco2e_per_year: onprem,
            saved_kgco2e_per_year: t.saved_kgco2e_per_year,
            saved_ratio: (onprem > 0.0).then(|| t.saved_kgco2e_per_year / onprem),
            unplaced_hosts: t.unplaced_hosts,
            readiness: Readiness {
                ready: t.readiness.ready,
                conditionally_ready: t.readiness.conditionally_ready,
                not_ready: t.readiness.not_ready,
                unknown: t.readiness.unknown,
            },
            confidence: confidence.get(t.name.as_str()).copied().unwrap_or_default(),
        }
    };
    let mut scenarios: Vec<ScenarioRow> = Vec::new();
    for wanted in &input.scenarios {
        match sum.scenarios.iter().find(|t| t.name.as_str() == wanted) {
            Some(t) => scenarios.push(row(t)),
            None => scenarios.push(ScenarioRow {
                name: wanted.clone(),
                kind: "unknown".to_owned(),
                provider: None,
                region: None,
                scenario: CarbonFigures::default(),
                onprem_kgco2e_per_year: 0.0,
                saved_kgco2e_per_year: 0.0,
                saved_ratio: None,
                unplaced_hosts: 0,
                readiness: Readiness::default(),
                confidence: [0; 5],
            }),
        }
    }
    for t in &sum.scenarios {
        if !input.scenarios.iter().any(|s| s == t.name.as_str()) {
            scenarios.push(row(t));
        }
    }
    let candidates = sum
        .candidates
        .iter()
        .map(|c| Candidate {
            host_id: c.host_id.clone(),
            hostname: names
                .get(c.host_id.as_str())
                .map_or_else(|| c.host_id.clone(), |n| (*n).to_owned()),
            scenario: c.scenario.to_string(),
            instance: c.instance.as_ref().map(ToString::to_string),
            saved_kgco2e_per_year: c.saved_kgco2e_per_year,
            readiness: name(&c.readiness),
            confidence: c.confidence,
        })
        .collect();
    let grid_year = years
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)))
        .map(|(y, _)| y);
    CarbonSection {
        grid_year,
        hosts_without_estimate: input.hosts.len().saturating_sub(sum.onprem.hosts),
        onprem: figures(&sum.onprem),
        scenarios,
        candidates,
    }
}

/// What a note means, for readers of the report (`carbon::Note`'s documentation).
pub fn note_meaning(note: &str) -> &'static str {
    match note {
        "cpu_family_match" => {
            "Only the CPU's microarchitecture was recognised: its family's mean TDP per core."
        }
        "cpu_not_matched" => "The CPU was not recognised: generic values.",
        "cpu_from_archetype" => "The report gave no CPU: the chassis archetype's.",
        "memory_from_archetype" => "The report gave no memory: the archetype's.",
        "disks_from_archetype" => "The report gave no disks: the archetype's.",
        "generic_coefficients" => {
            "The microarchitecture has no published per-vCPU watts: generic values."
        }
        "utilisation_unknown" => "No CPU utilisation: the method's default (0.5, range 0.1–0.9).",
        "gpu_model_unknown" => "A GPU's model is not in the table: counted as 0 W.",
        "gpu_utilisation_unknown" => "A GPU's utilisation is not known: counted at idle.",
        "gpu_modelled" => "RAPL was measured but NVML was not: GPUs are modelled.",
        "measured_implausible" => {
            "RAPL read next to nothing (counters that did not move): modelled instead."
        }
        "container" => "A container: its power belongs to its host.",
        "cpu_sized_as_onprem" => "No CPU percentile: sized with as many vCPUs as the host has.",
        "memory_sized_as_onprem" => {
            "No memory percentile: sized with as much memory as the host has."
        }
        "no_instance_fits" => "No instance of the scenario's families fits.",
        _ => "See docs/methodology.md.",
    }
}

fn assumptions(
    input: &ReportInput,
    estimates: &[&HostEstimate],
    grid_year: Option<i32>,
) -> Assumptions {
    type FactorKey = (String, String, String, u64);
    let mut factors: BTreeMap<FactorKey, (f64, String, usize)> = BTreeMap::new();
    let mut notes: BTreeMap<String, usize> = BTreeMap::new();
    let mut methods: BTreeMap<String, usize> = BTreeMap::new();
    // Counted by reference first: estimates read back together share their factors, so
    // the text of each is compared once, not once per host.
    let mut uses: HashMap<usize, (&FactorRef, usize)> = HashMap::new();
    for e in estimates {
        for f in e.factors.iter() {
            uses.entry(f.addr()).or_insert((f, 0)).1 += 1;
        }
    }
    for (f, n) in uses.into_values() {
        let key = (
            f.name.clone(),
            f.source.clone(),
            f.version.clone(),
            f.value.to_bits(),
        );
        factors
            .entry(key)
            .or_insert_with(|| (f.value, f.unit.clone(), 0))
            .2 += n;
    }
    for e in estimates {
        for n in &e.onprem.notes {
            *notes.entry(name(n)).or_default() += 1;
        }
        *methods.entry(name(&e.onprem.method)).or_default() += 1;
    }
    let mut notes: Vec<NoteCount> = notes
        .into_iter()
        .map(|(note, hosts)| NoteCount {
            meaning: note_meaning(&note).to_owned(),
            note,
            hosts,
        })
        .collect();
    notes.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.note.cmp(&b.note)));
    let cap = match input.scoring.critical_failure_cap {
        Some(b) => format!("a failed critical check caps a host at {}", b.as_str()),
        None => "failed critical checks do not cap a host's band".to_owned(),
    };
    let mut statements = vec![
        format!(
            "Scores are the weighted share of applicable checks passed (profile “{}”): green from {:.0} %, amber from {:.0} %, red below; {cap}. The estate score averages host scores weighted by the “{}” label.",
            input.profile,
            input.scoring.green_at * 100.0,
            input.scoring.amber_at * 100.0,
            input.scoring.criticality_label
        ),
        "OS support dates come from the OS lifecycle table (config/data/os-lifecycle.toml, each entry with its source); hardware age is read from the BIOS date, a proxy for purchase (a BIOS update makes a machine look younger).".to_owned(),
        format!(
            "Capacity: CPU and memory are the 95th percentile over the utilisation history; a server is under-utilised below {:.0} % CPU with at least {:.0} days of history; over-utilised at {:.0} % CPU or {:.0} % memory, or with a filesystem under {:.0} % free.",
            input.settings.idle_cpu_p95_below * 100.0,
            input.settings.min_history_days,
            input.settings.busy_cpu_p95_at * 100.0,
            input.settings.busy_memory_p95_at * 100.0,
            input.settings.min_available_ratio * 100.0
        ),
    ];
    statements.push(match grid_year {
        Some(y) => format!(
            "Energy and carbon follow method estate-carbon-v1 (docs/methodology.md): location-based emissions use the UK grid factor of {y}; market-based use each site's supplier factor where configured (else the same factor) and the providers' claims in the cloud; embodied emissions are amortised over the asset's life."
        ),
        None => "Energy and carbon follow method estate-carbon-v1 (docs/methodology.md); no host had an estimate.".to_owned(),
    });
    statements.push("Savings compare the same hosts on-premises and in the scenario, location-based plus embodied. Low and high bound the parameters' ranges, not the error. Readiness follows the method's readiness rules; confidence (1–5 stars) is the share of utilisation samples received.".to_owned());
    Assumptions {
        method: "estate-carbon-v1".to_owned(),
        statements,
        methods: counted(methods),
        notes,
        factors: factors
            .into_iter()
            .map(
                |((name, source, version, _), (value, unit, hosts))| FactorRow {
                    name,
                    value,
                    unit,
                    source,
                    version,
                    hosts,
                },
            )
            .collect(),
    }
}

fn findings(input: &ReportInput, a: &HostAssessment) -> Vec<Finding> {
    let rank = |s: Status| match s {
        Status::Fail => 0,
        Status::Error => 1,
        _ => 2,
    };
    let mut list: Vec<(u8, Severity, &str, &crate::report::input::CheckOutcome)> = a
        .results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Error | Status::Waived))
        .filter_map(|r| {
            input
                .checks
                .get(r.check)
                .map(|c| (rank(r.status), c.severity, c.id.as_str(), r))
        })
        .collect();
    list.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    list.into_iter()
        .map(|(_, severity, id, r)| Finding {
            check: id.to_owned(),
            severity: severity.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            credit: r.credit,
            evidence: r.evidence.clone(),
        })
        .collect()
}

fn carbon_cases(e: &HostEstimate) -> Vec<CarbonCase> {
    let o = &e.onprem;
    let mut cases = Vec::with_capacity(1 + e.scenarios.len());
    if o.method != OnPremMethod::NotEstimated {
        cases.push(CarbonCase {
            case: "onprem".to_owned(),
            method_or_instance: Some(name(&o.method)),
            power_watts: o.power_watts,
            energy_kwh_per_year: o.energy_kwh_per_year,
            location_kgco2e_per_year: o.location_kgco2e_per_year,
            market_kgco2e_per_year: o.market_kgco2e_per_year,
            embodied_kgco2e_per_year: o.embodied_kgco2e_per_year,
            low_kgco2e_per_year: o.low,
            high_kgco2e_per_year: o.high,
            saved_kgco2e_per_year: None,
            readiness: None,
            confidence: None,
        });
    }
    for s in &e.scenarios {
        cases.push(CarbonCase {
            case: s.name.to_string(),
            method_or_instance: s.instance.as_ref().map(ToString::to_string),
            power_watts: s.power_watts,
            energy_kwh_per_year: s.energy_kwh_per_year,
            location_kgco2e_per_year: s.location_kgco2e_per_year,
            market_kgco2e_per_year: s.market_kgco2e_per_year,
            embodied_kgco2e_per_year: s.embodied_kgco2e_per_year,
            low_kgco2e_per_year: s.low,
            high_kgco2e_per_year: s.high,
            saved_kgco2e_per_year: Some(s.saved_kgco2e_per_year),
            readiness: Some(name(&s.readiness)),
            confidence: Some(s.confidence),
        });
    }
    cases
}

fn host_rows(input: &ReportInput, types: &[&'static str]) -> Vec<HostRow> {
    input
        .hosts
        .iter()
        .zip(types)
        .map(|(host, t)| {
            let a = host.assessment.as_ref();
            let findings = a.map(|a| findings(input, a)).unwrap_or_default();
            let failing = findings.iter().filter(|f| f.status == "fail");
            let carbon = a.and_then(|a| a.carbon.as_ref());
            let onprem = carbon
                .map(|e| &e.onprem)
                .filter(|o| o.method != OnPremMethod::NotEstimated);
            let best = carbon.and_then(|e| {
                e.scenarios
                    .iter()
                    .filter(|s| s.saved_kgco2e_per_year > 0.0)
                    .max_by(|x, y| {
                        x.saved_kgco2e_per_year
                            .total_cmp(&y.saved_kgco2e_per_year)
                            .then_with(|| y.name.cmp(&x.name))
                    })
            });
            HostRow {
                host_id: host.host_id.clone(),
                hostname: host.hostname.clone(),
                host_type: (*t).to_owned(),
                os: os_release(host),
                site: host.labels.get("site").cloned(),
                role: host.labels.get("role").cloned(),
                last_seen: host.last_seen,
                stale: a.is_some_and(|a| a.facts.stale == Some(true)),
                assessed_at: a.map(|a| a.assessed_at),
                score: a.and_then(|a| a.score),
                band: a.and_then(|a| a.band).map(|b| b.as_str().to_owned()),
                failing: failing.clone().count(),
                critical_failing: failing.filter(|f| f.severity == "critical").count(),
                findings,
                os_end_of_support: a.and_then(|a| a.facts.os_end_of_support),
                hardware_age_years: a
                    .and_then(|a| a.facts.hardware_age_days)
                    .map(|d| d as f64 / DAYS_PER_YEAR),
                cpu_p95_ratio: a.and_then(|a| a.facts.cpu_p95_ratio),
                memory_p95_ratio: a.and_then(|a| a.facts.memory_p95_ratio),
                energy_kwh_per_year: onprem.map(|o| o.energy_kwh_per_year),
                onprem_kgco2e_per_year: onprem.map(|o| o.total_kgco2e_per_year()),
                best_scenario: best.map(|s| s.name.to_string()),
                best_saving_kgco2e_per_year: best.map(|s| s.saved_kgco2e_per_year),
                carbon: carbon.map(carbon_cases).unwrap_or_default(),
            }
        })
        .collect()
}

/// The Windows 11 readiness of the Windows 10 hosts; a host without an assessment has
/// no facts, so every requirement is unknown for it.
fn windows11_view(input: &ReportInput) -> Option<crate::report::model::Windows11Readiness> {
    let none = HostFacts::default();
    windows11::readiness(
        input
            .hosts
            .iter()
            .map(|h| (h, h.assessment.as_ref().map_or(&none, |a| &a.facts))),
    )
}

/// Builds the report.
pub fn build(input: &ReportInput) -> Report {
    let types: Vec<&'static str> = input.hosts.iter().map(host_type).collect();
    let counts = fleet_counts(input);
    let view = score_view(input);
    let mut summary = summary(input, &types, &view);
    let estimates: Vec<&HostEstimate> = input
        .hosts
        .iter()
        .filter_map(|h| h.assessment.as_ref()?.carbon.as_ref())
        .collect();
    let carbon = carbon(input, &estimates);
    let assumptions = assumptions(input, &estimates, carbon.grid_year);
    let mut hosts = host_rows(input, &types);
    let now = HistoryPoint {
        generated_at: input.generated_at,
        score: summary.score,
        hosts: summary.hosts,
        red_hosts: summary.bands.red,
        onprem_kgco2e_per_year: carbon.onprem.total_kgco2e_per_year,
    };
    let previous: Option<&PreviousReport> = input.previous.as_ref();
    summary.trend = previous.map(|p| changes::trend(p, &now));
    let changes = previous.map(|p| changes::changes(input, &hosts, summary.score, p));
    let history = changes::history(previous, now);
    hosts.sort_by(|a, b| match (a.score, b.score) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.hostname.cmp(&b.hostname)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.hostname.cmp(&b.hostname),
    });
    Report {
        schema_version: REPORT_SCHEMA_VERSION,
        generated_at: input.generated_at,
        title: input.title.clone(),
        profile: input.profile.clone(),
        risks: risks(input, &counts, &view),
        checks: fleet(input, &counts),
        lifecycle: lifecycle(input),
        windows11: windows11_view(input),
        capacity: capacity(input, &types),
        summary,
        carbon,
        assumptions,
        changes,
        history,
        hosts,
    }
}
