//! State that replicas share through Redis (`REDIS_URL`): each user's current account, the rate
//! limits, and which replica drives which terminal agent (`crate::ownership`).
//!
//! Every call has a short deadline: a Redis that is away or slow makes the request that needs it
//! fail with 503 `redis_unavailable` at once rather than hang, and the connection manager
//! reconnects in the background, so requests succeed again as soon as Redis answers. Nothing that
//! must survive lives only here: orders, the journal and idempotency records are in the database.

use crate::context::SessionStore;
use crate::limits::{Exceeded, Limit, LimitError, RateLimiter};
use async_trait::async_trait;
use mt5::clock::Clock;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use uuid::Uuid;

pub use crate::unavailable::Unavailable;

/// Deadline of one Redis round trip.
const OP_TIMEOUT: Duration = Duration::from_millis(1_000);

/// One multiplexed, self-reconnecting connection and the key prefix of this deployment.
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
    /// For connections of their own (the relay's subscription).
    client: redis::Client,
    prefix: Arc<str>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: it is not kept, and nothing of it is printed.
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A lazy connection: the service starts even while Redis is away (it is then not ready).
    pub fn connect(url: &str, prefix: &str) -> Result<Redis, String> {
        let client = redis::Client::open(url)
            // The parser's message may quote the URL, password included: keep only its kind.
            .map_err(|e| format!("REDIS_URL is not a valid Redis URL ({:?})", e.kind()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(OP_TIMEOUT))
            .set_response_timeout(Some(OP_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("Redis client: {:?}", e.kind()))?;
        Ok(Redis {
            conn,
            client,
            prefix: Arc::from(prefix),
        })
    }

    pub fn key(&self, parts: &str) -> String {
        format!("{}{parts}", self.prefix)
    }

    /// Runs one command or script with the deadline, mapping every failure to [`Unavailable`].
    pub async fn run<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(OP_TIMEOUT, f(self.conn.clone())).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                tracing::warn!(operation = what, error_kind = ?e.kind(), "redis call failed");
                Err(Unavailable(format!("{what}: {:?}", e.kind())))
            }
            Err(_) => {
                tracing::warn!(operation = what, "redis call timed out");
                Err(Unavailable(format!("{what}: timed out")))
            }
        }
    }

    pub async fn ping(&self) -> Result<(), Unavailable> {
        self.run("ping", |mut c| async move {
            redis::cmd("PING").query_async::<String>(&mut c).await
        })
        .await
        .map(|_| ())
    }
}

/// Current accounts in Redis: `session:<user>` holds the account id, expiring after the TTL
/// without use (every read renews it, as the in-memory store does).
pub struct RedisSessions {
    redis: Redis,
    ttl: Duration,
}

impl RedisSessions {
    pub fn new(redis: Redis, ttl: Duration) -> Self {
        RedisSessions { redis, ttl }
    }

