//! What the pages show, computed from what the store gives: the estate view (host
//! counts, score and bands, fleet check counts, carbon totals, top candidates per
//! scenario, each host's band) built by the read API's own functions
//! ([`crate::query::summarise`], [`crate::estate`]), and a host's stored assessment read
//! back for its page. Pure: the handlers read the store and pass the rows in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::assess::Assessor;
use crate::carbon::{HostEstimate, Readiness};
use crate::estate::{self, CandidateList, CarbonView, EstateScoreView, FleetCheck};
use crate::query::{self, EstateSummary};
use crate::store::{AssessmentRecord, CarbonRecord, HostRecord};

/// Candidates listed per scenario on the scenarios page.
pub const TOP_CANDIDATES: usize = 10;

/// A host's score and band, as the host list shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct HostBand {
    /// The score, when scored.
    pub score: Option<f64>,
    /// The band, when scored.
    pub band: Option<String>,
}

/// The estate as the overview, checks, scenarios and hosts pages show it.
#[derive(Debug, Clone)]
pub struct EstateView {
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// Host counts by state, OS, kind, role and site.
    pub summary: EstateSummary,
    /// Score, bands, improvements.
    pub score: EstateScoreView,
    /// Lowest green and amber scores.
    pub green_at: f64,
    /// Lowest amber score.
    pub amber_at: f64,
    /// Every check of the profile with its fleet counts.
    pub checks: Vec<FleetCheck>,
    /// Carbon totals on-premises and per scenario.
    pub carbon: CarbonView,
    /// The best candidates of each configured scenario, in config order.
    pub candidates: Vec<CandidateList>,
    /// Host names by id (for candidate lists).
    pub hostnames: HashMap<String, String>,
    /// Score and band by host id (assessed hosts).
    pub bands: HashMap<String, HostBand>,
    /// Stored estimates that could not be read (left out of the totals).
    pub unreadable_estimates: usize,
}

impl EstateView {
    /// Builds the view from the store's rows with the read API's functions.
    pub fn build(
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        hosts: &[HostRecord],
        assessments: &[AssessmentRecord],
        carbon: &[CarbonRecord],
        assessor: &Assessor,
    ) -> EstateView {
        let summary = query::summarise(hosts, stale_before);
        let score = estate::score_view(assessor.plan(), assessor.scoring(), assessments, hosts);
        let checks = estate::fleet_checks(assessor.plan(), assessments);
        let (estimates, unreadable) = estate::read_estimates(carbon);
        let carbon_view = estate::carbon_view(&estimates, assessor.estimator());
        let candidates = assessor
            .estimator()
            .scenario_names()
            .map(|name| {
                estate::candidate_list(&estimates, assessor.estimator(), Some(name), TOP_CANDIDATES)
            })
            .collect();
        EstateView {
            computed_at: now,
            summary,
            score,
            green_at: assessor.scoring().green_at,
            amber_at: assessor.scoring().amber_at,
            checks,
            carbon: carbon_view,
            candidates,
            hostnames: hosts
                .iter()
                .map(|h| (h.host_id.clone(), h.hostname.clone()))
                .collect(),
            bands: assessments
                .iter()
                .map(|a| {
                    (
                        a.host_id.clone(),
                        HostBand {
                            score: a.score,
                            band: a.band.clone(),
                        },
                    )
                })
                .collect(),
            unreadable_estimates: unreadable.len(),
        }
    }

    /// A host's band name for filtering: its band, else `unscored`.
    pub fn band_of(&self, host_id: &str) -> &str {
        self.bands
            .get(host_id)
            .and_then(|b| b.band.as_deref())
            .unwrap_or("unscored")
    }
}

/// A check of the profile, as the host page names it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckText {
    /// Title.
    pub title: String,
    /// How to fix a failure.
    pub remediation: String,
}

/// The profile's checks' titles and remediation, by id.
pub fn check_texts(assessor: &Assessor) -> HashMap<String, CheckText> {
    assessor
        .plan()
        .checks()
        .map(|p| {
            (
                p.check.id.to_string(),
                CheckText {
                    title: p.check.title.clone(),
                    remediation: p.check.remediation.trim().to_owned(),
                },
            )
        })
        .collect()
}

