//! The order pipeline, for the API and the algorithms alike ([`submit`]): refusal budget → kill
//! switch → trade limit → journal and idempotency → lease → account and terminal checks (the
//! caller's preparation) → risk → send → complete. The requests it sends are built in [`requests`], the
//! idempotency fingerprint in [`idempotency`], and orders whose answer was lost are settled by
//! [`reconcile`]. docs/ARCHITECTURE.md draws the stages.

use crate::error::{ApiError, ApiResult};
use crate::limits::refused;
use crate::pool::Purpose;
use crate::risk::{check_new_order, RiskLimits, RiskRefusal};
use crate::state::AppState;
use crate::store::journal::{
    Begin, Completion, JournalAction, JournalEntry, JournalRoute, JournalSource, JournalStatus,
    NewJournalEntry,
};
use crate::store::{AccountRow, UserCtx};
use axum::http::StatusCode;
use mt5::{Expected, OrderSendResult, Terminal, TerminalError, TradeAction, TradeRequest};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub mod idempotency;
pub mod prepare;
pub mod reconcile;
pub mod requests;

pub use prepare::{
    filling_required, Close, Command, Expiration, Guard, HeldBack, ModifyOrder, Place, Prepared,
};

pub use crate::credentials::account_key;
use idempotency::same_request;
pub use idempotency::{action_route, request_fingerprint, request_hash};
pub use requests::{
    close_request, comment_has_client_id, default_filling, filling_unknown, is_client_id,
    market_price, new_client_id, order_comment, NewOrder, COMMENT_MAX, FILLING_MODE,
};

/// Runs `op` on a terminal holding the row's own session (its credential's tag), logging one in
/// with the row's password when none does. A credential MT5 refused before is answered with
/// `account_credentials_invalid` without a login; one MT5 refuses now is remembered as such.
pub async fn on_terminal<R, F>(
    state: &AppState,
    row: &AccountRow,
    purpose: Purpose,
    op: F,
) -> ApiResult<R>
where
    R: Send + 'static,
    F: Fn(Arc<dyn Terminal>, Expected) -> crate::pool::BoxFuture<Result<R, TerminalError>>
        + Send
        + Sync,
{
    let timeout = state.pool.timeout();
    on_terminal_for(state, row, purpose, Some(row.user_id), timeout, op).await
}

/// As [`on_terminal`], queued as `user` (`None`: outside any user's queue limit, as a bot wave)
/// within `timeout` (queueing included; a bot wave runs several passes under one lease).
pub async fn on_terminal_for<R, F>(
    state: &AppState,
    row: &AccountRow,
    purpose: Purpose,
    user: Option<Uuid>,
    timeout: Duration,
    op: F,
) -> ApiResult<R>
where
    R: Send + 'static,
    F: Fn(Arc<dyn Terminal>, Expected) -> crate::pool::BoxFuture<Result<R, TerminalError>>
        + Send
        + Sync,
{
    let creds = &state.credentials;
    let session = creds.session(row).await?;
    // Only a login could use a refused credential; a live session of this tag proves it good.
    if !state.pool.is_logged_in(&session) {
        if let Some(problem) = creds.refusal(row).await? {
            return Err(ApiError::AccountCredentialsInvalid(problem));
        }
    }
    let password = || -> crate::pool::PasswordFuture {
        let (creds, row) = (creds.clone(), row.clone());
        Box::pin(async move {
            // Checked again under the lease: another request may have seen MT5 refuse it.
            if let Some(problem) = creds.refusal(&row).await? {
                return Err(ApiError::AccountCredentialsInvalid(problem).into());
            }
            Ok(creds.password(&row)?)
        })
    };
    match state
        .pool
        .run_for(&session, user, &password, purpose, timeout, op)
        .await
        .map_err(ApiError::from)
    {
        Ok(ran) => {
            if let Some(info) = &ran.login {
                let ctx = UserCtx::service_for(row.user_id);
                record_trade_allowed(state, &ctx, row.id, info.trade_allowed).await;
            }
            Ok(ran.value)
        }
        Err(ApiError::Mt5LoginFailed { code, message }) => Err(
            ApiError::AccountCredentialsInvalid(creds.refuse(row, code, message).await),
        ),
        Err(e) => Err(e),
    }
}

/// Keeps what a successful login for a row reported of `trade_allowed` (the account's
/// `trade_allowed`). A failed write is logged: the row's next login records it again.
pub async fn record_trade_allowed(state: &AppState, ctx: &UserCtx, account: Uuid, allowed: bool) {
    if let Err(e) = state
        .store
        .record_trade_allowed(ctx, account, allowed)
        .await
    {
        tracing::warn!(account_id = %account, error = %e, "trade_allowed not recorded");
    }
}

/// Runs a read on the account's terminal.
pub async fn read<R, F>(state: &AppState, row: &AccountRow, op: F) -> ApiResult<R>
where
    R: Send + 'static,
    F: Fn(Arc<dyn Terminal>, Expected) -> crate::pool::BoxFuture<Result<R, TerminalError>>
        + Send
        + Sync,
{
    on_terminal(state, row, Purpose::Read, op).await
}

