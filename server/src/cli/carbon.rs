//! `estate-server estimate` (the energy and carbon of one agent report, with what-if
//! utilisation overrides) and `estate-server carbon` (the estate's estimates from the
//! store, per host and in total).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::Utc;
use serde::Serialize;

use super::hosts::{self, HostData};
use super::render::{Table, csv_record, name, num};
use super::{CliError, Verdict, assessor, parse_ratio, server_config};
use crate::assess::AssessConfig;
use crate::carbon::{
    EstateSummary, HostEstimate, HostInput, OnPrem, ScenarioResult, WhatIf, summarise,
};
use crate::config::ServerConfig;

/// How `estimate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EstimateFormat {
    /// On-premises, each scenario and the factors used, for reading.
    #[default]
    Table,
    /// The estimate as the collector serialises it (`onprem`, `scenarios`, `factors`).
    Json,
}

/// How `carbon` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CarbonFormat {
    /// Per host, then the totals per scenario and the best candidates.
    #[default]
    Table,
    /// `{"hosts": [estimates], "summary": totals and candidates}`.
    Json,
    /// One row per host and case (on-premises, then each scenario), with a header.
    Csv,
}

/// `estate-server estimate`.
#[derive(Debug, clap::Args)]
pub struct EstimateArgs {
    /// The agent report file (JSON, or gzip-compressed as the agent spools it).
    #[arg(long, value_name = "FILE.json")]
    pub report: PathBuf,
    /// The year of the UK grid factor (default: the config's `reporting_year`, else the
    /// latest in grid-uk.toml).
    #[arg(long, value_name = "YEAR")]
    pub year: Option<i32>,
    /// Only this scenario (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// What if the mean CPU busy ratio were this (0–1): changes the power.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub cpu_mean: Option<f64>,
    /// What if CPU at the sizing percentile were this (0–1): changes cloud sizing and
    /// retirement.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub cpu_p95: Option<f64>,
    /// What if memory used at the sizing percentile were this (0–1): changes cloud
    /// sizing.
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub mem_p95: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = EstimateFormat::Table)]
    pub format: EstimateFormat,
    /// The collector's config file: its `[carbon]` settings and `[checks] config_dir`
    /// (the data). Default: the built-in data and scenarios.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `estate-server carbon`.
#[derive(Debug, clap::Args)]
pub struct CarbonArgs {
    /// The collector's config file: the store, and the `[carbon]` settings.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Only this scenario (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = CarbonFormat::Table)]
    pub format: CarbonFormat,
}

