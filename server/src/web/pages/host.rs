//! `/ui/hosts/{host_id}`: one host — its score and state, checks with status, evidence
//! and remediation, the carbon estimate with its explanation (on-premises and per
//! scenario, readiness, the factors and their sources), history charts (CPU, memory,
//! power; [`super::history`]) and the inventory ([`super::inventory`]).

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use estate_protocol::Inventory;

use super::wire;
use crate::carbon::HostEstimate;
use crate::store::{HostRecord, SeriesPoint};
use crate::web::html::{esc, kpi, mass, page, pct1, pill, segment, tdn, thead, thousands, when};
use crate::web::view::{
    CheckText, HostDetail, ReadinessDetail, ResultDetail, readiness_class, readiness_text,
};

/// What the host page shows.
#[derive(Debug)]
pub struct HostView<'a> {
    /// The host (with its inventory JSON).
    pub host: &'a HostRecord,
    /// The inventory, read back; `Err` says why it could not be.
    pub inventory: Result<Option<Inventory>, String>,
    /// The latest assessment, read back; `None` when not assessed yet.
    pub detail: Option<&'a HostDetail>,
    /// The stored assessment exists but could not be read.
    pub detail_unreadable: bool,
    /// Check titles and remediation by id.
    pub checks: &'a HashMap<String, CheckText>,
    /// The history in range, oldest first.
    pub series: &'a [SeriesPoint],
    /// The range's name (`1d`, `7d`, `30d`).
    pub range: &'a str,
    /// The range.
    pub from: DateTime<Utc>,
    /// Its end.
    pub to: DateTime<Utc>,
    /// The stale cutoff.
    pub stale_before: DateTime<Utc>,
}

/// The host page.
pub fn render(v: &HostView<'_>) -> String {
    let h = v.host;
    let mut out = String::with_capacity(32 * 1024);
    summary(&mut out, v);
    match (v.detail, v.detail_unreadable) {
        (Some(d), _) => {
            checks(&mut out, d, v.checks);
            carbon(&mut out, d.carbon.as_ref(), d.readiness.as_ref());
        }
        (None, true) => out.push_str(
            r#"<section><h2>Checks</h2><p class="note">The stored assessment could not be read; it is rewritten at the next assessment.</p></section>"#,
        ),
        (None, false) => out.push_str(
            r#"<section><h2>Checks</h2><p class="note">Not assessed yet: checks and the carbon estimate appear after the host's first assessment.</p></section>"#,
        ),
    }
    super::history::section(&mut out, v);
    match &v.inventory {
        Ok(Some(inv)) => super::inventory::section(&mut out, inv),
        Ok(None) => out.push_str(
            r#"<section id="inventory"><h2>Inventory</h2><p class="note">No full inventory has arrived yet.</p></section>"#,
        ),
        Err(e) => {
            let _ = write!(
                out,
                r#"<section id="inventory"><h2>Inventory</h2><p class="note">The stored inventory could not be read: {}</p></section>"#,
                esc(e)
            );
        }
    }
    let title = if h.hostname.is_empty() {
        h.host_id.as_str()
    } else {
        h.hostname.as_str()
    };
    page(&format!("Host {title}"), "/ui/hosts", &out)
}

