//! A direct evaluator for the CEL most checks are written in: field selection, `has()`,
//! comparisons, `&&` `||` `!` `?:`, `in`, `size()`, number arithmetic, `double()`,
//! `string()` of ints and bools, string and list `+`, `startsWith` `endsWith` `contains`,
//! `upperAscii` `lowerAscii`, `format` (`%s` `%d` `%f` of scalars),
//! dates (`now`, `date()`, `timestamp()`, `days()`), indexing, `x.?a.b.orValue(d)`, map
//! literals, and the `exists` `all` `filter` `map` macros — evaluated straight over the
//! facts JSON.
//!
//! It exists for speed: cel's interpreter allocates for every field access and loop
//! step; this walks the JSON and allocates almost nothing, several times faster. It is
//! only ever a shortcut to the same answer: an expression using anything else is not
//! compiled here, and *any* error or doubtful case while evaluating (a missing field, a
//! type mismatch, an overflow, a number too large to compare exactly) returns `None`,
//! and the caller runs the expression in cel, which gives the result or the error with
//! its message. So for a value it returns, it must agree with cel exactly; the
//! differential tests (`fast_tests.rs`) and the fixture runner (which runs every
//! fixture both ways) check that it does.

use std::cmp::Ordering;

use cel::Program;
use cel::common::ast::{ComprehensionExpr, Expr as Ast, LiteralValue};
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::Value as Json;

use super::expr::{
    days_from_double, days_from_int, format_duration, format_timestamp, parse_date_or_time,
};

