//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct SoftwareCollector;

impl Collector for SoftwareCollector {
    fn name(&self) -> &'static str {
        "software"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
