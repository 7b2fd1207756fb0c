//! Test helpers: a market whose quotes the test sets, and an account driven through the engine.
#![allow(dead_code)] // each test binary uses a different part
#![allow(clippy::unwrap_used)] // test helpers: a poisoned lock is a failed test

use mt5::{
    AccountMarginMode, AccountTradeMode, OrderFilling, OrderTime, OrderType, PositionFilter,
    SymbolInfo, TradeAction, TradeDeal, TradeOrder, TradeRequest,
};
use mt5_sim::engine::{AccountSettings, AccountState, Costs, Engine, Metrics};
use mt5_sim::market::{Favour, Market, Quote, SymbolSpec};
use mt5_sim::symbols::builtin_symbols;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

/// 2024-01-03 10:00:00 UTC, a Wednesday.
pub const T0: i64 = 1_704_276_000_000;
pub const OFFSET_S: i64 = 7200;

/// A real [`Market`] whose quotes are whatever the test last set.
pub struct FixedMarket {
    specs: Vec<SymbolSpec>,
    quotes: Mutex<HashMap<String, (f64, f64)>>,
    closed: Mutex<HashSet<String>>,
}

impl FixedMarket {
    /// The built-in symbols with the MT5 documentation's quotes.
    pub fn new() -> Self {
        let m = FixedMarket {
            specs: builtin_symbols(),
            quotes: Mutex::new(HashMap::new()),
            closed: Mutex::new(HashSet::new()),
        };
        m.set("EURUSD", 1.09900, 1.09910);
        m.set("GBPUSD", 1.27220, 1.27230);
        m.set("USDJPY", 108.178, 108.183);
        m.set("USDCHF", 0.91000, 0.91010);
        m.set("EURJPY", 118.900, 118.920);
        m.set("XAUUSD", 2300.00, 2300.30);
        m.set("US500", 5000.00, 5000.50);
        m.set("US100", 18000.00, 18001.00);
        m
    }

    pub fn edit(mut self, symbol: &str, f: impl FnOnce(&mut SymbolInfo)) -> Self {
        if let Some(s) = self.specs.iter_mut().find(|s| s.info.name == symbol) {
            f(&mut s.info);
        }
        self
    }

    pub fn set(&self, symbol: &str, bid: f64, ask: f64) {
        self.quotes
            .lock()
            .unwrap()
            .insert(symbol.to_string(), (bid, ask));
    }

    pub fn remove_quote(&self, symbol: &str) {
        self.quotes.lock().unwrap().remove(symbol);
    }

    pub fn bid_ask(&self, symbol: &str) -> (f64, f64) {
        self.quotes.lock().unwrap()[symbol]
    }

    pub fn close_session(&self, symbol: &str) {
        self.closed.lock().unwrap().insert(symbol.to_string());
    }

    fn rate(&self, from: &str, to: &str, favour: Favour) -> Option<f64> {
        let quotes = self.quotes.lock().unwrap();
        for s in &self.specs {
            let Some(&(bid, ask)) = quotes.get(&s.info.name) else {
                continue;
            };
            let (b, p) = (&s.info.currency_base, &s.info.currency_profit);
            if b == from && p == to {
                return Some(match favour {
                    Favour::Profit => bid,
                    Favour::Loss => ask,
                    Favour::Mid => (bid + ask) / 2.0,
                });
            }
            if b == to && p == from {
                return Some(match favour {
                    Favour::Profit => 1.0 / ask,
                    Favour::Loss => 1.0 / bid,
                    Favour::Mid => 2.0 / (bid + ask),
                });
            }
        }
        None
    }
}

impl Market for FixedMarket {
    fn symbols(&self) -> &[SymbolSpec] {
        &self.specs
    }
    fn quote(&self, symbol: &str, utc_ms: i64) -> Option<Quote> {
        self.quotes
            .lock()
            .unwrap()
            .get(symbol)
            .map(|&(bid, ask)| Quote {
                bid,
                ask,
                time_msc: utc_ms,
            })
    }
    fn is_open(&self, symbol: &str, _utc_ms: i64) -> bool {
        !self.closed.lock().unwrap().contains(symbol)
    }
    fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        _utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        if from == to {
            return Some(amount);
        }
        if let Some(r) = self.rate(from, to, favour) {
            return Some(amount * r);
        }
        let a = self.rate(from, "USD", favour)?;
        let b = self.rate("USD", to, favour)?;
        Some(amount * a * b)
    }
}

pub fn settings(mode: AccountMarginMode) -> AccountSettings {
    AccountSettings {
        login: 1001,
        server: "Sim-Demo".into(),
        name: "Test".into(),
        currency: "USD".into(),
        company: "Sim".into(),
        leverage: 100,
        margin_mode: mode,
        trade_mode: AccountTradeMode::Demo,
        limit_orders: 0,
        limit_positions: 0,
        margin_so_call: 50.0,
        margin_so_so: 30.0,
        trade_allowed: true,
        margin_so_mode: mt5::AccountStopoutMode::Percent,
    }
}

/// One account driven through the engine, with its history collected.
pub struct Acct {
    pub st: AccountState,
    pub next: u64,
    pub now: i64,
    pub deals: Vec<TradeDeal>,
    pub orders: Vec<TradeOrder>,
    /// What the engine charges besides swaps (none unless a test sets it).
    pub costs: Costs,
}

impl Acct {
    pub fn new(mode: AccountMarginMode, balance: f64) -> Self {
        Self::with(settings(mode), balance)
    }

