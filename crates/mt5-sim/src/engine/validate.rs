//! Request validation in MT5's order (MT5_REFERENCE §10): request validity (10013) → trading
//! allowed (10017, 10042–10044) → session (10018) → volume (10014, 10038, 10034) → order type
//! (10035) → filling (10030) → expiration (10022) → price (10021, 10004, 10015) → stops and freeze
//! (10025, 10016, 10029) → money (10019) → limits (10033, 10040).
//!
//! A request that passes becomes a [`Plan`] plus the account's projected [`Metrics`] after it, which
//! `order_check` reports and `order_send` executes.

use super::book::{AccountState, Book, Ctx, Position};
use super::calc::{self, Metrics};
use super::exec::{self, Fill};
pub(crate) use super::plan::{lots, units, Plan};
use crate::market::Quote;
use mt5::retcode::*;
use mt5::util::{normalize, volume_units};
use mt5::{
    expiration_mode, filling_mode, order_mode, DealReason, OrderFilling, OrderTime, OrderType,
    PositionType, SymbolTradeExecution, SymbolTradeMode, TradeAction, TradeRequest,
};

type Check<T> = Result<T, u32>;

/// Validates `req` against the account and the market now; on success the plan and the projected
/// account values after it.
pub(crate) fn check<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    let finite = [req.volume, req.price, req.stoplimit, req.sl, req.tp]
        .iter()
        .all(|v| v.is_finite());
    if !finite {
        return Err(INVALID);
    }
    match req.action {
        TradeAction::Deal => check_deal(cx, st, req),
        TradeAction::Pending => check_pending(cx, st, req),
        TradeAction::Sltp => check_sltp(cx, st, req),
        TradeAction::Modify => check_modify(cx, st, req),
        TradeAction::Remove => check_remove(cx, st, req),
        TradeAction::CloseBy => check_close_by(cx, st, req),
        // An action MT5 does not list is an invalid request, as the server answers it.
        TradeAction::Unknown(_) => Err(INVALID),
    }
}

fn symbol<'m>(cx: &Ctx<'m>, name: &str) -> Check<&'m mt5::SymbolInfo> {
    if name.is_empty() {
        return Err(INVALID);
    }
    cx.market.spec(name).map(|s| &s.info).ok_or(INVALID)
}

fn position(st: &AccountState, ticket: u64) -> Check<&Position> {
    if ticket == 0 {
        return Err(INVALID);
    }
    st.position(ticket).ok_or(if st.closed.contains(&ticket) {
        POSITION_CLOSED
    } else {
        INVALID
    })
}

fn trade_enabled(st: &AccountState, info: &mt5::SymbolInfo) -> Check<()> {
    // The simulator's own specs hold known modes only; one it could not read is not traded.
    if !st.settings.trade_allowed
        || matches!(
            info.trade_mode,
            SymbolTradeMode::Disabled | SymbolTradeMode::Unknown(_)
        )
    {
        return Err(TRADE_DISABLED);
    }
    Ok(())
}

/// Long-only, short-only and close-only symbols, for a request that opens exposure on `side`.
fn direction_allowed(info: &mt5::SymbolInfo, side: PositionType) -> Check<()> {
    match (info.trade_mode, side) {
        (SymbolTradeMode::LongOnly, PositionType::Sell) => Err(LONG_ONLY),
        (SymbolTradeMode::ShortOnly, PositionType::Buy) => Err(SHORT_ONLY),
        (SymbolTradeMode::CloseOnly, _) => Err(CLOSE_ONLY),
        (SymbolTradeMode::Unknown(_), _) => Err(TRADE_DISABLED),
        (_, PositionType::Unknown(_)) => Err(INVALID),
        (
            SymbolTradeMode::Full
            | SymbolTradeMode::Disabled
            | SymbolTradeMode::LongOnly
            | SymbolTradeMode::ShortOnly,
            PositionType::Buy | PositionType::Sell,
        ) => Ok(()),
    }
}

fn session(cx: &Ctx<'_>, info: &mt5::SymbolInfo) -> Check<()> {
    if cx.market.is_open(&info.name, cx.now_ms) {
        Ok(())
    } else {
        Err(MARKET_CLOSED)
    }
}