/// What the send stage did: sent the request (with the server-time offset), or refused it first.
#[derive(Debug, Clone)]
enum Sent {
    Done(Box<OrderSendResult>, i64),
    Refused(crate::risk::RiskRefusal),
    Unsendable {
        code: &'static str,
        field: &'static str,
        message: String,
    },
}

/// How far one attempt at a trade got, so a failure can be told apart: nothing sent (the entry
/// is `not_executed`), or sent and unanswered (it is `unknown` until the history settles it).
#[derive(Debug, Clone)]
enum Stage {
    Preparing,
    Sending,
    /// `order_send` failed in a way that proves it did not run (the error says why).
    NotSent(TerminalError),
    Answered,
}

/// Where an intent comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Api,
    Algorithm { algorithm_id: String, run_id: Uuid },
}

impl Source {
    fn journaled(&self) -> JournalSource {
        match self {
            Source::Api => JournalSource::Api,
            Source::Algorithm { .. } => JournalSource::Algorithm,
        }
    }
}

/// An order to journal and send.
pub struct Intent {
    pub command: Command,
    /// The request as the client sent it (normalized); journaled, hashed for idempotency.
    pub request: Value,
    pub idempotency_key: Option<String>,
    pub source: Source,
}

/// What an order came to: the answer to give (also stored for replays) and, when this request
/// sent it, the broker's result as it came (a replay of an earlier request has only its answer).
#[derive(Debug, Clone)]
pub struct Done {
    pub outcome: Outcome,
    pub result: Option<Box<OrderSendResult>>,
}

impl Done {
    fn replayed(outcome: Outcome) -> Done {
        Done {
            outcome,
            result: None,
        }
    }
}

/// An HTTP outcome that can be stored and replayed.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: Value,
}

pub(crate) fn stored_response(o: &Outcome) -> Value {
    json!({ "status": o.status.as_u16(), "body": o.body })
}

fn replay(entry: &JournalEntry) -> Option<Outcome> {
    let r = entry.response.as_ref()?;
    let status = StatusCode::from_u16(r.get("status")?.as_u64()? as u16).ok()?;
    Some(Outcome {
        status,
        body: r.get("body")?.clone(),
    })
}

/// The error body as the client saw it, to store for replays.
pub(crate) fn error_outcome(e: &ApiError) -> Outcome {
    Outcome {
        status: e.code().status(),
        body: e.body(),
    }
}

/// The result of sending, as the journal records it.
pub(crate) fn completion_for(result: &OrderSendResult, outcome: &Outcome) -> Completion {
    // What the client was answered decides: a modify that changed nothing (10025) is done.
    let ok = outcome.status.is_success();
    Completion {
        status: Some(if ok {
            JournalStatus::Done
        } else {
            JournalStatus::Rejected
        }),
        retcode: Some(result.retcode as i64),
        order: Some(result.order as i64).filter(|o| *o != 0),
        deal: Some(result.deal as i64).filter(|d| *d != 0),
        volume: Some(result.volume),
        price: Some(result.price),
        error: if ok {
            None
        } else {
            Some(result.comment.clone())
        },
        response: Some(stored_response(outcome)),
    }
}

/// A modify's answer: the broker's result with `changed`: true when it applied the change
/// (10009), false when there was nothing to change (10025 `NO_CHANGES`, a success for the
/// client, journaled `done`); anything else is the broker's rejection.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ModifyResult {
    #[serde(flatten)]
    #[schema(value_type = OrderSendResult, inline)]
    pub result: crate::times::Utc<OrderSendResult>,
    /// True when the change was applied (10009); false when there was nothing to change (10025
    /// `NO_CHANGES`, still a success).
    pub changed: bool,
}

