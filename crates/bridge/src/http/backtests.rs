//! `/api/v1/backtests`: backtests and parameter sweeps of a strategy on an account's broker
//! history (docs/backtests.md). A submission is checked and queued (`202`); workers run it.

use super::doc;
use super::extract::{path_uuid, AuthUser, JsonBody};
use super::extract::{Path, Query};
use super::validate::{any_text, input_time, Fields, Opt, Request, Rule};
use crate::backtest::report::{CurvePoint, Report};
use crate::backtest::run::{buckets, Model};
use crate::backtest::spec::{self, Spec, SpreadMode, RANK_METRICS};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::backtests::{BacktestRow, Budget, Created, NewBacktest, Removed, ResultSummary};
use crate::store::page;
use crate::times::rfc3339;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A backtest's status.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // reason: the document's enum; rows carry the status as text
pub enum BacktestStatus {
    Queued,
    Running,
    Done,
    Failed,
    Canceled,
}

/// The report fields a sweep may be ranked by.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // reason: the document's enum; requests are read by name
pub enum RankMetric {
    NetProfit,
    ProfitFactor,
    ExpectedPayoff,
    RecoveryFactor,
    SharpeRatio,
    WinRate,
    TotalTrades,
    MaxDrawdownBalance,
    MaxDrawdownBalancePct,
    MaxDrawdownEquity,
    MaxDrawdownEquityPct,
}

/// Why a backtest failed.
#[derive(Serialize, ToSchema)]
pub struct BacktestError {
    /// A stable error code (docs/errors.md), e.g. `symbol_not_found`.
    pub code: String,
    pub message: String,
}

/// One combination's outcome, ranked.
#[derive(Serialize, ToSchema)]
pub struct BacktestResult {
    pub combination: u32,
    /// 1 for the best by `rank_by`.
    pub rank: u32,
    #[schema(value_type = Object)]
    pub parameters: Value,
    #[schema(value_type = Report)]
    pub report: Value,
    /// The first decision bar's open time: later than `from` when the history is shorter.
    #[schema(required = true, format = DateTime)]
    pub history_start: Option<String>,
    /// Bars in which both the SL and the TP of a position lay (the bar's path decided).
    pub sl_and_tp_in_one_bar: u64,
    /// Symbols whose swap mode the engine does not model (charged no swap).
    pub unmodelled_swaps: Vec<String>,
    /// Chunks of history (whole months of bars) the run used.
    pub history_chunks: u64,
    /// How many of them were read from a terminal; the others came from the bar cache.
    pub history_chunks_from_terminal: u64,
    /// A bot's backtest (`bot_id`): its live trading over the window (`report`, as
    /// `GET /api/v1/accounts/{id}/report?magic=` gives it) and `difference`, each figure both
    /// reports have, the backtest's less the live one. Null otherwise.
    #[schema(required = true, value_type = Option<Object>)]
    pub live: Option<Value>,
}

/// A backtest.
#[derive(Serialize, ToSchema)]
pub struct BacktestView {
    pub id: Uuid,
    pub account_id: Uuid,
    #[schema(value_type = BacktestStatus)]
    pub status: String,
    /// Units done over all, 0 to 1.
    pub progress: f64,
    /// The normalized request; once running, with the account's terms and server offset.
    #[schema(value_type = Object)]
    pub request: Value,
    /// 1 for a plain backtest; the grid's size for a sweep.
    pub combinations: u32,
    #[schema(value_type = RankMetric)]
    pub rank_by: String,
    #[schema(required = true, format = DateTime)]
    pub history_start: Option<String>,
    #[schema(required = true)]
    pub error: Option<BacktestError>,
    /// The best combination's report once done (the only one for a plain backtest).
    #[schema(required = true)]
    pub report: Option<Report>,
    /// Every finished combination, best first.
    pub results: Vec<BacktestResult>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub started_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub finished_at: Option<String>,
}

