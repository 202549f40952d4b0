//! The SQLite backend: one database file in WAL mode with `synchronous = FULL`, one writer
//! thread that groups every write waiting in its bounded queue into one transaction
//! (group commit), and a small pool of read-only connections used in parallel.
//!
//! A write's future resolves only after the transaction holding it has committed, so an
//! acknowledged write survives a crash of the process or the machine. Checkpoints (copying
//! the WAL into the database file) run mostly on a thread of their own, off the writer's
//! path (`checkpointer`). This module owns the SQL and the migrations; it must not know
//! about HTTP or the report format beyond [`NewReport`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::Value;
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, TransactionBehavior, params, params_from_iter,
};
use tokio::sync::oneshot;

use super::{
    AssessmentRecord, CarbonRecord, CheckStatusRecord, CheckTransition, Counts, HostEnergy,
    HostFacets, HostPage, HostQuery, HostRecord, HostState, HostStates, IngestOutcome, NewReport,
    SeriesPoint, Store, StoreError, StoreFuture, TokenRecord,
};

/// Versioned schema migrations, applied in order, each once, each in its own transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE hosts (
        host_id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        labels_json TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        reported_inventory_hash TEXT NOT NULL,
        inventory_json TEXT,
        inventory_hash TEXT,
        inventory_collected_at TEXT
    );
    CREATE TABLE series (
        report_id TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        collected_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        cpu_mean_ratio REAL,
        cpu_p95_ratio REAL,
        memory_mean_ratio REAL,
        memory_p95_ratio REAL,
        power_watts REAL,
        energy_joules REAL,
        power_source TEXT NOT NULL
    );
    CREATE INDEX series_host_window ON series (host_id, window_end);
    CREATE TABLE raw_reports (
        report_id TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX raw_reports_received ON raw_reports (received_at);
    CREATE TABLE agent_tokens (
        host_id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        issued_at TEXT NOT NULL,
        revoked_at TEXT
    );",
    ),
    (
        2,
        "ALTER TABLE hosts ADD COLUMN os_family TEXT;
    ALTER TABLE hosts ADD COLUMN os_id TEXT;
    ALTER TABLE hosts ADD COLUMN os_name TEXT;
    ALTER TABLE hosts ADD COLUMN os_version TEXT;
    ALTER TABLE hosts ADD COLUMN machine_kind TEXT;
    ALTER TABLE hosts ADD COLUMN chassis TEXT;
    CREATE INDEX series_report_collected ON series (host_id, collected_at);",
    ),
    (
        3,
        "CREATE TABLE assessments (
        host_id TEXT PRIMARY KEY,
        assessed_at TEXT NOT NULL,
        profile TEXT NOT NULL,
        score REAL,
        band TEXT,
        detail_json TEXT NOT NULL
    );
    CREATE TABLE check_status (
        host_id TEXT NOT NULL,
        check_id TEXT NOT NULL,
        status TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (host_id, check_id)
    );
    CREATE TABLE check_transitions (
        host_id TEXT NOT NULL,
        check_id TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX check_transitions_host_at ON check_transitions (host_id, at);",
    ),
    (
        4,
        "ALTER TABLE assessments ADD COLUMN carbon_json TEXT;
    ALTER TABLE hosts ADD COLUMN energy_joules_total REAL NOT NULL DEFAULT 0;
    UPDATE hosts SET energy_joules_total = COALESCE(
        (SELECT SUM(MAX(energy_joules, 0)) FROM series WHERE series.host_id = hosts.host_id),
        0);",
    ),
    (
        5,
        // The report's compact view of each assessment, in a table of its own: SQLite
        // keeps a row's columns in one record, so a column after `detail_json` (18 KB,
        // spilling over four or five overflow pages) can only be read by walking them.
        // Assessments saved before this have no view until their next assessment; the
        // report reads their detail instead.
        "CREATE TABLE report_views (
        host_id TEXT PRIMARY KEY,
        view_json TEXT NOT NULL
    );",
    ),
    (
        6,
        // The same for the two other wide columns, which sat in the middle of the rows
        // every estate-wide read scans: a host's inventory (tens to hundreds of KB) before
        // its facets and energy total, an assessment's detail (18 KB) before its carbon
        // estimate. Reading the columns after them walked their overflow pages: 3.2
        // pages per host for the host list. Moved to tables of their own, read by key
        // when needed. `hosts` and `assessments` are rebuilt rather than altered: `DROP
        // COLUMN` rewrites each row where it stands, leaving one small row per page (the
        // host list of a 100,000-host store stayed 94,000 pages).
        "CREATE TABLE host_inventories (
        host_id TEXT PRIMARY KEY,
        inventory_json TEXT NOT NULL
    );
    INSERT INTO host_inventories (host_id, inventory_json)
        SELECT host_id, inventory_json FROM hosts WHERE inventory_json IS NOT NULL;
    CREATE TABLE hosts_v6 (
        host_id TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        labels_json TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        reported_inventory_hash TEXT NOT NULL,
        inventory_hash TEXT,
        inventory_collected_at TEXT,
        os_family TEXT,
        os_id TEXT,
        os_name TEXT,
        os_version TEXT,
        machine_kind TEXT,
        chassis TEXT,
        energy_joules_total REAL NOT NULL DEFAULT 0
    );
    INSERT INTO hosts_v6 SELECT host_id, hostname, labels_json, first_seen, last_seen,
        reported_inventory_hash, inventory_hash, inventory_collected_at, os_family, os_id,
        os_name, os_version, machine_kind, chassis, energy_joules_total
        FROM hosts ORDER BY host_id;
    DROP TABLE hosts;
    ALTER TABLE hosts_v6 RENAME TO hosts;
    CREATE TABLE assessment_details (
        host_id TEXT PRIMARY KEY,
        detail_json TEXT NOT NULL
    );
    INSERT INTO assessment_details (host_id, detail_json)
        SELECT host_id, detail_json FROM assessments;
    CREATE TABLE assessments_v6 (
        host_id TEXT PRIMARY KEY,
        assessed_at TEXT NOT NULL,
        profile TEXT NOT NULL,
        score REAL,
        band TEXT,
        carbon_json TEXT
    );
    INSERT INTO assessments_v6 SELECT host_id, assessed_at, profile, score, band, carbon_json
        FROM assessments ORDER BY host_id;
    DROP TABLE assessments;
    ALTER TABLE assessments_v6 RENAME TO assessments;",
    ),
];

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

