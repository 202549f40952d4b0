//! The behaviour every [`Store`] backend must show, as one suite of checks that take any
//! store. Backend tests call [`run_all`] with a fresh, empty store; a failed check panics
//! with what it expected (this module is test support, so it asserts).
//!
//! This module owns the storage contract's executable form; it must not depend on a
//! particular backend.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::{
    AssessmentRecord, HostFacets, HostQuery, HostState, HostStates, IngestOutcome, NewReport,
    SeriesPoint, Store, StoreError,
};

fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A fixed instant used by the suite (2026-11-27T09:00:00Z) plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 11, 27, 9, 0, 0)
        .single()
        .unwrap_or_default();
    base + Duration::minutes(minutes)
}

/// A report about `host_id` collected at `collected_at`, with an inventory whose hash is
/// `inventory` when given.
pub fn sample_report(
    host_id: &str,
    collected_at: DateTime<Utc>,
    inventory: Option<&str>,
) -> NewReport {
    let mut labels = BTreeMap::new();
    labels.insert("site".to_owned(), "county-hall".to_owned());
    NewReport {
        report_id: Uuid::new_v4(),
        host_id: host_id.to_owned(),
        hostname: format!("{host_id}-{}", collected_at.timestamp()),
        labels,
        collected_at,
        received_at: collected_at,
        inventory_json: inventory.map(|h| format!("{{\"marker\":\"{h}\"}}")),
        inventory_hash: inventory.unwrap_or("h-latest").to_owned(),
        facets: inventory.map(|_| HostFacets {
            os_family: Some("linux".to_owned()),
            os_id: Some("debian".to_owned()),
            os_name: Some("Debian GNU/Linux 12 (bookworm)".to_owned()),
            os_version: Some("12".to_owned()),
            machine_kind: Some("vm".to_owned()),
            chassis: Some("virtual".to_owned()),
        }),
        point: SeriesPoint {
            window_start: collected_at - Duration::minutes(5),
            window_end: collected_at,
            cpu_mean_ratio: Some(0.25),
            cpu_p95_ratio: Some(0.5),
            memory_mean_ratio: Some(0.6),
            memory_p95_ratio: None,
            power_watts: Some(60.0),
            energy_joules: Some(18_000.0),
            power_source: "measured".to_owned(),
        },
        raw_json: "{}".to_owned(),
    }
}

/// Runs every check, each on its own hosts, against one empty store.
pub async fn run_all(store: Arc<dyn Store>) {
    ok(store.ping().await, "ping");
    idempotent_by_report_id(store.as_ref()).await;
    host_upsert_moves_forward_only(store.as_ref()).await;
    inventory_kept_when_report_has_none(store.as_ref()).await;
    series_rows_per_report(store.as_ref()).await;
    tokens_are_bound_replaced_and_revoked(store.as_ref()).await;
    retention_prunes_raw_reports_only(store.as_ref()).await;
    host_states_split_at_the_cutoff(store.as_ref()).await;
    facets_follow_the_inventory(store.as_ref()).await;
    host_listing_filters_and_pages(store.as_ref()).await;
    latest_report_is_the_newest_collected(store.as_ref()).await;
    assessments_track_status_changes(store.as_ref()).await;
    carbon_estimates_follow_the_latest_assessment(store.as_ref()).await;
    assessment_details_page_by_host_id(store.as_ref()).await;
    assessment_pages_match_the_whole_reads(store.as_ref()).await;
    report_views_follow_the_latest_assessment(store.as_ref()).await;
    energy_totals_count_each_report_once(store.as_ref()).await;
    concurrent_writes_are_grouped(Arc::clone(&store), 200).await;
}

/// A repeated `report_id` is acknowledged as a duplicate and stored once.
pub async fn idempotent_by_report_id(store: &dyn Store) {
    let before = ok(store.counts().await, "counts");
    let report = sample_report("idem", at(0), Some("h1"));
    assert_eq!(
        ok(store.ingest(report.clone()).await, "first ingest"),
        IngestOutcome::Stored
    );
    assert_eq!(
        ok(store.ingest(report).await, "repeat ingest"),
        IngestOutcome::Duplicate
    );
    let after = ok(store.counts().await, "counts");
    assert_eq!(after.series, before.series + 1);
    assert_eq!(after.raw_reports, before.raw_reports + 1);
    assert_eq!(after.hosts, before.hosts + 1);
}

