//! The estate's check view from stored assessments: fleet counts per check and status,
//! hosts by band, the estate score, and which checks would raise it most if fixed
//! everywhere; and its carbon view from the stored estimates (totals on-premises and per
//! configured scenario, candidates). Pure: the caller reads the store.
//!
//! Stored assessments keep each host's score and each check's status, not its credit, so
//! the estate gain of fixing a check treats a failed score-type check as zero credit: for
//! those checks the gain shown is an upper bound (documented in `docs/checks.md`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::carbon::{
    Candidate, EstateSummary, Estimator, HostEstimate, ScenarioTotals, Totals, summarise,
};
use crate::checks::{Plan, ScoringConfig};
use crate::store::{AssessmentRecord, CarbonRecord, HostRecord};

/// One check across the fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetCheck {
    /// The check's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: String,
    /// Its severity.
    pub severity: String,
    /// The weight in the collector's profile.
    pub weight: f64,
    /// Its tags.
    pub tags: Vec<String>,
    /// Hosts by status (`pass`, `fail`, `not_applicable`, `waived`, `error`).
    pub hosts: BTreeMap<String, u64>,
}

/// A check ranked by the estate score it would add if it passed on every host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstateGain {
    /// The check's id.
    pub id: String,
    /// Estate score gained (0–1) if fixed everywhere.
    pub gain: f64,
    /// Hosts where it fails.
    pub failing_hosts: u64,
}

/// The estate's score view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstateScoreView {
    /// The profile evaluated.
    pub profile: String,
    /// Mean of host scores weighted by the criticality label; `None` without scores.
    pub score: Option<f64>,
    /// Hosts by band (`green`, `amber`, `red`, `unscored`).
    pub bands: BTreeMap<String, u64>,
    /// Hosts assessed.
    pub hosts_assessed: u64,
    /// Checks ranked by estate score gained if fixed everywhere (best first).
    pub improvements: Vec<EstateGain>,
}

/// The stored carbon estimates, read back; and the hosts whose stored estimate could
/// not be read (with why), for the caller to log.
pub fn read_estimates(records: &[CarbonRecord]) -> (Vec<HostEstimate>, Vec<(String, String)>) {
    let mut estimates = Vec::with_capacity(records.len());
    let mut unreadable = Vec::new();
    for r in records {
        match serde_json::from_str::<HostEstimate>(&r.carbon_json) {
            Ok(e) => estimates.push(e),
            Err(e) => unreadable.push((r.host_id.clone(), e.to_string())),
        }
    }
    (estimates, unreadable)
}

/// The estate's carbon totals (`GET /api/v1/carbon`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarbonView {
    /// Hosts with a stored estimate (containers included, though not counted below).
    pub hosts_estimated: usize,
    /// On-premises today: every estimated host but containers.
    pub onprem: Totals,
    /// Per configured scenario, in config order, over the hosts it places (or retires):
    /// totals, the same hosts on-premises, the saving, unplaced hosts, and hosts by
    /// readiness and confidence.
    pub scenarios: Vec<ScenarioTotals>,
}

/// Adds up `estimates` over the scenarios `estimator` has configured; keeps no
/// candidates.
pub fn carbon_view(estimates: &[HostEstimate], estimator: &Estimator) -> CarbonView {
    carbon_view_of(estimates, estimator)
}

/// [`carbon_view`] over any sequence of estimates (the estate index's).
pub fn carbon_view_of<'a>(
    estimates: impl IntoIterator<Item = &'a HostEstimate>,
    estimator: &Estimator,
) -> CarbonView {
    let mut hosts_estimated = 0;
    let counted = estimates.into_iter().inspect(|_| hosts_estimated += 1);
    let summary: EstateSummary =
        summarise(counted, Some(0)).for_scenarios(estimator.empty_totals());
    CarbonView {
        hosts_estimated,
        onprem: summary.onprem,
        scenarios: summary.scenarios,
    }
}

