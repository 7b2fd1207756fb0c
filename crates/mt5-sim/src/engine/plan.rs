//! What a validated request will do, and the volume grid it is counted on: validation produces a
//! [`Plan`], execution carries it out.

use mt5::util::{normalize, step_digits, volume_units};
use mt5::PositionType;

/// What a valid request will do.
pub(crate) enum Plan<'m> {
    /// Market buy or sell: opens, adds to, reduces, closes or reverses (netting) a position.
    Deal {
        info: &'m mt5::SymbolInfo,
        side: PositionType,
        volume: f64,
        price: f64,
        /// The position the request names (a close).
        close: Option<u64>,
    },
    Pending {
        info: &'m mt5::SymbolInfo,
        volume: f64,
        expire_at_ms: i64,
    },
    Sltp {
        position: u64,
    },
    Modify {
        order: u64,
        expire_at_ms: i64,
    },
    Remove {
        order: u64,
    },
    CloseBy {
        position: u64,
        by: u64,
    },
}

/// Units of an amount already on the grid (positions' and orders' own volumes).
pub(crate) fn units(v: f64, step: f64) -> i64 {
    volume_units(v, step).unwrap_or_else(|| (v / step).round() as i64)
}

pub(crate) fn lots(units: i64, step: f64) -> f64 {
    normalize(units as f64 * step, step_digits(step))
}
