//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct ServicesCollector;

impl Collector for ServicesCollector {
    fn name(&self) -> &'static str {
        "services"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
