//! Small MT5 rules shared by every backend: symbol group masks, volume-step arithmetic and the
//! tick-size grid prices live on, all in integer units of the step or tick.

use crate::SymbolInfo;

/// Matches a symbol name against an MT5 `group` filter: comma-separated masks, `*` wildcard,
/// `!` negation, applied left to right (includes first, then excludes). `"*,!*EUR*"` = all but EUR.
pub fn group_matches(group: &str, symbol: &str) -> bool {
    let mut included = false;
    for raw in group.split(',') {
        let mask = raw.trim();
        if mask.is_empty() {
            continue;
        }
        if let Some(neg) = mask.strip_prefix('!') {
            if wildcard(neg, symbol) {
                included = false;
            }
        } else if wildcard(mask, symbol) {
            included = true;
        }
    }
    included
}

fn wildcard(mask: &str, s: &str) -> bool {
    let mask = mask.to_ascii_uppercase();
    let s = s.to_ascii_uppercase();
    let parts: Vec<&str> = mask.split('*').collect();
    if parts.len() == 1 {
        return mask == s;
    }
    let mut rest = s.as_str();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Volume in integer units of `step` (rounded to the nearest unit), or `None` when `volume` is not
/// on the step grid within a tolerance of a millionth of a step. Comparing floats directly is how
/// 0.1 + 0.2 lots become "invalid volume".
pub fn volume_units(volume: f64, step: f64) -> Option<i64> {
    if !(volume.is_finite() && step.is_finite() && step > 0.0) {
        return None;
    }
    let units = volume / step;
    let rounded = units.round();
    if (units - rounded).abs() <= 1e-6 {
        Some(rounded as i64)
    } else {
        None
    }
}

/// Rounds a volume down to the step grid (never up), as risk sizing must.
pub fn volume_floor(volume: f64, step: f64) -> f64 {
    if !(volume.is_finite() && step > 0.0) || volume <= 0.0 {
        return 0.0;
    }
    let units = (volume / step + 1e-9).floor();
    normalize(units * step, step_digits(step))
}

/// Decimal places needed to print a step exactly (0.01 → 2, 1.0 → 0).
pub fn step_digits(step: f64) -> u32 {
    let mut d = 0;
    let mut s = step;
    while d < 10 && (s - s.round()).abs() > 1e-9 {
        s *= 10.0;
        d += 1;
    }
    d
}

/// Rounds a price to `digits` decimals, as MT5's NormalizeDouble does.
pub fn normalize(value: f64, digits: u32) -> f64 {
    let f = 10f64.powi(digits as i32);
    (value * f).round() / f
}

/// Which way a price that is off the grid moves onto it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    Nearest,
    /// Towards lower prices.
    Down,
    /// Towards higher prices.
    Up,
}

/// The prices a symbol accepts: whole multiples of `trade_tick_size`, written with `digits`
/// decimals. An index may move in ticks of 0.25 or 5 while its `point` is 0.01 or 1, so rounding to
/// `digits` alone gives prices the broker rejects (10015 invalid price, 10016 invalid stops).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceGrid {
    /// The tick, always finite and positive.
    tick: f64,
    digits: u32,
}

/// A price this many ticks away from zero is not a price (and would not fit an `i64` exactly).
const MAX_TICKS: f64 = 9.0e15;

impl PriceGrid {
    /// The grid of `info`: its `trade_tick_size`, or its `point` when the tick size is missing
    /// (0, negative or not finite), or `10^-digits` when that is missing too.
    pub fn of(info: &SymbolInfo) -> PriceGrid {
        let usable = |x: f64| x.is_finite() && x > 0.0;
        let digits = info.digits.min(MAX_DIGITS);
        let tick = [info.trade_tick_size, info.point]
            .into_iter()
            .find(|x| usable(*x))
            .unwrap_or_else(|| 10f64.powi(-(digits as i32)));
        PriceGrid { tick, digits }
    }

    /// The grid whose tick is one point of `digits` decimals (a symbol whose tick is its point).
    pub fn of_digits(digits: u32) -> PriceGrid {
        let digits = digits.min(MAX_DIGITS);
        PriceGrid {
            tick: 10f64.powi(-(digits as i32)),
            digits,
        }
    }

    pub fn tick(&self) -> f64 {
        self.tick
    }

    pub fn digits(&self) -> u32 {
        self.digits
    }

    /// The price in whole ticks, or `None` when it is not on the grid within a millionth of a
    /// tick (as [`volume_units`] does for volumes: never compare prices as raw floats).
    pub fn ticks(&self, price: f64) -> Option<i64> {
        let units = price / self.tick;
        if !units.is_finite() || units.abs() > MAX_TICKS {
            return None;
        }
        volume_units(price, self.tick)
    }

