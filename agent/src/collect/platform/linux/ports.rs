//! Placeholder: being written.

use crate::collect::{CollectError, Collected, Collector, Context};

/// Placeholder.
#[derive(Debug)]
pub struct ListeningCollector;

impl Collector for ListeningCollector {
    fn name(&self) -> &'static str {
        "listening"
    }
    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        Err(CollectError::Other("not written yet".to_owned()))
    }
}
