//! Cloud catalogues (`cloud-aws.toml`, `cloud-azure.toml`, `cloud-gcp.toml`) and regions
//! (`cloud-regions.toml`).

use std::collections::{BTreeSet, HashMap};

use estate_agent::config::located::Issues;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::method::Microarchs;
use super::raw::{self, RawFactor, RawMeta, RawSources};
use crate::carbon::factor::{FactorRef, Param, Text};

/// A cloud provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Amazon Web Services.
    Aws,
    /// Microsoft Azure.
    Azure,
    /// Google Cloud.
    Gcp,
}

impl Provider {
    /// The lower-case name used in config and results.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Aws => "aws",
            Provider::Azure => "azure",
            Provider::Gcp => "gcp",
        }
    }
}

/// The host an instance runs on (for its embodied share).
#[derive(Debug, Clone)]
pub struct Platform {
    /// Id, e.g. `m5`.
    pub id: String,
    /// Indices into [`Microarchs`] it may run on (their coefficients are averaged).
    pub microarchs: Vec<usize>,
    /// Sockets.
    pub sockets: f64,
    /// vCPUs of the whole host.
    pub vcpus: f64,
    /// Memory of the whole host, GiB.
    pub memory_gib: f64,
    /// Local SSDs.
    pub ssds: f64,
    /// Local HDDs.
    pub hdds: f64,
    /// GPUs.
    pub gpus: f64,
    /// A factor naming the platform (value: its vCPUs), so results cite it.
    pub factor: FactorRef,
}

/// One instance type.
#[derive(Debug, Clone)]
pub struct Instance {
    /// Name, e.g. `m5.large`.
    pub name: Text,
    /// Family, e.g. `m5`, `Dsv5`, `n2-standard`.
    pub family: Text,
    /// `general`, `compute` or `memory`.
    pub category: Text,
    /// vCPUs.
    pub vcpus: u32,
    /// Memory, GiB.
    pub memory_gib: f64,
    /// Index into the catalogue's platforms.
    pub platform: usize,
}

