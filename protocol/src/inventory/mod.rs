//! The full inventory of a host: one optional section per collector.
//!
//! A section is `None` when its collector failed, timed out, is unsupported on the
//! platform or is turned off; the report's `collector_errors` says which.

mod gpu;
mod hardware;
mod network;
mod os;
mod security;
mod services;
mod software;
mod storage;

pub use gpu::*;
pub use hardware::*;
pub use network::*;
pub use os::*;
pub use security::*;
pub use services::*;
pub use software::*;
pub use storage::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Everything the agent knows about the host's make-up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Operating system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<Os>,
    /// Hardware identity and virtualisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
    /// Processors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory and swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Block devices (physical and virtual disks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<Disk>>,
    /// Mounted filesystems, pseudo filesystems skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filesystems: Option<Vec<Filesystem>>,
    /// Network interfaces, routes and resolvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Installed software packages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<Software>,
    /// Services known to the service manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Services>,
    /// Listening sockets and their processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listening: Option<Vec<ListeningSocket>>,
    /// Security posture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<Security>,
    /// GPUs and other display devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<Gpu>>,
}

impl Inventory {
    /// SHA-256 (lower-case hex) of the inventory's stable part: the inventory with its
    /// volatile values (uptime, free space, free memory, process ids, unit states) cleared.
    /// The agent sends the full inventory only when this changes (and at least daily).
    pub fn stable_hash(&self) -> String {
        let mut stable = self.clone();
        stable.clear_volatile();
        // Serialising plain structs, Vecs and BTreeMaps is deterministic.
        let bytes = serde_json::to_vec(&stable).unwrap_or_default();
        let digest = Sha256::digest(&bytes);
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Clears the values that change from one collection to the next without the
    /// host's make-up changing.
    fn clear_volatile(&mut self) {
        if let Some(os) = &mut self.os {
            os.uptime_secs = 0;
        }
        if let Some(memory) = &mut self.memory {
            memory.available_bytes = 0;
            memory.swap_free_bytes = 0;
        }
        if let Some(filesystems) = &mut self.filesystems {
            for fs in filesystems {
                fs.available_bytes = 0;
                fs.free_bytes = 0;
                fs.inodes_free = 0;
            }
        }
        if let Some(listening) = &mut self.listening {
            for socket in listening {
                socket.pid = None;
            }
        }
        if let Some(gpus) = &mut self.gpus {
            for gpu in gpus {
                gpu.utilisation_ratio = None;
            }
        }
        if let Some(services) = &mut self.services {
            for unit in &mut services.units {
                unit.active_state.clear();
                unit.sub_state.clear();
            }
        }
    }
}
