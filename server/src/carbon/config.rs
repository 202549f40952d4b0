//! The carbon settings the collector's config embeds (`[carbon]` in `server.toml`): the
//! reporting year, per-site PUE and supplier factor, the hypervisor host a VM's embodied
//! share is taken from, and the scenarios.
//!
//! These are serde types with `deny_unknown_fields`; [`CarbonConfig::problems`] checks
//! them against the loaded data and names every problem by its key, so the server's
//! config loader can locate them. This module must not read files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::carbon::data::{CarbonData, Provider};
use crate::carbon::input::Readiness;

/// `[carbon]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarbonConfig {
    /// The year of the UK factor set; the latest in `grid-uk.toml` when absent.
    #[serde(default)]
    pub reporting_year: Option<i32>,
    /// Asset lifespan in years for embodied carbon; `lifespan_years` of the method when
    /// absent.
    #[serde(default)]
    pub lifespan_years: Option<f64>,
    /// Per-site settings, by the value of the hosts' `site` label.
    #[serde(default)]
    pub sites: BTreeMap<String, SiteConfig>,
    /// The hypervisor host VMs run on; the method's `hypervisor_*` factors when absent.
    #[serde(default)]
    pub hypervisor_host: Option<HypervisorHostConfig>,
    /// Scenarios to evaluate for every matching server.
    #[serde(default)]
    pub scenarios: Vec<ScenarioConfig>,
    /// How a host's cloud readiness follows from an audit profile's results.
    #[serde(default)]
    pub readiness: ReadinessConfig,
}

/// The name the estate's on-premises figures go by in metrics
/// (`estate_carbon_*{scenario="onprem"}`); no scenario may take it.
pub const ONPREM: &str = "onprem";

/// The audit profile readiness is read from when `[carbon.readiness]` names none.
pub const DEFAULT_READINESS_PROFILE: &str = "cloud-readiness";
/// Above this share of the readiness profile's applicable checks ending in `error`, a
/// host's readiness is `unknown` (`[carbon.readiness] unknown_above_ratio`).
pub const DEFAULT_UNKNOWN_ABOVE_RATIO: f64 = 0.5;

/// `[carbon.readiness]`: a host's cloud readiness from the results of an audit profile
/// (`docs/methodology.md`, Readiness). A failing check gives the readiness its severity
/// maps to in `on_fail`; `not_ready` wins, then `unknown` when most of the profile's
/// applicable checks could not be evaluated, then the worst of the rest; no failing
/// check is `ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadinessConfig {
    /// The audit profile evaluated ([`DEFAULT_READINESS_PROFILE`]).
    #[serde(default = "default_readiness_profile")]
    pub profile: String,
    /// The readiness a failing (or waived) check gives, by its severity.
    #[serde(default)]
    pub on_fail: OnFail,
    /// Above this share (0-1) of applicable checks in `error`, the host is `unknown`
    /// ([`DEFAULT_UNKNOWN_ABOVE_RATIO`]).
    #[serde(default = "default_unknown_above_ratio")]
    pub unknown_above_ratio: f64,
}

fn default_readiness_profile() -> String {
    DEFAULT_READINESS_PROFILE.to_owned()
}

fn default_unknown_above_ratio() -> f64 {
    DEFAULT_UNKNOWN_ABOVE_RATIO
}

impl Default for ReadinessConfig {
    fn default() -> Self {
        ReadinessConfig {
            profile: default_readiness_profile(),
            on_fail: OnFail::default(),
            unknown_above_ratio: DEFAULT_UNKNOWN_ABOVE_RATIO,
        }
    }
}

/// `[carbon.readiness.on_fail]`: the readiness a failing check of each severity gives.
/// Defaults: critical and high `not_ready`, the others `conditionally_ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnFail {
    /// A failing critical check.
    #[serde(default = "not_ready")]
    pub critical: Readiness,
    /// A failing high check.
    #[serde(default = "not_ready")]
    pub high: Readiness,
    /// A failing medium check.
    #[serde(default = "conditionally_ready")]
    pub medium: Readiness,
    /// A failing low check.
    #[serde(default = "conditionally_ready")]
    pub low: Readiness,
    /// A failing info check.
    #[serde(default = "conditionally_ready")]
    pub info: Readiness,
}

