//! A [`Store`] decorator that times every operation and hands the duration to an
//! observer (the collector's `estate_store_operation_duration_seconds`). It keeps the
//! backends free of metrics and the metrics free of backends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{
    AssessmentRecord, CarbonRecord, CheckStatusRecord, CheckTransition, Counts, HostEnergy,
    HostPage, HostQuery, HostRecord, HostStates, IngestOutcome, NewReport, SeriesPoint, Store,
    StoreFuture, TokenRecord,
};

/// Receives `(operation, elapsed)` after each store call, successful or not.
pub type Observer = Arc<dyn Fn(&'static str, Duration) + Send + Sync>;

/// A store whose every call is timed.
pub struct TimedStore {
    inner: Arc<dyn Store>,
    observe: Observer,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl TimedStore {
    /// Wraps `inner`, reporting each call's duration to `observe`.
    pub fn new(inner: Arc<dyn Store>, observe: Observer) -> TimedStore {
        TimedStore { inner, observe }
    }

    fn timed<'a, T: 'a>(
        &'a self,
        operation: &'static str,
        call: StoreFuture<'a, T>,
    ) -> StoreFuture<'a, T> {
        let start = Instant::now();
        Box::pin(async move {
            let result = call.await;
            (self.observe)(operation, start.elapsed());
            result
        })
    }
}

impl Store for TimedStore {
    fn ingest(&self, report: NewReport) -> StoreFuture<'_, IngestOutcome> {
        self.timed("ingest", self.inner.ingest(report))
    }
    fn enrol(&self, host_id: String, hostname: String, token_hash: String) -> StoreFuture<'_, ()> {
        self.timed("enrol", self.inner.enrol(host_id, hostname, token_hash))
    }
    fn token_host(&self, token_hash: String) -> StoreFuture<'_, Option<String>> {
        self.timed("token_host", self.inner.token_host(token_hash))
    }
    fn revoke(&self, host_id: String) -> StoreFuture<'_, bool> {
        self.timed("revoke", self.inner.revoke(host_id))
    }
    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        self.timed("tokens", self.inner.tokens())
    }
    fn hosts(&self) -> StoreFuture<'_, Vec<HostRecord>> {
        self.timed("hosts", self.inner.hosts())
    }
    fn list_hosts(&self, query: HostQuery) -> StoreFuture<'_, HostPage> {
        self.timed("list_hosts", self.inner.list_hosts(query))
    }
    fn host(&self, host_id: String) -> StoreFuture<'_, Option<HostRecord>> {
        self.timed("host", self.inner.host(host_id))
    }
    fn series(
        &self,
        host_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<SeriesPoint>> {
        self.timed("series", self.inner.series(host_id, from, to))
    }
    fn latest_report(&self, host_id: String) -> StoreFuture<'_, Option<String>> {
        self.timed("latest_report", self.inner.latest_report(host_id))
    }
    fn save_assessment(&self, assessment: AssessmentRecord) -> StoreFuture<'_, u64> {
        self.timed("save_assessment", self.inner.save_assessment(assessment))
    }
    fn assessment(
        &self,
        host_id: String,
    ) -> StoreFuture<'_, Option<(AssessmentRecord, Vec<CheckStatusRecord>)>> {
        self.timed("assessment", self.inner.assessment(host_id))
    }
    fn assessments(&self) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        self.timed("assessments", self.inner.assessments())
    }
    fn assessment_details(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        self.timed(
            "assessment_details",
            self.inner.assessment_details(after, limit),
        )
    }
    fn assessment_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        self.timed("assessment_page", self.inner.assessment_page(after, limit))
    }
    fn carbon_estimates(&self) -> StoreFuture<'_, Vec<CarbonRecord>> {
        self.timed("carbon_estimates", self.inner.carbon_estimates())
    }
    fn host_energy(&self) -> StoreFuture<'_, Vec<HostEnergy>> {
        self.timed("host_energy", self.inner.host_energy())
    }
    fn check_transitions(
        &self,
        host_id: String,
        since: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<CheckTransition>> {
        self.timed(
            "check_transitions",
            self.inner.check_transitions(host_id, since),
        )
    }
    fn prune_raw_reports(&self, cutoff: DateTime<Utc>) -> StoreFuture<'_, u64> {
        self.timed("prune_raw_reports", self.inner.prune_raw_reports(cutoff))
    }
    fn host_states(&self, stale_before: DateTime<Utc>) -> StoreFuture<'_, HostStates> {
        self.timed("host_states", self.inner.host_states(stale_before))
    }
    fn counts(&self) -> StoreFuture<'_, Counts> {
        self.timed("counts", self.inner.counts())
    }
    fn ping(&self) -> StoreFuture<'_, ()> {
        self.timed("ping", self.inner.ping())
    }
    fn transactions(&self) -> u64 {
        self.inner.transactions()
    }
}
