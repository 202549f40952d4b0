//! The web page's handlers: read the store (through the shared estate view where they
//! can), call a page, answer. They compute nothing themselves.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::Utc;

use super::files::{self, Listed};
use super::pages::{self, reports::ReportsState};
use super::view::{self, EstateView, HostBand};
use super::{REPORT_CSP, WebError, html_response, params};
use crate::http::AppState;
use crate::metrics;
use crate::query::MAX_PAGE_LIMIT;
use crate::store::HostRecord;

/// The estate view shared by the pages. Fresh (younger than the TTL): served as it is.
/// Older, but younger than [`super::STALE_VIEW_FACTOR`] TTLs: served while one
/// background task recomputes it, so no page waits on the estate's aggregates. Older
/// still, absent, or with a zero TTL: computed now (concurrent requests wait for one
/// computation).
async fn estate_view(state: &AppState) -> Result<Arc<EstateView>, WebError> {
    let ttl = state.web.view_ttl;
    let mut cache = state.web.view.lock().await;
    if let Some((at, view)) = cache.current.clone() {
        let age = at.elapsed();
        if age < ttl {
            return Ok(view);
        }
        if age < ttl.saturating_mul(super::STALE_VIEW_FACTOR) {
            if !cache.refreshing {
                cache.refreshing = true;
                let state = state.clone();
                tokio::spawn(async move {
                    let result = compute_view(&state).await;
                    let mut cache = state.web.view.lock().await;
                    cache.refreshing = false;
                    if let Ok(view) = result {
                        cache.current = Some((Instant::now(), Arc::new(view)));
                    }
                });
            }
            return Ok(view);
        }
    }
    let view = Arc::new(compute_view(state).await?);
    cache.current = Some((Instant::now(), Arc::clone(&view)));
    Ok(view)
}

/// Reads what the estate view needs from the store and builds it off the async workers.
async fn compute_view(state: &AppState) -> Result<EstateView, WebError> {
    let now = Utc::now();
    let stale_before = metrics::stale_before(now, state.stale_after);
    let hosts = state.store.hosts().await?;
    let assessments = state.store.assessments().await?;
    let carbon = state.store.carbon_estimates().await?;
    let assessor = state.assessor.current();
    tokio::task::spawn_blocking(move || {
        EstateView::build(now, stale_before, &hosts, &assessments, &carbon, &assessor)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "estate view task failed");
        WebError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "The estate view could not be computed.",
        )
    })
}

fn ok(body: String) -> Response {
    html_response(StatusCode::OK, body)
}

fn no_params(raw: Option<&str>) -> Result<(), WebError> {
    match raw.filter(|q| !q.is_empty()) {
        None => Ok(()),
        Some(q) => {
            let name = form_urlencoded::parse(q.as_bytes())
                .next()
                .map_or_else(|| q.to_owned(), |(k, _)| k.into_owned());
            Err(crate::query::QueryError {
                param: name,
                message: "this page takes no parameters".to_owned(),
            }
            .into())
        }
    }
}

pub(super) async fn overview(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    no_params(raw.as_deref())?;
    let view = estate_view(&state).await?;
    let assessor = state.assessor.current();
    let texts = view::check_texts(&assessor);
    let title = |id: &str| {
        texts
            .get(id)
            .map_or_else(|| id.to_owned(), |t| t.title.clone())
    };
    Ok(ok(pages::overview::render(&view, &title)))
}

pub(super) async fn checks(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    no_params(raw.as_deref())?;
    let view = estate_view(&state).await?;
    Ok(ok(pages::checks::render(&view)))
}

pub(super) async fn scenarios(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    no_params(raw.as_deref())?;
    let view = estate_view(&state).await?;
    Ok(ok(pages::scenarios::render(&view)))
}

