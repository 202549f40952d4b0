//! The collector's configuration (`server.toml`): raw serde structs that reject unknown
//! keys, converted into a validated [`ServerConfig`].
//!
//! Every problem is reported, each as `FILE:LINE:COL: `KEY`: message`. This module owns
//! parsing and validation; it must not read anything but the config file itself (token
//! files are read when the server starts, see [`crate::auth`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use estate_agent::config::located::{self, Issues};
pub use estate_agent::config::located::{ConfigError, ConfigIssue};

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
    /// Most reports per host per minute (a token bucket of that size refilled over a
    /// minute); `None` turns the limit off.
    pub max_reports_per_host_per_minute: Option<u32>,
    /// Where data is kept.
    pub storage: StorageConfig,
    /// Token settings.
    pub auth: AuthConfig,
    /// How long data is kept.
    pub retention: RetentionConfig,
    /// `/metrics` options.
    pub metrics: MetricsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8470)),
            body_limit_bytes: DEFAULT_BODY_LIMIT_BYTES,
            max_clock_skew: Duration::from_secs(DEFAULT_MAX_CLOCK_SKEW_SECS),
            stale_after: Duration::from_secs(DEFAULT_STALE_AFTER_SECS),
            max_reports_per_host_per_minute: Some(DEFAULT_MAX_REPORTS_PER_HOST_PER_MINUTE as u32),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            retention: RetentionConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
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
    /// How often the estate metrics are recomputed from the store.
    pub refresh: Duration,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            per_host: false,
            refresh: Duration::from_secs(DEFAULT_METRICS_REFRESH_SECS),
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<Spanned<String>>,
    body_limit_bytes: Option<Spanned<u64>>,
    max_clock_skew_secs: Option<Spanned<u64>>,
    stale_after_secs: Option<Spanned<u64>>,
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
}

// ---------------------------------------------------------------------------------
// Loading (diagnostics: [`located`]).

impl ServerConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        located::load::<RawConfig, _>(path, validate)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ServerConfig, ConfigError> {
        located::parse::<RawConfig, _>(text, origin, validate)
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

fn validate(raw: RawConfig, issues: &mut Issues<'_>) -> ServerConfig {
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
    config
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
    }
}
