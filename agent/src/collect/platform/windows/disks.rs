//! Physical disks: `MSFT_PhysicalDisk` (the Storage Management API, Windows 8 and
//! Server 2012 on), which knows the media type (HDD/SSD) and the bus (NVMe, USB, …);
//! where that namespace is missing (older systems, Wine) `Win32_DiskDrive`, which does
//! not, so its disks are `virtual` by their model, NVMe or SSD by their model's words,
//! and otherwise of unknown media.
//!
//! Each disk is named `PhysicalDrive<N>`, as Windows names the device
//! (`\\.\PhysicalDrive<N>`), which is also the name the utilisation sampler gives its
//! I/O counters. No I/O here: the source answers the queries.

use std::sync::Arc;
use std::time::Duration;

use estate_protocol::{Disk, DiskKind};

use super::cim::{self, CimObject};
use super::source::{Source, WmiQuery};
use crate::collect::platform::virtual_disk_marked;
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// `MSFT_PhysicalDisk` in the Storage namespace.
pub const PHYSICAL_DISK: WmiQuery = WmiQuery {
    namespace: r"ROOT\Microsoft\Windows\Storage",
    class: "MSFT_PhysicalDisk",
    properties: &[
        "DeviceId",
        "FriendlyName",
        "Model",
        "Manufacturer",
        "SerialNumber",
        "Size",
        "MediaType",
        "BusType",
    ],
    privacy: false,
};

/// `Win32_DiskDrive`, the fallback.
pub const DISK_DRIVE: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_DiskDrive",
    properties: &[
        "Index",
        "Model",
        "Manufacturer",
        "SerialNumber",
        "Size",
        "MediaType",
        "InterfaceType",
    ],
    privacy: false,
};

/// `MSFT_PhysicalDisk.MediaType`: 3 HDD, 4 SSD, 5 SCM (storage-class memory).
fn media_kind(media_type: Option<u64>) -> DiskKind {
    match media_type {
        Some(3) => DiskKind::Hdd,
        Some(4 | 5) => DiskKind::Ssd,
        _ => DiskKind::Unknown,
    }
}

/// `MSFT_PhysicalDisk.BusType` values that matter here.
const BUS_USB: u64 = 7;
const BUS_SD: u64 = 12;
const BUS_MMC: u64 = 13;
const BUS_FILE_BACKED_VIRTUAL: u64 = 15;
const BUS_NVME: u64 = 17;

/// Manufacturer strings that name no manufacturer.
fn vendor(obj: &CimObject) -> Option<String> {
    cim::string(obj, "Manufacturer").filter(|m| {
        let m = m.to_ascii_lowercase();
        !m.starts_with("(standard") && m != "ata" && m != "nvme"
    })
}

/// One `MSFT_PhysicalDisk` instance; `None` without a device number.
pub fn from_physical_disk(obj: &CimObject) -> Option<Disk> {
    let number = cim::uint(obj, "DeviceId")?;
    let model = cim::string(obj, "Model").or_else(|| cim::string(obj, "FriendlyName"));
    let vendor = vendor(obj);
    let bus = cim::uint(obj, "BusType");
    let kind = if bus == Some(BUS_FILE_BACKED_VIRTUAL)
        || virtual_disk_marked(model.as_deref())
        || virtual_disk_marked(vendor.as_deref())
    {
        DiskKind::Virtual
    } else if bus == Some(BUS_NVME) {
        DiskKind::Nvme
    } else {
        media_kind(cim::uint(obj, "MediaType"))
    };
    let removable = matches!(bus, Some(BUS_USB | BUS_SD | BUS_MMC));
    Some(disk(obj, number, model, vendor, kind, removable))
}

/// One `Win32_DiskDrive` instance; `None` without an index.
pub fn from_disk_drive(obj: &CimObject) -> Option<Disk> {
    let number = cim::uint(obj, "Index")?;
    let model = cim::string(obj, "Model");
    let vendor = vendor(obj);
    let words = model.as_deref().unwrap_or_default().to_ascii_lowercase();
    let kind = if virtual_disk_marked(model.as_deref()) || virtual_disk_marked(vendor.as_deref()) {
        DiskKind::Virtual
    } else if words.contains("nvme") {
        DiskKind::Nvme
    } else if words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "ssd")
    {
        DiskKind::Ssd
    } else {
        DiskKind::Unknown
    };
    let media = cim::string(obj, "MediaType")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let interface = cim::string(obj, "InterfaceType").unwrap_or_default();
    let removable = media.contains("removable")
        || media.contains("external")
        || interface.eq_ignore_ascii_case("USB");
    Some(disk(obj, number, model, vendor, kind, removable))
}

/// A disk from what either class gives; serial and size read the same in both.
fn disk(
    obj: &CimObject,
    number: u64,
    model: Option<String>,
    vendor: Option<String>,
    kind: DiskKind,
    removable: bool,
) -> Disk {
    Disk {
        name: format!("PhysicalDrive{number}"),
        model,
        vendor,
        serial: cim::string(obj, "SerialNumber"),
        size_bytes: cim::uint(obj, "Size").unwrap_or(0),
        kind,
        removable,
    }
}

