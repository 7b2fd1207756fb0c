//! `/api/v1/algorithms`: the built-in strategies, the user's saved configurations, executions and
//! their runs.

use super::extract::{path_uuid, AuthUser, JsonBody};
use super::openapi as doc;
use super::validate::{Fields, Opt};
use crate::algorithms::executor::{execute as run_execution, Execution};
use crate::algorithms::strategies::{builtin, find, Strategy};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::algorithms::{
    AlgorithmConfig, AlgorithmConfigPatch, AlgorithmRun, NewAlgorithmConfig,
};
use crate::times::rfc3339;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

fn config_json(c: &AlgorithmConfig) -> Value {
    json!({
        "id": c.id, "name": c.name, "kind": c.kind, "parameters": c.parameters,
        "created_at": rfc3339(c.created_at), "updated_at": rfc3339(c.updated_at),
    })
}

fn run_json(r: &AlgorithmRun) -> Value {
    json!({
        "id": r.id, "account_id": r.account_id, "algorithm_id": r.algorithm_id, "algorithm": r.algorithm_kind,
        "parameters": r.parameters, "dry_run": r.dry_run, "status": r.status,
        "trades_executed": r.trades.as_array().map(Vec::len).unwrap_or(0),
        "trades": r.trades, "skipped": r.skipped, "error": r.error,
        "started_at": rfc3339(r.started_at), "finished_at": r.finished_at.map(rfc3339),
    })
}

/// Validation errors of a strategy's parameters, named `parameters.<key>`.
fn prefixed(errors: Vec<FieldError>) -> ApiError {
    ApiError::Validation(
        errors
            .into_iter()
            .map(|e| {
                if e.field.starts_with("parameters") {
                    e
                } else {
                    FieldError::new(format!("parameters.{}", e.field), e.message)
                }
            })
            .collect(),
    )
}

