//! Service probes: the organisation's own HTTP(S) and TCP endpoints, probed for
//! availability, latency and (for HTTPS) the certificate they present.
//!
//! Probes run concurrently on a small current-thread tokio runtime created for the
//! call, each bounded by its own timeout. Behaviour, decided here:
//! - HTTP(S): one GET, redirects not followed (a 3xx is an answer: up when
//!   `expect_status` is empty), no proxy (the probe measures the service, not the
//!   path through a proxy). Latency is the time to the response headers, DNS and
//!   connection included. Up when the status is in `expect_status`, or any 2xx/3xx
//!   when that is empty.
//! - HTTPS certificates are verified against the system's roots (reqwest's
//!   rustls-platform-verifier) with the ring crypto provider. A certificate that does
//!   not verify (untrusted, expired, wrong name) makes the probe DOWN with the reason;
//!   the certificate's details are still reported, read by a second connection that
//!   skips verification purely to see what the server presents (nothing is sent to the
//!   server over it but the same GET).
//! - TCP: a connect to `host:port`; latency is the time to connect.
//!
//! This module owns network probing; it must not read host files.

use std::error::Error as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use estate_protocol::{ProbeKind, ProbeResult, TlsCertificate};

use crate::config::{ProbeConfig, ProbeTarget};

/// User agent the HTTP probes send.
pub const USER_AGENT: &str = concat!("estate-agent/", env!("CARGO_PKG_VERSION"), " (probe)");

/// Extra settings for [`run_probes_with`].
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// CA certificates (DER) trusted besides the system's roots, e.g. an organisation's
    /// internal CA.
    pub extra_roots: Vec<Vec<u8>>,
}

/// Runs every probe (concurrently) and returns one result each, in config order.
pub fn run_probes(probes: &[ProbeConfig]) -> Vec<ProbeResult> {
    run_probes_with(probes, &ProbeOptions::default())
}

/// [`run_probes`] with extra settings.
pub fn run_probes_with(probes: &[ProbeConfig], options: &ProbeOptions) -> Vec<ProbeResult> {
    if probes.is_empty() {
        return Vec::new();
    }
    install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            return probes
                .iter()
                .map(|p| {
                    down(
                        p,
                        Utc::now(),
                        format!("could not start the probe runtime: {err}"),
                    )
                })
                .collect();
        }
    };
    runtime.block_on(async {
        // Building a verifying client loads the system's roots: only when needed.
        let any_http = probes
            .iter()
            .any(|p| matches!(p.target, ProbeTarget::Http { .. }));
        let clients = if any_http {
            Clients::new(options)
        } else {
            Clients::unused()
        };
        let handles: Vec<_> = probes
            .iter()
            .map(|probe| tokio::spawn(probe_one(probe.clone(), clients.clone())))
            .collect();
        let mut results = Vec::with_capacity(probes.len());
        for (probe, handle) in probes.iter().zip(handles) {
            results.push(match handle.await {
                Ok(result) => result,
                Err(err) => down(probe, Utc::now(), format!("probe task failed: {err}")),
            });
        }
        results
    })
}

/// Installs ring as the process's rustls crypto provider, once (reqwest is built
/// without one). Another provider already installed is kept.
pub fn install_crypto_provider() {
    // Err means a provider is already installed: fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP clients: one verifying certificates, one that only reads them.
#[derive(Clone)]
struct Clients {
    verified: Result<reqwest::Client, String>,
    unverified: Result<reqwest::Client, String>,
}

impl Clients {
    fn new(options: &ProbeOptions) -> Self {
        let roots: Result<Vec<reqwest::Certificate>, String> = options
            .extra_roots
            .iter()
            .map(|der| {
                reqwest::Certificate::from_der(der)
                    .map_err(|e| format!("extra CA certificate: {}", chain(&e)))
            })
            .collect();
        let verified = roots.and_then(|roots| {
            let mut builder = base_builder();
            if !roots.is_empty() {
                builder = builder.tls_certs_merge(roots);
            }
            builder
                .build()
                .map_err(|e| format!("could not set up the HTTP client: {}", chain(&e)))
        });
        let unverified = base_builder()
            .tls_danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| format!("could not set up the HTTP client: {}", chain(&e)));
        Clients {
            verified,
            unverified,
        }
    }
}

impl Clients {
    fn unused() -> Self {
        let none = || Err("no HTTP client: no HTTP probe configured".to_owned());
        Clients {
            verified: none(),
            unverified: none(),
        }
    }
}

fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_info(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT)
        .pool_max_idle_per_host(0)
}

