//! Block devices (`/sys/block`) and mounted filesystems (see [`FilesystemsCollector`]).
//!
//! This file owns which block devices count as disks and what media they are. It
//! reports whole disks only: partitions live below their disk in sysfs and are never
//! listed in `/sys/block`, and the virtual block layers stacked on top of disks
//! (device mapper, software RAID, loop, RAM disks) are skipped, so every byte of
//! physical (or hypervisor-provided) storage is counted once. It must not guess: a
//! value the kernel does not give is left out, not invented.

mod filesystems;

use std::io;

use estate_protocol::{Disk, DiskKind};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

pub use filesystems::{FilesystemsCollector, PSEUDO_FS_TYPES, is_pseudo_fs, parse_mountinfo_line};

/// Where the kernel lists whole block devices.
const SYS_BLOCK: &str = "/sys/block";

/// Block devices that are not disks, by name prefix, skipped:
///
/// - `loop`, `ram`, `zram`: memory- or file-backed block devices;
/// - `dm-`, `md`: device-mapper (LVM, dm-crypt, multipath) and software RAID, stacked
///   on disks that are reported themselves — counting both would count capacity twice;
/// - `nbd`: network block devices, whose media is on another host;
/// - `fd`: legacy floppy drives.
///
/// A device without a `device` link in sysfs is skipped as well: that is how the kernel
/// marks a purely virtual block device, whatever its name.
pub const SKIPPED_PREFIXES: &[&str] = &["loop", "ram", "zram", "dm-", "md", "nbd", "fd"];

/// Collects whole block devices from `/sys/block`.
#[derive(Debug)]
pub struct DisksCollector;

impl Collector for DisksCollector {
    fn name(&self) -> &'static str {
        "disks"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let (disks, problems) = collect_disks(&ctx.root)?;
        Ok(Collected::partial(Section::Disks(disks), problems))
    }
}

/// Reads every whole disk under `/sys/block`. Fails only when `/sys/block` itself
/// cannot be listed; a disk whose size cannot be read is left out and named in the
/// problems.
pub fn collect_disks(root: &SysRoot) -> Result<(Vec<Disk>, Vec<String>), CollectError> {
    let mut disks = Vec::new();
    let mut problems = Vec::new();
    for name in root.read_dir(SYS_BLOCK)? {
        if SKIPPED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let base = format!("{SYS_BLOCK}/{name}");
        if !has_link(root, &format!("{base}/device")) {
            continue;
        }
        if let Some(disk) = read_disk(root, &name, &base, &mut problems) {
            disks.push(disk);
        }
    }
    Ok((disks, problems))
}

fn read_disk(root: &SysRoot, name: &str, base: &str, problems: &mut Vec<String>) -> Option<Disk> {
    let size_path = format!("{base}/size");
    let sectors = match root.read_attr(&size_path) {
        Ok(Some(text)) => match text.parse::<u64>() {
            Ok(sectors) => sectors,
            Err(_) => {
                problems.push(format!(
                    "{size_path}: not a sector count: {text:?}; disk {name} left out"
                ));
                return None;
            }
        },
        Ok(None) => {
            problems.push(format!(
                "{size_path}: missing or empty; disk {name} left out"
            ));
            return None;
        }
        Err(err) => {
            problems.push(format!("{err}; disk {name} left out"));
            return None;
        }
    };
    let removable = attr(root, &format!("{base}/removable"), problems).as_deref() == Some("1");
    // An optical drive or card reader with no medium in it: nothing to inventory.
    if sectors == 0 && (removable || name.starts_with("sr")) {
        return None;
    }
    let model = attr(root, &format!("{base}/device/model"), problems);
    let vendor =
        attr(root, &format!("{base}/device/vendor"), problems).filter(|v| is_vendor_name(v));
    let rotational_path = format!("{base}/queue/rotational");
    let rotational = match attr(root, &rotational_path, problems).as_deref() {
        Some("1") => Some(true),
        Some("0") => Some(false),
        Some(other) => {
            problems.push(format!(
                "{rotational_path}: expected 0 or 1, found {other:?}"
            ));
            None
        }
        None => None,
    };
    Some(Disk {
        name: name.to_owned(),
        kind: disk_kind(name, model.as_deref(), vendor.as_deref(), rotational),
        serial: serial(root, base, problems),
        model,
        vendor,
        size_bytes: sectors.saturating_mul(512),
        removable,
    })
}

/// The media kind: a hypervisor's disk is `virtual` (whatever `rotational` says: virtio
/// disks claim to spin), else NVMe by name, else HDD/SSD from `queue/rotational`.
pub fn disk_kind(
    name: &str,
    model: Option<&str>,
    vendor: Option<&str>,
    rotational: Option<bool>,
) -> DiskKind {
    let marked = crate::collect::platform::virtual_disk_marked;
    if name.starts_with("vd") || name.starts_with("xvd") || marked(model) || marked(vendor) {
        DiskKind::Virtual
    } else if name.starts_with("nvme") {
        DiskKind::Nvme
    } else {
        match rotational {
            Some(true) => DiskKind::Hdd,
            Some(false) => DiskKind::Ssd,
            None => DiskKind::Unknown,
        }
    }
}

