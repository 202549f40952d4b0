//! Evaluating checks on one host: a pure function of (facts, catalogue, profile,
//! waivers, now). A [`Plan`] resolves the profile and waivers against the catalogue once;
//! evaluating a host then only runs the compiled expressions over a borrowed view of its
//! facts. [`Plan::evaluate_all`] spreads many hosts over threads.
//!
//! This file owns per-check outcomes (pass, fail, not applicable, waived, error); it must
//! not score (see `score.rs`) and does no I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::types::{CelBool, CelDouble, CelInt, CelTimestamp, CelUInt};
use cel::{Context, Env, Value};
use std::cell::OnceCell;

use chrono::{DateTime, FixedOffset, Utc};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::catalogue::Catalogue;
use super::expr::{self, Expr};
use super::fast;
use super::json_view::json_val;
use super::model::{Category, Check, CheckId, Rule, Severity};
use super::profile::Profile;
use super::waiver::{Waiver, WaiverCounts, WaiverState, Waivers};

/// The result of one check on one host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passed (credit 1).
    Pass,
    /// Failed, or a score check below full credit.
    Fail,
    /// `applies` was false: left out of the score.
    NotApplicable,
    /// Failed, but an active waiver accepts the risk: left out of the score.
    Waived,
    /// An expression could not be evaluated (e.g. a missing fact): left out of the
    /// score, counted and shown with the message.
    Error,
}

impl Status {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not_applicable",
            Status::Waived => "waived",
            Status::Error => "error",
        }
    }
}

/// A waiver that matched a host and check.
#[derive(Debug, Clone, PartialEq)]
pub struct WaiverMatch {
    /// The waiver.
    pub waiver: Arc<Waiver>,
    /// Whether it was active at evaluation time. An active waiver only changes a `fail`
    /// (to `waived`); on a pass it is shown as no longer needed.
    pub state: WaiverState,
}

impl Serialize for WaiverMatch {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let w = &self.waiver;
        let mut s = serializer.serialize_struct("WaiverMatch", 6)?;
        s.serialize_field("state", &self.state)?;
        s.serialize_field("reason", &w.reason)?;
        s.serialize_field("owner", &w.owner)?;
        s.serialize_field("expires", &w.expires)?;
        s.serialize_field("reference", &w.reference)?;
        s.serialize_field("source", &w.source.to_string())?;
        s.end()
    }
}

/// One check's result on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check.
    pub id: CheckId,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// The weight used (the profile's, else the check's).
    pub weight: f64,
    /// The outcome.
    pub status: Status,
    /// Credit 0–1 as evaluated (for `waived`, what the check scored before the waiver;
    /// 0 for `not_applicable` and `error`).
    pub credit: f64,
    /// The `evidence` expression's value, when the check applies and has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Json>,
    /// Why the check is `error`, or why its evidence could not be computed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The waiver matching this host and check, active or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverMatch>,
}

/// A host's results, one per check of the plan, in plan order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostEvaluation {
    /// The results.
    pub results: Vec<CheckResult>,
}

impl HostEvaluation {
    /// Waivers that matched this host: active ones that turned a fail into `waived`, and
    /// expired ones.
    pub fn waiver_counts(&self) -> WaiverCounts {
        let mut counts = WaiverCounts::default();
        for r in &self.results {
            match (&r.waiver, r.status) {
                (Some(_), Status::Waived) => counts.active += 1,
                (Some(m), _) if m.state == WaiverState::Expired => counts.expired += 1,
                _ => {}
            }
        }
        counts
    }
}

/// One host as the evaluator sees it.
#[derive(Debug, Clone, Copy)]
pub struct HostRef<'a> {
    /// The host's id (waivers may name it).
    pub id: &'a str,
    /// The host's name (waivers may name it).
    pub hostname: Option<&'a str>,
    /// The host's labels (waivers may select on them; the estate score may weight by
    /// one).
    pub labels: &'a BTreeMap<String, String>,
    /// The facts document, a JSON object: the CEL variable `facts`.
    pub facts: &'a Json,
}

