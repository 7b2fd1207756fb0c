//! The deterministic price feed: ticks, bars and quoted symbol info as a pure function of
//! (seed, symbol, time).
//!
//! Every process and every terminal computes the same price for the same moment, with nothing stored
//! or shared. The log price is a sum of octaves of smooth value noise, each octave a Catmull-Rom curve
//! through hashed lattice values, with periods from about a second to two years, four times apart,
//! and amplitudes proportional to `volatility · sqrt(period / year)`: the path looks like a random walk
//! at every scale yet stays near the symbol's base price (a `tanh` bound keeps it within −31 %/+45 %).
//! Prices move on a fixed tick grid of [`TICK_INTERVAL_MS`]; bars are computed on demand from the same
//! path, aligned on the trade server's clock.

use crate::market::{Favour, Market, Quote, SymbolSpec};
use mt5::util::normalize;
use mt5::{tick_flag, Mt5Enum, Rate, RatesRange, SymbolInfo, TerminalError, Tick, Timeframe};

/// Prices change on this grid of UTC milliseconds; a tick's time is the start of its grid cell.
pub const TICK_INTERVAL_MS: i64 = 250;
/// Bars of timeframes shorter than a day available back from the forming bar.
pub const MAX_BARS_INTRADAY: u32 = 10_000;
/// Bars of D1, W1 and MN1 available back from the forming bar.
pub const MAX_BARS_DAILY: u32 = 1_000;
/// Price samples per bar for its high and low, open and close included.
const SAMPLES_PER_BAR: i64 = 32;

const YEAR_MS: f64 = 365.0 * 86_400_000.0;
/// The longest octave's period: two years.
const TOP_PERIOD_MS: i64 = 2 * 365 * 86_400_000;
const OCTAVES: usize = 14;
/// Octaves up to this period get [`MICRO_BOOST`] times their random-walk amplitude.
const MICRO_PERIOD_MS: i64 = 16_000;
const MICRO_BOOST: f64 = 2.5;
/// Bound of the log deviation from the base price: exp(±0.372) = +45 % / −31 %.
const LOG_LIMIT: f64 = 0.372;
/// Times beyond ±3000 years are clamped so that no arithmetic can overflow.
const TIME_LIMIT_S: i64 = 95_000_000_000;
/// 1970-01-04, the first Sunday after the epoch: W1 bars open on Sundays.
const FIRST_SUNDAY_S: i64 = 3 * 86_400;
const WEEK_S: i64 = 7 * 86_400;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a fixed hash of a symbol name, the same in every process (unlike std's hasher).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A hash mapped to [-1, 1].
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
}

fn clamp_ms(ms: i64) -> i64 {
    ms.clamp(-TIME_LIMIT_S * 1000, TIME_LIMIT_S * 1000)
}

fn clamp_s(s: i64) -> i64 {
    s.clamp(-TIME_LIMIT_S, TIME_LIMIT_S)
}

#[derive(Debug, Clone)]
struct Octave {
    /// 1 / period in ms: multiplying is much cheaper than an integer division per octave.
    inv_period: f64,
    phase_ms: i64,
    amplitude: f64,
    key: u64,
}

impl Octave {
    fn lattice(&self, i: i64) -> f64 {
        unit(splitmix64(
            self.key.wrapping_add((i as u64).wrapping_mul(GOLDEN)),
        ))
    }
}

/// The random path of one symbol.
#[derive(Debug, Clone)]
struct PathModel {
    key: u64,
    ln_base: f64,
    octaves: Vec<Octave>,
}

impl PathModel {
    /// The price for a noise value: increasing in it, bounded around the base price.
    fn price_of(&self, noise: f64) -> f64 {
        (self.ln_base + LOG_LIMIT * (noise / LOG_LIMIT).tanh()).exp()
    }

    fn new(seed: u64, spec: &SymbolSpec) -> Self {
        let key = splitmix64(seed ^ splitmix64(fnv1a(&spec.info.name)));
        let octaves = (0..OCTAVES)
            .map(|k| {
                let period_ms = (TOP_PERIOD_MS >> (2 * (OCTAVES - 1 - k))).max(1);
                let okey = splitmix64(key ^ splitmix64(k as u64 + 1));
                // Seconds-scale octaves are louder, as real quotes are (bid/ask bounce): the bid moves
                // by a point or more from one second to the next most of the time.
                let micro = if period_ms <= MICRO_PERIOD_MS {
                    MICRO_BOOST
                } else {
                    1.0
                };
                Octave {
                    inv_period: 1.0 / period_ms as f64,
                    phase_ms: (splitmix64(okey) % period_ms as u64) as i64,
                    amplitude: micro
                        * spec.volatility.max(0.0)
                        * (period_ms as f64 / YEAR_MS).sqrt(),
                    key: okey,
                }
            })
            .collect();
        let base = if spec.base_price.is_finite() && spec.base_price > 0.0 {
            spec.base_price
        } else {
            1.0
        };
        PathModel {
            key,
            ln_base: base.ln(),
            octaves,
        }
    }
}

