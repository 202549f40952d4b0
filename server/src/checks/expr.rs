//! CEL for checks: the environment every expression is compiled and run in, compiling
//! with positions, the static checks made at load (variables and params referenced), and
//! turning a result into JSON for evidence.
//!
//! This module owns what a check author may write; it must not read files or know about
//! scoring. The variables are `facts`, `params` and `now` ([`VARIABLES`]); besides CEL's
//! standard library and its `strings`, `math` and `lists` extensions, two functions are
//! added: `date(string)` and `days(number)`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr as Ast, LiteralValue};
use cel::common::types::{
    CelBool, CelDouble, CelDuration, CelInt, CelNull, CelOptional, CelString, CelTimestamp,
    CelUInt, Kind,
};
use cel::common::value::Val;
use cel::{Env, ExecutionError, IdedExpr, Program};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::Value as Json;

/// The variables a check expression may use.
pub const VARIABLES: [&str; 3] = ["facts", "params", "now"];

/// Identifiers CEL itself gives meaning to (type names), allowed besides [`VARIABLES`].
const TYPE_NAMES: [&str; 13] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// Deepest nesting turned into evidence JSON; deeper values become `"…"`.
pub const MAX_EVIDENCE_DEPTH: usize = 16;

/// A compiled CEL expression and the text it was compiled from.
pub struct Expr {
    source: String,
    program: Program,
    fast: Option<super::fast::Node>,
}

impl Expr {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub(crate) fn program(&self) -> &Program {
        &self.program
    }

    /// The same expression for the direct evaluator, when it is in its subset.
    pub(crate) fn fast(&self) -> Option<&super::fast::Node> {
        self.fast.as_ref()
    }

    /// Whether the direct evaluator can run it (else only cel does).
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

/// The environment checks are compiled and evaluated in: built once and shared (a
/// fresh one costs the standard library and three extensions' declarations, which was
/// half the time of loading a small check file).
pub(crate) fn environment() -> Arc<Env> {
    static SHARED: std::sync::LazyLock<Arc<Env>> = std::sync::LazyLock::new(build_environment);
    Arc::clone(&SHARED)
}

fn build_environment() -> Arc<Env> {
    let mut env = Env::stdlib();
    // Registering into a fresh standard environment cannot clash; a failure would be a
    // bug in cel or here, and checks still work without the extra functions.
    for result in [
        env.add_extension(cel::extensions::strings),
        env.add_extension(cel::extensions::math),
        env.add_extension(cel::extensions::lists),
        cel::add_overload!(env, fn date: (CelString) -> Result<CelTimestamp>, id = "date_string"),
        cel::add_overload!(env, fn days_int: (CelInt) -> Result<CelDuration>,
            name = "days", id = "days_int"),
        cel::add_overload!(env, fn days_double: (CelDouble) -> Result<CelDuration>,
            name = "days", id = "days_double"),
    ] {
        if let Err(error) = result {
            tracing::error!(error = %error, "CEL environment: a declaration failed");
        }
    }
    Arc::new(env)
}

/// `date('2028-06-30')`: midnight UTC of a `YYYY-MM-DD` date; an RFC 3339 time is taken
/// as it is.
fn date(text: &CelString<'_>) -> Result<CelTimestamp, ExecutionError> {
    parse_date_or_time(text.inner())
        .map(CelTimestamp::from)
        .ok_or_else(|| {
            ExecutionError::function_error(
                "date",
                format!(
                    "`{}` is neither a YYYY-MM-DD date nor an RFC 3339 time",
                    text.inner()
                ),
            )
        })
}

/// A `YYYY-MM-DD` date (midnight UTC) or an RFC 3339 time.
pub(crate) fn parse_date_or_time(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().fixed_offset());
    }
    DateTime::parse_from_rfc3339(text).ok()
}

fn days_int(n: &CelInt) -> Result<CelDuration, ExecutionError> {
    days_from_int(*n.inner())
        .map(CelDuration::from)
        .ok_or_else(|| ExecutionError::function_error("days", "out of range"))
}

fn days_double(n: &CelDouble) -> Result<CelDuration, ExecutionError> {
    days_from_double(*n.inner())
        .map(CelDuration::from)
        .ok_or_else(|| ExecutionError::function_error("days", "out of range"))
}

/// `days(n)` for an int.
pub(crate) fn days_from_int(n: i64) -> Option<chrono::Duration> {
    n.checked_mul(86_400)
        .and_then(chrono::Duration::try_seconds)
}

/// `days(x)` for a double, in whole milliseconds: finer than any check needs, and exact
/// for whole days.
pub(crate) fn days_from_double(n: f64) -> Option<chrono::Duration> {
    let millis = n * 86_400_000.0;
    if !millis.is_finite() || millis.abs() > 9.0e15 {
        return None;
    }
    chrono::Duration::try_milliseconds(millis.round() as i64)
}

