//! `/api/v1/accounts`: connect, list, get, switch, current, update, delete — the seed's endpoints
//! with its request and response bodies.

use super::extract::{path_uuid, AuthUser, JsonBody};
use super::extract::{Path, Query};
use super::openapi as doc;
use super::validate::{Fields, Opt};
use crate::error::{ApiError, ApiResult};
use crate::limits::{count_refusal, LimitError};
use crate::state::AppState;
use crate::store::audit::{
    AUDIT_ACCOUNT_CONNECTED, AUDIT_ACCOUNT_DELETED, AUDIT_ACCOUNT_SWITCHED, AUDIT_CONNECT_FAILED,
    AUDIT_LOGIN_GUESSING_BLOCKED, AUDIT_PASSWORD_CHANGED, AUDIT_PASSWORD_CHANGE_FAILED,
};
use crate::store::{AccountPatch, AccountRow, NewAccount};
use crate::vault::{Binding, TOMBSTONE};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use mt5::{AccountInfo, AccountKey, AccountTradeMode};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

const NAME_MAX: usize = 255;
const SERVER_MAX: usize = 255;
const BROKER_MAX: usize = 100;
const PASSWORD_MAX: usize = 128;

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
pub use super::openapi::{Success, True};

/// `demo` or `live`: the seed's account types (a real MT5 account is `live`, demo and contest
/// `demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Demo,
    Live,
}

impl AccountType {
    const ALL: [AccountType; 2] = [AccountType::Demo, AccountType::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Demo => "demo",
            AccountType::Live => "live",
        }
    }
}

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

/// The account type a terminal reports, in the seed's vocabulary. A trade mode the service does
/// not know is taken as `live`: it may be real money, and every safeguard for live accounts
/// (`confirm_live` for algorithms) applies to it.
pub fn reported_type(info: &AccountInfo) -> &'static str {
    match info.trade_mode {
        AccountTradeMode::Real | AccountTradeMode::Unknown(_) => AccountType::Live.as_str(),
        AccountTradeMode::Demo | AccountTradeMode::Contest => AccountType::Demo.as_str(),
    }
}

fn check_type(declared: Option<&str>, info: &AccountInfo) -> ApiResult<()> {
    match declared {
        Some(d) if d != reported_type(info) => Err(ApiError::AccountTypeMismatch {
            declared: d.to_string(),
            reported: reported_type(info).to_string(),
        }),
        _ => Ok(()),
    }
}

/// Runs `account_info` on a terminal logged in to the stored account.
pub async fn live_info(state: &AppState, row: &AccountRow) -> ApiResult<AccountInfo> {
    crate::trading::read(state, row, |t, at| {
        Box::pin(async move { t.account_info(&at).await })
    })
    .await
}

async fn find(state: &AppState, user: &AuthUser, raw_id: &str) -> ApiResult<AccountRow> {
    let id = path_uuid("account_id", raw_id)?;
    state
        .store
        .get_account(&user.ctx, id)
        .await?
        .ok_or(ApiError::AccountNotFound)
}

/// The user's current account (see [`crate::context::resolve_current`]).
pub async fn resolve_current(state: &AppState, user: &AuthUser) -> ApiResult<AccountRow> {
    crate::context::resolve_current(state.store.as_ref(), state.sessions.as_ref(), &user.ctx).await
}

struct Connect {
    account_name: String,
    login: u64,
    password: SecretString,
    server: String,
    broker_name: Option<String>,
    account_type: Option<String>,
    set_as_default: bool,
    risk_limits: Option<Value>,
}

