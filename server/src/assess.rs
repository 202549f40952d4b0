//! Assessing a host: facts from what the store keeps, the check evaluation and score, the
//! cloud readiness (the `[carbon.readiness]` profile's results) and the carbon estimate
//! (its confidence from the stored series' coverage of the last
//! [`DEFAULT_SERIES_DAYS`] days), in one pure step ([`Assessor::assess`]); plus loading everything
//! that step needs (the check catalogue, profiles, waivers, the OS lifecycle table and the
//! carbon data) from a config directory or from the copy embedded in the binary.
//!
//! This module wires the pure cores ([`crate::facts`], [`crate::checks`],
//! [`crate::carbon`]) together; it does no I/O beyond loading config, and knows nothing of
//! HTTP or the store's backends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use estate_protocol::{Inventory, Report};
use serde::Serialize;

use crate::carbon::{
    CarbonConfig, CarbonData, Estimator, HostEstimate, HostInput, HostReadiness, Provider,
    ReadinessConfig, ScenarioConfig, ScenarioKind, Sizing, WhatIf, covered_seconds, host_readiness,
};
use crate::checks::{
    Catalogue, CheckResult, ChecksConfig, ChecksPaths, HostRef, HostScore, Improvement, Plan,
    Profiles, ScoringConfig, Waivers, host_improvements, score_host,
};
use crate::facts::{self, DeriveOptions, FactsInput, HostMeta, LifecycleTable};
use crate::store::{AssessmentRecord, HostRecord, SeriesPoint};

/// The config shipped with this build (`config/checks`, `config/profiles`,
/// `config/data`), embedded by `build.rs`.
pub mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_config.rs"));
}

/// The profile the collector evaluates when none is configured.
pub const DEFAULT_PROFILE: &str = "baseline";
/// How far back the series used for facts reaches, days.
pub const DEFAULT_SERIES_DAYS: i64 = 30;

/// Why the assessment config could not be loaded: every problem, located.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    /// `config_dir` is not a directory.
    #[error("{at}`checks.config_dir`: `{path}` is not a directory")]
    ConfigDir {
        /// Where the setting is written (`FILE:LINE:COL: `), or empty.
        at: String,
        /// The directory.
        path: PathBuf,
    },
    /// The checks, profiles or waivers.
    #[error("{0}")]
    Checks(crate::checks::LoadError),
    /// The OS lifecycle table.
    #[error("{0}")]
    Lifecycle(estate_agent::config::located::ConfigError),
    /// The carbon data.
    #[error("{0}")]
    CarbonData(crate::carbon::DataError),
    /// The `[carbon]` settings against the data, each as `FILE:LINE:COL: `key`: message`
    /// where the setting's place is known.
    #[error("{}", .0.join("\n"))]
    CarbonConfig(Vec<String>),
    /// The profile asked for (`checks.profile`, or `carbon.readiness.profile` when
    /// written) does not exist.
    #[error("{at}no audit profile `{name}` (known: {known})")]
    UnknownProfile {
        /// Where the setting is written (`FILE:LINE:COL: `checks.profile`: `), or empty.
        at: String,
        /// The name asked for.
        name: String,
        /// The profiles that exist.
        known: String,
    },
    /// Several of the above, in the order checked.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<AssessError>),
}

impl AssessError {
    fn from_list(mut errors: Vec<AssessError>) -> Option<AssessError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(AssessError::Several(errors)),
        }
    }
}

