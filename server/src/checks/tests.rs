//! Unit tests of the check engine: loading and its errors, evaluation, waivers,
//! profiles and the fixture runner. Scoring's property tests are in `score_tests.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use super::*;

pub(super) const CHECKS: &str = r#"
[[check]]
id = "os.supported"
title = "Operating system is in vendor support"
description = "An unsupported OS gets no security fixes."
category = "lifecycle"
severity = "high"
applies = "has(facts.os.end_of_support)"
pass = "date(facts.os.end_of_support) > now + days(params.warn_days)"
evidence = "facts.os.end_of_support"
remediation = "Upgrade to a supported release."
references = ["https://endoflife.date/"]
tags = ["cloud-readiness", "endpoint"]

[check.params]
warn_days = { default = 0, description = "Fail this many days before the end of support." }

[[check.fixture]]
name = "supported"
expect = "pass"
facts = { os = { end_of_support = "2028-06-30" } }
expect_evidence = "2028-06-30"

[[check.fixture]]
name = "ended"
expect = "fail"
facts = { os = { end_of_support = "2025-06-30" } }

[[check.fixture]]
name = "inside the warning window"
expect = "fail"
params = { warn_days = 365 }
facts = { os = { end_of_support = "2026-06-30" } }

[[check.fixture]]
name = "later, it has ended"
expect = "fail"
now = 2029-01-01
facts = { os = { end_of_support = "2028-06-30" } }

[[check.fixture]]
name = "unknown"
expect = "not_applicable"
facts = { os = {} }

[[check]]
id = "disk.headroom"
title = "Filesystems have free space"
category = "capacity"
severity = "medium"
score = """
size(facts.storage.filesystems) == 0 ? 1.0 :
  double(facts.storage.filesystems.filter(f, f.available_ratio >= params.min_available_ratio).size())
  / double(size(facts.storage.filesystems))
"""
evidence = "facts.storage.filesystems.filter(f, f.available_ratio < params.min_available_ratio).map(f, f.mount)"
remediation = "Free space on, or grow, the filesystems listed in the evidence."

[check.params]
min_available_ratio = 0.15

[[check.fixture]]
name = "all roomy"
expect = 1
facts = { storage = { filesystems = [{ mount = "/", available_ratio = 0.5 }] } }

[[check.fixture]]
name = "one of two full"
expect = 0.5
facts = { storage = { filesystems = [{ mount = "/", available_ratio = 0.5 }, { mount = "/var", available_ratio = 0.01 }] } }
expect_evidence = ["/var"]

[[check.fixture]]
name = "missing ratio is an error"
expect = "error"
facts = { storage = { filesystems = [{ mount = "/" }] } }

[[check]]
id = "ssh.no-root-login"
title = "SSH does not accept root logins"
category = "security"
severity = "critical"
applies = "has(facts.security.ssh_root_login)"
pass = "!facts.security.ssh_root_login"
remediation = "Set `PermitRootLogin no` in sshd_config."
tags = ["endpoint"]

[[check.fixture]]
name = "off"
expect = "pass"
facts = { security = { ssh_root_login = false } }

[[check.fixture]]
name = "on"
expect = "fail"
facts = { security = { ssh_root_login = true } }

[[check.fixture]]
name = "no sshd"
expect = "not_applicable"
facts = { security = {} }

[[check]]
id = "os.kernel-known"
title = "Kernel version is reported"
category = "operations"
severity = "info"
pass = "facts.os.kernel != ''"

[[check.fixture]]
name = "known"
expect = "pass"
facts = { os = { kernel = "6.1.0" } }

[[check.fixture]]
name = "empty"
expect = "fail"
facts = { os = { kernel = "" } }
"#;

pub(super) fn catalogue() -> Catalogue {
    Catalogue::parse(&[("checks/examples.toml", CHECKS)]).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn errors(sources: &[(&str, &str)]) -> String {
    Catalogue::parse(sources).unwrap_err().to_string()
}

struct Host {
    id: String,
    name: String,
    labels: BTreeMap<String, String>,
    facts: Json,
}

impl Host {
    fn new(id: &str, facts: Json) -> Host {
        Host {
            id: id.to_owned(),
            name: format!("{id}.example"),
            labels: BTreeMap::new(),
            facts,
        }
    }

    fn r(&self) -> HostRef<'_> {
        HostRef {
            id: &self.id,
            hostname: Some(&self.name),
            labels: &self.labels,
            facts: &self.facts,
        }
    }
}

