//! The names of the running processes (`comm`), for the security items that look for a
//! daemon by name (time sync, firewall, antivirus).
//!
//! Reading `/proc/<pid>/comm` for every process was the largest single cost of a report
//! (on a VM with 130 processes, about half of its system calls). [`ProcessNames`]
//! keeps that correct and cheaper:
//!
//! - A process is known by its pid and the inode of its `/proc/<pid>` directory, which
//!   the listing of `/proc` gives for nothing (`d_ino`). procfs makes a new inode for a
//!   new process, so a reused pid is a new entry.
//! - A process seen for the first time is read once from `/proc/<pid>/stat`, which gives
//!   its name and whether it is a kernel thread (`PF_KTHREAD` in its flags).
//! - Kernel threads (about half the processes on a typical host) are not read again:
//!   they never `exec`, and none of the daemons looked for is one. Only the name of a
//!   workqueue worker changes (`kworker/0:1-events` shows the queue it is serving), and
//!   no item looks at those.
//! - Every other process's `comm` is read every report, since `exec` and `prctl` rename
//!   a process in place: a wrapper that `exec`s `chronyd` must be seen as `chronyd`.
//!
//! Each file is read with one `read` into a stack buffer (no `read_to_end` growing a
//! `Vec`), and processes that exit while being read are skipped.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::os::unix::fs::DirEntryExt;
use std::sync::Mutex;

use crate::root::{ReadError, SysRoot};

/// `PF_KTHREAD` in `/proc/<pid>/stat`'s flags (field 9).
const PF_KTHREAD: u64 = 0x0020_0000;

/// What is remembered of a process between reports.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A kernel thread, with the name read when it was first seen.
    Kernel(String),
    /// Any other process: its `comm` is read again every time.
    User,
}

/// The running processes' names, remembering which processes are kernel threads (see
/// the module docs). Shared by the reports of one daemon.
#[derive(Debug, Default)]
pub struct ProcessNames {
    /// pid → (inode of `/proc/<pid>`, what it is).
    seen: Mutex<HashMap<u32, (u64, Seen)>>,
}

