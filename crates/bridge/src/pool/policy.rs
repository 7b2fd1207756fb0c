//! Which waiter an idle terminal goes to: the policies' dispatch.
//!
//! `Policy::Pool` treats terminals as cache slots and logins as misses. A lease goes to a
//! terminal already logged in to the account when there is one (affinity); otherwise the least
//! recently used idle terminal whose account nobody is waiting for switches. A request whose
//! account has a terminal busy on it waits for that terminal rather than switching another, since
//! a login costs far more than an operation. Requests queue per account, and once a terminal is
//! logged in to an account the requests queued for it are served on it one after another (a
//! batch) before it switches away, so N queued requests cost one login, not N. A batch yields
//! after `max_batch` operations or `max_turn` (counted from the end of the login) when other
//! accounts wait with no terminal; which of them gets the next switch is the users' turn
//! (`fairness.rs`). A hot account's terminal may stay on it a little (`residency.rs`), and
//! `Policy::Adaptive` keeps some terminals on the most asked-for accounts and switches the least
//! asked-for one (`adaptive.rs`).
//!
//! `Policy::Naive` is the seed's literal design, kept as the benchmarks' baseline: one terminal,
//! one global queue (the oldest waiter of all first), a fresh login for every request.

use super::adaptive::ADMIT_MARGIN;
use super::leases::{Inner, State};
use super::options::Policy;
use super::slot::SlotInfo;
use mt5::Session;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

impl Inner {
    /// Whether the terminal's turn on its account is over (`max_batch` operations or `max_turn`).
    fn turn_over(&self, s: &SlotInfo, now: Instant) -> bool {
        s.turn_ops >= self.opts.max_batch || now.duration_since(s.turn_start) >= self.opts.max_turn
    }

    /// Hands idle terminals to waiters until nothing more can be granted.
    pub(super) fn dispatch(self: &Arc<Self>, st: &mut State) {
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
                        .find(|w| st.slots[slot].takes(w.trade))
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
            let covered: HashSet<&Session> = st
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
            // Which terminals `adaptive` keeps on their accounts now (none under the other policies).
            let kept = if self.opts.policy == Policy::Adaptive {
                st.demand.kept(&st.slots, now)
            } else {
                vec![false; st.slots.len()]
            };
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
            let servable: Cow<'_, [Session]> = if mixed {
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
            // The user of an account's first live waiter (whose turn it is).
            let user_of = |a: &Session| {
                st.queues
                    .get(a)
                    .and_then(|q| q.iter().find(|w| !w.tx.is_closed()))
                    .map(|w| w.user)
            };
            if let Some(acc) = st.turns.next_starving(&servable, user_of) {
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
                        .map_or(0.0, |a| st.demand.frequency(a, now))
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
                        let wanted = st.demand.frequency(acc, now);
                        let user = user_of(acc);
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
