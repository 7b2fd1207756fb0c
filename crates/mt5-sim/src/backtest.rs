//! The engine on a historical clock, owned in memory by its caller: one account, the symbols'
//! specifications, and prices the caller sets point by point. No broker store, no real time, no
//! price feed: the same [`Engine`] as the live simulator, advanced with
//! [`Engine::advance_through`] on the points of the caller's bars.
//!
//! A backtest drives it so:
//! 1. [`BacktestAccount::new`] with the account's settings and deposit, the symbols, the server
//!    offset, the start time and the [`Costs`];
//! 2. before each stretch of the traded symbol's points, the conversion symbols' quotes of that
//!    time with [`BacktestAccount::set_quote`] ([`conversion_symbols`] names them);
//! 3. [`BacktestAccount::advance_through`] the traded symbol's points (a bar's path);
//! 4. [`BacktestAccount::order_send`] and the reads, at the last point's time and prices;
//! 5. the deals and history orders from [`BacktestAccount::deals`] and
//!    [`BacktestAccount::history_orders`].
//!
//! [`conversion_symbols`]: crate::market::conversion_symbols

use crate::engine::{swap_mode_modelled, AccountSettings, AccountState, Costs, Engine, Metrics};
use crate::market::{convert_by_quotes, Favour, Market, PricePoint, Quote, SymbolSpec};
use mt5::{
    AccountInfo, AccountMarginMode, AccountTradeMode, OrderCheckResult, OrderSendResult, OrderType,
    PositionFilter, SymbolSwapMode, TerminalError, TradeDeal, TradeOrder, TradePosition,
    TradeRequest,
};

/// A [`Market`] whose quotes are the last ones its owner set: the price source of an engine on a
/// historical clock. Every symbol trades at any time (history has bars only when the market was
/// open); conversions go through its own quotes.
#[derive(Debug, Clone)]
pub struct PointMarket {
    specs: Vec<SymbolSpec>,
    quotes: Vec<Option<Quote>>,
}

impl PointMarket {
    pub fn new(specs: Vec<SymbolSpec>) -> Self {
        let quotes = vec![None; specs.len()];
        PointMarket { specs, quotes }
    }

    fn index(&self, symbol: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.info.name == symbol)
    }

    /// Sets `symbol`'s quote; false for a symbol the market does not have.
    pub fn set(&mut self, symbol: &str, point: PricePoint) -> bool {
        match self.index(symbol) {
            Some(i) => {
                self.quotes[i] = Some(Quote {
                    bid: point.bid,
                    ask: point.ask,
                    time_msc: point.time_ms,
                });
                true
            }
            None => false,
        }
    }
}

impl Market for PointMarket {
    fn symbols(&self) -> &[SymbolSpec] {
        &self.specs
    }

    fn quote(&self, symbol: &str, _utc_ms: i64) -> Option<Quote> {
        self.quotes[self.index(symbol)?]
    }

    fn is_open(&self, symbol: &str, _utc_ms: i64) -> bool {
        self.index(symbol).is_some()
    }

    fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        convert_by_quotes(self, amount, from, to, utc_ms, favour)
    }
}

impl AccountSettings {
    /// The settings of a simulated account that copies a real one's trading terms: currency,
    /// leverage, margin mode, margin call and stop-out levels (percent; for an account whose
    /// levels are money, set `margin_so_mode` too). Other fields are placeholders (no limits,
    /// trading allowed, a demo account).
    pub fn simulated(
        currency: &str,
        leverage: u32,
        margin_mode: AccountMarginMode,
        margin_so_call: f64,
        margin_so_so: f64,
    ) -> Self {
        AccountSettings {
            login: 0,
            server: String::new(),
            name: String::new(),
            currency: currency.to_string(),
            company: String::new(),
            leverage,
            margin_mode,
            trade_mode: AccountTradeMode::Demo,
            limit_orders: 0,
            limit_positions: 0,
            margin_so_call,
            margin_so_so,
            trade_allowed: true,
            margin_so_mode: mt5::AccountStopoutMode::Percent,
        }
    }
}

/// One account on the engine, on a historical clock. See the module documentation.
pub struct BacktestAccount {
    market: PointMarket,
    state: AccountState,
    offset_s: i64,
    costs: Costs,
    next_ticket: u64,
    now_ms: i64,
    deals: Vec<TradeDeal>,
    orders: Vec<TradeOrder>,
}

impl BacktestAccount {
    /// An account with `deposit` (recorded as the balance deal MT5 makes) at `start_utc_ms`.
    /// `server_offset_s` is the server clock minus UTC: rollovers fall at server midnight.
    pub fn new(
        settings: AccountSettings,
        deposit: f64,
        symbols: Vec<SymbolSpec>,
        server_offset_s: i64,
        start_utc_ms: i64,
        costs: Costs,
    ) -> Self {
        let mut next_ticket = 0u64;
        let mut alloc = || {
            next_ticket += 1;
            next_ticket
        };
        let (state, deal) =
            AccountState::open(settings, deposit, server_offset_s, start_utc_ms, &mut alloc);
        BacktestAccount {
            market: PointMarket::new(symbols),
            state,
            offset_s: server_offset_s,
            costs,
            next_ticket,
            now_ms: start_utc_ms,
            deals: vec![deal],
            orders: Vec::new(),
        }
    }

    /// The account's clock: the latest point it was advanced to (UTC ms).
    pub fn now_utc_ms(&self) -> i64 {
        self.now_ms
    }

    /// Sets a symbol's quote without evaluating anything: the conversion symbols' rates of the
    /// coming points' time. False for a symbol the account does not know.
    pub fn set_quote(&mut self, symbol: &str, point: PricePoint) -> bool {
        self.market.set(symbol, point)
    }

