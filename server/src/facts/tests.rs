//! Unit tests of the facts derivation: each derived value, including unknown and missing
//! input. The golden files over whole reports are in `server/tests/facts.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use estate_protocol::{
    CollectorError, CollectorErrorKind, DiskKind, Inventory, Known, ListeningSocket, PowerMeter,
    PowerReading, PowerSource, Report, SecureBoot, ServiceUnit, TlsCertificate, VirtualizationKind,
};
use serde_json::Value;

use super::*;

const DELL: &str = include_str!("../../../protocol/examples/full-report-dell-r740.json");
const DEBIAN: &str = include_str!("../../../protocol/examples/full-report-debian-vm.json");
const REGULAR: &str = include_str!("../../../protocol/examples/regular-report-no-inventory.json");

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a time")
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a date")
}

fn report(text: &str) -> Report {
    serde_json::from_str(text).expect("an example report")
}

fn dell() -> Report {
    report(DELL)
}

fn table() -> LifecycleTable {
    LifecycleTable::shipped().expect("the shipped table")
}

fn now() -> DateTime<Utc> {
    at("2026-11-27T09:10:00Z")
}

/// Derives the facts of `report` (inventory and all) at `now`.
fn facts_at(report: &Report, series: &[SeriesPoint], now: DateTime<Utc>) -> Facts {
    facts_with(report, series, now, DeriveOptions::default())
}

fn facts_with(
    report: &Report,
    series: &[SeriesPoint],
    now: DateTime<Utc>,
    options: DeriveOptions,
) -> Facts {
    let table = table();
    derive(&FactsInput {
        host: HostMeta {
            host_id: &report.host_id,
            hostname: &report.hostname,
            labels: &report.labels,
            first_seen: at("2026-11-01T00:00:00Z"),
            last_seen: report.collected_at,
        },
        inventory: None,
        inventory_collected_at: None,
        report: Some(report),
        series,
        now,
        lifecycle: &table,
        options,
    })
}

fn facts(report: &Report) -> Facts {
    facts_at(report, &[], now())
}

fn inv(report: &mut Report) -> &mut Inventory {
    report.inventory.as_mut().expect("an inventory")
}

// --- support status --------------------------------------------------------------------

#[test]
fn support_status_follows_the_end_date_and_the_window() {
    let end = Some(day("2026-12-31"));
    let judge = |today: &str, days| SupportStatus::judge(end, day(today), days);
    assert_eq!(judge("2025-12-30", 365), SupportStatus::Supported);
    assert_eq!(judge("2025-12-31", 365), SupportStatus::EndingSoon);
    assert_eq!(judge("2026-12-31", 365), SupportStatus::EndingSoon);
    assert_eq!(judge("2027-01-01", 365), SupportStatus::Unsupported);
    assert_eq!(judge("2026-12-01", 0), SupportStatus::Supported);
    assert_eq!(
        SupportStatus::judge(None, day("2026-01-01"), 365),
        SupportStatus::Unknown
    );
}

#[test]
fn the_os_gets_its_lifecycle_from_the_table() {
    let f = facts(&dell());
    assert_eq!(f.os.lifecycle.basis, "table");
    assert_eq!(f.os.lifecycle.entry.as_deref(), Some("rocky-9"));
    assert_eq!(f.os.end_of_support, Some(day("2032-05-31")));
    assert_eq!(f.os.end_of_active_support, Some(day("2027-05-31")));
    assert_eq!(f.os.days_to_end_of_support, Some(2012));
    assert_eq!(f.os.support_status, SupportStatus::Supported);
    // Rocky has no extended programme: judged against end_of_support.
    assert_eq!(f.os.extended_support_end, None);
    assert_eq!(f.os.extended_support_status, SupportStatus::Supported);
    assert_eq!(f.os.os_release_support_end, Some(day("2032-05-31")));
}

#[test]
fn regular_support_can_end_while_extended_support_runs() {
    let f = facts(&report(DEBIAN));
    assert_eq!(f.os.lifecycle.entry.as_deref(), Some("debian-12"));
    assert_eq!(f.os.support_status, SupportStatus::Unsupported);
    assert_eq!(f.os.days_to_end_of_support, Some(-139));
    assert_eq!(f.os.extended_support_end, Some(day("2028-06-30")));
    assert_eq!(f.os.days_to_extended_support_end, Some(581));
    assert_eq!(f.os.extended_support_status, SupportStatus::Supported);
    assert_eq!(
        f.os.lifecycle.extended_support_name.as_deref(),
        Some("Debian LTS")
    );
}

