//! Position sizing by risk: the volume whose loss at the stop loss is a given fraction of equity.
//!
//! The loss per lot comes from MT5's own loss-side tick value, already converted to the account
//! currency, so no exchange rate is looked up here. Volumes are rounded DOWN to the volume step in
//! integer step units: rounding up would risk more than asked, so a size below the minimum is
//! skipped rather than raised to it.

use mt5::util::{step_digits, volume_floor};
use mt5::SymbolInfo;

/// The outcome of sizing one entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Sized {
    /// Lots to trade, on the symbol's volume grid, within `volume_min..=volume_max`.
    Volume(f64),
    /// No trade, and why.
    Skip(String),
}

/// Volume = `risk_per_trade` × `equity` / (loss at SL per lot), where the loss per lot is
/// |entry − sl| / `trade_tick_size` × `trade_tick_value_loss` (MT5's tick value for losses, in the
/// account currency; `trade_tick_value` when the terminal reports no loss-side value).
/// Rounded down to `volume_step`, clamped to `volume_max`; below `volume_min` it is skipped.
pub fn size_by_risk(
    equity: f64,
    risk_per_trade: f64,
    entry: f64,
    sl: f64,
    symbol: &SymbolInfo,
) -> Sized {
    if !(equity.is_finite() && equity > 0.0) {
        return skip(format!("equity must be positive, got {equity}"));
    }
    if !(risk_per_trade.is_finite() && risk_per_trade > 0.0 && risk_per_trade <= 1.0) {
        return skip(format!(
            "risk_per_trade must be in (0, 1], got {risk_per_trade}"
        ));
    }
    if !(entry.is_finite() && entry > 0.0 && sl.is_finite() && sl > 0.0) {
        return skip(format!(
            "entry and stop loss must be positive prices, got {entry} and {sl}"
        ));
    }
    let step = symbol.volume_step;
    if !(step.is_finite() && step > 0.0) {
        return skip(format!("symbol has no usable volume_step ({step})"));
    }
    let loss_per_lot = loss_at_sl(1.0, entry, sl, symbol);
    if !loss_per_lot.is_finite() {
        return skip("symbol has no usable tick size or tick value".to_string());
    }
    if loss_per_lot <= 0.0 {
        return skip("stop loss is at the entry price: the risk per lot is zero".to_string());
    }
    let raw = risk_per_trade * equity / loss_per_lot;
    let max = symbol.volume_max;
    // Clamp before rounding so a huge (even infinite) raw size lands on volume_max; flooring
    // volume_max keeps the result on the grid even if the broker's maximum is not.
    let capped = if max.is_finite() && max > 0.0 && raw > max {
        max
    } else {
        raw
    };
    let volume = volume_floor(capped, step);
    let min = symbol.volume_min;
    let min_ok = if min.is_finite() && min > 0.0 {
        // Compare in step units with a tolerance, not as raw floats (0.1 + 0.2 ≠ 0.3).
        volume / step + 1e-6 >= min / step
    } else {
        true
    };
    if volume <= 0.0 || !min_ok {
        let d = step_digits(step) as usize;
        return skip(format!(
            "volume below volume_min: the risk allows {raw:.prec$} lots, the minimum is {min:.d$}",
            prec = d + 2
        ));
    }
    Sized::Volume(volume)
}

/// Money lost at the stop loss by `volume` lots opened at `entry`, in the account currency
/// (infinite when the symbol's tick size or the prices are unusable, so a risk check refuses).
pub fn loss_at_sl(volume: f64, entry: f64, sl: f64, symbol: &SymbolInfo) -> f64 {
    let tick_value = if symbol.trade_tick_value_loss > 0.0 {
        symbol.trade_tick_value_loss
    } else {
        symbol.trade_tick_value
    };
    if !(tick_value.is_finite() && tick_value > 0.0) {
        return f64::INFINITY;
    }
    // The risk checks use the same formula; delegate so the two can never disagree.
    crate::risk::loss_at_sl(volume, entry, sl, symbol)
}

