//! The Postgres account store.
//!
//! Every query made for a user runs in one transaction that first switches to the hard-coded role
//! `authenticated` and sets the user's JWT claims with `set_config(…, true)`, as PostgREST does, so
//! the Row Level Security policies of `mt5_accounts` apply on top of the explicit `user_id`
//! filters. Writes to the tables users may only read (journal, audit log, algorithm runs, account
//! status) go through `PgStore::writer_tx`: the same transaction, switched on to
//! `mt5_bridge_writer`. Service-path methods (key rotation) run as the connecting role. Migrations
//! are embedded; the first one adds a minimal `auth` shim where Supabase's is absent.

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, QueryBuilder, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    status_not_written, AccountPatch, AccountRow, AccountStore, NewAccount, StoreError,
    StoreResult, UserCtx,
};

mod algorithms;
mod audit;
mod backtests;
mod bots;
mod journal;

/// The comment migration 1 puts on `auth.users` when it creates the shim; its presence means the
/// store owns `auth.users` and may add users to it (never the case on Supabase).
const AUTH_SHIM_MARKER: &str = "mt5-bridge auth shim";

/// An account row's columns and its recorded `trade_allowed` (NULL until recorded: a left join). A
/// correlated subquery rather than a join, so the same list serves `RETURNING` too. The status
/// table's key is the account id, so it yields at most one value.
const COLUMNS: &str = "id, user_id, account_name, login, server, encrypted_password, is_active, \
     is_default, broker_name, account_type, risk_limits, created_at, updated_at, \
     (select s.trade_allowed from mt5_account_status s where s.account_id = mt5_accounts.id) \
     as trade_allowed";

/// Account store over a Postgres pool.
pub struct PgStore {
    pool: PgPool,
    /// Whether `auth.users` is the shim created by our migration; decided once it exists.
    owns_auth_users: OnceLock<bool>,
}

