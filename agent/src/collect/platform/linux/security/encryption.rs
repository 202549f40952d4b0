//! Disk encryption of mounted block-device filesystems.
//!
//! A mount is encrypted when its device is a dm-crypt mapping (`/sys/block/dm-N/dm/uuid`
//! starts with `CRYPT-`) or every device it sits on (`slaves/`, followed down through
//! LVM and other device-mapper layers) is. Mounts come from `/proc/self/mountinfo`;
//! pseudo filesystems, loop, ram and zram devices are left out. This module owns that
//! walk; it reads through the root only.

use estate_protocol::{DiskEncryption, Known};

use crate::collect::platform::storage::parse_mountinfo_line;
use crate::root::SysRoot;

/// The mount table.
pub const MOUNTINFO: &str = "/proc/self/mountinfo";
/// How deep the device stack is followed (dm over dm over ...).
const MAX_DEPTH: usize = 8;

/// One mount: (mount point, device number `MAJ:MIN`, source), parsed by the
/// filesystems collector's mountinfo parser.
fn mounts(text: &str) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mount = parse_mountinfo_line(line)
            .ok_or_else(|| format!("{MOUNTINFO}:{}: not a mountinfo line: `{line}`", index + 1))?;
        out.push((mount.mount_point, mount.dev, mount.source));
    }
    Ok(out)
}

/// Whether a mount source is a block device this check is about.
fn is_block_source(source: &str) -> bool {
    let Some(name) = source.strip_prefix("/dev/") else {
        return false;
    };
    !["loop", "ram", "zram", "sr", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// The kernel name (`dm-0`, `nvme0n1p2`) of a mount's device.
fn kernel_name(root: &SysRoot, source: &str, dev: &str) -> Option<String> {
    let name = source.strip_prefix("/dev/")?;
    if let Some(mapped) = name.strip_prefix("mapper/") {
        for dm in root.read_dir("/sys/block").ok()? {
            if dm.starts_with("dm-")
                && root
                    .read_attr(&format!("/sys/block/{dm}/dm/name"))
                    .ok()?
                    .as_deref()
                    == Some(mapped)
            {
                return Some(dm);
            }
        }
    } else if !name.contains('/') {
        if root.exists(&format!("/sys/block/{name}"))
            || root.exists(&format!("/sys/class/block/{name}"))
        {
            return Some(name.to_owned());
        }
        for disk in root.read_dir("/sys/block").unwrap_or_default() {
            if root.exists(&format!("/sys/block/{disk}/{name}")) {
                return Some(name.to_owned());
            }
        }
    }
    let link = root.read_link(&format!("/sys/dev/block/{dev}")).ok()?;
    link.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The sysfs directory of a block device (whole disks and dm devices live in
/// `/sys/block`; partitions only in `/sys/class/block`).
fn sys_dir(root: &SysRoot, name: &str) -> Option<String> {
    ["/sys/block", "/sys/class/block"]
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| root.exists(p))
}

fn is_encrypted(root: &SysRoot, name: &str, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(dir) = sys_dir(root, name) else {
        return false;
    };
    if let Ok(Some(uuid)) = root.read_attr(&format!("{dir}/dm/uuid"))
        && uuid.starts_with("CRYPT-")
    {
        return true;
    }
    let slaves = root.read_dir(&format!("{dir}/slaves")).unwrap_or_default();
    !slaves.is_empty() && slaves.iter().all(|s| is_encrypted(root, s, depth + 1))
}

/// Encrypted and unencrypted mount points of block-device filesystems.
pub fn disk_encryption(root: &SysRoot, problems: &mut Vec<String>) -> Known<DiskEncryption> {
    let text = match root.read_to_string(MOUNTINFO) {
        Ok(text) => text,
        Err(err) => return Known::unknown(err.to_string()),
    };
    let mounts = match mounts(&text) {
        Ok(m) => m,
        Err(why) => return Known::unknown(why),
    };
    let mut value = DiskEncryption {
        encrypted_mounts: Vec::new(),
        unencrypted_mounts: Vec::new(),
    };
    for (point, dev, source) in mounts {
        if !is_block_source(&source)
            || value.encrypted_mounts.contains(&point)
            || value.unencrypted_mounts.contains(&point)
        {
            continue;
        }
        let Some(name) = kernel_name(root, &source, &dev) else {
            problems.push(format!(
                "{MOUNTINFO}: device {source} ({dev}) of {point} not found under /sys/block"
            ));
            continue;
        };
        if is_encrypted(root, &name, 0) {
            value.encrypted_mounts.push(point);
        } else {
            value.unencrypted_mounts.push(point);
        }
    }
    Known::Known { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_and_escapes() {
        let text = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    40 27 8:1 / /srv/my\\040data rw shared:3 - xfs /dev/sda1 rw\n";
        assert_eq!(
            mounts(text).unwrap(),
            vec![
                ("/".to_owned(), "254:0".to_owned(), "/dev/vda".to_owned()),
                (
                    "/srv/my data".to_owned(),
                    "8:1".to_owned(),
                    "/dev/sda1".to_owned()
                ),
            ]
        );
        assert_eq!(
            mounts("garbage\n").unwrap_err(),
            "/proc/self/mountinfo:1: not a mountinfo line: `garbage`"
        );
        assert!(is_block_source("/dev/mapper/luks-root"));
        assert!(!is_block_source("/dev/loop3"));
        assert!(!is_block_source("tmpfs"));
    }
}
