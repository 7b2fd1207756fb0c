//! Trading rules on one account: validation with MT5's return codes, execution, netting and
//! hedging bookkeeping, SL/TP and pending-order triggers, expirations, stop-out, margin and profit.
//!
//! The engine is pure: no I/O, no async, no clock of its own. An [`Engine`] is built for one moment
//! (`now_utc_ms`), reads quotes through a [`Market`] and takes tickets from an allocator the caller
//! owns (tickets are unique across the whole trade server). The account's state ([`AccountState`])
//! is small and serializable; history (deals, finished orders) is not kept in it: every operation
//! adds the new deals and history orders to the engine, and the caller stores them
//! ([`Engine::into_history`]). Every operation first brings the account up to `now`
//! ([`Engine::advance`]), so triggers that fired in between are applied before the request.
//! Two ways to advance: the live simulator's [`Engine::advance`] samples the market once a second
//! (coarser over long gaps); a backtest's [`Engine::advance_through`] evaluates exactly the points
//! it is given (a bar's path), so no bar's high or low is stepped over ([`crate::backtest`] owns
//! such an engine in memory).
//!
//! Times in the state are UTC milliseconds; everything reported (positions, orders, deals,
//! `expiration` in requests) is on the trade server's clock, UTC plus the configured offset.
//!
//! Choices where MT5 leaves room (documented here, tested in `tests/engine.rs`, `tests/swaps.rs`
//! and `tests/backtest.rs`):
//! - Stops and pending-price distances use `≥ trade_stops_level` points (MT5's textual rule);
//!   [`Engine::strict_levels`] switches to MetaQuotes' sample code's strict `>`. A level on the
//!   wrong side of the market, or exactly at it, is always invalid.
//! - A position or order ticket the account does not have is 10013 (invalid request); a position
//!   the account closed recently is 10036 (position closed).
//! - `deviation` applies to Request and Instant execution only, as in MT5: a non-zero `price` further
//!   than `deviation` points from the market answers 10004 (requote) with the current bid/ask.
//!   Market and Exchange execution fill at the market and ignore `price`.
//! - CLOSE_BY on a netting account, or on a symbol without SYMBOL_ORDER_CLOSEBY, is 10035.
//! - On a netting reversal the position keeps its ticket and identifier.
//! - Pending orders hold no margin; placing one checks that the account could afford it if it
//!   filled at its price (10019), and an activation the account cannot afford is rejected
//!   (history state `rejected`).
//! - Triggers fill at the quote that triggered them (a stop or SL can slip past its level; on a
//!   gap a TP or a limit fills at the better price, as MT5's tester fills at the tick that reached
//!   the level).
//! - Swaps (`swap.rs`): charged at server midnight on positions held over it, Monday to Friday
//!   nights, the `swap_rollover3days` night counting three days; the points and money modes are
//!   modelled, the interest and reopen modes are not (no swap, and
//!   [`swap_mode_modelled`] says so). The amount accrues in the position's `swap`; the deal that
//!   closes (or reduces, or reverses) the position realises all of it, and the rest of a partly
//!   closed position starts again from zero. Close-by: each OUT_BY deal realises its position's.
//! - Commission ([`Costs`]): per lot on every deal, entry and exit (a reversal's INOUT deal on its
//!   whole volume, each of close-by's two deals on the closed volume), booked to the balance with
//!   the deal as MT5 does; the live simulator charges none unless its caller sets [`Costs`].
//! - Freeze level: a pending order within it of the market cannot be modified or removed, a
//!   position's SL/TP within it cannot be changed, and a position (hedging: the one named; netting:
//!   the one an opposite deal reduces) whose SL or TP lies within it of the price it closes at
//!   cannot be closed (10029).

mod book;
mod calc;
mod exec;
mod plan;
mod swap;
mod triggers;
mod validate;

pub(crate) use book::{history_order, Book, Ctx};
pub use book::{
    server_comment, AccountSettings, AccountState, Costs, PendingOrder, Position, MAX_COMMENT,
    MAX_SAMPLES, SAMPLE_STEP_MS,
};
pub use swap::swap_mode_modelled;

pub use calc::Metrics;

use crate::market::{Market, PricePoint};
use mt5::{
    AccountInfo, OrderCheckResult, OrderSendResult, OrderType, PositionFilter, TerminalError,
    TradeDeal, TradeOrder, TradePosition, TradeRequest,
};

/// The trading engine at one moment. See the module documentation.
pub struct Engine<'a> {
    cx: Ctx<'a>,
    book: Book<'a>,
}

