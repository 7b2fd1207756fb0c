//! The Postgres bots. A user's `bots` rows are read as `authenticated` under RLS and written as
//! `mt5_bridge_writer` with the user's claims; `bot_passes` and `bot_waves` are the service's,
//! written as the connecting role. Changes that count or compare a user's bots (create, resume,
//! new parameters) hold the user's advisory lock to commit, so parallel requests cannot pass a
//! limit or put two bots on one netting symbol.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{lock_user, PgStore};
use crate::store::bots::{
    BotLimits, BotRow, BotStore, BotWrite, NewBot, PassRecord, Transition, MAGIC_MIN,
    MAX_BOTS_PAGE, PAUSED, RUNNING, STOPPED,
};
use crate::store::{page, StoreError, StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, name, algorithm_id, algorithm_kind, parameters, \
     symbol, timeframe, dry_run, confirm_live, magic, netting, state, state_reason, last_bar_time, \
     due_at, passes, trades, skipped_bars, missed_bars, refused_bars, last_run_id, \
     last_skip_reason, open_positions, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct PgBot {
    id: Uuid,
    user_id: Uuid,
    account_id: Uuid,
    name: String,
    algorithm_id: String,
    algorithm_kind: String,
    parameters: Value,
    symbol: String,
    timeframe: String,
    dry_run: bool,
    confirm_live: bool,
    magic: i64,
    netting: bool,
    state: String,
    state_reason: Option<String>,
    last_bar_time: Option<i64>,
    due_at: OffsetDateTime,
    passes: i64,
    trades: i64,
    skipped_bars: i64,
    missed_bars: i64,
    refused_bars: i32,
    last_run_id: Option<Uuid>,
    last_skip_reason: Option<String>,
    open_positions: Option<Value>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<PgBot> for BotRow {
    fn from(r: PgBot) -> Self {
        BotRow {
            id: r.id,
            user_id: r.user_id,
            account_id: r.account_id,
            name: r.name,
            algorithm_id: r.algorithm_id,
            algorithm_kind: r.algorithm_kind,
            parameters: r.parameters,
            symbol: r.symbol,
            timeframe: r.timeframe,
            dry_run: r.dry_run,
            confirm_live: r.confirm_live,
            magic: r.magic,
            netting: r.netting,
            state: r.state,
            state_reason: r.state_reason,
            last_bar_time: r.last_bar_time,
            due_at: r.due_at,
            passes: r.passes,
            trades: r.trades,
            skipped_bars: r.skipped_bars,
            missed_bars: r.missed_bars,
            refused_bars: r.refused_bars,
            last_run_id: r.last_run_id,
            last_skip_reason: r.last_skip_reason,
            open_positions: r.open_positions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Another running or paused bot of the account trading `symbol` (for a netting account).
async fn symbol_holder(
    tx: &mut Transaction<'static, Postgres>,
    account_id: Uuid,
    symbol: &str,
    except: Uuid,
) -> StoreResult<Option<Uuid>> {
    let found: Option<(Uuid,)> = sqlx::query_as(
        "select id from bots where account_id = $1 and symbol = $2 and id <> $3 \
         and state in ('running', 'paused') limit 1",
    )
    .bind(account_id)
    .bind(symbol)
    .bind(except)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.map(|f| f.0))
}

async fn bot_in(
    tx: &mut Transaction<'static, Postgres>,
    user_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<BotRow>> {
    let found: Option<PgBot> = sqlx::query_as(&format!(
        "select {COLUMNS} from bots where id = $1 and user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(found.map(Into::into))
}

#[async_trait]
impl BotStore for PgStore {
    async fn create_bot(
        &self,
        user: &UserCtx,
        new: NewBot,
        limits: BotLimits,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.writer_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let (of_user, of_account, next_magic): (i64, i64, Option<i64>) = sqlx::query_as(
            "select count(*), count(*) filter (where account_id = $2), \
                    max(magic) filter (where account_id = $2) \
             from bots where user_id = $1",
        )
        .bind(user.user_id)
        .bind(new.account_id)
        .fetch_one(&mut *tx)
        .await?;
        if of_user >= i64::from(limits.per_user) {
            return Ok(BotWrite::LimitReached {
                name: "BOTS_PER_USER",
                limit: limits.per_user,
                current: of_user.max(0) as u64,
            });
        }
        if of_account >= i64::from(limits.per_account) {
            return Ok(BotWrite::LimitReached {
                name: "BOTS_PER_ACCOUNT",
                limit: limits.per_account,
                current: of_account.max(0) as u64,
            });
        }
        if new.netting {
            if let Some(bot_id) =
                symbol_holder(&mut tx, new.account_id, &new.symbol, new.id).await?
            {
                return Ok(BotWrite::SymbolTaken { bot_id });
            }
        }
        let magic = next_magic.map_or(MAGIC_MIN, |m| m + 1);
        let row: Option<PgBot> = sqlx::query_as(&format!(
            "insert into bots (id, user_id, account_id, name, algorithm_id, algorithm_kind, \
             parameters, symbol, timeframe, dry_run, confirm_live, magic, netting, due_at) \
             select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'epoch' from mt5_accounts \
             where id = $3 and user_id = $2 and is_active returning {COLUMNS}"
        ))
        .bind(new.id)
        .bind(user.user_id)
        .bind(new.account_id)
        .bind(&new.name)
        .bind(&new.algorithm_id)
        .bind(&new.algorithm_kind)
        .bind(&new.parameters)
        .bind(&new.symbol)
        .bind(&new.timeframe)
        .bind(new.dry_run)
        .bind(new.confirm_live)
        .bind(magic)
        .bind(new.netting)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Database(format!(
                "bot not written: account {} is not one of the user's accounts",
                new.account_id
            )));
        };
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into())))
    }

    async fn get_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BotRow>> {
        let mut tx = self.user_tx(user).await?;
        let found = bot_in(&mut tx, user.user_id, id).await?;
        tx.commit().await?;
        Ok(found)
    }

    async fn list_bots(
        &self,
        user: &UserCtx,
        account_id: Option<Uuid>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BotRow>> {
        let (after_at, after_id) = after.unzip();
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where user_id = $1 \
             and ($2::uuid is null or account_id = $2) \
             and ($3::timestamptz is null or (created_at, id) > ($3, $4::uuid)) \
             order by created_at, id limit $5"
        ))
        .bind(user.user_id)
        .bind(account_id)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page::rows_read(limit, MAX_BOTS_PAGE)))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn update_bot_parameters(
        &self,
        user: &UserCtx,
        id: Uuid,
        parameters: Value,
        symbol: &str,
        timeframe: &str,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.writer_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let Some(bot) = bot_in(&mut tx, user.user_id, id).await? else {
            return Ok(BotWrite::NotFound);
        };
        if bot.state == STOPPED {
            return Ok(BotWrite::WrongState(Box::new(bot)));
        }
        if bot.netting && (bot.state == RUNNING || bot.state == PAUSED) {
            if let Some(bot_id) = symbol_holder(&mut tx, bot.account_id, symbol, id).await? {
                return Ok(BotWrite::SymbolTaken { bot_id });
            }
        }
        let row: PgBot = sqlx::query_as(&format!(
            "update bots set parameters = $3, symbol = $4, timeframe = $5, updated_at = now() \
             where id = $1 and user_id = $2 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(user.user_id)
        .bind(&parameters)
        .bind(symbol)
        .bind(timeframe)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into())))
    }

    async fn transition_bot(
        &self,
        user: &UserCtx,
        id: Uuid,
        t: Transition<'_>,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.writer_tx(user).await?;
        lock_user(&mut tx, user.user_id).await?;
        let Some(bot) = bot_in(&mut tx, user.user_id, id).await? else {
            return Ok(BotWrite::NotFound);
        };
        if !t.from.contains(&bot.state.as_str()) {
            return Ok(BotWrite::WrongState(Box::new(bot)));
        }
        let entering = t.to == RUNNING || t.to == PAUSED;
        let occupied = bot.state == RUNNING || bot.state == PAUSED;
        if bot.netting && entering && !occupied {
            if let Some(bot_id) = symbol_holder(&mut tx, bot.account_id, &bot.symbol, id).await? {
                return Ok(BotWrite::SymbolTaken { bot_id });
            }
        }
        let resume = t.to == RUNNING;
        let row: PgBot = sqlx::query_as(&format!(
            "update bots set state = $3, state_reason = $4, updated_at = now(), \
             refused_bars = case when $5 then 0 else refused_bars end, \
             due_at = case when $5 then 'epoch'::timestamptz else due_at end \
             where id = $1 and user_id = $2 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(user.user_id)
        .bind(t.to)
        .bind(t.reason)
        .bind(resume)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into())))
    }

    async fn set_bot_open_positions(
        &self,
        user: &UserCtx,
        id: Uuid,
        positions: Option<Value>,
    ) -> StoreResult<()> {
        let mut tx = self.writer_tx(user).await?;
        sqlx::query(
            "update bots set open_positions = $3, updated_at = now() \
             where id = $1 and user_id = $2",
        )
        .bind(id)
        .bind(user.user_id)
        .bind(positions)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<BotWrite> {
        let mut tx = self.writer_tx(user).await?;
        let Some(bot) = bot_in(&mut tx, user.user_id, id).await? else {
            return Ok(BotWrite::NotFound);
        };
        if bot.state != STOPPED {
            return Ok(BotWrite::WrongState(Box::new(bot)));
        }
        sqlx::query("delete from bots where id = $1 and user_id = $2 and state = 'stopped'")
            .bind(id)
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(bot)))
    }

    async fn pause_bots(
        &self,
        user: &UserCtx,
        account_id: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.writer_tx(user).await?;
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "update bots set state = 'paused', state_reason = $3, updated_at = now() \
             where user_id = $1 and ($2::uuid is null or account_id = $2) \
             and state = 'running' returning id",
        )
        .bind(user.user_id)
        .bind(account_id)
        .bind(reason)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(|i| i.0).collect())
    }

    async fn stop_account_bots(
        &self,
        user: &UserCtx,
        account_id: Uuid,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        let mut tx = self.writer_tx(user).await?;
        let ids: Vec<(Uuid,)> = sqlx::query_as(
            "update bots set state = 'stopped', state_reason = $3, updated_at = now() \
             where user_id = $1 and account_id = $2 and state <> 'stopped' returning id",
        )
        .bind(user.user_id)
        .bind(account_id)
        .bind(reason)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids.into_iter().map(|i| i.0).collect())
    }

    async fn due_bots(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<BotRow>> {
        let found: Vec<PgBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where state = 'running' and due_at <= $1 \
             order by due_at limit $2"
        ))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn claim_wave(
        &self,
        account_id: Uuid,
        replica: &str,
        lease_ms: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Vec<BotRow>>> {
        let mut tx = self.pool().begin().await?;
        let claimed: Option<(Uuid,)> = sqlx::query_as(
            "insert into bot_waves (account_id, replica, lease_until) \
             values ($1, $2, now() + $3 * interval '1 millisecond') \
             on conflict (account_id) do update set replica = excluded.replica, \
               lease_until = excluded.lease_until \
             where bot_waves.lease_until < now() or bot_waves.replica = excluded.replica \
             returning account_id",
        )
        .bind(account_id)
        .bind(replica)
        .bind(lease_ms as f64)
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            return Ok(None);
        }
        let bots: Vec<PgBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where account_id = $1 and state = 'running' \
             and due_at <= $2 order by created_at, id"
        ))
        .bind(account_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(bots.into_iter().map(Into::into).collect()))
    }

    async fn renew_wave(
        &self,
        account_id: Uuid,
        replica: &str,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "update bot_waves set lease_until = now() + $3 * interval '1 millisecond' \
             where account_id = $1 and replica = $2",
        )
        .bind(account_id)
        .bind(replica)
        .bind(lease_ms as f64)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_wave(&self, account_id: Uuid, replica: &str) -> StoreResult<()> {
        sqlx::query("delete from bot_waves where account_id = $1 and replica = $2")
            .bind(account_id)
            .bind(replica)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn claim_pass(
        &self,
        bot: &BotRow,
        bar_time: i64,
        replica: &str,
        inputs: Value,
        missed: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool().begin().await?;
        let moved = sqlx::query(
            "update bots set last_bar_time = $2, passes = passes + 1, \
             missed_bars = missed_bars + $3, updated_at = now() \
             where id = $1 and state = 'running' \
             and (last_bar_time is null or last_bar_time < $2)",
        )
        .bind(bot.id)
        .bind(bar_time)
        .bind(missed.max(0))
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "insert into bot_passes (bot_id, bar_time, replica, inputs) values ($1, $2, $3, $4) \
             on conflict do nothing",
        )
        .bind(bot.id)
        .bind(bar_time)
        .bind(replica)
        .bind(&inputs)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn finish_pass(
        &self,
        bot: &BotRow,
        bar_time: Option<i64>,
        record: PassRecord,
    ) -> StoreResult<Option<BotRow>> {
        let mut tx = self.pool().begin().await?;
        if let Some(bar) = bar_time {
            sqlx::query(
                "update bot_passes set intents = $3, run_id = $4 where bot_id = $1 and bar_time = $2",
            )
            .bind(bot.id)
            .bind(bar)
            .bind(&record.intents)
            .bind(record.run_id)
            .execute(&mut *tx)
            .await?;
        }
        let (state, reason) = record.state.clone().unzip();
        let row: Option<PgBot> = sqlx::query_as(&format!(
            "update bots set trades = trades + $2, \
             skipped_bars = skipped_bars + case when $3 then 1 else 0 end, \
             last_skip_reason = case when $3 then $4 else last_skip_reason end, \
             refused_bars = case when $5 is null then refused_bars \
                                 when $5 then refused_bars + 1 else 0 end, \
             last_run_id = coalesce($6, last_run_id), \
             due_at = $7, \
             state = case when $8::text is not null and state = 'running' then $8 else state end, \
             state_reason = case when $8::text is not null and state = 'running' then $9 \
                                 else state_reason end, \
             updated_at = now() where id = $1 returning {COLUMNS}"
        ))
        .bind(bot.id)
        .bind(record.trades)
        .bind(record.skipped)
        .bind(record.skip_reason.as_deref())
        .bind(record.refused)
        .bind(record.run_id)
        .bind(record.due_at)
        .bind(state)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(row.map(Into::into))
    }

    async fn bot_in_doubt(&self, bot_id: Uuid) -> StoreResult<bool> {
        let (found,): (bool,) = sqlx::query_as(
            "select exists (select 1 from trade_journal j join algorithm_runs r on j.run_id = r.id \
             where r.bot_id = $1 and j.status in ('pending', 'unknown'))",
        )
        .bind(bot_id)
        .fetch_one(self.pool())
        .await?;
        Ok(found)
    }

    async fn bot_passes(
        &self,
        user: &UserCtx,
        bot_id: Uuid,
        from: i64,
        to: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Value, Value)>> {
        let found: Vec<(i64, Value, Value)> = sqlx::query_as(
            "select p.bar_time, p.inputs, p.intents from bot_passes p join bots b on b.id = p.bot_id \
             where p.bot_id = $1 and b.user_id = $2 and p.bar_time between $3 and $4 \
             order by p.bar_time limit $5",
        )
        .bind(bot_id)
        .bind(user.user_id)
        .bind(from)
        .bind(to)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        Ok(found)
    }

    async fn prune_bot_runs(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let mut tx = self.pool().begin().await?;
        let runs =
            sqlx::query("delete from algorithm_runs where bot_id is not null and started_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?;
        sqlx::query("delete from bot_passes where created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(runs.rows_affected())
    }
}
