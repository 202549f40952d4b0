//! Filling a [`ReportInput`] from the store: every host, with its stored assessment
//! (score, check results, facts and carbon estimate, from the assessment's JSON). Hosts
//! with no stored assessment, or one made with another profile, are listed so the caller
//! can assess them (the offline command does; the collector's schedule leaves them
//! unscored until its worker gets to them).
//!
//! This is the store edge of the report module: it reads through the [`Store`] trait and
//! does no other I/O.

use chrono::{DateTime, Utc};

use crate::assess::Assessor;
use crate::report::changes::PreviousReport;
use crate::report::input::{
    CheckInfo, HostAssessment, ReportHost, ReportInput, ReportSettings, check_index,
};
use crate::store::{HostRecord, Store, StoreError, StoreFuture};

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

/// Assessments read from the store at once (the store's readers work on them in
/// parallel while the previous ones are parsed).
pub const READ_AHEAD: usize = 32;

/// Polls the futures together; their results in order.
async fn join_all<'a, T>(futures: Vec<StoreFuture<'a, T>>) -> Vec<Result<T, StoreError>> {
    let mut pending: Vec<Option<StoreFuture<'a, T>>> = futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<Result<T, StoreError>>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Reads every host and its stored assessment. `progress(done, total)` is called as
/// hosts are read.
pub async fn from_store(
    store: &dyn Store,
    assessor: &Assessor,
    options: LoadOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Loaded, LoadError> {
    let plan = assessor.plan();
    let checks = CheckInfo::from_plan(plan);
    let index = check_index(&checks);
    let records = store.hosts().await?;
    let total = records.len() as u64;
    let mut hosts = Vec::with_capacity(records.len());
    let mut unassessed = Vec::new();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let window: Vec<HostRecord> = records.by_ref().take(READ_AHEAD).collect();
        let reads = window
            .iter()
            .map(|h| store.assessment(h.host_id.clone()))
            .collect();
        for (record, stored) in window.into_iter().zip(join_all(reads).await) {
            let i = hosts.len();
            let mut host = report_host(record);
            if let Some((stored, _)) = stored? {
                let (profile, mut a) =
                    HostAssessment::from_detail_json(&stored.detail_json, &index).map_err(|e| {
                        LoadError::Stored {
                            host: host.host_id.clone(),
                            message: e.to_string(),
                        }
                    })?;
                if profile == plan.profile() {
                    keep_scenario(&mut a, options.scenario.as_deref());
                    host.assessment = Some(a);
                }
            }
            if host.assessment.is_none() {
                unassessed.push(i);
            }
            hosts.push(host);
        }
        progress(hosts.len() as u64, total);
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