/// Evaluates a path, keeping each octave's four lattice values between calls: walking forward in
/// time (as bars do) mostly reuses them. The values are pure functions of the lattice index, so a
/// cached evaluation is bit-for-bit the uncached one.
struct Sampler<'a> {
    model: &'a PathModel,
    cells: Vec<(i64, [f64; 4])>,
}

impl<'a> Sampler<'a> {
    fn new(model: &'a PathModel) -> Self {
        Sampler {
            model,
            cells: vec![(i64::MIN, [0.0; 4]); model.octaves.len()],
        }
    }

    /// The path price at a UTC moment already on the tick grid.
    fn price(&mut self, grid_ms: i64) -> f64 {
        let x = self.noise(grid_ms);
        self.model.price_of(x)
    }

    /// The sum of the octaves at a moment on the tick grid; the price is increasing in it.
    fn noise(&mut self, grid_ms: i64) -> f64 {
        let mut x = 0.0;
        for (oct, cell) in self.model.octaves.iter().zip(self.cells.iter_mut()) {
            // Exact: |grid_ms + phase| < 2^53, so the only rounding is the product's.
            let pos = (grid_ms + oct.phase_ms) as f64 * oct.inv_period;
            // Truncate and correct rather than `floor()`, which is a library call on baseline x86-64.
            let mut i = pos as i64;
            if (i as f64) > pos {
                i -= 1;
            }
            let f = pos - i as f64;
            if cell.0 != i {
                if cell.0 != i64::MIN && cell.0.wrapping_add(1) == i {
                    let v = cell.1;
                    cell.1 = [v[1], v[2], v[3], oct.lattice(i + 2)];
                } else {
                    cell.1 = [
                        oct.lattice(i - 1),
                        oct.lattice(i),
                        oct.lattice(i + 1),
                        oct.lattice(i + 2),
                    ];
                }
                cell.0 = i;
            }
            let [p0, p1, p2, p3] = cell.1;
            let v = 0.5
                * (2.0 * p1
                    + (p2 - p0) * f
                    + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * f * f
                    + (3.0 * (p1 - p2) + p3 - p0) * f * f * f);
            x += oct.amplitude * v;
        }
        x
    }
}

/// The start of the tick-grid cell holding a UTC moment.
fn grid(utc_ms: i64) -> i64 {
    clamp_ms(utc_ms).div_euclid(TICK_INTERVAL_MS) * TICK_INTERVAL_MS
}

/// Bar boundaries of a timeframe on the server clock (seconds).
#[derive(Debug, Clone, Copy)]
enum BarGrid {
    Fixed { len: i64, shift: i64 },
    Month,
}

impl BarGrid {
    fn of(tf: Timeframe) -> BarGrid {
        match tf {
            Timeframe::W1 => BarGrid::Fixed {
                len: WEEK_S,
                shift: FIRST_SUNDAY_S,
            },
            Timeframe::MN1 => BarGrid::Month,
            other => BarGrid::Fixed {
                len: other.seconds().unwrap_or(60).max(1),
                shift: 0,
            },
        }
    }

    /// The index of the bar holding server second `s`.
    fn index_of(self, s: i64) -> i64 {
        let s = clamp_s(s);
        match self {
            BarGrid::Fixed { len, shift } => (s - shift).div_euclid(len),
            BarGrid::Month => {
                let (y, m, _) = civil_from_days(s.div_euclid(86_400));
                y * 12 + (m - 1)
            }
        }
    }

