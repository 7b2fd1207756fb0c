//! A user's MT5 accounts: connecting one (its password verified by a login), changing its
//! settings or password, switching to it, deleting it, and the audit entries these write.
//!
//! The HTTP handlers (`http/accounts.rs`) parse the request, call in here with the caller's
//! [`UserCtx`] and build the answer; the `import-legacy-account` command (`import.rs`) calls
//! [`verify_operator_password`] and [`store_new`]. Nothing here knows an extractor.
//!
//! Two ways to verify a password:
//! - [`verify_new_password`]: a user's connect or new password, held to the guessing limits
//!   (failed logins per user, and per MT5 login across users);
//! - [`verify_operator_password`]: the import command's, run by an operator with the server's
//!   configuration in hand, so no user's guessing window applies to it or is spent by it.

use crate::error::{ApiError, ApiResult};
use crate::limits::{count_refusal, LimitError};
use crate::pool::TerminalPool;
use crate::state::AppState;
use crate::store::audit::{
    AUDIT_ACCOUNT_CONNECTED, AUDIT_ACCOUNT_DELETED, AUDIT_ACCOUNT_SWITCHED, AUDIT_CONNECT_FAILED,
    AUDIT_LOGIN_GUESSING_BLOCKED, AUDIT_PASSWORD_CHANGED, AUDIT_PASSWORD_CHANGE_FAILED,
};
use crate::store::{AccountPatch, AccountRow, NewAccount, Store, UserCtx};
use crate::vault::{Binding, Vault, TOMBSTONE};
use mt5::{AccountInfo, AccountKey, AccountTradeMode};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// `demo` or `live`: the seed's account types (a real MT5 account is `live`, demo and contest
/// `demo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    Demo,
    Live,
}

impl AccountType {
    pub const ALL: [AccountType; 2] = [AccountType::Demo, AccountType::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Demo => "demo",
            AccountType::Live => "live",
        }
    }
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

/// `422 account_type_mismatch` when a declared type is not the one the terminal reports.
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

/// The user's account `id` (`404 account_not_found` when it is not theirs or is deleted).
pub async fn find(state: &AppState, user: &UserCtx, id: Uuid) -> ApiResult<AccountRow> {
    state
        .store
        .get_account(user, id)
        .await?
        .ok_or(ApiError::AccountNotFound)
}

/// The user's current account (see [`crate::context::resolve_current`]).
pub async fn resolve_current(state: &AppState, user: &UserCtx) -> ApiResult<AccountRow> {
    crate::context::resolve_current(state.store.as_ref(), state.sessions.as_ref(), user).await
}

/// Writes an audit entry for something that already happened. `details` holds non-secret facts
/// only. A failed write is logged and does not fail the user's request.
async fn audit(
    state: &AppState,
    user: &UserCtx,
    account_id: Option<Uuid>,
    event: &str,
    details: Value,
) {
    if let Err(e) = state
        .store
        .record(Some(user), account_id, event, details)
        .await
    {
        tracing::error!(user_id = %user.user_id, event, error = %e, "audit entry not written");
    }
}

/// What a new account is stored with besides its verified password.
pub struct NewSettings {
    pub account_name: String,
    pub login: String,
    pub server: String,
    /// Unstated: the broker's company name as the terminal reported it.
    pub broker_name: Option<String>,
    /// Unstated: the type the terminal reported ([`reported_type`]).
    pub account_type: Option<String>,
    pub risk_limits: Option<Value>,
    pub set_as_default: bool,
}

/// Encrypts a verified password for its row and stores the account: a new row, or `existing`
/// (the user's deleted row of this login and server) reactivated. Labels left unstated are
/// filled from what the terminal reported at the verifying login. `409 account_exists` when
/// `existing` is no longer deleted.
pub async fn store_new(
    store: &dyn Store,
    vault: &Vault,
    user: &UserCtx,
    existing: Option<Uuid>,
    new: NewSettings,
    password: &SecretString,
    info: &AccountInfo,
) -> ApiResult<AccountRow> {
    let id = existing.unwrap_or_else(Uuid::new_v4);
    let envelope = vault
        .encrypt(
            password,
            &Binding {
                account_id: id,
                user_id: user.user_id,
                login: &new.login,
                server: &new.server,
            },
        )
        .map_err(|e| ApiError::Internal(format!("encryption failed: {e}")))?;
    let row = NewAccount {
        id,
        account_name: new.account_name,
        login: new.login,
        server: new.server,
        encrypted_password: envelope,
        broker_name: new
            .broker_name
            .or_else(|| Some(info.company.clone()).filter(|c| !c.is_empty())),
        account_type: new
            .account_type
            .or_else(|| Some(reported_type(info).to_string())),
        risk_limits: new.risk_limits,
    };
    match existing {
        Some(_) => store
            .reactivate(user, id, row, new.set_as_default)
            .await?
            .ok_or(ApiError::AccountExists),
        None => Ok(store.insert_account(user, row, new.set_as_default).await?),
    }
}