/// Name, labels and last-seen follow the newest report; a late old report moves only
/// first-seen back.
pub async fn host_upsert_moves_forward_only(store: &dyn Store) {
    let newer = sample_report("upsert", at(10), None);
    let mut older = sample_report("upsert", at(5), None);
    older.labels.insert("role".to_owned(), "old".to_owned());
    ok(store.ingest(newer.clone()).await, "newer");
    ok(store.ingest(older).await, "older");
    let host = ok(store.host("upsert".to_owned()).await, "host");
    let Some(host) = host else {
        panic!("host `upsert` missing after two reports")
    };
    assert_eq!(host.hostname, newer.hostname);
    assert_eq!(host.labels, newer.labels);
    // An id no host can have (a NUL from a URL's `%00`) is simply not found.
    assert!(ok(store.host("upsert\0".to_owned()).await, "nul").is_none());
    assert_eq!(host.first_seen, at(5));
    assert_eq!(host.last_seen, at(10));
    assert_eq!(host.inventory, None);
    assert_eq!(host.inventory_hash, None);
    assert_eq!(host.reported_inventory_hash, "h-latest");
}

/// A report without inventory updates last-seen and the series and keeps the inventory.
pub async fn inventory_kept_when_report_has_none(store: &dyn Store) {
    ok(
        store.ingest(sample_report("inv", at(0), Some("h1"))).await,
        "with inventory",
    );
    ok(
        store.ingest(sample_report("inv", at(5), None)).await,
        "without inventory",
    );
    let host = ok(store.host("inv".to_owned()).await, "host");
    let Some(host) = host else {
        panic!("host `inv` missing")
    };
    assert_eq!(host.inventory_hash.as_deref(), Some("h1"));
    assert_eq!(host.reported_inventory_hash, "h-latest");
    assert_eq!(host.inventory_collected_at, Some(at(0)));
    assert_eq!(host.last_seen, at(5));
    assert_eq!(
        host.inventory,
        Some(serde_json::json!({"marker": "h1"})),
        "inventory replaced by a report without one"
    );
    // An older inventory arriving late does not replace a newer one.
    ok(
        store.ingest(sample_report("inv", at(20), Some("h3"))).await,
        "newest",
    );
    ok(
        store.ingest(sample_report("inv", at(15), Some("h2"))).await,
        "late",
    );
    let host = ok(store.host("inv".to_owned()).await, "host");
    assert_eq!(host.and_then(|h| h.inventory_hash).as_deref(), Some("h3"));
    let hosts = ok(store.hosts().await, "hosts");
    let listed = hosts.iter().find(|h| h.host_id == "inv");
    assert!(
        listed.is_some_and(|h| h.inventory.is_none()),
        "the host list carries no inventories"
    );
}

/// Each stored report adds one series row, oldest first.
pub async fn series_rows_per_report(store: &dyn Store) {
    for minutes in [10, 0, 5] {
        ok(
            store
                .ingest(sample_report("series", at(minutes), None))
                .await,
            "ingest",
        );
    }
    let all = |host: &str| store.series(host.to_owned(), at(-1_000_000), at(1_000_000));
    let points = ok(all("series").await, "series");
    let ends: Vec<_> = points.iter().map(|p| p.window_end).collect();
    assert_eq!(ends, vec![at(0), at(5), at(10)]);
    assert_eq!(points[0].power_watts, Some(60.0));
    assert_eq!(points[0].memory_p95_ratio, None);
    assert_eq!(points[0].power_source, "measured");
    assert!(ok(all("nobody").await, "series").is_empty());
    // The range is half-open on the window's end: [from, to).
    let ranged = ok(
        store.series("series".to_owned(), at(5), at(10)).await,
        "ranged series",
    );
    let ends: Vec<_> = ranged.iter().map(|p| p.window_end).collect();
    assert_eq!(ends, vec![at(5)]);
}

