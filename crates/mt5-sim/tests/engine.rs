//! The trading engine against hand-set quotes: MT5's documented numbers, every return code, netting
//! and hedging bookkeeping, triggers and expirations.

mod common;

use common::*;
use mt5::retcode::*;
use mt5::{
    AccountMarginMode::{RetailHedging, RetailNetting},
    DealEntry, DealReason, DealType, OrderFilling, OrderState, OrderTime, OrderType, PositionType,
    SymbolTradeExecution, SymbolTradeMode, TradeAction, TradeRequest,
};

// ---------------------------------------------------------------- documented numbers (§8.6–8.7)

#[test]
fn margin_matches_the_documentation() {
    let m = FixedMarket::new();
    m.set("EURUSD", 1.0990, 1.0991);
    m.set("GBPUSD", 1.2272, 1.2273);
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let mut margin = |sym: &str, price: f64| {
        a.run(&m, |e, st| {
            e.calc_margin(st, OrderType::Buy, sym, 0.1, price).unwrap()
        })
    };
    assert_eq!(margin("EURUSD", 1.0991), 109.91);
    assert_eq!(margin("GBPUSD", 1.2273), 122.73);
    assert_eq!(margin("USDJPY", 108.183), 100.0);
    assert_eq!(margin("USDCHF", 0.9101), 100.0);
    // EURJPY: 100 EUR converted through EURUSD (ask, the side a client pays).
    assert_eq!(margin("EURJPY", 118.92), 109.91);
}

#[test]
fn profit_matches_the_documentation() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let (bid, ask) = m.bid_ask("USDJPY");
    let buy = a.run(&m, |e, st| {
        e.calc_profit(st, OrderType::Buy, "USDJPY", 1.0, ask, ask + 0.3)
            .unwrap()
    });
    let sell = a.run(&m, |e, st| {
        e.calc_profit(st, OrderType::Sell, "USDJPY", 1.0, bid, bid - 0.3)
            .unwrap()
    });
    assert_eq!(buy, 276.54);
    assert_eq!(sell, 278.09);
    let (bid, ask) = m.bid_ask("EURUSD");
    let eur_buy = a.run(&m, |e, st| {
        e.calc_profit(st, OrderType::Buy, "EURUSD", 1.0, ask, ask + 0.003)
            .unwrap()
    });
    let eur_sell = a.run(&m, |e, st| {
        e.calc_profit(st, OrderType::Sell, "EURUSD", 1.0, bid, bid - 0.003)
            .unwrap()
    });
    assert_eq!(eur_buy, 300.0);
    assert_eq!(eur_sell, 300.0);
    let err = a.run(&m, |e, st| {
        e.calc_profit(st, OrderType::BuyLimit, "EURUSD", 1.0, 1.0, 1.1)
    });
    assert!(err.is_err());
    let err = a.run(&m, |e, st| {
        e.calc_margin(st, OrderType::Buy, "NOPE", 1.0, 1.0)
    });
    assert_eq!(err, Err(mt5::TerminalError::not_found()));
}

// ---------------------------------------------------------------- execution and accounting

