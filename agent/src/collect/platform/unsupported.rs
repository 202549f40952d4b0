//! Collectors that exist only on Linux: on other platforms they report "not supported
//! on this platform" explicitly, never an empty section.

use std::io;
use std::path::Path;

use crate::collect::{CollectError, Collected, Collector, Context};
use crate::root::FsStats;

/// A collector that is not available on this platform.
#[derive(Debug)]
pub struct Unsupported(pub &'static str);

impl Collector for Unsupported {
    fn name(&self) -> &'static str {
        self.0
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Unsupported)
    }
}

/// `statvfs` exists only on Unix.
pub fn statvfs(_path: &Path) -> io::Result<FsStats> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "not supported on this platform",
    ))
}

/// System-wide counters for the sampler: not read on this platform yet.
#[cfg(not(windows))]
pub mod counters {
    use crate::root::SysRoot;
    use crate::sampler::Counters;

    /// Counters that say "not supported on this platform".
    pub fn read(_root: &SysRoot) -> Counters {
        Counters::unsupported()
    }

    /// Reads the counters again and again (nothing to keep on this platform).
    #[derive(Debug)]
    pub struct Reader;

    impl Reader {
        /// A reader of the counters under `root`.
        pub fn new(_root: SysRoot) -> Reader {
            Reader
        }

        /// Counters that say "not supported on this platform".
        pub fn read(&mut self) -> Counters {
            Counters::unsupported()
        }
    }
}

/// RAPL exists only through Linux powercap.
pub mod rapl {
    use crate::power::RaplSnapshot;
    use crate::root::SysRoot;

    /// A snapshot that says "not supported on this platform".
    pub fn read(_root: &SysRoot) -> RaplSnapshot {
        RaplSnapshot::unsupported()
    }
}

/// The allocator needs no tuning on this platform.
pub fn tune_allocator() {}

/// Nothing to hand back on this platform (the system allocator returns what it can).
pub fn release_free_memory() {}
