//! The PostgreSQL backend: a pool of connections (`deadpool-postgres`), versioned
//! migrations applied under an advisory lock, and a few writer tasks that group the
//! writes waiting in their bounded queue into one transaction each (group commit).
//!
//! Several collectors may share one database. Correctness rests on the database alone:
//! ingest is one statement (`INSERT ... ON CONFLICT`) per report, so a report is stored
//! once however many collectors receive it; the host row is upserted with "moves forward
//! only" rules evaluated on the locked row. To keep concurrent batches from deadlocking,
//! every write first takes a transaction-level advisory lock on its key (the host) and
//! each batch takes its keys in ascending order; a batch that still meets a deadlock or
//! serialization failure is retried whole. A write's future resolves only after COMMIT.
//!
//! This module owns the connections and the read SQL (writes: `writer`, schema:
//! `migrations`); it must not know about HTTP or the report format beyond [`NewReport`].

mod migrations;
mod writer;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::config::SslMode;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{Config, NoTls, Row};

use writer::{Answer, Op, Write, writer};

use super::{
    AssessmentRecord, CarbonRecord, CheckStatusRecord, CheckTransition, Counts, HostEnergy,
    HostFacets, HostPage, HostQuery, HostRecord, HostState, HostStates, IngestOutcome, NewReport,
    SeriesPoint, Store, StoreError, StoreFuture, TokenRecord,
};

/// Default most connections per collector (writers and readers together).
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Default time allowed to open one connection (TCP, TLS-less startup, authentication)
/// when the URL sets no `connect_timeout`; it bounds how long `/readyz` waits when the
/// database is down.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time a request waits for a free pooled connection before the store answers
/// [`StoreError::Busy`].
pub const DEFAULT_POOL_WAIT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default TCP user timeout (Linux) when the URL sets none: a query whose data the
/// server does not acknowledge for this long fails instead of hanging until TCP gives up
/// (a database host that vanished mid-transaction).
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);
/// Most writer tasks per collector. Each has a connection of its own (a pool apart from
/// the readers', so reads can never starve writes) while it commits a batch.
pub const MAX_WRITERS: usize = 4;

/// How a [`PostgresStore`] connects and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresOptions {
    /// Most connections (at least 2): half of them, up to [`MAX_WRITERS`], for the
    /// writers, the rest for reads.
    pub pool_size: usize,
    /// Connect timeout used when the URL sets none.
    pub connect_timeout: Duration,
    /// How long a request waits for a free connection.
    pub pool_wait_timeout: Duration,
    /// Capacity of the writer queue; past it writes answer [`StoreError::Busy`].
    pub write_queue_capacity: usize,
    /// Most writes per transaction.
    pub write_batch_max: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_wait_timeout: DEFAULT_POOL_WAIT_TIMEOUT,
            write_queue_capacity: crate::config::DEFAULT_WRITE_QUEUE_CAPACITY as usize,
            write_batch_max: crate::config::DEFAULT_WRITE_BATCH_MAX as usize,
        }
    }
}

/// The PostgreSQL store. Cheap to share behind an `Arc`; dropping it ends its writers.
pub struct PostgresStore {
    queue: mpsc::Sender<Write>,
    /// Connections for reads; the writers have their own pool.
    pool: Pool,
    transactions: Arc<AtomicU64>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PostgresStore")
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .field("transactions", &self.transactions())
            .finish_non_exhaustive()
    }
}

/// The text of an error, with the database's message when there is one.
fn describe(err: &tokio_postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => format!("{db} (SQLSTATE {})", db.code().code()),
        None => match std::error::Error::source(err) {
            Some(cause) => format!("{err}: {cause}"),
            None => err.to_string(),
        },
    }
}

/// A database error; `disk_full` (SQLSTATE 53100) is [`StoreError::Full`].
fn db(err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL) {
        StoreError::Full(describe(&err))
    } else {
        StoreError::Database(describe(&err))
    }
}