/// Backtests, newest first, each with its best result only (`results` holds at most one; `GET
/// /api/v1/backtests/{id}` has every combination); `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct BacktestPage {
    pub backtests: Vec<BacktestView>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A closed trade of a backtest.
#[derive(Serialize, ToSchema)]
pub struct BacktestTrade {
    /// Entry time.
    #[schema(format = DateTime)]
    pub time: String,
    #[serde(rename = "type")]
    #[schema(value_type = mt5::PositionType)]
    pub side: Value,
    pub volume: f64,
    pub price_open: f64,
    #[schema(format = DateTime)]
    pub time_close: String,
    pub price_close: f64,
    pub sl: f64,
    pub tp: f64,
    pub profit: f64,
    pub swap: f64,
    pub commission: f64,
}

/// A page of a combination's trades, oldest first.
#[derive(Serialize, ToSchema)]
pub struct BacktestTradePage {
    pub combination: u32,
    pub trades: Vec<BacktestTrade>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A bucket of the balance and equity curve.
#[derive(Serialize, ToSchema)]
pub struct EquityPoint {
    /// The bucket's start.
    #[schema(format = DateTime)]
    pub time: String,
    pub balance: f64,
    pub equity: f64,
    pub equity_min: f64,
    pub equity_max: f64,
}

#[derive(Serialize, ToSchema)]
pub struct EquityCurve {
    pub combination: u32,
    pub points: Vec<EquityPoint>,
}

/// A model of prices inside a bar.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // reason: the document's enum; requests are read by name
pub enum BacktestModel {
    OpenPrices,
    M1Ohlc,
}

/// How fills pay the spread.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // reason: the document's enum; requests are read by name
pub enum BacktestSpread {
    Bar,
    Fixed,
    Larger,
}

fn object(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Map<String, Value>> {
    match f.value(name) {
        Opt::Value(Value::Object(o)) => Opt::Value(o.clone()),
        Opt::Value(_) => {
            f.error(name, "must be an object");
            Opt::Absent
        }
        Opt::Null => Opt::Null,
        Opt::Absent => Opt::Absent,
    }
}

fn model_name(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<String> {
    f.one_of(name, &["open_prices", "m1_ohlc"])
}

fn spread_name(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<String> {
    f.one_of(name, &["bar", "fixed", "larger"])
}

fn metric_name(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<String> {
    f.one_of(name, RANK_METRICS)
}

/// POST /backtests.
#[derive(ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct CreateBacktestRequest {
    /// One of the user's accounts: its broker's history and its terms. Required unless `bot_id`.
    #[schema(required = false)]
    pub account_id: Option<Uuid>,
    /// A built-in strategy's name, or a saved configuration's id (its kind and parameters are
    /// copied now). Required unless `bot_id`.
    #[schema(
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub algorithm_id: Option<String>,
    /// Backtest a bot: its account, strategy and parameters over its live period (`from`, `to`
    /// default to its creation and now), under its magic number; each result's `live` compares
    /// the backtest with the bot's live trades. Not with `account_id`, `algorithm_id`,
    /// `parameters` or `sweep`.
    #[schema(required = false)]
    pub bot_id: Option<Uuid>,
    /// The strategy's parameters (overriding a configuration's), validated as
    /// `/algorithms/execute` validates them.
    #[schema(required = false, value_type = Object)]
    #[request(with = object)]
    pub parameters: Option<Map<String, Value>>,
    /// A sweep: parameter name → the values it takes (arrays; at most 256 combinations in all).
    #[schema(required = false, value_type = Object)]
    #[request(with = object)]
    pub sweep: Option<Map<String, Value>>,
    /// The metric a sweep's combinations are ranked by (default `net_profit`).
    #[schema(required = false, value_type = RankMetric)]
    #[request(with = metric_name)]
    pub rank_by: Option<String>,
    /// The window's start (RFC 3339 or epoch seconds). Required unless `bot_id`.
    #[schema(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub from: Option<i64>,
    /// The window's end; after now is read as now. Required unless `bot_id` (then: now).
    #[schema(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub to: Option<i64>,
    /// Default `open_prices`.
    #[schema(required = false, value_type = BacktestModel)]
    #[request(with = model_name)]
    pub model: Option<String>,
    /// Default: the account's balance when the backtest starts.
    #[schema(required = false, exclusive_minimum = 0, maximum = 1000000000000.0)]
    pub initial_deposit: Option<f64>,
    /// Default `bar` (the bar's recorded spread, MT5's smallest of the bar).
    #[schema(required = false, value_type = BacktestSpread)]
    #[request(with = spread_name)]
    pub spread: Option<String>,
    /// Points for `fixed` and `larger` (default 0).
    #[schema(required = false, minimum = 0, maximum = 100000)]
    pub spread_points: Option<u32>,
    /// Per lot per side, in the account currency (default 0).
    #[schema(required = false, minimum = 0, maximum = 100000)]
    pub commission_per_lot: Option<f64>,
    /// Adverse points on market fills and stops (default 0).
    #[schema(required = false, minimum = 0, maximum = 100000)]
    pub slippage_points: Option<u32>,
}

/// `?limit=&cursor=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct BacktestsQuery {
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}

/// `?combination=&limit=&cursor=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct TradesQuery {
    /// A sweep's combination (default: the best).
    #[param(minimum = 0, maximum = 255)]
    pub combination: Option<u32>,
    /// 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1, max_length = 16, pattern = "^t[0-9]{1,9}$")]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}

/// `?points=&combination=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct EquityQuery {
    /// Buckets at most, 1 to 10000 (default 1000); each keeps its lowest and highest equity.
    #[param(minimum = 1, maximum = 10000)]
    pub points: Option<u32>,
    /// A sweep's combination (default: the best).
    #[param(minimum = 0, maximum = 255)]
    pub combination: Option<u32>,
}

fn utc(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(rfc3339)
        .unwrap_or_default()
}

fn number(report: &Value, metric: &str) -> Option<f64> {
    report.get(metric).and_then(Value::as_f64)
}

/// The results best first by `metric` (nulls last; ties by combination).
fn ranked(mut results: Vec<ResultSummary>, metric: &str) -> Vec<(u32, ResultSummary)> {
    let lower = spec::lower_is_better(metric);
    results.sort_by(|a, b| {
        let (x, y) = (number(&a.report, metric), number(&b.report, metric));
        let order = match (x, y) {
            (Some(x), Some(y)) if lower => x.total_cmp(&y),
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        order.then(a.combination.cmp(&b.combination))
    });
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i as u32 + 1, r))
        .collect()
}

fn view(row: &BacktestRow, results: Vec<ResultSummary>) -> BacktestView {
    let rank_by = row.rank_by.clone().unwrap_or_else(|| "net_profit".into());
    let results: Vec<BacktestResult> = ranked(results, &rank_by)
        .into_iter()
        .map(|(rank, r)| BacktestResult {
            combination: r.combination,
            rank,
            sl_and_tp_in_one_bar: r
                .notes
                .get("sl_and_tp_in_one_bar")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            unmodelled_swaps: r
                .notes
                .get("unmodelled_swaps")
                .and_then(|v| serde_json::from_value(v.clone()).ok())
                .unwrap_or_default(),
            history_chunks: r
                .notes
                .pointer("/bars/chunks")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            history_chunks_from_terminal: r
                .notes
                .pointer("/bars/chunks_from_terminal")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            live: r.notes.get("live").filter(|v| !v.is_null()).cloned(),
            parameters: r.parameters,
            report: r.report,
            history_start: r.history_start.map(rfc3339),
        })
        .collect();
    let report = (row.status == crate::store::backtests::DONE)
        .then(|| results.first())
        .flatten()
        .and_then(|r| serde_json::from_value::<Report>(r.report.clone()).ok());
    BacktestView {
        id: row.id,
        account_id: row.account_id,
        status: row.status.clone(),
        progress: row.progress,
        request: row.request.clone(),
        combinations: row.combinations,
        rank_by,
        history_start: row.history_start.map(rfc3339),
        error: row.error.as_ref().map(|e| BacktestError {
            code: e
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("internal_error")
                .to_string(),
            message: e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }),
        report,
        results,
        created_at: rfc3339(row.created_at),
        started_at: row.started_at.map(rfc3339),
        finished_at: row.finished_at.map(rfc3339),
    }
}

async fn load(state: &AppState, user: &AuthUser, raw: &str) -> ApiResult<BacktestRow> {
    let id = path_uuid("backtest_id", raw)?;
    state
        .store
        .get_backtest(&user.ctx, id)
        .await?
        .ok_or(ApiError::BacktestNotFound)
}

pub(super) async fn full_view(
    state: &AppState,
    user: &AuthUser,
    row: &BacktestRow,
) -> ApiResult<BacktestView> {
    let results = state.store.backtest_results(&user.ctx, row.id).await?;
    Ok(view(row, results))
}

/// Seconds until the budget's day (UTC) turns.
fn until_next_utc_day() -> u64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (86_400 - now.rem_euclid(86_400)).max(1) as u64
}

