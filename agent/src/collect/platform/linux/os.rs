//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct OsCollector;

impl Collector for OsCollector {
    fn name(&self) -> &'static str {
        "os"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
