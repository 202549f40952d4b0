//! The Windows hardware collector: make, model, serial, chassis, BIOS, TPM, and whether
//! the host is physical or a virtual machine, from WMI.
//!
//! Classes read (`ROOT\CIMV2` unless said): `Win32_ComputerSystem` (manufacturer, model,
//! family, `PCSystemType`, `HypervisorPresent`), `Win32_BIOS` (vendor, version, release
//! date, serial), `Win32_SystemEnclosure` (`ChassisTypes`, serial),
//! `Win32_ComputerSystemProduct` (version) and `Win32_Tpm` in
//! `ROOT\CIMV2\Security\MicrosoftTpm` (administrators only; without the rights the TPM
//! is unknown with the reason). The TPM is parsed here ([`tpm`]) but sent in the security
//! section (`security.windows.tpm`, beside Secure Boot): the security collector reads it.
//!
//! Chassis codes map to classes as on Linux (SMBIOS DSP0134 §7.4.1, table in
//! `platform/linux/hardware.rs`); a virtual machine is `virtual` whatever code its
//! emulated firmware reports. Virtual or physical rests on the manufacturer, model and
//! BIOS strings of the hypervisors in [`HYPERVISORS`]; `HypervisorPresent` alone is not
//! proof, because it is also true on physical machines running virtualisation-based
//! security or Hyper-V. Firmware placeholders ("To Be Filled By O.E.M.", "Default
//! string", "System Serial Number", all zeros) are treated as absent.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use estate_protocol::{Chassis, Hardware, Known, Virtualization, VirtualizationKind};

use super::cim::{self, CimObject};
use super::source::{Source, SourceError, WmiQuery};
use crate::collect::{CollectError, Collected, Collector, Context, Section};

/// `Win32_ComputerSystem`.
pub const COMPUTER_SYSTEM: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_ComputerSystem",
    properties: &[
        "Manufacturer",
        "Model",
        "SystemFamily",
        "PCSystemType",
        "HypervisorPresent",
        "NumberOfProcessors",
        "TotalPhysicalMemory",
    ],
    privacy: false,
};
/// `Win32_BIOS`.
pub const BIOS: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_BIOS",
    properties: &[
        "Manufacturer",
        "SMBIOSBIOSVersion",
        "ReleaseDate",
        "SerialNumber",
    ],
    privacy: false,
};
/// `Win32_SystemEnclosure`.
pub const ENCLOSURE: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_SystemEnclosure",
    properties: &["ChassisTypes", "SerialNumber"],
    privacy: false,
};
/// `Win32_ComputerSystemProduct`.
pub const PRODUCT: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2",
    class: "Win32_ComputerSystemProduct",
    properties: &["Version", "IdentifyingNumber", "UUID"],
    privacy: false,
};
/// `Win32_Tpm` (administrators only).
pub const TPM: WmiQuery = WmiQuery {
    namespace: r"ROOT\CIMV2\Security\MicrosoftTpm",
    class: "Win32_Tpm",
    properties: &[
        "IsEnabled_InitialValue",
        "IsActivated_InitialValue",
        "SpecVersion",
        "ManufacturerIdTxt",
        "ManufacturerVersion",
    ],
    privacy: false,
};

/// Hypervisors told by their firmware strings: (technology, needles looked for in the
/// manufacturer, model and BIOS strings, lower-cased).
pub const HYPERVISORS: &[(&str, &[&str])] = &[
    ("vmware", &["vmware"]),
    ("virtualbox", &["virtualbox", "innotek"]),
    ("xen", &["xen", "hvm domu"]),
    (
        "kvm",
        &["qemu", "kvm", "standard pc (", "bochs", "nutanix ahv"],
    ),
    ("amazon", &["amazon ec2"]),
    ("google", &["google compute engine"]),
    ("parallels", &["parallels"]),
    ("hyper-v", &["virtual machine"]),
];

/// Strings firmware leaves where a value should be.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "system serial number",
    "system manufacturer",
    "system product name",
    "not specified",
    "not applicable",
    "none",
    "n/a",
    "0",
    "0123456789",
    "chassis serial number",
];