/// A token hash finds its host; re-enrolment replaces the old token; revocation ends it.
pub async fn tokens_are_bound_replaced_and_revoked(store: &dyn Store) {
    let enrol = |hash: &str| store.enrol("tok".to_owned(), "tok-1".to_owned(), hash.to_owned());
    ok(enrol("hash-a").await, "enrol");
    assert_eq!(
        ok(store.token_host("hash-a".to_owned()).await, "lookup").as_deref(),
        Some("tok")
    );
    ok(enrol("hash-b").await, "re-enrol");
    assert_eq!(ok(store.token_host("hash-a".to_owned()).await, "old"), None);
    assert_eq!(
        ok(store.token_host("hash-b".to_owned()).await, "new").as_deref(),
        Some("tok")
    );
    let listed = ok(store.tokens().await, "tokens");
    assert!(listed.iter().any(|t| t.host_id == "tok" && !t.revoked));
    assert!(ok(store.revoke("tok".to_owned()).await, "revoke"));
    assert!(!ok(store.revoke("tok".to_owned()).await, "revoke again"));
    assert!(!ok(
        store.revoke("nobody".to_owned()).await,
        "revoke unknown"
    ));
    assert_eq!(
        ok(store.token_host("hash-b".to_owned()).await, "revoked"),
        None
    );
}

/// Retention deletes old raw reports but keeps series rows and idempotency.
pub async fn retention_prunes_raw_reports_only(store: &dyn Store) {
    let mut old = sample_report("prune", at(0), None);
    old.received_at = at(-60 * 24 * 365);
    ok(store.ingest(old.clone()).await, "ingest");
    let before = ok(store.counts().await, "counts");
    let pruned = ok(store.prune_raw_reports(at(-60)).await, "prune");
    assert_eq!(pruned, 1);
    let after = ok(store.counts().await, "counts");
    assert_eq!(after.raw_reports, before.raw_reports - 1);
    assert_eq!(after.series, before.series);
    assert_eq!(
        ok(store.ingest(old).await, "repeat after prune"),
        IngestOutcome::Duplicate
    );
}

/// Hosts are reporting when last seen at or after the cutoff, stale before it.
pub async fn host_states_split_at_the_cutoff(store: &dyn Store) {
    let far_future = at(60 * 24 * 365 * 100);
    let before = ok(store.host_states(far_future).await, "states");
    assert_eq!(before.reporting, 0);
    ok(
        store
            .ingest(sample_report("state-a", far_future, None))
            .await,
        "a",
    );
    let after = ok(store.host_states(far_future).await, "states");
    assert_eq!(
        after,
        HostStates {
            reporting: 1,
            stale: before.stale
        }
    );
    let all = ok(store.counts().await, "counts");
    let epoch = ok(store.host_states(at(-60 * 24 * 365 * 100)).await, "states");
    assert_eq!(
        epoch,
        HostStates {
            reporting: all.hosts,
            stale: 0
        }
    );
}

