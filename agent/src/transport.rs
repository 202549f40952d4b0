//! The agent's side of the HTTP contract (`estate_protocol::api`): enrolment, sending one
//! spooled report, and the retry policy (exponential backoff with jitter, honouring
//! `Retry-After`).
//!
//! This module owns the HTTP client, the agent token file and how an answer is
//! classified; it must not decide what to do with the spool (the daemon does).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use estate_protocol::{
    ApiError, ENROL_PATH, EnrolRequest, EnrolResponse, IngestResponse, REPORTS_PATH,
};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::config::{AgentConfig, ClientIdentity};

/// Time to connect to the collector.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for one whole request, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest `Retry-After` honoured (one hour).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// First retry delay.
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// Longest retry delay.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why the transport could not be set up or used.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// No `collector.url` in the config.
    #[error("no collector.url configured")]
    NoUrl,
    /// The CA file could not be read or parsed.
    #[error("collector.ca_file {path}: {message}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The client certificate or key (`collector.client_cert_file`,
    /// `collector.client_key_file`) could not be read, parsed or paired.
    #[error("{key} {}: {message}", path.display())]
    ClientIdentity {
        /// The config key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The HTTP client could not be built.
    #[error("could not set up the HTTP client: {0}")]
    Client(String),
    /// Enrolment failed.
    #[error("enrolment: {0}")]
    Enrol(String),
    /// The token file could not be read or written.
    #[error("token file {path}: {source}")]
    Token {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What became of one attempt to send a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The collector holds the report durably.
    Acknowledged {
        /// It had it already.
        duplicate: bool,
    },
    /// The collector will never accept this report: set it aside.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The collector's reason.
        message: String,
    },
    /// Try again later; keep the report.
    Retry {
        /// The collector's `Retry-After`, when it gave one.
        after: Option<Duration>,
        /// What went wrong.
        reason: String,
    },
}

/// Exponential backoff with jitter: `initial × 2^n`, capped at `max`, each delay drawn
/// uniformly from its upper half. A `Retry-After` longer than the delay wins.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// A backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            failures: 0,
        }
    }

    /// Forgets past failures (after a success).
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The delay before the next attempt, counting one more failure.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let exp = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let ceiling = self.initial.saturating_mul(1u32 << exp).min(self.max);
        // Jitter in [ceiling/2, ceiling]: spreads a fleet that failed together.
        let half = ceiling / 2;
        let jitter = half.mul_f64(random_unit());
        let delay = half + jitter;
        match retry_after {
            Some(after) => delay.max(after.min(MAX_RETRY_AFTER)),
            None => delay,
        }
    }
}

