//! Bots (`bots`): a strategy that runs on every closed bar of one of the user's accounts, read-only
//! for users and written by the service as the writer; their passes (`bot_passes`, the exactly-once
//! claim per (bot, bar), with each pass's inputs) and the per-account wave leases (`bot_waves`),
//! the service's own data (docs/bots.md, docs/database.md).

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{StoreResult, UserCtx};

pub const RUNNING: &str = "running";
pub const PAUSED: &str = "paused";
pub const STOPPED: &str = "stopped";
pub const FAULTED: &str = "faulted";

/// The lowest magic number a bot may get; bots' numbers stay below 2^31.
pub const MAGIC_MIN: i64 = 2_000_000_000;
/// One past the highest.
pub const MAGIC_END: i64 = 1 << 31;

/// The largest page `list_bots` returns.
pub const MAX_BOTS_PAGE: u32 = 200;

/// A row of `bots`.
#[derive(Debug, Clone, PartialEq)]
pub struct BotRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub algorithm_id: String,
    pub algorithm_kind: String,
    pub parameters: Value,
    pub symbol: String,
    pub timeframe: String,
    pub dry_run: bool,
    pub confirm_live: bool,
    pub magic: i64,
    pub netting: bool,
    pub state: String,
    pub state_reason: Option<String>,
    /// Open time (server clock, epoch seconds) of the last closed bar evaluated.
    pub last_bar_time: Option<i64>,
    /// From when (UTC) the scheduler looks at the bot again.
    pub due_at: OffsetDateTime,
    pub passes: i64,
    pub trades: i64,
    pub skipped_bars: i64,
    pub missed_bars: i64,
    pub refused_bars: i32,
    pub last_run_id: Option<Uuid>,
    pub last_skip_reason: Option<String>,
    pub open_positions: Option<Value>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct NewBot {
    pub id: Uuid,
    pub account_id: Uuid,
    pub name: String,
    pub algorithm_id: String,
    pub algorithm_kind: String,
    pub parameters: Value,
    pub symbol: String,
    pub timeframe: String,
    pub dry_run: bool,
    pub confirm_live: bool,
    pub netting: bool,
}

/// BOTS_PER_USER and BOTS_PER_ACCOUNT.
#[derive(Debug, Clone, Copy)]
pub struct BotLimits {
    pub per_user: u32,
    pub per_account: u32,
}

/// What a write to a bot came to.
#[derive(Debug, Clone, PartialEq)]
pub enum BotWrite {
    Done(Box<BotRow>),
    NotFound,
    /// The bot is not in a state the change applies to (nothing written).
    WrongState(Box<BotRow>),
    /// On a netting account another running or paused bot trades the symbol.
    SymbolTaken {
        bot_id: Uuid,
    },
    /// BOTS_PER_USER (`"BOTS_PER_USER"`) or BOTS_PER_ACCOUNT was reached.
    LimitReached {
        name: &'static str,
        limit: u32,
        current: u64,
    },
}

/// A state change: to `to` (with `reason`) from one of `from`. Entering `running` or `paused`
/// checks the symbol on a netting account; entering `running` makes the bot due now and forgets
/// its refused bars.
#[derive(Debug, Clone, Copy)]
pub struct Transition<'a> {
    pub to: &'a str,
    pub reason: Option<&'a str>,
    pub from: &'a [&'a str],
}

