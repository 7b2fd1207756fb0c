//! The store: the account repository, the trade journal ([`journal`]), algorithm configurations
//! and runs ([`algorithms`]), the audit log ([`audit`]) and backtests with their queue and bar
//! cache ([`backtests`]), each with a Postgres and a SQLite
//! implementation, together behind [`Store`].
//!
//! Postgres runs every query made for a user inside a transaction as role `authenticated` with
//! that user's JWT claims set (as PostgREST does), so Row Level Security enforces isolation as well
//! as the `user_id` filters in the code. The tables that record what the service did (journal,
//! audit log, algorithm runs, account status) are read-only for `authenticated`: the service
//! writes them in the same transaction after switching to `mt5_bridge_writer`. SQLite has no RLS;
//! the same filters are the only guard.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who a query is made for: the verified user id and the claims that Postgres policies read.
#[derive(Debug, Clone)]
pub struct UserCtx {
    pub user_id: Uuid,
    pub email: Option<String>,
    /// The verified JWT claims, set as `request.jwt.claims` (no secrets in them).
    pub claims: Value,
}

impl UserCtx {
    /// The context of work the service does for a user outside one of their requests (a login
    /// for their row, an audit entry, reconciliation): the store sets `sub` and `role` itself.
    pub fn service_for(user_id: Uuid) -> Self {
        UserCtx {
            user_id,
            email: None,
            claims: Value::Null,
        }
    }
}

/// A row of `mt5_accounts`.
#[derive(Clone, PartialEq)]
pub struct AccountRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_name: String,
    /// VARCHAR(50) in the schema; the API validates it as a positive integer.
    pub login: String,
    pub server: String,
    /// The vault envelope; never leaves the service.
    pub encrypted_password: String,
    pub is_active: bool,
    pub is_default: bool,
    pub broker_name: Option<String>,
    pub account_type: Option<String>,
    pub risk_limits: Option<Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// What MT5's `account_info()` said of `trade_allowed` at the row's last successful login, from
    /// `mt5_account_status` (which only the service writes); `None` until one is recorded.
    pub trade_allowed: Option<bool>,
}

impl std::fmt::Debug for AccountRow {
    // The ciphertext stays out of Debug output and so out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRow")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("account_name", &self.account_name)
            .field("login", &self.login)
            .field("server", &self.server)
            .field("encrypted_password", &"[redacted]")
            .field("is_active", &self.is_active)
            .field("is_default", &self.is_default)
            .field("broker_name", &self.broker_name)
            .field("account_type", &self.account_type)
            .field("risk_limits", &self.risk_limits)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("trade_allowed", &self.trade_allowed)
            .finish()
    }
}

/// A new account. `id` is chosen by the caller because the ciphertext is bound to it.
#[derive(Clone)]
pub struct NewAccount {
    pub id: Uuid,
    pub account_name: String,
    pub login: String,
    pub server: String,
    pub encrypted_password: String,
    pub broker_name: Option<String>,
    pub account_type: Option<String>,
    pub risk_limits: Option<Value>,
}

/// A partial update: `None` leaves a field unchanged; `Some(None)` clears a nullable one.
#[derive(Clone, Default)]
pub struct AccountPatch {
    pub account_name: Option<String>,
    pub risk_limits: Option<Option<Value>>,
    pub broker_name: Option<Option<String>>,
    pub account_type: Option<Option<String>>,
    pub encrypted_password: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated (e.g. UNIQUE(user_id, login, server)).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached or is shutting down or starting: the statement may be
    /// tried again once it is back (nothing about the request is wrong).
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // One place turns unique violations into Conflict, for both databases.
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::Conflict(db.constraint().unwrap_or("unique").to_string());
            }
            // Postgres's admin_shutdown, crash_shutdown, cannot_connect_now (class 57P),
            // connection exceptions (class 08), insufficient resources such as too many
            // connections (class 53), and a database closed to connections for maintenance
            // (55000 "is not currently accepting connections"): an outage, not a fault of the
            // request.
            let outage = db.code().is_some_and(|c| {
                c.starts_with("57P")
                    || c.starts_with("08")
                    || c.starts_with("53")
                    || (c == "55000" && db.message().contains("accepting connections"))
            });
            if outage {
                return StoreError::Unavailable(e.to_string());
            }
        }
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Why `record_trade_allowed` wrote nothing.
fn status_not_written(account_id: Uuid) -> StoreError {
    StoreError::Database(format!(
        "account status not written: account {account_id} is not one of the user's accounts"
    ))
}

pub mod algorithms;
pub mod audit;
pub mod backtests;
pub mod bots;
pub mod journal;
pub mod page;
pub mod postgres;
pub mod sqlite;

