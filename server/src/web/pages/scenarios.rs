//! `/ui/scenarios`: each configured migration (or retirement) scenario — its totals
//! against the same hosts on-premises, the saving, readiness and confidence of the
//! hosts it places, and its top candidates.

use std::fmt::Write as _;

use crate::carbon::Readiness;
use crate::web::html::{esc, host_link, mass, page, pct, pill, segment, tdn, thead, thousands};
use crate::web::view::{EstateView, readiness_class, readiness_text};

/// The scenarios page.
pub fn render(v: &EstateView) -> String {
    let mut out = String::with_capacity(16 * 1024);
    if v.carbon.scenarios.is_empty() {
        out.push_str(
            r#"<p class="note">No scenario is configured (<code>[[carbon.scenarios]]</code> in the collector's config, docs/methodology.md).</p>"#,
        );
    }
    let o = &v.carbon.onprem;
    let _ = write!(
        out,
        r#"<p class="note">On-premises today: {} a year (location-based + embodied) over {} hosts. Figures are kgCO2e a year; each scenario covers the hosts it places (or retires).</p>"#,
        mass(o.location_kgco2e_per_year + o.embodied_kgco2e_per_year),
        thousands(o.hosts as f64, 0)
    );
    for (i, s) in v.carbon.scenarios.iter().enumerate() {
        let t = &s.totals;
        let target = match (&s.provider, &s.region) {
            (Some(p), Some(r)) => format!("{} {}", p.as_str(), r),
            (Some(p), None) => p.as_str().to_owned(),
            _ => super::wire(&s.kind),
        };
        let _ = write!(
            out,
            r#"<section id="{}"><h2>{} <span class="muted">{}</span></h2><table class="facts"><tbody>"#,
            esc(&segment(s.name.as_str())),
            esc(s.name.as_str()),
            esc(&target)
        );
        let ratio = (s.onprem_kgco2e_per_year > 0.0)
            .then(|| s.saved_kgco2e_per_year / s.onprem_kgco2e_per_year);
        let rows: Vec<(&str, String)> = vec![
            ("Hosts placed", thousands(t.hosts as f64, 0)),
            (
                "Hosts selected but no instance fits",
                thousands(s.unplaced_hosts as f64, 0),
            ),
            (
                "Energy",
                format!("{} kWh", thousands(t.energy_kwh_per_year, 0)),
            ),
            (
                "After: location-based + embodied",
                format!(
                    "{} ({} + {})",
                    mass(t.location_kgco2e_per_year + t.embodied_kgco2e_per_year),
                    mass(t.location_kgco2e_per_year),
                    mass(t.embodied_kgco2e_per_year)
                ),
            ),
            ("After: market-based", mass(t.market_kgco2e_per_year)),
            (
                "After: range",
                format!("{} – {}", mass(t.low), mass(t.high)),
            ),
            ("Same hosts on-premises", mass(s.onprem_kgco2e_per_year)),
            (
                "Saved",
                format!("{} ({})", mass(s.saved_kgco2e_per_year), pct(ratio)),
            ),
        ];
        for (k, val) in rows {
            let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&val));
        }
        out.push_str("<tr><th>Readiness</th><td>");
        let r = &s.readiness;
        for (readiness, n) in [
            (Readiness::Ready, r.ready),
            (Readiness::ConditionallyReady, r.conditionally_ready),
            (Readiness::NotReady, r.not_ready),
            (Readiness::Unknown, r.unknown),
        ] {
            let _ = write!(
                out,
                "{} ",
                pill(
                    readiness_class(readiness),
                    &format!("{} {}", thousands(n as f64, 0), readiness_text(readiness))
                )
            );
        }
        out.push_str("</td></tr><tr><th>Confidence</th><td>");
        let parts: Vec<String> = s
            .confidence
            .iter()
            .map(|(stars, n)| format!("{stars}/5: {}", thousands(*n as f64, 0)))
            .collect();
        out.push_str(&esc(&parts.join(" · ")));
        out.push_str("</td></tr></tbody></table>");
        match v
            .candidates
            .get(i)
            .filter(|c| c.scenario.as_deref() == Some(s.name.as_str()))
        {
            Some(list) if !list.candidates.is_empty() => {
                let _ = write!(
                    out,
                    "<h3>Top candidates ({} of {} with a saving)</h3><table>",
                    list.candidates.len(),
                    thousands(list.total as f64, 0)
                );
                thead(
                    &mut out,
                    &[
                        "Host",
                        "Instance",
                        "#Saved a year",
                        "Readiness",
                        "#Confidence",
                    ],
                );
                out.push_str("<tbody>");
                for c in &list.candidates {
                    let name = v.hostnames.get(&c.host_id).map_or("", String::as_str);
                    let _ = write!(
                        out,
                        "<tr><td>{}</td><td>{}</td>",
                        host_link(&c.host_id, name),
                        esc(c.instance.as_ref().map_or("–", |i| i.as_str()))
                    );
                    tdn(&mut out, &mass(c.saved_kgco2e_per_year));
                    let _ = write!(
                        out,
                        "<td>{}</td>",
                        pill(readiness_class(c.readiness), readiness_text(c.readiness))
                    );
                    tdn(&mut out, &format!("{}/5", c.confidence));
                    out.push_str("</tr>");
                }
                out.push_str("</tbody></table>");
            }
            _ => out.push_str(r#"<p class="note">No host would save carbon in this scenario.</p>"#),
        }
        out.push_str("</section>");
    }
    page("Migration scenarios", "/ui/scenarios", &out)
}