#[test]
fn the_ending_soon_window_is_an_option() {
    let r = report(DEBIAN);
    let f = facts_at(&r, &[], at("2028-01-01T00:00:00Z"));
    assert_eq!(f.os.extended_support_status, SupportStatus::EndingSoon);
    let narrow = DeriveOptions {
        ending_soon_days: 90,
        ..DeriveOptions::default()
    };
    let f = facts_with(&r, &[], at("2028-01-01T00:00:00Z"), narrow);
    assert_eq!(f.os.extended_support_status, SupportStatus::Supported);
}

#[test]
fn without_a_table_entry_the_os_release_support_end_is_used() {
    let mut r = dell();
    let os = inv(&mut r).os.as_mut().expect("os");
    os.version_id = Some("99.1".to_owned());
    os.support_end = Some(day("2027-03-31"));
    let f = facts(&r);
    assert_eq!(f.os.lifecycle.basis, "os_release");
    assert_eq!(
        f.os.lifecycle.source.as_deref(),
        Some("os-release SUPPORT_END")
    );
    assert_eq!(f.os.lifecycle.entry, None);
    assert_eq!(f.os.end_of_support, Some(day("2027-03-31")));
    assert_eq!(f.os.support_status, SupportStatus::EndingSoon);
}

#[test]
fn an_unknown_release_has_unknown_support_and_no_dates() {
    let mut r = dell();
    let os = inv(&mut r).os.as_mut().expect("os");
    os.version_id = Some("99.1".to_owned());
    os.support_end = None;
    let f = facts(&r);
    assert_eq!(f.os.lifecycle.basis, "none");
    assert_eq!(f.os.support_status, SupportStatus::Unknown);
    assert_eq!(f.os.extended_support_status, SupportStatus::Unknown);
    assert_eq!(f.os.end_of_support, None);
    assert_eq!(f.os.days_to_end_of_support, None);
    assert_eq!(f.os.version.as_deref(), Some("99.1"));
}

#[test]
fn without_an_os_section_only_enumerations_remain() {
    let mut r = dell();
    inv(&mut r).os = None;
    let f = facts(&r);
    assert_eq!(f.os.support_status, SupportStatus::Unknown);
    assert_eq!(f.os.name, None);
    assert_eq!(f.patching.reboot_required, None);
    assert_eq!(f.patching.reboot_required_packages, None);
    assert_eq!(f.uptime.days_since_boot, None);
    let json = f.to_json_value();
    assert_eq!(
        json["os"],
        serde_json::json!({
            "support_status": "unknown",
            "extended_support_status": "unknown",
            "lifecycle": {"basis": "none"}
        })
    );
    assert_eq!(
        json["data"]["unknown"]["inventory.os"],
        "the inventory has no such section"
    );
}

// --- patching and uptime ------------------------------------------------------------------

#[test]
fn days_since_last_patch_counts_whole_days() {
    let mut r = dell();
    let os = inv(&mut r).os.as_mut().expect("os");
    os.last_package_change = Known::Known {
        value: at("2026-11-20T09:10:01Z"),
    };
    // 6 days 23:59:59.
    assert_eq!(facts(&r).patching.days_since_last_patch, Some(6));
    let os = inv(&mut r).os.as_mut().expect("os");
    os.last_package_change = Known::Known {
        value: at("2026-11-20T09:10:00Z"),
    };
    assert_eq!(facts(&r).patching.days_since_last_patch, Some(7));
    // A change in the future (clock skew) is 0 days ago, not negative.
    let os = inv(&mut r).os.as_mut().expect("os");
    os.last_package_change = Known::Known {
        value: at("2026-11-28T00:00:00Z"),
    };
    assert_eq!(facts(&r).patching.days_since_last_patch, Some(0));
}

#[test]
fn unknown_patch_state_is_absent_with_its_reason() {
    let mut r = dell();
    let os = inv(&mut r).os.as_mut().expect("os");
    os.last_package_change = Known::unknown("no dnf log");
    os.reboot_required = Known::unknown("no hook");
    let f = facts(&r);
    assert_eq!(f.patching.last_package_change, None);
    assert_eq!(f.patching.days_since_last_patch, None);
    assert_eq!(f.patching.reboot_required, None);
    assert_eq!(f.data.unknown["os.last_package_change"], "no dnf log");
    assert_eq!(f.data.unknown["os.reboot_required"], "no hook");
    assert!(f.data.unknown.contains_key("os.pending_updates"));
    assert_eq!(f.patching.pending_updates, None);
}

#[test]
fn pending_updates_and_automatic_updates_are_reported() {
    let mut r = dell();
    let os = inv(&mut r).os.as_mut().expect("os");
    os.pending_updates = Known::Known {
        value: estate_protocol::PendingUpdates {
            count: 12,
            security_count: Some(3),
            source: "x".to_owned(),
        },
    };
    let f = facts(&r);
    assert_eq!(f.patching.pending_updates, Some(12));
    assert_eq!(f.patching.pending_security_updates, Some(3));
    assert_eq!(f.patching.automatic_updates, Some(true));
    assert_eq!(
        f.patching.automatic_updates_mechanism.as_deref(),
        Some("dnf-automatic")
    );
}