#[test]
fn market_buy_opens_a_position_with_its_order_and_deal() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let mut req = market("EURUSD", OrderType::Buy, 0.1);
    req.comment = "a comment that is much longer than thirty-one chars".into();
    let r = a.send(&m, &req);
    assert_eq!(r.retcode, DONE);
    assert_eq!(r.comment, "Request executed");
    assert_eq!((r.price, r.volume), (1.0991, 0.1));
    assert_eq!((r.bid, r.ask), (1.099, 1.0991));
    assert!(r.order > 0 && r.deal > r.order);
    let pos = a.positions(&m);
    assert_eq!(pos.len(), 1);
    let p = &pos[0];
    assert_eq!((p.ticket, p.identifier), (r.order, r.order));
    assert_eq!(p.r#type, PositionType::Buy);
    assert_eq!(p.price_open, 1.0991);
    assert_eq!(p.price_current, 1.099);
    assert_eq!(p.profit, -1.0);
    assert_eq!(p.magic, 7);
    assert_eq!(p.comment.len(), 31);
    assert_eq!(p.reason, mt5::PositionReason::Expert);
    assert_eq!(p.time, (T0 / 1000) + OFFSET_S);
    let deal = a.deals.last().unwrap();
    assert_eq!(deal.ticket, r.deal);
    assert_eq!((deal.entry, deal.r#type), (DealEntry::In, DealType::Buy));
    assert_eq!((deal.profit, deal.reason), (0.0, DealReason::Expert));
    assert_eq!(deal.position_id, r.order);
    let order = a.orders.last().unwrap();
    assert_eq!((order.ticket, order.state), (r.order, OrderState::Filled));
    assert_eq!(order.position_id, r.order);
    // The initial deposit is a balance deal.
    assert_eq!(a.deals[0].r#type, DealType::Balance);
    assert_eq!(a.deals[0].profit, 10_000.0);
    let mt = a.metrics(&m);
    assert_eq!(mt.balance, 10_000.0);
    assert_eq!(mt.equity, 9_999.0);
    assert_eq!(mt.margin, 109.91);
    assert_eq!(mt.margin_free, 9_889.09);
    assert_eq!(mt.margin_level, 9_097.44);
}

#[test]
fn order_check_projects_the_account_without_trading() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailNetting, 10_000.0);
    let c = a.check(&m, &market("EURUSD", OrderType::Buy, 0.1));
    assert_eq!((c.retcode, c.comment.as_str()), (0, "Done"));
    assert_eq!(c.balance, 10_000.0);
    assert_eq!(c.equity, 9_999.0);
    assert_eq!(c.profit, -1.0);
    assert_eq!(c.margin, 109.91);
    assert_eq!(c.margin_free, 9_889.09);
    assert!(a.positions(&m).is_empty());
    assert_eq!(a.deals.len(), 1);
    let bad = a.check(&m, &market("EURUSD", OrderType::Buy, 0.015));
    assert_eq!(
        (bad.retcode, bad.comment.as_str()),
        (INVALID_VOLUME, "Invalid volume")
    );
}

#[test]
fn netting_increases_reduces_reverses_and_closes() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailNetting, 10_000.0);
    m.set("EURUSD", 1.1000, 1.1000);
    let r1 = a.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    m.set("EURUSD", 1.1030, 1.1030);
    let r2 = a.send(&m, &market("EURUSD", OrderType::Buy, 0.2));
    assert_eq!(r2.retcode, DONE);
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].ticket, r1.order);
    assert!(approx(p[0].volume, 0.3));
    assert!(approx(p[0].price_open, 1.1020));
    assert_eq!(a.deals.last().unwrap().entry, DealEntry::In);
    assert_eq!(a.deals.last().unwrap().position_id, r1.order);

    // Reduce by 0.1 at 1.1040: profit 0.0020 × 100000 × 0.1 = 20.
    m.set("EURUSD", 1.1040, 1.1040);
    let r3 = a.send(&m, &market("EURUSD", OrderType::Sell, 0.1));
    assert_eq!(r3.retcode, DONE);
    let d = a.deals.last().unwrap();
    assert_eq!((d.entry, d.profit), (DealEntry::Out, 20.0));
    assert_eq!(a.metrics(&m).balance, 10_020.0);
    assert!(approx(a.positions(&m)[0].volume, 0.2));

    // Reverse: sell 0.5 closes 0.2 (profit 0.0010 × 20000 = 20) and opens 0.3 sell.
    m.set("EURUSD", 1.1030, 1.1030);
    let r4 = a.send(&m, &market("EURUSD", OrderType::Sell, 0.5));
    assert_eq!(r4.retcode, DONE);
    let d = a.deals.last().unwrap();
    assert_eq!(d.entry, DealEntry::InOut);
    assert!(approx(d.volume, 0.5));
    assert_eq!(d.profit, 20.0);
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].ticket, p[0].identifier), (r1.order, r1.order));
    assert_eq!(p[0].r#type, PositionType::Sell);
    assert!(approx(p[0].volume, 0.3));
    assert_eq!(p[0].price_open, 1.1030);

    // Close exactly, naming the position.
    m.set("EURUSD", 1.1010, 1.1010);
    let r5 = a.send(&m, &close("EURUSD", OrderType::Buy, 0.3, r1.order));
    assert_eq!(r5.retcode, DONE);
    let d = a.deals.last().unwrap();
    assert_eq!((d.entry, d.profit), (DealEntry::Out, 60.0));
    assert!(a.positions(&m).is_empty());
    assert_eq!(a.metrics(&m).balance, 10_100.0);
    let realised: f64 = a.deals.iter().skip(1).map(|d| d.profit).sum();
    assert!(approx(realised, 100.0));
    // Closing it again: it is gone.
    let again = a.send(&m, &close("EURUSD", OrderType::Buy, 0.3, r1.order));
    assert_eq!(again.retcode, POSITION_CLOSED);
}

#[test]
fn hedging_keeps_opposite_positions_and_closes_by() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    m.set("EURUSD", 1.1000, 1.1001);
    let buy = a.send(&m, &market("EURUSD", OrderType::Buy, 1.0));
    m.set("EURUSD", 1.1050, 1.1051);
    let sell = a.send(&m, &market("EURUSD", OrderType::Sell, 0.4));
    assert_eq!(a.positions(&m).len(), 2);
    // Hedged margin: 0.6 uncovered at the buy's price + 0.4 covered with margin_hedged.
    let mt = a.metrics(&m);
    let expected = (0.6 * 1000.0 * 1.1001_f64 * 100.0).round() / 100.0
        + (0.4 * 1000.0 * ((1.1001_f64 + 0.4 * 1.1050) / 1.4) * 100.0).round() / 100.0;
    assert!(
        (mt.margin - expected).abs() < 0.02,
        "{} vs {}",
        mt.margin,
        expected
    );

    let cb = TradeRequest {
        action: TradeAction::CloseBy,
        position: buy.order,
        position_by: sell.order,
        ..Default::default()
    };
    let r = a.send(&m, &cb);
    assert_eq!(r.retcode, DONE);
    assert!(approx(r.volume, 0.4));
    assert_eq!(r.price, 1.1050);
    let out: Vec<_> = a
        .deals
        .iter()
        .filter(|d| d.entry == DealEntry::OutBy)
        .collect();
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|d| d.price == 1.1050 && d.order == r.order));
    // The buy closes 0.4 at the sell's open: (1.1050 − 1.1001) × 40000 = 196; the sell at its own price: 0.
    assert_eq!(out[0].position_id, buy.order);
    assert_eq!(out[0].profit, 196.0);
    assert_eq!(out[1].profit, 0.0);
    let order = a.orders.last().unwrap();
    assert_eq!(order.r#type, OrderType::CloseBy);
    assert_eq!(
        (order.position_id, order.position_by_id),
        (buy.order, sell.order)
    );
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].ticket, buy.order);
    assert!(approx(p[0].volume, 0.6));
    assert_eq!(a.metrics(&m).balance, 10_196.0);

    // Partial close of the rest, by ticket.
    let r = a.send(&m, &close("EURUSD", OrderType::Sell, 0.25, buy.order));
    assert_eq!(r.retcode, DONE);
    assert!(approx(a.positions(&m)[0].volume, 0.35));
    assert_eq!(a.deals.last().unwrap().entry, DealEntry::Out);
    // Without a position ticket, a sell opens a new position on a hedging account.
    a.send(&m, &market("EURUSD", OrderType::Sell, 0.1));
    assert_eq!(a.positions(&m).len(), 2);
}

