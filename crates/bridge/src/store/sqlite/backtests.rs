//! The SQLite backtests and their queue: the Postgres contract without RLS (every user query
//! filters by `user_id`). One process serves a SQLite store, so a claim is one `UPDATE …
//! RETURNING` inside `BEGIN IMMEDIATE`; leases and claim numbers work as on Postgres. Times the
//! queue compares are Unix milliseconds.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{fmt_ts, now, parse_ts, parse_uuid, SqliteStore};
use crate::store::backtests::{
    overall_progress, BacktestRow, BacktestStore, Budget, CachedChunk, Created, NewBacktest,
    Removed, ResultSummary, Unit, UnitResult, CANCELED, DONE, FAILED, MAX_BACKTESTS_PAGE, QUEUED,
    RUNNING,
};
use crate::store::{page, StoreError, StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, status, request, combinations, rank_by, work, \
     progress, history_start, error, created_at, started_at, finished_at";

fn parse_json(s: &str, what: &str) -> StoreResult<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("bad stored {what}: {e}")))
}

fn text(v: &Value) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("json: {e}")))
}

fn opt_ts(s: Option<String>) -> StoreResult<Option<OffsetDateTime>> {
    s.as_deref().map(parse_ts).transpose()
}

fn opt_fmt(t: Option<OffsetDateTime>) -> StoreResult<Option<String>> {
    t.map(fmt_ts).transpose()
}

