//! The report as CSV files for spreadsheets (RFC 4180, UTF-8, a header row): one value
//! per cell, numbers without units (the unit is in the column name: `_ratio` 0–1,
//! `_kwh_per_year`, `_kgco2e_per_year`, `_years`, `_watts`), times in ISO 8601 UTC
//! (`2026-11-27T09:10:00Z`), dates as `YYYY-MM-DD`, booleans `true`/`false`, unknown
//! values as an empty cell.
//!
//! [`FILES`] names the files; [`write()`] renders one of them.

use std::collections::HashMap;
use std::io::Write;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};

use crate::report::model::Report;

/// The CSV files of a report, in the order they are written.
pub const FILES: [CsvFile; 5] = [
    CsvFile::Hosts,
    CsvFile::Checks,
    CsvFile::CheckResults,
    CsvFile::Carbon,
    CsvFile::Windows11,
];

/// One of the CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvFile {
    /// `hosts.csv`: one row per host.
    Hosts,
    /// `checks.csv`: one row per check, with fleet counts.
    Checks,
    /// `check-results.csv`: one row per host and check that did not pass (fail, error,
    /// waived), with the evidence.
    CheckResults,
    /// `carbon.csv`: one row per host and case (on-premises, then each scenario).
    Carbon,
    /// `windows11.csv`: one row per Windows 10 host with its Windows 11 readiness (the
    /// header alone when there is none).
    Windows11,
}

impl CsvFile {
    /// The file's name.
    pub fn file_name(self) -> &'static str {
        match self {
            CsvFile::Hosts => "hosts.csv",
            CsvFile::Checks => "checks.csv",
            CsvFile::CheckResults => "check-results.csv",
            CsvFile::Carbon => "carbon.csv",
            CsvFile::Windows11 => "windows11.csv",
        }
    }

    /// Its columns.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            CsvFile::Hosts => &[
                "host_id",
                "hostname",
                "host_type",
                "os",
                "site",
                "role",
                "last_seen",
                "stale",
                "assessed_at",
                "score_ratio",
                "band",
                "failing_checks",
                "critical_failing_checks",
                "os_end_of_support",
                "hardware_age_years",
                "cpu_p95_ratio",
                "memory_p95_ratio",
                "energy_kwh_per_year",
                "onprem_kgco2e_per_year",
                "best_scenario",
                "best_saving_kgco2e_per_year",
            ],
            CsvFile::Checks => &[
                "check",
                "title",
                "category",
                "severity",
                "weight",
                "pass_hosts",
                "fail_hosts",
                "waived_hosts",
                "error_hosts",
                "not_applicable_hosts",
                "pass_ratio",
            ],
            CsvFile::CheckResults => &[
                "host_id",
                "hostname",
                "check",
                "title",
                "category",
                "severity",
                "weight",
                "status",
                "credit_ratio",
                "evidence",
            ],
            CsvFile::Carbon => &[
                "host_id",
                "hostname",
                "case",
                "method_or_instance",
                "power_watts",
                "energy_kwh_per_year",
                "location_kgco2e_per_year",
                "market_kgco2e_per_year",
                "embodied_kgco2e_per_year",
                "low_kgco2e_per_year",
                "high_kgco2e_per_year",
                "saved_kgco2e_per_year",
                "readiness",
                "confidence_stars",
            ],
            CsvFile::Windows11 => &[
                "host_id",
                "hostname",
                "status",
                "blocked_by",
                "unknown",
                "cpu_model",
            ],
        }
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn date(d: Option<NaiveDate>) -> String {
    d.map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

/// A number rounded to `places` decimals, without trailing zeros; empty when unknown.
fn num(v: Option<f64>, places: usize) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.places$}");
            let s = if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.')
            } else {
                s.as_str()
            };
            if s == "-0" {
                "0".to_owned()
            } else {
                s.to_owned()
            }
        }
        _ => String::new(),
    }
}

fn opt(s: Option<&str>) -> &str {
    s.unwrap_or("")
}

