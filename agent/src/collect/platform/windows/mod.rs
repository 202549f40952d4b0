//! Windows collectors, in two layers.
//!
//! - **Parsing and mapping, compiled on every platform**: each collector (`os`,
//!   `hardware`, `disks`, `software`, `services`, `ports` for `listening`, `security`) asks a
//!   [`source::Source`] for registry keys, WMI classes, the SCM's services, the TCP/UDP
//!   tables, the process list and the Administrators group, and turns the answers into
//!   the protocol's sections. Their tests run on Linux against recorded machines
//!   ([`recorded`], fixtures in `agent/tests/fixtures/windows/`).
//! - **Reading, Windows only** (`live`): the [`source::Source`] that asks the running
//!   system through the `windows` crate (registry, SCM, IP helper, NetAPI) and the `wmi`
//!   crate (COM); `system`, the CPU, memory, volume and network collectors that
//!   sysinfo serves; and `counters`, the utilisation sampler's system-wide counters
//!   (`GetSystemTimes`, `GlobalMemoryStatusEx`, `IOCTL_DISK_PERFORMANCE`, `GetIfTable2`).
//!   A call that fails (as many do under Wine) becomes a collector error naming the
//!   call, never a panic.
//!
//! GPUs are not collected on Windows yet and say so.
//! `docs/windows.md` lists what each collector reads and which need administrator rights.

pub mod cim;
pub mod counters;
pub mod disks;
pub mod hardware;
pub mod os;
pub mod ports;
pub mod recorded;
pub mod registry;
pub mod security;
pub mod services;
pub mod software;
pub mod source;

#[cfg(windows)]
mod live;
#[cfg(windows)]
mod system;

use std::sync::Arc;
use std::time::Duration;

use crate::collect::Collector;
use source::Source;

/// The least time the WMI-reading collectors (`os`, `hardware`, `security`) are given,
/// whatever `agent.collector_budget_ms` says: the first WMI query of a run starts a WMI
/// provider host, and `Win32_QuickFixEngineering` alone takes seconds on some machines.
pub const WMI_BUDGET: Duration = Duration::from_secs(20);

/// The collectors that read through `source`, in the order the report lists sections.
pub fn source_collectors(source: Arc<dyn Source>) -> Vec<Arc<dyn Collector>> {
    vec![
        Arc::new(os::OsCollector::new(Arc::clone(&source))),
        Arc::new(hardware::HardwareCollector::new(Arc::clone(&source))),
        Arc::new(disks::DisksCollector::new(Arc::clone(&source))),
        Arc::new(software::SoftwareCollector::new(Arc::clone(&source))),
        Arc::new(services::ServicesCollector::new(Arc::clone(&source))),
        Arc::new(ports::ListeningCollector::new(Arc::clone(&source))),
        Arc::new(security::SecurityCollector::new(source)),
    ]
}

#[cfg(windows)]
pub use super::unsupported::{rapl, release_free_memory, statvfs, tune_allocator};
#[cfg(windows)]
pub use system::own_usage;

/// The Windows collectors, reading the live system.
#[cfg(windows)]
pub fn collectors() -> Vec<Arc<dyn Collector>> {
    use super::unsupported::Unsupported;
    let source = live_source();
    let mut list = source_collectors(Arc::clone(&source));
    list.extend([
        Arc::new(system::CpuCollector::new(source)) as Arc<dyn Collector>,
        Arc::new(system::MemoryCollector),
        Arc::new(system::FilesystemsCollector),
        Arc::new(system::NetworkCollector),
        Arc::new(Unsupported("gpus")),
    ]);
    list
}

/// The live system as a [`Source`] (for recording a machine with [`recorded::record`]).
#[cfg(windows)]
pub fn live_source() -> Arc<dyn Source> {
    Arc::new(live::LiveSource::new())
}

