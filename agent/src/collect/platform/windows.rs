//! Windows: OS, CPU, memory, volumes and network through sysinfo; the rest reports
//! "not supported on this platform" until the Windows collectors (registry, SCM,
//! security centre) are written. The sysinfo handles are created per collection: a
//! one-shot `collect` has no long-lived owner for them yet.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use estate_protocol::{Cpu, Filesystem, Interface, Known, Memory, Network, Os};

use super::unsupported::Unsupported;
pub use super::unsupported::{counters, rapl, release_free_memory, statvfs, tune_allocator};
use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::{ReadError, SysRoot};

const NOT_YET: &str = "not collected on Windows yet";

/// The Windows collectors.
pub fn collectors() -> Vec<Arc<dyn Collector>> {
    vec![
        Arc::new(OsCollector),
        Arc::new(Unsupported("hardware")),
        Arc::new(CpuCollector),
        Arc::new(MemoryCollector),
        Arc::new(Unsupported("disks")),
        Arc::new(FilesystemsCollector),
        Arc::new(NetworkCollector),
        Arc::new(Unsupported("software")),
        Arc::new(Unsupported("services")),
        Arc::new(Unsupported("listening")),
        Arc::new(Unsupported("security")),
        Arc::new(Unsupported("gpus")),
    ]
}

/// The computer name.
pub fn hostname(_root: &SysRoot) -> Result<String, ReadError> {
    Ok(sysinfo::System::host_name().unwrap_or_default())
}

fn sysinfo_error(what: &str, err: impl std::fmt::Display) -> CollectError {
    CollectError::Other(format!("sysinfo {what}: {err}"))
}

struct OsCollector;

impl Collector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        use sysinfo::System;
        let boot = System::boot_time().map_err(|e| sysinfo_error("boot time", e))?;
        let boot_time = i64::try_from(boot)
            .ok()
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .ok_or_else(|| CollectError::Other(format!("boot time {boot} is out of range")))?;
        let kernel = System::kernel_version().unwrap_or_default();
        let os = Os {
            family: "windows".to_owned(),
            id: "windows".to_owned(),
            id_like: Vec::new(),
            name: System::long_os_version()
                .or_else(|_| System::name())
                .unwrap_or_else(|_| "Windows".to_owned()),
            version_id: System::os_version().ok(),
            version_codename: None,
            build: (!kernel.is_empty()).then(|| kernel.clone()),
            support_end: None,
            kernel,
            kernel_version: System::kernel_long_version().ok(),
            arch: System::cpu_arch(),
            timezone: None,
            boot_time,
            uptime_secs: System::uptime().unwrap_or_default(),
            install_time: None,
            reboot_required: Known::unknown(NOT_YET),
            reboot_required_packages: Vec::new(),
            last_package_change: Known::unknown(NOT_YET),
            pending_updates: Known::unknown(NOT_YET),
        };
        Ok(Collected::complete(Section::Os(os)))
    }
}

struct CpuCollector;

impl Collector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        use sysinfo::{CpuRefreshKind, RefreshKind, System};
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_frequency()),
        )
        .map_err(|e| sysinfo_error("cpu", e))?;
        let cpus = system.cpus();
        let first = cpus
            .first()
            .ok_or_else(|| CollectError::Other("sysinfo reported no CPUs".to_owned()))?;
        let logical = u32::try_from(cpus.len()).unwrap_or(u32::MAX);
        let max_mhz = cpus.iter().map(|c| c.frequency()).max().filter(|f| *f > 0);
        let cpu = Cpu {
            model: first.brand().trim().to_owned(),
            vendor: first.vendor_id().to_owned(),
            // sysinfo does not count sockets; WMI (Win32_Processor) will.
            sockets: 1,
            physical_cores: System::physical_core_count()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(logical),
            logical_cpus: logical,
            max_mhz: max_mhz.map(|f| f as f64),
            flags: Vec::new(),
        };
        Ok(Collected::partial(
            Section::Cpu(cpu),
            vec!["socket count is not known through sysinfo; 1 assumed".to_owned()],
        ))
    }
}

struct MemoryCollector;

impl Collector for MemoryCollector {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        use sysinfo::{MemoryRefreshKind, RefreshKind, System};
        let system = System::new_with_specifics(
            RefreshKind::nothing().with_memory(MemoryRefreshKind::everything()),
        )
        .map_err(|e| sysinfo_error("memory", e))?;
        Ok(Collected::complete(Section::Memory(Memory {
            total_bytes: system.total_memory(),
            available_bytes: system.available_memory(),
            swap_total_bytes: system.total_swap(),
            swap_free_bytes: system.free_swap(),
        })))
    }
}

struct FilesystemsCollector;

impl Collector for FilesystemsCollector {
    fn name(&self) -> &'static str {
        "filesystems"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let disks =
            sysinfo::Disks::new_with_refreshed_list().map_err(|e| sysinfo_error("volumes", e))?;
        let mut filesystems: Vec<Filesystem> = disks
            .iter()
            .map(|d| Filesystem {
                mount_point: d.mount_point().display().to_string(),
                fs_type: d.file_system().to_string_lossy().into_owned(),
                device: d.name().to_string_lossy().into_owned(),
                size_bytes: d.total_space(),
                free_bytes: d.available_space(),
                available_bytes: d.available_space(),
                inodes_total: 0,
                inodes_free: 0,
                read_only: d.is_read_only(),
            })
            .collect();
        filesystems.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        Ok(Collected::complete(Section::Filesystems(filesystems)))
    }
}

struct NetworkCollector;

impl Collector for NetworkCollector {
    fn name(&self) -> &'static str {
        "network"
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let networks = sysinfo::Networks::new_with_refreshed_list()
            .map_err(|e| sysinfo_error("network", e))?;
        let mut interfaces: Vec<Interface> = networks
            .iter()
            .map(|(name, data)| {
                let name = name.to_string_lossy().into_owned();
                let mac = data.mac_address();
                Interface {
                    name: name.clone(),
                    mac: (!mac.is_unspecified()).then(|| mac.to_string().to_ascii_lowercase()),
                    addresses: data.ip_networks().iter().map(|n| n.to_string()).collect(),
                    state: data.operational_state().to_string().to_ascii_lowercase(),
                    speed_mbps: data
                        .receive_link_speed()
                        .and_then(|bps| u32::try_from(bps / 1_000_000).ok()),
                    mtu: u32::try_from(data.mtu()).ok().filter(|m| *m > 0),
                    kind: if name.to_ascii_lowercase().contains("loopback") {
                        "loopback".to_owned()
                    } else {
                        "unknown".to_owned()
                    },
                }
            })
            .collect();
        interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Collected::partial(
            Section::Network(Network {
                interfaces,
                default_gateway_v4: None,
                default_gateway_v6: None,
                dns_servers: Vec::new(),
                dns_search: Vec::new(),
            }),
            vec!["default gateway and DNS servers are not collected on Windows yet".to_owned()],
        ))
    }
}
