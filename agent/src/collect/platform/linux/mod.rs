//! Linux collectors. Every file is read through the context's [`crate::root::SysRoot`].

pub mod counters;
pub mod cpu;
pub mod gpu;
pub mod hardware;
pub mod network;
pub mod os;
pub mod ports;
pub mod rapl;
pub mod security;
pub mod services;
pub mod software;
pub mod storage;

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::collect::Collector;
use crate::root::{FsStats, SysRoot};

/// Every Linux inventory collector.
pub fn collectors() -> Vec<Arc<dyn Collector>> {
    // Read by the software and security collectors, once per change of the databases.
    let packages = Arc::new(software::PackageCache::default());
    vec![
        Arc::new(os::OsCollector::default()),
        Arc::new(hardware::HardwareCollector::default()),
        Arc::new(cpu::CpuCollector),
        Arc::new(cpu::MemoryCollector),
        Arc::new(storage::DisksCollector),
        Arc::new(storage::FilesystemsCollector),
        Arc::new(network::NetworkCollector),
        Arc::new(software::SoftwareCollector::new(Arc::clone(&packages))),
        Arc::new(services::ServicesCollector),
        Arc::new(ports::ListeningCollector::default()),
        Arc::new(security::SecurityCollector::new(packages)),
        Arc::new(gpu::GpusCollector),
    ]
}

/// Host path of the kernel's random id of the running boot.
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// The id of the running boot (`None`: absent or unreadable). What the kernel and the
/// firmware say about the machine cannot change while it stays the same.
pub fn boot_id(root: &SysRoot) -> Option<String> {
    root.read_attr(BOOT_ID).ok().flatten()
}

/// What identifies one version of a file (`None`: absent or unreadable): size,
/// modification time (to the nanosecond), change time and inode. A file written in
/// place changes its mtime and ctime; one replaced by a rename changes its inode.
pub type FileStamp = Option<(u64, i64, i64, i64, i64, u64)>;

/// The [`FileStamp`] of `path` under `root` (symbolic links followed).
pub fn file_stamp(root: &SysRoot, path: &str) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    root.metadata(path).ok().map(|m| {
        (
            m.len(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
            m.ino(),
        )
    })
}

/// `statvfs(2)` of a path on the live system.
pub fn statvfs(path: &Path) -> io::Result<FsStats> {
    let st = rustix::fs::statvfs(path).map_err(io::Error::from)?;
    Ok(FsStats {
        fragment_size: st.f_frsize,
        blocks: st.f_blocks,
        blocks_free: st.f_bfree,
        blocks_available: st.f_bavail,
        files: st.f_files,
        files_free: st.f_ffree,
    })
}

/// The host name: `/proc/sys/kernel/hostname`, else `/etc/hostname`.
pub fn hostname(root: &crate::root::SysRoot) -> Result<String, crate::root::ReadError> {
    match root.read_attr("/proc/sys/kernel/hostname") {
        Ok(Some(name)) => Ok(name),
        Ok(None) | Err(_) => root
            .read_attr("/etc/hostname")
            .map(|name| name.unwrap_or_default()),
    }
}

/// The agent's own CPU time (`getrusage(RUSAGE_SELF)`: every thread, user and system)
/// and resident memory (`VmRSS`, read from `/proc/self/statm`), for the self-limits. Always the
/// live process, whatever root the collectors read.
#[allow(unsafe_code)]
pub fn own_usage() -> io::Result<crate::limits::OwnUsage> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to writable memory of the size getrusage writes; it is
    // read only after the call reports success, when the kernel has filled it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let usage = unsafe { usage.assume_init() };
    let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    // `/proc/self/statm`'s second field is the resident pages, the same count as
    // `VmRSS` in `/proc/self/status`, which costs the kernel far more to write (the
    // daemon reads this every sample).
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse::<u64>().ok())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "/proc/self/statm: no resident pages",
            )
        })?;
    // SAFETY: sysconf has no preconditions.
    let page_size = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    Ok(crate::limits::OwnUsage {
        cpu_seconds: secs(usage.ru_utime) + secs(usage.ru_stime),
        rss_bytes: pages.saturating_mul(page_size),
    })
}

/// Caps glibc's malloc at one arena. By default glibc gives threads that allocate at the
/// same time arenas of their own (up to 8 per core) and keeps their memory; for an agent
/// whose threads mostly sleep that is several MB of resident memory for nothing
/// (measured: the daemon's peak RSS went from 12.5 MB to under 10 MB). Call at start-up,
/// before any thread is spawned. [`release_free_memory`] after each report does the rest.
///
/// Fixed `M_MMAP_THRESHOLD`/`M_TRIM_THRESHOLD` (64/128 KiB, which stop glibc from raising
/// the mmap threshold after a large block is freed) were measured on top of that and
/// gave no lower RSS, only about 120 more page faults per report, so they are not set.
#[cfg(target_env = "gnu")]
#[allow(unsafe_code)]
pub fn tune_allocator() {
    // SAFETY: mallopt only sets an allocator tunable; it takes no pointers and is called
    // before the process starts any other thread. A failure (return 0) leaves the
    // default in place, which is harmless.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Nothing to tune outside glibc.
#[cfg(not(target_env = "gnu"))]
pub fn tune_allocator() {}

/// Hands the heap's free pages back to the kernel (glibc's `malloc_trim(0)`), including
/// the holes a report's transient allocations leave below blocks that are still live,
/// which glibc's own trimming (top of the heap only) cannot return. Called after each
/// report: the heap between reports went from 1.4 to 0.6 MiB, for about 200 page
/// faults (under 1 MB faulted in again) in the next report.
#[cfg(target_env = "gnu")]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointers and may be called from any thread at any
    // time; it only returns free memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Nothing to release outside glibc.
#[cfg(not(target_env = "gnu"))]
pub fn release_free_memory() {}

#[cfg(test)]
mod tests {
    /// The resident size from `statm` is `VmRSS` (read just before and after, since it
    /// moves), and the CPU time is the process's.
    #[test]
    fn own_usage_is_this_process_rss_and_cpu() {
        let vm_rss = || -> u64 {
            let status = std::fs::read_to_string("/proc/self/status").unwrap();
            let kib: u64 = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap();
            kib * 1024
        };
        let before = vm_rss();
        let usage = super::own_usage().unwrap();
        let after = vm_rss();
        let (low, high) = (before.min(after), before.max(after));
        let slack = 1024 * 1024;
        assert!(
            usage.rss_bytes + slack >= low && usage.rss_bytes <= high + slack,
            "statm {} against VmRSS {before}..{after}",
            usage.rss_bytes
        );
        assert!(usage.cpu_seconds > 0.0);
    }
}
