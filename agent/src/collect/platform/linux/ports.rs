//! Listening sockets: the kernel's socket diagnostics ([`sock_diag`]) on the live system,
//! else `/proc/net/{tcp,tcp6,udp,udp6}`, and their owners from `/proc/<pid>/fd`.
//!
//! This file owns the socket tables' format and the walk of `/proc` that finds which
//! process holds each listening socket. A TCP socket listens in state `0A` (LISTEN); a
//! UDP socket "listens" when it is unconnected: state `07` with remote address and
//! port 0 (what `ss -lu` shows). It must not open anything but `/proc` files and the
//! diagnostics socket, and it stops walking `/proc` as soon as every listening socket
//! has its owner.
//!
//! Owners are remembered between reports ([`OwnerCache`]): a socket seen before is
//! checked by reading the one descriptor that held it, and `/proc` is walked only for
//! sockets that are new or whose descriptor no longer points at them.

pub mod sock_diag;

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use estate_protocol::ListeningSocket;

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

/// The socket tables, by protocol name.
const TABLES: [(&str, &str); 4] = [
    ("tcp", "/proc/net/tcp"),
    ("tcp6", "/proc/net/tcp6"),
    ("udp", "/proc/net/udp"),
    ("udp6", "/proc/net/udp6"),
];

/// TCP state LISTEN.
const TCP_LISTEN: &str = "0A";
/// The state the kernel shows for an unconnected UDP socket (TCP_CLOSE).
const UDP_UNCONNECTED: &str = "07";

/// Collects listening TCP and UDP sockets with their owning process.
#[derive(Debug, Default)]
pub struct ListeningCollector {
    /// Owners found by earlier collections.
    owners: Mutex<OwnerCache>,
}

impl Collector for ListeningCollector {
    fn name(&self) -> &'static str {
        "listening"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        // Plain data: a panic elsewhere while holding it leaves a usable cache.
        let mut owners = self
            .owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (sockets, problems) = collect_listening_with(&ctx.root, &mut owners)?;
        Ok(Collected::partial(Section::Listening(sockets), problems))
    }
}

/// One listening socket as read from a table, before its owner is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSocket {
    /// `tcp`, `tcp6`, `udp` or `udp6`.
    pub protocol: &'static str,
    /// Local address.
    pub address: IpAddr,
    /// Local port.
    pub port: u16,
    /// Socket inode (0 when the kernel shows none).
    pub inode: u64,
}

/// Listening sockets, deduplicated (one entry per protocol, address and port, with the
/// lowest owning pid) and sorted by protocol, port and address.
///
/// Fails only when none of the four tables exists. A missing `tcp6`/`udp6` is normal
/// (IPv6 disabled); a missing `tcp`/`udp` or a malformed line is a problem. A socket
/// without an owner is a problem only when some process's descriptors could not be
/// read: when every process was readable, an ownerless socket belongs to the kernel
/// (an NFS server's sockets, for one) and nothing is missing.
pub fn collect_listening(
    root: &SysRoot,
) -> Result<(Vec<ListeningSocket>, Vec<String>), CollectError> {
    collect_listening_with(root, &mut OwnerCache::default())
}

/// [`collect_listening`], remembering owners in `cache` from one call to the next.
pub fn collect_listening_with(
    root: &SysRoot,
    cache: &mut OwnerCache,
) -> Result<(Vec<ListeningSocket>, Vec<String>), CollectError> {
    let mut problems = Vec::new();
    let mut raw = Vec::new();
    let mut found_any = false;
    let mut first_missing = None;
    for ((protocol, path), table) in TABLES.into_iter().zip(sock_diag::Table::ALL) {
        if root.is_live()
            && let Ok(sockets) = sock_diag::dump(table)
        {
            found_any = true;
            raw.extend(sockets);
            continue;
        }
        match root.read_optional(path) {
            Ok(Some(text)) => {
                found_any = true;
                raw.extend(parse_table(&text, protocol, path, &mut problems));
            }
            Ok(None) => {
                if !protocol.ends_with('6') {
                    problems.push(format!("{path}: missing; {protocol} sockets not listed"));
                }
                first_missing.get_or_insert(path);
            }
            Err(err) => problems.push(format!("{err}; {protocol} sockets not listed")),
        }
    }
    if !found_any && let Some(path) = first_missing {
        return Err(CollectError::Read(crate::root::ReadError {
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no socket table under /proc/net"),
        }));
    }

    let wanted: HashSet<u64> = raw.iter().map(|s| s.inode).filter(|&i| i != 0).collect();
    let walk = cache.find_owners(root, &wanted)?;
    let mut names: HashMap<u32, Option<String>> = HashMap::new();
    let mut sockets: Vec<(RawSocket, Option<u32>)> = raw
        .into_iter()
        .map(|s| {
            let pid = walk.owners.get(&s.inode).copied();
            (s, pid)
        })
        .collect();
    sockets.sort_by(|(a, pa), (b, pb)| {
        (a.protocol, a.port, a.address, pa.is_none(), pa).cmp(&(
            b.protocol,
            b.port,
            b.address,
            pb.is_none(),
            pb,
        ))
    });
    sockets.dedup_by(|(a, _), (b, _)| {
        (a.protocol, a.port, a.address) == (b.protocol, b.port, b.address)
    });
    let unowned = sockets.iter().filter(|(_, pid)| pid.is_none()).count();
    if let Some(problem) = owner_problem(unowned, sockets.len(), walk.denied) {
        problems.push(problem);
    }
    let sockets = sockets
        .into_iter()
        .map(|(s, pid)| ListeningSocket {
            protocol: s.protocol.to_owned(),
            address: s.address.to_string(),
            port: s.port,
            process: pid.and_then(|pid| {
                names
                    .entry(pid)
                    .or_insert_with(|| root.read_attr(&format!("/proc/{pid}/comm")).ok().flatten())
                    .clone()
            }),
            pid,
        })
        .collect();
    Ok((sockets, problems))
}

