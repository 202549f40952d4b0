//! The agent's references cannot drift from the code: the config reference entries
//! against the parser, `docs/configuration.md` and `gen-config`; shell completions and
//! man pages generate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use estate_agent::config::AgentConfig;
use estate_agent::config::reference::{
    agent_entries, doc_mismatches, gen_config_mismatches, parser_mismatches,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn agent(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_estate-agent"))
        .args(args)
        .env_remove("ESTATE_LOG")
        .output()
        .unwrap()
}

/// The agent's part of docs/configuration.md.
fn agent_reference() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let start = doc
        .find("## Agent (`agent.toml`)")
        .expect("the agent's section");
    let end = doc[start..]
        .find("\n## Collector")
        .map_or(doc.len(), |i| start + i);
    doc[start..end].to_owned()
}

fn assert_none(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n- {}", problems.join("\n- "));
}

#[test]
fn the_entries_name_exactly_the_keys_the_parser_takes() {
    assert_none(
        parser_mismatches(&agent_entries(), |text| {
            AgentConfig::parse(text, "agent.toml")
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        "agent config entries vs the parser (agent/src/config/reference.rs)",
    );
}

#[test]
fn the_configuration_reference_documents_every_agent_key() {
    assert_none(
        doc_mismatches(&agent_reference(), &agent_entries()),
        "docs/configuration.md (Agent) vs agent_entries() in agent/src/config/reference.rs; \
         fix the document's rows (or the entries), see `estate-agent gen-config`",
    );
}

#[test]
fn gen_config_parses_to_the_defaults_and_holds_every_key() {
    let out = agent(&["gen-config"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let config = AgentConfig::parse(&text, "gen-config").unwrap();
    assert_eq!(config, AgentConfig::default());
    assert_none(gen_config_mismatches(&text, &agent_entries()), "gen-config");
    // A value is written uncommented: taking it out would change nothing, so check one.
    assert!(text.contains("\nreport_interval_secs = 300\n"), "{text}");
    assert!(text.contains("\n# url = \"https://"), "{text}");
}

#[test]
fn gen_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, agent(&["gen-config"]).stdout).unwrap();
    let out = agent(&["check-config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn completions_generate_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _estate__agent"),
        ("zsh", "#compdef estate-agent"),
        ("fish", "complete -c estate-agent"),
    ] {
        let out = agent(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("check-config"),
            "{shell}: no subcommand in {text}"
        );
    }
    assert!(!agent(&["completions", "tcsh"]).status.success());
}

#[test]
fn man_pages_are_written_for_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = agent(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let mut pages: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "estate-agent.1",
        "estate-agent-run.1",
        "estate-agent-gen-config.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} not in {pages:?}");
    }
    let main = std::fs::read_to_string(out_dir.join("estate-agent.1")).unwrap();
    assert!(main.starts_with(".ie \\n(.g .ds Aq"), "{main}");
    assert!(main.contains(".TH estate-agent 1"), "{main}");
    assert!(main.contains("check\\-config"), "{main}");
}