#[test]
fn sltp_modify_and_cancel() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let r = a.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    let s = a.send(&m, &sltp(r.order, 1.0950, 1.1050));
    assert_eq!(s.retcode, DONE);
    let p = &a.positions(&m)[0];
    assert_eq!((p.sl, p.tp), (1.0950, 1.1050));
    assert_eq!(
        a.send(&m, &sltp(r.order, 1.0950, 1.1050)).retcode,
        NO_CHANGES
    );
    assert_eq!(a.send(&m, &sltp(r.order, 0.0, 0.0)).retcode, DONE);
    assert_eq!(a.positions(&m)[0].sl, 0.0);

    let o = a.send(&m, &pending("EURUSD", OrderType::BuyLimit, 0.2, 1.0900));
    assert_eq!((o.retcode, o.deal), (DONE, 0));
    let orders = a.pending(&m);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].state, OrderState::Placed);
    assert_eq!(orders[0].price_open, 1.0900);
    let modify = TradeRequest {
        action: TradeAction::Modify,
        order: o.order,
        price: 1.0880,
        sl: 1.0850,
        tp: 1.0950,
        ..Default::default()
    };
    assert_eq!(a.send(&m, &modify).retcode, DONE);
    assert_eq!(a.send(&m, &modify).retcode, NO_CHANGES);
    let orders = a.pending(&m);
    assert_eq!(
        (orders[0].price_open, orders[0].sl, orders[0].tp),
        (1.0880, 1.0850, 1.0950)
    );
    let remove = TradeRequest {
        action: TradeAction::Remove,
        order: o.order,
        ..Default::default()
    };
    assert_eq!(a.send(&m, &remove).retcode, DONE);
    assert!(a.pending(&m).is_empty());
    let h = a.orders.last().unwrap();
    assert_eq!((h.ticket, h.state), (o.order, OrderState::Canceled));
    assert_eq!(a.send(&m, &remove).retcode, INVALID);
}

// ---------------------------------------------------------------- return codes

/// The retcode of `order_send`, after checking that `order_check` predicted it.
fn code(a: &mut Acct, m: &FixedMarket, req: &TradeRequest) -> u32 {
    let c = a.check(m, req);
    let r = a.send(m, req);
    assert_eq!(r.comment, mt5::retcode::comment(r.retcode));
    let predicted = if r.retcode == DONE { 0 } else { r.retcode };
    assert_eq!(c.retcode, predicted, "order_check must agree");
    r.retcode
}

#[test]
fn invalid_requests_are_10013() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    assert_eq!(
        code(&mut a, &m, &market("NOPE", OrderType::Buy, 0.1)),
        INVALID
    );
    assert_eq!(code(&mut a, &m, &market("", OrderType::Buy, 0.1)), INVALID);
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::BuyLimit, 0.1)),
        INVALID
    );
    assert_eq!(
        code(&mut a, &m, &pending("EURUSD", OrderType::Buy, 0.1, 1.0)),
        INVALID
    );
    assert_eq!(
        code(&mut a, &m, &close("EURUSD", OrderType::Sell, 0.1, 424242)),
        INVALID
    );
    assert_eq!(code(&mut a, &m, &sltp(424242, 1.0, 0.0)), INVALID);
    let r = a.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    // Same direction as the position named, or another symbol: invalid.
    assert_eq!(
        code(&mut a, &m, &close("EURUSD", OrderType::Buy, 0.1, r.order)),
        INVALID
    );
    assert_eq!(
        code(&mut a, &m, &close("GBPUSD", OrderType::Sell, 0.1, r.order)),
        INVALID
    );
    let mut nan = market("EURUSD", OrderType::Buy, 0.1);
    nan.sl = f64::NAN;
    assert_eq!(code(&mut a, &m, &nan), INVALID);
}