fn not_ready() -> Readiness {
    Readiness::NotReady
}

fn conditionally_ready() -> Readiness {
    Readiness::ConditionallyReady
}

impl Default for OnFail {
    fn default() -> Self {
        OnFail {
            critical: Readiness::NotReady,
            high: Readiness::NotReady,
            medium: Readiness::ConditionallyReady,
            low: Readiness::ConditionallyReady,
            info: Readiness::ConditionallyReady,
        }
    }
}

/// `[carbon.sites.NAME]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The site's PUE (the method's `onprem_pue` and its range when absent; a configured
    /// PUE is taken as exact).
    #[serde(default)]
    pub pue: Option<f64>,
    /// The electricity supplier's factor for market-based reporting, kgCO2e/kWh; the
    /// location-based factor when absent.
    #[serde(default)]
    pub market_kgco2e_per_kwh: Option<f64>,
}

/// `[carbon.hypervisor_host]`: the host a VM's embodied share is taken from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HypervisorHostConfig {
    /// Sockets.
    pub sockets: u32,
    /// Hardware threads (the share is VM vCPUs / threads).
    pub threads: u32,
    /// Memory, GiB.
    pub memory_gib: f64,
    /// Local SSDs.
    #[serde(default)]
    pub ssds: u32,
    /// Local HDDs.
    #[serde(default)]
    pub hdds: u32,
}

/// What a scenario does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScenarioKind {
    /// Move to a cloud provider's region.
    Cloud,
    /// Decommission under-utilised servers.
    Retire,
}

/// How cloud instances are sized.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// From the observed percentile times the comfort factor.
    #[default]
    Performance,
    /// As many vCPUs and as much memory as the host has.
    AsOnprem,
}

/// `[[carbon.scenarios]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioConfig {
    /// Unique name, shown in results.
    pub name: String,
    /// Cloud or retire.
    pub kind: ScenarioKind,
    /// Provider (cloud scenarios).
    #[serde(default)]
    pub provider: Option<Provider>,
    /// Region code, e.g. `eu-west-2` (cloud scenarios).
    #[serde(default)]
    pub region: Option<String>,
    /// Instance families to choose from, e.g. `["m6i", "c6i", "r6i"]` (cloud scenarios).
    #[serde(default)]
    pub families: Vec<String>,
    /// Sizing rule.
    #[serde(default)]
    pub sizing: Sizing,
    /// Head-room over the observed percentile; the method's `comfort_factor` when absent.
    #[serde(default)]
    pub comfort_factor: Option<f64>,
    /// Percentile of the 10-minute peaks sized for; the method's `sizing_percentile`
    /// when absent.
    #[serde(default)]
    pub percentile: Option<f64>,
    /// Label selector: every label given must equal the host's. Empty selects every
    /// server.
    #[serde(default)]
    pub hosts: BTreeMap<String, String>,
    /// Retire scenarios: CPU at the percentile below this ratio; the method's
    /// `retire_cpu_p95_below_ratio` when absent.
    #[serde(default)]
    pub retire_cpu_p95_below: Option<f64>,
    /// Override of the provider's market-based claim, kgCO2e/kWh.
    #[serde(default)]
    pub market_kgco2e_per_kwh: Option<f64>,
}

/// One problem with the carbon settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, dotted from `carbon`, e.g. `carbon.scenarios[1].region`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

fn check_ratio(out: &mut Vec<Problem>, key: String, v: f64, min: f64, max: f64) {
    if !(v.is_finite() && v >= min && v <= max) {
        out.push(Problem {
            key,
            message: format!("must be between {min} and {max}, found {v}"),
        });
    }
}

