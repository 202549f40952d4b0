//! The agent's configuration (`agent.toml`): raw serde structs that reject unknown keys,
//! converted into a validated [`AgentConfig`].
//!
//! Every problem is reported, each as `FILE:LINE:COL: KEY: message`. This module owns
//! parsing and validation; it must not read anything but the config file itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub mod located;
pub mod reference;

use located::Issues;
pub use located::{ConfigError, ConfigIssue};

/// Default seconds between reports.
pub const DEFAULT_REPORT_INTERVAL_SECS: u64 = 300;
/// Default seconds between utilisation samples.
pub const DEFAULT_SAMPLE_INTERVAL_SECS: u64 = 10;
/// Default seconds between full inventories when nothing changed (one day).
pub const DEFAULT_FULL_INVENTORY_INTERVAL_SECS: u64 = 86_400;
/// Default time budget of one collector, milliseconds.
pub const DEFAULT_COLLECTOR_BUDGET_MS: u64 = 5_000;
/// Default state directory (host id, agent token, spool).
#[cfg(not(windows))]
pub const DEFAULT_STATE_DIR: &str = "/var/lib/estate-agent";
/// Default state directory (host id, agent token, spool): under `%ProgramData%\Estate`
/// at its usual place (the Windows service's layout, `estate-agent service`; the
/// installer writes it into agent.toml from the real `%ProgramData%`).
#[cfg(windows)]
pub const DEFAULT_STATE_DIR: &str = r"C:\ProgramData\Estate\state";
/// Default spool size limit (64 MiB).
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default probe timeout, milliseconds.
pub const DEFAULT_PROBE_TIMEOUT_MS: u64 = 5_000;
/// Default log format of the daemon.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;
/// Default CPU budget of the daemon: percent of one core, averaged over
/// [`DEFAULT_CPU_WINDOW_SECS`].
pub const DEFAULT_MAX_CPU_PERCENT: f64 = 5.0;
/// Default window the CPU budget is averaged over (ten minutes).
pub const DEFAULT_CPU_WINDOW_SECS: u64 = 600;
/// Shortest CPU window accepted, seconds.
pub const MIN_CPU_WINDOW_SECS: u64 = 10;
/// Default longest stretch of the report interval while over the CPU budget (4x).
pub const DEFAULT_MAX_INTERVAL_MULTIPLIER: u32 = 4;
/// Largest stretch accepted.
pub const MAX_INTERVAL_MULTIPLIER: u32 = 64;
/// Default resident memory limit of the daemon (64 MiB).
pub const DEFAULT_MAX_RSS_BYTES: u64 = 64 * 1024 * 1024;
/// Smallest resident memory limit accepted (16 MiB; the daemon idles near 10 MB).
pub const MIN_MAX_RSS_BYTES: u64 = 16 * 1024 * 1024;

/// How the daemon writes its log (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Names of the inventory collectors, as used in `[collectors]` and `collector_errors`.
pub const COLLECTOR_NAMES: &[&str] = &[
    "os",
    "hardware",
    "cpu",
    "memory",
    "disks",
    "filesystems",
    "network",
    "software",
    "services",
    "listening",
    "security",
    "gpus",
    "power",
    "utilisation",
    "probes",
];