#[test]
fn values_outside_mt5s_lists_get_mt5s_refusals() {
    // What a terminal agent may pass on unchanged: the server refuses, it never guesses.
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let mut action = market("EURUSD", OrderType::Buy, 0.1);
    action.action = TradeAction::Unknown(2);
    assert_eq!(code(&mut a, &m, &action), INVALID);
    for t in [TradeAction::Deal, TradeAction::Pending] {
        let mut kind = market("EURUSD", OrderType::Unknown(12), 0.1);
        kind.action = t;
        kind.price = 1.0;
        assert_eq!(code(&mut a, &m, &kind), INVALID);
    }
    let mut fill = market("EURUSD", OrderType::Buy, 0.1);
    fill.type_filling = OrderFilling::Unknown(9);
    assert_eq!(code(&mut a, &m, &fill), INVALID_FILL);
    let (_, ask) = m.bid_ask("EURUSD");
    let mut time = pending("EURUSD", OrderType::BuyLimit, 0.1, ask - 0.01);
    time.type_time = OrderTime::Unknown(8);
    assert_eq!(code(&mut a, &m, &time), INVALID_EXPIRATION);
    assert!(a
        .run(&m, |e, st| e.calc_profit(
            st,
            OrderType::Unknown(12),
            "EURUSD",
            1.0,
            1.0,
            1.1
        ))
        .is_err());
    assert!(a.positions(&m).is_empty() && a.pending(&m).is_empty());
}

#[test]
fn trade_disabled_and_market_closed() {
    let m = FixedMarket::new().edit("USDCHF", |i| i.trade_mode = SymbolTradeMode::Disabled);
    let mut s = settings(RetailHedging);
    s.trade_allowed = false;
    let mut off = Acct::with(s, 10_000.0);
    assert_eq!(
        code(&mut off, &m, &market("EURUSD", OrderType::Buy, 0.1)),
        TRADE_DISABLED
    );
    let mut a = Acct::new(RetailHedging, 10_000.0);
    assert_eq!(
        code(&mut a, &m, &market("USDCHF", OrderType::Buy, 0.1)),
        TRADE_DISABLED
    );
    m.close_session("EURJPY");
    assert_eq!(
        code(&mut a, &m, &market("EURJPY", OrderType::Buy, 0.1)),
        MARKET_CLOSED
    );
    m.remove_quote("USDJPY");
    assert_eq!(
        code(&mut a, &m, &market("USDJPY", OrderType::Buy, 0.1)),
        PRICE_OFF
    );
}

#[test]
fn volumes_are_checked_on_the_step_grid() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 1_000_000_000.0);
    for bad in [0.0, 0.015, 0.001, -0.1, 500.01, 1e9] {
        assert_eq!(
            code(&mut a, &m, &market("EURUSD", OrderType::Buy, bad)),
            INVALID_VOLUME,
            "{bad}"
        );
    }
    // 0.1 + 0.2 is on the grid even though it is not 0.3 in binary.
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::Buy, 0.1 + 0.2)),
        DONE
    );
    assert!(approx(a.positions(&m)[0].volume, 0.3));
    // US500: 0.1 lot steps, volume limit 50 lots per direction.
    assert_eq!(
        code(&mut a, &m, &market("US500", OrderType::Buy, 0.15)),
        INVALID_VOLUME
    );
    let mut fok = market("US500", OrderType::Buy, 30.0);
    fok.type_filling = OrderFilling::Fok;
    assert_eq!(code(&mut a, &m, &fok), DONE);
    let r = a.send(&m, &fok);
    assert_eq!(r.retcode, LIMIT_VOLUME);
    fok.volume = 20.0;
    assert_eq!(a.send(&m, &fok).retcode, DONE);
    // Closing more than the position holds.
    let pos = a.positions(&m)[0].ticket;
    assert_eq!(
        code(&mut a, &m, &close("EURUSD", OrderType::Sell, 0.31, pos)),
        INVALID_CLOSE_VOLUME
    );
}

#[test]
fn order_types_and_filling_policies() {
    let m = FixedMarket::new().edit("USDCHF", |i| i.order_mode &= !mt5::order_mode::STOP);
    let mut a = Acct::new(RetailHedging, 10_000.0);
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("USDCHF", OrderType::BuyStop, 0.1, 0.9200)
        ),
        INVALID_ORDER
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("USDCHF", OrderType::BuyLimit, 0.1, 0.9000)
        ),
        DONE
    );
    // Market execution: RETURN is for exchange execution only; US500 allows FOK only.
    let mut ret = market("EURUSD", OrderType::Buy, 0.1);
    ret.type_filling = OrderFilling::Return;
    assert_eq!(code(&mut a, &m, &ret), INVALID_FILL);
    let ioc = market("US500", OrderType::Buy, 1.0);
    assert_eq!(code(&mut a, &m, &ioc), INVALID_FILL);
    let mut fok = ioc.clone();
    fok.type_filling = OrderFilling::Fok;
    assert_eq!(code(&mut a, &m, &fok), DONE);
    // Instant execution fills market orders whatever policy was asked.
    let inst = FixedMarket::new().edit("EURUSD", |i| {
        i.trade_exemode = SymbolTradeExecution::Instant
    });
    assert_eq!(code(&mut a, &inst, &ret), DONE);
}

#[test]
fn requotes_on_instant_execution_beyond_deviation() {
    let m = FixedMarket::new().edit("EURUSD", |i| {
        i.trade_exemode = SymbolTradeExecution::Instant
    });
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let mut req = market("EURUSD", OrderType::Buy, 0.1);
    req.price = 1.09904; // 6 points from the ask of 1.09910
    req.deviation = 5;
    let r = a.send(&m, &req);
    assert_eq!(r.retcode, REQUOTE);
    assert_eq!((r.bid, r.ask), (1.099, 1.0991));
    req.deviation = 6;
    let r = a.send(&m, &req);
    assert_eq!((r.retcode, r.price), (DONE, 1.0991));
}

