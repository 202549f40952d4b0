//! Raw pieces shared by the data files: the `[sources.*]` table, `[meta]`, and the
//! `{ value, low, high, unit, source }` factor shape, with their validation.

use std::collections::BTreeMap;

use estate_agent::config::located::Issues;
use serde::Deserialize;
use toml::Spanned;

use crate::carbon::factor::{Factor, FactorRef, Param};

/// One `[sources.ID]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    title: String,
    url: String,
    #[allow(dead_code)]
    licence: String,
    version: String,
}

/// `[meta]`: descriptive keys of a file (version, unit, ...); only
/// `counted_vendor_ids` (gpu-power.toml) is used by the model.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // descriptive keys, read by people
pub(super) struct RawMeta {
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub units: Option<String>,
    #[serde(default)]
    pub counted_vendor_ids: Option<Vec<String>>,
}

/// A file's sources, by id.
pub(super) type RawSources = BTreeMap<String, RawSource>;

/// A source resolved for a factor: its text and version.
#[derive(Debug, Clone)]
pub(super) struct Src {
    pub text: String,
    pub version: String,
}

/// Resolves a source id, recording an issue at the id when it is not defined.
pub(super) fn source(
    sources: &RawSources,
    id: &Spanned<String>,
    key: &str,
    issues: &mut Issues<'_>,
) -> Option<Src> {
    match sources.get(id.get_ref()) {
        Some(s) => Some(Src {
            text: format!("{} <{}>", s.title, s.url),
            version: s.version.clone(),
        }),
        None => {
            let known: Vec<&str> = sources.keys().map(String::as_str).collect();
            issues.at(
                id.span(),
                key,
                format!(
                    "source `{}` is not defined in [sources] (defined: {})",
                    id.get_ref(),
                    known.join(", ")
                ),
            );
            None
        }
    }
}

/// Builds a shared factor.
pub(super) fn factor(name: String, value: f64, unit: &str, src: &Src) -> FactorRef {
    FactorRef::new(Factor {
        name,
        value,
        unit: unit.to_owned(),
        source: src.text.clone(),
        version: src.version.clone(),
    })
}

/// A `{ value, low, high, unit, source, version, note }` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFactor {
    pub value: Spanned<f64>,
    #[serde(default)]
    pub low: Option<Spanned<f64>>,
    #[serde(default)]
    pub high: Option<Spanned<f64>>,
    pub unit: String,
    pub source: Spanned<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[allow(dead_code)]
    #[serde(default)]
    pub note: Option<String>,
}

/// Checks that a value is finite and not negative.
pub(super) fn non_negative(v: &Spanned<f64>, key: &str, issues: &mut Issues<'_>) -> bool {
    let x = *v.get_ref();
    if x.is_finite() && x >= 0.0 {
        true
    } else {
        issues.at(
            v.span(),
            key,
            format!("must be a finite number >= 0, found {x}"),
        );
        false
    }
}

/// Validates a factor table into a [`Param`] named `name`.
pub(super) fn param(
    name: &str,
    raw: &RawFactor,
    sources: &RawSources,
    key: &str,
    issues: &mut Issues<'_>,
) -> Option<Param> {
    let mut ok = non_negative(&raw.value, &format!("{key}.value"), issues);
    let value = *raw.value.get_ref();
    let mut low = value;
    let mut high = value;
    if let Some(l) = &raw.low {
        ok &= non_negative(l, &format!("{key}.low"), issues);
        low = *l.get_ref();
        if low > value {
            issues.at(
                l.span(),
                &format!("{key}.low"),
                format!("low {low} is above the value {value}"),
            );
            ok = false;
        }
    }
    if let Some(h) = &raw.high {
        ok &= non_negative(h, &format!("{key}.high"), issues);
        high = *h.get_ref();
        if high < value {
            issues.at(
                h.span(),
                &format!("{key}.high"),
                format!("high {high} is below the value {value}"),
            );
            ok = false;
        }
    }
    let mut src = source(sources, &raw.source, &format!("{key}.source"), issues)?;
    if let Some(v) = &raw.version {
        src.version.clone_from(v);
    }
    ok.then(|| Param {
        factor: factor(name.to_owned(), value, &raw.unit, &src),
        low,
        high,
    })
}
