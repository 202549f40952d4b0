//! HTTPS end to end, in-process: a collector serving `[tls]` with certificates from a
//! throwaway CA made here (rcgen), reached by the agent's real transport and by a bare
//! rustls client (which tells the exact handshake error and the certificate served).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, Utc};
use estate_agent::config::{AgentConfig, ClientIdentity, CollectorTarget};
use estate_agent::transport::{SendOutcome, Transport, TransportError};
use estate_server::config::{AuthConfig, Backend, ClientAuth, ServerConfig, TlsConfig};
use estate_server::tls::TlsError;
use estate_server::{AppError, Server};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{AlertDescription, CertificateError};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ENROLMENT_TOKEN: &str = "enrol-0123456789abcdef";

// ---------------------------------------------------------------------------------
// A throwaway PKI.

struct Ca {
    cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let cert = params.self_signed(&key).unwrap();
    Ca {
        cert_pem: cert.pem(),
        issuer: rcgen::Issuer::new(params, key),
    }
}

/// A leaf certificate and its key, PEM.
struct Leaf {
    cert_pem: String,
    key_pem: String,
}

struct LeafSpec<'a> {
    names: &'a [&'a str],
    serial: u64,
    /// Years of notBefore and notAfter (1 January).
    valid: (i32, i32),
    client: bool,
}

const SERVER: LeafSpec<'static> = LeafSpec {
    names: &["127.0.0.1", "localhost"],
    serial: 1,
    valid: (2020, 2090),
    client: false,
};

fn leaf(ca: &Ca, spec: &LeafSpec<'_>) -> Leaf {
    let key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = spec.names.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, spec.names[0]);
    params.serial_number = Some(rcgen::SerialNumber::from(spec.serial));
    params.not_before = rcgen::date_time_ymd(spec.valid.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(spec.valid.1, 1, 1);
    params.extended_key_usages = vec![if spec.client {
        rcgen::ExtendedKeyUsagePurpose::ClientAuth
    } else {
        rcgen::ExtendedKeyUsagePurpose::ServerAuth
    }];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Leaf {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// notAfter of [`LeafSpec::valid`], Unix seconds.
fn jan_1(year: i32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

// ---------------------------------------------------------------------------------
// The collector.

struct TestServer {
    server: Server,
    dir: tempfile::TempDir,
}

impl TestServer {
    fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr())
    }
}

/// The config of a collector on 127.0.0.1:0 with a temporary store, serving `leaf`.
fn server_config(dir: &Path, leaf: &Leaf, client_auth: ClientAuth) -> ServerConfig {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    config.storage.backend = Backend::Sqlite(dir.join("estate.db"));
    config.auth = AuthConfig {
        enrolment_token_file: Some(write(dir, "enrolment-token", ENROLMENT_TOKEN)),
        read_token_file: None,
    };
    config.tls = Some(TlsConfig {
        cert_file: write(dir, "server.crt", &leaf.cert_pem),
        key_file: write(dir, "server.key", &leaf.key_pem),
        client_auth,
    });
    config
}

async fn start(leaf: &Leaf, client_auth: impl FnOnce(&Path) -> ClientAuth) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let client_auth = client_auth(dir.path());
    let config = server_config(dir.path(), leaf, client_auth);
    let server = estate_server::start(&config).await.unwrap();
    TestServer { server, dir }
}

fn off(_: &Path) -> ClientAuth {
    ClientAuth::Off
}

fn required(ca: &Ca) -> impl FnOnce(&Path) -> ClientAuth + '_ {
    move |dir| ClientAuth::Required {
        ca_file: write(dir, "client-ca.crt", &ca.cert_pem),
    }
}

fn optional(ca: &Ca) -> impl FnOnce(&Path) -> ClientAuth + '_ {
    move |dir| ClientAuth::Optional {
        ca_file: write(dir, "client-ca.crt", &ca.cert_pem),
    }
}

// ---------------------------------------------------------------------------------
// The agent's transport.

