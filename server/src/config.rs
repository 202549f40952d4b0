//! The collector's configuration (`server.toml`): raw serde structs that reject unknown
//! keys, converted into a validated [`ServerConfig`].
//!
//! Every problem is reported, each as `FILE:LINE:COL: `KEY`: message`. This module owns
//! parsing and validation; it must not read anything but the config file itself (token
//! files are read when the server starts, see [`crate::auth`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use estate_agent::config::located::{self, Issues};

use crate::assess::AssessConfig;
use crate::carbon::{HypervisorHostConfig, ReadinessConfig, ScenarioConfig, SiteConfig};
use crate::checks::Band;
pub use estate_agent::config::located::{ConfigError, ConfigIssue};
use serde::de::DeserializeOwned;

pub mod reference;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8470";
/// Default largest request body, compressed or not (8 MiB).
pub const DEFAULT_BODY_LIMIT_BYTES: u64 = 8 * 1024 * 1024;
/// Default SQLite database path.
pub const DEFAULT_SQLITE_PATH: &str = "/var/lib/estate-server/estate.db";
/// Default capacity of the writer queue; past it ingest answers 503.
pub const DEFAULT_WRITE_QUEUE_CAPACITY: u64 = 4096;
/// Default most writes grouped into one transaction.
pub const DEFAULT_WRITE_BATCH_MAX: u64 = 512;
/// Default days raw reports are kept.
pub const DEFAULT_RAW_REPORTS_DAYS: u64 = 30;
/// Default seconds a report's `collected_at` may lie in the future.
pub const DEFAULT_MAX_CLOCK_SKEW_SECS: u64 = 86_400;
/// Default seconds without a report after which a host is `stale`.
pub const DEFAULT_STALE_AFTER_SECS: u64 = 900;
/// Default seconds a client may take to send a request's head, and its body.
pub const DEFAULT_CLIENT_TIMEOUT_SECS: u64 = 30;
/// Default most reports one host may send per minute before ingest answers 429.
pub const DEFAULT_MAX_REPORTS_PER_HOST_PER_MINUTE: u64 = 120;
/// Default seconds between recomputations of the estate metrics from the store.
pub const DEFAULT_METRICS_REFRESH_SECS: u64 = 15;
/// Shortest enrolment or read token accepted in a token file.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The validated collector configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where the HTTP API listens.
    pub listen: SocketAddr,
    /// Largest request body, and largest decompressed report.
    pub body_limit_bytes: u64,
    /// How far in the future `collected_at` may be.
    pub max_clock_skew: Duration,
    /// A host silent for longer than this is `stale`.
    pub stale_after: Duration,
    /// Longest a client may take to send a request's head (the connection is closed), and
    /// its body (`408`).
    pub client_timeout: Duration,
    /// Most reports per host per minute (a token bucket of that size refilled over a
    /// minute); `None` turns the limit off.
    pub max_reports_per_host_per_minute: Option<u32>,
    /// Where data is kept.
    pub storage: StorageConfig,
    /// Token settings.
    pub auth: AuthConfig,
    /// `[auth] admin_token_file`: the file holding the admin token
    /// (`POST /api/v1/admin/reload`); the admin API is off (`404`) when absent. Kept
    /// beside [`AuthConfig`] rather than in it so that code building an `AuthConfig`
    /// field by field keeps compiling.
    pub admin_token_file: Option<PathBuf>,
    /// How long data is kept.
    pub retention: RetentionConfig,
    /// `/metrics` options.
    pub metrics: MetricsConfig,
    /// Checks, profiles, waivers, scoring and carbon settings (`[checks]`, `[carbon]`).
    pub assess: crate::assess::AssessConfig,
    /// Scheduled reports (`[reports]`); none when the section is absent.
    pub reports: Option<crate::report::ReportsConfig>,
    /// HTTPS (`[tls]`); plain HTTP when the section is absent.
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            max_clock_skew: Duration::from_secs(DEFAULT_MAX_CLOCK_SKEW_SECS),
            stale_after: Duration::from_secs(DEFAULT_STALE_AFTER_SECS),
            client_timeout: Duration::from_secs(DEFAULT_CLIENT_TIMEOUT_SECS),
            max_reports_per_host_per_minute: Some(DEFAULT_MAX_REPORTS_PER_HOST_PER_MINUTE as u32),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            admin_token_file: None,
            retention: RetentionConfig::default(),
            metrics: MetricsConfig::default(),
            assess: crate::assess::AssessConfig::default(),
            reports: None,
            tls: None,
        }
    }
}