#[test]
fn uptime_is_counted_from_the_boot_time_to_now() {
    let f = facts(&dell());
    assert_eq!(f.uptime.boot_time, Some(at("2024-05-02T09:02:03Z")));
    assert_eq!(f.uptime.uptime_seconds, Some(81_130_077));
    assert_eq!(f.uptime.days_since_boot, Some(939));
}

// --- host and hardware -------------------------------------------------------------------

#[test]
fn host_kind_chassis_and_labels() {
    let f = facts(&dell());
    assert_eq!(f.host.kind, "physical");
    assert_eq!(f.host.chassis, "server");
    assert_eq!(f.host.role.as_deref(), Some("database"));
    assert_eq!(f.host.site.as_deref(), Some("county-hall"));
    assert_eq!(f.host.owner, None);
    assert_eq!(f.host.days_since_first_seen, 26);
    let vm = facts(&report(DEBIAN));
    assert_eq!(vm.host.kind, "virtual");
    assert_eq!(vm.host.chassis, "virtual");
    assert_eq!(vm.host.hypervisor.as_deref(), Some("kvm"));
    let mut r = dell();
    inv(&mut r).hardware = None;
    let f = facts(&r);
    assert_eq!((f.host.kind, f.host.chassis), ("unknown", "unknown"));
}

#[test]
fn hardware_age_comes_from_the_bios_date_of_physical_hosts_only() {
    let f = facts(&dell());
    assert_eq!(f.hardware.bios_date, Some(day("2021-06-22")));
    assert_eq!(f.hardware.hardware_age_days, Some(1984));
    // A VM's firmware date says nothing about the hardware.
    let vm = facts(&report(DEBIAN));
    assert_eq!(vm.hardware.bios_date, Some(day("2014-04-01")));
    assert_eq!(vm.hardware.hardware_age_days, None);
    let mut r = dell();
    let hw = inv(&mut r).hardware.as_mut().expect("hardware");
    hw.bios_date = None;
    assert_eq!(facts(&r).hardware.hardware_age_days, None);
    let hw = inv(&mut r).hardware.as_mut().expect("hardware");
    hw.bios_date = Some(day("2019-01-01"));
    hw.virtualization.kind = VirtualizationKind::Unknown;
    assert_eq!(facts(&r).hardware.hardware_age_days, None);
}

#[test]
fn cpu_memory_and_disks_are_summarised() {
    let f = facts(&dell());
    assert_eq!(f.hardware.cpu_sockets, Some(2));
    assert_eq!(f.hardware.cpu_cores, Some(20));
    assert_eq!(f.hardware.cpu_threads, Some(40));
    assert_eq!(f.hardware.memory_bytes, Some(405_438_885_888));
    assert_eq!(f.hardware.serial.as_deref(), Some("7XK2Q93"));
    assert_eq!(f.hardware.disk_count, Some(3));
    assert_eq!(f.hardware.hdd_count, Some(2));
    assert_eq!(
        f.hardware.disk_total_bytes,
        Some(1_600_321_314_816 + 2 * 2_400_476_553_216)
    );
    let mut r = dell();
    let disks = inv(&mut r).disks.as_mut().expect("disks");
    disks[1].removable = true;
    disks[2].kind = DiskKind::Ssd;
    let f = facts(&r);
    assert_eq!(f.hardware.disk_count, Some(2));
    assert_eq!(f.hardware.hdd_count, Some(0));
    assert_eq!(f.hardware.disks.as_ref().map(Vec::len), Some(3));
    inv(&mut r).disks = None;
    inv(&mut r).cpu = None;
    let f = facts(&r);
    assert_eq!(f.hardware.disk_count, None);
    assert_eq!(f.hardware.cpu_cores, None);
}

#[test]
fn an_unknown_serial_is_absent_with_its_reason() {
    let f = facts(&report(DEBIAN));
    assert_eq!(f.hardware.serial, None);
    assert_eq!(
        f.data.unknown["hardware.serial"],
        "/sys/class/dmi/id/product_serial is absent or empty"
    );
}

// --- storage -------------------------------------------------------------------------------

