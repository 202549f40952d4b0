//! The CPU and memory collectors: processor model, vendor, sockets, physical cores,
//! logical CPUs and highest clock (`/proc/cpuinfo`, `/sys/devices/system/cpu`), and
//! memory and swap sizes (`/proc/meminfo`).
//!
//! Each file is read once and parsed in one pass. Logical CPUs are the CPUs online
//! (`/sys/devices/system/cpu/online`), what `nproc` counts on an unrestricted host.
//! Memory is reported in bytes exactly as the kernel gives it (`kB` × 1024).

use std::collections::BTreeSet;

use estate_protocol::{Cpu, Memory};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

/// CPU flags worth reporting (virtualisation, crypto and vector extensions): the rest
/// of the hundred-odd flags say little about capacity or security.
pub const FLAGS_OF_INTEREST: &[&str] = &[
    // x86
    "aes",
    "avx",
    "avx2",
    "avx512f",
    "avx512_vnni",
    "amx_tile",
    "hypervisor",
    "lm",
    "nx",
    "pdpe1gb",
    "rdrand",
    "sev",
    "sev_es",
    "sev_snp",
    "sha_ni",
    "smx",
    "sse4_2",
    "svm",
    "tdx_guest",
    "vmx",
    // arm64 (`Features`)
    "asimd",
    "sha2",
    "sha512",
    "sve",
    "sve2",
];

const CPU_DIR: &str = "/sys/devices/system/cpu";

/// Collects the [`Cpu`] section.
#[derive(Debug)]
pub struct CpuCollector;

impl Collector for CpuCollector {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let root = &ctx.root;
        let mut problems = Vec::new();
        let text = root.read_to_string("/proc/cpuinfo")?;
        let info = parse_cpuinfo(&text);
        if info.processors.is_empty() {
            return Err(CollectError::parse(
                "/proc/cpuinfo",
                "no `processor` entries",
            ));
        }

        let online = match root.read_attr(&format!("{CPU_DIR}/online")) {
            Ok(Some(list)) => match parse_cpu_list(&list) {
                Some(cpus) if !cpus.is_empty() => Some(cpus),
                _ => {
                    problems.push(format!(
                        "{CPU_DIR}/online: `{list}` is not a CPU list; counted /proc/cpuinfo"
                    ));
                    None
                }
            },
            Ok(None) => None,
            Err(err) => {
                problems.push(format!("{err}; counted /proc/cpuinfo"));
                None
            }
        };
        // /proc/cpuinfo lists online processors only, so it is the fallback count.
        let online: Vec<u32> =
            online.unwrap_or_else(|| info.processors.iter().filter_map(|p| p.number).collect());
        let logical_cpus = if online.is_empty() {
            info.processors.len()
        } else {
            online.len()
        } as u32;

        let (sockets, physical_cores) = topology(root, &info, &online, &mut problems);

        let model = info.model.clone().unwrap_or_else(|| {
            problems.push("/proc/cpuinfo: no `model name`; model unknown".to_owned());
            "unknown".to_owned()
        });
        let vendor = info.vendor.clone().unwrap_or_else(|| {
            problems.push("/proc/cpuinfo: no `vendor_id`; vendor unknown".to_owned());
            "unknown".to_owned()
        });
        let max_mhz = max_freq_mhz(root).or(info.max_current_mhz);
        let flags = FLAGS_OF_INTEREST
            .iter()
            .filter(|flag| info.flags.contains(**flag))
            .map(|flag| (*flag).to_owned())
            .collect();

        let cpu = Cpu {
            model,
            vendor,
            sockets,
            physical_cores,
            logical_cpus,
            max_mhz,
            flags,
        };
        Ok(Collected::partial(Section::Cpu(cpu), problems))
    }
}

/// What `/proc/cpuinfo` says.
#[derive(Debug, Default)]
pub struct CpuInfo {
    /// One entry per processor block.
    pub processors: Vec<Processor>,
    /// `model name` (x86), `Processor`/`cpu` (older arm, powerpc) of the first block.
    pub model: Option<String>,
    /// `vendor_id` (x86) or the `CPU implementer` name (arm64) of the first block.
    pub vendor: Option<String>,
    /// `flags` (x86) or `Features` (arm64) of the first block.
    pub flags: BTreeSet<String>,
    /// Highest `cpu MHz` (the current clock, a floor for the maximum).
    pub max_current_mhz: Option<f64>,
}

