//! A simulated MT5 terminal: a client of the [`Broker`] that holds at most one login, with
//! configurable latencies and seeded faults.
//!
//! Every operation takes the terminal's own lock for the whole call, checks that the current login
//! is the account the caller expects, and only then acts; on a mismatch it answers
//! [`TerminalError::WrongAccount`] and executes nothing. A login that fails leaves the terminal
//! logged out, as a real terminal is left disconnected.
//!
//! Faults come from a RNG seeded per terminal, so a run is reproducible: `login_fail` refuses a
//! login; `disconnect` drops the login and fails the call with "No IPC connection" before anything
//! runs; `timeout` fails the call with [`TerminalError::Timeout`] *after* the broker executed it —
//! for `order_send` the order exists and only the answer is lost, the case a journal must recover.
//! Two faults touch `order_send` alone: `order_answer_lost` (it runs, the answer is lost) and
//! `order_dropped` (it never reaches the broker; the caller sees the same timeout).
//!
//! With [`TerminalOptions::unknown_enums`] set, the terminal reports enum values outside MT5's
//! lists in what it answers (see [`crate::unknown`]); the broker's state is untouched.
//!
//! As a real terminal does, a call does not start once the caller's deadline
//! ([`Expected::deadline`]) has passed, and an `order_send` that started runs to its end even if
//! the caller stops waiting.

use crate::broker::{Access, Broker};
use crate::config::{FaultConfig, SimConfig, UnknownEnums};
use async_trait::async_trait;
use mt5::{
    AccountInfo, Expected, HistorySelect, OrderCheckResult, OrderSendResult, OrderType,
    PositionFilter, Rate, RatesRange, Session, SymbolInfo, Terminal, TerminalError, Tick,
    Timeframe, TradeDeal, TradeOrder, TradePosition, TradeRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// Latency and faults of a simulated terminal.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TerminalOptions {
    pub login_latency: Duration,
    pub call_latency: Duration,
    /// Extra latency of `order_send` at the broker, after which the order runs in any case.
    pub order_latency: Duration,
    pub faults: FaultConfig,
    pub fault_seed: u64,
    /// Enum values outside MT5's lists to report (none by default).
    pub unknown_enums: UnknownEnums,
}

impl TerminalOptions {
    /// The latencies and faults of a simulator configuration; faults seeded from its seed.
    pub fn from_config(cfg: &SimConfig) -> Self {
        TerminalOptions {
            login_latency: Duration::from_millis(cfg.login_latency_ms),
            call_latency: Duration::from_millis(cfg.call_latency_ms),
            order_latency: Duration::from_millis(cfg.order_latency_ms),
            faults: cfg.faults,
            fault_seed: cfg.seed,
            unknown_enums: cfg.unknown_enums,
        }
    }
}

/// What the order dice decided for one `order_send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderFault {
    None,
    AnswerLost,
    Dropped,
}

/// What the fault dice decided for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Disconnect,
    Timeout,
}

struct Inner {
    /// The session (account and credential tag) the terminal holds.
    login: Option<Session>,
    /// The session logged in with the investor password: trade requests are refused.
    read_only: bool,
    rng: StdRng,
    request_id: u64,
}

/// A simulated terminal. See the module documentation.
pub struct SimTerminal {
    id: String,
    broker: Arc<Broker>,
    opts: TerminalOptions,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SimTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTerminal")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// `n` terminals on one broker, named `sim-0` … `sim-{n-1}`, each with its own fault seed
/// (`opts.fault_seed + i`).
pub fn sim_terminals(
    n: usize,
    broker: Arc<Broker>,
    opts: TerminalOptions,
) -> Vec<Arc<SimTerminal>> {
    (0..n)
        .map(|i| {
            let o = TerminalOptions {
                fault_seed: opts.fault_seed.wrapping_add(i as u64),
                ..opts
            };
            Arc::new(SimTerminal::new(format!("sim-{i}"), broker.clone(), o))
        })
        .collect()
}

impl SimTerminal {
    pub fn new(id: String, broker: Arc<Broker>, opts: TerminalOptions) -> Self {
        SimTerminal {
            id,
            broker,
            inner: Mutex::new(Inner {
                login: None,
                read_only: false,
                rng: StdRng::seed_from_u64(opts.fault_seed),
                request_id: 0,
            }),
            opts,
        }
    }

    /// Switches the terminal's "Algo Trading" on or off, as a user at the terminal would (see
    /// [`Broker::set_algo_trading`]): off, `order_send` answers 10027 and runs nothing.
    pub fn set_algo_trading(&self, on: bool) {
        self.broker.set_algo_trading(&self.id, on);
    }

