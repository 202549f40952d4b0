//! The `Store` trait: everything the collector keeps, behind one seam, and the types that
//! cross it. Backends live in submodules (`sqlite`, `postgres`); [`conformance`] is
//! the behaviour suite every backend must pass.
//!
//! This module owns the storage contract; it must not know about HTTP.

pub mod conformance;
pub mod postgres;
pub mod sqlite;
pub mod timed;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::SqliteStore;

/// A boxed future returned by [`Store`] methods (keeps the trait usable as `dyn Store`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What went wrong in a store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The writer queue is full; try again later.
    #[error("the writer queue is full")]
    Busy,
    /// The store is shut down or its writer died.
    #[error("the store is not running")]
    Closed,
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// The storage is full (SQLite's `SQLITE_FULL`, which it answers when a write meets
    /// `ENOSPC` or its size limit; PostgreSQL's `disk_full`): the write was not made and
    /// nothing stored was touched. Writes succeed again once space is freed.
    #[error("the storage is full: {0}")]
    Full(String),
    /// The migrations could not be applied.
    #[error("migration {version} failed: {message}")]
    Migration {
        /// The migration's version.
        version: i64,
        /// Why.
        message: String,
    },
}

/// A report ready to store: the parts the store indexes, plus the raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReport {
    /// The report's id (idempotency key).
    pub report_id: Uuid,
    /// The host it is about.
    pub host_id: String,
    /// The host name at collection time.
    pub hostname: String,
    /// Labels from the agent.
    pub labels: BTreeMap<String, String>,
    /// When the agent assembled it.
    pub collected_at: DateTime<Utc>,
    /// When the collector received it.
    pub received_at: DateTime<Utc>,
    /// The inventory as JSON, when the report carried one.
    pub inventory_json: Option<String>,
    /// The report's `inventory_hash`.
    pub inventory_hash: String,
    /// OS and machine kind from the inventory, when the report carried one.
    pub facets: Option<HostFacets>,
    /// The summaries for the time series.
    pub point: SeriesPoint,
    /// The whole report as received (decompressed), for audit and re-processing.
    pub raw_json: String,
}

/// What the collector indexes about a host from its latest inventory, for filtering and
/// the estate summary without reading inventories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacets {
    /// `linux`, `windows`, `macos`, … (the inventory's `os.family`).
    pub os_family: Option<String>,
    /// The OS id (`rocky`, `debian`, `windows`, …).
    pub os_id: Option<String>,
    /// The OS's pretty name (`Rocky Linux 9.3 (Blue Onyx)`).
    pub os_name: Option<String>,
    /// The OS version (`9.3`, `12`, `10.0.20348`).
    pub os_version: Option<String>,
    /// `physical`, `vm`, `container` or `unknown`.
    pub machine_kind: Option<String>,
    /// `laptop`, `desktop`, `server`, `virtual` or `unknown`.
    pub chassis: Option<String>,
}

/// One row of a host's time series: the utilisation and power summaries of one report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesPoint {
    /// Start of the window.
    pub window_start: DateTime<Utc>,
    /// End of the window.
    pub window_end: DateTime<Utc>,
    /// Mean CPU busy ratio (0–1).
    pub cpu_mean_ratio: Option<f64>,
    /// 95th percentile CPU busy ratio (0–1).
    pub cpu_p95_ratio: Option<f64>,
    /// Mean memory used ratio (0–1).
    pub memory_mean_ratio: Option<f64>,
    /// 95th percentile memory used ratio (0–1).
    pub memory_p95_ratio: Option<f64>,
    /// Sum of the average watts of all power readings.
    pub power_watts: Option<f64>,
    /// Sum of the energy of all power readings, joules.
    pub energy_joules: Option<f64>,
    /// `measured`, `modelled` or `none`.
    pub power_source: String,
}

/// What happened to a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Stored now.
    Stored,
    /// Stored before; nothing changed.
    Duplicate,
}

/// A host as the read API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRecord {
    /// The host's id.
    pub host_id: String,
    /// Latest host name.
    pub hostname: String,
    /// Latest labels.
    pub labels: BTreeMap<String, String>,
    /// First report's `collected_at`.
    pub first_seen: DateTime<Utc>,
    /// Latest report's `collected_at`.
    pub last_seen: DateTime<Utc>,
    /// Hash of the stored inventory, when one is stored.
    pub inventory_hash: Option<String>,
    /// The `inventory_hash` of the latest report (differs from `inventory_hash` when the
    /// host's full inventory has not arrived yet).
    pub reported_inventory_hash: String,
    /// When the stored inventory was collected.
    pub inventory_collected_at: Option<DateTime<Utc>>,
    /// OS and machine kind from the stored inventory (all `None` before one arrives).
    #[serde(flatten)]
    pub facets: HostFacets,
    /// The latest inventory (only in single-host answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<serde_json::Value>,
}