/// A saved configuration about to run: its strategy and its parameters (to be overridden by the
/// request's), validated again as on write. Users may write their rows directly (Supabase's Data
/// API), past the API's checks, so a bad stored kind or parameter is a `validation_failed` naming
/// it (`kind`, `parameters.<key>`). It is never a 500, and never silently replaced by defaults.
fn saved_for_run(config: &AlgorithmConfig) -> ApiResult<(Box<dyn Strategy>, Map<String, Value>)> {
    let stored = |e: ApiError| match e {
        ApiError::Validation(fields) => ApiError::Validation(
            fields
                .into_iter()
                .map(|f| {
                    let message = format!(
                        "the saved configuration's value is invalid ({}): set it again with \
                         PUT /api/v1/algorithms/{{algorithm_id}}",
                        f.message
                    );
                    FieldError::new(f.field, message)
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
#[utoipa::path(
    get,
    path = "/api/v1/algorithms",
    tag = "algorithms",
    operation_id = "list_algorithms",
    responses(
        (status = 200, description = "Built-in strategies with their parameters' schema, and saved configurations", body = doc::AlgorithmList),
        (status = 401, response = doc::Unauthorized),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Value>> {
    let builtins: Vec<Value> = builtin()
        .iter()
        .map(
            |s| json!({"name": s.name(), "description": s.description(), "parameters": s.schema()}),
        )
        .collect();
    let saved = state.store.list_configs(&user.ctx).await?;
    Ok(Json(
        json!({ "builtin": builtins, "saved": saved.iter().map(config_json).collect::<Vec<_>>() }),
    ))
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
    request_body = doc::CreateAlgorithmRequest,
    responses(
        (status = 201, description = "Saved", body = doc::AlgorithmSaved),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`: an unknown `kind`, a name in use, or `parameters.<key>` at fault", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let mut f = Fields::new(&body)?;
    let name = f.required_string("name", 255);
    let kind = f.required_string("kind", 64);
    let parameters = match f.value("parameters") {
        Opt::Value(v) if v.is_object() => Some(v.clone()),
        Opt::Absent | Opt::Null => {
            f.error("parameters", "is required (an object)");
            None
        }
        Opt::Value(_) => {
            f.error("parameters", "must be an object");
            None
        }
    };
    f.finish()?;
    let (Some(name), Some(kind), Some(parameters)) = (name, kind, parameters) else {
        return Err(ApiError::validation(
            "body",
            "name, kind and parameters are required",
        ));
    };
    let strategy = strategy_of(&kind, "kind")?;
    strategy.validate(&parameters).map_err(prefixed)?;
    let config = state
        .store
        .create_config(
            &user.ctx,
            NewAlgorithmConfig {
                id: Uuid::new_v4(),
                name,
                kind,
                parameters,
            },
        )
        .await
        .map_err(name_taken)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "success": true, "algorithm": config_json(&config) })),
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
        (status = 200, description = "The configuration", body = doc::AlgorithmEnvelope),
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
) -> ApiResult<Json<Value>> {
    let c = find_config(&state, &user, &raw).await?;
    Ok(Json(json!({ "algorithm": config_json(&c) })))
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
    request_body = doc::UpdateAlgorithmRequest,
    responses(
        (status = 200, description = "Updated", body = doc::AlgorithmSaved),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`algorithm_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let mut f = Fields::new(&body)?;
    let name = f.string("name", 255).value();
    let kind = f.string("kind", 64).value();
    let parameters = match f.value("parameters") {
        Opt::Value(v) if v.is_object() => Some(v.clone()),
        Opt::Absent => None,
        _ => {
            f.error("parameters", "must be an object");
            None
        }
    };
    f.finish()?;
    let current = find_config(&state, &user, &raw).await?;
    let strategy = strategy_of(kind.as_deref().unwrap_or(&current.kind), "kind")?;
    strategy
        .validate(parameters.as_ref().unwrap_or(&current.parameters))
        .map_err(prefixed)?;
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
    Ok(Json(
        json!({ "success": true, "algorithm": config_json(&updated) }),
    ))
}

/// Delete a saved configuration.
#[utoipa::path(
    delete,
    path = "/api/v1/algorithms/{algorithm_id}",
    tag = "algorithms",
    operation_id = "delete_algorithm",
    params(("algorithm_id" = Uuid, Path, description = "The configuration's id")),
    responses(
        (status = 200, description = "Deleted", body = doc::Success),
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
) -> ApiResult<Json<Value>> {
    let c = find_config(&state, &user, &raw).await?;
    if !state.store.delete_config(&user.ctx, c.id).await? {
        return Err(ApiError::AlgorithmNotFound);
    }
    Ok(Json(json!({ "success": true })))
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
    request_body = doc::ExecuteRequest,
    responses(
        (status = 200, description = "The run's trades and skipped intents", body = doc::ExecuteResponse),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`; `algorithm_not_found`; `symbol_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 403, description = "`read_only_account`: the terminal reports that trading is not allowed on this account (not for dry runs)", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed` (`parameters.<key>` at fault, in the request or the saved configuration, or the saved configuration's `kind`; `risk_limits.<key>` when the account's stored limits are invalid); `live_confirmation_required` (the account's `account_type` is `live` or its terminal reports a real account, and `confirm_live` is not true; dry runs too)", body = doc::ErrorBody),
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
) -> ApiResult<Json<Value>> {
    let mut f = Fields::new(&body)?;
    let account_raw = f.required_string("account_id", 64);
    let algorithm_id = f.required_string("algorithm_id", 255);
    let parameters = match f.value("parameters") {
        Opt::Value(v) if v.is_object() => v.as_object().cloned().unwrap_or_default(),
        Opt::Absent | Opt::Null => Map::new(),
        Opt::Value(_) => {
            f.error("parameters", "must be an object");
            Map::new()
        }
    };
    let dry_run = f.boolean("dry_run").value().unwrap_or(false);
    let confirm_live = f.boolean("confirm_live").value().unwrap_or(false);
    let account_id = account_raw.as_deref().and_then(|a| Uuid::parse_str(a).ok());
    if account_raw.is_some() && account_id.is_none() {
        f.error("account_id", "must be a UUID");
    }
    f.finish()?;
    let (Some(account_id), Some(algorithm_id)) = (account_id, algorithm_id) else {
        return Err(ApiError::validation(
            "body",
            "account_id and algorithm_id are required",
        ));
    };
    let account = state
        .store
        .get_account(&user.ctx, account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;

    // A built-in by name, or a saved configuration by id (its parameters, overridden by the request's).
    let (strategy, mut merged) = match find(&algorithm_id) {
        Some(s) => (s, Map::new()),
        None => {
            let id = Uuid::parse_str(&algorithm_id).map_err(|_| ApiError::AlgorithmNotFound)?;
            let config = state
                .store
                .get_config(&user.ctx, id)
                .await?
                .ok_or(ApiError::AlgorithmNotFound)?;
            saved_for_run(&config)?
        }
    };
    merged.extend(parameters);
    let raw_parameters = Value::Object(merged);
    let params = strategy.validate(&raw_parameters).map_err(prefixed)?;
    // A row that says `live` needs the confirmation before anything else; a row that does not is
    // checked against what the terminal reports, before anything is sent (`execute`).
    if account.account_type.as_deref() == Some("live") && !confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    let body = run_execution(
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
    Ok(Json(body))
}

/// The user's algorithm runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms/runs",
    tag = "algorithms",
    operation_id = "list_runs",
    params(doc::PageQuery),
    responses(
        (status = 200, description = "A page of runs", body = doc::RunPage),
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
) -> ApiResult<Json<Value>> {
    for k in q.keys() {
        if k != "limit" && k != "cursor" {
            return Err(ApiError::validation(
                k.chars().take(64).collect::<String>(),
                "unknown query parameter",
            ));
        }
    }
    let limit = match q.get("limit") {
        None => 50,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::validation("limit", "must be an integer from 1 to 500"))?,
    };
    let before = match q.get("cursor") {
        None => None,
        Some(c) => {
            let bad = || ApiError::validation("cursor", "is not a cursor from this endpoint");
            let (t, id) = c.split_once('_').ok_or_else(bad)?;
            let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| bad())?;
            Some((t, Uuid::parse_str(id).map_err(|_| bad())?))
        }
    };
    let list = state.store.list_runs(&user.ctx, before, limit + 1).await?;
    let more = list.len() > limit as usize;
    let page: Vec<_> = list.into_iter().take(limit as usize).collect();
    let next = match (more, page.last()) {
        (true, Some(last)) => json!(format!("{}_{}", rfc3339(last.started_at), last.id)),
        _ => Value::Null,
    };
    Ok(Json(
        json!({ "runs": page.iter().map(run_json).collect::<Vec<_>>(), "next_cursor": next }),
    ))
}

/// One algorithm run.
#[utoipa::path(
    get,
    path = "/api/v1/algorithms/runs/{run_id}",
    tag = "algorithms",
    operation_id = "get_run",
    params(("run_id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = doc::RunEnvelope),
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
) -> ApiResult<Json<Value>> {
    let id = path_uuid("run_id", &raw)?;
    let r = state
        .store
        .get_run(&user.ctx, id)
        .await?
        .ok_or(ApiError::RunNotFound)?;
    Ok(Json(json!({ "run": run_json(&r) })))
}

/// A saved algorithm's name is unique per user: the store's conflict names the field.
fn name_taken(e: crate::store::StoreError) -> ApiError {
    match e {
        crate::store::StoreError::Conflict(_) => {
            ApiError::validation("name", "a saved algorithm with this name exists")
        }
        other => other.into(),
    }
}
