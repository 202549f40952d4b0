//! Agentless import: hosts from inventory exports (VMware RVTools, Azure Migrate's CSV
//! import template, Estate's own CSV) stored as reports like any agent's, so the
//! assessment worker scores them and the carbon estimator estimates them.
//!
//! The pipeline: [`parse`] reads the files into [`ImportedHost`]s and [`BadRow`]s (pure:
//! no I/O, no clock); [`build::report`] turns a host into a protocol `Report` marked as
//! imported (labels `source=import`, `import_format`, `import_file`, `imported_at`;
//! `agent.platform = "import"`); [`apply`] matches each host with the store's hosts
//! (BIOS UUID in either VMware byte order, then FQDN), validates the report like any
//! ingested one and stores it, never over fresher agent data. This module must not know
//! about HTTP or the command line. Format reference: `docs/import.md`.

mod apply;
mod azure;
pub mod build;
mod estate_csv;
mod rvtools;
pub mod table;
pub mod value;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::VirtualizationKind;
use serde::Serialize;
use uuid::Uuid;

pub use apply::{ApplyOptions, HostOutcome, Outcome, Summary, apply};

/// Largest import file the API accepts, bytes (an RVTools workbook of 10,000 VMs with
/// every sheet is about 20 MB).
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;

/// The export formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A VMware inventory export in RVTools' layout: an XLSX workbook, or CSV exports of
    /// its sheets (vInfo, and optionally vCPU, vMemory, vDisk, vHost).
    Rvtools,
    /// Azure Migrate's CSV import template.
    AzureMigrate,
    /// Estate's CSV (`docs/import.md`).
    EstateCsv,
}

impl Format {
    /// Every format, by name.
    pub const ALL: [Format; 3] = [Format::Rvtools, Format::AzureMigrate, Format::EstateCsv];

    /// The name used on the command line, in the API and in the `import_format` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Rvtools => "rvtools",
            Format::AzureMigrate => "azure-migrate",
            Format::EstateCsv => "estate-csv",
        }
    }

    /// The format called `name`.
    pub fn from_name(name: &str) -> Result<Format, ImportError> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == name.trim())
            .ok_or_else(|| ImportError::UnknownFormat(name.to_owned()))
    }
}

/// One export file.
#[derive(Debug, Clone)]
pub struct ImportFile {
    /// Its name (shown in messages and kept in the `import_file` label).
    pub name: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Why nothing could be imported. Each variant has a stable code ([`ImportError::code`]).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The format name is not one of [`Format::ALL`].
    #[error("unknown import format `{0}` (known: rvtools, azure-migrate, estate-csv)")]
    UnknownFormat(String),
    /// The file is neither a CSV file nor an XLSX workbook, or is empty.
    #[error("{file}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// A column the format needs is not there.
    #[error("{file}: no {what} column (looked for {names}); is this {format}?")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column's meaning.
        what: String,
        /// The header names tried.
        names: String,
        /// The format expected, as a phrase (`an RVTools export`).
        format: &'static str,
    },
    /// No row could be imported; every bad row is listed.
    #[error("nothing could be imported: {}", describe_bad(.0))]
    NothingImportable(Vec<BadRow>),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn describe_bad(bad: &[BadRow]) -> String {
    if bad.is_empty() {
        return "the file has no data rows".to_owned();
    }
    let mut shown: Vec<String> = bad.iter().take(10).map(ToString::to_string).collect();
    if bad.len() > 10 {
        shown.push(format!("… and {} more", bad.len() - 10));
    }
    shown.join("; ")
}

impl ImportError {
    /// The stable `error_code` (documented in `docs/api.md`).
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::UnknownFormat(_) => "unknown_import_format",
            ImportError::Unreadable { .. } => "unreadable_import",
            ImportError::MissingColumn { .. } => "import_missing_column",
            ImportError::NothingImportable(_) => "nothing_importable",
            ImportError::Store(_) => "store_unavailable",
        }
    }
}

/// A row that could not be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadRow {
    /// The file.
    pub file: String,
    /// The line (CSV) or row (XLSX) number, 1-based.
    pub line: u64,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.reason)
    }
}

/// A host as an export describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportedHost {
    /// The file it came from.
    pub file: String,
    /// Its line (CSV) or row (XLSX).
    pub line: u64,
    /// The VM or server name.
    pub name: String,
    /// The fully qualified DNS name, where given.
    pub fqdn: Option<String>,
    /// BIOS/SMBIOS UUIDs, most reliable first.
    pub uuids: Vec<Uuid>,
    /// The OS product name.
    pub os_name: Option<String>,
    /// The OS version, where given apart from the name.
    pub os_version: Option<String>,
    /// The OS architecture, where given apart from the name.
    pub os_arch: Option<String>,
    /// Physical or virtual, where the export says.
    pub kind: Option<VirtualizationKind>,
    /// The hypervisor (`vmware`, `hyper-v`, …), where known.
    pub hypervisor: Option<String>,
    /// Logical CPUs (vCPUs of a VM).
    pub cpus: Option<u32>,
    /// Sockets (virtual sockets of a VM).
    pub sockets: Option<u32>,
    /// The CPU model (a VM's: its host's).
    pub cpu_model: Option<String>,
    /// The CPU's clock, MHz.
    pub cpu_mhz: Option<f64>,
    /// Memory, bytes.
    pub memory_bytes: Option<u64>,
    /// Disks: name and size in bytes.
    pub disks: Vec<(String, u64)>,
    /// When the host (VM) was last powered on.
    pub boot_time: Option<DateTime<Utc>>,
    /// CPU utilisation, 0–1, where the export gives one.
    pub cpu_util_ratio: Option<f64>,
    /// Memory utilisation, 0–1.
    pub memory_util_ratio: Option<f64>,
    /// Labels from the export (datacenter, cluster, site, role, …).
    pub labels: BTreeMap<String, String>,
}

