//! The deliberately neglected fixture system (`tests/fixtures/sysroots/neglected-ubuntu1604`:
//! Ubuntu 16.04 past its support, root filesystem full, reboot pending, telnet, FTP and
//! NetBIOS listening, root SSH login with passwords, no firewall, no time sync, no
//! automatic updates): a report collected from it shows every one of those problems.
//!
//! Also keeps the collector's sample reports (`server/tests/fixtures/reports/*.json`) equal
//! to what the agent collects from the recorded sysroots today; `ESTATE_BLESS=1 cargo test
//! -p estate-agent --test neglected` rewrites them after a deliberate change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use estate_agent::collect::Context;
use estate_agent::config::AgentConfig;
use estate_agent::host_id;
use estate_agent::report::{self, Identity, Measured};
use estate_agent::root::SysRoot;
use estate_protocol::{Known, Power, Report, Window};
use uuid::Uuid;

const NEGLECTED: &str = "neglected-ubuntu1604";

/// A recorded sysroot, the name of its sample report, its labels and its report id.
type Sample = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Each recorded sysroot whose report the collector's tests read.
const SAMPLES: &[Sample] = &[
    (
        "dell-r740",
        "dell-r740",
        &[
            ("department", "finance"),
            ("role", "database"),
            ("site", "county-hall"),
        ],
        "5a0c7e52-1f3b-4c1e-9a8e-0d6f2b7c3a01",
    ),
    (
        "debian-kvm",
        "debian-kvm",
        &[("role", "web"), ("site", "county-hall")],
        "5a0c7e52-1f3b-4c1e-9a8e-0d6f2b7c3a02",
    ),
    (
        NEGLECTED,
        "neglected",
        &[
            ("department", "planning"),
            ("role", "file-server"),
            ("site", "county-hall"),
        ],
        "5a0c7e52-1f3b-4c1e-9a8e-0d6f2b7c3a03",
    ),
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A full report from a recorded sysroot, the way `estate-agent collect` assembles one,
/// with what a recorded root cannot give made fixed: the report id, the times, no
/// utilisation (its counters do not move) and no power readings.
fn collect(sysroot: &str, labels: &[(&str, &str)], report_id: &str) -> Report {
    let state = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        state_dir: state.path().to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..AgentConfig::default()
    };
    let root = SysRoot::new(manifest_dir().join("tests/fixtures/sysroots").join(sysroot));
    let ctx = Context::new(root, Arc::new(config));
    let (host_id, host_id_source) = host_id::host_id(&ctx.root, &ctx.config.state_dir).unwrap();
    let measured = Measured {
        window: Window {
            start: at("2026-11-27T09:00:00Z"),
            end: at("2026-11-27T09:05:00Z"),
        },
        utilisation: None,
        power: Power::none(vec![
            "not measured: assembled from a recorded system root for the collector's tests"
                .to_owned(),
        ]),
        errors: Vec::new(),
    };
    let mut report = report::assemble(
        &ctx,
        Identity {
            host_id,
            host_id_source,
        },
        measured,
    );
    report.report_id = Uuid::parse_str(report_id).unwrap();
    report.collected_at = at("2026-11-27T09:05:00.250Z");
    report
}

fn neglected() -> Report {
    let (sysroot, _, labels, id) = SAMPLES[2];
    collect(sysroot, labels, id)
}

#[test]
fn the_neglected_system_runs_an_unsupported_os() {
    let report = neglected();
    assert_eq!(report.check_invariants(), Vec::<String>::new());
    assert_eq!(report.hostname, "legacy-files01");
    let os = report.inventory.unwrap().os.unwrap();
    assert_eq!(os.id, "ubuntu");
    assert_eq!(os.version_id.as_deref(), Some("16.04"));
    assert_eq!(os.kernel, "4.4.0-186-generic");
    assert_eq!(
        os.last_package_change,
        Known::Known {
            value: at("2020-09-02T05:31:02Z")
        }
    );
    let pending = os.pending_updates.value().unwrap();
    assert_eq!((pending.count, pending.security_count), (143, Some(97)));
}

#[test]
fn the_neglected_system_waits_for_a_reboot() {
    let os = neglected().inventory.unwrap().os.unwrap();
    assert_eq!(os.reboot_required, Known::Known { value: true });
    assert_eq!(
        os.reboot_required_packages,
        vec!["linux-image-4.4.0-190-generic", "linux-base"]
    );
    assert_eq!(os.boot_time, at("2020-08-14T03:12:00Z"));
}

#[test]
fn the_neglected_system_has_a_full_root_filesystem() {
    let filesystems = neglected().inventory.unwrap().filesystems.unwrap();
    let root = filesystems.iter().find(|f| f.mount_point == "/").unwrap();
    assert_eq!(root.available_bytes, 0);
    let used = 1.0 - root.free_bytes as f64 / root.size_bytes as f64;
    assert!(used > 0.98, "{used}");
}

#[test]
fn the_neglected_system_listens_for_telnet_ftp_and_netbios() {
    let listening = neglected().inventory.unwrap().listening.unwrap();
    let find = |protocol: &str, port: u16| {
        listening
            .iter()
            .find(|s| s.protocol == protocol && s.port == port)
            .unwrap_or_else(|| panic!("{protocol}/{port} not listening: {listening:?}"))
    };
    let telnet = find("tcp", 23);
    assert_eq!(telnet.address, "0.0.0.0");
    assert_eq!(telnet.process.as_deref(), Some("inetd"));
    assert_eq!(find("tcp", 21).process.as_deref(), Some("vsftpd"));
    assert_eq!(find("tcp", 139).process.as_deref(), Some("smbd"));
    assert_eq!(find("udp", 137).process.as_deref(), Some("nmbd"));
}

#[test]
fn the_neglected_system_lets_root_log_in_with_a_password_and_has_no_protection() {
    let security = neglected().inventory.unwrap().security.unwrap();
    let ssh = security.ssh.value().unwrap();
    assert_eq!(ssh.permit_root_login, "yes");
    assert!(ssh.password_authentication);
    assert!(!security.firewall.value().unwrap().active);
    assert!(!security.automatic_updates.value().unwrap().enabled);
    assert!(!security.time_sync.value().unwrap().active);
    assert_eq!(
        security.disk_encryption.value().unwrap().unencrypted_mounts,
        vec!["/"]
    );
}

#[test]
fn the_collectors_sample_reports_are_what_the_agent_collects() {
    let dir = manifest_dir().join("../server/tests/fixtures/reports");
    let bless = std::env::var_os("ESTATE_BLESS").is_some();
    let mut stale = Vec::new();
    for (sysroot, name, labels, id) in SAMPLES {
        let report = collect(sysroot, labels, id);
        assert_eq!(report.check_invariants(), Vec::<String>::new(), "{name}");
        let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
        let path = dir.join(format!("{name}.json"));
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        let parsed: Option<serde_json::Value> = serde_json::from_str(&current).ok();
        if parsed != Some(serde_json::to_value(&report).unwrap()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "sample reports differ from what the agent collects: {stale:?}; after a deliberate \
         change run `ESTATE_BLESS=1 cargo test -p estate-agent --test neglected`"
    );
}
