//! The simulator's terminal with hooks, for tests that change how a terminal behaves: `before`
//! runs ahead of every call and may refuse it (a terminal that stopped answering), `symbols` and
//! `tick` may answer in the terminal's place. Every other call is the simulator's own.

use async_trait::async_trait;
use mt5::*;
use mt5_sim::terminal::SimTerminal;
use secrecy::SecretString;
use std::time::Duration;

#[async_trait]
pub trait Hooks: Send + Sync + 'static {
    fn before(&self) -> Result<(), TerminalError> {
        Ok(())
    }

    async fn symbols(
        &self,
        inner: &SimTerminal,
        at: &Expected,
        group: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        inner.symbols(at, group).await
    }

    async fn tick(
        &self,
        inner: &SimTerminal,
        at: &Expected,
        symbol: &str,
    ) -> Result<Tick, TerminalError> {
        inner.symbol_info_tick(at, symbol).await
    }
}

pub struct Hooked<H> {
    pub inner: SimTerminal,
    pub hooks: H,
}

#[async_trait]
impl<H: Hooks> Terminal for Hooked<H> {
    fn id(&self) -> &str {
        self.inner.id()
    }
    async fn login(
        &self,
        a: &Session,
        p: &SecretString,
        t: Duration,
    ) -> Result<AccountInfo, TerminalError> {
        self.hooks.before()?;
        self.inner.login(a, p, t).await
    }
    async fn logout(&self) -> Result<(), TerminalError> {
        self.hooks.before()?;
        self.inner.logout().await
    }
    async fn current(&self) -> Result<Option<Session>, TerminalError> {
        self.hooks.before()?;
        self.inner.current().await
    }
    async fn account_info(&self, at: &Expected) -> Result<AccountInfo, TerminalError> {
        self.hooks.before()?;
        self.inner.account_info(at).await
    }
    async fn symbols(
        &self,
        at: &Expected,
        g: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        self.hooks.before()?;
        self.hooks.symbols(&self.inner, at, g).await
    }
    async fn symbol_info(&self, at: &Expected, s: &str) -> Result<SymbolInfo, TerminalError> {
        self.hooks.before()?;
        self.inner.symbol_info(at, s).await
    }
    async fn symbol_info_tick(&self, at: &Expected, s: &str) -> Result<Tick, TerminalError> {
        self.hooks.before()?;
        self.hooks.tick(&self.inner, at, s).await
    }
    async fn copy_rates(
        &self,
        at: &Expected,
        s: &str,
        tf: Timeframe,
        r: RatesRange,
    ) -> Result<Vec<Rate>, TerminalError> {
        self.hooks.before()?;
        self.inner.copy_rates(at, s, tf, r).await
    }
    async fn positions(
        &self,
        at: &Expected,
        f: &PositionFilter,
    ) -> Result<Vec<TradePosition>, TerminalError> {
        self.hooks.before()?;
        self.inner.positions(at, f).await
    }
    async fn orders(
        &self,
        at: &Expected,
        f: &PositionFilter,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.hooks.before()?;
        self.inner.orders(at, f).await
    }
    async fn order_calc_margin(
        &self,
        at: &Expected,
        a: OrderType,
        s: &str,
        v: f64,
        p: f64,
    ) -> Result<f64, TerminalError> {
        self.hooks.before()?;
        self.inner.order_calc_margin(at, a, s, v, p).await
    }
    async fn order_calc_profit(
        &self,
        at: &Expected,
        a: OrderType,
        s: &str,
        v: f64,
        o: f64,
        c: f64,
    ) -> Result<f64, TerminalError> {
        self.hooks.before()?;
        self.inner.order_calc_profit(at, a, s, v, o, c).await
    }
    async fn order_check(
        &self,
        at: &Expected,
        r: &TradeRequest,
    ) -> Result<OrderCheckResult, TerminalError> {
        self.hooks.before()?;
        self.inner.order_check(at, r).await
    }
    async fn order_send(
        &self,
        at: &Expected,
        r: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError> {
        self.hooks.before()?;
        self.inner.order_send(at, r).await
    }
    async fn history_deals(
        &self,
        at: &Expected,
        s: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, TerminalError> {
        self.hooks.before()?;
        self.inner.history_deals(at, s).await
    }
    async fn history_orders(
        &self,
        at: &Expected,
        s: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.hooks.before()?;
        self.inner.history_orders(at, s).await
    }
}
