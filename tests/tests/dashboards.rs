//! The Grafana dashboards and Prometheus rules of `dashboards/` against the real thing
//! (issue 6).
//!
//! - [`dashboards_are_complete_and_importable`] (offline): every dashboard has a stable
//!   uid, a version, schemaVersion ≥ 39, a `datasource` variable of type prometheus that
//!   every panel and target uses, a unit on every panel, no template variable it does not
//!   define, and only recorded series that the rule files record; every alert's runbook
//!   section exists in `docs/alerts.md`.
//! - [`promtool_accepts_the_rules_and_the_config`]: `promtool check rules`, `promtool check
//!   config` on the shipped `prometheus.yml`, and the rules' unit tests (`promtool test
//!   rules`).
//! - [`every_dashboard_and_rule_expression_has_data_in_a_real_prometheus`]: a collector
//!   with per-host metrics, three real agents on the recorded sysroots and two hosts that
//!   stopped reporting two hours ago (golden reports), scraped every second by a real
//!   `prometheus` (as two replicas, so that every join must cope with duplicates) that
//!   loads the shipped rule files. Every PromQL expression of every panel target and
//!   template variable, and every recording and alert rule, is evaluated through
//!   Prometheus' HTTP API: none may error, and each must return data unless it is in
//!   [`ALLOWED_EMPTY`].
//!
//! `prometheus` and `promtool` come from Debian's `prometheus` package: the tests that need
//! them are skipped with a note when they are missing, and fail instead under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use estate_tests::{
    HttpResponse, Proc, free_local_port, http_get, http_post, logged_addr, poll_until,
    system_program, toml_string, url_encode, workspace_bin,
};
use serde_json::{Value, json};

/// Longest wait for a process to start or the collector to see every host.
const WAIT: Duration = Duration::from_secs(30);
/// Longest wait for every expression to have data once Prometheus runs.
const DATA_WAIT: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);

/// What the test substitutes for Grafana's built-in variables. Prometheus scrapes every
/// second here, so half a minute holds enough samples for `rate()`.
const BUILTINS: &[(&str, &str)] = &[
    ("__rate_interval", "30s"),
    ("__interval", "5s"),
    ("__range", "1m"),
    ("__range_s", "60"),
    ("__range_ms", "60000"),
];

/// Values the test picks for single-value variables, instead of the first value offered:
/// the host detail shows the `dell-r740` fixture (its `/etc/machine-id`), the one host with
/// RAPL counters, so that it has measured as well as modelled power. The value must be
/// among those the variable offers.
const PREFERRED_VALUES: &[(&str, &str)] = &[("host", "8f2b6c1d9e0a4b3c8d7e6f5a4b3c2d1e")];

/// What an expression in [`ALLOWED_EMPTY`] is expected to return in this test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Must return nothing: data would mean something is wrong in the test's estate.
    Empty,
    /// May or may not return data, depending on timing.
    MaybeEmpty,
}

/// The one list of expressions that legitimately return no data in this test, each with
/// why. Entries are named as in the failure messages: `alert NAME`, `record NAME`,
/// `DASHBOARD / PANEL / REFID`, `DASHBOARD / variable NAME`. Everything else must return
/// data. An entry that names nothing is an error too (the list must not go stale).
const ALLOWED_EMPTY: &[(&str, Expect, &str)] = &[
    // Alerts that must not fire on a healthy collector: they firing here is a defect.
    (
        "alert EstateCollectorDown",
        Expect::Empty,
        "both scrape targets are up",
    ),
    (
        "alert EstateIngestFailing",
        Expect::Empty,
        "the store is healthy and the writer queue far from full",
    ),
    (
        "alert EstateAssessmentsFailing",
        Expect::Empty,
        "every assessment succeeds and the queue is far from full",
    ),
    (
        "alert EstateCertificateExpiring",
        Expect::Empty,
        "no agent in this test probes a TLS service, so no host fails operations.tls-certificates",
    ),
    (
        "alert EstateCollectorCertificateExpiring",
        Expect::Empty,
        "the test's collectors serve plain HTTP: the certificate gauge exists only with [tls]",
    ),
    // Timing-dependent: a debug build on a busy machine may take over 0.5 s.
    (
        "alert EstateIngestSlow",
        Expect::MaybeEmpty,
        "ingest is normally far under 0.5 s (p99)",
    ),
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn dashboards_dir() -> PathBuf {
    repo().join("dashboards")
}

/// The files in `dir` whose names end with `suffix`, sorted.
fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(suffix))
        .collect();
    out.sort();
    out
}

/// Every dashboard of `dashboards/grafana/`, parsed.
fn dashboards() -> Vec<(PathBuf, Value)> {
    let found: Vec<_> = files(&dashboards_dir().join("grafana"), ".json")
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            (path, json)
        })
        .collect();
    assert!(!found.is_empty(), "no dashboards in dashboards/grafana/");
    found
}

/// The shipped rule files (`dashboards/prometheus/rules/*.yml`).
fn rule_files() -> Vec<PathBuf> {
    let found = files(&dashboards_dir().join("prometheus/rules"), ".yml");
    assert!(
        !found.is_empty(),
        "no rule files in dashboards/prometheus/rules/"
    );
    found
}

