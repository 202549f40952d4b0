//! The estate's carbon in the collector (issue 5, acceptance point 3): several hosts with
//! different reports are assessed on ingest; `/metrics` shows on-premises and
//! per-scenario totals equal to the sums of the per-host estimates the API answers, and
//! readiness and confidence counts that add up to the hosts placed. Also: the carbon API's
//! answers and errors, the energy counter, readiness from the `cloud-readiness` profile,
//! and the admin reload endpoint (issue 4, item 8), which rewrites the stored estimates.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::read_api::assert_schema;
use crate::support::{
    ENROLMENT_TOKEN, READ_TOKEN, enrol, example, manifest_dir, post_report, request, start,
};

const ADMIN_TOKEN: &str = "admin-0123456789abcdef";
const J_PER_KWH: f64 = 3.6e6;

/// An agent fixture report (`server/tests/fixtures/reports/NAME.json`) for `host_id`, with
/// a fresh `report_id` and recent timestamps.
fn fixture(name: &str, host_id: &str) -> Value {
    let path = manifest_dir().join(format!("tests/fixtures/reports/{name}.json"));
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let now = Utc::now();
    report["report_id"] = json!(uuid::Uuid::new_v4().to_string());
    report["host_id"] = json!(host_id);
    report["collected_at"] = json!((now - chrono::Duration::minutes(1)).to_rfc3339());
    report["window"]["start"] = json!((now - chrono::Duration::minutes(6)).to_rfc3339());
    report["window"]["end"] = json!((now - chrono::Duration::minutes(1)).to_rfc3339());
    report
}

/// `report` with its inventory's logical CPUs set to `n` (and the inventory hash to
/// match).
fn with_logical_cpus(report: Value, n: u32) -> Value {
    let mut r: estate_protocol::Report = serde_json::from_value(report).unwrap();
    let inventory = r.inventory.as_mut().unwrap();
    inventory.cpu.as_mut().unwrap().logical_cpus = n;
    r.inventory_hash = inventory.stable_hash();
    serde_json::to_value(r).unwrap()
}

/// `report` with a CPU that barely moves (a retirement candidate).
fn idle(mut report: Value) -> Value {
    report["utilisation"]["cpu_busy_ratio"] =
        json!({"mean": 0.01, "p50": 0.01, "p95": 0.012, "max": 0.015, "peaks_10m": [0.015]});
    report
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let resp = request(addr, "GET", path, &[], b"").await;
    (
        resp.status,
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
    )
}

