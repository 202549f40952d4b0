//! The data of the catalogue, one row per line (kept out of rustfmt so that each model,
//! release or package reads as a row).

use super::*;

const WIN_CLIENT_EDITIONS: &[&str] = &[
    "Enterprise", "Enterprise", "Enterprise", "Pro",
];
const WIN7_EDITIONS: &[&str] = &[
    "Professional", "Enterprise",
];
const WIN_SERVER_EDITIONS: &[&str] = &[
    "Standard", "Standard", "Standard", "Datacenter",
];

#[allow(clippy::too_many_arguments)]
const fn windows(
    key: &'static str,
    kind: OsKind,
    name: &'static str,
    editions: &'static [&'static str],
    version_id: &'static str,
    build: u32,
    patch_base: u32,
    legacy: bool,
    year: i32,
) -> OsRelease {
    OsRelease {
        key,
        kind,
        id: "windows",
        id_like: &[],
        name,
        editions,
        version_id,
        codename: None,
        build,
        kernel_prefix: "",
        patch_base,
        kernel_suffix: "",
        support_end: None,
        packages: PackageFormat::WindowsRegistry,
        legacy,
        year,
    }
}

/// Windows 11 23H2 (build 22631).
pub const WIN11_23H2: OsRelease =
    windows("win11-23h2", OsKind::WindowsClient, "Windows 11", WIN_CLIENT_EDITIONS, "23H2", 22631, 4460, false, 2023);
/// Windows 11 25H2 (build 26200).
pub const WIN11_25H2: OsRelease =
    windows("win11-25h2", OsKind::WindowsClient, "Windows 11", WIN_CLIENT_EDITIONS, "25H2", 26200, 7171, false, 2025);
/// Windows 11 24H2 (build 26100).
pub const WIN11_24H2: OsRelease =
    windows("win11-24h2", OsKind::WindowsClient, "Windows 11", WIN_CLIENT_EDITIONS, "24H2", 26100, 2314, false, 2024);
/// Windows 10 22H2 (build 19045): past its end of support in October 2025, still on a
/// large part of every council's estate (extended security updates bought or not).
pub const WIN10_22H2: OsRelease =
    windows("win10-22h2", OsKind::WindowsClient, "Windows 10", WIN_CLIENT_EDITIONS, "22H2", 19045, 5131, false, 2022);
/// Windows 10 21H2 (build 19044): a neglected endpoint that never took the feature update.
pub const WIN10_21H2: OsRelease =
    windows("win10-21h2", OsKind::WindowsClient, "Windows 10", WIN_CLIENT_EDITIONS, "21H2", 19044, 3086, true, 2021);
/// Windows 10 1909 (build 18363).
pub const WIN10_1909: OsRelease =
    windows("win10-1909", OsKind::WindowsClient, "Windows 10", WIN_CLIENT_EDITIONS, "1909", 18363, 1556, true, 2019);
/// Windows 7 SP1 (build 7601).
pub const WIN7: OsRelease =
    windows("win7-sp1", OsKind::WindowsClient, "Windows 7", WIN7_EDITIONS, "6.1", 7601, 24544, true, 2011);
/// Windows Server 2025 (build 26100).
pub const WS2025: OsRelease =
    windows("ws2025", OsKind::WindowsServer, "Windows Server 2025", WIN_SERVER_EDITIONS, "24H2", 26100, 2314, false, 2024);
/// Windows Server 2022 (build 20348).
pub const WS2022: OsRelease =
    windows("ws2022", OsKind::WindowsServer, "Windows Server 2022", WIN_SERVER_EDITIONS, "21H2", 20348, 2849, false, 2021);
/// Windows Server 2019 (build 17763).
pub const WS2019: OsRelease =
    windows("ws2019", OsKind::WindowsServer, "Windows Server 2019", WIN_SERVER_EDITIONS, "1809", 17763, 6532, false, 2018);
/// Windows Server 2016 (build 14393).
pub const WS2016: OsRelease =
    windows("ws2016", OsKind::WindowsServer, "Windows Server 2016", WIN_SERVER_EDITIONS, "1607", 14393, 7515, false, 2016);
/// Windows Server 2012 R2 (build 9600): out of support since October 2023.
pub const WS2012R2: OsRelease =
    windows("ws2012r2", OsKind::WindowsServer, "Windows Server 2012 R2", WIN_SERVER_EDITIONS, "6.3", 9600, 21620, true, 2013);