enum Write {
    Ingest(Box<NewReport>, Reply<IngestOutcome>),
    Enrol(String, String, String, Reply<()>),
    Revoke(String, Reply<bool>),
    Prune(DateTime<Utc>, Reply<u64>),
    Assess(Box<AssessmentRecord>, Reply<u64>),
}

/// The SQLite store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct SqliteStore {
    queue: SyncSender<Write>,
    readers: Arc<ReaderPool>,
    transactions: Arc<AtomicU64>,
    /// When a write last failed because the storage is full (Unix seconds; 0: not since
    /// a report was last stored). Set by the writer, cleared when a transaction storing a
    /// report commits; [`Store::ping`] answers [`StoreError::Full`] for
    /// [`FULL_READINESS_SECS`] after it.
    full: Arc<AtomicU64>,
}

#[derive(Debug)]
struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// How long `/readyz` says the storage is full after a write met a full disk, seconds.
pub const FULL_READINESS_SECS: u64 = 60;

/// The writer's own checkpoint threshold, WAL pages (SQLite's default is 1,000): past it
/// the writer checkpoints after its commit, copying what the [`checkpointer`] has not yet
/// copied, so that the WAL starts over from its beginning. Bounds the WAL at about
/// 32 MiB (4 KiB pages) under sustained writes; at 2,000 pages the writer still spent
/// 15 % of its time on these catch-ups at 3,600 reports/s.
const WRITER_CHECKPOINT_PAGES: i64 = 8_000;

/// Least time between two checkpoints of the [`checkpointer`]: the commits of that
/// time share one checkpoint (one `fsync` of the database file).
const CHECKPOINT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().max(1))
}

/// A database error; `SQLITE_FULL` (a write met `ENOSPC`, or the database reached its
/// size limit) is [`StoreError::Full`].
fn db(err: rusqlite::Error) -> StoreError {
    db_ref(&err)
}

/// [`db`] for an error the caller keeps.
fn db_ref(err: &rusqlite::Error) -> StoreError {
    if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
        StoreError::Full(err.to_string())
    } else {
        StoreError::Database(err.to_string())
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text, so text order is time order.
/// Instants outside years 0000–9999 (which would print signed, wider years) are clamped
/// to those years' ends so that bounds such as `DateTime::MIN_UTC` still compare right.
fn ts(t: &DateTime<Utc>) -> String {
    let text = t.to_rfc3339_opts(SecondsFormat::Micros, true);
    if text.starts_with('-') {
        "0000-01-01T00:00:00.000000Z".to_owned()
    } else if text.starts_with('+') {
        "9999-12-31T23:59:59.999999Z".to_owned()
    } else {
        text
    }
}

fn parse_ts(text: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

impl SqliteStore {
    /// Opens (creating when needed) the database at `path`, applies pending migrations
    /// and starts the writer thread. `queue_capacity` bounds the writes waiting;
    /// `batch_max` bounds the writes per transaction.
    pub fn open(
        path: &Path,
        queue_capacity: usize,
        batch_max: usize,
    ) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        migrate(&mut conn)?;
        let kick = match start_checkpointer(path) {
            Ok(kick) => {
                conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)
                    .map_err(db)?;
                Some(kick)
            }
            Err(err) => {
                // SQLite's own checkpoints (every 1,000 pages, by the writer) still run.
                tracing::warn!(error = %err, "no checkpoint thread: the writer checkpoints alone");
                None
            }
        };
        let (queue, rx) = std::sync::mpsc::sync_channel(queue_capacity.max(1));
        let transactions = Arc::new(AtomicU64::new(0));
        let full = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&transactions);
        let full_flag = Arc::clone(&full);
        let batch_max = batch_max.max(1);
        std::thread::Builder::new()
            .name("estate-sqlite-writer".to_owned())
            .spawn(move || writer(conn, rx, batch_max, &counter, &full_flag, kick.as_ref()))
            .map_err(|e| StoreError::Database(format!("cannot start the writer: {e}")))?;
        Ok(SqliteStore {
            queue,
            readers: Arc::new(ReaderPool {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
            }),
            transactions,
            full,
        })
    }

    fn write<T: Send + 'static>(&self, make: impl FnOnce(Reply<T>) -> Write) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.queue.try_send(make(tx));
        Box::pin(async move {
            match sent {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => return Err(StoreError::Busy),
                Err(TrySendError::Disconnected(_)) => return Err(StoreError::Closed),
            }
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn read<T, F>(&self, f: F) -> StoreFuture<'_, T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = pool.take()?;
                let result = f(&conn).map_err(db);
                pool.put(conn);
                result
            })
            .await
            .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
        })
    }
}

impl ReaderPool {
    fn take(&self) -> Result<Connection, StoreError> {
        if let Ok(mut idle) = self.idle.lock()
            && let Some(conn) = idle.pop()
        {
            return Ok(conn);
        }
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 16
        {
            idle.push(conn);
        }
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(db)?;
    let current: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(db)?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Migration {
            version: current,
            message: format!(
                "the database is at schema version {current}, newer than this build knows ({newest})"
            ),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let fail = |e: rusqlite::Error| StoreError::Migration {
            version: *version,
            message: e.to_string(),
        };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(sql).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, ts(&Utc::now())],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
    }
    Ok(())
}

/// Results of one batch, sent only after the commit.
enum Done {
    Ingest(Reply<IngestOutcome>, Result<IngestOutcome, StoreError>),
    Enrol(Reply<()>, Result<(), StoreError>),
    Revoke(Reply<bool>, Result<bool, StoreError>),
    Prune(Reply<u64>, Result<u64, StoreError>),
    Assess(Reply<u64>, Result<u64, StoreError>),
}