/// An agent trusting `trusts` (none: the system roots only), presenting `identity`.
fn agent(
    url: &str,
    trusts: Option<&Ca>,
    identity: Option<&Leaf>,
) -> (Transport, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let collector = CollectorTarget {
        url: Some(url.to_owned()),
        token_file: Some(dir.path().join("token")),
        enrolment_token_file: Some(write(dir.path(), "enrolment-token", ENROLMENT_TOKEN)),
        ca_file: trusts.map(|ca| write(dir.path(), "ca.crt", &ca.cert_pem)),
        client_identity: identity.map(|leaf| ClientIdentity {
            cert_file: write(dir.path(), "agent.crt", &leaf.cert_pem),
            key_file: write(dir.path(), "agent.key", &leaf.key_pem),
        }),
    };
    let config = AgentConfig {
        collector,
        state_dir: dir.path().to_path_buf(),
        ..AgentConfig::default()
    };
    (Transport::new(&config, "host-tls-1", "web01").unwrap(), dir)
}

/// The protocol's example report for `host-tls-1`, fresh, gzipped.
fn report() -> (uuid::Uuid, Vec<u8>) {
    use std::io::Write;
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/examples/regular-report-no-inventory.json");
    let mut report: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let id = uuid::Uuid::new_v4();
    let now = Utc::now();
    report["report_id"] = Value::from(id.to_string());
    report["host_id"] = Value::from("host-tls-1");
    report["collected_at"] = Value::from((now - Duration::minutes(1)).to_rfc3339());
    report["window"]["start"] = Value::from((now - Duration::minutes(6)).to_rfc3339());
    report["window"]["end"] = Value::from((now - Duration::minutes(1)).to_rfc3339());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(report.to_string().as_bytes()).unwrap();
    (id, gz.finish().unwrap())
}

/// Enrols and sends one report; the report must be acknowledged as new.
async fn enrol_and_report(transport: &mut Transport) {
    transport.enrol().await.unwrap();
    let (id, gz) = report();
    assert_eq!(
        transport.send(id, &gz).await,
        SendOutcome::Acknowledged { duplicate: false }
    );
}

/// The message of a failed enrolment.
async fn enrol_error(transport: &mut Transport) -> String {
    match transport.enrol().await {
        Err(TransportError::Enrol(message)) => message,
        other => panic!("expected an enrolment error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------
// A bare rustls client.

fn client_config(trusts: &Ca, identity: Option<&Leaf>) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(trusts.cert_pem.as_bytes()).unwrap())
        .unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    match identity {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
    }
}

use rustls::pki_types::pem::PemObject;

/// What one HTTPS request to `GET path` saw: the certificate served and the answer.
#[derive(Debug)]
struct Fetched {
    serial: String,
    not_after: i64,
    status_line: String,
    body: String,
}

/// One request on a fresh connection; a TLS failure (ours or the server's alert) is the
/// rustls error.
async fn fetch(
    addr: SocketAddr,
    config: rustls::ClientConfig,
    name: &str,
    path: &str,
) -> Result<Fetched, rustls::Error> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let as_rustls =
        |e: std::io::Error| match e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(e) => e.clone(),
            None => panic!("not a TLS error: {e}"),
        };
    let mut tls = connector
        .connect(ServerName::try_from(name.to_owned()).unwrap(), tcp)
        .await
        .map_err(as_rustls)?;
    let served = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let info = estate_server::tls::certificate_info(&served).unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.map_err(as_rustls)?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.map_err(as_rustls)?;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    Ok(Fetched {
        serial: info.serial,
        not_after: info.not_after,
        status_line: head.lines().next().unwrap_or_default().to_owned(),
        body: body.to_owned(),
    })
}

/// The value of an unlabelled sample in a `/metrics` text, when present.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (n, v) = line.split_once(' ')?;
        (n == name).then(|| v.trim().parse().unwrap())
    })
}

const EXPIRY: &str = "estate_tls_certificate_expiry_timestamp_seconds";

// ---------------------------------------------------------------------------------
// Server certificates as the agent sees them.

#[tokio::test]
async fn good_certificate_agent_enrols_and_reports_over_https() {
    let ca = ca("Estate Test CA");
    let server = start(&leaf(&ca, &SERVER), off).await;
    let (mut transport, _agent) = agent(&server.url(), Some(&ca), None);
    enrol_and_report(&mut transport).await;
    let stored = server
        .server
        .store()
        .host("host-tls-1".to_owned())
        .await
        .unwrap();
    assert!(stored.is_some(), "the report over HTTPS was stored");

    // The expiry gauge is the served certificate's notAfter.
    let fetched = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/metrics",
    )
    .await
    .unwrap();
    assert_eq!(fetched.status_line, "HTTP/1.1 200 OK");
    assert_eq!(fetched.not_after, jan_1(2090));
    assert_eq!(sample(&fetched.body, EXPIRY), Some(jan_1(2090) as f64));
}

