//! `/ui/checks`: every check of the collector's profile with its fleet counts (pass,
//! fail, not applicable, waived, error), category, severity and weight.

use std::fmt::Write as _;

use super::{AMBER, GREEN, GREY, RED};
use crate::report::render::svg;
use crate::web::html::{esc, page, pill, tdn, thead, thousands};
use crate::web::view::EstateView;

/// The checks page.
pub fn render(v: &EstateView) -> String {
    let mut out = String::with_capacity(16 * 1024 + v.checks.len() * 600);
    let _ = write!(
        out,
        r#"<p class="note">Profile <code>{}</code>, {} checks over {} assessed hosts. Sorted by failing hosts, then severity.</p>"#,
        esc(&v.score.profile),
        v.checks.len(),
        thousands(v.score.hosts_assessed as f64, 0)
    );
    let mut checks: Vec<_> = v.checks.iter().collect();
    let n = |c: &crate::estate::FleetCheck, s: &str| c.hosts.get(s).copied().unwrap_or(0);
    let severity = |s: &str| match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    };
    checks.sort_by(|a, b| {
        n(b, "fail")
            .cmp(&n(a, "fail"))
            .then_with(|| severity(&a.severity).cmp(&severity(&b.severity)))
            .then_with(|| a.id.cmp(&b.id))
    });
    out.push_str(r#"<table class="checks">"#);
    thead(
        &mut out,
        &[
            "Check", "Category", "Severity", "#Weight", "#Pass", "#Fail", "#N/A", "#Waived",
            "#Error", "Fleet",
        ],
    );
    out.push_str("<tbody>");
    for c in checks {
        let _ = write!(
            out,
            r#"<tr id="{}"><td>{}<div class="id"><code>{}</code></div></td><td>{}</td><td>{}</td>"#,
            esc(&c.id),
            esc(&c.title),
            esc(&c.id),
            esc(&c.category),
            pill(&c.severity, &c.severity)
        );
        tdn(&mut out, &format!("{}", c.weight));
        for s in ["pass", "fail", "not_applicable", "waived", "error"] {
            tdn(&mut out, &thousands(n(c, s) as f64, 0));
        }
        out.push_str("<td>");
        let as_usize = |s: &str| usize::try_from(n(c, s)).unwrap_or(usize::MAX);
        svg::mini(
            &mut out,
            [
                (as_usize("pass"), GREEN),
                (as_usize("fail"), RED),
                (as_usize("waived"), AMBER),
                (as_usize("error"), GREY),
            ],
        );
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    page("Checks", "/ui/checks", &out)
}