#[test]
fn expirations_are_checked() {
    let m = FixedMarket::new().edit("USDCHF", |i| i.expiration_mode = mt5::expiration_mode::GTC);
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let now_server = T0 / 1000 + OFFSET_S;
    let mut req = pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0900);
    req.type_time = OrderTime::Specified;
    req.expiration = now_server - 1;
    assert_eq!(code(&mut a, &m, &req), INVALID_EXPIRATION);
    req.expiration = i64::MAX;
    assert_eq!(code(&mut a, &m, &req), INVALID_EXPIRATION);
    req.type_time = OrderTime::SpecifiedDay;
    assert_eq!(code(&mut a, &m, &req), INVALID_EXPIRATION);
    req.expiration = now_server - 86_400;
    assert_eq!(code(&mut a, &m, &req), INVALID_EXPIRATION);
    req.expiration = now_server - 60; // earlier today: the order lives until midnight
    assert_eq!(code(&mut a, &m, &req), DONE);
    req.type_time = OrderTime::Specified;
    req.expiration = now_server + 60;
    assert_eq!(code(&mut a, &m, &req), DONE);
    let mut day = pending("USDCHF", OrderType::BuyLimit, 0.1, 0.9000);
    day.type_time = OrderTime::Day;
    assert_eq!(code(&mut a, &m, &day), INVALID_EXPIRATION);
}

#[test]
fn prices_and_stops_are_checked() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    // EURUSD bid 1.09900 ask 1.09910. Wrong side or at the market:
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0992)
        ),
        INVALID_PRICE
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::BuyStop, 0.1, 1.0991)
        ),
        INVALID_PRICE
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::SellLimit, 0.1, 1.0985)
        ),
        INVALID_PRICE
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::SellStop, 0.1, 1.0995)
        ),
        INVALID_PRICE
    );
    // Not normalized to 5 digits.
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.098_001)
        ),
        INVALID_PRICE
    );
    // GBPUSD has a stops level of 10 points: ask 1.27230.
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("GBPUSD", OrderType::BuyLimit, 0.1, 1.27221)
        ),
        INVALID_PRICE
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("GBPUSD", OrderType::BuyLimit, 0.1, 1.27220)
        ),
        DONE
    );
    // Stop-limit: the limit price must be below the trigger for a buy.
    let mut sl = pending("EURUSD", OrderType::BuyStopLimit, 0.1, 1.1000);
    sl.stoplimit = 1.1005;
    assert_eq!(code(&mut a, &m, &sl), INVALID_PRICE);
    sl.stoplimit = 1.0995;
    assert_eq!(code(&mut a, &m, &sl), DONE);

    // Stops of a buy: SL below the bid, TP above it.
    let mut buy = market("EURUSD", OrderType::Buy, 0.1);
    buy.sl = 1.0995;
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.sl = 1.0990; // exactly at the bid
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.sl = 1.0980;
    buy.tp = 1.0985;
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.tp = 1.100_05;
    buy.sl = 1.097_999_9;
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.sl = 1.0980;
    assert_eq!(code(&mut a, &m, &buy), DONE);
    // A sell's stops against the ask.
    let mut sell = market("EURUSD", OrderType::Sell, 0.1);
    sell.sl = 1.0990;
    assert_eq!(code(&mut a, &m, &sell), INVALID_STOPS);
    sell.sl = 1.1000;
    sell.tp = 1.0980;
    assert_eq!(code(&mut a, &m, &sell), DONE);
    // GBPUSD stops level: SL 9 points below the bid is too close, 10 is enough.
    let mut g = market("GBPUSD", OrderType::Buy, 0.1);
    g.sl = 1.27211;
    assert_eq!(code(&mut a, &m, &g), INVALID_STOPS);
    g.sl = 1.27210;
    assert_eq!(code(&mut a, &m, &g), DONE);
    // Pending SL/TP are relative to the open price.
    let mut bl = pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0900);
    bl.sl = 1.0905;
    assert_eq!(code(&mut a, &m, &bl), INVALID_STOPS);
}

#[test]
fn strict_levels_reject_exactly_the_stops_level() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let req = pending("GBPUSD", OrderType::BuyLimit, 0.1, 1.27220);
    let loose = a.run(&m, |e, st| e.order_check(st, &req));
    assert_eq!(loose.retcode, 0);
    let mut next = 1;
    let mut alloc = || {
        next += 1;
        next
    };
    let mut e = mt5_sim::engine::Engine::new(&m, OFFSET_S, T0, &mut alloc).strict_levels(true);
    assert_eq!(e.order_check(&mut a.st, &req).retcode, INVALID_PRICE);
}