async fn probe_one(probe: ProbeConfig, clients: Clients) -> ProbeResult {
    let checked_at = Utc::now();
    match &probe.target {
        ProbeTarget::Http { url, expect_status } => {
            probe_http(&probe, url, expect_status, &clients, checked_at).await
        }
        ProbeTarget::Tcp { address } => probe_tcp(&probe, address, checked_at).await,
    }
}

async fn probe_tcp(probe: &ProbeConfig, address: &str, checked_at: DateTime<Utc>) -> ProbeResult {
    let started = Instant::now();
    let outcome =
        tokio::time::timeout(probe.timeout, tokio::net::TcpStream::connect(address)).await;
    let mut result = down(probe, checked_at, String::new());
    match outcome {
        Ok(Ok(_stream)) => {
            result.up = true;
            result.latency_ms = Some(millis(started.elapsed()));
            result.error = None;
        }
        Ok(Err(err)) => result.error = Some(format!("connect to {address}: {err}")),
        Err(_) => result.error = Some(no_answer(probe.timeout)),
    }
    result
}

async fn probe_http(
    probe: &ProbeConfig,
    url: &str,
    expect_status: &[u16],
    clients: &Clients,
    checked_at: DateTime<Utc>,
) -> ProbeResult {
    let mut result = down(probe, checked_at, String::new());
    let client = match &clients.verified {
        Ok(client) => client,
        Err(err) => {
            result.error = Some(err.clone());
            return result;
        }
    };
    let started = Instant::now();
    match get(client, url, probe.timeout).await {
        Ok(response) => {
            result.latency_ms = Some(millis(started.elapsed()));
            let status = response.status().as_u16();
            result.status = Some(status);
            result.tls = certificate_of(&response);
            let expected = if expect_status.is_empty() {
                (200..400).contains(&status)
            } else {
                expect_status.contains(&status)
            };
            if expected {
                result.up = true;
                result.error = None;
            } else if expect_status.is_empty() {
                result.error = Some(format!("status {status}, expected 2xx or 3xx"));
            } else {
                result.error = Some(format!(
                    "status {status}, expected one of {expect_status:?}"
                ));
            }
        }
        Err(Failure::Timeout) => result.error = Some(no_answer(probe.timeout)),
        Err(Failure::Request(err)) => {
            let rejected = rejected_certificate(&err);
            result.error = Some(match &rejected {
                Some(reason) => format!("TLS certificate rejected: {reason}"),
                None => chain(&err),
            });
            if rejected.is_some()
                && let Ok(unverified) = &clients.unverified
            {
                // Only to read what the server presents; the probe stays down.
                let left = probe.timeout.saturating_sub(started.elapsed());
                if let Ok(response) = get(unverified, url, left).await {
                    result.tls = certificate_of(&response);
                }
            }
        }
    }
    result
}

enum Failure {
    Timeout,
    Request(reqwest::Error),
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<reqwest::Response, Failure> {
    let request = client.get(url).timeout(timeout).send();
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(err)) if err.is_timeout() => Err(Failure::Timeout),
        Ok(Err(err)) => Err(Failure::Request(err)),
        Err(_) => Err(Failure::Timeout),
    }
}

/// Why the server's certificate did not verify, when that is why the request failed.
fn rejected_certificate(err: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if let Some(reason) = certificate_error(current) {
            return Some(reason);
        }
        source = current.source();
    }
    None
}

/// The rustls certificate error in `err`, looking inside `io::Error`s, which hide
/// their payload from `source()` (tokio-rustls wraps the rustls error in one, and
/// hyper-util wraps that in another).
fn certificate_error(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(rustls_err @ rustls::Error::InvalidCertificate(_)) =
        err.downcast_ref::<rustls::Error>()
    {
        return Some(rustls_err.to_string());
    }
    certificate_error(err.downcast_ref::<std::io::Error>()?.get_ref()?)
}

/// The leaf certificate of a TLS response, parsed.
fn certificate_of(response: &reqwest::Response) -> Option<TlsCertificate> {
    let info = response.extensions().get::<reqwest::tls::TlsInfo>()?;
    parse_certificate(info.peer_certificate()?)
}

/// Subject, issuer and validity of a DER certificate.
pub fn parse_certificate(der: &[u8]) -> Option<TlsCertificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    Some(TlsCertificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: DateTime::from_timestamp(validity.not_before.timestamp(), 0)?,
        not_after: DateTime::from_timestamp(validity.not_after.timestamp(), 0)?,
    })
}

