//! The report as data: every section's figures, in the order a reader needs them. The
//! JSON format is this structure serialised; the HTML, Markdown and CSV renderers only
//! lay it out. Units are in the field names (`_kgco2e_per_year`, `_ratio` 0–1, `_days`).
//!
//! This module owns the shape of a report; it computes nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or is removed (adding one does not).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// One health-check report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// When it was made.
    pub generated_at: DateTime<Utc>,
    /// Its title.
    pub title: String,
    /// The audit profile.
    pub profile: String,
    /// Estate summary.
    pub summary: Summary,
    /// Top risks and what would raise the score most.
    pub risks: Risks,
    /// Every check with its fleet counts, in the profile's order.
    pub checks: Vec<FleetCheck>,
    /// OS and hardware end of life within the horizon.
    pub lifecycle: Lifecycle,
    /// Under- and over-utilised hosts.
    pub capacity: Capacity,
    /// Energy and carbon today and per scenario.
    pub carbon: CarbonSection,
    /// Assumptions and factors with their sources.
    pub assumptions: Assumptions,
    /// Windows 11 readiness of the Windows 10 hosts; absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows11: Option<Windows11Readiness>,
    /// What changed since the previous report (absent for the first one).
    pub changes: Option<Changes>,
    /// The estate score and totals of earlier reports and this one, oldest first.
    pub history: Vec<HistoryPoint>,
    /// One row per host, worst score first.
    pub hosts: Vec<HostRow>,
}

/// A name and how many hosts have it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// The name (`unknown` when not known).
    pub name: String,
    /// Hosts.
    pub hosts: usize,
}

/// Hosts by band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bands {
    /// Green.
    pub green: usize,
    /// Amber.
    pub amber: usize,
    /// Red.
    pub red: usize,
    /// Not scored (no assessment, or nothing scored).
    pub unscored: usize,
}

/// A category's estate sub-score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategoryScore {
    /// The category.
    pub category: String,
    /// Host category scores averaged with the host weights, 0–1.
    pub score: f64,
    /// Hosts with a score in this category.
    pub hosts: usize,
}

/// The estate at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Hosts known.
    pub hosts: usize,
    /// Hosts with an assessment.
    pub assessed_hosts: usize,
    /// Hosts silent for longer than the stale threshold (at their last assessment).
    pub stale_hosts: usize,
    /// Hosts by type (laptop, desktop, virtual desktop, physical server, virtual server,
    /// container, unknown), largest first.
    pub by_type: Vec<Count>,
    /// Hosts by OS release, largest first.
    pub by_os: Vec<Count>,
    /// Hosts by `site` label, largest first.
    pub by_site: Vec<Count>,
    /// Estate score 0–1 (host scores weighted by criticality); absent when nothing scored.
    pub score: Option<f64>,
    /// The band of the estate score.
    pub band: Option<String>,
    /// The lowest green and amber scores.
    pub green_at: f64,
    /// The lowest amber score.
    pub amber_at: f64,
    /// Hosts by band.
    pub bands: Bands,
    /// Estate sub-score per category, in category order.
    pub categories: Vec<CategoryScore>,
    /// The score against the previous report.
    pub trend: Option<Trend>,
}

/// This report against the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// When the previous report was made.
    pub previous_at: DateTime<Utc>,
    /// Its estate score.
    pub previous_score: Option<f64>,
    /// This score minus that one.
    pub score_change: Option<f64>,
    /// Hosts now minus hosts then.
    pub hosts_change: i64,
    /// Red hosts now minus then.
    pub red_change: i64,
    /// On-premises location-based plus embodied, now minus then, kgCO2e/yr.
    pub onprem_kgco2e_change: Option<f64>,
}

/// A failing check as a risk to the estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// The check.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: String,
    /// Its severity.
    pub severity: String,
    /// Hosts failing it.
    pub failing_hosts: usize,
    /// Of the hosts it applies to (pass + fail), the share failing, 0–1.
    pub failing_ratio: f64,
    /// How to fix it.
    pub remediation: String,
}

/// A check ranked by what fixing it everywhere adds to the estate score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gain {
    /// The check.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its severity.
    pub severity: String,
    /// Estate score gained, 0–1.
    pub gain: f64,
    /// Hosts failing it.
    pub failing_hosts: usize,
    /// How to fix it.
    pub remediation: String,
}

/// A host in a short list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostBrief {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// Its score.
    pub score: Option<f64>,
    /// Its band.
    pub band: Option<String>,
    /// Critical checks it fails.
    pub critical_failures: Vec<String>,
}

/// Top risks and what raises the score most.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Risks {
    /// Failing checks, most severe first, then most hosts.
    pub top: Vec<Risk>,
    /// Checks ranked by estate score gained if fixed everywhere.
    pub improvements: Vec<Gain>,
    /// The lowest-scoring hosts.
    pub worst_hosts: Vec<HostBrief>,
    /// Hosts failing at least one critical check.
    pub hosts_with_critical_failures: usize,
}

