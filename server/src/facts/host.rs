//! `facts.host`: identity, labels and what kind of machine the host is.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use estate_protocol::{Chassis, Hardware, VirtualizationKind};
use serde::Serialize;

use super::{Ctx, HostMeta};

/// Identity, labels and the kind of machine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostFacts {
    /// The host's id.
    pub id: String,
    /// Latest host name.
    pub name: String,
    /// Labels from the agent's config.
    pub labels: BTreeMap<String, String>,
    /// The `role` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The `site` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The `department` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The `owner` label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `physical`, `virtual`, `container` or `unknown`.
    pub kind: &'static str,
    /// The hypervisor or container runtime (e.g. `kvm`, `vmware`), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hypervisor: Option<String>,
    /// `laptop`, `desktop`, `server`, `virtual` or `unknown` (from the SMBIOS chassis type).
    pub chassis: &'static str,
    /// When the collector first heard from the host.
    pub first_seen: DateTime<Utc>,
    /// When the collector last heard from the host.
    pub last_seen: DateTime<Utc>,
    /// Whole days since `first_seen`.
    pub days_since_first_seen: i64,
}

pub(super) fn derive(meta: &HostMeta<'_>, hardware: Option<&Hardware>, ctx: &Ctx) -> HostFacts {
    let label = |key: &str| meta.labels.get(key).cloned();
    let kind = match hardware.map(|h| h.virtualization.kind) {
        Some(VirtualizationKind::Physical) => "physical",
        Some(VirtualizationKind::Vm) => "virtual",
        Some(VirtualizationKind::Container) => "container",
        Some(VirtualizationKind::Unknown) | None => "unknown",
    };
    let chassis = match hardware.map(|h| h.chassis) {
        Some(Chassis::Laptop) => "laptop",
        Some(Chassis::Desktop) => "desktop",
        Some(Chassis::Server) => "server",
        Some(Chassis::Virtual) => "virtual",
        Some(Chassis::Unknown) | None => "unknown",
    };
    HostFacts {
        id: meta.host_id.to_owned(),
        name: meta.hostname.to_owned(),
        labels: meta.labels.clone(),
        role: label("role"),
        site: label("site"),
        department: label("department"),
        owner: label("owner"),
        kind,
        hypervisor: hardware.and_then(|h| h.virtualization.technology.clone()),
        chassis,
        first_seen: meta.first_seen,
        last_seen: meta.last_seen,
        days_since_first_seen: ctx.days_since(meta.first_seen),
    }
}