/// `[tls]`: the collector serves HTTPS with this certificate and key (reloaded on
/// SIGHUP, see [`crate::tls`]). The files are read when the server starts, not here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, RSA or SEC1) of the leaf certificate.
    pub key_file: PathBuf,
    /// Whether clients must present a certificate.
    pub client_auth: ClientAuth,
}

/// `[tls] client_auth` with `client_ca_file`: mutual TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificates are asked for (the default).
    Off,
    /// A client certificate is asked for: one that is presented must chain to the CA
    /// (else the handshake fails), but a client that presents none is served too and
    /// authenticates by its bearer token alone.
    Optional {
        /// PEM bundle of the CA(s) client certificates must chain to.
        ca_file: PathBuf,
    },
    /// Every connection must present a certificate chaining to the CA, or the
    /// handshake fails.
    Required {
        /// PEM bundle of the CA(s) client certificates must chain to.
        ca_file: PathBuf,
    },
}

/// Which backend and how it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The backend.
    pub backend: Backend,
    /// Capacity of the writer queue.
    pub write_queue_capacity: usize,
    /// Most writes per transaction.
    pub write_batch_max: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: Backend::Sqlite(PathBuf::from(DEFAULT_SQLITE_PATH)),
            write_queue_capacity: DEFAULT_WRITE_QUEUE_CAPACITY as usize,
            write_batch_max: DEFAULT_WRITE_BATCH_MAX as usize,
        }
    }
}

/// A storage backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://` URL), shareable by several collectors.
    Postgres(String),
}

/// Token settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// File holding the enrolment token; enrolment is off when absent.
    pub enrolment_token_file: Option<PathBuf>,
    /// File holding the token for the read API; the read API is open when absent.
    pub read_token_file: Option<PathBuf>,
}

/// Retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How long raw reports are kept.
    pub raw_reports: Duration,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            raw_reports: Duration::from_secs(DEFAULT_RAW_REPORTS_DAYS * 86_400),
        }
    }
}

/// `/metrics` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Whether `/metrics` is served.
    pub enabled: bool,
    /// Whether per-host series are exported (off for very large estates).
    pub per_host: bool,
    /// How often the estate metrics are recomputed (from the estate index, or from the
    /// store with per-host series on).
    pub refresh: Duration,
    /// How often the estate index is rebuilt from the store.
    pub resync: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            per_host: false,
            refresh: Duration::from_secs(DEFAULT_METRICS_REFRESH_SECS),
            resync: Duration::from_secs(crate::index::DEFAULT_RESYNC_SECS),
        }
    }
}

// ---------------------------------------------------------------------------------
// Raw layer: what the file says.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    retention: RawRetention,
    #[serde(default)]
    metrics: RawMetrics,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default)]
    carbon: RawCarbon,
    reports: Option<Spanned<crate::report::schedule::RawReports>>,
    tls: Option<Spanned<RawTls>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<Spanned<PathBuf>>,
    key_file: Option<Spanned<PathBuf>>,
    client_ca_file: Option<Spanned<PathBuf>>,
    client_auth: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    body_limit_bytes: Option<Spanned<u64>>,
    max_clock_skew_secs: Option<Spanned<u64>>,
    stale_after_secs: Option<Spanned<u64>>,
    client_timeout_secs: Option<Spanned<u64>>,
    max_reports_per_host_per_minute: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    sqlite_path: Option<Spanned<PathBuf>>,
    postgres_url: Option<Spanned<String>>,
    write_queue_capacity: Option<Spanned<u64>>,
    write_batch_max: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    enrolment_token_file: Option<PathBuf>,
    read_token_file: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    raw_reports_days: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    enabled: Option<bool>,
    per_host: Option<bool>,
    refresh_secs: Option<Spanned<u64>>,
    resync_secs: Option<Spanned<u64>>,
}

