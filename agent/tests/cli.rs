//! The `estate-agent` binary as a user runs it: `--help`, `--version`, `check-config`
//! on every file in `tests/configs/invalid/` (each with the exact messages it must
//! produce) and `collect` on the recorded sysroots.
//!
//! Set `ESTATE_BLESS=1` to rewrite the golden `--help` after an intended change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use estate_protocol::{HostIdSource, Report};

const BIN: &str = env!("CARGO_BIN_EXE_estate-agent");

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(manifest_dir().join("tests"))
        .output()
        .unwrap()
}

fn golden(path: &Path, actual: &str) {
    if std::env::var_os("ESTATE_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        committed,
        actual,
        "{} is out of date; rerun with ESTATE_BLESS=1 if the change is intended",
        path.display()
    );
}

#[test]
fn help_matches_the_golden_file() {
    for (args, file) in [
        (&["--help"][..], "help.txt"),
        (&["collect", "--help"][..], "help-collect.txt"),
    ] {
        let out = run(args);
        assert!(out.status.success());
        golden(
            &manifest_dir().join("tests/golden").join(file),
            &String::from_utf8(out.stdout).unwrap(),
        );
    }
}

#[test]
fn version_names_the_crate_version() {
    let out = run(&["--version"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("estate-agent {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn every_invalid_config_fails_with_its_expected_messages() {
    let dir = manifest_dir().join("tests/configs/invalid");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let relative = format!(
            "configs/invalid/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        let out = run(&["check-config", &relative]);
        assert_eq!(out.status.code(), Some(2), "{relative}");
        let expected = std::fs::read_to_string(path.with_extension("expected")).unwrap();
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            expected,
            "{relative}"
        );
        checked += 1;
    }
    assert!(checked >= 3);
}

#[test]
fn a_missing_config_file_is_named() {
    let out = run(&["collect", "--config", "/nonexistent/agent.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("/nonexistent/agent.toml: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn collect_on_the_recorded_vm_reports_its_identity_and_labels() {
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nstate_dir = {:?}\n[labels]\nsite = \"county-hall\"\n",
            state.path().display().to_string()
        ),
    )
    .unwrap();
    let root = manifest_dir().join("tests/fixtures/sysroots/debian-kvm");
    let out = run(&[
        "collect",
        "--config",
        config.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
        "--burst-ms",
        "50",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.host_id, "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b");
    assert_eq!(report.host_id_source, HostIdSource::MachineId);
    assert_eq!(report.hostname, "app-web02");
    assert_eq!(
        report.labels.get("site").map(String::as_str),
        Some("county-hall")
    );
    assert_eq!(report.check_invariants(), Vec::<String>::new());
    let inventory = report.inventory.unwrap();
    assert_eq!(
        inventory.os.unwrap().version_codename.as_deref(),
        Some("bookworm")
    );
    // Only the services collector is partial on this sysroot (no bus to ask).
    let failing: Vec<&str> = report
        .collector_errors
        .iter()
        .map(|e| e.collector.as_str())
        .collect();
    assert_eq!(failing, vec!["services"]);
}