/// A Trusted Platform Module as `Win32_Tpm` describes it (`ready`: enabled and
/// activated). Report v1 carries it in the security section (`security.windows.tpm`):
/// the security collector reads it with [`TPM`] and [`tpm`].
pub use estate_protocol::Tpm;

/// What the hardware collector found beyond what Report v1 carries.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowsHardware {
    /// The protocol section.
    pub hardware: Hardware,
    /// Populated processor sockets (`NumberOfProcessors`).
    pub sockets: Option<u32>,
}

/// Collects the [`Hardware`] section from a [`Source`].
#[derive(Debug, Clone)]
pub struct HardwareCollector {
    source: Arc<dyn Source>,
}

impl HardwareCollector {
    /// A collector reading from `source`.
    pub fn new(source: Arc<dyn Source>) -> Self {
        HardwareCollector { source }
    }
}

impl Collector for HardwareCollector {
    fn name(&self) -> &'static str {
        "hardware"
    }

    fn budget(&self, configured: Duration) -> Duration {
        configured.max(super::WMI_BUDGET)
    }

    fn collect(&self, _ctx: &Context) -> Result<Collected, CollectError> {
        let mut problems = Vec::new();
        // Win32_ComputerSystem is the one class this collector cannot do without.
        let system = self
            .source
            .wmi(&COMPUTER_SYSTEM)
            .map_err(|e| CollectError::Other(e.to_string()))?;
        let mut optional = |query: &WmiQuery| match self.source.wmi(query) {
            Ok(list) => list,
            Err(err) => {
                problems.push(err.to_string());
                Vec::new()
            }
        };
        let bios = optional(&BIOS);
        let enclosure = optional(&ENCLOSURE);
        let product = optional(&PRODUCT);
        let parsed = parse(&system, &bios, &enclosure, &product);
        Ok(if problems.is_empty() {
            Collected::complete(Section::Hardware(parsed.hardware))
        } else {
            Collected::partial(Section::Hardware(parsed.hardware), problems)
        })
    }
}

/// How the TPM reads in a message: `2.0 (INTC, ready)`, `absent`, or why unknown.
pub fn describe_tpm(tpm: &Known<Tpm>) -> String {
    match tpm {
        Known::Known { value } if !value.present => "absent".to_owned(),
        Known::Known { value } => {
            let mut notes: Vec<String> = value.manufacturer.iter().cloned().collect();
            match value.ready {
                Some(true) => notes.push("ready".to_owned()),
                Some(false) => notes.push("not enabled and activated".to_owned()),
                None => {}
            }
            format!(
                "{} ({})",
                value.version.as_deref().unwrap_or("of unknown version"),
                notes.join(", ")
            )
        }
        Known::Unknown { reason } => format!("unknown: {reason}"),
    }
}

/// The TPM from the `Win32_Tpm` query's outcome: no instance means no TPM; an error
/// (no administrator rights, no such namespace) makes it unknown with the reason.
pub fn tpm(result: Result<Vec<CimObject>, SourceError>) -> Known<Tpm> {
    match result {
        Ok(list) => Known::Known {
            value: parse_tpm(list.first()),
        },
        Err(err) => Known::unknown(err.to_string()),
    }
}

