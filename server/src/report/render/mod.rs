//! Renderers: the [`Report`] laid out as one self-contained HTML file, Markdown, CSV
//! files, or JSON. Each is a pure function of the report that writes into a buffer or
//! a writer it is given; none opens a file.
//!
//! The helpers here format numbers the same way in HTML and Markdown and say the
//! report's key points in plain words.

pub mod csv;
pub mod html;
pub mod markdown;
pub(crate) mod svg;

use chrono::NaiveDate;

use crate::report::model::Report;

/// Hosts listed in the HTML and Markdown appendix; the CSV and JSON list every host.
pub const MAX_APPENDIX_ROWS: usize = 20_000;
/// Rows of the long lists (capacity, candidates, band moves, new and gone hosts) in the
/// HTML and Markdown; the CSV and JSON have all.
pub const MAX_LIST_ROWS: usize = 25;

/// The report as JSON (what "what changed" reads back), pretty-printed.
pub fn json(report: &Report, out: &mut dyn std::io::Write) -> Result<(), serde_json::Error> {
    serde_json::to_writer_pretty(&mut *out, report)
}

/// `1234567.8` with `decimals` places and thousands separators: `1,234,567.8`.
pub fn thousands(value: f64, decimals: usize) -> String {
    if !value.is_finite() {
        return "–".to_owned();
    }
    let text = format!("{:.*}", decimals, value.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 4);
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if let Some(f) = frac {
        grouped.push('.');
        grouped.push_str(f);
    }
    let negative = value < 0.0 && grouped.chars().any(|c| c.is_ascii_digit() && c != '0');
    if negative {
        format!("−{grouped}")
    } else {
        grouped
    }
}

/// A ratio as a percentage: `0.873` → `87%`; `–` when unknown.
pub fn pct(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.0}%", r * 100.0))
}

