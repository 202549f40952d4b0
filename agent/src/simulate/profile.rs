//! Who each simulated host is: its class (Windows laptop, VM, physical server, ...), OS,
//! hardware, labels, neglect and load — a pure function of (seed, host index, mix).
//!
//! Nothing here is stored per host: the driver regenerates a host's profile whenever it
//! builds a report. Classes are assigned along a golden-ratio (Kronecker) sequence, so
//! every run of consecutive hosts — the first 50 as much as 100,000 — holds close to the
//! mix's proportions; everything else is drawn from the host's own [`Rng`] stream.
//! This module must not do I/O or read the clock.

use std::collections::BTreeMap;

use estate_protocol::HostIdSource;

use super::catalogue::{self, Cluster, CpuModel, Hypervisor, MachineModel, OsKind, OsRelease};
use super::rng::{Rng, Stream, mix64};

/// The kinds of host the simulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostClass {
    /// A Windows laptop.
    WindowsLaptop,
    /// A Windows desktop.
    WindowsDesktop,
    /// A Linux laptop or desktop.
    LinuxEndpoint,
    /// A virtual machine (server).
    VirtualServer,
    /// A physical server.
    PhysicalServer,
}

impl HostClass {
    /// Every class, in the order of [`Mix::weights`].
    pub const ALL: [HostClass; 5] = [
        HostClass::WindowsLaptop,
        HostClass::WindowsDesktop,
        HostClass::LinuxEndpoint,
        HostClass::VirtualServer,
        HostClass::PhysicalServer,
    ];

    /// A server rather than an endpoint.
    pub fn is_server(self) -> bool {
        matches!(self, HostClass::VirtualServer | HostClass::PhysicalServer)
    }
}

/// The proportions of a simulated estate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Share of each class, in the order of [`HostClass::ALL`] (normalised when used).
    pub weights: [f64; 5],
    /// Probability that an endpoint is neglected.
    pub neglected_endpoint: f64,
    /// Probability that a server is neglected.
    pub neglected_server: f64,
    /// Probability that an endpoint is idle (CPU p95 under 5 %).
    pub idle_endpoint: f64,
    /// Probability that a server is idle.
    pub idle_server: f64,
}

impl Mix {
    /// A county council: 95 % endpoints (Windows 10/11 laptops and desktops, a few Linux
    /// machines) and 5 % servers, four in five of them VMs.
    pub const COUNCIL: Mix = Mix {
        weights: [0.52, 0.38, 0.05, 0.04, 0.01],
        neglected_endpoint: 0.06,
        neglected_server: 0.15,
        idle_endpoint: 0.15,
        idle_server: 0.20,
    };

    /// Only the server room: the servers of [`Mix::COUNCIL`] in the same proportions.
    pub const SERVERS: Mix = Mix {
        weights: [0.0, 0.0, 0.0, 0.8, 0.2],
        neglected_endpoint: 0.06,
        neglected_server: 0.15,
        idle_endpoint: 0.15,
        idle_server: 0.20,
    };

    /// The mix called `name` (`council`, `servers`).
    pub fn named(name: &str) -> Option<Mix> {
        match name {
            "council" => Some(Mix::COUNCIL),
            "servers" => Some(Mix::SERVERS),
            _ => None,
        }
    }

    /// The class at position `u` in [0, 1) of the cumulative weights.
    fn class_at(&self, u: f64) -> HostClass {
        let total: f64 = self.weights.iter().map(|w| w.max(0.0)).sum();
        let mut target = u * total;
        for (class, weight) in HostClass::ALL.iter().zip(self.weights) {
            let weight = weight.max(0.0);
            if target < weight {
                return *class;
            }
            target -= weight;
        }
        // Rounding at the top end: the last class with a weight.
        HostClass::ALL
            .iter()
            .zip(self.weights)
            .rev()
            .find(|(_, w)| *w > 0.0)
            .map(|(c, _)| *c)
            .unwrap_or(HostClass::WindowsLaptop)
    }
}

/// What the host runs on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Platform {
    /// A physical machine of this model.
    Physical(MachineModel),
    /// A VM on this cluster, with firmware of this kind.
    Virtual {
        /// The cluster.
        cluster: Cluster,
        /// UEFI firmware (newer VMs) rather than BIOS.
        efi: bool,
    },
}

