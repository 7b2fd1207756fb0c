//! The service's own routes: liveness, readiness and the Prometheus metrics (no user token).

use super::doc;
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Liveness: the process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    operation_id = "healthz",
    responses((status = 200, description = "Always, while the process runs", body = doc::Health)),
    security(())
)]
pub async fn healthz() -> Json<doc::Health> {
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
pub async fn readyz(State(state): State<AppState>) -> Response {
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
pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
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
