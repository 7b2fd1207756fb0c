//! `/api/v1/algorithms`: the built-in strategies, the user's saved configurations, executions and
//! their runs.

use super::doc;
use super::doc::{Success, True};
use super::extract::{path_uuid, AuthUser, JsonBody};
use super::extract::{Path, Query};
use super::validate::{any_text, query_uuid, Fields, Opt, Request};
use crate::algorithms::executor::{
    execute as run_execution, AlgorithmTrade, Execution, RunReport, SkippedIntent,
};
use crate::algorithms::strategies::{builtin, find, Strategy};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::limits::count_refusal;
use crate::state::AppState;
use crate::store::algorithms::{
    AlgorithmConfig, AlgorithmConfigPatch, AlgorithmRun, ConfigCreated, NewAlgorithmConfig,
};
use crate::store::page;
use crate::times::rfc3339;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type as SchemaType,
};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;
use uuid::Uuid;

/// A built-in strategy.
#[derive(Serialize, ToSchema)]
pub struct BuiltinAlgorithm {
    pub name: &'static str,
    pub description: &'static str,
    /// The JSON Schema of its parameters.
    #[schema(value_type = Object)]
    pub parameters: Value,
}

/// A saved configuration of a built-in strategy.
#[derive(Serialize, ToSchema)]
#[schema(as = Algorithm)]
pub struct AlgorithmView {
    pub id: Uuid,
    pub name: String,
    /// The built-in strategy it configures.
    pub kind: String,
    #[schema(value_type = Object)]
    pub parameters: Value,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&AlgorithmConfig> for AlgorithmView {
    fn from(c: &AlgorithmConfig) -> Self {
        AlgorithmView {
            id: c.id,
            name: c.name.clone(),
            kind: c.kind.clone(),
            parameters: c.parameters.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AlgorithmList {
    /// Every built-in strategy, in every page.
    pub builtin: Vec<BuiltinAlgorithm>,
    /// A page of the user's saved configurations, oldest first.
    pub saved: Vec<AlgorithmView>,
    /// The `cursor` of the next page of `saved`; null on the last.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlgorithmEnvelope {
    pub algorithm: AlgorithmView,
}

#[derive(Serialize, ToSchema)]
pub struct AlgorithmSaved {
    pub success: True,
    pub algorithm: AlgorithmView,
}

/// `POST /algorithms/execute`'s answer.
#[derive(Serialize, ToSchema)]
pub struct ExecuteResponse {
    pub success: True,
    /// The length of `trades`.
    pub trades_executed: usize,
    pub trades: Vec<AlgorithmTrade>,
    pub skipped: Vec<SkippedIntent>,
    pub run_id: Uuid,
    pub dry_run: bool,
}

impl From<RunReport> for ExecuteResponse {
    fn from(r: RunReport) -> Self {
        ExecuteResponse {
            success: True,
            trades_executed: r.trades.len(),
            trades: r.trades,
            skipped: r.skipped,
            run_id: r.run_id,
            dry_run: r.dry_run,
        }
    }
}

/// A run's state.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // names the values of `RunView::status` in the document
pub enum RunStatus {
    Running,
    Done,
    Failed,
    /// A bot's pass that skipped its bar (the reason in `error`).
    Skipped,
}

/// One execution of an algorithm.
#[derive(Serialize, ToSchema)]
#[schema(as = AlgorithmRun)]
pub struct RunView {
    pub id: Uuid,
    pub account_id: Uuid,
    /// As requested: a built-in name or a configuration's id.
    pub algorithm_id: String,
    /// The built-in strategy that ran.
    pub algorithm: String,
    /// The parameters the run used.
    #[schema(value_type = Object)]
    pub parameters: Value,
    pub dry_run: bool,
    #[schema(value_type = RunStatus)]
    pub status: String,
    pub trades_executed: usize,
    /// As the run stored them.
    #[schema(value_type = Vec<AlgorithmTrade>)]
    pub trades: Value,
    #[schema(value_type = Vec<SkippedIntent>)]
    pub skipped: Value,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(required = true, format = DateTime)]
    pub finished_at: Option<String>,
    /// The bot whose pass this was; null for `/algorithms/execute`.
    #[schema(required = true)]
    pub bot_id: Option<Uuid>,
    /// A bot's pass: the open time of the closed bar it evaluated (UTC).
    #[schema(required = true, format = DateTime)]
    pub bar_time: Option<String>,
}

impl From<&AlgorithmRun> for RunView {
    fn from(r: &AlgorithmRun) -> Self {
        RunView {
            id: r.id,
            account_id: r.account_id,
            algorithm_id: r.algorithm_id.clone(),
            algorithm: r.algorithm_kind.clone(),
            parameters: r.parameters.clone(),
            dry_run: r.dry_run,
            status: r.status.clone(),
            trades_executed: r.trades.as_array().map(Vec::len).unwrap_or(0),
            trades: r.trades.clone(),
            skipped: r.skipped.clone(),
            error: r.error.clone(),
            started_at: rfc3339(r.started_at),
            finished_at: r.finished_at.map(rfc3339),
            bot_id: r.bot_id,
            // The pass recorded it in UTC (the bar's server time less the offset it measured).
            bar_time: r.bar_time.and_then(|t| {
                time::OffsetDateTime::from_unix_timestamp(t)
                    .ok()
                    .map(rfc3339)
            }),
        }
    }
}

/// Runs, newest first; `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunEnvelope {
    pub run: RunView,
}

/// Validation errors of a strategy's parameters, named `parameters.<key>`.
pub(super) fn prefixed(errors: Vec<FieldError>) -> ApiError {
    ApiError::fields(
        errors
            .into_iter()
            .map(|e| {
                if e.field.starts_with("parameters") {
                    e
                } else {
                    FieldError {
                        field: format!("parameters.{}", e.field),
                        ..e
                    }
                }
            })
            .collect(),
    )
}

/// One of the user's `DRY_RUN_LIMIT_PER_HOUR` evaluations that send nothing (a dry run, a bot's
/// replay), or `429 rate_limited` `dry_runs_per_user`.
pub(super) async fn spend_dry_run(state: &AppState, user: &AuthUser) -> ApiResult<()> {
    let limit = state.limits.dry_runs_per_user;
    state
        .limiter
        .acquire(&format!("dry_runs:{}", user.id()), limit)
        .await
        .inspect_err(|e| count_refusal(&state.metrics, e, "dry_runs_per_user"))
        .map_err(|e| crate::limits::refused("dry_runs_per_user", limit, e))
}

/// The strategy an `algorithm_id` names, for execute, backtests and bots alike: a built-in by
/// name, or one of the user's saved configurations by id, with its parameters (which the request's
/// override). Another user's configuration is `algorithm_not_found`.
pub(super) async fn resolve(
    state: &AppState,
    user: &AuthUser,
    algorithm_id: &str,
) -> ApiResult<(Box<dyn Strategy>, Map<String, Value>)> {
    if let Some(s) = find(algorithm_id) {
        return Ok((s, Map::new()));
    }
    let id = Uuid::parse_str(algorithm_id).map_err(|_| ApiError::AlgorithmNotFound)?;
    let config = state
        .store
        .get_config(&user.ctx, id)
        .await?
        .ok_or(ApiError::AlgorithmNotFound)?;
    saved_for_run(&config)
}

/// A saved configuration about to run: its strategy and its parameters (to be overridden by the
/// request's), validated again as on write. Users may write their rows directly (Supabase's Data
/// API), past the API's checks, so a bad stored kind or parameter is a `validation_failed` naming
/// it (`kind`, `parameters.<key>`). It is never a 500, and never silently replaced by defaults.
fn saved_for_run(config: &AlgorithmConfig) -> ApiResult<(Box<dyn Strategy>, Map<String, Value>)> {
    let stored = |e: ApiError| match e {
        ApiError::Validation(fields) | ApiError::InvalidCombination(fields) => ApiError::fields(
            fields
                .into_iter()
                .map(|f| {
                    let message = format!(
                        "the saved configuration's value is invalid ({}): set it again with \
                         PUT /api/v1/algorithms/{{algorithm_id}}",
                        f.message
                    );
                    FieldError { message, ..f }
                })
                .collect(),
        ),
        other => other,
    };
    let strategy = strategy_of(&config.kind, "kind").map_err(stored)?;
    strategy
        .validate(&config.parameters)
        .map_err(|errors| stored(prefixed(errors)))?;
    // Validated, so an object (a null one would lack the required symbol).
    let parameters = config.parameters.as_object().cloned().unwrap_or_default();
    Ok((strategy, parameters))
}

/// The built-in strategies and the user's saved configurations.
///
/// `saved` is paged, oldest first: at most `limit` configurations (default and largest: the
/// `ALGORITHMS_PER_USER` cap, so a client that does not page gets every one; a larger `limit` is
/// read as the cap), then `next_cursor` for the next page (null on the last). `builtin` is in
/// every page.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms",
    tag = "algorithms",
    operation_id = "list_algorithms",
    params(AlgorithmsQuery),
    responses(
        (status = 200, description = "Built-in strategies with their parameters' schema, and a page of saved configurations", body = AlgorithmList),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: a bad `limit` or `cursor`, or an unknown parameter", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<AlgorithmList>> {
    let AlgorithmsQuery { limit, cursor } = AlgorithmsQuery::parse_query(&q)?;
    // The document states one bound for every deployment; a page never holds more than the cap,
    // so a `limit` past it is the cap (a client that does not page still gets everything).
    let cap = state.limits.algorithms_per_user;
    let limit = limit.map_or(cap, |n| n.min(cap));
    let after = cursor.as_deref().map(time_cursor).transpose()?;
    let builtin = builtin()
        .iter()
        .map(|s| BuiltinAlgorithm {
            name: s.name(),
            description: s.description(),
            parameters: s.schema(),
        })
        .collect();
    let rows = state
        .store
        .list_configs(&user.ctx, after, page::with_next(limit))
        .await?;
    let (saved, more) = page::split(rows, limit);
    let next_cursor = match (more, saved.last()) {
        (true, Some(last)) => Some(format!("{}_{}", rfc3339(last.created_at), last.id)),
        _ => None,
    };
    Ok(Json(AlgorithmList {
        builtin,
        saved: saved.iter().map(AlgorithmView::from).collect(),
        next_cursor,
    }))
}

/// A keyset cursor of this module's lists: `<RFC 3339 time>_<uuid>`.
pub(super) fn time_cursor(c: &str) -> ApiResult<(time::OffsetDateTime, Uuid)> {
    let bad = || ApiError::validation("cursor", "is not a cursor from this endpoint");
    let (t, id) = c.split_once('_').ok_or_else(bad)?;
    let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad())?;
    Ok((t, Uuid::parse_str(id).map_err(|_| bad())?))
}

fn strategy_of(kind: &str, field: &str) -> ApiResult<Box<dyn Strategy>> {
    find(kind).ok_or_else(|| {
        let names: Vec<&str> = builtin().iter().map(|s| s.name()).collect();
        ApiError::validation(field, format!("must be one of: {}", names.join(", ")))
    })
}

/// Save a configuration of a built-in strategy.
#[utoipa::path(
    post,
    path = "/api/v1/algorithms",
    tag = "algorithms",
    operation_id = "create_algorithm",
    request_body = CreateAlgorithmRequest,
    responses(
        (status = 201, description = "Saved", body = AlgorithmSaved),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, description = "`algorithm_exists`: another saved algorithm of the user's has this `name`; `algorithm_limit_reached`: the user has `ALGORITHMS_PER_USER` saved configurations (`details`: `limit`, `current`)", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: an unknown `kind`, or `parameters.<key>` at fault; `invalid_combination`: parameters that contradict each other (`slow_period` ≤ `fast_period`, …)", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<AlgorithmSaved>)> {
    let CreateAlgorithmRequest {
        name,
        kind,
        parameters,
    } = CreateAlgorithmRequest::parse(&body)?;
    let strategy = strategy_of(&kind, "kind")?;
    strategy.validate(&parameters).map_err(prefixed)?;
    let limit = state.limits.algorithms_per_user;
    let created = state
        .store
        .create_config(
            &user.ctx,
            NewAlgorithmConfig {
                id: Uuid::new_v4(),
                name,
                kind,
                parameters,
            },
            limit,
        )
        .await
        .map_err(name_taken)?;
    let config = match created {
        ConfigCreated::Saved(c) => c,
        ConfigCreated::LimitReached { current } => {
            return Err(ApiError::AlgorithmLimitReached { limit, current })
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(AlgorithmSaved {
            success: True,
            algorithm: (&config).into(),
        }),
    ))
}

async fn find_config(state: &AppState, user: &AuthUser, raw: &str) -> ApiResult<AlgorithmConfig> {
    let id = Uuid::parse_str(raw).map_err(|_| ApiError::AlgorithmNotFound)?;
    state
        .store
        .get_config(&user.ctx, id)
        .await?
        .ok_or(ApiError::AlgorithmNotFound)
}

/// One saved configuration.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms/{algorithm_id}",
    tag = "algorithms",
    operation_id = "get_algorithm",
    params(("algorithm_id" = Uuid, Path, description = "The configuration's id")),
    responses(
        (status = 200, description = "The configuration", body = AlgorithmEnvelope),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`algorithm_not_found`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<AlgorithmEnvelope>> {
    let c = find_config(&state, &user, &raw).await?;
    Ok(Json(AlgorithmEnvelope {
        algorithm: (&c).into(),
    }))
}

/// Update a saved configuration.
///
/// A partial update of name, kind and parameters, validated together.
#[utoipa::path(
    put,
    path = "/api/v1/algorithms/{algorithm_id}",
    tag = "algorithms",
    operation_id = "update_algorithm",
    params(("algorithm_id" = Uuid, Path, description = "The configuration's id")),
    request_body = UpdateAlgorithmRequest,
    responses(
        (status = 200, description = "Updated", body = AlgorithmSaved),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`algorithm_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, description = "`algorithm_exists`: another saved algorithm of the user's has this `name`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`; `invalid_combination` (parameters that contradict each other, or that do not fit the saved strategy when `kind` or `parameters` is left out)", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AlgorithmSaved>> {
    let UpdateAlgorithmRequest {
        name,
        kind,
        parameters,
    } = UpdateAlgorithmRequest::parse(&body)?;
    let current = find_config(&state, &user, &raw).await?;
    let strategy = strategy_of(kind.as_deref().unwrap_or(&current.kind), "kind")?;
    // With only one of kind and parameters, the other is the saved one: what does not fit it is
    // a combination the body's schema cannot rule out.
    let partial = kind.is_none() || parameters.is_none();
    strategy
        .validate(parameters.as_ref().unwrap_or(&current.parameters))
        .map_err(|errors| {
            prefixed(if partial {
                errors
                    .into_iter()
                    .map(|e| FieldError {
                        combination: true,
                        ..e
                    })
                    .collect()
            } else {
                errors
            })
        })?;
    let updated = state
        .store
        .update_config(
            &user.ctx,
            current.id,
            AlgorithmConfigPatch {
                name,
                kind,
                parameters,
            },
        )
        .await
        .map_err(name_taken)?
        .ok_or(ApiError::AlgorithmNotFound)?;
    Ok(Json(AlgorithmSaved {
        success: True,
        algorithm: (&updated).into(),
    }))
}

/// Delete a saved configuration.
#[utoipa::path(
    delete,
    path = "/api/v1/algorithms/{algorithm_id}",
    tag = "algorithms",
    operation_id = "delete_algorithm",
    params(("algorithm_id" = Uuid, Path, description = "The configuration's id")),
    responses(
        (status = 200, description = "Deleted", body = Success),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`algorithm_not_found`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<Success>> {
    let c = find_config(&state, &user, &raw).await?;
    if !state.store.delete_config(&user.ctx, c.id).await? {
        return Err(ApiError::AlgorithmNotFound);
    }
    Ok(Json(Success { success: True }))
}

/// Run one pass of an algorithm on one of the user's accounts.
///
/// A built-in strategy by name or a saved configuration by id. Entries are sized by risk, checked
/// against the account's risk limits and journaled before they are sent; what is not sent is in
/// `skipped` with why (docs/algorithms.md).
#[utoipa::path(
    post,
    path = "/api/v1/algorithms/execute",
    tag = "algorithms",
    operation_id = "execute_algorithm",
    request_body = ExecuteRequest,
    responses(
        (status = 200, description = "The run's trades and skipped intents", body = ExecuteResponse),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`; `algorithm_not_found`; `symbol_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 403, description = "`read_only_account`: the terminal reports that trading is not allowed on this account (not for dry runs)", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`invalid_combination` (parameters that contradict each other); `validation_failed` (`parameters.<key>` at fault, in the request or the saved configuration, or the saved configuration's `kind`; `risk_limits.<key>` when the account's stored limits are invalid); `live_confirmation_required` (the account's `account_type` is `live` or its terminal reports a real account, and `confirm_live` is not true; dry runs too)", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn execute(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<ExecuteResponse>> {
    let ExecuteRequest {
        account_id,
        algorithm_id,
        parameters,
        dry_run,
        confirm_live,
    } = ExecuteRequest::parse(&body)?;
    let account = state
        .store
        .get_account(&user.ctx, account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;

    let (strategy, mut merged) = resolve(&state, &user, &algorithm_id).await?;
    merged.extend(parameters);
    let raw_parameters = Value::Object(merged);
    let params = strategy.validate(&raw_parameters).map_err(prefixed)?;
    // A row that says `live` needs the confirmation before anything else; a row that does not is
    // checked against what the terminal reports, before anything is sent (`execute`).
    if account.account_type.as_deref() == Some("live") && !confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    // Every run is a stored row and stream events: a dry run spends the user's dry-run budget, a
    // run that may trade needs the refusal budget its orders would spend, both before it is stored.
    if dry_run {
        spend_dry_run(&state, &user).await?;
    } else {
        crate::trading::RefusalBudget::of(&state, &user.ctx)
            .check()
            .await?;
    }
    let report = run_execution(
        &state,
        &user.ctx,
        Execution {
            account: &account,
            algorithm_id,
            strategy: strategy.as_ref(),
            params,
            raw_parameters,
            dry_run,
            confirm_live,
        },
    )
    .await?;
    Ok(Json(report.into()))
}

/// The user's algorithm runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms/runs",
    tag = "algorithms",
    operation_id = "list_runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: a bad `limit` or `cursor`, or an unknown parameter", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn runs(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<RunPage>> {
    let RunsQuery {
        limit,
        cursor,
        bot_id,
    } = RunsQuery::parse_query(&q)?;
    let limit = limit.unwrap_or(50);
    let before = cursor.as_deref().map(time_cursor).transpose()?;
    let list = state
        .store
        .list_runs(&user.ctx, before, page::with_next(limit), bot_id)
        .await?;
    let (runs, more) = page::split(list, limit);
    let next_cursor = match (more, runs.last()) {
        (true, Some(last)) => Some(format!("{}_{}", rfc3339(last.started_at), last.id)),
        _ => None,
    };
    Ok(Json(RunPage {
        runs: runs.iter().map(RunView::from).collect(),
        next_cursor,
    }))
}

/// One algorithm run.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms/runs/{run_id}",
    tag = "algorithms",
    operation_id = "get_run",
    params(("run_id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunEnvelope),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`run_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `run_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn run(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<RunEnvelope>> {
    let id = path_uuid("run_id", &raw)?;
    let r = state
        .store
        .get_run(&user.ctx, id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    Ok(Json(RunEnvelope { run: (&r).into() }))
}

/// A saved algorithm's name is unique per user: the store's conflict is `409 algorithm_exists`.
fn name_taken(e: crate::store::StoreError) -> ApiError {
    match e {
        crate::store::StoreError::Conflict(_) => ApiError::AlgorithmExists,
        other => other.into(),
    }
}

/// POST /algorithms: one shape per built-in strategy, its `parameters` as the strategy states
/// them (`GET /algorithms`). Its schema is built here (a shape per strategy), and so is its parser.
pub struct CreateAlgorithmRequest {
    pub name: String,
    pub kind: String,
    pub parameters: Value,
}

impl Request for CreateAlgorithmRequest {
    fn read(f: &mut Fields<'_>) -> Self {
        let name = f.string("name", NAME_MAX);
        let name = f.required("name", name);
        let kind = f.one_of("kind", &kinds());
        let kind = f.required("kind", kind);
        let parameters = match f.value("parameters") {
            Opt::Value(v) if v.is_object() => v.clone(),
            Opt::Absent | Opt::Null => {
                f.error("parameters", "is required (an object)");
                Value::Null
            }
            Opt::Value(_) => {
                f.error("parameters", "must be an object");
                Value::Null
            }
        };
        CreateAlgorithmRequest {
            name,
            kind,
            parameters,
        }
    }
}

/// The longest name of a saved configuration.
const NAME_MAX: usize = 255;

impl utoipa::PartialSchema for CreateAlgorithmRequest {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "A configuration of a built-in strategy: its `kind` and the parameters that strategy takes",
        ));
        for strategy in builtin() {
            one_of = one_of.item(
                strategy_shape(strategy.as_ref())
                    .required("name")
                    .required("parameters"),
            );
        }
        one_of.into()
    }
}

impl utoipa::ToSchema for CreateAlgorithmRequest {}

/// A configuration of `strategy`: `name`, `kind` (required: it names the shape) and the
/// strategy's own `parameters`.
fn strategy_shape(strategy: &dyn Strategy) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Object)
        .property("name", name_schema())
        .property(
            "kind",
            ObjectBuilder::new()
                .schema_type(SchemaType::String)
                .enum_values(Some([strategy.name()])),
        )
        .required("kind")
        .property("parameters", strategy_parameters(strategy))
}

/// A configuration's name: unique among the user's configurations.
fn name_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::String)
        .min_length(Some(1))
        .max_length(Some(NAME_MAX))
        .pattern(Some(crate::fields::TEXT_PATTERN))
        .description(Some("Unique among the user's configurations"))
}

/// A strategy's own JSON Schema of its parameters, as the API document holds it.
fn strategy_parameters(strategy: &dyn Strategy) -> RefOr<Schema> {
    serde_json::from_value(strategy.schema())
        .unwrap_or_else(|_| ObjectBuilder::new().schema_type(SchemaType::Object).into())
}

/// Every parameter any strategy takes, none required: what overrides a saved configuration's
/// parameters (which strategy reads them is the configuration's).
fn any_parameters() -> RefOr<Schema> {
    let mut b = ObjectBuilder::new()
        .schema_type(SchemaType::Object)
        .description(Some(
            "Overrides of the saved configuration's parameters (its strategy's, `GET /algorithms`)",
        ));
    for strategy in builtin() {
        if let RefOr::T(Schema::Object(o)) = strategy_parameters(strategy.as_ref()) {
            for (key, p) in o.properties {
                b = b.property(key, p);
            }
        }
    }
    b.into()
}

/// PUT /algorithms/{algorithm_id}: a partial update, validated as a whole. With `kind` and
/// `parameters` both, the parameters are that strategy's; with one of them, the other is the saved
/// configuration's, and what does not fit it is `invalid_combination`.
pub struct UpdateAlgorithmRequest {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub parameters: Option<Value>,
}

impl Request for UpdateAlgorithmRequest {
    fn read(f: &mut Fields<'_>) -> Self {
        let name = f.string("name", NAME_MAX).value();
        let kind = f.one_of("kind", &kinds()).value();
        let parameters = match f.value("parameters") {
            Opt::Value(v) if v.is_object() => Some(v.clone()),
            Opt::Absent => None,
            _ => {
                f.error("parameters", "must be an object");
                None
            }
        };
        UpdateAlgorithmRequest {
            name,
            kind,
            parameters,
        }
    }
}

impl utoipa::PartialSchema for UpdateAlgorithmRequest {
    fn schema() -> RefOr<Schema> {
        let mut one_of = OneOfBuilder::new().description(Some(
            "A new name, a new strategy with its parameters, or new parameters for the saved strategy",
        ));
        for strategy in builtin() {
            one_of = one_of.item(strategy_shape(strategy.as_ref()));
        }
        one_of
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Object)
                    .property("name", name_schema())
                    .property("parameters", any_parameters()),
            )
            .into()
    }
}

