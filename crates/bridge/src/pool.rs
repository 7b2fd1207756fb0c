//! The terminal pool: hands out short, exclusive leases on terminals logged in to a given account.
//!
//! Terminals are cache slots and logins are misses. A lease goes to a terminal already logged in to
//! the account when there is one (affinity); otherwise the least recently used idle terminal whose
//! account nobody is waiting for switches. A request whose account has a terminal busy on it waits
//! for that terminal rather than switching another, since a login costs far more than an operation.
//! Requests queue per account, and once a terminal is logged in to an account the requests queued
//! for it are served on it one after another (a batch) before it switches away, so N queued
//! requests cost one login, not N. A batch yields after `max_batch` operations or `max_turn`
//! (counted from the end of the login) when other accounts wait with no terminal (fairness).
//! The queue is bounded (`queue_limit`, then 503) and every operation has a deadline (then 504).
//!
//! Residency: when a batch ends and its account is hot, the terminal may stay idle on it for a
//! short window (`residency`, counted from its last use) instead of switching at once to an account
//! that waits, so the hot account's next request is served without a login and without waiting for
//! the terminals to come round again. An account is hot when its recent arrival rate (an
//! exponentially weighted average over about [`RATE_HORIZON`]) predicts a next request within the
//! window (rate × window ≥ 1). Residency is part of the turn: it ends with the turn (`max_turn`
//! from the end of the login, or `max_batch` operations), so it never delays a waiting account by
//! more than the turn already allowed. A request for a resident terminal's account is served at
//! once; when the window ends a timer dispatches, so the waiting account takes the terminal then,
//! not at some later unrelated event. A zero window turns residency off.
//!
//! Invariants, kept under the state lock:
//! - a slot is `busy` exactly while one `Grant` for it is alive, and the grant's drop frees it, so
//!   a lease abandoned at any point (deadline, cancelled request) gives its terminal back;
//! - `queued` is the number of waiters in `queues`, and an account is in `arrival` exactly while
//!   it has waiters; an abandoned request removes its own waiter;
//! - after every dispatch either no terminal is idle, or no idle terminal's account has waiters and
//!   either no account waits without a terminal or every idle terminal is resident and a timer is
//!   armed for the earliest end of residency. Removing a waiter cannot break this, so only a new
//!   request, a released slot and the residency timer need to dispatch.
//!
//! A terminal that cannot be reached (its agent is down) is taken out of the pool and probed with a
//! backoff; it is put back, and the queue dispatched, as soon as it answers.
//!
//! Under the lease every operation names the account it expects ([`Expected`]) and the terminal
//! refuses to act for any other (the guard): a mismatch never executes, is logged and counted,
//! and the operation is retried once on a fresh lease.
//!
//! `Policy::Adaptive` (the default) is `Policy::Pool` plus keeping: terminals are a cache whose
//! slots are worth what their accounts are asked for. Each account's request frequency is tracked
//! over about [`KEEP_HORIZON`]; the idle terminal a waiting account takes is the one whose account
//! is asked for least (not the least recently used), and some terminals are kept on the most
//! asked-for accounts while other accounts wait: they serve their account without turns and are
//! not switched for a colder one. How many: each account kept stops logging in, which takes its
//! logins off the rotation (the terminals not kept), and takes a terminal out of it; accounts are
//! kept, hottest first, while the logins left (the recent login rate less those of the accounts
//! kept, over [`LOAD_HORIZON`]) times the measured login time fill at most [`ROTATION_LOAD`] of
//! the rotation, and a quarter of the terminals in service (one at least) always rotate. So a kept
//! terminal holds time the logins would not have used, and a waiting account always reaches a
//! rotating terminal within a bounded wait (docs/deploy.md). Kept places go round the users first
//! (each user's most asked-for account before anyone's second); an account asked for less than
//! [`KEEP_MIN`] times per login time is never kept; and a waiting account asked for well above a
//! kept one (by [`ADMIT_MARGIN`]) takes its place when no rotating terminal is free, if that one is
//! its own user's or that of a user holding more kept terminals.
//!
//! `Policy::Naive` is the seed's literal design, kept as the benchmarks' baseline: one terminal,
//! one global queue, a fresh login for every request.

use crate::error::ApiError;
use mt5::{AccountInfo, Expected, Session, Terminal, TerminalError};
use secrecy::SecretString;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where the password comes from when a terminal must log in: decrypted only then (and refused
/// there when the credential is known to be bad, so no login is tried with it).
pub type PasswordSource<'a> = &'a (dyn Fn() -> BoxFuture<Result<SecretString, ApiError>> + Sync);

/// Why the pool could not run an operation. [`ApiError`] is made from it in one place (the `From`
/// below), so the pool's outcomes map to the API's codes once.
#[derive(Debug)]
pub enum PoolError {
    /// No terminal can serve: none configured, the pool closed, the queue full, or the guard
    /// refused twice (`terminal_unavailable`).
    Unavailable(String),
    /// Every terminal in service has trading switched off; the order was not sent.
    TradingDisabled,
    /// The user already has `limit` requests waiting (`429`, scope `queue_per_user`).
    UserQueueFull { limit: u32 },
    /// The session reports that trading is not allowed on the account.
    ReadOnly,
    /// The deadline passed, waiting included.
    Timeout,
    /// A login failed (MT5 refused it, or the terminal could not be reached).
    Login(TerminalError),
    /// The operation failed on the terminal.
    Terminal(TerminalError),
    /// The password source answered with a refusal of its own (a credential known to be bad).
    Password(ApiError),
}

impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Unavailable(why) => ApiError::TerminalUnavailable(why),
            PoolError::TradingDisabled => ApiError::TerminalTradingDisabled,
            PoolError::UserQueueFull { limit } => ApiError::RateLimited {
                scope: "queue_per_user",
                limit,
                window_s: 0,
                retry_after_s: 1,
            },
            PoolError::ReadOnly => ApiError::ReadOnlyAccount,
            PoolError::Timeout => ApiError::TerminalTimeout,
            PoolError::Login(e) => ApiError::from_login_error(e),
            PoolError::Terminal(e) => ApiError::from(e),
            PoolError::Password(e) => e,
        }
    }
}

/// What a [`TerminalPool::run_for`] call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reads and checks: any session of the credential will do.
    Read,
    /// A trade request: refused with `read_only_account` before anything is sent when the
    /// session reports that trading is not allowed (an investor password, or the broker's say).
    Trade,
}

