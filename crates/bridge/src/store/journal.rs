//! The trade journal: every order intent written as `pending` before it is sent and completed
//! with its result after; also the record behind `Idempotency-Key` (a repeated key returns the
//! stored first response) and what startup reconciliation reads.

use super::{StoreError, StoreResult, UserCtx};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// `pending` while it is being sent; `unknown` when it reached the terminal and its answer was
/// lost (until the broker's history settles it); then `done`, `rejected` (by the broker),
/// `refused` (kill switch, risk limit, read-only session: nothing sent), `not_executed` (it
/// certainly did not run: never sent, or not found in the broker's history once its deadline
/// and `RECONCILE_GRACE_MS` passed) or `failed` (its account is gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalStatus {
    /// Written, about to be (or being) sent; its outcome is not known yet.
    Pending,
    /// The broker executed it.
    Done,
    /// The broker refused it (a retcode other than success).
    Rejected,
    /// The bridge refused it before sending (risk limit, kill switch).
    Refused,
    /// Its account is gone: it can be neither sent nor looked up.
    Failed,
    /// It reached the terminal side and no answer came back: in doubt until the broker's history
    /// settles it (`done`, `rejected` or `not_executed`).
    Unknown,
    /// It certainly did not run: never sent, refused before it started, or not found in the
    /// broker's history once its deadline and the grace period passed. Its key may be sent again.
    NotExecuted,
}

impl JournalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalStatus::Pending => "pending",
            JournalStatus::Done => "done",
            JournalStatus::Rejected => "rejected",
            JournalStatus::Refused => "refused",
            JournalStatus::Failed => "failed",
            JournalStatus::Unknown => "unknown",
            JournalStatus::NotExecuted => "not_executed",
        }
    }
    /// Every status, in the order the docs list them.
    pub const ALL: [JournalStatus; 7] = [
        JournalStatus::Pending,
        JournalStatus::Unknown,
        JournalStatus::Done,
        JournalStatus::Rejected,
        JournalStatus::Refused,
        JournalStatus::NotExecuted,
        JournalStatus::Failed,
    ];

    /// Whether the outcome is still open (`pending` or `unknown`).
    pub fn is_open(self) -> bool {
        matches!(self, JournalStatus::Pending | JournalStatus::Unknown)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JournalStatus::Pending,
            "done" => JournalStatus::Done,
            "rejected" => JournalStatus::Rejected,
            "refused" => JournalStatus::Refused,
            "failed" => JournalStatus::Failed,
            "unknown" => JournalStatus::Unknown,
            "not_executed" => JournalStatus::NotExecuted,
            _ => return None,
        })
    }
}

/// What the entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalAction {
    Place,
    ModifyOrder,
    CancelOrder,
    ModifyPosition,
    ClosePosition,
}

impl JournalAction {
    pub const ALL: [JournalAction; 5] = [
        JournalAction::Place,
        JournalAction::ModifyOrder,
        JournalAction::CancelOrder,
        JournalAction::ModifyPosition,
        JournalAction::ClosePosition,
    ];

    /// As `trade_journal.action` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalAction::Place => "place",
            JournalAction::ModifyOrder => "modify_order",
            JournalAction::CancelOrder => "cancel_order",
            JournalAction::ModifyPosition => "modify_position",
            JournalAction::ClosePosition => "close_position",
        }
    }

    /// A stored value; None for one this service never writes.
    pub fn parse(s: &str) -> Option<JournalAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether it changes an order's or a position's levels (its answer says `changed`).
    pub fn is_modify(self) -> bool {
        matches!(
            self,
            JournalAction::ModifyOrder | JournalAction::ModifyPosition
        )
    }
}

/// `api` or `algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JournalSource {
    Api,
    Algorithm,
}

impl JournalSource {
    /// As `trade_journal.source` stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalSource::Api => "api",
            JournalSource::Algorithm => "algorithm",
        }
    }
}

/// A row of `trade_journal`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    pub id: Uuid,
    pub user_id: Uuid,
    pub account_id: Uuid,
    /// Short id carried in the MT5 order comment, to find the order in the broker's history.
    pub client_id: String,
    pub idempotency_key: Option<String>,
    /// Fingerprint of the request body, to tell a retry from a reused key.
    pub request_hash: Option<String>,
    /// `api` or `algorithm`.
    pub source: String,
    pub algorithm_id: Option<String>,
    pub run_id: Option<Uuid>,
    /// `place`, `modify_order`, `cancel_order`, `modify_position`, `close_position`.
    pub action: String,
    /// The request as sent (no secrets).
    pub request: Value,
    pub status: JournalStatus,
    pub retcode: Option<i64>,
    pub order: Option<i64>,
    pub deal: Option<i64>,
    pub volume: Option<f64>,
    pub price: Option<f64>,
    pub error: Option<String>,
    /// The HTTP response (status and body) given for it, replayed for a repeated Idempotency-Key.
    pub response: Option<Value>,
    pub created_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    /// Where it went (the service's own bookkeeping: in the table, not in the API's answers).
    #[serde(skip)]
    pub route: JournalRoute,
}