/// One provider's catalogue.
#[derive(Debug, Clone)]
pub struct CloudCatalogue {
    /// The provider.
    pub provider: Provider,
    /// Provider PUE.
    pub pue: Param,
    /// Provider average watts per vCPU at idle (unknown microarchitecture).
    pub min_watts_per_vcpu: Param,
    /// Provider average watts per vCPU at 100 %.
    pub max_watts_per_vcpu: Param,
    /// Block storage replication.
    pub block_storage_replication: Param,
    /// Provider's market-based claim, kgCO2e/kWh.
    pub market_kgco2e_per_kwh: Param,
    /// What the market-based claim is.
    pub market_basis: Text,
    /// Platforms.
    pub platforms: Vec<Platform>,
    /// Instances in file order.
    pub instances: Vec<Instance>,
    /// Every family name.
    pub families: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCatalogue {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    provider: RawProvider,
    #[serde(default)]
    platform: Vec<Spanned<RawPlatform>>,
    #[serde(default)]
    instance: Vec<Spanned<RawInstance>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvider {
    name: Spanned<String>,
    pue: RawFactor,
    min_watts_per_vcpu: RawFactor,
    max_watts_per_vcpu: RawFactor,
    block_storage_replication: RawFactor,
    market_kgco2e_per_kwh: RawFactor,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    id: String,
    #[allow(dead_code)]
    cpu: String,
    microarchitectures: Vec<Spanned<String>>,
    sockets: u32,
    vcpus: u32,
    memory_gib: f64,
    ssds: u32,
    hdds: u32,
    gpus: u32,
    source: Spanned<String>,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstance {
    name: String,
    family: String,
    category: String,
    vcpus: u32,
    memory_gib: f64,
    platform: Spanned<String>,
    source: Spanned<String>,
}

pub(super) fn validate_catalogue(
    raw: RawCatalogue,
    issues: &mut Issues<'_>,
    provider: Provider,
    microarchs: Option<&Microarchs>,
) -> Option<CloudCatalogue> {
    let _ = raw.meta;
    let p = &raw.provider;
    if p.name.get_ref() != provider.as_str() {
        issues.at(
            p.name.span(),
            "provider.name",
            format!("this file is for `{}`", provider.as_str()),
        );
    }
    let pre = provider.as_str();
    let param = |name: &str, f: &RawFactor, issues: &mut Issues<'_>| {
        raw::param(
            &format!("{pre}_{name}"),
            f,
            &raw.sources,
            &format!("provider.{name}"),
            issues,
        )
    };
    let pue = param("pue", &p.pue, issues);
    let min = param("min_watts_per_vcpu", &p.min_watts_per_vcpu, issues);
    let max = param("max_watts_per_vcpu", &p.max_watts_per_vcpu, issues);
    let replication = param(
        "block_storage_replication",
        &p.block_storage_replication,
        issues,
    );
    let market = param("market_kgco2e_per_kwh", &p.market_kgco2e_per_kwh, issues);
    let market_basis = Text::new(
        p.market_kgco2e_per_kwh
            .note
            .as_deref()
            .unwrap_or("provider's market-based claim"),
    );

    let mut platforms = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for pl in &raw.platform {
        let span = pl.span();
        let pl = pl.get_ref();
        let key = format!("platform.{}", pl.id);
        if by_id.contains_key(&pl.id) {
            issues.at(span, &key, "listed twice");
            continue;
        }
        let mut uarchs = Vec::new();
        for m in &pl.microarchitectures {
            match microarchs.and_then(|all| all.index(m.get_ref())) {
                Some(i) => uarchs.push(i),
                None if microarchs.is_some() => issues.at(
                    m.span(),
                    &format!("{key}.microarchitectures"),
                    format!("`{}` is not in microarchitectures.toml", m.get_ref()),
                ),
                None => {}
            }
        }
        if pl.sockets == 0 || pl.vcpus == 0 || !(pl.memory_gib.is_finite() && pl.memory_gib >= 0.0)
        {
            issues.at(
                span.clone(),
                &key,
                "sockets and vcpus must be >= 1, memory_gib >= 0",
            );
        }
        let Some(src) = raw::source(&raw.sources, &pl.source, &format!("{key}.source"), issues)
        else {
            continue;
        };
        by_id.insert(pl.id.clone(), platforms.len());
        platforms.push(Platform {
            id: pl.id.clone(),
            microarchs: uarchs,
            sockets: f64::from(pl.sockets),
            vcpus: f64::from(pl.vcpus),
            memory_gib: pl.memory_gib,
            ssds: f64::from(pl.ssds),
            hdds: f64::from(pl.hdds),
            gpus: f64::from(pl.gpus),
            factor: raw::factor(
                format!("{pre}_platform_vcpus:{}", pl.id),
                f64::from(pl.vcpus),
                "vCPUs",
                &src,
            ),
        });
    }

    let mut instances = Vec::new();
    let mut names = BTreeSet::new();
    let mut families = BTreeSet::new();
    for inst in &raw.instance {
        let span = inst.span();
        let inst = inst.get_ref();
        let key = format!("instance.{}", inst.name);
        if !names.insert(inst.name.clone()) {
            issues.at(span, &key, "listed twice");
            continue;
        }
        let _ = raw::source(&raw.sources, &inst.source, &format!("{key}.source"), issues);
        if !["general", "compute", "memory"].contains(&inst.category.as_str()) {
            issues.at(
                span.clone(),
                &format!("{key}.category"),
                "must be general, compute or memory",
            );
        }
        let Some(&platform) = by_id.get(inst.platform.get_ref()) else {
            issues.at(
                inst.platform.span(),
                &format!("{key}.platform"),
                format!("platform `{}` is not defined", inst.platform.get_ref()),
            );
            continue;
        };
        let host = &platforms[platform];
        if inst.vcpus == 0
            || f64::from(inst.vcpus) > host.vcpus
            || !(inst.memory_gib > 0.0 && inst.memory_gib <= host.memory_gib)
        {
            issues.at(
                span,
                &key,
                format!(
                    "vcpus ({}) and memory_gib ({}) must be above 0 and within the platform's ({}, {})",
                    inst.vcpus, inst.memory_gib, host.vcpus, host.memory_gib
                ),
            );
            continue;
        }
        families.insert(inst.family.clone());
        instances.push(Instance {
            name: Text::new(&inst.name),
            family: Text::new(&inst.family),
            category: Text::new(&inst.category),
            vcpus: inst.vcpus,
            memory_gib: inst.memory_gib,
            platform,
        });
    }
    Some(CloudCatalogue {
        provider,
        pue: pue?,
        min_watts_per_vcpu: min?,
        max_watts_per_vcpu: max?,
        block_storage_replication: replication?,
        market_kgco2e_per_kwh: market?,
        market_basis,
        platforms,
        instances,
        families,
    })
}

/// Where a region's grid factor comes from.
#[derive(Debug, Clone)]
pub enum Grid {
    /// The UK government factor for the reporting year (same as on-premises).
    Uk,
    /// A factor of the region table, kgCO2e/kWh.
    Factor(FactorRef),
}

/// A cloud region.
#[derive(Debug, Clone)]
pub struct Region {
    /// Provider.
    pub provider: Provider,
    /// Region code, e.g. `eu-west-2`.
    pub name: Text,
    /// Grid factor.
    pub grid: Grid,
    /// Published PUE of the region, when there is one.
    pub pue: Option<FactorRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRegions {
    #[serde(default)]
    meta: RawMeta,
    #[serde(default)]
    sources: RawSources,
    #[serde(default)]
    region: Vec<Spanned<RawRegion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegion {
    provider: Provider,
    region: String,
    #[allow(dead_code)]
    location: String,
    #[serde(default)]
    grid: Option<Spanned<String>>,
    #[serde(default)]
    grid_kgco2e_per_kwh: Option<Spanned<f64>>,
    #[serde(default)]
    source: Option<Spanned<String>>,
    #[serde(default)]
    pue: Option<Spanned<f64>>,
    #[serde(default)]
    pue_source: Option<Spanned<String>>,
    #[allow(dead_code)]
    #[serde(default)]
    note: Option<String>,
}

pub(super) fn validate_regions(raw: RawRegions, issues: &mut Issues<'_>) -> Vec<Region> {
    let _ = raw.meta;
    let mut out: Vec<Region> = Vec::new();
    for r in &raw.region {
        let span = r.span();
        let r = r.get_ref();
        let key = format!("region.{}/{}", r.provider.as_str(), r.region);
        if out
            .iter()
            .any(|o| o.provider == r.provider && o.name.as_str() == r.region)
        {
            issues.at(span, &key, "listed twice");
            continue;
        }
        let grid = match (&r.grid, &r.grid_kgco2e_per_kwh, &r.source) {
            (Some(g), None, None) if g.get_ref() == "uk" => Grid::Uk,
            (Some(g), _, _) if g.get_ref() != "uk" => {
                issues.at(
                    g.span(),
                    &format!("{key}.grid"),
                    "the only named grid is `uk`",
                );
                continue;
            }
            (None, Some(f), Some(s)) => {
                let ok = raw::non_negative(f, &format!("{key}.grid_kgco2e_per_kwh"), issues);
                let Some(src) = raw::source(&raw.sources, s, &format!("{key}.source"), issues)
                else {
                    continue;
                };
                if !ok {
                    continue;
                }
                Grid::Factor(raw::factor(
                    format!(
                        "region_grid_kgco2e_per_kwh:{}/{}",
                        r.provider.as_str(),
                        r.region
                    ),
                    *f.get_ref(),
                    "kgCO2e/kWh",
                    &src,
                ))
            }
            _ => {
                issues.at(
                    span,
                    &key,
                    "give either grid = \"uk\", or grid_kgco2e_per_kwh with its source",
                );
                continue;
            }
        };
        let pue = match (&r.pue, &r.pue_source) {
            (Some(p), Some(s)) => {
                let ok = raw::non_negative(p, &format!("{key}.pue"), issues) && *p.get_ref() >= 1.0;
                if !ok {
                    issues.at(p.span(), &format!("{key}.pue"), "a PUE is at least 1");
                }
                raw::source(&raw.sources, s, &format!("{key}.pue_source"), issues).map(|src| {
                    raw::factor(
                        format!("region_pue:{}/{}", r.provider.as_str(), r.region),
                        *p.get_ref(),
                        "ratio",
                        &src,
                    )
                })
            }
            (None, None) => None,
            _ => {
                issues.at(
                    span,
                    &format!("{key}.pue"),
                    "give pue and pue_source together",
                );
                None
            }
        };
        out.push(Region {
            provider: r.provider,
            name: Text::new(&r.region),
            grid,
            pue,
        });
    }
    out
}
