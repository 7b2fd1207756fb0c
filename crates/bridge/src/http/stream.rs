//! `GET /api/v1/stream`: live updates over a WebSocket (docs/streaming.md).
//!
//! A connection authenticates (the upgrade's `Authorization: Bearer`, or a first message
//! `{"type":"auth","token"}` within 10 s), then subscribes to channels of the user's accounts and
//! receives `event`s. Each connection has its own writer and queue: a client that reads slowly
//! fills only its own queue and is closed (4008 `slow_consumer`) when it is `STREAM_BUFFER`
//! messages behind; nobody else waits for it. A client that stops reading entirely is cut off
//! when one send has waited `SEND_TIMEOUT`.
//!
//! Before anything is parsed, a message or frame over [`MAX_MESSAGE`] is refused (close 1009), and
//! streams still waiting for their sign-in are capped per process (`STREAM_MAX_PENDING`).

pub mod messages;

use self::messages::{
    Auth, Event, Ready, Status, StreamError, StreamMessage, Subscribe, Subscribed, Unsubscribed,
    TOKEN_EXPIRED,
};
pub use self::messages::{CHANNELS, MAX_SUBSCRIPTIONS, MAX_SYMBOLS};
use super::algorithms::RunView;
use super::extract::{authenticate, AuthUser};
use super::history::JournalEntryView;
use crate::error::{ApiError, FieldError};
use crate::events::{Change, Kind, StreamSlot};
use crate::state::AppState;
use crate::ticks::{Feed, TickWatch, TooManySymbols, TICK_EVERY};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use uuid::Uuid;

/// How long an unauthenticated connection may take to send its `auth` message.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(20);
/// How long a closing connection's last messages and close frame may take to leave.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long one message may take to leave: a client that stops reading is then cut off (it could
/// not receive a close frame either).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest message or frame a client may send (far above any message of the protocol).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Close code of a message or frame over [`MAX_MESSAGE`].
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;
/// Close codes: authentication failed or expired; too many streams of this user; the client fell
/// too far behind.
pub const CLOSE_UNAUTHENTICATED: u16 = 4001;
pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
pub const CLOSE_TOO_MANY_STREAMS: u16 = 4029;
/// The stream cannot be counted (Redis does not answer): try again later.
pub const CLOSE_UNAVAILABLE: u16 = 1013;

/// Changes taken from the bus at once, at most.
const CHANGE_BATCH: usize = 256;
/// Entries whose last sent view a connection remembers, to send a change once.
const SENT_REMEMBERED: usize = 1000;

/// Channels whose events are the whole of a route's body, sent on subscribe and after each of the
/// account's orders completes.
const SNAPSHOTS: &[&str] = &["positions", "account"];

/// Live updates over a WebSocket (docs/streaming.md).
///
/// With `Authorization: Bearer` on the upgrade a bad token answers `401` without upgrading;
/// without it, the first message must be `{"type":"auth","token":"<jwt>"}` within 10 s. A user
/// with `STREAM_MAX_CONNECTIONS_PER_USER` streams open gets `429 rate_limited` (scope
/// `streams_per_user`). Without a token, at most `STREAM_MAX_PENDING` upgrades may wait for their
/// `auth` message at once: more answer `503 too_many_connections`.
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "trading",
    operation_id = "stream",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, response = super::doc::Unauthorized),
        (status = 426, description = "`upgrade_required`: not a WebSocket upgrade request", body = super::doc::ErrorBody),
        (status = 429, response = super::doc::RateLimited),
        (status = 500, response = super::doc::Internal),
        (status = 503, description = "`too_many_connections`: `STREAM_MAX_PENDING` streams are waiting for their sign-in; `redis_unavailable`: `REDIS_URL` is set and Redis does not answer (open streams are counted there). `Retry-After: 1`", body = super::doc::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let signed = match header {
        None => None,
        Some(h) => {
            let token = match crate::auth::bearer_token(Some(h)) {
                Ok(t) => t,
                Err(_) => {
                    return ApiError::Unauthorized("Authorization must be `Bearer <jwt>`".into())
                        .into_response()
                }
            };
            let user = match authenticate(&state, token).await {
                Ok(u) => u,
                Err(e) => return e.into_response(),
            };
            Some(user)
        }
    };
    let Ok(ws) = ws else {
        return ApiError::UpgradeRequired.into_response();
    };
    let ws = ws.max_message_size(MAX_MESSAGE).max_frame_size(MAX_MESSAGE);
    let start = match signed {
        Some(user) => match open(&state, &user).await {
            Ok(place) => Start::Signed(Box::new((user, place))),
            Err(e) => return e.into_response(),
        },
        None => match state.events.pending_stream() {
            Some(permit) => Start::Pending(permit),
            None => {
                state.metrics.rate_limited("stream_pending");
                return ApiError::TooManyConnections.into_response();
            }
        },
    };
    ws.on_upgrade(move |socket| run(socket, state, start))
}

