//! The collectors sysinfo serves on Windows: CPU, memory, volumes (as filesystems) and
//! network interfaces. The sysinfo handles are created per collection: a one-shot
//! `collect` has no long-lived owner for them.

use std::sync::Arc;

use estate_protocol::{Cpu, Filesystem, Interface, Memory, Network};

use super::hardware;
use super::source::Source;
use crate::collect::{CollectError, Collected, Collector, Context, Section};

fn sysinfo_error(what: &str, err: impl std::fmt::Display) -> CollectError {
    CollectError::Other(format!("sysinfo {what}: {err}"))
}

/// Processors: model, vendor, cores and clock from sysinfo; sockets from
/// `Win32_ComputerSystem.NumberOfProcessors` through the source.
#[derive(Debug)]
pub struct CpuCollector {
    source: Arc<dyn Source>,
}

impl CpuCollector {
    /// A collector asking `source` for the socket count.
    pub fn new(source: Arc<dyn Source>) -> Self {
        CpuCollector { source }
    }
}

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
        let mut problems = Vec::new();
        let sockets = match self.source.wmi(&hardware::COMPUTER_SYSTEM) {
            Ok(list) => hardware::sockets(&list),
            Err(err) => {
                problems.push(format!("socket count: {err}"));
                None
            }
        };
        let sockets = sockets.unwrap_or_else(|| {
            problems.push("socket count unknown; 1 assumed".to_owned());
            1
        });
        let cpu = Cpu {
            model: first.brand().trim().to_owned(),
            vendor: first.vendor_id().to_owned(),
            sockets,
            physical_cores: System::physical_core_count()
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(logical),
            logical_cpus: logical,
            max_mhz: max_mhz.map(|f| f as f64),
            flags: Vec::new(),
        };
        Ok(Collected::partial(Section::Cpu(cpu), problems))
    }
}

/// Memory and swap from sysinfo.
#[derive(Debug)]
pub struct MemoryCollector;

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

/// Volumes from sysinfo; where sysinfo lists none (its volume enumeration is missing
/// under Wine), the fixed drive letters from `GetLogicalDriveStringsW`.
#[derive(Debug)]
pub struct FilesystemsCollector;

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
        let mut problems = Vec::new();
        if filesystems.is_empty() {
            filesystems = drives::fixed();
            problems.push(
                "sysinfo listed no volume; the fixed drive letters are reported instead".to_owned(),
            );
        }
        if filesystems.is_empty() {
            return Err(CollectError::Other(
                "no volume found (sysinfo and GetLogicalDriveStringsW list none)".to_owned(),
            ));
        }
        filesystems.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
        Ok(Collected::partial(
            Section::Filesystems(filesystems),
            problems,
        ))
    }
}

/// Fixed drives by letter, through the Win32 file system API.
mod drives {
    #![allow(unsafe_code)]

    use ::windows::Win32::Storage::FileSystem::{
        GetDiskFreeSpaceExW, GetDriveTypeW, GetLogicalDriveStringsW, GetVolumeInformationW,
    };
    use ::windows::core::PCWSTR;
    use estate_protocol::Filesystem;

    /// `DRIVE_FIXED`.
    const DRIVE_FIXED: u32 = 3;
    /// `FILE_READ_ONLY_VOLUME`.
    const FILE_READ_ONLY_VOLUME: u32 = 0x0008_0000;

    /// The fixed drives (`C:\`), with their file system and space.
    pub fn fixed() -> Vec<Filesystem> {
        let mut buf = vec![0u16; 512];
        // SAFETY: `buf` is writable; the call writes at most its length.
        let len = unsafe { GetLogicalDriveStringsW(Some(&mut buf)) } as usize;
        if len == 0 || len > buf.len() {
            return Vec::new();
        }
        buf[..len]
            .split(|c| *c == 0)
            .filter(|root| !root.is_empty())
            .filter_map(|root| {
                let mut wide = root.to_vec();
                wide.push(0);
                let path = PCWSTR(wide.as_ptr());
                // SAFETY: `wide` is NUL-terminated and outlives each call.
                if unsafe { GetDriveTypeW(path) } != DRIVE_FIXED {
                    return None;
                }
                let mut fs_name = vec![0u16; 64];
                let mut flags = 0u32;
                // SAFETY: as above; the buffers and out pointers are locals.
                let fs_type = unsafe {
                    GetVolumeInformationW(
                        path,
                        None,
                        None,
                        None,
                        Some(&mut flags),
                        Some(&mut fs_name),
                    )
                }
                .ok()
                .map(|()| {
                    let end = fs_name
                        .iter()
                        .position(|c| *c == 0)
                        .unwrap_or(fs_name.len());
                    String::from_utf16_lossy(&fs_name[..end])
                })
                .unwrap_or_default();
                let (mut available, mut total, mut free) = (0u64, 0u64, 0u64);
                // SAFETY: as above.
                unsafe {
                    GetDiskFreeSpaceExW(
                        path,
                        Some(&mut available),
                        Some(&mut total),
                        Some(&mut free),
                    )
                }
                .ok()?;
                let mount_point = String::from_utf16_lossy(root);
                Some(Filesystem {
                    device: mount_point.trim_end_matches('\\').to_owned(),
                    mount_point,
                    fs_type,
                    size_bytes: total,
                    free_bytes: free,
                    available_bytes: available,
                    inodes_total: 0,
                    inodes_free: 0,
                    read_only: flags & FILE_READ_ONLY_VOLUME != 0,
                })
            })
            .collect()
    }
}

/// Network interfaces from sysinfo.
#[derive(Debug)]
pub struct NetworkCollector;

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
        let mut problems =
            vec!["default gateway and DNS servers are not collected on Windows yet".to_owned()];
        if interfaces.is_empty() {
            problems.push("sysinfo listed no network interface".to_owned());
        }
        Ok(Collected::partial(
            Section::Network(Network {
                interfaces,
                default_gateway_v4: None,
                default_gateway_v6: None,
                dns_servers: Vec::new(),
                dns_search: Vec::new(),
            }),
            problems,
        ))
    }
}

/// The agent's own CPU time and resident memory (working set), from sysinfo, for the
/// self-limits.
pub fn own_usage() -> std::io::Result<crate::limits::OwnUsage> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};
    let pid = sysinfo::get_current_pid().map_err(std::io::Error::other)?;
    let mut system = System::new().map_err(std::io::Error::other)?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[pid]),
        false,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    let process = system
        .process(pid)
        .ok_or_else(|| std::io::Error::other("sysinfo does not see the agent's own process"))?;
    Ok(crate::limits::OwnUsage {
        cpu_seconds: process.accumulated_cpu_time() as f64 / 1000.0,
        rss_bytes: process.memory(),
    })
}
