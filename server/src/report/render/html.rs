//! The report as one self-contained HTML file: inline CSS, inline SVG charts, no
//! scripts, no fonts, images or styles fetched from anywhere (URLs in sources are shown
//! as text, never linked), and a print style for paper and PDF. Every piece of text
//! from the estate is escaped.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::svg::{self, Bar, Segment};
use super::{
    MAX_APPENDIX_ROWS, MAX_LIST_ROWS, day, hosts, key_points, mass, pct, pct1, points, thousands,
    windows11_title,
};
use crate::report::model::{CapacityRow, Count, Report};

const GREEN: &str = "#1e7b34";
const AMBER: &str = "#c27c0e";
const RED: &str = "#b42318";
const GREY: &str = "#9aa1ab";
const BLUE: &str = "#2f5d8a";
const TEAL: &str = "#7fa7c9";

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 16);
    for ch in text.chars() {
        match ch {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    Cow::Owned(s)
}

const STYLE: &str = r#"
:root{--ink:#1d232b;--muted:#5b6470;--line:#dde1e6;--bg:#f6f7f9;--green:#1e7b34;--amber:#c27c0e;--red:#b42318}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans",sans-serif}
main{max-width:1120px;margin:0 auto;padding:0 20px 40px}
header.top{background:#17324d;color:#fff;padding:22px 0 18px}
header.top .in{max-width:1120px;margin:0 auto;padding:0 20px}
header.top h1{margin:0;font-size:26px;font-weight:650}
header.top p{margin:4px 0 0;color:#c9d6e3}
nav.toc{max-width:1120px;margin:0 auto;padding:10px 20px;font-size:13px}
nav.toc a{color:#17324d;margin-right:14px;text-decoration:none;border-bottom:1px solid #9fb3c8}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:18px 22px;margin:16px 0}
h2{font-size:20px;margin:0 0 12px;color:#17324d}
h3{font-size:15px;margin:18px 0 8px;color:#33404d}
p.note,.muted{color:var(--muted);font-size:13px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin:4px 0 14px}
.kpi{border:1px solid var(--line);border-left:5px solid #17324d;border-radius:6px;padding:10px 12px;background:#fbfcfd}
.kpi .n{font-size:26px;font-weight:700;line-height:1.1}
.kpi .t{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.kpi .s{font-size:12.5px;color:var(--muted)}
.kpi.green{border-left-color:var(--green)}.kpi.amber{border-left-color:var(--amber)}.kpi.red{border-left-color:var(--red)}
ul.points{margin:6px 0 4px;padding-left:20px}ul.points li{margin:3px 0}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:10px 26px}
figure{margin:6px 0 10px}figcaption{font-size:13px;font-weight:600;color:#33404d;margin-bottom:4px}
svg.chart{width:100%;max-width:640px;height:auto;display:block}
.legend{font-size:12px;color:#33404d;margin:4px 0 0}.legend span{margin-right:16px;white-space:nowrap}.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;vertical-align:-1px}
svg.chart text{font:11.5px -apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#33404d}
svg.chart text.v{fill:#1d232b;font-weight:600}svg.chart text.m{fill:#6b7480;font-size:10.5px}
svg.chart text.in{fill:#fff;font-weight:700}
svg.chart .mark{stroke:#6b7480;stroke-dasharray:3 3;stroke-width:1}
svg.chart .grid{stroke:#e7eaee;stroke-width:1}
svg.chart .trend{fill:none;stroke:#17324d;stroke-width:2}svg.chart .dot{fill:#17324d}
svg.mini{width:120px;height:12px;vertical-align:middle}svg.mini .none{fill:#eceff2}
table{border-collapse:collapse;width:100%;font-size:13.5px;margin:4px 0 8px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f0f3f6;font-weight:600;font-size:12.5px;color:#33404d}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sub td{color:var(--muted)}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f0f3f6;padding:0 3px;border-radius:3px}
.pill{display:inline-block;padding:0 7px;border-radius:9px;font-size:11.5px;font-weight:600;color:#fff;background:#6b7480;white-space:nowrap}
.pill.critical,.pill.red,.pill.ended{background:var(--red)}.pill.high{background:#d9480f}.pill.medium,.pill.amber,.pill.ending{background:var(--amber)}
.pill.low{background:#5b7aa0}.pill.info{background:#9aa1ab}.pill.green{background:var(--green)}.pill.unscored{background:#9aa1ab}
.fix{color:var(--muted);font-size:12.5px}
.up{color:var(--green)}.down{color:var(--red)}
footer{color:var(--muted);font-size:12px;text-align:center;margin:20px 0}
@media (max-width:700px){.grid2{grid-template-columns:1fr}}
@media print{
 @page{size:A4;margin:14mm 12mm}
 body{background:#fff;font-size:10.5pt}
 header.top{background:#fff;color:#000;border-bottom:2px solid #17324d;padding:0 0 8px}
 header.top p{color:#333}
 nav.toc{display:none}
 main{max-width:none;padding:0}
 section{border:none;border-radius:0;padding:0;margin:0 0 10mm}
 section.major{break-before:page}
 .kpi,figure,tr{break-inside:avoid}
 h2,h3{break-after:avoid}
 .grid2{grid-template-columns:1fr 1fr}
 table{font-size:9pt}
 .pill{border:1px solid #555;color:#000;background:#fff!important}
}
"#;

fn band_class(band: Option<&str>) -> &'static str {
    match band {
        Some("green") => "green",
        Some("amber") => "amber",
        Some("red") => "red",
        _ => "unscored",
    }
}

fn pill(out: &mut String, class: &str, text: &str) {
    let _ = write!(
        out,
        r#"<span class="pill {}">{}</span>"#,
        esc(class),
        esc(text)
    );
}

fn kpi(out: &mut String, class: &str, title: &str, number: &str, sub: &str) {
    let _ = write!(
        out,
        r#"<div class="kpi {class}"><div class="t">{}</div><div class="n">{}</div><div class="s">{}</div></div>"#,
        esc(title),
        esc(number),
        esc(sub)
    );
}

fn th(out: &mut String, headers: &[&str]) {
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

fn td(out: &mut String, text: &str) {
    let _ = write!(out, "<td>{}</td>", esc(text));
}

fn tdn(out: &mut String, text: &str) {
    let _ = write!(out, r#"<td class="n">{}</td>"#, esc(text));
}

fn more(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        let _ = write!(
            out,
            r#"<p class="note">{} more {} are in the CSV and JSON files of this report.</p>"#,
            thousands((total - shown) as f64, 0),
            esc(what)
        );
    }
}

fn count_bars(counts: &[Count], top: usize, colour: &'static str) -> Vec<Bar> {
    let mut bars: Vec<Bar> = counts
        .iter()
        .take(top)
        .map(|c| Bar {
            label: c.name.clone(),
            value: c.hosts as f64,
            colour,
            text: thousands(c.hosts as f64, 0),
        })
        .collect();
    if counts.len() > top {
        let rest: usize = counts[top..].iter().map(|c| c.hosts).sum();
        bars.push(Bar {
            label: format!("{} others", counts.len() - top),
            value: rest as f64,
            colour: GREY,
            text: thousands(rest as f64, 0),
        });
    }
    bars
}

fn score_colour(score: f64, r: &Report) -> &'static str {
    if score >= r.summary.green_at {
        GREEN
    } else if score >= r.summary.amber_at {
        AMBER
    } else {
        RED
    }
}

fn summary(out: &mut String, r: &Report) {
    let s = &r.summary;
    out.push_str(r#"<section id="summary"><h2>Estate summary</h2><div class="kpis">"#);
    let trend = s
        .trend
        .as_ref()
        .and_then(|t| {
            t.score_change
                .map(|c| format!("{} since {}", points(c), t.previous_at.format("%Y-%m-%d")))
        })
        .unwrap_or_else(|| {
            format!(
                "green from {}, amber from {}",
                pct(Some(s.green_at)),
                pct(Some(s.amber_at))
            )
        });
    kpi(
        out,
        band_class(s.band.as_deref()),
        "Estate score",
        &pct1(s.score),
        &format!("{} · {trend}", s.band.as_deref().unwrap_or("unscored")),
    );
    kpi(
        out,
        "",
        "Hosts",
        &thousands(s.hosts as f64, 0),
        &format!(
            "{} assessed, {} stale",
            thousands(s.assessed_hosts as f64, 0),
            s.stale_hosts
        ),
    );
    kpi(
        out,
        if s.bands.red > 0 { "red" } else { "green" },
        "Red hosts",
        &thousands(s.bands.red as f64, 0),
        &format!(
            "{} with a critical failure",
            hosts(r.risks.hosts_with_critical_failures)
        ),
    );
    let l = &r.lifecycle;
    kpi(
        out,
        if l.os_ended_hosts > 0 {
            "red"
        } else if l.os_ending_hosts > 0 {
            "amber"
        } else {
            "green"
        },
        "OS support",
        &thousands((l.os_ended_hosts + l.os_ending_hosts) as f64, 0),
        &format!(
            "{} ended, {} ending in {} days",
            l.os_ended_hosts, l.os_ending_hosts, l.horizon_days
        ),
    );
    let c = &r.carbon;
    kpi(
        out,
        "",
        "Carbon today",
        &mass(c.onprem.total_kgco2e_per_year),
        &format!(
            "CO2e/yr, {} kWh/yr",
            thousands(c.onprem.energy_kwh_per_year, 0)
        ),
    );
    if let Some(best) = c
        .scenarios
        .iter()
        .filter(|s| s.saved_kgco2e_per_year > 0.0)
        .max_by(|a, b| a.saved_kgco2e_per_year.total_cmp(&b.saved_kgco2e_per_year))
    {
        kpi(
            out,
            "green",
            "Best scenario saves",
            &mass(best.saved_kgco2e_per_year),
            &format!("CO2e/yr · {} ({})", best.name, pct(best.saved_ratio)),
        );
    }
    out.push_str("</div><h3>Key points</h3><ul class=\"points\">");
    for p in key_points(r) {
        let _ = write!(out, "<li>{}</li>", esc(&p));
    }
    out.push_str("</ul><div class=\"grid2\"><div>");

    out.push_str("<figure><figcaption>Hosts by band</figcaption>");
    svg::stacked(
        out,
        "Hosts by band",
        &[
            Segment {
                label: "green".into(),
                value: s.bands.green as f64,
                colour: GREEN,
            },
            Segment {
                label: "amber".into(),
                value: s.bands.amber as f64,
                colour: AMBER,
            },
            Segment {
                label: "red".into(),
                value: s.bands.red as f64,
                colour: RED,
            },
            Segment {
                label: "unscored".into(),
                value: s.bands.unscored as f64,
                colour: GREY,
            },
        ],
    );
    out.push_str("</figure>");

    if r.history.len() > 1 {
        out.push_str("<figure><figcaption>Estate score, report by report</figcaption>");
        let pts: Vec<(String, Option<f64>)> = r
            .history
            .iter()
            .map(|h| (h.generated_at.format("%Y-%m-%d").to_string(), h.score))
            .collect();
        svg::line(
            out,
            "Estate score over time",
            &pts,
            &[(s.green_at, "green"), (s.amber_at, "amber")],
        );
        out.push_str("</figure>");
    }
    out.push_str("</div>");
    out.push_str("<figure><figcaption>Score by category</figcaption>");
    let bars: Vec<Bar> = s
        .categories
        .iter()
        .map(|c| Bar {
            label: c.category.clone(),
            value: c.score,
            colour: score_colour(c.score, r),
            text: pct1(Some(c.score)),
        })
        .collect();
    svg::hbars(
        out,
        "Estate score by category",
        &bars,
        Some(1.0),
        &[(s.amber_at, "amber"), (s.green_at, "green")],
    );
    out.push_str("</figure>");

    out.push_str("<figure><figcaption>Hosts by type</figcaption>");
    svg::hbars(
        out,
        "Hosts by type",
        &count_bars(&s.by_type, 8, BLUE),
        None,
        &[],
    );
    out.push_str("</figure><figure><figcaption>Hosts by operating system</figcaption>");
    svg::hbars(
        out,
        "Hosts by operating system",
        &count_bars(&s.by_os, 8, BLUE),
        None,
        &[],
    );
    out.push_str("</figure><figure><figcaption>Hosts by site</figcaption>");
    svg::hbars(
        out,
        "Hosts by site",
        &count_bars(&s.by_site, 8, BLUE),
        None,
        &[],
    );
    out.push_str("</figure></div></section>");
}

fn risks(out: &mut String, r: &Report) {
    out.push_str(
        r#"<section id="risks" class="major"><h2>Top risks and what raises the score most</h2>"#,
    );
    if r.risks.top.is_empty() {
        out.push_str(r#"<p class="note">No check fails on any host.</p>"#);
    } else {
        out.push_str("<h3>Top risks</h3><table>");
        th(
            out,
            &[
                "Severity",
                "Check",
                "#Hosts failing",
                "#Of applicable",
                "What to do",
            ],
        );
        out.push_str("<tbody>");
        for k in &r.risks.top {
            out.push_str("<tr><td>");
            pill(out, &k.severity, &k.severity);
            let _ = write!(
                out,
                "</td><td>{}<br><code>{}</code></td>",
                esc(&k.title),
                esc(&k.id)
            );
            tdn(out, &thousands(k.failing_hosts as f64, 0));
            tdn(out, &pct(Some(k.failing_ratio)));
            let _ = write!(
                out,
                r#"<td class="fix">{}</td></tr>"#,
                esc(&first_sentence(&k.remediation))
            );
        }
        out.push_str("</tbody></table>");
    }
    if !r.risks.improvements.is_empty() {
        out.push_str("<h3>What would raise the estate score most</h3><table>");
        th(out, &["Fix", "#Hosts", "#Estate score gained"]);
        out.push_str("<tbody>");
        for g in &r.risks.improvements {
            let _ = write!(
                out,
                "<tr><td>{}<br><code>{}</code> ",
                esc(&g.title),
                esc(&g.id)
            );
            pill(out, &g.severity, &g.severity);
            out.push_str("</td>");
            tdn(out, &thousands(g.failing_hosts as f64, 0));
            tdn(out, &points(g.gain));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if !r.risks.worst_hosts.is_empty() {
        out.push_str("<h3>Lowest-scoring hosts</h3><table>");
        th(out, &["Host", "#Score", "Band", "Critical checks failing"]);
        out.push_str("<tbody>");
        for h in &r.risks.worst_hosts {
            out.push_str("<tr>");
            td(out, &h.hostname);
            tdn(out, &pct1(h.score));
            out.push_str("<td>");
            pill(
                out,
                band_class(h.band.as_deref()),
                h.band.as_deref().unwrap_or("unscored"),
            );
            out.push_str("</td>");
            td(out, &h.critical_failures.join(", "));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

/// The first sentence (or line) of a remediation text.
fn first_sentence(text: &str) -> String {
    let flat = text.replace('\n', " ");
    match flat.find(". ") {
        Some(i) => flat[..=i].to_owned(),
        None => flat,
    }
}

fn checks(out: &mut String, r: &Report) {
    out.push_str(r#"<section id="checks" class="major"><h2>Checks across the fleet</h2><p class="note">Bars: pass (green), fail (red), waived (grey), error (amber); hosts a check does not apply to are left out.</p><table>"#);
    th(
        out,
        &[
            "Check",
            "Category",
            "Severity",
            "Pass / fail",
            "#Pass",
            "#Fail",
            "#Waived",
            "#Error",
            "#N/A",
            "#Pass rate",
        ],
    );
    out.push_str("<tbody>");
    for c in &r.checks {
        let _ = write!(
            out,
            "<tr><td>{}<br><code>{}</code></td>",
            esc(&c.title),
            esc(&c.id)
        );
        td(out, &c.category);
        out.push_str("<td>");
        pill(out, &c.severity, &c.severity);
        out.push_str("</td><td>");
        svg::mini(
            out,
            [
                (c.pass, GREEN),
                (c.fail, RED),
                (c.waived, GREY),
                (c.error, AMBER),
            ],
        );
        out.push_str("</td>");
        for n in [c.pass, c.fail, c.waived, c.error, c.not_applicable] {
            tdn(out, &thousands(n as f64, 0));
        }
        tdn(out, &pct(c.pass_ratio));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

/// The Windows 11 readiness section (only when there are Windows 10 hosts).
fn windows11(out: &mut String, r: &Report) {
    let Some(w) = &r.windows11 else {
        return;
    };
    out.push_str(r#"<section id="windows11" class="major"><h2>Windows 11 readiness</h2>"#);
    let _ = write!(
        out,
        r#"<p>{} run Windows 10, which left regular support on 14 October 2025.</p>"#,
        esc(&hosts(w.windows10_hosts))
    );
    out.push_str(r#"<div class="kpis">"#);
    kpi(
        out,
        "green",
        "Ready",
        &thousands(w.ready_hosts as f64, 0),
        "meet every requirement",
    );
    kpi(
        out,
        if w.not_ready_hosts > 0 {
            "red"
        } else {
            "green"
        },
        "Not ready",
        &thousands(w.not_ready_hosts as f64, 0),
        "miss at least one requirement",
    );
    kpi(
        out,
        if w.unknown_hosts > 0 {
            "amber"
        } else {
            "green"
        },
        "Cannot be judged",
        &thousands(w.unknown_hosts as f64, 0),
        "a requirement is unknown",
    );
    out.push_str("</div><table>");
    th(out, &["Requirement", "#Hosts blocked", "#Hosts unknown"]);
    out.push_str("<tbody>");
    for q in &w.requirements {
        out.push_str("<tr>");
        td(out, &q.title);
        tdn(out, &thousands(q.blocked_hosts as f64, 0));
        tdn(out, &thousands(q.unknown_hosts as f64, 0));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table><table>");
    th(out, &["Host", "Status", "Blocked by", "Unknown", "CPU"]);
    out.push_str("<tbody>");
    let titles = |ids: &[String]| {
        ids.iter()
            .map(|id| windows11_title(id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for h in w.hosts.iter().take(MAX_LIST_ROWS) {
        out.push_str("<tr>");
        td(out, &h.hostname);
        td(out, &h.status.replace('_', " "));
        td(out, &titles(&h.blockers));
        td(out, &titles(&h.unknown));
        td(out, h.cpu_model.as_deref().unwrap_or("–"));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if w.hosts.len() > MAX_LIST_ROWS {
        let _ = write!(
            out,
            r#"<p class="note">{} more Windows 10 hosts in the JSON and CSV reports.</p>"#,
            w.hosts.len() - MAX_LIST_ROWS
        );
    }
    out.push_str("</section>");
}

fn lifecycle(out: &mut String, r: &Report) {
    let l = &r.lifecycle;
    let _ = write!(
        out,
        r#"<section id="lifecycle" class="major"><h2>Lifecycle: end of life in the next {} days</h2>"#,
        l.horizon_days
    );
    out.push_str(r#"<div class="kpis">"#);
    kpi(
        out,
        if l.os_ended_hosts > 0 { "red" } else { "green" },
        "OS support ended",
        &thousands(l.os_ended_hosts as f64, 0),
        "hosts on an unsupported release",
    );
    kpi(
        out,
        if l.os_ending_hosts > 0 {
            "amber"
        } else {
            "green"
        },
        "OS support ending",
        &thousands(l.os_ending_hosts as f64, 0),
        &format!("hosts, within {} days", l.horizon_days),
    );
    kpi(
        out,
        if l.hardware_overdue_hosts > 0 {
            "amber"
        } else {
            "green"
        },
        "Hardware past refresh",
        &thousands(l.hardware_overdue_hosts as f64, 0),
        &format!("physical hosts over {} years", l.refresh_age_years),
    );
    kpi(
        out,
        "",
        "Hardware due",
        &thousands(l.hardware_due_hosts as f64, 0),
        &format!(
            "reach {} years within {} days",
            l.refresh_age_years, l.horizon_days
        ),
    );
    out.push_str("</div>");
    out.push_str("<h3>Operating systems</h3>");
    if l.os.is_empty() {
        out.push_str(r#"<p class="note">No host's OS support ends within the horizon.</p>"#);
    } else {
        out.push_str("<table>");
        th(
            out,
            &[
                "Release",
                "Status",
                "End of support",
                "#Days left",
                "Extended support to",
                "#Hosts",
            ],
        );
        out.push_str("<tbody>");
        for o in &l.os {
            out.push_str("<tr>");
            td(out, &o.release);
            out.push_str("<td>");
            pill(out, &o.status, &o.status);
            out.push_str("</td>");
            td(out, &day(o.end_of_support));
            tdn(
                out,
                &o.days_left
                    .map_or_else(|| "–".to_owned(), |d| d.to_string()),
            );
            td(out, &day(o.extended_support_end));
            tdn(out, &thousands(o.hosts as f64, 0));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if l.os_unknown_hosts > 0 {
        let _ = write!(
            out,
            r#"<p class="note">{} have an OS release whose support dates are not in the lifecycle table.</p>"#,
            esc(&hosts(l.os_unknown_hosts))
        );
    }
    out.push_str("<h3>Physical hardware</h3>");
    if l.hardware.is_empty() {
        out.push_str(
            r#"<p class="note">No physical host reaches its refresh age within the horizon.</p>"#,
        );
    } else {
        out.push_str("<table>");
        th(
            out,
            &[
                "Model",
                "#Hosts",
                "#Already past",
                "Oldest BIOS date",
                "First due",
            ],
        );
        out.push_str("<tbody>");
        for h in l.hardware.iter().take(MAX_LIST_ROWS) {
            out.push_str("<tr>");
            td(out, &h.model);
            tdn(out, &thousands(h.hosts as f64, 0));
            tdn(out, &thousands(h.overdue as f64, 0));
            td(out, &day(h.oldest_bios_date));
            td(out, &day(h.first_due));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        more(
            out,
            MAX_LIST_ROWS.min(l.hardware.len()),
            l.hardware.len(),
            "models",
        );
    }
    if l.hardware_unknown_hosts > 0 {
        let _ = write!(
            out,
            r#"<p class="note">{} physical have no readable BIOS date.</p>"#,
            esc(&hosts(l.hardware_unknown_hosts))
        );
    }
    out.push_str("</section>");
}

fn capacity_table(out: &mut String, rows: &[CapacityRow]) {
    out.push_str("<table>");
    th(
        out,
        &[
            "Host",
            "#CPU p95",
            "#Memory p95",
            "#Memory",
            "Fullest filesystem",
            "Why",
        ],
    );
    out.push_str("<tbody>");
    for c in rows.iter().take(MAX_LIST_ROWS) {
        out.push_str("<tr>");
        td(out, &c.hostname);
        tdn(out, &pct(c.cpu_p95_ratio));
        tdn(out, &pct(c.memory_p95_ratio));
        tdn(
            out,
            &c.memory_gib
                .map_or_else(|| "–".to_owned(), |g| format!("{g:.0} GiB")),
        );
        td(
            out,
            &match (&c.min_available_mount, c.min_available_ratio) {
                (Some(m), Some(r)) => format!("{m}: {} free", pct(Some(r))),
                _ => "–".to_owned(),
            },
        );
        td(out, &c.reasons.join(", "));
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    more(out, MAX_LIST_ROWS.min(rows.len()), rows.len(), "hosts");
}

fn capacity(out: &mut String, r: &Report) {
    let c = &r.capacity;
    out.push_str(r#"<section id="capacity"><h2>Capacity</h2>"#);
    let _ = write!(
        out,
        r#"<p class="note">From each host's 95th percentile over its utilisation history. {} servers have at least {:.0} days of history; {} do not yet.</p>"#,
        thousands(c.servers_with_history as f64, 0),
        c.min_history_days,
        thousands(c.servers_without_history as f64, 0)
    );
    let _ = write!(
        out,
        "<h3>Under-utilised servers (CPU p95 below {}): {}</h3>",
        pct(Some(c.idle_cpu_p95_below)),
        thousands(c.under_utilised.len() as f64, 0)
    );
    if c.under_utilised.is_empty() {
        out.push_str(r#"<p class="note">None.</p>"#);
    } else {
        out.push_str(r#"<p class="note">Candidates to retire, consolidate or shrink (see the retire scenario below).</p>"#);
        capacity_table(out, &c.under_utilised);
    }
    let _ = write!(
        out,
        "<h3>Over-utilised hosts (CPU or memory p95 from {} / {}, or a filesystem under {} free): {}</h3>",
        pct(Some(c.busy_cpu_p95_at)),
        pct(Some(c.busy_memory_p95_at)),
        pct(Some(c.min_available_ratio)),
        thousands(c.over_utilised.len() as f64, 0)
    );
    if c.over_utilised.is_empty() {
        out.push_str(r#"<p class="note">None.</p>"#);
    } else {
        capacity_table(out, &c.over_utilised);
    }
    out.push_str("</section>");
}

fn carbon(out: &mut String, r: &Report) {
    let c = &r.carbon;
    let o = &c.onprem;
    out.push_str(
        r#"<section id="carbon" class="major"><h2>Energy and carbon</h2><div class="kpis">"#,
    );
    kpi(
        out,
        "",
        "Energy",
        &format!("{} kWh", thousands(o.energy_kwh_per_year, 0)),
        &format!("a year, {} average", watts(o.power_watts)),
    );
    kpi(
        out,
        "",
        "Location-based",
        &mass(o.location_kgco2e_per_year),
        &format!(
            "CO2e/yr operational{}",
            c.grid_year
                .map_or_else(String::new, |y| format!(", UK grid {y}"))
        ),
    );
    kpi(
        out,
        "",
        "Market-based",
        &mass(o.market_kgco2e_per_year),
        "CO2e/yr operational",
    );
    kpi(
        out,
        "",
        "Embodied",
        &mass(o.embodied_kgco2e_per_year),
        "CO2e/yr, amortised",
    );
    kpi(
        out,
        "",
        "Total (location + embodied)",
        &mass(o.total_kgco2e_per_year),
        &format!(
            "range {} – {}",
            mass(o.low_kgco2e_per_year),
            mass(o.high_kgco2e_per_year)
        ),
    );
    out.push_str("</div>");
    let _ = write!(
        out,
        r#"<p class="note">{} estimated; {} without an estimate (no report yet, or containers, whose power is their host's).</p>"#,
        esc(&hosts(o.hosts)),
        esc(&hosts(c.hosts_without_estimate))
    );
    if !c.scenarios.is_empty() {
        out.push_str("<h3>Migration and retirement scenarios</h3><figure><figcaption>The hosts each scenario takes, today and after, CO2e a year</figcaption>");
        let mut rows = Vec::new();
        for s in &c.scenarios {
            rows.push(svg::StackedRow {
                label: format!("{}: today", s.name),
                a: (s.onprem_kgco2e_per_year, GREY),
                b: (0.0, GREY),
                text: mass(s.onprem_kgco2e_per_year),
            });
            rows.push(svg::StackedRow {
                label: format!("{}: after", s.name),
                a: (s.scenario.location_kgco2e_per_year, BLUE),
                b: (s.scenario.embodied_kgco2e_per_year, TEAL),
                text: format!(
                    "{} ({} saved)",
                    mass(s.scenario.total_kgco2e_per_year),
                    pct(s.saved_ratio)
                ),
            });
        }
        svg::stacked_rows(out, "On-premises against each scenario", &rows);
        let _ = write!(
            out,
            r#"<div class="legend"><span><i style="background:{GREY}"></i>today, on-premises (location-based + embodied)</span><span><i style="background:{BLUE}"></i>after: operational, location-based</span><span><i style="background:{TEAL}"></i>after: embodied</span></div></figure><table>"#
        );
        th(
            out,
            &[
                "Scenario",
                "#Hosts",
                "#Unplaced",
                "#kWh/yr",
                "#Location",
                "#Market",
                "#Embodied",
                "#Saved/yr",
                "Readiness",
                "Confidence",
            ],
        );
        out.push_str("<tbody>");
        for s in &c.scenarios {
            out.push_str("<tr>");
            td(
                out,
                &match (&s.provider, &s.region) {
                    (Some(p), Some(g)) => format!("{} ({p} {g})", s.name),
                    _ => format!("{} ({})", s.name, s.kind),
                },
            );
            tdn(out, &thousands(s.scenario.hosts as f64, 0));
            tdn(out, &thousands(s.unplaced_hosts as f64, 0));
            tdn(out, &thousands(s.scenario.energy_kwh_per_year, 0));
            tdn(out, &mass(s.scenario.location_kgco2e_per_year));
            tdn(out, &mass(s.scenario.market_kgco2e_per_year));
            tdn(out, &mass(s.scenario.embodied_kgco2e_per_year));
            tdn(
                out,
                &format!("{} ({})", mass(s.saved_kgco2e_per_year), pct(s.saved_ratio)),
            );
            td(out, &readiness_text(&s.readiness));
            td(out, &confidence_text(&s.confidence));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table><p class=\"note\">Location-based, market-based and embodied are the scenario's own figures for the hosts it takes; the saving is against the same hosts on-premises (location-based plus embodied). Market-based cloud figures are the providers' claims.</p>");
    }
    if !c.candidates.is_empty() {
        out.push_str("<h3>Best migration and retirement candidates</h3><p class=\"note\">Each host once, with the scenario that saves most for it; every host and scenario pair is in the CSV and JSON files.</p><table>");
        th(
            out,
            &[
                "Host",
                "Scenario",
                "Instance",
                "#Saved/yr",
                "Readiness",
                "Confidence",
            ],
        );
        out.push_str("<tbody>");
        let best = super::best_per_host(&c.candidates);
        for k in best.iter().take(MAX_LIST_ROWS) {
            out.push_str("<tr>");
            td(out, &k.hostname);
            td(out, &k.scenario);
            td(out, k.instance.as_deref().unwrap_or("retire"));
            tdn(out, &mass(k.saved_kgco2e_per_year));
            td(out, &k.readiness.replace('_', " "));
            td(
                out,
                &format!(
                    "{}{}",
                    "★".repeat(usize::from(k.confidence)),
                    "☆".repeat(5usize.saturating_sub(usize::from(k.confidence)))
                ),
            );
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        more(
            out,
            MAX_LIST_ROWS.min(best.len()),
            best.len(),
            "candidate hosts",
        );
    }
    out.push_str("</section>");
}

/// `40 ready, 20 conditionally ready, 5 unknown` (the non-zero counts).
fn readiness_text(r: &crate::report::model::Readiness) -> String {
    let parts: Vec<String> = [
        (r.ready, "ready"),
        (r.conditionally_ready, "conditionally ready"),
        (r.not_ready, "not ready"),
        (r.unknown, "unknown"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "–".to_owned()
    } else {
        parts.join(", ")
    }
}

/// `4.6★ (53 of 65 at 5★)`.
fn confidence_text(stars: &[usize; 5]) -> String {
    let total: usize = stars.iter().sum();
    if total == 0 {
        return "–".to_owned();
    }
    let mean = stars
        .iter()
        .enumerate()
        .map(|(i, n)| (i + 1) as f64 * *n as f64)
        .sum::<f64>()
        / total as f64;
    format!("{mean:.1}★ ({} of {total} at 5★)", stars[4])
}

fn watts(w: f64) -> String {
    if w >= 10_000.0 {
        format!("{} kW", thousands(w / 1000.0, 1))
    } else {
        format!("{} W", thousands(w, 0))
    }
}

fn changes(out: &mut String, r: &Report) {
    out.push_str(r#"<section id="changes"><h2>What changed since the last report</h2>"#);
    let Some(c) = &r.changes else {
        out.push_str(r#"<p class="note">This is the first report: the next one will say what changed.</p></section>"#);
        return;
    };
    let _ = write!(
        out,
        "<p>Previous report: {}. Estate score {} → {}{}.</p>",
        c.previous_at.format("%Y-%m-%d %H:%M UTC"),
        pct1(c.previous_score),
        pct1(c.score),
        match (c.score, c.previous_score) {
            (Some(a), Some(b)) => format!(" ({})", points(a - b)),
            _ => String::new(),
        }
    );
    out.push_str(r#"<div class="kpis">"#);
    kpi(
        out,
        "",
        "New hosts",
        &thousands(c.new_hosts.len() as f64, 0),
        "",
    );
    kpi(
        out,
        "",
        "Gone hosts",
        &thousands(c.gone_hosts.len() as f64, 0),
        "",
    );
    kpi(
        out,
        if c.newly_failing_total > 0 {
            "red"
        } else {
            "green"
        },
        "Newly failing",
        &thousands(c.newly_failing_total as f64, 0),
        "host × check",
    );
    kpi(
        out,
        "green",
        "Newly fixed",
        &thousands(c.newly_fixed_total as f64, 0),
        "host × check",
    );
    kpi(
        out,
        if c.worse.is_empty() { "green" } else { "amber" },
        "Band worse / better",
        &format!("{} / {}", c.worse.len(), c.better.len()),
        "hosts",
    );
    out.push_str("</div><div class=\"grid2\">");
    for (title, list) in [
        ("Checks newly failing", &c.newly_failing),
        ("Checks newly fixed", &c.newly_fixed),
    ] {
        let _ = write!(out, "<div><h3>{title}</h3>");
        if list.is_empty() {
            out.push_str(r#"<p class="note">None.</p>"#);
        } else {
            out.push_str("<table>");
            th(out, &["Check", "Severity", "#Hosts"]);
            out.push_str("<tbody>");
            for k in list.iter().take(MAX_LIST_ROWS) {
                let _ = write!(
                    out,
                    "<tr><td>{}<br><code>{}</code></td><td>",
                    esc(&k.title),
                    esc(&k.id)
                );
                pill(out, &k.severity, &k.severity);
                out.push_str("</td>");
                tdn(out, &thousands(k.hosts as f64, 0));
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
        }
        out.push_str("</div>");
    }
    for (title, list) in [("Band got worse", &c.worse), ("Band got better", &c.better)] {
        let _ = write!(out, "<div><h3>{title}</h3>");
        if list.is_empty() {
            out.push_str(r#"<p class="note">None.</p>"#);
        } else {
            out.push_str("<table>");
            th(out, &["Host", "Band", "#Score"]);
            out.push_str("<tbody>");
            for m in list.iter().take(MAX_LIST_ROWS) {
                out.push_str("<tr>");
                td(out, &m.hostname);
                out.push_str("<td>");
                pill(out, band_class(Some(&m.from)), &m.from);
                out.push_str(" → ");
                pill(out, band_class(Some(&m.to)), &m.to);
                out.push_str("</td>");
                tdn(
                    out,
                    &format!("{} → {}", pct1(m.from_score), pct1(m.to_score)),
                );
                out.push_str("</tr>");
            }
            out.push_str("</tbody></table>");
            more(out, MAX_LIST_ROWS.min(list.len()), list.len(), "hosts");
        }
        out.push_str("</div>");
    }
    for (title, list) in [("New hosts", &c.new_hosts), ("Gone hosts", &c.gone_hosts)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, "<div><h3>{title}</h3><p>");
        let names: Vec<&str> = list
            .iter()
            .take(MAX_LIST_ROWS * 2)
            .map(|h| h.hostname.as_str())
            .collect();
        out.push_str(&esc(&names.join(", ")));
        out.push_str("</p>");
        more(out, names.len(), list.len(), "hosts");
        out.push_str("</div>");
    }
    out.push_str("</div></section>");
}

fn assumptions(out: &mut String, r: &Report) {
    let a = &r.assumptions;
    out.push_str(r#"<section id="assumptions" class="major"><h2>Assumptions, factors and sources</h2><ul class="points">"#);
    for s in &a.statements {
        let _ = write!(out, "<li>{}</li>", esc(s));
    }
    out.push_str("</ul>");
    if !a.methods.is_empty() {
        out.push_str("<h3>How on-premises power was obtained</h3><table>");
        th(out, &["Method", "#Hosts"]);
        out.push_str("<tbody>");
        for m in &a.methods {
            out.push_str("<tr>");
            td(out, &m.name.replace('_', " "));
            tdn(out, &thousands(m.hosts as f64, 0));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if !a.notes.is_empty() {
        out.push_str("<h3>Where estimates rest on an assumption</h3><table>");
        th(out, &["Assumption", "Meaning", "#Hosts"]);
        out.push_str("<tbody>");
        for n in &a.notes {
            let _ = write!(out, "<tr><td><code>{}</code></td>", esc(&n.note));
            td(out, &n.meaning);
            tdn(out, &thousands(n.hosts as f64, 0));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    if !a.factors.is_empty() {
        out.push_str("<h3>Factors used</h3><table>");
        th(
            out,
            &["Factor", "#Value", "Unit", "Source", "Version", "#Hosts"],
        );
        out.push_str("<tbody>");
        for f in &a.factors {
            let _ = write!(out, "<tr><td><code>{}</code></td>", esc(&f.name));
            tdn(out, &trim_number(f.value));
            td(out, &f.unit);
            let _ = write!(out, r#"<td class="fix">{}</td>"#, esc(&f.source));
            td(out, &f.version);
            tdn(out, &thousands(f.hosts as f64, 0));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

/// A factor's value without trailing zeros.
fn trim_number(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

fn appendix(out: &mut String, r: &Report) {
    out.push_str(r#"<section id="hosts" class="major"><h2>Appendix: every host</h2><p class="note">Worst score first. Failing checks are listed most severe first.</p><table>"#);
    th(
        out,
        &[
            "Host",
            "Type",
            "OS",
            "Site",
            "#Score",
            "Band",
            "Failing checks",
            "OS support ends",
            "#CPU p95",
            "#kgCO2e/yr",
            "Last report",
        ],
    );
    out.push_str("<tbody>");
    for h in r.hosts.iter().take(MAX_APPENDIX_ROWS) {
        out.push_str("<tr>");
        td(out, &h.hostname);
        td(out, &h.host_type);
        td(out, &h.os);
        td(out, h.site.as_deref().unwrap_or("–"));
        tdn(out, &pct1(h.score));
        out.push_str("<td>");
        pill(
            out,
            band_class(h.band.as_deref()),
            h.band.as_deref().unwrap_or("unscored"),
        );
        out.push_str("</td>");
        let ids: Vec<&str> = h
            .findings
            .iter()
            .filter(|f| f.status == "fail")
            .take(6)
            .map(|f| f.check.as_str())
            .collect();
        let failing = if h.failing > ids.len() {
            format!("{} … (+{})", ids.join(", "), h.failing - ids.len())
        } else {
            ids.join(", ")
        };
        let _ = write!(out, r#"<td class="fix">{}</td>"#, esc(&failing));
        td(out, &day(h.os_end_of_support));
        tdn(out, &pct(h.cpu_p95_ratio));
        tdn(
            out,
            &h.onprem_kgco2e_per_year
                .map_or_else(|| "–".to_owned(), |k| thousands(k, 0)),
        );
        let _ = write!(
            out,
            "<td>{}{}</td></tr>",
            h.last_seen.format("%Y-%m-%d"),
            if h.stale { " (stale)" } else { "" }
        );
    }
    out.push_str("</tbody></table>");
    more(
        out,
        MAX_APPENDIX_ROWS.min(r.hosts.len()),
        r.hosts.len(),
        "hosts",
    );
    out.push_str("</section>");
}

/// Renders the report as one HTML document.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(64 * 1024 + r.hosts.len().min(MAX_APPENDIX_ROWS) * 520);
    let when = r.generated_at.format("%Y-%m-%d %H:%M UTC");
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="generator" content="Estate"><title>{title} — {date}</title><style>{STYLE}</style></head><body>"#,
        title = esc(&r.title),
        date = r.generated_at.format("%Y-%m-%d"),
    );
    let _ = write!(
        out,
        r#"<header class="top"><div class="in"><h1>{}</h1><p>ICT health check · {} · profile <b>{}</b> · {}</p></div></header>"#,
        esc(&r.title),
        when,
        esc(&r.profile),
        esc(&hosts(r.summary.hosts))
    );
    out.push_str(r##"<nav class="toc"><a href="#summary">Summary</a><a href="#risks">Risks</a><a href="#checks">Checks</a><a href="#lifecycle">Lifecycle</a>"##);
    if r.windows11.is_some() {
        out.push_str(r##"<a href="#windows11">Windows 11</a>"##);
    }
    out.push_str(r##"<a href="#capacity">Capacity</a><a href="#carbon">Energy and carbon</a><a href="#changes">What changed</a><a href="#assumptions">Assumptions</a><a href="#hosts">Hosts</a></nav><main>"##);
    summary(&mut out, r);
    risks(&mut out, r);
    checks(&mut out, r);
    lifecycle(&mut out, r);
    windows11(&mut out, r);
    capacity(&mut out, r);
    carbon(&mut out, r);
    changes(&mut out, r);
    assumptions(&mut out, r);
    appendix(&mut out, r);
    let _ = writeln!(
        out,
        "</main><footer>Made by Estate on {when} (report schema {}). Figures are estimates; the assumptions section says what they rest on.</footer></body></html>",
        r.schema_version
    );
    out
}
