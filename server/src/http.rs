//! The HTTP API: routes, shared state, and the mapping of domain errors to statuses and
//! JSON error bodies (`{error_code, message}`).
//!
//! Handlers extract, call the domain ([`crate::ingest`], [`crate::auth`], the
//! [`Store`]) and map errors; they compute nothing. Internal detail goes to the log, not
//! to the client.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use estate_protocol::{
    ApiError, ENROL_PATH, EnrolRequest, EnrolResponse, IngestResponse, REPORTS_PATH,
};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;

use crate::auth;
use crate::ingest::{self, IngestError, MAX_HOST_ID_BYTES, MAX_HOSTNAME_BYTES};
use crate::metrics::{self, Metrics};
use crate::pipeline::{AssessQueue, SharedAssessor};
use crate::query::{self, QueryError};
use crate::ratelimit::RateLimiter;
use crate::store::{IngestOutcome, Store, StoreError};

/// Largest enrolment request body.
pub const ENROL_BODY_LIMIT_BYTES: u64 = 64 * 1024;
/// Seconds a client is asked to wait when the writer queue is full.
pub const RETRY_AFTER_BUSY_SECS: u64 = 1;
/// Seconds a client is asked to wait when the store is unavailable.
pub const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;
/// Seconds a client is asked to wait when the storage is full (space comes back when
/// someone frees it: no point in asking sooner).
pub const RETRY_AFTER_FULL_SECS: u64 = 30;

/// Reports decoding to at most this many bytes are parsed on the async worker (a
/// regular report is 2–5 KiB of JSON); larger ones in the blocking pool.
pub const INLINE_DECODED_BYTES: u64 = 64 * 1024;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The enrolment token; enrolment is off when `None`.
    pub enrolment_token: Option<Arc<str>>,
    /// The read API's token; the read API is open when `None`.
    pub read_token: Option<Arc<str>>,
    /// Largest body, and largest decompressed report.
    pub body_limit_bytes: u64,
    /// How far in the future `collected_at` may be.
    pub max_clock_skew: Duration,
    /// Longest a client may take to send a request body (`408` past it).
    pub client_timeout: Duration,
    /// The collector's metrics (recorded always, served when `metrics_enabled`).
    pub metrics: Metrics,
    /// Whether `/metrics` is served.
    pub metrics_enabled: bool,
    /// Whether `/metrics` carries per-host series.
    pub metrics_per_host: bool,
    /// How long a computed estate view serves scrapes before it is recomputed.
    pub metrics_refresh: Duration,
    /// The estate index the gauges are added up from (`None` with per-host series on,
    /// or without `/metrics`: scrapes then recompute from the store).
    pub index: Option<crate::index::EstateIndex>,
    /// A host silent for longer than this is stale.
    pub stale_after: Duration,
    /// The per-host ingest limit, when on.
    pub rate_limiter: Option<Arc<RateLimiter>>,
    /// The checks, scoring and carbon config in use (swapped on reload).
    pub assessor: SharedAssessor,
    /// Hosts waiting to be re-assessed.
    pub assess_queue: AssessQueue,
    /// Reloads the assessment config (`POST /api/v1/admin/reload`, as SIGHUP).
    pub reloader: crate::Reloader,
    /// The admin token; the admin API answers `404` when `None`.
    pub admin_token: Option<Arc<str>>,
    /// Agent tokens the store confirmed recently (`auth::TOKEN_CACHE_TTL`).
    pub tokens: Arc<auth::TokenCache>,
    /// The web page's reports directory and shared estate view ([`crate::web`]).
    pub web: crate::web::WebState,
}

/// The OpenAPI 3.1 document of this API, served at [`OPENAPI_PATH`].
pub const OPENAPI_JSON: &str = include_str!("openapi.json");
/// Where the OpenAPI document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// Every route of the API as (method, path template), for the OpenAPI test: the
/// document and this list must name the same operations.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", OPENAPI_PATH),
    ("post", ENROL_PATH),
    ("post", REPORTS_PATH),
    ("get", "/api/v1/hosts"),
    ("get", "/api/v1/hosts/{host_id}"),
    ("get", "/api/v1/hosts/{host_id}/history"),
    ("get", "/api/v1/estate/summary"),
    ("get", "/api/v1/hosts/{host_id}/checks"),
    ("get", "/api/v1/checks"),
    ("get", "/api/v1/estate/score"),
    ("get", "/api/v1/hosts/{host_id}/carbon"),
    ("get", "/api/v1/carbon"),
    ("get", "/api/v1/carbon/candidates"),
    ("post", "/api/v1/admin/reload"),
    ("post", "/api/v1/admin/import"),
];

