//! What a report is built from: the hosts, each with its latest assessment (check
//! outcomes, the few facts the report reads, the carbon estimate), the checks of the
//! profile, the scoring settings, the thresholds, and the previous report when there is
//! one. Plain data: [`crate::report::load`] fills it from the store, tests and the
//! benchmark build it directly.
//!
//! This module owns the input types and their translation from an assessment's JSON
//! detail; it must not read the store or any file.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::assess::Assessment;
use crate::carbon::{Factor, FactorRef, Factors, HostEstimate, OnPrem, ScenarioResult};
use crate::checks::{Band, Category, Plan, ScoringConfig, Severity, Status};
use crate::report::changes::PreviousReport;

/// How far ahead the lifecycle section looks, days ([`ReportSettings::horizon_days`]).
pub const DEFAULT_HORIZON_DAYS: i64 = 365;
/// Hardware refresh age when the profile has no `lifecycle.hardware-age` check, years.
pub const DEFAULT_REFRESH_AGE_YEARS: f64 = 5.0;
/// A server whose CPU p95 stays under this is under-utilised (the default of
/// `sustainability.under-utilised`'s `idle_below_ratio`).
pub const DEFAULT_IDLE_CPU_P95_BELOW: f64 = 0.05;
/// Days of history a host needs before it is called under-utilised (the default of
/// `sustainability.under-utilised`'s `min_days`).
pub const DEFAULT_MIN_HISTORY_DAYS: f64 = 14.0;
/// CPU p95 at or above this is over-utilised (`capacity.cpu-p95`'s `max_ratio`).
pub const DEFAULT_BUSY_CPU_P95_AT: f64 = 0.9;
/// Memory p95 at or above this is over-utilised (`capacity.memory-p95`'s `max_ratio`).
pub const DEFAULT_BUSY_MEMORY_P95_AT: f64 = 0.9;
/// A writable filesystem with less than this available is short of space
/// (`capacity.filesystem-free`'s `min_available_ratio`).
pub const DEFAULT_MIN_AVAILABLE_RATIO: f64 = 0.10;
/// Migration candidates kept in the report.
pub const DEFAULT_MAX_CANDIDATES: usize = 100;

/// Everything one report is built from.
#[derive(Debug, Clone)]
pub struct ReportInput {
    /// When the report is made (the reference for "next 12 months" and ages).
    pub generated_at: DateTime<Utc>,
    /// The report's title (the organisation's name, or "Estate health check").
    pub title: String,
    /// The audit profile the assessments were evaluated with.
    pub profile: String,
    /// Bands and host weights.
    pub scoring: ScoringConfig,
    /// The profile's checks, in plan order; outcomes refer to them by index.
    pub checks: Vec<CheckInfo>,
    /// The hosts, in any order.
    pub hosts: Vec<ReportHost>,
    /// The scenarios the estimates were asked for, in configured order (a scenario no
    /// host could take still gets a row).
    pub scenarios: Vec<String>,
    /// Thresholds.
    pub settings: ReportSettings,
    /// The previous report, for "what changed" and the trend.
    pub previous: Option<PreviousReport>,
}

/// A check of the profile.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckInfo {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: Category,
    /// Its severity.
    pub severity: Severity,
    /// The weight in the profile.
    pub weight: f64,
    /// How to fix a failure.
    pub remediation: String,
}

impl CheckInfo {
    /// The checks of `plan`, in plan order.
    pub fn from_plan(plan: &Plan) -> Vec<CheckInfo> {
        plan.checks()
            .map(|p| CheckInfo {
                id: p.check.id.to_string(),
                title: p.check.title.clone(),
                category: p.check.category,
                severity: p.check.severity,
                weight: p.weight,
                remediation: p.check.remediation.trim().to_owned(),
            })
            .collect()
    }
}

