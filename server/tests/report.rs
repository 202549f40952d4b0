//! `estate-server report` end to end, on a store filled by ingesting the fixture
//! reports (the real binary, every format, "what changed" against the previous JSON,
//! stored and on-the-fly assessments); the `[reports]` section of `server.toml`; and the
//! collector writing reports on its schedule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use estate_protocol::{Cpu, Filesystem, Memory, Report};
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
    store_of(dir, extra, assess, &REPORTS)
}

/// [`store`] with the given fixture reports.
fn store_of(dir: &Path, extra: &str, assess: bool, reports: &[&str]) -> String {
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
        for report in reports {
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

/// The report loader reads each host's compact report view where it has one; the report
/// it gives is the report made from the full stored assessments, factor sources and
/// all, whether every host, some or none has a view, and when a view is of another
/// version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_from_report_views_is_the_report_from_full_assessments() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::default();
    config.storage.backend = Backend::Sqlite(dir.path().join("estate.db"));
    let store = estate_server::open_store(&config).unwrap();
    let assessor = Arc::new(Assessor::load(&AssessConfig::default()).unwrap());
    let mut hosts = Vec::new();
    for name in REPORTS.iter().chain([&WIN10_LAPTOP]) {
        let raw = std::fs::read_to_string(manifest_dir().join("tests").join(name)).unwrap();
        let parsed = estate_server::ingest::parse_report(raw.as_bytes()).unwrap();
        hosts.push(parsed.host_id.clone());
        let new = estate_server::ingest::to_new_report(&parsed, raw, parsed.collected_at).unwrap();
        store.ingest(new).await.unwrap();
        estate_server::pipeline::assess_host(store.as_ref(), &assessor, &parsed.host_id)
            .await
            .unwrap();
    }
    let report = || async {
        let options = estate_server::report::load::LoadOptions {
            now: AT.parse().unwrap(),
            title: "t".to_owned(),
            scenario: None,
            previous: None,
        };
        let loaded =
            estate_server::report::load::from_store(store.as_ref(), &assessor, options, &|_, _| {})
                .await
                .unwrap();
        assert!(loaded.unassessed.is_empty());
        estate_server::report::build(&loaded.input)
    };
    // Every host has a view (the assessments were just made).
    let mut records = Vec::new();
    for host in &hosts {
        let (record, _) = store.assessment(host.clone()).await.unwrap().unwrap();
        records.push(record);
    }
    let page = store.assessment_details(None, 100).await.unwrap();
    assert!(
        page.iter()
            .all(|r| r.view_json.is_some() && r.detail_json.is_empty()),
        "the page read gives views, not details"
    );
    let from_views = report().await;
    assert_eq!(from_views.summary.hosts, hosts.len());
    assert!(!from_views.assumptions.factors.is_empty());
    for f in &from_views.assumptions.factors {
        assert!(
            !f.source.is_empty() && !f.unit.is_empty() && f.hosts > 0,
            "{f:?}"
        );
    }
    // The view is a fraction of the full assessment (here 9 of 26.5 KB: the fixtures'
    // evidence is long).
    let view = page[0].view_json.as_deref().unwrap();
    assert!(
        view.len() * 2 < records[0].detail_json.len(),
        "view {} bytes, detail {}",
        view.len(),
        records[0].detail_json.len()
    );

    // The same assessments saved again without views (as before the views existed):
    // first half of the hosts, then all.
    let resave = |record: &estate_server::store::AssessmentRecord, view: Option<String>| {
        let mut copy = record.clone();
        copy.view_json = view;
        copy
    };
    let stripped = resave(&records[0], None);
    store.save_assessment(stripped).await.unwrap();
    let stripped = resave(&records[2], None);
    store.save_assessment(stripped).await.unwrap();
    assert_eq!(report().await, from_views, "some hosts with views");
    for record in &records {
        store.save_assessment(resave(record, None)).await.unwrap();
    }
    assert!(
        store
            .assessment_details(None, 100)
            .await
            .unwrap()
            .iter()
            .all(|r| r.view_json.is_none() && !r.detail_json.is_empty())
    );
    assert_eq!(report().await, from_views, "no host with a view");

    // A view of another version is not read: the host's full assessment is.
    let view_of = |host: &str| {
        page.iter()
            .find(|r| r.host_id == host)
            .and_then(|r| r.view_json.clone())
    };
    for record in &records {
        let view = view_of(&record.host_id);
        store.save_assessment(resave(record, view)).await.unwrap();
    }
    assert_eq!(report().await, from_views, "views saved again");
    let view = view_of(&records[1].host_id).unwrap();
    let other = view.replacen("\"v\":1,", "\"v\":99,", 1);
    assert_ne!(other, view);
    store
        .save_assessment(resave(&records[1], Some(other)))
        .await
        .unwrap();
    assert_eq!(report().await, from_views, "a view of another version");
}

// ---------------------------------------------------------------------------------
// Windows: the recorded Windows 10 22H2 laptop (issue 10's acceptance)

/// The recorded laptop as a report the collector reads.
const WIN10_LAPTOP: &str = "fixtures/reports/win10-22h2-laptop.json";
/// A time after Windows 10's end of support (2025-10-14).
const AFTER_WINDOWS10: &str = "2026-01-15T09:00:00Z";

fn bless() -> bool {
    std::env::var_os("ESTATE_BLESS").is_some_and(|v| v == "1")
}

/// The report of `WIN10_LAPTOP`: the agent's report of its recording
/// (`agent/tests/fixtures/windows/win10-22h2-laptop/report.json`, which the recorded
/// collectors make) with the sections the live sysinfo collectors add on the machine and
/// a recording cannot hold: the CPU (a Latitude 5490 with a 7th-generation Core
/// i5-7300U), 8 GiB of memory and the C: volume.
fn windows10_laptop_report() -> Report {
    let recorded =
        manifest_dir().join("../agent/tests/fixtures/windows/win10-22h2-laptop/report.json");
    let raw = std::fs::read_to_string(recorded).unwrap();
    let mut report: Report = serde_json::from_str(&raw).unwrap();
    let inventory = report.inventory.as_mut().unwrap();
    inventory.cpu = Some(Cpu {
        model: "Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz".to_owned(),
        vendor: "GenuineIntel".to_owned(),
        sockets: 1,
        physical_cores: 2,
        logical_cpus: 4,
        max_mhz: Some(2712.0),
        flags: Vec::new(),
    });
    inventory.memory = Some(Memory {
        total_bytes: 8_459_780_096,
        available_bytes: 3_912_105_984,
        swap_total_bytes: 1_342_177_280,
        swap_free_bytes: 1_207_959_552,
    });
    inventory.filesystems = Some(vec![Filesystem {
        mount_point: "C:\\".to_owned(),
        fs_type: "NTFS".to_owned(),
        device: "C:\\".to_owned(),
        size_bytes: 255_369_752_576,
        free_bytes: 118_112_534_528,
        available_bytes: 118_112_534_528,
        inodes_total: 0,
        inodes_free: 0,
        read_only: false,
    }]);
    report.inventory_hash = inventory.stable_hash();
    report
}

#[test]
fn the_windows_10_laptop_fixture_is_the_recorded_laptop() {
    let report = windows10_laptop_report();
    assert_eq!(report.check_invariants(), Vec::<String>::new());
    let text = serde_json::to_string_pretty(&report).unwrap() + "\n";
    let path = manifest_dir().join("tests").join(WIN10_LAPTOP);
    if bless() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not the recorded laptop's report: run `ESTATE_BLESS=1 cargo test -p estate-server --test report windows`",
        path.display()
    );
}

