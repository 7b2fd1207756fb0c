//! The HTTP layer: the router, middleware (request ids, logging, CORS, body limit), extractors and
//! handlers. Every error leaves as `{"success": false, "error": {...}}` through [`ApiError`].

pub mod accounts;
pub mod algorithms;
pub mod asyncapi;
pub mod backtests;
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
pub mod stream;
pub mod trading;
pub mod validate;

use crate::error::{ApiError, InternalErrorNote};
use crate::metrics::{method_label, Metrics};
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
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
    let api = Router::new()
        .route("/accounts", get(accounts::list))
        .route("/audit", get(accounts::audit_log))
        .route("/accounts/connect", post(accounts::connect))
        .route("/accounts/current", get(accounts::current))
        .route(
            "/accounts/{account_id}",
            get(accounts::get_one)
                .put(accounts::update)
                .delete(accounts::delete),
        )
        .route("/accounts/{account_id}/switch", post(accounts::switch))
        .route("/accounts/{account_id}/report", get(reports::account))
        .route("/account", get(market::account))
        .route("/symbols", get(market::symbols))
        .route("/symbols/{symbol}", get(market::symbol))
        .route("/symbols/{symbol}/tick", get(market::tick))
        .route("/symbols/{symbol}/rates", get(market::rates))
        .route("/positions", get(positions::positions))
        .route("/positions/{ticket}", put(positions::modify_position))
        .route("/positions/{ticket}/close", post(positions::close_position))
        .route("/orders", get(orders::orders).post(orders::place_order))
        .route("/orders/check", post(orders::check_order))
        .route(
            "/orders/{ticket}",
            put(orders::modify_order).delete(orders::cancel_order),
        )
        .route("/history/deals", get(history::history_deals))
        .route("/history/orders", get(history::history_orders))
        .route("/journal", get(history::journal))
        .route("/journal/{id}", get(history::journal_entry))
        .route("/stream", get(stream::stream))
        .route(
            "/algorithms",
            get(algorithms::list).post(algorithms::create),
        )
        .route("/algorithms/execute", post(algorithms::execute))
        .route("/algorithms/runs", get(algorithms::runs))
        .route("/algorithms/runs/{run_id}", get(algorithms::run))
        .route(
            "/algorithms/{algorithm_id}",
            get(algorithms::get_one)
                .put(algorithms::update)
                .delete(algorithms::delete),
        )
        .route("/backtests", get(backtests::list).post(backtests::create))
        .route(
            "/backtests/{backtest_id}",
            get(backtests::get_one).delete(backtests::delete),
        )
        .route("/backtests/{backtest_id}/trades", get(backtests::trades))
        .route("/backtests/{backtest_id}/equity", get(backtests::equity));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/asyncapi.json", get(openapi::asyncapi_document))
        .merge(openapi::docs_page())
        .merge(console::routes(&state.console))
        .nest("/api/v1", api)
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

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    operation_id = "healthz",
    responses((status = 200, description = "Always, while the process runs", body = doc::Health)),
    security(())
)]
async fn healthz() -> Json<doc::Health> {
    Json(doc::Health {
        status: doc::HealthStatus::Ok,
    })
}

/// Ready to serve: the store answers and the pool has a terminal. 503 names the failing check.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "service",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Ready to serve", body = doc::Readiness),
        (status = 503, description = "Not ready; the failing check says `failed`", body = doc::Readiness),
    ),
    security(())
)]
async fn readyz(State(state): State<AppState>) -> Response {
    // A nil user owns nothing: a cheap query that still goes through the store's usual path.
    let probe = crate::store::UserCtx::service_for(uuid::Uuid::nil());
    let store_ok = match state.store.list_accounts(&probe, false).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "readiness: store check failed");
            false
        }
    };
    // In service: reachable, and (with shared agents) leased to this replica.
    let terminals_ok = state.pool.size() > state.pool.terminals_down();
    let redis_ok = match &state.redis {
        Some(r) => Some(r.ping().await.is_ok()),
        None => None,
    };
    use doc::{CheckStatus, Readiness, ReadinessChecks, ReadyStatus};
    let check = |ok: bool| {
        if ok {
            CheckStatus::Ok
        } else {
            CheckStatus::Failed
        }
    };
    let ready = store_ok && terminals_ok && redis_ok != Some(false);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = Readiness {
        status: if ready {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        },
        checks: ReadinessChecks {
            store: check(store_ok),
            terminals: check(terminals_ok),
            redis: redis_ok.map(check),
        },
        // Not a readiness failure (reads still work), but orders wait for a terminal that trades.
        terminals_trading_disabled: state.pool.terminals_trading_disabled(),
    };
    (status, Json(body)).into_response()
}

/// Prometheus metrics, in the text exposition format (docs/api.md#observability).
///
/// A scrape sends `Authorization: Bearer <METRICS_TOKEN>`; without `METRICS_TOKEN` configured
/// every scrape answers `401 unauthorized` (the metrics describe everyone's traffic).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    operation_id = "metrics",
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "text/plain"),
        (status = 401, response = doc::Unauthorized),
    ),
    security(("metrics_token" = []))
)]
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !state.metrics.authorized(auth) {
        return ApiError::Unauthorized("a valid metrics token is required".into()).into_response();
    }
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        state.metrics.render(
            &state.pool,
            state.server_clocks.stale(),
            state.events.open_streams(),
        ),
    )
        .into_response()
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
