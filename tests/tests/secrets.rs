//! No secret leaks (issue 8, item 4): a real collector with every token configured (the
//! enrolment, read and admin tokens) and a real agent, both logging at `trace` for their
//! own code; then wrong tokens presented everywhere. No token — nor the agent's own token
//! — may appear in either process's log, in `/metrics`, in any page of the web page, in
//! any API answer (errors included), or in any format of the report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use estate_tests::{Proc, http_request, logged_addr, poll_until, toml_string, workspace_bin};

/// The `debian-kvm` fixture's host id (its `/etc/machine-id`).
const HOST_ID: &str = "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b";
const WAIT: Duration = Duration::from_secs(30);

/// A token that cannot occur anywhere by chance.
fn secret(kind: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{kind}-SECRET-{nanos:x}-{}", std::process::id())
}

/// Everything a person or program could see, as (where, text).
type Seen = Vec<(String, String)>;

fn get(seen: &mut Seen, addr: SocketAddr, path: &str, bearer: Option<&str>) -> u16 {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| vec![("Authorization", a)])
        .unwrap_or_default();
    let response = http_request(addr, "GET", path, &headers, b"").unwrap();
    seen.push((format!("GET {path}"), response.body));
    response.status
}

fn post(seen: &mut Seen, addr: SocketAddr, path: &str, bearer: &str, body: &str) -> u16 {
    let auth = format!("Bearer {bearer}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/json"),
    ];
    let response = http_request(addr, "POST", path, &headers, body.as_bytes()).unwrap();
    seen.push((format!("POST {path}"), response.body));
    response.status
}