/// An error and its causes, outermost first, without repeats.
fn chain(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let top = match err.url() {
        Some(_) => {
            // The URL is already in the result's `target`.
            let mut text = err.to_string();
            if let Some(at) = text.find(" for url (") {
                text.truncate(at);
            }
            text
        }
        None => err.to_string(),
    };
    parts.push(top);
    let mut source = err.source();
    while let Some(current) = source {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = current.source();
    }
    parts.join(": ")
}

fn down(probe: &ProbeConfig, checked_at: DateTime<Utc>, error: String) -> ProbeResult {
    let (kind, target) = match &probe.target {
        ProbeTarget::Http { url, .. } => (ProbeKind::Http, url.clone()),
        ProbeTarget::Tcp { address } => (ProbeKind::Tcp, address.clone()),
    };
    ProbeResult {
        name: probe.name.clone(),
        kind,
        target,
        checked_at,
        up: false,
        status: None,
        latency_ms: None,
        tls: None,
        error: Some(error),
    }
}

fn no_answer(timeout: Duration) -> String {
    format!("no answer within {} ms", timeout.as_millis())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::Arc;

    fn http(name: &str, url: String, expect_status: Vec<u16>, timeout_ms: u64) -> ProbeConfig {
        ProbeConfig {
            name: name.to_owned(),
            target: ProbeTarget::Http { url, expect_status },
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    fn tcp(name: &str, address: String) -> ProbeConfig {
        ProbeConfig {
            name: name.to_owned(),
            target: ProbeTarget::Tcp { address },
            timeout: Duration::from_secs(2),
        }
    }

    /// Reads one request's head.
    fn read_request(stream: &mut impl Read) {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") {
            match stream.read(&mut byte) {
                Ok(1) => seen.push(byte[0]),
                _ => return,
            }
        }
    }

    fn respond(stream: &mut impl Write, status: u16) {
        let reason = if status == 200 { "OK" } else { "Status" };
        let _ = write!(
            stream,
            "HTTP/1.1 {status} {reason}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        );
        let _ = stream.flush();
    }

    /// A tiny HTTP server answering every request with `status` after `delay`.
    fn http_server(status: u16, delay: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                read_request(&mut stream);
                std::thread::sleep(delay);
                respond(&mut stream, status);
            }
        });
        addr
    }

    struct Pki {
        ca_der: Vec<u8>,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    fn test_ca() -> Pki {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Estate Test CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Estate");
        let cert = params.self_signed(&key).unwrap();
        Pki {
            ca_der: cert.der().to_vec(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// An HTTPS server on 127.0.0.1 whose certificate (for `127.0.0.1`, valid between
    /// the given years) is signed by `pki`.
    fn https_server(pki: &Pki, valid: (i32, i32)) -> SocketAddr {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "intranet.council.local");
        params.not_before = rcgen::date_time_ymd(valid.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(valid.1, 1, 1);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &pki.issuer).unwrap();
        let chain = vec![cert.der().clone()];
        let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()),
        );
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let Ok(conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                    continue;
                };
                let mut tls = rustls::StreamOwned::new(conn, stream);
                read_request(&mut tls);
                respond(&mut tls, 200);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            }
        });
        addr
    }

    #[test]
    fn tcp_open_port_is_up_and_closed_port_is_down() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_addr = closed.local_addr().unwrap();
        drop(closed);
        let results = run_probes(&[
            tcp("db", open.local_addr().unwrap().to_string()),
            tcp("gone", closed_addr.to_string()),
        ]);
        assert_eq!(results.len(), 2);
        assert_eq!(results[0].name, "db");
        assert_eq!(results[0].kind, ProbeKind::Tcp);
        assert!(results[0].up, "{:?}", results[0]);
        assert!(results[0].latency_ms.unwrap() >= 0.0);
        assert_eq!(results[0].error, None);
        assert!(!results[1].up);
        assert_eq!(results[1].latency_ms, None);
        let error = results[1].error.as_deref().unwrap();
        assert!(
            error.starts_with(&format!("connect to {closed_addr}: Connection refused")),
            "{error}"
        );
    }

    #[test]
    fn http_status_decides_up_and_latency_is_measured() {
        let ok = http_server(200, Duration::from_millis(150));
        let failing = http_server(503, Duration::ZERO);
        let results = run_probes(&[
            http("ok", format!("http://{ok}/health"), vec![], 2000),
            http("failing", format!("http://{failing}/"), vec![], 2000),
            http("maintenance", format!("http://{failing}/"), vec![503], 2000),
        ]);
        let ok = &results[0];
        assert!(ok.up, "{ok:?}");
        assert_eq!(ok.kind, ProbeKind::Http);
        assert_eq!(ok.status, Some(200));
        let latency = ok.latency_ms.unwrap();
        assert!((150.0..1500.0).contains(&latency), "{latency}");
        assert_eq!(ok.tls, None);
        let failing = &results[1];
        assert!(!failing.up);
        assert_eq!(failing.status, Some(503));
        assert_eq!(
            failing.error.as_deref(),
            Some("status 503, expected 2xx or 3xx")
        );
        assert!(results[2].up, "{:?}", results[2]);
    }

    #[test]
    fn probes_run_concurrently_and_time_out() {
        // A server that accepts and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_addr = silent.local_addr().unwrap();
        let slow = http_server(200, Duration::from_millis(600));
        let started = Instant::now();
        let results = run_probes(&[
            http("silent", format!("http://{silent_addr}/"), vec![], 600),
            http("slow-1", format!("http://{slow}/"), vec![], 2000),
            tcp("slow-2", slow.to_string()),
        ]);
        let elapsed = started.elapsed();
        assert!(!results[0].up);
        assert_eq!(results[0].error.as_deref(), Some("no answer within 600 ms"));
        assert!(results[1].up && results[2].up, "{results:?}");
        // One after the other would take at least 1200 ms.
        assert!(elapsed < Duration::from_millis(1100), "{elapsed:?}");
        drop(silent);
    }

    #[test]
    fn https_with_a_trusted_certificate_reports_it() {
        let pki = test_ca();
        let addr = https_server(&pki, (2020, 2099));
        let options = ProbeOptions {
            extra_roots: vec![pki.ca_der.clone()],
        };
        let results = run_probes_with(
            &[http("intranet", format!("https://{addr}/"), vec![], 3000)],
            &options,
        );
        let r = &results[0];
        assert!(r.up, "{r:?}");
        assert_eq!(r.status, Some(200));
        let tls = r.tls.as_ref().unwrap();
        assert_eq!(tls.subject, "CN=intranet.council.local");
        assert_eq!(tls.issuer, "CN=Estate Test CA, O=Estate");
        assert_eq!(tls.not_before.to_rfc3339(), "2020-01-01T00:00:00+00:00");
        assert_eq!(tls.not_after.to_rfc3339(), "2099-01-01T00:00:00+00:00");
    }

    #[test]
    fn https_with_an_untrusted_certificate_is_down_but_the_certificate_is_read() {
        let pki = test_ca();
        let addr = https_server(&pki, (2020, 2099));
        let results = run_probes(&[http("intranet", format!("https://{addr}/"), vec![], 3000)]);
        let r = &results[0];
        assert!(!r.up);
        assert_eq!(r.status, None);
        let error = r.error.as_deref().unwrap();
        assert_eq!(
            error,
            "TLS certificate rejected: invalid peer certificate: UnknownIssuer"
        );
        assert_eq!(r.tls.as_ref().unwrap().subject, "CN=intranet.council.local");
    }

    #[test]
    fn https_with_an_expired_certificate_is_down_and_says_so() {
        let pki = test_ca();
        let addr = https_server(&pki, (2018, 2020));
        let options = ProbeOptions {
            extra_roots: vec![pki.ca_der.clone()],
        };
        let results = run_probes_with(
            &[http("old", format!("https://{addr}/"), vec![], 3000)],
            &options,
        );
        let r = &results[0];
        assert!(!r.up);
        let error = r.error.as_deref().unwrap();
        assert!(
            error.starts_with(
                "TLS certificate rejected: invalid peer certificate: certificate expired: "
            ),
            "{error}"
        );
        assert_eq!(
            r.tls.as_ref().unwrap().not_after.to_rfc3339(),
            "2020-01-01T00:00:00+00:00"
        );
    }

    #[test]
    fn bad_targets_are_down_with_a_reason() {
        let results = run_probes(&[
            http("nonsense", "not a url".to_owned(), vec![], 500),
            tcp("no-port", "127.0.0.1".to_owned()),
        ]);
        assert!(!results[0].up && !results[1].up);
        assert!(
            results[0]
                .error
                .as_deref()
                .unwrap()
                .contains("builder error"),
            "{results:?}"
        );
        assert!(
            results[1]
                .error
                .as_deref()
                .unwrap()
                .starts_with("connect to 127.0.0.1: "),
            "{results:?}"
        );
        assert!(run_probes(&[]).is_empty());
    }
}