#[tokio::test]
async fn agent_refuses_a_collector_signed_by_another_ca() {
    let server = start(&leaf(&ca("Estate Test CA"), &SERVER), off).await;
    let other = ca("Someone Else's CA");
    let (mut transport, _agent) = agent(&server.url(), Some(&other), None);
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("invalid peer certificate: UnknownIssuer"),
        "{message}"
    );
    // Without the CA file the system roots do not know our CA either.
    let (mut transport, _agent) = agent(&server.url(), None, None);
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("invalid peer certificate: UnknownIssuer"),
        "{message}"
    );
    assert_eq!(
        fetch(
            server.addr(),
            client_config(&other, None),
            "localhost",
            "/healthz"
        )
        .await
        .unwrap_err(),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
    );
}

#[tokio::test]
async fn agent_refuses_an_expired_certificate() {
    let ca = ca("Estate Test CA");
    let expired = LeafSpec {
        valid: (2000, 2001),
        ..SERVER
    };
    // The collector starts with it (warning in its log): a renewal may be on its way.
    let server = start(&leaf(&ca, &expired), off).await;
    let (mut transport, _agent) = agent(&server.url(), Some(&ca), None);
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("invalid peer certificate: certificate expired"),
        "{message}"
    );
    let err = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/healthz",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn agent_refuses_a_certificate_for_another_host_name() {
    let ca = ca("Estate Test CA");
    let elsewhere = LeafSpec {
        names: &["collector.example.org"],
        ..SERVER
    };
    let server = start(&leaf(&ca, &elsewhere), off).await;
    let (mut transport, _agent) = agent(&server.url(), Some(&ca), None);
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("invalid peer certificate: certificate not valid for name"),
        "{message}"
    );
    let err = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/healthz",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{err:?}"
    );
    // The name it is for is served fine.
    let fetched = fetch(
        server.addr(),
        client_config(&ca, None),
        "collector.example.org",
        "/healthz",
    )
    .await
    .unwrap();
    assert_eq!(fetched.status_line, "HTTP/1.1 200 OK");
}

// ---------------------------------------------------------------------------------
// Client certificates (mutual TLS).

const AGENT: LeafSpec<'static> = LeafSpec {
    names: &["host-tls-1.agents.example"],
    serial: 100,
    valid: (2020, 2090),
    client: true,
};

#[tokio::test]
async fn client_certificate_required_and_missing_is_refused_at_the_handshake() {
    let server_ca = ca("Estate Test CA");
    let client_ca = ca("Estate Agents CA");
    let server = start(&leaf(&server_ca, &SERVER), required(&client_ca)).await;
    let (mut transport, _agent) = agent(&server.url(), Some(&server_ca), None);
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("received fatal alert: CertificateRequired"),
        "{message}"
    );
    assert_eq!(
        fetch(
            server.addr(),
            client_config(&server_ca, None),
            "localhost",
            "/healthz"
        )
        .await
        .unwrap_err(),
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired)
    );
    // A certificate from another CA is refused as well.
    let stranger = leaf(&ca("Another Agents CA"), &AGENT);
    let (mut transport, _agent) = agent(&server.url(), Some(&server_ca), Some(&stranger));
    let message = enrol_error(&mut transport).await;
    assert!(
        message.contains("received fatal alert: UnknownCA"),
        "{message}"
    );
    assert_eq!(
        fetch(
            server.addr(),
            client_config(&server_ca, Some(&stranger)),
            "localhost",
            "/healthz"
        )
        .await
        .unwrap_err(),
        rustls::Error::AlertReceived(AlertDescription::UnknownCA)
    );
}