/// One processor block of `/proc/cpuinfo`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Processor {
    /// `processor`.
    pub number: Option<u32>,
    /// `physical id` (the socket).
    pub physical_id: Option<u32>,
    /// `core id` (within the socket).
    pub core_id: Option<u32>,
}

/// Parses `/proc/cpuinfo` in one pass. Unknown keys and malformed lines are skipped.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo::default();
    let mut current: Option<Processor> = None;
    let mut implementer: Option<String> = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim_end();
        let value = value.trim();
        let first = info.processors.is_empty();
        match key {
            "processor" => {
                if let Some(done) = current.take() {
                    info.processors.push(done);
                }
                current = Some(Processor {
                    number: value.parse().ok(),
                    ..Processor::default()
                });
            }
            "physical id" => {
                if let Some(p) = current.as_mut() {
                    p.physical_id = value.parse().ok();
                }
            }
            "core id" => {
                if let Some(p) = current.as_mut() {
                    p.core_id = value.parse().ok();
                }
            }
            "cpu MHz" | "clock" => {
                let mhz = value.trim_end_matches("MHz").trim().parse::<f64>().ok();
                if let Some(mhz) = mhz.filter(|m| m.is_finite() && *m > 0.0) {
                    info.max_current_mhz = Some(info.max_current_mhz.map_or(mhz, |m| m.max(mhz)));
                }
            }
            "model name" | "Processor" | "cpu"
                if first && info.model.is_none() && !value.is_empty() =>
            {
                info.model = Some(value.to_owned());
            }
            "vendor_id" if first && !value.is_empty() => info.vendor = Some(value.to_owned()),
            "CPU implementer" if first => implementer = Some(value.to_owned()),
            "flags" | "Features" if first => {
                info.flags = value.split_whitespace().map(str::to_owned).collect();
            }
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        info.processors.push(done);
    }
    if info.vendor.is_none() {
        info.vendor = implementer.map(|code| arm_implementer(&code));
    }
    info
}

/// The name of an arm64 `CPU implementer` code.
fn arm_implementer(code: &str) -> String {
    let name = match code.to_ascii_lowercase().as_str() {
        "0x41" => "ARM",
        "0x42" => "Broadcom",
        "0x43" => "Cavium",
        "0x46" => "Fujitsu",
        "0x48" => "HiSilicon",
        "0x4e" => "NVIDIA",
        "0x50" => "APM",
        "0x51" => "Qualcomm",
        "0x61" => "Apple",
        "0x6d" => "Microsoft",
        "0xc0" => "Ampere",
        _ => return format!("implementer {code}"),
    };
    name.to_owned()
}