pub(crate) fn modify_outcome(result: &OrderSendResult, offset_s: i64) -> Result<Outcome, ApiError> {
    let changed = result.retcode != mt5::retcode::NO_CHANGES;
    if changed {
        // A rejection is the broker's answer, as for any order.
        send_outcome(result, offset_s)?;
    }
    let body = ModifyResult {
        result: crate::times::Utc(result.clone(), offset_s),
        changed,
    };
    Ok(Outcome {
        status: StatusCode::OK,
        body: serde_json::to_value(&body).map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

pub fn send_outcome(result: &OrderSendResult, offset_s: i64) -> Result<Outcome, ApiError> {
    if mt5::retcode::is_success(result.retcode) {
        Ok(Outcome {
            status: StatusCode::OK,
            body: crate::times::to_json(result, offset_s),
        })
    } else {
        Err(ApiError::TradeRejected {
            retcode: result.retcode,
            comment: result.comment.clone(),
        })
    }
}

/// How long a repeated key waits for its first request to finish: a double-click's second
/// request replays the first's answer; a longer wait answers `409 request_in_progress` at once
/// rather than holding the connection (`Retry-After: 1`).
pub const AWAIT_FIRST: Duration = Duration::from_secs(2);

/// Waits (at most [`AWAIT_FIRST`]) for an earlier request with the same key to finish, then
/// replays its response. An entry whose outcome is unknown answers `order_outcome_unknown` at
/// once, until it is settled.
async fn await_first(state: &AppState, user: &UserCtx, entry: JournalEntry) -> ApiResult<Outcome> {
    let mut entry = entry;
    let journal_id = entry.id;
    let deadline = tokio::time::Instant::now() + AWAIT_FIRST;
    loop {
        match entry.status {
            JournalStatus::Pending => {}
            JournalStatus::Unknown => return Err(ApiError::OrderOutcomeUnknown { journal_id }),
            _ => return replay(&entry).ok_or(ApiError::RequestInProgress { journal_id }),
        }
        if tokio::time::Instant::now() + Duration::from_millis(100) > deadline {
            return Err(ApiError::RequestInProgress { journal_id });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        entry = match state.store.get_entry(user, journal_id).await? {
            Some(e) => e,
            None => return Err(ApiError::RequestInProgress { journal_id }),
        };
    }
}

/// Whether `request` is a new order (a market deal that names no position, or a pending order):
/// the orders the account's risk limits apply to.
fn opens_position(request: &TradeRequest) -> bool {
    match request.action {
        TradeAction::Deal => request.position == 0,
        TradeAction::Pending => true,
        _ => false,
    }
}

/// The risk limits `request` would meet now, without sending it (dry runs): the same check
/// [`submit`] applies, under a read lease.
pub async fn risk_refusal(
    state: &AppState,
    row: &AccountRow,
    limits: &RiskLimits,
    request: &TradeRequest,
    lease: Option<&Leased>,
) -> ApiResult<Option<RiskRefusal>> {
    if let Some(lease) = lease {
        return lease
            .run(check_new_order(
                lease.terminal(),
                lease.at(),
                limits,
                request,
                None,
            ))
            .await;
    }
    let (limits, request) = (limits.clone(), request.clone());
    read(state, row, move |t, at| {
        let (limits, request) = (limits.clone(), request.clone());
        Box::pin(async move { check_new_order(t.as_ref(), &at, &limits, &request, None).await })
    })
    .await
}

/// Journals an intent and sends it under one lease, in stages, each a function below: limits →
/// journal → lease → risk → send → complete. Returns what the order came to (its answer is also
/// stored for replays). An order whose answer was lost is `unknown` (504, settled later by the
/// reconciler); one that certainly did not run is `not_executed`.
pub async fn submit(
    state: &AppState,
    user: &UserCtx,
    row: &AccountRow,
    intent: Intent,
) -> ApiResult<Done> {
    submit_with(state, user, row, intent, None).await
}

/// As [`submit`], on a terminal the caller already leased for the row's session (a bot wave runs
/// its passes back to back under one lease): the lease stage runs on it instead of taking one.
pub async fn submit_on(
    state: &AppState,
    user: &UserCtx,
    row: &AccountRow,
    intent: Intent,
    lease: &Leased,
) -> ApiResult<Done> {
    submit_with(state, user, row, intent, Some(lease)).await
}

/// A terminal leased for one account's session by a caller that runs several operations on it
/// (the pool's closure), with what went wrong that ends its use: the caller hands that error back
/// to the pool, which forgets the session or takes the terminal out as it would for its own.
pub struct Leased {
    terminal: Arc<dyn Terminal>,
    at: Expected,
    broken: std::sync::Mutex<Option<TerminalError>>,
}

impl Leased {
    pub fn new(terminal: Arc<dyn Terminal>, at: Expected) -> Self {
        Leased {
            terminal,
            at,
            broken: std::sync::Mutex::new(None),
        }
    }

    pub fn terminal(&self) -> &dyn Terminal {
        self.terminal.as_ref()
    }

    pub fn at(&self) -> &Expected {
        &self.at
    }

    /// Awaits an operation on the leased terminal, answering its error as the pool would; an
    /// error of the connection, the session guard or the terminal's trading switch is kept.
    pub async fn run<R>(
        &self,
        op: impl std::future::Future<Output = Result<R, TerminalError>>,
    ) -> ApiResult<R> {
        op.await.map_err(|e| self.answer(e))
    }

    fn answer(&self, e: TerminalError) -> ApiError {
        if crate::pool::ends_lease(&e) {
            if let Ok(mut b) = self.broken.lock() {
                b.get_or_insert(e.clone());
            }
        }
        crate::pool::PoolError::of_terminal(e).into()
    }

    /// The error that ended the lease's use, if one did.
    pub fn broken(&self) -> Option<TerminalError> {
        self.broken.lock().ok().and_then(|b| b.clone())
    }
}

async fn submit_with(
    state: &AppState,
    user: &UserCtx,
    row: &AccountRow,
    intent: Intent,
    lease: Option<&Leased>,
) -> ApiResult<Done> {
    let admitted = admit(state, user, row, &intent).await?;
    let Admitted {
        refusals,
        limits,
        new,
        hash,
    } = admitted;
    if limits.trading_enabled == Some(false) {
        return kill_switch(state, user, &refusals, new, &hash, &intent.request).await;
    }
    let slot = TradeSlot::take(state, row).await?;
    let client_id = new.client_id.clone();
    let entry = match journal(state, user, new, slot, &hash, &intent.request).await? {
        Journaled::Created(entry, slot) => (entry, slot),
        Journaled::Replayed(done) => return Ok(done),
    };
    let (entry, slot) = entry;
    let order = Order {
        user,
        entry: entry.id,
        client_id,
    };
    let (sent, stage) = under_lease(state, row, &intent.command, &limits, order, lease).await;
    complete(
        state,
        user,
        entry.id,
        intent.command.action(),
        Settle {
            sent,
            stage,
            slot,
            refusals,
        },
    )
    .await
}

/// What the limits stage admitted: the user's refusal budget, the account's limits and the entry
/// to journal.
struct Admitted<'a> {
    refusals: RefusalBudget<'a>,
    limits: RiskLimits,
    new: NewJournalEntry,
    hash: String,
}

/// The limits stage: the user's refusal budget (a user whose orders keep being refused is slowed
/// before anything is journaled or broadcast: refusals are rows and stream events that no broker
/// limit bounds), then the account's stored limits, validated before anything is journaled or
/// sent (users may write their rows directly: a value the service cannot read is a validation
/// error, never "no limit").
async fn admit<'a>(
    state: &'a AppState,
    user: &UserCtx,
    row: &AccountRow,
    intent: &Intent,
) -> ApiResult<Admitted<'a>> {
    let refusals = RefusalBudget::of(state, user);
    refusals.check().await?;
    let limits = RiskLimits::stored(row.risk_limits.as_ref())?;
    let action = intent.command.action();
    let hash = request_fingerprint(action.as_str(), row.id, &intent.request);
    let (algorithm_id, run_id) = match &intent.source {
        Source::Api => (None, None),
        Source::Algorithm {
            algorithm_id,
            run_id,
        } => (Some(algorithm_id.clone()), Some(*run_id)),
    };
    let new = NewJournalEntry {
        id: Uuid::new_v4(),
        account_id: row.id,
        client_id: new_client_id(),
        idempotency_key: intent.idempotency_key.clone(),
        request_hash: Some(hash.clone()),
        source: intent.source.journaled().as_str().to_string(),
        algorithm_id,
        run_id,
        action: action.as_str().to_string(),
        request: intent.request.clone(),
        status: JournalStatus::Pending,
        error: None,
        process_run_id: Some(state.process_run_id.clone()),
    };
    Ok(Admitted {
        refusals,
        limits,
        new,
        hash,
    })
}

/// The kill switch refuses before anything is sent; the refusal is journaled, its budget spent
/// first (taken and counted at once, so parallel requests cannot pass it together).
async fn kill_switch(
    state: &AppState,
    user: &UserCtx,
    refusals: &RefusalBudget<'_>,
    mut new: NewJournalEntry,
    hash: &str,
    request: &Value,
) -> ApiResult<Done> {
    refusals.spend_before().await?;
    new.status = JournalStatus::Refused;
    new.error = Some("trading_disabled".into());
    match state.store.begin(user, new, state.idempotency_ttl_s).await {
        Err(e) => {
            refusals.give_back().await;
            Err(e.into())
        }
        Ok(Begin::Existing(e)) => {
            // A replay writes nothing: not a refusal of its own.
            refusals.give_back().await;
            idempotent_replay(state, user, e, hash, request).await
        }
        Ok(Begin::Created(e)) => {
            state.events.journal_changed(user.user_id, e.id);
            state.metrics.order_refused();
            Err(ApiError::TradingDisabled)
        }
    }
}

/// A place under `TRADE_LIMIT_PER_HOUR` for one order of an account: committed once the order
/// reached the terminal side, given back (awaited: releasing may talk to Redis) when nothing was
/// sent. Its `Drop` is only a fallback for a path that forgot both: it spawns the release, warns
/// and counts it (`mt5b_trade_slot_fallback_total`; the tests hold it to zero).
struct TradeSlot {
    limiter: Arc<dyn crate::limits::RateLimiter>,
    metrics: Arc<crate::metrics::Metrics>,
    key: String,
    limit: crate::limits::Limit,
    settled: bool,
}

impl TradeSlot {
    async fn take(state: &AppState, row: &AccountRow) -> ApiResult<TradeSlot> {
        let limit = state.limits.trade_per_account;
        let key = format!("trade:{}", row.id);
        state
            .limiter
            .acquire(&key, limit)
            .await
            .inspect_err(|e| crate::limits::count_refusal(&state.metrics, e, "trades_per_account"))
            .map_err(|e| refused("trades_per_account", limit, e))?;
        Ok(TradeSlot {
            limiter: state.limiter.clone(),
            metrics: state.metrics.clone(),
            key,
            limit,
            settled: false,
        })
    }

    /// The order reached the terminal side: it counts as a trade.
    fn commit(mut self) {
        self.settled = true;
    }

    /// Nothing was sent: the place is given back.
    async fn release(mut self) {
        self.settled = true;
        crate::limits::release_quietly(self.limiter.as_ref(), &self.key, self.limit).await;
    }
}

impl Drop for TradeSlot {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        self.metrics.trade_slot_fallback();
        tracing::warn!(
            "a trade slot was neither committed nor released: released in the background"
        );
        let (limiter, key, limit) = (self.limiter.clone(), self.key.clone(), self.limit);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                crate::limits::release_quietly(limiter.as_ref(), &key, limit).await;
            });
        }
    }
}

