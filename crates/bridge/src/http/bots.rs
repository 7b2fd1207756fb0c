//! `/api/v1/bots`: strategies that run on every closed bar of one of the user's accounts
//! (docs/bots.md). A bot copies its strategy and parameters when created; the scheduler
//! (`bots::scheduler`) runs it; these routes create, read, edit, pause, resume, stop and delete it.

use super::algorithms::{prefixed, RunView};
use super::doc;
use super::extract::{path_uuid, AuthUser, JsonBody, MaybeJsonBody};
use super::extract::{Path, Query};
use super::validate::{any_text, input_time, query_uuid, Fields, Opt, Request, Rule};
use crate::algorithms::strategies::find;
use crate::bots::reason;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::algorithms::AlgorithmRun;
use crate::store::bots::{
    BotLimits, BotRow, BotWrite, NewBot, Transition, FAULTED, PAUSED, RUNNING, STOPPED,
};
use crate::store::page;
use crate::times::rfc3339;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mt5::enums::Mt5Enum as _;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// A bot's state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BotState {
    Running,
    Paused,
    Stopped,
    Faulted,
}

/// A bot: its configuration (copied when it was created), state and counters.
#[derive(Serialize, ToSchema)]
pub struct BotView {
    pub id: Uuid,
    pub name: String,
    pub account_id: Uuid,
    /// As given: a built-in strategy's name or a saved configuration's id.
    pub algorithm_id: String,
    /// The built-in strategy it runs.
    pub algorithm: String,
    /// The parameters it runs with (a configuration's, copied, with the request's over them).
    #[schema(value_type = Object)]
    pub parameters: Value,
    pub symbol: String,
    pub timeframe: String,
    /// A paper bot: plans each bar and records what it would have done, sends nothing.
    pub dry_run: bool,
    pub confirm_live: bool,
    /// The magic number its orders carry, unique per account, in [2000000000, 2^31).
    pub magic: i64,
    /// Whether the account keeps one position per symbol (read from MT5 at creation).
    pub netting: bool,
    #[schema(value_type = BotState)]
    pub state: String,
    /// Why it is in its state (`user`, `kill_switch`, `daily_loss_reached`, `account_deleted`,
    /// `live_confirmation_required`, `invalid_configuration`, an error code, …).
    #[schema(required = true)]
    pub state_reason: Option<String>,
    /// Open time (UTC) of the last closed bar evaluated.
    #[schema(required = true, format = DateTime)]
    pub last_bar_time: Option<String>,
    /// When (UTC) the bar now forming is expected to close: the next pass. Null unless running.
    #[schema(required = true, format = DateTime)]
    pub next_bar_time: Option<String>,
    /// Bars evaluated (claimed), skipped ones included.
    pub passes: i64,
    /// Orders placed (or, paper, planned).
    pub trades: i64,
    /// Bars skipped, the last one's reason in `last_skip_reason`.
    pub skipped_bars: i64,
    /// Bars that closed while the bot could not run (downtime) and were not evaluated.
    pub missed_bars: i64,
    /// Consecutive bars whose orders were all refused (10 fault the bot).
    pub refused_bars: i32,
    #[schema(required = true)]
    pub last_skip_reason: Option<String>,
    /// After a stop whose closes failed: the positions left open, with why.
    #[schema(required = true, value_type = Option<Vec<Object>>)]
    pub open_positions: Option<Value>,
    /// The last pass that had a run (intents, orders or an error).
    #[schema(required = true)]
    pub last_run: Option<RunView>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Bots, oldest first; `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct BotPage {
    pub bots: Vec<BotView>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// What the kill switch paused.
#[derive(Serialize, ToSchema)]
pub struct KillSwitchResult {
    /// The bots paused now (running ones; paused, stopped and faulted ones are left as they are).
    pub paused: Vec<Uuid>,
}

fn object(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Map<String, Value>> {
    match f.value(name) {
        Opt::Value(Value::Object(o)) => Opt::Value(o.clone()),
        Opt::Absent => Opt::Absent,
        Opt::Null => Opt::Null,
        Opt::Value(_) => {
            f.error(name, "must be an object");
            Opt::Absent
        }
    }
}

/// POST /bots.
#[derive(ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct CreateBotRequest {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    /// One of the user's accounts.
    pub account_id: Uuid,
    /// A built-in strategy's name, or a saved configuration's id (its kind and parameters are
    /// copied now: later edits of the configuration do not change the bot).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub algorithm_id: String,
    /// The strategy's parameters (over a configuration's), validated as `/algorithms/execute`
    /// validates them.
    #[schema(required = false, value_type = Object)]
    #[request(with = object)]
    pub parameters: Option<Map<String, Value>>,
    /// A paper bot: plans each bar and records it, sends nothing, needs no confirmation.
    #[schema(required = false)]
    pub dry_run: Option<bool>,
    /// Required (true) for a bot that trades a live account.
    #[schema(required = false)]
    pub confirm_live: Option<bool>,
}

/// PUT /bots/{id}.
#[derive(ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct UpdateBotRequest {
    /// New parameters, over the bot's (validated as on creation).
    #[schema(value_type = Object)]
    #[request(with = object)]
    pub parameters: Map<String, Value>,
}

/// POST /bots/{id}/stop.
#[derive(ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct StopBotRequest {
    /// Close the bot's positions (those carrying its magic) through the order pipeline.
    #[schema(required = false)]
    pub close_positions: Option<bool>,
}

/// POST /bots/kill_switch.
#[derive(ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchRequest {
    /// Only this account's bots (default: every bot of the user).
    #[schema(required = false)]
    pub account_id: Option<Uuid>,
}

/// `?account_id=&limit=&cursor=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct BotsQuery {
    /// Only this account's bots.
    #[param(required = false, value_type = Uuid)]
    #[request(with = query_uuid)]
    pub account_id: Option<Uuid>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}

fn utc_of_bar(state: &AppState, server: Option<&str>, bar: i64) -> Option<String> {
    let offset = server
        // The last measured offset, however old: a reading past its refresh is still the best
        // known (`current` answers None then, which would show server time as UTC).
        .and_then(|s| state.server_clocks.last_known(s))
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(bar.saturating_sub(offset))
        .ok()
        .map(rfc3339)
}

/// The bot as the API shows it (with its last run, read as the user).
pub(super) async fn view(state: &AppState, user: &AuthUser, b: &BotRow) -> ApiResult<BotView> {
    let last_run = match b.last_run_id {
        Some(id) => state.store.get_run(&user.ctx, id).await?,
        None => None,
    };
    let server = state
        .store
        .get_account(&user.ctx, b.account_id)
        .await?
        .map(|a| a.server);
    Ok(shown(state, b, last_run.as_ref(), server.as_deref()))
}

/// A page of bots as the API shows them: their accounts and last runs read in one query each.
async fn views(state: &AppState, user: &AuthUser, rows: &[BotRow]) -> ApiResult<Vec<BotView>> {
    let run_ids: Vec<Uuid> = rows.iter().filter_map(|b| b.last_run_id).collect();
    let runs: HashMap<Uuid, AlgorithmRun> = state
        .store
        .get_runs(&user.ctx, &run_ids)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let servers: HashMap<Uuid, String> = if rows.is_empty() {
        HashMap::new()
    } else {
        state
            .store
            .list_accounts(&user.ctx, true)
            .await?
            .into_iter()
            .map(|a| (a.id, a.server))
            .collect()
    };
    Ok(rows
        .iter()
        .map(|b| {
            let run = b.last_run_id.and_then(|id| runs.get(&id));
            shown(
                state,
                b,
                run,
                servers.get(&b.account_id).map(String::as_str),
            )
        })
        .collect())
}

fn shown(
    state: &AppState,
    b: &BotRow,
    last_run: Option<&AlgorithmRun>,
    server: Option<&str>,
) -> BotView {
    let last_run = last_run.map(RunView::from);
    let running = b.state == RUNNING && b.due_at > time::OffsetDateTime::UNIX_EPOCH;
    BotView {
        id: b.id,
        name: b.name.clone(),
        account_id: b.account_id,
        algorithm_id: b.algorithm_id.clone(),
        algorithm: b.algorithm_kind.clone(),
        parameters: b.parameters.clone(),
        symbol: b.symbol.clone(),
        timeframe: b.timeframe.clone(),
        dry_run: b.dry_run,
        confirm_live: b.confirm_live,
        magic: b.magic,
        netting: b.netting,
        state: b.state.clone(),
        state_reason: b.state_reason.clone(),
        last_bar_time: b.last_bar_time.and_then(|t| utc_of_bar(state, server, t)),
        next_bar_time: running.then(|| rfc3339(b.due_at)),
        passes: b.passes,
        trades: b.trades,
        skipped_bars: b.skipped_bars,
        missed_bars: b.missed_bars,
        refused_bars: b.refused_bars,
        last_skip_reason: b.last_skip_reason.clone(),
        open_positions: b.open_positions.clone(),
        last_run,
        created_at: rfc3339(b.created_at),
        updated_at: rfc3339(b.updated_at),
    }
}

async fn load(state: &AppState, user: &AuthUser, raw: &str) -> ApiResult<BotRow> {
    let id = path_uuid("bot_id", raw)?;
    state
        .store
        .get_bot(&user.ctx, id)
        .await?
        .ok_or(ApiError::BotNotFound)
}

fn conflict(state: &str, message: &'static str) -> ApiError {
    ApiError::BotStateConflict {
        state: state.to_string(),
        message,
    }
}

/// Maps a store write to the answer, telling the stream on success.
async fn written(
    state: &AppState,
    user: &AuthUser,
    w: BotWrite,
    symbol: &str,
    wrong: &'static str,
) -> ApiResult<BotView> {
    match w {
        BotWrite::Done(b) => {
            state.events.bot_changed(user.id(), b.id);
            view(state, user, &b).await
        }
        BotWrite::NotFound => Err(ApiError::BotNotFound),
        BotWrite::WrongState(b) => Err(conflict(&b.state, wrong)),
        BotWrite::SymbolTaken { bot_id } => Err(ApiError::BotSymbolTaken {
            symbol: symbol.to_string(),
            bot_id,
        }),
        BotWrite::LimitReached {
            name,
            limit,
            current,
        } => Err(ApiError::BotLimitReached {
            setting: name,
            per: if name == "BOTS_PER_USER" {
                "user"
            } else {
                "account"
            },
            limit,
            current,
        }),
    }
}

/// Create a bot: it runs on every closed bar of its timeframe from now on.
#[utoipa::path(
    post,
    path = "/api/v1/bots",
    tag = "bots",
    operation_id = "create_bot",
    request_body = CreateBotRequest,
    responses(
        (status = 201, description = "The bot, running", body = BotView),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found` (also another user's account); `algorithm_not_found`; `symbol_not_found`", body = doc::ErrorBody),
        (status = 409, description = "`bot_limit_reached` (`BOTS_PER_USER`, `BOTS_PER_ACCOUNT`); `bot_symbol_taken` (a netting account's symbol another bot trades); `account_credentials_invalid`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed` (`name`, `parameters.<key>`, …); `invalid_combination`; `live_confirmation_required` (a live account without `confirm_live`, unless `dry_run`)", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<BotView>)> {
    let req = CreateBotRequest::parse(&body)?;
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "must be 1 to 100 characters"));
    }
    let dry_run = req.dry_run.unwrap_or(false);
    let confirm_live = req.confirm_live.unwrap_or(false);
    let account = state
        .store
        .get_account(&user.ctx, req.account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    let (strategy, mut merged) =
        super::algorithms::resolve(&state, &user, &req.algorithm_id).await?;
    merged.extend(req.parameters.unwrap_or_default());
    let parameters = Value::Object(merged);
    let params = strategy.validate(&parameters).map_err(prefixed)?;
    if !dry_run && account.account_type.as_deref() == Some("live") && !confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    // The account's margin mode and trade mode, and the symbol, as MT5 reports them now.
    let symbol = params.symbol.clone();
    let (info, _) = crate::trading::read(&state, &account, move |t, at| {
        let symbol = symbol.clone();
        Box::pin(async move {
            let info = t.account_info(&at).await?;
            let s = t.symbol_info(&at, &symbol).await?;
            Ok((info, s))
        })
    })
    .await?;
    let real = !matches!(
        info.trade_mode,
        mt5::AccountTradeMode::Demo | mt5::AccountTradeMode::Contest
    );
    if !dry_run && real && !confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    let settings = state.bots.settings;
    let w = state
        .store
        .create_bot(
            &user.ctx,
            NewBot {
                id: Uuid::new_v4(),
                account_id: account.id,
                name,
                algorithm_id: req.algorithm_id.clone(),
                algorithm_kind: strategy.name().to_string(),
                parameters,
                symbol: params.symbol.clone(),
                timeframe: params.timeframe.name().to_ascii_uppercase(),
                dry_run,
                confirm_live,
                netting: !info.margin_mode.is_hedging(),
            },
            BotLimits {
                per_user: settings.per_user,
                per_account: settings.per_account,
            },
        )
        .await?;
    let v = written(&state, &user, w, &params.symbol, "").await?;
    state.bots.ring();
    Ok((StatusCode::CREATED, Json(v)))
}

