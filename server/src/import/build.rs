//! An imported host as a protocol `Report`, marked as imported: labels `source=import`,
//! `import_format`, `import_file`, `imported_at`, and `agent.platform = "import"`.
//! What the export does not say is absent or `unknown` with the reason, never guessed:
//! no filesystems, network, software, services, listening sockets or security section;
//! patch state and reboot state unknown; the boot time is the VM's power-on time where
//! the export gives it, else the Unix epoch, which the facts read as "not known"
//! (`facts.uptime` left out). Pure: no I/O, no clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::{
    AgentInfo, Chassis, Cpu, Disk, DiskKind, Hardware, HostIdSource, Inventory, Known, Memory, Os,
    Power, Report, SCHEMA_VERSION, Summary, Utilisation, Virtualization, VirtualizationKind,
    Window,
};
use uuid::Uuid;

use super::value::guess_os;
use super::{Format, ImportedHost};

/// `agent.platform` of an imported report (checks about the agent itself do not apply).
pub const IMPORT_PLATFORM: &str = "import";
/// The label marking an imported host, and its value.
pub const SOURCE_LABEL: (&str, &str) = ("source", "import");
/// Longest label value kept (longer file names are cut), bytes.
const MAX_LABEL_VALUE_BYTES: usize = crate::ingest::MAX_LABEL_BYTES;

/// Where and when an import happens.
#[derive(Debug, Clone)]
pub struct Marker {
    /// The export's format.
    pub format: Format,
    /// The file name.
    pub file: String,
    /// When the import ran.
    pub imported_at: DateTime<Utc>,
    /// When the export's data was true (the report's `collected_at` and window).
    pub as_of: DateTime<Utc>,
}

impl Marker {
    /// The labels every imported report carries.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut file = self.file.clone();
        while file.len() > MAX_LABEL_VALUE_BYTES {
            file.pop();
        }
        BTreeMap::from([
            (SOURCE_LABEL.0.to_owned(), SOURCE_LABEL.1.to_owned()),
            ("import_format".to_owned(), self.format.as_str().to_owned()),
            ("import_file".to_owned(), file),
            (
                "imported_at".to_owned(),
                self.imported_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
        ])
    }

    fn unknown<T>(&self, what: &str) -> Known<T> {
        Known::unknown(format!(
            "{what} is not in a {} import ({})",
            self.format.as_str(),
            self.file
        ))
    }
}

/// The host id of a host first seen in an import: its first UUID as the export writes
/// it, else its FQDN, else `import-<name>` (lower-case).
pub fn new_host_id(host: &ImportedHost) -> String {
    if let Some(u) = host.uuids.first() {
        return u.hyphenated().to_string();
    }
    if let Some(f) = &host.fqdn {
        return f.clone();
    }
    format!(
        "import-{}",
        host.name
            .trim()
            .to_lowercase()
            .replace(char::is_whitespace, "-")
    )
}

fn arch(text: &str) -> Option<String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "x64" | "amd64" | "x86_64" | "x86-64" | "64-bit" | "64 bit" => Some("x86_64".to_owned()),
        "x86" | "i386" | "i686" | "32-bit" | "32 bit" => Some("i686".to_owned()),
        "arm64" | "aarch64" => Some("aarch64".to_owned()),
        _ => None,
    }
}

