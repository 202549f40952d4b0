//! The estate index: per host, the few figures the estate gauges of `/metrics` add up —
//! when it last reported, its OS and kind, its labels, its score, band and check
//! statuses, and its compact carbon estimate — kept in memory by one thread.
//!
//! Recomputing those gauges from the store means reading every host, every check status
//! and every carbon estimate (about 250 MB of JSON at 100,000 hosts: 16 s on two cores);
//! adding up the index takes milliseconds. The index follows the store two ways:
//!
//! - [`IndexedStore`] wraps the collector's store and hands the index every report and
//!   assessment it stores, once the write has succeeded;
//! - [`EstateIndex::rebuild`] reads everything back from the store, at start and then
//!   every `[metrics] resync_secs`, so writes this process did not make (another collector
//!   sharing the PostgreSQL database, `estate-server import` run beside a SQLite
//!   collector) appear within that period. Writes that land while a rebuild reads the
//!   store are applied to the old index at once and replayed onto the new one.
//!
//! Each change is applied the way the store applies it (a host's labels from its newest
//! report, its OS from its newest inventory, an assessment unless a newer one is held),
//! and entries are added up in host-id order, the order the store returns them, so the
//! figures are those a recomputation from the store gives, to the last bit (tested).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::assess::Assessor;
use crate::carbon::{HostEstimate, Text};
use crate::estate::{CarbonView, EstateGain, EstateScoreView, FleetCheck};
use crate::store::{
    AssessmentRecord, CarbonRecord, HostFacets, HostRecord, IngestOutcome, NewReport, Store,
    StoreError,
};

/// The default of `[metrics] resync_secs`: how often the index is rebuilt from the store.
pub const DEFAULT_RESYNC_SECS: u64 = 300;

/// Hosts counted for the host gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Reported since the stale cutoff.
    pub reporting: u64,
    /// Silent since before it.
    pub stale: u64,
    /// By machine kind (`unknown` without one).
    pub by_kind: BTreeMap<String, u64>,
    /// By OS family, id and version (`unknown` for each one missing).
    pub by_os: BTreeMap<[String; 3], u64>,
}

impl HostCounts {
    /// Counts `hosts` (the recomputation from the store).
    pub fn of(hosts: &[HostRecord], stale_before: DateTime<Utc>) -> HostCounts {
        let mut counts = HostCounts::default();
        for h in hosts {
            let f = &h.facets;
            counts.add(
                h.last_seen >= stale_before,
                f.machine_kind.as_deref(),
                [&f.os_family, &f.os_id, &f.os_version].map(Option::as_deref),
            );
        }
        counts
    }

    fn add(&mut self, reporting: bool, kind: Option<&str>, os: [Option<&str>; 3]) {
        if reporting {
            self.reporting += 1;
        } else {
            self.stale += 1;
        }
        let unknown = |v: Option<&str>| v.unwrap_or("unknown").to_owned();
        *self.by_kind.entry(unknown(kind)).or_default() += 1;
        *self.by_os.entry(os.map(unknown)).or_default() += 1;
    }
}

/// The estate's figures for the gauges, added up from the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Host counts.
    pub hosts: HostCounts,
    /// Every check of the plan with its fleet counts.
    pub fleet: Vec<FleetCheck>,
    /// The estate score, bands and improvements.
    pub view: EstateScoreView,
    /// The carbon totals over the configured scenarios.
    pub carbon: CarbonView,
}

/// What a stored report changes in the index.
#[derive(Debug, Clone)]
pub struct ReportChange {
    host_id: String,
    collected_at: DateTime<Utc>,
    labels: BTreeMap<String, String>,
    /// The facets, when the report carried an inventory.
    inventory: Option<HostFacets>,
}

impl ReportChange {
    /// The change `report` makes once stored.
    pub fn of(report: &NewReport) -> ReportChange {
        ReportChange {
            host_id: report.host_id.clone(),
            collected_at: report.collected_at,
            labels: report.labels.clone(),
            inventory: report
                .inventory_json
                .is_some()
                .then(|| report.facets.clone().unwrap_or_default()),
        }
    }
}

