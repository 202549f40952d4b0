//! The writers of the PostgreSQL store: tasks that take the writes waiting in the queue,
//! run them in one transaction per batch (group commit) and answer each after COMMIT.
//!
//! Every write first takes a transaction-level advisory lock on its key (the host), and a
//! batch runs its writes in key order, so concurrent batches, from this collector or
//! another, always lock in the same order and cannot deadlock on each other. This module
//! owns the write SQL; it must not read for the API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{Json, ToSql};

use super::{db, describe, pool_error};
use crate::store::{AssessmentRecord, HostFacets, IngestOutcome, NewReport, StoreError};

/// Tries of one batch that meets a deadlock or serialization failure.
const BATCH_ATTEMPTS: u32 = 5;

/// A write waiting for its batch.
pub(super) struct Write {
    /// The advisory lock the write takes first; a batch runs its writes in key order.
    key: i64,
    op: Op,
    reply: oneshot::Sender<Result<Answer, StoreError>>,
}

impl Write {
    /// A write of `op`, answered on `reply`.
    pub(super) fn new(op: Op, reply: oneshot::Sender<Result<Answer, StoreError>>) -> Write {
        Write {
            key: op.key(),
            op,
            reply,
        }
    }
}

/// What a write does.
pub(super) enum Op {
    Ingest(Box<NewReport>),
    Assess(Box<AssessmentRecord>),
    Enrol {
        host_id: String,
        hostname: String,
        token_hash: String,
    },
    Revoke(String),
    Prune(DateTime<Utc>),
}

/// What a write answers.
#[derive(Debug, Clone, Copy)]
pub(super) enum Answer {
    Ingest(IngestOutcome),
    Done,
    Changed(bool),
    Count(u64),
}

