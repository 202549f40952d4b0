//! The machine's sections: hardware, CPU, memory, GPUs.

use chrono::NaiveDate;
use estate_protocol::{
    Chassis, Cpu, Gpu, Hardware, Known, Memory, Virtualization, VirtualizationKind,
};

use super::Ctx;
use crate::simulate::catalogue::{Hypervisor, Maker};
use crate::simulate::profile::{HostClass, Platform};

/// A gibibyte.
pub(crate) const GIB: u64 = 1 << 30;

fn date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day)
}

fn maker_name(maker: Maker, server: bool) -> &'static str {
    match maker {
        Maker::Dell => "Dell Inc.",
        Maker::Hp if server => "HPE",
        Maker::Hp => "HP",
        Maker::Lenovo => "LENOVO",
    }
}

/// `hardware`: DMI (Linux) or WMI (Windows) identity, firmware and virtualisation.
pub(crate) fn hardware(ctx: &Ctx<'_>) -> Hardware {
    let p = ctx.p;
    let mut rng = ctx.rng(10);
    match p.platform {
        Platform::Physical(model) => {
            let server = p.class.is_server();
            let vendor = maker_name(model.maker, server);
            let serial = match model.maker {
                Maker::Dell => rng.hex(4)[..7].to_ascii_uppercase(),
                Maker::Hp if server => format!("CZJ{}", rng.range_u64(1_000_000, 9_999_999)),
                Maker::Hp => format!("5CG{}", rng.range_u64(1_000_000, 9_999_999)),
                Maker::Lenovo => format!("PF{}", rng.hex(3).to_ascii_uppercase()),
            };
            // Firmware updated since launch makes the host look younger (the BIOS date is
            // a proxy for age, docs/facts.md).
            let years_later = if p.traits.bios_updated {
                rng.range_u64(1, 4) as i32
            } else {
                0
            };
            let bios_year = (model.year + years_later).min(2026);
            let bios_date = date(
                bios_year,
                rng.range_u64(1, 12) as u32,
                rng.range_u64(1, 28) as u32,
            );
            let bios_version = if years_later > 0 {
                bump_bios(model.bios_version, years_later)
            } else {
                model.bios_version.to_owned()
            };
            let chassis = match p.class {
                HostClass::PhysicalServer => Chassis::Server,
                _ if model.chassis_code == 10 || model.chassis_code == 9 => Chassis::Laptop,
                _ => Chassis::Desktop,
            };
            let bios_vendor = match model.maker {
                Maker::Lenovo => "LENOVO",
                other => maker_name(other, server),
            };
            Hardware {
                vendor: Some(vendor.to_owned()),
                product: Some(model.product.to_owned()),
                product_version: model.product_version.map(str::to_owned),
                serial: Known::Known { value: serial },
                chassis_type_code: Some(model.chassis_code),
                chassis,
                bios_vendor: Some(bios_vendor.to_owned()),
                bios_version: Some(bios_version),
                bios_date,
                virtualization: Virtualization {
                    kind: VirtualizationKind::Physical,
                    technology: None,
                    evidence: if p.is_windows() {
                        vec![format!(
                            "Win32_ComputerSystem Manufacturer={vendor}, Model={}: no hypervisor's firmware strings",
                            model.product
                        )]
                    } else {
                        vec![
                            format!("dmi sys_vendor={vendor}, no hypervisor signature"),
                            "/proc/cpuinfo: no hypervisor flag".to_owned(),
                        ]
                    },
                },
            }
        }
        Platform::Virtual { cluster, efi } => {
            let (vendor, product, bios_vendor, bios_version, bios_date, technology) =
                match cluster.hypervisor {
                    Hypervisor::Vmware if efi => (
                        "VMware, Inc.",
                        "VMware7,1",
                        "VMware, Inc.",
                        "VMW71.00V.21100432.B64.2301110304",
                        date(2023, 1, 11),
                        "vmware",
                    ),
                    Hypervisor::Vmware => (
                        "VMware, Inc.",
                        "VMware Virtual Platform",
                        "Phoenix Technologies LTD",
                        "6.00",
                        date(2020, 11, 12),
                        "vmware",
                    ),
                    Hypervisor::HyperV => (
                        "Microsoft Corporation",
                        "Virtual Machine",
                        "Microsoft Corporation",
                        "Hyper-V UEFI Release v4.1",
                        date(2023, 7, 17),
                        "hyper-v",
                    ),
                };
            let serial = match cluster.hypervisor {
                Hypervisor::Vmware => {
                    let h = rng.hex(16);
                    let pairs: Vec<&str> =
                        (0..16).filter_map(|i| h.get(i * 2..i * 2 + 2)).collect();
                    format!("VMware-{}-{}", pairs[..8].join(" "), pairs[8..].join(" "))
                }
                Hypervisor::HyperV => format!(
                    "{:04}-{:04}-{:04}-{:04}-{:04}-{:04}-{:02}",
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 9999),
                    rng.range_u64(0, 99)
                ),
            };
            let evidence = if ctx.p.is_windows() {
                // The first firmware string that names the hypervisor.
                match cluster.hypervisor {
                    Hypervisor::Vmware => {
                        vec![format!("Win32_ComputerSystem Manufacturer={vendor}")]
                    }
                    Hypervisor::HyperV => vec![format!("Win32_ComputerSystem Model={product}")],
                }
            } else {
                vec![
                    format!("dmi sys_vendor={vendor}"),
                    "/proc/cpuinfo: hypervisor flag".to_owned(),
                ]
            };
            Hardware {
                vendor: Some(vendor.to_owned()),
                product: Some(product.to_owned()),
                product_version: (cluster.hypervisor == Hypervisor::HyperV)
                    .then(|| "Hyper-V".to_owned()),
                serial: Known::Known { value: serial },
                chassis_type_code: Some(if cluster.hypervisor == Hypervisor::HyperV {
                    3
                } else {
                    1
                }),
                chassis: Chassis::Virtual,
                bios_vendor: Some(bios_vendor.to_owned()),
                bios_version: Some(bios_version.to_owned()),
                bios_date,
                virtualization: Virtualization {
                    kind: VirtualizationKind::Vm,
                    technology: Some(technology.to_owned()),
                    evidence,
                },
            }
        }
    }
}

