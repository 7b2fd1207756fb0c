//! What the trade server does between requests: swaps at the rollovers, expirations, pending
//! activations, SL/TP and stop-out, applied in time order, on sampled quotes ([`advance`], the
//! live simulator) or on the points a caller gives ([`advance_through`], a backtest).

use super::calc;
use super::exec::{self, Fill};
use super::swap;
use super::{
    history_order, AccountState, Book, Ctx, PendingOrder, Position, MAX_SAMPLES, SAMPLE_STEP_MS,
};
use crate::market::{convert_by_quotes, Favour, Market, PricePoint, Quote, SymbolSpec};
use mt5::{AccountStopoutMode, DealReason, OrderFilling, OrderState, OrderType, PositionType};

pub(crate) fn advance(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, to_ms: i64) {
    let from = st.evaluated_ms;
    if to_ms <= from {
        return;
    }
    let gap = to_ms - from;
    let step = SAMPLE_STEP_MS.max((gap + MAX_SAMPLES - 1) / MAX_SAMPLES);
    let mut t = from;
    while t < to_ms && !(st.positions.is_empty() && st.orders.is_empty()) {
        let prev = t;
        t = (t + step).min(to_ms);
        // A rollover between two samples is charged before the later sample's triggers, at the
        // rollover's own quotes.
        swap::roll(cx, st, prev, t);
        evaluate_at(cx, book, st, t);
    }
    st.evaluated_ms = to_ms;
}

/// `symbol` quoted at one point, every other symbol as the market quotes it.
struct Overlay<'m> {
    base: &'m dyn Market,
    symbol: &'m str,
    quote: Quote,
}

impl Market for Overlay<'_> {
    fn symbols(&self) -> &[SymbolSpec] {
        self.base.symbols()
    }
    fn spec(&self, symbol: &str) -> Option<&SymbolSpec> {
        self.base.spec(symbol)
    }
    fn quote(&self, symbol: &str, utc_ms: i64) -> Option<Quote> {
        if symbol == self.symbol {
            Some(self.quote)
        } else {
            self.base.quote(symbol, utc_ms)
        }
    }
    fn is_open(&self, symbol: &str, utc_ms: i64) -> bool {
        self.base.is_open(symbol, utc_ms)
    }
    fn convert(
        &self,
        amount: f64,
        from: &str,
        to: &str,
        utc_ms: i64,
        favour: Favour,
    ) -> Option<f64> {
        // Through this overlay's quotes, so a conversion through `symbol` sees the point too.
        convert_by_quotes(self, amount, from, to, utc_ms, favour)
    }
}

/// Evaluates triggers at exactly `points` of `symbol`, in order: at each point, the rollovers
/// since the previous one (at the previous point's quote), then expirations, activations, SL/TP
/// and stop-out with `symbol` at that point's bid and ask (other symbols as `cx`'s market quotes
/// them). A point earlier than the account's evaluated time counts as at that time.
///
/// Fill rule: a trigger fills at the price of the point that triggered it. Between two points
/// nothing is assumed about the path, so a level crossed between them (a gap) fills at the
/// second point's price: an SL or a stop beyond its level, a TP or a limit better than its level.
/// This is the simulated server's rule on live quotes too, and MT5's tester's on its ticks: the
/// tester checks orders on the ticks it generates (MT5_REFERENCE §11, which does not state a
/// separate gap rule) and executes at the tick that reaches the level, not at the level (which is
/// why its real-ticks mode is known to give limit and TP orders positive slippage on gaps). A
/// caller that wants a fill at a level inside a bar gives that point on the bar's path.
pub(crate) fn advance_through(
    cx: &Ctx<'_>,
    book: &mut Book<'_>,
    st: &mut AccountState,
    symbol: &str,
    points: &[PricePoint],
) {
    let mut prev: Option<Quote> = None;
    for p in points {
        let t = p.time_ms.max(st.evaluated_ms);
        let quote = Quote {
            bid: p.bid,
            ask: p.ask,
            time_msc: t,
        };
        if !(st.positions.is_empty() && st.orders.is_empty()) {
            if swap::next_rollover(cx, st.evaluated_ms) <= t && !st.positions.is_empty() {
                let at = prev.map(|quote| Overlay {
                    base: cx.market,
                    symbol,
                    quote,
                });
                let rcx = match &at {
                    Some(o) => Ctx { market: o, ..*cx },
                    None => *cx,
                };
                swap::roll(&rcx, st, st.evaluated_ms, t);
            }
            let o = Overlay {
                base: cx.market,
                symbol,
                quote,
            };
            let pcx = Ctx {
                market: &o,
                now_ms: t,
                ..*cx
            };
            evaluate_at(&pcx, book, st, t);
        }
        st.evaluated_ms = t;
        prev = Some(quote);
    }
}

