//! Every documented route, listed once. The router serves them and the OpenAPI document
//! (`/openapi.json`) is assembled from the same list by utoipa-axum's `OpenApiRouter`, so a route
//! cannot be served undocumented, nor documented unserved. Each path's operations are registered
//! together, in the document's order (`preserve_path_order`). The two documents' own routes live
//! here too, since they read the list.

use super::{
    accounts, algorithms, backtests, bots, history, market, orders, positions, reports, service,
    stream,
};
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::LazyLock;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The documented routes, with the document's parts besides its operations.
pub fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(super::openapi::ApiDoc::openapi())
        .routes(routes!(service::healthz))
        .routes(routes!(service::readyz))
        .routes(routes!(service::metrics))
        .routes(routes!(document))
        .routes(routes!(asyncapi_document))
        .routes(routes!(accounts::connect))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::audit_log))
        .routes(routes!(accounts::current))
        .routes(routes!(
            accounts::get_one,
            accounts::update,
            accounts::delete
        ))
        .routes(routes!(accounts::switch))
        .routes(routes!(reports::account))
        .routes(routes!(market::account))
        .routes(routes!(market::symbols))
        .routes(routes!(market::symbol))
        .routes(routes!(market::tick))
        .routes(routes!(market::rates))
        .routes(routes!(positions::positions))
        .routes(routes!(positions::modify_position))
        .routes(routes!(positions::close_position))
        .routes(routes!(orders::orders, orders::place_order))
        .routes(routes!(orders::check_order))
        .routes(routes!(orders::modify_order, orders::cancel_order))
        .routes(routes!(history::history_deals))
        .routes(routes!(history::history_orders))
        .routes(routes!(history::journal))
        .routes(routes!(history::journal_entry))
        .routes(routes!(stream::stream))
        .routes(routes!(algorithms::list, algorithms::create))
        .routes(routes!(algorithms::execute))
        .routes(routes!(algorithms::runs))
        .routes(routes!(algorithms::run))
        .routes(routes!(
            algorithms::get_one,
            algorithms::update,
            algorithms::delete
        ))
        .routes(routes!(backtests::create, backtests::list))
        .routes(routes!(backtests::get_one, backtests::delete))
        .routes(routes!(backtests::trades))
        .routes(routes!(backtests::equity))
        .routes(routes!(bots::create, bots::list))
        .routes(routes!(bots::get_one, bots::update, bots::delete))
        .routes(routes!(bots::pause))
        .routes(routes!(bots::resume))
        .routes(routes!(bots::stop))
        .routes(routes!(bots::kill_switch))
        .routes(routes!(bots::replay))
}

static DOCUMENT: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let (_, operations) = documented().split_for_parts();
    super::openapi::assemble(operations)
        .to_json()
        .map_err(|e| e.to_string())
});

/// The document as served (built once).
pub fn document_json() -> Result<&'static str, ApiError> {
    DOCUMENT
        .as_deref()
        .map_err(|e| ApiError::Internal(format!("the OpenAPI document cannot be serialized: {e}")))
}

/// The OpenAPI document (this one).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi_document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = inline(Object)),
        (status = 500, response = super::doc::Internal),
    ),
    security(())
)]
pub async fn document() -> Response {
    match document_json() {
        Ok(doc) => ([(header::CONTENT_TYPE, "application/json")], doc).into_response(),
        Err(e) => e.into_response(),
    }
}

static ASYNCAPI: LazyLock<Result<String, String>> = LazyLock::new(|| {
    let openapi = DOCUMENT.as_deref().map_err(|e| e.to_string())?;
    super::asyncapi::build(openapi).map(|v| v.to_string())
});

/// The AsyncAPI document of the live stream.
#[utoipa::path(
    get,
    path = "/asyncapi.json",
    tag = "service",
    operation_id = "asyncapi_document",
    responses(
        (status = 200, description = "The AsyncAPI 3.0 document of `GET /api/v1/stream`", body = inline(Object)),
        (status = 500, response = super::doc::Internal),
    ),
    security(())
)]
pub async fn asyncapi_document() -> Response {
    match ASYNCAPI.as_deref() {
        Ok(doc) => (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("the AsyncAPI document cannot be built: {e}"))
            .into_response(),
    }
}
