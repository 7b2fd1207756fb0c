//! Trading endpoints on the resolved account: account info, symbols, ticks, rates, positions,
//! orders (place, check, modify, cancel), position SL/TP and close, history, and the journal.
//!
//! The account is the `X-Account-Id` header's (ownership checked), else the user's current
//! account, else the default. Fields are MT5's names; times are RFC 3339 UTC.

use super::extract::{path_uuid, AuthUser, JsonBody, MaybeJsonBody};
use super::history_cursor::{HistoryCursor, HistoryList};
use super::openapi as doc;
use super::validate::{Fields, Opt};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::journal::JournalFilter;
use crate::store::AccountRow;
use crate::times::{convert_times, to_json};
use crate::trading::{
    default_filling, filling_required, filling_unknown, order_comment, prepared, read, submit,
    Intent, Outcome, Prepared, Source, FILLING_MODE,
};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mt5::enums::Mt5Enum;
use mt5::{
    HistorySelect, OrderFilling, OrderTime, OrderType, PositionFilter, PositionType, SymbolInfo,
    Timeframe, TradeAction, TradeRequest,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

const SYMBOL_MAX: usize = 32;
const PLACE_TYPES: &[OrderType] = &[
    OrderType::Buy,
    OrderType::Sell,
    OrderType::BuyLimit,
    OrderType::SellLimit,
    OrderType::BuyStop,
    OrderType::SellStop,
    OrderType::BuyStopLimit,
    OrderType::SellStopLimit,
];

impl IntoResponse for Outcome {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// The account a trading request acts on.
pub async fn resolve_account(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
) -> ApiResult<AccountRow> {
    let chosen = match headers.get("x-account-id") {
        Some(raw) => {
            let raw = raw
                .to_str()
                .map_err(|_| ApiError::validation("X-Account-Id", "must be a UUID"))?;
            Some(
                Uuid::parse_str(raw.trim())
                    .map_err(|_| ApiError::validation("X-Account-Id", "must be a UUID"))?,
            )
        }
        None => None,
    };
    crate::context::resolve_account(
        state.store.as_ref(),
        state.sessions.as_ref(),
        &user.ctx,
        chosen,
    )
    .await
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let s = v
                .to_str()
                .map_err(|_| ApiError::validation("Idempotency-Key", "must be visible ASCII"))?
                .trim();
            if s.is_empty() || s.len() > 255 {
                return Err(ApiError::validation(
                    "Idempotency-Key",
                    "must be 1 to 255 characters",
                ));
            }
            Ok(Some(s.to_string()))
        }
    }
}

fn query_keys(q: &HashMap<String, String>, allowed: &[&str]) -> ApiResult<()> {
    let unknown: Vec<crate::error::FieldError> = q
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| {
            crate::error::FieldError::new(
                k.chars().take(64).collect::<String>(),
                "unknown query parameter",
            )
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(unknown))
    }
}

fn parse_ticket(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| ApiError::validation("ticket", "must be a positive integer"))
}

fn check_symbol(symbol: &str) -> ApiResult<()> {
    if symbol.is_empty()
        || symbol.len() > SYMBOL_MAX
        || symbol.chars().any(|c| c.is_control() || c == '/')
    {
        return Err(ApiError::validation("symbol", "must be 1 to 32 characters"));
    }
    Ok(())
}

/// The resolved account's live AccountInfo.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    tag = "trading",
    operation_id = "account_info",
    params(doc::AccountHeader),
    responses(
        (status = 200, description = "MT5's account_info plus the bridge's account_id", body = doc::AccountInfo),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn account(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let row = resolve_account(&state, &user, &headers).await?;
    let info = read(&state, &row, |t, at| {
        Box::pin(async move { t.account_info(&at).await })
    })
    .await?;
    let mut v = serde_json::to_value(&info).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("account_id".into(), json!(row.id));
    }
    Ok(Json(v))
}

