//! The estimator: the data and settings compiled once ([`Estimator::new`]), then a pure
//! function per host ([`Estimator::estimate`]) for the on-premises figures; scenarios
//! are in [`crate::carbon::scenario`].
//!
//! Formulas are in `docs/methodology.md`; every number comes from [`CarbonData`] or the
//! settings, and every one used is listed in the result's `factors`.

use std::collections::HashMap;
use std::sync::Arc;

use estate_protocol::Chassis;
use serde::{Deserialize, Serialize};

use crate::carbon::config::{CarbonConfig, Problem};
use crate::carbon::data::{Archetype, CarbonData, CpuMatch, GpuClass, MatchConfidence, Method};
use crate::carbon::factor::{End, Factor, FactorRef, Factors, Param};
use crate::carbon::input::{BYTES_PER_TB, HostInput, HostKind, Media};
use crate::carbon::result::{CpuMatchInfo, HostEstimate, Note, OnPrem, OnPremMethod};
use crate::carbon::scenario::Compiled;

/// What-if overrides of the utilisation figures, all ratios 0-1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatIf {
    /// Mean CPU busy ratio (power).
    #[serde(default)]
    pub cpu_mean_ratio: Option<f64>,
    /// CPU at the sizing percentile (right-sizing and retirement).
    #[serde(default)]
    pub cpu_p95_ratio: Option<f64>,
    /// Memory used at the sizing percentile (right-sizing).
    #[serde(default)]
    pub memory_p95_ratio: Option<f64>,
}

fn clean_ratio(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite()).map(|x| x.clamp(0.0, 1.0))
}

/// A site's settings, resolved.
#[derive(Debug, Clone)]
struct Site {
    pue: Option<Param>,
    market: Option<FactorRef>,
}

/// The hypervisor host a VM's embodied share comes from.
#[derive(Debug, Clone)]
pub(crate) struct Hypervisor {
    pub te_kg: f64,
    pub threads: f64,
    pub factors: Vec<FactorRef>,
}

/// The data and settings, compiled for estimating many hosts.
#[derive(Debug, Clone)]
pub struct Estimator {
    pub(crate) data: Arc<CarbonData>,
    pub(crate) grid_year: i32,
    pub(crate) uk: FactorRef,
    pub(crate) lifespan: Param,
    sites: HashMap<String, Site>,
    pub(crate) hypervisor: Hypervisor,
    pub(crate) scenarios: Vec<Compiled>,
}

pub(crate) fn config_factor(name: String, value: f64, unit: &str, key: &str) -> FactorRef {
    FactorRef::new(Factor {
        name,
        value,
        unit: unit.to_owned(),
        source: format!("server.toml [{key}]"),
        version: "collector configuration".to_owned(),
    })
}

/// Total embodied emissions of a server, kgCO2e (`docs/methodology.md`, Embodied).
pub(crate) fn server_embodied_kg(
    m: &Method,
    memory_gib: f64,
    sockets: f64,
    hdds: f64,
    ssds: f64,
    gpus: f64,
) -> f64 {
    m.embodied_base_kgco2e.factor.v()
        + (memory_gib - m.embodied_memory_baseline_gib.factor.v()).max(0.0)
            * m.embodied_memory_kgco2e_per_gib.factor.v()
        + (sockets - 1.0).max(0.0) * m.embodied_extra_socket_kgco2e.factor.v()
        + hdds * m.embodied_hdd_kgco2e.factor.v()
        + ssds * m.embodied_ssd_kgco2e.factor.v()
        + gpus * m.embodied_gpu_kgco2e.factor.v()
}

pub(crate) fn embodied_factors(m: &Method) -> [&FactorRef; 7] {
    [
        &m.embodied_base_kgco2e.factor,
        &m.embodied_memory_baseline_gib.factor,
        &m.embodied_memory_kgco2e_per_gib.factor,
        &m.embodied_extra_socket_kgco2e.factor,
        &m.embodied_hdd_kgco2e.factor,
        &m.embodied_ssd_kgco2e.factor,
        &m.embodied_gpu_kgco2e.factor,
    ]
}