/// Windows Server 2008 R2 SP1 (build 7601).
pub const WS2008R2: OsRelease =
    windows("ws2008r2", OsKind::WindowsServer, "Windows Server 2008 R2", &["Standard", "Enterprise"], "6.1", 7601, 24544, true, 2011);

#[allow(clippy::too_many_arguments)]
const fn linux(
    key: &'static str,
    id: &'static str,
    id_like: &'static [&'static str],
    name: &'static str,
    version_id: &'static str,
    codename: Option<&'static str>,
    kernel: (&'static str, u32, &'static str),
    support_end: Option<&'static str>,
    packages: PackageFormat,
    legacy: bool,
    year: i32,
) -> OsRelease {
    OsRelease {
        key,
        kind: OsKind::Linux,
        id,
        id_like,
        name,
        editions: &[],
        version_id,
        codename,
        build: 0,
        kernel_prefix: kernel.0,
        patch_base: kernel.1,
        kernel_suffix: kernel.2,
        support_end,
        packages,
        legacy,
        year,
    }
}

/// Ubuntu 24.04 LTS.
pub const UBUNTU_2404: OsRelease =
    linux("ubuntu-24.04", "ubuntu", &["debian"], "Ubuntu 24.04.1 LTS", "24.04", Some("noble"), ("6.8.0-", 49, "-generic"), None, PackageFormat::Deb, false, 2024);
/// Ubuntu 22.04 LTS.
pub const UBUNTU_2204: OsRelease =
    linux("ubuntu-22.04", "ubuntu", &["debian"], "Ubuntu 22.04.5 LTS", "22.04", Some("jammy"), ("5.15.0-", 126, "-generic"), None, PackageFormat::Deb, false, 2022);
/// Ubuntu 20.04 LTS (standard support ended May 2025; ESM beyond).
pub const UBUNTU_2004: OsRelease =
    linux("ubuntu-20.04", "ubuntu", &["debian"], "Ubuntu 20.04.6 LTS", "20.04", Some("focal"), ("5.4.0-", 200, "-generic"), None, PackageFormat::Deb, true, 2020);
/// Ubuntu 16.04 LTS.
pub const UBUNTU_1604: OsRelease =
    linux("ubuntu-16.04", "ubuntu", &["debian"], "Ubuntu 16.04.7 LTS", "16.04", Some("xenial"), ("4.4.0-", 210, "-generic"), None, PackageFormat::Deb, true, 2016);
/// Debian 12.
pub const DEBIAN_12: OsRelease =
    linux("debian-12", "debian", &[], "Debian GNU/Linux 12 (bookworm)", "12", Some("bookworm"), ("6.1.0-", 27, "-amd64"), None, PackageFormat::Deb, false, 2023);
/// Red Hat Enterprise Linux 9.4.
pub const RHEL_9: OsRelease =
    linux("rhel-9", "rhel", &["fedora"], "Red Hat Enterprise Linux 9.4 (Plow)", "9.4", None, ("5.14.0-427.", 42, ".1.el9_4.x86_64"), None, PackageFormat::Rpm, false, 2024);
/// Red Hat Enterprise Linux 8.10.
pub const RHEL_8: OsRelease =
    linux("rhel-8", "rhel", &["fedora"], "Red Hat Enterprise Linux 8.10 (Ootpa)", "8.10", None, ("4.18.0-553.", 27, ".1.el8_10.x86_64"), None, PackageFormat::Rpm, false, 2024);
/// Rocky Linux 9.4.
pub const ROCKY_9: OsRelease =
    linux("rocky-9", "rocky", &["rhel", "centos", "fedora"], "Rocky Linux 9.4 (Blue Onyx)", "9.4", None, ("5.14.0-427.", 42, ".1.el9_4.x86_64"), Some("2032-05-31"), PackageFormat::Rpm, false, 2024);
/// CentOS Linux 7 (end of life June 2024).
pub const CENTOS_7: OsRelease =
    linux("centos-7", "centos", &["rhel", "fedora"], "CentOS Linux 7 (Core)", "7", None, ("3.10.0-1160.", 119, ".1.el7.x86_64"), None, PackageFormat::Rpm, true, 2014);

