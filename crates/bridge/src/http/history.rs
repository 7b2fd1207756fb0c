//! History (deals and orders, paged with opaque cursors) and the order journal.

use super::doc;
use super::extract::{path_uuid, AuthUser};
use super::extract::{Path, Query};
use super::history_cursor::{HistoryCursor, HistoryList};
use super::trading::*;
use super::validate::{any_text, input_time, query_uuid, Request};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::journal::{JournalEntry, JournalFilter, JournalStatus};
use crate::times::Utc;
use crate::trading::read;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use mt5::{Expected, HistorySelect, Terminal, TerminalError, TradeDeal, TradeOrder};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Reads one page of a history list of the terminal.
type FetchPage<T> = fn(
    Arc<dyn Terminal>,
    Expected,
    HistorySelect,
    mt5::PageRequest,
) -> crate::pool::BoxFuture<Result<mt5::Page<T>, TerminalError>>;

/// One page of deals or history orders (`list` names which, for the cursor), with the cursor of
/// the next page; `time_msc` is an item's time, to leave out what is later than the first page.
async fn history<T: Send + 'static>(
    state: AppState,
    user: AuthUser,
    headers: HeaderMap,
    q: HashMap<String, String>,
    list: HistoryList,
    fetch: FetchPage<T>,
    time_msc: fn(&T) -> i64,
) -> ApiResult<(Utc<Vec<T>>, Option<String>)> {
    let HistoryQuery {
        from: from_q,
        to: to_q,
        limit,
        cursor,
    } = HistoryQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(100);
    // The first page resolves its window now; the cursors that follow carry it unchanged.
    let as_of_ms = now_ms();
    let first = match cursor {
        Some(_) => None,
        None => {
            let to = to_q.unwrap_or(as_of_ms.div_euclid(1000));
            let from = from_q.unwrap_or((to - 86_400).max(0));
            if let Some(fault) = crate::times::window_fault(from, to) {
                return Err(ApiError::combination("from", fault));
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
                    return Err(ApiError::combination(
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
                return Ok((Vec::new(), None, offset));
            }
            let select = HistorySelect::Range {
                from: from.saturating_add(offset),
                to: to.saturating_add(offset),
                group: None,
            };
            // Items later than the first page are in no page. MT5 lists history oldest first,
            // so they are the tail: once one is met, the window has no more pages.
            let until_ms = as_of_ms.saturating_add(offset.saturating_mul(1000));
            let page = fetch(t, at, select, page_req).await?;
            let (items, next) = as_of(page, until_ms, time_msc);
            Ok((items, next, offset))
        })
    })
    .await?;
    let next = next.map(|n| window.at(n).encode());
    Ok((Utc(items, offset), next))
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
    params(doc::AccountHeader, HistoryQuery),
    responses(
        (status = 200, description = "A page of deals", body = DealPage),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn history_deals(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<DealPage>> {
    let (deals, next_cursor) = history(
        state,
        user,
        headers,
        q,
        HistoryList::Deals,
        |t, at, select, page| {
            Box::pin(async move { t.history_deals_page(&at, &select, page).await })
        },
        |d: &TradeDeal| d.time_msc,
    )
    .await?;
    Ok(Json(DealPage { deals, next_cursor }))
}

/// A page of deals; `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct DealPage {
    #[schema(value_type = Vec<TradeDeal>)]
    pub deals: Utc<Vec<TradeDeal>>,
    /// Opaque: pass it as `cursor` to the same route, for the same account, for the next page of
    /// the same window.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
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
    params(doc::AccountHeader, HistoryQuery),
    responses(
        (status = 200, description = "A page of orders", body = HistoryOrderPage),
        (status = 404, response = doc::NoAccountToActOn),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn history_orders(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<HistoryOrderPage>> {
    let (orders, next_cursor) = history(
        state,
        user,
        headers,
        q,
        HistoryList::Orders,
        |t, at, select, page| {
            Box::pin(async move { t.history_orders_page(&at, &select, page).await })
        },
        |o: &TradeOrder| o.time_setup_msc,
    )
    .await?;
    Ok(Json(HistoryOrderPage {
        orders,
        next_cursor,
    }))
}

/// A page of history orders; `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct HistoryOrderPage {
    #[schema(value_type = Vec<TradeOrder>)]
    pub orders: Utc<Vec<TradeOrder>>,
    /// Opaque: pass it as `cursor` to the same route, for the same account, for the next page of
    /// the same window.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

pub use crate::store::journal::{JournalAction, JournalSource};

/// One order intent, journaled before it was sent.
#[derive(Serialize, ToSchema)]
#[schema(as = JournalEntry)]
pub struct JournalEntryView {
    pub id: Uuid,
    pub account_id: Uuid,
    /// Carried at the start of the MT5 order comment.
    pub client_id: String,
    #[schema(required = true)]
    pub idempotency_key: Option<String>,
    #[schema(value_type = JournalSource)]
    pub source: String,
    #[schema(required = true)]
    pub algorithm_id: Option<String>,
    #[schema(required = true)]
    pub run_id: Option<Uuid>,
    #[schema(value_type = JournalAction)]
    pub action: String,
    /// The request as the client sent it, normalized.
    #[schema(value_type = Object)]
    pub request: Value,
    pub status: JournalStatus,
    #[schema(required = true)]
    pub retcode: Option<i64>,
    #[schema(required = true)]
    pub order: Option<i64>,
    #[schema(required = true)]
    pub deal: Option<i64>,
    #[schema(required = true)]
    pub volume: Option<f64>,
    #[schema(required = true)]
    pub price: Option<f64>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub completed_at: Option<String>,
}

impl From<&JournalEntry> for JournalEntryView {
    fn from(e: &JournalEntry) -> Self {
        JournalEntryView {
            id: e.id,
            account_id: e.account_id,
            client_id: e.client_id.clone(),
            idempotency_key: e.idempotency_key.clone(),
            source: e.source.clone(),
            algorithm_id: e.algorithm_id.clone(),
            run_id: e.run_id,
            action: e.action.clone(),
            request: e.request.clone(),
            status: e.status,
            retcode: e.retcode,
            order: e.order,
            deal: e.deal,
            volume: e.volume,
            price: e.price,
            error: e.error.clone(),
            created_at: crate::times::rfc3339(e.created_at),
            completed_at: e.completed_at.map(crate::times::rfc3339),
        }
    }
}

/// One journal entry.
#[derive(Serialize, ToSchema)]
pub struct JournalEntryEnvelope {
    pub entry: JournalEntryView,
}

/// The user's journal, newest first; `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct JournalPage {
    pub entries: Vec<JournalEntryView>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
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
        (status = 200, description = "The entry", body = JournalEntryEnvelope),
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
) -> ApiResult<Json<JournalEntryEnvelope>> {
    let id = path_uuid("id", &raw)?;
    let entry = state
        .store
        .get_entry(&user.ctx, id)
        .await?
        .ok_or(ApiError::JournalEntryNotFound)?;
    Ok(Json(JournalEntryEnvelope {
        entry: (&entry).into(),
    }))
}

/// The user's order journal, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/journal",
    tag = "trading",
    operation_id = "journal",
    params(JournalQuery),
    responses(
        (status = 200, description = "A page of entries", body = JournalPage),
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
) -> ApiResult<Json<JournalPage>> {
    let JournalQuery {
        account_id,
        limit,
        cursor,
    } = JournalQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(50);
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
                limit: crate::store::page::with_next(limit),
            },
        )
        .await?;
    let (page, more) = crate::store::page::split(entries, limit);
    let next_cursor = match (more, page.last()) {
        (true, Some(last)) => Some(format!(
            "{}_{}",
            crate::times::rfc3339(last.created_at),
            last.id
        )),
        _ => None,
    };
    Ok(Json(JournalPage {
        entries: page.iter().map(JournalEntryView::from).collect(),
        next_cursor,
    }))
}

/// `?from=&to=&limit=&cursor=`
#[derive(IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// RFC 3339 or epoch seconds (default 24 hours before `to`). With a `cursor`: left out, or
    /// equal to the window of the cursor's first page (else 422 naming `from`).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub from: Option<i64>,
    /// RFC 3339 or epoch seconds (default now, as of the first page). With a `cursor`: left out,
    /// or equal to the window of the cursor's first page (else 422 naming `to`).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub to: Option<i64>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page: an opaque string that keeps the first page's window,
    /// so items that arrive between pages are on none of them and none is repeated or skipped.
    /// Valid only on the same route and account; anything else (an old numeric offset, a garbled
    /// string, and even a well-formed cursor the service did not issue) is 422
    /// `validation_failed` naming `cursor`.
    #[param(
        required = false,
        value_type = String,
        min_length = 148,
        max_length = 200,
        pattern = "^[A-Za-z0-9_-]+$"
    )]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}

/// `?account_id=&limit=&cursor=`
#[derive(IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Only this account's entries.
    #[param(required = false, value_type = Uuid)]
    #[request(with = query_uuid)]
    pub account_id: Option<Uuid>,
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}
