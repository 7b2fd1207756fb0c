//! The audit log: one row per security-relevant event (connects, failed connects, password
//! changes, deletes, switches, key rotations, stored credentials MT5 refused, guessing at a login
//! refused). Rows carry only non-secret facts — login, server, account name, MT5 error codes, key
//! ids, account ids — never a password, token or ciphertext.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, StoreResult, UserCtx};

/// An account was connected (created or reactivated) with verified credentials.
pub const AUDIT_ACCOUNT_CONNECTED: &str = "account_connected";
/// A connect attempt failed (e.g. the terminal refused the login).
pub const AUDIT_CONNECT_FAILED: &str = "connect_failed";
pub const AUDIT_PASSWORD_CHANGED: &str = "password_changed";
pub const AUDIT_PASSWORD_CHANGE_FAILED: &str = "password_change_failed";
pub const AUDIT_ACCOUNT_DELETED: &str = "account_deleted";
/// The user's current account changed; details hold `from` and `to`.
pub const AUDIT_ACCOUNT_SWITCHED: &str = "account_switched";
/// A service event (no user): the vault key was rotated; details hold the new key id.
pub const AUDIT_KEY_ROTATED: &str = "key_rotated";
/// MT5 refused an account's stored credentials (at a login the service made, not at a connect).
pub const AUDIT_CREDENTIALS_INVALID: &str = "credentials_invalid";
/// Guessing at one of the user's logins is being refused by the per-login window: at most one
/// entry per row per window; details hold the `limit` and `window_seconds`, nothing of who guessed.
pub const AUDIT_LOGIN_GUESSING_BLOCKED: &str = "login_guessing_blocked";

/// Every event the schema accepts.
pub const AUDIT_EVENTS: [&str; 9] = [
    AUDIT_ACCOUNT_CONNECTED,
    AUDIT_CONNECT_FAILED,
    AUDIT_PASSWORD_CHANGED,
    AUDIT_PASSWORD_CHANGE_FAILED,
    AUDIT_ACCOUNT_DELETED,
    AUDIT_ACCOUNT_SWITCHED,
    AUDIT_KEY_ROTATED,
    AUDIT_CREDENTIALS_INVALID,
    AUDIT_LOGIN_GUESSING_BLOCKED,
];

/// The largest page `list_audit` returns.
pub const MAX_AUDIT_PAGE: u32 = 500;

/// The page size `list_audit` actually uses: `limit` clamped to 1..=[`MAX_AUDIT_PAGE`].
pub fn audit_page_size(limit: u32) -> u32 {
    limit.clamp(1, MAX_AUDIT_PAGE)
}

/// Refuses an unknown event before it reaches the database, with the same rule on both backends.
pub(super) fn check_event(event: &str) -> StoreResult<()> {
    if AUDIT_EVENTS.contains(&event) {
        Ok(())
    } else {
        Err(StoreError::Database(format!(
            "unknown audit event {event:?}"
        )))
    }
}

/// A row of `audit_log`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    /// `None` for service events such as key rotation.
    pub user_id: Option<Uuid>,
    /// Not a foreign key: the entry outlives its account.
    pub account_id: Option<Uuid>,
    pub event: String,
    /// Non-secret facts only.
    pub details: Value,
    pub created_at: OffsetDateTime,
}

#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends an entry. With a user it is written as that user (under RLS on Postgres); `None` is
    /// the service path for events that belong to no user. A JSON `null` is stored as `{}`.
    async fn record(
        &self,
        user: Option<&UserCtx>,
        account_id: Option<Uuid>,
        event: &str,
        details: Value,
    ) -> StoreResult<()>;

    /// The user's entries, newest first; `limit` is clamped to 1..=[`MAX_AUDIT_PAGE`].
    async fn list_audit(&self, user: &UserCtx, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// `details` is an object; a JSON `null` is stored as the empty one, like the default.
pub(super) fn details_column(v: Value) -> Value {
    if v.is_null() {
        Value::Object(serde_json::Map::new())
    } else {
        v
    }
}