/// `[checks]`: the scoring keys mirror `checks::RawScoring`, which cannot be embedded in
/// this table without `flatten` (that loses spans and `deny_unknown_fields`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    config_dir: Option<Spanned<PathBuf>>,
    profile: Option<Spanned<String>>,
    green_at: Option<Spanned<f64>>,
    amber_at: Option<Spanned<f64>>,
    critical_failure_cap: Option<Spanned<String>>,
    criticality_label: Option<Spanned<String>>,
    default_host_weight: Option<Spanned<f64>>,
    #[serde(default)]
    criticality_weights: BTreeMap<String, Spanned<f64>>,
    ending_soon_days: Option<Spanned<i64>>,
}

/// `[carbon]`: [`crate::carbon::CarbonConfig`]'s tables kept as written, each value with
/// its place, so that problems found against the data when the assessor loads are
/// located at the key; converted to the carbon types in [`validate_carbon`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCarbon {
    reporting_year: Option<Spanned<i32>>,
    lifespan_years: Option<Spanned<f64>>,
    #[serde(default)]
    sites: BTreeMap<String, Spanned<RawTable>>,
    hypervisor_host: Option<Spanned<RawTable>>,
    /// Absent: [`crate::assess::default_scenarios`]; `[]`: none.
    scenarios: Option<Vec<Spanned<RawTable>>>,
    readiness: Option<Spanned<RawTable>>,
}

/// A table as written: each key's value with its place.
type RawTable = BTreeMap<String, Spanned<toml::Value>>;

// ---------------------------------------------------------------------------------
// Loading (diagnostics: [`located`]).

impl ServerConfig {
    /// Reads and validates a config file. A relative `checks.config_dir` is resolved
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let file = Source {
            origin: &path.display().to_string(),
            text: &text,
            base: path.parent(),
        };
        located::parse::<RawConfig, _>(&text, file.origin, |raw, issues| {
            validate(raw, issues, &file)
        })
    }

    /// Parses and validates config text; `origin` names it in errors. A relative
    /// `checks.config_dir` stays relative (to the working directory).
    pub fn parse(text: &str, origin: &str) -> Result<ServerConfig, ConfigError> {
        let file = Source {
            origin,
            text,
            base: None,
        };
        located::parse::<RawConfig, _>(text, origin, |raw, issues| validate(raw, issues, &file))
    }
}

/// The text being validated, to record where settings are written.
struct Source<'a> {
    origin: &'a str,
    text: &'a str,
    base: Option<&'a Path>,
}

impl Source<'_> {
    /// `FILE:LINE:COL` of a span.
    fn place(&self, span: Range<usize>) -> String {
        let (line, column) = located::line_col(self.text, span.start);
        format!("{}:{line}:{column}", self.origin)
    }
}

fn at_least(value: Spanned<u64>, min: u64, key: &str, issues: &mut Issues<'_>) -> Option<u64> {
    if *value.get_ref() < min {
        issues.at(value.span(), key, format!("must be at least {min}"));
        None
    } else {
        Some(value.into_inner())
    }
}

