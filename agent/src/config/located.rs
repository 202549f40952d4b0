//! Located config diagnostics, shared by the agent's and the collector's config files:
//! every problem as `FILE:LINE:COL: `key`: message`, collected rather than stopping at
//! the first. This module owns positions and rendering; each config owns its rules.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;

/// One problem in a config file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The key concerned (dotted path), where known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

/// A config file that could not be used, with every problem found in it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file has problems.
    #[error("{}", render_issues(.path, .issues))]
    Invalid {
        /// The file.
        path: String,
        /// The problems, in file order.
        issues: Vec<ConfigIssue>,
    },
}

fn render_issues(path: &str, issues: &[ConfigIssue]) -> String {
    let lines: Vec<String> = issues
        .iter()
        .map(|issue| match &issue.key {
            Some(key) => format!(
                "{path}:{}:{}: `{key}`: {}",
                issue.line, issue.column, issue.message
            ),
            None => format!("{path}:{}:{}: {}", issue.line, issue.column, issue.message),
        })
        .collect();
    lines.join("\n")
}

/// 1-based line and column of a byte offset. An offset past the end counts as the end;
/// one inside a character as that character's start (offsets computed inside a decoded
/// string, whose escapes are shorter or longer than their source, can land there).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, column)
}

/// The problems found while validating one file's text.
#[derive(Debug)]
pub struct Issues<'a> {
    text: &'a str,
    issues: Vec<ConfigIssue>,
}

impl Issues<'_> {
    /// Records a problem with `key` at the byte range `span` of the file.
    pub fn at(&mut self, span: Range<usize>, key: &str, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.issues.push(ConfigIssue {
            line,
            column,
            key: Some(key.to_owned()),
            message: message.into(),
        });
    }
}

/// Reads `path` and parses it with [`parse`].
pub fn load<R: DeserializeOwned, C>(
    path: &Path,
    validate: impl FnOnce(R, &mut Issues<'_>) -> C,
) -> Result<C, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string(), validate)
}

/// Deserialises `text` into the raw layer `R` (a syntax or type error is one located
/// issue), then runs `validate`, which records every semantic problem; returns the
/// validated config only when there were none. `origin` names the file in errors.
pub fn parse<R: DeserializeOwned, C>(
    text: &str,
    origin: &str,
    validate: impl FnOnce(R, &mut Issues<'_>) -> C,
) -> Result<C, ConfigError> {
    let raw: R = toml::from_str(text).map_err(|err| {
        let (line, column) = err.span().map_or((1, 1), |span| line_col(text, span.start));
        ConfigError::Invalid {
            path: origin.to_owned(),
            issues: vec![ConfigIssue {
                line,
                column,
                key: None,
                message: err.message().trim().to_owned(),
            }],
        }
    })?;
    let mut issues = Issues {
        text,
        issues: Vec::new(),
    };
    let config = validate(raw, &mut issues);
    if issues.issues.is_empty() {
        Ok(config)
    } else {
        let mut list = issues.issues;
        list.sort_by_key(|i| (i.line, i.column));
        Err(ConfigError::Invalid {
            path: origin.to_owned(),
            issues: list,
        })
    }
}