/// The scenarios evaluated when `[carbon]` configures none: a move to each provider's
/// London region with its general-purpose, memory- and compute-optimised families of
/// the current generation, and retiring idle servers (the worked examples of
/// `docs/methodology.md`).
pub fn default_scenarios() -> Vec<ScenarioConfig> {
    let scenario = |name: &str, kind: ScenarioKind| ScenarioConfig {
        name: name.to_owned(),
        kind,
        provider: None,
        region: None,
        families: Vec::new(),
        sizing: Sizing::Performance,
        comfort_factor: None,
        percentile: None,
        hosts: BTreeMap::new(),
        retire_cpu_p95_below: None,
        market_kgco2e_per_kwh: None,
    };
    let cloud =
        |name: &str, provider: Provider, region: &str, families: [&str; 3]| ScenarioConfig {
            provider: Some(provider),
            region: Some(region.to_owned()),
            families: families.iter().map(|f| (*f).to_owned()).collect(),
            ..scenario(name, ScenarioKind::Cloud)
        };
    vec![
        cloud(
            "azure-uksouth",
            Provider::Azure,
            "uksouth",
            ["Dsv5", "Esv5", "Fsv2"],
        ),
        cloud(
            "aws-london",
            Provider::Aws,
            "eu-west-2",
            ["m6i", "r6i", "c6i"],
        ),
        cloud(
            "gcp-london",
            Provider::Gcp,
            "europe-west2",
            ["n2-standard", "n2-highmem", "n2-highcpu"],
        ),
        scenario("retire-idle", ScenarioKind::Retire),
    ]
}

/// The `[carbon]` settings when none are written: the defaults of
/// [`CarbonConfig`] with [`default_scenarios`].
pub fn default_carbon() -> CarbonConfig {
    CarbonConfig {
        scenarios: default_scenarios(),
        ..CarbonConfig::default()
    }
}

/// Where the assessment config comes from and how to use it.
#[derive(Debug, Clone, PartialEq)]
pub struct AssessConfig {
    /// A directory with `checks/`, `profiles/`, `waivers.toml` and `data/`; the embedded
    /// copy when `None`. A part missing from the directory falls back to the embedded one
    /// (except waivers, which are only ever the operator's).
    pub config_dir: Option<PathBuf>,
    /// The profile evaluated on ingest.
    pub profile: String,
    /// Bands, the critical cap and the estate weighting.
    pub scoring: ScoringConfig,
    /// Facts thresholds (ending-soon window, stale cutoff).
    pub derive: DeriveOptions,
    /// The `[carbon]` settings ([`default_carbon`] when none are written).
    pub carbon: CarbonConfig,
    /// Where each setting is written, by dotted key (`carbon.scenarios[1]`,
    /// `checks.profile`, ...): `FILE:LINE:COL`, or how it was given (`--year`). Problems
    /// only found once the data is loaded are located with it (longest key prefix).
    pub origins: BTreeMap<String, String>,
}

impl AssessConfig {
    /// `FILE:LINE:COL: ` of `key` or of its nearest parent with a known place; empty when
    /// none is known.
    pub fn origin(&self, key: &str) -> String {
        let mut k = key;
        loop {
            if let Some(at) = self.origins.get(k) {
                return format!("{at}: ");
            }
            match k.rfind(['.', '[']) {
                Some(i) => k = &k[..i],
                None => return String::new(),
            }
        }
    }
}

impl Default for AssessConfig {
    fn default() -> Self {
        AssessConfig {
            config_dir: None,
            profile: DEFAULT_PROFILE.to_owned(),
            scoring: ScoringConfig::default(),
            derive: DeriveOptions::default(),
            carbon: default_carbon(),
            origins: BTreeMap::new(),
        }
    }
}

/// Everything needed to assess hosts, loaded and validated once.
#[derive(Debug)]
pub struct Assessor {
    checks: ChecksConfig,
    plan: Plan,
    scoring: ScoringConfig,
    lifecycle: LifecycleTable,
    estimator: Estimator,
    derive: DeriveOptions,
    readiness: ReadinessConfig,
    /// The readiness profile's plan (without evidence), or why there is none.
    readiness_plan: Result<Plan, String>,
}

/// One host's assessment.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    /// When it was made.
    pub assessed_at: DateTime<Utc>,
    /// The profile evaluated.
    pub profile: String,
    /// The score, band and tallies.
    pub score: HostScore,
    /// Every check's result.
    pub results: Vec<CheckResult>,
    /// Failing checks ranked by the score they would add.
    pub improvements: Vec<Improvement>,
    /// Cloud readiness from the readiness profile, and what it rests on (absent
    /// without a report, like `carbon`).
    pub readiness: Option<HostReadiness>,
    /// Energy and carbon, on-premises and per scenario (absent without a report).
    pub carbon: Option<HostEstimate>,
    /// The facts the checks read.
    pub facts: serde_json::Value,
}

