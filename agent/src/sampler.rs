//! Placeholder: the utilisation sampler (being written).

use std::time::Duration;

use estate_protocol::{CollectorError, Utilisation};

use crate::root::SysRoot;

/// Placeholder.
#[derive(Debug)]
pub struct Sampler {
    _root: SysRoot,
    _interval: Duration,
}

impl Sampler {
    /// A sampler reading counters under `root` every `interval`.
    pub fn new(root: SysRoot, interval: Duration) -> Self {
        Sampler {
            _root: root,
            _interval: interval,
        }
    }

    /// Takes one sample now.
    pub fn sample(&mut self) {}

    /// Summarises the samples taken since the last call over a window of `window`, and
    /// starts a new window.
    pub fn summarise(&mut self, _window: Duration) -> (Option<Utilisation>, Vec<CollectorError>) {
        (None, Vec::new())
    }
}
