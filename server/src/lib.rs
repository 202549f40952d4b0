//! Estate's collector (`estate-server`): the ingest API, enrolment, the store and the
//! read API.
//!
//! This file builds the app from a validated [`config::ServerConfig`] so that `main.rs`
//! only parses arguments, and tests can start a whole collector in-process on
//! `127.0.0.1:0` with a temporary database ([`start`]).
#![deny(missing_docs)]

pub mod assess;
pub mod auth;
pub mod carbon;
pub mod checks;
pub mod cli;
pub mod config;
pub mod estate;
pub mod facts;
pub mod http;
pub mod import;
pub mod index;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod query;
pub mod quickstart;
pub mod ratelimit;
pub mod report;
pub mod serve;
pub mod store;
pub mod tls;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Backend, ServerConfig};
use crate::http::AppState;
use crate::store::{PostgresOptions, PostgresStore, SqliteStore, Store, StoreError};

/// How often raw-report retention runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

/// Why the collector could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened.
    #[error("cannot open the store at {path}: {source}")]
    Store {
        /// The database.
        path: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The PostgreSQL store could not be opened (the URL is not repeated: it may hold a
    /// password).
    #[error("cannot open the PostgreSQL store")]
    Postgres(#[source] StoreError),
    /// A token file could not be used.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The checks, profiles, waivers or carbon data could not be loaded.
    #[error("the assessment config is not valid:\n{0}")]
    Assess(#[source] assess::AssessError),
    /// The metrics could not be set up.
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    /// The `[tls]` certificate, key or client CA could not be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Opens the configured store, applying migrations. Must be called within a tokio
/// runtime (the PostgreSQL store runs its writers on it); it blocks while migrations run.
pub fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, AppError> {
    match &config.storage.backend {
        Backend::Sqlite(path) => {
            let store = SqliteStore::open(
                path,
                config.storage.write_queue_capacity,
                config.storage.write_batch_max,
            )
            .map_err(|source| AppError::Store {
                path: path.clone(),
                source,
            })?;
            Ok(Arc::new(store))
        }
        Backend::Postgres(url) => {
            let options = PostgresOptions {
                write_queue_capacity: config.storage.write_queue_capacity,
                write_batch_max: config.storage.write_batch_max,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::open_blocking(url, options).map_err(AppError::Postgres)?;
            Ok(Arc::new(store))
        }
    }
}

/// Builds the handlers' state: the store and the tokens read from their files.
pub fn build_state(config: &ServerConfig, store: Arc<dyn Store>) -> Result<AppState, AppError> {
    let read = |path: &Option<PathBuf>| -> Result<Option<Arc<str>>, AppError> {
        Ok(match path {
            Some(p) => Some(Arc::from(auth::read_token_file(p)?)),
            None => None,
        })
    };
    let metrics = metrics::Metrics::new()?;
    let observer = metrics.clone();
    let store: Arc<dyn Store> = Arc::new(store::timed::TimedStore::new(
        store,
        Arc::new(move |operation, elapsed| observer.observe_store(operation, elapsed)),
    ));
    // With per-host series off, the estate gauges are added up from the estate index
    // (kept up to date by the store's writes, rebuilt from the store now and every
    // `resync_secs`); with them on, every scrape reads the store as the series need.
    let index = (config.metrics.enabled && !config.metrics.per_host)
        .then(|| index::EstateIndex::start(config.metrics.resync));
    let store: Arc<dyn Store> = match &index {
        Some(index) => {
            let indexed: Arc<dyn Store> = Arc::new(index::IndexedStore::new(store, index.clone()));
            let (index, reader) = (index.clone(), Arc::clone(&indexed));
            tokio::spawn(async move {
                if let Err(e) = index.rebuild(&*reader, true).await {
                    tracing::warn!(error = %e, "cannot build the estate index; the next scrape tries again");
                }
            });
            indexed
        }
        None => store,
    };
    let assessor = pipeline::SharedAssessor::new(
        assess::Assessor::load(&config.assess).map_err(AppError::Assess)?,
    );
    let assess_queue = pipeline::start(Arc::clone(&store), assessor.clone());
    let reloader = Reloader {
        store: Arc::clone(&store),
        assessor: assessor.clone(),
        queue: assess_queue.clone(),
        config: Arc::new(config.assess.clone()),
    };
    Ok(AppState {
        assessor,
        assess_queue,
        reloader,
        store,
        enrolment_token: read(&config.auth.enrolment_token_file)?,
        read_token: read(&config.auth.read_token_file)?,
        admin_token: read(&config.admin_token_file)?,
        tokens: Arc::default(),
        body_limit_bytes: config.body_limit_bytes,
        max_clock_skew: config.max_clock_skew,
        client_timeout: config.client_timeout,
        metrics,
        metrics_enabled: config.metrics.enabled,
        metrics_per_host: config.metrics.per_host,
        metrics_refresh: config.metrics.refresh,
        index,
        stale_after: config.stale_after,
        rate_limiter: config
            .max_reports_per_host_per_minute
            .map(|n| Arc::new(ratelimit::RateLimiter::new(n))),
        web: web::WebState::new(
            config.reports.as_ref().map(|r| r.dir.clone()),
            config.metrics.refresh,
        ),
    })
}

/// A running collector.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    store: Arc<dyn Store>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), std::io::Error>>,
    retention: JoinHandle<()>,
    reassess: JoinHandle<()>,
    reloader: Reloader,
    /// HTTPS, when `[tls]` is configured.
    tls: Option<tls::Tls>,
    /// Reloads the TLS certificate on SIGHUP.
    tls_reload: Option<JoinHandle<()>>,
    /// The report schedule; dropping it stops it.
    #[allow(dead_code)]
    reports: Option<report::schedule::ScheduleHandle>,
}

/// Opens the store, binds `config.listen` and serves until [`Server::shutdown`]: HTTPS
/// when `[tls]` is configured (its files are read first: a bad certificate or key refuses
/// the start), plain HTTP otherwise.
pub async fn start(config: &ServerConfig) -> Result<Server, AppError> {
    let tls = config.tls.as_ref().map(tls::Tls::load).transpose()?;
    let store = open_store(config)?;
    let state = build_state(config, Arc::clone(&store))?;
    if let Some(tls) = &tls {
        tls.record_in(state.metrics.clone());
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| AppError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Bind {
        addr: config.listen,
        source,
    })?;
    let (stop, stopped) = oneshot::channel::<()>();
    let reloader = state.reloader.clone();
    // Scheduled reports (`[reports]`), stopped when the server is.
    let reports = config
        .reports
        .clone()
        .map(|r| report::schedule::spawn(r, Arc::clone(&state.store), state.assessor.clone()));
    let app = http::router(state);
    // Either a stop request or the Server being dropped ends serving.
    let stopped = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(serve::serve(
        listener,
        app,
        tls.clone(),
        config.client_timeout,
        stopped,
    ));
    let tls_reload = tls.as_ref().and_then(tls::Tls::reload_on_sighup);
    let retention = tokio::spawn(retention_loop(
        Arc::clone(&store),
        config.retention.raw_reports,
    ));
    // Re-score the estate with the config just loaded (it may have changed while the
    // collector was down), then again on every SIGHUP.
    let background = reloader.clone();
    let reassess = tokio::spawn(async move {
        if let Err(e) = background
            .queue
            .enqueue_all(background.store.as_ref())
            .await
        {
            tracing::warn!(error = %e, "could not queue the estate for re-assessment");
        }
        background.on_sighup().await;
    });
    match &tls {
        Some(tls) => tracing::info!(
            %addr,
            scheme = "https",
            client_auth = tls.client_auth(),
            "collector listening"
        ),
        None => tracing::info!(%addr, scheme = "http", "collector listening"),
    }
    Ok(Server {
        addr,
        store,
        stop,
        task,
        retention,
        reassess,
        reloader,
        tls,
        tls_reload,
        reports,
    })
}

/// Reloads the assessment config and re-scores the estate: what SIGHUP,
/// `POST /api/v1/admin/reload` and [`Server::reload`] do.
#[derive(Debug, Clone)]
pub struct Reloader {
    store: Arc<dyn Store>,
    assessor: pipeline::SharedAssessor,
    queue: pipeline::AssessQueue,
    /// Shared, not copied: the handlers' state (which holds the reloader) is cloned for
    /// every request.
    config: Arc<assess::AssessConfig>,
}

impl Reloader {
    /// Loads the checks, profiles, waivers and data again; on success swaps them in and
    /// queues every host (each is re-scored and re-estimated, its stored carbon estimate
    /// rewritten); returns how many. On failure ([`AppError::Assess`], every problem
    /// located) the config in use stays.
    pub async fn reload(&self) -> Result<usize, AppError> {
        let config = Arc::clone(&self.config);
        let loaded = tokio::task::spawn_blocking(move || assess::Assessor::load(&config))
            .await
            .map_err(|e| AppError::Serve(std::io::Error::other(e)))?
            .map_err(AppError::Assess)?;
        self.assessor.replace(loaded);
        let queued = self
            .queue
            .enqueue_all(self.store.as_ref())
            .await
            .map_err(|e| AppError::Serve(std::io::Error::other(e)))?;
        tracing::info!(
            hosts = queued,
            "assessment config reloaded; estate queued for re-assessment"
        );
        Ok(queued)
    }

    #[cfg(unix)]
    async fn on_sighup(&self) {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload by restarting");
            return;
        };
        while hup.recv().await.is_some() {
            if let Err(e) = self.reload().await {
                tracing::error!(error = %e, "reload failed; the previous config stays in use");
            }
        }
    }

    #[cfg(not(unix))]
    async fn on_sighup(&self) {}
}

async fn retention_loop(store: Arc<dyn Store>, keep: Duration) {
    let mut tick = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        tick.tick().await;
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(keep).unwrap_or_default();
        match store.prune_raw_reports(cutoff).await {
            Ok(n) => tracing::info!(deleted = n, "raw report retention ran"),
            Err(e) => tracing::warn!(error = %e, "raw report retention failed"),
        }
    }
}

impl Server {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Reloads the check catalogue, profiles, waivers and data tables (what SIGHUP does)
    /// and queues every host for re-assessment; returns how many. On an invalid config
    /// the one in use stays and the error says why.
    pub async fn reload(&self) -> Result<usize, AppError> {
        self.reloader.reload().await
    }

    /// HTTPS, when `[tls]` is configured: what it serves, and [`tls::Tls::reload`] (what
    /// SIGHUP does for the certificate).
    pub fn tls(&self) -> Option<&tls::Tls> {
        self.tls.as_ref()
    }

    /// The store the server writes to.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store)
    }

    /// Stops accepting, finishes requests in flight and returns.
    pub async fn shutdown(self) -> Result<(), AppError> {
        let _ = self.stop.send(());
        self.retention.abort();
        self.reassess.abort();
        if let Some(reload) = &self.tls_reload {
            reload.abort();
        }
        match self.task.await {
            Ok(result) => result.map_err(AppError::Serve),
            Err(e) => Err(AppError::Serve(std::io::Error::other(e))),
        }
    }
}