/// The audit's results by status.
fn by_status(assessment: &Value, status: &str) -> Vec<String> {
    let mut ids: Vec<String> = assessment["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_windows_10_laptop_fails_the_windows_checks_it_should() {
    let audit = |format: &str| {
        run(&[
            "audit",
            "--report",
            WIN10_LAPTOP,
            "--at",
            AFTER_WINDOWS10,
            "--format",
            format,
        ])
    };
    let out = audit("json");
    let assessment: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    let failed = by_status(&assessment, "fail");
    for id in [
        // No BitLocker on C:.
        "security.disk-encryption-laptop",
        // SMBv1 server and client on.
        "security.windows-smb1-off",
        // Remote Desktop on without NLA.
        "security.windows-rdp-nla",
        // jsmith is a local administrator.
        "security.windows-local-admins",
        // Windows 10 22H2 left regular support on 2025-10-14.
        "lifecycle.os-supported",
        // The Public firewall profile is off.
        "security.firewall-active",
    ] {
        assert!(
            failed.contains(&id.to_owned()),
            "{id} did not fail: {failed:?}"
        );
    }
    let passed = by_status(&assessment, "pass");
    for id in [
        // Defender on, signatures a day old.
        "security.windows-antivirus-current",
        // Intel PTT, TPM 2.0.
        "lifecycle.windows11-tpm2",
        "security.secure-boot",
    ] {
        assert!(
            passed.contains(&id.to_owned()),
            "{id} did not pass: {passed:?}"
        );
    }
    // The evidence names what was found.
    let result = |id: &str| {
        assessment["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        result("security.disk-encryption-laptop")["evidence"],
        serde_json::json!(["C:\\"])
    );
    assert!(
        result("security.windows-rdp-nla")["evidence"]
            .to_string()
            .contains("UserAuthentication"),
        "{}",
        result("security.windows-rdp-nla")
    );
    // Before the end of Windows 10's support the lifecycle check passed.
    let then = run(&["audit", "--report", WIN10_LAPTOP, "--format", "json"]);
    let then: Value = serde_json::from_slice(&then.stdout).unwrap();
    assert!(by_status(&then, "pass").contains(&"lifecycle.os-supported".to_owned()));
    // The table names the failures too.
    let table = text(&audit("table").stdout);
    assert!(table.contains("security.windows-smb1-off"), "{table}");
}

#[test]
fn the_windows_10_laptop_shows_in_the_windows_11_readiness_view() {
    let dir = tempfile::tempdir().unwrap();
    // Stored assessments: the view reads the facts kept with them (STORED_FACTS).
    let config = store_of(dir.path(), "", true, &[REPORTS[0], WIN10_LAPTOP]);
    let report = json_report(&config, &[]);
    let w = &report["windows11"];
    assert_eq!(w["windows10_hosts"], 1, "{w}");
    assert_eq!(
        (
            w["ready_hosts"].as_u64(),
            w["not_ready_hosts"].as_u64(),
            w["unknown_hosts"].as_u64()
        ),
        (Some(0), Some(1), Some(0))
    );
    let host = &w["hosts"][0];
    assert_eq!(host["hostname"], "Dell Latitude 5490 laptop");
    assert_eq!(host["status"], "not_ready");
    // TPM 2.0, UEFI, 8 GiB and 255 GB are fine; the 7th-generation Core i5 is not.
    assert_eq!(host["blockers"], serde_json::json!(["cpu"]));
    assert_eq!(host["unknown"], serde_json::json!([]));
    let blocked: Vec<(String, u64)> = w["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["blocked_hosts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        blocked,
        [
            ("tpm2".to_owned(), 0),
            ("uefi_secure_boot".to_owned(), 0),
            ("cpu".to_owned(), 1),
            ("memory".to_owned(), 0),
            ("storage".to_owned(), 0),
        ]
    );

    // Markdown, HTML and CSV show it too.
    let md = run(&["report", "--config", &config, "--at", AT, "--format", "md"]);
    assert_eq!(md.status.code(), Some(0), "{}", text(&md.stderr));
    let md = text(&md.stdout);
    assert!(md.contains("## Windows 11 readiness"), "{md}");
    assert!(
        md.contains("1 host run Windows 10: 0 ready for Windows 11, 1 not ready"),
        "{md}"
    );
    assert!(
        md.contains("| Dell Latitude 5490 laptop | not ready | CPU generation |"),
        "{md}"
    );
    let html = dir.path().join("report.html");
    let out = run(&[
        "report",
        "--config",
        &config,
        "--at",
        AT,
        "--format",
        "html",
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#"<section id="windows11""#));
    assert!(page.contains(r##"<a href="#windows11">Windows 11</a>"##));
    let csv_dir = dir.path().join("csv");
    let out = run(&[
        "report",
        "--config",
        &config,
        "--at",
        AT,
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(csv_dir.join("windows11.csv")).unwrap();
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "host_id,hostname,status,blocked_by,unknown,cpu_model",
            "recorded-win10-22h2-laptop,Dell Latitude 5490 laptop,not_ready,cpu,,Intel(R) Core(TM) i5-7300U CPU @ 2.60GHz",
        ]
    );

    // Without Windows 10 hosts there is no such section.
    let other = tempfile::tempdir().unwrap();
    let plain = json_report(&store_of(other.path(), "", true, &[REPORTS[0]]), &[]);
    assert!(plain.get("windows11").is_none(), "{}", plain["windows11"]);
}