    fn algo_trading(&self) -> bool {
        self.broker.algo_trading(&self.id)
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    fn roll(&self, inner: &mut Inner) -> Fault {
        let f = self.opts.faults;
        if f.disconnect <= 0.0 && f.timeout <= 0.0 {
            return Fault::None;
        }
        let u: f64 = inner.rng.gen();
        if u < f.disconnect {
            Fault::Disconnect
        } else if u < f.disconnect + f.timeout {
            Fault::Timeout
        } else {
            Fault::None
        }
    }

    /// What the order dice decided for one `order_send` (rolled only when an order fault is set,
    /// so other seeded sequences do not change).
    fn roll_order(&self, inner: &mut Inner) -> OrderFault {
        let f = self.opts.faults;
        if f.order_answer_lost <= 0.0 && f.order_dropped <= 0.0 {
            return OrderFault::None;
        }
        let u: f64 = inner.rng.gen();
        if u < f.order_dropped {
            OrderFault::Dropped
        } else if u < f.order_dropped + f.order_answer_lost {
            OrderFault::AnswerLost
        } else {
            OrderFault::None
        }
    }

    /// The guard, the latency and the fault dice of one call; then `op` on the broker for the
    /// verified session. The terminal's lock is held throughout, so no login can slip in between.
    /// `op` is told the request number and whether the session is read-only.
    async fn call<R, F, Fut>(&self, at: &Expected, op: F) -> Result<R, TerminalError>
    where
        F: FnOnce(u64, bool) -> Fut + Send,
        Fut: std::future::Future<Output = Result<R, TerminalError>> + Send,
        R: Send,
    {
        self.call_kind(at, false, op).await
    }

    async fn call_kind<R, F, Fut>(
        &self,
        at: &Expected,
        order: bool,
        op: F,
    ) -> Result<R, TerminalError>
    where
        F: FnOnce(u64, bool) -> Fut + Send,
        Fut: std::future::Future<Output = Result<R, TerminalError>> + Send,
        R: Send,
    {
        let mut inner = self.inner.lock().await;
        if !at.matches(inner.login.as_ref()) {
            return Err(TerminalError::WrongAccount {
                expected: at.account.clone(),
                actual: inner.login.as_ref().map(|s| s.account.clone()),
            });
        }
        // Waiting for the terminal may have used the caller's budget: then nothing starts.
        if at.remaining().is_some_and(|r| r.is_zero()) {
            return Err(TerminalError::NotSent(
                "the call's deadline passed before it started".into(),
            ));
        }
        if !self.opts.call_latency.is_zero() {
            tokio::time::sleep(self.opts.call_latency).await;
        }
        let fault = self.roll(&mut inner);
        if fault == Fault::Disconnect {
            inner.login = None;
            return Err(TerminalError::no_ipc());
        }
        let order_fault = if order {
            self.roll_order(&mut inner)
        } else {
            OrderFault::None
        };
        if order_fault == OrderFault::Dropped {
            // Lost on the way to the server: nothing ran, and the caller cannot tell.
            return Err(TerminalError::Timeout);
        }
        inner.request_id += 1;
        let result = op(inner.request_id, inner.read_only).await;
        if fault == Fault::Timeout || order_fault == OrderFault::AnswerLost {
            // The server did its part; the answer never arrives.
            return Err(TerminalError::Timeout);
        }
        result
    }
}

#[async_trait]
impl Terminal for SimTerminal {
    fn id(&self) -> &str {
        &self.id
    }

    async fn login(
        &self,
        session: &Session,
        password: &SecretString,
        timeout: Duration,
    ) -> Result<AccountInfo, TerminalError> {
        let account = &session.account;
        let mut inner = self.inner.lock().await;
        // Switching starts by leaving the current session, whatever happens next.
        inner.login = None;
        inner.read_only = false;
        if self.opts.login_latency > timeout {
            tokio::time::sleep(timeout).await;
            return Err(TerminalError::Timeout);
        }
        if !self.opts.login_latency.is_zero() {
            tokio::time::sleep(self.opts.login_latency).await;
        }
        if self.opts.faults.login_fail > 0.0 && inner.rng.gen::<f64>() < self.opts.faults.login_fail
        {
            return Err(TerminalError::auth_failed());
        }
        let (info, access) = self
            .broker
            .authenticate(&self.id, account, password)
            .await?;
        inner.login = Some(session.clone());
        inner.read_only = access == Access::Investor;
        let mut info = info;
        self.opts.unknown_enums.account(&mut info);
        Ok(info)
    }

    async fn logout(&self) -> Result<(), TerminalError> {
        self.inner.lock().await.login = None;
        Ok(())
    }

    async fn current(&self) -> Result<Option<Session>, TerminalError> {
        Ok(self.inner.lock().await.login.clone())
    }

    async fn account_info(&self, at: &Expected) -> Result<AccountInfo, TerminalError> {
        self.call(at, |_, read_only| async move {
            let mut info = self.broker.account_info(&self.id, &at.account).await?;
            // An investor session sees the account as one it may not trade, as MT5 reports it.
            info.trade_allowed &= !read_only;
            self.opts.unknown_enums.account(&mut info);
            Ok(info)
        })
        .await
    }

