//! The shipped check catalogue (`config/checks/*.toml`) over real hosts.
//!
//! - Its fixtures pass and it follows the catalogue's conventions (ids, references, tags,
//!   the server/endpoint predicate written the same way everywhere).
//! - The three sample hosts' golden facts (`tests/fixtures/facts/`, derived at
//!   2026-11-27T09:10:00Z from the reports the agent collects from its recorded sysroots)
//!   fail exactly the checks they should: the neglected Ubuntu 16.04 file server fails
//!   what it really has and lands in the red band; the Dell R740 and the Debian KVM fail
//!   only what their facts show. A check that starts misfiring shows up here as a diff.
//! - The "Catalogue" section of `docs/checks.md` lists every check
//!   (`ESTATE_BLESS=1 cargo test -p estate-server --test catalogue` rewrites it).
//! - The shipped profiles select what they are for.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use estate_server::checks::{
    BASELINE, Band, Catalogue, Category, CheckResult, ChecksConfig, ChecksPaths, FixtureReport,
    HostRef, HostScore, Plan, Rule, ScoringConfig, Severity, Status, differential, score_host,
};

/// When the golden facts were derived, and the checks run.
const NOW: &str = "2026-11-27T09:10:00Z";

/// How the catalogue tells an endpoint (laptop, desktop, labelled VDI) from a server.
/// Every `applies` that classifies hosts writes it exactly like this (docs/checks.md).
const ENDPOINT: &str = "facts.host.chassis == 'laptop' || (has(facts.host.role) ? facts.host.role in ['desktop', 'laptop', 'workstation', 'endpoint', 'kiosk', 'vdi'] : facts.host.chassis == 'desktop')";

const DOCS_BEGIN: &str = "<!-- catalogue:begin";
const DOCS_END: &str = "<!-- catalogue:end -->";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config() -> ChecksConfig {
    let paths = ChecksPaths::under(&manifest_dir().join("../config"));
    ChecksConfig::load(&paths).unwrap_or_else(|e| panic!("the shipped check config:\n{e}"))
}

fn now() -> DateTime<Utc> {
    NOW.parse().unwrap()
}