/// The problem to report when sockets lack an owner because descriptors of `denied`
/// processes could not be read.
pub fn owner_problem(unowned: usize, total: usize, denied: usize) -> Option<String> {
    (unowned > 0 && denied > 0).then(|| {
        format!(
            "{unowned} of {total} listening sockets have no owning process: /proc/<pid>/fd \
             of {denied} process(es) could not be read (permission denied: reading other \
             users' descriptors needs root with ptrace access)"
        )
    })
}

/// Parses one socket table, keeping listening sockets only. Malformed lines are
/// named in `problems` and skipped.
pub fn parse_table(
    text: &str,
    protocol: &'static str,
    path: &str,
    problems: &mut Vec<String>,
) -> Vec<RawSocket> {
    let mut sockets = Vec::new();
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.contains("local_address") => {}
        Some(_) => {
            problems.push(format!(
                "{path}: no table header; {protocol} sockets not listed"
            ));
            return sockets;
        }
        None => return sockets,
    }
    let tcp = protocol.starts_with("tcp");
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line, tcp) {
            Ok(Some((address, port, inode))) => sockets.push(RawSocket {
                protocol,
                address,
                port,
                inode,
            }),
            Ok(None) => {}
            Err(what) => problems.push(format!("{path}: line {}: {what}", index + 1)),
        }
    }
    sockets
}

/// One table line: `Ok(None)` when the socket is not listening.
fn parse_line(line: &str, tcp: bool) -> Result<Option<(IpAddr, u16, u64)>, String> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 10 || !fields[0].ends_with(':') {
        return Err(format!(
            "expected at least 10 fields, found {}",
            fields.len()
        ));
    }
    let (local, port) = parse_endpoint(fields[1])?;
    let state = fields[3];
    if state.len() != 2 || u8::from_str_radix(state, 16).is_err() {
        return Err(format!("bad state {state:?}"));
    }
    let inode = fields[9]
        .parse::<u64>()
        .map_err(|_| format!("bad inode {:?}", fields[9]))?;
    let listening = if tcp {
        state == TCP_LISTEN
    } else {
        let (remote, remote_port) = parse_endpoint(fields[2])?;
        state == UDP_UNCONNECTED && remote.is_unspecified() && remote_port == 0
    };
    Ok(listening.then_some((local, port, inode)))
}

/// Decodes `ADDRESS:PORT` as the kernel prints it: the address is the raw bytes of the
/// socket address, printed as 32-bit words in the host's byte order (`%08X` per word:
/// `0100007F` is 127.0.0.1 on a little-endian host); the port is big-endian hex.
pub fn parse_endpoint(field: &str) -> Result<(IpAddr, u16), String> {
    let bad = || format!("bad address {field:?}");
    let (address, port) = field.split_once(':').ok_or_else(bad)?;
    let port = u16::from_str_radix(port, 16).map_err(|_| bad())?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).map(u32::to_ne_bytes);
    let address = match address.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(address).map_err(|_| bad())?)),
        32 => {
            let mut octets = [0u8; 16];
            for (i, chunk) in octets.chunks_exact_mut(4).enumerate() {
                let hex = address.get(i * 8..i * 8 + 8).ok_or_else(bad)?;
                chunk.copy_from_slice(&word(hex).map_err(|_| bad())?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return Err(bad()),
    };
    Ok((address, port))
}

/// What the walk of `/proc` found.
#[derive(Debug, Default)]
pub struct OwnerWalk {
    /// Socket inode → lowest pid holding it.
    pub owners: HashMap<u64, u32>,
    /// Processes whose descriptors could not be read (permission denied).
    pub denied: usize,
}

/// Where a socket was last found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    /// Descriptor `fd` of process `pid`.
    Fd { pid: u32, fd: String },
    /// No process: a walk that could read every process's descriptors did not find it
    /// (the kernel holds it, as for an NFS server's sockets). A socket nobody holds
    /// cannot come to be held, so this stays true while the socket exists.
    Kernel,
    /// Not found by a walk of every process, some of whose descriptors could not be
    /// read: held by the kernel, by one of those processes or by a process outside
    /// this pid namespace. Only a process started since, or one handed the socket,
    /// can show it now: [`OwnerCache`] walks the new processes only, and every process
    /// again after [`REWALK_AFTER`].
    Unseen,
}

