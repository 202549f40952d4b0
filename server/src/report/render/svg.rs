//! Inline SVG charts for the HTML report and the collector's web page
//! ([`crate::web`]): horizontal bars, stacked bars, a line. Plain shapes and text with a
//! fixed `viewBox` that scales to the page; no scripts, no external references, no
//! `xmlns` (inline SVG in HTML needs none), no `style` attributes (colours are
//! presentation attributes, the rest classes), so a page with a strict
//! Content-Security-Policy can show them.

use std::fmt::Write as _;

use super::html::esc;

/// Chart width in user units (the chart scales to its container).
const WIDTH: f64 = 560.0;
/// Width of the label column of bar charts.
const LABEL: f64 = 190.0;
/// Width of the value column.
const VALUE: f64 = 92.0;
/// Height of one bar row.
const ROW: f64 = 22.0;

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Label on the left.
    pub label: String,
    /// Length.
    pub value: f64,
    /// Fill colour (a CSS colour).
    pub colour: &'static str,
    /// Text on the right.
    pub text: String,
}

/// One segment of a stacked bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Legend label.
    pub label: String,
    /// Length.
    pub value: f64,
    /// Fill colour.
    pub colour: &'static str,
}

fn open(out: &mut String, title: &str, height: f64) {
    let _ = write!(
        out,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = esc(title)
    );
}

fn cut(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_owned()
    } else {
        let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Horizontal bars on one scale (`max`, else the largest value), with optional vertical
/// marks (value, label) such as band thresholds.
pub fn hbars(out: &mut String, title: &str, bars: &[Bar], max: Option<f64>, marks: &[(f64, &str)]) {
    let top = if marks.is_empty() { 4.0 } else { 16.0 };
    let height = top + ROW * bars.len().max(1) as f64 + 4.0;
    open(out, title, height);
    let largest = max.unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max));
    let span = WIDTH - LABEL - VALUE;
    let x = |v: f64| {
        if largest > 0.0 {
            LABEL + span * (v / largest).clamp(0.0, 1.0)
        } else {
            LABEL
        }
    };
    for (i, b) in bars.iter().enumerate() {
        let y = top + ROW * i as f64;
        let w = x(b.value) - LABEL;
        let _ = write!(
            out,
            r#"<text x="{lx:.0}" y="{ty:.1}" class="l" text-anchor="end">{label}<title>{full}</title></text><rect x="{LABEL}" y="{ry:.1}" width="{w:.1}" height="{h:.1}" fill="{c}" rx="2"/><text x="{vx:.1}" y="{ty:.1}" class="v">{text}</text>"#,
            lx = LABEL - 8.0,
            ty = y + 15.0,
            label = esc(&cut(&b.label, 28)),
            full = esc(&b.label),
            ry = y + 4.0,
            h = ROW - 8.0,
            c = b.colour,
            vx = x(b.value) + 6.0,
            text = esc(&b.text),
        );
    }
    for (v, label) in marks {
        let mx = x(*v);
        let _ = write!(
            out,
            r#"<line x1="{mx:.1}" y1="12" x2="{mx:.1}" y2="{y2:.1}" class="mark"/><text x="{mx:.1}" y="10" class="m" text-anchor="middle">{l}</text>"#,
            y2 = height - 2.0,
            l = esc(label)
        );
    }
    out.push_str("</svg>");
}

/// One stacked bar across the full width, with a legend below.
pub fn stacked(out: &mut String, title: &str, segments: &[Segment]) {
    let total: f64 = segments.iter().map(|s| s.value.max(0.0)).sum();
    open(out, title, 52.0);
    let mut x = 0.0;
    for s in segments {
        if total <= 0.0 || s.value <= 0.0 {
            continue;
        }
        let w = WIDTH * s.value / total;
        let _ = write!(
            out,
            r#"<rect x="{x:.1}" y="2" width="{w:.1}" height="24" fill="{c}"><title>{l}: {v}</title></rect>"#,
            c = s.colour,
            l = esc(&s.label),
            v = s.value
        );
        if w > 28.0 {
            let _ = write!(
                out,
                r#"<text x="{tx:.1}" y="19" class="in" text-anchor="middle">{v}</text>"#,
                tx = x + w / 2.0,
                v = s.value
            );
        }
        x += w;
    }
    let mut lx = 0.0;
    for s in segments {
        let _ = write!(
            out,
            r#"<rect x="{lx:.1}" y="36" width="10" height="10" fill="{c}"/><text x="{tx:.1}" y="45" class="l">{l}</text>"#,
            c = s.colour,
            tx = lx + 14.0,
            l = esc(&format!("{} {}", s.label, s.value))
        );
        lx += 14.0 + 7.0 * (s.label.len() as f64 + 6.0);
    }
    out.push_str("</svg>");
}

/// The vertical scale of [`line_on`]: the value at the top of the plot, and how a
/// grid line's value and a point's value are written.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// The value at the top (the bottom is 0); values are clamped to `[0, max]`.
    pub max: f64,
    /// A grid line's label.
    pub axis: fn(f64) -> String,
    /// A point's value, in its tooltip.
    pub point: fn(f64) -> String,
}

impl Scale {
    /// Ratios 0–1 shown as percentages (what [`line`] draws).
    pub const RATIO: Scale = Scale {
        max: 1.0,
        axis: |v| format!("{:.0}%", v * 100.0),
        point: |v| format!("{:.1}%", v * 100.0),
    };
}

/// A line of values 0–1 over labelled points (oldest first), with dashed reference
/// lines (value, label).
pub fn line(out: &mut String, title: &str, points: &[(String, Option<f64>)], refs: &[(f64, &str)]) {
    line_on(out, title, points, refs, &Scale::RATIO);
}