fn golden(name: &str) -> serde_json::Value {
    let path = manifest_dir()
        .join("tests/fixtures/facts")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A sample host evaluated under `profile` at [`NOW`], and scored.
fn run(config: &ChecksConfig, host: &str, profile: &str) -> (Vec<CheckResult>, HostScore) {
    let facts = golden(host);
    let labels: BTreeMap<String, String> =
        serde_json::from_value(facts["host"]["labels"].clone()).unwrap();
    let profile = config.profiles.get(profile).unwrap();
    let plan = Plan::new(&config.catalogue, &profile, &config.waivers);
    let eval = plan.evaluate(
        &HostRef {
            id: facts["host"]["id"].as_str().unwrap(),
            hostname: facts["host"]["name"].as_str(),
            labels: &labels,
            facts: &facts,
        },
        now(),
    );
    let score = score_host(&eval.results, &ScoringConfig::default(), plan.fail_below());
    (eval.results, score)
}

fn with_status(results: &[CheckResult], status: Status) -> Vec<&str> {
    let mut ids: Vec<&str> = results
        .iter()
        .filter(|r| r.status == status)
        .map(|r| r.id.as_str())
        .collect();
    ids.sort_unstable();
    ids
}

fn whitespace_normalised(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------
// The catalogue itself

/// The same report as `estate-server checks test config/checks`: every fixture gives
/// its expected result and every check has the fixtures it must have.
#[test]
fn shipped_checks_fixtures_pass() {
    let config = config();
    let report = FixtureReport::run(&config.catalogue);
    assert!(report.ok(), "{report}");
    assert_eq!(report.checks, config.catalogue.len());
    assert!(report.missing.is_empty());
}

#[test]
fn the_catalogue_covers_every_category() {
    let config = config();
    let catalogue = &config.catalogue;
    assert!(catalogue.len() >= 45, "only {} checks", catalogue.len());
    for category in Category::ALL {
        let n = catalogue
            .checks()
            .iter()
            .filter(|c| c.category == category)
            .count();
        assert!(n >= 5, "{} has only {n} checks", category.as_str());
    }
    let critical: BTreeSet<&str> = catalogue
        .checks()
        .iter()
        .filter(|c| c.severity == Severity::Critical)
        .map(|c| c.id.as_str())
        .collect();
    // Critical caps a host at red: only what is an open door today.
    assert_eq!(
        critical,
        BTreeSet::from([
            "security.no-rsh",
            "security.no-telnet",
            "security.os-security-fixes",
            "security.ssh-no-root-password-login",
        ])
    );
}

#[test]
fn every_check_follows_the_catalogue_conventions() {
    let config = config();
    let endpoint = whitespace_normalised(ENDPOINT);
    let mut problems = Vec::new();
    for check in config.catalogue.checks() {
        let id = check.id.as_str();
        if !id.starts_with(&format!("{}.", check.category.as_str())) {
            problems.push(format!("{id}: the id does not start with its category"));
        }
        if check.description.is_none() {
            problems.push(format!("{id}: no description (why it matters)"));
        }
        if check.references.is_empty() {
            problems.push(format!("{id}: no references"));
        }
        if !(check.has_tag("server") || check.has_tag("endpoint")) {
            problems.push(format!("{id}: tagged neither `server` nor `endpoint`"));
        }
        for (name, param) in &check.params {
            if param.description.is_none() {
                problems.push(format!("{id}: param `{name}` has no description"));
            }
        }
        // Hosts are classified one way only: a check that names an endpoint role uses
        // the whole predicate, not a variant of it.
        if let Some(applies) = &check.applies {
            let text = whitespace_normalised(applies.source());
            if text.contains("'kiosk'") && !text.contains(&endpoint) {
                problems.push(format!(
                    "{id}: classifies hosts without the endpoint predicate"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------
// The sample hosts

/// The neglected Ubuntu 16.04 file server (`legacy-files01`, a KVM guest): everything
/// it fails, it really has. Not failed, on purpose: hardware, Secure Boot and firmware
/// checks (a VM), backups (a VM is backed up by the hypervisor by default), utilisation
/// thresholds (no series), probes and certificates (none configured).
#[test]
fn the_neglected_host_fails_what_it_really_has() {
    let config = config();
    let (results, score) = run(&config, "neglected", BASELINE);
    assert_eq!(
        with_status(&results, Status::Fail),
        [
            "capacity.filesystem-free",               // / at 0 % available
            "capacity.filesystem-not-full",           // ... which is full
            "lifecycle.os-supported",                 // Ubuntu 16.04: standard support ended 2021
            "operations.utilisation-history",         // one 5-minute window, no CPU/memory
            "resilience.dns-redundant",               // one resolver
            "resilience.rebooted-recently",           // up since 2020-08-14
            "security.antivirus-present",             // none
            "security.firewall-active",               // ufw installed, disabled
            "security.legacy-server-packages-absent", // telnetd, openbsd-inetd
            "security.no-ftp",                        // vsftpd on 0.0.0.0:21
            "security.no-netbios",                    // nmbd 137/138, smbd 139
            "security.no-telnet",                     // inetd on 0.0.0.0:23
            "security.os-security-fixes",             // ESM ended 2026-04-02
            "security.patched-recently",              // last package change 2020-09-02
            "security.pending-security-updates",      // 97 security updates pending
            "security.reboot-pending",                // linux-image-4.4.0-190 waiting
            "security.samba-no-smb1-default",         // Samba 4.3
            "security.ssh-no-password-auth",          // PasswordAuthentication yes
            "security.ssh-no-root-login",             // PermitRootLogin yes
            "security.ssh-no-root-password-login",    // ... with passwords
            "security.time-sync",                     // timesyncd disabled, nothing else
        ]
    );
    // Service states are unknown (no D-Bus in the recorded root): cannot judge.
    assert_eq!(
        with_status(&results, Status::Error),
        ["operations.failed-units"]
    );
    let value = score.score.unwrap();
    assert!(value < 0.9, "score {value}");
    assert!(value < 0.5, "a host this neglected scores low: {value}");
    assert_eq!(score.band, Some(Band::Red));
    let capped: BTreeSet<&str> = score.capped_by.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        capped,
        BTreeSet::from([
            "security.no-telnet",
            "security.os-security-fixes",
            "security.ssh-no-root-password-login",
        ])
    );
}

/// The Dell R740 Rocky 9 database server: a well-run host whose recorded root dates
/// from 2024-06, evaluated in 2026-11. Each failure is what the facts show: 905 days
/// since a package change and 939 days up (the recording's age), a newer kernel
/// installed than running, PasswordAuthentication yes (the RHEL default), a BIOS from
/// 2021 (5.4 years by the BIOS-date proxy; no firmware update in 3 years), no backup
/// agent (only local dumps on the same server), one of two NICs cabled, no RAPL reading
/// in the recording, and no utilisation history.
#[test]
fn the_dell_r740_fails_only_what_its_facts_show() {
    let config = config();
    let (results, score) = run(&config, "dell-r740", BASELINE);
    assert_eq!(
        with_status(&results, Status::Fail),
        [
            "lifecycle.hardware-age",
            "operations.utilisation-history",
            "resilience.backup-agent",
            "resilience.network-redundancy",
            "resilience.rebooted-recently",
            "security.firmware-recent",
            "security.patched-recently",
            "security.reboot-pending",
            "security.ssh-no-password-auth",
            "sustainability.power-measured",
        ]
    );
    assert_eq!(
        with_status(&results, Status::Error),
        ["operations.failed-units"]
    );
    // What it does right passes: supported OS, firewalld, Falcon, Secure Boot, chrony,
    // root login refused, three disks, two resolvers, labels, serial.
    for id in [
        "lifecycle.os-supported",
        "security.os-security-fixes",
        "security.firewall-active",
        "security.antivirus-present",
        "security.secure-boot",
        "security.time-sync",
        "security.ssh-no-root-login",
        "resilience.redundant-disks",
        "resilience.dns-redundant",
        "operations.host-labelled",
        "operations.serial-known",
    ] {
        let r = results.iter().find(|r| r.id.as_str() == id).unwrap();
        assert_eq!(r.status, Status::Pass, "{id}");
    }
    assert!(score.capped_by.is_empty());
    assert_eq!(score.band, Some(Band::Amber));
}

/// The Debian 12 KVM web server: regular Debian security support ended 2026-07-11 (it
/// is on Debian LTS, which passes security.os-security-fixes), root may log in with a
/// key (`prohibit-password`, CIS asks for `no`), no EDR, one resolver, no owner label,
/// and the recording's age (898 days unpatched, 921 up, a kernel and libc waiting).
#[test]
fn the_debian_kvm_fails_only_what_its_facts_show() {
    let config = config();
    let (results, score) = run(&config, "debian-kvm", BASELINE);
    assert_eq!(
        with_status(&results, Status::Fail),
        [
            "lifecycle.os-supported",
            "operations.host-labelled",
            "operations.utilisation-history",
            "resilience.dns-redundant",
            "resilience.rebooted-recently",
            "security.antivirus-present",
            "security.patched-recently",
            "security.reboot-pending",
            "security.ssh-no-root-login",
        ]
    );
    assert_eq!(
        with_status(&results, Status::Error),
        ["operations.failed-units"]
    );
    for id in [
        "security.os-security-fixes",
        "lifecycle.os-extended-support-ending",
        "security.firewall-active",
        "security.ssh-no-password-auth",
        "security.ssh-no-root-password-login",
        "security.time-sync",
        "capacity.filesystem-free",
    ] {
        let r = results.iter().find(|r| r.id.as_str() == id).unwrap();
        assert_eq!(r.status, Status::Pass, "{id}");
    }
    assert!(score.capped_by.is_empty());
    assert_eq!(score.band, Some(Band::Amber));
}

/// A host whose inventory never arrived (only a report with utilisation and power):
/// nothing it cannot know passes. Security and lifecycle checks are errors or not
/// applicable, and the missing inventory itself fails.
#[test]
fn a_host_without_inventory_passes_nothing_it_cannot_know() {
    let config = config();
    let (results, _) = run(&config, "regular-report-only", BASELINE);
    for r in &results {
        if matches!(
            r.category,
            Category::Security | Category::Lifecycle | Category::Resilience
        ) {
            assert!(
                matches!(r.status, Status::Error | Status::NotApplicable),
                "{} is {:?} without an inventory",
                r.id,
                r.status
            );
        }
    }
    let failed = with_status(&results, Status::Fail);
    assert_eq!(
        failed,
        [
            "operations.inventory-fresh",
            "operations.utilisation-history"
        ]
    );
    let errors = with_status(&results, Status::Error);
    for id in [
        "security.firewall-active",
        "security.antivirus-present",
        "security.patched-recently",
        "capacity.filesystem-free",
    ] {
        assert!(errors.contains(&id), "{id}: {errors:?}");
    }
}

/// Evidence is what people read next to a result: it must compute wherever the check
/// itself could judge.
#[test]
fn evidence_computes_for_every_verdict_on_the_sample_hosts() {
    let config = config();
    for host in ["neglected", "dell-r740", "debian-kvm"] {
        let (results, _) = run(&config, host, BASELINE);
        for r in &results {
            if matches!(r.status, Status::Pass | Status::Fail) {
                assert!(r.error.is_none(), "{host} {}: {:?}", r.id, r.error);
                let check = config.catalogue.get(r.id.as_str()).unwrap();
                if check.evidence.is_some() {
                    assert!(r.evidence.is_some(), "{host} {}: no evidence", r.id);
                }
            }
        }
    }
}

/// The direct evaluator and cel agree on every check for the sample hosts (the fixtures
/// check the same on theirs; `fuzz/` on arbitrary facts).
#[test]
fn the_direct_evaluator_agrees_with_cel_on_the_sample_hosts() {
    let config = config();
    for host in [
        "neglected",
        "dell-r740",
        "debian-kvm",
        "regular-report-only",
    ] {
        let diffs = differential(&config.catalogue, &golden(host), now());
        assert!(diffs.is_empty(), "{host}:\n{}", diffs.join("\n"));
    }
}

/// Speed: the direct evaluator (`checks/fast.rs`) runs the whole shipped catalogue, so
/// re-scoring never falls back to cel's slower interpreter for it. A new check written
/// outside that subset still works (cel runs it); this test asks whether it had to be.
/// The one exception parses Samba's version string (`int`, `substring`, `indexOf`,
/// `split`) and applies only to hosts with Samba installed.
#[test]
fn every_shipped_expression_runs_in_the_direct_evaluator() {
    let config = config();
    let mut slow = Vec::new();
    for check in config.catalogue.checks() {
        let rule = match &check.rule {
            Rule::Pass(e) | Rule::Score(e) => e,
        };
        let exprs = [("applies", check.applies.as_ref()), ("rule", Some(rule))]
            .into_iter()
            .chain([("evidence", check.evidence.as_ref())]);
        for (what, expr) in exprs {
            if let Some(e) = expr
                && !e.is_fast()
                && check.id.as_str() != "security.samba-no-smb1-default"
            {
                slow.push(format!("{} {what}: {}", check.id, e.source()));
            }
        }
    }
    assert!(
        slow.is_empty(),
        "only cel runs these (extend checks/fast.rs or rewrite them):\n{}",
        slow.join("\n")
    );
}

// ---------------------------------------------------------------------------------
// Profiles

fn selected(config: &ChecksConfig, profile: &str) -> Vec<String> {
    let profile = config.profiles.get(profile).unwrap();
    let mut ids: Vec<String> = Plan::new(&config.catalogue, &profile, &config.waivers)
        .checks()
        .map(|c| c.check.id.to_string())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn the_shipped_profiles_select_sensible_sets() {
    let config = config();
    assert_eq!(selected(&config, BASELINE).len(), config.catalogue.len());

    let cloud = selected(&config, "cloud-readiness");
    assert_eq!(
        cloud,
        [
            "lifecycle.disks-fit-cloud",
            "lifecycle.no-gpu-dependency",
            "lifecycle.os-64bit",
            "lifecycle.os-lifecycle-known",
            "lifecycle.os-support-ending",
            "lifecycle.os-supported",
            "operations.agent-reporting",
            "operations.collectors-ok",
            "operations.host-labelled",
            "operations.inventory-fresh",
            "operations.utilisation-history",
            "security.os-security-fixes",
            "sustainability.memory-right-sized",
            "sustainability.physical-consolidation",
            "sustainability.under-utilised",
        ]
    );

    let endpoint = selected(&config, "endpoint-security");
    assert_eq!(
        endpoint,
        [
            "security.antivirus-present",
            "security.automatic-updates",
            "security.disk-encryption-desktop",
            "security.disk-encryption-laptop",
            "security.endpoint-no-rdp",
            "security.firewall-active",
            "security.firmware-recent",
            "security.no-exposed-vnc",
            "security.no-ftp",
            "security.no-netbios",
            "security.no-rsh",
            "security.no-telnet",
            "security.os-security-fixes",
            "security.patched-recently",
            "security.pending-security-updates",
            "security.reboot-pending",
            "security.secure-boot",
            "security.ssh-no-password-auth",
            "security.ssh-no-root-login",
            "security.ssh-no-root-password-login",
            "security.time-sync",
            // Windows: not applicable to the other systems.
            "security.windows-antivirus-current",
            "security.windows-local-admins",
            "security.windows-rdp-nla",
            "security.windows-smb1-off",
        ]
    );
    assert_eq!(
        config.profiles.get("endpoint-security").unwrap().fail_below,
        Some(0.8)
    );

    // The neglected server under the cloud-readiness profile: not ready (unsupported OS,
    // no utilisation history), and it says so without the security noise.
    let (results, score) = run(&config, "neglected", "cloud-readiness");
    assert_eq!(
        with_status(&results, Status::Fail),
        [
            "lifecycle.os-supported",
            "operations.utilisation-history",
            "security.os-security-fixes",
        ]
    );
    assert_eq!(score.band, Some(Band::Red));
}

// ---------------------------------------------------------------------------------
// docs/checks.md, "Catalogue"

fn catalogue_tables(catalogue: &Catalogue) -> String {
    let mut out = String::new();
    for category in Category::ALL {
        let checks: Vec<_> = catalogue
            .checks()
            .iter()
            .filter(|c| c.category == category)
            .collect();
        let name = category.as_str();
        let mut title = name[..1].to_uppercase();
        title.push_str(&name[1..]);
        out.push_str(&format!(
            "\n### {title} ({} checks)\n\n| id | title | severity | tags |\n|---|---|---|---|\n",
            checks.len()
        ));
        for c in checks {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                c.id,
                c.title.replace('|', "\\|"),
                c.severity.as_str(),
                c.tags.join(", ")
            ));
        }
    }
    out.push('\n');
    out
}

/// The Catalogue section lists every check, generated from the catalogue between two
/// markers: `ESTATE_BLESS=1` rewrites it, otherwise a difference fails.
#[test]
fn the_docs_list_every_check() {
    let config = config();
    let path = manifest_dir().join("../docs/checks.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let begin = doc
        .find(DOCS_BEGIN)
        .expect("docs/checks.md: no catalogue:begin marker");
    let body_start = begin + doc[begin..].find("-->").unwrap() + 3;
    let end = doc
        .find(DOCS_END)
        .expect("docs/checks.md: no catalogue:end marker");
    let expected = catalogue_tables(&config.catalogue);
    if std::env::var_os("ESTATE_BLESS").is_some() {
        let updated = format!("{}{expected}{}", &doc[..body_start], &doc[end..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &doc[body_start..end],
        expected,
        "docs/checks.md's catalogue is out of date: ESTATE_BLESS=1 cargo test -p estate-server --test catalogue"
    );
}
