//! Waivers (`config/waivers.toml`): accepted risk for one check on some hosts, with a
//! reason, an owner and an expiry date. An active waiver turns that check's `fail` into
//! `waived` (left out of the score); once expired it stops applying and shows as
//! expired.
//!
//! This file owns the waiver format, its validation and matching; it must not evaluate
//! checks.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::catalogue::{Catalogue, Known};
use super::diag::{Diagnostics, LoadError, SourceFile};
use super::model::SourceLoc;

/// One waiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    /// The check waived.
    pub check: String,
    /// Only the host with this id.
    pub host_id: Option<String>,
    /// Only the host with this name.
    pub hostname: Option<String>,
    /// Only hosts with all these labels.
    pub labels: BTreeMap<String, String>,
    /// Why the risk is accepted.
    pub reason: String,
    /// Who accepted it.
    pub owner: String,
    /// The last day it applies (through 23:59:59 UTC that day).
    pub expires: NaiveDate,
    /// A ticket or decision record, if given.
    pub reference: Option<String>,
    /// Where it is written.
    pub source: SourceLoc,
}

/// Whether a waiver applies at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverState {
    /// Before the end of its expiry day.
    Active,
    /// Past its expiry day: no longer applies.
    Expired,
}

impl Waiver {
    /// Whether the waiver covers a host with this id, name and labels.
    pub fn matches(
        &self,
        id: &str,
        hostname: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        self.host_id.as_deref().is_none_or(|h| h == id)
            && self.hostname.as_deref().is_none_or(|n| Some(n) == hostname)
            && self
                .labels
                .iter()
                .all(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    }

    /// Active through the whole of its `expires` day (UTC), expired after.
    pub fn state(&self, now: DateTime<Utc>) -> WaiverState {
        if now.date_naive() <= self.expires {
            WaiverState::Active
        } else {
            WaiverState::Expired
        }
    }
}

/// How many waivers are active and expired, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WaiverCounts {
    /// Still applying.
    pub active: usize,
    /// Past their expiry.
    pub expired: usize,
}

/// The loaded waivers.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    list: Vec<Arc<Waiver>>,
    by_check: HashMap<String, Vec<usize>>,
}

impl Waivers {
    /// No waivers.
    pub fn none() -> Waivers {
        Waivers::default()
    }

    /// Reads and validates a waivers file against `catalogue`.
    pub fn load(path: &Path, catalogue: &Catalogue) -> Result<Waivers, LoadError> {
        let mut diags = Diagnostics::default();
        let known = Known::from_catalogue(catalogue);
        let waivers = match SourceFile::read(path) {
            Ok(file) => parse_file(&file, &known, &mut diags),
            Err(e) => {
                diags.read_error(path, e);
                Waivers::none()
            }
        };
        diags.finish(waivers)
    }

