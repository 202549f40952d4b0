//! Platform code: the only place `cfg(target_os)` appears (besides `mod` lines).
//!
//! Each platform module exports the same items: `collectors()`, `statvfs()`,
//! `hostname()`, and the `counters` and `rapl` modules used by the sampler and the power
//! meter. Linux is the tested platform; Windows reads the registry, WMI, the SCM and the
//! IP helper tables (parsing tested on recorded machines, `windows/`) and sysinfo for
//! CPU, memory, volumes and network; elsewhere, and for everything else, collectors say
//! plainly that they are not supported.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

// The Windows collectors' parsing and mapping layer builds on every platform, so its
// tests run here on recorded machines; only its live readers are Windows-only.
pub mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(target_os = "linux", windows)))]
mod other;
#[cfg(not(any(target_os = "linux", windows)))]
pub use other::*;

#[cfg(not(target_os = "linux"))]
mod unsupported;

/// Model or vendor strings (matched case-insensitively as substrings) of disks a
/// hypervisor provides: QEMU/KVM (and virtio's Windows driver, `Red Hat VirtIO`), VMware,
/// Hyper-V (`Virtual Disk`, vendor `Msft`), VirtualBox, Xen's Windows PV driver, AWS EBS,
/// Google persistent disks.
pub const VIRTUAL_DISK_MARKERS: &[&str] = &[
    "qemu",
    "virtio",
    "vmware",
    "virtual disk",
    "msft",
    "vbox",
    "xensrc",
    "amazon elastic block store",
    "nvme_card-pd",
    "persistentdisk",
];

/// Whether a disk's model or vendor string marks it as a hypervisor's disk.
pub fn virtual_disk_marked(s: Option<&str>) -> bool {
    s.is_some_and(|s| {
        let s = s.to_ascii_lowercase();
        VIRTUAL_DISK_MARKERS.iter().any(|m| s.contains(m))
    })
}