/// The Teads curve: ratio of TDP at utilisation `u`, piecewise linear through
/// (0, r0), (0.1, r10), (0.5, r50), (1, r100).
pub(crate) fn tdp_ratio(m: &Method, u: f64) -> f64 {
    let xs = [0.0, 0.1, 0.5, 1.0];
    let ys = [
        m.tdp_ratio[0].factor.v(),
        m.tdp_ratio[1].factor.v(),
        m.tdp_ratio[2].factor.v(),
        m.tdp_ratio[3].factor.v(),
    ];
    let u = u.clamp(0.0, 1.0);
    for i in 0..3 {
        if u <= xs[i + 1] {
            return ys[i] + (u - xs[i]) * (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]);
        }
    }
    ys[3]
}

/// How a host is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Rack, blade or unknown chassis.
    Server,
    /// Desktop or laptop: on-hours only, outside a data centre, no scenarios.
    Endpoint,
    /// Virtual machine.
    Vm,
    /// Container.
    Container,
}

/// What the estimate knows about a host once the data has been applied.
#[derive(Debug, Clone)]
pub(crate) struct Resolved<'a> {
    pub class: Class,
    pub archetype: &'a Archetype,
    pub cpu_match: Option<CpuMatch<'a>>,
    pub sockets: f64,
    pub physical_cores: f64,
    pub logical_cpus: f64,
    pub memory_gib: f64,
    /// (media, TB) per disk.
    pub disks: Vec<(Media, f64)>,
    pub storage_tb: f64,
    /// Mean CPU utilisation, when known.
    pub u: Option<f64>,
    /// GPUs counted (for power and embodied).
    pub gpus: Vec<(GpuClass<'a>, Option<f64>)>,
    pub notes: Vec<Note>,
}

impl Estimator {
    /// Compiles the data and the `[carbon]` settings. Fails with every problem of the
    /// settings (see [`CarbonConfig::problems`]).
    pub fn new(data: Arc<CarbonData>, config: &CarbonConfig) -> Result<Estimator, Vec<Problem>> {
        let problems = config.problems(&data);
        if !problems.is_empty() {
            return Err(problems);
        }
        let Some(grid) = data.uk_factor(config.reporting_year) else {
            return Err(vec![Problem {
                key: "carbon.reporting_year".to_owned(),
                message: "grid-uk.toml has no year".to_owned(),
            }]);
        };
        let (grid_year, uk) = (grid.year, grid.factor.clone());
        let m = &data.method;
        let lifespan = match config.lifespan_years {
            Some(l) => Param::fixed(config_factor(
                "lifespan_years".to_owned(),
                l,
                "yr",
                "carbon",
            )),
            None => m.lifespan_years.clone(),
        };
        let sites = config
            .sites
            .iter()
            .map(|(name, s)| {
                let key = format!("carbon.sites.{name}");
                let site = Site {
                    pue: s.pue.map(|p| {
                        Param::fixed(config_factor(format!("site_pue:{name}"), p, "ratio", &key))
                    }),
                    market: s.market_kgco2e_per_kwh.map(|f| {
                        config_factor(
                            format!("site_market_kgco2e_per_kwh:{name}"),
                            f,
                            "kgCO2e/kWh",
                            &key,
                        )
                    }),
                };
                (name.clone(), site)
            })
            .collect();
        let hypervisor = match &config.hypervisor_host {
            Some(h) => {
                let key = "carbon.hypervisor_host";
                let mut factors = vec![
                    config_factor(
                        "hypervisor_sockets".into(),
                        f64::from(h.sockets),
                        "sockets",
                        key,
                    ),
                    config_factor(
                        "hypervisor_threads".into(),
                        f64::from(h.threads),
                        "threads",
                        key,
                    ),
                    config_factor("hypervisor_memory_gib".into(), h.memory_gib, "GiB", key),
                    config_factor("hypervisor_ssds".into(), f64::from(h.ssds), "drives", key),
                    config_factor("hypervisor_hdds".into(), f64::from(h.hdds), "drives", key),
                ];
                factors.extend(embodied_factors(m).into_iter().cloned());
                Hypervisor {
                    te_kg: server_embodied_kg(
                        m,
                        h.memory_gib,
                        f64::from(h.sockets),
                        f64::from(h.hdds),
                        f64::from(h.ssds),
                        0.0,
                    ),
                    threads: f64::from(h.threads.max(1)),
                    factors,
                }
            }
            None => {
                let mut factors: Vec<FactorRef> = [
                    &m.hypervisor_sockets,
                    &m.hypervisor_threads,
                    &m.hypervisor_memory_gib,
                    &m.hypervisor_ssds,
                    &m.hypervisor_hdds,
                ]
                .iter()
                .map(|p| p.factor.clone())
                .collect();
                factors.extend(embodied_factors(m).into_iter().cloned());
                Hypervisor {
                    te_kg: server_embodied_kg(
                        m,
                        m.hypervisor_memory_gib.factor.v(),
                        m.hypervisor_sockets.factor.v(),
                        m.hypervisor_hdds.factor.v(),
                        m.hypervisor_ssds.factor.v(),
                        0.0,
                    ),
                    threads: m.hypervisor_threads.factor.v().max(1.0),
                    factors,
                }
            }
        };
        let scenarios = config
            .scenarios
            .iter()
            .filter_map(|s| Compiled::new(s, &data, &uk))
            .collect();
        Ok(Estimator {
            data,
            grid_year,
            uk,
            lifespan,
            sites,
            hypervisor,
            scenarios,
        })
    }