impl<'a> Engine<'a> {
    pub fn new(
        market: &'a dyn Market,
        server_offset_s: i64,
        now_utc_ms: i64,
        tickets: &'a mut dyn FnMut() -> u64,
    ) -> Self {
        Engine {
            cx: Ctx {
                market,
                offset_ms: server_offset_s * 1000,
                now_ms: now_utc_ms,
                strict: false,
                costs: Costs::default(),
            },
            book: Book {
                tickets,
                deals: Vec::new(),
                orders: Vec::new(),
            },
        }
    }

    /// Use strict `>` instead of `≥` for stops-level distances.
    pub fn strict_levels(mut self, strict: bool) -> Self {
        self.cx.strict = strict;
        self
    }

    /// Charge these costs (commission) on the deals this engine makes.
    pub fn costs(mut self, costs: Costs) -> Self {
        self.cx.costs = costs;
        self
    }

    pub fn now_utc_ms(&self) -> i64 {
        self.cx.now_ms
    }

    /// The deals and history orders produced so far, for the store to append.
    pub fn into_history(self) -> (Vec<TradeDeal>, Vec<TradeOrder>) {
        (self.book.deals, self.book.orders)
    }

    /// Applies, in time order from the account's last evaluated moment up to `to_utc_ms`,
    /// expirations, pending activations, SL/TP triggers and stop-out. Quotes are sampled every
    /// second; a gap longer than [`MAX_SAMPLES`] seconds is sampled in [`MAX_SAMPLES`] even steps.
    pub fn advance(&mut self, st: &mut AccountState, to_utc_ms: i64) {
        triggers::advance(&self.cx, &mut self.book, st, to_utc_ms);
    }

    /// The second way to advance (a backtest's): swaps, expirations, activations, SL/TP and
    /// stop-out evaluated at exactly `points` of `symbol`, in order, with `symbol` at each point's
    /// bid and ask and other symbols (conversion rates) as the market quotes them. A trigger fills
    /// at its point's price; a level crossed between two points fills at the second one's. The
    /// account is then evaluated up to the last point's time, which may be later than this
    /// engine's moment: the caller builds the next engine there.
    pub fn advance_through(&mut self, st: &mut AccountState, symbol: &str, points: &[PricePoint]) {
        triggers::advance_through(&self.cx, &mut self.book, st, symbol, points);
    }

    /// `order_check`: the same validations as `order_send`; success is retcode 0 "Done" with the
    /// account's values after the hypothetical operation.
    pub fn order_check(&mut self, st: &mut AccountState, req: &TradeRequest) -> OrderCheckResult {
        self.advance(st, self.cx.now_ms);
        let cx = self.cx;
        match validate::check(&cx, st, req) {
            Ok((_, m)) => OrderCheckResult {
                retcode: mt5::retcode::CHECK_OK,
                balance: m.balance,
                equity: m.equity,
                profit: m.profit,
                margin: m.margin,
                margin_free: m.margin_free,
                margin_level: m.margin_level,
                comment: mt5::retcode::comment(mt5::retcode::CHECK_OK).into(),
                request: req.clone(),
            },
            Err(code) => {
                let m = calc::metrics(&cx, st, cx.now_ms);
                OrderCheckResult {
                    retcode: code,
                    balance: m.balance,
                    equity: m.equity,
                    profit: m.profit,
                    margin: m.margin,
                    margin_free: m.margin_free,
                    margin_level: m.margin_level,
                    comment: mt5::retcode::comment(code).into(),
                    request: req.clone(),
                }
            }
        }
    }

    /// `order_send`: validates and executes. A rejection is a result with its retcode.
    pub fn order_send(&mut self, st: &mut AccountState, req: &TradeRequest) -> OrderSendResult {
        self.advance(st, self.cx.now_ms);
        let cx = self.cx;
        match validate::check(&cx, st, req) {
            Ok((plan, _)) => match exec::execute(&cx, &mut self.book, st, req, &plan) {
                Ok(res) => res,
                Err(code) => rejection(&cx, req, code),
            },
            Err(code) => rejection(&cx, req, code),
        }
    }

    pub fn account_info(&mut self, st: &mut AccountState) -> AccountInfo {
        self.advance(st, self.cx.now_ms);
        let m = calc::metrics(&self.cx, st, self.cx.now_ms);
        let s = &st.settings;
        AccountInfo {
            login: s.login,
            trade_mode: s.trade_mode,
            leverage: s.leverage,
            limit_orders: s.limit_orders,
            margin_so_mode: s.margin_so_mode,
            trade_allowed: s.trade_allowed,
            trade_expert: true,
            margin_mode: s.margin_mode,
            currency_digits: 2,
            fifo_close: false,
            balance: m.balance,
            credit: m.credit,
            profit: m.profit,
            equity: m.equity,
            margin: m.margin,
            margin_free: m.margin_free,
            margin_level: m.margin_level,
            margin_so_call: s.margin_so_call,
            margin_so_so: s.margin_so_so,
            margin_initial: 0.0,
            margin_maintenance: 0.0,
            assets: 0.0,
            liabilities: 0.0,
            commission_blocked: 0.0,
            name: s.name.clone(),
            server: s.server.clone(),
            currency: s.currency.clone(),
            company: s.company.clone(),
        }
    }

