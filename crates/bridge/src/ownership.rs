//! Which replica drives which terminal agent, when several replicas share agents through Redis.
//!
//! A replica may drive an agent only while it holds the agent's lease: a Redis hash
//! `terminal:<id>` = {replica, token} with a TTL, renewed every third of the TTL while held. Each
//! acquisition gets a fencing token larger than every earlier one (a Redis counter, raised to the
//! Redis clock in microseconds so that it keeps growing even after Redis lost its data), and every
//! call, login and logout carries it (the protocol's `lease` field). The agent refuses a token
//! older than the newest it has seen, under the same lock as the call, so a replica that lost its
//! lease (paused, partitioned, Redis away) cannot act once the new owner has.
//!
//! The replica also stops by itself: a lease counts as held only until its last successful renewal
//! plus the TTL minus a margin, whatever Redis says later. Replicas share the agents: each keeps a
//! heartbeat in Redis and holds at most ⌈agents / live replicas⌉, giving extras back (idle ones)
//! when replicas join and taking free ones when replicas leave or fail.

use crate::pool::TerminalPool;
use crate::shared_state::{Redis, Unavailable};
use redis::Script;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// The fencing token an agent terminal sends, while its replica holds the lease.
#[derive(Debug, Default)]
pub struct Fence {
    held: Mutex<Option<(u64, Instant)>>,
}

impl Fence {
    pub fn new() -> Arc<Fence> {
        Arc::new(Fence::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Instant)>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The token, if the lease is held and has not run out locally.
    pub fn token(&self) -> Option<u64> {
        match *self.lock() {
            Some((token, until)) if Instant::now() < until => Some(token),
            _ => None,
        }
    }

    fn hold(&self, token: u64, until: Instant) {
        *self.lock() = Some((token, until));
    }

    /// Forgets the lease (lost, given back, or refused by the agent as stale).
    pub fn clear(&self) {
        *self.lock() = None;
    }
}

/// An agent terminal under ownership: its lease key and the pool slot it occupies.
pub struct Owned {
    pub id: String,
    pub slot: usize,
    pub fence: Arc<Fence>,
}

pub struct Ownership {
    redis: Redis,
    replica: String,
    ttl: Duration,
    terminals: Vec<Owned>,
}

/// `KEYS`: lease, counter. `ARGV`: replica, ttl ms. The token, or -1 when another replica holds it.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local owner = redis.call('HGET', KEYS[1], 'replica')
        if owner then
            if owner == ARGV[1] then
                redis.call('PEXPIRE', KEYS[1], ARGV[2])
                return tonumber(redis.call('HGET', KEYS[1], 'token'))
            end
            return -1
        end
        local t = redis.call('TIME')
        local floor = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local token = redis.call('INCR', KEYS[2])
        if token < floor then
            token = floor
            redis.call('SET', KEYS[2], token)
        end
        redis.call('HSET', KEYS[1], 'replica', ARGV[1], 'token', token)
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return token",
    )
});

/// `KEYS`: lease. `ARGV`: replica, ttl ms, token, mode (`renew` or `release`). 1 when it was ours.
static KEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('HGET', KEYS[1], 'replica') ~= ARGV[1]
            or tonumber(redis.call('HGET', KEYS[1], 'token')) ~= tonumber(ARGV[3]) then
            return 0
        end
        if ARGV[4] == 'release' then
            redis.call('DEL', KEYS[1])
        else
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
        end
        return 1",
    )
});

/// `KEYS`: replicas. `ARGV`: replica, ttl ms. Live replicas (this one included).
static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[1], now, ARGV[1])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return redis.call('ZCARD', KEYS[1])",
    )
});