/// Pool failures: waiting too long for a free connection is overload ([`StoreError::Busy`],
/// answered with `Retry-After`); a closed pool is [`StoreError::Closed`]; failing to
/// connect is a [`StoreError::Database`] error.
fn pool_error(err: PoolError) -> StoreError {
    use deadpool_postgres::TimeoutType;
    match err {
        PoolError::Timeout(TimeoutType::Wait) => StoreError::Busy,
        PoolError::Timeout(TimeoutType::Create) => {
            StoreError::Database("cannot connect to PostgreSQL: timed out".to_owned())
        }
        PoolError::Timeout(TimeoutType::Recycle) => {
            StoreError::Database("PostgreSQL did not answer a pooled connection".to_owned())
        }
        PoolError::Closed => StoreError::Closed,
        PoolError::Backend(e) => {
            StoreError::Database(format!("cannot connect to PostgreSQL: {}", describe(&e)))
        }
        other => StoreError::Database(format!("cannot connect to PostgreSQL: {other}")),
    }
}

/// Parses a `postgres://` URL or a `key=value` connection string.
pub fn parse_url(url: &str) -> Result<Config, StoreError> {
    // The URL may hold a password: the error says what is wrong, not the URL.
    Config::from_str(url)
        .map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {}", describe(&e))))
}

