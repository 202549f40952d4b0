//! Storing imported hosts: matching each with the hosts the store has (BIOS UUID in
//! either VMware byte order, then FQDN, then the id an earlier import gave it), keeping
//! fresher agent data, validating each report as ingest does, and storing it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use estate_protocol::Inventory;
use serde::Serialize;
use uuid::Uuid;

use super::build::{self, Marker, SOURCE_LABEL};
use super::value::byte_swapped;
use super::{BadRow, Format, ImportError, ImportedHost, Parsed};
use crate::ingest;
use crate::store::{HostRecord, Store};

/// How an import is applied.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The export's format.
    pub format: Format,
    /// The file name (kept in the `import_file` label).
    pub file: String,
    /// When the import runs.
    pub now: DateTime<Utc>,
    /// When the export's data was true (defaults to `now`): an agent that reported
    /// after it keeps its data.
    pub as_of: DateTime<Utc>,
    /// An agent that reported within this much of `now` is reporting: its data is
    /// fresher than any export.
    pub stale_after: Duration,
    /// How far in the future a report's time may be (as at ingest).
    pub max_clock_skew: Duration,
}

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Stored as an imported host (new, or replacing an earlier import of it).
    Imported,
    /// Stored under an agent-reported host whose data was older; the agent's inventory
    /// sections were kept, the import filled only the ones it lacked.
    Merged,
    /// Left alone: the host's agent reported more recently.
    Skipped,
}

/// A row's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostOutcome {
    /// The file.
    pub file: String,
    /// Its line or row.
    pub line: u64,
    /// The name in the export.
    pub name: String,
    /// The host it was stored under or matched.
    pub host_id: String,
    /// What happened.
    pub outcome: Outcome,
    /// What it matched on, or why it was skipped.
    pub detail: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The format read.
    pub format: Format,
    /// The file(s) read.
    pub file: String,
    /// The `collected_at` given to the imported reports.
    pub as_of: DateTime<Utc>,
    /// Hosts stored as imported.
    pub imported: usize,
    /// Rows merged into agent-reported hosts.
    pub merged: usize,
    /// Rows left alone because the agent's data is fresher.
    pub skipped: usize,
    /// Rows that could not be imported.
    pub bad: usize,
    /// Every good row's outcome, in file order.
    pub hosts: Vec<HostOutcome>,
    /// Every bad row, with its line and reason.
    pub bad_rows: Vec<BadRow>,
    /// Rows left out on purpose (VM templates).
    pub ignored_rows: Vec<BadRow>,
}

impl Summary {
    /// The hosts stored (imported or merged): what to re-assess.
    pub fn stored_host_ids(&self) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|h| h.outcome != Outcome::Skipped)
            .map(|h| h.host_id.clone())
            .collect()
    }
}

/// The store's hosts, indexed by what an import row can match on.
struct Index {
    hosts: Vec<HostRecord>,
    by_uuid: HashMap<Uuid, usize>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

impl Index {
    fn new(hosts: Vec<HostRecord>) -> Index {
        let mut index = Index {
            by_uuid: HashMap::new(),
            by_name: HashMap::new(),
            by_id: HashMap::new(),
            hosts: Vec::new(),
        };
        for (i, h) in hosts.iter().enumerate() {
            if let Ok(u) = Uuid::parse_str(&h.host_id) {
                index.by_uuid.insert(u, i);
            }
            for name in [&h.hostname, &h.host_id] {
                if super::fqdn_of(Some(name)).is_some() {
                    index.by_name.insert(name.to_ascii_lowercase(), i);
                }
            }
            index.by_id.insert(h.host_id.clone(), i);
        }
        index.hosts = hosts;
        index
    }

