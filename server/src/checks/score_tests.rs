//! Scoring tests: worked examples, and property tests of the invariants (a score stays in
//! [0, 1]; a check turning from pass to fail never raises it; waiving a failing check
//! never lowers it; "what raises it most" predicts the real gain).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn res(
    id: &str,
    category: Category,
    severity: Severity,
    weight: f64,
    status: Status,
    credit: f64,
) -> CheckResult {
    CheckResult {
        id: CheckId::new(id),
        category,
        severity,
        weight,
        status,
        credit,
        evidence: None,
        error: None,
        waiver: None,
    }
}

fn simple(id: &str, weight: f64, status: Status, credit: f64) -> CheckResult {
    res(
        id,
        Category::Security,
        Severity::Medium,
        weight,
        status,
        credit,
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn the_score_is_the_weighted_pass_ratio_over_what_counts() {
    let results = [
        simple("a", 10.0, Status::Pass, 1.0),
        simple("b", 5.0, Status::Fail, 0.0),
        simple("c", 3.0, Status::Fail, 0.5),
        simple("d", 50.0, Status::NotApplicable, 0.0),
        simple("e", 50.0, Status::Waived, 0.0),
        simple("f", 50.0, Status::Error, 0.0),
    ];
    let s = score_host(&results, &ScoringConfig::default(), None);
    assert!(close(s.score.unwrap(), 11.5 / 18.0));
    assert_eq!(s.band, Some(Band::Red));
    assert_eq!(
        s.total.counts,
        StatusCounts {
            pass: 1,
            fail: 2,
            not_applicable: 1,
            waived: 1,
            error: 1
        }
    );
    assert!(close(s.total.possible, 18.0));
}

#[test]
fn no_scored_weight_means_unknown_not_perfect() {
    let config = ScoringConfig::default();
    assert_eq!(score_host(&[], &config, None).score, None);
    let only_na = [
        simple("a", 5.0, Status::NotApplicable, 0.0),
        simple("b", 0.0, Status::Pass, 1.0),
    ];
    let s = score_host(&only_na, &config, Some(0.5));
    assert_eq!((s.score, s.band, s.passes_audit), (None, None, None));
}

#[test]
fn bands_caps_and_audit_threshold() {
    let mut config = ScoringConfig::default();
    let host = |critical: Status| {
        let mut r: Vec<CheckResult> = (0..19)
            .map(|i| simple(&format!("c{i}"), 10.0, Status::Pass, 1.0))
            .collect();
        r.push(res(
            "crit",
            Category::Security,
            Severity::Critical,
            10.0,
            critical,
            if critical == Status::Pass { 1.0 } else { 0.0 },
        ));
        r
    };
    let s = score_host(&host(Status::Pass), &config, Some(0.99));
    assert_eq!(
        (s.score, s.band, s.passes_audit),
        (Some(1.0), Some(Band::Green), Some(true))
    );
    let failing = host(Status::Fail);
    let s = score_host(&failing, &config, Some(0.99));
    assert_eq!(s.score, Some(0.95));
    assert_eq!(
        s.band,
        Some(Band::Red),
        "a failed critical check caps at red"
    );
    assert_eq!(s.capped_by, [CheckId::new("crit")]);
    assert_eq!(s.passes_audit, Some(false));
    config.critical_failure_cap = Some(Band::Amber);
    assert_eq!(score_host(&failing, &config, None).band, Some(Band::Amber));
    config.critical_failure_cap = None;
    let s = score_host(&failing, &config, None);
    assert_eq!((s.band, s.capped_by.len()), (Some(Band::Green), 0));
    // A waived critical failure does not cap.
    config.critical_failure_cap = Some(Band::Red);
    assert_eq!(
        score_host(&host(Status::Waived), &config, None).band,
        Some(Band::Green)
    );

    assert_eq!(config.band(0.9), Band::Green);
    assert_eq!(config.band(0.89), Band::Amber);
    assert_eq!(config.band(0.7), Band::Amber);
    assert_eq!(config.band(0.69), Band::Red);
}

#[test]
fn category_sub_scores() {
    let results = [
        res(
            "a",
            Category::Security,
            Severity::High,
            5.0,
            Status::Pass,
            1.0,
        ),
        res(
            "b",
            Category::Security,
            Severity::High,
            5.0,
            Status::Fail,
            0.0,
        ),
        res(
            "c",
            Category::Capacity,
            Severity::Low,
            1.0,
            Status::Fail,
            0.25,
        ),
        res(
            "d",
            Category::Lifecycle,
            Severity::Low,
            1.0,
            Status::NotApplicable,
            0.0,
        ),
    ];
    let s = score_host(&results, &ScoringConfig::default(), None);
    assert_eq!(s.category(Category::Security), Some(0.5));
    assert_eq!(s.category(Category::Capacity), Some(0.25));
    assert_eq!(s.category(Category::Lifecycle), None);
    assert_eq!(s.categories[&Category::Lifecycle].counts.not_applicable, 1);
    assert_eq!(s.category(Category::Resilience), None);
}

#[test]
fn improvements_rank_failing_checks_by_gain() {
    let results = [
        simple("pass", 10.0, Status::Pass, 1.0),
        res(
            "low",
            Category::Capacity,
            Severity::Low,
            1.0,
            Status::Fail,
            0.0,
        ),
        res(
            "big",
            Category::Security,
            Severity::High,
            5.0,
            Status::Fail,
            0.0,
        ),
        res(
            "half",
            Category::Capacity,
            Severity::Medium,
            3.0,
            Status::Fail,
            0.5,
        ),
        res(
            "same",
            Category::Security,
            Severity::Low,
            1.5,
            Status::Fail,
            0.0,
        ),
        simple("info", 0.0, Status::Fail, 0.0),
        simple("waived", 9.0, Status::Waived, 0.0),
    ];
    let list = host_improvements(&results);
    let ids: Vec<&str> = list.iter().map(|i| i.id.as_str()).collect();
    // half and same both gain 1.5/20.5; half is more severe.
    assert_eq!(ids, ["big", "half", "same", "low"]);
    let before = score_host(&results, &ScoringConfig::default(), None)
        .score
        .unwrap();
    for imp in &list {
        let fixed: Vec<CheckResult> = results
            .iter()
            .map(|r| {
                if r.id == imp.id {
                    CheckResult {
                        status: Status::Pass,
                        credit: 1.0,
                        ..r.clone()
                    }
                } else {
                    r.clone()
                }
            })
            .collect();
        let after = score_host(&fixed, &ScoringConfig::default(), None)
            .score
            .unwrap();
        assert!(close(after - before, imp.gain), "{}", imp.id);
    }
}

#[test]
fn the_estate_score_weights_hosts_by_criticality() {
    let config = ScoringConfig {
        criticality_weights: BTreeMap::from([("high".to_owned(), 3.0), ("low".to_owned(), 0.5)]),
        ..ScoringConfig::default()
    };
    let label = |v: &str| BTreeMap::from([(DEFAULT_CRITICALITY_LABEL.to_owned(), v.to_owned())]);
    let (high, low, none) = (label("high"), label("low"), BTreeMap::new());
    let perfect = [
        simple("a", 1.0, Status::Pass, 1.0),
        simple("b", 1.0, Status::Pass, 1.0),
    ];
    let half = [
        simple("a", 1.0, Status::Pass, 1.0),
        simple("b", 1.0, Status::Fail, 0.0),
    ];
    let unscored = [simple("a", 1.0, Status::NotApplicable, 0.0)];
    let hosts = [
        EstateHost {
            results: &half,
            labels: &high,
        },
        EstateHost {
            results: &perfect,
            labels: &low,
        },
        EstateHost {
            results: &perfect,
            labels: &none,
        },
        EstateHost {
            results: &unscored,
            labels: &high,
        },
    ];
    let e = score_estate(&hosts, &config);
    // (3 × 0.5 + 0.5 × 1 + 1 × 1) / 4.5
    assert!(close(e.score.unwrap(), 3.0 / 4.5));
    assert_eq!((e.hosts, e.scored_hosts), (4, 3));
    assert_eq!(
        e.bands,
        BandCounts {
            green: 2,
            amber: 0,
            red: 1,
            unknown: 1
        }
    );
    assert_eq!(e.checks.len(), 2);
    assert_eq!(
        e.checks[1].counts,
        StatusCounts {
            pass: 2,
            fail: 1,
            ..StatusCounts::default()
        }
    );
    assert_eq!(e.checks[0].counts.not_applicable, 1);
    assert!(close(e.categories[&Category::Security], 3.0 / 4.5));

    let imps = estate_improvements(&hosts, &config);
    assert_eq!(imps.len(), 1);
    assert_eq!((imps[0].id.as_str(), imps[0].hosts_failing), ("b", 1));
    // Fixing b on the high-criticality host: its score 0.5 → 1, weight 3 of 4.5.
    assert!(close(imps[0].gain, 3.0 * 0.5 / 4.5));
    assert_eq!(score_estate(&[], &config).score, None);
}

#[test]
fn scoring_config_from_toml() {
    let c = ScoringConfig::parse(
        "green_at = 0.95\namber_at = 0.8\ncritical_failure_cap = \"none\"\ncriticality_label = \"tier\"\ndefault_host_weight = 2\n[criticality_weights]\ngold = 5\n",
        "scoring.toml",
    )
    .unwrap();
    assert_eq!(
        (c.green_at, c.amber_at, c.critical_failure_cap),
        (0.95, 0.8, None)
    );
    assert_eq!(
        c.host_weight(&BTreeMap::from([("tier".to_owned(), "gold".to_owned())])),
        5.0
    );
    assert_eq!(c.host_weight(&BTreeMap::new()), 2.0);
    assert_eq!(
        ScoringConfig::parse("", "s").unwrap(),
        ScoringConfig::default()
    );
    let err = ScoringConfig::parse(
        "green_at = 0.5\namber_at = 0.6\ncritical_failure_cap = \"blue\"\n[criticality_weights]\nx = -1\n",
        "scoring.toml",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "\
scoring.toml:2:12: `amber_at`: amber_at (0.6) must not be above green_at (0.5)
scoring.toml:3:24: `critical_failure_cap`: `blue` is not red, amber or none
scoring.toml:5:5: `criticality_weights.x`: weight must be a number ≥ 0, not -1"
    );
}

// ---------------------------------------------------------------------------------
// Properties

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Pass),
        Just(Status::Fail),
        Just(Status::NotApplicable),
        Just(Status::Waived),
        Just(Status::Error),
    ]
}

