//! Cloud readiness of one host from the results of an audit profile (by default the
//! check engine's `cloud-readiness` profile) and the rules of `[carbon.readiness]`
//! ([`ReadinessConfig`]). Pure: it reads check results, it does not evaluate checks.
//!
//! The rules, in order (`docs/methodology.md`, Readiness):
//!
//! 1. a failing check whose severity maps to `not_ready` makes the host `not_ready`;
//! 2. else, when no check of the profile applies, or more than `unknown_above_ratio` of
//!    the applicable ones are in `error` (a missing fact), the host is `unknown`;
//! 3. else the worst readiness the failing checks map to (`conditionally_ready` by
//!    default);
//! 4. else `ready`.
//!
//! A waived check counts as failing: a waiver accepts a health risk, it does not make the
//! host movable.

use serde::Serialize;

use crate::carbon::config::ReadinessConfig;
use crate::carbon::input::Readiness;
use crate::checks::{CheckResult, Severity, Status};

/// A check that holds a host back, and what it gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadinessReason {
    /// The check.
    pub check_id: String,
    /// Its severity.
    pub severity: Severity,
    /// `fail` or `waived`.
    pub status: Status,
    /// The readiness it gives (`[carbon.readiness.on_fail]`).
    pub gives: Readiness,
}

/// A host's readiness and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostReadiness {
    /// The outcome.
    pub readiness: Readiness,
    /// The audit profile read.
    pub profile: String,
    /// The profile's checks that apply to the host (`pass`, `fail`, `waived`, `error`).
    pub applicable: usize,
    /// Failing (or waived) checks, most severe first.
    pub blockers: Vec<ReadinessReason>,
    /// Applicable checks that could not be evaluated (`error`).
    pub unevaluated: Vec<String>,
    /// Why the readiness is `unknown`, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_because: Option<String>,
}

impl HostReadiness {
    /// `unknown` for a reason outside the results (the profile does not exist, the host
    /// was not evaluated).
    pub fn unavailable(profile: &str, why: impl Into<String>) -> HostReadiness {
        HostReadiness {
            readiness: Readiness::Unknown,
            profile: profile.to_owned(),
            applicable: 0,
            blockers: Vec::new(),
            unevaluated: Vec::new(),
            unknown_because: Some(why.into()),
        }
    }
}

impl ReadinessConfig {
    /// What a failing check of `severity` gives.
    pub fn on_fail(&self, severity: Severity) -> Readiness {
        let f = &self.on_fail;
        match severity {
            Severity::Critical => f.critical,
            Severity::High => f.high,
            Severity::Medium => f.medium,
            Severity::Low => f.low,
            Severity::Info => f.info,
        }
    }
}

