//! Turning an HTTP request body into a validated report ready to store: content type,
//! gzip (bounded, so a gzip bomb cannot balloon memory), JSON, schema version, sizes,
//! timestamps and the inventory hash; then the indexed parts the store keeps.
//!
//! This module owns ingest validation and its error codes; it must not touch the store
//! or know about HTTP types (the handler passes header values as strings).

use std::fmt::Write as _;
use std::io::Read;

use chrono::{DateTime, TimeZone, Utc};
use estate_protocol::{Inventory, PowerSource, Report, SCHEMA_VERSION};
use flate2::bufread::GzDecoder;
use serde_json::Value;

use crate::store::{HostFacets, NewReport, SeriesPoint};

/// Most bytes deflate can decode from one byte (its maximum ratio is about 1,032:1).
const MAX_DEFLATE_RATIO: u64 = 1_032;

/// Longest string anywhere in a report, bytes.
pub const MAX_STRING_BYTES: usize = 64 * 1024;
/// Longest `host_id`, bytes.
pub const MAX_HOST_ID_BYTES: usize = 256;
/// Longest `hostname`, bytes (DNS names are at most 253).
pub const MAX_HOSTNAME_BYTES: usize = 255;
/// Most labels on a report.
pub const MAX_LABELS: usize = 64;
/// Longest label key or value, bytes.
pub const MAX_LABEL_BYTES: usize = 256;

/// Why a report was refused. Each variant has a stable code ([`IngestError::code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// `Content-Type` is not `application/json`.
    #[error("Content-Type must be application/json, got `{0}`")]
    UnsupportedMediaType(String),
    /// `Content-Encoding` is neither absent, `identity` nor `gzip`.
    #[error("Content-Encoding must be gzip or identity, got `{0}`")]
    UnsupportedEncoding(String),
    /// The body, or the decompressed report, is larger than the limit.
    #[error("the report is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The body claims gzip but is not.
    #[error("the body is not valid gzip: {0}")]
    BadGzip(String),
    /// The body is not JSON (or is empty).
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// `schema_version` is missing or not one this collector reads.
    #[error("{0}")]
    SchemaVersion(String),
    /// The JSON is not a valid report.
    #[error("{0}")]
    InvalidReport(String),
    /// A timestamp is absurd.
    #[error("{0}")]
    TimestampOutOfRange(String),
    /// `inventory_hash` does not match the inventory sent.
    #[error("{0}")]
    InventoryHashMismatch(String),
    /// A string or list is too large.
    #[error("{0}")]
    FieldTooLarge(String),
}

impl IngestError {
    /// The stable `error_code` (documented in `docs/api.md`).
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::UnsupportedMediaType(_) | IngestError::UnsupportedEncoding(_) => {
                "unsupported_media_type"
            }
            IngestError::PayloadTooLarge { .. } => "payload_too_large",
            IngestError::BadGzip(_) => "bad_gzip",
            IngestError::MalformedJson(_) => "malformed_json",
            IngestError::SchemaVersion(_) => "schema_version",
            IngestError::InvalidReport(_) => "invalid_report",
            IngestError::TimestampOutOfRange(_) => "timestamp_out_of_range",
            IngestError::InventoryHashMismatch(_) => "inventory_hash_mismatch",
            IngestError::FieldTooLarge(_) => "field_too_large",
        }
    }
}

/// Accepts `application/json`, with or without parameters such as `charset`.
pub fn check_content_type(value: Option<&str>) -> Result<(), IngestError> {
    let value = value.unwrap_or("");
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(IngestError::UnsupportedMediaType(value.to_owned()))
    }
}

/// Decompresses the body when `Content-Encoding: gzip`, never producing more than
/// `limit` bytes.
pub fn decode_body(
    body: Vec<u8>,
    encoding: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, IngestError> {
    match encoding.map(str::trim) {
        None | Some("") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            // Sized from the gzip trailer's ISIZE (the decoded length modulo 2^32; only a
            // hint: never more than the limit allows nor than deflate can expand the
            // body), so the decoded report is written once instead of grown by doubling.
            let hint = body
                .last_chunk::<4>()
                .map_or(0, |isize| u64::from(u32::from_le_bytes(*isize)))
                .min(limit.saturating_add(1))
                .min((body.len() as u64).saturating_mul(MAX_DEFLATE_RATIO));
            let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
            // The bufread decoder reads the body in place: `read::GzDecoder` would copy
            // it through a zeroed 32 KiB buffer allocated for each report.
            let mut reader = GzDecoder::new(body.as_slice()).take(limit.saturating_add(1));
            reader
                .read_to_end(&mut out)
                .map_err(|e| IngestError::BadGzip(e.to_string()))?;
            if out.len() as u64 > limit {
                return Err(IngestError::PayloadTooLarge { limit });
            }
            Ok(out)
        }
        Some(other) => Err(IngestError::UnsupportedEncoding(other.to_owned())),
    }
}

