//! The PostgreSQL schema, as versioned migrations. Every pending migration is applied in
//! one transaction that first takes a transaction-level advisory lock, so collectors
//! starting together against one database apply each migration exactly once.
//!
//! This module owns the DDL; it must not hold data access.

use tokio_postgres::{Config, NoTls};

use crate::store::StoreError;

/// The advisory lock that serialises migrations (two-key form, so it can never collide
/// with the single-key locks the writers take per host).
const MIGRATION_LOCK: (i32, i32) = (0x0E57_A7E0, 1);

/// Versioned schema migrations, applied in order, each once. Host ids use the `C`
/// collation so that "by id" means by bytes, as in SQLite, whatever the database's locale.
pub(super) const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        r#"CREATE TABLE hosts (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        hostname TEXT NOT NULL,
        labels JSONB NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        reported_inventory_hash TEXT NOT NULL,
        inventory_json TEXT,
        inventory_hash TEXT,
        inventory_collected_at TIMESTAMPTZ,
        os_family TEXT,
        os_id TEXT,
        os_name TEXT,
        os_version TEXT,
        machine_kind TEXT,
        chassis TEXT
    );
    CREATE INDEX hosts_last_seen ON hosts (last_seen);
    CREATE INDEX hosts_labels ON hosts USING GIN (labels jsonb_path_ops);
    CREATE TABLE series (
        report_id UUID PRIMARY KEY,
        host_id TEXT COLLATE "C" NOT NULL,
        collected_at TIMESTAMPTZ NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        window_start TIMESTAMPTZ NOT NULL,
        window_end TIMESTAMPTZ NOT NULL,
        cpu_mean_ratio DOUBLE PRECISION,
        cpu_p95_ratio DOUBLE PRECISION,
        memory_mean_ratio DOUBLE PRECISION,
        memory_p95_ratio DOUBLE PRECISION,
        power_watts DOUBLE PRECISION,
        energy_joules DOUBLE PRECISION,
        power_source TEXT NOT NULL
    );
    CREATE INDEX series_host_window ON series (host_id, window_end);
    CREATE INDEX series_host_collected ON series (host_id, collected_at);
    CREATE TABLE raw_reports (
        report_id UUID PRIMARY KEY,
        host_id TEXT COLLATE "C" NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX raw_reports_received ON raw_reports (received_at);
    CREATE TABLE agent_tokens (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        hostname TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        issued_at TIMESTAMPTZ NOT NULL,
        revoked_at TIMESTAMPTZ
    );"#,
    ),
    (
        2,
        r#"CREATE TABLE assessments (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        assessed_at TIMESTAMPTZ NOT NULL,
        profile TEXT NOT NULL,
        score DOUBLE PRECISION,
        band TEXT,
        detail_json TEXT NOT NULL
    );
    CREATE TABLE check_status (
        host_id TEXT COLLATE "C" NOT NULL,
        check_id TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        since TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (host_id, check_id)
    );
    CREATE TABLE check_transitions (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        host_id TEXT COLLATE "C" NOT NULL,
        check_id TEXT COLLATE "C" NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL
    );
    CREATE INDEX check_transitions_host_at ON check_transitions (host_id, at, id);"#,
    ),
    (
        3,
        r#"ALTER TABLE assessments ADD COLUMN carbon_json TEXT;
    ALTER TABLE hosts ADD COLUMN energy_joules_total DOUBLE PRECISION NOT NULL DEFAULT 0;
    UPDATE hosts h SET energy_joules_total = s.total
    FROM (SELECT host_id, SUM(GREATEST(energy_joules, 0)) AS total FROM series
          WHERE energy_joules IS NOT NULL GROUP BY host_id) s
    WHERE s.host_id = h.host_id;"#,
    ),
    (
        4,
        // The report's compact view of each assessment (as in SQLite's migration 5).
        r#"CREATE TABLE report_views (
        host_id TEXT COLLATE "C" PRIMARY KEY,
        view_json TEXT NOT NULL
    );"#,
    ),
];

/// Connects once (outside the pool) and applies the pending migrations.
pub(super) async fn run(config: &Config) -> Result<(), StoreError> {
    let (mut client, connection) = config.connect(NoTls).await.map_err(|e| {
        StoreError::Database(format!(
            "cannot connect to PostgreSQL: {}",
            super::describe(&e)
        ))
    })?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "migration connection ended");
        }
    });
    let result = apply(&mut client).await;
    drop(client);
    let _ = driver.await;
    result
}

async fn apply(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    let setup = |e: tokio_postgres::Error| StoreError::Migration {
        version: 0,
        message: super::describe(&e),
    };
    let tx = client.transaction().await.map_err(setup)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1],
    )
    .await
    .map_err(setup)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .await
    .map_err(setup)?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .and_then(|row| row.try_get(0))
        .map_err(setup)?;
    if current > newest {
        return Err(StoreError::Migration {
            version: current,
            message: format!(
                "the database is at schema version {current}, newer than this build knows ({newest})"
            ),
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let fail = |e: tokio_postgres::Error| StoreError::Migration {
            version: *version,
            message: super::describe(&e),
        };
        tx.batch_execute(sql).await.map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )
        .await
        .map_err(fail)?;
        tracing::info!(version, "PostgreSQL migration applied");
    }
    tx.commit().await.map_err(|e| StoreError::Migration {
        version: newest,
        message: super::describe(&e),
    })
}
