//! Donchian channel breakout.

use super::core::*;
use super::indicators::*;
use super::params::*;
use crate::error::FieldError;
use mt5::util::PriceGrid;
use mt5::{PositionType, Rate, TradePosition};
use serde_json::Value;

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
                r.conflict(EXIT_PERIOD.key, "must be less than channel_period");
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