/// The replicas whose heartbeat is in Redis now (each replica's round drops those silent for
/// longer than the lease TTL).
pub async fn live_replicas(redis: &Redis) -> Result<Vec<String>, Unavailable> {
    let key = redis.key("replicas");
    redis
        .run("live replicas", |mut c| async move {
            redis::cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await
}

impl Ownership {
    pub fn new(redis: Redis, ttl: Duration, terminals: Vec<Owned>) -> Ownership {
        Ownership {
            redis,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            ttl,
            terminals,
        }
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The same, this replica named `replica` (the process run's id, which journal entries
    /// record).
    pub fn with_replica(mut self, replica: impl Into<String>) -> Ownership {
        self.replica = replica.into();
        self
    }

    fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis().clamp(1, u128::from(u64::MAX)) as u64
    }

    fn lease_key(&self, id: &str) -> String {
        self.redis.key(&format!("terminal:{id}"))
    }

    fn counter_key(&self, id: &str) -> String {
        self.redis.key(&format!("terminal:{id}:fence"))
    }

    /// How long a lease counts as held after a renewal that started at `at`: a margin below the
    /// TTL, so this replica stops before Redis could give the lease to another.
    fn held_until(&self, at: Instant) -> Instant {
        at + self.ttl - self.ttl / 5
    }

    /// Takes every agent out of the pool until its lease is held, then keeps the leases and the
    /// share up to date until the runtime stops.
    pub fn start(self, pool: Arc<TerminalPool>) {
        for t in &self.terminals {
            pool.take_out(t.slot);
        }
        tokio::spawn(async move {
            let period = self.ttl / 3;
            loop {
                if let Err(e) = self.tick(&pool).await {
                    tracing::warn!(error = %e, "terminal leases not renewed");
                }
                for t in &self.terminals {
                    if t.fence.token().is_none() {
                        // Lost or run out (Redis away): stop driving it now.
                        pool.take_out(t.slot);
                    }
                }
                tokio::time::sleep(period).await;
            }
        });
    }

    /// One round: heartbeat, renew what is held, give back extras, take free ones up to the share.
    async fn tick(&self, pool: &Arc<TerminalPool>) -> Result<(), Unavailable> {
        let started = Instant::now();
        let replicas_key = self.redis.key("replicas");
        let (replica, ttl) = (self.replica.clone(), self.ttl_ms());
        let live: u64 = self
            .redis
            .run("replica heartbeat", |mut c| async move {
                HEARTBEAT
                    .key(&replicas_key)
                    .arg(&replica)
                    .arg(ttl)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        let n = self.terminals.len() as u64;
        let share = n.div_ceil(live.max(1)) as usize;

        let mut held = 0;
        for t in &self.terminals {
            let Some(token) = t.fence.token() else {
                continue;
            };
            if self.keep(t, token, "renew").await? {
                t.fence.hold(token, self.held_until(started));
                held += 1;
            } else {
                // Out of the pool right after this round, with every other lease not held.
                tracing::warn!(terminal = %t.id, "terminal lease lost to another replica");
                t.fence.clear();
            }
        }
        // Too many: give back idle ones, from the last, so that others can take them.
        for t in self.terminals.iter().rev() {
            if held <= share {
                break;
            }
            let Some(token) = t.fence.token() else {
                continue;
            };
            if !pool.take_out_if_idle(t.slot) {
                continue;
            }
            t.fence.clear();
            self.keep(t, token, "release").await?;
            tracing::info!(terminal = %t.id, share, "terminal lease given back");
            held -= 1;
        }
        // Too few: take free ones, starting at a place of our own so replicas try different ones.
        let offset = self.replica.bytes().map(usize::from).sum::<usize>();
        for k in 0..self.terminals.len() {
            if held >= share {
                break;
            }
            let t = &self.terminals[(offset + k) % self.terminals.len()];
            if t.fence.token().is_some() {
                continue;
            }
            let (lease, counter) = (self.lease_key(&t.id), self.counter_key(&t.id));
            let (replica, ttl) = (self.replica.clone(), self.ttl_ms());
            let token: i64 = self
                .redis
                .run("terminal lease", |mut c| async move {
                    ACQUIRE
                        .key(&lease)
                        .key(&counter)
                        .arg(&replica)
                        .arg(ttl)
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            if token > 0 {
                t.fence.hold(token as u64, self.held_until(started));
                tracing::info!(terminal = %t.id, token, share, "terminal lease taken");
                // Asking the agent what it is logged in to may be slow (an unreachable host): not
                // in this loop, which must keep renewing the other leases on time.
                let (pool, slot, fence) = (pool.clone(), t.slot, t.fence.clone());
                tokio::spawn(async move {
                    pool.put_back(slot).await;
                    // A lease lost meanwhile must not leave it in service (the agent client would
                    // refuse to act anyway).
                    if fence.token().is_none() {
                        pool.take_out(slot);
                    }
                });
                held += 1;
            }
        }
        Ok(())
    }

    async fn keep(&self, t: &Owned, token: u64, mode: &'static str) -> Result<bool, Unavailable> {
        let lease = self.lease_key(&t.id);
        let (replica, ttl) = (self.replica.clone(), self.ttl_ms());
        let kept: i64 = self
            .redis
            .run("terminal lease renewal", |mut c| async move {
                KEEP.key(&lease)
                    .arg(&replica)
                    .arg(ttl)
                    .arg(token)
                    .arg(mode)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(kept == 1)
    }
}
