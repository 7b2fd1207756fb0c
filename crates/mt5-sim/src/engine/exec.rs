//! Execution of validated requests, and the one place positions change: [`fill`] (netting and
//! hedging bookkeeping, realised profit, deals) and [`close_position`] (server-side closes).

use super::book::{history_order, server_comment, AccountState, Book, Ctx, PendingOrder, Position};
use super::calc::{self, money};
use super::plan::{lots, units, Plan};
use mt5::retcode::{DONE, INVALID, PRICE_OFF};
use mt5::{
    DealEntry, DealReason, DealType, OrderFilling, OrderReason, OrderSendResult, OrderState,
    OrderTime, OrderType, PositionReason, PositionType, SymbolInfo, TradeDeal, TradeOrder,
    TradeRequest,
};

/// One execution against the account.
pub(crate) struct Fill<'m> {
    pub info: &'m SymbolInfo,
    /// Direction of the deal.
    pub side: PositionType,
    pub volume: f64,
    pub price: f64,
    /// The position the deal closes (hedging: required to close; netting: optional).
    pub close: Option<u64>,
    /// Ticket of the order this deal executes.
    pub order: u64,
    pub magic: u64,
    pub comment: String,
    pub reason: DealReason,
    pub sl: f64,
    pub tp: f64,
    pub t_ms: i64,
}

// Sides reach execution from validated requests and the broker's own positions, so they are
// known; one that is not is refused (10013), never booked on a guessed side.
fn deal_type(side: PositionType) -> Result<DealType, u32> {
    match side {
        PositionType::Buy => Ok(DealType::Buy),
        PositionType::Sell => Ok(DealType::Sell),
        PositionType::Unknown(_) => Err(INVALID),
    }
}

fn order_type(side: PositionType) -> Result<OrderType, u32> {
    side.order_type().ok_or(INVALID)
}

fn opposite(side: PositionType) -> Result<PositionType, u32> {
    side.opposite().ok_or(INVALID)
}

/// The reason of the order a server-side close records: SL, TP and stop-out are the server's
/// own; every other deal the simulator makes is the client's (the bridge is an expert).
fn order_reason(r: DealReason) -> OrderReason {
    match r {
        DealReason::Sl => OrderReason::Sl,
        DealReason::Tp => OrderReason::Tp,
        DealReason::So => OrderReason::So,
        DealReason::Client
        | DealReason::Mobile
        | DealReason::Web
        | DealReason::Expert
        | DealReason::Rollover
        | DealReason::Vmargin
        | DealReason::Split
        | DealReason::Unknown(_) => OrderReason::Expert,
    }
}

/// Takes `u` units off a position, removing it (and remembering its id) when nothing is left.
fn reduce(st: &mut AccountState, ticket: u64, u: i64, step: f64, t_ms: i64) {
    if let Some(i) = st.positions.iter().position(|p| p.ticket == ticket) {
        let left = units(st.positions[i].volume, step) - u;
        if left > 0 {
            st.positions[i].volume = lots(left, step);
            st.positions[i].time_update_msc = t_ms;
        } else {
            st.positions.remove(i);
            st.remember_closed(ticket);
        }
    }
}