impl utoipa::ToSchema for UpdateAlgorithmRequest {}

/// POST /algorithms/execute (the seed's body): a built-in strategy by name with its parameters,
/// or a saved configuration by id with overrides of its parameters.
pub struct ExecuteRequest {
    pub account_id: Uuid,
    /// A built-in strategy's name or a saved configuration's id.
    pub algorithm_id: String,
    pub parameters: Map<String, Value>,
    pub dry_run: bool,
    pub confirm_live: bool,
}

impl Request for ExecuteRequest {
    fn read(f: &mut Fields<'_>) -> Self {
        let account_id = f.uuid("account_id");
        let account_id = f.required("account_id", account_id);
        let algorithm_id = f.string("algorithm_id", 255);
        let algorithm_id = f.required("algorithm_id", algorithm_id);
        let parameters = match f.value("parameters") {
            Opt::Value(Value::Object(o)) => o.clone(),
            Opt::Absent | Opt::Null => Map::new(),
            Opt::Value(_) => {
                f.error("parameters", "must be an object");
                Map::new()
            }
        };
        ExecuteRequest {
            account_id,
            algorithm_id,
            parameters,
            dry_run: f.boolean("dry_run").value().unwrap_or(false),
            confirm_live: f.boolean("confirm_live").value().unwrap_or(false),
        }
    }
}

