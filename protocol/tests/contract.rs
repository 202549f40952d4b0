//! The wire contract: the committed JSON Schema, the golden canonical report and the
//! examples. Set `ESTATE_BLESS=1` to rewrite the committed files after an intended change
//! (and review the diff: it is a change to what every agent and collector speaks).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use estate_protocol::*;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("ESTATE_BLESS").is_some_and(|v| v == "1")
}

/// Compares `actual` with the committed file, or rewrites it when blessing.
fn golden(path: &Path, actual: &str) {
    if bless() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == actual,
        "{} is out of date with the protocol types.\n\
         If the contract change is intended, run `ESTATE_BLESS=1 cargo test -p estate-protocol` \
         and commit the new file; if not, undo the change to the types.",
        path.display()
    );
}

fn schema_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(crate_dir().join("schema/report-v1.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn schema_errors(instance: &serde_json::Value) -> Vec<String> {
    schema_validator()
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().unwrap()
}

/// A report with every section and every optional value filled in.
fn canonical_report() -> Report {
    let summary = |mean: f64| Summary {
        mean,
        p50: mean,
        p95: mean * 1.5,
        max: mean * 2.0,
        peaks_10m: vec![mean * 2.0],
    };
    let inventory = Inventory {
        os: Some(Os {
            family: "linux".into(),
            id: "debian".into(),
            id_like: vec![],
            name: "Debian GNU/Linux 12 (bookworm)".into(),
            version_id: Some("12".into()),
            version_codename: Some("bookworm".into()),
            build: None,
            support_end: Some(chrono::NaiveDate::from_ymd_opt(2028, 6, 30).unwrap()),
            kernel: "6.1.0-18-amd64".into(),
            kernel_version: Some("#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)".into()),
            arch: "x86_64".into(),
            timezone: Some("Europe/London".into()),
            boot_time: at(2026, 11, 20, 6, 0, 0),
            uptime_secs: 604_800,
            install_time: Some(at(2024, 3, 1, 10, 0, 0)),
            reboot_required: Known::Known { value: true },
            reboot_required_packages: vec!["libc6".into()],
            last_package_change: Known::Known {
                value: at(2026, 11, 26, 2, 0, 0),
            },
            pending_updates: Known::unknown("apt lists cannot be compared offline"),
        }),
        hardware: Some(Hardware {
            vendor: Some("QEMU".into()),
            product: Some("Standard PC (Q35 + ICH9, 2009)".into()),
            product_version: None,
            serial: Known::unknown("/sys/class/dmi/id/product_serial is not readable"),
            chassis_type_code: Some(1),
            chassis: Chassis::Virtual,
            bios_vendor: Some("SeaBIOS".into()),
            bios_version: Some("1.16.2".into()),
            bios_date: chrono::NaiveDate::from_ymd_opt(2014, 4, 1),
            virtualization: Virtualization {
                kind: VirtualizationKind::Vm,
                technology: Some("kvm".into()),
                evidence: vec!["dmi sys_vendor=QEMU".into()],
            },
        }),
        cpu: Some(Cpu {
            model: "Intel Xeon Processor (Cascadelake)".into(),
            vendor: "GenuineIntel".into(),
            sockets: 1,
            physical_cores: 4,
            logical_cpus: 4,
            max_mhz: Some(2893.2),
            flags: vec!["hypervisor".into()],
        }),
        memory: Some(Memory {
            total_bytes: 8_589_934_592,
            available_bytes: 6_000_000_000,
            swap_total_bytes: 0,
            swap_free_bytes: 0,
        }),
        disks: Some(vec![Disk {
            name: "vda".into(),
            model: None,
            vendor: Some("0x1af4".into()),
            serial: None,
            size_bytes: 68_719_476_736,
            kind: DiskKind::Virtual,
            removable: false,
        }]),
        filesystems: Some(vec![Filesystem {
            mount_point: "/".into(),
            fs_type: "ext4".into(),
            device: "/dev/vda1".into(),
            size_bytes: 67_000_000_000,
            free_bytes: 30_000_000_000,
            available_bytes: 26_000_000_000,
            inodes_total: 4_000_000,
            inodes_free: 3_500_000,
            read_only: false,
        }]),
        network: Some(Network {
            interfaces: vec![Interface {
                name: "enp1s0".into(),
                mac: Some("52:54:00:8c:1a:2b".into()),
                addresses: vec!["10.30.2.41/24".into()],
                state: "up".into(),
                speed_mbps: None,
                mtu: Some(1500),
                kind: "physical".into(),
            }],
            default_gateway_v4: Some("10.30.2.1".into()),
            default_gateway_v6: None,
            dns_servers: vec!["10.30.0.53".into()],
            dns_search: vec!["council.local".into()],
        }),
        software: Some(Software {
            sources: vec!["dpkg".into()],
            packages: vec![Package {
                name: "nginx".into(),
                version: "1.22.1-9".into(),
                arch: Some("amd64".into()),
                source: "dpkg".into(),
                installed_size_bytes: Some(1_228_800),
                publisher: Some("Debian Nginx Maintainers".into()),
                install_time: None,
            }],
        }),
        services: Some(Services {
            manager: "systemd".into(),
            available: true,
            reason: None,
            units: vec![ServiceUnit {
                name: "nginx.service".into(),
                description: "A high performance web server".into(),
                load_state: "loaded".into(),
                active_state: "active".into(),
                sub_state: "running".into(),
                enabled: Some("enabled".into()),
            }],
        }),
        listening: Some(vec![ListeningSocket {
            protocol: "tcp".into(),
            address: "0.0.0.0".into(),
            port: 443,
            pid: Some(812),
            process: Some("nginx".into()),
        }]),
        security: Some(Security {
            firewall: Known::Known {
                value: Firewall {
                    active: true,
                    evidence: vec!["ufw enabled (/etc/ufw/ufw.conf)".into()],
                },
            },
            disk_encryption: Known::Known {
                value: DiskEncryption {
                    encrypted_mounts: vec![],
                    unencrypted_mounts: vec!["/".into()],
                },
            },
            secure_boot: Known::Known {
                value: SecureBoot::NotUefi,
            },
            time_sync: Known::Known {
                value: TimeSync {
                    active: true,
                    service: Some("systemd-timesyncd".into()),
                    synchronised: None,
                },
            },
            ssh: Known::Known {
                value: SshConfig {
                    permit_root_login: "no".into(),
                    password_authentication: false,
                    files: vec!["/etc/ssh/sshd_config".into()],
                },
            },
            automatic_updates: Known::Known {
                value: AutomaticUpdates {
                    enabled: true,
                    mechanism: Some("unattended-upgrades".into()),
                    evidence: vec!["/etc/apt/apt.conf.d/20auto-upgrades".into()],
                },
            },
            antivirus: Known::Known { value: vec![] },
            windows: None,
        }),
        gpus: Some(vec![Gpu {
            pci_address: "0000:00:01.0".into(),
            vendor_id: "1234".into(),
            device_id: "1111".into(),
            vendor: Some("QEMU/Bochs".into()),
            model: None,
            driver: Some("bochs-drm".into()),
            memory_bytes: None,
            power_limit_watts: None,
            utilisation_ratio: None,
        }]),
    };
    Report {
        schema_version: SCHEMA_VERSION,
        report_id: uuid::Uuid::from_u128(0x5a1e_0000_4000_8000_0000_0000_0000_0001),
        host_id: "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b".into(),
        host_id_source: HostIdSource::MachineId,
        hostname: "app-web02".into(),
        agent: AgentInfo {
            version: "0.1.0".into(),
            platform: "linux".into(),
            arch: "x86_64".into(),
        },
        labels: BTreeMap::from([("site".into(), "county-hall".into())]),
        collected_at: at(2026, 11, 27, 9, 5, 0),
        window: Window {
            start: at(2026, 11, 27, 9, 0, 0),
            end: at(2026, 11, 27, 9, 5, 0),
        },
        inventory_hash: inventory.stable_hash(),
        inventory: Some(inventory),
        utilisation: Some(Utilisation {
            sample_interval_secs: 10.0,
            samples_taken: 30,
            samples_expected: 30,
            cpu_busy_ratio: Some(summary(0.12)),
            memory_used_ratio: Some(summary(0.3)),
            disk_read_bytes_per_second: Some(summary(1000.0)),
            disk_write_bytes_per_second: Some(summary(2000.0)),
            network_receive_bytes_per_second: Some(summary(3000.0)),
            network_transmit_bytes_per_second: Some(summary(4000.0)),
        }),
        power: Power {
            source: PowerSource::Measured,
            readings: vec![PowerReading {
                meter: PowerMeter::Rapl,
                domain: "package-0".into(),
                average_watts: 61.5,
                energy_joules: 18_450.0,
                interval_secs: 300.0,
            }],
            notes: vec![],
        },
        probes: vec![ProbeResult {
            name: "intranet".into(),
            kind: ProbeKind::Http,
            target: "https://intranet.council.local/health".into(),
            checked_at: at(2026, 11, 27, 9, 5, 0),
            up: true,
            status: Some(200),
            latency_ms: Some(23.5),
            tls: Some(TlsCertificate {
                subject: "CN=intranet.council.local".into(),
                issuer: "CN=Council Issuing CA".into(),
                not_before: at(2026, 1, 1, 0, 0, 0),
                not_after: at(2027, 1, 1, 0, 0, 0),
            }),
            error: None,
        }],
        collector_errors: vec![CollectorError {
            collector: "services".into(),
            kind: CollectorErrorKind::Partial,
            message: "cannot reach the system bus".into(),
        }],
    }
}

#[test]
fn committed_schema_matches_the_types() {
    let schema = serde_json::to_string_pretty(&Report::json_schema()).unwrap() + "\n";
    golden(&crate_dir().join("schema/report-v1.json"), &schema);
}

#[test]
fn canonical_report_matches_the_golden_file() {
    let json = serde_json::to_string_pretty(&canonical_report()).unwrap() + "\n";
    golden(
        &crate_dir().join("tests/golden/canonical-report.json"),
        &json,
    );
}

#[test]
fn canonical_report_round_trips_and_validates() {
    let report = canonical_report();
    let value = serde_json::to_value(&report).unwrap();
    assert_eq!(schema_errors(&value), Vec::<String>::new());
    let back: Report = serde_json::from_value(value).unwrap();
    assert_eq!(back, report);
    assert_eq!(report.check_invariants(), Vec::<String>::new());
}

#[test]
fn every_example_validates_round_trips_and_holds_its_invariants() {
    let dir = crate_dir().join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let errors = schema_errors(&value);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let report: Report = serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            value,
            "{}",
            path.display()
        );
        assert_eq!(
            report.check_invariants(),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
    }
    assert!(
        seen >= 2,
        "expected at least two examples in {}",
        dir.display()
    );
}