/// How long a walk of every process stands for the sockets it did not find while some
/// processes were hidden, before all of `/proc` is walked for them again (10 minutes). In
/// between only processes started since are walked. A socket handed over a Unix socket
/// to a process that was already running, or a pid reused, is seen after this at worst.
pub const REWALK_AFTER: Duration = Duration::from_secs(600);

/// The last walk that went through every process (it did not find every socket it
/// looked for), as the processes walked since extend it.
#[derive(Debug, Clone)]
struct Walked {
    /// When every process was walked.
    at: Instant,
    /// The processes walked, then and since.
    pids: HashSet<u32>,
    /// Those of them whose descriptors could not be read.
    denied: HashSet<u32>,
}

/// What one walk of `/proc` found, for [`OwnerCache`].
#[derive(Debug, Default)]
struct ProcWalk {
    /// Socket inode → lowest pid holding it, among the processes walked.
    owners: HashMap<u64, u32>,
    /// Socket inode → the descriptor (in its owner) that holds it.
    fds: HashMap<u64, String>,
    /// Every process in `/proc` when it was listed, skipped ones included.
    pids: Vec<u32>,
    /// Processes walked whose descriptors could not be read.
    denied: HashSet<u32>,
    /// Whether every process not skipped was walked (it stops once all are found).
    complete: bool,
}

/// Owners of listening sockets found by earlier walks, by socket inode.
///
/// Walking `/proc/<pid>/fd` reads a link per descriptor of every process; a listening
/// socket usually lives as long as its daemon, so most reports find the same sockets.
/// A remembered owner is trusted only after reading its one descriptor again and
/// finding the same socket there; everything else is walked for, as the first time.
/// A socket that a walk of every process did not find while some processes' descriptors
/// were hidden (a container without `CAP_SYS_PTRACE`, a socket held outside the pid
/// namespace) is looked for in the processes started since only, until
/// [`REWALK_AFTER`]: walking every process for it again each report found nothing new
/// and was a third of a report's CPU.
#[derive(Debug, Default)]
pub struct OwnerCache {
    holders: HashMap<u64, Holder>,
    walked: Option<Walked>,
}

impl OwnerCache {
    /// Finds the lowest pid holding each socket inode in `wanted` (lowest pid first),
    /// checking remembered owners first and walking `/proc` for the rest. Forgets
    /// sockets that are no longer wanted.
    pub fn find_owners(
        &mut self,
        root: &SysRoot,
        wanted: &HashSet<u64>,
    ) -> Result<OwnerWalk, CollectError> {
        self.find_owners_at(
            Instant::now(),
            wanted,
            |pid, fd| {
                root.read_link(&format!("/proc/{pid}/fd/{fd}"))
                    .ok()
                    .and_then(|target| socket_inode(target.as_os_str().as_encoded_bytes()))
            },
            |targets, skip| walk_proc(root, targets, skip),
        )
    }