/// How a connection starts: signed in on the upgrade, or holding a place among those waiting for
/// their `auth` message (given back once it is read, or when the connection ends).
enum Start {
    Signed(Box<(AuthUser, Place)>),
    Pending(tokio::sync::OwnedSemaphorePermit),
}

/// A stream's places: among its user's streams in this process (its channel of changes) and,
/// with Redis, among the user's streams on every replica.
struct Place {
    slot: StreamSlot,
    shared: Option<(crate::shared_state::Redis, uuid::Uuid, String)>,
}

impl Place {
    /// Keeps the place across replicas alive (every `STREAM_SLOT_RENEW`).
    async fn renew(&self) {
        if let Some((redis, user, member)) = &self.shared {
            if let Err(e) = crate::shared_state::renew_stream_slot(redis, *user, member).await {
                tracing::warn!(error = %e, "stream: place not renewed");
            }
        }
    }

    /// Gives the places back, awaited when the stream ends (a `Drop` could not await Redis).
    async fn release(self) {
        if let Some((redis, user, member)) = &self.shared {
            if let Err(e) = crate::shared_state::release_stream_slot(redis, *user, member).await {
                // It expires by itself within STREAM_SLOT_TTL.
                tracing::warn!(error = %e, "stream: place not given back");
            }
        }
        drop(self.slot);
    }
}

async fn open(state: &AppState, user: &AuthUser) -> Result<Place, ApiError> {
    let max = state.stream.max_connections_per_user;
    let refused = || {
        state.metrics.rate_limited("streams_per_user");
        ApiError::RateLimited {
            scope: "streams_per_user",
            limit: u32::try_from(max).unwrap_or(u32::MAX),
            window_s: 0,
            retry_after_s: 1,
        }
    };
    let user_id = user.ctx.user_id;
    let slot = state.events.open_stream(user_id, max).ok_or_else(refused)?;
    let shared = match &state.redis {
        None => None,
        Some(redis) => {
            let member = uuid::Uuid::new_v4().to_string();
            if !crate::shared_state::open_stream_slot(redis, user_id, &member, max).await? {
                return Err(refused());
            }
            Some((redis.clone(), user_id, member))
        }
    };
    Ok(Place { slot, shared })
}

/// tungstenite's refusal of a message or frame over [`MAX_MESSAGE`]: it sends nothing itself, so
/// the close 1009 is ours to send.
fn too_big(e: &axum::Error) -> bool {
    std::error::Error::source(e)
        .and_then(|inner| inner.downcast_ref::<tungstenite::Error>())
        .is_some_and(|inner| matches!(inner, tungstenite::Error::Capacity(_)))
}

/// The writer's end: messages queue here; a full queue closes the connection as a slow consumer.
struct Outbox {
    queue: mpsc::Sender<Message>,
    close: Option<oneshot::Sender<CloseFrame>>,
    /// The last event's `seq`: one sequence per connection, across its subscriptions.
    seq: u64,
}

impl Outbox {
    /// Queues `msg`; false when the client is too far behind (or gone).
    fn send(&self, msg: Message) -> bool {
        self.queue.try_send(msg).is_ok()
    }

    fn json(&self, v: Value) -> bool {
        self.send(Message::Text(Utf8Bytes::from(v.to_string())))
    }

    /// Queues the next event of subscription `id`, counted in `mt5b_stream_events_total`.
    fn event(
        &mut self,
        state: &AppState,
        id: &str,
        channel: &'static str,
        account_id: Uuid,
        data: &Value,
    ) -> bool {
        self.seq += 1;
        state.metrics.stream_event(channel);
        self.json(
            Event {
                id: id.into(),
                channel: channel.into(),
                account_id,
                seq: self.seq,
                data: std::borrow::Cow::Borrowed(data),
            }
            .to_json(),
        )
    }

    /// Closes with `code` and `reason`, ahead of anything still queued.
    fn close(&mut self, code: u16, reason: &'static str) {
        if let Some(tx) = self.close.take() {
            let _ = tx.send(CloseFrame {
                code,
                reason: Utf8Bytes::from_static(reason),
            });
        }
    }
}

/// One subscription of a connection.
struct Subscription {
    channel: &'static str,
    account_id: Uuid,
    /// The account as it was resolved, for the snapshot channels' reads.
    row: crate::store::AccountRow,
    /// `ticks`: each symbol's feed (shared with every watcher of it on the account's server).
    ticks: Vec<(String, TickWatch)>,
    /// `ticks`: `waiting_for_terminal` was said and no tick has come since.
    waiting: bool,
    /// `backtests` or `bots` without an `account_id`: every account of the user's.
    all_accounts: bool,
}

