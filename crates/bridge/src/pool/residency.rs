//! Residency: when a batch ends and its account is hot, the terminal may stay idle on it for a
//! short window (`residency`, counted from its last use) instead of switching at once to an
//! account that waits, so the hot account's next request is served without a login and without
//! waiting for the terminals to come round again.
//!
//! An account is hot when its recent arrival rate (an exponentially weighted average over about
//! [`RATE_HORIZON`], kept in [`Rates`]) predicts a next request within the window
//! (rate × window ≥ 1). Residency is part of the turn: it ends with the turn (`max_turn` from the
//! end of the login, or `max_batch` operations), so it never delays a waiting account by more
//! than the turn already allowed. A request for a resident terminal's account is served at once;
//! when the window ends a timer dispatches (`policy.rs`), so the waiting account takes the
//! terminal then, not at some later unrelated event. A zero window turns residency off.

use super::options::{Policy, PoolOptions};
use super::slot::SlotInfo;
use crate::swept::SweptMap;
use mt5::Session;
use std::time::{Duration, Instant};

/// The horizon of the per-account arrival rate: arrivals older than this count for less than 1/e.
pub const RATE_HORIZON: Duration = Duration::from_secs(5);

/// An account's recent arrival rate, decaying with [`RATE_HORIZON`].
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Arrivals per second as of `updated`.
    per_s: f64,
    updated: Instant,
}

impl Rate {
    fn at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.updated).as_secs_f64();
        self.per_s * (-age / RATE_HORIZON.as_secs_f64()).exp()
    }

    /// One more arrival at `now`: the rate decays to `now` and the arrival adds 1 / horizon.
    fn arrive(&mut self, now: Instant) {
        self.per_s = self.at(now) + 1.0 / RATE_HORIZON.as_secs_f64();
        self.updated = now;
    }
}

/// Recent arrival rate per account (residency's notion of a hot account), swept of cold ones.
#[derive(Default)]
pub(super) struct Rates(SweptMap<Session, Rate>);

impl Rates {
    /// Counts an arrival for `account` in its rate, dropping rates too old to matter now and then.
    pub(super) fn arrive(&mut self, account: &Session, now: Instant) {
        self.0
            .map
            .entry(account.clone())
            .or_insert(Rate {
                per_s: 0.0,
                updated: now,
            })
            .arrive(now);
        // After 20 horizons a rate is below 1e-8 of what it was: the account is cold.
        let stale = RATE_HORIZON * 20;
        self.0
            .sweep_if_grown(|_, r| now.saturating_duration_since(r.updated) < stale);
    }

    /// Until when the terminal `s`, freed at `now`, stays on its account: within the turn, and
    /// only for a hot account. `None` when it may switch at once.
    pub(super) fn end(&self, s: &SlotInfo, opts: &PoolOptions, now: Instant) -> Option<Instant> {
        let window = opts.residency;
        if window.is_zero() || opts.policy == Policy::Naive {
            return None;
        }
        // Without a runtime no timer could end the residency, and a waiter would wait for nothing.
        tokio::runtime::Handle::try_current().ok()?;
        let account = s.logged_in.as_ref()?;
        if s.turn_account.as_ref() != Some(account) || s.turn_ops >= opts.max_batch {
            return None;
        }
        let rate = self.0.map.get(account)?.at(now);
        if rate * window.as_secs_f64() < 1.0 {
            return None;
        }
        let end = (now + window).min(s.turn_start + opts.max_turn);
        (end > now).then_some(end)
    }
}