fn now_ms() -> i64 {
    (now().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Today (UTC) as `YYYY-MM-DD`, the budget's key.
fn today() -> String {
    now().date().to_string()
}

#[derive(sqlx::FromRow)]
struct LiteBacktest {
    id: String,
    user_id: String,
    account_id: String,
    status: String,
    request: String,
    combinations: i64,
    rank_by: Option<String>,
    work: i64,
    progress: f64,
    history_start: Option<String>,
    error: Option<String>,
    created_at: String,
    started_at: Option<String>,
    finished_at: Option<String>,
}

impl LiteBacktest {
    fn into_row(self) -> StoreResult<BacktestRow> {
        Ok(BacktestRow {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            account_id: parse_uuid(&self.account_id)?,
            status: self.status,
            request: parse_json(&self.request, "request")?,
            combinations: self.combinations.clamp(0, i64::from(u32::MAX)) as u32,
            rank_by: self.rank_by,
            work: self.work.max(0) as u64,
            progress: self.progress,
            history_start: opt_ts(self.history_start)?,
            error: self
                .error
                .as_deref()
                .map(|e| parse_json(e, "error"))
                .transpose()?,
            created_at: parse_ts(&self.created_at)?,
            started_at: opt_ts(self.started_at)?,
            finished_at: opt_ts(self.finished_at)?,
        })
    }
}

async fn holds_claim(tx: &mut Transaction<'static, Sqlite>, unit: &Unit) -> StoreResult<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "select claim from backtest_jobs where backtest_id = ?1 and combination = ?2 \
         and claim = ?3 and status = 'running'",
    )
    .bind(unit.backtest_id.to_string())
    .bind(i64::from(unit.combination))
    .bind(unit.claim)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

async fn progress_of(tx: &mut Transaction<'static, Sqlite>, unit: &Unit) -> StoreResult<f64> {
    let (done, running): (i64, f64) = sqlx::query_as(
        "select coalesce(sum(status = 'done'), 0), \
                total(case when status = 'running' then progress else 0.0 end) \
         from backtest_jobs where backtest_id = ?1",
    )
    .bind(unit.backtest_id.to_string())
    .fetch_one(&mut **tx)
    .await?;
    Ok(overall_progress(
        done.max(0) as u64,
        running,
        unit.combinations,
    ))
}

#[async_trait]
impl BacktestStore for SqliteStore {
    async fn create_backtest(
        &self,
        user: &UserCtx,
        new: NewBacktest,
        budget: Budget,
    ) -> StoreResult<Created> {
        let mut tx = self.write_tx().await?;
        let uid = user.user_id.to_string();
        let work = i64::try_from(new.work).unwrap_or(i64::MAX);
        let limit = i64::try_from(budget.per_day).unwrap_or(i64::MAX);
        let day = today();
        let used: Option<(i64,)> =
            sqlx::query_as("select work from backtest_budget where user_id = ?1 and day = ?2")
                .bind(&uid)
                .bind(&day)
                .fetch_optional(&mut *tx)
                .await?;
        let used = used.map_or(0, |(w,)| w);
        if used.saturating_add(work) > limit {
            return Ok(Created::OverBudget {
                used: used.max(0) as u64,
            });
        }
        sqlx::query(
            "insert into backtest_budget (user_id, day, work) values (?1, ?2, ?3) \
             on conflict (user_id, day) do update set work = work + excluded.work",
        )
        .bind(&uid)
        .bind(&day)
        .bind(work)
        .execute(&mut *tx)
        .await?;
        let created = fmt_ts(now())?;
        let row: LiteBacktest = sqlx::query_as(&format!(
            "insert into backtests (id, user_id, account_id, request, combinations, rank_by, \
             work, created_at) select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 from mt5_accounts \
             where id = ?3 and user_id = ?2 and is_active returning {COLUMNS}"
        ))
        .bind(new.id.to_string())
        .bind(&uid)
        .bind(new.account_id.to_string())
        .bind(text(&new.request)?)
        .bind(new.combinations.len() as i64)
        .bind(&new.rank_by)
        .bind(work)
        .bind(&created)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            StoreError::Database(format!(
                "backtest not written: account {} is not one of the user's accounts",
                new.account_id
            ))
        })?;
        sqlx::query(
            "delete from backtests where id in (select id from backtests \
             where user_id = ?1 and status in ('done', 'failed', 'canceled') \
             order by created_at desc, id desc limit -1 offset ?2)",
        )
        .bind(&uid)
        .bind(i64::from(budget.kept.saturating_sub(1)))
        .execute(&mut *tx)
        .await?;
        for (i, parameters) in new.combinations.iter().enumerate() {
            sqlx::query(
                "insert into backtest_jobs (backtest_id, combination, user_id, parameters, \
                 created_at) values (?1, ?2, ?3, ?4, ?5)",
            )
            .bind(new.id.to_string())
            .bind(i as i64)
            .bind(&uid)
            .bind(text(parameters)?)
            .bind(&created)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Created::Queued(Box::new(row.into_row()?)))
    }

    async fn get_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BacktestRow>> {
        let found: Option<LiteBacktest> = sqlx::query_as(&format!(
            "select {COLUMNS} from backtests where id = ?1 and user_id = ?2"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        found.map(LiteBacktest::into_row).transpose()
    }

    async fn list_backtests(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BacktestRow>> {
        let (at, id) = before.unzip();
        let found: Vec<LiteBacktest> = sqlx::query_as(&format!(
            "select {COLUMNS} from backtests where user_id = ?1 \
             and (?2 is null or created_at < ?2 or (created_at = ?2 and id < ?3)) \
             order by created_at desc, id desc limit ?4"
        ))
        .bind(user.user_id.to_string())
        .bind(opt_fmt(at)?)
        .bind(id.map(|i| i.to_string()))
        .bind(i64::from(page::rows_read(limit, MAX_BACKTESTS_PAGE)))
        .fetch_all(self.pool())
        .await?;
        found.into_iter().map(LiteBacktest::into_row).collect()
    }

    async fn backtest_results(&self, user: &UserCtx, id: Uuid) -> StoreResult<Vec<ResultSummary>> {
        #[allow(clippy::type_complexity)] // reason: one row's columns
        let rows: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
            "select combination, parameters, report, history_start, notes from backtest_results \
             where backtest_id = ?1 and user_id = ?2 order by combination",
        )
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(|(combination, parameters, report, history_start, notes)| {
                Ok(ResultSummary {
                    combination: combination.clamp(0, i64::from(u32::MAX)) as u32,
                    parameters: parse_json(&parameters, "parameters")?,
                    report: parse_json(&report, "report")?,
                    history_start: opt_ts(history_start)?,
                    notes: parse_json(&notes, "notes")?,
                })
            })
            .collect()
    }

    async fn backtest_detail(
        &self,
        user: &UserCtx,
        id: Uuid,
        combination: u32,
    ) -> StoreResult<Option<(Value, Value)>> {
        let found: Option<(String, String)> = sqlx::query_as(
            "select trades, equity from backtest_results \
             where backtest_id = ?1 and user_id = ?2 and combination = ?3",
        )
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .bind(i64::from(combination))
        .fetch_optional(self.pool())
        .await?;
        found
            .map(|(t, e)| Ok((parse_json(&t, "trades")?, parse_json(&e, "equity")?)))
            .transpose()
    }

    async fn remove_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Removed> {
        let mut tx = self.write_tx().await?;
        let (id, uid) = (id.to_string(), user.user_id.to_string());
        let status: Option<(String,)> =
            sqlx::query_as("select status from backtests where id = ?1 and user_id = ?2")
                .bind(&id)
                .bind(&uid)
                .fetch_optional(&mut *tx)
                .await?;
        let Some((status,)) = status else {
            return Ok(Removed::NotFound);
        };
        let removed = if status == QUEUED || status == RUNNING {
            sqlx::query(
                "update backtest_jobs set status = 'canceled', lease_until = null \
                 where backtest_id = ?1 and status in ('queued', 'running')",
            )
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("delete from backtest_results where backtest_id = ?1 and user_id = ?2")
                .bind(&id)
                .bind(&uid)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "update backtests set status = 'canceled', finished_at = ?3 \
                 where id = ?1 and user_id = ?2",
            )
            .bind(&id)
            .bind(&uid)
            .bind(fmt_ts(now())?)
            .execute(&mut *tx)
            .await?;
            Removed::Canceled
        } else {
            sqlx::query("delete from backtests where id = ?1 and user_id = ?2")
                .bind(&id)
                .bind(&uid)
                .execute(&mut *tx)
                .await?;
            Removed::Deleted
        };
        tx.commit().await?;
        Ok(removed)
    }

    async fn claim_unit(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Unit>> {
        // A look first, so an idle worker's poll takes no write lock.
        let (any,): (bool,) = sqlx::query_as(
            "select exists (select 1 from backtest_jobs where status = 'queued'              or (status = 'running' and lease_until < ?1))",
        )
        .bind(now_ms())
        .fetch_one(self.pool())
        .await?;
        if !any {
            return Ok(None);
        }
        let mut tx = self.write_tx().await?;
        let now = now_ms();
        sqlx::query(
            "update backtest_jobs set status = 'queued', claimed_by = null, lease_until = null, \
             progress = 0 where status = 'running' and lease_until < ?1",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        #[allow(clippy::type_complexity)] // reason: one row's columns
        let claimed: Option<(String, i64, String, String, i64, i64)> = sqlx::query_as(
            "update backtest_jobs set status = 'running', claimed_by = ?1, lease_until = ?2, \
                 claim = claim + 1, started_at = ?3, progress = 0 \
             where (backtest_id, combination) = ( \
                 select q.backtest_id, q.combination from backtest_jobs q where q.status = 'queued' \
                 and (q.lease_until is null or q.lease_until <= ?3) \
                 order by (select count(*) from backtest_jobs r \
                           where r.user_id = q.user_id and r.status = 'running'), \
                          coalesce((select max(r.started_at) from backtest_jobs r \
                                    where r.user_id = q.user_id), -1), \
                          q.created_at, q.backtest_id, q.combination \
                 limit 1) \
             returning backtest_id, combination, user_id, parameters, claim, attempts",
        )
        .bind(worker)
        .bind(now.saturating_add(lease_ms))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((backtest_id, combination, user_id, parameters, claim, attempts)) = claimed else {
            tx.commit().await?;
            return Ok(None);
        };
        let (account_id, request, combinations): (String, String, i64) =
            sqlx::query_as("select account_id, request, combinations from backtests where id = ?1")
                .bind(&backtest_id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "update backtests set status = 'running', started_at = coalesce(started_at, ?2) \
             where id = ?1 and status in ('queued', 'running')",
        )
        .bind(&backtest_id)
        .bind(fmt_ts(super::now())?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Unit {
            backtest_id: parse_uuid(&backtest_id)?,
            combination: combination.clamp(0, i64::from(u32::MAX)) as u32,
            user_id: parse_uuid(&user_id)?,
            account_id: parse_uuid(&account_id)?,
            request: parse_json(&request, "request")?,
            parameters: parse_json(&parameters, "parameters")?,
            combinations: combinations.clamp(1, i64::from(u32::MAX)) as u32,
            claim,
            attempts: attempts.clamp(0, i64::from(u32::MAX)) as u32,
        }))
    }

    async fn renew_unit(&self, unit: &Unit, lease_ms: i64, progress: f64) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let renewed = sqlx::query(
            "update backtest_jobs set lease_until = ?4, progress = ?5 \
             where backtest_id = ?1 and combination = ?2 and claim = ?3 and status = 'running'",
        )
        .bind(unit.backtest_id.to_string())
        .bind(i64::from(unit.combination))
        .bind(unit.claim)
        .bind(now_ms().saturating_add(lease_ms))
        .bind(progress.clamp(0.0, 1.0))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !renewed {
            return Ok(false);
        }
        let overall = progress_of(&mut tx, unit).await?;
        sqlx::query(
            "update backtests set progress = max(progress, ?2) \
             where id = ?1 and status = 'running'",
        )
        .bind(unit.backtest_id.to_string())
        .bind(overall)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_unit(&self, unit: &Unit, result: UnitResult) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        if !holds_claim(&mut tx, unit).await? {
            return Ok(false);
        }
        let id = unit.backtest_id.to_string();
        sqlx::query(
            "update backtest_jobs set status = 'done', progress = 1, lease_until = null \
             where backtest_id = ?1 and combination = ?2",
        )
        .bind(&id)
        .bind(i64::from(unit.combination))
        .execute(&mut *tx)
        .await?;
        let (left,): (i64,) = sqlx::query_as(
            "select count(*) from backtest_jobs where backtest_id = ?1 and status <> 'done'",
        )
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
        let overall = progress_of(&mut tx, unit).await?;
        let finished = fmt_ts(now())?;
        sqlx::query(
            "insert into backtest_results (backtest_id, combination, user_id, account_id, \
             parameters, report, trades, equity, history_start, notes, finished_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .bind(&id)
        .bind(i64::from(unit.combination))
        .bind(unit.user_id.to_string())
        .bind(unit.account_id.to_string())
        .bind(text(&unit.parameters)?)
        .bind(text(&result.report)?)
        .bind(text(&result.trades)?)
        .bind(text(&result.equity)?)
        .bind(opt_fmt(result.history_start)?)
        .bind(text(&result.notes)?)
        .bind(&finished)
        .execute(&mut *tx)
        .await?;
        let done = left == 0;
        sqlx::query(
            "update backtests set status = ?2, progress = ?3, request = ?4, \
             history_start = coalesce(history_start, ?5), \
             finished_at = case when ?2 = 'done' then ?6 else finished_at end \
             where id = ?1 and status = 'running'",
        )
        .bind(&id)
        .bind(if done { DONE } else { RUNNING })
        .bind(if done { 1.0 } else { overall })
        .bind(text(&result.request)?)
        .bind(opt_fmt(result.history_start)?)
        .bind(&finished)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn retry_unit(&self, unit: &Unit, delay_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update backtest_jobs set status = 'queued', claimed_by = null, progress = 0, \
             attempts = attempts + 1, lease_until = ?4 \
             where backtest_id = ?1 and combination = ?2 and claim = ?3 and status = 'running'",
        )
        .bind(unit.backtest_id.to_string())
        .bind(i64::from(unit.combination))
        .bind(unit.claim)
        .bind(now_ms().saturating_add(delay_ms))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_unit(&self, unit: &Unit, error: Value) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        if !holds_claim(&mut tx, unit).await? {
            return Ok(false);
        }
        let id = unit.backtest_id.to_string();
        sqlx::query(
            "update backtest_jobs set status = case when combination = ?2 then ?3 else ?4 end, \
             lease_until = null where backtest_id = ?1 and status in ('queued', 'running')",
        )
        .bind(&id)
        .bind(i64::from(unit.combination))
        .bind(FAILED)
        .bind(CANCELED)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "update backtests set status = 'failed', error = ?2, finished_at = ?3 \
             where id = ?1 and status in ('queued', 'running')",
        )
        .bind(&id)
        .bind(text(&error)?)
        .bind(fmt_ts(now())?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn cached_bars(
        &self,
        server: &str,
        symbol: &str,
        timeframe: &str,
        chunk: i64,
    ) -> StoreResult<Option<CachedChunk>> {
        // The read and its mark as used, one after the other (a RETURNING row read early would
        // leave the update unfinished).
        let found: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "select bars, final_until from bar_cache \
             where server = ?1 and symbol = ?2 and timeframe = ?3 and chunk = ?4",
        )
        .bind(server)
        .bind(symbol)
        .bind(timeframe)
        .bind(chunk)
        .fetch_optional(self.pool())
        .await?;
        if found.is_some() {
            sqlx::query(
                "update bar_cache set last_used = ?5 \
                 where server = ?1 and symbol = ?2 and timeframe = ?3 and chunk = ?4",
            )
            .bind(server)
            .bind(symbol)
            .bind(timeframe)
            .bind(chunk)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        }
        Ok(found.map(|(bars, final_until)| CachedChunk { bars, final_until }))
    }

    async fn cache_bars(
        &self,
        server: &str,
        symbol: &str,
        timeframe: &str,
        chunk: i64,
        data: CachedChunk,
        max_bytes: u64,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "insert into bar_cache (server, symbol, timeframe, chunk, bars, final_until, last_used) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7) on conflict (server, symbol, timeframe, chunk) \
             do update set bars = excluded.bars, final_until = excluded.final_until, \
             last_used = excluded.last_used",
        )
        .bind(server)
        .bind(symbol)
        .bind(timeframe)
        .bind(chunk)
        .bind(&data.bars)
        .bind(data.final_until)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "delete from bar_cache where rowid in ( \
                 select rid from ( \
                     select rowid as rid, \
                            sum(length(bars)) over (order by last_used desc, chunk desc) as kept \
                     from bar_cache) \
                 where kept > ?1)",
        )
        .bind(i64::try_from(max_bytes).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
