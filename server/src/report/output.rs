//! Report files: the formats, their names in a reports directory
//! (`estate-report-20261201T060000Z.html`; CSV is a directory `…-csv/` holding
//! [`render::csv::FILES`]), writing them atomically (a temporary name, then a rename,
//! so a reader never sees half a report), finding the previous report's JSON, and
//! deleting the oldest beyond a count.
//!
//! This is the file edge of the report module: it renders through [`render`] and owns
//! every path; it knows nothing of the store.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::report::changes::PreviousReport;
use crate::report::model::Report;
use crate::report::render;

/// Names of report files start with this.
pub const PREFIX: &str = "estate-report-";

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Format {
    /// One self-contained HTML file (inline CSS and SVG charts, no scripts).
    Html,
    /// Markdown, for wikis.
    Md,
    /// CSV files for spreadsheets (a directory: hosts, checks, check results, carbon).
    Csv,
    /// JSON, for machines (and what the next report compares with).
    Json,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 4] = [Format::Html, Format::Md, Format::Csv, Format::Json];

    /// Its name in config and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Md => "md",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }

    /// The format named `name`.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// What ends its name in a reports directory (`.html`; `-csv` for the directory).
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Html => ".html",
            Format::Md => ".md",
            Format::Csv => "-csv",
            Format::Json => ".json",
        }
    }
}

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file or directory.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// JSON could not be written.
    #[error("{path}: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A CSV file could not be written.
    #[error("{path}: {source}")]
    Csv {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: csv::Error,
    },
    /// The previous report is not a report's JSON.
    #[error("{path}: not a report's JSON: {source}")]
    Previous {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// CSV needs a directory, not a stream.
    #[error("CSV is a directory of files: give --out DIR")]
    CsvNeedsDirectory,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The name of the report made at `at` in `format` (`estate-report-20261201T060000Z.html`).
pub fn file_name(at: DateTime<Utc>, format: Format) -> String {
    format!("{PREFIX}{}{}", at.format("%Y%m%dT%H%M%SZ"), format.suffix())
}

/// Writes `report` as HTML, Markdown or JSON to `out` (CSV needs a directory).
pub fn write_stream(
    report: &Report,
    format: Format,
    out: &mut dyn Write,
) -> Result<(), OutputError> {
    let stream = PathBuf::from("-");
    match format {
        Format::Html => out
            .write_all(render::html::render(report).as_bytes())
            .map_err(io(&stream)),
        Format::Md => out
            .write_all(render::markdown::render(report).as_bytes())
            .map_err(io(&stream)),
        Format::Json => {
            render::json(report, out).map_err(|source| OutputError::Json {
                path: stream.clone(),
                source,
            })?;
            out.write_all(b"\n").map_err(io(&stream))
        }
        Format::Csv => Err(OutputError::CsvNeedsDirectory),
    }
}

/// A temporary name beside `path` (hidden, so a directory listing skips it).
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `report` in `format` to `path`: a file, or for CSV a directory holding the
/// CSV files. Atomic: written under a temporary name, then renamed over `path`.
pub fn write_path(report: &Report, format: Format, path: &Path) -> Result<(), OutputError> {
    let temp = temporary(path);
    match format {
        Format::Csv => {
            if temp.exists() {
                std::fs::remove_dir_all(&temp).map_err(io(&temp))?;
            }
            std::fs::create_dir_all(&temp).map_err(io(&temp))?;
            for file in render::csv::FILES {
                let p = temp.join(file.file_name());
                let f = std::fs::File::create(&p).map_err(io(&p))?;
                let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
                render::csv::write(report, file, &mut w).map_err(|source| OutputError::Csv {
                    path: p.clone(),
                    source,
                })?;
                let f = w.into_inner().map_err(|e| OutputError::Io {
                    path: p.clone(),
                    source: e.into_error(),
                })?;
                f.sync_all().map_err(io(&p))?;
            }
            if path.is_dir() {
                std::fs::remove_dir_all(path).map_err(io(path))?;
            }
            std::fs::rename(&temp, path).map_err(io(path))
        }
        _ => {
            let f = std::fs::File::create(&temp).map_err(io(&temp))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
            write_stream(report, format, &mut w).map_err(|e| match e {
                OutputError::Io { source, .. } => OutputError::Io {
                    path: temp.clone(),
                    source,
                },
                OutputError::Json { source, .. } => OutputError::Json {
                    path: temp.clone(),
                    source,
                },
                other => other,
            })?;
            let f = w.into_inner().map_err(|e| OutputError::Io {
                path: temp.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().map_err(io(&temp))?;
            std::fs::rename(&temp, path).map_err(io(path))
        }
    }
}

/// Writes each of `formats` into `dir` (created when missing) under
/// [`file_name`]; returns the paths, in the order of `formats`.
pub fn write_all(
    report: &Report,
    formats: &[Format],
    dir: &Path,
) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    formats
        .iter()
        .map(|f| {
            let path = dir.join(file_name(report.generated_at, *f));
            write_path(report, *f, &path).map(|()| path)
        })
        .collect()
}

/// Reports of `format` in `dir`, oldest first (names sort by time).
fn listed(dir: &Path, format: Format) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(format.suffix()))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The newest report JSON in `dir`, if any.
pub fn latest_json(dir: &Path) -> Option<PathBuf> {
    listed(dir, Format::Json).ok()?.pop()
}

/// Reads a report's JSON for "what changed".
pub fn read_previous(path: &Path) -> Result<PreviousReport, OutputError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    PreviousReport::from_json(&bytes).map_err(|source| OutputError::Previous {
        path: path.to_owned(),
        source,
    })
}

/// Deletes, per format, the reports in `dir` beyond the newest `keep` (0 keeps all),
/// and temporary files left by an interrupted run; returns what was deleted.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, OutputError> {
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
    {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&format!(".{PREFIX}")) && name.ends_with(".tmp") {
            let p = entry.path();
            let gone = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            if gone.is_ok() {
                removed.push(p);
            }
        }
    }
    if keep == 0 {
        return Ok(removed);
    }
    for format in Format::ALL {
        let found = listed(dir, format).map_err(io(dir))?;
        let excess = found.len().saturating_sub(keep);
        for p in found.into_iter().take(excess) {
            if p.is_dir() {
                std::fs::remove_dir_all(&p).map_err(io(&p))?;
            } else {
                std::fs::remove_file(&p).map_err(io(&p))?;
            }
            removed.push(p);
        }
    }
    Ok(removed)
}
