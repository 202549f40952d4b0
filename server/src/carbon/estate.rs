//! Estate aggregation: totals on-premises and per scenario, and the migration (or
//! retirement) candidates ranked by carbon saved. Pure: it only adds up results.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::carbon::Readiness;
use crate::carbon::config::ScenarioKind;
use crate::carbon::data::Provider;
use crate::carbon::factor::Text;
use crate::carbon::result::{HostEstimate, OnPremMethod, ScenarioResult};

/// Sums over hosts, per year.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Hosts counted.
    pub hosts: usize,
    /// Sum of average power, watts.
    pub power_watts: f64,
    /// kWh/yr.
    pub energy_kwh_per_year: f64,
    /// Location-based, kgCO2e/yr.
    pub location_kgco2e_per_year: f64,
    /// Market-based, kgCO2e/yr.
    pub market_kgco2e_per_year: f64,
    /// Embodied, kgCO2e/yr.
    pub embodied_kgco2e_per_year: f64,
    /// Location-based plus embodied at the low end, kgCO2e/yr.
    pub low: f64,
    /// Location-based plus embodied at the high end, kgCO2e/yr.
    pub high: f64,
}

/// One scenario across the estate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioTotals {
    /// Scenario name.
    pub name: Text,
    /// Cloud or retire.
    pub kind: ScenarioKind,
    /// Provider (cloud).
    pub provider: Option<Provider>,
    /// Region (cloud).
    pub region: Option<Text>,
    /// The scenario's figures, over the hosts placed (or retired).
    pub totals: Totals,
    /// The same hosts on-premises, location-based plus embodied, kgCO2e/yr.
    pub onprem_kgco2e_per_year: f64,
    /// On-premises minus scenario, kgCO2e/yr.
    pub saved_kgco2e_per_year: f64,
    /// Hosts the scenario selected but no instance fits.
    pub unplaced_hosts: usize,
    /// Hosts placed (or retired), by readiness.
    pub readiness: ReadinessCounts,
    /// Hosts placed (or retired), by confidence stars (`"1"` to `"5"`, all present).
    pub confidence: BTreeMap<u8, usize>,
    /// Hosts placed (or retired) by readiness and confidence together, the non-zero
    /// pairs, by readiness then stars.
    pub by_readiness_and_confidence: Vec<PlacedCount>,
}

impl ScenarioTotals {
    /// A scenario's totals before any host is added.
    pub fn empty(
        name: Text,
        kind: ScenarioKind,
        provider: Option<Provider>,
        region: Option<Text>,
    ) -> ScenarioTotals {
        ScenarioTotals {
            name,
            kind,
            provider,
            region,
            totals: Totals::default(),
            onprem_kgco2e_per_year: 0.0,
            saved_kgco2e_per_year: 0.0,
            unplaced_hosts: 0,
            readiness: ReadinessCounts::default(),
            confidence: (1..=5).map(|n| (n, 0)).collect(),
            by_readiness_and_confidence: Vec::new(),
        }
    }

    /// Hosts placed (or retired) with this readiness and confidence.
    pub fn placed(&self, readiness: Readiness, confidence: u8) -> usize {
        self.by_readiness_and_confidence
            .iter()
            .find(|p| p.readiness == readiness && p.confidence == confidence)
            .map_or(0, |p| p.hosts)
    }
}

impl EstateSummary {
    /// The summary over the scenarios configured now (`configured`, empty totals from
    /// [`crate::carbon::Estimator::empty_totals`]), in their order: a scenario no host
    /// has yet shows zeros, and one no longer configured (in estimates stored before a
    /// reload, until they are rewritten) is left out, with its candidates.
    pub fn for_scenarios(mut self, configured: Vec<ScenarioTotals>) -> EstateSummary {
        let mut found = std::mem::take(&mut self.scenarios);
        self.scenarios = configured
            .into_iter()
            .map(
                |empty| match found.iter().position(|t| t.name == empty.name) {
                    Some(i) => found.swap_remove(i),
                    None => empty,
                },
            )
            .collect();
        let names: Vec<&Text> = self.scenarios.iter().map(|t| &t.name).collect();
        self.candidates.retain(|c| names.contains(&&c.scenario));
        self
    }
}