/// What the store gives for one host.
#[derive(Debug, Clone, Copy)]
pub struct AssessInput<'a> {
    /// The host (labels, first/last seen).
    pub host: &'a HostRecord,
    /// Its stored inventory, parsed.
    pub inventory: Option<&'a Inventory>,
    /// Its latest report, parsed.
    pub report: Option<&'a Report>,
    /// Its recent series, oldest first.
    pub series: &'a [SeriesPoint],
}

/// The embedded carbon data files in the order [`crate::carbon::DATA_FILES`] wants.
fn embedded_carbon_data() -> Vec<(String, String)> {
    crate::carbon::DATA_FILES
        .iter()
        .map(|name| {
            let path = format!("config/data/{name}");
            let text = embedded::DATA
                .iter()
                .find(|(p, _)| *p == path)
                .map_or("", |(_, t)| *t);
            (path, text.to_owned())
        })
        .collect()
}

impl Assessor {
    /// Loads and validates the check config, lifecycle table and carbon data (from
    /// `config.config_dir`, else embedded), and resolves the profile. Every problem of
    /// every part is reported ([`AssessError::Several`]), each located.
    pub fn load(config: &AssessConfig) -> Result<Assessor, AssessError> {
        let dir = config.config_dir.as_deref();
        if let Some(d) = dir
            && !d.is_dir()
        {
            return Err(AssessError::ConfigDir {
                at: config.origin("checks.config_dir"),
                path: d.to_owned(),
            });
        }
        let mut errors = Vec::new();
        let checks = match dir {
            Some(dir) if dir.join("checks").is_dir() => {
                ChecksConfig::load(&ChecksPaths::under(dir)).map_err(AssessError::Checks)
            }
            _ => shipped_checks(dir),
        }
        .map_err(|e| errors.push(e))
        .ok();
        let lifecycle = match dir.map(|d| d.join("data/os-lifecycle.toml")) {
            Some(path) if path.is_file() => LifecycleTable::load(&path),
            _ => LifecycleTable::shipped(),
        }
        .map_err(|e| errors.push(AssessError::Lifecycle(e)))
        .ok();
        let data = match dir.map(|d| d.join("data")) {
            Some(path) if path.join("carbon-method.toml").is_file() => CarbonData::load(&path),
            _ => CarbonData::parse(&embedded_carbon_data()),
        }
        .map_err(|e| errors.push(AssessError::CarbonData(e)))
        .ok();
        let estimator = data.and_then(|data| {
            Estimator::new(Arc::new(data), &config.carbon)
                .map_err(|problems| {
                    errors.push(AssessError::CarbonConfig(
                        problems
                            .into_iter()
                            .map(|p| format!("{}{p}", config.origin(&p.key)))
                            .collect(),
                    ));
                })
                .ok()
        });
        let plan = checks.as_ref().and_then(|checks| {
            let plan = checks.plan(&config.profile);
            if plan.is_none() {
                let at = config.origin("checks.profile");
                errors.push(AssessError::UnknownProfile {
                    at: if at.is_empty() {
                        at
                    } else {
                        format!("{at}`checks.profile`: ")
                    },
                    name: config.profile.clone(),
                    known: checks.profiles.names().join(", "),
                });
            }
            plan
        });
        let readiness = &config.carbon.readiness;
        let readiness_plan = checks.as_ref().map(|checks| {
            match checks.plan(&readiness.profile) {
                Some(plan) => Ok(plan.without_evidence()),
                None => {
                    let key = "carbon.readiness.profile";
                    if config.origins.contains_key(key) {
                        // Written in server.toml: a mistake to report.
                        errors.push(AssessError::UnknownProfile {
                            at: format!("{}`{key}`: ", config.origin(key)),
                            name: readiness.profile.clone(),
                            known: checks.profiles.names().join(", "),
                        });
                    }
                    Err(format!(
                        "no audit profile `{}` in the check config (known: {})",
                        readiness.profile,
                        checks.profiles.names().join(", ")
                    ))
                }
            }
        });
        match (checks, plan, lifecycle, estimator, readiness_plan) {
            (Some(checks), Some(plan), Some(lifecycle), Some(estimator), Some(readiness_plan))
                if errors.is_empty() =>
            {
                if let Err(why) = &readiness_plan {
                    tracing::warn!(reason = %why, "cloud readiness is unknown for every host");
                }
                Ok(Assessor {
                    checks,
                    plan,
                    scoring: config.scoring.clone(),
                    lifecycle,
                    estimator,
                    derive: config.derive,
                    readiness: readiness.clone(),
                    readiness_plan,
                })
            }
            _ => Err(AssessError::from_list(errors).unwrap_or(AssessError::Several(Vec::new()))),
        }
    }

