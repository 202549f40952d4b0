//! The simulator's tables of realistic values: operating system releases, CPU models,
//! hardware models, virtual platforms, software and services, sites, roles and
//! departments.
//!
//! Values are facts as vendors publish them (CPU cores, threads and base clocks from
//! Intel ARK and AMD's product pages; Windows build numbers and OS release names from the
//! vendors' release pages, the same ones `config/data/os-lifecycle.toml` cites) or the
//! strings the agent's collectors report for such hardware (DMI vendors and products,
//! hypervisor disk models, MAC prefixes of the hypervisors' OUIs). Every CPU model here
//! is in `config/data/cpu-power.toml` or matched by one of its family rules, and every OS
//! release by an entry of `config/data/os-lifecycle.toml`, so the collector can estimate
//! and assess every simulated host. This module is data only: no randomness, no I/O.

#[rustfmt::skip]
mod tables;

pub use tables::*;

/// The three kinds of operating system the simulator produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsKind {
    /// Windows 7, 10, 11.
    WindowsClient,
    /// Windows Server.
    WindowsServer,
    /// A Linux distribution.
    Linux,
}

/// The package database an OS keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    /// dpkg (Debian, Ubuntu).
    Deb,
    /// rpm (RHEL and its rebuilds).
    Rpm,
    /// The Windows registry's Uninstall keys.
    WindowsRegistry,
}

/// One operating system release.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OsRelease {
    /// Short key used in tests and summaries (`win11-23h2`, `ubuntu-22.04`).
    pub key: &'static str,
    /// Windows client, Windows Server or Linux.
    pub kind: OsKind,
    /// os-release `ID`, or `windows`.
    pub id: &'static str,
    /// os-release `ID_LIKE`.
    pub id_like: &'static [&'static str],
    /// The name before the edition (Windows: `Windows 11`), or the full `PRETTY_NAME`.
    pub name: &'static str,
    /// Windows editions to choose from (appended to `name`); empty for Linux.
    pub editions: &'static [&'static str],
    /// os-release `VERSION_ID`, or what the Windows agent reports as the version: the
    /// `DisplayVersion` (`23H2`), else the `ReleaseId` (`1809`), else the NT version (`6.3`).
    pub version_id: &'static str,
    /// os-release `VERSION_CODENAME`.
    pub codename: Option<&'static str>,
    /// Windows build number (0 for Linux).
    pub build: u32,
    /// The kernel release before the patch number (Windows: the NT version).
    pub kernel_prefix: &'static str,
    /// The patch number of a current install (Linux kernel ABI, Windows UBR); patches
    /// raise it.
    pub patch_base: u32,
    /// The kernel release after the patch number.
    pub kernel_suffix: &'static str,
    /// os-release `SUPPORT_END`, where the distribution publishes it.
    pub support_end: Option<&'static str>,
    /// The package database.
    pub packages: PackageFormat,
    /// Out of vendor support on the machine's date (2026): what a neglected host runs.
    pub legacy: bool,
    /// The year the release came out (hardware and install dates follow it).
    pub year: i32,
}

/// A CPU model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuModel {
    /// The brand string as `/proc/cpuinfo` and Windows show it.
    pub brand: &'static str,
    /// `GenuineIntel` or `AuthenticAMD`.
    pub vendor: &'static str,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per socket.
    pub threads: u32,
    /// Base clock, MHz.
    pub base_mhz: u32,
    /// Highest clock, MHz (turbo).
    pub max_mhz: u32,
    /// Thermal design power per socket, watts (for measured power of physical hosts).
    pub tdp_watts: f64,
    /// The microarchitecture, for summaries and tests.
    pub generation: &'static str,
    /// Year of launch.
    pub year: i32,
}

/// Who made a machine, and how its firmware names itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maker {
    /// Dell Inc.
    Dell,
    /// HP / HPE.
    Hp,
    /// Lenovo.
    Lenovo,
}

/// A physical machine model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineModel {
    /// The maker.
    pub maker: Maker,
    /// DMI `product_name` (Lenovo: the machine type; the name is in `product_version`).
    pub product: &'static str,
    /// DMI `product_version` where the maker fills it in.
    pub product_version: Option<&'static str>,
    /// SMBIOS chassis type code.
    pub chassis_code: u8,
    /// Year of launch.
    pub year: i32,
    /// The CPUs it shipped with.
    pub cpus: &'static [CpuModel],
    /// Memory choices, GiB.
    pub memory_gib: &'static [u64],
    /// BIOS version of the launch firmware (updated firmware appends a later one).
    pub bios_version: &'static str,
    /// Sockets populated.
    pub sockets: u32,
}