/// Polls a host's carbon until it is estimated (after `after`, when given).
async fn wait_carbon(addr: std::net::SocketAddr, host: &str, after: Option<&str>) -> Value {
    for _ in 0..300 {
        let (status, body) = get(addr, &format!("/api/v1/hosts/{host}/carbon")).await;
        if status == 200 && after.is_none_or(|t| body["assessed_at"].as_str() > Some(t)) {
            return body;
        }
        assert!(status == 200 || status == 404, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("host {host} got no carbon estimate in 15 s");
}

/// `/metrics` as (name, labels, value) samples.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let value: f64 = match value {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("{line}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').unwrap();
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").unwrap();
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
                None => (series.to_owned(), BTreeMap::new()),
            };
            (name, labels, value)
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels`; `None` when absent,
/// and a panic when several match.
fn value(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    let found: Vec<f64> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
    found.first().copied()
}

fn assert_close(got: f64, want: f64, what: &str) {
    let tolerance = 1e-9 * want.abs().max(1.0);
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: metrics say {got}, the per-host estimates add up to {want}"
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// A scenario result places the host: a cloud instance was chosen, or it is retired.
fn placed(s: &Value) -> bool {
    s["kind"] == "retire" || s["instance"].is_string()
}

fn readiness_label(r: &Value) -> &'static str {
    match r.as_str().unwrap() {
        "ready" => "ready",
        "conditionally_ready" => "conditional",
        "not_ready" => "not_ready",
        "unknown" => "unknown",
        other => panic!("readiness {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estate_metrics_equal_the_sums_of_the_host_estimates() {
    let t = start(false, |c| {
        c.metrics.per_host = true;
        c.metrics.refresh = Duration::ZERO;
    })
    .await;
    let addr = t.addr();
    let reports: Vec<(&str, Value)> = vec![
        ("c-r740", example("full-report-dell-r740", "c-r740")),
        ("c-debvm", example("full-report-debian-vm", "c-debvm")),
        ("c-noinv", example("regular-report-no-inventory", "c-noinv")),
        ("c-idle", idle(example("full-report-debian-vm", "c-idle"))),
        (
            "c-huge",
            with_logical_cpus(example("full-report-dell-r740", "c-huge"), 4000),
        ),
        ("c-fx-r740", fixture("dell-r740", "c-fx-r740")),
        ("c-fx-kvm", fixture("debian-kvm", "c-fx-kvm")),
        ("c-fx-neglected", fixture("neglected", "c-fx-neglected")),
    ];
    let mut energy_sent = BTreeMap::new();
    for (host, report) in &reports {
        let token = enrol(addr, host).await;
        let resp = post_report(addr, &token, report).await;
        assert_eq!(
            resp.status,
            200,
            "{host}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let joules: f64 = report["power"]["readings"]
            .as_array()
            .map_or(0.0, |r| r.iter().map(|x| f(&x["energy_joules"])).sum());
        energy_sent.insert(*host, joules);
    }
    let mut estimates = BTreeMap::new();
    for (host, _) in &reports {
        let e = wait_carbon(addr, host, None).await;
        assert_schema("HostCarbon", &e);
        estimates.insert(*host, e);
    }

    // The metrics and the estate API, read now, against the per-host answers.
    let resp = request(addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(resp.status, 200);
    let text = String::from_utf8(resp.body.clone()).unwrap();
    let m = samples(&text);
    let (status, estate) = get(addr, "/api/v1/carbon").await;
    assert_eq!(status, 200);
    assert_schema("EstateCarbon", &estate);
    // Nothing was re-assessed meanwhile (else the comparison would mix two states).
    for (host, e) in &estimates {
        let (_, again) = get(addr, &format!("/api/v1/hosts/{host}/carbon")).await;
        assert_eq!(again["assessed_at"], e["assessed_at"], "{host}");
    }
    assert_eq!(estate["hosts_estimated"], reports.len());

    // On-premises: every host (none is a container).
    let sum = |field: &str| -> f64 { estimates.values().map(|e| f(&e["onprem"][field])).sum() };
    let onprem = |basis: &str| {
        value(
            &m,
            "estate_carbon_emissions_grams_per_year",
            &[("scenario", "onprem"), ("basis", basis)],
        )
    };
    assert_close(
        value(
            &m,
            "estate_carbon_energy_joules_per_year",
            &[("scenario", "onprem")],
        )
        .unwrap(),
        sum("energy_kwh_per_year") * J_PER_KWH,
        "onprem energy",
    );
    assert_close(
        onprem("location").unwrap(),
        sum("location_kgco2e_per_year") * 1000.0,
        "onprem location",
    );
    assert_close(
        onprem("market").unwrap(),
        sum("market_kgco2e_per_year") * 1000.0,
        "onprem market",
    );
    assert_close(
        onprem("embodied").unwrap(),
        sum("embodied_kgco2e_per_year") * 1000.0,
        "onprem embodied",
    );
    assert_eq!(estate["onprem"]["hosts"], reports.len());
    assert_close(
        f(&estate["onprem"]["energy_kwh_per_year"]),
        sum("energy_kwh_per_year"),
        "API onprem",
    );

    // Per scenario: the hosts it places.
    let scenarios = ["azure-uksouth", "aws-london", "gcp-london", "retire-idle"];
    let api_names: Vec<&str> = estate["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        api_names, scenarios,
        "every configured scenario, in config order"
    );
    let mut saw_unplaced = false;
    let mut saw_retired = false;
    for name in scenarios {
        let results: Vec<&Value> = estimates
            .values()
            .flat_map(|e| e["scenarios"].as_array().unwrap())
            .filter(|s| s["name"] == name)
            .collect();
        let hosts: Vec<&&Value> = results.iter().filter(|s| placed(s)).collect();
        let sum = |field: &str| -> f64 { hosts.iter().map(|s| f(&s[field])).sum() };
        let label = [("scenario", name)];
        assert_close(
            value(&m, "estate_carbon_energy_joules_per_year", &label).unwrap(),
            sum("energy_kwh_per_year") * J_PER_KWH,
            &format!("{name} energy"),
        );
        for (basis, field) in [
            ("location", "location_kgco2e_per_year"),
            ("market", "market_kgco2e_per_year"),
            ("embodied", "embodied_kgco2e_per_year"),
        ] {
            assert_close(
                value(
                    &m,
                    "estate_carbon_emissions_grams_per_year",
                    &[("scenario", name), ("basis", basis)],
                )
                .unwrap(),
                sum(field) * 1000.0,
                &format!("{name} {basis}"),
            );
        }
        assert_close(
            value(&m, "estate_carbon_saved_grams_per_year", &label).unwrap(),
            sum("saved_kgco2e_per_year") * 1000.0,
            &format!("{name} saved"),
        );
        let unplaced = results.len() - hosts.len();
        saw_unplaced |= unplaced > 0;
        saw_retired |= name == "retire-idle" && !hosts.is_empty();
        assert_eq!(
            value(&m, "estate_carbon_unplaced_hosts", &label),
            Some(unplaced as f64),
            "{name} unplaced"
        );
        // Hosts by readiness and confidence: each pair as the estimates say, all adding
        // up to the hosts placed.
        let mut expected: BTreeMap<(&str, String), usize> = BTreeMap::new();
        for s in &hosts {
            *expected
                .entry((
                    readiness_label(&s["readiness"]),
                    s["confidence"].to_string(),
                ))
                .or_default() += 1;
        }
        let mut total = 0.0;
        for readiness in ["ready", "conditional", "not_ready", "unknown"] {
            for stars in 1..=5 {
                let stars = stars.to_string();
                let got = value(
                    &m,
                    "estate_carbon_hosts",
                    &[
                        ("scenario", name),
                        ("readiness", readiness),
                        ("confidence", &stars),
                    ],
                )
                .unwrap_or_else(|| panic!("{name} {readiness} {stars}: no series"));
                let want = expected
                    .get(&(readiness, stars.clone()))
                    .copied()
                    .unwrap_or(0);
                assert_eq!(got, want as f64, "{name} {readiness} {stars}");
                total += got;
            }
        }
        assert_eq!(
            total,
            hosts.len() as f64,
            "{name}: counts add up to the hosts placed"
        );
        // The API's totals say the same.
        let api = estate["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap();
        assert_eq!(api["totals"]["hosts"], hosts.len(), "{name}");
        assert_eq!(api["unplaced_hosts"], unplaced, "{name}");
        let by_readiness: u64 = api["readiness"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let by_stars: u64 = api["confidence"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(
            (by_readiness, by_stars),
            (hosts.len() as u64, hosts.len() as u64),
            "{name}"
        );
    }
    assert!(saw_unplaced, "c-huge fits no instance");
    assert!(saw_retired, "c-idle is retired by retire-idle");

    // Per host: power by source, and the energy counter from the reports.
    for (host, e) in &estimates {
        assert_close(
            value(
                &m,
                "estate_host_power_watts",
                &[("host_id", host), ("source", "modelled")],
            )
            .unwrap(),
            f(&e["onprem"]["power_watts"]),
            &format!("{host} modelled watts"),
        );
        let measured = value(
            &m,
            "estate_host_power_watts",
            &[("host_id", host), ("source", "measured")],
        );
        match e["onprem"]["measured_watts"].as_f64() {
            Some(w) => assert_close(measured.unwrap(), w, &format!("{host} measured watts")),
            None => assert_eq!(measured, None, "{host} measured nothing"),
        }
        assert_close(
            value(&m, "estate_host_energy_joules_total", &[("host_id", host)]).unwrap(),
            energy_sent[host],
            &format!("{host} energy"),
        );
    }
    // RAPL: the R740 measured its packages and DRAM (no psys), 49,890 J in its report.
    let r740 = &estimates["c-r740"]["onprem"];
    assert_eq!(r740["method"], "measured_rapl");
    assert!(f(&r740["measured_watts"]) > 0.0);
    assert_eq!(energy_sent["c-r740"], 49_890.0);
    assert!(estimates["c-debvm"]["onprem"]["measured_watts"].is_null());

    // Candidates: ranked by carbon saved, the same figures as the hosts' estimates.
    let (status, list) = get(
        addr,
        "/api/v1/carbon/candidates?scenario=aws-london&limit=2",
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_schema("CarbonCandidates", &list);
    let positive: Vec<(&str, f64)> = estimates
        .iter()
        .flat_map(|(h, e)| {
            e["scenarios"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| {
                    s["name"] == "aws-london" && placed(s) && f(&s["saved_kgco2e_per_year"]) > 0.0
                })
                .map(move |s| (*h, f(&s["saved_kgco2e_per_year"])))
        })
        .collect();
    assert_eq!(list["total"], positive.len());
    let shown = list["candidates"].as_array().unwrap();
    assert_eq!(shown.len(), positive.len().min(2));
    let best = positive.iter().map(|(_, s)| *s).fold(f64::MIN, f64::max);
    if let Some(first) = shown.first() {
        assert_close(f(&first["saved_kgco2e_per_year"]), best, "best candidate");
    }
    assert!(
        shown
            .windows(2)
            .all(|w| f(&w[0]["saved_kgco2e_per_year"]) >= f(&w[1]["saved_kgco2e_per_year"]))
    );
    let (status, all) = get(addr, "/api/v1/carbon/candidates").await;
    assert_eq!(status, 200);
    assert_schema("CarbonCandidates", &all);
    assert!(all["scenario"].is_null());
    let retired = all["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["host_id"] == "c-idle" && c["scenario"] == "retire-idle");
    assert!(retired, "{all}");
    for bad in ["scenario=onprem", "scenario=moon", "limit=0", "order=saved"] {
        let (status, body) = get(addr, &format!("/api/v1/carbon/candidates?{bad}")).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("invalid_query")),
            "{bad}"
        );
        assert_schema("Error", &body);
    }

    // promtool has nothing to say about the output with every carbon family in it.
    promtool_is_silent(&resp.body);
}

/// `promtool check metrics` prints nothing about `body` (skipped where promtool is
/// missing, except in CI).
fn promtool_is_silent(body: &[u8]) {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        assert!(std::env::var("CI").is_err(), "promtool is missing in CI");
        eprintln!("note: /usr/bin/promtool missing; promtool check skipped");
        return;
    }
    use std::io::Write;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.is_empty(), "promtool: {said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_energy_counter_adds_each_stored_report_once() {
    let t = start(false, |c| {
        c.metrics.per_host = true;
        c.metrics.refresh = Duration::ZERO;
    })
    .await;
    let addr = t.addr();
    let token = enrol(addr, "e-host").await;
    let first = example("regular-report-no-inventory", "e-host");
    let second = example("full-report-dell-r740", "e-host");
    for r in [&first, &second, &first] {
        assert_eq!(post_report(addr, &token, r).await.status, 200);
    }
    let joules = |r: &Value| -> f64 {
        r["power"]["readings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| f(&x["energy_joules"]))
            .sum()
    };
    let text = String::from_utf8(request(addr, "GET", "/metrics", &[], b"").await.body).unwrap();
    let got = value(
        &samples(&text),
        "estate_host_energy_joules_total",
        &[("host_id", "e-host")],
    );
    assert_eq!(
        got,
        Some(joules(&first) + joules(&second)),
        "the duplicate adds nothing"
    );
    assert!(text.contains("# TYPE estate_host_energy_joules_total counter"));

    // Without per-host series there is neither power nor energy per host.
    let t = start(false, |c| c.metrics.refresh = Duration::ZERO).await;
    let addr = t.addr();
    let token = enrol(addr, "e-quiet").await;
    let quiet = example("full-report-dell-r740", "e-quiet");
    assert_eq!(post_report(addr, &token, &quiet).await.status, 200);
    wait_carbon(addr, "e-quiet", None).await;
    let text = String::from_utf8(request(addr, "GET", "/metrics", &[], b"").await.body).unwrap();
    assert!(!text.contains("estate_host_energy_joules_total{"), "{text}");
    assert!(!text.contains("estate_host_power_watts{"), "{text}");
    assert!(
        text.contains("estate_carbon_energy_joules_per_year{scenario=\"onprem\"}"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_comes_from_the_cloud_readiness_profile() {
    let t = start(false, |_| {}).await;
    let addr = t.addr();
    let token = enrol(addr, "r-neglected").await;
    let report = fixture("neglected", "r-neglected");
    assert_eq!(post_report(addr, &token, &report).await.status, 200);
    let e = wait_carbon(addr, "r-neglected", None).await;
    let r = &e["readiness"];
    assert_eq!(r["profile"], "cloud-readiness");
    // An unsupported OS fails a high cloud-readiness check: not ready, and said why.
    assert_eq!(r["readiness"], "not_ready", "{r:#}");
    let blockers: BTreeSet<&str> = r["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["check_id"].as_str().unwrap())
        .collect();
    assert!(blockers.contains("lifecycle.os-supported"), "{blockers:?}");
    assert_eq!(r["blockers"][0]["gives"], "not_ready");
    // Every scenario carries it (a rule can only make it worse).
    let scenarios = e["scenarios"].as_array().unwrap();
    assert!(!scenarios.is_empty());
    assert!(
        scenarios.iter().all(|s| s["readiness"] == "not_ready"),
        "{e:#}"
    );
    // The checks API shows the same checks failing.
    let (_, checks) = get(addr, "/api/v1/hosts/r-neglected/checks").await;
    let failing: BTreeSet<&str> = checks["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "fail")
        .map(|s| s["check_id"].as_str().unwrap())
        .collect();
    assert!(failing.contains("lifecycle.os-supported"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_carbon_api_says_why_there_is_no_estimate() {
    let t = start(true, |_| {}).await;
    let addr = t.addr();
    let auth = format!("Bearer {READ_TOKEN}");
    let read = |path: String| {
        let auth = auth.clone();
        async move {
            let resp = request(addr, "GET", &path, &[("Authorization", &auth)], b"").await;
            (resp.status, resp.json())
        }
    };
    let (status, body) = read("/api/v1/hosts/nobody/carbon".to_owned()).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
    // Enrolled, but no report yet: the host is not known to the store either.
    enrol(addr, "quiet").await;
    let (status, body) = read("/api/v1/hosts/quiet/carbon".to_owned()).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
    // Known (stored straight into the store, so nothing queues it), not assessed yet.
    let store = t.server.store();
    let now = Utc::now();
    store
        .ingest(estate_server::store::conformance::sample_report(
            "stored", now, None,
        ))
        .await
        .unwrap();
    let (status, body) = read("/api/v1/hosts/stored/carbon".to_owned()).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_assessed"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("not assessed"),
        "{body}"
    );
    // Assessed, but without a report to estimate from.
    let record = estate_server::store::AssessmentRecord {
        host_id: "stored".to_owned(),
        assessed_at: now,
        profile: "baseline".to_owned(),
        score: None,
        band: None,
        statuses: BTreeMap::new(),
        detail_json: json!({"carbon": null, "readiness": null}).to_string(),
        carbon_json: None,
        view_json: None,
    };
    store.save_assessment(record).await.unwrap();
    let (status, body) = read("/api/v1/hosts/stored/carbon".to_owned()).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_assessed"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("no report"),
        "{body}"
    );
    assert_schema("Error", &body);
    // The read token is needed, as for the other read endpoints.
    for path in [
        "/api/v1/carbon",
        "/api/v1/carbon/candidates",
        "/api/v1/hosts/quiet/carbon",
    ] {
        let resp = request(addr, "GET", path, &[], b"").await;
        assert_eq!(resp.status, 401, "{path}");
        assert_eq!(resp.json()["error_code"], "unauthenticated");
    }
    // An empty estate: zeros for every configured scenario.
    let (status, estate) = read("/api/v1/carbon".to_owned()).await;
    assert_eq!(status, 200);
    assert_schema("EstateCarbon", &estate);
    assert_eq!(estate["hosts_estimated"], 0);
    assert_eq!(estate["scenarios"].as_array().unwrap().len(), 4);
    assert_eq!(estate["onprem"]["energy_kwh_per_year"], 0.0);
}

/// A collector whose assessment config is a copy of `config/` in a temp dir (so a test
/// can change it), with an admin token.
async fn with_config_dir() -> (crate::support::TestServer, tempfile::TempDir) {
    let config_dir = tempfile::tempdir().unwrap();
    let config_root = manifest_dir().join("../config");
    for sub in ["checks", "profiles", "data"] {
        let to = config_dir.path().join(sub);
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(config_root.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    let dir = config_dir.path().to_owned();
    let admin = config_dir.path().join("admin-token");
    std::fs::write(&admin, format!("{ADMIN_TOKEN}\n")).unwrap();
    let t = start(true, move |c| {
        c.assess.config_dir = Some(dir);
        c.admin_token_file = Some(admin);
        c.metrics.refresh = Duration::ZERO;
    })
    .await;
    (t, config_dir)
}

async fn reload(addr: std::net::SocketAddr, token: Option<&str>) -> (u16, Value) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let resp = request(addr, "POST", "/api/v1/admin/reload", &headers, b"").await;
    (
        resp.status,
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_needs_the_admin_token_and_rewrites_the_estimates() {
    let (t, config_dir) = with_config_dir().await;
    let addr = t.addr();
    let read = format!("Bearer {READ_TOKEN}");
    let token = enrol(addr, "a-r740").await;
    let report = example("full-report-dell-r740", "a-r740");
    assert_eq!(post_report(addr, &token, &report).await.status, 200);
    let before = wait_carbon_with(addr, "a-r740", &read, None).await;

    // Authentication: none, a wrong one, another of the collector's tokens.
    let (status, body) = reload(addr, None).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (401, Some("unauthenticated"))
    );
    assert_schema("Error", &body);
    let (status, _) = reload(addr, Some("admin-but-not-really-0000")).await;
    assert_eq!(status, 401);
    for other in [READ_TOKEN, ENROLMENT_TOKEN] {
        let (status, body) = reload(addr, Some(other)).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (403, Some("forbidden"))
        );
    }

    // The UK grid factor of the reporting year doubles: a reload re-estimates the host,
    // and the stored compact estimate (the estate totals) follows.
    let grid = config_dir.path().join("data/grid-uk.toml");
    let text = std::fs::read_to_string(&grid).unwrap();
    assert!(
        text.contains("kgco2e_per_kwh = 0.177"),
        "the 2025 factor moved"
    );
    std::fs::write(
        &grid,
        text.replace("kgco2e_per_kwh = 0.177", "kgco2e_per_kwh = 0.354"),
    )
    .unwrap();
    let (status, body) = reload(addr, Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_schema("Reloaded", &body);
    assert_eq!(body, json!({"status": "reloaded", "hosts_queued": 1}));
    let after = wait_carbon_with(addr, "a-r740", &read, before["assessed_at"].as_str()).await;
    let ratio = f(&after["onprem"]["location_kgco2e_per_year"])
        / f(&before["onprem"]["location_kgco2e_per_year"]);
    assert!(
        (ratio - 2.0).abs() < 1e-9,
        "location-based doubled: {ratio}"
    );
    assert_eq!(
        after["onprem"]["embodied_kgco2e_per_year"],
        before["onprem"]["embodied_kgco2e_per_year"]
    );
    let factor = after["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "uk_grid_kgco2e_per_kwh:2025")
        .unwrap();
    assert_eq!(factor["value"], 0.354);
    let resp = request(
        addr,
        "GET",
        "/api/v1/carbon",
        &[("Authorization", &read)],
        b"",
    )
    .await;
    let estate = resp.json();
    assert_close(
        f(&estate["onprem"]["location_kgco2e_per_year"]),
        f(&after["onprem"]["location_kgco2e_per_year"]),
        "the stored compact estimate was rewritten",
    );

    // A broken config: 422 with every located problem, and the config in use stays.
    std::fs::write(
        config_dir.path().join("waivers.toml"),
        "[[waiver]]\ncheck = 3\n",
    )
    .unwrap();
    std::fs::write(&grid, "[[year]]\nyear = \"soon\"\n").unwrap();
    let (status, body) = reload(addr, Some(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (422, Some("invalid_config")),
        "{body}"
    );
    assert_schema("Error", &body);
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("waivers.toml:2"), "{message}");
    assert!(message.contains("grid-uk.toml:2"), "{message}");
    let resp = request(
        addr,
        "GET",
        "/api/v1/carbon",
        &[("Authorization", &read)],
        b"",
    )
    .await;
    assert_eq!(resp.status, 200);
    let (status, _) = {
        let resp = request(
            addr,
            "GET",
            "/api/v1/hosts/a-r740/carbon",
            &[("Authorization", &read)],
            b"",
        )
        .await;
        (resp.status, ())
    };
    assert_eq!(status, 200);
}

async fn wait_carbon_with(
    addr: std::net::SocketAddr,
    host: &str,
    auth: &str,
    after: Option<&str>,
) -> Value {
    for _ in 0..300 {
        let resp = request(
            addr,
            "GET",
            &format!("/api/v1/hosts/{host}/carbon"),
            &[("Authorization", auth)],
            b"",
        )
        .await;
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.status == 200 && after.is_none_or(|t| body["assessed_at"].as_str() > Some(t)) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("host {host} got no (new) carbon estimate in 15 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_is_404_without_an_admin_token() {
    let t = start(false, |_| {}).await;
    let (status, body) = reload(t.addr(), Some(ADMIN_TOKEN)).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("admin_token_file")
    );
}

#[test]
fn a_scenario_named_onprem_and_an_unknown_readiness_profile_are_refused() {
    use estate_server::assess::Assessor;
    use estate_server::config::ServerConfig;
    let text = r#"
[carbon.readiness]
profile = "migration"
unknown_above_ratio = 1.5

[[carbon.scenarios]]
name = "onprem"
kind = "retire"
"#;
    let config = ServerConfig::parse(text, "t.toml").unwrap();
    let err = Assessor::load(&config.assess).unwrap_err().to_string();
    assert!(
        err.contains("t.toml:7:8: `carbon.scenarios[0].name`: `onprem` is reserved"),
        "{err}"
    );
    assert!(
        err.contains(
            "t.toml:4:23: `carbon.readiness.unknown_above_ratio`: must be between 0 and 1"
        ),
        "{err}"
    );
    assert!(
        err.contains("t.toml:3:11: `carbon.readiness.profile`: no audit profile `migration`"),
        "{err}"
    );
    // A misspelt readiness value is located at the table.
    let bad = ServerConfig::parse("[carbon.readiness.on_fail]\nhigh = \"maybe\"\n", "u.toml")
        .unwrap_err()
        .to_string();
    assert!(
        bad.contains("u.toml:") && bad.contains("carbon.readiness"),
        "{bad}"
    );
}