/// What a stored assessment changes in the index.
#[derive(Debug, Clone)]
pub struct AssessmentChange {
    host_id: String,
    at: DateTime<Utc>,
    score: Option<f64>,
    band: Option<String>,
    statuses: Vec<(String, String)>,
    estimate: Option<HostEstimate>,
}

impl AssessmentChange {
    /// The change `record` makes once stored. A carbon estimate that does not read back
    /// is left out, as the recomputation leaves it out.
    pub fn of(record: &AssessmentRecord) -> AssessmentChange {
        AssessmentChange {
            host_id: record.host_id.clone(),
            at: record.assessed_at,
            score: record.score,
            band: record.band.clone(),
            statuses: record
                .statuses
                .iter()
                .map(|(c, s)| (c.clone(), s.clone()))
                .collect(),
            estimate: record
                .carbon_json
                .as_deref()
                .and_then(|json| read_estimate(&record.host_id, json)),
        }
    }
}

fn read_estimate(host_id: &str, json: &str) -> Option<HostEstimate> {
    match serde_json::from_str::<HostEstimate>(json) {
        Ok(e) => Some(e),
        Err(e) => {
            tracing::warn!(host = %host_id, error = %e, "stored carbon estimate unreadable; left out");
            None
        }
    }
}

enum Change {
    Report(ReportChange),
    Assessment(Box<AssessmentChange>),
}

enum Msg {
    Change(Change),
    /// A rebuild started reading the store: queue changes for replay.
    Begin,
    /// A rebuild read the store: this replaces the index once the queue is replayed.
    Swap(Box<Index>),
    /// A rebuild failed: stop queueing.
    Abort,
    Aggregate(Box<AggregateRequest>),
}

struct AggregateRequest {
    assessor: Arc<Assessor>,
    stale_before: DateTime<Utc>,
    reply: tokio::sync::oneshot::Sender<Option<Aggregate>>,
}

/// The handle on the index thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct EstateIndex {
    tx: mpsc::Sender<Msg>,
    ready: Arc<AtomicBool>,
    resync: Duration,
    /// Held by the rebuild in progress; when the last one finished.
    rebuild: Arc<tokio::sync::Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Msg")
    }
}

impl EstateIndex {
    /// Starts the index thread, empty and not ready until the first [`rebuild`]; rebuilt
    /// from the store when older than `resync` ([`EstateIndex::due`]).
    ///
    /// [`rebuild`]: EstateIndex::rebuild
    pub fn start(resync: Duration) -> EstateIndex {
        let (tx, rx) = mpsc::channel();
        let ready = Arc::new(AtomicBool::new(false));
        // The thread ends when the last handle is dropped.
        let spawned = std::thread::Builder::new()
            .name("estate-index".to_owned())
            .spawn(move || run(&rx));
        if let Err(e) = spawned {
            // Without its thread the index never becomes ready: scrapes recompute from
            // the store as before.
            tracing::error!(error = %e, "cannot start the estate index thread");
        }
        EstateIndex {
            tx,
            ready,
            resync,
            rebuild: Arc::default(),
        }
    }

    /// Whether a rebuild has completed, so [`EstateIndex::aggregate`] answers (a call
    /// made after this says so).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Records a stored report.
    pub fn report(&self, change: ReportChange) {
        let _ = self.tx.send(Msg::Change(Change::Report(change)));
    }

    /// Records a stored assessment.
    pub fn assessment(&self, change: AssessmentChange) {
        let _ = self
            .tx
            .send(Msg::Change(Change::Assessment(Box::new(change))));
    }

    /// Whether the last rebuild is older than `resync_secs` and none is running.
    pub fn due(&self) -> bool {
        match self.rebuild.try_lock() {
            Ok(last) => last.is_none_or(|at| at.elapsed() >= self.resync),
            Err(_) => false,
        }
    }

    /// Reads every host, assessment and carbon estimate from `store` and replaces the
    /// index with them; waits for a rebuild already running instead of starting another
    /// when `only_if_unready` and that one made the index ready.
    pub async fn rebuild(
        &self,
        store: &dyn Store,
        only_if_unready: bool,
    ) -> Result<(), StoreError> {
        let mut last = self.rebuild.lock().await;
        if only_if_unready && self.is_ready() {
            return Ok(());
        }
        let started = Instant::now();
        let _ = self.tx.send(Msg::Begin);
        match read_index(store).await {
            Ok(index) => {
                // Messages are handled in order: whatever is sent after this sees the new
                // index.
                if self.tx.send(Msg::Swap(Box::new(index))).is_ok() {
                    self.ready.store(true, Ordering::Release);
                }
            }
            Err(e) => {
                let _ = self.tx.send(Msg::Abort);
                return Err(e);
            }
        }
        *last = Some(Instant::now());
        tracing::debug!(
            secs = started.elapsed().as_secs_f64(),
            "estate index rebuilt from the store"
        );
        Ok(())
    }

