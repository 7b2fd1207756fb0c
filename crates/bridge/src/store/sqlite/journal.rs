//! The SQLite trade journal.
//!
//! The same contract as Postgres without RLS: every user-facing query filters by `user_id`. Writes
//! start with `BEGIN IMMEDIATE`, which serializes them, so `begin`'s clear-insert-read runs as one
//! unit; `ON CONFLICT DO NOTHING` on the partial unique index still decides who holds a key.
//! Timestamps are written by the application in the store's fixed-width microsecond format.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Sqlite, Transaction};
use uuid::Uuid;

use super::{fmt_ts, now, parse_ts, parse_uuid, SqliteStore};
use crate::store::journal::{
    not_written, parse_status, response_column, retcode_column, Begin, Completion, JournalEntry,
    JournalFilter, JournalRoute, JournalStatus, JournalStore, NewJournalEntry,
};
use crate::store::{StoreError, StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, client_id, idempotency_key, request_hash, source, \
     algorithm_id, run_id, action, request, status, retcode, \"order\", deal, volume, price, \
     error, response, created_at, completed_at, terminal_index, ledger_id, process_run_id";

#[derive(sqlx::FromRow)]
struct LiteEntry {
    id: String,
    user_id: String,
    account_id: String,
    client_id: String,
    idempotency_key: Option<String>,
    request_hash: Option<String>,
    source: String,
    algorithm_id: Option<String>,
    run_id: Option<String>,
    action: String,
    request: String,
    status: String,
    retcode: Option<i64>,
    order: Option<i64>,
    deal: Option<i64>,
    volume: Option<f64>,
    price: Option<f64>,
    error: Option<String>,
    response: Option<String>,
    created_at: String,
    completed_at: Option<String>,
    terminal_index: Option<i64>,
    ledger_id: Option<String>,
    process_run_id: Option<String>,
}

fn parse_json(s: &str, what: &str) -> StoreResult<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("bad stored {what}: {e}")))
}

fn json_text(v: &Value, what: &str) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("{what}: {e}")))
}

impl LiteEntry {
    fn into_entry(self) -> StoreResult<JournalEntry> {
        Ok(JournalEntry {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            account_id: parse_uuid(&self.account_id)?,
            client_id: self.client_id,
            idempotency_key: self.idempotency_key,
            request_hash: self.request_hash,
            source: self.source,
            algorithm_id: self.algorithm_id,
            run_id: self.run_id.as_deref().map(parse_uuid).transpose()?,
            action: self.action,
            request: parse_json(&self.request, "request")?,
            status: parse_status(&self.status)?,
            retcode: self.retcode,
            order: self.order,
            deal: self.deal,
            volume: self.volume,
            price: self.price,
            error: self.error,
            response: self
                .response
                .as_deref()
                .map(|s| parse_json(s, "response"))
                .transpose()?,
            created_at: parse_ts(&self.created_at)?,
            completed_at: self.completed_at.as_deref().map(parse_ts).transpose()?,
            route: JournalRoute {
                terminal_index: self
                    .terminal_index
                    .map(i32::try_from)
                    .transpose()
                    .map_err(|_| StoreError::Database("bad stored terminal_index".into()))?,
                ledger_id: self.ledger_id,
                process_run_id: self.process_run_id,
            },
        })
    }
}

fn entries(v: Vec<LiteEntry>) -> StoreResult<Vec<JournalEntry>> {
    v.into_iter().map(LiteEntry::into_entry).collect()
}

/// The SET list shared by `complete` and `complete_pending` (?1 is the entry id; a NULL parameter
/// keeps the stored value).
const COMPLETE_SET: &str = "update trade_journal set status = coalesce(?2, status), \
     retcode = coalesce(?3, retcode), \"order\" = coalesce(?4, \"order\"), \
     deal = coalesce(?5, deal), volume = coalesce(?6, volume), price = coalesce(?7, price), \
     error = coalesce(?8, error), response = coalesce(?9, response), \
     completed_at = case when coalesce(?2, status) in ('pending', 'unknown') then null else ?10 end \
     where id = ?1";

fn complete_query(
    sql: &str,
    id: Uuid,
    c: Completion,
) -> StoreResult<sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments<'_>>> {
    let response = response_column(c.response)
        .map(|v| json_text(&v, "response"))
        .transpose()?;
    Ok(sqlx::query(sql)
        .bind(id.to_string())
        .bind(c.status.map(JournalStatus::as_str))
        .bind(retcode_column(c.retcode)?)
        .bind(c.order)
        .bind(c.deal)
        .bind(c.volume)
        .bind(c.price)
        .bind(c.error)
        .bind(response)
        .bind(fmt_ts(now())?))
}

