//! `estate-server import --format FORMAT FILE…`: reads an inventory export
//! ([`crate::import`]), stores its hosts in the collector's store, assesses them, and
//! prints what happened to each row. Exits 2 only when nothing could be read.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{CliError, Verdict, server_config, shown};
use crate::import::{self, ApplyOptions, Format, ImportFile, Outcome, Summary};
use crate::pipeline;

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The export's format: rvtools (an RVTools XLSX workbook, or CSV exports of its
    /// vInfo, vCPU, vMemory, vDisk and vHost sheets), azure-migrate (Azure Migrate's CSV
    /// import template) or estate-csv (docs/import.md).
    #[arg(long, value_name = "FORMAT")]
    pub format: String,
    /// The export file(s).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// The collector's config file (names the store; the default config otherwise).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// When the export's data was true (RFC 3339, or `now`, the default). Agents that
    /// reported after it keep their data.
    #[arg(long, value_name = "TIME", value_parser = super::parse_time)]
    pub as_of: Option<DateTime<Utc>>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `import`.
pub fn import(
    args: &ImportArgs,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let format = Format::from_name(&args.format)?;
    let mut files = Vec::new();
    for path in &args.files {
        let bytes = std::fs::read(path).map_err(|source| CliError::Read {
            path: shown(path),
            source,
        })?;
        files.push(ImportFile {
            name: path
                .file_name()
                .map_or_else(|| shown(path), |n| n.to_string_lossy().into_owned()),
            bytes,
        });
    }
    let parsed = import::parse(format, &files)?;
    let config = server_config(args.config.as_deref())?;
    let assessor = Arc::new(super::assessor(&config.assess)?);
    let now = Utc::now();
    let options = ApplyOptions {
        format,
        file: files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        now,
        as_of: args.as_of.unwrap_or(now),
        stale_after: config.stale_after,
        max_clock_skew: config.max_clock_skew,
    };
    let (summary, failed) = super::hosts::with_store(&config, async |store| {
        let summary = import::apply(store.as_ref(), parsed, &options).await?;
        let mut failed = Vec::new();
        for id in summary.stored_host_ids() {
            if let Err(e) = pipeline::assess_host(store.as_ref(), &assessor, &id).await {
                failed.push(format!("{id}: {e}"));
            }
        }
        Ok((summary, failed))
    })?;
    for f in failed {
        writeln!(diag, "estate-server: assessment failed for {f}")?;
    }
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &summary).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        write_summary(&summary, out)?;
    }
    Ok(Verdict::Ok)
}

fn write_summary(s: &Summary, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "{} import of {}: imported {}, merged {}, skipped {}, bad {}",
        s.format.as_str(),
        s.file,
        s.imported,
        s.merged,
        s.skipped,
        s.bad
    )?;
    for h in &s.hosts {
        let what = match h.outcome {
            Outcome::Imported => "imported",
            Outcome::Merged => "merged",
            Outcome::Skipped => "skipped",
        };
        writeln!(
            out,
            "  {}:{}: {} -> {} {what} ({})",
            h.file, h.line, h.name, h.host_id, h.detail
        )?;
    }
    for b in &s.bad_rows {
        writeln!(out, "  bad {b}")?;
    }
    for b in &s.ignored_rows {
        writeln!(out, "  ignored {b}")?;
    }
    Ok(())
}