/// Verifies a password an operator gives (the `import-legacy-account` command) by logging a
/// terminal in with it. No guessing limit holds it or is spent by it: those bound what a user can
/// try through the API, and the operator runs the command with the server's own settings.
pub async fn verify_operator_password(
    pool: &TerminalPool,
    vault: &Vault,
    key: &AccountKey,
    password: &SecretString,
) -> ApiResult<AccountInfo> {
    let session = crate::credentials::session_with(vault, key, password);
    pool.verify_login(&session, password)
        .await
        .map_err(ApiError::from)
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
    user: &UserCtx,
    key: &AccountKey,
    password: &SecretString,
) -> ApiResult<AccountInfo> {
    let per_user = (
        format!("connect_fail:{}", user.user_id),
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
        .verify_login_for(&session, Some(user.user_id), password)
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
async fn holds_trading_row(state: &AppState, user: &UserCtx, key: &AccountKey) -> ApiResult<bool> {
    let rows = state.store.list_accounts(user, false).await?;
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
        let ctx = UserCtx::service_for(row.user_id);
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

/// A connect as the user asked for it.
pub struct Connect {
    pub account_name: String,
    pub login: u64,
    pub password: SecretString,
    pub server: String,
    pub broker_name: Option<String>,
    pub account_type: Option<String>,
    pub set_as_default: bool,
    pub risk_limits: Option<Value>,
}

/// A connected account: its row, and what the verifying login reported.
pub struct Connected {
    pub row: AccountRow,
    pub info: AccountInfo,
}

/// Connects an account: verifies the password by a login (held to the guessing limits), checks
/// the declared type, encrypts the password and stores the row (reactivating the user's deleted
/// row of this login and server, if any).
pub async fn connect(state: &AppState, user: &UserCtx, mut req: Connect) -> ApiResult<Connected> {
    let login = req.login.to_string();
    let mut existing = state.store.find_by_login(user, &login, &req.server).await?;
    if existing.as_ref().is_some_and(|r| r.is_active) {
        return Err(ApiError::AccountExists);
    }
    let key = AccountKey::new(req.login, req.server.clone());
    let info = match verify_new_password(state, user, &key, &req.password).await {
        Ok(info) => info,
        Err(ApiError::Mt5LoginFailed { code, message }) => {
            tracing::warn!(user_id = %user.user_id, login = %req.login, server = %req.server, "connect refused by MT5");
            audit(
                state,
                user,
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
        existing = state.store.find_by_login(user, &login, &req.server).await?;
        if existing.as_ref().is_some_and(|r| r.is_active) {
            return Err(ApiError::AccountExists);
        }
    }

    let row = store_new(
        state.store.as_ref(),
        &state.vault,
        user,
        existing.as_ref().map(|r| r.id),
        NewSettings {
            account_name: req.account_name,
            login,
            server: req.server,
            broker_name: req.broker_name,
            account_type: req.account_type,
            risk_limits: req.risk_limits,
            set_as_default: req.set_as_default,
        },
        &req.password,
        &info,
    )
    .await?;
    crate::trading::record_trade_allowed(state, user, row.id, info.trade_allowed).await;
    tracing::info!(user_id = %user.user_id, account_id = %row.id, login = %row.login, server = %row.server, "account connected");
    audit(
        state,
        user,
        Some(row.id),
        AUDIT_ACCOUNT_CONNECTED,
        json!({"login": row.login, "server": row.server, "account_name": row.account_name}),
    )
    .await;
    Ok(Connected { row, info })
}

/// Makes the account the user's current one, after a terminal logged in to it read its info.
/// Only a switch that changes the current account counts against the switch limit.
pub async fn switch(
    state: &AppState,
    user: &UserCtx,
    id: Uuid,
) -> ApiResult<(AccountRow, AccountInfo)> {
    let row = find(state, user, id).await?;
    let current = match resolve_current(state, user).await {
        Ok(r) => Some(r.id),
        Err(ApiError::NoAccount) => None,
        Err(e) => return Err(e),
    };
    let changes = current != Some(row.id);
    let limit = state.limits.switch_per_user;
    let limit_key = format!("switch:{}", user.user_id);
    if changes {
        state
            .limiter
            .acquire(&limit_key, limit)
            .await
            .inspect_err(|e| count_refusal(&state.metrics, e, "switches_per_user"))
            .map_err(|e| crate::limits::refused("switches_per_user", limit, e))?;
    }
    let info = match live_info(state, &row).await {
        Ok(info) => info,
        Err(e) => {
            if changes {
                crate::limits::release_quietly(state.limiter.as_ref(), &limit_key, limit).await;
            }
            return Err(e);
        }
    };
    if let Err(e) = state.sessions.set(user.user_id, row.id).await {
        if changes {
            crate::limits::release_quietly(state.limiter.as_ref(), &limit_key, limit).await;
        }
        return Err(e.into());
    }
    if changes {
        state.metrics.account_switched();
        audit(
            state,
            user,
            Some(row.id),
            AUDIT_ACCOUNT_SWITCHED,
            json!({"from": current, "to": row.id}),
        )
        .await;
    }
    tracing::info!(user_id = %user.user_id, account_id = %row.id, "switched account");
    Ok((row, info))
}

/// A partial update of an account's settings; `None` leaves a setting as it is, `Some(None)`
/// clears it.
pub struct Update {
    pub account_name: Option<String>,
    pub risk_limits: Option<Option<Value>>,
    pub is_default: Option<bool>,
    pub password: Option<SecretString>,
    pub broker_name: Option<Option<String>>,
    pub account_type: Option<Option<String>>,
    /// Whether the caller's session may store a password (the HTTP layer reads it from the
    /// token); applied only when `password` is set, once the account is found.
    pub may_store_password: ApiResult<()>,
}

/// Updates an account. A new password is verified by a login (held to the guessing limits)
/// before it is stored; a new account type is checked against what the terminal reports.
pub async fn update(
    state: &AppState,
    user: &UserCtx,
    id: Uuid,
    req: Update,
) -> ApiResult<AccountRow> {
    let row = find(state, user, id).await?;
    if req.is_default == Some(false) && row.is_default {
        return Err(ApiError::validation(
            "is_default",
            "the default account changes by setting is_default on another account",
        ));
    }
    let mut patch = AccountPatch {
        account_name: req.account_name,
        risk_limits: req.risk_limits,
        broker_name: req.broker_name,
        ..Default::default()
    };
    let new_type = req.account_type;

    let key = crate::credentials::account_key(&row)?;
    let mut verified_trade_allowed = None;
    if let Some(pw) = req.password {
        req.may_store_password?;
        let info = match verify_new_password(state, user, &key, &pw).await {
            Ok(info) => info,
            Err(ApiError::Mt5LoginFailed { code, message }) => {
                audit(
                    state,
                    user,
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
                    user_id: user.user_id,
                    login: &row.login,
                    server: &row.server,
                },
            )
            .map_err(|e| ApiError::Internal(format!("encryption failed: {e}")))?;
        patch.encrypted_password = Some(envelope);
    } else if let Some(Some(t)) = &new_type {
        let info = live_info(state, &row).await?;
        check_type(Some(t), &info)?;
    }
    patch.account_type = new_type;

    let password_changed = patch.encrypted_password.is_some();
    let mut updated = state
        .store
        .update_account(user, id, patch)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    // Logged and audited once the new ciphertext is stored, not before.
    if let Some(allowed) = verified_trade_allowed {
        crate::trading::record_trade_allowed(state, user, row.id, allowed).await;
        updated.trade_allowed = Some(allowed);
    }
    if password_changed {
        tracing::info!(user_id = %user.user_id, account_id = %row.id, "account password changed");
        // Live subscriptions on it go on with the new credential (their rows are read again).
        state.events.account_changed(user.user_id, row.id);
        audit(
            state,
            user,
            Some(row.id),
            AUDIT_PASSWORD_CHANGED,
            json!({"login": row.login, "server": row.server}),
        )
        .await;
    }
    if req.is_default == Some(true) && !updated.is_default {
        state.store.set_default(user, id).await?;
        updated = find(state, user, id).await?;
    }
    Ok(updated)
}

/// Removes an account: a soft delete that overwrites the stored ciphertext. Its session is
/// cleared and its live subscriptions end, on every replica.
pub async fn delete(state: &AppState, user: &UserCtx, id: Uuid) -> ApiResult<()> {
    // Read first, for the audit entry: the row keeps its login and server after the delete.
    let row = state.store.get_account(user, id).await?;
    if !state.store.soft_delete(user, id, TOMBSTONE).await? {
        return Err(ApiError::AccountNotFound);
    }
    let details = match &row {
        Some(r) => json!({"login": r.login, "server": r.server}),
        None => json!({}),
    };
    if let Err(e) = state.sessions.clear_if(user.user_id, id).await {
        // The account is gone whatever the session says: resolving skips deleted accounts.
        tracing::warn!(error = %e, "session of a deleted account not cleared");
    }
    state.events.account_deleted(user.user_id, id);
    // Its bots stop now (a pass would stop them too, but a paused bot has no pass).
    match state
        .store
        .stop_account_bots(user, id, crate::bots::reason::ACCOUNT_DELETED)
        .await
    {
        Ok(ids) => ids
            .into_iter()
            .for_each(|b| state.events.bot_changed(user.user_id, b)),
        Err(e) => {
            tracing::warn!(account_id = %id, error = %e, "bots of a deleted account not stopped")
        }
    }
    tracing::info!(user_id = %user.user_id, account_id = %id, "account deleted");
    audit(state, user, Some(id), AUDIT_ACCOUNT_DELETED, details).await;
    Ok(())
}
