//! Filling a [`ReportInput`] from the store: every host, with its stored assessment
//! (score, check results, facts and carbon estimate, from the assessment's compact report
//! view, [`crate::report::view`], or from its full JSON where it has no view). Hosts
//! with no stored assessment, or one made with another profile, are listed so the caller
//! can assess them (the offline command does; the collector's schedule leaves them
//! unscored until its worker gets to them).
//!
//! This is the store edge of the report module: it reads through the [`Store`] trait and
//! does no other I/O.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::assess::Assessor;
use crate::carbon::{Factor, FactorRef};
use crate::report::changes::PreviousReport;
use crate::report::input::{
    CheckIndex, CheckInfo, FactorInterner, HostAssessment, ReportHost, ReportInput, ReportSettings,
    check_index, detail_factors,
};
use crate::report::view::ViewError;
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
struct ParsedPage {
    hosts: Vec<(String, Option<HostAssessment>)>,
    /// Hosts whose report view could not be read (another version): their full
    /// assessment is read on its own afterwards.
    retry: Vec<String>,
    /// The page's placeholder factors (from views), each with a host that used it.
    placeholders: Vec<(FactorRef, String)>,
    /// The page's complete factors (from full assessments).
    complete: Vec<FactorRef>,
}

/// Parses one stored assessment, from its view when it has one.
fn parse_one(
    stored: &AssessmentRecord,
    index: &CheckIndex,
    factors: &mut FactorInterner,
) -> Result<Option<(String, HostAssessment)>, LoadError> {
    let stored_err = |message: String| LoadError::Stored {
        host: stored.host_id.clone(),
        message,
    };
    if let Some(view) = &stored.view_json {
        factors.reading(&stored.host_id);
        return match HostAssessment::from_view_json(view, index, factors) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(ViewError::Version(_)) => Ok(None),
            Err(e) => Err(stored_err(format!("report view: {e}"))),
        };
    }
    HostAssessment::from_detail_json_shared(&stored.detail_json, index, factors)
        .map(Some)
        .map_err(|e| stored_err(e.to_string()))
}

/// Parses one page of stored assessments (CPU only, on the blocking pool).
fn parse_page(
    page: Vec<AssessmentRecord>,
    index: &CheckIndex,
    profile: &str,
    scenario: Option<&str>,
) -> Result<ParsedPage, LoadError> {
    let mut factors = FactorInterner::default();
    let mut hosts = Vec::with_capacity(page.len());
    let mut retry = Vec::new();
    for stored in page {
        match parse_one(&stored, index, &mut factors)? {
            None => retry.push(stored.host_id),
            Some((made_with, _)) if made_with != profile => hosts.push((stored.host_id, None)),
            Some((_, mut a)) => {
                keep_scenario(&mut a, scenario);
                hosts.push((stored.host_id, Some(a)));
            }
        }
    }
    let (placeholders, complete) = factors.into_parts();
    Ok(ParsedPage {
        hosts,
        retry,
        placeholders,
        complete,
    })
}

/// A factor's identity: name, value (bits) and version.
type FactorKey = (String, u64, String);

fn key(f: &Factor) -> FactorKey {
    (f.name.clone(), f.value.to_bits(), f.version.clone())
}