impl ProcessNames {
    /// `comm` names of the running processes. Fails only when `/proc` cannot be listed.
    pub fn names(&self, root: &SysRoot) -> Result<BTreeSet<String>, ReadError> {
        let proc_dir = root.path("/proc");
        let entries = std::fs::read_dir(&proc_dir).map_err(|source| ReadError {
            path: "/proc".to_owned(),
            source,
        })?;
        let mut seen = match self.seen.lock() {
            Ok(seen) => seen,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut now: HashMap<u32, (u64, Seen)> = HashMap::with_capacity(seen.len() + 16);
        let mut names = BTreeSet::new();
        let mut buf = [0u8; 512];
        for entry in entries.filter_map(Result::ok) {
            let file_name = entry.file_name();
            let Some(pid) = file_name
                .to_str()
                .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            let ino = entry.ino();
            let dir = entry.path();
            let known = seen.get(&pid).filter(|(i, _)| *i == ino).map(|(_, s)| s);
            let (name, what) = match known {
                Some(Seen::Kernel(name)) => (Some(name.clone()), Seen::Kernel(name.clone())),
                Some(Seen::User) => (read_comm(&dir, &mut buf), Seen::User),
                None => match read_stat(&dir, &mut buf) {
                    Some((name, true)) => (Some(name.clone()), Seen::Kernel(name)),
                    Some((name, false)) => (Some(name), Seen::User),
                    // No readable `stat` (a recorded sysroot has only `comm`): read the
                    // name, and look again next time.
                    None => {
                        if let Some(name) = read_comm(&dir, &mut buf) {
                            names.insert(name);
                        }
                        continue;
                    }
                },
            };
            if let Some(name) = name.filter(|n| !n.is_empty()) {
                names.insert(name);
            }
            now.insert(pid, (ino, what));
        }
        // Processes that exited are forgotten.
        *seen = now;
        Ok(names)
    }

    /// How many processes are remembered as kernel threads (for tests).
    #[cfg(test)]
    fn kernel_threads(&self) -> usize {
        self.seen
            .lock()
            .unwrap()
            .values()
            .filter(|(_, s)| matches!(s, Seen::Kernel(_)))
            .count()
    }
}

/// Reads the start of a small procfs file into `buf` with as few `read`s as it takes:
/// procfs writes a one-record file such as `comm` or `stat` whole in the first read when
/// the buffer holds it, so a short read is the end (as it is for a regular file). A
/// longer file is cut at `buf`'s length, which is enough for the fields read here.
fn read_start<'b>(path: &std::path::Path, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    while len < buf.len() {
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len < buf.len() {
                    break;
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(&buf[..len])
}

/// `/proc/<pid>/comm`, trimmed; `None` when it cannot be read or is empty.
fn read_comm(dir: &std::path::Path, buf: &mut [u8]) -> Option<String> {
    let bytes = read_start(&dir.join("comm"), buf)?;
    let name = String::from_utf8_lossy(bytes).trim().to_owned();
    (!name.is_empty()).then_some(name)
}

/// The name (field 2, between the first `(` and the last `)`: a name may hold either)
/// and whether the process is a kernel thread, from `/proc/<pid>/stat`.
fn read_stat(dir: &std::path::Path, buf: &mut [u8]) -> Option<(String, bool)> {
    let bytes = read_start(&dir.join("stat"), buf)?;
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    let name = String::from_utf8_lossy(bytes.get(open + 1..close)?)
        .trim()
        .to_owned();
    // After the name: state (field 3) … flags (field 9).
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    let flags: u64 = rest.split_ascii_whitespace().nth(6)?.parse().ok()?;
    Some((name, flags & PF_KTHREAD != 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil;

    fn stat(pid: u32, name: &str, flags: u64) -> Vec<u8> {
        format!("{pid} ({name}) S 1 {pid} {pid} 0 -1 {flags} 100 0 0 0 1 2 0 0 20 0 1 0 55 0 0\n")
            .into_bytes()
    }

    fn process(root: &std::path::Path, pid: u32, name: &str, kernel: bool) {
        let flags = if kernel { PF_KTHREAD | 0x40 } else { 0x40_0100 };
        testutil::write(root, &format!("/proc/{pid}/stat"), &stat(pid, name, flags));
        testutil::write(
            root,
            &format!("/proc/{pid}/comm"),
            format!("{name}\n").as_bytes(),
        );
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn names_come_from_stat_then_comm_and_kernel_threads_are_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysRoot::new(dir.path());
        process(dir.path(), 1, "systemd", false);
        process(dir.path(), 2, "kthreadd", true);
        process(dir.path(), 812, "chronyd", false);
        // A name with a parenthesis and a space, as `stat` shows it.
        process(dir.path(), 900, "a) b", false);
        testutil::write(dir.path(), "/proc/self/comm", b"agent\n");
        testutil::write(dir.path(), "/proc/meminfo", b"MemTotal: 1 kB\n");
        let cache = ProcessNames::default();
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["a) b", "chronyd", "kthreadd", "systemd"])
        );
        assert_eq!(cache.kernel_threads(), 1);

        // A kernel thread's files are not read again; a process's `comm` is.
        std::fs::remove_file(dir.path().join("proc/2/comm")).unwrap();
        std::fs::remove_file(dir.path().join("proc/2/stat")).unwrap();
        std::fs::remove_file(dir.path().join("proc/812/stat")).unwrap();
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["a) b", "chronyd", "kthreadd", "systemd"])
        );
    }

    #[test]
    fn a_renamed_process_a_new_process_and_an_exit_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysRoot::new(dir.path());
        process(dir.path(), 1, "systemd", false);
        process(dir.path(), 700, "sh", false);
        let cache = ProcessNames::default();
        assert_eq!(cache.names(&root).unwrap(), set(&["sh", "systemd"]));

        // `exec` (or `prctl(PR_SET_NAME)`) renames pid 700 in place.
        testutil::write(dir.path(), "/proc/700/comm", b"ntpd\n");
        // A new process, and pid 1's name read through `comm` now.
        process(dir.path(), 4242, "clamd", false);
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["clamd", "ntpd", "systemd"])
        );

        // An exit.
        std::fs::remove_dir_all(dir.path().join("proc/4242")).unwrap();
        assert_eq!(cache.names(&root).unwrap(), set(&["ntpd", "systemd"]));
    }

    #[test]
    fn a_pid_reused_by_a_new_process_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysRoot::new(dir.path());
        process(dir.path(), 1, "systemd", false);
        process(dir.path(), 55, "kworker/0:2", true);
        let cache = ProcessNames::default();
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["kworker/0:2", "systemd"])
        );
        assert_eq!(cache.kernel_threads(), 1);

        // The kernel thread exits and its pid goes to a user process: a new
        // `/proc/55` (a new inode; made beside the old one so that the file system
        // cannot hand the old inode number back).
        let fresh = dir.path().join("proc/55.new");
        std::fs::create_dir(&fresh).unwrap();
        std::fs::write(fresh.join("stat"), stat(55, "falcon-sensor", 0x40_0100)).unwrap();
        std::fs::write(fresh.join("comm"), b"falcon-sensor\n").unwrap();
        std::fs::remove_dir_all(dir.path().join("proc/55")).unwrap();
        std::fs::rename(&fresh, dir.path().join("proc/55")).unwrap();
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["falcon-sensor", "systemd"])
        );
        assert_eq!(cache.kernel_threads(), 0);
        // And it is a user process now: renames are seen.
        std::fs::write(dir.path().join("proc/55/comm"), b"falcon-sensor2\n").unwrap();
        assert_eq!(
            cache.names(&root).unwrap(),
            set(&["falcon-sensor2", "systemd"])
        );
    }

    #[test]
    fn without_stat_the_name_is_read_from_comm_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = SysRoot::new(dir.path());
        testutil::write(dir.path(), "/proc/5400/comm", b"sentinelone-age\n");
        let cache = ProcessNames::default();
        assert_eq!(cache.names(&root).unwrap(), set(&["sentinelone-age"]));
        testutil::write(dir.path(), "/proc/5400/comm", b"other\n");
        assert_eq!(cache.names(&root).unwrap(), set(&["other"]));
        assert_eq!(cache.kernel_threads(), 0);
    }

    #[test]
    fn no_proc_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ProcessNames::default();
        assert!(cache.names(&SysRoot::new(dir.path())).is_err());
    }

    /// The live host: the names match a plain read of every `comm`, give or take the
    /// processes that start or exit in between, and kernel threads are recognised.
    #[test]
    fn live_proc_matches_comm() {
        let root = SysRoot::new("/");
        let cache = ProcessNames::default();
        let first = cache.names(&root).unwrap();
        let second = cache.names(&root).unwrap();
        assert!(!second.is_empty());
        let mine = std::fs::read_to_string("/proc/self/comm").unwrap();
        assert!(first.contains(mine.trim()) && second.contains(mine.trim()));
        if std::fs::read_to_string("/proc/2/comm").is_ok_and(|c| c.trim() == "kthreadd") {
            assert!(second.contains("kthreadd"));
            assert!(cache.kernel_threads() >= 1);
        }
    }
}