/// Windows on laptops and desktops that are looked after, as a council stands in late
/// 2026: mostly Windows 11 24H2 and 25H2, some 23H2 behind, and a quarter still on
/// Windows 10 22H2 under extended security updates: (weight, release).
pub const WINDOWS_CLIENT_CURRENT: &[(f64, OsRelease)] = &[
    (0.25, WIN10_22H2),
    (0.10, WIN11_23H2),
    (0.40, WIN11_24H2),
    (0.25, WIN11_25H2),
];
/// Windows on neglected endpoints.
pub const WINDOWS_CLIENT_LEGACY: &[(f64, OsRelease)] = &[
    (0.5, WIN10_21H2),
    (0.3, WIN10_1909),
    (0.2, WIN7),
];
/// Linux on endpoints (developers, ICT staff, kiosks).
pub const LINUX_ENDPOINT_CURRENT: &[(f64, OsRelease)] = &[(0.55, UBUNTU_2204), (0.45, UBUNTU_2404)];
/// Linux on neglected endpoints.
pub const LINUX_ENDPOINT_LEGACY: &[(f64, OsRelease)] = &[(0.7, UBUNTU_2004), (0.3, UBUNTU_1604)];
/// Server operating systems, looked after.
pub const SERVER_CURRENT: &[(f64, OsRelease)] = &[
    (0.22, WS2019),
    (0.20, WS2022),
    (0.12, WS2016),
    (0.04, WS2025),
    (0.10, RHEL_9),
    (0.07, RHEL_8),
    (0.07, ROCKY_9),
    (0.10, UBUNTU_2204),
    (0.05, UBUNTU_2404),
    (0.03, DEBIAN_12),
];
/// Server operating systems on neglected servers.
pub const SERVER_LEGACY: &[(f64, OsRelease)] = &[
    (0.35, WS2012R2),
    (0.20, WS2008R2),
    (0.20, CENTOS_7),
    (0.15, UBUNTU_1604),
    (0.10, UBUNTU_2004),
];

#[allow(clippy::too_many_arguments)]
const fn cpu(
    brand: &'static str,
    cores: u32,
    threads: u32,
    base_mhz: u32,
    max_mhz: u32,
    tdp_watts: f64,
    generation: &'static str,
    year: i32,
) -> CpuModel {
    let amd = matches!(brand.as_bytes(), [b'A', b'M', b'D', ..]);
    CpuModel {
        brand,
        vendor: if amd { "AuthenticAMD" } else { "GenuineIntel" },
        cores,
        threads,
        base_mhz,
        max_mhz,
        tdp_watts,
        generation,
        year,
    }
}

// Mobile CPUs.
const I5_6300U: CpuModel =
    cpu("Intel(R) Core(TM) i5-6300U CPU @ 2.40GHz", 2, 4, 2400, 3000, 15.0, "Skylake", 2015);
const I5_7300U: CpuModel =
    cpu("Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz", 2, 4, 2600, 3500, 15.0, "Kaby Lake", 2017);
const I5_8250U: CpuModel =
    cpu("Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", 4, 8, 1600, 3400, 15.0, "Kaby Lake", 2017);
const I5_8365U: CpuModel =
    cpu("Intel(R) Core(TM) i5-8365U CPU @ 1.60GHz", 4, 8, 1600, 4100, 15.0, "Whiskey Lake", 2019);
const I5_10310U: CpuModel =
    cpu("Intel(R) Core(TM) i5-10310U CPU @ 1.70GHz", 4, 8, 1700, 4400, 15.0, "Comet Lake", 2020);
const I5_1145G7: CpuModel =
    cpu("11th Gen Intel(R) Core(TM) i5-1145G7 @ 2.60GHz", 4, 8, 2600, 4400, 28.0, "Tiger Lake", 2021);
const I5_1245U: CpuModel =
    cpu("12th Gen Intel(R) Core(TM) i5-1245U", 10, 12, 1600, 4400, 15.0, "Alder Lake", 2022);
const I5_1345U: CpuModel =
    cpu("13th Gen Intel(R) Core(TM) i5-1345U", 10, 12, 1600, 4700, 15.0, "Raptor Lake", 2023);
const R5_PRO_5650U: CpuModel =
    cpu("AMD Ryzen 5 PRO 5650U with Radeon Graphics", 6, 12, 2300, 4200, 15.0, "Zen 3", 2021);
// Desktop CPUs.
const I5_6500: CpuModel =
    cpu("Intel(R) Core(TM) i5-6500 CPU @ 3.20GHz", 4, 4, 3200, 3600, 65.0, "Skylake", 2015);
