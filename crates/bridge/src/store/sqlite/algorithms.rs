//! The SQLite algorithm configurations and runs.
//!
//! The same contract as Postgres without RLS: every query filters by `user_id`. Each write is one
//! statement, so it needs no explicit transaction; `create_run` checks the account's owner in the
//! insert itself. Timestamps are written by the application in the store's fixed-width microsecond
//! format, and `updated_at` is set here since SQLite has no trigger for it.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{fmt_ts, now, parse_ts, parse_uuid, SqliteStore};
use crate::store::algorithms::{
    array_column, configs_page_size, run_not_written, runs_page_size, AlgorithmConfig,
    AlgorithmConfigPatch, AlgorithmRun, AlgorithmStore, ConfigCreated, NewAlgorithmConfig,
    NewAlgorithmRun, RunFinish,
};
use crate::store::{StoreError, StoreResult, UserCtx};

const CONFIG_COLUMNS: &str = "id, user_id, name, kind, parameters, created_at, updated_at";

const RUN_COLUMNS: &str = "id, user_id, account_id, algorithm_id, algorithm_kind, parameters, \
     dry_run, status, trades, skipped, error, started_at, finished_at, bot_id, bar_time";

fn parse_json(s: &str, what: &str) -> StoreResult<Value> {
    serde_json::from_str(s).map_err(|e| StoreError::Database(format!("bad stored {what}: {e}")))
}

fn json_text(v: &Value, what: &str) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Database(format!("{what}: {e}")))
}

#[derive(sqlx::FromRow)]
struct LiteConfig {
    id: String,
    user_id: String,
    name: String,
    kind: String,
    parameters: String,
    created_at: String,
    updated_at: String,
}