    /// [`OwnerCache::find_owners`] at `now`, with the descriptor check (`pid`, `fd` →
    /// the socket it holds) and the walk (sockets wanted, processes to skip) given.
    fn find_owners_at(
        &mut self,
        now: Instant,
        wanted: &HashSet<u64>,
        holds: impl Fn(u32, &str) -> Option<u64>,
        walk: impl FnOnce(&HashSet<u64>, &HashSet<u32>) -> Result<ProcWalk, CollectError>,
    ) -> Result<OwnerWalk, CollectError> {
        self.holders.retain(|inode, _| wanted.contains(inode));
        let mut result = OwnerWalk::default();
        let mut unknown = HashSet::new();
        let mut unseen = HashSet::new();
        for &inode in wanted {
            match self.holders.get(&inode) {
                Some(Holder::Kernel) => {}
                Some(Holder::Unseen) => {
                    unseen.insert(inode);
                }
                Some(Holder::Fd { pid, fd }) if holds(*pid, fd) == Some(inode) => {
                    result.owners.insert(inode, *pid);
                }
                _ => {
                    unknown.insert(inode);
                }
            }
        }
        if unknown.is_empty() && unseen.is_empty() {
            return Ok(result);
        }
        // Sockets never looked for (or that moved) need every process; unseen ones only
        // the processes the last full walk did not cover, while it stands.
        let standing = self
            .walked
            .take()
            .filter(|w| unknown.is_empty() && now.saturating_duration_since(w.at) < REWALK_AFTER);
        let empty = HashSet::new();
        let skip = standing.as_ref().map_or(&empty, |w| &w.pids);
        let targets: HashSet<u64> = unknown.union(&unseen).copied().collect();
        let found = walk(&targets, skip)?;
        if found.complete {
            let (at, mut denied) = match standing {
                Some(w) => (w.at, w.denied),
                None => (now, HashSet::new()),
            };
            let pids: HashSet<u32> = found.pids.iter().copied().collect();
            // Processes gone since no longer hide anything.
            denied.retain(|pid| pids.contains(pid));
            denied.extend(&found.denied);
            self.walked = Some(Walked { at, pids, denied });
        } else {
            // Stopped once all were found: the processes after that were not walked.
            self.walked = standing;
        }
        let denied = match &self.walked {
            Some(w) if found.complete => w.denied.len(),
            _ => found.denied.len(),
        };
        result.denied = denied;
        for &inode in &targets {
            match found.owners.get(&inode) {
                Some(&pid) => {
                    result.owners.insert(inode, pid);
                    match found.fds.get(&inode) {
                        Some(fd) => {
                            self.holders.insert(
                                inode,
                                Holder::Fd {
                                    pid,
                                    fd: fd.clone(),
                                },
                            );
                        }
                        None => {
                            self.holders.remove(&inode);
                        }
                    }
                }
                // Remembered as the kernel's only when nothing was hidden from the walk.
                None if denied == 0 => {
                    self.holders.insert(inode, Holder::Kernel);
                }
                None => {
                    self.holders.insert(inode, Holder::Unseen);
                }
            }
        }
        Ok(result)
    }
}

/// Finds the lowest pid holding each socket inode in `wanted`, walking `/proc/<pid>/fd`
/// in ascending pid order (the processes in `skip` left out) and stopping once all are
/// found, and the descriptor (in the owner) that holds each. Processes that vanish
/// mid-walk are skipped; those whose descriptors are not readable are counted.
fn walk_proc(
    root: &SysRoot,
    wanted: &HashSet<u64>,
    skip: &HashSet<u32>,
) -> Result<ProcWalk, CollectError> {
    let mut walk = ProcWalk::default();
    if wanted.is_empty() {
        walk.complete = true;
        return Ok(walk);
    }
    let mut pids: Vec<u32> = root
        .read_dir("/proc")?
        .iter()
        .filter_map(|name| name.parse::<u32>().ok())
        .collect();
    pids.sort_unstable();
    walk.complete = true;
    for &pid in &pids {
        if skip.contains(&pid) {
            continue;
        }
        let fd_dir = format!("/proc/{pid}/fd");
        let fds = match root.read_dir(&fd_dir) {
            Ok(fds) => fds,
            Err(err) => {
                if err.source.kind() == io::ErrorKind::PermissionDenied {
                    walk.denied.insert(pid);
                }
                continue;
            }
        };
        for fd in fds {
            let target = match root.read_link(&format!("{fd_dir}/{fd}")) {
                Ok(target) => target,
                Err(err) if err.source.kind() == io::ErrorKind::PermissionDenied => {
                    walk.denied.insert(pid);
                    break;
                }
                Err(_) => continue,
            };
            if let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes())
                && wanted.contains(&inode)
                && !walk.owners.contains_key(&inode)
            {
                walk.owners.insert(inode, pid);
                walk.fds.insert(inode, fd);
            }
        }
        if walk.owners.len() == wanted.len() {
            walk.complete = false;
            break;
        }
    }
    walk.pids = pids;
    Ok(walk)
}

