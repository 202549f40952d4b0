//! GPUs and other display controllers.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A GPU or other display controller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gpu {
    /// PCI address (e.g. `0000:3b:00.0`).
    pub pci_address: String,
    /// PCI vendor id (hex, e.g. `10de`).
    pub vendor_id: String,
    /// PCI device id (hex).
    pub device_id: String,
    /// Vendor name where known (`NVIDIA`, `AMD`, `Intel`, `Matrox`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model name (from NVML for NVIDIA GPUs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Kernel driver bound to the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Memory on the device, bytes (NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Power limit in watts (NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_watts: Option<f64>,
    /// Utilisation at collection time, 0–1 (NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilisation_ratio: Option<f64>,
}