/// A ratio as a percentage with one decimal: `0.8734` → `87.3%`.
pub fn pct1(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// A change of score in points: `+1.2 pts`, `−0.4 pts`.
pub fn points(change: f64) -> String {
    let p = change * 100.0;
    if p.abs() < 0.05 {
        "±0.0 pts".to_owned()
    } else if p > 0.0 {
        format!("+{p:.1} pts")
    } else {
        format!("−{:.1} pts", -p)
    }
}

/// kgCO2e as tonnes with one decimal (or kg below a tonne): `12.3 t`, `640 kg`.
pub fn mass(kg: f64) -> String {
    if kg.abs() >= 1000.0 {
        format!("{} t", thousands(kg / 1000.0, 1))
    } else {
        format!("{} kg", thousands(kg, 0))
    }
}

/// An optional date as `YYYY-MM-DD`, or `–`.
pub fn day(date: Option<NaiveDate>) -> String {
    date.map_or_else(|| "–".to_owned(), |d| d.format("%Y-%m-%d").to_string())
}

/// The candidates with each host once: its largest saving (the list is largest first).
pub fn best_per_host(
    candidates: &[crate::report::model::Candidate],
) -> Vec<&crate::report::model::Candidate> {
    let mut seen = std::collections::HashSet::new();
    candidates
        .iter()
        .filter(|c| seen.insert(c.host_id.as_str()))
        .collect()
}

/// `n` of `total` as a percentage, for phrases: `12%`.
fn share(n: usize, total: usize) -> String {
    if total == 0 {
        "0%".to_owned()
    } else {
        format!("{:.0}%", n as f64 * 100.0 / total as f64)
    }
}

/// A Windows 11 requirement's short title from its id (`tpm2` → `TPM 2.0`).
pub fn windows11_title(id: &str) -> &str {
    match id {
        "tpm2" => "TPM 2.0",
        "uefi_secure_boot" => "UEFI/Secure Boot",
        "cpu" => "CPU generation",
        "memory" => "memory",
        "storage" => "storage",
        other => other,
    }
}

/// `1 host`, `2 hosts`.
pub fn hosts(n: usize) -> String {
    if n == 1 {
        "1 host".to_owned()
    } else {
        format!("{} hosts", thousands(n as f64, 0))
    }
}

/// The report's key points, in plain sentences, most important first.
pub fn key_points(r: &Report) -> Vec<String> {
    let mut points_ = Vec::new();
    let s = &r.summary;
    match s.score {
        Some(score) => points_.push(format!(
            "The estate scores {} ({}) over {} assessed; {} ({}) are red and {} fail a critical check.",
            pct1(Some(score)),
            s.band.as_deref().unwrap_or("unscored"),
            hosts(s.assessed_hosts),
            hosts(s.bands.red),
            share(s.bands.red, s.hosts),
            hosts(r.risks.hosts_with_critical_failures),
        )),
        None => points_.push(format!(
            "No host has a score yet ({} known, {} assessed).",
            hosts(s.hosts),
            s.assessed_hosts
        )),
    }
    if let Some(t) = &s.trend {
        let mut parts = Vec::new();
        if let Some(c) = t.score_change {
            parts.push(format!("score {}", points(c)));
        }
        parts.push(format!("hosts {:+}", t.hosts_change));
        parts.push(format!("red hosts {:+}", t.red_change));
        points_.push(format!(
            "Since the last report ({}): {}.",
            t.previous_at.format("%Y-%m-%d"),
            parts.join(", ")
        ));
    }
    if let Some(g) = r.risks.improvements.first() {
        points_.push(format!(
            "Fixing “{}” on {} would raise the estate score most ({}).",
            g.title,
            hosts(g.failing_hosts),
            points(g.gain)
        ));
    }
    let l = &r.lifecycle;
    if l.os_ended_hosts + l.os_ending_hosts > 0 {
        points_.push(format!(
            "OS support has ended on {} and ends within {} days on {} more.",
            hosts(l.os_ended_hosts),
            l.horizon_days,
            hosts(l.os_ending_hosts)
        ));
    }
    if l.hardware_overdue_hosts + l.hardware_due_hosts > 0 {
        points_.push(format!(
            "{} of physical hardware {} past the {}-year refresh age, and {} reach it within {} days.",
            hosts(l.hardware_overdue_hosts),
            if l.hardware_overdue_hosts == 1 { "is" } else { "are" },
            l.refresh_age_years,
            thousands(l.hardware_due_hosts as f64, 0),
            l.horizon_days
        ));
    }
    let c = &r.carbon;
    if c.onprem.hosts > 0 {
        let mut text = format!(
            "On-premises today: {} CO2e a year ({} operational location-based + {} embodied) from {} kWh.",
            mass(c.onprem.total_kgco2e_per_year),
            mass(c.onprem.location_kgco2e_per_year),
            mass(c.onprem.embodied_kgco2e_per_year),
            thousands(c.onprem.energy_kwh_per_year, 0)
        );
        if let Some(best) = c
            .scenarios
            .iter()
            .filter(|s| s.saved_kgco2e_per_year > 0.0)
            .max_by(|a, b| a.saved_kgco2e_per_year.total_cmp(&b.saved_kgco2e_per_year))
        {
            text.push_str(&format!(
                " Scenario {} would save {} a year ({} of those {}' figure).",
                best.name,
                mass(best.saved_kgco2e_per_year),
                pct(best.saved_ratio),
                hosts(best.scenario.hosts)
            ));
        }
        points_.push(text);
    }
    let cap = &r.capacity;
    if !cap.under_utilised.is_empty() || !cap.over_utilised.is_empty() {
        points_.push(format!(
            "{} look idle and {} are short of CPU, memory or disk.",
            hosts(cap.under_utilised.len()),
            thousands(cap.over_utilised.len() as f64, 0)
        ));
    }
    if s.stale_hosts > 0 {
        points_.push(format!(
            "{} stopped reporting (stale): their figures are as of their last report.",
            hosts(s.stale_hosts)
        ));
    }
    points_
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_signed() {
        assert_eq!(thousands(1_234_567.84, 1), "1,234,567.8");
        assert_eq!(thousands(999.0, 0), "999");
        assert_eq!(thousands(-1234.0, 0), "−1,234");
        assert_eq!(thousands(-0.01, 0), "0");
        assert_eq!(points(0.0123), "+1.2 pts");
        assert_eq!(points(-0.004), "−0.4 pts");
        assert_eq!(mass(12_345.0), "12.3 t");
        assert_eq!(mass(640.2), "640 kg");
        assert_eq!(pct(Some(0.873)), "87%");
        assert_eq!(pct(None), "–");
    }
}
