//! The `Terminal` trait: one MT5 terminal, logged in to at most one account at a time.
//!
//! Every operation but `login`, `logout` and `current` names the account the caller expects the
//! terminal to be logged in to ([`Expected`]). A backend checks it and performs the operation
//! atomically (no login can slip in between), and refuses with [`TerminalError::WrongAccount`]
//! without executing anything on a mismatch. This is the last line of the "no order on the wrong
//! account" invariant; the terminal pool's lease is the first.

use crate::enums::{OrderType, Timeframe};
use crate::error::TerminalError;
pub use crate::session::{same_server, AccountKey, Expected, Session, SessionTag};
use crate::types::*;
use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What `terminal_info()` says of the terminal itself (not of an account): its link to the trade
/// server and whether it lets the API trade (the "Algo Trading" button, and the option that
/// disables trading through the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminalFlags {
    pub connected: bool,
    pub trade_allowed: bool,
    pub tradeapi_disabled: bool,
}

impl TerminalFlags {
    /// Whether an order sent through this terminal can reach the broker.
    pub fn can_trade(&self) -> bool {
        self.trade_allowed && !self.tradeapi_disabled
    }
}

/// Which bars `copy_rates` returns; always oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RatesRange {
    /// `copy_rates_from_pos`: `start` = 0 is the current (forming) bar, counting into the past.
    FromPos { start: u32, count: u32 },
    /// `copy_rates_from`: `count` bars whose open time is at or before `date` (server time).
    From { date: i64, count: u32 },
    /// `copy_rates_range`: bars with `from` ≤ open time ≤ `to` (server time).
    Range { from: i64, to: i64 },
}

/// Filter of `positions_get` / `orders_get`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum PositionFilter {
    #[default]
    All,
    Symbol(String),
    Group(String),
    Ticket(u64),
}

/// Selection of `history_deals_get` / `history_orders_get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum HistorySelect {
    /// By time (server clock, inclusive), optionally by symbol group.
    Range {
        from: i64,
        to: i64,
        group: Option<String>,
    },
    /// Orders: that order; deals: the deals of that order.
    Ticket { ticket: u64 },
    /// All orders or deals of a position.
    Position { position: u64 },
}

/// Which page of a history selection to return: items from `offset` (in MT5's order), at most
/// `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    pub offset: u64,
    pub limit: u32,
}

/// One page of history and where the next one starts (`None` after the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<u64>,
}

impl<T> Page<T> {
    /// The page `req` of `all`.
    pub fn of(all: Vec<T>, req: PageRequest) -> Self {
        let len = all.len() as u64;
        let start = req.offset.min(len);
        let end = start.saturating_add(u64::from(req.limit)).min(len);
        let items = all
            .into_iter()
            .skip(start as usize)
            .take((end - start) as usize)
            .collect();
        Page {
            items,
            next: (end < len).then_some(end),
        }
    }
}

