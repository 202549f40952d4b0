//! `facts.storage`: the mounted filesystems and a summary over them.
//!
//! Free space is volatile: the stored inventory's values are as of its collection
//! (`data.inventory_age_days`), at most a day old for an agent that reports.

use estate_protocol::Filesystem;
use serde::Serialize;

use super::ratio;

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilesystemFact {
    /// Mount point.
    pub mount: String,
    /// Filesystem type (`ext4`, `xfs`, `ntfs`, ...).
    pub fs_type: String,
    /// Source device.
    pub device: String,
    /// Size, bytes.
    pub size_bytes: u64,
    /// Free bytes, including those reserved for root.
    pub free_bytes: u64,
    /// Bytes available to unprivileged users (what `df` calls Available).
    pub available_bytes: u64,
    /// `(size - free) / size`: what `df` shows as used, as a ratio of the size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_ratio: Option<f64>,
    /// `free / size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_ratio: Option<f64>,
    /// `available / size`: the space users can still write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_ratio: Option<f64>,
    /// Inodes in total (0 where the filesystem has no fixed inode table).
    pub inodes_total: u64,
    /// Free inodes.
    pub inodes_free: u64,
    /// `inodes_free / inodes_total`; absent without a fixed inode table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inodes_free_ratio: Option<f64>,
    /// Mounted read-only.
    pub read_only: bool,
}

/// The mounted filesystems, and a summary over the writable ones (read-only and
/// zero-sized ones are left out of the summary: they cannot fill up).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageFacts {
    /// Each mounted filesystem (pseudo, image and network filesystems are not listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystems: Option<Vec<FilesystemFact>>,
    /// Number of filesystems listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filesystem_count: Option<usize>,
    /// Total size of the writable filesystems, bytes (a device mounted twice counts once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
    /// The lowest `available_ratio` among writable filesystems.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available_ratio: Option<f64>,
    /// The mount point with that lowest ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available_mount: Option<String>,
    /// The lowest `inodes_free_ratio` among writable filesystems with an inode table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_inodes_free_ratio: Option<f64>,
    /// The mount point with that lowest inode ratio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_inodes_free_mount: Option<String>,
    /// `available_ratio` of `/` (or of `C:\` on Windows), where mounted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_available_ratio: Option<f64>,
}

fn fact(fs: &Filesystem) -> FilesystemFact {
    FilesystemFact {
        mount: fs.mount_point.clone(),
        fs_type: fs.fs_type.clone(),
        device: fs.device.clone(),
        size_bytes: fs.size_bytes,
        free_bytes: fs.free_bytes,
        available_bytes: fs.available_bytes,
        used_ratio: ratio(fs.size_bytes.saturating_sub(fs.free_bytes), fs.size_bytes),
        free_ratio: ratio(fs.free_bytes, fs.size_bytes),
        available_ratio: ratio(fs.available_bytes, fs.size_bytes),
        inodes_total: fs.inodes_total,
        inodes_free: fs.inodes_free,
        inodes_free_ratio: ratio(fs.inodes_free, fs.inodes_total),
        read_only: fs.read_only,
    }
}

fn filesystems(list: &[Filesystem]) -> Vec<FilesystemFact> {
    list.iter().map(fact).collect()
}

fn lowest(
    facts: &[FilesystemFact],
    value: impl Fn(&FilesystemFact) -> Option<f64>,
) -> Option<(f64, &str)> {
    facts
        .iter()
        .filter(|f| !f.read_only)
        .filter_map(|f| value(f).map(|v| (v, f.mount.as_str())))
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

pub(super) fn derive(list: Option<&[Filesystem]>) -> StorageFacts {
    let facts = list.map(filesystems).unwrap_or_default();
    let available = lowest(&facts, |f| f.available_ratio);
    let inodes = lowest(&facts, |f| f.inodes_free_ratio);
    let mut devices = std::collections::BTreeSet::new();
    let total = facts
        .iter()
        .filter(|f| !f.read_only && devices.insert(f.device.as_str()))
        .map(|f| f.size_bytes)
        .sum();
    StorageFacts {
        filesystem_count: list.map(<[_]>::len),
        total_bytes: list.map(|_| total),
        min_available_ratio: available.map(|(v, _)| v),
        min_available_mount: available.map(|(_, m)| m.to_owned()),
        min_inodes_free_ratio: inodes.map(|(v, _)| v),
        min_inodes_free_mount: inodes.map(|(_, m)| m.to_owned()),
        root_available_ratio: facts
            .iter()
            .find(|f| f.mount == "/" || f.mount.eq_ignore_ascii_case("C:\\"))
            .and_then(|f| f.available_ratio),
        filesystems: list.map(|_| facts),
    }
}
