//! Scoring: pure functions from check results to host and estate scores, bands, and
//! "what would raise this score most".
//!
//! Host score = Σ(weight × credit) / Σ(weight) over the checks that passed or failed —
//! not-applicable, waived and error results are left out — in [0, 1], and unknown (not
//! 1.0) when no weight is left. Category sub-scores use the same formula per category.
//! A failed critical check caps the band ([`ScoringConfig::critical_failure_cap`]). The
//! estate score is the mean of host scores, weighted by a criticality label. This file
//! owns those formulas; it does no evaluation and no I/O.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use estate_agent::config::located::{self, ConfigError, Issues};

use super::eval::{CheckResult, Status};
use super::model::{Category, CheckId, Severity};
use super::waiver::WaiverCounts;

/// Default lowest score that is green.
pub const DEFAULT_GREEN_AT: f64 = 0.9;
/// Default lowest score that is amber (below is red).
pub const DEFAULT_AMBER_AT: f64 = 0.7;
/// Default label whose value sets a host's weight in the estate score.
pub const DEFAULT_CRITICALITY_LABEL: &str = "criticality";
/// Default weight of a host in the estate score (label absent or not in the map).
pub const DEFAULT_HOST_WEIGHT: f64 = 1.0;

/// Red, amber or green.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// Below amber.
    Red,
    /// At least amber, below green.
    Amber,
    /// At least green.
    Green,
}

impl Band {
    /// The name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Red => "red",
            Band::Amber => "amber",
            Band::Green => "green",
        }
    }
}

/// How scores become bands and hosts are weighted.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoringConfig {
    /// Lowest green score ([`DEFAULT_GREEN_AT`]).
    pub green_at: f64,
    /// Lowest amber score ([`DEFAULT_AMBER_AT`]).
    pub amber_at: f64,
    /// The best band a host with a failed critical check can have: red by default;
    /// `None` turns the cap off.
    pub critical_failure_cap: Option<Band>,
    /// The label whose value weights a host in the estate score
    /// ([`DEFAULT_CRITICALITY_LABEL`]).
    pub criticality_label: String,
    /// Label value → host weight (e.g. `high = 3`).
    pub criticality_weights: BTreeMap<String, f64>,
    /// Weight of a host whose label is absent or not in the map
    /// ([`DEFAULT_HOST_WEIGHT`]).
    pub default_host_weight: f64,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            green_at: DEFAULT_GREEN_AT,
            amber_at: DEFAULT_AMBER_AT,
            critical_failure_cap: Some(Band::Red),
            criticality_label: DEFAULT_CRITICALITY_LABEL.to_owned(),
            criticality_weights: BTreeMap::new(),
            default_host_weight: DEFAULT_HOST_WEIGHT,
        }
    }
}

/// The scoring keys as written, every one optional (defaults from the constants above).
/// A config file that has them in a table of its own can build this from its raw
/// fields and validate with [`ScoringConfig::from_raw`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScoring {
    /// `green_at`.
    pub green_at: Option<Spanned<f64>>,
    /// `amber_at`.
    pub amber_at: Option<Spanned<f64>>,
    /// `critical_failure_cap`: `"red"`, `"amber"` or `"none"`.
    pub critical_failure_cap: Option<Spanned<String>>,
    /// `criticality_label`.
    pub criticality_label: Option<Spanned<String>>,
    /// `default_host_weight`.
    pub default_host_weight: Option<Spanned<f64>>,
    /// `[criticality_weights]`: label value → weight.
    #[serde(default)]
    pub criticality_weights: BTreeMap<String, Spanned<f64>>,
}