/// How many placed hosts have one readiness and one confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlacedCount {
    /// The readiness.
    pub readiness: Readiness,
    /// The confidence, stars 1-5.
    pub confidence: u8,
    /// Hosts.
    pub hosts: usize,
}

/// Every readiness, in the order counts are listed.
pub const READINESS_ORDER: [Readiness; 4] = [
    Readiness::Ready,
    Readiness::ConditionallyReady,
    Readiness::NotReady,
    Readiness::Unknown,
];

fn readiness_index(r: Readiness) -> usize {
    match r {
        Readiness::Ready => 0,
        Readiness::ConditionallyReady => 1,
        Readiness::NotReady => 2,
        Readiness::Unknown => 3,
    }
}

/// Stars clamped to 1-5 (a result's confidence is always in range; this keeps a
/// malformed stored one from being lost from the counts).
fn stars(confidence: u8) -> u8 {
    confidence.clamp(1, 5)
}

/// A host worth moving or retiring.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// The host.
    pub host_id: String,
    /// The scenario.
    pub scenario: Text,
    /// The instance chosen (cloud).
    pub instance: Option<Text>,
    /// Carbon saved, kgCO2e/yr.
    pub saved_kgco2e_per_year: f64,
    /// Readiness.
    pub readiness: Readiness,
    /// Confidence, stars.
    pub confidence: u8,
}

/// The estate's carbon view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstateSummary {
    /// On-premises today, every estimated host (containers are not counted).
    pub onprem: Totals,
    /// Per scenario, in the order first seen.
    pub scenarios: Vec<ScenarioTotals>,
    /// Candidates with a positive saving, largest first (each host once per scenario).
    pub candidates: Vec<Candidate>,
}

/// Adds one host: [watts, kWh, location, market, embodied, low, high].
fn add(t: &mut Totals, [w, kwh, loc, market, emb, low, high]: [f64; 7]) {
    t.hosts += 1;
    t.power_watts += w;
    t.energy_kwh_per_year += kwh;
    t.location_kgco2e_per_year += loc;
    t.market_kgco2e_per_year += market;
    t.embodied_kgco2e_per_year += emb;
    t.low += low;
    t.high += high;
}

/// Hosts by readiness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReadinessCounts {
    /// Ready.
    pub ready: usize,
    /// Conditionally ready.
    pub conditionally_ready: usize,
    /// Not ready.
    pub not_ready: usize,
    /// Unknown.
    pub unknown: usize,
}

impl ReadinessCounts {
    fn add(&mut self, r: Readiness) {
        match r {
            Readiness::Ready => self.ready += 1,
            Readiness::ConditionallyReady => self.conditionally_ready += 1,
            Readiness::NotReady => self.not_ready += 1,
            Readiness::Unknown => self.unknown += 1,
        }
    }
}

type Ranked<'a> = (f64, &'a HostEstimate, &'a ScenarioResult);

fn rank_order(a: &Ranked<'_>, b: &Ranked<'_>) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0)
        .then_with(|| a.1.host_id.cmp(&b.1.host_id))
        .then_with(|| a.2.name.cmp(&b.2.name))
}

