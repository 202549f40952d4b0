//! `estate-server report` end to end, on a store filled by ingesting the fixture
//! reports (the real binary, every format, "what changed" against the previous JSON,
//! stored and on-the-fly assessments); the `[reports]` section of `server.toml`; and the
//! collector writing reports on its schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use estate_server::assess::{AssessConfig, Assessor};
use estate_server::config::{Backend, ServerConfig};
use estate_server::report::schedule::ReportsConfig;
use estate_server::report::{Format, When};
use serde_json::Value;

const REPORTS: [&str; 3] = [
    "fixtures/reports/dell-r740.json",
    "fixtures/reports/debian-kvm.json",
    "fixtures/reports/neglected.json",
];
const AT: &str = "2026-11-27T10:00:00Z";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_estate-server"))
        .args(args)
        .current_dir(manifest_dir().join("tests"))
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config with a temporary SQLite store holding the three fixture reports; with
/// `assess`, each host's assessment is stored too (as the collector's worker does).
fn store(dir: &Path, extra: &str, assess: bool) -> String {
    let config = dir.join("server.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nsqlite_path = \"{}\"\n{extra}",
            dir.join("estate.db").display()
        ),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = estate_server::open_store(&ServerConfig::load(&config).unwrap()).unwrap();
        let assessor = Arc::new(Assessor::load(&AssessConfig::default()).unwrap());
        for report in REPORTS {
            let raw = std::fs::read_to_string(manifest_dir().join("tests").join(report)).unwrap();
            let parsed = estate_server::ingest::parse_report(raw.as_bytes()).unwrap();
            let new =
                estate_server::ingest::to_new_report(&parsed, raw, parsed.collected_at).unwrap();
            let host = new.host_id.clone();
            store.ingest(new).await.unwrap();
            if assess {
                estate_server::pipeline::assess_host(store.as_ref(), &assessor, &host)
                    .await
                    .unwrap();
            }
        }
    });
    config.to_str().unwrap().to_owned()
}