/// A per-host agent token, as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    /// The host the token is bound to.
    pub host_id: String,
    /// The host name given at enrolment.
    pub hostname: String,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// Whether a host reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostState {
    /// Reported at or after the stale cutoff.
    Reporting,
    /// Silent since before the stale cutoff.
    Stale,
}

/// A filtered, paginated host listing. Every filter given must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostQuery {
    /// Labels that must be present with exactly these values.
    pub labels: BTreeMap<String, String>,
    /// Matches `os_family`, `os_id` or `os_name` (case-insensitive, whole value).
    pub os: Option<String>,
    /// Matches `machine_kind` exactly.
    pub machine_kind: Option<String>,
    /// Reporting or stale, relative to `stale_before`.
    pub state: Option<HostState>,
    /// The stale cutoff used by `state`.
    pub stale_before: DateTime<Utc>,
    /// Case-insensitive substring of the host name or id.
    pub search: Option<String>,
    /// Keyset cursor: only hosts whose id sorts after this one.
    pub after: Option<String>,
    /// Most hosts in the page (at least 1).
    pub limit: u32,
}

/// One page of hosts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostPage {
    /// The hosts, by id.
    pub hosts: Vec<HostRecord>,
    /// How many hosts match the filters (all pages).
    pub total: u64,
    /// The cursor for the next page, when there is one.
    pub next_after: Option<String>,
}

/// A host's latest check evaluation, as stored: the statuses the store tracks over time
/// and the full detail (results, score, carbon estimate) as JSON for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssessmentRecord {
    /// The host.
    pub host_id: String,
    /// When it was evaluated.
    pub assessed_at: DateTime<Utc>,
    /// The profile evaluated.
    pub profile: String,
    /// The host's score in [0, 1], when anything was scored.
    pub score: Option<f64>,
    /// `green`, `amber` or `red`, when scored.
    pub band: Option<String>,
    /// Each check's status (`pass`, `fail`, `not_applicable`, `waived`, `error`), by id.
    pub statuses: BTreeMap<String, String>,
    /// The whole assessment as JSON.
    #[serde(skip)]
    pub detail_json: String,
    /// The host's carbon estimate without its factors, as JSON (`None` when the host had
    /// no report to estimate from): what estate totals read, without `detail_json`.
    /// Saved with the assessment; read back by [`Store::carbon_estimates`] (and by
    /// [`Store::assessment`]), not by [`Store::assessments`].
    #[serde(skip)]
    pub carbon_json: Option<String>,
    /// The compact view a report reads (`report::view`: statuses, evidence of what did
    /// not pass, the report's facts, the estimate with its factors named, not spelled
    /// out), as JSON; `None` for an assessment saved without one. Kept in a table of its
    /// own beside the assessment, replaced or removed with it; read back only by
    /// [`Store::assessment_details`].
    #[serde(skip)]
    pub view_json: Option<String>,
}

/// One host's stored carbon estimate (the compact copy saved with its assessment).
#[derive(Debug, Clone, PartialEq)]
pub struct CarbonRecord {
    /// The host.
    pub host_id: String,
    /// When the assessment holding it was made.
    pub assessed_at: DateTime<Utc>,
    /// The estimate without its factors, as JSON.
    pub carbon_json: String,
}

/// A host's energy as reported, kept at ingest.
#[derive(Debug, Clone, PartialEq)]
pub struct HostEnergy {
    /// The host.
    pub host_id: String,
    /// Sum of the `energy_joules` of every report stored for the host (each report
    /// once), joules; 0 when none measured anything. Kept as a running total when a
    /// report is stored, so it does not shrink when old series or raw reports go.
    pub energy_joules_total: f64,
}

/// A check's current status on a host and since when it has held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckStatusRecord {
    /// The check.
    pub check_id: String,
    /// Its status.
    pub status: String,
    /// The assessment that first gave this status (unchanged since).
    pub since: DateTime<Utc>,
}

/// A check's status changing on a host: when it started failing, when it was resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckTransition {
    /// The host.
    pub host_id: String,
    /// The check.
    pub check_id: String,
    /// The status before (`None` the first time the check ran on the host).
    pub from: Option<String>,
    /// The status after (`removed` when the check left the catalogue or profile).
    pub to: String,
    /// When (the assessment's time).
    pub at: DateTime<Utc>,
}

/// Hosts by state, for `estate_hosts`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStates {
    /// Reported since the cutoff.
    pub reporting: u64,
    /// Silent since before the cutoff.
    pub stale: u64,
}

