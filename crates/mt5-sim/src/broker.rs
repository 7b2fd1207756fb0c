//! The simulated trade server: accounts and their credentials, the trading engine applied to the
//! shared state, market data, and the audit trail.
//!
//! Terminals are clients: every method takes the calling terminal's id and the account it acts on,
//! and every operation is recorded in the audit trail (sequence, time, terminal, login, server,
//! operation, symbol, comment, retcode, order, deal) in the state store, so tests — in this process
//! or another one sharing the SQLite file — can prove which account each operation ran on.
//!
//! Account settings (leverage, limits, margin mode...) come from this process's configuration;
//! money, positions, orders and history come from the state store, so a restart keeps them.
//! Times reported to clients are the server's clock: UTC plus the configured offset.

use crate::config::{AccountSpec, SimConfig, StateLocation};
use crate::engine::{AccountSettings, AccountState, Engine};
use crate::market::{Clock, Favour, Market, SystemClock};
use crate::prices::PriceFeed;
use crate::state::{open_state, Applied, StateStore};
pub use crate::state::{AuditRecord, SimError};
use crate::symbols::builtin_symbols;
use mt5::enums::Mt5Enum;
use mt5::{
    AccountInfo, AccountKey, HistorySelect, OrderCheckResult, OrderSendResult, OrderType,
    PositionFilter, Rate, RatesRange, SymbolInfo, TerminalError, Tick, Timeframe, TradeDeal,
    TradeOrder, TradePosition, TradeRequest,
};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::Arc;

/// What terminals read besides trading: ticks, bars and symbol properties. Times in, UTC ms;
/// times out, server clock.
pub trait MarketData: Send + Sync {
    /// The quotes and specifications the trading engine uses.
    fn market(&self) -> &dyn Market;
    fn tick(&self, symbol: &str, utc_ms: i64) -> Option<Tick>;
    fn rates(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
        now_utc_ms: i64,
    ) -> Result<Vec<Rate>, TerminalError>;
    fn symbol_info(&self, symbol: &str, utc_ms: i64, account_currency: &str) -> Option<SymbolInfo>;
}

/// Market data derived from any [`Market`]: ticks and symbol properties from its quotes, no bars.
/// For tests on hand-set quotes.
pub struct QuotesOnly<M> {
    pub market: M,
    pub server_time_offset_s: i64,
}

impl<M: Market> MarketData for QuotesOnly<M> {
    fn market(&self) -> &dyn Market {
        &self.market
    }

    fn tick(&self, symbol: &str, utc_ms: i64) -> Option<Tick> {
        let q = self.market.quote(symbol, utc_ms)?;
        let msc = q.time_msc + self.server_time_offset_s * 1000;
        Some(Tick {
            time: msc.div_euclid(1000),
            bid: q.bid,
            ask: q.ask,
            last: 0.0,
            volume: 0,
            time_msc: msc,
            flags: mt5::tick_flag::BID | mt5::tick_flag::ASK,
            volume_real: 0.0,
        })
    }

    fn rates(
        &self,
        _symbol: &str,
        _timeframe: Timeframe,
        _range: RatesRange,
        _now_utc_ms: i64,
    ) -> Result<Vec<Rate>, TerminalError> {
        Ok(Vec::new())
    }

    fn symbol_info(&self, symbol: &str, utc_ms: i64, account_currency: &str) -> Option<SymbolInfo> {
        let spec = self.market.spec(symbol)?;
        let mut info = spec.info.clone();
        if let Some(t) = self.tick(symbol, utc_ms) {
            info.bid = t.bid;
            info.ask = t.ask;
            info.time = t.time;
            if info.point > 0.0 {
                info.spread = ((t.ask - t.bid) / info.point).round() as i32;
            }
        }
        let tick_profit = info.trade_tick_size * info.trade_contract_size;
        let conv = |f| {
            self.market.convert(
                tick_profit,
                &info.currency_profit,
                account_currency,
                utc_ms,
                f,
            )
        };
        info.trade_tick_value_profit = conv(Favour::Profit).unwrap_or(0.0);
        info.trade_tick_value_loss = conv(Favour::Loss).unwrap_or(0.0);
        info.trade_tick_value = info.trade_tick_value_profit;
        Some(info)
    }
}

impl MarketData for PriceFeed {
    fn market(&self) -> &dyn Market {
        self
    }

    fn tick(&self, symbol: &str, utc_ms: i64) -> Option<Tick> {
        PriceFeed::tick(self, symbol, utc_ms)
    }