/// Where an order went, written under the terminal's lease just before it is sent (again if a
/// retry lands on another terminal), so that after a crash the reconciler can ask that agent's
/// ledger at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalRoute {
    /// The terminal's slot in the pool (simulated terminals first, then the agents in `TERMINALS`
    /// order): opaque, never the agent's address (users read the journal).
    pub terminal_index: Option<i32>,
    /// The agent's ledger id (protocol v3); `None` for a simulated terminal or a v2 agent.
    pub ledger_id: Option<String>,
    /// The process run (replica) that wrote the entry.
    pub process_run_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewJournalEntry {
    pub id: Uuid,
    pub account_id: Uuid,
    pub client_id: String,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub source: String,
    pub algorithm_id: Option<String>,
    pub run_id: Option<Uuid>,
    pub action: String,
    pub request: Value,
    /// `Pending` normally; `Refused` for an order refused before sending (written complete).
    pub status: JournalStatus,
    pub error: Option<String>,
    /// The process run that writes it (every entry records it, so the reconciler tells an entry
    /// of a dead run from one in flight).
    pub process_run_id: Option<String>,
}

/// The outcome written when an entry completes.
#[derive(Debug, Clone, Default)]
pub struct Completion {
    pub status: Option<JournalStatus>,
    pub retcode: Option<i64>,
    pub order: Option<i64>,
    pub deal: Option<i64>,
    pub volume: Option<f64>,
    pub price: Option<f64>,
    pub error: Option<String>,
    pub response: Option<Value>,
}

/// What `begin` did.
#[derive(Debug, Clone)]
pub enum Begin {
    /// A new entry was written.
    Created(JournalEntry),
    /// The user already used this idempotency key (within the TTL): the earlier entry, untouched.
    Existing(JournalEntry),
}

#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub account_id: Option<Uuid>,
    /// Keyset cursor: entries strictly older than this (created_at, id), newest first.
    pub before: Option<(OffsetDateTime, Uuid)>,
    /// 1..=500.
    pub limit: u32,
}

/// The largest page `list_entries` returns.
pub const MAX_PAGE: u32 = 500;

impl JournalFilter {
    /// The rows actually read: `limit` clamped to 1..=[`MAX_PAGE`] + 1 (the largest page and the
    /// row that tells whether another follows, `store::page`).
    pub fn page_size(&self) -> u32 {
        super::page::rows_read(self.limit, MAX_PAGE)
    }
}

/// `retcode` is an INTEGER column on Postgres; both backends refuse the same out-of-range values.
pub(super) fn retcode_column(retcode: Option<i64>) -> StoreResult<Option<i32>> {
    retcode
        .map(i32::try_from)
        .transpose()
        .map_err(|_| StoreError::Database("retcode is out of range".into()))
}

/// A JSON `null` response is stored as SQL NULL so "no response" has one representation.
pub(super) fn response_column(response: Option<Value>) -> Option<Value> {
    response.filter(|v| !v.is_null())
}

pub(super) fn parse_status(s: &str) -> StoreResult<JournalStatus> {
    JournalStatus::parse(s).ok_or_else(|| StoreError::Database(format!("bad stored status {s:?}")))
}

/// Why `begin` wrote nothing and found no holder of the key.
pub(super) fn not_written(new: &NewJournalEntry, account_owned: bool) -> StoreError {
    if account_owned {
        StoreError::Database(format!(
            "journal entry {} not written: its idempotency key kept changing hands",
            new.id
        ))
    } else {
        StoreError::Database(format!(
            "journal entry {} not written: account {} is not one of the user's accounts",
            new.id, new.account_id
        ))
    }
}

#[async_trait]
pub trait JournalStore: Send + Sync + 'static {
    /// Writes a new entry, unless the user already has an entry with the same idempotency key
    /// created within `idempotency_ttl_s` (then returns it). An older entry with that key gives
    /// the key up (its key is cleared) and a new entry is written. Atomic under concurrency: two
    /// concurrent begins with one key yield one Created and one Existing.
    async fn begin(
        &self,
        user: &UserCtx,
        new: NewJournalEntry,
        idempotency_ttl_s: i64,
    ) -> StoreResult<Begin>;

    /// Completes the user's entry (status, result fields, response, completed_at = now). A field
    /// given as `None` keeps its stored value, so attaching the response to an entry written
    /// complete (a refusal) keeps its error. Another user's or a missing entry is left alone.
    async fn complete(&self, user: &UserCtx, id: Uuid, completion: Completion) -> StoreResult<()>;

    /// One entry of the user's.
    async fn get_entry(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<JournalEntry>>;

    /// The user's entries, newest first (created_at desc, id desc), optionally of one account.
    async fn list_entries(
        &self,
        user: &UserCtx,
        filter: JournalFilter,
    ) -> StoreResult<Vec<JournalEntry>>;

    /// Service path (no user): every entry still pending, oldest first, for reconciliation.
    async fn pending_entries(&self) -> StoreResult<Vec<JournalEntry>>;

    /// Service path: completes an entry found pending at startup, as `complete` does, but only
    /// while it is still pending (a result written meanwhile by the request itself wins).
    async fn complete_pending(&self, id: Uuid, completion: Completion) -> StoreResult<()> {
        self.settle(id, JournalStatus::Pending, completion)
            .await
            .map(|_| ())
    }

    /// Service path: every entry whose outcome is open (`pending` or `unknown`), oldest first.
    async fn open_entries(&self) -> StoreResult<Vec<JournalEntry>>;

    /// Records where the user's entry went (while it is `pending`): the terminal, its ledger and
    /// this process run.
    async fn record_route(&self, user: &UserCtx, id: Uuid, route: &JournalRoute)
        -> StoreResult<()>;

    /// Service path: completes an entry as `complete` does, only while its status is `from` (a
    /// compare-and-set, so replicas reconcile side by side); whether it did. An entry left
    /// `unknown` or `pending` keeps `completed_at` empty.
    async fn settle(
        &self,
        id: Uuid,
        from: JournalStatus,
        completion: Completion,
    ) -> StoreResult<bool>;
}