/// The assessment settings with the year and scenario given on the command line.
pub(super) fn carbon_settings(
    config: &ServerConfig,
    year: Option<i32>,
    scenario: Option<&str>,
) -> Result<AssessConfig, CliError> {
    let mut assess = config.assess.clone();
    if let Some(y) = year {
        assess.carbon.reporting_year = Some(y);
        assess
            .origins
            .insert("carbon.reporting_year".to_owned(), "--year".to_owned());
    }
    if let Some(wanted) = scenario {
        let Some(i) = assess
            .carbon
            .scenarios
            .iter()
            .position(|s| s.name == wanted)
        else {
            let names: Vec<&str> = assess
                .carbon
                .scenarios
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            return Err(CliError::Usage(format!(
                "--scenario: no scenario `{wanted}` (configured: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )));
        };
        let chosen = assess.carbon.scenarios.swap_remove(i);
        assess.carbon.scenarios = vec![chosen];
        // The kept scenario is now the first: keep its place, drop the others'.
        let place = assess
            .origins
            .get(&format!("carbon.scenarios[{i}]"))
            .cloned();
        assess
            .origins
            .retain(|k, _| !k.starts_with("carbon.scenarios["));
        if let Some(place) = place {
            assess
                .origins
                .insert("carbon.scenarios[0]".to_owned(), place);
        }
    }
    Ok(assess)
}

fn estimate_host(
    assessor: &crate::assess::Assessor,
    host: &HostData,
    what_if: &WhatIf,
) -> Option<HostEstimate> {
    let report = host.report.as_ref()?;
    let input = HostInput::from_report(report, host.inventory.as_ref());
    Some(assessor.estimator().estimate(&input, what_if))
}

/// Runs `estate-server estimate`.
pub fn estimate(args: &EstimateArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let config = server_config(args.config.as_deref())?;
    let assessor = assessor(&carbon_settings(
        &config,
        args.year,
        args.scenario.as_deref(),
    )?)?;
    let host = hosts::from_report_file(&args.report)?;
    let what_if = WhatIf {
        cpu_mean_ratio: args.cpu_mean,
        cpu_p95_ratio: args.cpu_p95,
        memory_p95_ratio: args.mem_p95,
    };
    let Some(estimate) = estimate_host(&assessor, &host, &what_if) else {
        return Err(CliError::Usage(
            "the report file holds no report".to_owned(),
        ));
    };
    match args.format {
        EstimateFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &estimate).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        EstimateFormat::Table => write_estimate(&host.host.hostname, &estimate, out)?,
    }
    Ok(Verdict::Ok)
}

fn kg(v: f64) -> String {
    num(Some(v), 1)
}

fn onprem_lines(o: &OnPrem, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "on-premises ({}): {} W at the plug, PUE {}, {} kWh/yr, UK grid {}",
        name(&o.method),
        num(Some(o.power_watts), 1),
        num(Some(o.pue), 2),
        num(Some(o.energy_kwh_per_year), 0),
        o.grid_year
    )?;
    writeln!(
        out,
        "  kgCO2e/yr: location-based {} + embodied {} = {} (range {}–{}); market-based {}",
        kg(o.location_kgco2e_per_year),
        kg(o.embodied_kgco2e_per_year),
        kg(o.total_kgco2e_per_year()),
        kg(o.low),
        kg(o.high),
        kg(o.market_kgco2e_per_year)
    )?;
    if let Some(m) = &o.cpu_match {
        writeln!(
            out,
            "  CPU: {} match{}{}",
            name(&m.confidence),
            m.matched
                .as_ref()
                .map_or_else(String::new, |t| format!(" {t}")),
            m.microarchitecture
                .as_ref()
                .map_or_else(String::new, |t| format!(" ({t})"))
        )?;
    }
    if !o.notes.is_empty() {
        let notes: Vec<String> = o.notes.iter().map(name).collect();
        writeln!(out, "  notes: {}", notes.join(", "))?;
    }
    Ok(())
}

fn scenario_table(scenarios: &[ScenarioResult], out: &mut dyn Write) -> std::io::Result<()> {
    let mut table = Table::new(&[
        "SCENARIO",
        "INSTANCE",
        "VCPUS",
        "MEM_GIB",
        "W",
        "KWH/YR",
        "KGCO2E/YR",
        "RANGE",
        "SAVED",
        "READINESS",
        "CONFIDENCE",
    ]);
    for s in scenarios {
        table.row(vec![
            s.name.to_string(),
            s.instance
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            s.vcpus.to_string(),
            num(Some(s.memory_gib), 0),
            num(Some(s.power_watts), 1),
            num(Some(s.energy_kwh_per_year), 0),
            kg(s.location_kgco2e_per_year + s.embodied_kgco2e_per_year),
            format!("{}–{}", kg(s.low), kg(s.high)),
            kg(s.saved_kgco2e_per_year),
            name(&s.readiness),
            "*".repeat(usize::from(s.confidence)),
        ]);
    }
    table.write(out)
}

fn write_estimate(hostname: &str, e: &HostEstimate, out: &mut dyn Write) -> Result<(), CliError> {
    writeln!(out, "{hostname} ({})", e.host_id)?;
    onprem_lines(&e.onprem, out)?;
    if !e.scenarios.is_empty() {
        writeln!(out)?;
        scenario_table(&e.scenarios, out)?;
    }
    writeln!(out)?;
    writeln!(out, "factors:")?;
    for f in e.factors.iter() {
        writeln!(
            out,
            "  {} = {} {} — {} ({})",
            f.name, f.value, f.unit, f.source, f.version
        )?;
    }
    Ok(())
}

/// The estate's estimates, as `carbon --format json` prints them.
#[derive(Debug, Serialize)]
struct EstateCarbon<'a> {
    hosts: &'a [HostEstimate],
    /// Hosts in the store with no report to estimate from.
    hosts_without_report: Vec<&'a str>,
    summary: EstateSummary,
}