    /// The data the estimator uses.
    pub fn data(&self) -> &CarbonData {
        &self.data
    }

    /// The reporting year of the UK factor applied.
    pub fn grid_year(&self) -> i32 {
        self.grid_year
    }

    /// The names of the compiled scenarios, in config order.
    pub fn scenario_names(&self) -> impl Iterator<Item = &str> {
        self.scenarios.iter().map(|s| s.name.as_str())
    }

    /// Each configured scenario's estate totals before any host is added, in config
    /// order (for [`crate::carbon::EstateSummary::for_scenarios`]).
    pub fn empty_totals(&self) -> Vec<crate::carbon::ScenarioTotals> {
        self.scenarios.iter().map(|s| s.empty_totals()).collect()
    }

    /// Estimates one host: on-premises and every scenario that applies.
    pub fn estimate(&self, host: &HostInput, what_if: &WhatIf) -> HostEstimate {
        let mut factors = Factors::with_capacity(48);
        let r = self.resolve(host, what_if, &mut factors);
        let onprem = self.onprem(host, &r, &mut factors);
        let scenarios = if matches!(r.class, Class::Server | Class::Vm) {
            self.scenarios
                .iter()
                .filter_map(|s| s.evaluate(self, host, &r, &onprem, what_if, &mut factors))
                .collect()
        } else {
            Vec::new()
        };
        HostEstimate {
            host_id: host.host_id.clone(),
            onprem,
            scenarios,
            factors,
        }
    }