/// The router of the whole API, and the web page's `/` and `/ui` routes
/// ([`crate::web::router`]; pages, not API: they are not in [`ROUTES`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::web::router(state.clone()))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route(ENROL_PATH, post(enrol))
        .route(REPORTS_PATH, post(ingest_report))
        .route("/api/v1/hosts", get(list_hosts))
        .route("/api/v1/hosts/{host_id}", get(get_host))
        .route("/api/v1/hosts/{host_id}/history", get(host_history))
        .route("/api/v1/estate/summary", get(estate_summary))
        .route("/api/v1/hosts/{host_id}/checks", get(host_checks))
        .route("/api/v1/checks", get(list_checks))
        .route("/api/v1/estate/score", get(estate_score))
        .route("/api/v1/hosts/{host_id}/carbon", get(host_carbon))
        .route("/api/v1/carbon", get(estate_carbon))
        .route("/api/v1/carbon/candidates", get(carbon_candidates))
        .route("/api/v1/admin/reload", post(admin_reload))
        .route("/api/v1/admin/import", post(admin_import))
        .route(OPENAPI_PATH, get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// An error answer: status, stable code, message, and an optional `Retry-After`.
#[derive(Debug)]
pub struct HttpError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
}

impl HttpError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    fn unauthenticated(message: &str) -> Self {
        HttpError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = ApiError {
            error_code: self.code.to_owned(),
            message: self.message,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<IngestError> for HttpError {
    fn from(err: IngestError) -> Self {
        let status = match &err {
            IngestError::UnsupportedMediaType(_) | IngestError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            IngestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BadGzip(_) | IngestError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            IngestError::SchemaVersion(_)
            | IngestError::InvalidReport(_)
            | IngestError::TimestampOutOfRange(_)
            | IngestError::InventoryHashMismatch(_)
            | IngestError::FieldTooLarge(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        HttpError::new(status, err.code(), err.to_string())
    }
}

impl From<QueryError> for HttpError {
    fn from(err: QueryError) -> Self {
        HttpError::new(StatusCode::BAD_REQUEST, "invalid_query", err.to_string())
    }
}

impl From<StoreError> for HttpError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Busy => HttpError {
                retry_after_secs: Some(RETRY_AFTER_BUSY_SECS),
                ..HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "the collector is busy; retry later",
                )
            },
            StoreError::Full(message) => {
                tracing::error!(error = %message, "store failed: the storage is full");
                HttpError {
                    retry_after_secs: Some(RETRY_AFTER_FULL_SECS),
                    ..HttpError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "storage_full",
                        "the collector's storage is full; nothing was stored; retry later",
                    )
                }
            }
            other => {
                tracing::error!(error = %other, "store failed");
                HttpError {
                    retry_after_secs: Some(RETRY_AFTER_UNAVAILABLE_SECS),
                    ..HttpError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store_unavailable",
                        "the store is unavailable; retry later",
                    )
                }
            }
        }
    }
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads a body of at most `limit` bytes (413 past it, without reading further) within
/// `timeout` (408 past it: a client trickling a body cannot hold the connection).
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, HttpError> {
    let too_large = || HttpError::from(IngestError::PayloadTooLarge { limit });
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let limited = Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    let Ok(collected) = tokio::time::timeout(timeout, limited.collect()).await else {
        return Err(HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s",
                timeout.as_secs_f64()
            ),
        ));
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(err) => Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("could not read the body: {err}"),
        )),
    }
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// Ready when the store answers (and, after a write failed for want of space, when a
/// write succeeds again); else `503` with the store's error code (`store_unavailable`,
/// `storage_full`) saying why.
async fn readyz(State(state): State<AppState>) -> Result<impl IntoResponse, HttpError> {
    state.store.ping().await?;
    Ok(axum::Json(serde_json::json!({"status": "ready"})))
}

async fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> HttpError {
    HttpError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, HttpError> {
    let Some(expected) = &state.enrolment_token else {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "enrolment is not enabled on this collector",
        ));
    };
    let presented = auth::bearer(header_str(&headers, header::AUTHORIZATION))
        .ok_or_else(|| HttpError::unauthenticated("an enrolment token is required"))?;
    if !auth::same_secret(presented, expected) {
        return Err(HttpError::unauthenticated(
            "the enrolment token is not valid",
        ));
    }
    ingest::check_content_type(header_str(&headers, header::CONTENT_TYPE))?;
    let bytes = read_body(&headers, body, ENROL_BODY_LIMIT_BYTES, state.client_timeout).await?;
    // An encoding is decoded (gzip) or refused (415), never ignored.
    let bytes = ingest::decode_body(
        bytes.to_vec(),
        header_str(&headers, header::CONTENT_ENCODING),
        ENROL_BODY_LIMIT_BYTES,
    )?;
    let request: EnrolRequest = serde_json::from_slice(&bytes).map_err(|e| {
        if e.is_data() {
            HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            )
        } else {
            IngestError::MalformedJson(e.to_string()).into()
        }
    })?;
    let host_id = request.host_id.trim().to_owned();
    if host_id.is_empty() || host_id.len() > MAX_HOST_ID_BYTES {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("host_id must be 1 to {MAX_HOST_ID_BYTES} bytes"),
        ));
    }
    // PostgreSQL text cannot hold NUL; refuse it in every backend alike (as ingest does).
    if host_id.contains('\0') || request.hostname.contains('\0') {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "host_id and hostname must not contain a NUL character",
        ));
    }
    if request.hostname.len() > MAX_HOSTNAME_BYTES {
        return Err(IngestError::FieldTooLarge(format!(
            "hostname is longer than {MAX_HOSTNAME_BYTES} bytes"
        ))
        .into());
    }
    let token = auth::new_token().map_err(|e| {
        tracing::error!(error = %e, "cannot generate a token");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cannot generate a token",
        )
    })?;
    state
        .store
        .enrol(host_id.clone(), request.hostname, auth::hash_token(&token))
        .await?;
    tracing::info!(host = %host_id, "host enrolled");
    Ok(axum::Json(EnrolResponse {
        host_id,
        agent_token: token,
    }))
}

async fn ingest_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, HttpError> {
    let started = std::time::Instant::now();
    let mut host = None;
    let result = ingest_checked(&state, &headers, body, &mut host).await;
    let outcome = match &result {
        Ok(ack) if ack.duplicate => "duplicate",
        Ok(_) => "stored",
        Err(err) => err.code,
    };
    if let Err(err) = &result {
        // One event per failed report, whatever the reason, with its error code.
        tracing::warn!(
            host = host.as_deref().unwrap_or("-"),
            error_code = err.code,
            status = err.status.as_u16(),
            error = %err.message,
            "report rejected"
        );
    }
    state.metrics.observe_ingest(outcome, started.elapsed());
    result.map(axum::Json)
}

