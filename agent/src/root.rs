//! The system root every collector reads through.
//!
//! In production the root is `/`; in tests it is a recorded sysroot under
//! `agent/tests/fixtures/sysroots/`. Collectors never open an absolute path
//! themselves: they ask a [`SysRoot`] for `/proc/meminfo` and get the file under the
//! root. This module owns path joining and error messages; it must not parse anything.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Largest file a collector will read whole (64 MiB): a guard against reading a
/// runaway log or a device node by mistake.
pub const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;

/// An error reading under the root, naming the path as the host sees it.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ReadError {
    /// The path as seen on the host (e.g. `/proc/meminfo`), not the fixture path.
    pub path: String,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl ReadError {
    /// Whether the file or directory does not exist.
    pub fn is_not_found(&self) -> bool {
        self.source.kind() == io::ErrorKind::NotFound
    }
}

/// Filesystem statistics for one mount point (what `statvfs` returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStats {
    /// Fragment size in bytes (`f_frsize`): the unit of the block counts.
    pub fragment_size: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
}

/// A root directory that host paths are resolved under.
#[derive(Debug, Clone)]
pub struct SysRoot {
    root: PathBuf,
}

impl Default for SysRoot {
    fn default() -> Self {
        SysRoot::new("/")
    }
}

impl SysRoot {
    /// A root at `root` (`/` for the live system).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SysRoot { root: root.into() }
    }

    /// Whether this is the live system (`/`).
    pub fn is_live(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The root directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The real path of host path `path` (absolute, as the host sees it).
    pub fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }

    fn err(path: &str, source: io::Error) -> ReadError {
        ReadError {
            path: path.to_owned(),
            source,
        }
    }

    /// Reads a whole file as UTF-8 (lossily: a stray byte in a file must not fail a
    /// collector), refusing files larger than [`MAX_READ_BYTES`].
    pub fn read_to_string(&self, path: &str) -> Result<String, ReadError> {
        let bytes = self.read(path)?;
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }

    /// Reads a whole file as bytes, refusing files larger than [`MAX_READ_BYTES`].
    pub fn read(&self, path: &str) -> Result<Vec<u8>, ReadError> {
        use std::io::Read;
        let file = fs::File::open(self.path(path)).map_err(|e| Self::err(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_READ_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Self::err(path, e))?;
        if bytes.len() as u64 > MAX_READ_BYTES {
            return Err(Self::err(
                path,
                io::Error::other(format!("file is larger than {MAX_READ_BYTES} bytes")),
            ));
        }
        Ok(bytes)
    }

    /// Reads a one-line sysfs/procfs attribute, trimmed. `Ok(None)` when the file does
    /// not exist or is empty; other errors (e.g. permission denied) are returned.
    pub fn read_attr(&self, path: &str) -> Result<Option<String>, ReadError> {
        match self.read_to_string(path) {
            Ok(text) => {
                let text = text.trim();
                Ok((!text.is_empty()).then(|| text.to_owned()))
            }
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Reads a file when it exists: `Ok(None)` when it does not.
    pub fn read_optional(&self, path: &str) -> Result<Option<String>, ReadError> {
        match self.read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Streams a file through `parse` when it exists: `Ok(None)` when it does not.
    ///
    /// For the large files a collector reads every report (the dpkg status file is
    /// 0.5–3 MB): a parser that takes its input line by line holds a few kB instead of
    /// the whole file, which keeps the daemon's peak RSS down. The same
    /// [`MAX_READ_BYTES`] guard as [`SysRoot::read`] applies; errors name the host path.
    pub fn stream_optional<T>(
        &self,
        path: &str,
        parse: impl FnOnce(&mut dyn io::BufRead) -> io::Result<T>,
    ) -> Result<Option<T>, ReadError> {
        use std::io::Read;
        let file = match fs::File::open(self.path(path)) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Self::err(path, err)),
        };
        let mut limited = io::BufReader::new(file.take(MAX_READ_BYTES + 1));
        let parsed = parse(&mut limited).map_err(|e| Self::err(path, e))?;
        if limited.get_ref().limit() == 0 {
            return Err(Self::err(
                path,
                io::Error::other(format!("file is larger than {MAX_READ_BYTES} bytes")),
            ));
        }
        Ok(Some(parsed))
    }

    /// Whether a host path exists (following symlinks).
    pub fn exists(&self, path: &str) -> bool {
        self.path(path).exists()
    }

    /// Names of the entries of a directory, sorted.
    pub fn read_dir(&self, path: &str) -> Result<Vec<String>, ReadError> {
        let entries = fs::read_dir(self.path(path)).map_err(|e| Self::err(path, e))?;
        let mut names: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .map(|entry| os_to_string(entry.file_name()))
            .collect();
        names.sort();
        Ok(names)
    }

    /// The target of a symlink, as written in the link (not resolved under the root).
    pub fn read_link(&self, path: &str) -> Result<PathBuf, ReadError> {
        fs::read_link(self.path(path)).map_err(|e| Self::err(path, e))
    }

    /// Metadata of a host path (following symlinks).
    pub fn metadata(&self, path: &str) -> Result<fs::Metadata, ReadError> {
        fs::metadata(self.path(path)).map_err(|e| Self::err(path, e))
    }

    /// Filesystem statistics of the filesystem mounted at `mount_point`.
    ///
    /// On the live system this is `statvfs(2)`. A recorded sysroot cannot hold a
    /// mounted filesystem, so there the statistics come from the recorded file
    /// `/.recorded/statvfs` under the root: one line per mount point,
    /// `MOUNT_POINT FRSIZE BLOCKS BFREE BAVAIL FILES FFREE` (what `stat -f` shows).
    pub fn statvfs(&self, mount_point: &str) -> Result<FsStats, ReadError> {
        if self.is_live() {
            return crate::collect::platform::statvfs(Path::new(mount_point))
                .map_err(|e| Self::err(mount_point, e));
        }
        let recorded = self.read_to_string("/.recorded/statvfs")?;
        parse_recorded_statvfs(&recorded, mount_point).ok_or_else(|| {
            Self::err(
                mount_point,
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "no line for this mount point in /.recorded/statvfs",
                ),
            )
        })
    }
}