/// Inserts the entry unless the user's key is taken; `None` when nothing was written (the key is
/// held, or the account is not the user's).
async fn try_insert(
    tx: &mut Transaction<'static, Sqlite>,
    uid: &str,
    new: &NewJournalEntry,
    at: &str,
) -> StoreResult<Option<JournalEntry>> {
    let completed_at = (new.status != JournalStatus::Pending).then_some(at);
    // The account check keeps a user's journal to the user's own accounts. The WHERE also keeps
    // SQLite from reading the upsert's ON as a join constraint.
    let row: Option<LiteEntry> = sqlx::query_as(&format!(
        "insert into trade_journal (id, user_id, account_id, client_id, idempotency_key, \
         request_hash, source, algorithm_id, run_id, action, request, status, error, created_at, \
         completed_at, process_run_id) \
         select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16 \
         where exists (select 1 from mt5_accounts where id = ?3 and user_id = ?2) \
         on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing \
         returning {COLUMNS}"
    ))
    .bind(new.id.to_string())
    .bind(uid)
    .bind(new.account_id.to_string())
    .bind(&new.client_id)
    .bind(new.idempotency_key.as_deref())
    .bind(new.request_hash.as_deref())
    .bind(&new.source)
    .bind(new.algorithm_id.as_deref())
    .bind(new.run_id.map(|r| r.to_string()))
    .bind(&new.action)
    .bind(json_text(&new.request, "request")?)
    .bind(new.status.as_str())
    .bind(new.error.as_deref())
    .bind(at)
    .bind(completed_at)
    .bind(new.process_run_id.as_deref())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(LiteEntry::into_entry).transpose()
}

#[async_trait]
impl JournalStore for SqliteStore {
    async fn begin(
        &self,
        user: &UserCtx,
        new: NewJournalEntry,
        idempotency_ttl_s: i64,
    ) -> StoreResult<Begin> {
        let uid = user.user_id.to_string();
        let at_time = now();
        let at = fmt_ts(at_time)?;
        let mut tx = self.write_tx().await?;
        if let Some(key) = new.idempotency_key.as_deref() {
            // An expired holder gives the key up, so the insert below can take it.
            let cutoff = at_time
                .checked_sub(time::Duration::seconds(idempotency_ttl_s.max(0)))
                .unwrap_or(at_time);
            sqlx::query(
                "update trade_journal set idempotency_key = null \
                 where user_id = ?1 and idempotency_key = ?2 \
                 and (created_at < ?3 or status = 'not_executed')",
            )
            .bind(&uid)
            .bind(key)
            .bind(fmt_ts(cutoff)?)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(created) = try_insert(&mut tx, &uid, &new, &at).await? {
            tx.commit().await?;
            return Ok(Begin::Created(created));
        }
        // The write lock is held since BEGIN IMMEDIATE: a key that blocked the insert is still here.
        if let Some(key) = new.idempotency_key.as_deref() {
            let existing: Option<LiteEntry> = sqlx::query_as(&format!(
                "select {COLUMNS} from trade_journal where user_id = ?1 and idempotency_key = ?2"
            ))
            .bind(&uid)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(existing) = existing {
                tx.commit().await?;
                return Ok(Begin::Existing(existing.into_entry()?));
            }
        }
        let (owned,): (bool,) = sqlx::query_as(
            "select exists(select 1 from mt5_accounts where id = ?1 and user_id = ?2)",
        )
        .bind(new.account_id.to_string())
        .bind(&uid)
        .fetch_one(&mut *tx)
        .await?;
        Err(not_written(&new, owned))
    }

    async fn complete(&self, user: &UserCtx, id: Uuid, completion: Completion) -> StoreResult<()> {
        let sql = format!("{COMPLETE_SET} and user_id = ?11");
        complete_query(&sql, id, completion)?
            .bind(user.user_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn record_route(
        &self,
        user: &UserCtx,
        id: Uuid,
        route: &JournalRoute,
    ) -> StoreResult<()> {
        sqlx::query(
            "update trade_journal set terminal_index = ?2, ledger_id = ?3, process_run_id = ?4 \
             where id = ?1 and user_id = ?5 and status = 'pending'",
        )
        .bind(id.to_string())
        .bind(route.terminal_index)
        .bind(route.ledger_id.as_deref())
        .bind(route.process_run_id.as_deref())
        .bind(user.user_id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn get_entry(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<JournalEntry>> {
        let found: Option<LiteEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where id = ?1 and user_id = ?2"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        found.map(LiteEntry::into_entry).transpose()
    }

    async fn list_entries(
        &self,
        user: &UserCtx,
        filter: JournalFilter,
    ) -> StoreResult<Vec<JournalEntry>> {
        let (before_at, before_id) = match filter.before {
            Some((at, id)) => (Some(fmt_ts(at)?), Some(id.to_string())),
            None => (None, None),
        };
        let found: Vec<LiteEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where user_id = ?1 \
             and (?2 is null or account_id = ?2) \
             and (?3 is null or (created_at, id) < (?3, ?4)) \
             order by created_at desc, id desc limit ?5"
        ))
        .bind(user.user_id.to_string())
        .bind(filter.account_id.map(|a| a.to_string()))
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(filter.page_size()))
        .fetch_all(self.pool())
        .await?;
        entries(found)
    }

    async fn pending_entries(&self) -> StoreResult<Vec<JournalEntry>> {
        let found: Vec<LiteEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where status = 'pending' order by created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        entries(found)
    }

    async fn open_entries(&self) -> StoreResult<Vec<JournalEntry>> {
        let found: Vec<LiteEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where status in ('pending', 'unknown') \
             order by created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        entries(found)
    }

    async fn settle(
        &self,
        id: Uuid,
        from: JournalStatus,
        completion: Completion,
    ) -> StoreResult<bool> {
        let sql = format!("{COMPLETE_SET} and status = ?11");
        let done = complete_query(&sql, id, completion)?
            .bind(from.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