/// The thresholds the lifecycle and capacity sections apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSettings {
    /// Lifecycle look-ahead, days ([`DEFAULT_HORIZON_DAYS`]).
    pub horizon_days: i64,
    /// Hardware refresh age, years.
    pub refresh_age_years: f64,
    /// Under-utilised below this CPU p95.
    pub idle_cpu_p95_below: f64,
    /// Days of history before a host can be called under-utilised.
    pub min_history_days: f64,
    /// Over-utilised at this CPU p95.
    pub busy_cpu_p95_at: f64,
    /// Over-utilised at this memory p95.
    pub busy_memory_p95_at: f64,
    /// Short of space below this available ratio.
    pub min_available_ratio: f64,
    /// Migration candidates kept.
    pub max_candidates: usize,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings {
            horizon_days: DEFAULT_HORIZON_DAYS,
            refresh_age_years: DEFAULT_REFRESH_AGE_YEARS,
            idle_cpu_p95_below: DEFAULT_IDLE_CPU_P95_BELOW,
            min_history_days: DEFAULT_MIN_HISTORY_DAYS,
            busy_cpu_p95_at: DEFAULT_BUSY_CPU_P95_AT,
            busy_memory_p95_at: DEFAULT_BUSY_MEMORY_P95_AT,
            min_available_ratio: DEFAULT_MIN_AVAILABLE_RATIO,
            max_candidates: DEFAULT_MAX_CANDIDATES,
        }
    }
}

impl ReportSettings {
    /// The defaults, with each threshold taken from the param of the check that judges
    /// the same thing when `plan` runs it (so the report and the checks agree).
    pub fn from_plan(plan: &Plan) -> ReportSettings {
        let mut s = ReportSettings::default();
        for p in plan.checks() {
            let param = |name: &str| p.params.get(name).and_then(Json::as_f64);
            match p.check.id.as_str() {
                "lifecycle.hardware-age" => {
                    s.refresh_age_years = param("refresh_age_years").unwrap_or(s.refresh_age_years);
                }
                "sustainability.under-utilised" => {
                    s.idle_cpu_p95_below =
                        param("idle_below_ratio").unwrap_or(s.idle_cpu_p95_below);
                    s.min_history_days = param("min_days").unwrap_or(s.min_history_days);
                }
                "capacity.cpu-p95" => {
                    s.busy_cpu_p95_at = param("max_ratio").unwrap_or(s.busy_cpu_p95_at);
                }
                "capacity.memory-p95" => {
                    s.busy_memory_p95_at = param("max_ratio").unwrap_or(s.busy_memory_p95_at);
                }
                "capacity.filesystem-free" => {
                    s.min_available_ratio =
                        param("min_available_ratio").unwrap_or(s.min_available_ratio);
                }
                _ => {}
            }
        }
        s
    }
}

/// One host.
#[derive(Debug, Clone)]
pub struct ReportHost {
    /// Its id.
    pub host_id: String,
    /// Its latest name.
    pub hostname: String,
    /// Its labels (`site`, `role`, `criticality`, ...).
    pub labels: BTreeMap<String, String>,
    /// `physical`, `vm`, `container` or `unknown` (the stored facets).
    pub machine_kind: Option<String>,
    /// `laptop`, `desktop`, `server`, `virtual` or `unknown`.
    pub chassis: Option<String>,
    /// `linux`, `windows`, ...
    pub os_family: Option<String>,
    /// The OS's name (`Rocky Linux 9.3 (Blue Onyx)`).
    pub os_name: Option<String>,
    /// First report.
    pub first_seen: DateTime<Utc>,
    /// Latest report.
    pub last_seen: DateTime<Utc>,
    /// The latest assessment, when the host has one.
    pub assessment: Option<HostAssessment>,
}

/// A host's latest assessment, as the report reads it.
#[derive(Debug, Clone)]
pub struct HostAssessment {
    /// When it was made.
    pub assessed_at: DateTime<Utc>,
    /// The score, when anything was scored.
    pub score: Option<f64>,
    /// The band, when scored.
    pub band: Option<Band>,
    /// One outcome per check evaluated.
    pub results: Vec<CheckOutcome>,
    /// The facts the report reads.
    pub facts: HostFacts,
    /// Energy and carbon, when the host had a report to estimate from.
    pub carbon: Option<HostEstimate>,
}