fn skip(reason: String) -> Sized {
    Sized::Skip(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn symbol(tick_size: f64, tick_value_loss: f64, min: f64, max: f64, step: f64) -> SymbolInfo {
        SymbolInfo {
            trade_tick_size: tick_size,
            trade_tick_value: tick_value_loss,
            trade_tick_value_loss: tick_value_loss,
            volume_min: min,
            volume_max: max,
            volume_step: step,
            ..SymbolInfo::default()
        }
    }

    fn eurusd() -> SymbolInfo {
        SymbolInfo {
            digits: 5,
            trade_contract_size: 100_000.0,
            ..symbol(0.00001, 1.0, 0.01, 100.0, 0.01)
        }
    }

    fn volume(s: Sized) -> f64 {
        match s {
            Sized::Volume(v) => v,
            Sized::Skip(r) => panic!("expected a volume, got skip: {r}"),
        }
    }

    fn reason(s: Sized) -> String {
        match s {
            Sized::Skip(r) => r,
            Sized::Volume(v) => panic!("expected a skip, got {v} lots"),
        }
    }

    #[test]
    fn eurusd_fifty_pips() {
        // 100 USD at risk / (500 ticks × 1.0 USD) = 0.2 lots.
        let v = volume(size_by_risk(10_000.0, 0.01, 1.10000, 1.09500, &eurusd()));
        assert_eq!(v, 0.2);
        // A sell: SL above the entry sizes the same.
        let v = volume(size_by_risk(10_000.0, 0.01, 1.09500, 1.10000, &eurusd()));
        assert_eq!(v, 0.2);
    }

    #[test]
    fn usdjpy_tick_value_from_the_price() {
        // 1 lot = 100 000 USD; one 0.001 tick = 100 JPY = 100/150 USD at 150.000.
        let exact = symbol(0.001, 100.0 / 150.0, 0.01, 100.0, 0.01);
        // 50 pips = 0.500 = 500 ticks → 333.33 USD per lot; 100 / 333.33 = 0.3 lots.
        assert_eq!(
            volume(size_by_risk(10_000.0, 0.01, 150.000, 149.500, &exact)),
            0.3
        );
        // MT5 reports the tick value rounded (0.66667): 500 × 0.66667 = 333.335 USD per lot,
        // 100 / 333.335 = 0.29999…, which must round down to 0.29, never up to 0.30.
        let reported = symbol(0.001, 0.66667, 0.01, 100.0, 0.01);
        assert_eq!(
            volume(size_by_risk(10_000.0, 0.01, 150.000, 149.500, &reported)),
            0.29
        );
    }

    #[test]
    fn xauusd_twenty_dollars() {
        let gold = SymbolInfo {
            digits: 2,
            trade_contract_size: 100.0,
            ..symbol(0.01, 1.0, 0.01, 100.0, 0.01)
        };
        // 100 USD / (2000 ticks × 1.0 USD) = 0.05 lots.
        assert_eq!(
            volume(size_by_risk(10_000.0, 0.01, 2000.00, 1980.00, &gold)),
            0.05
        );
    }

    #[test]
    fn rounds_down_to_the_step() {
        // 129 USD / (1000 ticks × 1.0) = 0.129 → 0.12.
        assert_eq!(
            volume(size_by_risk(12_900.0, 0.01, 1.10000, 1.09000, &eurusd())),
            0.12
        );
        // A 0.1 step: 0.129 → 0.1.
        let coarse = symbol(0.00001, 1.0, 0.1, 100.0, 0.1);
        assert_eq!(
            volume(size_by_risk(12_900.0, 0.01, 1.10000, 1.09000, &coarse)),
            0.1
        );
    }

    #[test]
    fn clamps_to_volume_max() {
        let s = symbol(0.00001, 1.0, 0.01, 0.5, 0.01);
        // 10 000 USD / 500 = 20 lots, clamped to 0.5.
        assert_eq!(
            volume(size_by_risk(1_000_000.0, 0.01, 1.10000, 1.09500, &s)),
            0.5
        );
    }

    #[test]
    fn below_volume_min_is_skipped_not_rounded_up() {
        // 1 USD / 500 = 0.002 lots < 0.01.
        let r = reason(size_by_risk(100.0, 0.01, 1.10000, 1.09500, &eurusd()));
        assert!(r.starts_with("volume below volume_min"), "{r}");
        assert!(r.contains("0.01"), "{r}");
        // A minimum off the step's origin: 0.12 lots allowed, minimum 0.2.
        let s = symbol(0.00001, 1.0, 0.2, 100.0, 0.01);
        let r = reason(size_by_risk(12_900.0, 0.01, 1.10000, 1.09000, &s));
        assert!(r.starts_with("volume below volume_min"), "{r}");
        // Exactly the minimum is allowed.
        let s = symbol(0.00001, 1.0, 0.2, 100.0, 0.01);
        assert_eq!(
            volume(size_by_risk(10_000.0, 0.01, 1.10000, 1.09500, &s)),
            0.2
        );
    }

    #[test]
    fn sl_at_entry_and_bad_inputs_skip() {
        let s = eurusd();
        let r = reason(size_by_risk(10_000.0, 0.01, 1.1, 1.1, &s));
        assert!(r.contains("stop loss is at the entry"), "{r}");
        for (equity, risk, entry, sl) in [
            (f64::NAN, 0.01, 1.1, 1.09),
            (-10_000.0, 0.01, 1.1, 1.09),
            (0.0, 0.01, 1.1, 1.09),
            (f64::INFINITY, 0.01, 1.1, 1.09),
            (10_000.0, f64::NAN, 1.1, 1.09),
            (10_000.0, 0.0, 1.1, 1.09),
            (10_000.0, -0.01, 1.1, 1.09),
            (10_000.0, 1.5, 1.1, 1.09),
            (10_000.0, 0.01, f64::NAN, 1.09),
            (10_000.0, 0.01, 1.1, f64::NAN),
            (10_000.0, 0.01, -1.1, 1.09),
            (10_000.0, 0.01, 1.1, -1.09),
        ] {
            assert!(
                matches!(size_by_risk(equity, risk, entry, sl, &s), Sized::Skip(_)),
                "{equity} {risk} {entry} {sl}"
            );
        }
        for bad in [
            symbol(0.0, 1.0, 0.01, 100.0, 0.01),
            symbol(0.00001, 0.0, 0.01, 100.0, 0.01),
            symbol(0.00001, f64::NAN, 0.01, 100.0, 0.01),
            symbol(0.00001, 1.0, 0.01, 100.0, 0.0),
            symbol(0.00001, 1.0, 0.01, 100.0, f64::NAN),
        ] {
            assert!(
                matches!(
                    size_by_risk(10_000.0, 0.01, 1.1, 1.09, &bad),
                    Sized::Skip(_)
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn loss_at_sl_in_account_currency() {
        let s = eurusd();
        let loss = loss_at_sl(0.2, 1.10000, 1.09500, &s);
        assert!((loss - 100.0).abs() < 1e-6, "{loss}");
        // The loss-side tick value wins over the plain one.
        let s = SymbolInfo {
            trade_tick_value: 1.0,
            trade_tick_value_loss: 1.25,
            ..eurusd()
        };
        let loss = loss_at_sl(0.2, 1.10000, 1.09500, &s);
        assert!((loss - 125.0).abs() < 1e-6, "{loss}");
        // Without a loss-side value the plain tick value is used.
        let s = SymbolInfo {
            trade_tick_value: 2.0,
            trade_tick_value_loss: 0.0,
            ..eurusd()
        };
        let loss = loss_at_sl(0.2, 1.10000, 1.09500, &s);
        assert!((loss - 200.0).abs() < 1e-6, "{loss}");
        // No tick value at all: infinite, so a risk check refuses.
        let s = SymbolInfo {
            trade_tick_value: 0.0,
            trade_tick_value_loss: 0.0,
            ..eurusd()
        };
        assert_eq!(loss_at_sl(0.2, 1.1, 1.095, &s), f64::INFINITY);
        assert_eq!(loss_at_sl(0.2, 1.1, f64::NAN, &eurusd()), f64::INFINITY);
    }
}
