//! The Windows collectors on the recorded machines (`tests/fixtures/windows/`), through
//! the crate's public API, as a whole report: it must validate against the committed
//! schema, keep its invariants, be the same on every run, and match the committed
//! `report.json` beside each recording (the report the later Windows checks are tested
//! on). Set `ESTATE_BLESS=1` to rewrite those files after an intended change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use estate_agent::collect::platform::windows::recorded::{self, RecordedSource};
use estate_agent::collect::platform::windows::source::Source;
use estate_agent::collect::platform::windows::source_collectors;
use estate_agent::collect::{Context, run_all};
use estate_agent::config::AgentConfig;
use estate_agent::root::SysRoot;
use estate_protocol::{
    AgentInfo, Chassis, CollectorErrorKind, HostIdSource, Known, Power, Report, SCHEMA_VERSION,
    SecureBoot, VirtualizationKind, Window,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("protocol/schema/report-v1.json")).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The report the agent would send from a recorded machine (identity and times fixed).
fn report(machine: &str) -> Report {
    let source = RecordedSource::fixture(machine);
    let now: DateTime<Utc> = source.now();
    let hostname = source
        .machine()
        .description
        .split(',')
        .next()
        .unwrap_or_default()
        .to_owned();
    let ctx = Context::new(SysRoot::default(), Arc::new(AgentConfig::default()));
    let (inventory, collector_errors) = run_all(source_collectors(Arc::new(source)), &ctx);
    Report {
        schema_version: SCHEMA_VERSION,
        report_id: uuid::Uuid::nil(),
        host_id: format!("recorded-{machine}"),
        host_id_source: HostIdSource::Generated,
        hostname,
        agent: AgentInfo {
            version: "0.1.0".to_owned(),
            platform: "windows".to_owned(),
            arch: "x86_64".to_owned(),
        },
        labels: Default::default(),
        collected_at: now,
        window: Window {
            start: now,
            end: now,
        },
        inventory_hash: inventory.stable_hash(),
        inventory: Some(inventory),
        utilisation: None,
        power: Power::none(vec!["recorded machine: nothing measured".to_owned()]),
        probes: Vec::new(),
        collector_errors,
    }
}

#[test]
fn recorded_machines_give_schema_valid_reports_that_match_the_committed_ones() {
    let validator = schema();
    for machine in recorded::MACHINES {
        let report = report(machine);
        let json = serde_json::to_value(&report).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{machine}: {errors:?}");
        assert_eq!(report.check_invariants(), Vec::<String>::new(), "{machine}");
        // The same recording gives the same inventory.
        assert_eq!(report.inventory_hash, self::report(machine).inventory_hash);
        assert!(
            report
                .collector_errors
                .iter()
                .all(|e| e.kind == CollectorErrorKind::Partial),
            "{machine}: {:#?}",
            report.collector_errors
        );

        let path = recorded::fixture_dir(machine).join("report.json");
        let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
        if std::env::var_os("ESTATE_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is out of date; rerun with ESTATE_BLESS=1 if the change is intended",
            path.display()
        );
        // The committed file reads back as the same report.
        let parsed: Report = serde_json::from_str(&committed).unwrap();
        assert_eq!(parsed, report);
    }
}

#[test]
fn the_windows_10_laptop_carries_what_the_windows_checks_need() {
    let report = report(recorded::WIN10_LAPTOP);
    let inv = report.inventory.unwrap();
    let os = inv.os.unwrap();
    assert_eq!(
        (
            os.name.as_str(),
            os.version_id.as_deref(),
            os.build.as_deref()
        ),
        ("Windows 10 Pro", Some("22H2"), Some("19045.3803"))
    );
    assert_eq!(os.reboot_required, Known::Known { value: true });
    let hw = inv.hardware.unwrap();
    assert_eq!(hw.chassis, Chassis::Laptop);
    assert_eq!(hw.virtualization.kind, VirtualizationKind::Physical);
    let sec = inv.security.unwrap();
    let enc = sec.disk_encryption.value().unwrap();
    assert_eq!(enc.unencrypted_mounts, vec!["C:\\".to_owned()]);
    assert!(enc.encrypted_mounts.is_empty());
    assert_eq!(
        sec.secure_boot,
        Known::Known {
            value: SecureBoot::Enabled
        }
    );
    assert!(!sec.firewall.value().unwrap().active);
    // SMBv1, RDP without NLA, the administrators, Defender and the TPM travel in
    // `security.windows`; only the per-volume BitLocker detail is left in a note.
    let win = sec.windows.as_ref().unwrap();
    let smb1 = win.smb1.value().unwrap();
    assert!(smb1.server && smb1.client, "{smb1:?}");
    let rdp = win.remote_desktop.value().unwrap();
    assert!(rdp.enabled && !rdp.nla_required, "{rdp:?}");
    assert_eq!(win.local_administrators.value().unwrap().members.len(), 3);
    let defender = &win.antivirus_products[0];
    assert_eq!(
        (
            defender.name.as_str(),
            defender.enabled,
            defender.signature_age_days
        ),
        ("Windows Defender", true, Some(1))
    );
    let tpm = win.tpm.value().unwrap();
    assert_eq!((tpm.present, tpm.version.as_deref()), (true, Some("2.0")));
    let note = report
        .collector_errors
        .iter()
        .find(|e| e.collector == "security")
        .unwrap();
    assert_eq!(
        note.message,
        "collected but not sent, Report v1 has no field for it: BitLocker C:\\ protection off, fully decrypted, none"
    );
    // The hardware collector no longer has anything it cannot send.
    assert!(
        !report
            .collector_errors
            .iter()
            .any(|e| e.collector == "hardware"),
        "{:?}",
        report.collector_errors
    );
    let software = inv.software.unwrap();
    assert!(
        software
            .packages
            .iter()
            .any(|p| p.name == "Microsoft Visual Studio Code (User)"),
        "per-user install listed"
    );
    assert_eq!(
        software
            .packages
            .iter()
            .filter(|p| p.name == "Adobe Acrobat (64-bit)")
            .count(),
        1
    );
}
