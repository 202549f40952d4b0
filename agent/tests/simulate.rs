//! The fleet simulator's generation (`estate_agent::simulate`): the mix holds its
//! proportions, every generated report is valid against the protocol's JSON Schema and
//! invariants, the same seed gives the same fleet, Windows hosts look like the Windows
//! agent's reports, the neglected and idle hosts show what the health checks look for,
//! and every OS release and CPU model is one the collector's data tables know.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use estate_agent::simulate::catalogue::{self, OsKind};
use estate_agent::simulate::inventory::Revision;
use estate_agent::simulate::profile::Platform;
use estate_agent::simulate::{Fleet, HostClass, Mix, ReportSpec};
use estate_protocol::{Inventory, Known, Report, VirtualizationKind};
use uuid::Uuid;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn anchor() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 10, 30, 0)
        .single()
        .unwrap()
}

fn fleet(seed: u64) -> Fleet {
    Fleet::new(seed, Mix::COUNCIL, anchor(), 0.002)
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("protocol/schema/report-v1.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn share(count: usize, total: usize) -> f64 {
    count as f64 / total as f64
}

#[test]
fn the_council_mix_holds_its_proportions() {
    let fleet = fleet(42);
    let n = 20_000;
    let profiles: Vec<_> = (0..n).map(|i| fleet.profile(i as u64)).collect();
    let count = |f: &dyn Fn(&estate_agent::simulate::HostProfile) -> bool| {
        profiles.iter().filter(|p| f(p)).count()
    };
    let servers = count(&|p| p.class.is_server());
    let windows_endpoints = count(&|p| {
        matches!(
            p.class,
            HostClass::WindowsLaptop | HostClass::WindowsDesktop
        )
    });
    let linux_endpoints = count(&|p| p.class == HostClass::LinuxEndpoint);
    let vms = count(&|p| p.class == HostClass::VirtualServer);
    let vmware = count(&|p| {
        matches!(p.platform, Platform::Virtual { cluster, .. }
            if cluster.hypervisor == catalogue::Hypervisor::Vmware)
    });
    let laptops = count(&|p| p.class == HostClass::WindowsLaptop);
    assert!(
        (0.045..=0.055).contains(&share(servers, n)),
        "servers {servers}"
    );
    assert!(
        (0.89..=0.91).contains(&share(windows_endpoints, n)),
        "Windows endpoints {windows_endpoints}"
    );
    assert!(
        (0.045..=0.055).contains(&share(linux_endpoints, n)),
        "Linux endpoints {linux_endpoints}"
    );
    assert!(
        (0.50..=0.54).contains(&share(laptops, n)),
        "laptops {laptops}"
    );
    assert!(
        (0.77..=0.83).contains(&share(vms, servers)),
        "VMs {vms}/{servers}"
    );
    assert!(share(vmware, vms) >= 0.8, "VMware {vmware}/{vms}");

    let neglected = count(&|p| p.traits.neglected);
    let idle_servers = count(&|p| p.class.is_server() && p.traits.idle);
    assert!(
        (0.055..=0.075).contains(&share(neglected, n)),
        "neglected {neglected}"
    );
    assert!(
        (0.15..=0.25).contains(&share(idle_servers, servers)),
        "idle servers {idle_servers}/{servers}"
    );

    // Several CPU generations in the server room, physical servers of several ages and
    // both makers, Windows 10 and 11 on the desks.
    let server_generations: BTreeSet<&str> = profiles
        .iter()
        .filter(|p| p.class.is_server())
        .map(|p| p.cpu.generation)
        .collect();
    for generation in [
        "Broadwell",
        "Skylake",
        "Cascade Lake",
        "Ice Lake",
        "EPYC 3rd Gen",
    ] {
        assert!(
            server_generations.contains(generation),
            "{generation} missing from {server_generations:?}"
        );
    }
    let physical: Vec<_> = profiles
        .iter()
        .filter_map(|p| match p.platform {
            Platform::Physical(model) if p.class == HostClass::PhysicalServer => Some(model),
            _ => None,
        })
        .collect();
    let years: BTreeSet<i32> = physical.iter().map(|m| m.year).collect();
    let makers: BTreeSet<String> = physical.iter().map(|m| format!("{:?}", m.maker)).collect();
    assert!(years.len() >= 5, "{years:?}");
    assert!(
        makers.contains("Dell") && makers.contains("Hp"),
        "{makers:?}"
    );
    let releases: BTreeMap<&str, usize> = profiles.iter().fold(BTreeMap::new(), |mut m, p| {
        *m.entry(p.os.key).or_insert(0) += 1;
        m
    });
    for key in [
        "win10-22h2",
        "win11-23h2",
        "win11-24h2",
        "win7-sp1",
        "ws2008r2",
        "ws2012r2",
        "ws2019",
        "ws2022",
        "ubuntu-16.04",
        "centos-7",
        "rhel-9",
        "ubuntu-22.04",
    ] {
        assert!(
            releases.contains_key(key),
            "{key} missing from {releases:?}"
        );
    }
    // Host names and ids are unique.
    let ids: BTreeSet<&str> = profiles.iter().map(|p| p.host_id.as_str()).collect();
    let names: BTreeSet<&str> = profiles.iter().map(|p| p.hostname.as_str()).collect();
    assert_eq!(ids.len(), n);
    assert_eq!(names.len(), n);
}

#[test]
fn the_servers_mix_is_only_servers() {
    let fleet = Fleet::new(1, Mix::SERVERS, anchor(), 0.0);
    let n = 1_000;
    let vms = (0..n)
        .map(|i| fleet.profile(i))
        .inspect(|p| assert!(p.class.is_server(), "{}", p.hostname))
        .filter(|p| p.class == HostClass::VirtualServer)
        .count();
    assert!((0.75..=0.85).contains(&share(vms, n as usize)), "{vms}");
}

#[test]
fn every_generated_report_is_valid_against_the_schema() {
    let validator = schema();
    for (seed, hosts) in [(1u64, 600u64), (77, 150)] {
        let fleet = fleet(seed);
        for i in 0..hosts {
            let full = fleet.first_report(i, now(), 300, Uuid::new_v4());
            let profile = fleet.profile(i);
            let spec = ReportSpec {
                sequence: 2,
                report_id: Uuid::new_v4(),
                window_start: now(),
                collected_at: now() + Duration::seconds(301),
                with_inventory: false,
            };
            let (regular, _) = fleet.report(&profile, &spec, Revision::default(), None);
            for report in [&full, &regular] {
                let json = serde_json::to_value(report).unwrap();
                let errors: Vec<String> = validator
                    .iter_errors(&json)
                    .map(|e| format!("{e} at {}", e.instance_path()))
                    .collect();
                assert!(errors.is_empty(), "{}: {errors:?}", report.hostname);
                assert!(
                    report.check_invariants().is_empty(),
                    "{}: {:?}",
                    report.hostname,
                    report.check_invariants()
                );
                // What the collector parses is what was generated.
                let back: Report = serde_json::from_value(json).unwrap();
                assert_eq!(&back, report);
                assert!(report.labels.len() <= 64 && report.hostname.len() <= 255);
            }
            assert!(regular.inventory.is_none());
            assert_eq!(regular.inventory_hash, full.inventory_hash);
            assert_eq!(regular.window.start, full.window.end);
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_fleet() {
    let id = Uuid::from_u128(1);
    let a = fleet(5);
    let b = fleet(5);
    let c = fleet(6);
    let mut differs = 0;
    for i in 0..60 {
        let ra = a.first_report(i, now(), 300, id);
        assert_eq!(ra, b.first_report(i, now(), 300, id), "host {i}");
        let rc = c.first_report(i, now(), 300, id);
        assert_ne!(ra.host_id, rc.host_id);
        if ra.inventory != rc.inventory {
            differs += 1;
        }
        // The utilisation series: window after window, the same values.
        let profile = a.profile(i);
        for sequence in 2..5u32 {
            let spec = ReportSpec {
                sequence,
                report_id: id,
                window_start: now(),
                collected_at: now() + Duration::seconds(300),
                with_inventory: false,
            };
            let (x, _) = a.report(&profile, &spec, Revision::default(), None);
            let (y, _) = b.report(&b.profile(i), &spec, Revision::default(), None);
            assert_eq!(x.utilisation, y.utilisation);
            assert_eq!(x.power, y.power);
        }
    }
    assert_eq!(differs, 60);
}

#[test]
fn windows_hosts_look_like_the_windows_agents_reports() {
    let fleet = fleet(3);
    let mut windows = 0;
    for i in 0..400 {
        let report = fleet.first_report(i, now(), 300, Uuid::new_v4());
        let inv = report.inventory.as_ref().unwrap();
        let os = inv.os.as_ref().unwrap();
        if os.family != "windows" {
            assert_eq!(report.agent.platform, "linux");
            assert_eq!(report.host_id.len(), 32, "machine-id");
            continue;
        }
        windows += 1;
        assert_eq!(report.agent.platform, "windows");
        assert_eq!(os.id, "windows");
        // As the Windows agent reads `CurrentVersion`: build with its update revision,
        // kernel the NT version and build, version the DisplayVersion or ReleaseId.
        let build = os.build.as_deref().unwrap();
        let number = build.split('.').next().unwrap();
        assert!(number.parse::<u32>().unwrap() >= 7601, "{build}");
        assert!(os.kernel.ends_with(&format!(".{number}")), "{}", os.kernel);
        assert!(
            os.kernel_version
                .as_deref()
                .unwrap()
                .starts_with(&os.kernel)
        );
        let version = os.version_id.as_deref().unwrap();
        assert!(
            version.ends_with("H2") || version.len() == 4 || version.starts_with("6."),
            "{version}"
        );
        // What the Windows agent collects, does not collect, and cannot send.
        let disks = inv.disks.as_ref().unwrap();
        assert!(
            !disks.is_empty() && disks.iter().all(|d| d.name.starts_with("PhysicalDrive")),
            "{disks:?}"
        );
        assert!(inv.gpus.is_none());
        let errors: Vec<(&str, &str)> = report
            .collector_errors
            .iter()
            .map(|e| (e.collector.as_str(), e.message.as_str()))
            .collect();
        assert!(
            errors.contains(&("gpus", "not supported on this platform")),
            "{errors:?}"
        );
        assert!(
            !errors
                .iter()
                .any(|(c, _)| *c == "disks" || *c == "hardware")
        );
        assert!(
            errors
                .iter()
                .any(|(c, m)| *c == "security" && m.contains("BitLocker C:\\"))
        );
        // SMBv1, Remote Desktop, the administrators, antivirus state and the TPM travel
        // in `security.windows`, as the Windows agent sends them.
        let windows_security = inv
            .security
            .as_ref()
            .and_then(|s| s.windows.as_ref())
            .expect("security.windows");
        assert!(windows_security.smb1.value().is_some());
        assert!(windows_security.remote_desktop.value().is_some());
        let admins = windows_security.local_administrators.value().unwrap();
        assert!(
            admins
                .members
                .iter()
                .any(|m| m.ends_with("\\Administrator"))
        );
        assert!(windows_security.tpm.value().is_some());
        let mut sorted = errors.clone();
        sorted.sort();
        assert_eq!(sorted, errors, "sorted by collector");
        assert!(os.name.starts_with("Windows "));
        assert!(Uuid::parse_str(&report.host_id).is_ok(), "MachineGuid");
        let software = inv.software.as_ref().unwrap();
        assert_eq!(software.sources, ["windows-registry"]);
        assert!(
            software
                .packages
                .iter()
                .all(|p| p.source == "windows-registry")
        );
        assert_eq!(inv.services.as_ref().unwrap().manager, "windows-scm");
        let security = inv.security.as_ref().unwrap();
        let updates = security.automatic_updates.value().unwrap();
        assert_eq!(updates.mechanism.as_deref(), Some("windows-update"));
        let filesystems = inv.filesystems.as_ref().unwrap();
        assert_eq!(filesystems[0].mount_point, "C:\\");
        assert_eq!(filesystems[0].fs_type, "NTFS");
        assert!(inv.cpu.as_ref().unwrap().flags.is_empty());
        assert!(
            inv.listening
                .as_ref()
                .unwrap()
                .iter()
                .any(|s| s.port == 445 && s.process.as_deref() == Some("System"))
        );
    }
    assert!(windows > 300, "{windows}");
}

/// Days from `t` to `now()`.
fn days_ago(t: DateTime<Utc>) -> i64 {
    (now() - t).num_days()
}

fn listening_on(inv: &Inventory, port: u16) -> bool {
    inv.listening
        .as_ref()
        .is_some_and(|l| l.iter().any(|s| s.port == port && s.address != "127.0.0.1"))
}

#[test]
fn neglected_and_idle_hosts_show_what_the_checks_look_for() {
    let fleet = fleet(11);
    let mut found: BTreeMap<&str, usize> = BTreeMap::new();
    let mut note = |what: &'static str| *found.entry(what).or_insert(0) += 1;
    for i in 0..4_000 {
        let profile = fleet.profile(i);
        let interesting = profile.traits.neglected || profile.traits.idle || i.is_multiple_of(10);
        if !interesting {
            continue;
        }
        let report = fleet.first_report(i, now(), 300, Uuid::new_v4());
        let inv = report.inventory.as_ref().unwrap();
        let os = inv.os.as_ref().unwrap();
        let util = report.utilisation.as_ref().unwrap();
        let cpu_p95 = util.cpu_busy_ratio.as_ref().unwrap().p95;
        if profile.traits.idle {
            assert!(cpu_p95 < 0.05, "{}: p95 {cpu_p95}", report.hostname);
            note("idle");
        }
        if !profile.traits.neglected {
            let patched = *os.last_package_change.value().unwrap();
            assert!(days_ago(patched) <= 40, "{}", report.hostname);
            continue;
        }
        note("neglected");
        if profile.os.legacy {
            note("unsupported os");
        }
        let patched = *os.last_package_change.value().unwrap();
        assert!(days_ago(patched) >= 89, "{}", report.hostname);
        if os.reboot_required == (Known::Known { value: true }) {
            note("reboot pending");
        }
        let fullest = inv
            .filesystems
            .as_ref()
            .unwrap()
            .iter()
            .map(|f| f.available_bytes as f64 / f.size_bytes as f64)
            .fold(1.0, f64::min);
        if fullest < 0.05 {
            note("disk nearly full");
        }
        if listening_on(inv, 23) {
            note("telnet");
        }
        if listening_on(inv, 139) {
            note("netbios");
        }
        let old_samba = inv.software.as_ref().unwrap().packages.iter().any(|p| {
            p.name == "samba" && (p.version.contains(":4.3.") || p.version.starts_with("4.10."))
        });
        if old_samba && listening_on(inv, 445) {
            note("smb1 samba");
        }
    }
    for what in [
        "idle",
        "neglected",
        "unsupported os",
        "reboot pending",
        "disk nearly full",
        "telnet",
        "netbios",
    ] {
        assert!(
            found.get(what).copied().unwrap_or(0) > 0,
            "no {what}: {found:?}"
        );
    }
    assert!(found["neglected"] >= 150, "{found:?}");
    // Old Samba (SMB1 by default) on a neglected file server is rare: look further.
    let smb1 = (0..60_000u64).find(|i| {
        let p = fleet.profile(*i);
        p.role == "file-server"
            && p.traits.neglected
            && matches!(p.os.key, "ubuntu-16.04" | "centos-7")
    });
    let smb1 = smb1.expect("no neglected Samba file server on an old OS in 60,000 hosts");
    let report = fleet.first_report(smb1, now(), 300, Uuid::new_v4());
    let inv = report.inventory.as_ref().unwrap();
    let samba = inv
        .software
        .as_ref()
        .unwrap()
        .packages
        .iter()
        .find(|p| p.name == "samba")
        .map(|p| p.version.clone())
        .unwrap();
    assert!(
        samba.contains(":4.3.") || samba.starts_with("4.10."),
        "{samba}"
    );
    assert!(listening_on(inv, 445), "{}", report.hostname);
}

#[test]
fn physical_hosts_have_power_readings_and_vms_have_none() {
    let fleet = fleet(13);
    let mut measured = 0;
    for i in 0..3_000 {
        let profile = fleet.profile(i);
        if !(profile.class.is_server() || profile.class == HostClass::LinuxEndpoint) {
            continue;
        }
        let report = fleet.first_report(i, now(), 300, Uuid::new_v4());
        let kind = report
            .inventory
            .as_ref()
            .unwrap()
            .hardware
            .as_ref()
            .unwrap()
            .virtualization
            .kind;
        if !report.power.readings.is_empty() {
            measured += 1;
            assert_eq!(kind, VirtualizationKind::Physical, "{}", report.hostname);
            assert_eq!(
                report
                    .inventory
                    .as_ref()
                    .unwrap()
                    .os
                    .as_ref()
                    .unwrap()
                    .family,
                "linux"
            );
        } else {
            assert!(!report.power.notes.is_empty());
        }
    }
    assert!(measured > 5, "{measured}");
}

/// "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz" → "Xeon Gold 6230", as the collector's
/// CPU table names models.
fn table_model(brand: &str) -> String {
    let drop = [
        "(R)",
        "(TM)",
        "Intel",
        "AMD",
        "CPU",
        "Processor",
        "with",
        "Radeon",
        "Graphics",
    ];
    let mut words = Vec::new();
    for word in brand.split_whitespace() {
        if word.starts_with('@') {
            break;
        }
        let word = word.replace("(R)", "").replace("(TM)", "");
        let generation = word.ends_with("th") || word == "Gen";
        if word.is_empty() || drop.contains(&word.as_str()) || generation || word.ends_with("-Core")
        {
            continue;
        }
        words.push(word);
    }
    words.join(" ")
}

#[test]
fn every_cpu_and_os_release_is_in_the_collectors_tables() {
    let cpu_table = std::fs::read_to_string(repo().join("config/data/cpu-power.toml")).unwrap();
    for cpu in catalogue::all_cpus() {
        let model = table_model(cpu.brand);
        assert!(
            cpu_table.contains(&format!("model = \"{model}\"")),
            "{} ({model}) is not in config/data/cpu-power.toml",
            cpu.brand
        );
    }
    let lifecycle: toml::Table = toml::from_str(
        &std::fs::read_to_string(repo().join("config/data/os-lifecycle.toml")).unwrap(),
    )
    .unwrap();
    let releases = lifecycle["release"].as_array().unwrap();
    for release in catalogue::all_releases() {
        let found = releases.iter().any(|entry| {
            let products: Vec<&str> = entry["products"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|p| p.as_str())
                .collect();
            match release.kind {
                OsKind::WindowsClient | OsKind::WindowsServer => {
                    let product = if release.kind == OsKind::WindowsServer {
                        "windows-server"
                    } else {
                        "windows"
                    };
                    products.contains(&product)
                        && entry.get("windows_builds").is_some_and(|b| {
                            b.as_array()
                                .unwrap()
                                .iter()
                                .any(|b| b.as_integer() == Some(i64::from(release.build)))
                        })
                }
                OsKind::Linux => {
                    let version = entry.get("version").and_then(|v| v.as_str()).unwrap_or("");
                    let major = release.version_id.split('.').next().unwrap_or("");
                    products.contains(&release.id)
                        && (version == release.version_id || version == major)
                }
            }
        });
        assert!(
            found,
            "{} is not in config/data/os-lifecycle.toml",
            release.key
        );
    }
}

#[test]
fn a_patch_changes_the_inventory_hash_and_neglected_hosts_never_change() {
    let fleet = Fleet::new(8, Mix::COUNCIL, anchor(), 0.5);
    for i in 0..200 {
        let profile = fleet.profile(i);
        let before = fleet.inventory_hash(&profile, Revision::default());
        let after = fleet.inventory_hash(
            &profile,
            Revision {
                number: 1,
                patched_at: Some(now()),
            },
        );
        assert_ne!(before, after, "{}", profile.hostname);
        let changes = (1..200).filter(|s| fleet.changes_at(&profile, *s)).count();
        if profile.traits.neglected {
            assert_eq!(changes, 0);
        } else {
            assert!((60..=140).contains(&changes), "{changes}");
        }
    }
}