/// Executes one deal: opens, adds to, reduces, closes or reverses a position, books the realised
/// profit to the balance and records the deal.
pub(crate) fn fill(
    cx: &Ctx<'_>,
    book: &mut Book<'_>,
    st: &mut AccountState,
    f: Fill<'_>,
) -> Result<TradeDeal, u32> {
    let step = f.info.volume_step;
    let u = units(f.volume, step);
    let r#type = deal_type(f.side)?;
    let target = match f.close {
        Some(id) => Some(
            st.positions
                .iter()
                .position(|p| p.ticket == id)
                .ok_or(INVALID)?,
        ),
        None if !st.is_hedging() => st.positions.iter().position(|p| p.symbol == f.info.name),
        None => None,
    };
    // The swap a closing deal realises: all the position has accrued (see the module's choices).
    let (entry, position_id, profit, swap) = match target {
        None => {
            st.positions.push(Position {
                ticket: f.order,
                symbol: f.info.name.clone(),
                side: f.side,
                volume: lots(u, step),
                price_open: f.price,
                sl: f.sl,
                tp: f.tp,
                magic: f.magic,
                comment: f.comment.clone(),
                reason: PositionReason::Expert,
                time_msc: f.t_ms,
                time_update_msc: f.t_ms,
                swap: 0.0,
                commission: 0.0,
            });
            (DealEntry::In, f.order, 0.0, 0.0)
        }
        Some(i) if st.positions[i].side == f.side => {
            // Netting: same direction adds to the position at the volume-weighted price.
            let p = &mut st.positions[i];
            let pu = units(p.volume, step);
            let total = pu + u;
            p.price_open = (p.price_open * pu as f64 + f.price * u as f64) / total as f64;
            p.volume = lots(total, step);
            p.time_update_msc = f.t_ms;
            if f.sl > 0.0 {
                p.sl = f.sl;
            }
            if f.tp > 0.0 {
                p.tp = f.tp;
            }
            (DealEntry::In, p.ticket, 0.0, 0.0)
        }
        Some(i) => {
            let p = st.positions[i].clone();
            let pu = units(p.volume, step);
            let closed = u.min(pu);
            let profit = calc::profit(
                cx,
                &st.settings,
                f.info,
                p.side,
                lots(closed, step),
                p.price_open,
                f.price,
                f.t_ms,
            )
            .map(money)
            .ok_or(PRICE_OFF)?;
            if u <= pu {
                reduce(st, p.ticket, u, step, f.t_ms);
                if let Some(left) = st.positions.iter_mut().find(|q| q.ticket == p.ticket) {
                    left.swap = 0.0;
                }
                (DealEntry::Out, p.ticket, profit, p.swap)
            } else {
                // Netting reversal: the rest opens the other way at this price; the position keeps
                // its ticket and identifier.
                let q = &mut st.positions[i];
                q.side = f.side;
                q.volume = lots(u - pu, step);
                q.price_open = f.price;
                q.time_update_msc = f.t_ms;
                q.sl = f.sl;
                q.tp = f.tp;
                q.swap = 0.0;
                (DealEntry::InOut, p.ticket, profit, p.swap)
            }
        }
    };
    let volume = lots(u, step);
    let commission = cx.costs.commission(volume);
    // MT5 books a deal's profit, swap and commission to the balance when the deal is made.
    st.balance = money(st.balance + profit + swap + commission);
    let server = cx.server_ms(f.t_ms);
    let deal = TradeDeal {
        ticket: (book.tickets)(),
        order: f.order,
        time: server.div_euclid(1000),
        time_msc: server,
        r#type,
        entry,
        magic: f.magic,
        position_id,
        reason: f.reason,
        volume,
        price: f.price,
        commission,
        swap,
        profit,
        fee: 0.0,
        symbol: f.info.name.clone(),
        comment: f.comment,
        external_id: String::new(),
    };
    book.deals.push(deal.clone());
    Ok(deal)
}

/// A filled market order as history keeps it.
#[allow(clippy::too_many_arguments)] // the fields MT5 records for a filled market order
fn market_order(
    cx: &Ctx<'_>,
    ticket: u64,
    side: PositionType,
    symbol: &str,
    volume: f64,
    price: f64,
    position_id: u64,
    reason: OrderReason,
    req: Option<&TradeRequest>,
    comment: String,
    t_ms: i64,
) -> Result<TradeOrder, u32> {
    let server = cx.server_ms(t_ms);
    Ok(TradeOrder {
        ticket,
        time_setup: server.div_euclid(1000),
        time_setup_msc: server,
        time_done: server.div_euclid(1000),
        time_done_msc: server,
        time_expiration: 0,
        r#type: order_type(side)?,
        type_time: OrderTime::Gtc,
        type_filling: req.map(|r| r.type_filling).unwrap_or(OrderFilling::Fok),
        state: OrderState::Filled,
        magic: req.map(|r| r.magic).unwrap_or(0),
        position_id,
        position_by_id: 0,
        reason,
        volume_initial: volume,
        volume_current: 0.0,
        price_open: price,
        sl: req.map(|r| r.sl).unwrap_or(0.0),
        tp: req.map(|r| r.tp).unwrap_or(0.0),
        price_current: price,
        price_stoplimit: 0.0,
        symbol: symbol.to_string(),
        comment,
        external_id: String::new(),
    })
}

