//! Rate limits: switches per user, trades per account, failed connects per user, refused orders
//! and dry runs per user.
//!
//! Sliding-window counters behind [`RateLimiter`], in memory by default (a shared store such as
//! Redis implements the same interface for several replicas). Time comes from a clock tests move.

use crate::swept::SweptMap;
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use mt5::clock::Clock;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A limit: at most `max` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// Refused: when the next event would be allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    pub retry_after: Duration,
}

/// Why an event was not allowed: over the limit, or the shared store cannot say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitError {
    Exceeded(Exceeded),
    Unavailable(Unavailable),
}

impl From<Exceeded> for LimitError {
    fn from(e: Exceeded) -> Self {
        LimitError::Exceeded(e)
    }
}

#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Records an event under `key` if the limit allows it; otherwise records nothing.
    async fn acquire(&self, key: &str, limit: Limit) -> Result<(), LimitError>;
    /// Whether an event would be allowed now, recording nothing.
    async fn check(&self, key: &str, limit: Limit) -> Result<(), LimitError>;
    /// Records an event regardless of the limit (an outcome counted after the fact).
    async fn record(&self, key: &str, limit: Limit) -> Result<(), Unavailable>;
    /// Takes back the newest event (an acquired slot that turned out not to be used).
    async fn release(&self, key: &str, limit: Limit) -> Result<(), Unavailable>;
}

pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    /// Each key's event times and window length (ms); windows with no event left in them are
    /// swept as the map grows, so it holds the keys of the last window, not every key ever seen.
    events: Mutex<SweptMap<String, (VecDeque<i64>, i64)>>,
}

impl MemoryRateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        MemoryRateLimiter {
            clock,
            events: Mutex::new(SweptMap::default()),
        }
    }

    /// Keys with a window held now.
    pub fn len(&self) -> usize {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn with_window<R>(
        &self,
        key: &str,
        limit: Limit,
        f: impl FnOnce(&mut VecDeque<i64>, i64) -> R,
    ) -> R {
        let now = self.clock.now_ms();
        let window_ms = i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
        let mut w = self.events.lock().unwrap_or_else(|p| p.into_inner());
        let (q, win) = w
            .map
            .entry(key.to_string())
            .or_insert_with(|| (VecDeque::new(), window_ms));
        *win = window_ms;
        while q
            .front()
            .is_some_and(|t| *t <= now.saturating_sub(window_ms))
        {
            q.pop_front();
        }
        let r = f(q, now);
        if q.is_empty() {
            w.map.remove(key);
        }
        w.sweep_if_grown(|_, (q, win)| {
            q.back()
                .is_some_and(|last| *last > now.saturating_sub(*win))
        });
        r
    }

    fn verdict(q: &VecDeque<i64>, now: i64, limit: Limit) -> Result<(), Exceeded> {
        if (q.len() as u32) < limit.max {
            return Ok(());
        }
        // The oldest event in the window leaves it first.
        let oldest = q.front().copied().unwrap_or(now);
        let wait_ms = (oldest + limit.window.as_millis() as i64 - now).max(1);
        Err(Exceeded {
            retry_after: Duration::from_millis(wait_ms as u64),
        })
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn acquire(&self, key: &str, limit: Limit) -> Result<(), LimitError> {
        self.with_window(key, limit, |q, now| {
            Self::verdict(q, now, limit)?;
            q.push_back(now);
            Ok(())
        })
    }

    async fn check(&self, key: &str, limit: Limit) -> Result<(), LimitError> {
        Ok(self.with_window(key, limit, |q, now| Self::verdict(q, now, limit))?)
    }

    async fn record(&self, key: &str, limit: Limit) -> Result<(), Unavailable> {
        self.with_window(key, limit, |q, now| q.push_back(now));
        Ok(())
    }

    async fn release(&self, key: &str, limit: Limit) -> Result<(), Unavailable> {
        self.with_window(key, limit, |q, _| {
            q.pop_back();
        });
        Ok(())
    }
}

/// Turns a refusal into the HTTP error, naming the limit.
pub fn refused(scope: &'static str, limit: Limit, e: LimitError) -> crate::error::ApiError {
    match e {
        LimitError::Exceeded(e) => crate::error::ApiError::RateLimited {
            scope,
            limit: limit.max,
            window_s: limit.window.as_secs(),
            retry_after_s: e.retry_after.as_secs_f64().ceil().max(1.0) as u64,
        },
        LimitError::Unavailable(u) => u.into(),
    }
}

/// Counts a refusal by the limit in the metrics (not a store failure).
pub fn count_refusal(metrics: &crate::metrics::Metrics, e: &LimitError, scope: &'static str) {
    if let LimitError::Exceeded(_) = e {
        metrics.rate_limited(scope);
    }
}

/// Gives back an acquired slot; a store that is away keeps it until its window passes (the
/// safe side: the user may be refused early, never allowed too much).
pub async fn release_quietly(limiter: &dyn RateLimiter, key: &str, limit: Limit) {
    if let Err(e) = limiter.release(key, limit).await {
        tracing::warn!(error = %e, "rate-limit slot not given back");
    }
}

/// The configured limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub switch_per_user: Limit,
    pub trade_per_account: Limit,
    pub connect_failures_per_user: Limit,
    /// Failed logins with a new password per MT5 login and server, across all users.
    pub login_failures_per_login: Limit,
    /// Refused orders per user (journaled refusals: kill switch, risk, levels, read-only).
    pub refusals_per_user: Limit,
    /// Dry runs of algorithms per user.
    pub dry_runs_per_user: Limit,
    /// Saved algorithm configurations per user (a cap, not a window).
    pub algorithms_per_user: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            switch_per_user: Limit {
                max: 10,
                window: Duration::from_secs(3600),
            },
            trade_per_account: Limit {
                max: 100,
                window: Duration::from_secs(3600),
            },
            connect_failures_per_user: Limit {
                max: 5,
                window: Duration::from_secs(900),
            },
            login_failures_per_login: Limit {
                max: 20,
                window: Duration::from_secs(900),
            },
            refusals_per_user: Limit {
                max: 600,
                window: Duration::from_secs(3600),
            },
            dry_runs_per_user: Limit {
                max: 600,
                window: Duration::from_secs(3600),
            },
            algorithms_per_user: 100,
        }
    }
}