/// One check across the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetCheck {
    /// The check.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its category.
    pub category: String,
    /// Its severity.
    pub severity: String,
    /// Its weight in the profile.
    pub weight: f64,
    /// Hosts passing.
    pub pass: usize,
    /// Hosts failing.
    pub fail: usize,
    /// Hosts it does not apply to.
    pub not_applicable: usize,
    /// Hosts with the failure waived.
    pub waived: usize,
    /// Hosts where it could not be evaluated.
    pub error: usize,
    /// pass / (pass + fail), 0–1; absent when it applies nowhere.
    pub pass_ratio: Option<f64>,
}

/// An OS release whose support ends within the horizon (or has ended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsEnd {
    /// The release (the lifecycle table's label, else the OS name).
    pub release: String,
    /// End of regular security support.
    pub end_of_support: Option<NaiveDate>,
    /// End of paid extended support, where there is one.
    pub extended_support_end: Option<NaiveDate>,
    /// Days from the report to `end_of_support` (negative: past).
    pub days_left: Option<i64>,
    /// `ended` or `ending`.
    pub status: String,
    /// Hosts on it.
    pub hosts: usize,
}

/// Physical hardware that reaches its refresh age within the horizon (or has).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HardwareEnd {
    /// Vendor and model (`unknown` parts when not known).
    pub model: String,
    /// Hosts of this model due.
    pub hosts: usize,
    /// Of them, already past the refresh age.
    pub overdue: usize,
    /// The oldest BIOS date among them.
    pub oldest_bios_date: Option<NaiveDate>,
    /// When the first of them reaches the refresh age.
    pub first_due: Option<NaiveDate>,
}

/// OS and hardware end of life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The look-ahead, days.
    pub horizon_days: i64,
    /// The refresh age, years.
    pub refresh_age_years: f64,
    /// Hosts whose OS support has ended.
    pub os_ended_hosts: usize,
    /// Hosts whose OS support ends within the horizon.
    pub os_ending_hosts: usize,
    /// Assessed hosts whose OS support dates are not known.
    pub os_unknown_hosts: usize,
    /// By release, soonest first.
    pub os: Vec<OsEnd>,
    /// Physical hosts past the refresh age.
    pub hardware_overdue_hosts: usize,
    /// Physical hosts reaching it within the horizon.
    pub hardware_due_hosts: usize,
    /// Physical hosts whose age is not known.
    pub hardware_unknown_hosts: usize,
    /// By model, most hosts first.
    pub hardware: Vec<HardwareEnd>,
}

/// A host outside the comfortable range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityRow {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// CPU p95 over the history, 0–1.
    pub cpu_p95_ratio: Option<f64>,
    /// Memory p95 over the history, 0–1.
    pub memory_p95_ratio: Option<f64>,
    /// Memory, GiB.
    pub memory_gib: Option<f64>,
    /// The fullest writable filesystem's available share, 0–1.
    pub min_available_ratio: Option<f64>,
    /// Its mount point.
    pub min_available_mount: Option<String>,
    /// Why it is listed (`cpu`, `memory`, `storage`, `idle`).
    pub reasons: Vec<String>,
}

/// Under- and over-utilised hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Under-utilised below this CPU p95.
    pub idle_cpu_p95_below: f64,
    /// With at least this many days of history.
    pub min_history_days: f64,
    /// Over-utilised at this CPU p95.
    pub busy_cpu_p95_at: f64,
    /// Over-utilised at this memory p95.
    pub busy_memory_p95_at: f64,
    /// Short of space below this available ratio.
    pub min_available_ratio: f64,
    /// Servers with enough history to judge.
    pub servers_with_history: usize,
    /// Servers without enough history.
    pub servers_without_history: usize,
    /// Under-utilised servers, lowest CPU first.
    pub under_utilised: Vec<CapacityRow>,
    /// Over-utilised hosts (CPU, memory or storage), busiest first.
    pub over_utilised: Vec<CapacityRow>,
}

/// Energy and carbon figures, per year.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CarbonFigures {
    /// Hosts counted.
    pub hosts: usize,
    /// Average power, W.
    pub power_watts: f64,
    /// kWh/yr.
    pub energy_kwh_per_year: f64,
    /// Location-based operational, kgCO2e/yr.
    pub location_kgco2e_per_year: f64,
    /// Market-based operational, kgCO2e/yr.
    pub market_kgco2e_per_year: f64,
    /// Embodied, kgCO2e/yr.
    pub embodied_kgco2e_per_year: f64,
    /// Location-based plus embodied, kgCO2e/yr.
    pub total_kgco2e_per_year: f64,
    /// The total with every parameter at its low end, kgCO2e/yr.
    pub low_kgco2e_per_year: f64,
    /// The total with every parameter at its high end, kgCO2e/yr.
    pub high_kgco2e_per_year: f64,
}

