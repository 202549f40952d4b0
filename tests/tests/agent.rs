//! End-to-end: the real `estate-agent` binary, run as a process.
//!
//! `collect` on this very machine must print a report that validates against the
//! committed schema and whose numbers match the system's own tools (`dpkg-query`, `ss`,
//! `df`, `nproc`, `/proc`). Tools that are missing are reported and their comparison
//! skipped, so the test still runs on a minimal image; CI has them all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use estate_protocol::Report;
use estate_tests::workspace_bin;

fn schema() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../protocol/schema/report-v1.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn validate(value: &serde_json::Value) -> Vec<String> {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn collect(args: &[&str]) -> (serde_json::Value, Report) {
    let state = tempfile_dir();
    let config = state.join("agent.toml");
    std::fs::write(
        &config,
        format!("[agent]\nstate_dir = {:?}\n", state.display().to_string()),
    )
    .unwrap();
    let out = Command::new(workspace_bin("estate-agent"))
        .arg("collect")
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "collect failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report: Report = serde_json::from_value(value.clone()).unwrap();
    (value, report)
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "estate-tests-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// One live collection shared by the comparisons, taken while this test process listens
/// on a TCP port of its own (so there is always one socket whose owner we know).
fn live() -> &'static (serde_json::Value, Report, u16) {
    static LIVE: OnceLock<(serde_json::Value, Report, u16)> = OnceLock::new();
    LIVE.get_or_init(|| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (value, report) = collect(&[]);
        drop(listener);
        (value, report, port)
    })
}

fn tool(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "note: `{cmd} {}` failed; comparison skipped",
            args.join(" ")
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn collect_prints_a_report_that_validates_against_the_committed_schema() {
    let (value, report, _) = live();
    assert_eq!(validate(value), Vec::<String>::new());
    assert_eq!(report.check_invariants(), Vec::<String>::new());
    assert!(report.inventory.is_some());
}

#[test]
fn memory_total_equals_memtotal() {
    let (_, report, _) = live();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let memory = report
        .inventory
        .as_ref()
        .unwrap()
        .memory
        .as_ref()
        .expect("memory section");
    assert_eq!(memory.total_bytes, kib * 1024);
}

#[test]
fn logical_cpus_equal_nproc() {
    let Some(nproc) = tool("nproc", &[]) else {
        return;
    };
    let (_, report, _) = live();
    let cpu = report
        .inventory
        .as_ref()
        .unwrap()
        .cpu
        .as_ref()
        .expect("cpu section");
    assert_eq!(cpu.logical_cpus.to_string(), nproc.trim());
}

#[test]
fn boot_time_is_within_a_second_of_btime() {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let (_, report, _) = live();
    let os = report
        .inventory
        .as_ref()
        .unwrap()
        .os
        .as_ref()
        .expect("os section");
    assert!(
        (os.boot_time.timestamp() - btime).abs() <= 1,
        "{} vs {btime}",
        os.boot_time
    );
}

#[test]
fn package_count_equals_dpkg_query() {
    let Some(list) = tool("dpkg-query", &["-W"]) else {
        return;
    };
    let (_, report, _) = live();
    let software = report
        .inventory
        .as_ref()
        .unwrap()
        .software
        .as_ref()
        .expect("software section");
    let dpkg = software
        .packages
        .iter()
        .filter(|p| p.source == "dpkg")
        .count();
    assert_eq!(dpkg, list.lines().count());
}

#[test]
fn every_listening_tcp_port_that_ss_shows_is_reported_with_its_process() {
    let Some(ss) = tool("ss", &["-Hltnp"]) else {
        return;
    };
    let (_, report, own_port) = live();
    let listening = report
        .inventory
        .as_ref()
        .unwrap()
        .listening
        .as_ref()
        .expect("listening section");
    let ours: BTreeSet<u16> = listening
        .iter()
        .filter(|s| s.protocol.starts_with("tcp"))
        .map(|s| s.port)
        .collect();
    assert!(
        ours.contains(own_port),
        "the test's own port {own_port} is missing"
    );
    let own = listening.iter().find(|s| s.port == *own_port).unwrap();
    assert_eq!(own.pid, Some(std::process::id()));
    for line in ss.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(local) = fields.get(3) else { continue };
        let port: u16 = local.rsplit(':').next().unwrap().parse().unwrap();
        if port == *own_port {
            continue; // closed after the collection
        }
        assert!(
            ours.contains(&port),
            "ss shows port {port} that the report lacks: {line}"
        );
        // Where ss names the process, the report must name the same one.
        if let Some(users) = line.split("users:((\"").nth(1) {
            let name = users.split('"').next().unwrap();
            let reported: Vec<&str> = listening
                .iter()
                .filter(|s| s.port == port)
                .filter_map(|s| s.process.as_deref())
                .collect();
            assert!(
                reported.contains(&name),
                "port {port}: ss says {name}, report says {reported:?}"
            );
        }
    }
}

#[test]
fn filesystem_sizes_equal_df() {
    let (_, report, _) = live();
    let filesystems = report
        .inventory
        .as_ref()
        .unwrap()
        .filesystems
        .as_ref()
        .expect("filesystems section");
    assert!(!filesystems.is_empty());
    for fs in filesystems {
        let Some(df) = tool("df", &["-B1", "--output=size,avail", &fs.mount_point]) else {
            continue;
        };
        let numbers: Vec<u64> = df
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(fs.size_bytes, numbers[0], "size of {}", fs.mount_point);
        // Free space moves between the two readings; allow 1 % of the size.
        let drift = fs.available_bytes.abs_diff(numbers[1]);
        assert!(
            drift <= fs.size_bytes / 100,
            "available on {}: {} vs {}",
            fs.mount_point,
            fs.available_bytes,
            numbers[1]
        );
    }
}

#[test]
fn collect_on_each_recorded_sysroot_validates() {
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/sysroots");
    for name in ["dell-r740", "debian-kvm"] {
        let root = fixtures.join(name);
        let (value, report) = collect(&["--root", root.to_str().unwrap(), "--burst-ms", "100"]);
        assert_eq!(validate(&value), Vec::<String>::new(), "{name}");
        assert_eq!(report.check_invariants(), Vec::<String>::new(), "{name}");
        let inventory = report.inventory.unwrap();
        assert!(
            inventory.os.is_some() && inventory.cpu.is_some(),
            "{name}: {:?}",
            report.collector_errors
        );
    }
}

#[test]
fn check_config_reports_file_line_and_key() {
    let dir = tempfile_dir();
    let path = dir.join("agent.toml");
    std::fs::write(&path, "[agent]\nsample_interval_secs = 0\n").unwrap();
    let out = Command::new(workspace_bin("estate-agent"))
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:2:24: `agent.sample_interval_secs`: must be at least 1",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn the_example_configs_are_valid() {
    // The example, and the one the Debian package installs (dist/deb).
    for file in ["config/agent.toml", "config/deb/agent.toml"] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(file);
        let out = Command::new(workspace_bin("estate-agent"))
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
