//! Placeholder: the power meter (being written).

use estate_protocol::{CollectorError, Power};

use crate::root::SysRoot;

/// Placeholder.
#[derive(Debug)]
pub struct PowerMeter {
    _root: SysRoot,
}

impl PowerMeter {
    /// Starts measuring: reads the energy counters now.
    pub fn start(root: &SysRoot) -> Self {
        PowerMeter {
            _root: root.clone(),
        }
    }

    /// Average power since `start` or the previous `read`, and restarts the interval.
    pub fn read(&mut self) -> (Power, Vec<CollectorError>) {
        (Power::none(vec!["not written yet".to_owned()]), Vec::new())
    }
}
