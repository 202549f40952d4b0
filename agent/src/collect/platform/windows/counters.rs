//! The utilisation sampler's system-wide counters on Windows, the counterparts of
//! Linux's `/proc` files:
//!
//! - CPU: `GetSystemTimes` (100 ns units). Kernel time includes idle time, so
//!   total = kernel + user and busy = total − idle.
//! - Memory: `GlobalMemoryStatusEx`, total and available physical memory.
//! - Disks: `IOCTL_DISK_PERFORMANCE` on each `\\.\PhysicalDrive<N>` (opened without
//!   read or write access, which needs no administrator rights), bytes read and written
//!   since boot; named `PhysicalDrive<N>` as the `disks` section names them. Physical
//!   drives only, so a byte is never counted twice through a volume.
//! - Network: `GetIfTable2`, octets in and out of interfaces backed by hardware
//!   (`HardwareInterface`), leaving out the filter-driver layers stacked on an adapter
//!   (`FilterInterface`: WFP, QoS, …, which see the same bytes again) and loopback.
//!   Where no interface is backed by hardware (a container), every interface but
//!   loopback and the filter layers counts.
//!
//! The decisions are plain functions tested on every platform; only `read` and the
//! calls behind it are Windows-only.

use crate::sampler::{CpuTimes, IoCounter, MemoryUse};

/// `IF_TYPE_SOFTWARE_LOOPBACK`.
pub const IF_TYPE_SOFTWARE_LOOPBACK: u32 = 24;