#[test]
fn frozen_orders_and_positions() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    // GBPUSD freeze level 5 points; bid 1.27220 ask 1.27230.
    let o = a.send(&m, &pending("GBPUSD", OrderType::BuyLimit, 0.1, 1.27200));
    assert_eq!(o.retcode, DONE);
    m.set("GBPUSD", 1.27194, 1.27204); // ask 4 points above the order price
    let remove = TradeRequest {
        action: TradeAction::Remove,
        order: o.order,
        ..Default::default()
    };
    assert_eq!(code(&mut a, &m, &remove), FROZEN);
    let modify = TradeRequest {
        action: TradeAction::Modify,
        order: o.order,
        price: 1.27100,
        ..Default::default()
    };
    assert_eq!(code(&mut a, &m, &modify), FROZEN);
    m.set("GBPUSD", 1.27220, 1.27230);
    assert_eq!(code(&mut a, &m, &modify), DONE);

    let mut buy = market("GBPUSD", OrderType::Buy, 0.1);
    buy.sl = 1.27100;
    let p = a.send(&m, &buy);
    assert_eq!(p.retcode, DONE);
    m.set("GBPUSD", 1.27104, 1.27114); // bid 4 points above the SL
    assert_eq!(code(&mut a, &m, &sltp(p.order, 1.27000, 0.0)), FROZEN);
    // Nor can it be closed while its SL is that near the bid it closes at.
    let out = close("GBPUSD", OrderType::Sell, 0.1, p.order);
    assert_eq!(code(&mut a, &m, &out), FROZEN);
    m.set("GBPUSD", 1.27106, 1.27116); // 6 points: free again
    assert_eq!(code(&mut a, &m, &out), DONE);

    // Netting: an opposite deal that reduces a frozen position is refused the same way.
    let mut n = Acct::new(RetailNetting, 10_000.0);
    m.set("GBPUSD", 1.27220, 1.27230);
    let mut sell = market("GBPUSD", OrderType::Sell, 0.2);
    sell.tp = 1.27100;
    assert_eq!(n.send(&m, &sell).retcode, DONE);
    m.set("GBPUSD", 1.27093, 1.27103); // ask 3 points above the TP
    assert_eq!(
        code(&mut n, &m, &market("GBPUSD", OrderType::Buy, 0.1)),
        FROZEN
    );
}

#[test]
fn prices_live_on_the_tick_grid() {
    // US100: 2 digits, ticks of 0.25, stops level 100 points; bid 18000.00 ask 18001.00.
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 100_000.0);
    let mut buy = market("US100", OrderType::Buy, 0.1);
    buy.sl = 17_990.10; // on the digits, not on the tick
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.sl = 17_990.25;
    buy.tp = 18_010.30;
    assert_eq!(code(&mut a, &m, &buy), INVALID_STOPS);
    buy.tp = 18_010.50;
    assert_eq!(code(&mut a, &m, &buy), DONE);
    // A limit price off the tick is an invalid price.
    let limit = pending("US100", OrderType::BuyLimit, 0.1, 17_950.05);
    assert_eq!(code(&mut a, &m, &limit), INVALID_PRICE);
    let limit = pending("US100", OrderType::BuyLimit, 0.1, 17_950.0);
    assert_eq!(code(&mut a, &m, &limit), DONE);
    // The stops level is 1.00: an SL 0.75 under the bid is refused, 1.00 is MT5's "≥".
    let mut near = market("US100", OrderType::Buy, 0.1);
    near.sl = 17_999.25;
    assert_eq!(code(&mut a, &m, &near), INVALID_STOPS);
    near.sl = 17_999.0;
    assert_eq!(code(&mut a, &m, &near), DONE);
}

#[test]
fn money_and_limits() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 1_000.0);
    // 10 lots of EURUSD need 10991 USD of margin.
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::Buy, 10.0)),
        NO_MONEY
    );
    assert_eq!(
        code(
            &mut a,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 10.0, 1.09)
        ),
        NO_MONEY
    );
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::Buy, 0.5)),
        DONE
    );

    let mut s = settings(RetailHedging);
    s.limit_orders = 2;
    s.limit_positions = 3;
    let mut h = Acct::with(s.clone(), 100_000.0);
    assert_eq!(
        code(
            &mut h,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.09)
        ),
        DONE
    );
    assert_eq!(
        code(
            &mut h,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.08)
        ),
        DONE
    );
    assert_eq!(
        code(
            &mut h,
            &m,
            &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.07)
        ),
        LIMIT_ORDERS
    );
    assert_eq!(
        code(&mut h, &m, &market("EURUSD", OrderType::Buy, 0.1)),
        DONE
    );
    // Hedging counts positions and pending orders together: 1 + 2 = 3.
    assert_eq!(
        code(&mut h, &m, &market("GBPUSD", OrderType::Buy, 0.1)),
        LIMIT_POSITIONS
    );

    s.margin_mode = RetailNetting;
    s.limit_positions = 1;
    s.limit_orders = 0;
    let mut n = Acct::with(s, 100_000.0);
    assert_eq!(
        code(&mut n, &m, &market("EURUSD", OrderType::Buy, 0.1)),
        DONE
    );
    // Netting: adding to the open symbol is fine, a new symbol is not.
    assert_eq!(
        code(&mut n, &m, &market("EURUSD", OrderType::Buy, 0.1)),
        DONE
    );
    assert_eq!(
        code(&mut n, &m, &market("GBPUSD", OrderType::Buy, 0.1)),
        LIMIT_POSITIONS
    );
    assert_eq!(
        code(
            &mut n,
            &m,
            &pending("GBPUSD", OrderType::BuyLimit, 0.1, 1.2)
        ),
        DONE
    );
}

#[test]
fn close_by_needs_hedging_and_opposite_positions() {
    let m = FixedMarket::new();
    let mut n = Acct::new(RetailNetting, 10_000.0);
    let r = n.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    let cb = TradeRequest {
        action: TradeAction::CloseBy,
        position: r.order,
        position_by: r.order,
        ..Default::default()
    };
    assert_eq!(code(&mut n, &m, &cb), INVALID_ORDER);
    let mut h = Acct::new(RetailHedging, 10_000.0);
    let b1 = h.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    let b2 = h.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    let cb = TradeRequest {
        position: b1.order,
        position_by: b2.order,
        ..cb
    };
    assert_eq!(code(&mut h, &m, &cb), INVALID);
}