impl std::fmt::Debug for PgStore {
    // The pool's options hold the connection password; keep them out of Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects (eagerly, so a wrong URL fails here) without migrating.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options: PgConnectOptions = database_url
            .parse()
            .map_err(|e: sqlx::Error| StoreError::Database(format!("invalid database URL: {e}")))?;
        // One direct connection first, so an unreachable server or a refused login fails at once
        // with its real cause (the pool would retry until its timeout and report only that).
        let probe = options.connect().await?;
        probe.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Self::from_pool(pool))
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            owns_auth_users: OnceLock::new(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Opens a transaction as `authenticated` with the user's claims, the way PostgREST does.
    pub(super) async fn user_tx(
        &self,
        user: &UserCtx,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let claims = claims_json(user)?;
        let mut tx = self.pool.begin().await?;
        // The role is a constant, never read from the token.
        sqlx::query(
            "select set_config('role', 'authenticated', true), \
                    set_config('request.jwt.claims', $1, true), \
                    set_config('request.jwt.claim.sub', $2, true)",
        )
        .bind(claims)
        .bind(user.user_id.to_string())
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// `PgStore::user_tx`, then switched to `mt5_bridge_writer`, the only role that may write
    /// the tables users may only read (journal, audit log, algorithm runs, account status). The
    /// user's claims stay set, so the writer's policies still hold every row to
    /// `auth.uid() = user_id`. The writer is a member of `authenticated`, so it reads what the user
    /// reads. Every write to those tables goes through here.
    pub(super) async fn writer_tx(
        &self,
        user: &UserCtx,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.user_tx(user).await?;
        // A constant too: migration 6 creates the role and lets the connecting role switch to it.
        sqlx::query("select set_config('role', 'mt5_bridge_writer', true)")
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn owns_auth_users(&self) -> StoreResult<bool> {
        if let Some(owned) = self.owns_auth_users.get() {
            return Ok(*owned);
        }
        let row: Option<(Option<String>,)> = sqlx::query_as(
            "select obj_description(c.oid, 'pg_class') from pg_catalog.pg_class c \
             where c.oid = to_regclass('auth.users')",
        )
        .fetch_optional(&self.pool)
        .await?;
        match row {
            // Not migrated yet: decide later, once the table exists.
            None => Ok(false),
            Some((comment,)) => {
                let owned = comment.as_deref() == Some(AUTH_SHIM_MARKER);
                Ok(*self.owns_auth_users.get_or_init(|| owned))
            }
        }
    }
}

/// The claims set as `request.jwt.claims`: the verified ones, with `sub` and `role` forced to the
/// verified user id and `authenticated`.
fn claims_json(user: &UserCtx) -> StoreResult<String> {
    let mut claims = match &user.claims {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    claims.insert("sub".into(), Value::String(user.user_id.to_string()));
    claims.insert("role".into(), Value::String("authenticated".into()));
    serde_json::to_string(&Value::Object(claims))
        .map_err(|e| StoreError::Database(format!("claims: {e}")))
}

/// Serializes the default-changing methods of one user (an advisory lock held to commit), so two
/// concurrent requests cannot leave the user with two defaults or none.
async fn lock_user(tx: &mut Transaction<'static, Postgres>, user_id: Uuid) -> StoreResult<()> {
    let key = advisory_key(user_id);
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn advisory_key(user_id: Uuid) -> i64 {
    let b = user_id.as_bytes();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// A JSON `null` is stored as SQL NULL so "no limits" has one representation.
fn normalize_json(v: Option<Value>) -> Option<Value> {
    v.filter(|v| !v.is_null())
}

#[derive(sqlx::FromRow)]
struct PgAccount {
    id: Uuid,
    user_id: Option<Uuid>,
    account_name: String,
    login: String,
    server: String,
    encrypted_password: String,
    is_active: Option<bool>,
    is_default: Option<bool>,
    broker_name: Option<String>,
    account_type: Option<String>,
    risk_limits: Option<Value>,
    created_at: Option<OffsetDateTime>,
    updated_at: Option<OffsetDateTime>,
    trade_allowed: Option<bool>,
}

impl PgAccount {
    fn into_row(self) -> StoreResult<AccountRow> {
        let user_id = self
            .user_id
            .ok_or_else(|| StoreError::Database(format!("account {} has no user_id", self.id)))?;
        Ok(AccountRow {
            id: self.id,
            user_id,
            account_name: self.account_name,
            login: self.login,
            server: self.server,
            encrypted_password: self.encrypted_password,
            // The columns are nullable in the schema; NULL reads as the SQL filters treat it.
            is_active: self.is_active.unwrap_or(false),
            is_default: self.is_default.unwrap_or(false),
            broker_name: self.broker_name,
            account_type: self.account_type,
            risk_limits: normalize_json(self.risk_limits),
            created_at: self.created_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            updated_at: self.updated_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
            trade_allowed: self.trade_allowed,
        })
    }
}

fn rows(v: Vec<PgAccount>) -> StoreResult<Vec<AccountRow>> {
    v.into_iter().map(PgAccount::into_row).collect()
}

async fn has_active(
    tx: &mut Transaction<'static, Postgres>,
    user_id: Uuid,
    except: Option<Uuid>,
) -> StoreResult<bool> {
    let (exists,): (bool,) = sqlx::query_as(
        "select exists(select 1 from mt5_accounts where user_id = $1 and is_active = true \
         and ($2::uuid is null or id <> $2))",
    )
    .bind(user_id)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?;
    Ok(exists)
}

async fn clear_defaults(tx: &mut Transaction<'static, Postgres>, user_id: Uuid) -> StoreResult<()> {
    sqlx::query(
        "update mt5_accounts set is_default = false where user_id = $1 and is_default = true",
    )
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl AccountStore for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> StoreResult<()> {
        // sqlx holds a session advisory lock while it migrates and keeps it when a migration
        // fails (one may refuse to go on, e.g. 7 on a mismatched journal entry). A pooled
        // connection would keep it too, and the next migrate would wait forever, so a failed run's
        // connection is closed.
        let mut conn = self.pool.acquire().await?;
        let result = sqlx::migrate!("./migrations/postgres")
            .run_direct(&mut *conn)
            .await;
        if result.is_err() {
            let _ = conn.close().await;
        }
        result.map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }

    async fn ensure_user(&self, user: &UserCtx) -> StoreResult<()> {
        // On Supabase the user exists already (GoTrue made it) and auth.users is not ours.
        if !self.owns_auth_users().await? {
            return Ok(());
        }
        sqlx::query(
            "insert into auth.users (id, email) values ($1, $2) on conflict (id) do nothing",
        )
        .bind(user.user_id)
        .bind(user.email.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn insert_account(
        &self,
        user: &UserCtx,
        new: NewAccount,
        make_default: bool,
    ) -> StoreResult<AccountRow> {
        let mut tx = self.user_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let is_default = make_default || !has_active(&mut tx, user.user_id, None).await?;
        if is_default {
            clear_defaults(&mut tx, user.user_id).await?;
        }
        let row: PgAccount = sqlx::query_as(&format!(
            "insert into mt5_accounts (id, user_id, account_name, login, server, \
             encrypted_password, is_active, is_default, broker_name, account_type, risk_limits) \
             values ($1, $2, $3, $4, $5, $6, true, $7, $8, $9, $10) returning {COLUMNS}"
        ))
        .bind(new.id)
        .bind(user.user_id)
        .bind(new.account_name)
        .bind(new.login)
        .bind(new.server)
        .bind(new.encrypted_password)
        .bind(is_default)
        .bind(new.broker_name)
        .bind(new.account_type)
        .bind(normalize_json(new.risk_limits))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_row()
    }

    async fn list_accounts(
        &self,
        user: &UserCtx,
        include_inactive: bool,
    ) -> StoreResult<Vec<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = $1 \
             and ($2 or is_active = true) order by created_at, id"
        ))
        .bind(user.user_id)
        .bind(include_inactive)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows(found)
    }

    async fn get_account(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where id = $1 and user_id = $2 and is_active = true"
        ))
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        found.map(PgAccount::into_row).transpose()
    }

    async fn find_by_login(
        &self,
        user: &UserCtx,
        login: &str,
        server: &str,
    ) -> StoreResult<Option<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = $1 and login = $2 and server = $3"
        ))
        .bind(user.user_id)
        .bind(login)
        .bind(server)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        found.map(PgAccount::into_row).transpose()
    }

    async fn default_account(&self, user: &UserCtx) -> StoreResult<Option<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = $1 and is_active = true \
             and is_default = true order by created_at, id limit 1"
        ))
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        found.map(PgAccount::into_row).transpose()
    }

    async fn update_account(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AccountPatch,
    ) -> StoreResult<Option<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        // The trigger sets updated_at too; setting it here keeps an empty patch a real update.
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("update mt5_accounts set updated_at = now()");
        if let Some(v) = patch.account_name {
            qb.push(", account_name = ").push_bind(v);
        }
        if let Some(v) = patch.risk_limits {
            qb.push(", risk_limits = ").push_bind(normalize_json(v));
        }
        if let Some(v) = patch.broker_name {
            qb.push(", broker_name = ").push_bind(v);
        }
        if let Some(v) = patch.account_type {
            qb.push(", account_type = ").push_bind(v);
        }
        if let Some(v) = patch.encrypted_password {
            qb.push(", encrypted_password = ").push_bind(v);
        }
        qb.push(" where id = ")
            .push_bind(id)
            .push(" and user_id = ")
            .push_bind(user.user_id)
            .push(" and is_active = true returning ")
            .push(COLUMNS);
        let found: Option<PgAccount> = qb.build_query_as().fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        found.map(PgAccount::into_row).transpose()
    }

    async fn set_default(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.user_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let target: Option<(Option<bool>,)> = sqlx::query_as(
            "select is_default from mt5_accounts where id = $1 and user_id = $2 and is_active = true",
        )
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((was_default,)) = target else {
            return Ok(false);
        };
        if was_default != Some(true) {
            clear_defaults(&mut tx, user.user_id).await?;
            sqlx::query("update mt5_accounts set is_default = true where id = $1 and user_id = $2")
                .bind(id)
                .bind(user.user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn reactivate(
        &self,
        user: &UserCtx,
        id: Uuid,
        new: NewAccount,
        make_default: bool,
    ) -> StoreResult<Option<AccountRow>> {
        let mut tx = self.user_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let inactive: Option<(Uuid,)> = sqlx::query_as(
            "select id from mt5_accounts where id = $1 and user_id = $2 \
             and is_active is distinct from true",
        )
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        if inactive.is_none() {
            return Ok(None);
        }
        let is_default = make_default || !has_active(&mut tx, user.user_id, Some(id)).await?;
        if is_default {
            clear_defaults(&mut tx, user.user_id).await?;
        }
        let row: PgAccount = sqlx::query_as(&format!(
            "update mt5_accounts set is_active = true, is_default = $3, account_name = $4, \
             encrypted_password = $5, broker_name = $6, account_type = $7, risk_limits = $8, \
             updated_at = now() where id = $1 and user_id = $2 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(user.user_id)
        .bind(is_default)
        .bind(new.account_name)
        .bind(new.encrypted_password)
        .bind(new.broker_name)
        .bind(new.account_type)
        .bind(normalize_json(new.risk_limits))
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_row().map(Some)
    }

    async fn soft_delete(&self, user: &UserCtx, id: Uuid, tombstone: &str) -> StoreResult<bool> {
        let mut tx = self.user_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let target: Option<(Option<bool>,)> = sqlx::query_as(
            "select is_default from mt5_accounts \
             where id = $1 and user_id = $2 and is_active = true for update",
        )
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((was_default,)) = target else {
            return Ok(false);
        };
        sqlx::query(
            "update mt5_accounts set is_active = false, is_default = false, \
             encrypted_password = $3, updated_at = now() where id = $1 and user_id = $2",
        )
        .bind(id)
        .bind(user.user_id)
        .bind(tombstone)
        .execute(&mut *tx)
        .await?;
        if was_default == Some(true) {
            sqlx::query(
                "update mt5_accounts set is_default = true where id = (\
                   select id from mt5_accounts where user_id = $1 and is_active = true \
                   order by created_at, id limit 1)",
            )
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn record_trade_allowed(
        &self,
        ctx: &UserCtx,
        account_id: Uuid,
        trade_allowed: bool,
    ) -> StoreResult<()> {
        let mut tx = self.writer_tx(ctx).await?;
        // The account check gives a clear error for another user's account (the composite foreign
        // key would refuse it too, with a constraint violation).
        let done = sqlx::query(
            "insert into mt5_account_status (account_id, user_id, trade_allowed, updated_at) \
             select $1, $2, $3, now() \
             where exists (select 1 from mt5_accounts where id = $1 and user_id = $2) \
             on conflict (account_id) do update \
             set trade_allowed = excluded.trade_allowed, updated_at = excluded.updated_at",
        )
        .bind(account_id)
        .bind(ctx.user_id)
        .bind(trade_allowed)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(status_not_written(account_id));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn all_credentials(&self) -> StoreResult<Vec<AccountRow>> {
        let found: Vec<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id is not null order by created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows(found)
    }

    async fn active_rows_of_login(&self, login: &str) -> StoreResult<Vec<AccountRow>> {
        let found: Vec<PgAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where login = $1 and is_active and user_id is not null order by created_at, id"
        ))
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        rows(found)
    }

    async fn replace_ciphertext(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "update mt5_accounts set encrypted_password = $3 \
             where id = $1 and encrypted_password = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_force_sub_and_role() {
        let user = UserCtx {
            user_id: Uuid::new_v4(),
            email: None,
            claims: serde_json::json!({"sub": "someone-else", "role": "service_role", "aal": "aal1"}),
        };
        let v: Value = serde_json::from_str(&claims_json(&user).unwrap()).unwrap();
        assert_eq!(v["sub"], user.user_id.to_string());
        assert_eq!(v["role"], "authenticated");
        assert_eq!(v["aal"], "aal1");
        let bare = UserCtx {
            claims: Value::Null,
            ..user.clone()
        };
        let v: Value = serde_json::from_str(&claims_json(&bare).unwrap()).unwrap();
        assert_eq!(v["sub"], user.user_id.to_string());
    }
}
