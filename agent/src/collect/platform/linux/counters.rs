//! System-wide counters the sampler reads every few seconds: `/proc/stat` (CPU),
//! `/proc/meminfo` (memory), `/proc/diskstats` (disks) and `/proc/net/dev` (network).
//!
//! This module owns parsing those files and choosing which devices count; it must stay
//! cheap (a handful of small reads per call) and must not compute rates (the sampler
//! does). What counts:
//! - CPU: the aggregate `cpu` line; total = user + nice + system + idle + iowait + irq +
//!   softirq + steal (guest time is already inside user and nice); busy = total − idle
//!   − iowait, so steal counts as busy.
//! - Disks: whole disks only, so no byte is counted twice: the entries of `/sys/block`
//!   (falling back to a name rule where it cannot be read) minus loop, RAM (`ram`,
//!   `zram`) and stacked devices (`dm-*`, `md*`), whose I/O already shows on the disks
//!   beneath them. Sectors are always 512 bytes in `/proc/diskstats`.
//! - Network: interfaces backed by a device (`/sys/class/net/<if>/device` exists), i.e.
//!   the bytes on the wire. Loopback, bridges, veth, bonds, VLANs, tun/tap and other
//!   virtual interfaces are left out, since their traffic is also counted on the
//!   physical interface (or never leaves the host). Where no interface is backed by a
//!   device (e.g. inside a container), every interface but loopback counts.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use crate::root::SysRoot;
use crate::sampler::{CounterError, Counters, CpuTimes, IoCounter, MemoryUse};

const PROC_STAT: &str = "/proc/stat";
const PROC_MEMINFO: &str = "/proc/meminfo";
const PROC_DISKSTATS: &str = "/proc/diskstats";
const PROC_NET_DEV: &str = "/proc/net/dev";

/// Bytes per sector in `/proc/diskstats`, whatever the device's block size.
const SECTOR_BYTES: u64 = 512;

/// Reads every counter once. Each counter that cannot be read or parsed is an error
/// naming its file; the others are still returned. [`Reader`] does the same for a
/// sampler that reads again and again.
pub fn read(root: &SysRoot) -> Counters {
    Reader::new(root.clone()).read()
}

/// How long the list of whole disks and which interfaces are virtual are trusted before
/// they are looked up again (sooner when a device appears that they do not know).
pub const DEVICE_LOOKUP_TTL: Duration = Duration::from_secs(60);

/// Reads the counters again and again, as cheaply as the kernel lets it (the sampler
/// reads them every few seconds, so each syscall counts: opening and reading the four
/// files afresh, listing `/sys/block` and checking each interface's `device` link cost
/// about 70 syscalls and 0.65 ms of CPU per reading, most of it in the kernel).
///
/// On the live system the four files stay open and are read again from offset 0 (procfs
/// generates a file's text anew for a read at 0) into one reused buffer: two syscalls a
/// file. The whole disks (`/sys/block`) and the virtual interfaces are looked up again
/// only when a device shows up that the last lookup did not see, or
/// [`DEVICE_LOOKUP_TTL`] after it. Under a recorded system root the files are opened
/// afresh each time (tests replace them between readings).
#[derive(Debug)]
pub struct Reader {
    root: SysRoot,
    /// `/proc/stat`, `/proc/meminfo`, `/proc/diskstats`, `/proc/net/dev`, once opened
    /// (live system only).
    open: [Option<File>; 4],
    buf: Vec<u8>,
    /// The last listing of `/sys/block`.
    whole_disks: Option<DiskLookup>,
    /// Whether each interface seen is virtual, and when that was first looked up.
    virtual_interfaces: Option<(Instant, BTreeMap<String, bool>)>,
}

/// A listing of `/sys/block`, with the devices `/proc/diskstats` had then.
#[derive(Debug)]
struct DiskLookup {
    at: Instant,
    seen: BTreeSet<String>,
    /// The entries of `/sys/block`; `None` where it could not be read.
    whole: Option<BTreeSet<String>>,
}

const FILES: [&str; 4] = [PROC_STAT, PROC_MEMINFO, PROC_DISKSTATS, PROC_NET_DEV];

