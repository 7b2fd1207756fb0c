//! Built-in trading strategies: pure functions from closed bars and open positions to intents.
//!
//! A strategy never talks to a terminal. The executor fetches [`Strategy::bars_needed`] bars, drops
//! the forming one, passes the strategy's open positions on the symbol, and turns the returned
//! [`Intent`]s into orders (sizing entries by risk, then the risk checks and the journal).
//! Parameters are validated against the same tables that [`Strategy::schema`] publishes, so the
//! schema and the checks cannot drift apart. All maths is on `f64` and a non-finite or degenerate
//! value yields no intent, never a panic.

use crate::error::FieldError;
use mt5::enums::Mt5Enum;
use mt5::util::{PriceGrid, Rounding};
use mt5::{PositionType, Rate, Timeframe, TradePosition};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// What a strategy wants done on its symbol.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Intent {
    /// Open a position. `sl` is an absolute price (from an ATR multiple); `tp` optional.
    Entry {
        side: PositionType,
        sl: f64,
        tp: Option<f64>,
        reason: String,
    },
    /// Close one of the strategy's open positions.
    Exit { ticket: u64, reason: String },
}

/// Validated parameters: the common ones plus the strategy's own, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub symbol: String,
    pub timeframe: Timeframe,
    /// Fraction of equity lost at the stop loss, in (0, 1].
    pub risk_per_trade: f64,
    pub max_positions: u32,
    pub atr_period: u32,
    pub atr_sl_multiplier: f64,
    /// Take profit at this multiple of the SL distance; `None` = no take profit.
    pub tp_rr: Option<f64>,
    pub specific: Specific,
}

/// The parameters only one strategy has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Specific {
    MaCrossover {
        fast_period: u32,
        slow_period: u32,
    },
    RsiReversion {
        rsi_period: u32,
        oversold: f64,
        overbought: f64,
    },
    DonchianBreakout {
        channel_period: u32,
        exit_period: u32,
    },
}

impl Params {
    /// Every parameter, defaults included, as a JSON object that [`Strategy::validate`] accepts
    /// back unchanged (what a run records).
    pub fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("symbol".into(), json!(self.symbol));
        obj.insert("timeframe".into(), json!(timeframe_name(self.timeframe)));
        obj.insert("risk_per_trade".into(), json!(self.risk_per_trade));
        obj.insert("max_positions".into(), json!(self.max_positions));
        obj.insert("atr_period".into(), json!(self.atr_period));
        obj.insert("atr_sl_multiplier".into(), json!(self.atr_sl_multiplier));
        obj.insert("tp_rr".into(), json!(self.tp_rr));
        match self.specific {
            Specific::MaCrossover {
                fast_period,
                slow_period,
            } => {
                obj.insert("fast_period".into(), json!(fast_period));
                obj.insert("slow_period".into(), json!(slow_period));
            }
            Specific::RsiReversion {
                rsi_period,
                oversold,
                overbought,
            } => {
                obj.insert("rsi_period".into(), json!(rsi_period));
                obj.insert("oversold".into(), json!(oversold));
                obj.insert("overbought".into(), json!(overbought));
            }
            Specific::DonchianBreakout {
                channel_period,
                exit_period,
            } => {
                obj.insert("channel_period".into(), json!(channel_period));
                obj.insert("exit_period".into(), json!(exit_period));
            }
        }
        Value::Object(obj)
    }
}

pub trait Strategy: Send + Sync {
    /// The registry key: `ma_crossover`, `rsi_reversion`, `donchian_breakout`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    /// Parameter schema (JSON Schema): each parameter with type, default, bounds, description.
    fn schema(&self) -> Value;
    /// Validates a parameters object. Unknown keys are errors; every field at fault is reported,
    /// named `parameters.<key>`.
    fn validate(&self, params: &Value) -> Result<Params, Vec<FieldError>>;
    /// Bars to fetch (oldest first), including a warm-up for Wilder-smoothed indicators.
    fn bars_needed(&self, p: &Params) -> u32;
    /// Intents from closed bars (the last element of `bars` is the last CLOSED bar), the
    /// strategy's open positions on the symbol, and the symbol's price grid (SL/TP are put on
    /// its tick size). Fewer bars than the indicators need → no intents.
    fn evaluate(
        &self,
        p: &Params,
        bars: &[Rate],
        positions: &[TradePosition],
        grid: PriceGrid,
    ) -> Vec<Intent>;
}

/// The built-in strategies, in the order they are listed.
pub fn builtin() -> Vec<Box<dyn Strategy>> {
    vec![
        Box::new(MaCrossover),
        Box::new(RsiReversion),
        Box::new(DonchianBreakout),
    ]
}

/// A built-in strategy by its name.
pub fn find(name: &str) -> Option<Box<dyn Strategy>> {
    builtin().into_iter().find(|s| s.name() == name)
}

// ---------------------------------------------------------------------------------------------
// Parameter tables: one description drives both the schema and the validation.

/// The longest symbol name accepted (as the trading endpoints do).
const SYMBOL_MAX: usize = 32;
/// Periods above this would ask the terminal for thousands of bars per evaluation.
const PERIOD_MAX: u32 = 500;
/// Wilder smoothing remembers its seed with weight (1 − 1/n)^k after k more bars; fetching
/// 5 × n extra bars brings that below e^−5 ≈ 0.7 %, so results barely depend on where history starts.
const WILDER_WARMUP: u64 = 5;

#[derive(Debug, Clone, Copy)]
struct IntParam {
    key: &'static str,
    default: u32,
    min: u32,
    max: u32,
    description: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Bound {
    value: f64,
    inclusive: bool,
}

#[derive(Debug, Clone, Copy)]
struct NumParam {
    key: &'static str,
    /// `None`: the parameter is optional and null/absent means "not used".
    default: Option<f64>,
    min: Bound,
    max: Bound,
    description: &'static str,
}

const fn incl(value: f64) -> Bound {
    Bound {
        value,
        inclusive: true,
    }
}

const fn excl(value: f64) -> Bound {
    Bound {
        value,
        inclusive: false,
    }
}

impl IntParam {
    fn schema(&self) -> Value {
        json!({
            "type": "integer", "default": self.default, "minimum": self.min, "maximum": self.max,
            "description": self.description,
        })
    }
}

impl NumParam {
    fn schema(&self) -> Value {
        let mut s = Map::new();
        match self.default {
            Some(d) => {
                s.insert("type".into(), json!("number"));
                s.insert("default".into(), json!(d));
            }
            None => {
                s.insert("type".into(), json!(["number", "null"]));
                s.insert("default".into(), Value::Null);
            }
        }
        let lo = if self.min.inclusive {
            "minimum"
        } else {
            "exclusiveMinimum"
        };
        s.insert(lo.into(), json!(self.min.value));
        let hi = if self.max.inclusive {
            "maximum"
        } else {
            "exclusiveMaximum"
        };
        s.insert(hi.into(), json!(self.max.value));
        s.insert("description".into(), json!(self.description));
        Value::Object(s)
    }

    fn accepts(&self, x: f64) -> bool {
        let above = if self.min.inclusive {
            x >= self.min.value
        } else {
            x > self.min.value
        };
        let below = if self.max.inclusive {
            x <= self.max.value
        } else {
            x < self.max.value
        };
        x.is_finite() && above && below
    }