#[test]
fn no_token_appears_in_logs_metrics_pages_answers_or_reports() {
    let dir = tempfile::Builder::new()
        .prefix("estate-secrets-")
        .tempdir()
        .unwrap();
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let (enrolment, read, admin) = (secret("enrol"), secret("read"), secret("admin"));
    for (file, token) in [
        ("enrolment-token", &enrolment),
        ("read-token", &read),
        ("admin-token", &admin),
    ] {
        std::fs::write(path(file), format!("{token}\n")).unwrap();
    }
    std::fs::write(
        path("server.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [storage]\nsqlite_path = {}\n\n\
             [auth]\nenrolment_token_file = {}\nread_token_file = {}\nadmin_token_file = {}\n\n\
             [reports]\ndir = {}\n",
            toml_string(&path("estate.db")),
            toml_string(&path("enrolment-token")),
            toml_string(&path("read-token")),
            toml_string(&path("admin-token")),
            toml_string(&path("reports")),
        ),
    )
    .unwrap();
    let mut command = Command::new(workspace_bin("estate-server"));
    command
        .args(["serve", "--config"])
        .arg(path("server.toml"))
        .env("RUST_LOG", "info,estate_server=trace")
        .env_remove("ESTATE_LOG");
    let mut server = Proc::spawn("estate-server", command, &path("server.log")).unwrap();
    let addr = logged_addr(&mut server, "collector listening", WAIT)
        .unwrap_or_else(|| panic!("the collector did not start\n{}", server.log_tail(40)));

    std::fs::write(
        path("agent.toml"),
        format!(
            "[collector]\nurl = \"http://{addr}\"\nenrolment_token_file = {}\n\n\
             [agent]\nstate_dir = {}\nreport_interval_secs = 1\nsample_interval_secs = 1\n",
            toml_string(&path("enrolment-token")),
            toml_string(&path("agent")),
        ),
    )
    .unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/fixtures/sysroots/debian-kvm");
    let mut command = Command::new(workspace_bin("estate-agent"));
    command
        .args(["run", "--config"])
        .arg(path("agent.toml"))
        .arg("--root")
        .arg(fixture)
        .env("ESTATE_LOG", "info,estate_agent=trace");
    let mut agent = Proc::spawn("estate-agent", command, &path("agent.log")).unwrap();

    let mut seen: Seen = Vec::new();
    // The host reported and was assessed.
    let assessed = poll_until(WAIT, Duration::from_millis(200), || {
        let r = http_request(
            addr,
            "GET",
            &format!("/api/v1/hosts/{HOST_ID}/checks"),
            &[("Authorization", &format!("Bearer {read}"))],
            b"",
        )
        .ok()?;
        (r.status == 200).then_some(())
    });
    assert!(
        assessed.is_some(),
        "the host was not assessed\n{}\n{}",
        server.log_tail(30),
        agent.log_tail(30)
    );
    let agent_token = std::fs::read_to_string(path("agent/token")).unwrap();
    let agent_token = agent_token.trim().to_owned();
    assert!(
        agent_token.len() >= 32,
        "the agent's token: {agent_token:?}"
    );

    // What the read token shows: the API, the metrics, the web page.
    for page in [
        "/api/v1/hosts".to_owned(),
        format!("/api/v1/hosts/{HOST_ID}"),
        format!("/api/v1/hosts/{HOST_ID}/checks"),
        format!("/api/v1/hosts/{HOST_ID}/carbon"),
        format!("/api/v1/hosts/{HOST_ID}/history"),
        "/api/v1/estate/summary".to_owned(),
        "/api/v1/estate/score".to_owned(),
        "/api/v1/carbon".to_owned(),
        "/metrics".to_owned(),
        "/ui/".to_owned(),
        "/ui/hosts".to_owned(),
        format!("/ui/hosts/{HOST_ID}"),
        "/ui/checks".to_owned(),
        "/ui/scenarios".to_owned(),
        "/ui/reports".to_owned(),
    ] {
        assert_eq!(get(&mut seen, addr, &page, Some(&read)), 200, "{page}");
    }
    // Each token where another is expected, and none at all: refused, and the answer
    // does not echo what was presented.
    assert_eq!(get(&mut seen, addr, "/api/v1/hosts", Some(&admin)), 401);
    assert_eq!(
        get(&mut seen, addr, "/api/v1/hosts", Some(&agent_token)),
        401
    );
    assert_eq!(get(&mut seen, addr, "/ui/", Some(&enrolment)), 401);
    assert_eq!(get(&mut seen, addr, "/metrics", None), 401);
    let enrol_body = format!("{{\"host_id\":\"intruder\",\"hostname\":\"{read}\"}}");
    assert_eq!(
        post(&mut seen, addr, "/api/v1/enrol", &read, &enrol_body),
        401
    );
    assert_eq!(
        post(&mut seen, addr, "/api/v1/admin/reload", &read, ""),
        403
    );
    assert_eq!(
        post(&mut seen, addr, "/api/v1/reports", &enrolment, "{}"),
        401
    );
    // A malformed report with a token inside: the parse error must not quote it.
    let malformed = format!("{{\"schema_version\":1,\"host_id\":\"{enrolment}\"");
    let status = post(&mut seen, addr, "/api/v1/reports", &agent_token, &malformed);
    assert!(status >= 400, "{status}");
    // The admin token where it belongs: the reload works.
    assert_eq!(
        post(&mut seen, addr, "/api/v1/admin/reload", &admin, ""),
        200
    );

    // The reports, every format, from the store.
    for (format, out) in [
        ("html", "report.html"),
        ("md", "report.md"),
        ("json", "report.json"),
        ("csv", "report-csv"),
    ] {
        let output = Command::new(workspace_bin("estate-server"))
            .args(["report", "--config"])
            .arg(path("server.toml"))
            .args(["--format", format, "--out"])
            .arg(path(out))
            .output()
            .unwrap();
        assert!(output.status.success(), "report {format}: {output:?}");
        seen.push((
            format!("report {format} (stdout and stderr)"),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    for file in ["report.html", "report.md", "report.json"] {
        seen.push((
            file.to_owned(),
            std::fs::read_to_string(path(file)).unwrap(),
        ));
    }
    for entry in std::fs::read_dir(path("report-csv")).unwrap() {
        let entry = entry.unwrap();
        seen.push((
            entry.path().display().to_string(),
            std::fs::read_to_string(entry.path()).unwrap(),
        ));
    }

    agent.terminate(WAIT);
    server.terminate(WAIT);
    seen.push(("the collector's log".to_owned(), server.log()));
    seen.push(("the agent's log".to_owned(), agent.log()));
    assert!(
        server.log().contains("host enrolled") && agent.log().lines().count() > 5,
        "the logs are too thin to prove anything"
    );

    let tokens = [
        ("enrolment token", enrolment.as_str()),
        ("read token", read.as_str()),
        ("admin token", admin.as_str()),
        ("agent token", agent_token.as_str()),
    ];
    let mut leaks = Vec::new();
    for (where_, text) in &seen {
        for (name, token) in tokens {
            if text.contains(token) {
                leaks.push(format!("the {name} appears in {where_}"));
            }
        }
    }
    assert!(leaks.is_empty(), "{leaks:#?}");
    assert!(seen.len() > 30, "only {} things looked at", seen.len());
}
