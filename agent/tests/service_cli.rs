//! `estate-agent service …` from the command line on a non-Windows host: the subcommand
//! is registered and documented, and says that it is Windows-only instead of doing
//! anything (docs/windows.md, "The service").
#![cfg(not(windows))]

use std::process::Command;

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_estate-agent"))
}

#[test]
fn service_help_lists_the_four_actions_and_hides_run() {
    let out = agent().args(["service", "--help"]).output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for action in ["install", "uninstall", "start", "stop"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(action)),
            "{action} missing from:\n{help}"
        );
    }
    assert!(
        !help.lines().any(|l| l.trim_start().starts_with("run ")),
        "`service run` is for the SCM only:\n{help}"
    );
}

#[test]
fn every_service_action_is_windows_only_here() {
    for args in [
        &["service", "install", "--config", "agent.toml"][..],
        &["service", "uninstall"],
        &["service", "start"],
        &["service", "stop"],
        &["service", "run", "--config", "agent.toml"],
    ] {
        let out = agent().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("Windows-only"), "{args:?}: {stderr}");
        assert!(stderr.contains("dist/systemd"), "{args:?}: {stderr}");
    }
}
