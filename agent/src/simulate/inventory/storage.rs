//! The storage sections: disks and filesystems.

use estate_protocol::{Disk, DiskKind, Filesystem};

use super::Ctx;
use super::machine::GIB;
use crate::simulate::catalogue::{Hypervisor, Maker};
use crate::simulate::profile::{HostClass, Platform};

/// Sizes of the system disk and of a data disk, bytes.
fn disk_sizes(ctx: &Ctx<'_>) -> (u64, Option<u64>) {
    let p = ctx.p;
    let mut rng = ctx.rng(12);
    match p.class {
        HostClass::WindowsLaptop | HostClass::WindowsDesktop | HostClass::LinuxEndpoint => {
            let gb = if p.traits.neglected || p.os.year < 2019 {
                *rng.pick(&[128u64, 256]).unwrap_or(&256)
            } else {
                *rng.pick(&[256u64, 512, 512]).unwrap_or(&512)
            };
            (gb * 1_000_000_000, None)
        }
        HostClass::VirtualServer => {
            let system = if p.is_windows() { 100 } else { 40 } * GIB;
            let data = match p.role {
                "file-server" | "backup" => Some(rng.range_u64(1, 8) * 512 * GIB),
                "database" => Some(rng.range_u64(1, 8) * 128 * GIB),
                _ if rng.chance(0.4) => Some(rng.range_u64(1, 4) * 50 * GIB),
                _ => None,
            };
            (system, data)
        }
        HostClass::PhysicalServer => (
            480_103_981_056,
            Some(rng.range_u64(2, 12) * 1_200_000_000_000),
        ),
    }
}

/// `disks`: whole disks as the OS names them.
pub(crate) fn disks(ctx: &Ctx<'_>) -> Vec<Disk> {
    let p = ctx.p;
    let mut rng = ctx.rng(13);
    let (system, data) = disk_sizes(ctx);
    let windows = p.is_windows();
    let name = |i: usize, nvme: bool| {
        if windows {
            format!("PhysicalDrive{i}")
        } else if nvme {
            format!("nvme{i}n1")
        } else {
            format!("sd{}", char::from(b'a' + u8::try_from(i).unwrap_or(0)))
        }
    };
    let mut out = Vec::new();
    match p.platform {
        Platform::Virtual { cluster, .. } => {
            let (model, vendor) = match (cluster.hypervisor, windows) {
                (Hypervisor::Vmware, true) => ("VMware Virtual disk SCSI Disk Device", None),
                (Hypervisor::Vmware, false) => ("Virtual disk", Some("VMware")),
                (Hypervisor::HyperV, true) => ("Microsoft Virtual Disk", None),
                (Hypervisor::HyperV, false) => ("Virtual Disk", Some("Msft")),
            };
            for (i, size) in std::iter::once(system).chain(data).enumerate() {
                out.push(Disk {
                    name: name(i, false),
                    model: Some(model.to_owned()),
                    vendor: vendor.map(str::to_owned),
                    serial: None,
                    size_bytes: size,
                    kind: DiskKind::Virtual,
                    removable: false,
                });
            }
        }
        Platform::Physical(model) if p.class == HostClass::PhysicalServer => {
            let (controller, vendor) = match model.maker {
                Maker::Hp => ("LOGICAL VOLUME", "HPE"),
                _ if model.year >= 2018 => ("PERC H740P Mini", "DELL"),
                _ => ("PERC H730P Mini", "DELL"),
            };
            out.push(Disk {
                name: name(0, false),
                model: Some(controller.to_owned()),
                vendor: (!windows).then(|| vendor.to_owned()),
                serial: Some(rng.hex(16)),
                size_bytes: system,
                kind: DiskKind::Ssd,
                removable: false,
            });
            if let Some(data) = data {
                out.push(Disk {
                    name: name(1, false),
                    model: Some(controller.to_owned()),
                    vendor: (!windows).then(|| vendor.to_owned()),
                    serial: Some(rng.hex(16)),
                    size_bytes: data,
                    kind: DiskKind::Hdd,
                    removable: false,
                });
            }
        }
        Platform::Physical(model) => {
            let (nvme, kind, model_name) = if model.year >= 2018 {
                let name = *rng
                    .pick(&[
                        "SAMSUNG MZVLB512HBJQ-000L7",
                        "KXG60ZNV512G KIOXIA",
                        "PC SN730 NVMe WDC 512GB",
                        "SK hynix PC711 HFS512GDE9X073N",
                    ])
                    .unwrap_or(&"SAMSUNG MZVLB512HBJQ-000L7");
                (true, DiskKind::Nvme, name)
            } else if model.year >= 2016 {
                (false, DiskKind::Ssd, "SAMSUNG MZ7LN256HMJP-000H1")
            } else {
                (false, DiskKind::Hdd, "ST500LM021-1KJ152")
            };
            out.push(Disk {
                name: name(0, nvme),
                model: Some(model_name.to_owned()),
                vendor: None,
                serial: Some(rng.hex(8).to_ascii_uppercase()),
                size_bytes: system,
                kind,
                removable: false,
            });
        }
    }
    out
}

