//! The generic store suite on PostgreSQL, and what only a shared database shows: two
//! collectors on one database, migrations raced by collectors starting together.
//!
//! Needs `ESTATE_TEST_POSTGRES_URL` (a `postgres://` URL or `key=value` string of a role
//! that may create schemas in its database; `.ci/run` sets one up). Without it these
//! tests say they are skipped and pass, except under `CI=true`, where they fail. Each
//! test works in its own new schema (via `search_path`), dropped at the end, so they run
//! in parallel and leave nothing behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use estate_server::store::{
    AssessmentRecord, IngestOutcome, PostgresOptions, PostgresStore, Store, StoreError, conformance,
};
use tokio_postgres::NoTls;

const URL_VAR: &str = "ESTATE_TEST_POSTGRES_URL";

/// The test database's URL, or `None` (after saying so) when the tests are skipped.
fn url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{URL_VAR} is not set and CI=true: the PostgreSQL store tests must run in CI \
                 (.ci/run starts PostgreSQL and sets it)"
            );
            eprintln!("SKIPPED {test}: set {URL_VAR} to run the PostgreSQL store tests");
            None
        }
    }
}

/// A schema of its own for one test, dropped when the test ends (even by a panic).
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create(url: &str) -> Schema {
        let name = format!("estate_test_{}", uuid::Uuid::new_v4().simple());
        let schema = Schema {
            url: url.to_owned(),
            name,
        };
        schema
            .admin(&format!("CREATE SCHEMA {}", schema.name))
            .await;
        schema
    }

    /// Runs one statement outside the store (in the schema, for unqualified names).
    async fn admin(&self, sql: &str) {
        let (client, connection) = self.config().connect(NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = driver.await;
    }

    /// One number from the schema, read outside the store.
    async fn number(&self, sql: &str) -> i64 {
        let (client, connection) = self.config().connect(NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        let n = client.query_one(sql, &[]).await.unwrap().get(0);
        drop(client);
        let _ = driver.await;
        n
    }

    /// The test URL with this schema first on the `search_path`.
    fn config(&self) -> tokio_postgres::Config {
        let mut config: tokio_postgres::Config = self.url.parse().unwrap();
        let options = match config.get_options() {
            Some(existing) => format!("{existing} -c search_path={}", self.name),
            None => format!("-c search_path={}", self.name),
        };
        config.options(options);
        config
    }

    async fn open(&self) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect(self.config(), PostgresOptions::default()).await
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let config = self.config();
        let sql = format!(
            "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {} CASCADE",
            self.name
        );
        // Drop may run on a runtime thread: use a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let (client, connection) = config.connect(NoTls).await?;
                let driver = tokio::spawn(connection);
                client.batch_execute(&sql).await?;
                drop(client);
                let _ = driver.await;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_passes_the_store_suite() {
    let Some(url) = url("postgres_passes_the_store_suite") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let store: Arc<dyn Store> = Arc::new(schema.open().await.unwrap());
    conformance::run_all(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_collectors_store_a_report_received_by_both_once() {
    let Some(url) = url("two_collectors_store_a_report_received_by_both_once") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let a: Arc<dyn Store> = Arc::new(schema.open().await.unwrap());
    let b: Arc<dyn Store> = Arc::new(schema.open().await.unwrap());
    let reports: Vec<_> = (0..120)
        .map(|i| {
            conformance::sample_report(
                &format!("shared-{}", i % 10),
                conformance::at(i),
                (i % 3 == 0).then_some("inv"),
            )
        })
        .collect();
    // Every report reaches both collectors at once (an agent retrying after a timeout
    // against a load balancer), in opposite orders: the batches lock the same rows in
    // different orders unless the store orders its locks.
    let spawn = |store: &Arc<dyn Store>, report: &estate_server::store::NewReport| {
        let store = Arc::clone(store);
        let report = report.clone();
        tokio::spawn(async move { store.ingest(report).await })
    };
    let deadlocks = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()";
    let deadlocks_before = schema.number(deadlocks).await;
    let mut tasks = Vec::new();
    for (report, reversed) in reports.iter().zip(reports.iter().rev()) {
        tasks.push((spawn(&a, report), spawn(&b, reversed)));
    }
    let mut from_a = Vec::new();
    let mut from_b = Vec::new();
    for (in_a, in_b) in tasks {
        from_a.push(in_a.await.unwrap().unwrap());
        from_b.push(in_b.await.unwrap().unwrap());
    }
    from_b.reverse();
    for (i, pair) in from_a.into_iter().zip(from_b).enumerate() {
        let mut pair = [pair.0, pair.1];
        pair.sort_by_key(|o| *o == IngestOutcome::Duplicate);
        assert_eq!(
            pair,
            [IngestOutcome::Stored, IngestOutcome::Duplicate],
            "report {i}"
        );
    }
    for store in [&a, &b] {
        let counts = store.counts().await.unwrap();
        assert_eq!(
            (counts.series, counts.raw_reports, counts.hosts),
            (120, 120, 10)
        );
    }
    // The host rows followed the newest report whichever collector stored it.
    for h in 0..10 {
        let host = b.host(format!("shared-{h}")).await.unwrap().unwrap();
        let newest = reports
            .iter()
            .filter(|r| r.host_id == host.host_id)
            .max_by_key(|r| r.collected_at)
            .unwrap();
        assert_eq!(host.last_seen, newest.collected_at);
        assert_eq!(host.hostname, newest.hostname);
        assert_eq!(host.first_seen, conformance::at(h));
        let newest_inventory = reports
            .iter()
            .filter(|r| r.host_id == host.host_id && r.inventory_json.is_some())
            .map(|r| r.collected_at)
            .max();
        assert_eq!(host.inventory_collected_at, newest_inventory);
    }
    assert!(a.transactions() + b.transactions() < 240);
    // Retries would hide deadlocks: there must have been none. A server process counts
    // its deadlocks in the statistics when it ends at the latest: close the connections.
    drop((a, b));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        schema.number(deadlocks).await,
        deadlocks_before,
        "deadlocks"
    );
}

/// Assessment `i` of `host`: five checks whose statuses change at different rates; `c4`
/// leaves the profile every fourth assessment (a `removed` transition, then a new start).
fn shared_assessment(host: &str, i: i64) -> AssessmentRecord {
    let mut statuses = BTreeMap::new();
    for k in 0..5i64 {
        if k == 4 && i % 4 == 0 {
            continue;
        }
        let status = ["pass", "fail", "waived"][((i / (k + 1)) % 3) as usize];
        statuses.insert(format!("c{k}"), status.to_owned());
    }
    AssessmentRecord {
        host_id: host.to_owned(),
        assessed_at: conformance::at(i),
        profile: "baseline".to_owned(),
        score: Some(i as f64 / 100.0),
        band: Some("amber".to_owned()),
        statuses,
        detail_json: format!("{{\"i\":{i}}}"),
        carbon_json: Some(format!("{{\"i\":{i}}}")),
        view_json: Some(format!("{{\"v\":{i}}}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_collectors_save_assessments_of_one_host_consistently() {
    let Some(url) = url("two_collectors_save_assessments_of_one_host_consistently") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let a: Arc<dyn Store> = Arc::new(schema.open().await.unwrap());
    let b: Arc<dyn Store> = Arc::new(schema.open().await.unwrap());
    let hosts = ["assessed-0", "assessed-1", "assessed-2"];
    let newest = 39;
    let assessments: Vec<_> = (0..=newest)
        .flat_map(|i| hosts.map(|h| shared_assessment(h, i)))
        .collect();
    // Every assessment is saved by both collectors at once, in opposite orders: late
    // ones must change nothing, the same one twice must record its changes once.
    let spawn = |store: &Arc<dyn Store>, assessment: &AssessmentRecord| {
        let store = Arc::clone(store);
        let assessment = assessment.clone();
        tokio::spawn(async move { store.save_assessment(assessment).await })
    };
    let mut tasks = Vec::new();
    for (x, y) in assessments.iter().zip(assessments.iter().rev()) {
        tasks.push(spawn(&a, x));
        tasks.push(spawn(&b, y));
    }
    let mut recorded = 0;
    for task in tasks {
        recorded += task.await.unwrap().unwrap();
    }
    let mut stored = 0;
    for host in hosts {
        let expected = shared_assessment(host, newest);
        for store in [&a, &b] {
            let (record, statuses) = store.assessment(host.to_owned()).await.unwrap().unwrap();
            // The single-host read does not carry the report view; the page read does.
            let without_view = AssessmentRecord {
                view_json: None,
                ..expected.clone()
            };
            assert_eq!(
                record, without_view,
                "{host}: the newest assessment is kept"
            );
            let page = store
                .assessment_details(Some(host.trim_end_matches(char::is_numeric).to_owned()), 3)
                .await
                .unwrap();
            let view = page
                .iter()
                .find(|r| r.host_id == host)
                .and_then(|r| r.view_json.clone());
            assert_eq!(view, expected.view_json, "{host}: the newest view is kept");
            let current: BTreeMap<_, _> = statuses
                .iter()
                .map(|s| (s.check_id.clone(), s.status.clone()))
                .collect();
            assert_eq!(current, expected.statuses, "{host}");
        }
        let transitions = a
            .check_transitions(host.to_owned(), conformance::at(-1))
            .await
            .unwrap();
        stored += transitions.len() as u64;
        // Per check, the transitions chain: each starts where the previous ended, at a
        // later assessment, and each is a change.
        let mut last: BTreeMap<&str, (Option<&str>, _)> = BTreeMap::new();
        for t in &transitions {
            assert_ne!(t.from.as_deref(), Some(t.to.as_str()), "{host}: {t:?}");
            if let Some((to, at)) = last.get(t.check_id.as_str()) {
                assert!(t.at > *at, "{host}: {t:?} not after {at}");
                assert_eq!(t.from.as_deref(), *to, "{host}: {t:?}");
            } else {
                assert_eq!(t.from, None, "{host}: {t:?}");
            }
            // A removed check starts again from nothing.
            let to = (t.to != "removed").then_some(t.to.as_str());
            last.insert(t.check_id.as_str(), (to, t.at));
        }
        // The chains end at the current statuses, and `since` is the last change.
        let (_, statuses) = b.assessment(host.to_owned()).await.unwrap().unwrap();
        for s in &statuses {
            let (to, at) = last[s.check_id.as_str()];
            assert_eq!((to, at), (Some(s.status.as_str()), s.since), "{host}");
        }
        // Each transition is to the status of the assessment at its time (saves whose
        // assessment was already overtaken by a newer one recorded nothing).
        for t in &transitions {
            let i = (t.at - conformance::at(0)).num_minutes();
            let status = shared_assessment(host, i)
                .statuses
                .get(&t.check_id)
                .cloned();
            assert_eq!(
                status.as_deref().unwrap_or("removed"),
                t.to,
                "{host}: {t:?}"
            );
        }
    }
    assert_eq!(recorded, stored, "the answers count the transitions stored");
    let all = b.assessments().await.unwrap();
    let listed: Vec<_> = all.iter().map(|r| r.host_id.as_str()).collect();
    assert_eq!(listed, hosts);
    for record in &all {
        assert_eq!(
            record.statuses,
            shared_assessment(&record.host_id, newest).statuses
        );
        assert!(record.detail_json.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_run_once_when_collectors_start_together() {
    let Some(url) = url("migrations_run_once_when_collectors_start_together") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let (a, b, c) = tokio::join!(schema.open(), schema.open(), schema.open());
    let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let applied = schema
        .number("SELECT count(*) FROM schema_migrations")
        .await;
    let newest = schema
        .number("SELECT max(version) FROM schema_migrations")
        .await;
    assert!(newest >= 1);
    assert_eq!(applied, newest, "each migration applied once");
    a.ingest(conformance::sample_report(
        "keep",
        conformance::at(0),
        Some("h1"),
    ))
    .await
    .unwrap();
    drop(a);
    // Opened again: nothing to apply, the data is there.
    let again = schema.open().await.unwrap();
    assert_eq!(
        schema
            .number("SELECT count(*) FROM schema_migrations")
            .await,
        applied
    );
    let host = again.host("keep".to_owned()).await.unwrap().unwrap();
    assert_eq!(host.inventory_hash.as_deref(), Some("h1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_build_is_refused() {
    let Some(url) = url("a_database_from_a_newer_build_is_refused") else {
        return;
    };
    let schema = Schema::create(&url).await;
    drop(schema.open().await.unwrap());
    schema
        .admin("INSERT INTO schema_migrations (version) VALUES (9999)")
        .await;
    match schema.open().await {
        Err(StoreError::Migration { version, message }) => {
            assert_eq!(version, 9999);
            assert!(message.contains("newer than this build"), "{message}");
        }
        other => panic!("opened a newer schema: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_postgres_rejects_fails_alone() {
    let Some(url) = url("a_write_postgres_rejects_fails_alone") else {
        return;
    };
    let schema = Schema::create(&url).await;
    let store = schema.open().await.unwrap();
    // PostgreSQL text cannot hold NUL: that report fails, its batch neighbours commit.
    let mut bad = conformance::sample_report("bad", conformance::at(0), None);
    bad.hostname = "nul\0byte".to_owned();
    let futures: Vec<_> = (0..20)
        .map(|i| {
            if i == 10 {
                store.ingest(bad.clone())
            } else {
                store.ingest(conformance::sample_report("good", conformance::at(i), None))
            }
        })
        .collect();
    let mut stored = 0;
    for (i, f) in futures.into_iter().enumerate() {
        match f.await {
            Ok(IngestOutcome::Stored) => stored += 1,
            Err(StoreError::Database(message)) if i == 10 => {
                assert!(message.contains("22021"), "{message}")
            }
            other => panic!("write {i}: {other:?}"),
        }
    }
    assert_eq!(stored, 19);
    assert_eq!(store.counts().await.unwrap().series, 19);
    assert_eq!(store.host("bad".to_owned()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_fails_fast() {
    let options = PostgresOptions {
        connect_timeout: Duration::from_secs(1),
        ..PostgresOptions::default()
    };
    let started = Instant::now();
    // Nothing listens on port 1.
    let result = PostgresStore::open("postgres://estate@127.0.0.1:1/estate", options).await;
    match result {
        Err(StoreError::Database(message)) => {
            assert!(message.contains("cannot connect"), "{message}")
        }
        other => panic!("connected to nothing: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn tls_required_by_the_url_is_refused_clearly() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(PostgresStore::open(
        "postgres://estate@127.0.0.1:1/estate?sslmode=require",
        PostgresOptions::default(),
    ));
    match result {
        Err(StoreError::Database(message)) => assert!(message.contains("TLS"), "{message}"),
        other => panic!("{other:?}"),
    }
}
