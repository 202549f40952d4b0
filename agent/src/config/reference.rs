//! The configuration reference as data: one [`Entry`] per key and table of a config file
//! (its dotted path, type, default, unit and a one-line meaning), from which
//! `gen-config` prints a complete commented default file and against which tests hold
//! `docs/configuration.md` and the parser itself.
//!
//! The agent's entries are [`agent_entries`]; the collector keeps its own beside its
//! config. This module owns the descriptors and their rendering; it must not parse or
//! validate config files (that stays in [`crate::config`]).

use std::fmt::Write as _;

/// The value type of a key, as named in the reference's `type` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// A TOML integer.
    Integer,
    /// A TOML float (an integer is not accepted).
    Float,
    /// `true` or `false`.
    Boolean,
    /// A TOML string.
    String,
    /// A TOML string naming a file or directory.
    Path,
    /// An array of strings.
    StringArray,
    /// An array of integers.
    IntegerArray,
    /// A table of free names to strings (`[labels]`).
    StringMap,
    /// A table of free names to booleans (`[collectors]`).
    BooleanMap,
    /// A table of free names to floats.
    FloatMap,
    /// A table with fixed keys, each an entry of its own (`[section]`).
    Table,
    /// An array of tables with fixed keys (`[[section]]`).
    TableArray,
    /// Tables under free names, each with the same fixed keys (`[section.NAME]`).
    NamedTables,
}

impl KeyType {
    /// The name in the reference's `type` column.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Integer => "integer",
            KeyType::Float => "float",
            KeyType::Boolean => "boolean",
            KeyType::String => "string",
            KeyType::Path => "path",
            KeyType::StringArray => "array of strings",
            KeyType::IntegerArray => "array of integers",
            KeyType::StringMap => "table of strings",
            KeyType::BooleanMap => "table of booleans",
            KeyType::FloatMap => "table of floats",
            KeyType::Table => "table",
            KeyType::TableArray => "array of tables",
            KeyType::NamedTables => "tables by name",
        }
    }

    /// Whether entries live under this one (it is written as a `[header]`).
    pub fn is_section(self) -> bool {
        matches!(
            self,
            KeyType::Table | KeyType::TableArray | KeyType::NamedTables
        )
    }

    /// Whether it is a table of free names to values (written as a `[header]` with
    /// examples under it, no entries of its own).
    pub fn is_map(self) -> bool {
        matches!(
            self,
            KeyType::StringMap | KeyType::BooleanMap | KeyType::FloatMap
        )
    }
}

/// The default of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Default {
    /// This value, a TOML literal (`300`, `"text"`, `true`, `["a", "b"]`). `gen-config`
    /// writes it uncommented.
    Value(String),
    /// Absent unless set: the feature it configures is off.
    Unset,
    /// Empty (a map or list with nothing in it).
    Empty,
    /// Must be given when its table is.
    Required,
    /// Derived when absent, as the text says (Markdown, e.g. `` `<state_dir>/spool` ``).
    Derived(&'static str),
}

impl Default {
    /// The default as the reference's `default` column starts.
    pub fn render(&self) -> String {
        match self {
            Default::Value(v) => format!("`{v}`"),
            Default::Unset => "unset".to_owned(),
            Default::Empty => "empty".to_owned(),
            Default::Required => "required".to_owned(),
            Default::Derived(text) => (*text).to_owned(),
        }
    }
}

/// One key or table of a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Dotted path from the top of the file: `agent.report_interval_secs`; the keys of
    /// `[[probes]]` are `probes.name`, those of `[carbon.sites.NAME]` are
    /// `carbon.sites.NAME.pue`.
    pub path: &'static str,
    /// Value type.
    pub kind: KeyType,
    /// Default.
    pub default: Default,
    /// Unit of a number (`seconds`, `bytes`, ...), or `None`.
    pub unit: Option<&'static str>,
    /// Meaning, one line (the `gen-config` comment).
    pub doc: &'static str,
    /// A TOML literal `gen-config` shows, commented out, for a key with no value default
    /// (for a map: a whole `name = value` line).
    pub example: Option<&'static str>,
    /// A section that is off unless written: `gen-config` comments out its header and
    /// every key in it.
    pub optional: bool,
}

