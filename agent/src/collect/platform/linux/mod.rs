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
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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
    // daemon reads this every sample). The file stays open and is read again at offset
    // 0 (procfs writes it afresh for each read there): one `pread` a sample instead of
    // `open`, `statx`, two `read`s and `close`.
    let mut buf = [0u8; 128];
    let len = read_statm(&mut buf)?;
    let statm = std::str::from_utf8(&buf[..len]).unwrap_or_default();
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

/// Reads `/proc/self/statm` into `buf` through a descriptor opened on first use and
/// kept (`/proc/self` is resolved at open, and the process keeps its pid). The file is
/// one short line: one `pread` at offset 0 returns all of it.
fn read_statm(buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;
    static STATM: OnceLock<Option<std::fs::File>> = OnceLock::new();
    match STATM.get_or_init(|| std::fs::File::open("/proc/self/statm").ok()) {
        Some(file) => file.read_at(buf, 0),
        // Could not be opened once (procfs not mounted yet?): try again each time.
        None => {
            use std::io::Read;
            std::fs::File::open("/proc/self/statm")?.read(buf)
        }
    }
}

/// A periodic kernel timer (`timerfd`, monotonic clock, non-blocking) that expires every
/// `period`, the first time one `period` from now: the daemon's sample clock
/// ([`crate::ticker`]).
#[allow(unsafe_code)]
pub fn interval_timer(period: Duration) -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create takes no pointers; a non-negative return is a new
    // descriptor that nothing else owns, so OwnedFd may take it.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: see above.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let period = if period.is_zero() {
        // A zero interval would disarm the timer.
        Duration::from_nanos(1)
    } else {
        period
    };
    let spec = libc::timespec {
        tv_sec: libc::time_t::try_from(period.as_secs()).unwrap_or(libc::time_t::MAX),
        // Under 10^9: fits a 32-bit `c_long` too.
        tv_nsec: period.subsec_nanos() as libc::c_long,
    };
    let value = libc::itimerspec {
        it_interval: spec,
        it_value: spec,
    };
    // SAFETY: `value` is a valid itimerspec for the call's duration; the old value is
    // not asked for (null).
    let rc = unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &value, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// [`interval_timer`] registered with the current tokio runtime's reactor (call from
/// within a runtime with I/O enabled).
#[allow(unsafe_code)]
pub fn watched_interval_timer(period: Duration) -> io::Result<tokio::io::unix::AsyncFd<OwnedFd>> {
    let fd = interval_timer(period)?;
    // SAFETY: the OwnedFd is a valid, open descriptor, and the AsyncFd owns it: nothing
    // else can close or replace it while it is registered, and its as_raw_fd always
    // returns the same descriptor.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(io::Error::from)
}

/// Reads a timer from [`interval_timer`]: the number of expirations since the last
/// read, or `WouldBlock` when it has not expired.
#[allow(unsafe_code)]
pub fn read_timer(fd: &OwnedFd) -> io::Result<u64> {
    let mut expirations = [0u8; 8];
    // SAFETY: the buffer is 8 writable bytes, the size a timerfd read writes.
    let n = unsafe {
        libc::read(
            fd.as_raw_fd(),
            expirations.as_mut_ptr().cast::<libc::c_void>(),
            expirations.len(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from_ne_bytes(expirations))
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