/// The readiness of a host from the results of `profile` (the rules of this module's
/// note).
pub fn host_readiness(
    config: &ReadinessConfig,
    profile: &str,
    results: &[CheckResult],
) -> HostReadiness {
    let mut applicable = 0;
    let mut blockers = Vec::new();
    let mut unevaluated = Vec::new();
    for r in results {
        match r.status {
            Status::NotApplicable => continue,
            Status::Pass => {}
            Status::Fail | Status::Waived => blockers.push(ReadinessReason {
                check_id: r.id.to_string(),
                severity: r.severity,
                status: r.status,
                gives: config.on_fail(r.severity),
            }),
            Status::Error => unevaluated.push(r.id.to_string()),
        }
        applicable += 1;
    }
    blockers.sort_by(|a, b| {
        b.gives
            .severity()
            .cmp(&a.gives.severity())
            .then(a.severity.cmp(&b.severity))
            .then_with(|| a.check_id.cmp(&b.check_id))
    });
    let error_share = if applicable == 0 {
        1.0
    } else {
        unevaluated.len() as f64 / applicable as f64
    };
    let mut unknown_because = None;
    let readiness = if blockers.iter().any(|b| b.gives == Readiness::NotReady) {
        Readiness::NotReady
    } else if applicable == 0 {
        unknown_because = Some(format!("no check of profile `{profile}` applies"));
        Readiness::Unknown
    } else if error_share > config.unknown_above_ratio {
        unknown_because = Some(format!(
            "{} of {applicable} applicable checks could not be evaluated (more than {} %)",
            unevaluated.len(),
            config.unknown_above_ratio * 100.0
        ));
        Readiness::Unknown
    } else {
        let worst = blockers
            .iter()
            .fold(Readiness::Ready, |acc, b| acc.worst(b.gives));
        if worst == Readiness::Unknown {
            unknown_because = Some("a failing check maps to `unknown`".to_owned());
        }
        worst
    };
    HostReadiness {
        readiness,
        profile: profile.to_owned(),
        applicable,
        blockers,
        unevaluated,
        unknown_because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::{Category, CheckId};

    fn result(id: &str, severity: Severity, status: Status) -> CheckResult {
        CheckResult {
            id: CheckId::new(id),
            category: Category::Lifecycle,
            severity,
            weight: 1.0,
            status,
            credit: if status == Status::Pass { 1.0 } else { 0.0 },
            evidence: None,
            error: None,
            waiver: None,
        }
    }

    fn readiness(results: &[CheckResult]) -> HostReadiness {
        host_readiness(&ReadinessConfig::default(), "cloud-readiness", results)
    }

    #[test]
    fn every_check_passing_is_ready() {
        let r = readiness(&[
            result("a", Severity::Critical, Status::Pass),
            result("b", Severity::Low, Status::Pass),
            result("c", Severity::High, Status::NotApplicable),
        ]);
        assert_eq!(r.readiness, Readiness::Ready);
        assert_eq!(r.applicable, 2);
        assert!(r.blockers.is_empty() && r.unknown_because.is_none());
    }

    #[test]
    fn a_lower_severity_failure_is_conditional_and_a_high_one_not_ready() {
        let conditional = readiness(&[
            result("a", Severity::Critical, Status::Pass),
            result("b", Severity::Medium, Status::Fail),
            result("c", Severity::Info, Status::Fail),
        ]);
        assert_eq!(conditional.readiness, Readiness::ConditionallyReady);
        assert_eq!(conditional.blockers.len(), 2);
        assert_eq!(conditional.blockers[0].check_id, "b");
        let blocked = readiness(&[
            result("b", Severity::Medium, Status::Fail),
            result("h", Severity::High, Status::Fail),
        ]);
        assert_eq!(blocked.readiness, Readiness::NotReady);
        assert_eq!(blocked.blockers[0].check_id, "h");
        // A waiver does not make the host movable.
        let waived = readiness(&[result("k", Severity::Critical, Status::Waived)]);
        assert_eq!(waived.readiness, Readiness::NotReady);
    }

    #[test]
    fn mostly_unevaluated_is_unknown_unless_something_blocks() {
        let unknown = readiness(&[
            result("a", Severity::Low, Status::Pass),
            result("b", Severity::Low, Status::Error),
            result("c", Severity::Low, Status::Error),
        ]);
        assert_eq!(unknown.readiness, Readiness::Unknown);
        assert_eq!(unknown.unevaluated, ["b", "c"]);
        assert!(unknown.unknown_because.is_some());
        // Exactly half in error is not "more than half".
        let half = readiness(&[
            result("a", Severity::Low, Status::Fail),
            result("b", Severity::Low, Status::Error),
        ]);
        assert_eq!(half.readiness, Readiness::ConditionallyReady);
        // A definite blocker is known whatever else could not be evaluated.
        let blocked = readiness(&[
            result("a", Severity::Critical, Status::Fail),
            result("b", Severity::Low, Status::Error),
            result("c", Severity::Low, Status::Error),
        ]);
        assert_eq!(blocked.readiness, Readiness::NotReady);
        // Nothing applies: unknown.
        let none = readiness(&[result("a", Severity::Low, Status::NotApplicable)]);
        assert_eq!(none.readiness, Readiness::Unknown);
    }

    #[test]
    fn the_mapping_is_configurable() {
        let mut config = ReadinessConfig::default();
        config.on_fail.high = Readiness::ConditionallyReady;
        config.on_fail.info = Readiness::Ready;
        let r = host_readiness(
            &config,
            "p",
            &[
                result("h", Severity::High, Status::Fail),
                result("i", Severity::Info, Status::Fail),
            ],
        );
        assert_eq!(r.readiness, Readiness::ConditionallyReady);
        let info_only = host_readiness(&config, "p", &[result("i", Severity::Info, Status::Fail)]);
        assert_eq!(info_only.readiness, Readiness::Ready);
        config.unknown_above_ratio = 0.0;
        let strict = host_readiness(
            &config,
            "p",
            &[
                result("a", Severity::Low, Status::Pass),
                result("b", Severity::Low, Status::Error),
            ],
        );
        assert_eq!(strict.readiness, Readiness::Unknown);
    }
}
