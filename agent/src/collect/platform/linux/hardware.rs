//! The hardware collector: system identity from SMBIOS/DMI (`/sys/class/dmi/id`) and
//! whether the host is physical, a virtual machine or a container.
//!
//! Reads files only (no `dmidecode`, no CPUID). Placeholder strings that firmware
//! vendors leave in DMI ("To Be Filled By O.E.M.", "Not Specified", all zeros) are
//! treated as absent, never reported as values. A host without DMI (microVMs such as
//! Firecracker, many ARM boards) still gets a section: virtualisation then rests on the
//! CPU's hypervisor flag, and a `partial` problem says DMI was missing.
//!
//! # Chassis classes (SMBIOS 3.x, DSP0134 §7.4.1 chassis types)
//!
//! | class   | codes | why |
//! |---------|-------|-----|
//! | laptop  | 8 Portable, 9 Laptop, 10 Notebook, 11 Hand Held, 14 Sub Notebook, 30 Tablet, 31 Convertible, 32 Detachable | battery-powered mobile devices |
//! | desktop | 3 Desktop, 4 Low Profile Desktop, 5 Pizza Box, 6 Mini Tower, 7 Tower, 13 All in One, 15 Space-saving, 16 Lunch Box, 24 Sealed-case PC, 34 Embedded PC, 35 Mini PC, 36 Stick PC | mains-powered single-user boxes |
//! | server  | 17 Main Server Chassis, 22 RAID Chassis, 23 Rack Mount Chassis, 25 Multi-system Chassis, 26 Compact PCI, 27 Advanced TCA, 28 Blade, 29 Blade Enclosure | server-room equipment |
//! | unknown | 1 Other, 2 Unknown, 12 Docking Station, 18–21 expansion/peripheral chassis, 33 IoT Gateway, anything else | says nothing useful about the host |
//!
//! A tower can be a server too (7 Tower is common on small tower servers); we keep it
//! desktop because the code alone cannot tell, and the power model treats it as such.
//! A virtual machine or container is `virtual` whatever code its (emulated) firmware
//! reports; the code is still reported.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use estate_protocol::{Chassis, Hardware, Known, Virtualization, VirtualizationKind};

use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::{ReadError, SysRoot};

/// Where the kernel exposes DMI.
pub const DMI_DIR: &str = "/sys/class/dmi/id";

/// How long a hardware section read in this boot stands before it is read again (one
/// hour). Nothing it reads changes within a boot in practice — the firmware's DMI
/// tables, the CPU's hypervisor flag, the clock sources, PID 1's container markers —
/// so this only bounds how long an unforeseen change (a container marker written
/// late) can go unseen.
pub const HARDWARE_TTL: Duration = Duration::from_secs(3600);

/// Collects the [`Hardware`] section.
///
/// The section is kept for the boot it was read in ([`super::boot_id`]), up to
/// [`HARDWARE_TTL`]: about 20 files per report, `/proc/cpuinfo` among them (on x86 the
/// kernel asks every CPU for its clock to write it), for a section that does not change.
/// Without a boot id (a recorded sysroot that has none) it is read every time.
#[derive(Debug, Default)]
pub struct HardwareCollector {
    last: Mutex<Option<CachedHardware>>,
}

#[derive(Debug)]
struct CachedHardware {
    root: PathBuf,
    boot_id: String,
    at: Instant,
    collected: Collected,
}

impl Collector for HardwareCollector {
    fn name(&self) -> &'static str {
        "hardware"
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        self.collect_at(ctx, Instant::now())
    }
}

impl HardwareCollector {
    /// [`Collector::collect`] at `now`: the section kept from earlier in this boot
    /// while it is younger than [`HARDWARE_TTL`], else read afresh.
    fn collect_at(&self, ctx: &Context, now: Instant) -> Result<Collected, CollectError> {
        // Plain data: a panic elsewhere while holding it leaves a usable cache.
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let boot_id = super::boot_id(&ctx.root);
        if let (Some(cached), Some(boot_id)) = (last.as_ref(), boot_id.as_deref())
            && cached.root == ctx.root.root()
            && cached.boot_id == boot_id
            && now.saturating_duration_since(cached.at) < HARDWARE_TTL
        {
            return Ok(cached.collected.clone());
        }
        let collected = read_hardware(&ctx.root)?;
        *last = boot_id.map(|boot_id| CachedHardware {
            root: ctx.root.root().to_path_buf(),
            boot_id,
            at: now,
            collected: collected.clone(),
        });
        Ok(collected)
    }
}