/// A uniform number in [0, 1) from the OS random source behind UUID v4.
fn random_unit() -> f64 {
    let bytes = Uuid::new_v4().into_bytes();
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    (u64::from_le_bytes(word) >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses `Retry-After` given in seconds (the form the collector sends).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The connection to the collector and the agent's credentials.
#[derive(Debug)]
pub struct Transport {
    client: reqwest::Client,
    url: String,
    token_file: PathBuf,
    enrolment_token_file: Option<PathBuf>,
    token: Option<String>,
    host_id: String,
    hostname: String,
}

impl Transport {
    /// Sets up the client for the config's collector (system roots plus
    /// `collector.ca_file`; the client certificate of `collector.client_cert_file` and
    /// `collector.client_key_file` when set) on behalf of `host_id`.
    pub fn new(
        config: &AgentConfig,
        host_id: &str,
        hostname: &str,
    ) -> Result<Self, TransportError> {
        crate::probes::install_crypto_provider();
        let url = config.collector.url.clone().ok_or(TransportError::NoUrl)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("estate-agent/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(30));
        if let Some(ca) = &config.collector.ca_file {
            let ca_error = |message: String| TransportError::CaFile {
                path: ca.clone(),
                message,
            };
            let pem = std::fs::read(ca).map_err(|e| ca_error(e.to_string()))?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no certificate in the file".to_owned()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        if let Some(identity) = &config.collector.client_identity {
            builder = builder.identity(client_identity(identity)?);
        }
        let client = builder
            .build()
            .map_err(|e| TransportError::Client(e.to_string()))?;
        let token_file = config
            .collector
            .token_file
            .clone()
            .unwrap_or_else(|| config.state_dir.join("token"));
        let token = read_token(&token_file)?;
        Ok(Transport {
            client,
            url,
            token_file,
            enrolment_token_file: config.collector.enrolment_token_file.clone(),
            token,
            host_id: host_id.to_owned(),
            hostname: hostname.to_owned(),
        })
    }

    /// Whether the agent holds an agent token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Obtains an agent token with the enrolment token and stores it (mode 0600,
    /// written atomically).
    pub async fn enrol(&mut self) -> Result<(), TransportError> {
        let file = self.enrolment_token_file.clone().ok_or_else(|| {
            TransportError::Enrol("no agent token and no collector.enrolment_token_file".to_owned())
        })?;
        let enrolment = std::fs::read_to_string(&file)
            .map_err(|source| TransportError::Token {
                path: file.clone(),
                source,
            })?
            .trim()
            .to_owned();
        if enrolment.is_empty() {
            return Err(TransportError::Enrol(format!(
                "{} is empty",
                file.display()
            )));
        }
        let request = EnrolRequest {
            host_id: self.host_id.clone(),
            hostname: self.hostname.clone(),
        };
        let answer = self
            .client
            .post(format!("{}{ENROL_PATH}", self.url))
            .bearer_auth(&enrolment)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&request).map_err(|e| TransportError::Enrol(e.to_string()))?)
            .send()
            .await
            .map_err(|e| TransportError::Enrol(error_chain(&e)))?;
        let status = answer.status();
        let body = answer
            .bytes()
            .await
            .map_err(|e| TransportError::Enrol(error_chain(&e)))?;
        if !status.is_success() {
            return Err(TransportError::Enrol(format!(
                "status {}: {}",
                status.as_u16(),
                api_message(&body)
            )));
        }
        let response: EnrolResponse = serde_json::from_slice(&body)
            .map_err(|e| TransportError::Enrol(format!("unexpected answer: {e}")))?;
        write_token(&self.token_file, &response.agent_token)?;
        tracing::info!(host_id = %response.host_id, "enrolled with the collector");
        self.token = Some(response.agent_token);
        Ok(())
    }

    /// Sends one report (already gzip-compressed JSON). Enrols first when there is no
    /// token; on `401` re-enrols once (the token may have been revoked) and tries again.
    pub async fn send(&mut self, report_id: Uuid, gzipped: &[u8]) -> SendOutcome {
        if self.token.is_none()
            && let Err(err) = self.enrol().await
        {
            return SendOutcome::Retry {
                after: None,
                reason: err.to_string(),
            };
        }
        match self.post_report(report_id, gzipped).await {
            Attempt::Unauthorised(message) => {
                tracing::warn!(report_id = %report_id, error = %message, "agent token refused; enrolling again");
                self.token = None;
                if let Err(err) = self.enrol().await {
                    return SendOutcome::Retry {
                        after: None,
                        reason: err.to_string(),
                    };
                }
                match self.post_report(report_id, gzipped).await {
                    Attempt::Done(outcome) => outcome,
                    Attempt::Unauthorised(message) => SendOutcome::Retry {
                        after: None,
                        reason: format!("token refused after enrolment: {message}"),
                    },
                }
            }
            Attempt::Done(outcome) => outcome,
        }
    }

    async fn post_report(&self, report_id: Uuid, gzipped: &[u8]) -> Attempt {
        let token = self.token.as_deref().unwrap_or_default();
        let sent = self
            .client
            .post(format!("{}{REPORTS_PATH}", self.url))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_ENCODING, "gzip")
            .body(gzipped.to_vec())
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(err) => {
                return Attempt::Done(SendOutcome::Retry {
                    after: None,
                    reason: error_chain(&err),
                });
            }
        };
        let status = answer.status();
        let retry_after = answer
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match answer.bytes().await {
            Ok(body) => body,
            Err(err) => {
                return Attempt::Done(SendOutcome::Retry {
                    after: retry_after,
                    reason: error_chain(&err),
                });
            }
        };
        Attempt::Done(match status {
            s if s.is_success() => match serde_json::from_slice::<IngestResponse>(&body) {
                Ok(ack) if ack.report_id == report_id => SendOutcome::Acknowledged {
                    duplicate: ack.duplicate,
                },
                Ok(ack) => SendOutcome::Retry {
                    after: None,
                    reason: format!("acknowledgement names report {} instead", ack.report_id),
                },
                Err(err) => SendOutcome::Retry {
                    after: None,
                    reason: format!("unexpected acknowledgement: {err}"),
                },
            },
            StatusCode::UNAUTHORIZED => return Attempt::Unauthorised(api_message(&body)),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => SendOutcome::Retry {
                after: retry_after,
                reason: format!("status {}: {}", status.as_u16(), api_message(&body)),
            },
            s if s.is_client_error() => SendOutcome::Rejected {
                status: s.as_u16(),
                message: api_message(&body),
            },
            s => SendOutcome::Retry {
                after: retry_after,
                reason: format!("status {}: {}", s.as_u16(), api_message(&body)),
            },
        })
    }
}