    /// Advances the clock through `points` of `symbol` ([`Engine::advance_through`]): swaps at
    /// the rollovers passed, expirations, pending activations, SL/TP and stop-out at each point.
    /// `symbol`'s quote is then the last point. False (and nothing done) for an unknown symbol.
    pub fn advance_through(&mut self, symbol: &str, points: &[PricePoint]) -> bool {
        let Some(last) = points.last().copied() else {
            return self.market.index(symbol).is_some();
        };
        if self.market.index(symbol).is_none() {
            return false;
        }
        self.run(|e, st| e.advance_through(st, symbol, points));
        self.market.set(symbol, last);
        self.now_ms = self.now_ms.max(self.state.evaluated_ms);
        true
    }

    /// Runs `f` on an engine at the account's clock and keeps the history it made.
    fn run<R>(&mut self, f: impl FnOnce(&mut Engine<'_>, &mut AccountState) -> R) -> R {
        let BacktestAccount {
            market,
            state,
            offset_s,
            costs,
            next_ticket,
            now_ms,
            deals,
            orders,
        } = self;
        let mut alloc = || {
            *next_ticket += 1;
            *next_ticket
        };
        // Never evaluate the account backwards.
        let now = (*now_ms).max(state.evaluated_ms);
        let mut engine = Engine::new(&*market, *offset_s, now, &mut alloc).costs(*costs);
        let r = f(&mut engine, state);
        let (d, o) = engine.into_history();
        deals.extend(d);
        orders.extend(o);
        r
    }

    /// `order_send` at the account's clock and the current quotes.
    pub fn order_send(&mut self, request: &TradeRequest) -> OrderSendResult {
        self.run(|e, st| e.order_send(st, request))
    }

    /// `order_check` at the account's clock and the current quotes.
    pub fn order_check(&mut self, request: &TradeRequest) -> OrderCheckResult {
        self.run(|e, st| e.order_check(st, request))
    }

    pub fn positions(&mut self) -> Vec<TradePosition> {
        self.run(|e, st| e.positions(st, &PositionFilter::All))
    }

    /// Active pending orders.
    pub fn orders(&mut self) -> Vec<TradeOrder> {
        self.run(|e, st| e.orders(st, &PositionFilter::All))
    }

    /// Balance, equity, margin... at the current quotes.
    pub fn metrics(&mut self) -> Metrics {
        self.run(|e, st| e.metrics(st))
    }

    /// The balance (as `account_info().balance`).
    pub fn balance(&mut self) -> f64 {
        self.run(|e, st| e.balance(st))
    }

    /// The equity at the current quotes (as `account_info().equity`), without building the rest.
    pub fn equity(&mut self) -> f64 {
        self.run(|e, st| e.equity(st))
    }

    pub fn account_info(&mut self) -> AccountInfo {
        self.run(|e, st| e.account_info(st))
    }

    /// `symbol_info` as a terminal would report it now: the specification with the current bid,
    /// ask, time (server clock) and spread, and tick values in the account currency converted
    /// at the current quotes (a profit at the side less favourable to the client). `None` for a
    /// symbol the account does not know or has no quote for yet.
    pub fn symbol_info(&self, symbol: &str) -> Option<mt5::SymbolInfo> {
        let spec = self.market.spec(symbol)?;
        let q = self.market.quote(symbol, self.now_ms)?;
        let mut info = spec.info.clone();
        info.bid = q.bid;
        info.ask = q.ask;
        info.time = (q.time_msc + self.offset_s * 1000).div_euclid(1000);
        if info.point > 0.0 {
            info.spread = ((q.ask - q.bid) / info.point).round() as i32;
        }
        let tick = info.trade_tick_size * info.trade_contract_size;
        let ccy = &self.state.settings.currency;
        let conv = |favour| {
            self.market
                .convert(tick, &info.currency_profit, ccy, self.now_ms, favour)
                .unwrap_or(0.0)
        };
        info.trade_tick_value_profit = conv(Favour::Profit);
        info.trade_tick_value_loss = conv(Favour::Loss);
        info.trade_tick_value = info.trade_tick_value_profit;
        Some(info)
    }

    /// `order_calc_margin` at the current quotes, in the account currency.
    pub fn calc_margin(
        &mut self,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError> {
        self.run(|e, st| e.calc_margin(st, action, symbol, volume, price))
    }

    /// `order_calc_profit` at the current quotes, in the account currency.
    pub fn calc_profit(
        &mut self,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError> {
        self.run(|e, st| e.calc_profit(st, action, symbol, volume, price_open, price_close))
    }

    /// The account's state (positions with their accrued swap, orders, balance).
    pub fn state(&self) -> &AccountState {
        &self.state
    }

    /// Every deal so far, oldest first, the opening balance deal included.
    pub fn deals(&self) -> &[TradeDeal] {
        &self.deals
    }

    /// Every finished order so far (filled, canceled, expired, rejected), oldest first.
    pub fn history_orders(&self) -> &[TradeOrder] {
        &self.orders
    }

    /// Takes the history collected so far (a long backtest drains it as it goes).
    pub fn take_history(&mut self) -> (Vec<TradeDeal>, Vec<TradeOrder>) {
        (
            std::mem::take(&mut self.deals),
            std::mem::take(&mut self.orders),
        )
    }

    /// The account's symbols whose swap mode the engine does not model (they are charged no
    /// swap): what a report says.
    pub fn unmodelled_swaps(&self) -> Vec<(String, SymbolSwapMode)> {
        self.market
            .symbols()
            .iter()
            .filter(|s| !swap_mode_modelled(s.info.swap_mode))
            .map(|s| (s.info.name.clone(), s.info.swap_mode))
            .collect()
    }
}
