//! Differential tests of the direct evaluator (`fast.rs`) against cel: whenever the
//! direct evaluator gives a value, cel must give the same value (same JSON, same
//! number type). Hand-picked expressions first, then generated ones.

use std::sync::Arc;

use cel::common::types::CelTimestamp;
use cel::{Context, Value};
use chrono::DateTime;
use proptest::prelude::*;
use serde_json::{Value as Json, json};

use super::expr::{self, compile, environment};
use super::fast;
use super::json_view::json_val;

fn facts() -> Json {
    json!({"a": {
        "i": 5, "neg": -3, "big": 9_007_199_254_740_993_i64, "u": u64::MAX, "d": 2.5, "z": 0,
        "s": "abc", "e": "", "uni": "héllo", "t": true, "f": false, "n": null,
        "date": "2026-03-01", "ts": "2026-03-01T10:00:00Z", "bad_date": "soon",
        "list": [1, 2.5, "x", true, null], "ints": [3, 1, 2], "strs": ["a", "b"],
        "objs": [{"k": 1, "s": "a"}, {"k": 2, "s": "b"}, {"s": "c"}],
        "empty": [], "map": {"x": 1, "y": "z"}, "emap": {}
    }})
}

fn params() -> Json {
    json!({"p": 3, "q": 0.5, "s": "a", "l": ["a", "c"], "m": {"x": 1}})
}

const NOW: &str = "2026-01-01T00:00:00Z";

/// The direct evaluator's JSON, if it gives a value; and cel's result.
fn both(source: &str) -> (bool, Option<Json>, Result<Json, String>) {
    let env = environment();
    let e = compile(&env, source).expect("the generated expression compiles");
    let (facts, params) = (facts(), params());
    let now = DateTime::parse_from_rfc3339(NOW).expect("valid");
    let fast = e.fast().and_then(|node| {
        fast::eval(
            node,
            &fast::Scope {
                facts: &facts,
                params: &params,
                now,
            },
        )
        .map(|v| fast::to_json(&v))
    });
    let mut ctx = Context::with_env(Arc::clone(&env));
    ctx.add_variable_as_val("facts", json_val(&facts));
    ctx.add_variable_as_val("params", json_val(&params));
    ctx.add_variable_as_val("now", Box::new(CelTimestamp::from(now)));
    let cel = Value::resolve_val(e.program().expression(), &ctx)
        .map(|v| expr::to_json(v.as_ref()))
        .map_err(|e| e.to_string());
    (e.is_fast(), fast, cel)
}

fn agree(source: &str) -> Result<(), String> {
    let (_, fast, cel) = both(source);
    match (fast, cel) {
        (None, _) => Ok(()),
        (Some(f), Ok(c)) if f == c => Ok(()),
        (Some(f), c) => Err(format!("`{source}`: direct {f}, cel {c:?}")),
    }
}