async fn ingest_checked(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    host: &mut Option<Arc<str>>,
) -> Result<IngestResponse, HttpError> {
    let token = auth::bearer(header_str(headers, header::AUTHORIZATION))
        .ok_or_else(|| HttpError::unauthenticated("an agent token is required"))?;
    let token_hash = auth::hash_token(token);
    let now = std::time::Instant::now();
    let token_host = match state.tokens.get(&token_hash, now) {
        Some(host) => host,
        None => {
            let host: Arc<str> = state
                .store
                .token_host(token_hash.clone())
                .await?
                .ok_or_else(|| HttpError::unauthenticated("the agent token is not valid"))?
                .into();
            state.tokens.insert(token_hash, Arc::clone(&host), now);
            host
        }
    };
    *host = Some(Arc::clone(&token_host));
    if let Some(limiter) = &state.rate_limiter
        && let Err(wait) = limiter.check(&token_host, std::time::Instant::now())
    {
        return Err(HttpError {
            retry_after_secs: Some(wait.as_secs().max(1)),
            ..HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this host sends reports faster than the collector's per-host limit; retry later",
            )
        });
    }
    async {
        ingest::check_content_type(header_str(headers, header::CONTENT_TYPE))?;
        let limit = state.body_limit_bytes;
        let bytes = read_body(headers, body, limit, state.client_timeout).await?;
        let encoding = header_str(headers, header::CONTENT_ENCODING).map(str::to_owned);
        // A regular report (a few KiB) is decoded and parsed right here: tens of
        // microseconds, less than the hop to the blocking pool. Anything that decodes to
        // more than INLINE_DECODED_BYTES (an inventory, or a gzip bomb) is CPU work up to
        // `limit` bytes: it goes to the blocking pool.
        let inline = ingest::decode_body(
            bytes.to_vec(),
            encoding.as_deref(),
            INLINE_DECODED_BYTES.min(limit),
        );
        let (decoded, report) = match inline {
            Ok(decoded) => {
                let report = ingest::parse_report(&decoded)?;
                (decoded, report)
            }
            Err(IngestError::PayloadTooLarge { .. }) if limit > INLINE_DECODED_BYTES => {
                tokio::task::spawn_blocking(move || {
                    let decoded = ingest::decode_body(bytes.to_vec(), encoding.as_deref(), limit)?;
                    let report = ingest::parse_report(&decoded)?;
                    Ok::<_, IngestError>((decoded, report))
                })
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "report parsing task failed");
                    HttpError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "the report could not be processed",
                    )
                })??
            }
            Err(e) => return Err(e.into()),
        };
        if *report.host_id != *token_host {
            return Err(HttpError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "this token belongs to another host",
            ));
        }
        let now = Utc::now();
        ingest::validate(&report, now, state.max_clock_skew)?;
        let raw =
            String::from_utf8(decoded).map_err(|e| IngestError::MalformedJson(e.to_string()))?;
        let new = ingest::to_new_report(&report, raw, now)?;
        let outcome = state.store.ingest(new).await?;
        if outcome == IngestOutcome::Stored {
            state.assess_queue.enqueue(&report.host_id);
        }
        Ok(IngestResponse {
            report_id: report.report_id,
            duplicate: outcome == IngestOutcome::Duplicate,
        })
    }
    .await
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, HttpError> {
    if !state.metrics_enabled {
        return Err(not_found().await);
    }
    // The estate's counts, and with per_host its host names and labels, are inventory:
    // behind the read token like the read API (Prometheus: `authorization:
    // credentials_file`).
    check_read_token(&state, &headers)?;
    {
        let mut refreshed = state.metrics.view_lock().lock().await;
        if refreshed.is_none_or(|at| at.elapsed() >= state.metrics_refresh) {
            let stale_before = metrics::stale_before(Utc::now(), state.stale_after);
            match &state.index {
                Some(index) => refresh_from_index(&state, index, stale_before).await?,
                None => refresh_from_store(&state, stale_before).await?,
            }
            *refreshed = Some(std::time::Instant::now());
        }
    }
    state.metrics.sync_transactions(state.store.transactions());
    let stats = &state.assess_queue.stats;
    state.metrics.sync_assessments(
        stats.assessed.load(std::sync::atomic::Ordering::Relaxed),
        stats.failed.load(std::sync::atomic::Ordering::Relaxed),
        state.assess_queue.waiting(),
    );
    let text = state.metrics.encode().map_err(|e| {
        tracing::error!(error = %e, "cannot encode metrics");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cannot encode metrics",
        )
    })?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// Sets the estate gauges from the estate index: the first scrape waits for the index to
/// be built, later ones start a rebuild in the background when `resync_secs` has passed.
async fn refresh_from_index(
    state: &AppState,
    index: &crate::index::EstateIndex,
    stale_before: chrono::DateTime<Utc>,
) -> Result<(), HttpError> {
    if !index.is_ready() {
        index.rebuild(&*state.store, true).await?;
    } else if index.due() {
        let (index, store) = (index.clone(), Arc::clone(&state.store));
        tokio::spawn(async move {
            if let Err(e) = index.rebuild(&*store, false).await {
                tracing::warn!(error = %e, "cannot rebuild the estate index; kept the one held");
            }
        });
    }
    let assessor = state.assessor.current();
    let Some(estate) = index.aggregate(Arc::clone(&assessor), stale_before).await else {
        return refresh_from_store(state, stale_before).await;
    };
    state.metrics.refresh_view(&estate.hosts, None);
    let waivers = assessor.checks().waivers.counts(Utc::now());
    state
        .metrics
        .refresh_checks(&estate.fleet, &estate.view, &[], waivers, false);
    state
        .metrics
        .refresh_carbon(&estate.carbon, &[], &[], false);
    Ok(())
}