/// Many concurrent writers are committed in far fewer transactions than writes.
pub async fn concurrent_writes_are_grouped(store: Arc<dyn Store>, writers: usize) {
    let before_tx = store.transactions();
    let before = ok(store.counts().await, "counts");
    let mut tasks = Vec::new();
    for i in 0..writers {
        let store = Arc::clone(&store);
        let report = sample_report(&format!("many-{}", i % 50), at(i as i64), None);
        tasks.push(tokio::spawn(async move { store.ingest(report).await }));
    }
    for task in tasks {
        match task.await {
            Ok(result) => assert_eq!(ok(result, "concurrent ingest"), IngestOutcome::Stored),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    let transactions = store.transactions() - before_tx;
    let after = ok(store.counts().await, "counts");
    assert_eq!(after.series, before.series + writers as u64);
    assert!(
        transactions > 0 && (transactions as usize) <= writers / 2,
        "{writers} writes took {transactions} transactions"
    );
}

/// The OS and machine-kind facets are those of the stored inventory: set by a report
/// carrying one, kept by reports without.
pub async fn facets_follow_the_inventory(store: &dyn Store) {
    ok(
        store.ingest(sample_report("facets", at(0), None)).await,
        "without",
    );
    let host = ok(store.host("facets".to_owned()).await, "host");
    assert_eq!(host.map(|h| h.facets), Some(HostFacets::default()));
    ok(
        store
            .ingest(sample_report("facets", at(5), Some("f1")))
            .await,
        "with",
    );
    ok(
        store.ingest(sample_report("facets", at(10), None)).await,
        "without again",
    );
    let host = ok(store.host("facets".to_owned()).await, "host");
    let facets = host.map(|h| h.facets).unwrap_or_default();
    assert_eq!(facets.os_id.as_deref(), Some("debian"));
    assert_eq!(facets.machine_kind.as_deref(), Some("vm"));
}

/// Filters combine (labels, OS, kind, state, search); pages follow the id order with a
/// cursor, and `total` counts every match.
pub async fn host_listing_filters_and_pages(store: &dyn Store) {
    for (i, id) in ["list-a", "list-b", "list-c", "list-d", "list-e"]
        .iter()
        .enumerate()
    {
        let minutes = if i < 2 { -600 } else { 0 };
        let mut report = sample_report(id, at(minutes), (i % 2 == 0).then_some("l1"));
        report.labels.insert("suite".to_owned(), "list".to_owned());
        report.labels.insert(
            "role".to_owned(),
            if i < 3 { "web" } else { "db" }.to_owned(),
        );
        report.hostname = format!("Srv-{}", id.to_uppercase());
        ok(store.ingest(report).await, "ingest");
    }
    let base = || HostQuery {
        labels: BTreeMap::from([("suite".to_owned(), "list".to_owned())]),
        os: None,
        machine_kind: None,
        state: None,
        stale_before: at(-60),
        search: None,
        after: None,
        limit: 100,
    };
    let ids = |page: &super::HostPage| -> Vec<String> {
        page.hosts.iter().map(|h| h.host_id.clone()).collect()
    };
    let page = ok(store.list_hosts(base()).await, "all");
    assert_eq!(page.total, 5);
    assert_eq!(
        ids(&page),
        ["list-a", "list-b", "list-c", "list-d", "list-e"]
    );
    assert_eq!(page.next_after, None);
    assert!(page.hosts.iter().all(|h| h.inventory.is_none()));

    let mut q = base();
    q.labels.insert("role".to_owned(), "web".to_owned());
    assert_eq!(
        ids(&ok(store.list_hosts(q).await, "by label")),
        ["list-a", "list-b", "list-c"]
    );

    let mut q = base();
    q.os = Some("DEBIAN".to_owned());
    assert_eq!(
        ids(&ok(store.list_hosts(q).await, "by os id")),
        ["list-a", "list-c", "list-e"]
    );
    let mut q = base();
    q.os = Some("linux".to_owned());
    q.machine_kind = Some("vm".to_owned());
    assert_eq!(ok(store.list_hosts(q).await, "by family and kind").total, 3);

    let mut q = base();
    q.state = Some(HostState::Stale);
    assert_eq!(
        ids(&ok(store.list_hosts(q).await, "stale")),
        ["list-a", "list-b"]
    );
    let mut q = base();
    q.state = Some(HostState::Reporting);
    assert_eq!(ok(store.list_hosts(q).await, "reporting").total, 3);

    let mut q = base();
    q.search = Some("srv-list-d".to_owned());
    assert_eq!(ids(&ok(store.list_hosts(q).await, "search")), ["list-d"]);
    let mut q = base();
    q.search = Some("nothing-like-it".to_owned());
    assert_eq!(ok(store.list_hosts(q).await, "search none").total, 0);

    // Pages of two: a, b | c, d | e.
    let mut seen = Vec::new();
    let mut q = base();
    q.limit = 2;
    loop {
        let page = ok(store.list_hosts(q.clone()).await, "page");
        assert_eq!(page.total, 5);
        seen.extend(ids(&page));
        match page.next_after {
            Some(after) => q.after = Some(after),
            None => break,
        }
    }
    assert_eq!(seen, ["list-a", "list-b", "list-c", "list-d", "list-e"]);

    // A label key with odd characters is matched literally, not as a path.
    let mut q = base();
    q.labels.insert("we\"ird.key".to_owned(), "x".to_owned());
    assert_eq!(ok(store.list_hosts(q).await, "odd key").total, 0);
}

/// The latest report is the one collected last, whatever the arrival order.
pub async fn latest_report_is_the_newest_collected(store: &dyn Store) {
    assert_eq!(
        ok(store.latest_report("latest".to_owned()).await, "none yet"),
        None
    );
    let mut newer = sample_report("latest", at(10), None);
    newer.raw_json = "{\"n\":2}".to_owned();
    let mut older = sample_report("latest", at(5), None);
    older.raw_json = "{\"n\":1}".to_owned();
    ok(store.ingest(newer).await, "newer");
    ok(store.ingest(older).await, "older");
    assert_eq!(
        ok(store.latest_report("latest".to_owned()).await, "latest").as_deref(),
        Some("{\"n\":2}")
    );
}

fn assessment(host: &str, minutes: i64, statuses: &[(&str, &str)]) -> AssessmentRecord {
    AssessmentRecord {
        host_id: host.to_owned(),
        assessed_at: at(minutes),
        profile: "baseline".to_owned(),
        score: Some(0.5),
        band: Some("red".to_owned()),
        statuses: statuses
            .iter()
            .map(|(c, s)| ((*c).to_owned(), (*s).to_owned()))
            .collect(),
        detail_json: format!("{{\"at\":{minutes}}}"),
        carbon_json: None,
        view_json: None,
    }
}

/// A saved assessment replaces the previous one (never a newer one); each status change
/// is a transition, and `since` is when the current status began.
pub async fn assessments_track_status_changes(store: &dyn Store) {
    let host = "assessed";
    assert_eq!(ok(store.assessment(host.to_owned()).await, "none"), None);
    let first = assessment(host, 0, &[("a", "pass"), ("b", "fail"), ("c", "pass")]);
    assert_eq!(ok(store.save_assessment(first).await, "first"), 3);
    // Same statuses later: no transitions, `since` stays.
    let same = assessment(host, 5, &[("a", "pass"), ("b", "fail"), ("c", "pass")]);
    assert_eq!(ok(store.save_assessment(same).await, "same"), 0);
    // `a` starts failing, `b` is resolved, `c` leaves the catalogue.
    let changed = assessment(host, 10, &[("a", "fail"), ("b", "pass")]);
    assert_eq!(ok(store.save_assessment(changed).await, "changed"), 3);
    // An older assessment arriving late changes nothing.
    let late = assessment(host, 7, &[("a", "pass"), ("b", "pass")]);
    assert_eq!(ok(store.save_assessment(late).await, "late"), 0);

    let Some((record, statuses)) = ok(store.assessment(host.to_owned()).await, "read") else {
        panic!("assessment missing")
    };
    assert_eq!(record.assessed_at, at(10));
    assert_eq!(record.detail_json, "{\"at\":10}");
    assert_eq!(record.score, Some(0.5));
    let got: Vec<(&str, &str, DateTime<Utc>)> = statuses
        .iter()
        .map(|s| (s.check_id.as_str(), s.status.as_str(), s.since))
        .collect();
    assert_eq!(got, [("a", "fail", at(10)), ("b", "pass", at(10))]);

    let transitions = ok(
        store.check_transitions(host.to_owned(), at(-1)).await,
        "transitions",
    );
    let got: Vec<(&str, Option<&str>, &str, DateTime<Utc>)> = transitions
        .iter()
        .map(|t| (t.check_id.as_str(), t.from.as_deref(), t.to.as_str(), t.at))
        .collect();
    let mut expected = vec![
        ("a", None, "pass", at(0)),
        ("b", None, "fail", at(0)),
        ("c", None, "pass", at(0)),
        ("a", Some("pass"), "fail", at(10)),
        ("b", Some("fail"), "pass", at(10)),
        ("c", Some("pass"), "removed", at(10)),
    ];
    let mut got_sorted = got.clone();
    got_sorted.sort_by(|x, y| (x.3, x.0).cmp(&(y.3, y.0)));
    expected.sort_by(|x, y| (x.3, x.0).cmp(&(y.3, y.0)));
    assert_eq!(got_sorted, expected);
    let recent = ok(
        store.check_transitions(host.to_owned(), at(10)).await,
        "recent",
    );
    assert_eq!(recent.len(), 3);

    let all = ok(store.assessments().await, "all");
    let mine = all.iter().find(|a| a.host_id == host);
    let Some(mine) = mine else {
        panic!("assessment missing from the list")
    };
    assert_eq!(mine.statuses.get("a").map(String::as_str), Some("fail"));
    assert_eq!(mine.statuses.len(), 2);
    assert!(mine.detail_json.is_empty(), "the list carries no detail");
}

/// The compact carbon estimate is saved with the assessment and replaced with it (never
/// by an older one); the estate read lists only hosts that have one, by host id.
pub async fn carbon_estimates_follow_the_latest_assessment(store: &dyn Store) {
    let with = |host: &str, minutes: i64, carbon: Option<&str>| AssessmentRecord {
        carbon_json: carbon.map(str::to_owned),
        ..assessment(host, minutes, &[("a", "pass")])
    };
    let mine = |all: Vec<super::CarbonRecord>| -> Vec<(String, DateTime<Utc>, String)> {
        all.into_iter()
            .filter(|c| c.host_id.starts_with("carbon-"))
            .map(|c| (c.host_id, c.assessed_at, c.carbon_json))
            .collect()
    };
    ok(
        store
            .save_assessment(with("carbon-b", 0, Some("{\"b\":0}")))
            .await,
        "b",
    );
    ok(
        store
            .save_assessment(with("carbon-a", 0, Some("{\"a\":0}")))
            .await,
        "a",
    );
    // A host assessed without a report has no estimate.
    ok(store.save_assessment(with("carbon-c", 0, None)).await, "c");
    assert_eq!(
        mine(ok(store.carbon_estimates().await, "estimates")),
        [
            ("carbon-a".to_owned(), at(0), "{\"a\":0}".to_owned()),
            ("carbon-b".to_owned(), at(0), "{\"b\":0}".to_owned()),
        ]
    );
    // A newer assessment rewrites it (a reload re-estimates); an older one changes
    // nothing; a newer one without a report clears it.
    ok(
        store
            .save_assessment(with("carbon-a", 5, Some("{\"a\":5}")))
            .await,
        "a newer",
    );
    ok(
        store
            .save_assessment(with("carbon-a", 3, Some("{\"a\":3}")))
            .await,
        "a late",
    );
    ok(
        store.save_assessment(with("carbon-b", 5, None)).await,
        "b cleared",
    );
    assert_eq!(
        mine(ok(store.carbon_estimates().await, "estimates again")),
        [("carbon-a".to_owned(), at(5), "{\"a\":5}".to_owned())]
    );
    // The single-host read carries it; the fleet list does not.
    let Some((record, _)) = ok(store.assessment("carbon-a".to_owned()).await, "read") else {
        panic!("assessment missing")
    };
    assert_eq!(record.carbon_json.as_deref(), Some("{\"a\":5}"));
    let all = ok(store.assessments().await, "all");
    assert!(
        all.iter()
            .filter(|a| a.host_id.starts_with("carbon-"))
            .all(|a| a.carbon_json.is_none())
    );
}

/// Stored assessments with their detail are read in pages by host id: each page after
/// the last id of the previous one, the latest assessment of each host, no statuses.
pub async fn assessment_details_page_by_host_id(store: &dyn Store) {
    for (host, minutes) in [("page-c", 0), ("page-a", 0), ("page-b", 0), ("page-a", 5)] {
        let record = assessment(host, minutes, &[("a", "pass")]);
        ok(store.save_assessment(record).await, host);
    }
    let mut seen = Vec::new();
    let mut after = Some("page-".to_owned());
    loop {
        let page = ok(store.assessment_details(after.clone(), 2).await, "page");
        assert!(page.len() <= 2, "a page holds at most `limit` hosts");
        let Some(last) = page.last() else { break };
        after = Some(last.host_id.clone());
        let mine: Vec<_> = page
            .iter()
            .filter(|r| r.host_id.starts_with("page-"))
            .collect();
        if mine.is_empty() {
            break;
        }
        for r in mine {
            assert!(r.statuses.is_empty() && r.carbon_json.is_none());
            seen.push((r.host_id.clone(), r.detail_json.clone(), r.profile.clone()));
        }
    }
    assert_eq!(
        seen,
        [
            (
                "page-a".to_owned(),
                "{\"at\":5}".to_owned(),
                "baseline".to_owned()
            ),
            (
                "page-b".to_owned(),
                "{\"at\":0}".to_owned(),
                "baseline".to_owned()
            ),
            (
                "page-c".to_owned(),
                "{\"at\":0}".to_owned(),
                "baseline".to_owned()
            ),
        ]
    );
    let first = ok(store.assessment_details(None, 1).await, "first page");
    assert_eq!(first.len(), 1, "no cursor starts at the first host");
}

/// The estate index's pages: every stored assessment once, in host-id order, with the
/// statuses `assessments` gives and the estimate `carbon_estimates` gives, no detail.
pub async fn assessment_pages_match_the_whole_reads(store: &dyn Store) {
    type Statuses = &'static [(&'static str, &'static str)];
    let saves: [(&str, i64, Statuses); 4] = [
        ("apage-b", 0, &[("a", "pass"), ("b", "fail")]),
        ("apage-a", 0, &[("a", "fail")]),
        ("apage-c", 0, &[]),
        ("apage-a", 5, &[("a", "pass"), ("c", "error")]),
    ];
    for (host, minutes, statuses) in saves {
        let mut record = assessment(host, minutes, statuses);
        if host != "apage-c" {
            record.carbon_json = Some(format!("{{\"host\":\"{host}\",\"at\":{minutes}}}"));
        }
        ok(store.save_assessment(record).await, host);
    }
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = ok(store.assessment_page(after.clone(), 2).await, "page");
        assert!(page.len() <= 2, "a page holds at most `limit` hosts");
        let Some(last) = page.last() else { break };
        after = Some(last.host_id.clone());
        paged.extend(page);
    }
    let whole = ok(store.assessments().await, "assessments");
    let carbon: BTreeMap<String, String> = ok(store.carbon_estimates().await, "carbon")
        .into_iter()
        .map(|c| (c.host_id, c.carbon_json))
        .collect();
    assert_eq!(paged.len(), whole.len(), "every assessment once");
    for (p, w) in paged.iter().zip(&whole) {
        assert_eq!(
            (
                &p.host_id,
                p.assessed_at,
                &p.profile,
                p.score,
                &p.band,
                &p.statuses
            ),
            (
                &w.host_id,
                w.assessed_at,
                &w.profile,
                w.score,
                &w.band,
                &w.statuses
            )
        );
        assert_eq!(
            p.carbon_json.as_ref(),
            carbon.get(&p.host_id),
            "{}",
            p.host_id
        );
        assert!(p.detail_json.is_empty() && p.view_json.is_none());
    }
    let a = paged
        .iter()
        .find(|p| p.host_id == "apage-a")
        .expect("apage-a");
    assert_eq!(a.statuses.len(), 2);
    assert_eq!(
        a.carbon_json.as_deref(),
        Some("{\"host\":\"apage-a\",\"at\":5}")
    );
    let c = paged
        .iter()
        .find(|p| p.host_id == "apage-c")
        .expect("apage-c");
    assert!(c.statuses.is_empty() && c.carbon_json.is_none());
}

/// The report view is saved with its assessment and replaced or removed with it (never
/// by an older one); the report's page read gives the view instead of the detail where
/// there is one, and the detail otherwise.
pub async fn report_views_follow_the_latest_assessment(store: &dyn Store) {
    let with = |host: &str, minutes: i64, view: Option<&str>| AssessmentRecord {
        view_json: view.map(str::to_owned),
        ..assessment(host, minutes, &[("a", "pass")])
    };
    let page = || async {
        let page = ok(
            store
                .assessment_details(Some("view-".to_owned()), 100)
                .await,
            "page",
        );
        page.into_iter()
            .filter(|r| r.host_id.starts_with("view-"))
            .map(|r| (r.host_id, r.view_json, r.detail_json))
            .collect::<Vec<_>>()
    };
    let s = |t: &str| t.to_owned();
    ok(
        store
            .save_assessment(with("view-a", 0, Some("{\"v\":0}")))
            .await,
        "a",
    );
    ok(store.save_assessment(with("view-b", 0, None)).await, "b");
    assert_eq!(
        page().await,
        [
            (s("view-a"), Some(s("{\"v\":0}")), String::new()),
            (s("view-b"), None, s("{\"at\":0}")),
        ]
    );
    // A newer assessment replaces the view; an older one changes nothing; a newer one
    // without a view removes it (the detail is read again).
    ok(
        store
            .save_assessment(with("view-b", 5, Some("{\"v\":5}")))
            .await,
        "b newer",
    );
    ok(
        store
            .save_assessment(with("view-b", 3, Some("{\"v\":3}")))
            .await,
        "b late",
    );
    ok(
        store.save_assessment(with("view-a", 5, None)).await,
        "a cleared",
    );
    assert_eq!(
        page().await,
        [
            (s("view-a"), None, s("{\"at\":5}")),
            (s("view-b"), Some(s("{\"v\":5}")), String::new()),
        ]
    );
    // The other reads never carry it.
    let Some((record, _)) = ok(store.assessment(s("view-b")).await, "read") else {
        panic!("assessment missing")
    };
    assert_eq!(record.view_json, None);
    assert_eq!(record.detail_json, "{\"at\":5}");
    let all = ok(store.assessments().await, "all");
    assert!(all.iter().all(|a| a.view_json.is_none()));
}

/// A host's energy total is the sum of its stored reports' `energy_joules`: a duplicate
/// adds nothing, a report without energy (or a negative one) adds nothing, and it does
/// not shrink when raw reports are pruned.
pub async fn energy_totals_count_each_report_once(store: &dyn Store) {
    let host = "energy";
    let total = |all: Vec<super::HostEnergy>| {
        all.into_iter()
            .find(|h| h.host_id == host)
            .map(|h| h.energy_joules_total)
    };
    // Received long ago, so that pruning them below touches no other check's reports.
    let long_ago = at(-60 * 24 * 400);
    let report = |minutes: i64, inventory: Option<&str>| NewReport {
        received_at: long_ago,
        ..sample_report(host, at(minutes), inventory)
    };
    let first = report(0, Some("e1"));
    ok(store.ingest(first.clone()).await, "first");
    ok(store.ingest(first).await, "duplicate");
    assert_eq!(total(ok(store.host_energy().await, "one")), Some(18_000.0));
    let mut second = report(5, None);
    second.point.energy_joules = Some(1_234.5);
    ok(store.ingest(second).await, "second");
    let mut unmeasured = report(10, None);
    unmeasured.point.energy_joules = None;
    unmeasured.point.power_source = "none".to_owned();
    ok(store.ingest(unmeasured).await, "unmeasured");
    let mut negative = report(15, None);
    negative.point.energy_joules = Some(-50.0);
    ok(store.ingest(negative).await, "negative");
    // An older report arriving late still adds its energy.
    let mut late = report(-5, None);
    late.point.energy_joules = Some(100.0);
    ok(store.ingest(late).await, "late");
    assert_eq!(
        total(ok(store.host_energy().await, "all")),
        Some(18_000.0 + 1_234.5 + 100.0)
    );
    let pruned = ok(
        store
            .prune_raw_reports(long_ago + Duration::minutes(1))
            .await,
        "prune",
    );
    assert_eq!(pruned, 5);
    assert_eq!(
        total(ok(store.host_energy().await, "after pruning")),
        Some(18_000.0 + 1_234.5 + 100.0)
    );
    // Every host is listed, by id.
    let all = ok(store.host_energy().await, "list");
    assert!(all.windows(2).all(|w| w[0].host_id < w[1].host_id));
}