/// Queues a backtest or a parameter sweep.
///
/// Everything is checked now (strategy parameters of every combination, window, costs) and
/// nothing is read from a terminal: a symbol the broker does not have fails the job when it
/// starts (`symbol_not_found`). The work (bars × combinations) counts against the user's daily
/// budget (`BACKTEST_WORK_PER_DAY`).
#[utoipa::path(
    post,
    path = "/api/v1/backtests",
    tag = "backtests",
    operation_id = "create_backtest",
    request_body = CreateBacktestRequest,
    responses(
        (status = 202, description = "Queued", body = BacktestView),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`; `algorithm_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed` (`parameters.<key>`, `sweep.<key>`, or a field of the request); `invalid_combination` (`from` not before `to`, a window over `BACKTEST_MAX_WINDOW_DAYS`, a grid over 256 combinations, `spread_points` without `fixed` or `larger`)", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let mut req = CreateBacktestRequest::parse(&body)?;
    let settings = state.backtests.settings;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // A bot's backtest: its account, strategy and parameters, over its live period.
    let bot = match req.bot_id {
        Some(id) => {
            let given: Vec<&str> = [
                ("account_id", req.account_id.is_some()),
                ("algorithm_id", req.algorithm_id.is_some()),
                ("parameters", req.parameters.is_some()),
                ("sweep", req.sweep.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if let Some(k) = given.first() {
                return Err(ApiError::combination(
                    *k,
                    "comes from the bot with `bot_id`",
                ));
            }
            let bot = state
                .store
                .get_bot(&user.ctx, id)
                .await?
                .ok_or(ApiError::BotNotFound)?;
            req.account_id = Some(bot.account_id);
            req.algorithm_id = Some(bot.algorithm_kind.clone());
            req.parameters = bot.parameters.as_object().cloned();
            req.from = req.from.or(Some(bot.created_at.unix_timestamp()));
            req.to = req.to.or(Some(now));
            Some(crate::backtest::spec::BotRef {
                id: bot.id,
                magic: bot.magic,
            })
        }
        None => None,
    };
    let mut missing = Vec::new();
    for (k, absent) in [
        ("account_id", req.account_id.is_none()),
        ("algorithm_id", req.algorithm_id.is_none()),
        ("from", req.from.is_none()),
        ("to", req.to.is_none()),
    ] {
        if absent {
            missing.push(k);
        }
    }
    if let Some(k) = missing.first() {
        // Left out (or null): required unless `bot_id`, a rule across fields.
        return Err(ApiError::combination(
            *k,
            "is required unless `bot_id` is given",
        ));
    }
    let (Some(account_id), Some(algorithm_id), Some(from), Some(req_to)) =
        (req.account_id, req.algorithm_id.clone(), req.from, req.to)
    else {
        return Err(ApiError::validation("body", "is incomplete"));
    };
    // The window, checked before anything is read.
    let to = req_to.min(now);
    if from >= to {
        return Err(ApiError::combination(
            "from",
            "must be before `to` (and before now)",
        ));
    }
    let max_days = i64::from(settings.max_window_days);
    if to - from > max_days * 86_400 {
        return Err(ApiError::combination(
            "to",
            format!("the window is over BACKTEST_MAX_WINDOW_DAYS ({max_days} days)"),
        ));
    }
    let spread = match req.spread.as_deref() {
        Some("fixed") => SpreadMode::Fixed,
        Some("larger") => SpreadMode::Larger,
        _ => SpreadMode::Bar,
    };
    if spread == SpreadMode::Bar && req.spread_points.is_some_and(|p| p > 0) {
        return Err(ApiError::combination(
            "spread_points",
            "applies to `spread` `fixed` or `larger` only",
        ));
    }
    let account = state
        .store
        .get_account(&user.ctx, account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    let (strategy, mut base) = super::algorithms::resolve(&state, &user, &algorithm_id).await?;
    base.extend(req.parameters.clone().unwrap_or_default());
    let combos = spec::combinations(&base, req.sweep.as_ref())?;
    // Each combination as /algorithms/execute validates it; the first fault names the key.
    let mut timeframe = None;
    for c in &combos {
        let p = strategy
            .validate(&Value::Object(c.clone()))
            .map_err(super::algorithms::prefixed)?;
        if p.timeframe.seconds().is_none() {
            return Err(ApiError::validation(
                "parameters.timeframe",
                "backtests need a timeframe of fixed length (not MN1)",
            ));
        }
        if timeframe.is_some_and(|t| t != p.timeframe) {
            return Err(ApiError::combination(
                "sweep.timeframe",
                "a sweep runs on one timeframe",
            ));
        }
        timeframe = Some(p.timeframe);
    }
    let model = match req.model.as_deref() {
        Some("m1_ohlc") => Model::M1Ohlc,
        _ => Model::OpenPrices,
    };
    let work = spec::work(
        to - from,
        timeframe.unwrap_or(mt5::Timeframe::H1),
        model,
        combos.len(),
    );
    let spec = Spec {
        algorithm_id: if bot.is_some() {
            strategy.name().to_string()
        } else {
            algorithm_id.clone()
        },
        kind: strategy.name().to_string(),
        parameters: base,
        sweep: req.sweep.clone().filter(|s| !s.is_empty()),
        rank_by: req.rank_by.clone(),
        from,
        to,
        model,
        initial_deposit: req.initial_deposit,
        spread,
        spread_points: req.spread_points.unwrap_or(0),
        commission_per_lot: req.commission_per_lot.unwrap_or(0.0),
        slippage_points: req.slippage_points.unwrap_or(0),
        account: None,
        server_offset_s: None,
        bot,
    };
    let created = state
        .store
        .create_backtest(
            &user.ctx,
            NewBacktest {
                id: Uuid::new_v4(),
                account_id: account.id,
                request: spec.to_value(),
                combinations: combos.into_iter().map(Value::Object).collect(),
                rank_by: req.rank_by.clone(),
                work,
            },
            Budget {
                per_day: settings.work_per_day,
                kept: settings.kept_per_user,
            },
        )
        .await?;
    let row = match created {
        Created::Queued(row) => row,
        Created::OverBudget { .. } => {
            return Err(ApiError::RateLimited {
                scope: "backtest_work_per_day",
                limit: u32::try_from(settings.work_per_day).unwrap_or(u32::MAX),
                window_s: 86_400,
                retry_after_s: until_next_utc_day(),
            })
        }
    };
    state.backtests.wake();
    state.events.backtest_changed(user.id(), row.id);
    Ok((StatusCode::ACCEPTED, Json(view(&row, Vec::new()))).into_response())
}

/// The user's backtests, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/backtests",
    tag = "backtests",
    operation_id = "list_backtests",
    params(BacktestsQuery),
    responses(
        (status = 200, description = "A page of backtests", body = BacktestPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: a bad `limit` or `cursor`, or an unknown parameter", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<BacktestPage>> {
    let BacktestsQuery { limit, cursor } = BacktestsQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(50);
    let before = cursor
        .as_deref()
        .map(super::algorithms::time_cursor)
        .transpose()?;
    let rows = state
        .store
        .list_backtests(&user.ctx, before, page::with_next(limit))
        .await?;
    let (rows, more) = page::split(rows, limit);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(format!("{}_{}", rfc3339(last.created_at), last.id)),
        _ => None,
    };
    let mut backtests = Vec::with_capacity(rows.len());
    for row in &rows {
        // A page of sweeps would otherwise carry every combination's report: the best one only.
        let mut view = full_view(&state, &user, row).await?;
        view.results.truncate(1);
        backtests.push(view);
    }
    Ok(Json(BacktestPage {
        backtests,
        next_cursor,
    }))
}

/// One backtest: its status, progress, normalized request and, once done, its results.
#[utoipa::path(
    get,
    path = "/api/v1/backtests/{backtest_id}",
    tag = "backtests",
    operation_id = "get_backtest",
    params(("backtest_id" = Uuid, Path, description = "The backtest's id")),
    responses(
        (status = 200, description = "The backtest", body = BacktestView),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`backtest_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `backtest_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<BacktestView>> {
    let row = load(&state, &user, &raw).await?;
    Ok(Json(full_view(&state, &user, &row).await?))
}

/// The combination a detail route reads: the one asked for, else the best.
async fn combination_of(
    state: &AppState,
    user: &AuthUser,
    row: &BacktestRow,
    asked: Option<u32>,
) -> ApiResult<u32> {
    if let Some(c) = asked {
        if c >= row.combinations {
            return Err(ApiError::validation(
                "combination",
                format!(
                    "must be below {} (the backtest's combinations)",
                    row.combinations
                ),
            ));
        }
        return Ok(c);
    }
    let results = state.store.backtest_results(&user.ctx, row.id).await?;
    let metric = row.rank_by.as_deref().unwrap_or("net_profit");
    Ok(ranked(results, metric)
        .first()
        .map_or(0, |(_, r)| r.combination))
}

/// A combination's closed trades, oldest first (empty until it is done).
#[utoipa::path(
    get,
    path = "/api/v1/backtests/{backtest_id}/trades",
    tag = "backtests",
    operation_id = "list_backtest_trades",
    params(("backtest_id" = Uuid, Path, description = "The backtest's id"), TradesQuery),
    responses(
        (status = 200, description = "A page of trades", body = BacktestTradePage),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`backtest_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `backtest_id`, `combination`, `limit` or `cursor`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn trades(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<BacktestTradePage>> {
    let TradesQuery {
        combination,
        limit,
        cursor,
    } = TradesQuery::parse_query(&q)?;
    let row = load(&state, &user, &raw).await?;
    let combination = combination_of(&state, &user, &row, combination).await?;
    let start = match cursor.as_deref() {
        None => 0,
        Some(c) => c
            .strip_prefix('t')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= 1_000_000_000)
            .ok_or_else(|| ApiError::validation("cursor", "is not a cursor from this endpoint"))?,
    };
    let limit = limit.unwrap_or(100) as usize;
    let all = state
        .store
        .backtest_detail(&user.ctx, row.id, combination)
        .await?
        .map(|(t, _)| t)
        .unwrap_or(Value::Array(Vec::new()));
    let all = all.as_array().cloned().unwrap_or_default();
    let end = start.saturating_add(limit).min(all.len());
    let page: Vec<BacktestTrade> = all
        .get(start.min(all.len())..end)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let n = |k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let at = |k: &str| utc(t.get(k).and_then(Value::as_i64).unwrap_or(0));
            BacktestTrade {
                time: at("time"),
                side: t.get("type").cloned().unwrap_or(Value::Null),
                volume: n("volume"),
                price_open: n("price_open"),
                time_close: at("time_close"),
                price_close: n("price_close"),
                sl: n("sl"),
                tp: n("tp"),
                profit: n("profit"),
                swap: n("swap"),
                commission: n("commission"),
            }
        })
        .collect();
    Ok(Json(BacktestTradePage {
        combination,
        trades: page,
        next_cursor: (end < all.len()).then(|| format!("t{end}")),
    }))
}

