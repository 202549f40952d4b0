//! The HTTP API in-process: enrolment, ingest, read-back, and a table of bad inputs, each
//! with its status and error code, leaving the store unchanged.

use serde_json::{Value, json};

use crate::support::{
    ENROLMENT_TOKEN, READ_TOKEN, enrol, example, gzip, post_report, request, start,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrol_ingest_and_read_back() {
    let t = start(false, |_| {}).await;
    let addr = t.addr();
    let token = enrol(addr, "host-a").await;
    assert_eq!(token.len(), 64);

    let full = example("full-report-debian-vm", "host-a");
    let resp = post_report(addr, &token, &full).await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(
        resp.json(),
        json!({"report_id": full["report_id"], "duplicate": false})
    );

    // The same report again is acknowledged and not stored twice.
    let again = post_report(addr, &token, &full).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["duplicate"], true);

    // A regular report without inventory, gzipped.
    let mut regular = example("regular-report-no-inventory", "host-a");
    regular["hostname"] = Value::from("renamed");
    let resp = request(
        addr,
        "POST",
        "/api/v1/reports",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
        ],
        &gzip(regular.to_string().as_bytes()),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));

    let store = t.server.store();
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.hosts,
            counts.series,
            counts.raw_reports,
            counts.tokens
        ),
        (1, 2, 2, 1)
    );

    let list = request(addr, "GET", "/api/v1/hosts", &[], b"").await;
    assert_eq!(list.status, 200);
    let hosts = list.json();
    assert_eq!(hosts["hosts"].as_array().unwrap().len(), 1);
    assert_eq!(hosts["hosts"][0]["hostname"], "renamed");
    assert!(hosts["hosts"][0].get("inventory").is_none());

    let one = request(addr, "GET", "/api/v1/hosts/host-a", &[], b"").await;
    assert_eq!(one.status, 200);
    let host = one.json();
    // Labels follow the latest report.
    assert_eq!(host["labels"], regular["labels"]);
    // The inventory of the full report is kept after the report without one.
    assert_eq!(host["inventory"], full["inventory"]);
    assert_eq!(host["inventory_hash"], full["inventory_hash"]);
    assert_eq!(host["reported_inventory_hash"], regular["inventory_hash"]);
    let series = store
        .series(
            "host-a".to_owned(),
            chrono::DateTime::<chrono::Utc>::MIN_UTC,
            chrono::DateTime::<chrono::Utc>::MAX_UTC,
        )
        .await
        .unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[1].power_watts, Some(48.2 + 11.9));

    let missing = request(addr, "GET", "/api/v1/hosts/nobody", &[], b"").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error_code"], "not_found");
    t.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_read_token() {
    let t = start(true, |_| {}).await;
    let addr = t.addr();
    assert_eq!(request(addr, "GET", "/healthz", &[], b"").await.status, 200);
    let ready = request(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(
        (ready.status, ready.json()["status"].clone()),
        (200, json!("ready"))
    );
    let denied = request(addr, "GET", "/api/v1/hosts", &[], b"").await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["error_code"], "unauthenticated");
    assert_eq!(denied.header("www-authenticate"), Some("Bearer"));
    let wrong = request(
        addr,
        "GET",
        "/api/v1/hosts",
        &[("Authorization", "Bearer nope")],
        b"",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let ok = request(
        addr,
        "GET",
        "/api/v1/hosts",
        &[("Authorization", &format!("Bearer {READ_TOKEN}"))],
        b"",
    )
    .await;
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.json(),
        json!({"hosts": [], "total": 0, "next_after": null})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_needs_the_enrolment_token_and_reenrolment_replaces_the_token() {
    let t = start(false, |_| {}).await;
    let addr = t.addr();
    let body = json!({"host_id": "h", "hostname": "h"}).to_string();
    for (auth, status) in [(None, 401), (Some("Bearer wrong-token-xxxxxxxx"), 401)] {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(a) = auth {
            headers.push(("Authorization", a));
        }
        let resp = request(addr, "POST", "/api/v1/enrol", &headers, body.as_bytes()).await;
        assert_eq!(resp.status, status);
        assert_eq!(resp.json()["error_code"], "unauthenticated");
    }
    let first = enrol(addr, "h").await;
    let second = enrol(addr, "h").await;
    assert_ne!(first, second);
    let report = example("regular-report-no-inventory", "h");
    assert_eq!(post_report(addr, &first, &report).await.status, 401);
    assert_eq!(post_report(addr, &second, &report).await.status, 200);
    let bad = request(
        addr,
        "POST",
        "/api/v1/enrol",
        &[
            ("Authorization", &format!("Bearer {ENROLMENT_TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"host_id": "", "hostname": "x"}"#,
    )
    .await;
    assert_eq!(
        (bad.status, bad.json()["error_code"].clone()),
        (422, json!("invalid_request"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_is_forbidden_when_not_configured() {
    let t = start(false, |c| c.auth.enrolment_token_file = None).await;
    let resp = request(
        t.addr(),
        "POST",
        "/api/v1/enrol",
        &[
            ("Authorization", &format!("Bearer {ENROLMENT_TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        br#"{"host_id": "h", "hostname": "h"}"#,
    )
    .await;
    assert_eq!(
        (resp.status, resp.json()["error_code"].clone()),
        (403, json!("forbidden"))
    );
}

// ---------------------------------------------------------------------------------------
// The bad-input suite: every write endpoint (ingest, enrolment, admin reload) and the read
// API's query parameters, each case with its status, its stable `error_code`, a message,
// and a store (and config in use) unchanged by that very case.

/// The admin token of the bad-input suite's collector.
const SUITE_ADMIN_TOKEN: &str = "admin-suite-0123456789abcdef";

/// One bad request and the answer it must get.
struct Case {
    name: String,
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

impl Case {
    fn new(name: impl Into<String>, method: &'static str, path: impl Into<String>) -> Case {
        Case {
            name: name.into(),
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            status: 0,
            code: "",
        }
    }

    fn bearer(mut self, token: &str) -> Case {
        self.headers
            .push(("Authorization", format!("Bearer {token}")));
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// A body sent as `application/json`.
    fn json(self, body: impl Into<Vec<u8>>) -> Case {
        self.header("Content-Type", "application/json").body(body)
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Case {
        self.body = body.into();
        self
    }

    fn expect(mut self, status: u16, code: &'static str) -> Case {
        self.status = status;
        self.code = code;
        self
    }
}

/// Everything a bad request could change: the store's counts and tokens, every host, the
/// victim host with its inventory, its latest raw report, its assessment and transitions,
/// the stored estimates and energy totals, and the check config in use (`/api/v1/checks`
/// carries every check's title and weight from the config currently loaded).
#[derive(Debug, PartialEq)]
struct Snapshot {
    counts: estate_server::store::Counts,
    tokens: Vec<estate_server::store::TokenRecord>,
    hosts: Vec<estate_server::store::HostRecord>,
    victim: Option<estate_server::store::HostRecord>,
    latest_report: Option<String>,
    assessment: Option<(
        estate_server::store::AssessmentRecord,
        Vec<estate_server::store::CheckStatusRecord>,
    )>,
    transitions: Vec<estate_server::store::CheckTransition>,
    carbon: Vec<estate_server::store::CarbonRecord>,
    energy: Vec<estate_server::store::HostEnergy>,
    checks_in_use: Value,
}

impl Snapshot {
    async fn take(t: &crate::support::TestServer) -> Snapshot {
        let store = t.server.store();
        let victim = || "victim".to_owned();
        let checks = request(
            t.addr(),
            "GET",
            "/api/v1/checks",
            &[("Authorization", &format!("Bearer {READ_TOKEN}"))],
            b"",
        )
        .await;
        assert_eq!(
            checks.status,
            200,
            "{}",
            String::from_utf8_lossy(&checks.body)
        );
        Snapshot {
            counts: store.counts().await.unwrap(),
            tokens: store.tokens().await.unwrap(),
            hosts: store.hosts().await.unwrap(),
            victim: store.host(victim()).await.unwrap(),
            latest_report: store.latest_report(victim()).await.unwrap(),
            assessment: store.assessment(victim()).await.unwrap(),
            transitions: store
                .check_transitions(victim(), estate_server::ingest::earliest_timestamp())
                .await
                .unwrap(),
            carbon: store.carbon_estimates().await.unwrap(),
            energy: store.host_energy().await.unwrap(),
            checks_in_use: checks.json(),
        }
    }

    /// The names of the parts that differ, for a readable failure.
    fn differences(&self, other: &Snapshot) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut check = |same: bool, name| {
            if !same {
                out.push(name);
            }
        };
        check(self.counts == other.counts, "counts");
        check(self.tokens == other.tokens, "tokens");
        check(self.hosts == other.hosts, "hosts");
        check(self.victim == other.victim, "victim host");
        check(self.latest_report == other.latest_report, "latest report");
        check(self.assessment == other.assessment, "assessment");
        check(self.transitions == other.transitions, "transitions");
        check(self.carbon == other.carbon, "carbon estimates");
        check(self.energy == other.energy, "energy totals");
        check(
            self.checks_in_use == other.checks_in_use,
            "checks in use (config)",
        );
        out
    }
}

/// Sends every case; each must get its status, `error_code` and a message, and leave the
/// snapshot taken just before it unchanged (nothing else writes meanwhile, so one case's
/// "after" is the next one's "before").
async fn run_cases(t: &crate::support::TestServer, cases: &[Case]) {
    let mut before = Snapshot::take(t).await;
    for c in cases {
        assert!(
            c.status >= 400 && !c.code.is_empty(),
            "{}: no answer",
            c.name
        );
        let headers: Vec<(&str, &str)> = c.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let resp = request(t.addr(), c.method, &c.path, &headers, &c.body).await;
        assert_eq!(
            resp.status,
            c.status,
            "{}: {}",
            c.name,
            String::from_utf8_lossy(&resp.body)
        );
        let body = resp.json();
        assert_eq!(body["error_code"], c.code, "{}: {body}", c.name);
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| !m.trim().is_empty()),
            "{}: no message in {body}",
            c.name
        );
        if resp.status == 401 {
            assert_eq!(
                resp.header("WWW-Authenticate"),
                Some("Bearer"),
                "{}",
                c.name
            );
        }
        let after = Snapshot::take(t).await;
        let changed = before.differences(&after);
        assert!(
            changed.is_empty(),
            "{}: the store changed ({})",
            c.name,
            changed.join(", ")
        );
        before = after;
    }
}

/// A collector with a read token, an admin token and a config directory of its own (the
/// shipped checks), hosts `victim` (one full report, assessed) and `other` (enrolled,
/// silent). Returns the server, the config directory and both agent tokens.
async fn suite_server() -> (
    crate::support::TestServer,
    tempfile::TempDir,
    String,
    String,
) {
    let config_dir = tempfile::tempdir().unwrap();
    let checks = config_dir.path().join("checks");
    std::fs::create_dir_all(&checks).unwrap();
    let shipped = crate::support::manifest_dir().join("../config/checks");
    for entry in std::fs::read_dir(shipped).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, checks.join(path.file_name().unwrap())).unwrap();
    }
    let admin = config_dir.path().join("admin-token");
    std::fs::write(&admin, format!("{SUITE_ADMIN_TOKEN}\n")).unwrap();
    let dir = config_dir.path().to_owned();
    let t = start(true, move |c| {
        c.assess.config_dir = Some(dir);
        c.admin_token_file = Some(admin);
        // The suite sends more reports from one host than a minute's allowance.
        c.max_reports_per_host_per_minute = None;
    })
    .await;
    let addr = t.addr();
    let token = enrol(addr, "victim").await;
    let other = enrol(addr, "other").await;
    let good = example("full-report-dell-r740", "victim");
    assert_eq!(post_report(addr, &token, &good).await.status, 200);
    // Wait for the assessment the report queued, so nothing moves during the cases.
    let store = t.server.store();
    for _ in 0..300 {
        if store
            .assessment("victim".to_owned())
            .await
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        store
            .assessment("victim".to_owned())
            .await
            .unwrap()
            .is_some(),
        "victim was not assessed in 15 s"
    );
    (t, config_dir, token, other)
}

/// `POST /api/v1/reports`: authentication, media type, sizes, JSON, schema, validation.
fn ingest_cases(token: &str, other: &str, body_limit: usize) -> Vec<Case> {
    let valid = || example("regular-report-no-inventory", "victim");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut r = valid();
        f(&mut r);
        r.to_string().into_bytes()
    };
    let post = |name: &str| Case::new(name, "POST", "/api/v1/reports").bearer(token);
    let mut bomb_json = valid().to_string().into_bytes();
    bomb_json.pop(); // drop the closing brace and pad with whitespace past the limit
    bomb_json.extend(std::iter::repeat_n(b' ', body_limit + 1024));
    bomb_json.push(b'}');
    let bomb = gzip(&bomb_json);
    assert!(bomb.len() < 64 * 1024, "the bomb is {} bytes", bomb.len());
    let mut truncated_gzip = gzip(&valid().to_string().into_bytes());
    truncated_gzip.truncate(truncated_gzip.len() / 2);
    let deep = format!(
        "{{\"schema_version\": 1, \"labels\": {}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );

    vec![
        post("malformed JSON")
            .json(&b"{\"schema_version\": 1,"[..])
            .expect(400, "malformed_json"),
        post("empty body")
            .json(Vec::new())
            .expect(400, "malformed_json"),
        post("whitespace body")
            .json(&b" \n\t "[..])
            .expect(400, "malformed_json"),
        post("not UTF-8")
            .json(vec![b'{', 0xff, 0xfe, b'}'])
            .expect(400, "malformed_json"),
        post("a byte-order mark before the JSON")
            .json([&b"\xEF\xBB\xBF"[..], &valid().to_string().into_bytes()].concat())
            .expect(400, "malformed_json"),
        post("nesting 10,000 deep")
            .json(deep.into_bytes())
            .expect(400, "malformed_json"),
        post("a JSON array")
            .json(&b"[1, 2]"[..])
            .expect(422, "invalid_report"),
        post("a JSON string")
            .json(&b"\"report\""[..])
            .expect(422, "invalid_report"),
        post("wrong schema version")
            .json(with(&|r| r["schema_version"] = json!(2)))
            .expect(422, "schema_version"),
        post("schema version a string")
            .json(with(&|r| r["schema_version"] = json!("1")))
            .expect(422, "schema_version"),
        post("schema version missing")
            .json(with(&|r| {
                r.as_object_mut().unwrap().remove("schema_version");
            }))
            .expect(422, "schema_version"),
        post("missing field")
            .json(with(&|r| {
                r.as_object_mut().unwrap().remove("power");
            }))
            .expect(422, "invalid_report"),
        post("unknown field")
            .json(with(&|r| r["surprise"] = json!(true)))
            .expect(422, "invalid_report"),
        post("wrong type")
            .json(with(&|r| r["hostname"] = json!(42)))
            .expect(422, "invalid_report"),
        post("bad report_id")
            .json(with(&|r| r["report_id"] = json!("not-a-uuid")))
            .expect(422, "invalid_report"),
        post("not a time")
            .json(with(&|r| r["collected_at"] = json!("2026-13-45T99:00:00Z")))
            .expect(422, "invalid_report"),
        post("empty host_id")
            .json(with(&|r| r["host_id"] = json!("")))
            .expect(403, "forbidden"),
        post("far future")
            .json(with(&|r| r["collected_at"] = json!("2100-01-01T00:00:00Z")))
            .expect(422, "timestamp_out_of_range"),
        post("window in the future")
            .json(with(&|r| {
                r["window"]["end"] = json!("2100-01-01T00:00:00Z")
            }))
            .expect(422, "timestamp_out_of_range"),
        post("before 2000")
            .json(with(&|r| r["collected_at"] = json!("1970-01-01T00:00:00Z")))
            .expect(422, "timestamp_out_of_range"),
        post("window reversed")
            .json(with(&|r| {
                let start = r["window"]["start"].clone();
                r["window"]["start"] = r["window"]["end"].clone();
                r["window"]["end"] = start;
            }))
            .expect(422, "invalid_report"),
        post("huge string")
            .json(with(&|r| {
                r["agent"]["version"] = json!("x".repeat(100_000))
            }))
            .expect(422, "field_too_large"),
        post("NUL in a string (PostgreSQL text cannot hold it)")
            .json(with(&|r| r["hostname"] = json!("web\u{0}01")))
            .expect(422, "invalid_report"),
        post("NUL in a label key")
            .json(with(&|r| r["labels"]["ro\u{0}le"] = json!("web")))
            .expect(422, "invalid_report"),
        post("long hostname")
            .json(with(&|r| r["hostname"] = json!("h".repeat(300))))
            .expect(422, "field_too_large"),
        post("too many labels")
            .json(with(&|r| {
                for i in 0..100 {
                    r["labels"][format!("k{i}")] = json!("v");
                }
            }))
            .expect(422, "field_too_large"),
        post("long label value")
            .json(with(&|r| r["labels"]["role"] = json!("v".repeat(300))))
            .expect(422, "field_too_large"),
        post("inventory hash mismatch")
            .json({
                let mut r = example("full-report-debian-vm", "victim");
                r["inventory_hash"] = json!("0".repeat(64));
                r.to_string().into_bytes()
            })
            .expect(422, "inventory_hash_mismatch"),
        post("oversize body")
            .json(vec![b' '; body_limit + 1])
            .expect(413, "payload_too_large"),
        post("gzip bomb")
            .header("Content-Encoding", "gzip")
            .json(bomb)
            .expect(413, "payload_too_large"),
        post("gzip announced, plain JSON sent")
            .header("Content-Encoding", "gzip")
            .json(valid().to_string().into_bytes())
            .expect(400, "bad_gzip"),
        post("truncated gzip")
            .header("Content-Encoding", "gzip")
            .json(truncated_gzip)
            .expect(400, "bad_gzip"),
        post("gzip of malformed JSON")
            .header("Content-Encoding", "gzip")
            .json(gzip(b"{\"schema_version\": 1,"))
            .expect(400, "malformed_json"),
        post("unknown encoding")
            .header("Content-Encoding", "br")
            .json(valid().to_string().into_bytes())
            .expect(415, "unsupported_media_type"),
        post("wrong content type")
            .header("Content-Type", "text/plain")
            .body(valid().to_string().into_bytes())
            .expect(415, "unsupported_media_type"),
        post("no content type")
            .body(valid().to_string().into_bytes())
            .expect(415, "unsupported_media_type"),
        Case::new("no token", "POST", "/api/v1/reports")
            .json(valid().to_string().into_bytes())
            .expect(401, "unauthenticated"),
        Case::new("not a bearer token", "POST", "/api/v1/reports")
            .header("Authorization", &format!("Basic {token}"))
            .json(valid().to_string().into_bytes())
            .expect(401, "unauthenticated"),
        Case::new("wrong token", "POST", "/api/v1/reports")
            .bearer(&"0".repeat(64))
            .json(valid().to_string().into_bytes())
            .expect(401, "unauthenticated"),
        Case::new("enrolment token used to report", "POST", "/api/v1/reports")
            .bearer(ENROLMENT_TOKEN)
            .json(valid().to_string().into_bytes())
            .expect(401, "unauthenticated"),
        Case::new("another host's token", "POST", "/api/v1/reports")
            .bearer(other)
            .json(valid().to_string().into_bytes())
            .expect(403, "forbidden"),
        Case::new("wrong method GET", "GET", "/api/v1/reports")
            .bearer(token)
            .expect(405, "method_not_allowed"),
        Case::new("wrong method PUT", "PUT", "/api/v1/reports")
            .bearer(token)
            .json(valid().to_string().into_bytes())
            .expect(405, "method_not_allowed"),
    ]
}

/// `POST /api/v1/enrol`: the enrolment token, media type, size and the request's shape.
fn enrol_cases(agent_token: &str) -> Vec<Case> {
    let good = || json!({"host_id": "newcomer", "hostname": "newcomer.local"});
    let with = |f: &dyn Fn(&mut Value)| {
        let mut r = good();
        f(&mut r);
        r.to_string().into_bytes()
    };
    let post = |name: &str| Case::new(name, "POST", "/api/v1/enrol").bearer(ENROLMENT_TOKEN);
    vec![
        Case::new("enrol: no token", "POST", "/api/v1/enrol")
            .json(with(&|_| {}))
            .expect(401, "unauthenticated"),
        Case::new("enrol: wrong token", "POST", "/api/v1/enrol")
            .bearer("enrol-but-not-really")
            .json(with(&|_| {}))
            .expect(401, "unauthenticated"),
        Case::new("enrol: an agent token", "POST", "/api/v1/enrol")
            .bearer(agent_token)
            .json(with(&|_| {}))
            .expect(401, "unauthenticated"),
        Case::new("enrol: the read token", "POST", "/api/v1/enrol")
            .bearer(READ_TOKEN)
            .json(with(&|_| {}))
            .expect(401, "unauthenticated"),
        post("enrol: wrong content type")
            .header("Content-Type", "text/plain")
            .body(with(&|_| {}))
            .expect(415, "unsupported_media_type"),
        post("enrol: no content type")
            .body(with(&|_| {}))
            .expect(415, "unsupported_media_type"),
        post("enrol: unknown encoding")
            .header("Content-Encoding", "br")
            .json(with(&|_| {}))
            .expect(415, "unsupported_media_type"),
        post("enrol: gzip announced, plain JSON sent")
            .header("Content-Encoding", "gzip")
            .json(with(&|_| {}))
            .expect(400, "bad_gzip"),
        post("enrol: malformed JSON")
            .json(&b"{\"host_id\": "[..])
            .expect(400, "malformed_json"),
        post("enrol: empty body")
            .json(Vec::new())
            .expect(400, "malformed_json"),
        post("enrol: not UTF-8")
            .json(vec![b'{', 0xff, b'}'])
            .expect(400, "malformed_json"),
        post("enrol: a JSON array")
            .json(&b"[\"newcomer\"]"[..])
            .expect(422, "invalid_request"),
        post("enrol: hostname missing")
            .json(with(&|r| {
                r.as_object_mut().unwrap().remove("hostname");
            }))
            .expect(422, "invalid_request"),
        post("enrol: unknown field")
            .json(with(&|r| r["role"] = json!("web")))
            .expect(422, "invalid_request"),
        post("enrol: host_id a number")
            .json(with(&|r| r["host_id"] = json!(7)))
            .expect(422, "invalid_request"),
        post("enrol: empty host_id")
            .json(with(&|r| r["host_id"] = json!("")))
            .expect(422, "invalid_request"),
        post("enrol: blank host_id")
            .json(with(&|r| r["host_id"] = json!("  \t ")))
            .expect(422, "invalid_request"),
        post("enrol: host_id over 256 bytes")
            .json(with(&|r| r["host_id"] = json!("h".repeat(257))))
            .expect(422, "invalid_request"),
        post("enrol: NUL in host_id")
            .json(with(&|r| r["host_id"] = json!("new\u{0}comer")))
            .expect(422, "invalid_request"),
        post("enrol: NUL in hostname")
            .json(with(&|r| r["hostname"] = json!("new\u{0}comer")))
            .expect(422, "invalid_request"),
        post("enrol: hostname over 255 bytes")
            .json(with(&|r| r["hostname"] = json!("h".repeat(256))))
            .expect(422, "field_too_large"),
        post("enrol: body over 64 KiB")
            .json(with(&|r| r["hostname"] = json!("h".repeat(70_000))))
            .expect(413, "payload_too_large"),
        Case::new("enrol: wrong method GET", "GET", "/api/v1/enrol")
            .bearer(ENROLMENT_TOKEN)
            .expect(405, "method_not_allowed"),
    ]
}

/// `POST /api/v1/admin/reload` and `/api/v1/admin/import`: the admin token, a config on
/// disk that is not valid (the test breaks the config directory first), an import's bad
/// parameters.
fn admin_cases(agent_token: &str) -> Vec<Case> {
    let reload = |name: &str| Case::new(name, "POST", "/api/v1/admin/reload");
    vec![
        reload("reload: no token").expect(401, "unauthenticated"),
        reload("reload: wrong token")
            .bearer("admin-but-not-really")
            .expect(401, "unauthenticated"),
        reload("reload: an agent token")
            .bearer(agent_token)
            .expect(401, "unauthenticated"),
        reload("reload: the read token")
            .bearer(READ_TOKEN)
            .expect(403, "forbidden"),
        reload("reload: the enrolment token")
            .bearer(ENROLMENT_TOKEN)
            .expect(403, "forbidden"),
        reload("reload: an invalid config on disk")
            .bearer(SUITE_ADMIN_TOKEN)
            .expect(422, "invalid_config"),
        Case::new("reload: wrong method GET", "GET", "/api/v1/admin/reload")
            .bearer(SUITE_ADMIN_TOKEN)
            .expect(405, "method_not_allowed"),
        Case::new(
            "import: no token",
            "POST",
            "/api/v1/admin/import?format=estate-csv",
        )
        .body(&b"host_id,hostname\nimported,imported.local\n"[..])
        .expect(401, "unauthenticated"),
        Case::new(
            "import: the read token",
            "POST",
            "/api/v1/admin/import?format=estate-csv",
        )
        .bearer(READ_TOKEN)
        .body(&b"host_id,hostname\nimported,imported.local\n"[..])
        .expect(403, "forbidden"),
        Case::new(
            "import: unknown format",
            "POST",
            "/api/v1/admin/import?format=xls",
        )
        .bearer(SUITE_ADMIN_TOKEN)
        .body(&b"host_id,hostname\nimported,imported.local\n"[..])
        .expect(400, "unknown_import_format"),
        Case::new(
            "import: as_of not a time",
            "POST",
            "/api/v1/admin/import?format=estate-csv&as_of=today",
        )
        .bearer(SUITE_ADMIN_TOKEN)
        .body(&b"host_id,hostname\nimported,imported.local\n"[..])
        .expect(400, "invalid_query"),
        Case::new(
            "import: empty file",
            "POST",
            "/api/v1/admin/import?format=estate-csv",
        )
        .bearer(SUITE_ADMIN_TOKEN)
        .expect(422, "unreadable_import"),
        Case::new("an unknown endpoint", "POST", "/api/v1/reload")
            .bearer(SUITE_ADMIN_TOKEN)
            .expect(404, "not_found"),
    ]
}

/// The read API: its token, and every query parameter's bad values.
fn read_cases() -> Vec<Case> {
    let get = |name: &str, path: &str| Case::new(name, "GET", path).bearer(READ_TOKEN);
    let bad = |name: &str, path: &str| get(name, path).expect(400, "invalid_query");
    vec![
        Case::new("read: no token", "GET", "/api/v1/hosts").expect(401, "unauthenticated"),
        Case::new("read: the enrolment token", "GET", "/api/v1/hosts/victim")
            .bearer(ENROLMENT_TOKEN)
            .expect(401, "unauthenticated"),
        Case::new("read: metrics without the token", "GET", "/metrics")
            .expect(401, "unauthenticated"),
        get("read: unknown host", "/api/v1/hosts/nobody").expect(404, "not_found"),
        get("read: unknown host's checks", "/api/v1/hosts/nobody/checks").expect(404, "not_found"),
        get("read: unknown host's carbon", "/api/v1/hosts/nobody/carbon").expect(404, "not_found"),
        get(
            "read: unknown host's history",
            "/api/v1/hosts/nobody/history",
        )
        .expect(404, "not_found"),
        get("read: NUL in a host id", "/api/v1/hosts/vic%00tim").expect(404, "not_found"),
        bad("hosts: unknown parameter", "/api/v1/hosts?colour=blue"),
        bad("hosts: limit 0", "/api/v1/hosts?limit=0"),
        bad("hosts: limit over 1000", "/api/v1/hosts?limit=1001"),
        bad("hosts: limit not a number", "/api/v1/hosts?limit=ten"),
        bad("hosts: limit negative", "/api/v1/hosts?limit=-1"),
        bad("hosts: repeated os", "/api/v1/hosts?os=linux&os=debian"),
        bad("hosts: label without a colon", "/api/v1/hosts?label=role"),
        bad("hosts: label with an empty key", "/api/v1/hosts?label=:web"),
        bad(
            "hosts: label key given twice",
            "/api/v1/hosts?label=role:web&label=role:db",
        ),
        bad("hosts: unknown kind", "/api/v1/hosts?kind=mainframe"),
        bad("hosts: unknown state", "/api/v1/hosts?state=asleep"),
        bad("hosts: empty after", "/api/v1/hosts?after="),
        bad(
            "history: from not a time",
            "/api/v1/hosts/victim/history?from=yesterday",
        ),
        bad(
            "history: from after to",
            "/api/v1/hosts/victim/history?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        ),
        bad(
            "history: over 400 days",
            "/api/v1/hosts/victim/history?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        ),
        bad(
            "history: unknown parameter",
            "/api/v1/hosts/victim/history?since=1",
        ),
        bad(
            "candidates: unknown scenario",
            "/api/v1/carbon/candidates?scenario=moon",
        ),
        bad(
            "candidates: empty scenario",
            "/api/v1/carbon/candidates?scenario=",
        ),
        bad("candidates: limit 0", "/api/v1/carbon/candidates?limit=0"),
        bad(
            "candidates: repeated limit",
            "/api/v1/carbon/candidates?limit=1&limit=2",
        ),
        bad(
            "candidates: unknown parameter",
            "/api/v1/carbon/candidates?top=5",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_inputs_get_their_status_and_code_and_change_nothing() {
    let (t, config_dir, token, other) = suite_server().await;
    let body_limit =
        usize::try_from(estate_server::config::ServerConfig::default().body_limit_bytes).unwrap();

    // The config on disk goes bad, and a check is renamed beside it: a reload must refuse
    // all of it (the renamed title would show in `/api/v1/checks`, part of the snapshot).
    let security = config_dir.path().join("checks/security.toml");
    let text = std::fs::read_to_string(&security).unwrap();
    assert!(text.contains("title = \""), "security.toml has titles");
    std::fs::write(
        &security,
        text.replacen("title = \"", "title = \"RENAMED ", 1),
    )
    .unwrap();
    std::fs::write(
        config_dir.path().join("waivers.toml"),
        "[[waiver]]\ncheck = 3\n",
    )
    .unwrap();

    let ingest = ingest_cases(&token, &other, body_limit);
    let mut cases = Vec::new();
    cases.extend(enrol_cases(&token));
    cases.extend(admin_cases(&token));
    cases.extend(read_cases());
    let all = ingest.len() + cases.len();
    assert!(all >= 30, "{all} cases");
    eprintln!(
        "{all} bad-input cases: {} ingest, {} others",
        ingest.len(),
        cases.len()
    );
    let mut names = std::collections::BTreeSet::new();
    for c in ingest.iter().chain(&cases) {
        assert!(names.insert(c.name.as_str()), "two cases named {}", c.name);
    }
    run_cases(&t, &ingest).await;
    run_cases(&t, &cases).await;

    // The invalid config's message locates the problem.
    let resp = request(
        t.addr(),
        "POST",
        "/api/v1/admin/reload",
        &[("Authorization", &format!("Bearer {SUITE_ADMIN_TOKEN}"))],
        b"",
    )
    .await;
    let message = resp.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("waivers.toml:2"), "{message}");

    // Every POST to the ingest endpoint was counted by outcome (wrong methods never reach
    // the handler); the good report is the one stored.
    let posts: Vec<&Case> = ingest.iter().filter(|c| c.method == "POST").collect();
    let outcome = |code: &str| posts.iter().filter(|c| c.code == code).count();
    let metrics = request(
        t.addr(),
        "GET",
        "/metrics",
        &[("Authorization", &format!("Bearer {READ_TOKEN}"))],
        b"",
    )
    .await;
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8(metrics.body).unwrap();
    for line in [
        "estate_ingest_reports_total{outcome=\"stored\"} 1".to_owned(),
        "estate_ingest_reports_total{outcome=\"duplicate\"} 0".to_owned(),
        format!(
            "estate_ingest_reports_total{{outcome=\"forbidden\"}} {}",
            outcome("forbidden")
        ),
        format!(
            "estate_ingest_reports_total{{outcome=\"unauthenticated\"}} {}",
            outcome("unauthenticated")
        ),
        format!(
            "estate_ingest_reports_total{{outcome=\"payload_too_large\"}} {}",
            outcome("payload_too_large")
        ),
        "estate_hosts{state=\"reporting\"} 1".to_owned(),
        "estate_hosts{state=\"stale\"} 0".to_owned(),
        format!("estate_ingest_duration_seconds_count {}", posts.len() + 1),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_switched_off() {
    let t = start(false, |c| c.metrics.enabled = false).await;
    let resp = request(t.addr(), "GET", "/metrics", &[], b"").await;
    assert_eq!(
        (resp.status, resp.json()["error_code"].clone()),
        (404, json!("not_found"))
    );
}

/// Ingest throughput over HTTP (one connection per request, regular reports): run with
/// `cargo test --release -p estate-server -- --ignored --nocapture ingest_rate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a measurement, not a check"]
async fn ingest_rate() {
    let t = start(false, |_| {}).await;
    let addr = t.addr();
    let (clients, per_client) = (64, 100);
    let mut tokens = Vec::new();
    for i in 0..clients {
        tokens.push(enrol(addr, &format!("rate-{i}")).await);
    }
    let before = t.server.store().transactions();
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                let report = example("regular-report-no-inventory", &format!("rate-{i}"));
                assert_eq!(post_report(addr, &token, &report).await.status, 200);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let reports = clients * per_client;
    let transactions = t.server.store().transactions() - before;
    println!(
        "{reports} reports in {:.2} s: {:.0} reports/s, {transactions} transactions ({:.1} reports each)",
        elapsed.as_secs_f64(),
        reports as f64 / elapsed.as_secs_f64(),
        reports as f64 / transactions as f64
    );
    assert_eq!(
        t.server.store().counts().await.unwrap().series,
        reports as u64
    );
}

/// `promtool check metrics` (Debian's `prometheus` package) finds nothing to say about
/// the live `/metrics` output after real traffic. Skipped with a note where promtool is
/// missing, except in CI (`CI=true`), where `.ci/run` installs it and a skip would hide
/// a regression.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_check_metrics_prints_nothing() {
    let promtool = std::path::Path::new("/usr/bin/promtool");
    if !promtool.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "promtool is missing in CI: .ci/run must install Debian's prometheus package"
        );
        eprintln!(
            "note: /usr/bin/promtool missing; install Debian's prometheus package to run this check"
        );
        return;
    }
    // Per-host series on, so every metric family is in the output checked.
    let t = start(false, |c| c.metrics.per_host = true).await;
    let addr = t.addr();
    let token = enrol(addr, "host-m").await;
    let report = example("full-report-dell-r740", "host-m");
    assert_eq!(post_report(addr, &token, &report).await.status, 200);
    assert_eq!(post_report(addr, &token, &report).await.status, 200);
    let metrics = request(addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(metrics.status, 200);

    use std::io::Write;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&metrics.body)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.is_empty(), "promtool: {said}");
}

/// A slow client cannot hold a connection: a request head that does not arrive within
/// `client_timeout_secs` closes the connection, a body that does not arrive gets `408
/// request_timeout`, and the collector serves others meanwhile and afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let timeout = Duration::from_secs(2);
    let t = start(false, |c| c.client_timeout = timeout).await;
    let addr = t.addr();
    let token = enrol(addr, "slow").await;

    // Half a request head, then silence: closed without an answer (or with a 408 from
    // hyper) after about the timeout.
    let mut head_only = tokio::net::TcpStream::connect(addr).await.unwrap();
    head_only
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A body announced and never sent.
    let mut body_only = tokio::net::TcpStream::connect(addr).await.unwrap();
    body_only
        .write_all(
            format!(
                "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"schema"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let began = Instant::now();

    // Others are served while both wait.
    let ok = request(addr, "GET", "/healthz", &[], &[]).await;
    assert_eq!(ok.status, 200);

    let mut answer = Vec::new();
    let read = tokio::time::timeout(timeout * 10, body_only.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the trickling body was not cut off");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("\"error_code\":\"request_timeout\""),
        "{text}"
    );
    assert!(began.elapsed() >= timeout - Duration::from_millis(200));

    let mut rest = Vec::new();
    let closed = tokio::time::timeout(timeout * 10, head_only.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the half head was not cut off");
    let rest = String::from_utf8_lossy(&rest);
    assert!(
        rest.is_empty() || rest.starts_with("HTTP/1.1 408"),
        "{rest}"
    );

    let again = request(addr, "GET", "/healthz", &[], &[]).await;
    assert_eq!(again.status, 200);
}