/// A firmware version some releases after `version`: its last number raised.
fn bump_bios(version: &str, by: i32) -> String {
    let digits_end = version
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_ascii_digit())
        .map(|(i, _)| i + 1);
    let Some(end) = digits_end else {
        return version.to_owned();
    };
    let start = version[..end]
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let width = end - start;
    let number: u64 = version[start..end].parse().unwrap_or(0);
    let bumped = number + u64::try_from(by.max(0)).unwrap_or(0) * 2;
    format!("{}{bumped:0width$}{}", &version[..start], &version[end..])
}

/// `cpu`.
pub(crate) fn cpu(ctx: &Ctx<'_>) -> Cpu {
    let p = ctx.p;
    let mut flags: Vec<String> = ["aes", "avx", "avx2", "lm", "nx", "rdrand", "sse4_2"]
        .iter()
        .map(|f| (*f).to_owned())
        .collect();
    if matches!(p.cpu.generation, "Skylake" | "Cascade Lake" | "Ice Lake") && p.class.is_server() {
        flags.push("avx512f".to_owned());
    }
    if p.is_virtual() {
        flags.push("hypervisor".to_owned());
    } else if p.cpu.vendor == "AuthenticAMD" {
        flags.push("svm".to_owned());
    } else {
        flags.push("vmx".to_owned());
    }
    flags.sort();
    // Windows reports the base clock; Linux the cpufreq maximum (VMs: the host's clock).
    let max_mhz = if p.is_windows() || p.is_virtual() {
        p.cpu.base_mhz
    } else {
        p.cpu.max_mhz
    };
    Cpu {
        model: p.cpu.brand.to_owned(),
        vendor: p.cpu.vendor.to_owned(),
        sockets: p.sockets,
        physical_cores: p.physical_cores,
        logical_cpus: p.logical_cpus,
        max_mhz: Some(f64::from(max_mhz)),
        // The Windows agent does not read CPU flags.
        flags: if p.is_windows() { Vec::new() } else { flags },
    }
}