/// A combination's balance and equity curve in at most `points` buckets; each keeps the lowest
/// and highest equity inside it, so a drawdown is never smoothed away.
#[utoipa::path(
    get,
    path = "/api/v1/backtests/{backtest_id}/equity",
    tag = "backtests",
    operation_id = "get_backtest_equity",
    params(("backtest_id" = Uuid, Path, description = "The backtest's id"), EquityQuery),
    responses(
        (status = 200, description = "The curve", body = EquityCurve),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`backtest_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `backtest_id`, `points` or `combination`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn equity(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<EquityCurve>> {
    let EquityQuery {
        points,
        combination,
    } = EquityQuery::parse_query(&q)?;
    let row = load(&state, &user, &raw).await?;
    let combination = combination_of(&state, &user, &row, combination).await?;
    let stored = state
        .store
        .backtest_detail(&user.ctx, row.id, combination)
        .await?
        .map(|(_, e)| e)
        .unwrap_or(Value::Array(Vec::new()));
    let samples: Vec<CurvePoint> = stored
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    let n = |k: &str| p.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                    CurvePoint {
                        time: p.get("time").and_then(Value::as_i64).unwrap_or(0),
                        balance: n("balance"),
                        equity: n("equity"),
                        equity_min: n("equity_min"),
                        equity_max: n("equity_max"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let points = buckets(&samples, points.unwrap_or(1000).max(1) as usize)
        .into_iter()
        .map(|p| EquityPoint {
            time: utc(p.time),
            balance: p.balance,
            equity: p.equity,
            equity_min: p.equity_min,
            equity_max: p.equity_max,
        })
        .collect();
    Ok(Json(EquityCurve {
        combination,
        points,
    }))
}

/// Cancels a queued or running backtest (`202`, `canceled`, stops within a second, no results
/// kept), or deletes a finished one (`204`; then `404 backtest_not_found`).
#[utoipa::path(
    delete,
    path = "/api/v1/backtests/{backtest_id}",
    tag = "backtests",
    operation_id = "delete_backtest",
    params(("backtest_id" = Uuid, Path, description = "The backtest's id")),
    responses(
        (status = 202, description = "Canceled", body = BacktestView),
        (status = 204, description = "Deleted"),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`backtest_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `backtest_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::DatabaseUnavailable),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Response> {
    let id = path_uuid("backtest_id", &raw)?;
    match state.store.remove_backtest(&user.ctx, id).await? {
        Removed::NotFound => Err(ApiError::BacktestNotFound),
        Removed::Deleted => Ok(StatusCode::NO_CONTENT.into_response()),
        Removed::Canceled => {
            state.events.backtest_changed(user.id(), id);
            let row = load(&state, &user, &raw).await?;
            Ok((StatusCode::ACCEPTED, Json(view(&row, Vec::new()))).into_response())
        }
    }
}
