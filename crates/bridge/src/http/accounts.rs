//! `/api/v1/accounts`: connect, list, get, switch, current, update, delete — the seed's endpoints
//! with its request and response bodies. Here: parsing, the answers and their documentation; what
//! the requests do is in [`crate::accounts`].

use super::doc;
use super::extract::{path_uuid, AuthUser, JsonBody};
use super::extract::{Path, Query};
use super::validate::{any_text, Fields, Opt, Request, Rule};
use crate::accounts::{Connect, Update};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::AccountRow;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

pub use crate::accounts::AccountType;

use crate::times::rfc3339;

/// An MT5 login as responses write it: a JSON number, as the seed shows (a stored value that is
/// not one, written past the API, stays a string rather than being lost).
#[derive(Debug, Clone)]
pub struct Login(pub String);

impl Serialize for Login {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.parse::<u64>() {
            Ok(n) => serializer.serialize_u64(n),
            Err(_) => serializer.serialize_str(&self.0),
        }
    }
}

/// `true`: the `success` of a body that carries it.
pub use super::doc::{Success, True};

/// An account as listed (the seed's `mt5_accounts` row without credentials).
#[derive(Serialize, ToSchema)]
pub struct AccountSummary {
    pub id: Uuid,
    pub account_name: String,
    #[schema(value_type = u64)]
    pub login: Login,
    pub server: String,
    #[schema(required = true)]
    pub broker_name: Option<String>,
    #[schema(required = true, value_type = Option<AccountType>)]
    pub account_type: Option<String>,
    /// False once deleted (listed only with `include_inactive=true`).
    pub is_active: bool,
    pub is_default: bool,
    /// What the terminal reported of `trade_allowed` at the row's last successful login; null
    /// until known. False for an investor (read-only) password: trades answer `read_only_account`.
    #[schema(required = true)]
    pub trade_allowed: Option<bool>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&AccountRow> for AccountSummary {
    fn from(row: &AccountRow) -> Self {
        AccountSummary {
            id: row.id,
            account_name: row.account_name.clone(),
            login: Login(row.login.clone()),
            server: row.server.clone(),
            broker_name: row.broker_name.clone(),
            account_type: row.account_type.clone(),
            is_active: row.is_active,
            is_default: row.is_default,
            trade_allowed: row.trade_allowed,
            created_at: rfc3339(row.created_at),
        }
    }
}

/// One account with its settings (the seed's `mt5_accounts` row without credentials).
#[derive(Serialize, ToSchema)]
pub struct Account {
    #[serde(flatten)]
    #[schema(inline)]
    pub summary: AccountSummary,
    #[schema(required = true, value_type = Option<crate::risk::RiskLimits>)]
    pub risk_limits: Option<Value>,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&AccountRow> for Account {
    fn from(row: &AccountRow) -> Self {
        Account {
            summary: row.into(),
            risk_limits: row.risk_limits.clone(),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountEnvelope {
    pub account: Account,
}

/// `PUT /accounts/{account_id}`'s answer.
#[derive(Serialize, ToSchema)]
pub struct AccountUpdated {
    pub success: True,
    pub account: Account,
}

/// The verified account, live from the terminal.
#[derive(Serialize, ToSchema)]
pub struct ConnectedAccount {
    #[schema(value_type = u64)]
    pub login: Login,
    pub server: String,
    pub balance: f64,
    pub equity: f64,
    /// `account_info().trade_allowed` of this login: false for an investor (read-only) password.
    pub trade_allowed: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectResponse {
    pub success: True,
    pub account_id: Uuid,
    pub account: ConnectedAccount,
}

/// The current account, with live balance and equity.
#[derive(Serialize, ToSchema)]
pub struct CurrentAccount {
    pub id: Uuid,
    #[schema(value_type = u64)]
    pub login: Login,
    pub server: String,
    pub balance: f64,
    pub equity: f64,
}

#[derive(Serialize, ToSchema)]
pub struct CurrentAccountResponse {
    pub account: CurrentAccount,
}

#[derive(Serialize, ToSchema)]
pub struct SwitchedAccount {
    #[schema(value_type = u64)]
    pub login: Login,
    pub server: String,
    pub balance: f64,
}

#[derive(Serialize, ToSchema)]
pub struct SwitchResponse {
    pub success: True,
    pub account: SwitchedAccount,
}

/// An event of the user's accounts: `account_connected`, `connect_failed`, `password_changed`,
/// `password_change_failed`, `account_switched`, `account_deleted`, `credentials_invalid`,
/// `login_guessing_blocked` (others' guesses at the account's login are being refused).
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    /// The account it concerns; null when there is none (a connect MT5 refused).
    #[schema(required = true)]
    pub account_id: Option<Uuid>,
    pub event: String,
    /// Non-secret facts (login, server, from/to of a switch, MT5's error code).
    #[schema(value_type = Object)]
    pub details: Value,
    /// RFC 3339, UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
}

/// The user's account named by the path (`422` when it is not a UUID, `404` when not theirs).
async fn find(state: &AppState, user: &AuthUser, raw_id: &str) -> ApiResult<AccountRow> {
    crate::accounts::find(state, &user.ctx, path_uuid("account_id", raw_id)?).await
}

fn parse_connect(body: &Value) -> ApiResult<Connect> {
    let r = ConnectRequest::parse(body)?;
    Ok(Connect {
        account_name: r.account_name,
        login: r.login,
        password: SecretString::from(r.password),
        server: r.server,
        broker_name: r.broker_name,
        account_type: r.account_type,
        set_as_default: r.set_as_default,
        risk_limits: r.risk_limits,
    })
}

/// `risk_limits` (`with = risk_limits`): absent, null (clear), or a valid object (stored
/// normalized); its own keys are reported as `risk_limits.<key>`.
fn risk_limits(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Value> {
    match f.value(name) {
        Opt::Absent => Opt::Absent,
        Opt::Null => Opt::Null,
        Opt::Value(v) => match crate::risk::parse(v) {
            Ok(limits) => Opt::Value(serde_json::to_value(limits).unwrap_or(Value::Null)),
            Err(errors) => {
                f.extend(errors);
                Opt::Absent
            }
        },
    }
}

/// `account_type` (`with = account_type`): one of [`AccountType`]'s names.
fn account_type(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<String> {
    f.one_of(name, &AccountType::ALL.map(AccountType::as_str))
}

/// `login` (`with = login`): a positive integer, as a JSON number or a string of digits.
fn login(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<u64> {
    f.login(name)
}

/// Connect an MT5 account.
///
/// Logs a terminal in with the credentials to verify them, encrypts the password and stores the
/// account. It becomes the default when `set_as_default` is true or it is the user's first.
/// Connecting a login and server this user deleted before reactivates that account.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/connect",
    tag = "accounts",
    operation_id = "connect_account",
    request_body = ConnectRequest,
    responses(
        (status = 201, description = "Connected", body = ConnectResponse),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, description = "`anonymous_not_allowed`: an anonymous sign-in may not store credentials; `mfa_required`: with `JWT_REQUIRE_AAL2`, the token's `aal` is not `aal2`", body = doc::ErrorBody),
        (status = 409, description = "`account_exists`: this login and server are already connected", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 422, description = "`validation_failed`; `mt5_login_failed` (MT5 refused the login; its error in `details`); `account_type_mismatch`", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn connect(
    State(state): State<AppState>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    user.require_may_store_credentials(state.require_aal2)?;
    let req = parse_connect(&body)?;
    let crate::accounts::Connected { row, info } =
        crate::accounts::connect(&state, &user.ctx, req).await?;
    Ok((
        StatusCode::CREATED,
        Json(ConnectResponse {
            success: True,
            account_id: row.id,
            account: ConnectedAccount {
                login: Login(row.login.clone()),
                server: row.server.clone(),
                balance: info.balance,
                equity: info.equity,
                trade_allowed: info.trade_allowed,
            },
        }),
    ))
}

/// `?include_inactive=`; other parameters pass unremarked, as they always have here.
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
#[request(ignore_unknown)]
pub struct ListAccountsQuery {
    /// `true` adds deleted accounts.
    #[request(with = flag)]
    pub include_inactive: Option<bool>,
}

/// `true` or `1`, `false` or `0` (`with = flag`).
fn flag(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<bool> {
    match any_text(f, name, rule) {
        Opt::Value(s) => match s.as_str() {
            "true" | "1" => Opt::Value(true),
            "false" | "0" => Opt::Value(false),
            _ => {
                f.error(name, "must be true or false");
                Opt::Absent
            }
        },
        Opt::Null => Opt::Null,
        Opt::Absent => Opt::Absent,
    }
}

/// `?limit=`; other parameters pass unremarked, as they always have here.
#[derive(utoipa::IntoParams, Request)]
#[into_params(parameter_in = Query)]
#[request(ignore_unknown)]
pub struct AuditQuery {
    /// How many entries, newest first: 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The user's audit log, newest first.
///
/// Connects, failed connects, password changes, switches and deletes of the user's own accounts;
/// never a password, token or ciphertext.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "accounts",
    operation_id = "list_audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries, newest first", body = AuditPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: `limit` is not an integer from 1 to 500", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn audit_log(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<AuditPage>> {
    let limit = AuditQuery::parse_query_pairs(&q)?.limit.unwrap_or(100);
    let entries = state.store.list_audit(&user.ctx, limit).await?;
    let entries = entries
        .into_iter()
        .map(|e| AuditEntry {
            id: e.id,
            account_id: e.account_id,
            event: e.event,
            details: e.details,
            created_at: rfc3339(e.created_at),
        })
        .collect();
    Ok(Json(AuditPage { entries }))
}

/// List the user's accounts.
///
/// Never a password or ciphertext.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    operation_id = "list_accounts",
    params(ListAccountsQuery),
    responses(
        (status = 200, description = "The accounts", body = AccountList),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: `include_inactive` is not true or false", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<Vec<(String, String)>>,
) -> ApiResult<Json<AccountList>> {
    let include_inactive = ListAccountsQuery::parse_query_pairs(&q)?
        .include_inactive
        .unwrap_or(false);
    let rows = state
        .store
        .list_accounts(&user.ctx, include_inactive)
        .await?;
    Ok(Json(AccountList {
        accounts: rows.iter().map(AccountSummary::from).collect(),
    }))
}

/// One account with its settings.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{account_id}",
    tag = "accounts",
    operation_id = "get_account",
    params(("account_id" = Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = AccountEnvelope),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`: no such account of this user (deleted, or another user's)", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `account_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<AccountEnvelope>> {
    let row = find(&state, &user, &raw).await?;
    Ok(Json(AccountEnvelope {
        account: (&row).into(),
    }))
}

/// Make an account the current one.
///
/// Logs a terminal in to it (if none is already) and makes it the account later requests act on.
#[utoipa::path(
    post,
    path = "/api/v1/accounts/{account_id}/switch",
    tag = "accounts",
    operation_id = "switch_account",
    params(("account_id" = Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "Switched", body = SwitchResponse),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed` (`account_id` not a UUID); `mt5_login_failed` (the stored password no longer logs in)", body = doc::ErrorBody),
        (status = 429, response = doc::RateLimited),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn switch(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<SwitchResponse>> {
    let id = path_uuid("account_id", &raw)?;
    let (row, info) = crate::accounts::switch(&state, &user.ctx, id).await?;
    Ok(Json(SwitchResponse {
        success: True,
        account: SwitchedAccount {
            login: Login(row.login),
            server: row.server,
            balance: info.balance,
        },
    }))
}

/// The current account, with live balance and equity.
///
/// The account of the last switch (it expires after `SESSION_TTL_S` unused), else the default.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/current",
    tag = "accounts",
    operation_id = "current_account",
    responses(
        (status = 200, description = "The current account", body = CurrentAccountResponse),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`no_account`: the user has no account", body = doc::ErrorBody),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`mt5_login_failed`: the stored password no longer logs in", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn current(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Json<CurrentAccountResponse>> {
    let row = crate::accounts::resolve_current(&state, &user.ctx).await?;
    let info = crate::accounts::live_info(&state, &row).await?;
    Ok(Json(CurrentAccountResponse {
        account: CurrentAccount {
            id: row.id,
            login: Login(row.login),
            server: row.server,
            balance: info.balance,
            equity: info.equity,
        },
    }))
}

/// Update an account's settings.
///
/// A partial update: absent fields stay as they are. A new password is verified by a login before
/// it is stored; a new account type is checked against the terminal.
#[utoipa::path(
    put,
    path = "/api/v1/accounts/{account_id}",
    tag = "accounts",
    operation_id = "update_account",
    params(("account_id" = Uuid, Path, description = "The account's id")),
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, description = "Updated", body = AccountUpdated),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, description = "`anonymous_not_allowed`: an anonymous sign-in may not store a password; `mfa_required`: with `JWT_REQUIRE_AAL2`, a `password` needs a token whose `aal` is `aal2`", body = doc::ErrorBody),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`; `mt5_login_failed` (the new password); `account_type_mismatch`", body = doc::ErrorBody),
        (status = 429, description = "`rate_limited`: a new `password` is a guess, held to `failed_connects_per_user` (the user's new passwords refused by MT5, `CONNECT_FAIL_LIMIT` per 15 minutes) and, unless the user holds the login's trading row (its stored password logged in with trading allowed), `failed_logins_per_login` (refused across all users, `LOGIN_FAIL_LIMIT`); a `password` or `account_type` checked on a terminal may also meet `queue_per_user` (too many of the user's requests waiting for a terminal, `window_seconds` 0). `details` has `scope`, `limit`, `window_seconds`, `retry_after_seconds`", body = doc::ErrorBody,
            headers(("Retry-After" = String, description = "Seconds until a retry may pass"))),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::TerminalUnavailable),
        (status = 504, response = doc::TerminalTimeout),
    ),
    security(("bearer" = []))
)]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<AccountUpdated>> {
    let id = path_uuid("account_id", &raw)?;
    let r = UpdateAccountRequest::parse(&body)?;
    let update = Update {
        account_name: r.account_name.value(),
        risk_limits: patch_of(r.risk_limits),
        is_default: r.is_default.value(),
        password: r.password.value().map(SecretString::from),
        broker_name: patch_of(r.broker_name),
        account_type: patch_of(r.account_type),
        may_store_password: user.require_may_store_credentials(state.require_aal2),
    };
    let updated = crate::accounts::update(&state, &user.ctx, id, update).await?;
    Ok(Json(AccountUpdated {
        success: True,
        account: (&updated).into(),
    }))
}

/// What an update cannot clear: the name, the password, whether it is the default.
fn not_cleared(r: &UpdateAccountRequest, f: &mut Fields<'_>) {
    for (name, null) in [
        ("account_name", matches!(r.account_name, Opt::Null)),
        ("password", matches!(r.password, Opt::Null)),
        ("is_default", matches!(r.is_default, Opt::Null)),
    ] {
        if null {
            f.error(name, "must not be null");
        }
    }
}

/// A nullable field of a partial update: absent leaves it (`None`), null clears it.
fn patch_of<T>(v: Opt<T>) -> Option<Option<T>> {
    match v {
        Opt::Value(v) => Some(Some(v)),
        Opt::Null => Some(None),
        Opt::Absent => None,
    }
}

/// Remove an account.
///
/// A soft delete: the stored ciphertext is overwritten. If it was the default, the oldest remaining
/// account becomes the default.
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{account_id}",
    tag = "accounts",
    operation_id = "delete_account",
    params(("account_id" = Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "Deleted", body = doc::Success),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 422, description = "`validation_failed`: `account_id` is not a UUID", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    Path(raw): Path<String>,
) -> ApiResult<Json<Success>> {
    let id = path_uuid("account_id", &raw)?;
    crate::accounts::delete(&state, &user.ctx, id).await?;
    Ok(Json(Success { success: True }))
}

/// POST /accounts/connect (the seed's body).
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub account_name: String,
    #[schema(value_type = doc::LoginInput)]
    #[request(with = login)]
    pub login: u64,
    /// Never returned, never logged; stored encrypted.
    #[schema(
        min_length = 1,
        max_length = 128,
        write_only,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub password: String,
    /// Exactly as MT5 names it (case-sensitive).
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub server: String,
    /// Default: the broker's company name as the terminal reports it.
    #[schema(
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub broker_name: Option<String>,
    /// Must agree with the terminal (`422 account_type_mismatch`); default: the terminal's.
    #[schema(required = false, value_type = AccountType)]
    #[request(with = account_type)]
    pub account_type: Option<String>,
    /// Default false; the first account becomes the default anyway.
    #[schema(required = false)]
    #[request(default = false)]
    pub set_as_default: bool,
    #[schema(required = false, value_type = Option<crate::risk::RiskLimits>)]
    #[request(with = risk_limits)]
    pub risk_limits: Option<Value>,
}

/// PUT /accounts/{account_id}: a partial update; absent fields stay unchanged.
#[derive(utoipa::ToSchema, Request)]
#[serde(deny_unknown_fields)]
#[request(check = not_cleared)]
pub struct UpdateAccountRequest {
    #[schema(
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub account_name: Opt<String>,
    /// Replaced whole; null clears.
    #[schema(required = false, value_type = Option<crate::risk::RiskLimits>)]
    #[request(with = risk_limits)]
    pub risk_limits: Opt<Value>,
    /// `true` makes it the default; `false` on the default is refused.
    #[schema(required = false, value_type = bool)]
    pub is_default: Opt<bool>,
    /// Verified by a login before it is stored.
    #[schema(
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 128,
        write_only,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub password: Opt<String>,
    #[schema(
        required = false,
        value_type = Option<String>,
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub broker_name: Opt<String>,
    /// Checked against the terminal.
    #[schema(required = false, value_type = Option<AccountType>)]
    #[request(with = account_type)]
    pub account_type: Opt<String>,
}
