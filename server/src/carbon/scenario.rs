//! Scenarios: a cloud move (right-size to an instance, then the provider's coefficients,
//! PUE and the region's grid) or the retirement of under-utilised servers. Compiled once
//! per scenario ([`Compiled::new`]): the candidate instances are sorted and their
//! coefficients and embodied share precomputed, so a host costs one scan.

use crate::carbon::config::{ScenarioConfig, ScenarioKind, Sizing};
use crate::carbon::data::{CarbonData, Grid, Provider, ReadinessCondition};
use crate::carbon::estate::ScenarioTotals;
use crate::carbon::factor::{End, FactorRef, Factors, Param, Text};
use crate::carbon::input::HostInput;
use crate::carbon::model::{
    Estimator, Resolved, WhatIf, config_factor, embodied_factors, server_embodied_kg,
};
use crate::carbon::result::{Note, OnPrem, ScenarioResult};

/// One candidate instance with what the estimate needs precomputed.
#[derive(Debug, Clone)]
struct Candidate {
    name: Text,
    vcpus: u32,
    memory_gib: f64,
    min: f64,
    max: f64,
    /// Factors behind `min`, `max` and the embodied share.
    factors: Vec<FactorRef>,
    /// Platform embodied carbon per platform vCPU, kgCO2e.
    te_per_vcpu_kg: f64,
}

#[derive(Debug, Clone)]
struct Cloud {
    provider: Provider,
    region: Text,
    pue: FactorRef,
    grid: FactorRef,
    market: FactorRef,
    market_basis: Text,
    replication: FactorRef,
    /// Sorted by vCPUs, then memory, then name.
    candidates: Vec<Candidate>,
}

/// A scenario compiled against the data.
#[derive(Debug, Clone)]
pub(crate) struct Compiled {
    pub name: Text,
    kind: ScenarioKind,
    sizing: Sizing,
    selector: Vec<(String, String)>,
    comfort: FactorRef,
    percentile: FactorRef,
    retire_below: FactorRef,
    cloud: Option<Cloud>,
}

/// Stars from coverage (percent) and the method's bands.
fn stars(data: &CarbonData, coverage_percent: f64) -> u8 {
    data.method
        .confidence
        .iter()
        .find(|(max, _)| coverage_percent <= *max + 1e-9)
        .map_or(1, |(_, s)| *s)
}

impl Compiled {
    /// Compiles a scenario; `None` when it refers to data that is not there (which
    /// [`crate::carbon::CarbonConfig::problems`] reports).
    pub fn new(s: &ScenarioConfig, data: &CarbonData, uk: &FactorRef) -> Option<Compiled> {
        let m = &data.method;
        let key = format!("carbon.scenarios \"{}\"", s.name);
        let setting = |v: Option<f64>, p: &Param, name: &str, unit: &str| match v {
            Some(x) => config_factor(format!("{name}:{}", s.name), x, unit, &key),
            None => p.factor.clone(),
        };
        let comfort = setting(
            s.comfort_factor,
            &m.comfort_factor,
            "comfort_factor",
            "ratio",
        );
        let percentile = setting(
            s.percentile,
            &m.sizing_percentile,
            "sizing_percentile",
            "percentile",
        );
        let retire_below = setting(
            s.retire_cpu_p95_below,
            &m.retire_cpu_p95_below_ratio,
            "retire_cpu_p95_below_ratio",
            "ratio",
        );
        let cloud = match s.kind {
            ScenarioKind::Retire => None,
            ScenarioKind::Cloud => {
                let provider = s.provider?;
                let region = data.region(provider, s.region.as_deref()?)?;
                let cat = data.cloud(provider)?;
                let grid = match &region.grid {
                    Grid::Uk => uk.clone(),
                    Grid::Factor(f) => f.clone(),
                };
                let pue = region.pue.clone().unwrap_or_else(|| cat.pue.factor.clone());
                let market = setting(
                    s.market_kgco2e_per_kwh,
                    &cat.market_kgco2e_per_kwh,
                    "market_kgco2e_per_kwh",
                    "kgCO2e/kWh",
                );
                let market_basis = if s.market_kgco2e_per_kwh.is_some() {
                    Text::new("configured in server.toml for this scenario")
                } else {
                    cat.market_basis.clone()
                };
                let mut candidates: Vec<Candidate> = cat
                    .instances
                    .iter()
                    .filter(|i| s.families.iter().any(|f| f.as_str() == i.family.as_str()))
                    .filter_map(|i| {
                        let p = cat.platforms.get(i.platform)?;
                        let mut factors = vec![p.factor.clone()];
                        let coeffs: Vec<&(FactorRef, FactorRef)> = p
                            .microarchs
                            .iter()
                            .filter_map(|u| data.microarchs.get(*u)?.coefficients.as_ref())
                            .collect();
                        let (min, max) = if coeffs.is_empty() {
                            factors.push(cat.min_watts_per_vcpu.factor.clone());
                            factors.push(cat.max_watts_per_vcpu.factor.clone());
                            (
                                cat.min_watts_per_vcpu.factor.v(),
                                cat.max_watts_per_vcpu.factor.v(),
                            )
                        } else {
                            let n = coeffs.len() as f64;
                            for (a, b) in &coeffs {
                                factors.push(a.clone());
                                factors.push(b.clone());
                            }
                            (
                                coeffs.iter().map(|(a, _)| a.v()).sum::<f64>() / n,
                                coeffs.iter().map(|(_, b)| b.v()).sum::<f64>() / n,
                            )
                        };
                        factors.extend(embodied_factors(m).into_iter().cloned());
                        let te =
                            server_embodied_kg(m, p.memory_gib, p.sockets, p.hdds, p.ssds, p.gpus);
                        Some(Candidate {
                            name: i.name.clone(),
                            vcpus: i.vcpus,
                            memory_gib: i.memory_gib,
                            min,
                            max,
                            factors,
                            te_per_vcpu_kg: te / p.vcpus.max(1.0),
                        })
                    })
                    .collect();
                candidates.sort_by(|a, b| {
                    a.vcpus
                        .cmp(&b.vcpus)
                        .then(a.memory_gib.total_cmp(&b.memory_gib))
                        .then(a.name.cmp(&b.name))
                });
                Some(Cloud {
                    provider,
                    region: region.name.clone(),
                    pue,
                    grid,
                    market,
                    market_basis,
                    replication: cat.block_storage_replication.factor.clone(),
                    candidates,
                })
            }
        };
        if s.kind == ScenarioKind::Cloud && cloud.is_none() {
            return None;
        }
        Some(Compiled {
            name: Text::new(&s.name),
            kind: s.kind,
            sizing: s.sizing,
            selector: s
                .hosts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            comfort,
            percentile,
            retire_below,
            cloud,
        })
    }