async fn run(socket: WebSocket, state: AppState, start: Start) {
    let (mut sink, mut incoming) = socket.split();
    let (queue, mut rx) = mpsc::channel::<Message>(state.stream.buffer);
    let (close_tx, mut close_rx) = oneshot::channel::<CloseFrame>();
    // Dropped when the writer ends: the connection's loop then ends at once.
    let (gone_tx, mut gone) = oneshot::channel::<()>();
    let metrics = state.metrics.clone();
    let writer = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                frame = &mut close_rx => {
                    if let Ok(frame) = frame {
                        // What was queued before the close goes first (the error that says
                        // why), within CLOSE_GRACE: a client that does not read may never take
                        // the close frame either, and is then cut off.
                        let _ = tokio::time::timeout(CLOSE_GRACE, async {
                            while let Ok(msg) = rx.try_recv() {
                                if sink.send(msg).await.is_err() {
                                    return;
                                }
                            }
                            let _ = sink.send(Message::Close(Some(frame))).await;
                        })
                        .await;
                    }
                    break;
                }
                msg = rx.recv() => match msg {
                    Some(msg) => match tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break,
                        Err(_) => {
                            // The client stopped reading: nothing more can reach it, the close
                            // frame included. The socket is dropped now.
                            metrics.stream_slow_consumer();
                            drop(gone_tx);
                            return;
                        }
                    },
                    None => break,
                },
            }
        }
        drop(gone_tx);
        let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
    });
    let mut out = Outbox {
        queue,
        close: Some(close_tx),
        seq: 0,
    };

    let signed = match start {
        Start::Signed(signed) => Some(*signed),
        Start::Pending(permit) => {
            let signed = first_auth(&state, &mut incoming, &mut out, &mut gone).await;
            drop(permit);
            signed
        }
    };
    if let Some((user, place)) = signed {
        serve(&state, user, &place, &mut incoming, &mut out, &mut gone).await;
        place.release().await;
    }
    drop(out);
    drop(incoming);
    let _ = writer.await;
}

/// Reads the `auth` message of a connection that upgraded without a token.
async fn first_auth(
    state: &AppState,
    incoming: &mut futures_util::stream::SplitStream<WebSocket>,
    out: &mut Outbox,
    gone: &mut oneshot::Receiver<()>,
) -> Option<(AuthUser, Place)> {
    // The whole message, fragments included, must arrive within AUTH_TIMEOUT.
    let first = tokio::time::timeout(AUTH_TIMEOUT, async {
        loop {
            tokio::select! {
                msg = incoming.next() => match msg {
                    Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Err(e)) if too_big(&e) => return Err(true),
                    _ => return Err(false),
                },
                _ = &mut *gone => return Err(false),
            }
        }
    })
    .await;
    let text = match first {
        Ok(Ok(t)) => t,
        Ok(Err(true)) => {
            out.close(CLOSE_MESSAGE_TOO_BIG, "message_too_big");
            return None;
        }
        Ok(Err(false)) => return None,
        Err(_) => {
            refuse_auth(out, "no auth message within 10 s");
            return None;
        }
    };
    let token = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| Auth::from_json(&v))
        .map(|auth| auth.token);
    let Some(token) = token else {
        refuse_auth(
            out,
            "the first message must be {\"type\":\"auth\",\"token\":\"<jwt>\"}",
        );
        return None;
    };
    let user = match authenticate(state, &token).await {
        Ok(u) => u,
        Err(e) => {
            refuse_auth(out, &e.public_message());
            return None;
        }
    };
    match open(state, &user).await {
        Ok(place) => Some((user, place)),
        Err(e) => {
            out.json(error_message(None, &e));
            if matches!(e, ApiError::RateLimited { .. }) {
                out.close(CLOSE_TOO_MANY_STREAMS, "rate_limited");
            } else {
                out.close(CLOSE_UNAVAILABLE, "redis_unavailable");
            }
            None
        }
    }
}

fn refuse_auth(out: &mut Outbox, message: &str) {
    out.json(StreamError::plain("unauthorized", message).to_json());
    out.close(CLOSE_UNAUTHENTICATED, "unauthorized");
}

/// `{"type":"error", "id"?, "code", "message", "details"}` for an API error.
fn error_message(id: Option<&str>, e: &ApiError) -> Value {
    StreamError::of(id, e).to_json()
}