/// One sample: expirations up to `t`, then activations, then SL/TP, then stop-out.
fn evaluate_at(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, t: i64) {
    expire(cx, book, st, t);
    activate(cx, book, st, t);
    sl_tp(cx, book, st, t);
    stop_out(cx, book, st, t);
}

fn expire(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, t: i64) {
    // The common case (nothing due) costs no allocation: a backtest evaluates every point.
    if !st
        .orders
        .iter()
        .any(|o| o.expire_at_ms > 0 && o.expire_at_ms <= t)
    {
        return;
    }
    let (gone, kept): (Vec<PendingOrder>, Vec<PendingOrder>) = std::mem::take(&mut st.orders)
        .into_iter()
        .partition(|o| o.expire_at_ms > 0 && o.expire_at_ms <= t);
    st.orders = kept;
    for o in gone {
        let current = cx
            .market
            .quote(&o.symbol, o.expire_at_ms)
            .map(|q| if o.r#type.is_buy() { q.ask } else { q.bid })
            .unwrap_or(0.0);
        book.orders.push(history_order(
            cx,
            &o,
            OrderState::Expired,
            o.expire_at_ms,
            current,
            0,
        ));
    }
}

fn triggered(o: &PendingOrder, bid: f64, ask: f64) -> bool {
    match o.r#type {
        OrderType::BuyLimit => ask <= o.price,
        OrderType::BuyStop | OrderType::BuyStopLimit => ask >= o.price,
        OrderType::SellLimit => bid >= o.price,
        OrderType::SellStop | OrderType::SellStopLimit => bid <= o.price,
        _ => false,
    }
}

fn activate(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, t: i64) {
    // Orders placed by this pass (stop-limit → limit) wait for the next sample.
    let tickets: Vec<u64> = st.orders.iter().map(|o| o.ticket).collect();
    for ticket in tickets {
        let Some(o) = st.order(ticket).cloned() else {
            continue;
        };
        if !cx.market.is_open(&o.symbol, t) {
            continue;
        }
        let Some(q) = cx.market.quote(&o.symbol, t) else {
            continue;
        };
        if !triggered(&o, q.bid, q.ask) {
            continue;
        }
        st.orders.retain(|x| x.ticket != ticket);
        let market = if o.r#type.is_buy() { q.ask } else { q.bid };
        if o.r#type.is_stop_limit() {
            let limit = PendingOrder {
                ticket: (book.tickets)(),
                r#type: if o.r#type.is_buy() {
                    OrderType::BuyLimit
                } else {
                    OrderType::SellLimit
                },
                price: o.stoplimit,
                stoplimit: 0.0,
                type_filling: OrderFilling::Return,
                time_setup_msc: t,
                ..o.clone()
            };
            st.orders.push(limit);
            book.orders
                .push(history_order(cx, &o, OrderState::Filled, t, market, 0));
            continue;
        }
        let Some(info) = cx.market.spec(&o.symbol).map(|s| &s.info) else {
            continue;
        };
        // Orders in the book were validated, so their side is known; one whose side cannot be
        // told is rejected rather than filled on a guess.
        let Some(side) = o.r#type.side() else {
            book.orders
                .push(history_order(cx, &o, OrderState::Rejected, t, market, 0));
            continue;
        };
        // A triggered stop order fills as a market order: worse by the stop slippage.
        let market = if matches!(o.r#type, OrderType::BuyStop | OrderType::SellStop) {
            cx.costs.slipped(market, info.point, o.r#type.is_buy())
        } else {
            market
        };
        let fill = |order_comment: String| Fill {
            info,
            side,
            volume: o.volume,
            price: market,
            close: None,
            order: o.ticket,
            magic: o.magic,
            comment: order_comment,
            reason: DealReason::Expert,
            sl: o.sl,
            tp: o.tp,
            t_ms: t,
        };
        if !affordable(cx, st, fill(String::new()), t) {
            book.orders
                .push(history_order(cx, &o, OrderState::Rejected, t, market, 0));
            continue;
        }
        match exec::fill(cx, book, st, fill(o.comment.clone())) {
            Ok(deal) => book.orders.push(history_order(
                cx,
                &o,
                OrderState::Filled,
                t,
                market,
                deal.position_id,
            )),
            Err(_) => book
                .orders
                .push(history_order(cx, &o, OrderState::Rejected, t, market, 0)),
        }
    }
}

