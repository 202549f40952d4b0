//! The fleet simulator (`estate-agent simulate`): N synthetic but realistic hosts —
//! a council's Windows and Linux endpoints, VMs on several hypervisor clusters,
//! physical servers of several ages, some neglected, some idle — enrolling and
//! reporting to a collector like real agents, from one process with bounded memory,
//! deterministic with a seed. Used for demos, load tests and the dashboards' tests.
//!
//! Generation is pure and lives in [`catalogue`] (the tables of realistic values),
//! [`profile`] (who host `i` is), [`inventory`] (its inventory at a revision),
//! [`activity`] (its utilisation, power and probes over a window) and [`fleet`] (its
//! reports). [`driver`] is the thin part that schedules, enrols, sends and retries;
//! [`stats`] counts what happened. Nothing here reads the host the agent runs on.

pub mod activity;
pub mod catalogue;
pub mod driver;
pub mod fleet;
pub mod inventory;
pub mod profile;
pub mod rng;
pub mod stats;

pub use driver::{Options, SimulateError, run, run_until_signal};
pub use fleet::{Fleet, ReportSpec};
pub use profile::{HostClass, HostProfile, Mix};
pub use stats::Summary;