    /// Parses waivers text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, catalogue: &Catalogue) -> Result<Waivers, LoadError> {
        let mut diags = Diagnostics::default();
        let known = Known::from_catalogue(catalogue);
        let file = SourceFile::new(origin.to_owned(), Path::new(origin), text.to_owned());
        let waivers = parse_file(&file, &known, &mut diags);
        diags.finish(waivers)
    }

    /// Builds a set from waivers made in code.
    pub fn from_list(list: Vec<Waiver>) -> Waivers {
        let mut waivers = Waivers::none();
        for w in list {
            waivers.push(w);
        }
        waivers
    }

    fn push(&mut self, waiver: Waiver) {
        self.by_check
            .entry(waiver.check.clone())
            .or_default()
            .push(self.list.len());
        self.list.push(Arc::new(waiver));
    }

    /// Every waiver, in file order.
    pub fn list(&self) -> &[Arc<Waiver>] {
        &self.list
    }

    /// The waivers for `check`.
    pub fn for_check<'a>(&'a self, check: &str) -> impl Iterator<Item = &'a Arc<Waiver>> + 'a {
        self.by_check
            .get(check)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.list.get(i))
    }

    /// How many are active and expired at `now`.
    pub fn counts(&self, now: DateTime<Utc>) -> WaiverCounts {
        let mut counts = WaiverCounts::default();
        for w in &self.list {
            match w.state(now) {
                WaiverState::Active => counts.active += 1,
                WaiverState::Expired => counts.expired += 1,
            }
        }
        counts
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaivers {
    #[serde(default)]
    waiver: Vec<Spanned<RawWaiver>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWaiver {
    check: Option<Spanned<String>>,
    host_id: Option<Spanned<String>>,
    hostname: Option<Spanned<String>>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
    reason: Option<Spanned<String>>,
    owner: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
    reference: Option<String>,
}

pub(crate) fn parse_file(file: &SourceFile, known: &Known, diags: &mut Diagnostics) -> Waivers {
    let raw: RawWaivers = match toml::from_str(&file.text) {
        Ok(r) => r,
        Err(e) => {
            diags.toml_error(file, &e);
            return Waivers::none();
        }
    };
    let mut waivers = Waivers::none();
    for raw in raw.waiver {
        let start = raw.span().start;
        let raw = raw.into_inner();
        let before = diags.len();
        let text =
            |v: &Option<Spanned<String>>, key: &str, diags: &mut Diagnostics| -> Option<String> {
                match v {
                    None => {
                        diags.at(
                            file,
                            start,
                            &format!("waiver.{key}"),
                            format!("missing `{key}`"),
                        );
                        None
                    }
                    Some(s) if s.get_ref().trim().is_empty() => {
                        diags.span(
                            file,
                            s.span(),
                            &format!("waiver.{key}"),
                            "must not be empty",
                        );
                        None
                    }
                    Some(s) => Some(s.get_ref().trim().to_owned()),
                }
            };
        let check = text(&raw.check, "check", diags);
        if let (Some(id), Some(spanned)) = (&check, &raw.check)
            && !known.checks.contains_key(id)
        {
            diags.span(
                file,
                spanned.span(),
                "waiver.check",
                format!("unknown check `{id}`"),
            );
        }
        let reason = text(&raw.reason, "reason", diags);
        let owner = text(&raw.owner, "owner", diags);
        if raw.host_id.is_none() && raw.hostname.is_none() && raw.labels.is_none() {
            diags.at(
                file,
                start,
                "waiver",
                "say which hosts it covers: `host_id`, `hostname` or `labels` (a waiver for every host is a catalogue or profile change)",
            );
        }
        if let Some(labels) = &raw.labels
            && labels.get_ref().is_empty()
        {
            diags.span(file, labels.span(), "waiver.labels", "must not be empty");
        }
        for (v, key) in [(&raw.host_id, "host_id"), (&raw.hostname, "hostname")] {
            if let Some(v) = v
                && v.get_ref().trim().is_empty()
            {
                diags.span(
                    file,
                    v.span(),
                    &format!("waiver.{key}"),
                    "must not be empty",
                );
            }
        }
        let expires = match &raw.expires {
            None => {
                diags.at(
                    file,
                    start,
                    "waiver.expires",
                    "missing `expires` (the last day the waiver applies, e.g. 2026-12-31)",
                );
                None
            }
            Some(v) => {
                let text = match v.get_ref() {
                    toml::Value::Datetime(d) => d.to_string(),
                    toml::Value::String(s) => s.clone(),
                    other => super::diag::show(other),
                };
                match NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
                    Ok(d) => Some(d),
                    Err(_) => {
                        diags.span(
                            file,
                            v.span(),
                            "waiver.expires",
                            format!("`{text}` is not a date; write the last day it applies, e.g. 2026-12-31"),
                        );
                        None
                    }
                }
            }
        };
        if diags.len() != before {
            continue;
        }
        if let (Some(check), Some(reason), Some(owner), Some(expires)) =
            (check, reason, owner, expires)
        {
            waivers.push(Waiver {
                check,
                host_id: raw.host_id.map(|h| h.into_inner().trim().to_owned()),
                hostname: raw.hostname.map(|h| h.into_inner().trim().to_owned()),
                labels: raw.labels.map(Spanned::into_inner).unwrap_or_default(),
                reason,
                owner,
                expires,
                reference: raw.reference.map(|r| r.trim().to_owned()),
                source: file.loc(start),
            });
        }
    }
    waivers
}
