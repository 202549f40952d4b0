//! `estate-server audit` (a profile evaluated on an agent report file, or on the estate
//! in the store, as a table, JSON, CSV or JUnit XML, with an exit status for CI) and
//! `estate-server facts` (the facts the checks read).

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::hosts::{self, HostData};
use super::render::{Table, csv_record, num, short_json, xml};
use super::{CliError, Verdict, assess_config, assessor, parse_ratio, parse_time, server_config};
use crate::assess::{Assessment, Assessor};
use crate::checks::{
    CheckResult, EstateHost, EstateImprovement, EstateScore, Status, estate_improvements,
    score_estate,
};

/// How `audit` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AuditFormat {
    /// Per host: status, severity, check and evidence, then the score and band.
    #[default]
    Table,
    /// The assessment (with `--report`), or every host's and the estate score.
    Json,
    /// One row per check (and host), with a header.
    Csv,
    /// JUnit XML for CI: a test suite per host, a test case per check; failures as
    /// `<failure>`, errors as `<error>`, not applicable and waived as `<skipped>`.
    Junit,
}

/// `estate-server audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Audit this agent report file (JSON, or gzip-compressed as the agent spools it)
    /// without a collector.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// The collector's config file: its `[checks]` settings, and, without `--report`, the
    /// store whose estate is audited.
    #[arg(long, value_name = "FILE", required_unless_present = "report")]
    pub config: Option<PathBuf>,
    /// The audit profile (default: the config's `[checks] profile`, else baseline).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Audit only this host of the store (its id or name).
    #[arg(long, value_name = "HOST", conflicts_with = "report")]
    pub host: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
    /// Exit 1 when the score (the estate's, or the host's) is below this, 0–1, or
    /// unknown. Default: the profile's `fail_below`, if it has one.
    #[arg(long, value_name = "SCORE", value_parser = parse_ratio)]
    pub fail_below: Option<f64>,
    /// Evaluate as of this time (RFC 3339, or `now`). Default: the report's
    /// `collected_at` with `--report`, else now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
}

/// `estate-server facts`.
#[derive(Debug, clap::Args)]
pub struct FactsArgs {
    /// A host in the store (its id or name); needs `--config`.
    #[arg(
        value_name = "HOST",
        required_unless_present = "report",
        conflicts_with = "report",
        requires = "config"
    )]
    pub host: Option<String>,
    /// Derive the facts of this agent report file instead.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// The collector's config file (the store, and the lifecycle table and thresholds).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Derive as of this time (RFC 3339, or `now`). Default: the report's
    /// `collected_at` with `--report`, else now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
}

/// One host's assessment.
#[derive(Debug, Serialize)]
struct Audited {
    host_id: String,
    hostname: String,
    assessment: Assessment,
}

/// The estate view of a store audit.
#[derive(Debug, Serialize)]
struct EstateAudit<'a> {
    profile: &'a str,
    hosts: &'a [Audited],
    estate: &'a EstateScore,
    improvements: &'a [EstateImprovement],
}

