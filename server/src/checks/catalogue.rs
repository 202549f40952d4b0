//! The check catalogue: `config/checks/*.toml` read, validated and compiled into
//! [`Catalogue`]. Every problem in every file is reported at once, located.
//!
//! This file owns the check file format (raw serde structs, then validation); reading a
//! fixture's `facts_file` is the only other I/O it does.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use cel::Env;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;
use toml::Spanned;

use super::diag::{
    Diagnostics, LoadError, SourceFile, is_id, is_param_name, json_type, same_kind, show,
    toml_files, toml_to_json,
};
use super::expr::{self, Expr};
use super::model::{Category, Check, CheckId, Expect, Fixture, Param, Rule, Severity, SourceLoc};

/// The time fixtures are evaluated at unless they set `now`: 2026-01-01T00:00:00Z, so
/// fixtures give the same result whatever day the tests run.
pub const DEFAULT_FIXTURE_NOW: &str = "2026-01-01T00:00:00Z";

/// Tolerance when comparing a score to a fixture's expected number.
pub const CREDIT_TOLERANCE: f64 = 1e-9;

/// The loaded checks, compiled, in file order (files sorted by name).
#[derive(Clone)]
pub struct Catalogue {
    checks: Vec<Arc<Check>>,
    index: HashMap<String, usize>,
    env: Arc<Env>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("checks", &self.checks)
            .finish_non_exhaustive()
    }
}

impl Catalogue {
    /// Reads every `*.toml` file directly in `dir` (sub-directories, e.g. for fixture JSON
    /// files, are not read as checks).
    pub fn load(dir: &Path) -> Result<Catalogue, LoadError> {
        let mut diags = Diagnostics::default();
        let catalogue = load_dir(dir, &mut diags);
        diags.finish(catalogue.catalogue)
    }

    /// Builds a catalogue from `(origin, text)` pairs, as if each were a file at `origin`
    /// (`facts_file` paths are resolved against `origin`'s directory).
    pub fn parse(sources: &[(&str, &str)]) -> Result<Catalogue, LoadError> {
        let mut diags = Diagnostics::default();
        let files = sources
            .iter()
            .map(|(origin, text)| {
                SourceFile::new((*origin).to_owned(), Path::new(origin), (*text).to_owned())
            })
            .collect();
        let loaded = load_files(files, &mut diags);
        diags.finish(loaded.catalogue)
    }

    /// An empty catalogue.
    pub fn empty() -> Catalogue {
        Catalogue {
            checks: Vec::new(),
            index: HashMap::new(),
            env: expr::environment(),
        }
    }

    /// The checks, in load order.
    pub fn checks(&self) -> &[Arc<Check>] {
        &self.checks
    }

    /// The check with `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<Check>> {
        self.index.get(id).and_then(|&i| self.checks.get(i))
    }

    /// How many checks there are.
    pub fn len(&self) -> usize {
        self.checks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    pub(crate) fn env(&self) -> &Arc<Env> {
        &self.env
    }
}

/// What is known about each check id, even one with errors: enough to validate profiles
/// and waivers against without cascading errors.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// Check id → its params' defaults.
    pub checks: BTreeMap<String, BTreeMap<String, Json>>,
}

pub(crate) struct Loaded {
    pub catalogue: Catalogue,
    pub known: Known,
}

pub(crate) fn load_dir(dir: &Path, diags: &mut Diagnostics) -> Loaded {
    let paths = match toml_files(dir) {
        Ok(paths) => paths,
        Err(e) => {
            diags.read_error(dir, e);
            Vec::new()
        }
    };
    let mut files = Vec::new();
    for path in paths {
        match SourceFile::read(&path) {
            Ok(file) => files.push(file),
            Err(e) => diags.read_error(&path, e),
        }
    }
    load_files(files, diags)
}

fn load_files(files: Vec<SourceFile>, diags: &mut Diagnostics) -> Loaded {
    let env = expr::environment();
    let mut checks: Vec<Arc<Check>> = Vec::new();
    let mut index = HashMap::new();
    let mut known = Known::default();
    let mut first_seen: HashMap<String, SourceLoc> = HashMap::new();
    for file in &files {
        let raw: RawCheckFile = match toml::from_str(&file.text) {
            Ok(raw) => raw,
            Err(e) => {
                diags.toml_error(file, &e);
                continue;
            }
        };
        for raw_check in raw.check {
            let id_span = raw_check.get_ref().id.as_ref().map(Spanned::span);
            let Some(validated) = validate_check(raw_check, file, &env, diags) else {
                continue;
            };
            let (id, params, check) = validated;
            if let Some(first) = first_seen.get(&id) {
                diags.at(
                    file,
                    id_span.map_or(0, |s| s.start),
                    "check.id",
                    format!("duplicate check id `{id}` (first defined at {first})"),
                );
                continue;
            }
            let loc = id_span.map_or_else(|| file.loc(0), |s| file.loc(s.start));
            first_seen.insert(id.clone(), loc);
            known.checks.insert(id.clone(), params);
            if let Some(check) = check {
                index.insert(id, checks.len());
                checks.push(Arc::new(check));
            }
        }
    }
    Loaded {
        catalogue: Catalogue { checks, index, env },
        known,
    }
}

