//! The collector's Prometheus metrics: a [`Metrics`] struct registered on its own
//! [`Registry`] (kept in app state, never global, so parallel tests stay isolated), and
//! the text exposition of `/metrics`. Names and labels are documented in
//! `docs/metrics.md`.
//!
//! This module owns metric names and recording; it must not decide outcomes (handlers
//! pass them in) and must not take unbounded labels.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::store::HostStates;

/// A host whose last report is older than this is `stale` in `estate_hosts`.
pub const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Why the metrics could not be built or encoded.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Every metric the collector exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    hosts: IntGaugeVec,
    ingest_reports: IntCounterVec,
    ingest_duration: Histogram,
    write_transactions: IntCounter,
}

impl Metrics {
    /// Creates the metrics on a fresh registry.
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let hosts = IntGaugeVec::new(
            Opts::new(
                "estate_hosts",
                "Hosts known to the collector, by state (reporting, stale).",
            ),
            &["state"],
        )?;
        let ingest_reports = IntCounterVec::new(
            Opts::new(
                "estate_ingest_reports_total",
                "Reports received on POST /api/v1/reports, by outcome (stored, duplicate, or the error code).",
            ),
            &["outcome"],
        )?;
        let ingest_duration = Histogram::with_opts(
            HistogramOpts::new(
                "estate_ingest_duration_seconds",
                "Time to answer POST /api/v1/reports, including the durable commit.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
        )?;
        let write_transactions = IntCounter::new(
            "estate_store_write_transactions_total",
            "Write transactions committed by the store (many reports share one).",
        )?;
        registry.register(Box::new(hosts.clone()))?;
        registry.register(Box::new(ingest_reports.clone()))?;
        registry.register(Box::new(ingest_duration.clone()))?;
        registry.register(Box::new(write_transactions.clone()))?;
        for state in ["reporting", "stale"] {
            hosts.with_label_values(&[state]).set(0);
        }
        for outcome in ["stored", "duplicate"] {
            ingest_reports.with_label_values(&[outcome]);
        }
        Ok(Metrics {
            registry,
            hosts,
            ingest_reports,
            ingest_duration,
            write_transactions,
        })
    }

    /// Counts one ingest request by its outcome (`stored`, `duplicate` or an error code)
    /// and observes how long it took.
    pub fn observe_ingest(&self, outcome: &str, elapsed: Duration) {
        self.ingest_reports.with_label_values(&[outcome]).inc();
        self.ingest_duration.observe(elapsed.as_secs_f64());
    }

    /// The cutoff between `reporting` and `stale` hosts at `now`.
    pub fn stale_before(now: DateTime<Utc>) -> DateTime<Utc> {
        now - chrono::Duration::from_std(STALE_AFTER).unwrap_or_default()
    }

    /// Refreshes the gauges computed from the store.
    pub fn refresh(&self, hosts: HostStates, transactions: u64) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.hosts
            .with_label_values(&["reporting"])
            .set(count(hosts.reporting));
        self.hosts
            .with_label_values(&["stale"])
            .set(count(hosts.stale));
        let seen = self.write_transactions.get();
        if transactions > seen {
            self.write_transactions.inc_by(transactions - seen);
        }
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Result<String, MetricsError> {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}