impl Reader {
    /// A reader of the counters under `root`.
    pub fn new(root: SysRoot) -> Reader {
        Reader {
            root,
            open: [None, None, None, None],
            buf: Vec::new(),
            whole_disks: None,
            virtual_interfaces: None,
        }
    }

    /// Reads every counter once (see [`read`]).
    pub fn read(&mut self) -> Counters {
        let now = Instant::now();
        let cpu = self.text(0).and_then(|t| parse_proc_stat(&t));
        let memory = self.text(1).and_then(|t| parse_meminfo(&t));
        let disks = self
            .text(2)
            .and_then(|t| parse_diskstats(&t))
            .map(|all| self.whole_disks_only(all, now));
        let networks = self
            .text(3)
            .and_then(|t| parse_net_dev(&t))
            .map(|all| self.physical_interfaces(all, now));
        Counters {
            cpu: cpu.map_err(CounterError::Failed),
            memory: memory.map_err(CounterError::Failed),
            disks: disks.map_err(CounterError::Failed),
            networks: networks.map_err(CounterError::Failed),
        }
    }

    /// The text of file `i` of [`FILES`], lossily UTF-8 (as [`SysRoot::read_to_string`]).
    /// Live: read from its kept descriptor at offset 0 (opened on first use; a failed
    /// read drops it, so the next reading opens it again). Recorded root: read afresh.
    fn text(&mut self, i: usize) -> Result<Cow<'_, str>, String> {
        let path = FILES[i];
        if self.root.is_live() {
            if self.open[i].is_none() {
                let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
                self.open[i] = Some(file);
            }
            let file = self.open[i].as_ref().expect("opened above");
            if let Err(e) = pread_all(file, &mut self.buf) {
                self.open[i] = None;
                return Err(format!("{path}: {e}"));
            }
        } else {
            self.buf = self.root.read(path).map_err(|e| e.to_string())?;
        }
        Ok(String::from_utf8_lossy(&self.buf))
    }

    /// The devices of `/proc/diskstats` that count, [`counts_as_disk`].
    fn whole_disks_only(&mut self, all: Vec<IoCounter>, now: Instant) -> Vec<IoCounter> {
        let stale = match &self.whole_disks {
            None => true,
            Some(lookup) => {
                now.saturating_duration_since(lookup.at) >= DEVICE_LOOKUP_TTL
                    || all.iter().any(|d| !lookup.seen.contains(&d.name))
            }
        };
        if stale {
            self.whole_disks = Some(DiskLookup {
                at: now,
                seen: all.iter().map(|d| d.name.clone()).collect(),
                whole: self
                    .root
                    .read_dir("/sys/block")
                    .ok()
                    .map(BTreeSet::from_iter),
            });
        }
        let whole = self.whole_disks.as_ref().and_then(|l| l.whole.as_ref());
        all.into_iter()
            .filter(|d| counts_as_disk(&d.name, whole))
            .collect()
    }

    /// The interfaces of `/proc/net/dev` that count, [`counted_interfaces`].
    fn physical_interfaces(&mut self, all: Vec<IoCounter>, now: Instant) -> Vec<IoCounter> {
        let (at, known) = self
            .virtual_interfaces
            .get_or_insert_with(|| (now, BTreeMap::new()));
        if now.saturating_duration_since(*at) >= DEVICE_LOOKUP_TTL {
            *at = now;
            known.clear();
        }
        for i in &all {
            if i.name != "lo" && !known.contains_key(&i.name) {
                known.insert(i.name.clone(), is_virtual_interface(&self.root, &i.name));
            }
        }
        counted_interfaces(all, |name| known.get(name).copied().unwrap_or(false))
    }
}

