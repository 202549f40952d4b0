//! The collector's configuration reference as data: one entry per key and table of
//! `server.toml` (path, type, default, unit, meaning), built from the same constants the
//! parser uses. `estate-server gen-config` prints it as a commented default file; tests
//! hold `docs/configuration.md` and the parser (its unknown-key messages) to it.
//!
//! This module owns the descriptors only; parsing and validation stay in
//! [`crate::config`].

pub use estate_agent::config::reference::{
    Default, Entry, EntryExt, KeyType, expected_fields, gen_config,
};
use estate_agent::config::reference::{
    float, key_entry as key, section_entry as section, string, toml_string, value,
};

use super::*;

/// Every key and table of `server.toml`.
pub fn server_entries() -> Vec<Entry> {
    use KeyType::*;
    let formats = crate::report::Format::ALL
        .iter()
        .map(|f| toml_string(f.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let on_fail = crate::carbon::OnFail::default();
    let readiness = |r: crate::carbon::Readiness| match r {
        crate::carbon::Readiness::Ready => string("ready"),
        crate::carbon::Readiness::ConditionallyReady => string("conditionally_ready"),
        crate::carbon::Readiness::NotReady => string("not_ready"),
        crate::carbon::Readiness::Unknown => string("unknown"),
    };
    let scoring = crate::checks::ScoringConfig::default();
    let cap = match scoring.critical_failure_cap {
        Some(Band::Red) => "red",
        Some(Band::Amber) => "amber",
        Some(_) | None => "none",
    };
    vec![
        section("server", Table, false, "The HTTP API."),
        key("server.listen", String, string(DEFAULT_LISTEN), None,
            "IP:PORT the API listens on: HTTPS when [tls] is set, plain HTTP otherwise."),
        key("server.body_limit_bytes", Integer, value(DEFAULT_BODY_LIMIT_BYTES), Some("bytes"),
            "Largest request body, and largest report after decompression (413 past it); at least 1024."),
        key("server.max_clock_skew_secs", Integer, value(DEFAULT_MAX_CLOCK_SKEW_SECS), Some("seconds"),
            "How far in the future a report's collected_at may be."),
        key("server.client_timeout_secs", Integer, value(DEFAULT_CLIENT_TIMEOUT_SECS), Some("seconds"),
            "Longest a client may take to send a request's head, and its body; at least 1."),
        key("server.stale_after_secs", Integer, value(DEFAULT_STALE_AFTER_SECS), Some("seconds"),
            "A host with no report for longer is stale; at least 60."),
        key("server.max_reports_per_host_per_minute", Integer,
            value(DEFAULT_MAX_REPORTS_PER_HOST_PER_MINUTE), Some("reports per minute"),
            "Per-host ingest limit (429 past it); 0 turns it off."),
        section("storage", Table, false, "Where data is kept: exactly one of sqlite_path and postgres_url."),
        key("storage.sqlite_path", Path, string(DEFAULT_SQLITE_PATH), None,
            "The embedded SQLite database, created and migrated on start; its directory must exist."),
        key("storage.postgres_url", String, Default::Unset, None,
            "postgres:// URL of a PostgreSQL database shared by several collectors (instead of sqlite_path).")
            .example("\"postgresql://estate@db.example.gov.uk/estate\""),
        key("storage.write_queue_capacity", Integer, value(DEFAULT_WRITE_QUEUE_CAPACITY), Some("writes"),
            "Writes waiting for the writer; when full, ingest answers 503."),
        key("storage.write_batch_max", Integer, value(DEFAULT_WRITE_BATCH_MAX), Some("writes"),
            "Most writes grouped into one transaction."),
        section("auth", Table, false, "Tokens."),
        key("auth.enrolment_token_file", Path, Default::Unset, None,
            "File holding the enrolment token; unset: enrolment is off (403).")
            .example("\"/etc/estate/enrolment-token\""),
        key("auth.read_token_file", Path, Default::Unset, None,
            "File holding the read API's bearer token; unset: the read API is open.")
            .example("\"/etc/estate/read-token\""),
        key("auth.admin_token_file", Path, Default::Unset, None,
            "File holding the admin API's bearer token; unset: the admin API answers 404.")
            .example("\"/etc/estate/admin-token\""),
        section("retention", Table, false, "How long data is kept."),
        key("retention.raw_reports_days", Integer, value(DEFAULT_RAW_REPORTS_DAYS), Some("days"),
            "Raw reports older than this are deleted hourly; at least 1."),
        section("metrics", Table, false, "/metrics."),
        key("metrics.enabled", Boolean, value(MetricsConfig::default().enabled), None,
            "Serve /metrics."),
        key("metrics.per_host", Boolean, value(MetricsConfig::default().per_host), None,
            "Export per-host series (off for very large estates)."),
        key("metrics.refresh_secs", Integer, value(DEFAULT_METRICS_REFRESH_SECS), Some("seconds"),
            "A scrape recomputes the estate gauges when the last computation is older; at least 1."),
        key("metrics.resync_secs", Integer, value(crate::index::DEFAULT_RESYNC_SECS), Some("seconds"),
            "The estate index behind the gauges is rebuilt from the store when older; at least 1."),
        section("checks", Table, false, "Health checks and scoring."),
        key("checks.config_dir", Path, Default::Derived("the copy built into the binary"), None,
            "Directory holding checks/, profiles/, waivers.toml and data/; relative to this file.")
            .example("\"/etc/estate/config\""),
        key("checks.profile", String, string(crate::assess::DEFAULT_PROFILE), None,
            "The audit profile evaluated on ingest."),
        key("checks.green_at", Float, float(crate::checks::DEFAULT_GREEN_AT), Some("ratio 0–1"),
            "Lowest green score."),
        key("checks.amber_at", Float, float(crate::checks::DEFAULT_AMBER_AT), Some("ratio 0–1"),
            "Lowest amber score (below: red); below green_at."),
        key("checks.critical_failure_cap", String, string(cap), None,
            "Best band of a host with a failed critical check: \"red\", \"amber\" or \"none\"."),
        key("checks.criticality_label", String, string(crate::checks::DEFAULT_CRITICALITY_LABEL), None,
            "The label whose value weights a host in the estate score."),
        key("checks.default_host_weight", Float, float(crate::checks::DEFAULT_HOST_WEIGHT), None,
            "Weight of a host whose label is absent or not listed in criticality_weights; at least 0."),
        section("checks.criticality_weights", FloatMap, false,
            "Label value to host weight (at least 0).")
            .example("high = 3.0"),
        key("checks.ending_soon_days", Integer, value(crate::facts::DEFAULT_ENDING_SOON_DAYS), Some("days"),
            "An OS whose support ends within this many days is ending_soon; 0–36500."),
        section("carbon", Table, false, "Energy and carbon estimates (docs/methodology.md)."),
        key("carbon.reporting_year", Integer, Default::Derived("the latest year in `grid-uk.toml`"), Some("year"),
            "Year of the UK grid factor.")
            .example("2025"),
        key("carbon.lifespan_years", Float, Default::Derived("the method's `lifespan_years` (4)"), Some("years"),
            "Asset lifespan for embodied carbon, 0.5–50.")
            .example("5.0"),
        section("carbon.sites", NamedTables, false, "Per site (the hosts' site label).")
            .default_to(Default::Empty),
        key("carbon.sites.NAME.pue", Float, Default::Derived("the method's `onprem_pue` and its range"), None,
            "The site's power usage effectiveness, 1–5.")
            .example("1.6"),
        key("carbon.sites.NAME.market_kgco2e_per_kwh", Float, Default::Derived("location-based"), Some("kgCO2e/kWh"),
            "The electricity supplier's factor for market-based reporting, 0–2.")
            .example("0.05"),
        section("carbon.hypervisor_host", Table, true,
            "The host VMs run on, for their share of embodied carbon.")
            .default_to(Default::Derived("the method's `hypervisor_*` factors")),
        key("carbon.hypervisor_host.sockets", Integer, Default::Required, None, "Sockets, at least 1.")
            .example("2"),
        key("carbon.hypervisor_host.threads", Integer, Default::Required, None,
            "Hardware threads, at least 1 (a VM's share is its vCPUs / threads).")
            .example("64"),
        key("carbon.hypervisor_host.memory_gib", Float, Default::Required, Some("GiB"), "Memory.")
            .example("512.0"),
        key("carbon.hypervisor_host.ssds", Integer, value(0), None, "Local SSDs."),
        key("carbon.hypervisor_host.hdds", Integer, value(0), None, "Local HDDs."),
        section("carbon.scenarios", TableArray, false,
            "Cloud and retirement scenarios; `scenarios = []` turns them off.")
            .default_to(Default::Derived("the four built-in scenarios (`assess::default_scenarios`)")),
        key("carbon.scenarios.name", String, Default::Required, None,
            "Unique name (not `onprem`).")
            .example("\"azure-uksouth\""),
        key("carbon.scenarios.kind", String, Default::Required, None, "\"cloud\" or \"retire\".")
            .example("\"cloud\""),
        key("carbon.scenarios.provider", String, Default::Derived("required for `cloud`"), None,
            "\"aws\", \"azure\" or \"gcp\".")
            .example("\"azure\""),
        key("carbon.scenarios.region", String, Default::Derived("required for `cloud`"), None,
            "The provider's region code.")
            .example("\"uksouth\""),
        key("carbon.scenarios.families", StringArray, Default::Empty, None,
            "Instance families to choose from (cloud).")
            .example("[\"Dsv5\", \"Esv5\", \"Fsv2\"]"),
        key("carbon.scenarios.sizing", String, string("performance"), None,
            "\"performance\" (from the observed percentile) or \"as_onprem\"."),
        key("carbon.scenarios.comfort_factor", Float, Default::Derived("the method's `comfort_factor`"), None,
            "Head-room over the observed percentile.")
            .example("1.3"),
        key("carbon.scenarios.percentile", Float, Default::Derived("the method's `sizing_percentile`"), None,
            "Percentile of the 10-minute peaks sized for.")
            .example("95.0"),
        section("carbon.scenarios.hosts", StringMap, false,
            "Label selector: every label given must equal the host's; empty selects every server.")
            .example("role = \"web\""),
        key("carbon.scenarios.retire_cpu_p95_below", Float,
            Default::Derived("the method's `retire_cpu_p95_below_ratio`"), Some("ratio 0–1"),
            "Retire scenarios: CPU at the percentile below this.")
            .example("0.05"),
        key("carbon.scenarios.market_kgco2e_per_kwh", Float, Default::Derived("the provider's claim"),
            Some("kgCO2e/kWh"), "Override of the provider's market-based factor.")
            .example("0.0"),
        section("carbon.readiness", Table, true,
            "How a host's cloud readiness follows from an audit profile's results.")
            .default_to(Default::Derived("below")),
        key("carbon.readiness.profile", String, string(crate::carbon::DEFAULT_READINESS_PROFILE), None,
            "The audit profile read."),
        key("carbon.readiness.unknown_above_ratio", Float,
            float(crate::carbon::DEFAULT_UNKNOWN_ABOVE_RATIO), Some("ratio 0–1"),
            "Above this share of applicable checks in error, the host is unknown."),
        section("carbon.readiness.on_fail", Table, false,
            "The readiness a failing check of each severity gives."),
        key("carbon.readiness.on_fail.critical", String, readiness(on_fail.critical), None,
            "A failing critical check."),
        key("carbon.readiness.on_fail.high", String, readiness(on_fail.high), None,
            "A failing high check."),
        key("carbon.readiness.on_fail.medium", String, readiness(on_fail.medium), None,
            "A failing medium check."),
        key("carbon.readiness.on_fail.low", String, readiness(on_fail.low), None,
            "A failing low check."),
        key("carbon.readiness.on_fail.info", String, readiness(on_fail.info), None,
            "A failing info check."),
        section("reports", Table, true, "Health-check reports on a schedule; none without this section."),
        key("reports.dir", Path, Default::Required, None,
            "Where reports are written (created when missing); relative to this file.")
            .example("\"/var/lib/estate-server/reports\""),
        key("reports.schedule", String, string(crate::report::schedule::DEFAULT_SCHEDULE), None,
            "When, as a cron expression in UTC (minute hour day-of-month month day-of-week)."),
        key("reports.interval_secs", Integer, Default::Unset, Some("seconds"),
            "Instead of schedule: every this many seconds; at least 60.")
            .example("86400"),
        key("reports.formats", StringArray, Default::Value(format!("[{formats}]")), None,
            "Formats written: html, md, csv, json."),
        key("reports.keep", Integer, value(crate::report::schedule::DEFAULT_REPORTS_KEEP), None,
            "Reports kept per format; 0 keeps all."),
        key("reports.title", String, string(crate::report::load::DEFAULT_TITLE), None,
            "The reports' title."),
        section("tls", Table, true, "HTTPS; plain HTTP without this section."),
        key("tls.cert_file", Path, Default::Required, None, "PEM certificate chain, leaf first.")
            .example("\"/etc/estate/tls/server.crt\""),
        key("tls.key_file", Path, Default::Required, None, "PEM private key of the leaf.")
            .example("\"/etc/estate/tls/server.key\""),
        key("tls.client_auth", String, string("off"), None,
            "Client certificates: \"off\", \"optional\" or \"required\"."),
        key("tls.client_ca_file", Path, Default::Unset, None,
            "PEM CA bundle client certificates must chain to (with client_auth optional or required).")
            .example("\"/etc/estate/tls/agents-ca.pem\""),
    ]
}

/// `estate-server gen-config`'s output.
pub fn server_gen_config() -> String {
    gen_config(
        "estate-server configuration (server.toml), generated by `estate-server gen-config`.",
        &server_entries(),
    )
}