impl Write {
    /// The answer to this write when it could not run.
    fn failed(self, err: &StoreError) -> Done {
        let e = || err.clone();
        match self {
            Write::Ingest(_, r) => Done::Ingest(r, Err(e())),
            Write::Enrol(_, _, _, r) => Done::Enrol(r, Err(e())),
            Write::Revoke(_, r) => Done::Revoke(r, Err(e())),
            Write::Prune(_, r) => Done::Prune(r, Err(e())),
            Write::Assess(_, r) => Done::Assess(r, Err(e())),
        }
    }
}

impl Done {
    fn is_ok(&self) -> bool {
        match self {
            Done::Ingest(_, v) => v.is_ok(),
            Done::Enrol(_, v) => v.is_ok(),
            Done::Revoke(_, v) => v.is_ok(),
            Done::Prune(_, v) => v.is_ok(),
            Done::Assess(_, v) => v.is_ok(),
        }
    }

    /// Whether this write failed because the storage is full.
    fn is_full(&self) -> bool {
        let full = |e: Option<&StoreError>| matches!(e, Some(StoreError::Full(_)));
        match self {
            Done::Ingest(_, v) => full(v.as_ref().err()),
            Done::Enrol(_, v) => full(v.as_ref().err()),
            Done::Revoke(_, v) => full(v.as_ref().err()),
            Done::Prune(_, v) => full(v.as_ref().err()),
            Done::Assess(_, v) => full(v.as_ref().err()),
        }
    }

    /// Replaces the result by a failure (the transaction did not commit).
    fn fail(self, err: &StoreError) -> Done {
        let e = || err.clone();
        match self {
            Done::Ingest(r, _) => Done::Ingest(r, Err(e())),
            Done::Enrol(r, _) => Done::Enrol(r, Err(e())),
            Done::Revoke(r, _) => Done::Revoke(r, Err(e())),
            Done::Prune(r, _) => Done::Prune(r, Err(e())),
            Done::Assess(r, _) => Done::Assess(r, Err(e())),
        }
    }

    /// Answers the caller; one that went away no longer needs its answer.
    fn send(self) {
        let _ = match self {
            Done::Ingest(r, v) => r.send(v).map_err(drop),
            Done::Enrol(r, v) => r.send(v).map_err(drop),
            Done::Revoke(r, v) => r.send(v).map_err(drop),
            Done::Prune(r, v) => r.send(v).map_err(drop),
            Done::Assess(r, v) => r.send(v).map_err(drop),
        };
    }
}

/// Opens a connection of its own for the [`checkpointer`] and starts it; the sender
/// kicks it after a commit, dropping the sender stops it.
fn start_checkpointer(path: &Path) -> Result<SyncSender<()>, StoreError> {
    let conn = Connection::open(path).map_err(db)?;
    // A checkpoint syncs the WAL before copying it and the database file after, as the
    // writer's did (the connection's `synchronous` decides).
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db)?;
    let (kick, kicks) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("estate-sqlite-checkpoint".to_owned())
        .spawn(move || checkpointer(&conn, &kicks))
        .map_err(|e| StoreError::Database(format!("cannot start the checkpointer: {e}")))?;
    Ok(kick)
}

/// Copies committed WAL pages into the database file (`PRAGMA wal_checkpoint(PASSIVE)`,
/// which neither waits for nor blocks the writer or the readers) after commits, at most
/// once per [`CHECKPOINT_PAUSE`]. Until this thread existed the writer did all of it
/// after its commits (SQLite's auto-checkpoint): a quarter of the writer's time under
/// load, during which no report was stored. The writer still checkpoints past
/// [`WRITER_CHECKPOINT_PAGES`], for the WAL to start over (a checkpoint beside a busy
/// writer never quite catches up), copying only what this thread has not. Durability
/// is unchanged: a commit is acknowledged once the WAL is synced, as before.
fn checkpointer(conn: &Connection, kicks: &Receiver<()>) {
    let mut kicked = kicks.recv().is_ok();
    while kicked {
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
        // Commits during the pause wait for the next checkpoint, right after it.
        kicked = false;
        let until = std::time::Instant::now() + CHECKPOINT_PAUSE;
        loop {
            match kicks.recv_timeout(until.saturating_duration_since(std::time::Instant::now())) {
                Ok(()) => kicked = true,
                Err(RecvTimeoutError::Timeout) => break,
                // The writer has stopped.
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if !kicked {
            kicked = kicks.recv().is_ok();
        }
    }
}

fn writer(
    mut conn: Connection,
    rx: Receiver<Write>,
    batch_max: usize,
    counter: &AtomicU64,
    full: &AtomicU64,
    checkpoint: Option<&SyncSender<()>>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let size = batch.len();
        match run_batch(&mut conn, batch) {
            Ok(done) => {
                counter.fetch_add(1, Ordering::Relaxed);
                if let Some(kick) = checkpoint {
                    // Full: a kick is already waiting.
                    let _ = kick.try_send(());
                }
                tracing::debug!(writes = size, "write transaction committed");
                // Full until a report is stored again: a small write (an assessment)
                // may fit where reports still do not.
                if done.iter().any(Done::is_full) {
                    full.store(unix_now(), Ordering::Relaxed);
                } else if done.iter().any(|d| matches!(d, Done::Ingest(_, Ok(_)))) {
                    full.store(0, Ordering::Relaxed);
                }
                done.into_iter().for_each(Done::send);
            }
            Err((done, err)) => {
                let err = db(err);
                if matches!(err, StoreError::Full(_)) {
                    full.store(unix_now(), Ordering::Relaxed);
                    tracing::error!(error = %err, writes = size, "write transaction failed: the storage is full");
                } else {
                    tracing::error!(error = %err, writes = size, "write transaction failed");
                }
                done.into_iter().for_each(|d| d.fail(&err).send());
            }
        }
    }
}

/// Runs a statement without parameters or rows, prepared once per connection.
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs every write of a batch in one transaction, each inside a savepoint so that one
/// failing write does not undo the others. On a failed commit every write fails.
fn run_batch(
    conn: &mut Connection,
    batch: Vec<Write>,
) -> Result<Vec<Done>, (Vec<Done>, rusqlite::Error)> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let err = db_ref(&e);
            let pending = batch.into_iter().map(|w| w.failed(&err)).collect();
            return Err((pending, e));
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    let mut writes = batch.into_iter();
    while let Some(w) = writes.next() {
        // A savepoint per write, through cached statements (rusqlite's `Savepoint`
        // parses its SQL each time: a seventh of the writer's time under load).
        if let Err(e) = exec_cached(&tx, "SAVEPOINT estate_write") {
            let err = db_ref(&e);
            done.push(w.failed(&err));
            done.extend(writes.map(|w| w.failed(&err)));
            return Err((done, e));
        }
        let d = match w {
            Write::Ingest(report, r) => Done::Ingest(r, apply_ingest(&tx, &report).map_err(db)),
            Write::Enrol(host, name, hash, r) => {
                Done::Enrol(r, apply_enrol(&tx, &host, &name, &hash).map_err(db))
            }
            Write::Revoke(host, r) => Done::Revoke(
                r,
                tx.execute(
                    "UPDATE agent_tokens SET revoked_at = ?2 WHERE host_id = ?1 AND revoked_at IS NULL",
                    params![host, ts(&Utc::now())],
                )
                .map(|n| n > 0)
                .map_err(db),
            ),
            Write::Prune(cutoff, r) => Done::Prune(
                r,
                tx.execute(
                    "DELETE FROM raw_reports WHERE received_at < ?1",
                    params![ts(&cutoff)],
                )
                .map(|n| n as u64)
                .map_err(db),
            ),
            Write::Assess(a, r) => Done::Assess(r, apply_assessment(&tx, &a).map_err(db)),
        };
        let finished = if d.is_ok() {
            exec_cached(&tx, "RELEASE estate_write")
        } else {
            exec_cached(&tx, "ROLLBACK TO estate_write")
                .and_then(|()| exec_cached(&tx, "RELEASE estate_write"))
        };
        done.push(d);
        if let Err(e) = finished {
            let err = db_ref(&e);
            done.extend(writes.map(|w| w.failed(&err)));
            return Err((done, e));
        }
    }
    match tx.commit() {
        Ok(()) => Ok(done),
        Err(e) => Err((done, e)),
    }
}

