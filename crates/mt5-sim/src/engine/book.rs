//! What the engine keeps per account (positions, orders, settings) and the context of one call: the
//! types every part of the engine shares, below the parts that compute, validate and execute.

use crate::market::Market;
use mt5::util::normalize;
use mt5::{
    AccountMarginMode, AccountStopoutMode, AccountTradeMode, DealEntry, DealReason, DealType,
    OrderFilling, OrderState, OrderTime, OrderType, PositionReason, PositionType, TradeDeal,
    TradeOrder,
};
use serde::{Deserialize, Serialize};

/// Rounds an account-currency amount to cents.
pub(crate) fn money(v: f64) -> f64 {
    normalize(v, 2)
}

/// Longest comment the server keeps (ASCII characters).
pub const MAX_COMMENT: usize = 31;
/// How many recently closed position ids an account remembers, to answer 10036.
const CLOSED_MEMORY: usize = 256;
/// Most quote samples one [`Engine::advance`] takes; longer gaps are sampled more coarsely.
pub const MAX_SAMPLES: i64 = 3600;
/// Sampling step of [`Engine::advance`] for short gaps.
pub const SAMPLE_STEP_MS: i64 = 1000;

/// An account's settings, as configured (no password: the state never holds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub login: u64,
    pub server: String,
    pub name: String,
    pub currency: String,
    pub company: String,
    pub leverage: u32,
    pub margin_mode: AccountMarginMode,
    pub trade_mode: AccountTradeMode,
    /// Maximum active pending orders; 0 = no limit.
    pub limit_orders: u32,
    /// Maximum open positions (hedging: positions plus pending orders); 0 = no limit.
    pub limit_positions: u32,
    /// Margin call level: percent of margin level, or equity in money (see `margin_so_mode`).
    pub margin_so_call: f64,
    /// Stop-out level, read as `margin_so_call` is.
    pub margin_so_so: f64,
    pub trade_allowed: bool,
    /// How the levels read: percent (the margin level) or money (equity); states stored before
    /// the field existed are percent.
    #[serde(default)]
    pub margin_so_mode: AccountStopoutMode,
}

/// An open position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Ticket and identifier (the opening order's ticket).
    pub ticket: u64,
    pub symbol: String,
    pub side: PositionType,
    pub volume: f64,
    pub price_open: f64,
    pub sl: f64,
    pub tp: f64,
    pub magic: u64,
    pub comment: String,
    pub reason: PositionReason,
    /// UTC ms.
    pub time_msc: i64,
    /// UTC ms.
    pub time_update_msc: i64,
    pub swap: f64,
    pub commission: f64,
}

/// An active pending order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingOrder {
    pub ticket: u64,
    pub symbol: String,
    pub r#type: OrderType,
    pub volume: f64,
    pub price: f64,
    pub stoplimit: f64,
    pub sl: f64,
    pub tp: f64,
    pub type_time: OrderTime,
    pub type_filling: OrderFilling,
    /// As requested: server-clock epoch seconds, 0 for GTC and DAY.
    pub expiration: i64,
    /// When the order expires, UTC ms; 0 = never.
    pub expire_at_ms: i64,
    pub magic: u64,
    pub comment: String,
    pub reason: mt5::OrderReason,
    /// UTC ms.
    pub time_setup_msc: i64,
}

/// Everything the trade server keeps about one account between operations (history aside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountState {
    pub settings: AccountSettings,
    pub balance: f64,
    pub credit: f64,
    pub positions: Vec<Position>,
    pub orders: Vec<PendingOrder>,
    /// UTC ms up to which triggers, expirations and stop-out have been applied.
    pub evaluated_ms: i64,
    /// Recently closed position ids, newest last.
    #[serde(default)]
    pub closed: Vec<u64>,
}

impl AccountState {
    /// A new account with its initial deposit, and the balance deal that records it.
    pub fn open(
        settings: AccountSettings,
        balance: f64,
        server_offset_s: i64,
        now_utc_ms: i64,
        tickets: &mut dyn FnMut() -> u64,
    ) -> (AccountState, TradeDeal) {
        let balance = money(balance);
        let server_ms = now_utc_ms + server_offset_s * 1000;
        let deal = TradeDeal {
            ticket: tickets(),
            order: 0,
            time: server_ms.div_euclid(1000),
            time_msc: server_ms,
            r#type: DealType::Balance,
            entry: DealEntry::In,
            magic: 0,
            position_id: 0,
            reason: DealReason::Client,
            volume: 0.0,
            price: 0.0,
            commission: 0.0,
            swap: 0.0,
            profit: balance,
            fee: 0.0,
            symbol: String::new(),
            comment: "Initial deposit".into(),
            external_id: String::new(),
        };
        let state = AccountState {
            settings,
            balance,
            credit: 0.0,
            positions: Vec::new(),
            orders: Vec::new(),
            evaluated_ms: now_utc_ms,
            closed: Vec::new(),
        };
        (state, deal)
    }