fn healthy() -> Json {
    json!({
        "os": {"end_of_support": "2030-01-01", "kernel": "6.1.0"},
        "storage": {"filesystems": [{"mount": "/", "available_ratio": 0.5}]},
        "security": {"ssh_root_login": false},
    })
}

fn result<'a>(e: &'a HostEvaluation, id: &str) -> &'a CheckResult {
    e.results.iter().find(|r| r.id.as_str() == id).unwrap()
}

// ---------------------------------------------------------------------------------
// Loading

#[test]
fn a_catalogue_loads_with_every_field() {
    let c = catalogue();
    assert_eq!(c.len(), 4);
    let os = c.get("os.supported").unwrap();
    assert_eq!(os.title, "Operating system is in vendor support");
    assert_eq!(os.category, Category::Lifecycle);
    assert_eq!(os.severity, Severity::High);
    assert_eq!(os.weight, WEIGHT_HIGH);
    assert_eq!(os.tags, ["cloud-readiness", "endpoint"]);
    assert_eq!(os.references, ["https://endoflife.date/"]);
    assert_eq!(os.param_defaults, json!({"warn_days": 0}));
    assert_eq!(
        os.params["warn_days"].description.as_deref(),
        Some("Fail this many days before the end of support.")
    );
    assert_eq!(os.fixtures.len(), 5);
    assert_eq!(os.fixtures[2].params, json!({"warn_days": 365}));
    assert_eq!(os.fixtures[3].now, at("2029-01-01T00:00:00Z"));
    assert_eq!(os.fixtures[0].now, at(DEFAULT_FIXTURE_NOW));
    assert_eq!(os.source.to_string(), "checks/examples.toml:2:1");
    assert!(c.get("disk.headroom").unwrap().is_scored());
    assert_eq!(c.get("os.kernel-known").unwrap().weight, WEIGHT_INFO);
    assert_eq!(c.get("ssh.no-root-login").unwrap().weight, WEIGHT_CRITICAL);
}

#[test]
fn every_problem_in_a_check_file_is_reported_with_its_position() {
    let text = r#"[[check]]
id = "Bad Id"
title = ""
category = "securty"
severity = "urgent"
weight = -1
pass = "facts.a &&"
score = "1.0"
tags = ["Cloud"]

[[check]]
id = "two"
title = "Two"
category = "security"
severity = "low"
remediation = "x"
applies = "fact.os.name == 'x'"
pass = "facts.a > params.limit && params.max > 0"

[check.params]
max = { description = "no default" }
limit = 1

[[check]]
id = "three"
title = "Three"
category = "security"
severity = "low"
remediation = "x"
pass = """
facts.a ==
  (facts.b +)"""

[[check.fixture]]
name = "f"
expect = 0.5
facts = { a = 1 }
facts_file = "nope.json"

[[check.fixture]]
name = "f"
expect = "maybe"
"#;
    let got = errors(&[("checks/bad.toml", text)]);
    let expected = "\
checks/bad.toml:1:1: `check.remediation`: missing `remediation` (only `info` checks may leave it out)
checks/bad.toml:2:6: `check.id`: `Bad Id` is not a valid id: use lowercase letters, digits, `.`, `_` and `-`
checks/bad.toml:3:9: `check.title`: must not be empty
checks/bad.toml:4:12: `check.category`: unknown category `securty`; expected one of lifecycle, security, capacity, resilience, operations, sustainability
checks/bad.toml:5:12: `check.severity`: unknown severity `urgent`; expected one of critical, high, medium, low, info
checks/bad.toml:6:10: `check.weight`: weight must be a number ≥ 0, not -1
checks/bad.toml:8:9: `check.score`: set either `pass` (a bool) or `score` (a number 0–1), not both
checks/bad.toml:9:9: `check.tags`: `Cloud` is not a valid tag: use lowercase letters, digits, `.`, `_` and `-`
checks/bad.toml:17:12: `check.applies`: unknown variable `fact` in `fact.os.name == 'x'`; expressions see `facts`, `params` and `now`
checks/bad.toml:18:35: `check.pass`: `params.max` is not declared under `[check.params]` (declared: limit)
checks/bad.toml:21:7: `check.params.max`: param `max` has no default: write `max = VALUE` or `max = { default = VALUE, description = \"...\" }`
checks/bad.toml:32:13: `check.pass`: Syntax error: mismatched input ')' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER} in `facts.a == (facts.b +)`
checks/bad.toml:36:10: `check.fixture.expect`: `0.5`: a number is only for `score` checks; this check has `pass`, so expect pass or fail
checks/bad.toml:38:14: `check.fixture.facts_file`: set either `facts` or `facts_file`, not both
checks/bad.toml:41:8: `check.fixture.name`: duplicate fixture name `f` in this check";
    assert_eq!(got, expected);
}

