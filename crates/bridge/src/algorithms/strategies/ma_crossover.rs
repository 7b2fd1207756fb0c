//! Moving-average crossover.

use super::core::*;
use super::indicators::*;
use super::params::*;
use crate::error::FieldError;
use mt5::util::PriceGrid;
use mt5::{PositionType, Rate, TradePosition};
use serde_json::Value;

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
                r.conflict(SLOW_PERIOD.key, "must be greater than fast_period");
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