#[derive(Debug)]
struct PlanEntry {
    check: Arc<Check>,
    weight: f64,
    params: Json,
    waivers: Vec<Arc<Waiver>>,
}

/// A profile and waivers resolved against a catalogue: what evaluating a host runs.
/// Build it once per config change; it is `Send + Sync` and cheap to share.
pub struct Plan {
    entries: Vec<PlanEntry>,
    env: Arc<Env>,
    profile: String,
    fail_below: Option<f64>,
    evidence: bool,
}

/// A check as a plan runs it.
#[derive(Debug, Clone, Copy)]
pub struct PlannedCheck<'a> {
    /// The check.
    pub check: &'a Arc<Check>,
    /// The weight used.
    pub weight: f64,
    /// The params used.
    pub params: &'a Json,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("profile", &self.profile)
            .field("checks", &self.entries.len())
            .field("evidence", &self.evidence)
            .finish_non_exhaustive()
    }
}

impl Plan {
    /// The checks `profile` selects, in catalogue order, with its weights and params, and
    /// the waivers for each.
    pub fn new(catalogue: &Catalogue, profile: &Profile, waivers: &Waivers) -> Plan {
        let entries = catalogue
            .checks()
            .iter()
            .filter(|c| profile.selects(c))
            .map(|c| PlanEntry {
                check: Arc::clone(c),
                weight: profile.weight_for(c),
                params: profile.params_for(c),
                waivers: waivers.for_check(c.id.as_str()).cloned().collect(),
            })
            .collect();
        Plan {
            entries,
            env: Arc::clone(catalogue.env()),
            profile: profile.name.clone(),
            fail_below: profile.fail_below,
            evidence: true,
        }
    }

    /// The same plan without evidence: for re-scoring many hosts when only scores are
    /// wanted (`evidence` stays `None`).
    pub fn without_evidence(mut self) -> Plan {
        self.evidence = false;
        self
    }

    /// The profile's name.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The profile's audit threshold.
    pub fn fail_below(&self) -> Option<f64> {
        self.fail_below
    }

    /// The checks run, in order.
    pub fn checks(&self) -> impl Iterator<Item = PlannedCheck<'_>> {
        self.entries.iter().map(|e| PlannedCheck {
            check: &e.check,
            weight: e.weight,
            params: &e.params,
        })
    }

    /// How many checks are run.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no check is run.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every check of the plan on one host.
    pub fn evaluate(&self, host: &HostRef<'_>, now: DateTime<Utc>) -> HostEvaluation {
        let inputs = HostInputs::new(&self.env, host.facts, now);
        let results = self
            .entries
            .iter()
            .map(|entry| {
                let outcome = run_check(&entry.check, &inputs, &entry.params, self.evidence, true);
                let waiver = match_waiver(&entry.waivers, host, now);
                let status = match (&waiver, outcome.status) {
                    (Some(m), Status::Fail) if m.state == WaiverState::Active => Status::Waived,
                    (_, s) => s,
                };
                CheckResult {
                    id: entry.check.id.clone(),
                    category: entry.check.category,
                    severity: entry.check.severity,
                    weight: entry.weight,
                    status,
                    credit: outcome.credit,
                    evidence: outcome.evidence,
                    error: outcome.error,
                    waiver,
                }
            })
            .collect();
        HostEvaluation { results }
    }

    /// [`Plan::evaluate`] for many hosts on `threads` threads (at least one), in the
    /// order given.
    pub fn evaluate_all(
        &self,
        hosts: &[HostRef<'_>],
        now: DateTime<Utc>,
        threads: usize,
    ) -> Vec<HostEvaluation> {
        let threads = threads.clamp(1, hosts.len().max(1));
        if threads == 1 {
            return hosts.iter().map(|h| self.evaluate(h, now)).collect();
        }
        let chunk = hosts.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = hosts
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|h| self.evaluate(h, now))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(hosts.len());
            for handle in handles {
                match handle.join() {
                    Ok(part) => all.extend(part),
                    // Evaluation does not panic by design; if it did, keep the panic.
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            all
        })
    }
}

