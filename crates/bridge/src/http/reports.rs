//! `GET /api/v1/accounts/{account_id}/report`: a live account's trading over a window, reported
//! from its deals by the same module as a backtest's report (docs/backtests.md#account-report).

use super::doc;
use super::extract::{path_uuid, AuthUser};
use super::extract::{Path, Query};
use super::validate::{any_text, input_time, Fields, Opt, Request, Rule};
use crate::backtest::report::{
    account_report, journal_slippage, AccountReport, JournalFill, Unavailable,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::times::rfc3339;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// The report's window when `from` is left out: the 30 days before `to`.
const DEFAULT_WINDOW_S: i64 = 30 * 86_400;
/// Symbols whose value is read for the journal's slippage, at most.
const MAX_VALUED_SYMBOLS: usize = 50;
/// Journal entries read for the slippage, at most (newest first).
const MAX_JOURNAL_ENTRIES: usize = 10_000;

/// The market deals the service sent for the account in [from, to] (UTC seconds) and MT5 filled:
/// the price each request carried and the price it got (the answer the journal keeps).
async fn journal_fills(
    state: &AppState,
    user: &AuthUser,
    account: Uuid,
    from: i64,
    to: i64,
) -> ApiResult<Vec<JournalFill>> {
    use crate::store::journal::{JournalFilter, JournalStatus, MAX_PAGE};
    let mut fills = Vec::new();
    let mut before = None;
    let mut read = 0usize;
    loop {
        let page = state
            .store
            .list_entries(
                &user.ctx,
                JournalFilter {
                    account_id: Some(account),
                    before,
                    limit: MAX_PAGE,
                },
            )
            .await?;
        let Some(last) = page.last() else { break };
        before = Some((last.created_at, last.id));
        let done = last.created_at.unix_timestamp() < from || page.len() < MAX_PAGE as usize;
        read += page.len();
        for e in page {
            let t = e.created_at.unix_timestamp();
            if t < from || t > to || e.status != JournalStatus::Done {
                continue;
            }
            if let Some(f) = fill_of(e.response.as_ref()) {
                fills.push(f);
            }
        }
        if done || read >= MAX_JOURNAL_ENTRIES {
            break;
        }
    }
    Ok(fills)
}

/// A filled market deal in a journal entry's stored answer (an `OrderSendResult`), if it is one.
fn fill_of(response: Option<&serde_json::Value>) -> Option<JournalFill> {
    let body = response?.get("body")?;
    let request = body.get("request")?;
    if request.get("action")?.as_str()? != "deal" {
        return None;
    }
    let buy = match request.get("type")?.as_str()? {
        "buy" => true,
        "sell" => false,
        _ => return None,
    };
    Some(JournalFill {
        symbol: request.get("symbol")?.as_str()?.to_string(),
        magic: request
            .get("magic")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        buy,
        volume: body.get("volume")?.as_f64()?,
        requested: request.get("price")?.as_f64()?,
        filled: body.get("price")?.as_f64()?,
        value_per_price: None,
    })
}

/// A magic number: digits, as MT5's `magic` (an unsigned 64-bit number).
fn magic_number(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<u64> {
    match any_text(f, name, rule) {
        Opt::Value(s) => match s.parse::<u64>() {
            Ok(n) if s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => Opt::Value(n),
            _ => {
                f.error(name, "must be a non-negative integer");
                Opt::Absent
            }
        },
        Opt::Null => Opt::Null,
        Opt::Absent => Opt::Absent,
    }
}

/// `?from=&to=&symbol=&magic=`
#[derive(IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// RFC 3339 or epoch seconds (default 30 days before `to`); at most 366 days before `to`.
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub from: Option<i64>,
    /// RFC 3339 or epoch seconds (default now).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub to: Option<i64>,
    /// Only this symbol's trades.
    #[param(required = false, value_type = String, pattern = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$")]
    #[request(with = any_text)]
    pub symbol: Option<String>,
    /// Only trades with this magic number (an algorithm's, or a bot's).
    #[param(required = false, value_type = String, pattern = "^[0-9]{1,20}$")]
    #[request(with = magic_number)]
    pub magic: Option<u64>,
}

/// The account's report over a window.
#[derive(Serialize, ToSchema)]
pub struct AccountReportView {
    pub account_id: Uuid,
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
    #[schema(required = true)]
    pub symbol: Option<String>,
    /// As a string: magic numbers may pass JSON's safe integers.
    #[schema(required = true)]
    pub magic: Option<String>,
    pub report: AccountReport,
}

/// The account's trading over a window, from its deals: net profit and its parts, the balance's
/// drawdown, the trades' statistics, commission, swap and fees; deposits, withdrawals and credit
/// apart from P&L. What deals cannot tell (equity drawdown, spread, slippage) is null, named in
/// `unavailable` with why.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}/report",
    tag = "accounts",
    operation_id = "account_report",
    params(("account_id" = Uuid, Path, description = "One of the user's accounts"), ReportQuery),
    responses(
        (status = 200, description = "The report", body = AccountReportView),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed` (a bad parameter); `invalid_combination` (`from` after `to`, or a window over 366 days)", body = doc::ErrorBody),
        doc::TerminalReadErrors,
    ),
    security(("bearer" = []))
)]
pub async fn account(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<AccountReportView>> {
    let id = path_uuid("account_id", &raw)?;
    let ReportQuery {
        from,
        to,
        symbol,
        magic,
    } = ReportQuery::parse_query(&q)?;
    if let Some(s) = &symbol {
        super::trading::check_symbol(s)?;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let to = to.unwrap_or(now).min(now);
    let from = from.unwrap_or(to - DEFAULT_WINDOW_S);
    if let Some(fault) = crate::times::window_fault(from, to) {
        return Err(ApiError::combination("from", fault));
    }
    let row = state
        .store
        .get_account(&user.ctx, id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    // The market orders the service sent in the window, as the journal recorded them.
    let mut fills = journal_fills(&state, &user, row.id, from, to).await?;
    let mut symbols: Vec<String> = fills.iter().map(|f| f.symbol.clone()).collect();
    symbols.sort();
    symbols.dedup();
    symbols.truncate(MAX_VALUED_SYMBOLS);
    // Every deal from the window's start to now: the balance before the window is the balance
    // now less all of them.
    let (balance, offset, deals, values) = crate::trading::read(&state, &row, move |t, at| {
        let symbols = symbols.clone();
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let balance = t.account_info(&at).await?.balance;
            let select = mt5::HistorySelect::Range {
                from: from + offset,
                to: now + offset + 86_400,
                group: None,
            };
            let deals = t.history_deals(&at, &select).await?;
            // What a unit of price is worth per lot, per symbol the journal's orders traded.
            let mut values = Vec::with_capacity(symbols.len());
            for symbol in symbols {
                if let Ok(info) = t.symbol_info(&at, &symbol).await {
                    if info.trade_tick_size > 0.0 {
                        values.push((symbol, info.trade_tick_value / info.trade_tick_size));
                    }
                }
            }
            Ok((balance, offset, deals, values))
        })
    })
    .await?;
    for f in &mut fills {
        f.value_per_price = values.iter().find(|(s, _)| *s == f.symbol).map(|(_, v)| *v);
    }
    let mut report = account_report(
        &deals,
        balance,
        from + offset,
        to + offset,
        symbol.as_deref(),
        magic,
    );
    report.costs.slippage = journal_slippage(&fills, symbol.as_deref(), magic);
    if report.costs.slippage.is_none() {
        report.unavailable.push(Unavailable {
            field: "costs.slippage",
            reason: "no market order the service sent in the window could be valued: deal \
                     history records the fill price, not the price asked for, so only the \
                     journal's orders count",
        });
    }
    let at = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(rfc3339)
            .unwrap_or_default()
    };
    Ok(Json(AccountReportView {
        account_id: row.id,
        from: at(from),
        to: at(to),
        symbol,
        magic: magic.map(|m| m.to_string()),
        report,
    }))
}
