//! RAPL energy counters through Linux powercap (`/sys/class/powercap/intel-rapl:*`).
//!
//! Each zone `intel-rapl:N` is a package (its `name` file says `package-N`, or `psys`
//! for the platform domain of client CPUs); each sub-zone `intel-rapl:N:M` is a part of
//! it named `dram`, `core` or `uncore`. AMD CPUs (Zen, Linux 5.8+) are exposed the same
//! way, under the same `intel-rapl` names. The MMIO interface (`intel-rapl-mmio:*`)
//! duplicates the package counters of some client CPUs and is read only where the MSR
//! one is absent. Sub-zone domains carry their package number (`dram-1`) where there
//! are several packages.
//!
//! `energy_uj` is readable by root only since Linux 5.10 (CVE-2020-8694): a permission
//! error is explained, not hidden. This module owns reading and naming the zones; the
//! energy arithmetic is the power meter's ([`crate::power`]).

use crate::power::{EnergyCounter, RaplSnapshot};
use crate::root::{ReadError, SysRoot};

const POWERCAP: &str = "/sys/class/powercap";

/// Reads every RAPL zone's energy counter once.
pub fn read(root: &SysRoot) -> RaplSnapshot {
    let mut snapshot = RaplSnapshot::default();
    let entries = match root.read_dir(POWERCAP) {
        Ok(entries) => entries,
        Err(err) if err.is_not_found() => {
            snapshot.notes.push(format!(
                "no {POWERCAP}: RAPL not exposed (VM or unsupported CPU)"
            ));
            return snapshot;
        }
        Err(err) => {
            snapshot.notes.push(format!("RAPL not read: {err}"));
            snapshot.problems.push(err.to_string());
            return snapshot;
        }
    };
    let mut zones: Vec<Zone> = entries
        .iter()
        .filter_map(|e| Zone::parse(e, "intel-rapl"))
        .collect();
    if zones.is_empty() {
        zones = entries
            .iter()
            .filter_map(|e| Zone::parse(e, "intel-rapl-mmio"))
            .collect();
    }
    if zones.is_empty() {
        snapshot.notes.push(format!(
            "no RAPL zones under {POWERCAP}: RAPL not exposed (intel_rapl driver not loaded, VM or unsupported CPU)"
        ));
        return snapshot;
    }
    zones.sort_by(|a, b| a.path.cmp(&b.path));

    // Names first: sub-zones are named after their package.
    let mut named = Vec::new();
    for zone in zones {
        let name_path = format!("{}/name", zone.path);
        match root.read_attr(&name_path) {
            Ok(Some(name)) => named.push((zone, name)),
            Ok(None) => snapshot
                .problems
                .push(format!("{name_path}: missing or empty")),
            Err(err) => snapshot.problems.push(err.to_string()),
        }
    }
    let packages = named
        .iter()
        .filter(|(zone, name)| zone.sub.is_none() && name.starts_with("package"))
        .count();
    let package_name = |package: u32| {
        named
            .iter()
            .find(|(zone, _)| zone.package == package && zone.sub.is_none())
            .map(|(_, name)| name.clone())
    };

    let mut denied = Vec::new();
    for (zone, name) in &named {
        let domain = match zone.sub {
            None => name.clone(),
            Some(_) if packages > 1 => {
                let socket = package_name(zone.package)
                    .and_then(|p| p.strip_prefix("package-").map(str::to_owned))
                    .unwrap_or_else(|| zone.package.to_string());
                format!("{name}-{socket}")
            }
            Some(_) => name.clone(),
        };
        let energy_path = format!("{}/energy_uj", zone.path);
        let energy = match read_number(root, &energy_path) {
            Ok(energy) => energy,
            Err(NumberError::Read(err))
                if err.source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                denied.push(err.to_string());
                continue;
            }
            Err(err) => {
                snapshot.problems.push(err.to_string());
                continue;
            }
        };
        let range_path = format!("{}/max_energy_range_uj", zone.path);
        let max_energy_range_uj = match read_number(root, &range_path) {
            Ok(range) => Some(range),
            Err(err) => {
                snapshot
                    .problems
                    .push(format!("{err} (wrap-around cannot be corrected)"));
                None
            }
        };
        snapshot.counters.push(EnergyCounter {
            domain,
            zone: zone.path.clone(),
            energy_uj: energy,
            max_energy_range_uj,
        });
    }
    if let Some(first) = denied.first() {
        let message = format!(
            "{first}{}: energy_uj is readable by root only since Linux 5.10; run the agent as root to measure CPU power",
            if denied.len() > 1 {
                format!(" (and {} other zones)", denied.len() - 1)
            } else {
                String::new()
            }
        );
        snapshot.notes.push(format!("RAPL not read: {message}"));
        snapshot.problems.push(message);
    }
    snapshot
}