/// Runs `estate-server carbon`.
pub fn carbon(args: &CarbonArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let config = server_config(Some(&args.config))?;
    let assessor = assessor(&carbon_settings(&config, None, args.scenario.as_deref())?)?;
    let now = Utc::now();
    let hosts = hosts::with_store(&config, async |store| {
        hosts::from_store(store.as_ref(), None, now).await
    })?;
    let names: BTreeMap<&str, &str> = hosts
        .iter()
        .map(|h| (h.host.host_id.as_str(), h.host.hostname.as_str()))
        .collect();
    // As the collector estimates: readiness from the readiness profile, confidence from
    // the stored series' coverage.
    let estimates: Vec<HostEstimate> = hosts
        .iter()
        .filter_map(|h| assessor.carbon(&h.input(), now).map(|(_, e)| e))
        .collect();
    let without: Vec<&str> = hosts
        .iter()
        .filter(|h| h.report.is_none())
        .map(|h| h.host.host_id.as_str())
        .collect();
    let summary = summarise(&estimates, None);
    match args.format {
        CarbonFormat::Json => {
            let view = EstateCarbon {
                hosts: &estimates,
                hosts_without_report: without,
                summary,
            };
            serde_json::to_writer_pretty(&mut *out, &view).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        CarbonFormat::Csv => write_carbon_csv(&estimates, &names, out)?,
        CarbonFormat::Table => write_carbon_table(&estimates, &names, &without, &summary, out)?,
    }
    Ok(Verdict::Ok)
}

fn write_carbon_csv(
    estimates: &[HostEstimate],
    names: &BTreeMap<&str, &str>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let header = [
        "host_id",
        "hostname",
        "case",
        "method_or_instance",
        "power_watts",
        "energy_kwh_per_year",
        "location_kgco2e_per_year",
        "market_kgco2e_per_year",
        "embodied_kgco2e_per_year",
        "low",
        "high",
        "saved_kgco2e_per_year",
        "readiness",
        "confidence",
    ];
    csv_record(out, &header.map(str::to_owned))?;
    for e in estimates {
        let hostname = names.get(e.host_id.as_str()).copied().unwrap_or_default();
        let o = &e.onprem;
        csv_record(
            out,
            &[
                e.host_id.clone(),
                hostname.to_owned(),
                "onprem".to_owned(),
                name(&o.method),
                o.power_watts.to_string(),
                o.energy_kwh_per_year.to_string(),
                o.location_kgco2e_per_year.to_string(),
                o.market_kgco2e_per_year.to_string(),
                o.embodied_kgco2e_per_year.to_string(),
                o.low.to_string(),
                o.high.to_string(),
                String::new(),
                String::new(),
                String::new(),
            ],
        )?;
        for s in &e.scenarios {
            csv_record(
                out,
                &[
                    e.host_id.clone(),
                    hostname.to_owned(),
                    s.name.to_string(),
                    s.instance
                        .as_ref()
                        .map_or_else(String::new, ToString::to_string),
                    s.power_watts.to_string(),
                    s.energy_kwh_per_year.to_string(),
                    s.location_kgco2e_per_year.to_string(),
                    s.market_kgco2e_per_year.to_string(),
                    s.embodied_kgco2e_per_year.to_string(),
                    s.low.to_string(),
                    s.high.to_string(),
                    s.saved_kgco2e_per_year.to_string(),
                    name(&s.readiness),
                    s.confidence.to_string(),
                ],
            )?;
        }
    }
    Ok(())
}

fn write_carbon_table(
    estimates: &[HostEstimate],
    names: &BTreeMap<&str, &str>,
    without: &[&str],
    summary: &EstateSummary,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut hosts = Table::new(&[
        "HOST",
        "METHOD",
        "W",
        "KWH/YR",
        "KGCO2E/YR",
        "RANGE",
        "BEST_SAVING",
    ]);
    for e in estimates {
        let o = &e.onprem;
        let best = e
            .scenarios
            .iter()
            .filter(|s| s.saved_kgco2e_per_year > 0.0)
            .max_by(|a, b| a.saved_kgco2e_per_year.total_cmp(&b.saved_kgco2e_per_year))
            .map_or_else(
                || "-".to_owned(),
                |s| format!("{} {}", kg(s.saved_kgco2e_per_year), s.name),
            );
        hosts.row(vec![
            names
                .get(e.host_id.as_str())
                .copied()
                .unwrap_or(e.host_id.as_str())
                .to_owned(),
            name(&o.method),
            num(Some(o.power_watts), 1),
            num(Some(o.energy_kwh_per_year), 0),
            kg(o.total_kgco2e_per_year()),
            format!("{}–{}", kg(o.low), kg(o.high)),
            best,
        ]);
    }
    hosts.write(out)?;
    if !without.is_empty() {
        writeln!(
            out,
            "{} hosts have no report to estimate from: {}",
            without.len(),
            without.join(", ")
        )?;
    }
    let t = &summary.onprem;
    writeln!(out)?;
    writeln!(
        out,
        "on-premises, {} hosts: {} W, {} kWh/yr, {} kgCO2e/yr location-based + {} embodied (range {}–{}); market-based {}",
        t.hosts,
        num(Some(t.power_watts), 0),
        num(Some(t.energy_kwh_per_year), 0),
        kg(t.location_kgco2e_per_year),
        kg(t.embodied_kgco2e_per_year),
        kg(t.low),
        kg(t.high),
        kg(t.market_kgco2e_per_year)
    )?;
    if !summary.scenarios.is_empty() {
        writeln!(out)?;
        let mut table = Table::new(&[
            "SCENARIO",
            "HOSTS",
            "UNPLACED",
            "KWH/YR",
            "KGCO2E/YR",
            "ONPREM_KGCO2E/YR",
            "SAVED",
            "READY/COND/NOT/UNKNOWN",
        ]);
        for s in &summary.scenarios {
            let r = &s.readiness;
            table.row(vec![
                s.name.to_string(),
                s.totals.hosts.to_string(),
                s.unplaced_hosts.to_string(),
                num(Some(s.totals.energy_kwh_per_year), 0),
                kg(s.totals.location_kgco2e_per_year + s.totals.embodied_kgco2e_per_year),
                kg(s.onprem_kgco2e_per_year),
                kg(s.saved_kgco2e_per_year),
                format!(
                    "{}/{}/{}/{}",
                    r.ready, r.conditionally_ready, r.not_ready, r.unknown
                ),
            ]);
        }
        table.write(out)?;
    }
    if !summary.candidates.is_empty() {
        writeln!(out)?;
        writeln!(out, "best candidates (kgCO2e/yr saved):")?;
        for c in summary.candidates.iter().take(10) {
            writeln!(
                out,
                "  {}  {} -> {}{}  ({}, {} stars)",
                kg(c.saved_kgco2e_per_year),
                names
                    .get(c.host_id.as_str())
                    .copied()
                    .unwrap_or(c.host_id.as_str()),
                c.scenario,
                c.instance
                    .as_ref()
                    .map_or_else(String::new, |i| format!(" {i}")),
                name(&c.readiness),
                c.confidence
            )?;
        }
    }
    Ok(())
}