/// Maps the WMI results to the hardware section.
pub fn parse(
    system: &[CimObject],
    bios: &[CimObject],
    enclosure: &[CimObject],
    product: &[CimObject],
) -> WindowsHardware {
    let empty = CimObject::new();
    let sys = system.first().unwrap_or(&empty);
    let bios = bios.first().unwrap_or(&empty);
    let enc = enclosure.first().unwrap_or(&empty);
    let prod = product.first().unwrap_or(&empty);
    let value = |obj: &CimObject, name: &str| cim::string(obj, name).filter(|s| !placeholder(s));

    let vendor = value(sys, "Manufacturer");
    let model = value(sys, "Model");
    let bios_vendor = value(bios, "Manufacturer");
    let bios_version = value(bios, "SMBIOSBIOSVersion");
    let bios_serial = value(bios, "SerialNumber");
    let virtualization = virtualization(
        vendor.as_deref(),
        model.as_deref(),
        [
            bios_vendor.as_deref(),
            bios_version.as_deref(),
            bios_serial.as_deref(),
        ],
        cim::boolean(sys, "HypervisorPresent"),
    );

    let code = cim::uints(enc, "ChassisTypes")
        .into_iter()
        .find_map(|c| u8::try_from(c).ok());
    let chassis = match virtualization.kind {
        VirtualizationKind::Vm | VirtualizationKind::Container => Chassis::Virtual,
        _ => match chassis_class(code) {
            // No useful chassis code: PCSystemType 2 is "Mobile", 4/5/7 are servers.
            Chassis::Unknown => match cim::uint(sys, "PCSystemType") {
                Some(2) => Chassis::Laptop,
                Some(1 | 3) => Chassis::Desktop,
                Some(4 | 5 | 7) => Chassis::Server,
                _ => Chassis::Unknown,
            },
            class => class,
        },
    };
    let serial = match bios_serial.clone().or_else(|| value(enc, "SerialNumber")) {
        Some(serial) => Known::Known { value: serial },
        None => Known::unknown(
            "Win32_BIOS and Win32_SystemEnclosure give no serial number (absent or a firmware placeholder)",
        ),
    };
    let bios_date: Option<NaiveDate> = cim::datetime(bios, "ReleaseDate").map(|t| t.date_naive());
    let hardware = Hardware {
        vendor,
        product: model,
        product_version: value(prod, "Version").or_else(|| value(sys, "SystemFamily")),
        serial,
        chassis_type_code: code,
        chassis,
        bios_vendor,
        bios_version,
        bios_date,
        virtualization,
    };
    WindowsHardware {
        hardware,
        sockets: sockets(system),
    }
}

/// Populated processor sockets: `Win32_ComputerSystem.NumberOfProcessors`.
pub fn sockets(system: &[CimObject]) -> Option<u32> {
    system
        .first()
        .and_then(|sys| cim::uint(sys, "NumberOfProcessors"))
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| *n > 0)
}

fn parse_tpm(obj: Option<&CimObject>) -> Tpm {
    let Some(obj) = obj else {
        return Tpm {
            present: false,
            version: None,
            ready: None,
            manufacturer: None,
        };
    };
    // SpecVersion is "2.0, 0, 1.38": the TPM version, the level, the revision.
    let version = cim::string(obj, "SpecVersion")
        .and_then(|s| s.split(',').next().map(|v| v.trim().to_owned()))
        .filter(|v| !v.is_empty());
    let ready = match (
        cim::boolean(obj, "IsEnabled_InitialValue"),
        cim::boolean(obj, "IsActivated_InitialValue"),
    ) {
        (Some(e), Some(a)) => Some(e && a),
        _ => None,
    };
    Tpm {
        present: true,
        version,
        ready,
        manufacturer: cim::string(obj, "ManufacturerIdTxt"),
    }
}

fn placeholder(s: &str) -> bool {
    let lower = s.trim().to_ascii_lowercase();
    PLACEHOLDERS.contains(&lower.as_str()) || lower.chars().all(|c| c == '0' || c == ' ')
}

/// The chassis class of an SMBIOS chassis type code (the Linux collector's table).
pub fn chassis_class(code: Option<u8>) -> Chassis {
    match code {
        Some(8 | 9 | 10 | 11 | 14 | 30 | 31 | 32) => Chassis::Laptop,
        Some(3 | 4 | 5 | 6 | 7 | 13 | 15 | 16 | 24 | 34 | 35 | 36) => Chassis::Desktop,
        Some(17 | 22 | 23 | 25 | 26 | 27 | 28 | 29) => Chassis::Server,
        _ => Chassis::Unknown,
    }
}