    fn rates(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
        now_utc_ms: i64,
    ) -> Result<Vec<Rate>, TerminalError> {
        PriceFeed::rates(self, symbol, timeframe, range, now_utc_ms)
    }

    fn symbol_info(&self, symbol: &str, utc_ms: i64, account_currency: &str) -> Option<SymbolInfo> {
        PriceFeed::symbol_info(self, symbol, utc_ms, account_currency)
    }
}

/// The broker and price feed a [`SimConfig`] describes, on the machine's clock.
pub async fn open_from_config(cfg: &SimConfig) -> Result<(Arc<Broker>, Arc<PriceFeed>), SimError> {
    open_from_config_with_clock(cfg, Arc::new(SystemClock)).await
}

/// As [`open_from_config`], on a given clock (tests move a [`crate::market::ManualClock`]).
pub async fn open_from_config_with_clock(
    cfg: &SimConfig,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<Broker>, Arc<PriceFeed>), SimError> {
    let feed = Arc::new(
        PriceFeed::new(cfg.seed, builtin_symbols(), cfg.server_time_offset_s)
            .with_max_bars(cfg.max_bars),
    );
    let broker = Broker::open(BrokerConfig {
        accounts: cfg.accounts.clone(),
        state: cfg.state.clone(),
        data: feed.clone(),
        clock,
        server_time_offset_s: cfg.server_time_offset_s,
    })
    .await?;
    Ok((broker, feed))
}

/// How to build a [`Broker`].
pub struct BrokerConfig {
    pub accounts: Vec<AccountSpec>,
    pub state: StateLocation,
    pub data: Arc<dyn MarketData>,
    pub clock: Arc<dyn Clock>,
    /// Server clock minus UTC, seconds.
    pub server_time_offset_s: i64,
}

/// Which password a login used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The master password: full access.
    Master,
    /// The investor password: read-only, trade requests are refused.
    Investor,
}

/// The audit fields an operation knows about itself.
#[derive(Default)]
struct Note {
    symbol: String,
    comment: String,
    retcode: u32,
    order: u64,
    deal: u64,
}

/// The simulated trade server. See the module documentation.
pub struct Broker {
    accounts: HashMap<AccountKey, AccountSpec>,
    /// Master passwords changed while the server runs (as a broker's password change does).
    changed_passwords: std::sync::RwLock<HashMap<AccountKey, SecretString>>,
    /// Terminals (by id) whose "Algo Trading" is switched off (kept in this process only).
    algo_off: std::sync::RwLock<std::collections::HashSet<String>>,
    store: Arc<dyn StateStore>,
    data: Arc<dyn MarketData>,
    clock: Arc<dyn Clock>,
    offset_s: i64,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Account specs hold passwords: list only the keys.
        let mut keys: Vec<&AccountKey> = self.accounts.keys().collect();
        keys.sort();
        f.debug_struct("Broker")
            .field("accounts", &keys)
            .field("server_time_offset_s", &self.offset_s)
            .finish_non_exhaustive()
    }
}

fn settings(spec: &AccountSpec) -> AccountSettings {
    AccountSettings {
        login: spec.login,
        server: spec.server.clone(),
        name: spec.name.clone(),
        currency: spec.currency.clone(),
        company: spec.company.clone(),
        leverage: spec.leverage,
        margin_mode: spec.margin_mode,
        trade_mode: spec.trade_mode,
        limit_orders: spec.limit_orders,
        limit_positions: spec.limit_positions,
        margin_so_call: spec.margin_so_call,
        margin_so_so: spec.margin_so_so,
        trade_allowed: spec.trade_allowed,
        // The accounts file has percent levels, as MT5's default.
        margin_so_mode: mt5::AccountStopoutMode::Percent,
    }
}

/// Compares a password in constant time (for equal lengths: where the inputs differ does not
/// show in the time taken).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq as _;
    bool::from(a.ct_eq(b))
}

fn store_failure(e: SimError) -> TerminalError {
    tracing::warn!(error = %e, "simulated trade server state failed");
    TerminalError::Unavailable("trade server state unavailable".into())
}

impl Broker {
    /// Opens the state and creates every configured account that it does not hold yet (with its
    /// initial deposit); accounts already there keep their state.
    pub async fn open(cfg: BrokerConfig) -> Result<Arc<Broker>, SimError> {
        let store = open_state(&cfg.state).await?;
        Self::with_store(cfg, store).await
    }

