//! Hardware, CPU, memory and GPU sections.

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Known;

/// Hardware identity and how the host runs (physical, VM, container).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// System manufacturer (DMI `sys_vendor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Product name (DMI `product_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Product version / family where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_version: Option<String>,
    /// Serial number; unknown when unreadable (root only on Linux) or a placeholder.
    pub serial: Known<String>,
    /// The SMBIOS chassis type number (1–36) as reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chassis_type_code: Option<u8>,
    /// The chassis class that matters for modelling.
    pub chassis: Chassis,
    /// BIOS/firmware vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_vendor: Option<String>,
    /// BIOS/firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_version: Option<String>,
    /// BIOS/firmware release date (a proxy for hardware age).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bios_date: Option<NaiveDate>,
    /// Physical, virtual machine or container, and which hypervisor.
    pub virtualization: Virtualization,
}

/// Chassis classes, from the SMBIOS 3.x chassis type codes (DSP0134 §7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Chassis {
    /// Laptops, notebooks, convertibles, tablets (codes 8, 9, 10, 11, 14, 30, 31, 32).
    Laptop,
    /// Desktops, towers, all-in-ones, mini PCs (codes 3, 4, 5, 6, 7, 13, 15, 16, 24,
    /// 34, 35, 36).
    Desktop,
    /// Rack, blade and other server-room chassis (codes 17, 22, 23, 25, 26, 27, 28, 29).
    Server,
    /// A virtual machine or container, whatever code its firmware reports.
    Virtual,
    /// Not given or not recognised (codes 1 Other, 2 Unknown, and the rest).
    Unknown,
}

/// How the host is run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Virtualization {
    /// Physical, virtual machine or container.
    pub kind: VirtualizationKind,
    /// The hypervisor or container runtime (e.g. `kvm`, `vmware`, `hyper-v`, `xen`,
    /// `docker`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technology: Option<String>,
    /// What the conclusion rests on (e.g. `dmi sys_vendor=QEMU`, `cpuinfo hypervisor flag`).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Kinds of host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VirtualizationKind {
    /// Bare metal.
    Physical,
    /// A virtual machine.
    Vm,
    /// A container.
    Container,
    /// Could not be told.
    Unknown,
}

/// Processors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cpu {
    /// Model string (e.g. `Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz`).
    pub model: String,
    /// Vendor (`GenuineIntel`, `AuthenticAMD`, ...).
    pub vendor: String,
    /// Populated sockets.
    pub sockets: u32,
    /// Physical cores across all sockets.
    pub physical_cores: u32,
    /// Logical CPUs online (what `nproc` counts).
    pub logical_cpus: u32,
    /// Highest clock in MHz, where known: cpufreq's `cpuinfo_max_freq`, else (no
    /// cpufreq, as in most VMs) the highest current clock `/proc/cpuinfo` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mhz: Option<f64>,
    /// CPU flags of interest (e.g. `hypervisor`, `vmx`, `svm`, `aes`, `avx512f`).
    #[serde(default)]
    pub flags: Vec<String>,
}

/// Memory and swap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    /// Usable memory (`MemTotal`), bytes.
    pub total_bytes: u64,
    /// Available memory at collection time (volatile), bytes.
    pub available_bytes: u64,
    /// Swap size, bytes.
    pub swap_total_bytes: u64,
    /// Free swap at collection time (volatile), bytes.
    pub swap_free_bytes: u64,
}