/// A hypervisor platform the organisation's VMs run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hypervisor {
    /// VMware vSphere (ESXi).
    Vmware,
    /// Microsoft Hyper-V.
    HyperV,
}

/// A cluster of hypervisor hosts: one CPU generation, its hypervisor, and the share of
/// VMs on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cluster {
    /// Cluster name (for tests and summaries).
    pub name: &'static str,
    /// Hypervisor.
    pub hypervisor: Hypervisor,
    /// The hosts' CPU, which the guests see by name.
    pub cpu: CpuModel,
    /// Share of the organisation's VMs.
    pub weight: f64,
}

/// A Linux server role's package, service and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleService {
    /// The role label's value.
    pub role: &'static str,
    /// The dpkg package.
    pub deb: &'static str,
    /// The rpm package.
    pub rpm: &'static str,
    /// The systemd unit.
    pub unit: &'static str,
    /// The unit's description.
    pub description: &'static str,
    /// What it listens on: (protocol, port, process).
    pub ports: &'static [(&'static str, u16, &'static str)],
}

/// Endpoint GPUs: (PCI device id of the Intel/AMD integrated graphics, WMI name), chosen
/// by CPU generation.
pub fn integrated_gpu(cpu: &CpuModel) -> (&'static str, &'static str, &'static str) {
    match cpu.generation {
        "Skylake" => ("8086", "1916", "Intel(R) HD Graphics 520"),
        "Kaby Lake" | "Whiskey Lake" => ("8086", "5917", "Intel(R) UHD Graphics 620"),
        "Coffee Lake" => ("8086", "3e92", "Intel(R) UHD Graphics 630"),
        "Comet Lake" => ("8086", "9bc8", "Intel(R) UHD Graphics 630"),
        "Tiger Lake" => ("8086", "9a49", "Intel(R) Iris(R) Xe Graphics"),
        "Alder Lake" => ("8086", "46a8", "Intel(R) Iris(R) Xe Graphics"),
        "Raptor Lake" => ("8086", "a7a1", "Intel(R) Iris(R) Xe Graphics"),
        "Zen 3" => ("1002", "1638", "AMD Radeon(TM) Graphics"),
        _ => ("8086", "0412", "Intel(R) HD Graphics 4600"),
    }
}

/// Every CPU model in this catalogue (for tests).
pub fn all_cpus() -> Vec<CpuModel> {
    let mut out: Vec<CpuModel> = Vec::new();
    let models = LAPTOPS.iter().chain(DESKTOPS).chain(SERVERS);
    for model in models {
        out.extend(model.cpus.iter().copied());
    }
    out.extend(CLUSTERS.iter().map(|c| c.cpu));
    out
}

/// Every OS release in this catalogue (for tests).
pub fn all_releases() -> Vec<OsRelease> {
    let lists: [&[(f64, OsRelease)]; 6] = [
        WINDOWS_CLIENT_CURRENT,
        WINDOWS_CLIENT_LEGACY,
        LINUX_ENDPOINT_CURRENT,
        LINUX_ENDPOINT_LEGACY,
        SERVER_CURRENT,
        SERVER_LEGACY,
    ];
    lists
        .iter()
        .flat_map(|list| list.iter().map(|(_, r)| *r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_figures_are_consistent() {
        for cpu in all_cpus() {
            assert!(cpu.threads >= cpu.cores, "{}", cpu.brand);
            assert!(cpu.max_mhz >= cpu.base_mhz, "{}", cpu.brand);
            assert!(cpu.tdp_watts > 0.0, "{}", cpu.brand);
            let amd = cpu.brand.starts_with("AMD");
            assert_eq!(cpu.vendor == "AuthenticAMD", amd, "{}", cpu.brand);
        }
    }

    #[test]
    fn weights_are_positive_and_releases_consistent() {
        for release in all_releases() {
            match release.kind {
                OsKind::Linux => {
                    assert_eq!(release.build, 0);
                    assert!(release.editions.is_empty());
                    assert_ne!(release.packages, PackageFormat::WindowsRegistry);
                }
                OsKind::WindowsClient | OsKind::WindowsServer => {
                    assert!(release.build > 0);
                    assert!(!release.editions.is_empty());
                    assert_eq!(release.packages, PackageFormat::WindowsRegistry);
                }
            }
        }
        let total: f64 = CLUSTERS.iter().map(|c| c.weight).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        for list in [LAPTOPS, DESKTOPS, SERVERS] {
            for model in list {
                assert!(!model.cpus.is_empty() && !model.memory_gib.is_empty());
            }
        }
    }
}