#[test]
fn filesystem_ratios_and_the_summary() {
    let mut r = dell();
    let list = inv(&mut r).filesystems.as_mut().expect("filesystems");
    list[0].size_bytes = 1000;
    list[0].free_bytes = 100;
    list[0].available_bytes = 50;
    list[0].inodes_total = 200;
    list[0].inodes_free = 10;
    let f = facts(&r);
    let root = &f.storage.filesystems.as_ref().expect("filesystems")[0];
    assert_eq!(root.used_ratio, Some(0.9));
    assert_eq!(root.free_ratio, Some(0.1));
    assert_eq!(root.available_ratio, Some(0.05));
    assert_eq!(root.inodes_free_ratio, Some(0.05));
    assert_eq!(f.storage.min_available_ratio, Some(0.05));
    assert_eq!(f.storage.min_available_mount.as_deref(), Some("/"));
    assert_eq!(f.storage.min_inodes_free_ratio, Some(0.05));
    assert_eq!(f.storage.root_available_ratio, Some(0.05));
    // vfat has no inode table: no inode ratio rather than 0.
    let efi = &f.storage.filesystems.as_ref().expect("filesystems")[2];
    assert_eq!(efi.inodes_free_ratio, None);
    // /srv/backup and its read-only bind mount count once.
    assert_eq!(
        f.storage.total_bytes,
        Some(1000 + 1_063_256_064 + 627_875_840 + 2_399_948_242_944)
    );
}

#[test]
fn read_only_and_empty_filesystems_do_not_count_as_full() {
    let mut r = dell();
    let list = inv(&mut r).filesystems.as_mut().expect("filesystems");
    list[4].available_bytes = 0; // read-only bind mount
    list[1].size_bytes = 0;
    list[1].free_bytes = 0;
    list[1].available_bytes = 0;
    let f = facts(&r);
    let boot = &f.storage.filesystems.as_ref().expect("filesystems")[1];
    assert_eq!((boot.used_ratio, boot.available_ratio), (None, None));
    assert_eq!(
        f.storage.min_available_mount.as_deref(),
        Some("/srv/backup")
    );
    inv(&mut r).filesystems = None;
    let f = facts(&r);
    assert_eq!(f.storage.filesystems, None);
    assert_eq!(f.storage.min_available_ratio, None);
    assert_eq!(f.storage.filesystem_count, None);
}

// --- network and listening -----------------------------------------------------------------

#[test]
fn addresses_are_listed_without_loopback_or_link_local() {
    let f = facts(&dell());
    assert_eq!(
        f.network.ipv4_addresses.as_deref(),
        Some(&["10.20.1.15".to_owned()][..])
    );
    assert_eq!(f.network.ipv6_addresses.as_deref(), Some(&[][..]));
    let eno1 = &f.network.interfaces.as_ref().expect("interfaces")[0];
    assert!(eno1.up);
    assert_eq!(eno1.speed_bits_per_second, Some(10_000_000_000));
    let mut r = dell();
    inv(&mut r).network = None;
    assert_eq!(facts(&r).network.interfaces, None);
}

fn socket(protocol: &str, address: &str, port: u16, process: Option<&str>) -> ListeningSocket {
    ListeningSocket {
        protocol: protocol.to_owned(),
        address: address.to_owned(),
        port,
        pid: None,
        process: process.map(str::to_owned),
    }
}

#[test]
fn risky_services_are_found_by_port_or_process() {
    let mut r = dell();
    inv(&mut r).listening = Some(vec![
        socket("tcp6", "::ffff:127.0.0.1", 23, None),
        socket("tcp", "0.0.0.0", 2121, Some("vsftpd")),
        socket("tcp", "10.0.0.1", 139, Some("smbd")),
        socket("udp", "0.0.0.0", 161, None),
        socket("tcp", "0.0.0.0", 5901, Some("Xvnc")),
        socket("tcp", "127.0.0.1", 3389, None),
    ]);
    let f = facts(&r);
    let l = &f.listening;
    assert_eq!(l.telnet_listening, Some(true));
    assert_eq!(l.ftp_listening, Some(true));
    assert_eq!(l.netbios_listening, Some(true));
    assert_eq!(l.smb_listening, Some(false));
    assert_eq!(l.snmp_listening, Some(true));
    assert_eq!(l.vnc_listening, Some(true));
    assert_eq!(l.rdp_listening, Some(true));
    assert_eq!(l.ssh_listening, Some(false));
    assert_eq!(
        l.tcp_ports.as_deref(),
        Some(&[23, 139, 2121, 3389, 5901][..])
    );
    assert_eq!(l.exposed_tcp_ports.as_deref(), Some(&[139, 2121, 5901][..]));
    let ports = l.ports.as_ref().expect("ports");
    assert!(ports[0].loopback_only);
    assert_eq!((ports[0].protocol, ports[0].ip_version), ("tcp", 6));
    assert!(!ports[1].loopback_only);
}