    /// Open time (server seconds) of bar `idx`.
    fn open(self, idx: i64) -> i64 {
        match self {
            BarGrid::Fixed { len, shift } => idx * len + shift,
            BarGrid::Month => {
                days_from_civil(idx.div_euclid(12), idx.rem_euclid(12) + 1, 1) * 86_400
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// How many bars back from the forming one (included) a timeframe's history reaches by default.
pub fn max_bars(timeframe: Timeframe) -> u32 {
    max_bars_of(timeframe, MAX_BARS_INTRADAY)
}

/// As [`max_bars`] with the terminal's "Max. bars in chart" at `intraday`: daily and longer
/// timeframes keep a tenth of it.
pub fn max_bars_of(timeframe: Timeframe, intraday: u32) -> u32 {
    match timeframe.seconds() {
        Some(s) if s < 86_400 => intraday,
        _ => (intraday / 10).max(1),
    }
}

/// The simulated market: prices of a fixed set of symbols as a function of seed and time.
#[derive(Debug, Clone)]
pub struct PriceFeed {
    seed: u64,
    symbols: Vec<SymbolSpec>,
    models: Vec<PathModel>,
    offset_s: i64,
    max_bars: u32,
}

impl PriceFeed {
    pub fn new(seed: u64, symbols: Vec<SymbolSpec>, server_time_offset_s: i64) -> Self {
        let models = symbols.iter().map(|s| PathModel::new(seed, s)).collect();
        PriceFeed {
            seed,
            symbols,
            models,
            offset_s: server_time_offset_s.clamp(-TIME_LIMIT_S, TIME_LIMIT_S),
            max_bars: MAX_BARS_INTRADAY,
        }
    }

    /// The same feed with history reaching `intraday` bars back (MT5_SIM_MAX_BARS).
    pub fn with_max_bars(mut self, intraday: u32) -> Self {
        self.max_bars = intraday.max(1);
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Server clock minus UTC, in seconds.
    pub fn server_time_offset_s(&self) -> i64 {
        self.offset_s
    }

    fn find(&self, symbol: &str) -> Option<(&SymbolSpec, &PathModel)> {
        self.symbols
            .iter()
            .zip(self.models.iter())
            .find(|(s, _)| s.info.name == symbol)
    }

    fn offset_ms(&self) -> i64 {
        self.offset_s * 1000
    }

    /// (bid, ask) normalized to the symbol's tick size and digits.
    fn bid_ask(spec: &SymbolSpec, price: f64) -> (f64, f64) {
        let bid = Self::bid_of(spec, price);
        let ask = normalize(
            bid + f64::from(spec.spread_points) * spec.info.point,
            spec.info.digits,
        );
        (bid, ask)
    }

    /// The bid for a path price, on the symbol's tick size and digits.
    fn bid_of(spec: &SymbolSpec, price: f64) -> f64 {
        let info = &spec.info;
        let tick = if info.trade_tick_size > 0.0 {
            info.trade_tick_size
        } else {
            10f64.powi(-(info.digits as i32))
        };
        normalize((price / tick).round() * tick, info.digits)
    }

    fn quote_of(spec: &SymbolSpec, sampler: &mut Sampler<'_>, utc_ms: i64) -> Quote {
        let at = grid(utc_ms);
        let (bid, ask) = Self::bid_ask(spec, sampler.price(at));
        Quote {
            bid,
            ask,
            time_msc: at,
        }
    }

    /// The last tick at a UTC moment: times on the server clock (UTC + offset), bid and ask
    /// normalized to digits, flags BID|ASK.
    pub fn tick(&self, symbol: &str, utc_ms: i64) -> Option<Tick> {
        let q = self.quote(symbol, utc_ms)?;
        let server_ms = q.time_msc + self.offset_ms();
        Some(Tick {
            time: server_ms.div_euclid(1000),
            bid: q.bid,
            ask: q.ask,
            last: 0.0,
            volume: 0,
            time_msc: server_ms,
            flags: tick_flag::BID | tick_flag::ASK,
            volume_real: 0.0,
        })
    }

    /// The first moment in `from_utc_ms..=to_utc_ms`, stepping by `step_ms`, at which `pred` holds
    /// for the symbol's quote. `None` if it never does, the symbol is unknown or `step_ms` ≤ 0.
    pub fn find_time(
        &self,
        symbol: &str,
        from_utc_ms: i64,
        to_utc_ms: i64,
        step_ms: i64,
        pred: impl Fn(&Quote) -> bool,
    ) -> Option<i64> {
        let (spec, model) = self.find(symbol)?;
        if step_ms <= 0 {
            return None;
        }
        let mut sampler = Sampler::new(model);
        let mut t = clamp_ms(from_utc_ms);
        let to = clamp_ms(to_utc_ms);
        while t <= to {
            if pred(&Self::quote_of(spec, &mut sampler, t)) {
                return Some(t);
            }
            t += step_ms;
        }
        None
    }

    /// The first moment in `from_utc_ms..=to_utc_ms` (stepping by `step_ms`) at which the bid is at
    /// or above `level` (`above`), or at or below it (`!above`). Tests use it to move a clock to the
    /// moment a stop loss, take profit or pending order triggers.
    pub fn first_cross(
        &self,
        symbol: &str,
        from_utc_ms: i64,
        to_utc_ms: i64,
        step_ms: i64,
        level: f64,
        above: bool,
    ) -> Option<i64> {
        self.find_time(symbol, from_utc_ms, to_utc_ms, step_ms, |q| {
            if above {
                q.bid >= level
            } else {
                q.bid <= level
            }
        })
    }

    /// Bars, oldest first, times on the server clock, boundaries aligned to the server clock (D1 at
    /// server midnight, W1 on Sunday 00:00, MN1 on the 1st). The forming bar is the last; its close
    /// is the bid at `now_utc_ms`.
    pub fn rates(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
        now_utc_ms: i64,
    ) -> Result<Vec<Rate>, TerminalError> {
        let (spec, model) = self.find(symbol).ok_or_else(TerminalError::not_found)?;
        let bars = BarGrid::of(timeframe);
        let now_server_ms = clamp_ms(now_utc_ms) + self.offset_ms();
        let current = bars.index_of(now_server_ms.div_euclid(1000));
        let oldest = current - i64::from(max_bars_of(timeframe, self.max_bars)) + 1;
        let (first, last) = match range {
            RatesRange::FromPos { start, count } => {
                if count == 0 {
                    return Err(TerminalError::invalid_argument("count"));
                }
                let last = current - i64::from(start);
                (last - i64::from(count) + 1, last)
            }
            RatesRange::From { date, count } => {
                if count == 0 {
                    return Err(TerminalError::invalid_argument("count"));
                }
                let last = bars.index_of(date).min(current);
                (last - i64::from(count) + 1, last)
            }
            RatesRange::Range { from, to } => {
                if from > to {
                    return Err(TerminalError::invalid_argument("date_to"));
                }
                let mut first = bars.index_of(from);
                if bars.open(first) < clamp_s(from) {
                    first += 1;
                }
                (first, bars.index_of(to).min(current))
            }
        };
        if last < oldest {
            return Err(TerminalError::call_failed());
        }
        let first = first.max(oldest);
        if first > last {
            return Ok(Vec::new());
        }

        let mut sampler = Sampler::new(model);
        let mut out = Vec::with_capacity((last - first + 1) as usize);
        let bar_key = splitmix64(model.key ^ (timeframe.code() as u64));
        for idx in first..=last {
            let open_s = bars.open(idx);
            let start_ms = open_s * 1000 - self.offset_ms();
            let end_ms = if idx == current {
                clamp_ms(now_utc_ms)
            } else {
                bars.open(idx + 1) * 1000 - self.offset_ms() - 1
            };
            // The bid is a non-decreasing function of the noise, so the extremes of the noise
            // give the bar's high and low: only four prices per bar are computed.
            let span = (end_ms - start_ms).max(0);
            let first_noise = sampler.noise(grid(start_ms));
            let (mut hi, mut lo, mut last_noise) = (first_noise, first_noise, first_noise);
            for j in 1..SAMPLES_PER_BAR {
                let t = start_ms + span * j / (SAMPLES_PER_BAR - 1);
                last_noise = sampler.noise(grid(t));
                hi = hi.max(last_noise);
                lo = lo.min(last_noise);
            }
            let bid = |x: f64| Self::bid_of(spec, model.price_of(x));
            let (open, close, high, low) = (bid(first_noise), bid(last_noise), bid(hi), bid(lo));
            // A few ticks per second, more or less busy from bar to bar.
            let rate_per_mille =
                300 + splitmix64(bar_key ^ (open_s as u64).wrapping_mul(GOLDEN)) % 1700;
            let tick_volume = ((span / 1000).max(0) as u64 * rate_per_mille / 1000).max(1);
            out.push(Rate {
                time: open_s,
                open,
                high,
                low,
                close,
                tick_volume,
                spread: spec.spread_points,
                real_volume: 0,
            });
        }
        Ok(out)
    }

    /// SymbolInfo at a moment for an account currency: the static specification with the current
    /// quote, the day's (server day) high, low and open, the previous day's close, and tick values in
    /// `account_currency` (profits converted at the side less favourable to the client, see
    /// [`Favour`]). Tick values are 0 when no conversion path exists.
    pub fn symbol_info(
        &self,
        symbol: &str,
        utc_ms: i64,
        account_currency: &str,
    ) -> Option<SymbolInfo> {
        let (spec, _) = self.find(symbol)?;
        let tick = self.tick(symbol, utc_ms)?;
        let mut info = spec.info.clone();
        info.time = tick.time;
        info.bid = tick.bid;
        info.ask = tick.ask;
        info.spread = spec.spread_points;
        let spread = f64::from(spec.spread_points) * info.point;
        let day = self
            .rates(
                symbol,
                Timeframe::D1,
                RatesRange::FromPos { start: 0, count: 2 },
                utc_ms,
            )
            .ok()
            .unwrap_or_default();
        if let Some(today) = day.last() {
            info.bidhigh = today.high;
            info.bidlow = today.low;
            info.askhigh = normalize(today.high + spread, info.digits);
            info.asklow = normalize(today.low + spread, info.digits);
            info.session_open = today.open;
        }
        if day.len() == 2 {
            let prev_close = day[0].close;
            info.session_close = prev_close;
            if prev_close > 0.0 {
                info.price_change = ((tick.bid - prev_close) / prev_close * 1e4).round() / 100.0;
            }
        }
        let per_tick = info.trade_tick_size * info.trade_contract_size;
        let profit_ccy = info.currency_profit.clone();
        let conv = |favour| {
            self.convert_at(per_tick, &profit_ccy, account_currency, utc_ms, favour)
                .unwrap_or(0.0)
        };
        info.trade_tick_value_profit = conv(Favour::Profit);
        info.trade_tick_value_loss = conv(Favour::Loss);
        info.trade_tick_value = info.trade_tick_value_profit;
        Some(info)
    }

    /// A one-leg conversion through a symbol quoting `from` against `to` or `to` against `from`.
    fn convert_direct(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        let quote_for = |base: &str, profit: &str| {
            self.symbols
                .iter()
                .find(|s| s.info.currency_base == base && s.info.currency_profit == profit)
                .and_then(|s| self.quote(&s.info.name, utc_ms))
        };
        if let Some(q) = quote_for(from, to) {
            // FROMTO quotes `to` per `from`: multiply; the client gets the bid on a profit.
            let rate = match favour {
                Favour::Profit => q.bid,
                Favour::Loss => q.ask,
                Favour::Mid => (q.bid + q.ask) / 2.0,
            };
            return Some(amount * rate);
        }
        if let Some(q) = quote_for(to, from) {
            // TOFROM: divide; a profit divides by the higher (ask) side.
            let rate = match favour {
                Favour::Profit => q.ask,
                Favour::Loss => q.bid,
                Favour::Mid => (q.bid + q.ask) / 2.0,
            };
            if rate > 0.0 {
                return Some(amount / rate);
            }
        }
        None
    }

    fn convert_at(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        if from == to {
            return Some(amount);
        }
        if let Some(v) = self.convert_direct(amount, from, to, utc_ms, favour) {
            return Some(v);
        }
        if from == "USD" || to == "USD" {
            return None;
        }
        let usd = self.convert_direct(amount, from, "USD", utc_ms, favour)?;
        self.convert_direct(usd, "USD", to, utc_ms, favour)
    }
}

impl Market for PriceFeed {
    fn symbols(&self) -> &[SymbolSpec] {
        &self.symbols
    }

    fn quote(&self, symbol: &str, utc_ms: i64) -> Option<Quote> {
        let (spec, model) = self.find(symbol)?;
        Some(Self::quote_of(spec, &mut Sampler::new(model), utc_ms))
    }

    fn is_open(&self, symbol: &str, utc_ms: i64) -> bool {
        let Some((spec, _)) = self.find(symbol) else {
            return false;
        };
        if spec.sessions.is_empty() {
            return true;
        }
        let server_s = (clamp_ms(utc_ms) + self.offset_ms()).div_euclid(1000);
        let days = server_s.div_euclid(86_400);
        // 1970-01-01 was a Thursday (weekday 4 with Sunday = 0).
        let weekday = (days + 4).rem_euclid(7) as u8;
        let minute = (server_s.rem_euclid(86_400) / 60) as u32;
        spec.sessions
            .iter()
            .any(|&(d, start, end)| d == weekday && start <= minute && minute < end)
    }

    fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        self.convert_at(amount, from, to, utc_ms, favour)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        for z in [-800_000, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
    }

    #[test]
    fn cached_and_fresh_evaluations_agree_bit_for_bit() {
        let spec = crate::symbols::builtin_symbol("EURUSD").unwrap();
        let model = PathModel::new(9, &spec);
        let mut walking = Sampler::new(&model);
        for k in 0..5_000i64 {
            let t = 1_700_000_000_000 + k * 997 * TICK_INTERVAL_MS;
            let a = walking.price(grid(t));
            let b = Sampler::new(&model).price(grid(t));
            assert_eq!(a.to_bits(), b.to_bits(), "at {t}");
        }
    }
}
