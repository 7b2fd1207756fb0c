//! The Postgres algorithm configurations and runs.
//!
//! Every method runs like the account store's: one transaction as role `authenticated` with the
//! user's claims, so Row Level Security applies on top of the explicit `user_id` filters. Users may
//! only read runs, so `create_run` and `finish_run` write as `mt5_bridge_writer` with the same
//! claims (`PgStore::writer_tx`); configurations stay the user's own to write. The
//! trigger keeps `updated_at` current; the update sets it too so an empty patch still moves it.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::algorithms::{
    array_column, configs_page_size, run_not_written, runs_page_size, AlgorithmConfig,
    AlgorithmConfigPatch, AlgorithmRun, AlgorithmStore, ConfigCreated, NewAlgorithmConfig,
    NewAlgorithmRun, RunFinish,
};
use crate::store::{StoreResult, UserCtx};

const CONFIG_COLUMNS: &str = "id, user_id, name, kind, parameters, created_at, updated_at";

const RUN_COLUMNS: &str = "id, user_id, account_id, algorithm_id, algorithm_kind, parameters, \
     dry_run, status, trades, skipped, error, started_at, finished_at, bot_id, bar_time";

#[derive(sqlx::FromRow)]
struct PgConfig {
    id: Uuid,
    user_id: Uuid,
    name: String,
    kind: String,
    parameters: Value,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl From<PgConfig> for AlgorithmConfig {
    fn from(r: PgConfig) -> Self {
        AlgorithmConfig {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            kind: r.kind,
            parameters: r.parameters,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PgRun {
    id: Uuid,
    user_id: Uuid,
    account_id: Uuid,
    algorithm_id: String,
    algorithm_kind: String,
    parameters: Value,
    dry_run: bool,
    status: String,
    trades: Value,
    skipped: Value,
    error: Option<String>,
    started_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    bot_id: Option<Uuid>,
    bar_time: Option<i64>,
}

impl From<PgRun> for AlgorithmRun {
    fn from(r: PgRun) -> Self {
        AlgorithmRun {
            id: r.id,
            user_id: r.user_id,
            account_id: r.account_id,
            algorithm_id: r.algorithm_id,
            algorithm_kind: r.algorithm_kind,
            parameters: r.parameters,
            dry_run: r.dry_run,
            status: r.status,
            trades: r.trades,
            skipped: r.skipped,
            error: r.error,
            started_at: r.started_at,
            finished_at: r.finished_at,
            bot_id: r.bot_id,
            bar_time: r.bar_time,
        }
    }
}

#[async_trait]
impl AlgorithmStore for PgStore {
    async fn create_config(
        &self,
        user: &UserCtx,
        new: NewAlgorithmConfig,
        max: u32,
    ) -> StoreResult<ConfigCreated> {
        let mut tx = self.user_tx(user).await?;
        // One lock per user for the count and the insert (until commit): parallel creates of one
        // user count one after the other, so none passes the cap.
        sqlx::query(
            "select pg_advisory_xact_lock(hashtextextended('algorithm_configs:' || $1, 0))",
        )
        .bind(user.user_id.to_string())
        .execute(&mut *tx)
        .await?;
        let (current,): (i64,) =
            sqlx::query_as("select count(*) from algorithm_configs where user_id = $1")
                .bind(user.user_id)
                .fetch_one(&mut *tx)
                .await?;
        if current >= i64::from(max) {
            return Ok(ConfigCreated::LimitReached {
                current: current.max(0) as u64,
            });
        }
        let row: PgConfig = sqlx::query_as(&format!(
            "insert into algorithm_configs (id, user_id, name, kind, parameters) \
             values ($1, $2, $3, $4, $5) returning {CONFIG_COLUMNS}"
        ))
        .bind(new.id)
        .bind(user.user_id)
        .bind(&new.name)
        .bind(&new.kind)
        .bind(&new.parameters)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ConfigCreated::Saved(row.into()))
    }

    async fn list_configs(
        &self,
        user: &UserCtx,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<AlgorithmConfig>> {
        let (after_at, after_id) = after.unzip();
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgConfig> = sqlx::query_as(&format!(
            "select {CONFIG_COLUMNS} from algorithm_configs where user_id = $1 \
             and ($2::timestamptz is null or (created_at, id) > ($2, $3::uuid)) \
             order by created_at, id limit $4"
        ))
        .bind(user.user_id)
        .bind(after_at)
        .bind(after_id)
        .bind(i64::from(configs_page_size(limit)))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn get_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmConfig>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgConfig> = sqlx::query_as(&format!(
            "select {CONFIG_COLUMNS} from algorithm_configs where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.map(Into::into))
    }

    async fn update_config(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AlgorithmConfigPatch,
    ) -> StoreResult<Option<AlgorithmConfig>> {
        let mut tx = self.user_tx(user).await?;
        let mut qb: QueryBuilder<Postgres> =
            QueryBuilder::new("update algorithm_configs set updated_at = now()");
        if let Some(v) = patch.name {
            qb.push(", name = ").push_bind(v);
        }
        if let Some(v) = patch.kind {
            qb.push(", kind = ").push_bind(v);
        }
        if let Some(v) = patch.parameters {
            qb.push(", parameters = ").push_bind(v);
        }
        qb.push(" where id = ")
            .push_bind(id)
            .push(" and user_id = ")
            .push_bind(user.user_id)
            .push(" returning ")
            .push(CONFIG_COLUMNS);
        let found: Option<PgConfig> = qb.build_query_as().fetch_optional(&mut *tx).await?;
        tx.commit().await?;
        Ok(found.map(Into::into))
    }

    async fn delete_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.user_tx(user).await?;
        let done = sqlx::query("delete from algorithm_configs where id = $1 and user_id = $2")
            .bind(id)
            .bind(user.user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn create_run(&self, user: &UserCtx, new: NewAlgorithmRun) -> StoreResult<AlgorithmRun> {
        let mut tx = self.writer_tx(user).await?;
        // The account check keeps a user's runs to the user's own accounts (the foreign key alone
        // would accept anyone's account id, as FK checks ignore RLS).
        let row: Option<PgRun> = sqlx::query_as(&format!(
            "insert into algorithm_runs (id, user_id, account_id, algorithm_id, algorithm_kind, \
             parameters, dry_run, status, bot_id, bar_time) \
             select $1, $2, $3, $4, $5, $6, $7, 'running', $8, $9 \
             where exists (select 1 from mt5_accounts where id = $3 and user_id = $2) \
             returning {RUN_COLUMNS}"
        ))
        .bind(new.id)
        .bind(user.user_id)
        .bind(new.account_id)
        .bind(&new.algorithm_id)
        .bind(&new.algorithm_kind)
        .bind(&new.parameters)
        .bind(new.dry_run)
        .bind(new.bot.map(|b| b.0))
        .bind(new.bot.map(|b| b.1))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(run_not_written(&new));
        };
        tx.commit().await?;
        Ok(row.into())
    }

    async fn finish_run(&self, user: &UserCtx, id: Uuid, finish: RunFinish) -> StoreResult<()> {
        let mut tx = self.writer_tx(user).await?;
        sqlx::query(
            "update algorithm_runs set status = $3, trades = $4, skipped = $5, error = $6, \
             finished_at = now() where id = $1 and user_id = $2",
        )
        .bind(id)
        .bind(user.user_id)
        .bind(&finish.status)
        .bind(array_column(finish.trades))
        .bind(array_column(finish.skipped))
        .bind(finish.error.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_run(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmRun>> {
        let mut tx = self.user_tx(user).await?;
        let found: Option<PgRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs where id = $1 and user_id = $2"
        ))
        .bind(id)
        .bind(user.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.map(Into::into))
    }

    async fn get_runs(&self, user: &UserCtx, ids: &[Uuid]) -> StoreResult<Vec<AlgorithmRun>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs where id = any($1) and user_id = $2"
        ))
        .bind(ids)
        .bind(user.user_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }

    async fn list_runs(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
        bot_id: Option<Uuid>,
    ) -> StoreResult<Vec<AlgorithmRun>> {
        let (before_at, before_id) = before.unzip();
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgRun> = sqlx::query_as(&format!(
            "select {RUN_COLUMNS} from algorithm_runs where user_id = $1 \
             and ($2::timestamptz is null or (started_at, id) < ($2, $3::uuid)) \
             and (($5::uuid is null and bot_id is null) or bot_id = $5) \
             order by started_at desc, id desc limit $4"
        ))
        .bind(user.user_id)
        .bind(before_at)
        .bind(before_id)
        .bind(i64::from(runs_page_size(limit)))
        .bind(bot_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }
}