// ---------------------------------------------------------------------------------
// Raw layer: what the file says.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckFile {
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    description: Option<String>,
    category: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    weight: Option<Spanned<f64>>,
    applies: Option<Spanned<String>>,
    pass: Option<Spanned<String>>,
    score: Option<Spanned<String>>,
    evidence: Option<Spanned<String>>,
    remediation: Option<Spanned<String>>,
    #[serde(default)]
    references: Vec<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    fixture: Vec<Spanned<RawFixture>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixture {
    name: Option<Spanned<String>>,
    description: Option<String>,
    expect: Option<Spanned<toml::Value>>,
    facts: Option<Spanned<toml::Table>>,
    facts_file: Option<Spanned<String>>,
    now: Option<Spanned<toml::Value>>,
    #[serde(default)]
    params: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    expect_evidence: Option<toml::Value>,
}

// ---------------------------------------------------------------------------------
// Validation.

type Validated = (String, BTreeMap<String, Json>, Option<Check>);

/// Validates one `[[check]]`. Returns `None` when it has no usable id; otherwise the id,
/// its params' defaults, and the check when it had no problems.
fn validate_check(
    raw: Spanned<RawCheck>,
    file: &SourceFile,
    env: &Env,
    diags: &mut Diagnostics,
) -> Option<Validated> {
    let start = raw.span().start;
    let raw = raw.into_inner();
    let before = diag_count(diags);
    let mut ok = true;

    let id = match &raw.id {
        None => {
            diags.at(file, start, "check.id", "missing `id`");
            None
        }
        Some(id) if !is_id(id.get_ref()) => {
            diags.span(
                file,
                id.span(),
                "check.id",
                format!(
                    "`{}` is not a valid id: use lowercase letters, digits, `.`, `_` and `-`",
                    id.get_ref()
                ),
            );
            None
        }
        Some(id) => Some(id.get_ref().clone()),
    };

    let title = required_text(&raw.title, "check.title", start, file, diags);
    let category = match &raw.category {
        None => {
            diags.at(file, start, "check.category", "missing `category`");
            None
        }
        Some(c) => {
            let parsed = Category::parse(c.get_ref());
            if parsed.is_none() {
                diags.span(
                    file,
                    c.span(),
                    "check.category",
                    format!(
                        "unknown category `{}`; expected one of {}",
                        c.get_ref(),
                        names(Category::ALL.iter().map(|c| c.as_str()))
                    ),
                );
            }
            parsed
        }
    };
    let severity = match &raw.severity {
        None => {
            diags.at(file, start, "check.severity", "missing `severity`");
            None
        }
        Some(s) => {
            let parsed = Severity::parse(s.get_ref());
            if parsed.is_none() {
                diags.span(
                    file,
                    s.span(),
                    "check.severity",
                    format!(
                        "unknown severity `{}`; expected one of {}",
                        s.get_ref(),
                        names(Severity::ALL.iter().map(|s| s.as_str()))
                    ),
                );
            }
            parsed
        }
    };
    let weight = match &raw.weight {
        Some(w) if !(w.get_ref().is_finite() && *w.get_ref() >= 0.0) => {
            diags.span(
                file,
                w.span(),
                "check.weight",
                format!("weight must be a number ≥ 0, not {}", w.get_ref()),
            );
            None
        }
        Some(w) => Some(*w.get_ref()),
        None => None,
    };

    // Params before expressions, so references can be checked against them.
    let mut params = BTreeMap::new();
    for (name, value) in &raw.params {
        let key = format!("check.params.{}", name.get_ref());
        if !is_param_name(name.get_ref()) {
            diags.span(
                file,
                name.span(),
                &key,
                format!(
                    "`{}` is not a valid param name: use lowercase letters, digits and `_`",
                    name.get_ref()
                ),
            );
            continue;
        }
        if let Some(param) = param_decl(value, &key, file, diags) {
            params.insert(name.get_ref().clone(), param);
        }
    }
    let param_defaults = Json::Object(
        params
            .iter()
            .map(|(k, p)| (k.clone(), p.default.clone()))
            .collect(),
    );

    let mut compile = |spanned: &Option<Spanned<String>>, key: &str| -> Option<Expr> {
        let spanned = spanned.as_ref()?;
        compile_at(env, file, spanned, key, &params, diags)
    };
    let applies = compile(&raw.applies, "check.applies");
    let evidence = compile(&raw.evidence, "check.evidence");
    let rule = match (&raw.pass, &raw.score) {
        (Some(_), Some(score)) => {
            diags.span(
                file,
                score.span(),
                "check.score",
                "set either `pass` (a bool) or `score` (a number 0–1), not both",
            );
            None
        }
        (None, None) => {
            diags.at(
                file,
                start,
                "check.pass",
                "missing `pass` (a bool expression) or `score` (a number 0–1)",
            );
            None
        }
        (Some(_), None) => compile(&raw.pass, "check.pass").map(Rule::Pass),
        (None, Some(_)) => compile(&raw.score, "check.score").map(Rule::Score),
    };
    if (raw.applies.is_some() && applies.is_none())
        || (raw.evidence.is_some() && evidence.is_none())
    {
        ok = false;
    }

    let remediation = match &raw.remediation {
        Some(r) if r.get_ref().trim().is_empty() => {
            diags.span(file, r.span(), "check.remediation", "must not be empty");
            None
        }
        Some(r) => Some(r.get_ref().trim().to_owned()),
        None if severity == Some(Severity::Info) => Some(String::new()),
        None => {
            diags.at(
                file,
                start,
                "check.remediation",
                "missing `remediation` (only `info` checks may leave it out)",
            );
            None
        }
    };
    let mut references = Vec::new();
    for r in &raw.references {
        if r.get_ref().trim().is_empty() {
            diags.span(file, r.span(), "check.references", "must not be empty");
        } else {
            references.push(r.get_ref().trim().to_owned());
        }
    }
    let mut tags = Vec::new();
    for t in &raw.tags {
        if is_id(t.get_ref()) {
            tags.push(t.get_ref().clone());
        } else {
            diags.span(
                file,
                t.span(),
                "check.tags",
                format!(
                    "`{}` is not a valid tag: use lowercase letters, digits, `.`, `_` and `-`",
                    t.get_ref()
                ),
            );
        }
    }

    let scored = matches!(rule, Some(Rule::Score(_))) || raw.score.is_some();
    let mut fixtures = Vec::new();
    let mut fixture_names = BTreeSet::new();
    for raw_fixture in raw.fixture {
        if let Some(name) = &raw_fixture.get_ref().name
            && !fixture_names.insert(name.get_ref().trim().to_owned())
        {
            diags.span(
                file,
                name.span(),
                "check.fixture.name",
                format!("duplicate fixture name `{}` in this check", name.get_ref()),
            );
            continue;
        }
        if let Some(f) = validate_fixture(raw_fixture, file, scored, &params, diags) {
            fixtures.push(f);
        }
    }

    let id = id?;
    let defaults: BTreeMap<String, Json> = params
        .iter()
        .map(|(k, p)| (k.clone(), p.default.clone()))
        .collect();
    ok = ok && diag_count(diags) == before;
    let check = match (ok, title, category, severity, rule, remediation) {
        (true, Some(title), Some(category), Some(severity), Some(rule), Some(remediation)) => {
            let uses_params = [applies.as_ref(), evidence.as_ref(), Some(rule.expr())]
                .into_iter()
                .flatten()
                .any(|e| {
                    let refs = expr::references(e);
                    refs.params_dynamic || !refs.params.is_empty()
                });
            Some(Check {
                id: CheckId::new(&id),
                title,
                description: raw.description.map(|d| d.trim().to_owned()),
                category,
                severity,
                weight: weight.unwrap_or_else(|| severity.default_weight()),
                applies,
                rule,
                evidence,
                remediation,
                references,
                tags,
                params,
                param_defaults,
                fixtures,
                source: file.loc(start),
                uses_params,
            })
        }
        _ => None,
    };
    Some((id, defaults, check))
}