impl Entry {
    /// The last component of the path.
    pub fn name(&self) -> &'static str {
        self.path.rsplit('.').next().unwrap_or(self.path)
    }

    /// The path of the table it lives in (`""` at the top of the file).
    pub fn parent(&self) -> &'static str {
        self.path.rsplit_once('.').map_or("", |(p, _)| p)
    }

    /// The unit as the reference's `unit` column shows it.
    pub fn unit_cell(&self) -> &'static str {
        self.unit.unwrap_or("—")
    }
}

/// Shorthand for a key's entry.
fn key(
    path: &'static str,
    kind: KeyType,
    default: Default,
    unit: Option<&'static str>,
    doc: &'static str,
) -> Entry {
    Entry {
        path,
        kind,
        default,
        unit,
        doc,
        example: None,
        optional: false,
    }
}

/// Shorthand for a section's entry.
fn section(path: &'static str, kind: KeyType, optional: bool, doc: &'static str) -> Entry {
    Entry {
        path,
        kind,
        default: if optional {
            Default::Unset
        } else {
            Default::Empty
        },
        unit: None,
        doc,
        example: None,
        optional,
    }
}

/// Builder helpers for the tables of entries.
pub trait EntryExt {
    /// Sets the commented example.
    fn example(self, literal: &'static str) -> Entry;
    /// Sets the default.
    fn default_to(self, default: Default) -> Entry;
}

impl EntryExt for Entry {
    fn example(mut self, literal: &'static str) -> Entry {
        self.example = Some(literal);
        self
    }