    /// The estate's figures under `assessor`'s plan, scoring and scenarios; `None` until
    /// the first rebuild completed (or when the index thread is gone).
    pub async fn aggregate(
        &self,
        assessor: Arc<Assessor>,
        stale_before: DateTime<Utc>,
    ) -> Option<Aggregate> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = AggregateRequest {
            assessor,
            stale_before,
            reply,
        };
        self.tx.send(Msg::Aggregate(Box::new(request))).ok()?;
        answer.await.ok().flatten()
    }
}

/// Hosts per page when the index is read from the store (a few in tests, for the pages
/// to be exercised).
pub const REBUILD_PAGE: u32 = if cfg!(test) { 4 } else { 2_000 };

/// Reads a new index from `store`: the host list, then the assessments page by page, each
/// page made compact (off the async workers) before the next is read.
async fn read_index(store: &dyn Store) -> Result<Index, StoreError> {
    let hosts = store.hosts().await?;
    let mut index = blocking(move || Index::with_hosts(hosts)).await?;
    let mut after = None;
    loop {
        let page = store.assessment_page(after.take(), REBUILD_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.host_id.clone());
        let full = page.len() >= REBUILD_PAGE as usize;
        index = blocking(move || {
            index.add_assessments(page);
            index
        })
        .await?;
        if !full {
            break;
        }
    }
    Ok(index)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Database(format!("index rebuild failed: {e}")))
}

/// The index thread: applies changes in arrival order, swaps in rebuilds, answers.
fn run(rx: &mpsc::Receiver<Msg>) {
    let mut index = Index::default();
    let mut ready = false;
    let mut queued: Option<Vec<Change>> = None;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Change(change) => {
                index.apply(&change);
                if let Some(q) = &mut queued {
                    q.push(change);
                }
            }
            Msg::Begin => queued = Some(Vec::new()),
            Msg::Swap(mut fresh) => {
                for change in queued.take().unwrap_or_default() {
                    fresh.apply(&change);
                }
                index = *fresh;
                ready = true;
            }
            Msg::Abort => queued = None,
            Msg::Aggregate(request) => {
                let answer =
                    ready.then(|| index.aggregate(&request.assessor, request.stale_before));
                let _ = request.reply.send(answer);
            }
        }
    }
}

/// Interned strings: each distinct label, OS, check id, status or band once, named by
/// a number.
#[derive(Debug, Default)]
struct Symbols {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
    texts: HashSet<Text>,
}

impl Symbols {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        let name: Arc<str> = Arc::from(s);
        self.names.push(Arc::clone(&name));
        self.ids.insert(name, id);
        id
    }

    fn lookup(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    /// `text`, sharing the copy held when there is one.
    fn share(&mut self, text: &mut Text) {
        match self.texts.get(text) {
            Some(held) => *text = held.clone(),
            None => {
                self.texts.insert(text.clone());
            }
        }
    }
}

#[derive(Debug)]
struct HostEntry {
    last_seen: DateTime<Utc>,
    inventory_at: Option<DateTime<Utc>>,
    kind: Option<u32>,
    /// OS family, id and version.
    os: [Option<u32>; 3],
    labels: Box<[(u32, u32)]>,
}

#[derive(Debug)]
struct Assessed {
    at: DateTime<Utc>,
    score: Option<f64>,
    band: Option<u32>,
    /// (check, status).
    statuses: Box<[(u32, u32)]>,
    estimate: Option<Box<HostEstimate>>,
}

#[derive(Debug, Default)]
struct Index {
    symbols: Symbols,
    hosts: BTreeMap<Box<str>, HostEntry>,
    assessed: BTreeMap<Box<str>, Assessed>,
}

