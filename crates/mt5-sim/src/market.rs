//! The seam between the market (prices and symbol specifications) and the trade server.
//!
//! The trade engine reads quotes through [`Market`], so its rules can be tested on hand-picked
//! quotes (the MT5 documentation's examples) as well as on the simulated price feed.

use mt5::SymbolInfo;

/// One quote of a symbol at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub bid: f64,
    pub ask: f64,
    /// UTC milliseconds.
    pub time_msc: i64,
}

/// Which side of a conversion rate applies: MT5 converts profits and losses at different sides of
/// the rate, always the one less favourable to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Favour {
    /// Converting a profit: the client receives the lower amount.
    Profit,
    /// Converting a loss or a margin: the client pays the higher amount.
    Loss,
    /// The mid rate (for reporting).
    Mid,
}

/// A symbol as the simulated server knows it: the static part of MT5's SymbolInfo (quotes and tick
/// values are filled in per moment and per account currency) plus what drives its prices.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolSpec {
    /// Static contract specification; `bid`, `ask`, `time`, tick values are zero here.
    pub info: SymbolInfo,
    /// Price at the feed's origin, around which the simulated price wanders.
    pub base_price: f64,
    /// Annualised volatility of the log price (0.08 = 8 %).
    pub volatility: f64,
    /// Spread in points.
    pub spread_points: i32,
    /// Trading sessions as (weekday 0 = Sunday, start minute, end minute) in server time;
    /// empty = open around the clock.
    pub sessions: Vec<(u8, u32, u32)>,
}

/// Prices and symbols, as the trade server sees them. Times are UTC milliseconds.
pub trait Market: Send + Sync {
    fn symbols(&self) -> &[SymbolSpec];
    /// Case-sensitive, as MT5's symbol names are.
    fn spec(&self, symbol: &str) -> Option<&SymbolSpec> {
        self.symbols().iter().find(|s| s.info.name == symbol)
    }
    fn quote(&self, symbol: &str, utc_ms: i64) -> Option<Quote>;
    /// Whether the symbol's trading session is open at this moment.
    fn is_open(&self, symbol: &str, utc_ms: i64) -> bool;
    /// Converts an amount between currencies through the symbols' quotes (direct, inverse, or via
    /// USD), at the side given by `favour`. Same currency: the amount unchanged.
    fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64>;
}

// The clock is the service's as much as the simulator's: it lives in `mt5`.
pub use mt5::clock::{Clock, ManualClock, SystemClock};