/// Sets the estate gauges, and with per-host series those too, from the store.
async fn refresh_from_store(
    state: &AppState,
    stale_before: chrono::DateTime<Utc>,
) -> Result<(), HttpError> {
    let per_host = state.metrics_per_host;
    let hosts = state.store.hosts().await?;
    let counts = crate::index::HostCounts::of(&hosts, stale_before);
    state
        .metrics
        .refresh_view(&counts, per_host.then_some(hosts.as_slice()));
    let assessments = state.store.assessments().await?;
    let assessor = state.assessor.current();
    let fleet = crate::estate::fleet_checks(assessor.plan(), &assessments);
    let view = crate::estate::score_view(assessor.plan(), assessor.scoring(), &assessments, &hosts);
    let waivers = assessor.checks().waivers.counts(Utc::now());
    state
        .metrics
        .refresh_checks(&fleet, &view, &assessments, waivers, per_host);
    let (estimates, carbon) = carbon_estate(state).await?;
    let energy = if per_host {
        state.store.host_energy().await?
    } else {
        Vec::new()
    };
    state
        .metrics
        .refresh_carbon(&carbon, &estimates, &energy, per_host);
    Ok(())
}

async fn openapi() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI_JSON,
    )
}

fn check_read_token(state: &AppState, headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(expected) = &state.read_token else {
        return Ok(());
    };
    match auth::bearer(header_str(headers, header::AUTHORIZATION)) {
        Some(presented) if auth::same_secret(presented, expected) => Ok(()),
        Some(_) => Err(HttpError::unauthenticated("the read token is not valid")),
        None => Err(HttpError::unauthenticated("a read token is required")),
    }
}

async fn list_hosts(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let stale_before = metrics::stale_before(Utc::now(), state.stale_after);
    let query = query::host_query(raw.as_deref(), stale_before)?;
    let page = state.store.list_hosts(query).await?;
    Ok(axum::Json(page))
}

#[derive(Serialize)]
struct History {
    host_id: String,
    from: chrono::DateTime<Utc>,
    to: chrono::DateTime<Utc>,
    points: Vec<crate::store::SeriesPoint>,
}

async fn host_history(
    State(state): State<AppState>,
    Path(host_id): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let range = query::history_range(raw.as_deref(), Utc::now())?;
    if state.store.host(host_id.clone()).await?.is_none() {
        return Err(no_such_host(&host_id));
    }
    let points = state
        .store
        .series(host_id.clone(), range.from, range.to)
        .await?;
    Ok(axum::Json(History {
        host_id,
        from: range.from,
        to: range.to,
        points,
    }))
}

async fn estate_summary(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let stale_before = metrics::stale_before(Utc::now(), state.stale_after);
    let hosts = state.store.hosts().await?;
    Ok(axum::Json(query::summarise(&hosts, stale_before)))
}

/// How far back a host's check transitions go in its checks answer.
const TRANSITIONS_DAYS: i64 = 90;

async fn host_checks(
    State(state): State<AppState>,
    Path(host_id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    if state.store.host(host_id.clone()).await?.is_none() {
        return Err(no_such_host(&host_id));
    }
    let Some((record, statuses)) = state.store.assessment(host_id.clone()).await? else {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_assessed",
            format!("host `{host_id}` has not been assessed yet"),
        ));
    };
    let detail: serde_json::Value = serde_json::from_str(&record.detail_json).map_err(|e| {
        tracing::error!(host = %host_id, error = %e, "stored assessment unreadable");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the stored assessment is unreadable",
        )
    })?;
    let transitions = state
        .store
        .check_transitions(
            host_id.clone(),
            Utc::now() - chrono::Duration::days(TRANSITIONS_DAYS),
        )
        .await?;
    Ok(axum::Json(serde_json::json!({
        "host_id": host_id,
        "assessed_at": record.assessed_at,
        "profile": record.profile,
        "score": record.score,
        "band": record.band,
        "statuses": statuses,
        "results": detail.get("results"),
        "categories": detail.pointer("/score/categories"),
        "capped_by": detail.pointer("/score/capped_by"),
        "improvements": detail.get("improvements"),
        "transitions": transitions,
    })))
}

