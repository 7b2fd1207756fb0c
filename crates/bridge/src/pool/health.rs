//! Health: terminals that cannot be reached and terminals that do not trade.
//!
//! A terminal that cannot be reached (its agent is down) is taken out of the pool and probed with
//! a backoff; it is put back, and the queue dispatched, as soon as it answers. A terminal whose
//! "Algo Trading" is off still serves reads; orders go to the others, it is re-read every
//! [`TRADING_RECHECK`] until it trades again, and when no terminal in service trades the orders
//! waiting are told at once instead of waiting out their deadline. Replicas sharing agents take
//! terminals out and put them back by hand ([`Inner::take_out`], [`Inner::put_back`]).

use super::leases::{Inner, State};
use super::slot::no_terminal_trades;
use mt5::Session;
use std::sync::Arc;
use std::time::Duration;

/// How often a terminal with trading off is asked whether it trades again.
const TRADING_RECHECK: Duration = Duration::from_secs(2);

impl Inner {
    /// Records whether the terminal in `slot` trades. Switched off, it is re-read every few
    /// seconds until it trades again; switched on, waiting orders may go to it.
    pub(super) fn learn_can_trade(self: &Arc<Self>, slot: usize, can: bool) {
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
                st.turns.left(user);
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

    /// Takes an unreachable terminal out of the pool and probes it (health, backing off up to
    /// 10 s) until it answers, then puts it back. Without an async runtime nothing is marked.
    pub(super) fn mark_down(self: &Arc<Self>, slot: usize) {
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

    /// Takes a terminal out of service without probing it (this replica may not drive it).
    pub(super) fn take_out(&self, slot: usize) {
        let mut st = self.lock();
        if let Some(s) = st.slots.get_mut(slot) {
            s.down = true;
            s.logged_in = None;
            s.trade_allowed = None;
        }
    }

    /// As [`Inner::take_out`], only when no lease holds it; whether it was taken out.
    pub(super) fn take_out_if_idle(&self, slot: usize) -> bool {
        let mut st = self.lock();
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
    pub(super) async fn put_back(self: &Arc<Self>, slot: usize) {
        let Some(terminal) = self.terminals.get(slot).cloned() else {
            return;
        };
        match terminal.current().await {
            Ok(current) => {
                let flags = terminal.terminal_flags().await.ok().flatten();
                let mut st = self.lock();
                if let Some(s) = st.slots.get_mut(slot) {
                    s.down = false;
                    s.logged_in = current;
                    s.trade_allowed = None;
                }
                let recheck = self.set_can_trade(&mut st, slot, flags.map(|f| f.can_trade()));
                self.dispatch(&mut st);
                drop(st);
                if recheck {
                    self.recheck_trading(slot);
                }
            }
            Err(e) => {
                tracing::warn!(terminal = terminal.id(), error = %e, "terminal does not answer: probing it");
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    self.probe(&handle, slot);
                }
            }
        }
    }
}