fn validate(raw: RawConfig, issues: &mut Issues<'_>, file: &Source<'_>) -> ServerConfig {
    let mut config = ServerConfig::default();

    if let Some(listen) = raw.server.listen {
        match listen.get_ref().trim().parse::<SocketAddr>() {
            Ok(addr) => config.listen = addr,
            Err(_) => issues.at(
                listen.span(),
                "server.listen",
                format!("`{}` is not an IP:PORT address", listen.get_ref()),
            ),
        }
    }
    if let Some(limit) = raw.server.body_limit_bytes
        && let Some(v) = at_least(limit, 1024, "server.body_limit_bytes", issues)
    {
        config.body_limit_bytes = v;
    }
    if let Some(skew) = raw.server.max_clock_skew_secs {
        config.max_clock_skew = Duration::from_secs(skew.into_inner());
    }
    if let Some(stale) = raw.server.stale_after_secs
        && let Some(v) = at_least(stale, 60, "server.stale_after_secs", issues)
    {
        config.stale_after = Duration::from_secs(v);
    }
    if let Some(timeout) = raw.server.client_timeout_secs
        && let Some(v) = at_least(timeout, 1, "server.client_timeout_secs", issues)
    {
        config.client_timeout = Duration::from_secs(v);
    }
    if let Some(rate) = raw.server.max_reports_per_host_per_minute {
        let v = rate.into_inner();
        config.max_reports_per_host_per_minute =
            (v > 0).then(|| u32::try_from(v).unwrap_or(u32::MAX));
    }

    match (raw.storage.sqlite_path, raw.storage.postgres_url) {
        (Some(path), Some(url)) => {
            issues.at(
                url.span(),
                "storage.postgres_url",
                "set either `storage.sqlite_path` or `storage.postgres_url`, not both",
            );
            config.storage.backend = Backend::Sqlite(path.into_inner());
        }
        (Some(path), None) => {
            if path.get_ref().as_os_str().is_empty() {
                issues.at(path.span(), "storage.sqlite_path", "must not be empty");
            }
            config.storage.backend = Backend::Sqlite(path.into_inner());
        }
        (None, Some(url)) => {
            let text = url.get_ref().trim();
            if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
                issues.at(
                    url.span(),
                    "storage.postgres_url",
                    format!("`{text}` is not a postgres:// or postgresql:// URL"),
                );
            }
            config.storage.backend = Backend::Postgres(text.to_owned());
        }
        (None, None) => {}
    }
    if let Some(cap) = raw.storage.write_queue_capacity
        && let Some(v) = at_least(cap, 1, "storage.write_queue_capacity", issues)
    {
        config.storage.write_queue_capacity = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(max) = raw.storage.write_batch_max
        && let Some(v) = at_least(max, 1, "storage.write_batch_max", issues)
    {
        config.storage.write_batch_max = usize::try_from(v).unwrap_or(usize::MAX);
    }

    config.auth.enrolment_token_file = raw.auth.enrolment_token_file;
    config.auth.read_token_file = raw.auth.read_token_file;
    config.admin_token_file = raw.auth.admin_token_file;

    if let Some(days) = raw.retention.raw_reports_days
        && let Some(v) = at_least(days, 1, "retention.raw_reports_days", issues)
    {
        config.retention.raw_reports = Duration::from_secs(v.saturating_mul(86_400));
    }

    if let Some(enabled) = raw.metrics.enabled {
        config.metrics.enabled = enabled;
    }
    if let Some(per_host) = raw.metrics.per_host {
        config.metrics.per_host = per_host;
    }
    if let Some(refresh) = raw.metrics.refresh_secs
        && let Some(v) = at_least(refresh, 1, "metrics.refresh_secs", issues)
    {
        config.metrics.refresh = Duration::from_secs(v);
    }
    if let Some(resync) = raw.metrics.resync_secs
        && let Some(v) = at_least(resync, 1, "metrics.resync_secs", issues)
    {
        config.metrics.resync = Duration::from_secs(v);
    }

    validate_checks(raw.checks, issues, file, &mut config.assess);
    validate_carbon(raw.carbon, issues, file, &mut config.assess);
    if let Some(reports) = raw.reports {
        let span = reports.span();
        config.reports =
            crate::report::schedule::validate(reports.into_inner(), span, issues, file.base);
    }
    if let Some(tls) = raw.tls {
        config.tls = validate_tls(tls, issues, file);
    }
    config.assess.derive.stale_after = config.stale_after;
    config
}

/// `[tls]`: both files named, `client_auth` one of off/optional/required, and a
/// `client_ca_file` exactly when client certificates are asked for. Relative paths are
/// resolved against the config file's directory.
fn validate_tls(
    raw: Spanned<RawTls>,
    issues: &mut Issues<'_>,
    file: &Source<'_>,
) -> Option<TlsConfig> {
    let span = raw.span();
    let raw = raw.into_inner();
    let path = |value: Option<Spanned<PathBuf>>, key: &str, issues: &mut Issues<'_>| {
        let value = value?;
        if value.get_ref().as_os_str().is_empty() {
            issues.at(value.span(), key, "must not be empty");
            return None;
        }
        let value = value.into_inner();
        Some(match file.base {
            Some(base) if value.is_relative() => base.join(value),
            _ => value,
        })
    };
    for (absent, key) in [
        (raw.cert_file.is_none(), "tls.cert_file"),
        (raw.key_file.is_none(), "tls.key_file"),
    ] {
        if absent {
            issues.at(span.clone(), key, "is required in [tls]");
        }
    }
    let cert_file = path(raw.cert_file, "tls.cert_file", issues);
    let key_file = path(raw.key_file, "tls.key_file", issues);
    let ca_span = raw.client_ca_file.as_ref().map(Spanned::span);
    let ca_file = path(raw.client_ca_file, "tls.client_ca_file", issues);
    let mode = match &raw.client_auth {
        None => None,
        Some(mode) => match mode.get_ref().as_str() {
            "off" => None,
            m @ ("optional" | "required") => Some((m == "required", mode.span())),
            other => {
                issues.at(
                    mode.span(),
                    "tls.client_auth",
                    format!("`{other}` is not off, optional or required"),
                );
                return None;
            }
        },
    };
    let client_auth = match (mode, ca_file, ca_span) {
        (None, None, _) => ClientAuth::Off,
        (None, Some(_), ca_span) => {
            issues.at(
                ca_span.unwrap_or(span),
                "tls.client_ca_file",
                "is set but `tls.client_auth` is off: set client_auth = \"optional\" or \"required\", or remove client_ca_file",
            );
            return None;
        }
        (Some((_, at)), None, None) => {
            issues.at(
                at,
                "tls.client_auth",
                "needs `tls.client_ca_file`, the CA bundle client certificates must chain to",
            );
            return None;
        }
        (Some(_), None, Some(_)) => return None, // client_ca_file was empty: reported
        (Some((true, _)), Some(ca_file), _) => ClientAuth::Required { ca_file },
        (Some((false, _)), Some(ca_file), _) => ClientAuth::Optional { ca_file },
    };
    Some(TlsConfig {
        cert_file: cert_file?,
        key_file: key_file?,
        client_auth,
    })
}

