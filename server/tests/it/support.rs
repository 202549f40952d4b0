//! Shared helpers: a collector started in-process with a temporary database, a minimal
//! HTTP/1.1 client, and the protocol's example reports.

use std::path::PathBuf;

use chrono::{Duration, Utc};
use estate_server::Server;
use estate_server::config::{AuthConfig, Backend, ServerConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const ENROLMENT_TOKEN: &str = "enrol-0123456789abcdef";
pub const READ_TOKEN: &str = "read-0123456789abcdef";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct TestServer {
    pub server: Server,
    /// Keeps the database and token files until the test ends.
    pub _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }
}

/// Starts a collector on 127.0.0.1:0 with a temporary SQLite store; `read_token` turns
/// the read token on.
pub async fn start(read_token: bool, tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let enrol = dir.path().join("enrolment-token");
    std::fs::write(&enrol, format!("{ENROLMENT_TOKEN}\n")).unwrap();
    let read = dir.path().join("read-token");
    std::fs::write(&read, READ_TOKEN).unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    config.storage.backend = Backend::Sqlite(dir.path().join("estate.db"));
    config.auth = AuthConfig {
        enrolment_token_file: Some(enrol),
        read_token_file: read_token.then_some(read),
    };
    tweak(&mut config);
    let server = estate_server::start(&config).await.unwrap();
    TestServer { server, _dir: dir }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a fresh connection. The body is written while the answer is
/// read, so an early answer (413) is not lost.
pub async fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    let writer = tokio::spawn(async move {
        // The server may answer and close before reading everything. The write half is
        // handed back, not dropped: dropping it would half-close the connection.
        let _ = wr.write_all(&out).await;
        wr
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match rd.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("read failed: {e}"),
        }
    }
    writer.abort();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = raw[split + 4..].to_vec();
    assert!(
        !headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")),
        "chunked answers are not expected"
    );
    Response {
        status,
        headers,
        body,
    }
}

/// A protocol example (`full-report-debian-vm`, `full-report-dell-r740`,
/// `regular-report-no-inventory`) for `host_id`, with a fresh `report_id` and recent
/// timestamps.
pub fn example(name: &str, host_id: &str) -> Value {
    let path = manifest_dir().join(format!("../protocol/examples/{name}.json"));
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let now = Utc::now();
    report["report_id"] = Value::from(uuid::Uuid::new_v4().to_string());
    report["host_id"] = Value::from(host_id);
    report["collected_at"] = Value::from((now - Duration::minutes(1)).to_rfc3339());
    report["window"]["start"] = Value::from((now - Duration::minutes(6)).to_rfc3339());
    report["window"]["end"] = Value::from((now - Duration::minutes(1)).to_rfc3339());
    report
}

pub async fn enrol(addr: std::net::SocketAddr, host_id: &str) -> String {
    let body = serde_json::json!({"host_id": host_id, "hostname": format!("{host_id}.local")});
    let resp = request(
        addr,
        "POST",
        "/api/v1/enrol",
        &[
            ("Authorization", &format!("Bearer {ENROLMENT_TOKEN}")),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    let json = resp.json();
    assert_eq!(json["host_id"], host_id);
    json["agent_token"].as_str().unwrap().to_owned()
}

pub async fn post_report(addr: std::net::SocketAddr, token: &str, report: &Value) -> Response {
    request(
        addr,
        "POST",
        "/api/v1/reports",
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("Content-Type", "application/json"),
        ],
        report.to_string().as_bytes(),
    )
    .await
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}