    pub fn with(s: AccountSettings, balance: f64) -> Self {
        let mut next = 1000;
        let mut alloc = || {
            next += 1;
            next
        };
        let (st, deal) = AccountState::open(s, balance, OFFSET_S, T0, &mut alloc);
        Acct {
            st,
            next,
            now: T0,
            deals: vec![deal],
            orders: Vec::new(),
            costs: Costs::default(),
        }
    }

    /// Runs `f` on an engine at `self.now` and collects the history it produced.
    pub fn run<R>(
        &mut self,
        m: &dyn Market,
        f: impl FnOnce(&mut Engine, &mut AccountState) -> R,
    ) -> R {
        let Acct {
            st,
            next,
            now,
            deals,
            orders,
            costs,
        } = self;
        let mut alloc = || {
            *next += 1;
            *next
        };
        let mut e = Engine::new(m, OFFSET_S, *now, &mut alloc).costs(*costs);
        let r = f(&mut e, st);
        let (d, o) = e.into_history();
        deals.extend(d);
        orders.extend(o);
        r
    }

    pub fn send(&mut self, m: &dyn Market, req: &TradeRequest) -> mt5::OrderSendResult {
        self.run(m, |e, st| e.order_send(st, req))
    }

    pub fn check(&mut self, m: &dyn Market, req: &TradeRequest) -> mt5::OrderCheckResult {
        self.run(m, |e, st| e.order_check(st, req))
    }

    pub fn positions(&mut self, m: &dyn Market) -> Vec<mt5::TradePosition> {
        self.run(m, |e, st| e.positions(st, &PositionFilter::All))
    }

    pub fn pending(&mut self, m: &dyn Market) -> Vec<mt5::TradeOrder> {
        self.run(m, |e, st| e.orders(st, &PositionFilter::All))
    }

    pub fn metrics(&mut self, m: &dyn Market) -> Metrics {
        self.run(m, |e, st| e.metrics(st))
    }

    pub fn tick(&mut self, ms: i64) {
        self.now += ms;
    }
}

pub fn market(symbol: &str, t: OrderType, volume: f64) -> TradeRequest {
    TradeRequest {
        action: TradeAction::Deal,
        symbol: symbol.into(),
        volume,
        r#type: t,
        type_filling: OrderFilling::Ioc,
        magic: 7,
        comment: "test".into(),
        ..Default::default()
    }
}

pub fn close(symbol: &str, t: OrderType, volume: f64, position: u64) -> TradeRequest {
    TradeRequest {
        position,
        ..market(symbol, t, volume)
    }
}

pub fn pending(symbol: &str, t: OrderType, volume: f64, price: f64) -> TradeRequest {
    TradeRequest {
        action: TradeAction::Pending,
        symbol: symbol.into(),
        volume,
        price,
        r#type: t,
        type_filling: OrderFilling::Return,
        type_time: OrderTime::Gtc,
        magic: 9,
        ..Default::default()
    }
}

pub fn sltp(position: u64, sl: f64, tp: f64) -> TradeRequest {
    TradeRequest {
        action: TradeAction::Sltp,
        position,
        sl,
        tp,
        ..Default::default()
    }
}

pub fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

// ---------------------------------------------------------------- broker helpers

use mt5::AccountKey;
use mt5_sim::broker::{Broker, BrokerConfig, QuotesOnly};
use mt5_sim::config::{AccountSpec, StateLocation};
use mt5_sim::market::Clock;
use secrecy::SecretString;
use std::sync::Arc;

pub const SERVER: &str = "Sim-Test";

pub fn spec(login: u64, mode: AccountMarginMode) -> AccountSpec {
    AccountSpec {
        login,
        password: SecretString::from(format!("pw-{login}")),
        investor_password: Some(investor_password(login)),
        server: SERVER.into(),
        name: format!("Account {login}"),
        balance: 10_000.0,
        currency: "USD".into(),
        leverage: 100,
        margin_mode: mode,
        trade_mode: AccountTradeMode::Demo,
        company: "Sim".into(),
        limit_orders: 0,
        limit_positions: 0,
        margin_so_call: 50.0,
        margin_so_so: 30.0,
        trade_allowed: true,
    }
}

pub fn key(login: u64) -> AccountKey {
    AccountKey::new(login, SERVER)
}

/// The session of account `login` logged in with its password (a fixed tag per account; the
/// bridge computes real tags, the simulator only keeps and compares them).
pub fn session(login: u64) -> mt5::Session {
    mt5::Session::new(key(login), tag(login as u8))
}

pub fn tag(n: u8) -> mt5::SessionTag {
    mt5::SessionTag::from_bytes([n; 32])
}

/// Account 1's investor (read-only) password.
pub fn investor_password(login: u64) -> SecretString {
    SecretString::from(format!("inv-{login}"))
}

pub fn password(login: u64) -> SecretString {
    SecretString::from(format!("pw-{login}"))
}

/// Accounts 1 (hedging) and 2 (netting), and 3 (hedging).
pub fn test_accounts() -> Vec<AccountSpec> {
    vec![
        spec(1, AccountMarginMode::RetailHedging),
        spec(2, AccountMarginMode::RetailNetting),
        spec(3, AccountMarginMode::RetailHedging),
    ]
}

pub async fn broker_on(state: StateLocation, clock: Arc<dyn Clock>) -> Arc<Broker> {
    Broker::open(BrokerConfig {
        accounts: test_accounts(),
        state,
        data: Arc::new(QuotesOnly {
            market: FixedMarket::new(),
            server_time_offset_s: OFFSET_S,
        }),
        clock,
        server_time_offset_s: OFFSET_S,
    })
    .await
    .unwrap()
}