/// Advisory lock keys, one space per kind of write, so that writes on the same rows
/// (and only those) exclude each other.
fn lock_key(space: &str, name: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(space.as_bytes())
        .chain_update([0])
        .chain_update(name.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Op {
    fn key(&self) -> i64 {
        match self {
            Op::Ingest(r) => lock_key("estate:host", &r.host_id),
            // The host's lock, as ingest: a host's writes are serialised whatever they are.
            Op::Assess(a) => lock_key("estate:host", &a.host_id),
            Op::Enrol { host_id, .. } | Op::Revoke(host_id) => lock_key("estate:token", host_id),
            Op::Prune(_) => lock_key("estate:prune", ""),
        }
    }
}

/// One writer task: takes up to `batch_max` waiting writes at a time until the store is
/// dropped.
pub(super) async fn writer(
    pool: Pool,
    queue: Arc<Mutex<mpsc::Receiver<Write>>>,
    batch_max: usize,
    transactions: Arc<AtomicU64>,
) {
    loop {
        let mut batch = Vec::new();
        {
            let mut rx = queue.lock().await;
            if rx.recv_many(&mut batch, batch_max).await == 0 {
                return; // The store was dropped.
            }
        }
        run_batch(&pool, batch, &transactions).await;
    }
}

/// Why one attempt at a batch stopped before its commit.
enum Abort {
    /// A write failed on its own data (it is answered with its error); run the rest again.
    Excluded,
    /// A deadlock or serialization failure: run the whole batch again.
    Retry(String),
    /// Every write still pending fails with this error.
    Fatal(StoreError),
}

fn classify(err: tokio_postgres::Error) -> Abort {
    match err.code() {
        Some(c)
            if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE =>
        {
            Abort::Retry(describe(&err))
        }
        _ => Abort::Fatal(db(err)),
    }
}

/// Errors caused by one write's own data (data exceptions, constraint violations, limits):
/// that write fails, the others of its batch do not.
fn is_write_fault(err: &tokio_postgres::Error) -> bool {
    err.code()
        .is_some_and(|c| matches!(&c.code()[..2], "22" | "23" | "54"))
}

/// Runs a batch in one transaction, writes in lock-key order, and answers every write
/// once the transaction has committed (or failed).
async fn run_batch(pool: &Pool, mut batch: Vec<Write>, transactions: &AtomicU64) {
    // A stable sort: writes with the same key (the same host) keep their order.
    batch.sort_by_key(|w| w.key);
    let mut failed: Vec<Option<StoreError>> = batch.iter().map(|_| None).collect();
    let mut retries = 0;
    let answers = loop {
        if failed.iter().all(Option::is_some) {
            break Ok(Vec::new());
        }
        match attempt(pool, &batch, &mut failed).await {
            Ok(answers) => {
                transactions.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(writes = batch.len(), "write transaction committed");
                break Ok(answers);
            }
            Err(Abort::Excluded) => {}
            Err(Abort::Retry(message)) if retries + 1 < BATCH_ATTEMPTS => {
                retries += 1;
                tracing::warn!(error = %message, retry = retries, "write transaction retried");
                tokio::time::sleep(Duration::from_millis(10 << retries)).await;
            }
            Err(Abort::Retry(message)) => break Err(StoreError::Database(message)),
            Err(Abort::Fatal(err)) => break Err(err),
        }
    };
    if let Err(err) = &answers {
        tracing::error!(error = %err, writes = batch.len(), "write transaction failed");
    }
    for (i, (write, failure)) in batch.into_iter().zip(failed).enumerate() {
        let result = match (failure, &answers) {
            (Some(err), _) => Err(err),
            (None, Ok(answers)) => answers
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| StoreError::Database("internal: write not run".to_owned())),
            (None, Err(err)) => Err(err.clone()),
        };
        // A caller that went away no longer needs its answer.
        let _ = write.reply.send(result);
    }
}

/// One try at a batch: every write not yet failed, then COMMIT. Writes that fail on their
/// own data are marked in `failed` and the attempt starts over without them (no
/// savepoints: hundreds of subtransactions per transaction slow every session down).
async fn attempt(
    pool: &Pool,
    batch: &[Write],
    failed: &mut [Option<StoreError>],
) -> Result<Vec<Option<Answer>>, Abort> {
    let mut client = pool.get().await.map_err(|e| Abort::Fatal(pool_error(e)))?;
    let tx = client.transaction().await.map_err(classify)?;
    let mut answers = Vec::with_capacity(batch.len());
    for (write, failure) in batch.iter().zip(failed.iter_mut()) {
        if failure.is_some() {
            answers.push(None);
            continue;
        }
        match apply(&tx, write).await {
            Ok(answer) => answers.push(Some(answer)),
            Err(err) if is_write_fault(&err) => {
                tracing::warn!(error = %describe(&err), "write rejected by PostgreSQL");
                *failure = Some(db(err));
                // Dropping the transaction rolls it back.
                return Err(Abort::Excluded);
            }
            Err(err) => return Err(classify(err)),
        }
    }
    tx.commit().await.map_err(classify)?;
    Ok(answers)
}

async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    write: &Write,
) -> Result<Answer, tokio_postgres::Error> {
    match &write.op {
        Op::Ingest(report) => apply_ingest(tx, write.key, report).await,
        Op::Assess(assessment) => apply_assessment(tx, write.key, assessment).await,
        Op::Enrol {
            host_id,
            hostname,
            token_hash,
        } => {
            lock(tx, write.key).await?;
            let stmt = tx
                .prepare_cached(
                    "INSERT INTO agent_tokens (host_id, hostname, token_hash, issued_at, revoked_at)
                     VALUES ($1, $2, $3, now(), NULL)
                     ON CONFLICT (host_id) DO UPDATE SET hostname = excluded.hostname,
                        token_hash = excluded.token_hash, issued_at = excluded.issued_at,
                        revoked_at = NULL",
                )
                .await?;
            tx.execute(&stmt, &[host_id, hostname, token_hash]).await?;
            Ok(Answer::Done)
        }
        Op::Revoke(host_id) => {
            lock(tx, write.key).await?;
            let stmt = tx
                .prepare_cached(
                    "UPDATE agent_tokens SET revoked_at = now()
                     WHERE host_id = $1 AND revoked_at IS NULL",
                )
                .await?;
            let n = tx.execute(&stmt, &[host_id]).await?;
            Ok(Answer::Changed(n > 0))
        }
        Op::Prune(cutoff) => {
            lock(tx, write.key).await?;
            let stmt = tx
                .prepare_cached("DELETE FROM raw_reports WHERE received_at < $1")
                .await?;
            Ok(Answer::Count(tx.execute(&stmt, &[cutoff]).await?))
        }
    }
}

async fn lock(
    tx: &deadpool_postgres::Transaction<'_>,
    key: i64,
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await?;
    tx.execute(&stmt, &[&key]).await?;
    Ok(())
}

/// When a stored inventory is replaced: the report carries one that is not older.
const NEWER_INVENTORY: &str = "excluded.inventory_json IS NOT NULL
    AND (h.inventory_collected_at IS NULL
         OR h.inventory_collected_at <= excluded.inventory_collected_at)";