/// CPU times from `GetSystemTimes`' idle, kernel (idle included) and user times.
pub fn cpu_times(idle: u64, kernel: u64, user: u64) -> Result<CpuTimes, String> {
    if idle > kernel {
        return Err(format!(
            "GetSystemTimes: idle time {idle} exceeds kernel time {kernel}, which includes it"
        ));
    }
    let total = kernel
        .checked_add(user)
        .ok_or_else(|| "GetSystemTimes: kernel + user time overflows".to_owned())?;
    Ok(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Memory from `GlobalMemoryStatusEx`' total and available physical memory.
pub fn memory_use(total: u64, available: u64) -> Result<MemoryUse, String> {
    if total == 0 {
        return Err("GlobalMemoryStatusEx: total physical memory is 0".to_owned());
    }
    Ok(MemoryUse {
        total_bytes: total,
        available_bytes: available.min(total),
    })
}

/// One row of `GetIfTable2`, as far as the sampler cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceRow {
    /// The interface's alias (`Ethernet`, `Wi-Fi`).
    pub alias: String,
    /// `IF_TYPE_*`.
    pub if_type: u32,
    /// `InterfaceAndOperStatusFlags.HardwareInterface`.
    pub hardware: bool,
    /// `InterfaceAndOperStatusFlags.FilterInterface`.
    pub filter: bool,
    /// Octets received.
    pub in_octets: u64,
    /// Octets sent.
    pub out_octets: u64,
}

/// The interfaces whose traffic counts (see the module docs), by alias.
pub fn counted_interfaces(rows: Vec<InterfaceRow>) -> Vec<IoCounter> {
    let candidates = rows
        .into_iter()
        .filter(|r| !r.filter && r.if_type != IF_TYPE_SOFTWARE_LOOPBACK);
    let (hardware, other): (Vec<InterfaceRow>, Vec<InterfaceRow>) =
        candidates.partition(|r| r.hardware);
    let chosen = if hardware.is_empty() { other } else { hardware };
    let mut counters: Vec<IoCounter> = chosen
        .into_iter()
        .map(|r| IoCounter {
            name: r.alias,
            in_bytes: r.in_octets,
            out_bytes: r.out_octets,
        })
        .collect();
    counters.sort_by(|a, b| a.name.cmp(&b.name));
    counters
}

/// A physical drive's counter from `DISK_PERFORMANCE`' byte counts (signed in the API;
/// a negative count is read as 0).
pub fn disk_counter(number: u32, bytes_read: i64, bytes_written: i64) -> IoCounter {
    IoCounter {
        name: format!("PhysicalDrive{number}"),
        in_bytes: u64::try_from(bytes_read).unwrap_or(0),
        out_bytes: u64::try_from(bytes_written).unwrap_or(0),
    }
}

/// Drive numbers tried: Windows numbers physical drives from 0 and reuses gaps, so the
/// search stops after this many numbers in a row that do not exist.
pub const DRIVE_GAP: u32 = 8;

/// The highest drive number tried.
pub const MAX_DRIVE: u32 = 256;

#[cfg(windows)]
pub use live::read;

/// Reads the counters again and again (each reading asks Windows afresh).
#[cfg(windows)]
#[derive(Debug)]
pub struct Reader {
    root: crate::root::SysRoot,
}

#[cfg(windows)]
impl Reader {
    /// A reader of the counters under `root`.
    pub fn new(root: crate::root::SysRoot) -> Reader {
        Reader { root }
    }

    /// Reads every counter once (see [`read`]).
    pub fn read(&mut self) -> crate::sampler::Counters {
        live::read(&self.root)
    }
}

#[cfg(windows)]
#[allow(unsafe_code)]
mod live {
    use ::windows::Win32::Foundation::{
        CloseHandle, ERROR_FILE_NOT_FOUND, ERROR_PATH_NOT_FOUND, FILETIME, NO_ERROR,
    };
    use ::windows::Win32::NetworkManagement::IpHelper::{
        FreeMibTable, GetIfTable2, MIB_IF_ROW2, MIB_IF_TABLE2,
    };
    use ::windows::Win32::Storage::FileSystem::{
        CreateFileW, FILE_FLAGS_AND_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
    };
    use ::windows::Win32::System::IO::DeviceIoControl;
    use ::windows::Win32::System::Ioctl::{DISK_PERFORMANCE, IOCTL_DISK_PERFORMANCE};
    use ::windows::Win32::System::SystemInformation::{GlobalMemoryStatusEx, MEMORYSTATUSEX};
    use ::windows::Win32::System::Threading::GetSystemTimes;
    use ::windows::core::HSTRING;

    use super::{DRIVE_GAP, InterfaceRow, MAX_DRIVE};
    use crate::root::SysRoot;
    use crate::sampler::{CounterError, Counters, CpuTimes, IoCounter, MemoryUse};

    /// Reads every counter once; each that fails is an error naming the call.
    pub fn read(_root: &SysRoot) -> Counters {
        Counters {
            cpu: cpu().map_err(CounterError::Failed),
            memory: memory().map_err(CounterError::Failed),
            disks: disks().map_err(CounterError::Failed),
            networks: networks().map_err(CounterError::Failed),
        }
    }

    fn ticks(t: FILETIME) -> u64 {
        (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)
    }

    fn cpu() -> Result<CpuTimes, String> {
        let (mut idle, mut kernel, mut user) = (
            FILETIME::default(),
            FILETIME::default(),
            FILETIME::default(),
        );
        // SAFETY: three valid, writable FILETIMEs.
        unsafe { GetSystemTimes(Some(&mut idle), Some(&mut kernel), Some(&mut user)) }
            .map_err(|e| format!("GetSystemTimes: {e}"))?;
        super::cpu_times(ticks(idle), ticks(kernel), ticks(user))
    }

    fn memory() -> Result<MemoryUse, String> {
        let mut status = MEMORYSTATUSEX {
            dwLength: std::mem::size_of::<MEMORYSTATUSEX>() as u32,
            ..Default::default()
        };
        // SAFETY: a valid MEMORYSTATUSEX with its length set, as the API requires.
        unsafe { GlobalMemoryStatusEx(&mut status) }
            .map_err(|e| format!("GlobalMemoryStatusEx: {e}"))?;
        super::memory_use(status.ullTotalPhys, status.ullAvailPhys)
    }

    fn disks() -> Result<Vec<IoCounter>, String> {
        let mut found = Vec::new();
        let mut problems = Vec::new();
        let mut missing_in_a_row = 0;
        for n in 0..MAX_DRIVE {
            if missing_in_a_row >= DRIVE_GAP {
                break;
            }
            let path = HSTRING::from(format!(r"\\.\PhysicalDrive{n}"));
            // SAFETY: a valid path; no access rights asked, only a handle for the ioctl.
            let handle = match unsafe {
                CreateFileW(
                    &path,
                    0,
                    FILE_SHARE_READ | FILE_SHARE_WRITE,
                    None,
                    OPEN_EXISTING,
                    FILE_FLAGS_AND_ATTRIBUTES(0),
                    None,
                )
            } {
                Ok(h) => h,
                Err(e)
                    if e.code() == ERROR_FILE_NOT_FOUND.to_hresult()
                        || e.code() == ERROR_PATH_NOT_FOUND.to_hresult() =>
                {
                    missing_in_a_row += 1;
                    continue;
                }
                Err(e) => {
                    problems.push(format!(r"\\.\PhysicalDrive{n}: {e}"));
                    missing_in_a_row += 1;
                    continue;
                }
            };
            missing_in_a_row = 0;
            let mut perf = DISK_PERFORMANCE::default();
            let mut returned = 0u32;
            // SAFETY: `perf` is a writable DISK_PERFORMANCE of the size given; the
            // handle is open and closed below whatever the result.
            let result = unsafe {
                DeviceIoControl(
                    handle,
                    IOCTL_DISK_PERFORMANCE,
                    None,
                    0,
                    Some((&mut perf as *mut DISK_PERFORMANCE).cast()),
                    std::mem::size_of::<DISK_PERFORMANCE>() as u32,
                    Some(&mut returned),
                    None,
                )
            };
            // SAFETY: the handle came from CreateFileW above and is closed once.
            let _ = unsafe { CloseHandle(handle) };
            match result {
                Ok(()) => found.push(super::disk_counter(n, perf.BytesRead, perf.BytesWritten)),
                Err(e) => problems.push(format!(
                    r"\\.\PhysicalDrive{n}: IOCTL_DISK_PERFORMANCE: {e}"
                )),
            }
        }
        if found.is_empty() && !problems.is_empty() {
            return Err(problems.join("; "));
        }
        if found.is_empty() {
            return Err(r"no \\.\PhysicalDrive<N> exists".to_owned());
        }
        Ok(found)
    }

    fn networks() -> Result<Vec<IoCounter>, String> {
        let mut table: *mut MIB_IF_TABLE2 = std::ptr::null_mut();
        // SAFETY: the API allocates the table and stores its address in `table`.
        let rc = unsafe { GetIfTable2(&mut table) };
        if rc != NO_ERROR || table.is_null() {
            return Err(format!("GetIfTable2: error {}", rc.0));
        }
        // SAFETY: on success `table` points at NumEntries rows, which stay valid until
        // FreeMibTable below; each row is copied out before then.
        let rows: Vec<InterfaceRow> = unsafe {
            let count = (*table).NumEntries as usize;
            let first = std::ptr::addr_of!((*table).Table).cast::<MIB_IF_ROW2>();
            (0..count)
                .map(|i| {
                    let row = &*first.add(i);
                    let flags = row.InterfaceAndOperStatusFlags._bitfield;
                    let alias_len = row
                        .Alias
                        .iter()
                        .position(|c| *c == 0)
                        .unwrap_or(row.Alias.len());
                    InterfaceRow {
                        alias: String::from_utf16_lossy(&row.Alias[..alias_len]),
                        if_type: row.Type,
                        hardware: flags & 0b01 != 0,
                        filter: flags & 0b10 != 0,
                        in_octets: row.InOctets,
                        out_octets: row.OutOctets,
                    }
                })
                .collect()
        };
        // SAFETY: the table GetIfTable2 allocated, freed once.
        unsafe { FreeMibTable(table.cast()) };
        Ok(super::counted_interfaces(rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_busy_is_kernel_and_user_without_idle() {
        // Kernel 600 of which 450 idle, user 400: 550 busy of 1000.
        assert_eq!(
            cpu_times(450, 600, 400),
            Ok(CpuTimes {
                busy: 550,
                total: 1000
            })
        );
        assert!(cpu_times(700, 600, 400).unwrap_err().contains("exceeds"));
        assert!(cpu_times(0, u64::MAX, 1).is_err());
    }

    #[test]
    fn memory_is_total_and_available() {
        assert_eq!(
            memory_use(16 << 30, 6 << 30),
            Ok(MemoryUse {
                total_bytes: 16 << 30,
                available_bytes: 6 << 30
            })
        );
        assert_eq!(memory_use(8, 9).unwrap().available_bytes, 8);
        assert!(memory_use(0, 0).is_err());
    }

    fn row(alias: &str, if_type: u32, hardware: bool, filter: bool, bytes: u64) -> InterfaceRow {
        InterfaceRow {
            alias: alias.to_owned(),
            if_type,
            hardware,
            filter,
            in_octets: bytes,
            out_octets: bytes / 2,
        }
    }

    #[test]
    fn network_counts_adapters_not_their_filter_layers_or_loopback() {
        let rows = vec![
            row("Wi-Fi", 71, true, false, 1000),
            row(
                "Wi-Fi-WFP Native MAC Layer LightWeight Filter-0000",
                71,
                true,
                true,
                1000,
            ),
            row("Wi-Fi-QoS Packet Scheduler-0000", 71, true, true, 1000),
            row("Ethernet", 6, true, false, 500),
            row(
                "Loopback Pseudo-Interface 1",
                IF_TYPE_SOFTWARE_LOOPBACK,
                false,
                false,
                9,
            ),
            row("vEthernet (Default Switch)", 6, false, false, 70),
            row("Teredo Tunneling Pseudo-Interface", 131, false, false, 3),
        ];
        let names: Vec<String> = counted_interfaces(rows.clone())
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Ethernet", "Wi-Fi"]);
        // No hardware at all (a Windows container): all but loopback and filters.
        let soft: Vec<InterfaceRow> = rows.into_iter().filter(|r| !r.hardware).collect();
        let names: Vec<String> = counted_interfaces(soft)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(
            names,
            [
                "Teredo Tunneling Pseudo-Interface",
                "vEthernet (Default Switch)"
            ]
        );
    }

    #[test]
    fn disk_counters_are_named_as_the_disks_section_names_drives() {
        assert_eq!(
            disk_counter(1, 4096, -1),
            IoCounter {
                name: "PhysicalDrive1".to_owned(),
                in_bytes: 4096,
                out_bytes: 0
            }
        );
    }
}
