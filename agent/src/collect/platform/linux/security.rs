//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct SecurityCollector;

impl Collector for SecurityCollector {
    fn name(&self) -> &'static str {
        "security"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
