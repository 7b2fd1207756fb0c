//! Swaps: what a position held over the server's daily rollover is charged or credited
//! (MT5_REFERENCE §11).
//!
//! - The rollover is server midnight (00:00 on the server's clock). A position open at that moment
//!   (opened before it, not closed before it) is charged the night that ends there.
//! - Only the nights of Monday to Friday are charged (the rollovers at 00:00 Tuesday … Saturday).
//!   The night of the symbol's `swap_rollover3days` weekday (Wednesday on the built-in symbols)
//!   counts three days: it pays for the weekend, so the rollovers of Saturday and Sunday nights
//!   (00:00 Sunday and Monday) charge nothing. A week held costs seven days.
//! - The night's amount is rounded to cents and added to the position's `swap`; the closing deal
//!   realises it (see `exec::fill`).
//! - Modes modelled ([`swap_mode_modelled`]): `disabled`; `points` (swap_long / swap_short points
//!   of price, valued as profit is: points × point × contract × lots in the profit currency, what
//!   the built-in symbols use); `currency_symbol`, `currency_margin`, `currency_deposit` (that
//!   much money per lot in the symbol's base, margin or the account's currency). Every amount is
//!   converted to the account currency as profit is, at the rollover's rates, a credit at the side
//!   less favourable to the client. Not modelled, and charged nothing: the interest modes (they need
//!   the broker's position valuation and day count) and the reopen modes (MT5 closes and reopens
//!   the position at the rollover), and values outside MT5's list.

use super::book::{AccountSettings, AccountState, Ctx, Position};
use super::calc::{self, money};
use crate::market::Favour;
use mt5::enums::Mt5Enum;
use mt5::{DayOfWeek, PositionType, SymbolInfo, SymbolSwapMode};

pub(crate) const DAY_MS: i64 = 86_400_000;

/// Whether the engine charges swaps of this mode as MT5 does. A symbol whose mode is not
/// modelled is charged no swap, and a report built on the engine should say so.
pub fn swap_mode_modelled(mode: SymbolSwapMode) -> bool {
    matches!(
        mode,
        SymbolSwapMode::Disabled
            | SymbolSwapMode::Points
            | SymbolSwapMode::CurrencySymbol
            | SymbolSwapMode::CurrencyMargin
            | SymbolSwapMode::CurrencyDeposit
    )
}

/// How many days the rollover at `server_ms` (a server midnight) charges: the night that ends
/// there, Monday to Friday, three on the triple-swap weekday.
pub(crate) fn days_at(server_ms: i64, triple: DayOfWeek) -> i64 {
    // The day the rollover ends; 1970-01-01 was a Thursday (weekday 4 with Sunday = 0).
    let day = server_ms.div_euclid(DAY_MS) - 1;
    let weekday = (day + 4).rem_euclid(7);
    if !(1..=5).contains(&weekday) {
        return 0;
    }
    if triple.is_known() && triple.code() == weekday {
        3
    } else {
        1
    }
}

/// The first rollover strictly after `utc_ms`, in UTC ms.
pub(crate) fn next_rollover(cx: &Ctx<'_>, utc_ms: i64) -> i64 {
    let server = cx.server_ms(utc_ms);
    (server.div_euclid(DAY_MS) + 1) * DAY_MS - cx.offset_ms
}

/// Charges every rollover in `(from_ms, to_ms]` (UTC) on the positions open now, at `cx`'s quotes.
/// Callers run it in time order, before the triggers of any moment after the rollover.
pub(crate) fn roll(cx: &Ctx<'_>, st: &mut AccountState, from_ms: i64, to_ms: i64) {
    if st.positions.is_empty() {
        return;
    }
    let mut r = next_rollover(cx, from_ms);
    while r <= to_ms {
        charge(cx, st, r);
        r += DAY_MS;
    }
}

/// One rollover at `r_ms` (UTC).
fn charge(cx: &Ctx<'_>, st: &mut AccountState, r_ms: i64) {
    let server = cx.server_ms(r_ms);
    for i in 0..st.positions.len() {
        let p = &st.positions[i];
        // Opened at the rollover itself: not held over it.
        if p.time_msc >= r_ms {
            continue;
        }
        let Some(info) = cx.market.spec(&p.symbol).map(|s| &s.info) else {
            continue;
        };
        let days = days_at(server, info.swap_rollover3days);
        if days == 0 {
            continue;
        }
        // No rate to convert at: the night is not charged rather than charged at a guess.
        if let Some(v) = per_day(cx, &st.settings, info, p, r_ms) {
            let night = money(v * days as f64);
            let q = &mut st.positions[i];
            q.swap = money(q.swap + night);
        }
    }
}

/// One day's swap of `p` in the account currency, unrounded; `None` when it cannot be converted.
fn per_day(
    cx: &Ctx<'_>,
    acc: &AccountSettings,
    info: &SymbolInfo,
    p: &Position,
    t_ms: i64,
) -> Option<f64> {
    let rate = match p.side {
        PositionType::Buy => info.swap_long,
        PositionType::Sell => info.swap_short,
        PositionType::Unknown(_) => return None,
    };
    if rate == 0.0 {
        return Some(0.0);
    }
    let (amount, ccy) = match info.swap_mode {
        SymbolSwapMode::Points => (
            calc::price_value(info, rate * info.point, p.volume),
            info.currency_profit.as_str(),
        ),
        SymbolSwapMode::CurrencySymbol => (rate * p.volume, info.currency_base.as_str()),
        SymbolSwapMode::CurrencyMargin => (rate * p.volume, calc::margin_ccy(info)),
        SymbolSwapMode::CurrencyDeposit => (rate * p.volume, acc.currency.as_str()),
        _ => return Some(0.0),
    };
    let favour = if amount >= 0.0 {
        Favour::Profit
    } else {
        Favour::Loss
    };
    let own = calc::close_price(cx, p, t_ms).unwrap_or(0.0);
    calc::to_account(cx, info, amount, ccy, &acc.currency, own, t_ms, favour)
}