fn ratio(value: &Spanned<f64>, key: &str, issues: &mut Issues<'_>) -> Option<f64> {
    if (0.0..=1.0).contains(value.get_ref()) {
        Some(*value.get_ref())
    } else {
        issues.at(
            value.span(),
            key,
            format!("`{}` is outside 0–1", value.get_ref()),
        );
        None
    }
}

fn host_weight(value: &Spanned<f64>, key: &str, issues: &mut Issues<'_>) -> Option<f64> {
    if value.get_ref().is_finite() && *value.get_ref() >= 0.0 {
        Some(*value.get_ref())
    } else {
        issues.at(
            value.span(),
            key,
            format!("weight must be a number ≥ 0, not {}", value.get_ref()),
        );
        None
    }
}

/// `[checks]`: where the check config comes from, the profile, the bands and weights
/// (the rules of `checks::ScoringConfig::from_raw`) and the facts' ending-soon window.
fn validate_checks(
    raw: RawChecks,
    issues: &mut Issues<'_>,
    file: &Source<'_>,
    assess: &mut AssessConfig,
) {
    if let Some(dir) = raw.config_dir {
        let span = dir.span();
        let dir = dir.into_inner();
        if dir.as_os_str().is_empty() {
            issues.at(span.clone(), "checks.config_dir", "must not be empty");
        }
        assess.config_dir = Some(match file.base {
            Some(base) if dir.is_relative() => base.join(dir),
            _ => dir,
        });
        assess
            .origins
            .insert("checks.config_dir".to_owned(), file.place(span));
    }
    if let Some(profile) = raw.profile {
        let name = profile.get_ref().trim();
        if name.is_empty() {
            issues.at(profile.span(), "checks.profile", "must not be empty");
        } else {
            assess.profile = name.to_owned();
        }
        assess
            .origins
            .insert("checks.profile".to_owned(), file.place(profile.span()));
    }

    let scoring = &mut assess.scoring;
    if let Some(g) = raw.green_at.as_ref()
        && let Some(g) = ratio(g, "checks.green_at", issues)
    {
        scoring.green_at = g;
    }
    if let Some(a) = raw.amber_at.as_ref()
        && let Some(a) = ratio(a, "checks.amber_at", issues)
    {
        scoring.amber_at = a;
    }
    if scoring.amber_at >= scoring.green_at {
        let at = match (&raw.amber_at, &raw.green_at) {
            (Some(a), _) => Some((a, "checks.amber_at")),
            (None, Some(g)) => Some((g, "checks.green_at")),
            (None, None) => None,
        };
        if let Some((at, key)) = at {
            issues.at(
                at.span(),
                key,
                format!(
                    "amber_at ({}) must be below green_at ({})",
                    scoring.amber_at, scoring.green_at
                ),
            );
        }
    }
    if let Some(cap) = &raw.critical_failure_cap {
        match cap.get_ref().as_str() {
            "red" => scoring.critical_failure_cap = Some(Band::Red),
            "amber" => scoring.critical_failure_cap = Some(Band::Amber),
            "none" => scoring.critical_failure_cap = None,
            other => issues.at(
                cap.span(),
                "checks.critical_failure_cap",
                format!("`{other}` is not red, amber or none"),
            ),
        }
    }
    if let Some(label) = &raw.criticality_label {
        if label.get_ref().trim().is_empty() {
            issues.at(
                label.span(),
                "checks.criticality_label",
                "must not be empty",
            );
        } else {
            scoring.criticality_label = label.get_ref().trim().to_owned();
        }
    }
    if let Some(w) = &raw.default_host_weight
        && let Some(w) = host_weight(w, "checks.default_host_weight", issues)
    {
        scoring.default_host_weight = w;
    }
    for (value, w) in &raw.criticality_weights {
        let key = format!("checks.criticality_weights.{value}");
        if let Some(w) = host_weight(w, &key, issues) {
            scoring.criticality_weights.insert(value.clone(), w);
        }
    }

    if let Some(days) = raw.ending_soon_days {
        if (0..=36_500).contains(days.get_ref()) {
            assess.derive.ending_soon_days = *days.get_ref();
        } else {
            issues.at(
                days.span(),
                "checks.ending_soon_days",
                format!("`{}` is not a number of days 0–36500", days.get_ref()),
            );
        }
    }
}