    /// The price on the grid, rounded as asked; a price within a millionth of a tick of the grid
    /// stays where it is whatever the direction. `None` for a non-finite or absurd price.
    pub fn round(&self, price: f64, rounding: Rounding) -> Option<f64> {
        let units = price / self.tick;
        if !units.is_finite() || units.abs() > MAX_TICKS {
            return None;
        }
        let n = match rounding {
            Rounding::Nearest => units.round(),
            Rounding::Down => (units + 1e-6).floor(),
            Rounding::Up => (units - 1e-6).ceil(),
        };
        Some(self.price(n as i64))
    }

    /// The price of `ticks` whole ticks, written with the grid's digits.
    pub fn price(&self, ticks: i64) -> f64 {
        normalize(ticks as f64 * self.tick, self.digits)
    }
}

/// MT5 symbols use up to 8 decimals; more would only overflow the power of ten.
const MAX_DIGITS: u32 = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert!(group_matches("*", "EURUSD"));
        assert!(!group_matches("*,!*EUR*", "EURUSD"));
        assert!(group_matches("*,!*EUR*", "GBPUSD"));
        assert!(group_matches("*USD", "EURUSD"));
        assert!(!group_matches("*USD", "USDJPY"));
        assert!(group_matches("USD*", "USDJPY"));
        assert!(group_matches("EURUSD,GBPUSD", "gbpusd"));
        assert!(!group_matches("", "EURUSD"));
    }

    #[test]
    fn volume_steps() {
        assert_eq!(volume_units(0.1 + 0.2, 0.01), Some(30));
        assert_eq!(volume_units(0.015, 0.01), None);
        assert_eq!(volume_units(500.0, 0.01), Some(50000));
        assert_eq!(volume_units(f64::NAN, 0.01), None);
        assert_eq!(volume_floor(0.129, 0.01), 0.12);
        assert_eq!(volume_floor(0.3, 0.1), 0.3);
        assert_eq!(volume_floor(0.009, 0.01), 0.0);
        assert_eq!(step_digits(0.01), 2);
        assert_eq!(step_digits(1.0), 0);
        assert_eq!(normalize(1.234567, 5), 1.23457);
    }

    #[test]
    fn price_grids() {
        let index = SymbolInfo {
            digits: 2,
            point: 0.01,
            trade_tick_size: 0.25,
            ..SymbolInfo::default()
        };
        let g = PriceGrid::of(&index);
        assert_eq!(g.tick(), 0.25);
        assert_eq!(g.round(5000.13, Rounding::Nearest), Some(5000.25));
        assert_eq!(g.round(5000.12, Rounding::Nearest), Some(5000.0));
        assert_eq!(g.round(5000.01, Rounding::Up), Some(5000.25));
        assert_eq!(g.round(5000.24, Rounding::Down), Some(5000.0));
        // On the grid stays put, whatever the direction and the float noise.
        assert_eq!(g.round(5000.5 + 1e-9, Rounding::Down), Some(5000.5));
        assert_eq!(g.round(5000.5 - 1e-9, Rounding::Up), Some(5000.5));
        assert_eq!(g.ticks(5000.75), Some(20003));
        assert_eq!(g.ticks(5000.7), None);
        assert_eq!(g.ticks(f64::NAN), None);
        assert_eq!(g.round(f64::INFINITY, Rounding::Nearest), None);
        assert_eq!(g.round(1e300, Rounding::Nearest), None);
        // A tick of 5 on a symbol without decimals.
        let nikkei = SymbolInfo {
            digits: 0,
            point: 1.0,
            trade_tick_size: 5.0,
            ..SymbolInfo::default()
        };
        let g = PriceGrid::of(&nikkei);
        assert_eq!(g.round(38_002.0, Rounding::Nearest), Some(38_000.0));
        assert_eq!(g.round(38_001.0, Rounding::Up), Some(38_005.0));
        assert_eq!(g.round(38_004.0, Rounding::Down), Some(38_000.0));
        // No tick size: the point; no point either: the digits.
        let fx = SymbolInfo {
            digits: 5,
            point: 0.00001,
            ..SymbolInfo::default()
        };
        assert_eq!(PriceGrid::of(&fx).tick(), 0.00001);
        assert_eq!(
            PriceGrid::of(&fx).round(1.234567, Rounding::Nearest),
            Some(1.23457)
        );
        let bare = SymbolInfo {
            digits: 3,
            trade_tick_size: f64::NAN,
            ..SymbolInfo::default()
        };
        assert_eq!(PriceGrid::of(&bare), PriceGrid::of_digits(3));
        assert_eq!(
            PriceGrid::of_digits(3).round(150.0004, Rounding::Up),
            Some(150.001)
        );
    }
}