fn parse_recorded_statvfs(text: &str, mount_point: &str) -> Option<FsStats> {
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 7 || fields[0] != mount_point {
            return None;
        }
        let n = |i: usize| fields[i].parse::<u64>().ok();
        Some(FsStats {
            fragment_size: n(1)?,
            blocks: n(2)?,
            blocks_free: n(3)?,
            blocks_available: n(4)?,
            files: n(5)?,
            files_free: n(6)?,
        })
    })
}

fn os_to_string(name: OsString) -> String {
    name.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_under_the_root() {
        let root = SysRoot::new("/tmp/fixture");
        assert_eq!(
            root.path("/proc/meminfo"),
            Path::new("/tmp/fixture/proc/meminfo")
        );
        assert_eq!(
            root.path("proc/meminfo"),
            Path::new("/tmp/fixture/proc/meminfo")
        );
    }

    #[test]
    fn missing_attr_is_none_and_errors_name_the_host_path() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysRoot::new(dir.path());
        assert_eq!(root.read_attr("/sys/nothing").unwrap(), None);
        let err = root.read_to_string("/proc/nothing").unwrap_err();
        assert!(err.to_string().starts_with("/proc/nothing: "), "{err}");
    }

    #[test]
    fn streamed_files_are_read_whole_or_are_none_when_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("status"), "a\nb\n").unwrap();
        let root = SysRoot::new(dir.path());
        let lines =
            |r: &mut dyn io::BufRead| io::BufRead::lines(r).collect::<io::Result<Vec<String>>>();
        assert_eq!(
            root.stream_optional("/status", lines).unwrap(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(root.stream_optional("/absent", lines).unwrap().is_none());
        let err = root
            .stream_optional("/status", |_| -> io::Result<()> {
                Err(io::Error::other("bad"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "/status: bad");
    }

    #[test]
    fn recorded_statvfs_is_parsed_per_mount() {
        let text = "/ 4096 100 50 40 1000 900\n/boot 1024 10 5 4 100 90\n";
        let stats = parse_recorded_statvfs(text, "/boot").unwrap();
        assert_eq!(stats.fragment_size, 1024);
        assert_eq!(stats.blocks_available, 4);
        assert_eq!(parse_recorded_statvfs(text, "/var"), None);
        assert_eq!(parse_recorded_statvfs("/ 4096 x 1 1 1 1", "/"), None);
    }
}