/// A timestamp in evidence: RFC 3339, UTC.
pub(crate) fn format_timestamp(t: &DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A duration in evidence: seconds, as CEL writes durations (`"90s"`).
pub(crate) fn format_duration(d: &chrono::Duration) -> String {
    let secs = d.num_milliseconds() as f64 / 1000.0;
    format!("{secs}s")
}

/// A CEL syntax error: 1-based line and column within the expression, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Compiles `source`, or returns every syntax error found.
pub(crate) fn compile(env: &Env, source: &str) -> Result<Expr, Vec<SyntaxError>> {
    match env.compile(source) {
        Ok(program) => Ok(Expr {
            source: source.to_owned(),
            fast: super::fast::compile(&program),
            program,
        }),
        Err(errors) => Err(errors
            .errors
            .iter()
            .map(|e| SyntaxError {
                line: usize::try_from(e.pos.0).unwrap_or(1).max(1),
                column: usize::try_from(e.pos.1).unwrap_or(1).max(1),
                message: e.msg.clone(),
            })
            .collect()),
    }
}

/// What an expression refers to, found without running it.
#[derive(Debug, Default)]
pub(crate) struct References {
    /// Identifiers that are not a variable, a comprehension's own variable or a type
    /// name, each with its byte offset in the expression.
    pub unknown_variables: Vec<(String, usize)>,
    /// `params.NAME` and `params['NAME']`, each with its byte offset.
    pub params: Vec<(String, usize)>,
    /// Whether `params` is used other than by a constant name (e.g. `params[k]`).
    pub params_dynamic: bool,
}

/// Walks `expr`'s syntax tree for the variables and params it uses.
pub(crate) fn references(expr: &Expr) -> References {
    let mut bound = BTreeSet::new();
    collect_bound(expr.program.expression(), &mut bound);
    let mut refs = References::default();
    walk(expr, expr.program.expression(), &bound, &mut refs);
    refs
}

/// The byte offset in the expression's source where node `id` starts.
fn position(expr: &Expr, id: u64) -> usize {
    let chars = expr
        .program
        .source_info()
        .offset_for(id)
        .map_or(0, |(start, _)| usize::try_from(start).unwrap_or(0));
    expr.source
        .char_indices()
        .nth(chars)
        .map_or(expr.source.len(), |(byte, _)| byte)
}

fn collect_bound(node: &IdedExpr, bound: &mut BTreeSet<String>) {
    for_each_child(node, &mut |child| collect_bound(child, bound));
    if let Ast::Comprehension(c) = &node.expr {
        bound.insert(c.iter_var.clone());
        if let Some(v) = &c.iter_var2 {
            bound.insert(v.clone());
        }
        bound.insert(c.accu_var.clone());
    }
}

fn walk(expr: &Expr, node: &IdedExpr, bound: &BTreeSet<String>, refs: &mut References) {
    match &node.expr {
        Ast::Ident(name) => {
            if name == "params" {
                // A bare `params` (not selected from) can reach any key.
                refs.params_dynamic = true;
            } else if !name.starts_with('@')
                && !VARIABLES.contains(&name.as_str())
                && !TYPE_NAMES.contains(&name.as_str())
                && !bound.contains(name)
            {
                refs.unknown_variables
                    .push((name.clone(), position(expr, node.id)));
            }
            return;
        }
        Ast::Select(select) => {
            if let Ast::Ident(name) = &select.operand.expr
                && name == "params"
                && !bound.contains(name)
            {
                refs.params
                    .push((select.field.clone(), position(expr, select.operand.id)));
                return;
            }
        }
        Ast::Call(call) if call.func_name == "_[_]" && call.args.len() == 2 => {
            if let (Ast::Ident(name), Ast::Literal(LiteralValue::String(key))) =
                (&call.args[0].expr, &call.args[1].expr)
                && name == "params"
            {
                refs.params
                    .push((key.inner().to_owned(), position(expr, call.args[0].id)));
                return;
            }
        }
        _ => {}
    }
    for_each_child(node, &mut |child| walk(expr, child, bound, refs));
}

fn for_each_child(node: &IdedExpr, f: &mut dyn FnMut(&IdedExpr)) {
    match &node.expr {
        Ast::Unspecified | Ast::Ident(_) | Ast::Literal(_) => {}
        Ast::Call(call) => {
            if let Some(target) = &call.target {
                f(target);
            }
            call.args.iter().for_each(&mut *f);
        }
        Ast::Comprehension(c) => {
            f(&c.iter_range);
            f(&c.accu_init);
            f(&c.loop_cond);
            f(&c.loop_step);
            f(&c.result);
        }
        Ast::List(list) => list.elements.iter().for_each(&mut *f),
        Ast::Map(map) => {
            for entry in &map.entries {
                if let EntryExpr::MapEntry(e) = &entry.expr {
                    f(&e.key);
                    f(&e.value);
                }
            }
        }
        Ast::Struct(s) => {
            for entry in &s.entries {
                match &entry.expr {
                    EntryExpr::StructField(field) => f(&field.value),
                    EntryExpr::MapEntry(e) => {
                        f(&e.key);
                        f(&e.value);
                    }
                }
            }
        }
        Ast::Select(select) => f(&select.operand),
    }
}

/// The JSON form of a CEL value, for evidence: timestamps as RFC 3339 strings,
/// durations as seconds (`"90s"`), optionals as their value or `null`, bytes as a
/// string of their length. Beyond [`MAX_EVIDENCE_DEPTH`] a value becomes `"…"`.
pub(crate) fn to_json(val: &dyn Val) -> Json {
    to_json_at(val, 0)
}

fn to_json_at(val: &dyn Val, depth: usize) -> Json {
    if depth > MAX_EVIDENCE_DEPTH {
        return Json::String("…".to_owned());
    }
    if let Some(b) = val.downcast_ref::<CelBool>() {
        return Json::Bool(*b.inner());
    }
    if let Some(i) = val.downcast_ref::<CelInt>() {
        return Json::from(*i.inner());
    }
    if let Some(u) = val.downcast_ref::<CelUInt>() {
        return Json::from(*u.inner());
    }
    if let Some(d) = val.downcast_ref::<CelDouble>() {
        return serde_json::Number::from_f64(*d.inner()).map_or(Json::Null, Json::Number);
    }
    if let Some(s) = val.downcast_ref::<CelString>() {
        return Json::String(s.inner().to_owned());
    }
    if val.downcast_ref::<CelNull>().is_some() {
        return Json::Null;
    }
    if let Some(t) = val.downcast_ref::<CelTimestamp>() {
        return Json::String(format_timestamp(t.inner()));
    }
    if let Some(d) = val.downcast_ref::<CelDuration>() {
        return Json::String(format_duration(d.inner()));
    }
    if let Some(o) = val.downcast_ref::<CelOptional>() {
        return o.inner().map_or(Json::Null, |v| to_json_at(v, depth + 1));
    }
    match val.get_type().kind() {
        Kind::List => match val.as_iterable() {
            Some(iterable) => {
                let mut items = Vec::new();
                let mut iter = iterable.iter();
                while let Some(item) = iter.next() {
                    items.push(to_json_at(item, depth + 1));
                }
                Json::Array(items)
            }
            None => Json::Null,
        },
        Kind::Map => match (val.as_iterable(), val.as_indexer()) {
            (Some(iterable), Some(indexer)) => {
                let mut object = serde_json::Map::new();
                let mut keys = iterable.iter();
                while let Some(key) = keys.next() {
                    let name = match key.downcast_ref::<CelString>() {
                        Some(s) => s.inner().to_owned(),
                        None => to_json_at(key, depth + 1).to_string(),
                    };
                    let value = indexer
                        .get(key)
                        .map_or(Json::Null, |v| to_json_at(v.as_ref(), depth + 1));
                    object.insert(name, value);
                }
                Json::Object(object)
            }
            _ => Json::Null,
        },
        Kind::Bytes => Json::String(format!("<{} bytes>", bytes_len(val))),
        _ => Json::String(format!("<{}>", val.get_type().name())),
    }
}

fn bytes_len(val: &dyn Val) -> i64 {
    val.as_sizer().map_or(0, |s| *s.size().inner())
}

/// Where the content of a TOML string value starts, given the byte offset of the value
/// token in the file text: after `"`, `'`, or the `"""`/`'''` and the newline TOML trims
/// right after them.
pub(crate) fn content_start(text: &str, value_start: usize) -> usize {
    let rest = text.get(value_start..).unwrap_or("");
    if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        let after = &rest[3..];
        let skip = if after.starts_with("\r\n") {
            2
        } else {
            usize::from(after.starts_with('\n'))
        };
        value_start + 3 + skip
    } else if rest.starts_with('"') || rest.starts_with('\'') {
        value_start + 1
    } else {
        value_start
    }
}