/// Ingest as one statement: the host's advisory lock, the series row (the idempotency
/// key: `ON CONFLICT DO NOTHING`), then, only when that row is new, the raw report and
/// the host upsert. Answers how many series rows were inserted (0 or 1).
static INGEST_SQL: LazyLock<String> = LazyLock::new(|| {
    let inventory_columns = [
        "inventory_json",
        "inventory_hash",
        "inventory_collected_at",
        "os_family",
        "os_id",
        "os_name",
        "os_version",
        "machine_kind",
        "chassis",
    ]
    .map(|c| format!("{c} = CASE WHEN {NEWER_INVENTORY} THEN excluded.{c} ELSE h.{c} END"))
    .join(",\n        ");
    let newest = |c: &str| {
        format!(
            "{c} = CASE WHEN excluded.last_seen >= h.last_seen THEN excluded.{c} ELSE h.{c} END"
        )
    };
    format!(
        "WITH lock AS (SELECT pg_advisory_xact_lock($1::bigint)),
    new_series AS (
        INSERT INTO series (report_id, host_id, collected_at, received_at, window_start,
            window_end, cpu_mean_ratio, cpu_p95_ratio, memory_mean_ratio, memory_p95_ratio,
            power_watts, energy_joules, power_source)
        SELECT $2::uuid, $3::text, $4::timestamptz, $5::timestamptz, $6::timestamptz,
            $7::timestamptz, $8::float8, $9::float8, $10::float8, $11::float8, $12::float8,
            $13::float8, $14::text
        FROM lock
        ON CONFLICT (report_id) DO NOTHING
        RETURNING report_id),
    new_raw AS (
        INSERT INTO raw_reports (report_id, host_id, received_at, body)
        SELECT report_id, $3::text, $5::timestamptz, $15::text FROM new_series
        ON CONFLICT (report_id) DO UPDATE SET host_id = excluded.host_id,
            received_at = excluded.received_at, body = excluded.body),
    host AS (
        INSERT INTO hosts AS h (host_id, hostname, labels, first_seen, last_seen,
            reported_inventory_hash, inventory_json, inventory_hash, inventory_collected_at,
            os_family, os_id, os_name, os_version, machine_kind, chassis, energy_joules_total)
        SELECT $3::text, $16::text, $17::jsonb, $4::timestamptz, $4::timestamptz, $18::text,
            $19::text,
            CASE WHEN $19::text IS NULL THEN NULL ELSE $18::text END,
            CASE WHEN $19::text IS NULL THEN NULL ELSE $4::timestamptz END,
            $20::text, $21::text, $22::text, $23::text, $24::text, $25::text, $26::float8
        FROM new_series
        ON CONFLICT (host_id) DO UPDATE SET
        energy_joules_total = h.energy_joules_total + excluded.energy_joules_total,
        {hostname},
        {labels},
        {reported},
        first_seen = LEAST(h.first_seen, excluded.first_seen),
        last_seen = GREATEST(h.last_seen, excluded.last_seen),
        {inventory_columns})
    SELECT count(*) FROM new_series",
        hostname = newest("hostname"),
        labels = newest("labels"),
        reported = newest("reported_inventory_hash"),
    )
});

async fn apply_ingest(
    tx: &deadpool_postgres::Transaction<'_>,
    key: i64,
    r: &NewReport,
) -> Result<Answer, tokio_postgres::Error> {
    let p = &r.point;
    // Facets are stored only with an inventory (and cleared by one that has none).
    let f = match &r.inventory_json {
        Some(_) => r.facets.clone().unwrap_or_default(),
        None => HostFacets::default(),
    };
    let labels = Json(&r.labels);
    let energy = crate::store::energy_increment(p.energy_joules);
    let params: [&(dyn ToSql + Sync); 26] = [
        &key,
        &r.report_id,
        &r.host_id,
        &r.collected_at,
        &r.received_at,
        &p.window_start,
        &p.window_end,
        &p.cpu_mean_ratio,
        &p.cpu_p95_ratio,
        &p.memory_mean_ratio,
        &p.memory_p95_ratio,
        &p.power_watts,
        &p.energy_joules,
        &p.power_source,
        &r.raw_json,
        &r.hostname,
        &labels,
        &r.inventory_hash,
        &r.inventory_json,
        &f.os_family,
        &f.os_id,
        &f.os_name,
        &f.os_version,
        &f.machine_kind,
        &f.chassis,
        &energy,
    ];
    let stmt = tx.prepare_cached(&INGEST_SQL).await?;
    let inserted: i64 = tx.query_one(&stmt, &params).await?.try_get(0)?;
    Ok(Answer::Ingest(if inserted > 0 {
        IngestOutcome::Stored
    } else {
        IngestOutcome::Duplicate
    }))
}