fn summary(out: &mut String, v: &HostView<'_>) {
    let h = v.host;
    out.push_str(r#"<section><div class="kpis">"#);
    let (score, band) = v
        .detail
        .map_or((None, None), |d| (d.score.score, d.score.band.as_deref()));
    kpi(
        out,
        crate::web::html::band_class(band),
        "Score",
        &pct1(score),
        band.unwrap_or("unscored"),
    );
    let stale = h.last_seen < v.stale_before;
    kpi(
        out,
        if stale { "red" } else { "" },
        "Last report",
        &when(h.last_seen),
        if stale { "stale" } else { "reporting" },
    );
    kpi(
        out,
        "",
        "OS",
        h.facets
            .os_name
            .as_deref()
            .or(h.facets.os_family.as_deref())
            .unwrap_or("–"),
        h.facets.machine_kind.as_deref().unwrap_or("kind unknown"),
    );
    out.push_str("</div><table class=\"facts\"><tbody>");
    let _ = write!(
        out,
        "<tr><th>Host id</th><td><code>{}</code></td></tr><tr><th>Host name</th><td>{}</td></tr><tr><th>First seen</th><td>{}</td></tr>",
        esc(&h.host_id),
        esc(&h.hostname),
        esc(&when(h.first_seen))
    );
    out.push_str("<tr><th>Labels</th><td>");
    if h.labels.is_empty() {
        out.push('–');
    }
    for (k, val) in &h.labels {
        let _ = write!(
            out,
            r#"<span class="label">{}: {}</span> "#,
            esc(k),
            esc(val)
        );
    }
    out.push_str("</td></tr>");
    if let Some(d) = v.detail {
        let _ = write!(
            out,
            "<tr><th>Assessed</th><td>{} with profile <code>{}</code></td></tr>",
            esc(&d.assessed_at.map_or_else(|| "–".to_owned(), when)),
            esc(&d.profile)
        );
        if !d.score.capped_by.is_empty() {
            let _ = write!(
                out,
                "<tr><th>Band capped by</th><td>{}</td></tr>",
                esc(&d.score.capped_by.join(", "))
            );
        }
    }
    out.push_str("</tbody></table></section>");
}

fn status_rank(status: &str) -> u8 {
    match status {
        "fail" => 0,
        "error" => 1,
        "waived" => 2,
        "pass" => 3,
        _ => 4,
    }
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

fn check_rows(out: &mut String, rows: &[&ResultDetail], texts: &HashMap<String, CheckText>) {
    out.push_str("<table class=\"checks\">");
    thead(
        out,
        &[
            "Check",
            "Category",
            "Severity",
            "Status",
            "Evidence",
            "Remediation",
        ],
    );
    out.push_str("<tbody>");
    for r in rows {
        let text = texts.get(&r.id);
        let _ = write!(
            out,
            r#"<tr><td>{}<div class="id"><code>{}</code></div></td><td>{}</td><td>{}</td><td>{}</td><td>"#,
            esc(text.map_or(r.id.as_str(), |t| t.title.as_str())),
            esc(&r.id),
            esc(&r.category),
            pill(&r.severity, &r.severity),
            pill(&r.status, &r.status.replace('_', " "))
        );
        if let Some(e) = &r.evidence {
            let shown = match e {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let _ = write!(out, "<code>{}</code>", esc(&shown));
        }
        if let Some(e) = &r.error {
            let _ = write!(out, r#"<div class="fix">{}</div>"#, esc(e));
        }
        if let Some(w) = &r.waiver {
            let expires = match &w.expires {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "–".to_owned(),
            };
            let _ = write!(
                out,
                r#"<div class="fix">Waiver ({}): {} — owner {}, expires {}</div>"#,
                esc(&w.state),
                esc(&w.reason),
                esc(&w.owner),
                esc(&expires)
            );
        }
        out.push_str("</td><td>");
        if matches!(r.status.as_str(), "fail" | "waived" | "error")
            && let Some(t) = text
        {
            let _ = write!(out, r#"<span class="fix">{}</span>"#, esc(&t.remediation));
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
}

fn checks(out: &mut String, d: &HostDetail, texts: &HashMap<String, CheckText>) {
    let mut rows: Vec<&ResultDetail> = d.results.iter().collect();
    rows.sort_by(|a, b| {
        status_rank(&a.status)
            .cmp(&status_rank(&b.status))
            .then_with(|| severity_rank(&a.severity).cmp(&severity_rank(&b.severity)))
            .then_with(|| a.id.cmp(&b.id))
    });
    let count = |s: &str| d.results.iter().filter(|r| r.status == s).count();
    let _ = write!(
        out,
        r#"<section id="checks"><h2>Checks</h2><p>{} {} {} {} {}</p>"#,
        pill("fail", &format!("{} fail", count("fail"))),
        pill("error", &format!("{} error", count("error"))),
        pill("waived", &format!("{} waived", count("waived"))),
        pill("pass", &format!("{} pass", count("pass"))),
        pill(
            "not_applicable",
            &format!("{} not applicable", count("not_applicable"))
        ),
    );
    if !d.improvements.is_empty() {
        out.push_str("<h3>What would raise this host's score most</h3><ol>");
        for i in d.improvements.iter().take(5) {
            let title = texts.get(&i.id).map_or(i.id.as_str(), |t| t.title.as_str());
            let _ = write!(
                out,
                "<li>{} <code>{}</code>: +{:.1} pts</li>",
                esc(title),
                esc(&i.id),
                i.gain * 100.0
            );
        }
        out.push_str("</ol>");
    }
    let split = rows
        .iter()
        .position(|r| status_rank(&r.status) >= 3)
        .unwrap_or(rows.len());
    let (open, rest) = rows.split_at(split);
    if open.is_empty() {
        out.push_str(r#"<p class="note">Nothing fails.</p>"#);
    } else {
        check_rows(out, open, texts);
    }
    if !rest.is_empty() {
        let _ = write!(
            out,
            "<details><summary>Passed and not applicable ({})</summary>",
            rest.len()
        );
        check_rows(out, rest, texts);
        out.push_str("</details>");
    }
    out.push_str("</section>");
}

fn notes<T: serde::Serialize>(notes: &[T]) -> String {
    notes.iter().map(wire).collect::<Vec<_>>().join(", ")
}

fn readiness(out: &mut String, r: &ReadinessDetail) {
    let _ = write!(
        out,
        "<h3>Cloud readiness</h3><p>{} from profile <code>{}</code></p>",
        pill(readiness_class(r.readiness), readiness_text(r.readiness)),
        esc(&r.profile)
    );
    if let Some(why) = &r.unknown_because {
        let _ = write!(out, r#"<p class="note">{}</p>"#, esc(why));
    }
    if !r.blockers.is_empty() {
        out.push_str("<ul>");
        for b in &r.blockers {
            let _ = write!(
                out,
                "<li><code>{}</code> ({}, {}) gives {}</li>",
                esc(&b.check_id),
                esc(&b.severity),
                esc(&b.status),
                readiness_text(b.gives)
            );
        }
        out.push_str("</ul>");
    }
}

fn carbon(out: &mut String, e: Option<&HostEstimate>, r: Option<&ReadinessDetail>) {
    out.push_str(r#"<section id="carbon"><h2>Energy and carbon, per year</h2>"#);
    let Some(e) = e else {
        out.push_str(
            r#"<p class="note">No estimate yet: the host has sent no report to estimate from.</p></section>"#,
        );
        return;
    };
    let o = &e.onprem;
    out.push_str(
        r#"<div class="grid2"><table class="facts"><caption>On-premises today</caption><tbody>"#,
    );
    let rows: Vec<(&str, String)> = vec![
        ("Method", wire(&o.method)),
        ("Power at the plug", format!("{:.1} W", o.power_watts)),
        (
            "Measured",
            o.measured_watts
                .map_or_else(|| "nothing measured".to_owned(), |w| format!("{w:.1} W")),
        ),
        ("PUE", format!("{:.2}", o.pue)),
        (
            "Energy (with PUE)",
            format!("{} kWh", thousands(o.energy_kwh_per_year, 0)),
        ),
        ("Location-based", mass(o.location_kgco2e_per_year)),
        ("Market-based", mass(o.market_kgco2e_per_year)),
        ("Embodied (amortised)", mass(o.embodied_kgco2e_per_year)),
        (
            "Total (location + embodied)",
            mass(o.total_kgco2e_per_year()),
        ),
        ("Range", format!("{} – {}", mass(o.low), mass(o.high))),
        ("Grid factor year", o.grid_year.to_string()),
        (
            "CPU match",
            o.cpu_match.as_ref().map_or_else(
                || "–".to_owned(),
                |m| {
                    format!(
                        "{}{}",
                        wire(&m.confidence),
                        m.matched
                            .as_ref()
                            .map_or_else(String::new, |t| format!(": {t}"))
                    )
                },
            ),
        ),
        (
            "Assumptions",
            if o.notes.is_empty() {
                "none".to_owned()
            } else {
                notes(&o.notes)
            },
        ),
    ];
    for (k, v) in rows {
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    out.push_str("</tbody></table><div>");
    if let Some(r) = r {
        readiness(out, r);
    }
    out.push_str("</div></div>");
    if !e.scenarios.is_empty() {
        out.push_str("<h3>Per scenario</h3><table>");
        thead(
            out,
            &[
                "Scenario",
                "Target",
                "Instance",
                "#Power",
                "#Energy (kWh)",
                "#Location",
                "#Market",
                "#Embodied",
                "#Total",
                "#Saved",
                "Readiness",
                "#Confidence",
                "Assumptions",
            ],
        );
        out.push_str("<tbody>");
        for s in &e.scenarios {
            let target = match (&s.provider, &s.region) {
                (Some(p), Some(r)) => format!("{} {}", p.as_str(), r),
                (Some(p), None) => p.as_str().to_owned(),
                _ => wire(&s.kind),
            };
            let _ = write!(
                out,
                r#"<tr><td><a href="/ui/scenarios#{}">{}</a></td>"#,
                esc(&segment(s.name.as_str())),
                esc(s.name.as_str())
            );
            out.push_str(&format!("<td>{}</td>", esc(&target)));
            let instance = s.instance.as_ref().map_or_else(
                || "–".to_owned(),
                |i| format!("{i} ({} vCPU, {:.0} GiB)", s.vcpus, s.memory_gib),
            );
            let _ = write!(out, "<td>{}</td>", esc(&instance));
            tdn(out, &format!("{:.1} W", s.power_watts));
            tdn(out, &thousands(s.energy_kwh_per_year, 0));
            tdn(out, &mass(s.location_kgco2e_per_year));
            tdn(out, &mass(s.market_kgco2e_per_year));
            tdn(out, &mass(s.embodied_kgco2e_per_year));
            tdn(
                out,
                &mass(s.location_kgco2e_per_year + s.embodied_kgco2e_per_year),
            );
            tdn(out, &mass(s.saved_kgco2e_per_year));
            let _ = write!(
                out,
                "<td>{}</td>",
                pill(readiness_class(s.readiness), readiness_text(s.readiness))
            );
            tdn(out, &format!("{}/5", s.confidence));
            let _ = write!(out, "<td>{}</td></tr>", esc(&notes(&s.notes)));
        }
        out.push_str("</tbody></table>");
    }
    if !e.factors.is_empty() {
        let _ = write!(
            out,
            "<details><summary>Factors used ({})</summary><table>",
            e.factors.len()
        );
        thead(out, &["Factor", "#Value", "Unit", "Source", "Version"]);
        out.push_str("<tbody>");
        for f in e.factors.iter() {
            let _ = write!(out, "<tr><td><code>{}</code></td>", esc(&f.name));
            tdn(out, &format!("{}", f.value));
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.unit),
                esc(&f.source),
                esc(&f.version)
            );
        }
        out.push_str("</tbody></table></details>");
    }
    out.push_str(
        r#"<p class="note">kgCO2e a year. The method, its factors and their sources: docs/methodology.md.</p></section>"#,
    );
}
