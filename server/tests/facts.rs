//! Facts derived from the protocol's example reports and from the reports the agent
//! collects from its recorded sysroots (`tests/fixtures/reports/`), compared with golden
//! files in `tests/fixtures/facts/` (`ESTATE_BLESS=1 cargo test -p estate-server --test
//! facts` rewrites them), and read through CEL the way checks read them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use estate_protocol::Report;
use estate_server::facts::{
    self, DeriveOptions, Facts, FactsInput, HostMeta, LifecycleTable, SupportStatus,
};
use estate_server::ingest;
use estate_server::store::SeriesPoint;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The evaluation time of every golden file.
fn now() -> DateTime<Utc> {
    at("2026-11-27T09:10:00Z")
}

fn example(name: &str) -> Report {
    let path = manifest_dir().join("../protocol/examples").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn sample(name: &str) -> Report {
    let path = manifest_dir()
        .join("tests/fixtures/reports")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn point(report: &Report) -> SeriesPoint {
    ingest::to_new_report(report, String::new(), report.collected_at)
        .unwrap()
        .point
}

/// A host as the store would hold it after `reports` (oldest first): the newest report
/// is the latest, the newest inventory is the stored one.
struct Host {
    reports: Vec<Report>,
    labels: BTreeMap<String, String>,
    first_seen: DateTime<Utc>,
}

impl Host {
    fn new(reports: Vec<Report>) -> Host {
        let latest = reports.last().unwrap();
        Host {
            labels: latest.labels.clone(),
            first_seen: at("2026-10-01T08:00:00Z"),
            reports,
        }
    }

    fn facts(&self, table: &LifecycleTable) -> Facts {
        let latest = self.reports.last().unwrap();
        let stored = self.reports.iter().rev().find(|r| r.inventory.is_some());
        let series: Vec<SeriesPoint> = self.reports.iter().map(point).collect();
        facts::derive(&FactsInput {
            host: HostMeta {
                host_id: &latest.host_id,
                hostname: &latest.hostname,
                labels: &self.labels,
                first_seen: self.first_seen,
                last_seen: latest.collected_at,
            },
            inventory: stored.and_then(|r| r.inventory.as_ref()),
            inventory_collected_at: stored.map(|r| r.collected_at),
            report: Some(latest),
            series: &series,
            now: now(),
            lifecycle: table,
            options: DeriveOptions::default(),
        })
    }
}

fn golden_cases() -> Vec<(&'static str, Host)> {
    vec![
        // The Dell's full report, then a regular one without inventory.
        (
            "dell-r740-example",
            Host::new(vec![
                example("full-report-dell-r740.json"),
                example("regular-report-no-inventory.json"),
            ]),
        ),
        (
            "debian-vm-example",
            Host::new(vec![example("full-report-debian-vm.json")]),
        ),
        // A host whose full inventory has not arrived yet.
        (
            "regular-report-only",
            Host::new(vec![example("regular-report-no-inventory.json")]),
        ),
        ("dell-r740", Host::new(vec![sample("dell-r740")])),
        ("debian-kvm", Host::new(vec![sample("debian-kvm")])),
        ("neglected", Host::new(vec![sample("neglected")])),
    ]
}

#[test]
fn facts_match_the_golden_files() {
    let table = LifecycleTable::shipped().unwrap();
    let dir = manifest_dir().join("tests/fixtures/facts");
    let bless = std::env::var_os("ESTATE_BLESS").is_some();
    let mut differ = Vec::new();
    for (name, host) in golden_cases() {
        let text =
            serde_json::to_string_pretty(&host.facts(&table).to_json_value()).unwrap() + "\n";
        let path = dir.join(format!("{name}.json"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).unwrap_or_default() != text {
            differ.push(name);
        }
    }
    assert!(
        differ.is_empty(),
        "facts differ from tests/fixtures/facts/ for {differ:?}; after a deliberate change \
         run `ESTATE_BLESS=1 cargo test -p estate-server --test facts` and review the diff"
    );
}

#[test]
fn every_golden_file_has_a_case() {
    let names: Vec<&str> = golden_cases().iter().map(|(n, _)| *n).collect();
    for entry in std::fs::read_dir(manifest_dir().join("tests/fixtures/facts")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            names.contains(&stem.as_str()),
            "{} has no case",
            path.display()
        );
    }
}

fn neglected() -> Facts {
    let table = LifecycleTable::shipped().unwrap();
    Host::new(vec![sample("neglected")]).facts(&table)
}

#[test]
fn the_neglected_host_shows_every_problem_it_was_built_with() {
    let f = neglected();
    assert_eq!(f.os.lifecycle.entry.as_deref(), Some("ubuntu-16.04"));
    assert_eq!(f.os.support_status, SupportStatus::Unsupported);
    // ESM ended 2026-04-02 too.
    assert_eq!(f.os.extended_support_status, SupportStatus::Unsupported);
    assert_eq!(f.patching.reboot_required, Some(true));
    assert_eq!(f.patching.days_since_last_patch, Some(2277));
    assert_eq!(f.patching.pending_security_updates, Some(97));
    assert_eq!(f.patching.automatic_updates, Some(false));
    assert_eq!(f.storage.min_available_ratio, Some(0.0));
    assert_eq!(f.storage.min_available_mount.as_deref(), Some("/"));
    assert_eq!(f.listening.telnet_listening, Some(true));
    assert_eq!(f.listening.ftp_listening, Some(true));
    assert_eq!(f.listening.netbios_listening, Some(true));
    assert_eq!(f.listening.smb_listening, Some(true));
    assert_eq!(f.security.ssh_root_login, Some(true));
    assert_eq!(f.security.ssh_root_password_login, Some(true));
    assert_eq!(f.security.firewall_active, Some(false));
    assert_eq!(f.security.time_sync_active, Some(false));
    assert_eq!(f.uptime.days_since_boot, Some(2296));
}

/// Evaluates a CEL expression with `facts` bound to the facts' JSON.
fn cel(facts: &Facts, expression: &str) -> cel::Value {
    let program = cel::Program::compile(expression).unwrap();
    let mut context = cel::Context::default();
    context
        .add_variable("facts", facts.to_json_value())
        .unwrap();
    program
        .execute(&context)
        .unwrap_or_else(|e| panic!("{expression}: {e}"))
}

#[test]
fn checks_can_read_the_facts_through_cel() {
    let bad = neglected();
    let table = LifecycleTable::shipped().unwrap();
    let good = Host::new(vec![example("full-report-debian-vm.json")]).facts(&table);
    let cases = [
        (
            "facts.os.extended_support_status == 'unsupported'",
            true,
            false,
        ),
        (
            "has(facts.os.end_of_support) && facts.os.days_to_end_of_support < 0",
            true,
            true,
        ),
        (
            "facts.listening.ports.exists(p, p.port == 23 && !p.loopback_only)",
            true,
            false,
        ),
        ("facts.listening.telnet_listening", true, false),
        (
            "facts.storage.filesystems.exists(f, !f.read_only && f.available_ratio < 0.05)",
            true,
            false,
        ),
        ("facts.storage.min_available_ratio < 0.05", true, false),
        ("facts.security.ssh_permit_root_login == 'yes'", true, false),
        ("facts.patching.reboot_required", true, true),
        ("facts.patching.days_since_last_patch > 90", true, true),
        ("'telnetd' in facts.software.versions", true, false),
        (
            "facts.hardware.memory_bytes > 4 * 1024 * 1024 * 1024",
            true,
            true,
        ),
        ("has(facts.hardware.hardware_age_days)", false, false),
        ("facts.host.kind == 'virtual'", true, true),
        ("facts.agent.stale", false, false),
    ];
    for (expression, on_bad, on_good) in cases {
        assert_eq!(
            cel(&bad, expression),
            cel::Value::Bool(on_bad),
            "neglected: {expression}"
        );
        assert_eq!(
            cel(&good, expression),
            cel::Value::Bool(on_good),
            "debian: {expression}"
        );
    }
}

#[test]
fn a_host_without_inventory_or_report_has_only_its_metadata() {
    let labels = BTreeMap::from([("site".to_owned(), "depot".to_owned())]);
    let table = LifecycleTable::shipped().unwrap();
    let f = facts::derive(&FactsInput {
        host: HostMeta {
            host_id: "h1",
            hostname: "h1.example",
            labels: &labels,
            first_seen: at("2026-11-01T00:00:00Z"),
            last_seen: at("2026-11-20T09:10:00Z"),
        },
        inventory: None,
        inventory_collected_at: None,
        report: None,
        series: &[],
        now: now(),
        lifecycle: &table,
        options: DeriveOptions::default(),
    });
    let json = f.to_json_value();
    assert_eq!(json["host"]["site"], "depot");
    assert_eq!(json["host"]["kind"], "unknown");
    assert_eq!(json["os"]["support_status"], "unknown");
    assert_eq!(json["agent"]["days_since_last_report"], 7);
    assert_eq!(json["agent"]["stale"], true);
    assert_eq!(json["data"]["inventory_present"], false);
    assert!(json["storage"].get("filesystems").is_none());
    // Sections are objects even when empty, so `has(facts.os.x)` never errors.
    for section in [
        "os",
        "patching",
        "hardware",
        "security",
        "listening",
        "power",
    ] {
        assert!(json[section].is_object(), "{section}");
    }
    assert_eq!(
        cel(&f, "has(facts.os.end_of_support)"),
        cel::Value::Bool(false)
    );
    assert_eq!(
        cel(&f, "has(facts.listening.telnet_listening)"),
        cel::Value::Bool(false)
    );
}

#[test]
fn the_lifecycle_file_on_disk_is_the_shipped_one() {
    let path = manifest_dir().join("../config/data/os-lifecycle.toml");
    let loaded = LifecycleTable::load(&path).unwrap();
    assert_eq!(loaded, LifecycleTable::shipped().unwrap());
    assert_eq!(loaded.entries().len(), 101);
    let missing = LifecycleTable::load(&manifest_dir().join("no-such-file.toml")).unwrap_err();
    assert!(
        missing.to_string().contains("no-such-file.toml"),
        "{missing}"
    );
}