impl ScoringConfig {
    /// Validates a raw `[scoring]` table, recording problems under `prefix`
    /// (e.g. `"scoring"`) in `issues`.
    pub fn from_raw(raw: RawScoring, issues: &mut Issues<'_>, prefix: &str) -> ScoringConfig {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        let mut config = ScoringConfig::default();
        let ratio =
            |v: &Option<Spanned<f64>>, name: &str, issues: &mut Issues<'_>| -> Option<f64> {
                let v = v.as_ref()?;
                if (0.0..=1.0).contains(v.get_ref()) {
                    Some(*v.get_ref())
                } else {
                    issues.at(
                        v.span(),
                        &key(name),
                        format!("`{}` is outside 0–1", v.get_ref()),
                    );
                    None
                }
            };
        if let Some(g) = ratio(&raw.green_at, "green_at", issues) {
            config.green_at = g;
        }
        if let Some(a) = ratio(&raw.amber_at, "amber_at", issues) {
            config.amber_at = a;
        }
        if config.amber_at > config.green_at
            && let Some(a) = &raw.amber_at
        {
            issues.at(
                a.span(),
                &key("amber_at"),
                format!(
                    "amber_at ({}) must not be above green_at ({})",
                    config.amber_at, config.green_at
                ),
            );
        }
        if let Some(cap) = &raw.critical_failure_cap {
            config.critical_failure_cap = match cap.get_ref().as_str() {
                "red" => Some(Band::Red),
                "amber" => Some(Band::Amber),
                "none" => None,
                other => {
                    issues.at(
                        cap.span(),
                        &key("critical_failure_cap"),
                        format!("`{other}` is not red, amber or none"),
                    );
                    config.critical_failure_cap
                }
            };
        }
        if let Some(label) = &raw.criticality_label {
            if label.get_ref().trim().is_empty() {
                issues.at(label.span(), &key("criticality_label"), "must not be empty");
            } else {
                config.criticality_label = label.get_ref().trim().to_owned();
            }
        }
        let weight = |v: &Spanned<f64>, name: &str, issues: &mut Issues<'_>| -> Option<f64> {
            if v.get_ref().is_finite() && *v.get_ref() >= 0.0 {
                Some(*v.get_ref())
            } else {
                issues.at(
                    v.span(),
                    &key(name),
                    format!("weight must be a number ≥ 0, not {}", v.get_ref()),
                );
                None
            }
        };
        if let Some(w) = &raw.default_host_weight
            && let Some(w) = weight(w, "default_host_weight", issues)
        {
            config.default_host_weight = w;
        }
        for (value, w) in &raw.criticality_weights {
            if let Some(w) = weight(w, &format!("criticality_weights.{value}"), issues) {
                config.criticality_weights.insert(value.clone(), w);
            }
        }
        config
    }

    /// Parses a file whose top level is the scoring table.
    pub fn parse(text: &str, origin: &str) -> Result<ScoringConfig, ConfigError> {
        located::parse::<RawScoring, _>(text, origin, |raw, issues| {
            ScoringConfig::from_raw(raw, issues, "")
        })
    }

    /// The band of a score, before any cap.
    pub fn band(&self, score: f64) -> Band {
        if score >= self.green_at {
            Band::Green
        } else if score >= self.amber_at {
            Band::Amber
        } else {
            Band::Red
        }
    }

    /// A host's weight in the estate score, from its criticality label.
    pub fn host_weight(&self, labels: &BTreeMap<String, String>) -> f64 {
        labels
            .get(&self.criticality_label)
            .and_then(|v| self.criticality_weights.get(v))
            .copied()
            .unwrap_or(self.default_host_weight)
    }
}

/// How many results had each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    /// Passed.
    pub pass: usize,
    /// Failed.
    pub fail: usize,
    /// Not applicable.
    pub not_applicable: usize,
    /// Waived.
    pub waived: usize,
    /// Errors.
    pub error: usize,
}

impl StatusCounts {
    fn add(&mut self, status: Status) {
        match status {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::Waived => self.waived += 1,
            Status::Error => self.error += 1,
        }
    }
}

/// A (sub-)score and what it is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Σ weight × credit over scored results.
    pub earned: f64,
    /// Σ weight over scored results.
    pub possible: f64,
    /// Results by status.
    pub counts: StatusCounts,
}

impl Tally {
    fn add(&mut self, r: &CheckResult) {
        self.counts.add(r.status);
        if counts_in_score(r.status) {
            self.earned += r.weight * r.credit.clamp(0.0, 1.0);
            self.possible += r.weight;
        }
    }

    /// earned / possible in [0, 1]; `None` when no weight is scored.
    pub fn score(&self) -> Option<f64> {
        (self.possible > 0.0).then(|| (self.earned / self.possible).clamp(0.0, 1.0))
    }
}

/// Whether a result with this status counts in the score (pass and fail only).
pub fn counts_in_score(status: Status) -> bool {
    matches!(status, Status::Pass | Status::Fail)
}