/// How a host is looked after and configured: what the health checks look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Traits {
    /// Neglected: old OS, not patched, problems left unfixed.
    pub neglected: bool,
    /// Idle: CPU p95 under 5 %.
    pub idle: bool,
    /// A filesystem nearly full (under 5 % available).
    pub disk_nearly_full: bool,
    /// A reboot is pending to finish updates.
    pub reboot_pending: bool,
    /// A telnet server listens.
    pub telnet: bool,
    /// NetBIOS (TCP 139, UDP 137/138) listens.
    pub netbios: bool,
    /// Remote desktop listens (Windows).
    pub rdp: bool,
    /// Remote desktop requires network level authentication (Windows).
    pub rdp_nla: bool,
    /// The SMB1 server and client are enabled (Windows: on by default up to Windows 8.1 and
    /// Server 2012 R2, left on by some neglected hosts later).
    pub smb1: bool,
    /// Days since the last package change at the anchor date.
    pub days_since_patch: u32,
    /// Days since boot at the anchor date.
    pub uptime_days: u32,
    /// Days since the OS was installed, at the anchor date.
    pub install_age_days: u32,
    /// Booted through UEFI.
    pub uefi: bool,
    /// Secure Boot enforcing.
    pub secure_boot: bool,
    /// The system volume is encrypted (BitLocker, LUKS).
    pub encrypted: bool,
    /// A host firewall is active.
    pub firewall: bool,
    /// Automatic updates are on.
    pub auto_updates: bool,
    /// Time synchronisation is running.
    pub time_sync: bool,
    /// Antivirus/EDR product, if any.
    pub antivirus: Option<&'static str>,
    /// Power is measured (RAPL on a physical Linux host).
    pub power_measured: bool,
    /// A service unit has failed.
    pub failed_unit: bool,
    /// The host probes one of its own services (servers with a web front end).
    pub probe: bool,
    /// Firmware has been updated since launch (the BIOS date is later than the model's).
    pub bios_updated: bool,
    /// Root may log in over SSH with a password (Linux).
    pub ssh_root_password: bool,
}

/// The host's typical load, from which each window's samples are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    /// Typical CPU busy ratio.
    pub cpu_base: f64,
    /// Highest CPU busy ratio a spike reaches.
    pub cpu_peak: f64,
    /// Probability that a sample is a spike.
    pub spike_chance: f64,
    /// Typical memory used ratio.
    pub memory_base: f64,
    /// Typical disk throughput (read + write), bytes per second.
    pub disk_bytes_per_second: f64,
    /// Typical network throughput (receive + transmit), bytes per second.
    pub network_bytes_per_second: f64,
}

/// One simulated host, as far as it does not change over time.
#[derive(Debug, Clone, PartialEq)]
pub struct HostProfile {
    /// Position in the fleet (0-based).
    pub index: u64,
    /// The class.
    pub class: HostClass,
    /// The OS release.
    pub os: OsRelease,
    /// The Windows edition (empty for Linux).
    pub edition: &'static str,
    /// Physical model or VM platform.
    pub platform: Platform,
    /// The CPU model (a VM sees its cluster's).
    pub cpu: CpuModel,
    /// Sockets as the OS sees them.
    pub sockets: u32,
    /// Physical cores as the OS sees them.
    pub physical_cores: u32,
    /// Logical CPUs.
    pub logical_cpus: u32,
    /// Installed memory, GiB.
    pub memory_gib: u64,
    /// Stable host id.
    pub host_id: String,
    /// Where the id comes from (machine-id on Linux, the MachineGuid on Windows).
    pub host_id_source: HostIdSource,
    /// Host name.
    pub hostname: String,
    /// Labels (site, role, department or owner, criticality, environment).
    pub labels: BTreeMap<String, String>,
    /// The role label's value.
    pub role: &'static str,
    /// How the host is looked after.
    pub traits: Traits,
    /// Its load.
    pub load: Load,
    /// A second octet for its addresses (by site).
    pub subnet: u8,
}

impl HostProfile {
    /// Windows (client or server).
    pub fn is_windows(&self) -> bool {
        self.os.kind != OsKind::Linux
    }