impl Index {
    fn with_hosts(hosts: Vec<HostRecord>) -> Index {
        let mut index = Index::default();
        for h in hosts {
            let f = &h.facets;
            let entry = HostEntry {
                last_seen: h.last_seen,
                inventory_at: h.inventory_collected_at,
                kind: f.machine_kind.as_deref().map(|s| index.symbols.id(s)),
                os: [&f.os_family, &f.os_id, &f.os_version]
                    .map(|v| v.as_deref().map(|s| index.symbols.id(s))),
                labels: index.labels(&h.labels),
            };
            index.hosts.insert(h.host_id.into_boxed_str(), entry);
        }
        index
    }

    /// Adds a page of stored assessments (with statuses and `carbon_json`).
    fn add_assessments(&mut self, page: Vec<AssessmentRecord>) {
        for record in page {
            let change = AssessmentChange::of(&record);
            self.apply(&Change::Assessment(Box::new(change)));
        }
    }

    fn labels(&mut self, labels: &BTreeMap<String, String>) -> Box<[(u32, u32)]> {
        labels
            .iter()
            .map(|(k, v)| (self.symbols.id(k), self.symbols.id(v)))
            .collect()
    }

    /// `estimate` without what the totals do not read, its names shared.
    fn trimmed(&mut self, mut estimate: HostEstimate) -> Box<HostEstimate> {
        estimate.factors = Default::default();
        estimate.onprem.cpu_match = None;
        estimate.onprem.notes = Vec::new();
        for s in &mut estimate.scenarios {
            s.sizing = None;
            s.notes = Vec::new();
            self.symbols.share(&mut s.name);
            for t in [&mut s.region, &mut s.instance, &mut s.market_basis]
                .into_iter()
                .flatten()
            {
                self.symbols.share(t);
            }
        }
        estimate.scenarios.shrink_to_fit();
        Box::new(estimate)
    }

    /// Applies `change` as the store applies the write behind it.
    fn apply(&mut self, change: &Change) {
        match change {
            Change::Report(r) => {
                let labels = self.labels(&r.labels);
                let seen = r.collected_at;
                match self.hosts.get_mut(r.host_id.as_str()) {
                    Some(e) => {
                        if seen >= e.last_seen {
                            e.labels = labels;
                        }
                        e.last_seen = e.last_seen.max(seen);
                    }
                    None => {
                        let entry = HostEntry {
                            last_seen: seen,
                            inventory_at: None,
                            kind: None,
                            os: [None; 3],
                            labels,
                        };
                        self.hosts.insert(r.host_id.clone().into_boxed_str(), entry);
                    }
                }
                if let Some(f) = &r.inventory {
                    let kind = f.machine_kind.as_deref().map(|s| self.symbols.id(s));
                    let os = [&f.os_family, &f.os_id, &f.os_version]
                        .map(|v| v.as_deref().map(|s| self.symbols.id(s)));
                    if let Some(e) = self.hosts.get_mut(r.host_id.as_str())
                        && e.inventory_at.is_none_or(|at| at <= seen)
                    {
                        e.inventory_at = Some(seen);
                        e.kind = kind;
                        e.os = os;
                    }
                }
            }
            Change::Assessment(a) => {
                if self
                    .assessed
                    .get(a.host_id.as_str())
                    .is_some_and(|held| held.at > a.at)
                {
                    return;
                }
                let assessed = Assessed {
                    at: a.at,
                    score: a.score,
                    band: a.band.as_deref().map(|b| self.symbols.id(b)),
                    statuses: a
                        .statuses
                        .iter()
                        .map(|(c, s)| (self.symbols.id(c), self.symbols.id(s)))
                        .collect(),
                    estimate: a.estimate.clone().map(|e| self.trimmed(e)),
                };
                self.assessed
                    .insert(a.host_id.clone().into_boxed_str(), assessed);
            }
        }
    }

    fn aggregate(&self, assessor: &Assessor, stale_before: DateTime<Utc>) -> Aggregate {
        let sym = |id: Option<u32>| id.map(|i| self.symbols.name(i));
        let mut hosts = HostCounts::default();
        for e in self.hosts.values() {
            hosts.add(e.last_seen >= stale_before, sym(e.kind), e.os.map(sym));
        }
        let (fleet, view) = self.checks(assessor);
        let estimates = self.assessed.values().filter_map(|a| a.estimate.as_deref());
        let carbon = crate::estate::carbon_view_of(estimates, assessor.estimator());
        Aggregate {
            hosts,
            fleet,
            view,
            carbon,
        }
    }

