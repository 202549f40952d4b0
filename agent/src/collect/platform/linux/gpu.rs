//! GPUs and other display controllers: the PCI devices of class 0x03 (VGA, 3D,
//! display) under `/sys/bus/pci/devices`, with vendor and device ids, the vendor's
//! name for well-known ids, and the bound driver (`driver` symlink).
//!
//! NVIDIA GPUs are enriched through NVML ([`crate::collect::nvml`]) — model, memory,
//! power limit, utilisation — matched by PCI address, on the live host only (NVML
//! cannot describe a recorded sysroot). Where the NVIDIA driver is bound but NVML does
//! not load, that is a `partial` problem; a GPU without the NVIDIA driver (e.g. bound
//! to `vfio-pci` for passthrough, or `nouveau`) is listed without NVML data. This
//! module owns reading the PCI tree; it must not load NVML unless an NVIDIA device is
//! present.

use std::time::Duration;

use estate_protocol::Gpu;

use crate::collect::nvml;
use crate::collect::{CollectError, Collected, Collector, Context, Section};
use crate::root::SysRoot;

const PCI_DEVICES: &str = "/sys/bus/pci/devices";
/// PCI vendor id of NVIDIA.
const NVIDIA: &str = "10de";

/// Least time budget of the GPU collector (10 s, or the configured budget when
/// longer): loading NVML and opening every GPU can take seconds where persistence mode
/// is off.
pub const GPU_BUDGET: Duration = Duration::from_secs(10);

/// The `gpus` collector.
#[derive(Debug)]
pub struct GpusCollector;

impl Collector for GpusCollector {
    fn name(&self) -> &'static str {
        "gpus"
    }

    fn budget(&self, configured: Duration) -> Duration {
        configured.max(GPU_BUDGET)
    }

    fn collect(&self, ctx: &Context) -> Result<Collected, CollectError> {
        let (mut gpus, mut problems) = pci_display_devices(&ctx.root)?;
        if ctx.root.is_live() && gpus.iter().any(|g| g.vendor_id == NVIDIA) {
            problems.extend(enrich(&mut gpus, nvml::gpus()));
        }
        Ok(Collected::partial(Section::Gpus(gpus), problems))
    }
}