#[tokio::test]
async fn client_certificate_required_and_present_works() {
    let server_ca = ca("Estate Test CA");
    let client_ca = ca("Estate Agents CA");
    let server = start(&leaf(&server_ca, &SERVER), required(&client_ca)).await;
    let identity = leaf(&client_ca, &AGENT);
    let (mut transport, _agent) = agent(&server.url(), Some(&server_ca), Some(&identity));
    enrol_and_report(&mut transport).await;
    let fetched = fetch(
        server.addr(),
        client_config(&server_ca, Some(&identity)),
        "localhost",
        "/healthz",
    )
    .await
    .unwrap();
    assert_eq!(fetched.status_line, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn client_certificate_optional_serves_clients_without_one_but_checks_those_shown() {
    let server_ca = ca("Estate Test CA");
    let client_ca = ca("Estate Agents CA");
    let server = start(&leaf(&server_ca, &SERVER), optional(&client_ca)).await;
    let (mut transport, _agent) = agent(&server.url(), Some(&server_ca), None);
    enrol_and_report(&mut transport).await;
    let good = leaf(&client_ca, &AGENT);
    let fetched = fetch(
        server.addr(),
        client_config(&server_ca, Some(&good)),
        "localhost",
        "/healthz",
    )
    .await
    .unwrap();
    assert_eq!(fetched.status_line, "HTTP/1.1 200 OK");
    let stranger = leaf(&ca("Another Agents CA"), &AGENT);
    assert_eq!(
        fetch(
            server.addr(),
            client_config(&server_ca, Some(&stranger)),
            "localhost",
            "/healthz"
        )
        .await
        .unwrap_err(),
        rustls::Error::AlertReceived(AlertDescription::UnknownCA)
    );
}

#[tokio::test]
async fn agent_with_a_key_that_is_not_its_certificates_says_so() {
    let client_ca = ca("Estate Agents CA");
    let mut identity = leaf(&client_ca, &AGENT);
    identity.key_pem = leaf(&client_ca, &AGENT).key_pem;
    let dir = tempfile::tempdir().unwrap();
    let config = AgentConfig {
        collector: CollectorTarget {
            url: Some("https://127.0.0.1:1".to_owned()),
            client_identity: Some(ClientIdentity {
                cert_file: write(dir.path(), "agent.crt", &identity.cert_pem),
                key_file: write(dir.path(), "agent.key", &identity.key_pem),
            }),
            ..CollectorTarget::default()
        },
        state_dir: dir.path().to_path_buf(),
        ..AgentConfig::default()
    };
    let err = Transport::new(&config, "host-tls-1", "web01").unwrap_err();
    assert!(
        matches!(
            &err,
            TransportError::ClientIdentity { key: "collector.client_key_file", message, .. }
                if message.starts_with("the private key does not match the certificate in")
        ),
        "{err}"
    );
    // A certificate file without a certificate.
    write(dir.path(), "agent.crt", "not a certificate\n");
    let err = Transport::new(&config, "host-tls-1", "web01").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "collector.client_cert_file {}: no certificate in the file",
            dir.path().join("agent.crt").display()
        )
    );
}

// ---------------------------------------------------------------------------------
// Reload.

#[tokio::test]
async fn reload_serves_a_new_certificate_and_keeps_the_old_one_when_the_new_is_broken() {
    let ca = ca("Estate Test CA");
    let server = start(&leaf(&ca, &SERVER), off).await;
    let tls = server.server.tls().expect("TLS is on");
    let first = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/metrics",
    )
    .await
    .unwrap();
    assert_eq!(first.serial, "01");
    assert_eq!(tls.certificate().serial, "01");

    // A renewed certificate: new connections get it, and the gauge follows.
    let renewed = leaf(
        &ca,
        &LeafSpec {
            serial: 2,
            valid: (2024, 2095),
            ..SERVER
        },
    );
    let (cert_file, key_file) = (
        server.dir.path().join("server.crt"),
        server.dir.path().join("server.key"),
    );
    std::fs::write(&cert_file, &renewed.cert_pem).unwrap();
    std::fs::write(&key_file, &renewed.key_pem).unwrap();
    let info = tls.reload().unwrap();
    assert_eq!((info.serial.as_str(), info.not_after), ("02", jan_1(2095)));
    let second = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/metrics",
    )
    .await
    .unwrap();
    assert_eq!(
        (second.serial.as_str(), second.not_after),
        ("02", jan_1(2095))
    );
    assert_eq!(sample(&second.body, EXPIRY), Some(jan_1(2095) as f64));

    // A key that is not the certificate's: refused, the renewed one stays.
    let other = leaf(
        &ca,
        &LeafSpec {
            serial: 3,
            ..SERVER
        },
    );
    std::fs::write(&cert_file, &other.cert_pem).unwrap();
    let err = tls.reload().unwrap_err();
    assert!(
        matches!(&err, TlsError::KeyMismatch { cert, key } if *cert == cert_file && *key == key_file),
        "{err}"
    );
    // A certificate file without a certificate: refused likewise.
    std::fs::write(&cert_file, renewed.key_pem.as_bytes()).unwrap();
    let err = tls.reload().unwrap_err();
    assert!(
        matches!(&err, TlsError::NoCertificate { path } if *path == cert_file),
        "{err}"
    );
    assert!(
        err.to_string().contains(&cert_file.display().to_string()),
        "{err}"
    );
    let third = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/metrics",
    )
    .await
    .unwrap();
    assert_eq!(
        (third.serial.as_str(), third.not_after),
        ("02", jan_1(2095))
    );
    assert_eq!(sample(&third.body, EXPIRY), Some(jan_1(2095) as f64));
    assert_eq!(tls.certificate().serial, "02");
}