/// Gives the factors of estimates read from report views their unit and source: from a
/// full assessment read in the same load where there is one, else from the full stored
/// assessment of a host that used the factor (a few hosts for the whole estate: most
/// hosts share most factors). Then swaps each placeholder for the complete factor in
/// every estimate.
async fn resolve_factors(
    store: &dyn Store,
    assessed: &mut [(String, HostAssessment)],
    placeholders: Vec<(FactorRef, String)>,
    complete: Vec<FactorRef>,
) -> Result<(), LoadError> {
    if placeholders.is_empty() {
        return Ok(());
    }
    let mut known: HashMap<FactorKey, FactorRef> =
        complete.into_iter().map(|f| (key(&f), f)).collect();
    // One host's full assessment at a time, each for a factor still unknown: the first
    // usually names every factor the others use. (Every page names its own host for
    // each factor: listing them all first and fetching each was hundreds of reads, and
    // a quadratic search of the list, at 100,000 hosts.)
    let mut fetched: HashSet<&str> = HashSet::new();
    for (p, host) in &placeholders {
        if known.contains_key(&key(p)) || !fetched.insert(host.as_str()) {
            continue;
        }
        let Some((record, _)) = store.assessment(host.to_owned()).await? else {
            continue;
        };
        let factors = detail_factors(&record.detail_json).map_err(|e| LoadError::Stored {
            host: host.to_owned(),
            message: e.to_string(),
        })?;
        for f in factors {
            known.entry(key(&f)).or_insert_with(|| FactorRef::new(f));
        }
    }
    let swap: HashMap<usize, FactorRef> = placeholders
        .iter()
        .map(|(p, _)| {
            let resolved = known.get(&key(p)).cloned().unwrap_or_else(|| {
                // The host was re-assessed with other factors between its view and its
                // full assessment being read: the factor stays, its source unknown.
                FactorRef::new(Factor {
                    source: "unknown: the stored estimate changed while the report was read"
                        .to_owned(),
                    ..Factor::clone(p)
                })
            });
            (p.addr(), resolved)
        })
        .collect();
    for (_, a) in assessed.iter_mut() {
        if let Some(c) = a.carbon.as_mut() {
            c.factors.replace(|f| swap.get(&f.addr()).cloned());
        }
    }
    Ok(())
}

/// The stored assessments of the profile, in host id order, with what is left to do.
struct ReadAssessments {
    assessed: Vec<(String, HostAssessment)>,
    /// Hosts whose view is of another version.
    retry: Vec<String>,
    placeholders: Vec<(FactorRef, String)>,
    complete: Vec<FactorRef>,
}

/// Reads and parses every stored assessment, a page at a time (see [`from_store`]).
async fn read_assessments(
    store: &dyn Store,
    index: &Arc<CheckIndex>,
    profile: &Arc<str>,
    scenario: Option<&Arc<str>>,
    progress: impl Fn(u64),
) -> Result<ReadAssessments, LoadError> {
    let mut out = ReadAssessments {
        assessed: Vec::new(),
        retry: Vec::new(),
        placeholders: Vec::new(),
        complete: Vec::new(),
    };
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
                    (Arc::clone(index), Arc::clone(profile), scenario.cloned());
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
                out.assessed
                    .extend(page.hosts.into_iter().filter_map(|(h, a)| Some((h, a?))));
                out.placeholders.extend(page.placeholders);
                out.complete.extend(page.complete);
                out.retry.extend(page.retry);
            }
            progress(read);
        }
    }
    Ok(out)
}

/// Takes the assessment of the host with the id given, if any.
type TakeAssessment = Box<dyn FnMut(&str) -> Option<HostAssessment>>;

/// The report's hosts, each with its assessment, and those without one. Both lists
/// usually come in host id order, and are then merged; where either is not (a database
/// collation that is not byte order, hosts read again after their views), through a map.
fn attach(
    records: Vec<HostRecord>,
    assessed: Vec<(String, HostAssessment)>,
) -> (Vec<ReportHost>, Vec<usize>) {
    let merge = records.is_sorted_by(|a, b| a.host_id < b.host_id)
        && assessed.is_sorted_by(|a, b| a.0 < b.0);
    let mut take: TakeAssessment = if merge {
        let mut assessed = assessed.into_iter().peekable();
        Box::new(move |id| {
            while assessed.next_if(|(a, _)| a.as_str() < id).is_some() {}
            assessed.next_if(|(a, _)| a == id).map(|(_, a)| a)
        })
    } else {
        let mut assessed: HashMap<String, HostAssessment> = assessed.into_iter().collect();
        Box::new(move |id| assessed.remove(id))
    };
    let mut hosts = Vec::with_capacity(records.len());
    let mut unassessed = Vec::new();
    for record in records {
        let mut host = report_host(record);
        host.assessment = take(&host.host_id);
        if host.assessment.is_none() {
            unassessed.push(hosts.len());
        }
        hosts.push(host);
    }
    (hosts, unassessed)
}

