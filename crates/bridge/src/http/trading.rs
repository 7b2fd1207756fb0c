//! What the trading endpoints share: the account a request acts on, its headers and query
//! strings, tickets and symbols. The endpoints are in `market.rs`, `orders.rs`, `positions.rs` and
//! `history.rs`: account info, symbols, ticks, rates, positions, orders (place, check, modify,
//! cancel), position SL/TP and close, history, and the journal.
//!
//! The account is the `X-Account-Id` header's (ownership checked), else the user's current
//! account, else the default. Fields are MT5's names; times are RFC 3339 UTC.

use super::extract::AuthUser;
use super::validate::{any_text, Request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::AccountRow;
use crate::times::Utc;
use crate::trading::{read, Outcome};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mt5::{Expected, OrderType, PositionFilter, Terminal, TerminalError};
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub(super) const PLACE_TYPES: &[OrderType] = &[
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

pub(super) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
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

/// `?symbol=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct SymbolFilter {
    /// Only this symbol's.
    #[param(required = false, value_type = String, pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$")]
    #[request(with = any_text)]
    pub symbol: Option<String>,
}

pub(super) fn parse_ticket(raw: &str) -> ApiResult<u64> {
    raw.parse::<u64>()
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| ApiError::validation("ticket", "must be a positive integer"))
}

pub(super) fn check_symbol(symbol: &str) -> ApiResult<()> {
    if !crate::fields::is_symbol(symbol) {
        return Err(ApiError::validation("symbol", crate::fields::SYMBOL_RULE));
    }
    Ok(())
}

/// Open positions or active orders of the resolved account, optionally of one symbol: `fetch`
/// reads them from the terminal, and they come back with their server-time offset.
pub(super) async fn open_items<T, F>(
    state: AppState,
    user: AuthUser,
    headers: HeaderMap,
    q: HashMap<String, String>,
    fetch: F,
) -> ApiResult<Utc<Vec<T>>>
where
    T: Send + 'static,
    F: Fn(
            Arc<dyn Terminal>,
            Expected,
            PositionFilter,
        ) -> crate::pool::BoxFuture<Result<Vec<T>, TerminalError>>
        + Send
        + Sync
        + 'static,
{
    let SymbolFilter { symbol } = SymbolFilter::parse_query(&q)?;
    let row = resolve_account(&state, &user, &headers).await?;
    let filter = symbol.map(PositionFilter::Symbol).unwrap_or_default();
    let fetch = Arc::new(fetch);
    let (list, offset) = read(&state, &row, move |t, at| {
        let (filter, fetch) = (filter.clone(), fetch.clone());
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            Ok((fetch(t, at, filter).await?, offset))
        })
    })
    .await?;
    Ok(Utc(list, offset))
}