/// What the journal stage did: wrote the entry `pending` (the slot goes on with it), or found
/// the key's earlier request and replays it (the slot given back: nothing is sent).
enum Journaled {
    Created(Box<JournalEntry>, TradeSlot),
    Replayed(Done),
}

/// The journal stage: the entry is written `pending` before anything is sent; a repeated
/// `Idempotency-Key` replays the first outcome (or `409 request_in_progress`).
async fn journal(
    state: &AppState,
    user: &UserCtx,
    new: NewJournalEntry,
    slot: TradeSlot,
    hash: &str,
    request: &Value,
) -> ApiResult<Journaled> {
    match state.store.begin(user, new, state.idempotency_ttl_s).await {
        Ok(Begin::Created(e)) => {
            state.events.journal_changed(user.user_id, e.id);
            Ok(Journaled::Created(Box::new(e), slot))
        }
        Ok(Begin::Existing(e)) => {
            slot.release().await;
            idempotent_replay(state, user, e, hash, request)
                .await
                .map(Journaled::Replayed)
        }
        Err(e) => {
            slot.release().await;
            Err(e.into())
        }
    }
}

/// The journal entry an attempt sends.
struct Order<'a> {
    user: &'a UserCtx,
    entry: Uuid,
    client_id: String,
}

/// The lease stage: on a terminal holding the row's session (taken from the pool, or the caller's
/// `lease`), record where the order goes, prepare the command, apply the risk stage and send; with
/// how far it got, so a failure can be told apart.
async fn under_lease(
    state: &AppState,
    row: &AccountRow,
    command: &Command,
    limits: &RiskLimits,
    order: Order<'_>,
    lease: Option<&Leased>,
) -> (ApiResult<Sent>, Stage) {
    let stage = Arc::new(std::sync::Mutex::new(Stage::Preparing));
    let recorded: Arc<tokio::sync::Mutex<Option<JournalRoute>>> = Arc::default();
    let Order {
        user,
        entry,
        client_id,
    } = order;
    let sent = match lease {
        Some(lease) => {
            let on = OnTerminal {
                state,
                user,
                entry,
                command,
                limits,
                client_id: &client_id,
                stage: &stage,
                recorded: &recorded,
            };
            lease
                .run(on.run(lease.terminal(), lease.at().clone()))
                .await
        }
        None => {
            on_terminal(state, row, Purpose::Trade, |t, at| {
                set_stage(&stage, Stage::Preparing);
                let (command, limits, cid, stage) = (
                    command.clone(),
                    limits.clone(),
                    client_id.clone(),
                    stage.clone(),
                );
                let (state, user, recorded) = (state.clone(), user.clone(), recorded.clone());
                Box::pin(async move {
                    let on = OnTerminal {
                        state: &state,
                        user: &user,
                        entry,
                        command: &command,
                        limits: &limits,
                        client_id: &cid,
                        stage: &stage,
                        recorded: &recorded,
                    };
                    on.run(t.as_ref(), at).await
                })
            })
            .await
        }
    };
    let stage = stage.lock().map(|s| s.clone()).unwrap_or(Stage::Sending);
    (sent, stage)
}

