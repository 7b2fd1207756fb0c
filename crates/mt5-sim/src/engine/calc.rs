//! Margin, profit and account arithmetic (MT5_REFERENCE §8.6–8.8), and the reported forms of
//! positions and orders.
//!
//! Amounts in the account currency are rounded to cents per position and per deal, and the account
//! sums those rounded amounts, so `equity == balance + credit + Σ(profit + swap + commission)` holds
//! exactly as a client adds it up.

use super::book::{history_order, AccountSettings, AccountState, Ctx, PendingOrder, Position};
use crate::market::Favour;
use mt5::{OrderState, PositionType, SymbolCalcMode, SymbolInfo, TradeOrder, TradePosition};
use serde::{Deserialize, Serialize};

/// An account's money at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    pub balance: f64,
    pub credit: f64,
    /// Floating profit of open positions (swap and commission not included).
    pub profit: f64,
    pub equity: f64,
    pub margin: f64,
    pub margin_free: f64,
    /// Percent; 0 when no margin is used.
    pub margin_level: f64,
}

pub(crate) use super::book::money;

fn same_ccy(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Converts `amount` in `from` to the account currency. When the symbol itself quotes the account
/// currency against `from`, MT5 converts at the price of the operation (`own_price`): that is how
/// the documentation's USDJPY example gets 30000 JPY / close price. Otherwise the market's rates at
/// the side `favour` asks for.
#[allow(clippy::too_many_arguments)] // a conversion needs all of them
pub(crate) fn to_account(
    cx: &Ctx<'_>,
    info: &SymbolInfo,
    amount: f64,
    from: &str,
    account_ccy: &str,
    own_price: f64,
    t_ms: i64,
    favour: Favour,
) -> Option<f64> {
    if from.is_empty() || same_ccy(from, account_ccy) {
        return Some(amount);
    }
    if own_price > 0.0 {
        if same_ccy(&info.currency_base, account_ccy) && same_ccy(&info.currency_profit, from) {
            return Some(amount / own_price);
        }
        if same_ccy(&info.currency_profit, account_ccy) && same_ccy(&info.currency_base, from) {
            return Some(amount * own_price);
        }
    }
    cx.market
        .convert(amount, from, account_ccy, t_ms, favour)
        .filter(|v| v.is_finite())
}

pub(crate) fn margin_ccy(info: &SymbolInfo) -> &str {
    if !info.currency_margin.is_empty() {
        &info.currency_margin
    } else {
        &info.currency_base
    }
}

/// Value of one tick per lot in the profit currency, for the modes that use it.
fn tick_price(info: &SymbolInfo) -> f64 {
    if info.trade_tick_value > 0.0 {
        info.trade_tick_value
    } else {
        // One tick of one contract: what the tick is worth when the spec carries no tick value.
        info.trade_tick_size * info.trade_contract_size
    }
}

fn tick_size(info: &SymbolInfo) -> f64 {
    if info.trade_tick_size > 0.0 {
        info.trade_tick_size
    } else {
        info.point
    }
}

/// Margin in the margin currency for `lots` at `price`, with `contract` in place of the contract
/// size (the hedged rule substitutes `margin_hedged`).
fn margin_raw(info: &SymbolInfo, leverage: f64, lots: f64, price: f64, contract: f64) -> f64 {
    let lev = leverage.max(1.0);
    match info.trade_calc_mode {
        SymbolCalcMode::Forex => lots * contract / lev,
        SymbolCalcMode::ForexNoLeverage => lots * contract,
        SymbolCalcMode::Cfd => lots * contract * price,
        SymbolCalcMode::CfdIndex => {
            lots * contract * price * tick_price(info) / tick_size(info).max(f64::MIN_POSITIVE)
        }
        SymbolCalcMode::CfdLeverage => lots * contract * price / lev,
        SymbolCalcMode::Futures | SymbolCalcMode::ExchFutures => {
            let scale = if info.trade_contract_size > 0.0 {
                contract / info.trade_contract_size
            } else {
                1.0
            };
            lots * info.margin_initial * scale
        }
        _ => lots * contract * price,
    }
}

/// Margin in the account currency (unrounded), as `order_calc_margin` computes it.
pub(crate) fn margin(
    cx: &Ctx<'_>,
    acc: &AccountSettings,
    info: &SymbolInfo,
    lots: f64,
    price: f64,
    contract: f64,
    t_ms: i64,
) -> Option<f64> {
    let raw = margin_raw(info, f64::from(acc.leverage), lots, price, contract);
    to_account(
        cx,
        info,
        raw,
        margin_ccy(info),
        &acc.currency,
        price,
        t_ms,
        Favour::Loss,
    )
}

/// What a price move of `diff` is worth on `lots`, in the profit currency (§8.6's profit column).
pub(crate) fn price_value(info: &SymbolInfo, diff: f64, lots: f64) -> f64 {
    match info.trade_calc_mode {
        SymbolCalcMode::Futures | SymbolCalcMode::ExchFutures => {
            diff * tick_price(info) / tick_size(info).max(f64::MIN_POSITIVE) * lots
        }
        _ => diff * info.trade_contract_size * lots,
    }
}

/// Profit in the account currency (unrounded); gains convert at `Favour::Profit`, losses at
/// `Favour::Loss`.
#[allow(clippy::too_many_arguments)] // the MT5 formula's inputs
pub(crate) fn profit(
    cx: &Ctx<'_>,
    acc: &AccountSettings,
    info: &SymbolInfo,
    side: PositionType,
    lots: f64,
    open: f64,
    close: f64,
    t_ms: i64,
) -> Option<f64> {
    // A side the simulator cannot read has no profit: the caller refuses what needs one.
    let diff = (close - open) * side.sign()?;
    let raw = price_value(info, diff, lots);
    let favour = if raw >= 0.0 {
        Favour::Profit
    } else {
        Favour::Loss
    };
    to_account(
        cx,
        info,
        raw,
        &info.currency_profit,
        &acc.currency,
        close,
        t_ms,
        favour,
    )
}

/// The price a position is valued (and closed) at: Bid for buys, Ask for sells.
pub(crate) fn close_price(cx: &Ctx<'_>, p: &Position, t_ms: i64) -> Option<f64> {
    cx.market.quote(&p.symbol, t_ms).and_then(|q| match p.side {
        PositionType::Buy => Some(q.bid),
        PositionType::Sell => Some(q.ask),
        PositionType::Unknown(_) => None,
    })
}

/// Floating profit of a position at `t_ms`, rounded to cents (0 when there is no quote).
pub(crate) fn position_profit(cx: &Ctx<'_>, st: &AccountState, p: &Position, t_ms: i64) -> f64 {
    let Some(info) = cx.market.spec(&p.symbol).map(|s| &s.info) else {
        return 0.0;
    };
    close_price(cx, p, t_ms)
        .and_then(|close| {
            profit(
                cx,
                &st.settings,
                info,
                p.side,
                p.volume,
                p.price_open,
                close,
                t_ms,
            )
        })
        .map(money)
        .unwrap_or(0.0)
}

/// Margin the open positions use. Netting: each position at its open price. Hedging: per symbol,
/// the uncovered volume at the normal rate plus the covered volume with `margin_hedged` in place of
/// the contract size (or the larger leg alone with `margin_hedged_use_leg`).
pub(crate) fn used_margin(cx: &Ctx<'_>, st: &AccountState, t_ms: i64) -> f64 {
    let acc = &st.settings;
    if !st.is_hedging() {
        return st
            .positions
            .iter()
            .filter_map(|p| {
                let info = &cx.market.spec(&p.symbol)?.info;
                margin(
                    cx,
                    acc,
                    info,
                    p.volume,
                    p.price_open,
                    info.trade_contract_size,
                    t_ms,
                )
                .map(money)
            })
            .sum();
    }
    let mut total = 0.0;
    // Each symbol once, where it first appears (no allocation: a backtest asks at every point).
    for (i, first) in st.positions.iter().enumerate() {
        let sym = first.symbol.as_str();
        if st.positions[..i].iter().any(|p| p.symbol == sym) {
            continue;
        }
        let Some(info) = cx.market.spec(sym).map(|s| &s.info) else {
            continue;
        };
        // (lots, lots × price) per side.
        let (mut bl, mut bv, mut sl, mut sv) = (0.0, 0.0, 0.0, 0.0);
        for p in st.positions.iter().filter(|p| p.symbol == sym) {
            match p.side {
                PositionType::Buy => {
                    bl += p.volume;
                    bv += p.volume * p.price_open;
                }
                PositionType::Sell => {
                    sl += p.volume;
                    sv += p.volume * p.price_open;
                }
                // Not made by the simulator; if one were there, it would cover nothing and
                // take its full margin.
                PositionType::Unknown(_) => {
                    total += margin(
                        cx,
                        acc,
                        info,
                        p.volume,
                        p.price_open,
                        info.trade_contract_size,
                        t_ms,
                    )
                    .map(money)
                    .unwrap_or(0.0);
                }
            }
        }
        let avg = |lots: f64, value: f64| if lots > 0.0 { value / lots } else { 0.0 };
        let contract = info.trade_contract_size;
        let m = |lots: f64, price: f64, c: f64| margin(cx, acc, info, lots, price, c, t_ms);
        let part = if info.margin_hedged_use_leg {
            let b = m(bl, avg(bl, bv), contract).unwrap_or(0.0);
            let s = m(sl, avg(sl, sv), contract).unwrap_or(0.0);
            b.max(s)
        } else {
            let covered = bl.min(sl);
            let (big_l, big_v) = if bl >= sl { (bl, bv) } else { (sl, sv) };
            let uncovered = big_l - covered;
            let mut part = 0.0;
            if uncovered > 0.0 {
                part += m(uncovered, avg(big_l, big_v), contract).unwrap_or(0.0);
            }
            if covered > 0.0 {
                let both = avg(bl + sl, bv + sv);
                part += m(covered, both, info.margin_hedged).unwrap_or(0.0);
            }
            part
        };
        total += money(part);
    }
    total
}

/// The account's money at `t_ms`.
/// The equity alone, as [`metrics`] computes it, without the margin: what a backtest samples at
/// every point of a bar's path.
pub(crate) fn equity(cx: &Ctx<'_>, st: &AccountState, t_ms: i64) -> f64 {
    if st.positions.is_empty() {
        return money(money(st.balance) + money(st.credit));
    }
    let profit: f64 = st
        .positions
        .iter()
        .map(|p| position_profit(cx, st, p, t_ms))
        .sum();
    let extras: f64 = st.positions.iter().map(|p| p.swap + p.commission).sum();
    money(money(st.balance) + money(st.credit) + money(profit) + extras)
}

pub(crate) fn metrics(cx: &Ctx<'_>, st: &AccountState, t_ms: i64) -> Metrics {
    let profit: f64 = st
        .positions
        .iter()
        .map(|p| position_profit(cx, st, p, t_ms))
        .sum();
    let extras: f64 = st.positions.iter().map(|p| p.swap + p.commission).sum();
    let balance = money(st.balance);
    let credit = money(st.credit);
    let profit = money(profit);
    let equity = money(balance + credit + profit + extras);
    let margin = money(used_margin(cx, st, t_ms));
    let margin_level = if margin > 0.0 {
        money(equity / margin * 100.0)
    } else {
        0.0
    };
    Metrics {
        balance,
        credit,
        profit,
        equity,
        margin,
        margin_free: money(equity - margin),
        margin_level,
    }
}

pub(crate) fn report_position(cx: &Ctx<'_>, st: &AccountState, p: &Position) -> TradePosition {
    let open = cx.server_ms(p.time_msc);
    let update = cx.server_ms(p.time_update_msc);
    TradePosition {
        ticket: p.ticket,
        time: open.div_euclid(1000),
        time_msc: open,
        time_update: update.div_euclid(1000),
        time_update_msc: update,
        r#type: p.side,
        magic: p.magic,
        identifier: p.ticket,
        reason: p.reason,
        volume: p.volume,
        price_open: p.price_open,
        sl: p.sl,
        tp: p.tp,
        price_current: close_price(cx, p, cx.now_ms).unwrap_or(0.0),
        swap: p.swap,
        profit: position_profit(cx, st, p, cx.now_ms),
        symbol: p.symbol.clone(),
        comment: p.comment.clone(),
        external_id: String::new(),
    }
}

pub(crate) fn report_order(cx: &Ctx<'_>, o: &PendingOrder) -> TradeOrder {
    let price_current = cx
        .market
        .quote(&o.symbol, cx.now_ms)
        .map(|q| if o.r#type.is_buy() { q.ask } else { q.bid })
        .unwrap_or(0.0);
    let mut out = history_order(cx, o, OrderState::Placed, 0, price_current, 0);
    out.time_done = 0;
    out.time_done_msc = 0;
    out.volume_current = o.volume;
    out
}
