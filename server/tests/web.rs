//! The collector's web page (`/ui/`), started in-process on 127.0.0.1:0 with a temporary
//! SQLite store: every page answers with its security headers, inventory-derived text
//! is escaped everywhere (hostile host name, package name, label and host id), the read
//! token is asked for and taken as Bearer or Basic, reports download and nothing outside
//! the reports directory does, and bad requests get HTML errors naming what is wrong.
// Test helpers outside #[test] functions panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "it/support.rs"]
mod support;

use std::time::Duration;

use estate_server::report::ReportsConfig;
use serde_json::Value;
use support::{READ_TOKEN, Response, enrol, example, post_report, request};

const HOSTILE_HOSTNAME: &str = "<script>alert(1)</script>";
const HOSTILE_PACKAGE: &str = r#""><img src=x onerror=alert(1)>"#;
const HOSTILE_LABEL: &str = r#"R&D "ops" 'north'"#;
/// A host id that must be percent-encoded in a URL and escaped in HTML.
const HOSTILE_ID: &str = "ops/desk 7&x=<1>";

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

/// The headers every web answer carries.
fn assert_security_headers(r: &Response, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(r.header(name), Some(value), "{what}: {name}");
    }
    assert!(r.header("content-security-policy").is_some(), "{what}: CSP");
}

/// An HTML page: its headers, and no script, inline style or external reference.
fn assert_html(r: &Response, what: &str) {
    assert_security_headers(r, what);
    assert_eq!(r.header("content-security-policy"), Some(CSP), "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    let html = body(r);
    assert!(html.starts_with("<!DOCTYPE html>"), "{what}");
    let lower = html.to_ascii_lowercase();
    // Sources of factors are shown as text; nothing is linked or fetched from elsewhere.
    for banned in [
        "<script",
        "style=",
        "<style",
        "href=\"http",
        "src=\"http",
        "href=\"//",
        "src=\"//",
        "url(",
        "javascript:",
    ] {
        assert!(!lower.contains(banned), "{what}: contains {banned}");
    }
    for raw in [HOSTILE_HOSTNAME, HOSTILE_PACKAGE, HOSTILE_LABEL, HOSTILE_ID] {
        assert!(!html.contains(raw), "{what}: unescaped {raw}");
    }
    assert!(!lower.contains("<img"), "{what}: an injected element");
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"").await
}

async fn get_auth(addr: std::net::SocketAddr, path: &str, authorization: &str) -> Response {
    request(addr, "GET", path, &[("Authorization", authorization)], b"").await
}

/// The Debian example as `host_id`, with the hostile name, package and label; its
/// inventory hash recomputed.
fn hostile_report(host_id: &str) -> Value {
    let json = example("full-report-debian-vm", host_id);
    let mut report: estate_protocol::Report = serde_json::from_value(json).unwrap();
    report.hostname = HOSTILE_HOSTNAME.to_owned();
    report
        .labels
        .insert("owner".to_owned(), HOSTILE_LABEL.to_owned());
    let inventory = report.inventory.as_mut().unwrap();
    inventory.software.as_mut().unwrap().packages[0].name = HOSTILE_PACKAGE.to_owned();
    report.inventory_hash = inventory.stable_hash();
    serde_json::to_value(&report).unwrap()
}

