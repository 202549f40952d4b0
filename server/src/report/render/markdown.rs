//! The report as Markdown for wikis (GitHub-flavoured tables): the same sections and
//! figures as the HTML, without charts. Text from the estate is escaped for table cells
//! (`|`, line breaks) and for inline markup.

use std::fmt::Write as _;

use super::{
    MAX_APPENDIX_ROWS, MAX_LIST_ROWS, day, hosts, key_points, mass, pct, pct1, points, thousands,
    windows11_title,
};
use crate::report::model::{CapacityRow, Report};

/// Escapes text for a Markdown table cell or paragraph.
pub fn md(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        match ch {
            '|' | '\\' | '*' | '_' | '`' | '<' | '>' | '[' | ']' => {
                s.push('\\');
                s.push(ch);
            }
            '\n' | '\r' => s.push(' '),
            c => s.push(c),
        }
    }
    s
}

fn table(out: &mut String, header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| h.trim_start_matches('#'))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let align: Vec<&str> = header
        .iter()
        .map(|h| if h.starts_with('#') { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "| {} |", align.join(" | "));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

fn more(out: &mut String, shown: usize, total: usize, what: &str) {
    if total > shown {
        let _ = writeln!(
            out,
            "{} more {what} are in the CSV and JSON files of this report.\n",
            thousands((total - shown) as f64, 0)
        );
    }
}

fn capacity_rows(out: &mut String, rows: &[CapacityRow]) {
    table(
        out,
        &[
            "Host",
            "#CPU p95",
            "#Memory p95",
            "#Memory GiB",
            "Fullest filesystem",
            "Why",
        ],
        rows.iter().take(MAX_LIST_ROWS).map(|c| {
            vec![
                md(&c.hostname),
                pct(c.cpu_p95_ratio),
                pct(c.memory_p95_ratio),
                c.memory_gib
                    .map_or_else(|| "–".to_owned(), |g| format!("{g:.0}")),
                match (&c.min_available_mount, c.min_available_ratio) {
                    (Some(m), Some(r)) => format!("{}: {} free", md(m), pct(Some(r))),
                    _ => "–".to_owned(),
                },
                c.reasons.join(", "),
            ]
        }),
    );
    more(out, MAX_LIST_ROWS.min(rows.len()), rows.len(), "hosts");
}

/// Renders the report as Markdown.
pub fn render(r: &Report) -> String {
    let mut out = String::with_capacity(32 * 1024 + r.hosts.len().min(MAX_APPENDIX_ROWS) * 160);
    let o = &mut out;
    let s = &r.summary;
    let _ = writeln!(o, "# {}\n", md(&r.title));
    let _ = writeln!(
        o,
        "ICT health check, {} — profile `{}`, {}.\n",
        r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        r.profile.replace('`', "'"),
        hosts(s.hosts)
    );

    let _ = writeln!(o, "## Estate summary\n");
    for p in key_points(r) {
        let _ = writeln!(o, "- {}", md(&p));
    }
    o.push('\n');
    table(
        o,
        &[
            "Estate score",
            "Band",
            "#Green",
            "#Amber",
            "#Red",
            "#Unscored",
            "#Assessed",
            "#Stale",
        ],
        [vec![
            pct1(s.score),
            s.band.clone().unwrap_or_else(|| "unscored".to_owned()),
            s.bands.green.to_string(),
            s.bands.amber.to_string(),
            s.bands.red.to_string(),
            s.bands.unscored.to_string(),
            s.assessed_hosts.to_string(),
            s.stale_hosts.to_string(),
        ]],
    );
    if let Some(t) = &s.trend {
        let _ = writeln!(
            o,
            "Against the report of {}: score {}, hosts {:+}, red hosts {:+}{}.\n",
            t.previous_at.format("%Y-%m-%d"),
            t.score_change.map_or_else(|| "–".to_owned(), points),
            t.hosts_change,
            t.red_change,
            t.onprem_kgco2e_change.map_or_else(String::new, |c| format!(
                ", on-premises carbon {}{}",
                if c >= 0.0 { "+" } else { "−" },
                mass(c.abs())
            ))
        );
    }
    if !s.categories.is_empty() {
        table(
            o,
            &["Category", "#Score", "#Hosts"],
            s.categories
                .iter()
                .map(|c| vec![c.category.clone(), pct1(Some(c.score)), c.hosts.to_string()]),
        );
    }
    for (title, counts) in [
        ("Type", &s.by_type),
        ("Operating system", &s.by_os),
        ("Site", &s.by_site),
    ] {
        table(
            o,
            &[title, "#Hosts"],
            counts
                .iter()
                .map(|c| vec![md(&c.name), thousands(c.hosts as f64, 0)]),
        );
    }

    let _ = writeln!(o, "## Top risks and what raises the score most\n");
    if r.risks.top.is_empty() {
        let _ = writeln!(o, "No check fails on any host.\n");
    } else {
        table(
            o,
            &[
                "Severity",
                "Check",
                "Title",
                "#Hosts failing",
                "#Of applicable",
            ],
            r.risks.top.iter().map(|k| {
                vec![
                    k.severity.clone(),
                    format!("`{}`", k.id),
                    md(&k.title),
                    thousands(k.failing_hosts as f64, 0),
                    pct(Some(k.failing_ratio)),
                ]
            }),
        );
    }
    if !r.risks.improvements.is_empty() {
        let _ = writeln!(o, "What would raise the estate score most:\n");
        table(
            o,
            &["Check", "Title", "#Hosts", "#Gain"],
            r.risks.improvements.iter().map(|g| {
                vec![
                    format!("`{}`", g.id),
                    md(&g.title),
                    thousands(g.failing_hosts as f64, 0),
                    points(g.gain),
                ]
            }),
        );
    }
    if !r.risks.worst_hosts.is_empty() {
        let _ = writeln!(o, "Lowest-scoring hosts:\n");
        table(
            o,
            &["Host", "#Score", "Band", "Critical checks failing"],
            r.risks.worst_hosts.iter().map(|h| {
                vec![
                    md(&h.hostname),
                    pct1(h.score),
                    h.band.clone().unwrap_or_else(|| "unscored".to_owned()),
                    h.critical_failures.join(", "),
                ]
            }),
        );
    }

    let _ = writeln!(o, "## Checks across the fleet\n");
    table(
        o,
        &[
            "Check",
            "Category",
            "Severity",
            "#Pass",
            "#Fail",
            "#Waived",
            "#Error",
            "#N/A",
            "#Pass rate",
        ],
        r.checks.iter().map(|c| {
            vec![
                format!("`{}`", c.id),
                c.category.clone(),
                c.severity.clone(),
                c.pass.to_string(),
                c.fail.to_string(),
                c.waived.to_string(),
                c.error.to_string(),
                c.not_applicable.to_string(),
                pct(c.pass_ratio),
            ]
        }),
    );

    let l = &r.lifecycle;
    let _ = writeln!(
        o,
        "## Lifecycle: end of life in the next {} days\n",
        l.horizon_days
    );
    let _ = writeln!(
        o,
        "OS support has ended on {} and ends within {} days on {}; {} have no known support dates. Physical hardware: {} past the {}-year refresh age, {} due within the horizon, {} of unknown age.\n",
        hosts(l.os_ended_hosts),
        l.horizon_days,
        hosts(l.os_ending_hosts),
        hosts(l.os_unknown_hosts),
        hosts(l.hardware_overdue_hosts),
        l.refresh_age_years,
        thousands(l.hardware_due_hosts as f64, 0),
        thousands(l.hardware_unknown_hosts as f64, 0)
    );
    if !l.os.is_empty() {
        table(
            o,
            &[
                "Release",
                "Status",
                "End of support",
                "#Days left",
                "Extended support to",
                "#Hosts",
            ],
            l.os.iter().map(|e| {
                vec![
                    md(&e.release),
                    e.status.clone(),
                    day(e.end_of_support),
                    e.days_left
                        .map_or_else(|| "–".to_owned(), |d| d.to_string()),
                    day(e.extended_support_end),
                    thousands(e.hosts as f64, 0),
                ]
            }),
        );
    }
    if !l.hardware.is_empty() {
        table(
            o,
            &[
                "Model",
                "#Hosts",
                "#Already past",
                "Oldest BIOS date",
                "First due",
            ],
            l.hardware.iter().take(MAX_LIST_ROWS).map(|h| {
                vec![
                    md(&h.model),
                    h.hosts.to_string(),
                    h.overdue.to_string(),
                    day(h.oldest_bios_date),
                    day(h.first_due),
                ]
            }),
        );
        more(
            o,
            MAX_LIST_ROWS.min(l.hardware.len()),
            l.hardware.len(),
            "models",
        );
    }

    windows11(o, r);

    let c = &r.capacity;
    let _ = writeln!(o, "## Capacity\n");
    let _ = writeln!(
        o,
        "{} servers have at least {:.0} days of history, {} do not yet.\n\n### Under-utilised servers (CPU p95 below {}): {}\n",
        thousands(c.servers_with_history as f64, 0),
        c.min_history_days,
        thousands(c.servers_without_history as f64, 0),
        pct(Some(c.idle_cpu_p95_below)),
        c.under_utilised.len()
    );
    if !c.under_utilised.is_empty() {
        capacity_rows(o, &c.under_utilised);
    }
    let _ = writeln!(
        o,
        "### Over-utilised hosts (CPU or memory p95 from {} / {}, or a filesystem under {} free): {}\n",
        pct(Some(c.busy_cpu_p95_at)),
        pct(Some(c.busy_memory_p95_at)),
        pct(Some(c.min_available_ratio)),
        c.over_utilised.len()
    );
    if !c.over_utilised.is_empty() {
        capacity_rows(o, &c.over_utilised);
    }

    let cb = &r.carbon;
    let on = &cb.onprem;
    let _ = writeln!(o, "## Energy and carbon\n");
    let _ = writeln!(
        o,
        "On-premises, {}: {} kWh/yr ({} W average); location-based {} CO2e/yr{}, market-based {}, embodied {}; total (location + embodied) {} (range {} – {}). {} have no estimate.\n",
        hosts(on.hosts),
        thousands(on.energy_kwh_per_year, 0),
        thousands(on.power_watts, 0),
        mass(on.location_kgco2e_per_year),
        cb.grid_year
            .map_or_else(String::new, |y| format!(" (UK grid {y})")),
        mass(on.market_kgco2e_per_year),
        mass(on.embodied_kgco2e_per_year),
        mass(on.total_kgco2e_per_year),
        mass(on.low_kgco2e_per_year),
        mass(on.high_kgco2e_per_year),
        hosts(cb.hosts_without_estimate)
    );
    if !cb.scenarios.is_empty() {
        table(
            o,
            &[
                "Scenario",
                "#Hosts",
                "#Unplaced",
                "#kWh/yr",
                "#Location",
                "#Market",
                "#Embodied",
                "#Today",
                "#Saved/yr",
                "Ready / cond. / not / unknown",
                "Stars 1/2/3/4/5",
            ],
            cb.scenarios.iter().map(|s| {
                vec![
                    md(&s.name),
                    s.scenario.hosts.to_string(),
                    s.unplaced_hosts.to_string(),
                    thousands(s.scenario.energy_kwh_per_year, 0),
                    mass(s.scenario.location_kgco2e_per_year),
                    mass(s.scenario.market_kgco2e_per_year),
                    mass(s.scenario.embodied_kgco2e_per_year),
                    mass(s.onprem_kgco2e_per_year),
                    format!("{} ({})", mass(s.saved_kgco2e_per_year), pct(s.saved_ratio)),
                    format!(
                        "{} / {} / {} / {}",
                        s.readiness.ready,
                        s.readiness.conditionally_ready,
                        s.readiness.not_ready,
                        s.readiness.unknown
                    ),
                    s.confidence
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("/"),
                ]
            }),
        );
    }
    if !cb.candidates.is_empty() {
        let best = super::best_per_host(&cb.candidates);
        let _ = writeln!(
            o,
            "Best migration and retirement candidates (each host once, with the scenario that saves most for it):\n"
        );
        table(
            o,
            &[
                "Host",
                "Scenario",
                "Instance",
                "#Saved/yr",
                "Readiness",
                "#Stars",
            ],
            best.iter().take(MAX_LIST_ROWS).map(|k| {
                vec![
                    md(&k.hostname),
                    md(&k.scenario),
                    md(k.instance.as_deref().unwrap_or("retire")),
                    mass(k.saved_kgco2e_per_year),
                    k.readiness.replace('_', " "),
                    k.confidence.to_string(),
                ]
            }),
        );
        more(
            o,
            MAX_LIST_ROWS.min(best.len()),
            best.len(),
            "candidate hosts",
        );
    }

    let _ = writeln!(o, "## What changed since the last report\n");
    match &r.changes {
        None => {
            let _ = writeln!(
                o,
                "This is the first report: the next one will say what changed.\n"
            );
        }
        Some(ch) => {
            let _ = writeln!(
                o,
                "Previous report {}: estate score {} → {}. {} new, {} gone; {} host × check pairs newly failing, {} newly fixed; {} hosts' band got worse, {} better.\n",
                ch.previous_at.format("%Y-%m-%d %H:%M UTC"),
                pct1(ch.previous_score),
                pct1(ch.score),
                hosts(ch.new_hosts.len()),
                thousands(ch.gone_hosts.len() as f64, 0),
                ch.newly_failing_total,
                ch.newly_fixed_total,
                ch.worse.len(),
                ch.better.len()
            );
            for (title, list) in [
                ("Newly failing", &ch.newly_failing),
                ("Newly fixed", &ch.newly_fixed),
            ] {
                if !list.is_empty() {
                    let _ = writeln!(o, "{title}:\n");
                    table(
                        o,
                        &["Check", "Severity", "#Hosts"],
                        list.iter().take(MAX_LIST_ROWS).map(|k| {
                            vec![
                                format!("`{}`", k.id),
                                k.severity.clone(),
                                k.hosts.to_string(),
                            ]
                        }),
                    );
                }
            }
            for (title, list) in [
                ("Band got worse", &ch.worse),
                ("Band got better", &ch.better),
            ] {
                if !list.is_empty() {
                    let _ = writeln!(o, "{title}:\n");
                    table(
                        o,
                        &["Host", "From", "To", "#Score"],
                        list.iter().take(MAX_LIST_ROWS).map(|m| {
                            vec![
                                md(&m.hostname),
                                m.from.clone(),
                                m.to.clone(),
                                format!("{} → {}", pct1(m.from_score), pct1(m.to_score)),
                            ]
                        }),
                    );
                    more(o, MAX_LIST_ROWS.min(list.len()), list.len(), "hosts");
                }
            }
            for (title, list) in [("New hosts", &ch.new_hosts), ("Gone hosts", &ch.gone_hosts)] {
                if !list.is_empty() {
                    let names: Vec<String> = list
                        .iter()
                        .take(MAX_LIST_ROWS * 2)
                        .map(|h| md(&h.hostname))
                        .collect();
                    let _ = writeln!(o, "{title}: {}\n", names.join(", "));
                    more(o, names.len(), list.len(), "hosts");
                }
            }
        }
    }

    let a = &r.assumptions;
    let _ = writeln!(o, "## Assumptions, factors and sources\n");
    for st in &a.statements {
        let _ = writeln!(o, "- {}", md(st));
    }
    o.push('\n');
    if !a.notes.is_empty() {
        table(
            o,
            &["Assumption", "Meaning", "#Hosts"],
            a.notes
                .iter()
                .map(|n| vec![format!("`{}`", n.note), md(&n.meaning), n.hosts.to_string()]),
        );
    }
    if !a.factors.is_empty() {
        table(
            o,
            &["Factor", "#Value", "Unit", "Source", "Version", "#Hosts"],
            a.factors.iter().map(|f| {
                vec![
                    format!("`{}`", f.name.replace('`', "'")),
                    format!("{}", f.value),
                    md(&f.unit),
                    md(&f.source),
                    md(&f.version),
                    f.hosts.to_string(),
                ]
            }),
        );
    }

    let _ = writeln!(o, "## Appendix: every host\n");
    table(
        o,
        &[
            "Host",
            "Type",
            "OS",
            "Site",
            "#Score",
            "Band",
            "#Failing",
            "#Critical",
            "OS support ends",
            "#kgCO2e/yr",
        ],
        r.hosts.iter().take(MAX_APPENDIX_ROWS).map(|h| {
            vec![
                md(&h.hostname),
                h.host_type.clone(),
                md(&h.os),
                md(h.site.as_deref().unwrap_or("–")),
                pct1(h.score),
                h.band.clone().unwrap_or_else(|| "unscored".to_owned()),
                h.failing.to_string(),
                h.critical_failing.to_string(),
                day(h.os_end_of_support),
                h.onprem_kgco2e_per_year
                    .map_or_else(|| "–".to_owned(), |k| thousands(k, 0)),
            ]
        }),
    );
    more(
        o,
        MAX_APPENDIX_ROWS.min(r.hosts.len()),
        r.hosts.len(),
        "hosts",
    );
    out
}

/// The Windows 11 readiness section (only when there are Windows 10 hosts).
fn windows11(o: &mut String, r: &Report) {
    let Some(w) = &r.windows11 else {
        return;
    };
    let _ = writeln!(o, "## Windows 11 readiness\n");
    let _ = writeln!(
        o,
        "{} run Windows 10: {} ready for Windows 11, {} not ready, {} that cannot be judged yet.\n",
        hosts(w.windows10_hosts),
        thousands(w.ready_hosts as f64, 0),
        thousands(w.not_ready_hosts as f64, 0),
        thousands(w.unknown_hosts as f64, 0)
    );
    table(
        o,
        &["Requirement", "#Hosts blocked", "#Hosts unknown"],
        w.requirements.iter().map(|q| {
            vec![
                md(&q.title),
                q.blocked_hosts.to_string(),
                q.unknown_hosts.to_string(),
            ]
        }),
    );
    let title = |id: &String| windows11_title(id).to_owned();
    table(
        o,
        &["Host", "Status", "Blocked by", "Unknown", "CPU"],
        w.hosts.iter().take(MAX_LIST_ROWS).map(|h| {
            vec![
                md(&h.hostname),
                h.status.replace('_', " "),
                md(&h.blockers.iter().map(title).collect::<Vec<_>>().join(", ")),
                md(&h.unknown.iter().map(title).collect::<Vec<_>>().join(", ")),
                md(h.cpu_model.as_deref().unwrap_or("–")),
            ]
        }),
    );
    more(
        o,
        MAX_LIST_ROWS.min(w.hosts.len()),
        w.hosts.len(),
        "Windows 10 hosts",
    );
}