/// One check's outcome on one host.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// Index of the check in [`ReportInput::checks`].
    pub check: usize,
    /// Its status.
    pub status: Status,
    /// Credit 0–1.
    pub credit: f64,
    /// The evidence, as one line of text.
    pub evidence: Option<String>,
}

/// The few facts the report reads (`docs/facts.md` names them). Serialised in the
/// report view ([`crate::report::view`]), absent facts left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostFacts {
    /// `os.lifecycle.label`: the OS release as the lifecycle table names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_release: Option<String>,
    /// `os.end_of_support`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_end_of_support: Option<NaiveDate>,
    /// `os.extended_support_end`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_extended_support_end: Option<NaiveDate>,
    /// `hardware.vendor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_vendor: Option<String>,
    /// `hardware.model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_model: Option<String>,
    /// `hardware.bios_date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios_date: Option<NaiveDate>,
    /// `hardware.hardware_age_days` (physical hosts only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware_age_days: Option<i64>,
    /// `utilisation.cpu_p95_ratio_series`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_p95_ratio: Option<f64>,
    /// `utilisation.memory_p95_ratio_series`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_p95_ratio: Option<f64>,
    /// `utilisation.series_span_seconds` in days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_days: Option<f64>,
    /// `hardware.memory_bytes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// `hardware.cpu_threads`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_threads: Option<u64>,
    /// `storage.min_available_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available_ratio: Option<f64>,
    /// `storage.min_available_mount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_available_mount: Option<String>,
    /// `agent.stale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale: Option<bool>,
    /// `hardware.cpu_model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_model: Option<String>,
    /// `security.tpm2`: a TPM 2.0 is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm2: Option<bool>,
    /// `security.uefi`: the host boots through UEFI (Secure Boot capable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uefi: Option<bool>,
    /// `storage.total_bytes`: the size of the host's filesystems together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_total_bytes: Option<u64>,
}