/// Adds up host estimates; keeps the `max_candidates` largest savings (all when `None`).
pub fn summarise<'a>(
    estimates: impl IntoIterator<Item = &'a HostEstimate>,
    max_candidates: Option<usize>,
) -> EstateSummary {
    let mut onprem = Totals::default();
    let mut scenarios: Vec<ScenarioTotals> = Vec::new();
    // Per scenario (same index): hosts by readiness x stars.
    let mut matrix: Vec<[[usize; 5]; 4]> = Vec::new();
    // Candidates are ranked by reference and materialised only when kept.
    let mut ranked: Vec<Ranked<'a>> = Vec::new();
    for e in estimates {
        let o = &e.onprem;
        if o.method != OnPremMethod::NotEstimated {
            add(
                &mut onprem,
                [
                    o.power_watts,
                    o.energy_kwh_per_year,
                    o.location_kgco2e_per_year,
                    o.market_kgco2e_per_year,
                    o.embodied_kgco2e_per_year,
                    o.low,
                    o.high,
                ],
            );
        }
        for s in &e.scenarios {
            let i = match scenarios.iter().position(|t| t.name == s.name) {
                Some(i) => i,
                None => {
                    scenarios.push(ScenarioTotals::empty(
                        s.name.clone(),
                        s.kind,
                        s.provider,
                        s.region.clone(),
                    ));
                    matrix.push([[0; 5]; 4]);
                    scenarios.len() - 1
                }
            };
            let Some(t) = scenarios.get_mut(i) else {
                continue;
            };
            if s.kind == ScenarioKind::Cloud && s.instance.is_none() {
                t.unplaced_hosts += 1;
                continue;
            }
            add(
                &mut t.totals,
                [
                    s.power_watts,
                    s.energy_kwh_per_year,
                    s.location_kgco2e_per_year,
                    s.market_kgco2e_per_year,
                    s.embodied_kgco2e_per_year,
                    s.low,
                    s.high,
                ],
            );
            t.onprem_kgco2e_per_year += o.total_kgco2e_per_year();
            t.saved_kgco2e_per_year += s.saved_kgco2e_per_year;
            t.readiness.add(s.readiness);
            let n = stars(s.confidence);
            *t.confidence.entry(n).or_default() += 1;
            if let Some(m) = matrix.get_mut(i) {
                m[readiness_index(s.readiness)][usize::from(n - 1)] += 1;
            }
            if s.saved_kgco2e_per_year > 0.0 {
                ranked.push((s.saved_kgco2e_per_year, e, s));
            }
        }
    }
    for (t, m) in scenarios.iter_mut().zip(&matrix) {
        for (ri, r) in READINESS_ORDER.iter().enumerate() {
            for (si, n) in m[ri].iter().enumerate() {
                if *n > 0 {
                    t.by_readiness_and_confidence.push(PlacedCount {
                        readiness: *r,
                        confidence: (si + 1) as u8,
                        hosts: *n,
                    });
                }
            }
        }
    }
    EstateSummary {
        onprem,
        scenarios,
        candidates: keep_best(ranked, max_candidates),
    }
}

/// The `max` best of `ranked` (all when `None`), best first, as candidates.
fn keep_best(mut ranked: Vec<Ranked<'_>>, max: Option<usize>) -> Vec<Candidate> {
    if let Some(n) = max
        && n < ranked.len()
    {
        if n > 0 {
            ranked.select_nth_unstable_by(n - 1, rank_order);
        }
        ranked.truncate(n);
    }
    ranked.sort_by(rank_order);
    ranked
        .into_iter()
        .map(|(_, e, s)| Candidate {
            host_id: e.host_id.clone(),
            scenario: s.name.clone(),
            instance: s.instance.clone(),
            saved_kgco2e_per_year: s.saved_kgco2e_per_year,
            readiness: s.readiness,
            confidence: s.confidence,
        })
        .collect()
}

/// Candidates of one scenario (every scenario when `None`): (host, scenario) pairs
/// with a positive saving, largest first (ties by host, then scenario), at most `max`
/// of them (all when `None`); and how many there are in all.
pub fn candidates<'a>(
    estimates: impl IntoIterator<Item = &'a HostEstimate>,
    scenario: Option<&str>,
    max: Option<usize>,
) -> (usize, Vec<Candidate>) {
    let mut ranked: Vec<Ranked<'a>> = Vec::new();
    for e in estimates {
        for s in &e.scenarios {
            let placed = !(s.kind == ScenarioKind::Cloud && s.instance.is_none());
            if placed
                && s.saved_kgco2e_per_year > 0.0
                && scenario.is_none_or(|name| s.name.as_str() == name)
            {
                ranked.push((s.saved_kgco2e_per_year, e, s));
            }
        }
    }
    let total = ranked.len();
    (total, keep_best(ranked, max))
}