/// Physical or virtual, from the firmware strings (see [`HYPERVISORS`]).
pub fn virtualization(
    vendor: Option<&str>,
    model: Option<&str>,
    bios: [Option<&str>; 3],
    hypervisor_present: Option<bool>,
) -> Virtualization {
    let fields = [
        ("Win32_ComputerSystem Manufacturer", vendor),
        ("Win32_ComputerSystem Model", model),
        ("Win32_BIOS Manufacturer", bios[0]),
        ("Win32_BIOS SMBIOSBIOSVersion", bios[1]),
        ("Win32_BIOS SerialNumber", bios[2]),
    ];
    for (technology, needles) in HYPERVISORS {
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let lower = value.to_ascii_lowercase();
            if needles.iter().any(|n| lower.contains(n)) {
                // "Virtual Machine" counts only with Microsoft's name on it (Hyper-V,
                // Azure): other vendors' model strings may contain the words.
                if *technology == "hyper-v"
                    && !vendor.is_some_and(|v| v.to_ascii_lowercase().contains("microsoft"))
                {
                    continue;
                }
                return Virtualization {
                    kind: VirtualizationKind::Vm,
                    technology: Some((*technology).to_owned()),
                    evidence: vec![format!("{field}={value}")],
                };
            }
        }
    }
    if let Some(v) = vendor.filter(|v| v.to_ascii_lowercase().contains("wine project")) {
        return Virtualization {
            kind: VirtualizationKind::Unknown,
            technology: None,
            evidence: vec![format!(
                "Win32_ComputerSystem Manufacturer={v}: running under Wine, which does not show \
                 the host's hardware"
            )],
        };
    }
    let Some(vendor) = vendor else {
        return Virtualization {
            kind: VirtualizationKind::Unknown,
            technology: None,
            evidence: vec!["Win32_ComputerSystem gives no manufacturer".to_owned()],
        };
    };
    let mut evidence = vec![format!(
        "Win32_ComputerSystem Manufacturer={vendor}{}: no hypervisor's firmware strings",
        model.map(|m| format!(", Model={m}")).unwrap_or_default()
    )];
    if hypervisor_present == Some(true) {
        evidence.push(
            "HypervisorPresent=true (Hyper-V or virtualisation-based security on the host itself)"
                .to_owned(),
        );
    }
    Virtualization {
        kind: VirtualizationKind::Physical,
        technology: None,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::platform::windows::recorded::{self, RecordedSource};

    fn parsed(machine: &str) -> WindowsHardware {
        let src = RecordedSource::fixture(machine);
        let q = |query: &WmiQuery| src.wmi(query).unwrap();
        parse(
            &q(&COMPUTER_SYSTEM),
            &q(&BIOS),
            &q(&ENCLOSURE),
            &q(&PRODUCT),
        )
    }

    fn tpm_of(machine: &str) -> Known<Tpm> {
        tpm(RecordedSource::fixture(machine).wmi(&TPM))
    }

    #[test]
    fn laptop_is_a_physical_laptop_with_a_tpm_2() {
        let w = parsed(recorded::WIN10_LAPTOP);
        let h = &w.hardware;
        assert_eq!(h.vendor.as_deref(), Some("Dell Inc."));
        assert_eq!(h.product.as_deref(), Some("Latitude 5490"));
        assert_eq!(h.chassis_type_code, Some(10));
        assert_eq!(h.chassis, Chassis::Laptop);
        assert_eq!(
            h.serial,
            Known::Known {
                value: "7XK2QF2".to_owned()
            }
        );
        assert_eq!(h.bios_date, NaiveDate::from_ymd_opt(2023, 8, 15));
        assert_eq!(h.bios_version.as_deref(), Some("1.29.0"));
        assert_eq!(h.virtualization.kind, VirtualizationKind::Physical);
        // VBS is on: HypervisorPresent is true on this physical laptop.
        assert!(h.virtualization.evidence[1].contains("HypervisorPresent=true"));
        assert_eq!(
            tpm_of(recorded::WIN10_LAPTOP),
            Known::Known {
                value: Tpm {
                    present: true,
                    version: Some("2.0".to_owned()),
                    ready: Some(true),
                    manufacturer: Some("INTC".to_owned()),
                }
            }
        );
        assert_eq!(w.sockets, Some(1));
    }

    #[test]
    fn vmware_vm_is_virtual_whatever_its_chassis_code() {
        let w = parsed(recorded::SERVER2019_VM);
        let h = &w.hardware;
        assert_eq!(h.virtualization.kind, VirtualizationKind::Vm);
        assert_eq!(h.virtualization.technology.as_deref(), Some("vmware"));
        assert_eq!(
            h.virtualization.evidence,
            vec!["Win32_ComputerSystem Manufacturer=VMware, Inc.".to_owned()]
        );
        assert_eq!(h.chassis_type_code, Some(1));
        assert_eq!(h.chassis, Chassis::Virtual);
        assert!(h.serial.value().unwrap().starts_with("VMware-56 4d"));
        assert_eq!(w.sockets, Some(2));
        // The agent ran without administrator rights: Win32_Tpm was denied.
        assert!(
            matches!(&tpm_of(recorded::SERVER2019_VM), Known::Unknown { reason } if reason.contains("access denied"))
        );
    }

    #[test]
    fn old_rack_server_has_no_tpm_and_a_placeholder_enclosure_serial() {
        let w = parsed(recorded::SERVER2012R2);
        let h = &w.hardware;
        assert_eq!(h.chassis, Chassis::Server);
        assert_eq!(h.chassis_type_code, Some(23));
        assert_eq!(h.virtualization.kind, VirtualizationKind::Physical);
        assert_eq!(
            h.serial,
            Known::Known {
                value: "CZJ4250B7K".to_owned()
            }
        );
        assert_eq!(h.bios_date, NaiveDate::from_ymd_opt(2019, 5, 24));
        assert_eq!(describe_tpm(&tpm_of(recorded::SERVER2012R2)), "absent");
    }

    #[test]
    fn desktop_and_placeholders() {
        let w = parsed(recorded::WIN11_DESKTOP);
        assert_eq!(w.hardware.chassis, Chassis::Desktop);
        assert_eq!(
            describe_tpm(&tpm_of(recorded::WIN11_DESKTOP)),
            "2.0 (NTC, ready)"
        );

        let mut sys = CimObject::new();
        sys.insert("Manufacturer".into(), "To Be Filled By O.E.M.".into());
        sys.insert("PCSystemType".into(), 2.into());
        let mut bios = CimObject::new();
        bios.insert("SerialNumber".into(), "0000000000".into());
        let w = parse(&[sys], &[bios], &[], &[]);
        assert_eq!(w.hardware.vendor, None);
        assert_eq!(w.hardware.virtualization.kind, VirtualizationKind::Unknown);
        assert!(matches!(w.hardware.serial, Known::Unknown { .. }));
        // No chassis code: PCSystemType 2 (mobile) gives a laptop.
        assert_eq!(w.hardware.chassis, Chassis::Laptop);
        assert_eq!(describe_tpm(&tpm_of(recorded::SERVER2012R2)), "absent");
    }

    #[test]
    fn hypervisors_are_told_by_their_strings_and_virtual_machine_needs_microsoft() {
        let v = |vendor, model| virtualization(Some(vendor), Some(model), [None; 3], None);
        assert_eq!(
            v("Microsoft Corporation", "Virtual Machine")
                .technology
                .as_deref(),
            Some("hyper-v")
        );
        assert_eq!(
            v("QEMU", "Standard PC (Q35 + ICH9, 2009)")
                .technology
                .as_deref(),
            Some("kvm")
        );
        assert_eq!(
            v("innotek GmbH", "VirtualBox").technology.as_deref(),
            Some("virtualbox")
        );
        assert_eq!(v("Xen", "HVM domU").technology.as_deref(), Some("xen"));
        assert_eq!(
            v("Amazon EC2", "m5.large").technology.as_deref(),
            Some("amazon")
        );
        assert_eq!(
            v("Fujitsu", "Virtual Machine Host 3000").kind,
            VirtualizationKind::Physical
        );
        assert_eq!(
            v("Microsoft Corporation", "Surface Laptop 5").kind,
            VirtualizationKind::Physical
        );
    }
}