/// A line of values on `scale` over labelled points (oldest first), with dashed
/// reference lines (value, label).
pub fn line_on(
    out: &mut String,
    title: &str,
    points: &[(String, Option<f64>)],
    refs: &[(f64, &str)],
    scale: &Scale,
) {
    let (h, left, bottom, top) = (170.0, 40.0, 24.0, 10.0);
    let plot_h = h - bottom - top;
    open(out, title, h);
    let max = if scale.max > 0.0 { scale.max } else { 1.0 };
    let y = |v: f64| top + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));
    for g in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let _ = write!(
            out,
            r#"<line x1="{left}" y1="{gy:.1}" x2="{WIDTH}" y2="{gy:.1}" class="grid"/><text x="{tx}" y="{ty:.1}" class="m" text-anchor="end">{p}</text>"#,
            gy = y(g * max),
            tx = left - 4.0,
            ty = y(g * max) + 4.0,
            p = esc(&(scale.axis)(g * max))
        );
    }
    for (v, label) in refs {
        let _ = write!(
            out,
            r#"<line x1="{left}" y1="{ry:.1}" x2="{WIDTH}" y2="{ry:.1}" class="mark"/><text x="{tx}" y="{ty:.1}" class="m" text-anchor="end">{l}</text>"#,
            ry = y(*v),
            tx = WIDTH - 2.0,
            ty = y(*v) - 3.0,
            l = esc(label)
        );
    }
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            left + (WIDTH - left) / 2.0
        } else {
            left + 12.0 + (WIDTH - left - 24.0) * i as f64 / (n - 1) as f64
        }
    };
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    if path.len() > 1 {
        let _ = write!(
            out,
            r#"<polyline points="{}" class="trend"/>"#,
            path.join(" ")
        );
    }
    let every = n.div_ceil(8).max(1);
    for (i, (label, v)) in points.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(
                out,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="3.5" class="dot"><title>{l}: {p}</title></circle>"#,
                cx = x(i),
                cy = y(*v),
                l = esc(label),
                p = esc(&(scale.point)(*v))
            );
        }
        if i % every == 0 || i + 1 == n {
            let anchor = if n > 1 && i + 1 == n {
                "end"
            } else if n > 1 && i == 0 {
                "start"
            } else {
                "middle"
            };
            let _ = write!(
                out,
                r#"<text x="{tx:.1}" y="{ty:.1}" class="m" text-anchor="{anchor}">{l}</text>"#,
                tx = x(i),
                ty = h - 6.0,
                l = esc(label)
            );
        }
    }
    out.push_str("</svg>");
}

/// Horizontal bars of up to two stacked parts per row, each part with its colour, on
/// one scale (the legend is the caller's, in HTML).
pub fn stacked_rows(out: &mut String, title: &str, rows: &[StackedRow]) {
    let height = 4.0 + ROW * rows.len().max(1) as f64;
    open(out, title, height);
    let largest = rows.iter().map(|r| r.a.0 + r.b.0).fold(0.0, f64::max);
    let span = WIDTH - LABEL - VALUE;
    let w = |v: f64| {
        if largest > 0.0 {
            span * (v / largest).max(0.0)
        } else {
            0.0
        }
    };
    for (i, r) in rows.iter().enumerate() {
        let y = 2.0 + ROW * i as f64;
        let (wa, wb) = (w(r.a.0), w(r.b.0));
        let _ = write!(
            out,
            r#"<text x="{lx:.0}" y="{ty:.1}" class="l" text-anchor="end">{label}<title>{full}</title></text><rect x="{LABEL}" y="{ry:.1}" width="{wa:.1}" height="{h:.1}" fill="{ca}"/><rect x="{bx:.1}" y="{ry:.1}" width="{wb:.1}" height="{h:.1}" fill="{cb}"/><text x="{vx:.1}" y="{ty:.1}" class="v">{t}</text>"#,
            lx = LABEL - 8.0,
            ty = y + 15.0,
            label = esc(&cut(&r.label, 28)),
            full = esc(&r.label),
            ry = y + 4.0,
            h = ROW - 8.0,
            ca = r.a.1,
            bx = LABEL + wa,
            cb = r.b.1,
            vx = LABEL + wa + wb + 6.0,
            t = esc(&r.text),
        );
    }
    out.push_str("</svg>");
}

/// One row of [`stacked_rows`].
#[derive(Debug, Clone)]
pub struct StackedRow {
    /// Label on the left.
    pub label: String,
    /// The first part and its colour.
    pub a: (f64, &'static str),
    /// The second part and its colour.
    pub b: (f64, &'static str),
    /// Text on the right.
    pub text: String,
}

/// A small bar of a check's fleet results (pass, fail, waived, error), 120 × 12.
pub fn mini(out: &mut String, parts: [(usize, &'static str); 4]) {
    let total: usize = parts.iter().map(|p| p.0).sum();
    out.push_str(r#"<svg class="mini" viewBox="0 0 120 12" role="img" aria-hidden="true">"#);
    if total == 0 {
        out.push_str(r#"<rect x="0" y="0" width="120" height="12" class="none"/>"#);
    }
    let mut x = 0.0;
    for (n, colour) in parts {
        if n == 0 || total == 0 {
            continue;
        }
        let w = 120.0 * n as f64 / total as f64;
        let _ = write!(
            out,
            r#"<rect x="{x:.2}" y="0" width="{w:.2}" height="12" fill="{colour}"/>"#
        );
        x += w;
    }
    out.push_str("</svg>");
}
