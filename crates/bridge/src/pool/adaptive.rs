//! `Policy::Adaptive`'s measure of demand ([`Demands`]): how often each account is asked for and
//! logs in, and which terminals to keep on their accounts.
//!
//! `adaptive` (the default) is `Policy::Pool` plus keeping: terminals are a cache whose slots are
//! worth what their accounts are asked for. Each account's request frequency is tracked over
//! about [`KEEP_HORIZON`]; the idle terminal a waiting account takes is the one whose account is
//! asked for least (not the least recently used), and some terminals are kept on the most asked-for
//! accounts while other accounts wait: they serve their account without turns and are not
//! switched for a colder one. How many: each account kept stops logging in, which takes its
//! logins off the rotation (the terminals not kept), and takes a terminal out of it; accounts are
//! kept, hottest first, while the logins left (the recent login rate less those of the accounts
//! kept, over [`LOAD_HORIZON`]) times the measured login time fill at most [`ROTATION_LOAD`] of
//! the rotation, and a quarter of the terminals in service (one at least) always rotate. So a kept
//! terminal holds time the logins would not have used, and a waiting account always reaches a
//! rotating terminal within a bounded wait (docs/deploy.md). Kept places go round the users first
//! (each user's most asked-for account before anyone's second); an account asked for less than
//! [`KEEP_MIN`] times per login time is never kept; and a waiting account asked for well above a
//! kept one (by [`ADMIT_MARGIN`]) takes its place when no rotating terminal is free, if that one is
//! its own user's or that of a user holding more kept terminals (`policy.rs`).

use super::slot::SlotInfo;
use crate::swept::SweptMap;
use mt5::Session;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The horizon of the request frequencies that `adaptive` keeps and switches by: long enough that
/// an account asked for once every few seconds is told apart from one asked for once a minute.
pub const KEEP_HORIZON: Duration = Duration::from_secs(30);

/// The most of their time the rotating terminals may spend logging in (at the recent login rate)
/// for `adaptive` to keep one more terminal; a kept terminal goes back to the rotation only above
/// this plus [`ROTATION_SLACK`], so noise in the login rate does not toggle it.
pub const ROTATION_LOAD: f64 = 0.85;

/// The hysteresis of [`ROTATION_LOAD`] for terminals already kept.
pub const ROTATION_SLACK: f64 = 0.1;

/// The least an account must be asked for, in requests per login time, to be kept at all.
pub const KEEP_MIN: f64 = 0.25;

/// How much more often a waiting account must be asked for than a kept one to take its terminal.
pub const ADMIT_MARGIN: f64 = 1.5;

/// The horizon of the login rates that size the rotation: logins are frequent, so a shorter
/// horizon follows the load closely without much noise.
pub const LOAD_HORIZON: Duration = Duration::from_secs(10);

/// A frequency of events (requests of an account, logins) per second: a count decaying over its
/// horizon, divided by what it would be for one event a second over the time it has been counted,
/// so a young count is not read as a low one.
#[derive(Debug, Clone, Copy)]
struct Frequency {
    /// The decayed count as of `updated`.
    count: f64,
    updated: Instant,
    since: Instant,
    horizon: Duration,
}

impl Frequency {
    /// Below this span a count is still read as if this long had passed (no division by ~0).
    const MIN_SPAN: Duration = Duration::from_secs(5);

    fn new(now: Instant, horizon: Duration) -> Self {
        Frequency {
            count: 0.0,
            updated: now,
            since: now,
            horizon,
        }
    }

    fn count_at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.updated).as_secs_f64();
        self.count * (-age / self.horizon.as_secs_f64()).exp()
    }

    fn per_s(&self, now: Instant) -> f64 {
        let h = self.horizon.as_secs_f64();
        let span = now
            .saturating_duration_since(self.since)
            .max(Self::MIN_SPAN)
            .as_secs_f64();
        self.count_at(now) / (h * (1.0 - (-span / h).exp()))
    }

    fn event(&mut self, now: Instant) {
        self.count = self.count_at(now) + 1.0;
        self.updated = now;
    }
}

/// What `adaptive` knows of an account: how often it is asked for, and how often it logs in.
#[derive(Debug, Clone, Copy)]
struct Demand {
    requests: Frequency,
    logins: Frequency,
}

/// What `adaptive` measures: the demand per account, the logins overall and how long they take.
#[derive(Default)]
pub(super) struct Demands {
    /// Request and login frequencies per account, swept of cold ones.
    freq: SweptMap<Session, Demand>,
    /// Frequency of switches (logins), for how many terminals the rotation needs.
    switch_freq: Option<Frequency>,
    /// Recent login time in seconds (an exponentially weighted average of successful logins).
    login_secs: f64,
}

impl Demands {
    /// Counts a request of `account` in its frequency, dropping cold ones now and then.
    pub(super) fn requested(&mut self, account: &Session, now: Instant) {
        self.freq
            .map
            .entry(account.clone())
            .or_insert_with(|| Demand {
                requests: Frequency::new(now, KEEP_HORIZON),
                logins: Frequency::new(now, LOAD_HORIZON),
            })
            .requests
            .event(now);
        let stale = KEEP_HORIZON * 20;
        self.freq
            .sweep_if_grown(|_, d| now.saturating_duration_since(d.requests.updated) < stale);
    }