    fn resolve<'a>(&'a self, host: &HostInput, what_if: &WhatIf, f: &mut Factors) -> Resolved<'a> {
        let d = &*self.data;
        let a = &d.archetypes;
        let class = match (host.kind, host.chassis) {
            (HostKind::Container, _) => Class::Container,
            (HostKind::Vm, _) => Class::Vm,
            (HostKind::Physical, Chassis::Desktop | Chassis::Laptop) => Class::Endpoint,
            (HostKind::Physical, _) => Class::Server,
        };
        let archetype = match (class, host.chassis) {
            (Class::Vm | Class::Container, _) => &a.virtual_machine,
            (_, Chassis::Server) => &a.server,
            (_, Chassis::Desktop) => &a.desktop,
            (_, Chassis::Laptop) => &a.laptop,
            _ => &a.unknown,
        };
        let mut notes = Vec::new();
        let take = |factor: &FactorRef, f: &mut Factors| {
            f.push(factor);
            factor.v()
        };
        let (cpu_match, sockets, physical_cores, logical_cpus) = match &host.cpu {
            Some(c) if c.logical_cpus > 0 => {
                let m = d.match_cpu(&c.model);
                match m.confidence {
                    MatchConfidence::Exact => {}
                    MatchConfidence::Family => notes.push(Note::CpuFamilyMatch),
                    MatchConfidence::Fallback => notes.push(Note::CpuNotMatched),
                }
                (
                    Some(m),
                    f64::from(c.sockets.max(1)),
                    f64::from(c.physical_cores.max(1)),
                    f64::from(c.logical_cpus),
                )
            }
            _ => {
                notes.push(Note::CpuFromArchetype);
                (
                    None,
                    take(&archetype.sockets, f).max(1.0),
                    take(&archetype.physical_cores, f).max(1.0),
                    take(&archetype.logical_cpus, f).max(1.0),
                )
            }
        };
        let memory_gib = match host.memory_gib.filter(|m| m.is_finite() && *m >= 0.0) {
            Some(m) => m,
            None => {
                notes.push(Note::MemoryFromArchetype);
                take(&archetype.memory_gib, f)
            }
        };
        let disks: Vec<(Media, f64)> = match &host.disks {
            Some(disks) => disks
                .iter()
                .map(|d| (d.media, d.size_bytes as f64 / BYTES_PER_TB))
                .collect(),
            None => {
                notes.push(Note::DisksFromArchetype);
                let mut v = Vec::new();
                let n = take(&archetype.ssd_count, f).round() as usize;
                let tb = take(&archetype.ssd_tb, f);
                v.extend(std::iter::repeat_n((Media::Ssd, tb), n));
                let n = take(&archetype.hdd_count, f).round() as usize;
                let tb = take(&archetype.hdd_tb, f);
                v.extend(std::iter::repeat_n((Media::Hdd, tb), n));
                let tb = take(&archetype.virtual_disk_tb, f);
                if tb > 0.0 {
                    v.push((Media::Unknown, tb));
                }
                v
            }
        };
        let storage_tb = disks.iter().map(|(_, tb)| tb).sum();
        let u = clean_ratio(what_if.cpu_mean_ratio).or_else(|| {
            clean_ratio(
                host.utilisation
                    .as_ref()
                    .and_then(|u| u.cpu.as_ref())
                    .map(|c| c.mean),
            )
        });
        if u.is_none() {
            notes.push(Note::UtilisationUnknown);
        }
        let gpus = if matches!(class, Class::Server | Class::Endpoint) {
            host.gpus
                .iter()
                .map(|g| {
                    (
                        d.gpus.classify(g.model.as_deref(), &g.vendor_id),
                        clean_ratio(g.utilisation_ratio),
                    )
                })
                .filter(|(c, _)| !matches!(c, GpuClass::NotCounted))
                .collect()
        } else {
            Vec::new()
        };
        Resolved {
            class,
            archetype,
            cpu_match,
            sockets,
            physical_cores,
            logical_cpus,
            memory_gib,
            disks,
            storage_tb,
            u,
            gpus,
            notes,
        }
    }

    /// Mean CPU utilisation at one end of the range (the method's default when unknown).
    pub(crate) fn utilisation(&self, r: &Resolved<'_>, end: End) -> f64 {
        r.u.unwrap_or_else(|| self.data.method.unknown_cpu_utilisation_ratio.at(end))
    }

    /// Lists the default utilisation among the factors when the host's is not known.
    pub(crate) fn utilisation_factor(&self, r: &Resolved<'_>, f: &mut Factors) {
        if r.u.is_none() {
            f.push(&self.data.method.unknown_cpu_utilisation_ratio.factor);
        }
    }

    /// (min, max) watts per vCPU of the host's CPU: its microarchitecture's, else generic.
    fn vm_coefficients(
        &self,
        r: &Resolved<'_>,
        f: &mut Factors,
        notes: &mut Vec<Note>,
    ) -> (f64, f64) {
        let m = &self.data.method;
        match r
            .cpu_match
            .and_then(|c| c.microarch)
            .and_then(|u| u.coefficients.as_ref())
        {
            Some((min, max)) => {
                f.push(min);
                f.push(max);
                (min.v(), max.v())
            }
            None => {
                notes.push(Note::GenericCoefficients);
                f.push(&m.generic_min_watts_per_vcpu.factor);
                f.push(&m.generic_max_watts_per_vcpu.factor);
                (
                    m.generic_min_watts_per_vcpu.factor.v(),
                    m.generic_max_watts_per_vcpu.factor.v(),
                )
            }
        }
    }

    /// Storage watts at one end: HDD and SSD at their figures, unknown media in range.
    pub(crate) fn storage_watts(&self, r: &Resolved<'_>, end: End) -> f64 {
        let m = &self.data.method;
        r.disks
            .iter()
            .map(|(media, tb)| {
                tb * match media {
                    Media::Hdd => m.hdd_watts_per_tb.at(end),
                    Media::Ssd => m.ssd_watts_per_tb.at(end),
                    Media::Unknown => m.unknown_media_watts_per_tb.at(end),
                }
            })
            .sum()
    }

    fn storage_factors(&self, r: &Resolved<'_>, f: &mut Factors) {
        let m = &self.data.method;
        for (media, _) in &r.disks {
            f.push(match media {
                Media::Hdd => &m.hdd_watts_per_tb.factor,
                Media::Ssd => &m.ssd_watts_per_tb.factor,
                Media::Unknown => &m.unknown_media_watts_per_tb.factor,
            });
        }
    }

    /// Modelled GPU watts (point), pushing factors and notes.
    fn gpu_watts(&self, r: &Resolved<'_>, f: &mut Factors, notes: &mut Vec<Note>) -> f64 {
        let mut w = 0.0;
        for (class, u) in &r.gpus {
            match class {
                GpuClass::Known(row) => {
                    f.push(&row.idle_watts);
                    f.push(&row.max_watts);
                    let u = u.unwrap_or_else(|| {
                        if !notes.contains(&Note::GpuUtilisationUnknown) {
                            notes.push(Note::GpuUtilisationUnknown);
                        }
                        0.0
                    });
                    w += row.idle_watts.v() + u * (row.max_watts.v() - row.idle_watts.v());
                }
                GpuClass::UnknownModel => {
                    if !notes.contains(&Note::GpuModelUnknown) {
                        notes.push(Note::GpuModelUnknown);
                    }
                }
                GpuClass::NotCounted => {}
            }
        }
        w
    }

    /// CPU watts of a physical host at utilisation `u` (TDP x curve), pushing factors.
    fn cpu_tdp_watts(&self, r: &Resolved<'_>, u: f64, f: &mut Factors) -> f64 {
        let m = &self.data.method;
        let ratio = tdp_ratio(m, u);
        let per_core = |factor: &FactorRef, f: &mut Factors| {
            f.push(factor);
            factor.v() * r.physical_cores
        };
        let watts = match r.cpu_match {
            Some(CpuMatch { row: Some(row), .. }) => {
                f.push(&row.tdp_watts);
                r.sockets * row.tdp_watts.v()
            }
            Some(CpuMatch {
                family_tdp_watts_per_core: Some(t),
                ..
            }) => per_core(t, f),
            Some(_) => per_core(&r.archetype.fallback_tdp_watts_per_core, f),
            None => {
                f.push(&r.archetype.tdp_watts_per_socket);
                r.sockets * r.archetype.tdp_watts_per_socket.v()
            }
        };
        watts * ratio
    }

    fn onprem(&self, host: &HostInput, r: &Resolved<'_>, f: &mut Factors) -> OnPrem {
        let d = &*self.data;
        let m = &d.method;
        let mut notes = r.notes.clone();
        let cpu_match = r.cpu_match.map(|c| CpuMatchInfo {
            confidence: c.confidence,
            matched: c.matched().cloned(),
            microarchitecture: c.microarch.map(|u| u.name.clone()),
        });
        if r.class == Class::Container {
            notes.push(Note::Container);
            return OnPrem {
                method: OnPremMethod::NotEstimated,
                power_watts: 0.0,
                measured_watts: host.measured.as_ref().and_then(|m| m.total_watts()),
                energy_kwh_per_year: 0.0,
                location_kgco2e_per_year: 0.0,
                market_kgco2e_per_year: 0.0,
                embodied_kgco2e_per_year: 0.0,
                low: 0.0,
                high: 0.0,
                cpu_match,
                pue: 0.0,
                grid_year: self.grid_year,
                notes,
            };
        }

        // Power at the plug, for each end of the range.
        let measured = host
            .measured
            .as_ref()
            .filter(|_| r.class != Class::Vm)
            .filter(|p| p.psys_watts.is_some() || p.package_watts.is_some());
        // A running CPU package never draws (next to) nothing: such a reading is counters
        // that did not move, and the model is the better estimate.
        let measured = match measured {
            Some(p)
                if p.psys_watts.or(p.package_watts).unwrap_or(0.0)
                    < super::MIN_PLAUSIBLE_RAPL_WATTS =>
            {
                notes.push(Note::MeasuredImplausible);
                None
            }
            other => other,
        };
        let (method, watts): (OnPremMethod, [f64; 3]) = match (r.class, measured) {
            (Class::Vm, _) => {
                self.utilisation_factor(r, f);
                let (min, max) = self.vm_coefficients(r, f, &mut notes);
                f.push(&m.memory_watts_per_gib.factor);
                self.storage_factors(r, f);
                let w = |end: End| {
                    let u = self.utilisation(r, end);
                    r.logical_cpus * (min + u * (max - min))
                        + r.memory_gib * m.memory_watts_per_gib.at(end)
                        + self.storage_watts(r, end)
                };
                (
                    OnPremMethod::ModelledVm,
                    [w(End::Point), w(End::Low), w(End::High)],
                )
            }
            (_, Some(p)) => {
                let gpu = match p.gpu_watts {
                    Some(g) => g,
                    None if !r.gpus.is_empty() => {
                        notes.push(Note::GpuModelled);
                        self.gpu_watts(r, f, &mut notes)
                    }
                    None => 0.0,
                };
                match p.psys_watts {
                    Some(psys) => (OnPremMethod::MeasuredPsys, [psys + gpu; 3]),
                    None => {
                        f.push(&m.platform_overhead_ratio.factor);
                        let base = p.package_watts.unwrap_or(0.0) + p.dram_watts;
                        let w = |end: End| base * (1.0 + m.platform_overhead_ratio.at(end)) + gpu;
                        (
                            OnPremMethod::MeasuredRapl,
                            [w(End::Point), w(End::Low), w(End::High)],
                        )
                    }
                }
            }
            (_, None) => {
                self.utilisation_factor(r, f);
                for p in &m.tdp_ratio {
                    f.push(&p.factor);
                }
                f.push(&m.platform_overhead_ratio.factor);
                f.push(&m.memory_watts_per_gib.factor);
                self.storage_factors(r, f);
                // NVML readings without RAPL: the GPUs are measured, the rest modelled.
                let gpu = match host.measured.as_ref().and_then(|p| p.gpu_watts) {
                    Some(g) => g,
                    None => self.gpu_watts(r, f, &mut notes),
                };
                let w = |end: End, f: &mut Factors| {
                    let cpu = self.cpu_tdp_watts(r, self.utilisation(r, end), f);
                    (cpu + r.memory_gib * m.memory_watts_per_gib.at(end)
                        + self.storage_watts(r, end)
                        + gpu)
                        * (1.0 + m.platform_overhead_ratio.at(end))
                };
                let method = if r.cpu_match.is_some() {
                    OnPremMethod::ModelledTdp
                } else {
                    OnPremMethod::Archetype
                };
                (method, [w(End::Point, f), w(End::Low, f), w(End::High, f)])
            }
        };

        // Facility, hours and grid.
        let (hours, pue) = if r.class == Class::Endpoint {
            f.push(&r.archetype.hours_per_year);
            (r.archetype.hours_per_year.v(), &m.endpoint_pue)
        } else {
            f.push(&m.server_hours_per_year.factor);
            let site = host.site.as_ref().and_then(|s| self.sites.get(s));
            (
                m.server_hours_per_year.factor.v(),
                site.and_then(|s| s.pue.as_ref()).unwrap_or(&m.onprem_pue),
            )
        };
        f.push(&pue.factor);
        f.push(&self.uk);
        let market = host
            .site
            .as_ref()
            .and_then(|s| self.sites.get(s))
            .and_then(|s| s.market.as_ref())
            .unwrap_or(&self.uk);
        f.push(market);
        let kwh = |w: f64, end: End| w * hours * pue.at(end) / 1000.0;

        // Embodied.
        let te = match (r.class, &r.archetype.embodied_kgco2e) {
            (Class::Vm, _) => {
                f.extend(&self.hypervisor.factors);
                self.hypervisor.te_kg * (r.logical_cpus / self.hypervisor.threads).min(1.0)
            }
            (Class::Endpoint, Some(e)) => {
                f.push(e);
                e.v()
            }
            _ => {
                f.extend(embodied_factors(m));
                let count = |want: Media| r.disks.iter().filter(|(m, _)| *m == want).count() as f64;
                server_embodied_kg(
                    m,
                    r.memory_gib,
                    r.sockets,
                    count(Media::Hdd),
                    count(Media::Ssd),
                    r.gpus.len() as f64,
                )
            }
        };
        f.push(&self.lifespan.factor);
        let embodied = |end: End| te / self.lifespan.at_inverse(end);

        let energy = kwh(watts[0], End::Point);
        let total = |end: End, w: f64| kwh(w, end) * self.uk.v() + embodied(end);
        OnPrem {
            method,
            power_watts: watts[0],
            measured_watts: host.measured.as_ref().and_then(|m| m.total_watts()),
            energy_kwh_per_year: energy,
            location_kgco2e_per_year: energy * self.uk.v(),
            market_kgco2e_per_year: energy * market.v(),
            embodied_kgco2e_per_year: embodied(End::Point),
            low: total(End::Low, watts[1]),
            high: total(End::High, watts[2]),
            cpu_match,
            pue: pue.factor.v(),
            grid_year: self.grid_year,
            notes,
        }
    }
}

/// Estimates one host (see [`Estimator::estimate`]).
pub fn estimate(estimator: &Estimator, host: &HostInput, what_if: &WhatIf) -> HostEstimate {
    estimator.estimate(host, what_if)
}