/// Row counts, for tests and the health view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Hosts.
    pub hosts: u64,
    /// Raw reports kept.
    pub raw_reports: u64,
    /// Series rows (one per stored report).
    pub series: u64,
    /// Agent tokens (live and revoked).
    pub tokens: u64,
}

/// What one report adds to its host's energy total, joules: its `energy_joules` when
/// finite and positive, else nothing (the total is a counter: it never falls).
pub fn energy_increment(energy_joules: Option<f64>) -> f64 {
    energy_joules
        .filter(|j| j.is_finite() && *j > 0.0)
        .unwrap_or(0.0)
}

/// Everything the collector keeps. Writes return once they are durable.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Stores a report, idempotently by `report_id`. Upserts the host: latest name,
    /// labels and last-seen move forward only; the stored inventory is replaced only by
    /// a report that carries one; the host's energy total grows by the report's
    /// `energy_joules` (once: a duplicate adds nothing).
    fn ingest(&self, report: NewReport) -> StoreFuture<'_, IngestOutcome>;
    /// Issues (or re-issues, replacing the previous one) the agent token of a host.
    fn enrol(&self, host_id: String, hostname: String, token_hash: String) -> StoreFuture<'_, ()>;
    /// The host a live token hash is bound to.
    fn token_host(&self, token_hash: String) -> StoreFuture<'_, Option<String>>;
    /// Revokes a host's token; false when it had none.
    fn revoke(&self, host_id: String) -> StoreFuture<'_, bool>;
    /// Every token, by host.
    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>>;
    /// Every host, without inventories, by id.
    fn hosts(&self) -> StoreFuture<'_, Vec<HostRecord>>;
    /// One page of hosts matching `query`, without inventories, by id.
    fn list_hosts(&self, query: HostQuery) -> StoreFuture<'_, HostPage>;
    /// One host with its inventory.
    fn host(&self, host_id: String) -> StoreFuture<'_, Option<HostRecord>>;
    /// A host's series points whose window ends in `[from, to)`, oldest first.
    fn series(
        &self,
        host_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<SeriesPoint>>;
    /// The newest kept raw report of a host (by `collected_at`), as received.
    fn latest_report(&self, host_id: String) -> StoreFuture<'_, Option<String>>;
    /// Stores a host's assessment, replacing the previous one unless that one is newer
    /// (then nothing changes). Records a transition for every check whose status
    /// changed (and `removed` for checks no longer evaluated); returns how many.
    fn save_assessment(&self, assessment: AssessmentRecord) -> StoreFuture<'_, u64>;
    /// A host's stored assessment and each check's status with its `since`.
    fn assessment(
        &self,
        host_id: String,
    ) -> StoreFuture<'_, Option<(AssessmentRecord, Vec<CheckStatusRecord>)>>;
    /// Every host's assessment without `detail_json` and `carbon_json`, by host id (for
    /// fleet counts).
    fn assessments(&self) -> StoreFuture<'_, Vec<AssessmentRecord>>;
    /// One page of stored assessments for a report: at most `limit` hosts whose id sorts
    /// after `after`, by host id, each with its `view_json` when it has one and otherwise
    /// its `detail_json` (empty when the view is there: the detail is not read at all);
    /// `statuses` and `carbon_json` left empty. One query per page instead of one per host.
    fn assessment_details(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>>;
    /// Up to `limit` hosts' assessments after host id `after` (from the first without
    /// it), in host-id order, with their statuses and `carbon_json` but without
    /// `detail_json` and `view_json`: the estate index reads the store in such pages, so
    /// a rebuild never holds every host's statuses at once.
    fn assessment_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>>;
    /// Every host's stored carbon estimate (hosts assessed without one are left out), by
    /// host id.
    fn carbon_estimates(&self) -> StoreFuture<'_, Vec<CarbonRecord>>;
    /// Every host's reported energy total, by host id.
    fn host_energy(&self) -> StoreFuture<'_, Vec<HostEnergy>>;
    /// A host's check transitions at or after `since`, oldest first.
    fn check_transitions(
        &self,
        host_id: String,
        since: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<CheckTransition>>;
    /// Deletes raw reports received before `cutoff`; returns how many.
    fn prune_raw_reports(&self, cutoff: DateTime<Utc>) -> StoreFuture<'_, u64>;
    /// Hosts whose last report is at or after `stale_before` (reporting) and before it
    /// (stale), counted in the store.
    fn host_states(&self, stale_before: DateTime<Utc>) -> StoreFuture<'_, HostStates>;
    /// Row counts.
    fn counts(&self) -> StoreFuture<'_, Counts>;
    /// Succeeds when the store can answer.
    fn ping(&self) -> StoreFuture<'_, ()>;
    /// Write transactions committed since start (shows group commit at work).
    fn transactions(&self) -> u64;
}