/// The user's bots, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/bots",
    tag = "bots",
    operation_id = "list_bots",
    params(BotsQuery),
    responses(
        (status = 200, description = "A page of bots", body = BotPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: a bad `account_id`, `limit` or `cursor`, or an unknown parameter", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<BotPage>> {
    let BotsQuery {
        account_id,
        limit,
        cursor,
    } = BotsQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(50);
    let after = cursor
        .as_deref()
        .map(super::algorithms::time_cursor)
        .transpose()?;
    let rows = state
        .store
        .list_bots(&user.ctx, account_id, after, page::with_next(limit))
        .await?;
    let (rows, more) = page::split(rows, limit);
    let next_cursor = match (more, rows.last()) {
        (true, Some(last)) => Some(format!("{}_{}", rfc3339(last.created_at), last.id)),
        _ => None,
    };
    let bots = views(&state, &user, &rows).await?;
    Ok(Json(BotPage { bots, next_cursor }))
}

/// One bot.
#[utoipa::path(
    get,
    path = "/api/v1/bots/{bot_id}",
    tag = "bots",
    operation_id = "get_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    responses(
        (status = 200, description = "The bot", body = BotView),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found` (also another user's)", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `bot_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<BotView>> {
    let b = load(&state, &user, &raw).await?;
    Ok(Json(view(&state, &user, &b).await?))
}

/// New parameters for a bot (over its own, validated as on creation); from its next bar.
#[utoipa::path(
    put,
    path = "/api/v1/bots/{bot_id}",
    tag = "bots",
    operation_id = "update_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    request_body = UpdateBotRequest,
    responses(
        (status = 200, description = "The bot", body = BotView),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`", body = doc::ErrorBody),
        (status = 409, description = "`bot_state_conflict` (a stopped bot); `bot_symbol_taken`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed` (`parameters.<key>`); `invalid_combination`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<BotView>> {
    let req = UpdateBotRequest::parse(&body)?;
    let b = load(&state, &user, &raw).await?;
    let strategy = find(&b.algorithm_kind)
        .ok_or_else(|| ApiError::validation("kind", "the bot's strategy is unknown"))?;
    let mut merged = b.parameters.as_object().cloned().unwrap_or_default();
    merged.extend(req.parameters);
    let parameters = Value::Object(merged);
    let params = strategy.validate(&parameters).map_err(prefixed)?;
    let w = state
        .store
        .update_bot_parameters(
            &user.ctx,
            b.id,
            parameters,
            &params.symbol,
            &params.timeframe.name().to_ascii_uppercase(),
        )
        .await?;
    Ok(Json(
        written(
            &state,
            &user,
            w,
            &params.symbol,
            "a stopped bot is not edited",
        )
        .await?,
    ))
}

async fn transition(
    state: &AppState,
    user: &AuthUser,
    b: &BotRow,
    t: Transition<'_>,
    wrong: &'static str,
) -> ApiResult<BotView> {
    let w = state.store.transition_bot(&user.ctx, b.id, t).await?;
    written(state, user, w, &b.symbol, wrong).await
}

/// Pause a bot: it evaluates nothing until resumed. Pausing a paused bot changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/bots/{bot_id}/pause",
    tag = "bots",
    operation_id = "pause_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    responses(
        (status = 200, description = "The bot, paused", body = BotView),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`", body = doc::ErrorBody),
        (status = 409, description = "`bot_state_conflict`: the bot is stopped", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `bot_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn pause(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<BotView>> {
    let b = load(&state, &user, &raw).await?;
    if b.state == PAUSED {
        return Ok(Json(view(&state, &user, &b).await?));
    }
    let t = Transition {
        to: PAUSED,
        reason: Some(reason::USER),
        from: &[RUNNING, FAULTED],
    };
    Ok(Json(
        transition(&state, &user, &b, t, "a stopped bot is not paused").await?,
    ))
}

/// Resume a paused or faulted bot: from the next closed bar (a faulted bot's fault is checked
/// again by that pass). Resuming a running bot changes nothing.
#[utoipa::path(
    post,
    path = "/api/v1/bots/{bot_id}/resume",
    tag = "bots",
    operation_id = "resume_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    responses(
        (status = 200, description = "The bot, running", body = BotView),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`", body = doc::ErrorBody),
        (status = 409, description = "`bot_state_conflict`: the bot is stopped; `bot_symbol_taken`: on a netting account another bot took the symbol", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `bot_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn resume(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<BotView>> {
    let b = load(&state, &user, &raw).await?;
    if b.state == RUNNING {
        return Ok(Json(view(&state, &user, &b).await?));
    }
    let t = Transition {
        to: RUNNING,
        reason: None,
        from: &[PAUSED, FAULTED],
    };
    let v = transition(&state, &user, &b, t, "a stopped bot is not resumed").await?;
    state.bots.ring();
    Ok(Json(v))
}

/// Stop a bot for good (it can then be deleted); with `close_positions`, its positions are closed
/// through the order pipeline, journaled. A close that fails leaves the bot stopped with the
/// positions in `open_positions`.
#[utoipa::path(
    post,
    path = "/api/v1/bots/{bot_id}/stop",
    tag = "bots",
    operation_id = "stop_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    request_body(content = StopBotRequest, description = "Optional"),
    responses(
        (status = 200, description = "The bot, stopped", body = BotView),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn stop(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    MaybeJsonBody(body): MaybeJsonBody,
) -> ApiResult<Json<BotView>> {
    let close = match &body {
        Some(v) => StopBotRequest::parse(v)?.close_positions.unwrap_or(false),
        None => false,
    };
    let b = load(&state, &user, &raw).await?;
    if b.state != STOPPED {
        let t = Transition {
            to: STOPPED,
            reason: Some(reason::USER),
            from: &[RUNNING, PAUSED, FAULTED],
        };
        state.store.transition_bot(&user.ctx, b.id, t).await?;
    }
    if close {
        let account = state
            .store
            .get_account(&user.ctx, b.account_id)
            .await?
            .ok_or(ApiError::AccountNotFound)?;
        let own = crate::bots::wave::own_positions(&state, &account, b.magic).await?;
        let failed = if own.is_empty() {
            Vec::new()
        } else {
            crate::bots::wave::close_all(&state, &user.ctx, &account, &b, own).await
        };
        let left = (!failed.is_empty()).then_some(Value::Array(failed));
        state
            .store
            .set_bot_open_positions(&user.ctx, b.id, left)
            .await?;
    }
    state.events.bot_changed(user.id(), b.id);
    let b = load(&state, &user, &raw).await?;
    Ok(Json(view(&state, &user, &b).await?))
}

/// Delete a stopped bot (its runs keep their `bot_id`).
#[utoipa::path(
    delete,
    path = "/api/v1/bots/{bot_id}",
    tag = "bots",
    operation_id = "delete_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id")),
    responses(
        (status = 200, description = "Deleted", body = doc::Success),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`", body = doc::ErrorBody),
        (status = 409, description = "`bot_state_conflict`: stop the bot first", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `bot_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<doc::Success>> {
    let b = load(&state, &user, &raw).await?;
    match state.store.delete_bot(&user.ctx, b.id).await? {
        BotWrite::Done(_) => {
            state.events.bot_changed(user.id(), b.id);
            Ok(Json(doc::Success { success: doc::True }))
        }
        BotWrite::WrongState(b) => Err(conflict(&b.state, "stop the bot before deleting it")),
        _ => Err(ApiError::BotNotFound),
    }
}

/// The kill switch: pause every running bot of the user, or of one account, in one call (state
/// `paused`, reason `kill_switch`). Risk limits are not touched.
#[utoipa::path(
    post,
    path = "/api/v1/bots/kill_switch",
    tag = "bots",
    operation_id = "kill_switch",
    request_body(content = KillSwitchRequest, description = "Optional"),
    responses(
        (status = 200, description = "The bots paused", body = KillSwitchResult),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn kill_switch(
    State(state): State<AppState>,
    user: AuthUser,
    MaybeJsonBody(body): MaybeJsonBody,
) -> ApiResult<Json<KillSwitchResult>> {
    let account_id = match &body {
        Some(v) => KillSwitchRequest::parse(v)?.account_id,
        None => None,
    };
    if let Some(id) = account_id {
        state
            .store
            .get_account(&user.ctx, id)
            .await?
            .ok_or(ApiError::AccountNotFound)?;
    }
    let paused = state
        .store
        .pause_bots(&user.ctx, account_id, reason::KILL_SWITCH)
        .await?;
    for id in &paused {
        state.events.bot_changed(user.id(), *id);
    }
    Ok(Json(KillSwitchResult { paused }))
}

/// `?from=&to=` of the replay: the bars' open times (UTC), RFC 3339 or epoch seconds.
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct ReplayQuery {
    /// The first bar (default: the bot's first recorded pass).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub from: Option<i64>,
    /// The last bar (default: now).
    #[param(required = false, value_type = doc::TimeInput)]
    #[request(with = input_time)]
    pub to: Option<i64>,
    /// Recorded passes per call: 1 to 10000 (default 10000); `next_from` continues.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// Recorded passes one replay call re-evaluates at most.
const REPLAY_PAGE_MAX: u32 = 10_000;

/// Replays evaluating at once, across users: the evaluation is CPU work kept off the runtime's
/// threads, and this many at a time keep it from taking every core.
static REPLAYS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A pass whose decisions the replay does not reproduce.
#[derive(Serialize, ToSchema)]
pub struct ReplayDifference {
    /// The open time (UTC) of the bar the pass evaluated.
    #[schema(format = DateTime)]
    pub bar_time: String,
    /// What the pass decided then (the strategy's intents, before sizing).
    #[schema(value_type = Vec<Object>)]
    pub recorded: Value,
    /// What the strategy decides now on the same bars (from the bar cache) and positions.
    #[schema(value_type = Vec<Object>)]
    pub replayed: Value,
}

/// The replay of a bot's recorded passes.
#[derive(Serialize, ToSchema)]
pub struct ReplayResult {
    pub bot_id: Uuid,
    /// Recorded passes that evaluated the strategy in the window, all re-evaluated.
    pub passes: u64,
    /// The passes whose intents differ (empty on a broker whose history was not revised).
    pub differences: Vec<ReplayDifference>,
    /// More passes are recorded in the window: the `from` that continues after this page.
    #[schema(format = DateTime)]
    pub next_from: Option<String>,
}

/// Re-evaluate a bot's recorded passes through the shared strategy driver, on the bars of the
/// bar cache and the positions each pass recorded, and list the passes whose intents differ.
#[utoipa::path(
    get,
    path = "/api/v1/bots/{bot_id}/replay",
    tag = "bots",
    operation_id = "replay_bot",
    params(("bot_id" = Uuid, Path, description = "The bot's id"), ReplayQuery),
    responses(
        (status = 200, description = "The passes re-evaluated and those that differ", body = ReplayResult),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`bot_not_found`; `account_not_found` (its account was deleted)", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`: a bad `bot_id`, `from`, `to` or `limit`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn replay(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<ReplayResult>> {
    let ReplayQuery { from, to, limit } = ReplayQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(REPLAY_PAGE_MAX).clamp(1, REPLAY_PAGE_MAX);
    let b = load(&state, &user, &raw).await?;
    // Up to a page of evaluations: the user's dry-run budget pays for it, so one user's replays
    // cannot keep the replicas' replay turns (below) from everyone else.
    super::algorithms::spend_dry_run(&state, &user).await?;
    let account = state
        .store
        .get_account(&user.ctx, b.account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    let strategy = find(&b.algorithm_kind)
        .ok_or_else(|| ApiError::validation("kind", "the bot's strategy is unknown"))?;
    let symbol = b.symbol.clone();
    let (info, offset_s, server) = crate::trading::read(&state, &account, move |t, at| {
        let symbol = symbol.clone();
        Box::pin(async move {
            let info = t.symbol_info(&at, &symbol).await?;
            let offset = t.server_time_offset_s(&at).await?;
            let server = t.account_info(&at).await?.server;
            Ok((info, offset, server))
        })
    })
    .await?;
    let from_s = from.map_or(i64::MIN, |f| f.saturating_add(offset_s));
    let to_s = to.map_or(i64::MAX, |t| t.saturating_add(offset_s));
    let mut recorded = state
        .store
        .bot_passes(&user.ctx, b.id, from_s, to_s, limit.saturating_add(1))
        .await?;
    let next_from = if recorded.len() > limit as usize {
        recorded.truncate(limit as usize + 1);
        recorded
            .pop()
            .and_then(|(bar, _, _)| utc_of_bar(&state, Some(&account.server), bar))
    } else {
        None
    };
    let recorded: Vec<Recorded> = recorded
        .into_iter()
        .filter(|(_, _, intents)| intents.get("decided").is_some())
        .map(|(bar_time, inputs, intents)| {
            let parameters = inputs.get("parameters").unwrap_or(&b.parameters).clone();
            Recorded {
                bar_time,
                parameters,
                inputs,
                decided: intents.get("decided").cloned().unwrap_or(Value::Null),
            }
        })
        .collect();
    let passes = recorded.len() as u64;
    // The passes' parameters (one set unless edited) and the series they read, from the bar cache.
    let mut parsed: Vec<(Value, crate::algorithms::strategies::Params)> = Vec::new();
    for r in &recorded {
        if !parsed.iter().any(|(raw, _)| *raw == r.parameters) {
            let p = strategy.validate(&r.parameters).map_err(prefixed)?;
            parsed.push((r.parameters.clone(), p));
        }
    }
    let mut series: HashMap<(String, i64), Vec<mt5::Rate>> = HashMap::new();
    if let (Some(first), Some(last)) = (recorded.first(), recorded.last()) {
        let source = crate::bars::Source {
            state: &state,
            row: &account,
            server: crate::bars::server_key(&server),
            offset_s,
            cache_max_bytes: state.backtests.settings.bar_cache_max_bytes,
        };
        let mut stats = crate::bars::ReadStats::default();
        let warm_up = recorded
            .iter()
            .filter_map(|r| r.inputs.get("count").and_then(Value::as_u64))
            .max()
            .unwrap_or(0) as usize;
        for (_, p) in &parsed {
            let key = (p.symbol.clone(), p.timeframe.code());
            if let std::collections::hash_map::Entry::Vacant(slot) = series.entry(key) {
                let bars = source
                    .history(
                        &p.symbol,
                        p.timeframe,
                        first.bar_time,
                        last.bar_time,
                        warm_up,
                        &mut stats,
                    )
                    .await?;
                slot.insert(bars);
            }
        }
    }
    let _turn = REPLAYS
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("replays closed".into()))?;
    let magic = b.magic.max(0) as u64;
    let differing = tokio::task::spawn_blocking(move || {
        reevaluate(strategy.as_ref(), &parsed, &series, &recorded, &info, magic)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("replay: {e}")))?;
    let differences = differing
        .into_iter()
        .map(|(bar_time, recorded, replayed)| ReplayDifference {
            bar_time: utc_of_bar(&state, Some(&account.server), bar_time).unwrap_or_default(),
            recorded,
            replayed,
        })
        .collect();
    Ok(Json(ReplayResult {
        bot_id: b.id,
        passes,
        differences,
        next_from,
    }))
}

/// A recorded pass, as the replay reads it.
struct Recorded {
    bar_time: i64,
    parameters: Value,
    inputs: Value,
    decided: Value,
}

/// Each recorded pass re-evaluated on the series' bars up to its bar and its recorded positions:
/// (bar, recorded, replayed) of those that differ.
fn reevaluate(
    strategy: &dyn crate::algorithms::strategies::Strategy,
    parsed: &[(Value, crate::algorithms::strategies::Params)],
    series: &HashMap<(String, i64), Vec<mt5::Rate>>,
    recorded: &[Recorded],
    info: &mt5::SymbolInfo,
    magic: u64,
) -> Vec<(i64, Value, Value)> {
    let mut out = Vec::new();
    for r in recorded {
        let Some((_, params)) = parsed.iter().find(|(raw, _)| *raw == r.parameters) else {
            continue;
        };
        let key = (params.symbol.clone(), params.timeframe.code());
        let all = series.get(&key).map(Vec::as_slice).unwrap_or_default();
        let count = r.inputs.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        let upto = all.partition_point(|bar| bar.time <= r.bar_time);
        let history = &all[upto.saturating_sub(count)..upto];
        let own: Vec<mt5::TradePosition> = r
            .inputs
            .get("positions")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| mt5::TradePosition {
                        ticket: p["ticket"].as_u64().unwrap_or(0),
                        r#type: serde_json::from_value(p["type"].clone()).unwrap_or_default(),
                        volume: p["volume"].as_f64().unwrap_or(0.0),
                        price_open: p["price_open"].as_f64().unwrap_or(0.0),
                        sl: p["sl"].as_f64().unwrap_or(0.0),
                        tp: p["tp"].as_f64().unwrap_or(0.0),
                        time: p["time"].as_i64().unwrap_or(0),
                        magic,
                        symbol: params.symbol.clone(),
                        ..Default::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let replayed = strategy.evaluate(params, history, &own, mt5::util::PriceGrid::of(info));
        let replayed = serde_json::to_value(replayed).unwrap_or(Value::Null);
        if r.decided != replayed {
            out.push((r.bar_time, r.decided.clone(), replayed));
        }
    }
    out
}