/// Reads the [`Hardware`] section.
fn read_hardware(root: &SysRoot) -> Result<Collected, CollectError> {
    let mut problems = Vec::new();
    let dmi = Dmi::read(root, &mut problems);
    let virtualization = detect_virtualization(root, dmi.as_ref());

    let Some(dmi) = dmi else {
        problems.push(format!(
            "{DMI_DIR}: absent (the firmware exposes no SMBIOS/DMI tables, as on \
                 microVMs and many ARM boards); vendor, product, serial, chassis and BIOS \
                 are unknown"
        ));
        let chassis = match virtualization.kind {
            VirtualizationKind::Vm | VirtualizationKind::Container => Chassis::Virtual,
            _ => Chassis::Unknown,
        };
        let hardware = Hardware {
            vendor: None,
            product: None,
            product_version: None,
            serial: Known::unknown(format!("{DMI_DIR} is absent")),
            chassis_type_code: None,
            chassis,
            bios_vendor: None,
            bios_version: None,
            bios_date: None,
            virtualization,
        };
        return Ok(Collected::partial(Section::Hardware(hardware), problems));
    };

    let chassis_type_code = dmi.chassis_type.as_deref().and_then(|text| {
        let code = text.parse::<u8>().ok().map(|code| code & 0x7f);
        if code.is_none() {
            problems.push(format!(
                "{DMI_DIR}/chassis_type: `{text}` is not a chassis type number"
            ));
        }
        code
    });
    let chassis = match virtualization.kind {
        VirtualizationKind::Vm | VirtualizationKind::Container => Chassis::Virtual,
        _ => chassis_class(chassis_type_code),
    };
    let bios_date = dmi.bios_date.as_deref().and_then(|text| {
        let date = parse_bios_date(text);
        if date.is_none() {
            problems.push(format!(
                "{DMI_DIR}/bios_date: `{text}` is not an MM/DD/YYYY date"
            ));
        }
        date
    });
    let hardware = Hardware {
        vendor: dmi.sys_vendor,
        product: dmi.product_name,
        product_version: dmi.product_version.or(dmi.product_family),
        serial: dmi.serial,
        chassis_type_code,
        chassis,
        bios_vendor: dmi.bios_vendor,
        bios_version: dmi.bios_version,
        bios_date,
        virtualization,
    };
    Ok(Collected::partial(Section::Hardware(hardware), problems))
}

/// The DMI strings we use, placeholders removed.
#[derive(Debug)]
struct Dmi {
    sys_vendor: Option<String>,
    product_name: Option<String>,
    product_version: Option<String>,
    product_family: Option<String>,
    board_vendor: Option<String>,
    chassis_type: Option<String>,
    bios_vendor: Option<String>,
    bios_version: Option<String>,
    bios_date: Option<String>,
    serial: Known<String>,
}

impl Dmi {
    /// `None` when `/sys/class/dmi/id` does not exist.
    fn read(root: &SysRoot, problems: &mut Vec<String>) -> Option<Dmi> {
        if !root.exists(DMI_DIR) {
            return None;
        }
        let mut attr = |name: &str| -> Option<String> {
            match root.read_attr(&format!("{DMI_DIR}/{name}")) {
                Ok(value) => value.filter(|v| !is_placeholder(v)),
                Err(err) => {
                    problems.push(err.to_string());
                    None
                }
            }
        };
        Some(Dmi {
            sys_vendor: attr("sys_vendor"),
            product_name: attr("product_name"),
            product_version: attr("product_version"),
            product_family: attr("product_family"),
            board_vendor: attr("board_vendor"),
            chassis_type: attr("chassis_type"),
            bios_vendor: attr("bios_vendor"),
            bios_version: attr("bios_version"),
            bios_date: attr("bios_date"),
            serial: read_serial(root),
        })
    }
}