fn quote(cx: &Ctx<'_>, info: &mt5::SymbolInfo) -> Check<Quote> {
    cx.market.quote(&info.name, cx.now_ms).ok_or(PRICE_OFF)
}

/// Volume in integer units of the step, within min and max.
pub(crate) fn volume(info: &mt5::SymbolInfo, v: f64) -> Check<i64> {
    let step = info.volume_step;
    let units = volume_units(v, step).ok_or(INVALID_VOLUME)?;
    let min = ((info.volume_min / step).round() as i64).max(1);
    let max = if info.volume_max > 0.0 {
        (info.volume_max / step + 1e-6).floor() as i64
    } else {
        i64::MAX
    };
    if units < min || units > max {
        return Err(INVALID_VOLUME);
    }
    Ok(units)
}

/// Volume on `side` after the request (positions and pending orders of the symbol), against
/// SYMBOL_VOLUME_LIMIT.
fn volume_limit(
    st: &AccountState,
    info: &mt5::SymbolInfo,
    side: PositionType,
    added: i64,
    netting_offset: i64,
) -> Check<()> {
    if info.volume_limit <= 0.0 {
        return Ok(());
    }
    let step = info.volume_step;
    let held: i64 = st
        .positions
        .iter()
        .filter(|p| p.symbol == info.name && p.side == side)
        .map(|p| units(p.volume, step))
        .sum::<i64>()
        + st.orders
            .iter()
            .filter(|o| o.symbol == info.name && o.r#type.side() == Some(side))
            .map(|o| units(o.volume, step))
            .sum::<i64>();
    let limit = (info.volume_limit / step + 1e-6).floor() as i64;
    if held + added - netting_offset > limit {
        return Err(LIMIT_VOLUME);
    }
    Ok(())
}

fn order_type_allowed(info: &mt5::SymbolInfo, t: OrderType, sl: f64, tp: f64) -> Check<()> {
    let mode = info.order_mode;
    if t.order_mode_bit().is_none_or(|bit| mode & bit == 0)
        || (sl > 0.0 && mode & order_mode::SL == 0)
        || (tp > 0.0 && mode & order_mode::TP == 0)
    {
        return Err(INVALID_ORDER);
    }
    Ok(())
}

/// Filling policy: market orders on Market/Exchange execution need the symbol's FOK/IOC bit, and
/// RETURN only on Exchange execution; Request/Instant execution fills market orders FOK whatever
/// was asked. Pending orders accept RETURN, FOK/IOC by bit, BOC for limit types with the BOC bit.
fn filling(info: &mt5::SymbolInfo, t: OrderType, f: OrderFilling) -> Check<()> {
    let bits = info.filling_mode;
    let ok = if t.is_market() {
        match info.trade_exemode {
            SymbolTradeExecution::Request | SymbolTradeExecution::Instant => true,
            SymbolTradeExecution::Market | SymbolTradeExecution::Exchange => match f {
                OrderFilling::Fok => bits & filling_mode::FOK != 0,
                OrderFilling::Ioc => bits & filling_mode::IOC != 0,
                OrderFilling::Return => info.trade_exemode == SymbolTradeExecution::Exchange,
                OrderFilling::Boc | OrderFilling::Unknown(_) => false,
            },
            // Not in the simulator's own specs; nothing is filled under rules it cannot read.
            SymbolTradeExecution::Unknown(_) => false,
        }
    } else {
        match f {
            OrderFilling::Return => true,
            OrderFilling::Fok => bits & filling_mode::FOK != 0,
            OrderFilling::Ioc => bits & filling_mode::IOC != 0,
            OrderFilling::Boc => {
                bits & filling_mode::BOC != 0 && (t.is_limit() || t.is_stop_limit())
            }
            // A filling MT5 does not list is refused as unsupported, as the server does.
            OrderFilling::Unknown(_) => false,
        }
    };
    if ok {
        Ok(())
    } else {
        Err(INVALID_FILL)
    }
}

const DAY_MS: i64 = 86_400_000;
/// 3000-01-01 00:00:00.
const MAX_EXPIRATION_S: i64 = 32_503_680_000;

/// End of the server day that contains `server_ms`, in server ms.
fn day_end(server_ms: i64) -> i64 {
    (server_ms.div_euclid(DAY_MS) + 1) * DAY_MS
}

/// Expiration of a pending order as UTC ms (0 = never), or 10022.
pub(crate) fn expiry(
    cx: &Ctx<'_>,
    info: &mt5::SymbolInfo,
    type_time: OrderTime,
    expiration: i64,
) -> Check<i64> {
    let modes = info.expiration_mode;
    let now_server = cx.server_ms(cx.now_ms);
    // Beyond the year 3000 (or before 1970) an expiration is a client bug, not a date.
    if matches!(type_time, OrderTime::Specified | OrderTime::SpecifiedDay)
        && !(1..=MAX_EXPIRATION_S).contains(&expiration)
    {
        return Err(INVALID_EXPIRATION);
    }
    let allowed = |bit: u32| modes & bit != 0;
    match type_time {
        OrderTime::Gtc if modes == 0 || allowed(expiration_mode::GTC) => Ok(0),
        OrderTime::Day if allowed(expiration_mode::DAY) => Ok(day_end(now_server) - cx.offset_ms),
        OrderTime::Specified if allowed(expiration_mode::SPECIFIED) => {
            let at = expiration * 1000;
            if at <= now_server {
                return Err(INVALID_EXPIRATION);
            }
            Ok(at - cx.offset_ms)
        }
        OrderTime::SpecifiedDay if allowed(expiration_mode::SPECIFIED_DAY) => {
            let end = day_end(expiration * 1000);
            if end <= now_server {
                return Err(INVALID_EXPIRATION);
            }
            Ok(end - cx.offset_ms)
        }
        _ => Err(INVALID_EXPIRATION),
    }
}

/// A price on the symbol's digits and tick-size grid.
fn on_grid(info: &mt5::SymbolInfo, price: f64) -> bool {
    let tick = if info.trade_tick_size > 0.0 {
        info.trade_tick_size
    } else {
        info.point
    };
    let digits_ok = (price - normalize(price, info.digits)).abs() <= info.point * 1e-3;
    digits_ok && (tick <= 0.0 || volume_units(price, tick).is_some())
}

/// Signed distance `a − b` in whole points.
fn points(info: &mt5::SymbolInfo, a: f64, b: f64) -> i64 {
    let point = if info.point > 0.0 { info.point } else { 1e-5 };
    ((a - b) / point).round() as i64
}

/// A level on the right side and at least the stops level away (strictly further when strict).
fn far_enough(cx: &Ctx<'_>, info: &mt5::SymbolInfo, dist_points: i64) -> bool {
    let level = i64::from(info.trade_stops_level);
    dist_points > 0
        && if cx.strict {
            dist_points > level
        } else {
            dist_points >= level
        }
}

/// SL/TP for a position or order on `side` whose reference price is `reference` (Bid for buy
/// positions, Ask for sell positions, the open price for pending orders): MT5_REFERENCE §8.4.
fn stops(
    cx: &Ctx<'_>,
    info: &mt5::SymbolInfo,
    side: PositionType,
    reference: f64,
    sl: f64,
    tp: f64,
) -> Check<()> {
    for (level, is_sl) in [(sl, true), (tp, false)] {
        if level == 0.0 {
            continue;
        }
        if level < 0.0 || !on_grid(info, level) {
            return Err(INVALID_STOPS);
        }
        let dist = match (side, is_sl) {
            (PositionType::Buy, true) | (PositionType::Sell, false) => {
                points(info, reference, level)
            }
            (PositionType::Buy, false) | (PositionType::Sell, true) => {
                points(info, level, reference)
            }
            // Sides here come from validated request types or the broker's own positions; a
            // side it cannot read has no right side for a stop.
            (PositionType::Unknown(_), _) => return Err(INVALID),
        };
        if !far_enough(cx, info, dist) {
            return Err(INVALID_STOPS);
        }
    }
    Ok(())
}

/// Whether `level` is within the freeze level of the market price `market`.
fn frozen(info: &mt5::SymbolInfo, level: f64, market: f64) -> bool {
    let f = i64::from(info.trade_freeze_level);
    f > 0 && level != 0.0 && points(info, level, market).abs() <= f
}

/// Pending price (and stop-limit price) on the right side of the market and the stops level away.
fn pending_price(
    cx: &Ctx<'_>,
    info: &mt5::SymbolInfo,
    t: OrderType,
    price: f64,
    stoplimit: f64,
    q: &Quote,
) -> Check<()> {
    if price <= 0.0 || !on_grid(info, price) {
        return Err(INVALID_PRICE);
    }
    let dist = match t {
        OrderType::BuyLimit => points(info, q.ask, price),
        OrderType::SellLimit => points(info, price, q.bid),
        OrderType::BuyStop | OrderType::BuyStopLimit => points(info, price, q.ask),
        OrderType::SellStop | OrderType::SellStopLimit => points(info, q.bid, price),
        _ => return Err(INVALID),
    };
    if !far_enough(cx, info, dist) {
        return Err(INVALID_PRICE);
    }
    if t.is_stop_limit() {
        if stoplimit <= 0.0 || !on_grid(info, stoplimit) {
            return Err(INVALID_PRICE);
        }
        // The limit order placed on activation must rest: below the trigger for buys, above for sells.
        let gap = match t {
            OrderType::BuyStopLimit => points(info, price, stoplimit),
            _ => points(info, stoplimit, price),
        };
        if !far_enough(cx, info, gap) {
            return Err(INVALID_PRICE);
        }
    }
    Ok(())
}

/// The price a pending order opens at: its price, or its stop-limit price.
fn open_price(t: OrderType, price: f64, stoplimit: f64) -> f64 {
    if t.is_stop_limit() {
        stoplimit
    } else {
        price
    }
}

/// No money: the operation would raise the used margin above equity.
fn money_check(cx: &Ctx<'_>, st: &AccountState, after: &Metrics) -> Check<()> {
    let before = calc::metrics(cx, st, cx.now_ms);
    if after.margin > after.equity && after.margin > before.margin {
        return Err(NO_MONEY);
    }
    Ok(())
}

/// The account after executing `plan` on a copy (pending orders: as if filled at their price).
fn project(cx: &Ctx<'_>, st: &AccountState, req: &TradeRequest, plan: &Plan<'_>) -> Check<Metrics> {
    let mut probe = st.clone();
    // Tickets of a projection are never seen outside it.
    let mut next = u64::MAX / 2;
    let mut alloc = || {
        next += 1;
        next
    };
    let mut book = Book {
        tickets: &mut alloc,
        deals: Vec::new(),
        orders: Vec::new(),
    };
    match plan {
        Plan::Pending { info, volume, .. } => {
            let order = (book.tickets)();
            exec::fill(
                cx,
                &mut book,
                &mut probe,
                Fill {
                    info,
                    side: req.r#type.side().ok_or(INVALID)?,
                    volume: *volume,
                    price: open_price(req.r#type, req.price, req.stoplimit),
                    close: None,
                    order,
                    magic: req.magic,
                    comment: String::new(),
                    reason: DealReason::Expert,
                    sl: req.sl,
                    tp: req.tp,
                    t_ms: cx.now_ms,
                },
            )?;
        }
        _ => {
            exec::execute(cx, &mut book, &mut probe, req, plan)?;
        }
    }
    Ok(calc::metrics(cx, &probe, cx.now_ms))
}

fn check_deal<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    if !req.r#type.is_market() {
        return Err(INVALID);
    }
    let side = req.r#type.side().ok_or(INVALID)?;
    let info = symbol(cx, &req.symbol)?;
    let target = if req.position != 0 {
        let p = position(st, req.position)?;
        if p.symbol != info.name || p.side == side {
            return Err(INVALID);
        }
        Some(p)
    } else {
        None
    };
    trade_enabled(st, info)?;
    session(cx, info)?;
    let step = info.volume_step;
    let u = volume(info, req.volume)?;
    if let Some(p) = target {
        if u > units(p.volume, step) {
            return Err(INVALID_CLOSE_VOLUME);
        }
    }
    // Exposure the deal opens: hedging without a target opens; netting opens beyond the opposite
    // position's volume.
    let netpos = if st.is_hedging() {
        None
    } else {
        st.positions.iter().find(|p| p.symbol == info.name)
    };
    let offset = match netpos {
        Some(p) if p.side != side => units(p.volume, step),
        _ => 0,
    };
    let opens = target.is_none() && u > offset;
    if opens {
        direction_allowed(info, side)?;
        volume_limit(st, info, side, u, offset)?;
        order_type_allowed(info, req.r#type, req.sl, req.tp)?;
    } else {
        order_type_allowed(info, req.r#type, 0.0, 0.0)?;
    }
    filling(info, req.r#type, req.type_filling)?;
    let q = quote(cx, info)?;
    let price = match side {
        PositionType::Buy => q.ask,
        PositionType::Sell => q.bid,
        PositionType::Unknown(_) => return Err(INVALID),
    };
    if req.price > 0.0
        && matches!(
            info.trade_exemode,
            SymbolTradeExecution::Request | SymbolTradeExecution::Instant
        )
        && points(info, price, req.price).unsigned_abs() > req.deviation
    {
        return Err(REQUOTE);
    }
    if opens {
        let reference = match side {
            PositionType::Buy => q.bid,
            PositionType::Sell => q.ask,
            PositionType::Unknown(_) => return Err(INVALID),
        };
        stops(cx, info, side, reference, req.sl, req.tp)?;
    }
    // A position whose SL or TP is within the freeze level of the price it closes at cannot be
    // closed or reduced (MQL4 book, "Requirements and Limitations in Making Trades").
    let reduced = target.or(netpos.filter(|p| p.side != side));
    if let Some(p) = reduced {
        let close_at = match p.side {
            PositionType::Buy => q.bid,
            PositionType::Sell => q.ask,
            PositionType::Unknown(_) => return Err(INVALID),
        };
        if frozen(info, p.sl, close_at) || frozen(info, p.tp, close_at) {
            return Err(FROZEN);
        }
    }
    let plan = Plan::Deal {
        info,
        side,
        volume: lots(u, step),
        price,
        close: target.map(|p| p.ticket),
    };
    let after = project(cx, st, req, &plan)?;
    money_check(cx, st, &after)?;
    let limit = st.settings.limit_positions as usize;
    if opens && limit > 0 {
        let count = if st.is_hedging() {
            st.positions.len() + st.orders.len()
        } else if netpos.is_none() {
            st.positions.len()
        } else {
            0
        };
        if count >= limit {
            return Err(LIMIT_POSITIONS);
        }
    }
    Ok((plan, after))
}

fn check_pending<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    let t = req.r#type;
    if !t.is_pending() {
        return Err(INVALID);
    }
    let side = t.side().ok_or(INVALID)?;
    let info = symbol(cx, &req.symbol)?;
    trade_enabled(st, info)?;
    session(cx, info)?;
    let u = volume(info, req.volume)?;
    direction_allowed(info, side)?;
    volume_limit(st, info, side, u, 0)?;
    order_type_allowed(info, t, req.sl, req.tp)?;
    filling(info, t, req.type_filling)?;
    let expire_at_ms = expiry(cx, info, req.type_time, req.expiration)?;
    let q = quote(cx, info)?;
    pending_price(cx, info, t, req.price, req.stoplimit, &q)?;
    stops(
        cx,
        info,
        side,
        open_price(t, req.price, req.stoplimit),
        req.sl,
        req.tp,
    )?;
    let plan = Plan::Pending {
        info,
        volume: lots(u, info.volume_step),
        expire_at_ms,
    };
    let after = project(cx, st, req, &plan)?;
    money_check(cx, st, &after)?;
    let s = &st.settings;
    if s.limit_orders > 0 && st.orders.len() >= s.limit_orders as usize {
        return Err(LIMIT_ORDERS);
    }
    if st.is_hedging()
        && s.limit_positions > 0
        && st.positions.len() + st.orders.len() >= s.limit_positions as usize
    {
        return Err(LIMIT_POSITIONS);
    }
    Ok((plan, after))
}

fn check_sltp<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    let p = position(st, req.position)?;
    if !req.symbol.is_empty() && req.symbol != p.symbol {
        return Err(INVALID);
    }
    let info = symbol(cx, &p.symbol)?;
    trade_enabled(st, info)?;
    session(cx, info)?;
    let mode = info.order_mode;
    if (req.sl > 0.0 && mode & order_mode::SL == 0) || (req.tp > 0.0 && mode & order_mode::TP == 0)
    {
        return Err(INVALID_ORDER);
    }
    let q = quote(cx, info)?;
    let half_point = info.point / 2.0;
    if (req.sl - p.sl).abs() < half_point && (req.tp - p.tp).abs() < half_point {
        return Err(NO_CHANGES);
    }
    let reference = match p.side {
        PositionType::Buy => q.bid,
        PositionType::Sell => q.ask,
        PositionType::Unknown(_) => return Err(INVALID),
    };
    stops(cx, info, p.side, reference, req.sl, req.tp)?;
    if frozen(info, p.sl, reference) || frozen(info, p.tp, reference) {
        return Err(FROZEN);
    }
    let plan = Plan::Sltp { position: p.ticket };
    Ok((plan, calc::metrics(cx, st, cx.now_ms)))
}

fn check_modify<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    if req.order == 0 {
        return Err(INVALID);
    }
    let o = st.order(req.order).ok_or(INVALID)?;
    let info = symbol(cx, &o.symbol)?;
    trade_enabled(st, info)?;
    session(cx, info)?;
    let half_point = info.point / 2.0;
    let same = |a: f64, b: f64| (a - b).abs() < half_point;
    let stoplimit_same = !o.r#type.is_stop_limit() || same(req.stoplimit, o.stoplimit);
    if same(req.price, o.price)
        && same(req.sl, o.sl)
        && same(req.tp, o.tp)
        && stoplimit_same
        && req.type_time == o.type_time
        && (req.expiration == o.expiration
            || !matches!(o.type_time, OrderTime::Specified | OrderTime::SpecifiedDay))
    {
        return Err(NO_CHANGES);
    }
    let expire_at_ms = expiry(cx, info, req.type_time, req.expiration)?;
    let q = quote(cx, info)?;
    pending_price(cx, info, o.r#type, req.price, req.stoplimit, &q)?;
    stops(
        cx,
        info,
        o.r#type.side().ok_or(INVALID)?,
        open_price(o.r#type, req.price, req.stoplimit),
        req.sl,
        req.tp,
    )?;
    let market = if o.r#type.is_buy() { q.ask } else { q.bid };
    if frozen(info, o.price, market) {
        return Err(FROZEN);
    }
    Ok((
        Plan::Modify {
            order: o.ticket,
            expire_at_ms,
        },
        calc::metrics(cx, st, cx.now_ms),
    ))
}

fn check_remove<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    if req.order == 0 {
        return Err(INVALID);
    }
    let o = st.order(req.order).ok_or(INVALID)?;
    let info = symbol(cx, &o.symbol)?;
    trade_enabled(st, info)?;
    session(cx, info)?;
    let q = quote(cx, info)?;
    let market = if o.r#type.is_buy() { q.ask } else { q.bid };
    if frozen(info, o.price, market) {
        return Err(FROZEN);
    }
    Ok((
        Plan::Remove { order: o.ticket },
        calc::metrics(cx, st, cx.now_ms),
    ))
}

fn check_close_by<'m>(
    cx: &Ctx<'m>,
    st: &AccountState,
    req: &TradeRequest,
) -> Check<(Plan<'m>, Metrics)> {
    if !st.is_hedging() {
        return Err(INVALID_ORDER);
    }
    let a = position(st, req.position)?;
    let b = position(st, req.position_by)?;
    if a.ticket == b.ticket || a.symbol != b.symbol || a.side == b.side {
        return Err(INVALID);
    }
    if !req.symbol.is_empty() && req.symbol != a.symbol {
        return Err(INVALID);
    }
    let info = symbol(cx, &a.symbol)?;
    trade_enabled(st, info)?;
    session(cx, info)?;
    if info.order_mode & order_mode::CLOSEBY == 0 {
        return Err(INVALID_ORDER);
    }
    let plan = Plan::CloseBy {
        position: a.ticket,
        by: b.ticket,
    };
    let after = project(cx, st, req, &plan)?;
    Ok((plan, after))
}
