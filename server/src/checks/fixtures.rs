//! The fixture runner: every check's fixtures evaluated and compared with what they
//! expect, and every check's coverage (a passing fixture, a failing one, and a
//! not-applicable one when it has `applies`). Backs `estate-server checks test` and the
//! test over the shipped catalogue.
//!
//! Pure: fixtures were read when the catalogue was loaded.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::catalogue::{CREDIT_TOLERANCE, Catalogue};
use super::eval::{HostInputs, Outcome, Status, run_check};
use super::model::{Check, CheckId, Expect, Fixture};

/// One fixture's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixtureOutcome {
    /// The check.
    pub check: CheckId,
    /// The fixture's name.
    pub fixture: String,
    /// Where the fixture is written (`FILE:LINE:COL`).
    pub location: String,
    /// What it expects.
    pub expected: Expect,
    /// What the check gave.
    pub status: Status,
    /// The credit it gave.
    pub credit: f64,
    /// The error message or evidence error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The evidence it gave.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<serde_json::Value>,
    /// Whether the result is what the fixture expects.
    pub ok: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<String>,
}

impl fmt::Display for FixtureOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok" } else { "FAILED" };
        write!(
            f,
            "{}: {} / {}: {verdict}",
            self.location, self.check, self.fixture
        )?;
        if let Some(m) = &self.mismatch {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Runs every fixture of every check.
pub fn run_fixtures(catalogue: &Catalogue) -> Vec<FixtureOutcome> {
    let mut outcomes = Vec::new();
    for check in catalogue.checks() {
        for fixture in &check.fixtures {
            outcomes.push(run_one(catalogue, check, fixture));
        }
    }
    outcomes
}

/// Runs every check of `catalogue` on `facts` at `now`, with its default params, once
/// with the direct evaluator and once with cel alone, and describes each check whose
/// outcomes differ (empty when they all agree). The differential fuzz target (`fuzz/`)
/// calls it with arbitrary facts; the fixtures do the same on known ones.
pub fn differential(
    catalogue: &Catalogue,
    facts: &serde_json::Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<String> {
    let host = HostInputs::new(catalogue.env(), facts, now);
    catalogue
        .checks()
        .iter()
        .filter_map(|check| {
            let direct = run_check(check, &host, &check.param_defaults, true, true);
            let by_cel = run_check(check, &host, &check.param_defaults, true, false);
            (direct != by_cel).then(|| {
                format!(
                    "{}: the direct evaluator gave {} (evidence {}), cel {} (evidence {})",
                    check.id,
                    describe(&direct),
                    evidence_text(&direct),
                    describe(&by_cel),
                    evidence_text(&by_cel)
                )
            })
        })
        .collect()
}

fn run_one(catalogue: &Catalogue, check: &Arc<Check>, fixture: &Fixture) -> FixtureOutcome {
    let run = |fast: bool| {
        let host = HostInputs::new(catalogue.env(), &fixture.facts, fixture.now);
        run_check(check, &host, &fixture.params, true, fast)
    };
    let outcome = run(true);
    // Every fixture is also a differential test of the direct evaluator against cel.
    let by_cel = run(false);
    let mismatch = if outcome == by_cel {
        compare(fixture, &outcome)
    } else {
        Some(format!(
            "the direct evaluator gave {} (evidence {}) but cel gave {} (evidence {}); please report this",
            describe(&outcome),
            evidence_text(&outcome),
            describe(&by_cel),
            evidence_text(&by_cel)
        ))
    };
    FixtureOutcome {
        check: check.id.clone(),
        fixture: fixture.name.clone(),
        location: fixture.source.to_string(),
        expected: fixture.expect,
        status: outcome.status,
        credit: outcome.credit,
        error: outcome.error,
        evidence: outcome.evidence,
        ok: mismatch.is_none(),
        mismatch,
    }
}

fn evidence_text(outcome: &Outcome) -> String {
    outcome
        .evidence
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string)
}

fn describe(outcome: &Outcome) -> String {
    let mut text = match outcome.status {
        Status::Pass | Status::Fail if outcome.credit > 0.0 && outcome.credit < 1.0 => {
            format!("{} (credit {})", outcome.status.as_str(), outcome.credit)
        }
        s => s.as_str().to_owned(),
    };
    if let Some(e) = &outcome.error {
        text.push_str(&format!(" ({e})"));
    }
    text
}

fn compare(fixture: &Fixture, outcome: &Outcome) -> Option<String> {
    let matches = match fixture.expect {
        Expect::Pass => outcome.status == Status::Pass,
        Expect::Fail => outcome.status == Status::Fail,
        Expect::NotApplicable => outcome.status == Status::NotApplicable,
        Expect::Error => outcome.status == Status::Error,
        Expect::Credit(c) => {
            matches!(outcome.status, Status::Pass | Status::Fail)
                && (outcome.credit - c).abs() <= CREDIT_TOLERANCE
        }
    };
    if !matches {
        return Some(format!(
            "expected {}, got {}",
            fixture.expect,
            describe(outcome)
        ));
    }
    if let Some(expected) = &fixture.expect_evidence
        && outcome.evidence.as_ref() != Some(expected)
    {
        return Some(format!(
            "expected evidence {expected}, got {}",
            evidence_text(outcome)
        ));
    }
    None
}

/// A kind of fixture a check lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// No fixture expecting pass (for a score check: pass or 1).
    Pass,
    /// No fixture expecting fail (for a score check: fail or a number below 1).
    Fail,
    /// The check has `applies` but no fixture expecting `not_applicable`.
    NotApplicable,
}