/// SIGHUP goes to the whole test process: other tests' collectors reload their own,
/// unchanged files, which is harmless.
#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let ca = ca("Estate Test CA");
    let server = start(&leaf(&ca, &SERVER), off).await;
    let renewed = leaf(
        &ca,
        &LeafSpec {
            serial: 7,
            ..SERVER
        },
    );
    std::fs::write(server.dir.path().join("server.key"), &renewed.key_pem).unwrap();
    std::fs::write(server.dir.path().join("server.crt"), &renewed.cert_pem).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let fetched = fetch(
            server.addr(),
            client_config(&ca, None),
            "localhost",
            "/healthz",
        )
        .await
        .unwrap();
        if fetched.serial == "07" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still serving serial {} after SIGHUP",
            fetched.serial
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------
// The accept loop and bad config.

#[tokio::test]
async fn a_failed_handshake_does_not_stop_the_server() {
    let ca = ca("Estate Test CA");
    let server = start(&leaf(&ca, &SERVER), off).await;
    // Plain HTTP on the HTTPS port, and a client that hangs up mid-handshake.
    let mut plain = TcpStream::connect(server.addr()).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(
        !answer.starts_with(b"HTTP/1.1 200"),
        "plain HTTP was served"
    );
    drop(TcpStream::connect(server.addr()).await.unwrap());
    let fetched = fetch(
        server.addr(),
        client_config(&ca, None),
        "localhost",
        "/healthz",
    )
    .await
    .unwrap();
    assert_eq!(fetched.status_line, "HTTP/1.1 200 OK");
    server.server.shutdown().await.unwrap();
}

/// A client that connects and says nothing is cut off after `HANDSHAKE_TIMEOUT` (10 s).
#[tokio::test]
async fn a_silent_client_is_disconnected_after_the_handshake_timeout() {
    let ca = ca("Estate Test CA");
    let server = start(&leaf(&ca, &SERVER), off).await;
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(server.addr()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(
        estate_server::tls::HANDSHAKE_TIMEOUT * 3,
        silent.read(&mut buf),
    )
    .await
    .expect("the silent connection was still open after three handshake timeouts");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(
        waited >= estate_server::tls::HANDSHAKE_TIMEOUT - std::time::Duration::from_millis(500),
        "closed after {waited:?}, before the handshake timeout"
    );
}

#[tokio::test]
async fn plain_http_has_no_expiry_gauge() {
    let dir = tempfile::tempdir().unwrap();
    let leaf = leaf(&ca("Estate Test CA"), &SERVER);
    let mut config = server_config(dir.path(), &leaf, ClientAuth::Off);
    config.tls = None;
    let server = estate_server::start(&config).await.unwrap();
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("estate_ingest_reports_total"), "{answer}");
    assert!(!answer.contains(EXPIRY), "{answer}");
}

async fn start_error(config: &ServerConfig) -> TlsError {
    match estate_server::start(config).await {
        Err(AppError::Tls(e)) => e,
        Err(e) => panic!("expected a TLS error, got {e}"),
        Ok(_) => panic!("started with a bad [tls]"),
    }
}

