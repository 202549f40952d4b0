//! The CPU table (`cpu-power.toml`) and brand-string matching: a brand string such as
//! `Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz` is normalised to tokens, matched to a model
//! of the table (exact), else to a family rule (the microarchitecture only), else not at
//! all (fallback). The match says which and how sure it is.

use std::collections::{BTreeSet, HashMap};

use estate_agent::config::located::Issues;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::method::{Microarch, Microarchs};
use super::raw::{self, RawMeta, RawSources};
use crate::carbon::factor::{Factor, FactorRef, Text};

/// Market segment of a CPU model (what the family TDP-per-core average is taken over).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    /// Data-centre parts.
    Server,
    /// Workstation parts.
    Workstation,
    /// Desktop parts.
    Desktop,
    /// Laptop parts.
    Mobile,
}

/// How sure a CPU match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchConfidence {
    /// The model is in the table: its TDP, cores and microarchitecture are used.
    Exact,
    /// Only the microarchitecture is known (a family rule matched): its per-vCPU watts
    /// and the mean TDP per core of the table's models of that microarchitecture.
    Family,
    /// Nothing matched: generic per-vCPU watts and the archetype's TDP per core.
    Fallback,
}

/// One CPU model.
#[derive(Debug, Clone)]
pub struct CpuRow {
    /// Display name, e.g. `Xeon Gold 6230`.
    pub model: Text,
    tokens: Vec<String>,
    version: Option<String>,
    /// Segment.
    pub segment: Segment,
    /// Index into [`Microarchs`].
    pub microarch: usize,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per socket.
    pub threads: u32,
    /// TDP per socket, watts.
    pub tdp_watts: FactorRef,
}

#[derive(Debug, Clone)]
struct FamilyRule {
    /// Per position, the alternatives.
    patterns: Vec<Vec<String>>,
    microarch: usize,
    segment: Segment,
}

/// The CPU table.
#[derive(Debug, Clone, Default)]
pub struct CpuTable {
    /// Rows in file order.
    pub rows: Vec<CpuRow>,
    by_number: HashMap<String, Vec<usize>>,
    family: Vec<FamilyRule>,
    /// Mean TDP per core of the rows of one (microarchitecture, segment), and of one
    /// microarchitecture over all segments.
    family_tdp: HashMap<(usize, Option<Segment>), FactorRef>,
}

/// The result of matching a brand string.
#[derive(Debug, Clone, Copy)]
pub struct CpuMatch<'a> {
    /// How sure.
    pub confidence: MatchConfidence,
    /// The model, for an exact match.
    pub row: Option<&'a CpuRow>,
    /// The microarchitecture, for an exact or family match.
    pub microarch: Option<&'a Microarch>,
    /// Mean TDP per core of the microarchitecture's models (family matches).
    pub family_tdp_watts_per_core: Option<&'a FactorRef>,
}

impl CpuMatch<'_> {
    /// The name matched: the model (exact) or the microarchitecture (family).
    pub fn matched(&self) -> Option<&Text> {
        match (self.row, self.microarch) {
            (Some(r), _) => Some(&r.model),
            (None, Some(m)) => Some(&m.name),
            _ => None,
        }
    }
}

const NOISE: [&str; 8] = [
    "intel",
    "amd",
    "cpu",
    "processor",
    "gen",
    "with",
    "radeon",
    "graphics",
];

fn is_ordinal(t: &str) -> bool {
    let digits = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &t[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(suffix, "st" | "nd" | "rd" | "th")
}

fn is_version(t: &str) -> bool {
    t.len() >= 2 && t.starts_with('v') && t[1..].bytes().all(|b| b.is_ascii_digit())
}

/// Lower-cases a brand string and drops the marks and the clock.
fn lower(brand: &str) -> String {
    let mut s = brand.to_lowercase();
    for noise in ["(r)", "(tm)", "(c)", "®", "™"] {
        if s.contains(noise) {
            s = s.replace(noise, " ");
        }
    }
    if let Some(at) = s.find('@') {
        s.truncate(at);
    }
    s
}

/// The tokens of a lower-cased string, noise dropped.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|t| !t.is_empty() && !NOISE.contains(t) && !t.ends_with("-core") && !is_ordinal(t))
}

/// Normalises a brand string or model name to lower-case tokens (see `cpu-power.toml`).
pub(crate) fn normalise(brand: &str) -> Vec<String> {
    tokens(&lower(brand)).map(str::to_owned).collect()
}