/// Reads every host and its stored assessment: the hosts in one query, read while the
/// assessments are read a page of [`PAGE_HOSTS`] at a time (each host's compact report
/// view where it has one, else its full assessment), each page parsed on the blocking
/// pool while the next is read; then the factors the views only name are resolved.
/// `progress(done, total)` is called as assessments are read (`total` is `done` until
/// the host list is in).
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
    let total = AtomicU64::new(0);
    let hosts = async {
        let records = store.hosts().await?;
        total.store(records.len() as u64, Ordering::Relaxed);
        Ok::<_, LoadError>(records)
    };
    let assessments = read_assessments(store, &index, &profile, scenario.as_ref(), |read| {
        progress(read, total.load(Ordering::Relaxed).max(read));
    });
    let (records, read) = tokio::join!(hosts, assessments);
    let (records, mut read) = (records?, read?);
    let total = records.len() as u64;
    // Views of another version: the full assessment, one host at a time (after an
    // upgrade, until the hosts are assessed again).
    for host in std::mem::take(&mut read.retry) {
        let Some((record, _)) = store.assessment(host.clone()).await? else {
            continue;
        };
        let (made_with, mut a) = HostAssessment::from_detail_json(&record.detail_json, &index)
            .map_err(|e| LoadError::Stored {
                host: host.clone(),
                message: e.to_string(),
            })?;
        if made_with == *profile {
            keep_scenario(&mut a, scenario.as_deref());
            read.assessed.push((host, a));
        }
    }
    resolve_factors(store, &mut read.assessed, read.placeholders, read.complete).await?;
    let (hosts, unassessed) = attach(records, read.assessed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::input::HostFacts;

    fn record(id: &str) -> HostRecord {
        HostRecord {
            host_id: id.to_owned(),
            hostname: format!("{id}.example"),
            labels: Default::default(),
            first_seen: DateTime::UNIX_EPOCH,
            last_seen: DateTime::UNIX_EPOCH,
            inventory_hash: None,
            reported_inventory_hash: String::new(),
            inventory_collected_at: None,
            facets: Default::default(),
            inventory: None,
        }
    }

    fn assessment(id: &str, score: f64) -> (String, HostAssessment) {
        (
            id.to_owned(),
            HostAssessment {
                assessed_at: DateTime::UNIX_EPOCH,
                score: Some(score),
                band: None,
                results: Vec::new(),
                facts: HostFacts::default(),
                carbon: None,
            },
        )
    }

    fn scores(hosts: &[ReportHost]) -> Vec<(String, Option<f64>)> {
        hosts
            .iter()
            .map(|h| {
                (
                    h.host_id.clone(),
                    h.assessment.as_ref().and_then(|a| a.score),
                )
            })
            .collect()
    }

    /// Merged in order or through the map, each host gets its own assessment; hosts
    /// without one are listed, assessments of hosts not listed are dropped.
    #[test]
    fn assessments_are_attached_to_their_hosts_in_or_out_of_order() {
        let records = || vec![record("a"), record("b"), record("c"), record("e")];
        let sorted = vec![
            assessment("a", 0.1),
            assessment("c", 0.3),
            assessment("d", 0.4),
            assessment("e", 0.5),
        ];
        let expected = vec![
            ("a".to_owned(), Some(0.1)),
            ("b".to_owned(), None),
            ("c".to_owned(), Some(0.3)),
            ("e".to_owned(), Some(0.5)),
        ];
        let (hosts, unassessed) = attach(records(), sorted.clone());
        assert_eq!((scores(&hosts), unassessed), (expected.clone(), vec![1]));
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        let (hosts, unassessed) = attach(records(), shuffled);
        assert_eq!((scores(&hosts), unassessed), (expected.clone(), vec![1]));
        let mut unsorted_hosts = records();
        unsorted_hosts.swap(0, 3);
        let (hosts, unassessed) = attach(unsorted_hosts, sorted);
        let mut want = expected;
        want.swap(0, 3);
        assert_eq!((scores(&hosts), unassessed), (want, vec![1]));
    }
}