    /// The check config in use.
    pub fn checks(&self) -> &ChecksConfig {
        &self.checks
    }

    /// The plan of the profile evaluated on ingest.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The scoring settings.
    pub fn scoring(&self) -> &ScoringConfig {
        &self.scoring
    }

    /// The carbon estimator.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// The facts of a host.
    pub fn facts(&self, input: &AssessInput<'_>, now: DateTime<Utc>) -> serde_json::Value {
        facts::derive(&FactsInput {
            host: HostMeta::from(input.host),
            inventory: input.inventory,
            inventory_collected_at: input.host.inventory_collected_at,
            report: input.report,
            series: input.series,
            now,
            lifecycle: &self.lifecycle,
            options: self.derive,
        })
        .to_json_value()
    }

    /// Assesses one host with `plan` (the collector's profile when `None`).
    pub fn assess(
        &self,
        input: &AssessInput<'_>,
        plan: Option<&Plan>,
        now: DateTime<Utc>,
    ) -> Assessment {
        let plan = plan.unwrap_or(&self.plan);
        let facts = self.facts(input, now);
        let host = HostRef {
            id: &input.host.host_id,
            hostname: Some(&input.host.hostname),
            labels: &input.host.labels,
            facts: &facts,
        };
        let evaluation = plan.evaluate(&host, now);
        let score = score_host(&evaluation.results, &self.scoring, plan.fail_below());
        let improvements = host_improvements(&evaluation.results);
        let (readiness, carbon) =
            match self.carbon_of(input, &host, Some((plan, &evaluation.results)), now) {
                Some((r, c)) => (Some(r), Some(c)),
                None => (None, None),
            };
        Assessment {
            assessed_at: now,
            profile: plan.profile().to_owned(),
            score,
            results: evaluation.results,
            improvements,
            readiness,
            carbon,
            facts,
        }
    }

    /// A host's cloud readiness and carbon estimate, as [`Assessor::assess`] makes them
    /// (`None` without a report): what `estate-server carbon` shows.
    pub fn carbon(
        &self,
        input: &AssessInput<'_>,
        now: DateTime<Utc>,
    ) -> Option<(HostReadiness, HostEstimate)> {
        input.report?;
        let facts = self.facts(input, now);
        let host = HostRef {
            id: &input.host.host_id,
            hostname: Some(&input.host.hostname),
            labels: &input.host.labels,
            facts: &facts,
        };
        self.carbon_of(input, &host, None, now)
    }