/// The byte offset within `source` of a 1-based (line, column) position. Columns count
/// characters; a position past the end is clamped to it.
pub(crate) fn offset_in(source: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let byte = text
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(text.trim_end_matches('\n').len(), |(b, _)| b);
            return offset + byte;
        }
        offset += text.len();
    }
    source.len()
}

/// A short, one-line quotation of an expression for messages.
pub(crate) fn quote(source: &str) -> String {
    let one_line: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        let cut: String = one_line.chars().take(77).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::json_view::json_val;
    use cel::{Context, Value};

    fn eval(source: &str, facts: &Json) -> Result<Json, String> {
        let env = environment();
        let expr = compile(&env, source).map_err(|e| format!("{e:?}"))?;
        let mut ctx = Context::with_env(Arc::clone(&env));
        ctx.add_variable_as_val("facts", json_val(facts));
        ctx.add_variable_from_value(
            "now",
            Value::Timestamp(
                DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("valid time"),
            ),
        );
        Value::resolve_val(expr.program().expression(), &ctx)
            .map(|v| to_json(v.as_ref()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn facts_are_read_through_the_view() {
        let facts = serde_json::json!({
            "os": {"name": "Debian", "days": 3, "ratio": 0.5, "big": u64::MAX},
            "fs": [{"free_ratio": 0.1}, {"free_ratio": 0.4}],
            "versions": {"openssh-server": "1:9.2"},
        });
        assert_eq!(
            eval("facts.os.name == 'Debian'", &facts),
            Ok(Json::Bool(true))
        );
        assert_eq!(eval("facts.os.days > 2.5", &facts), Ok(Json::Bool(true)));
        assert_eq!(eval("facts.os.days == 3.0", &facts), Ok(Json::Bool(true)));
        assert_eq!(eval("facts.os.big > 1u", &facts), Ok(Json::Bool(true)));
        assert_eq!(
            eval("facts.fs.filter(f, f.free_ratio >= 0.15).size()", &facts),
            Ok(Json::from(1))
        );
        assert_eq!(
            eval("facts.fs.all(f, f.free_ratio > 0.0)", &facts),
            Ok(Json::Bool(true))
        );
        assert_eq!(
            eval("'openssh-server' in facts.versions", &facts),
            Ok(Json::Bool(true))
        );
        assert_eq!(eval("facts.fs[1].free_ratio", &facts), Ok(Json::from(0.4)));
        assert_eq!(eval("size(facts.fs)", &facts), Ok(Json::from(2)));
        assert_eq!(eval("has(facts.os.kernel)", &facts), Ok(Json::Bool(false)));
        assert_eq!(
            eval("facts.?os.kernel.orValue('none')", &facts),
            Ok(Json::from("none"))
        );
        assert_eq!(
            eval(
                "facts.fs == [{'free_ratio': 0.1}, {'free_ratio': 0.4}]",
                &facts
            ),
            Ok(Json::Bool(true))
        );
        assert_eq!(
            eval("facts.fs.map(f, f.free_ratio)", &facts),
            Ok(serde_json::json!([0.1, 0.4]))
        );
        assert_eq!(
            eval("facts.fs[0]", &facts),
            Ok(serde_json::json!({"free_ratio": 0.1}))
        );
        let missing = eval("facts.os.kernel == 'x'", &facts).unwrap_err();
        assert!(missing.contains("kernel"), "{missing}");
    }

    #[test]
    fn date_and_days_helpers() {
        let facts = serde_json::json!({"eos": "2028-06-30", "when": "2025-12-01T10:00:00Z"});
        assert_eq!(
            eval("date(facts.eos) > now + days(365)", &facts),
            Ok(Json::Bool(true))
        );
        assert_eq!(
            eval("now - date(facts.when) < days(31.5)", &facts),
            Ok(Json::Bool(true))
        );
        assert_eq!(
            eval("date('2026-01-02')", &facts),
            Ok(Json::from("2026-01-02T00:00:00Z"))
        );
        assert_eq!(eval("days(1)", &facts), Ok(Json::from("86400s")));
        let bad = eval("date('June 2028')", &facts).unwrap_err();
        assert!(bad.contains("neither a YYYY-MM-DD date"), "{bad}");
    }

    #[test]
    fn references_find_params_and_unknown_variables() {
        let env = environment();
        let expr = compile(
            &env,
            "facts.fs.all(f, f.free_ratio >= params.min_free) && params['max'] > 1 && fact.x && int",
        )
        .expect("compiles");
        let refs = references(&expr);
        let names: Vec<&str> = refs.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["min_free", "max"]);
        let unknown: Vec<&str> = refs
            .unknown_variables
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(unknown, ["fact"]);
        assert!(!refs.params_dynamic);
        assert_eq!(refs.unknown_variables[0].1, 73);
        assert_eq!(refs.params[0].1, 32);
        assert_eq!(refs.params[1].1, 52);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let env = environment();
        let errors = compile(&env, "facts.a &&\n  facts.b ==").unwrap_err();
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("Syntax error"), "{errors:?}");
    }

    #[test]
    fn offsets_map_lines_and_columns() {
        assert_eq!(offset_in("abc\ndef", 2, 2), 5);
        assert_eq!(offset_in("abc", 1, 1), 0);
        assert_eq!(offset_in("abc", 1, 9), 3);
        assert_eq!(content_start("x = \"\"\"\nab\"\"\"", 4), 8);
        assert_eq!(content_start("x = 'ab'", 4), 5);
    }
}