/// The largest integer a double holds exactly; past it, int–double comparisons defer to
/// cel.
const EXACT_IN_DOUBLE: i128 = 1 << 53;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrFn {
    StartsWith,
    EndsWith,
    Contains,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quant {
    Exists,
    All,
}

/// A compiled expression of the supported subset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(String),
    List(Vec<Node>),
    Facts,
    Params,
    Now,
    /// A comprehension's variable: 0 is the innermost.
    Local(usize),
    Select(Box<Node>, String),
    Has(Box<Node>, String),
    Index(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    Size(Box<Node>),
    ToDouble(Box<Node>),
    StrFn(StrFn, Box<Node>, Box<Node>),
    Date(Box<Node>),
    Timestamp(Box<Node>),
    Days(Box<Node>),
    ToString(Box<Node>),
    /// `upperAscii()` (true) and `lowerAscii()` (false).
    Case(bool, Box<Node>),
    /// `'template'.format([args])`: `%s`, `%d`, `%[.N]f` and `%%` of strings, numbers,
    /// bools and null (anything else goes to cel).
    Format(Box<Node>, Box<Node>),
    /// `x.?a.b.orValue(default)`: the fields from the first optional selection on.
    OrValue(Box<Node>, Vec<String>, Box<Node>),
    /// A map literal with string keys, e.g. evidence `{'release': ..., 'date': ...}`.
    Map(Vec<(String, Node)>),
    Quant(Quant, Box<Node>, String, Box<Node>),
    /// `filter` (keep `var` where `filter` holds) and `map` (with an optional filter).
    Collect {
        range: Box<Node>,
        var: String,
        filter: Option<Box<Node>>,
        map: Box<Node>,
    },
}

/// A value while evaluating: borrowed from the facts, params or the expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(&'a str),
    /// A string built while evaluating (`+`, `string()`).
    Owned(String),
    Obj(&'a serde_json::Map<String, Json>),
    Arr(&'a [Json]),
    List(Vec<V<'a>>),
    /// A map literal's entries.
    Map(Vec<(&'a str, V<'a>)>),
    Time(DateTime<FixedOffset>),
    Dur(chrono::Duration),
}

impl V<'_> {
    /// The text of a string value.
    fn text(&self) -> Option<&str> {
        match self {
            V::Str(s) => Some(s),
            V::Owned(s) => Some(s),
            _ => None,
        }
    }
}

/// Compiles a program to a [`Node`], or `None` when it uses anything unsupported.
pub(crate) fn compile(program: &Program) -> Option<Node> {
    Compiler { locals: Vec::new() }.node(program.expression())
}

struct Compiler {
    locals: Vec<String>,
}

impl Compiler {
    fn boxed(&mut self, e: &cel::IdedExpr) -> Option<Box<Node>> {
        self.node(e).map(Box::new)
    }

    fn node(&mut self, e: &cel::IdedExpr) -> Option<Node> {
        Some(match &e.expr {
            Ast::Literal(l) => match l {
                LiteralValue::Null => Node::Null,
                LiteralValue::Boolean(b) => Node::Bool(*b.inner()),
                LiteralValue::Int(i) => Node::Int(*i.inner()),
                LiteralValue::UInt(u) => Node::UInt(*u.inner()),
                LiteralValue::Double(d) => Node::Double(*d.inner()),
                LiteralValue::String(s) => Node::Str(s.inner().to_owned()),
                LiteralValue::Bytes(_) => return None,
            },
            Ast::Ident(name) => {
                if let Some(depth) = self.locals.iter().rev().position(|l| l == name) {
                    Node::Local(depth)
                } else {
                    match name.as_str() {
                        "facts" => Node::Facts,
                        "params" => Node::Params,
                        "now" => Node::Now,
                        _ => return None,
                    }
                }
            }
            Ast::Select(s) => {
                let operand = self.boxed(&s.operand)?;
                if s.test {
                    Node::Has(operand, s.field.clone())
                } else {
                    Node::Select(operand, s.field.clone())
                }
            }
            Ast::List(list) => {
                if !list.optional_indices.is_empty() {
                    return None;
                }
                Node::List(
                    list.elements
                        .iter()
                        .map(|x| self.node(x))
                        .collect::<Option<_>>()?,
                )
            }
            Ast::Call(call) => {
                let args = &call.args;
                match (call.func_name.as_str(), &call.target, args.len()) {
                    ("_==_", None, 2) => self.cmp(Cmp::Eq, args)?,
                    ("_!=_", None, 2) => self.cmp(Cmp::Ne, args)?,
                    ("_<_", None, 2) => self.cmp(Cmp::Lt, args)?,
                    ("_<=_", None, 2) => self.cmp(Cmp::Le, args)?,
                    ("_>_", None, 2) => self.cmp(Cmp::Gt, args)?,
                    ("_>=_", None, 2) => self.cmp(Cmp::Ge, args)?,
                    ("_+_", None, 2) => self.arith(Arith::Add, args)?,
                    ("_-_", None, 2) => self.arith(Arith::Sub, args)?,
                    ("_*_", None, 2) => self.arith(Arith::Mul, args)?,
                    ("_/_", None, 2) => self.arith(Arith::Div, args)?,
                    ("_%_", None, 2) => self.arith(Arith::Rem, args)?,
                    ("_&&_", None, 2) => Node::And(self.boxed(&args[0])?, self.boxed(&args[1])?),
                    ("_||_", None, 2) => Node::Or(self.boxed(&args[0])?, self.boxed(&args[1])?),
                    ("!_", None, 1) => Node::Not(self.boxed(&args[0])?),
                    ("-_", None, 1) => Node::Neg(self.boxed(&args[0])?),
                    ("_?_:_", None, 3) => Node::Cond(
                        self.boxed(&args[0])?,
                        self.boxed(&args[1])?,
                        self.boxed(&args[2])?,
                    ),
                    ("@in", None, 2) => Node::In(self.boxed(&args[0])?, self.boxed(&args[1])?),
                    ("_[_]", None, 2) => Node::Index(self.boxed(&args[0])?, self.boxed(&args[1])?),
                    ("size", None, 1) => Node::Size(self.boxed(&args[0])?),
                    ("size", Some(t), 0) => Node::Size(self.boxed(t)?),
                    ("double", None, 1) => Node::ToDouble(self.boxed(&args[0])?),
                    ("date", None, 1) => Node::Date(self.boxed(&args[0])?),
                    ("timestamp", None, 1) => Node::Timestamp(self.boxed(&args[0])?),
                    ("days", None, 1) => Node::Days(self.boxed(&args[0])?),
                    ("string", None, 1) => Node::ToString(self.boxed(&args[0])?),
                    ("orValue", Some(t), 1) => self.or_value(t, &args[0])?,
                    ("startsWith", Some(t), 1) => self.str_fn(StrFn::StartsWith, t, &args[0])?,
                    ("endsWith", Some(t), 1) => self.str_fn(StrFn::EndsWith, t, &args[0])?,
                    ("contains", Some(t), 1) => self.str_fn(StrFn::Contains, t, &args[0])?,
                    ("upperAscii", Some(t), 0) => Node::Case(true, self.boxed(t)?),
                    ("lowerAscii", Some(t), 0) => Node::Case(false, self.boxed(t)?),
                    ("format", Some(t), 1) => Node::Format(self.boxed(t)?, self.boxed(&args[0])?),
                    _ => return None,
                }
            }
            Ast::Comprehension(c) => self.comprehension(c)?,
            Ast::Map(map) => {
                let mut entries: Vec<(String, Node)> = Vec::new();
                for entry in &map.entries {
                    let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr else {
                        return None;
                    };
                    let Ast::Literal(LiteralValue::String(key)) = &e.key.expr else {
                        return None;
                    };
                    let key = key.inner().to_owned();
                    // A repeated key is an error in cel: leave it there.
                    if e.optional || entries.iter().any(|(k, _)| *k == key) {
                        return None;
                    }
                    entries.push((key, self.node(&e.value)?));
                }
                Node::Map(entries)
            }
            // Messages are not used in checks.
            Ast::Struct(_) | Ast::Unspecified => return None,
        })
    }

    /// `base.f.?g.h.orValue(d)`: `base.f` compiles as usual; from the first `.?` on, a
    /// missing field gives `d`.
    fn or_value(&mut self, target: &cel::IdedExpr, default: &cel::IdedExpr) -> Option<Node> {
        // Steps from the outside in: (field, optional?).
        let mut steps: Vec<(String, bool)> = Vec::new();
        let mut cur = target;
        loop {
            match &cur.expr {
                Ast::Select(s) if !s.test => {
                    steps.push((s.field.clone(), false));
                    cur = &s.operand;
                }
                // `x.?f` and `x[?'f']` alike: an optional step by a literal key.
                Ast::Call(c)
                    if matches!(c.func_name.as_str(), "_?._" | "_[?_]") && c.target.is_none() =>
                {
                    match c.args.as_slice() {
                        [x, field] => match &field.expr {
                            Ast::Literal(LiteralValue::String(f)) => {
                                steps.push((f.inner().to_owned(), true));
                                cur = x;
                            }
                            _ => return None,
                        },
                        _ => return None,
                    }
                }
                _ => break,
            }
        }
        steps.reverse();
        let first = steps.iter().position(|(_, optional)| *optional)?;
        let mut base = self.node(cur)?;
        for (field, _) in &steps[..first] {
            base = Node::Select(Box::new(base), field.clone());
        }
        let path = steps[first..].iter().map(|(f, _)| f.clone()).collect();
        Some(Node::OrValue(Box::new(base), path, self.boxed(default)?))
    }

    fn cmp(&mut self, op: Cmp, args: &[cel::IdedExpr]) -> Option<Node> {
        Some(Node::Cmp(op, self.boxed(&args[0])?, self.boxed(&args[1])?))
    }

    fn arith(&mut self, op: Arith, args: &[cel::IdedExpr]) -> Option<Node> {
        Some(Node::Arith(
            op,
            self.boxed(&args[0])?,
            self.boxed(&args[1])?,
        ))
    }

    fn str_fn(&mut self, f: StrFn, target: &cel::IdedExpr, arg: &cel::IdedExpr) -> Option<Node> {
        Some(Node::StrFn(f, self.boxed(target)?, self.boxed(arg)?))
    }

    /// Recognises the expansions of `exists`, `all`, `filter` and `map` (see cel's
    /// `parser/macros.rs`); anything else is left to cel.
    fn comprehension(&mut self, c: &ComprehensionExpr) -> Option<Node> {
        if c.iter_var2.is_some() {
            return None;
        }
        let accu = c.accu_var.as_str();
        let is_accu = |e: &cel::IdedExpr| matches!(&e.expr, Ast::Ident(n) if n == accu);
        if !is_accu(&c.result) {
            return None;
        }
        let range = self.boxed(&c.iter_range)?;
        self.locals.push(c.iter_var.clone());
        let node = self.comprehension_body(c, range, &is_accu);
        self.locals.pop();
        node
    }

    fn comprehension_body(
        &mut self,
        c: &ComprehensionExpr,
        range: Box<Node>,
        is_accu: &dyn Fn(&cel::IdedExpr) -> bool,
    ) -> Option<Node> {
        let var = c.iter_var.clone();
        let Ast::Call(step) = &c.loop_step.expr else {
            return None;
        };
        match (
            &c.accu_init.expr,
            step.func_name.as_str(),
            step.args.as_slice(),
        ) {
            (Ast::Literal(LiteralValue::Boolean(b)), "_||_", [a, pred])
                if !*b.inner() && is_accu(a) =>
            {
                Some(Node::Quant(Quant::Exists, range, var, self.boxed(pred)?))
            }
            (Ast::Literal(LiteralValue::Boolean(b)), "_&&_", [a, pred])
                if *b.inner() && is_accu(a) =>
            {
                Some(Node::Quant(Quant::All, range, var, self.boxed(pred)?))
            }
            (Ast::List(init), "_+_", [a, item]) if init.elements.is_empty() && is_accu(a) => {
                let map = self.appended(item)?;
                Some(Node::Collect {
                    range,
                    var,
                    filter: None,
                    map,
                })
            }
            (Ast::List(init), "_?_:_", [filter, add, otherwise])
                if init.elements.is_empty() && is_accu(otherwise) =>
            {
                let Ast::Call(add) = &add.expr else {
                    return None;
                };
                match (add.func_name.as_str(), add.args.as_slice()) {
                    ("_+_", [a, item]) if is_accu(a) => {
                        let map = self.appended(item)?;
                        let filter = Some(self.boxed(filter)?);
                        Some(Node::Collect {
                            range,
                            var,
                            filter,
                            map,
                        })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The `[x]` appended to the accumulator: its single element.
    fn appended(&mut self, list: &cel::IdedExpr) -> Option<Box<Node>> {
        match &list.expr {
            Ast::List(l) if l.elements.len() == 1 && l.optional_indices.is_empty() => {
                self.boxed(&l.elements[0])
            }
            _ => None,
        }
    }
}

/// What an expression sees.
pub(crate) struct Scope<'a> {
    pub facts: &'a Json,
    pub params: &'a Json,
    pub now: DateTime<FixedOffset>,
}

/// Evaluates `node`; `None` means "ask cel".
pub(crate) fn eval<'a>(node: &'a Node, scope: &Scope<'a>) -> Option<V<'a>> {
    let mut locals = Vec::new();
    Eval {
        scope,
        locals: &mut locals,
    }
    .eval(node)
}

struct Eval<'s, 'a> {
    scope: &'s Scope<'a>,
    locals: &'s mut Vec<V<'a>>,
}

pub(crate) fn from_json(j: &Json) -> V<'_> {
    match j {
        Json::Null => V::Null,
        Json::Bool(b) => V::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                V::Int(i)
            } else if let Some(u) = n.as_u64() {
                V::UInt(u)
            } else {
                V::Double(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => V::Str(s),
        Json::Array(a) => V::Arr(a),
        Json::Object(o) => V::Obj(o),
    }
}

impl<'a> Eval<'_, 'a> {
    fn eval(&mut self, node: &'a Node) -> Option<V<'a>> {
        Some(match node {
            Node::Null => V::Null,
            Node::Bool(b) => V::Bool(*b),
            Node::Int(i) => V::Int(*i),
            Node::UInt(u) => V::UInt(*u),
            Node::Double(d) => V::Double(*d),
            Node::Str(s) => V::Str(s),
            Node::List(items) => {
                V::List(items.iter().map(|n| self.eval(n)).collect::<Option<_>>()?)
            }
            Node::Facts => from_json(self.scope.facts),
            Node::Params => from_json(self.scope.params),
            Node::Now => V::Time(self.scope.now),
            Node::Local(depth) => {
                let at = self.locals.len().checked_sub(depth + 1)?;
                self.locals.get(at)?.clone()
            }
            Node::Select(operand, field) => match self.eval(operand)? {
                V::Obj(o) => from_json(o.get(field)?),
                _ => return None,
            },
            Node::Has(operand, field) => match self.eval(operand)? {
                V::Obj(o) => V::Bool(o.contains_key(field)),
                _ => return None,
            },
            Node::Index(operand, index) => {
                let (container, index) = (self.eval(operand)?, self.eval(index)?);
                match (container, index) {
                    (V::Obj(o), k @ (V::Str(_) | V::Owned(_))) => from_json(o.get(k.text()?)?),
                    (V::Arr(a), V::Int(i)) => from_json(a.get(usize::try_from(i).ok()?)?),
                    (V::List(l), V::Int(i)) => l.get(usize::try_from(i).ok()?)?.clone(),
                    _ => return None,
                }
            }
            Node::Not(x) => V::Bool(!self.bool(x)?),
            Node::Neg(x) => match self.eval(x)? {
                V::Int(i) => V::Int(i.checked_neg()?),
                V::Double(d) => V::Double(-d),
                _ => return None,
            },
            // A false (true) side decides whatever the other gives, as in cel; an error
            // or a non-bool anywhere else goes to cel.
            Node::And(l, r) => V::Bool(self.bool(l)? && self.bool(r)?),
            Node::Or(l, r) => V::Bool(self.bool(l)? || self.bool(r)?),
            Node::Cond(c, a, b) => {
                if self.bool(c)? {
                    self.eval(a)?
                } else {
                    self.eval(b)?
                }
            }
            Node::Cmp(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                V::Bool(match op {
                    Cmp::Eq => equal(&l, &r)?,
                    Cmp::Ne => !equal(&l, &r)?,
                    Cmp::Lt => order(&l, &r)? == Ordering::Less,
                    Cmp::Le => order(&l, &r)? != Ordering::Greater,
                    Cmp::Gt => order(&l, &r)? == Ordering::Greater,
                    Cmp::Ge => order(&l, &r)? != Ordering::Less,
                })
            }
            Node::Arith(op, l, r) => {
                let (l, r) = (self.eval(l)?, self.eval(r)?);
                arith(*op, l, r)?
            }
            Node::In(needle, hay) => {
                let (needle, hay) = (self.eval(needle)?, self.eval(hay)?);
                V::Bool(contains(&hay, &needle)?)
            }
            Node::Size(x) => {
                let n = match self.eval(x)? {
                    V::Arr(a) => a.len(),
                    V::List(l) => l.len(),
                    V::Obj(o) => o.len(),
                    V::Str(s) => s.chars().count(),
                    V::Owned(s) => s.chars().count(),
                    _ => return None,
                };
                V::Int(i64::try_from(n).ok()?)
            }
            Node::ToDouble(x) => match self.eval(x)? {
                V::Int(i) => V::Double(i as f64),
                V::UInt(u) => V::Double(u as f64),
                V::Double(d) => V::Double(d),
                _ => return None,
            },
            Node::StrFn(f, s, arg) => {
                let (s, a) = (self.eval(s)?, self.eval(arg)?);
                let (s, a) = (s.text()?, a.text()?);
                V::Bool(match f {
                    StrFn::StartsWith => s.starts_with(a),
                    StrFn::EndsWith => s.ends_with(a),
                    StrFn::Contains => s.contains(a),
                })
            }
            Node::Date(x) => V::Time(in_range(parse_date_or_time(self.eval(x)?.text()?)?)?),
            Node::Timestamp(x) => match self.eval(x)? {
                V::Time(t) => V::Time(t),
                s => V::Time(in_range(DateTime::parse_from_rfc3339(s.text()?).ok()?)?),
            },
            Node::Days(x) => match self.eval(x)? {
                V::Int(i) => V::Dur(days_from_int(i)?),
                V::Double(d) => V::Dur(days_from_double(d)?),
                _ => return None,
            },
            Node::ToString(x) => match self.eval(x)? {
                V::Int(i) => V::Owned(i.to_string()),
                V::UInt(u) => V::Owned(u.to_string()),
                V::Bool(b) => V::Owned(b.to_string()),
                V::Str(s) => V::Str(s),
                V::Owned(s) => V::Owned(s),
                _ => return None,
            },
            Node::Case(upper, x) => {
                let v = self.eval(x)?;
                let s = v.text()?;
                V::Owned(if *upper {
                    s.to_ascii_uppercase()
                } else {
                    s.to_ascii_lowercase()
                })
            }
            Node::Format(template, args) => {
                let template = self.eval(template)?;
                let args = match self.eval(args)? {
                    V::List(l) => l,
                    V::Arr(a) => a.iter().map(from_json).collect(),
                    _ => return None,
                };
                V::Owned(format(template.text()?, &args)?)
            }
            Node::OrValue(base, path, default) => {
                // cel evaluates a call's argument before the call: a default that fails
                // fails the whole expression even when it is not needed.
                let default = self.eval(default)?;
                let mut v = self.eval(base)?;
                for field in path {
                    // A missing field on a map ends the chain with the default; selecting
                    // on anything but a map is left to cel.
                    match v {
                        V::Obj(o) => match o.get(field) {
                            Some(x) => v = from_json(x),
                            None => return Some(default),
                        },
                        _ => return None,
                    }
                }
                v
            }
            Node::Map(entries) => V::Map(
                entries
                    .iter()
                    .map(|(k, n)| Some((k.as_str(), self.eval(n)?)))
                    .collect::<Option<_>>()?,
            ),
            Node::Quant(q, range, _, pred) => {
                let items = self.items(range)?;
                let mut result = matches!(q, Quant::All);
                for item in items {
                    self.locals.push(item);
                    let b = self.bool(pred);
                    self.locals.pop();
                    match (q, b?) {
                        (Quant::Exists, true) => {
                            result = true;
                            break;
                        }
                        (Quant::All, false) => {
                            result = false;
                            break;
                        }
                        _ => {}
                    }
                }
                V::Bool(result)
            }
            Node::Collect {
                range, filter, map, ..
            } => {
                let items = self.items(range)?;
                let mut out = Vec::new();
                for item in items {
                    self.locals.push(item);
                    let keep = match filter {
                        Some(f) => self.bool(f),
                        None => Some(true),
                    };
                    let value = match keep {
                        Some(true) => Some(Some(self.eval(map))),
                        Some(false) => Some(None),
                        None => None,
                    };
                    self.locals.pop();
                    if let Some(v) = value? {
                        out.push(v?);
                    }
                }
                V::List(out)
            }
        })
    }

    fn bool(&mut self, node: &'a Node) -> Option<bool> {
        match self.eval(node)? {
            V::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// The elements a comprehension walks: a list's elements, a map's keys.
    fn items(&mut self, range: &'a Node) -> Option<Items<'a>> {
        Some(match self.eval(range)? {
            V::Arr(a) => Items::Arr(a.iter()),
            V::List(l) => Items::List(l.into_iter()),
            V::Obj(o) => Items::Keys(o.keys()),
            _ => return None,
        })
    }
}

/// What a comprehension walks, element by element, without collecting.
enum Items<'a> {
    Arr(std::slice::Iter<'a, Json>),
    List(std::vec::IntoIter<V<'a>>),
    Keys(serde_json::map::Keys<'a>),
}

impl<'a> Iterator for Items<'a> {
    type Item = V<'a>;

    fn next(&mut self) -> Option<V<'a>> {
        match self {
            Items::Arr(i) => i.next().map(from_json),
            Items::List(i) => i.next(),
            Items::Keys(k) => k.next().map(|k| V::Str(k)),
        }
    }
}

/// cel's `string.format` for the clauses checks use (`%s`, `%d`, `%f`, `%.Nf`, `%%`) and
/// the scalar values; `None` for anything else or any error, which cel then reports.
fn format(template: &str, args: &[V<'_>]) -> Option<String> {
    use std::fmt::Write as _;
    /// cel's (and Go's) spelling of a double: the shortest digits that read back.
    fn double(d: f64) -> String {
        if d.is_nan() {
            "NaN".to_owned()
        } else if d.is_infinite() {
            if d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            d.to_string()
        }
    }
    let mut out = String::with_capacity(template.len() + 16 * args.len());
    let mut rest = template;
    let mut next = args.iter();
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let arg = next.next()?;
        let (precision, clause) = match rest.strip_prefix('.') {
            Some(p) => {
                let end = p.find(|c: char| !c.is_ascii_digit())?;
                let precision: usize = p[..end].parse().ok()?;
                // cel's limit is 100; leave the edge (and its error) to it.
                (precision.min(101), &p[end..])
            }
            None => (6, rest),
        };
        if precision > 100 {
            return None;
        }
        let mut chars = clause.chars();
        match (chars.next()?, arg) {
            ('s', V::Str(s)) => out.push_str(s),
            ('s', V::Owned(s)) => out.push_str(s),
            ('s', V::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            ('s', V::Null) => out.push_str("null"),
            ('s' | 'd', V::Int(i)) => write!(out, "{i}").ok()?,
            ('s' | 'd', V::UInt(u)) => write!(out, "{u}").ok()?,
            ('s' | 'd', V::Double(d)) => out.push_str(&double(*d)),
            ('f', V::Int(i)) => write!(out, "{:.precision$}", *i as f64).ok()?,
            ('f', V::UInt(u)) => write!(out, "{:.precision$}", *u as f64).ok()?,
            ('f', V::Double(d)) if d.is_finite() => write!(out, "{d:.precision$}").ok()?,
            ('f', V::Double(d)) => out.push_str(&double(*d)),
            _ => return None,
        }
        rest = chars.as_str();
    }
    out.push_str(rest);
    Some(out)
}

fn in_range(t: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    let min = NaiveDate::from_ymd_opt(1, 1, 1)?
        .and_hms_opt(0, 0, 0)?
        .and_utc();
    let max = NaiveDate::from_ymd_opt(9999, 12, 31)?
        .and_hms_opt(23, 59, 59)?
        .and_utc();
    (t >= min && t <= max).then_some(t)
}

/// The numeric value of an int or uint, exactly.
fn integer(v: &V<'_>) -> Option<i128> {
    match v {
        V::Int(i) => Some(i128::from(*i)),
        V::UInt(u) => Some(i128::from(*u)),
        _ => None,
    }
}

/// Orders two numbers as cel does; `None` for NaN or an integer too large to compare
/// with a double exactly.
fn num_order(l: &V<'_>, r: &V<'_>) -> Option<Ordering> {
    match (l, r) {
        (V::Double(a), V::Double(b)) => a.partial_cmp(b),
        (V::Double(d), other) => {
            let i = integer(other)?;
            (i.abs() <= EXACT_IN_DOUBLE).then(|| d.partial_cmp(&(i as f64)))?
        }
        (other, V::Double(d)) => {
            let i = integer(other)?;
            (i.abs() <= EXACT_IN_DOUBLE).then(|| (i as f64).partial_cmp(d))?
        }
        _ => Some(integer(l)?.cmp(&integer(r)?)),
    }
}

fn is_number(v: &V<'_>) -> bool {
    matches!(v, V::Int(_) | V::UInt(_) | V::Double(_))
}

/// cel's `==`: numbers by value across int, uint and double; lists and maps by
/// content; values of different types are unequal.
fn equal(l: &V<'_>, r: &V<'_>) -> Option<bool> {
    if is_number(l) && is_number(r) {
        let nan = |v: &V<'_>| matches!(v, V::Double(d) if d.is_nan());
        if nan(l) || nan(r) {
            return Some(false);
        }
        return num_order(l, r).map(|o| o == Ordering::Equal);
    }
    Some(match (l, r) {
        (V::Null, V::Null) => true,
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Str(_) | V::Owned(_), V::Str(_) | V::Owned(_)) => l.text() == r.text(),
        (V::Time(a), V::Time(b)) => a == b,
        (V::Dur(a), V::Dur(b)) => a == b,
        (V::Obj(a), V::Obj(b)) => {
            if a.len() != b.len() {
                return Some(false);
            }
            for (k, v) in a.iter() {
                match b.get(k) {
                    None => return Some(false),
                    Some(w) => {
                        if !equal(&from_json(v), &from_json(w))? {
                            return Some(false);
                        }
                    }
                }
            }
            true
        }
        // A facts list on the left compares element by element with any list; cel's own
        // lists (literals, `filter`/`map` results) only equal cel lists, so a cel list
        // against a facts list is left to cel (which says `false`).
        (V::Arr(_), V::Arr(_) | V::List(_)) | (V::List(_), V::List(_)) => {
            let (a, b) = (list_items(l)?, list_items(r)?);
            if a.len() != b.len() {
                return Some(false);
            }
            for (x, y) in a.iter().zip(&b) {
                if !equal(x, y)? {
                    return Some(false);
                }
            }
            true
        }
        (V::List(_) | V::Arr(_) | V::Obj(_) | V::Map(_), _)
        | (_, V::List(_) | V::Arr(_) | V::Obj(_) | V::Map(_)) => {
            return None;
        }
        _ => false,
    })
}

fn list_items<'a>(v: &V<'a>) -> Option<Vec<V<'a>>> {
    match v {
        V::Arr(a) => Some(a.iter().map(from_json).collect()),
        V::List(l) => Some(l.clone()),
        _ => None,
    }
}

/// cel's `<` family: numbers, strings (by code point), bools, timestamps, durations.
fn order(l: &V<'_>, r: &V<'_>) -> Option<Ordering> {
    if is_number(l) && is_number(r) {
        return num_order(l, r);
    }
    match (l, r) {
        (V::Str(_) | V::Owned(_), V::Str(_) | V::Owned(_)) => Some(l.text()?.cmp(r.text()?)),
        (V::Bool(a), V::Bool(b)) => Some(a.cmp(b)),
        (V::Time(a), V::Time(b)) => Some(a.cmp(b)),
        (V::Dur(a), V::Dur(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// `needle in hay`: a key of a map (strings only here), an element of a list.
fn contains(hay: &V<'_>, needle: &V<'_>) -> Option<bool> {
    match hay {
        V::Obj(o) => Some(o.contains_key(needle.text()?)),
        V::Arr(a) => {
            for item in a.iter() {
                if equal(&from_json(item), needle)? {
                    return Some(true);
                }
            }
            Some(false)
        }
        V::List(l) => {
            for item in l {
                if equal(item, needle)? {
                    return Some(true);
                }
            }
            Some(false)
        }
        _ => None,
    }
}

fn arith<'a>(op: Arith, l: V<'a>, r: V<'a>) -> Option<V<'a>> {
    if op == Arith::Add {
        if let (Some(a), Some(b)) = (l.text(), r.text()) {
            return Some(V::Owned(format!("{a}{b}")));
        }
        // cel's own lists take any list on the right; a facts list on the left has no `+`.
        if let V::List(mut a) = l {
            match r {
                V::List(b) => a.extend(b),
                V::Arr(b) => a.extend(b.iter().map(from_json)),
                _ => return None,
            }
            return Some(V::List(a));
        }
    }
    Some(match (l, r) {
        (V::Int(a), V::Int(b)) => V::Int(match op {
            Arith::Add => a.checked_add(b)?,
            Arith::Sub => a.checked_sub(b)?,
            Arith::Mul => a.checked_mul(b)?,
            Arith::Div => a.checked_div(b)?,
            Arith::Rem => a.checked_rem(b)?,
        }),
        (V::UInt(a), V::UInt(b)) => V::UInt(match op {
            Arith::Add => a.checked_add(b)?,
            Arith::Sub => a.checked_sub(b)?,
            Arith::Mul => a.checked_mul(b)?,
            Arith::Div => a.checked_div(b)?,
            Arith::Rem => a.checked_rem(b)?,
        }),
        (V::Double(a), V::Double(b)) => V::Double(match op {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
            Arith::Rem => return None,
        }),
        (V::Time(t), V::Dur(d)) => V::Time(in_range(match op {
            Arith::Add => t.checked_add_signed(d)?,
            Arith::Sub => t.checked_sub_signed(d)?,
            _ => return None,
        })?),
        (V::Time(a), V::Time(b)) if op == Arith::Sub => V::Dur(a.signed_duration_since(b)),
        (V::Dur(a), V::Dur(b)) => V::Dur(match op {
            Arith::Add => a.checked_add(&b)?,
            Arith::Sub => a.checked_sub(&b)?,
            _ => return None,
        }),
        _ => return None,
    })
}

/// The JSON form of a value, as `expr::to_json` gives for the same cel value.
pub(crate) fn to_json(v: &V<'_>) -> Json {
    match v {
        V::Null => Json::Null,
        V::Bool(b) => Json::Bool(*b),
        V::Int(i) => Json::from(*i),
        V::UInt(u) => Json::from(*u),
        V::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        V::Str(s) => Json::String((*s).to_owned()),
        V::Owned(s) => Json::String(s.clone()),
        V::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), to_json(v)))
                .collect(),
        ),
        V::Obj(o) => Json::Object((*o).clone()),
        V::Arr(a) => Json::Array(a.to_vec()),
        V::List(l) => Json::Array(l.iter().map(to_json).collect()),
        V::Time(t) => Json::String(format_timestamp(t)),
        V::Dur(d) => Json::String(format_duration(d)),
    }
}