    /// As [`Broker::open`], on a store the caller opened.
    pub async fn with_store(
        cfg: BrokerConfig,
        store: Arc<dyn StateStore>,
    ) -> Result<Arc<Broker>, SimError> {
        let mut accounts = HashMap::new();
        for spec in cfg.accounts {
            let key = spec.key();
            if accounts.contains_key(&key) {
                return Err(SimError::Config(format!(
                    "account {key} is configured twice"
                )));
            }
            accounts.insert(key, spec);
        }
        let broker = Broker {
            accounts,
            changed_passwords: Default::default(),
            algo_off: Default::default(),
            store,
            data: cfg.data,
            clock: cfg.clock,
            offset_s: cfg.server_time_offset_s,
        };
        let mut keys: Vec<&AccountKey> = broker.accounts.keys().collect();
        keys.sort();
        for key in keys {
            let spec = &broker.accounts[key];
            let s = settings(spec);
            let (balance, offset, now) = (spec.balance, broker.offset_s, broker.clock.now_ms());
            broker
                .store
                .ensure_account(key, &mut |tickets| {
                    AccountState::open(s.clone(), balance, offset, now, tickets)
                })
                .await?;
        }
        Ok(Arc::new(broker))
    }

    pub fn server_time_offset_s(&self) -> i64 {
        self.offset_s
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn market_data(&self) -> &Arc<dyn MarketData> {
        &self.data
    }

    /// The configured accounts' keys.
    pub fn accounts(&self) -> Vec<AccountKey> {
        let mut keys: Vec<AccountKey> = self.accounts.keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The audit trail of every process sharing this state, oldest first.
    pub async fn audit(&self) -> Result<Vec<AuditRecord>, SimError> {
        self.store.audit().await
    }

    /// The account's stored state (money, positions, orders), for inspection.
    pub async fn account_state(&self, key: &AccountKey) -> Result<Option<AccountState>, SimError> {
        self.store.load(key).await
    }

    fn spec(&self, key: &AccountKey) -> Result<&AccountSpec, TerminalError> {
        self.accounts
            .get(self.canonical(key))
            .ok_or_else(TerminalError::auth_failed)
    }

    /// The configured key of the account `key` names: MT5 finds a trade server by its name
    /// whatever its case and surrounding blanks, and reports its own spelling. `key` itself when
    /// no account matches.
    pub fn canonical<'a>(&'a self, key: &'a AccountKey) -> &'a AccountKey {
        if let Some((k, _)) = self.accounts.get_key_value(key) {
            return k;
        }
        self.accounts.keys().find(|k| k.same_as(key)).unwrap_or(key)
    }

    fn record(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        operation: &str,
        note: Note,
    ) -> AuditRecord {
        let key = self.canonical(key);
        AuditRecord {
            seq: 0,
            utc_ms: self.clock.now_ms(),
            terminal_id: terminal_id.to_string(),
            login: key.login,
            server: key.server.clone(),
            operation: operation.to_string(),
            symbol: note.symbol,
            comment: note.comment,
            retcode: note.retcode,
            order: note.order,
            deal: note.deal,
        }
    }

    /// Runs `f` with the engine on the account's state in one store transaction, and audits it.
    async fn with_engine<R: Send>(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        operation: &str,
        mut f: impl FnMut(&mut Engine<'_>, &mut AccountState) -> (R, Note) + Send,
    ) -> Result<R, TerminalError> {
        let key = self.canonical(key);
        let spec = self.spec(key)?;
        let configured = settings(spec);
        let market = self.data.market();
        let mut out: Option<R> = None;
        let mut op = |st: &mut AccountState, tickets: &mut dyn FnMut() -> u64| {
            st.settings = configured.clone();
            // Never evaluate an account backwards, whichever process's clock is behind.
            let now = self.clock.now_ms().max(st.evaluated_ms);
            let mut engine = Engine::new(market, self.offset_s, now, tickets);
            let (value, note) = f(&mut engine, st);
            let (deals, orders) = engine.into_history();
            out = Some(value);
            Applied {
                deals,
                orders,
                audit: Some(self.record(terminal_id, key, operation, note)),
            }
        };
        self.store
            .transact(key, &mut op)
            .await
            .map_err(store_failure)?;
        out.ok_or_else(TerminalError::call_failed)
    }

    /// Audits a read that changes no account state.
    async fn audit_read(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        operation: &str,
        symbol: &str,
    ) -> Result<(), TerminalError> {
        self.spec(key)?;
        let note = Note {
            symbol: symbol.to_string(),
            ..Note::default()
        };
        self.store
            .record(self.record(terminal_id, key, operation, note))
            .await
            .map_err(store_failure)
    }

    /// Switches "Algo Trading" of the terminal `terminal_id` on or off, as its user would at the
    /// terminal: off, its `order_send` answers 10027 and `terminal_info()` says `trade_allowed`
    /// false. Every terminal starts with it on.
    pub fn set_algo_trading(&self, terminal_id: &str, on: bool) {
        let mut off = self.algo_off.write().unwrap_or_else(|p| p.into_inner());
        if on {
            off.remove(terminal_id);
        } else {
            off.insert(terminal_id.to_string());
        }
    }

    /// Whether the terminal `terminal_id` has "Algo Trading" on.
    pub fn algo_trading(&self, terminal_id: &str) -> bool {
        !self
            .algo_off
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(terminal_id)
    }

    /// Changes an account's master password while the server runs: the old one is refused from
    /// the next login on (sessions already open stay, as on a real server). False for an unknown
    /// account. Kept in this process only.
    pub fn set_password(&self, key: &AccountKey, password: SecretString) -> bool {
        let key = self.canonical(key);
        if !self.accounts.contains_key(key) {
            return false;
        }
        self.changed_passwords
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), password);
        true
    }

    /// Which of the account's passwords `password` is, compared in constant time.
    fn access(&self, key: &AccountKey, password: &SecretString) -> Option<Access> {
        let key = self.canonical(key);
        let spec = self.accounts.get(key)?;
        let given = password.expose_secret().as_bytes();
        let changed = self
            .changed_passwords
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .map(|p| same_secret(p.expose_secret().as_bytes(), given));
        let master =
            changed.unwrap_or_else(|| same_secret(spec.password.expose_secret().as_bytes(), given));
        let investor = spec
            .investor_password
            .as_ref()
            .is_some_and(|p| same_secret(p.expose_secret().as_bytes(), given));
        if master {
            Some(Access::Master)
        } else if investor {
            Some(Access::Investor)
        } else {
            None
        }
    }

    /// Checks credentials (login, server and password, the password compared in constant time)
    /// and answers with the account's info. Any mismatch is MT5's authorization failure.
    pub async fn authenticate(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        password: &SecretString,
    ) -> Result<(AccountInfo, Access), TerminalError> {
        let Some(access) = self.access(key, password) else {
            let note = Note {
                retcode: 0,
                ..Note::default()
            };
            // Failed attempts are audited too (without anything secret).
            if self.accounts.contains_key(self.canonical(key)) {
                let rec = self.record(terminal_id, key, "login_failed", note);
                self.store.record(rec).await.map_err(store_failure)?;
            }
            return Err(TerminalError::auth_failed());
        };
        let mut info = self
            .with_engine(terminal_id, key, "login", |e, st| {
                (e.account_info(st), Note::default())
            })
            .await?;
        if access == Access::Investor {
            info.trade_allowed = false;
        }
        Ok((info, access))
    }

    /// A trade request on a read-only (investor) session: the server refuses it with
    /// `TRADE_RETCODE_TRADE_DISABLED`, as it does for an account without trading, and audits it.
    pub async fn refuse_read_only(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        request: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError> {
        let code = mt5::retcode::TRADE_DISABLED;
        let note = Note {
            symbol: request.symbol.clone(),
            comment: request.comment.clone(),
            retcode: code,
            order: request.order.max(request.position),
            deal: 0,
        };
        let rec = self.record(terminal_id, key, "order_send", note);
        self.store.record(rec).await.map_err(store_failure)?;
        Ok(OrderSendResult {
            retcode: code,
            comment: mt5::retcode::comment(code).into(),
            request: request.clone(),
            ..Default::default()
        })
    }

    pub async fn account_info(
        &self,
        terminal_id: &str,
        key: &AccountKey,
    ) -> Result<AccountInfo, TerminalError> {
        self.with_engine(terminal_id, key, "account_info", |e, st| {
            (e.account_info(st), Note::default())
        })
        .await
    }

    pub async fn symbols(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        group: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        self.audit_read(terminal_id, key, "symbols", group.unwrap_or(""))
            .await?;
        let ccy = &self.spec(key)?.currency;
        let now = self.clock.now_ms();
        Ok(self
            .data
            .market()
            .symbols()
            .iter()
            .filter(|s| group.is_none_or(|g| mt5::util::group_matches(g, &s.info.name)))
            .filter_map(|s| self.data.symbol_info(&s.info.name, now, ccy))
            .collect())
    }

    /// Unknown symbol: MT5's "Terminal: Not found" (-4).
    pub async fn symbol_info(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        symbol: &str,
    ) -> Result<SymbolInfo, TerminalError> {
        self.audit_read(terminal_id, key, "symbol_info", symbol)
            .await?;
        let ccy = &self.spec(key)?.currency;
        self.data
            .symbol_info(symbol, self.clock.now_ms(), ccy)
            .ok_or_else(TerminalError::not_found)
    }

    pub async fn symbol_info_tick(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        symbol: &str,
    ) -> Result<Tick, TerminalError> {
        self.audit_read(terminal_id, key, "symbol_info_tick", symbol)
            .await?;
        self.data
            .tick(symbol, self.clock.now_ms())
            .ok_or_else(TerminalError::not_found)
    }

    pub async fn copy_rates(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
    ) -> Result<Vec<Rate>, TerminalError> {
        self.audit_read(terminal_id, key, "copy_rates", symbol)
            .await?;
        if self.data.market().spec(symbol).is_none() {
            return Err(TerminalError::not_found());
        }
        // MT5 takes only the listed timeframes; it has no bars for any other.
        if !timeframe.is_known() {
            return Err(TerminalError::invalid_argument("timeframe"));
        }
        self.data
            .rates(symbol, timeframe, range, self.clock.now_ms())
    }

    pub async fn positions(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        filter: &PositionFilter,
    ) -> Result<Vec<TradePosition>, TerminalError> {
        self.with_engine(terminal_id, key, "positions", |e, st| {
            (e.positions(st, filter), filter_note(filter))
        })
        .await
    }

    pub async fn orders(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        filter: &PositionFilter,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.with_engine(terminal_id, key, "orders", |e, st| {
            (e.orders(st, filter), filter_note(filter))
        })
        .await
    }

    pub async fn order_calc_margin(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError> {
        self.with_engine(terminal_id, key, "order_calc_margin", |e, st| {
            (
                e.calc_margin(st, action, symbol, volume, price),
                symbol_note(symbol),
            )
        })
        .await?
    }

    #[allow(clippy::too_many_arguments)] // MT5's order_calc_profit plus the caller and account
    pub async fn order_calc_profit(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError> {
        self.with_engine(terminal_id, key, "order_calc_profit", |e, st| {
            (
                e.calc_profit(st, action, symbol, volume, price_open, price_close),
                symbol_note(symbol),
            )
        })
        .await?
    }

    pub async fn order_check(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        request: &TradeRequest,
    ) -> Result<OrderCheckResult, TerminalError> {
        self.with_engine(terminal_id, key, "order_check", |e, st| {
            let r = e.order_check(st, request);
            let note = Note {
                symbol: request.symbol.clone(),
                comment: request.comment.clone(),
                retcode: r.retcode,
                order: request.order.max(request.position),
                deal: 0,
            };
            (r, note)
        })
        .await
    }

    /// Executes a trade request; a rejection is `Ok` with its retcode.
    pub async fn order_send(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        request: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError> {
        self.with_engine(terminal_id, key, "order_send", |e, st| {
            let r = e.order_send(st, request);
            let note = Note {
                symbol: request.symbol.clone(),
                comment: request.comment.clone(),
                retcode: r.retcode,
                order: if r.order != 0 {
                    r.order
                } else {
                    request.order.max(request.position)
                },
                deal: r.deal,
            };
            (r, note)
        })
        .await
    }

    /// `history_deals_get`: brings the account up to now first, so triggered closes are there.
    pub async fn history_deals(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, TerminalError> {
        self.with_engine(terminal_id, key, "history_deals", |e, st| {
            let now = e.now_utc_ms();
            e.advance(st, now);
            ((), Note::default())
        })
        .await?;
        self.store
            .history_deals(key, select)
            .await
            .map_err(store_failure)
    }

    pub async fn history_orders(
        &self,
        terminal_id: &str,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.with_engine(terminal_id, key, "history_orders", |e, st| {
            let now = e.now_utc_ms();
            e.advance(st, now);
            ((), Note::default())
        })
        .await?;
        self.store
            .history_orders(key, select)
            .await
            .map_err(store_failure)
    }
}

fn symbol_note(symbol: &str) -> Note {
    Note {
        symbol: symbol.to_string(),
        ..Note::default()
    }
}

fn filter_note(filter: &PositionFilter) -> Note {
    match filter {
        PositionFilter::Symbol(s) => symbol_note(s),
        PositionFilter::Group(g) => symbol_note(g),
        PositionFilter::Ticket(t) => Note {
            order: *t,
            ..Note::default()
        },
        PositionFilter::All => Note::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(same_secret(b"hunter2", b"hunter2"));
        assert!(!same_secret(b"hunter2", b"hunter3"));
        assert!(!same_secret(b"hunter2", b"hunter22"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }
}