#[tokio::test]
async fn start_refuses_bad_tls_files_naming_the_file() {
    let ca = ca("Estate Test CA");
    let good = leaf(&ca, &SERVER);
    let dir = tempfile::tempdir().unwrap();
    let base = server_config(dir.path(), &good, ClientAuth::Off);
    let tls = base.tls.clone().unwrap();
    let with = |tls: TlsConfig| ServerConfig {
        tls: Some(tls),
        ..base.clone()
    };

    let missing = dir.path().join("nowhere.crt");
    let err = start_error(&with(TlsConfig {
        cert_file: missing.clone(),
        ..tls.clone()
    }))
    .await;
    assert!(
        matches!(&err, TlsError::Read { path, source } if *path == missing && source.kind() == std::io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(err.to_string().contains("nowhere.crt"), "{err}");
    // Refused before the store is opened.
    assert!(!dir.path().join("estate.db").exists());

    let no_cert = write(dir.path(), "key-only.crt", &good.key_pem);
    let err = start_error(&with(TlsConfig {
        cert_file: no_cert.clone(),
        ..tls.clone()
    }))
    .await;
    assert!(
        matches!(&err, TlsError::NoCertificate { path } if *path == no_cert),
        "{err}"
    );

    let no_key = write(dir.path(), "cert-only.key", &good.cert_pem);
    let err = start_error(&with(TlsConfig {
        key_file: no_key.clone(),
        ..tls.clone()
    }))
    .await;
    assert!(
        matches!(&err, TlsError::NoKey { path } if *path == no_key),
        "{err}"
    );

    let other_key = write(dir.path(), "other.key", &leaf(&ca, &SERVER).key_pem);
    let err = start_error(&with(TlsConfig {
        key_file: other_key.clone(),
        ..tls.clone()
    }))
    .await;
    assert!(
        matches!(&err, TlsError::KeyMismatch { cert, key } if *cert == tls.cert_file && *key == other_key),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "tls: the private key in {} does not match the certificate in {}",
            other_key.display(),
            tls.cert_file.display()
        )
    );

    let bad_ca = write(dir.path(), "client-ca.crt", "");
    let err = start_error(&with(TlsConfig {
        client_auth: ClientAuth::Required {
            ca_file: bad_ca.clone(),
        },
        ..tls.clone()
    }))
    .await;
    assert!(
        matches!(&err, TlsError::NoCertificate { path } if *path == bad_ca),
        "{err}"
    );
}

#[test]
fn tls_config_is_parsed_and_its_problems_located() {
    let config = ServerConfig::parse(
        "[tls]\ncert_file = \"/etc/estate/server.crt\"\nkey_file = \"/etc/estate/server.key\"\nclient_ca_file = \"/etc/estate/agents-ca.crt\"\nclient_auth = \"required\"\n",
        "server.toml",
    )
    .unwrap();
    assert_eq!(
        config.tls,
        Some(TlsConfig {
            cert_file: PathBuf::from("/etc/estate/server.crt"),
            key_file: PathBuf::from("/etc/estate/server.key"),
            client_auth: ClientAuth::Required {
                ca_file: PathBuf::from("/etc/estate/agents-ca.crt")
            },
        })
    );
    let errors = |text: &str| {
        ServerConfig::parse(text, "server.toml")
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        errors("[tls]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"\nclient_auth = \"required\"\n"),
        "server.toml:4:15: `tls.client_auth`: needs `tls.client_ca_file`, the CA bundle client certificates must chain to"
    );
    assert_eq!(
        errors("[tls]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"\nclient_ca_file = \"ca.crt\"\n"),
        "server.toml:4:18: `tls.client_ca_file`: is set but `tls.client_auth` is off: set client_auth = \"optional\" or \"required\", or remove client_ca_file"
    );
    assert_eq!(
        errors("[tls]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"\nclient_auth = \"sometimes\"\n"),
        "server.toml:4:15: `tls.client_auth`: `sometimes` is not off, optional or required"
    );
    let missing = errors("[tls]\ncert_file = \"a.crt\"\n");
    assert!(
        missing.starts_with("server.toml:1:1: `tls.key_file`: is required in [tls]"),
        "{missing}"
    );
    let unknown = errors("[tls]\ncert_file = \"a.crt\"\nkey_file = \"a.key\"\nca_file = \"x\"\n");
    assert!(
        unknown.starts_with("server.toml:4:1: unknown field `ca_file`"),
        "{unknown}"
    );
}

#[test]
fn relative_tls_paths_are_resolved_against_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "server.toml",
        "[tls]\ncert_file = \"tls/server.crt\"\nkey_file = \"/abs/server.key\"\n",
    );
    let tls = ServerConfig::load(&file).unwrap().tls.unwrap();
    assert_eq!(tls.cert_file, dir.path().join("tls/server.crt"));
    assert_eq!(tls.key_file, PathBuf::from("/abs/server.key"));
    assert_eq!(tls.client_auth, ClientAuth::Off);
}