/// Applies the options' defaults to a connection config and refuses what this build
/// cannot do.
fn prepare_config(mut config: Config, options: &PostgresOptions) -> Result<Config, StoreError> {
    if config.get_ssl_mode() == SslMode::Require {
        return Err(StoreError::Database(
            "sslmode=require: this build has no TLS connector for PostgreSQL; \
             connect over a trusted network or a local socket (sslmode=disable or prefer)"
                .to_owned(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("estate-server");
    }
    Ok(config)
}

impl PostgresStore {
    /// Connects to the database at `url`, applies pending migrations and starts the
    /// writers. Must run inside a tokio runtime.
    pub async fn open(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        PostgresStore::connect(parse_url(url)?, options).await
    }

    /// Like [`PostgresStore::open`], with a parsed connection config (tests use it to
    /// set `options`, e.g. a `search_path`).
    pub async fn connect(
        config: Config,
        options: PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let config = prepare_config(config, &options)?;
        migrations::run(&config).await?;
        PostgresStore::start(config, &options, &tokio::runtime::Handle::current())
    }

    /// [`PostgresStore::open`] for synchronous callers: the migrations run on a helper
    /// thread with its own runtime (the caller may itself be a runtime thread), then the
    /// writers are spawned on the caller's runtime, which must exist.
    pub fn open_blocking(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Database("the PostgreSQL store needs a tokio runtime".to_owned())
        })?;
        let config = prepare_config(parse_url(url)?, &options)?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| {
                            StoreError::Database(format!("cannot start a runtime: {e}"))
                        })?;
                    runtime.block_on(migrations::run(&config))
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(StoreError::Database(
                        "the migration thread panicked".to_owned(),
                    ))
                })
        })?;
        PostgresStore::start(config, &options, &handle)
    }

    fn start(
        config: Config,
        options: &PostgresOptions,
        runtime: &tokio::runtime::Handle,
    ) -> Result<PostgresStore, StoreError> {
        let writers = (options.pool_size / 2).clamp(1, MAX_WRITERS);
        let readers = options.pool_size.saturating_sub(writers).max(1);
        let connect = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(options.connect_timeout);
        let pool = |size: usize| {
            let manager = Manager::from_config(
                config.clone(),
                NoTls,
                ManagerConfig {
                    recycling_method: RecyclingMethod::Fast,
                },
            );
            Pool::builder(manager)
                .max_size(size)
                .runtime(Runtime::Tokio1)
                .wait_timeout(Some(options.pool_wait_timeout))
                .create_timeout(Some(connect + Duration::from_secs(1)))
                .recycle_timeout(Some(connect))
                .build()
                .map_err(|e| StoreError::Database(format!("cannot build the pool: {e}")))
        };
        let (read_pool, write_pool) = (pool(readers)?, pool(writers)?);
        let (queue, rx) = mpsc::channel(options.write_queue_capacity.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let transactions = Arc::new(AtomicU64::new(0));
        for _ in 0..writers {
            runtime.spawn(writer(
                write_pool.clone(),
                Arc::clone(&rx),
                options.write_batch_max.max(1),
                Arc::clone(&transactions),
            ));
        }
        Ok(PostgresStore {
            queue,
            pool: read_pool,
            transactions,
        })
    }

    fn write(&self, op: Op) -> StoreFuture<'_, Answer> {
        let (reply, answer) = oneshot::channel();
        let sent = self.queue.try_send(Write::new(op, reply));
        Box::pin(async move {
            match sent {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => return Err(StoreError::Busy),
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(StoreError::Closed),
            }
            answer.await.map_err(|_| StoreError::Closed)?
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }
}

fn unexpected(answer: Answer) -> StoreError {
    StoreError::Database(format!("internal: unexpected write answer {answer:?}"))
}

// ---------------------------------------------------------------------------------
// Reads.

const HOST_COLUMNS: &str = "host_id, hostname, labels, first_seen, last_seen, inventory_hash,
    reported_inventory_hash, inventory_collected_at, os_family, os_id, os_name, os_version,
    machine_kind, chassis";

fn host_row(row: &Row) -> Result<HostRecord, tokio_postgres::Error> {
    let labels: Json<BTreeMap<String, String>> = row.try_get("labels")?;
    Ok(HostRecord {
        host_id: row.try_get("host_id")?,
        hostname: row.try_get("hostname")?,
        labels: labels.0,
        first_seen: row.try_get("first_seen")?,
        last_seen: row.try_get("last_seen")?,
        inventory_hash: row.try_get("inventory_hash")?,
        reported_inventory_hash: row.try_get("reported_inventory_hash")?,
        inventory_collected_at: row.try_get("inventory_collected_at")?,
        facets: HostFacets {
            os_family: row.try_get("os_family")?,
            os_id: row.try_get("os_id")?,
            os_name: row.try_get("os_name")?,
            os_version: row.try_get("os_version")?,
            machine_kind: row.try_get("machine_kind")?,
            chassis: row.try_get("chassis")?,
        },
        inventory: None,
    })
}

fn series_row(row: &Row) -> Result<SeriesPoint, tokio_postgres::Error> {
    Ok(SeriesPoint {
        window_start: row.try_get("window_start")?,
        window_end: row.try_get("window_end")?,
        cpu_mean_ratio: row.try_get("cpu_mean_ratio")?,
        cpu_p95_ratio: row.try_get("cpu_p95_ratio")?,
        memory_mean_ratio: row.try_get("memory_mean_ratio")?,
        memory_p95_ratio: row.try_get("memory_p95_ratio")?,
        power_watts: row.try_get("power_watts")?,
        energy_joules: row.try_get("energy_joules")?,
        power_source: row.try_get("power_source")?,
    })
}

/// An assessment row (`host_id, assessed_at, profile, score, band, detail_json,
/// carbon_json`), with its statuses from the `check_ids` and `statuses` arrays (NULL:
/// none).
fn assessment_row(row: &Row) -> Result<AssessmentRecord, tokio_postgres::Error> {
    let ids: Option<Vec<String>> = row.try_get("check_ids")?;
    let statuses: Option<Vec<String>> = row.try_get("statuses")?;
    Ok(AssessmentRecord {
        host_id: row.try_get("host_id")?,
        assessed_at: row.try_get("assessed_at")?,
        profile: row.try_get("profile")?,
        score: row.try_get("score")?,
        band: row.try_get("band")?,
        statuses: ids
            .unwrap_or_default()
            .into_iter()
            .zip(statuses.unwrap_or_default())
            .collect(),
        detail_json: row.try_get("detail_json")?,
        carbon_json: row.try_get("carbon_json")?,
        view_json: row.try_get("view_json")?,
    })
}

/// A page of `select` (a query over `assessments a`): at most `limit` rows after host id
/// `after` in host-id order. The first page has a statement of its own: `$1 IS NULL OR
/// a.host_id > $1` in a prepared (generic) plan cannot seek the key index to the page's
/// start.
async fn page_rows(
    client: &deadpool_postgres::Object,
    select: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Row>, StoreError> {
    let limit = i64::from(limit);
    match after {
        None => {
            let stmt = client
                .prepare_cached(&format!("{select} ORDER BY a.host_id LIMIT $1"))
                .await
                .map_err(db)?;
            client.query(&stmt, &[&limit]).await.map_err(db)
        }
        Some(after) => {
            let stmt = client
                .prepare_cached(&format!(
                    "{select} WHERE a.host_id > $1 ORDER BY a.host_id LIMIT $2"
                ))
                .await
                .map_err(db)?;
            client.query(&stmt, &[&after, &limit]).await.map_err(db)
        }
    }
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

type Param = Box<dyn ToSql + Sync + Send>;

/// The `WHERE` clause (never empty) and its arguments for a host query, without the cursor.
fn host_filter(q: &HostQuery) -> (String, Vec<Param>) {
    let mut clauses = vec!["TRUE".to_owned()];
    let mut args: Vec<Param> = Vec::new();
    let mut arg = |v: Param| {
        args.push(v);
        args.len()
    };
    if !q.labels.is_empty() {
        let p = arg(Box::new(Json(q.labels.clone())));
        clauses.push(format!("labels @> ${p}::jsonb"));
    }
    if let Some(os) = &q.os {
        let p = arg(Box::new(os.to_lowercase()));
        clauses.push(format!(
            "(lower(os_family) = ${p}::text OR lower(os_id) = ${p}::text \
             OR lower(os_name) = ${p}::text)"
        ));
    }
    if let Some(kind) = &q.machine_kind {
        let p = arg(Box::new(kind.clone()));
        clauses.push(format!("machine_kind = ${p}::text"));
    }
    if let Some(state) = q.state {
        let p = arg(Box::new(q.stale_before));
        clauses.push(match state {
            HostState::Reporting => format!("last_seen >= ${p}::timestamptz"),
            HostState::Stale => format!("last_seen < ${p}::timestamptz"),
        });
    }
    if let Some(search) = &q.search {
        let p = arg(Box::new(search.to_lowercase()));
        clauses.push(format!(
            "(strpos(lower(hostname), ${p}::text) > 0 OR strpos(lower(host_id), ${p}::text) > 0)"
        ));
    }
    (clauses.join(" AND "), args)
}

fn refs(args: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

impl Store for PostgresStore {
    fn ingest(&self, report: NewReport) -> StoreFuture<'_, IngestOutcome> {
        let answer = self.write(Op::Ingest(Box::new(report)));
        Box::pin(async move {
            match answer.await? {
                Answer::Ingest(outcome) => Ok(outcome),
                other => Err(unexpected(other)),
            }
        })
    }

    fn enrol(&self, host_id: String, hostname: String, token_hash: String) -> StoreFuture<'_, ()> {
        let answer = self.write(Op::Enrol {
            host_id,
            hostname,
            token_hash,
        });
        Box::pin(async move {
            match answer.await? {
                Answer::Done => Ok(()),
                other => Err(unexpected(other)),
            }
        })
    }

    fn token_host(&self, token_hash: String) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT host_id FROM agent_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .await
                .map_err(db)?;
            let row = client.query_opt(&stmt, &[&token_hash]).await.map_err(db)?;
            row.map(|r| r.try_get(0)).transpose().map_err(db)
        })
    }

    fn revoke(&self, host_id: String) -> StoreFuture<'_, bool> {
        let answer = self.write(Op::Revoke(host_id));
        Box::pin(async move {
            match answer.await? {
                Answer::Changed(changed) => Ok(changed),
                other => Err(unexpected(other)),
            }
        })
    }

    fn tokens(&self) -> StoreFuture<'_, Vec<TokenRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT host_id, hostname, issued_at, revoked_at IS NOT NULL AS revoked
                     FROM agent_tokens ORDER BY host_id",
                )
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[]).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(TokenRecord {
                        host_id: r.try_get("host_id")?,
                        hostname: r.try_get("hostname")?,
                        issued_at: r.try_get("issued_at")?,
                        revoked: r.try_get("revoked")?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(db)
        })
    }

    fn hosts(&self) -> StoreFuture<'_, Vec<HostRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {HOST_COLUMNS} FROM hosts ORDER BY host_id"
                ))
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[]).await.map_err(db)?;
            rows.iter()
                .map(host_row)
                .collect::<Result<_, _>>()
                .map_err(db)
        })
    }

    fn list_hosts(&self, query: HostQuery) -> StoreFuture<'_, HostPage> {
        Box::pin(async move {
            let (filter, mut args) = host_filter(&query);
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&format!("SELECT count(*) FROM hosts WHERE {filter}"))
                .await
                .map_err(db)?;
            let total: i64 = client
                .query_one(&stmt, &refs(&args))
                .await
                .and_then(|r| r.try_get(0))
                .map_err(db)?;
            let mut page_filter = filter;
            if let Some(after) = &query.after {
                args.push(Box::new(after.clone()));
                page_filter.push_str(&format!(" AND host_id > ${}::text", args.len()));
            }
            let limit = query.limit.max(1);
            args.push(Box::new(i64::from(limit) + 1));
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {HOST_COLUMNS} FROM hosts WHERE {page_filter}
                     ORDER BY host_id LIMIT ${}::bigint",
                    args.len()
                ))
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &refs(&args)).await.map_err(db)?;
            let mut hosts = rows
                .iter()
                .map(host_row)
                .collect::<Result<Vec<_>, _>>()
                .map_err(db)?;
            let more = hosts.len() > limit as usize;
            hosts.truncate(limit as usize);
            let next_after = if more {
                hosts.last().map(|h| h.host_id.clone())
            } else {
                None
            };
            Ok(HostPage {
                hosts,
                total: count(total),
                next_after,
            })
        })
    }

    fn host(&self, host_id: String) -> StoreFuture<'_, Option<HostRecord>> {
        Box::pin(async move {
            // PostgreSQL text cannot hold NUL (the query would fail, a 503 for what is a
            // plain unknown host); no stored id has one.
            if host_id.contains('\0') {
                return Ok(None);
            }
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {HOST_COLUMNS}, inventory_json FROM hosts WHERE host_id = $1"
                ))
                .await
                .map_err(db)?;
            let Some(row) = client.query_opt(&stmt, &[&host_id]).await.map_err(db)? else {
                return Ok(None);
            };
            let mut host = host_row(&row).map_err(db)?;
            let inventory: Option<String> = row.try_get("inventory_json").map_err(db)?;
            host.inventory = inventory
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| StoreError::Database(format!("stored inventory is not JSON: {e}")))?;
            Ok(Some(host))
        })
    }

    fn series(
        &self,
        host_id: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<SeriesPoint>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT window_start, window_end, cpu_mean_ratio, cpu_p95_ratio,
                        memory_mean_ratio, memory_p95_ratio, power_watts, energy_joules,
                        power_source
                     FROM series WHERE host_id = $1 AND window_end >= $2 AND window_end < $3
                     ORDER BY window_end, report_id",
                )
                .await
                .map_err(db)?;
            let rows = client
                .query(&stmt, &[&host_id, &from, &to])
                .await
                .map_err(db)?;
            rows.iter()
                .map(series_row)
                .collect::<Result<_, _>>()
                .map_err(db)
        })
    }

    fn latest_report(&self, host_id: String) -> StoreFuture<'_, Option<String>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT r.body FROM raw_reports r JOIN series s ON s.report_id = r.report_id
                     WHERE s.host_id = $1
                     ORDER BY s.collected_at DESC, s.received_at DESC LIMIT 1",
                )
                .await
                .map_err(db)?;
            let row = client.query_opt(&stmt, &[&host_id]).await.map_err(db)?;
            row.map(|r| r.try_get(0)).transpose().map_err(db)
        })
    }

    fn save_assessment(&self, assessment: AssessmentRecord) -> StoreFuture<'_, u64> {
        let answer = self.write(Op::Assess(Box::new(assessment)));
        Box::pin(async move {
            match answer.await? {
                Answer::Count(n) => Ok(n),
                other => Err(unexpected(other)),
            }
        })
    }

    fn assessment(
        &self,
        host_id: String,
    ) -> StoreFuture<'_, Option<(AssessmentRecord, Vec<CheckStatusRecord>)>> {
        Box::pin(async move {
            let client = self.client().await?;
            // One statement, so the assessment and its statuses come from one snapshot.
            let stmt = client
                .prepare_cached(
                    "SELECT a.host_id, a.assessed_at, a.profile, a.score, a.band, a.detail_json,
                        a.carbon_json, NULL::text AS view_json, s.check_ids, s.statuses,
                        s.sinces
                     FROM assessments a CROSS JOIN LATERAL (
                        SELECT array_agg(c.check_id ORDER BY c.check_id) AS check_ids,
                            array_agg(c.status ORDER BY c.check_id) AS statuses,
                            array_agg(c.since ORDER BY c.check_id) AS sinces
                        FROM check_status c WHERE c.host_id = a.host_id) s
                     WHERE a.host_id = $1",
                )
                .await
                .map_err(db)?;
            let Some(row) = client.query_opt(&stmt, &[&host_id]).await.map_err(db)? else {
                return Ok(None);
            };
            let record = assessment_row(&row).map_err(db)?;
            let sinces: Option<Vec<DateTime<Utc>>> = row.try_get("sinces").map_err(db)?;
            let statuses = record
                .statuses
                .iter()
                .zip(sinces.unwrap_or_default())
                .map(|((check_id, status), since)| CheckStatusRecord {
                    check_id: check_id.clone(),
                    status: status.clone(),
                    since,
                })
                .collect();
            Ok(Some((record, statuses)))
        })
    }

    fn assessments(&self) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT a.host_id, a.assessed_at, a.profile, a.score, a.band,
                        '' AS detail_json, NULL::text AS carbon_json, NULL::text AS view_json,
                        s.check_ids, s.statuses
                     FROM assessments a LEFT JOIN (
                        SELECT host_id, array_agg(check_id ORDER BY check_id) AS check_ids,
                            array_agg(status ORDER BY check_id) AS statuses
                        FROM check_status GROUP BY host_id) s ON s.host_id = a.host_id
                     ORDER BY a.host_id",
                )
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[]).await.map_err(db)?;
            rows.iter()
                .map(assessment_row)
                .collect::<Result<_, _>>()
                .map_err(db)
        })
    }

    fn assessment_details(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            // The CASE detoasts `detail_json` only for a host without a view.
            const SELECT: &str = "SELECT a.host_id, a.assessed_at, a.profile, a.score, a.band,
                    CASE WHEN v.view_json IS NULL THEN a.detail_json ELSE '' END
                        AS detail_json,
                    NULL::text AS carbon_json, v.view_json, NULL::text[] AS check_ids,
                    NULL::text[] AS statuses
                 FROM assessments a LEFT JOIN report_views v ON v.host_id = a.host_id";
            let rows = page_rows(&client, SELECT, after.as_deref(), limit).await?;
            rows.iter()
                .map(assessment_row)
                .collect::<Result<_, _>>()
                .map_err(db)
        })
    }

    fn assessment_page(
        &self,
        after: Option<String>,
        limit: u32,
    ) -> StoreFuture<'_, Vec<AssessmentRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            // The statuses of the page's hosts only (LATERAL, evaluated for the rows the
            // LIMIT keeps).
            const SELECT: &str = "SELECT a.host_id, a.assessed_at, a.profile, a.score, a.band,
                    '' AS detail_json, a.carbon_json, NULL::text AS view_json,
                    s.check_ids, s.statuses
                 FROM assessments a LEFT JOIN LATERAL (
                    SELECT array_agg(check_id ORDER BY check_id) AS check_ids,
                        array_agg(status ORDER BY check_id) AS statuses
                    FROM check_status c WHERE c.host_id = a.host_id) s ON TRUE";
            let rows = page_rows(&client, SELECT, after.as_deref(), limit).await?;
            rows.iter()
                .map(assessment_row)
                .collect::<Result<_, _>>()
                .map_err(db)
        })
    }

    fn carbon_estimates(&self) -> StoreFuture<'_, Vec<CarbonRecord>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT host_id, assessed_at, carbon_json FROM assessments
                     WHERE carbon_json IS NOT NULL ORDER BY host_id",
                )
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[]).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(CarbonRecord {
                        host_id: r.try_get(0)?,
                        assessed_at: r.try_get(1)?,
                        carbon_json: r.try_get(2)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(db)
        })
    }

    fn host_energy(&self) -> StoreFuture<'_, Vec<HostEnergy>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached("SELECT host_id, energy_joules_total FROM hosts ORDER BY host_id")
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[]).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(HostEnergy {
                        host_id: r.try_get(0)?,
                        energy_joules_total: r.try_get(1)?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(db)
        })
    }

    fn check_transitions(
        &self,
        host_id: String,
        since: DateTime<Utc>,
    ) -> StoreFuture<'_, Vec<CheckTransition>> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT host_id, check_id, from_status, to_status, at FROM check_transitions
                     WHERE host_id = $1 AND at >= $2 ORDER BY at, id",
                )
                .await
                .map_err(db)?;
            let rows = client.query(&stmt, &[&host_id, &since]).await.map_err(db)?;
            rows.iter()
                .map(|r| {
                    Ok(CheckTransition {
                        host_id: r.try_get("host_id")?,
                        check_id: r.try_get("check_id")?,
                        from: r.try_get("from_status")?,
                        to: r.try_get("to_status")?,
                        at: r.try_get("at")?,
                    })
                })
                .collect::<Result<_, tokio_postgres::Error>>()
                .map_err(db)
        })
    }

    fn prune_raw_reports(&self, cutoff: DateTime<Utc>) -> StoreFuture<'_, u64> {
        let answer = self.write(Op::Prune(cutoff));
        Box::pin(async move {
            match answer.await? {
                Answer::Count(n) => Ok(n),
                other => Err(unexpected(other)),
            }
        })
    }

    fn host_states(&self, stale_before: DateTime<Utc>) -> StoreFuture<'_, HostStates> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT count(*) FILTER (WHERE last_seen >= $1),
                        count(*) FILTER (WHERE last_seen < $1)
                     FROM hosts",
                )
                .await
                .map_err(db)?;
            let row = client
                .query_one(&stmt, &[&stale_before])
                .await
                .map_err(db)?;
            Ok(HostStates {
                reporting: count(row.try_get(0).map_err(db)?),
                stale: count(row.try_get(1).map_err(db)?),
            })
        })
    }

    fn counts(&self) -> StoreFuture<'_, Counts> {
        Box::pin(async move {
            let client = self.client().await?;
            let stmt = client
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM hosts), (SELECT count(*) FROM raw_reports),
                        (SELECT count(*) FROM series), (SELECT count(*) FROM agent_tokens)",
                )
                .await
                .map_err(db)?;
            let row = client.query_one(&stmt, &[]).await.map_err(db)?;
            let n = |i: usize| row.try_get::<_, i64>(i).map(count).map_err(db);
            Ok(Counts {
                hosts: n(0)?,
                raw_reports: n(1)?,
                series: n(2)?,
                tokens: n(3)?,
            })
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let check = async {
                let client = self.client().await?;
                client.simple_query("SELECT 1").await.map_err(db)?;
                Ok(())
            };
            // A pooled connection to a host that vanished can hang until TCP gives up.
            let timeouts = self.pool.timeouts();
            let limit = timeouts.wait.unwrap_or(DEFAULT_POOL_WAIT_TIMEOUT)
                + timeouts.create.unwrap_or(DEFAULT_CONNECT_TIMEOUT);
            tokio::time::timeout(limit, check)
                .await
                .map_err(|_| StoreError::Database("PostgreSQL did not answer in time".to_owned()))?
        })
    }

    fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }
}
