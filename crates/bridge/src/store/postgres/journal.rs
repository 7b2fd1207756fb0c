//! The Postgres trade journal.
//!
//! User methods run like the account store's: one transaction as role `authenticated` with the
//! user's claims, so Row Level Security applies on top of the explicit `user_id` filters. Users may
//! only read the journal, so `begin` and `complete` write as `mt5_bridge_writer`
//! (`PgStore::writer_tx`) with the same claims. `begin`
//! relies on `INSERT … ON CONFLICT DO NOTHING` against the partial unique index on
//! (user_id, idempotency_key): a failed statement would abort the transaction, and the index makes a
//! concurrent begin with the same key wait for the first one and then see its row. Reconciliation
//! (the service path) runs as the connecting role.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::journal::{
    not_written, parse_status, response_column, retcode_column, Begin, Completion, JournalEntry,
    JournalFilter, JournalRoute, JournalStatus, JournalStore, NewJournalEntry,
};
use crate::store::{StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, client_id, idempotency_key, request_hash, source, \
     algorithm_id, run_id, action, request, status, retcode, \"order\", deal, volume, price, \
     error, response, created_at, completed_at, terminal_index, ledger_id, process_run_id";

/// How often `begin` retries when its key's holder vanished between the insert and the read (the
/// holder's key expired and was cleared by a third begin); more than once means something is wrong.
const BEGIN_ATTEMPTS: usize = 3;

#[derive(sqlx::FromRow)]
struct PgEntry {
    id: Uuid,
    user_id: Uuid,
    account_id: Uuid,
    client_id: String,
    idempotency_key: Option<String>,
    request_hash: Option<String>,
    source: String,
    algorithm_id: Option<String>,
    run_id: Option<Uuid>,
    action: String,
    request: Value,
    status: String,
    retcode: Option<i32>,
    order: Option<i64>,
    deal: Option<i64>,
    volume: Option<f64>,
    price: Option<f64>,
    error: Option<String>,
    response: Option<Value>,
    created_at: OffsetDateTime,
    completed_at: Option<OffsetDateTime>,
    terminal_index: Option<i32>,
    ledger_id: Option<String>,
    process_run_id: Option<String>,
}

impl PgEntry {
    fn into_entry(self) -> StoreResult<JournalEntry> {
        Ok(JournalEntry {
            id: self.id,
            user_id: self.user_id,
            account_id: self.account_id,
            client_id: self.client_id,
            idempotency_key: self.idempotency_key,
            request_hash: self.request_hash,
            source: self.source,
            algorithm_id: self.algorithm_id,
            run_id: self.run_id,
            action: self.action,
            request: self.request,
            status: parse_status(&self.status)?,
            retcode: self.retcode.map(i64::from),
            order: self.order,
            deal: self.deal,
            volume: self.volume,
            price: self.price,
            error: self.error,
            response: self.response,
            created_at: self.created_at,
            completed_at: self.completed_at,
            route: JournalRoute {
                terminal_index: self.terminal_index,
                ledger_id: self.ledger_id,
                process_run_id: self.process_run_id,
            },
        })
    }
}

fn entries(v: Vec<PgEntry>) -> StoreResult<Vec<JournalEntry>> {
    v.into_iter().map(PgEntry::into_entry).collect()
}

/// The SET list shared by `complete` and `complete_pending` ($1 is the entry id; a NULL parameter
/// keeps the stored value).
const COMPLETE_SET: &str = "update trade_journal set status = coalesce($2, status), \
     retcode = coalesce($3, retcode), \"order\" = coalesce($4, \"order\"), \
     deal = coalesce($5, deal), volume = coalesce($6, volume), price = coalesce($7, price), \
     error = coalesce($8, error), response = coalesce($9, response), \
     completed_at = case when coalesce($2, status) in ('pending', 'unknown') then null else now() end \
     where id = $1";

fn complete_query(
    sql: &str,
    id: Uuid,
    c: Completion,
) -> StoreResult<sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments>> {
    Ok(sqlx::query(sql)
        .bind(id)
        .bind(c.status.map(JournalStatus::as_str))
        .bind(retcode_column(c.retcode)?)
        .bind(c.order)
        .bind(c.deal)
        .bind(c.volume)
        .bind(c.price)
        .bind(c.error)
        .bind(response_column(c.response)))
}

/// Inserts the entry unless the user's key is taken; `None` when nothing was written (the key is
/// held, or the account is not the user's).
async fn try_insert(
    tx: &mut Transaction<'static, Postgres>,
    user_id: Uuid,
    new: &NewJournalEntry,
) -> StoreResult<Option<JournalEntry>> {
    // The account check keeps a user's journal to the user's own accounts and makes "not yours" a
    // missing row rather than an error; the (account_id, user_id) foreign key refuses it anyway.
    let row: Option<PgEntry> = sqlx::query_as(&format!(
        "insert into trade_journal (id, user_id, account_id, client_id, idempotency_key, \
         request_hash, source, algorithm_id, run_id, action, request, status, error, completed_at, \
         process_run_id) \
         select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                case when $12 = 'pending' then null else now() end, $14 \
         where exists (select 1 from mt5_accounts where id = $3 and user_id = $2) \
         on conflict (user_id, idempotency_key) where idempotency_key is not null do nothing \
         returning {COLUMNS}"
    ))
    .bind(new.id)
    .bind(user_id)
    .bind(new.account_id)
    .bind(&new.client_id)
    .bind(new.idempotency_key.as_deref())
    .bind(new.request_hash.as_deref())
    .bind(&new.source)
    .bind(new.algorithm_id.as_deref())
    .bind(new.run_id)
    .bind(&new.action)
    .bind(&new.request)
    .bind(new.status.as_str())
    .bind(new.error.as_deref())
    .bind(new.process_run_id.as_deref())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(PgEntry::into_entry).transpose()
}

#[async_trait]
impl JournalStore for PgStore {
    async fn begin(
        &self,
        user: &UserCtx,
        new: NewJournalEntry,
        idempotency_ttl_s: i64,
    ) -> StoreResult<Begin> {
        let mut tx = self.writer_tx(user).await?;
        if let Some(key) = new.idempotency_key.as_deref() {
            // An expired holder gives the key up, so the insert below can take it.
            sqlx::query(
                "update trade_journal set idempotency_key = null \
                 where user_id = $1 and idempotency_key = $2 \
                 and (created_at < now() - make_interval(secs => $3) or status = 'not_executed')",
            )
            .bind(user.user_id)
            .bind(key)
            .bind(idempotency_ttl_s.max(0) as f64)
            .execute(&mut *tx)
            .await?;
        }
        for _ in 0..BEGIN_ATTEMPTS {
            if let Some(created) = try_insert(&mut tx, user.user_id, &new).await? {
                tx.commit().await?;
                return Ok(Begin::Created(created));
            }
            let Some(key) = new.idempotency_key.as_deref() else {
                break;
            };
            // Read committed: this statement sees the holder a concurrent begin just committed.
            let existing: Option<PgEntry> = sqlx::query_as(&format!(
                "select {COLUMNS} from trade_journal where user_id = $1 and idempotency_key = $2"
            ))
            .bind(user.user_id)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(existing) = existing {
                tx.commit().await?;
                return Ok(Begin::Existing(existing.into_entry()?));
            }
        }
        let (owned,): (bool,) = sqlx::query_as(
            "select exists(select 1 from mt5_accounts where id = $1 and user_id = $2)",
        )
        .bind(new.account_id)
        .bind(user.user_id)
        .fetch_one(&mut *tx)
        .await?;
        Err(not_written(&new, owned))
    }

    async fn complete(&self, user: &UserCtx, id: Uuid, completion: Completion) -> StoreResult<()> {
        let sql = format!("{COMPLETE_SET} and user_id = $10");
        let mut tx = self.writer_tx(user).await?;
        complete_query(&sql, id, completion)?
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_route(
        &self,
        user: &UserCtx,
        id: Uuid,
        route: &JournalRoute,
    ) -> StoreResult<()> {
        let mut tx = self.writer_tx(user).await?;
        sqlx::query(
            "update trade_journal set terminal_index = $2, ledger_id = $3, process_run_id = $4 \
             where id = $1 and user_id = $5 and status = 'pending'",
        )
        .bind(id)
        .bind(route.terminal_index)
        .bind(route.ledger_id.as_deref())
        .bind(route.process_run_id.as_deref())
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_entry(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<JournalEntry>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        found.map(PgEntry::into_entry).transpose()
    }

    async fn list_entries(
        &self,
        user: &UserCtx,
        filter: JournalFilter,
    ) -> StoreResult<Vec<JournalEntry>> {
        let (before_at, before_id) = filter.before.unzip();
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where user_id = $1 \
             and ($2::uuid is null or account_id = $2) \
             and ($3::timestamptz is null or (created_at, id) < ($3, $4::uuid)) \
             order by created_at desc, id desc limit $5"
        ))
        .bind(user.user_id)
        .bind(filter.account_id)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(filter.page_size()))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        entries(found)
    }

    async fn pending_entries(&self) -> StoreResult<Vec<JournalEntry>> {
        let found: Vec<PgEntry> = sqlx::query_as(&format!(
            "select {COLUMNS} from trade_journal where status = 'pending' order by created_at, id"
        ))
        .fetch_all(self.pool())
        .await?;
        entries(found)
    }

    async fn open_entries(&self) -> StoreResult<Vec<JournalEntry>> {
        let found: Vec<PgEntry> = sqlx::query_as(&format!(
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
        let sql = format!("{COMPLETE_SET} and status = $10");
        let done = complete_query(&sql, id, completion)?
            .bind(from.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
