//! The collector's Prometheus metrics: a [`Metrics`] struct registered on its own
//! [`Registry`] (kept in app state, never global, so parallel tests stay isolated), and
//! the text exposition of `/metrics`. Names and labels are documented in
//! `docs/metrics.md`.
//!
//! This module owns metric names and recording; it must not decide outcomes (handlers
//! pass them in) and must not take unbounded labels.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use prometheus::core::Collector;
use prometheus::proto::MetricType;
use prometheus::{
    CounterVec, Encoder, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::carbon::{HostEstimate, ONPREM, OnPremMethod, READINESS_ORDER, Readiness, Totals};
use crate::estate::CarbonView;
use crate::index::HostCounts;
use crate::store::{HostEnergy, HostRecord};

/// Joules in a kilowatt-hour.
pub const JOULES_PER_KWH: f64 = 3.6e6;
/// Grams in a kilogram.
const GRAMS_PER_KG: f64 = 1000.0;

/// Label values longer than this are cut (with `…`), so one odd host name cannot make a
/// huge series.
const MAX_LABEL_VALUE_CHARS: usize = 128;

/// Why the metrics could not be built or encoded.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Every metric the collector exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    hosts: IntGaugeVec,
    hosts_by_os: IntGaugeVec,
    hosts_by_kind: IntGaugeVec,
    host_info: IntGaugeVec,
    host_last_report: GaugeVec,
    ingest_reports: IntCounterVec,
    ingest_duration: Histogram,
    store_duration: HistogramVec,
    write_transactions: IntCounter,
    check_hosts: IntGaugeVec,
    hosts_by_band: IntGaugeVec,
    estate_score: prometheus::Gauge,
    waivers: IntGaugeVec,
    host_score: GaugeVec,
    host_band: IntGaugeVec,
    assessments: IntCounterVec,
    assessment_queue: IntGauge,
    carbon_energy: GaugeVec,
    carbon_emissions: GaugeVec,
    carbon_saved: GaugeVec,
    carbon_hosts: IntGaugeVec,
    carbon_unplaced: IntGaugeVec,
    host_power: GaugeVec,
    host_energy: CounterVec,
    /// No labels: absent from `/metrics` until set, so a plain-HTTP collector has none.
    tls_certificate_expiry: GaugeVec,
    view_refreshed: Arc<tokio::sync::Mutex<Option<Instant>>>,
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
        let hosts_by_os = IntGaugeVec::new(
            Opts::new(
                "estate_hosts_by_os",
                "Hosts by operating system of their latest inventory (unknown before one arrives).",
            ),
            &["os_family", "os_id", "os_version"],
        )?;
        let hosts_by_kind = IntGaugeVec::new(
            Opts::new(
                "estate_hosts_by_kind",
                "Hosts by machine kind (physical, vm, container, unknown).",
            ),
            &["kind"],
        )?;
        let host_info = IntGaugeVec::new(
            Opts::new(
                "estate_host_info",
                "One series per host (value 1) carrying its inventory labels; only with [metrics] per_host.",
            ),
            &[
                "host_id",
                "hostname",
                "os_family",
                "os_id",
                "os_version",
                "kind",
                "chassis",
                "role",
                "site",
            ],
        )?;
        let host_last_report = GaugeVec::new(
            Opts::new(
                "estate_host_last_report_timestamp_seconds",
                "When the host's latest report was collected (Unix time); only with [metrics] per_host.",
            ),
            &["host_id"],
        )?;
        let store_duration = HistogramVec::new(
            HistogramOpts::new(
                "estate_store_operation_duration_seconds",
                "Time the store took per operation, by operation (ingest, host, hosts, list_hosts, series, ...).",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["operation"],
        )?;
        let check_hosts = IntGaugeVec::new(
            Opts::new(
                "estate_check_hosts",
                "Hosts by check and result (pass, fail, not_applicable, waived, error) in the collector's profile.",
            ),
            &["check_id", "category", "severity", "status"],
        )?;
        let hosts_by_band = IntGaugeVec::new(
            Opts::new(
                "estate_hosts_by_band",
                "Assessed hosts by band (green, amber, red, unscored).",
            ),
            &["band"],
        )?;
        let estate_score = prometheus::Gauge::new(
            "estate_score_ratio",
            "The estate's health score (0-1): host scores averaged, weighted by the criticality label.",
        )?;
        let waivers = IntGaugeVec::new(
            Opts::new(
                "estate_waivers",
                "Configured waivers by state (active, expired).",
            ),
            &["state"],
        )?;
        let host_score = GaugeVec::new(
            Opts::new(
                "estate_host_score_ratio",
                "A host's health score (0-1); only with [metrics] per_host.",
            ),
            &["host_id"],
        )?;
        let host_band = IntGaugeVec::new(
            Opts::new(
                "estate_host_band",
                "A host's band (value 1 on the current band); only with [metrics] per_host.",
            ),
            &["host_id", "band"],
        )?;
        let assessments = IntCounterVec::new(
            Opts::new(
                "estate_assessments_total",
                "Host assessments run by this process, by outcome (stored, failed).",
            ),
            &["outcome"],
        )?;
        let carbon_energy = GaugeVec::new(
            Opts::new(
                "estate_carbon_energy_joules_per_year",
                "Annual energy of the estate, facility overhead (PUE) included: scenario=\"onprem\" is today's estate (every estimated host), otherwise the named scenario over the hosts it places.",
            ),
            &["scenario"],
        )?;
        let carbon_emissions = GaugeVec::new(
            Opts::new(
                "estate_carbon_emissions_grams_per_year",
                "Annual emissions in grams CO2e, by scenario (onprem or a scenario over the hosts it places) and basis (location, market: operational; embodied: amortised manufacturing).",
            ),
            &["scenario", "basis"],
        )?;
        let carbon_saved = GaugeVec::new(
            Opts::new(
                "estate_carbon_saved_grams_per_year",
                "Grams CO2e a year a scenario saves: the hosts it places on-premises minus the scenario, location-based plus embodied.",
            ),
            &["scenario"],
        )?;
        let carbon_hosts = IntGaugeVec::new(
            Opts::new(
                "estate_carbon_hosts",
                "Hosts a scenario places (or retires), by readiness (ready, conditional, not_ready, unknown) and confidence stars (1-5).",
            ),
            &["scenario", "readiness", "confidence"],
        )?;
        let carbon_unplaced = IntGaugeVec::new(
            Opts::new(
                "estate_carbon_unplaced_hosts",
                "Hosts a cloud scenario selects but no instance of its families fits.",
            ),
            &["scenario"],
        )?;
        let host_power = GaugeVec::new(
            Opts::new(
                "estate_host_power_watts",
                "A host's average power: source=measured is its latest report's RAPL/NVML readings (when it has them), source=modelled the estimate's on-premises watts at the plug; only with [metrics] per_host.",
            ),
            &["host_id", "source"],
        )?;
        let host_energy = CounterVec::new(
            Opts::new(
                "estate_host_energy_joules_total",
                "Energy a host has reported measuring (the sum of its stored reports' readings); only with [metrics] per_host.",
            ),
            &["host_id"],
        )?;
        let write_transactions = IntCounter::new(
            "estate_store_write_transactions_total",
            "Write transactions committed by the store (many reports share one).",
        )?;
        let assessment_queue = IntGauge::new(
            "estate_assessment_queue_hosts",
            "Hosts waiting to be assessed by this process (each at most once): the backlog after a config reload or a mass enrolment.",
        )?;
        let tls_certificate_expiry = GaugeVec::new(
            Opts::new(
                "estate_tls_certificate_expiry_timestamp_seconds",
                "When the certificate the collector serves over HTTPS expires (its notAfter, Unix time); set at start and on each reload; absent without [tls].",
            ),
            &[],
        )?;
        for outcome in ["stored", "failed"] {
            assessments.with_label_values(&[outcome]);
        }
        for state in ["reporting", "stale"] {
            hosts.with_label_values(&[state]).set(0);
        }
        for outcome in ["stored", "duplicate"] {
            ingest_reports.with_label_values(&[outcome]);
        }
        let metrics = Metrics {
            registry,
            hosts,
            hosts_by_os,
            hosts_by_kind,
            host_info,
            host_last_report,
            ingest_reports,
            ingest_duration,
            store_duration,
            write_transactions,
            check_hosts,
            hosts_by_band,
            estate_score,
            waivers,
            host_score,
            host_band,
            assessments,
            assessment_queue,
            carbon_energy,
            carbon_emissions,
            carbon_saved,
            carbon_hosts,
            carbon_unplaced,
            host_power,
            host_energy,
            tls_certificate_expiry,
            view_refreshed: Arc::new(tokio::sync::Mutex::new(None)),
        };
        for collector in metrics.collectors() {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// Every collector of the registry: each metric is registered through this list
    /// (and only it), so that [`Metrics::reference`] names every metric exported.
    fn collectors(&self) -> Vec<Box<dyn Collector>> {
        let mut all: Vec<Box<dyn Collector>> = vec![
            Box::new(self.hosts.clone()),
            Box::new(self.ingest_reports.clone()),
            Box::new(self.ingest_duration.clone()),
            Box::new(self.write_transactions.clone()),
            Box::new(self.hosts_by_os.clone()),
            Box::new(self.hosts_by_kind.clone()),
            Box::new(self.host_info.clone()),
            Box::new(self.host_last_report.clone()),
            Box::new(self.store_duration.clone()),
            Box::new(self.check_hosts.clone()),
            Box::new(self.hosts_by_band.clone()),
            Box::new(self.estate_score.clone()),
            Box::new(self.waivers.clone()),
            Box::new(self.host_score.clone()),
            Box::new(self.host_band.clone()),
            Box::new(self.assessments.clone()),
            Box::new(self.assessment_queue.clone()),
            Box::new(self.carbon_energy.clone()),
            Box::new(self.carbon_emissions.clone()),
            Box::new(self.carbon_saved.clone()),
            Box::new(self.carbon_hosts.clone()),
            Box::new(self.carbon_unplaced.clone()),
            Box::new(self.host_power.clone()),
            Box::new(self.host_energy.clone()),
            Box::new(self.tls_certificate_expiry.clone()),
        ];
        #[cfg(target_os = "linux")]
        all.push(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        all
    }

    /// Every metric this collector can export, with its type and label names, in
    /// registration order: what `docs/metrics.md` lists (a test holds it to this).
    pub fn reference(&self) -> Vec<MetricDoc> {
        let mut out = Vec::new();
        for collector in self.collectors() {
            let families = collector.collect();
            for desc in collector.desc() {
                let kind = families.iter().find(|f| f.name() == desc.fq_name).map_or(
                    "untyped",
                    |f| match f.get_field_type() {
                        MetricType::COUNTER => "counter",
                        MetricType::GAUGE => "gauge",
                        MetricType::HISTOGRAM => "histogram",
                        MetricType::SUMMARY => "summary",
                        MetricType::UNTYPED => "untyped",
                    },
                );
                out.push(MetricDoc {
                    name: desc.fq_name.clone(),
                    kind,
                    labels: desc.variable_labels.clone(),
                    unit: unit_of(&desc.fq_name),
                    help: desc.help.clone(),
                });
            }
        }
        out
    }

    /// Counts one ingest request by its outcome (`stored`, `duplicate` or an error code)
    /// and observes how long it took.
    pub fn observe_ingest(&self, outcome: &str, elapsed: Duration) {
        self.ingest_reports.with_label_values(&[outcome]).inc();
        self.ingest_duration.observe(elapsed.as_secs_f64());
    }

    /// Records the serving certificate's notAfter (Unix seconds), at start and on reload.
    pub fn set_tls_certificate_expiry(&self, not_after_unix: i64) {
        self.tls_certificate_expiry
            .with_label_values(&[] as &[&str])
            .set(not_after_unix as f64);
    }

    /// Observes one store operation's duration.
    pub fn observe_store(&self, operation: &str, elapsed: Duration) {
        self.store_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    /// The lock that coalesces estate view refreshes, holding when the view was last
    /// computed: scrapes that find it fresh (younger than `[metrics] refresh_secs`)
    /// reuse it, so many collectors and scrapers put a bounded load on the store.
    pub fn view_lock(&self) -> &tokio::sync::Mutex<Option<Instant>> {
        &self.view_refreshed
    }

    /// Sets the host gauges from `counts`, and the per-host series from `per_host`'s
    /// hosts when given (cleared otherwise).
    pub fn refresh_view(&self, counts: &HostCounts, per_host: Option<&[HostRecord]>) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.hosts
            .with_label_values(&["reporting"])
            .set(count(counts.reporting));
        self.hosts
            .with_label_values(&["stale"])
            .set(count(counts.stale));
        // Labels are clipped before they are added up: two values that clip alike are one
        // series.
        let mut by_kind: std::collections::BTreeMap<String, u64> = Default::default();
        for (kind, n) in &counts.by_kind {
            *by_kind.entry(clip(kind)).or_default() += n;
        }
        self.hosts_by_kind.reset();
        for (kind, n) in &by_kind {
            self.hosts_by_kind
                .with_label_values(&[kind.as_str()])
                .set(count(*n));
        }
        let mut by_os: std::collections::BTreeMap<[String; 3], u64> = Default::default();
        for (key, n) in &counts.by_os {
            *by_os.entry(key.each_ref().map(|v| clip(v))).or_default() += n;
        }
        self.hosts_by_os.reset();
        for (key, n) in &by_os {
            let labels = [key[0].as_str(), key[1].as_str(), key[2].as_str()];
            self.hosts_by_os.with_label_values(&labels).set(count(*n));
        }
        self.host_info.reset();
        self.host_last_report.reset();
        if let Some(hosts) = per_host {
            for h in hosts {
                let f = &h.facets;
                let or_unknown = |v: &Option<String>| clip(v.as_deref().unwrap_or("unknown"));
                let label = |k: &str| clip(h.labels.get(k).map(String::as_str).unwrap_or(""));
                let values = [
                    clip(&h.host_id),
                    clip(&h.hostname),
                    or_unknown(&f.os_family),
                    or_unknown(&f.os_id),
                    or_unknown(&f.os_version),
                    or_unknown(&f.machine_kind),
                    or_unknown(&f.chassis),
                    label("role"),
                    label("site"),
                ];
                let refs: Vec<&str> = values.iter().map(String::as_str).collect();
                self.host_info.with_label_values(&refs).set(1);
                self.host_last_report
                    .with_label_values(&[values[0].as_str()])
                    .set(h.last_seen.timestamp_millis() as f64 / 1000.0);
            }
        }
    }

    /// Recomputes the check gauges from the stored assessments.
    pub fn refresh_checks(
        &self,
        fleet: &[crate::estate::FleetCheck],
        view: &crate::estate::EstateScoreView,
        assessments: &[crate::store::AssessmentRecord],
        waivers: crate::checks::WaiverCounts,
        per_host: bool,
    ) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.check_hosts.reset();
        for check in fleet {
            for (status, n) in &check.hosts {
                self.check_hosts
                    .with_label_values(&[
                        check.id.as_str(),
                        check.category.as_str(),
                        check.severity.as_str(),
                        status.as_str(),
                    ])
                    .set(count(*n));
            }
        }
        for (band, n) in &view.bands {
            self.hosts_by_band
                .with_label_values(&[band.as_str()])
                .set(count(*n));
        }
        match view.score {
            Some(score) => self.estate_score.set(score),
            None => self.estate_score.set(f64::NAN),
        }
        self.waivers
            .with_label_values(&["active"])
            .set(count(waivers.active as u64));
        self.waivers
            .with_label_values(&["expired"])
            .set(count(waivers.expired as u64));
        self.host_score.reset();
        self.host_band.reset();
        if per_host {
            for a in assessments {
                let host = clip(&a.host_id);
                if let Some(score) = a.score {
                    self.host_score
                        .with_label_values(&[host.as_str()])
                        .set(score);
                }
                let band = a.band.as_deref().unwrap_or("unscored");
                self.host_band
                    .with_label_values(&[host.as_str(), band])
                    .set(1);
            }
        }
    }

    /// Recomputes the carbon gauges from the estate's carbon view (every configured
    /// scenario, zeros included), and with `per_host` the hosts' power from their
    /// estimates and energy counters from the store's running totals.
    pub fn refresh_carbon(
        &self,
        view: &CarbonView,
        estimates: &[HostEstimate],
        energy: &[HostEnergy],
        per_host: bool,
    ) {
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for v in [
            &self.carbon_energy,
            &self.carbon_emissions,
            &self.carbon_saved,
        ] {
            v.reset();
        }
        self.carbon_hosts.reset();
        self.carbon_unplaced.reset();
        let totals = |scenario: &str, t: &Totals| {
            self.carbon_energy
                .with_label_values(&[scenario])
                .set(t.energy_kwh_per_year * JOULES_PER_KWH);
            for (basis, kg) in [
                ("location", t.location_kgco2e_per_year),
                ("market", t.market_kgco2e_per_year),
                ("embodied", t.embodied_kgco2e_per_year),
            ] {
                self.carbon_emissions
                    .with_label_values(&[scenario, basis])
                    .set(kg * GRAMS_PER_KG);
            }
        };
        totals(ONPREM, &view.onprem);
        for s in &view.scenarios {
            let name = clip(&s.name);
            totals(&name, &s.totals);
            self.carbon_saved
                .with_label_values(&[name.as_str()])
                .set(s.saved_kgco2e_per_year * GRAMS_PER_KG);
            self.carbon_unplaced
                .with_label_values(&[name.as_str()])
                .set(count(s.unplaced_hosts));
            for r in READINESS_ORDER {
                for stars in 1..=5u8 {
                    self.carbon_hosts
                        .with_label_values(&[name.as_str(), readiness_label(r), &stars.to_string()])
                        .set(count(s.placed(r, stars)));
                }
            }
        }
        self.host_power.reset();
        if !per_host {
            self.host_energy.reset();
            return;
        }
        for e in estimates {
            let host = clip(&e.host_id);
            if let Some(w) = e.onprem.measured_watts.filter(|w| w.is_finite()) {
                self.host_power
                    .with_label_values(&[host.as_str(), "measured"])
                    .set(w);
            }
            if e.onprem.method != OnPremMethod::NotEstimated {
                self.host_power
                    .with_label_values(&[host.as_str(), "modelled"])
                    .set(e.onprem.power_watts);
            }
        }
        // Counters only rise: each host's is brought up to the store's total. A host
        // gone from the store is dropped; a total below the counter (a host whose rows
        // were deleted and who came back) starts its series again.
        let mut present = std::collections::HashSet::with_capacity(energy.len());
        for h in energy {
            let host = clip(&h.host_id);
            let counter = self.host_energy.with_label_values(&[host.as_str()]);
            let seen = counter.get();
            let total = h.energy_joules_total;
            if total > seen {
                counter.inc_by(total - seen);
            } else if total < seen {
                let _ = self.host_energy.remove_label_values(&[host.as_str()]);
                let again = self.host_energy.with_label_values(&[host.as_str()]);
                if total > 0.0 {
                    again.inc_by(total);
                }
            }
            present.insert(host);
        }
        let gone: Vec<String> = self
            .host_energy
            .collect()
            .iter()
            .flat_map(|family| family.get_metric())
            .flat_map(|m| m.get_label())
            .filter(|l| l.name() == "host_id" && !present.contains(l.value()))
            .map(|l| l.value().to_owned())
            .collect();
        for host in gone {
            let _ = self.host_energy.remove_label_values(&[host.as_str()]);
        }
    }

    /// Brings the assessment counters up to the queue's counts, and the queue's length.
    pub fn sync_assessments(&self, stored: u64, failed: u64, waiting: usize) {
        self.assessment_queue
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        for (outcome, n) in [("stored", stored), ("failed", failed)] {
            let counter = self.assessments.with_label_values(&[outcome]);
            let seen = counter.get();
            if n > seen {
                counter.inc_by(n - seen);
            }
        }
    }

    /// Brings the transactions counter up to the store's count.
    pub fn sync_transactions(&self, transactions: u64) {
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

/// One exported metric, as the reference lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricDoc {
    /// Full name (`estate_hosts`).
    pub name: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    /// Label names (no values).
    pub labels: Vec<String>,
    /// Unit, from the name's suffix ([`unit_of`]).
    pub unit: &'static str,
    /// The metric's help text.
    pub help: String,
}

/// The unit a metric's name says, by the naming conventions (`_seconds`, `_bytes`,
/// `_watts`, `_joules`, `_grams`, `_ratio`, `_info`); `count` for the rest.
pub fn unit_of(name: &str) -> &'static str {
    let base = name.strip_suffix("_total").unwrap_or(name);
    [
        ("_timestamp_seconds", "Unix time, seconds"),
        ("_time_seconds", "Unix time, seconds"),
        ("_seconds", "seconds"),
        ("_bytes", "bytes"),
        ("_watts", "watts"),
        ("_joules", "joules"),
        ("_joules_per_year", "joules per year"),
        ("_grams_per_year", "grams CO2e per year"),
        ("_ratio", "ratio 0–1"),
        ("_info", "1 (info)"),
    ]
    .into_iter()
    .find(|(suffix, _)| base.ends_with(suffix))
    .map_or("count", |(_, unit)| unit)
}

/// The `readiness` label value of a readiness.
fn readiness_label(r: Readiness) -> &'static str {
    match r {
        Readiness::Ready => "ready",
        Readiness::ConditionallyReady => "conditional",
        Readiness::NotReady => "not_ready",
        Readiness::Unknown => "unknown",
    }
}

/// A label value cut to [`MAX_LABEL_VALUE_CHARS`].
fn clip(value: &str) -> String {
    if value.chars().count() <= MAX_LABEL_VALUE_CHARS {
        value.to_owned()
    } else {
        let mut cut: String = value.chars().take(MAX_LABEL_VALUE_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// The cutoff between `reporting` and `stale` hosts at `now`.
pub fn stale_before(now: DateTime<Utc>, stale_after: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(stale_after).unwrap_or_default()
}
