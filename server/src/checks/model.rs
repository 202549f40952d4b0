//! The validated check model: what a loaded check, fixture and result are. Loading lives
//! in `catalogue.rs`, evaluation in `eval.rs`; this file only names things.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::expr::Expr;

/// Default weight of a `critical` check.
pub const WEIGHT_CRITICAL: f64 = 10.0;
/// Default weight of a `high` check.
pub const WEIGHT_HIGH: f64 = 5.0;
/// Default weight of a `medium` check.
pub const WEIGHT_MEDIUM: f64 = 3.0;
/// Default weight of a `low` check.
pub const WEIGHT_LOW: f64 = 1.0;
/// Default weight of an `info` check: shown, never scored.
pub const WEIGHT_INFO: f64 = 0.0;

/// What a check is about; each has its own sub-score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// End of support, hardware age, patch currency.
    Lifecycle,
    /// Hardening and exposure.
    Security,
    /// Headroom: disk, memory, CPU.
    Capacity,
    /// Backups, redundancy, recoverability.
    Resilience,
    /// Day-to-day hygiene: monitoring, time sync, agent health.
    Operations,
    /// Energy and carbon: idle servers, power management.
    Sustainability,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 6] = [
        Category::Lifecycle,
        Category::Security,
        Category::Capacity,
        Category::Resilience,
        Category::Operations,
        Category::Sustainability,
    ];

    /// The name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Lifecycle => "lifecycle",
            Category::Security => "security",
            Category::Capacity => "capacity",
            Category::Resilience => "resilience",
            Category::Operations => "operations",
            Category::Sustainability => "sustainability",
        }
    }

    /// The category named `name`, if any.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a failure is; sets the default weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A failure caps the host's band (see `ScoringConfig::critical_failure_cap`).
    Critical,
    /// Serious.
    High,
    /// Worth fixing.
    Medium,
    /// Minor.
    Low,
    /// Informational: weight 0 unless overridden.
    Info,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The name used in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }

    /// The severity named `name`, if any.
    pub fn parse(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The weight a check of this severity has unless it sets `weight`
    /// ([`WEIGHT_CRITICAL`] … [`WEIGHT_INFO`]).
    pub fn default_weight(self) -> f64 {
        match self {
            Severity::Critical => WEIGHT_CRITICAL,
            Severity::High => WEIGHT_HIGH,
            Severity::Medium => WEIGHT_MEDIUM,
            Severity::Low => WEIGHT_LOW,
            Severity::Info => WEIGHT_INFO,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A check's stable id, cheap to clone into every result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckId(Arc<str>);

impl CheckId {
    /// Wraps an id.
    pub fn new(id: &str) -> CheckId {
        CheckId(Arc::from(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for CheckId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Where something was written: file, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLoc {
    /// The file, as given to the loader.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// How a check decides.
#[derive(Debug)]
pub enum Rule {
    /// `pass`: a bool; credit 1 or 0.
    Pass(Expr),
    /// `score`: a number in [0, 1], partial credit.
    Score(Expr),
}

impl Rule {
    /// The expression.
    pub fn expr(&self) -> &Expr {
        match self {
            Rule::Pass(e) | Rule::Score(e) => e,
        }
    }

    /// `"pass"` or `"score"`.
    pub fn key(&self) -> &'static str {
        match self {
            Rule::Pass(_) => "pass",
            Rule::Score(_) => "score",
        }
    }
}

/// One declared param.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its default value.
    pub default: Json,
    /// What it means, if the check says.
    pub description: Option<String>,
}

/// A loaded, compiled check.
#[derive(Debug)]
pub struct Check {
    /// Stable id (`[a-z0-9][a-z0-9._-]*`).
    pub id: CheckId,
    /// One-line title.
    pub title: String,
    /// Why it matters, if given.
    pub description: Option<String>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Weight: `weight` if set, else the severity's default.
    pub weight: f64,
    /// When the check applies; `None` means always.
    pub applies: Option<Expr>,
    /// The pass or score expression.
    pub rule: Rule,
    /// What to show as evidence, if anything.
    pub evidence: Option<Expr>,
    /// How to fix a failure.
    pub remediation: String,
    /// Links or document references.
    pub references: Vec<String>,
    /// Free tags (e.g. `cloud-readiness`, `endpoint`).
    pub tags: Vec<String>,
    /// Declared params, by name.
    pub params: std::collections::BTreeMap<String, Param>,
    /// The params' defaults as one JSON object (what `params` is without overrides).
    pub param_defaults: Json,
    /// Fixtures written with the check.
    pub fixtures: Vec<Fixture>,
    /// Where the check starts (`[[check]]`).
    pub source: SourceLoc,
    /// Whether an expression reads `params` (evaluation binds it only then).
    pub(crate) uses_params: bool,
}

impl Check {
    /// Whether the check has `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// Whether the check gives partial credit (`score`).
    pub fn is_scored(&self) -> bool {
        matches!(self.rule, Rule::Score(_))
    }
}

/// What a fixture expects.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// `pass` (credit 1).
    Pass,
    /// `fail` (credit below 1).
    Fail,
    /// `not_applicable`.
    NotApplicable,
    /// `error`.
    Error,
    /// A number: a score check's exact credit.
    Credit(f64),
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Pass => f.write_str("pass"),
            Expect::Fail => f.write_str("fail"),
            Expect::NotApplicable => f.write_str("not_applicable"),
            Expect::Error => f.write_str("error"),
            Expect::Credit(c) => write!(f, "{c}"),
        }
    }
}

/// A worked example that must give the expected result.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Name, unique within the check.
    pub name: String,
    /// The expected result.
    pub expect: Expect,
    /// The facts document (from `facts` or `facts_file`).
    pub facts: Json,
    /// The evaluation time (`now`, default [`super::DEFAULT_FIXTURE_NOW`]).
    pub now: DateTime<Utc>,
    /// `params` for this fixture: the defaults with the fixture's `params` over them.
    pub params: Json,
    /// Expected evidence, when the fixture says.
    pub expect_evidence: Option<Json>,
    /// The facts file, when facts came from one.
    pub facts_file: Option<PathBuf>,
    /// What the fixture shows, if it says.
    pub description: Option<String>,
    /// Where the fixture starts.
    pub source: SourceLoc,
}
