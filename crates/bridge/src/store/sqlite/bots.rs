//! The SQLite bots: the Postgres store's behaviour with this tree's conventions. Every change that
//! counts or compares bots runs in one `BEGIN IMMEDIATE` transaction (one writer at a time), which
//! does for SQLite what the user's advisory lock does for Postgres. `due_at` and `lease_until` are
//! Unix milliseconds.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{fmt_ts, now, parse_ts, parse_uuid, SqliteStore};
use crate::store::bots::{
    BotLimits, BotRow, BotStore, BotWrite, NewBot, PassRecord, Transition, MAGIC_MIN,
    MAX_BOTS_PAGE, PAUSED, RUNNING, STOPPED,
};
use crate::store::{page, StoreError, StoreResult, UserCtx};

const COLUMNS: &str = "id, user_id, account_id, name, algorithm_id, algorithm_kind, parameters, \
     symbol, timeframe, dry_run, confirm_live, magic, netting, state, state_reason, last_bar_time, \
     due_at, passes, trades, skipped_bars, missed_bars, refused_bars, last_run_id, \
     last_skip_reason, open_positions, created_at, updated_at";

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn from_ms(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn parse_json(s: &str, what: &str) -> StoreResult<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("bad stored {what}: {e}")))
}

fn text(v: &Value) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(e.to_string()))
}

#[derive(sqlx::FromRow)]
struct LiteBot {
    id: String,
    user_id: String,
    account_id: String,
    name: String,
    algorithm_id: String,
    algorithm_kind: String,
    parameters: String,
    symbol: String,
    timeframe: String,
    dry_run: bool,
    confirm_live: bool,
    magic: i64,
    netting: bool,
    state: String,
    state_reason: Option<String>,
    last_bar_time: Option<i64>,
    due_at: i64,
    passes: i64,
    trades: i64,
    skipped_bars: i64,
    missed_bars: i64,
    refused_bars: i32,
    last_run_id: Option<String>,
    last_skip_reason: Option<String>,
    open_positions: Option<String>,
    created_at: String,
    updated_at: String,
}

impl LiteBot {
    fn into_row(self) -> StoreResult<BotRow> {
        Ok(BotRow {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            account_id: parse_uuid(&self.account_id)?,
            name: self.name,
            algorithm_id: self.algorithm_id,
            algorithm_kind: self.algorithm_kind,
            parameters: parse_json(&self.parameters, "parameters")?,
            symbol: self.symbol,
            timeframe: self.timeframe,
            dry_run: self.dry_run,
            confirm_live: self.confirm_live,
            magic: self.magic,
            netting: self.netting,
            state: self.state,
            state_reason: self.state_reason,
            last_bar_time: self.last_bar_time,
            due_at: from_ms(self.due_at),
            passes: self.passes,
            trades: self.trades,
            skipped_bars: self.skipped_bars,
            missed_bars: self.missed_bars,
            refused_bars: self.refused_bars,
            last_run_id: self.last_run_id.as_deref().map(parse_uuid).transpose()?,
            last_skip_reason: self.last_skip_reason,
            open_positions: self
                .open_positions
                .as_deref()
                .map(|s| parse_json(s, "open_positions"))
                .transpose()?,
            created_at: parse_ts(&self.created_at)?,
            updated_at: parse_ts(&self.updated_at)?,
        })
    }
}

fn rows(v: Vec<LiteBot>) -> StoreResult<Vec<BotRow>> {
    v.into_iter().map(LiteBot::into_row).collect()
}