const I5_7500: CpuModel =
    cpu("Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz", 4, 4, 3400, 3800, 65.0, "Kaby Lake", 2017);
const I5_8500: CpuModel =
    cpu("Intel(R) Core(TM) i5-8500 CPU @ 3.00GHz", 6, 6, 3000, 4100, 65.0, "Coffee Lake", 2018);
const I5_9500: CpuModel =
    cpu("Intel(R) Core(TM) i5-9500 CPU @ 3.00GHz", 6, 6, 3000, 4400, 65.0, "Coffee Lake", 2019);
const I5_10500: CpuModel =
    cpu("Intel(R) Core(TM) i5-10500 CPU @ 3.10GHz", 6, 12, 3100, 4500, 65.0, "Comet Lake", 2020);
const I5_12500: CpuModel =
    cpu("12th Gen Intel(R) Core(TM) i5-12500", 6, 12, 3000, 4600, 65.0, "Alder Lake", 2022);
const I5_13500: CpuModel =
    cpu("13th Gen Intel(R) Core(TM) i5-13500", 14, 20, 2500, 4800, 65.0, "Raptor Lake", 2023);
// Server CPUs, by generation.
const E5_2620_V4: CpuModel =
    cpu("Intel(R) Xeon(R) CPU E5-2620 v4 @ 2.10GHz", 8, 16, 2100, 3000, 85.0, "Broadwell", 2016);
const E5_2650_V4: CpuModel =
    cpu("Intel(R) Xeon(R) CPU E5-2650 v4 @ 2.20GHz", 12, 24, 2200, 2900, 105.0, "Broadwell", 2016);
const E5_2630_V3: CpuModel =
    cpu("Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", 8, 16, 2400, 3200, 85.0, "Haswell", 2014);
const SILVER_4114: CpuModel =
    cpu("Intel(R) Xeon(R) Silver 4114 CPU @ 2.20GHz", 10, 20, 2200, 3000, 85.0, "Skylake", 2017);
const GOLD_6130: CpuModel =
    cpu("Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz", 16, 32, 2100, 3700, 125.0, "Skylake", 2017);
const SILVER_4210: CpuModel =
    cpu("Intel(R) Xeon(R) Silver 4210 CPU @ 2.20GHz", 10, 20, 2200, 3200, 85.0, "Cascade Lake", 2019);
const GOLD_6230: CpuModel =
    cpu("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", 20, 40, 2100, 3900, 125.0, "Cascade Lake", 2019);
const SILVER_4314: CpuModel =
    cpu("Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", 16, 32, 2400, 3400, 135.0, "Ice Lake", 2021);
const GOLD_6338: CpuModel =
    cpu("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", 32, 64, 2000, 3200, 205.0, "Ice Lake", 2021);
const EPYC_7302: CpuModel =
    cpu("AMD EPYC 7302 16-Core Processor", 16, 32, 3000, 3300, 155.0, "EPYC 2nd Gen", 2019);
const EPYC_7313: CpuModel =
    cpu("AMD EPYC 7313 16-Core Processor", 16, 32, 3000, 3700, 155.0, "EPYC 3rd Gen", 2021);
const EPYC_7443: CpuModel =
    cpu("AMD EPYC 7443 24-Core Processor", 24, 48, 2850, 4000, 200.0, "EPYC 3rd Gen", 2021);

#[allow(clippy::too_many_arguments)]
const fn machine(
    maker: Maker,
    product: &'static str,
    product_version: Option<&'static str>,
    chassis_code: u8,
    year: i32,
    cpus: &'static [CpuModel],
    memory_gib: &'static [u64],
    bios_version: &'static str,
    sockets: u32,
) -> MachineModel {
    MachineModel {
        maker,
        product,
        product_version,
        chassis_code,
        year,
        cpus,
        memory_gib,
        bios_version,
        sockets,
    }
}