/// Antivirus/EDR products recognised by default. A product is present when one of its
/// packages is installed, one of its paths exists or one of its processes runs.
pub fn default_antivirus() -> Vec<AntivirusProduct> {
    let product =
        |name: &str, packages: &[&str], paths: &[&str], processes: &[&str]| AntivirusProduct {
            name: name.to_owned(),
            packages: packages.iter().map(|s| (*s).to_owned()).collect(),
            paths: paths.iter().map(|s| (*s).to_owned()).collect(),
            processes: processes.iter().map(|s| (*s).to_owned()).collect(),
        };
    vec![
        product(
            "CrowdStrike Falcon",
            &["falcon-sensor"],
            &["/opt/CrowdStrike/falconctl"],
            &["falcon-sensor"],
        ),
        product(
            "Microsoft Defender for Endpoint",
            &["mdatp"],
            &["/opt/microsoft/mdatp"],
            &["wdavdaemon"],
        ),
        product(
            "SentinelOne",
            &["sentinelagent", "SentinelAgent"],
            &["/opt/sentinelone/bin/sentinelctl"],
            &["sentinelone-agent", "s1-agent"],
        ),
        product(
            "Sophos Protection for Linux",
            &["sophos-spl"],
            &["/opt/sophos-spl"],
            &["sophos_threat_d", "sophos-spl"],
        ),
        product(
            "Trellix/McAfee Endpoint Security",
            &["McAfeeESP", "mfetp", "McAfeeTP"],
            &["/opt/McAfee/ens"],
            &["mfetpd", "mfeespd"],
        ),
        product(
            "Trend Micro Deep Security",
            &["ds_agent"],
            &["/opt/ds_agent"],
            &["ds_agent"],
        ),
        product(
            "ESET Server Security",
            &["efs", "eea"],
            &["/opt/eset"],
            &["oaeventd", "startd"],
        ),
        product("ClamAV", &["clamav-daemon", "clamd"], &[], &["clamd"]),
        product(
            "Wazuh agent",
            &["wazuh-agent"],
            &["/var/ossec/bin/wazuh-agentd"],
            &["wazuh-agentd"],
        ),
    ]
}

/// The validated agent configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// Where reports go.
    pub collector: CollectorTarget,
    /// Directory for the host id, the agent token and the spool.
    pub state_dir: PathBuf,
    /// Time between reports.
    pub report_interval: Duration,
    /// Time between utilisation samples.
    pub sample_interval: Duration,
    /// Longest time between two full inventories when nothing changed.
    pub full_inventory_interval: Duration,
    /// Time budget of each collector.
    pub collector_budget: Duration,
    /// Labels sent with every report (site, role, owner, department, ...).
    pub labels: BTreeMap<String, String>,
    /// The on-disk queue of reports not yet acknowledged.
    pub spool: SpoolConfig,
    /// Which collectors run.
    pub collectors: CollectorToggles,
    /// Antivirus/EDR products to look for.
    pub antivirus: Vec<AntivirusProduct>,
    /// Service probes.
    pub probes: Vec<ProbeConfig>,
    /// How the daemon logs.
    pub log_format: LogFormat,
    /// The daemon's own CPU and memory limits.
    pub limits: LimitsConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            collector: CollectorTarget::default(),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            report_interval: Duration::from_secs(DEFAULT_REPORT_INTERVAL_SECS),
            sample_interval: Duration::from_secs(DEFAULT_SAMPLE_INTERVAL_SECS),
            full_inventory_interval: Duration::from_secs(DEFAULT_FULL_INVENTORY_INTERVAL_SECS),
            collector_budget: Duration::from_millis(DEFAULT_COLLECTOR_BUDGET_MS),
            labels: BTreeMap::new(),
            spool: SpoolConfig::default(),
            collectors: CollectorToggles::default(),
            antivirus: default_antivirus(),
            probes: Vec::new(),
            log_format: DEFAULT_LOG_FORMAT,
            limits: LimitsConfig::default(),
        }
    }
}

/// `[limits]`: what the daemon allows itself (the per-collector time budget is
/// `agent.collector_budget_ms`).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Whether the CPU budget and memory limit are enforced.
    pub enabled: bool,
    /// CPU budget, a ratio of one core (0.05 is 5 %).
    pub max_cpu_ratio: f64,
    /// Window the CPU use is averaged over.
    pub cpu_window: Duration,
    /// Longest the report interval is stretched to, as a multiple of
    /// `agent.report_interval_secs`.
    pub max_interval_multiplier: u32,
    /// Resident memory limit, bytes: past it the daemon flushes and exits non-zero.
    pub max_rss_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            max_cpu_ratio: DEFAULT_MAX_CPU_PERCENT / 100.0,
            cpu_window: Duration::from_secs(DEFAULT_CPU_WINDOW_SECS),
            max_interval_multiplier: DEFAULT_MAX_INTERVAL_MULTIPLIER,
            max_rss_bytes: DEFAULT_MAX_RSS_BYTES,
        }
    }
}