/// The product serial, or why it is unknown. The kernel makes `product_serial`
/// readable by root only.
fn read_serial(root: &SysRoot) -> Known<String> {
    let path = format!("{DMI_DIR}/product_serial");
    match root.read_attr(&path) {
        Ok(Some(serial)) if is_placeholder(&serial) => {
            Known::unknown(format!("{path} holds the placeholder `{serial}`"))
        }
        Ok(Some(serial)) => Known::Known { value: serial },
        Ok(None) => Known::unknown(format!("{path} is absent or empty")),
        Err(ReadError { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Known::unknown(format!(
                "{path} is readable by root only (permission denied)"
            ))
        }
        Err(err) => Known::unknown(err.to_string()),
    }
}

/// Whether a DMI string is a placeholder rather than a value.
pub fn is_placeholder(value: &str) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "to be filled by o.e.m.",
        "to be filled by oem",
        "not specified",
        "not applicable",
        "not available",
        "default string",
        "system serial number",
        "system product name",
        "system manufacturer",
        "system version",
        "chassis serial number",
        "base board serial number",
        "serial number",
        "none",
        "n/a",
        "na",
        "oem",
        "o.e.m.",
        "unknown",
        "invalid",
        "empty",
        "123456789",
        "0123456789",
        "1234567890",
        "x.x",
    ];
    let value = value.trim();
    if value.is_empty() {
        return true;
    }
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDERS.contains(&lower.as_str()) {
        return true;
    }
    // All zeros (`0`, `00000000`, `0000-0000`), all F or all X: not a real serial.
    let significant: Vec<char> = lower
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '.' | ':' | '_'))
        .collect();
    significant.is_empty()
        || significant.iter().all(|&c| c == '0')
        || significant.iter().all(|&c| c == 'f')
        || significant.iter().all(|&c| c == 'x')
}

/// The chassis class of an SMBIOS chassis type code (see the module table).
pub fn chassis_class(code: Option<u8>) -> Chassis {
    match code {
        Some(8 | 9 | 10 | 11 | 14 | 30 | 31 | 32) => Chassis::Laptop,
        Some(3 | 4 | 5 | 6 | 7 | 13 | 15 | 16 | 24 | 34 | 35 | 36) => Chassis::Desktop,
        Some(17 | 22 | 23 | 25 | 26 | 27 | 28 | 29) => Chassis::Server,
        _ => Chassis::Unknown,
    }
}

/// `MM/DD/YYYY` (SMBIOS) as a date; two-digit years (old BIOSes) are 19xx from 70 on.
pub fn parse_bios_date(text: &str) -> Option<chrono::NaiveDate> {
    let mut parts = text.trim().split('/');
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let year_text = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let mut year: i32 = year_text.parse().ok()?;
    if year_text.len() == 2 {
        year += if year >= 70 { 1900 } else { 2000 };
    } else if year_text.len() != 4 {
        return None;
    }
    chrono::NaiveDate::from_ymd_opt(year, month, day)
}

