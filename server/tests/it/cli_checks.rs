//! The offline commands: `checks test|list`, `audit`, `facts`, `estimate` and `carbon`
//! on the fixture reports and on a store, their output formats and exit statuses, and
//! `check-config` reporting every problem of the `[checks]`/`[carbon]` settings and of
//! the check config they name.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use estate_server::assess::{AssessConfig, default_carbon};
use estate_server::config::ServerConfig;
use serde_json::Value;

use crate::support::manifest_dir;

const NEGLECTED: &str = "fixtures/reports/neglected.json";
const DELL: &str = "fixtures/reports/dell-r740.json";
const DEBIAN: &str = "fixtures/reports/debian-kvm.json";

/// Runs the binary in `server/tests`.
fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(args)
        .current_dir(manifest_dir().join("tests"))
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------------
// checks test / list

fn assert_all_fixtures_pass(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(out), stderr(out));
    let text = stdout(out);
    let summary = text.lines().last().unwrap();
    // "N checks, M fixtures: M passed, 0 failed; 0 missing fixtures"
    let numbers: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(numbers.len(), 5, "{summary}");
    assert!(numbers[0] > 0 && numbers[1] >= 2 * numbers[0], "{summary}");
    assert_eq!(numbers[1], numbers[2], "{summary}");
    assert_eq!(&numbers[3..], &[0, 0], "{summary}");
}

#[test]
fn checks_test_passes_on_the_shipped_catalogue() {
    assert_all_fixtures_pass(&run(&["checks", "test", "../../config/checks"]));
    // A config directory holding checks/ works too, and so does the built-in copy.
    assert_all_fixtures_pass(&run(&["checks", "test", "../../config"]));
    assert_all_fixtures_pass(&run(&["checks", "test"]));
}