/// The collector (server) the agent reports to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorTarget {
    /// Base URL, e.g. `https://estate.example.gov.uk:8470`; `None` for `collect` only.
    pub url: Option<String>,
    /// File holding the per-host agent token (written after enrolment).
    pub token_file: Option<PathBuf>,
    /// File holding the enrolment token.
    pub enrolment_token_file: Option<PathBuf>,
    /// Extra CA bundle (PEM) to trust for the collector's certificate.
    pub ca_file: Option<PathBuf>,
    /// The agent's client certificate and key, for a collector that asks for one
    /// (mutual TLS); `None` presents none.
    pub client_identity: Option<ClientIdentity>,
}

/// `collector.client_cert_file` and `collector.client_key_file`, always both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, RSA or SEC1) of the leaf certificate.
    pub key_file: PathBuf,
}

/// Spool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolConfig {
    /// Spool directory; default `<state_dir>/spool`.
    pub dir: Option<PathBuf>,
    /// Size limit; the oldest reports are dropped past it.
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: None,
            max_bytes: DEFAULT_SPOOL_MAX_BYTES,
        }
    }
}

/// Collectors turned off by config (all run by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorToggles {
    disabled: Vec<String>,
}

impl CollectorToggles {
    /// Whether the collector called `name` runs.
    pub fn is_enabled(&self, name: &str) -> bool {
        !self.disabled.iter().any(|d| d == name)
    }

    /// Turns a collector off.
    pub fn disable(&mut self, name: &str) {
        if self.is_enabled(name) {
            self.disabled.push(name.to_owned());
        }
    }
}

/// An antivirus/EDR product and how to recognise it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AntivirusProduct {
    /// Product name as reported.
    pub name: String,
    /// Package names (dpkg/rpm) that mean it is installed.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Paths whose existence means it is installed.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Process names (`comm`) that mean it is running.
    #[serde(default)]
    pub processes: Vec<String>,
}

/// A service probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Name shown in reports.
    pub name: String,
    /// What to probe.
    pub target: ProbeTarget,
    /// How long to wait.
    pub timeout: Duration,
}

/// What a probe checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    /// An HTTP or HTTPS GET; up when the status is one of `expect_status` (any 2xx or
    /// 3xx when empty).
    Http {
        /// The URL.
        url: String,
        /// Accepted status codes.
        expect_status: Vec<u16>,
    },
    /// A TCP connect to `host:port`.
    Tcp {
        /// `host:port`.
        address: String,
    },
}

// ---------------------------------------------------------------------------------
// Raw layer: what the file says.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    collector: RawCollector,
    #[serde(default)]
    agent: RawAgent,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    spool: RawSpool,
    #[serde(default)]
    collectors: BTreeMap<Spanned<String>, bool>,
    #[serde(default)]
    security: RawSecurity,
    #[serde(default)]
    probes: Vec<RawProbe>,
    #[serde(default)]
    limits: RawLimits,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    enabled: Option<bool>,
    max_cpu_percent: Option<Spanned<f64>>,
    cpu_window_secs: Option<Spanned<u64>>,
    max_interval_multiplier: Option<Spanned<u32>>,
    max_rss_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCollector {
    url: Option<Spanned<String>>,
    token_file: Option<PathBuf>,
    enrolment_token_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    client_cert_file: Option<Spanned<PathBuf>>,
    client_key_file: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    state_dir: Option<PathBuf>,
    report_interval_secs: Option<Spanned<u64>>,
    sample_interval_secs: Option<Spanned<u64>>,
    full_inventory_interval_secs: Option<Spanned<u64>>,
    collector_budget_ms: Option<Spanned<u64>>,
    log_format: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpool {
    dir: Option<PathBuf>,
    max_bytes: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecurity {
    /// Replaces the built-in list when set.
    antivirus: Option<Vec<AntivirusProduct>>,
    /// Added to the built-in (or replaced) list.
    #[serde(default)]
    extra_antivirus: Vec<AntivirusProduct>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    name: Spanned<String>,
    kind: Spanned<String>,
    url: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
    #[serde(default)]
    expect_status: Vec<u16>,
    timeout_ms: Option<Spanned<u64>>,
}

// ---------------------------------------------------------------------------------
// Loading (diagnostics: [`located`]).

impl AgentConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        located::load::<RawConfig, _>(path, validate)
    }

    /// Parses and validates config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<AgentConfig, ConfigError> {
        located::parse::<RawConfig, _>(text, origin, validate)
    }
}