/// Hypervisor signatures in DMI strings: (substring, where, technology).
const DMI_SIGNATURES: &[(&str, Field, &str)] = &[
    ("KVM", Field::Product, "kvm"),
    ("QEMU", Field::Any, "qemu"),
    ("VMware", Field::Any, "vmware"),
    ("VirtualBox", Field::Any, "virtualbox"),
    ("innotek GmbH", Field::Any, "virtualbox"),
    ("Xen", Field::Vendor, "xen"),
    ("HVM domU", Field::Product, "xen"),
    ("Amazon EC2", Field::Vendor, "amazon"),
    ("Google Compute Engine", Field::Product, "google"),
    ("OpenStack", Field::Any, "openstack"),
    ("Parallels", Field::Any, "parallels"),
    ("BHYVE", Field::Any, "bhyve"),
    ("Bochs", Field::Vendor, "bochs"),
    ("Nutanix", Field::Vendor, "nutanix-ahv"),
    ("Alibaba Cloud ECS", Field::Product, "alibaba"),
    ("Apple Virtualization", Field::Any, "apple"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    /// sys_vendor, board_vendor or bios_vendor.
    Vendor,
    /// product_name.
    Product,
    /// Any of them.
    Any,
}

/// Decides physical / VM / container, with the evidence.
///
/// Containers first (a container inside a VM is a container): `/run/systemd/container`,
/// `container=` in PID 1's environment, `/run/.containerenv` (podman), container
/// cgroups of PID 1 (docker, kubepods, lxc, libpod), Kubernetes service-account
/// secrets, and `/.dockerenv`. `/.dockerenv` alone is weak: VM images built from
/// container images keep it, so where the machine shows a hypervisor and PID 1's root
/// is not an overlay it is noted and ignored.
///
/// Then VMs: DMI signatures, `/sys/hypervisor/type` (Xen, excluding dom0), the
/// paravirtual clock source (`kvm-clock`, `xen`, `hyperv_clocksource_*`), WSL kernels,
/// and the CPU's `hypervisor` flag. Else physical when DMI is present, unknown without.
fn detect_virtualization(root: &SysRoot, dmi: Option<&Dmi>) -> Virtualization {
    let mut evidence = Vec::new();
    let hypervisor_flag = cpu_has_hypervisor_flag(root);
    let clocksource = root
        .read_attr("/sys/devices/system/clocksource/clocksource0/available_clocksource")
        .ok()
        .flatten()
        .unwrap_or_default();
    let pv_clock = clocksource.split_whitespace().find_map(|name| match name {
        "kvm-clock" => Some("kvm"),
        "xen" => Some("xen"),
        n if n.starts_with("hyperv_clocksource") => Some("hyper-v"),
        _ => None,
    });
    let dmi_vm = dmi.and_then(dmi_hypervisor);

    if let Some((technology, container_evidence)) = detect_container(
        root,
        hypervisor_flag || dmi_vm.is_some() || pv_clock.is_some(),
        &mut evidence,
    ) {
        return Virtualization {
            kind: VirtualizationKind::Container,
            technology: Some(technology),
            evidence: container_evidence,
        };
    }

    let mut technology: Option<String> = None;
    let mut is_vm = false;
    if let Some((tech, what)) = dmi_vm {
        evidence.push(what);
        technology = Some(tech.to_owned());
        is_vm = true;
    }
    let hypervisor_type = root.read_attr("/sys/hypervisor/type").ok().flatten();
    if let Some(kind) = hypervisor_type.as_deref() {
        let dom0 = root
            .read_attr("/proc/xen/capabilities")
            .ok()
            .flatten()
            .is_some_and(|caps| caps.contains("control_d"));
        if dom0 {
            evidence.push(format!(
                "/sys/hypervisor/type={kind} but /proc/xen/capabilities has control_d (Xen dom0)"
            ));
        } else {
            evidence.push(format!("/sys/hypervisor/type={kind}"));
            technology.get_or_insert_with(|| kind.to_owned());
            is_vm = true;
        }
    }
    if let Some(tech) = pv_clock {
        evidence.push(format!("clocksource {}", clock_name(&clocksource, tech)));
        is_vm = true;
        // QEMU with KVM acceleration is KVM; a cloud's own name is kept.
        match technology.as_deref() {
            None | Some("qemu") | Some("openstack") | Some("bochs") => {
                technology = Some(tech.to_owned())
            }
            _ => {}
        }
    }
    let osrelease = root
        .read_attr("/proc/sys/kernel/osrelease")
        .ok()
        .flatten()
        .unwrap_or_default();
    if osrelease.contains("microsoft") || osrelease.contains("WSL") {
        evidence.push(format!("kernel release {osrelease} (WSL)"));
        technology = Some("wsl".to_owned());
        is_vm = true;
    }
    if hypervisor_flag {
        evidence.push("/proc/cpuinfo: hypervisor flag".to_owned());
        is_vm = true;
    }
    if is_vm {
        return Virtualization {
            kind: VirtualizationKind::Vm,
            technology,
            evidence,
        };
    }
    match dmi {
        Some(dmi) => {
            let vendor = dmi.sys_vendor.as_deref().unwrap_or("(none)");
            evidence.push(format!("dmi sys_vendor={vendor}, no hypervisor signature"));
            evidence.push("/proc/cpuinfo: no hypervisor flag".to_owned());
            if let Some(product) = dmi
                .product_name
                .as_deref()
                .filter(|p| p.ends_with(".metal"))
            {
                evidence.push(format!("dmi product_name={product} (bare-metal instance)"));
            }
            Virtualization {
                kind: VirtualizationKind::Physical,
                technology: None,
                evidence,
            }
        }
        None => {
            evidence.push("no DMI and no hypervisor flag in /proc/cpuinfo".to_owned());
            Virtualization {
                kind: VirtualizationKind::Unknown,
                technology: None,
                evidence,
            }
        }
    }
}

fn clock_name<'a>(available: &'a str, tech: &str) -> &'a str {
    available
        .split_whitespace()
        .find(|name| match tech {
            "kvm" => *name == "kvm-clock",
            "xen" => *name == "xen",
            _ => name.starts_with("hyperv_clocksource"),
        })
        .unwrap_or_default()
}

/// A DMI hypervisor signature: (technology, evidence). Amazon's `*.metal` instances
/// and Microsoft's physical machines (Surface) do not count.
fn dmi_hypervisor(dmi: &Dmi) -> Option<(&'static str, String)> {
    let product = dmi.product_name.as_deref().unwrap_or_default();
    if product.ends_with(".metal") {
        return None;
    }
    if dmi.sys_vendor.as_deref() == Some("Microsoft Corporation") && product == "Virtual Machine" {
        return Some((
            "hyper-v",
            "dmi sys_vendor=Microsoft Corporation product_name=Virtual Machine".to_owned(),
        ));
    }
    let vendors = [
        ("sys_vendor", dmi.sys_vendor.as_deref()),
        ("board_vendor", dmi.board_vendor.as_deref()),
        ("bios_vendor", dmi.bios_vendor.as_deref()),
    ];
    for (needle, field, tech) in DMI_SIGNATURES {
        if matches!(field, Field::Product | Field::Any) && product.contains(needle) {
            return Some((tech, format!("dmi product_name={product}")));
        }
        if matches!(field, Field::Vendor | Field::Any) {
            for (name, value) in vendors {
                if let Some(value) = value.filter(|v| v.contains(needle)) {
                    return Some((tech, format!("dmi {name}={value}")));
                }
            }
        }
    }
    None
}