/// The inventory an export row gives.
pub fn inventory(host: &ImportedHost, marker: &Marker) -> Inventory {
    let kind = host.kind.unwrap_or(VirtualizationKind::Unknown);
    let virtual_machine = matches!(kind, VirtualizationKind::Vm | VirtualizationKind::Container);
    let os = host.os_name.as_ref().map(|name| {
        let guess = guess_os(name);
        // Azure Migrate gives Windows versions as `10.0.17763`: the build is the third part.
        let build = guess.build.clone().or_else(|| {
            host.os_version.as_deref().and_then(|v| {
                let parts: Vec<&str> = v.trim().split('.').collect();
                (guess.family == "windows" && parts.len() >= 3 && parts[0] == "10")
                    .then(|| parts[2].to_owned())
            })
        });
        let boot_time = host.boot_time.unwrap_or(DateTime::UNIX_EPOCH);
        Os {
            family: guess.family.clone(),
            id: guess.id.clone(),
            id_like: Vec::new(),
            name: name.clone(),
            version_id: host.os_version.clone().or(guess.version.clone()),
            version_codename: None,
            build,
            support_end: None,
            kernel: String::new(),
            kernel_version: None,
            arch: host
                .os_arch
                .as_deref()
                .and_then(arch)
                .or(guess.arch)
                .unwrap_or_default(),
            timezone: None,
            boot_time,
            uptime_secs: host.boot_time.map_or(0, |b| {
                u64::try_from((marker.as_of - b).num_seconds()).unwrap_or(0)
            }),
            install_time: None,
            reboot_required: marker.unknown("the reboot state"),
            reboot_required_packages: Vec::new(),
            last_package_change: marker.unknown("the patch history"),
            pending_updates: marker.unknown("the pending updates"),
        }
    });
    let hardware = Hardware {
        vendor: (host.hypervisor.as_deref() == Some("vmware")).then(|| "VMware, Inc.".to_owned()),
        product: None,
        product_version: None,
        serial: marker.unknown("the serial number"),
        chassis_type_code: None,
        chassis: if virtual_machine {
            Chassis::Virtual
        } else {
            Chassis::Unknown
        },
        bios_vendor: None,
        bios_version: None,
        bios_date: None,
        virtualization: Virtualization {
            kind,
            technology: host.hypervisor.clone(),
            evidence: vec![format!(
                "{} import: {} line {}",
                marker.format.as_str(),
                host.file,
                host.line
            )],
        },
    };
    let cpu = host.cpus.map(|cpus| {
        let model = host.cpu_model.clone().unwrap_or_default();
        let lower = model.to_ascii_lowercase();
        let vendor = if lower.contains("intel") {
            "GenuineIntel"
        } else if lower.contains("amd") {
            "AuthenticAMD"
        } else {
            ""
        };
        Cpu {
            model,
            vendor: vendor.to_owned(),
            sockets: host.sockets.unwrap_or(1).max(1),
            physical_cores: cpus,
            logical_cpus: cpus,
            max_mhz: host.cpu_mhz,
            flags: if kind == VirtualizationKind::Vm {
                vec!["hypervisor".to_owned()]
            } else {
                Vec::new()
            },
        }
    });
    let disks = (!host.disks.is_empty()).then(|| {
        host.disks
            .iter()
            .map(|(name, size)| Disk {
                name: name.clone(),
                model: None,
                vendor: None,
                serial: None,
                size_bytes: *size,
                kind: if virtual_machine {
                    DiskKind::Virtual
                } else {
                    DiskKind::Unknown
                },
                removable: false,
            })
            .collect()
    });
    Inventory {
        os,
        hardware: Some(hardware),
        cpu,
        memory: host.memory_bytes.map(|total| Memory {
            total_bytes: total,
            available_bytes: 0,
            swap_total_bytes: 0,
            swap_free_bytes: 0,
        }),
        disks,
        ..Inventory::default()
    }
}

/// `base` (an agent's inventory) with the sections it lacks taken from `import`: what
/// the agent sent is never replaced.
pub fn fill_gaps(base: Inventory, import: Inventory) -> Inventory {
    Inventory {
        os: base.os.or(import.os),
        hardware: base.hardware.or(import.hardware),
        cpu: base.cpu.or(import.cpu),
        memory: base.memory.or(import.memory),
        disks: base.disks.or(import.disks),
        ..base
    }
}

fn point(v: f64) -> Summary {
    Summary {
        mean: v,
        p50: v,
        p95: v,
        max: v,
        peaks_10m: vec![v],
    }
}

/// The report storing `host` under `host_id`, with `inventory` and `labels`.
pub fn report(
    host: &ImportedHost,
    host_id: &str,
    hostname: &str,
    labels: BTreeMap<String, String>,
    inventory: Inventory,
    marker: &Marker,
) -> Report {
    // A utilisation figure of an export is one value with no history behind it: one
    // sample in a window of no length, so the collector's 30-day coverage (the carbon
    // confidence) counts nothing for it.
    let utilisation =
        (host.cpu_util_ratio.is_some() || host.memory_util_ratio.is_some()).then(|| Utilisation {
            sample_interval_secs: 0.0,
            samples_taken: 1,
            samples_expected: 1,
            cpu_busy_ratio: host.cpu_util_ratio.map(point),
            memory_used_ratio: host.memory_util_ratio.map(point),
            disk_read_bytes_per_second: None,
            disk_write_bytes_per_second: None,
            network_receive_bytes_per_second: None,
            network_transmit_bytes_per_second: None,
        });
    let source = if Uuid::parse_str(host_id).is_ok() {
        HostIdSource::SmbiosUuid
    } else {
        HostIdSource::Generated
    };
    Report {
        schema_version: SCHEMA_VERSION,
        report_id: Uuid::new_v4(),
        host_id: host_id.to_owned(),
        host_id_source: source,
        hostname: hostname.to_owned(),
        agent: AgentInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            platform: IMPORT_PLATFORM.to_owned(),
            arch: String::new(),
        },
        labels,
        collected_at: marker.as_of,
        window: Window {
            start: marker.as_of,
            end: marker.as_of,
        },
        inventory_hash: inventory.stable_hash(),
        inventory: Some(inventory),
        utilisation,
        power: Power::none(vec![format!(
            "imported from a {} export ({}): nothing measured; power is modelled",
            marker.format.as_str(),
            marker.file
        )]),
        probes: Vec::new(),
        collector_errors: Vec::new(),
    }
}