    async fn symbols(
        &self,
        at: &Expected,
        group: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        let mut list = self
            .call(at, |_, _| self.broker.symbols(&self.id, &at.account, group))
            .await?;
        list.iter_mut()
            .for_each(|s| self.opts.unknown_enums.symbol(s));
        Ok(list)
    }

    async fn symbol_info(&self, at: &Expected, symbol: &str) -> Result<SymbolInfo, TerminalError> {
        let mut info = self
            .call(at, |_, _| {
                self.broker.symbol_info(&self.id, &at.account, symbol)
            })
            .await?;
        self.opts.unknown_enums.symbol(&mut info);
        Ok(info)
    }

    async fn symbol_info_tick(&self, at: &Expected, symbol: &str) -> Result<Tick, TerminalError> {
        self.call(at, |_, _| {
            self.broker.symbol_info_tick(&self.id, &at.account, symbol)
        })
        .await
    }

    async fn copy_rates(
        &self,
        at: &Expected,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
    ) -> Result<Vec<Rate>, TerminalError> {
        self.call(at, |_, _| {
            self.broker
                .copy_rates(&self.id, &at.account, symbol, timeframe, range)
        })
        .await
    }

    async fn positions(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradePosition>, TerminalError> {
        let mut list = self
            .call(at, |_, _| {
                self.broker.positions(&self.id, &at.account, filter)
            })
            .await?;
        list.iter_mut()
            .for_each(|p| self.opts.unknown_enums.position(p));
        Ok(list)
    }

    async fn orders(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        let mut list = self
            .call(at, |_, _| self.broker.orders(&self.id, &at.account, filter))
            .await?;
        list.iter_mut()
            .for_each(|o| self.opts.unknown_enums.order(o, false));
        Ok(list)
    }

    async fn order_calc_margin(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError> {
        self.call(at, |_, _| {
            self.broker
                .order_calc_margin(&self.id, &at.account, action, symbol, volume, price)
        })
        .await
    }

    async fn order_calc_profit(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError> {
        self.call(at, |_, _| {
            self.broker.order_calc_profit(
                &self.id,
                &at.account,
                action,
                symbol,
                volume,
                price_open,
                price_close,
            )
        })
        .await
    }

    async fn order_check(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderCheckResult, TerminalError> {
        self.call(at, |_, _| {
            self.broker.order_check(&self.id, &at.account, request)
        })
        .await
    }

    async fn order_send(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError> {
        let (broker, id, account) = (self.broker.clone(), self.id.clone(), at.account.clone());
        let order_latency = self.opts.order_latency;
        let request = request.clone();
        let algo_trading = self.algo_trading();
        self.call_kind(at, true, |request_id, read_only| async move {
            if !algo_trading {
                // The terminal refuses before anything leaves it.
                return Ok(OrderSendResult {
                    retcode: mt5::retcode::CLIENT_DISABLES_AT,
                    comment: "AutoTrading disabled by client".into(),
                    request_id,
                    ..Default::default()
                });
            }
            // A task of its own: once at the broker, the order runs to its end even if the
            // caller gives up waiting, as with a real terminal.
            let latency = order_latency;
            let sent = tokio::spawn(async move {
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                if read_only {
                    broker.refuse_read_only(&id, &account, &request).await
                } else {
                    broker.order_send(&id, &account, &request).await
                }
            });
            let mut r = sent
                .await
                .map_err(|e| TerminalError::Unavailable(format!("order task ended: {e}")))??;
            r.request_id = request_id;
            Ok(r)
        })
        .await
    }

    async fn history_deals(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, TerminalError> {
        let mut list = self
            .call(at, |_, _| {
                self.broker.history_deals(&self.id, &at.account, select)
            })
            .await?;
        list.iter_mut()
            .for_each(|d| self.opts.unknown_enums.deal(d));
        Ok(list)
    }

    async fn history_orders(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        let mut list = self
            .call(at, |_, _| {
                self.broker.history_orders(&self.id, &at.account, select)
            })
            .await?;
        list.iter_mut()
            .for_each(|o| self.opts.unknown_enums.order(o, true));
        Ok(list)
    }

    async fn terminal_flags(&self) -> Result<Option<mt5::TerminalFlags>, TerminalError> {
        Ok(Some(mt5::TerminalFlags {
            connected: true,
            trade_allowed: self.algo_trading(),
            tradeapi_disabled: false,
        }))
    }

    async fn server_time_offset_s(&self, _at: &Expected) -> Result<i64, TerminalError> {
        // The simulated server knows its own clock exactly; no call to the broker is needed.
        Ok(self.broker.server_time_offset_s())
    }
}
