//! The terminal pool: hands out short, exclusive leases on terminals logged in to a given account.
//!
//! Terminals are cache slots and logins are misses: a request goes to a terminal already logged
//! in to its account when there is one, and requests queued for an account are served on its
//! terminal one after another before it switches away, so N queued requests cost one login, not
//! N. The queue is bounded (`queue_limit`, then 503; `queue_limit_per_user`, then 429) and every
//! operation has a deadline, waiting included (then 504).
//!
//! Under the lease every operation names the account it expects ([`Expected`]) and the terminal
//! refuses to act for any other (the guard): a mismatch never executes, is logged and counted,
//! and the operation is retried once on a fresh lease ([`TerminalPool::run_for`]).
//!
//! This file is the pool's public face; each concern has a file of its own, below it:
//!
//! | file | what it holds |
//! |---|---|
//! | `options.rs` | [`Policy`], [`PoolOptions`], the counters ([`PoolStats`]) |
//! | `error.rs` | [`PoolError`]; [`PasswordUnavailable`], a password the caller could not give |
//! | `slot.rs` | what the pool knows of one terminal |
//! | `leases.rs` | the state under the lock, the waiters, grants and leases; the invariants |
//! | `policy.rs` | which waiter an idle terminal goes to: `pool` (affinity, batches), `naive` |
//! | `fairness.rs` | the users' turns at logins (start-time fair queueing) |
//! | `residency.rs` | a hot account's terminal staying on it for a short window |
//! | `adaptive.rs` | `adaptive`'s request and login frequencies, and which terminals it keeps |
//! | `health.rs` | terminals that do not answer (probed until they do) or do not trade |
//!
//! The pool names nothing of the HTTP layer: `error.rs` turns a [`PoolError`] into the API's
//! answer.

mod adaptive;
mod error;
mod fairness;
mod health;
mod leases;
mod options;
mod policy;
mod residency;
mod slot;

pub use adaptive::{
    ADMIT_MARGIN, KEEP_HORIZON, KEEP_MIN, LOAD_HORIZON, ROTATION_LOAD, ROTATION_SLACK,
};
pub use error::{ends_lease, PasswordUnavailable, PoolError};
pub use options::{Policy, PoolOptions, PoolStats};
pub use residency::RATE_HORIZON;

use leases::{Inner, Peek, State};
use mt5::{AccountInfo, Expected, Session, Terminal, TerminalError};
use secrecy::SecretString;
use slot::SlotInfo;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Where the password comes from when a terminal must log in: decrypted only then (and refused
/// there when the credential is known to be bad, so no login is tried with it).
pub type PasswordSource<'a> = &'a (dyn Fn() -> PasswordFuture + Sync);

/// What a [`PasswordSource`] gives: the password, or the caller's own error, handed back
/// untouched in [`PoolError::Password`].
pub type PasswordFuture = BoxFuture<Result<SecretString, PasswordUnavailable>>;

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

pub struct TerminalPool {
    inner: Arc<Inner>,
}

impl TerminalPool {
    pub fn new(terminals: Vec<Arc<dyn Terminal>>, opts: PoolOptions) -> Self {
        let terminals: Vec<Arc<dyn Terminal>> = match opts.policy {
            Policy::Naive => terminals.into_iter().take(1).collect(),
            Policy::Pool | Policy::Adaptive => terminals,
        };
        let now = Instant::now();
        let slots = terminals.iter().map(|_| SlotInfo::new(now)).collect();
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

    /// The slot of the terminal named `id` (its [`Terminal::id`]).
    pub fn slot_of(&self, id: &str) -> Option<usize> {
        self.inner.terminals.iter().position(|t| t.id() == id)
    }

    /// The terminal in `slot`.
    pub fn terminal(&self, slot: usize) -> Option<Arc<dyn Terminal>> {
        self.inner.terminals.get(slot).cloned()
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
                    .inner
                    .acquire(session, user, purpose == Purpose::Trade)
                    .await?;
                let slot = lease.grant.slot;
                let fresh = self.inner.opts.policy == Policy::Naive;
                if fresh || self.inner.logged_in(slot).as_ref() != Some(session) {
                    let pw = password().await.map_err(PoolError::Password)?;
                    login = Some(self.inner.login(&lease, session, &pw).await?);
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
                        return Err(PoolError::of_terminal(e));
                    }
                    Err(e) if e.is_connection() => {
                        self.inner.set_logged_in(slot, None, None);
                        if e.is_terminal_down() {
                            self.inner.mark_down(slot);
                        }
                        return Err(PoolError::Terminal(e));
                    }
                    Ok(value) => return Ok(Ran { value, login }),
                    Err(e) => return Err(PoolError::of_terminal(e)),
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
        self.inner.take_out(slot);
    }

    /// As [`TerminalPool::take_out`], only when no lease holds it; whether it was taken out.
    pub fn take_out_if_idle(&self, slot: usize) -> bool {
        self.inner.take_out_if_idle(slot)
    }

    /// Puts a terminal back in service, learning what it is logged in to; one that does not
    /// answer stays out and is probed until it does.
    pub async fn put_back(&self, slot: usize) {
        self.inner.put_back(slot).await;
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
            let lease = self.inner.acquire(session, user, false).await?;
            self.inner.login(&lease, session, password).await
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
