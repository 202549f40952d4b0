//! `/ui/hosts`: the host list with its search form (a GET form: it works without
//! JavaScript and its URLs can be shared) and keyset pages.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::store::HostRecord;
use crate::web::html::{band_pill, esc, host_link, page, pct1, pill, thead, when};
use crate::web::params::{BANDS, HostsForm};
use crate::web::view::HostBand;

/// One page of the host list.
#[derive(Debug)]
pub struct HostsPage<'a> {
    /// The form as given.
    pub form: &'a HostsForm,
    /// Whether this page starts after a cursor (it is not the first).
    pub after: Option<&'a str>,
    /// The hosts of this page.
    pub hosts: &'a [HostRecord],
    /// Hosts matching the filters, all pages.
    pub total: u64,
    /// The next page's cursor.
    pub next_after: Option<&'a str>,
    /// The stale cutoff.
    pub stale_before: DateTime<Utc>,
    /// OS families known (for the form's suggestions).
    pub os_families: Vec<&'a str>,
}

fn select(out: &mut String, name: &str, label: &str, options: &[&str], chosen: &str) {
    let _ = write!(
        out,
        r#"<label>{label} <select name="{name}"><option value="">any</option>"#
    );
    for o in options {
        let sel = if *o == chosen { " selected" } else { "" };
        let _ = write!(out, r#"<option value="{o}"{sel}>{o}</option>"#, o = esc(o));
    }
    out.push_str("</select></label>");
}

/// The hosts page.
pub fn render(p: &HostsPage<'_>, band: &dyn Fn(&str) -> Option<HostBand>) -> String {
    let mut out = String::with_capacity(8 * 1024 + p.hosts.len() * 512);
    let f = p.form;
    out.push_str(r#"<form class="filters" method="get" action="/ui/hosts">"#);
    let _ = write!(
        out,
        r#"<label>Search <input type="search" name="q" value="{}" placeholder="host name or id"></label>"#,
        esc(&f.q)
    );
    select(&mut out, "band", "Band", &BANDS, &f.band);
    let _ = write!(
        out,
        r#"<label>OS <input type="text" name="os" value="{}" list="os-families" placeholder="family, id or name"></label><datalist id="os-families">"#,
        esc(&f.os)
    );
    for o in &p.os_families {
        let _ = write!(out, r#"<option value="{}">"#, esc(o));
    }
    out.push_str("</datalist>");
    select(
        &mut out,
        "kind",
        "Kind",
        &["physical", "vm", "container", "unknown"],
        &f.kind,
    );
    let labels: Vec<&str> = if f.labels.is_empty() {
        vec![""]
    } else {
        f.labels.iter().map(String::as_str).collect()
    };
    for l in labels {
        let _ = write!(
            out,
            r#"<label>Label <input type="text" name="label" value="{}" placeholder="key:value"></label>"#,
            esc(l)
        );
    }
    select(
        &mut out,
        "state",
        "State",
        &["reporting", "stale"],
        &f.state,
    );
    if !f.limit.is_empty() {
        let _ = write!(
            out,
            r#"<input type="hidden" name="limit" value="{}">"#,
            esc(&f.limit)
        );
    }
    out.push_str(r#"<button type="submit">Filter</button>"#);
    if f.filtered() {
        out.push_str(r#" <a href="/ui/hosts">Clear</a>"#);
    }
    out.push_str("</form>");

    let _ = write!(
        out,
        r#"<p class="note">{} host{} match{}. {}</p>"#,
        crate::web::html::thousands(p.total as f64, 0),
        if p.total == 1 { "" } else { "s" },
        if p.total == 1 { "es" } else { "" },
        if p.after.is_some() {
            format!(r#"<a href="{}">First page</a>"#, esc(&f.url(None)))
        } else {
            String::new()
        }
    );
    if !p.hosts.is_empty() {
        out.push_str(r#"<table class="hosts">"#);
        thead(
            &mut out,
            &[
                "Host",
                "Band",
                "#Score",
                "OS",
                "Kind",
                "Labels",
                "Last report",
            ],
        );
        out.push_str("<tbody>");
        for h in p.hosts {
            out.push_str("<tr><td>");
            out.push_str(&host_link(&h.host_id, &h.hostname));
            if h.hostname != h.host_id {
                let _ = write!(
                    out,
                    r#"<div class="id"><code>{}</code></div>"#,
                    esc(&h.host_id)
                );
            }
            out.push_str("</td>");
            let b = band(&h.host_id);
            let _ = write!(
                out,
                r#"<td>{}</td><td class="n">{}</td>"#,
                band_pill(b.as_ref().and_then(|b| b.band.as_deref())),
                esc(&pct1(b.as_ref().and_then(|b| b.score)))
            );
            let os = h
                .facets
                .os_name
                .as_deref()
                .or(h.facets.os_family.as_deref())
                .unwrap_or("–");
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td><td>",
                esc(os),
                esc(h.facets.machine_kind.as_deref().unwrap_or("–"))
            );
            for (k, v) in &h.labels {
                let _ = write!(out, r#"<span class="label">{}: {}</span> "#, esc(k), esc(v));
            }
            let _ = write!(out, "</td><td>{}", esc(&when(h.last_seen)));
            if h.last_seen < p.stale_before {
                out.push(' ');
                out.push_str(&pill("stale", "stale"));
            }
            out.push_str("</td></tr>");
        }
        out.push_str("</tbody></table>");
    }
    if let Some(next) = p.next_after {
        let _ = write!(
            out,
            r#"<p class="pager"><a href="{}" rel="next">Next page →</a></p>"#,
            esc(&f.url(Some(next)))
        );
    }
    page("Hosts", "/ui/hosts", &out)
}