/// Migration (or retirement) candidates (`GET /api/v1/carbon/candidates`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateList {
    /// The scenario asked for (`null`: every configured scenario).
    pub scenario: Option<String>,
    /// Candidates in all (hosts with a positive saving in the scenario(s)).
    pub total: usize,
    /// The best `limit` of them, largest saving first.
    pub candidates: Vec<Candidate>,
}

/// The best `limit` candidates of `scenario` (every configured one when `None`).
pub fn candidate_list(
    estimates: &[HostEstimate],
    estimator: &Estimator,
    scenario: Option<&str>,
    limit: usize,
) -> CandidateList {
    let configured: Vec<&str> = estimator.scenario_names().collect();
    // Estimates stored before a reload may name scenarios no longer configured.
    let (total, candidates) = match scenario {
        Some(name) => crate::carbon::candidates(estimates, Some(name), Some(limit)),
        None => {
            let (_, all) = crate::carbon::candidates(estimates, None, None);
            let all: Vec<Candidate> = all
                .into_iter()
                .filter(|c| configured.contains(&c.scenario.as_str()))
                .collect();
            let total = all.len();
            (total, all.into_iter().take(limit).collect())
        }
    };
    CandidateList {
        scenario: scenario.map(str::to_owned),
        total,
        candidates,
    }
}

/// Every check of `plan` with its fleet counts from `assessments`.
pub fn fleet_checks(plan: &Plan, assessments: &[AssessmentRecord]) -> Vec<FleetCheck> {
    let mut counts: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for a in assessments {
        for (check, status) in &a.statuses {
            *counts
                .entry(check.as_str())
                .or_default()
                .entry(status.clone())
                .or_default() += 1;
        }
    }
    plan.checks()
        .map(|p| {
            let id = p.check.id.to_string();
            let mut hosts: BTreeMap<String, u64> =
                ["pass", "fail", "not_applicable", "waived", "error"]
                    .into_iter()
                    .map(|s| (s.to_owned(), 0))
                    .collect();
            if let Some(c) = counts.get(id.as_str()) {
                for (status, n) in c {
                    *hosts.entry(status.clone()).or_default() += n;
                }
            }
            FleetCheck {
                title: p.check.title.clone(),
                category: p.check.category.as_str().to_owned(),
                severity: p.check.severity.as_str().to_owned(),
                weight: p.weight,
                tags: p.check.tags.clone(),
                id,
                hosts,
            }
        })
        .collect()
}

