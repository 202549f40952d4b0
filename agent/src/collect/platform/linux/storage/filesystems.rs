//! Mounted filesystems with capacity: `/proc/self/mountinfo` (else `/proc/mounts`)
//! and `statvfs` of each mount point.
//!
//! This file owns which mounts count (pseudo, image and network filesystems do not)
//! and the arithmetic, which is `df -B1`'s: size = `f_blocks × f_frsize`, free =
//! `f_bfree × f_frsize`, available = `f_bavail × f_frsize`. It must not stat a
//! network filesystem: `statvfs` on an unreachable NFS server blocks indefinitely.

use std::collections::HashSet;
use std::io;

use estate_protocol::Filesystem;

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::{ReadError, SysRoot};

const MOUNTINFO: &str = "/proc/self/mountinfo";
const MOUNTS: &str = "/proc/mounts";

/// Filesystem types that hold no capacity of the host's own and are left out:
///
/// - kernel interfaces (`proc`, `sysfs`, `cgroup*`, `debugfs`, ...);
/// - memory-backed filesystems (`tmpfs`, `devtmpfs`, `ramfs`): their "size" is a
///   limit on RAM already counted as memory, not storage;
/// - `squashfs`: read-only images (snaps, live media), always full;
/// - `autofs`: a trigger, the real filesystem is mounted over it when used;
/// - network filesystems (`nfs*`, `cifs`, `smb3`, `ceph`, `glusterfs`, `9p`, ...):
///   another host's capacity, and `statvfs` on them can hang.
///
/// `overlay` is left out too, except when mounted at `/` (a container's root), and
/// every FUSE filesystem (`fuse`, `fuse.*`) except `fuseblk`, the block-backed one
/// (`ntfs-3g`, `exfat-fuse`).
pub const PSEUDO_FS_TYPES: &[&str] = &[
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "fusectl",
    "hugetlbfs",
    "mqueue",
    "nsfs",
    "proc",
    "pstore",
    "ramfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "nfsd",
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "ceph",
    "glusterfs",
    "9p",
    "afs",
    "lustre",
    "zonefs",
];

/// Whether a mount of `fs_type` at `mount_point` is left out (see [`PSEUDO_FS_TYPES`]).
pub fn is_pseudo_fs(fs_type: &str, mount_point: &str) -> bool {
    if fs_type == "overlay" {
        return mount_point != "/";
    }
    if fs_type == "fuse" || fs_type.starts_with("fuse.") {
        return true;
    }
    PSEUDO_FS_TYPES.contains(&fs_type)
}

/// Collects mounted filesystems and their capacity.
#[derive(Debug)]
pub struct FilesystemsCollector;

impl Collector for FilesystemsCollector {
    fn name(&self) -> &'static str {
        "filesystems"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let (filesystems, problems) = collect_filesystems(&ctx.root)?;
        Ok(Collected::partial(
            Section::Filesystems(filesystems),
            problems,
        ))
    }
}

/// One line of the mount table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the device (empty when read from `/proc/mounts`).
    pub dev: String,
    /// Path inside the filesystem that is mounted (`/` unless a bind of a subtree).
    pub root: String,
    /// Mount point, unescaped.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Mount source, unescaped (e.g. `/dev/vda1`).
    pub source: String,
    /// Whether the mount or its superblock is read-only.
    pub read_only: bool,
}

/// A parser of one mount table line.
type LineParser = fn(&str) -> Option<Mount>;

/// Mounted filesystems, sorted by mount point. Fails only when neither mount table
/// can be read or the one read has no valid line; a bad line or a mount whose
/// `statvfs` fails is named in the problems.
pub fn collect_filesystems(root: &SysRoot) -> Result<(Vec<Filesystem>, Vec<String>), CollectError> {
    let (path, text, parse): (&str, String, LineParser) = match root.read_optional(MOUNTINFO)? {
        Some(text) => (MOUNTINFO, text, parse_mountinfo_line),
        None => match root.read_optional(MOUNTS)? {
            Some(text) => (MOUNTS, text, parse_mounts_line),
            None => {
                return Err(CollectError::Read(ReadError {
                    path: MOUNTINFO.to_owned(),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("no such file, nor {MOUNTS}"),
                    ),
                }));
            }
        },
    };
    let mut problems = Vec::new();
    let mut mounts = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse(line) {
            Some(mount) => mounts.push(mount),
            None => problems.push(format!(
                "{path}: line {}: not a mount entry: {:?}",
                index + 1,
                truncate(line, 80)
            )),
        }
    }
    if mounts.is_empty() {
        return Err(CollectError::parse(path, "no mount entries"));
    }
    let mut filesystems = Vec::new();
    for mount in select(mounts) {
        let stats = match root.statvfs(&mount.mount_point) {
            Ok(stats) => stats,
            Err(err) => {
                problems.push(format!("statvfs {err}"));
                continue;
            }
        };
        // What `df` calls a dummy filesystem: nothing to measure.
        if stats.blocks == 0 {
            continue;
        }
        let bytes = |blocks: u64| blocks.saturating_mul(stats.fragment_size);
        filesystems.push(Filesystem {
            device: device_name(root, &mount),
            mount_point: mount.mount_point,
            fs_type: mount.fs_type,
            size_bytes: bytes(stats.blocks),
            free_bytes: bytes(stats.blocks_free),
            available_bytes: bytes(stats.blocks_available),
            inodes_total: stats.files,
            inodes_free: stats.files_free,
            read_only: mount.read_only,
        });
    }
    filesystems.sort_by(|a, b| a.mount_point.cmp(&b.mount_point));
    Ok((filesystems, problems))
}