/// Seconds until the token's `exp` (0 when past).
fn until(exp: i64) -> Duration {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Duration::from_secs(u64::try_from(exp.saturating_sub(now)).unwrap_or(0))
}

async fn serve(
    state: &AppState,
    mut user: AuthUser,
    place: &Place,
    incoming: &mut futures_util::stream::SplitStream<WebSocket>,
    out: &mut Outbox,
    gone: &mut oneshot::Receiver<()>,
) {
    let user_id = user.ctx.user_id;
    if !out.json(Ready { user_id }.to_json()) {
        return;
    }
    // Only this user's changes reach this channel.
    let mut changes = place.slot.changes();
    let mut renew = tokio::time::interval(crate::shared_state::STREAM_SLOT_RENEW);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew.tick().await;
    let mut subscriptions: HashMap<String, Subscription> = HashMap::new();
    let mut sent: HashMap<Uuid, Value> = HashMap::new();
    // The last snapshot sent on each subscription of the snapshot channels.
    let mut snapshots: HashMap<String, Value> = HashMap::new();
    let mut poll = tokio::time::interval(state.stream.poll);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ticks = tokio::time::interval(TICK_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let expiry = tokio::time::sleep(until(user.claims.exp));
    tokio::pin!(expiry);
    loop {
        tokio::select! {
            _ = &mut *gone => return,
            msg = incoming.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Err(e)) if too_big(&e) => {
                        out.close(CLOSE_MESSAGE_TOO_BIG, "message_too_big");
                        return;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let reply = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(m)) => {
                        handle(state, &mut user, &mut subscriptions, &m).await
                    }
                    _ => Reply::Send(error_message(
                        None,
                        &ApiError::validation("message", "must be a JSON object with a `type`"),
                    )),
                };
                match reply {
                    Reply::Send(v) => {
                        if !out.json(v) {
                            return slow(state, out);
                        }
                    }
                    Reply::Subscribed(v, id) => {
                        if !out.json(v) {
                            return slow(state, out);
                        }
                        if let Some(sub) = subscriptions.get(&id) {
                            if SNAPSHOTS.contains(&sub.channel) {
                                let sent = send_snapshot(
                                    state, out, &mut snapshots, &id, sub.channel,
                                    &sub.row, Read::Now,
                                )
                                .await;
                                if !sent {
                                    return slow(state, out);
                                }
                            }
                        }
                    }
                    Reply::Reauthenticated(v) => {
                        expiry.as_mut().reset(tokio::time::Instant::now() + until(user.claims.exp));
                        if !out.json(v) {
                            return slow(state, out);
                        }
                    }
                    Reply::Close(v) => {
                        out.json(v);
                        out.close(CLOSE_UNAUTHENTICATED, "unauthorized");
                        return;
                    }
                }
            }
            change = changes.recv() => match change {
                Ok(first) => {
                    // Everything already waiting is taken with it: a change read once covers
                    // every earlier one of the same entry (an order's `pending` and `done` that
                    // arrived together cost one read), and snapshots are read once per batch.
                    let mut batch = vec![first];
                    while batch.len() < CHANGE_BATCH {
                        match changes.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(broadcast::error::TryRecvError::Lagged(_)) => {
                                return slow(state, out)
                            }
                            Err(_) => break,
                        }
                    }
                    state.metrics.stream_changes_read(batch.len());
                    let (accounts, batch): (Vec<Change>, Vec<Change>) = batch
                        .into_iter()
                        .partition(|c| matches!(c.kind, Kind::AccountDeleted | Kind::AccountChanged));
                    if !follow_accounts(state, &user, out, &mut subscriptions, accounts).await {
                        return slow(state, out);
                    }
                    let mine = own_changes(user_id, batch);
                    let ok = send_changes(
                        state, &user, out, &subscriptions, &mut sent, &mut snapshots,
                        mine,
                    )
                    .await;
                    if !ok {
                        return slow(state, out);
                    }
                }
                // Changes were missed: this connection could not keep up.
                Err(broadcast::error::RecvError::Lagged(_)) => return slow(state, out),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = poll.tick() => {
                // Changes made outside the service (stops hit, trades in the terminal, prices):
                // read only where a terminal is on the account and idle.
                let mut due: Vec<(&String, &Subscription)> = subscriptions
                    .iter()
                    .filter(|(_, s)| SNAPSHOTS.contains(&s.channel))
                    .collect();
                due.sort_by_key(|(id, _)| *id);
                for (id, sub) in due {
                    let sent = send_snapshot(
                        state, out, &mut snapshots, id, sub.channel, &sub.row,
                        Read::IfIdle,
                    )
                    .await;
                    if !sent {
                        return slow(state, out);
                    }
                }
            }
            _ = ticks.tick() => {
                if !send_ticks(state, out, &mut subscriptions) {
                    return slow(state, out);
                }
            }
            _ = renew.tick() => place.renew().await,
            _ = ping.tick() => {
                if !out.send(Message::Ping(Default::default())) {
                    return slow(state, out);
                }
            }
            _ = &mut expiry => {
                out.json(StreamError::plain(TOKEN_EXPIRED, "the token expired; send a new one before it does").to_json());
                out.close(CLOSE_UNAUTHENTICATED, "token_expired");
                return;
            }
        }
    }
}