    /// A VM.
    pub fn is_virtual(&self) -> bool {
        matches!(self.platform, Platform::Virtual { .. })
    }
}

/// 1 / golden ratio: the Kronecker sequence with the lowest discrepancy.
const INV_PHI: f64 = 0.618_033_988_749_894_9;

/// The class of host `index`: the golden-ratio sequence started at a seed-dependent
/// point, mapped through the mix's cumulative weights.
pub fn class_of(seed: u64, index: u64, mix: &Mix) -> HostClass {
    let start = (mix64(seed ^ 0x5eed) >> 11) as f64 / (1u64 << 53) as f64;
    let u = (start + index as f64 * INV_PHI).fract();
    mix.class_at(u)
}

/// Generates host `index` of the fleet `seed` with proportions `mix`.
pub fn profile(seed: u64, index: u64, mix: &Mix) -> HostProfile {
    let class = class_of(seed, index, mix);
    let mut rng = Rng::keyed(seed, index, Stream::Profile, 0);
    let neglect_p = if class.is_server() {
        mix.neglected_server
    } else {
        mix.neglected_endpoint
    };
    let neglected = rng.chance(neglect_p);
    let idle_p = if class.is_server() {
        mix.idle_server
    } else {
        mix.idle_endpoint
    };
    let idle = rng.chance(idle_p);

    // The OS: neglected hosts run a legacy release three times in four.
    let legacy = neglected && rng.chance(0.75);
    let os_list = match (class, legacy) {
        (HostClass::WindowsLaptop | HostClass::WindowsDesktop, false) => {
            catalogue::WINDOWS_CLIENT_CURRENT
        }
        (HostClass::WindowsLaptop | HostClass::WindowsDesktop, true) => {
            catalogue::WINDOWS_CLIENT_LEGACY
        }
        (HostClass::LinuxEndpoint, false) => catalogue::LINUX_ENDPOINT_CURRENT,
        (HostClass::LinuxEndpoint, true) => catalogue::LINUX_ENDPOINT_LEGACY,
        (_, false) => catalogue::SERVER_CURRENT,
        (_, true) => catalogue::SERVER_LEGACY,
    };
    let os = *rng.weighted(os_list).unwrap_or(&catalogue::WIN11_23H2);
    let edition = rng.pick(os.editions).copied().unwrap_or("");

    // The role decides what the server runs; Windows-only roles stay on Windows.
    let role: &'static str = match class {
        HostClass::WindowsLaptop => "laptop",
        HostClass::WindowsDesktop => "desktop",
        HostClass::LinuxEndpoint => "workstation",
        _ => {
            let linux = os.kind == OsKind::Linux;
            let roles: Vec<(f64, (&str, &str, bool))> = catalogue::SERVER_ROLES
                .iter()
                .filter(|(_, (_, _, linux_ok))| !linux || *linux_ok)
                .copied()
                .collect();
            rng.weighted(&roles)
                .map(|(r, _, _)| *r)
                .unwrap_or("application")
        }
    };

    // Hardware: machines of the OS's era (an old OS on old hardware).
    let platform = match class {
        HostClass::VirtualServer => {
            let weighted: Vec<(f64, Cluster)> =
                catalogue::CLUSTERS.iter().map(|c| (c.weight, *c)).collect();
            let cluster = *rng.weighted(&weighted).unwrap_or(&catalogue::CLUSTERS[0]);
            // Old guest OSes were installed as BIOS VMs; newer ones mostly EFI.
            let efi = !os.legacy && os.year >= 2016 && rng.chance(0.7);
            Platform::Virtual { cluster, efi }
        }
        _ => {
            let models = match class {
                HostClass::WindowsLaptop => catalogue::LAPTOPS,
                HostClass::WindowsDesktop => catalogue::DESKTOPS,
                HostClass::LinuxEndpoint if rng.chance(0.5) => catalogue::LAPTOPS,
                HostClass::LinuxEndpoint => catalogue::DESKTOPS,
                _ => catalogue::SERVERS,
            };
            Platform::Physical(pick_machine(&mut rng, models, &os, neglected))
        }
    };
    let (cpu, sockets, physical_cores, logical_cpus, memory_gib) = match &platform {
        Platform::Physical(model) => {
            let cpu = *rng.pick(model.cpus).unwrap_or(&model.cpus[0]);
            let memory = *rng.pick(model.memory_gib).unwrap_or(&16);
            (
                cpu,
                model.sockets,
                cpu.cores * model.sockets,
                cpu.threads * model.sockets,
                memory,
            )
        }
        Platform::Virtual { cluster, .. } => {
            let vcpus = *rng
                .weighted(&[(0.30, 2u32), (0.40, 4), (0.22, 8), (0.08, 16)])
                .unwrap_or(&4);
            let memory = match role {
                "database" => vcpus as u64 * 8,
                "file-server" | "backup" => vcpus as u64 * 3,
                _ => vcpus as u64 * 4,
            }
            .max(4);
            // VMware's default of one core per socket, still common on older VMs.
            let sockets = if cluster.hypervisor == Hypervisor::Vmware && rng.chance(0.5) {
                vcpus
            } else {
                1
            };
            (cluster.cpu, sockets, vcpus, vcpus, memory)
        }
    };

    let mut ids = Rng::keyed(seed, index, Stream::Identity, 0);
    let (host_id, host_id_source) = if os.kind == OsKind::Linux {
        (ids.hex(16), HostIdSource::MachineId)
    } else {
        // The MachineGuid in HKLM\SOFTWARE\Microsoft\Cryptography.
        let mut bytes = ids.bytes16();
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        (
            uuid::Uuid::from_bytes(bytes).hyphenated().to_string(),
            HostIdSource::MachineId,
        )
    };

    // Labels.
    let mut labels = BTreeMap::new();
    let subnet;
    let hostname = if class.is_server() {
        let site = *rng
            .weighted(catalogue::SERVER_SITES)
            .unwrap_or(&"county-hall-dc");
        subnet = if site == "county-hall-dc" { 20 } else { 21 };
        labels.insert("site".to_owned(), site.to_owned());
        let owner = rng.pick(catalogue::SERVER_OWNERS).copied().unwrap_or("ict");
        if !(neglected && rng.chance(0.4)) {
            labels.insert("owner".to_owned(), owner.to_owned());
        }
        labels.insert("department".to_owned(), "ict".to_owned());
        let criticality = *rng
            .weighted(&[(0.3, "high"), (0.5, "medium"), (0.2, "low")])
            .unwrap_or(&"medium");
        labels.insert("criticality".to_owned(), criticality.to_owned());
        let environment = if role == "test" { "test" } else { "production" };
        labels.insert("environment".to_owned(), environment.to_owned());
        let code = catalogue::SERVER_ROLES
            .iter()
            .find(|(_, (r, _, _))| *r == role)
            .map(|(_, (_, code, _))| *code)
            .unwrap_or("SRV");
        if os.kind == OsKind::Linux {
            format!("lnx-{}-{index:05}", code.to_ascii_lowercase())
        } else {
            format!("SRV-{code}-{index:05}")
        }
    } else {
        let (site, code) = *rng
            .weighted(catalogue::ENDPOINT_SITES)
            .unwrap_or(&("county-hall", "CH"));
        let position = catalogue::ENDPOINT_SITES
            .iter()
            .position(|(_, (s, _))| *s == site)
            .unwrap_or(0);
        subnet = 30 + u8::try_from(position).unwrap_or(0);
        labels.insert("site".to_owned(), site.to_owned());
        let department = rng.pick(catalogue::DEPARTMENTS).copied().unwrap_or("ict");
        if !(neglected && rng.chance(0.3)) {
            labels.insert("department".to_owned(), department.to_owned());
        }
        let criticality = if rng.chance(0.15) { "medium" } else { "low" };
        labels.insert("criticality".to_owned(), criticality.to_owned());
        match class {
            HostClass::WindowsLaptop => format!("LT-{code}-{index:06}"),
            HostClass::WindowsDesktop => format!("DT-{code}-{index:06}"),
            _ => format!("ws-{}-{index:06}", code.to_ascii_lowercase()),
        }
    };
    labels.insert("role".to_owned(), role.to_owned());

    let traits = traits(&mut rng, class, &os, &platform, role, neglected, idle);
    let load = load(&mut rng, class, role, idle);
    HostProfile {
        index,
        class,
        os,
        edition,
        platform,
        cpu,
        sockets,
        physical_cores,
        logical_cpus,
        memory_gib,
        host_id,
        host_id_source,
        hostname,
        labels,
        role,
        traits,
        load,
        subnet,
    }
}

