//! Platform code: the only place `cfg(target_os)` appears (besides `mod` lines).
//!
//! Each platform module exports the same items: `collectors()`, `statvfs()`,
//! `hostname()`, and the `counters` and `rapl` modules used by the sampler and the power
//! meter. Linux is the tested platform; Windows collects what sysinfo offers (OS, CPU,
//! memory, volumes, network); elsewhere, and for everything else, collectors say
//! plainly that they are not supported.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(target_os = "linux", windows)))]
mod other;
#[cfg(not(any(target_os = "linux", windows)))]
pub use other::*;

#[cfg(not(target_os = "linux"))]
mod unsupported;