/// What [`parse`] read.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The good rows.
    pub hosts: Vec<ImportedHost>,
    /// The bad rows.
    pub bad: Vec<BadRow>,
    /// Rows left out on purpose (VM templates), with why.
    pub ignored: Vec<BadRow>,
}

/// What every format requires of a row: a CPU count and a memory size. Each is
/// (problem prefix that already covers it, problem to add when it is missing).
pub(crate) struct Required {
    pub cpus: (&'static str, &'static str),
    pub memory: (&'static str, &'static str),
}

impl Parsed {
    /// Keeps `host` when its row had no problem (after adding the missing required
    /// fields to `problems`), else records the row as bad: one place for the three
    /// readers.
    pub(crate) fn finish_row(
        &mut self,
        host: ImportedHost,
        mut problems: Vec<String>,
        required: &Required,
        (file, line, name): (&str, u64, &str),
    ) {
        for (missing, (covered_by, problem)) in [
            (host.cpus.is_none(), required.cpus),
            (host.memory_bytes.is_none(), required.memory),
        ] {
            if missing && !problems.iter().any(|p| p.starts_with(covered_by)) {
                problems.push(problem.to_owned());
            }
        }
        if problems.is_empty() {
            self.hosts.push(host);
        } else {
            self.bad.push(BadRow {
                file: file.to_owned(),
                line,
                reason: format!("`{name}`: {}", problems.join("; ")),
            });
        }
    }
}

/// Reads `files` in `format`. Fails only when nothing could be read (no file readable,
/// a required column missing); bad rows are in [`Parsed::bad`].
pub fn parse(format: Format, files: &[ImportFile]) -> Result<Parsed, ImportError> {
    let mut tables = Vec::new();
    for f in files {
        tables.extend(table::read(&f.name, &f.bytes)?);
    }
    let mut parsed = match format {
        Format::Rvtools => rvtools::parse(&tables)?,
        Format::AzureMigrate => azure::parse(&tables)?,
        Format::EstateCsv => estate_csv::parse(&tables)?,
    };
    flag_duplicates(&mut parsed);
    Ok(parsed)
}

/// A second row for the same host is bad: one sharing a UUID (in either byte order) or
/// an FQDN with an earlier row, or, having neither, the name of an earlier row.
fn flag_duplicates(parsed: &mut Parsed) {
    let mut seen: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut keep = Vec::new();
    for host in std::mem::take(&mut parsed.hosts) {
        let mut keys = identity_keys(&host);
        if let Some((key, (file, line))) = keys
            .iter()
            .find_map(|k| seen.get(k).map(|at| (k.clone(), at.clone())))
        {
            let at = if file == host.file {
                format!("line {line}")
            } else {
                format!("{file}:{line}")
            };
            parsed.bad.push(BadRow {
                file: host.file.clone(),
                line: host.line,
                reason: format!(
                    "duplicate of {at} (same {}); the first is imported",
                    key.split_once(':').map_or("key", |(kind, _)| kind)
                ),
            });
            continue;
        }
        // A later row with neither UUID nor FQDN is a duplicate of any row of its name.
        let name = format!("name:{}", host.name.to_ascii_lowercase());
        if !keys.contains(&name) {
            keys.push(name);
        }
        for k in keys {
            seen.entry(k).or_insert((host.file.clone(), host.line));
        }
        keep.push(host);
    }
    parsed.hosts = keep;
    parsed
        .bad
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
}

/// The keys that say two rows are one host: each UUID (in VMware's byte order too),
/// the FQDN, and the name when there is neither.
fn identity_keys(host: &ImportedHost) -> Vec<String> {
    let mut keys: Vec<String> = host
        .uuids
        .iter()
        .flat_map(|u| [*u, value::byte_swapped(*u)])
        .map(|u| format!("uuid:{u}"))
        .collect();
    if let Some(f) = &host.fqdn {
        keys.push(format!("fqdn:{}", f.to_ascii_lowercase()));
    }
    if keys.is_empty() {
        keys.push(format!("name:{}", host.name.to_ascii_lowercase()));
    }
    keys
}

/// A DNS name that is fully qualified (has a dot and is not an IP address).
pub(crate) fn fqdn_of(text: Option<&str>) -> Option<String> {
    let t = text?.trim().trim_end_matches('.');
    let is_ip = t.parse::<std::net::IpAddr>().is_ok();
    (t.contains('.') && !is_ip && !t.contains(' ')).then(|| t.to_ascii_lowercase())
}

/// Reads a cell with `parse`, noting a bad value as the row's problem.
pub(crate) fn cell<T>(
    text: Option<&str>,
    what: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
    problems: &mut Vec<String>,
) -> Option<T> {
    let t = text?;
    match parse(t) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            None
        }
    }
}