/// The mounts worth measuring, in mount order: a mount hidden by a later mount at the
/// same point is dropped (`statvfs` would see the later one), pseudo filesystems are
/// dropped, and of several mounts of the same device and subtree (bind mounts) only
/// the first is kept. From `/proc/mounts`, which lacks device numbers and subtrees,
/// mounts of the same source are treated as one.
pub fn select(mounts: Vec<Mount>) -> Vec<Mount> {
    let mut visible: Vec<Mount> = Vec::with_capacity(mounts.len());
    for mount in mounts {
        visible.retain(|m| m.mount_point != mount.mount_point);
        visible.push(mount);
    }
    let mut seen = HashSet::new();
    visible
        .into_iter()
        .filter(|m| !is_pseudo_fs(&m.fs_type, &m.mount_point))
        .filter(|m| {
            let key = if m.dev.is_empty() {
                (m.source.clone(), String::new())
            } else {
                (m.dev.clone(), m.root.clone())
            };
            seen.insert(key)
        })
        .collect()
}

/// The device to report: the mount source, except the kernel's `/dev/root` alias,
/// which is resolved to the real device through `/sys/dev/block/MAJOR:MINOR`.
fn device_name(root: &SysRoot, mount: &Mount) -> String {
    if mount.source == "/dev/root"
        && !mount.dev.is_empty()
        && let Ok(target) = root.read_link(&format!("/sys/dev/block/{}", mount.dev))
        && let Some(name) = target.file_name()
    {
        return format!("/dev/{}", name.to_string_lossy());
    }
    mount.source.clone()
}

/// Parses one line of `/proc/<pid>/mountinfo` (see proc(5)):
/// `ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS`.
pub fn parse_mountinfo_line(line: &str) -> Option<Mount> {
    let (before, after) = line.split_once(" - ")?;
    let mut left = before.split(' ');
    let _id = left.next()?;
    let _parent = left.next()?;
    let dev = left.next()?;
    let root = left.next()?;
    let mount_point = left.next()?;
    let options = left.next()?;
    if !dev.contains(':') || !mount_point.starts_with('/') {
        return None;
    }
    let mut right = after.split(' ');
    let fs_type = right.next().filter(|t| !t.is_empty())?;
    let source = right.next()?;
    let super_options = right.next()?;
    Some(Mount {
        dev: dev.to_owned(),
        root: unescape(root),
        mount_point: unescape(mount_point),
        fs_type: fs_type.to_owned(),
        source: unescape(source),
        read_only: has_ro(options) || has_ro(super_options),
    })
}

/// Parses one line of `/proc/mounts` (fstab format):
/// `SOURCE MOUNT_POINT FSTYPE OPTIONS DUMP PASS`.
pub fn parse_mounts_line(line: &str) -> Option<Mount> {
    let fields: Vec<&str> = line.split(' ').collect();
    if fields.len() != 6 || !fields[1].starts_with('/') || fields[2].is_empty() {
        return None;
    }
    Some(Mount {
        dev: String::new(),
        root: "/".to_owned(),
        mount_point: unescape(fields[1]),
        fs_type: fields[2].to_owned(),
        source: unescape(fields[0]),
        read_only: has_ro(fields[3]),
    })
}

fn has_ro(options: &str) -> bool {
    options.split(',').any(|o| o == "ro")
}

