//! RVTools' layout: the vInfo sheet (one row per VM) joined with vCPU, vMemory, vDisk
//! (by VM UUID where both sheets have one, else by VM name) and vHost (by host name).
//! Sheets are found by name (`vInfo`, `tabvInfo`, `RVTools_tabvInfo.csv`) or, failing
//! that, by their columns; columns by header name, with the variants RVTools versions
//! used.

use std::collections::BTreeMap;

use estate_protocol::VirtualizationKind;

use super::table::{Row, Table, normalise};
use super::value::{MIB, parse_count, parse_number, parse_size, parse_time, parse_uuid};
use super::{BadRow, ImportError, ImportedHost, Parsed, Required, cell, fqdn_of};

const VM: &[&str] = &["VM", "VM Name", "Name"];
const POWERSTATE: &[&str] = &["Powerstate", "Power State"];
const TEMPLATE: &[&str] = &["Template"];
const CPUS: &[&str] = &["CPUs", "Num CPU", "vCPUs", "Num CPUs"];
const MEMORY: &[&str] = &["Memory", "Memory MiB", "Memory MB", "Memory Size MiB"];
const PROVISIONED: &[&str] = &["Provisioned MiB", "Provisioned MB", "Provisioned Space MiB"];
const IN_USE: &[&str] = &["In Use MiB", "In Use MB", "Used Space MiB"];
const TOTAL_DISK: &[&str] = &["Total disk capacity MiB", "Total disk capacity MB"];
const OS_TOOLS: &[&str] = &[
    "OS according to the VMware Tools",
    "OS according to the VM Tools",
    "Guest OS according to the VMware Tools",
];
const OS_CONFIG: &[&str] = &[
    "OS according to the configuration file",
    "OS",
    "Guest OS",
    "Guest OS Full Name",
];
const HOST: &[&str] = &["Host", "ESX Host", "ESXi Host"];
const CLUSTER: &[&str] = &["Cluster"];
const DATACENTER: &[&str] = &["Datacenter", "Data Center"];
const SMBIOS_UUID: &[&str] = &["SMBIOS UUID", "BIOS UUID"];
const VM_UUID: &[&str] = &["VM UUID", "UUID"];
const DNS_NAME: &[&str] = &["DNS Name", "Guest Hostname", "Guest host name"];
const POWER_ON: &[&str] = &["PowerOn", "Power On", "Boot Time"];
const SOCKETS: &[&str] = &["Sockets", "Num Sockets"];
const MEMORY_SIZE: &[&str] = &["Size MiB", "Size MB", "Memory Size MiB"];
const DISK: &[&str] = &["Disk", "Disk Name", "Label"];
const CAPACITY: &[&str] = &["Capacity MiB", "Capacity MB"];
const CPU_MODEL: &[&str] = &["CPU Model", "CPU model name"];
const SPEED: &[&str] = &["Speed", "CPU Speed", "Speed MHz"];

/// The sheet called `name` (`vInfo`, `tabvInfo`, `RVTools_tabvInfo`), else the first
/// table with all of `columns`.
fn sheet<'a>(tables: &'a [Table], name: &str, columns: &[&str]) -> Option<&'a Table> {
    let wanted = normalise(name);
    tables
        .iter()
        .find(|t| {
            let s = normalise(&t.sheet);
            s == wanted || s.ends_with(&format!("tab{wanted}"))
        })
        .or_else(|| tables.iter().find(|t| t.has_all(columns)))
}

/// Key of a VM for joining sheets: its UUID when the sheet has the column, else its name.
fn vm_key(t: &Table, row: &Row) -> Option<String> {
    let uuid = row
        .get(t.col(VM_UUID))
        .or_else(|| row.get(t.col(SMBIOS_UUID)))
        .and_then(parse_uuid);
    match uuid {
        Some(u) => Some(format!("uuid:{u}")),
        None => row.get(t.col(VM)).map(|n| format!("name:{n}")),
    }
}