/// The facts the report reads, as the facts document spells them (everything else in
/// the document is skipped).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FactsView {
    os: OsView,
    hardware: HardwareView,
    utilisation: UtilisationView,
    storage: StorageView,
    agent: AgentView,
    security: SecurityView,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OsView {
    end_of_support: Option<NaiveDate>,
    extended_support_end: Option<NaiveDate>,
    lifecycle: LifecycleView,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LifecycleView {
    label: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HardwareView {
    vendor: Option<String>,
    model: Option<String>,
    bios_date: Option<NaiveDate>,
    hardware_age_days: Option<i64>,
    memory_bytes: Option<u64>,
    cpu_threads: Option<u64>,
    cpu_model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct UtilisationView {
    cpu_p95_ratio_series: Option<f64>,
    memory_p95_ratio_series: Option<f64>,
    series_span_seconds: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StorageView {
    min_available_ratio: Option<f64>,
    min_available_mount: Option<String>,
    total_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SecurityView {
    tpm2: Option<bool>,
    uefi: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AgentView {
    stale: Option<bool>,
}

impl From<FactsView> for HostFacts {
    fn from(f: FactsView) -> HostFacts {
        HostFacts {
            os_release: f.os.lifecycle.label,
            os_end_of_support: f.os.end_of_support,
            os_extended_support_end: f.os.extended_support_end,
            hardware_vendor: f.hardware.vendor,
            hardware_model: f.hardware.model,
            bios_date: f.hardware.bios_date,
            hardware_age_days: f.hardware.hardware_age_days,
            cpu_p95_ratio: f.utilisation.cpu_p95_ratio_series,
            memory_p95_ratio: f.utilisation.memory_p95_ratio_series,
            history_days: f.utilisation.series_span_seconds.map(|s| s / 86_400.0),
            memory_bytes: f.hardware.memory_bytes,
            cpu_threads: f.hardware.cpu_threads,
            min_available_ratio: f.storage.min_available_ratio,
            min_available_mount: f.storage.min_available_mount,
            stale: f.agent.stale,
            cpu_model: f.hardware.cpu_model,
            tpm2: f.security.tpm2,
            uefi: f.security.uefi,
            storage_total_bytes: f.storage.total_bytes,
        }
    }
}

impl HostFacts {
    /// Reads the report's facts from a host's facts document; a fact that is absent or
    /// not of the documented type stays `None`.
    pub fn from_json(facts: &Json) -> HostFacts {
        FactsView::deserialize(facts)
            .map(HostFacts::from)
            .unwrap_or_else(|_| lenient(facts))
    }
}

/// Field by field, for a document with a value of an unexpected type somewhere.
fn lenient(facts: &Json) -> HostFacts {
    let section = |name: &str| facts.get(name).cloned().unwrap_or(Json::Null);
    HostFacts::from(FactsView {
        os: OsView::deserialize(&section("os")).unwrap_or_default(),
        hardware: HardwareView::deserialize(&section("hardware")).unwrap_or_default(),
        utilisation: UtilisationView::deserialize(&section("utilisation")).unwrap_or_default(),
        storage: StorageView::deserialize(&section("storage")).unwrap_or_default(),
        agent: AgentView::deserialize(&section("agent")).unwrap_or_default(),
        security: SecurityView::deserialize(&section("security")).unwrap_or_default(),
    })
}

/// Check ids to their index in [`ReportInput::checks`].
#[derive(Debug, Clone, Default)]
pub struct CheckIndex {
    ids: Vec<String>,
    by_id: HashMap<String, usize>,
}

impl CheckIndex {
    /// The index of check `id`.
    pub fn get(&self, id: &str) -> Option<&usize> {
        self.by_id.get(id)
    }

    /// The index of check `id`, tried first at `hint`: results are stored in the plan's
    /// order, so the n-th result is nearly always the n-th check, and comparing one id
    /// is cheaper than hashing it (6.8 million lookups in a 100,000-host report).
    pub fn get_at(&self, hint: usize, id: &str) -> Option<usize> {
        match self.ids.get(hint) {
            Some(at) if at == id => Some(hint),
            _ => self.by_id.get(id).copied(),
        }
    }
}

/// The index of `checks`.
pub fn check_index(checks: &[CheckInfo]) -> CheckIndex {
    CheckIndex {
        ids: checks.iter().map(|c| c.id.clone()).collect(),
        by_id: checks
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect(),
    }
}

/// An assessment as stored (`Assessment`'s JSON): the parts the report reads. Strings
/// are borrowed from the JSON where it has no escapes: at 100,000 hosts the allocator
/// was a quarter of the report loader's time.
#[derive(Debug, Deserialize)]
struct Detail<'a> {
    assessed_at: DateTime<Utc>,
    profile: String,
    #[serde(borrow)]
    score: DetailScore<'a>,
    #[serde(default, borrow)]
    results: Vec<DetailResult<'a>>,
    /// Parsed straight into the estimate's parts (not through a `Value`: a third of the
    /// stored JSON, so twice the work for the report loader).
    #[serde(default, borrow)]
    carbon: Option<DetailCarbon<'a>>,
    #[serde(default)]
    facts: Option<FactsView>,
}

#[derive(Debug, Deserialize)]
struct DetailScore<'a> {
    score: Option<f64>,
    #[serde(borrow)]
    band: Option<Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct DetailResult<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(default)]
    credit: f64,
    #[serde(default)]
    evidence: Option<Json>,
    #[serde(default, borrow)]
    error: Option<Cow<'a, str>>,
}

/// A stored [`HostEstimate`], its factors borrowed until they are interned.
#[derive(Debug, Deserialize)]
struct DetailCarbon<'a> {
    host_id: String,
    onprem: OnPrem,
    #[serde(default)]
    scenarios: Vec<ScenarioResult>,
    #[serde(default, borrow)]
    factors: Vec<DetailFactor<'a>>,
}

/// A stored [`Factor`], borrowed.
#[derive(Debug, Deserialize)]
struct DetailFactor<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    value: f64,
    #[serde(borrow)]
    unit: Cow<'a, str>,
    #[serde(borrow)]
    source: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
}

/// One copy of each distinct factor read back from stored estimates: every host's
/// estimate lists the same few dozen factors (each with its source's full title), so
/// 100,000 estimates share them instead of holding 3 million copies.
///
/// Estimates read from report views ([`crate::report::view`]) name their factors
/// without unit and source: those are interned as *placeholders* (unit and source
/// empty), each noted with the first host whose estimate used it, for the loader to
/// resolve from that host's full assessment.
#[derive(Debug, Default)]
pub struct FactorInterner {
    by_hash: HashMap<u64, Vec<FactorRef>>,
    /// The host whose assessment is being read (for [`FactorInterner::placeholder`]).
    current_host: String,
    /// Placeholders made, each with the host it was first seen on.
    placeholders: Vec<(FactorRef, String)>,
}

impl FactorInterner {
    fn intern(&mut self, f: &DetailFactor<'_>) -> FactorRef {
        self.intern_parts(&f.name, f.value, &f.unit, &f.source, &f.version)
            .0
    }

    /// The shared factor with these parts, and whether it was made just now.
    fn intern_parts(
        &mut self,
        name: &str,
        value: f64,
        unit: &str,
        source: &str,
        version: &str,
    ) -> (FactorRef, bool) {
        // The name, value and version tell factors apart; unit and source are compared
        // only within a bucket (they are long and rarely differ).
        let bucket = self
            .by_hash
            .entry(factor_hash(name, value, version))
            .or_default();
        let same = |r: &&FactorRef| {
            r.name == name
                && r.value.to_bits() == value.to_bits()
                && r.version == version
                && r.unit == unit
                && r.source == source
        };
        if let Some(known) = bucket.iter().find(same) {
            return (known.clone(), false);
        }
        let made = FactorRef::new(Factor {
            name: name.to_owned(),
            value,
            unit: unit.to_owned(),
            source: source.to_owned(),
            version: version.to_owned(),
        });
        bucket.push(made.clone());
        (made, true)
    }

    /// Names the host whose assessment is read next (placeholders note it).
    pub fn reading(&mut self, host_id: &str) {
        self.current_host.clear();
        self.current_host.push_str(host_id);
    }

    /// The placeholder for a factor known only by name, value and version.
    pub fn placeholder(&mut self, name: &str, value: f64, version: &str) -> FactorRef {
        let (made, new) = self.intern_parts(name, value, "", "", version);
        if new {
            self.placeholders
                .push((made.clone(), self.current_host.clone()));
        }
        made
    }

    /// The placeholders made, each with the first host whose estimate used it, and every
    /// complete factor read.
    pub fn into_parts(self) -> (Vec<(FactorRef, String)>, Vec<FactorRef>) {
        let placeholders = self.placeholders;
        let made: std::collections::HashSet<usize> =
            placeholders.iter().map(|(p, _)| p.addr()).collect();
        let complete = self
            .by_hash
            .into_values()
            .flatten()
            .filter(|f| !made.contains(&f.addr()))
            .collect();
        (placeholders, complete)
    }

    /// How many distinct factors.
    pub fn len(&self) -> usize {
        self.by_hash.values().map(Vec::len).sum()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// The evidence of a result as the report shows it: none for a pass or a check that
/// does not apply, the error for an error, else the evidence as one line (or the error
/// that kept it from being computed).
pub(crate) fn evidence_line(
    status: Status,
    evidence: Option<&Json>,
    error: Option<&str>,
) -> Option<String> {
    match (status, error, evidence) {
        (Status::Pass | Status::NotApplicable, _, _) => None,
        (Status::Error, Some(e), _) => Some(e.to_owned()),
        (_, _, Some(v)) => Some(evidence_text(v)),
        (_, Some(e), None) => Some(e.to_owned()),
        (_, None, None) => None,
    }
}

/// The hash that buckets factors: name, value and version.
fn factor_hash(name: &str, value: f64, version: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (name, value.to_bits(), version).hash(&mut hasher);
    hasher.finish()
}

/// The factors of a stored assessment's estimate, complete (for resolving the
/// placeholders of report views).
pub fn detail_factors(json: &str) -> Result<Vec<Factor>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Only<'a> {
        #[serde(default, borrow)]
        carbon: Option<OnlyCarbon<'a>>,
    }
    #[derive(Deserialize)]
    struct OnlyCarbon<'a> {
        #[serde(default, borrow)]
        factors: Vec<DetailFactor<'a>>,
    }
    let only: Only<'_> = serde_json::from_str(json)?;
    Ok(only
        .carbon
        .map(|c| {
            c.factors
                .into_iter()
                .map(|f| Factor {
                    name: f.name.into_owned(),
                    value: f.value,
                    unit: f.unit.into_owned(),
                    source: f.source.into_owned(),
                    version: f.version.into_owned(),
                })
                .collect()
        })
        .unwrap_or_default())
}