/// Closes a whole position at `price` on the server's initiative (SL, TP, stop-out), with its own
/// order and deal, as MT5 records them.
#[allow(clippy::too_many_arguments)] // what a server-side close records
pub(crate) fn close_position(
    cx: &Ctx<'_>,
    book: &mut Book<'_>,
    st: &mut AccountState,
    ticket: u64,
    price: f64,
    reason: DealReason,
    comment: String,
    t_ms: i64,
) -> Result<TradeDeal, u32> {
    let p = st.position(ticket).cloned().ok_or(INVALID)?;
    let info = &cx.market.spec(&p.symbol).ok_or(INVALID)?.info;
    let side = opposite(p.side)?;
    let order = (book.tickets)();
    let deal = fill(
        cx,
        book,
        st,
        Fill {
            info,
            side,
            volume: p.volume,
            price,
            close: Some(ticket),
            order,
            magic: p.magic,
            comment: comment.clone(),
            reason,
            sl: 0.0,
            tp: 0.0,
            t_ms,
        },
    )?;
    book.orders.push(market_order(
        cx,
        order,
        side,
        &p.symbol,
        p.volume,
        price,
        ticket,
        order_reason(reason),
        None,
        comment,
        t_ms,
    )?);
    Ok(deal)
}

fn done(cx: &Ctx<'_>, req: &TradeRequest, symbol: &str) -> OrderSendResult {
    let (bid, ask) = cx
        .market
        .quote(symbol, cx.now_ms)
        .map(|q| (q.bid, q.ask))
        .unwrap_or((0.0, 0.0));
    OrderSendResult {
        retcode: DONE,
        bid,
        ask,
        comment: mt5::retcode::comment(DONE).into(),
        request: req.clone(),
        ..Default::default()
    }
}

/// Executes a validated plan.
pub(crate) fn execute(
    cx: &Ctx<'_>,
    book: &mut Book<'_>,
    st: &mut AccountState,
    req: &TradeRequest,
    plan: &Plan<'_>,
) -> Result<OrderSendResult, u32> {
    let now = cx.now_ms;
    match *plan {
        Plan::Deal {
            info,
            side,
            volume,
            price,
            close,
        } => {
            let order = (book.tickets)();
            let comment = server_comment(&req.comment);
            let deal = fill(
                cx,
                book,
                st,
                Fill {
                    info,
                    side,
                    volume,
                    price,
                    close,
                    order,
                    magic: req.magic,
                    comment: comment.clone(),
                    reason: DealReason::Expert,
                    sl: req.sl,
                    tp: req.tp,
                    t_ms: now,
                },
            )?;
            book.orders.push(market_order(
                cx,
                order,
                side,
                &info.name,
                volume,
                price,
                deal.position_id,
                OrderReason::Expert,
                Some(req),
                comment,
                now,
            )?);
            Ok(OrderSendResult {
                deal: deal.ticket,
                order,
                volume,
                price,
                ..done(cx, req, &info.name)
            })
        }
        Plan::Pending {
            info,
            volume,
            expire_at_ms,
        } => {
            let ticket = (book.tickets)();
            st.orders.push(PendingOrder {
                ticket,
                symbol: info.name.clone(),
                r#type: req.r#type,
                volume,
                price: req.price,
                stoplimit: if req.r#type.is_stop_limit() {
                    req.stoplimit
                } else {
                    0.0
                },
                sl: req.sl,
                tp: req.tp,
                type_time: req.type_time,
                type_filling: req.type_filling,
                expiration: match req.type_time {
                    OrderTime::Specified | OrderTime::SpecifiedDay => req.expiration,
                    _ => 0,
                },
                expire_at_ms,
                magic: req.magic,
                comment: server_comment(&req.comment),
                reason: OrderReason::Expert,
                time_setup_msc: now,
            });
            Ok(OrderSendResult {
                order: ticket,
                volume,
                price: req.price,
                ..done(cx, req, &info.name)
            })
        }
        Plan::Sltp { position } => {
            let p = st
                .positions
                .iter_mut()
                .find(|p| p.ticket == position)
                .ok_or(INVALID)?;
            p.sl = req.sl;
            p.tp = req.tp;
            p.time_update_msc = now;
            let symbol = p.symbol.clone();
            Ok(OrderSendResult {
                volume: p.volume,
                ..done(cx, req, &symbol)
            })
        }
        Plan::Modify {
            order,
            expire_at_ms,
        } => {
            let o = st
                .orders
                .iter_mut()
                .find(|o| o.ticket == order)
                .ok_or(INVALID)?;
            o.price = req.price;
            if o.r#type.is_stop_limit() {
                o.stoplimit = req.stoplimit;
            }
            o.sl = req.sl;
            o.tp = req.tp;
            o.type_time = req.type_time;
            o.expiration = match req.type_time {
                OrderTime::Specified | OrderTime::SpecifiedDay => req.expiration,
                _ => 0,
            };
            o.expire_at_ms = expire_at_ms;
            let (symbol, volume, price) = (o.symbol.clone(), o.volume, o.price);
            Ok(OrderSendResult {
                order,
                volume,
                price,
                ..done(cx, req, &symbol)
            })
        }
        Plan::Remove { order } => {
            let i = st
                .orders
                .iter()
                .position(|o| o.ticket == order)
                .ok_or(INVALID)?;
            let o = st.orders.remove(i);
            let current = cx
                .market
                .quote(&o.symbol, now)
                .map(|q| if o.r#type.is_buy() { q.ask } else { q.bid })
                .unwrap_or(0.0);
            book.orders
                .push(history_order(cx, &o, OrderState::Canceled, now, current, 0));
            Ok(OrderSendResult {
                order,
                volume: o.volume,
                ..done(cx, req, &o.symbol)
            })
        }
        Plan::CloseBy { position, by } => close_by(cx, book, st, req, position, by),
    }
}