/// The broker's symbols.
#[utoipa::path(
    get,
    path = "/api/v1/symbols",
    tag = "trading",
    operation_id = "list_symbols",
    params(doc::AccountHeader, doc::SymbolsQuery),
    responses(
        (status = 200, description = "The symbols", body = doc::SymbolList),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn symbols(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    query_keys(&q, &["group"])?;
    let row = resolve_account(&state, &user, &headers).await?;
    let group = q.get("group").cloned();
    let (list, offset) = read(&state, &row, move |t, at| {
        let group = group.clone();
        Box::pin(async move {
            let list = t.symbols(&at, group.as_deref()).await?;
            Ok((list, t.server_time_offset_s(&at).await?))
        })
    })
    .await?;
    Ok(Json(json!({ "symbols": to_json(&list, offset) })))
}

async fn symbol_info(
    state: &AppState,
    row: &AccountRow,
    symbol: &str,
) -> ApiResult<(SymbolInfo, i64)> {
    let sym = symbol.to_string();
    read(state, row, move |t, at| {
        let sym = sym.clone();
        Box::pin(async move {
            Ok((
                t.symbol_info(&at, &sym).await?,
                t.server_time_offset_s(&at).await?,
            ))
        })
    })
    .await
}

/// One symbol's SymbolInfo.
#[utoipa::path(
    get,
    path = "/api/v1/symbols/{symbol}",
    tag = "trading",
    operation_id = "get_symbol",
    params(("symbol" = String, Path, description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader),
    responses(
        (status = 200, description = "The symbol", body = doc::SymbolInfo),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn symbol(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Value>> {
    check_symbol(&symbol)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (info, offset) = symbol_info(&state, &row, &symbol).await?;
    Ok(Json(to_json(&info, offset)))
}

/// A symbol's last quote.
#[utoipa::path(
    get,
    path = "/api/v1/symbols/{symbol}/tick",
    tag = "trading",
    operation_id = "get_tick",
    params(("symbol" = String, Path, description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader),
    responses(
        (status = 200, description = "The last tick", body = doc::Tick),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn tick(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Value>> {
    check_symbol(&symbol)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (tick, offset) = read(&state, &row, move |t, at| {
        let sym = symbol.clone();
        Box::pin(async move {
            Ok((
                t.symbol_info_tick(&at, &sym).await?,
                t.server_time_offset_s(&at).await?,
            ))
        })
    })
    .await?;
    Ok(Json(to_json(&tick, offset)))
}

/// A symbol's bars, oldest first.
///
/// The latest `count` bars, or those between `from` and `to`.
#[utoipa::path(
    get,
    path = "/api/v1/symbols/{symbol}/rates",
    tag = "trading",
    operation_id = "get_rates",
    params(("symbol" = String, Path, description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader, doc::RatesQuery),
    responses(
        (status = 200, description = "The bars", body = doc::RateList),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn rates(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    check_symbol(&symbol)?;
    query_keys(&q, &["timeframe", "count", "from", "to"])?;
    let mut errors = Vec::new();
    let timeframe = match q.get("timeframe") {
        None => Some(Timeframe::H1),
        Some(s) => Timeframe::from_name(s).or_else(|| {
            errors.push(crate::error::FieldError::new("timeframe", "must be one of M1, M2, M3, M4, M5, M6, M10, M12, M15, M20, M30, H1, H2, H3, H4, H6, H8, H12, D1, W1, MN1"));
            None
        }),
    };
    let time_param =
        |name: &'static str, errors: &mut Vec<crate::error::FieldError>| -> Option<i64> {
            q.get(name).and_then(|s| {
                let t = crate::times::parse_input_time(&Value::String(s.clone()));
                if t.is_none() {
                    errors.push(crate::error::FieldError::new(name, crate::times::TIME_RULE));
                }
                t
            })
        };
    let from = time_param("from", &mut errors);
    let to = time_param("to", &mut errors);
    let count = match q.get("count") {
        None => None,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=10_000).contains(&n) => Some(n),
            _ => {
                errors.push(crate::error::FieldError::new(
                    "count",
                    "must be an integer from 1 to 10000",
                ));
                None
            }
        },
    };
    if count.is_some() && (q.contains_key("from") || q.contains_key("to")) {
        errors.push(crate::error::FieldError::new(
            "count",
            "use either count or from/to",
        ));
    }
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push(crate::error::FieldError::new(
                "from",
                "must not be after to",
            ));
        } else if t - f > crate::times::MAX_WINDOW_S {
            errors.push(crate::error::FieldError::new(
                "from",
                "the window from `from` to `to` must be at most 366 days",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let Some(tf) = timeframe else {
        return Err(ApiError::validation("timeframe", "is invalid"));
    };
    let ranged = from.is_some() || to.is_some();
    // A window open at one end is closed at now (the end) or 366 days before the end (the start).
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let to = to.unwrap_or(now);
    let from = from.unwrap_or((to - crate::times::MAX_WINDOW_S).max(0));
    if ranged && to.saturating_sub(from) > crate::times::MAX_WINDOW_S {
        return Err(ApiError::validation(
            "from",
            "the window from `from` to `to` must be at most 366 days",
        ));
    }
    let row = resolve_account(&state, &user, &headers).await?;
    let (bars, offset) = read(&state, &row, move |t, at| {
        let sym = symbol.clone();
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let range = if ranged {
                mt5::RatesRange::Range {
                    from: from.saturating_add(offset),
                    to: to.saturating_add(offset),
                }
            } else {
                mt5::RatesRange::FromPos {
                    start: 0,
                    count: count.unwrap_or(100),
                }
            };
            Ok((t.copy_rates(&at, &sym, tf, range).await?, offset))
        })
    })
    .await?;
    Ok(Json(json!({ "rates": to_json(&bars, offset) })))
}

/// Open positions or active orders of the resolved account, optionally of one symbol.
async fn open_items(
    state: AppState,
    user: AuthUser,
    headers: HeaderMap,
    q: HashMap<String, String>,
    positions: bool,
) -> ApiResult<Json<Value>> {
    query_keys(&q, &["symbol"])?;
    let row = resolve_account(&state, &user, &headers).await?;
    let filter = q
        .get("symbol")
        .map(|s| PositionFilter::Symbol(s.clone()))
        .unwrap_or_default();
    let (list, offset) = read(&state, &row, move |t, at| {
        let filter = filter.clone();
        Box::pin(async move {
            let list = if positions {
                serde_json::to_value(t.positions(&at, &filter).await?)
            } else {
                serde_json::to_value(t.orders(&at, &filter).await?)
            };
            Ok((
                list.unwrap_or(Value::Null),
                t.server_time_offset_s(&at).await?,
            ))
        })
    })
    .await?;
    let mut list = list;
    convert_times(&mut list, offset);
    let name = if positions { "positions" } else { "orders" };
    Ok(Json(json!({ name: list })))
}

/// The resolved account's open positions.
#[utoipa::path(
    get,
    path = "/api/v1/positions",
    tag = "trading",
    operation_id = "list_positions",
    params(doc::AccountHeader, doc::SymbolFilter),
    responses(
        (status = 200, description = "The open positions", body = doc::PositionList),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn positions(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    open_items(state, user, headers, q, true).await
}

/// The resolved account's active pending orders.
#[utoipa::path(
    get,
    path = "/api/v1/orders",
    tag = "trading",
    operation_id = "list_orders",
    params(doc::AccountHeader, doc::SymbolFilter),
    responses(
        (status = 200, description = "The pending orders", body = doc::OrderList),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn orders(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    open_items(state, user, headers, q, false).await
}

/// A validated POST /orders body.
#[derive(Debug, Clone)]
struct PlaceOrder {
    symbol: String,
    r#type: OrderType,
    volume: f64,
    price: Option<f64>,
    stoplimit: Option<f64>,
    sl: f64,
    tp: f64,
    deviation: u64,
    type_filling: Option<OrderFilling>,
    type_time: OrderTime,
    expiration_utc: Option<i64>,
    comment: Option<String>,
    magic: u64,
}

fn parse_place(body: &Value) -> ApiResult<(PlaceOrder, Value)> {
    let mut f = Fields::new(body)?;
    let symbol = f.required_string("symbol", SYMBOL_MAX);
    let r#type = f.mt5_enum("type", PLACE_TYPES);
    if body.get("type").is_none_or(Value::is_null) {
        f.error("type", "is required");
    }
    let volume = f.number("volume", true);
    if body.get("volume").is_none_or(Value::is_null) {
        f.error("volume", "is required");
    }
    let price = f.number("price", true).value();
    let stoplimit = f.number("stoplimit", true).value();
    let sl = f.number("sl", false).value().unwrap_or(0.0);
    let tp = f.number("tp", false).value().unwrap_or(0.0);
    let deviation = f.uint("deviation").value().unwrap_or(20);
    let type_filling = f.mt5_enum("type_filling", OrderFilling::all()).value();
    let type_time = f
        .mt5_enum("type_time", OrderTime::all())
        .value()
        .unwrap_or(OrderTime::Gtc);
    let expiration = f.time("expiration").value();
    let comment = f.string("comment", 64).value();
    let magic = f.uint("magic").value().unwrap_or(0);
    if let Opt::Value(t) = &r#type {
        if t.is_pending() && price.is_none() {
            f.error("price", "is required for pending orders");
        }
        if t.is_stop_limit() && stoplimit.is_none() {
            f.error("stoplimit", "is required for stop-limit orders");
        }
    }
    if matches!(type_time, OrderTime::Specified | OrderTime::SpecifiedDay) && expiration.is_none() {
        f.error(
            "expiration",
            "is required when type_time is specified or specified_day",
        );
    }
    f.finish()?;
    let (Some(symbol), Opt::Value(r#type), Opt::Value(volume)) = (symbol, r#type, volume) else {
        return Err(ApiError::validation(
            "body",
            "symbol, type and volume are required",
        ));
    };
    let o = PlaceOrder {
        symbol,
        r#type,
        volume,
        price,
        stoplimit,
        sl,
        tp,
        deviation,
        type_filling,
        type_time,
        expiration_utc: expiration,
        comment,
        magic,
    };
    let normalized = json!({
        "symbol": o.symbol, "type": o.r#type, "volume": o.volume, "price": o.price, "stoplimit": o.stoplimit,
        "sl": o.sl, "tp": o.tp, "deviation": o.deviation, "type_filling": o.type_filling, "type_time": o.type_time,
        "expiration": o.expiration_utc, "comment": o.comment, "magic": o.magic,
    });
    Ok((o, normalized))
}

/// Builds the MT5 request for a new order at the current quote, in the terminal; the inner `Err`
/// says why `type_filling` must be named: the symbol leaves no default (see [`default_filling`]).
async fn build_place(
    t: &dyn mt5::Terminal,
    at: &mt5::Expected,
    o: &PlaceOrder,
    comment: String,
) -> Result<Result<(TradeRequest, i64), String>, mt5::TerminalError> {
    let info = t.symbol_info(at, &o.symbol).await?;
    let Some(type_filling) = o.type_filling.or_else(|| default_filling(&info, o.r#type)) else {
        return Ok(Err(filling_unknown(&info)));
    };
    let offset = t.server_time_offset_s(at).await?;
    let price = match o.price {
        Some(p) => p,
        None => {
            let tick = t.symbol_info_tick(at, &o.symbol).await?;
            crate::trading::market_price(o.r#type, tick.bid, tick.ask)
        }
    };
    let req = TradeRequest {
        action: if o.r#type.is_market() {
            TradeAction::Deal
        } else {
            TradeAction::Pending
        },
        magic: o.magic,
        symbol: o.symbol.clone(),
        volume: o.volume,
        price,
        stoplimit: o.stoplimit.unwrap_or(0.0),
        sl: o.sl,
        tp: o.tp,
        deviation: o.deviation,
        r#type: o.r#type,
        type_filling,
        type_time: o.type_time,
        expiration: o
            .expiration_utc
            .map(|e| e.saturating_add(offset))
            .unwrap_or(0),
        comment,
        ..Default::default()
    };
    Ok(Ok((req, offset)))
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
    request_body = doc::PlaceOrderRequest,
    responses(
        (status = 200, description = "MT5 accepted it (a repeated `Idempotency-Key` replays the first response)", body = doc::OrderSendResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::TradingDisabledOrReadOnly),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::InProgressOrCredentialsInvalid),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed` (`risk_limits.<key>` when the account's stored limits are invalid); `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `risk_limit_exceeded` (the limit and its numbers in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
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
        action: "place",
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent, move |t, at, client_id| {
        let o = order.clone();
        Box::pin(async move {
            let (req, offset) = match build_place(
                t.as_ref(),
                &at,
                &o,
                order_comment(&client_id, o.comment.as_deref()),
            )
            .await?
            {
                Ok(built) => built,
                Err(message) => {
                    return Ok(Prepared::Unsendable {
                        code: FILLING_MODE,
                        field: "type_filling",
                        message,
                    })
                }
            };
            Ok(Prepared::Send {
                request: req,
                offset_s: offset,
            })
        })
    })
    .await
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
    request_body = doc::PlaceOrderRequest,
    responses(
        (status = 200, description = "MT5's check (retcode 0: it would pass)", body = doc::OrderCheckResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`; `mt5_login_failed`", body = doc::ErrorBody),
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
) -> ApiResult<Json<Value>> {
    let (order, _) = parse_place(&body)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (result, offset) = read(&state, &row, move |t, at| {
        let o = order.clone();
        Box::pin(async move {
            let built = build_place(
                t.as_ref(),
                &at,
                &o,
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
    Ok(Json(to_json(&result, offset)))
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

/// Modify a pending order.
///
/// Its price, SL, TP, stop-limit price or expiration; absent fields are kept.
#[utoipa::path(
    put,
    path = "/api/v1/orders/{ticket}",
    tag = "trading",
    operation_id = "modify_order",
    params(("ticket" = u64, Path, description = "The pending order's ticket"), doc::OrderHeaders),
    request_body = doc::ModifyOrderRequest,
    responses(
        (status = 200, description = "MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response)", body = doc::ModifyResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::TradingDisabledOrReadOnly),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `order_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::InProgressOrCredentialsInvalid),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
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
    let mut f = Fields::new(&body)?;
    let price = f.number("price", true);
    let sl = f.number("sl", false);
    let tp = f.number("tp", false);
    let stoplimit = f.number("stoplimit", true);
    let expiration = f.time("expiration");
    f.finish()?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let existing = find_order(&state, &row, ticket).await?;
    let normalized = json!({
        "ticket": ticket, "price": price.clone().value(), "sl": sl.clone().value(), "tp": tp.clone().value(),
        "stoplimit": stoplimit.clone().value(), "expiration": expiration.clone().value(),
    });
    let intent = Intent {
        action: "modify_order",
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    // MT5's MODIFY resends every level: absent fields keep the order's own; null removes sl/tp.
    let keep = |o: Opt<f64>, current: f64| match o {
        Opt::Absent => current,
        Opt::Null => 0.0,
        Opt::Value(v) => v,
    };
    let new_price = keep(price, existing.price_open);
    let new_sl = keep(sl, existing.sl);
    let new_tp = keep(tp, existing.tp);
    let new_stoplimit = keep(stoplimit, existing.price_stoplimit);
    submit(&state, &user.ctx, &row, intent, move |t, at, _client_id| {
        let existing = existing.clone();
        let expiration = expiration.clone();
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let (type_time, exp) = match expiration {
                Opt::Value(e) => (OrderTime::Specified, e.saturating_add(offset)),
                Opt::Null => (OrderTime::Gtc, 0),
                Opt::Absent => (existing.type_time, existing.time_expiration),
            };
            let req = TradeRequest {
                action: TradeAction::Modify,
                order: existing.ticket,
                symbol: existing.symbol.clone(),
                price: new_price,
                sl: new_sl,
                tp: new_tp,
                stoplimit: new_stoplimit,
                type_time,
                expiration: exp,
                ..Default::default()
            };
            Ok(Prepared::Send {
                request: req,
                offset_s: offset,
            })
        })
    })
    .await
}

/// Cancel a pending order.
#[utoipa::path(
    delete,
    path = "/api/v1/orders/{ticket}",
    tag = "trading",
    operation_id = "cancel_order",
    params(("ticket" = u64, Path, description = "The pending order's ticket"), doc::OrderHeaders),
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
        action: "cancel_order",
        request: json!({ "ticket": ticket }),
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent, move |t, at, _| {
        Box::pin(async move {
            let req = TradeRequest {
                action: TradeAction::Remove,
                order: ticket,
                ..Default::default()
            };
            prepared(t.as_ref(), &at, req).await
        })
    })
    .await
}

/// Change a position's SL and/or TP.
///
/// An absent one is kept; null removes it.
#[utoipa::path(
    put,
    path = "/api/v1/positions/{ticket}",
    tag = "trading",
    operation_id = "modify_position",
    params(("ticket" = u64, Path, description = "The position's ticket"), doc::OrderHeaders),
    request_body = doc::ModifyPositionRequest,
    responses(
        (status = 200, description = "MT5 accepted it, `changed` false when there was nothing to change (a repeated `Idempotency-Key` replays the first response)", body = doc::ModifyResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::TradingDisabledOrReadOnly),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::InProgressOrCredentialsInvalid),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
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
    let mut f = Fields::new(&body)?;
    let sl = f.number("sl", false);
    let tp = f.number("tp", false);
    if sl.is_absent() && tp.is_absent() && body.get("sl").is_none() && body.get("tp").is_none() {
        f.error("sl", "give sl and/or tp");
    }
    f.finish()?;
    let key = idempotency_key(&headers)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let pos = find_position(&state, &row, ticket).await?;
    let level = |o: &Opt<f64>, current: f64| match o {
        Opt::Absent => current,
        Opt::Null => 0.0,
        Opt::Value(v) => *v,
    };
    let (new_sl, new_tp) = (level(&sl, pos.sl), level(&tp, pos.tp));
    let normalized = json!({ "ticket": ticket, "sl": new_sl, "tp": new_tp });
    let intent = Intent {
        action: "modify_position",
        request: normalized,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent, move |t, at, _| {
        let symbol = pos.symbol.clone();
        Box::pin(async move {
            let req = TradeRequest {
                action: TradeAction::Sltp,
                position: ticket,
                symbol,
                sl: new_sl,
                tp: new_tp,
                ..Default::default()
            };
            prepared(t.as_ref(), &at, req).await
        })
    })
    .await
}

/// Close a position, or part of it.
///
/// With `volume`, only that many lots close; without a body, the whole position.
#[utoipa::path(
    post,
    path = "/api/v1/positions/{ticket}/close",
    tag = "trading",
    operation_id = "close_position",
    params(("ticket" = u64, Path, description = "The position's ticket"), doc::OrderHeaders),
    request_body(content = Option<doc::ClosePositionRequest>, description = "Optional: without a body the whole position closes"),
    responses(
        (status = 200, description = "MT5 accepted it (a repeated `Idempotency-Key` replays the first response)", body = doc::OrderSendResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, response = doc::TradingDisabledOrReadOnly),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `position_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::InProgressOrCredentialsInvalid),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`; `trade_rejected` (MT5's `retcode`, `retcode_name`, `comment` in `details`); `idempotency_key_reused`; `mt5_login_failed`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
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
    let body = body.unwrap_or_else(|| json!({}));
    let mut f = Fields::new(&body)?;
    let volume = f.number("volume", true).value();
    let deviation = f.uint("deviation").value().unwrap_or(20);
    let comment = f.string("comment", 64).value();
    let type_filling = f.mt5_enum("type_filling", OrderFilling::all()).value();
    f.finish()?;
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
        action: "close_position",
        request,
        idempotency_key: key,
        source: Source::Api,
    };
    submit(&state, &user.ctx, &row, intent, move |t, at, client_id| {
        let pos = pos.clone();
        let comment = order_comment(&client_id, comment.as_deref());
        Box::pin(async move {
            let info = t.symbol_info(&at, &pos.symbol).await?;
            let tick = t.symbol_info_tick(&at, &pos.symbol).await?;
            let Some(type_filling) = type_filling.or_else(|| default_filling(&info, r#type)) else {
                return Ok(filling_required(&info));
            };
            let price = crate::trading::market_price(r#type, tick.bid, tick.ask);
            let req = crate::trading::close_request(
                &pos,
                r#type,
                volume,
                price,
                deviation,
                type_filling,
                comment,
            );
            prepared(t.as_ref(), &at, req).await
        })
    })
    .await
}

fn page_params(
    q: &HashMap<String, String>,
    default_limit: u32,
    max: u32,
) -> ApiResult<(u32, Option<String>)> {
    let limit = match q.get("limit") {
        None => default_limit,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::validation("limit", format!("must be an integer from 1 to {max}"))
            })?,
    };
    Ok((limit, q.get("cursor").cloned()))
}

async fn history(
    state: AppState,
    user: AuthUser,
    headers: HeaderMap,
    q: HashMap<String, String>,
    list: HistoryList,
) -> ApiResult<Json<Value>> {
    query_keys(&q, &["from", "to", "limit", "cursor"])?;
    let (limit, cursor) = page_params(&q, 100, 1000)?;
    let parse = |name: &'static str| -> ApiResult<Option<i64>> {
        match q.get(name) {
            None => Ok(None),
            Some(s) => crate::times::parse_input_time(&Value::String(s.clone()))
                .map(Some)
                .ok_or_else(|| ApiError::validation(name, crate::times::TIME_RULE)),
        }
    };
    let (from_q, to_q) = (parse("from")?, parse("to")?);
    // The first page resolves its window now; the cursors that follow carry it unchanged.
    let as_of_ms = now_ms();
    let first = match cursor {
        Some(_) => None,
        None => {
            let to = to_q.unwrap_or(as_of_ms.div_euclid(1000));
            let from = from_q.unwrap_or((to - 86_400).max(0));
            if from > to {
                return Err(ApiError::validation("from", "must not be after to"));
            }
            if to - from > crate::times::MAX_WINDOW_S {
                return Err(ApiError::validation(
                    "from",
                    "the window from `from` to `to` must be at most 366 days",
                ));
            }
            Some((from, to))
        }
    };
    let row = resolve_account(&state, &user, &headers).await?;
    let window = match (first, cursor) {
        (Some((from, to)), _) => HistoryCursor::new(list, row.id, from, to, as_of_ms, 0),
        (None, raw) => {
            let c = HistoryCursor::decode(raw.as_deref().unwrap_or_default(), list, row.id)?;
            // A later page reads the first page's window: `from` and `to` may be repeated, not
            // changed.
            for (name, given, fixed) in [("from", from_q, c.from), ("to", to_q, c.to)] {
                if given.is_some_and(|t| t != fixed) {
                    return Err(ApiError::validation(
                        name,
                        "must be left out or equal to the window of the cursor's first page",
                    ));
                }
            }
            c
        }
    };
    // The terminal (or its agent) reads the window and sends back only this page.
    let page_req = mt5::PageRequest {
        offset: window.offset,
        limit,
    };
    let (from, to, as_of_ms) = (window.from, window.select_to(), window.as_of_ms);
    let (items, next, offset) = read(&state, &row, move |t, at| {
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            if from > to {
                // A window that starts after the first page was read holds nothing yet.
                return Ok((Value::Array(Vec::new()), None, offset));
            }
            let select = HistorySelect::Range {
                from: from.saturating_add(offset),
                to: to.saturating_add(offset),
                group: None,
            };
            // Items later than the first page are in no page. MT5 lists history oldest first,
            // so they are the tail: once one is met, the window has no more pages.
            let until_ms = as_of_ms.saturating_add(offset.saturating_mul(1000));
            let (items, next) = match list {
                HistoryList::Deals => {
                    let p = t.history_deals_page(&at, &select, page_req).await?;
                    let (items, next) = as_of(p, until_ms, |d| d.time_msc);
                    (serde_json::to_value(items).unwrap_or(Value::Null), next)
                }
                HistoryList::Orders => {
                    let p = t.history_orders_page(&at, &select, page_req).await?;
                    let (items, next) = as_of(p, until_ms, |o| o.time_setup_msc);
                    (serde_json::to_value(items).unwrap_or(Value::Null), next)
                }
            };
            Ok((items, next, offset))
        })
    })
    .await?;
    let mut page = items;
    convert_times(&mut page, offset);
    let next = match next {
        Some(n) => json!(window.at(n).encode()),
        None => Value::Null,
    };
    let name = match list {
        HistoryList::Deals => "deals",
        HistoryList::Orders => "orders",
    };
    Ok(Json(json!({ name: page, "next_cursor": next })))
}

/// The page's items up to `until_ms` (server-clock ms); the next offset only if none was later.
fn as_of<T>(
    page: mt5::Page<T>,
    until_ms: i64,
    time_msc: impl Fn(&T) -> i64,
) -> (Vec<T>, Option<u64>) {
    let total = page.items.len();
    let items: Vec<T> = page
        .items
        .into_iter()
        .filter(|i| time_msc(i) <= until_ms)
        .collect();
    let next = if items.len() == total {
        page.next
    } else {
        None
    };
    (items, next)
}

fn now_ms() -> i64 {
    let ns = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(ns / 1_000_000).unwrap_or(i64::MAX)
}

/// The resolved account's deals in a time range.
///
/// Default: the last 24 hours, 100 per page. Later pages (`cursor`) keep the first page's window:
/// what arrives between pages is on none of them.
#[utoipa::path(
    get,
    path = "/api/v1/history/deals",
    tag = "trading",
    operation_id = "history_deals",
    params(doc::AccountHeader, doc::HistoryQuery),
    responses(
        (status = 200, description = "A page of deals", body = doc::DealPage),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn history_deals(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    history(state, user, headers, q, HistoryList::Deals).await
}

/// The resolved account's history orders in a time range.
///
/// Default: the last 24 hours, 100 per page. Later pages (`cursor`) keep the first page's window:
/// what arrives between pages is on none of them.
#[utoipa::path(
    get,
    path = "/api/v1/history/orders",
    tag = "trading",
    operation_id = "history_orders",
    params(doc::AccountHeader, doc::HistoryQuery),
    responses(
        (status = 200, description = "A page of orders", body = doc::HistoryOrderPage),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NoAccountToActOn),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, response = doc::TradingReadInvalid),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn history_orders(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    history(state, user, headers, q, HistoryList::Orders).await
}

fn journal_json(e: &crate::store::journal::JournalEntry) -> Value {
    json!({
        "id": e.id, "account_id": e.account_id, "client_id": e.client_id, "idempotency_key": e.idempotency_key,
        "source": e.source, "algorithm_id": e.algorithm_id, "run_id": e.run_id, "action": e.action,
        "request": e.request, "status": e.status, "retcode": e.retcode, "order": e.order, "deal": e.deal,
        "volume": e.volume, "price": e.price, "error": e.error,
        "created_at": crate::http::accounts::rfc3339(e.created_at),
        "completed_at": e.completed_at.map(crate::http::accounts::rfc3339),
    })
}

/// One journal entry of the user's.
///
/// The way to follow an order whose answer was lost (`terminal_timeout` with
/// `details.status: "unknown"`): its status turns `done`, `rejected` or `not_executed` once the
/// broker's history settles it.
#[utoipa::path(
    get,
    path = "/api/v1/journal/{id}",
    tag = "trading",
    operation_id = "journal_entry",
    params(("id" = Uuid, Path, description = "The entry's id (`details.journal_id` of an order's error)")),
    responses(
        (status = 200, description = "The entry", body = doc::JournalEntryEnvelope),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`journal_entry_not_found` (also another user's entry)", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn journal_entry(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = path_uuid("id", &raw)?;
    let entry = state
        .store
        .get_entry(&user.ctx, id)
        .await?
        .ok_or(ApiError::JournalEntryNotFound)?;
    Ok(Json(json!({ "entry": journal_json(&entry) })))
}

/// The user's order journal, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/journal",
    tag = "trading",
    operation_id = "journal",
    params(doc::JournalQuery),
    responses(
        (status = 200, description = "A page of entries", body = doc::JournalPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: a bad `account_id`, `limit` or `cursor`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn journal(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    query_keys(&q, &["account_id", "limit", "cursor"])?;
    let (limit, cursor) = page_params(&q, 50, 500)?;
    let account_id = match q.get("account_id") {
        None => None,
        Some(s) => Some(path_uuid("account_id", s)?),
    };
    let before = match cursor {
        None => None,
        Some(c) => {
            let bad = || ApiError::validation("cursor", "is not a cursor from this endpoint");
            let (t, id) = c.split_once('_').ok_or_else(bad)?;
            let t = time::OffsetDateTime::parse(t, &Rfc3339).map_err(|_| bad())?;
            Some((t, Uuid::parse_str(id).map_err(|_| bad())?))
        }
    };
    let entries = state
        .store
        .list_entries(
            &user.ctx,
            JournalFilter {
                account_id,
                before,
                limit: limit + 1,
            },
        )
        .await?;
    let more = entries.len() > limit as usize;
    let page: Vec<_> = entries.into_iter().take(limit as usize).collect();
    let next = match (more, page.last()) {
        (true, Some(last)) => json!(format!(
            "{}_{}",
            crate::http::accounts::rfc3339(last.created_at),
            last.id
        )),
        _ => Value::Null,
    };
    Ok(Json(
        json!({ "entries": page.iter().map(journal_json).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}