/// A machine of the OS's era: a neglected host keeps the oldest hardware that runs its
/// OS; the rest are spread over the models launched since the OS came out (or the last
/// few years).
fn pick_machine(
    rng: &mut Rng,
    models: &[MachineModel],
    os: &OsRelease,
    neglected: bool,
) -> MachineModel {
    let era_start = if neglected { os.year - 6 } else { os.year - 4 };
    let fitting: Vec<MachineModel> = models
        .iter()
        .filter(|m| m.year >= era_start && (m.year <= os.year + 6 || !os.legacy))
        .copied()
        .collect();
    let pool = if fitting.is_empty() {
        models.to_vec()
    } else {
        fitting
    };
    // Newer models more often, unless the host is neglected.
    let weighted: Vec<(f64, MachineModel)> = pool
        .iter()
        .map(|m| {
            let age = (2026 - m.year).max(0) as f64;
            let weight = if neglected {
                1.0 + age
            } else {
                1.0 / (1.0 + age / 3.0)
            };
            (weight, *m)
        })
        .collect();
    *rng.weighted(&weighted).unwrap_or(&pool[0])
}

fn traits(
    rng: &mut Rng,
    class: HostClass,
    os: &OsRelease,
    platform: &Platform,
    role: &str,
    neglected: bool,
    idle: bool,
) -> Traits {
    let windows = os.kind != OsKind::Linux;
    let server = class.is_server();
    let physical = matches!(platform, Platform::Physical(_));
    let days_since_patch = if neglected {
        rng.range_u64(90, 540) as u32
    } else if windows {
        // Patch Tuesday: within the last month or so.
        rng.range_u64(1, 35) as u32
    } else {
        rng.range_u64(0, 21) as u32
    };
    let uptime_days = if neglected {
        rng.range_u64(days_since_patch as u64 / 2, 600) as u32
    } else if server {
        rng.range_u64(0, days_since_patch as u64 + 7) as u32
    } else {
        rng.range_u64(0, 14) as u32
    };
    let install_age_days = rng.range_u64(200, 1_800) as u32;
    let uefi = match platform {
        Platform::Virtual { efi, .. } => *efi,
        Platform::Physical(model) => model.year >= 2017 || (model.year >= 2015 && rng.chance(0.5)),
    };
    let secure_boot = uefi && rng.chance(if neglected { 0.3 } else { 0.85 });
    let encrypted = match class {
        HostClass::WindowsLaptop => rng.chance(if neglected { 0.4 } else { 0.95 }),
        HostClass::WindowsDesktop => rng.chance(if neglected { 0.1 } else { 0.6 }),
        HostClass::LinuxEndpoint => rng.chance(0.7),
        _ => rng.chance(0.1),
    };
    let telnet = neglected && server && rng.chance(if windows { 0.15 } else { 0.35 });
    let netbios = if windows {
        neglected || rng.chance(0.35)
    } else {
        role == "file-server" && (neglected || rng.chance(0.3))
    };
    let rdp = windows && (server || rng.chance(0.3));
    let rdp_nla = rdp && !(neglected && rng.chance(0.6));
    let smb1 = windows && (os.build <= 9600 || (neglected && rng.chance(0.3)));
    let antivirus = if neglected && rng.chance(0.3) {
        None
    } else if windows {
        rng.weighted(catalogue::WINDOWS_AV)
            .map(|(name, _, _)| *name)
    } else if rng.chance(0.6) {
        Some("CrowdStrike Falcon")
    } else {
        None
    };
    Traits {
        neglected,
        idle,
        disk_nearly_full: rng.chance(if neglected { 0.4 } else { 0.03 }),
        reboot_pending: rng.chance(if neglected { 0.6 } else { 0.08 }),
        telnet,
        netbios,
        rdp,
        rdp_nla,
        smb1,
        days_since_patch,
        uptime_days,
        install_age_days,
        uefi,
        secure_boot,
        encrypted,
        firewall: rng.chance(if neglected { 0.5 } else { 0.97 }),
        auto_updates: rng.chance(if neglected {
            0.2
        } else if server {
            0.5
        } else {
            0.95
        }),
        time_sync: rng.chance(if neglected { 0.8 } else { 0.995 }),
        antivirus,
        power_measured: physical && !windows && rng.chance(0.8),
        failed_unit: rng.chance(if neglected { 0.3 } else { 0.03 }),
        probe: server && matches!(role, "web" | "application") && rng.chance(0.8),
        bios_updated: !neglected && rng.chance(0.7),
        ssh_root_password: !windows && neglected && rng.chance(0.5),
    }
}