/// Rows of `t` by VM key, and by VM name.
fn index(t: Option<&Table>) -> BTreeMap<String, Vec<&Row>> {
    let mut map: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    if let Some(t) = t {
        for row in &t.rows {
            let key = vm_key(t, row);
            // Also by name, for a vInfo row whose UUID this sheet does not have.
            let name = row.get(t.col(VM)).map(|n| format!("name:{n}"));
            if let Some(n) = name.filter(|n| key.as_ref() != Some(n)) {
                map.entry(n).or_default().push(row);
            }
            if let Some(k) = key {
                map.entry(k).or_default().push(row);
            }
        }
    }
    map
}

pub(super) fn parse(tables: &[Table]) -> Result<Parsed, ImportError> {
    let info = sheet(tables, "vInfo", &["VM", "Powerstate"]).ok_or_else(|| {
        ImportError::MissingColumn {
            file: tables.first().map_or_else(String::new, |t| t.file.clone()),
            what: "vInfo sheet with a VM".to_owned(),
            names: format!("a sheet named vInfo, or columns {}", VM.join(" / ")),
            format: "an RVTools export",
        }
    })?;
    if info.col(VM).is_none() {
        return Err(ImportError::MissingColumn {
            file: info.file.clone(),
            what: "VM name".to_owned(),
            names: VM.join(", "),
            format: "an RVTools export",
        });
    }
    let vcpu = sheet(tables, "vCPU", &["VM", "Sockets"]).filter(|t| !std::ptr::eq(*t, info));
    let vmem = sheet(tables, "vMemory", &["VM", "Size MiB"]).filter(|t| !std::ptr::eq(*t, info));
    let vdisk = sheet(tables, "vDisk", &["VM", "Capacity MiB"]).filter(|t| !std::ptr::eq(*t, info));
    let vhost = sheet(tables, "vHost", &["Host", "CPU Model"]).filter(|t| !std::ptr::eq(*t, info));
    let (cpu_rows, mem_rows, disk_rows) = (index(vcpu), index(vmem), index(vdisk));
    let hosts: BTreeMap<String, &Row> = vhost
        .map(|t| {
            t.rows
                .iter()
                .filter_map(|r| r.get(t.col(HOST)).map(|h| (h.to_ascii_lowercase(), r)))
                .collect()
        })
        .unwrap_or_default();

    let mut parsed = Parsed::default();
    let t = info;
    for row in &t.rows {
        let mut problems = Vec::new();
        let Some(name) = row.get(t.col(VM)) else {
            parsed.bad.push(BadRow {
                file: t.file.clone(),
                line: row.line,
                reason: "no VM name".to_owned(),
            });
            continue;
        };
        let template = row
            .get(t.col(TEMPLATE))
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        if template {
            parsed.ignored.push(BadRow {
                file: t.file.clone(),
                line: row.line,
                reason: format!("`{name}` is a VM template, not a host"),
            });
            continue;
        }
        let mut host = ImportedHost {
            file: t.file.clone(),
            line: row.line,
            name: name.to_owned(),
            kind: Some(VirtualizationKind::Vm),
            hypervisor: Some("vmware".to_owned()),
            ..ImportedHost::default()
        };
        // The SMBIOS UUID first (what a guest reads), then the VM (BIOS) UUID.
        for col in [t.col(SMBIOS_UUID), t.col(VM_UUID)] {
            if let Some(text) = row.get(col) {
                match parse_uuid(text) {
                    Some(u) if !host.uuids.contains(&u) => host.uuids.push(u),
                    Some(_) => {}
                    None => problems.push(format!("UUID: `{text}` is not a UUID")),
                }
            }
        }
        host.fqdn = fqdn_of(row.get(t.col(DNS_NAME)));
        host.os_name = row
            .get(t.col(OS_TOOLS))
            .or_else(|| row.get(t.col(OS_CONFIG)))
            .map(str::to_owned);
        host.cpus = cell(row.get(t.col(CPUS)), "CPUs", parse_count, &mut problems);
        host.memory_bytes = cell(
            row.get(t.col(MEMORY)),
            "Memory",
            |s| parse_size(s, MIB),
            &mut problems,
        );
        let powered_on = row
            .get(t.col(POWERSTATE))
            .is_none_or(|p| p.eq_ignore_ascii_case("poweredOn"));
        if powered_on {
            host.boot_time = row.get(t.col(POWER_ON)).and_then(parse_time);
        }
        for (label, cols) in [
            ("vmware_datacenter", DATACENTER),
            ("vmware_cluster", CLUSTER),
            ("vmware_host", HOST),
            ("power_state", POWERSTATE),
        ] {
            if let Some(v) = row.get(t.col(cols)) {
                host.labels.insert(label.to_owned(), v.to_owned());
            }
        }
        let key = vm_key(t, row).unwrap_or_default();
        let name_key = format!("name:{name}");
        let joined = |map: &BTreeMap<String, Vec<&'_ Row>>| -> Vec<Row> {
            map.get(&key)
                .or_else(|| map.get(&name_key))
                .map(|rows| rows.iter().map(|r| (*r).clone()).collect())
                .unwrap_or_default()
        };
        if let (Some(vt), Some(r)) = (vcpu, joined(&cpu_rows).first()) {
            host.sockets = cell(
                r.get(vt.col(SOCKETS)),
                "vCPU Sockets",
                parse_count,
                &mut problems,
            );
            if host.cpus.is_none() {
                host.cpus = cell(r.get(vt.col(CPUS)), "vCPU CPUs", parse_count, &mut problems);
            }
        }
        if host.memory_bytes.is_none()
            && let (Some(mt), Some(r)) = (vmem, joined(&mem_rows).first())
        {
            host.memory_bytes = cell(
                r.get(mt.col(MEMORY_SIZE)),
                "vMemory Size MiB",
                |s| parse_size(s, MIB),
                &mut problems,
            );
        }
        if let Some(dt) = vdisk {
            for (i, r) in joined(&disk_rows).iter().enumerate() {
                let label = r
                    .get(dt.col(DISK))
                    .map_or_else(|| format!("disk {}", i + 1), str::to_owned);
                if let Some(size) = cell(
                    r.get(dt.col(CAPACITY)),
                    "vDisk Capacity MiB",
                    |s| parse_size(s, MIB),
                    &mut problems,
                ) {
                    host.disks.push((label, size));
                }
            }
        }
        if host.disks.is_empty() {
            // No vDisk rows: the VM's total disk capacity, else its provisioned space.
            let total = [
                ("Total disk capacity MiB", TOTAL_DISK),
                ("Provisioned MiB", PROVISIONED),
                ("In Use MiB", IN_USE),
            ]
            .into_iter()
            .find_map(|(what, cols)| {
                cell(
                    row.get(t.col(cols)),
                    what,
                    |s| parse_size(s, MIB),
                    &mut problems,
                )
            });
            if let Some(size) = total {
                host.disks.push(("disks (total)".to_owned(), size));
            }
        }
        if let Some(ht) = vhost
            && let Some(h) = row
                .get(t.col(HOST))
                .and_then(|h| hosts.get(&h.to_ascii_lowercase()))
        {
            host.cpu_model = h.get(ht.col(CPU_MODEL)).map(str::to_owned);
            host.cpu_mhz = h.get(ht.col(SPEED)).and_then(|s| parse_number(s).ok());
        }
        parsed.finish_row(
            host,
            problems,
            &Required {
                cpus: ("CPUs", "no CPU count (CPUs)"),
                memory: ("Memory", "no memory size (Memory)"),
            },
            (&t.file, row.line, name),
        );
    }
    Ok(parsed)
}
