//! Block devices and filesystems.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A block device (a whole disk, not a partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Kernel name (e.g. `sda`, `nvme0n1`, `vda`).
    pub name: String,
    /// Model string, where the device gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Vendor string, where the device gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Serial number, where readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Capacity, bytes.
    pub size_bytes: u64,
    /// Media kind.
    pub kind: DiskKind,
    /// Whether the device is removable media.
    pub removable: bool,
}

/// Media kinds (what the power model distinguishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiskKind {
    /// Spinning disk (`rotational` = 1).
    Hdd,
    /// SATA/SAS solid-state disk (`rotational` = 0).
    Ssd,
    /// NVMe solid-state disk.
    Nvme,
    /// A virtual disk whose media cannot be known from inside the guest.
    Virtual,
    /// Not known.
    Unknown,
}

/// A mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// Mount point.
    pub mount_point: String,
    /// Filesystem type (e.g. `ext4`, `xfs`, `ntfs`).
    pub fs_type: String,
    /// Source device (e.g. `/dev/mapper/vg0-root`).
    pub device: String,
    /// Size, bytes (what `df -B1` shows as `1B-blocks`).
    pub size_bytes: u64,
    /// Free bytes including those reserved for root (volatile).
    pub free_bytes: u64,
    /// Bytes available to unprivileged users (what `df` shows as `Available`; volatile).
    pub available_bytes: u64,
    /// Inodes in total (0 where the filesystem has no fixed inode table).
    pub inodes_total: u64,
    /// Free inodes (volatile).
    pub inodes_free: u64,
    /// Mounted read-only.
    pub read_only: bool,
}
