//! HTTPS for the collector (`[tls]`): the certificate, key and client CA files read into
//! a rustls server config (ring provider), the serving certificate kept behind a
//! [`ResolvesServerCert`] so that a reload (SIGHUP) swaps it for new connections. The
//! accept loop that serves the router over each TLS stream is [`crate::serve`].
//!
//! This module owns reading and checking those files and the TLS connections; it must
//! not know the routes, the store or the tokens (the router it is handed does).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::config::{ClientAuth, TlsConfig};
use crate::metrics::Metrics;

/// Longest a client may take to complete the TLS handshake before its connection is
/// closed, so a slow or silent client cannot hold one ([`crate::serve`]).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the TLS files could not be used. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("tls: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A file is not valid PEM.
    #[error("tls: {} is not valid PEM: {message}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// `cert_file` or `client_ca_file` holds no `CERTIFICATE` block.
    #[error("tls: no certificate in {} (expected PEM `-----BEGIN CERTIFICATE-----` blocks)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// `key_file` holds no private key.
    #[error("tls: no private key in {} (expected a PEM PKCS#8, RSA or SEC1 private key)", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is of a kind the ring provider cannot sign with.
    #[error("tls: the private key in {} cannot be used: {message}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The key is not the certificate's.
    #[error("tls: the private key in {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The leaf certificate cannot be parsed.
    #[error("tls: the certificate in {} cannot be read: {message}", path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The client CA bundle cannot be used to verify clients.
    #[error("tls: client_ca_file {}: {message}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// rustls refused the server config.
    #[error("tls: {0}")]
    Config(String),
}

/// What the collector serves: the leaf certificate's serial, subject and validity end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The serial number, hex bytes separated by `:`.
    pub serial: String,
    /// The subject's distinguished name.
    pub subject: String,
    /// notAfter, Unix seconds.
    pub not_after: i64,
}

/// A certificate chain and key read from their files and checked against each other.
#[derive(Debug, Clone)]
pub struct LoadedCertificate {
    /// What rustls serves.
    pub key: Arc<CertifiedKey>,
    /// What the leaf says.
    pub info: CertificateInfo,
}

