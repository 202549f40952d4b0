//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct DisksCollector;

impl Collector for DisksCollector {
    fn name(&self) -> &'static str {
        "disks"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}

/// Placeholder.
#[derive(Debug)]
pub struct FilesystemsCollector;

impl Collector for FilesystemsCollector {
    fn name(&self) -> &'static str {
        "filesystems"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