#[test]
fn a_syntax_error_is_located_inside_the_expression() {
    let text = "[[check]]\nid = \"a\"\ntitle = \"A\"\ncategory = \"security\"\nseverity = \"low\"\nremediation = \"x\"\npass = \"facts.a == = 1\"\n";
    let got = errors(&[("c.toml", text)]);
    assert!(
        got.starts_with("c.toml:7:20: `check.pass`: Syntax error"),
        "{got}"
    );
}

#[test]
fn duplicate_ids_across_files_name_the_first() {
    let one = "[[check]]\nid = \"dup\"\ntitle = \"A\"\ncategory = \"security\"\nseverity = \"low\"\nremediation = \"x\"\npass = \"true\"\n";
    let got = errors(&[
        ("checks/a.toml", one),
        ("checks/b.toml", &format!("\n{one}")),
    ]);
    assert_eq!(
        got,
        "checks/b.toml:3:6: `check.id`: duplicate check id `dup` (first defined at checks/a.toml:2:6)"
    );
}

#[test]
fn toml_errors_and_unknown_keys_are_located() {
    let got = errors(&[
        ("x.toml", "[[check]]\nid = \"a\"\nsevirity = \"low\"\n"),
        ("y.toml", "[[check]\n"),
    ]);
    let lines: Vec<&str> = got.lines().collect();
    assert!(
        lines[0].starts_with("x.toml:3:1: unknown field `sevirity`"),
        "{got}"
    );
    assert!(lines[1].starts_with("y.toml:1:"), "{got}");
}

#[test]
fn a_fixture_file_is_read_relative_to_the_check_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("facts")).unwrap();
    std::fs::write(
        dir.path().join("facts/ok.json"),
        r#"{"security": {"ssh_root_login": false}}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("facts/list.json"), "[1]").unwrap();
    let check = |file: &str| {
        format!(
            "[[check]]\nid = \"a\"\ntitle = \"A\"\ncategory = \"security\"\nseverity = \"low\"\nremediation = \"x\"\npass = \"!facts.security.ssh_root_login\"\n[[check.fixture]]\nname = \"n\"\nexpect = \"pass\"\nfacts_file = \"{file}\"\n"
        )
    };
    std::fs::write(dir.path().join("good.toml"), check("facts/ok.json")).unwrap();
    let c = Catalogue::load(dir.path()).unwrap();
    assert_eq!(
        c.checks()[0].fixtures[0].facts,
        json!({"security": {"ssh_root_login": false}})
    );
    assert!(FixtureReport::run(&c).outcomes.iter().all(|o| o.ok));

    std::fs::write(dir.path().join("good.toml"), check("facts/list.json")).unwrap();
    let err = Catalogue::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.ends_with("facts/list.json` holds a JSON array, not an object"),
        "{err}"
    );
    std::fs::write(dir.path().join("good.toml"), check("facts/none.json")).unwrap();
    let err = Catalogue::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(":11:14: `check.fixture.facts_file`: cannot read"),
        "{err}"
    );
}