    /// The scenario's estate totals before any host is added.
    pub fn empty_totals(&self) -> ScenarioTotals {
        ScenarioTotals::empty(
            self.name.clone(),
            self.kind,
            self.cloud.as_ref().map(|c| c.provider),
            self.cloud.as_ref().map(|c| c.region.clone()),
        )
    }

    fn selects(&self, host: &HostInput) -> bool {
        self.selector
            .iter()
            .all(|(k, v)| host.labels.get(k).is_some_and(|h| h == v))
    }

    /// The scenario's result for one host, or `None` when it does not apply.
    pub fn evaluate(
        &self,
        est: &Estimator,
        host: &HostInput,
        r: &Resolved<'_>,
        onprem: &OnPrem,
        what_if: &WhatIf,
        f: &mut Factors,
    ) -> Option<ScenarioResult> {
        if !self.selects(host) {
            return None;
        }
        let data = &*est.data;
        let util = host.utilisation.as_ref();
        let q = self.percentile.v();
        let clean = |v: Option<f64>| v.filter(|x| x.is_finite()).map(|x| x.clamp(0.0, 1.0));
        let cpu_q = clean(what_if.cpu_p95_ratio)
            .or_else(|| util.and_then(|u| u.cpu.as_ref()).and_then(|d| d.at(q)));
        let mem_q = clean(what_if.memory_p95_ratio)
            .or_else(|| util.and_then(|u| u.memory.as_ref()).and_then(|d| d.at(q)));
        let coverage = util.map_or(0.0, |u| u.coverage_ratio() * 100.0);
        let confidence = stars(data, coverage);
        let onprem_total = onprem.total_kgco2e_per_year();

        let Some(cloud) = &self.cloud else {
            // Retire: applies when the CPU at the percentile is known and below threshold.
            let p = cpu_q?;
            if p >= self.retire_below.v() {
                return None;
            }
            f.push(&self.percentile);
            f.push(&self.retire_below);
            return Some(ScenarioResult {
                name: self.name.clone(),
                kind: self.kind,
                provider: None,
                region: None,
                instance: None,
                vcpus: 0,
                memory_gib: 0.0,
                min_watts_per_vcpu: 0.0,
                max_watts_per_vcpu: 0.0,
                power_watts: 0.0,
                energy_kwh_per_year: 0.0,
                location_kgco2e_per_year: 0.0,
                embodied_kgco2e_per_year: 0.0,
                readiness: host.readiness,
                confidence,
                market_kgco2e_per_year: 0.0,
                market_basis: None,
                low: 0.0,
                high: 0.0,
                saved_kgco2e_per_year: onprem_total,
                sizing: None,
                notes: Vec::new(),
            });
        };

        let m = &data.method;
        let mut notes = Vec::new();
        let (need_v, need_m) = match self.sizing {
            Sizing::AsOnprem => (r.logical_cpus, r.memory_gib),
            Sizing::Performance => {
                f.push(&self.comfort);
                f.push(&self.percentile);
                let c = self.comfort.v();
                let v = match cpu_q {
                    Some(p) => ((r.logical_cpus * p * c) - 1e-9).ceil().max(1.0),
                    None => {
                        notes.push(Note::CpuSizedAsOnprem);
                        r.logical_cpus
                    }
                };
                let mem = match mem_q {
                    Some(p) => r.memory_gib * p * c,
                    None => {
                        notes.push(Note::MemorySizedAsOnprem);
                        r.memory_gib
                    }
                };
                (v, mem)
            }
        };
        let pick = cloud
            .candidates
            .iter()
            .find(|c| f64::from(c.vcpus) >= need_v && c.memory_gib >= need_m - 1e-9);

        // Readiness: the caller's, made worse by any rule that holds.
        let mut readiness = host.readiness;
        let mut rule = |cond: ReadinessCondition, holds: bool| {
            if holds && let Some(out) = data.readiness_for(cond) {
                readiness = readiness.worst(out);
            }
        };
        rule(ReadinessCondition::NoInstanceFits, pick.is_none());
        rule(ReadinessCondition::HasGpu, !r.gpus.is_empty());
        rule(
            ReadinessCondition::NoUtilisation,
            util.and_then(|u| u.cpu.as_ref()).is_none(),
        );
        for rr in m
            .readiness
            .iter()
            .filter(|rr| rr.condition == ReadinessCondition::LocalStorageOverTb)
        {
            if r.storage_tb > rr.threshold_tb {
                readiness = readiness.worst(rr.outcome);
            }
        }

        let Some(inst) = pick else {
            notes.push(Note::NoInstanceFits);
            return Some(ScenarioResult {
                name: self.name.clone(),
                kind: self.kind,
                provider: Some(cloud.provider),
                region: Some(cloud.region.clone()),
                instance: None,
                vcpus: 0,
                memory_gib: 0.0,
                min_watts_per_vcpu: 0.0,
                max_watts_per_vcpu: 0.0,
                power_watts: 0.0,
                energy_kwh_per_year: 0.0,
                location_kgco2e_per_year: 0.0,
                embodied_kgco2e_per_year: 0.0,
                readiness,
                confidence,
                market_kgco2e_per_year: 0.0,
                market_basis: Some(cloud.market_basis.clone()),
                low: 0.0,
                high: 0.0,
                saved_kgco2e_per_year: 0.0,
                sizing: Some(self.sizing),
                notes,
            });
        };

        f.extend(&inst.factors);
        est.utilisation_factor(r, f);
        for x in [&cloud.pue, &cloud.grid, &cloud.market, &cloud.replication] {
            f.push(x);
        }
        f.push(&m.memory_watts_per_gib.factor);
        f.push(&m.server_hours_per_year.factor);
        if r.storage_tb > 0.0 {
            f.push(&m.ssd_watts_per_tb.factor);
        }
        f.push(&est.lifespan.factor);

        let v = f64::from(inst.vcpus);
        let watts = |end: End| {
            let u = est.utilisation(r, end);
            let uc = (u * r.logical_cpus / v).min(1.0);
            v * (inst.min + uc * (inst.max - inst.min))
                + inst.memory_gib * m.memory_watts_per_gib.at(end)
                + r.storage_tb * m.ssd_watts_per_tb.at(end) * cloud.replication.v()
        };
        let kwh = |w: f64| w * m.server_hours_per_year.factor.v() * cloud.pue.v() / 1000.0;
        let embodied = |end: End| inst.te_per_vcpu_kg * v / est.lifespan.at_inverse(end);
        let w = watts(End::Point);
        let energy = kwh(w);
        let location = energy * cloud.grid.v();
        let emb = embodied(End::Point);
        let total = |end: End| kwh(watts(end)) * cloud.grid.v() + embodied(end);
        Some(ScenarioResult {
            name: self.name.clone(),
            kind: self.kind,
            provider: Some(cloud.provider),
            region: Some(cloud.region.clone()),
            instance: Some(inst.name.clone()),
            vcpus: inst.vcpus,
            memory_gib: inst.memory_gib,
            min_watts_per_vcpu: inst.min,
            max_watts_per_vcpu: inst.max,
            power_watts: w,
            energy_kwh_per_year: energy,
            location_kgco2e_per_year: location,
            embodied_kgco2e_per_year: emb,
            readiness,
            confidence,
            market_kgco2e_per_year: energy * cloud.market.v(),
            market_basis: Some(cloud.market_basis.clone()),
            low: total(End::Low),
            high: total(End::High),
            saved_kgco2e_per_year: onprem_total - (location + emb),
            sizing: Some(self.sizing),
            notes,
        })
    }
}