/// What the lease stage does on the terminal.
struct OnTerminal<'a> {
    state: &'a AppState,
    user: &'a UserCtx,
    entry: Uuid,
    command: &'a Command,
    limits: &'a RiskLimits,
    client_id: &'a str,
    stage: &'a std::sync::Mutex<Stage>,
    recorded: &'a tokio::sync::Mutex<Option<JournalRoute>>,
}

impl OnTerminal<'_> {
    async fn run(&self, t: &dyn Terminal, at: Expected) -> Result<Sent, TerminalError> {
        record_route(self.state, self.user, self.entry, t, self.recorded).await?;
        let at = at.with_client_id(self.client_id.to_string());
        let prepared = self.command.prepare(t, &at, self.client_id).await?;
        match risk(t, &at, self.limits, prepared).await? {
            Prepared::Refused(r) => Ok(Sent::Refused(r)),
            Prepared::Unsendable {
                code,
                field,
                message,
            } => Ok(Sent::Unsendable {
                code,
                field,
                message,
            }),
            Prepared::Send { request, offset_s } => {
                send(t, &at, &request, offset_s, self.stage).await
            }
        }
    }
}

/// Records in the journal where the order goes (the terminal's slot, its agent's ledger, this
/// process run) before anything is sent on it, and again only if a retry lands elsewhere. A
/// failed write sends nothing: without it, a crash would leave the entry to the grace period.
/// Only a terminal whose agent keeps a ledger is recorded: nothing else reads the route, and the
/// write is one more transaction per order (docs/BENCHMARKS.md); a retry that moves from such a
/// terminal to one without clears it.
async fn record_route(
    state: &AppState,
    user: &UserCtx,
    entry: Uuid,
    t: &dyn Terminal,
    recorded: &tokio::sync::Mutex<Option<JournalRoute>>,
) -> Result<(), TerminalError> {
    let ledger_id = t.ledger_id();
    let mut last = recorded.lock().await;
    if ledger_id.is_none() && last.is_none() {
        return Ok(());
    }
    let route = match ledger_id {
        // The entry keeps the process run it was written by.
        None => JournalRoute {
            process_run_id: Some(state.process_run_id.clone()),
            ..JournalRoute::default()
        },
        Some(ledger_id) => JournalRoute {
            terminal_index: state
                .pool
                .slot_of(t.id())
                .and_then(|s| i32::try_from(s).ok()),
            ledger_id: Some(ledger_id),
            process_run_id: Some(state.process_run_id.clone()),
        },
    };
    if last.as_ref() == Some(&route) {
        return Ok(());
    }
    state
        .store
        .record_route(user, entry, &route)
        .await
        .map_err(|e| {
            TerminalError::NotSent(format!("the journal did not record the order's route: {e}"))
        })?;
    *last = Some(route);
    Ok(())
}

