//! The Postgres backtests and their queue.
//!
//! A user's rows (`backtests`, `backtest_results`) are read as `authenticated` under RLS and
//! written as `mt5_bridge_writer` with the user's claims. The queue, the budget and the bar cache
//! are the service's: written and read as the connecting role, which no API role can become. A
//! transaction that touches both does the service part as the connecting role and switches to the
//! writer only for the user's rows, back with `set local role none` where it needs to.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::backtests::{
    overall_progress, BacktestRow, BacktestStore, Budget, CachedChunk, Created, NewBacktest,
    Removed, ResultSummary, Unit, UnitResult, CANCELED, DONE, FAILED, MAX_BACKTESTS_PAGE, QUEUED,
    RUNNING,
};
use crate::store::{page, StoreError, StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, status, request, combinations, rank_by, work, \
     progress, history_start, error, created_at, started_at, finished_at";

#[derive(sqlx::FromRow)]
struct PgBacktest {
    id: Uuid,
    user_id: Uuid,
    account_id: Uuid,
    status: String,
    request: Value,
    combinations: i32,
    rank_by: Option<String>,
    work: i64,
    progress: f64,
    history_start: Option<OffsetDateTime>,
    error: Option<Value>,
    created_at: OffsetDateTime,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
}

impl From<PgBacktest> for BacktestRow {
    fn from(r: PgBacktest) -> Self {
        BacktestRow {
            id: r.id,
            user_id: r.user_id,
            account_id: r.account_id,
            status: r.status,
            request: r.request,
            combinations: r.combinations.max(0) as u32,
            rank_by: r.rank_by,
            work: r.work.max(0) as u64,
            progress: r.progress,
            history_start: r.history_start,
            error: r.error,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
        }
    }
}

/// Switches a transaction begun as the connecting role to the writer with the user's claims.
async fn as_writer(tx: &mut Transaction<'static, Postgres>, user_id: Uuid) -> StoreResult<()> {
    let claims = super::claims_json(&UserCtx::service_for(user_id))?;
    sqlx::query(
        "select set_config('role', 'mt5_bridge_writer', true), \
                set_config('request.jwt.claims', $1, true), \
                set_config('request.jwt.claim.sub', $2, true)",
    )
    .bind(claims)
    .bind(user_id.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Back to the connecting role, for the service's tables.
async fn as_service(tx: &mut Transaction<'static, Postgres>) -> StoreResult<()> {
    sqlx::query("set local role none")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether `unit`'s claim is still the latest and running (locks its job row to commit).
async fn holds_claim(tx: &mut Transaction<'static, Postgres>, unit: &Unit) -> StoreResult<bool> {
    let found: Option<(i64,)> = sqlx::query_as(
        "select claim from backtest_jobs where backtest_id = $1 and combination = $2 \
         and claim = $3 and status = 'running' for update",
    )
    .bind(unit.backtest_id)
    .bind(unit.combination as i32)
    .bind(unit.claim)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.is_some())
}

/// The backtest's progress from its units (as the connecting role).
async fn progress_of(tx: &mut Transaction<'static, Postgres>, unit: &Unit) -> StoreResult<f64> {
    let (done, running): (i64, f64) = sqlx::query_as(
        "select count(*) filter (where status = 'done'), \
                coalesce(sum(progress) filter (where status = 'running'), 0)::float8 \
         from backtest_jobs where backtest_id = $1",
    )
    .bind(unit.backtest_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(overall_progress(
        done.max(0) as u64,
        running,
        unit.combinations,
    ))
}

#[async_trait]
impl BacktestStore for PgStore {
    async fn create_backtest(
        &self,
        user: &UserCtx,
        new: NewBacktest,
        budget: Budget,
    ) -> StoreResult<Created> {
        let mut tx = self.pool().begin().await?;
        let work = i64::try_from(new.work).unwrap_or(i64::MAX);
        let limit = i64::try_from(budget.per_day).unwrap_or(i64::MAX);
        let (used,): (i64,) = sqlx::query_as(
            "select coalesce((select work from backtest_budget \
             where user_id = $1 and day = (now() at time zone 'utc')::date for update), 0)",
        )
        .bind(user.user_id)
        .fetch_one(&mut *tx)
        .await?;
        if used.saturating_add(work) > limit {
            return Ok(Created::OverBudget {
                used: used.max(0) as u64,
            });
        }
        sqlx::query(
            "insert into backtest_budget (user_id, day, work) \
             values ($1, (now() at time zone 'utc')::date, $2) \
             on conflict (user_id, day) do update set work = backtest_budget.work + excluded.work",
        )
        .bind(user.user_id)
        .bind(work)
        .execute(&mut *tx)
        .await?;
        as_writer(&mut tx, user.user_id).await?;
        let row: PgBacktest = sqlx::query_as(&format!(
            "insert into backtests (id, user_id, account_id, request, combinations, rank_by, work) \
             select $1, $2, $3, $4, $5, $6, $7 from mt5_accounts \
             where id = $3 and user_id = $2 and is_active returning {COLUMNS}"
        ))
        .bind(new.id)
        .bind(user.user_id)
        .bind(new.account_id)
        .bind(&new.request)
        .bind(new.combinations.len() as i32)
        .bind(&new.rank_by)
        .bind(work)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            StoreError::Database(format!(
                "backtest not written: account {} is not one of the user's accounts",
                new.account_id
            ))
        })?;
        // The oldest finished beyond what is kept go, results and all.
        sqlx::query(
            "delete from backtests where id in (select id from backtests \
             where user_id = $1 and status in ('done', 'failed', 'canceled') \
             order by created_at desc, id desc offset $2)",
        )
        .bind(user.user_id)
        .bind(i64::from(budget.kept.saturating_sub(1)))
        .execute(&mut *tx)
        .await?;
        as_service(&mut tx).await?;
        for (i, parameters) in new.combinations.iter().enumerate() {
            sqlx::query(
                "insert into backtest_jobs (backtest_id, combination, user_id, parameters) \
                 values ($1, $2, $3, $4)",
            )
            .bind(new.id)
            .bind(i as i32)
            .bind(user.user_id)
            .bind(parameters)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Created::Queued(Box::new(row.into())))
    }

    async fn get_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BacktestRow>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgBacktest> = sqlx::query_as(&format!(
            "select {COLUMNS} from backtests where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.map(Into::into))
    }

    async fn list_backtests(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BacktestRow>> {
        let (at, id) = before.unzip();
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgBacktest> = sqlx::query_as(&format!(
            "select {COLUMNS} from backtests where user_id = $1 \
             and ($2::timestamptz is null or (created_at, id) < ($2, $3::uuid)) \
             order by created_at desc, id desc limit $4"
        ))
        .bind(user.user_id)
        .bind(at)
        .bind(id)
        .bind(i64::from(page::rows_read(limit, MAX_BACKTESTS_PAGE)))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn backtest_results(&self, user: &UserCtx, id: Uuid) -> StoreResult<Vec<ResultSummary>> {
        let mut tx = self.user_tx(user).await?;
        #[allow(clippy::type_complexity)] // reason: one row's columns
        let rows: Vec<(i32, Value, Value, Option<OffsetDateTime>, Value)> = sqlx::query_as(
            "select combination, parameters, report, history_start, notes from backtest_results \
             where backtest_id = $1 and user_id = $2 order by combination",
        )
        .bind(id)
        .bind(user.user_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(
                |(combination, parameters, report, history_start, notes)| ResultSummary {
                    combination: combination.max(0) as u32,
                    parameters,
                    report,
                    history_start,
                    notes,
                },
            )
            .collect())
    }

    async fn backtest_detail(
        &self,
        user: &UserCtx,
        id: Uuid,
        combination: u32,
    ) -> StoreResult<Option<(Value, Value)>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<(Value, Value)> = sqlx::query_as(
            "select trades, equity from backtest_results \
             where backtest_id = $1 and user_id = $2 and combination = $3",
        )
        .bind(id)
        .bind(user.user_id)
        .bind(i32::try_from(combination).unwrap_or(i32::MAX))
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn remove_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Removed> {
        let mut tx = self.pool().begin().await?;
        // Locks in the workers' order (the units, then the backtest), so a cancellation and a
        // claim or a result cannot wait on each other.
        sqlx::query(
            "select 1 from backtest_jobs where backtest_id = $1 and user_id = $2 \
             order by combination for update",
        )
        .bind(id)
        .bind(user.user_id)
        .execute(&mut *tx)
        .await?;
        // The units first (as the service), so a worker's next write finds its unit canceled.
        let status: Option<(String,)> = sqlx::query_as(
            "select status from backtests where id = $1 and user_id = $2 for update",
        )
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status,)) = status else {
            return Ok(Removed::NotFound);
        };
        let removed = if status == QUEUED || status == RUNNING {
            sqlx::query(
                "update backtest_jobs set status = 'canceled', lease_until = null \
                 where backtest_id = $1 and status in ('queued', 'running')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            as_writer(&mut tx, user.user_id).await?;
            sqlx::query("delete from backtest_results where backtest_id = $1 and user_id = $2")
                .bind(id)
                .bind(user.user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "update backtests set status = 'canceled', finished_at = now() \
                 where id = $1 and user_id = $2",
            )
            .bind(id)
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
            Removed::Canceled
        } else {
            as_writer(&mut tx, user.user_id).await?;
            sqlx::query("delete from backtests where id = $1 and user_id = $2")
                .bind(id)
                .bind(user.user_id)
                .execute(&mut *tx)
                .await?;
            Removed::Deleted
        };
        tx.commit().await?;
        Ok(removed)
    }

    async fn claim_unit(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Unit>> {
        // A look first, so an idle worker's poll writes nothing.
        let (any,): (bool,) = sqlx::query_as(
            "select exists (select 1 from backtest_jobs where status = 'queued'              or (status = 'running' and lease_until < now()))",
        )
        .fetch_one(self.pool())
        .await?;
        if !any {
            return Ok(None);
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "update backtest_jobs set status = 'queued', claimed_by = null, lease_until = null, \
             progress = 0 where status = 'running' and lease_until < now()",
        )
        .execute(&mut *tx)
        .await?;
        // The user with the fewest units running goes first; among equals, the one whose last
        // unit started longest ago (never is longest), so a long sweep cannot hold the queue.
        #[allow(clippy::type_complexity)] // reason: one row's columns
        let claimed: Option<(Uuid, i32, Uuid, Value, i64, i32)> = sqlx::query_as(
            "update backtest_jobs j set status = 'running', claimed_by = $1, \
                 lease_until = now() + make_interval(secs => $2::float8 / 1000), \
                 claim = j.claim + 1, started_at = now(), progress = 0 \
             where (j.backtest_id, j.combination) = ( \
                 select q.backtest_id, q.combination from backtest_jobs q where q.status = 'queued' \
                 and (q.lease_until is null or q.lease_until <= now()) \
                 order by (select count(*) from backtest_jobs r \
                           where r.user_id = q.user_id and r.status = 'running'), \
                          (select max(r.started_at) from backtest_jobs r \
                           where r.user_id = q.user_id) nulls first, \
                          q.created_at, q.backtest_id, q.combination \
                 limit 1 for update skip locked) \
             returning j.backtest_id, j.combination, j.user_id, j.parameters, j.claim, j.attempts",
        )
        .bind(worker)
        .bind(lease_ms as f64)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((backtest_id, combination, user_id, parameters, claim, attempts)) = claimed else {
            tx.commit().await?;
            return Ok(None);
        };
        let (account_id, request, combinations): (Uuid, Value, i32) =
            sqlx::query_as("select account_id, request, combinations from backtests where id = $1")
                .bind(backtest_id)
                .fetch_one(&mut *tx)
                .await?;
        as_writer(&mut tx, user_id).await?;
        sqlx::query(
            "update backtests set status = 'running', started_at = coalesce(started_at, now()) \
             where id = $1 and user_id = $2 and status in ('queued', 'running')",
        )
        .bind(backtest_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(Unit {
            backtest_id,
            combination: combination.max(0) as u32,
            user_id,
            account_id,
            request,
            parameters,
            combinations: combinations.max(1) as u32,
            claim,
            attempts: attempts.max(0) as u32,
        }))
    }

    async fn renew_unit(&self, unit: &Unit, lease_ms: i64, progress: f64) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let renewed = sqlx::query(
            "update backtest_jobs set lease_until = now() + make_interval(secs => $4::float8 / 1000), \
             progress = $5 where backtest_id = $1 and combination = $2 and claim = $3 \
             and status = 'running'",
        )
        .bind(unit.backtest_id)
        .bind(unit.combination as i32)
        .bind(unit.claim)
        .bind(lease_ms as f64)
        .bind(progress.clamp(0.0, 1.0))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !renewed {
            return Ok(false);
        }
        let overall = progress_of(&mut tx, unit).await?;
        as_writer(&mut tx, unit.user_id).await?;
        sqlx::query(
            "update backtests set progress = greatest(progress, $3) \
             where id = $1 and user_id = $2 and status = 'running'",
        )
        .bind(unit.backtest_id)
        .bind(unit.user_id)
        .bind(overall)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_unit(&self, unit: &Unit, result: UnitResult) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        if !holds_claim(&mut tx, unit).await? {
            return Ok(false);
        }
        sqlx::query(
            "update backtest_jobs set status = 'done', progress = 1, lease_until = null \
             where backtest_id = $1 and combination = $2",
        )
        .bind(unit.backtest_id)
        .bind(unit.combination as i32)
        .execute(&mut *tx)
        .await?;
        let (left,): (i64,) = sqlx::query_as(
            "select count(*) from backtest_jobs where backtest_id = $1 and status <> 'done'",
        )
        .bind(unit.backtest_id)
        .fetch_one(&mut *tx)
        .await?;
        let overall = progress_of(&mut tx, unit).await?;
        as_writer(&mut tx, unit.user_id).await?;
        sqlx::query(
            "insert into backtest_results (backtest_id, combination, user_id, account_id, \
             parameters, report, trades, equity, history_start, notes) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(unit.backtest_id)
        .bind(unit.combination as i32)
        .bind(unit.user_id)
        .bind(unit.account_id)
        .bind(&unit.parameters)
        .bind(&result.report)
        .bind(&result.trades)
        .bind(&result.equity)
        .bind(result.history_start)
        .bind(&result.notes)
        .execute(&mut *tx)
        .await?;
        let status = if left == 0 { DONE } else { RUNNING };
        sqlx::query(
            "update backtests set status = $3, progress = $4, request = $5, \
             history_start = coalesce(history_start, $6), \
             finished_at = case when $3 = 'done' then now() else finished_at end \
             where id = $1 and user_id = $2 and status = 'running'",
        )
        .bind(unit.backtest_id)
        .bind(unit.user_id)
        .bind(status)
        .bind(if left == 0 { 1.0 } else { overall })
        .bind(&result.request)
        .bind(result.history_start)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn retry_unit(&self, unit: &Unit, delay_ms: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "update backtest_jobs set status = 'queued', claimed_by = null, progress = 0, \
             attempts = attempts + 1, \
             lease_until = now() + make_interval(secs => $4::float8 / 1000) \
             where backtest_id = $1 and combination = $2 and claim = $3 and status = 'running'",
        )
        .bind(unit.backtest_id)
        .bind(unit.combination as i32)
        .bind(unit.claim)
        .bind(delay_ms as f64)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_unit(&self, unit: &Unit, error: Value) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        // Every unit of the backtest, in order, as a cancellation takes them.
        sqlx::query(
            "select 1 from backtest_jobs where backtest_id = $1 order by combination for update",
        )
        .bind(unit.backtest_id)
        .execute(&mut *tx)
        .await?;
        if !holds_claim(&mut tx, unit).await? {
            return Ok(false);
        }
        sqlx::query(
            "update backtest_jobs set status = case when combination = $2 then $3 else $4 end, \
             lease_until = null where backtest_id = $1 and status in ('queued', 'running')",
        )
        .bind(unit.backtest_id)
        .bind(unit.combination as i32)
        .bind(FAILED)
        .bind(CANCELED)
        .execute(&mut *tx)
        .await?;
        as_writer(&mut tx, unit.user_id).await?;
        sqlx::query(
            "update backtests set status = 'failed', error = $3, finished_at = now() \
             where id = $1 and user_id = $2 and status in ('queued', 'running')",
        )
        .bind(unit.backtest_id)
        .bind(unit.user_id)
        .bind(&error)
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
        let found: Option<(Vec<u8>, i64)> = sqlx::query_as(
            "update bar_cache set last_used = now() \
             where server = $1 and symbol = $2 and timeframe = $3 and chunk = $4 \
             returning bars, final_until",
        )
        .bind(server)
        .bind(symbol)
        .bind(timeframe)
        .bind(chunk)
        .fetch_optional(self.pool())
        .await?;
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
        sqlx::query(
            "insert into bar_cache (server, symbol, timeframe, chunk, bars, final_until) \
             values ($1, $2, $3, $4, $5, $6) on conflict (server, symbol, timeframe, chunk) \
             do update set bars = excluded.bars, final_until = excluded.final_until, last_used = now()",
        )
        .bind(server)
        .bind(symbol)
        .bind(timeframe)
        .bind(chunk)
        .bind(&data.bars)
        .bind(data.final_until)
        .execute(self.pool())
        .await?;
        // Least recently used first, until what is left fits.
        sqlx::query(
            "delete from bar_cache where (server, symbol, timeframe, chunk) in ( \
                 select server, symbol, timeframe, chunk from ( \
                     select server, symbol, timeframe, chunk, \
                            sum(octet_length(bars)) over (order by last_used desc, chunk desc) \
                                as kept \
                     from bar_cache) c \
                 where c.kept > $1)",
        )
        .bind(i64::try_from(max_bytes).unwrap_or(i64::MAX))
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