/// Parses a kernel CPU list such as `0-3,8,10-11`. `None` when malformed.
pub fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((start, end)) => {
                let (start, end): (u32, u32) = (start.parse().ok()?, end.parse().ok()?);
                if end < start || end - start > 65_535 {
                    return None;
                }
                cpus.extend(start..=end);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// Sockets (distinct `physical id`) and physical cores (distinct (`physical id`,
/// `core id`)) among online CPUs, from `/proc/cpuinfo`, else from sysfs topology
/// (`physical_package_id`, `core_id`), else one socket of one core per CPU with a
/// problem saying so.
fn topology(
    root: &SysRoot,
    info: &CpuInfo,
    online: &[u32],
    problems: &mut Vec<String>,
) -> (u32, u32) {
    let from_cpuinfo: Vec<(u32, u32)> = info
        .processors
        .iter()
        .filter_map(|p| Some((p.physical_id?, p.core_id?)))
        .collect();
    let pairs = if from_cpuinfo.len() == info.processors.len() {
        from_cpuinfo
    } else {
        let mut pairs = Vec::with_capacity(online.len());
        for cpu in online {
            let dir = format!("{CPU_DIR}/cpu{cpu}/topology");
            let read = |name: &str| -> Option<u32> {
                root.read_attr(&format!("{dir}/{name}"))
                    .ok()
                    .flatten()?
                    .parse()
                    .ok()
            };
            match (read("physical_package_id"), read("core_id")) {
                (Some(package), Some(core)) => pairs.push((package, core)),
                _ => {
                    pairs.clear();
                    break;
                }
            }
        }
        pairs
    };
    if pairs.is_empty() {
        problems.push(format!(
            "/proc/cpuinfo has no physical id/core id and {CPU_DIR}/cpuN/topology is \
             unreadable; counted 1 socket and one core per logical CPU"
        ));
        return (1, online.len().max(info.processors.len()) as u32);
    }
    let sockets: BTreeSet<u32> = pairs.iter().map(|(socket, _)| *socket).collect();
    let cores: BTreeSet<(u32, u32)> = pairs.into_iter().collect();
    (sockets.len() as u32, cores.len() as u32)
}

/// Highest `cpuinfo_max_freq` (kHz) over the cpufreq policies, in MHz. `None` where
/// there is no cpufreq (most VMs).
fn max_freq_mhz(root: &SysRoot) -> Option<f64> {
    let dir = format!("{CPU_DIR}/cpufreq");
    let policies = root.read_dir(&dir).ok()?;
    policies
        .iter()
        .filter(|name| name.starts_with("policy"))
        .filter_map(|name| {
            root.read_attr(&format!("{dir}/{name}/cpuinfo_max_freq"))
                .ok()
                .flatten()?
                .parse::<u64>()
                .ok()
        })
        .filter(|khz| *khz > 0)
        .max()
        .map(|khz| khz as f64 / 1000.0)
}

/// Collects the [`Memory`] section.
#[derive(Debug)]
pub struct MemoryCollector;

impl Collector for MemoryCollector {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let text = ctx.root.read_to_string("/proc/meminfo")?;
        let (memory, problems) = parse_meminfo(&text)?;
        Ok(Collected::partial(Section::Memory(memory), problems))
    }
}