/// How many threads [`Plan::evaluate_all`] should use here: the available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Evaluates one host under `profile` and `waivers`: [`Plan::new`] then
/// [`Plan::evaluate`]. Build a [`Plan`] instead when evaluating more than one host.
pub fn evaluate_host(
    catalogue: &Catalogue,
    profile: &Profile,
    waivers: &Waivers,
    host: &HostRef<'_>,
    now: DateTime<Utc>,
) -> HostEvaluation {
    Plan::new(catalogue, profile, waivers).evaluate(host, now)
}

fn match_waiver(
    waivers: &[Arc<Waiver>],
    host: &HostRef<'_>,
    now: DateTime<Utc>,
) -> Option<WaiverMatch> {
    let mut best: Option<&Arc<Waiver>> = None;
    for w in waivers
        .iter()
        .filter(|w| w.matches(host.id, host.hostname, host.labels))
    {
        best = match best {
            None => Some(w),
            // Prefer the one that lasts longest (an active one if there is any).
            Some(b) if w.expires > b.expires => Some(w),
            keep => keep,
        };
    }
    best.map(|w| WaiverMatch {
        waiver: Arc::clone(w),
        state: w.state(now),
    })
}

/// What running one check gave, before waivers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub status: Status,
    pub credit: f64,
    pub evidence: Option<Json>,
    pub error: Option<String>,
}

impl Outcome {
    fn error(key: &str, message: impl std::fmt::Display) -> Outcome {
        Outcome {
            status: Status::Error,
            credit: 0.0,
            evidence: None,
            error: Some(format!("{key}: {message}")),
        }
    }
}

/// One host's inputs: its facts and `now`, and the cel context built from them the first
/// time an expression needs cel (most never do).
pub(crate) struct HostInputs<'a> {
    env: &'a Arc<Env>,
    facts: &'a Json,
    now: DateTime<FixedOffset>,
    root: OnceCell<Context<'a, 'a>>,
}

impl<'a> HostInputs<'a> {
    pub(crate) fn new(env: &'a Arc<Env>, facts: &'a Json, now: DateTime<Utc>) -> HostInputs<'a> {
        HostInputs {
            env,
            facts,
            now: now.fixed_offset(),
            root: OnceCell::new(),
        }
    }

    fn root(&self) -> &Context<'a, 'a> {
        self.root.get_or_init(|| {
            let mut root = Context::with_env(Arc::clone(self.env));
            root.add_variable_as_val("facts", json_val(self.facts));
            root.add_variable_as_val("now", Box::new(CelTimestamp::from(self.now)));
            root
        })
    }
}

/// One check's view of a host: the direct evaluator's scope, and cel's (with `params`
/// bound when the check reads them), built on first use.
struct CheckInputs<'c, 'a> {
    host: &'c HostInputs<'a>,
    params: &'a Json,
    uses_params: bool,
    fast: bool,
    scoped: OnceCell<Context<'c, 'a>>,
}

/// What an expression gave: from the direct evaluator or from cel.
enum Got<'c> {
    Fast(fast::V<'c>),
    Cel(cel::common::value::CowVal<'c, 'c>),
}