    fn range_text(&self) -> String {
        format!(
            "{}{}, {}{}",
            if self.min.inclusive { "[" } else { "(" },
            self.min.value,
            self.max.value,
            if self.max.inclusive { "]" } else { ")" },
        )
    }
}

const RISK_PER_TRADE: NumParam = NumParam {
    key: "risk_per_trade",
    default: Some(0.01),
    min: excl(0.0),
    max: incl(1.0),
    description: "Fraction of equity lost if the stop loss is hit; sizes each entry.",
};
const MAX_POSITIONS: IntParam = IntParam {
    key: "max_positions",
    default: 1,
    min: 1,
    max: 100,
    description: "Most positions this strategy holds on the symbol at once.",
};
const ATR_PERIOD: IntParam = IntParam {
    key: "atr_period",
    default: 14,
    min: 1,
    max: PERIOD_MAX,
    description: "Bars of the Wilder ATR that sets the stop-loss distance.",
};
const ATR_SL_MULTIPLIER: NumParam = NumParam {
    key: "atr_sl_multiplier",
    default: Some(2.0),
    min: excl(0.0),
    max: incl(100.0),
    description: "Stop loss at this many ATRs from the last close.",
};
const TP_RR: NumParam = NumParam {
    key: "tp_rr",
    default: None,
    min: excl(0.0),
    max: incl(100.0),
    description: "Take profit at this multiple of the stop-loss distance; null = no take profit.",
};

const FAST_PERIOD: IntParam = IntParam {
    key: "fast_period",
    default: 10,
    min: 1,
    max: PERIOD_MAX - 1,
    description: "Bars of the fast simple moving average.",
};
const SLOW_PERIOD: IntParam = IntParam {
    key: "slow_period",
    default: 30,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the slow simple moving average; must be greater than fast_period.",
};
const RSI_PERIOD: IntParam = IntParam {
    key: "rsi_period",
    default: 14,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the Wilder RSI.",
};
const OVERSOLD: NumParam = NumParam {
    key: "oversold",
    default: Some(30.0),
    min: excl(0.0),
    max: excl(100.0),
    description: "Buy when the RSI crosses up through this level; must be below overbought.",
};
const OVERBOUGHT: NumParam = NumParam {
    key: "overbought",
    default: Some(70.0),
    min: excl(0.0),
    max: excl(100.0),
    description: "Sell when the RSI crosses down through this level; must be above oversold.",
};
const CHANNEL_PERIOD: IntParam = IntParam {
    key: "channel_period",
    default: 20,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the Donchian channel whose break opens a position.",
};
const EXIT_PERIOD: IntParam = IntParam {
    key: "exit_period",
    default: 10,
    min: 1,
    max: PERIOD_MAX - 1,
    description: "Bars of the opposite channel whose break closes a position; must be less than channel_period.",
};

fn timeframe_name(tf: Timeframe) -> String {
    tf.name().to_ascii_uppercase()
}

/// The JSON Schema of a strategy: the common parameters plus its own.
fn schema_with(ints: &[IntParam], nums: &[NumParam]) -> Value {
    let mut props = Map::new();
    props.insert(
        "symbol".into(),
        json!({
            "type": "string", "minLength": 1, "maxLength": SYMBOL_MAX,
            "description": "The symbol to trade, as the broker names it (e.g. EURUSD).",
        }),
    );
    let timeframes: Vec<String> = Timeframe::all()
        .iter()
        .map(|t| timeframe_name(*t))
        .collect();
    props.insert(
        "timeframe".into(),
        json!({
            "type": "string", "enum": timeframes, "default": "H1",
            "description": "Bar period the strategy reads (case-insensitive).",
        }),
    );
    for p in [RISK_PER_TRADE, ATR_SL_MULTIPLIER, TP_RR]
        .iter()
        .chain(nums)
    {
        props.insert(p.key.into(), p.schema());
    }
    for p in [MAX_POSITIONS, ATR_PERIOD].iter().chain(ints) {
        props.insert(p.key.into(), p.schema());
    }
    json!({
        "type": "object",
        "required": ["symbol"],
        "additionalProperties": false,
        "properties": props,
    })
}

/// The common parameters, validated.
struct Common {
    symbol: String,
    timeframe: Timeframe,
    risk_per_trade: f64,
    max_positions: u32,
    atr_period: u32,
    atr_sl_multiplier: f64,
    tp_rr: Option<f64>,
}

/// Reads a parameters object, collecting every error (named `parameters.<key>`) and the keys
/// it has looked at, so unknown keys can be reported at the end.
struct Reader<'a> {
    obj: Option<&'a Map<String, Value>>,
    seen: Vec<&'static str>,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    fn new(params: &'a Value) -> Result<Self, Vec<FieldError>> {
        let obj = match params {
            Value::Object(obj) => Some(obj),
            // No parameters at all reads as an empty object: the missing symbol is reported.
            Value::Null => None,
            _ => return Err(vec![FieldError::new("parameters", "must be a JSON object")]),
        };
        Ok(Reader {
            obj,
            seen: Vec::new(),
            errors: Vec::new(),
        })
    }

    fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(format!("parameters.{key}"), message));
    }

    /// The value under `key`; JSON null counts as absent.
    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.obj.and_then(|o| o.get(key)).filter(|v| !v.is_null())
    }

    fn symbol(&mut self) -> Option<String> {
        let msg = format!("must be a symbol name of 1 to {SYMBOL_MAX} characters");
        match self.get("symbol") {
            None => {
                self.error("symbol", "is required");
                None
            }
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty()
                    || t.chars().count() > SYMBOL_MAX
                    || t.chars().any(|c| c.is_control() || c.is_whitespace())
                {
                    self.error("symbol", msg);
                    None
                } else {
                    Some(t.to_string())
                }
            }
            Some(_) => {
                self.error("symbol", msg);
                None
            }
        }
    }

    fn timeframe(&mut self) -> Option<Timeframe> {
        match self.get("timeframe") {
            None => Some(Timeframe::H1),
            Some(v) => match v.as_str().and_then(Timeframe::from_name) {
                Some(tf) => Some(tf),
                None => {
                    let names: Vec<String> = Timeframe::all()
                        .iter()
                        .map(|t| timeframe_name(*t))
                        .collect();
                    self.error("timeframe", format!("must be one of: {}", names.join(", ")));
                    None
                }
            },
        }
    }

    fn int(&mut self, p: &IntParam) -> Option<u32> {
        match self.get(p.key) {
            None => Some(p.default),
            Some(v) => match v.as_u64() {
                Some(n) if n >= u64::from(p.min) && n <= u64::from(p.max) => u32::try_from(n).ok(),
                _ => {
                    self.error(
                        p.key,
                        format!("must be an integer from {} to {}", p.min, p.max),
                    );
                    None
                }
            },
        }
    }

    /// `Some(None)` is an optional number left out; `None` is an error.
    fn number(&mut self, p: &NumParam) -> Option<Option<f64>> {
        match self.get(p.key) {
            None => Some(p.default),
            Some(v) => match v.as_f64() {
                Some(x) if p.accepts(x) => Some(Some(x)),
                _ => {
                    self.error(p.key, format!("must be a number in {}", p.range_text()));
                    None
                }
            },
        }
    }

    /// A number that has a default, so it is never left out once valid.
    fn required_number(&mut self, p: &NumParam) -> Option<f64> {
        self.number(p).flatten()
    }

    fn common(&mut self) -> Option<Common> {
        let symbol = self.symbol();
        let timeframe = self.timeframe();
        let risk_per_trade = self.required_number(&RISK_PER_TRADE);
        let max_positions = self.int(&MAX_POSITIONS);
        let atr_period = self.int(&ATR_PERIOD);
        let atr_sl_multiplier = self.required_number(&ATR_SL_MULTIPLIER);
        let tp_rr = self.number(&TP_RR);
        Some(Common {
            symbol: symbol?,
            timeframe: timeframe?,
            risk_per_trade: risk_per_trade?,
            max_positions: max_positions?,
            atr_period: atr_period?,
            atr_sl_multiplier: atr_sl_multiplier?,
            tp_rr: tp_rr?,
        })
    }

    /// Reports unknown keys and returns the parameters if nothing was at fault.
    fn finish(
        mut self,
        common: Option<Common>,
        specific: Option<Specific>,
    ) -> Result<Params, Vec<FieldError>> {
        if let Some(obj) = self.obj {
            for key in obj.keys() {
                if !self.seen.contains(&key.as_str()) {
                    let k: String = key.chars().take(64).collect();
                    self.error(&k, "unknown parameter");
                }
            }
        }
        match (common, specific) {
            (Some(c), Some(specific)) if self.errors.is_empty() => Ok(Params {
                symbol: c.symbol,
                timeframe: c.timeframe,
                risk_per_trade: c.risk_per_trade,
                max_positions: c.max_positions,
                atr_period: c.atr_period,
                atr_sl_multiplier: c.atr_sl_multiplier,
                tp_rr: c.tp_rr,
                specific,
            }),
            _ => {
                if self.errors.is_empty() {
                    // Unreachable in practice: a missing value always comes with its error.
                    self.errors
                        .push(FieldError::new("parameters", "invalid parameters"));
                }
                Err(self.errors)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Indicators. Each returns None (or an empty series) when there are too few bars or the result
// is not finite, so callers never see NaN.

fn sma(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    m.is_finite().then_some(m)
}

/// Wilder's ATR over all `bars`: seeded with the mean of the first `n` true ranges, then
/// smoothed as ATR = (ATR × (n − 1) + TR) / n. Needs n + 1 bars.
fn wilder_atr(bars: &[Rate], n: usize) -> Option<f64> {
    if n == 0 || bars.len() < n + 1 {
        return None;
    }
    let tr = |pair: &[Rate]| -> f64 {
        let (prev, b) = (&pair[0], &pair[1]);
        // f64::max drops a NaN operand silently; poison the result instead.
        if !(b.high.is_finite() && b.low.is_finite() && prev.close.is_finite()) {
            return f64::NAN;
        }
        (b.high - b.low)
            .max((b.high - prev.close).abs())
            .max((b.low - prev.close).abs())
    };
    let mut trs = bars.windows(2).map(tr);
    let nf = n as f64;
    let mut atr = trs.by_ref().take(n).sum::<f64>() / nf;
    for t in trs {
        atr = (atr * (nf - 1.0) + t) / nf;
    }
    atr.is_finite().then_some(atr)
}

/// Wilder's RSI; element k is the RSI at bar n + k (empty with fewer than n + 1 closes).
/// A window with neither gains nor losses reads 50; with gains only, 100.
fn wilder_rsi(closes: &[f64], n: usize) -> Vec<f64> {
    // f64::max would turn a NaN change into 0 rather than refuse it.
    if n == 0 || closes.len() < n + 1 || !closes.iter().all(|c| c.is_finite()) {
        return Vec::new();
    }
    let nf = n as f64;
    let rsi = |gain: f64, loss: f64| -> f64 {
        if loss <= 0.0 {
            if gain <= 0.0 {
                50.0
            } else {
                100.0
            }
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        }
    };
    let changes: Vec<f64> = closes.windows(2).map(|w| w[1] - w[0]).collect();
    let (mut gain, mut loss) = changes[..n]
        .iter()
        .fold((0.0, 0.0), |(g, l), d| (g + d.max(0.0), l + (-d).max(0.0)));
    gain /= nf;
    loss /= nf;
    let mut out = Vec::with_capacity(changes.len() - n + 1);
    out.push(rsi(gain, loss));
    for d in &changes[n..] {
        gain = (gain * (nf - 1.0) + d.max(0.0)) / nf;
        loss = (loss * (nf - 1.0) + (-d).max(0.0)) / nf;
        out.push(rsi(gain, loss));
    }
    if out.iter().all(|x| x.is_finite()) {
        out
    } else {
        Vec::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared signal plumbing.

/// Every price of every bar is a finite number (a NaN must never reach a comparison).
fn finite(bars: &[Rate]) -> bool {
    bars.iter().all(|b| {
        b.open.is_finite() && b.high.is_finite() && b.low.is_finite() && b.close.is_finite()
    })
}

fn closes(bars: &[Rate]) -> Vec<f64> {
    bars.iter().map(|b| b.close).collect()
}

/// Bars a Wilder indicator of period `n` should be fed: its minimum plus the warm-up.
fn wilder_bars(n: u32, minimum: u64) -> u64 {
    minimum + WILDER_WARMUP * u64::from(n)
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// An entry at the last close with its ATR stop and optional take profit, on the symbol's tick
/// grid; None when the ATR is unusable or the levels are not on the right side of the price.
///
/// The SL is rounded AWAY from the price (down for a buy, up for a sell): the stop is never
/// tighter than the ATR distance the strategy asked for, and a coarse tick (5 index points, say)
/// cannot pull it onto the entry or inside the broker's stops level. That does not raise the money
/// at risk: the executor sizes the volume from the rounded SL, so a wider stop means fewer lots.
/// The TP does not change the risk and goes to the nearest tick, which keeps the reward-to-risk
/// ratio closest to `tp_rr`.
fn entry(
    p: &Params,
    side: PositionType,
    bars: &[Rate],
    grid: PriceGrid,
    reason: String,
) -> Option<Intent> {
    let price = bars.last()?.close;
    let atr = wilder_atr(bars, p.atr_period as usize)?;
    let dist = p.atr_sl_multiplier * atr;
    if !(price.is_finite() && price > 0.0 && dist.is_finite() && dist > 0.0) {
        return None;
    }
    let sign = side.sign()?;
    let away = if sign > 0.0 {
        Rounding::Down
    } else {
        Rounding::Up
    };
    let sl = grid.round(price - sign * dist, away)?;
    // The SL must stay a positive price strictly on the losing side after rounding.
    if !(sl > 0.0 && (price - sl) * sign > 0.0) {
        return None;
    }
    let tp = match p.tp_rr {
        Some(rr) => {
            let tp = grid.round(price + sign * rr * dist, Rounding::Nearest)?;
            if !(tp.is_finite() && tp > 0.0 && (tp - price) * sign > 0.0) {
                return None;
            }
            Some(tp)
        }
        None => None,
    };
    let reason = format!(
        "{reason}; SL {:.prec$} = close {:.prec$} {} {} × ATR({}) {:.prec$}",
        sl,
        price,
        if sign > 0.0 { "−" } else { "+" },
        p.atr_sl_multiplier,
        p.atr_period,
        atr,
        prec = grid.digits() as usize,
    );
    Some(Intent::Entry {
        side,
        sl,
        tp,
        reason,
    })
}

/// Exits for every position that `close_it` selects, then the entry (if a signal fired) while
/// the positions left open number fewer than `max_positions`. Positions closed by this same
/// evaluation do not count, so a reversal (exit short, enter long) happens on one bar.
fn assemble(
    p: &Params,
    bars: &[Rate],
    positions: &[TradePosition],
    grid: PriceGrid,
    close_it: impl Fn(&TradePosition) -> Option<String>,
    signal: Option<(PositionType, String)>,
) -> Vec<Intent> {
    let mut out: Vec<Intent> = positions
        .iter()
        .filter_map(|pos| {
            close_it(pos).map(|reason| Intent::Exit {
                ticket: pos.ticket,
                reason,
            })
        })
        .collect();
    let remaining = positions.len().saturating_sub(out.len());
    if let Some((side, reason)) = signal {
        if remaining < p.max_positions as usize {
            if let Some(e) = entry(p, side, bars, grid, reason) {
                out.push(e);
            }
        }
    }
    out
}

/// Tolerance for "equal" moving averages: float noise must not read as a cross.
fn noise(scale: f64) -> f64 {
    scale.abs() * 1e-10
}

// ---------------------------------------------------------------------------------------------
// The strategies.

/// Moving-average crossover: trend following on two simple moving averages.
pub struct MaCrossover;

impl Strategy for MaCrossover {
    fn name(&self) -> &'static str {
        "ma_crossover"
    }

    fn description(&self) -> &'static str {
        "Buys when the fast simple moving average crosses above the slow one on the last closed \
         bar, sells on the opposite cross; a cross also closes positions of the other side."
    }

    fn schema(&self) -> Value {
        schema_with(&[FAST_PERIOD, SLOW_PERIOD], &[])
    }

    fn validate(&self, params: &Value) -> Result<Params, Vec<FieldError>> {
        let mut r = Reader::new(params)?;
        let common = r.common();
        let fast = r.int(&FAST_PERIOD);
        let slow = r.int(&SLOW_PERIOD);
        if let (Some(f), Some(s)) = (fast, slow) {
            if s <= f {
                r.error(SLOW_PERIOD.key, "must be greater than fast_period");
            }
        }
        let specific = fast
            .zip(slow)
            .map(|(fast_period, slow_period)| Specific::MaCrossover {
                fast_period,
                slow_period,
            });
        r.finish(common, specific)
    }

    fn bars_needed(&self, p: &Params) -> u32 {
        let own = match p.specific {
            Specific::MaCrossover { slow_period, .. } => u64::from(slow_period) + 1,
            _ => 0,
        };
        to_u32(own.max(wilder_bars(p.atr_period, u64::from(p.atr_period) + 1)))
    }

    fn evaluate(
        &self,
        p: &Params,
        bars: &[Rate],
        positions: &[TradePosition],
        grid: PriceGrid,
    ) -> Vec<Intent> {
        let Specific::MaCrossover {
            fast_period,
            slow_period,
        } = p.specific
        else {
            return Vec::new();
        };
        let (fast, slow) = (fast_period as usize, slow_period as usize);
        let n = bars.len();
        if !finite(bars) {
            return Vec::new();
        }
        // The previous bar's slow average needs slow + 1 bars; the ATR needs atr_period + 1.
        if fast == 0 || slow <= fast || n < slow + 1 || n < p.atr_period as usize + 1 {
            return Vec::new();
        }
        let c = closes(bars);
        let (Some(fast_last), Some(slow_last), Some(fast_prev), Some(slow_prev)) = (
            sma(&c[n - fast..]),
            sma(&c[n - slow..]),
            sma(&c[n - 1 - fast..n - 1]),
            sma(&c[n - 1 - slow..n - 1]),
        ) else {
            return Vec::new();
        };
        let eps = noise(slow_last);
        let (d_prev, d_last) = (fast_prev - slow_prev, fast_last - slow_last);
        let signal = if d_prev <= eps && d_last > eps {
            Some(PositionType::Buy)
        } else if d_prev >= -eps && d_last < -eps {
            Some(PositionType::Sell)
        } else {
            None
        };
        let Some(side) = signal else {
            return Vec::new();
        };
        let prec = grid.digits() as usize;
        let what = format!(
            "SMA({fast}) {fast_last:.prec$} crossed {} SMA({slow}) {slow_last:.prec$}",
            if side == PositionType::Buy {
                "above"
            } else {
                "below"
            },
        );
        let exit_reason = format!(
            "{what}: closing the {} position",
            if side == PositionType::Buy {
                "short"
            } else {
                "long"
            }
        );
        assemble(
            p,
            bars,
            positions,
            grid,
            // A position whose type the service does not know is never the other side.
            |pos| (side.opposite() == Some(pos.r#type)).then(|| exit_reason.clone()),
            Some((side, what)),
        )
    }
}

/// RSI mean reversion: buys out of oversold, sells out of overbought, exits at the midline.
pub struct RsiReversion;

impl Strategy for RsiReversion {
    fn name(&self) -> &'static str {
        "rsi_reversion"
    }

    fn description(&self) -> &'static str {
        "Buys when the Wilder RSI crosses up through the oversold level, sells when it crosses \
         down through the overbought level; closes longs at RSI ≥ 50 and shorts at RSI ≤ 50."
    }

    fn schema(&self) -> Value {
        schema_with(&[RSI_PERIOD], &[OVERSOLD, OVERBOUGHT])
    }

    fn validate(&self, params: &Value) -> Result<Params, Vec<FieldError>> {
        let mut r = Reader::new(params)?;
        let common = r.common();
        let period = r.int(&RSI_PERIOD);
        let oversold = r.required_number(&OVERSOLD);
        let overbought = r.required_number(&OVERBOUGHT);
        if let (Some(lo), Some(hi)) = (oversold, overbought) {
            if lo >= hi {
                r.error(OVERSOLD.key, "must be less than overbought");
            }
        }
        let specific = match (period, oversold, overbought) {
            (Some(rsi_period), Some(oversold), Some(overbought)) => Some(Specific::RsiReversion {
                rsi_period,
                oversold,
                overbought,
            }),
            _ => None,
        };
        r.finish(common, specific)
    }

    fn bars_needed(&self, p: &Params) -> u32 {
        let own = match p.specific {
            Specific::RsiReversion { rsi_period, .. } => {
                wilder_bars(rsi_period, u64::from(rsi_period) + 2)
            }
            _ => 0,
        };
        to_u32(own.max(wilder_bars(p.atr_period, u64::from(p.atr_period) + 1)))
    }

    fn evaluate(
        &self,
        p: &Params,
        bars: &[Rate],
        positions: &[TradePosition],
        grid: PriceGrid,
    ) -> Vec<Intent> {
        let Specific::RsiReversion {
            rsi_period,
            oversold,
            overbought,
        } = p.specific
        else {
            return Vec::new();
        };
        let period = rsi_period as usize;
        if !finite(bars) {
            return Vec::new();
        }
        // RSI on the last two bars needs period + 2 closes.
        if bars.len() < period + 2 || bars.len() < p.atr_period as usize + 1 {
            return Vec::new();
        }
        let rsi = wilder_rsi(&closes(bars), period);
        let (Some(&last), Some(&prev)) = (
            rsi.last(),
            rsi.len().checked_sub(2).and_then(|i| rsi.get(i)),
        ) else {
            return Vec::new();
        };
        let signal = if prev < oversold && oversold <= last {
            Some((
                PositionType::Buy,
                format!("RSI({period}) crossed up through {oversold}: {prev:.2} → {last:.2}"),
            ))
        } else if prev > overbought && overbought >= last {
            Some((
                PositionType::Sell,
                format!("RSI({period}) crossed down through {overbought}: {prev:.2} → {last:.2}"),
            ))
        } else {
            None
        };
        assemble(
            p,
            bars,
            positions,
            grid,
            |pos| match pos.r#type {
                PositionType::Buy if last >= 50.0 => Some(format!(
                    "RSI({period}) {last:.2} ≥ 50: closing the long position"
                )),
                PositionType::Sell if last <= 50.0 => Some(format!(
                    "RSI({period}) {last:.2} ≤ 50: closing the short position"
                )),
                _ => None,
            },
            signal,
        )
    }
}

/// Donchian channel breakout: trend following on new highs and lows.
pub struct DonchianBreakout;

impl Strategy for DonchianBreakout {
    fn name(&self) -> &'static str {
        "donchian_breakout"
    }

    fn description(&self) -> &'static str {
        "Buys when the last close breaks above the highest high of the previous channel_period \
         bars, sells below the lowest low; closes longs below the lowest low of the previous \
         exit_period bars and shorts above their highest high."
    }

    fn schema(&self) -> Value {
        schema_with(&[CHANNEL_PERIOD, EXIT_PERIOD], &[])
    }

    fn validate(&self, params: &Value) -> Result<Params, Vec<FieldError>> {
        let mut r = Reader::new(params)?;
        let common = r.common();
        let channel = r.int(&CHANNEL_PERIOD);
        let exit = r.int(&EXIT_PERIOD);
        if let (Some(c), Some(e)) = (channel, exit) {
            if e >= c {
                r.error(EXIT_PERIOD.key, "must be less than channel_period");
            }
        }
        let specific =
            channel
                .zip(exit)
                .map(|(channel_period, exit_period)| Specific::DonchianBreakout {
                    channel_period,
                    exit_period,
                });
        r.finish(common, specific)
    }

    fn bars_needed(&self, p: &Params) -> u32 {
        let own = match p.specific {
            Specific::DonchianBreakout { channel_period, .. } => u64::from(channel_period) + 1,
            _ => 0,
        };
        to_u32(own.max(wilder_bars(p.atr_period, u64::from(p.atr_period) + 1)))
    }

    fn evaluate(
        &self,
        p: &Params,
        bars: &[Rate],
        positions: &[TradePosition],
        grid: PriceGrid,
    ) -> Vec<Intent> {
        let Specific::DonchianBreakout {
            channel_period,
            exit_period,
        } = p.specific
        else {
            return Vec::new();
        };
        let (channel, exit) = (channel_period as usize, exit_period as usize);
        let n = bars.len();
        if !finite(bars) {
            return Vec::new();
        }
        if channel == 0 || exit == 0 || n < channel.max(exit) + 1 || n < p.atr_period as usize + 1 {
            return Vec::new();
        }
        let Some(last) = bars.last() else {
            return Vec::new();
        };
        let close = last.close;
        let highest = |k: usize| {
            bars[n - 1 - k..n - 1]
                .iter()
                .map(|b| b.high)
                .fold(f64::NEG_INFINITY, f64::max)
        };
        let lowest = |k: usize| {
            bars[n - 1 - k..n - 1]
                .iter()
                .map(|b| b.low)
                .fold(f64::INFINITY, f64::min)
        };
        let (hh, ll) = (highest(channel), lowest(channel));
        let (exit_hh, exit_ll) = (highest(exit), lowest(exit));
        if !(close.is_finite() && hh.is_finite() && ll.is_finite()) {
            return Vec::new();
        }
        let prec = grid.digits() as usize;
        let signal = if close > hh {
            Some((
                PositionType::Buy,
                format!("close {close:.prec$} broke above the {channel}-bar high {hh:.prec$}"),
            ))
        } else if close < ll {
            Some((
                PositionType::Sell,
                format!("close {close:.prec$} broke below the {channel}-bar low {ll:.prec$}"),
            ))
        } else {
            None
        };
        assemble(
            p,
            bars,
            positions,
            grid,
            |pos| {
                match pos.r#type {
                PositionType::Buy if close < exit_ll => Some(format!(
                    "close {close:.prec$} fell below the {exit}-bar low {exit_ll:.prec$}: closing the long position"
                )),
                PositionType::Sell if close > exit_hh => Some(format!(
                    "close {close:.prec$} rose above the {exit}-bar high {exit_hh:.prec$}: closing the short position"
                )),
                _ => None,
            }
            },
            signal,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(digits: u32) -> PriceGrid {
        PriceGrid::of_digits(digits)
    }

    /// Bars with the given closes and a fixed half-range, so every true range is 2 × `half`
    /// while consecutive closes move by at most `half` (the ATR is then exactly 2 × `half`).
    fn bars(closes: &[f64], half: f64) -> Vec<Rate> {
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Rate {
                time: 1_700_000_000 + 3600 * i as i64,
                open: c,
                high: c + half,
                low: c - half,
                close: c,
                tick_volume: 100,
                ..Rate::default()
            })
            .collect()
    }

    fn position(ticket: u64, side: PositionType) -> TradePosition {
        TradePosition {
            ticket,
            r#type: side,
            symbol: "EURUSD".into(),
            volume: 0.1,
            ..TradePosition::default()
        }
    }

    fn params(s: &dyn Strategy, v: Value) -> Params {
        match s.validate(&v) {
            Ok(p) => p,
            Err(e) => panic!("{v} refused: {e:?}"),
        }
    }

    fn errors(s: &dyn Strategy, v: Value) -> Vec<(String, String)> {
        match s.validate(&v) {
            Ok(p) => panic!("{v} accepted: {p:?}"),
            Err(e) => e.into_iter().map(|f| (f.field, f.message)).collect(),
        }
    }

    fn fields(s: &dyn Strategy, v: Value) -> Vec<String> {
        let mut f: Vec<String> = errors(s, v).into_iter().map(|(f, _)| f).collect();
        f.sort();
        f
    }

    /// (side, sl, tp) of the only entry among the intents.
    fn the_entry(intents: &[Intent]) -> (PositionType, f64, Option<f64>) {
        let entries: Vec<_> = intents
            .iter()
            .filter_map(|i| match i {
                Intent::Entry { side, sl, tp, .. } => Some((*side, *sl, *tp)),
                Intent::Exit { .. } => None,
            })
            .collect();
        assert_eq!(entries.len(), 1, "{intents:?}");
        entries[0]
    }

    fn exits(intents: &[Intent]) -> Vec<u64> {
        intents
            .iter()
            .filter_map(|i| match i {
                Intent::Exit { ticket, .. } => Some(*ticket),
                Intent::Entry { .. } => None,
            })
            .collect()
    }

    fn ma(extra: Value) -> Params {
        let mut v = json!({"symbol": "EURUSD", "fast_period": 2, "slow_period": 4,
            "atr_period": 3, "atr_sl_multiplier": 2.0, "tp_rr": 2.0});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&MaCrossover, v)
    }

    // Fast SMA(2) 9.75 ≤ slow SMA(4) 9.875 on the previous bar, 10.25 > 10.125 on the last.
    const CROSS_UP: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0, 99.5, 101.0];
    const CROSS_DOWN: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0, 100.5, 99.0];

    #[test]
    fn registry() {
        let names: Vec<&str> = builtin().iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            vec!["ma_crossover", "rsi_reversion", "donchian_breakout"]
        );
        assert_eq!(
            find("rsi_reversion").map(|s| s.name()),
            Some("rsi_reversion")
        );
        assert!(find("RSI_REVERSION").is_none());
        assert!(find("martingale").is_none());
    }

    #[test]
    fn indicators_by_hand() {
        // Changes −1, −1, −1: RSI 0; then +1: gain 1/3, loss 2/3, RS 0.5, RSI 33.33.
        let rsi = wilder_rsi(&[100.0, 99.0, 98.0, 97.0, 98.0], 3);
        assert_eq!(rsi.len(), 2);
        assert_eq!(rsi[0], 0.0);
        assert!((rsi[1] - 100.0 / 3.0).abs() < 1e-9, "{rsi:?}");
        // Gain 5/9, loss 4/9 after one more up bar: RSI 100 − 100 / 2.25 = 55.56.
        let rsi = wilder_rsi(&[100.0, 99.0, 98.0, 99.0, 100.0], 3);
        assert!((rsi[1] - (100.0 - 100.0 / 2.25)).abs() < 1e-9, "{rsi:?}");
        assert_eq!(wilder_rsi(&[5.0; 6], 3), vec![50.0; 3]);
        assert!(wilder_rsi(&[1.0, 2.0, 3.0], 3).is_empty());
        // TRs 2, 2, 2 then 4 (a gap above the previous close): seed 2, then (2 × 2 + 4) / 3.
        let b = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        let atr = wilder_atr(&b, 3).unwrap_or(f64::NAN);
        assert!((atr - 8.0 / 3.0).abs() < 1e-12, "{atr}");
        assert_eq!(wilder_atr(&b[..3], 3), None);
        assert_eq!(wilder_atr(&b, 0), None);
        assert_eq!(sma(&[]), None);
        assert_eq!(sma(&[1.0, 2.0, 6.0]), Some(3.0));
    }

    #[test]
    fn ma_crossover_long_and_short_with_hand_sl_tp() {
        let p = ma(json!({}));
        // ATR(3) = 4 (every true range is 4): SL = 101 − 2 × 4 = 93, TP = 101 + 2 × 8 = 117.
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_UP, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, Some(117.0)));
        let Intent::Entry { reason, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert!(reason.contains("crossed above"), "{reason}");
        // SL = 99 + 8 = 107, TP = 99 − 16 = 83.
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_DOWN, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 107.0, Some(83.0)));
        // Without tp_rr there is no take profit.
        let p = ma(json!({"tp_rr": null}));
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_UP, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, None));
    }

    #[test]
    fn sl_rounds_away_from_the_price_and_tp_to_the_nearest_tick() {
        // fast SMA(2) 1.09985 < slow SMA(5) 1.09994, then 1.10005 > 1.10002.
        let closes = [1.1, 1.1, 1.1, 1.1, 1.1, 1.0997, 1.1004];
        let p = ma(json!({"slow_period": 5, "atr_sl_multiplier": 1.33, "tp_rr": 1.5}));
        // ATR = 0.0014; SL distance 1.33 × 0.0014 = 0.001862 → 1.1004 − 0.001862 = 1.098538 →
        // down to 1.09853; TP 1.1004 + 1.5 × 0.001862 = 1.103193 → nearest 1.10319.
        let out = MaCrossover.evaluate(&p, &bars(&closes, 0.0007), &[], grid(5));
        assert_eq!(the_entry(&out), (PositionType::Buy, 1.09853, Some(1.10319)));
        // Three digits: 1.098 and 1.103.
        let out = MaCrossover.evaluate(&p, &bars(&closes, 0.0007), &[], grid(3));
        assert_eq!(the_entry(&out), (PositionType::Buy, 1.098, Some(1.103)));
        // On a 0.25 tick a sell's SL goes up: 99 + 7.9 = 106.9 → 107.0; TP 91.1 → 91.0.
        let index = mt5::SymbolInfo {
            digits: 2,
            point: 0.01,
            trade_tick_size: 0.25,
            ..mt5::SymbolInfo::default()
        };
        let quarter = PriceGrid::of(&index);
        let q = ma(json!({"atr_sl_multiplier": 1.975, "tp_rr": 1.0}));
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_DOWN, 2.0), &[], quarter);
        assert_eq!(the_entry(&out), (PositionType::Sell, 107.0, Some(91.0)));
        // A buy on a 0.25 tick: SL 101 − 7.9 = 93.1 → 93.0, TP 101 + 7.9 = 108.9 → 109.0.
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_UP, 2.0), &[], quarter);
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, Some(109.0)));
        // A tick of 5 on a symbol without decimals: 101 − 7.9 = 93.1 → 90, TP 108.9 → 110.
        let nikkei = mt5::SymbolInfo {
            digits: 0,
            point: 1.0,
            trade_tick_size: 5.0,
            ..mt5::SymbolInfo::default()
        };
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_UP, 2.0), &[], PriceGrid::of(&nikkei));
        assert_eq!(the_entry(&out), (PositionType::Buy, 90.0, Some(110.0)));
        for i in &out {
            if let Intent::Entry { sl, tp, .. } = i {
                assert!(PriceGrid::of(&nikkei).ticks(*sl).is_some(), "{sl}");
                assert!(tp.and_then(|t| PriceGrid::of(&nikkei).ticks(t)).is_some());
            }
        }
    }

    #[test]
    fn ma_crossover_quiet_series_give_nothing() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        let flat = bars(&[1.1; 100], 0.001);
        assert!(MaCrossover.evaluate(&p, &flat, &[], grid(5)).is_empty());
        // A steady trend keeps fast above (or below) slow: no cross, however long.
        let up: Vec<f64> = (0..100).map(|i| 1.0 + 0.001 * i as f64).collect();
        let down: Vec<f64> = up.iter().rev().copied().collect();
        let shorts = [position(1, PositionType::Sell)];
        assert!(MaCrossover
            .evaluate(&p, &bars(&up, 0.002), &shorts, grid(5))
            .is_empty());
        assert!(MaCrossover
            .evaluate(&p, &bars(&down, 0.002), &[], grid(5))
            .is_empty());
        // Too few bars: the crossing series cut to 4 bars (slow 4 needs 5), and an ATR of 14.
        let q = ma(json!({}));
        let b = bars(&CROSS_UP, 2.0);
        assert!(MaCrossover.evaluate(&q, &b[3..], &[], grid(2)).is_empty());
        assert!(MaCrossover.evaluate(&q, &[], &[], grid(2)).is_empty());
        let q = ma(json!({"atr_period": 14}));
        assert!(MaCrossover.evaluate(&q, &b, &[], grid(2)).is_empty());
        // A NaN close anywhere in the windows: nothing, no panic.
        let mut nan = CROSS_UP;
        nan[5] = f64::NAN;
        assert!(MaCrossover
            .evaluate(&ma(json!({})), &bars(&nan, 2.0), &[], grid(2))
            .is_empty());
    }

    #[test]
    fn ma_crossover_exits_the_opposite_side() {
        let b = bars(&CROSS_UP, 2.0);
        // A short is closed and, with nothing left open, the long is entered (a reversal).
        let out = MaCrossover.evaluate(
            &ma(json!({})),
            &b,
            &[position(7, PositionType::Sell)],
            grid(2),
        );
        assert_eq!(exits(&out), vec![7]);
        assert_eq!(the_entry(&out).0, PositionType::Buy);
        // A long stays open and fills the only slot: the short closes, no new entry.
        let open = [
            position(7, PositionType::Sell),
            position(8, PositionType::Buy),
        ];
        let out = MaCrossover.evaluate(&ma(json!({})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![7]);
        // With two slots the entry comes too.
        let out = MaCrossover.evaluate(&ma(json!({"max_positions": 2})), &b, &open, grid(2));
        assert_eq!(exits(&out), vec![7]);
        assert_eq!(the_entry(&out).0, PositionType::Buy);
        // A down cross closes the longs.
        let out = MaCrossover.evaluate(
            &ma(json!({"max_positions": 3})),
            &bars(&CROSS_DOWN, 2.0),
            &open,
            grid(2),
        );
        assert_eq!(exits(&out), vec![8]);
        assert_eq!(the_entry(&out).0, PositionType::Sell);
    }

    #[test]
    fn max_positions_is_respected() {
        let b = bars(&CROSS_UP, 2.0);
        let longs = [
            position(1, PositionType::Buy),
            position(2, PositionType::Buy),
        ];
        assert!(MaCrossover
            .evaluate(&ma(json!({"max_positions": 2})), &b, &longs, grid(2))
            .is_empty());
        assert!(MaCrossover
            .evaluate(&ma(json!({"max_positions": 1})), &b, &longs, grid(2))
            .is_empty());
        let out = MaCrossover.evaluate(&ma(json!({"max_positions": 3})), &b, &longs, grid(2));
        assert_eq!(the_entry(&out).0, PositionType::Buy);
    }

    fn rsi(extra: Value) -> Params {
        let mut v = json!({"symbol": "XAUUSD", "rsi_period": 3, "atr_period": 3,
            "atr_sl_multiplier": 2.0, "tp_rr": 1.5});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&RsiReversion, v)
    }

    #[test]
    fn rsi_dip_and_recovery_buys() {
        // RSI(3) 0 → 33.33 crosses up through 30. ATR(3) = 4: SL 98 − 8 = 90, TP 98 + 12 = 110.
        let b = bars(&[100.0, 99.0, 98.0, 97.0, 98.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({})), &b, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 90.0, Some(110.0)));
        // With oversold at 35 the RSI (33.33) has not crossed it yet.
        let out = RsiReversion.evaluate(&rsi(json!({"oversold": 35})), &b, &[], grid(2));
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn rsi_spike_and_fall_sells() {
        // RSI(3) 100 → 66.67 crosses down through 70: SL 102 + 8 = 110, TP 102 − 12 = 90.
        let b = bars(&[100.0, 101.0, 102.0, 103.0, 102.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({})), &b, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 110.0, Some(90.0)));
        // An open long closes on the same bar (66.67 ≥ 50) and its slot goes to the short.
        let out = RsiReversion.evaluate(
            &rsi(json!({})),
            &b,
            &[position(3, PositionType::Buy)],
            grid(2),
        );
        assert_eq!(exits(&out), vec![3]);
        assert_eq!(the_entry(&out).0, PositionType::Sell);
    }

    #[test]
    fn rsi_exits_at_the_midline() {
        let open = [
            position(1, PositionType::Buy),
            position(2, PositionType::Sell),
        ];
        // RSI 33.33 → 55.56: the long closes, the short stays, no entry.
        let up = bars(&[100.0, 99.0, 98.0, 99.0, 100.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({"max_positions": 5})), &up, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![1]);
        // RSI 66.67 → 44.44: the short closes, the long stays.
        let down = bars(&[100.0, 101.0, 102.0, 101.0, 100.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({"max_positions": 5})), &down, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![2]);
    }

    #[test]
    fn rsi_quiet_series_give_nothing() {
        let p = rsi(json!({}));
        assert!(RsiReversion
            .evaluate(&p, &bars(&[100.0; 30], 2.0), &[], grid(2))
            .is_empty());
        // Falling all the way: RSI stays at 0, never crosses up.
        let down: Vec<f64> = (0..30).map(|i| 200.0 - i as f64).collect();
        assert!(RsiReversion
            .evaluate(&p, &bars(&down, 2.0), &[], grid(2))
            .is_empty());
        // Four bars are one too few for RSI(3) on two bars.
        let b = bars(&[100.0, 99.0, 98.0, 97.0, 98.0], 2.0);
        assert!(RsiReversion.evaluate(&p, &b[1..], &[], grid(2)).is_empty());
        let mut broken = b.clone();
        broken[2].close = f64::NAN;
        assert!(RsiReversion.evaluate(&p, &broken, &[], grid(2)).is_empty());
        assert!(wilder_rsi(&[100.0, f64::NAN, 98.0, 97.0, 98.0], 3).is_empty());
        broken[2].close = 98.0;
        broken[3].high = f64::INFINITY;
        assert_eq!(wilder_atr(&broken, 3), None);
        // Another strategy's parameters: nothing.
        assert!(RsiReversion
            .evaluate(&ma(json!({})), &b, &[], grid(2))
            .is_empty());
    }

    fn donchian(extra: Value) -> Params {
        let mut v = json!({"symbol": "US500", "channel_period": 3, "exit_period": 2,
            "atr_period": 3, "atr_sl_multiplier": 2.0, "tp_rr": 1.0});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&DonchianBreakout, v)
    }

    #[test]
    fn donchian_breakouts() {
        // 103 > the 3-bar high 101. ATR(3) = (2 × 2 + 4) / 3 = 8/3, SL distance 16/3:
        // SL 103 − 5.333 = 97.667 → down to 97.66, TP 103 + 5.333 = 108.33.
        let up = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        let out = DonchianBreakout.evaluate(&donchian(json!({})), &up, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 97.66, Some(108.33)));
        // 97 < the 3-bar low 99: SL 102.333 → up to 102.34, TP 91.67.
        let down = bars(&[100.0, 100.0, 100.0, 100.0, 97.0], 1.0);
        let out = DonchianBreakout.evaluate(&donchian(json!({})), &down, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 102.34, Some(91.67)));
        // Touching the high is not a break.
        let touch = bars(&[100.0, 100.0, 100.0, 100.0, 101.0], 1.0);
        assert!(DonchianBreakout
            .evaluate(&donchian(json!({})), &touch, &[], grid(2))
            .is_empty());
    }

    #[test]
    fn donchian_exits_on_the_short_channel() {
        let open = [
            position(1, PositionType::Buy),
            position(2, PositionType::Sell),
        ];
        // 98.5 is inside the 3-bar channel (95..101) but below the 2-bar low 99: the long exits.
        let b = bars(&[100.0, 96.0, 100.0, 100.0, 98.5], 1.0);
        let out =
            DonchianBreakout.evaluate(&donchian(json!({"max_positions": 5})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![1]);
        // 101.5 is inside the 3-bar channel (99..105) but above the 2-bar high 101: the short exits.
        let b = bars(&[100.0, 104.0, 100.0, 100.0, 101.5], 1.0);
        let out =
            DonchianBreakout.evaluate(&donchian(json!({"max_positions": 5})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![2]);
    }

    #[test]
    fn donchian_quiet_series_give_nothing() {
        let p = donchian(json!({}));
        assert!(DonchianBreakout
            .evaluate(&p, &bars(&[100.0; 30], 1.0), &[], grid(2))
            .is_empty());
        let up = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        assert!(DonchianBreakout
            .evaluate(&p, &up[2..], &[], grid(2))
            .is_empty());
        // A NaN high inside the channel must not be skipped over as if it were not there.
        let mut broken = up.clone();
        broken[2].high = f64::NAN;
        assert!(DonchianBreakout
            .evaluate(&p, &broken, &[], grid(2))
            .is_empty());
        // A full slot blocks the entry.
        assert!(DonchianBreakout
            .evaluate(&p, &up, &[position(1, PositionType::Buy)], grid(2))
            .is_empty());
    }

    #[test]
    fn an_unusable_atr_gives_no_entry() {
        // Bars with no range and a one-bar cross: the ATR is tiny but positive. Rounded away from
        // the close at 0 digits the SL lands one tick below it, never on it (whether the broker
        // takes a stop that close is the executor's stops-level check).
        let b = bars(&CROSS_UP, 0.0);
        let out = MaCrossover.evaluate(&ma(json!({"atr_sl_multiplier": 0.01})), &b, &[], grid(0));
        // The TP (2 × 0.006 above 101) rounds onto the close: no entry with a target it is at.
        assert!(out.is_empty(), "{out:?}");
        let out = MaCrossover.evaluate(
            &ma(json!({"atr_sl_multiplier": 0.01, "tp_rr": null})),
            &b,
            &[],
            grid(0),
        );
        assert_eq!(the_entry(&out), (PositionType::Buy, 100.0, None));
        // A SL that would be below zero: no entry.
        let out = MaCrossover.evaluate(
            &ma(json!({"atr_sl_multiplier": 50})),
            &bars(&CROSS_UP, 2.0),
            &[],
            grid(2),
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn defaults_are_applied() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        assert_eq!(
            p,
            Params {
                symbol: "EURUSD".into(),
                timeframe: Timeframe::H1,
                risk_per_trade: 0.01,
                max_positions: 1,
                atr_period: 14,
                atr_sl_multiplier: 2.0,
                tp_rr: None,
                specific: Specific::MaCrossover {
                    fast_period: 10,
                    slow_period: 30
                },
            }
        );
        let p = params(
            &RsiReversion,
            json!({"symbol": "EURUSD", "timeframe": "m15"}),
        );
        assert_eq!(p.timeframe, Timeframe::M15);
        assert_eq!(
            p.specific,
            Specific::RsiReversion {
                rsi_period: 14,
                oversold: 30.0,
                overbought: 70.0
            }
        );
        let p = params(
            &DonchianBreakout,
            json!({"symbol": "EURUSD", "timeframe": "MN1"}),
        );
        assert_eq!(p.timeframe, Timeframe::MN1);
        assert_eq!(
            p.specific,
            Specific::DonchianBreakout {
                channel_period: 20,
                exit_period: 10
            }
        );
        // Null means "use the default".
        let p = params(
            &MaCrossover,
            json!({"symbol": "EURUSD", "fast_period": null, "timeframe": null}),
        );
        assert_eq!(p.timeframe, Timeframe::H1);
        assert_eq!(
            p.specific,
            Specific::MaCrossover {
                fast_period: 10,
                slow_period: 30
            }
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let got = fields(
            &MaCrossover,
            json!({"symbol": 5, "timeframe": "H5", "risk_per_trade": 1.5, "max_positions": 0,
                "atr_period": -1, "atr_sl_multiplier": 0, "tp_rr": "x", "fast_period": 1.5,
                "slow_period": 100000, "bogus": 1}),
        );
        assert_eq!(
            got,
            vec![
                "parameters.atr_period",
                "parameters.atr_sl_multiplier",
                "parameters.bogus",
                "parameters.fast_period",
                "parameters.max_positions",
                "parameters.risk_per_trade",
                "parameters.slow_period",
                "parameters.symbol",
                "parameters.timeframe",
                "parameters.tp_rr",
            ]
        );
        let e = errors(&MaCrossover, json!({"symbol": "EURUSD", "bogus": 1}));
        assert_eq!(
            e,
            vec![(
                "parameters.bogus".to_string(),
                "unknown parameter".to_string()
            )]
        );
        let e = errors(&MaCrossover, json!({"risk_per_trade": 0}));
        assert_eq!(
            e,
            vec![
                ("parameters.symbol".to_string(), "is required".to_string()),
                (
                    "parameters.risk_per_trade".to_string(),
                    "must be a number in (0, 1]".to_string()
                ),
            ]
        );
        assert_eq!(fields(&MaCrossover, Value::Null), vec!["parameters.symbol"]);
        assert_eq!(fields(&MaCrossover, json!([1])), vec!["parameters"]);
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "  "})),
            vec!["parameters.symbol"]
        );
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "A".repeat(33)})),
            vec!["parameters.symbol"]
        );
        // Another strategy's keys are unknown here.
        assert_eq!(
            fields(&RsiReversion, json!({"symbol": "EURUSD", "fast_period": 5})),
            vec!["parameters.fast_period"]
        );
        // risk_per_trade may be exactly 1; max_positions 100 is the cap.
        assert!(MaCrossover
            .validate(&json!({"symbol": "EURUSD", "risk_per_trade": 1}))
            .is_ok());
        assert_eq!(
            fields(
                &MaCrossover,
                json!({"symbol": "EURUSD", "max_positions": 101})
            ),
            vec!["parameters.max_positions"]
        );
    }

    #[test]
    fn cross_field_rules() {
        let e = errors(
            &MaCrossover,
            json!({"symbol": "EURUSD", "fast_period": 30, "slow_period": 30}),
        );
        assert_eq!(
            e,
            vec![(
                "parameters.slow_period".to_string(),
                "must be greater than fast_period".to_string()
            )]
        );
        // The default slow (30) is checked against an explicit fast too.
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "EURUSD", "fast_period": 40})),
            vec!["parameters.slow_period"]
        );
        assert_eq!(
            fields(
                &RsiReversion,
                json!({"symbol": "EURUSD", "oversold": 70, "overbought": 70})
            ),
            vec!["parameters.oversold"]
        );
        assert_eq!(
            fields(&RsiReversion, json!({"symbol": "EURUSD", "oversold": 80})),
            vec!["parameters.oversold"]
        );
        assert_eq!(
            fields(
                &RsiReversion,
                json!({"symbol": "EURUSD", "overbought": 100})
            ),
            vec!["parameters.overbought"]
        );
        assert_eq!(
            fields(
                &DonchianBreakout,
                json!({"symbol": "EURUSD", "channel_period": 10, "exit_period": 10})
            ),
            vec!["parameters.exit_period"]
        );
    }

    #[test]
    fn schema_matches_validation() {
        for s in builtin() {
            let schema = s.schema();
            assert_eq!(schema["required"], json!(["symbol"]));
            assert_eq!(schema["additionalProperties"], json!(false));
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            // Every documented default, sent back, is accepted and equals the implicit defaults.
            let mut body = Map::new();
            for (k, v) in &props {
                assert!(v["description"].is_string(), "{} {k}", s.name());
                assert!(
                    v.get("default").is_some() || k == "symbol",
                    "{} {k}",
                    s.name()
                );
                if let Some(d) = v.get("default") {
                    body.insert(k.clone(), d.clone());
                }
            }
            body.insert("symbol".into(), json!("EURUSD"));
            let from_schema = params(s.as_ref(), Value::Object(body));
            let implicit = params(s.as_ref(), json!({"symbol": "EURUSD"}));
            assert_eq!(from_schema, implicit, "{}", s.name());
            // to_json lists exactly the schema's keys and validates back to the same Params.
            let round = implicit.to_json();
            let keys: Vec<&String> = round
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(keys, props.keys().collect::<Vec<_>>(), "{}", s.name());
            assert_eq!(params(s.as_ref(), round), implicit, "{}", s.name());
            assert!(!s.description().is_empty());
        }
        let schema = RsiReversion.schema();
        assert_eq!(
            schema["properties"]["oversold"]["exclusiveMaximum"],
            json!(100.0)
        );
        assert_eq!(
            schema["properties"]["risk_per_trade"]["maximum"],
            json!(1.0)
        );
        assert_eq!(schema["properties"]["timeframe"]["default"], json!("H1"));
        assert_eq!(
            schema["properties"]["tp_rr"]["type"],
            json!(["number", "null"])
        );
    }

    #[test]
    fn bars_needed_covers_the_warm_up() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        // ATR(14): 15 bars + 5 × 14 of warm-up = 85 > slow 30 + 1.
        assert_eq!(MaCrossover.bars_needed(&p), 85);
        let p = params(
            &MaCrossover,
            json!({"symbol": "EURUSD", "slow_period": 200}),
        );
        assert_eq!(MaCrossover.bars_needed(&p), 201);
        let p = params(&RsiReversion, json!({"symbol": "EURUSD", "rsi_period": 20}));
        assert_eq!(RsiReversion.bars_needed(&p), 22 + 100);
        let p = params(
            &DonchianBreakout,
            json!({"symbol": "EURUSD", "channel_period": 100}),
        );
        assert_eq!(DonchianBreakout.bars_needed(&p), 101);
    }

    #[test]
    fn intents_serialize_with_an_action_tag() {
        let out = MaCrossover.evaluate(
            &ma(json!({})),
            &bars(&CROSS_UP, 2.0),
            &[position(9, PositionType::Sell)],
            grid(2),
        );
        let v = serde_json::to_value(&out).unwrap_or_default();
        assert_eq!(v[0]["action"], json!("exit"));
        assert_eq!(v[0]["ticket"], json!(9));
        assert_eq!(v[1]["action"], json!("entry"));
        assert_eq!(v[1]["side"], json!("buy"));
        assert_eq!(v[1]["sl"], json!(93.0));
        assert_eq!(v[1]["tp"], json!(117.0));
    }
}