#[test]
fn checks_test_fails_naming_the_check_with_a_broken_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("checks");
    copy_dir(&manifest_dir().join("../config/checks"), &copy);
    // Break the first `expect = "pass"` of the first check file that has one.
    let mut files: Vec<_> = std::fs::read_dir(&copy)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let (file, text, at) = files
        .iter()
        .find_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.find("expect = \"pass\"")
                .map(|at| (f.clone(), text, at))
        })
        .expect("a fixture expecting pass");
    let id_line = text[..at]
        .lines()
        .rev()
        .find(|l| l.starts_with("id = "))
        .unwrap();
    let id = id_line.trim_start_matches("id = ").trim_matches('"');
    let broken = format!(
        "{}expect = \"fail\"{}",
        &text[..at],
        &text[at + "expect = \"pass\"".len()..]
    );
    std::fs::write(&file, broken).unwrap();
    // And add a check with no failing fixture.
    std::fs::write(
        copy.join("zz-uncovered.toml"),
        r#"[[check]]
id = "zz.uncovered"
title = "Has no failing fixture"
category = "security"
severity = "low"
pass = "true"
remediation = "None."

[[check.fixture]]
name = "passes"
expect = "pass"
facts = {}
"#,
    )
    .unwrap();

    let out = run(&["checks", "test", copy.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let failed: Vec<&str> = text.lines().filter(|l| l.contains("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains(&format!(": {id} / ")),
        "{id}: {}",
        failed[0]
    );
    assert!(
        failed[0].contains("expected fail, got pass"),
        "{}",
        failed[0]
    );
    assert!(
        text.contains("check `zz.uncovered` needs a fixture that fails"),
        "{text}"
    );
    assert!(
        text.lines().last().unwrap().contains(" passed, 1 failed; "),
        "{text}"
    );
}

#[test]
fn checks_list_shows_the_profile() {
    let out = run(&["checks", "list", "--profile", "cloud-readiness"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["ID", "CATEGORY", "SEVERITY", "WEIGHT", "TITLE"]);
    let rows: Vec<&str> = text.lines().skip(1).filter(|l| l.contains('.')).collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().any(|r| r.starts_with("lifecycle.os-64bit ")),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("profile cloud-readiness: {} of ", rows.len())),
        "{last}"
    );
    let unknown = run(&["checks", "list", "--profile", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("no audit profile `nope` (known: baseline"));
}

// ---------------------------------------------------------------------------------
// audit

fn statuses(assessment: &Value, status: &str) -> BTreeSet<String> {
    assessment["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn auditing_the_neglected_report_fails_and_names_the_failed_checks() {
    let out = run(&[
        "audit",
        "--report",
        NEGLECTED,
        "--profile",
        "baseline",
        "--fail-below",
        "0.9",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let assessment = json(&run(&[
        "audit",
        "--report",
        NEGLECTED,
        "--profile",
        "baseline",
        "--format",
        "json",
    ]));
    let failed = statuses(&assessment, "fail");
    assert!(failed.len() >= 5, "{failed:?}");
    assert!(failed.contains("security.no-telnet"), "{failed:?}");
    assert_eq!(assessment["score"]["band"], "red");
    // Every failed check is a `fail` row of the table and is named on stderr.
    let table = stdout(&out);
    let column = table.lines().nth(1).unwrap().find("CHECK").unwrap();
    let rows: BTreeSet<String> = table
        .lines()
        .filter(|l| l.starts_with("fail "))
        .map(|l| l[column..].split_whitespace().next().unwrap().to_owned())
        .collect();
    assert_eq!(rows, failed);
    let why = stderr(&out);
    assert!(
        why.starts_with("audit failed: the score of legacy-files01 0."),
        "{why}"
    );
    for id in &failed {
        assert!(why.contains(id.as_str()), "{id}: {why}");
    }
    let score = assessment["score"]["score"].as_f64().unwrap();
    assert!(
        table.contains(&format!("score {score:.3} (red)")),
        "{table}"
    );
}

#[test]
fn the_audit_exit_status_follows_the_score() {
    let assessment = json(&run(&["audit", "--report", DELL, "--format", "json"]));
    let score = assessment["score"]["score"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&score));
    let code = |threshold: f64| {
        run(&[
            "audit",
            "--report",
            DELL,
            "--fail-below",
            &threshold.to_string(),
        ])
        .status
        .code()
    };
    assert_eq!(code(0.9), Some(if score < 0.9 { 1 } else { 0 }));
    assert_eq!(code(((score - 0.001) * 1000.0).floor() / 1000.0), Some(0));
    if score < 0.999 {
        assert_eq!(code(((score + 0.001) * 1000.0).ceil() / 1000.0), Some(1));
    }
    // No threshold (baseline has no fail_below): 0 whatever the score.
    assert_eq!(
        run(&["audit", "--report", NEGLECTED]).status.code(),
        Some(0)
    );
    // A profile's own fail_below applies without --fail-below.
    let endpoint = json(&run(&[
        "audit",
        "--report",
        NEGLECTED,
        "--profile",
        "endpoint-security",
        "--format",
        "json",
    ]));
    let expected = match endpoint["score"]["score"].as_f64() {
        Some(s) if s >= 0.8 => 0,
        _ => 1,
    };
    assert_eq!(
        run(&[
            "audit",
            "--report",
            NEGLECTED,
            "--profile",
            "endpoint-security"
        ])
        .status
        .code(),
        Some(expected)
    );
    // Usage errors are 2.
    for args in [
        &["audit", "--report", DELL, "--fail-below", "1.5"][..],
        &["audit", "--report", "fixtures/reports/missing.json"],
        &["audit", "--report", "configs/valid/minimal.toml"],
        &["audit", "--report", DELL, "--profile", "nope"],
        &["audit"],
    ] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
}

/// A config naming a database that is not there is an error, not an empty estate, and the
/// reading commands leave no empty database behind.
#[test]
fn reading_commands_refuse_a_missing_database_and_create_none() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nowhere.db");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!("[storage]\nsqlite_path = {:?}\n", db.display().to_string()),
    )
    .unwrap();
    let config = config.display().to_string();
    for args in [
        &["audit", "--config", &config][..],
        &["carbon", "--config", &config],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("no collector database here"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(!db.exists(), "a reading command created {}", db.display());
}

/// Splits RFC 4180 CSV text into records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "unterminated CSV"
    );
    records
}

/// Checks that `text` is well-formed XML (balanced tags, escaped text) and counts the
/// elements by name.
fn xml_elements(text: &str) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = text.trim_start();
    assert!(rest.starts_with("<?xml "), "no XML declaration");
    rest = &rest[rest.find("?>").unwrap() + 2..];
    while let Some(open) = rest.find('<') {
        let content = &rest[..open];
        assert!(!content.contains('>'), "raw > in text: {content}");
        for (i, _) in content.match_indices('&') {
            let entity = &content[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in {content}"
            );
        }
        let close = rest[open..].find('>').unwrap() + open;
        let tag = &rest[open + 1..close];
        assert!(!tag.contains('<'), "< inside a tag: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "mismatched </{name}>"
            );
        } else {
            let name = tag
                .trim_end_matches('/')
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned();
            assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes: {tag}");
            *counts.entry(name.clone()).or_insert(0) += 1;
            if !tag.ends_with('/') {
                stack.push(name);
            }
        }
        rest = &rest[close + 1..];
    }
    assert!(rest.trim().is_empty(), "text after the root: {rest}");
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    counts
}