    fn default_to(mut self, default: Default) -> Entry {
        self.default = default;
        self
    }
}

/// A key's entry (for other crates' tables).
pub fn key_entry(
    path: &'static str,
    kind: KeyType,
    default: Default,
    unit: Option<&'static str>,
    doc: &'static str,
) -> Entry {
    key(path, kind, default, unit, doc)
}

/// A section's entry (for other crates' tables).
pub fn section_entry(
    path: &'static str,
    kind: KeyType,
    optional: bool,
    doc: &'static str,
) -> Entry {
    section(path, kind, optional, doc)
}

/// A TOML basic string literal.
pub fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML literal for a value default.
pub fn value(literal: impl ToString) -> Default {
    Default::Value(literal.to_string())
}

/// A string default.
pub fn string(text: &str) -> Default {
    Default::Value(toml_string(text))
}

/// A float default, always with a decimal point.
pub fn float(v: f64) -> Default {
    Default::Value(format!("{v:?}"))
}

/// The agent's config file (`agent.toml`), every key and table.
pub fn agent_entries() -> Vec<Entry> {
    use super::*;
    use KeyType::*;
    vec![
        section("collector", Table, false, "Where reports go."),
        key("collector.url", String, Default::Unset, None,
            "Base URL of the collector, http:// or https://; unset: `collect` only.")
            .example("\"https://estate.example.gov.uk:8470\""),
        key("collector.token_file", Path, Default::Derived("`<state_dir>/token`"), None,
            "File holding the per-host agent token, written after enrolment.")
            .example("\"/var/lib/estate-agent/token\""),
        key("collector.enrolment_token_file", Path, Default::Unset, None,
            "File holding the enrolment token, used when the agent has no agent token.")
            .example("\"/etc/estate/enrolment-token\""),
        key("collector.ca_file", Path, Default::Unset, None,
            "Extra PEM CA bundle trusted for the collector's certificate, besides the system roots.")
            .example("\"/etc/estate/ca.pem\""),
        key("collector.client_cert_file", Path, Default::Unset, None,
            "PEM client certificate chain for a collector that asks for one (with client_key_file).")
            .example("\"/etc/estate/agent.crt\""),
        key("collector.client_key_file", Path, Default::Unset, None,
            "PEM private key of client_cert_file (with client_cert_file).")
            .example("\"/etc/estate/agent.key\""),
        section("agent", Table, false, "The agent's own settings."),
        key("agent.state_dir", Path, string(DEFAULT_STATE_DIR), None,
            "Directory for the generated host id, the agent token and the spool."),
        key("agent.report_interval_secs", Integer, value(DEFAULT_REPORT_INTERVAL_SECS), Some("seconds"),
            "Time between reports; at least 1."),
        key("agent.sample_interval_secs", Integer, value(DEFAULT_SAMPLE_INTERVAL_SECS), Some("seconds"),
            "Time between utilisation samples; at least 1 and at most report_interval_secs."),
        key("agent.full_inventory_interval_secs", Integer, value(DEFAULT_FULL_INVENTORY_INTERVAL_SECS), Some("seconds"),
            "A full inventory is sent when it changes and at least this often."),
        key("agent.collector_budget_ms", Integer, value(DEFAULT_COLLECTOR_BUDGET_MS), Some("milliseconds"),
            "Time budget of each collector; one that runs over is reported as a timeout."),
        key("agent.log_format", String, string(match DEFAULT_LOG_FORMAT {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }), None,
            "Log format of `estate-agent run` on standard error: \"text\" or \"json\"; --log-format overrides it."),
        section("labels", StringMap, false,
            "Free-form labels sent with every report (site, role, owner, ...); keep values low-cardinality.")
            .example("site = \"county-hall\""),
        section("spool", Table, false, "The on-disk queue of reports not yet acknowledged."),
        key("spool.dir", Path, Default::Derived("`<state_dir>/spool`"), None,
            "Where reports wait until the collector acknowledges them.")
            .example("\"/var/lib/estate-agent/spool\""),
        key("spool.max_bytes", Integer, value(DEFAULT_SPOOL_MAX_BYTES), Some("bytes"),
            "Size limit, at least 1 MiB; the oldest reports are dropped past it."),
        section("collectors", BooleanMap, false,
            "`name = false` turns a collector off; all run by default.")
            .example("software = false"),
        section("security", Table, false, "Security posture collection."),
        key("security.antivirus", TableArray,
            Default::Derived("the built-in list (`default_antivirus()`)"), None,
            "Antivirus/EDR products to look for; replaces the built-in list."),
        key("security.antivirus.name", String, Default::Required, None,
            "Product name as reported.")
            .example("\"Example EDR\""),
        key("security.antivirus.packages", StringArray, Default::Empty, None,
            "Package names (dpkg/rpm) that mean it is installed.")
            .example("[\"example-edr\"]"),
        key("security.antivirus.paths", StringArray, Default::Empty, None,
            "Paths whose existence means it is installed.")
            .example("[\"/opt/example-edr\"]"),
        key("security.antivirus.processes", StringArray, Default::Empty, None,
            "Process names (comm) that mean it is running.")
            .example("[\"example-edrd\"]"),
        key("security.extra_antivirus", TableArray, Default::Empty, None,
            "Antivirus/EDR products added to the built-in (or replaced) list."),
        key("security.extra_antivirus.name", String, Default::Required, None,
            "Product name as reported.")
            .example("\"Example EDR\""),
        key("security.extra_antivirus.packages", StringArray, Default::Empty, None,
            "Package names (dpkg/rpm) that mean it is installed.")
            .example("[\"example-edr\"]"),
        key("security.extra_antivirus.paths", StringArray, Default::Empty, None,
            "Paths whose existence means it is installed.")
            .example("[\"/opt/example-edr\"]"),
        key("security.extra_antivirus.processes", StringArray, Default::Empty, None,
            "Process names (comm) that mean it is running.")
            .example("[\"example-edrd\"]"),
        section("limits", Table, false,
            "What the daemon allows itself (the per-collector budget is agent.collector_budget_ms)."),
        key("limits.enabled", Boolean, value(LimitsConfig::default().enabled), None,
            "Whether the CPU budget and the memory limit are enforced."),
        key("limits.max_cpu_percent", Float, float(DEFAULT_MAX_CPU_PERCENT), Some("percent of one core"),
            "CPU budget, averaged over cpu_window_secs; over it the report interval is stretched."),
        key("limits.cpu_window_secs", Integer, value(DEFAULT_CPU_WINDOW_SECS), Some("seconds"),
            "Window the CPU use is averaged over; at least 10."),
        key("limits.max_interval_multiplier", Integer, value(DEFAULT_MAX_INTERVAL_MULTIPLIER), None,
            "Longest stretch of the report interval while over the CPU budget, as a multiple; 1–64."),
        key("limits.max_rss_bytes", Integer, value(DEFAULT_MAX_RSS_BYTES), Some("bytes"),
            "Resident memory limit: past it the daemon flushes and exits non-zero."),
        section("probes", TableArray, true, "Service probes, one [[probes]] table each."),
        key("probes.name", String, Default::Required, None, "Unique name shown in reports.")
            .example("\"intranet\""),
        key("probes.kind", String, Default::Required, None,
            "\"http\" (an HTTP or HTTPS GET) or \"tcp\" (a connect).")
            .example("\"http\""),
        key("probes.url", String, Default::Derived("required for `http`"), None,
            "The URL of an http probe.")
            .example("\"https://intranet.example.gov.uk/health\""),
        key("probes.expect_status", IntegerArray, Default::Derived("any 2xx or 3xx"), None,
            "Status codes that count as up (http only).")
            .example("[200]"),
        key("probes.address", String, Default::Derived("required for `tcp`"), None,
            "HOST:PORT of a tcp probe.")
            .example("\"db01.example.gov.uk:5432\""),
        key("probes.timeout_ms", Integer, value(DEFAULT_PROBE_TIMEOUT_MS), Some("milliseconds"),
            "How long to wait."),
    ]
}

/// A complete commented config file: every entry, with its meaning and unit; keys with
/// a value default are written with it, the others commented out with an example, and
/// optional sections commented out whole. Parsed, it gives the default config.
pub fn gen_config(title: &str, entries: &[Entry]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {title}");
    let _ = writeln!(
        out,
        "# Every key with its default. Lines starting with `# key =` are optional keys,"
    );
    let _ = writeln!(
        out,
        "# shown with an example value; remove the `# ` to set one."
    );
    let sections: Vec<&Entry> = entries.iter().filter(|e| is_header(e)).collect();
    // Keys at the top of the file come first.
    write_keys(&mut out, entries, "", false);
    for s in sections {
        let commented = commented_section(entries, s.path);
        let prefix = if commented { "# " } else { "" };
        out.push('\n');
        let mut about = s.doc.to_owned();
        if let Default::Derived(text) = &s.default {
            about.push_str(&format!(" Default: {}.", plain(text)));
        }
        let _ = writeln!(out, "# {about}");
        let keys_under = match s.kind {
            KeyType::TableArray => {
                let _ = writeln!(out, "{prefix}[[{}]]", s.path);
                s.path.to_owned()
            }
            KeyType::NamedTables => {
                let _ = writeln!(out, "{prefix}[{}.{EXAMPLE_NAME}]", s.path);
                format!("{}.NAME", s.path)
            }
            _ => {
                let _ = writeln!(out, "{prefix}[{}]", s.path);
                s.path.to_owned()
            }
        };
        if s.kind.is_map() {
            if let Some(example) = s.example {
                let _ = writeln!(out, "# {example}");
            }
            continue;
        }
        write_keys(&mut out, entries, &keys_under, commented);
    }
    out
}

/// The name `gen-config` gives the example of named tables (`[carbon.sites.main]`).
pub const EXAMPLE_NAME: &str = "main";

/// Whether the entry is written as a `[header]` of its own.
fn is_header(e: &Entry) -> bool {
    e.kind.is_section() || e.kind.is_map()
}

/// Whether a section is commented out: it or a table above it is optional, an array of
/// tables or named tables (those are examples: written, they would add one).
fn commented_section(entries: &[Entry], path: &str) -> bool {
    entries.iter().any(|e| {
        (path == e.path || path.starts_with(&format!("{}.", e.path)))
            && (e.optional || matches!(e.kind, KeyType::TableArray | KeyType::NamedTables))
    })
}

/// Markdown of a default for a comment: backticks dropped.
fn plain(text: &str) -> String {
    text.replace('`', "")
}

fn write_keys(out: &mut String, entries: &[Entry], parent: &str, commented: bool) {
    for e in entries
        .iter()
        .filter(|e| e.parent() == parent && !is_header(e))
    {
        let mut comment = e.doc.to_owned();
        if let Some(unit) = e.unit {
            comment.push_str(&format!(" Unit: {unit}."));
        }
        match &e.default {
            Default::Derived(text) => comment.push_str(&format!(" Default: {}.", plain(text))),
            Default::Required => comment.push_str(" Required."),
            Default::Unset => comment.push_str(" Default: unset."),
            _ => {}
        }
        let _ = writeln!(out, "# {comment}");
        let (prefix, literal) = match (&e.default, e.example) {
            (Default::Value(v), _) => (if commented { "# " } else { "" }, v.as_str()),
            (_, Some(example)) => ("# ", example),
            (Default::Empty, None) => ("# ", "[]"),
            (_, None) => ("# ", "\"\""),
        };
        let _ = writeln!(out, "{prefix}{} = {literal}", e.name());
    }
}

/// The field names an unknown-key error says the table accepts (`unknown field `x`,
/// expected one of `a`, `b``): what the parser really takes, for tests that hold the
/// entries to it. `None` when the message is not an unknown-key error.
pub fn expected_fields(message: &str) -> Option<Vec<String>> {
    let at = message.find("unknown field")?;
    let rest = &message[at..];
    let expected = rest.split_once("expected")?.1;
    let line = expected.lines().next().unwrap_or("");
    if line.trim_start().starts_with("no fields") {
        return Some(Vec::new());
    }
    Some(
        line.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// The row of `docs/configuration.md` an entry should have (under its table's heading).
pub fn doc_row(e: &Entry) -> String {
    format!(
        "| `{}` | {} | {} | {} | {} |",
        e.name(),
        e.kind.name(),
        e.default.render(),
        e.unit_cell(),
        e.doc
    )
}

/// Where the entries and a Markdown reference disagree (empty when they agree).
///
/// The reference is read as: a heading naming a table in backticks (`` ### `[agent]` ``,
/// `` #### `[[probes]]` ``, `` #### `[carbon.sites.NAME]` ``) opens that table; under
/// it, a Markdown table whose header starts `| key | type | default | unit |` has one
/// row per key or sub-table, the key in backticks. Type and unit must be as the entry
/// says; the default cell must start with the entry's rendered default (a constant's
/// name or a remark may follow). Every top-level table needs its heading, every other
/// entry its row, every table with keys its heading, and every row its entry.
pub fn doc_mismatches(markdown: &str, entries: &[Entry]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut headings = std::collections::BTreeSet::new();
    let mut rows = std::collections::BTreeSet::new();
    let mut current: Option<String> = None;
    let mut in_table = false;
    for line in markdown.lines() {
        let line = line.trim_end();
        if line.starts_with('#') {
            in_table = false;
            current = line
                .split('`')
                .skip(1)
                .step_by(2)
                .find(|t| t.starts_with('['))
                .map(|t| t.trim_matches(|c| c == '[' || c == ']').to_owned());
            if let Some(c) = &current {
                headings.insert(c.clone());
            }
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells.first() == Some(&"key") {
            in_table = cells.get(1..4) == Some(&["type", "default", "unit"][..]);
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let Some(section) = &current else {
            problems.push(format!("a key table outside a table's heading: {line}"));
            continue;
        };
        let name = cells[0].trim_matches('`');
        let path = format!("{section}.{name}");
        let Some(e) = entries.iter().find(|e| e.path == path) else {
            problems.push(format!(
                "`{path}` is documented but the code has no such key: {line}"
            ));
            continue;
        };
        rows.insert(path.clone());
        let (kind, default, unit) = (cells[1], cells[2], cells.get(3).copied().unwrap_or(""));
        let rendered = e.default.render();
        let default_ok = default
            .strip_prefix(rendered.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ',', ';', ':', '(']));
        if kind != e.kind.name() || unit != e.unit_cell() || !default_ok {
            problems.push(format!(
                "`{path}`: the document says type {kind:?}, default {default:?}, unit {unit:?}; the code says type {:?}, default {rendered:?}, unit {:?}. Expected a row like:\n  {}",
                e.kind.name(),
                e.unit_cell(),
                doc_row(e)
            ));
        }
    }
    for e in entries {
        let top = e.parent().is_empty();
        let has_keys = entries
            .iter()
            .any(|k| k.parent() == e.path || k.parent() == format!("{}.NAME", e.path));
        if top || has_keys {
            let heading = if e.kind == KeyType::NamedTables {
                format!("{}.NAME", e.path)
            } else {
                e.path.to_owned()
            };
            if !headings.contains(&heading) {
                problems.push(format!(
                    "no heading for `[{heading}]` (a heading naming it in backticks, with a key table under it)"
                ));
            }
        }
        if !top && !rows.contains(e.path) {
            problems.push(format!(
                "`{}` is not documented; add under `[{}]`:\n  {}",
                e.path,
                e.parent(),
                doc_row(e)
            ));
        }
    }
    problems
}

/// Where a `gen-config` output and the entries disagree: every entry must appear (a
/// table as its header, a key as `name = ` under its table's header, commented out or
/// not), and nothing else.
pub fn gen_config_mismatches(text: &str, entries: &[Entry]) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut header = String::new();
    let named: Vec<&str> = entries
        .iter()
        .filter(|e| e.kind == KeyType::NamedTables)
        .map(|e| e.path)
        .collect();
    let mut in_map = false;
    for line in text.lines() {
        let body = line.strip_prefix("# ").unwrap_or(line);
        if body.starts_with('[') && body.ends_with(']') {
            let path = body.trim_matches(|c| c == '[' || c == ']').to_owned();
            header = named
                .iter()
                .find_map(|n| {
                    path.strip_prefix(&format!("{n}.{EXAMPLE_NAME}"))
                        .map(|rest| format!("{n}.NAME{rest}"))
                })
                .unwrap_or(path);
            in_map = entries.iter().any(|e| e.path == header && e.kind.is_map());
            let table = header.strip_suffix(".NAME").unwrap_or(&header).to_owned();
            seen.insert(table);
            continue;
        }
        let Some((name, _)) = body.split_once(" = ") else {
            continue;
        };
        if in_map
            || name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            continue;
        }
        seen.insert(if header.is_empty() {
            name.to_owned()
        } else {
            format!("{header}.{name}")
        });
    }
    let mut problems = Vec::new();
    for e in entries {
        if !seen.remove(e.path) {
            problems.push(format!("`{}` is missing from gen-config", e.path));
        }
    }
    for extra in seen {
        problems.push(format!("gen-config writes `{extra}`, which has no entry"));
    }
    problems
}

/// Where the parser and the entries disagree on which keys exist. `parse` parses a
/// config text and returns its error message; each table (the top of the file, every
/// `[table]`, `[[array]]` and `[named.NAME]` entry) is given an unknown key, and the
/// keys the parser's error says it expects must be exactly the entries under it.
pub fn parser_mismatches(
    entries: &[Entry],
    parse: impl Fn(&str) -> Result<(), String>,
) -> Vec<String> {
    const UNKNOWN: &str = "zz_not_a_key";
    let mut tables: Vec<(String, String, String)> =
        vec![(String::new(), String::new(), format!("{UNKNOWN} = 1\n"))];
    for e in entries.iter().filter(|e| e.kind.is_section()) {
        let (children, header) = match e.kind {
            KeyType::TableArray => (e.path.to_owned(), format!("[[{}]]", e.path)),
            KeyType::NamedTables => (
                format!("{}.NAME", e.path),
                format!("[{}.{EXAMPLE_NAME}]", e.path),
            ),
            _ => (e.path.to_owned(), format!("[{}]", e.path)),
        };
        let header = named_example(entries, &header);
        tables.push((
            e.path.to_owned(),
            children,
            format!("{header}\n{UNKNOWN} = 1\n"),
        ));
    }
    let mut problems = Vec::new();
    for (table, children, text) in tables {
        let message = match parse(&text) {
            Ok(()) => {
                problems.push(format!(
                    "the parser accepts an unknown key in `[{table}]`: {text:?}"
                ));
                continue;
            }
            Err(message) => message,
        };
        let Some(mut expected) = expected_fields(&message) else {
            problems.push(format!(
                "no unknown-key error for `[{table}]` ({text:?}): {message}"
            ));
            continue;
        };
        expected.sort();
        let mut documented: Vec<String> = entries
            .iter()
            .filter(|e| e.parent() == children)
            .map(|e| e.name().to_owned())
            .collect();
        documented.sort();
        if expected != documented {
            problems.push(format!(
                "`[{table}]`: the parser takes {expected:?}, the reference lists {documented:?}"
            ));
        }
    }
    problems
}

/// `[carbon.sites.NAME.x]` → `[carbon.sites.main.x]`.
fn named_example(entries: &[Entry], header: &str) -> String {
    let mut out = header.to_owned();
    for e in entries.iter().filter(|e| e.kind == KeyType::NamedTables) {
        out = out.replace(
            &format!("{}.NAME", e.path),
            &format!("{}.{EXAMPLE_NAME}", e.path),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_fields_are_read_from_serde_messages() {
        assert_eq!(
            expected_fields("x:1:1: unknown field `z`, expected one of `a`, `b`, `c`"),
            Some(vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            expected_fields("unknown field `z`, expected `a` or `b`"),
            Some(vec!["a".into(), "b".into()])
        );
        assert_eq!(expected_fields("missing field `a`"), None);
    }
}