pub(super) async fn hosts(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let stale_before = metrics::stale_before(Utc::now(), state.stale_after);
    let request = params::hosts_request(raw.as_deref(), stale_before)?;
    let view = estate_view(&state).await?;
    let (rows, total, next_after) = match &request.band {
        None => {
            let page = state.store.list_hosts(request.query.clone()).await?;
            (page.hosts, page.total, page.next_after)
        }
        Some(band) => {
            // The store does not filter by band: page through the other filters' matches
            // and keep the band's, counting them all for the total.
            let limit = request.query.limit as usize;
            let mut query = request.query.clone();
            query.limit = MAX_PAGE_LIMIT;
            let (mut rows, mut total, mut more): (Vec<HostRecord>, u64, bool) =
                (Vec::new(), 0, false);
            loop {
                let page = state.store.list_hosts(query.clone()).await?;
                for h in page.hosts {
                    if view.band_of(&h.host_id) == band {
                        total += 1;
                        if rows.len() < limit {
                            rows.push(h);
                        } else {
                            more = true;
                        }
                    }
                }
                match page.next_after {
                    Some(after) => query.after = Some(after),
                    None => break,
                }
            }
            let next = more
                .then(|| rows.last().map(|h| h.host_id.clone()))
                .flatten();
            (rows, total, next)
        }
    };
    let page = pages::hosts::HostsPage {
        form: &request.form,
        after: request.query.after.as_deref(),
        hosts: &rows,
        total,
        next_after: next_after.as_deref(),
        stale_before,
        os_families: view
            .summary
            .by_os_family
            .keys()
            .map(String::as_str)
            .filter(|f| *f != "unknown")
            .collect(),
    };
    let band = |id: &str| -> Option<HostBand> { view.bands.get(id).cloned() };
    Ok(ok(pages::hosts::render(&page, &band)))
}

pub(super) async fn host(
    State(state): State<AppState>,
    Path(host_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let now = Utc::now();
    let (range_name, range) = params::host_range(raw.as_deref(), now)?;
    let Some(host) = state.store.host(host_id.clone()).await? else {
        return Err(WebError::not_found(format!(
            "There is no host `{host_id}`."
        )));
    };
    let stored = state.store.assessment(host_id.clone()).await?;
    let series = state
        .store
        .series(host_id.clone(), range.from, range.to)
        .await?;
    let assessor = state.assessor.current();
    let texts = view::check_texts(&assessor);
    let detail = match &stored {
        Some((record, _)) => match view::host_detail(&record.detail_json) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::error!(host = %host_id, error = %e, "stored assessment unreadable");
                None
            }
        },
        None => None,
    };
    let inventory = match &host.inventory {
        None => Ok(None),
        Some(json) => serde_json::from_value::<estate_protocol::Inventory>(json.clone())
            .map(Some)
            .map_err(|e| e.to_string()),
    };
    let page = pages::host::HostView {
        host: &host,
        inventory,
        detail: detail.as_ref(),
        detail_unreadable: stored.is_some() && detail.is_none(),
        checks: &texts,
        series: &series,
        range: range_name,
        from: range.from,
        to: range.to,
        stale_before: metrics::stale_before(now, state.stale_after),
    };
    Ok(ok(pages::host::render(&page)))
}

pub(super) async fn reports(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    no_params(raw.as_deref())?;
    let Some(dir) = state.web.reports_dir.clone() else {
        return Ok(ok(pages::reports::render(&ReportsState::NotConfigured)));
    };
    let listed = tokio::task::spawn_blocking(move || files::list(&dir))
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r);
    Ok(ok(match &listed {
        Ok(items) => pages::reports::render(&ReportsState::Listed(items)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let none: &[Listed] = &[];
            pages::reports::render(&ReportsState::Listed(none))
        }
        Err(e) => {
            tracing::warn!(error = %e, "reports directory unreadable");
            pages::reports::render(&ReportsState::Unreadable(&e.kind().to_string()))
        }
    }))
}

async fn download(state: &AppState, parts: Vec<String>) -> Result<Response, WebError> {
    let missing = || WebError::not_found("There is no such report.");
    let Some(dir) = state.web.reports_dir.clone() else {
        return Err(missing());
    };
    let name = parts.last().cloned().unwrap_or_default();
    let bytes = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        files::resolve(&dir, &refs).and_then(|p| std::fs::read(p).ok())
    })
    .await
    .ok()
    .flatten()
    .ok_or_else(missing)?;
    let content_type = files::content_type(&name);
    let mut response = Response::new(Body::from(bytes));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REPORT_CSP),
    );
    if !content_type.starts_with("text/html") {
        // The name is a plain file name the directory holds; quote it safely anyway.
        let safe: String = name
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

pub(super) async fn report_file(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    download(&state, vec![name]).await
}

pub(super) async fn report_csv_file(
    State(state): State<AppState>,
    Path((dir, name)): Path<(String, String)>,
) -> Result<Response, WebError> {
    download(&state, vec![dir, name]).await
}

pub(super) async fn no_such_page() -> WebError {
    WebError::not_found("There is no such page.")
}
