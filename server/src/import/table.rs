//! Tables from export files: a CSV file (any of `,` `;` or tab as separator, quoted
//! fields, a UTF-8 BOM, CRLF line ends, non-UTF-8 bytes read leniently) or every sheet
//! of an XLSX workbook (read with `calamine`). Headers are matched by a normalised name
//! (letters and digits only, lower-case), so `OS according to the VMware Tools`,
//! `os according to the vmware tools` and `OS_according_to_the_VMware_Tools` are one
//! column. No I/O: the caller hands in the bytes.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{TimeZone, Utc};

use super::ImportError;

/// One sheet (or CSV file) with its header row.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file it came from.
    pub file: String,
    /// The sheet's name (XLSX), or the file's stem (CSV).
    pub sheet: String,
    /// Normalised header names, by column.
    headers: Vec<String>,
    /// The data rows, empty rows left out.
    pub rows: Vec<Row>,
}

/// A data row and where it is.
#[derive(Debug, Clone)]
pub struct Row {
    /// The line (CSV, 1-based, of the record's start) or row number (XLSX, 1-based).
    pub line: u64,
    cells: Vec<String>,
}

impl Row {
    /// The trimmed text of column `i`, `None` when absent or empty.
    pub fn get(&self, i: Option<usize>) -> Option<&str> {
        let cell = self.cells.get(i?)?.trim();
        (!cell.is_empty()).then_some(cell)
    }
}

/// A header name reduced to lower-case letters and digits.
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl Table {
    /// The first column named like one of `names` (normalised), in the order given.
    pub fn col(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|name| {
            let wanted = normalise(name);
            self.headers.iter().position(|h| *h == wanted)
        })
    }

    /// Whether every one of `names` is a column.
    pub fn has_all(&self, names: &[&str]) -> bool {
        names.iter().all(|n| self.col(&[n]).is_some())
    }

    /// The first column whose normalised name starts with `prefix` and ends with
    /// `suffix`, for numbered columns (`Disk 3 size (In GB)`): every match, in order.
    pub fn numbered(&self, prefix: &str, suffix: &str) -> Vec<usize> {
        let (p, s) = (normalise(prefix), normalise(suffix));
        self.headers
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.len() > p.len() + s.len()
                    && h.starts_with(&p)
                    && h.ends_with(&s)
                    && h[p.len()..h.len() - s.len()]
                        .chars()
                        .all(|c| c.is_ascii_digit())
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// Reads `bytes` as an XLSX workbook (every sheet) when it is a zip file, else as one
/// CSV table.
pub fn read(file: &str, bytes: &[u8]) -> Result<Vec<Table>, ImportError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_xlsx(file, bytes)
    } else {
        read_csv(file, bytes).map(|t| vec![t])
    }
}

fn unreadable(file: &str, reason: impl Into<String>) -> ImportError {
    ImportError::Unreadable {
        file: file.to_owned(),
        reason: reason.into(),
    }
}

fn read_csv(file: &str, bytes: &[u8]) -> Result<Table, ImportError> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(unreadable(file, "the file is empty"));
    }
    if bytes.contains(&0) {
        return Err(unreadable(
            file,
            "not a CSV file (binary content) nor an XLSX workbook",
        ));
    }
    // The separator the header line uses most: RVTools in a locale with a decimal
    // comma writes `;`.
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |sep: u8| first.iter().filter(|b| **b == sep).count();
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|s| count(*s))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(false)
        .from_reader(bytes);
    let mut headers: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| unreadable(file, e.to_string()))?;
        // The line from the byte offset: after a CRLF, csv's record starts at the LF
        // (its own line count lags by one there).
        let line = record.position().map_or(0, |p| {
            let mut at = usize::try_from(p.byte())
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            bytes[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1
        });
        let cells: Vec<String> = record
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if headers.is_none() {
            headers = Some(cells.iter().map(|c| normalise(c)).collect());
        } else {
            rows.push(Row { line, cells });
        }
    }
    let headers = headers.ok_or_else(|| unreadable(file, "the file has no header row"))?;
    let sheet = std::path::Path::new(file)
        .file_stem()
        .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    Ok(Table {
        file: file.to_owned(),
        sheet,
        headers,
        rows,
    })
}

/// A cell as text: whole numbers without `.0`, dates and times as RFC 3339 (UTC).
fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty | Data::Error(_) => String::new(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|n| Utc.from_utc_datetime(&n).to_rfc3339())
            .unwrap_or_else(|| d.as_f64().to_string()),
    }
}

fn read_xlsx(file: &str, bytes: &[u8]) -> Result<Vec<Table>, ImportError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| unreadable(file, format!("not a readable XLSX workbook: {e}")))?;
    let mut tables = Vec::new();
    for name in workbook.sheet_names() {
        let range = workbook
            .worksheet_range(&name)
            .map_err(|e| unreadable(file, format!("sheet `{name}`: {e}")))?;
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        let mut headers: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (i, row) in range.rows().enumerate() {
            // Cells left of the used range are empty: keep column indexes absolute.
            let mut cells = vec![String::new(); first_col as usize];
            cells.extend(row.iter().map(cell_text));
            if cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            if headers.is_none() {
                headers = Some(cells.iter().map(|c| normalise(c)).collect());
            } else {
                rows.push(Row {
                    line: u64::from(first_row) + i as u64 + 1,
                    cells,
                });
            }
        }
        if let Some(headers) = headers {
            tables.push(Table {
                file: file.to_owned(),
                sheet: name.clone(),
                headers,
                rows,
            });
        }
    }
    Ok(tables)
}