fn diag_count(diags: &Diagnostics) -> usize {
    diags.len()
}

fn names<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn required_text(
    value: &Option<Spanned<String>>,
    key: &str,
    start: usize,
    file: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<String> {
    match value {
        None => {
            let name = key.rsplit('.').next().unwrap_or(key);
            diags.at(file, start, key, format!("missing `{name}`"));
            None
        }
        Some(v) if v.get_ref().trim().is_empty() => {
            diags.span(file, v.span(), key, "must not be empty");
            None
        }
        Some(v) => Some(v.get_ref().trim().to_owned()),
    }
}

/// A param declaration: a plain value (the default), or a table with `default` and an
/// optional `description`.
fn param_decl(
    value: &Spanned<toml::Value>,
    key: &str,
    file: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<Param> {
    let toml::Value::Table(table) = value.get_ref() else {
        return Some(Param {
            default: toml_to_json(value.get_ref()),
            description: None,
        });
    };
    let mut good = true;
    for k in table.keys() {
        if k != "default" && k != "description" {
            diags.span(
                file,
                value.span(),
                key,
                format!("unknown key `{k}` in a param; expected `default` and `description`"),
            );
            good = false;
        }
    }
    let description = match table.get("description") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.trim().to_owned()),
        Some(_) => {
            diags.span(file, value.span(), key, "`description` must be a string");
            good = false;
            None
        }
    };
    let Some(default) = table.get("default") else {
        let name = key.rsplit('.').next().unwrap_or(key);
        diags.span(
            file,
            value.span(),
            key,
            format!("param `{name}` has no default: write `{name} = VALUE` or `{name} = {{ default = VALUE, description = \"...\" }}`"),
        );
        return None;
    };
    good.then(|| Param {
        default: toml_to_json(default),
        description,
    })
}