/// Everything the service stores, behind one object.
pub trait Store:
    AccountStore
    + journal::JournalStore
    + algorithms::AlgorithmStore
    + audit::AuditStore
    + backtests::BacktestStore
    + bots::BotStore
{
}
impl<
        T: AccountStore
            + journal::JournalStore
            + algorithms::AlgorithmStore
            + audit::AuditStore
            + backtests::BacktestStore
            + bots::BotStore,
    > Store for T
{
}

/// Opens the store named by `database_url` (`postgres://`/`postgresql://` or `sqlite:`), without
/// migrating: call [`AccountStore::migrate`] once at startup.
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    let scheme = database_url
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        "postgres" | "postgresql" => Ok(Arc::new(postgres::PgStore::connect(database_url).await?)),
        "sqlite" => Ok(Arc::new(sqlite::SqliteStore::connect(database_url).await?)),
        // The URL itself may hold a password, so only its scheme is reported.
        _ => Err(StoreError::Database(format!(
            "unsupported database URL scheme {scheme:?}: expected postgres://, postgresql:// or sqlite:"
        ))),
    }
}

/// The repository interface. Every user-facing method filters by `user.user_id` and, on Postgres,
/// runs under RLS as that user. Methods that change which account is the default do it in one
/// transaction so a user never has two defaults.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// `"postgres"` or `"sqlite"`.
    fn backend(&self) -> &'static str;

    /// Applies the embedded migrations of this backend. Idempotent; safe to run concurrently.
    async fn migrate(&self) -> StoreResult<()>;

    /// Creates the user in the store's `auth.users` if the store owns it (plain Postgres, SQLite)
    /// and the user is not there yet. Idempotent; callers cache that it was done.
    async fn ensure_user(&self, user: &UserCtx) -> StoreResult<()>;

    /// Inserts an account. It becomes the default when `make_default` or when the user has no other
    /// active account; any previous default is cleared. `Conflict` if (user, login, server) exists.
    async fn insert_account(
        &self,
        user: &UserCtx,
        new: NewAccount,
        make_default: bool,
    ) -> StoreResult<AccountRow>;

    /// The user's accounts, oldest first; inactive ones only when asked.
    async fn list_accounts(
        &self,
        user: &UserCtx,
        include_inactive: bool,
    ) -> StoreResult<Vec<AccountRow>>;

    /// One of the user's active accounts.
    async fn get_account(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AccountRow>>;

    /// The user's account with this login and server, active or not (to reactivate a deleted one).
    async fn find_by_login(
        &self,
        user: &UserCtx,
        login: &str,
        server: &str,
    ) -> StoreResult<Option<AccountRow>>;

    /// The user's default active account.
    async fn default_account(&self, user: &UserCtx) -> StoreResult<Option<AccountRow>>;

    /// Applies a patch to an active account; `updated_at` changes. `None` if not found.
    async fn update_account(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AccountPatch,
    ) -> StoreResult<Option<AccountRow>>;

    /// Makes an active account the user's only default. `false` if not found.
    async fn set_default(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool>;

    /// Reactivates a deleted account with a new ciphertext and the given fields; it becomes the
    /// default under the same rule as `insert_account`.
    async fn reactivate(
        &self,
        user: &UserCtx,
        id: Uuid,
        new: NewAccount,
        make_default: bool,
    ) -> StoreResult<Option<AccountRow>>;

    /// Soft delete: is_active = false, is_default = false, the ciphertext overwritten with
    /// `tombstone`. If it was the default, the oldest remaining active account becomes the default.
    /// `false` if not found (or already deleted).
    async fn soft_delete(&self, user: &UserCtx, id: Uuid, tombstone: &str) -> StoreResult<bool>;

    /// Records what MT5's `account_info()` reported of `trade_allowed` at a successful login to the
    /// account (an upsert into `mt5_account_status`; on Postgres as `mt5_bridge_writer`, the only
    /// role that may write it). The account must be one of the user's, active or not: an error
    /// otherwise, as for the journal.
    async fn record_trade_allowed(
        &self,
        ctx: &UserCtx,
        account_id: Uuid,
        trade_allowed: bool,
    ) -> StoreResult<()>;

    /// Service path (no user; bypasses RLS): every stored credential, for key rotation.
    async fn all_credentials(&self) -> StoreResult<Vec<AccountRow>>;

    /// Service path (no user; bypasses RLS): every user's active rows of this MT5 login, on any
    /// server (the caller compares servers as MT5 does), to tell the owners of a login that
    /// guessing at it is being refused.
    async fn active_rows_of_login(&self, login: &str) -> StoreResult<Vec<AccountRow>>;

    /// Service path: replaces one ciphertext if it still equals `old` (compare-and-swap, so a
    /// concurrent password change is not overwritten). `true` if replaced.
    async fn replace_ciphertext(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool>;
}