/// Container evidence: the technology and the evidence, or `None`. Weak evidence
/// that was set aside is added to `noted`.
fn detect_container(
    root: &SysRoot,
    machine_is_virtual: bool,
    noted: &mut Vec<String>,
) -> Option<(String, Vec<String>)> {
    let mut evidence = Vec::new();
    let mut technology: Option<String> = None;
    let set = |tech: &str, technology: &mut Option<String>| {
        // Kubernetes says more than the runtime under it.
        if technology.as_deref() != Some("kubernetes") {
            *technology = Some(tech.to_owned());
        }
    };
    if let Ok(Some(value)) = root.read_attr("/run/systemd/container") {
        evidence.push(format!("/run/systemd/container={value}"));
        set(&value, &mut technology);
    }
    if let Ok(Some(environ)) = root.read_optional("/proc/1/environ") {
        for var in environ.split('\0') {
            if let Some(value) = var.strip_prefix("container=").filter(|v| !v.is_empty()) {
                evidence.push(format!("/proc/1/environ container={value}"));
                set(value, &mut technology);
            }
            if var.starts_with("KUBERNETES_SERVICE_HOST=") {
                evidence.push("/proc/1/environ KUBERNETES_SERVICE_HOST".to_owned());
                set("kubernetes", &mut technology);
            }
        }
    }
    if root.exists("/run/.containerenv") {
        evidence.push("/run/.containerenv present".to_owned());
        set("podman", &mut technology);
    }
    if let Ok(Some(cgroup)) = root.read_optional("/proc/1/cgroup") {
        for line in cgroup.lines() {
            let path = line.splitn(3, ':').nth(2).unwrap_or_default();
            let tech = if path.contains("kubepods") {
                Some("kubernetes")
            } else if path.contains("/docker/") || path.contains("/docker-") {
                Some("docker")
            } else if path.contains("libpod") {
                Some("podman")
            } else if path.contains("/lxc/") || path.contains("/lxc.payload") {
                Some("lxc")
            } else {
                None
            };
            if let Some(tech) = tech {
                evidence.push(format!("/proc/1/cgroup {path}"));
                set(tech, &mut technology);
                break;
            }
        }
    }
    for secrets in [
        "/run/secrets/kubernetes.io/serviceaccount",
        "/var/run/secrets/kubernetes.io/serviceaccount",
    ] {
        if root.exists(secrets) {
            evidence.push(format!("{secrets} present"));
            set("kubernetes", &mut technology);
            break;
        }
    }
    if root.exists("/.dockerenv") {
        let root_fs = pid1_root_fstype(root);
        let overlay = root_fs.as_deref() == Some("overlay");
        if technology.is_some() || overlay || !machine_is_virtual {
            evidence.push(match root_fs.as_deref() {
                Some(fs) => format!("/.dockerenv present, root filesystem {fs}"),
                None => "/.dockerenv present".to_owned(),
            });
            set("docker", &mut technology);
        } else {
            noted.push(format!(
                "/.dockerenv present but set aside: the machine shows a hypervisor and \
                 PID 1's root filesystem is {}, not a container overlay",
                root_fs.as_deref().unwrap_or("unknown")
            ));
        }
    }
    technology.map(|tech| (tech, evidence))
}

/// The filesystem type of PID 1's `/` from `/proc/1/mountinfo` (the last mount wins).
fn pid1_root_fstype(root: &SysRoot) -> Option<String> {
    let text = root.read_optional("/proc/1/mountinfo").ok().flatten()?;
    text.lines()
        .filter(|line| line.split(' ').nth(4) == Some("/"))
        .filter_map(|line| line.split_once(" - "))
        .filter_map(|(_, rest)| rest.split(' ').next())
        .next_back()
        .map(str::to_owned)
}