fn outcome(
    index: &CheckIndex,
    id: &str,
    status: Status,
    credit: f64,
    evidence: Option<&Json>,
    error: Option<&str>,
) -> Option<CheckOutcome> {
    Some(CheckOutcome {
        check: *index.get(id)?,
        status,
        credit,
        evidence: evidence_line(status, evidence, error),
    })
}

impl HostAssessment {
    /// From a stored assessment's JSON (`AssessmentRecord::detail_json`); also gives the
    /// profile it was evaluated with. Results of checks not in `index` are left out.
    pub fn from_detail_json(
        json: &str,
        index: &CheckIndex,
    ) -> Result<(String, HostAssessment), serde_json::Error> {
        HostAssessment::from_detail_json_shared(json, index, &mut FactorInterner::default())
    }

    /// As [`HostAssessment::from_detail_json`], the estimate's factors shared through
    /// `factors` with the other assessments read with it.
    pub fn from_detail_json_shared(
        json: &str,
        index: &CheckIndex,
        factors: &mut FactorInterner,
    ) -> Result<(String, HostAssessment), serde_json::Error> {
        let d: Detail<'_> = serde_json::from_str(json)?;
        let carbon = d.carbon.map(|c| {
            let mut shared = Factors::with_capacity(c.factors.len());
            for f in &c.factors {
                shared.push(&factors.intern(f));
            }
            HostEstimate {
                host_id: c.host_id,
                onprem: c.onprem,
                scenarios: c.scenarios,
                factors: shared,
            }
        });
        let results = d
            .results
            .iter()
            .filter_map(|r| {
                let status = parse_status(&r.status)?;
                outcome(
                    index,
                    &r.id,
                    status,
                    r.credit,
                    r.evidence.as_ref(),
                    r.error.as_deref(),
                )
            })
            .collect();
        Ok((
            d.profile,
            HostAssessment {
                assessed_at: d.assessed_at,
                score: d.score.score,
                band: d.score.band.as_deref().and_then(parse_band),
                results,
                facts: d.facts.map(HostFacts::from).unwrap_or_default(),
                carbon,
            },
        ))
    }