/// Runs `estate-server audit`; `diag` gets the verdict's explanation.
pub fn audit(
    args: &AuditArgs,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let config = server_config(args.config.as_deref())?;
    let assessor = assessor(&assess_config(&config, args.profile.as_deref()))?;
    let threshold = args.fail_below.or(assessor.plan().fail_below());
    let hosts: Vec<HostData> = match &args.report {
        Some(path) => vec![hosts::from_report_file(path)?],
        None => {
            let now = args.at.unwrap_or_else(Utc::now);
            let only = args.host.as_deref();
            hosts::with_store(&config, async |store| {
                hosts::from_store(store.as_ref(), only, now).await
            })?
        }
    };
    if hosts.is_empty() {
        writeln!(diag, "the store has no hosts")?;
    }
    let audited: Vec<Audited> = hosts
        .iter()
        .map(|h| {
            let now = args.at.unwrap_or(if args.report.is_some() {
                h.host.last_seen
            } else {
                Utc::now()
            });
            Audited {
                host_id: h.host.host_id.clone(),
                hostname: h.host.hostname.clone(),
                assessment: assessor.assess(&h.input(), None, now),
            }
        })
        .collect();

    let estate = (args.report.is_none()).then(|| {
        let members: Vec<EstateHost<'_>> = audited
            .iter()
            .zip(&hosts)
            .map(|(a, h)| EstateHost {
                results: &a.assessment.results,
                labels: &h.host.labels,
            })
            .collect();
        let score = score_estate(&members, assessor.scoring());
        let improvements = estate_improvements(&members, assessor.scoring());
        (score, improvements)
    });

    match args.format {
        AuditFormat::Table => write_table(&assessor, &audited, estate.as_ref(), out)?,
        AuditFormat::Json => match (&estate, audited.as_slice()) {
            (None, [one]) => write_json(&one.assessment, out)?,
            (None, _) => write_json(&audited, out)?,
            (Some((estate, improvements)), _) => write_json(
                &EstateAudit {
                    profile: assessor.plan().profile(),
                    hosts: &audited,
                    estate,
                    improvements,
                },
                out,
            )?,
        },
        AuditFormat::Csv => write_csv(&audited, out)?,
        AuditFormat::Junit => write_junit(&assessor, &audited, out)?,
    }

    let Some(threshold) = threshold else {
        return Ok(Verdict::Ok);
    };
    let (what, score) = match (&estate, &args.host, audited.first()) {
        (Some((estate, _)), None, _) => ("the estate score".to_owned(), estate.score),
        (_, _, Some(a)) => (
            format!("the score of {}", a.hostname),
            a.assessment.score.score,
        ),
        (_, _, None) => ("the score".to_owned(), None),
    };
    let failed: Vec<&str> = audited
        .iter()
        .flat_map(|a| &a.assessment.results)
        .filter(|r| r.status == Status::Fail)
        .map(|r| r.id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    match score {
        Some(s) if s >= threshold => Ok(Verdict::Ok),
        Some(s) => {
            writeln!(
                diag,
                "audit failed: {what} {s:.3} is below {threshold} (profile {}); failed checks: {}",
                assessor.plan().profile(),
                if failed.is_empty() {
                    "none".to_owned()
                } else {
                    failed.join(", ")
                }
            )?;
            Ok(Verdict::Failed)
        }
        None => {
            writeln!(
                diag,
                "audit failed: {what} is unknown (no check passed or failed), the threshold is {threshold}"
            )?;
            Ok(Verdict::Failed)
        }
    }
}

/// Runs `estate-server facts`.
pub fn facts(args: &FactsArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let config = server_config(args.config.as_deref())?;
    let assessor = assessor(&assess_config(&config, None))?;
    let host = match (&args.report, &args.host) {
        (Some(path), _) => hosts::from_report_file(path)?,
        (None, wanted) => {
            let now = args.at.unwrap_or_else(Utc::now);
            let wanted = wanted.as_deref();
            let mut found = hosts::with_store(&config, async |store| {
                hosts::from_store(store.as_ref(), wanted, now).await
            })?;
            found
                .pop()
                .ok_or_else(|| CliError::Usage("no such host in the store".to_owned()))?
        }
    };
    let now = args.at.unwrap_or(if args.report.is_some() {
        host.host.last_seen
    } else {
        Utc::now()
    });
    write_json(&assessor.facts(&host.input(), now), out)?;
    Ok(Verdict::Ok)
}

fn write_json<T: Serialize>(value: &T, out: &mut dyn Write) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Fails first, then errors, waived, passes and not applicable; plan order within.
fn display_order(status: Status) -> u8 {
    match status {
        Status::Fail => 0,
        Status::Error => 1,
        Status::Waived => 2,
        Status::Pass => 3,
        Status::NotApplicable => 4,
    }
}

fn evidence(r: &CheckResult, max: usize) -> String {
    match (&r.evidence, &r.error) {
        (_, Some(e)) if r.status == Status::Error => short_json(&e.as_str().into(), max),
        (Some(v), _) => short_json(v, max),
        (None, _) => String::new(),
    }
}

fn status_label(r: &CheckResult) -> String {
    match r.status {
        Status::Pass | Status::Fail if r.credit > 0.0 && r.credit < 1.0 => {
            format!("{} ({:.2})", r.status.as_str(), r.credit)
        }
        s => s.as_str().to_owned(),
    }
}

fn write_table(
    assessor: &Assessor,
    audited: &[Audited],
    estate: Option<&(EstateScore, Vec<EstateImprovement>)>,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    for (i, a) in audited.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let s = &a.assessment.score;
        writeln!(
            out,
            "{} ({}), profile {}, as of {}",
            a.hostname,
            a.host_id,
            a.assessment.profile,
            a.assessment.assessed_at.to_rfc3339()
        )?;
        let mut results: Vec<&CheckResult> = a.assessment.results.iter().collect();
        results.sort_by_key(|r| display_order(r.status));
        let mut table = Table::new(&["STATUS", "SEVERITY", "CHECK", "EVIDENCE"]);
        for r in results {
            table.row(vec![
                status_label(r),
                r.severity.as_str().to_owned(),
                r.id.to_string(),
                evidence(r, 80),
            ]);
        }
        table.write(out)?;
        let c = &s.total.counts;
        writeln!(
            out,
            "score {} ({}); {} checks: {} pass, {} fail, {} not applicable, {} waived, {} error",
            num(s.score, 3),
            s.band.map_or("unscored", |b| b.as_str()),
            a.assessment.results.len(),
            c.pass,
            c.fail,
            c.not_applicable,
            c.waived,
            c.error
        )?;
        if !s.capped_by.is_empty() {
            let ids: Vec<&str> = s.capped_by.iter().map(|c| c.as_str()).collect();
            writeln!(
                out,
                "band capped by failed critical checks: {}",
                ids.join(", ")
            )?;
        }
        let top: Vec<String> = a
            .assessment
            .improvements
            .iter()
            .take(5)
            .map(|imp| {
                let title = assessor
                    .checks()
                    .catalogue
                    .get(imp.id.as_str())
                    .map_or("", |c| c.title.as_str());
                format!("  +{:.3}  {}  {title}", imp.gain, imp.id)
            })
            .collect();
        if !top.is_empty() {
            writeln!(out, "raises the score most:")?;
            for line in top {
                writeln!(out, "{line}")?;
            }
        }
    }
    if let Some((estate, improvements)) = estate {
        if !audited.is_empty() {
            writeln!(out)?;
        }
        let b = &estate.bands;
        writeln!(
            out,
            "estate: {} hosts ({} scored), score {}, profile {}; {} green, {} amber, {} red, {} unscored",
            estate.hosts,
            estate.scored_hosts,
            num(estate.score, 3),
            assessor.plan().profile(),
            b.green,
            b.amber,
            b.red,
            b.unknown
        )?;
        if !improvements.is_empty() {
            writeln!(out, "raises the estate score most:")?;
            for imp in improvements.iter().take(10) {
                writeln!(
                    out,
                    "  +{:.3}  {}  ({} hosts failing)",
                    imp.gain, imp.id, imp.hosts_failing
                )?;
            }
        }
    }
    Ok(())
}