#[test]
fn unknown_listening_sockets_leave_every_listening_fact_absent() {
    let mut r = dell();
    inv(&mut r).listening = None;
    let json = facts(&r).to_json_value();
    assert_eq!(json["listening"], serde_json::json!({}));
    inv(&mut r).listening = Some(Vec::new());
    let f = facts(&r);
    assert_eq!(f.listening.telnet_listening, Some(false));
    assert_eq!(f.listening.tcp_ports.as_deref(), Some(&[][..]));
}

// --- services and software -----------------------------------------------------------------

fn unit(name: &str, active: &str, enabled: Option<&str>) -> ServiceUnit {
    ServiceUnit {
        name: name.to_owned(),
        description: String::new(),
        load_state: "loaded".to_owned(),
        active_state: active.to_owned(),
        sub_state: String::new(),
        enabled: enabled.map(str::to_owned),
    }
}

#[test]
fn unit_states_and_enablement() {
    let mut r = dell();
    let services = inv(&mut r).services.as_mut().expect("services");
    services.units = vec![
        unit("a.service", "active", Some("enabled")),
        unit("b.service", "failed", Some("disabled")),
        unit("c.service", "inactive", Some("static")),
        unit("d.service", "active", Some("masked")),
    ];
    let f = facts(&r);
    let s = &f.services;
    assert_eq!(s.states_known, Some(true));
    assert_eq!(s.enabled.as_deref(), Some(&["a.service".to_owned()][..]));
    assert_eq!(
        s.running.as_deref(),
        Some(&["a.service".to_owned(), "d.service".to_owned()][..])
    );
    assert_eq!(s.failed.as_deref(), Some(&["b.service".to_owned()][..]));
    let units = s.units.as_ref().expect("units");
    assert_eq!(
        units.iter().map(|u| u.enabled).collect::<Vec<_>>(),
        vec![Some(true), Some(false), None, Some(false)]
    );
    assert_eq!(units[2].active, Some(false));
}

#[test]
fn unknown_run_states_leave_running_and_failed_absent() {
    let f = facts(&dell());
    assert_eq!(f.services.states_known, Some(false));
    assert_eq!(f.services.running, None);
    assert_eq!(f.services.failed, None);
    assert!(
        f.services
            .enabled
            .as_ref()
            .expect("enabled")
            .contains(&"sshd.service".to_owned())
    );
    assert_eq!(f.services.units.as_ref().expect("units")[0].active, None);
}

#[test]
fn package_versions_can_be_looked_up_by_name() {
    let f = facts(&dell());
    let versions = f.software.versions.as_ref().expect("versions");
    assert_eq!(versions["openssl"], "1:3.0.7-27.el9");
    assert_eq!(f.software.package_count, Some(9));
    let mut r = dell();
    inv(&mut r).software = None;
    r.collector_errors.push(CollectorError {
        collector: "software".to_owned(),
        kind: CollectorErrorKind::Failed,
        message: "rpmdb is Berkeley DB".to_owned(),
    });
    let f = facts(&r);
    assert_eq!(f.software.versions, None);
    assert_eq!(f.data.unknown["inventory.software"], "rpmdb is Berkeley DB");
    assert_eq!(
        f.agent.failed_collectors.as_deref(),
        Some(&["software".to_owned()][..])
    );
    assert_eq!(
        f.agent.partial_collectors.as_deref(),
        Some(&["services".to_owned()][..])
    );
}

// --- security ------------------------------------------------------------------------------

#[test]
fn encryption_facts_leave_boot_out_of_the_data_mounts() {
    let f = facts(&dell());
    assert_eq!(f.security.root_encrypted, Some(true));
    assert_eq!(f.security.disk_encryption_complete, Some(false));
    assert_eq!(
        f.security.unencrypted_data_mounts.as_deref(),
        Some(
            &[
                "/srv/backup".to_owned(),
                "/mnt/backup".to_owned(),
                "/var/lib/pgsql/backups".to_owned()
            ][..]
        )
    );
    let mut r = dell();
    let sec = inv(&mut r).security.as_mut().expect("security");
    sec.disk_encryption = Known::Known {
        value: estate_protocol::DiskEncryption {
            encrypted_mounts: vec!["/".to_owned()],
            unencrypted_mounts: vec!["/boot".to_owned(), "/boot/efi".to_owned()],
        },
    };
    let f = facts(&r);
    assert_eq!(f.security.disk_encryption_complete, Some(true));
    let sec = inv(&mut r).security.as_mut().expect("security");
    sec.disk_encryption = Known::Known {
        value: estate_protocol::DiskEncryption {
            encrypted_mounts: Vec::new(),
            unencrypted_mounts: vec!["/data".to_owned()],
        },
    };
    assert_eq!(facts(&r).security.root_encrypted, None);
}