#[test]
fn hand_picked_expressions_agree_and_most_run_directly() {
    let cases: &[(&str, Option<Json>)] = &[
        ("facts.a.i == 5", Some(json!(true))),
        ("facts.a.i == 5.0", Some(json!(true))),
        ("facts.a.u > 1", Some(json!(true))),
        ("facts.a.big == 9007199254740992.0", None),
        ("facts.a.i < facts.a.d", Some(json!(false))),
        ("facts.a.s == 'abc' && facts.a.t", Some(json!(true))),
        ("facts.a.f && facts.a.missing", Some(json!(false))),
        ("facts.a.t || facts.a.missing", Some(json!(true))),
        ("facts.a.missing || facts.a.t", None),
        ("has(facts.a.missing)", Some(json!(false))),
        ("has(facts.a.s)", Some(json!(true))),
        (
            "facts.a.s.startsWith('ab') && facts.a.s.endsWith('c') && facts.a.s.contains('b')",
            Some(json!(true)),
        ),
        (
            "size(facts.a.uni) == 5 && size(facts.a.ints) == 3 && facts.a.map.size() == 2",
            Some(json!(true)),
        ),
        ("'x' in facts.a.map", Some(json!(true))),
        ("'b' in facts.a.strs", Some(json!(true))),
        ("2.5 in facts.a.list", Some(json!(true))),
        ("facts.a.ints.exists(x, x > 2)", Some(json!(true))),
        ("facts.a.ints.all(x, x > 2)", Some(json!(false))),
        (
            "facts.a.objs.filter(o, has(o.k) && o.k > 1).map(o, o.s)",
            Some(json!(["b"])),
        ),
        ("facts.a.objs.map(o, o.s)", Some(json!(["a", "b", "c"]))),
        (
            "facts.a.objs.map(o, has(o.k), o.k * 10)",
            Some(json!([10, 20])),
        ),
        ("facts.a.objs.exists(o, o.k == 2)", Some(json!(true))),
        ("facts.a.objs.all(o, o.k > 0)", None),
        (
            "double(facts.a.ints.filter(x, x >= 2).size()) / double(size(facts.a.ints))",
            Some(json!(2.0 / 3.0)),
        ),
        ("facts.a.i / 2 + facts.a.i % 2", Some(json!(3))),
        ("facts.a.i / facts.a.z", None),
        ("facts.a.i + facts.a.d", None),
        (
            "date(facts.a.date) > now + days(params.p)",
            Some(json!(true)),
        ),
        (
            "now - timestamp(facts.a.ts) < days(-59.5)",
            Some(json!(false)),
        ),
        ("date(facts.a.date)", Some(json!("2026-03-01T00:00:00Z"))),
        ("date(facts.a.bad_date)", None),
        ("now - date(facts.a.date)", Some(json!("-5097600s"))),
        ("facts.a.map['y']", Some(json!("z"))),
        ("facts.a.objs[1].s", Some(json!("b"))),
        ("facts.a.ints[5]", None),
        ("facts.a.n == null && facts.a.e == ''", Some(json!(true))),
        ("facts.a.t ? params.q : 1.0", Some(json!(0.5))),
        ("params.l == ['a', 'c']", Some(json!(true))),
        ("facts.a.map == params.m", Some(json!(false))),
        ("-facts.a.neg", Some(json!(3))),
        ("facts.a.s == 1", Some(json!(false))),
        ("facts.a.s < 1", None),
        ("facts.a", Some(facts()["a"].clone())),
        ("facts.a.?missing.orValue('none')", Some(json!("none"))),
        ("facts.?a.map.x.orValue(0)", Some(json!(1))),
        ("facts.?a.map.missing.orValue(0)", Some(json!(0))),
        ("facts.?a.s.x.orValue(0)", None),
        ("facts.?a.?map.?x.orValue(0)", Some(json!(1))),
        ("facts.?nope.map.x.orValue(0)", Some(json!(0))),
        ("facts.a.?n.orValue('none')", Some(json!(null))),
        (
            "facts.a.?s.orValue('none') + '/' + string(facts.a.i) + string(facts.a.u)",
            Some(json!("abc/518446744073709551615")),
        ),
        (
            "{'release': facts.a.s, 'n': facts.a.i, 'when': date(facts.a.date)}",
            Some(json!({"release": "abc", "n": 5, "when": "2026-03-01T00:00:00Z"})),
        ),
        (
            "facts.a.objs.filter(o, has(o.k)).map(o, o.s + ':' + string(o.k))",
            Some(json!(["a:1", "b:2"])),
        ),
        ("[0] + facts.a.ints", Some(json!([0, 3, 1, 2]))),
        ("facts.a.ints + [0]", None),
        ("{'a': 1, 'a': 2}", None),
        ("string(facts.a.d)", None),
        // Outside the subset: cel only.
        ("facts.a.s.matches('^a')", None),
        ("{'x': 1}.x == 1", None),
        ("facts.?a.s.orValue('')", Some(json!("abc"))),
        (
            "'%s: %.1f%% free (%.1f GiB), %d of %d'.format([facts.a.s, facts.a.d * 10.0, facts.a.i, facts.a.i, facts.a.u])",
            Some(json!(
                "abc: 25.0% free (5.0 GiB), 5 of 18446744073709551615"
            )),
        ),
        (
            "'%s %s %s %d %.0f%%'.format([facts.a.t, facts.a.n, facts.a.d, facts.a.d, 0.5])",
            Some(json!("true null 2.5 2.5 0%")),
        ),
        ("'%.3f'.format([1.0 / 0.0])", Some(json!("Infinity"))),
        ("'%s'.format([facts.a.ints])", None),
        ("'%d'.format([facts.a.s])", None),
        ("'%x %s'.format([facts.a.i, 'x'])", None),
        ("'%s %s'.format([facts.a.s])", None),
        ("'%.101f'.format([1.0])", None),
        ("'50%'.format([])", None),
        (
            "facts.a.uni.upperAscii() + facts.a.s.lowerAscii()",
            Some(json!("HéLLOabc")),
        ),
        ("facts.a.map[?'x'].orValue(0)", Some(json!(1))),
        ("facts.a.map[?'nope'].orValue(0)", Some(json!(0))),
        ("facts.a[?'map'].?y.orValue('d')", Some(json!("z"))),
        ("facts.a.ints[?7].orValue(0)", None),
        // The default is evaluated first, as cel does: a failing one fails the whole
        // expression even when the value is there (found by fuzz/ facts).
        ("facts.a.?s.orValue(facts.a.missing)", None),
        (
            "facts.a.?s.orValue(facts.a.map[?'nope'].orValue('d'))",
            Some(json!("abc")),
        ),
    ];
    let mut direct = 0;
    for (source, expected) in cases {
        agree(source).unwrap();
        let (compiled, fast, cel) = both(source);
        assert_eq!(&fast, expected, "`{source}` (cel: {cel:?})");
        if fast.is_some() {
            direct += 1;
        }
        if ["facts.a.s.matches('^a')"].contains(source) {
            assert!(!compiled, "`{source}` should not be in the subset");
        }
    }
    assert!(direct >= 40, "{direct}");
}