/// Whether the account can take the fill without its margin exceeding equity.
fn affordable(cx: &Ctx<'_>, st: &AccountState, f: Fill<'_>, t: i64) -> bool {
    let before = calc::metrics(cx, st, t);
    let mut probe = st.clone();
    let mut next = u64::MAX / 2;
    let mut alloc = || {
        next += 1;
        next
    };
    let mut scratch = Book {
        tickets: &mut alloc,
        deals: Vec::new(),
        orders: Vec::new(),
    };
    if exec::fill(cx, &mut scratch, &mut probe, f).is_err() {
        return false;
    }
    let after = calc::metrics(cx, &probe, t);
    !(after.margin > after.equity && after.margin > before.margin)
}

/// The close an SL or TP of `p` calls for at `t`: (price, reason, comment), or none.
fn level_hit(cx: &Ctx<'_>, p: &Position, t: i64) -> Option<(f64, DealReason, String)> {
    if p.sl == 0.0 && p.tp == 0.0 {
        return None;
    }
    if !cx.market.is_open(&p.symbol, t) {
        return None;
    }
    let q = cx.market.quote(&p.symbol, t)?;
    let (price, hit_tp, hit_sl) = match p.side {
        PositionType::Buy => (
            q.bid,
            p.tp > 0.0 && q.bid >= p.tp,
            p.sl > 0.0 && q.bid <= p.sl,
        ),
        PositionType::Sell => (
            q.ask,
            p.tp > 0.0 && q.ask <= p.tp,
            p.sl > 0.0 && q.ask >= p.sl,
        ),
        // Positions are the simulator's own, with a known side; for one without, neither
        // level can be said to be hit.
        PositionType::Unknown(_) => return None,
    };
    if !(hit_tp || hit_sl) {
        return None;
    }
    let digits = cx
        .market
        .spec(&p.symbol)
        .map(|s| s.info.digits as usize)
        .unwrap_or(5);
    let point = cx.market.spec(&p.symbol).map_or(0.0, |s| s.info.point);
    Some(if hit_tp {
        (price, DealReason::Tp, format!("[tp {:.*}]", digits, p.tp))
    } else {
        // A stop loss is a market order once hit: it may fill worse (the closing deal of a buy
        // sells, of a sell buys).
        let slipped = cx.costs.slipped(price, point, p.side == PositionType::Sell);
        (slipped, DealReason::Sl, format!("[sl {:.*}]", digits, p.sl))
    })
}

fn sl_tp(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, t: i64) {
    // By index, without copying positions: a backtest evaluates every point.
    let mut i = 0;
    while i < st.positions.len() {
        let Some((price, reason, comment)) = level_hit(cx, &st.positions[i], t) else {
            i += 1;
            continue;
        };
        let ticket = st.positions[i].ticket;
        // A failed close (no conversion rate) leaves the position for the next sample.
        let _ = exec::close_position(cx, book, st, ticket, price, reason, comment, t);
        if st.positions.get(i).is_some_and(|p| p.ticket == ticket) {
            i += 1;
        }
    }
}

fn stop_out(cx: &Ctx<'_>, book: &mut Book<'_>, st: &mut AccountState, t: i64) {
    let so = st.settings.margin_so_so;
    if so <= 0.0 {
        return;
    }
    // Each pass closes one position, so the loop ends.
    for _ in 0..st.positions.len() {
        let m = calc::metrics(cx, st, t);
        let reached = match st.settings.margin_so_mode {
            AccountStopoutMode::Money => m.equity <= so,
            _ => m.margin_level <= so,
        };
        if !(m.margin > 0.0 && reached) {
            return;
        }
        let worst = st
            .positions
            .iter()
            .map(|p| (p.ticket, calc::position_profit(cx, st, p, t)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((ticket, _)) = worst else {
            return;
        };
        let Some(p) = st.position(ticket).cloned() else {
            return;
        };
        let Some(price) = calc::close_price(cx, &p, t) else {
            return;
        };
        let point = cx.market.spec(&p.symbol).map_or(0.0, |s| s.info.point);
        let price = cx.costs.slipped(price, point, p.side == PositionType::Sell);
        let comment = format!("[so {:.2}%]", m.margin_level);
        if exec::close_position(cx, book, st, ticket, price, DealReason::So, comment, t).is_err() {
            return;
        }
    }
}