fn positive_secs(
    value: Option<Spanned<u64>>,
    key: &str,
    default: u64,
    issues: &mut Issues<'_>,
) -> Duration {
    match value {
        Some(v) if *v.get_ref() == 0 => {
            issues.at(v.span(), key, "must be at least 1");
            Duration::from_secs(default)
        }
        Some(v) => Duration::from_secs(v.into_inner()),
        None => Duration::from_secs(default),
    }
}

fn validate(raw: RawConfig, issues: &mut Issues<'_>) -> AgentConfig {
    let mut config = AgentConfig::default();

    if let Some(url) = raw.collector.url {
        let text = url.get_ref().trim();
        if !(text.starts_with("http://") || text.starts_with("https://")) {
            issues.at(
                url.span(),
                "collector.url",
                format!("`{text}` is not an http:// or https:// URL"),
            );
        } else if reqwest::Url::parse(text).is_err() {
            issues.at(
                url.span(),
                "collector.url",
                format!("`{text}` is not a valid URL"),
            );
        }
        config.collector.url = Some(text.trim_end_matches('/').to_owned());
    }
    config.collector.token_file = raw.collector.token_file;
    config.collector.enrolment_token_file = raw.collector.enrolment_token_file;
    config.collector.ca_file = raw.collector.ca_file;
    config.collector.client_identity = match (
        raw.collector.client_cert_file,
        raw.collector.client_key_file,
    ) {
        (Some(cert), Some(key)) => Some(ClientIdentity {
            cert_file: cert.into_inner(),
            key_file: key.into_inner(),
        }),
        (Some(cert), None) => {
            issues.at(
                cert.span(),
                "collector.client_cert_file",
                "needs `collector.client_key_file` too (set both or neither)",
            );
            None
        }
        (None, Some(key)) => {
            issues.at(
                key.span(),
                "collector.client_key_file",
                "needs `collector.client_cert_file` too (set both or neither)",
            );
            None
        }
        (None, None) => None,
    };

    if let Some(dir) = raw.agent.state_dir {
        config.state_dir = dir;
    }
    config.report_interval = positive_secs(
        raw.agent.report_interval_secs,
        "agent.report_interval_secs",
        DEFAULT_REPORT_INTERVAL_SECS,
        issues,
    );
    let sample_span = raw.agent.sample_interval_secs.as_ref().map(|s| s.span());
    config.sample_interval = positive_secs(
        raw.agent.sample_interval_secs,
        "agent.sample_interval_secs",
        DEFAULT_SAMPLE_INTERVAL_SECS,
        issues,
    );
    if config.sample_interval > config.report_interval {
        issues.at(
            sample_span.unwrap_or(0..0),
            "agent.sample_interval_secs",
            format!(
                "{} s is longer than agent.report_interval_secs ({} s)",
                config.sample_interval.as_secs(),
                config.report_interval.as_secs()
            ),
        );
    }
    config.full_inventory_interval = positive_secs(
        raw.agent.full_inventory_interval_secs,
        "agent.full_inventory_interval_secs",
        DEFAULT_FULL_INVENTORY_INTERVAL_SECS,
        issues,
    );
    match raw.agent.collector_budget_ms {
        Some(v) if *v.get_ref() == 0 => {
            issues.at(v.span(), "agent.collector_budget_ms", "must be at least 1")
        }
        Some(v) => config.collector_budget = Duration::from_millis(v.into_inner()),
        None => {}
    }

    if let Some(format) = raw.agent.log_format {
        match format.get_ref().as_str() {
            "text" => config.log_format = LogFormat::Text,
            "json" => config.log_format = LogFormat::Json,
            other => issues.at(
                format.span(),
                "agent.log_format",
                format!("unknown log format `{other}`, expected \"text\" or \"json\""),
            ),
        }
    }

    config.labels = raw.labels;
    config.limits = validate_limits(raw.limits, issues);

    config.spool.dir = raw.spool.dir;
    if let Some(max) = raw.spool.max_bytes {
        if *max.get_ref() < 1024 * 1024 {
            issues.at(
                max.span(),
                "spool.max_bytes",
                "must be at least 1048576 (1 MiB)",
            );
        }
        config.spool.max_bytes = max.into_inner();
    }

    for (name, enabled) in raw.collectors {
        if !COLLECTOR_NAMES.contains(&name.get_ref().as_str()) {
            issues.at(
                name.span(),
                &format!("collectors.{}", name.get_ref()),
                format!(
                    "unknown collector `{}`, expected one of {}",
                    name.get_ref(),
                    COLLECTOR_NAMES.join(", ")
                ),
            );
        } else if !enabled {
            config.collectors.disable(name.get_ref());
        }
    }

    if let Some(list) = raw.security.antivirus {
        config.antivirus = list;
    }
    config.antivirus.extend(raw.security.extra_antivirus);

    let mut names = Vec::new();
    for (i, probe) in raw.probes.into_iter().enumerate() {
        let key = |field: &str| format!("probes[{i}].{field}");
        let name = probe.name.get_ref().trim().to_owned();
        if name.is_empty() {
            issues.at(probe.name.span(), &key("name"), "must not be empty");
        } else if names.contains(&name) {
            issues.at(
                probe.name.span(),
                &key("name"),
                format!("duplicate probe name `{name}`"),
            );
        }
        names.push(name.clone());
        let timeout = match probe.timeout_ms {
            Some(v) if *v.get_ref() == 0 => {
                issues.at(v.span(), &key("timeout_ms"), "must be at least 1");
                Duration::from_millis(DEFAULT_PROBE_TIMEOUT_MS)
            }
            Some(v) => Duration::from_millis(v.into_inner()),
            None => Duration::from_millis(DEFAULT_PROBE_TIMEOUT_MS),
        };
        let target = match probe.kind.get_ref().as_str() {
            "http" => match probe.url {
                Some(url) => {
                    let text = url.get_ref().trim().to_owned();
                    match reqwest::Url::parse(&text) {
                        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                        _ => issues.at(
                            url.span(),
                            &key("url"),
                            format!("`{text}` is not an http:// or https:// URL"),
                        ),
                    }
                    if let Some(address) = &probe.address {
                        issues.at(address.span(), &key("address"), "only for kind = \"tcp\"");
                    }
                    Some(ProbeTarget::Http {
                        url: text,
                        expect_status: probe.expect_status,
                    })
                }
                None => {
                    issues.at(probe.kind.span(), &key("url"), "an http probe needs `url`");
                    None
                }
            },
            "tcp" => match probe.address {
                Some(address) => {
                    let text = address.get_ref().trim().to_owned();
                    let valid = text.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
                    });
                    if !valid {
                        issues.at(
                            address.span(),
                            &key("address"),
                            format!("`{text}` is not HOST:PORT"),
                        );
                    }
                    if let Some(url) = &probe.url {
                        issues.at(url.span(), &key("url"), "only for kind = \"http\"");
                    }
                    Some(ProbeTarget::Tcp { address: text })
                }
                None => {
                    issues.at(
                        probe.kind.span(),
                        &key("address"),
                        "a tcp probe needs `address`",
                    );
                    None
                }
            },
            other => {
                issues.at(
                    probe.kind.span(),
                    &key("kind"),
                    format!("unknown probe kind `{other}`, expected `http` or `tcp`"),
                );
                None
            }
        };
        if let Some(target) = target {
            config.probes.push(ProbeConfig {
                name,
                target,
                timeout,
            });
        }
    }
    config
}