    /// [`crate::estate::fleet_checks`] and [`crate::estate::score_view`] over the index:
    /// the same figures, with checks and statuses as numbers.
    fn checks(&self, assessor: &Assessor) -> (Vec<FleetCheck>, EstateScoreView) {
        let plan = assessor.plan();
        let scoring = assessor.scoring();
        let n = self.symbols.names.len();
        // Per check symbol: hosts by status symbol.
        let mut counts: Vec<Vec<(u32, u64)>> = vec![Vec::new(); n];
        let mut weights: Vec<Option<f64>> = vec![None; n];
        for p in plan.checks() {
            if let Some(id) = self.symbols.lookup(&p.check.id.to_string())
                && let Some(w) = weights.get_mut(id as usize)
            {
                *w = Some(p.weight);
            }
        }
        let weight = |check: u32| weights.get(check as usize).copied().flatten();
        let (pass, fail) = (self.symbols.lookup("pass"), self.symbols.lookup("fail"));
        let criticality = self.symbols.lookup(&scoring.criticality_label);
        let host_weight = |host_id: &str| -> f64 {
            self.hosts
                .get(host_id)
                .and_then(|h| {
                    h.labels
                        .iter()
                        .find(|(k, _)| Some(*k) == criticality)
                        .map(|(_, v)| self.symbols.name(*v))
                })
                .and_then(|v| scoring.criticality_weights.get(v))
                .copied()
                .unwrap_or(scoring.default_host_weight)
        };
        let mut bands: BTreeMap<String, u64> = ["green", "amber", "red", "unscored"]
            .into_iter()
            .map(|b| (b.to_owned(), 0))
            .collect();
        let (mut sum, mut total_weight) = (0.0, 0.0);
        let mut gains: Vec<(f64, u64)> = vec![(0.0, 0); n];
        for (host_id, a) in &self.assessed {
            for &(check, status) in &a.statuses {
                if let Some(c) = counts.get_mut(check as usize) {
                    match c.iter_mut().find(|(s, _)| *s == status) {
                        Some(entry) => entry.1 += 1,
                        None => c.push((status, 1)),
                    }
                }
            }
            let band = a.band.map_or("unscored", |b| self.symbols.name(b));
            *bands.entry(band.to_owned()).or_default() += 1;
            let Some(score) = a.score else { continue };
            let hw = host_weight(host_id);
            sum += hw * score;
            total_weight += hw;
            let possible: f64 = a
                .statuses
                .iter()
                .filter(|(_, s)| Some(*s) == pass || Some(*s) == fail)
                .filter_map(|(c, _)| weight(*c))
                .sum();
            if possible <= 0.0 {
                continue;
            }
            for &(check, status) in &a.statuses {
                if Some(status) == fail
                    && let Some(w) = weight(check)
                    && let Some(entry) = gains.get_mut(check as usize)
                {
                    entry.0 += hw * w / possible;
                    entry.1 += 1;
                }
            }
        }
        let fleet = plan
            .checks()
            .map(|p| {
                let id = p.check.id.to_string();
                let mut hosts: BTreeMap<String, u64> =
                    ["pass", "fail", "not_applicable", "waived", "error"]
                        .into_iter()
                        .map(|s| (s.to_owned(), 0))
                        .collect();
                if let Some(c) = self
                    .symbols
                    .lookup(&id)
                    .and_then(|sym| counts.get(sym as usize))
                {
                    for &(status, k) in c {
                        *hosts
                            .entry(self.symbols.name(status).to_owned())
                            .or_default() += k;
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
            .collect();
        let mut improvements: Vec<EstateGain> = gains
            .iter()
            .enumerate()
            .filter(|(_, (g, _))| *g > 0.0)
            .map(|(check, (g, k))| EstateGain {
                id: self.symbols.names[check].to_string(),
                gain: if total_weight > 0.0 {
                    g / total_weight
                } else {
                    0.0
                },
                failing_hosts: *k,
            })
            .collect();
        improvements.sort_by(|a, b| b.gain.total_cmp(&a.gain).then_with(|| a.id.cmp(&b.id)));
        let view = EstateScoreView {
            profile: plan.profile().to_owned(),
            score: (total_weight > 0.0).then(|| sum / total_weight),
            bands,
            hosts_assessed: self.assessed.len() as u64,
            improvements,
        };
        (fleet, view)
    }
}

/// A [`Store`] that hands the [`EstateIndex`] each report and assessment it stores.
pub struct IndexedStore {
    inner: Arc<dyn Store>,
    index: EstateIndex,
}

impl std::fmt::Debug for IndexedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl IndexedStore {
    /// Wraps `inner`, keeping `index` up to date with its writes.
    pub fn new(inner: Arc<dyn Store>, index: EstateIndex) -> IndexedStore {
        IndexedStore { inner, index }
    }
}

/// Forwards every call to the inner store but the two that change the index.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> crate::store::StoreFuture<'_, $out> {
            self.inner.$name($($arg),*)
        })*
    };
}