/// The result of [`TerminalPool::run_for`], with the account info of a login made for it.
#[derive(Debug)]
pub struct Ran<R> {
    pub value: R,
    /// Set when the pool logged a terminal in for this call (what MT5 reported then).
    pub login: Option<AccountInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// `Pool` that keeps the most asked-for accounts on their terminals while logins leave
    /// terminals spare, and switches the least asked-for idle terminal.
    Adaptive,
    /// Affinity, LRU switching, per-account batching, fairness.
    Pool,
    /// One terminal, one global lock, log in for every request.
    Naive,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "adaptive" => Ok(Policy::Adaptive),
            "pool" => Ok(Policy::Pool),
            "naive" => Ok(Policy::Naive),
            other => Err(format!(
                "POOL_POLICY must be `adaptive`, `pool` or `naive` (got {other:?})"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub policy: Policy,
    /// Most requests waiting at once; more are refused with 503.
    pub queue_limit: usize,
    /// Most requests of one user waiting at once; more are refused with 429 (`queue_per_user`),
    /// so one user flooding the queue does not make everyone else's requests answer 503.
    pub queue_limit_per_user: usize,
    /// Deadline of one operation, waiting included (504 after it).
    pub timeout: Duration,
    /// Operations a terminal serves for one account in a row while other accounts wait.
    pub max_batch: u32,
    /// Time a terminal stays on one account while other accounts wait.
    pub max_turn: Duration,
    /// How long after its last use a terminal stays idle on a hot account while other accounts
    /// wait (bounded by the turn); zero turns residency off.
    pub residency: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            policy: Policy::Adaptive,
            queue_limit: 1024,
            queue_limit_per_user: 64,
            timeout: Duration::from_secs(30),
            max_batch: 32,
            max_turn: Duration::from_millis(500),
            residency: Duration::from_millis(500),
        }
    }
}

/// Counters the pool keeps (read by tests, benchmarks and metrics).
#[derive(Debug, Default)]
pub struct PoolStats {
    pub logins: AtomicU64,
    pub failed_logins: AtomicU64,
    pub guard_mismatches: AtomicU64,
    pub leases: AtomicU64,
    pub queue_rejections: AtomicU64,
    pub timeouts: AtomicU64,
    /// Total time requests spent waiting for a lease, in microseconds.
    pub wait_us: AtomicU64,
    /// Times residency kept an idle terminal from an account that waited for one.
    pub residency_holds: AtomicU64,
    /// Requests served by a terminal while residency held it for their account.
    pub residency_hits: AtomicU64,
    /// Times an idle terminal was kept on a hot account while another account waited for one
    /// (`adaptive`).
    pub kept_holds: AtomicU64,
}

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

/// How often a terminal with trading off is asked whether it trades again.
const TRADING_RECHECK: Duration = Duration::from_secs(2);

/// Whether every terminal in service has trading switched off (and at least one is in service):
/// an order then has nowhere to go.
fn no_terminal_trades(slots: &[SlotInfo]) -> bool {
    let mut up = slots.iter().filter(|s| !s.down).peekable();
    up.peek().is_some() && up.all(|s| s.can_trade == Some(false))
}

struct SlotInfo {
    /// The session the pool believes the terminal holds; `None` when unknown.
    logged_in: Option<Session>,
    /// `account_info().trade_allowed` of that session, once known.
    trade_allowed: Option<bool>,
    /// Whether the terminal itself lets the API trade (`terminal_info()`: "Algo Trading" on and
    /// the API not barred), once known. Order sends go only where it is not `Some(false)`.
    can_trade: Option<bool>,
    /// A task is re-reading the terminal's flags until it can trade again.
    rechecking: bool,
    busy: bool,
    last_used: Instant,
    turn_account: Option<Session>,
    turn_ops: u32,
    turn_start: Instant,
    /// Unreachable (its agent does not answer): out of the pool until a probe finds it again.
    down: bool,
    /// While idle before this instant, the terminal stays on its account (residency).
    resident_until: Option<Instant>,
    /// Residency has kept this terminal from a waiting account since its last lease.
    held: bool,
    /// `adaptive` kept it at the last dispatch.
    kept: bool,
    /// The user of the last lease (fair shares of kept terminals).
    turn_user: Option<Uuid>,
}

/// A waiting user's share of the terminals' logins.
struct UserTurn {
    /// Its requests waiting now.
    waiting: usize,
    /// The switch count when the user last got a terminal switched to one of its accounts (or,
    /// arriving, the lowest pass of the users waiting then). The user with the lowest pass gets
    /// the next switch: users take turns, however many accounts each has waiting (start-time
    /// fair queueing over logins).
    pass: u64,
}

struct Waiter {
    tx: oneshot::Sender<Grant>,
    /// Arrival number over all accounts (the naive policy serves strictly in this order).
    seq: u64,
    /// The user the request is for (fair shares and the per-user queue limit); `None` for
    /// callers that are no user (benchmarks, tools), which count as one user of their own.
    user: Option<Uuid>,
    /// An order send (or a run that may send): only a terminal that can trade takes it.
    trade: bool,
}

impl SlotInfo {
    /// Whether this terminal may take `waiter`: reads go anywhere, trades only where trading is on.
    fn takes(&self, waiter: &Waiter) -> bool {
        !waiter.trade || self.can_trade != Some(false)
    }

    /// Whether it may take some waiter of `queue`.
    fn takes_any(&self, queue: Option<&VecDeque<Waiter>>) -> bool {
        queue.is_some_and(|q| q.iter().any(|w| self.takes(w)))
    }
}

#[derive(Default)]
struct State {
    slots: Vec<SlotInfo>,
    queues: HashMap<Session, VecDeque<Waiter>>,
    /// Accounts with waiters, in the order their oldest waiter arrived.
    arrival: VecDeque<Session>,
    queued: usize,
    next_seq: u64,
    /// Recent arrival rate per account (residency's notion of a hot account), swept of cold ones.
    rates: crate::swept::SweptMap<Session, Rate>,
    /// When the armed residency timer fires, if one is armed.
    wake_at: Option<Instant>,
    /// The users with requests waiting, and their turns (only users with waiters are here).
    users: HashMap<Option<Uuid>, UserTurn>,
    /// Switches granted so far.
    switches: u64,
    /// Request and login frequencies per account (`adaptive`), swept of cold ones.
    freq: crate::swept::SweptMap<Session, Demand>,
    /// Frequency of switches (logins), for how many terminals the rotation needs.
    switch_freq: Option<Frequency>,
    /// Recent login time in seconds (an exponentially weighted average of successful logins).
    login_secs: f64,
}

struct Inner {
    terminals: Vec<Arc<dyn Terminal>>,
    state: Mutex<State>,
    opts: PoolOptions,
    stats: PoolStats,
}

/// A slot handed to a waiter. Dropping it (even unreceived, when the waiter gave up) frees the slot.
struct Grant {
    inner: Arc<Inner>,
    slot: usize,
    /// False for a grant that never left the dispatcher (its slot is handled there).
    armed: bool,
}

impl Drop for Grant {
    fn drop(&mut self) {
        if self.armed {
            self.inner.release(self.slot);
        }
    }
}

/// A request waiting for a grant. If it is abandoned (deadline), it leaves the queue.
struct Waiting {
    inner: Arc<Inner>,
    account: Session,
    rx: Option<oneshot::Receiver<Grant>>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            // Dropping the receiver first frees a grant that may already sit in it (that takes
            // the lock itself), then the closed waiter is pruned.
            drop(rx);
            let mut st = self.inner.lock();
            let mut gone = Vec::new();
            if let Some(q) = st.queues.get_mut(&self.account) {
                q.retain(|w| {
                    let closed = w.tx.is_closed();
                    if closed {
                        gone.push(w.user);
                    }
                    !closed
                });
            }
            st.queued = st.queued.saturating_sub(gone.len());
            for user in gone {
                Inner::user_left(&mut st, user);
            }
            self.inner.forget_if_empty(&mut st, &self.account);
        }
    }
}

