//! Platforms with no collectors yet (macOS, the BSDs): every collector says so.

use std::sync::Arc;

use super::unsupported::Unsupported;
pub use super::unsupported::{counters, rapl, release_free_memory, statvfs, tune_allocator};
use crate::collect::Collector;
use crate::config::COLLECTOR_NAMES;
use crate::root::{ReadError, SysRoot};

/// Every collector, each reporting "not supported on this platform".
pub fn collectors() -> Vec<Arc<dyn Collector>> {
    COLLECTOR_NAMES
        .iter()
        .filter(|name| !matches!(**name, "power" | "utilisation" | "probes"))
        .map(|name| Arc::new(Unsupported(name)) as Arc<dyn Collector>)
        .collect()
}

/// The host name is not read on this platform.
pub fn hostname(_root: &SysRoot) -> Result<String, ReadError> {
    Ok(String::new())
}

/// The agent's own usage is not read on this platform: the self-limits stay off.
pub fn own_usage() -> std::io::Result<crate::limits::OwnUsage> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "not supported on this platform",
    ))
}