/// Reads `cert_file` and `key_file` and checks that the key is the certificate's.
pub fn load_certificate(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<LoadedCertificate, TlsError> {
    let cert_pem = read(cert_file)?;
    let key_pem = read(key_file)?;
    certificate_from_pem(&cert_pem, cert_file, &key_pem, key_file, provider)
}

/// [`load_certificate`] on the files' contents (`cert_file` and `key_file` name them in
/// errors).
pub fn certificate_from_pem(
    cert_pem: &[u8],
    cert_file: &Path,
    key_pem: &[u8],
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<LoadedCertificate, TlsError> {
    let chain = certificates(cert_pem, cert_file)?;
    let key = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(key) => key,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: key_file.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(TlsError::Pem {
                path: key_file.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Key {
            path: key_file.to_path_buf(),
            message: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        // Ok, or a key that cannot tell its public half: nothing to compare.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::KeyMismatch {
                cert: cert_file.to_path_buf(),
                key: key_file.to_path_buf(),
            });
        }
        Err(e) => {
            return Err(TlsError::Certificate {
                path: cert_file.to_path_buf(),
                message: e.to_string(),
            });
        }
    }
    let info =
        certificate_info(
            certified
                .end_entity_cert()
                .map_err(|e| TlsError::Certificate {
                    path: cert_file.to_path_buf(),
                    message: e.to_string(),
                })?,
        )
        .map_err(|message| TlsError::Certificate {
            path: cert_file.to_path_buf(),
            message,
        })?;
    Ok(LoadedCertificate {
        key: Arc::new(certified),
        info,
    })
}

/// The serial, subject and notAfter of a DER certificate.
pub fn certificate_info(der: &CertificateDer<'_>) -> Result<CertificateInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).map_err(|e| e.to_string())?;
    Ok(CertificateInfo {
        serial: cert.raw_serial_as_string(),
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every `CERTIFICATE` block of a PEM file, at least one.
fn certificates(pem: &[u8], path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(chain)
}

/// The certificate being served, swapped by a reload; each handshake takes the one
/// current when it starts.
#[derive(Debug)]
pub struct CertificateResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateResolver {
    /// Serves `key` until [`CertificateResolver::replace`].
    pub fn new(key: Arc<CertifiedKey>) -> Self {
        CertificateResolver {
            current: RwLock::new(key),
        }
    }

    /// Serves `key` from the next handshake on.
    pub fn replace(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = key;
    }
}

impl ResolvesServerCert for CertificateResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// The collector's TLS: the acceptor every connection goes through and the files it
/// reloads. Cheap to clone.
#[derive(Clone)]
pub struct Tls {
    inner: Arc<Inner>,
}

struct Inner {
    config: TlsConfig,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertificateResolver>,
    acceptor: TlsAcceptor,
    info: RwLock<CertificateInfo>,
    /// Held by a reload, so that two at once leave `info` and `resolver` agreeing.
    reloading: Mutex<()>,
    /// Where the certificate's expiry is recorded, once [`Tls::record_in`] is called.
    metrics: OnceLock<Metrics>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("config", &self.inner.config)
            .field("certificate", &self.certificate())
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate, key and client CA files and builds the server config. Needs
    /// nothing else, so a bad `[tls]` is refused before the store is opened (and
    /// `check-config` can call it).
    pub fn load(config: &TlsConfig) -> Result<Tls, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = load_certificate(&config.cert_file, &config.key_file, &provider)?;
        let resolver = Arc::new(CertificateResolver::new(Arc::clone(&loaded.key)));
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &config.client_auth {
            ClientAuth::Off => builder.with_no_client_auth(),
            ClientAuth::Optional { ca_file } | ClientAuth::Required { ca_file } => {
                let required = matches!(config.client_auth, ClientAuth::Required { .. });
                builder.with_client_cert_verifier(client_verifier(ca_file, required, &provider)?)
            }
        };
        let mut server_config = builder.with_cert_resolver(Arc::clone(&resolver) as _);
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tls = Tls {
            inner: Arc::new(Inner {
                config: config.clone(),
                provider,
                resolver,
                acceptor: TlsAcceptor::from(Arc::new(server_config)),
                info: RwLock::new(loaded.info.clone()),
                reloading: Mutex::new(()),
                metrics: OnceLock::new(),
            }),
        };
        tls.loaded(&loaded.info);
        Ok(tls)
    }

    /// Records the served certificate's expiry in `metrics`, now and after each reload
    /// (`estate_tls_certificate_expiry_timestamp_seconds`). The first call wins.
    pub fn record_in(&self, metrics: Metrics) {
        let metrics = self.inner.metrics.get_or_init(|| metrics);
        metrics.set_tls_certificate_expiry(self.certificate().not_after);
    }

    /// Reads the certificate and key files again; on success new connections get the new
    /// certificate (connections already open keep theirs). On failure the certificate in
    /// use stays and the error says which file is at fault. The client CA is read only
    /// at start.
    pub fn reload(&self) -> Result<CertificateInfo, TlsError> {
        let _one_at_a_time = self
            .inner
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let config = &self.inner.config;
        let loaded = load_certificate(&config.cert_file, &config.key_file, &self.inner.provider)?;
        self.inner.resolver.replace(loaded.key);
        *self
            .inner
            .info
            .write()
            .unwrap_or_else(PoisonError::into_inner) = loaded.info.clone();
        self.loaded(&loaded.info);
        Ok(loaded.info)
    }

    /// The certificate being served.
    pub fn certificate(&self) -> CertificateInfo {
        self.inner
            .info
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `off`, `optional` or `required`: whether clients must present a certificate.
    pub fn client_auth(&self) -> &'static str {
        match &self.inner.config.client_auth {
            ClientAuth::Off => "off",
            ClientAuth::Optional { .. } => "optional",
            ClientAuth::Required { .. } => "required",
        }
    }

    /// The acceptor for new connections.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.inner.acceptor.clone()
    }

    fn loaded(&self, info: &CertificateInfo) {
        if let Some(metrics) = self.inner.metrics.get() {
            metrics.set_tls_certificate_expiry(info.not_after);
        }
        let now = chrono::Utc::now().timestamp();
        tracing::info!(
            cert_file = %self.inner.config.cert_file.display(),
            serial = %info.serial,
            subject = %info.subject,
            not_after = info.not_after,
            "TLS certificate loaded"
        );
        if info.not_after <= now {
            tracing::warn!(
                cert_file = %self.inner.config.cert_file.display(),
                not_after = info.not_after,
                "the TLS certificate has expired: clients will refuse it"
            );
        }
    }

    /// Reloads the certificate on every SIGHUP, until the task is aborted. The signal is
    /// hooked before this returns, so a SIGHUP sent afterwards never ends the process.
    #[cfg(unix)]
    pub fn reload_on_sighup(&self) -> Option<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(hup) => hup,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; the TLS certificate is reloaded only by a restart");
                return None;
            }
        };
        let tls = self.clone();
        Some(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                let tls = tls.clone();
                match tokio::task::spawn_blocking(move || tls.reload()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::error!(
                        error = %e,
                        "TLS certificate reload failed; the previous certificate stays in use"
                    ),
                    Err(e) => tracing::error!(error = %e, "TLS certificate reload failed"),
                }
            }
        }))
    }

    /// No SIGHUP here: the certificate is reloaded by a restart.
    #[cfg(not(unix))]
    pub fn reload_on_sighup(&self) -> Option<tokio::task::JoinHandle<()>> {
        None
    }
}

/// Verifies client certificates against the CA bundle in `ca_file`; `required` refuses
/// a handshake without one.
fn client_verifier(
    ca_file: &Path,
    required: bool,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let error = |message: String| TlsError::ClientCa {
        path: ca_file.to_path_buf(),
        message,
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(&read(ca_file)?, ca_file)? {
        roots
            .add(cert)
            .map_err(|e| error(format!("not a usable CA certificate: {e}")))?;
    }
    let builder =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
    let builder = if required {
        builder
    } else {
        builder.allow_unauthenticated()
    };
    builder.build().map_err(|e| error(e.to_string()))
}