/// The disks in `list`, by device number, and a note for each instance without one.
fn map(
    list: &[CimObject],
    query: &WmiQuery,
    one: fn(&CimObject) -> Option<Disk>,
) -> (Vec<Disk>, Vec<String>) {
    let mut problems = Vec::new();
    let mut disks: Vec<(u64, Disk)> = Vec::new();
    for (i, obj) in list.iter().enumerate() {
        match one(obj) {
            Some(disk) => {
                let number = disk
                    .name
                    .trim_start_matches("PhysicalDrive")
                    .parse()
                    .unwrap_or(u64::MAX);
                disks.push((number, disk));
            }
            None => problems.push(format!(
                "{}: instance {i} has no device number; skipped",
                query.describe()
            )),
        }
    }
    disks.sort_by_key(|(n, _)| *n);
    disks.dedup_by_key(|(n, _)| *n);
    (disks.into_iter().map(|(_, d)| d).collect(), problems)
}

/// Collects the physical disks through a [`Source`].
#[derive(Debug)]
pub struct DisksCollector {
    source: Arc<dyn Source>,
}

impl DisksCollector {
    /// A collector asking `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        DisksCollector { source }
    }
}

impl Collector for DisksCollector {
    fn name(&self) -> &'static str {
        "disks"
    }

    fn budget(&self, configured: Duration) -> Duration {
        configured.max(super::WMI_BUDGET)
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let mut problems = Vec::new();
        match self.source.wmi(&PHYSICAL_DISK) {
            Ok(list) if !list.is_empty() => {
                let (disks, notes) = map(&list, &PHYSICAL_DISK, from_physical_disk);
                problems.extend(notes);
                return Ok(Collected::partial(Section::Disks(disks), problems));
            }
            Ok(_) => problems.push(format!(
                "{}: no instance; media types from Win32_DiskDrive's models",
                PHYSICAL_DISK.describe()
            )),
            Err(err) => problems.push(format!("{err}; media types from Win32_DiskDrive's models")),
        }
        let list = self
            .source
            .wmi(&DISK_DRIVE)
            .map_err(|err| CollectError::Other(format!("{}; {err}", problems.join("; "))))?;
        let (disks, notes) = map(&list, &DISK_DRIVE, from_disk_drive);
        problems.extend(notes);
        Ok(Collected::partial(Section::Disks(disks), problems))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: serde_json::Value) -> CimObject {
        match v {
            serde_json::Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    #[test]
    fn physical_disks_take_media_and_bus_types() {
        let nvme = obj(
            json!({"DeviceId": "0", "FriendlyName": "SAMSUNG MZVLB512HBJQ-000L7",
            "Model": "SAMSUNG MZVLB512HBJQ-000L7", "SerialNumber": "0025_3884_91B1_4C2A.",
            "Size": 512110190592u64, "MediaType": 4, "BusType": 17}),
        );
        let d = from_physical_disk(&nvme).unwrap();
        assert_eq!(d.name, "PhysicalDrive0");
        assert_eq!(d.kind, DiskKind::Nvme);
        assert_eq!(d.size_bytes, 512_110_190_592);
        assert!(!d.removable);
        let hdd = obj(
            json!({"DeviceId": 2, "Model": "ST2000DM008-2FR102", "Size": "2000398934016",
            "MediaType": 3, "BusType": 11}),
        );
        assert_eq!(from_physical_disk(&hdd).unwrap().kind, DiskKind::Hdd);
        let usb = obj(
            json!({"DeviceId": "3", "Model": "SanDisk Ultra", "MediaType": 0,
            "BusType": 7, "Size": 30752636928u64}),
        );
        let d = from_physical_disk(&usb).unwrap();
        assert!(d.removable);
        assert_eq!(d.kind, DiskKind::Unknown);
        let vmware = obj(json!({"DeviceId": "0", "Model": "VMware Virtual disk",
            "Manufacturer": "VMware", "MediaType": 0, "BusType": 10}));
        assert_eq!(from_physical_disk(&vmware).unwrap().kind, DiskKind::Virtual);
        assert_eq!(from_physical_disk(&obj(json!({"Model": "x"}))), None);
    }

    #[test]
    fn disk_drives_guess_from_the_model() {
        let cases = [
            ("Samsung SSD 860 EVO 500GB", DiskKind::Ssd),
            ("KXG60ZNV512G NVMe TOSHIBA 512GB", DiskKind::Nvme),
            ("Red Hat VirtIO SCSI Disk Device", DiskKind::Virtual),
            ("Msft Virtual Disk", DiskKind::Virtual),
            ("Wine Disk Drive", DiskKind::Unknown),
            ("WDC WD10EZEX-08WN4A0", DiskKind::Unknown),
        ];
        for (model, kind) in cases {
            let d = from_disk_drive(&obj(json!({"Index": 1, "Model": model,
                "Manufacturer": "(Standard disk drives)", "MediaType": "Fixed hard disk media",
                "InterfaceType": "SCSI", "Size": "500105249280"})))
            .unwrap();
            assert_eq!((model, d.kind), (model, kind));
            assert_eq!(d.vendor, None);
            assert!(!d.removable);
            assert_eq!(d.size_bytes, 500_105_249_280);
        }
        let usb = obj(
            json!({"Index": 4, "Model": "USB Flash", "MediaType": "Removable Media",
            "InterfaceType": "USB"}),
        );
        assert!(from_disk_drive(&usb).unwrap().removable);
    }

    #[test]
    fn disks_come_in_device_order_once_each() {
        let list = vec![
            obj(json!({"Index": 1, "Model": "B"})),
            obj(json!({"Model": "no index"})),
            obj(json!({"Index": 0, "Model": "A"})),
            obj(json!({"Index": 1, "Model": "B again"})),
        ];
        let (disks, problems) = map(&list, &DISK_DRIVE, from_disk_drive);
        let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["PhysicalDrive0", "PhysicalDrive1"]);
        assert_eq!(
            problems,
            [r"WMI ROOT\CIMV2 Win32_DiskDrive: instance 1 has no device number; skipped"]
        );
    }
}
