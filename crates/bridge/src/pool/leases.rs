//! Slots and leases: the pool's state under its lock ([`State`], [`Inner`]), the requests waiting
//! for a terminal ([`Waiter`]), and the holds that give a terminal back when dropped ([`Grant`],
//! [`Lease`], [`Peek`]). A request queues ([`Inner::acquire`]), a dispatch (`policy.rs`) grants it
//! a slot ([`Inner::grant_to`]), and the grant's drop frees the slot and dispatches again.
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

use super::adaptive::Demands;
use super::error::PoolError;
use super::fairness::Turns;
use super::options::{Policy, PoolOptions, PoolStats};
use super::residency::Rates;
use super::slot::{no_terminal_trades, SlotInfo};
use mt5::{AccountInfo, Session, Terminal};
use secrecy::SecretString;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::oneshot;
use uuid::Uuid;

pub(super) struct Waiter {
    pub(super) tx: oneshot::Sender<Grant>,
    /// Arrival number over all accounts (the naive policy serves strictly in this order).
    pub(super) seq: u64,
    /// The user the request is for (fair shares and the per-user queue limit); `None` for
    /// callers that are no user (benchmarks, tools), which count as one user of their own.
    pub(super) user: Option<Uuid>,
    /// An order send (or a run that may send): only a terminal that can trade takes it.
    pub(super) trade: bool,
}

impl SlotInfo {
    /// Whether it may take some waiter of `queue`.
    pub(super) fn takes_any(&self, queue: Option<&VecDeque<Waiter>>) -> bool {
        queue.is_some_and(|q| q.iter().any(|w| self.takes(w.trade)))
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) slots: Vec<SlotInfo>,
    pub(super) queues: HashMap<Session, VecDeque<Waiter>>,
    /// Accounts with waiters, in the order their oldest waiter arrived.
    pub(super) arrival: VecDeque<Session>,
    pub(super) queued: usize,
    pub(super) next_seq: u64,
    /// Recent arrival rate per account (residency's notion of a hot account).
    pub(super) rates: Rates,
    /// When the armed residency timer fires, if one is armed.
    pub(super) wake_at: Option<Instant>,
    /// The users with requests waiting, and their turns at logins.
    pub(super) turns: Turns,
    /// Request and login frequencies per account, and the login time (`adaptive`).
    pub(super) demand: Demands,
}

pub(super) struct Inner {
    pub(super) terminals: Vec<Arc<dyn Terminal>>,
    pub(super) state: Mutex<State>,
    pub(super) opts: PoolOptions,
    pub(super) stats: PoolStats,
}

/// A slot handed to a waiter. Dropping it (even unreceived, when the waiter gave up) frees the slot.
pub(super) struct Grant {
    inner: Arc<Inner>,
    pub(super) slot: usize,
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
                st.turns.left(user);
            }
            self.inner.forget_if_empty(&mut st, &self.account);
        }
    }
}

/// An exclusive hold on one terminal, for one account.
pub(super) struct Lease {
    pub(super) grant: Grant,
    pub(super) terminal: Arc<dyn Terminal>,
}

/// A terminal borrowed by `TerminalPool::run_if_idle`: given back as it was (no use recorded,
/// no residency), then offered to whoever waits.
pub(super) struct Peek {
    pub(super) inner: Arc<Inner>,
    pub(super) slot: usize,
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

impl Inner {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only ever left consistent between statements; a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn release(self: &Arc<Self>, slot: usize) {
        let mut st = self.lock();
        let now = Instant::now();
        let resident_until = st
            .slots
            .get(slot)
            .and_then(|s| st.rates.end(s, &self.opts, now));
        if let Some(s) = st.slots.get_mut(slot) {
            s.busy = false;
            s.last_used = now;
            s.resident_until = resident_until;
        }
        self.dispatch(&mut st);
    }