impl CarbonConfig {
    /// Every problem with these settings given the data (unknown year, region, family,
    /// out-of-range values, duplicate scenario names).
    pub fn problems(&self, data: &CarbonData) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Some(y) = self.reporting_year
            && data.uk_factor(Some(y)).is_none()
        {
            let years: Vec<String> = data.grid_uk.iter().map(|g| g.year.to_string()).collect();
            out.push(Problem {
                key: "carbon.reporting_year".to_owned(),
                message: format!(
                    "no UK factor for {y} (grid-uk.toml has {})",
                    years.join(", ")
                ),
            });
        }
        if let Some(l) = self.lifespan_years {
            check_ratio(&mut out, "carbon.lifespan_years".to_owned(), l, 0.5, 50.0);
        }
        for (name, site) in &self.sites {
            if let Some(p) = site.pue {
                check_ratio(&mut out, format!("carbon.sites.{name}.pue"), p, 1.0, 5.0);
            }
            if let Some(m) = site.market_kgco2e_per_kwh {
                check_ratio(
                    &mut out,
                    format!("carbon.sites.{name}.market_kgco2e_per_kwh"),
                    m,
                    0.0,
                    2.0,
                );
            }
        }
        if let Some(h) = &self.hypervisor_host
            && (h.sockets == 0
                || h.threads == 0
                || !(h.memory_gib.is_finite() && h.memory_gib >= 0.0))
        {
            out.push(Problem {
                key: "carbon.hypervisor_host".to_owned(),
                message: "sockets and threads must be at least 1 and memory_gib >= 0".to_owned(),
            });
        }
        let r = &self.readiness;
        if r.profile.trim().is_empty() {
            out.push(Problem {
                key: "carbon.readiness.profile".to_owned(),
                message: "must name an audit profile".to_owned(),
            });
        }
        check_ratio(
            &mut out,
            "carbon.readiness.unknown_above_ratio".to_owned(),
            r.unknown_above_ratio,
            0.0,
            1.0,
        );
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.scenarios.iter().enumerate() {
            let key = |k: &str| format!("carbon.scenarios[{i}].{k}");
            if s.name.trim().is_empty() || !names.insert(s.name.as_str()) {
                out.push(Problem {
                    key: key("name"),
                    message: format!("scenario names must be unique and not empty: `{}`", s.name),
                });
            } else if s.name == ONPREM {
                out.push(Problem {
                    key: key("name"),
                    message: format!(
                        "`{ONPREM}` is reserved for the on-premises figures (metrics label \
                         `scenario=\"{ONPREM}\"`); choose another name"
                    ),
                });
            }
            if let Some(c) = s.comfort_factor {
                check_ratio(&mut out, key("comfort_factor"), c, 0.1, 10.0);
            }
            if let Some(p) = s.percentile {
                check_ratio(&mut out, key("percentile"), p, 1.0, 100.0);
            }
            if let Some(t) = s.retire_cpu_p95_below {
                check_ratio(&mut out, key("retire_cpu_p95_below"), t, 0.0, 1.0);
            }
            if let Some(m) = s.market_kgco2e_per_kwh {
                check_ratio(&mut out, key("market_kgco2e_per_kwh"), m, 0.0, 2.0);
            }
            match s.kind {
                ScenarioKind::Retire => {
                    if s.provider.is_some() || s.region.is_some() || !s.families.is_empty() {
                        out.push(Problem {
                            key: key("kind"),
                            message: "a retire scenario takes no provider, region or families"
                                .to_owned(),
                        });
                    }
                }
                ScenarioKind::Cloud => {
                    let (Some(provider), Some(region)) = (s.provider, &s.region) else {
                        out.push(Problem {
                            key: key("provider"),
                            message: "a cloud scenario needs a provider and a region".to_owned(),
                        });
                        continue;
                    };
                    if data.region(provider, region).is_none() {
                        let known: Vec<&str> = data
                            .regions
                            .iter()
                            .filter(|r| r.provider == provider)
                            .map(|r| r.name.as_str())
                            .collect();
                        out.push(Problem {
                            key: key("region"),
                            message: format!(
                                "no region `{region}` for {} in cloud-regions.toml (known: {})",
                                provider.as_str(),
                                known.join(", ")
                            ),
                        });
                    }
                    let Some(catalogue) = data.cloud(provider) else {
                        continue;
                    };
                    if s.families.is_empty() {
                        out.push(Problem {
                            key: key("families"),
                            message: "name at least one instance family".to_owned(),
                        });
                    }
                    for f in &s.families {
                        if !catalogue.families.contains(f) {
                            let known: Vec<&str> =
                                catalogue.families.iter().map(String::as_str).collect();
                            out.push(Problem {
                                key: key("families"),
                                message: format!(
                                    "no family `{f}` in cloud-{}.toml (known: {})",
                                    provider.as_str(),
                                    known.join(", ")
                                ),
                            });
                        }
                    }
                }
            }
        }
        out
    }
}