pub struct TerminalPool {
    inner: Arc<Inner>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only ever left consistent between statements; a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(self: &Arc<Self>, slot: usize) {
        let mut st = self.lock();
        let now = Instant::now();
        let resident_until = self.residency_end(&st, slot, now);
        if let Some(s) = st.slots.get_mut(slot) {
            s.busy = false;
            s.last_used = now;
            s.resident_until = resident_until;
        }
        self.dispatch(&mut st);
    }

    /// Until when `slot`, freed at `now`, stays on its account: within the turn, and only for a
    /// hot account. `None` when it may switch at once.
    fn residency_end(&self, st: &State, slot: usize, now: Instant) -> Option<Instant> {
        let window = self.opts.residency;
        if window.is_zero() || self.opts.policy == Policy::Naive {
            return None;
        }
        // Without a runtime no timer could end the residency, and a waiter would wait for nothing.
        tokio::runtime::Handle::try_current().ok()?;
        let s = st.slots.get(slot)?;
        let account = s.logged_in.as_ref()?;
        if s.turn_account.as_ref() != Some(account) || s.turn_ops >= self.opts.max_batch {
            return None;
        }
        let rate = st.rates.map.get(account)?.at(now);
        if rate * window.as_secs_f64() < 1.0 {
            return None;
        }
        let end = (now + window).min(s.turn_start + self.opts.max_turn);
        (end > now).then_some(end)
    }

    /// Counts an arrival for `account` in its rate, dropping rates too old to matter now and then.
    fn record_arrival(st: &mut State, account: &Session, now: Instant) {
        st.rates
            .map
            .entry(account.clone())
            .or_insert(Rate {
                per_s: 0.0,
                updated: now,
            })
            .arrive(now);
        // After 20 horizons a rate is below 1e-8 of what it was: the account is cold.
        let stale = RATE_HORIZON * 20;
        st.rates
            .sweep_if_grown(|_, r| now.saturating_duration_since(r.updated) < stale);
    }

    /// Counts a request of `account` in its frequency (`adaptive`), dropping cold ones now and then.
    fn record_frequency(st: &mut State, account: &Session, now: Instant) {
        st.freq
            .map
            .entry(account.clone())
            .or_insert_with(|| Demand {
                requests: Frequency::new(now, KEEP_HORIZON),
                logins: Frequency::new(now, LOAD_HORIZON),
            })
            .requests
            .event(now);
        let stale = KEEP_HORIZON * 20;
        st.freq
            .sweep_if_grown(|_, d| now.saturating_duration_since(d.requests.updated) < stale);
    }

    /// How often `account` is asked for, per second (0 when unknown).
    fn frequency(st: &State, account: &Session, now: Instant) -> f64 {
        st.freq
            .map
            .get(account)
            .map_or(0.0, |d| d.requests.per_s(now))
    }

    /// How often `account` has logged in lately, per second (0 when unknown).
    fn login_frequency(st: &State, account: &Session, now: Instant) -> f64 {
        st.freq
            .map
            .get(account)
            .map_or(0.0, |d| d.logins.per_s(now))
    }

    /// A login took `took`: the kept terminals' budget follows the login time.
    fn learn_login_time(&self, took: Duration) {
        let mut st = self.lock();
        let secs = took.as_secs_f64();
        st.login_secs = if st.login_secs == 0.0 {
            secs
        } else {
            0.8 * st.login_secs + 0.2 * secs
        };
    }