fn load(rng: &mut Rng, class: HostClass, role: &str, idle: bool) -> Load {
    let server = class.is_server();
    let cpu_base = if idle {
        rng.range_f64(0.004, 0.02)
    } else if server {
        let busy = match role {
            "database" | "remote-desktop" | "application" => 0.12,
            "backup" | "file-server" => 0.06,
            _ => 0.08,
        };
        (busy * (0.8 * rng.normalish()).exp()).clamp(0.02, 0.7)
    } else {
        (0.06 * (0.6 * rng.normalish()).exp()).clamp(0.02, 0.35)
    };
    let cpu_peak = if idle {
        0.045
    } else {
        (cpu_base * rng.range_f64(3.0, 8.0)).clamp(0.1, 1.0)
    };
    let memory_base = if server {
        rng.range_f64(0.30, 0.85)
    } else {
        rng.range_f64(0.40, 0.80)
    };
    let (disk, network) = if server {
        let scale = match role {
            "database" | "backup" | "file-server" => 4.0e6,
            _ => 1.0e6,
        };
        (
            scale * (0.8 * rng.normalish()).exp(),
            scale * 0.8 * (0.8 * rng.normalish()).exp(),
        )
    } else {
        (
            2.0e5 * (0.8 * rng.normalish()).exp(),
            5.0e4 * (0.8 * rng.normalish()).exp(),
        )
    };
    let idle_scale = if idle { 0.05 } else { 1.0 };
    Load {
        cpu_base,
        cpu_peak,
        spike_chance: if idle { 0.02 } else { 0.06 },
        memory_base,
        disk_bytes_per_second: disk * idle_scale,
        network_bytes_per_second: network * idle_scale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fleets_already_hold_the_mix() {
        for seed in 0..200u64 {
            let classes: Vec<HostClass> =
                (0..50).map(|i| class_of(seed, i, &Mix::COUNCIL)).collect();
            let servers = classes.iter().filter(|c| c.is_server()).count();
            let linux = classes
                .iter()
                .filter(|c| **c == HostClass::LinuxEndpoint)
                .count();
            let vms = classes
                .iter()
                .filter(|c| **c == HostClass::VirtualServer)
                .count();
            assert!((1..=4).contains(&servers), "seed {seed}: {servers} servers");
            assert!(
                (1..=4).contains(&linux),
                "seed {seed}: {linux} Linux endpoints"
            );
            assert!(vms >= 1, "seed {seed}: no VM");
        }
    }

    #[test]
    fn the_servers_mix_has_only_servers() {
        assert!((0..500).all(|i| class_of(3, i, &Mix::SERVERS).is_server()));
        assert_eq!(Mix::named("servers"), Some(Mix::SERVERS));
        assert_eq!(Mix::named("nope"), None);
    }

    #[test]
    fn profiles_are_deterministic_and_differ_by_seed() {
        let a = profile(11, 123, &Mix::COUNCIL);
        assert_eq!(a, profile(11, 123, &Mix::COUNCIL));
        let b = profile(12, 123, &Mix::COUNCIL);
        assert_ne!(a.host_id, b.host_id);
    }

    #[test]
    fn idle_hosts_stay_under_five_percent() {
        for i in 0..2_000 {
            let p = profile(5, i, &Mix::COUNCIL);
            if p.traits.idle {
                assert!(p.load.cpu_peak < 0.05, "{}", p.hostname);
            }
            assert!(p.load.cpu_base > 0.0 && p.load.cpu_base <= p.load.cpu_peak);
        }
    }
}