async fn list_checks(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let assessments = state.store.assessments().await?;
    let assessor = state.assessor.current();
    let checks = crate::estate::fleet_checks(assessor.plan(), &assessments);
    Ok(axum::Json(serde_json::json!({
        "profile": assessor.plan().profile(),
        "hosts_assessed": assessments.len(),
        "checks": checks,
    })))
}

async fn estate_score(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let assessments = state.store.assessments().await?;
    let hosts = state.store.hosts().await?;
    let assessor = state.assessor.current();
    Ok(axum::Json(crate::estate::score_view(
        assessor.plan(),
        assessor.scoring(),
        &assessments,
        &hosts,
    )))
}

fn no_such_host(host_id: &str) -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no host `{host_id}`"),
    )
}

async fn get_host(
    State(state): State<AppState>,
    Path(host_id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    match state.store.host(host_id.clone()).await? {
        Some(host) => Ok(axum::Json(host)),
        None => Err(no_such_host(&host_id)),
    }
}

/// Every stored estimate, read back off the async workers (a large estate is a lot of
/// JSON), and the estate's carbon totals over the configured scenarios.
async fn carbon_estate(
    state: &AppState,
) -> Result<(Vec<crate::carbon::HostEstimate>, crate::estate::CarbonView), HttpError> {
    let records = state.store.carbon_estimates().await?;
    let assessor = state.assessor.current();
    tokio::task::spawn_blocking(move || {
        let (estimates, unreadable) = crate::estate::read_estimates(&records);
        for (host, error) in &unreadable {
            tracing::warn!(host = %host, error = %error, "stored carbon estimate unreadable; left out");
        }
        let view = crate::estate::carbon_view(&estimates, assessor.estimator());
        (estimates, view)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "carbon aggregation task failed");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the carbon estimates could not be added up",
        )
    })
}

async fn host_carbon(
    State(state): State<AppState>,
    Path(host_id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    if state.store.host(host_id.clone()).await?.is_none() {
        return Err(no_such_host(&host_id));
    }
    let not_estimated = |why: &str| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            "not_assessed",
            format!("host `{host_id}` has no carbon estimate yet ({why})"),
        )
    };
    let Some((record, _)) = state.store.assessment(host_id.clone()).await? else {
        return Err(not_estimated("not assessed yet"));
    };
    let mut detail: serde_json::Value = serde_json::from_str(&record.detail_json).map_err(|e| {
        tracing::error!(host = %host_id, error = %e, "stored assessment unreadable");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the stored assessment is unreadable",
        )
    })?;
    let readiness = detail
        .get_mut("readiness")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    let Some(serde_json::Value::Object(carbon)) =
        detail.get_mut("carbon").map(serde_json::Value::take)
    else {
        return Err(not_estimated("no report to estimate from"));
    };
    let mut answer = serde_json::Map::new();
    answer.insert("host_id".to_owned(), serde_json::Value::from(host_id));
    answer.insert(
        "assessed_at".to_owned(),
        serde_json::Value::from(record.assessed_at.to_rfc3339()),
    );
    answer.insert("readiness".to_owned(), readiness);
    for (k, v) in carbon {
        if k != "host_id" {
            answer.insert(k, v);
        }
    }
    Ok(axum::Json(serde_json::Value::Object(answer)))
}

async fn estate_carbon(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let (_, view) = carbon_estate(&state).await?;
    Ok(axum::Json(view))
}

async fn carbon_candidates(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_read_token(&state, &headers)?;
    let assessor = state.assessor.current();
    let names: Vec<&str> = assessor.estimator().scenario_names().collect();
    let query = query::candidates_query(raw.as_deref(), &names)?;
    let records = state.store.carbon_estimates().await?;
    let list = tokio::task::spawn_blocking(move || {
        let (estimates, _) = crate::estate::read_estimates(&records);
        crate::estate::candidate_list(
            &estimates,
            assessor.estimator(),
            query.scenario.as_deref(),
            query.limit as usize,
        )
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "candidate ranking task failed");
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the candidates could not be ranked",
        )
    })?;
    Ok(axum::Json(list))
}