/// Closes `position` by the opposite `by`: the common volume of both at `by`'s open price, two
/// OUT_BY deals under one CLOSE_BY order; the larger position keeps the rest.
fn close_by(
    cx: &Ctx<'_>,
    book: &mut Book<'_>,
    st: &mut AccountState,
    req: &TradeRequest,
    position: u64,
    by: u64,
) -> Result<OrderSendResult, u32> {
    let now = cx.now_ms;
    let a = st.position(position).cloned().ok_or(INVALID)?;
    let b = st.position(by).cloned().ok_or(INVALID)?;
    let info = &cx.market.spec(&a.symbol).ok_or(INVALID)?.info;
    let step = info.volume_step;
    let u = units(a.volume, step).min(units(b.volume, step));
    let volume = lots(u, step);
    let price = b.price_open;
    let order = (book.tickets)();
    let comment = server_comment(&req.comment);
    let server = cx.server_ms(now);
    let mut first_deal = 0;
    for p in [&a, &b] {
        let profit = calc::profit(
            cx,
            &st.settings,
            info,
            p.side,
            volume,
            p.price_open,
            price,
            now,
        )
        .map(money)
        .ok_or(PRICE_OFF)?;
        reduce(st, p.ticket, u, step, now);
        if let Some(left) = st.positions.iter_mut().find(|q| q.ticket == p.ticket) {
            left.swap = 0.0;
        }
        let commission = cx.costs.commission(volume);
        st.balance = money(st.balance + profit + p.swap + commission);
        let deal = TradeDeal {
            ticket: (book.tickets)(),
            order,
            time: server.div_euclid(1000),
            time_msc: server,
            r#type: deal_type(opposite(p.side)?)?,
            entry: DealEntry::OutBy,
            magic: req.magic,
            position_id: p.ticket,
            reason: DealReason::Expert,
            volume,
            price,
            commission,
            swap: p.swap,
            profit,
            fee: 0.0,
            symbol: info.name.clone(),
            comment: comment.clone(),
            external_id: String::new(),
        };
        if first_deal == 0 {
            first_deal = deal.ticket;
        }
        book.deals.push(deal);
    }
    book.orders.push(TradeOrder {
        r#type: OrderType::CloseBy,
        position_by_id: b.ticket,
        price_open: 0.0,
        price_current: price,
        sl: 0.0,
        tp: 0.0,
        ..market_order(
            cx,
            order,
            opposite(a.side)?,
            &info.name,
            volume,
            price,
            a.ticket,
            OrderReason::Expert,
            Some(req),
            comment,
            now,
        )?
    });
    Ok(OrderSendResult {
        deal: first_deal,
        order,
        volume,
        price,
        ..done(cx, req, &info.name)
    })
}