/// `memory`: what the OS sees of the installed memory, and swap (Windows: the page file).
pub(crate) fn memory(ctx: &Ctx<'_>) -> Memory {
    let p = ctx.p;
    let installed = p.memory_gib * GIB;
    // Firmware, integrated graphics and the kernel keep a little.
    let reserved = if p.is_virtual() {
        installed / 50
    } else {
        installed / 40
    };
    // Whole pages, as the kernel and Windows count it.
    let total = (installed - reserved) / 4096 * 4096;
    let mut volatile = ctx.volatile_rng(11);
    let used = (p.load.memory_base + 0.03 * volatile.normalish()).clamp(0.05, 0.98);
    let swap_total = if p.is_windows() {
        (installed / 8).clamp(2 * GIB, 16 * GIB)
    } else if p.class.is_server() {
        (installed / 16).clamp(GIB, 8 * GIB)
    } else {
        2 * GIB
    };
    let swap_used = if used > 0.85 { 0.3 } else { 0.02 };
    Memory {
        total_bytes: total,
        available_bytes: ((1.0 - used) * total as f64) as u64,
        swap_total_bytes: swap_total,
        swap_free_bytes: ((1.0 - swap_used) * swap_total as f64) as u64,
    }
}

/// `gpus`: integrated graphics on endpoints, the BMC's on physical servers, the
/// hypervisor's adapter on VMware VMs (Hyper-V's synthetic video is not a PCI device).
pub(crate) fn gpus(ctx: &Ctx<'_>) -> Vec<Gpu> {
    let p = ctx.p;
    let windows = p.is_windows();
    let gpu = |address: &str,
               vendor_id: &str,
               device_id: &str,
               vendor: &str,
               model: &str,
               driver: &str| Gpu {
        pci_address: address.to_owned(),
        vendor_id: vendor_id.to_owned(),
        device_id: device_id.to_owned(),
        vendor: Some(vendor.to_owned()),
        model: windows.then(|| model.to_owned()),
        driver: (!windows).then(|| driver.to_owned()),
        memory_bytes: None,
        power_limit_watts: None,
        utilisation_ratio: None,
    };
    match p.platform {
        Platform::Virtual { cluster, .. } if cluster.hypervisor == Hypervisor::Vmware => {
            vec![gpu(
                "0000:00:0f.0",
                "15ad",
                "0405",
                "VMware",
                "VMware SVGA 3D",
                "vmwgfx",
            )]
        }
        Platform::Virtual { .. } => Vec::new(),
        Platform::Physical(model) if p.class == HostClass::PhysicalServer => {
            let (address, device, name) = match model.maker {
                Maker::Hp => ("0000:01:00.1", "0538", "Matrox G200eH3"),
                _ => ("0000:03:00.0", "0536", "Matrox G200eW3"),
            };
            vec![gpu(address, "102b", device, "Matrox", name, "mgag200")]
        }
        Platform::Physical(_) => {
            let (vendor_id, device, name) = crate::simulate::catalogue::integrated_gpu(&p.cpu);
            let (vendor, driver) = if vendor_id == "1002" {
                ("AMD", "amdgpu")
            } else {
                ("Intel", "i915")
            };
            vec![gpu("0000:00:02.0", vendor_id, device, vendor, name, driver)]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bios_versions_move_forward() {
        assert_eq!(bump_bios("2.12.2", 1), "2.12.4");
        assert_eq!(bump_bios("N2IET93W (1.71 )", 2), "N2IET93W (1.75 )");
        assert_eq!(bump_bios("U30", 3), "U36");
        assert_eq!(bump_bios("M2WKT4AA", 1), "M2WKT6AA");
        assert_eq!(bump_bios("none", 1), "none");
    }
}