/// The admin token check: `404` when no admin token is configured (the admin API does
/// not exist), `401` without a valid one, `403` for the collector's other tokens (they
/// are valid, but not for this).
fn check_admin_token(state: &AppState, headers: &HeaderMap) -> Result<(), HttpError> {
    let Some(expected) = &state.admin_token else {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "the admin API is not enabled on this collector ([auth] admin_token_file)",
        ));
    };
    let Some(presented) = auth::bearer(header_str(headers, header::AUTHORIZATION)) else {
        return Err(HttpError::unauthenticated("an admin token is required"));
    };
    if auth::same_secret(presented, expected) {
        return Ok(());
    }
    let other = [&state.read_token, &state.enrolment_token]
        .into_iter()
        .flatten()
        .any(|t| auth::same_secret(presented, t));
    if other {
        Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token is not the admin token",
        ))
    } else {
        Err(HttpError::unauthenticated("the admin token is not valid"))
    }
}

#[derive(Serialize)]
struct Reloaded {
    status: &'static str,
    hosts_queued: usize,
}

async fn admin_reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    check_admin_token(&state, &headers)?;
    match state.reloader.reload().await {
        Ok(queued) => {
            // The next scrape shows the new config's scenarios at once.
            *state.metrics.view_lock().lock().await = None;
            Ok(axum::Json(Reloaded {
                status: "reloaded",
                hosts_queued: queued,
            }))
        }
        Err(crate::AppError::Assess(e)) => {
            tracing::warn!(error = %e, "reload refused; the previous config stays in use");
            Err(HttpError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_config",
                format!("the config is not valid; the previous config stays in use:\n{e}"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "reload failed");
            Err(HttpError {
                retry_after_secs: Some(RETRY_AFTER_UNAVAILABLE_SECS),
                ..HttpError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the estate could not be queued for re-assessment; retry later",
                )
            })
        }
    }
}

impl From<crate::import::ImportError> for HttpError {
    fn from(err: crate::import::ImportError) -> Self {
        use crate::import::ImportError;
        let status = match err {
            ImportError::Store(e) => return e.into(),
            ImportError::UnknownFormat(_) => StatusCode::BAD_REQUEST,
            ImportError::Unreadable { .. }
            | ImportError::MissingColumn { .. }
            | ImportError::NothingImportable(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        HttpError::new(status, err.code(), err.to_string())
    }
}

/// `POST /api/v1/admin/import?format=FORMAT[&file=NAME][&as_of=TIME]`, the export file
/// as the body: stores its hosts ([`crate::import`]), queues them for assessment and
/// answers the summary (imported, merged, skipped, bad rows by line).
async fn admin_import(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<impl IntoResponse, HttpError> {
    use crate::import::{self, ApplyOptions, Format, ImportFile};
    check_admin_token(&state, &headers)?;
    let params: std::collections::BTreeMap<String, String> =
        form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let format = Format::from_name(params.get("format").map_or("", String::as_str))?;
    let now = Utc::now();
    let as_of = match params.get("as_of") {
        None => now,
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                HttpError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("as_of `{t}` is not an RFC 3339 time: {e}"),
                )
            })?,
    };
    let name = params
        .get("file")
        .cloned()
        .unwrap_or_else(|| format!("upload.{}", format.as_str()));
    let limit = import::MAX_IMPORT_BYTES.max(state.body_limit_bytes);
    let bytes = read_body(&headers, body, limit, state.client_timeout).await?;
    let file = ImportFile {
        name: name.clone(),
        bytes: bytes.to_vec(),
    };
    let parsed = tokio::task::spawn_blocking(move || import::parse(format, &[file]))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "import parse task failed");
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the import could not be read",
            )
        })??;
    let options = ApplyOptions {
        format,
        file: name,
        now,
        as_of,
        stale_after: state.stale_after,
        max_clock_skew: state.max_clock_skew,
    };
    let summary = import::apply(state.store.as_ref(), parsed, &options).await?;
    for id in summary.stored_host_ids() {
        state.assess_queue.enqueue(&id);
    }
    tracing::info!(
        format = format.as_str(),
        imported = summary.imported,
        merged = summary.merged,
        skipped = summary.skipped,
        bad = summary.bad,
        "import stored"
    );
    Ok(axum::Json(summary))
}
