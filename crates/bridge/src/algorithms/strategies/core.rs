//! What every strategy shares: the intents it returns, its parameters, the `Strategy` trait, and
//! how an entry is placed on the price grid.

use super::indicators::*;
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

/// An entry at the last close with its ATR stop and optional take profit, on the symbol's tick
/// grid; None when the ATR is unusable or the levels are not on the right side of the price.
///
/// The SL is rounded AWAY from the price (down for a buy, up for a sell): the stop is never
/// tighter than the ATR distance the strategy asked for, and a coarse tick (5 index points, say)
/// cannot pull it onto the entry or inside the broker's stops level. That does not raise the money
/// at risk: the executor sizes the volume from the rounded SL, so a wider stop means fewer lots.
/// The TP does not change the risk and goes to the nearest tick, which keeps the reward-to-risk
/// ratio closest to `tp_rr`.
pub(super) fn entry(
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
pub(super) fn assemble(
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
pub(super) fn noise(scale: f64) -> f64 {
    scale.abs() * 1e-10
}

// ---------------------------------------------------------------------------------------------

pub(super) fn timeframe_name(tf: Timeframe) -> String {
    tf.name().to_ascii_uppercase()
}
