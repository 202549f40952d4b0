//! Platform code: the only place `cfg(target_os)` appears (besides `mod` lines).
//!
//! Each platform module exports the same items: `collectors()`, `statvfs()`, and the
//! `counters` and `rapl` modules used by the sampler and the power meter. Linux is the
//! tested platform; elsewhere collectors say plainly that they are not supported.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
pub use other::*;