/// Whether the stored assessment of a host is newer than `$2` (NULL: none stored) and its
/// check statuses. Runs after the host's lock is taken, as a statement of its own: under
/// READ COMMITTED its snapshot then includes whatever the lock's previous holder committed.
const ASSESSED_SQL: &str = "SELECT
        (SELECT assessed_at > $2 FROM assessments WHERE host_id = $1),
        ARRAY(SELECT check_id FROM check_status WHERE host_id = $1 ORDER BY check_id),
        ARRAY(SELECT status FROM check_status WHERE host_id = $1 ORDER BY check_id)";

/// Writes an assessment in one statement: the assessment upsert, the transitions (in
/// array order, so ties keep their order), the changed statuses and the removed ones,
/// and the report view (replaced, or removed when the assessment has none).
const ASSESS_SQL: &str = "WITH assessment AS (
        INSERT INTO assessments (host_id, assessed_at, profile, score, band, detail_json,
            carbon_json)
        VALUES ($1::text, $2::timestamptz, $3::text, $4::float8, $5::text, $6::text,
            $13::text)
        ON CONFLICT (host_id) DO UPDATE SET assessed_at = excluded.assessed_at,
            profile = excluded.profile, score = excluded.score, band = excluded.band,
            detail_json = excluded.detail_json, carbon_json = excluded.carbon_json),
    transitions AS (
        INSERT INTO check_transitions (host_id, check_id, from_status, to_status, at)
        SELECT $1::text, t.check_id, t.from_status, t.to_status, $2::timestamptz
        FROM unnest($7::text[], $8::text[], $9::text[])
            WITH ORDINALITY AS t(check_id, from_status, to_status, n)
        ORDER BY t.n),
    changed AS (
        INSERT INTO check_status (host_id, check_id, status, since)
        SELECT $1::text, c.check_id, c.status, $2::timestamptz
        FROM unnest($10::text[], $11::text[]) AS c(check_id, status)
        ON CONFLICT (host_id, check_id) DO UPDATE SET status = excluded.status,
            since = excluded.since),
    removed AS (
        DELETE FROM check_status WHERE host_id = $1::text AND check_id = ANY($12::text[])),
    view_set AS (
        INSERT INTO report_views (host_id, view_json)
        SELECT $1::text, $14::text WHERE $14::text IS NOT NULL
        ON CONFLICT (host_id) DO UPDATE SET view_json = excluded.view_json),
    view_cleared AS (
        DELETE FROM report_views WHERE host_id = $1::text AND $14::text IS NULL)
    SELECT 1";

/// Stores an assessment unless the stored one is newer (then 0): a transition for every
/// check whose status changed, `removed` for checks no longer evaluated; `since` moves
/// only for changed checks. Answers how many transitions were recorded.
async fn apply_assessment(
    tx: &deadpool_postgres::Transaction<'_>,
    key: i64,
    a: &AssessmentRecord,
) -> Result<Answer, tokio_postgres::Error> {
    lock(tx, key).await?;
    let stmt = tx.prepare_cached(ASSESSED_SQL).await?;
    let row = tx.query_one(&stmt, &[&a.host_id, &a.assessed_at]).await?;
    let newer: Option<bool> = row.try_get(0)?;
    if newer == Some(true) {
        return Ok(Answer::Count(0));
    }
    let ids: Vec<String> = row.try_get(1)?;
    let statuses: Vec<String> = row.try_get(2)?;
    let previous: std::collections::BTreeMap<String, String> =
        ids.into_iter().zip(statuses).collect();
    let mut checks: Vec<&str> = Vec::new();
    let mut from: Vec<Option<&str>> = Vec::new();
    let mut to: Vec<&str> = Vec::new();
    let mut changed_ids: Vec<&str> = Vec::new();
    let mut changed_statuses: Vec<&str> = Vec::new();
    for (check, status) in &a.statuses {
        let before = previous.get(check).map(String::as_str);
        if before == Some(status.as_str()) {
            continue;
        }
        checks.push(check);
        from.push(before);
        to.push(status);
        changed_ids.push(check);
        changed_statuses.push(status);
    }
    let mut removed: Vec<&str> = Vec::new();
    for (check, status) in &previous {
        if !a.statuses.contains_key(check) {
            checks.push(check);
            from.push(Some(status));
            to.push("removed");
            removed.push(check);
        }
    }
    let params: [&(dyn ToSql + Sync); 14] = [
        &a.host_id,
        &a.assessed_at,
        &a.profile,
        &a.score,
        &a.band,
        &a.detail_json,
        &checks,
        &from,
        &to,
        &changed_ids,
        &changed_statuses,
        &removed,
        &a.carbon_json,
        &a.view_json,
    ];
    let stmt = tx.prepare_cached(ASSESS_SQL).await?;
    tx.execute(&stmt, &params).await?;
    Ok(Answer::Count(checks.len() as u64))
}
