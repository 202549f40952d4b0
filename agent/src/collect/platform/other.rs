//! Platforms other than Linux: placeholder until the sysinfo collectors are written.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::collect::Collector;
use crate::root::{FsStats, ReadError, SysRoot};

/// No collectors yet.
pub fn collectors() -> Vec<Arc<dyn Collector>> {
    Vec::new()
}

/// Not supported here.
pub fn statvfs(_path: &Path) -> io::Result<FsStats> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "not supported on this platform",
    ))
}

/// Not supported here.
pub fn hostname(_root: &SysRoot) -> Result<String, ReadError> {
    Ok(String::new())
}
