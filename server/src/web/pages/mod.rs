//! The pages, each a pure function from the data its handler read to a complete HTML
//! document ([`super::html::page`]). No I/O, no clock: times are passed in.

pub mod checks;
pub mod error;
pub mod history;
pub mod host;
pub mod hosts;
pub mod inventory;
pub mod overview;
pub mod reports;
pub mod scenarios;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::html::{esc, query, thousands};

/// Fill colours of the charts (SVG presentation attributes, allowed by the CSP).
pub(crate) const GREEN: &str = "#1e7b34";
pub(crate) const AMBER: &str = "#c27c0e";
pub(crate) const RED: &str = "#b42318";
pub(crate) const GREY: &str = "#9aa1ab";
pub(crate) const BLUE: &str = "#2f5d8a";

/// The band a score falls in with these thresholds.
pub(crate) fn band_of(score: f64, green_at: f64, amber_at: f64) -> &'static str {
    if score >= green_at {
        "green"
    } else if score >= amber_at {
        "amber"
    } else {
        "red"
    }
}

/// A table of counts (`name`, hosts), largest first, each name linking to the hosts
/// page filtered by `param` (`value(name)` gives the parameter's value; `None` for a
/// name that is not a filter, such as `unknown`).
pub(crate) fn count_table(
    out: &mut String,
    caption: &str,
    counts: &BTreeMap<String, u64>,
    param: &str,
    value: impl Fn(&str) -> Option<String>,
) {
    let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
    rows.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let _ = write!(
        out,
        r#"<table class="counts"><caption>{}</caption><tbody>"#,
        esc(caption)
    );
    for (name, n) in rows {
        out.push_str("<tr><td>");
        match value(name) {
            Some(v) => {
                let url = format!("/ui/hosts{}", query(&[(param, &v)]));
                let _ = write!(out, r#"<a href="{}">{}</a>"#, esc(&url), esc(name));
            }
            None => out.push_str(&esc(name)),
        }
        let _ = write!(
            out,
            r#"</td><td class="n">{}</td></tr>"#,
            thousands(*n as f64, 0)
        );
    }
    out.push_str("</tbody></table>");
}

/// An enum's wire name (`not_uefi`, `modelled_vm`), as the API spells it.
pub(crate) fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => "–".to_owned(),
    }
}
