//! `/ui/`: the estate at a glance — score and band, hosts by band, state, OS family,
//! machine kind, role and site, what would raise the score most, and the carbon totals
//! today and per scenario.

use std::fmt::Write as _;

use super::{AMBER, BLUE, GREEN, GREY, RED, band_of, count_table};
use crate::report::render::svg::{self, Bar};
use crate::web::html::{esc, kpi, mass, page, pct, pct1, query, tdn, thead, thousands};
use crate::web::view::EstateView;

/// The overview page.
pub fn render(v: &EstateView, check_titles: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let s = &v.summary;
    out.push_str(r#"<section><div class="kpis">"#);
    match v.score.score {
        Some(score) => {
            let band = band_of(score, v.green_at, v.amber_at);
            kpi(
                &mut out,
                band,
                "Estate score",
                &pct1(Some(score)),
                &format!("{band} · profile {}", v.score.profile),
            );
        }
        None => kpi(
            &mut out,
            "unscored",
            "Estate score",
            "–",
            "no host scored yet",
        ),
    }
    kpi(
        &mut out,
        "",
        "Hosts",
        &thousands(s.hosts as f64, 0),
        &format!("{} assessed", thousands(v.score.hosts_assessed as f64, 0)),
    );
    kpi(
        &mut out,
        "",
        "Reporting",
        &thousands(s.reporting as f64, 0),
        &format!("{} stale", thousands(s.stale as f64, 0)),
    );
    let c = &v.carbon.onprem;
    kpi(
        &mut out,
        "",
        "CO2e a year, on-premises",
        &mass(c.location_kgco2e_per_year + c.embodied_kgco2e_per_year),
        &format!("{} kWh a year", thousands(c.energy_kwh_per_year, 0)),
    );
    out.push_str("</div></section>");

    // Bands.
    out.push_str(r#"<section><h2>Hosts by band</h2><div class="grid2"><figure>"#);
    let bands: Vec<(&str, &'static str)> = vec![
        ("green", GREEN),
        ("amber", AMBER),
        ("red", RED),
        ("unscored", GREY),
    ];
    let bars: Vec<Bar> = bands
        .iter()
        .map(|(b, colour)| {
            let n = v.score.bands.get(*b).copied().unwrap_or(0);
            Bar {
                label: (*b).to_owned(),
                value: n as f64,
                colour,
                text: thousands(n as f64, 0),
            }
        })
        .collect();
    svg::hbars(&mut out, "Hosts by band", &bars, None, &[]);
    out.push_str(r#"</figure><table class="counts"><caption>Hosts by band</caption><tbody>"#);
    for (b, _) in &bands {
        let n = v.score.bands.get(*b).copied().unwrap_or(0);
        let _ = write!(
            out,
            r#"<tr><td><a href="{}">{}</a></td><td class="n">{}</td></tr>"#,
            esc(&format!("/ui/hosts{}", query(&[("band", b)]))),
            b,
            thousands(n as f64, 0)
        );
    }
    let _ = write!(
        out,
        r#"</tbody></table></div><p class="note">Bands: green from {}, amber from {}, red below. Hosts not assessed yet are not counted.</p></section>"#,
        pct(Some(v.green_at)),
        pct(Some(v.amber_at))
    );

    // Hosts by state, OS, kind, role, site.
    out.push_str(r#"<section><h2>Hosts</h2><div class="grid3">"#);
    let mut states = std::collections::BTreeMap::new();
    states.insert("reporting".to_owned(), s.reporting);
    states.insert("stale".to_owned(), s.stale);
    count_table(&mut out, "By state", &states, "state", |n| {
        Some(n.to_owned())
    });
    let known = |n: &str| (n != "unknown").then(|| n.to_owned());
    count_table(&mut out, "By OS family", &s.by_os_family, "os", known);
    count_table(&mut out, "By machine kind", &s.by_kind, "kind", known);
    count_table(&mut out, "By OS", &s.by_os, "os", known);
    let labelled =
        |key: &'static str| move |n: &str| (n != "unlabelled").then(|| format!("{key}:{n}"));
    count_table(&mut out, "By role", &s.by_role, "label", labelled("role"));
    count_table(&mut out, "By site", &s.by_site, "label", labelled("site"));
    let _ = write!(
        out,
        r#"</div><p class="note">Stale: no report since {}. {} without a full inventory yet.</p></section>"#,
        esc(&crate::web::html::when(s.stale_before)),
        thousands(s.without_inventory as f64, 0)
    );

    // Improvements.
    out.push_str("<section><h2>What would raise the estate score most</h2>");
    if v.score.improvements.is_empty() {
        out.push_str(r#"<p class="note">No failing check to fix.</p>"#);
    } else {
        out.push_str("<table>");
        thead(
            &mut out,
            &["Check", "#Failing hosts", "#Estate score gained"],
        );
        out.push_str("<tbody>");
        for g in v.score.improvements.iter().take(10) {
            let _ = write!(
                out,
                r#"<tr><td>{} <code>{}</code></td>"#,
                esc(&check_titles(&g.id)),
                esc(&g.id)
            );
            tdn(&mut out, &thousands(g.failing_hosts as f64, 0));
            tdn(&mut out, &format!("+{:.1} pts", g.gain * 100.0));
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    // Carbon.
    out.push_str(r#"<section><h2>Energy and carbon, per year</h2>"#);
    out.push_str("<table>");
    thead(
        &mut out,
        &[
            "",
            "#Hosts",
            "#Energy (kWh)",
            "#Location-based",
            "#Market-based",
            "#Embodied",
            "#Total (location + embodied)",
            "#Range",
            "#Saved vs on-premises",
        ],
    );
    out.push_str("<tbody><tr><td>On-premises today</td>");
    tdn(&mut out, &thousands(c.hosts as f64, 0));
    tdn(&mut out, &thousands(c.energy_kwh_per_year, 0));
    tdn(&mut out, &mass(c.location_kgco2e_per_year));
    tdn(&mut out, &mass(c.market_kgco2e_per_year));
    tdn(&mut out, &mass(c.embodied_kgco2e_per_year));
    tdn(
        &mut out,
        &mass(c.location_kgco2e_per_year + c.embodied_kgco2e_per_year),
    );
    tdn(&mut out, &format!("{} – {}", mass(c.low), mass(c.high)));
    tdn(&mut out, "");
    out.push_str("</tr>");
    let mut bars = Vec::new();
    for sc in &v.carbon.scenarios {
        let t = &sc.totals;
        let _ = write!(
            out,
            r#"<tr><td>Scenario <a href="/ui/scenarios#{}">{}</a></td>"#,
            esc(&crate::web::html::segment(sc.name.as_str())),
            esc(sc.name.as_str())
        );
        tdn(&mut out, &thousands(t.hosts as f64, 0));
        tdn(&mut out, &thousands(t.energy_kwh_per_year, 0));
        tdn(&mut out, &mass(t.location_kgco2e_per_year));
        tdn(&mut out, &mass(t.market_kgco2e_per_year));
        tdn(&mut out, &mass(t.embodied_kgco2e_per_year));
        tdn(
            &mut out,
            &mass(t.location_kgco2e_per_year + t.embodied_kgco2e_per_year),
        );
        tdn(&mut out, &format!("{} – {}", mass(t.low), mass(t.high)));
        let ratio = (sc.onprem_kgco2e_per_year > 0.0)
            .then(|| sc.saved_kgco2e_per_year / sc.onprem_kgco2e_per_year);
        tdn(
            &mut out,
            &format!("{} ({})", mass(sc.saved_kgco2e_per_year), pct(ratio)),
        );
        out.push_str("</tr>");
        bars.push(Bar {
            label: sc.name.as_str().to_owned(),
            value: sc.saved_kgco2e_per_year.max(0.0),
            colour: BLUE,
            text: mass(sc.saved_kgco2e_per_year),
        });
    }
    out.push_str("</tbody></table>");
    if !bars.is_empty() {
        out.push_str("<figure><figcaption>CO2e saved a year, per scenario (over the hosts each places)</figcaption>");
        svg::hbars(&mut out, "CO2e saved a year per scenario", &bars, None, &[]);
        out.push_str("</figure>");
    }
    let _ = write!(
        out,
        r#"<p class="note">kgCO2e a year; a scenario's figures cover the hosts it places (or retires). {} of {} hosts have an estimate{}. Method: docs/methodology.md.</p></section>"#,
        thousands(v.carbon.hosts_estimated as f64, 0),
        thousands(s.hosts as f64, 0),
        if v.unreadable_estimates > 0 {
            format!(
                "; {} stored estimates could not be read and are left out",
                v.unreadable_estimates
            )
        } else {
            String::new()
        }
    );
    let _ = write!(
        out,
        r#"<p class="note">Computed {}.</p>"#,
        esc(&crate::web::html::when(v.computed_at))
    );
    page("Estate overview", "/ui/", &out)
}