fn set_stage(stage: &std::sync::Mutex<Stage>, to: Stage) {
    if let Ok(mut s) = stage.lock() {
        *s = to;
    }
}

/// The risk stage: a new order meets the account's limits under the same lease as its send, so
/// the numbers it is checked against are the ones it meets ([`crate::risk::check`] on what the
/// terminal reports now).
async fn risk(
    t: &dyn Terminal,
    at: &Expected,
    limits: &RiskLimits,
    prepared: Prepared,
) -> Result<Prepared, TerminalError> {
    Ok(match prepared {
        Prepared::Send { request, offset_s } if opens_position(&request) => {
            match check_new_order(t, at, limits, &request, None).await? {
                Some(refusal) => Prepared::Refused(refusal),
                None => Prepared::Send { request, offset_s },
            }
        }
        other => other,
    })
}

/// The send stage: `order_send` with the expected session (the terminal's guard refuses a
/// mismatch), noting whether it provably did not run.
async fn send(
    t: &dyn Terminal,
    at: &Expected,
    request: &TradeRequest,
    offset_s: i64,
    stage: &std::sync::Mutex<Stage>,
) -> Result<Sent, TerminalError> {
    set_stage(stage, Stage::Sending);
    match t.order_send(at, request).await {
        Ok(result) if result.retcode == mt5::retcode::CLIENT_DISABLES_AT => {
            // The terminal refused before sending (its "Algo Trading" is off): nothing ran; the
            // pool keeps orders off it from now on.
            let e = TerminalError::trading_disabled();
            set_stage(stage, Stage::NotSent(e.clone()));
            Err(e)
        }
        Ok(result) => {
            set_stage(stage, Stage::Answered);
            Ok(Sent::Done(Box::new(result), offset_s))
        }
        Err(e) => {
            if e.is_not_sent() {
                set_stage(stage, Stage::NotSent(e.clone()));
            }
            Err(e)
        }
    }
}

/// What the complete stage settles: the lease stage's result and how far it got, with the trade
/// slot and the refusal budget to settle with it.
struct Settle<'a> {
    sent: ApiResult<Sent>,
    stage: Stage,
    slot: TradeSlot,
    refusals: RefusalBudget<'a>,
}