/// Enrols and reports the three hosts, then waits until all are assessed.
async fn fill(addr: std::net::SocketAddr) {
    for (host, name) in [
        ("vm-1", "full-report-debian-vm"),
        ("dell-1", "full-report-dell-r740"),
    ] {
        let token = enrol(addr, host).await;
        let resp = post_report(addr, &token, &example(name, host)).await;
        assert_eq!(resp.status, 200, "{}", body(&resp));
    }
    let token = enrol(addr, HOSTILE_ID).await;
    let resp = post_report(addr, &token, &hostile_report(HOSTILE_ID)).await;
    assert_eq!(resp.status, 200, "{}", body(&resp));
    for _ in 0..200 {
        let r = get_auth(addr, "/api/v1/checks", &format!("Bearer {READ_TOKEN}")).await;
        if r.json()["hosts_assessed"] == 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the hosts were not assessed in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_escaped_and_carries_the_security_headers() {
    let reports = tempfile::tempdir().unwrap();
    let dir = reports.path().to_owned();
    let t = support::start(false, |c| {
        c.metrics.refresh = Duration::ZERO;
        c.reports = Some(ReportsConfig::new(dir.clone()));
    })
    .await;
    let addr = t.addr();
    fill(addr).await;

    let encoded_id = "ops%2Fdesk%207%26x%3D%3C1%3E";
    let escaped_name = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let pages = [
        "/ui/",
        "/ui",
        "/ui/hosts",
        "/ui/hosts?q=desk",
        "/ui/hosts?q=&band=&os=&kind=&label=&state=",
        "/ui/hosts?band=unscored",
        "/ui/hosts?os=linux&kind=vm&state=reporting&limit=1",
        "/ui/hosts?label=owner%3AR%26D+%22ops%22+%27north%27",
        "/ui/hosts/vm-1",
        "/ui/hosts/dell-1?range=7d",
        &format!("/ui/hosts/{encoded_id}"),
        &format!("/ui/hosts/{encoded_id}?range=30d"),
        "/ui/checks",
        "/ui/scenarios",
        "/ui/reports",
    ];
    for path in pages {
        let r = get(addr, path).await;
        assert_eq!(r.status, 200, "{path}: {}", body(&r));
        assert_html(&r, path);
    }

    // The hostile strings are shown, escaped, where they belong.
    let host = body(&get(addr, &format!("/ui/hosts/{encoded_id}")).await);
    assert!(
        host.contains(&format!("<h1>Host {escaped_name}</h1>")),
        "{host}"
    );
    assert!(host.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(host.contains("R&amp;D &quot;ops&quot; &#39;north&#39;"));
    assert!(
        host.contains("ops/desk 7&amp;x=&lt;1&gt;"),
        "the id, escaped"
    );
    assert!(host.contains(&format!(
        r#"href="/ui/hosts/{encoded_id}?range=7d#history""#
    )));
    assert!(host.contains(r#"<svg class="chart""#), "history charts");
    assert!(
        host.contains("Per scenario"),
        "the carbon estimate per scenario"
    );
    assert!(
        host.contains("Factors used"),
        "the factors behind the estimate"
    );
    assert!(host.contains("Remediation"), "checks with remediation");
    let list = body(&get(addr, "/ui/hosts?q=desk").await);
    assert!(list.contains(&format!(
        r#"<a href="/ui/hosts/{encoded_id}">{escaped_name}</a>"#
    )));
    assert!(list.contains("1 host matches"), "{list}");
    let list = body(&get(addr, "/ui/hosts?label=owner%3AR%26D+%22ops%22+%27north%27").await);
    assert!(list.contains("1 host matches"), "the label filter: {list}");
    assert!(list.contains(r#"value="owner:R&amp;D &quot;ops&quot; &#39;north&#39;""#));
    let page = body(&get(addr, "/ui/hosts?os=linux&limit=1").await);
    assert!(page.contains(r#"rel="next""#), "a next page: {page}");
    assert!(page.contains("limit=1&amp;after="), "{page}");
    let overview = body(&get(addr, "/ui/").await);
    assert!(overview.contains("Estate score") && overview.contains("azure-uksouth"));
    let checks = body(&get(addr, "/ui/checks").await);
    assert!(checks.contains("<svg class=\"mini\""));
    let unscored = body(&get(addr, "/ui/hosts?band=unscored").await);
    assert!(
        unscored.contains("0 hosts match"),
        "every host is scored: {unscored}"
    );

    // `/` goes to the page; the stylesheet is served with the same headers.
    let r = get(addr, "/").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/ui/"));
    let css = get(addr, "/ui/style.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_security_headers(&css, "style.css");
    assert!(body(&css).contains("@media print"));

    // Errors are HTML pages with the same headers.
    for (path, status, says) in [
        ("/ui/hosts/no-such-host", 404, "no-such-host"),
        ("/ui/nothing-here", 404, "no such page"),
        ("/ui/hosts?band=purple", 400, "`band`"),
        ("/ui/hosts?kind=mainframe", 400, "`kind`"),
        ("/ui/hosts?sort=name", 400, "`sort`"),
        ("/ui/hosts/vm-1?range=2y", 400, "`range`"),
        ("/ui/checks?x=1", 400, "`x`"),
    ] {
        let r = get(addr, path).await;
        assert_eq!(r.status, status, "{path}");
        assert_html(&r, path);
        assert!(body(&r).contains(says), "{path}: {}", body(&r));
    }
    let r = get(addr, "/ui/hosts/%3Cscript%3E").await;
    assert_eq!(r.status, 404);
    assert!(
        body(&r).contains("&lt;script&gt;"),
        "the unknown id, escaped"
    );
    assert_html(&r, "unknown hostile id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_download_and_nothing_else_does() {
    let reports = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "top secret").unwrap();
    let d = reports.path();
    std::fs::write(
        d.join("estate-report-20261201T060000Z.html"),
        "<p>report</p>",
    )
    .unwrap();
    std::fs::write(d.join("estate-report-20261201T060000Z.json"), "{}").unwrap();
    std::fs::create_dir(d.join("estate-report-20261201T060000Z-csv")).unwrap();
    std::fs::write(
        d.join("estate-report-20261201T060000Z-csv/hosts.csv"),
        "host_id\nh1\n",
    )
    .unwrap();
    std::fs::write(d.join(".estate-report-x.html.tmp"), "half written").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.join("link.txt")).unwrap();
    let dir = d.to_owned();
    let t = support::start(false, |c| c.reports = Some(ReportsConfig::new(dir.clone()))).await;
    let addr = t.addr();

    let list = get(addr, "/ui/reports").await;
    assert_eq!(list.status, 200);
    assert_html(&list, "reports");
    let html = body(&list);
    for link in [
        "/ui/reports/estate-report-20261201T060000Z.html",
        "/ui/reports/estate-report-20261201T060000Z.json",
        "/ui/reports/estate-report-20261201T060000Z-csv/hosts.csv",
    ] {
        assert!(
            html.contains(&format!(r#"href="{link}""#)),
            "{link}: {html}"
        );
    }
    assert!(
        !html.contains("link.txt") && !html.contains(".tmp"),
        "{html}"
    );

    let r = get(addr, "/ui/reports/estate-report-20261201T060000Z.html").await;
    assert_eq!(r.status, 200);
    assert_eq!(body(&r), "<p>report</p>");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_security_headers(&r, "html report");
    assert!(
        r.header("content-security-policy")
            .unwrap()
            .starts_with("sandbox;")
    );
    let r = get(addr, "/ui/reports/estate-report-20261201T060000Z.json").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("content-disposition"),
        Some(r#"attachment; filename="estate-report-20261201T060000Z.json""#)
    );
    let r = get(
        addr,
        "/ui/reports/estate-report-20261201T060000Z-csv/hosts.csv",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(body(&r), "host_id\nh1\n");

    let secret = outside.path().join("secret.txt");
    let absolute = secret.to_str().unwrap().replace('/', "%2F");
    for path in [
        "/ui/reports/..%2f..%2fetc%2fpasswd".to_owned(),
        "/ui/reports/..%2Fsecret.txt".to_owned(),
        "/ui/reports/%2e%2e%2fsecret.txt".to_owned(),
        "/ui/reports/%2e%2e".to_owned(),
        "/ui/reports/../secret.txt".to_owned(),
        "/ui/reports/..%5csecret.txt".to_owned(),
        format!("/ui/reports/{absolute}"),
        "/ui/reports/%2Fetc%2Fpasswd".to_owned(),
        "/ui/reports/link.txt".to_owned(),
        "/ui/reports/.estate-report-x.html.tmp".to_owned(),
        "/ui/reports/estate-report-20261201T060000Z-csv".to_owned(),
        "/ui/reports/estate-report-20261201T060000Z-csv/..%2F..%2Fsecret.txt".to_owned(),
        "/ui/reports/estate-report-20261201T060000Z-csv%2Fhosts.csv".to_owned(),
        "/ui/reports/..%2f/hosts.csv".to_owned(),
        "/ui/reports/missing.html".to_owned(),
    ] {
        let r = get(addr, &path).await;
        assert_eq!(r.status, 404, "{path}: {}", body(&r));
        assert!(!body(&r).contains("top secret"), "{path}");
        assert_html(&r, &path);
    }

    // Without `[reports]` the page says so, and nothing downloads.
    let t2 = support::start(false, |_| {}).await;
    let r = get(t2.addr(), "/ui/reports").await;
    assert_eq!(r.status, 200);
    assert!(body(&r).contains("not configured"), "{}", body(&r));
    let r = get(t2.addr(), "/ui/reports/estate-report-20261201T060000Z.html").await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_token_guards_every_page() {
    let t = support::start(true, |_| {}).await;
    let addr = t.addr();
    let challenge = r#"Basic realm="Estate", charset="UTF-8""#;
    // "browser:read-0123456789abcdef" and "browser:wrong-0123456789abcdef"
    let basic_ok = "Basic YnJvd3NlcjpyZWFkLTAxMjM0NTY3ODlhYmNkZWY=";
    let basic_wrong = "Basic YnJvd3Nlcjp3cm9uZy0wMTIzNDU2Nzg5YWJjZGVm";
    for path in [
        "/ui/",
        "/ui/hosts",
        "/ui/hosts/any",
        "/ui/checks",
        "/ui/scenarios",
        "/ui/reports",
        "/ui/reports/x.html",
        "/ui/nothing",
    ] {
        for auth in [
            None,
            Some("Bearer wrong-0123456789abcdef"),
            Some(basic_wrong),
            Some("Basic !!!"),
        ] {
            let r = match auth {
                Some(a) => get_auth(addr, path, a).await,
                None => get(addr, path).await,
            };
            assert_eq!(r.status, 401, "{path} {auth:?}");
            assert_eq!(r.header("www-authenticate"), Some(challenge), "{path}");
            assert_html(&r, path);
            assert!(!body(&r).contains(READ_TOKEN));
        }
    }
    for auth in [format!("Bearer {READ_TOKEN}"), basic_ok.to_owned()] {
        for path in [
            "/ui/",
            "/ui/hosts",
            "/ui/checks",
            "/ui/scenarios",
            "/ui/reports",
        ] {
            let r = get_auth(addr, path, &auth).await;
            assert_eq!(r.status, 200, "{path} {auth}");
            assert_html(&r, path);
        }
        let r = get_auth(addr, "/ui/hosts/nobody", &auth).await;
        assert_eq!(r.status, 404);
    }
    // The stylesheet and the redirect hold nothing of the estate: no token needed.
    assert_eq!(get(addr, "/ui/style.css").await.status, 200);
    assert_eq!(get(addr, "/").await.status, 303);
}