/// What one pass did to a bot's counters (and maybe its state).
#[derive(Debug, Clone)]
pub struct PassRecord {
    pub trades: i64,
    /// The bar was skipped (with `skip_reason`).
    pub skipped: bool,
    pub skip_reason: Option<String>,
    /// `Some(true)`: the bar's orders were all refused (one more refused bar); `Some(false)`: an
    /// order went through (the count starts again); `None`: no order was tried.
    pub refused: Option<bool>,
    pub run_id: Option<Uuid>,
    pub intents: Value,
    /// A state the pass leads to (`faulted`, `paused`, `stopped`), with its reason.
    pub state: Option<(&'static str, String)>,
    pub due_at: OffsetDateTime,
}

impl Default for PassRecord {
    fn default() -> Self {
        PassRecord {
            trades: 0,
            skipped: false,
            skip_reason: None,
            refused: None,
            run_id: None,
            intents: Value::Array(Vec::new()),
            state: None,
            due_at: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

#[async_trait]
pub trait BotStore: Send + Sync + 'static {
    /// Creates a running bot with the next free magic number of the account, unless the user or
    /// the account is at its limit or, on a netting account, another running or paused bot trades
    /// the symbol. One step per user: parallel creates cannot pass a limit together.
    async fn create_bot(
        &self,
        user: &UserCtx,
        new: NewBot,
        limits: BotLimits,
    ) -> StoreResult<BotWrite>;

    async fn get_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<BotRow>>;

    /// The user's bots, oldest first by (created_at, id), strictly after the cursor; optionally of
    /// one account.
    async fn list_bots(
        &self,
        user: &UserCtx,
        account_id: Option<Uuid>,
        after: Option<(OffsetDateTime, Uuid)>,
        limit: u32,
    ) -> StoreResult<Vec<BotRow>>;

    /// New parameters (and the symbol and timeframe they name), for a bot not stopped.
    async fn update_bot_parameters(
        &self,
        user: &UserCtx,
        id: Uuid,
        parameters: Value,
        symbol: &str,
        timeframe: &str,
    ) -> StoreResult<BotWrite>;

    async fn transition_bot(
        &self,
        user: &UserCtx,
        id: Uuid,
        t: Transition<'_>,
    ) -> StoreResult<BotWrite>;

    /// After a stop whose closes failed: the positions left open (null: none).
    async fn set_bot_open_positions(
        &self,
        user: &UserCtx,
        id: Uuid,
        positions: Option<Value>,
    ) -> StoreResult<()>;

    /// Deletes a stopped bot (its runs keep their `bot_id`).
    async fn delete_bot(&self, user: &UserCtx, id: Uuid) -> StoreResult<BotWrite>;

    /// The kill switch: every running bot of the user (of one account when given) paused with
    /// `reason`; returns those paused.
    async fn pause_bots(
        &self,
        user: &UserCtx,
        account_id: Option<Uuid>,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>>;

    /// Every bot of the account not stopped yet, stopped with `reason` (the account was deleted);
    /// returns those stopped.
    async fn stop_account_bots(
        &self,
        user: &UserCtx,
        account_id: Uuid,
        reason: &str,
    ) -> StoreResult<Vec<Uuid>>;

    /// Service: the running bots due by `now`, soonest first.
    async fn due_bots(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<BotRow>>;

    /// Service: takes the account's wave lease for `replica` unless another replica holds one
    /// that has not run out; then returns the account's running bots due by `now` (the
    /// scheduler's clock).
    async fn claim_wave(
        &self,
        account_id: Uuid,
        replica: &str,
        lease_ms: i64,
        now: OffsetDateTime,
    ) -> StoreResult<Option<Vec<BotRow>>>;

    /// Service: extends the lease `replica` holds; `false` when it holds it no more.
    async fn renew_wave(&self, account_id: Uuid, replica: &str, lease_ms: i64)
        -> StoreResult<bool>;

    /// Service: gives the lease back.
    async fn release_wave(&self, account_id: Uuid, replica: &str) -> StoreResult<()>;

    /// Service: the exactly-once claim of (bot, bar), written before anything is sent: `false`
    /// when the bar (or a later one) was already claimed or the bot no longer runs. Counts the
    /// pass and `missed` bars.
    async fn claim_pass(
        &self,
        bot: &BotRow,
        bar_time: i64,
        replica: &str,
        inputs: Value,
        missed: i64,
    ) -> StoreResult<bool>;

    /// Service: what the pass claimed for `bar_time` did (counters, run, state).
    async fn finish_pass(
        &self,
        bot: &BotRow,
        bar_time: Option<i64>,
        record: PassRecord,
    ) -> StoreResult<Option<BotRow>>;

    /// Service: whether any journal entry of the bot's runs is `pending` or `unknown`.
    async fn bot_in_doubt(&self, bot_id: Uuid) -> StoreResult<bool>;

    /// Service: the recorded passes of a bot whose bars opened in [from, to] (server clock).
    async fn bot_passes(
        &self,
        user: &UserCtx,
        bot_id: Uuid,
        from: i64,
        to: i64,
        limit: u32,
    ) -> StoreResult<Vec<(i64, Value, Value)>>;

    /// Service: deletes bot runs and passes older than `before`; returns the runs deleted.
    async fn prune_bot_runs(&self, before: OffsetDateTime) -> StoreResult<u64>;
}
