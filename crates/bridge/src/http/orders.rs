//! Orders of the resolved account: the active ones, and place, check, modify, cancel.

use super::doc;
use super::extract::{AuthUser, JsonBody};
use super::extract::{Path, Query};
use super::trading::*;
use super::validate::{input_time, symbol_fault, Fields, Opt, Request, Rule};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::AccountRow;
use crate::times::Utc;
use crate::trading::{
    order_comment, read, submit, Command, Expiration, Intent, ModifyOrder, Outcome, Place, Source,
    FILLING_MODE,
};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use mt5::{OrderFilling, OrderTime, OrderType, PositionFilter};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The resolved account's active pending orders.
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "trading",
    operation_id = "list_orders",
    params(doc::AccountHeader, SymbolFilter),
    responses(
        (status = 200, description = "The pending orders", body = OrderList),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn orders(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<OrderList>> {
    let orders = open_items(state, user, headers, q, |t, at, filter| {
        Box::pin(async move { t.orders(&at, &filter).await })
    })
    .await?;
    Ok(Json(OrderList { orders }))
}

/// Active pending orders.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OrderList {
    #[schema(value_type = Vec<mt5::TradeOrder>)]
    pub orders: crate::times::Utc<Vec<mt5::TradeOrder>>,
}

/// A validated POST /orders body, as the pipeline's command, and the request as journaled.
fn parse_place(body: &Value) -> ApiResult<(Place, Value)> {
    let r = PlaceOrderRequest::parse(body)?;
    let o = Place {
        symbol: r.symbol,
        r#type: r.order_type,
        volume: r.volume,
        price: r.price,
        stoplimit: r.stoplimit,
        sl: r.sl,
        tp: r.tp,
        deviation: r.deviation,
        type_filling: r.type_filling,
        type_time: r.type_time,
        expiration_utc: r.expiration,
        comment: r.comment,
        magic: r.magic,
        guard: None,
    };
    let normalized = json!({
        "symbol": o.symbol, "type": o.r#type, "volume": o.volume, "price": o.price, "stoplimit": o.stoplimit,
        "sl": o.sl, "tp": o.tp, "deviation": o.deviation, "type_filling": o.type_filling, "type_time": o.type_time,
        "expiration": o.expiration_utc, "comment": o.comment, "magic": o.magic,
    });
    Ok((o, normalized))
}

/// What a place body cannot combine (each field valid on its own).
fn place_conflicts(r: &PlaceOrderRequest, f: &mut Fields<'_>) {
    if !f.at_fault("type") {
        if r.order_type.is_pending() && r.price.is_none() {
            f.conflict("price", "is required for pending orders");
        }
        if r.order_type.is_stop_limit() && r.stoplimit.is_none() {
            f.conflict("stoplimit", "is required for stop-limit orders");
        }
    }
    if matches!(r.type_time, OrderTime::Specified | OrderTime::SpecifiedDay)
        && r.expiration.is_none()
    {
        f.conflict(
            "expiration",
            "is required when type_time is specified or specified_day",
        );
    }
}

/// Place a market or pending order.
///
/// Journaled as `pending` before it is sent, then completed with MT5's result. The account's risk
/// limits apply.
#[utoipa::path(
    post,
    path = "/api/v1/orders",
    tag = "trading",
    operation_id = "place_order",
    params(doc::OrderHeaders),
    request_body = PlaceOrderRequest,
    responses(
        (status = 200, description = "MT5 accepted it (a repeated `Idempotency-Key` replays the first response)", body = doc::OrderSendResult),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed` (`risk_limits.<key>` when the account's stored limits are invalid); `invalid_combination` (a pending order without `price`, a stop-limit order without `stoplimit`, `type_time` `specified`/`specified_day` without `expiration`); `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `risk_limit_exceeded` (the limit and its numbers in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        doc::OrderErrors,
    ),
    security(("bearer" = []))
)]
pub async fn place_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Outcome> {
    let (order, normalized) = parse_place(&body)?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let intent = Intent {
        command: Command::Place(order),
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent)
        .await
        .map(|done| done.outcome)
}