/// Whether a sysfs `vendor` string names a vendor. libata reports every SATA disk as
/// vendor `ATA`, and virtio gives its PCI vendor id (`0x1af4`): neither says who made
/// the disk.
fn is_vendor_name(vendor: &str) -> bool {
    vendor != "ATA" && !vendor.starts_with("0x")
}

/// The serial number, from the first source that has one: the device's `serial`
/// (NVMe controllers, some USB), the disk's own `serial` (virtio), the SCSI unit
/// serial number page (`device/vpd_pg80`, SAS and SATA behind SCSI), then a WWID
/// (`wwid` of an NVMe namespace, `device/wwid` of a SCSI disk).
fn serial(root: &SysRoot, base: &str, problems: &mut Vec<String>) -> Option<String> {
    if let Some(serial) = attr(root, &format!("{base}/device/serial"), problems) {
        return Some(serial);
    }
    if let Some(serial) = attr(root, &format!("{base}/serial"), problems) {
        return Some(serial);
    }
    let vpd_path = format!("{base}/device/vpd_pg80");
    match root.read(&vpd_path) {
        Ok(bytes) => {
            if let Some(serial) = parse_vpd_pg80(&bytes) {
                return Some(serial);
            }
        }
        Err(err) if err.is_not_found() => {}
        Err(err) => problems.push(err.to_string()),
    }
    attr(root, &format!("{base}/wwid"), problems)
        .or_else(|| attr(root, &format!("{base}/device/wwid"), problems))
}

/// The serial number in a SCSI VPD page 0x80 (Unit Serial Number): a 4-byte header
/// (peripheral, page code 0x80, big-endian length) then the ASCII serial.
pub fn parse_vpd_pg80(bytes: &[u8]) -> Option<String> {
    if bytes.len() < 4 || bytes[1] != 0x80 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    let body = bytes.get(4..4 + len)?;
    let text = String::from_utf8_lossy(body);
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty() && text.chars().all(|c| c.is_ascii_graphic() || c == ' '))
        .then(|| text.to_owned())
}

/// An optional attribute: missing is `None`; any other read error is recorded.
fn attr(root: &SysRoot, path: &str, problems: &mut Vec<String>) -> Option<String> {
    match root.read_attr(path) {
        Ok(value) => value,
        Err(err) => {
            problems.push(err.to_string());
            None
        }
    }
}

