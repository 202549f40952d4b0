//! Factors: every number the estimate takes from `config/data/` or `server.toml`, carried
//! with its unit, source and version so that each result can list what produced it.
//!
//! This module owns the factor types and their serialisation; it must not know any
//! formula.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A named value with its unit, source and version, as listed in a result's `factors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    /// Stable name, e.g. `platform_overhead_ratio` or `cpu_tdp_watts:Xeon Gold 6230`.
    pub name: String,
    /// The value, in `unit`.
    pub value: f64,
    /// The unit, e.g. `W/vCPU`, `kgCO2e/kWh`, `ratio`.
    pub unit: String,
    /// Where the value comes from (title and address).
    pub source: String,
    /// Which version of the source.
    pub version: String,
}

/// A shared, immutable [`Factor`]: results point at the factors of the loaded data
/// rather than copying them.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorRef(Arc<Factor>);

impl FactorRef {
    /// Wraps a factor.
    pub fn new(factor: Factor) -> Self {
        FactorRef(Arc::new(factor))
    }

    /// Whether two references point at the same factor.
    pub fn same(&self, other: &FactorRef) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The address of the shared factor: equal for references to the same factor, for
    /// counting uses without comparing their text.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// The factor's value.
    pub fn v(&self) -> f64 {
        self.0.value
    }
}

impl Deref for FactorRef {
    type Target = Factor;
    fn deref(&self) -> &Factor {
        &self.0
    }
}

impl Serialize for FactorRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FactorRef {
    /// A stored result read back: each factor becomes a reference of its own (the sharing
    /// with the loaded data is not restored).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Factor::deserialize(deserializer).map(FactorRef::new)
    }
}

/// A factor with the range the estimate's low and high use (both equal to the value
/// when the data gives no range).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// The point value and its provenance.
    pub factor: FactorRef,
    /// Lowest plausible value.
    pub low: f64,
    /// Highest plausible value.
    pub high: f64,
}

impl Param {
    /// A parameter without a range.
    pub fn fixed(factor: FactorRef) -> Self {
        let v = factor.v();
        Param {
            factor,
            low: v,
            high: v,
        }
    }

    /// The value at one end of the range, or the point value.
    pub fn at(&self, end: End) -> f64 {
        match end {
            End::Point => self.factor.v(),
            End::Low => self.low,
            End::High => self.high,
        }
    }

    /// The value at the end of the range that lowers the result when the result falls as
    /// the parameter rises (a lifespan): `Low` takes `high`, `High` takes `low`.
    pub fn at_inverse(&self, end: End) -> f64 {
        match end {
            End::Point => self.factor.v(),
            End::Low => self.high,
            End::High => self.low,
        }
    }
}

/// Which estimate is being computed: the point value or one end of the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every parameter at its value.
    Point,
    /// Every parameter at the end that lowers the result.
    Low,
    /// Every parameter at the end that raises the result.
    High,
}

/// A shared string, serialised as a plain string (names of scenarios, regions,
/// instances and matched CPU models are shared by every result that uses them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(Arc<str>);

impl Text {
    /// Wraps a string.
    pub fn new(s: &str) -> Self {
        Text(Arc::from(s))
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Text::new(&s))
    }
}

/// The factors one result used, each once, in the order first used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Factors(Vec<FactorRef>);

impl Factors {
    /// An empty list with room for `n` factors.
    pub fn with_capacity(n: usize) -> Self {
        Factors(Vec::with_capacity(n))
    }

    /// Adds a factor unless it is already listed.
    pub fn push(&mut self, factor: &FactorRef) {
        if !self.0.iter().any(|f| f.same(factor)) {
            self.0.push(factor.clone());
        }
    }

    /// Adds several factors.
    pub fn extend<'a>(&mut self, factors: impl IntoIterator<Item = &'a FactorRef>) {
        for f in factors {
            self.push(f);
        }
    }

    /// Replaces each factor for which `with` gives another (the report loader's
    /// placeholders for factors it knew only by name).
    pub fn replace(&mut self, with: impl Fn(&FactorRef) -> Option<FactorRef>) {
        for f in &mut self.0 {
            if let Some(other) = with(f) {
                *f = other;
            }
        }
    }

    /// The factors.
    pub fn iter(&self) -> impl Iterator<Item = &FactorRef> {
        self.0.iter()
    }

    /// The factor with this name, if used.
    pub fn get(&self, name: &str) -> Option<&FactorRef> {
        self.0.iter().find(|f| f.name == name)
    }

    /// How many factors.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