/// The complete stage: the journal entry gets its outcome (each write published for the live
/// stream), the trade slot is committed or given back, refusals spend the budget; an answer that
/// was lost leaves the entry `unknown` for the reconciler.
async fn complete(
    state: &AppState,
    user: &UserCtx,
    entry: Uuid,
    action: JournalAction,
    settle: Settle<'_>,
) -> ApiResult<Done> {
    let Settle {
        sent,
        stage,
        slot,
        refusals,
    } = settle;
    match sent {
        Ok(Sent::Refused(r)) => {
            // Refused before sending: nothing reached the broker, so it does not count as a trade.
            slot.release().await;
            refusals.spend().await;
            state.metrics.order_refused();
            let why = r.limit;
            let err = ApiError::RiskLimitExceeded {
                limit: r.limit,
                message: r.message,
                details: r.details,
            };
            Err(complete_with_error_noted(
                state,
                user,
                entry,
                JournalStatus::Refused,
                err,
                Some(why),
            )
            .await)
        }
        Ok(Sent::Unsendable {
            code,
            field,
            message,
        }) => {
            // Held back before sending: nothing reached the broker, not a trade.
            slot.release().await;
            refusals.spend().await;
            state.metrics.order_refused();
            let err = ApiError::validation(field, format!("{code}: {message}"));
            Err(complete_with_error_noted(
                state,
                user,
                entry,
                JournalStatus::Refused,
                err,
                Some(code),
            )
            .await)
        }
        Ok(Sent::Done(result, offset_s)) => {
            slot.commit();
            state.metrics.order_retcode(result.retcode);
            let outcome = if action.is_modify() {
                modify_outcome(&result, offset_s)
            } else {
                send_outcome(&result, offset_s)
            };
            let stored = match &outcome {
                Ok(o) => o.clone(),
                Err(e) => error_outcome(e),
            };
            let completed = state
                .store
                .complete(user, entry, completion_for(&result, &stored))
                .await;
            if let Err(e) = completed {
                // The broker acted; the entry stays pending and is settled from its history
                // once the database answers again.
                state.reconciler.wake();
                return Err(ApiError::OutcomeNotRecorded {
                    journal_id: entry,
                    why: e.to_string(),
                });
            }
            state.events.journal_changed(user.user_id, entry);
            outcome.map(|outcome| Done {
                outcome,
                result: Some(result),
            })
        }
        Err(err @ (ApiError::ReadOnlyAccount | ApiError::AccountCredentialsInvalid(_))) => {
            // Refused before anything was sent: not a trade, journaled as refused.
            slot.release().await;
            refusals.spend().await;
            state.metrics.order_refused();
            Err(complete_with_error(state, user, entry, JournalStatus::Refused, err).await)
        }
        Err(err) => {
            let not_sent = match stage {
                Stage::Preparing => Some(None),
                Stage::NotSent(e) => Some(Some(e)),
                Stage::Sending | Stage::Answered => None,
            };
            match not_sent {
                Some(cause) => {
                    // Nothing reached the broker: not a trade, and its key may be sent again.
                    slot.release().await;
                    state.metrics.order_failed();
                    let answer = match err {
                        ApiError::TerminalTimeout | ApiError::TerminalUnavailable(_) => {
                            ApiError::OrderNotSent {
                                journal_id: entry,
                                why: cause.map_or_else(
                                    || "not dispatched to a terminal in time".to_string(),
                                    |c| c.to_string(),
                                ),
                            }
                        }
                        // e.g. MT5's -2 as validation_failed naming the argument
                        other => other,
                    };
                    Err(
                        complete_with_error(state, user, entry, JournalStatus::NotExecuted, answer)
                            .await,
                    )
                }
                None => {
                    // It reached the terminal side and no answer came back: in doubt until the
                    // broker's history settles it. Never called failed.
                    slot.commit();
                    Err(in_doubt(state, user, entry, err).await)
                }
            }
        }
    }
}

/// Marks an entry whose answer was lost `unknown` and wakes the reconciler.
async fn in_doubt(state: &AppState, user: &UserCtx, entry: Uuid, err: ApiError) -> ApiError {
    state.metrics.order_in_doubt();
    tracing::warn!(journal_id = %entry, error = %err, "order outcome unknown");
    let marked = Completion {
        status: Some(JournalStatus::Unknown),
        error: Some(err.status_and_code().1.to_string()),
        ..Default::default()
    };
    match state
        .store
        .settle(entry, JournalStatus::Pending, marked)
        .await
    {
        Ok(true) => state.events.journal_changed(user.user_id, entry),
        Ok(false) => {}
        // Left pending: the reconciler takes it up once it is past its deadline.
        Err(e) => {
            tracing::warn!(journal_id = %entry, error = %e, "unknown outcome not recorded")
        }
    }
    state.reconciler.wake();
    ApiError::OrderInDoubt { journal_id: entry }
}

/// A user's budget of refused orders (`REFUSAL_LIMIT_PER_HOUR`, scope `refusals_per_user`):
/// checked before the journal by every order request, spent by each refusal that is journaled.
pub struct RefusalBudget<'a> {
    state: &'a AppState,
    key: String,
}

impl<'a> RefusalBudget<'a> {
    pub const SCOPE: &'static str = "refusals_per_user";

    pub fn of(state: &'a AppState, user: &UserCtx) -> Self {
        RefusalBudget {
            state,
            key: format!("refusals:{}", user.user_id),
        }
    }

    fn refused(&self, e: crate::limits::LimitError) -> ApiError {
        let limit = self.state.limits.refusals_per_user;
        crate::limits::count_refusal(&self.state.metrics, &e, Self::SCOPE);
        refused(Self::SCOPE, limit, e)
    }

    /// `429 rate_limited` while the budget is spent; records nothing.
    pub async fn check(&self) -> ApiResult<()> {
        let limit = self.state.limits.refusals_per_user;
        let checked = self.state.limiter.check(&self.key, limit).await;
        checked.map_err(|e| self.refused(e))
    }

    /// Spends one before a refusal is journaled, or answers 429 if none is left.
    async fn spend_before(&self) -> ApiResult<()> {
        let limit = self.state.limits.refusals_per_user;
        let taken = self.state.limiter.acquire(&self.key, limit).await;
        taken.map_err(|e| self.refused(e))
    }

    /// Gives back one spent by [`Self::spend_before`] for a refusal that was not journaled.
    async fn give_back(&self) {
        let limit = self.state.limits.refusals_per_user;
        crate::limits::release_quietly(self.state.limiter.as_ref(), &self.key, limit).await;
    }

    /// Spends one for a refusal found under the lease (already journaled: counted whatever the
    /// budget says; a store that is away only loses the count).
    async fn spend(&self) {
        let limit = self.state.limits.refusals_per_user;
        if let Err(e) = self.state.limiter.record(&self.key, limit).await {
            tracing::warn!(error = %e, "refused order not counted");
        }
    }
}