    /// The readiness (reusing `evaluated`, the results of a plan already run, when it
    /// is the readiness profile's) and the estimate, with the utilisation's coverage
    /// taken over the assessment window from the stored series.
    fn carbon_of(
        &self,
        input: &AssessInput<'_>,
        host: &HostRef<'_>,
        evaluated: Option<(&Plan, &[CheckResult])>,
        now: DateTime<Utc>,
    ) -> Option<(HostReadiness, HostEstimate)> {
        let report = input.report?;
        let profile = &self.readiness.profile;
        let readiness = match (&self.readiness_plan, evaluated) {
            (Err(why), _) => HostReadiness::unavailable(profile, why.clone()),
            (Ok(_), Some((plan, results))) if plan.profile() == profile.as_str() => {
                host_readiness(&self.readiness, profile, results)
            }
            (Ok(plan), _) => {
                host_readiness(&self.readiness, profile, &plan.evaluate(host, now).results)
            }
        };
        let mut carbon_input = HostInput::from_report(report, input.inventory);
        carbon_input.readiness = readiness.readiness;
        if let Some(u) = carbon_input.utilisation.take() {
            let from = now - chrono::Duration::days(DEFAULT_SERIES_DAYS);
            let covered = covered_seconds(
                input
                    .series
                    .iter()
                    .filter(|p| p.cpu_mean_ratio.is_some())
                    .map(|p| (p.window_start, p.window_end)),
                from,
                now,
            );
            let seconds = |d: chrono::Duration| d.num_milliseconds() as f64 / 1000.0;
            carbon_input.utilisation = Some(u.over_window(
                covered,
                seconds(now - from),
                seconds(report.window.end - report.window.start),
            ));
        }
        let estimate = self.estimator.estimate(&carbon_input, &WhatIf::default());
        Some((readiness, estimate))
    }
}

impl Assessment {
    /// The record the store keeps (statuses tracked over time, the rest as JSON).
    pub fn to_record(&self, host_id: &str) -> Result<AssessmentRecord, serde_json::Error> {
        Ok(AssessmentRecord {
            host_id: host_id.to_owned(),
            assessed_at: self.assessed_at,
            profile: self.profile.clone(),
            score: self.score.score,
            band: self.score.band.map(|b| b.as_str().to_owned()),
            statuses: self
                .results
                .iter()
                .map(|r| (r.id.to_string(), r.status.as_str().to_owned()))
                .collect(),
            detail_json: serde_json::to_string(&Stored {
                assessed_at: self.assessed_at,
                profile: &self.profile,
                score: &self.score,
                results: &self.results,
                improvements: &self.improvements,
                readiness: self.readiness.as_ref(),
                carbon: self.carbon.as_ref(),
                facts: StoredFacts(&self.facts),
            })?,
            carbon_json: self
                .carbon
                .as_ref()
                .map(|c| serde_json::to_string(&c.compact()))
                .transpose()?,
            view_json: Some(crate::report::view::to_json(self)?),
        })
    }
}

/// An assessment as the store keeps it: everything, with only the facts a reader of
/// stored assessments uses ([`STORED_FACTS`]).
#[derive(Serialize)]
struct Stored<'a> {
    assessed_at: DateTime<Utc>,
    profile: &'a str,
    score: &'a HostScore,
    results: &'a [CheckResult],
    improvements: &'a [Improvement],
    readiness: Option<&'a HostReadiness>,
    carbon: Option<&'a HostEstimate>,
    facts: StoredFacts<'a>,
}

/// The facts kept in a stored assessment, as (section, keys): those the report reads
/// (`report::input::HostFacts`: OS and hardware lifecycle, capacity, staleness, Windows 11
/// readiness). The rest
/// (package lists, services, listening ports, network, security posture: about 13 KB
/// of a server's 30 KB assessment, 180 KB of a desktop's with 900 packages) is derived
/// again from the stored inventory whenever it is needed, and the check results keep
/// their own evidence.
pub const STORED_FACTS: &[(&str, &[&str])] = &[
    (
        "os",
        &["end_of_support", "extended_support_end", "lifecycle"],
    ),
    (
        "hardware",
        &[
            "vendor",
            "model",
            "bios_date",
            "hardware_age_days",
            "memory_bytes",
            "cpu_threads",
            "cpu_model",
        ],
    ),
    (
        "utilisation",
        &[
            "cpu_p95_ratio_series",
            "memory_p95_ratio_series",
            "series_span_seconds",
        ],
    ),
    (
        "storage",
        &["min_available_ratio", "min_available_mount", "total_bytes"],
    ),
    ("agent", &["stale"]),
    // The Windows 11 readiness view.
    ("security", &["tpm2", "uefi"]),
];

