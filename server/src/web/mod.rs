//! The collector's web page (`/ui/`): server-rendered HTML for people without Grafana —
//! the estate overview, hosts with search and filters, a host's inventory, checks,
//! carbon estimate and history, the checks across the fleet, the migration scenarios,
//! and the generated reports. No JavaScript, no external fetch of any kind; one
//! stylesheet served from the binary. Documented in `docs/web.md`.
//!
//! This file owns the routes, the read-token check (Bearer or HTTP Basic, see
//! [`auth`]), the security headers every answer carries, and the HTML error pages.
//! `handlers` read the store; [`view`] computes with the read API's own functions;
//! [`pages`] turn data into HTML and do no I/O; [`files`] is the reports directory's
//! edge. The `/ui` routes are pages, not API: they are not in the OpenAPI document.

pub mod auth;
pub mod files;
mod handlers;
pub mod html;
pub mod pages;
pub mod params;
pub mod view;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::AppState;

/// The Content-Security-Policy of every page: nothing but this origin's stylesheet and
/// `data:` images; no scripts, frames, plugins or inline styles; forms post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The Content-Security-Policy of a downloaded report file: the HTML report's inline
/// CSS and SVG may render, nothing may run (`sandbox`), nothing is fetched.
pub const REPORT_CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// The `WWW-Authenticate` challenge of a `401`: a browser asks for a user name and
/// password (the password is the read token).
pub const CHALLENGE: &str = r#"Basic realm="Estate", charset="UTF-8""#;
/// The stylesheet, served at `/ui/style.css`.
pub const STYLE_CSS: &str = include_str!("style.css");

/// The web page's own state in [`AppState`]: the reports directory and the estate view
/// shared by requests for a while.
#[derive(Debug, Clone)]
pub struct WebState {
    /// `[reports] dir`, when reports are configured.
    pub reports_dir: Option<PathBuf>,
    /// How long a computed estate view serves pages (the metrics' `refresh_secs`; see
    /// [`STALE_VIEW_FACTOR`]).
    pub view_ttl: Duration,
    view: Arc<tokio::sync::Mutex<ViewCache>>,
}

/// A view older than its TTL but younger than this many TTLs is still served while it is
/// recomputed in the background (`docs/web.md`).
pub const STALE_VIEW_FACTOR: u32 = 4;

/// The shared estate view and when it was computed; whether a recomputation runs.
#[derive(Debug, Default)]
struct ViewCache {
    current: Option<(Instant, Arc<view::EstateView>)>,
    refreshing: bool,
}

impl WebState {
    /// The web page's state: reports in `reports_dir`, the estate view recomputed when
    /// older than `view_ttl`.
    pub fn new(reports_dir: Option<PathBuf>, view_ttl: Duration) -> WebState {
        WebState {
            reports_dir,
            view_ttl,
            view: Arc::default(),
        }
    }
}

/// The `/` and `/ui/...` routes, to be merged into the collector's router.
pub fn router(state: AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/ui", get(handlers::overview))
        .route("/ui/", get(handlers::overview))
        .route("/ui/hosts", get(handlers::hosts))
        .route("/ui/hosts/{host_id}", get(handlers::host))
        .route("/ui/checks", get(handlers::checks))
        .route("/ui/scenarios", get(handlers::scenarios))
        .route("/ui/reports", get(handlers::reports))
        .route("/ui/reports/{name}", get(handlers::report_file))
        .route("/ui/reports/{dir}/{name}", get(handlers::report_csv_file))
        .route("/ui/{*rest}", get(handlers::no_such_page))
        .route_layer(middleware::from_fn_with_state(state, require_read_token));
    Router::new()
        .route("/", get(|| async { redirect("/ui/") }))
        .route("/ui/style.css", get(stylesheet))
        .merge(pages)
        .layer(middleware::map_response(security_headers))
}

fn redirect(to: &'static str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, HeaderValue::from_static(to))],
    )
        .into_response()
}

async fn stylesheet() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        STYLE_CSS,
    )
        .into_response()
}

/// Refuses the pages without the read token when one is configured (`401` with a Basic
/// challenge, so a browser asks); lets them through otherwise.
async fn require_read_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &state.read_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !auth::read_access(presented, expected) {
            let mut response = WebError::new(
                StatusCode::UNAUTHORIZED,
                "Sign in",
                "This collector's web page needs its read token: sign in with any user name and the read token as the password.",
            )
            .into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(CHALLENGE),
            );
            return response;
        }
    }
    next.run(request).await
}

/// Adds the security headers to every `/` and `/ui` answer (a handler that set its own
/// Content-Security-Policy, a report download, keeps it).
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML answer with `status`.
pub fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// An error shown as an HTML page.
#[derive(Debug)]
pub struct WebError {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl WebError {
    /// An error page with this status, heading and sentence.
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        WebError {
            status,
            title,
            message: message.into(),
        }
    }

    /// `404`: nothing here.
    pub fn not_found(message: impl Into<String>) -> Self {
        WebError::new(StatusCode::NOT_FOUND, "Not found", message)
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        html_response(self.status, pages::error::render(self.title, &self.message))
    }
}

impl From<crate::query::QueryError> for WebError {
    fn from(e: crate::query::QueryError) -> Self {
        WebError::new(
            StatusCode::BAD_REQUEST,
            "Bad request",
            format!(
                "The query parameter `{}` cannot be used: {}",
                e.param, e.message
            ),
        )
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store failed while rendering a page");
        WebError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "The store is unavailable or busy; try again shortly.",
        )
    }
}