/// Parses a report, checking the schema version and sizes before the typed parse.
pub fn parse_report(body: &[u8]) -> Result<Report, IngestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::MalformedJson("the body is empty".to_owned()));
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| IngestError::MalformedJson(e.to_string()))?;
    let Value::Object(map) = &value else {
        return Err(IngestError::InvalidReport(
            "a report is a JSON object".to_owned(),
        ));
    };
    match map.get("schema_version") {
        None => {
            return Err(IngestError::SchemaVersion(
                "schema_version is missing".to_owned(),
            ));
        }
        Some(v) if v.as_u64() != Some(u64::from(SCHEMA_VERSION)) => {
            return Err(IngestError::SchemaVersion(format!(
                "schema_version {v} is not supported; this collector reads {SCHEMA_VERSION}"
            )));
        }
        Some(_) => {}
    }
    check_sizes(&value, &mut String::from("$"))?;
    serde_json::from_value(value).map_err(|e| IngestError::InvalidReport(e.to_string()))
}

fn check_sizes(value: &Value, path: &mut String) -> Result<(), IngestError> {
    match value {
        Value::String(s) if s.len() > MAX_STRING_BYTES => Err(IngestError::FieldTooLarge(format!(
            "{path} is {} bytes, more than {MAX_STRING_BYTES}",
            s.len()
        ))),
        // PostgreSQL text cannot hold NUL; refuse it in every backend alike.
        Value::String(s) if s.contains('\0') => Err(IngestError::InvalidReport(format!(
            "{path} contains a NUL character"
        ))),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                // Written in place: a `format!` per element allocated for every item.
                let _ = write!(path, "[{i}]");
                check_sizes(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.contains('\0') {
                    return Err(IngestError::InvalidReport(format!(
                        "a key in {path} contains a NUL character"
                    )));
                }
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_sizes(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The earliest plausible timestamp (2000-01-01T00:00:00Z).
pub fn earliest_timestamp() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Checks what a schema cannot: sizes of the identity fields, timestamps against `now`
/// (at most `max_skew` in the future, not before 2000) and the inventory hash.
pub fn validate(
    report: &Report,
    now: DateTime<Utc>,
    max_skew: std::time::Duration,
) -> Result<(), IngestError> {
    if report.host_id.trim().is_empty() {
        return Err(IngestError::InvalidReport("host_id is empty".to_owned()));
    }
    if report.host_id.len() > MAX_HOST_ID_BYTES {
        return Err(IngestError::FieldTooLarge(format!(
            "host_id is {} bytes, more than {MAX_HOST_ID_BYTES}",
            report.host_id.len()
        )));
    }
    if report.hostname.len() > MAX_HOSTNAME_BYTES {
        return Err(IngestError::FieldTooLarge(format!(
            "hostname is {} bytes, more than {MAX_HOSTNAME_BYTES}",
            report.hostname.len()
        )));
    }
    if report.labels.len() > MAX_LABELS {
        return Err(IngestError::FieldTooLarge(format!(
            "{} labels, more than {MAX_LABELS}",
            report.labels.len()
        )));
    }
    if let Some((k, _)) = report
        .labels
        .iter()
        .find(|(k, v)| k.len() > MAX_LABEL_BYTES || v.len() > MAX_LABEL_BYTES)
    {
        return Err(IngestError::FieldTooLarge(format!(
            "label `{}` is longer than {MAX_LABEL_BYTES} bytes",
            k.chars().take(32).collect::<String>()
        )));
    }
    let latest = now + chrono::Duration::from_std(max_skew).unwrap_or_default();
    let earliest = earliest_timestamp();
    for (name, t) in [
        ("collected_at", report.collected_at),
        ("window.start", report.window.start),
        ("window.end", report.window.end),
    ] {
        if t > latest || t < earliest {
            return Err(IngestError::TimestampOutOfRange(format!(
                "{name} {} is outside [{}, {}]",
                t.to_rfc3339(),
                earliest.to_rfc3339(),
                latest.to_rfc3339()
            )));
        }
    }
    if report.window.end < report.window.start {
        return Err(IngestError::InvalidReport(
            "window.end is before window.start".to_owned(),
        ));
    }
    if let Some(inventory) = &report.inventory {
        let hash = inventory.stable_hash();
        if hash != report.inventory_hash {
            return Err(IngestError::InventoryHashMismatch(format!(
                "inventory_hash {} does not match the inventory ({hash})",
                report.inventory_hash
            )));
        }
    }
    Ok(())
}

/// What the store indexes about a host from its inventory.
pub fn facets(inventory: &Inventory) -> HostFacets {
    let os = inventory.os.as_ref();
    let hardware = inventory.hardware.as_ref();
    HostFacets {
        os_family: os.map(|o| o.family.clone()),
        os_id: os.map(|o| o.id.clone()),
        os_name: os.map(|o| o.name.clone()),
        os_version: os.and_then(|o| o.version_id.clone().or_else(|| o.build.clone())),
        machine_kind: hardware.map(|h| wire_name(&h.virtualization.kind)),
        chassis: hardware.map(|h| wire_name(&h.chassis)),
    }
}

/// The wire name of a protocol enum (`vm`, `laptop`, …).
fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => "unknown".to_owned(),
    }
}

/// The parts of a validated report the store indexes, plus the raw JSON.
pub fn to_new_report(
    report: &Report,
    raw_json: String,
    received_at: DateTime<Utc>,
) -> Result<NewReport, IngestError> {
    let inventory_json = report
        .inventory
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| IngestError::InvalidReport(e.to_string()))?;
    let utilisation = report.utilisation.as_ref();
    let cpu = utilisation.and_then(|u| u.cpu_busy_ratio.as_ref());
    let memory = utilisation.and_then(|u| u.memory_used_ratio.as_ref());
    // RAPL domains overlap (core and uncore within package, psys over everything):
    // count each watt once, as the carbon estimate does.
    let counted: Vec<_> = crate::carbon::non_overlapping(&report.power.readings).collect();
    let (watts, joules) = if counted.is_empty() {
        (None, None)
    } else {
        (
            Some(counted.iter().map(|r| r.average_watts).sum()),
            Some(counted.iter().map(|r| r.energy_joules).sum()),
        )
    };
    Ok(NewReport {
        report_id: report.report_id,
        host_id: report.host_id.clone(),
        hostname: report.hostname.clone(),
        labels: report.labels.clone(),
        collected_at: report.collected_at,
        received_at,
        inventory_json,
        inventory_hash: report.inventory_hash.clone(),
        facets: report.inventory.as_ref().map(facets),
        point: SeriesPoint {
            window_start: report.window.start,
            window_end: report.window.end,
            cpu_mean_ratio: cpu.map(|s| s.mean),
            cpu_p95_ratio: cpu.map(|s| s.p95),
            memory_mean_ratio: memory.map(|s| s.mean),
            memory_p95_ratio: memory.map(|s| s.p95),
            power_watts: watts,
            energy_joules: joules,
            power_source: match report.power.source {
                PowerSource::Measured => "measured",
                PowerSource::None => "none",
            }
            .to_owned(),
        },
        raw_json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("Application/JSON; charset=utf-8")).is_ok());
        assert_eq!(
            check_content_type(Some("text/plain")).unwrap_err().code(),
            "unsupported_media_type"
        );
        assert!(check_content_type(None).is_err());
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(&vec![b' '; 10 * 1024 * 1024]).unwrap();
        let small = enc.finish().unwrap();
        assert!(small.len() < 64 * 1024);
        assert_eq!(
            decode_body(small, Some("gzip"), 1024 * 1024),
            Err(IngestError::PayloadTooLarge { limit: 1024 * 1024 })
        );
    }

    /// Overlapping RAPL domains are counted once in the stored series point.
    #[test]
    fn stored_power_counts_each_watt_once() {
        use estate_protocol::{PowerMeter, PowerReading};
        let text = include_str!("../../protocol/examples/regular-report-no-inventory.json");
        let mut report: Report = serde_json::from_str(text).unwrap();
        let reading = |meter, domain: &str, watts: f64| PowerReading {
            meter,
            domain: domain.to_owned(),
            average_watts: watts,
            energy_joules: watts * 300.0,
            interval_secs: 300.0,
        };
        report.power.readings = vec![
            reading(PowerMeter::Rapl, "package-0", 40.0),
            reading(PowerMeter::Rapl, "core", 25.0),
            reading(PowerMeter::Rapl, "uncore", 5.0),
            reading(PowerMeter::Rapl, "dram", 10.0),
            reading(PowerMeter::Nvml, "gpu-0", 70.0),
        ];
        let point = |r: &Report| to_new_report(r, String::new(), Utc::now()).unwrap().point;
        let p = point(&report);
        assert_eq!(p.power_watts, Some(120.0));
        assert_eq!(p.energy_joules, Some(120.0 * 300.0));
        // psys covers the platform: it replaces package and DRAM.
        report
            .power
            .readings
            .push(reading(PowerMeter::Rapl, "psys", 60.0));
        assert_eq!(point(&report).power_watts, Some(130.0));
        report.power.readings.clear();
        assert_eq!(point(&report).power_watts, None);
    }

    #[test]
    fn schema_version_is_checked_first() {
        let err = parse_report(br#"{"schema_version": 2, "whatever": 1}"#).unwrap_err();
        assert_eq!(err.code(), "schema_version");
        let err = parse_report(br#"{"schema_version": 1}"#).unwrap_err();
        assert_eq!(err.code(), "invalid_report");
        let err = parse_report(b"{").unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }
}