fn attribute(text: &str, element: &str, name: &str) -> usize {
    let start = text.find(&format!("<{element} ")).unwrap();
    let tag = &text[start..start + text[start..].find('>').unwrap()];
    let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

#[test]
fn every_audit_format_parses() {
    for report in [DELL, DEBIAN, NEGLECTED] {
        let assessment = json(&run(&["audit", "--report", report, "--format", "json"]));
        let results = assessment["results"].as_array().unwrap();
        assert!(!results.is_empty());
        for key in ["assessed_at", "profile", "score", "improvements", "facts"] {
            assert!(assessment.get(key).is_some(), "{key}");
        }
        let (fail, error) = (
            statuses(&assessment, "fail"),
            statuses(&assessment, "error"),
        );
        let skipped =
            statuses(&assessment, "not_applicable").len() + statuses(&assessment, "waived").len();

        let csv = run(&["audit", "--report", report, "--format", "csv"]);
        assert_eq!(csv.status.code(), Some(0));
        let records = parse_csv(&stdout(&csv));
        assert_eq!(
            records[0],
            [
                "host_id", "hostname", "profile", "check", "category", "severity", "weight",
                "status", "credit", "evidence", "error"
            ]
        );
        assert_eq!(records.len(), results.len() + 1);
        assert!(records.iter().all(|r| r.len() == 11));
        let csv_failed: BTreeSet<String> = records
            .iter()
            .filter(|r| r[7] == "fail")
            .map(|r| r[3].clone())
            .collect();
        assert_eq!(csv_failed, fail);

        let junit = run(&["audit", "--report", report, "--format", "junit"]);
        assert_eq!(junit.status.code(), Some(0));
        let xml = stdout(&junit);
        let counts = xml_elements(&xml);
        assert_eq!(counts["testsuites"], 1);
        assert_eq!(counts["testsuite"], 1);
        assert_eq!(counts["testcase"], results.len());
        assert_eq!(counts.get("failure").copied().unwrap_or(0), fail.len());
        assert_eq!(counts.get("error").copied().unwrap_or(0), error.len());
        assert_eq!(counts.get("skipped").copied().unwrap_or(0), skipped);
        assert_eq!(attribute(&xml, "testsuites", "tests"), results.len());
        assert_eq!(attribute(&xml, "testsuites", "failures"), fail.len());
        assert_eq!(attribute(&xml, "testsuites", "skipped"), skipped);

        let table = run(&["audit", "--report", report]);
        let text = stdout(&table);
        assert!(
            text.lines().nth(1).unwrap().starts_with("STATUS "),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} checks: ", results.len())),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------
// facts

#[test]
fn facts_of_a_report_match_the_golden_os_section() {
    for name in ["dell-r740", "debian-kvm", "neglected"] {
        let out = run(&[
            "facts",
            "--report",
            &format!("fixtures/reports/{name}.json"),
            "--at",
            "2026-11-27T09:10:00Z",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let facts = json(&out);
        assert!(facts["os"]["support_status"].is_string(), "{facts}");
        let golden: Value = serde_json::from_str(
            &std::fs::read_to_string(
                manifest_dir().join(format!("tests/fixtures/facts/{name}.json")),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(facts["os"], golden["os"], "{name}");
    }
    let out = run(&["facts", "--report", NEGLECTED]);
    assert_eq!(json(&out)["os"]["support_status"], "unsupported");
    // A host name needs --config.
    assert_eq!(run(&["facts", "somehost"]).status.code(), Some(2));
}

// ---------------------------------------------------------------------------------
// estimate

fn estimate(report: &str, extra: &[&str]) -> Value {
    let mut args = vec!["estimate", "--report", report, "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    json(&out)
}

fn scenario<'a>(estimate: &'a Value, name: &str) -> Option<&'a Value> {
    estimate["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

#[test]
fn estimates_have_every_field_and_every_factor_a_source() {
    for report in [DELL, DEBIAN] {
        let e = estimate(report, &[]);
        for key in ["host_id", "onprem", "scenarios", "factors"] {
            assert!(e.get(key).is_some(), "{report}: {key}");
        }
        let o = &e["onprem"];
        for key in [
            "method",
            "power_watts",
            "energy_kwh_per_year",
            "location_kgco2e_per_year",
            "market_kgco2e_per_year",
            "embodied_kgco2e_per_year",
            "low",
            "high",
            "pue",
            "grid_year",
            "notes",
        ] {
            assert!(o.get(key).is_some(), "{report}: onprem.{key}");
        }
        let total = o["location_kgco2e_per_year"].as_f64().unwrap()
            + o["embodied_kgco2e_per_year"].as_f64().unwrap();
        assert!(total > 0.0);
        assert!(o["low"].as_f64().unwrap() <= total && total <= o["high"].as_f64().unwrap());
        // The default scenarios: the three London regions (and retire-idle when idle).
        for name in ["azure-uksouth", "aws-london", "gcp-london"] {
            let s = scenario(&e, name).unwrap_or_else(|| panic!("{report}: {name}"));
            for key in [
                "kind",
                "provider",
                "region",
                "instance",
                "vcpus",
                "memory_gib",
                "power_watts",
                "energy_kwh_per_year",
                "location_kgco2e_per_year",
                "embodied_kgco2e_per_year",
                "market_kgco2e_per_year",
                "low",
                "high",
                "saved_kgco2e_per_year",
                "readiness",
                "confidence",
            ] {
                assert!(s.get(key).is_some(), "{report}: {name}.{key}");
            }
            assert!(s["instance"].is_string(), "{report}: {name}");
        }
        let factors = e["factors"].as_array().unwrap();
        assert!(factors.len() > 10);
        for f in factors {
            for key in ["name", "unit", "source", "version"] {
                assert!(
                    f[key].as_str().is_some_and(|s| !s.trim().is_empty()),
                    "{report}: factor {f} lacks {key}"
                );
            }
            assert!(f["value"].as_f64().is_some_and(f64::is_finite), "{f}");
        }
        let table = run(&["estimate", "--report", report]);
        assert_eq!(table.status.code(), Some(0));
        let text = stdout(&table);
        assert!(text.contains("on-premises ("), "{text}");
        assert!(text.contains("factors:"), "{text}");
    }
}

#[test]
fn what_if_overrides_move_the_estimate_monotonically() {
    for report in [DELL, DEBIAN] {
        let energy: Vec<f64> = ["0.05", "0.3", "0.9"]
            .iter()
            .map(|m| {
                estimate(report, &["--cpu-mean", m])["onprem"]["energy_kwh_per_year"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert!(energy[0] < energy[1] && energy[1] < energy[2], "{energy:?}");

        let sized: Vec<Value> = ["0.01", "0.3", "0.9"]
            .iter()
            .map(|p| estimate(report, &["--cpu-p95", p, "--mem-p95", p]))
            .collect();
        for name in ["azure-uksouth", "aws-london", "gcp-london"] {
            let vcpus: Vec<u64> = sized
                .iter()
                .map(|e| scenario(e, name).unwrap()["vcpus"].as_u64().unwrap())
                .collect();
            let memory: Vec<f64> = sized
                .iter()
                .map(|e| scenario(e, name).unwrap()["memory_gib"].as_f64().unwrap())
                .collect();
            assert!(vcpus.windows(2).all(|w| w[0] <= w[1]), "{name}: {vcpus:?}");
            assert!(
                memory.windows(2).all(|w| w[0] <= w[1]),
                "{name}: {memory:?}"
            );
            assert!(vcpus[0] < vcpus[2], "{name}: {vcpus:?}");
        }
        // Idle at p95: a candidate for retirement; busy: not.
        assert!(scenario(&sized[0], "retire-idle").is_some(), "{report}");
        assert!(scenario(&sized[2], "retire-idle").is_none(), "{report}");
    }
    let only = estimate(DELL, &["--scenario", "aws-london"]);
    assert_eq!(only["scenarios"].as_array().unwrap().len(), 1);
    assert_eq!(only["scenarios"][0]["name"], "aws-london");
    let year = estimate(DELL, &["--year", "2023"]);
    assert_eq!(year["onprem"]["grid_year"], 2023);

    let bad_ratio = run(&["estimate", "--report", DELL, "--cpu-mean", "1.5"]);
    assert_eq!(bad_ratio.status.code(), Some(2));
    assert!(stderr(&bad_ratio).contains("1.5 is outside 0–1"));
    let bad_scenario = run(&["estimate", "--report", DELL, "--scenario", "moon"]);
    assert_eq!(bad_scenario.status.code(), Some(2));
    assert!(
        stderr(&bad_scenario).contains(
            "no scenario `moon` (configured: azure-uksouth, aws-london, gcp-london, retire-idle)"
        ),
        "{}",
        stderr(&bad_scenario)
    );
    let bad_year = run(&["estimate", "--report", DELL, "--year", "1999"]);
    assert_eq!(bad_year.status.code(), Some(2));
    assert!(
        stderr(&bad_year).contains("--year: `carbon.reporting_year`: no UK factor for 1999"),
        "{}",
        stderr(&bad_year)
    );
}

// ---------------------------------------------------------------------------------
// check-config and the [checks] / [carbon] settings

#[test]
fn check_config_reports_every_problem_of_the_carbon_and_checks_settings() {
    let out = run(&["check-config", "configs/assess/bad-carbon.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let f = "configs/assess/bad-carbon.toml";
    let expected = [
        format!("{f}:7:18: `carbon.reporting_year`: no UK factor for 1999"),
        format!("{f}:8:18: `carbon.lifespan_years`: must be between 0.5 and 50, found 0.1"),
        format!("{f}:11:7: `carbon.sites.county-hall.pue`: must be between 1 and 5, found 0.5"),
        format!("{f}:17:10: `carbon.scenarios[0].region`: no region `mars-1` for aws"),
        format!("{f}:18:12: `carbon.scenarios[0].families`: no family `zz9` in cloud-aws.toml"),
        format!("{f}:21:8: `carbon.scenarios[1].name`: scenario names must be unique"),
        format!("{f}:22:8: `carbon.scenarios[1].kind`: a retire scenario takes no provider"),
        format!("{f}:4:11: `checks.profile`: no audit profile `no-such-profile` (known: baseline"),
    ];
    let text = stderr(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, want) in lines.iter().zip(&expected) {
        assert!(line.starts_with(want.as_str()), "{line}\n  wanted {want}");
    }

    // Problems in the config file itself: every one, located (also pinned by
    // configs/invalid/checks-carbon.expected through ServerConfig::parse).
    let out = run(&["check-config", "configs/invalid/checks-carbon.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let expected = std::fs::read_to_string(
        manifest_dir().join("tests/configs/invalid/checks-carbon.expected"),
    )
    .unwrap();
    assert_eq!(stderr(&out), expected);
    assert_eq!(expected.lines().count(), 8);
}

#[test]
fn check_config_reports_every_problem_of_a_broken_check_dir() {
    let out = run(&["check-config", "configs/assess/broken-checks.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let text = stderr(&out);
    let f = "configs/assess/broken-checks/checks/broken.toml";
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "{f}:5:12: `check.category`: unknown category `plumbing`"
        )),
        "{text}"
    );
    assert!(lines[1].starts_with(&format!("{f}:15:")), "{text}");
    assert!(lines[1].contains("`check.pass`"), "{text}");
    assert!(
        lines[2].starts_with(&format!(
            "{f}:22:12: `check.severity`: unknown severity `dire`"
        )),
        "{text}"
    );
    // The same problems stop an audit that uses the config.
    let audit = run(&[
        "audit",
        "--report",
        DELL,
        "--config",
        "configs/assess/broken-checks.toml",
    ]);
    assert_eq!(audit.status.code(), Some(2));
    assert!(stderr(&audit).contains("unknown category `plumbing`"));
    // And `serve` refuses to start on them.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\nsqlite_path = \"{}\"\n[checks]\nconfig_dir = \"{}\"\n",
            dir.path().join("estate.db").display(),
            manifest_dir().join("tests/configs/assess/broken-checks").display()
        ),
    )
    .unwrap();
    let serve = run(&["serve", "--config", config.to_str().unwrap()]);
    assert_ne!(serve.status.code(), Some(0));
    let text = stderr(&serve);
    assert!(text.contains("unknown category `plumbing`"), "{text}");
    assert!(text.contains("unknown severity `dire`"), "{text}");
    // A config_dir that does not exist is an error, not the built-in copy.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, "[checks]\nconfig_dir = \"nowhere\"\n").unwrap();
    let out = run(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "{}:2:14: `checks.config_dir`: `{}` is not a directory\n",
            config.display(),
            dir.path().join("nowhere").display()
        )
    );
}

#[test]
fn the_example_config_states_the_default_checks_and_carbon_settings() {
    let config = ServerConfig::load(&manifest_dir().join("../config/server.toml")).unwrap();
    let defaults = AssessConfig::default();
    assert_eq!(config.assess.config_dir, None);
    assert_eq!(config.assess.profile, defaults.profile);
    assert_eq!(config.assess.scoring, defaults.scoring);
    assert_eq!(config.assess.derive, defaults.derive);
    assert_eq!(config.assess.carbon, default_carbon());
    assert_eq!(config.assess.carbon.scenarios.len(), 4);
    // The commented scenarios in the example are the defaults, word for word.
    let text = std::fs::read_to_string(manifest_dir().join("../config/server.toml")).unwrap();
    let commented: String = text
        .lines()
        .skip_while(|l| !l.starts_with("# [[carbon.scenarios]]"))
        .map(|l| l.trim_start_matches('#').trim_start())
        .collect::<Vec<_>>()
        .join("\n")
        .replace("[[carbon.scenarios]]", "[[scenarios]]");
    let shown: estate_server::carbon::CarbonConfig = toml::from_str(&commented).unwrap();
    assert_eq!(shown, default_carbon());
}

#[test]
fn checks_settings_are_read_and_config_dir_is_relative_to_the_file() {
    let config =
        ServerConfig::load(&manifest_dir().join("tests/configs/assess/broken-checks.toml"))
            .unwrap();
    assert_eq!(
        config.assess.config_dir.as_deref(),
        Some(
            manifest_dir()
                .join("tests/configs/assess/broken-checks")
                .as_path()
        )
    );
    let text = r#"
[server]
stale_after_secs = 600
[checks]
profile = "cloud-readiness"
green_at = 0.8
amber_at = 0.5
critical_failure_cap = "none"
criticality_label = "tier"
default_host_weight = 0.5
ending_soon_days = 90
[checks.criticality_weights]
gold = 3
[carbon]
reporting_year = 2024
scenarios = []
"#;
    let config = ServerConfig::parse(text, "t.toml").unwrap();
    let a = &config.assess;
    assert_eq!(a.profile, "cloud-readiness");
    assert_eq!((a.scoring.green_at, a.scoring.amber_at), (0.8, 0.5));
    assert_eq!(a.scoring.critical_failure_cap, None);
    assert_eq!(a.scoring.criticality_label, "tier");
    assert_eq!(a.scoring.default_host_weight, 0.5);
    assert_eq!(a.scoring.criticality_weights.get("gold"), Some(&3.0));
    assert_eq!(a.derive.ending_soon_days, 90);
    assert_eq!(a.derive.stale_after, std::time::Duration::from_secs(600));
    assert_eq!(a.carbon.reporting_year, Some(2024));
    assert!(
        a.carbon.scenarios.is_empty(),
        "`scenarios = []` turns them off"
    );
    assert_eq!(
        a.origins.get("checks.profile").map(String::as_str),
        Some("t.toml:5:11")
    );
    estate_server::assess::Assessor::load(a).unwrap();
}

// ---------------------------------------------------------------------------------
// audit, facts and carbon over a store

fn store_config(dir: &tempfile::TempDir) -> String {
    let db = dir.path().join("estate.db");
    let config = dir.path().join("server.toml");
    std::fs::write(
        &config,
        format!("[storage]\nsqlite_path = \"{}\"\n", db.display()),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = estate_server::open_store(&ServerConfig::load(&config).unwrap()).unwrap();
        for report in [DELL, DEBIAN, NEGLECTED] {
            let raw = std::fs::read_to_string(manifest_dir().join("tests").join(report)).unwrap();
            let parsed = estate_server::ingest::parse_report(raw.as_bytes()).unwrap();
            let new =
                estate_server::ingest::to_new_report(&parsed, raw, parsed.collected_at).unwrap();
            store.ingest(new).await.unwrap();
        }
    });
    config.to_str().unwrap().to_owned()
}

#[test]
fn audit_facts_and_carbon_read_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let config = store_config(&dir);

    let out = run(&["audit", "--config", &config, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let view = json(&out);
    let hosts = view["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    assert_eq!(view["estate"]["hosts"], 3);
    assert_eq!(view["profile"], "baseline");
    let estate_score = view["estate"]["score"].as_f64().unwrap();
    let host_scores: Vec<f64> = hosts
        .iter()
        .map(|h| h["assessment"]["score"]["score"].as_f64().unwrap())
        .collect();
    let mean = host_scores.iter().sum::<f64>() / 3.0;
    assert!(
        (estate_score - mean).abs() < 1e-9,
        "{estate_score} vs {mean}"
    );
    assert!(!view["improvements"].as_array().unwrap().is_empty());

    let gate = |extra: &[&str]| {
        let mut args = vec!["audit", "--config", config.as_str()];
        args.extend_from_slice(extra);
        run(&args)
    };
    let below = gate(&["--fail-below", &format!("{:.3}", estate_score + 0.001)]);
    assert_eq!(below.status.code(), Some(1));
    assert!(stderr(&below).starts_with("audit failed: the estate score "));
    assert!(stdout(&below).contains("estate: 3 hosts (3 scored)"));
    assert_eq!(
        gate(&["--fail-below", &format!("{:.3}", estate_score - 0.001)])
            .status
            .code(),
        Some(0)
    );
    // One host, by name: its own score decides.
    let one = gate(&[
        "--host",
        "legacy-files01",
        "--format",
        "csv",
        "--fail-below",
        "0.9",
    ]);
    assert_eq!(one.status.code(), Some(1));
    let records = parse_csv(&stdout(&one));
    assert!(records.len() > 1 && records[1..].iter().all(|r| r[1] == "legacy-files01"));
    assert_eq!(gate(&["--host", "nobody"]).status.code(), Some(2));

    let facts = run(&["facts", "srv-fin-db01", "--config", &config]);
    assert_eq!(facts.status.code(), Some(0), "{}", stderr(&facts));
    assert_eq!(json(&facts)["os"]["support_status"], "supported");

    let carbon = run(&["carbon", "--config", &config, "--format", "json"]);
    assert_eq!(carbon.status.code(), Some(0), "{}", stderr(&carbon));
    let c = json(&carbon);
    assert_eq!(c["hosts"].as_array().unwrap().len(), 3);
    assert_eq!(c["summary"]["onprem"]["hosts"], 3);
    let per_host: f64 = c["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["onprem"]["energy_kwh_per_year"].as_f64().unwrap())
        .sum();
    let total = c["summary"]["onprem"]["energy_kwh_per_year"]
        .as_f64()
        .unwrap();
    assert!((per_host - total).abs() < 1e-6 * total);
    let csv = run(&[
        "carbon",
        "--config",
        &config,
        "--format",
        "csv",
        "--scenario",
        "aws-london",
    ]);
    assert_eq!(csv.status.code(), Some(0));
    let records = parse_csv(&stdout(&csv));
    assert_eq!(records[0][..3], ["host_id", "hostname", "case"]);
    // Per host: on-premises and the one scenario.
    assert_eq!(records.len(), 1 + 3 * 2);
    assert!(
        records[1..]
            .iter()
            .all(|r| r[2] == "onprem" || r[2] == "aws-london")
    );
    let table = run(&["carbon", "--config", &config]);
    assert!(
        stdout(&table).contains("on-premises, 3 hosts: "),
        "{}",
        stdout(&table)
    );
}

#[test]
fn help_names_the_offline_commands() {
    let help = stdout(&run(&["--help"]));
    for command in ["checks", "audit", "facts", "estimate", "carbon"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "{command}: {help}"
        );
    }
    let audit = stdout(&run(&["audit", "-h"]));
    for option in [
        "--report",
        "--config",
        "--profile",
        "--host",
        "--format",
        "--fail-below",
        "--at",
    ] {
        assert!(audit.contains(option), "{option}: {audit}");
    }
    assert!(
        audit.contains("[possible values: table, json, csv, junit]"),
        "{audit}"
    );
}
