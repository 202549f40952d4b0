//! The method scalars (`carbon-method.toml`), UK grid factors (`grid-uk.toml`),
//! microarchitectures (`microarchitectures.toml`), GPU power (`gpu-power.toml`) and
//! archetypes (`archetypes.toml`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use estate_agent::config::located::Issues;
use serde::Deserialize;
use toml::Spanned;

use super::raw::{self, RawFactor, RawMeta, RawSources, Src};
use crate::carbon::Readiness;
use crate::carbon::factor::{FactorRef, Param, Text};

// ---------------------------------------------------------------------------------
// carbon-method.toml

/// The method's scalars, each a [`Param`] named as in `carbon-method.toml`.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // each field is the factor of the same name in carbon-method.toml
pub struct Method {
    pub server_hours_per_year: Param,
    pub platform_overhead_ratio: Param,
    pub memory_watts_per_gib: Param,
    pub hdd_watts_per_tb: Param,
    pub ssd_watts_per_tb: Param,
    pub unknown_media_watts_per_tb: Param,
    /// The Teads curve: ratio of TDP at 0, 10, 50 and 100 % utilisation.
    pub tdp_ratio: [Param; 4],
    pub unknown_cpu_utilisation_ratio: Param,
    pub generic_min_watts_per_vcpu: Param,
    pub generic_max_watts_per_vcpu: Param,
    pub onprem_pue: Param,
    pub endpoint_pue: Param,
    pub embodied_base_kgco2e: Param,
    pub embodied_memory_baseline_gib: Param,
    pub embodied_memory_kgco2e_per_gib: Param,
    pub embodied_extra_socket_kgco2e: Param,
    pub embodied_hdd_kgco2e: Param,
    pub embodied_ssd_kgco2e: Param,
    pub embodied_gpu_kgco2e: Param,
    pub lifespan_years: Param,
    pub hypervisor_sockets: Param,
    pub hypervisor_threads: Param,
    pub hypervisor_memory_gib: Param,
    pub hypervisor_ssds: Param,
    pub hypervisor_hdds: Param,
    pub comfort_factor: Param,
    pub sizing_percentile: Param,
    pub retire_cpu_p95_below_ratio: Param,
    /// Readiness rules, in file order.
    pub readiness: Vec<ReadinessRule>,
    /// Confidence bands: (largest coverage percent, stars), ascending.
    pub confidence: Vec<(f64, u8)>,
}

/// A condition the readiness rules can name.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessCondition {
    /// No instance of the scenario's families is large enough.
    NoInstanceFits,
    /// The host has a GPU.
    HasGpu,
    /// The agent sent no utilisation, so the host was sized as on-premises.
    NoUtilisation,
    /// The host's disks hold more than the rule's `threshold_tb`.
    LocalStorageOverTb,
}

