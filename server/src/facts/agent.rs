//! `facts.probes` (service probes), `facts.agent` (the agent and how recently it
//! reported) and `facts.data` (what the facts rest on).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::{CollectorErrorKind, ProbeKind, ProbeResult, Report};
use serde::Serialize;

use super::{Ctx, DeriveOptions, HostMeta, floor_days};

/// The service probes of the latest report. Every field is absent without a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFacts {
    /// Each probe's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<ProbeFact>>,
    /// Number of probes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Names of the probes that were down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<String>>,
    /// Whether every probe was up (true when there are none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub all_up: Option<bool>,
    /// The fewest days to expiry among the TLS certificates seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_tls_days_to_expiry: Option<i64>,
}

/// One probe's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeFact {
    /// The probe's name from the agent's config.
    pub name: String,
    /// `http` or `tcp`.
    pub kind: &'static str,
    /// URL or `host:port`.
    pub target: String,
    /// When the probe ran.
    pub checked_at: DateTime<Utc>,
    /// Whether the endpoint answered as expected.
    pub up: bool,
    /// HTTP status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Time to answer, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_seconds: Option<f64>,
    /// Why the probe failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether a TLS certificate was seen.
    pub tls: bool,
    /// The certificate's end of validity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_not_after: Option<DateTime<Utc>>,
    /// Whole days from now to `tls_not_after` (negative once expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_days_to_expiry: Option<i64>,
    /// The certificate's subject.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_subject: Option<String>,
    /// The certificate's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_issuer: Option<String>,
}

/// The agent and how recently it reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentFacts {
    /// Agent version (from the latest report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Platform the agent was built for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// CPU architecture the agent was built for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// When the host last reported (the collector's `last_seen`).
    pub last_report_at: DateTime<Utc>,
    /// Seconds since `last_report_at`.
    pub seconds_since_last_report: i64,
    /// Whole days since `last_report_at`.
    pub days_since_last_report: i64,
    /// Silent for longer than `stale_after_seconds`.
    pub stale: bool,
    /// The stale threshold used, seconds.
    pub stale_after_seconds: u64,
    /// Collectors that failed, timed out, are unsupported or were partial in the latest
    /// report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector_errors: Option<Vec<CollectorErrorFact>>,
    /// Names of collectors that delivered nothing (failed, timeout, unsupported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_collectors: Option<Vec<String>>,
    /// Names of collectors that delivered their section with a part missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partial_collectors: Option<Vec<String>>,
}

/// One collector error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectorErrorFact {
    /// The collector.
    pub collector: String,
    /// `failed`, `partial`, `timeout` or `unsupported`.
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
}

/// What the facts were derived from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataFacts {
    /// Whether an inventory was available.
    pub inventory_present: bool,
    /// When that inventory was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_collected_at: Option<DateTime<Utc>>,
    /// Whole days since `inventory_collected_at` (volatile values such as free space are
    /// this old).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory_age_days: Option<i64>,
    /// Whether a latest report was available.
    pub report_present: bool,
    /// When that report was collected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_collected_at: Option<DateTime<Utc>>,
    /// Why values are unknown, keyed by inventory item (`os.reboot_required`,
    /// `security.ssh`, ...) or missing section (`inventory.software`).
    pub unknown: BTreeMap<String, String>,
}

pub(super) fn probes(results: Option<&[ProbeResult]>, ctx: &Ctx) -> ProbeFacts {
    let Some(results) = results else {
        return ProbeFacts {
            results: None,
            count: None,
            down: None,
            all_up: None,
            min_tls_days_to_expiry: None,
        };
    };
    let facts: Vec<ProbeFact> = results
        .iter()
        .map(|p| ProbeFact {
            name: p.name.clone(),
            kind: match p.kind {
                ProbeKind::Http => "http",
                ProbeKind::Tcp => "tcp",
            },
            target: p.target.clone(),
            checked_at: p.checked_at,
            up: p.up,
            status: p.status,
            latency_seconds: p.latency_ms.map(|ms| ms / 1000.0),
            error: p.error.clone(),
            tls: p.tls.is_some(),
            tls_not_after: p.tls.as_ref().map(|t| t.not_after),
            tls_days_to_expiry: p.tls.as_ref().map(|t| floor_days(t.not_after - ctx.now)),
            tls_subject: p.tls.as_ref().map(|t| t.subject.clone()),
            tls_issuer: p.tls.as_ref().map(|t| t.issuer.clone()),
        })
        .collect();
    ProbeFacts {
        count: Some(facts.len()),
        down: Some(
            facts
                .iter()
                .filter(|p| !p.up)
                .map(|p| p.name.clone())
                .collect(),
        ),
        all_up: Some(facts.iter().all(|p| p.up)),
        min_tls_days_to_expiry: facts.iter().filter_map(|p| p.tls_days_to_expiry).min(),
        results: Some(facts),
    }
}

fn kind_name(kind: CollectorErrorKind) -> &'static str {
    match kind {
        CollectorErrorKind::Failed => "failed",
        CollectorErrorKind::Partial => "partial",
        CollectorErrorKind::Timeout => "timeout",
        CollectorErrorKind::Unsupported => "unsupported",
    }
}

pub(super) fn agent(
    host: &HostMeta<'_>,
    report: Option<&Report>,
    options: DeriveOptions,
    ctx: &Ctx,
) -> AgentFacts {
    let seconds = ctx.seconds_since(host.last_seen);
    let stale_after = options.stale_after.as_secs();
    let errors = report.map(|r| {
        r.collector_errors
            .iter()
            .map(|e| CollectorErrorFact {
                collector: e.collector.clone(),
                kind: kind_name(e.kind),
                message: e.message.clone(),
            })
            .collect::<Vec<_>>()
    });
    let names = |partial: bool| {
        errors.as_ref().map(|list| {
            let mut names: Vec<String> = list
                .iter()
                .filter(|e| (e.kind == "partial") == partial)
                .map(|e| e.collector.clone())
                .collect();
            names.sort();
            names.dedup();
            names
        })
    };
    AgentFacts {
        version: report.map(|r| r.agent.version.clone()),
        platform: report.map(|r| r.agent.platform.clone()),
        arch: report.map(|r| r.agent.arch.clone()),
        last_report_at: host.last_seen,
        seconds_since_last_report: seconds,
        days_since_last_report: ctx.days_since(host.last_seen),
        stale: u64::try_from(seconds).unwrap_or(0) > stale_after,
        stale_after_seconds: stale_after,
        failed_collectors: names(false),
        partial_collectors: names(true),
        collector_errors: errors,
    }
}

pub(super) fn data(
    inventory_present: bool,
    inventory_collected_at: Option<DateTime<Utc>>,
    report: Option<&Report>,
    ctx: &Ctx,
    unknown: BTreeMap<String, String>,
) -> DataFacts {
    // Without a stored collection time, an inventory taken from the report is as old as
    // the report.
    let collected = inventory_collected_at.or_else(|| {
        report
            .filter(|r| inventory_present && r.inventory.is_some())
            .map(|r| r.collected_at)
    });
    DataFacts {
        inventory_present,
        inventory_collected_at: collected.filter(|_| inventory_present),
        inventory_age_days: collected
            .filter(|_| inventory_present)
            .map(|t| ctx.days_since(t)),
        report_present: report.is_some(),
        report_collected_at: report.map(|r| r.collected_at),
        unknown,
    }
}
