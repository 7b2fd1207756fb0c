//! The trade journal: every order intent written as `pending` before it is sent and completed
//! with its result after; also the record behind `Idempotency-Key` (a repeated key returns the
//! stored first response) and what startup reconciliation reads.

use super::{StoreResult, UserCtx};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// It could not be sent or its outcome is lost and reconciliation found no trace of it.
    Failed,
}

impl JournalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JournalStatus::Pending => "pending",
            JournalStatus::Done => "done",
            JournalStatus::Rejected => "rejected",
            JournalStatus::Refused => "refused",
            JournalStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JournalStatus::Pending,
            "done" => JournalStatus::Done,
            "rejected" => JournalStatus::Rejected,
            "refused" => JournalStatus::Refused,
            "failed" => JournalStatus::Failed,
            _ => return None,
        })
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

#[async_trait]
pub trait JournalStore: Send + Sync + 'static {
    /// Writes a new entry, unless the user already has an entry with the same idempotency key
    /// created within `idempotency_ttl_s` (then returns it). An older entry with that key gives
    /// the key up (its key is cleared) and a new entry is written. Atomic under concurrency: two
    /// concurrent begins with one key yield one Created and one Existing.
    async fn begin(&self, user: &UserCtx, new: NewJournalEntry, idempotency_ttl_s: i64) -> StoreResult<Begin>;

    /// Completes the user's entry (status, result fields, response, completed_at = now).
    async fn complete(&self, user: &UserCtx, id: Uuid, completion: Completion) -> StoreResult<()>;

    /// One entry of the user's.
    async fn get_entry(&self, user: &UserCtx, id: Uuid) -> StoreResult<Option<JournalEntry>>;

    /// The user's entries, newest first (created_at desc, id desc), optionally of one account.
    async fn list_entries(&self, user: &UserCtx, filter: JournalFilter) -> StoreResult<Vec<JournalEntry>>;

    /// Service path (no user): every entry still pending, oldest first, for reconciliation.
    async fn pending_entries(&self) -> StoreResult<Vec<JournalEntry>>;

    /// Service path: completes an entry found pending at startup.
    async fn complete_pending(&self, id: Uuid, completion: Completion) -> StoreResult<()>;
}