/// Parses `/proc/meminfo`: `MemTotal` is required; `MemAvailable` (Linux 3.14+) falls
/// back to `MemFree + Buffers + Cached` with a problem; missing swap lines are 0 with a
/// problem. Values are bytes (`kB` × 1024).
pub fn parse_meminfo(text: &str) -> Result<(Memory, Vec<String>), CollectError> {
    const PATH: &str = "/proc/meminfo";
    let mut total = None;
    let mut available = None;
    let mut free = None;
    let mut buffers = None;
    let mut cached = None;
    let mut swap_total = None;
    let mut swap_free = None;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "MemTotal" => &mut total,
            "MemAvailable" => &mut available,
            "MemFree" => &mut free,
            "Buffers" => &mut buffers,
            "Cached" => &mut cached,
            "SwapTotal" => &mut swap_total,
            "SwapFree" => &mut swap_free,
            _ => continue,
        };
        let rest = rest.trim();
        let number = rest.strip_suffix("kB").unwrap_or(rest).trim();
        let bytes = number
            .parse::<u64>()
            .ok()
            .and_then(|kb| kb.checked_mul(1024))
            .ok_or_else(|| {
                CollectError::parse(PATH, format!("{key}: `{rest}` is not a size in kB"))
            })?;
        *slot = Some(bytes);
    }
    let total_bytes = total.ok_or_else(|| CollectError::parse(PATH, "no MemTotal line"))?;
    let mut problems = Vec::new();
    let available_bytes = match available {
        Some(bytes) => bytes,
        None => {
            problems.push(format!(
                "{PATH}: no MemAvailable (kernel before 3.14?); estimated as MemFree + Buffers + Cached"
            ));
            free.unwrap_or(0) + buffers.unwrap_or(0) + cached.unwrap_or(0)
        }
    };
    if swap_total.is_none() || swap_free.is_none() {
        problems.push(format!(
            "{PATH}: no SwapTotal/SwapFree lines; swap taken as 0"
        ));
    }
    Ok((
        Memory {
            total_bytes,
            available_bytes,
            swap_total_bytes: swap_total.unwrap_or(0),
            swap_free_bytes: swap_free.unwrap_or(0),
        },
        problems,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };

    fn collect_cpu(ctx: &Context) -> (Cpu, Vec<String>) {
        let collected = CpuCollector.collect(ctx).unwrap();
        match collected.section {
            Section::Cpu(cpu) => (cpu, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn memory(ctx: &Context) -> Result<(Memory, Vec<String>), CollectError> {
        let collected = MemoryCollector.collect(ctx)?;
        match collected.section {
            Section::Memory(memory) => Ok((memory, collected.problems)),
            other => panic!("wrong section {other:?}"),
        }
    }

    #[test]
    fn dell_two_sockets_of_ten_cores() {
        let (cpu, problems) = collect_cpu(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(cpu.model, "Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz");
        assert_eq!(cpu.vendor, "GenuineIntel");
        assert_eq!(cpu.sockets, 2);
        assert_eq!(cpu.physical_cores, 20);
        assert_eq!(cpu.logical_cpus, 40);
        assert_eq!(cpu.max_mhz, Some(3200.0));
        assert_eq!(
            cpu.flags,
            vec![
                "aes",
                "avx",
                "avx2",
                "avx512f",
                "avx512_vnni",
                "lm",
                "nx",
                "pdpe1gb",
                "rdrand",
                "smx",
                "sse4_2",
                "vmx"
            ]
        );
    }

    #[test]
    fn debian_vm_four_vcpus_without_cpufreq() {
        let (cpu, problems) = collect_cpu(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(cpu.model, "Intel Xeon Processor (Cascadelake)");
        assert_eq!(cpu.sockets, 1);
        assert_eq!(cpu.physical_cores, 4);
        assert_eq!(cpu.logical_cpus, 4);
        // No cpufreq in the guest: the highest `cpu MHz`.
        assert_eq!(cpu.max_mhz, Some(2294.608));
        assert!(cpu.flags.contains(&"hypervisor".to_owned()));
        assert!(!cpu.flags.contains(&"smx".to_owned()));
    }

    #[test]
    fn without_cpufreq_the_dell_falls_back_to_the_highest_current_clock() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/sys/devices/system/cpu/cpufreq");
        let (cpu, _) = collect_cpu(&ctx_at(dir.path()));
        assert_eq!(cpu.max_mhz, Some(3199.841));
    }

    #[test]
    fn offline_cpus_are_not_counted() {
        let dir = broken_copy(DELL);
        write(
            dir.path(),
            "/sys/devices/system/cpu/online",
            b"0-19,21-38\n",
        );
        let (cpu, _) = collect_cpu(&ctx_at(dir.path()));
        assert_eq!(cpu.logical_cpus, 38);
    }

    #[test]
    fn topology_falls_back_to_sysfs_when_cpuinfo_lacks_it() {
        let dir = broken_copy(DELL);
        let text = std::fs::read_to_string(dir.path().join("proc/cpuinfo")).unwrap();
        let stripped: String = text
            .lines()
            .filter(|l| !l.starts_with("physical id") && !l.starts_with("core id"))
            .map(|l| format!("{l}\n"))
            .collect();
        write(dir.path(), "/proc/cpuinfo", stripped.as_bytes());
        let (cpu, problems) = collect_cpu(&ctx_at(dir.path()));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!((cpu.sockets, cpu.physical_cores), (2, 20));
        // And neither: an explicit problem, not a silent guess.
        remove(dir.path(), "/sys/devices/system/cpu/cpu0/topology");
        let (cpu, problems) = collect_cpu(&ctx_at(dir.path()));
        assert_eq!((cpu.sockets, cpu.physical_cores), (1, 40));
        assert!(problems[0].contains("counted 1 socket"), "{problems:?}");
    }

    #[test]
    fn broken_cpuinfo_is_an_error_or_partial_naming_the_file() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/proc/cpuinfo");
        let err = CpuCollector.collect(&ctx_at(dir.path())).unwrap_err();
        assert!(err.to_string().starts_with("/proc/cpuinfo: "), "{err}");

        write(dir.path(), "/proc/cpuinfo", b"\xff\xfegarbage\n\n");
        let err = CpuCollector.collect(&ctx_at(dir.path())).unwrap_err();
        assert_eq!(err.to_string(), "/proc/cpuinfo: no `processor` entries");

        let dir = broken_copy(DELL);
        truncate_half(dir.path(), "/proc/cpuinfo");
        write(dir.path(), "/sys/devices/system/cpu/online", b"garbage");
        let (cpu, problems) = collect_cpu(&ctx_at(dir.path()));
        // Half the blocks: 20 processors, from cpuinfo since `online` is garbage.
        assert_eq!(cpu.logical_cpus, 20);
        assert!(
            problems[0].starts_with("/sys/devices/system/cpu/online: `garbage`"),
            "{problems:?}"
        );
    }

    #[test]
    fn arm64_cpuinfo_names_the_implementer() {
        let text = "processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd aes sha2 crc32 sve\n\
                    CPU implementer\t: 0x41\nCPU part\t: 0xd0c\n\nprocessor\t: 1\n\
                    Features\t: fp asimd\nCPU implementer\t: 0x41\n";
        let info = parse_cpuinfo(text);
        assert_eq!(info.processors.len(), 2);
        assert_eq!(info.vendor.as_deref(), Some("ARM"));
        assert_eq!(info.model, None);
        assert!(info.flags.contains("sve"));
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("0"), Some(vec![0]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("a-b"), None);
    }

    #[test]
    fn memory_on_both_sysroots() {
        let (dell, problems) = memory(&ctx(DELL)).unwrap();
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            dell,
            Memory {
                total_bytes: 395_936_412 * 1024,
                available_bytes: 290_154_736 * 1024,
                swap_total_bytes: 4_194_300 * 1024,
                swap_free_bytes: 4_101_628 * 1024,
            }
        );
        let (vm, problems) = memory(&ctx(DEBIAN_VM)).unwrap();
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(
            vm,
            Memory {
                total_bytes: 8_136_628 * 1024,
                available_bytes: 6_402_816 * 1024,
                swap_total_bytes: 0,
                swap_free_bytes: 0,
            }
        );
    }

    #[test]
    fn broken_meminfo_is_an_error_or_partial_naming_the_file() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/proc/meminfo");
        let err = memory(&ctx_at(dir.path())).unwrap_err();
        assert!(err.to_string().starts_with("/proc/meminfo: "), "{err}");

        write(dir.path(), "/proc/meminfo", b"MemTotal:       lots kB\n");
        let err = memory(&ctx_at(dir.path())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/proc/meminfo: MemTotal: `lots kB` is not a size in kB"
        );

        write(dir.path(), "/proc/meminfo", b"garbage\n");
        let err = memory(&ctx_at(dir.path())).unwrap_err();
        assert_eq!(err.to_string(), "/proc/meminfo: no MemTotal line");

        // An old kernel without MemAvailable, and no swap lines.
        write(
            dir.path(),
            "/proc/meminfo",
            b"MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n",
        );
        let (mem, problems) = memory(&ctx_at(dir.path())).unwrap();
        assert_eq!(mem.available_bytes, 310 * 1024);
        assert_eq!(problems.len(), 2);
        assert!(problems[0].contains("MemAvailable"), "{problems:?}");

        // Truncated mid-file: MemTotal is first, so the total survives.
        let dir = broken_copy(DEBIAN_VM);
        truncate_half(dir.path(), "/proc/meminfo");
        let (mem, _) = memory(&ctx_at(dir.path())).unwrap();
        assert_eq!(mem.total_bytes, 8_136_628 * 1024);
    }

    /// On the machine the tests run on, the collectors agree with an independent
    /// reading of the kernel's own files.
    #[test]
    fn live_memory_total_and_cpu_count_match_the_kernel() {
        let live = ctx_at(std::path::Path::new("/"));
        let Ok(meminfo) = std::fs::read_to_string("/proc/meminfo") else {
            return;
        };
        let kb: u64 = meminfo
            .split('\n')
            .next()
            .and_then(|line| line.split_ascii_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        let (mem, _) = memory(&live).unwrap();
        assert_eq!(mem.total_bytes, kb * 1024);

        let (cpu, _) = collect_cpu(&live);
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
        let processors = cpuinfo
            .split('\n')
            .filter(|l| l.starts_with("processor"))
            .count() as u32;
        assert_eq!(cpu.logical_cpus, processors);
        // What `nproc` counts: the CPUs this process may run on (equal to the online
        // CPUs unless the test runs under a restricted affinity).
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let allowed = status
            .split('\n')
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .and_then(parse_cpu_list)
            .unwrap();
        if allowed.len() as u32 == processors {
            assert_eq!(cpu.logical_cpus, allowed.len() as u32);
        }
    }
}