/// The changes of `user_id` in `batch`, each entry or run once (at its last place: it is read as
/// it is now anyway).
fn own_changes(user_id: Uuid, batch: Vec<Change>) -> Vec<Change> {
    let mut mine: Vec<Change> = Vec::with_capacity(batch.len());
    for c in batch.into_iter().filter(|c| c.user_id == user_id) {
        mine.retain(|m| (m.kind, m.id) != (c.kind, c.id));
        mine.push(c);
    }
    mine
}

/// Ends the subscriptions on a deleted account (an `error` `account_not_found` naming each), and
/// makes those on an account whose credential changed read its row again, so their reads go on
/// with the new credential. False when the client is too far behind.
async fn follow_accounts(
    state: &AppState,
    user: &AuthUser,
    out: &mut Outbox,
    subscriptions: &mut HashMap<String, Subscription>,
    changes: Vec<Change>,
) -> bool {
    for c in changes {
        // A user-wide subscription outlives any one account.
        if !subscriptions
            .values()
            .any(|s| s.account_id == c.id && !s.all_accounts)
        {
            continue;
        }
        let row = match c.kind {
            Kind::AccountChanged => match state.store.get_account(&user.ctx, c.id).await {
                Ok(row) => row,
                Err(e) => {
                    // The next change or subscription reads it again; the old row stays meanwhile.
                    tracing::warn!(error = %e, "stream: changed account not read");
                    continue;
                }
            },
            _ => None,
        };
        let mut ids: Vec<String> = subscriptions
            .iter()
            .filter(|(_, s)| s.account_id == c.id && !s.all_accounts)
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        for id in ids {
            match &row {
                Some(row) => {
                    if let Some(sub) = subscriptions.get_mut(&id) {
                        sub.row = row.clone();
                    }
                }
                None => {
                    subscriptions.remove(&id);
                    if !out.json(error_message(Some(&id), &ApiError::AccountNotFound)) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Sends the `orders`/`runs` events of `changes` (read as the user), then, once per account whose
/// order completed, its `positions`/`account` snapshots. False when the client is too far behind.
async fn send_changes(
    state: &AppState,
    user: &AuthUser,
    out: &mut Outbox,
    subscriptions: &HashMap<String, Subscription>,
    sent: &mut HashMap<Uuid, Value>,
    snapshots: &mut HashMap<String, Value>,
    changes: Vec<Change>,
) -> bool {
    let mut completed: Vec<Uuid> = Vec::new();
    for c in changes {
        let channel = match c.kind {
            Kind::Journal => "orders",
            Kind::Run => "runs",
            Kind::Backtest => "backtests",
            Kind::Bot => "bots",
            Kind::AccountDeleted | Kind::AccountChanged => continue,
        };
        let wanted = |s: &Subscription| {
            s.channel == channel || (c.kind == Kind::Journal && SNAPSHOTS.contains(&s.channel))
        };
        if !subscriptions.values().any(wanted) {
            continue;
        }
        // Read as the user: the store's own checks decide what they may see.
        let Some((account_id, data)) = read_change(state, user, c).await else {
            continue;
        };
        // Changes are read as they are now: two changes read after both happened show the same
        // thing, sent once.
        if sent.get(&c.id) == Some(&data) {
            continue;
        }
        if sent.len() >= SENT_REMEMBERED {
            sent.clear();
        }
        sent.insert(c.id, data.clone());
        let mut ids: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, s)| s.channel == channel && (s.account_id == account_id || s.all_accounts))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        for id in ids {
            if !out.event(state, id, channel, account_id, &data) {
                return false;
            }
        }
        // An order of the account completed: its positions and account changed.
        if c.kind == Kind::Journal
            && data["status"] != "pending"
            && !completed.contains(&account_id)
        {
            completed.push(account_id);
        }
    }
    let mut due: Vec<(&String, &Subscription)> = subscriptions
        .iter()
        .filter(|(_, s)| SNAPSHOTS.contains(&s.channel) && completed.contains(&s.account_id))
        .collect();
    due.sort_by_key(|(id, _)| *id);
    for (id, sub) in due {
        let ok = send_snapshot(state, out, snapshots, id, sub.channel, &sub.row, Read::Now).await;
        if !ok {
            return false;
        }
    }
    true
}

/// The changed entry or run as its route shows it, with its account; None when the user may not
/// see it (or it is gone).
async fn read_change(state: &AppState, user: &AuthUser, c: Change) -> Option<(Uuid, Value)> {
    let read = match c.kind {
        Kind::AccountDeleted | Kind::AccountChanged => return None,
        Kind::Journal => state.store.get_entry(&user.ctx, c.id).await.map(|e| {
            e.map(|e| {
                let view = serde_json::to_value(JournalEntryView::from(&e));
                (e.account_id, view)
            })
        }),
        Kind::Run => state.store.get_run(&user.ctx, c.id).await.map(|r| {
            r.map(|r| {
                let view = serde_json::to_value(RunView::from(&r));
                (r.account_id, view)
            })
        }),
        Kind::Backtest => match state.store.get_backtest(&user.ctx, c.id).await {
            Ok(Some(row)) => super::backtests::full_view(state, user, &row)
                .await
                .map(|v| Some((row.account_id, serde_json::to_value(v))))
                .map_err(|e| crate::store::StoreError::Database(e.to_string())),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        },
        Kind::Bot => match state.store.get_bot(&user.ctx, c.id).await {
            Ok(Some(row)) => super::bots::view(state, user, &row)
                .await
                .map(|v| Some((row.account_id, serde_json::to_value(v))))
                .map_err(|e| crate::store::StoreError::Database(e.to_string())),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        },
    };
    match read {
        Ok(Some((account, Ok(view)))) => Some((account, view)),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, kind = c.kind.as_str(), "stream: change not read");
            None
        }
    }
}

/// How a snapshot channel's body is read: now, through the pool like any request (on subscribe,
/// after an order), or only from a terminal already on the account and idle (polls).
#[derive(Clone, Copy, PartialEq)]
enum Read {
    Now,
    IfIdle,
}

/// A snapshot channel's body (as `GET /api/v1/positions` or `GET /api/v1/account` gives it);
/// None when a poll found no idle terminal on the account (or failed: the next one tries again).
async fn snapshot(
    state: &AppState,
    row: &crate::store::AccountRow,
    channel: &'static str,
    how: Read,
) -> Option<Result<Value, ApiError>> {
    let positions = |t: std::sync::Arc<dyn mt5::Terminal>,
                     at: mt5::Expected|
     -> crate::pool::BoxFuture<
        Result<(Vec<mt5::TradePosition>, i64), mt5::TerminalError>,
    > {
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            Ok((
                t.positions(&at, &mt5::PositionFilter::default()).await?,
                offset,
            ))
        })
    };
    let account = |t: std::sync::Arc<dyn mt5::Terminal>,
                   at: mt5::Expected|
     -> crate::pool::BoxFuture<Result<mt5::AccountInfo, mt5::TerminalError>> {
        Box::pin(async move { t.account_info(&at).await })
    };
    let positions_body = |(list, offset)| {
        serde_json::to_value(super::positions::PositionList {
            positions: crate::times::Utc(list, offset),
        })
    };
    let account_body = |info| {
        serde_json::to_value(super::market::AccountInfoBody {
            account_id: row.id,
            info,
        })
    };
    let read: Result<Result<Value, serde_json::Error>, ApiError> = match how {
        Read::Now => match channel {
            "positions" => crate::trading::read(state, row, positions)
                .await
                .map(positions_body),
            _ => crate::trading::read(state, row, account)
                .await
                .map(account_body),
        },
        Read::IfIdle => {
            let session = state.credentials.session(row).await.ok()?;
            match channel {
                "positions" => Ok(positions_body(
                    state.pool.run_if_idle(&session, positions).await?.ok()?,
                )),
                _ => Ok(account_body(
                    state.pool.run_if_idle(&session, account).await?.ok()?,
                )),
            }
        }
    };
    Some(match read {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::Internal(e.to_string())),
        Err(e) => Err(e),
    })
}