/// Reads the whole of `file` from offset 0 into `buf` (its capacity kept between calls):
/// usually one `pread` for the text and one that finds its end.
fn pread_all(file: &File, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    if buf.capacity() < 4096 {
        buf.reserve(4096);
    }
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() as u64 > crate::root::MAX_READ_BYTES {
                return Err(std::io::Error::other(format!(
                    "file is larger than {} bytes",
                    crate::root::MAX_READ_BYTES
                )));
            }
            buf.reserve(buf.capacity());
        }
        let start = buf.len();
        buf.resize(buf.capacity(), 0);
        match file.read_at(&mut buf[start..], start as u64) {
            Ok(0) => {
                buf.truncate(start);
                return Ok(());
            }
            Ok(n) => buf.truncate(start + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
}

/// The aggregate `cpu` line of `/proc/stat`.
pub fn parse_proc_stat(text: &str) -> Result<CpuTimes, String> {
    let line = text
        .lines()
        .find(|line| line.split_whitespace().next() == Some("cpu"))
        .ok_or_else(|| format!("{PROC_STAT}: no aggregate `cpu` line"))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{PROC_STAT}: `cpu` line: {e}: {line:?}"))?;
    // user nice system idle [iowait irq softirq [steal [guest [guest_nice]]]]
    if fields.len() < 4 {
        return Err(format!(
            "{PROC_STAT}: `cpu` line has {} fields, expected at least 4: {line:?}",
            fields.len()
        ));
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or(0);
    let total = (0..8).map(field).fold(0u64, u64::saturating_add);
    let idle = field(3).saturating_add(field(4));
    Ok(CpuTimes {
        busy: total.saturating_sub(idle),
        total,
    })
}

/// `MemTotal` and `MemAvailable` of `/proc/meminfo` (kernels before 3.14 lack
/// `MemAvailable`: `MemFree + Buffers + Cached` stands in for it).
pub fn parse_meminfo(text: &str) -> Result<MemoryUse, String> {
    let value = |key: &str| -> Result<Option<u64>, String> {
        let Some(line) = text.lines().find(|l| l.split(':').next() == Some(key)) else {
            return Ok(None);
        };
        let rest = line.split_once(':').map_or("", |(_, rest)| rest);
        let mut parts = rest.split_whitespace();
        let number: u64 = parts
            .next()
            .ok_or_else(|| format!("{PROC_MEMINFO}: `{key}` has no value"))?
            .parse()
            .map_err(|e| format!("{PROC_MEMINFO}: `{key}`: {e}: {line:?}"))?;
        match parts.next() {
            Some("kB") => Ok(Some(number.saturating_mul(1024))),
            None => Ok(Some(number)),
            Some(unit) => Err(format!("{PROC_MEMINFO}: `{key}`: unknown unit `{unit}`")),
        }
    };
    let total = value("MemTotal")?.ok_or_else(|| format!("{PROC_MEMINFO}: no `MemTotal`"))?;
    if total == 0 {
        return Err(format!("{PROC_MEMINFO}: `MemTotal` is 0"));
    }
    let available = match value("MemAvailable")? {
        Some(available) => available,
        None => {
            let free = value("MemFree")?
                .ok_or_else(|| format!("{PROC_MEMINFO}: neither `MemAvailable` nor `MemFree`"))?;
            free.saturating_add(value("Buffers")?.unwrap_or(0))
                .saturating_add(value("Cached")?.unwrap_or(0))
        }
    };
    Ok(MemoryUse {
        total_bytes: total,
        available_bytes: available.min(total),
    })
}

/// Every device of `/proc/diskstats` with its bytes read and written.
pub fn parse_diskstats(text: &str) -> Result<Vec<IoCounter>, String> {
    let mut devices = Vec::new();
    let mut width = None;
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        // major minor name reads merged sectors_read ms writes merged sectors_written
        // ms in_flight io_ms weighted_ms [discards (4.18) [flushes (5.5)]]: the kernel
        // writes every line with the same number of fields.
        if fields.len() < 14 {
            return Err(format!(
                "{PROC_DISKSTATS}: line {}: {} fields, expected at least 14: {line:?}",
                i + 1,
                fields.len()
            ));
        }
        let expected = *width.get_or_insert(fields.len());
        if fields.len() != expected {
            return Err(format!(
                "{PROC_DISKSTATS}: line {}: {} fields where line 1 has {expected} (truncated?): {line:?}",
                i + 1,
                fields.len()
            ));
        }
        let number = |j: usize| {
            fields[j].parse::<u64>().map_err(|e| {
                format!(
                    "{PROC_DISKSTATS}: line {}: field {}: {e}: {line:?}",
                    i + 1,
                    j + 1
                )
            })
        };
        devices.push(IoCounter {
            name: fields[2].to_owned(),
            in_bytes: number(5)?.saturating_mul(SECTOR_BYTES),
            out_bytes: number(9)?.saturating_mul(SECTOR_BYTES),
        });
    }
    Ok(devices)
}

/// Every interface of `/proc/net/dev` with its bytes received and transmitted.
pub fn parse_net_dev(text: &str) -> Result<Vec<IoCounter>, String> {
    let mut interfaces = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // Two header lines, then `  name: rx_bytes rx_packets ... tx_bytes ...`.
        let Some((name, rest)) = line.split_once(':') else {
            if i >= 2 && !line.trim().is_empty() {
                return Err(format!("{PROC_NET_DEV}: line {}: no `:`: {line:?}", i + 1));
            }
            continue;
        };
        if i < 2 && name.contains('|') {
            continue;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() < 16 {
            return Err(format!(
                "{PROC_NET_DEV}: line {}: {} counters, expected 16: {line:?}",
                i + 1,
                fields.len()
            ));
        }
        let number = |j: usize| {
            fields[j].parse::<u64>().map_err(|e| {
                format!(
                    "{PROC_NET_DEV}: line {}: counter {}: {e}: {line:?}",
                    i + 1,
                    j + 1
                )
            })
        };
        interfaces.push(IoCounter {
            name: name.trim().to_owned(),
            in_bytes: number(0)?,
            out_bytes: number(8)?,
        });
    }
    Ok(interfaces)
}

/// Whether a `/proc/diskstats` device counts: a whole disk (in `whole_disks`, the
/// entries of `/sys/block`, or by name when that is unknown) that is not loop, RAM or
/// a stacked device.
pub fn counts_as_disk(name: &str, whole_disks: Option<&BTreeSet<String>>) -> bool {
    const EXCLUDED: &[&str] = &["loop", "ram", "zram", "dm-", "md"];
    if EXCLUDED.iter().any(|prefix| name.starts_with(prefix)) {
        return false;
    }
    match whole_disks {
        Some(whole) => whole.contains(name),
        None => !looks_like_partition(name),
    }
}

/// Partition names by the kernel's conventions: `nvme0n1p2`, `mmcblk0p1`, `sda1`,
/// `vdb3`, `xvda1`, `hdc2`.
fn looks_like_partition(name: &str) -> bool {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit());
    if trimmed.len() == name.len() {
        return false;
    }
    if let Some(stem) = trimmed.strip_suffix('p') {
        // `<disk ending in a digit>p<N>`: nvme0n1p1, mmcblk0p1, nbd0p1.
        return stem.ends_with(|c: char| c.is_ascii_digit());
    }
    ["sd", "vd", "hd", "xvd"].iter().any(|prefix| {
        trimmed.starts_with(prefix)
            && trimmed[prefix.len()..]
                .chars()
                .all(|c| c.is_ascii_lowercase())
    })
}