/// The inode of a descriptor link target `socket:[INODE]`.
fn socket_inode(target: &[u8]) -> Option<u64> {
    let rest = target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(rest).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };

    fn listening(c: &Context) -> (Vec<ListeningSocket>, Vec<String>) {
        let collected = ListeningCollector::default().collect(c).unwrap();
        match collected.section {
            Section::Listening(l) => (l, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn sock(
        protocol: &str,
        address: &str,
        port: u16,
        owner: Option<(u32, &str)>,
    ) -> ListeningSocket {
        ListeningSocket {
            protocol: protocol.into(),
            address: address.into(),
            port,
            pid: owner.map(|o| o.0),
            process: owner.map(|o| o.1.to_owned()),
        }
    }

    #[test]
    fn dell_listening_sockets_with_owners() {
        let (got, problems) = listening(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            got,
            vec![
                sock("tcp", "0.0.0.0", 22, Some((1123, "sshd"))),
                sock("tcp", "10.20.1.15", 5432, Some((1402, "postgres"))),
                sock("tcp", "127.0.0.1", 5432, Some((1402, "postgres"))),
                sock("tcp6", "::", 22, Some((1123, "sshd"))),
                sock("udp", "127.0.0.1", 323, Some((987, "chronyd"))),
            ]
        );
    }

    #[test]
    fn debian_shared_nginx_sockets_are_reported_once_with_the_lowest_pid() {
        let (got, problems) = listening(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            got,
            vec![
                sock("tcp", "0.0.0.0", 22, Some((612, "sshd"))),
                sock("tcp", "0.0.0.0", 80, Some((701, "nginx"))),
                sock("tcp", "0.0.0.0", 443, Some((701, "nginx"))),
                sock("udp", "127.0.0.53", 53, Some((433, "systemd-resolve"))),
            ]
        );
    }

    #[test]
    fn addresses_decode_v4_v6_and_v4_mapped() {
        let v4 = |s: &str| parse_endpoint(s).unwrap();
        assert_eq!(v4("0100007F:0016"), ("127.0.0.1".parse().unwrap(), 22));
        assert_eq!(v4("0F01140A:1538"), ("10.20.1.15".parse().unwrap(), 5432));
        assert_eq!(
            v4("00000000000000000000000001000000:0035"),
            ("::1".parse().unwrap(), 53)
        );
        assert_eq!(
            v4("0000000000000000FFFF00000100007F:1F90"),
            ("::ffff:127.0.0.1".parse().unwrap(), 8080)
        );
        assert_eq!(
            v4("000080FE00000000FF0054501A8C8EFE:0016").0.to_string(),
            "fe80::5054:ff:fe8e:8c1a"
        );
        assert!(parse_endpoint("0100007F").is_err());
        assert!(parse_endpoint("0100007G:0016").is_err());
        assert!(parse_endpoint("01007F:0016").is_err());
        assert!(parse_endpoint("0100007F:10000").is_err());
    }

    #[test]
    fn connected_udp_and_non_listening_tcp_are_left_out() {
        let mut problems = Vec::new();
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             1: 0100007F:0143 00000000:0000 07 00000000:00000000 00:00000000 00000000   992        0 24567 2 ffff9a3c4a7e1c00 0\n\
             2: 0F01140A:8A1C 0A00140A:007B 01 00000000:00000000 00:00000000 00000000   992        0 24590 2 ffff9a3c4a7e1800 0\n\
             3: 0F01140A:8A1D 0A00140A:0000 07 00000000:00000000 00:00000000 00000000   992        0 24591 2 ffff9a3c4a7e1400 0\n";
        let udp = parse_table(text, "udp", "/proc/net/udp", &mut problems);
        assert_eq!(udp.len(), 1);
        assert_eq!(udp[0].port, 323);
        let tcp = parse_table(text, "tcp", "/proc/net/tcp", &mut problems);
        assert!(tcp.is_empty());
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn missing_owner_is_a_problem_only_when_descriptors_were_unreadable() {
        assert_eq!(owner_problem(0, 5, 3), None);
        assert_eq!(owner_problem(2, 5, 0), None);
        let p = owner_problem(2, 5, 3).unwrap();
        assert!(
            p.starts_with("2 of 5 listening sockets have no owning process"),
            "{p}"
        );
        assert!(p.contains("of 3 process(es) could not be read"), "{p}");
    }

    #[test]
    fn a_vanished_process_leaves_its_socket_without_owner_and_no_problem() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/proc/1402");
        let (got, problems) = listening(&ctx_at(dir.path()));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(got[1], sock("tcp", "10.20.1.15", 5432, None));
        assert_eq!(got[0], sock("tcp", "0.0.0.0", 22, Some((1123, "sshd"))));
    }

    fn with_cache(c: &Context, cache: &mut OwnerCache) -> Vec<ListeningSocket> {
        collect_listening_with(&c.root, cache).unwrap().0
    }

    #[test]
    fn remembered_owners_give_the_same_sockets_and_follow_a_socket_that_moved() {
        let dir = broken_copy(DELL);
        let c = ctx_at(dir.path());
        let mut cache = OwnerCache::default();
        let first = with_cache(&c, &mut cache);
        assert_eq!(first, listening(&ctx(DELL)).0);
        assert_eq!(with_cache(&c, &mut cache), first, "from the cache");

        // postgres (1402) hands its listening sockets to a new process, 1500, and closes
        // its descriptors: the remembered descriptor no longer points at them.
        remove(dir.path(), "/proc/1402/fd/6");
        remove(dir.path(), "/proc/1402/fd/7");
        let fd_dir = dir.path().join("proc/1500/fd");
        std::fs::create_dir_all(&fd_dir).unwrap();
        std::os::unix::fs::symlink("socket:[31011]", fd_dir.join("4")).unwrap();
        std::os::unix::fs::symlink("socket:[31012]", fd_dir.join("5")).unwrap();
        write(dir.path(), "/proc/1500/comm", b"pg-new\n");
        let moved = with_cache(&c, &mut cache);
        assert_eq!(moved, listening(&c).0, "the cache agrees with a fresh walk");
        assert!(
            moved
                .iter()
                .filter(|s| s.port == 5432)
                .all(|s| s.pid == Some(1500) && s.process.as_deref() == Some("pg-new")),
            "{moved:?}"
        );
        assert_eq!(with_cache(&c, &mut cache), moved);
    }

    #[test]
    fn remembered_owners_are_checked_against_the_descriptor() {
        // The remembered descriptor now holds something else (the process closed the
        // socket and reused the number): the walk runs again and finds no owner.
        let dir = broken_copy(DELL);
        let c = ctx_at(dir.path());
        let mut cache = OwnerCache::default();
        with_cache(&c, &mut cache);
        remove(dir.path(), "/proc/987/fd");
        let fd_dir = dir.path().join("proc/987/fd");
        std::fs::create_dir_all(&fd_dir).unwrap();
        for fd in 0..8 {
            std::os::unix::fs::symlink("/dev/null", fd_dir.join(fd.to_string())).unwrap();
        }
        let got = with_cache(&c, &mut cache);
        assert_eq!(got, listening(&c).0);
        assert_eq!(got.last().unwrap(), &sock("udp", "127.0.0.1", 323, None));
    }

    /// A fake `/proc` for [`OwnerCache::find_owners_at`]: pid → (descriptors readable,
    /// sockets held by descriptor number).
    struct FakeProc(std::collections::BTreeMap<u32, (bool, Vec<(String, u64)>)>);

    impl FakeProc {
        fn holds(&self, pid: u32, fd: &str) -> Option<u64> {
            let (readable, fds) = self.0.get(&pid)?;
            readable.then_some(())?;
            fds.iter().find(|(n, _)| n == fd).map(|(_, inode)| *inode)
        }

        /// Walks as `walk_proc` does, counting the processes it walked into `walked`.
        fn walk(
            &self,
            wanted: &HashSet<u64>,
            skip: &HashSet<u32>,
            walked: &std::cell::Cell<usize>,
        ) -> ProcWalk {
            let mut walk = ProcWalk {
                pids: self.0.keys().copied().collect(),
                complete: true,
                ..ProcWalk::default()
            };
            for (&pid, (readable, fds)) in &self.0 {
                if skip.contains(&pid) {
                    continue;
                }
                walked.set(walked.get() + 1);
                if !readable {
                    walk.denied.insert(pid);
                    continue;
                }
                for (fd, inode) in fds {
                    if wanted.contains(inode) && !walk.owners.contains_key(inode) {
                        walk.owners.insert(*inode, pid);
                        walk.fds.insert(*inode, fd.clone());
                    }
                }
                if walk.owners.len() == wanted.len() {
                    walk.complete = false;
                    break;
                }
            }
            walk
        }
    }

    fn find(
        cache: &mut OwnerCache,
        procs: &FakeProc,
        wanted: &[u64],
        at: Instant,
    ) -> (OwnerWalk, usize) {
        let walked = std::cell::Cell::new(0);
        let wanted: HashSet<u64> = wanted.iter().copied().collect();
        let found = cache
            .find_owners_at(
                at,
                &wanted,
                |pid, fd| procs.holds(pid, fd),
                |targets, skip| Ok(procs.walk(targets, skip, &walked)),
            )
            .unwrap();
        (found, walked.get())
    }

    #[test]
    fn a_socket_hidden_from_the_walk_is_looked_for_in_new_processes_only() {
        // Socket 7 is held by nobody the agent can see; process 1's descriptors are
        // hidden (permission denied), 100 holds socket 5.
        let mut procs = FakeProc(
            [
                (1, (false, vec![])),
                (100, (true, vec![("3".to_owned(), 5)])),
                (200, (true, vec![("0".to_owned(), 99)])),
            ]
            .into_iter()
            .collect(),
        );
        let mut cache = OwnerCache::default();
        let t0 = Instant::now();
        let (first, walked) = find(&mut cache, &procs, &[5, 7], t0);
        assert_eq!(walked, 3, "the first report walks every process");
        assert_eq!(first.owners, HashMap::from([(5, 100)]));
        assert_eq!(first.denied, 1);

        // The next report: 5 checked by its descriptor, 7 not walked for again, and the
        // hidden process still counted for the problem it explains.
        let (second, walked) = find(&mut cache, &procs, &[5, 7], t0 + Duration::from_secs(15));
        assert_eq!(walked, 0, "nothing new to walk");
        assert_eq!(second.owners, first.owners);
        assert_eq!(second.denied, 1);

        // A process started since that holds 7 (a child of the hidden one) is found,
        // walking only it.
        procs.0.insert(300, (true, vec![("4".to_owned(), 7)]));
        let (third, walked) = find(&mut cache, &procs, &[5, 7], t0 + Duration::from_secs(30));
        assert_eq!(walked, 1);
        assert_eq!(third.owners, HashMap::from([(5, 100), (7, 300)]));
        // ... and from then on checked by its descriptor.
        let (_, walked) = find(&mut cache, &procs, &[5, 7], t0 + Duration::from_secs(45));
        assert_eq!(walked, 0);

        // It goes away: 7 is looked for in every process again (it moved), then stands.
        procs.0.remove(&300);
        let (fourth, walked) = find(&mut cache, &procs, &[5, 7], t0 + Duration::from_secs(60));
        assert_eq!(walked, 3);
        assert_eq!(fourth.owners, HashMap::from([(5, 100)]));
        assert_eq!(fourth.denied, 1);
        let (_, walked) = find(&mut cache, &procs, &[5, 7], t0 + Duration::from_secs(75));
        assert_eq!(walked, 0);

        // A socket handed to a process that was already running (here 200) is seen
        // once the full walk is due again.
        procs.0.get_mut(&200).unwrap().1.push(("9".to_owned(), 7));
        let (stale, walked) = find(
            &mut cache,
            &procs,
            &[5, 7],
            t0 + Duration::from_secs(60) + REWALK_AFTER / 2,
        );
        assert_eq!((walked, stale.owners.get(&7)), (0, None));
        let (fresh, walked) = find(
            &mut cache,
            &procs,
            &[5, 7],
            t0 + Duration::from_secs(61) + REWALK_AFTER,
        );
        assert_eq!(walked, 3);
        assert_eq!(fresh.owners.get(&7), Some(&200));
    }

    #[test]
    fn hidden_processes_that_exit_no_longer_count() {
        let mut procs = FakeProc(
            [
                (1, (false, vec![])),
                (50, (false, vec![])),
                (100, (true, vec![])),
            ]
            .into_iter()
            .collect(),
        );
        let mut cache = OwnerCache::default();
        let t0 = Instant::now();
        assert_eq!(find(&mut cache, &procs, &[7], t0).0.denied, 2);
        procs.0.remove(&50);
        procs.0.insert(400, (false, vec![]));
        let (found, walked) = find(&mut cache, &procs, &[7], t0 + Duration::from_secs(15));
        assert_eq!(walked, 1, "only the new process");
        assert_eq!(found.denied, 2, "1 and 400 (50 is gone)");
        // With nothing hidden any more, a full walk makes it the kernel's.
        procs.0.clear();
        procs.0.insert(100, (true, vec![]));
        let (found, walked) = find(&mut cache, &procs, &[7], t0 + REWALK_AFTER * 2);
        assert_eq!((walked, found.denied), (1, 0));
        let (_, walked) = find(&mut cache, &procs, &[7], t0 + REWALK_AFTER * 3);
        assert_eq!(walked, 0, "the kernel's: never walked for again");
    }

    #[test]
    fn unreadable_comm_keeps_the_pid() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/proc/612/comm");
        let (got, _) = listening(&ctx_at(dir.path()));
        let sshd = ListeningSocket {
            pid: Some(612),
            ..sock("tcp", "0.0.0.0", 22, None)
        };
        assert_eq!(got[0], sshd);
    }

    #[test]
    fn truncated_and_garbage_tables_name_the_file_and_keep_the_rest() {
        let dir = broken_copy(DELL);
        write(dir.path(), "/proc/net/tcp6", b"\x00\x01garbage\n");
        truncate_half(dir.path(), "/proc/net/tcp");
        let (got, problems) = listening(&ctx_at(dir.path()));
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("/proc/net/tcp6: no table header")),
            "{problems:?}"
        );
        assert!(
            problems.iter().all(|p| p.starts_with("/proc/net/tcp")),
            "{problems:?}"
        );
        assert!(got.iter().any(|s| s.protocol == "udp" && s.port == 323));
        assert!(!got.iter().any(|s| s.protocol == "tcp6"));
        assert!(got.iter().filter(|s| s.protocol == "tcp").count() < 3);
    }

    #[test]
    fn missing_tables() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/proc/net/tcp6");
        remove(dir.path(), "/proc/net/udp6");
        let (got, problems) = listening(&ctx_at(dir.path()));
        assert_eq!(problems, Vec::<String>::new(), "IPv6 disabled is normal");
        assert_eq!(got.len(), 4);
        remove(dir.path(), "/proc/net/udp");
        let (_, problems) = listening(&ctx_at(dir.path()));
        assert_eq!(
            problems,
            vec!["/proc/net/udp: missing; udp sockets not listed"]
        );
        remove(dir.path(), "/proc/net/tcp");
        let err = ListeningCollector::default()
            .collect(&ctx_at(dir.path()))
            .unwrap_err();
        assert!(err.to_string().starts_with("/proc/net/tcp: "), "{err}");
    }

    fn live() -> Option<Context> {
        std::path::Path::new("/proc/net/tcp").exists().then(|| {
            Context::new(
                SysRoot::default(),
                std::sync::Arc::new(crate::config::AgentConfig::default()),
            )
        })
    }

    /// The name the kernel gives this process (`comm`): the executable's file name cut
    /// to 15 bytes — computed without reading `/proc`.
    fn own_comm() -> String {
        let exe = std::env::current_exe().unwrap();
        let name = exe.file_name().unwrap().to_string_lossy().into_owned();
        name.chars().take(15).collect()
    }

    #[test]
    fn live_finds_a_tcp_listener_of_this_process() {
        let Some(live) = live() else { return };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (got, _) = listening(&live);
        let mine = got
            .iter()
            .find(|s| s.protocol == "tcp" && s.port == port)
            .unwrap_or_else(|| panic!("port {port} not in {got:?}"));
        assert_eq!(mine.address, "127.0.0.1");
        assert_eq!(mine.pid, Some(std::process::id()));
        assert_eq!(mine.process, Some(own_comm()));
        drop(listener);
    }

    #[test]
    fn live_socket_diagnostics_agree_with_the_proc_tables() {
        if live().is_none() {
            return;
        }
        // Tests running beside this one open and close sockets: retry a few times for
        // two readings of the same moment.
        let mut last = String::new();
        for _ in 0..5 {
            let mut agree = true;
            for ((protocol, path), table) in TABLES.into_iter().zip(sock_diag::Table::ALL) {
                let Ok(from_diag) = sock_diag::dump(table) else {
                    return; // no inet_diag here: the collector reads /proc
                };
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let mut problems = Vec::new();
                let from_proc = if text.is_empty() {
                    Vec::new()
                } else {
                    parse_table(&text, protocol, path, &mut problems)
                };
                assert_eq!(problems, Vec::<String>::new());
                let key = |s: &RawSocket| (s.address, s.port, s.inode);
                let mut a: Vec<_> = from_diag.iter().map(key).collect();
                let mut b: Vec<_> = from_proc.iter().map(key).collect();
                a.sort();
                b.sort();
                if a != b {
                    agree = false;
                    last = format!("{protocol}: sock_diag {a:?}, {path} {b:?}");
                }
            }
            if agree {
                return;
            }
        }
        panic!("{last}");
    }

    #[test]
    fn live_finds_udp_and_ipv6_listeners_of_this_process() {
        let Some(live) = live() else { return };
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        let tcp6 = std::net::TcpListener::bind("[::1]:0").ok();
        let (got, _) = listening(&live);
        let mine = got
            .iter()
            .find(|s| s.protocol == "udp" && s.port == udp_port)
            .unwrap_or_else(|| panic!("udp port {udp_port} not in {got:?}"));
        assert_eq!(
            (mine.address.as_str(), mine.pid),
            ("127.0.0.1", Some(std::process::id()))
        );
        if let Some(tcp6) = tcp6 {
            let port = tcp6.local_addr().unwrap().port();
            let mine = got
                .iter()
                .find(|s| s.protocol == "tcp6" && s.port == port)
                .unwrap_or_else(|| panic!("tcp6 port {port} not in {got:?}"));
            assert_eq!(
                (mine.address.as_str(), mine.pid),
                ("::1", Some(std::process::id()))
            );
        }
    }
}
