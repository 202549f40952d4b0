//! The read API (host list filters and pages, history, estate summary), the OpenAPI
//! document against the real routes, the per-host ingest limit and the estate metrics.
//! Every JSON answer is validated against its schema in the OpenAPI document.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use estate_server::http::{OPENAPI_JSON, ROUTES};
use serde_json::{Value, json};

use crate::support::{enrol, example, post_report, request, start};

fn openapi() -> Value {
    serde_json::from_str(OPENAPI_JSON).unwrap()
}

/// Validates `value` against `#/components/schemas/{name}` of the OpenAPI document.
pub(crate) fn assert_schema(name: &str, value: &Value) {
    let mut schema = openapi();
    schema["$ref"] = json!(format!("#/components/schemas/{name}"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}\n{value:#}");
}

/// Posts a full report for `host` with these labels, collected `minutes_ago`.
async fn report(
    addr: std::net::SocketAddr,
    token: &str,
    host: &str,
    example_name: &str,
    labels: Value,
    minutes_ago: i64,
) -> Value {
    let mut r = example(example_name, host);
    let end = Utc::now() - Duration::minutes(minutes_ago);
    r["labels"] = labels;
    r["collected_at"] = json!(end.to_rfc3339());
    r["window"]["start"] = json!((end - Duration::minutes(5)).to_rfc3339());
    r["window"]["end"] = json!(end.to_rfc3339());
    let resp = post_report(addr, token, &r).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    r
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let resp = request(addr, "GET", path, &[], b"").await;
    let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, body)
}

fn ids(page: &Value) -> Vec<&str> {
    page["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host_id"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_list_history_and_summary() {
    let t = start(false, |c| {
        c.stale_after = std::time::Duration::from_secs(3600)
    })
    .await;
    let addr = t.addr();
    let web = json!({"role": "web", "site": "county-hall"});
    let db = json!({"role": "db", "site": "depot"});
    let (a, b, c) = (
        enrol(addr, "h-a").await,
        enrol(addr, "h-b").await,
        enrol(addr, "h-c").await,
    );
    report(addr, &a, "h-a", "full-report-debian-vm", web.clone(), 30).await;
    report(addr, &a, "h-a", "full-report-debian-vm", web.clone(), 20).await;
    report(addr, &a, "h-a", "full-report-debian-vm", web.clone(), 10).await;
    report(addr, &b, "h-b", "full-report-dell-r740", db, 5).await;
    // h-c: stale (silent for two hours) and without inventory.
    report(
        addr,
        &c,
        "h-c",
        "regular-report-no-inventory",
        json!({}),
        120,
    )
    .await;

    let (status, all) = get(addr, "/api/v1/hosts").await;
    assert_eq!(status, 200);
    assert_schema("HostPage", &all);
    assert_eq!(ids(&all), ["h-a", "h-b", "h-c"]);
    assert_eq!(all["total"], 3);
    assert_eq!(all["hosts"][0]["os_id"], "debian");
    assert_eq!(all["hosts"][0]["machine_kind"], "vm");
    assert_eq!(all["hosts"][1]["machine_kind"], "physical");
    assert_eq!(all["hosts"][2]["os_id"], Value::Null);

    for (query, expected) in [
        ("label=role:web", vec!["h-a"]),
        ("label=role:db&label=site:depot", vec!["h-b"]),
        ("label=role:db&label=site:county-hall", vec![]),
        ("os=debian", vec!["h-a"]),
        ("os=linux", vec!["h-a", "h-b"]),
        ("kind=physical", vec!["h-b"]),
        ("state=stale", vec!["h-c"]),
        ("state=reporting", vec!["h-a", "h-b"]),
        ("q=H-B", vec!["h-b"]),
    ] {
        let (status, page) = get(addr, &format!("/api/v1/hosts?{query}")).await;
        assert_eq!(status, 200, "{query}: {page}");
        assert_eq!(ids(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len(), "{query}");
    }

    // Pages of one, followed by their cursors.
    let mut seen = Vec::new();
    let mut path = "/api/v1/hosts?limit=1".to_owned();
    loop {
        let (status, page) = get(addr, &path).await;
        assert_eq!(status, 200);
        assert_schema("HostPage", &page);
        seen.extend(ids(&page).into_iter().map(str::to_owned));
        match page["next_after"].as_str() {
            Some(after) => path = format!("/api/v1/hosts?limit=1&after={after}"),
            None => break,
        }
    }
    assert_eq!(seen, ["h-a", "h-b", "h-c"]);

    for bad in [
        "limit=0",
        "state=asleep",
        "label=nocolon",
        "sort=name",
        "kind=mainframe",
    ] {
        let (status, body) = get(addr, &format!("/api/v1/hosts?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error_code"], "invalid_query", "{bad}");
        assert_schema("Error", &body);
    }

    // History: the default range (last day) has h-a's three points, oldest first.
    let (status, history) = get(addr, "/api/v1/hosts/h-a/history").await;
    assert_eq!(status, 200);
    assert_schema("History", &history);
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    assert!(points[0]["window_end"].as_str() < points[2]["window_end"].as_str());
    // A range holding only the middle one.
    let from = (Utc::now() - Duration::minutes(25)).to_rfc3339();
    let to = (Utc::now() - Duration::minutes(15)).to_rfc3339();
    let path = format!(
        "/api/v1/hosts/h-a/history?from={}&to={}",
        urlencode(&from),
        urlencode(&to)
    );
    let (status, ranged) = get(addr, &path).await;
    assert_eq!(status, 200, "{ranged}");
    assert_eq!(ranged["points"].as_array().unwrap().len(), 1);
    let (status, body) = get(addr, "/api/v1/hosts/nobody/history").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = get(addr, "/api/v1/hosts/h-a/history?from=yesterday").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("invalid_query"))
    );

    // Summary.
    let (status, summary) = get(addr, "/api/v1/estate/summary").await;
    assert_eq!(status, 200);
    assert_schema("EstateSummary", &summary);
    assert_eq!(
        (
            &summary["hosts"],
            &summary["reporting"],
            &summary["stale"],
            &summary["without_inventory"]
        ),
        (&json!(3), &json!(2), &json!(1), &json!(1))
    );
    assert_eq!(
        summary["by_kind"],
        json!({"physical": 1, "vm": 1, "unknown": 1})
    );
    assert_eq!(
        summary["by_role"],
        json!({"web": 1, "db": 1, "unlabelled": 1})
    );
    assert_eq!(summary["by_os_family"]["linux"], 2);

    // The single host answer matches its schema too.
    let (status, host) = get(addr, "/api/v1/hosts/h-b").await;
    assert_eq!(status, 200);
    assert_schema("Host", &host);
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_matches_the_routes() {
    let t = start(false, |_| {}).await;
    let addr = t.addr();
    let token = enrol(addr, "oa-host").await;
    report(
        addr,
        &token,
        "oa-host",
        "full-report-debian-vm",
        json!({}),
        1,
    )
    .await;

    let (status, served) = get(addr, "/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let doc = openapi();
    assert_eq!(served, doc);
    assert_eq!(doc["openapi"], "3.1.0");

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.clone(), path.clone()));
            assert!(op["operationId"].is_string(), "{method} {path}");
            for (code, response) in op["responses"].as_object().unwrap() {
                assert!(code.parse::<u16>().is_ok(), "{method} {path} {code}");
                assert!(response["description"].is_string());
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(
        documented, routed,
        "the OpenAPI paths and the router differ"
    );

    // Every documented operation is routed (no endpoint-level 404/405), and answers one
    // of its documented statuses.
    for (method, path) in &documented {
        let concrete = path.replace("{host_id}", "oa-host");
        let resp = request(addr, &method.to_uppercase(), &concrete, &[], b"").await;
        let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        assert_ne!(
            body["error_code"], "method_not_allowed",
            "{method} {path} is not routed"
        );
        assert!(
            !(resp.status == 404 && body["message"] == "no such endpoint"),
            "{method} {path} is not routed"
        );
        let codes = doc["paths"][path][method]["responses"].as_object().unwrap();
        assert!(
            codes.contains_key(&resp.status.to_string()),
            "{method} {path} answered {} which is not documented",
            resp.status
        );
        if resp.status >= 400 {
            assert_schema("Error", &body);
        }
    }
    // And an undocumented path is not routed.
    let (status, body) = get(addr, "/api/v1/nothing-here").await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_over_its_rate_gets_429_with_retry_after_and_nothing_stored() {
    let t = start(false, |c| c.max_reports_per_host_per_minute = Some(2)).await;
    let addr = t.addr();
    let token = enrol(addr, "chatty").await;
    let other = enrol(addr, "quiet").await;
    for _ in 0..2 {
        let r = example("regular-report-no-inventory", "chatty");
        assert_eq!(post_report(addr, &token, &r).await.status, 200);
    }
    let r = example("regular-report-no-inventory", "chatty");
    let resp = post_report(addr, &token, &r).await;
    assert_eq!(resp.status, 429);
    assert_eq!(resp.json()["error_code"], "rate_limited");
    let retry: u64 = resp
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .map(|(_, v)| v.parse().unwrap())
        .expect("Retry-After");
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // Another host is not affected.
    let q = example("regular-report-no-inventory", "quiet");
    assert_eq!(post_report(addr, &other, &q).await.status, 200);
    let counts = t.server.store().counts().await.unwrap();
    assert_eq!(counts.series, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_estate_and_per_host_series_when_asked() {
    for per_host in [false, true] {
        let t = start(false, |c| c.metrics.per_host = per_host).await;
        let addr = t.addr();
        let token = enrol(addr, "m-host").await;
        let labels = json!({"role": "web", "site": "county-hall"});
        report(addr, &token, "m-host", "full-report-debian-vm", labels, 1).await;
        let resp = request(addr, "GET", "/metrics", &[], b"").await;
        let text = String::from_utf8(resp.body).unwrap();
        assert!(
            text.contains("estate_hosts{state=\"reporting\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("estate_hosts_by_kind{kind=\"vm\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "estate_hosts_by_os{os_family=\"linux\",os_id=\"debian\",os_version=\"12\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("estate_store_operation_duration_seconds_count{operation=\"ingest\"} 1")
        );
        assert!(text.contains("process_resident_memory_bytes"));
        let info = text.lines().find(|l| l.starts_with("estate_host_info{"));
        let last = text
            .lines()
            .find(|l| l.starts_with("estate_host_last_report_timestamp_seconds{"));
        if per_host {
            let info = info.expect("estate_host_info");
            for label in [
                "host_id=\"m-host\"",
                "os_id=\"debian\"",
                "kind=\"vm\"",
                "role=\"web\"",
                "site=\"county-hall\"",
            ] {
                assert!(info.contains(label), "{label} in {info}");
            }
            let value: f64 = last
                .expect("last report")
                .rsplit(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let age = Utc::now().timestamp() as f64 - value;
            assert!((0.0..300.0).contains(&age), "last report {age} s ago");
        } else {
            assert!(info.is_none() && last.is_none(), "{text}");
        }
    }
}