fn parse_connect(body: &Value) -> ApiResult<Connect> {
    let mut f = Fields::of::<ConnectRequest>(body)?;
    let account_name = f.required_string("account_name", NAME_MAX);
    let login = f.login("login");
    let password = f.required_string("password", PASSWORD_MAX);
    let server = f.required_string("server", SERVER_MAX);
    let broker_name = f.string("broker_name", BROKER_MAX).value();
    let account_type = f
        .one_of("account_type", &AccountType::ALL.map(AccountType::as_str))
        .value();
    let set_as_default = f.boolean("set_as_default").value().unwrap_or(false);
    let risk_limits = parse_risk_limits(&mut f);
    f.finish()?;
    match (account_name, login, password, server) {
        (Some(account_name), Some(login), Some(password), Some(server)) => Ok(Connect {
            account_name,
            login,
            password: SecretString::from(password),
            server,
            broker_name,
            account_type,
            set_as_default,
            risk_limits: risk_limits.value().flatten(),
        }),
        _ => Err(ApiError::Internal(
            "validation passed without required fields".into(),
        )),
    }
}

/// `risk_limits`: absent, null (clear), or a valid object (stored normalized).
fn parse_risk_limits(f: &mut Fields<'_>) -> Opt<Option<Value>> {
    match f.value("risk_limits") {
        Opt::Absent => Opt::Absent,
        Opt::Null => Opt::Value(None),
        Opt::Value(v) => match crate::risk::parse(v) {
            Ok(limits) => Opt::Value(Some(serde_json::to_value(limits).unwrap_or(Value::Null))),
            Err(errors) => {
                f.extend(errors);
                Opt::Absent
            }
        },
    }
}

/// Writes an audit entry for something that already happened. `details` holds non-secret facts
/// only. A failed write is logged and does not fail the user's request.
async fn audit(
    state: &AppState,
    user: &AuthUser,
    account_id: Option<Uuid>,
    event: &str,
    details: Value,
) {
    if let Err(e) = state
        .store
        .record(Some(&user.ctx), account_id, event, details)
        .await
    {
        tracing::error!(user_id = %user.id(), event, error = %e, "audit entry not written");
    }
}

