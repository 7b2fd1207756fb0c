//! The SQLite account store, the embedded default.
//!
//! The same contract as Postgres without RLS: every user-facing query filters by `user_id`, which
//! is the only guard here. `auth_users` stands in for `auth.users`. UUIDs are stored as hyphenated
//! TEXT, timestamps as fixed-width UTC RFC 3339 TEXT with microseconds (exact round trip, and text
//! order is time order), `risk_limits` as JSON text. Writes start with `BEGIN IMMEDIATE` so that
//! concurrent writers wait on the busy timeout instead of failing on a lock upgrade.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};
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

/// An account row's columns and its recorded `trade_allowed` (NULL until recorded: a left join). A
/// correlated subquery rather than a join, so the same list serves `RETURNING` too.
const COLUMNS: &str = "id, user_id, account_name, login, server, encrypted_password, is_active, \
     is_default, broker_name, account_type, risk_limits, created_at, updated_at, \
     (select s.trade_allowed from mt5_account_status s where s.account_id = mt5_accounts.id) \
     as trade_allowed";

const TIMESTAMP: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

/// The most SQLite keeps of its write-ahead log on disk once a checkpoint has reset it
/// (`journal_size_limit`): without it the log keeps the size of its largest burst for good.
pub const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How often the log is checkpointed and truncated (`wal_checkpoint(TRUNCATE)`), so a burst of
/// writes does not leave a large log behind even while readers kept SQLite's own checkpoints from
/// resetting it.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// How long a checkpoint waits for readers and writers: new writers wait while one is pending,
/// so it gives up soon and tries again at the next tick.
const CHECKPOINT_BUSY: Duration = Duration::from_secs(1);

