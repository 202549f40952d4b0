//! "What changed since the last report": the previous report read back from its JSON
//! (only the parts compared, so a report written by an older build still reads), and the
//! comparison with this one — hosts added and gone, checks newly failing and newly fixed
//! on hosts in both, band moves, and the trend of the headline figures.
//!
//! Pure: the caller reads the previous report's file.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::checks::Status;
use crate::report::input::ReportInput;
use crate::report::model::{
    BandMove, Bands, Changes, CheckChange, HistoryPoint, HostRef, HostRow, Trend,
};

/// History points kept in a report (two years of monthly reports).
pub const MAX_HISTORY: usize = 24;

/// What is compared of the previous report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreviousReport {
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// Its summary.
    #[serde(default)]
    pub summary: PreviousSummary,
    /// Its carbon section.
    #[serde(default)]
    pub carbon: PreviousCarbon,
    /// Its history (its own point not included when written by this build: it is added
    /// here).
    #[serde(default)]
    pub history: Vec<HistoryPoint>,
    /// Its hosts.
    #[serde(default)]
    pub hosts: Vec<PreviousHost>,
}

/// The previous summary's headline figures.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PreviousSummary {
    /// Hosts.
    #[serde(default)]
    pub hosts: usize,
    /// Estate score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Hosts by band.
    #[serde(default)]
    pub bands: Bands,
}

/// The previous on-premises total.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PreviousCarbon {
    /// On-premises figures.
    #[serde(default)]
    pub onprem: PreviousFigures,
}

/// The previous on-premises total.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PreviousFigures {
    /// Hosts estimated.
    #[serde(default)]
    pub hosts: usize,
    /// Location-based plus embodied, kgCO2e/yr.
    #[serde(default)]
    pub total_kgco2e_per_year: f64,
}

/// A host of the previous report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreviousHost {
    /// Its id.
    pub host_id: String,
    /// Its name.
    #[serde(default)]
    pub hostname: String,
    /// Its score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Its band.
    #[serde(default)]
    pub band: Option<String>,
    /// The checks that did not pass on it.
    #[serde(default)]
    pub findings: Vec<PreviousFinding>,
}

/// A check that did not pass on a host of the previous report.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreviousFinding {
    /// The check.
    pub check: String,
    /// `fail`, `error` or `waived`.
    pub status: String,
}

impl PreviousReport {
    /// Reads a report's JSON (as the JSON renderer writes it).
    pub fn from_json(bytes: &[u8]) -> Result<PreviousReport, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// The previous report's own headline point.
    pub fn point(&self) -> HistoryPoint {
        HistoryPoint {
            generated_at: self.generated_at,
            score: self.summary.score,
            hosts: self.summary.hosts,
            red_hosts: self.summary.bands.red,
            onprem_kgco2e_per_year: self.carbon.onprem.total_kgco2e_per_year,
        }
    }
}

fn band_rank(band: Option<&str>) -> u8 {
    match band {
        Some("green") => 3,
        Some("amber") => 2,
        Some("red") => 1,
        _ => 0,
    }
}

/// The history this report carries: the previous report's, its own point, and `now`;
/// at most [`MAX_HISTORY`], oldest first.
pub fn history(previous: Option<&PreviousReport>, now: HistoryPoint) -> Vec<HistoryPoint> {
    let mut points: Vec<HistoryPoint> = Vec::new();
    if let Some(p) = previous {
        points.extend(
            p.history
                .iter()
                .filter(|h| h.generated_at < p.generated_at)
                .cloned(),
        );
        points.push(p.point());
    }
    points.retain(|h| h.generated_at < now.generated_at);
    points.push(now);
    let drop = points.len().saturating_sub(MAX_HISTORY);
    points.drain(..drop);
    points
}

/// This report's headline figures against the previous report's.
pub fn trend(previous: &PreviousReport, now: &HistoryPoint) -> Trend {
    let p = previous.point();
    Trend {
        previous_at: p.generated_at,
        previous_score: p.score,
        score_change: now.score.zip(p.score).map(|(a, b)| a - b),
        hosts_change: now.hosts as i64 - p.hosts as i64,
        red_change: now.red_hosts as i64 - p.red_hosts as i64,
        onprem_kgco2e_change: (previous.carbon.onprem.hosts > 0)
            .then_some(now.onprem_kgco2e_per_year - p.onprem_kgco2e_per_year),
    }
}