/// The values of `- KEY: VALUE` list items in the rule files (`record`, `alert`): enough
/// YAML for the offline checks; the live test reads the rules Prometheus parsed.
fn rule_names(key: &str) -> Vec<String> {
    let prefix = format!("- {key}:");
    rule_files()
        .iter()
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .filter_map(|line| line.trim().strip_prefix(&prefix))
                .map(|name| name.trim().trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Every panel of a dashboard, rows' nested panels included, rows themselves excluded.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        if panel["type"] == "row" {
            out.extend(panel["panels"].as_array().into_iter().flatten());
        } else {
            out.push(panel);
        }
    }
    out
}

fn variables(dashboard: &Value) -> &[Value] {
    dashboard["templating"]["list"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The query of a template variable (a string, or `{query: ...}` in newer Grafanas).
fn variable_query(variable: &Value) -> &str {
    variable["query"]["query"]
        .as_str()
        .or_else(|| variable["query"].as_str())
        .unwrap_or_default()
}

/// The names of the template variables `$name` / `${name}` / `${name:format}` in `text`.
fn variable_refs(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name: String = if let Some(braced) = rest.strip_prefix('{') {
            braced
                .chars()
                .take_while(|c| *c != '}' && *c != ':')
                .collect()
        } else {
            rest.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

/// `text` with each template variable replaced by its value; `Err` names a variable it
/// does not know.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, used) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text}"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name.to_owned(), end + 2)
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let used = name.len();
            (name, used)
        };
        let value = values
            .get(&name)
            .ok_or_else(|| format!("unknown variable ${name}"))?;
        out.push_str(value);
        rest = &rest[used..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The recorded series (`level:metric:operations`) named in a PromQL expression.
fn recorded_series(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.split(':').count() == 3 && word.split(':').all(|part| !part.is_empty()))
        .map(str::to_owned)
        .collect()
}

/// GitHub's anchors of the headings of a Markdown file.
fn markdown_anchors(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| {
            heading
                .trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The dashboards the issue asks for, by uid, with their titles.
const REQUIRED_DASHBOARDS: &[(&str, &str)] = &[
    ("estate-overview", "Estate overview"),
    ("estate-checks", "Estate health checks"),
    ("estate-host", "Estate host detail"),
    ("estate-carbon", "Estate carbon and migration"),
];

#[test]
fn dashboards_are_complete_and_importable() {
    let recorded: BTreeSet<String> = rule_names("record").into_iter().collect();
    assert!(!recorded.is_empty(), "no recording rules found");
    let mut problems = Vec::new();
    let mut uids = BTreeMap::new();
    for (path, dashboard) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut problem = |what: String| problems.push(format!("{file}: {what}"));
        let uid = dashboard["uid"].as_str().unwrap_or_default();
        if uid.is_empty() || uid.len() > 40 {
            problem(format!("uid {uid:?} must be 1 to 40 characters"));
        }
        if let Some(other) = uids.insert(uid.to_owned(), file.clone()) {
            problem(format!("uid {uid} is also {other}'s"));
        }
        if dashboard["title"].as_str().is_none_or(str::is_empty) {
            problem("no title".into());
        }
        if dashboard["version"].as_u64().is_none_or(|v| v < 1) {
            problem("version must be an integer ≥ 1".into());
        }
        if dashboard["schemaVersion"].as_u64().is_none_or(|v| v < 39) {
            problem(format!("schemaVersion {} < 39", dashboard["schemaVersion"]));
        }
        if !dashboard["id"].is_null() {
            problem("id must be null (Grafana assigns it on import)".into());
        }
        // The datasource variable, and every query variable using it.
        let vars = variables(&dashboard);
        let defined: BTreeSet<String> = vars
            .iter()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .chain(BUILTINS.iter().map(|(name, _)| (*name).to_owned()))
            .chain(["__data".to_owned(), "__url_time_range".to_owned()])
            .collect();
        match vars.iter().find(|v| v["name"] == "datasource") {
            Some(v) if v["type"] == "datasource" && v["query"] == "prometheus" => {}
            _ => problem("no `datasource` variable of type datasource, query prometheus".into()),
        }
        let uses_datasource =
            |v: &Value| v == &json!({"type": "prometheus", "uid": "${datasource}"});
        for var in vars.iter().filter(|v| v["type"] == "query") {
            if !uses_datasource(&var["datasource"]) {
                problem(format!(
                    "variable {} does not use ${{datasource}}",
                    var["name"]
                ));
            }
            for name in variable_refs(variable_query(var)) {
                if !defined.contains(&name) {
                    problem(format!("variable {} uses undefined ${name}", var["name"]));
                }
            }
        }
        // Panels: datasource, unit, targets, ids, layout.
        let mut ids = BTreeSet::new();
        let mut boxes: Vec<(String, [u64; 4])> = Vec::new();
        for panel in dashboard["panels"].as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or_default().to_owned();
            let g = &panel["gridPos"];
            let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap_or(u64::MAX));
            if x.saturating_add(w) > 24 || h == 0 || w == 0 {
                problem(format!("{title}: gridPos {g} outside the 24-column grid"));
            }
            for (other, [ox, oy, ow, oh]) in &boxes {
                if x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h {
                    problem(format!("{title}: overlaps {other}"));
                }
            }
            boxes.push((title, [x, y, w, h]));
        }
        for panel in panels(&dashboard) {
            let title = panel["title"].as_str().unwrap_or_default();
            if title.is_empty() {
                problem(format!("panel {} has no title", panel["id"]));
            }
            if !ids.insert(panel["id"].as_u64()) {
                problem(format!("{title}: id {} repeated", panel["id"]));
            }
            if !uses_datasource(&panel["datasource"]) {
                problem(format!("{title}: datasource is not ${{datasource}}"));
            }
            if panel["fieldConfig"]["defaults"]["unit"]
                .as_str()
                .is_none_or(str::is_empty)
            {
                problem(format!("{title}: no unit"));
            }
            if panel["description"].as_str().is_none_or(str::is_empty) {
                problem(format!("{title}: no description"));
            }
            let targets = panel["targets"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            if targets.is_empty() {
                problem(format!("{title}: no targets"));
            }
            let mut refs = BTreeSet::new();
            for target in targets {
                let expr = target["expr"].as_str().unwrap_or_default();
                if expr.is_empty() {
                    problem(format!("{title}: a target without expr"));
                }
                if !refs.insert(target["refId"].as_str().unwrap_or_default()) {
                    problem(format!("{title}: refId {} repeated", target["refId"]));
                }
                if !uses_datasource(&target["datasource"]) {
                    problem(format!(
                        "{title}: a target's datasource is not ${{datasource}}"
                    ));
                }
                for name in variable_refs(expr) {
                    if !defined.contains(&name) {
                        problem(format!("{title}: uses undefined ${name}"));
                    }
                }
                for series in recorded_series(expr) {
                    if !recorded.contains(&series) {
                        problem(format!(
                            "{title}: {series} is recorded by no rule in dashboards/prometheus/rules/"
                        ));
                    }
                }
            }
        }
        // Host detail: site -> role -> host, each narrowing the one before.
        if uid == "estate-host" {
            let query_of = |name: &str| {
                vars.iter()
                    .find(|v| v["name"] == name)
                    .map(variable_query)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (site, role, host) = (query_of("site"), query_of("role"), query_of("host"));
            for (name, query, narrowed_by) in [
                ("site", &site, &[][..]),
                ("role", &role, &["site"][..]),
                ("host", &host, &["site", "role"][..]),
            ] {
                if !query.contains("estate_host_info") {
                    problem(format!(
                        "variable {name} does not come from estate_host_info"
                    ));
                }
                let refs = variable_refs(query);
                for by in narrowed_by {
                    if !refs.contains(*by) {
                        problem(format!("variable {name} is not narrowed by ${by}"));
                    }
                }
            }
        }
    }
    for (uid, title) in REQUIRED_DASHBOARDS {
        let found = dashboards()
            .into_iter()
            .any(|(_, d)| d["uid"] == *uid && d["title"] == *title);
        if !found {
            problems.push(format!("missing dashboard {uid} ({title})"));
        }
    }
    // Provisioning: a Prometheus data source and a file provider.
    let provisioning = dashboards_dir().join("provisioning");
    let datasources: String = files(&provisioning.join("datasources"), ".yaml")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    if !datasources.contains("type: prometheus") {
        problems.push("provisioning/datasources/*.yaml: no prometheus data source".into());
    }
    let providers: String = files(&provisioning.join("dashboards"), ".yaml")
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    if !(providers.contains("type: file") && providers.contains("path:")) {
        problems.push("provisioning/dashboards/*.yaml: no file provider with a path".into());
    }
    // Every alert's runbook is a section of docs/alerts.md.
    let anchors = markdown_anchors(&repo().join("docs/alerts.md"));
    let alerts = rule_names("alert");
    assert!(!alerts.is_empty(), "no alert rules found");
    let runbooks: Vec<String> = rule_files()
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .filter_map(|l| l.trim().strip_prefix("runbook_url:"))
                .map(|u| u.trim().trim_matches('"').to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for alert in &alerts {
        let anchor = alert.to_lowercase();
        if !anchors.contains(&anchor) {
            problems.push(format!("docs/alerts.md has no section `## {alert}`"));
        }
        let url = format!("docs/alerts.md#{anchor}");
        if !runbooks.contains(&url) {
            problems.push(format!("alert {alert}: no runbook_url {url}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

#[test]
fn promtool_accepts_the_rules_and_the_config() {
    let test = "promtool_accepts_the_rules_and_the_config";
    let Some(promtool) = system_program("promtool", "prometheus", test) else {
        return;
    };
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(repo())
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "promtool {args:?} failed:\n{said}");
        said
    };
    let rules = rule_files();
    let mut args = vec![std::ffi::OsStr::new("check"), "rules".as_ref()];
    args.extend(rules.iter().map(|p| p.as_os_str()));
    let said = run(&args);
    assert_eq!(said.matches("SUCCESS").count(), rules.len(), "{said}");

    let config = dashboards_dir().join("prometheus/prometheus.yml");
    let said = run(&["check".as_ref(), "config".as_ref(), config.as_os_str()]);
    // The shipped config loads every shipped rule file.
    assert!(
        said.contains(&format!("SUCCESS: {} rule files found", rules.len())),
        "{said}"
    );

    let tests = files(&dashboards_dir().join("prometheus/tests"), ".yml");
    assert!(!tests.is_empty(), "no rule unit tests");
    let mut args = vec![std::ffi::OsStr::new("test"), "rules".as_ref()];
    args.extend(tests.iter().map(|p| p.as_os_str()));
    run(&args);
}

// ------------------------------------------------------------------------------------
// The live estate: a collector, three agents, two silent hosts.

/// The enrolment token of the test's collector.
const ENROLMENT_TOKEN: &str = "dashboards-e2e-enrolment-token-0123456789";

/// Agents run on the recorded sysroots, each with its site and role labels.
const AGENTS: &[(&str, &str, &str)] = &[
    ("debian-kvm", "county-hall", "web"),
    ("dell-r740", "county-hall", "database"),
    ("neglected-ubuntu1604", "depot", "files"),
];

/// Golden reports posted once, two hours ago, under other host ids: hosts that stopped
/// reporting (stale).
const SILENT: &[(&str, &str, &str, &str, &str)] = &[
    // example, host id, hostname, site, role
    (
        "full-report-debian-vm",
        "e2e-silent-web",
        "silent-web01",
        "library",
        "web",
    ),
    (
        "full-report-dell-r740",
        "e2e-silent-db",
        "silent-db01",
        "depot",
        "database",
    ),
];

/// Waivers: one expired (so EstateWaiverExpired has something to say), one active.
const WAIVERS: &str = r#"
[[waiver]]
check = "security.no-telnet"
hostname = "legacy-files01"
reason = "dashboards e2e: a waiver that has expired"
owner = "e2e@example.invalid"
expires = 2020-01-31

[[waiver]]
check = "resilience.dns-redundant"
hostname = "app-web02"
reason = "dashboards e2e: an active waiver"
owner = "e2e@example.invalid"
expires = 2999-12-31
"#;

struct Estate {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    // Dropped (killed) after Prometheus, which the test owns separately.
    collector: Proc,
    agents: Vec<Proc>,
}

impl Estate {
    fn start() -> Estate {
        let dir = tempfile::Builder::new()
            .prefix("estate-dashboards-")
            .tempdir()
            .unwrap();
        let path = |name: &str| dir.path().join(name);
        std::fs::write(path("enrolment-token"), format!("{ENROLMENT_TOKEN}\n")).unwrap();
        std::fs::create_dir(path("config")).unwrap();
        std::fs::write(path("config/waivers.toml"), WAIVERS).unwrap();
        std::fs::write(
            path("server.toml"),
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nstale_after_secs = 60\n\n\
                 [storage]\nsqlite_path = {}\n\n\
                 [auth]\nenrolment_token_file = {}\n\n\
                 [metrics]\nper_host = true\nrefresh_secs = 1\n\n\
                 [checks]\nconfig_dir = \"config\"\n",
                toml_string(&path("estate.db")),
                toml_string(&path("enrolment-token")),
            ),
        )
        .unwrap();
        let mut command = Command::new(workspace_bin("estate-server"));
        command
            .arg("serve")
            .arg("--config")
            .arg(path("server.toml"))
            .env("RUST_LOG", "info")
            .env_remove("ESTATE_LOG");
        let mut collector = Proc::spawn("estate-server", command, &path("server.log")).unwrap();
        let addr = logged_addr(&mut collector, "collector listening", WAIT).unwrap_or_else(|| {
            panic!(
                "the collector did not start listening\n{}",
                collector.log_tail(40)
            )
        });
        let mut estate = Estate {
            dir,
            addr,
            collector,
            agents: Vec::new(),
        };
        for (fixture, site, role) in AGENTS {
            estate.start_agent(fixture, site, role);
        }
        for (n, (example, host_id, hostname, site, role)) in SILENT.iter().enumerate() {
            estate.post_silent_host(n, example, host_id, hostname, site, role);
        }
        estate
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn start_agent(&mut self, fixture: &str, site: &str, role: &str) {
        let config = self.path(&format!("agent-{fixture}.toml"));
        std::fs::write(
            &config,
            format!(
                "[collector]\nurl = \"http://{}\"\nenrolment_token_file = {}\n\n\
                 [agent]\nstate_dir = {}\nreport_interval_secs = 1\nsample_interval_secs = 1\n\n\
                 [labels]\nsite = \"{site}\"\nrole = \"{role}\"\n",
                self.addr,
                toml_string(&self.path("enrolment-token")),
                toml_string(&self.path(&format!("agent-{fixture}"))),
            ),
        )
        .unwrap();
        let root = repo().join("agent/tests/fixtures/sysroots").join(fixture);
        let mut command = Command::new(workspace_bin("estate-agent"));
        command
            .arg("run")
            .arg("--config")
            .arg(&config)
            .arg("--root")
            .arg(root)
            .env("ESTATE_LOG", "info");
        let log = self.path(&format!("agent-{fixture}.log"));
        self.agents
            .push(Proc::spawn(&format!("estate-agent {fixture}"), command, &log).unwrap());
    }

    /// Enrols `host_id` and posts the golden report `example` as its only report,
    /// collected two hours ago.
    fn post_silent_host(
        &self,
        n: usize,
        example: &str,
        host_id: &str,
        hostname: &str,
        site: &str,
        role: &str,
    ) {
        let enrol = http_post(
            self.addr,
            "/api/v1/enrol",
            Some(ENROLMENT_TOKEN),
            "application/json",
            json!({"host_id": host_id, "hostname": hostname})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(enrol.status, 200, "enrol {host_id}: {}", enrol.body);
        let token: Value = serde_json::from_str(&enrol.body).unwrap();
        let token = token["agent_token"].as_str().unwrap().to_owned();

        let text =
            std::fs::read_to_string(repo().join(format!("protocol/examples/{example}.json")))
                .unwrap();
        let mut report: Value = serde_json::from_str(&text).unwrap();
        let collected = chrono::Utc::now() - chrono::Duration::hours(2);
        let rfc3339 = |t: chrono::DateTime<chrono::Utc>| {
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        report["host_id"] = json!(host_id);
        report["hostname"] = json!(hostname);
        report["labels"] = json!({"site": site, "role": role});
        report["report_id"] = json!(format!("00000000-0000-4000-8000-{n:012}"));
        report["collected_at"] = json!(rfc3339(collected));
        report["window"] = json!({
            "start": rfc3339(collected - chrono::Duration::minutes(5)),
            "end": rfc3339(collected),
        });
        let posted = http_post(
            self.addr,
            "/api/v1/reports",
            Some(&token),
            "application/json",
            report.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(posted.status, 200, "report of {host_id}: {}", posted.body);
    }

    /// A report without a token (`401 unauthenticated`): keeps the rejected-ingest counter
    /// moving, so that the rate of rejections is above zero.
    fn post_unauthenticated(&self) {
        let answer = http_post(
            self.addr,
            "/api/v1/reports",
            None,
            "application/json",
            b"{}",
        )
        .expect("POST /api/v1/reports");
        assert_eq!(answer.status, 401, "{}", answer.body);
    }

    /// Waits until `/metrics` shows every host assessed: 3 reporting, 2 stale, 5 bands.
    fn wait_for_every_host(&self) {
        let expected_hosts = AGENTS.len() + SILENT.len();
        let seen = poll_until(WAIT, POLL, || {
            let metrics = http_get(self.addr, "/metrics").ok()?.body;
            let has = |line: String| metrics.lines().any(|l| l.trim() == line);
            let bands = metrics
                .lines()
                .filter(|l| l.starts_with("estate_host_band{"))
                .count();
            (has(format!(
                "estate_hosts{{state=\"reporting\"}} {}",
                AGENTS.len()
            )) && has(format!("estate_hosts{{state=\"stale\"}} {}", SILENT.len()))
                && bands == expected_hosts)
                .then_some(())
        });
        assert!(
            seen.is_some(),
            "the collector did not see {expected_hosts} assessed hosts\n{}",
            self.diagnostics()
        );
    }

    fn diagnostics(&self) -> String {
        let mut out = self.collector.log_tail(30);
        for agent in &self.agents {
            out.push('\n');
            out.push_str(&agent.log_tail(5));
        }
        out
    }
}

// ------------------------------------------------------------------------------------
// Prometheus.

struct Prometheus {
    addr: SocketAddr,
    process: Proc,
}

impl Prometheus {
    /// Starts `prometheus` scraping the collector every second as two replicas (the same
    /// target under two `instance` labels), evaluating `rules` every second, with its
    /// TSDB in `dir`; waits until it is ready.
    fn start(binary: &Path, dir: &Path, collector: SocketAddr, rules: &[PathBuf]) -> Prometheus {
        let rule_list: String = rules
            .iter()
            .map(|p| {
                format!(
                    "  - {}\n",
                    serde_json::to_string(&p.display().to_string()).unwrap()
                )
            })
            .collect();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n{rule_list}\
                 scrape_configs:\n  - job_name: estate\n    static_configs:\n\
                 \x20     - targets: [\"{collector}\"]\n        labels: {{instance: replica-a}}\n\
                 \x20     - targets: [\"{collector}\"]\n        labels: {{instance: replica-b}}\n"
            ),
        )
        .unwrap();
        let mut last_log = String::new();
        for attempt in 1..=3 {
            let port = free_local_port().unwrap();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let mut command = Command::new(binary);
            command
                .arg(format!("--config.file={}", config.display()))
                .arg(format!(
                    "--storage.tsdb.path={}",
                    dir.join("tsdb").display()
                ))
                .arg(format!("--web.listen-address={addr}"))
                .arg("--log.level=info");
            let log = dir.join(format!("prometheus-{attempt}.log"));
            let mut process = Proc::spawn("prometheus", command, &log).unwrap();
            let ready = poll_until(WAIT, POLL, || {
                if process.try_wait().is_some() {
                    return Some(false);
                }
                let answer = http_get(addr, "/-/ready").ok()?;
                (answer.status == 200).then_some(true)
            });
            if ready == Some(true) {
                return Prometheus { addr, process };
            }
            last_log = process.log_tail(30);
            // Most likely the port was taken in between: try another.
        }
        panic!("prometheus did not become ready\n{last_log}");
    }

    fn get(&self, path: &str) -> Result<Value, String> {
        let HttpResponse { status, body } =
            http_get(self.addr, path).map_err(|e| format!("GET {path}: {e}"))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET {path}: {status}, not JSON ({e}): {body}"))?;
        if json["status"] != "success" {
            return Err(format!(
                "{}: {}",
                json["errorType"].as_str().unwrap_or("error"),
                json["error"].as_str().unwrap_or(&body)
            ));
        }
        Ok(json["data"].clone())
    }

    /// An instant query's result: its samples (a scalar counts as one).
    fn query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let data = self.get(&format!("/api/v1/query?query={}", url_encode(promql)))?;
        Ok(match data["resultType"].as_str() {
            Some("scalar") | Some("string") => vec![data["result"].clone()],
            _ => data["result"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// A range query's series over the last 30 s, one step a second.
    fn query_range(&self, promql: &str) -> Result<Vec<Value>, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let data = self.get(&format!(
            "/api/v1/query_range?query={}&start={}&end={now}&step=1",
            url_encode(promql),
            now - 30
        ))?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }
}

// ------------------------------------------------------------------------------------
// What is evaluated.

/// One expression to evaluate, named for the failure message and [`ALLOWED_EMPTY`].
#[derive(Debug, Clone)]
struct Expression {
    name: String,
    promql: String,
    /// Also evaluate as a range query (a time-series panel's target).
    range: bool,
}

/// What one expression returned: how many series or values, or Prometheus' error.
#[derive(Debug, Clone)]
struct Outcome {
    name: String,
    promql: String,
    result: Result<usize, String>,
}

/// Resolves a dashboard's template variables in order, the way Grafana does, through
/// Prometheus: `label_values(EXPR, LABEL)` and `query_result(EXPR)` (with a regex naming
/// the `value` and `text` labels). A multi-value variable with "All" takes its all-value;
/// any other the first value, sorted. Answers the values to substitute and the
/// variables' own expressions (their outcome included).
fn resolve_variables(
    prometheus: &Prometheus,
    title: &str,
    dashboard: &Value,
    problems: &mut Vec<String>,
    evaluated: &mut Vec<Outcome>,
) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = BUILTINS
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for var in variables(dashboard) {
        let name = var["name"].as_str().unwrap_or_default().to_owned();
        let kind = var["type"].as_str().unwrap_or_default();
        match kind {
            "datasource" => {
                values.insert(name, "prometheus".into());
            }
            "textbox" | "constant" | "custom" => {
                values.insert(name, variable_query(var).to_owned());
            }
            "query" => {
                let origin = format!("{title} / variable {name}");
                let query = match substitute(variable_query(var), &values) {
                    Ok(query) => query,
                    Err(e) => {
                        problems.push(format!("{origin}: {e}"));
                        continue;
                    }
                };
                let found =
                    variable_values(prometheus, &query, var["regex"].as_str().unwrap_or(""));
                evaluated.push(Outcome {
                    name: origin,
                    promql: query,
                    result: found.as_ref().map(Vec::len).map_err(Clone::clone),
                });
                let found = found.unwrap_or_default();
                let preferred = PREFERRED_VALUES
                    .iter()
                    .find(|(var, _)| *var == name)
                    .map(|(_, value)| (*value).to_owned());
                let value = if var["includeAll"] == true {
                    var["allValue"].as_str().unwrap_or(".*").to_owned()
                } else if let Some(preferred) = preferred {
                    if !found.contains(&preferred) {
                        problems.push(format!(
                            "{title} / variable {name}: {preferred} not among {found:?}"
                        ));
                    }
                    preferred
                } else {
                    // An empty value makes the variable's dependants return nothing, which
                    // their own checks report.
                    found.first().cloned().unwrap_or_default()
                };
                values.insert(name, value);
            }
            other => problems.push(format!(
                "{title}: variable {name} of type {other} is not handled by this test"
            )),
        }
    }
    values
}

/// The values of a query variable, sorted.
fn variable_values(
    prometheus: &Prometheus,
    query: &str,
    regex: &str,
) -> Result<Vec<String>, String> {
    let call = |prefix: &str| {
        query
            .trim()
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(')'))
            .map(str::trim)
    };
    let mut values = BTreeSet::new();
    if let Some(args) = call("label_values(") {
        if !regex.is_empty() {
            return Err(format!(
                "regex {regex} on label_values is not handled by this test"
            ));
        }
        let (expr, label) = match args.rsplit_once(',') {
            Some((expr, label)) => (expr.trim(), label.trim()),
            None => {
                return Err(
                    "label_values(LABEL) without a series is not handled by this test".into(),
                );
            }
        };
        for sample in prometheus.query(expr)? {
            if let Some(v) = sample["metric"][label].as_str().filter(|v| !v.is_empty()) {
                values.insert(v.to_owned());
            }
        }
    } else if let Some(expr) = call("query_result(") {
        // The regex names a label as `value` (and one as `text`): LABEL="(?<value>...)".
        let group_label = |group: &str| {
            let at = regex.find(&format!("=\"(?<{group}>"))?;
            let label: String = regex[..at]
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            (!label.is_empty()).then_some(label)
        };
        let (Some(value_label), Some(text_label)) = (group_label("value"), group_label("text"))
        else {
            return Err(format!(
                "query_result regex {regex:?} does not name LABEL=\"(?<value>...)\" and LABEL=\"(?<text>...)\""
            ));
        };
        for sample in prometheus.query(expr)? {
            let metric = &sample["metric"];
            match (metric[&value_label].as_str(), metric[&text_label].as_str()) {
                (Some(value), Some(_)) => {
                    values.insert(value.to_owned());
                }
                _ => {
                    return Err(format!(
                        "a result without {value_label} or {text_label}: {metric}"
                    ));
                }
            }
        }
    } else {
        return Err(format!(
            "query {query:?} is not label_values(...) or query_result(...)"
        ));
    }
    Ok(values.into_iter().collect())
}

/// Every panel target of every dashboard, with its variables substituted.
fn dashboard_expressions(
    prometheus: &Prometheus,
    problems: &mut Vec<String>,
    evaluated: &mut Vec<Outcome>,
) -> Vec<Expression> {
    let mut out = Vec::new();
    for (_, dashboard) in dashboards() {
        let title = dashboard["title"].as_str().unwrap_or_default().to_owned();
        let values = resolve_variables(prometheus, &title, &dashboard, problems, evaluated);
        for panel in panels(&dashboard) {
            let panel_title = panel["title"].as_str().unwrap_or_default();
            for target in panel["targets"].as_array().into_iter().flatten() {
                let name = format!(
                    "{title} / {panel_title} / {}",
                    target["refId"].as_str().unwrap_or("?")
                );
                let expr = target["expr"].as_str().unwrap_or_default();
                match substitute(expr, &values) {
                    Ok(promql) => out.push(Expression {
                        name,
                        promql,
                        range: target["range"] == true,
                    }),
                    Err(e) => problems.push(format!("{name}: {e}")),
                }
            }
        }
    }
    out
}

/// Every recording and alert rule Prometheus loaded (and the recorded series themselves),
/// after checking that it loaded exactly the shipped files, every rule healthy, and every
/// alert annotated.
fn rule_expressions(
    prometheus: &Prometheus,
    rules: &[PathBuf],
    problems: &mut Vec<String>,
) -> Vec<Expression> {
    let data = match prometheus.get("/api/v1/rules") {
        Ok(data) => data,
        Err(e) => {
            problems.push(format!("/api/v1/rules: {e}"));
            return Vec::new();
        }
    };
    let groups = data["groups"].as_array().cloned().unwrap_or_default();
    let loaded: BTreeSet<String> = groups
        .iter()
        .filter_map(|g| g["file"].as_str().map(str::to_owned))
        .collect();
    let shipped: BTreeSet<String> = rules.iter().map(|p| p.display().to_string()).collect();
    if loaded != shipped {
        problems.push(format!(
            "Prometheus loaded rule files {loaded:?}, expected {shipped:?}"
        ));
    }
    let expected_rules = rule_names("record").len() + rule_names("alert").len();
    let mut out = Vec::new();
    for rule in groups
        .iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
    {
        let name = rule["name"].as_str().unwrap_or_default();
        let kind = if rule["type"] == "alerting" {
            "alert"
        } else {
            "record"
        };
        let origin = format!("{kind} {name}");
        match rule["health"].as_str() {
            Some("ok") => {}
            Some("unknown") => problems.push(format!("{origin}: not evaluated yet")),
            other => problems.push(format!(
                "{origin}: health {other:?}: {}",
                rule["lastError"].as_str().unwrap_or_default()
            )),
        }
        if kind == "alert" {
            for key in ["summary", "description", "runbook_url"] {
                if rule["annotations"][key].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{origin}: no {key} annotation"));
                }
            }
            if rule["labels"]["severity"].as_str().is_none() {
                problems.push(format!("{origin}: no severity label"));
            }
        } else {
            // The series it records, as the dashboards read it.
            out.push(Expression {
                name: format!("series {name}"),
                promql: name.to_owned(),
                range: false,
            });
        }
        out.push(Expression {
            name: origin,
            promql: rule["query"].as_str().unwrap_or_default().to_owned(),
            range: false,
        });
    }
    let found = out
        .iter()
        .filter(|e| !e.name.starts_with("series "))
        .count();
    if found != expected_rules {
        problems.push(format!(
            "Prometheus has {found} rules, the rule files {expected_rules}"
        ));
    }
    out
}

/// One round: evaluates everything; answers the problems (empty when all is well) and
/// how many expressions were evaluated.
fn evaluate_everything(prometheus: &Prometheus, rules: &[PathBuf]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let mut evaluated: Vec<Outcome> = Vec::new();
    let mut expressions = dashboard_expressions(prometheus, &mut problems, &mut evaluated);
    expressions.extend(rule_expressions(prometheus, rules, &mut problems));
    for expression in &expressions {
        let instant = prometheus.query(&expression.promql).map(|r| r.len());
        let has_data = instant.as_ref().is_ok_and(|n| *n > 0);
        evaluated.push(Outcome {
            name: expression.name.clone(),
            promql: expression.promql.clone(),
            result: instant,
        });
        if expression.range && has_data {
            evaluated.push(Outcome {
                name: format!("{} (range)", expression.name),
                promql: expression.promql.clone(),
                result: prometheus.query_range(&expression.promql).map(|r| r.len()),
            });
        }
    }
    let allowed: BTreeMap<&str, Expect> = ALLOWED_EMPTY.iter().map(|(n, e, _)| (*n, *e)).collect();
    for Outcome {
        name,
        promql: shown,
        result,
    } in &evaluated
    {
        match (result, allowed.get(name.as_str())) {
            (Err(e), _) => problems.push(format!("ERROR {name}: {e}\n      {shown}")),
            (Ok(0), None) => problems.push(format!("EMPTY {name}\n      {shown}")),
            (Ok(n), Some(Expect::Empty)) if *n > 0 => problems.push(format!(
                "NOT EMPTY {name} ({n} series; allow-listed as empty)\n      {shown}"
            )),
            _ => {}
        }
    }
    for (name, _, _) in ALLOWED_EMPTY {
        if !evaluated.iter().any(|o| o.name == *name) {
            problems.push(format!(
                "ALLOWED_EMPTY names {name}, which no dashboard or rule has"
            ));
        }
    }
    (problems, evaluated.len())
}

#[test]
fn every_dashboard_and_rule_expression_has_data_in_a_real_prometheus() {
    let test = "every_dashboard_and_rule_expression_has_data_in_a_real_prometheus";
    let Some(binary) = system_program("prometheus", "prometheus", test) else {
        return;
    };
    let started = Instant::now();
    let estate = Estate::start();
    estate.wait_for_every_host();
    let rules = rule_files();
    let prometheus = Prometheus::start(&binary, estate.dir.path(), estate.addr, &rules);

    // Both targets scraped.
    let up = poll_until(WAIT, POLL, || {
        let targets = prometheus.get("/api/v1/targets").ok()?;
        let active = targets["activeTargets"].as_array()?.clone();
        (active.len() == 2 && active.iter().all(|t| t["health"] == "up")).then_some(())
    });
    assert!(
        up.is_some(),
        "prometheus did not scrape both targets\n{}\n{}",
        prometheus.process.log_tail(30),
        estate.diagnostics()
    );

    // Poll until every expression has data (counters need two scrapes, rules an
    // evaluation, rates a window), or the time is up.
    let deadline = Instant::now() + DATA_WAIT;
    let (problems, count) = loop {
        estate.post_unauthenticated();
        let (problems, count) = evaluate_everything(&prometheus, &rules);
        if problems.is_empty() || Instant::now() >= deadline {
            break (problems, count);
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        problems.is_empty(),
        "{} of {count} expressions have a problem after {:?}:\n  {}\n{}\n{}",
        problems.len(),
        started.elapsed(),
        problems.join("\n  "),
        prometheus.process.log_tail(20),
        estate.diagnostics()
    );
    eprintln!(
        "{count} expressions evaluated, all as expected, after {:?}",
        started.elapsed()
    );
    // Prometheus is dropped (killed) first, then the estate's agents and collector.
    drop(prometheus);
    drop(estate);
}

#[test]
fn substitute_replaces_every_form_and_names_the_unknown() {
    let values: BTreeMap<String, String> =
        [("host", "h1"), ("hostname", "web01"), ("__range", "1m")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    assert_eq!(
        substitute(
            r#"x{host_id="$host",n="${hostname}"}[$__range] ${host:regex}"#,
            &values
        )
        .unwrap(),
        r#"x{host_id="h1",n="web01"}[1m] h1"#
    );
    assert_eq!(
        substitute("$site", &values).unwrap_err(),
        "unknown variable $site"
    );
    assert_eq!(
        variable_refs("a{b=~\"$site\"} ${role} ${host:csv} $__rate_interval"),
        ["__rate_interval", "host", "role", "site"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    assert_eq!(
        recorded_series("sum(job:estate_hosts:sum{job=\"$job\"}) / estate_hosts"),
        ["job:estate_hosts:sum".to_owned()].into_iter().collect()
    );
}
