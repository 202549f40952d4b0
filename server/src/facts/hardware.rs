//! `facts.hardware`: system identity, BIOS age, CPU, memory, disks and GPUs.

use chrono::NaiveDate;
use estate_protocol::{DiskKind, Inventory, VirtualizationKind};
use serde::Serialize;

use super::{Ctx, Unknown, known};

/// Hardware facts. A section the agent did not send leaves its fields absent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HardwareFacts {
    /// System manufacturer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Product (model) name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Product version or family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// Serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// SMBIOS chassis type code (1–36).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis_type_code: Option<u8>,
    /// BIOS/firmware vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios_vendor: Option<String>,
    /// BIOS/firmware version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios_version: Option<String>,
    /// BIOS/firmware release date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios_date: Option<NaiveDate>,
    /// Days since `bios_date`, for physical hosts only (a virtual machine's firmware date
    /// says nothing about the hardware underneath).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_age_days: Option<i64>,
    /// CPU model string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// CPU vendor (`GenuineIntel`, `AuthenticAMD`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_vendor: Option<String>,
    /// Populated sockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_sockets: Option<u32>,
    /// Physical cores across all sockets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<u32>,
    /// Logical CPUs online.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_threads: Option<u32>,
    /// Highest clock, MHz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_max_mhz: Option<f64>,
    /// CPU flags of interest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_flags: Option<Vec<String>>,
    /// Usable memory, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// Swap size, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap_bytes: Option<u64>,
    /// Whole disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disks: Option<Vec<DiskFact>>,
    /// Number of whole disks (removable media left out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_count: Option<usize>,
    /// Capacity of the non-removable disks, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_total_bytes: Option<u64>,
    /// Number of spinning (HDD) disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hdd_count: Option<usize>,
    /// GPUs and other display controllers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<GpuFact>>,
    /// Number of GPUs and display controllers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<usize>,
}

/// One whole disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiskFact {
    /// Kernel name (`sda`, `nvme0n1`, `vda`).
    pub name: String,
    /// `hdd`, `ssd`, `nvme`, `virtual` or `unknown`.
    pub kind: &'static str,
    /// Capacity, bytes.
    pub size_bytes: u64,
    /// Model, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Vendor, where given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Removable media.
    pub removable: bool,
}

/// One GPU or display controller.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuFact {
    /// PCI address.
    pub pci_address: String,
    /// Vendor name, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Model, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Kernel driver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Device memory, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

fn disk_kind(kind: DiskKind) -> &'static str {
    match kind {
        DiskKind::Hdd => "hdd",
        DiskKind::Ssd => "ssd",
        DiskKind::Nvme => "nvme",
        DiskKind::Virtual => "virtual",
        DiskKind::Unknown => "unknown",
    }
}

pub(super) fn derive(inv: Option<&Inventory>, ctx: &Ctx, unknown: &mut Unknown) -> HardwareFacts {
    let hw = inv.and_then(|i| i.hardware.as_ref());
    let cpu = inv.and_then(|i| i.cpu.as_ref());
    let memory = inv.and_then(|i| i.memory.as_ref());
    let disks = inv.and_then(|i| i.disks.as_deref());
    let gpus = inv.and_then(|i| i.gpus.as_deref());
    let physical = hw.is_some_and(|h| h.virtualization.kind == VirtualizationKind::Physical);
    let fixed = || disks.map(|d| d.iter().filter(|d| !d.removable));
    HardwareFacts {
        vendor: hw.and_then(|h| h.vendor.clone()),
        model: hw.and_then(|h| h.product.clone()),
        model_version: hw.and_then(|h| h.product_version.clone()),
        serial: hw.and_then(|h| known(&h.serial, "hardware.serial", unknown).cloned()),
        chassis_type_code: hw.and_then(|h| h.chassis_type_code),
        bios_vendor: hw.and_then(|h| h.bios_vendor.clone()),
        bios_version: hw.and_then(|h| h.bios_version.clone()),
        bios_date: hw.and_then(|h| h.bios_date),
        hardware_age_days: hw
            .and_then(|h| h.bios_date)
            .filter(|_| physical)
            .map(|d| ctx.days_since_date(d).max(0)),
        cpu_model: cpu.map(|c| c.model.clone()).filter(|m| !m.is_empty()),
        cpu_vendor: cpu.map(|c| c.vendor.clone()).filter(|v| !v.is_empty()),
        cpu_sockets: cpu.map(|c| c.sockets),
        cpu_cores: cpu.map(|c| c.physical_cores),
        cpu_threads: cpu.map(|c| c.logical_cpus),
        cpu_max_mhz: cpu.and_then(|c| c.max_mhz),
        cpu_flags: cpu.map(|c| c.flags.clone()),
        memory_bytes: memory.map(|m| m.total_bytes),
        swap_bytes: memory.map(|m| m.swap_total_bytes),
        disks: disks.map(|list| {
            list.iter()
                .map(|d| DiskFact {
                    name: d.name.clone(),
                    kind: disk_kind(d.kind),
                    size_bytes: d.size_bytes,
                    model: d.model.clone(),
                    vendor: d.vendor.clone(),
                    removable: d.removable,
                })
                .collect()
        }),
        disk_count: fixed().map(Iterator::count),
        disk_total_bytes: fixed().map(|d| d.map(|d| d.size_bytes).sum()),
        hdd_count: fixed().map(|d| d.filter(|d| d.kind == DiskKind::Hdd).count()),
        gpus: gpus.map(|list| {
            list.iter()
                .map(|g| GpuFact {
                    pci_address: g.pci_address.clone(),
                    vendor: g.vendor.clone(),
                    model: g.model.clone(),
                    driver: g.driver.clone(),
                    memory_bytes: g.memory_bytes,
                })
                .collect()
        }),
        gpu_count: gpus.map(<[_]>::len),
    }
}
