//! Azure Migrate's CSV import template ("Import using CSV" in Azure Migrate's discovery):
//! one row per server. Mandatory there: Server name, Cores, Memory (In MB), OS name;
//! the rest optional. Headers carry a `*` on mandatory columns in some template
//! versions; header matching ignores it.

use super::table::Table;
use super::value::{GIB, MIB, parse_count, parse_percent, parse_size, parse_uuid};
use super::{BadRow, ImportError, ImportedHost, Parsed, Required, cell, fqdn_of};

const NAME: &[&str] = &["Server name", "Server Name*", "Machine name"];
const CORES: &[&str] = &["Cores", "Number of cores"];
const MEMORY: &[&str] = &["Memory (In MB)", "Memory In MB", "Memory (MB)"];
const OS_NAME: &[&str] = &["OS name", "Operating system"];
const OS_VERSION: &[&str] = &["OS version"];
const OS_ARCH: &[&str] = &["OS architecture"];
const CPU_UTIL: &[&str] = &["CPU utilization percentage", "CPU utilisation percentage"];
const MEM_UTIL: &[&str] = &[
    "Memory utilization percentage",
    "Memory utilisation percentage",
];
const UUID: &[&str] = &["UUID", "BIOS GUID", "BIOS UUID", "Virtual machine ID"];
const FQDN: &[&str] = &["FQDN", "Fully qualified domain name"];

pub(super) fn parse(tables: &[Table]) -> Result<Parsed, ImportError> {
    let mut parsed = Parsed::default();
    for t in tables {
        for (what, names) in [("server name", NAME), ("cores", CORES), ("memory", MEMORY)] {
            if t.col(names).is_none() {
                return Err(ImportError::MissingColumn {
                    file: t.file.clone(),
                    what: what.to_owned(),
                    names: names.join(", "),
                    format: "an Azure Migrate CSV import file",
                });
            }
        }
        let disk_cols = t.numbered("Disk", "size (In GB)");
        for row in &t.rows {
            let mut problems = Vec::new();
            let Some(name) = row.get(t.col(NAME)) else {
                parsed.bad.push(BadRow {
                    file: t.file.clone(),
                    line: row.line,
                    reason: "no server name".to_owned(),
                });
                continue;
            };
            let mut host = ImportedHost {
                file: t.file.clone(),
                line: row.line,
                name: name.to_owned(),
                ..ImportedHost::default()
            };
            host.cpus = cell(row.get(t.col(CORES)), "Cores", parse_count, &mut problems);
            host.memory_bytes = cell(
                row.get(t.col(MEMORY)),
                "Memory (In MB)",
                |s| parse_size(s, MIB),
                &mut problems,
            );
            host.os_name = row.get(t.col(OS_NAME)).map(str::to_owned);
            host.os_version = row.get(t.col(OS_VERSION)).map(str::to_owned);
            host.os_arch = row.get(t.col(OS_ARCH)).map(str::to_owned);
            host.cpu_util_ratio = cell(
                row.get(t.col(CPU_UTIL)),
                "CPU utilization percentage",
                parse_percent,
                &mut problems,
            );
            host.memory_util_ratio = cell(
                row.get(t.col(MEM_UTIL)),
                "Memory utilization percentage",
                parse_percent,
                &mut problems,
            );
            if let Some(text) = row.get(t.col(UUID)) {
                match parse_uuid(text) {
                    Some(u) => host.uuids.push(u),
                    None => problems.push(format!("UUID: `{text}` is not a UUID")),
                }
            }
            host.fqdn = fqdn_of(row.get(t.col(FQDN))).or_else(|| fqdn_of(Some(name)));
            for (i, col) in disk_cols.iter().enumerate() {
                if let Some(size) = cell(
                    row.get(Some(*col)),
                    &format!("Disk {} size (In GB)", i + 1),
                    |s| parse_size(s, GIB),
                    &mut problems,
                ) {
                    host.disks.push((format!("disk {}", i + 1), size));
                }
            }
            parsed.finish_row(
                host,
                problems,
                &Required {
                    cpus: ("Cores", "no core count (Cores)"),
                    memory: ("Memory", "no memory size (Memory (In MB))"),
                },
                (&t.file, row.line, name),
            );
        }
    }
    Ok(parsed)
}