impl<'c, 'a: 'c> CheckInputs<'c, 'a> {
    fn cel(&'c self) -> &'c Context<'c, 'a> {
        if self.uses_params {
            self.scoped.get_or_init(|| {
                let mut scope = self.host.root().new_inner_scope();
                scope.add_variable_as_val("params", json_val(self.params));
                scope
            })
        } else {
            self.host.root()
        }
    }

    /// Evaluates `e`: directly when it can, else (or on any doubt) with cel.
    fn eval(&'c self, e: &'c Expr) -> Result<Got<'c>, String> {
        if self.fast
            && let Some(node) = e.fast()
        {
            let scope = fast::Scope {
                facts: self.host.facts,
                params: self.params,
                now: self.host.now,
            };
            if let Some(v) = fast::eval(node, &scope) {
                return Ok(Got::Fast(v));
            }
        }
        Value::resolve_val(e.program().expression(), self.cel())
            .map(Got::Cel)
            .map_err(|e| e.to_string())
    }

    fn bool(&'c self, e: &'c Expr) -> Result<bool, String> {
        match self.eval(e)? {
            Got::Fast(fast::V::Bool(b)) => Ok(b),
            Got::Fast(_) => self.cel_only(e).and_then(|v| cel_bool(&v)),
            Got::Cel(v) => cel_bool(&v),
        }
    }

    fn number(&'c self, e: &'c Expr) -> Result<f64, String> {
        match self.eval(e)? {
            Got::Fast(fast::V::Int(i)) => Ok(i as f64),
            Got::Fast(fast::V::UInt(u)) => Ok(u as f64),
            Got::Fast(fast::V::Double(d)) if !d.is_nan() => Ok(d),
            Got::Fast(_) => self.cel_only(e).and_then(|v| cel_number(&v)),
            Got::Cel(v) => cel_number(&v),
        }
    }

    fn json(&'c self, e: &'c Expr) -> Result<Json, String> {
        Ok(match self.eval(e)? {
            Got::Fast(v) => fast::to_json(&v),
            Got::Cel(v) => expr::to_json(v.as_ref()),
        })
    }

    /// cel's answer, for a value of the wrong type (so the message is cel's).
    fn cel_only(&'c self, e: &'c Expr) -> Result<cel::common::value::CowVal<'c, 'c>, String> {
        Value::resolve_val(e.program().expression(), self.cel()).map_err(|e| e.to_string())
    }
}

/// Runs one check on a host with `params`; `fast` allows the direct evaluator.
pub(crate) fn run_check<'a>(
    check: &Check,
    host: &HostInputs<'a>,
    params: &'a Json,
    evidence: bool,
    fast: bool,
) -> Outcome {
    let inputs = CheckInputs {
        host,
        params,
        uses_params: check.uses_params,
        fast,
        scoped: OnceCell::new(),
    };
    if let Some(applies) = &check.applies {
        match inputs.bool(applies) {
            Ok(true) => {}
            Ok(false) => {
                return Outcome {
                    status: Status::NotApplicable,
                    credit: 0.0,
                    evidence: None,
                    error: None,
                };
            }
            Err(e) => return Outcome::error("applies", e),
        }
    }
    let key = check.rule.key();
    let (status, credit) = match &check.rule {
        Rule::Pass(e) => match inputs.bool(e) {
            Ok(true) => (Status::Pass, 1.0),
            Ok(false) => (Status::Fail, 0.0),
            Err(e) => return Outcome::error(key, e),
        },
        Rule::Score(e) => match inputs.number(e) {
            Ok(x) if (0.0..=1.0).contains(&x) => {
                (if x >= 1.0 { Status::Pass } else { Status::Fail }, x)
            }
            Ok(x) => return Outcome::error(key, format!("a score must be within 0–1, got {x}")),
            Err(e) => return Outcome::error(key, e),
        },
    };
    let mut outcome = Outcome {
        status,
        credit,
        evidence: None,
        error: None,
    };
    if evidence && let Some(e) = &check.evidence {
        match inputs.json(e) {
            Ok(v) => outcome.evidence = Some(v),
            Err(err) => outcome.error = Some(format!("evidence: {err}")),
        }
    }
    outcome
}

fn cel_bool(v: &cel::common::value::CowVal<'_, '_>) -> Result<bool, String> {
    v.downcast_ref::<CelBool>()
        .map(|b| *b.inner())
        .ok_or_else(|| format!("expected a bool, got {}", v.get_type().name()))
}

fn cel_number(v: &cel::common::value::CowVal<'_, '_>) -> Result<f64, String> {
    if let Some(d) = v.downcast_ref::<CelDouble>() {
        if d.inner().is_nan() {
            return Err("the score is NaN".to_owned());
        }
        return Ok(*d.inner());
    }
    if let Some(i) = v.downcast_ref::<CelInt>() {
        return Ok(*i.inner() as f64);
    }
    if let Some(u) = v.downcast_ref::<CelUInt>() {
        return Ok(*u.inner() as f64);
    }
    Err(format!("expected a number, got {}", v.get_type().name()))
}