/// One host's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostScore {
    /// The score in [0, 1]; `None` when nothing with weight was scored.
    pub score: Option<f64>,
    /// The band, after the critical cap; `None` when the score is unknown.
    pub band: Option<Band>,
    /// Failed critical checks that capped the band.
    pub capped_by: Vec<CheckId>,
    /// The whole-host tally.
    pub total: Tally,
    /// Per-category tallies (categories with at least one result).
    pub categories: BTreeMap<Category, Tally>,
    /// `Some(score >= fail_below)` when the profile has a threshold and the score is
    /// known.
    pub passes_audit: Option<bool>,
}

impl HostScore {
    /// A category's sub-score.
    pub fn category(&self, category: Category) -> Option<f64> {
        self.categories.get(&category).and_then(Tally::score)
    }
}

/// Scores one host's results. `fail_below` is the profile's audit threshold.
pub fn score_host(
    results: &[CheckResult],
    config: &ScoringConfig,
    fail_below: Option<f64>,
) -> HostScore {
    let mut total = Tally::default();
    let mut categories: BTreeMap<Category, Tally> = BTreeMap::new();
    let mut capped_by = Vec::new();
    for r in results {
        total.add(r);
        categories.entry(r.category).or_default().add(r);
        if r.severity == Severity::Critical && r.status == Status::Fail {
            capped_by.push(r.id.clone());
        }
    }
    let score = total.score();
    let band = score.map(|s| {
        let band = config.band(s);
        match config.critical_failure_cap {
            Some(cap) if !capped_by.is_empty() => band.min(cap),
            _ => band,
        }
    });
    if config.critical_failure_cap.is_none() {
        capped_by.clear();
    }
    HostScore {
        score,
        band,
        capped_by,
        total,
        categories,
        passes_audit: fail_below.zip(score).map(|(t, s)| s >= t),
    }
}

/// A failing check and what fixing it would add to the host's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Improvement {
    /// The check.
    pub id: CheckId,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// Its weight.
    pub weight: f64,
    /// The credit it has now.
    pub credit: f64,
    /// How much the host score would rise if it passed.
    pub gain: f64,
}

/// A host's failing checks ranked by the score each would add if it passed (largest
/// first; ties by severity, then id). Checks with no weight are left out.
pub fn host_improvements(results: &[CheckResult]) -> Vec<Improvement> {
    let possible: f64 = results
        .iter()
        .filter(|r| counts_in_score(r.status))
        .map(|r| r.weight)
        .sum();
    if possible <= 0.0 {
        return Vec::new();
    }
    let mut list: Vec<Improvement> = results
        .iter()
        .filter(|r| r.status == Status::Fail)
        .map(|r| Improvement {
            id: r.id.clone(),
            category: r.category,
            severity: r.severity,
            weight: r.weight,
            credit: r.credit,
            gain: r.weight * (1.0 - r.credit.clamp(0.0, 1.0)) / possible,
        })
        .filter(|i| i.gain > 0.0)
        .collect();
    list.sort_by(|a, b| {
        b.gain
            .total_cmp(&a.gain)
            .then(a.severity.cmp(&b.severity))
            .then_with(|| a.id.cmp(&b.id))
    });
    list
}

/// One host as the estate sees it.
#[derive(Debug, Clone, Copy)]
pub struct EstateHost<'a> {
    /// Its results.
    pub results: &'a [CheckResult],
    /// Its labels (for the criticality weight).
    pub labels: &'a BTreeMap<String, String>,
}

/// Hosts by band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BandCounts {
    /// Green hosts.
    pub green: usize,
    /// Amber hosts.
    pub amber: usize,
    /// Red hosts.
    pub red: usize,
    /// Hosts with no score.
    pub unknown: usize,
}

/// One check across the estate: results by status, for fleet-level metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckTally {
    /// The check.
    pub id: CheckId,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// Hosts by status.
    pub counts: StatusCounts,
}

/// The estate's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstateScore {
    /// Weighted mean of the host scores; `None` when no host has one.
    pub score: Option<f64>,
    /// Hosts given.
    pub hosts: usize,
    /// Hosts with a score.
    pub scored_hosts: usize,
    /// Hosts by band.
    pub bands: BandCounts,
    /// Per category: weighted mean of the hosts' category scores.
    pub categories: BTreeMap<Category, f64>,
    /// Per check, in first-seen order.
    pub checks: Vec<CheckTally>,
    /// Waivers applied (active) and found expired, summed over hosts.
    pub waivers: WaiverCounts,
}

