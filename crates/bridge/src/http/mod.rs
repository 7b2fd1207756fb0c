//! The HTTP layer: the router, middleware (request ids, logging, CORS, body limit), extractors and
//! handlers. Every error leaves as `{"success": false, "error": {...}}` through [`ApiError`].

pub mod accounts;
pub mod algorithms;
pub mod asyncapi;
pub mod backtests;
pub mod bots;
pub mod console;
pub mod doc;
pub mod extract;
pub mod history;
pub mod history_cursor;
pub mod market;
pub mod openapi;
pub mod orders;
pub mod positions;
pub mod reports;
pub mod routes;
pub mod service;
pub mod stream;
pub mod trading;
pub mod validate;

use crate::error::{ApiError, InternalErrorNote};
use crate::metrics::{method_label, Metrics};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;
use std::time::Instant;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

/// Request bodies above this are refused with 413 `payload_too_large`.
pub const BODY_LIMIT: usize = 64 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub fn router(state: AppState, cors_origins: &[String]) -> Router {
    let metrics_state = state.metrics.clone();
    // Every documented route comes from the one list the document is assembled from.
    let (documented, _) = routes::documented().split_for_parts();
    documented
        .merge(openapi::docs_page())
        .merge(console::routes(&state.console))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(catch_panics())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            metrics_state,
            log_requests,
        ))
        .layer(cors(cors_origins))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

/// A panic in a handler answers `500 internal_error` in the error envelope (logged once, by the
/// request log, with the request id) instead of dropping the connection.
pub fn catch_panics(
) -> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    fn answer(panic: Box<dyn std::any::Any + Send>) -> Response {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        crate::error::ApiError::Internal(format!("handler panicked: {what}")).into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(answer as fn(_) -> Response)
}

async fn not_found() -> ApiError {
    ApiError::RouteNotFound
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-account-id"),
        ])
        .expose_headers([REQUEST_ID.clone(), header::RETRY_AFTER])
        .max_age(std::time::Duration::from_secs(600))
}

/// One log line per request: method, route path, status, latency, request id. Never bodies or
/// headers (they can hold passwords and tokens). Internal errors are logged here, once. Also
/// counts the request in the metrics, by route template (never the raw path: it holds ids).
async fn log_requests(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| crate::metrics::UNMATCHED_ROUTE.to_string());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-")
        .to_string();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    metrics.request(&route, method_label(&method), status, elapsed);
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    if let Some(InternalErrorNote(msg)) = resp.extensions().get::<InternalErrorNote>() {
        tracing::error!(%method, %path, status, latency_ms, request_id, error = %msg, "request failed");
    } else {
        tracing::info!(%method, %path, status, latency_ms, request_id, "request");
    }
    resp
}

/// Turns a panic in a handler into a 500 with the usual body instead of a dropped connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::Internal("handler panicked".into()).into_response()
}
