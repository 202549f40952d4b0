//! Estate's agent: inventories the host it runs on, samples utilisation and power, and
//! reports to the collector.
//!
//! `main.rs` only parses arguments; everything it runs is built here so tests can
//! drive it in-process. Platform code lives only under `collect/platform/`.
#![deny(missing_docs)]

pub mod collect;
pub mod config;
pub mod daemon;
pub mod host_id;
pub mod limits;
pub mod power;
pub mod probes;
pub mod report;
pub mod root;
pub mod sampler;
pub mod simulate;
pub mod spool;
pub mod ticker;
pub mod transport;

#[cfg(test)]
pub mod testutil;