fn apply_ingest(conn: &Connection, r: &NewReport) -> rusqlite::Result<IngestOutcome> {
    let p = &r.point;
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO series (report_id, host_id, collected_at, received_at,
            window_start, window_end, cpu_mean_ratio, cpu_p95_ratio, memory_mean_ratio,
            memory_p95_ratio, power_watts, energy_joules, power_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?
        .execute(params![
            r.report_id.to_string(),
            r.host_id,
            ts(&r.collected_at),
            ts(&r.received_at),
            ts(&p.window_start),
            ts(&p.window_end),
            p.cpu_mean_ratio,
            p.cpu_p95_ratio,
            p.memory_mean_ratio,
            p.memory_p95_ratio,
            p.power_watts,
            p.energy_joules,
            p.power_source,
        ])?;
    if inserted == 0 {
        return Ok(IngestOutcome::Duplicate);
    }
    conn.prepare_cached(
        "INSERT OR REPLACE INTO raw_reports (report_id, host_id, received_at, body)
         VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        r.report_id.to_string(),
        r.host_id,
        ts(&r.received_at),
        r.raw_json
    ])?;
    let labels = serde_json::to_string(&r.labels)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let seen = ts(&r.collected_at);
    conn.prepare_cached(
        "INSERT INTO hosts (host_id, hostname, labels_json, first_seen, last_seen,
            reported_inventory_hash, energy_joules_total)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)
         ON CONFLICT (host_id) DO UPDATE SET
            energy_joules_total = hosts.energy_joules_total + excluded.energy_joules_total,
            hostname = CASE WHEN excluded.last_seen >= hosts.last_seen
                THEN excluded.hostname ELSE hosts.hostname END,
            labels_json = CASE WHEN excluded.last_seen >= hosts.last_seen
                THEN excluded.labels_json ELSE hosts.labels_json END,
            reported_inventory_hash = CASE WHEN excluded.last_seen >= hosts.last_seen
                THEN excluded.reported_inventory_hash ELSE hosts.reported_inventory_hash END,
            first_seen = MIN(hosts.first_seen, excluded.first_seen),
            last_seen = MAX(hosts.last_seen, excluded.last_seen)",
    )?
    .execute(params![
        r.host_id,
        r.hostname,
        labels,
        seen,
        r.inventory_hash,
        super::energy_increment(p.energy_joules)
    ])?;
    if let Some(inventory) = &r.inventory_json {
        let f = r.facets.clone().unwrap_or_default();
        let newer = conn
            .prepare_cached(
                "UPDATE hosts SET inventory_hash = ?2,
                    inventory_collected_at = ?3, os_family = ?4, os_id = ?5, os_name = ?6,
                    os_version = ?7, machine_kind = ?8, chassis = ?9
                 WHERE host_id = ?1
                   AND (inventory_collected_at IS NULL OR inventory_collected_at <= ?3)",
            )?
            .execute(params![
                r.host_id,
                r.inventory_hash,
                seen,
                f.os_family,
                f.os_id,
                f.os_name,
                f.os_version,
                f.machine_kind,
                f.chassis
            ])?;
        if newer > 0 {
            conn.prepare_cached(
                "INSERT INTO host_inventories (host_id, inventory_json) VALUES (?1, ?2)
                 ON CONFLICT (host_id) DO UPDATE SET inventory_json = excluded.inventory_json",
            )?
            .execute(params![r.host_id, inventory])?;
        }
    }
    Ok(IngestOutcome::Stored)
}

