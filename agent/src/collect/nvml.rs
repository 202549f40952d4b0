//! NVIDIA GPUs through NVML (the NVIDIA Management Library), loaded at run time.
//!
//! `nvml-wrapper` opens `libnvidia-ml.so.1` (Linux) or `nvml.dll` (Windows) with
//! `dlopen`/`LoadLibrary` when first asked, so the agent has no link-time dependency on
//! the driver: where there is no driver, every call here answers `Err` with a note
//! saying why (e.g. "NVML not loaded: libnvidia-ml.so.1: cannot open shared object
//! file: No such file or directory"), which callers report as a note, not a failure.
//!
//! The library is loaded once per process and kept. A failed load is remembered for
//! [`RETRY_AFTER`] so a daemon started before the driver picks the GPUs up later
//! without paying a `dlopen` on every call. NVML describes the live host only: callers
//! reading a recorded sysroot must not call it. This module owns the NVML calls; it
//! must not read files.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;

/// How long a failed load is remembered before it is tried again (10 minutes).
pub const RETRY_AFTER: Duration = Duration::from_secs(600);

/// What NVML says about one GPU.
#[derive(Debug, Clone, PartialEq)]
pub struct NvmlGpu {
    /// NVML's index of the device (the `N` of the power domain `gpu-N`).
    pub index: u32,
    /// PCI address in sysfs form (`0000:3b:00.0`), see [`normalise_bus_id`].
    pub pci_address: String,
    /// Model name, e.g. `NVIDIA A100-PCIE-40GB`.
    pub model: Option<String>,
    /// Memory on the device, bytes.
    pub memory_bytes: Option<u64>,
    /// Enforced power limit, watts.
    pub power_limit_watts: Option<f64>,
    /// GPU utilisation over NVML's last sample period, 0–1.
    pub utilisation_ratio: Option<f64>,
}

/// One power reading of one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NvmlPower {
    /// NVML's index of the device.
    pub index: u32,
    /// Energy since the driver was loaded, millijoules (Volta and newer).
    pub total_energy_mj: Option<u64>,
    /// Power draw now, milliwatts.
    pub power_mw: Option<u32>,
}

enum State {
    NotTried,
    Loaded(Box<Nvml>),
    Failed { note: String, at: Instant },
}

static NVML: Mutex<State> = Mutex::new(State::NotTried);

/// Runs `f` with the loaded library, loading it first if needed. `Err` is a note
/// saying why NVML is not available.
fn with_nvml<T>(f: impl FnOnce(&Nvml) -> Result<T, String>) -> Result<T, String> {
    let mut state = match NVML.lock() {
        Ok(state) => state,
        // A panic while holding the lock leaves the state as it was: still usable.
        Err(poisoned) => poisoned.into_inner(),
    };
    let retry = match &*state {
        State::NotTried => true,
        State::Loaded(_) => false,
        State::Failed { at, .. } => at.elapsed() >= RETRY_AFTER,
    };
    if retry {
        *state = match Nvml::init() {
            Ok(nvml) => State::Loaded(Box::new(nvml)),
            Err(err) => State::Failed {
                note: load_note(&err),
                at: Instant::now(),
            },
        };
    }
    match &*state {
        State::Loaded(nvml) => f(nvml),
        State::Failed { note, .. } => Err(note.clone()),
        State::NotTried => Err("NVML not loaded".to_owned()),
    }
}

/// Why loading failed, in words an operator can act on.
fn load_note(err: &NvmlError) -> String {
    match err {
        NvmlError::LibloadingError(inner) => format!("NVML not loaded: {inner}"),
        NvmlError::DriverNotLoaded => {
            "NVML not loaded: the library is installed but the NVIDIA driver is not running"
                .to_owned()
        }
        NvmlError::NoPermission => {
            "NVML not loaded: no permission to talk to the NVIDIA driver".to_owned()
        }
        other => format!("NVML not loaded: {other}"),
    }
}

/// Every GPU NVML knows, in index order. `Err` is a note saying why there is no NVML.
pub fn gpus() -> Result<Vec<NvmlGpu>, String> {
    with_nvml(|nvml| {
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML: device count: {e}"))?;
        let mut gpus = Vec::new();
        for index in 0..count {
            let device = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML: device {index}: {e}"))?;
            let pci_address = device
                .pci_info()
                .map(|info| normalise_bus_id(&info.bus_id))
                .map_err(|e| format!("NVML: device {index}: PCI info: {e}"))?;
            gpus.push(NvmlGpu {
                index,
                pci_address,
                model: device.name().ok(),
                memory_bytes: device.memory_info().ok().map(|m| m.total),
                power_limit_watts: device
                    .enforced_power_limit()
                    .or_else(|_| device.power_management_limit())
                    .ok()
                    .map(|mw| f64::from(mw) / 1000.0),
                utilisation_ratio: device
                    .utilization_rates()
                    .ok()
                    .map(|u| (f64::from(u.gpu) / 100.0).clamp(0.0, 1.0)),
            });
        }
        Ok(gpus)
    })
}

/// A power reading of every GPU. `Err` is a note saying why there is no NVML.
pub fn power() -> Result<Vec<NvmlPower>, String> {
    with_nvml(|nvml| {
        let count = nvml
            .device_count()
            .map_err(|e| format!("NVML: device count: {e}"))?;
        let mut readings = Vec::new();
        for index in 0..count {
            let device = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML: device {index}: {e}"))?;
            readings.push(NvmlPower {
                index,
                total_energy_mj: device.total_energy_consumption().ok(),
                power_mw: device.power_usage().ok(),
            });
        }
        Ok(readings)
    })
}

/// NVML's bus id (`00000000:3B:00.0`, 8-digit domain, upper case) in sysfs form
/// (`0000:3b:00.0`).
pub fn normalise_bus_id(bus_id: &str) -> String {
    let lower = bus_id.trim().trim_end_matches('\0').to_ascii_lowercase();
    match lower.split_once(':') {
        Some((domain, rest)) if domain.len() > 4 => {
            let trimmed = domain.trim_start_matches('0');
            format!("{trimmed:0>4}:{rest}")
        }
        _ => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_ids_are_normalised_to_sysfs_form() {
        assert_eq!(normalise_bus_id("00000000:3B:00.0"), "0000:3b:00.0");
        assert_eq!(normalise_bus_id("00000001:AF:00.0"), "0001:af:00.0");
        assert_eq!(normalise_bus_id("0000:3b:00.0"), "0000:3b:00.0");
        assert_eq!(normalise_bus_id("0000A000:01:00.0"), "a000:01:00.0");
    }

    /// Without a driver (this build machine) NVML answers a clear note, twice (the
    /// failure is remembered), and never panics. With one, it lists the GPUs.
    #[test]
    fn no_driver_is_a_note_not_a_panic() {
        match gpus() {
            Ok(gpus) => {
                for gpu in &gpus {
                    assert_eq!(gpu.pci_address.len(), 12, "{gpu:?}");
                }
                assert_eq!(power().map(|p| p.len()), Ok(gpus.len()));
            }
            Err(note) => {
                assert!(note.starts_with("NVML not loaded: "), "{note}");
                assert_eq!(power(), Err(note));
            }
        }
    }
}