/// Compares the hosts of this report (`rows`, with the input they came from) with the
/// previous report's.
pub fn changes(
    input: &ReportInput,
    rows: &[HostRow],
    score: Option<f64>,
    previous: &PreviousReport,
) -> Changes {
    let before: HashMap<&str, &PreviousHost> = previous
        .hosts
        .iter()
        .map(|h| (h.host_id.as_str(), h))
        .collect();
    let now_ids: HashSet<&str> = input.hosts.iter().map(|h| h.host_id.as_str()).collect();
    let check_index: HashMap<&str, usize> = input
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| (c.id.as_str(), i))
        .collect();

    let mut new_hosts = Vec::new();
    // Per check index: hosts newly failing, newly fixed.
    let mut failing: BTreeMap<usize, usize> = BTreeMap::new();
    let mut fixed: BTreeMap<usize, usize> = BTreeMap::new();
    let mut worse = Vec::new();
    let mut better = Vec::new();
    for (host, row) in input.hosts.iter().zip(rows) {
        let Some(prev) = before.get(host.host_id.as_str()) else {
            new_hosts.push(HostRef {
                host_id: host.host_id.clone(),
                hostname: host.hostname.clone(),
            });
            continue;
        };
        let was_failing: HashSet<usize> = prev
            .findings
            .iter()
            .filter(|f| f.status == "fail")
            .filter_map(|f| check_index.get(f.check.as_str()).copied())
            .collect();
        if let Some(a) = &host.assessment {
            for r in &a.results {
                match r.status {
                    Status::Fail if !was_failing.contains(&r.check) => {
                        *failing.entry(r.check).or_default() += 1;
                    }
                    Status::Pass if was_failing.contains(&r.check) => {
                        *fixed.entry(r.check).or_default() += 1;
                    }
                    _ => {}
                }
            }
        }
        let (from, to) = (prev.band.as_deref(), row.band.as_deref());
        if from != to && (from.is_some() || to.is_some()) {
            let m = BandMove {
                host_id: host.host_id.clone(),
                hostname: host.hostname.clone(),
                from: from.unwrap_or("unscored").to_owned(),
                to: to.unwrap_or("unscored").to_owned(),
                from_score: prev.score,
                to_score: row.score,
            };
            if band_rank(to) < band_rank(from) {
                worse.push(m);
            } else {
                better.push(m);
            }
        }
    }
    let delta = |m: &BandMove| m.to_score.unwrap_or(0.0) - m.from_score.unwrap_or(0.0);
    worse.sort_by(|a, b| {
        delta(a)
            .total_cmp(&delta(b))
            .then_with(|| a.hostname.cmp(&b.hostname))
    });
    better.sort_by(|a, b| {
        delta(b)
            .total_cmp(&delta(a))
            .then_with(|| a.hostname.cmp(&b.hostname))
    });

    let gone_hosts: Vec<HostRef> = previous
        .hosts
        .iter()
        .filter(|h| !now_ids.contains(h.host_id.as_str()))
        .map(|h| HostRef {
            host_id: h.host_id.clone(),
            hostname: h.hostname.clone(),
        })
        .collect();
    let listed = |counts: BTreeMap<usize, usize>| -> Vec<CheckChange> {
        let mut list: Vec<CheckChange> = counts
            .into_iter()
            .filter_map(|(i, n)| {
                input.checks.get(i).map(|c| CheckChange {
                    id: c.id.clone(),
                    title: c.title.clone(),
                    severity: c.severity.as_str().to_owned(),
                    hosts: n,
                })
            })
            .collect();
        list.sort_by(|a, b| b.hosts.cmp(&a.hosts).then_with(|| a.id.cmp(&b.id)));
        list
    };
    let newly_failing = listed(failing);
    let newly_fixed = listed(fixed);
    Changes {
        previous_at: previous.generated_at,
        previous_score: previous.summary.score,
        score,
        new_hosts,
        gone_hosts,
        newly_failing_total: newly_failing.iter().map(|c| c.hosts).sum(),
        newly_fixed_total: newly_fixed.iter().map(|c| c.hosts).sum(),
        newly_failing,
        newly_fixed,
        worse,
        better,
    }
}