/// Completes a journal entry with an error the client gets (stored for replays by its key);
/// returns the error to answer with. A failed write is logged and the error answered all the
/// same: the entry stays pending and the reconciler settles it once it is past its deadline.
async fn complete_with_error(
    state: &AppState,
    user: &UserCtx,
    entry: Uuid,
    status: JournalStatus,
    err: ApiError,
) -> ApiError {
    complete_with_error_noted(state, user, entry, status, err, None).await
}

/// As [`complete_with_error`]; the journal's `error` is the code followed by `note` (which rule
/// refused it), e.g. `risk_limit_exceeded: max_volume`.
async fn complete_with_error_noted(
    state: &AppState,
    user: &UserCtx,
    entry: Uuid,
    status: JournalStatus,
    err: ApiError,
    note: Option<&str>,
) -> ApiError {
    let stored = error_outcome(&err);
    let code = err.status_and_code().1;
    let completion = Completion {
        status: Some(status),
        error: Some(match note {
            Some(n) => format!("{code}: {n}"),
            None => code.to_string(),
        }),
        response: Some(stored_response(&stored)),
        ..Default::default()
    };
    match state.store.complete(user, entry, completion).await {
        Ok(()) => state.events.journal_changed(user.user_id, entry),
        Err(e) => {
            tracing::warn!(journal_id = %entry, error = %e, "journal entry not completed");
            state.reconciler.wake();
        }
    }
    err
}

async fn idempotent_replay(
    state: &AppState,
    user: &UserCtx,
    entry: JournalEntry,
    hash: &str,
    request: &Value,
) -> ApiResult<Done> {
    if !same_request(entry.request_hash.as_deref(), hash, request) {
        return Err(ApiError::IdempotencyKeyReused);
    }
    if entry.status == JournalStatus::Refused && entry.response.is_none() {
        return Err(ApiError::TradingDisabled);
    }
    await_first(state, user, entry).await.map(Done::replayed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_arguments_name_mt5s_argument() {
        let fields = |e: ApiError| match e {
            ApiError::Validation(f) => f,
            other => panic!("{other:?}"),
        };
        let f = fields(crate::error::invalid_argument(
            "Invalid \"volume\" argument",
        ));
        assert_eq!(
            (f[0].field.as_str(), f[0].message.as_str()),
            ("volume", "Invalid \"volume\" argument")
        );
        assert_eq!(
            fields(crate::error::invalid_argument("Invalid arguments"))[0].field,
            "request"
        );
        // Only a plain argument name is quoted back as a field.
        assert_eq!(
            fields(crate::error::invalid_argument(
                "Invalid \"a b<script>\" argument"
            ))[0]
                .field,
            "request"
        );
        let e = ApiError::from(TerminalError::invalid_argument("sl"));
        assert_eq!(e.status_and_code().1, "validation_failed");
        assert_eq!(fields(e)[0].field, "sl");
    }

    #[test]
    fn comments_fit_mt5() {
        let id = new_client_id();
        assert_eq!(id.len(), 12);
        assert!(id.starts_with("mb"));
        let c = order_comment(&id, Some("my strategy: v2 ✓ extra words here"));
        assert!(c.len() <= COMMENT_MAX, "{c}");
        assert!(c.starts_with(&id));
        assert!(c.is_ascii());
        assert_eq!(order_comment("mbabc", None), "mbabc");
        assert!(is_client_id(&id));
        for bad in [
            "mbABCDEFGHJK",
            "mb",
            "xbabcdefghjk",
            "mbabcdefghjkm",
            "mbabcdefghj1",
            "mbabcdefghjl",
        ] {
            assert!(!is_client_id(bad), "{bad}");
        }
        assert!(comment_has_client_id(&c, &id));
        assert!(comment_has_client_id(&id, &id));
        let longer = format!("{id}x");
        assert!(
            !comment_has_client_id(&longer, &id),
            "a prefix alone is not a match"
        );
        assert!(!comment_has_client_id(&format!("x{id}"), &id));
        assert!(
            !comment_has_client_id("mb", "mb"),
            "only the service's form matches"
        );
        assert_ne!(
            request_hash(&json!({"a": 1})),
            request_hash(&json!({"a": 2}))
        );
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let req = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
        let f = request_fingerprint("place", a, &req);
        assert_eq!(f.len(), 64);
        assert_eq!(f, request_fingerprint("place", a, &req));
        assert_ne!(
            f,
            request_fingerprint("place", b, &req),
            "bound to the account"
        );
        assert_ne!(
            f,
            request_fingerprint("close_position", a, &req),
            "and the route"
        );
        assert_ne!(f, request_fingerprint("place", a, &json!({"volume": 0.2})));
        assert!(same_request(Some(&f), &f, &req));
        assert!(!same_request(
            Some(&request_fingerprint("place", b, &req)),
            &f,
            &req
        ));
        // An entry from before fingerprints: its 16-hex hash of the request alone.
        assert!(same_request(Some(&request_hash(&req)), &f, &req));
        assert!(!same_request(Some(&request_hash(&json!({}))), &f, &req));
        assert!(!same_request(None, &f, &req));
    }
}
