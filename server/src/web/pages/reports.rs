//! `/ui/reports`: the reports the collector's schedule wrote (`[reports] dir`), each a
//! download link.

use std::fmt::Write as _;

use crate::web::files::{Listed, ReportFile};
use crate::web::html::{bytes, esc, page, segment, tdn, thead, when};

/// What the reports page can say.
#[derive(Debug)]
pub enum ReportsState<'a> {
    /// No `[reports]` section.
    NotConfigured,
    /// The directory could not be read (the message is the I/O error, no path).
    Unreadable(&'a str),
    /// The reports found, newest first.
    Listed(&'a [Listed]),
}

fn url(name: &str) -> String {
    let parts: Vec<String> = name.split('/').map(segment).collect();
    format!("/ui/reports/{}", parts.join("/"))
}

fn row(out: &mut String, f: &ReportFile, kind: &str) {
    let _ = write!(
        out,
        r#"<tr><td><a href="{}">{}</a></td><td>{}</td>"#,
        esc(&url(&f.name)),
        esc(&f.name),
        esc(kind)
    );
    tdn(out, &bytes(f.size));
    let _ = write!(
        out,
        "<td>{}</td></tr>",
        esc(&f.modified.map_or_else(|| "–".to_owned(), when))
    );
}

fn kind(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, e)| e) {
        Some("html") => "HTML",
        Some("md") => "Markdown",
        Some("json") => "JSON",
        Some("csv") => "CSV",
        _ => "file",
    }
}

/// The reports page.
pub fn render(state: &ReportsState<'_>) -> String {
    let mut out = String::new();
    match state {
        ReportsState::NotConfigured => out.push_str(
            r#"<p>Scheduled reports are not configured on this collector: add a <code>[reports]</code> section to its config (docs/reports.md), or run <code>estate-server report</code>.</p>"#,
        ),
        ReportsState::Unreadable(why) => {
            let _ = write!(
                out,
                r#"<p>The reports directory could not be read: {}.</p>"#,
                esc(why)
            );
        }
        ReportsState::Listed([]) => out.push_str(
            r#"<p>No report has been written yet; the first comes at the next scheduled time.</p>"#,
        ),
        ReportsState::Listed(items) => {
            out.push_str("<table>");
            thead(&mut out, &["Report", "Format", "#Size", "Written"]);
            out.push_str("<tbody>");
            for item in *items {
                match item {
                    Listed::File(f) => row(&mut out, f, kind(&f.name)),
                    Listed::Csv(_, files) => {
                        for f in files {
                            row(&mut out, f, "CSV");
                        }
                    }
                }
            }
            out.push_str("</tbody></table>");
        }
    }
    page("Reports", "/ui/reports", &out)
}