/// The token a row is indexed by: its longest token holding a digit, versions aside.
fn number_token(tokens: &[String]) -> Option<&String> {
    tokens
        .iter()
        .filter(|t| !is_version(t) && t.bytes().any(|b| b.is_ascii_digit()))
        .max_by_key(|t| t.len())
}

/// Glob on one token: `?` one character, `*` any run.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

impl FamilyRule {
    fn matches(&self, tokens: &[&str]) -> bool {
        let mut from = 0;
        for alternatives in &self.patterns {
            let hit = tokens.iter().enumerate().skip(from).find(|(_, t)| {
                alternatives
                    .iter()
                    .any(|a| glob(a.as_bytes(), t.as_bytes()))
            });
            match hit {
                Some((i, _)) => from = i + 1,
                None => return false,
            }
        }
        true
    }
}

impl CpuTable {
    /// Matches a brand string: exact, else family, else fallback.
    pub fn match_brand<'a>(&'a self, brand: &str, microarchs: &'a Microarchs) -> CpuMatch<'a> {
        let lower = lower(brand);
        let tokens: Vec<&str> = tokens(&lower).collect();
        let version = tokens.iter().find(|t| is_version(t)).copied();
        let mut best: Option<&CpuRow> = None;
        for t in tokens
            .iter()
            .filter(|t| t.bytes().any(|b| b.is_ascii_digit()))
        {
            for &i in self.by_number.get(*t).into_iter().flatten() {
                let Some(row) = self.rows.get(i) else {
                    continue;
                };
                let fits = row.version.as_deref() == version
                    && row.tokens.iter().all(|rt| tokens.contains(&rt.as_str()));
                if fits && best.is_none_or(|b| row.tokens.len() > b.tokens.len()) {
                    best = Some(row);
                }
            }
        }
        if let Some(row) = best {
            return CpuMatch {
                confidence: MatchConfidence::Exact,
                row: Some(row),
                microarch: microarchs.get(row.microarch),
                family_tdp_watts_per_core: None,
            };
        }
        if let Some(rule) = self.family.iter().find(|r| r.matches(&tokens)) {
            let tdp = self
                .family_tdp
                .get(&(rule.microarch, Some(rule.segment)))
                .or_else(|| self.family_tdp.get(&(rule.microarch, None)));
            return CpuMatch {
                confidence: MatchConfidence::Family,
                row: None,
                microarch: microarchs.get(rule.microarch),
                family_tdp_watts_per_core: tdp,
            };
        }
        CpuMatch {
            confidence: MatchConfidence::Fallback,
            row: None,
            microarch: None,
            family_tdp_watts_per_core: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCpus {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    family: Vec<Spanned<RawFamily>>,
    #[serde(default)]
    cpu: Vec<Spanned<RawCpu>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFamily {
    tokens: Vec<String>,
    microarchitecture: Spanned<String>,
    segment: Segment,
    source: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCpu {
    model: String,
    #[allow(dead_code)]
    vendor: String,
    segment: Segment,
    microarchitecture: Spanned<String>,
    cores: u32,
    threads: u32,
    tdp_watts: Spanned<f64>,
    source: Spanned<String>,
    uarch_source: Spanned<String>,
}

fn microarch_index(
    name: &Spanned<String>,
    known: Option<&BTreeSet<String>>,
    microarchs: Option<&Microarchs>,
    key: &str,
    issues: &mut Issues<'_>,
) -> Option<usize> {
    let index = microarchs.and_then(|m| m.index(name.get_ref()));
    if index.is_none() && known.is_some() {
        issues.at(
            name.span(),
            key,
            format!(
                "microarchitecture `{}` is not in microarchitectures.toml",
                name.get_ref()
            ),
        );
    }
    index
}

pub(super) fn validate(
    raw: RawCpus,
    issues: &mut Issues<'_>,
    known: Option<&BTreeSet<String>>,
    microarchs: Option<&Microarchs>,
) -> CpuTable {
    let _ = raw.meta;
    let mut table = CpuTable::default();
    let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
    for (i, c) in raw.cpu.iter().enumerate() {
        let span = c.span();
        let c = c.get_ref();
        let key = format!("cpu[{i}] ({})", c.model);
        let tokens = normalise(&c.model);
        if seen.insert(tokens.clone(), i).is_some() {
            issues.at(span.clone(), &key, "this model is listed twice");
            continue;
        }
        if number_token(&tokens).is_none() {
            issues.at(span.clone(), &key, "a model needs a model number");
            continue;
        }
        if c.cores == 0 || c.threads < c.cores {
            issues.at(
                span.clone(),
                &key,
                "cores must be >= 1 and threads >= cores",
            );
        }
        let ok = raw::non_negative(&c.tdp_watts, &format!("{key}.tdp_watts"), issues);
        let src = raw::source(&raw.sources, &c.source, &format!("{key}.source"), issues);
        let _ = raw::source(
            &raw.sources,
            &c.uarch_source,
            &format!("{key}.uarch_source"),
            issues,
        );
        let uarch = microarch_index(
            &c.microarchitecture,
            known,
            microarchs,
            &format!("{key}.microarchitecture"),
            issues,
        );
        let (Some(src), Some(uarch), true) = (src, uarch, ok) else {
            continue;
        };
        let version = tokens.iter().find(|t| is_version(t)).cloned();
        let row = CpuRow {
            model: Text::new(&c.model),
            version,
            segment: c.segment,
            microarch: uarch,
            cores: c.cores,
            threads: c.threads,
            tdp_watts: raw::factor(
                format!("cpu_tdp_watts:{}", c.model),
                *c.tdp_watts.get_ref(),
                "W per socket",
                &src,
            ),
            tokens,
        };
        if let Some(n) = number_token(&row.tokens) {
            table
                .by_number
                .entry(n.clone())
                .or_default()
                .push(table.rows.len());
        }
        table.rows.push(row);
    }
    for (i, f) in raw.family.iter().enumerate() {
        let f = f.get_ref();
        let key = format!("family[{i}]");
        let _ = raw::source(&raw.sources, &f.source, &format!("{key}.source"), issues);
        if f.tokens.is_empty() {
            issues.at(
                f.microarchitecture.span(),
                &format!("{key}.tokens"),
                "needs at least one token",
            );
            continue;
        }
        if let Some(uarch) = microarch_index(
            &f.microarchitecture,
            known,
            microarchs,
            &format!("{key}.microarchitecture"),
            issues,
        ) {
            table.family.push(FamilyRule {
                patterns: f
                    .tokens
                    .iter()
                    .map(|t| t.to_lowercase().split('|').map(str::to_owned).collect())
                    .collect(),
                microarch: uarch,
                segment: f.segment,
            });
        }
    }
    // Mean TDP per core by (microarchitecture, segment) and by microarchitecture.
    let mut sums: HashMap<(usize, Option<Segment>), (f64, u32)> = HashMap::new();
    for r in &table.rows {
        let per_core = r.tdp_watts.v() / f64::from(r.cores.max(1));
        for k in [(r.microarch, Some(r.segment)), (r.microarch, None)] {
            let e = sums.entry(k).or_insert((0.0, 0));
            e.0 += per_core;
            e.1 += 1;
        }
    }
    for ((uarch, segment), (sum, n)) in sums {
        let name = microarchs
            .and_then(|m| m.get(uarch))
            .map_or_else(String::new, |m| m.name.to_string());
        let seg = segment.map_or_else(|| "all".to_owned(), |s| format!("{s:?}").to_lowercase());
        table.family_tdp.insert(
            (uarch, segment),
            FactorRef::new(Factor {
                name: format!("family_tdp_watts_per_core:{name}/{seg}"),
                value: sum / f64::from(n),
                unit: "W/core".to_owned(),
                source: format!(
                    "mean TDP per core of the {n} {name} ({seg}) models in cpu-power.toml"
                ),
                version: "cpu-power.toml".to_owned(),
            }),
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_drops_marks_clock_and_noise() {
        assert_eq!(
            normalise("Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz"),
            ["xeon", "gold", "6230"]
        );
        assert_eq!(
            normalise("13th Gen Intel(R) Core(TM) i5-1335U"),
            ["core", "i5-1335u"]
        );
        assert_eq!(
            normalise("AMD EPYC 7763 64-Core Processor"),
            ["epyc", "7763"]
        );
        assert_eq!(
            normalise("Intel Xeon Processor (Cascadelake)"),
            ["xeon", "cascadelake"]
        );
    }

    #[test]
    fn glob_handles_question_mark_and_star() {
        assert!(glob(b"?2*", b"6230r"));
        assert!(!glob(b"?2*", b"6130"));
        assert!(glob(b"i?-10??g*", b"i5-1035g1"));
        assert!(!glob(b"i?-10??g*", b"i5-10210u"));
        assert!(glob(b"7??3*", b"7r13"));
    }
}