/// Laptops, oldest first.
pub const LAPTOPS: &[MachineModel] = &[
    machine(Maker::Hp, "HP EliteBook 840 G3", None, 10, 2016, &[I5_6300U], &[8], "N75 Ver. 01.16", 1),
    machine(Maker::Dell, "Latitude 7480", None, 10, 2017, &[I5_7300U], &[8], "1.9.3", 1),
    machine(Maker::Dell, "Latitude 5490", None, 10, 2018, &[I5_8250U], &[8, 16], "1.13.0", 1),
    machine(Maker::Lenovo, "20N2S0BH00", Some("ThinkPad T490"), 10, 2019, &[I5_8365U], &[8, 16], "N2IET93W (1.71 )", 1),
    machine(Maker::Hp, "HP EliteBook 840 G7 Notebook PC", None, 10, 2020, &[I5_10310U], &[16], "S70 Ver. 01.10.01", 1),
    machine(Maker::Dell, "Latitude 5420", None, 10, 2021, &[I5_1145G7], &[16], "1.25.0", 1),
    machine(Maker::Lenovo, "20XKS0AB00", Some("ThinkPad T14 Gen 2a"), 10, 2021, &[R5_PRO_5650U], &[16], "R1MET49W (1.19 )", 1),
    machine(Maker::Hp, "HP EliteBook 840 14 inch G9 Notebook PC", None, 10, 2022, &[I5_1245U], &[16], "U70 Ver. 01.04.02", 1),
    machine(Maker::Dell, "Latitude 5440", None, 10, 2023, &[I5_1345U], &[16, 32], "1.9.0", 1),
    machine(Maker::Lenovo, "21HDS0DC00", Some("ThinkPad T14 Gen 4"), 10, 2023, &[I5_1345U], &[16, 32], "N3MET17W (1.16 )", 1),
];

/// Desktops, oldest first.
pub const DESKTOPS: &[MachineModel] = &[
    machine(Maker::Dell, "OptiPlex 7040", None, 3, 2015, &[I5_6500], &[8], "1.17.0", 1),
    machine(Maker::Dell, "OptiPlex 3050", None, 3, 2017, &[I5_7500], &[8], "1.16.0", 1),
    machine(Maker::Hp, "HP EliteDesk 800 G4 SFF", None, 4, 2018, &[I5_8500], &[8, 16], "Q01 Ver. 02.12.00", 1),
    machine(Maker::Dell, "OptiPlex 7070", None, 3, 2019, &[I5_9500], &[8, 16], "1.21.0", 1),
    machine(Maker::Lenovo, "11DBS0C100", Some("ThinkCentre M70q"), 35, 2020, &[I5_10500], &[16], "M2WKT4AA", 1),
    machine(Maker::Hp, "HP EliteDesk 800 G6 Small Form Factor PC", None, 4, 2020, &[I5_10500], &[16], "S01 Ver. 02.06.00", 1),
    machine(Maker::Dell, "OptiPlex 7000", None, 3, 2022, &[I5_12500], &[16], "1.18.0", 1),
    machine(Maker::Dell, "OptiPlex Small Form Factor 7010", None, 3, 2023, &[I5_13500], &[16], "1.10.0", 1),
];

/// Physical servers, oldest first.
pub const SERVERS: &[MachineModel] = &[
    machine(Maker::Hp, "ProLiant DL360 Gen9", None, 23, 2014, &[E5_2630_V3, E5_2620_V4], &[64, 128], "P89", 2),
    machine(Maker::Dell, "PowerEdge R630", None, 23, 2015, &[E5_2630_V3, E5_2620_V4], &[64, 128], "2.11.0", 2),
    machine(Maker::Dell, "PowerEdge R730", None, 23, 2016, &[E5_2650_V4], &[128, 256], "2.12.1", 2),
    machine(Maker::Dell, "PowerEdge R640", None, 23, 2018, &[SILVER_4114, SILVER_4210], &[128, 192], "2.10.2", 2),
    machine(Maker::Hp, "ProLiant DL380 Gen10", None, 23, 2018, &[GOLD_6130, GOLD_6230], &[256, 384], "U30", 2),
    machine(Maker::Dell, "PowerEdge R740", None, 23, 2019, &[SILVER_4210, GOLD_6230], &[192, 384], "2.12.2", 2),
    machine(Maker::Dell, "PowerEdge R6525", None, 23, 2020, &[EPYC_7302, EPYC_7313], &[256, 512], "2.8.3", 2),
    machine(Maker::Dell, "PowerEdge R650", None, 23, 2021, &[SILVER_4314, GOLD_6338], &[256, 512], "1.6.5", 2),
    machine(Maker::Hp, "ProLiant DL360 Gen10 Plus", None, 23, 2021, &[SILVER_4314], &[256], "U46", 2),
];

