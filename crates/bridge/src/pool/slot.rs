//! What the pool knows of one terminal ([`SlotInfo`]): the session it holds, whether it trades,
//! its lease, its turn, and whether it is down, resident or kept. Every policy reads it, so it
//! sits below them.

use mt5::Session;
use std::time::Instant;
use uuid::Uuid;

pub(super) struct SlotInfo {
    /// The session the pool believes the terminal holds; `None` when unknown.
    pub(super) logged_in: Option<Session>,
    /// `account_info().trade_allowed` of that session, once known.
    pub(super) trade_allowed: Option<bool>,
    /// Whether the terminal itself lets the API trade (`terminal_info()`: "Algo Trading" on and
    /// the API not barred), once known. Order sends go only where it is not `Some(false)`.
    pub(super) can_trade: Option<bool>,
    /// A task is re-reading the terminal's flags until it can trade again.
    pub(super) rechecking: bool,
    pub(super) busy: bool,
    pub(super) last_used: Instant,
    pub(super) turn_account: Option<Session>,
    pub(super) turn_ops: u32,
    pub(super) turn_start: Instant,
    /// Unreachable (its agent does not answer): out of the pool until a probe finds it again.
    pub(super) down: bool,
    /// While idle before this instant, the terminal stays on its account (residency).
    pub(super) resident_until: Option<Instant>,
    /// Residency has kept this terminal from a waiting account since its last lease.
    pub(super) held: bool,
    /// `adaptive` kept it at the last dispatch.
    pub(super) kept: bool,
    /// The user of the last lease (fair shares of kept terminals).
    pub(super) turn_user: Option<Uuid>,
}

impl SlotInfo {
    /// A terminal the pool has not used yet: nothing known of it.
    pub(super) fn new(now: Instant) -> Self {
        SlotInfo {
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
        }
    }

    /// Whether this terminal may take a request: reads go anywhere, trades (`trade`) only where
    /// trading is on.
    pub(super) fn takes(&self, trade: bool) -> bool {
        !trade || self.can_trade != Some(false)
    }
}

/// Whether every terminal in service has trading switched off (and at least one is in service):
/// an order then has nowhere to go.
pub(super) fn no_terminal_trades(slots: &[SlotInfo]) -> bool {
    let mut up = slots.iter().filter(|s| !s.down).peekable();
    up.peek().is_some() && up.all(|s| s.can_trade == Some(false))
}
