//! Backtests and their queue: a user's requests (`backtests`) and what each combination came to
//! (`backtest_results`), both read-only for users; the units of work (`backtest_jobs`), claimed by
//! workers under leases; the daily budget of bar-evaluations (`backtest_budget`); and the bars read
//! from the brokers (`bar_cache`). The last three are the service's own data (docs/database.md).

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreResult, UserCtx};

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const CANCELED: &str = "canceled";

/// The largest page `list_backtests` returns.
pub const MAX_BACKTESTS_PAGE: u32 = 200;

/// A row of `backtests`.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub status: String,
    pub request: Value,
    pub combinations: u32,
    pub rank_by: Option<String>,
    pub work: u64,
    pub progress: f64,
    pub history_start: Option<OffsetDateTime>,
    pub error: Option<Value>,
    pub created_at: OffsetDateTime,
    pub started_at: Option<OffsetDateTime>,
    pub finished_at: Option<OffsetDateTime>,
}

/// A new backtest with its combinations' parameters (index = combination).
#[derive(Debug, Clone)]
pub struct NewBacktest {
    pub id: Uuid,
    pub account_id: Uuid,
    pub request: Value,
    pub combinations: Vec<Value>,
    pub rank_by: Option<String>,
    pub work: u64,
}

/// The daily budget a submission is held to.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bar-evaluations a user may spend per UTC day.
    pub per_day: u64,
    /// Backtests kept per user: the oldest finished beyond it are removed.
    pub kept: u32,
}

/// What `create_backtest` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Queued(Box<BacktestRow>),
    /// The day's budget would be passed: `used` of it is spent, nothing was written.
    OverBudget {
        used: u64,
    },
}

/// One combination's outcome (`report` without trades and curve).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSummary {
    pub combination: u32,
    pub parameters: Value,
    pub report: Value,
    pub history_start: Option<OffsetDateTime>,
    pub notes: Value,
}

/// What `DELETE` did to a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// It was queued or running: now `canceled`, its units stopped, no results kept.
    Canceled,
    /// It had finished: gone with its results.
    Deleted,
    NotFound,
}

/// A unit of work as a worker claimed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub backtest_id: Uuid,
    pub combination: u32,
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub request: Value,
    pub parameters: Value,
    pub combinations: u32,
    /// The claim number every write of this unit names.
    pub claim: i64,
    /// Earlier runs of it that ended on an outage and were queued again.
    pub attempts: u32,
}

/// What a finished unit stores.
#[derive(Debug, Clone)]
pub struct UnitResult {
    pub report: Value,
    pub trades: Value,
    pub equity: Value,
    pub history_start: Option<OffsetDateTime>,
    pub notes: Value,
    /// The normalized request with what the run learned (the account's terms, history start).
    pub request: Value,
}

/// A chunk of the bar cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedChunk {
    pub bars: Vec<u8>,
    /// Server time (seconds) up to which the chunk's bars had closed when it was read.
    pub final_until: i64,
}

#[async_trait]
pub trait BacktestStore: Send + Sync + 'static {
    /// Records a backtest and queues a unit per combination, spending `new.work` of the user's
    /// budget for today (UTC) unless that would pass `budget.per_day`; then removes the user's
    /// oldest finished backtests beyond `budget.kept`. The account must be one of the user's.
    async fn create_backtest(
        &self,
        user: &UserCtx,
        new: NewBacktest,
        budget: Budget,
    ) -> StoreResult<Created>;

    async fn get_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BacktestRow>>;

    /// The user's backtests, newest first by (created_at, id), strictly before the cursor.
    async fn list_backtests(
        &self,
        user: &UserCtx,
        before: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BacktestRow>>;

    /// The finished combinations of a backtest, by combination.
    async fn backtest_results(&self, user: &UserCtx, id: Uuid) -> StoreResult<Vec<ResultSummary>>;

    /// One combination's trades and equity curve (JSON arrays), if stored.
    async fn backtest_detail(
        &self,
        user: &UserCtx,
        id: Uuid,
        combination: u32,
    ) -> StoreResult<Option<(Value, Value)>>;

    /// Cancels a queued or running backtest, or deletes a finished one.
    async fn remove_backtest(&self, user: &UserCtx, id: Uuid) -> StoreResult<Removed>;

    /// Service: queues again the units whose lease ran out, then claims the next queued unit for
    /// `worker` (from the user with the fewest units running, then the one served longest ago),
    /// leased for `lease_ms`.
    async fn claim_unit(&self, worker: &str, lease_ms: i64) -> StoreResult<Option<Unit>>;

    /// Service: renews the unit's lease and records its progress (0..=1). `false` when the claim is
    /// no longer the latest or the unit is no longer running (canceled, lease lost): the worker
    /// must stop and write nothing more.
    async fn renew_unit(&self, unit: &Unit, lease_ms: i64, progress: f64) -> StoreResult<bool>;

    /// Service: stores the unit's result under its claim; the backtest is `done` when its last
    /// unit is. `false` (nothing written) when the claim is no longer the latest.
    async fn finish_unit(&self, unit: &Unit, result: UnitResult) -> StoreResult<bool>;

    /// Service: queues the unit again, not to be taken for `delay_ms`, counting the attempt (an
    /// outage ended its run). `false` when the claim is no longer the latest.
    async fn retry_unit(&self, unit: &Unit, delay_ms: i64) -> StoreResult<bool>;

    /// Service: fails the unit's backtest with `error` (its other units canceled), under the claim.
    async fn fail_unit(&self, unit: &Unit, error: Value) -> StoreResult<bool>;

    /// Service: a chunk of bars, marked used now.
    async fn cached_bars(
        &self,
        server: &str,
        symbol: &str,
        timeframe: &str,
        chunk: i64,
    ) -> StoreResult<Option<CachedChunk>>;

    /// Service: stores a chunk, then trims the cache to `max_bytes`, least recently used first.
    async fn cache_bars(
        &self,
        server: &str,
        symbol: &str,
        timeframe: &str,
        chunk: i64,
        data: CachedChunk,
        max_bytes: u64,
    ) -> StoreResult<()>;
}

/// The units of one backtest's progress: done units count whole, running ones their share.
pub fn overall_progress(done: u64, running: f64, combinations: u32) -> f64 {
    ((done as f64 + running) / f64::from(combinations.max(1))).clamp(0.0, 1.0)
}