/// The virtualisation estate: mostly VMware across several host generations (the oldest
/// cluster still Broadwell), a newer EPYC cluster, and a small Hyper-V cluster.
pub const CLUSTERS: &[Cluster] = &[
    Cluster { name: "vsphere-broadwell", hypervisor: Hypervisor::Vmware, cpu: E5_2650_V4, weight: 0.18 },
    Cluster { name: "vsphere-skylake", hypervisor: Hypervisor::Vmware, cpu: GOLD_6130, weight: 0.22 },
    Cluster { name: "vsphere-cascadelake", hypervisor: Hypervisor::Vmware, cpu: GOLD_6230, weight: 0.25 },
    Cluster { name: "vsphere-icelake", hypervisor: Hypervisor::Vmware, cpu: GOLD_6338, weight: 0.13 },
    Cluster { name: "vsphere-epyc", hypervisor: Hypervisor::Vmware, cpu: EPYC_7443, weight: 0.10 },
    Cluster { name: "hyperv-cascadelake", hypervisor: Hypervisor::HyperV, cpu: SILVER_4210, weight: 0.12 },
];

/// Sites of endpoints: (weight, label value, short code for host names).
pub const ENDPOINT_SITES: &[(f64, (&str, &str))] = &[
    (0.35, ("county-hall", "CH")),
    (0.20, ("civic-centre", "CC")),
    (0.10, ("depot-north", "DN")),
    (0.08, ("depot-south", "DS")),
    (0.10, ("library-central", "LC")),
    (0.05, ("library-east", "LE")),
    (0.08, ("social-care-hub", "SC")),
    (0.04, ("register-office", "RO")),
];

/// Server rooms: (weight, label value).
pub const SERVER_SITES: &[(f64, &str)] = &[(0.7, "county-hall-dc"), (0.3, "civic-centre-dc")];

/// Departments of endpoint users.
pub const DEPARTMENTS: &[&str] = &[
    "adult-social-care", "childrens-services", "education", "finance", "highways", "hr", "ict",
    "legal", "libraries", "planning", "revenues-benefits", "waste",
];

/// Server roles: (weight, label value, short code for host names, whether Linux can hold
/// it).
pub const SERVER_ROLES: &[(f64, (&str, &str, bool))] = &[
    (0.20, ("application", "APP", true)),
    (0.14, ("database", "DB", true)),
    (0.14, ("file-server", "FS", true)),
    (0.12, ("web", "WEB", true)),
    (0.08, ("domain-controller", "DC", false)),
    (0.06, ("print-server", "PRN", false)),
    (0.06, ("remote-desktop", "RDS", false)),
    (0.08, ("backup", "BKP", true)),
    (0.07, ("monitoring", "MON", true)),
    (0.05, ("test", "TST", true)),
];

/// Departments that own servers.
pub const SERVER_OWNERS: &[&str] = &[
    "ict-infrastructure", "ict-applications", "finance-systems", "social-care-systems",
];

/// Applications in the Uninstall keys of Windows hosts: (name, publisher, current
/// version, version on a neglected host, architecture).
pub const WINDOWS_APPS: &[(&str, &str, &str, &str, &str)] = &[
    ("7-Zip 23.01 (x64)", "Igor Pavlov", "23.01", "19.00", "x64"),
    ("Adobe Acrobat (64-bit)", "Adobe", "24.004.20243", "21.001.20145", "x64"),
    ("Cisco Secure Client - AnyConnect VPN", "Cisco Systems, Inc.", "5.1.4.74", "4.9.06037", "x86"),
    ("Citrix Workspace 2409", "Citrix Systems, Inc.", "24.9.0.133", "20.12.0.39", "x86"),
    ("Configuration Manager Client", "Microsoft Corporation", "5.00.9128.1000", "5.00.8968.1000", "x64"),
    ("Google Chrome", "Google LLC", "131.0.6778.86", "109.0.5414.120", "x64"),
    ("Local Administrator Password Solution", "Microsoft Corporation", "6.2.0.0", "6.2.0.0", "x64"),
    ("Microsoft 365 Apps for enterprise - en-gb", "Microsoft Corporation", "16.0.17928.20156", "16.0.13801.20266", "x64"),
    ("Microsoft Edge", "Microsoft Corporation", "131.0.2903.70", "109.0.1518.140", "x64"),
    ("Microsoft Edge WebView2 Runtime", "Microsoft Corporation", "131.0.2903.70", "109.0.1518.140", "x64"),
    ("Microsoft OneDrive", "Microsoft Corporation", "24.201.1006.0005", "21.220.1024.0005", "x64"),
    ("Microsoft Teams Meeting Add-in for Microsoft Office", "Microsoft", "1.24.25505", "1.0.21126.2", "x64"),
    ("Microsoft Update Health Tools", "Microsoft Corporation", "5.72.0.0", "2.84.0.0", "x64"),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x64) - 14.40.33810", "Microsoft Corporation", "14.40.33810.0", "14.28.29913.0", "x64"),
    ("Microsoft Visual C++ 2015-2022 Redistributable (x86) - 14.40.33810", "Microsoft Corporation", "14.40.33810.0", "14.28.29913.0", "x86"),
    ("Microsoft Windows Desktop Runtime - 8.0.11 (x64)", "Microsoft Corporation", "8.0.11.34221", "3.1.32.31915", "x64"),
    ("Mozilla Firefox (x64 en-GB)", "Mozilla", "133.0", "78.15.0", "x64"),
    ("Notepad++ (64-bit x64)", "Notepad++ Team", "8.6.9", "7.9.1", "x64"),
    ("VLC media player", "VideoLAN", "3.0.21", "3.0.11", "x64"),
    ("Zoom Workplace (64-bit)", "Zoom Video Communications, Inc.", "6.2.11", "5.4.9", "x64"),
];

