//! Test helpers: the recorded sysroots and broken copies of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::collect::Context;
use crate::config::AgentConfig;
use crate::root::SysRoot;

/// The recorded physical Dell PowerEdge R740 (Rocky Linux 9, RAPL, NVMe, dm-crypt, rpm).
pub const DELL: &str = "dell-r740";
/// The recorded Debian 12 VM on KVM (dpkg, no DMI serial, no RAPL).
pub const DEBIAN_VM: &str = "debian-kvm";
/// Both recorded sysroots.
pub const SYSROOTS: &[&str] = &[DELL, DEBIAN_VM];

/// Path of a recorded sysroot.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sysroots")
        .join(name)
}

/// A context over a recorded sysroot with the default config.
pub fn ctx(name: &str) -> Context {
    Context::new(
        SysRoot::new(fixture_path(name)),
        Arc::new(AgentConfig::default()),
    )
}

/// A context over any root with the default config.
pub fn ctx_at(root: &Path) -> Context {
    Context::new(SysRoot::new(root), Arc::new(AgentConfig::default()))
}

/// A writable copy of a recorded sysroot (symlinks kept as symlinks), to break.
pub fn broken_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(&fixture_path(name), dir.path()).expect("copy fixture");
    dir
}

/// Writes `contents` at host path `path` under `root`, creating parent directories.
pub fn write(root: &Path, path: &str, contents: &[u8]) {
    let full = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
    std::fs::write(full, contents).expect("write");
}

/// Removes host path `path` (file or directory) under `root`.
pub fn remove(root: &Path, path: &str) {
    let full = root.join(path.trim_start_matches('/'));
    let meta = std::fs::symlink_metadata(&full).expect("exists");
    if meta.is_dir() {
        std::fs::remove_dir_all(full).expect("remove dir");
    } else {
        std::fs::remove_file(full).expect("remove file");
    }
}

/// Truncates the file at host path `path` to half its length.
pub fn truncate_half(root: &Path, path: &str) {
    let full = root.join(path.trim_start_matches('/'));
    let bytes = std::fs::read(&full).expect("read");
    std::fs::write(full, &bytes[..bytes.len() / 2]).expect("write");
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
            // Test builds for Windows (clippy --all-targets): the sysroots are Linux's.
            #[cfg(not(unix))]
            std::fs::copy(entry.path(), &target).map(drop)?;
        } else if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}