fn json_report(config: &str, extra: &[&str]) -> Value {
    let mut args = vec!["report", "--config", config, "--format", "json"];
    if !extra.contains(&"--at") {
        args.extend_from_slice(&["--at", AT]);
    }
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_report_of_a_store_assesses_hosts_and_compares_with_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = store(dir.path(), "", false);

    let first = json_report(&config, &[]);
    assert_eq!(first["schema_version"], 1);
    assert_eq!(first["profile"], "baseline");
    let s = &first["summary"];
    // Nothing was stored by a collector: every host is assessed by the command.
    assert_eq!(
        (s["hosts"].as_u64(), s["assessed_hosts"].as_u64()),
        (Some(3), Some(3))
    );
    let hosts = first["hosts"].as_array().unwrap();
    assert!(
        hosts
            .iter()
            .all(|h| h["assessed_at"] == "2026-11-27T10:00:00Z")
    );
    // Worst first: the neglected file server.
    assert_eq!(hosts[0]["hostname"], "legacy-files01");
    assert!(hosts[0]["critical_failing"].as_u64().unwrap() > 0);
    let scores: Vec<f64> = hosts.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(first["carbon"]["onprem"]["hosts"], 3);
    assert!(
        first["carbon"]["onprem"]["total_kgco2e_per_year"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let scenarios: Vec<&str> = first["carbon"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios,
        ["azure-uksouth", "aws-london", "gcp-london", "retire-idle"]
    );
    assert!(
        !first["assumptions"]["factors"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(first["changes"].is_null());
    // The neglected host runs an OS out of support.
    assert!(first["lifecycle"]["os_ended_hosts"].as_u64().unwrap() >= 1);

    // The second report, a day later, against the first.
    let previous = dir.path().join("first.json");
    std::fs::write(&previous, serde_json::to_vec(&first).unwrap()).unwrap();
    let second = json_report(
        &config,
        &[
            "--previous",
            previous.to_str().unwrap(),
            "--at",
            "2026-11-28T10:00:00Z",
        ],
    );
    let c = &second["changes"];
    assert_eq!(c["previous_at"], "2026-11-27T10:00:00Z");
    assert!(c["new_hosts"].as_array().unwrap().is_empty());
    assert!(c["gone_hosts"].as_array().unwrap().is_empty());
    assert_eq!(second["history"].as_array().unwrap().len(), 2);
    assert!(second["summary"]["trend"].is_object());

    // One scenario; another profile.
    let aws = json_report(&config, &["--scenario", "aws-london", "--previous", "none"]);
    let only: Vec<&str> = aws["carbon"]["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(only, ["aws-london"]);
    assert!(aws["hosts"].as_array().unwrap().iter().all(|h| {
        h["carbon"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["case"] == "onprem" || c["case"] == "aws-london")
    }));
    let cloud = json_report(&config, &["--profile", "cloud-readiness"]);
    assert_eq!(cloud["profile"], "cloud-readiness");
    assert!(cloud["checks"].as_array().unwrap().len() < first["checks"].as_array().unwrap().len());

    // Usage errors exit 2 and say why.
    let bad = run(&[
        "report",
        "--config",
        &config,
        "--format",
        "json",
        "--scenario",
        "nope",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("no scenario `nope`"),
        "{}",
        text(&bad.stderr)
    );
    let csv = run(&["report", "--config", &config, "--format", "csv"]);
    assert_eq!(csv.status.code(), Some(2));
    assert!(
        text(&csv.stderr).contains("--out DIR"),
        "{}",
        text(&csv.stderr)
    );
    let unknown = run(&[
        "report",
        "--config",
        &config,
        "--format",
        "json",
        "--profile",
        "nope",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn every_format_is_written_from_stored_assessments() {
    let dir = tempfile::tempdir().unwrap();
    let config = store(dir.path(), "", true);

    let report = json_report(&config, &[]);
    // The stored assessments are used as they are (made when they were stored, not at
    // --at).
    let hosts = report["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 3);
    assert!(
        hosts
            .iter()
            .all(|h| h["assessed_at"] != "2026-11-27T10:00:00Z")
    );

    let html = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--config",
        &config,
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("wrote the html report of 3 hosts"));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    for name in ["legacy-files01", "srv-fin-db01", "app-web02"] {
        assert!(page.contains(name), "{name}");
    }
    for fetch in [" src=", "url(", "@import", "<script", "<link"] {
        assert!(!page.contains(fetch), "{fetch}");
    }

    let md = run(&["report", "--config", &config, "--format", "md"]);
    assert_eq!(md.status.code(), Some(0));
    assert!(text(&md.stdout).starts_with("# Estate health check\n"));

    let csv_dir = dir.path().join("csv");
    let out = run(&[
        "report",
        "--config",
        &config,
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut hosts_csv = csv::Reader::from_path(csv_dir.join("hosts.csv")).unwrap();
    let header = hosts_csv.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = hosts_csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for row in &rows {
        let score: f64 = row[col("score_ratio")].parse().unwrap();
        assert!((0.0..=1.0).contains(&score));
        assert!(chrono::DateTime::parse_from_rfc3339(&row[col("last_seen")]).is_ok());
        let kg: f64 = row[col("onprem_kgco2e_per_year")].parse().unwrap();
        assert!(kg > 0.0);
    }
    for file in ["checks.csv", "check-results.csv", "carbon.csv"] {
        let mut r = csv::Reader::from_path(csv_dir.join(file)).unwrap();
        assert!(r.records().map(Result::unwrap).count() > 0, "{file}");
    }
    let mut carbon = csv::Reader::from_path(csv_dir.join("carbon.csv")).unwrap();
    let h = carbon.headers().unwrap().clone();
    let energy = h.iter().position(|c| c == "energy_kwh_per_year").unwrap();
    for row in carbon.records().map(Result::unwrap) {
        row[energy].parse::<f64>().unwrap();
    }
}

#[test]
fn the_previous_report_defaults_to_the_newest_in_the_reports_dir() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let config = store(
        dir.path(),
        &format!(
            "[reports]\ndir = \"{}\"\nformats = [\"json\"]\n",
            reports.display()
        ),
        false,
    );
    std::fs::create_dir_all(&reports).unwrap();
    let first = json_report(&config, &[]);
    assert!(first["changes"].is_null());
    std::fs::write(
        reports.join("estate-report-20261126T060000Z.json"),
        serde_json::to_vec(&first).unwrap(),
    )
    .unwrap();
    let second = json_report(&config, &["--title", "Borsetshire"]);
    assert_eq!(second["changes"]["previous_at"], "2026-11-27T10:00:00Z");
    assert_eq!(second["title"], "Borsetshire");
    // A file that is not a report is said so, and the report is made without changes.
    std::fs::write(
        reports.join("estate-report-20261127T060000Z.json"),
        "not json",
    )
    .unwrap();
    let out = run(&["report", "--config", &config, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("not comparing with the previous report"),
        "{}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------
// `[reports]` in server.toml.

#[test]
fn the_reports_section_is_validated_and_located() {
    let ok = ServerConfig::parse(
        "[reports]\ndir = \"/srv/reports\"\nschedule = \"0 6 * * mon\"\nformats = [\"html\", \"csv\"]\nkeep = 3\ntitle = \"Borsetshire\"\n",
        "server.toml",
    )
    .unwrap();
    let r = ok.reports.unwrap();
    assert_eq!(r.dir, PathBuf::from("/srv/reports"));
    assert_eq!(r.formats, [Format::Html, Format::Csv]);
    assert_eq!(r.keep, 3);
    assert_eq!(r.title, "Borsetshire");
    assert!(matches!(r.when, When::Cron(ref c) if c.as_str() == "0 6 * * mon"));

    let defaults = ServerConfig::parse("[reports]\ndir = \"r\"\n", "server.toml").unwrap();
    let d = defaults.reports.unwrap();
    assert_eq!(d, ReportsConfig::new(PathBuf::from("r")));
    assert_eq!(d.formats.len(), 4);
    assert_eq!(
        d.keep,
        estate_server::report::schedule::DEFAULT_REPORTS_KEEP
    );
    assert!(
        ServerConfig::parse("", "server.toml")
            .unwrap()
            .reports
            .is_none()
    );
    let interval =
        ServerConfig::parse("[reports]\ndir = \"r\"\ninterval_secs = 3600\n", "s").unwrap();
    assert_eq!(
        interval.reports.unwrap().when,
        When::Interval(Duration::from_secs(3600))
    );

    let bad = ServerConfig::parse(
        "[reports]\nschedule = \"0 25 * * *\"\nformats = [\"pdf\", \"html\", \"html\"]\ntitle = \" \"\nkeep = 2\n",
        "server.toml",
    )
    .unwrap_err()
    .to_string();
    for expected in [
        "server.toml:1:1: `reports.dir`: missing: the directory reports are written to",
        "server.toml:2:12: `reports.schedule`: hour: `25` is outside 0–23",
        "server.toml:3:12: `reports.formats`: `pdf` is not html, md, csv or json",
        "server.toml:3:27: `reports.formats`: `html` is listed twice",
        "server.toml:4:9: `reports.title`: must not be empty",
    ] {
        assert!(bad.contains(expected), "{expected}\nin:\n{bad}");
    }
    let both = ServerConfig::parse(
        "[reports]\ndir = \"r\"\nschedule = \"@daily\"\ninterval_secs = 10\n",
        "s.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        both.contains("s.toml:4:17: `reports.interval_secs`: set either"),
        "{both}"
    );
    let short = ServerConfig::parse("[reports]\ndir = \"r\"\ninterval_secs = 10\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(short.contains("must be at least 60"), "{short}");
    let unknown = ServerConfig::parse("[reports]\ndir = \"r\"\nkeeep = 1\n", "s.toml")
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("unknown field `keeep`"), "{unknown}");
}

#[test]
fn a_relative_reports_dir_is_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.toml");
    std::fs::write(&path, "[reports]\ndir = \"out/reports\"\n").unwrap();
    let config = ServerConfig::load(&path).unwrap();
    assert_eq!(config.reports.unwrap().dir, dir.path().join("out/reports"));
}

// ---------------------------------------------------------------------------------
// The collector's schedule.

fn listed(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.starts_with("estate-report-") && n.ends_with(suffix)
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_writes_reports_on_its_schedule_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("reports");
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    config.storage.backend = Backend::Sqlite(dir.path().join("estate.db"));
    config.reports = Some(ReportsConfig {
        when: When::Interval(Duration::from_millis(1200)),
        formats: vec![Format::Html],
        keep: 2,
        ..ReportsConfig::new(reports.clone())
    });
    let server = estate_server::start(&config).await.unwrap();
    let store = server.store();
    let raw = std::fs::read_to_string(manifest_dir().join("tests").join(REPORTS[0])).unwrap();
    let parsed = estate_server::ingest::parse_report(raw.as_bytes()).unwrap();
    let new = estate_server::ingest::to_new_report(&parsed, raw, parsed.collected_at).unwrap();
    store.ingest(new).await.unwrap();

    // Reports come every 1.2 s: wait for the fourth, then only the newest two are kept.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..150 {
        for p in listed(&reports, ".html") {
            seen.insert(p);
        }
        if seen.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen.len() >= 4, "reports written: {seen:?}");
    server.shutdown().await.unwrap();
    // A report being written when the server stopped finishes (and prunes) on its
    // blocking thread: wait for the directory to settle.
    let temporary = || {
        std::fs::read_dir(&reports)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .count()
    };
    for _ in 0..100 {
        if listed(&reports, ".html").len() == 2 && temporary() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let html = listed(&reports, ".html");
    let json = listed(&reports, ".json");
    assert_eq!(html.len(), 2, "{html:?}");
    // The JSON (what the next report compares with) is written whatever the formats.
    assert_eq!(json.len(), 2, "{json:?}");
    let latest: Value = serde_json::from_slice(&std::fs::read(&json[1]).unwrap()).unwrap();
    assert_eq!(latest["summary"]["hosts"], 1);
    assert!(
        latest["changes"].is_object(),
        "the later report compares with the earlier"
    );
    assert!(latest["history"].as_array().unwrap().len() >= 2);
    // Nothing half-written is left behind.
    assert_eq!(temporary(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_reads_every_host_in_pages_and_keeps_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::default();
    config.storage.backend = Backend::Sqlite(dir.path().join("estate.db"));
    let store = estate_server::open_store(&config).unwrap();
    let assessor = Arc::new(Assessor::load(&AssessConfig::default()).unwrap());
    let raw = std::fs::read_to_string(manifest_dir().join("tests").join(REPORTS[1])).unwrap();
    // More hosts than two pages; every third without an assessment. One host is assessed
    // for real; the others get a copy of its stored assessment (as fast as the store
    // writes, written concurrently so that they share commits).
    let n = estate_server::report::load::PAGE_HOSTS as usize * 2 + 7;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..n {
        let mut report: Value = serde_json::from_str(&raw).unwrap();
        report["report_id"] = Value::from(uuid::Uuid::new_v4().to_string());
        report["host_id"] = Value::from(format!("host-{i:04}"));
        report["hostname"] = Value::from(format!("web-{i:04}"));
        if i != 1 {
            // Only the host assessed for real needs its inventory.
            report.as_object_mut().unwrap().remove("inventory");
        }
        let text = report.to_string();
        let parsed = estate_server::ingest::parse_report(text.as_bytes()).unwrap();
        let new = estate_server::ingest::to_new_report(&parsed, text, parsed.collected_at).unwrap();
        let store = Arc::clone(&store);
        writes.spawn(async move {
            store.ingest(new).await.unwrap();
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    estate_server::pipeline::assess_host(store.as_ref(), &assessor, "host-0001")
        .await
        .unwrap();
    let (record, _) = store
        .assessment("host-0001".to_owned())
        .await
        .unwrap()
        .unwrap();
    for i in (0..n).filter(|i| i % 3 != 0 && *i != 1) {
        let mut copy = record.clone();
        copy.host_id = format!("host-{i:04}");
        let store = Arc::clone(&store);
        writes.spawn(async move {
            store.save_assessment(copy).await.unwrap();
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    let options = estate_server::report::load::LoadOptions {
        now: chrono::Utc::now(),
        title: "t".to_owned(),
        scenario: Some("aws-london".to_owned()),
        previous: None,
    };
    let calls = std::sync::atomic::AtomicU64::new(0);
    let loaded = estate_server::report::load::from_store(
        store.as_ref(),
        &assessor,
        options,
        &|done, total| {
            assert!(done <= total && total == n as u64);
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        },
    )
    .await
    .unwrap();
    assert!(calls.into_inner() >= 3);
    let ids: Vec<String> = loaded
        .input
        .hosts
        .iter()
        .map(|h| h.host_id.clone())
        .collect();
    let expected: Vec<String> = (0..n).map(|i| format!("host-{i:04}")).collect();
    assert_eq!(ids, expected);
    let missing: Vec<usize> = (0..n).filter(|i| i % 3 == 0).collect();
    assert_eq!(loaded.unassessed, missing);
    for (i, h) in loaded.input.hosts.iter().enumerate() {
        assert_eq!(h.hostname, format!("web-{i:04}"));
        assert_eq!(h.assessment.is_some(), i % 3 != 0, "{i}");
        if let Some(a) = &h.assessment {
            assert!(!a.results.is_empty());
            let carbon = a.carbon.as_ref().unwrap();
            assert!(
                carbon
                    .scenarios
                    .iter()
                    .all(|s| s.name.as_str() == "aws-london")
            );
        }
    }
    assert_eq!(loaded.input.scenarios, ["aws-london"]);
}
