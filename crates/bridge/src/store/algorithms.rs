//! Algorithm configurations and runs: a user's saved parameter sets for the built-in strategies
//! (`algorithm_configs`) and the record of every execution of a strategy on one of the user's
//! accounts (`algorithm_runs`), written `running` when it starts and finished with its trades.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreError, StoreResult, UserCtx};

/// A run still executing.
pub const RUN_RUNNING: &str = "running";
/// A run that completed (its trades may still include refusals or rejections).
pub const RUN_DONE: &str = "done";
/// A run that stopped on an error.
pub const RUN_FAILED: &str = "failed";
/// A bot's pass that skipped its bar (the reason in `error`).
pub const RUN_SKIPPED: &str = "skipped";

/// The largest page `list_runs` returns.
pub const MAX_RUNS_PAGE: u32 = 500;

/// The rows `list_runs` actually reads: `limit` clamped to 1..=[`MAX_RUNS_PAGE`] + 1 (the largest
/// page and the row that tells whether another follows, `store::page`).
pub fn runs_page_size(limit: u32) -> u32 {
    super::page::rows_read(limit, MAX_RUNS_PAGE)
}

/// The largest page `list_configs` returns, and the most `ALGORITHMS_PER_USER` may be.
pub const MAX_CONFIGS_PAGE: u32 = 10_000;

/// The rows `list_configs` actually reads: `limit` clamped to 1..=[`MAX_CONFIGS_PAGE`] + 1.
pub fn configs_page_size(limit: u32) -> u32 {
    super::page::rows_read(limit, MAX_CONFIGS_PAGE)
}

/// What `create_config` did: saved the configuration, or found the user at the cap.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigCreated {
    Saved(AlgorithmConfig),
    /// The user already has `current` configurations, at least the cap; nothing was written.
    LimitReached {
        current: u64,
    },
}

/// A row of `algorithm_configs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmConfig {
    pub id: Uuid,
    pub user_id: Uuid,
    /// Unique per user.
    pub name: String,
    /// The built-in strategy it configures.
    pub kind: String,
    pub parameters: Value,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewAlgorithmConfig {
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub parameters: Value,
}

/// A partial update: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct AlgorithmConfigPatch {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub parameters: Option<Value>,
}

/// A row of `algorithm_runs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmRun {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_id: Uuid,
    /// A built-in strategy name, or a configuration's id as text.
    pub algorithm_id: String,
    pub algorithm_kind: String,
    /// The parameters the run used (a configuration may change afterwards).
    pub parameters: Value,
    pub dry_run: bool,
    /// [`RUN_RUNNING`], [`RUN_DONE`] or [`RUN_FAILED`].
    pub status: String,
    /// A JSON array: the orders the run placed (or would have placed, when dry).
    pub trades: Value,
    /// A JSON array: the intents the run did not send, with why.
    pub skipped: Value,
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub finished_at: Option<OffsetDateTime>,
    /// The bot whose pass this was (kept after the bot is deleted).
    pub bot_id: Option<Uuid>,
    /// The open time (server clock, epoch seconds) of the closed bar a bot's pass evaluated.
    pub bar_time: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewAlgorithmRun {
    pub id: Uuid,
    pub account_id: Uuid,
    pub algorithm_id: String,
    pub algorithm_kind: String,
    pub parameters: Value,
    pub dry_run: bool,
    /// A bot's pass: the bot and the open time (UTC, seconds) of the bar it evaluated (unique together).
    pub bot: Option<(Uuid, i64)>,
}

/// What a run ended with.
#[derive(Debug, Clone)]
pub struct RunFinish {
    pub status: String,
    pub trades: Value,
    pub skipped: Value,
    pub error: Option<String>,
}

/// `trades` and `skipped` are arrays; a JSON `null` is stored as the empty one, like the default.
pub(super) fn array_column(v: Value) -> Value {
    if v.is_null() {
        Value::Array(Vec::new())
    } else {
        v
    }
}

/// Why `create_run` wrote nothing.
pub(super) fn run_not_written(new: &NewAlgorithmRun) -> StoreError {
    StoreError::Database(format!(
        "algorithm run {} not written: account {} is not one of the user's accounts",
        new.id, new.account_id
    ))
}

#[async_trait]
pub trait AlgorithmStore: Send + Sync + 'static {
    /// Saves a configuration unless the user already has `max` or more: the count and the insert
    /// are one step per user, so parallel creates cannot pass the cap together. `Conflict` if the
    /// user already has one with this name (or the id is taken).
    async fn create_config(
        &self,
        user: &UserCtx,
        new: NewAlgorithmConfig,
        max: u32,
    ) -> StoreResult<ConfigCreated>;

    /// The user's configurations, oldest first by (created_at, id), strictly after the keyset
    /// cursor when one is given; `limit` is clamped by [`configs_page_size`].
    async fn list_configs(
        &self,
        user: &UserCtx,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<AlgorithmConfig>>;

    async fn get_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmConfig>>;

    /// Applies a patch; `updated_at` moves even for an empty one. `None` if the user has no such
    /// configuration; `Conflict` if the new name is taken.
    async fn update_config(
        &self,
        user: &UserCtx,
        id: Uuid,
        patch: AlgorithmConfigPatch,
    ) -> StoreResult<Option<AlgorithmConfig>>;

    /// Deletes the configuration for good. `false` if the user has no such configuration.
    async fn delete_config(&self, user: &UserCtx, id: Uuid) -> StoreResult<bool>;

    /// Records a run as `running`, started now. The account must be one of the user's (an error
    /// otherwise, as for the journal); runs of a deleted account go with it.
    async fn create_run(&self, user: &UserCtx, new: NewAlgorithmRun) -> StoreResult<AlgorithmRun>;

    /// Writes the run's outcome with `finished_at` = now. Another user's or a missing run is left
    /// alone.
    async fn finish_run(&self, user: &UserCtx, id: Uuid, finish: RunFinish) -> StoreResult<()>;

    async fn get_run(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<AlgorithmRun>>;

    /// The user's runs among `ids` (in no particular order; the others are left out).
    async fn get_runs(&self, user: &UserCtx, ids: &[Uuid]) -> StoreResult<Vec<AlgorithmRun>>;

    /// The user's runs, newest first by (started_at, id), strictly before the keyset cursor when
    /// one is given; `limit` is clamped to 1..=[`MAX_RUNS_PAGE`]. Without `bot_id` a bot's passes
    /// are left out; with it, only that bot's.
    async fn list_runs(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
        bot_id: Option<Uuid>,
    ) -> StoreResult<Vec<AlgorithmRun>>;
}
