//! Market data and the account: `GET /account`, symbols, ticks and rates of the resolved account.

use super::doc;
use super::extract::AuthUser;
use super::extract::{Path, Query};
use super::trading::*;
use super::validate::{any_text, input_time, Fields, Opt, Request, Rule};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::AccountRow;
use crate::times::Utc;
use crate::trading::read;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use mt5::enums::Mt5Enum;
use mt5::{SymbolInfo, Timeframe};
use std::collections::HashMap;
use utoipa::IntoParams;

/// The resolved account's live AccountInfo.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    tag = "trading",
    operation_id = "account_info",
    params(doc::AccountHeader),
    responses(
        (status = 200, description = "MT5's account_info plus the bridge's account_id", body = AccountInfoBody),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn account(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> ApiResult<Json<AccountInfoBody>> {
    let row = resolve_account(&state, &user, &headers).await?;
    let info = read(&state, &row, |t, at| {
        Box::pin(async move { t.account_info(&at).await })
    })
    .await?;
    Ok(Json(AccountInfoBody {
        account_id: row.id,
        info,
    }))
}

/// MT5's `account_info()`, live from the terminal, plus the bridge's `account_id`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = AccountInfo)]
pub struct AccountInfoBody {
    /// The bridge's id of the account (not an MT5 field).
    pub account_id: uuid::Uuid,
    #[serde(flatten)]
    #[schema(inline)]
    pub info: mt5::AccountInfo,
}

/// The broker's symbols.
#[utoipa::path(
    get,
    path = "/api/v1/symbols",
    tag = "trading",
    operation_id = "list_symbols",
    params(doc::AccountHeader, SymbolsQuery),
    responses(
        (status = 200, description = "The symbols", body = SymbolList),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn symbols(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<SymbolList>> {
    let SymbolsQuery { group } = SymbolsQuery::parse_query(&q)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (list, offset) = read(&state, &row, move |t, at| {
        let group = group.clone();
        Box::pin(async move {
            let list = t.symbols(&at, group.as_deref()).await?;
            Ok((list, t.server_time_offset_s(&at).await?))
        })
    })
    .await?;
    Ok(Json(SymbolList {
        symbols: Utc(list, offset),
    }))
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
    params(("symbol" = String, Path, pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$", description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader),
    responses(
        (status = 200, description = "The symbol", body = doc::SymbolInfo),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn symbol(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Utc<SymbolInfo>>> {
    check_symbol(&symbol)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let (info, offset) = symbol_info(&state, &row, &symbol).await?;
    Ok(Json(Utc(info, offset)))
}

/// A symbol's last quote.
#[utoipa::path(
    get,
    path = "/api/v1/symbols/{symbol}/tick",
    tag = "trading",
    operation_id = "get_tick",
    params(("symbol" = String, Path, pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$", description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader),
    responses(
        (status = 200, description = "The last tick", body = doc::Tick),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn tick(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
) -> ApiResult<Json<Utc<mt5::Tick>>> {
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
    Ok(Json(Utc(tick, offset)))
}

/// A symbol's bars, oldest first.
///
/// The latest `count` bars, or those between `from` and `to`.
#[utoipa::path(
    get,
    path = "/api/v1/symbols/{symbol}/rates",
    tag = "trading",
    operation_id = "get_rates",
    params(("symbol" = String, Path, pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$", description = "As the broker names it, e.g. EURUSD"), doc::AccountHeader, RatesQuery),
    responses(
        (status = 200, description = "The bars", body = RateList),
        (status = 404, description = "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on); `symbol_not_found`", body = doc::ErrorBody),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn rates(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<RateList>> {
    check_symbol(&symbol)?;
    let RatesQuery {
        timeframe,
        count,
        from,
        to,
    } = RatesQuery::parse_query(&q)?;
    let tf = timeframe.unwrap_or(Timeframe::H1);
    let ranged = from.is_some() || to.is_some();
    // A window open at one end is closed at now (the end) or 366 days before the end (the start).
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let to = to.unwrap_or(now);
    let from = from.unwrap_or((to - crate::times::MAX_WINDOW_S).max(0));
    if let Some(fault) = crate::times::window_fault(from, to).filter(|_| ranged) {
        return Err(ApiError::combination("from", fault));
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
            let bars = match t.copy_rates(&at, &sym, tf, range).await {
                // MT5 answers a range older than the history it keeps with `-1 Call failed`:
                // there are no bars to give, which is not a fault of the terminal.
                Err(mt5::TerminalError::Mt5 { code, .. })
                    if ranged && code == mt5::last_error::FAIL =>
                {
                    Vec::new()
                }
                other => other?,
            };
            Ok((bars, offset))
        })
    })
    .await?;
    Ok(Json(RateList {
        rates: Utc(bars, offset),
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SymbolList {
    #[schema(value_type = Vec<SymbolInfo>)]
    pub symbols: Utc<Vec<SymbolInfo>>,
}

/// Bars, oldest first.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RateList {
    #[schema(value_type = Vec<mt5::Rate>)]
    pub rates: Utc<Vec<mt5::Rate>>,
}

/// `?group=`
#[derive(IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct SymbolsQuery {
    /// MT5's group filter, e.g. `*USD*`.
    #[request(with = any_text)]
    pub group: Option<String>,
}

/// `?timeframe=&count=` or `?timeframe=&from=&to=`
#[derive(IntoParams, Request)]
#[into_params(parameter_in = Query)]
#[request(check = count_or_window)]
pub struct RatesQuery {
    /// `M1` … `MN1` (default `H1`).
    #[param(required = false, value_type = doc::TimeframeInput)]
    #[request(with = timeframe)]
    pub timeframe: Option<Timeframe>,
    /// The latest bars, 1 to 10000 (default 100); not with `from`/`to`.
    #[param(minimum = 1, maximum = 10000)]
    pub count: Option<u32>,
    /// RFC 3339 or epoch seconds.
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub from: Option<i64>,
    /// RFC 3339 or epoch seconds (default now).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub to: Option<i64>,
}

/// `timeframe` by MT5's name.
fn timeframe(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<Timeframe> {
    match any_text(f, name, rule) {
        Opt::Value(s) => match Timeframe::from_name(&s) {
            Some(tf) => Opt::Value(tf),
            None => {
                f.error(
                    name,
                    "must be one of M1, M2, M3, M4, M5, M6, M10, M12, M15, M20, M30, H1, H2, H3, \
                     H4, H6, H8, H12, D1, W1, MN1",
                );
                Opt::Absent
            }
        },
        Opt::Null => Opt::Null,
        Opt::Absent => Opt::Absent,
    }
}

/// The latest `count` bars, or a window: not both.
fn count_or_window(q: &RatesQuery, f: &mut Fields<'_>) {
    if q.count.is_some() && (f.has("from") || f.has("to")) {
        f.conflict("count", "use either count or from/to");
    }
}