/// The estate score, bands and improvements. `hosts` gives the labels for the
/// criticality weight (hosts without an assessment are left out).
pub fn score_view(
    plan: &Plan,
    scoring: &ScoringConfig,
    assessments: &[AssessmentRecord],
    hosts: &[HostRecord],
) -> EstateScoreView {
    let weights: BTreeMap<String, f64> = plan
        .checks()
        .map(|p| (p.check.id.to_string(), p.weight))
        .collect();
    let labels: BTreeMap<&str, &BTreeMap<String, String>> = hosts
        .iter()
        .map(|h| (h.host_id.as_str(), &h.labels))
        .collect();
    let host_weight = |host_id: &str| -> f64 {
        labels
            .get(host_id)
            .and_then(|l| l.get(&scoring.criticality_label))
            .and_then(|v| scoring.criticality_weights.get(v))
            .copied()
            .unwrap_or(scoring.default_host_weight)
    };
    let mut bands: BTreeMap<String, u64> = ["green", "amber", "red", "unscored"]
        .into_iter()
        .map(|b| (b.to_owned(), 0))
        .collect();
    let (mut sum, mut total_weight) = (0.0, 0.0);
    let mut gains: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for a in assessments {
        *bands
            .entry(a.band.clone().unwrap_or_else(|| "unscored".to_owned()))
            .or_default() += 1;
        let Some(score) = a.score else { continue };
        let hw = host_weight(&a.host_id);
        sum += hw * score;
        total_weight += hw;
        let possible: f64 = a
            .statuses
            .iter()
            .filter(|(_, s)| *s == "pass" || *s == "fail")
            .filter_map(|(c, _)| weights.get(c))
            .sum();
        if possible <= 0.0 {
            continue;
        }
        for (check, status) in &a.statuses {
            if status == "fail"
                && let Some(w) = weights.get(check)
            {
                let entry = gains.entry(check.as_str()).or_default();
                entry.0 += hw * w / possible;
                entry.1 += 1;
            }
        }
    }
    let mut improvements: Vec<EstateGain> = gains
        .into_iter()
        .filter(|(_, (g, _))| *g > 0.0)
        .map(|(id, (g, n))| EstateGain {
            id: id.to_owned(),
            gain: if total_weight > 0.0 {
                g / total_weight
            } else {
                0.0
            },
            failing_hosts: n,
        })
        .collect();
    improvements.sort_by(|a, b| b.gain.total_cmp(&a.gain).then_with(|| a.id.cmp(&b.id)));
    EstateScoreView {
        profile: plan.profile().to_owned(),
        score: (total_weight > 0.0).then(|| sum / total_weight),
        bands,
        hosts_assessed: assessments.len() as u64,
        improvements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Catalogue, Profiles, Waivers};
    use chrono::TimeZone;

    const CHECKS: &str = r#"
[[check]]
id = "t.a"
title = "A"
category = "security"
severity = "high"
pass = "true"
remediation = "fix a"
[[check.fixture]]
name = "p"
expect = "pass"
facts = {}
[[check.fixture]]
name = "f"
expect = "pass"
facts = {}

[[check]]
id = "t.b"
title = "B"
category = "capacity"
severity = "low"
pass = "true"
remediation = "fix b"
"#;

    fn plan() -> Plan {
        let catalogue = Catalogue::parse(&[("t.toml", CHECKS)]).expect("catalogue");
        let profiles = Profiles::parse(&[], &catalogue).expect("profiles");
        let profile = profiles.get("baseline").expect("baseline");
        Plan::new(&catalogue, &profile, &Waivers::none())
    }

    fn record(host: &str, score: f64, band: &str, statuses: &[(&str, &str)]) -> AssessmentRecord {
        AssessmentRecord {
            host_id: host.to_owned(),
            assessed_at: chrono::Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap(),
            profile: "baseline".to_owned(),
            score: Some(score),
            band: Some(band.to_owned()),
            statuses: statuses
                .iter()
                .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
                .collect(),
            detail_json: String::new(),
            carbon_json: None,
            view_json: None,
        }
    }

    #[test]
    fn fleet_counts_and_estate_gain() {
        let plan = plan();
        let weights: BTreeMap<String, f64> = plan
            .checks()
            .map(|p| (p.check.id.to_string(), p.weight))
            .collect();
        let (wa, wb) = (weights["t.a"], weights["t.b"]);
        let records = [
            record(
                "h1",
                wb / (wa + wb),
                "red",
                &[("t.a", "fail"), ("t.b", "pass")],
            ),
            record("h2", 1.0, "green", &[("t.a", "pass"), ("t.b", "pass")]),
        ];
        let fleet = fleet_checks(&plan, &records);
        let a = fleet.iter().find(|c| c.id == "t.a").unwrap();
        assert_eq!(
            (a.hosts["fail"], a.hosts["pass"], a.hosts["error"]),
            (1, 1, 0)
        );
        let view = score_view(&plan, &ScoringConfig::default(), &records, &[]);
        let expected = (wb / (wa + wb) + 1.0) / 2.0;
        assert!((view.score.unwrap() - expected).abs() < 1e-12);
        assert_eq!(view.bands["red"], 1);
        assert_eq!(view.bands["green"], 1);
        // Fixing t.a on h1 lifts h1 to 1.0: the estate gains half of h1's shortfall.
        assert_eq!(view.improvements.len(), 1);
        let gain = view.improvements[0].gain;
        assert!((gain - (1.0 - expected)).abs() < 1e-12, "{gain}");
        assert_eq!(view.improvements[0].failing_hosts, 1);
    }
}