/// Reads a snapshot channel's body and sends it as an event when it differs from the last one
/// sent on this subscription (a failed read that was asked for is an `error` with the
/// subscription's id). False when the client is too far behind.
async fn send_snapshot(
    state: &AppState,
    out: &mut Outbox,
    last: &mut HashMap<String, Value>,
    id: &str,
    channel: &'static str,
    row: &crate::store::AccountRow,
    how: Read,
) -> bool {
    match snapshot(state, row, channel, how).await {
        None => true,
        Some(Ok(data)) => {
            if last.get(id) == Some(&data) {
                return true;
            }
            let sent = out.event(state, id, channel, row.id, &data);
            last.insert(id.to_string(), data);
            sent
        }
        Some(Err(e)) => out.json(error_message(Some(id), &e)),
    }
}

/// Sends what changed in the feeds of the `ticks` subscriptions since the last round: a tick
/// event, `waiting_for_terminal` once per wait, or an error for a symbol the server lacks (which
/// leaves the subscription). False when the client is too far behind.
fn send_ticks(
    state: &AppState,
    out: &mut Outbox,
    subscriptions: &mut HashMap<String, Subscription>,
) -> bool {
    let mut ids: Vec<String> = subscriptions
        .iter()
        .filter(|(_, s)| !s.ticks.is_empty())
        .map(|(id, _)| id.clone())
        .collect();
    ids.sort();
    for id in ids {
        let Some(sub) = subscriptions.get_mut(&id) else {
            continue;
        };
        let mut gone = Vec::new();
        for (symbol, held) in &mut sub.ticks {
            let feed = &mut held.feed;
            if !feed.has_changed().unwrap_or(false) {
                continue;
            }
            let now = feed.borrow_and_update().clone();
            let sent = match now {
                Feed::Starting => true,
                Feed::WaitingForTerminal if sub.waiting => true,
                Feed::WaitingForTerminal => {
                    sub.waiting = true;
                    out.json(Status::waiting(&id).to_json())
                }
                Feed::Tick(data) => {
                    sub.waiting = false;
                    out.event(state, &id, "ticks", sub.account_id, &data)
                }
                Feed::NotFound => {
                    gone.push(symbol.clone());
                    let e = StreamError {
                        details: Some(json!({ "symbol": symbol })),
                        ..StreamError::of(Some(&id), &ApiError::SymbolNotFound)
                    };
                    out.json(e.to_json())
                }
            };
            if !sent {
                return false;
            }
        }
        sub.ticks.retain(|(s, _)| !gone.contains(s));
    }
    true
}

