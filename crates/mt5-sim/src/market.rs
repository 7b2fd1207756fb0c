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

/// One price of a symbol a caller gives the engine (a backtest's bar path): UTC milliseconds,
/// bid and ask.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricePoint {
    pub time_ms: i64,
    pub bid: f64,
    pub ask: f64,
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

/// The symbol quoting `base` against `profit` (exact currency codes, as the price feed matches them).
fn quoting<'m>(symbols: &'m [SymbolSpec], base: &str, profit: &str) -> Option<&'m SymbolSpec> {
    symbols
        .iter()
        .find(|s| s.info.currency_base == base && s.info.currency_profit == profit)
}

/// One leg: through a symbol quoting `from` against `to` (multiply) or `to` against `from`
/// (divide), at the side `favour` asks for.
fn convert_leg(
    m: &dyn Market,
    amount: f64,
    from: &str,
    to: &str,
    utc_ms: i64,
    favour: Favour,
) -> Option<f64> {
    if let Some(s) = quoting(m.symbols(), from, to) {
        let q = m.quote(&s.info.name, utc_ms)?;
        // FROMTO quotes `to` per `from`: multiply; the client gets the bid on a profit.
        let rate = match favour {
            Favour::Profit => q.bid,
            Favour::Loss => q.ask,
            Favour::Mid => (q.bid + q.ask) / 2.0,
        };
        return Some(amount * rate);
    }
    let s = quoting(m.symbols(), to, from)?;
    let q = m.quote(&s.info.name, utc_ms)?;
    // TOFROM: divide; a profit divides by the higher (ask) side.
    let rate = match favour {
        Favour::Profit => q.ask,
        Favour::Loss => q.bid,
        Favour::Mid => (q.bid + q.ask) / 2.0,
    };
    (rate > 0.0).then(|| amount / rate)
}

/// Converts as the price feed does (direct, inverse, or through USD), reading the rates from
/// `m`'s own quotes: the conversion of any [`Market`] that keeps only quotes.
pub fn convert_by_quotes(
    m: &dyn Market,
    amount: f64,
    from: &str,
    to: &str,
    utc_ms: i64,
    favour: Favour,
) -> Option<f64> {
    if from == to {
        return Some(amount);
    }
    if let Some(v) = convert_leg(m, amount, from, to, utc_ms, favour) {
        return Some(v);
    }
    if from == "USD" || to == "USD" {
        return None;
    }
    let usd = convert_leg(m, amount, from, "USD", utc_ms, favour)?;
    convert_leg(m, usd, "USD", to, utc_ms, favour)
}

/// Why [`conversion_symbols`] has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    #[error("no symbol converts {from} to {to}")]
    NoPath { from: String, to: String },
}

/// The symbols whose quotes the engine reads to value `symbol`'s profit, margin and swap in
/// `account_currency`, besides `symbol` itself: none when a currency is the account's or the
/// symbol quotes it against the account currency (converted at the symbol's own price), else one
/// symbol (direct or inverse) or two (through USD), as [`convert_by_quotes`] and the price feed
/// convert. Sorted, without repeats. A backtest reads these symbols' history and sets their quotes
/// along with the traded symbol's.
pub fn conversion_symbols(
    symbols: &[SymbolSpec],
    symbol: &str,
    account_currency: &str,
) -> Result<Vec<String>, ConversionError> {
    let info = &symbols
        .iter()
        .find(|s| s.info.name == symbol)
        .ok_or_else(|| ConversionError::UnknownSymbol(symbol.to_string()))?
        .info;
    let margin = if info.currency_margin.is_empty() {
        &info.currency_base
    } else {
        &info.currency_margin
    };
    let mut currencies = vec![info.currency_profit.as_str(), margin.as_str()];
    if info.swap_mode == mt5::SymbolSwapMode::CurrencySymbol {
        currencies.push(info.currency_base.as_str());
    }
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let mut out: Vec<String> = Vec::new();
    for from in currencies {
        let to = account_currency;
        if from.is_empty() || same(from, to) {
            continue;
        }
        // The symbol's own price converts between its base and profit currencies.
        if (same(&info.currency_base, to) && same(&info.currency_profit, from))
            || (same(&info.currency_profit, to) && same(&info.currency_base, from))
        {
            continue;
        }
        let leg = |a: &str, b: &str| {
            quoting(symbols, a, b)
                .or_else(|| quoting(symbols, b, a))
                .map(|s| s.info.name.clone())
        };
        if let Some(s) = leg(from, to) {
            out.push(s);
            continue;
        }
        match (from != "USD" && to != "USD")
            .then(|| leg(from, "USD").zip(leg("USD", to)))
            .flatten()
        {
            Some((a, b)) => out.extend([a, b]),
            None => {
                return Err(ConversionError::NoPath {
                    from: from.to_string(),
                    to: to.to_string(),
                })
            }
        }
    }
    out.retain(|s| s != symbol);
    out.sort();
    out.dedup();
    Ok(out)
}

// The clock is the service's as much as the simulator's: it lives in `mt5`.
pub use mt5::clock::{Clock, ManualClock, SystemClock};