    pub fn position(&self, ticket: u64) -> Option<&Position> {
        self.positions.iter().find(|p| p.ticket == ticket)
    }

    pub fn order(&self, ticket: u64) -> Option<&PendingOrder> {
        self.orders.iter().find(|o| o.ticket == ticket)
    }

    pub(crate) fn is_hedging(&self) -> bool {
        self.settings.margin_mode.is_hedging()
    }

    pub(crate) fn remember_closed(&mut self, id: u64) {
        self.closed.push(id);
        if self.closed.len() > CLOSED_MEMORY {
            let extra = self.closed.len() - CLOSED_MEMORY;
            self.closed.drain(..extra);
        }
    }
}

/// What the broker charges besides the spread and swaps. The live simulator charges none by
/// default; a backtest passes its cost settings.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Costs {
    /// Commission per lot on every deal (entry and exit), in the account currency; positive is a
    /// charge (a deal's `commission` is then negative, as MT5 reports it).
    pub commission_per_lot: f64,
    /// Points every stop fills worse than its price: a stop loss, a stop-out, a triggered stop
    /// order (take profits and limit orders fill at their price). 0 in the live simulator.
    #[serde(default)]
    pub stop_slippage_points: f64,
}

impl Costs {
    /// The commission of a deal of `lots`, as the deal reports it (a charge is negative).
    pub(crate) fn commission(&self, lots: f64) -> f64 {
        let c = money(self.commission_per_lot * lots);
        // No charge is 0.0, never -0.0, in what clients see.
        if c == 0.0 {
            0.0
        } else {
            -c
        }
    }

    /// `price` moved `stop_slippage_points` against a fill on `buy` side (a buy fills higher, a
    /// sell lower).
    pub(crate) fn slipped(&self, price: f64, point: f64, buy: bool) -> f64 {
        let slip = self.stop_slippage_points * point;
        if buy {
            price + slip
        } else {
            price - slip
        }
    }
}

/// The fixed part of an operation: market, clock offset, moment, costs and rule switches.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub market: &'a dyn Market,
    pub offset_ms: i64,
    pub now_ms: i64,
    pub strict: bool,
    pub costs: Costs,
}

impl Ctx<'_> {
    /// UTC ms → server-clock ms.
    pub(crate) fn server_ms(&self, utc_ms: i64) -> i64 {
        utc_ms + self.offset_ms
    }
}

/// What an operation produces besides its answer: tickets taken, deals and history orders.
pub(crate) struct Book<'t> {
    pub tickets: &'t mut dyn FnMut() -> u64,
    pub deals: Vec<TradeDeal>,
    pub orders: Vec<TradeOrder>,
}

/// The comment as the server keeps it: printable ASCII, at most [`MAX_COMMENT`] characters.
pub fn server_comment(comment: &str) -> String {
    comment
        .chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(MAX_COMMENT)
        .collect()
}

/// History order state of an order that left the active list.
pub(crate) fn history_order(
    cx: &Ctx<'_>,
    o: &PendingOrder,
    state: OrderState,
    done_ms: i64,
    price_current: f64,
    position_id: u64,
) -> TradeOrder {
    let setup = cx.server_ms(o.time_setup_msc);
    let done = cx.server_ms(done_ms);
    TradeOrder {
        ticket: o.ticket,
        time_setup: setup.div_euclid(1000),
        time_setup_msc: setup,
        time_done: done.div_euclid(1000),
        time_done_msc: done,
        time_expiration: o.expiration,
        r#type: o.r#type,
        type_time: o.type_time,
        type_filling: o.type_filling,
        state,
        magic: o.magic,
        position_id,
        position_by_id: 0,
        reason: o.reason,
        volume_initial: o.volume,
        volume_current: if state == OrderState::Filled {
            0.0
        } else {
            o.volume
        },
        price_open: o.price,
        sl: o.sl,
        tp: o.tp,
        price_current,
        price_stoplimit: o.stoplimit,
        symbol: o.symbol.clone(),
        comment: o.comment.clone(),
        external_id: String::new(),
    }
}