/// Whether the first processor in `/proc/cpuinfo` has the `hypervisor` flag (set by
/// every x86 hypervisor in CPUID leaf 1).
pub fn cpu_has_hypervisor_flag(root: &SysRoot) -> bool {
    let Ok(text) = root.read_to_string("/proc/cpuinfo") else {
        return false;
    };
    text.lines()
        .find(|line| line.starts_with("flags"))
        .and_then(|line| line.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == "hypervisor"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{
        DEBIAN_VM, DELL, broken_copy, ctx, ctx_at, remove, truncate_half, write,
    };
    use chrono::NaiveDate;

    fn collect(ctx: &Context) -> (Hardware, Vec<String>) {
        let collected = HardwareCollector::default().collect(ctx).unwrap();
        match collected.section {
            Section::Hardware(hw) => (hw, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn vendor_of(collected: Collected) -> Option<String> {
        match collected.section {
            Section::Hardware(hw) => hw.vendor,
            other => panic!("wrong section {other:?}"),
        }
    }

    #[test]
    fn the_section_is_kept_for_the_boot_and_the_ttl() {
        let dir = broken_copy(DEBIAN_VM);
        let c = ctx_at(dir.path());
        let collector = HardwareCollector::default();
        let t0 = Instant::now();
        write(
            dir.path(),
            crate::collect::platform::linux::BOOT_ID,
            b"boot-a\n",
        );
        assert_eq!(
            vendor_of(collector.collect_at(&c, t0).unwrap()).as_deref(),
            Some("QEMU")
        );
        // Within the boot and the TTL: not read again.
        write(dir.path(), "/sys/class/dmi/id/sys_vendor", b"Changed\n");
        let later = t0 + HARDWARE_TTL / 2;
        assert_eq!(
            vendor_of(collector.collect_at(&c, later).unwrap()).as_deref(),
            Some("QEMU")
        );
        // The TTL ran out: read again.
        let expired = t0 + HARDWARE_TTL;
        assert_eq!(
            vendor_of(collector.collect_at(&c, expired).unwrap()).as_deref(),
            Some("Changed")
        );
        // A new boot: read again, whatever the TTL.
        write(dir.path(), "/sys/class/dmi/id/sys_vendor", b"Rebooted\n");
        write(
            dir.path(),
            crate::collect::platform::linux::BOOT_ID,
            b"boot-b\n",
        );
        assert_eq!(
            vendor_of(collector.collect_at(&c, expired).unwrap()).as_deref(),
            Some("Rebooted")
        );
        // No boot id: read every time.
        remove(dir.path(), crate::collect::platform::linux::BOOT_ID);
        write(dir.path(), "/sys/class/dmi/id/sys_vendor", b"Unbooted\n");
        assert_eq!(
            vendor_of(collector.collect_at(&c, expired).unwrap()).as_deref(),
            Some("Unbooted")
        );
        write(dir.path(), "/sys/class/dmi/id/sys_vendor", b"Again\n");
        assert_eq!(
            vendor_of(collector.collect_at(&c, expired).unwrap()).as_deref(),
            Some("Again")
        );
    }

    #[test]
    fn dell_is_a_physical_rack_server() {
        let (hw, problems) = collect(&ctx(DELL));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(hw.vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(hw.product.as_deref(), Some("PowerEdge R740"));
        // product_version is empty on Dell: the family stands in.
        assert_eq!(hw.product_version.as_deref(), Some("PowerEdge"));
        assert_eq!(
            hw.serial,
            Known::Known {
                value: "7XK2Q93".to_owned()
            }
        );
        assert_eq!(hw.chassis_type_code, Some(23));
        assert_eq!(hw.chassis, Chassis::Server);
        assert_eq!(hw.bios_vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(hw.bios_version.as_deref(), Some("2.12.2"));
        assert_eq!(hw.bios_date, NaiveDate::from_ymd_opt(2021, 6, 22));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Physical);
        assert_eq!(hw.virtualization.technology, None);
        assert_eq!(
            hw.virtualization.evidence,
            vec![
                "dmi sys_vendor=Dell Inc., no hypervisor signature",
                "/proc/cpuinfo: no hypervisor flag"
            ]
        );
    }

    #[test]
    fn debian_is_a_kvm_vm_with_a_virtual_chassis_and_no_serial() {
        let (hw, problems) = collect(&ctx(DEBIAN_VM));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(hw.vendor.as_deref(), Some("QEMU"));
        assert_eq!(
            hw.product.as_deref(),
            Some("Standard PC (Q35 + ICH9, 2009)")
        );
        assert_eq!(hw.product_version.as_deref(), Some("pc-q35-7.2"));
        let Known::Unknown { reason } = &hw.serial else {
            panic!("serial must be unknown");
        };
        assert_eq!(
            reason,
            "/sys/class/dmi/id/product_serial is absent or empty"
        );
        assert_eq!(hw.chassis_type_code, Some(1));
        assert_eq!(hw.chassis, Chassis::Virtual);
        assert_eq!(hw.bios_vendor.as_deref(), Some("SeaBIOS"));
        assert_eq!(hw.bios_version.as_deref(), Some("1.16.2-debian-1.16.2-1"));
        assert_eq!(hw.bios_date, NaiveDate::from_ymd_opt(2014, 4, 1));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Vm);
        assert_eq!(hw.virtualization.technology.as_deref(), Some("kvm"));
        assert_eq!(
            hw.virtualization.evidence,
            vec![
                "dmi sys_vendor=QEMU",
                "clocksource kvm-clock",
                "/proc/cpuinfo: hypervisor flag"
            ]
        );
    }

    #[test]
    fn no_dmi_still_delivers_from_the_hypervisor_flag() {
        let dir = broken_copy(DEBIAN_VM);
        remove(dir.path(), "/sys/class/dmi");
        remove(dir.path(), "/sys/devices/system/clocksource");
        let (hw, problems) = collect(&ctx_at(dir.path()));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("/sys/class/dmi/id: absent"),
            "{problems:?}"
        );
        assert_eq!(hw.vendor, None);
        assert_eq!(hw.chassis, Chassis::Virtual);
        assert!(matches!(hw.serial, Known::Unknown { .. }));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Vm);
        assert_eq!(hw.virtualization.technology, None);
        assert_eq!(
            hw.virtualization.evidence,
            vec!["/proc/cpuinfo: hypervisor flag"]
        );
    }

    #[test]
    fn no_dmi_and_no_flag_is_unknown_not_physical() {
        let dir = broken_copy(DELL);
        remove(dir.path(), "/sys/class/dmi");
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Unknown);
        assert_eq!(hw.chassis, Chassis::Unknown);
    }

    #[test]
    fn placeholders_and_unreadable_serials_are_unknown_with_a_reason() {
        let dir = broken_copy(DELL);
        let serial = "/sys/class/dmi/id/product_serial";
        for (text, reason) in [
            (
                "To Be Filled By O.E.M.\n",
                "placeholder `To Be Filled By O.E.M.`",
            ),
            ("Not Specified\n", "placeholder `Not Specified`"),
            ("0\n", "placeholder `0`"),
            ("00000000-0000\n", "placeholder `00000000-0000`"),
        ] {
            write(dir.path(), serial, text.as_bytes());
            let (hw, _) = collect(&ctx_at(dir.path()));
            let Known::Unknown { reason: got } = hw.serial else {
                panic!("{text} must not be a serial");
            };
            assert!(got.ends_with(reason), "{got}");
        }
        // A directory where the file should be: a read error, named.
        remove(dir.path(), serial);
        std::fs::create_dir_all(dir.path().join("sys/class/dmi/id/product_serial")).unwrap();
        let (hw, _) = collect(&ctx_at(dir.path()));
        let Known::Unknown { reason } = hw.serial else {
            panic!("unknown expected");
        };
        assert!(reason.starts_with(serial), "{reason}");
    }

    #[test]
    fn garbage_chassis_and_bios_date_are_partial_problems() {
        let dir = broken_copy(DELL);
        write(dir.path(), "/sys/class/dmi/id/chassis_type", b"rack\n");
        write(dir.path(), "/sys/class/dmi/id/bios_date", b"2021-06-22\n");
        let (hw, problems) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.chassis_type_code, None);
        assert_eq!(hw.chassis, Chassis::Unknown);
        assert_eq!(hw.bios_date, None);
        assert_eq!(
            problems,
            vec![
                "/sys/class/dmi/id/chassis_type: `rack` is not a chassis type number",
                "/sys/class/dmi/id/bios_date: `2021-06-22` is not an MM/DD/YYYY date",
            ]
        );
        // A truncated cpuinfo still reads (the first processor's flags come first).
        truncate_half(dir.path(), "/proc/cpuinfo");
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Physical);
    }

    #[test]
    fn chassis_codes_map_to_classes() {
        assert_eq!(chassis_class(Some(9)), Chassis::Laptop);
        assert_eq!(chassis_class(Some(31)), Chassis::Laptop);
        assert_eq!(chassis_class(Some(3)), Chassis::Desktop);
        assert_eq!(chassis_class(Some(35)), Chassis::Desktop);
        assert_eq!(chassis_class(Some(23)), Chassis::Server);
        assert_eq!(chassis_class(Some(28)), Chassis::Server);
        assert_eq!(chassis_class(Some(1)), Chassis::Unknown);
        assert_eq!(chassis_class(Some(2)), Chassis::Unknown);
        assert_eq!(chassis_class(None), Chassis::Unknown);
    }

    #[test]
    fn bios_dates_parse() {
        assert_eq!(
            parse_bios_date("06/22/2021"),
            NaiveDate::from_ymd_opt(2021, 6, 22)
        );
        assert_eq!(
            parse_bios_date("12/01/99"),
            NaiveDate::from_ymd_opt(1999, 12, 1)
        );
        assert_eq!(parse_bios_date("02/30/2021"), None);
        assert_eq!(parse_bios_date("06/22/2021/1"), None);
    }

    #[test]
    fn hypervisors_are_named_from_dmi() {
        let dmi = |vendor: &str, product: &str| Dmi {
            sys_vendor: Some(vendor.to_owned()),
            product_name: Some(product.to_owned()),
            product_version: None,
            product_family: None,
            board_vendor: None,
            chassis_type: None,
            bios_vendor: None,
            bios_version: None,
            bios_date: None,
            serial: Known::unknown("test"),
        };
        let tech = |d: Dmi| dmi_hypervisor(&d).map(|(t, _)| t);
        assert_eq!(tech(dmi("VMware, Inc.", "VMware7,1")), Some("vmware"));
        assert_eq!(
            tech(dmi("Microsoft Corporation", "Virtual Machine")),
            Some("hyper-v")
        );
        assert_eq!(tech(dmi("Microsoft Corporation", "Surface Laptop 5")), None);
        assert_eq!(tech(dmi("Xen", "HVM domU")), Some("xen"));
        assert_eq!(tech(dmi("innotek GmbH", "VirtualBox")), Some("virtualbox"));
        assert_eq!(tech(dmi("Amazon EC2", "m5.large")), Some("amazon"));
        assert_eq!(tech(dmi("Amazon EC2", "i3.metal")), None);
        assert_eq!(tech(dmi("Google", "Google Compute Engine")), Some("google"));
        assert_eq!(
            tech(dmi("OpenStack Foundation", "OpenStack Nova")),
            Some("openstack")
        );
        assert_eq!(tech(dmi("Red Hat", "KVM")), Some("kvm"));
        assert_eq!(tech(dmi("HPE", "ProLiant DL380 Gen10")), None);
    }

    #[test]
    fn containers_are_detected_first() {
        let dir = broken_copy(DEBIAN_VM);
        write(dir.path(), "/run/.containerenv", b"engine=\"podman-4.9\"\n");
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Container);
        assert_eq!(hw.virtualization.technology.as_deref(), Some("podman"));
        assert_eq!(hw.chassis, Chassis::Virtual);

        let dir = broken_copy(DELL);
        write(
            dir.path(),
            "/proc/1/cgroup",
            b"0::/kubepods.slice/kubepods-burstable.slice/cri-containerd-ab12.scope\n",
        );
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.technology.as_deref(), Some("kubernetes"));

        let dir = broken_copy(DELL);
        write(dir.path(), "/proc/1/environ", b"PATH=/bin\0container=lxc\0");
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.technology.as_deref(), Some("lxc"));
        assert_eq!(
            hw.virtualization.evidence,
            vec!["/proc/1/environ container=lxc"]
        );
    }

    #[test]
    fn dockerenv_alone_in_a_vm_is_set_aside_unless_the_root_is_an_overlay() {
        // Like the CI machine: a Firecracker VM built from a container image.
        let dir = broken_copy(DEBIAN_VM);
        write(dir.path(), "/.dockerenv", b"");
        write(
            dir.path(),
            "/proc/1/mountinfo",
            b"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n",
        );
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Vm);
        assert!(
            hw.virtualization.evidence[0].starts_with("/.dockerenv present but set aside"),
            "{:?}",
            hw.virtualization.evidence
        );

        write(
            dir.path(),
            "/proc/1/mountinfo",
            b"600 500 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u\n",
        );
        let (hw, _) = collect(&ctx_at(dir.path()));
        assert_eq!(hw.virtualization.kind, VirtualizationKind::Container);
        assert_eq!(hw.virtualization.technology.as_deref(), Some("docker"));
        assert_eq!(
            hw.virtualization.evidence,
            vec!["/.dockerenv present, root filesystem overlay"]
        );
    }

    #[test]
    fn placeholder_strings_are_recognised() {
        for p in [
            "",
            "Not Specified",
            "to be filled by o.e.m.",
            "0",
            "0000-0000",
            "FFFFFFFF",
            "None",
        ] {
            assert!(is_placeholder(p), "{p}");
        }
        for v in ["7XK2Q93", "PowerEdge R740", "VMware-56 4d", "CZ2040X0Q1"] {
            assert!(!is_placeholder(v), "{v}");
        }
    }
}
