//! Periodic health-check reports (`docs/reports.md`): the estate summary, top risks,
//! checks across the fleet, lifecycle, Windows 11 readiness of the Windows 10 hosts,
//! capacity, energy and carbon per scenario,
//! assumptions with sources, what changed since the previous report, and a per-host
//! appendix — as one self-contained HTML file, Markdown, CSV files and JSON.
//!
//! The core is pure: a [`ReportInput`] (hosts, their assessments, the checks, the
//! previous report) is built into a [`Report`] by [`build()`], and the [`render`]
//! functions lay a report out; none does I/O. The edges are [`load`] (the store to an
//! input), [`output`] (report files: names, atomic writes, retention) and [`schedule`]
//! (the `[reports]` section and the collector's task). The command is
//! `estate-server report` (`crate::cli`).

pub mod build;
pub mod changes;
pub mod input;
pub mod load;
pub mod model;
pub mod output;
pub mod render;
pub mod schedule;
pub mod view;
pub mod windows11;

#[cfg(test)]
mod tests;

pub use build::build;
pub use changes::PreviousReport;
pub use input::{
    CheckInfo, CheckOutcome, HostAssessment, HostFacts, ReportHost, ReportInput, ReportSettings,
};
pub use model::Report;
pub use output::Format;
pub use schedule::{ReportsConfig, When};