/// Verifies a password the user gives (connect, or `PUT` with a password) by logging a terminal
/// in with it, held to the guessing limits: failed logins per user, and per MT5 login and server
/// across all users. The attempt is counted before the login and given back unless MT5 refused
/// it, so parallel requests cannot slip past a limit between a check and a count. Logins with a
/// stored, once-verified credential never come here: nobody can lock an owner out by guessing.
///
/// The owner of the login (see [`holds_trading_row`]) is neither counted in nor stopped by the
/// per-login window: others' guesses cannot lock them out of changing their own password, and
/// their own guesses stay under their per-user window. While the per-login window refuses
/// someone else, the login's owners are told in their audit log ([`tell_owners`]).
async fn verify_new_password(
    state: &AppState,
    user: &AuthUser,
    key: &AccountKey,
    password: &SecretString,
) -> ApiResult<AccountInfo> {
    let per_user = (
        format!("connect_fail:{}", user.id()),
        state.limits.connect_failures_per_user,
        "failed_connects_per_user",
    );
    // Servers compare without case or surrounding blanks, so a spelling does not reset the count.
    let per_login = (
        format!(
            "login_fail:{}@{}",
            key.login,
            key.server.trim().to_lowercase()
        ),
        state.limits.login_failures_per_login,
        "failed_logins_per_login",
    );
    let slots = if holds_trading_row(state, user, key).await? {
        vec![&per_user]
    } else {
        vec![&per_user, &per_login]
    };
    let mut taken: Vec<&(String, crate::limits::Limit, &'static str)> = Vec::new();
    for slot in slots {
        let (k, limit, scope) = slot;
        if let Err(e) = state.limiter.acquire(k, *limit).await {
            count_refusal(&state.metrics, &e, scope);
            for (k, limit, _) in taken {
                crate::limits::release_quietly(state.limiter.as_ref(), k, *limit).await;
            }
            if *scope == per_login.2 && matches!(e, LimitError::Exceeded(_)) {
                tell_owners(state, key, *limit).await;
            }
            return Err(crate::limits::refused(scope, *limit, e));
        }
        taken.push(slot);
    }
    let session = state.credentials.session_for(key, password);
    let result = state
        .pool
        .verify_login_for(&session, Some(user.id()), password)
        .await
        .map_err(ApiError::from);
    if let Err(ApiError::RateLimited { scope, .. }) = &result {
        state.metrics.rate_limited(scope);
    }
    if !matches!(result, Err(ApiError::Mt5LoginFailed { .. })) {
        // Only a refusal by MT5 is a failed guess.
        for (k, limit, _) in taken {
            crate::limits::release_quietly(state.limiter.as_ref(), k, *limit).await;
        }
    }
    result
}

/// Whether a row of the login's owner: active, of this login and server, whose stored credential
/// logged in with trading allowed (`trade_allowed` true at its last login) and was not refused by
/// MT5 since. An investor password does not qualify: it only reads, and it is often public.
fn is_trading_row(row: &AccountRow, key: &AccountKey) -> bool {
    row.is_active
        && row.trade_allowed == Some(true)
        && row.login.trim() == key.login.to_string()
        && mt5::same_server(&row.server, &key.server)
}

/// Whether the user holds a row of the login and server that qualifies as its owner's
/// ([`is_trading_row`]).
async fn holds_trading_row(state: &AppState, user: &AuthUser, key: &AccountKey) -> ApiResult<bool> {
    let rows = state.store.list_accounts(&user.ctx, false).await?;
    for row in rows.iter().filter(|r| is_trading_row(r, key)) {
        if state.credentials.refusal(row).await?.is_none() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `login_guessing_blocked` to the audit log of every owner of the login (a row that
/// [`is_trading_row`]), at most once per row per window of the per-login limit (the limiter holds
/// the once, so replicas agree). Nothing of who guessed is written. Failures are logged: the
/// guess is refused all the same.
async fn tell_owners(state: &AppState, key: &AccountKey, limit: crate::limits::Limit) {
    let rows = match state
        .store
        .active_rows_of_login(&key.login.to_string())
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "owners of a guessed login not found");
            return;
        }
    };
    let once = crate::limits::Limit {
        max: 1,
        window: limit.window,
    };
    for row in rows.iter().filter(|r| is_trading_row(r, key)) {
        if state
            .limiter
            .acquire(&format!("guessing_told:{}", row.id), once)
            .await
            .is_err()
        {
            continue;
        }
        let ctx = crate::store::UserCtx::service_for(row.user_id);
        let details = json!({"login": row.login, "server": row.server,
            "limit": limit.max, "window_seconds": limit.window.as_secs()});
        if let Err(e) = state
            .store
            .record(
                Some(&ctx),
                Some(row.id),
                AUDIT_LOGIN_GUESSING_BLOCKED,
                details,
            )
            .await
        {
            tracing::error!(account = %row.id, error = %e, "audit entry not written");
        }
    }
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
        (status = 201, description = "Connected", body = doc::ConnectResponse),
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
    let mut req = parse_connect(&body)?;
    let login = req.login.to_string();
    let mut existing = state
        .store
        .find_by_login(&user.ctx, &login, &req.server)
        .await?;
    if existing.as_ref().is_some_and(|r| r.is_active) {
        return Err(ApiError::AccountExists);
    }
    let key = AccountKey::new(req.login, req.server.clone());
    let info = match verify_new_password(&state, &user, &key, &req.password).await {
        Ok(info) => info,
        Err(ApiError::Mt5LoginFailed { code, message }) => {
            tracing::warn!(user_id = %user.id(), login = %req.login, server = %req.server, "connect refused by MT5");
            audit(
                &state,
                &user,
                existing.as_ref().map(|r| r.id),
                AUDIT_CONNECT_FAILED,
                json!({"login": login, "server": req.server, "mt5_error_code": code}),
            )
            .await;
            return Err(ApiError::Mt5LoginFailed { code, message });
        }
        Err(e) => return Err(e),
    };
    check_type(req.account_type.as_deref(), &info)?;
    // MT5 finds a server whatever its case and surrounding blanks: the terminal's own spelling is
    // stored, so one account is one row. Any other difference is not the server asked for.
    let reported = info.server.trim();
    if !reported.is_empty() && reported != req.server {
        if !mt5::same_server(reported, &req.server) {
            return Err(ApiError::validation(
                "server",
                format!(
                    "the terminal logged in to trade server {:?}, not the one named",
                    reported.chars().take(64).collect::<String>()
                ),
            ));
        }
        req.server = reported.to_string();
        existing = state
            .store
            .find_by_login(&user.ctx, &login, &req.server)
            .await?;
        if existing.as_ref().is_some_and(|r| r.is_active) {
            return Err(ApiError::AccountExists);
        }
    }

    let id = existing.as_ref().map(|r| r.id).unwrap_or_else(Uuid::new_v4);
    let envelope = state
        .vault
        .encrypt(
            &req.password,
            &Binding {
                account_id: id,
                user_id: user.id(),
                login: &login,
                server: &req.server,
            },
        )
        .map_err(|e| ApiError::Internal(format!("encryption failed: {e}")))?;
    let new = NewAccount {
        id,
        account_name: req.account_name,
        login,
        server: req.server,
        encrypted_password: envelope,
        // Unstated labels are filled from what the terminal reports.
        broker_name: req
            .broker_name
            .or_else(|| Some(info.company.clone()).filter(|c| !c.is_empty())),
        account_type: req
            .account_type
            .or_else(|| Some(reported_type(&info).to_string())),
        risk_limits: req.risk_limits,
    };
    let row = match existing {
        Some(_) => state
            .store
            .reactivate(&user.ctx, id, new, req.set_as_default)
            .await?
            .ok_or(ApiError::AccountExists)?,
        None => {
            state
                .store
                .insert_account(&user.ctx, new, req.set_as_default)
                .await?
        }
    };
    crate::trading::record_trade_allowed(&state, &user.ctx, row.id, info.trade_allowed).await;
    tracing::info!(user_id = %user.id(), account_id = %row.id, login = %row.login, server = %row.server, "account connected");
    audit(
        &state,
        &user,
        Some(row.id),
        AUDIT_ACCOUNT_CONNECTED,
        json!({"login": row.login, "server": row.server, "account_name": row.account_name}),
    )
    .await;
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

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    include_inactive: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    limit: Option<String>,
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
    params(doc::AuditQuery),
    responses(
        (status = 200, description = "The entries, newest first", body = doc::AuditPage),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: `limit` is not an integer from 1 to 500", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn audit_log(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    let max = crate::store::audit::MAX_AUDIT_PAGE;
    let limit = match q.limit.as_deref() {
        None => 100,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(
                    "limit",
                    format!("must be an integer from 1 to {max}"),
                ))
            }
        },
    };
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
    params(doc::ListAccountsQuery),
    responses(
        (status = 200, description = "The accounts", body = doc::AccountList),
        (status = 401, response = doc::Unauthorized),
        (status = 422, description = "`validation_failed`: `include_inactive` is not true or false", body = doc::ErrorBody),
        (status = 500, response = doc::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<AccountList>> {
    let include_inactive = match q.include_inactive.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(_) => {
            return Err(ApiError::validation(
                "include_inactive",
                "must be true or false",
            ))
        }
    };
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
        (status = 200, description = "The account", body = doc::AccountEnvelope),
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
        (status = 200, description = "Switched", body = doc::SwitchResponse),
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
    let row = find(&state, &user, &raw).await?;
    // Only a switch that changes the current account counts against the limit.
    let current = match resolve_current(&state, &user).await {
        Ok(r) => Some(r.id),
        Err(ApiError::NoAccount) => None,
        Err(e) => return Err(e),
    };
    let changes = current != Some(row.id);
    let limit = state.limits.switch_per_user;
    let limit_key = format!("switch:{}", user.id());
    if changes {
        state
            .limiter
            .acquire(&limit_key, limit)
            .await
            .inspect_err(|e| count_refusal(&state.metrics, e, "switches_per_user"))
            .map_err(|e| crate::limits::refused("switches_per_user", limit, e))?;
    }
    let info = match live_info(&state, &row).await {
        Ok(info) => info,
        Err(e) => {
            if changes {
                crate::limits::release_quietly(state.limiter.as_ref(), &limit_key, limit).await;
            }
            return Err(e);
        }
    };
    if let Err(e) = state.sessions.set(user.id(), row.id).await {
        if changes {
            crate::limits::release_quietly(state.limiter.as_ref(), &limit_key, limit).await;
        }
        return Err(e.into());
    }
    if changes {
        state.metrics.account_switched();
        audit(
            &state,
            &user,
            Some(row.id),
            AUDIT_ACCOUNT_SWITCHED,
            json!({"from": current, "to": row.id}),
        )
        .await;
    }
    tracing::info!(user_id = %user.id(), account_id = %row.id, "switched account");
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
        (status = 200, description = "The current account", body = doc::CurrentAccountResponse),
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
    let row = resolve_current(&state, &user).await?;
    let info = live_info(&state, &row).await?;
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
        (status = 200, description = "Updated", body = doc::AccountUpdated),
        (status = 400, response = doc::InvalidJson),
        (status = 401, response = doc::Unauthorized),
        (status = 403, description = "`anonymous_not_allowed`: an anonymous sign-in may not store a password; `mfa_required`: with `JWT_REQUIRE_AAL2`, a `password` needs a token whose `aal` is `aal2`", body = doc::ErrorBody),
        (status = 404, description = "`account_not_found`", body = doc::ErrorBody),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 409, response = doc::CredentialsInvalid),
        (status = 422, description = "`validation_failed`; `mt5_login_failed` (the new password); `account_type_mismatch`", body = doc::ErrorBody),
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
    let mut f = Fields::of::<UpdateAccountRequest>(&body)?;
    let account_name = f.string("account_name", NAME_MAX);
    let risk_limits = parse_risk_limits(&mut f);
    let is_default = f.boolean("is_default");
    let password = f.string("password", PASSWORD_MAX);
    let broker_name = f.string("broker_name", BROKER_MAX);
    let account_type = f.one_of("account_type", &AccountType::ALL.map(AccountType::as_str));
    if matches!(account_name, Opt::Null) {
        f.error("account_name", "must not be null");
    }
    if matches!(password, Opt::Null) {
        f.error("password", "must not be null");
    }
    if matches!(is_default, Opt::Null) {
        f.error("is_default", "must not be null");
    }
    f.finish()?;

    let row = state
        .store
        .get_account(&user.ctx, id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    if is_default == Opt::Value(false) && row.is_default {
        return Err(ApiError::validation(
            "is_default",
            "the default account changes by setting is_default on another account",
        ));
    }
    let mut patch = AccountPatch {
        account_name: account_name.value(),
        ..Default::default()
    };
    if let Opt::Value(v) = risk_limits {
        patch.risk_limits = Some(v);
    }
    match broker_name {
        Opt::Value(b) => patch.broker_name = Some(Some(b)),
        Opt::Null => patch.broker_name = Some(None),
        Opt::Absent => {}
    }
    let new_type = match account_type {
        Opt::Value(t) => Some(Some(t)),
        Opt::Null => Some(None),
        Opt::Absent => None,
    };

    // A new password is verified by a login before it is stored; a new account type is checked
    // against what the terminal reports.
    let key = crate::trading::account_key(&row)?;
    let mut verified_trade_allowed = None;
    if let Opt::Value(pw) = password {
        user.require_may_store_credentials(state.require_aal2)?;
        let pw = SecretString::from(pw);
        let info = match verify_new_password(&state, &user, &key, &pw).await {
            Ok(info) => info,
            Err(ApiError::Mt5LoginFailed { code, message }) => {
                audit(
                    &state,
                    &user,
                    Some(row.id),
                    AUDIT_PASSWORD_CHANGE_FAILED,
                    json!({"login": row.login, "server": row.server, "mt5_error_code": code}),
                )
                .await;
                return Err(ApiError::Mt5LoginFailed { code, message });
            }
            Err(e) => return Err(e),
        };
        if let Some(Some(t)) = &new_type {
            check_type(Some(t), &info)?;
        }
        verified_trade_allowed = Some(info.trade_allowed);
        let envelope = state
            .vault
            .encrypt(
                &pw,
                &Binding {
                    account_id: row.id,
                    user_id: user.id(),
                    login: &row.login,
                    server: &row.server,
                },
            )
            .map_err(|e| ApiError::Internal(format!("encryption failed: {e}")))?;
        patch.encrypted_password = Some(envelope);
    } else if let Some(Some(t)) = &new_type {
        let info = live_info(&state, &row).await?;
        check_type(Some(t), &info)?;
    }
    patch.account_type = new_type;

    let password_changed = patch.encrypted_password.is_some();
    let mut updated = state
        .store
        .update_account(&user.ctx, id, patch)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    // Logged and audited once the new ciphertext is stored, not before.
    if let Some(allowed) = verified_trade_allowed {
        crate::trading::record_trade_allowed(&state, &user.ctx, row.id, allowed).await;
        updated.trade_allowed = Some(allowed);
    }
    if password_changed {
        tracing::info!(user_id = %user.id(), account_id = %row.id, "account password changed");
        // Live subscriptions on it go on with the new credential (their rows are read again).
        state.events.account_changed(user.id(), row.id);
        audit(
            &state,
            &user,
            Some(row.id),
            AUDIT_PASSWORD_CHANGED,
            json!({"login": row.login, "server": row.server}),
        )
        .await;
    }
    if is_default == Opt::Value(true) && !updated.is_default {
        state.store.set_default(&user.ctx, id).await?;
        updated = state
            .store
            .get_account(&user.ctx, id)
            .await?
            .ok_or(ApiError::AccountNotFound)?;
    }
    Ok(Json(AccountUpdated {
        success: True,
        account: (&updated).into(),
    }))
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
    // Read first, for the audit entry: the row keeps its login and server after the delete.
    let row = state.store.get_account(&user.ctx, id).await?;
    if !state.store.soft_delete(&user.ctx, id, TOMBSTONE).await? {
        return Err(ApiError::AccountNotFound);
    }
    let details = match &row {
        Some(r) => json!({"login": r.login, "server": r.server}),
        None => json!({}),
    };
    if let Err(e) = state.sessions.clear_if(user.id(), id).await {
        // The account is gone whatever the session says: resolving skips deleted accounts.
        tracing::warn!(error = %e, "session of a deleted account not cleared");
    }
    // Its live subscriptions end, on every replica.
    state.events.account_deleted(user.id(), id);
    tracing::info!(user_id = %user.id(), account_id = %id, "account deleted");
    audit(&state, &user, Some(id), AUDIT_ACCOUNT_DELETED, details).await;
    Ok(Json(Success { success: True }))
}

/// POST /accounts/connect (the seed's body).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the body as documented; `Fields::of` holds the parser to it
#[serde(deny_unknown_fields)]
pub struct ConnectRequest {
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub account_name: String,
    pub login: doc::LoginInput,
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
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub broker_name: String,
    /// Must agree with the terminal (`422 account_type_mismatch`); default: the terminal's.
    #[schema(required = false)]
    pub account_type: AccountType,
    /// Default false; the first account becomes the default anyway.
    #[schema(required = false)]
    pub set_as_default: bool,
    #[schema(required = false)]
    pub risk_limits: Option<crate::risk::RiskLimits>,
}

/// PUT /accounts/{account_id}: a partial update; absent fields stay unchanged.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the body as documented; `Fields::of` holds the parser to it
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 255,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub account_name: String,
    /// Replaced whole; null clears.
    #[schema(required = false)]
    pub risk_limits: Option<crate::risk::RiskLimits>,
    /// `true` makes it the default; `false` on the default is refused.
    #[schema(required = false)]
    pub is_default: bool,
    /// Verified by a login before it is stored.
    #[schema(
        required = false,
        min_length = 1,
        max_length = 128,
        write_only,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub password: String,
    #[schema(
        required = false,
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub broker_name: Option<String>,
    /// Checked against the terminal.
    #[schema(required = false)]
    pub account_type: Option<AccountType>,
}