fn validate_limits(raw: RawLimits, issues: &mut Issues<'_>) -> LimitsConfig {
    let mut limits = LimitsConfig::default();
    if let Some(enabled) = raw.enabled {
        limits.enabled = enabled;
    }
    if let Some(v) = raw.max_cpu_percent {
        let percent = *v.get_ref();
        // Over 100 % is allowed (more than one core) but not absurd.
        if !(percent.is_finite() && percent > 0.0 && percent <= 1000.0) {
            issues.at(
                v.span(),
                "limits.max_cpu_percent",
                format!("{percent} is not a percentage of one core in (0, 1000]"),
            );
        } else {
            limits.max_cpu_ratio = percent / 100.0;
        }
    }
    if let Some(v) = raw.cpu_window_secs {
        if *v.get_ref() < MIN_CPU_WINDOW_SECS {
            issues.at(
                v.span(),
                "limits.cpu_window_secs",
                format!("must be at least {MIN_CPU_WINDOW_SECS}"),
            );
        } else {
            limits.cpu_window = Duration::from_secs(v.into_inner());
        }
    }
    if let Some(v) = raw.max_interval_multiplier {
        if !(1..=MAX_INTERVAL_MULTIPLIER).contains(v.get_ref()) {
            issues.at(
                v.span(),
                "limits.max_interval_multiplier",
                format!("must be between 1 (never stretch) and {MAX_INTERVAL_MULTIPLIER}"),
            );
        } else {
            limits.max_interval_multiplier = v.into_inner();
        }
    }
    if let Some(v) = raw.max_rss_bytes {
        if *v.get_ref() < MIN_MAX_RSS_BYTES {
            issues.at(
                v.span(),
                "limits.max_rss_bytes",
                format!("must be at least {MIN_MAX_RSS_BYTES} (16 MiB)"),
            );
        } else {
            limits.max_rss_bytes = v.into_inner();
        }
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_on_by_default_and_every_bad_key_is_located() {
        let limits = AgentConfig::parse("", "x").unwrap().limits;
        assert!(limits.enabled);
        assert_eq!(limits.max_cpu_ratio, 0.05);
        assert_eq!(limits.cpu_window, Duration::from_secs(600));
        assert_eq!(limits.max_rss_bytes, 64 * 1024 * 1024);
        let text = "[limits]\nenabled = false\nmax_cpu_percent = 2.5\ncpu_window_secs = 60\nmax_interval_multiplier = 8\nmax_rss_bytes = 33554432\n";
        let limits = AgentConfig::parse(text, "x").unwrap().limits;
        assert_eq!(
            limits,
            LimitsConfig {
                enabled: false,
                max_cpu_ratio: 0.025,
                cpu_window: Duration::from_secs(60),
                max_interval_multiplier: 8,
                max_rss_bytes: 32 * 1024 * 1024,
            }
        );
        let bad = "[limits]\nmax_cpu_percent = 0.0\ncpu_window_secs = 5\nmax_interval_multiplier = 0\nmax_rss_bytes = 1024\nmax_rss = 1\n";
        assert_eq!(
            errors(bad),
            "agent.toml:6:1: unknown field `max_rss`, expected one of `enabled`, `max_cpu_percent`, `cpu_window_secs`, `max_interval_multiplier`, `max_rss_bytes`"
        );
        let bad = "[limits]\nmax_cpu_percent = 0.0\ncpu_window_secs = 5\nmax_interval_multiplier = 0\nmax_rss_bytes = 1024\n";
        assert_eq!(
            errors(bad),
            "agent.toml:2:19: `limits.max_cpu_percent`: 0 is not a percentage of one core in (0, 1000]\n\
             agent.toml:3:19: `limits.cpu_window_secs`: must be at least 10\n\
             agent.toml:4:27: `limits.max_interval_multiplier`: must be between 1 (never stretch) and 64\n\
             agent.toml:5:17: `limits.max_rss_bytes`: must be at least 16777216 (16 MiB)"
        );
    }

    fn errors(text: &str) -> String {
        AgentConfig::parse(text, "agent.toml")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(AgentConfig::parse("", "x").unwrap(), AgentConfig::default());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = errors("[agent]\nreport_interval_secs = 60\nsample_intervall_secs = 5\n");
        assert!(
            err.starts_with("agent.toml:3:1: unknown field `sample_intervall_secs`"),
            "{err}"
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_with_its_location() {
        let text = "[agent]\nreport_interval_secs = 0\n\n[collectors]\nsoftwares = false\n\n[[probes]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"db01\"\n";
        let err = errors(text);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert_eq!(
            lines[0],
            "agent.toml:2:24: `agent.report_interval_secs`: must be at least 1"
        );
        assert!(
            lines[1].starts_with("agent.toml:5:1: `collectors.softwares`: unknown collector"),
            "{err}"
        );
        assert_eq!(
            lines[2],
            "agent.toml:10:11: `probes[0].address`: `db01` is not HOST:PORT"
        );
    }

    #[test]
    fn wrong_type_is_located() {
        let err = errors("[spool]\nmax_bytes = \"lots\"\n");
        assert!(err.starts_with("agent.toml:2:13: "), "{err}");
    }

    #[test]
    fn toggles_and_probes_are_converted() {
        let text = "[collectors]\nsoftware = false\n[[probes]]\nname = \"web\"\nkind = \"http\"\nurl = \"https://intranet.example/health\"\nexpect_status = [200]\ntimeout_ms = 1500\n";
        let config = AgentConfig::parse(text, "x").unwrap();
        assert!(!config.collectors.is_enabled("software"));
        assert!(config.collectors.is_enabled("os"));
        assert_eq!(config.probes.len(), 1);
        assert_eq!(config.probes[0].timeout, Duration::from_millis(1500));
        assert_eq!(
            config.probes[0].target,
            ProbeTarget::Http {
                url: "https://intranet.example/health".to_owned(),
                expect_status: vec![200]
            }
        );
    }

    #[test]
    fn client_certificate_and_key_come_together() {
        let both = "[collector]\nclient_cert_file = \"/etc/estate/agent.crt\"\nclient_key_file = \"/etc/estate/agent.key\"\n";
        assert_eq!(
            AgentConfig::parse(both, "x")
                .unwrap()
                .collector
                .client_identity,
            Some(ClientIdentity {
                cert_file: PathBuf::from("/etc/estate/agent.crt"),
                key_file: PathBuf::from("/etc/estate/agent.key"),
            })
        );
        assert_eq!(
            errors("[collector]\nclient_cert_file = \"a.crt\"\n"),
            "agent.toml:2:20: `collector.client_cert_file`: needs `collector.client_key_file` too (set both or neither)"
        );
        assert_eq!(
            errors("[collector]\nclient_key_file = \"a.key\"\n"),
            "agent.toml:2:19: `collector.client_key_file`: needs `collector.client_cert_file` too (set both or neither)"
        );
    }

    #[test]
    fn log_format_is_parsed_and_a_bad_one_located() {
        let config = AgentConfig::parse("[agent]\nlog_format = \"json\"\n", "x").unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(AgentConfig::default().log_format, LogFormat::Text);
        assert_eq!(
            errors("[agent]\nlog_format = \"xml\"\n"),
            "agent.toml:2:14: `agent.log_format`: unknown log format `xml`, expected \"text\" or \"json\""
        );
    }
}