/// Decodes the kernel's octal escapes in mount table fields (`\040` space, `\011` tab,
/// `\012` newline, `\134` backslash).
pub fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_owned();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truncate(line: &str, max: usize) -> &str {
    match line.char_indices().nth(max) {
        Some((at, _)) => &line[..at],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };

    fn filesystems(c: &Context) -> (Vec<Filesystem>, Vec<String>) {
        let collected = FilesystemsCollector.collect(c).unwrap();
        match collected.section {
            Section::Filesystems(f) => (f, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fs(
        mount_point: &str,
        fs_type: &str,
        device: &str,
        frsize: u64,
        blocks: u64,
        bfree: u64,
        bavail: u64,
        files: u64,
        ffree: u64,
    ) -> Filesystem {
        Filesystem {
            mount_point: mount_point.into(),
            fs_type: fs_type.into(),
            device: device.into(),
            size_bytes: blocks * frsize,
            free_bytes: bfree * frsize,
            available_bytes: bavail * frsize,
            inodes_total: files,
            inodes_free: ffree,
            read_only: false,
        }
    }

    #[test]
    fn dell_filesystems_are_the_real_mounts_once_each() {
        let (got, problems) = filesystems(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        let efi = fs(
            "/boot/efi",
            "vfat",
            "/dev/nvme0n1p1",
            4096,
            153_290,
            151_482,
            151_482,
            0,
            0,
        );
        assert_eq!(
            got,
            vec![
                fs(
                    "/",
                    "xfs",
                    "/dev/mapper/luks-root",
                    4096,
                    390_165_504,
                    301_234_567,
                    301_234_567,
                    156_066_048,
                    155_890_123
                ),
                fs(
                    "/boot",
                    "xfs",
                    "/dev/nvme0n1p2",
                    4096,
                    259_584,
                    187_654,
                    187_654,
                    524_288,
                    523_930
                ),
                efi,
                fs(
                    "/srv/backup",
                    "xfs",
                    "/dev/sda1",
                    4096,
                    585_924_864,
                    312_345_678,
                    312_345_678,
                    234_369_600,
                    234_300_012
                ),
                Filesystem {
                    read_only: true,
                    ..fs(
                        "/var/lib/pgsql/backups",
                        "xfs",
                        "/dev/sda1",
                        4096,
                        585_924_864,
                        312_345_678,
                        312_345_678,
                        234_369_600,
                        234_300_012
                    )
                },
            ]
        );
    }

    #[test]
    fn debian_vm_filesystems_match_df() {
        let (got, problems) = filesystems(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            got,
            vec![
                fs(
                    "/",
                    "ext4",
                    "/dev/vda1",
                    4096,
                    16_448_139,
                    12_589_012,
                    11_751_792,
                    4_194_304,
                    4_106_534
                ),
                fs(
                    "/boot/efi",
                    "vfat",
                    "/dev/vda15",
                    512,
                    252_658,
                    240_116,
                    240_116,
                    0,
                    0
                ),
            ]
        );
        // `df -B1` on the recorded host: 67371577344 total, 48135340032 available.
        assert_eq!(got[0].size_bytes, 67_371_577_344);
        assert_eq!(got[0].available_bytes, 48_135_340_032);
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape(r"/a\011b\134c\012"), "/a\tb\\c\n");
        assert_eq!(unescape(r"/odd\04"), r"/odd\04");
        assert_eq!(unescape(r"/big\777"), r"/big\777");
        let line = r"36 25 8:17 / /srv/my\040data rw,relatime shared:1 - ext4 /dev/sdb1 rw";
        let mount = parse_mountinfo_line(line).unwrap();
        assert_eq!(mount.mount_point, "/srv/my data");
        assert_eq!(mount.dev, "8:17");
        assert!(!mount.read_only);
    }

    #[test]
    fn mountinfo_with_several_optional_fields_and_ro_superblock() {
        let line = "40 1 0:35 /sub /x ro,nosuid shared:3 master:2 propagate_from:1 - btrfs /dev/sdc rw,ssd";
        let mount = parse_mountinfo_line(line).unwrap();
        assert_eq!(mount.root, "/sub");
        assert_eq!(mount.fs_type, "btrfs");
        assert_eq!(mount.source, "/dev/sdc");
        assert!(mount.read_only);
        assert_eq!(parse_mountinfo_line("40 1 0:35 / /x rw"), None);
        assert_eq!(parse_mountinfo_line("garbage - "), None);
    }

    #[test]
    fn selection_drops_pseudo_shadowed_and_bind_duplicates_but_keeps_overlay_root() {
        let m = |dev: &str, root: &str, mp: &str, ty: &str| Mount {
            dev: dev.into(),
            root: root.into(),
            mount_point: mp.into(),
            fs_type: ty.into(),
            source: "src".into(),
            read_only: false,
        };
        let picked = select(vec![
            m("0:50", "/", "/", "overlay"),
            m("0:21", "/", "/proc", "proc"),
            m("8:1", "/", "/data", "ext4"),
            m("8:1", "/", "/data2", "ext4"),
            m("8:1", "/sub", "/data3", "ext4"),
            m("8:2", "/", "/shadowed", "ext4"),
            m("0:60", "/", "/shadowed", "tmpfs"),
            m("0:70", "/", "/snap/core/1", "squashfs"),
            m("0:71", "/", "/var/lib/docker/overlay2/x/merged", "overlay"),
            m("0:72", "/", "/run/user/1000/gvfs", "fuse.gvfsd-fuse"),
            m("8:33", "/", "/media/usb", "fuseblk"),
        ]);
        let points: Vec<&str> = picked.iter().map(|m| m.mount_point.as_str()).collect();
        assert_eq!(points, vec!["/", "/data", "/data3", "/media/usb"]);
    }

    #[test]
    fn proc_mounts_is_the_fallback() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), MOUNTINFO);
        write(
            dir.path(),
            MOUNTS,
            b"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n\
              /dev/vda1 / ext4 rw,relatime,discard,errors=remount-ro 0 0\n\
              /dev/vda15 /boot/efi vfat rw,relatime,fmask=0022 0 0\n\
              /dev/vda1 /mnt/again ext4 rw,relatime 0 0\n",
        );
        let (got, problems) = filesystems(&ctx_at(dir.path()));
        assert_eq!(problems, Vec::<String>::new());
        let points: Vec<&str> = got.iter().map(|f| f.mount_point.as_str()).collect();
        assert_eq!(points, vec!["/", "/boot/efi"]);
    }

    #[test]
    fn no_mount_table_is_a_read_error_naming_mountinfo() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), MOUNTINFO);
        let err = FilesystemsCollector
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("/proc/self/mountinfo: "),
            "{err}"
        );
    }

    #[test]
    fn garbage_mount_table_is_a_parse_error() {
        let dir = broken_copy(DELL);
        write(dir.path(), MOUNTINFO, b"\x7fELF\x02\x01\x01 garbage\n\n");
        let err = FilesystemsCollector
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert_eq!(err.to_string(), "/proc/self/mountinfo: no mount entries");
    }

    #[test]
    fn truncated_mount_table_keeps_the_lines_before_the_cut() {
        let dir = broken_copy(DELL);
        truncate_half(dir.path(), MOUNTINFO);
        let (got, problems) = filesystems(&ctx_at(dir.path()));
        assert!(got.iter().any(|f| f.mount_point == "/"), "{got:?}");
        assert!(got.len() < 5);
        assert!(problems.len() <= 1, "{problems:?}");
        for p in &problems {
            assert!(p.starts_with("/proc/self/mountinfo: line "), "{p}");
        }
    }

    #[test]
    fn a_mount_without_statistics_is_named_and_the_rest_delivered() {
        let dir = broken_copy(DEBIAN_VM);
        write(
            dir.path(),
            "/.recorded/statvfs",
            b"/ 4096 16448139 12589012 11751792 4194304 4106534\n",
        );
        let (got, problems) = filesystems(&ctx_at(dir.path()));
        assert_eq!(got.len(), 1);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("statvfs /boot/efi: no line for this mount point"),
            "{problems:?}"
        );
    }

    #[test]
    fn dev_root_is_resolved_through_sys_dev_block() {
        let dir = broken_copy(DEBIAN_VM);
        write(
            dir.path(),
            MOUNTINFO,
            b"26 1 254:1 / / rw,relatime shared:1 - ext4 /dev/root rw,discard,errors=remount-ro\n",
        );
        let (got, _) = filesystems(&ctx_at(dir.path()));
        assert_eq!(got[0].device, "/dev/vda1");
    }

    #[test]
    fn live_root_matches_an_independent_statvfs() {
        let Ok(text) = std::fs::read_to_string(MOUNTINFO) else {
            return;
        };
        let root_is_measured = text
            .lines()
            .filter_map(parse_mountinfo_line)
            .any(|m| m.mount_point == "/" && !is_pseudo_fs(&m.fs_type, "/"));
        let live = crate::collect::Context::new(
            SysRoot::default(),
            std::sync::Arc::new(crate::config::AgentConfig::default()),
        );
        let (got, _) = filesystems(&live);
        if !root_is_measured {
            return;
        }
        let st = rustix::fs::statvfs("/").unwrap();
        let root = got.iter().find(|f| f.mount_point == "/").unwrap();
        assert_eq!(root.size_bytes, st.f_blocks * st.f_frsize);
        assert_eq!(root.inodes_total, st.f_files);
        // Free space moves while tests run (other tests write files): allow 1 GiB.
        let avail = st.f_bavail * st.f_frsize;
        assert!(
            root.available_bytes.abs_diff(avail) < 1 << 30,
            "{root:?} vs {avail}"
        );
        let free = st.f_bfree * st.f_frsize;
        assert!(
            root.free_bytes.abs_diff(free) < 1 << 30,
            "{root:?} vs {free}"
        );
        assert!(root.free_bytes >= root.available_bytes);
    }
}
