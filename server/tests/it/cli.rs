//! The `estate-server` binary: version, help, check-config exit codes, and `serve`
//! refusing bad configs and the PostgreSQL backend.

use std::process::{Command, Output};

use crate::support::manifest_dir;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(args)
        .current_dir(manifest_dir().join("tests"))
        .output()
        .unwrap()
}

#[test]
fn version_names_the_crate_version() {
    let out = run(&["--version"]);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("estate-server {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_lists_the_commands() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "check-config", "token"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn check_config_exit_codes() {
    let ok = run(&["check-config", "configs/valid/minimal.toml"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(ok.stdout).unwrap(),
        "configs/valid/minimal.toml: ok\n"
    );
    let bad = run(&["check-config", "configs/invalid/semantic.toml"]);
    assert_eq!(bad.status.code(), Some(2));
    let expected =
        std::fs::read_to_string(manifest_dir().join("tests/configs/invalid/semantic.expected"))
            .unwrap();
    assert_eq!(String::from_utf8(bad.stderr).unwrap(), expected);
}

#[test]
fn serve_refuses_a_bad_config() {
    let out = run(&["serve", "--config", "configs/invalid/unknown-key.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("configs/invalid/unknown-key.toml:3:1: unknown field `body_limt_bytes`"),
        "{stderr}"
    );
}

#[test]
fn serve_fails_fast_when_postgres_is_unreachable() {
    let started = std::time::Instant::now();
    let out = run(&["serve", "--config", "configs/valid/postgres.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(
            "cannot open the PostgreSQL store: database error: cannot connect to PostgreSQL"
        ),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[test]
fn token_list_and_revoke_work_on_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nsqlite_path = \"{}\"\n",
            dir.path().join("e.db").display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let empty = run(&["token", "--config", config, "list"]);
    assert_eq!(empty.status.code(), Some(0));
    assert_eq!(String::from_utf8(empty.stdout).unwrap(), "");
    let revoke = run(&["token", "--config", config, "revoke", "nobody"]);
    assert_eq!(revoke.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(revoke.stderr).unwrap().lines().last(),
        Some("nobody has no active token")
    );
}