/// The facts, serialised with only [`STORED_FACTS`].
struct StoredFacts<'a>(&'a serde_json::Value);

impl Serialize for StoredFacts<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let kept: Vec<(&str, serde_json::Map<String, serde_json::Value>)> = STORED_FACTS
            .iter()
            .filter_map(|(section, keys)| {
                let serde_json::Value::Object(all) = self.0.get(*section)? else {
                    return None;
                };
                let some = keys
                    .iter()
                    .filter_map(|k| Some(((*k).to_owned(), all.get(*k)?.clone())))
                    .collect();
                Some((*section, some))
            })
            .collect();
        let mut map = serializer.serialize_map(Some(kept.len()))?;
        for (section, keys) in &kept {
            map.serialize_entry(section, keys)?;
        }
        map.end()
    }
}

/// The embedded checks and profiles, with waivers from `dir/waivers.toml` when there is
/// one.
fn shipped_checks(dir: Option<&Path>) -> Result<ChecksConfig, AssessError> {
    let catalogue = Catalogue::parse(embedded::CHECKS).map_err(AssessError::Checks)?;
    let profiles = Profiles::parse(embedded::PROFILES, &catalogue).map_err(AssessError::Checks)?;
    let waivers = match dir.map(|d| d.join("waivers.toml")) {
        Some(path) if path.is_file() => {
            Waivers::load(&path, &catalogue).map_err(AssessError::Checks)?
        }
        _ => Waivers::none(),
    };
    Ok(ChecksConfig {
        catalogue,
        profiles,
        waivers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn report() -> Report {
        serde_json::from_str(include_str!(
            "../../protocol/examples/full-report-debian-vm.json"
        ))
        .unwrap()
    }

    fn host(r: &Report) -> HostRecord {
        HostRecord {
            host_id: r.host_id.clone(),
            hostname: r.hostname.clone(),
            labels: r.labels.clone(),
            first_seen: r.collected_at - Duration::days(40),
            last_seen: r.collected_at,
            inventory_hash: Some(r.inventory_hash.clone()),
            reported_inventory_hash: r.inventory_hash.clone(),
            inventory_collected_at: Some(r.collected_at),
            facets: Default::default(),
            inventory: None,
        }
    }

    fn point(start: DateTime<Utc>, end: DateTime<Utc>, cpu: bool) -> SeriesPoint {
        SeriesPoint {
            window_start: start,
            window_end: end,
            cpu_mean_ratio: cpu.then_some(0.04),
            cpu_p95_ratio: cpu.then_some(0.12),
            memory_mean_ratio: None,
            memory_p95_ratio: None,
            power_watts: None,
            energy_joules: None,
            power_source: "none".to_owned(),
        }
    }

    /// Whole days of reports ending at `now`, the newest first.
    fn days(now: DateTime<Utc>, n: i64, cpu: bool) -> Vec<SeriesPoint> {
        (0..n)
            .map(|d| point(now - Duration::days(d + 1), now - Duration::days(d), cpu))
            .collect()
    }

    #[test]
    fn confidence_follows_how_much_of_the_window_the_stored_series_covers() {
        let assessor = Assessor::load(&AssessConfig::default()).unwrap();
        let r = report();
        let h = host(&r);
        let now = r.collected_at + Duration::minutes(1);
        let stars = |series: &[SeriesPoint]| -> Vec<u8> {
            let input = AssessInput {
                host: &h,
                inventory: r.inventory.as_ref(),
                report: Some(&r),
                series,
            };
            let a = assessor.assess(&input, None, now);
            let carbon = a.carbon.unwrap();
            assert!(!carbon.scenarios.is_empty());
            carbon.scenarios.iter().map(|s| s.confidence).collect()
        };
        // The one report (5 minutes of 30 days): the least confidence, though the report
        // itself had every sample (30 of 30).
        let one = [point(r.window.start, r.window.end, true)];
        assert!(stars(&one).iter().all(|s| *s == 1));
        // 10 days of 30: 33 % → 2 stars; the same days sent twice count once.
        assert!(stars(&days(now, 10, true)).iter().all(|s| *s == 2));
        let twice: Vec<SeriesPoint> = [days(now, 10, true), days(now, 10, true)].concat();
        assert!(stars(&twice).iter().all(|s| *s == 2));
        // 25 days: 83 % → 5 stars.
        assert!(stars(&days(now, 25, true)).iter().all(|s| *s == 5));
        // Reports without utilisation cover nothing.
        assert!(stars(&days(now, 25, false)).iter().all(|s| *s == 1));
        // Days older than the window do not count.
        let old: Vec<SeriesPoint> = days(now - Duration::days(DEFAULT_SERIES_DAYS), 25, true);
        assert!(stars(&old).iter().all(|s| *s == 1));
    }

    #[test]
    fn readiness_and_the_compact_estimate_are_kept_with_the_assessment() {
        let assessor = Assessor::load(&AssessConfig::default()).unwrap();
        let r = report();
        let h = host(&r);
        let now = r.collected_at + Duration::minutes(1);
        let series = days(now, 25, true);
        let input = AssessInput {
            host: &h,
            inventory: r.inventory.as_ref(),
            report: Some(&r),
            series: &series,
        };
        let a = assessor.assess(&input, None, now);
        let readiness = a.readiness.clone().unwrap();
        assert_eq!(readiness.profile, "cloud-readiness");
        assert!(readiness.applicable > 0);
        let carbon = a.carbon.clone().unwrap();
        // Each scenario's readiness is the host's or worse (a rule may add to it).
        for s in &carbon.scenarios {
            assert!(
                s.readiness.severity() >= readiness.readiness.severity(),
                "{s:?}"
            );
        }
        // The same as `carbon` (the CLI's path) gives.
        let (again, estimate) = assessor.carbon(&input, now).unwrap();
        assert_eq!(again, readiness);
        assert_eq!(
            serde_json::to_value(&estimate).unwrap(),
            serde_json::to_value(&carbon).unwrap()
        );
        // The record keeps the compact estimate: the figures without the factors.
        let record = a.to_record(&h.host_id).unwrap();
        let compact: HostEstimate =
            serde_json::from_str(record.carbon_json.as_deref().unwrap()).unwrap();
        assert!(compact.factors.is_empty() && !carbon.factors.is_empty());
        assert_eq!(
            serde_json::to_value(&compact.scenarios).unwrap(),
            serde_json::to_value(&carbon.scenarios).unwrap()
        );
        assert_eq!(
            compact.onprem.location_kgco2e_per_year,
            carbon.onprem.location_kgco2e_per_year
        );
        assert!(record.carbon_json.unwrap().len() * 2 < record.detail_json.len());
        // The stored facts keep what the report reads, and the report reads the same
        // from them as from the whole facts; the package lists and the rest stay out.
        let stored: serde_json::Value = serde_json::from_str(&record.detail_json).unwrap();
        let facts = &stored["facts"];
        assert!(
            a.facts["software"]["packages"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
        );
        assert!(facts.get("software").is_none() && facts.get("services").is_none());
        assert_eq!(facts["os"]["lifecycle"], a.facts["os"]["lifecycle"]);
        let kept = crate::report::input::HostFacts::from_json(facts);
        assert_eq!(kept, crate::report::input::HostFacts::from_json(&a.facts));
        assert!(kept.memory_bytes.is_some() && kept.os_release.is_some());
        assert!(facts.to_string().len() * 4 < a.facts.to_string().len());
        assert_eq!(stored["results"], serde_json::to_value(&a.results).unwrap());
        // Without a report there is neither.
        let bare = AssessInput {
            report: None,
            ..input
        };
        let a = assessor.assess(&bare, None, now);
        assert!(a.readiness.is_none() && a.carbon.is_none());
        assert_eq!(a.to_record(&h.host_id).unwrap().carbon_json, None);
    }
}
