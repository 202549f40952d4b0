//! Services known to the service manager.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The service manager's view of the host's services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// The service manager (`systemd`, `windows-scm`, ...).
    pub manager: String,
    /// Whether the service manager could be asked.
    pub available: bool,
    /// Why it could not be asked, when `available` is false (e.g. "systemd is not
    /// running (no /run/systemd/system): a container or a non-systemd init").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Units, sorted by name.
    #[serde(default)]
    pub units: Vec<ServiceUnit>,
}

/// One service unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceUnit {
    /// Unit name (e.g. `ssh.service`).
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Load state (`loaded`, `not-found`, `masked`, ...).
    pub load_state: String,
    /// Active state (`active`, `inactive`, `failed`, ...; volatile).
    pub active_state: String,
    /// Sub state (`running`, `exited`, `dead`, ...; volatile).
    pub sub_state: String,
    /// Enablement (`enabled`, `disabled`, `static`, `masked`, ...), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<String>,
}