/// The computer name.
#[cfg(windows)]
pub fn hostname(_root: &crate::root::SysRoot) -> Result<String, crate::root::ReadError> {
    Ok(::sysinfo::System::host_name().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use estate_protocol::{CollectorErrorKind, Known};

    use super::recorded::{self, Overridden, RecordedSource};
    use super::source::SourceError;
    use super::*;
    use crate::collect::{Context, run_all};
    use crate::config::AgentConfig;
    use crate::root::SysRoot;

    fn ctx() -> Context {
        Context::new(SysRoot::default(), Arc::new(AgentConfig::default()))
    }

    #[test]
    fn every_recorded_machine_gives_every_source_section() {
        for m in recorded::MACHINES {
            let source: Arc<dyn Source> = Arc::new(RecordedSource::fixture(m));
            let (inv, errors) = run_all(source_collectors(source), &ctx());
            assert!(inv.os.is_some(), "{m}: {errors:?}");
            assert!(inv.hardware.is_some(), "{m}: {errors:?}");
            assert!(inv.disks.as_ref().is_some_and(|d| !d.is_empty()), "{m}");
            assert!(
                inv.software
                    .as_ref()
                    .is_some_and(|s| !s.packages.is_empty()),
                "{m}"
            );
            assert!(
                inv.services.as_ref().is_some_and(|s| s.units.len() >= 10),
                "{m}"
            );
            assert!(inv.listening.as_ref().is_some_and(|l| !l.is_empty()), "{m}");
            assert!(inv.security.is_some(), "{m}");
            // Only partial notes, no failure.
            assert!(
                errors.iter().all(|e| e.kind == CollectorErrorKind::Partial),
                "{m}: {errors:#?}"
            );
        }
    }

    #[test]
    fn wmi_collectors_get_the_wmi_budget_and_the_others_the_configured_one() {
        let source: Arc<dyn Source> = Arc::new(RecordedSource::fixture(recorded::WIN10_LAPTOP));
        let configured = Duration::from_secs(5);
        let budgets: Vec<(&str, u64)> = source_collectors(source)
            .iter()
            .map(|c| (c.name(), c.budget(configured).as_secs()))
            .collect();
        assert_eq!(
            budgets,
            vec![
                ("os", 20),
                ("hardware", 20),
                ("disks", 20),
                ("software", 5),
                ("services", 5),
                ("listening", 5),
                ("security", 20),
            ]
        );
    }

    #[test]
    fn disks_fall_back_to_win32_diskdrive_without_the_storage_namespace() {
        let base = Arc::new(RecordedSource::fixture(recorded::WIN11_DESKTOP));
        let without = Overridden {
            base,
            registry: None,
            failing_wmi: BTreeMap::from([(
                "MSFT_PhysicalDisk",
                SourceError::unavailable(
                    r"WMI ROOT\Microsoft\Windows\Storage MSFT_PhysicalDisk",
                    "invalid namespace (0x8004100E)",
                ),
            )]),
        };
        let collector = disks::DisksCollector::new(Arc::new(without));
        let collected = collector.collect(&ctx()).unwrap();
        let crate::collect::Section::Disks(list) = collected.section else {
            panic!("not the disks section")
        };
        let kinds: Vec<(&str, estate_protocol::DiskKind)> =
            list.iter().map(|d| (d.name.as_str(), d.kind)).collect();
        // Win32_DiskDrive has no media type, and neither model names one: both unknown.
        assert_eq!(
            kinds,
            [
                ("PhysicalDrive0", estate_protocol::DiskKind::Unknown),
                ("PhysicalDrive1", estate_protocol::DiskKind::Unknown)
            ]
        );
        assert_eq!(collected.problems.len(), 1, "{:?}", collected.problems);
        assert!(
            collected.problems[0].contains("MSFT_PhysicalDisk")
                && collected.problems[0].contains("Win32_DiskDrive"),
            "{:?}",
            collected.problems
        );
    }

    #[test]
    fn failures_of_the_sources_become_collector_errors_not_panics() {
        let base = Arc::new(RecordedSource::fixture(recorded::WIN10_LAPTOP));
        let failing = Overridden {
            base,
            registry: Some(registry::Registry::new()),
            failing_wmi: BTreeMap::from([(
                "Win32_ComputerSystem",
                SourceError::unavailable(
                    r"WMI ROOT\CIMV2 Win32_ComputerSystem",
                    "class not implemented (Wine)",
                ),
            )]),
        };
        let (inv, errors) = run_all(source_collectors(Arc::new(failing)), &ctx());
        let failed: Vec<(&str, &str)> = errors
            .iter()
            .filter(|e| e.kind == CollectorErrorKind::Failed)
            .map(|e| (e.collector.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            failed,
            vec![
                (
                    "hardware",
                    r"WMI ROOT\CIMV2 Win32_ComputerSystem: not available on this system (class not implemented (Wine))"
                ),
                (
                    "os",
                    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion: key not found"
                ),
                (
                    "software",
                    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall: not found; no installed program could be listed"
                ),
            ]
        );
        assert!(inv.os.is_none() && inv.hardware.is_none() && inv.software.is_none());
        // With no registry at all the security section still comes, every item unknown.
        let sec = inv.security.unwrap();
        assert!(matches!(sec.firewall, Known::Unknown { .. }));
        assert!(matches!(sec.secure_boot, Known::Unknown { .. }));
    }
}
