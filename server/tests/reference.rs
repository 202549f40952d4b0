//! The collector's references cannot drift from the code: the config reference entries
//! against the parser, `docs/configuration.md` and `gen-config`; the metrics registry
//! against `docs/metrics.md`; completions and man pages generate; `--log-format json`
//! logs one event per rejected report with its error code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use estate_agent::config::reference::{doc_mismatches, gen_config_mismatches, parser_mismatches};
use estate_server::config::ServerConfig;
use estate_server::config::reference::server_entries;
use estate_server::metrics::Metrics;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn server(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn assert_none(problems: Vec<String>, what: &str) {
    assert!(problems.is_empty(), "{what}:\n- {}", problems.join("\n- "));
}

/// The collector's part of docs/configuration.md.
fn collector_reference() -> String {
    let doc = std::fs::read_to_string(repo().join("docs/configuration.md")).unwrap();
    let start = doc
        .find("## Collector (`server.toml`)")
        .expect("the collector's section");
    doc[start..].to_owned()
}

#[test]
fn the_entries_name_exactly_the_keys_the_parser_takes() {
    assert_none(
        parser_mismatches(&server_entries(), |text| {
            ServerConfig::parse(text, "server.toml")
                .map(|_| ())
                .map_err(|e| e.to_string())
        }),
        "server config entries vs the parser (server/src/config/reference.rs)",
    );
}

#[test]
fn the_configuration_reference_documents_every_collector_key() {
    assert_none(
        doc_mismatches(&collector_reference(), &server_entries()),
        "docs/configuration.md (Collector) vs server_entries() in server/src/config/reference.rs; \
         fix the document's rows (or the entries), see `estate-server gen-config`",
    );
}

#[test]
fn gen_config_parses_to_the_defaults_and_holds_every_key() {
    let out = server(&["gen-config"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut config = ServerConfig::parse(&text, "gen-config").unwrap();
    // Where keys are written is recorded for error messages; the values are the point.
    config.assess.origins.clear();
    assert_eq!(config, ServerConfig::default());
    assert_none(
        gen_config_mismatches(&text, &server_entries()),
        "gen-config",
    );
    assert!(text.contains("\nstale_after_secs = 900\n"), "{text}");
    assert!(text.contains("\n# [tls]\n"), "{text}");
}

#[test]
fn gen_config_passes_check_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("server.toml");
    std::fs::write(&file, server(&["gen-config"]).stdout).unwrap();
    let out = server(&["check-config", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
}

/// The rows of docs/metrics.md's metric tables: name, type, unit, label names.
fn documented_metrics() -> Vec<(String, String, String, Vec<String>)> {
    let doc = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in doc.lines() {
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.first() == Some(&"metric") {
            assert_eq!(
                cells.get(1..4),
                Some(&["type", "unit", "labels"][..]),
                "{line}"
            );
            in_table = true;
            continue;
        }
        if !in_table || cells[0].starts_with("---") {
            continue;
        }
        let labels = if cells[3] == "—" {
            Vec::new()
        } else {
            cells[3]
                .split(", ")
                .map(|l| l.trim_matches('`').to_owned())
                .collect()
        };
        rows.push((
            cells[0].trim_matches('`').to_owned(),
            cells[1].to_owned(),
            cells[2].to_owned(),
            labels,
        ));
    }
    rows
}

#[test]
fn the_metrics_reference_lists_every_metric_and_only_those() {
    let metrics = Metrics::new().unwrap();
    let code = metrics.reference();
    let documented = documented_metrics();
    let mut problems = Vec::new();
    for m in &code {
        let row = format!(
            "| `{}` | {} | {} | {} | {} |",
            m.name,
            m.kind,
            m.unit,
            if m.labels.is_empty() {
                "—".to_owned()
            } else {
                m.labels
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            m.help
        );
        match documented.iter().find(|d| d.0 == m.name) {
            None => problems.push(format!(
                "`{}` is not documented; add a row like:\n  {row}",
                m.name
            )),
            Some((_, kind, unit, labels)) => {
                if kind != m.kind || unit != m.unit || labels != &m.labels {
                    problems.push(format!(
                        "`{}`: the document says {kind} / {unit} / {labels:?}, the code {} / {} / {:?}:\n  {row}",
                        m.name, m.kind, m.unit, m.labels
                    ));
                }
            }
        }
    }
    for d in &documented {
        if !code.iter().any(|m| m.name == d.0) {
            problems.push(format!("`{}` is documented but not registered", d.0));
        }
    }
    // What a fresh collector exposes is all in the reference (a metric registered
    // beside `Metrics::collectors` would show here).
    for line in metrics.encode().unwrap().lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            if !code.iter().any(|m| m.name == name) {
                problems.push(format!(
                    "`{name}` is exported but not in Metrics::reference"
                ));
            }
        }
    }
    assert_none(
        problems,
        "docs/metrics.md vs Metrics::reference() (server/src/metrics.rs)",
    );
}

#[test]
fn completions_generate_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _estate__server"),
        ("zsh", "#compdef estate-server"),
        ("fish", "complete -c estate-server"),
    ] {
        let out = server(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}: {text}");
        assert!(
            text.contains("check-config"),
            "{shell}: no subcommand in {text}"
        );
    }
}

#[test]
fn man_pages_are_written_for_each_command() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    let out = server(&["man", "--out-dir", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    for page in [
        "estate-server.1",
        "estate-server-serve.1",
        "estate-server-token-revoke.1",
    ] {
        let text =
            std::fs::read_to_string(out_dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH estate-server"), "{page}: {text}");
    }
    let main = std::fs::read_to_string(out_dir.join("estate-server.1")).unwrap();
    assert!(main.contains("gen\\-config"), "{main}");
}

/// One HTTP/1.1 request on a fresh connection; the status and body.
fn http(addr: &str, path: &str, token: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[test]
fn json_logs_hold_one_event_per_rejected_report_with_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let token = "enrolment-token-for-the-log-test";
    std::fs::write(dir.path().join("enrol"), token).unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\nsqlite_path = {:?}\n[auth]\nenrolment_token_file = {:?}\n",
            dir.path().join("estate.db"),
            dir.path().join("enrol")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if event["fields"]["message"] == "collector listening" {
            addr = Some(event["fields"]["addr"].as_str().unwrap().to_owned());
            break;
        }
    }
    let addr = addr.expect("the collector says where it listens");
    let (status, body) = http(
        &addr,
        "/api/v1/enrol",
        token,
        r#"{"host_id":"log-test-host","hostname":"log-test"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let enrolled: serde_json::Value = serde_json::from_str(&body).unwrap();
    let agent_token = enrolled["agent_token"].as_str().unwrap();
    let (status, body) = http(&addr, "/api/v1/reports", agent_token, "{not json");
    assert_eq!(status, 400, "{body}");
    let (status, _) = http(&addr, "/api/v1/reports", "no-such-token", "{}");
    assert_eq!(status, 401);
    // Stop the collector (our child) so that its log ends.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let events: Vec<serde_json::Value> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .filter(|e: &serde_json::Value| e["fields"]["message"] == "report rejected")
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(
        events[0]["fields"]["error_code"], "malformed_json",
        "{events:#?}"
    );
    assert_eq!(events[0]["fields"]["host"], "log-test-host");
    assert_eq!(events[0]["fields"]["status"], 400);
    assert_eq!(events[0]["level"], "WARN");
    assert_eq!(
        events[1]["fields"]["error_code"], "unauthenticated",
        "{events:#?}"
    );
}