#[test]
fn direction_restricted_symbols() {
    let m = FixedMarket::new()
        .edit("EURUSD", |i| i.trade_mode = SymbolTradeMode::LongOnly)
        .edit("GBPUSD", |i| i.trade_mode = SymbolTradeMode::ShortOnly)
        .edit("USDJPY", |i| i.trade_mode = SymbolTradeMode::CloseOnly);
    let mut a = Acct::new(RetailHedging, 10_000.0);
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::Sell, 0.1)),
        LONG_ONLY
    );
    assert_eq!(
        code(&mut a, &m, &market("GBPUSD", OrderType::Buy, 0.1)),
        SHORT_ONLY
    );
    assert_eq!(
        code(&mut a, &m, &market("USDJPY", OrderType::Buy, 0.1)),
        CLOSE_ONLY
    );
    assert_eq!(
        code(&mut a, &m, &market("EURUSD", OrderType::Buy, 0.1)),
        DONE
    );
}

// ---------------------------------------------------------------- triggers

#[test]
fn sl_and_tp_trigger_on_the_right_side() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    m.set("EURUSD", 1.1000, 1.1002);
    let mut buy = market("EURUSD", OrderType::Buy, 0.1);
    buy.sl = 1.0950;
    buy.tp = 1.1050;
    let b = a.send(&m, &buy);
    let mut sell = market("EURUSD", OrderType::Sell, 0.1);
    sell.sl = 1.1060;
    sell.tp = 1.0950;
    let s = a.send(&m, &sell);
    // The ask reaching the buy's TP does nothing: buys look at the bid.
    m.set("EURUSD", 1.1045, 1.1050);
    a.tick(1_000);
    assert_eq!(a.positions(&m).len(), 2);
    // The ask past 1.1060 is the sell's SL: the sell closes at the ask, reason SL.
    a.tick(1_000);
    m.set("EURUSD", 1.1049, 1.1061);
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].ticket, b.order);
    let d = a.deals.last().unwrap();
    assert_eq!(
        (d.position_id, d.reason, d.entry),
        (s.order, DealReason::Sl, DealEntry::Out)
    );
    assert_eq!(d.price, 1.1061);
    assert_eq!(d.profit, -61.0);
    assert_eq!(d.comment, "[sl 1.10600]");
    let o = a.orders.last().unwrap();
    assert_eq!((o.reason, o.position_id), (mt5::OrderReason::Sl, s.order));
    // The bid reaching 1.1050 takes the buy's profit.
    m.set("EURUSD", 1.1050, 1.1052);
    a.tick(2_000);
    assert!(a.positions(&m).is_empty());
    let d = a.deals.last().unwrap();
    assert_eq!(
        (d.position_id, d.reason, d.price),
        (b.order, DealReason::Tp, 1.1050)
    );
    assert_eq!(d.profit, 48.0);
    assert_eq!(a.metrics(&m).balance, 10_000.0 - 61.0 + 48.0);
}

#[test]
fn pending_orders_activate_on_the_right_side() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 100_000.0);
    m.set("EURUSD", 1.1000, 1.1002);
    let bl = a
        .send(&m, &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0990))
        .order;
    let bs = a
        .send(&m, &pending("EURUSD", OrderType::BuyStop, 0.2, 1.1010))
        .order;
    let sl = a
        .send(&m, &pending("EURUSD", OrderType::SellLimit, 0.3, 1.1010))
        .order;
    let ss = a
        .send(&m, &pending("EURUSD", OrderType::SellStop, 0.4, 1.0990))
        .order;
    assert_eq!(a.pending(&m).len(), 4);
    // Bid 1.0990 (sell stop) but ask 1.0992 (buy limit not yet).
    m.set("EURUSD", 1.0990, 1.0992);
    a.tick(1_000);
    let open: Vec<u64> = a.positions(&m).iter().map(|p| p.ticket).collect();
    assert_eq!(open, vec![ss]);
    let p = &a.positions(&m)[0];
    assert_eq!((p.r#type, p.price_open), (PositionType::Sell, 1.0990));
    let h = a.orders.iter().find(|o| o.ticket == ss).unwrap();
    assert_eq!((h.state, h.position_id), (OrderState::Filled, ss));
    // Ask 1.0990: the buy limit fills at the ask.
    m.set("EURUSD", 1.0988, 1.0990);
    a.tick(1_000);
    assert_eq!(a.positions(&m).len(), 2);
    // Ask 1.1010 triggers the buy stop; bid 1.1008 leaves the sell limit.
    m.set("EURUSD", 1.1008, 1.1010);
    a.tick(1_000);
    let tickets: Vec<u64> = a.positions(&m).iter().map(|p| p.ticket).collect();
    assert!(tickets.contains(&bs) && tickets.contains(&bl) && !tickets.contains(&sl));
    m.set("EURUSD", 1.1010, 1.1012);
    a.tick(1_000);
    assert_eq!(a.positions(&m).len(), 4);
    assert!(a.pending(&m).is_empty());
    let d = a.deals.iter().find(|d| d.order == sl).unwrap();
    assert_eq!(
        (d.r#type, d.entry, d.price),
        (DealType::Sell, DealEntry::In, 1.1010)
    );
}

#[test]
fn stop_limit_places_a_limit_order_that_fills_later() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 100_000.0);
    m.set("EURUSD", 1.1000, 1.1002);
    let mut req = pending("EURUSD", OrderType::BuyStopLimit, 0.1, 1.1010);
    req.stoplimit = 1.1005;
    let o = a.send(&m, &req);
    assert_eq!(o.retcode, DONE);
    m.set("EURUSD", 1.1009, 1.1011);
    a.tick(1_000);
    let orders = a.pending(&m);
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].r#type, OrderType::BuyLimit);
    assert_eq!(orders[0].price_open, 1.1005);
    assert_eq!(orders[0].type_filling, OrderFilling::Return);
    assert!(orders[0].ticket != o.order);
    assert_eq!(
        a.orders.iter().find(|h| h.ticket == o.order).unwrap().state,
        OrderState::Filled
    );
    assert!(a.positions(&m).is_empty());
    m.set("EURUSD", 1.1003, 1.1005);
    a.tick(1_000);
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].price_open, 1.1005);
}