/// Writes one of the report's CSV files.
pub fn write(report: &Report, file: CsvFile, out: &mut dyn Write) -> Result<(), csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(file.header())?;
    match file {
        CsvFile::Hosts => {
            for h in &report.hosts {
                w.write_record([
                    h.host_id.as_str(),
                    &h.hostname,
                    &h.host_type,
                    &h.os,
                    opt(h.site.as_deref()),
                    opt(h.role.as_deref()),
                    &time(h.last_seen),
                    if h.stale { "true" } else { "false" },
                    &h.assessed_at.map(time).unwrap_or_default(),
                    &num(h.score, 4),
                    opt(h.band.as_deref()),
                    &h.failing.to_string(),
                    &h.critical_failing.to_string(),
                    &date(h.os_end_of_support),
                    &num(h.hardware_age_years, 2),
                    &num(h.cpu_p95_ratio, 4),
                    &num(h.memory_p95_ratio, 4),
                    &num(h.energy_kwh_per_year, 3),
                    &num(h.onprem_kgco2e_per_year, 3),
                    opt(h.best_scenario.as_deref()),
                    &num(h.best_saving_kgco2e_per_year, 3),
                ])?;
            }
        }
        CsvFile::Windows11 => {
            for h in report.windows11.iter().flat_map(|w| &w.hosts) {
                w.write_record([
                    h.host_id.as_str(),
                    &h.hostname,
                    &h.status,
                    // Requirement ids, `;`-separated (`tpm2;cpu`).
                    &h.blockers.join(";"),
                    &h.unknown.join(";"),
                    opt(h.cpu_model.as_deref()),
                ])?;
            }
        }
        CsvFile::Checks => {
            for c in &report.checks {
                w.write_record([
                    c.id.as_str(),
                    &c.title,
                    &c.category,
                    &c.severity,
                    &num(Some(c.weight), 4),
                    &c.pass.to_string(),
                    &c.fail.to_string(),
                    &c.waived.to_string(),
                    &c.error.to_string(),
                    &c.not_applicable.to_string(),
                    &num(c.pass_ratio, 4),
                ])?;
            }
        }
        CsvFile::CheckResults => {
            let checks: HashMap<&str, _> =
                report.checks.iter().map(|c| (c.id.as_str(), c)).collect();
            for h in &report.hosts {
                for f in &h.findings {
                    let c = checks.get(f.check.as_str());
                    w.write_record([
                        h.host_id.as_str(),
                        &h.hostname,
                        &f.check,
                        c.map_or("", |c| c.title.as_str()),
                        c.map_or("", |c| c.category.as_str()),
                        &f.severity,
                        &c.map(|c| num(Some(c.weight), 4)).unwrap_or_default(),
                        &f.status,
                        &num(Some(f.credit), 4),
                        opt(f.evidence.as_deref()),
                    ])?;
                }
            }
        }
        CsvFile::Carbon => {
            for h in &report.hosts {
                for c in &h.carbon {
                    w.write_record([
                        h.host_id.as_str(),
                        &h.hostname,
                        &c.case,
                        opt(c.method_or_instance.as_deref()),
                        &num(Some(c.power_watts), 3),
                        &num(Some(c.energy_kwh_per_year), 3),
                        &num(Some(c.location_kgco2e_per_year), 3),
                        &num(Some(c.market_kgco2e_per_year), 3),
                        &num(Some(c.embodied_kgco2e_per_year), 3),
                        &num(Some(c.low_kgco2e_per_year), 3),
                        &num(Some(c.high_kgco2e_per_year), 3),
                        &num(c.saved_kgco2e_per_year, 3),
                        opt(c.readiness.as_deref()),
                        &c.confidence.map(|s| s.to_string()).unwrap_or_default(),
                    ])?;
                }
            }
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_trailing_zeros_not_precision() {
        assert_eq!(num(Some(1.5), 3), "1.5");
        assert_eq!(num(Some(2.0), 3), "2");
        assert_eq!(num(Some(-0.0001), 3), "0");
        assert_eq!(num(Some(1234.56789), 3), "1234.568");
        assert_eq!(num(None, 3), "");
        assert_eq!(num(Some(f64::NAN), 3), "");
    }
}