/// Hosts by readiness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// Ready.
    pub ready: usize,
    /// Conditionally ready.
    pub conditionally_ready: usize,
    /// Not ready.
    pub not_ready: usize,
    /// Unknown.
    pub unknown: usize,
}

/// One migration (or retirement) scenario across the estate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRow {
    /// Its name.
    pub name: String,
    /// `cloud` or `retire`.
    pub kind: String,
    /// Provider (cloud).
    pub provider: Option<String>,
    /// Region (cloud).
    pub region: Option<String>,
    /// The hosts placed (or retired), in the scenario.
    pub scenario: CarbonFigures,
    /// The same hosts on-premises, location-based plus embodied, kgCO2e/yr.
    pub onprem_kgco2e_per_year: f64,
    /// On-premises minus the scenario, kgCO2e/yr.
    pub saved_kgco2e_per_year: f64,
    /// The saving over the same hosts' on-premises figure, 0–1.
    pub saved_ratio: Option<f64>,
    /// Hosts the scenario selected that no instance fits.
    pub unplaced_hosts: usize,
    /// Hosts placed, by readiness.
    pub readiness: Readiness,
    /// Hosts placed by confidence, 1 to 5 stars (index 0 is one star).
    pub confidence: [usize; 5],
}

/// A host worth moving or retiring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// The scenario.
    pub scenario: String,
    /// The instance chosen (cloud).
    pub instance: Option<String>,
    /// Carbon saved, kgCO2e/yr.
    pub saved_kgco2e_per_year: f64,
    /// Readiness.
    pub readiness: String,
    /// Confidence, stars.
    pub confidence: u8,
}

/// Energy and carbon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonSection {
    /// The UK grid factor year used (the most common among the estimates).
    pub grid_year: Option<i32>,
    /// Hosts without an estimate (no report yet, or containers).
    pub hosts_without_estimate: usize,
    /// Today, on-premises.
    pub onprem: CarbonFigures,
    /// Per scenario, in configured order.
    pub scenarios: Vec<ScenarioRow>,
    /// The largest savings, largest first (each host once per scenario).
    pub candidates: Vec<Candidate>,
}

/// A factor the estimates used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorRow {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// Where it comes from.
    pub source: String,
    /// Which version of the source.
    pub version: String,
    /// Hosts whose estimate used it.
    pub hosts: usize,
}

/// An assumption estimates rest on, and how many hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteCount {
    /// The note's code (`cpu_not_matched`, `utilisation_unknown`, ...).
    pub note: String,
    /// What it means.
    pub meaning: String,
    /// Hosts whose on-premises estimate carries it.
    pub hosts: usize,
}

/// Assumptions and factors with sources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assumptions {
    /// The carbon method.
    pub method: String,
    /// Statements the figures rest on.
    pub statements: Vec<String>,
    /// On-premises estimates by method (`measured_rapl`, `modelled_vm`, ...).
    pub methods: Vec<Count>,
    /// Assumptions made for hosts, most hosts first.
    pub notes: Vec<NoteCount>,
    /// Every factor used, by name.
    pub factors: Vec<FactorRow>,
}

/// A host added or gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRef {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
}

/// A check that started failing, or was fixed, on some hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckChange {
    /// The check.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its severity.
    pub severity: String,
    /// Hosts.
    pub hosts: usize,
}

/// A host whose band moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandMove {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// The band before (`unscored` when none).
    pub from: String,
    /// The band now.
    pub to: String,
    /// The score before.
    pub from_score: Option<f64>,
    /// The score now.
    pub to_score: Option<f64>,
}

/// What changed since the previous report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changes {
    /// When the previous report was made.
    pub previous_at: DateTime<Utc>,
    /// Its estate score.
    pub previous_score: Option<f64>,
    /// This report's.
    pub score: Option<f64>,
    /// Hosts in this report and not in the previous one.
    pub new_hosts: Vec<HostRef>,
    /// Hosts in the previous report and not in this one.
    pub gone_hosts: Vec<HostRef>,
    /// Checks failing now on hosts where they did not fail before (hosts in both).
    pub newly_failing: Vec<CheckChange>,
    /// Checks failing before that pass now (hosts in both).
    pub newly_fixed: Vec<CheckChange>,
    /// (host, check) pairs newly failing.
    pub newly_failing_total: usize,
    /// (host, check) pairs newly fixed.
    pub newly_fixed_total: usize,
    /// Hosts whose band got worse, largest score drop first.
    pub worse: Vec<BandMove>,
    /// Hosts whose band got better, largest score rise first.
    pub better: Vec<BandMove>,
}