#[test]
fn schema_rejects_what_the_types_reject() {
    let mut value = serde_json::to_value(canonical_report()).unwrap();
    value["surprise"] = serde_json::json!(1);
    assert!(
        !schema_errors(&value).is_empty(),
        "unknown top-level field accepted"
    );
    let mut value = serde_json::to_value(canonical_report()).unwrap();
    value["power"]["source"] = serde_json::json!("guessed");
    assert!(
        !schema_errors(&value).is_empty(),
        "unknown power source accepted"
    );
    let mut value = serde_json::to_value(canonical_report()).unwrap();
    value.as_object_mut().unwrap().remove("host_id");
    assert!(
        !schema_errors(&value).is_empty(),
        "missing host_id accepted"
    );
}

#[test]
fn inventory_hash_ignores_volatile_values_only() {
    let report = canonical_report();
    let inventory = report.inventory.unwrap();
    let mut later = inventory.clone();
    later.os.as_mut().unwrap().uptime_secs += 300;
    later.filesystems.as_mut().unwrap()[0].available_bytes -= 4096;
    later.memory.as_mut().unwrap().available_bytes -= 1;
    assert_eq!(later.stable_hash(), inventory.stable_hash());
    let mut changed = inventory.clone();
    changed.software.as_mut().unwrap().packages[0].version = "1.22.1-9+deb12u1".into();
    assert_ne!(changed.stable_hash(), inventory.stable_hash());
}

#[test]
fn invariants_catch_a_wrong_hash_and_a_backwards_window() {
    let mut report = canonical_report();
    report.inventory_hash = "0".repeat(64);
    std::mem::swap(&mut report.window.start, &mut report.window.end);
    let problems = report.check_invariants();
    assert_eq!(problems.len(), 2, "{problems:?}");
}