fn is_virtual_interface(root: &SysRoot, name: &str) -> bool {
    let dir = format!("/sys/class/net/{name}");
    root.exists(&dir) && !root.exists(&format!("{dir}/device"))
}

/// The interfaces that count: not loopback and not virtual; every interface but
/// loopback when none is left.
pub fn counted_interfaces(
    all: Vec<IoCounter>,
    is_virtual: impl Fn(&str) -> bool,
) -> Vec<IoCounter> {
    let (physical, other): (Vec<IoCounter>, Vec<IoCounter>) = all
        .into_iter()
        .filter(|i| i.name != "lo")
        .partition(|i| !is_virtual(&i.name));
    if physical.is_empty() { other } else { physical }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL, fixture_path};

    const STAT: &str = "cpu  74204 10 12921 116047 930 5 165 503 7 3\n\
                        cpu0 35980 0 5831 60069 221 0 32 247 0 0\n\
                        intr 1 2 3\nctxt 5\nbtime 1700000000\n";

    #[test]
    fn proc_stat_busy_excludes_idle_and_iowait_and_guest() {
        let cpu = parse_proc_stat(STAT).unwrap();
        assert_eq!(cpu.total, 74204 + 10 + 12921 + 116047 + 930 + 5 + 165 + 503);
        assert_eq!(cpu.busy, 74204 + 10 + 12921 + 5 + 165 + 503);
        // An old kernel with only four fields.
        let old = parse_proc_stat("cpu 10 0 5 85\n").unwrap();
        assert_eq!((old.busy, old.total), (15, 100));
    }

    #[test]
    fn proc_stat_errors_name_the_file() {
        assert_eq!(
            parse_proc_stat("cpu0 1 2 3 4\n").unwrap_err(),
            "/proc/stat: no aggregate `cpu` line"
        );
        let err = parse_proc_stat("cpu 1 2 x 4\n").unwrap_err();
        assert!(
            err.starts_with("/proc/stat: `cpu` line: invalid digit"),
            "{err}"
        );
        let err = parse_proc_stat("cpu 1 2\n").unwrap_err();
        assert!(err.contains("2 fields, expected at least 4"), "{err}");
    }

    #[test]
    fn meminfo_total_and_available() {
        let text = "MemTotal:        8131204 kB\nMemFree:          411544 kB\nMemAvailable:    6123456 kB\nBuffers: 1 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.total_bytes, 8_131_204 * 1024);
        assert_eq!(m.available_bytes, 6_123_456 * 1024);
        let old =
            parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
                .unwrap();
        assert_eq!(old.available_bytes, 400 * 1024);
        assert_eq!(
            parse_meminfo("MemFree: 1 kB\n").unwrap_err(),
            "/proc/meminfo: no `MemTotal`"
        );
        let err = parse_meminfo("MemTotal: lots kB\n").unwrap_err();
        assert!(
            err.starts_with("/proc/meminfo: `MemTotal`: invalid digit"),
            "{err}"
        );
    }

    #[test]
    fn diskstats_sectors_are_512_bytes() {
        let text = " 254       0 vda 69628 8115 5575634 84209 10162 35576 8528080 97212 0 16688 185629 5095 59 493696 2367 474 1840\n\
                     254       1 vda1 100 0 2000 10 10 0 4000 5 0 1 1 0 0 0 0 0 0\n";
        let d = parse_diskstats(text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "vda");
        assert_eq!(d[0].in_bytes, 5_575_634 * 512);
        assert_eq!(d[0].out_bytes, 8_528_080 * 512);
        let err = parse_diskstats(" 8 0 sda 1 2 3\n").unwrap_err();
        assert!(
            err.starts_with("/proc/diskstats: line 1: 6 fields"),
            "{err}"
        );
        let err = parse_diskstats(" 8 0 sda 1 2 x 4 5 6 7 8 9 10 11\n").unwrap_err();
        assert!(
            err.starts_with("/proc/diskstats: line 1: field 6: invalid digit"),
            "{err}"
        );
    }

    #[test]
    fn only_whole_disks_count() {
        let whole: BTreeSet<String> = ["nvme0n1", "sda", "sdb", "dm-0", "loop0", "md127", "sr0"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let counted: Vec<&str> = [
            "nvme0n1",
            "nvme0n1p1",
            "sda",
            "sda1",
            "sdb",
            "dm-0",
            "loop0",
            "md127",
            "sr0",
            "zram0",
        ]
        .into_iter()
        .filter(|n| counts_as_disk(n, Some(&whole)))
        .collect();
        assert_eq!(counted, vec!["nvme0n1", "sda", "sdb", "sr0"]);
        // Without /sys/block, by name.
        let by_name: Vec<&str> = [
            "nvme0n1",
            "nvme0n1p3",
            "mmcblk0",
            "mmcblk0p1",
            "sda",
            "sda1",
            "sdaa",
            "sdaa12",
            "vda",
            "vda15",
            "xvda",
            "xvda1",
            "dm-1",
            "loop3",
            "ram0",
            "zram0",
            "md0",
            "md0p1",
            "sr0",
        ]
        .into_iter()
        .filter(|n| counts_as_disk(n, None))
        .collect();
        assert_eq!(
            by_name,
            vec!["nvme0n1", "mmcblk0", "sda", "sdaa", "vda", "xvda", "sr0"]
        );
    }

    #[test]
    fn net_dev_bytes_and_interface_choice() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
                    face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
                    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0\n  \
                    eth0:236771181    9663    0    0    0     0          0         0   520633    5821    0    0    0     0       0          0\n\
                    docker0: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0\n";
        let all = parse_net_dev(text).unwrap();
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["lo", "eth0", "docker0"]);
        assert_eq!((all[1].in_bytes, all[1].out_bytes), (236_771_181, 520_633));
        let counted = counted_interfaces(all.clone(), |name| name == "docker0");
        assert_eq!(counted.len(), 1);
        assert_eq!(counted[0].name, "eth0");
        // In a container every interface is virtual: all but loopback count.
        let counted = counted_interfaces(all, |_| true);
        let names: Vec<&str> = counted.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["eth0", "docker0"]);
        let err = parse_net_dev("h1\nh2\n  eth0: 1 2 3\n").unwrap_err();
        assert!(
            err.starts_with("/proc/net/dev: line 3: 3 counters, expected 16"),
            "{err}"
        );
        let err = parse_net_dev("h1\nh2\ngarbage\n").unwrap_err();
        assert!(err.starts_with("/proc/net/dev: line 3: no `:`"), "{err}");
    }

    #[test]
    fn dell_counters() {
        let c = read(&SysRoot::new(fixture_path(DELL)));
        let disks = c.disks.unwrap();
        let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["nvme0n1", "sda", "sdb", "sr0"]);
        assert_eq!(disks[0].in_bytes, 48_102_744 * 512);
        assert_eq!(disks[0].out_bytes, 301_844_120 * 512);
        let nets = c.networks.unwrap();
        let names: Vec<&str> = nets.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["eno1", "eno2"]);
        assert_eq!(
            (nets[0].in_bytes, nets[0].out_bytes),
            (918_273_645_102, 402_918_334_571)
        );
        assert_eq!((nets[1].in_bytes, nets[1].out_bytes), (0, 0));
    }

    #[test]
    fn debian_counters() {
        let c = read(&SysRoot::new(fixture_path(DEBIAN_VM)));
        let disks = c.disks.unwrap();
        let names: Vec<&str> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["vda", "sr0"]);
        assert_eq!(disks[0].in_bytes, 2_214_390 * 512);
        assert_eq!(disks[0].out_bytes, 19_844_712 * 512);
        let nets = c.networks.unwrap();
        assert_eq!(nets.len(), 1);
        assert_eq!(nets[0].name, "enp1s0");
        assert_eq!(
            (nets[0].in_bytes, nets[0].out_bytes),
            (5_823_104_551, 12_094_330_128)
        );
    }

    #[test]
    fn broken_files_are_errors_naming_the_file_and_the_rest_still_reads() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        testutil::remove(dir.path(), "/proc/diskstats");
        testutil::write(
            dir.path(),
            "/proc/net/dev",
            b"Inter-|\n face |\n  enp1s0: 12 x\n",
        );
        let c = read(&SysRoot::new(dir.path()));
        let disks = c.disks.unwrap_err().to_string();
        assert!(disks.starts_with("/proc/diskstats: "), "{disks}");
        let nets = c.networks.unwrap_err().to_string();
        assert!(nets.starts_with("/proc/net/dev: line 3"), "{nets}");
        let dir = testutil::broken_copy(DELL);
        testutil::truncate_half(dir.path(), "/proc/net/dev");
        testutil::truncate_half(dir.path(), "/proc/diskstats");
        let c = read(&SysRoot::new(dir.path()));
        let nets = c.networks.unwrap_err().to_string();
        assert!(nets.starts_with("/proc/net/dev: line 3: "), "{nets}");
        let disks = c.disks.unwrap_err().to_string();
        assert!(
            disks.starts_with("/proc/diskstats: line 5: 19 fields where line 1 has 20"),
            "{disks}"
        );
    }

    /// A reader that read once sees a disk and an interface that appear afterwards:
    /// a device `/proc/diskstats` did not list at the last lookup of `/sys/block` makes
    /// the reader list it again, and a new interface is looked up on its own.
    #[test]
    fn a_reader_counts_devices_that_appear_between_readings() {
        let dir = testutil::broken_copy(DEBIAN_VM);
        let mut reader = Reader::new(SysRoot::new(dir.path()));
        let first = reader.read();
        let names = |c: &Counters| -> (Vec<String>, Vec<String>) {
            (
                c.disks
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|d| d.name.clone())
                    .collect(),
                c.networks
                    .as_ref()
                    .unwrap()
                    .iter()
                    .map(|d| d.name.clone())
                    .collect(),
            )
        };
        assert_eq!(
            names(&first),
            (
                vec!["vda".to_owned(), "sr0".to_owned()],
                vec!["enp1s0".to_owned()]
            )
        );
        let diskstats = std::fs::read_to_string(dir.path().join("proc/diskstats")).unwrap();
        testutil::write(
            dir.path(),
            "/proc/diskstats",
            format!("{diskstats} 252       0 vdb 1 0 8 0 1 0 16 0 0 1 1 0 0 0 0 0 0\n").as_bytes(),
        );
        testutil::write(dir.path(), "/sys/block/vdb/size", b"2048\n");
        let net = std::fs::read_to_string(dir.path().join("proc/net/dev")).unwrap();
        testutil::write(
            dir.path(),
            "/proc/net/dev",
            format!("{net}enp2s0: 100 1 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n").as_bytes(),
        );
        // Like enp1s0's: a link to its device.
        testutil::write(dir.path(), "/sys/class/net/enp2s0/mtu", b"1500\n");
        std::os::unix::fs::symlink(
            std::fs::read_link(dir.path().join("sys/class/net/enp1s0/device")).unwrap(),
            dir.path().join("sys/class/net/enp2s0/device"),
        )
        .unwrap();
        let second = reader.read();
        assert_eq!(
            names(&second),
            (
                vec!["vda".to_owned(), "sr0".to_owned(), "vdb".to_owned()],
                vec!["enp1s0".to_owned(), "enp2s0".to_owned()]
            )
        );
        assert_eq!(second.disks.unwrap()[2].out_bytes, 16 * 512);
        // The same reader and a one-off reading agree.
        assert_eq!(
            names(&reader.read()),
            names(&read(&SysRoot::new(dir.path())))
        );
    }

    /// On the live system a reader's repeated readings (kept descriptors, read again at
    /// offset 0) agree with one-off readings and move forward.
    #[test]
    fn live_reader_reads_again_from_its_kept_files() {
        let root = SysRoot::default();
        if !root.exists("/proc/stat") {
            return;
        }
        let mut reader = Reader::new(root.clone());
        let a = reader.read();
        let b = reader.read();
        let fresh = read(&root);
        let (a, b, fresh) = (a.cpu.unwrap(), b.cpu.unwrap(), fresh.cpu.unwrap());
        assert!(
            a.total <= b.total && b.total <= fresh.total,
            "{a:?} {b:?} {fresh:?}"
        );
        let disks =
            |c: Counters| -> Vec<String> { c.disks.unwrap().into_iter().map(|d| d.name).collect() };
        assert_eq!(disks(reader.read()), disks(read(&root)));
        let mem = reader.read().memory.unwrap();
        assert!(mem.available_bytes <= mem.total_bytes && mem.total_bytes > 0);
    }

    /// On the live system the counters parse, and agree with an independent reading.
    #[test]
    fn live_counters_parse() {
        let root = SysRoot::default();
        if !root.exists("/proc/stat") {
            return;
        }
        let c = read(&root);
        let cpu = c.cpu.unwrap();
        assert!(cpu.busy <= cpu.total && cpu.total > 0);
        let mem = c.memory.unwrap();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let kb: u64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap();
        assert_eq!(mem.total_bytes, kb * 1024);
        assert!(c.disks.is_ok() && c.networks.is_ok());
    }
}