/// Every PCI display controller, and the problems met reading them.
pub fn pci_display_devices(root: &SysRoot) -> Result<(Vec<Gpu>, Vec<String>), CollectError> {
    let entries = match root.read_dir(PCI_DEVICES) {
        Ok(entries) => entries,
        // sysfs is there but there is no PCI bus (e.g. a microVM on virtio-mmio).
        Err(err) if err.is_not_found() && root.exists("/sys/bus") => {
            return Ok((Vec::new(), Vec::new()));
        }
        Err(err) => return Err(err.into()),
    };
    let mut gpus = Vec::new();
    let mut problems = Vec::new();
    for address in entries {
        let dir = format!("{PCI_DEVICES}/{address}");
        let class = match hex_attr(root, &format!("{dir}/class")) {
            Ok(class) => class,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        // Base class 0x03: display controller (0x0300 VGA, 0x0302 3D, 0x0380 other).
        if class >> 16 != 0x03 {
            continue;
        }
        let ids = hex_attr(root, &format!("{dir}/vendor"))
            .and_then(|v| hex_attr(root, &format!("{dir}/device")).map(|d| (v, d)));
        let (vendor, device) = match ids {
            Ok(ids) => ids,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let vendor_id = format!("{vendor:04x}");
        let device_id = format!("{device:04x}");
        let driver = match root.read_link(&format!("{dir}/driver")) {
            Ok(target) => target
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
            Err(err) if err.is_not_found() => None,
            Err(err) => {
                problems.push(err.to_string());
                None
            }
        };
        gpus.push(Gpu {
            pci_address: address,
            vendor: vendor_name(&vendor_id).map(str::to_owned),
            model: model_name(&vendor_id, &device_id).map(str::to_owned),
            vendor_id,
            device_id,
            driver,
            memory_bytes: None,
            power_limit_watts: None,
            utilisation_ratio: None,
        });
    }
    Ok((gpus, problems))
}

/// Adds NVML's data to the NVIDIA GPUs it knows; returns the problems.
pub fn enrich(gpus: &mut [Gpu], from_nvml: Result<Vec<nvml::NvmlGpu>, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let nvidia_driver =
        |gpu: &Gpu| gpu.vendor_id == NVIDIA && gpu.driver.as_deref() == Some("nvidia");
    let known = match from_nvml {
        Ok(known) => known,
        Err(note) => {
            for gpu in gpus.iter().filter(|g| nvidia_driver(g)) {
                problems.push(format!(
                    "{}: NVIDIA GPU with the nvidia driver, but {note}",
                    gpu.pci_address
                ));
            }
            return problems;
        }
    };
    for gpu in gpus.iter_mut().filter(|g| g.vendor_id == NVIDIA) {
        match known.iter().find(|n| n.pci_address == gpu.pci_address) {
            Some(n) => {
                gpu.model = n.model.clone().or(gpu.model.take());
                gpu.memory_bytes = n.memory_bytes;
                gpu.power_limit_watts = n.power_limit_watts;
                gpu.utilisation_ratio = n.utilisation_ratio;
            }
            None if nvidia_driver(gpu) => problems.push(format!(
                "{}: NVIDIA GPU with the nvidia driver, but NVML does not list it",
                gpu.pci_address
            )),
            None => {}
        }
    }
    problems
}

fn hex_attr(root: &SysRoot, path: &str) -> Result<u32, String> {
    let text = root
        .read_attr(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{path}: missing or empty"))?;
    let digits = text.strip_prefix("0x").unwrap_or(&text);
    u32::from_str_radix(digits, 16).map_err(|_| format!("{path}: not a hex number: {text:?}"))
}

/// The vendor's name for well-known PCI vendor ids of display controllers.
pub fn vendor_name(vendor_id: &str) -> Option<&'static str> {
    Some(match vendor_id {
        "10de" => "NVIDIA",
        "1002" => "AMD",
        "8086" => "Intel",
        "102b" => "Matrox",
        "1a03" => "ASPEED",
        "15ad" => "VMware",
        "1234" => "QEMU/Bochs",
        "1af4" => "virtio",
        "1414" => "Microsoft",
        "1013" => "Cirrus Logic",
        "1b36" => "Red Hat",
        _ => return None,
    })
}

/// Model names (as in the PCI ID database) of the display controllers that servers and
/// VMs most often have; NVML names NVIDIA GPUs.
fn model_name(vendor_id: &str, device_id: &str) -> Option<&'static str> {
    Some(match (vendor_id, device_id) {
        ("102b", "0534") => "G200eR2",
        ("102b", "0536") => "Integrated Matrox G200eW3 Graphics Controller",
        ("102b", "0538") => "Integrated Matrox G200eH3 Graphics Controller",
        ("1a03", "2000") => "ASPEED Graphics Family",
        ("15ad", "0405") => "SVGA II Adapter",
        ("1414", "5353") => "Hyper-V virtual VGA",
        ("1013", "00b8") => "GD 5446",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL, ctx, ctx_at};

    fn gpus_of(collected: Collected) -> (Vec<Gpu>, Vec<String>) {
        match collected.section {
            Section::Gpus(gpus) => (gpus, collected.problems),
            other => panic!("wrong section {other:?}"),
        }
    }

    fn plain(address: &str, vendor: &str, device: &str, driver: &str) -> Gpu {
        Gpu {
            pci_address: address.to_owned(),
            vendor_id: vendor.to_owned(),
            device_id: device.to_owned(),
            vendor: vendor_name(vendor).map(str::to_owned),
            model: model_name(vendor, device).map(str::to_owned),
            driver: Some(driver.to_owned()),
            memory_bytes: None,
            power_limit_watts: None,
            utilisation_ratio: None,
        }
    }

    #[test]
    fn dell_has_its_matrox_bmc_vga_only() {
        let (gpus, problems) = gpus_of(GpusCollector.collect(&ctx(DELL)).unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            gpus,
            vec![Gpu {
                pci_address: "0000:03:00.0".to_owned(),
                vendor_id: "102b".to_owned(),
                device_id: "0536".to_owned(),
                vendor: Some("Matrox".to_owned()),
                model: Some("Integrated Matrox G200eW3 Graphics Controller".to_owned()),
                driver: Some("mgag200".to_owned()),
                memory_bytes: None,
                power_limit_watts: None,
                utilisation_ratio: None,
            }]
        );
    }

    #[test]
    fn debian_vm_has_the_qemu_std_vga() {
        let (gpus, problems) = gpus_of(GpusCollector.collect(&ctx(DEBIAN_VM)).unwrap());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            gpus,
            vec![plain("0000:00:01.0", "1234", "1111", "bochs-drm")]
        );
        assert_eq!(gpus[0].vendor.as_deref(), Some("QEMU/Bochs"));
        assert_eq!(gpus[0].model, None);
    }

    #[test]
    fn nvidia_gpus_are_enriched_by_pci_address() {
        let mut gpus = vec![
            plain("0000:03:00.0", "102b", "0536", "mgag200"),
            plain("0000:3b:00.0", "10de", "20b5", "nvidia"),
            plain("0000:af:00.0", "10de", "20b5", "vfio-pci"),
            plain("0000:d8:00.0", "10de", "20b5", "nvidia"),
        ];
        let from_nvml = Ok(vec![nvml::NvmlGpu {
            index: 0,
            pci_address: nvml::normalise_bus_id("00000000:3B:00.0"),
            model: Some("NVIDIA A100 80GB PCIe".to_owned()),
            memory_bytes: Some(85_899_345_920),
            power_limit_watts: Some(300.0),
            utilisation_ratio: Some(0.42),
        }]);
        let problems = enrich(&mut gpus, from_nvml);
        assert_eq!(gpus[1].model.as_deref(), Some("NVIDIA A100 80GB PCIe"));
        assert_eq!(gpus[1].memory_bytes, Some(85_899_345_920));
        assert_eq!(gpus[1].power_limit_watts, Some(300.0));
        assert_eq!(gpus[1].utilisation_ratio, Some(0.42));
        assert_eq!(gpus[2].model, None);
        assert_eq!(gpus[0].memory_bytes, None);
        assert_eq!(
            problems,
            vec!["0000:d8:00.0: NVIDIA GPU with the nvidia driver, but NVML does not list it"]
        );

        let problems = enrich(
            &mut gpus,
            Err("NVML not loaded: libnvidia-ml.so.1: cannot open shared object file: No such file or directory".to_owned()),
        );
        assert_eq!(problems.len(), 2);
        assert_eq!(
            problems[0],
            "0000:3b:00.0: NVIDIA GPU with the nvidia driver, but NVML not loaded: libnvidia-ml.so.1: cannot open shared object file: No such file or directory"
        );
    }

    #[test]
    fn broken_pci_attributes_are_problems_naming_the_file() {
        let dir = testutil::broken_copy(DELL);
        testutil::write(
            dir.path(),
            "/sys/bus/pci/devices/0000:03:00.0/vendor",
            b"matrox\n",
        );
        testutil::remove(dir.path(), "/sys/bus/pci/devices/0000:00:00.0/class");
        let (gpus, problems) = gpus_of(GpusCollector.collect(&ctx_at(dir.path())).unwrap());
        assert!(gpus.is_empty());
        assert_eq!(
            problems,
            vec![
                "/sys/bus/pci/devices/0000:00:00.0/class: missing or empty",
                "/sys/bus/pci/devices/0000:03:00.0/vendor: not a hex number: \"matrox\"",
            ]
        );
        // A device without a bound driver is listed without one.
        testutil::write(
            dir.path(),
            "/sys/bus/pci/devices/0000:03:00.0/vendor",
            b"0x102b\n",
        );
        testutil::remove(dir.path(), "/sys/bus/pci/devices/0000:03:00.0/driver");
        let (gpus, _) = gpus_of(GpusCollector.collect(&ctx_at(dir.path())).unwrap());
        assert_eq!(gpus[0].driver, None);
    }

    #[test]
    fn no_sysfs_is_an_error_and_no_pci_bus_is_no_gpu() {
        let dir = tempfile::tempdir().unwrap();
        let err = GpusCollector.collect(&ctx_at(dir.path())).unwrap_err();
        assert!(
            err.to_string().starts_with("/sys/bus/pci/devices: "),
            "{err}"
        );
        testutil::write(dir.path(), "/sys/bus/platform/uevent", b"");
        let (gpus, problems) = gpus_of(GpusCollector.collect(&ctx_at(dir.path())).unwrap());
        assert!(gpus.is_empty() && problems.is_empty());
    }

    /// The live host: every display device listed, with the ids sysfs has.
    #[test]
    fn live_gpus_match_sysfs() {
        let root = SysRoot::default();
        if !root.exists(PCI_DEVICES) {
            return;
        }
        let (gpus, _) = pci_display_devices(&root).unwrap();
        let expected = std::fs::read_dir(PCI_DEVICES)
            .unwrap()
            .filter(|e| {
                let class = std::fs::read_to_string(e.as_ref().unwrap().path().join("class"));
                class.map(|c| c.starts_with("0x03")).unwrap_or(false)
            })
            .count();
        assert_eq!(gpus.len(), expected);
    }
}