fn write_csv(audited: &[Audited], out: &mut dyn Write) -> Result<(), CliError> {
    let header = [
        "host_id", "hostname", "profile", "check", "category", "severity", "weight", "status",
        "credit", "evidence", "error",
    ];
    csv_record(out, &header.map(str::to_owned))?;
    for a in audited {
        for r in &a.assessment.results {
            csv_record(
                out,
                &[
                    a.host_id.clone(),
                    a.hostname.clone(),
                    a.assessment.profile.clone(),
                    r.id.to_string(),
                    r.category.as_str().to_owned(),
                    r.severity.as_str().to_owned(),
                    r.weight.to_string(),
                    r.status.as_str().to_owned(),
                    r.credit.to_string(),
                    match &r.evidence {
                        Some(serde_json::Value::String(text)) => text.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    },
                    r.error.clone().unwrap_or_default(),
                ],
            )?;
        }
    }
    Ok(())
}

fn write_junit(
    assessor: &Assessor,
    audited: &[Audited],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let count = |a: &Audited, status: &[Status]| {
        a.assessment
            .results
            .iter()
            .filter(|r| status.contains(&r.status))
            .count()
    };
    let skipped = [Status::NotApplicable, Status::Waived];
    let totals = audited.iter().fold([0; 4], |t, a| {
        [
            t[0] + a.assessment.results.len(),
            t[1] + count(a, &[Status::Fail]),
            t[2] + count(a, &[Status::Error]),
            t[3] + count(a, &skipped),
        ]
    });
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="estate-server audit" tests="{}" failures="{}" errors="{}" skipped="{}">"#,
        totals[0], totals[1], totals[2], totals[3]
    )?;
    for a in audited {
        let s = &a.assessment.score;
        writeln!(
            out,
            r#"  <testsuite name="{}" id="{}" tests="{}" failures="{}" errors="{}" skipped="{}" timestamp="{}">"#,
            xml(&a.hostname),
            xml(&a.host_id),
            a.assessment.results.len(),
            count(a, &[Status::Fail]),
            count(a, &[Status::Error]),
            count(a, &skipped),
            a.assessment.assessed_at.to_rfc3339()
        )?;
        writeln!(out, "    <properties>")?;
        for (name, value) in [
            ("profile", a.assessment.profile.clone()),
            ("score", num(s.score, 4)),
            ("band", s.band.map_or("unscored", |b| b.as_str()).to_owned()),
        ] {
            writeln!(
                out,
                r#"      <property name="{name}" value="{}"/>"#,
                xml(&value)
            )?;
        }
        writeln!(out, "    </properties>")?;
        for r in &a.assessment.results {
            let check = assessor.checks().catalogue.get(r.id.as_str());
            let title = check.map_or("", |c| c.title.as_str());
            write!(
                out,
                r#"    <testcase name="{}" classname="{}.{}""#,
                xml(r.id.as_str()),
                xml(&a.hostname),
                r.category.as_str()
            )?;
            match r.status {
                Status::Pass => writeln!(out, "/>")?,
                Status::Fail => {
                    let mut body = format!("{title}\n");
                    if let Some(e) = &r.evidence {
                        body.push_str(&format!("evidence: {e}\n"));
                    }
                    if let Some(c) = check {
                        body.push_str(&format!("remediation: {}\n", c.remediation.trim()));
                    }
                    writeln!(
                        out,
                        r#"><failure type="{}" message="{}">{}</failure></testcase>"#,
                        r.severity.as_str(),
                        xml(&if r.credit > 0.0 {
                            format!("{title} (credit {:.2})", r.credit)
                        } else {
                            title.to_owned()
                        }),
                        xml(&body)
                    )?;
                }
                Status::Error => writeln!(
                    out,
                    r#"><error message="{}"/></testcase>"#,
                    xml(r.error.as_deref().unwrap_or("error"))
                )?,
                Status::NotApplicable | Status::Waived => writeln!(
                    out,
                    r#"><skipped message="{}"/></testcase>"#,
                    r.status.as_str()
                )?,
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    Ok(())
}