#[test]
fn ssh_root_login_flags() {
    let f = facts(&report(DEBIAN));
    // prohibit-password: root may log in, with keys only.
    assert_eq!(
        f.security.ssh_permit_root_login.as_deref(),
        Some("prohibit-password")
    );
    assert_eq!(f.security.ssh_root_login, Some(true));
    assert_eq!(f.security.ssh_root_password_login, Some(false));
    let mut r = report(DEBIAN);
    let sec = inv(&mut r).security.as_mut().expect("security");
    sec.ssh = Known::unknown("no SSH server configured");
    let f = facts(&r);
    assert_eq!(f.security.ssh_root_login, None);
    assert_eq!(f.data.unknown["security.ssh"], "no SSH server configured");
}

#[test]
fn secure_boot_states() {
    let dell = facts(&dell());
    assert_eq!(dell.security.secure_boot, "enabled");
    assert_eq!(dell.security.secure_boot_enabled, Some(true));
    let vm = facts(&report(DEBIAN));
    assert_eq!(vm.security.secure_boot, "not_uefi");
    assert_eq!(
        (vm.security.secure_boot_enabled, vm.security.uefi),
        (Some(false), Some(false))
    );
    let mut r = report(DEBIAN);
    let sec = inv(&mut r).security.as_mut().expect("security");
    sec.secure_boot = Known::Known {
        value: SecureBoot::Disabled,
    };
    let f = facts(&r);
    assert_eq!(
        (f.security.secure_boot, f.security.uefi),
        ("disabled", Some(true))
    );
    let sec = inv(&mut r).security.as_mut().expect("security");
    sec.secure_boot = Known::unknown("no efivars");
    let f = facts(&r);
    assert_eq!((f.security.secure_boot, f.security.uefi), ("unknown", None));
}

// --- utilisation and power -----------------------------------------------------------------

fn point(start: &str, minutes: i64, cpu: Option<(f64, f64)>, watts: Option<f64>) -> SeriesPoint {
    let window_start = at(start);
    SeriesPoint {
        window_start,
        window_end: window_start + chrono::TimeDelta::minutes(minutes),
        cpu_mean_ratio: cpu.map(|c| c.0),
        cpu_p95_ratio: cpu.map(|c| c.1),
        memory_mean_ratio: None,
        memory_p95_ratio: None,
        power_watts: watts,
        energy_joules: None,
        power_source: if watts.is_some() { "measured" } else { "none" }.to_owned(),
    }
}

#[test]
fn window_utilisation_comes_from_the_latest_report() {
    let f = facts(&report(REGULAR));
    let u = &f.utilisation;
    assert_eq!(u.cpu_mean_ratio_window, Some(0.083));
    assert_eq!(u.cpu_p95_ratio_window, Some(0.192));
    assert_eq!(u.memory_max_ratio_window, Some(0.62));
    assert_eq!(u.window_seconds, Some(300.0));
    assert_eq!(u.samples_coverage_ratio, Some(29.0 / 30.0));
    // No disk or network summaries in this report: absent.
    assert_eq!(u.disk_read_p95_bytes_per_second_window, None);
    assert_eq!(u.series_points, 0);
    assert_eq!(u.cpu_p95_ratio_series, None);
    let mut r = report(REGULAR);
    r.utilisation = None;
    let f = facts(&r);
    assert_eq!(f.utilisation.window_start, None);
    assert_eq!(f.utilisation.cpu_mean_ratio_window, None);
}

#[test]
fn swap_used_ratio_needs_swap() {
    let f = facts(&dell());
    assert_eq!(
        f.utilisation.swap_used_ratio,
        Some((4_294_963_200.0 - 4_200_067_072.0) / 4_294_963_200.0)
    );
    assert_eq!(facts(&report(DEBIAN)).utilisation.swap_used_ratio, None);
}

#[test]
fn series_utilisation_is_time_weighted_and_takes_the_p95_of_window_p95s() {
    let mut series: Vec<SeriesPoint> = (0..19)
        .map(|i| {
            let start = at("2026-11-26T00:00:00Z") + chrono::TimeDelta::minutes(5 * i);
            SeriesPoint {
                window_start: start,
                window_end: start + chrono::TimeDelta::minutes(5),
                ..point("2026-11-26T00:00:00Z", 5, Some((0.1, 0.2)), None)
            }
        })
        .collect();
    // A 10-minute window that is twice as heavy, then a gap of 5 minutes.
    series.push(point("2026-11-26T01:35:00Z", 10, Some((0.4, 0.9)), None));
    series.push(point("2026-11-26T01:50:00Z", 5, None, None));
    let f = facts_at(&report(REGULAR), &series, now());
    let u = &f.utilisation;
    assert_eq!(u.series_points, 21);
    // (19 × 5 × 0.1 + 10 × 0.4) / (19 × 5 + 10)
    let mean = u.cpu_mean_ratio_series.expect("mean");
    assert!((mean - (9.5 + 4.0) / 105.0).abs() < 1e-12, "{mean}");
    // 20 windows with a p95: rank ceil(0.95 × 20) = 19 → 0.2; the highest is 0.9.
    assert_eq!(u.cpu_p95_ratio_series, Some(0.2));
    assert_eq!(u.cpu_max_p95_ratio_series, Some(0.9));
    assert_eq!(u.memory_mean_ratio_series, None);
    assert_eq!(u.series_span_seconds, Some(115.0 * 60.0));
    assert_eq!(u.series_coverage_ratio, Some(110.0 / 115.0));
}