impl utoipa::PartialSchema for ExecuteRequest {
    fn schema() -> RefOr<Schema> {
        let common = |b: ObjectBuilder| {
            b.schema_type(SchemaType::Object)
                .property(
                    "account_id",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::String)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                        .description(Some("One of the user's accounts")),
                )
                .required("account_id")
                .property(
                    "dry_run",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Boolean)
                        .description(Some("Plan the trades and send nothing")),
                )
                .property(
                    "confirm_live",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Boolean)
                        .description(Some("Required on a `live` account")),
                )
                .required("algorithm_id")
        };
        let mut one_of = OneOfBuilder::new().description(Some(
            "A built-in strategy by name with its parameters, or a saved configuration by id",
        ));
        for strategy in builtin() {
            one_of = one_of.item(
                common(ObjectBuilder::new())
                    .property(
                        "algorithm_id",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::String)
                            .enum_values(Some([strategy.name()])),
                    )
                    .property("parameters", strategy_parameters(strategy.as_ref()))
                    .required("parameters"),
            );
        }
        one_of
            .item(
                common(ObjectBuilder::new())
                    .property(
                        "algorithm_id",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::String)
                            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                            .description(Some("A saved configuration's id")),
                    )
                    .property("parameters", any_parameters()),
            )
            .into()
    }
}

impl utoipa::ToSchema for ExecuteRequest {}

/// The names `kind` may take.
fn kinds() -> Vec<&'static str> {
    builtin().iter().map(|s| s.name()).collect()
}

/// `GET /algorithms`'s `?limit=&cursor=`: pages of saved configurations.
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct AlgorithmsQuery {
    /// 1 to 10000; a page holds at most `ALGORITHMS_PER_USER` (100 by default), which is also the
    /// default, so a client that does not page gets every configuration.
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}

/// `?limit=&cursor=&bot_id=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
    /// Only this bot's passes (without it, bots' passes are left out).
    #[param(required = false, value_type = String, format = Uuid)]
    #[request(with = query_uuid)]
    pub bot_id: Option<Uuid>,
}

/// `?limit=&cursor=`
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (opaque; anything else is 422 naming `cursor`).
    #[param(required = false, value_type = String, min_length = 1)]
    #[request(with = any_text)]
    pub cursor: Option<String>,
}