impl LiteConfig {
    fn into_config(self) -> StoreResult<AlgorithmConfig> {
        Ok(AlgorithmConfig {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            name: self.name,
            kind: self.kind,
            parameters: parse_json(&self.parameters, "parameters")?,
            created_at: parse_ts(&self.created_at)?,
            updated_at: parse_ts(&self.updated_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct LiteRun {
    id: String,
    user_id: String,
    account_id: String,
    algorithm_id: String,
    algorithm_kind: String,
    parameters: String,
    dry_run: bool,
    status: String,
    trades: String,
    skipped: String,
    error: Option<String>,
    started_at: String,
    finished_at: Option<String>,
    bot_id: Option<String>,
    bar_time: Option<i64>,
}

impl LiteRun {
    fn into_run(self) -> StoreResult<AlgorithmRun> {
        Ok(AlgorithmRun {
            id: parse_uuid(&self.id)?,
            user_id: parse_uuid(&self.user_id)?,
            account_id: parse_uuid(&self.account_id)?,
            algorithm_id: self.algorithm_id,
            algorithm_kind: self.algorithm_kind,
            parameters: parse_json(&self.parameters, "parameters")?,
            dry_run: self.dry_run,
            status: self.status,
            trades: parse_json(&self.trades, "trades")?,
            skipped: parse_json(&self.skipped, "skipped")?,
            error: self.error,
            started_at: parse_ts(&self.started_at)?,
            finished_at: self.finished_at.as_deref().map(parse_ts).transpose()?,
            bot_id: self.bot_id.as_deref().map(parse_uuid).transpose()?,
            bar_time: self.bar_time,
        })
    }
}

#[async_trait]
impl AlgorithmStore for SqliteStore {
    async fn create_config(
        &self,
        user: &UserCtx,
        new: NewAlgorithmConfig,
        max: u32,
    ) -> StoreResult<ConfigCreated> {
        let at = fmt_ts(now())?;
        // `BEGIN IMMEDIATE` takes the write lock before the count: parallel creates of one user
        // count one after the other, so none passes the cap.
        let mut tx = self.write_tx().await?;
        let (current,): (i64,) =
            sqlx::query_as("select count(*) from algorithm_configs where user_id = ?1")
                .bind(user.user_id.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if current >= i64::from(max) {
            return Ok(ConfigCreated::LimitReached {
                current: current.max(0) as u64,
            });
        }
        let row: LiteConfig = sqlx::query_as(&format!(
            "insert into algorithm_configs (id, user_id, name, kind, parameters, created_at, \
             updated_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?6) returning {CONFIG_COLUMNS}"
        ))
        .bind(new.id.to_string())
        .bind(user.user_id.to_string())
        .bind(&new.name)
        .bind(&new.kind)
        .bind(json_text(&new.parameters, "parameters")?)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ConfigCreated::Saved(row.into_config()?))
    }

    async fn list_configs(
        &self,
        user: &UserCtx,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<AlgorithmConfig>> {
        let (after_at, after_id) = match after {
            Some((at, id)) => (Some(fmt_ts(at)?), Some(id.to_string())),
            None => (None, None),
        };
        let found: Vec<LiteConfig> = sqlx::query_as(&format!(
            "select {CONFIG_COLUMNS} from algorithm_configs where user_id = ?1 \
             and (?2 is null or (created_at, id) > (?2, ?3)) \
             order by created_at, id limit ?4"
        ))
        .bind(user.user_id.to_string())
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(configs_page_size(limit)))
        .fetch_all(self.pool())
        .await?;
        found.into_iter().map(LiteConfig::into_config).collect()
    }

    async fn get_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmConfig>> {
        let found: Option<LiteConfig> = sqlx::query_as(&format!(
            "select {CONFIG_COLUMNS} from algorithm_configs where id = ?1 and user_id = ?2"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        found.map(LiteConfig::into_config).transpose()
    }

    async fn update_config(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AlgorithmConfigPatch,
    ) -> StoreResult<Option<AlgorithmConfig>> {
        let mut qb: QueryBuilder<Sqlite> =
            QueryBuilder::new("update algorithm_configs set updated_at = ");
        qb.push_bind(fmt_ts(now())?);
        if let Some(v) = patch.name {
            qb.push(", name = ").push_bind(v);
        }
        if let Some(v) = patch.kind {
            qb.push(", kind = ").push_bind(v);
        }
        if let Some(v) = patch.parameters {
            qb.push(", parameters = ")
                .push_bind(json_text(&v, "parameters")?);
        }
        qb.push(" where id = ")
            .push_bind(id.to_string())
            .push(" and user_id = ")
            .push_bind(user.user_id.to_string())
            .push(" returning ")
            .push(CONFIG_COLUMNS);
        let found: Option<LiteConfig> = qb.build_query_as().fetch_optional(self.pool()).await?;
        found.map(LiteConfig::into_config).transpose()
    }

    async fn delete_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("delete from algorithm_configs where id = ?1 and user_id = ?2")
            .bind(id.to_string())
            .bind(user.user_id.to_string())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_run(&self, user: &UserCtx, new: NewAlgorithmRun) -> StoreResult<AlgorithmRun> {
        // The account check keeps a user's runs to the user's own accounts.
        let row: Option<LiteRun> = sqlx::query_as(&format!(
            "insert into algorithm_runs (id, user_id, account_id, algorithm_id, algorithm_kind, \
             parameters, dry_run, status, started_at, bot_id, bar_time) \
             select ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'running', ?8, ?9, ?10 \
             where exists (select 1 from mt5_accounts where id = ?3 and user_id = ?2) \
             returning {RUN_COLUMNS}"
        ))
        .bind(new.id.to_string())
        .bind(user.user_id.to_string())
        .bind(new.account_id.to_string())
        .bind(&new.algorithm_id)
        .bind(&new.algorithm_kind)
        .bind(json_text(&new.parameters, "parameters")?)
        .bind(new.dry_run)
        .bind(fmt_ts(now())?)
        .bind(new.bot.map(|b| b.0.to_string()))
        .bind(new.bot.map(|b| b.1))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => row.into_run(),
            None => Err(run_not_written(&new)),
        }
    }

    async fn finish_run(&self, user: &UserCtx, id: Uuid, finish: RunFinish) -> StoreResult<()> {
        sqlx::query(
            "update algorithm_runs set status = ?3, trades = ?4, skipped = ?5, error = ?6, \
             finished_at = ?7 where id = ?1 and user_id = ?2",
        )
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .bind(&finish.status)
        .bind(json_text(&array_column(finish.trades), "trades")?)
        .bind(json_text(&array_column(finish.skipped), "skipped")?)
        .bind(finish.error.as_deref())
        .bind(fmt_ts(now())?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn get_run(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmRun>> {
        let found: Option<LiteRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs where id = ?1 and user_id = ?2"
        ))
        .bind(id.to_string())
        .bind(user.user_id.to_string())
        .fetch_optional(self.pool())
        .await?;
        found.map(LiteRun::into_run).transpose()
    }

    async fn get_runs(&self, user: &UserCtx, ids: &[Uuid]) -> StoreResult<Vec<AlgorithmRun>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let found: Vec<LiteRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs \
             where id in (select value from json_each(?1)) and user_id = ?2"
        ))
        .bind(serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into()))
        .bind(user.user_id.to_string())
        .fetch_all(self.pool())
        .await?;
        found.into_iter().map(LiteRun::into_run).collect()
    }

    async fn list_runs(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
        bot_id: Option<Uuid>,
    ) -> StoreResult<Vec<AlgorithmRun>> {
        let (before_at, before_id) = match before {
            Some((at, id)) => (Some(fmt_ts(at)?), Some(id.to_string())),
            None => (None, None),
        };
        let found: Vec<LiteRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs where user_id = ?1 \
             and (?2 is null or (started_at, id) < (?2, ?3)) \
             and ((?5 is null and bot_id is null) or bot_id = ?5) \
             order by started_at desc, id desc limit ?4"
        ))
        .bind(user.user_id.to_string())
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(runs_page_size(limit)))
        .bind(bot_id.map(|b| b.to_string()))
        .fetch_all(self.pool())
        .await?;
        found.into_iter().map(LiteRun::into_run).collect()
    }
}
