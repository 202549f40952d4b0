//! The lifecycle table's raw serde layer and its validation: every problem located as
//! `FILE:LINE:COL: `release[N].key`: message` (through `estate_agent::config::located`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use estate_agent::config::located::Issues;
use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::{Edition, LifecycleEntry, LifecycleTable, WINDOWS_PRODUCTS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    #[serde(default)]
    release: Vec<RawEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Spanned<String>,
    label: Spanned<String>,
    products: Spanned<Vec<String>>,
    version: Option<Spanned<String>>,
    exact_version: Option<bool>,
    windows_builds: Option<Spanned<Vec<u32>>>,
    edition: Option<Spanned<String>>,
    name_contains: Option<String>,
    released: Option<Spanned<Datetime>>,
    end_of_active_support: Option<Spanned<Datetime>>,
    end_of_support: Spanned<Datetime>,
    extended_support_end: Option<Spanned<Datetime>>,
    extended_support_name: Option<Spanned<String>>,
    source: Spanned<String>,
    note: Option<String>,
}

fn date(value: &Spanned<Datetime>, key: &str, issues: &mut Issues<'_>) -> Option<NaiveDate> {
    let dt = value.get_ref();
    let ok = match (dt.date, dt.time, dt.offset) {
        (Some(d), None, None) => {
            NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
        }
        _ => None,
    };
    if ok.is_none() {
        issues.at(
            value.span(),
            key,
            format!("`{dt}` is not a date (write YYYY-MM-DD, without a time)"),
        );
    }
    ok
}