impl Store for IndexedStore {
    fn ingest(&self, report: NewReport) -> crate::store::StoreFuture<'_, IngestOutcome> {
        let change = ReportChange::of(&report);
        Box::pin(async move {
            let outcome = self.inner.ingest(report).await?;
            if outcome == IngestOutcome::Stored {
                self.index.report(change);
            }
            Ok(outcome)
        })
    }

    fn save_assessment(&self, assessment: AssessmentRecord) -> crate::store::StoreFuture<'_, u64> {
        let change = AssessmentChange::of(&assessment);
        Box::pin(async move {
            let transitions = self.inner.save_assessment(assessment).await?;
            self.index.assessment(change);
            Ok(transitions)
        })
    }

    forward! {
        enrol(host_id: String, hostname: String, token_hash: String) -> ();
        token_host(token_hash: String) -> Option<String>;
        revoke(host_id: String) -> bool;
        tokens() -> Vec<crate::store::TokenRecord>;
        hosts() -> Vec<HostRecord>;
        list_hosts(query: crate::store::HostQuery) -> crate::store::HostPage;
        host(host_id: String) -> Option<HostRecord>;
        series(host_id: String, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<crate::store::SeriesPoint>;
        latest_report(host_id: String) -> Option<String>;
        assessment(host_id: String) -> Option<(AssessmentRecord, Vec<crate::store::CheckStatusRecord>)>;
        assessments() -> Vec<AssessmentRecord>;
        assessment_details(after: Option<String>, limit: u32) -> Vec<AssessmentRecord>;
        assessment_page(after: Option<String>, limit: u32) -> Vec<AssessmentRecord>;
        carbon_estimates() -> Vec<CarbonRecord>;
        host_energy() -> Vec<crate::store::HostEnergy>;
        check_transitions(host_id: String, since: DateTime<Utc>) -> Vec<crate::store::CheckTransition>;
        prune_raw_reports(cutoff: DateTime<Utc>) -> u64;
        host_states(stale_before: DateTime<Utc>) -> crate::store::HostStates;
        counts() -> crate::store::Counts;
        ping() -> ();
    }

    fn transactions(&self) -> u64 {
        self.inner.transactions()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assess::AssessConfig;
    use crate::store::sqlite::SqliteStore;
    use chrono::Duration as Days;
    use estate_agent::simulate::Fleet;
    use estate_agent::simulate::profile::Mix;

    /// What a scrape computed from the store before the index.
    async fn recomputed(
        store: &dyn Store,
        assessor: &Assessor,
        stale_before: DateTime<Utc>,
    ) -> Aggregate {
        let hosts = store.hosts().await.unwrap();
        let assessments = store.assessments().await.unwrap();
        let records = store.carbon_estimates().await.unwrap();
        let (estimates, unreadable) = crate::estate::read_estimates(&records);
        assert!(unreadable.is_empty());
        Aggregate {
            hosts: HostCounts::of(&hosts, stale_before),
            fleet: crate::estate::fleet_checks(assessor.plan(), &assessments),
            view: crate::estate::score_view(
                assessor.plan(),
                assessor.scoring(),
                &assessments,
                &hosts,
            ),
            carbon: crate::estate::carbon_view(&estimates, assessor.estimator()),
        }
    }

    struct Estate {
        fleet: Fleet,
        now: DateTime<Utc>,
        assessor: Arc<Assessor>,
    }

    impl Estate {
        /// Host `index`'s report collected `hours_ago`, with its inventory or not, its
        /// `criticality` label set to `critical` when asked.
        fn report(&self, index: u64, hours_ago: i64, inventory: bool, critical: bool) -> NewReport {
            let at = self.now - Days::hours(hours_ago);
            let mut r = self
                .fleet
                .first_report(index, at, 300, uuid::Uuid::new_v4());
            if !inventory {
                r.inventory = None;
            }
            if critical {
                r.labels
                    .insert("criticality".to_owned(), "critical".to_owned());
            }
            let raw = serde_json::to_string(&r).unwrap();
            crate::ingest::to_new_report(&r, raw, at).unwrap()
        }

        async fn store(&self, store: &dyn Store, report: NewReport) {
            let host = report.host_id.clone();
            assert_eq!(store.ingest(report).await.unwrap(), IngestOutcome::Stored);
            crate::pipeline::assess_host(store, &self.assessor, &host)
                .await
                .unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_index_adds_up_to_what_the_store_gives() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("estate.db"), 16, 16).unwrap());
        let index = EstateIndex::start(Duration::from_secs(3600));
        let store = IndexedStore::new(Arc::clone(&inner), index.clone());
        let mut config = AssessConfig::default();
        config.scoring.criticality_label = "criticality".to_owned();
        config
            .scoring
            .criticality_weights
            .insert("critical".to_owned(), 3.0);
        let estate = Estate {
            fleet: Fleet::new(
                7,
                Mix::COUNCIL,
                chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                0.1,
            ),
            now: Utc::now(),
            assessor: Arc::new(Assessor::load(&config).unwrap()),
        };
        let assessor = &estate.assessor;
        let stale_before = estate.now - Days::hours(2);
        let check = || async {
            let held = index
                .aggregate(Arc::clone(assessor), stale_before)
                .await
                .unwrap();
            assert_eq!(held, recomputed(&store, assessor, stale_before).await);
            held
        };

        // Not ready before the first rebuild, though writes arrive.
        for i in 0..8 {
            estate
                .store(&store, estate.report(i, i as i64 % 4, true, i % 3 == 0))
                .await;
        }
        assert!(!index.is_ready());
        assert_eq!(
            index.aggregate(Arc::clone(assessor), stale_before).await,
            None
        );
        index.rebuild(&store, true).await.unwrap();
        assert!(index.is_ready() && !index.due());
        let first = check().await;
        assert_eq!(first.view.hosts_assessed, 8);
        assert!(first.hosts.stale > 0 && first.hosts.reporting > 0);
        assert!(first.carbon.hosts_estimated > 0 && !first.carbon.scenarios.is_empty());
        assert!(!first.view.improvements.is_empty());

        // Writes after it: new hosts; a newer report without inventory that changes the
        // labels and brings a stale host back; an older one that changes nothing.
        for i in 8..14 {
            estate
                .store(&store, estate.report(i, 0, true, i % 2 == 0))
                .await;
        }
        estate
            .store(&store, estate.report(3, 0, false, false))
            .await;
        estate
            .store(&store, estate.report(0, 30, true, false))
            .await;
        let later = check().await;
        assert_eq!(later.view.hosts_assessed, 14);
        assert_ne!(later.hosts, first.hosts);

        // A write the index did not see (another collector, `import`): in after a rebuild.
        estate
            .store(&*inner, estate.report(20, 0, true, true))
            .await;
        let missed = index
            .aggregate(Arc::clone(assessor), stale_before)
            .await
            .unwrap();
        assert_eq!(missed.view.hosts_assessed, 14);
        index.rebuild(&store, false).await.unwrap();
        assert_eq!(check().await.view.hosts_assessed, 15);

        // Writes while a rebuild reads the store are replayed onto the rebuilt index.
        let writes = async {
            for i in 30..36 {
                estate.store(&store, estate.report(i, 1, true, false)).await;
            }
        };
        let (rebuilt, ()) = tokio::join!(index.rebuild(&store, false), writes);
        rebuilt.unwrap();
        assert_eq!(check().await.view.hosts_assessed, 21);
    }
}