    /// From an assessment made now (for a host without a stored one).
    pub fn from_assessment(a: &Assessment, index: &CheckIndex) -> HostAssessment {
        HostAssessment {
            assessed_at: a.assessed_at,
            score: a.score.score,
            band: a.score.band,
            results: a
                .results
                .iter()
                .filter_map(|r| {
                    outcome(
                        index,
                        r.id.as_str(),
                        r.status,
                        r.credit,
                        r.evidence.as_ref(),
                        r.error.as_deref(),
                    )
                })
                .collect(),
            facts: HostFacts::from_json(&a.facts),
            carbon: a.carbon.clone(),
        }
    }
}

/// The status named `name` (`pass`, `fail`, `not_applicable`, `waived`, `error`).
pub fn parse_status(name: &str) -> Option<Status> {
    let status = match name.as_bytes().first() {
        Some(b'p') => Status::Pass,
        Some(b'f') => Status::Fail,
        Some(b'n') => Status::NotApplicable,
        Some(b'w') => Status::Waived,
        Some(b'e') => Status::Error,
        _ => return None,
    };
    (status.as_str() == name).then_some(status)
}

/// The band named `name`.
pub fn parse_band(name: &str) -> Option<Band> {
    [Band::Red, Band::Amber, Band::Green]
        .into_iter()
        .find(|b| b.as_str() == name)
}

/// Evidence as one line: a string as it is, anything else as compact JSON.
pub fn evidence_text(value: &Json) -> String {
    let s = match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.contains(['\n', '\r']) {
        s.replace(['\n', '\r'], " ")
    } else {
        s
    }
}