    /// Which terminals `adaptive` keeps on their accounts now (indexed by slot; all false under
    /// the other policies). Candidates are the accounts asked for at least [`KEEP_MIN`] times per
    /// login time, taken round by round over the users (each user's most asked-for account before anyone's
    /// second). Each is kept while the rotation still has room for the logins left: the recent
    /// login rate, less the logins of the accounts kept so far (a kept account stops logging in),
    /// times the login time, fills at most [`ROTATION_LOAD`] of the terminals not kept, and at
    /// least a quarter of the terminals in service (one at least) stay in the rotation.
    fn kept_slots(&self, st: &State, now: Instant) -> Vec<bool> {
        let mut kept = vec![false; st.slots.len()];
        if self.opts.policy != Policy::Adaptive || st.login_secs <= 0.0 {
            return kept;
        }
        let up = st.slots.iter().filter(|s| !s.down).count();
        let min_rotating = up.div_ceil(4).max(1);
        if up <= min_rotating {
            return kept;
        }
        let mut candidates: Vec<(usize, Option<Uuid>, f64, f64)> = st
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.down)
            .filter_map(|(i, s)| {
                let account = s.logged_in.as_ref()?;
                let freq = Inner::frequency(st, account, now);
                let logins = Inner::login_frequency(st, account, now);
                (freq * st.login_secs >= KEEP_MIN).then_some((i, s.turn_user, freq, logins))
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
        let mut logins = st.switch_freq.map_or(0.0, |f| f.per_s(now));
        let mut rotating = up;
        for (_, order) in ranked {
            let (slot, _, _, its_logins) = candidates[order];
            let left = (logins - its_logins).max(0.0);
            let load = if st.slots[slot].kept {
                ROTATION_LOAD + ROTATION_SLACK
            } else {
                ROTATION_LOAD
            };
            if rotating - 1 < min_rotating || left * st.login_secs > load * (rotating - 1) as f64 {
                break;
            }
            kept[slot] = true;
            logins = left;
            rotating -= 1;
        }
        kept
    }

    fn set_logged_in(&self, slot: usize, account: Option<Session>, trade_allowed: Option<bool>) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            if account.is_some() {
                // The turn counts from when the account is usable: a slow login must not use it up.
                s.turn_start = Instant::now();
            }
            s.logged_in = account;
            s.trade_allowed = trade_allowed;
        }
    }

    fn trade_allowed(&self, slot: usize) -> Option<bool> {
        self.lock().slots.get(slot).and_then(|s| s.trade_allowed)
    }

    fn learn_trade_allowed(&self, slot: usize, session: &Session, allowed: bool) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            if s.logged_in.as_ref() == Some(session) {
                s.trade_allowed = Some(allowed);
            }
        }
    }

    /// Records whether the terminal in `slot` trades. Switched off, it is re-read every few
    /// seconds until it trades again; switched on, waiting orders may go to it.
    fn learn_can_trade(self: &Arc<Self>, slot: usize, can: bool) {
        let mut st = self.lock();
        let recheck = self.set_can_trade(&mut st, slot, Some(can));
        self.dispatch(&mut st);
        drop(st);
        if recheck {
            self.recheck_trading(slot);
        }
    }

    /// Sets what the terminal in `slot` says of trading (`None`: it cannot tell, taken to trade).
    /// When no terminal in service trades any more, the orders waiting for one are told at once
    /// (their requests answer `terminal_trading_disabled`) instead of waiting out their deadline.
    /// True when the caller must start re-reading the terminal ([`Inner::recheck_trading`]).
    fn set_can_trade(&self, st: &mut State, slot: usize, can: Option<bool>) -> bool {
        let Some(s) = st.slots.get_mut(slot) else {
            return false;
        };
        s.can_trade = can;
        if can != Some(false) {
            return false;
        }
        let recheck = !std::mem::replace(&mut s.rechecking, true);
        if no_terminal_trades(&st.slots) {
            let mut gone = Vec::new();
            for q in st.queues.values_mut() {
                // Dropping a waiter's sender ends its wait; `acquire` tells why.
                q.retain(|w| {
                    if w.trade {
                        gone.push(w.user);
                    }
                    !w.trade
                });
            }
            st.queued = st.queued.saturating_sub(gone.len());
            for user in gone {
                Inner::user_left(st, user);
            }
            let empty: Vec<Session> = st
                .queues
                .iter()
                .filter(|(_, q)| q.is_empty())
                .map(|(a, _)| a.clone())
                .collect();
            for account in empty {
                self.forget_if_empty(st, &account);
            }
        }
        recheck
    }

    /// Re-reads a terminal with trading off every [`TRADING_RECHECK`] until it trades again.
    fn recheck_trading(self: &Arc<Self>, slot: usize) {
        let (Ok(handle), Some(terminal)) = (
            tokio::runtime::Handle::try_current(),
            self.terminals.get(slot).cloned(),
        ) else {
            return;
        };
        let inner = self.clone();
        handle.spawn(async move {
            loop {
                tokio::time::sleep(TRADING_RECHECK).await;
                let flags = terminal.terminal_flags().await;
                let mut st = inner.lock();
                let Some(s) = st.slots.get_mut(slot) else {
                    return;
                };
                match flags {
                    // Unknown counts as trading: the next 10027 switches it off again.
                    Ok(f) if f.is_none_or(|f| f.can_trade()) => {
                        s.can_trade = f.map(|f| f.can_trade());
                        s.rechecking = false;
                        tracing::info!(terminal = terminal.id(), "terminal trades again");
                        inner.dispatch(&mut st);
                        return;
                    }
                    _ if s.can_trade != Some(false) => {
                        // Learned otherwise meanwhile (a login or a probe read it).
                        s.rechecking = false;
                        return;
                    }
                    _ => {}
                }
            }
        });
    }

    fn logged_in(&self, slot: usize) -> Option<Session> {
        self.lock()
            .slots
            .get(slot)
            .and_then(|s| s.logged_in.clone())
    }

    /// Grants `slot` to the first live waiter of `account` that it may take; when none is left,
    /// forgets the account. Whether anything changed (a grant, or abandoned waiters pruned).
    fn grant_to(self: &Arc<Self>, st: &mut State, slot: usize, account: &Session) -> bool {
        let now = Instant::now();
        let mut changed = false;
        loop {
            let can_trade = st.slots[slot].can_trade != Some(false);
            let Some(waiter) = st.queues.get_mut(account).and_then(|q| {
                let i = q
                    .iter()
                    .position(|w| w.tx.is_closed() || can_trade || !w.trade)?;
                q.remove(i)
            }) else {
                break;
            };
            st.queued = st.queued.saturating_sub(1);
            changed = true;
            if waiter.tx.is_closed() {
                Inner::user_left(st, waiter.user);
                continue; // the waiter gave up (deadline); try the next one
            }
            if st.slots[slot].logged_in.as_ref() != Some(account) {
                // A login for this user: its turn is taken, the others' come first.
                st.switches += 1;
                if self.opts.policy == Policy::Adaptive {
                    st.switch_freq
                        .get_or_insert_with(|| Frequency::new(now, LOAD_HORIZON))
                        .event(now);
                    if let Some(d) = st.freq.map.get_mut(account) {
                        d.logins.event(now);
                    }
                }
                let pass = st.switches;
                if let Some(u) = st.users.get_mut(&waiter.user) {
                    u.pass = pass;
                }
            }
            Inner::user_left(st, waiter.user);
            let s = &mut st.slots[slot];
            s.busy = true;
            s.resident_until = None;
            s.turn_user = waiter.user;
            if std::mem::take(&mut s.held) && s.logged_in.as_ref() == Some(account) {
                self.stats.residency_hits.fetch_add(1, Ordering::Relaxed);
            }
            if s.turn_account.as_ref() == Some(account) {
                s.turn_ops += 1;
            } else {
                s.turn_account = Some(account.clone());
                s.turn_ops = 1;
                s.turn_start = now;
            }
            if s.logged_in.as_ref() != Some(account) {
                // It is about to switch: until the new login succeeds it holds nothing we know of.
                s.logged_in = None;
            }
            let grant = Grant {
                inner: self.clone(),
                slot,
                armed: true,
            };
            match waiter.tx.send(grant) {
                Ok(()) => {
                    self.forget_if_empty(st, account);
                    return true;
                }
                Err(mut grant) => {
                    // The receiver vanished between the check and the send: we hold the lock,
                    // so free the slot here rather than through the grant's Drop.
                    grant.armed = false;
                    st.slots[slot].busy = false;
                }
            }
        }
        self.forget_if_empty(st, account);
        changed
    }

    /// A request of `user` joins the queue; a user who had none waiting joins the current round.
    fn user_joined(st: &mut State, user: Option<Uuid>) {
        let round = st
            .users
            .values()
            .map(|u| u.pass)
            .min()
            .unwrap_or(st.switches);
        st.users
            .entry(user)
            .or_insert(UserTurn {
                waiting: 0,
                pass: round,
            })
            .waiting += 1;
    }

    /// A request of `user` left the queue (granted, refused or abandoned).
    fn user_left(st: &mut State, user: Option<Uuid>) {
        if let Some(u) = st.users.get_mut(&user) {
            u.waiting = u.waiting.saturating_sub(1);
            if u.waiting == 0 {
                st.users.remove(&user);
            }
        }
    }

    /// Which starving account gets the next switch: that of the user with the lowest pass (users
    /// take turns), and within a user the one that has waited longest.
    fn next_starving<'a>(st: &State, starving: &'a [Session]) -> Option<&'a Session> {
        starving
            .iter()
            .enumerate()
            .min_by_key(|(i, a)| {
                let user = st
                    .queues
                    .get(*a)
                    .and_then(|q| q.iter().find(|w| !w.tx.is_closed()))
                    .map(|w| w.user);
                let pass = user
                    .and_then(|u| st.users.get(&u))
                    .map_or(u64::MAX, |u| u.pass);
                (pass, *i)
            })
            .map(|(_, a)| a)
    }

    fn forget_if_empty(&self, st: &mut State, account: &Session) {
        if st.queues.get(account).is_none_or(|q| q.is_empty()) {
            st.queues.remove(account);
            st.arrival.retain(|a| a != account);
        }
    }

    /// Takes an unreachable terminal out of the pool and probes it (health, backing off up to
    /// 10 s) until it answers, then puts it back. Without an async runtime nothing is marked.
    fn mark_down(self: &Arc<Self>, slot: usize) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut st = self.lock();
            let Some(s) = st.slots.get_mut(slot) else {
                return;
            };
            s.logged_in = None;
            s.trade_allowed = None;
            if s.down {
                return; // already out: a running probe, or the lease keeper, brings it back
            }
            s.down = true;
        }
        tracing::warn!(
            terminal = self.terminals[slot].id(),
            "terminal unreachable: taken out of the pool"
        );
        self.probe(&handle, slot);
    }

    /// Probes a terminal that is out of the pool until it answers, then puts it back.
    fn probe(self: &Arc<Self>, handle: &tokio::runtime::Handle, slot: usize) {
        let Some(terminal) = self.terminals.get(slot).cloned() else {
            return;
        };
        let inner = self.clone();
        handle.spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                tokio::time::sleep(backoff).await;
                if let Ok(current) = terminal.current().await {
                    let flags = terminal.terminal_flags().await.ok().flatten();
                    let mut st = inner.lock();
                    if let Some(s) = st.slots.get_mut(slot) {
                        s.down = false;
                        s.logged_in = current;
                        s.trade_allowed = None;
                    }
                    let recheck = inner.set_can_trade(&mut st, slot, flags.map(|f| f.can_trade()));
                    tracing::info!(
                        terminal = terminal.id(),
                        "terminal answers again: back in the pool"
                    );
                    inner.dispatch(&mut st);
                    drop(st);
                    if recheck {
                        inner.recheck_trading(slot);
                    }
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        });
    }

    fn turn_over(&self, s: &SlotInfo, now: Instant) -> bool {
        s.turn_ops >= self.opts.max_batch || now.duration_since(s.turn_start) >= self.opts.max_turn
    }

    /// Hands idle terminals to waiters until nothing more can be granted.
    fn dispatch(self: &Arc<Self>, st: &mut State) {
        match self.opts.policy {
            Policy::Pool | Policy::Adaptive => self.dispatch_pool(st),
            Policy::Naive => self.dispatch_fifo(st),
        }
    }

    /// The naive policy: the oldest waiter of all gets the idle terminal, whatever its account.
    fn dispatch_fifo(self: &Arc<Self>, st: &mut State) {
        loop {
            let Some(slot) = st.slots.iter().position(|s| !s.busy && !s.down) else {
                return;
            };
            let oldest = st
                .queues
                .iter()
                .filter_map(|(a, q)| {
                    q.iter()
                        .find(|w| st.slots[slot].takes(w))
                        .map(|w| (w.seq, a))
                })
                .min_by_key(|(seq, _)| *seq)
                .map(|(_, a)| a.clone());
            let Some(account) = oldest else {
                return;
            };
            // Either the slot is granted or the account's (abandoned) waiters are gone: progress.
            if !self.grant_to(st, slot, &account) {
                return;
            }
        }
    }

    fn dispatch_pool(self: &Arc<Self>, st: &mut State) {
        // Every pass either grants a slot or drops an account whose waiters all gave up, so the
        // loop ends; `progressed` counts both, since either can change who is starving.
        loop {
            let now = Instant::now();
            // Accounts waiting with no terminal logged in to them (idle or busy). A terminal on
            // an account covers it only if it may take one of its waiters: trades that wait on a
            // terminal with trading off starve and get another one.
            let covered: std::collections::HashSet<&Session> = st
                .slots
                .iter()
                .filter_map(|s| {
                    let on = s.logged_in.as_ref().or(if s.busy {
                        s.turn_account.as_ref()
                    } else {
                        None
                    })?;
                    s.takes_any(st.queues.get(on)).then_some(on)
                })
                .collect();
            let starving: Vec<Session> = st
                .arrival
                .iter()
                .filter(|a| !covered.contains(a))
                .cloned()
                .collect();
            drop(covered);
            let kept = self.kept_slots(st, now);
            for (s, k) in st.slots.iter_mut().zip(&kept) {
                s.kept = *k;
            }
            let mut progressed = false;

            // 1. Batching: an idle terminal logged in to an account with waiters serves them,
            //    unless its turn is over and other accounts starve (a kept terminal has no turns).
            for i in 0..st.slots.len() {
                let s = &st.slots[i];
                if s.busy || s.down {
                    continue;
                }
                let Some(acc) = s.logged_in.clone() else {
                    continue;
                };
                if !st.queues.contains_key(&acc) {
                    continue;
                }
                if !s.kept
                    && s.turn_account.as_ref() == Some(&acc)
                    && self.turn_over(s, now)
                    && !starving.is_empty()
                {
                    continue;
                }
                progressed |= self.grant_to(st, i, &acc);
            }

            // 2. Switching: the oldest starving account gets an idle terminal that is neither
            //    resident nor kept, preferring one whose account nobody waits for, then (`pool`)
            //    the least recently used or (`adaptive`) the least asked-for.
            let free = |s: &SlotInfo| !s.busy && !s.down;
            // Only accounts some idle terminal may take part in the turns of this pass. Usually
            // every idle terminal trades and takes any account: no need to look (a hot path).
            let mixed = st
                .slots
                .iter()
                .any(|s| free(s) && s.can_trade == Some(false));
            let servable: std::borrow::Cow<'_, [Session]> = if mixed {
                starving
                    .iter()
                    .filter(|a| {
                        st.slots
                            .iter()
                            .any(|s| free(s) && s.takes_any(st.queues.get(*a)))
                    })
                    .cloned()
                    .collect::<Vec<_>>()
                    .into()
            } else {
                starving.as_slice().into()
            };
            if let Some(acc) = Inner::next_starving(st, &servable) {
                let takes = |s: &SlotInfo| s.takes_any(st.queues.get(acc));
                let fits = |s: &SlotInfo| free(s) && takes(s);
                let resident = |s: &SlotInfo| {
                    s.logged_in.is_some() && s.resident_until.is_some_and(|end| now < end)
                };
                // Keeping never strands a waiter: when no terminal in the rotation could ever take
                // this account's requests (the others are down or do not trade), none is kept.
                let rotation_takes = (0..st.slots.len())
                    .any(|i| !kept[i] && !st.slots[i].down && takes(&st.slots[i]));
                let is_kept = |i: usize| kept[i] && rotation_takes;
                let adaptive = self.opts.policy == Policy::Adaptive;
                let freq_of = |s: &SlotInfo| {
                    s.logged_in
                        .as_ref()
                        .map_or(0.0, |a| Inner::frequency(st, a, now))
                };
                let victim = (0..st.slots.len())
                    .filter(|&i| fits(&st.slots[i]) && !resident(&st.slots[i]) && !is_kept(i))
                    .min_by(|&i, &j| {
                        let key = |i: usize| {
                            let s = &st.slots[i];
                            let wanted = s
                                .logged_in
                                .as_ref()
                                .is_some_and(|a| st.queues.contains_key(a));
                            let freq = if adaptive { freq_of(s) } else { 0.0 };
                            (wanted, freq, s.last_used)
                        };
                        let (a, b) = (key(i), key(j));
                        a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
                    })
                    .or_else(|| {
                        // Admission: an account asked for well above a kept one takes its place,
                        // if that is its own user's or that of a user holding more kept terminals
                        // (kept places go round the users, and admission must not undo that).
                        let wanted = Inner::frequency(st, acc, now);
                        let user = st
                            .queues
                            .get(acc)
                            .and_then(|q| q.iter().find(|w| !w.tx.is_closed()))
                            .map(|w| w.user);
                        let kept_of = |u: Option<Uuid>| {
                            (0..st.slots.len())
                                .filter(|&i| is_kept(i) && st.slots[i].turn_user == u)
                                .count()
                        };
                        let mine = user.map_or(0, kept_of);
                        (0..st.slots.len())
                            .filter(|&i| is_kept(i) && fits(&st.slots[i]))
                            .filter(|&i| {
                                let s = &st.slots[i];
                                !s.logged_in
                                    .as_ref()
                                    .is_some_and(|a| st.queues.contains_key(a))
                                    && (Some(s.turn_user) == user || kept_of(s.turn_user) > mine)
                            })
                            .map(|i| (i, freq_of(&st.slots[i])))
                            .filter(|(_, f)| wanted > ADMIT_MARGIN * f)
                            .min_by(|a, b| a.1.total_cmp(&b.1))
                            .map(|(i, _)| i)
                    });
                if let Some(i) = victim {
                    progressed |= self.grant_to(st, i, acc);
                } else if let Some(end) = (0..st.slots.len())
                    .filter(|&i| fits(&st.slots[i]) && resident(&st.slots[i]) && !is_kept(i))
                    .filter_map(|i| st.slots[i].resident_until)
                    .min()
                {
                    // Every idle terminal of the rotation is resident: the account waits until
                    // the first residency ends, and a timer makes sure it is served then.
                    if self.arm_timer(st, end) {
                        for s in st.slots.iter_mut().filter(|s| free(s) && resident(s)) {
                            if !std::mem::replace(&mut s.held, true) {
                                self.stats.residency_holds.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    } else {
                        // No timer can end the residency: give it up rather than strand a waiter.
                        for s in st.slots.iter_mut() {
                            s.resident_until = None;
                        }
                        progressed = true;
                    }
                } else if (0..st.slots.len()).any(|i| is_kept(i) && fits(&st.slots[i])) {
                    // Kept terminals sit idle while the rotation is busy: the account waits for
                    // the rotation (a release dispatches again).
                    self.stats.kept_holds.fetch_add(1, Ordering::Relaxed);
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// Makes sure a dispatch runs at `end` (or earlier); false when there is no runtime to run it.
    fn arm_timer(self: &Arc<Self>, st: &mut State, end: Instant) -> bool {
        if st.wake_at.is_some_and(|at| at <= end) {
            return true;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        st.wake_at = Some(end);
        let inner = self.clone();
        handle.spawn(async move {
            tokio::time::sleep_until(end.into()).await;
            let mut st = inner.lock();
            // `wake_at` is the earliest pending instant: this one, an earlier one firing now too,
            // or a later one armed since, whose own timer is still to come.
            if st.wake_at.is_some_and(|at| at <= Instant::now()) {
                st.wake_at = None;
            }
            inner.dispatch(&mut st);
        });
        true
    }
}

/// What [`TerminalPool::run_on_server_if_idle`] found.
#[derive(Debug)]
pub enum Peeked<R> {
    /// `op` ran on an idle terminal.
    Ran(Result<R, TerminalError>),
    /// Terminals are logged in there, all busy now: try again later.
    Busy,
    /// No terminal is logged in there (or every one that was is down).
    NoTerminal,
}

/// A terminal borrowed by [`TerminalPool::run_if_idle`]: given back as it was (no use recorded,
/// no residency), then offered to whoever waits.
struct Peek {
    inner: Arc<Inner>,
    slot: usize,
}

impl Drop for Peek {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(s) = st.slots.get_mut(self.slot) {
            s.busy = false;
        }
        self.inner.dispatch(&mut st);
    }
}

/// An exclusive hold on one terminal, for one account.
struct Lease {
    grant: Grant,
    terminal: Arc<dyn Terminal>,
}

impl TerminalPool {
    pub fn new(terminals: Vec<Arc<dyn Terminal>>, opts: PoolOptions) -> Self {
        let terminals: Vec<Arc<dyn Terminal>> = match opts.policy {
            Policy::Naive => terminals.into_iter().take(1).collect(),
            Policy::Pool | Policy::Adaptive => terminals,
        };
        let now = Instant::now();
        let slots = terminals
            .iter()
            .map(|_| SlotInfo {
                logged_in: None,
                trade_allowed: None,
                can_trade: None,
                rechecking: false,
                busy: false,
                last_used: now,
                turn_account: None,
                turn_ops: 0,
                turn_start: now,
                down: false,
                resident_until: None,
                held: false,
                kept: false,
                turn_user: None,
            })
            .collect();
        TerminalPool {
            inner: Arc::new(Inner {
                terminals,
                state: Mutex::new(State {
                    slots,
                    ..Default::default()
                }),
                opts,
                stats: PoolStats::default(),
            }),
        }
    }

    /// Terminals taken out of the pool because they do not answer.
    pub fn terminals_down(&self) -> usize {
        self.inner.lock().slots.iter().filter(|s| s.down).count()
    }

    /// Terminals `adaptive` kept on their accounts at its last dispatch (0 under the other
    /// policies): what the dispatcher decided, not a second computation of it.
    pub fn terminals_kept(&self) -> usize {
        self.inner.lock().slots.iter().filter(|s| s.kept).count()
    }

    /// Terminals known to have trading switched off (they still serve reads).
    pub fn terminals_trading_disabled(&self) -> usize {
        self.inner
            .lock()
            .slots
            .iter()
            .filter(|s| s.can_trade == Some(false))
            .count()
    }

    pub fn size(&self) -> usize {
        self.inner.terminals.len()
    }

    pub fn stats(&self) -> &PoolStats {
        &self.inner.stats
    }

    /// The deadline of one operation, waiting included.
    pub fn timeout(&self) -> Duration {
        self.inner.opts.timeout
    }

    pub fn policy(&self) -> Policy {
        self.inner.opts.policy
    }

    /// Requests waiting for a terminal now.
    pub fn queue_depth(&self) -> usize {
        self.inner.lock().queued
    }

    /// Logins attempted so far (failed ones included).
    pub fn logins(&self) -> u64 {
        self.inner.stats.logins.load(Ordering::Relaxed)
    }

    /// Runs `op` on a terminal that is logged in to `session` and idle right now; None when no
    /// terminal is. It never queues, never logs in and is not counted as a request (the policies'
    /// frequencies, turns and residency do not see it): for reads that may be skipped, such as
    /// the live stream's polls. A waiter that arrives meanwhile gets the terminal when `op` ends.
    pub async fn run_if_idle<R, F>(
        &self,
        session: &Session,
        op: F,
    ) -> Option<Result<R, TerminalError>>
    where
        F: FnOnce(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>>,
    {
        match self.peek(|s| s == session, op).await {
            Peeked::Ran(r) => Some(r),
            Peeked::Busy | Peeked::NoTerminal => None,
        }
    }

    /// Like [`TerminalPool::run_if_idle`], on any terminal logged in to an account of `server`
    /// (for what the server shows every account alike: its quotes). `op` is given that account's
    /// session as the one expected.
    pub async fn run_on_server_if_idle<R, F>(&self, server: &str, op: F) -> Peeked<R>
    where
        F: FnOnce(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>>,
    {
        self.peek(|s| s.account.server == server, op).await
    }

    async fn peek<R, F>(&self, wanted: impl Fn(&Session) -> bool, op: F) -> Peeked<R>
    where
        F: FnOnce(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>>,
    {
        let (slot, session) = {
            let mut st = self.inner.lock();
            let on = |s: &SlotInfo| !s.down && s.logged_in.as_ref().is_some_and(&wanted);
            let Some(slot) = st.slots.iter().position(|s| on(s) && !s.busy) else {
                return if st.slots.iter().any(on) {
                    Peeked::Busy
                } else {
                    Peeked::NoTerminal
                };
            };
            let Some(session) = st.slots[slot].logged_in.clone() else {
                return Peeked::NoTerminal;
            };
            st.slots[slot].busy = true;
            (slot, session)
        };
        let _peek = Peek {
            inner: self.inner.clone(),
            slot,
        };
        let Some(terminal) = self.inner.terminals.get(slot).cloned() else {
            return Peeked::NoTerminal;
        };
        let deadline = std::time::Instant::now() + self.inner.opts.timeout;
        let expected = Expected::new(session).with_deadline(deadline);
        let result =
            match tokio::time::timeout(self.inner.opts.timeout, op(terminal, expected)).await {
                Ok(r) => r,
                Err(_) => Err(TerminalError::Timeout),
            };
        if let Err(TerminalError::WrongAccount { .. }) = &result {
            // Nothing ran; forget what we believed the terminal held.
            self.inner.set_logged_in(slot, None, None);
        }
        Peeked::Ran(result)
    }

    /// Whether some terminal is known to be logged in to `account` now (not while it switches).
    pub fn is_logged_in(&self, account: &Session) -> bool {
        self.inner
            .lock()
            .slots
            .iter()
            .any(|s| s.logged_in.as_ref() == Some(account))
    }

    /// Whether some terminal holds a session of `account` now, whatever its credential.
    pub fn is_account_logged_in(&self, account: &mt5::AccountKey) -> bool {
        self.inner
            .lock()
            .slots
            .iter()
            .any(|s| s.logged_in.as_ref().is_some_and(|l| &l.account == account))
    }

    /// What each terminal is known to be logged in to now, in terminal order.
    pub fn logged_in_accounts(&self) -> Vec<Option<Session>> {
        self.inner
            .lock()
            .slots
            .iter()
            .map(|s| s.logged_in.clone())
            .collect()
    }

    async fn acquire(
        &self,
        account: &Session,
        user: Option<Uuid>,
        trade: bool,
    ) -> Result<Lease, PoolError> {
        if self.inner.terminals.is_empty() {
            return Err(PoolError::Unavailable("no terminal is configured".into()));
        }
        let started = Instant::now();
        let mut waiting = {
            let mut st = self.inner.lock();
            if trade && no_terminal_trades(&st.slots) {
                return Err(PoolError::TradingDisabled);
            }
            let (tx, rx) = oneshot::channel();
            let seq = st.next_seq;
            st.next_seq += 1;
            let policy = self.inner.opts.policy;
            if policy != Policy::Naive && !self.inner.opts.residency.is_zero() {
                Inner::record_arrival(&mut st, account, started);
            }
            if policy == Policy::Adaptive {
                Inner::record_frequency(&mut st, account, started);
            }
            st.queued += 1;
            Inner::user_joined(&mut st, user);
            st.queues
                .entry(account.clone())
                .or_default()
                .push_back(Waiter {
                    tx,
                    seq,
                    user,
                    trade,
                });
            if !st.arrival.contains(account) {
                st.arrival.push_back(account.clone());
            }
            self.inner.dispatch(&mut st);
            // Only a request that must wait counts against the limit: one that an idle terminal
            // could take at once is served even when the queue is full of other accounts.
            let still_waiting = st
                .queues
                .get(account)
                .is_some_and(|q| q.iter().any(|w| w.seq == seq));
            let per_user = self.inner.opts.queue_limit_per_user;
            let user_full =
                user.is_some() && st.users.get(&user).map_or(0, |u| u.waiting) > per_user;
            if still_waiting && (user_full || st.queued > self.inner.opts.queue_limit) {
                if let Some(q) = st.queues.get_mut(account) {
                    q.retain(|w| w.seq != seq);
                }
                st.queued = st.queued.saturating_sub(1);
                Inner::user_left(&mut st, user);
                self.inner.forget_if_empty(&mut st, account);
                self.inner
                    .stats
                    .queue_rejections
                    .fetch_add(1, Ordering::Relaxed);
                if user_full {
                    return Err(PoolError::UserQueueFull {
                        limit: u32::try_from(per_user).unwrap_or(u32::MAX),
                    });
                }
                return Err(PoolError::Unavailable("terminal queue is full".into()));
            }
            Waiting {
                inner: self.inner.clone(),
                account: account.clone(),
                rx: Some(rx),
            }
        };
        let received = match waiting.rx.as_mut() {
            Some(rx) => rx.await,
            None => return Err(PoolError::Unavailable("terminal pool closed".into())),
        };
        waiting.rx = None;
        let grant = received.map_err(|_| {
            // An order's wait ends without a terminal when the last one that traded stopped.
            if trade && no_terminal_trades(&self.inner.lock().slots) {
                PoolError::TradingDisabled
            } else {
                PoolError::Unavailable("terminal pool closed".into())
            }
        })?;
        let stats = &self.inner.stats;
        stats.leases.fetch_add(1, Ordering::Relaxed);
        stats
            .wait_us
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let terminal = self.inner.terminals[grant.slot].clone();
        Ok(Lease { grant, terminal })
    }

    async fn login(
        &self,
        lease: &Lease,
        session: &Session,
        password: &SecretString,
    ) -> Result<AccountInfo, PoolError> {
        self.inner.set_logged_in(lease.grant.slot, None, None);
        self.inner.stats.logins.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        match lease
            .terminal
            .login(session, password, self.inner.opts.timeout)
            .await
        {
            Ok(info) => {
                self.inner.learn_login_time(started.elapsed());
                self.inner.set_logged_in(
                    lease.grant.slot,
                    Some(session.clone()),
                    Some(info.trade_allowed),
                );
                // A fresh login is a good moment to learn whether the terminal itself trades.
                if let Ok(Some(flags)) = lease.terminal.terminal_flags().await {
                    self.inner
                        .learn_can_trade(lease.grant.slot, flags.can_trade());
                }
                Ok(info)
            }
            Err(e) => {
                self.inner
                    .stats
                    .failed_logins
                    .fetch_add(1, Ordering::Relaxed);
                if e.is_terminal_down() {
                    self.inner.mark_down(lease.grant.slot);
                }
                Err(PoolError::Login(e))
            }
        }
    }

    /// Runs `op` on a terminal holding `session`, within the pool's deadline.
    pub async fn run<R, F>(
        &self,
        session: &Session,
        password: PasswordSource<'_>,
        op: F,
    ) -> Result<R, PoolError>
    where
        R: Send + 'static,
        F: Fn(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>> + Send + Sync,
    {
        self.run_for(
            session,
            None,
            password,
            Purpose::Read,
            self.inner.opts.timeout,
            op,
        )
        .await
        .map(|ran| ran.value)
    }

    /// As [`TerminalPool::run`], with its own deadline (waiting, login and operation included).
    pub async fn run_with_timeout<R, F>(
        &self,
        session: &Session,
        password: PasswordSource<'_>,
        timeout: Duration,
        op: F,
    ) -> Result<R, PoolError>
    where
        R: Send + 'static,
        F: Fn(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>> + Send + Sync,
    {
        self.run_for(session, None, password, Purpose::Read, timeout, op)
            .await
            .map(|ran| ran.value)
    }

    /// Runs `op` on a terminal holding `session` (logging one in with `password` when none
    /// does), for `user` and `purpose`, within `timeout`; reports the login it made, if any.
    pub async fn run_for<R, F>(
        &self,
        session: &Session,
        user: Option<Uuid>,
        password: PasswordSource<'_>,
        purpose: Purpose,
        timeout: Duration,
        op: F,
    ) -> Result<Ran<R>, PoolError>
    where
        R: Send + 'static,
        F: Fn(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>> + Send + Sync,
    {
        // The whole budget, queueing included: calls carry what remains of it.
        let deadline = std::time::Instant::now() + timeout;
        let work = async {
            let mut login = None;
            for attempt in 0..2 {
                let lease = self
                    .acquire(session, user, purpose == Purpose::Trade)
                    .await?;
                let slot = lease.grant.slot;
                let fresh = self.inner.opts.policy == Policy::Naive;
                if fresh || self.inner.logged_in(slot).as_ref() != Some(session) {
                    let pw = password().await.map_err(PoolError::Password)?;
                    login = Some(self.login(&lease, session, &pw).await?);
                }
                // Fencing across replicas is the agent client's (its Redis lease), not the pool's.
                let expected = Expected::new(session.clone()).with_deadline(deadline);
                let checked = match purpose {
                    Purpose::Read => Ok(true),
                    Purpose::Trade => match self.inner.trade_allowed(slot) {
                        Some(allowed) => Ok(allowed),
                        // A session the pool found rather than made: ask the terminal once.
                        None => lease.terminal.account_info(&expected).await.map(|info| {
                            self.inner
                                .learn_trade_allowed(slot, session, info.trade_allowed);
                            info.trade_allowed
                        }),
                    },
                };
                let result = match checked {
                    Ok(true) => op(lease.terminal.clone(), expected).await,
                    Ok(false) => return Err(PoolError::ReadOnly),
                    Err(e) => Err(e),
                };
                match result {
                    Err(TerminalError::WrongAccount { expected, actual }) => {
                        self.inner
                            .stats
                            .guard_mismatches
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            terminal = lease.terminal.id(),
                            expected = %expected,
                            actual = ?actual.map(|a| a.to_string()),
                            attempt,
                            "terminal guard mismatch: operation not executed"
                        );
                        // Nothing ran; forget what we believed the terminal held and try afresh.
                        self.inner.set_logged_in(slot, None, None);
                    }
                    Err(e) if e.is_trading_disabled() => {
                        // The terminal's own switch is off (a 10027 or -8 slipped through): nothing
                        // ran; orders go elsewhere until it is back on.
                        tracing::warn!(
                            terminal = lease.terminal.id(),
                            "terminal refuses to trade (Algo Trading off): orders go elsewhere"
                        );
                        self.inner.learn_can_trade(slot, false);
                        return Err(PoolError::TradingDisabled);
                    }
                    Err(e) if e.is_connection() => {
                        self.inner.set_logged_in(slot, None, None);
                        if e.is_terminal_down() {
                            self.inner.mark_down(slot);
                        }
                        return Err(PoolError::Terminal(e));
                    }
                    Ok(value) => return Ok(Ran { value, login }),
                    Err(e) => return Err(PoolError::Terminal(e)),
                }
            }
            Err(PoolError::Unavailable(
                "terminal guard mismatch twice".into(),
            ))
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => {
                self.inner.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(PoolError::Timeout)
            }
        }
    }

    /// Takes a terminal out of service without probing it (this replica may not drive it).
    pub fn take_out(&self, slot: usize) {
        let mut st = self.inner.lock();
        if let Some(s) = st.slots.get_mut(slot) {
            s.down = true;
            s.logged_in = None;
            s.trade_allowed = None;
        }
    }

    /// As [`TerminalPool::take_out`], only when no lease holds it; whether it was taken out.
    pub fn take_out_if_idle(&self, slot: usize) -> bool {
        let mut st = self.inner.lock();
        match st.slots.get_mut(slot) {
            Some(s) if !s.busy => {
                s.down = true;
                s.logged_in = None;
                s.trade_allowed = None;
                true
            }
            _ => false,
        }
    }

    /// Puts a terminal back in service, learning what it is logged in to; one that does not
    /// answer stays out and is probed until it does.
    pub async fn put_back(&self, slot: usize) {
        let Some(terminal) = self.inner.terminals.get(slot).cloned() else {
            return;
        };
        match terminal.current().await {
            Ok(current) => {
                let flags = terminal.terminal_flags().await.ok().flatten();
                let mut st = self.inner.lock();
                if let Some(s) = st.slots.get_mut(slot) {
                    s.down = false;
                    s.logged_in = current;
                    s.trade_allowed = None;
                }
                let recheck = self
                    .inner
                    .set_can_trade(&mut st, slot, flags.map(|f| f.can_trade()));
                self.inner.dispatch(&mut st);
                drop(st);
                if recheck {
                    self.inner.recheck_trading(slot);
                }
            }
            Err(e) => {
                tracing::warn!(terminal = terminal.id(), error = %e, "terminal does not answer: probing it");
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    self.inner.probe(&handle, slot);
                }
            }
        }
    }

    /// Logs a terminal in with credentials that are not stored yet, to verify them.
    pub async fn verify_login(
        &self,
        session: &Session,
        password: &SecretString,
    ) -> Result<AccountInfo, PoolError> {
        self.verify_login_for(session, None, password).await
    }

    /// As [`TerminalPool::verify_login`], for `user` (fair shares, the per-user queue limit).
    pub async fn verify_login_for(
        &self,
        session: &Session,
        user: Option<Uuid>,
        password: &SecretString,
    ) -> Result<AccountInfo, PoolError> {
        let work = async {
            let lease = self.acquire(session, user, false).await?;
            self.login(&lease, session, password).await
        };
        match tokio::time::timeout(self.inner.opts.timeout, work).await {
            Ok(r) => r,
            Err(_) => {
                self.inner.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                Err(PoolError::Timeout)
            }
        }
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
