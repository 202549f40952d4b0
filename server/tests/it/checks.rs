//! The check engine over real files: the shipped catalogue (`config/checks/`) must load
//! and every check must have passing, failing and (with `applies`) not-applicable
//! fixtures that give their expected result; the shipped profiles and waivers must
//! load; and a test catalogue (`tests/fixtures/checks/`) runs end to end.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use estate_server::checks::{
    BASELINE, Band, Catalogue, ChecksConfig, ChecksPaths, EstateHost, FixtureReport, HostRef, Plan,
    Profiles, ScoringConfig, Status, Waivers, estate_improvements, host_improvements, score_estate,
    score_host,
};

use crate::support::manifest_dir;

fn config_dir() -> PathBuf {
    manifest_dir().join("../config")
}

fn test_catalogue_dir() -> PathBuf {
    manifest_dir().join("tests/fixtures/checks/catalogue")
}

/// Fails on any check of the shipped catalogue without a passing, failing or (when it
/// has `applies`) not-applicable fixture, and on any fixture giving the wrong result.
/// The same report backs `estate-server checks test`.
#[test]
fn the_shipped_catalogue_has_fixtures_that_pass() {
    let paths = ChecksPaths::under(&config_dir());
    if !paths.checks_dir.is_dir() {
        // No catalogue shipped yet: the profiles and waivers must still be valid.
        let empty = Catalogue::empty();
        Profiles::load(&config_dir().join("profiles"), &empty).unwrap();
        Waivers::load(&config_dir().join("waivers.toml"), &empty).unwrap();
        return;
    }
    let config = match ChecksConfig::load(&paths) {
        Ok(c) => c,
        Err(e) => panic!("the shipped check config does not load:\n{e}"),
    };
    let report = FixtureReport::run(&config.catalogue);
    assert!(report.ok(), "shipped catalogue fixtures:\n{report}");
    assert_eq!(
        report.outcomes.len(),
        config
            .catalogue
            .checks()
            .iter()
            .map(|c| c.fixtures.len())
            .sum::<usize>()
    );
}

#[test]
fn the_shipped_profiles_and_waivers_load() {
    let dir = config_dir().join("profiles");
    let profiles = Profiles::load(&dir, &Catalogue::empty()).unwrap();
    assert_eq!(
        profiles.names(),
        ["baseline", "cloud-readiness", "endpoint-security"]
    );
    let waivers = Waivers::load(&config_dir().join("waivers.toml"), &Catalogue::empty()).unwrap();
    assert!(
        waivers.is_empty(),
        "the shipped waivers file is an example only"
    );
}

#[test]
fn the_shipped_profiles_select_what_they_say() {
    let catalogue = Catalogue::load(&test_catalogue_dir()).unwrap();
    let profiles = Profiles::load(&config_dir().join("profiles"), &catalogue).unwrap();
    let ids = |name: &str| -> Vec<String> {
        let p = profiles.get(name).unwrap();
        Plan::new(&catalogue, &p, &Waivers::none())
            .checks()
            .map(|c| c.check.id.to_string())
            .collect()
    };
    assert_eq!(
        ids(BASELINE),
        [
            "test.os.supported",
            "test.disk.headroom",
            "test.ssh.root-login",
            "test.firewall.active"
        ]
    );
    assert_eq!(
        ids("cloud-readiness"),
        ["test.os.supported", "test.disk.headroom"]
    );
    assert_eq!(ids("endpoint-security"), ["test.ssh.root-login"]);
    assert_eq!(
        profiles.get("endpoint-security").unwrap().fail_below,
        Some(0.8)
    );
}

#[test]
fn the_test_catalogue_runs_end_to_end() {
    let catalogue = Catalogue::load(&test_catalogue_dir()).unwrap();
    let report = FixtureReport::run(&catalogue);
    assert!(report.ok(), "{report}");
    assert_eq!(
        report.to_string(),
        "4 checks, 11 fixtures: 11 passed, 0 failed; 0 missing fixtures"
    );

    let facts: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(test_catalogue_dir().join("facts/eol-host.json")).unwrap(),
    )
    .unwrap();
    let labels = BTreeMap::from([("criticality".to_owned(), "high".to_owned())]);
    let host = HostRef {
        id: "3d9a7f0c2b1e4d5a9c8b7a6f5e4d3c2b",
        hostname: Some("app-web02"),
        labels: &labels,
        facts: &facts,
    };
    let waivers = Waivers::parse(
        "[[waiver]]\ncheck = \"test.ssh.root-login\"\nhostname = \"app-web02\"\nreason = \"Vendor appliance\"\nowner = \"infra\"\nexpires = 2026-06-30\n",
        "waivers.toml",
        &catalogue,
    )
    .unwrap();
    let now: DateTime<Utc> = "2026-03-01T00:00:00Z".parse().unwrap();
    let profile = Profiles::default().get(BASELINE).unwrap();
    let plan = Plan::new(&catalogue, &profile, &waivers);
    let eval = plan.evaluate(&host, now);
    let statuses: Vec<(&str, Status)> = eval
        .results
        .iter()
        .map(|r| (r.id.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("test.os.supported", Status::Fail),
            ("test.disk.headroom", Status::Fail),
            ("test.ssh.root-login", Status::Waived),
            ("test.firewall.active", Status::Pass),
        ]
    );
    let config = ScoringConfig::default();
    let score = score_host(&eval.results, &config, plan.fail_below());
    // (5 × 0 + 3 × 0.5 + 5 × 1) / 13; the critical failure is waived, so no cap.
    assert!((score.score.unwrap() - 6.5 / 13.0).abs() < 1e-12);
    assert_eq!(score.band, Some(Band::Red));
    assert!(score.capped_by.is_empty());
    let top = host_improvements(&eval.results);
    assert_eq!(top[0].id.as_str(), "test.os.supported");
    assert!((top[0].gain - 5.0 / 13.0).abs() < 1e-12);

    let json = serde_json::to_value(&eval).unwrap();
    assert_eq!(json["results"][2]["status"], "waived");
    assert_eq!(json["results"][2]["waiver"]["state"], "active");
    assert_eq!(json["results"][1]["evidence"], serde_json::json!(["/var"]));

    let estate = score_estate(
        &[EstateHost {
            results: &eval.results,
            labels: &labels,
        }],
        &config,
    );
    assert_eq!(estate.waivers.active, 1);
    assert_eq!(
        estate_improvements(
            &[EstateHost {
                results: &eval.results,
                labels: &labels
            }],
            &config
        )[0]
        .hosts_failing,
        1
    );
}