/// Scores the estate: host scores weighted by [`ScoringConfig::host_weight`].
pub fn score_estate(hosts: &[EstateHost<'_>], config: &ScoringConfig) -> EstateScore {
    let mut bands = BandCounts::default();
    let (mut sum, mut weights) = (0.0, 0.0);
    let mut cat: BTreeMap<Category, (f64, f64)> = BTreeMap::new();
    let mut checks: Vec<CheckTally> = Vec::new();
    let mut check_index: HashMap<CheckId, usize> = HashMap::new();
    let mut waivers = WaiverCounts::default();
    let mut scored_hosts = 0;
    for host in hosts {
        let s = score_host(host.results, config, None);
        let w = config.host_weight(host.labels);
        match s.band {
            Some(Band::Green) => bands.green += 1,
            Some(Band::Amber) => bands.amber += 1,
            Some(Band::Red) => bands.red += 1,
            None => bands.unknown += 1,
        }
        if let Some(score) = s.score {
            scored_hosts += 1;
            sum += w * score;
            weights += w;
        }
        for (c, tally) in &s.categories {
            if let Some(cs) = tally.score() {
                let e = cat.entry(*c).or_default();
                e.0 += w * cs;
                e.1 += w;
            }
        }
        for r in host.results {
            let i = *check_index.entry(r.id.clone()).or_insert_with(|| {
                checks.push(CheckTally {
                    id: r.id.clone(),
                    category: r.category,
                    severity: r.severity,
                    counts: StatusCounts::default(),
                });
                checks.len() - 1
            });
            if let Some(t) = checks.get_mut(i) {
                t.counts.add(r.status);
            }
            match (&r.waiver, r.status) {
                (Some(_), Status::Waived) => waivers.active += 1,
                (Some(m), _) if m.state == super::waiver::WaiverState::Expired => {
                    waivers.expired += 1
                }
                _ => {}
            }
        }
    }
    EstateScore {
        score: (weights > 0.0).then(|| (sum / weights).clamp(0.0, 1.0)),
        hosts: hosts.len(),
        scored_hosts,
        bands,
        categories: cat
            .into_iter()
            .filter(|(_, (_, w))| *w > 0.0)
            .map(|(c, (s, w))| (c, (s / w).clamp(0.0, 1.0)))
            .collect(),
        checks,
        waivers,
    }
}

/// A check and what fixing it on every host that fails it would add to the estate
/// score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstateImprovement {
    /// The check.
    pub id: CheckId,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// How much the estate score would rise.
    pub gain: f64,
    /// How many hosts fail it now.
    pub hosts_failing: usize,
}

/// Checks ranked by the estate score gained if each were fixed everywhere it fails
/// (largest first; ties by hosts failing, then severity, then id).
pub fn estate_improvements(
    hosts: &[EstateHost<'_>],
    config: &ScoringConfig,
) -> Vec<EstateImprovement> {
    let mut weights = 0.0;
    let mut acc: Vec<EstateImprovement> = Vec::new();
    let mut index: HashMap<CheckId, usize> = HashMap::new();
    for host in hosts {
        let total = {
            let mut t = Tally::default();
            host.results.iter().for_each(|r| t.add(r));
            t
        };
        if total.score().is_none() {
            continue;
        }
        let w = config.host_weight(host.labels);
        weights += w;
        for r in host.results.iter().filter(|r| r.status == Status::Fail) {
            let delta = r.weight * (1.0 - r.credit.clamp(0.0, 1.0)) / total.possible;
            let i = *index.entry(r.id.clone()).or_insert_with(|| {
                acc.push(EstateImprovement {
                    id: r.id.clone(),
                    category: r.category,
                    severity: r.severity,
                    gain: 0.0,
                    hosts_failing: 0,
                });
                acc.len() - 1
            });
            if let Some(e) = acc.get_mut(i) {
                e.gain += w * delta;
                e.hosts_failing += 1;
            }
        }
    }
    if weights <= 0.0 {
        return Vec::new();
    }
    for e in &mut acc {
        e.gain /= weights;
    }
    acc.retain(|e| e.gain > 0.0);
    acc.sort_by(|a, b| {
        b.gain
            .total_cmp(&a.gain)
            .then(b.hosts_failing.cmp(&a.hosts_failing))
            .then(a.severity.cmp(&b.severity))
            .then_with(|| a.id.cmp(&b.id))
    });
    acc
}