#[test]
fn orders_expire_at_their_time_and_at_the_end_of_the_day() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let now_server = T0 / 1000 + OFFSET_S;
    let mut spec = pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0900);
    spec.type_time = OrderTime::Specified;
    spec.expiration = now_server + 90;
    let s = a.send(&m, &spec).order;
    let mut day = pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0800);
    day.type_time = OrderTime::Day;
    let d = a.send(&m, &day).order;
    let gtc = a
        .send(&m, &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0700))
        .order;
    a.tick(89_000);
    assert_eq!(a.pending(&m).len(), 3);
    a.tick(2_000);
    assert_eq!(a.pending(&m).len(), 2);
    let h = a.orders.iter().find(|o| o.ticket == s).unwrap();
    assert_eq!(h.state, OrderState::Expired);
    assert_eq!(h.time_done, now_server + 90);
    // T0 is 12:00 server time; the DAY order lives until server midnight.
    let midnight = (now_server / 86_400 + 1) * 86_400;
    a.now = (midnight - OFFSET_S) * 1000 - 1_000;
    assert_eq!(a.pending(&m).len(), 2);
    a.tick(2_000);
    let left: Vec<u64> = a.pending(&m).iter().map(|o| o.ticket).collect();
    assert_eq!(left, vec![gtc]);
    let h = a.orders.iter().find(|o| o.ticket == d).unwrap();
    assert_eq!((h.state, h.time_done), (OrderState::Expired, midnight));
}

#[test]
fn stop_out_closes_the_most_losing_position() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 1_000.0);
    m.set("EURUSD", 1.1000, 1.1000);
    m.set("GBPUSD", 1.2700, 1.2700);
    let e = a.send(&m, &market("EURUSD", OrderType::Buy, 0.4)).order;
    let g = a.send(&m, &market("GBPUSD", OrderType::Buy, 0.3)).order;
    // Margin 440 + 381 = 821. EURUSD falls 2000 points: −800, equity 200, level 24 % ≤ 30 %.
    m.set("EURUSD", 1.0800, 1.0800);
    a.tick(1_000);
    let p = a.positions(&m);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].ticket, g);
    let d = a.deals.last().unwrap();
    assert_eq!(
        (d.position_id, d.reason, d.profit),
        (e, DealReason::So, -800.0)
    );
    assert_eq!(a.metrics(&m).balance, 200.0);
    let mut h = Acct::new(RetailHedging, 1_000.0);
    m.set("EURUSD", 1.1000, 1.1000);
    let e2 = h.send(&m, &market("EURUSD", OrderType::Buy, 0.8)).order;
    m.set("EURUSD", 1.0900, 1.0900); // −800: equity 200 vs margin 880 → 22.7 %
    h.tick(1_000);
    assert!(h.positions(&m).is_empty());
    let d = h.deals.last().unwrap();
    assert_eq!((d.position_id, d.reason), (e2, DealReason::So));
    assert_eq!(h.metrics(&m).balance, 200.0);
}

#[test]
fn same_requests_give_same_results() {
    let run = || {
        let m = FixedMarket::new();
        let mut a = Acct::new(RetailNetting, 10_000.0);
        let mut out = Vec::new();
        for (i, v) in [0.1, 0.25, 0.05, 0.4].iter().enumerate() {
            let t = if i % 2 == 0 {
                OrderType::Buy
            } else {
                OrderType::Sell
            };
            a.tick(1_500);
            out.push(a.send(&m, &market("EURUSD", t, *v)));
        }
        (out, a.deals, a.orders, a.st)
    };
    assert_eq!(run(), run());
}

#[test]
fn account_info_reports_settings_and_money() {
    let m = FixedMarket::new();
    let mut a = Acct::new(RetailHedging, 10_000.0);
    a.send(&m, &market("EURUSD", OrderType::Buy, 0.1));
    let info = a.run(&m, |e, st| e.account_info(st));
    assert_eq!(info.login, 1001);
    assert_eq!(info.server, "Sim-Demo");
    assert_eq!(info.margin_mode, RetailHedging);
    assert_eq!(info.leverage, 100);
    assert_eq!(
        (info.balance, info.equity, info.margin),
        (10_000.0, 9_999.0, 109.91)
    );
    assert_eq!(info.profit, -1.0);
    assert!(approx(info.margin_free, info.equity - info.margin));
}