    fn key(&self, user: Uuid) -> String {
        self.redis.key(&format!("session:{user}"))
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn current(&self, user: Uuid) -> Result<Option<Uuid>, Unavailable> {
        let key = self.key(user);
        let ttl = self.ttl_ms();
        let v: Option<String> = self
            .redis
            .run("session get", |mut c| async move {
                redis::cmd("GETEX")
                    .arg(&key)
                    .arg("PX")
                    .arg(ttl)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        // A value that is not an id (written by something else) counts as no session.
        Ok(v.and_then(|s| Uuid::parse_str(&s).ok()))
    }

    async fn set(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable> {
        let key = self.key(user);
        let ttl = self.ttl_ms();
        self.redis
            .run("session set", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(account.to_string())
                    .arg("PX")
                    .arg(ttl)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }

    async fn clear_if(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable> {
        static CLEAR_IF: LazyLock<Script> = LazyLock::new(|| {
            Script::new(
                r"if redis.call('GET', KEYS[1]) == ARGV[1] then
                    return redis.call('DEL', KEYS[1])
                end
                return 0",
            )
        });
        let key = self.key(user);
        self.redis
            .run("session clear", |mut c| async move {
                CLEAR_IF
                    .key(&key)
                    .arg(account.to_string())
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }
}

/// Sliding-window limits in Redis: one sorted set of event times per key, changed only by Lua
/// scripts, so a check and its record are one atomic step across every replica.
pub struct RedisRateLimiter {
    redis: Redis,
    clock: Arc<dyn Clock>,
}

/// `KEYS[1]` the window; `ARGV`: now (ms), window (ms), max, mode (0 check, 1 acquire, 2 record),
/// a unique member. Returns `{allowed, retry_after_ms}`.
static WINDOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
    local now = tonumber(ARGV[1])
    local window = tonumber(ARGV[2])
    local max = tonumber(ARGV[3])
    local mode = ARGV[4]
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
    if mode == '2' then
        redis.call('ZADD', KEYS[1], now, ARGV[5])
        redis.call('PEXPIRE', KEYS[1], window)
        return {1, 0}
    end
    local n = redis.call('ZCARD', KEYS[1])
    if n < max then
        if mode == '1' then
            redis.call('ZADD', KEYS[1], now, ARGV[5])
            redis.call('PEXPIRE', KEYS[1], window)
        end
        return {1, 0}
    end
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    if wait < 1 then wait = 1 end
    return {0, wait}",
    )
});

impl RedisRateLimiter {
    pub fn new(redis: Redis, clock: Arc<dyn Clock>) -> Self {
        RedisRateLimiter { redis, clock }
    }

    async fn window(&self, key: &str, limit: Limit, mode: u8) -> Result<(), LimitError> {
        let key = self.redis.key(&format!("limit:{key}"));
        let now = self.clock.now_ms();
        let window_ms = limit.window.as_millis().min(i64::MAX as u128) as i64;
        // Several replicas may record in the same millisecond: the member must be unique.
        let member = format!("{now}-{}", Uuid::new_v4().simple());
        let (allowed, wait_ms): (i64, i64) = self
            .redis
            .run("rate limit", |mut c| async move {
                WINDOW
                    .key(&key)
                    .arg(now)
                    .arg(window_ms)
                    .arg(limit.max)
                    .arg(mode)
                    .arg(&member)
                    .invoke_async(&mut c)
                    .await
            })
            .await
            .map_err(LimitError::Unavailable)?;
        if allowed == 1 {
            Ok(())
        } else {
            Err(LimitError::Exceeded(Exceeded {
                retry_after: Duration::from_millis(wait_ms.max(1) as u64),
            }))
        }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn acquire(&self, key: &str, limit: Limit) -> Result<(), LimitError> {
        self.window(key, limit, 1).await
    }

    async fn check(&self, key: &str, limit: Limit) -> Result<(), LimitError> {
        self.window(key, limit, 0).await
    }

    async fn record(&self, key: &str, limit: Limit) -> Result<(), Unavailable> {
        match self.window(key, limit, 2).await {
            Ok(()) | Err(LimitError::Exceeded(_)) => Ok(()),
            Err(LimitError::Unavailable(u)) => Err(u),
        }
    }

    async fn release(&self, key: &str, _limit: Limit) -> Result<(), Unavailable> {
        let key = self.redis.key(&format!("limit:{key}"));
        self.redis
            .run("rate limit release", |mut c| async move {
                redis::cmd("ZPOPMAX")
                    .arg(&key)
                    .query_async::<redis::Value>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }
}

/// Credentials MT5 refused, shared by replicas: `refused:<row id>:<envelope hash>` holds the
/// refusal (MT5's code and message, no secret) for [`REFUSED_TTL`].
pub struct RedisRefused {
    redis: Redis,
}

/// How long a refusal is remembered: a new password through the API makes a new envelope (and
/// so a new key) at once; this only bounds what Redis keeps for envelopes nobody fixes.
pub const REFUSED_TTL: Duration = Duration::from_secs(90 * 86_400);

impl RedisRefused {
    pub fn new(redis: Redis) -> Self {
        RedisRefused { redis }
    }
}

#[async_trait]
impl crate::credentials::RefusedStore for RedisRefused {
    async fn get(&self, id: &str) -> Result<Option<crate::error::CredentialProblem>, Unavailable> {
        let key = self.redis.key(&format!("refused:{id}"));
        let v: Option<String> = self
            .redis
            .run("refused get", |mut c| async move {
                redis::cmd("GET").arg(&key).query_async(&mut c).await
            })
            .await?;
        // Anything unreadable still means refused: no login is tried with it.
        Ok(v.map(|s| {
            serde_json::from_str(&s).unwrap_or(crate::error::CredentialProblem::RefusedByMt5 {
                code: mt5::error::last_error::AUTH_FAILED,
                message: "Authorization failed".into(),
            })
        }))
    }

    async fn put(
        &self,
        id: &str,
        problem: &crate::error::CredentialProblem,
    ) -> Result<(), Unavailable> {
        let key = self.redis.key(&format!("refused:{id}"));
        let value = serde_json::to_string(problem).map_err(|e| Unavailable(e.to_string()))?;
        self.redis
            .run("refused put", |mut c| async move {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(value)
                    .arg("EX")
                    .arg(REFUSED_TTL.as_secs())
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
    }
}

/// How long a stream's place in `streams:<user>` lasts without renewal: a replica killed with
/// streams open frees their places within this.
pub const STREAM_SLOT_TTL: Duration = Duration::from_secs(30);
/// How often a replica renews the places of its open streams.
pub const STREAM_SLOT_RENEW: Duration = Duration::from_secs(10);

/// Open streams per user across replicas: `streams:<user>` is a sorted set of open streams, each
/// scored with its expiry in Redis's own clock (one clock for every replica). Expired members are
/// dropped before counting; ARGV: member, max, ttl_ms, mode (1 open, 0 renew).
static STREAM_SLOT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local ttl = tonumber(ARGV[3])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    if ARGV[4] == '1' then
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
        redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
    else
        redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
    end
    redis.call('PEXPIRE', KEYS[1], ttl)
    return 1",
    )
});

/// Takes a place for stream `member` of `user` unless `max` are open on all replicas together.
pub async fn open_stream_slot(
    redis: &Redis,
    user: Uuid,
    member: &str,
    max: usize,
) -> Result<bool, Unavailable> {
    stream_slot(redis, user, member, max, true).await
}

/// Renews the place of an open stream (every [`STREAM_SLOT_RENEW`]).
pub async fn renew_stream_slot(redis: &Redis, user: Uuid, member: &str) -> Result<(), Unavailable> {
    stream_slot(redis, user, member, 0, false).await.map(|_| ())
}

async fn stream_slot(
    redis: &Redis,
    user: Uuid,
    member: &str,
    max: usize,
    open: bool,
) -> Result<bool, Unavailable> {
    let key = redis.key(&format!("streams:{user}"));
    let ttl_ms = STREAM_SLOT_TTL.as_millis() as u64;
    let member = member.to_string();
    let done: i64 = redis
        .run("stream slot", |mut c| async move {
            STREAM_SLOT
                .key(&key)
                .arg(&member)
                .arg(max)
                .arg(ttl_ms)
                .arg(if open { "1" } else { "0" })
                .invoke_async(&mut c)
                .await
        })
        .await?;
    Ok(done == 1)
}

/// Gives back a stream's place, when the stream ends.
pub async fn release_stream_slot(
    redis: &Redis,
    user: Uuid,
    member: &str,
) -> Result<(), Unavailable> {
    let key = redis.key(&format!("streams:{user}"));
    let member = member.to_string();
    redis
        .run("stream slot release", |mut c| async move {
            redis::cmd("ZREM")
                .arg(&key)
                .arg(&member)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .map(|_| ())
}

/// Changes published in one pipeline, at most.
const RELAY_BATCH: usize = 256;

/// Changes between replicas (journal entries, algorithm runs, accounts deleted or changed): this
/// process's are published on `<prefix>journal`, the others' delivered to this process's streams.
/// Runs until the process ends; a lost subscription is made again after a second (changes
/// published meanwhile are missed, as documented: a client re-reads the journal when its stream
/// reconnects).
pub fn relay_journal(redis: Redis, events: Arc<crate::events::Events>) {
    let channel = redis.key("journal");
    // Each user's changes wait in their own line and go out in turn: one user's burst cannot make
    // another user's changes be dropped or wait behind it on their way to other replicas.
    let queue = Arc::new(crate::events::FairQueue::new(events.user_buffer()));
    events.relay_to(queue.clone());
    let origin = events.origin();
    let publisher = redis.clone();
    let publish_to = channel.clone();
    tokio::spawn(async move {
        // Everything waiting goes in one pipeline: one round trip per batch, not per change, so
        // the relay keeps up with a busy replica (one PUBLISH at a time fell seconds behind at a
        // few hundred orders a second: docs/BENCHMARKS.md).
        loop {
            let batch = queue.take(RELAY_BATCH).await;
            let mut pipe = redis::pipe();
            for c in batch {
                let message = format!("{origin} {} {} {}", c.kind.as_str(), c.user_id, c.id);
                pipe.cmd("PUBLISH").arg(&publish_to).arg(message).ignore();
            }
            let _ = publisher
                .run("journal relay publish", |mut conn| async move {
                    pipe.query_async::<()>(&mut conn).await
                })
                .await;
        }
    });
    tokio::spawn(async move {
        loop {
            match redis.client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if pubsub.subscribe(&channel).await.is_ok() {
                        let mut messages = pubsub.on_message();
                        while let Some(msg) = futures_util::StreamExt::next(&mut messages).await {
                            let Ok(text) = msg.get_payload::<String>() else {
                                continue;
                            };
                            if let Some(change) = parse_relayed(&text, origin) {
                                events.deliver(change);
                            }
                        }
                    }
                    tracing::warn!("journal relay: subscription lost; subscribing again");
                }
                Err(e) => {
                    tracing::warn!(error_kind = ?e.kind(), "journal relay: cannot subscribe");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

/// `<origin> <kind> <user> <id>` from another replica; None for this one's own or a malformed one.
fn parse_relayed(text: &str, own: Uuid) -> Option<crate::events::Change> {
    let mut parts = text.split(' ');
    let origin = Uuid::parse_str(parts.next()?).ok()?;
    let kind = crate::events::Kind::parse(parts.next()?)?;
    let user_id = Uuid::parse_str(parts.next()?).ok()?;
    let id = Uuid::parse_str(parts.next()?).ok()?;
    (origin != own && parts.next().is_none()).then_some(crate::events::Change { user_id, kind, id })
}

#[cfg(test)]
mod relay_tests {
    use super::*;
    use crate::events::{Change, Kind};

    #[test]
    fn relayed_changes_are_other_replicas_and_well_formed() {
        let (own, other, user, id) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        assert_eq!(
            parse_relayed(&format!("{other} journal {user} {id}"), own),
            Some(Change {
                user_id: user,
                kind: Kind::Journal,
                id
            })
        );
        assert_eq!(
            parse_relayed(&format!("{other} run {user} {id}"), own).map(|c| c.kind),
            Some(Kind::Run)
        );
        for bad in [
            format!("{own} journal {user} {id}"),
            format!("{other} journal {user}"),
            format!("{other} deal {user} {id}"),
            format!("{other} run {user} {id} x"),
            "not uuids at all".to_string(),
        ] {
            assert_eq!(parse_relayed(&bad, own), None, "{bad}");
        }
    }
}