async fn symbol_holder(
    tx: &mut Transaction<'static, Sqlite>,
    account_id: Uuid,
    symbol: &str,
    except: Uuid,
) -> StoreResult<Option<Uuid>> {
    let found: Option<(String,)> = sqlx::query_as(
        "select id from bots where account_id = ?1 and symbol = ?2 and id <> ?3 \
         and state in ('running', 'paused') limit 1",
    )
    .bind(account_id.to_string())
    .bind(symbol)
    .bind(except.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    found.map(|f| parse_uuid(&f.0)).transpose()
}

async fn bot_in(
    tx: &mut Transaction<'static, Sqlite>,
    user_id: Uuid,
    id: Uuid,
) -> StoreResult<Option<BotRow>> {
    let found: Option<LiteBot> = sqlx::query_as(&format!(
        "select {COLUMNS} from bots where id = ?1 and user_id = ?2"
    ))
    .bind(id.to_string())
    .bind(user_id.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    found.map(LiteBot::into_row).transpose()
}

#[async_trait]
impl BotStore for SqliteStore {
    async fn create_bot(
        &self,
        user: &UserCtx,
        new: NewBot,
        limits: BotLimits,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.write_tx().await?;
        let (of_user, of_account, next_magic): (i64, i64, Option<i64>) = sqlx::query_as(
            "select count(*), coalesce(sum(account_id = ?2), 0), \
                    max(case when account_id = ?2 then magic end) \
             from bots where user_id = ?1",
        )
        .bind(user.user_id.to_string())
        .bind(new.account_id.to_string())
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
        let at = fmt_ts(now())?;
        let row: Option<LiteBot> = sqlx::query_as(&format!(
            "insert into bots (id, user_id, account_id, name, algorithm_id, algorithm_kind, \
             parameters, symbol, timeframe, dry_run, confirm_live, magic, netting, due_at, \
             created_at, updated_at) \
             select ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15 \
             where exists (select 1 from mt5_accounts where id = ?3 and user_id = ?2 \
             and is_active = 1) returning {COLUMNS}"
        ))
        .bind(new.id.to_string())
        .bind(user.user_id.to_string())
        .bind(new.account_id.to_string())
        .bind(&new.name)
        .bind(&new.algorithm_id)
        .bind(&new.algorithm_kind)
        .bind(text(&new.parameters)?)
        .bind(&new.symbol)
        .bind(&new.timeframe)
        .bind(new.dry_run)
        .bind(new.confirm_live)
        .bind(magic)
        .bind(new.netting)
        .bind(0_i64)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Database(format!(
                "bot not written: account {} is not one of the user's accounts",
                new.account_id
            )));
        };
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into_row()?)))
    }

    async fn get_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BotRow>> {
        let found: Option<LiteBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where id = ?1 and user_id = ?2"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        found.map(LiteBot::into_row).transpose()
    }

    async fn list_bots(
        &self,
        user: &UserCtx,
        account_id: Option<Uuid>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BotRow>> {
        let (after_at, after_id) = match after {
            Some((at, id)) => (Some(fmt_ts(at)?), Some(id.to_string())),
            None => (None, None),
        };
        let found: Vec<LiteBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where user_id = ?1 \
             and (?2 is null or account_id = ?2) \
             and (?3 is null or (created_at, id) > (?3, ?4)) \
             order by created_at, id limit ?5"
        ))
        .bind(user.user_id.to_string())
        .bind(account_id.map(|a| a.to_string()))
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(page::rows_read(limit, MAX_BOTS_PAGE)))
        .fetch_all(self.pool())
        .await?;
        rows(found)
    }

    async fn update_bot_parameters(
        &self,
        user: &UserCtx,
        id: Uuid,
        parameters: Value,
        symbol: &str,
        timeframe: &str,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.write_tx().await?;
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
        let row: LiteBot = sqlx::query_as(&format!(
            "update bots set parameters = ?3, symbol = ?4, timeframe = ?5, updated_at = ?6 \
             where id = ?1 and user_id = ?2 returning {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .bind(text(&parameters)?)
        .bind(symbol)
        .bind(timeframe)
        .bind(fmt_ts(now())?)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into_row()?)))
    }

    async fn transition_bot(
        &self,
        user: &UserCtx,
        id: Uuid,
        t: Transition<'_>,
    ) -> StoreResult<BotWrite> {
        let mut tx = self.write_tx().await?;
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
        let row: LiteBot = sqlx::query_as(&format!(
            "update bots set state = ?3, state_reason = ?4, updated_at = ?5, \
             refused_bars = case when ?6 then 0 else refused_bars end, \
             due_at = case when ?6 then ?7 else due_at end \
             where id = ?1 and user_id = ?2 returning {COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .bind(t.to)
        .bind(t.reason)
        .bind(fmt_ts(now())?)
        .bind(resume)
        .bind(0_i64)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BotWrite::Done(Box::new(row.into_row()?)))
    }

    async fn set_bot_open_positions(
        &self,
        user: &UserCtx,
        id: Uuid,
        positions: Option<Value>,
    ) -> StoreResult<()> {
        sqlx::query(
            "update bots set open_positions = ?3, updated_at = ?4 where id = ?1 and user_id = ?2",
        )
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .bind(positions.as_ref().map(text).transpose()?)
        .bind(fmt_ts(now())?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn delete_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<BotWrite> {
        let mut tx = self.write_tx().await?;
        let Some(bot) = bot_in(&mut tx, user.user_id, id).await? else {
            return Ok(BotWrite::NotFound);
        };
        if bot.state != STOPPED {
            return Ok(BotWrite::WrongState(Box::new(bot)));
        }
        sqlx::query("delete from bots where id = ?1 and user_id = ?2 and state = 'stopped'")
            .bind(id.to_string())
            .bind(user.user_id.to_string())
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
        let ids: Vec<(String,)> = sqlx::query_as(
            "update bots set state = 'paused', state_reason = ?3, updated_at = ?4 \
             where user_id = ?1 and (?2 is null or account_id = ?2) \
             and state = 'running' returning id",
        )
        .bind(user.user_id.to_string())
        .bind(account_id.map(|a| a.to_string()))
        .bind(reason)
        .bind(fmt_ts(now())?)
        .fetch_all(self.pool())
        .await?;
        ids.iter().map(|i| parse_uuid(&i.0)).collect()
    }

    async fn stop_account_bots(
        &self,
        user: &UserCtx,
        account_id: Uuid,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>> {
        let ids: Vec<(String,)> = sqlx::query_as(
            "update bots set state = 'stopped', state_reason = ?3, updated_at = ?4 \
             where user_id = ?1 and account_id = ?2 and state <> 'stopped' returning id",
        )
        .bind(user.user_id.to_string())
        .bind(account_id.to_string())
        .bind(reason)
        .bind(fmt_ts(now())?)
        .fetch_all(self.pool())
        .await?;
        ids.iter().map(|i| parse_uuid(&i.0)).collect()
    }

    async fn due_bots(&self, at: OffsetDateTime, limit: u32) -> StoreResult<Vec<BotRow>> {
        let found: Vec<LiteBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where state = 'running' and due_at <= ?1 \
             order by due_at limit ?2"
        ))
        .bind(ms(at))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows(found)
    }

    async fn claim_wave(
        &self,
        account_id: Uuid,
        replica: &str,
        lease_ms: i64,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Vec<BotRow>>> {
        let mut tx = self.write_tx().await?;
        let t = ms(now());
        let claimed = sqlx::query(
            "insert into bot_waves (account_id, replica, lease_until) values (?1, ?2, ?3) \
             on conflict (account_id) do update set replica = excluded.replica, \
               lease_until = excluded.lease_until \
             where bot_waves.lease_until < ?4 or bot_waves.replica = excluded.replica",
        )
        .bind(account_id.to_string())
        .bind(replica)
        .bind(t.saturating_add(lease_ms))
        .bind(t)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        let bots: Vec<LiteBot> = sqlx::query_as(&format!(
            "select {COLUMNS} from bots where account_id = ?1 and state = 'running' \
             and due_at <= ?2 order by created_at, id"
        ))
        .bind(account_id.to_string())
        .bind(ms(at))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows(bots).map(Some)
    }

    async fn renew_wave(
        &self,
        account_id: Uuid,
        replica: &str,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "update bot_waves set lease_until = ?3 where account_id = ?1 and replica = ?2",
        )
        .bind(account_id.to_string())
        .bind(replica)
        .bind(ms(now()).saturating_add(lease_ms))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_wave(&self, account_id: Uuid, replica: &str) -> StoreResult<()> {
        sqlx::query("delete from bot_waves where account_id = ?1 and replica = ?2")
            .bind(account_id.to_string())
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
        let mut tx = self.write_tx().await?;
        let at = fmt_ts(now())?;
        let moved = sqlx::query(
            "update bots set last_bar_time = ?2, passes = passes + 1, \
             missed_bars = missed_bars + ?3, updated_at = ?4 \
             where id = ?1 and state = 'running' \
             and (last_bar_time is null or last_bar_time < ?2)",
        )
        .bind(bot.id.to_string())
        .bind(bar_time)
        .bind(missed.max(0))
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(false);
        }
        let inserted = sqlx::query(
            "insert into bot_passes (bot_id, bar_time, replica, inputs, created_at) \
             values (?1, ?2, ?3, ?4, ?5) on conflict do nothing",
        )
        .bind(bot.id.to_string())
        .bind(bar_time)
        .bind(replica)
        .bind(text(&inputs)?)
        .bind(&at)
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
        let mut tx = self.write_tx().await?;
        if let Some(bar) = bar_time {
            sqlx::query(
                "update bot_passes set intents = ?3, run_id = ?4 where bot_id = ?1 and bar_time = ?2",
            )
            .bind(bot.id.to_string())
            .bind(bar)
            .bind(text(&record.intents)?)
            .bind(record.run_id.map(|r| r.to_string()))
            .execute(&mut *tx)
            .await?;
        }
        let (state, reason) = record.state.clone().unzip();
        let row: Option<LiteBot> = sqlx::query_as(&format!(
            "update bots set trades = trades + ?2, \
             skipped_bars = skipped_bars + case when ?3 then 1 else 0 end, \
             last_skip_reason = case when ?3 then ?4 else last_skip_reason end, \
             refused_bars = case when ?5 is null then refused_bars \
                                 when ?5 then refused_bars + 1 else 0 end, \
             last_run_id = coalesce(?6, last_run_id), \
             due_at = ?7, \
             state = case when ?8 is not null and state = 'running' then ?8 else state end, \
             state_reason = case when ?8 is not null and state = 'running' then ?9 \
                                 else state_reason end, \
             updated_at = ?10 where id = ?1 returning {COLUMNS}"
        ))
        .bind(bot.id.to_string())
        .bind(record.trades)
        .bind(record.skipped)
        .bind(record.skip_reason.as_deref())
        .bind(record.refused)
        .bind(record.run_id.map(|r| r.to_string()))
        .bind(ms(record.due_at))
        .bind(state)
        .bind(reason)
        .bind(fmt_ts(now())?)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        row.map(LiteBot::into_row).transpose()
    }

    async fn bot_in_doubt(&self, bot_id: Uuid) -> StoreResult<bool> {
        let (found,): (bool,) = sqlx::query_as(
            "select exists (select 1 from trade_journal j join algorithm_runs r on j.run_id = r.id \
             where r.bot_id = ?1 and j.status in ('pending', 'unknown'))",
        )
        .bind(bot_id.to_string())
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
        let found: Vec<(i64, String, String)> = sqlx::query_as(
            "select p.bar_time, p.inputs, p.intents from bot_passes p join bots b on b.id = p.bot_id \
             where p.bot_id = ?1 and b.user_id = ?2 and p.bar_time between ?3 and ?4 \
             order by p.bar_time limit ?5",
        )
        .bind(bot_id.to_string())
        .bind(user.user_id.to_string())
        .bind(from)
        .bind(to)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        found
            .into_iter()
            .map(|(t, i, d)| Ok((t, parse_json(&i, "inputs")?, parse_json(&d, "intents")?)))
            .collect()
    }

    async fn prune_bot_runs(&self, before: OffsetDateTime) -> StoreResult<u64> {
        let mut tx = self.write_tx().await?;
        let cut = fmt_ts(before)?;
        let runs =
            sqlx::query("delete from algorithm_runs where bot_id is not null and started_at < ?1")
                .bind(&cut)
                .execute(&mut *tx)
                .await?;
        sqlx::query("delete from bot_passes where created_at < ?1")
            .bind(&cut)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(runs.rows_affected())
    }
}
