//! The host page's history section: CPU and memory utilisation and power over the
//! chosen range, as inline SVG line charts (the report's chart helper), each point the
//! mean of the windows in one of [`HISTORY_POINTS`] equal spans.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::host::HostView;
use crate::report::render::svg::{self, Scale};
use crate::store::SeriesPoint;
use crate::web::html::{esc, pct, thousands, when};
use crate::web::params::RANGES;

/// Points drawn per history chart (the range is split in this many buckets, each the
/// mean of its windows).
pub const HISTORY_POINTS: usize = 48;

/// One history bucket: its label and the means of CPU, memory (ratios) and power
/// (watts) over the windows ending in it.
pub type Bucket = (String, Option<f64>, Option<f64>, Option<f64>);

/// Splits `[from, to)` into `n` buckets and averages each series' windows in each.
pub fn buckets(
    series: &[SeriesPoint],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    n: usize,
) -> Vec<Bucket> {
    let n = n.max(1);
    let span = (to - from).num_seconds().max(1) as f64;
    let mut sums = vec![[(0.0, 0u32); 3]; n];
    for p in series {
        let at = (p.window_end - from).num_seconds() as f64;
        if !(0.0..span).contains(&at) {
            continue;
        }
        let i = ((at / span) * n as f64) as usize;
        let slot = &mut sums[i.min(n - 1)];
        for (k, v) in [p.cpu_mean_ratio, p.memory_mean_ratio, p.power_watts]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                slot[k].0 += v;
                slot[k].1 += 1;
            }
        }
    }
    let short = span <= 86_400.0;
    sums.iter()
        .enumerate()
        .map(|(i, s)| {
            let at = from + chrono::Duration::seconds((span * (i as f64 + 1.0) / n as f64) as i64);
            let label = if short {
                at.format("%H:%M").to_string()
            } else {
                at.format("%m-%d").to_string()
            };
            let mean = |(sum, count): (f64, u32)| (count > 0).then(|| sum / f64::from(count));
            (label, mean(s[0]), mean(s[1]), mean(s[2]))
        })
        .collect()
}

const WATTS: Scale = Scale {
    max: 1.0,
    axis: |v| format!("{v:.0} W"),
    point: |v| format!("{v:.1} W"),
};

/// The history section: the range links and the charts.
pub fn section(out: &mut String, v: &HostView<'_>) {
    out.push_str(r#"<section id="history"><h2>History</h2><p class="ranges">"#);
    for (name, _) in RANGES {
        let url = format!(
            "{}?range={name}#history",
            crate::web::html::host_url(&v.host.host_id)
        );
        if name == v.range {
            let _ = write!(out, r#"<strong>{name}</strong> "#);
        } else {
            let _ = write!(out, r#"<a href="{}">{name}</a> "#, esc(&url));
        }
    }
    out.push_str("</p>");
    if v.series.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">No reports between {} and {}.</p></section>"#,
            esc(&when(v.from)),
            esc(&when(v.to))
        );
        return;
    }
    let b = buckets(v.series, v.from, v.to, HISTORY_POINTS);
    let pick = |k: usize| -> Vec<(String, Option<f64>)> {
        b.iter()
            .map(|(l, c, m, p)| (l.clone(), [*c, *m, *p][k]))
            .collect()
    };
    out.push_str(r#"<div class="grid2"><figure><figcaption>CPU utilisation (mean)</figcaption>"#);
    svg::line(out, "CPU utilisation", &pick(0), &[]);
    out.push_str(r#"</figure><figure><figcaption>Memory utilisation (mean)</figcaption>"#);
    svg::line(out, "Memory utilisation", &pick(1), &[]);
    out.push_str("</figure>");
    let power = pick(2);
    let top = power.iter().filter_map(|(_, p)| *p).fold(0.0, f64::max);
    if top > 0.0 {
        let scale = Scale {
            max: nice_ceiling(top),
            ..WATTS
        };
        out.push_str(r#"<figure><figcaption>Power (watts, as reported)</figcaption>"#);
        svg::line_on(out, "Power", &power, &[], &scale);
        out.push_str("</figure>");
    }
    let _ = write!(
        out,
        r#"</div><p class="note">{} reports between {} and {}, as the means of {} equal spans. CPU p95 over the range: {}.</p></section>"#,
        thousands(v.series.len() as f64, 0),
        esc(&when(v.from)),
        esc(&when(v.to)),
        HISTORY_POINTS,
        pct(v
            .series
            .iter()
            .filter_map(|p| p.cpu_p95_ratio)
            .reduce(f64::max))
    );
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten at or above `v`.
fn nice_ceiling(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(minutes: i64, cpu: f64) -> SeriesPoint {
        let end = DateTime::parse_from_rfc3339("2026-11-27T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::minutes(minutes);
        SeriesPoint {
            window_start: end - chrono::Duration::minutes(5),
            window_end: end,
            cpu_mean_ratio: Some(cpu),
            cpu_p95_ratio: None,
            memory_mean_ratio: None,
            memory_p95_ratio: None,
            power_watts: Some(100.0 * cpu),
            energy_joules: None,
            power_source: "none".to_owned(),
        }
    }

    #[test]
    fn buckets_average_their_windows() {
        let from = point(0, 0.0).window_end;
        let to = from + chrono::Duration::hours(4);
        let s = [
            point(10, 0.2),
            point(20, 0.4),
            point(130, 0.9),
            point(300, 1.0),
        ];
        let b = buckets(&s, from, to, 4);
        assert_eq!(b.len(), 4);
        assert!((b[0].1.unwrap() - 0.3).abs() < 1e-9);
        assert_eq!(b[1].1, None);
        assert_eq!(b[2].1, Some(0.9));
        assert_eq!(b[3].1, None, "a window past `to` is left out");
        assert!((b[0].3.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(b[0].0, "01:00");
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(87.0), 100.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(240.0), 250.0);
        assert_eq!(nice_ceiling(3.2), 5.0);
    }
}