    /// The account's metrics now (balance, equity, margin...), unrounded inputs aside.
    pub fn metrics(&mut self, st: &mut AccountState) -> Metrics {
        self.advance(st, self.cx.now_ms);
        calc::metrics(&self.cx, st, self.cx.now_ms)
    }

    /// The balance, rounded as [`Engine::metrics`] gives it.
    pub fn balance(&self, st: &AccountState) -> f64 {
        calc::money(st.balance)
    }

    /// The equity at the current quotes, as [`Engine::metrics`] gives it.
    pub fn equity(&mut self, st: &mut AccountState) -> f64 {
        self.advance(st, self.cx.now_ms);
        calc::equity(&self.cx, st, self.cx.now_ms)
    }

    /// `positions_get`: with `Symbol`, tickets are not looked at (as in MT5).
    pub fn positions(
        &mut self,
        st: &mut AccountState,
        filter: &PositionFilter,
    ) -> Vec<TradePosition> {
        self.advance(st, self.cx.now_ms);
        st.positions
            .iter()
            .filter(|p| filter_matches(filter, &p.symbol, p.ticket))
            .map(|p| calc::report_position(&self.cx, st, p))
            .collect()
    }

    /// `orders_get`.
    pub fn orders(&mut self, st: &mut AccountState, filter: &PositionFilter) -> Vec<TradeOrder> {
        self.advance(st, self.cx.now_ms);
        st.orders
            .iter()
            .filter(|o| filter_matches(filter, &o.symbol, o.ticket))
            .map(|o| calc::report_order(&self.cx, o))
            .collect()
    }

    /// `order_calc_margin`: margin in the account currency, ignoring open positions and orders.
    pub fn calc_margin(
        &mut self,
        st: &mut AccountState,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError> {
        self.advance(st, self.cx.now_ms);
        if !action.is_market() {
            return Err(TerminalError::invalid_argument("action"));
        }
        if !(volume.is_finite() && volume >= 0.0) {
            return Err(TerminalError::invalid_argument("volume"));
        }
        if !(price.is_finite() && price >= 0.0) {
            return Err(TerminalError::invalid_argument("price"));
        }
        let info = self
            .cx
            .market
            .spec(symbol)
            .map(|s| &s.info)
            .ok_or_else(TerminalError::not_found)?;
        calc::margin(
            &self.cx,
            &st.settings,
            info,
            volume,
            price,
            info.trade_contract_size,
            self.cx.now_ms,
        )
        .map(calc::money)
        .ok_or_else(TerminalError::call_failed)
    }

    /// `order_calc_profit`: profit in the account currency.
    #[allow(clippy::too_many_arguments)] // mirrors MT5's order_calc_profit plus the state
    pub fn calc_profit(
        &mut self,
        st: &mut AccountState,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError> {
        self.advance(st, self.cx.now_ms);
        let side = match action.side() {
            Some(side) if action.is_market() => side,
            _ => return Err(TerminalError::invalid_argument("action")),
        };
        if ![volume, price_open, price_close]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0)
        {
            return Err(TerminalError::invalid_argument("volume"));
        }
        let info = self
            .cx
            .market
            .spec(symbol)
            .map(|s| &s.info)
            .ok_or_else(TerminalError::not_found)?;
        calc::profit(
            &self.cx,
            &st.settings,
            info,
            side,
            volume,
            price_open,
            price_close,
            self.cx.now_ms,
        )
        .map(calc::money)
        .ok_or_else(TerminalError::call_failed)
    }
}

fn filter_matches(filter: &PositionFilter, symbol: &str, ticket: u64) -> bool {
    match filter {
        PositionFilter::All => true,
        PositionFilter::Symbol(s) => s == symbol,
        PositionFilter::Group(g) => mt5::util::group_matches(g, symbol),
        PositionFilter::Ticket(t) => *t == ticket,
    }
}

fn rejection(cx: &Ctx<'_>, req: &TradeRequest, code: u32) -> OrderSendResult {
    // A requote tells the client the prices it would get now; other rejections carry zeros.
    let (bid, ask) = if code == mt5::retcode::REQUOTE {
        cx.market
            .quote(&req.symbol, cx.now_ms)
            .map(|q| (q.bid, q.ask))
            .unwrap_or((0.0, 0.0))
    } else {
        (0.0, 0.0)
    };
    OrderSendResult {
        retcode: code,
        bid,
        ask,
        comment: mt5::retcode::comment(code).into(),
        request: req.clone(),
        ..Default::default()
    }
}