/// Account store over a SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    /// The periodic checkpoint, stopped with the store.
    checkpoints: tokio::task::AbortHandle,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpoints.abort();
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating the file and its directory if missing) without migrating. URLs look like
    /// `sqlite:///abs/path/mt5-bridge.db?mode=rwc` or `sqlite://relative.db?mode=rwc`.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(database_url)
            .map_err(|e| StoreError::Database(format!("invalid database URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string());
        let path = options.get_filename();
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !path.as_os_str().is_empty() {
                tokio::fs::create_dir_all(dir).await.map_err(|e| {
                    StoreError::Database(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        let checkpoints = tokio::spawn(checkpoint_periodically(
            options.busy_timeout(CHECKPOINT_BUSY),
        ))
        .abort_handle();
        Ok(Self { pool, checkpoints })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub(super) async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Runs `wal_checkpoint(TRUNCATE)` every [`CHECKPOINT_EVERY`] on a connection of its own (with a
/// short busy timeout, so a pending checkpoint does not hold writers back for long). A checkpoint
/// that cannot finish (readers on old snapshots, a lost connection) is tried again at the next tick.
async fn checkpoint_periodically(options: SqliteConnectOptions) {
    use sqlx::Connection;
    let mut conn: Option<sqlx::SqliteConnection> = None;
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match sqlx::SqliteConnection::connect_with(&options).await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "no connection for the WAL checkpoint");
                    continue;
                }
            },
        };
        // The answer is (busy, log frames, frames checkpointed); busy means it did not finish.
        match sqlx::query_as::<_, (i64, i64, i64)>("pragma wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *c)
            .await
        {
            Ok((0, _, _)) => {}
            Ok(_) => tracing::debug!("WAL checkpoint busy; tried again in 10 s"),
            Err(e) => {
                tracing::warn!(error = %e, "WAL checkpoint failed");
                conn = None;
            }
        }
    }
}

/// Now, truncated to the microsecond so what is written reads back equal.
pub(super) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - time::Duration::nanoseconds(i64::from(now.nanosecond() % 1_000))
}

pub(super) fn fmt_ts(t: OffsetDateTime) -> StoreResult<String> {
    t.to_offset(UtcOffset::UTC)
        .format(TIMESTAMP)
        .map_err(|e| StoreError::Database(format!("timestamp: {e}")))
}

pub(super) fn parse_ts(s: &str) -> StoreResult<OffsetDateTime> {
    PrimitiveDateTime::parse(s, TIMESTAMP)
        .map(PrimitiveDateTime::assume_utc)
        .map_err(|e| StoreError::Database(format!("bad stored timestamp {s:?}: {e}")))
}

pub(super) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Database(format!("bad stored uuid {s:?}: {e}")))
}

/// JSON text for `risk_limits`; a JSON `null` is stored as SQL NULL, as on Postgres.
fn json_text(v: Option<Value>) -> StoreResult<Option<String>> {
    v.filter(|v| !v.is_null())
        .map(|v| serde_json::to_string(&v))
        .transpose()
        .map_err(|e| StoreError::Database(format!("risk_limits: {e}")))
}

#[derive(sqlx::FromRow)]
struct LiteAccount {
    id: String,
    user_id: String,
    account_name: String,
    login: String,
    server: String,
    encrypted_password: String,
    is_active: bool,
    is_default: bool,
    broker_name: Option<String>,
    account_type: Option<String>,
    risk_limits: Option<String>,
    created_at: String,
    updated_at: String,
    trade_allowed: Option<bool>,
}

impl LiteAccount {
    fn into_row(self) -> StoreResult<AccountRow> {
        let risk_limits = self
            .risk_limits
            .as_deref()
            .map(serde_json::from_str::<Value>)
            .transpose()
            .map_err(|e| StoreError::Database(format!("bad stored risk_limits: {e}")))?
            .filter(|v| !v.is_null());
        Ok(AccountRow {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            account_name: self.account_name,
            login: self.login,
            server: self.server,
            encrypted_password: self.encrypted_password,
            is_active: self.is_active,
            is_default: self.is_default,
            broker_name: self.broker_name,
            account_type: self.account_type,
            risk_limits,
            created_at: parse_ts(&self.created_at)?,
            updated_at: parse_ts(&self.updated_at)?,
            trade_allowed: self.trade_allowed,
        })
    }
}

fn rows(v: Vec<LiteAccount>) -> StoreResult<Vec<AccountRow>> {
    v.into_iter().map(LiteAccount::into_row).collect()
}

async fn has_active(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: &str,
    except: Option<&str>,
) -> StoreResult<bool> {
    let (exists,): (bool,) = sqlx::query_as(
        "select exists(select 1 from mt5_accounts where user_id = ?1 and is_active = 1 \
         and (?2 is null or id <> ?2))",
    )
    .bind(user_id)
    .bind(except)
    .fetch_one(&mut **tx)
    .await?;
    Ok(exists)
}

async fn clear_defaults(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: &str,
    at: &str,
) -> StoreResult<()> {
    sqlx::query(
        "update mt5_accounts set is_default = 0, updated_at = ?2 \
         where user_id = ?1 and is_default = 1",
    )
    .bind(user_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl AccountStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))
    }

    async fn ensure_user(&self, user: &UserCtx) -> StoreResult<()> {
        sqlx::query(
            "insert into auth_users (id, email, created_at) values (?1, ?2, ?3) \
             on conflict (id) do nothing",
        )
        .bind(user.user_id.to_string())
        .bind(user.email.as_deref())
        .bind(fmt_ts(now())?)
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
        let uid = user.user_id.to_string();
        let at = fmt_ts(now())?;
        let mut tx = self.write_tx().await?;
        let is_default = make_default || !has_active(&mut tx, &uid, None).await?;
        if is_default {
            clear_defaults(&mut tx, &uid, &at).await?;
        }
        let row: LiteAccount = sqlx::query_as(&format!(
            "insert into mt5_accounts (id, user_id, account_name, login, server, \
             encrypted_password, is_active, is_default, broker_name, account_type, risk_limits, \
             created_at, updated_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?8, ?9, ?10, ?11, ?11) returning {COLUMNS}"
        ))
        .bind(new.id.to_string())
        .bind(&uid)
        .bind(new.account_name)
        .bind(new.login)
        .bind(new.server)
        .bind(new.encrypted_password)
        .bind(is_default)
        .bind(new.broker_name)
        .bind(new.account_type)
        .bind(json_text(new.risk_limits)?)
        .bind(&at)
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
        let found: Vec<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = ?1 \
             and (?2 or is_active = 1) order by created_at, id"
        ))
        .bind(user.user_id.to_string())
        .bind(include_inactive)
        .fetch_all(&self.pool)
        .await?;
        rows(found)
    }

    async fn get_account(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AccountRow>> {
        let found: Option<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where id = ?1 and user_id = ?2 and is_active = 1"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        found.map(LiteAccount::into_row).transpose()
    }

    async fn find_by_login(
        &self,
        user: &UserCtx,
        login: &str,
        server: &str,
    ) -> StoreResult<Option<AccountRow>> {
        let found: Option<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = ?1 and login = ?2 and server = ?3"
        ))
        .bind(user.user_id.to_string())
        .bind(login)
        .bind(server)
        .fetch_optional(&self.pool)
        .await?;
        found.map(LiteAccount::into_row).transpose()
    }

    async fn default_account(&self, user: &UserCtx) -> StoreResult<Option<AccountRow>> {
        let found: Option<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where user_id = ?1 and is_active = 1 \
             and is_default = 1 order by created_at, id limit 1"
        ))
        .bind(user.user_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        found.map(LiteAccount::into_row).transpose()
    }

    async fn update_account(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AccountPatch,
    ) -> StoreResult<Option<AccountRow>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("update mt5_accounts set updated_at = ");
        qb.push_bind(fmt_ts(now())?);
        if let Some(v) = patch.account_name {
            qb.push(", account_name = ").push_bind(v);
        }
        if let Some(v) = patch.risk_limits {
            qb.push(", risk_limits = ").push_bind(json_text(v)?);
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
            .push_bind(id.to_string())
            .push(" and user_id = ")
            .push_bind(user.user_id.to_string())
            .push(" and is_active = 1 returning ")
            .push(COLUMNS);
        let found: Option<LiteAccount> = qb.build_query_as().fetch_optional(&self.pool).await?;
        found.map(LiteAccount::into_row).transpose()
    }

    async fn set_default(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool> {
        let uid = user.user_id.to_string();
        let id = id.to_string();
        let at = fmt_ts(now())?;
        let mut tx = self.write_tx().await?;
        let target: Option<(bool,)> = sqlx::query_as(
            "select is_default from mt5_accounts where id = ?1 and user_id = ?2 and is_active = 1",
        )
        .bind(&id)
        .bind(&uid)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((was_default,)) = target else {
            return Ok(false);
        };
        if !was_default {
            clear_defaults(&mut tx, &uid, &at).await?;
            sqlx::query(
                "update mt5_accounts set is_default = 1, updated_at = ?3 \
                 where id = ?1 and user_id = ?2",
            )
            .bind(&id)
            .bind(&uid)
            .bind(&at)
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
        let uid = user.user_id.to_string();
        let id = id.to_string();
        let at = fmt_ts(now())?;
        let mut tx = self.write_tx().await?;
        let inactive: Option<(String,)> = sqlx::query_as(
            "select id from mt5_accounts where id = ?1 and user_id = ?2 and is_active = 0",
        )
        .bind(&id)
        .bind(&uid)
        .fetch_optional(&mut *tx)
        .await?;
        if inactive.is_none() {
            return Ok(None);
        }
        let is_default = make_default || !has_active(&mut tx, &uid, Some(&id)).await?;
        if is_default {
            clear_defaults(&mut tx, &uid, &at).await?;
        }
        let row: LiteAccount = sqlx::query_as(&format!(
            "update mt5_accounts set is_active = 1, is_default = ?3, account_name = ?4, \
             encrypted_password = ?5, broker_name = ?6, account_type = ?7, risk_limits = ?8, \
             updated_at = ?9 where id = ?1 and user_id = ?2 returning {COLUMNS}"
        ))
        .bind(&id)
        .bind(&uid)
        .bind(is_default)
        .bind(new.account_name)
        .bind(new.encrypted_password)
        .bind(new.broker_name)
        .bind(new.account_type)
        .bind(json_text(new.risk_limits)?)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        row.into_row().map(Some)
    }

    async fn soft_delete(&self, user: &UserCtx, id: Uuid, tombstone: &str) -> StoreResult<bool> {
        let uid = user.user_id.to_string();
        let id = id.to_string();
        let at = fmt_ts(now())?;
        let mut tx = self.write_tx().await?;
        let target: Option<(bool,)> = sqlx::query_as(
            "select is_default from mt5_accounts where id = ?1 and user_id = ?2 and is_active = 1",
        )
        .bind(&id)
        .bind(&uid)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((was_default,)) = target else {
            return Ok(false);
        };
        sqlx::query(
            "update mt5_accounts set is_active = 0, is_default = 0, encrypted_password = ?3, \
             updated_at = ?4 where id = ?1 and user_id = ?2",
        )
        .bind(&id)
        .bind(&uid)
        .bind(tombstone)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        if was_default {
            sqlx::query(
                "update mt5_accounts set is_default = 1, updated_at = ?2 where id = (\
                   select id from mt5_accounts where user_id = ?1 and is_active = 1 \
                   order by created_at, id limit 1)",
            )
            .bind(&uid)
            .bind(&at)
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
        let id = account_id.to_string();
        // The WHERE also settles SQLite's INSERT … SELECT … ON CONFLICT parsing ambiguity.
        let done = sqlx::query(
            "insert into mt5_account_status (account_id, user_id, trade_allowed, updated_at) \
             select ?1, ?2, ?3, ?4 \
             where exists (select 1 from mt5_accounts where id = ?1 and user_id = ?2) \
             on conflict (account_id) do update \
             set trade_allowed = excluded.trade_allowed, updated_at = excluded.updated_at",
        )
        .bind(&id)
        .bind(ctx.user_id.to_string())
        .bind(trade_allowed)
        .bind(fmt_ts(now())?)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(status_not_written(account_id));
        }
        Ok(())
    }

    async fn all_credentials(&self) -> StoreResult<Vec<AccountRow>> {
        let found: Vec<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts order by created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows(found)
    }

    async fn active_rows_of_login(&self, login: &str) -> StoreResult<Vec<AccountRow>> {
        let found: Vec<LiteAccount> = sqlx::query_as(&format!(
            "select {COLUMNS} from mt5_accounts where login = ?1 and is_active = 1 order by created_at, id"
        ))
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        rows(found)
    }

    async fn replace_ciphertext(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "update mt5_accounts set encrypted_password = ?3, updated_at = ?4 \
             where id = ?1 and encrypted_password = ?2",
        )
        .bind(id.to_string())
        .bind(old)
        .bind(new)
        .bind(fmt_ts(now())?)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_sort_as_text() {
        let a = now();
        let s = fmt_ts(a).unwrap();
        assert_eq!(s.len(), "2024-01-01T00:00:00.000000Z".len());
        assert_eq!(parse_ts(&s).unwrap(), a);
        let b = a + time::Duration::microseconds(1);
        assert!(fmt_ts(b).unwrap() > s);
        let c = a + time::Duration::seconds(86_400 * 400);
        assert!(fmt_ts(c).unwrap() > fmt_ts(b).unwrap());
    }

    #[test]
    fn offset_times_are_stored_in_utc() {
        let t = time::macros::datetime!(2024-03-01 10:00:00.123456 +02:00);
        assert_eq!(fmt_ts(t).unwrap(), "2024-03-01T08:00:00.123456Z");
    }
}