/// Whether a sysfs link (or directory) exists; a link is enough, its target need not
/// resolve (recorded sysroots keep sysfs links but not their targets).
fn has_link(root: &SysRoot, path: &str) -> bool {
    match root.read_link(path) {
        Ok(_) => true,
        Err(err) if err.source.kind() == io::ErrorKind::NotFound => false,
        Err(_) => root.exists(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, write};

    fn disks(c: &Context) -> (Vec<Disk>, Vec<String>) {
        let collected = DisksCollector.collect(c).unwrap();
        match collected.section {
            Section::Disks(d) => (d, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    #[test]
    fn dell_reports_nvme_and_sas_disks_but_not_dm_loop_or_empty_optical() {
        let (disks, problems) = disks(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            disks,
            vec![
                Disk {
                    name: "nvme0n1".into(),
                    model: Some("Dell Ent NVMe AGN MU U.2 1.6TB".into()),
                    vendor: None,
                    serial: Some("S61DNA0R701234".into()),
                    size_bytes: 1_600_321_314_816,
                    kind: DiskKind::Nvme,
                    removable: false,
                },
                Disk {
                    name: "sda".into(),
                    model: Some("ST2400MM0129".into()),
                    vendor: Some("SEAGATE".into()),
                    serial: Some("WBN1K2QX0000K951A3F2".into()),
                    size_bytes: 2_400_476_553_216,
                    kind: DiskKind::Hdd,
                    removable: false,
                },
                Disk {
                    name: "sdb".into(),
                    model: Some("ST2400MM0129".into()),
                    vendor: Some("SEAGATE".into()),
                    serial: Some("WBN1K3RB0000K951C7D0".into()),
                    size_bytes: 2_400_476_553_216,
                    kind: DiskKind::Hdd,
                    removable: false,
                },
            ]
        );
    }

    #[test]
    fn debian_vm_reports_the_virtio_disk_as_virtual() {
        let (disks, problems) = disks(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            disks,
            vec![Disk {
                name: "vda".into(),
                model: None,
                vendor: None,
                serial: Some("bd2f4a9c-6e1b-4c7d".into()),
                size_bytes: 68_719_476_736,
                kind: DiskKind::Virtual,
                removable: false,
            }]
        );
    }

    #[test]
    fn kinds_follow_hypervisor_models_then_name_then_rotational() {
        use DiskKind::*;
        assert_eq!(
            disk_kind("sda", Some("QEMU HARDDISK"), Some("QEMU"), Some(true)),
            Virtual
        );
        assert_eq!(
            disk_kind("sda", Some("Virtual disk"), Some("VMware"), Some(true)),
            Virtual
        );
        assert_eq!(
            disk_kind("sda", Some("Virtual Disk"), Some("Msft"), Some(true)),
            Virtual
        );
        assert_eq!(disk_kind("xvda", None, None, Some(false)), Virtual);
        assert_eq!(
            disk_kind(
                "nvme1n1",
                Some("Amazon Elastic Block Store"),
                None,
                Some(false)
            ),
            Virtual
        );
        assert_eq!(
            disk_kind("nvme0n1", Some("Samsung SSD 980"), None, Some(false)),
            Nvme
        );
        assert_eq!(
            disk_kind("sda", Some("Samsung SSD 860"), None, Some(false)),
            Ssd
        );
        assert_eq!(
            disk_kind("sdb", Some("ST4000NM0035"), None, Some(true)),
            Hdd
        );
        assert_eq!(disk_kind("mmcblk0", None, None, None), Unknown);
    }

    #[test]
    fn vpd_page_80_serials_are_read_and_garbage_is_refused() {
        let mut page = vec![0x00, 0x80, 0x00, 0x0a];
        page.extend_from_slice(b"  ZA1B2C3D");
        assert_eq!(parse_vpd_pg80(&page).as_deref(), Some("ZA1B2C3D"));
        assert_eq!(parse_vpd_pg80(&[0x00, 0x83, 0x00, 0x02, b'a', b'b']), None);
        assert_eq!(parse_vpd_pg80(&[0x00, 0x80, 0x00, 0x20, b'a']), None);
        assert_eq!(parse_vpd_pg80(&[0x00, 0x80]), None);
    }

    #[test]
    fn sata_and_virtio_vendor_placeholders_are_dropped() {
        assert!(!is_vendor_name("ATA"));
        assert!(!is_vendor_name("0x1af4"));
        assert!(is_vendor_name("SEAGATE"));
    }

    #[test]
    fn missing_sys_block_is_a_read_error_naming_it() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/sys/block");
        let err = DisksCollector.collect(&ctx_at(dir.path())).unwrap_err();
        assert!(err.to_string().starts_with("/sys/block: "), "{err}");
    }

    #[test]
    fn garbage_or_missing_size_leaves_the_disk_out_and_names_the_file() {
        let dir = broken_copy(DELL);
        write(dir.path(), "/sys/block/sda/size", b"lots\n");
        remove(dir.path(), "/sys/block/sdb/size");
        let (disks, problems) = disks(&ctx_at(dir.path()));
        let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["nvme0n1"]);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("/sys/block/sda/size: not a sector count"));
        assert!(problems[1].starts_with("/sys/block/sdb/size: missing"));
    }

    #[test]
    fn garbage_rotational_gives_unknown_media_and_a_problem() {
        let dir = broken_copy(DELL);
        write(
            dir.path(),
            "/sys/block/sdb/queue/rotational",
            b"\x00\xffspin\n",
        );
        let (disks, problems) = disks(&ctx_at(dir.path()));
        assert_eq!(disks[2].kind, DiskKind::Unknown);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("/sys/block/sdb/queue/rotational: expected 0 or 1"));
    }

    #[test]
    fn an_optical_drive_with_a_medium_is_reported() {
        let dir = broken_copy(DELL);
        write(dir.path(), "/sys/block/sr0/size", b"1302528\n");
        let (disks, _) = disks(&ctx_at(dir.path()));
        let sr0 = disks.iter().find(|d| d.name == "sr0").unwrap();
        assert!(sr0.removable);
        assert_eq!(sr0.size_bytes, 1_302_528 * 512);
        assert_eq!(sr0.model.as_deref(), Some("Virtual CD"));
    }

    #[test]
    fn live_disks_match_sysfs_sizes() {
        let live = crate::collect::Context::new(
            SysRoot::default(),
            std::sync::Arc::new(crate::config::AgentConfig::default()),
        );
        if !std::path::Path::new("/sys/block").exists() {
            return;
        }
        let (disks, _) = disks(&live);
        for disk in &disks {
            let sectors: u64 = std::fs::read_to_string(format!("/sys/block/{}/size", disk.name))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert_eq!(disk.size_bytes, sectors * 512, "{}", disk.name);
            assert!(!disk.name.starts_with("loop") && !disk.name.starts_with("dm-"));
        }
    }
}
