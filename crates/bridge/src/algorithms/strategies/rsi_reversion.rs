//! RSI mean reversion.

use super::core::*;
use super::indicators::*;
use super::params::*;
use crate::error::FieldError;
use mt5::util::PriceGrid;
use mt5::{PositionType, Rate, TradePosition};
use serde_json::Value;

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
                r.conflict(OVERSOLD.key, "must be less than overbought");
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