fn slow(state: &AppState, out: &mut Outbox) {
    state.metrics.stream_slow_consumer();
    out.close(CLOSE_SLOW_CONSUMER, "slow_consumer");
}

enum Reply {
    Send(Value),
    /// A subscription is on (its id): for the snapshot channels its first event follows.
    Subscribed(Value, String),
    Reauthenticated(Value),
    Close(Value),
}

/// The answer to one client message.
async fn handle(
    state: &AppState,
    user: &mut AuthUser,
    subscriptions: &mut HashMap<String, Subscription>,
    m: &Map<String, Value>,
) -> Reply {
    let id = m.get("id").and_then(Value::as_str);
    match m.get("type").and_then(Value::as_str) {
        Some("auth") => {
            let token = m.get("token").and_then(Value::as_str).unwrap_or_default();
            match authenticate(state, token).await {
                Ok(u) if u.ctx.user_id == user.ctx.user_id => {
                    let ready = Ready {
                        user_id: u.ctx.user_id,
                    }
                    .to_json();
                    *user = u;
                    Reply::Reauthenticated(ready)
                }
                Ok(_) => Reply::Close(
                    StreamError::plain("unauthorized", "a new token must be of the same user")
                        .to_json(),
                ),
                Err(e) => Reply::Close(error_message(None, &e)),
            }
        }
        Some("subscribe") => {
            let answer = subscribe(state, user, subscriptions, m).await;
            match (answer["type"].as_str(), id) {
                (Some("subscribed"), Some(id)) => Reply::Subscribed(answer, id.to_string()),
                _ => Reply::Send(answer),
            }
        }
        Some("unsubscribe") => {
            let Some(id) = id.filter(|i| subscriptions.remove(*i).is_some()) else {
                return Reply::Send(error_message(
                    id,
                    &ApiError::validation("id", "is not a subscription of this connection"),
                ));
            };
            Reply::Send(Unsubscribed { id: id.to_string() }.to_json())
        }
        _ => Reply::Send(error_message(
            id,
            &ApiError::validation("type", "must be auth, subscribe or unsubscribe"),
        )),
    }
}