/// Available ratio of a filesystem: comfortable, or nearly full where the trait says so.
fn available_ratio(ctx: &Ctx<'_>, mount: usize) -> f64 {
    let mut rng = ctx.rng(14 + mount as u64);
    let mut volatile = ctx.volatile_rng(14 + mount as u64);
    let base = if ctx.p.traits.disk_nearly_full && mount == 0 {
        rng.range_f64(0.003, 0.04)
    } else {
        rng.range_f64(0.15, 0.75)
    };
    (base * (1.0 + 0.01 * volatile.normalish())).clamp(0.0, 1.0)
}

/// `filesystems`.
pub(crate) fn filesystems(ctx: &Ctx<'_>) -> Vec<Filesystem> {
    let p = ctx.p;
    let (system, data) = disk_sizes(ctx);
    let mut out = Vec::new();
    let push = |out: &mut Vec<Filesystem>,
                mount: &str,
                fs: &str,
                device: &str,
                size: u64,
                index: usize| {
        let ratio = available_ratio(ctx, index);
        let available = (size as f64 * ratio) as u64;
        let windows = p.is_windows();
        // ext4 reserves 5 % for root; NTFS and XFS reserve nothing visible.
        let free = if fs == "ext4" {
            (available + size / 20).min(size)
        } else {
            available
        };
        let inodes_total = if windows || fs == "vfat" {
            0
        } else {
            size / 16_384
        };
        out.push(Filesystem {
            mount_point: mount.to_owned(),
            fs_type: fs.to_owned(),
            device: device.to_owned(),
            size_bytes: size,
            free_bytes: free,
            available_bytes: available,
            inodes_total,
            inodes_free: (inodes_total as f64 * (0.5 + ratio / 2.0)) as u64,
            read_only: false,
        });
    };
    if p.is_windows() {
        let label = match p.platform {
            Platform::Physical(model) if model.maker == Maker::Dell => "OS",
            _ => "Windows",
        };
        push(&mut out, "C:\\", "NTFS", label, system - 600 * (1 << 20), 0);
        if let Some(data) = data {
            push(&mut out, "D:\\", "NTFS", "Data", data, 1);
        }
        return out;
    }
    let rpm = p.os.packages == crate::simulate::catalogue::PackageFormat::Rpm;
    let (disk, part) = match p.platform {
        Platform::Physical(_) if !p.class.is_server() => ("/dev/nvme0n1", "p"),
        _ => ("/dev/sda", ""),
    };
    let root_fs = if rpm { "xfs" } else { "ext4" };
    let separate_boot = rpm || p.traits.encrypted;
    // Partitions in order: EFI system partition, /boot, then the root.
    let efi_part = 1;
    let boot_part = if p.traits.uefi { 2 } else { 1 };
    let root_part = boot_part + u32::from(separate_boot);
    let root_device = if p.traits.encrypted {
        "/dev/mapper/luks-root".to_owned()
    } else if rpm {
        format!(
            "/dev/mapper/{}-root",
            if p.os.id == "rocky" { "rl" } else { p.os.id }
        )
    } else {
        format!("{disk}{part}{root_part}")
    };
    let boot_size = 1_063_256_064;
    let efi_size = 627_875_840;
    push(
        &mut out,
        "/",
        root_fs,
        &root_device,
        system - boot_size - efi_size,
        0,
    );
    if separate_boot {
        let device = format!("{disk}{part}{boot_part}");
        push(
            &mut out,
            "/boot",
            if rpm { "xfs" } else { "ext4" },
            &device,
            boot_size,
            2,
        );
    }
    if p.traits.uefi {
        push(
            &mut out,
            "/boot/efi",
            "vfat",
            &format!("{disk}{part}{efi_part}"),
            efi_size,
            3,
        );
    }
    if let Some(data) = data {
        let mount = match p.role {
            "database" if rpm => "/var/lib/pgsql",
            "database" => "/var/lib/postgresql",
            "file-server" => "/srv/samba",
            "backup" => "/srv/backup",
            _ => "/srv",
        };
        push(&mut out, mount, "xfs", "/dev/sdb1", data, 1);
    }
    out.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    out
}
