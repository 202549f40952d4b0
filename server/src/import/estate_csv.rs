//! Estate's CSV: one row per host, for anything without an RVTools or Azure Migrate
//! export. The columns are documented in `docs/import.md`; only `name`, `cpus` and
//! `memory_mib` are required.

use estate_protocol::VirtualizationKind;

use super::table::Table;
use super::value::{
    GIB, MIB, parse_count, parse_number, parse_percent, parse_size, parse_time, parse_uuid,
};
use super::{BadRow, ImportError, ImportedHost, Parsed, Required, cell, fqdn_of};

/// Columns copied to labels of the same name.
pub const LABEL_COLUMNS: &[&str] = &["site", "role", "owner", "department", "environment"];

pub(super) fn parse(tables: &[Table]) -> Result<Parsed, ImportError> {
    let mut parsed = Parsed::default();
    for t in tables {
        for required in ["name", "cpus", "memory_mib"] {
            if t.col(&[required]).is_none() {
                return Err(ImportError::MissingColumn {
                    file: t.file.clone(),
                    what: required.to_owned(),
                    names: format!("`{required}`"),
                    format: "an Estate CSV file",
                });
            }
        }
        let c = |name: &str| t.col(&[name]);
        for row in &t.rows {
            let mut problems = Vec::new();
            let Some(name) = row.get(c("name")) else {
                parsed.bad.push(BadRow {
                    file: t.file.clone(),
                    line: row.line,
                    reason: "no name".to_owned(),
                });
                continue;
            };
            let mut host = ImportedHost {
                file: t.file.clone(),
                line: row.line,
                name: name.to_owned(),
                fqdn: fqdn_of(row.get(c("fqdn"))),
                os_name: row.get(c("os_name")).map(str::to_owned),
                os_version: row.get(c("os_version")).map(str::to_owned),
                os_arch: row.get(c("os_arch")).map(str::to_owned),
                hypervisor: row.get(c("hypervisor")).map(str::to_ascii_lowercase),
                cpu_model: row.get(c("cpu_model")).map(str::to_owned),
                ..ImportedHost::default()
            };
            if let Some(text) = row.get(c("uuid")) {
                match parse_uuid(text) {
                    Some(u) => host.uuids.push(u),
                    None => problems.push(format!("uuid: `{text}` is not a UUID")),
                }
            }
            host.kind = cell(row.get(c("kind")), "kind", parse_kind, &mut problems);
            host.cpus = cell(row.get(c("cpus")), "cpus", parse_count, &mut problems);
            host.sockets = cell(row.get(c("sockets")), "sockets", parse_count, &mut problems);
            host.cpu_mhz = cell(
                row.get(c("cpu_mhz")),
                "cpu_mhz",
                parse_number,
                &mut problems,
            );
            host.memory_bytes = cell(
                row.get(c("memory_mib")),
                "memory_mib",
                |s| parse_size(s, MIB),
                &mut problems,
            );
            if let Some(list) = row.get(c("disks_gib")) {
                for (i, part) in list.split(';').filter(|p| !p.trim().is_empty()).enumerate() {
                    if let Some(size) = cell(
                        Some(part),
                        "disks_gib",
                        |s| parse_size(s, GIB),
                        &mut problems,
                    ) {
                        host.disks.push((format!("disk {}", i + 1), size));
                    }
                }
            }
            host.boot_time = cell(
                row.get(c("boot_time")),
                "boot_time",
                |s| parse_time(s).ok_or_else(|| format!("`{s}` is not a time")),
                &mut problems,
            );
            host.cpu_util_ratio = cell(
                row.get(c("cpu_util_percent")),
                "cpu_util_percent",
                parse_percent,
                &mut problems,
            );
            host.memory_util_ratio = cell(
                row.get(c("memory_util_percent")),
                "memory_util_percent",
                parse_percent,
                &mut problems,
            );
            for label in LABEL_COLUMNS {
                if let Some(v) = row.get(c(label)) {
                    host.labels.insert((*label).to_owned(), v.to_owned());
                }
            }
            parsed.finish_row(
                host,
                problems,
                &Required {
                    cpus: ("cpus", "no cpus"),
                    memory: ("memory", "no memory_mib"),
                },
                (&t.file, row.line, name),
            );
        }
    }
    Ok(parsed)
}

fn parse_kind(text: &str) -> Result<VirtualizationKind, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "physical" => Ok(VirtualizationKind::Physical),
        "vm" | "virtual" => Ok(VirtualizationKind::Vm),
        "container" => Ok(VirtualizationKind::Container),
        "unknown" => Ok(VirtualizationKind::Unknown),
        other => Err(format!(
            "`{other}` is not physical, vm, container or unknown"
        )),
    }
}