    /// Counts a switch (a login) to `account`, in its logins and in all of them.
    pub(super) fn switched(&mut self, account: &Session, now: Instant) {
        self.switch_freq
            .get_or_insert_with(|| Frequency::new(now, LOAD_HORIZON))
            .event(now);
        if let Some(d) = self.freq.map.get_mut(account) {
            d.logins.event(now);
        }
    }

    /// How often `account` is asked for, per second (0 when unknown).
    pub(super) fn frequency(&self, account: &Session, now: Instant) -> f64 {
        self.freq
            .map
            .get(account)
            .map_or(0.0, |d| d.requests.per_s(now))
    }

    /// How often `account` has logged in lately, per second (0 when unknown).
    fn login_frequency(&self, account: &Session, now: Instant) -> f64 {
        self.freq
            .map
            .get(account)
            .map_or(0.0, |d| d.logins.per_s(now))
    }

    /// A login took `took`: the kept terminals' budget follows the login time.
    pub(super) fn learn_login_time(&mut self, took: Duration) {
        let secs = took.as_secs_f64();
        self.login_secs = if self.login_secs == 0.0 {
            secs
        } else {
            0.8 * self.login_secs + 0.2 * secs
        };
    }

    /// Which terminals to keep on their accounts now (indexed by slot). Candidates are the
    /// accounts asked for at least [`KEEP_MIN`] times per login time, taken round by round over
    /// the users (each user's most asked-for account before anyone's second). Each is kept while
    /// the rotation still has room for the logins left: the recent login rate, less the logins of
    /// the accounts kept so far (a kept account stops logging in), times the login time, fills at
    /// most [`ROTATION_LOAD`] of the terminals not kept, and at least a quarter of the terminals
    /// in service (one at least) stay in the rotation.
    pub(super) fn kept(&self, slots: &[SlotInfo], now: Instant) -> Vec<bool> {
        let mut kept = vec![false; slots.len()];
        if self.login_secs <= 0.0 {
            return kept;
        }
        let up = slots.iter().filter(|s| !s.down).count();
        let min_rotating = up.div_ceil(4).max(1);
        if up <= min_rotating {
            return kept;
        }
        let mut candidates: Vec<(usize, Option<Uuid>, f64, f64)> = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.down)
            .filter_map(|(i, s)| {
                let account = s.logged_in.as_ref()?;
                let freq = self.frequency(account, now);
                let logins = self.login_frequency(account, now);
                (freq * self.login_secs >= KEEP_MIN).then_some((i, s.turn_user, freq, logins))
            })
            .collect();
        if candidates.is_empty() {
            return kept;
        }
        candidates.sort_by(|a, b| b.2.total_cmp(&a.2));
        // Round by round over the users: a user's n-th account ranks after everyone's (n-1)-th.
        let mut rounds: HashMap<Option<Uuid>, usize> = HashMap::new();
        let mut ranked: Vec<(usize, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(order, c)| {
                let round = rounds.entry(c.1).or_default();
                *round += 1;
                (*round * candidates.len() + order, order)
            })
            .collect();
        ranked.sort_unstable();
        let mut logins = self.switch_freq.map_or(0.0, |f| f.per_s(now));
        let mut rotating = up;
        for (_, order) in ranked {
            let (slot, _, _, its_logins) = candidates[order];
            let left = (logins - its_logins).max(0.0);
            let load = if slots[slot].kept {
                ROTATION_LOAD + ROTATION_SLACK
            } else {
                ROTATION_LOAD
            };
            if rotating - 1 < min_rotating || left * self.login_secs > load * (rotating - 1) as f64
            {
                break;
            }
            kept[slot] = true;
            logins = left;
            rotating -= 1;
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frequency_reads_the_rate_of_its_events_young_or_old() {
        let start = Instant::now();
        // 2 events a second: read at once after 10 s (a young count) and after 120 s.
        let mut f = Frequency::new(start, KEEP_HORIZON);
        for i in 1..=240 {
            f.event(start + Duration::from_millis(500 * i));
            if i == 20 {
                let young = f.per_s(start + Duration::from_secs(10));
                assert!((1.8..2.2).contains(&young), "after 10 s: {young}");
            }
        }
        let old = f.per_s(start + Duration::from_secs(120));
        assert!((1.8..2.2).contains(&old), "after 120 s: {old}");
        // Silence decays it: one horizon later it reads about 1/e of that.
        let later = f.per_s(start + Duration::from_secs(120) + KEEP_HORIZON);
        assert!((0.6..0.9).contains(&later), "a horizon later: {later}");
        // One event just now is not read as a burst of events.
        let mut once = Frequency::new(start, KEEP_HORIZON);
        once.event(start);
        assert!(once.per_s(start) < 0.25, "{}", once.per_s(start));
    }
}
