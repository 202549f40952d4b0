//! Placeholder: service probes (being written).

use estate_protocol::ProbeResult;

use crate::config::ProbeConfig;

/// Runs every probe (concurrently) and returns one result each, in config order.
pub fn run_probes(_probes: &[ProbeConfig]) -> Vec<ProbeResult> {
    Vec::new()
}
