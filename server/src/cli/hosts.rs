//! What the offline commands assess: one host from an agent report file (as the store
//! would hold it after that single report), or hosts read from the collector's store.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use estate_protocol::{Inventory, Report};

use super::{CliError, shown};
use crate::assess::{AssessInput, DEFAULT_SERIES_DAYS};
use crate::config::ServerConfig;
use crate::ingest;
use crate::store::{HostRecord, SeriesPoint, Store};

/// Largest report file read, after gzip decompression (64 MiB).
pub const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// One host and what is known of it.
#[derive(Debug, Clone)]
pub struct HostData {
    /// The host as the store keeps it.
    pub host: HostRecord,
    /// Its inventory.
    pub inventory: Option<Inventory>,
    /// Its latest report.
    pub report: Option<Report>,
    /// Its recent series, oldest first.
    pub series: Vec<SeriesPoint>,
}

impl HostData {
    /// The assessor's input.
    pub fn input(&self) -> AssessInput<'_> {
        AssessInput {
            host: &self.host,
            inventory: self.inventory.as_ref(),
            report: self.report.as_ref(),
            series: &self.series,
        }
    }
}

/// Reads an agent report (JSON, or gzip-compressed JSON as the agent spools it) and
/// makes the host the store would hold after receiving only that report.
pub fn from_report_file(path: &Path) -> Result<HostData, CliError> {
    let invalid = |message: String| CliError::Report {
        path: shown(path),
        message,
    };
    let mut bytes = std::fs::read(path).map_err(|source| CliError::Read {
        path: shown(path),
        source,
    })?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        bytes = ingest::decode_body(bytes, Some("gzip"), MAX_REPORT_BYTES)
            .map_err(|e| invalid(e.to_string()))?;
    }
    let report = ingest::parse_report(&bytes).map_err(|e| invalid(e.to_string()))?;
    let new = ingest::to_new_report(&report, String::new(), report.collected_at)
        .map_err(|e| invalid(e.to_string()))?;
    let has_inventory = report.inventory.is_some();
    let host = HostRecord {
        host_id: report.host_id.clone(),
        hostname: report.hostname.clone(),
        labels: report.labels.clone(),
        first_seen: report.collected_at,
        last_seen: report.collected_at,
        inventory_hash: has_inventory.then(|| report.inventory_hash.clone()),
        reported_inventory_hash: report.inventory_hash.clone(),
        inventory_collected_at: has_inventory.then_some(report.collected_at),
        facets: new.facets.unwrap_or_default(),
        inventory: None,
    };
    Ok(HostData {
        host,
        inventory: report.inventory.clone(),
        series: vec![new.point],
        report: Some(report),
    })
}

/// Runs `f` on the store named by `config`, on a runtime of its own.
pub fn with_store<T>(
    config: &ServerConfig,
    f: impl AsyncFnOnce(Arc<dyn Store>) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Reading commands must not create an empty database where the collector's is not
    // (a wrong path would otherwise look like an estate with no hosts).
    if let crate::config::Backend::Sqlite(path) = &config.storage.backend
        && !path.exists()
    {
        return Err(CliError::Read {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no collector database here: check [storage] in the config (the collector \
                 creates the database when it first starts)",
            ),
        });
    }
    runtime.block_on(async {
        let store = crate::open_store(config)?;
        f(store).await
    })
}

/// The hosts in the store (only `only` when given: a host id, or a unique host name),
/// each with its inventory, latest report and the series of the last
/// [`DEFAULT_SERIES_DAYS`] days before `now`.
pub async fn from_store(
    store: &dyn Store,
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<HostData>, CliError> {
    let ids = match only {
        Some(wanted) => vec![resolve_host(store, wanted).await?],
        None => store
            .hosts()
            .await?
            .into_iter()
            .map(|h| h.host_id)
            .collect(),
    };
    let mut hosts = Vec::with_capacity(ids.len());
    for id in ids {
        // A host removed since it was listed is skipped.
        if let Some(host) = read_host(store, &id, now).await? {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

async fn resolve_host(store: &dyn Store, wanted: &str) -> Result<String, CliError> {
    if store.host(wanted.to_owned()).await?.is_some() {
        return Ok(wanted.to_owned());
    }
    let named: Vec<HostRecord> = store
        .hosts()
        .await?
        .into_iter()
        .filter(|h| h.hostname == wanted)
        .collect();
    match named.as_slice() {
        [one] => Ok(one.host_id.clone()),
        [] => Err(CliError::Usage(format!(
            "no host with id or name `{wanted}` in the store"
        ))),
        several => Err(CliError::Usage(format!(
            "{} hosts are named `{wanted}`; give one of their ids: {}",
            several.len(),
            several
                .iter()
                .map(|h| h.host_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

pub(super) async fn read_host(
    store: &dyn Store,
    host_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<HostData>, CliError> {
    let Some(mut host) = store.host(host_id.to_owned()).await? else {
        return Ok(None);
    };
    let unreadable = |what: &'static str, e: serde_json::Error| CliError::Stored {
        host: host_id.to_owned(),
        what,
        message: e.to_string(),
    };
    let inventory = host
        .inventory
        .take()
        .map(serde_json::from_value::<Inventory>)
        .transpose()
        .map_err(|e| unreadable("inventory", e))?;
    let report = store
        .latest_report(host_id.to_owned())
        .await?
        .as_deref()
        .map(serde_json::from_str::<Report>)
        .transpose()
        .map_err(|e| unreadable("report", e))?;
    let series = store
        .series(
            host_id.to_owned(),
            now - Duration::days(DEFAULT_SERIES_DAYS),
            now,
        )
        .await?;
    Ok(Some(HostData {
        host,
        inventory,
        report,
        series,
    }))
}