    pub(super) fn set_logged_in(
        &self,
        slot: usize,
        account: Option<Session>,
        trade_allowed: Option<bool>,
    ) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            if account.is_some() {
                // The turn counts from when the account is usable: a slow login must not use it up.
                s.turn_start = Instant::now();
            }
            s.logged_in = account;
            s.trade_allowed = trade_allowed;
        }
    }

    pub(super) fn trade_allowed(&self, slot: usize) -> Option<bool> {
        self.lock().slots.get(slot).and_then(|s| s.trade_allowed)
    }

    pub(super) fn learn_trade_allowed(&self, slot: usize, session: &Session, allowed: bool) {
        if let Some(s) = self.lock().slots.get_mut(slot) {
            if s.logged_in.as_ref() == Some(session) {
                s.trade_allowed = Some(allowed);
            }
        }
    }

    pub(super) fn logged_in(&self, slot: usize) -> Option<Session> {
        self.lock()
            .slots
            .get(slot)
            .and_then(|s| s.logged_in.clone())
    }

    /// Grants `slot` to the first live waiter of `account` that it may take; when none is left,
    /// forgets the account. Whether anything changed (a grant, or abandoned waiters pruned).
    pub(super) fn grant_to(
        self: &Arc<Self>,
        st: &mut State,
        slot: usize,
        account: &Session,
    ) -> bool {
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
                st.turns.left(waiter.user);
                continue; // the waiter gave up (deadline); try the next one
            }
            if st.slots[slot].logged_in.as_ref() != Some(account) {
                // A login for this user: its turn is taken, the others' come first.
                st.turns.switched(waiter.user);
                if self.opts.policy == Policy::Adaptive {
                    st.demand.switched(account, now);
                }
            }
            st.turns.left(waiter.user);
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

    pub(super) fn forget_if_empty(&self, st: &mut State, account: &Session) {
        if st.queues.get(account).is_none_or(|q| q.is_empty()) {
            st.queues.remove(account);
            st.arrival.retain(|a| a != account);
        }
    }

    /// Queues a request of `user` for `account` and waits for a terminal (a `trade` only for one
    /// that trades). Refused at once when the queue, or the user's share of it, is full.
    pub(super) async fn acquire(
        self: &Arc<Self>,
        account: &Session,
        user: Option<Uuid>,
        trade: bool,
    ) -> Result<Lease, PoolError> {
        if self.terminals.is_empty() {
            return Err(PoolError::Unavailable("no terminal is configured".into()));
        }
        let started = Instant::now();
        let mut waiting = {
            let mut st = self.lock();
            if trade && no_terminal_trades(&st.slots) {
                return Err(PoolError::TradingDisabled);
            }
            let (tx, rx) = oneshot::channel();
            let seq = st.next_seq;
            st.next_seq += 1;
            let policy = self.opts.policy;
            if policy != Policy::Naive && !self.opts.residency.is_zero() {
                st.rates.arrive(account, started);
            }
            if policy == Policy::Adaptive {
                st.demand.requested(account, started);
            }
            st.queued += 1;
            st.turns.joined(user);
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
            self.dispatch(&mut st);
            // Only a request that must wait counts against the limit: one that an idle terminal
            // could take at once is served even when the queue is full of other accounts.
            let still_waiting = st
                .queues
                .get(account)
                .is_some_and(|q| q.iter().any(|w| w.seq == seq));
            let per_user = self.opts.queue_limit_per_user;
            let user_full = user.is_some() && st.turns.waiting(user) > per_user;
            if still_waiting && (user_full || st.queued > self.opts.queue_limit) {
                if let Some(q) = st.queues.get_mut(account) {
                    q.retain(|w| w.seq != seq);
                }
                st.queued = st.queued.saturating_sub(1);
                st.turns.left(user);
                self.forget_if_empty(&mut st, account);
                self.stats.queue_rejections.fetch_add(1, Ordering::Relaxed);
                if user_full {
                    return Err(PoolError::UserQueueFull {
                        limit: u32::try_from(per_user).unwrap_or(u32::MAX),
                    });
                }
                return Err(PoolError::Unavailable("terminal queue is full".into()));
            }
            Waiting {
                inner: self.clone(),
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
            if trade && no_terminal_trades(&self.lock().slots) {
                PoolError::TradingDisabled
            } else {
                PoolError::Unavailable("terminal pool closed".into())
            }
        })?;
        let stats = &self.stats;
        stats.leases.fetch_add(1, Ordering::Relaxed);
        stats
            .wait_us
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let terminal = self.terminals[grant.slot].clone();
        Ok(Lease { grant, terminal })
    }

    /// Logs the leased terminal in to `session`; one that cannot be reached is taken out.
    pub(super) async fn login(
        self: &Arc<Self>,
        lease: &Lease,
        session: &Session,
        password: &SecretString,
    ) -> Result<AccountInfo, PoolError> {
        self.set_logged_in(lease.grant.slot, None, None);
        self.stats.logins.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        match lease
            .terminal
            .login(session, password, self.opts.timeout)
            .await
        {
            Ok(info) => {
                // The kept terminals' budget follows the login time.
                self.lock().demand.learn_login_time(started.elapsed());
                self.set_logged_in(
                    lease.grant.slot,
                    Some(session.clone()),
                    Some(info.trade_allowed),
                );
                // A fresh login is a good moment to learn whether the terminal itself trades.
                if let Ok(Some(flags)) = lease.terminal.terminal_flags().await {
                    self.learn_can_trade(lease.grant.slot, flags.can_trade());
                }
                Ok(info)
            }
            Err(e) => {
                self.stats.failed_logins.fetch_add(1, Ordering::Relaxed);
                if e.is_terminal_down() {
                    self.mark_down(lease.grant.slot);
                }
                Err(PoolError::Login(e))
            }
        }
    }
}