/// A host's stored assessment, as its page reads it (the JSON the assessment pipeline
/// stores; fields the page does not show are skipped).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HostDetail {
    /// When it was made.
    pub assessed_at: Option<DateTime<Utc>>,
    /// The profile.
    pub profile: String,
    /// Score and band.
    pub score: ScoreDetail,
    /// Every check's result.
    pub results: Vec<ResultDetail>,
    /// Failing checks by the score each would add.
    pub improvements: Vec<ImprovementDetail>,
    /// Cloud readiness.
    pub readiness: Option<ReadinessDetail>,
    /// The carbon estimate with its factors.
    pub carbon: Option<HostEstimate>,
}

/// A host's score.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ScoreDetail {
    /// 0–1.
    pub score: Option<f64>,
    /// Band.
    pub band: Option<String>,
    /// Failed critical checks that capped the band.
    pub capped_by: Vec<String>,
}

/// One check's result on the host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResultDetail {
    /// The check.
    pub id: String,
    /// Its category.
    pub category: String,
    /// Its severity.
    pub severity: String,
    /// Its weight.
    pub weight: f64,
    /// `pass`, `fail`, `not_applicable`, `waived`, `error`.
    pub status: String,
    /// Credit 0–1.
    pub credit: f64,
    /// The evidence.
    pub evidence: Option<Json>,
    /// Why it errored.
    pub error: Option<String>,
    /// The matching waiver.
    pub waiver: Option<WaiverDetail>,
}

/// A waiver that matched.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WaiverDetail {
    /// `active` or `expired`.
    pub state: String,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who owns it.
    pub owner: String,
    /// When it ends.
    pub expires: Option<Json>,
}

/// A failing check and what fixing it would add.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ImprovementDetail {
    /// The check.
    pub id: String,
    /// Score gained.
    pub gain: f64,
}

/// Readiness and what it rests on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReadinessDetail {
    /// The outcome.
    pub readiness: Readiness,
    /// The profile read.
    pub profile: String,
    /// Failing or waived checks.
    pub blockers: Vec<BlockerDetail>,
    /// Why unknown.
    pub unknown_because: Option<String>,
}

/// A check that holds readiness back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BlockerDetail {
    /// The check.
    pub check_id: String,
    /// Its severity.
    pub severity: String,
    /// `fail` or `waived`.
    pub status: String,
    /// What it gives.
    pub gives: Readiness,
}

/// Reads a stored assessment's detail JSON.
pub fn host_detail(detail_json: &str) -> Result<HostDetail, serde_json::Error> {
    serde_json::from_str(detail_json)
}

/// A readiness in words.
pub fn readiness_text(r: Readiness) -> &'static str {
    match r {
        Readiness::Ready => "ready",
        Readiness::ConditionallyReady => "conditionally ready",
        Readiness::NotReady => "not ready",
        Readiness::Unknown => "unknown",
    }
}

/// A readiness's CSS class.
pub fn readiness_class(r: Readiness) -> &'static str {
    match r {
        Readiness::Ready => "green",
        Readiness::ConditionallyReady => "amber",
        Readiness::NotReady => "red",
        Readiness::Unknown => "unscored",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_detail_reads_back_and_unknown_fields_are_skipped() {
        let json = r#"{
            "assessed_at": "2026-11-27T09:00:00Z", "profile": "baseline",
            "score": {"score": 0.5, "band": "red", "capped_by": ["s.x"], "total": {}},
            "results": [{"id": "s.x", "category": "security", "severity": "critical",
                         "weight": 3.0, "status": "fail", "credit": 0.0,
                         "evidence": {"open": [22]}}],
            "improvements": [{"id": "s.x", "gain": 0.5, "category": "security"}],
            "readiness": {"readiness": "not_ready", "profile": "cloud-readiness",
                          "applicable": 3, "blockers": [{"check_id": "s.x",
                          "severity": "critical", "status": "fail", "gives": "not_ready"}],
                          "unevaluated": []},
            "carbon": null, "facts": {"os": {}}
        }"#;
        let d = host_detail(json).unwrap();
        assert_eq!(d.score.band.as_deref(), Some("red"));
        assert_eq!(
            d.results[0].evidence,
            Some(serde_json::json!({"open": [22]}))
        );
        assert_eq!(d.improvements[0].gain, 0.5);
        let r = d.readiness.unwrap();
        assert_eq!(r.readiness, Readiness::NotReady);
        assert_eq!(r.blockers[0].gives, Readiness::NotReady);
        assert!(d.carbon.is_none());
        assert!(host_detail("not json").is_err());
    }
}
