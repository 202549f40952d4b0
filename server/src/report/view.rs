//! The report view: the compact copy of an assessment a report reads, written beside
//! each stored assessment (`AssessmentRecord::view_json`) so that a report of the whole
//! estate need not parse every full assessment.
//!
//! A full stored assessment is about 18 KB (every result with its evidence, the
//! improvements, readiness, the estimate with each factor's unit and source spelled out,
//! the stored facts). The view keeps only what [`HostAssessment`] holds, about 2–3 KB:
//!
//! - each result as `[id, status, credit]`, with the evidence as the report shows it
//!   (one line of text) as a fourth element only for results that did not pass;
//! - the report's facts ([`HostFacts`]), absent ones left out;
//! - the estimate's figures (on-premises and per scenario) and its factors *named*,
//!   `[name, value, version]`: every host's estimate lists the same few dozen factors,
//!   each with its source's full title and address, so the loader reads unit and source
//!   once per distinct factor from one host's full assessment (`report::load`).
//!
//! Reading a view gives the same [`HostAssessment`] as reading the full assessment
//! (tested), except that its factors have no unit and source until the loader
//! resolves them. No I/O here.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::assess::Assessment;
use crate::carbon::{Factors, HostEstimate, OnPrem, ScenarioResult};
use crate::report::input::{
    CheckIndex, FactorInterner, HostAssessment, HostFacts, evidence_line, parse_band, parse_status,
};

/// The view's format version, its `v`. A view of another version is not read (the
/// loader reads the full assessment instead).
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct ViewOut<'a> {
    v: u32,
    assessed_at: DateTime<Utc>,
    profile: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    band: Option<&'a str>,
    results: Vec<ResultOut<'a>>,
    facts: HostFacts,
    #[serde(skip_serializing_if = "Option::is_none")]
    carbon: Option<CarbonOut<'a>>,
}

/// `[id, status, credit]` or `[id, status, credit, evidence]`.
enum ResultOut<'a> {
    Bare(&'a str, &'a str, f64),
    WithEvidence(&'a str, &'a str, f64, String),
}

impl Serialize for ResultOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultOut::Bare(id, status, credit) => (id, status, credit).serialize(s),
            ResultOut::WithEvidence(id, status, credit, evidence) => {
                (id, status, credit, evidence).serialize(s)
            }
        }
    }
}

#[derive(Serialize)]
struct CarbonOut<'a> {
    host_id: &'a str,
    onprem: &'a OnPrem,
    scenarios: &'a [ScenarioResult],
    factors: Vec<(&'a str, f64, &'a str)>,
}

/// The view of an assessment, as JSON.
pub fn to_json(a: &Assessment) -> serde_json::Result<String> {
    let results = a
        .results
        .iter()
        .map(|r| {
            let (id, status) = (r.id.as_str(), r.status.as_str());
            match evidence_line(r.status, r.evidence.as_ref(), r.error.as_deref()) {
                Some(text) => ResultOut::WithEvidence(id, status, r.credit, text),
                None => ResultOut::Bare(id, status, r.credit),
            }
        })
        .collect();
    serde_json::to_string(&ViewOut {
        v: VERSION,
        assessed_at: a.assessed_at,
        profile: &a.profile,
        score: a.score.score,
        band: a.score.band.map(|b| b.as_str()),
        results,
        facts: HostFacts::from_json(&a.facts),
        carbon: a.carbon.as_ref().map(|c| CarbonOut {
            host_id: &c.host_id,
            onprem: &c.onprem,
            scenarios: &c.scenarios,
            factors: c
                .factors
                .iter()
                .map(|f| (f.name.as_str(), f.value, f.version.as_str()))
                .collect(),
        }),
    })
}

#[derive(Deserialize)]
struct ViewIn<'a> {
    v: u32,
    assessed_at: DateTime<Utc>,
    profile: String,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default, borrow)]
    band: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "results")]
    results: Vec<ResultIn<'a>>,
    #[serde(default)]
    facts: HostFacts,
    #[serde(default, borrow)]
    carbon: Option<CarbonIn<'a>>,
}

/// A result, read from its array (serde reads a struct from a sequence in field order).
#[derive(Deserialize)]
struct ResultIn<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    credit: f64,
    #[serde(default)]
    evidence: Option<String>,
}

/// Results read into a vector sized for a whole profile's checks from the start: serde
/// grows a vector from nothing (JSON gives no length), and at 100,000 hosts of 68
/// results the six reallocations and copies each were 9 % of a report's CPU.
fn results<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<ResultIn<'de>>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Vec<ResultIn<'de>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of results")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).max(RESULTS_CAPACITY));
            while let Some(r) = seq.next_element()? {
                out.push(r);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Visit)
}

/// Room for the results of one host's assessment before the vector grows.
const RESULTS_CAPACITY: usize = 128;

#[derive(Deserialize)]
struct CarbonIn<'a> {
    host_id: String,
    onprem: OnPrem,
    #[serde(default)]
    scenarios: Vec<ScenarioResult>,
    #[serde(default, borrow)]
    factors: Vec<FactorIn<'a>>,
}

#[derive(Deserialize)]
struct FactorIn<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    value: f64,
    #[serde(borrow)]
    version: Cow<'a, str>,
}

/// Why a view could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Not JSON of the view's shape.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Written by another version of the view.
    #[error("report view version {0}, this build reads version {VERSION}")]
    Version(u32),
}

impl HostAssessment {
    /// From a stored view ([`to_json`]); also gives the profile it was evaluated with.
    /// Results of checks not in `index` are left out. The estimate's factors are
    /// placeholders named in `factors` (see [`FactorInterner::placeholder`]) until the
    /// loader resolves them.
    pub fn from_view_json(
        json: &str,
        index: &CheckIndex,
        factors: &mut FactorInterner,
    ) -> Result<(String, HostAssessment), ViewError> {
        let v: ViewIn<'_> = serde_json::from_str(json)?;
        if v.v != VERSION {
            return Err(ViewError::Version(v.v));
        }
        let mut results = Vec::with_capacity(v.results.len());
        results.extend(v.results.into_iter().enumerate().filter_map(|(i, r)| {
            let status = parse_status(&r.status)?;
            Some(crate::report::CheckOutcome {
                check: index.get_at(i, r.id.as_ref())?,
                status,
                credit: r.credit,
                evidence: r.evidence,
            })
        }));
        let carbon = v.carbon.map(|c| {
            let mut shared = Factors::with_capacity(c.factors.len());
            for f in &c.factors {
                shared.push(&factors.placeholder(&f.name, f.value, &f.version));
            }
            HostEstimate {
                host_id: c.host_id,
                onprem: c.onprem,
                scenarios: c.scenarios,
                factors: shared,
            }
        });
        Ok((
            v.profile,
            HostAssessment {
                assessed_at: v.assessed_at,
                score: v.score,
                band: v.band.as_deref().and_then(parse_band),
                results,
                facts: v.facts,
                carbon,
            },
        ))
    }
}