#[test]
fn percentiles_use_the_nearest_rank() {
    assert_eq!(percentile(&[], 95.0), None);
    assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
    assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
    assert_eq!(percentile(&[4.0, 1.0, 3.0, 2.0], 95.0), Some(4.0));
    assert_eq!(percentile(&[f64::NAN, 1.0], 95.0), Some(1.0));
}

fn reading(meter: PowerMeter, domain: &str, watts: f64) -> PowerReading {
    PowerReading {
        meter,
        domain: domain.to_owned(),
        average_watts: watts,
        energy_joules: watts * 300.0,
        interval_secs: 300.0,
    }
}

#[test]
fn power_counts_non_overlapping_domains() {
    let mut r = report(REGULAR);
    r.power.readings = vec![
        reading(PowerMeter::Rapl, "package-0", 50.0),
        reading(PowerMeter::Rapl, "core", 30.0),
        reading(PowerMeter::Rapl, "uncore", 5.0),
        reading(PowerMeter::Rapl, "dram", 10.0),
        reading(PowerMeter::Nvml, "gpu-0", 70.0),
    ];
    let f = facts(&r);
    assert_eq!(f.power.source, "measured");
    assert_eq!(f.power.cpu_watts, Some(50.0));
    assert_eq!(f.power.dram_watts, Some(10.0));
    assert_eq!(f.power.gpu_watts, Some(70.0));
    assert_eq!(f.power.watts, Some(130.0));
    assert_eq!(f.power.energy_joules, Some(130.0 * 300.0));
    assert_eq!(f.power.platform_watts, None);
    r.power.readings = vec![reading(PowerMeter::Rapl, "psys", 22.0)];
    let f = facts(&r);
    assert_eq!(
        (f.power.watts, f.power.platform_watts),
        (Some(22.0), Some(22.0))
    );
}

#[test]
fn power_without_readings_or_report() {
    let f = facts(&report(DEBIAN));
    assert_eq!(f.power.source, "none");
    assert_eq!(f.power.watts, None);
    assert_eq!(f.power.notes.as_ref().map(Vec::len), Some(2));
    let series = [
        point("2026-11-27T08:50:00Z", 5, None, Some(100.0)),
        point("2026-11-27T08:55:00Z", 5, None, None),
        point("2026-11-27T09:00:00Z", 5, None, Some(120.0)),
    ];
    let f = facts_at(&report(DEBIAN), &series, now());
    assert_eq!(f.power.measured_points_series, 2);
    assert_eq!(f.power.mean_watts_series, Some(110.0));
    assert_eq!(f.power.source, "none");
    let mut r = report(DEBIAN);
    r.power.source = PowerSource::None;
    let table = table();
    let f = derive(&FactsInput {
        host: HostMeta {
            host_id: "h",
            hostname: "h",
            labels: &BTreeMap::new(),
            first_seen: now(),
            last_seen: now(),
        },
        inventory: r.inventory.as_ref(),
        inventory_collected_at: None,
        report: None,
        series: &[],
        now: now(),
        lifecycle: &table,
        options: DeriveOptions::default(),
    });
    assert_eq!(f.power.source, "unknown");
    assert_eq!(f.probes.results, None);
    assert_eq!(f.agent.version, None);
    assert_eq!(f.data.inventory_collected_at, None);
}

// --- probes, agent, data -------------------------------------------------------------------