fn category() -> impl Strategy<Value = Category> {
    (0usize..6).prop_map(|i| Category::ALL[i])
}

fn severity() -> impl Strategy<Value = Severity> {
    (0usize..5).prop_map(|i| Severity::ALL[i])
}

fn one_result(i: usize) -> impl Strategy<Value = CheckResult> {
    (status(), category(), severity(), 0.0f64..20.0, 0.0f64..=1.0).prop_map(
        move |(s, c, v, w, credit)| {
            let credit = match s {
                Status::Pass => 1.0,
                Status::NotApplicable | Status::Error => 0.0,
                _ => credit,
            };
            let status = if s == Status::Fail && credit >= 1.0 {
                Status::Pass
            } else {
                s
            };
            res(&format!("c{i}"), c, v, w, status, credit)
        },
    )
}

fn results() -> impl Strategy<Value = Vec<CheckResult>> {
    (0usize..30).prop_flat_map(|n| (0..n).map(one_result).collect::<Vec<_>>())
}

proptest! {
    #[test]
    fn score_is_within_0_1(rs in results()) {
        let s = score_host(&rs, &ScoringConfig::default(), None);
        match s.score {
            Some(x) => prop_assert!((0.0..=1.0).contains(&x)),
            None => prop_assert!(s.total.possible <= 0.0),
        }
        for tally in s.categories.values() {
            if let Some(x) = tally.score() {
                prop_assert!((0.0..=1.0).contains(&x));
            }
        }
    }

    #[test]
    fn a_pass_turning_to_fail_never_raises_the_score(rs in results(), pick in any::<prop::sample::Index>(), credit in 0.0f64..1.0) {
        let passing: Vec<usize> = rs.iter().enumerate().filter(|(_, r)| r.status == Status::Pass).map(|(i, _)| i).collect();
        prop_assume!(!passing.is_empty());
        let i = passing[pick.index(passing.len())];
        let config = ScoringConfig::default();
        let before = score_host(&rs, &config, None);
        let mut after_rs = rs.clone();
        after_rs[i].status = Status::Fail;
        after_rs[i].credit = credit;
        let after = score_host(&after_rs, &config, None);
        match (before.score, after.score) {
            (Some(b), Some(a)) => prop_assert!(a <= b),
            (None, None) => {}
            other => prop_assert!(false, "known-ness changed: {:?}", other),
        }
        if let (Some(b), Some(a)) = (before.band, after.band) {
            prop_assert!(a <= b, "band rose from {:?} to {:?}", b, a);
        }
    }

    #[test]
    fn waiving_a_failing_check_never_lowers_the_score(rs in results(), pick in any::<prop::sample::Index>()) {
        // A failing pass/fail check (credit 0) — the common case.
        let failing: Vec<usize> = rs.iter().enumerate().filter(|(_, r)| r.status == Status::Fail).map(|(i, _)| i).collect();
        prop_assume!(!failing.is_empty());
        let i = failing[pick.index(failing.len())];
        let mut rs = rs;
        rs[i].credit = 0.0;
        let config = ScoringConfig::default();
        let before = score_host(&rs, &config, None).score;
        let mut waived = rs.clone();
        waived[i].status = Status::Waived;
        let after = score_host(&waived, &config, None).score;
        if let (Some(b), Some(a)) = (before, after) {
            prop_assert!(a >= b, "{} < {}", a, b);
        }
    }

    #[test]
    fn waiving_a_check_scoring_at_or_below_the_host_never_lowers_it(rs in results(), pick in any::<prop::sample::Index>()) {
        // The general form: leaving out a result whose credit is at most the host's
        // score cannot lower the weighted mean (partial credit included).
        let config = ScoringConfig::default();
        let Some(before) = score_host(&rs, &config, None).score else { return Ok(()); };
        let candidates: Vec<usize> = rs.iter().enumerate()
            .filter(|(_, r)| r.status == Status::Fail && r.credit <= before)
            .map(|(i, _)| i).collect();
        prop_assume!(!candidates.is_empty());
        let i = candidates[pick.index(candidates.len())];
        let mut waived = rs.clone();
        waived[i].status = Status::Waived;
        if let Some(after) = score_host(&waived, &config, None).score {
            prop_assert!(after >= before - 1e-12, "{} < {}", after, before);
        }
    }

    #[test]
    fn estate_gains_match_fixing_the_check_everywhere(hosts in prop::collection::vec(results(), 0..8)) {
        let config = ScoringConfig::default();
        let labels = BTreeMap::new();
        let estate: Vec<EstateHost<'_>> = hosts.iter().map(|r| EstateHost { results: r, labels: &labels }).collect();
        let before = score_estate(&estate, &config);
        if let Some(s) = before.score {
            prop_assert!((0.0..=1.0).contains(&s));
        }
        for imp in estate_improvements(&estate, &config).iter().take(3) {
            let fixed: Vec<Vec<CheckResult>> = hosts.iter().map(|rs| rs.iter().map(|r| {
                if r.id == imp.id && r.status == Status::Fail {
                    CheckResult { status: Status::Pass, credit: 1.0, ..r.clone() }
                } else { r.clone() }
            }).collect()).collect();
            let fixed_estate: Vec<EstateHost<'_>> = fixed.iter().map(|r| EstateHost { results: r, labels: &labels }).collect();
            let after = score_estate(&fixed_estate, &config).score.unwrap_or(0.0);
            prop_assert!((after - before.score.unwrap_or(0.0) - imp.gain).abs() < 1e-9);
        }
    }
}