/// Applications on Windows endpoints only (the server list adds its own).
pub const WINDOWS_ENDPOINT_APPS: &[(&str, &str, &str, &str, &str)] = &[
    ("Microsoft Intune Management Extension", "Microsoft Corporation", "1.83.107.0", "1.37.204.0", "x86"),
    ("Realtek Audio Driver", "Realtek Semiconductor Corp.", "6.0.9549.1", "6.0.8703.1", "x64"),
    ("Windows PC Health Check", "Microsoft Corporation", "3.7.2204.15001", "3.0.2107.11001", "x64"),
];

/// Applications on Windows servers, by role where they belong to one (empty role: all).
pub const WINDOWS_SERVER_APPS: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("", "Microsoft Monitoring Agent", "Microsoft Corporation", "10.20.18076.0", "10.19.10014.0", "x64"),
    ("database", "Microsoft SQL Server 2019 (64-bit)", "Microsoft Corporation", "15.0.4395.2", "15.0.2000.5", "x64"),
    ("database", "SQL Server Management Studio", "Microsoft Corporation", "20.2.30.0", "18.8.0.0", "x86"),
    ("backup", "Veeam Backup & Replication", "Veeam Software Group GmbH", "12.2.0.334", "10.0.1.4854", "x64"),
    ("web", "IIS URL Rewrite Module 2", "Microsoft Corporation", "7.2.1993", "7.2.1952", "x64"),
    ("remote-desktop", "Remote Desktop Services Client Access Licensing", "Microsoft Corporation", "10.0.17763.1", "6.3.9600.16384", "x64"),
];

/// Antivirus/EDR on Windows: (weight, product name, service name, service description).
pub const WINDOWS_AV: &[(f64, (&str, &str, &str))] = &[
    (0.7, ("Microsoft Defender Antivirus", "WinDefend", "Microsoft Defender Antivirus Service")),
    (0.3, ("CrowdStrike Falcon", "CSFalconService", "CrowdStrike Falcon Sensor Service")),
];

/// Packages every dpkg-based host has (name; versions are made up per release around
/// these well-known names).
pub const DEB_BASE: &[&str] = &[
    "adduser", "apt", "apt-utils", "base-files", "base-passwd", "bash", "bsdutils",
    "ca-certificates", "coreutils", "cron", "curl", "dash", "debconf", "debianutils",
    "diffutils", "dpkg", "e2fsprogs", "findutils", "gpgv", "grep", "gzip", "hostname",
    "init-system-helpers", "iproute2", "iputils-ping", "less", "libacl1", "libapparmor1",
    "libattr1", "libaudit1", "libblkid1", "libbz2-1.0", "libc-bin", "libc6", "libcap2",
    "libcom-err2", "libcurl4", "libdb5.3", "libexpat1", "libext2fs2", "libgcrypt20", "libgmp10",
    "libgnutls30", "libgpg-error0", "libgssapi-krb5-2", "libidn2-0", "libk5crypto3",
    "libkeyutils1", "libkrb5-3", "libkrb5support0", "liblz4-1", "liblzma5", "libmount1",
    "libnettle8", "libnghttp2-14", "libp11-kit0", "libpam-modules", "libpam-runtime",
    "libpam0g", "libpcre2-8-0", "libpsl5", "libreadline8", "libseccomp2", "libselinux1",
    "libsemanage2", "libsepol2", "libsmartcols1", "libsqlite3-0", "libstdc++6", "libsystemd0",
    "libtasn1-6", "libtinfo6", "libudev1", "libunistring2", "libuuid1", "libzstd1", "login",
    "logrotate", "mawk", "mount", "ncurses-base", "ncurses-bin", "netbase", "openssh-client",
    "openssl", "passwd", "perl-base", "procps", "python3", "python3-minimal", "readline-common",
    "rsyslog", "sed", "sensible-utils", "sudo", "systemd", "systemd-sysv", "sysvinit-utils",
    "tar", "tzdata", "util-linux", "vim-tiny", "wget", "zlib1g",
];