fn apply_assessment(conn: &Connection, a: &AssessmentRecord) -> rusqlite::Result<u64> {
    let newer: Option<String> = conn
        .query_row(
            "SELECT assessed_at FROM assessments WHERE host_id = ?1 AND assessed_at > ?2",
            params![a.host_id, ts(&a.assessed_at)],
            |r| r.get(0),
        )
        .optional()?;
    if newer.is_some() {
        return Ok(0);
    }
    let at = ts(&a.assessed_at);
    conn.prepare_cached(
        "INSERT INTO assessments (host_id, assessed_at, profile, score, band, carbon_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (host_id) DO UPDATE SET assessed_at = excluded.assessed_at,
            profile = excluded.profile, score = excluded.score, band = excluded.band,
            carbon_json = excluded.carbon_json",
    )?
    .execute(params![
        a.host_id,
        at,
        a.profile,
        a.score,
        a.band,
        a.carbon_json
    ])?;
    conn.prepare_cached(
        "INSERT INTO assessment_details (host_id, detail_json) VALUES (?1, ?2)
         ON CONFLICT (host_id) DO UPDATE SET detail_json = excluded.detail_json",
    )?
    .execute(params![a.host_id, a.detail_json])?;
    match &a.view_json {
        Some(view) => conn.execute(
            "INSERT INTO report_views (host_id, view_json) VALUES (?1, ?2)
             ON CONFLICT (host_id) DO UPDATE SET view_json = excluded.view_json",
            params![a.host_id, view],
        )?,
        None => conn.execute(
            "DELETE FROM report_views WHERE host_id = ?1",
            params![a.host_id],
        )?,
    };
    let previous: Vec<(String, String)> = {
        let mut stmt =
            conn.prepare("SELECT check_id, status FROM check_status WHERE host_id = ?1")?;
        stmt.query_map(params![a.host_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let previous: std::collections::BTreeMap<String, String> = previous.into_iter().collect();
    let mut transitions = 0;
    let mut record = |check: &str, from: Option<&str>, to: &str| -> rusqlite::Result<()> {
        transitions += 1;
        conn.execute(
            "INSERT INTO check_transitions (host_id, check_id, from_status, to_status, at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![a.host_id, check, from, to, at],
        )?;
        Ok(())
    };
    for (check, status) in &a.statuses {
        let before = previous.get(check).map(String::as_str);
        if before == Some(status.as_str()) {
            continue;
        }
        record(check, before, status)?;
        conn.execute(
            "INSERT INTO check_status (host_id, check_id, status, since) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (host_id, check_id) DO UPDATE SET status = excluded.status,
                since = excluded.since",
            params![a.host_id, check, status, at],
        )?;
    }
    for (check, status) in &previous {
        if !a.statuses.contains_key(check) {
            record(check, Some(status), "removed")?;
            conn.execute(
                "DELETE FROM check_status WHERE host_id = ?1 AND check_id = ?2",
                params![a.host_id, check],
            )?;
        }
    }
    Ok(transitions)
}

fn apply_enrol(conn: &Connection, host: &str, name: &str, hash: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO agent_tokens (host_id, hostname, token_hash, issued_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, NULL)
         ON CONFLICT (host_id) DO UPDATE SET hostname = excluded.hostname,
            token_hash = excluded.token_hash, issued_at = excluded.issued_at,
            revoked_at = NULL",
        params![host, name, hash, ts(&Utc::now())],
    )?;
    Ok(())
}

const HOST_COLUMNS: &str = "host_id, hostname, labels_json, first_seen, last_seen,
    inventory_hash, reported_inventory_hash, inventory_collected_at, os_family, os_id,
    os_name, os_version, machine_kind, chassis";

fn host_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<HostRecord> {
    let labels: String = row.get(2)?;
    let first: String = row.get(3)?;
    let last: String = row.get(4)?;
    let inv_at: Option<String> = row.get(7)?;
    Ok(HostRecord {
        host_id: row.get(0)?,
        hostname: row.get(1)?,
        labels: parse_json(&labels)?,
        first_seen: parse_ts(&first)?,
        last_seen: parse_ts(&last)?,
        inventory_hash: row.get(5)?,
        reported_inventory_hash: row.get(6)?,
        inventory_collected_at: inv_at.as_deref().map(parse_ts).transpose()?,
        facets: HostFacets {
            os_family: row.get(8)?,
            os_id: row.get(9)?,
            os_name: row.get(10)?,
            os_version: row.get(11)?,
            machine_kind: row.get(12)?,
            chassis: row.get(13)?,
        },
        inventory: None,
    })
}

/// Puts each `(host_id, check_id, status)` row of `rows` (by host id) into the record of
/// its host in `records` (by host id too): one merge pass.
fn attach_statuses(
    records: &mut [AssessmentRecord],
    rows: &mut rusqlite::Rows<'_>,
) -> rusqlite::Result<()> {
    let mut index = 0;
    while let Some(row) = rows.next()? {
        let host: String = row.get(0)?;
        while index < records.len() && records[index].host_id < host {
            index += 1;
        }
        if let Some(record) = records.get_mut(index)
            && record.host_id == host
        {
            record.statuses.insert(row.get(1)?, row.get(2)?);
        }
    }
    Ok(())
}

fn assessment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AssessmentRecord> {
    let at: String = r.get(1)?;
    Ok(AssessmentRecord {
        host_id: r.get(0)?,
        assessed_at: parse_ts(&at)?,
        profile: r.get(2)?,
        score: r.get(3)?,
        band: r.get(4)?,
        statuses: Default::default(),
        detail_json: r.get(5)?,
        carbon_json: r.get(6)?,
        view_json: r.get(7)?,
    })
}

/// The `WHERE` clause (never empty) and its positional arguments for a host query,
/// without the cursor.
fn host_filter(q: &HostQuery) -> (String, Vec<Value>) {
    let mut clauses = vec!["1 = 1".to_owned()];
    let mut args: Vec<Value> = Vec::new();
    let arg = |args: &mut Vec<Value>, v: String| {
        args.push(Value::Text(v));
        args.len()
    };
    for (key, value) in &q.labels {
        // The key goes in as a bound JSON path, quoted so any label key works.
        let path = format!("$.\"{}\"", key.replace('"', "\\\""));
        let p = arg(&mut args, path);
        let v = arg(&mut args, value.clone());
        clauses.push(format!("json_extract(labels_json, ?{p}) = ?{v}"));
    }
    if let Some(os) = &q.os {
        let p = arg(&mut args, os.to_lowercase());
        clauses.push(format!(
            "(lower(os_family) = ?{p} OR lower(os_id) = ?{p} OR lower(os_name) = ?{p})"
        ));
    }
    if let Some(kind) = &q.machine_kind {
        let p = arg(&mut args, kind.clone());
        clauses.push(format!("machine_kind = ?{p}"));
    }
    if let Some(state) = q.state {
        let p = arg(&mut args, ts(&q.stale_before));
        clauses.push(match state {
            HostState::Reporting => format!("last_seen >= ?{p}"),
            HostState::Stale => format!("last_seen < ?{p}"),
        });
    }
    if let Some(search) = &q.search {
        let p = arg(&mut args, search.to_lowercase());
        clauses.push(format!(
            "(instr(lower(hostname), ?{p}) > 0 OR instr(lower(host_id), ?{p}) > 0)"
        ));
    }
    (clauses.join(" AND "), args)
}

impl Store for SqliteStore {
    fn ingest(&self, report: NewReport) -> StoreFuture<'_, IngestOutcome> {
        self.write(|r| Write::Ingest(Box::new(report), r))
    }

    fn enrol(&self, host_id: String, hostname: String, token_hash: String) -> StoreFuture<'_, ()> {
        self.write(|r| Write::Enrol(host_id, hostname, token_hash, r))
    }

    fn token_host(&self, token_hash: String) -> StoreFuture<'_, Option<String>> {
        self.read(move |c| {
            c.query_row(
                "SELECT host_id FROM agent_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                params![token_hash],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn revoke(&self, host_id: String) -> StoreFuture<'_, bool> {
        self.write(|r| Write::Revoke(host_id, r))
    }

    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT host_id, hostname, issued_at, revoked_at IS NOT NULL
                 FROM agent_tokens ORDER BY host_id",
            )?;
            let rows = stmt.query_map([], |r| {
                let issued: String = r.get(2)?;
                Ok(TokenRecord {
                    host_id: r.get(0)?,
                    hostname: r.get(1)?,
                    issued_at: parse_ts(&issued)?,
                    revoked: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    fn hosts(&self) -> StoreFuture<'_, Vec<HostRecord>> {
        self.read(|c| {
            // Read in the table's own order and sorted here (SQLite's text order is
            // byte order, as Rust's): `ORDER BY host_id` walked the key index and read
            // each row's page from wherever the row lies, 96,000 page reads for the
            // 11,000 pages of a 100,000-host table.
            let mut stmt = c.prepare(&format!("SELECT {HOST_COLUMNS} FROM hosts"))?;
            let rows = stmt.query_map([], host_row)?;
            let mut hosts: Vec<HostRecord> = rows.collect::<rusqlite::Result<_>>()?;
            hosts.sort_unstable_by(|a, b| a.host_id.cmp(&b.host_id));
            Ok(hosts)
        })
    }

    fn host(&self, host_id: String) -> StoreFuture<'_, Option<HostRecord>> {
        self.read(move |c| {
            c.query_row(
                &format!(
                    "SELECT {HOST_COLUMNS},
                        (SELECT inventory_json FROM host_inventories i
                         WHERE i.host_id = hosts.host_id)
                     FROM hosts WHERE host_id = ?1"
                ),
                params![host_id],
                |row| {
                    let mut host = host_row(row)?;
                    let inventory: Option<String> = row.get(14)?;
                    host.inventory = inventory.as_deref().map(parse_json).transpose()?;
                    Ok(host)
                },
            )
            .optional()
        })
    }

    fn list_hosts(&self, query: HostQuery) -> StoreFuture<'_, HostPage> {
        self.read(move |c| {
            let (filter, mut args) = host_filter(&query);
            let total: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM hosts WHERE {filter}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?;
            let mut page_filter = filter;
            if let Some(after) = &query.after {
                args.push(Value::Text(after.clone()));
                page_filter.push_str(&format!(" AND host_id > ?{}", args.len()));
            }
            let limit = query.limit.max(1);
            let mut stmt = c.prepare(&format!(
                "SELECT {HOST_COLUMNS} FROM hosts WHERE {page_filter}
                 ORDER BY host_id LIMIT {}",
                u64::from(limit) + 1
            ))?;
            let mut hosts = stmt
                .query_map(params_from_iter(args.iter()), host_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let more = hosts.len() > limit as usize;
            hosts.truncate(limit as usize);
            let next_after = if more {
                hosts.last().map(|h| h.host_id.clone())
            } else {
                None
            };
            Ok(HostPage {
                hosts,
                total: u64::try_from(total).unwrap_or(0),
                next_after,
            })
        })
    }

    fn latest_report(&self, host_id: String) -> StoreFuture<'_, Option<String>> {
        self.read(move |c| {
            c.query_row(
                "SELECT r.body FROM raw_reports r JOIN series s ON s.report_id = r.report_id
                 WHERE s.host_id = ?1
                 ORDER BY s.collected_at DESC, s.received_at DESC LIMIT 1",
                params![host_id],
                |r| r.get(0),
            )
            .optional()
        })
    }

    fn series(
        &self,
        host_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<SeriesPoint>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT window_start, window_end, cpu_mean_ratio, cpu_p95_ratio,
                    memory_mean_ratio, memory_p95_ratio, power_watts, energy_joules,
                    power_source
                 FROM series WHERE host_id = ?1 AND window_end >= ?2 AND window_end < ?3
                 ORDER BY window_end, report_id",
            )?;
            let rows = stmt.query_map(params![host_id, ts(&from), ts(&to)], |r| {
                let start: String = r.get(0)?;
                let end: String = r.get(1)?;
                Ok(SeriesPoint {
                    window_start: parse_ts(&start)?,
                    window_end: parse_ts(&end)?,
                    cpu_mean_ratio: r.get(2)?,
                    cpu_p95_ratio: r.get(3)?,
                    memory_mean_ratio: r.get(4)?,
                    memory_p95_ratio: r.get(5)?,
                    power_watts: r.get(6)?,
                    energy_joules: r.get(7)?,
                    power_source: r.get(8)?,
                })
            })?;
            rows.collect()
        })
    }

    fn save_assessment(&self, assessment: AssessmentRecord) -> StoreFuture<'_, u64> {
        self.write(|r| Write::Assess(Box::new(assessment), r))
    }

    fn assessment(
        &self,
        host_id: String,
    ) -> StoreFuture<'_, Option<(AssessmentRecord, Vec<CheckStatusRecord>)>> {
        self.read(move |c| {
            let Some(mut record) = c
                .query_row(
                    "SELECT host_id, assessed_at, profile, score, band,
                        COALESCE((SELECT detail_json FROM assessment_details d
                            WHERE d.host_id = assessments.host_id), ''),
                        carbon_json, NULL
                     FROM assessments WHERE host_id = ?1",
                    params![host_id],
                    assessment_row,
                )
                .optional()?
            else {
                return Ok(None);
            };
            let mut stmt = c.prepare(
                "SELECT check_id, status, since FROM check_status WHERE host_id = ?1
                 ORDER BY check_id",
            )?;
            let statuses = stmt
                .query_map(params![host_id], |r| {
                    let since: String = r.get(2)?;
                    Ok(CheckStatusRecord {
                        check_id: r.get(0)?,
                        status: r.get(1)?,
                        since: parse_ts(&since)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            record.statuses = statuses
                .iter()
                .map(|s| (s.check_id.clone(), s.status.clone()))
                .collect();
            Ok(Some((record, statuses)))
        })
    }

    fn assessments(&self) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT host_id, assessed_at, profile, score, band, '', NULL, NULL
                 FROM assessments ORDER BY host_id",
            )?;
            let mut records = stmt
                .query_map([], assessment_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut stmt =
                c.prepare("SELECT host_id, check_id, status FROM check_status ORDER BY host_id")?;
            let mut rows = stmt.query([])?;
            attach_statuses(&mut records, &mut rows)?;
            Ok(records)
        })
    }

    fn assessment_details(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        // The detail is read only for a host without a view. Two statements, not one
        // with `?1 IS NULL OR a.host_id > ?1`: SQLite plans that OR as a scan of the
        // whole key index from its start for every page (608,000 reads of 4 KB for a
        // report of 100,000 hosts), where `a.host_id > ?1` seeks to the page's start.
        const SELECT: &str = "SELECT a.host_id, a.assessed_at, a.profile, a.score, a.band,
                CASE WHEN v.view_json IS NULL THEN
                    COALESCE((SELECT detail_json FROM assessment_details d
                        WHERE d.host_id = a.host_id), '')
                ELSE '' END, NULL,
                v.view_json
             FROM assessments a LEFT JOIN report_views v ON v.host_id = a.host_id";
        self.read(move |c| match after {
            None => c
                .prepare_cached(&format!("{SELECT} ORDER BY a.host_id LIMIT ?1"))?
                .query_map(params![limit], assessment_row)?
                .collect(),
            Some(after) => c
                .prepare_cached(&format!(
                    "{SELECT} WHERE a.host_id > ?1 ORDER BY a.host_id LIMIT ?2"
                ))?
                .query_map(params![after, limit], assessment_row)?
                .collect(),
        })
    }

    fn assessment_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        // Two statements for the first page and the next: see `assessment_details`.
        const SELECT: &str = "SELECT host_id, assessed_at, profile, score, band, '',
                carbon_json, NULL
             FROM assessments";
        self.read(move |c| {
            let mut records: Vec<AssessmentRecord> = match after {
                None => c
                    .prepare_cached(&format!("{SELECT} ORDER BY host_id LIMIT ?1"))?
                    .query_map(params![limit], assessment_row)?
                    .collect::<rusqlite::Result<_>>()?,
                Some(after) => c
                    .prepare_cached(&format!(
                        "{SELECT} WHERE host_id > ?1 ORDER BY host_id LIMIT ?2"
                    ))?
                    .query_map(params![after, limit], assessment_row)?
                    .collect::<rusqlite::Result<_>>()?,
            };
            let (Some(first), Some(last)) = (records.first(), records.last()) else {
                return Ok(records);
            };
            let (first, last) = (first.host_id.clone(), last.host_id.clone());
            let mut stmt = c.prepare_cached(
                "SELECT host_id, check_id, status FROM check_status
                 WHERE host_id >= ?1 AND host_id <= ?2 ORDER BY host_id",
            )?;
            let mut rows = stmt.query(params![first, last])?;
            attach_statuses(&mut records, &mut rows)?;
            Ok(records)
        })
    }

    fn carbon_estimates(&self) -> StoreFuture<'_, Vec<CarbonRecord>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT host_id, assessed_at, carbon_json FROM assessments
                 WHERE carbon_json IS NOT NULL ORDER BY host_id",
            )?;
            let rows = stmt.query_map([], |r| {
                let at: String = r.get(1)?;
                Ok(CarbonRecord {
                    host_id: r.get(0)?,
                    assessed_at: parse_ts(&at)?,
                    carbon_json: r.get(2)?,
                })
            })?;
            rows.collect()
        })
    }

    fn host_energy(&self) -> StoreFuture<'_, Vec<HostEnergy>> {
        self.read(|c| {
            let mut stmt =
                c.prepare("SELECT host_id, energy_joules_total FROM hosts ORDER BY host_id")?;
            let rows = stmt.query_map([], |r| {
                Ok(HostEnergy {
                    host_id: r.get(0)?,
                    energy_joules_total: r.get(1)?,
                })
            })?;
            rows.collect()
        })
    }

    fn check_transitions(
        &self,
        host_id: String,
        since: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<CheckTransition>> {
        self.read(move |c| {
            let mut stmt = c.prepare(
                "SELECT host_id, check_id, from_status, to_status, at FROM check_transitions
                 WHERE host_id = ?1 AND at >= ?2 ORDER BY at, rowid",
            )?;
            let rows = stmt.query_map(params![host_id, ts(&since)], |r| {
                let at: String = r.get(4)?;
                Ok(CheckTransition {
                    host_id: r.get(0)?,
                    check_id: r.get(1)?,
                    from: r.get(2)?,
                    to: r.get(3)?,
                    at: parse_ts(&at)?,
                })
            })?;
            rows.collect()
        })
    }

    fn prune_raw_reports(&self, cutoff: DateTime<Utc>) -> StoreFuture<'_, u64> {
        self.write(|r| Write::Prune(cutoff, r))
    }

    fn host_states(&self, stale_before: DateTime<Utc>) -> StoreFuture<'_, HostStates> {
        self.read(move |c| {
            c.query_row(
                "SELECT COALESCE(SUM(last_seen >= ?1), 0), COALESCE(SUM(last_seen < ?1), 0)
                 FROM hosts",
                params![ts(&stale_before)],
                |r| {
                    let n = |v: i64| u64::try_from(v).unwrap_or(0);
                    Ok(HostStates {
                        reporting: n(r.get(0)?),
                        stale: n(r.get(1)?),
                    })
                },
            )
        })
    }

    fn counts(&self) -> StoreFuture<'_, Counts> {
        self.read(|c| {
            let n = |table: &str| -> rusqlite::Result<u64> {
                c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|v| u64::try_from(v).unwrap_or(0))
            };
            Ok(Counts {
                hosts: n("hosts")?,
                raw_reports: n("raw_reports")?,
                series: n("series")?,
                tokens: n("agent_tokens")?,
            })
        })
    }

    /// A read; and [`StoreError::Full`] for [`FULL_READINESS_SECS`] after a write
    /// transaction failed because the storage was full, unless a report has been stored
    /// since. (A probe write cannot tell: SQLite overwrites the space a failed transaction
    /// already took in the WAL, so a small write succeeds where every report still
    /// fails.) Not for ever: a load balancer that routes by `/readyz` must send reports
    /// again for the collector to find out that space came back; the next one that fails
    /// sets it again.
    fn ping(&self) -> StoreFuture<'_, ()> {
        let read = self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())));
        let since = self.full.load(Ordering::Relaxed);
        let full = since != 0 && unix_now().saturating_sub(since) < FULL_READINESS_SECS;
        Box::pin(async move {
            read.await?;
            if full {
                return Err(StoreError::Full(
                    "the last write failed: database or disk is full".to_owned(),
                ));
            }
            Ok(())
        })
    }

    fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A write that meets a full disk (here: the database's page limit, which SQLite
    /// answers with the same `SQLITE_FULL` as `ENOSPC`) is `StoreError::Full`, not a
    /// generic database error: ingest answers `503 storage_full`.
    #[test]
    fn a_full_database_is_store_error_full() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (b BLOB NOT NULL)")
            .unwrap();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages + 2)
            .unwrap();
        let err = (0..100)
            .find_map(|_| {
                conn.execute("INSERT INTO t (b) VALUES (zeroblob(4000))", [])
                    .err()
            })
            .unwrap();
        assert!(matches!(db_ref(&err), StoreError::Full(_)), "{err}");
        assert!(matches!(db(err), StoreError::Full(_)));
        let other = conn
            .execute("INSERT INTO missing VALUES (1)", [])
            .unwrap_err();
        assert!(matches!(db(other), StoreError::Database(_)));
    }

    /// A store filled at schema version 5 (inventories and assessment details inside
    /// the rows of `hosts` and `assessments`) keeps every byte when migration 6 moves
    /// them to tables of their own.
    #[tokio::test]
    async fn migration_6_moves_inventories_and_details_without_losing_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("estate.db");
        let inventory = format!(r#"{{"os":{{"name":"{}"}}}}"#, "x".repeat(20_000));
        let detail = format!(r#"{{"results":"{}"}}"#, "y".repeat(18_000));
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE schema_migrations (
                    version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            )
            .unwrap();
            for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 <= 5) {
                conn.execute_batch(sql).unwrap();
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?1, '2026-11-01T00:00:00Z')",
                    params![version],
                )
                .unwrap();
            }
            conn.execute_batch(&format!(
                "INSERT INTO hosts (host_id, hostname, labels_json, first_seen, last_seen,
                    reported_inventory_hash, inventory_json, inventory_hash,
                    inventory_collected_at, os_family, chassis, energy_joules_total)
                 VALUES ('h1', 'web-01', '{{}}', '2026-11-01T00:00:00Z',
                    '2026-11-02T00:00:00Z', 'abc', '{inventory}', 'abc',
                    '2026-11-02T00:00:00Z', 'linux', 'rack', 42.5),
                 ('h2', 'web-02', '{{}}', '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z',
                    'def', NULL, NULL, NULL, NULL, NULL, 0);
                 INSERT INTO assessments (host_id, assessed_at, profile, score, band,
                    detail_json, carbon_json)
                 VALUES ('h1', '2026-11-02T00:00:00Z', 'baseline', 0.75, 'amber',
                    '{detail}', '{{\"kg\":1}}');"
            ))
            .unwrap();
        }
        let store = SqliteStore::open(&path, 16, 16).unwrap();
        let h1 = store.host("h1".to_owned()).await.unwrap().unwrap();
        assert_eq!(
            h1.inventory,
            Some(serde_json::from_str(&inventory).unwrap())
        );
        assert_eq!(h1.facets.os_family.as_deref(), Some("linux"));
        assert_eq!(h1.facets.chassis.as_deref(), Some("rack"));
        let h2 = store.host("h2".to_owned()).await.unwrap().unwrap();
        assert_eq!(h2.inventory, None);
        let hosts = store.hosts().await.unwrap();
        assert_eq!(hosts.len(), 2);
        let energy = store.host_energy().await.unwrap();
        assert_eq!(energy[0].energy_joules_total, 42.5);
        let (a, _) = store.assessment("h1".to_owned()).await.unwrap().unwrap();
        assert_eq!(a.detail_json, detail);
        assert_eq!(a.carbon_json.as_deref(), Some(r#"{"kg":1}"#));
        assert_eq!((a.score, a.band.as_deref()), (Some(0.75), Some("amber")));
        let details = store.assessment_details(None, 10).await.unwrap();
        assert_eq!(details.len(), 1);
        assert_eq!(
            details[0].detail_json, detail,
            "no view: the detail is read"
        );
        let carbon = store.carbon_estimates().await.unwrap();
        assert_eq!(carbon[0].carbon_json, r#"{"kg":1}"#);
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let columns = |table: &str| -> Vec<String> {
            let mut stmt = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        assert!(!columns("hosts").contains(&"inventory_json".to_owned()));
        assert!(!columns("assessments").contains(&"detail_json".to_owned()));
    }
}