async fn subscribe(
    state: &AppState,
    user: &AuthUser,
    subscriptions: &mut HashMap<String, Subscription>,
    m: &Map<String, Value>,
) -> Value {
    let id = m.get("id").and_then(Value::as_str);
    let mut errors = Vec::new();
    match id {
        Some(i)
            if !i.is_empty() && i.chars().count() <= 128 && !i.chars().any(char::is_control) =>
        {
            if subscriptions.contains_key(i) {
                errors.push(FieldError::new("id", "is in use on this connection"));
            }
        }
        _ => errors.push(FieldError::new(
            "id",
            "must be a string of 1 to 128 characters",
        )),
    }
    let channel = m
        .get("channel")
        .and_then(Value::as_str)
        .and_then(|c| CHANNELS.iter().find(|k| **k == c).copied());
    if channel.is_none() {
        errors.push(FieldError::new(
            "channel",
            format!("must be one of: {}", CHANNELS.join(", ")),
        ));
    }
    let account = match m.get("account_id") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str().and_then(|s| Uuid::parse_str(s).ok()) {
            Some(a) => Some(a),
            None => {
                errors.push(FieldError::new("account_id", "must be a UUID"));
                None
            }
        },
    };
    let symbols = match (channel, m.get("symbols")) {
        (Some("ticks"), Some(Value::Array(list))) => {
            let mut names: Vec<String> = Vec::new();
            for (i, v) in list.iter().enumerate() {
                match v.as_str().filter(|s| crate::fields::is_symbol(s)) {
                    Some(s) => {
                        if !names.iter().any(|n| n == s) {
                            names.push(s.to_string());
                        }
                    }
                    None => errors.push(FieldError::new(
                        format!("symbols[{i}]"),
                        crate::fields::SYMBOL_RULE,
                    )),
                }
            }
            if list.is_empty() || list.len() > MAX_SYMBOLS {
                errors.push(FieldError::new(
                    "symbols",
                    format!("must list 1 to {MAX_SYMBOLS} symbols"),
                ));
            }
            names
        }
        (Some("ticks"), _) => {
            errors.push(FieldError::new(
                "symbols",
                format!("is required for ticks: a list of 1 to {MAX_SYMBOLS} symbols"),
            ));
            Vec::new()
        }
        (_, None) => Vec::new(),
        (_, Some(_)) => {
            errors.push(FieldError::new("symbols", "is only for the ticks channel"));
            Vec::new()
        }
    };
    for key in m.keys() {
        if !Subscribe::FIELDS.contains(&key.as_str()) {
            errors.push(FieldError::new(
                key.chars().take(64).collect::<String>(),
                "unknown field",
            ));
        }
    }
    if !errors.is_empty() {
        return error_message(id, &ApiError::fields(errors));
    }
    let (Some(id), Some(channel)) = (id, channel) else {
        return error_message(id, &ApiError::validation("id", "is required"));
    };
    if subscriptions.len() >= MAX_SUBSCRIPTIONS {
        state.metrics.rate_limited("subscriptions_per_connection");
        return error_message(
            Some(id),
            &ApiError::RateLimited {
                scope: "subscriptions_per_connection",
                limit: MAX_SUBSCRIPTIONS as u32,
                window_s: 0,
                retry_after_s: 0,
            },
        );
    }
    let row = match crate::context::resolve_account(
        state.store.as_ref(),
        state.sessions.as_ref(),
        &user.ctx,
        account,
    )
    .await
    {
        Ok(row) => row,
        Err(e) => return error_message(Some(id), &e),
    };
    let all_accounts = (channel == "backtests" || channel == "bots") && account.is_none();
    let answer = Subscribed {
        id: id.to_string(),
        account_id: (!all_accounts).then_some(row.id),
    }
    .to_json();
    let mut ticks = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let max = state.stream.max_symbols_per_user;
        match state
            .ticks
            .watch(user.ctx.user_id, &row.server, &symbol, max)
        {
            Ok(mut held) => {
                // What the feed shows already goes out at the next round.
                held.feed.mark_changed();
                ticks.push((symbol, held));
            }
            // The holds taken so far are given back as `ticks` drops.
            Err(TooManySymbols { limit }) => {
                state.metrics.rate_limited("symbols_per_user");
                return error_message(
                    Some(id),
                    &ApiError::RateLimited {
                        scope: "symbols_per_user",
                        limit: u32::try_from(limit).unwrap_or(u32::MAX),
                        window_s: 0,
                        retry_after_s: 0,
                    },
                );
            }
        }
    }
    subscriptions.insert(
        id.to_string(),
        Subscription {
            channel,
            account_id: row.id,
            row,
            ticks,
            waiting: false,
            all_accounts,
        },
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_keeps_the_user_s_changes_each_once_in_order() {
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let c = |user_id, kind, id| Change { user_id, kind, id };
        let batch = vec![
            c(me, Kind::Journal, a),
            c(other, Kind::Journal, b),
            c(me, Kind::Run, a),
            c(me, Kind::Journal, b),
            c(me, Kind::Journal, a),
        ];
        assert_eq!(
            own_changes(me, batch),
            vec![
                c(me, Kind::Run, a),
                c(me, Kind::Journal, b),
                c(me, Kind::Journal, a)
            ]
        );
    }
}
