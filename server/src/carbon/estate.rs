//! Estate aggregation: totals on-premises and per scenario, and the migration (or
//! retirement) candidates ranked by carbon saved. Pure: it only adds up results.

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
                    scenarios.push(ScenarioTotals {
                        name: s.name.clone(),
                        kind: s.kind,
                        provider: s.provider,
                        region: s.region.clone(),
                        totals: Totals::default(),
                        onprem_kgco2e_per_year: 0.0,
                        saved_kgco2e_per_year: 0.0,
                        unplaced_hosts: 0,
                        readiness: ReadinessCounts::default(),
                    });
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
            if s.saved_kgco2e_per_year > 0.0 {
                ranked.push((s.saved_kgco2e_per_year, e, s));
            }
        }
    }
    if let Some(n) = max_candidates
        && n < ranked.len()
    {
        if n > 0 {
            ranked.select_nth_unstable_by(n - 1, rank_order);
        }
        ranked.truncate(n);
    }
    ranked.sort_by(rank_order);
    let candidates = ranked
        .into_iter()
        .map(|(_, e, s)| Candidate {
            host_id: e.host_id.clone(),
            scenario: s.name.clone(),
            instance: s.instance.clone(),
            saved_kgco2e_per_year: s.saved_kgco2e_per_year,
            readiness: s.readiness,
            confidence: s.confidence,
        })
        .collect();
    EstateSummary {
        onprem,
        scenarios,
        candidates,
    }
}