/// One MT5 terminal. Implemented by the simulator and by the terminal-agent client.
#[async_trait]
pub trait Terminal: Send + Sync + 'static {
    /// A stable name for logs and metrics (`sim-0`, `agent:http://…`).
    fn id(&self) -> &str;

    /// Logs the terminal in to `session.account` with `password`, switching away from any other
    /// session, and remembers `session.tag` as the new session's tag. Returns once the account is
    /// usable, with its account info. Fails with MT5's code (-6 for refused credentials), leaving
    /// no session.
    async fn login(
        &self,
        session: &Session,
        password: &SecretString,
        timeout: Duration,
    ) -> Result<AccountInfo, TerminalError>;

    async fn logout(&self) -> Result<(), TerminalError>;

    /// The session the terminal holds now; `None` when logged out or when its tag is unknown.
    async fn current(&self) -> Result<Option<Session>, TerminalError>;

    async fn account_info(&self, at: &Expected) -> Result<AccountInfo, TerminalError>;

    /// `symbols_get(group)`; `None` = all symbols.
    async fn symbols(
        &self,
        at: &Expected,
        group: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError>;

    /// Unknown symbol: `Mt5 { code: -4 }`.
    async fn symbol_info(&self, at: &Expected, symbol: &str) -> Result<SymbolInfo, TerminalError>;

    async fn symbol_info_tick(&self, at: &Expected, symbol: &str) -> Result<Tick, TerminalError>;

    async fn copy_rates(
        &self,
        at: &Expected,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
    ) -> Result<Vec<Rate>, TerminalError>;

    async fn positions(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradePosition>, TerminalError>;

    async fn orders(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradeOrder>, TerminalError>;

    /// Margin in the account currency; `action` is `buy` or `sell`.
    async fn order_calc_margin(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError>;

    /// Profit in the account currency; `action` is `buy` or `sell`.
    async fn order_calc_profit(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError>;

    async fn order_check(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderCheckResult, TerminalError>;

    /// A server rejection is `Ok` with its retcode; `Err` only when the request never reached it.
    async fn order_send(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError>;

    async fn history_deals(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, TerminalError>;

    async fn history_orders(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, TerminalError>;

    /// One page of `history_deals`: MT5 cannot page, so a backend reads the selection and returns
    /// only the page, keeping large histories off the wire.
    async fn history_deals_page(
        &self,
        at: &Expected,
        select: &HistorySelect,
        page: PageRequest,
    ) -> Result<Page<TradeDeal>, TerminalError> {
        Ok(Page::of(self.history_deals(at, select).await?, page))
    }

    /// One page of `history_orders` (see [`Terminal::history_deals_page`]).
    async fn history_orders_page(
        &self,
        at: &Expected,
        select: &HistorySelect,
        page: PageRequest,
    ) -> Result<Page<TradeOrder>, TerminalError> {
        Ok(Page::of(self.history_orders(at, select).await?, page))
    }

    /// The terminal's own flags (`terminal_info()`), read without the account lock; `None` when
    /// the backend cannot tell (then it is taken to trade).
    async fn terminal_flags(&self) -> Result<Option<TerminalFlags>, TerminalError> {
        Ok(None)
    }

    /// The trade server's clock minus UTC, in seconds: MT5 reports every time on the server's
    /// wall clock. A backend that cannot know it exactly estimates it (e.g. from a fresh tick).
    async fn server_time_offset_s(&self, at: &Expected) -> Result<i64, TerminalError> {
        let _ = at;
        Ok(0)
    }

    /// The id of the ledger this terminal's agent keeps of the orders it is given (protocol v3),
    /// as last reported; `None` for a terminal that keeps none.
    fn ledger_id(&self) -> Option<String> {
        None
    }

    /// The terminal as `Any`, to reach what only one implementation has (an agent's ledger).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test should panic loudly on the unexpected
mod tests {
    use super::*;

    #[test]
    fn session_tags_travel_as_hex_and_never_show() {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        let tag = SessionTag::from_bytes(bytes);
        let hex = tag.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(SessionTag::from_hex(&hex), Some(tag));
        assert_eq!(
            serde_json::to_value(tag).unwrap(),
            serde_json::Value::String(hex.clone())
        );
        for bad in [
            "",
            "00",
            &hex.to_uppercase(),
            &format!("{hex}0"),
            &hex.replace('a', "g"),
        ] {
            if bad != hex {
                assert_eq!(SessionTag::from_hex(bad), None, "{bad}");
            }
        }
        assert!(serde_json::from_str::<SessionTag>("\"xyz\"").is_err());
        let session = Session::new(AccountKey::new(7, "S"), tag);
        for shown in [
            format!("{tag:?}"),
            format!("{session:?}"),
            format!("{session}"),
            format!("{:?}", Expected::new(session.clone())),
        ] {
            assert!(!shown.contains(&hex[..8]), "{shown}");
        }
        assert_eq!(session.to_string(), "7@S");
    }

    #[test]
    fn pages_cover_everything_once() {
        let all: Vec<u32> = (0..25).collect();
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let p = Page::of(all.clone(), PageRequest { offset, limit: 10 });
            seen.extend(p.items);
            match p.next {
                Some(n) => offset = n,
                None => break,
            }
        }
        assert_eq!(seen, all);
        let past = Page::of(
            all.clone(),
            PageRequest {
                offset: 99,
                limit: 10,
            },
        );
        assert_eq!((past.items.len(), past.next), (0, None));
        let huge = Page::of(
            all,
            PageRequest {
                offset: u64::MAX,
                limit: u32::MAX,
            },
        );
        assert_eq!((huge.items.len(), huge.next), (0, None));
    }
}