/// Check an order without sending it.
///
/// MT5's `order_check` for the body of `POST /orders`; nothing is sent or journaled.
#[utoipa::path(
    post,
    path = "/api/v1/orders/check",
    tag = "trading",
    operation_id = "check_order",
    params(doc::AccountHeader),
    request_body = PlaceOrderRequest,
    responses(
        (status = 200, description = "MT5's check (retcode 0: it would pass)", body = doc::OrderCheckResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`; `invalid_combination` (as for `POST /orders`); `mt5_login_failed`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn check_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Utc<mt5::OrderCheckResult>>> {
    let (order, _) = parse_place(&body)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (result, offset) = read(&state, &row, move |t, at| {
        let o = order.clone();
        Box::pin(async move {
            let built = o
                .request(
                    t.as_ref(),
                    &at,
                    order_comment("check", o.comment.as_deref()),
                )
                .await?;
            Ok(match built {
                Ok((req, offset)) => Ok((t.order_check(&at, &req).await?, offset)),
                Err(message) => Err(message),
            })
        })
    })
    .await?
    .map_err(|message| {
        ApiError::validation("type_filling", format!("{FILLING_MODE}: {message}"))
    })?;
    Ok(Json(Utc(result, offset)))
}

async fn find_order(state: &AppState, row: &AccountRow, ticket: u64) -> ApiResult<mt5::TradeOrder> {
    let list = read(state, row, move |t, at| {
        Box::pin(async move { t.orders(&at, &PositionFilter::Ticket(ticket)).await })
    })
    .await?;
    list.into_iter()
        .find(|o| o.ticket == ticket)
        .ok_or(ApiError::OrderNotFound)
}

/// Modify a pending order.
///
/// Its price, SL, TP, stop-limit price or expiration; absent fields are kept.
#[utoipa::path(
    put,
    path = "/api/v1/orders/{ticket}",
    tag = "trading",
    operation_id = "modify_order",
    params(("ticket" = u64, Path, minimum = 1, description = "The pending order's ticket"), doc::OrderHeaders),
    request_body = ModifyOrderRequest,
    responses(
        (status = 200, description = "MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response)", body = crate::trading::ModifyResult),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `order_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        doc::OrderErrors,
    ),
    security(("bearer" = []))
)]
pub async fn modify_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Outcome> {
    let ticket = parse_ticket(&raw)?;
    let ModifyOrderRequest {
        price,
        sl,
        tp,
        stoplimit,
        expiration,
    } = ModifyOrderRequest::parse(&body)?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let existing = find_order(&state, &row, ticket).await?;
    let normalized = json!({
        "ticket": ticket, "price": price.clone().value(), "sl": sl.clone().value(), "tp": tp.clone().value(),
        "stoplimit": stoplimit.clone().value(), "expiration": expiration.clone().value(),
    });
    // MT5's MODIFY resends every level: absent fields keep the order's own; null removes sl/tp.
    let command = Command::ModifyOrder(ModifyOrder {
        price: price.level(existing.price_open),
        sl: sl.level(existing.sl),
        tp: tp.level(existing.tp),
        stoplimit: stoplimit.level(existing.price_stoplimit),
        expiration: match expiration {
            Opt::Value(e) => Expiration::At(e),
            Opt::Null => Expiration::Remove,
            Opt::Absent => Expiration::Keep,
        },
        existing,
    });
    let intent = Intent {
        command,
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent)
        .await
        .map(|done| done.outcome)
}

/// Cancel a pending order.
#[utoipa::path(
    delete,
    path = "/api/v1/orders/{ticket}",
    tag = "trading",
    operation_id = "cancel_order",
    params(("ticket" = u64, Path, minimum = 1, description = "The pending order's ticket"), doc::OrderHeaders),
    responses(
        (status = 200, description = "MT5 accepted it (a repeated `Idempotency-Key` replays the first response)", body = doc::OrderSendResult),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::TradingDisabledOrReadOnly),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `order_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::InProgressOrCredentialsInvalid),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> ApiResult<Outcome> {
    let ticket = parse_ticket(&raw)?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    find_order(&state, &row, ticket).await?;
    let intent = Intent {
        command: Command::Cancel { ticket },
        request: json!({ "ticket": ticket }),
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent)
        .await
        .map(|done| done.outcome)
}

/// POST /orders and POST /orders/check.
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
#[request(check = place_conflicts)]
pub struct PlaceOrderRequest {
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$"
    )]
    #[request(check = symbol_fault)]
    pub symbol: String,
    #[serde(rename = "type")]
    #[schema(value_type = doc::PlaceOrderType)]
    #[request(with = place_type)]
    pub order_type: OrderType,
    /// Lots; the broker checks the step grid (`10014 INVALID_VOLUME` otherwise).
    #[schema(exclusive_minimum = 0)]
    pub volume: f64,
    /// Pending orders: required. Market orders: default the current ask (buy) or bid (sell).
    #[schema(required = false, value_type = f64, exclusive_minimum = 0)]
    pub price: Option<f64>,
    /// Required for stop-limit orders.
    #[schema(required = false, value_type = f64, exclusive_minimum = 0)]
    pub stoplimit: Option<f64>,
    /// Stop loss (0 = none).
    #[schema(required = false, minimum = 0)]
    #[request(default = 0.0)]
    pub sl: f64,
    /// Take profit (0 = none).
    #[schema(required = false, minimum = 0)]
    #[request(default = 0.0)]
    pub tp: f64,
    /// Points (default 20).
    #[schema(required = false)]
    #[request(default = 20)]
    pub deviation: u64,
    /// Default: one the symbol allows (IOC, else FOK, else RETURN); pending orders RETURN. Required
    /// for a market order on a symbol whose `filling_mode` has only policies the service does not
    /// know.
    #[schema(required = false, value_type = doc::OrderFillingInput)]
    pub type_filling: Option<OrderFilling>,
    /// Default `gtc`.
    #[schema(required = false, value_type = doc::OrderTimeInput)]
    #[request(default = OrderTime::Gtc)]
    pub type_time: OrderTime,
    /// Required when `type_time` is `specified` or `specified_day`.
    #[schema(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub expiration: Option<i64>,
    /// Kept after the journal's client id, within MT5's 27 characters.
    #[schema(
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub comment: Option<String>,
    #[schema(required = false)]
    #[request(default = 0)]
    pub magic: u64,
}

/// The order types `POST /orders` places (`doc::PlaceOrderType` documents them).
fn place_type(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<OrderType> {
    f.mt5_enum(name, PLACE_TYPES)
}

/// PUT /orders/{ticket}: absent fields are kept.
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct ModifyOrderRequest {
    #[schema(required = false, value_type = f64, exclusive_minimum = 0)]
    pub price: Opt<f64>,
    /// null removes it.
    #[schema(required = false, value_type = Option<f64>, minimum = 0)]
    pub sl: Opt<f64>,
    /// null removes it.
    #[schema(required = false, value_type = Option<f64>, minimum = 0)]
    pub tp: Opt<f64>,
    #[schema(required = false, value_type = f64, exclusive_minimum = 0)]
    pub stoplimit: Opt<f64>,
    /// null makes the order good till cancelled.
    #[schema(required = false, value_type = Option<doc::TimeInput>)]
    #[request(with = input_time)]
    pub expiration: Opt<i64>,
}