// Generated expressions: leaves are paths into the facts (present, missing, of every
// type), literals and dates; they are combined with the operators of the subset and a
// few outside it.

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "facts.a.i",
            "facts.a.neg",
            "facts.a.big",
            "facts.a.u",
            "facts.a.d",
            "facts.a.z",
            "facts.a.s",
            "facts.a.e",
            "facts.a.uni",
            "facts.a.t",
            "facts.a.f",
            "facts.a.n",
            "facts.a.missing",
            "facts.a.list",
            "facts.a.ints",
            "facts.a.strs",
            "facts.a.objs",
            "facts.a.empty",
            "facts.a.map",
            "facts.a.emap",
            "facts.a.map.x",
            "facts.a",
            "facts.a.objs[0]",
            "facts.a.ints[1]",
            "facts.a.map['y']",
            "params.p",
            "params.q",
            "params.s",
            "params.l",
            "params.m",
            "now",
            "date(facts.a.date)",
            "timestamp(facts.a.ts)",
            "days(facts.a.i)",
            "days(params.q)",
            "date(facts.a.bad_date)",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec![
            "0",
            "1",
            "-1",
            "2",
            "3",
            "5",
            "9007199254740993",
            "1u",
            "18446744073709551615u",
            "0.0",
            "0.5",
            "2.5",
            "-1.5",
            "1e300",
            "'a'",
            "'abc'",
            "''",
            "true",
            "false",
            "null",
            "[]",
            "['a', 'b']",
            "[1, 2.5, 'x']",
            "duration('3600s')",
        ])
        .prop_map(str::to_owned),
    ]
}

fn expression() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 40, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec![
                    "==", "!=", "<", "<=", ">", ">=", "&&", "||", "+", "-", "*", "/", "%", "in",
                ]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.clone().prop_map(|a| format!("-({a})")),
            inner.clone().prop_map(|a| format!("size({a})")),
            inner.clone().prop_map(|a| format!("double({a})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
            (
                inner.clone(),
                prop::sample::select(vec!["startsWith", "endsWith", "contains"]),
                inner.clone()
            )
                .prop_map(|(a, f, b)| format!("{a}.{f}({b})")),
            (
                prop::sample::select(vec![
                    "facts.a.ints",
                    "facts.a.objs",
                    "facts.a.list",
                    "facts.a.map",
                    "params.l",
                    "facts.a.empty"
                ]),
                prop::sample::select(vec!["exists", "all", "filter", "map"]),
                prop::sample::select(vec![
                    "x",
                    "x.k",
                    "x.s",
                    "has(x.k)",
                    "x > 1",
                    "x == 'x'",
                    "x.k > 1",
                    "x in ['a', 1]"
                ])
            )
                .prop_map(|(range, m, body)| format!("{range}.{m}(x, {body})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("has({a}.k) || {b}")),
        ]
    })
}

