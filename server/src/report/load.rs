//! Filling a [`ReportInput`] from the store: every host, with its stored assessment
//! (score, check results, facts and carbon estimate, from the assessment's JSON). Hosts
//! with no stored assessment, or one made with another profile, are listed so the caller
//! can assess them (the offline command does; the collector's schedule leaves them
//! unscored until its worker gets to them).
//!
//! This is the store edge of the report module: it reads through the [`Store`] trait and
//! does no other I/O.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::assess::Assessor;
use crate::report::changes::PreviousReport;
use crate::report::input::{
    CheckIndex, CheckInfo, FactorInterner, HostAssessment, ReportHost, ReportInput, ReportSettings,
    check_index,
};
use crate::store::{AssessmentRecord, HostRecord, Store, StoreError};

/// The title of a report when none is given.
pub const DEFAULT_TITLE: &str = "Estate health check";

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The report's time.
    pub now: DateTime<Utc>,
    /// The report's title.
    pub title: String,
    /// Keep only this scenario in the carbon estimates.
    pub scenario: Option<String>,
    /// The previous report.
    pub previous: Option<PreviousReport>,
}

/// Why the store could not be read for a report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A stored assessment is not readable.
    #[error("host `{host}`: the stored assessment is not readable: {message}")]
    Stored {
        /// The host.
        host: String,
        /// Why.
        message: String,
    },
}

/// The input and the hosts (indices into `input.hosts`) that still need an assessment.
#[derive(Debug)]
pub struct Loaded {
    /// The report's input.
    pub input: ReportInput,
    /// Hosts without a stored assessment of the profile.
    pub unassessed: Vec<usize>,
}

/// The host as the report sees it, before its assessment is known.
pub fn report_host(h: HostRecord) -> ReportHost {
    ReportHost {
        host_id: h.host_id,
        hostname: h.hostname,
        labels: h.labels,
        machine_kind: h.facets.machine_kind,
        chassis: h.facets.chassis,
        os_family: h.facets.os_family,
        os_name: h.facets.os_name,
        first_seen: h.first_seen,
        last_seen: h.last_seen,
        assessment: None,
    }
}

/// Keeps only the scenario named `only` in an assessment's estimate.
pub fn keep_scenario(a: &mut HostAssessment, only: Option<&str>) {
    if let (Some(only), Some(c)) = (only, a.carbon.as_mut()) {
        c.scenarios.retain(|s| s.name.as_str() == only);
    }
}

/// Stored assessments read from the store in one query.
pub const PAGE_HOSTS: u32 = 512;

/// Pages parsed at once on the blocking pool while the next one is read.
const PARSE_AHEAD: usize = 2;

/// A page's assessments as the report needs them, by host id: `None` for a host whose
/// stored assessment was made with another profile.
type ParsedPage = Vec<(String, Option<HostAssessment>)>;

/// Parses one page of stored assessments (CPU only, on the blocking pool).
fn parse_page(
    page: Vec<AssessmentRecord>,
    index: &CheckIndex,
    profile: &str,
    scenario: Option<&str>,
) -> Result<ParsedPage, LoadError> {
    let mut factors = FactorInterner::default();
    page.into_iter()
        .map(|stored| {
            let (made_with, mut a) =
                HostAssessment::from_detail_json_shared(&stored.detail_json, index, &mut factors)
                    .map_err(|e| LoadError::Stored {
                    host: stored.host_id.clone(),
                    message: e.to_string(),
                })?;
            if made_with != profile {
                return Ok((stored.host_id, None));
            }
            keep_scenario(&mut a, scenario);
            Ok((stored.host_id, Some(a)))
        })
        .collect()
}

/// Reads every host and its stored assessment: the hosts in one query, the assessments a
/// page of [`PAGE_HOSTS`] at a time, each page parsed on the blocking pool while the
/// next is read. `progress(done, total)` is called as assessments are read.
pub async fn from_store(
    store: &dyn Store,
    assessor: &Assessor,
    options: LoadOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Loaded, LoadError> {
    let plan = assessor.plan();
    let checks = CheckInfo::from_plan(plan);
    let index = Arc::new(check_index(&checks));
    let profile: Arc<str> = Arc::from(plan.profile());
    let scenario: Option<Arc<str>> = options.scenario.as_deref().map(Arc::from);
    let records = store.hosts().await?;
    let total = records.len() as u64;

    let mut assessed: HashMap<String, HostAssessment> = HashMap::with_capacity(records.len());
    let mut read = 0_u64;
    let mut parsing: VecDeque<JoinHandle<Result<ParsedPage, LoadError>>> = VecDeque::new();
    let mut after: Option<String> = None;
    let mut more = true;
    while more || !parsing.is_empty() {
        if more {
            let page = store.assessment_details(after.clone(), PAGE_HOSTS).await?;
            more = page.len() == PAGE_HOSTS as usize;
            if let Some(last) = page.last() {
                after = Some(last.host_id.clone());
                read += page.len() as u64;
                let (index, profile, scenario) =
                    (Arc::clone(&index), Arc::clone(&profile), scenario.clone());
                parsing.push_back(tokio::task::spawn_blocking(move || {
                    parse_page(page, &index, &profile, scenario.as_deref())
                }));
            }
        }
        if parsing.len() > PARSE_AHEAD || (!more && !parsing.is_empty()) {
            if let Some(next) = parsing.pop_front() {
                let page = next.await.map_err(|e| LoadError::Stored {
                    host: String::new(),
                    message: format!("parser task failed: {e}"),
                })??;
                assessed.extend(page.into_iter().filter_map(|(h, a)| Some((h, a?))));
            }
            progress(read.min(total), total);
        }
    }

    let mut hosts = Vec::with_capacity(records.len());
    let mut unassessed = Vec::new();
    for record in records {
        let mut host = report_host(record);
        host.assessment = assessed.remove(&host.host_id);
        if host.assessment.is_none() {
            unassessed.push(hosts.len());
        }
        hosts.push(host);
    }
    progress(total, total);
    let mut scenarios: Vec<String> = assessor
        .estimator()
        .scenario_names()
        .map(str::to_owned)
        .collect();
    if let Some(only) = &options.scenario {
        scenarios.retain(|s| s == only);
    }
    Ok(Loaded {
        input: ReportInput {
            generated_at: options.now,
            title: options.title,
            profile: plan.profile().to_owned(),
            scoring: assessor.scoring().clone(),
            checks,
            hosts,
            scenarios,
            settings: ReportSettings::from_plan(plan),
            previous: options.previous,
        },
        unassessed,
    })
}