/// One report's headline figures, for the trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// Estate score.
    pub score: Option<f64>,
    /// Hosts.
    pub hosts: usize,
    /// Red hosts.
    pub red_hosts: usize,
    /// On-premises location-based plus embodied, kgCO2e/yr.
    pub onprem_kgco2e_per_year: f64,
}

/// One host in the appendix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRow {
    /// Its id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// Its type (as in the summary).
    pub host_type: String,
    /// OS release.
    pub os: String,
    /// `site` label.
    pub site: Option<String>,
    /// `role` label.
    pub role: Option<String>,
    /// Latest report.
    pub last_seen: DateTime<Utc>,
    /// Silent past the stale threshold at its last assessment.
    pub stale: bool,
    /// When it was last assessed.
    pub assessed_at: Option<DateTime<Utc>>,
    /// Score 0–1.
    pub score: Option<f64>,
    /// Band.
    pub band: Option<String>,
    /// Checks failing (most severe first), then in error, then waived, with evidence.
    pub findings: Vec<Finding>,
    /// Checks failing.
    pub failing: usize,
    /// Of those, critical.
    pub critical_failing: usize,
    /// OS end of regular support.
    pub os_end_of_support: Option<NaiveDate>,
    /// Hardware age (physical hosts), years.
    pub hardware_age_years: Option<f64>,
    /// CPU p95, 0–1.
    pub cpu_p95_ratio: Option<f64>,
    /// Memory p95, 0–1.
    pub memory_p95_ratio: Option<f64>,
    /// On-premises energy, kWh/yr.
    pub energy_kwh_per_year: Option<f64>,
    /// On-premises location-based plus embodied, kgCO2e/yr.
    pub onprem_kgco2e_per_year: Option<f64>,
    /// The scenario saving most for this host.
    pub best_scenario: Option<String>,
    /// Its saving, kgCO2e/yr.
    pub best_saving_kgco2e_per_year: Option<f64>,
    /// On-premises (`onprem`), then each scenario that applies to the host.
    pub carbon: Vec<CarbonCase>,
}

/// A check that did not pass on a host (fail, error or waived).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The check.
    pub check: String,
    /// Its severity.
    pub severity: String,
    /// `fail`, `error` or `waived`.
    pub status: String,
    /// Credit 0–1 (partial credit of a score check).
    pub credit: f64,
    /// What the check saw (or, for `error`, why it could not tell).
    pub evidence: Option<String>,
}

/// One host's energy and carbon in one case, per year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonCase {
    /// `onprem`, or the scenario's name.
    pub case: String,
    /// How the on-premises power was obtained, or the cloud instance chosen.
    pub method_or_instance: Option<String>,
    /// Average power, W.
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
    pub low_kgco2e_per_year: f64,
    /// At the high end, kgCO2e/yr.
    pub high_kgco2e_per_year: f64,
    /// On-premises minus this case (scenarios), kgCO2e/yr.
    pub saved_kgco2e_per_year: Option<f64>,
    /// Readiness (scenarios).
    pub readiness: Option<String>,
    /// Confidence, 1–5 stars (scenarios).
    pub confidence: Option<u8>,
}

/// Windows 11 readiness of the Windows 10 hosts (Windows 10 left regular support on
/// 2025-10-14): the hardware requirements each host meets, misses or cannot be judged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Windows11Readiness {
    /// Windows 10 hosts.
    pub windows10_hosts: usize,
    /// Hosts that meet every requirement.
    pub ready_hosts: usize,
    /// Hosts that miss at least one requirement.
    pub not_ready_hosts: usize,
    /// Hosts that miss none that is known, but where at least one is unknown.
    pub unknown_hosts: usize,
    /// Each requirement, in a fixed order, with how many hosts miss it.
    pub requirements: Vec<Windows11Requirement>,
    /// One row per Windows 10 host, not ready first, then unknown, then ready.
    pub hosts: Vec<Windows11Host>,
}

/// One Windows 11 hardware requirement across the Windows 10 hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Windows11Requirement {
    /// Stable id: `tpm2`, `uefi_secure_boot`, `cpu`, `memory`, `storage`.
    pub id: String,
    /// What is required, in words.
    pub title: String,
    /// Hosts that miss it (blocked by it).
    pub blocked_hosts: usize,
    /// Hosts where it could not be judged.
    pub unknown_hosts: usize,
}

/// One Windows 10 host's readiness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Windows11Host {
    /// The host's id.
    pub host_id: String,
    /// Its name.
    pub hostname: String,
    /// `ready`, `not_ready` or `unknown`.
    pub status: String,
    /// The ids of the requirements it misses.
    pub blockers: Vec<String>,
    /// The ids of the requirements that could not be judged.
    pub unknown: Vec<String>,
    /// The CPU model, where known.
    pub cpu_model: Option<String>,
}
