//! Positions of the resolved account: the open ones, their SL/TP, and closing them.

use super::doc;
use super::extract::{AuthUser, JsonBody, MaybeJsonBody};
use super::extract::{Path, Query};
use super::trading::*;
use super::validate::{Fields, Opt, Request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::AccountRow;
use crate::trading::{read, submit, Close, Command, Intent, Outcome, Source};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use mt5::{OrderFilling, PositionFilter, PositionType};
use serde_json::json;
use std::collections::HashMap;

/// The resolved account's open positions.
#[utoipa::path(
    get,
    path = "/api/v1/positions",
    tag = "trading",
    operation_id = "list_positions",
    params(doc::AccountHeader, SymbolFilter),
    responses(
        (status = 200, description = "The open positions", body = PositionList),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn positions(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<PositionList>> {
    let positions = open_items(state, user, headers, q, |t, at, filter| {
        Box::pin(async move { t.positions(&at, &filter).await })
    })
    .await?;
    Ok(Json(PositionList { positions }))
}

/// The open positions.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PositionList {
    #[schema(value_type = Vec<mt5::TradePosition>)]
    pub positions: crate::times::Utc<Vec<mt5::TradePosition>>,
}

async fn find_position(
    state: &AppState,
    row: &AccountRow,
    ticket: u64,
) -> ApiResult<mt5::TradePosition> {
    let list = read(state, row, move |t, at| {
        Box::pin(async move { t.positions(&at, &PositionFilter::Ticket(ticket)).await })
    })
    .await?;
    list.into_iter()
        .find(|p| p.ticket == ticket)
        .ok_or(ApiError::PositionNotFound)
}

/// Change a position's SL and/or TP.
///
/// An absent one is kept; null removes it.
#[utoipa::path(
    put,
    path = "/api/v1/positions/{ticket}",
    tag = "trading",
    operation_id = "modify_position",
    params(("ticket" = u64, Path, minimum = 1, description = "The position's ticket"), doc::OrderHeaders),
    request_body = ModifyPositionRequest,
    responses(
        (status = 200, description = "MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response)", body = crate::trading::ModifyResult),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        doc::OrderErrors,
    ),
    security(("bearer" = []))
)]
pub async fn modify_position(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Outcome> {
    let ticket = parse_ticket(&raw)?;
    let ModifyPositionRequest { sl, tp } = ModifyPositionRequest::parse(&body)?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let pos = find_position(&state, &row, ticket).await?;
    let (new_sl, new_tp) = (sl.level(pos.sl), tp.level(pos.tp));
    let normalized = json!({ "ticket": ticket, "sl": new_sl, "tp": new_tp });
    let intent = Intent {
        command: Command::ModifyPosition {
            ticket,
            symbol: pos.symbol,
            sl: new_sl,
            tp: new_tp,
        },
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent)
        .await
        .map(|done| done.outcome)
}

/// Close a position, or part of it.
///
/// With `volume`, only that many lots close; without a body, the whole position.
#[utoipa::path(
    post,
    path = "/api/v1/positions/{ticket}/close",
    tag = "trading",
    operation_id = "close_position",
    params(("ticket" = u64, Path, minimum = 1, description = "The position's ticket"), doc::OrderHeaders),
    request_body(content = Option<ClosePositionRequest>, description = "Optional: without a body the whole position closes"),
    responses(
        (status = 200, description = "MT5 accepted it (a repeated `Idempotency-Key` replays the first response)", body = doc::OrderSendResult),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        doc::OrderErrors,
    ),
    security(("bearer" = []))
)]
pub async fn close_position(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(raw): Path<String>,
    MaybeJsonBody(body): MaybeJsonBody,
) -> ApiResult<Outcome> {
    let ticket = parse_ticket(&raw)?;
    // No body, or JSON `null`, closes the whole position with the defaults.
    let body = body.filter(|b| !b.is_null()).unwrap_or_else(|| json!({}));
    let ClosePositionRequest {
        volume,
        deviation,
        comment,
        type_filling,
    } = ClosePositionRequest::parse(&body)?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let pos = find_position(&state, &row, ticket).await?;
    // The closing order trades on the other side; for a type the service does not know, that
    // side cannot be told, and no order is sent on a guess.
    let Some(r#type) = pos.r#type.opposite().and_then(PositionType::order_type) else {
        return Err(ApiError::validation(
            "ticket",
            format!(
                "position {ticket} has type {}, which the service does not know: it cannot tell \
                 which order closes it; close it in the terminal",
                pos.r#type
            ),
        ));
    };
    let volume = volume.unwrap_or(pos.volume);
    let mut request = json!({ "ticket": ticket, "volume": volume });
    if let Some(filling) = type_filling {
        request["type_filling"] = json!(filling);
    }
    let intent = Intent {
        command: Command::Close(Close {
            position: pos,
            r#type,
            volume,
            deviation,
            type_filling,
            comment,
            guard: None,
        }),
        request,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent)
        .await
        .map(|done| done.outcome)
}

/// PUT /positions/{ticket}: at least one of `sl`, `tp`; an absent one is kept, null removes it.
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
#[request(check = sl_or_tp)]
pub struct ModifyPositionRequest {
    #[schema(required = false, value_type = Option<f64>, minimum = 0)]
    pub sl: Opt<f64>,
    #[schema(required = false, value_type = Option<f64>, minimum = 0)]
    pub tp: Opt<f64>,
}

/// A modification names `sl`, `tp` or both (the document's `minProperties: 1`).
fn sl_or_tp(_: &ModifyPositionRequest, f: &mut Fields<'_>) {
    if !f.has("sl") && !f.has("tp") {
        f.error("sl", "give sl and/or tp");
    }
}

/// POST /positions/{ticket}/close; the body is optional.
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct ClosePositionRequest {
    /// Lots to close (default: all).
    #[schema(required = false, value_type = f64, exclusive_minimum = 0)]
    pub volume: Option<f64>,
    /// Points (default 20).
    #[schema(required = false)]
    #[request(default = 20)]
    pub deviation: u64,
    #[schema(
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub comment: Option<String>,
    /// Default: as for `POST /orders`.
    #[schema(required = false, value_type = doc::OrderFillingInput)]
    pub type_filling: Option<OrderFilling>,
}