    /// The stored host `row` is, and what matched.
    fn find(&self, row: &ImportedHost) -> Option<(usize, String)> {
        for u in &row.uuids {
            if let Some(i) = self.by_uuid.get(u) {
                return Some((*i, format!("BIOS UUID {u}")));
            }
            let swapped = byte_swapped(*u);
            if let Some(i) = self.by_uuid.get(&swapped) {
                return Some((
                    *i,
                    format!("BIOS UUID {u} (as the guest reads it: {swapped})"),
                ));
            }
        }
        if let Some(f) = &row.fqdn
            && let Some(i) = self.by_name.get(f)
        {
            return Some((*i, format!("FQDN {f}")));
        }
        let id = build::new_host_id(row);
        self.by_id
            .get(&id)
            .map(|i| (*i, format!("host id {id} of an earlier import")))
    }
}

fn is_import(host: &HostRecord) -> bool {
    host.labels.get(SOURCE_LABEL.0).map(String::as_str) == Some(SOURCE_LABEL.1)
}

/// Stores the good rows of `parsed`. Fails without writing anything when there is no
/// good row; a row whose report does not validate is reported as bad, the others are
/// stored.
pub async fn apply(
    store: &dyn Store,
    parsed: Parsed,
    options: &ApplyOptions,
) -> Result<Summary, ImportError> {
    let Parsed {
        hosts: rows,
        mut bad,
        ignored,
    } = parsed;
    if rows.is_empty() {
        return Err(ImportError::NothingImportable(bad));
    }
    let marker = Marker {
        format: options.format,
        file: options.file.clone(),
        imported_at: options.now,
        as_of: options.as_of,
    };
    let index = Index::new(store.hosts().await?);
    let stale_after = chrono::Duration::from_std(options.stale_after).unwrap_or_default();
    let mut claimed: BTreeMap<String, u64> = BTreeMap::new();
    let mut pending = Vec::new();
    let mut outcomes = Vec::new();
    for row in rows {
        let matched = index.find(&row);
        let host_id = matched.as_ref().map_or_else(
            || build::new_host_id(&row),
            |(i, _)| index.hosts[*i].host_id.clone(),
        );
        if let Some(line) = claimed.get(&host_id) {
            bad.push(BadRow {
                file: row.file.clone(),
                line: row.line,
                reason: format!(
                    "`{}` is the same host ({host_id}) as line {line}; the first is imported",
                    row.name
                ),
            });
            continue;
        }
        claimed.insert(host_id.clone(), row.line);
        let mut labels = marker.labels();
        let hostname = row.fqdn.clone().unwrap_or_else(|| row.name.clone());
        let import_inventory = build::inventory(&row, &marker);
        let (outcome, detail, report) = match matched {
            None => {
                labels.extend(row.labels.clone());
                let report =
                    build::report(&row, &host_id, &hostname, labels, import_inventory, &marker);
                (Outcome::Imported, "new host".to_owned(), Some(report))
            }
            Some((i, how)) => {
                let existing = &index.hosts[i];
                let last = existing.last_seen;
                if is_import(existing) {
                    if last > options.as_of {
                        let why = format!(
                            "matched on {how}; already imported from data of {}, newer than {}",
                            last.to_rfc3339(),
                            options.as_of.to_rfc3339()
                        );
                        (Outcome::Skipped, why, None)
                    } else {
                        labels.extend(row.labels.clone());
                        let report = build::report(
                            &row,
                            &host_id,
                            &hostname,
                            labels,
                            import_inventory,
                            &marker,
                        );
                        (
                            Outcome::Imported,
                            format!("matched on {how}; replaces the earlier import"),
                            Some(report),
                        )
                    }
                } else if last >= options.as_of || options.now - last <= stale_after {
                    let why = format!(
                        "matched on {how}; the agent reported at {}, after the export's data ({}) \
                         or within the stale threshold: its data is kept",
                        last.to_rfc3339(),
                        options.as_of.to_rfc3339()
                    );
                    (Outcome::Skipped, why, None)
                } else {
                    let stored = store.host(host_id.clone()).await?;
                    let base: Inventory = stored
                        .and_then(|h| h.inventory)
                        .and_then(|v| serde_json::from_value(v).ok())
                        .unwrap_or_default();
                    // The agent's labels stay; the export's fill in; the import's
                    // markers say where this report came from, except `source=import`,
                    // which marks hosts known only from imports.
                    let mut merged_labels = existing.labels.clone();
                    for (k, v) in row.labels.clone() {
                        merged_labels.entry(k).or_insert(v);
                    }
                    labels.remove(SOURCE_LABEL.0);
                    merged_labels.extend(labels);
                    let inventory = build::fill_gaps(base, import_inventory);
                    let report = build::report(
                        &row,
                        &host_id,
                        &existing.hostname,
                        merged_labels,
                        inventory,
                        &marker,
                    );
                    (
                        Outcome::Merged,
                        format!(
                            "matched on {how}; the agent's last report ({}) is older",
                            last.to_rfc3339()
                        ),
                        Some(report),
                    )
                }
            }
        };
        let new = match report.map(|r| validated(&r, options)).transpose() {
            Ok(new) => new,
            Err(reason) => {
                claimed.remove(&host_id);
                bad.push(BadRow {
                    file: row.file.clone(),
                    line: row.line,
                    reason: format!("`{}`: {reason}", row.name),
                });
                continue;
            }
        };
        pending.extend(new);
        outcomes.push(HostOutcome {
            file: row.file.clone(),
            line: row.line,
            name: row.name.clone(),
            host_id,
            outcome,
            detail,
        });
    }
    if outcomes.is_empty() {
        return Err(ImportError::NothingImportable(bad));
    }
    for new in pending {
        store.ingest(new).await?;
    }
    bad.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    let count = |o: Outcome| outcomes.iter().filter(|h| h.outcome == o).count();
    Ok(Summary {
        format: options.format,
        file: options.file.clone(),
        as_of: options.as_of,
        imported: count(Outcome::Imported),
        merged: count(Outcome::Merged),
        skipped: count(Outcome::Skipped),
        bad: bad.len(),
        hosts: outcomes,
        bad_rows: bad,
        ignored_rows: ignored,
    })
}

/// The report checked exactly as an agent's is at ingest (parsed back from its JSON,
/// sizes, timestamps, inventory hash), ready to store.
fn validated(
    report: &estate_protocol::Report,
    options: &ApplyOptions,
) -> Result<crate::store::NewReport, String> {
    let raw = serde_json::to_string(report).map_err(|e| e.to_string())?;
    let parsed = ingest::parse_report(raw.as_bytes()).map_err(|e| e.to_string())?;
    ingest::validate(&parsed, options.now, options.max_clock_skew).map_err(|e| e.to_string())?;
    ingest::to_new_report(&parsed, raw, options.now).map_err(|e| e.to_string())
}
