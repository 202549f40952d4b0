//! The pieces every page is made of: the page shell (head, navigation, footer), the one
//! escaping function ([`esc`], the report's, re-exported so there is exactly one), URL
//! building (path segments percent-encoded, query strings form-encoded, then escaped
//! into the attribute), and small formatters. Pure: strings in, strings out.
//!
//! Rules every page follows: each piece of text that came from an agent, a config file
//! or the store goes through [`esc`]; every attribute value is double-quoted; there are
//! no `style` attributes, no `<style>` or `<script>` elements and no external
//! references (the Content-Security-Policy in [`super::CSP`] would block them).

use std::fmt::Write as _;

pub use crate::report::render::html::esc;
pub use crate::report::render::{mass, pct, pct1, thousands};

/// The pages in the navigation bar: (path, title).
const NAV: [(&str, &str); 5] = [
    ("/ui/", "Overview"),
    ("/ui/hosts", "Hosts"),
    ("/ui/checks", "Checks"),
    ("/ui/scenarios", "Scenarios"),
    ("/ui/reports", "Reports"),
];

/// Characters a path segment keeps as they are (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes `text` as one URL path segment: everything but the unreserved
/// characters, so `/`, `?`, `#`, `%` and `..` cannot change the path.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if unreserved(b) && !(b == b'.' && (text == "." || text == "..")) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `/ui/hosts/{host_id}` with the id percent-encoded (not yet HTML-escaped).
pub fn host_url(host_id: &str) -> String {
    format!("/ui/hosts/{}", segment(host_id))
}

/// A form-encoded query string (`?a=1&b=x+y`) of the non-empty pairs; empty when none.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        s.append_pair(k, v);
    }
    let q = s.finish();
    if q.is_empty() { q } else { format!("?{q}") }
}

/// A link: `<a href="URL">TEXT</a>`, both escaped.
pub fn link(url: &str, text: &str) -> String {
    format!(r#"<a href="{}">{}</a>"#, esc(url), esc(text))
}

/// A link to a host's page, showing its name (and its id when they differ).
pub fn host_link(host_id: &str, hostname: &str) -> String {
    let name = if hostname.is_empty() {
        host_id
    } else {
        hostname
    };
    link(&host_url(host_id), name)
}

/// The CSS class of a band (`green`, `amber`, `red`; `unscored` otherwise).
pub fn band_class(band: Option<&str>) -> &'static str {
    match band {
        Some("green") => "green",
        Some("amber") => "amber",
        Some("red") => "red",
        _ => "unscored",
    }
}

/// A coloured label: `<span class="pill CLASS">TEXT</span>`. `class` must be one of the
/// stylesheet's classes; it is escaped all the same.
pub fn pill(class: &str, text: &str) -> String {
    format!(
        r#"<span class="pill {}">{}</span>"#,
        esc(&class.replace('_', "-")),
        esc(text)
    )
}

/// A band as a pill (`unscored` when none).
pub fn band_pill(band: Option<&str>) -> String {
    pill(band_class(band), band.unwrap_or("unscored"))
}

/// A figure: title, the number, and a line under it.
pub fn kpi(out: &mut String, class: &str, title: &str, number: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="kpi {}"><div class="t">{}</div><div class="n">{}</div><div class="s">{}</div></div>"#,
        esc(class),
        esc(title),
        esc(number),
        esc(sub)
    );
}

/// A table head; a header starting with `#` is a number column (right-aligned).
pub fn thead(out: &mut String, headers: &[&str]) {
    out.push_str("<thead><tr>");
    for h in headers {
        let (class, text) = match h.strip_prefix('#') {
            Some(t) => (r#" class="n""#, t),
            None => ("", *h),
        };
        let _ = write!(out, "<th{class}>{}</th>", esc(text));
    }
    out.push_str("</tr></thead>");
}

/// A cell of escaped text.
pub fn td(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", esc(text));
}

/// A number cell of escaped text.
pub fn tdn(out: &mut String, text: &str) {
    let _ = write!(out, r#"<td class="n">{}</td>"#, esc(text));
}

/// A cell of markup the caller has built (and escaped) already.
pub fn td_html(out: &mut String, html: &str) {
    let _ = write!(out, "<td>{html}</td>");
}

/// Bytes as `12.3 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A time as `2026-11-27 09:00 UTC`.
pub fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// One page: the shell around `body` (already HTML). `active` is the navigation entry
/// to mark (its path), `title` the page's heading (escaped here).
pub fn page(title: &str, active: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 2048);
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer"><title>{t} · Estate</title><link rel="stylesheet" href="/ui/style.css"></head><body><header class="top"><div class="in"><a class="brand" href="/ui/">Estate</a><nav>"#,
        t = esc(title)
    );
    for (path, name) in NAV {
        let current = if path == active {
            r#" aria-current="page" class="on""#
        } else {
            ""
        };
        let _ = write!(out, r#"<a href="{path}"{current}>{name}</a>"#);
    }
    let _ = write!(
        out,
        r#"</nav></div></header><main><h1>{}</h1>{body}</main><footer>Estate collector {} · server-rendered, no scripts</footer></body></html>"#,
        esc(title),
        esc(env!("CARGO_PKG_VERSION"))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cannot_change_the_path() {
        assert_eq!(segment("web-01.example_x~"), "web-01.example_x~");
        assert_eq!(segment("a/b"), "a%2Fb");
        assert_eq!(segment("../etc?x#y"), "..%2Fetc%3Fx%23y");
        assert_eq!(segment(".."), "%2E%2E");
        assert_eq!(segment("."), "%2E");
        assert_eq!(segment("<a b>&é"), "%3Ca%20b%3E%26%C3%A9");
        assert_eq!(host_url("h/1"), "/ui/hosts/h%2F1");
    }

    #[test]
    fn queries_drop_empty_values_and_encode() {
        assert_eq!(query(&[("q", ""), ("os", "")]), "");
        assert_eq!(
            query(&[("q", "a b&c"), ("band", "red"), ("os", "")]),
            "?q=a+b%26c&band=red"
        );
    }

    #[test]
    fn the_shell_escapes_the_title_and_marks_the_page() {
        let html = page("<x>", "/ui/hosts", "<p>body</p>");
        assert!(html.contains("<title>&lt;x&gt; · Estate</title>"));
        assert!(html.contains(r#"<a href="/ui/hosts" aria-current="page" class="on">Hosts</a>"#));
        assert!(!html.contains("<x>"));
        assert!(!html.contains("style="));
        assert!(!html.contains("<script"));
    }

    #[test]
    fn small_formatters() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024 * 1024), "3.0 GiB");
        assert_eq!(
            band_pill(Some("red")),
            r#"<span class="pill red">red</span>"#
        );
        assert_eq!(
            band_pill(None),
            r#"<span class="pill unscored">unscored</span>"#
        );
        assert_eq!(
            host_link("h&1", "<b>"),
            r#"<a href="/ui/hosts/h%261">&lt;b&gt;</a>"#
        );
    }
}
