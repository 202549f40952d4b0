//! Assessment on ingest: a host that reports is scored against the collector's profile
//! moments later, without the agent's involvement; the API shows the results with since
//! when each holds, the fleet counts and the estate score; `/metrics` shows them; and a
//! reload (what SIGHUP does) with a new waiver re-scores the estate and records the
//! status change.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{enrol, post_report, request, start};

fn fixture_report(name: &str) -> Value {
    let path = crate::support::manifest_dir().join(format!("tests/fixtures/reports/{name}.json"));
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    report["report_id"] = json!(uuid::Uuid::new_v4().to_string());
    report
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let resp = request(addr, "GET", path, &[], b"").await;
    (
        resp.status,
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
    )
}

/// Polls the host's checks until an assessment exists (the worker runs after the ack).
async fn wait_assessed(addr: std::net::SocketAddr, host: &str, after: Option<&str>) -> Value {
    for _ in 0..200 {
        let (status, body) = get(addr, &format!("/api/v1/hosts/{host}/checks")).await;
        if status == 200 && after.is_none_or(|t| body["assessed_at"].as_str() > Some(t)) {
            return body;
        }
        assert!(status == 200 || status == 404, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("host {host} was not assessed in 10 s");
}

fn failing(checks: &Value) -> Vec<String> {
    checks["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "fail")
        .map(|s| s["check_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporting_host_is_assessed_and_a_reload_rescores_it() {
    let config_dir = tempfile::tempdir().unwrap();
    let config_root = crate::support::manifest_dir().join("../config");
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
    let t = start(false, move |c| {
        c.assess.config_dir = Some(dir);
        c.metrics.per_host = true;
    })
    .await;
    let addr = t.addr();

    let neglected = fixture_report("neglected");
    let host = neglected["host_id"].as_str().unwrap().to_owned();
    let token = enrol(addr, &host).await;
    let resp = post_report(addr, &token, &neglected).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));

    let checks = wait_assessed(addr, &host, None).await;
    assert_eq!(checks["profile"], "baseline");
    assert_eq!(checks["band"], "red", "{checks:#}");
    assert!(checks["score"].as_f64().unwrap() < 0.9);
    let failed = failing(&checks);
    assert!(!failed.is_empty());
    // Every check of the profile has a status, and each one's first transition.
    let statuses = checks["statuses"].as_array().unwrap();
    let results = checks["results"].as_array().unwrap();
    assert_eq!(statuses.len(), results.len());
    let transitions = checks["transitions"].as_array().unwrap();
    assert_eq!(transitions.len(), statuses.len());
    assert!(transitions.iter().all(|t| t["from"].is_null()));

    // The fleet view and the estate score.
    let (status, list) = get(addr, "/api/v1/checks").await;
    assert_eq!(status, 200);
    assert_eq!(list["hosts_assessed"], 1);
    let first_failed = &failed[0];
    let entry = list["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| &c["id"] == first_failed)
        .unwrap();
    assert_eq!(entry["hosts"]["fail"], 1);
    let (status, score) = get(addr, "/api/v1/estate/score").await;
    assert_eq!(status, 200);
    assert_eq!(score["bands"]["red"], 1);
    assert!((score["score"].as_f64().unwrap() - checks["score"].as_f64().unwrap()).abs() < 1e-9);
    let improvements = score["improvements"].as_array().unwrap();
    assert_eq!(improvements.len(), failed.len());
    let gains: Vec<f64> = improvements
        .iter()
        .map(|i| i["gain"].as_f64().unwrap())
        .collect();
    assert!(gains.windows(2).all(|w| w[0] >= w[1]), "{gains:?}");

    // Metrics.
    let resp = request(addr, "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(resp.body).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("estate_check_hosts{")
            && l.contains(&format!("check_id=\"{first_failed}\""))
            && l.contains("status=\"fail\"")
            && l.ends_with(" 1")),
        "{text}"
    );
    assert!(text.contains("estate_hosts_by_band{band=\"red\"} 1"));
    assert!(text.contains(&format!(
        "estate_host_band{{band=\"red\",host_id=\"{host}\"}} 1"
    )));
    assert!(text.contains("estate_assessments_total{outcome=\"stored\"} 1"));

    // A waiver for the first failing check, then a reload: it becomes `waived`, with
    // a transition from `fail`, and the score does not go down.
    std::fs::write(
        config_dir.path().join("waivers.toml"),
        format!(
            "[[waiver]]\ncheck = \"{first_failed}\"\nhost_id = \"{host}\"\nreason = \"Legacy kiosk, isolated VLAN; replacement ordered\"\nowner = \"ict-ops@council.example\"\nexpires = 2099-01-01\n"
        ),
    )
    .unwrap();
    let queued = t.server.reload().await.unwrap();
    assert_eq!(queued, 1);
    let before = checks["assessed_at"].as_str().unwrap().to_owned();
    let again = wait_assessed(addr, &host, Some(&before)).await;
    let waived = again["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| &s["check_id"] == first_failed)
        .unwrap();
    assert_eq!(waived["status"], "waived", "{again:#}");
    assert!(again["score"].as_f64().unwrap() >= checks["score"].as_f64().unwrap());
    let change = again["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| &t["check_id"] == first_failed && t["to"] == "waived")
        .expect("transition to waived");
    assert_eq!(change["from"], "fail");

    // A broken config is refused and the one in use stays.
    std::fs::write(
        config_dir.path().join("waivers.toml"),
        "[[waiver]]\ncheck = 3\n",
    )
    .unwrap();
    let err = t.server.reload().await.unwrap_err().to_string();
    assert!(err.contains("waivers.toml:2"), "{err}");
    let (status, _) = get(addr, "/api/v1/estate/score").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unassessed_or_unknown_host_is_404_with_its_code() {
    let t = start(false, |_| {}).await;
    let (status, body) = get(t.addr(), "/api/v1/hosts/nobody/checks").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
}