/// Packages every rpm-based host has.
pub const RPM_BASE: &[&str] = &[
    "acl", "audit", "basesystem", "bash", "bzip2-libs", "ca-certificates", "chrony",
    "coreutils", "cronie", "crypto-policies", "curl", "cyrus-sasl-lib", "dbus", "e2fsprogs",
    "elfutils-libs", "expat", "filesystem", "findutils", "firewalld", "gawk", "glib2", "glibc",
    "glibc-common", "gmp", "gnupg2", "gnutls", "grep", "grub2-common", "gzip", "hostname",
    "iproute", "iputils", "kbd", "kernel", "kernel-core", "keyutils-libs", "kmod", "krb5-libs",
    "less", "libacl", "libattr", "libblkid", "libcap", "libcom_err", "libcurl", "libdb",
    "libffi", "libgcc", "libgcrypt", "libgpg-error", "libidn2", "libmount", "libnghttp2",
    "libselinux", "libsemanage", "libsepol", "libsmartcols", "libssh", "libstdc++", "libtasn1",
    "libuuid", "libxml2", "libzstd", "logrotate", "lua-libs", "lz4-libs", "ncurses",
    "ncurses-libs", "nettle", "openldap", "openssh", "openssh-clients", "openssh-server",
    "openssl", "openssl-libs", "p11-kit", "pam", "passwd", "pcre2", "policycoreutils",
    "procps-ng", "python3", "python3-libs", "readline", "rpm", "rpm-libs", "rsyslog", "sed",
    "selinux-policy", "setup", "shadow-utils", "sqlite-libs", "sudo", "systemd", "systemd-libs",
    "tar", "tzdata", "util-linux", "vim-minimal", "which", "xz-libs", "zlib",
];

/// Linux packages by server role: (role, dpkg name, rpm name, systemd unit, unit
/// description, listening (protocol, port, process)).
pub const LINUX_ROLE_SERVICES: &[RoleService] = &[
    RoleService { role: "database", deb: "postgresql-16", rpm: "postgresql-server", unit: "postgresql.service", description: "PostgreSQL database server", ports: &[("tcp", 5432, "postgres")] },
    RoleService { role: "web", deb: "nginx", rpm: "nginx", unit: "nginx.service", description: "A high performance web server and a reverse proxy server", ports: &[("tcp", 80, "nginx"), ("tcp", 443, "nginx")] },
    RoleService { role: "file-server", deb: "samba", rpm: "samba", unit: "smbd.service", description: "Samba SMB Daemon", ports: &[("tcp", 445, "smbd"), ("tcp", 139, "smbd")] },
    RoleService { role: "application", deb: "openjdk-17-jre-headless", rpm: "java-17-openjdk-headless", unit: "tomcat.service", description: "Apache Tomcat Web Application Container", ports: &[("tcp", 8080, "java"), ("tcp", 8443, "java")] },
    RoleService { role: "backup", deb: "bacula-fd", rpm: "bacula-client", unit: "bacula-fd.service", description: "Bacula File Daemon service", ports: &[("tcp", 9102, "bacula-fd")] },
    RoleService { role: "monitoring", deb: "prometheus", rpm: "golang-github-prometheus", unit: "prometheus.service", description: "Monitoring system and time series database", ports: &[("tcp", 9090, "prometheus")] },
    RoleService { role: "test", deb: "docker.io", rpm: "podman", unit: "docker.service", description: "Docker Application Container Engine", ports: &[] },
];