enum Attempt {
    Done(SendOutcome),
    Unauthorised(String),
}

/// Reads the agent's client certificate chain and key, checks that the key is the
/// certificate's, and makes them the identity presented to a collector that asks.
fn client_identity(files: &ClientIdentity) -> Result<reqwest::Identity, TransportError> {
    use rustls::pki_types::pem::{self, PemObject};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    const CERT: &str = "collector.client_cert_file";
    const KEY: &str = "collector.client_key_file";
    let fail = |key: &'static str, path: &Path, message: String| TransportError::ClientIdentity {
        key,
        path: path.to_path_buf(),
        message,
    };
    let cert_pem =
        std::fs::read(&files.cert_file).map_err(|e| fail(CERT, &files.cert_file, e.to_string()))?;
    let key_pem =
        std::fs::read(&files.key_file).map_err(|e| fail(KEY, &files.key_file, e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(CERT, &files.cert_file, format!("not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(fail(
            CERT,
            &files.cert_file,
            "no certificate in the file".to_owned(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        pem::Error::NoItemsFound => fail(
            KEY,
            &files.key_file,
            "no private key (PKCS#8, RSA or SEC1) in the file".to_owned(),
        ),
        e => fail(KEY, &files.key_file, format!("not valid PEM: {e}")),
    })?;
    let signing_key = rustls::crypto::ring::default_provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| fail(KEY, &files.key_file, format!("unusable private key: {e}")))?;
    let certified = rustls::sign::CertifiedKey::new(chain, signing_key);
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
        certified.keys_match()
    {
        return Err(fail(
            KEY,
            &files.key_file,
            format!(
                "the private key does not match the certificate in {}",
                files.cert_file.display()
            ),
        ));
    }
    // reqwest reads the chain and the key from one PEM buffer.
    let mut both = cert_pem;
    both.push(b'\n');
    both.extend_from_slice(&key_pem);
    reqwest::Identity::from_pem(&both).map_err(|e| fail(CERT, &files.cert_file, error_chain(&e)))
}

/// A collector's error answer as `code: message`, or the start of the body when it is
/// not one.
pub(crate) fn api_message(body: &[u8]) -> String {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(err) => format!("{}: {}", err.error_code, err.message),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// An error with every cause after it, `: `-separated.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn read_token(path: &Path) -> Result<Option<String>, TransportError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim();
            Ok((!token.is_empty()).then(|| token.to_owned()))
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TransportError::Token {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes the agent token readable by its owner only, atomically (temp file, fsync,
/// rename).
pub fn write_token(path: &Path, token: &str) -> Result<(), TransportError> {
    let err = |source| TransportError::Token {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let temp = path.with_extension("tmp");
    let mut file = owner_only(&temp).map_err(err)?;
    file.write_all(token.as_bytes()).map_err(err)?;
    file.write_all(b"\n").map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&temp, path).map_err(err)
}

#[cfg(unix)]
fn owner_only(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn owner_only(path: &Path) -> io::Result<std::fs::File> {
    std::fs::File::create(path)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let delays: Vec<Duration> = (0..6).map(|_| b.next_delay(None)).collect();
        for (n, d) in delays.iter().enumerate() {
            let ceiling = Duration::from_secs(1 << n.min(3));
            assert!(*d <= ceiling && *d >= ceiling / 2, "{n}: {d:?}");
        }
        b.reset();
        assert!(b.next_delay(None) <= Duration::from_secs(1));
    }

    #[test]
    fn retry_after_wins_when_longer() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(7))),
            Duration::from_secs(7)
        );
        assert_eq!(parse_retry_after(" 12 "), Some(Duration::from_secs(12)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }

    #[test]
    fn token_is_written_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/token");
        write_token(&path, "abc").unwrap();
        assert_eq!(read_token(&path).unwrap().as_deref(), Some("abc"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