// Typed generation, so that most expressions are well-typed and both evaluators give
// a value: numbers, strings, times, durations, lists and bools built from each other.

fn pick(items: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(items).prop_map(str::to_owned).boxed()
}

fn number() -> BoxedStrategy<String> {
    pick(&[
        "facts.a.i",
        "facts.a.neg",
        "facts.a.d",
        "facts.a.z",
        "params.p",
        "params.q",
        "facts.a.big",
        "facts.a.u",
        "facts.a.map.x",
        "facts.a.ints[1]",
        "0",
        "1",
        "2",
        "-1",
        "2.5",
        "0.5",
        "0.0",
        "1e300",
        "9007199254740993",
        "1u",
        "3u",
        "size(facts.a.ints)",
        "size(facts.a.s)",
        "facts.a.missing",
        "facts.a.?i.orValue(0)",
        "facts.a.?missing.orValue(2)",
        "facts.a.?s.orValue(1)",
    ])
    .prop_recursive(3, 16, 2, |n| {
        prop_oneof![
            (n.clone(), pick(&["+", "-", "*", "/", "%"]), n.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            n.clone().prop_map(|a| format!("-({a})")),
            n.clone().prop_map(|a| format!("double({a})")),
            (boolean_leaf(), n.clone(), n).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
    .boxed()
}

fn string() -> BoxedStrategy<String> {
    let leaf = pick(&[
        "'%s=%d (%.2f, %.0f%%) %s'.format([facts.a.s, facts.a.i, facts.a.d, params.q * 100.0, facts.a.t])",
        "'%s|%s|%d'.format(facts.a.list)",
        "'%.1f GiB'.format([double(facts.a.u) / 1073741824.0])",
        "'%f %s'.format([facts.a.neg, facts.a.n])",
        "'%d'.format([facts.a.d])",
        "'%e'.format([facts.a.d])",
        "facts.a.uni.upperAscii()",
        "facts.a.s.lowerAscii()",
        "facts.a.map[?'y'].orValue('none')",
        "facts.a[?'nope'].orValue('none')",
        "facts.a.s",
        "facts.a.e",
        "facts.a.uni",
        "params.s",
        "facts.a.map['y']",
        "'a'",
        "'ab'",
        "''",
        "'héllo'",
        "facts.a.n",
        "facts.a.?s.orValue('none')",
        "facts.a.?missing.orValue('d')",
        "facts.?a.missing.orValue('x')",
        "facts.?a.map.y.orValue('x')",
        "facts.?a.map.?nope.orValue('x')",
        "facts.?a.s.nope.orValue('x')",
        "facts.?a.n.nope.orValue('x')",
        "string(facts.a.i)",
        "string(facts.a.u)",
        "string(facts.a.t)",
        "string(facts.a.d)",
        "string(facts.a.s)",
    ]);
    prop_oneof![
        leaf.clone(),
        (leaf.clone(), leaf).prop_map(|(a, b)| format!("{a} + {b}")),
    ]
    .boxed()
}

fn map_literal() -> BoxedStrategy<String> {
    (number(), string(), pick(&["'k'", "'k2'", "'n'"]))
        .prop_map(|(n, s, k)| format!("{{'n': {n}, 's': {s}, {k}: facts.a.ints}}"))
        .boxed()
}

fn time_leaf() -> BoxedStrategy<String> {
    pick(&[
        "now",
        "date(facts.a.date)",
        "timestamp(facts.a.ts)",
        "date('2030-01-01')",
        "date(facts.a.bad_date)",
    ])
}

fn duration_leaf() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&[
            "days(facts.a.i)",
            "days(params.q)",
            "days(-2)",
            "duration('3600s')"
        ]),
        number().prop_map(|n| format!("days({n})")),
    ]
    .boxed()
}

fn time() -> BoxedStrategy<String> {
    prop_oneof![
        time_leaf(),
        (time_leaf(), pick(&["+", "-"]), duration_leaf())
            .prop_map(|(t, op, d)| format!("({t} {op} {d})")),
    ]
    .boxed()
}

fn duration() -> BoxedStrategy<String> {
    prop_oneof![
        duration_leaf(),
        (time(), time()).prop_map(|(a, b)| format!("({a} - {b})")),
        (duration_leaf(), pick(&["+", "-"]), duration_leaf())
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
    ]
    .boxed()
}

fn list() -> BoxedStrategy<String> {
    prop_oneof![
        pick(&[
            "facts.a.ints",
            "facts.a.strs",
            "facts.a.list",
            "facts.a.empty",
            "params.l",
            "['a', 'b']",
            "[1, 2.5]",
            "[]",
            "[0] + facts.a.ints",
            "facts.a.ints + [0]",
            "['x'] + ['y']",
        ]),
        (
            pick(&[
                "facts.a.ints",
                "facts.a.objs",
                "facts.a.list",
                "facts.a.map",
                "params.l"
            ]),
            pick(&["filter", "map"]),
            pick(&[
                "x", "x.k", "x.s", "has(x.k)", "x > 1", "x == 'x'", "x.k > 1"
            ])
        )
            .prop_map(|(r, m, body)| format!("{r}.{m}(x, {body})")),
    ]
    .boxed()
}

fn boolean_leaf() -> BoxedStrategy<String> {
    pick(&[
        "facts.a.t",
        "facts.a.f",
        "has(facts.a.s)",
        "has(facts.a.missing)",
        "true",
        "false",
        "facts.a.n",
    ])
}

fn boolean() -> BoxedStrategy<String> {
    let cmp = pick(&["==", "!=", "<", "<=", ">", ">="]);
    prop_oneof![
        boolean_leaf(),
        (number(), cmp.clone(), number()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (string(), cmp.clone(), string()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (time(), cmp.clone(), time()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (duration(), cmp.clone(), duration()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (list(), pick(&["==", "!="]), list()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (number(), pick(&["==", "!="]), string()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
        (
            string(),
            pick(&["startsWith", "endsWith", "contains"]),
            string()
        )
            .prop_map(|(a, f, b)| format!("{a}.{f}({b})")),
        (prop_oneof![string(), number()], list()).prop_map(|(a, l)| format!("{a} in {l}")),
        string().prop_map(|a| format!("{a} in facts.a.map")),
        (
            pick(&[
                "facts.a.ints",
                "facts.a.objs",
                "facts.a.list",
                "facts.a.map",
                "params.l",
                "facts.a.empty"
            ]),
            pick(&["exists", "all"]),
            pick(&[
                "x > 1",
                "x == 'x'",
                "x.k > 1",
                "has(x.k)",
                "x in ['a', 1]",
                "x == 2.5"
            ])
        )
            .prop_map(|(r, q, body)| format!("{r}.{q}(x, {body})")),
    ]
    .prop_recursive(3, 24, 2, |b| {
        prop_oneof![
            (b.clone(), pick(&["&&", "||"]), b.clone())
                .prop_map(|(a, op, c)| format!("({a} {op} {c})")),
            b.clone().prop_map(|a| format!("!({a})")),
            (b.clone(), b.clone(), b).prop_map(|(c, x, y)| format!("({c} ? {x} : {y})")),
        ]
    })
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn generated_expressions_agree(source in expression()) {
        let env = environment();
        // Some generated text is not valid CEL (e.g. `has()` of a literal): skip it.
        prop_assume!(compile(&env, &source).is_ok());
        if let Err(e) = agree(&source) {
            prop_assert!(false, "{}", e);
        }
    }

    #[test]
    fn generated_typed_expressions_agree(source in prop_oneof![boolean(), number(), list(), time(), duration(), string(), map_literal()]) {
        let env = environment();
        prop_assume!(compile(&env, &source).is_ok());
        if let Err(e) = agree(&source) {
            prop_assert!(false, "{}", e);
        }
    }
}