/// A zone directory: `intel-rapl:N` or `intel-rapl:N:M`.
#[derive(Debug)]
struct Zone {
    path: String,
    package: u32,
    sub: Option<u32>,
}

impl Zone {
    fn parse(entry: &str, prefix: &str) -> Option<Zone> {
        let rest = entry.strip_prefix(prefix)?.strip_prefix(':')?;
        let mut parts = rest.split(':');
        let package = parts.next()?.parse().ok()?;
        let sub = match parts.next() {
            Some(sub) => Some(sub.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Zone {
            path: format!("{POWERCAP}/{entry}"),
            package,
            sub,
        })
    }
}

#[derive(Debug, thiserror::Error)]
enum NumberError {
    #[error(transparent)]
    Read(ReadError),
    #[error("{0}: missing or empty")]
    Missing(String),
    #[error("{path}: not a number: {text:?}")]
    Garbage { path: String, text: String },
}

fn read_number(root: &SysRoot, path: &str) -> Result<u64, NumberError> {
    let text = root
        .read_attr(path)
        .map_err(NumberError::Read)?
        .ok_or_else(|| NumberError::Missing(path.to_owned()))?;
    text.parse().map_err(|_| NumberError::Garbage {
        path: path.to_owned(),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{self, DEBIAN_VM, DELL, fixture_path};

    #[test]
    fn dell_has_two_packages_each_with_dram() {
        let snap = read(&SysRoot::new(fixture_path(DELL)));
        assert!(
            snap.notes.is_empty() && snap.problems.is_empty(),
            "{snap:?}"
        );
        let got: Vec<(&str, &str, u64, Option<u64>)> = snap
            .counters
            .iter()
            .map(|c| {
                (
                    c.domain.as_str(),
                    c.zone.as_str(),
                    c.energy_uj,
                    c.max_energy_range_uj,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "package-0",
                    "/sys/class/powercap/intel-rapl:0",
                    184_467_219_833,
                    Some(262_143_328_850)
                ),
                (
                    "dram-0",
                    "/sys/class/powercap/intel-rapl:0:0",
                    39_112_876_544,
                    Some(65_712_999_613)
                ),
                (
                    "package-1",
                    "/sys/class/powercap/intel-rapl:1",
                    261_904_116_233,
                    Some(262_143_328_850)
                ),
                (
                    "dram-1",
                    "/sys/class/powercap/intel-rapl:1:0",
                    41_002_338_117,
                    Some(65_712_999_613)
                ),
            ]
        );
    }

    #[test]
    fn debian_vm_has_none() {
        let snap = read(&SysRoot::new(fixture_path(DEBIAN_VM)));
        assert!(snap.counters.is_empty() && snap.problems.is_empty());
        assert_eq!(
            snap.notes,
            vec!["no /sys/class/powercap: RAPL not exposed (VM or unsupported CPU)"]
        );
    }

    #[test]
    fn one_package_keeps_plain_sub_zone_names_and_mmio_is_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let w = |path: &str, text: &str| testutil::write(dir.path(), path, text.as_bytes());
        for (zone, name, uj) in [
            ("intel-rapl-mmio:0", "package-0", "7"),
            ("intel-rapl:0", "package-0", "100"),
            ("intel-rapl:0:0", "core", "40"),
            ("intel-rapl:0:1", "uncore", "5"),
            ("intel-rapl:1", "psys", "300"),
        ] {
            w(
                &format!("/sys/class/powercap/{zone}/name"),
                &format!("{name}\n"),
            );
            w(
                &format!("/sys/class/powercap/{zone}/energy_uj"),
                &format!("{uj}\n"),
            );
            w(
                &format!("/sys/class/powercap/{zone}/max_energy_range_uj"),
                "1000\n",
            );
        }
        let snap = read(&SysRoot::new(dir.path()));
        let domains: Vec<&str> = snap.counters.iter().map(|c| c.domain.as_str()).collect();
        assert_eq!(domains, vec!["package-0", "core", "uncore", "psys"]);

        // Only the MMIO interface: it is used.
        for zone in [
            "intel-rapl:0",
            "intel-rapl:0:0",
            "intel-rapl:0:1",
            "intel-rapl:1",
        ] {
            testutil::remove(dir.path(), &format!("/sys/class/powercap/{zone}"));
        }
        let snap = read(&SysRoot::new(dir.path()));
        assert_eq!(snap.counters.len(), 1);
        assert_eq!(
            snap.counters[0].zone,
            "/sys/class/powercap/intel-rapl-mmio:0"
        );
        assert_eq!(snap.counters[0].energy_uj, 7);
    }

    #[test]
    fn an_empty_powercap_says_so() {
        let dir = tempfile::tempdir().unwrap();
        testutil::write(dir.path(), "/sys/class/powercap/dtpm/enabled", b"1\n");
        let snap = read(&SysRoot::new(dir.path()));
        assert!(snap.counters.is_empty());
        assert!(
            snap.notes[0].starts_with("no RAPL zones under /sys/class/powercap"),
            "{snap:?}"
        );
    }

    #[test]
    fn broken_zones_are_problems_naming_the_file() {
        let dir = testutil::broken_copy(DELL);
        testutil::write(
            dir.path(),
            "/sys/class/powercap/intel-rapl:0/energy_uj",
            b"12ab\n",
        );
        testutil::remove(
            dir.path(),
            "/sys/class/powercap/intel-rapl:0:0/max_energy_range_uj",
        );
        testutil::remove(dir.path(), "/sys/class/powercap/intel-rapl:1:0/name");
        let snap = read(&SysRoot::new(dir.path()));
        let domains: Vec<&str> = snap.counters.iter().map(|c| c.domain.as_str()).collect();
        assert_eq!(domains, vec!["dram-0", "package-1"]);
        assert_eq!(snap.counters[0].max_energy_range_uj, None);
        assert_eq!(
            snap.problems,
            vec![
                "/sys/class/powercap/intel-rapl:1:0/name: missing or empty",
                "/sys/class/powercap/intel-rapl:0/energy_uj: not a number: \"12ab\"",
                "/sys/class/powercap/intel-rapl:0:0/max_energy_range_uj: missing or empty (wrap-around cannot be corrected)",
            ]
        );
    }

    #[test]
    fn permission_denied_is_explained() {
        use std::os::unix::fs::PermissionsExt;
        let dir = testutil::broken_copy(DELL);
        for zone in [
            "intel-rapl:0",
            "intel-rapl:0:0",
            "intel-rapl:1",
            "intel-rapl:1:0",
        ] {
            let path = dir
                .path()
                .join(format!("sys/class/powercap/{zone}/energy_uj"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
        }
        if std::fs::read(dir.path().join("sys/class/powercap/intel-rapl:0/energy_uj")).is_ok() {
            return; // running as root: permissions do not apply
        }
        let snap = read(&SysRoot::new(dir.path()));
        assert!(snap.counters.is_empty());
        assert_eq!(snap.problems.len(), 1);
        assert_eq!(
            snap.problems[0],
            "/sys/class/powercap/intel-rapl:0/energy_uj: Permission denied (os error 13) (and 3 other zones): energy_uj is readable by root only since Linux 5.10; run the agent as root to measure CPU power"
        );
        assert_eq!(
            snap.notes,
            vec![format!("RAPL not read: {}", snap.problems[0])]
        );
    }

    #[test]
    fn live_rapl_parses_where_present() {
        let snap = read(&SysRoot::default());
        if !std::path::Path::new("/sys/class/powercap").exists() {
            assert_eq!(snap.notes.len(), 1);
            assert!(snap.counters.is_empty());
        }
    }
}