pub(super) fn validate(raw: RawTable, issues: &mut Issues<'_>) -> LifecycleTable {
    let mut entries = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for (i, r) in raw.release.into_iter().enumerate() {
        let key = |field: &str| format!("release[{i}].{field}");
        let id = r.id.get_ref().trim().to_owned();
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        {
            issues.at(
                r.id.span(),
                &key("id"),
                format!("`{id}` is not an id (lower-case letters, digits, `-` and `.`)"),
            );
        } else if let Some(first) = seen.insert(id.clone(), i) {
            issues.at(
                r.id.span(),
                &key("id"),
                format!("`{id}` is already the id of release[{first}]"),
            );
        }
        if r.label.get_ref().trim().is_empty() {
            issues.at(r.label.span(), &key("label"), "must not be empty");
        }
        let products: Vec<String> = r
            .products
            .get_ref()
            .iter()
            .map(|p| p.trim().to_owned())
            .collect();
        let windows = products
            .iter()
            .any(|p| WINDOWS_PRODUCTS.contains(&p.as_str()));
        if products.is_empty() || products.iter().any(String::is_empty) {
            issues.at(
                r.products.span(),
                &key("products"),
                "must list at least one non-empty product",
            );
        } else if windows && products.len() > 1 {
            issues.at(
                r.products.span(),
                &key("products"),
                "a Windows entry names exactly one product (`windows` or `windows-server`)",
            );
        }

        let builds = r
            .windows_builds
            .as_ref()
            .map(|b| b.get_ref().clone())
            .unwrap_or_default();
        if windows {
            if let Some(v) = &r.version {
                issues.at(
                    v.span(),
                    &key("version"),
                    "Windows entries match `windows_builds`, not `version`",
                );
            }
            if builds.is_empty() {
                let span = r
                    .windows_builds
                    .as_ref()
                    .map_or(r.products.span(), Spanned::span);
                issues.at(
                    span,
                    &key("windows_builds"),
                    "a Windows entry needs at least one build number",
                );
            }
        } else {
            if let Some(b) = &r.windows_builds {
                issues.at(
                    b.span(),
                    &key("windows_builds"),
                    "only Windows entries have build numbers",
                );
            }
            match &r.version {
                None => issues.at(
                    r.products.span(),
                    &key("version"),
                    "missing: the VERSION_ID this entry is for",
                ),
                Some(v) if v.get_ref().trim().is_empty() => {
                    issues.at(v.span(), &key("version"), "must not be empty")
                }
                Some(_) => {}
            }
        }
        let edition = match &r.edition {
            None => Edition::Any,
            Some(e) => match Edition::parse(e.get_ref()) {
                Some(ed) if ed == Edition::Any || products.iter().any(|p| p == "windows") => ed,
                Some(_) => {
                    issues.at(
                        e.span(),
                        &key("edition"),
                        "editions other than `any` are for `windows` (client) entries only",
                    );
                    Edition::Any
                }
                None => {
                    issues.at(
                        e.span(),
                        &key("edition"),
                        format!(
                            "unknown edition `{}`, expected one of any, consumer, enterprise, ltsc, iot-ltsc",
                            e.get_ref()
                        ),
                    );
                    Edition::Any
                }
            },
        };

        let released = r
            .released
            .as_ref()
            .and_then(|d| date(d, &key("released"), issues));
        let active = r
            .end_of_active_support
            .as_ref()
            .and_then(|d| date(d, &key("end_of_active_support"), issues));
        let end = date(&r.end_of_support, &key("end_of_support"), issues);
        let extended = r
            .extended_support_end
            .as_ref()
            .and_then(|d| date(d, &key("extended_support_end"), issues));
        let order = [
            ("released", released, r.released.as_ref().map(Spanned::span)),
            (
                "end_of_active_support",
                active,
                r.end_of_active_support.as_ref().map(Spanned::span),
            ),
            ("end_of_support", end, Some(r.end_of_support.span())),
            (
                "extended_support_end",
                extended,
                r.extended_support_end.as_ref().map(Spanned::span),
            ),
        ];
        let mut previous: Option<(&str, NaiveDate)> = None;
        for (name, value, span) in order {
            let (Some(value), Some(span)) = (value, span) else {
                continue;
            };
            if let Some((before, prev)) = previous
                && value < prev
            {
                issues.at(
                    span,
                    &key(name),
                    format!("{value} is before {before} ({prev})"),
                );
            }
            previous = Some((name, value));
        }
        match (&r.extended_support_end, &r.extended_support_name) {
            (Some(d), None) => issues.at(
                d.span(),
                &key("extended_support_name"),
                "missing: say what the extended support is called (e.g. ESU, ESM, ELS)",
            ),
            (None, Some(n)) => issues.at(
                n.span(),
                &key("extended_support_name"),
                "given without `extended_support_end`",
            ),
            _ => {}
        }
        let source = r.source.get_ref().trim().to_owned();
        if !source.starts_with("https://") {
            issues.at(
                r.source.span(),
                &key("source"),
                format!("`{source}` is not an https:// URL"),
            );
        }

        // Two entries that match the same hosts make the table ambiguous.
        let version = r.version.as_ref().map(|v| v.get_ref().trim().to_owned());
        for product in &products {
            let match_key = format!(
                "{product}|{}|{builds:?}|{}|{}",
                version.as_deref().unwrap_or_default(),
                edition.as_str(),
                r.name_contains
                    .as_deref()
                    .unwrap_or_default()
                    .to_lowercase()
            );
            if let Some(other) = keys.insert(match_key, id.clone()) {
                issues.at(
                    r.products.span(),
                    &key("products"),
                    format!("`{id}` matches the same hosts as `{other}`"),
                );
            }
        }

        if let Some(end) = end {
            entries.push(LifecycleEntry {
                id,
                label: r.label.into_inner().trim().to_owned(),
                products,
                version,
                exact_version: r.exact_version.unwrap_or(false),
                windows_builds: builds,
                edition,
                name_contains: r.name_contains,
                released,
                end_of_active_support: active,
                end_of_support: end,
                extended_support_end: extended,
                extended_support_name: r.extended_support_name.map(Spanned::into_inner),
                source,
                note: r.note,
            });
        }
    }
    LifecycleTable { entries }
}