/// `[carbon]`: the settings as written, and where each key is. Their values are checked
/// against the carbon data when the assessor loads (`CarbonConfig::problems`), which
/// locates each problem with these places.
fn validate_carbon(
    raw: RawCarbon,
    issues: &mut Issues<'_>,
    file: &Source<'_>,
    assess: &mut AssessConfig,
) {
    let origins = &mut assess.origins;
    let carbon = &mut assess.carbon;
    if let Some(year) = raw.reporting_year {
        origins.insert("carbon.reporting_year".to_owned(), file.place(year.span()));
        carbon.reporting_year = Some(year.into_inner());
    }
    if let Some(years) = raw.lifespan_years {
        origins.insert("carbon.lifespan_years".to_owned(), file.place(years.span()));
        carbon.lifespan_years = Some(years.into_inner());
    }
    for (name, site) in raw.sites {
        let key = format!("carbon.sites.{name}");
        if let Some(site) = typed::<SiteConfig>(site, &key, issues, file, origins) {
            carbon.sites.insert(name, site);
        }
    }
    if let Some(host) = raw.hypervisor_host {
        carbon.hypervisor_host =
            typed::<HypervisorHostConfig>(host, "carbon.hypervisor_host", issues, file, origins);
    }
    if let Some(readiness) = raw.readiness
        && let Some(r) =
            typed::<ReadinessConfig>(readiness, "carbon.readiness", issues, file, origins)
    {
        carbon.readiness = r;
    }
    if let Some(scenarios) = raw.scenarios {
        carbon.scenarios = scenarios
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let key = format!("carbon.scenarios[{i}]");
                typed::<ScenarioConfig>(s, &key, issues, file, origins)
            })
            .collect();
    }
}

/// Converts a table as written into `T`, recording where the table and each of its keys
/// are; a value `T` refuses is an issue at the table.
fn typed<T: DeserializeOwned>(
    table: Spanned<RawTable>,
    key: &str,
    issues: &mut Issues<'_>,
    file: &Source<'_>,
    origins: &mut BTreeMap<String, String>,
) -> Option<T> {
    let span = table.span();
    origins.insert(key.to_owned(), file.place(span.clone()));
    let mut plain = toml::Table::new();
    for (k, v) in table.into_inner() {
        origins.insert(format!("{key}.{k}"), file.place(v.span()));
        plain.insert(k, v.into_inner());
    }
    match T::deserialize(toml::Value::Table(plain)) {
        Ok(t) => Some(t),
        Err(e) => {
            issues.at(span, key, e.message().trim().to_owned());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(
            ServerConfig::parse("", "x").unwrap(),
            ServerConfig::default()
        );
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(located::line_col("a\nbc", 3), (2, 2));
        assert_eq!(located::line_col("abc", 0), (1, 1));
        // Past the end is the end; inside a character is its start (the fuzzer found an
        // offset inside `é` on the second line that underflowed the column).
        assert_eq!(located::line_col("ab", 9), (1, 3));
        assert_eq!(located::line_col("a\nxé\nz", 4), (2, 2));
        assert_eq!(located::line_col("a\nxé\nz", 5), (2, 4));
    }
}