#[test]
fn a_missing_directory_is_a_read_error() {
    let err = Catalogue::load(std::path::Path::new("/nonexistent/checks")).unwrap_err();
    assert_eq!(err.issue_count(), 1);
    assert!(
        err.to_string().starts_with("/nonexistent/checks: "),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Evaluation

#[test]
fn a_healthy_host_passes_and_unknown_facts_are_not_applicable() {
    let c = catalogue();
    let plan = Plan::new(&c, &Profile::baseline(), &Waivers::none());
    let host = Host::new("h1", healthy());
    let e = plan.evaluate(&host.r(), at("2026-01-01T00:00:00Z"));
    assert_eq!(e.results.len(), 4);
    assert!(e.results.iter().all(|r| r.status == Status::Pass), "{e:#?}");
    let os = result(&e, "os.supported");
    assert_eq!(os.evidence, Some(json!("2030-01-01")));
    assert_eq!(os.weight, WEIGHT_HIGH);
    assert_eq!(result(&e, "disk.headroom").evidence, Some(json!([])));

    let bare = Host::new(
        "h2",
        json!({"os": {"kernel": "6"}, "security": {}, "storage": {"filesystems": []}}),
    );
    let e = plan.evaluate(&bare.r(), at("2026-01-01T00:00:00Z"));
    assert_eq!(result(&e, "os.supported").status, Status::NotApplicable);
    assert_eq!(result(&e, "os.supported").evidence, None);
    assert_eq!(
        result(&e, "ssh.no-root-login").status,
        Status::NotApplicable
    );
    assert_eq!(result(&e, "disk.headroom").status, Status::Pass);
}

#[test]
fn partial_credit_missing_facts_and_bad_types() {
    let c = catalogue();
    let plan = Plan::new(&c, &Profile::baseline(), &Waivers::none());
    let mut facts = healthy();
    facts["storage"]["filesystems"] = json!([
        {"mount": "/", "available_ratio": 0.5},
        {"mount": "/a", "available_ratio": 0.1},
        {"mount": "/b", "available_ratio": 0.1},
        {"mount": "/c", "available_ratio": 0.9},
    ]);
    facts["os"] = json!({"end_of_support": "2020-01-01"});
    let host = Host::new("h", facts);
    let e = plan.evaluate(&host.r(), at("2026-01-01T00:00:00Z"));
    let disk = result(&e, "disk.headroom");
    assert_eq!((disk.status, disk.credit), (Status::Fail, 0.5));
    assert_eq!(disk.evidence, Some(json!(["/a", "/b"])));
    assert_eq!(result(&e, "os.supported").status, Status::Fail);
    let kernel = result(&e, "os.kernel-known");
    assert_eq!(kernel.status, Status::Error);
    assert_eq!(kernel.error.as_deref(), Some("pass: No such key: kernel"));

    let wrong = Host::new("w", json!({"security": {"ssh_root_login": "no"}}));
    let e = plan.evaluate(&wrong.r(), at("2026-01-01T00:00:00Z"));
    let ssh = result(&e, "ssh.no-root-login");
    assert_eq!(ssh.status, Status::Error);
    assert!(
        ssh.error.as_deref().unwrap().starts_with("pass: "),
        "{ssh:?}"
    );
}

#[test]
fn a_score_outside_0_1_or_a_non_bool_pass_is_an_error() {
    let text = r#"
[[check]]
id = "s"
title = "S"
category = "capacity"
severity = "low"
remediation = "x"
score = "facts.x"

[[check]]
id = "p"
title = "P"
category = "capacity"
severity = "low"
remediation = "x"
pass = "facts.x"
"#;
    let c = Catalogue::parse(&[("c.toml", text)]).unwrap();
    let plan = Plan::new(&c, &Profile::baseline(), &Waivers::none());
    let run = |x: Json| {
        let host = Host::new("h", json!({ "x": x }));
        plan.evaluate(&host.r(), at("2026-01-01T00:00:00Z"))
    };
    let e = run(json!(1.5));
    assert_eq!(
        result(&e, "s").error.as_deref(),
        Some("score: a score must be within 0–1, got 1.5")
    );
    assert_eq!(
        result(&e, "p").error.as_deref(),
        Some("pass: expected a bool, got double")
    );
    let e = run(json!(1));
    assert_eq!(result(&e, "s").status, Status::Pass);
    let e = run(json!(true));
    assert_eq!(result(&e, "p").status, Status::Pass);
    assert_eq!(
        result(&e, "s").error.as_deref(),
        Some("score: expected a number, got bool")
    );
}

#[test]
fn evaluating_in_parallel_gives_the_same_results_in_order() {
    let c = catalogue();
    let plan = Plan::new(&c, &Profile::baseline(), &Waivers::none());
    let hosts: Vec<Host> = (0..37)
        .map(|i| {
            let mut f = healthy();
            f["storage"]["filesystems"][0]["available_ratio"] = json!(f64::from(i) / 40.0);
            Host::new(&format!("h{i}"), f)
        })
        .collect();
    let refs: Vec<HostRef<'_>> = hosts.iter().map(Host::r).collect();
    let now = at("2026-01-01T00:00:00Z");
    let serial = plan.evaluate_all(&refs, now, 1);
    let parallel = plan.evaluate_all(&refs, now, 4);
    assert_eq!(serial, parallel);
    assert_eq!(parallel.len(), 37);
    assert_eq!(result(&parallel[0], "disk.headroom").status, Status::Fail);
    assert_eq!(result(&parallel[36], "disk.headroom").status, Status::Pass);
    assert!(plan.evaluate_all(&[], now, 4).is_empty());
}

#[test]
fn without_evidence_leaves_it_out() {
    let c = catalogue();
    let plan = Plan::new(&c, &Profile::baseline(), &Waivers::none()).without_evidence();
    let host = Host::new("h", healthy());
    let e = plan.evaluate(&host.r(), at("2026-01-01T00:00:00Z"));
    assert!(e.results.iter().all(|r| r.evidence.is_none()));
}

// ---------------------------------------------------------------------------------
// Waivers

const WAIVERS: &str = r#"
[[waiver]]
check = "ssh.no-root-login"
hostname = "legacy.example"
reason = "Vendor appliance; vendor support logs in as root (CHG-1234)."
owner = "infra-team@council.example"
expires = 2026-03-31
reference = "RISK-42"

[[waiver]]
check = "os.supported"
labels = { role = "kiosk" }
reason = "Replaced in the spring refresh."
owner = "desktop-team"
expires = "2025-12-31"
"#;

#[test]
fn waivers_turn_a_fail_into_waived_until_they_expire() {
    let c = catalogue();
    let waivers = Waivers::parse(WAIVERS, "waivers.toml", &c).unwrap();
    assert_eq!(waivers.len(), 2);
    let plan = Plan::new(&c, &Profile::baseline(), &waivers);
    let mut facts = healthy();
    facts["security"]["ssh_root_login"] = json!(true);
    facts["os"]["end_of_support"] = json!("2024-01-01");
    let mut legacy = Host::new("legacy", facts.clone());
    legacy.labels.insert("role".into(), "kiosk".into());

    let e = plan.evaluate(&legacy.r(), at("2026-03-31T23:59:59Z"));
    let ssh = result(&e, "ssh.no-root-login");
    assert_eq!(ssh.status, Status::Waived);
    let m = ssh.waiver.as_ref().unwrap();
    assert_eq!(m.state, WaiverState::Active);
    assert_eq!(m.waiver.owner, "infra-team@council.example");
    assert_eq!(m.waiver.reference.as_deref(), Some("RISK-42"));
    let os = result(&e, "os.supported");
    assert_eq!(os.status, Status::Fail, "expired waiver no longer applies");
    assert_eq!(os.waiver.as_ref().unwrap().state, WaiverState::Expired);
    assert_eq!(
        e.waiver_counts(),
        WaiverCounts {
            active: 1,
            expired: 1
        }
    );
    assert_eq!(
        waivers.counts(at("2026-03-31T23:59:59Z")),
        WaiverCounts {
            active: 1,
            expired: 1
        }
    );
    assert_eq!(
        waivers.counts(at("2026-04-01T00:00:00Z")),
        WaiverCounts {
            active: 0,
            expired: 2
        }
    );

    let e = plan.evaluate(&legacy.r(), at("2026-04-01T00:00:00Z"));
    assert_eq!(result(&e, "ssh.no-root-login").status, Status::Fail);

    // Another host: no match.
    let other = Host::new("other", facts);
    let e = plan.evaluate(&other.r(), at("2026-01-01T00:00:00Z"));
    assert_eq!(result(&e, "ssh.no-root-login").status, Status::Fail);
    assert!(result(&e, "ssh.no-root-login").waiver.is_none());

    // A passing check keeps its pass; the waiver shows as no longer needed.
    let mut fixed = Host::new("legacy", healthy());
    fixed.name = "legacy.example".into();
    let e = plan.evaluate(&fixed.r(), at("2026-01-01T00:00:00Z"));
    let ssh = result(&e, "ssh.no-root-login");
    assert_eq!(ssh.status, Status::Pass);
    assert_eq!(ssh.waiver.as_ref().unwrap().state, WaiverState::Active);
    assert_eq!(e.waiver_counts(), WaiverCounts::default());
}

#[test]
fn waiver_errors_are_all_reported() {
    let c = catalogue();
    let text = r#"
[[waiver]]
check = "no.such"
reason = ""
expires = "soon"

[[waiver]]
check = "os.supported"
host_id = "abc"
reason = "r"
owner = "o"
expires = 2026-13-01
"#;
    let got = Waivers::parse(text, "waivers.toml", &c)
        .unwrap_err()
        .to_string();
    assert!(got.starts_with("waivers.toml:12:11: "), "{got}");

    let text = r#"
[[waiver]]
check = "no.such"
reason = ""
expires = "soon"
"#;
    let got = Waivers::parse(text, "waivers.toml", &c)
        .unwrap_err()
        .to_string();
    assert_eq!(
        got,
        "\
waivers.toml:2:1: `waiver.owner`: missing `owner`
waivers.toml:2:1: `waiver`: say which hosts it covers: `host_id`, `hostname` or `labels` (a waiver for every host is a catalogue or profile change)
waivers.toml:3:9: `waiver.check`: unknown check `no.such`
waivers.toml:4:10: `waiver.reason`: must not be empty
waivers.toml:5:11: `waiver.expires`: `soon` is not a date; write the last day it applies, e.g. 2026-12-31"
    );
}

// ---------------------------------------------------------------------------------
// Profiles

#[test]
fn profiles_select_weight_and_set_params() {
    let c = catalogue();
    let text = r#"
name = "endpoint-security"
description = "Security checks for laptops and desktops."
fail_below = 0.8

[select]
categories = ["security", "lifecycle"]
tags = ["endpoint"]
include_ids = ["os.kernel-known"]
exclude_ids = []

[checks."os.supported"]
weight = 20
params = { warn_days = 400 }
"#;
    let profiles = Profiles::parse(&[("profiles/endpoint-security.toml", text)], &c).unwrap();
    let p = profiles.get("endpoint-security").unwrap();
    let plan = Plan::new(&c, &p, &Waivers::none());
    let ids: Vec<&str> = plan.checks().map(|pc| pc.check.id.as_str()).collect();
    assert_eq!(
        ids,
        ["os.supported", "ssh.no-root-login", "os.kernel-known"]
    );
    assert_eq!(plan.fail_below(), Some(0.8));
    assert_eq!(plan.profile(), "endpoint-security");
    let host = Host::new("h", healthy());
    let e = plan.evaluate(&host.r(), at("2026-01-01T00:00:00Z"));
    let os = result(&e, "os.supported");
    assert_eq!(os.weight, 20.0);
    // End of support (2030-01-01) is more than 400 days away; later it is not.
    assert_eq!(os.status, Status::Pass);
    let e = plan.evaluate(&host.r(), at("2029-01-01T00:00:00Z"));
    assert_eq!(result(&e, "os.supported").status, Status::Fail);

    assert!(profiles.get(BASELINE).is_some(), "baseline always exists");
    assert_eq!(profiles.names(), ["baseline", "endpoint-security"]);
    assert!(profiles.get("nope").is_none());
}

#[test]
fn profile_errors_are_all_reported() {
    let c = catalogue();
    let text = r#"
fail_below = 1.5

[select]
ids = ["os.supported", "gone"]
categories = ["securty"]
severities = ["urgent"]
exclude_tags = ["Bad"]

[checks."nope"]
weight = 2

[checks."disk.headroom"]
weight = -1
params = { min_available_ratio = "lots", max = 1 }
"#;
    let got = Profiles::parse(&[("profiles/p.toml", text)], &c)
        .unwrap_err()
        .to_string();
    assert_eq!(
        got,
        "\
profiles/p.toml:2:14: `fail_below`: `1.5` is outside 0–1 (a score is a ratio)
profiles/p.toml:5:24: `select.ids`: unknown check `gone`
profiles/p.toml:6:15: `select.categories`: unknown category `securty`; expected one of lifecycle, security, capacity, resilience, operations, sustainability
profiles/p.toml:7:15: `select.severities`: unknown severity `urgent`; expected one of critical, high, medium, low, info
profiles/p.toml:8:17: `select.exclude_tags`: `Bad` is not a valid tag
profiles/p.toml:10:9: `checks.nope`: unknown check `nope`
profiles/p.toml:13:9: `checks.disk.headroom`: check `disk.headroom` is not selected by this profile, so it cannot be overridden
profiles/p.toml:14:10: `checks.disk.headroom.weight`: weight must be a number ≥ 0, not -1
profiles/p.toml:15:34: `checks.disk.headroom.params.min_available_ratio`: `lots` is a string, but the param's default is a float
profiles/p.toml:15:42: `checks.disk.headroom.params.max`: check `disk.headroom` has no param `max` (declared: min_available_ratio)"
    );
}

#[test]
fn one_load_reports_checks_profiles_and_waivers_together() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("checks")).unwrap();
    std::fs::create_dir(dir.path().join("profiles")).unwrap();
    std::fs::write(dir.path().join("checks/a.toml"), "[[check]]\nid = \"a\"\ntitle = \"A\"\ncategory = \"security\"\nseverity = \"low\"\nremediation = \"x\"\npass = \"facts.x ==\"\n").unwrap();
    std::fs::write(
        dir.path().join("profiles/p.toml"),
        "[checks.a]\nweight = 1\n[checks.b]\nweight = 1\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("waivers.toml"), "[[waiver]]\ncheck = \"b\"\nhost_id = \"h\"\nreason = \"r\"\nowner = \"o\"\nexpires = 2026-01-01\n").unwrap();
    let paths = ChecksPaths::under(dir.path());
    let err = ChecksConfig::load(&paths).unwrap_err();
    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].contains("checks/a.toml:7:19: `check.pass`: Syntax error"),
        "{text}"
    );
    assert!(
        lines[1].ends_with("profiles/p.toml:3:9: `checks.b`: unknown check `b`"),
        "{text}"
    );
    assert!(
        lines[2].ends_with("waivers.toml:2:9: `waiver.check`: unknown check `b`"),
        "{text}"
    );
    assert_eq!(err.issue_count(), 3);

    std::fs::write(dir.path().join("checks/a.toml"), "[[check]]\nid = \"a\"\ntitle = \"A\"\ncategory = \"security\"\nseverity = \"low\"\nremediation = \"x\"\npass = \"facts.x\"\n").unwrap();
    std::fs::write(
        dir.path().join("profiles/p.toml"),
        "[checks.a]\nweight = 7\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("waivers.toml"), "").unwrap();
    let config = ChecksConfig::load(&paths).unwrap();
    let plan = config.plan("p").unwrap();
    assert_eq!(plan.checks().next().unwrap().weight, 7.0);
    assert_eq!(config.plan(BASELINE).unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------
// Fixtures

#[test]
fn the_example_fixtures_pass_and_cover_every_check() {
    let report = FixtureReport::run(&catalogue());
    assert!(report.ok(), "{report}");
    assert_eq!(report.outcomes.len(), 13);
    assert_eq!(
        report.to_string(),
        "4 checks, 13 fixtures: 13 passed, 0 failed; 0 missing fixtures"
    );
}

#[test]
fn a_wrong_fixture_and_missing_coverage_are_reported() {
    let text = r#"
[[check]]
id = "a"
title = "A"
category = "security"
severity = "low"
remediation = "x"
applies = "has(facts.x)"
pass = "facts.x > 1"
evidence = "facts.x"

[[check.fixture]]
name = "two"
expect = "fail"
facts = { x = 2 }

[[check.fixture]]
name = "evidence"
expect = "pass"
facts = { x = 3 }
expect_evidence = 4
"#;
    let c = Catalogue::parse(&[("c.toml", text)]).unwrap();
    let report = FixtureReport::run(&c);
    assert!(!report.ok());
    assert_eq!(
        report.to_string(),
        "\
c.toml:12:1: a / two: FAILED: expected fail, got pass
c.toml:17:1: a / evidence: FAILED: expected evidence 4, got 3
c.toml:2:1: check `a` needs a fixture where it does not apply (expect = \"not_applicable\"), as it has `applies`
1 checks, 2 fixtures: 0 passed, 2 failed; 1 missing fixtures"
    );
    assert_eq!(
        missing_fixtures(&c)
            .iter()
            .map(|m| m.missing)
            .collect::<Vec<_>>(),
        [Coverage::NotApplicable]
    );
}