/// Compiles one expression, reporting syntax errors, unknown variables and undeclared
/// params at their position in the file.
fn compile_at(
    env: &Env,
    file: &SourceFile,
    spanned: &Spanned<String>,
    key: &str,
    params: &BTreeMap<String, Param>,
    diags: &mut Diagnostics,
) -> Option<Expr> {
    let source = spanned.get_ref();
    let base = expr::content_start(&file.text, spanned.span().start);
    if source.trim().is_empty() {
        diags.span(file, spanned.span(), key, "empty expression");
        return None;
    }
    let compiled = match expr::compile(env, source) {
        Ok(e) => e,
        Err(errors) => {
            for e in errors {
                let at = base + expr::offset_in(source, e.line, e.column);
                diags.at(
                    file,
                    at,
                    key,
                    format!("{} in `{}`", e.message, expr::quote(source)),
                );
            }
            return None;
        }
    };
    let refs = expr::references(&compiled);
    let mut ok = true;
    for (name, offset) in &refs.unknown_variables {
        diags.at(
            file,
            base + offset,
            key,
            format!(
                "unknown variable `{name}` in `{}`; expressions see `facts`, `params` and `now`",
                expr::quote(source)
            ),
        );
        ok = false;
    }
    for (name, offset) in &refs.params {
        if !params.contains_key(name) {
            let declared = if params.is_empty() {
                "none are declared".to_owned()
            } else {
                format!(
                    "declared: {}",
                    params.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            diags.at(
                file,
                base + offset,
                key,
                format!("`params.{name}` is not declared under `[check.params]` ({declared})"),
            );
            ok = false;
        }
    }
    ok.then_some(compiled)
}

fn validate_fixture(
    raw: Spanned<RawFixture>,
    file: &SourceFile,
    scored: bool,
    params: &BTreeMap<String, Param>,
    diags: &mut Diagnostics,
) -> Option<Fixture> {
    let start = raw.span().start;
    let raw = raw.into_inner();
    let name = required_text(&raw.name, "check.fixture.name", start, file, diags);
    let expect = match &raw.expect {
        None => {
            diags.at(
                file,
                start,
                "check.fixture.expect",
                "missing `expect` (pass, fail, not_applicable, error, or a number for a score check)",
            );
            None
        }
        Some(e) => parse_expect(e, scored, file, diags),
    };

    let facts = match (&raw.facts, &raw.facts_file) {
        (Some(_), Some(path)) => {
            diags.span(
                file,
                path.span(),
                "check.fixture.facts_file",
                "set either `facts` or `facts_file`, not both",
            );
            None
        }
        (None, None) => {
            diags.at(
                file,
                start,
                "check.fixture.facts",
                "missing `facts` (an inline table) or `facts_file` (a JSON file)",
            );
            None
        }
        (Some(table), None) => Some((
            Json::Object(
                table
                    .get_ref()
                    .iter()
                    .map(|(k, v)| (k.clone(), toml_to_json(v)))
                    .collect(),
            ),
            None,
        )),
        (None, Some(path)) => {
            let full = file.dir.join(path.get_ref());
            let key = "check.fixture.facts_file";
            match std::fs::read_to_string(&full) {
                Err(e) => {
                    diags.span(
                        file,
                        path.span(),
                        key,
                        format!("cannot read `{}`: {e}", full.display()),
                    );
                    None
                }
                Ok(text) => match serde_json::from_str::<Json>(&text) {
                    Ok(json @ Json::Object(_)) => Some((json, Some(full))),
                    Ok(other) => {
                        diags.span(
                            file,
                            path.span(),
                            key,
                            format!(
                                "`{}` holds a JSON {}, not an object",
                                full.display(),
                                json_type(&other)
                            ),
                        );
                        None
                    }
                    Err(e) => {
                        diags.span(
                            file,
                            path.span(),
                            key,
                            format!("`{}` is not valid JSON: {e}", full.display()),
                        );
                        None
                    }
                },
            }
        }
    };

    let now = match &raw.now {
        None => fixture_default_now(),
        Some(value) => match parse_time(value.get_ref()) {
            Some(t) => Some(t),
            None => {
                diags.span(
                    file,
                    value.span(),
                    "check.fixture.now",
                    format!(
                        "`{}` is not a date or time (write 2026-03-01 or 2026-03-01T09:00:00Z)",
                        show(value.get_ref())
                    ),
                );
                None
            }
        },
    };

    let mut fixture_params: serde_json::Map<String, Json> = params
        .iter()
        .map(|(k, p)| (k.clone(), p.default.clone()))
        .collect();
    let mut params_ok = true;
    for (pname, value) in &raw.params {
        let key = format!("check.fixture.params.{}", pname.get_ref());
        let json = toml_to_json(value.get_ref());
        match params.get(pname.get_ref()) {
            None => {
                diags.span(
                    file,
                    pname.span(),
                    &key,
                    format!("the check declares no param `{}`", pname.get_ref()),
                );
                params_ok = false;
            }
            Some(p) if !same_kind(&p.default, &json) => {
                diags.span(
                    file,
                    value.span(),
                    &key,
                    format!(
                        "`{}` is a {}, but the param's default is a {}",
                        show(value.get_ref()),
                        json_type(&json),
                        json_type(&p.default)
                    ),
                );
                params_ok = false;
            }
            Some(_) => {
                fixture_params.insert(pname.get_ref().clone(), json);
            }
        }
    }

    let (facts, facts_file) = facts?;
    if !params_ok {
        return None;
    }
    Some(Fixture {
        name: name?,
        expect: expect?,
        facts,
        now: now?,
        params: Json::Object(fixture_params),
        expect_evidence: raw.expect_evidence.as_ref().map(toml_to_json),
        facts_file,
        description: raw.description.map(|d| d.trim().to_owned()),
        source: file.loc(start),
    })
}

fn parse_expect(
    value: &Spanned<toml::Value>,
    scored: bool,
    file: &SourceFile,
    diags: &mut Diagnostics,
) -> Option<Expect> {
    let key = "check.fixture.expect";
    let number = match value.get_ref() {
        toml::Value::String(s) => {
            return match s.as_str() {
                "pass" => Some(Expect::Pass),
                "fail" => Some(Expect::Fail),
                "not_applicable" => Some(Expect::NotApplicable),
                "error" => Some(Expect::Error),
                other => {
                    diags.span(
                        file,
                        value.span(),
                        key,
                        format!(
                            "unknown result `{other}`; expected pass, fail, not_applicable or error{}",
                            if scored { ", or a number 0–1" } else { "" }
                        ),
                    );
                    None
                }
            };
        }
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        other => {
            diags.span(
                file,
                value.span(),
                key,
                format!(
                    "`{}` is not a result; expected pass, fail, not_applicable or error",
                    show(other)
                ),
            );
            return None;
        }
    };
    if !scored {
        diags.span(
            file,
            value.span(),
            key,
            format!("`{number}`: a number is only for `score` checks; this check has `pass`, so expect pass or fail"),
        );
        return None;
    }
    if !(0.0..=1.0).contains(&number) {
        diags.span(
            file,
            value.span(),
            key,
            format!("`{number}` is outside 0–1"),
        );
        return None;
    }
    Some(Expect::Credit(number))
}

fn fixture_default_now() -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(DEFAULT_FIXTURE_NOW)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A TOML date, date-time (with or without offset; without is UTC) or a string of one.
pub(crate) fn parse_time(value: &toml::Value) -> Option<DateTime<Utc>> {
    let text = match value {
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::String(s) => s.clone(),
        _ => return None,
    };
    let text = text.trim();
    if let Some(t) = expr::parse_date_or_time(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}