/// A check without a kind of fixture it must have.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingFixture {
    /// The check.
    pub check: CheckId,
    /// Where the check is written.
    pub location: String,
    /// What is missing.
    pub missing: Coverage,
}

impl fmt::Display for MissingFixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.missing {
            Coverage::Pass => "a fixture that passes (expect = \"pass\")",
            Coverage::Fail => "a fixture that fails (expect = \"fail\")",
            Coverage::NotApplicable => {
                "a fixture where it does not apply (expect = \"not_applicable\"), as it has `applies`"
            }
        };
        write!(f, "{}: check `{}` needs {what}", self.location, self.check)
    }
}

/// Every check's missing fixture kinds.
pub fn missing_fixtures(catalogue: &Catalogue) -> Vec<MissingFixture> {
    let mut missing = Vec::new();
    for check in catalogue.checks() {
        let has = |pred: &dyn Fn(Expect) -> bool| check.fixtures.iter().any(|f| pred(f.expect));
        let mut need = Vec::new();
        if !has(&|e| matches!(e, Expect::Pass) || matches!(e, Expect::Credit(c) if c >= 1.0)) {
            need.push(Coverage::Pass);
        }
        if !has(&|e| matches!(e, Expect::Fail) || matches!(e, Expect::Credit(c) if c < 1.0)) {
            need.push(Coverage::Fail);
        }
        if check.applies.is_some() && !has(&|e| e == Expect::NotApplicable) {
            need.push(Coverage::NotApplicable);
        }
        for m in need {
            missing.push(MissingFixture {
                check: check.id.clone(),
                location: check.source.to_string(),
                missing: m,
            });
        }
    }
    missing
}

/// Fixture outcomes and coverage gaps together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixtureReport {
    /// Checks run.
    pub checks: usize,
    /// Every fixture's outcome.
    pub outcomes: Vec<FixtureOutcome>,
    /// Every coverage gap.
    pub missing: Vec<MissingFixture>,
}

impl FixtureReport {
    /// Runs the fixtures and the coverage rule over `catalogue`.
    pub fn run(catalogue: &Catalogue) -> FixtureReport {
        FixtureReport {
            checks: catalogue.len(),
            outcomes: run_fixtures(catalogue),
            missing: missing_fixtures(catalogue),
        }
    }

    /// Whether every fixture gave its expected result and no check lacks one.
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.outcomes.iter().all(|o| o.ok)
    }

    /// The fixtures that gave the wrong result.
    pub fn failures(&self) -> impl Iterator<Item = &FixtureOutcome> {
        self.outcomes.iter().filter(|o| !o.ok)
    }
}

impl fmt::Display for FixtureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in self.failures() {
            writeln!(f, "{o}")?;
        }
        for m in &self.missing {
            writeln!(f, "{m}")?;
        }
        let failed = self.failures().count();
        write!(
            f,
            "{} checks, {} fixtures: {} passed, {failed} failed; {} missing fixtures",
            self.checks,
            self.outcomes.len(),
            self.outcomes.len() - failed,
            self.missing.len()
        )
    }
}