#[test]
fn probes_report_down_endpoints_and_certificate_expiry() {
    let mut r = report(REGULAR);
    let mut web = r.probes[0].clone();
    web.name = "intranet".to_owned();
    web.up = false;
    web.error = Some("connection refused".to_owned());
    web.tls = Some(TlsCertificate {
        subject: "CN=intranet".to_owned(),
        issuer: "CN=council CA".to_owned(),
        not_before: at("2025-01-01T00:00:00Z"),
        not_after: at("2026-11-27T09:09:59Z"),
    });
    let mut soon = web.clone();
    soon.name = "mail".to_owned();
    soon.up = true;
    soon.tls = Some(TlsCertificate {
        not_after: at("2026-12-07T09:10:00Z"),
        ..web.tls.clone().expect("tls")
    });
    r.probes.extend([web, soon]);
    let f = facts(&r);
    let p = &f.probes;
    assert_eq!(p.count, Some(3));
    assert_eq!(p.all_up, Some(false));
    assert_eq!(p.down.as_deref(), Some(&["intranet".to_owned()][..]));
    let results = p.results.as_ref().expect("results");
    // Expired a second ago: -1 day (rounded down), not 0.
    assert_eq!(results[1].tls_days_to_expiry, Some(-1));
    assert_eq!(results[2].tls_days_to_expiry, Some(10));
    assert_eq!(results[0].tls_days_to_expiry, None);
    assert!(!results[0].tls);
    assert_eq!(p.min_tls_days_to_expiry, Some(-1));
    assert_eq!(results[0].latency_seconds, Some(0.0004));
}

#[test]
fn the_agent_is_stale_after_the_threshold() {
    let r = report(REGULAR);
    let last = r.collected_at;
    let at_age = |secs: i64, stale_after: u64| {
        let options = DeriveOptions {
            stale_after: Duration::from_secs(stale_after),
            ..DeriveOptions::default()
        };
        facts_with(&r, &[], last + chrono::TimeDelta::seconds(secs), options).agent
    };
    assert!(!at_age(900, 900).stale);
    assert!(at_age(901, 900).stale);
    let a = at_age(3 * 86_400 + 5, 900);
    assert_eq!(a.days_since_last_report, 3);
    assert_eq!(a.seconds_since_last_report, 3 * 86_400 + 5);
    assert_eq!(a.stale_after_seconds, 900);
    assert_eq!(a.version.as_deref(), Some("0.1.0"));
    assert_eq!(
        DeriveOptions::default().stale_after,
        Duration::from_secs(crate::config::DEFAULT_STALE_AFTER_SECS)
    );
}

#[test]
fn the_reports_inventory_stands_in_for_a_stored_one() {
    let r = dell();
    let f = facts(&r);
    assert!(f.data.inventory_present);
    assert_eq!(f.data.inventory_collected_at, Some(r.collected_at));
    assert_eq!(f.data.inventory_age_days, Some(0));
    let f = facts(&report(REGULAR));
    assert!(!f.data.inventory_present);
    assert!(f.data.report_present);
    assert_eq!(f.data.inventory_age_days, None);
    assert_eq!(f.os.support_status, SupportStatus::Unknown);
}

#[test]
fn a_stored_inventory_is_preferred_and_its_age_counted() {
    let stored = dell();
    let latest = report(REGULAR);
    let table = table();
    let f = derive(&FactsInput {
        host: HostMeta {
            host_id: &latest.host_id,
            hostname: &latest.hostname,
            labels: &latest.labels,
            first_seen: at("2026-11-01T00:00:00Z"),
            last_seen: latest.collected_at,
        },
        inventory: stored.inventory.as_ref(),
        inventory_collected_at: Some(at("2026-11-24T12:00:00Z")),
        report: Some(&latest),
        series: &[],
        now: now(),
        lifecycle: &table,
        options: DeriveOptions::default(),
    });
    assert_eq!(f.data.inventory_age_days, Some(2));
    assert_eq!(f.os.id.as_deref(), Some("rocky"));
    assert_eq!(f.host.name, "srv-fin-db01");
    assert_eq!(f.utilisation.cpu_mean_ratio_window, Some(0.083));
}

// --- the JSON document ---------------------------------------------------------------------

fn nulls(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(path.to_owned()),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                nulls(v, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                nulls(v, &format!("{path}.{k}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn no_fact_is_ever_null_and_every_section_is_an_object() {
    let mut bare = report(REGULAR);
    bare.utilisation = None;
    for r in [dell(), report(DEBIAN), report(REGULAR), bare] {
        let json = facts(&r).to_json_value();
        let mut found = Vec::new();
        nulls(&json, "facts", &mut found);
        assert_eq!(found, Vec::<String>::new());
        for section in [
            "host",
            "os",
            "patching",
            "uptime",
            "hardware",
            "storage",
            "network",
            "listening",
            "services",
            "software",
            "security",
            "utilisation",
            "power",
            "probes",
            "agent",
            "data",
        ] {
            assert!(json[section].is_object(), "{section}");
        }
    }
}

#[test]
fn derivation_is_pure() {
    let r = dell();
    assert_eq!(facts(&r), facts(&r));
    assert_eq!(facts(&r).schema_version, FACTS_SCHEMA_VERSION);
    assert_eq!(facts(&r).evaluated_at, now());
}