/// One readiness rule.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessRule {
    /// When it applies.
    pub condition: ReadinessCondition,
    /// The threshold of `local_storage_over_tb`, TB.
    pub threshold_tb: f64,
    /// The readiness it gives.
    pub outcome: Readiness,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMethod {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    factor: BTreeMap<String, Spanned<RawFactor>>,
    #[serde(default)]
    readiness: Vec<Spanned<RawReadiness>>,
    #[serde(default)]
    confidence: Vec<Spanned<RawConfidence>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReadiness {
    condition: ReadinessCondition,
    #[serde(default)]
    threshold_tb: Option<f64>,
    outcome: Readiness,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfidence {
    max_percent: f64,
    stars: u8,
}

const METHOD_FACTORS: [&str; 31] = [
    "server_hours_per_year",
    "platform_overhead_ratio",
    "memory_watts_per_gib",
    "hdd_watts_per_tb",
    "ssd_watts_per_tb",
    "unknown_media_watts_per_tb",
    "tdp_ratio_at_0",
    "tdp_ratio_at_10",
    "tdp_ratio_at_50",
    "tdp_ratio_at_100",
    "unknown_cpu_utilisation_ratio",
    "generic_min_watts_per_vcpu",
    "generic_max_watts_per_vcpu",
    "onprem_pue",
    "endpoint_pue",
    "embodied_base_kgco2e",
    "embodied_memory_baseline_gib",
    "embodied_memory_kgco2e_per_gib",
    "embodied_extra_socket_kgco2e",
    "embodied_hdd_kgco2e",
    "embodied_ssd_kgco2e",
    "embodied_gpu_kgco2e",
    "lifespan_years",
    "hypervisor_sockets",
    "hypervisor_threads",
    "hypervisor_memory_gib",
    "hypervisor_ssds",
    "hypervisor_hdds",
    "comfort_factor",
    "sizing_percentile",
    "retire_cpu_p95_below_ratio",
];

pub(super) fn validate_method(raw: RawMethod, issues: &mut Issues<'_>) -> Option<Method> {
    let _ = raw.meta;
    let mut params: HashMap<&str, Param> = HashMap::new();
    for (name, f) in &raw.factor {
        let key = format!("factor.{name}");
        if !METHOD_FACTORS.contains(&name.as_str()) {
            issues.at(
                f.span(),
                &key,
                "unknown factor (the method uses only the factors listed in docs/methodology.md)",
            );
            continue;
        }
        if let Some(p) = raw::param(name, f.get_ref(), &raw.sources, &key, issues)
            && let Some(known) = METHOD_FACTORS.iter().find(|n| *n == name)
        {
            params.insert(known, p);
        }
    }
    for name in METHOD_FACTORS {
        if !raw.factor.contains_key(name) {
            issues.at(0..0, &format!("factor.{name}"), "missing factor");
        }
    }
    let mut take = |name: &'static str| params.remove(name);
    let method = (|| {
        Some(Method {
            server_hours_per_year: take("server_hours_per_year")?,
            platform_overhead_ratio: take("platform_overhead_ratio")?,
            memory_watts_per_gib: take("memory_watts_per_gib")?,
            hdd_watts_per_tb: take("hdd_watts_per_tb")?,
            ssd_watts_per_tb: take("ssd_watts_per_tb")?,
            unknown_media_watts_per_tb: take("unknown_media_watts_per_tb")?,
            tdp_ratio: [
                take("tdp_ratio_at_0")?,
                take("tdp_ratio_at_10")?,
                take("tdp_ratio_at_50")?,
                take("tdp_ratio_at_100")?,
            ],
            unknown_cpu_utilisation_ratio: take("unknown_cpu_utilisation_ratio")?,
            generic_min_watts_per_vcpu: take("generic_min_watts_per_vcpu")?,
            generic_max_watts_per_vcpu: take("generic_max_watts_per_vcpu")?,
            onprem_pue: take("onprem_pue")?,
            endpoint_pue: take("endpoint_pue")?,
            embodied_base_kgco2e: take("embodied_base_kgco2e")?,
            embodied_memory_baseline_gib: take("embodied_memory_baseline_gib")?,
            embodied_memory_kgco2e_per_gib: take("embodied_memory_kgco2e_per_gib")?,
            embodied_extra_socket_kgco2e: take("embodied_extra_socket_kgco2e")?,
            embodied_hdd_kgco2e: take("embodied_hdd_kgco2e")?,
            embodied_ssd_kgco2e: take("embodied_ssd_kgco2e")?,
            embodied_gpu_kgco2e: take("embodied_gpu_kgco2e")?,
            lifespan_years: take("lifespan_years")?,
            hypervisor_sockets: take("hypervisor_sockets")?,
            hypervisor_threads: take("hypervisor_threads")?,
            hypervisor_memory_gib: take("hypervisor_memory_gib")?,
            hypervisor_ssds: take("hypervisor_ssds")?,
            hypervisor_hdds: take("hypervisor_hdds")?,
            comfort_factor: take("comfort_factor")?,
            sizing_percentile: take("sizing_percentile")?,
            retire_cpu_p95_below_ratio: take("retire_cpu_p95_below_ratio")?,
            readiness: Vec::new(),
            confidence: Vec::new(),
        })
    })();
    let mut method = method?;
    if method.lifespan_years.low <= 0.0 {
        issues.at(0..0, "factor.lifespan_years", "must be above 0");
    }
    if method.hypervisor_threads.factor.v() < 1.0 {
        issues.at(0..0, "factor.hypervisor_threads", "must be at least 1");
    }
    let p = method.sizing_percentile.factor.v();
    if !(p > 0.0 && p <= 100.0) {
        issues.at(0..0, "factor.sizing_percentile", "must be in (0, 100]");
    }

    for r in raw.readiness {
        let span = r.span();
        let r = r.into_inner();
        let threshold_tb = match (r.condition, r.threshold_tb) {
            (ReadinessCondition::LocalStorageOverTb, Some(t)) if t.is_finite() && t >= 0.0 => t,
            (ReadinessCondition::LocalStorageOverTb, _) => {
                issues.at(
                    span,
                    "readiness.threshold_tb",
                    "local_storage_over_tb needs a threshold_tb >= 0",
                );
                continue;
            }
            (_, Some(_)) => {
                issues.at(
                    span,
                    "readiness.threshold_tb",
                    "only local_storage_over_tb takes a threshold_tb",
                );
                continue;
            }
            (_, None) => 0.0,
        };
        method.readiness.push(ReadinessRule {
            condition: r.condition,
            threshold_tb,
            outcome: r.outcome,
        });
    }
    let mut last = 0.0;
    for c in raw.confidence {
        let span = c.span();
        let c = c.into_inner();
        if !(c.max_percent > last && c.max_percent <= 100.0 && (1..=5).contains(&c.stars)) {
            issues.at(
                span,
                "confidence",
                "bands must rise in max_percent up to 100, with 1 to 5 stars",
            );
        }
        last = c.max_percent;
        method.confidence.push((c.max_percent, c.stars));
    }
    if (last - 100.0).abs() > f64::EPSILON {
        issues.at(
            0..0,
            "confidence",
            "the last band must end at max_percent = 100",
        );
    }
    Some(method)
}

// ---------------------------------------------------------------------------------
// grid-uk.toml

/// One year's UK location-based electricity factor.
#[derive(Debug, Clone)]
pub struct GridYear {
    /// The reporting year of the factor set.
    pub year: i32,
    /// kgCO2e/kWh.
    pub factor: FactorRef,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGrid {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    year: Vec<Spanned<RawGridYear>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGridYear {
    year: i32,
    kgco2e_per_kwh: Spanned<f64>,
    source: Spanned<String>,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
}

pub(super) fn validate_grid(raw: RawGrid, issues: &mut Issues<'_>) -> Vec<GridYear> {
    let _ = raw.meta;
    let mut out: Vec<GridYear> = Vec::new();
    for y in &raw.year {
        let span = y.span();
        let y = y.get_ref();
        let key = format!("year.{}", y.year);
        if out.iter().any(|g| g.year == y.year) {
            issues.at(span, &key, "this year is listed twice");
            continue;
        }
        let ok = raw::non_negative(&y.kgco2e_per_kwh, &key, issues);
        if let Some(src) = raw::source(&raw.sources, &y.source, &format!("{key}.source"), issues)
            && ok
        {
            let name = format!("uk_grid_kgco2e_per_kwh:{}", y.year);
            out.push(GridYear {
                year: y.year,
                factor: raw::factor(name, *y.kgco2e_per_kwh.get_ref(), "kgCO2e/kWh", &src),
            });
        }
    }
    if out.is_empty() && raw.year.is_empty() {
        issues.at(0..0, "year", "at least one year is needed");
    }
    out.sort_by_key(|g| g.year);
    out
}

// ---------------------------------------------------------------------------------
// microarchitectures.toml

/// A microarchitecture, with CCF's per-vCPU watts where published.
#[derive(Debug, Clone)]
pub struct Microarch {
    /// Its name, e.g. `Cascade Lake`.
    pub name: Text,
    /// Watts per vCPU at idle and at 100 %, when published.
    pub coefficients: Option<(FactorRef, FactorRef)>,
}

/// The microarchitectures, by name.
#[derive(Debug, Clone, Default)]
pub struct Microarchs {
    /// In file order.
    pub list: Vec<Microarch>,
    by_name: HashMap<String, usize>,
}

impl Microarchs {
    /// The index of a microarchitecture by exact name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// A microarchitecture by index.
    pub fn get(&self, i: usize) -> Option<&Microarch> {
        self.list.get(i)
    }

    /// Every name.
    pub fn names(&self) -> BTreeSet<String> {
        self.by_name.keys().cloned().collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMicroarchs {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    microarchitecture: Vec<Spanned<RawMicroarch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMicroarch {
    name: String,
    #[serde(default)]
    min_watts_per_vcpu: Option<Spanned<f64>>,
    #[serde(default)]
    max_watts_per_vcpu: Option<Spanned<f64>>,
    source: Spanned<String>,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
}

pub(super) fn validate_microarchs(raw: RawMicroarchs, issues: &mut Issues<'_>) -> Microarchs {
    let _ = raw.meta;
    let mut out = Microarchs::default();
    for m in &raw.microarchitecture {
        let span = m.span();
        let m = m.get_ref();
        let key = format!("microarchitecture.{}", m.name);
        if out.by_name.contains_key(&m.name) {
            issues.at(span, &key, "listed twice");
            continue;
        }
        let Some(src) = raw::source(&raw.sources, &m.source, &format!("{key}.source"), issues)
        else {
            continue;
        };
        let coefficients = match (&m.min_watts_per_vcpu, &m.max_watts_per_vcpu) {
            (Some(min), Some(max)) => {
                let ok = raw::non_negative(min, &format!("{key}.min_watts_per_vcpu"), issues)
                    & raw::non_negative(max, &format!("{key}.max_watts_per_vcpu"), issues);
                if ok && max.get_ref() < min.get_ref() {
                    issues.at(
                        max.span(),
                        &format!("{key}.max_watts_per_vcpu"),
                        "max is below min",
                    );
                }
                Some((
                    raw::factor(
                        format!("min_watts_per_vcpu:{}", m.name),
                        *min.get_ref(),
                        "W/vCPU",
                        &src,
                    ),
                    raw::factor(
                        format!("max_watts_per_vcpu:{}", m.name),
                        *max.get_ref(),
                        "W/vCPU",
                        &src,
                    ),
                ))
            }
            (None, None) => None,
            _ => {
                issues.at(
                    span,
                    &key,
                    "give both min_watts_per_vcpu and max_watts_per_vcpu, or neither",
                );
                None
            }
        };
        out.by_name.insert(m.name.clone(), out.list.len());
        out.list.push(Microarch {
            name: Text::new(&m.name),
            coefficients,
        });
    }
    out
}

// ---------------------------------------------------------------------------------
// gpu-power.toml

/// A GPU model's idle and maximum watts.
#[derive(Debug, Clone)]
pub struct GpuRow {
    /// Display name.
    pub name: Text,
    tokens: Vec<String>,
    /// Watts at idle.
    pub idle_watts: FactorRef,
    /// Watts at 100 %.
    pub max_watts: FactorRef,
}

/// The GPU table.
#[derive(Debug, Clone, Default)]
pub struct GpuTable {
    /// Rows in file order (first match wins).
    pub rows: Vec<GpuRow>,
    counted_vendor_ids: Vec<String>,
}

/// How a device of the inventory's GPU list counts.
#[derive(Debug, Clone, Copy)]
pub enum GpuClass<'a> {
    /// Not a GPU for power or embodied carbon (a display controller).
    NotCounted,
    /// A GPU of the table.
    Known(&'a GpuRow),
    /// A counted GPU whose model is not in the table: 0 W, flagged.
    UnknownModel,
}

impl GpuTable {
    /// Classifies a device by its model name and PCI vendor id.
    pub fn classify(&self, model: Option<&str>, vendor_id: &str) -> GpuClass<'_> {
        if let Some(model) = model {
            let lower = model.to_lowercase().replace(['-', '_'], " ");
            let tokens: Vec<&str> = lower.split_whitespace().collect();
            if let Some(row) = self
                .rows
                .iter()
                .find(|r| r.tokens.iter().all(|t| tokens.contains(&t.as_str())))
            {
                return GpuClass::Known(row);
            }
        }
        let vid = vendor_id.trim_start_matches("0x").to_lowercase();
        if self.counted_vendor_ids.contains(&vid) {
            GpuClass::UnknownModel
        } else {
            GpuClass::NotCounted
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGpus {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    gpu: Vec<Spanned<RawGpu>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpu {
    name: String,
    #[serde(rename = "match")]
    tokens: Vec<String>,
    idle_watts: Spanned<f64>,
    max_watts: Spanned<f64>,
    source: Spanned<String>,
}

pub(super) fn validate_gpus(raw: RawGpus, issues: &mut Issues<'_>) -> GpuTable {
    let mut table = GpuTable {
        rows: Vec::new(),
        counted_vendor_ids: raw
            .meta
            .counted_vendor_ids
            .unwrap_or_default()
            .iter()
            .map(|v| v.to_lowercase())
            .collect(),
    };
    for g in &raw.gpu {
        let span = g.span();
        let g = g.get_ref();
        let key = format!("gpu.{}", g.name);
        if g.tokens.is_empty() {
            issues.at(span.clone(), &key, "`match` needs at least one token");
        }
        let ok = raw::non_negative(&g.idle_watts, &format!("{key}.idle_watts"), issues)
            & raw::non_negative(&g.max_watts, &format!("{key}.max_watts"), issues);
        if ok && g.max_watts.get_ref() < g.idle_watts.get_ref() {
            issues.at(
                g.max_watts.span(),
                &format!("{key}.max_watts"),
                "max is below idle",
            );
        }
        if let Some(src) = raw::source(&raw.sources, &g.source, &format!("{key}.source"), issues) {
            table.rows.push(GpuRow {
                name: Text::new(&g.name),
                tokens: g.tokens.iter().map(|t| t.to_lowercase()).collect(),
                idle_watts: raw::factor(
                    format!("gpu_idle_watts:{}", g.name),
                    *g.idle_watts.get_ref(),
                    "W",
                    &src,
                ),
                max_watts: raw::factor(
                    format!("gpu_max_watts:{}", g.name),
                    *g.max_watts.get_ref(),
                    "W",
                    &src,
                ),
            });
        }
    }
    table
}

// ---------------------------------------------------------------------------------
// archetypes.toml

/// Defaults for a host whose report does not say, by chassis class. Each value is a
/// factor so that a result lists the defaults it used.
#[derive(Debug, Clone)]
#[allow(missing_docs)] // fields are the keys of archetypes.toml
pub struct Archetype {
    pub sockets: FactorRef,
    pub physical_cores: FactorRef,
    pub logical_cpus: FactorRef,
    pub tdp_watts_per_socket: FactorRef,
    pub fallback_tdp_watts_per_core: FactorRef,
    pub memory_gib: FactorRef,
    pub ssd_count: FactorRef,
    pub ssd_tb: FactorRef,
    pub hdd_count: FactorRef,
    pub hdd_tb: FactorRef,
    pub virtual_disk_tb: FactorRef,
    pub hours_per_year: FactorRef,
    /// Whether the host sits in a data centre (site PUE) or not (endpoint PUE).
    pub in_data_centre: bool,
    /// Fixed embodied carbon (endpoints); servers use the formula.
    pub embodied_kgco2e: Option<FactorRef>,
}

/// The archetypes, one per chassis class.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct Archetypes {
    pub server: Archetype,
    pub unknown: Archetype,
    pub desktop: Archetype,
    pub laptop: Archetype,
    pub virtual_machine: Archetype,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchetypes {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    archetype: BTreeMap<String, Spanned<RawArchetype>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawArchetype {
    sockets: Spanned<f64>,
    physical_cores: Spanned<f64>,
    logical_cpus: Spanned<f64>,
    tdp_watts_per_socket: Spanned<f64>,
    fallback_tdp_watts_per_core: Spanned<f64>,
    memory_gib: Spanned<f64>,
    ssd_count: Spanned<f64>,
    ssd_tb: Spanned<f64>,
    hdd_count: Spanned<f64>,
    hdd_tb: Spanned<f64>,
    #[serde(default)]
    virtual_disk_tb: Option<Spanned<f64>>,
    hours_per_year: Spanned<f64>,
    in_data_centre: bool,
    #[serde(default)]
    embodied_kgco2e: Option<Spanned<f64>>,
    source: Spanned<String>,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
}

fn archetype(
    class: &str,
    a: &RawArchetype,
    sources: &RawSources,
    issues: &mut Issues<'_>,
) -> Option<Archetype> {
    let key = format!("archetype.{class}");
    let src: Src = raw::source(sources, &a.source, &format!("{key}.source"), issues)?;
    let zero = Spanned::new(0..0, 0.0);
    let mut ok = true;
    let mut f = |field: &str, v: &Spanned<f64>, unit: &str| {
        ok &= raw::non_negative(v, &format!("{key}.{field}"), issues);
        raw::factor(
            format!("archetype.{class}.{field}"),
            *v.get_ref(),
            unit,
            &src,
        )
    };
    let out = Archetype {
        sockets: f("sockets", &a.sockets, "sockets"),
        physical_cores: f("physical_cores", &a.physical_cores, "cores"),
        logical_cpus: f("logical_cpus", &a.logical_cpus, "threads"),
        tdp_watts_per_socket: f("tdp_watts_per_socket", &a.tdp_watts_per_socket, "W"),
        fallback_tdp_watts_per_core: f(
            "fallback_tdp_watts_per_core",
            &a.fallback_tdp_watts_per_core,
            "W/core",
        ),
        memory_gib: f("memory_gib", &a.memory_gib, "GiB"),
        ssd_count: f("ssd_count", &a.ssd_count, "drives"),
        ssd_tb: f("ssd_tb", &a.ssd_tb, "TB per drive"),
        hdd_count: f("hdd_count", &a.hdd_count, "drives"),
        hdd_tb: f("hdd_tb", &a.hdd_tb, "TB per drive"),
        virtual_disk_tb: f(
            "virtual_disk_tb",
            a.virtual_disk_tb.as_ref().unwrap_or(&zero),
            "TB",
        ),
        hours_per_year: f("hours_per_year", &a.hours_per_year, "h/yr"),
        in_data_centre: a.in_data_centre,
        embodied_kgco2e: a
            .embodied_kgco2e
            .as_ref()
            .map(|e| f("embodied_kgco2e", e, "kgCO2e")),
    };
    if *a.logical_cpus.get_ref() < 1.0 {
        issues.at(
            a.logical_cpus.span(),
            &format!("{key}.logical_cpus"),
            "must be at least 1",
        );
        ok = false;
    }
    ok.then_some(out)
}

pub(super) fn validate_archetypes(
    raw: RawArchetypes,
    issues: &mut Issues<'_>,
) -> Option<Archetypes> {
    let _ = raw.meta;
    const CLASSES: [&str; 5] = ["server", "unknown", "desktop", "laptop", "virtual"];
    for (name, a) in &raw.archetype {
        if !CLASSES.contains(&name.as_str()) {
            issues.at(
                a.span(),
                &format!("archetype.{name}"),
                format!(
                    "unknown chassis class (expected one of {})",
                    CLASSES.join(", ")
                ),
            );
        }
    }
    let mut get = |class: &str| -> Option<Archetype> {
        match raw.archetype.get(class) {
            Some(a) => archetype(class, a.get_ref(), &raw.sources, issues),
            None => {
                issues.at(0..0, &format!("archetype.{class}"), "missing archetype");
                None
            }
        }
    };
    let server = get("server");
    let unknown = get("unknown");
    let desktop = get("desktop");
    let laptop = get("laptop");
    let virtual_machine = get("virtual");
    Some(Archetypes {
        server: server?,
        unknown: unknown?,
        desktop: desktop?,
        laptop: laptop?,
        virtual_machine: virtual_machine?,
    })
}
