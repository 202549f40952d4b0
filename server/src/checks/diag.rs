//! Located diagnostics for the check config (checks, profiles, waivers): every problem in
//! every file, each as `FILE:LINE:COL: `key`: message`, rendered by the shared
//! [`estate_agent::config::located`] types. This file owns collecting problems across
//! files; the rules live with each kind of file.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use estate_agent::config::located::line_col;
pub use estate_agent::config::located::{ConfigError, ConfigIssue};

use super::model::SourceLoc;

/// The check config could not be used: every problem found, by file.
#[derive(Debug)]
pub struct LoadError {
    /// One entry per file with problems (a read failure, or its located issues), by path.
    pub errors: Vec<ConfigError>,
}

impl LoadError {
    /// How many problems there are in all.
    pub fn issue_count(&self) -> usize {
        self.errors
            .iter()
            .map(|e| match e {
                ConfigError::Invalid { issues, .. } => issues.len(),
                ConfigError::Read { .. } => 1,
            })
            .sum()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// A config file's text, kept for positions.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// The path as shown in messages.
    pub origin: String,
    /// The directory relative paths in the file are resolved against.
    pub dir: PathBuf,
    /// The text.
    pub text: String,
}

impl SourceFile {
    pub fn read(path: &Path) -> std::io::Result<SourceFile> {
        let text = std::fs::read_to_string(path)?;
        Ok(SourceFile::new(path.display().to_string(), path, text))
    }

    pub fn new(origin: String, path: &Path, text: String) -> SourceFile {
        SourceFile {
            origin,
            dir: path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            text,
        }
    }

    /// The location of a byte offset.
    pub fn loc(&self, offset: usize) -> SourceLoc {
        let (line, column) = line_col(&self.text, offset);
        SourceLoc {
            file: self.origin.clone(),
            line,
            column,
        }
    }
}

/// Problems collected while loading, across files.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    reads: Vec<ConfigError>,
    files: BTreeMap<String, Vec<ConfigIssue>>,
}

impl Diagnostics {
    /// A problem with `key` at byte `offset` of `file`.
    pub fn at(&mut self, file: &SourceFile, offset: usize, key: &str, message: impl Into<String>) {
        let (line, column) = line_col(&file.text, offset);
        self.push(&file.origin, line, column, Some(key), message.into());
    }

    /// A problem with `key` at the start of `span`.
    pub fn span(
        &mut self,
        file: &SourceFile,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) {
        self.at(file, span.start, key, message);
    }

    fn push(
        &mut self,
        origin: &str,
        line: usize,
        column: usize,
        key: Option<&str>,
        message: String,
    ) {
        self.files
            .entry(origin.to_owned())
            .or_default()
            .push(ConfigIssue {
                line,
                column,
                key: key.map(str::to_owned),
                message,
            });
    }

    /// A file or directory that could not be read.
    pub fn read_error(&mut self, path: &Path, source: std::io::Error) {
        self.reads.push(ConfigError::Read {
            path: path.display().to_string(),
            source,
        });
    }

    /// A TOML syntax or type error (one per file: parsing stops there).
    pub fn toml_error(&mut self, file: &SourceFile, error: &toml::de::Error) {
        let (line, column) = error
            .span()
            .map_or((1, 1), |span| line_col(&file.text, span.start));
        self.push(
            &file.origin,
            line,
            column,
            None,
            error.message().trim().to_owned(),
        );
    }

    /// How many problems have been recorded.
    pub fn len(&self) -> usize {
        self.reads.len() + self.files.values().map(Vec::len).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty() && self.files.is_empty()
    }

    /// Everything collected, or `value` when there was nothing.
    pub fn finish<T>(self, value: T) -> Result<T, LoadError> {
        if self.is_empty() {
            return Ok(value);
        }
        let mut errors = self.reads;
        for (path, mut issues) in self.files {
            issues.sort_by_key(|i| (i.line, i.column));
            errors.push(ConfigError::Invalid { path, issues });
        }
        Err(LoadError { errors })
    }
}

/// The `*.toml` files directly in `dir`, sorted by name.
pub(crate) fn toml_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `name` is a valid id or tag: `[a-z0-9][a-z0-9._-]*`.
pub(crate) fn is_id(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// Whether `name` can be a param (`params.NAME`): `[a-z_][a-z0-9_]*`.
pub(crate) fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A TOML value as JSON: datetimes become their RFC 3339 / ISO text.
pub(crate) fn toml_to_json(value: &toml::Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(
            table
                .iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// The JSON type name of a value, for messages.
pub(crate) fn json_type(value: &serde_json::Value) -> &'static str {
    use serde_json::Value as Json;
    match value {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(n) if n.is_f64() => "float",
        Json::Number(_) => "integer",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "table",
    }
}

/// Whether an override may replace a default: same JSON type, and integers and floats
/// stand for each other.
pub(crate) fn same_kind(default: &serde_json::Value, value: &serde_json::Value) -> bool {
    let numeric = |t: &str| t == "integer" || t == "float";
    let (a, b) = (json_type(default), json_type(value));
    a == b || (numeric(a) && numeric(b))
}

/// A TOML value as text for messages: strings and dates as written, others as JSON.
pub(crate) fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => toml_to_json(other).to_string(),
    }
}
