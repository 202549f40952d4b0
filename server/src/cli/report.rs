//! `estate-server report`: the health-check report of the estate in the store, as
//! HTML, Markdown, CSV or JSON (`docs/reports.md`). Hosts are read with their stored
//! assessments; a host without one of the profile asked for (none yet, or `--profile`
//! names another) is assessed here from what the store keeps, as `audit` does. A
//! progress bar is drawn on standard error only when it is a terminal.

use std::io::Write;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::carbon::carbon_settings;
use super::{CliError, Verdict, assess_config, assessor, hosts, parse_time, server_config};
use crate::config::ServerConfig;
use crate::report::input::check_index;
use crate::report::load::{self, DEFAULT_TITLE, LoadError, LoadOptions};
use crate::report::output::{self, Format, OutputError};
use crate::report::{HostAssessment, PreviousReport};

/// `estate-server report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The collector's config file: the store, the `[checks]` and `[carbon]` settings, and
    /// `[reports]` (whose directory holds the previous report).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The audit profile (default: the config's `[checks] profile`, else baseline).
    /// Hosts whose stored assessment is of another profile are assessed again.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Only this carbon scenario (default: every configured one).
    #[arg(long, value_name = "NAME")]
    pub scenario: Option<String>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Where to write: a file for html, md and json (default: standard output); a
    /// directory for csv (required), created when missing, holding hosts.csv,
    /// checks.csv, check-results.csv and carbon.csv.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// The previous report's JSON, for "what changed" and the trend; `none` for no
    /// comparison. Default: the newest in the config's `[reports] dir`, if any.
    #[arg(long, value_name = "FILE.json|none")]
    pub previous: Option<String>,
    /// The report's title (default: the config's `[reports] title`, else "Estate
    /// health check").
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Report as of this time (RFC 3339, or `now`). Default: now.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<DateTime<Utc>>,
}

fn output_error(e: OutputError) -> CliError {
    CliError::Write(std::io::Error::other(e.to_string()))
}

fn load_error(e: LoadError) -> CliError {
    match e {
        LoadError::Store(e) => CliError::Store(e),
        LoadError::Stored { host, message } => CliError::Stored {
            host,
            what: "assessment",
            message,
        },
    }
}

/// The previous report: `--previous`, else the newest in `[reports] dir`.
fn previous(
    args: &ReportArgs,
    config: &ServerConfig,
    diag: &mut dyn Write,
) -> Result<Option<PreviousReport>, CliError> {
    match args.previous.as_deref() {
        Some("none") => Ok(None),
        Some(path) => output::read_previous(std::path::Path::new(path))
            .map(Some)
            .map_err(|e| CliError::Usage(format!("--previous: {e}"))),
        None => {
            let Some(latest) = config
                .reports
                .as_ref()
                .and_then(|r| output::latest_json(&r.dir))
            else {
                return Ok(None);
            };
            match output::read_previous(&latest) {
                Ok(p) => Ok(Some(p)),
                Err(e) => {
                    writeln!(diag, "not comparing with the previous report: {e}")?;
                    Ok(None)
                }
            }
        }
    }
}

fn bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} hosts ({elapsed})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs `estate-server report`; `diag` gets notes; `progress` draws a bar on standard
/// error (the caller passes whether it is a terminal).
pub fn report(
    args: &ReportArgs,
    out: &mut dyn Write,
    diag: &mut dyn Write,
    progress: bool,
) -> Result<Verdict, CliError> {
    if args.format == Format::Csv && args.out.is_none() {
        return Err(CliError::Usage(
            "--format csv writes a directory of files: give --out DIR".to_owned(),
        ));
    }
    let config = server_config(Some(&args.config))?;
    let scenario_only = ServerConfig {
        assess: carbon_settings(&config, None, args.scenario.as_deref())?,
        ..config.clone()
    };
    let assessor = assessor(&assess_config(&scenario_only, args.profile.as_deref()))?;
    let now = args.at.unwrap_or_else(Utc::now);
    let options = LoadOptions {
        now,
        title: args
            .title
            .clone()
            .or_else(|| config.reports.as_ref().map(|r| r.title.clone()))
            .unwrap_or_else(|| DEFAULT_TITLE.to_owned()),
        scenario: args.scenario.clone(),
        previous: previous(args, &config, diag)?,
    };
    let bar = bar(progress);
    bar.set_message("reading");
    let tick = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let started = std::time::Instant::now();
    let input = hosts::with_store(&config, async |store| {
        let loaded = load::from_store(store.as_ref(), &assessor, options, &tick)
            .await
            .map_err(load_error)?;
        let mut input = loaded.input;
        if !loaded.unassessed.is_empty() {
            bar.set_message("assessing");
            bar.set_length(loaded.unassessed.len() as u64);
            bar.set_position(0);
            let index = check_index(&input.checks);
            for i in loaded.unassessed {
                let Some(host) = input.hosts.get_mut(i) else {
                    continue;
                };
                if let Some(data) = hosts::read_host(store.as_ref(), &host.host_id, now).await? {
                    let assessment = assessor.assess(&data.input(), None, now);
                    let mut a = HostAssessment::from_assessment(&assessment, &index);
                    load::keep_scenario(&mut a, args.scenario.as_deref());
                    host.assessment = Some(a);
                }
                bar.inc(1);
            }
        }
        Ok(input)
    })?;
    let loaded = started.elapsed();
    bar.set_message("rendering");
    let report = crate::report::build(&input);
    let built = started.elapsed();
    drop(input);
    match &args.out {
        Some(path) => {
            output::write_path(&report, args.format, path).map_err(output_error)?;
            tracing::debug!(
                load_secs = loaded.as_secs_f64(),
                model_secs = (built - loaded).as_secs_f64(),
                write_secs = (started.elapsed() - built).as_secs_f64(),
                "report written"
            );
            bar.finish_and_clear();
            writeln!(
                diag,
                "wrote the {} report of {} hosts to {}",
                args.format.as_str(),
                report.summary.hosts,
                path.display()
            )?;
        }
        None => {
            bar.finish_and_clear();
            output::write_stream(&report, args.format, out).map_err(|e| match e {
                OutputError::Io { source, .. } => CliError::Write(source),
                other => output_error(other),
            })?;
        }
    }
    Ok(Verdict::Ok)
}
