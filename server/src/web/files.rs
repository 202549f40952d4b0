//! The reports directory as the web page sees it (`[reports] dir`): listing the
//! generated reports and opening one for download. This is the file edge of the web
//! page; it refuses every name that is not a plain name of a regular file directly in
//! that directory (or in one of its CSV report directories): no `..`, no separators,
//! no hidden or temporary files, no symbolic links, nothing whose real path leaves the
//! directory.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::report::output::PREFIX;

/// One generated report file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFile {
    /// Its name in the directory (or `DIR/NAME` inside a CSV report directory).
    pub name: String,
    /// Size, bytes.
    pub size: u64,
    /// Last modified.
    pub modified: Option<DateTime<Utc>>,
}

/// One report of the directory: a file, or a CSV report directory with its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A report file (`.html`, `.md`, `.json`).
    File(ReportFile),
    /// A CSV report: the directory's name and its files.
    Csv(String, Vec<ReportFile>),
}

/// Whether `name` may be served: one plain path component, not hidden (which also
/// rules out `.` and `..` and the writer's temporary names), no separator or control
/// character.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && !name.chars().any(char::is_control)
}

fn file_entry(path: &Path, name: String) -> Option<ReportFile> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.is_file().then(|| ReportFile {
        name,
        size: meta.len(),
        modified: meta.modified().ok().map(DateTime::<Utc>::from),
    })
}

/// The reports in `dir`, newest first (names sort by time): regular files and CSV
/// report directories; symbolic links and hidden names are left out.
pub fn list(dir: &Path) -> std::io::Result<Vec<Listed>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !plain_name(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            if let Some(f) = file_entry(&path, name) {
                found.push(Listed::File(f));
            }
        } else if meta.is_dir() && name.starts_with(PREFIX) && name.ends_with("-csv") {
            let mut files: Vec<ReportFile> = std::fs::read_dir(&path)?
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let inner = e.file_name().to_str()?.to_owned();
                    if !plain_name(&inner) {
                        return None;
                    }
                    file_entry(&e.path(), format!("{name}/{inner}"))
                })
                .collect();
            files.sort_by(|a, b| a.name.cmp(&b.name));
            found.push(Listed::Csv(name, files));
        }
    }
    let key = |l: &Listed| match l {
        Listed::File(f) => f.name.clone(),
        Listed::Csv(n, _) => n.clone(),
    };
    found.sort_by_key(|l| std::cmp::Reverse(key(l)));
    Ok(found)
}

/// The path of the report file `parts` names (one name, or a CSV report directory and
/// a name in it), when it is a regular file whose real path is inside `dir`; `None`
/// for anything else (the caller answers 404).
pub fn resolve(dir: &Path, parts: &[&str]) -> Option<PathBuf> {
    let root = dir.canonicalize().ok()?;
    let mut path = root.clone();
    for (i, part) in parts.iter().enumerate() {
        if !plain_name(part) {
            return None;
        }
        path.push(part);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        let last = i + 1 == parts.len();
        let ok = if last {
            meta.is_file()
        } else {
            meta.is_dir() && part.starts_with(PREFIX) && part.ends_with("-csv")
        };
        if !ok {
            return None;
        }
    }
    if parts.is_empty() || parts.len() > 2 {
        return None;
    }
    let real = path.canonicalize().ok()?;
    (real.starts_with(&root) && real != root).then_some(real)
}

/// The Content-Type of a report file, by its extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("md") => "text/markdown; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names() {
        assert!(plain_name("estate-report-20261201T060000Z.html"));
        for bad in [
            "", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a\0b", "a\nb",
        ] {
            assert!(!plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("r.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("r.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type("hosts.csv"), "text/csv; charset=utf-8");
        assert_eq!(content_type("r.json"), "application/json");
        assert_eq!(content_type("r"), "application/octet-stream");
    }

    #[cfg(unix)]
    #[test]
    fn resolve_refuses_escapes_and_links() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("estate-report-1.html"), "<p>r</p>").unwrap();
        std::fs::write(d.join(".estate-report-2.html.tmp"), "half").unwrap();
        std::fs::create_dir(d.join("estate-report-1-csv")).unwrap();
        std::fs::write(d.join("estate-report-1-csv/hosts.csv"), "a,b").unwrap();
        std::fs::create_dir(d.join("other")).unwrap();
        std::fs::write(d.join("other/x.csv"), "a").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), d.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), d.join("estate-report-9-csv")).unwrap();

        assert!(resolve(d, &["estate-report-1.html"]).is_some());
        assert!(resolve(d, &["estate-report-1-csv", "hosts.csv"]).is_some());
        for parts in [
            &[".estate-report-2.html.tmp"][..],
            &["link.txt"],
            &["estate-report-9-csv", "secret.txt"],
            &["other", "x.csv"],
            &["estate-report-1-csv"],
            &[".."],
            &["..", "secret.txt"],
            &["missing.html"],
            &[],
            &["estate-report-1-csv", "hosts.csv", "x"],
        ] {
            assert_eq!(resolve(d, parts), None, "{parts:?}");
        }

        let listed = list(d).unwrap();
        let names: Vec<String> = listed
            .iter()
            .map(|l| match l {
                Listed::File(f) => f.name.clone(),
                Listed::Csv(n, files) => format!(
                    "{n}[{}]",
                    files
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            })
            .collect();
        assert_eq!(
            names,
            [
                "estate-report-1.html",
                "estate-report-1-csv[estate-report-1-csv/hosts.csv]"
            ]
        );
    }
}
