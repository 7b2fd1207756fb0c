//! The engine on a historical clock ([`BacktestAccount`]): triggers at exactly the points given,
//! swaps at the rollovers those points pass, commissions on every deal, and profit and margin
//! valued at the conversion symbols' quotes of the time. Every answer is worked out in a comment.
#![allow(clippy::unwrap_used)] // tests: a missing value is a failed test

mod common;

use common::{close, market, pending, OFFSET_S, T0};
use mt5::AccountMarginMode::{RetailHedging, RetailNetting};
use mt5::{DealEntry, DealReason, OrderState, OrderType, PositionType, SymbolSwapMode};
use mt5_sim::backtest::BacktestAccount;
use mt5_sim::engine::{AccountSettings, Costs};
use mt5_sim::market::{conversion_symbols, ConversionError, PricePoint};
use mt5_sim::symbols::builtin_symbols;

const M: i64 = 60_000;
const H: i64 = 3_600_000;
const D: i64 = 86_400_000;

fn pt(time_ms: i64, bid: f64, ask: f64) -> PricePoint {
    PricePoint { time_ms, bid, ask }
}

/// EURUSD with its spread of 10 points.
fn eu(time_ms: i64, bid: f64) -> PricePoint {
    pt(time_ms, bid, mt5::util::normalize(bid + 0.0001, 5))
}

fn account(
    currency: &str,
    mode: mt5::AccountMarginMode,
    deposit: f64,
    costs: Costs,
) -> BacktestAccount {
    let mut a = BacktestAccount::new(
        AccountSettings::simulated(currency, 100, mode, 50.0, 30.0),
        deposit,
        builtin_symbols(),
        OFFSET_S,
        T0,
        costs,
    );
    assert!(a.advance_through("EURUSD", &[eu(T0, 1.10000)]));
    a
}

fn usd() -> BacktestAccount {
    account("USD", RetailHedging, 10_000.0, Costs::default())
}

fn buy(a: &mut BacktestAccount, volume: f64, sl: f64, tp: f64) -> u64 {
    let mut req = market("EURUSD", OrderType::Buy, volume);
    req.sl = sl;
    req.tp = tp;
    let r = a.order_send(&req);
    assert_eq!(r.retcode, mt5::retcode::DONE, "{r:?}");
    r.order
}

/// A bar's path, one point every 15 seconds from `t`.
fn path(t: i64, bids: [f64; 4]) -> Vec<PricePoint> {
    bids.iter()
        .enumerate()
        .map(|(i, &b)| eu(t + i as i64 * 15_000, b))
        .collect()
}

#[test]
fn the_path_decides_between_sl_and_tp_inside_one_bar() {
    // A buy at 1.10010 with SL 1.09500 and TP 1.10600; the bar's low (1.09450) and high (1.10650)
    // are beyond both.
    let bull = [1.10000, 1.09450, 1.10650, 1.10500]; // open → low → high → close
    let bear = [1.10000, 1.10650, 1.09450, 1.09800]; // open → high → low → close
    let mut a = usd();
    let t = buy(&mut a, 1.0, 1.09500, 1.10600);
    assert!(a.advance_through("EURUSD", &path(T0 + M, bull)));
    // The low comes first: the SL fills at that point's bid, (1.09450 − 1.10010) × 100000.
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.position_id, d.reason, d.entry),
        (t, DealReason::Sl, DealEntry::Out)
    );
    assert_eq!((d.price, d.profit), (1.09450, -560.0));
    assert_eq!(d.time_msc, T0 + M + 15_000 + OFFSET_S * 1000);
    assert!(a.positions().is_empty());
    assert_eq!(a.metrics().balance, 9_440.0);

    let mut b = usd();
    let t = buy(&mut b, 1.0, 1.09500, 1.10600);
    assert!(b.advance_through("EURUSD", &path(T0 + M, bear)));
    // The high comes first: the TP fills at 1.10650, (1.10650 − 1.10010) × 100000 = 640.
    let d = b.deals().last().unwrap();
    assert_eq!((d.position_id, d.reason), (t, DealReason::Tp));
    assert_eq!((d.price, d.profit), (1.10650, 640.0));
    assert_eq!(b.metrics().balance, 10_640.0);
    assert_eq!(b.now_utc_ms(), T0 + M + 45_000);
}

#[test]
fn a_gap_through_the_sl_fills_at_the_price_after_the_gap() {
    let mut a = usd();
    buy(&mut a, 1.0, 1.09600, 0.0);
    // The bar closes above the SL; the next bar opens at 1.09000, far below it.
    assert!(a.advance_through(
        "EURUSD",
        &path(T0 + M, [1.10000, 1.09700, 1.10100, 1.09800])
    ));
    assert_eq!(a.positions().len(), 1);
    assert!(a.advance_through(
        "EURUSD",
        &path(T0 + 2 * M, [1.09000, 1.08900, 1.09300, 1.09200])
    ));
    // Filled at the gap's first price, not at the level: (1.09000 − 1.10010) × 100000 = −1010.
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.reason, d.price, d.profit),
        (DealReason::Sl, 1.09000, -1010.0)
    );
    assert_eq!(d.comment, "[sl 1.09600]");
    assert_eq!(a.metrics().balance, 8_990.0);
}

#[test]
fn pending_and_stop_limit_orders_fill_at_the_points_that_reach_them() {
    let mut a = usd();
    let limit = a
        .order_send(&pending("EURUSD", OrderType::BuyLimit, 0.5, 1.09800))
        .order;
    let mut sl = pending("EURUSD", OrderType::BuyStopLimit, 0.2, 1.10300);
    sl.stoplimit = 1.10200;
    let stop_limit = a.order_send(&sl).order;
    assert_eq!(a.orders().len(), 2);
    // Open 1.10000 → high 1.10350 (ask 1.10360 ≥ 1.10300: the stop-limit becomes a buy limit at
    // 1.10200) → low 1.09700 (ask 1.09710: both limits are reached) → close 1.09900.
    assert!(a.advance_through(
        "EURUSD",
        &path(T0 + M, [1.10000, 1.10350, 1.09700, 1.09900])
    ));
    assert!(a.orders().is_empty());
    let pos = a.positions();
    assert_eq!(pos.len(), 2);
    // Both fill at the low point's ask, better than their limits (the point is the fill).
    for p in &pos {
        assert_eq!((p.r#type, p.price_open), (PositionType::Buy, 1.09710));
    }
    let h = a.history_orders();
    let first = h.iter().find(|o| o.ticket == stop_limit).unwrap();
    assert_eq!(
        (first.state, first.time_done_msc),
        (OrderState::Filled, T0 + M + 15_000 + OFFSET_S * 1000)
    );
    let filled = h.iter().find(|o| o.ticket == limit).unwrap();
    assert_eq!(
        (filled.state, filled.time_done_msc),
        (OrderState::Filled, T0 + M + 30_000 + OFFSET_S * 1000)
    );
    let volumes: Vec<f64> = pos.iter().map(|p| p.volume).collect();
    assert!(volumes.contains(&0.5) && volumes.contains(&0.2));
}

#[test]
fn stop_out_at_the_first_point_where_the_margin_level_reaches_the_level() {
    let mut a = account("USD", RetailHedging, 1_000.0, Costs::default());
    buy(&mut a, 0.8, 0.0, 0.0);
    // Margin: 0.8 × 100000 / 100 = 800 EUR × 1.10010 = 880.08 USD. Stop-out at 30 %.
    assert_eq!(a.metrics().margin, 880.08);
    // Bid 1.09100: equity 1000 − 728 = 272, level 30.9 %: still open.
    assert!(a.advance_through("EURUSD", &[eu(T0 + M, 1.09100)]));
    assert_eq!(a.positions().len(), 1);
    assert_eq!(a.metrics().equity, 272.0);
    // Bid 1.09000: equity 192, level 21.8 %: closed at that bid, (1.09000 − 1.10010) × 80000.
    assert!(a.advance_through(
        "EURUSD",
        &[eu(T0 + 2 * M, 1.09000), eu(T0 + 3 * M, 1.08000)]
    ));
    assert!(a.positions().is_empty());
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.reason, d.price, d.profit),
        (DealReason::So, 1.09000, -808.0)
    );
    assert_eq!(d.comment, "[so 21.82%]");
    assert_eq!(a.metrics().balance, 192.0);
}

#[test]
fn a_swap_night_on_points_that_pass_server_midnight() {
    // Monday 12:00 on the server's clock (UTC+2); the rollover is Tuesday 00:00 server.
    let mon = T0 - 2 * D;
    let mut a = BacktestAccount::new(
        AccountSettings::simulated("USD", 100, RetailHedging, 50.0, 30.0),
        10_000.0,
        builtin_symbols(),
        OFFSET_S,
        mon,
        Costs::default(),
    );
    assert!(a.set_quote("USDJPY", pt(mon, 150.000, 150.012)));
    assert!(a.advance_through("EURUSD", &[eu(mon, 1.10000)]));
    let b = buy(&mut a, 0.5, 0.0, 0.0);
    let s = a.order_send(&market("EURUSD", OrderType::Sell, 2.0)).order;
    let j = a.order_send(&market("USDJPY", OrderType::Buy, 1.0)).order;
    let swaps = |a: &BacktestAccount| -> Vec<f64> {
        [b, s, j]
            .iter()
            .map(|t| a.state().position(*t).unwrap().swap)
            .collect()
    };
    let midnight = mon + 12 * H;
    assert!(a.advance_through("EURUSD", &[eu(midnight - 1_000, 1.10000)]));
    assert_eq!(swaps(&a), vec![0.0, 0.0, 0.0]);
    // Held over the rollover (a point at 00:00:00 exactly): Monday's night, one day.
    assert!(a.advance_through("EURUSD", &[eu(midnight, 1.10000)]));
    // Long 0.5 × −7.2 points × 0.00001 × 100000 = −3.60; short 2 × 2.1 = +4.20;
    // USDJPY long 14.5 × 0.001 × 100000 = 1450 JPY at its bid 150.000 = +9.67.
    assert_eq!(swaps(&a), vec![-3.60, 4.20, 9.67]);
    // A position opened at the rollover itself is not charged for it.
    let late = buy(&mut a, 1.0, 0.0, 0.0);
    assert!(a.advance_through("EURUSD", &[eu(midnight + 30 * M, 1.10000)]));
    assert_eq!(a.state().position(late).unwrap().swap, 0.0);
    assert_eq!(swaps(&a), vec![-3.60, 4.20, 9.67]);
    // The reported position carries it; the closing deal realises it.
    let p = a.positions().into_iter().find(|p| p.ticket == b).unwrap();
    assert_eq!(p.swap, -3.60);
    a.order_send(&close("EURUSD", OrderType::Sell, 0.5, b));
    let d = a.deals().last().unwrap();
    // Profit (1.10000 − 1.10010) × 50000 = −5.00.
    assert_eq!((d.swap, d.profit), (-3.60, -5.0));
    assert_eq!(a.metrics().balance, 10_000.0 - 5.0 - 3.60);
}

#[test]
fn a_triple_swap_night_and_a_weekend_cost_seven_days_a_week() {
    // T0: Wednesday 12:00 server. Rollovers charge the nights Monday to Friday, Wednesday's
    // (swap_rollover3days) three times, Saturday's and Sunday's nothing.
    let mut a = usd();
    let b = buy(&mut a, 1.0, 0.0, 0.0);
    let s = a.order_send(&market("EURUSD", OrderType::Sell, 1.0)).order;
    let swap = |a: &BacktestAccount| {
        (
            a.state().position(b).unwrap().swap,
            a.state().position(s).unwrap().swap,
        )
    };
    let noon = T0; // Wednesday 12:00 server
    let steps: [(i64, (f64, f64)); 6] = [
        (noon + 12 * H - M, (0.0, 0.0)),         // Wed 23:59
        (noon + 12 * H + M, (-21.60, 6.30)),     // Thu 00:01: Wednesday ×3
        (noon + D + 12 * H + M, (-28.80, 8.40)), // Fri 00:01: Thursday
        (noon + 2 * D + 11 * H, (-28.80, 8.40)), // Fri 23:00: the week's last bar
        // Mon 00:05 after the weekend's gap: Friday's night (Sat 00:00) only.
        (noon + 4 * D + 12 * H + 5 * M, (-36.00, 10.50)),
        (noon + 7 * D, (-50.40, 14.70)), // next Wednesday 12:00: seven days
    ];
    for (t, want) in steps {
        assert!(a.advance_through("EURUSD", &[eu(t, 1.10000)]));
        assert_eq!(swap(&a), want, "at {}", (t - noon) / M);
    }
    // Equity: 10000 + profits (−10.00 and −10.00) + swaps (−50.40 + 14.70).
    assert_eq!(a.metrics().equity, 9_944.30);
    a.order_send(&close("EURUSD", OrderType::Sell, 1.0, b));
    let d = a.deals().last().unwrap();
    assert_eq!((d.swap, d.profit), (-50.40, -10.0));
    assert_eq!(a.metrics().balance, 9_939.60);
}

#[test]
fn commission_is_charged_on_entry_and_exit_deals() {
    let costs = Costs {
        commission_per_lot: 7.0,
        ..Default::default()
    };
    let mut a = account("USD", RetailNetting, 10_000.0, costs);
    buy(&mut a, 0.5, 0.0, 0.0);
    let d = a.deals().last().unwrap();
    // 0.5 lot × 7 = 3.50, booked to the balance with the entry deal.
    assert_eq!(
        (d.entry, d.commission, d.profit),
        (DealEntry::In, -3.50, 0.0)
    );
    assert_eq!(a.metrics().balance, 9_996.50);
    // Selling 1.0 reverses the netting position: one INOUT deal of 1.0 lot, −7.00; profit
    // (1.10000 − 1.10010) × 50000 = −5.00.
    a.order_send(&market("EURUSD", OrderType::Sell, 1.0));
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.entry, d.commission, d.profit),
        (DealEntry::InOut, -7.0, -5.0)
    );
    assert_eq!(a.metrics().balance, 9_984.50);
    // The short 0.5 closes at ask 1.09910: (1.10000 − 1.09910) × 50000 = +45.00, −3.50.
    assert!(a.advance_through("EURUSD", &[eu(T0 + M, 1.09900)]));
    a.order_send(&market("EURUSD", OrderType::Buy, 0.5));
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.entry, d.commission, d.profit),
        (DealEntry::Out, -3.50, 45.0)
    );
    assert_eq!(a.metrics().balance, 10_026.0);
    // A server-side close (SL) pays it too.
    let mut h = account("USD", RetailHedging, 10_000.0, costs);
    buy(&mut h, 1.0, 1.09500, 0.0);
    assert!(h.advance_through("EURUSD", &[eu(T0 + M, 1.09400)]));
    let d = h.deals().last().unwrap();
    assert_eq!(
        (d.reason, d.commission, d.profit),
        (DealReason::Sl, -7.0, -610.0)
    );
    assert_eq!(h.metrics().balance, 10_000.0 - 7.0 - 610.0 - 7.0);
    // The projection of order_check counts the entry commission.
    let c = h.order_check(&market("EURUSD", OrderType::Buy, 1.0));
    assert_eq!(c.balance, 10_000.0 - 7.0 - 610.0 - 7.0 - 7.0);
}

#[test]
fn a_eur_account_values_a_usd_symbol_at_the_conversion_rate_of_the_time() {
    let mut a = account("EUR", RetailHedging, 10_000.0, Costs::default());
    // EURUSD is the conversion symbol: the account set it at T0 to 1.10000/1.10010.
    assert!(a.set_quote("XAUUSD", pt(T0, 2300.00, 2300.30)));
    let r = a.order_send(&market("XAUUSD", OrderType::Buy, 1.0));
    assert_eq!((r.retcode, r.price), (mt5::retcode::DONE, 2300.30));
    let mut req = mt5::TradeRequest {
        action: mt5::TradeAction::Sltp,
        position: r.order,
        tp: 2310.00,
        ..Default::default()
    };
    req.symbol = "XAUUSD".into();
    assert_eq!(a.order_send(&req).retcode, mt5::retcode::DONE);
    // A tick (0.01 × 100 oz = 1 USD) is worth 1 / 1.10010 EUR gained, 1 / 1.10000 EUR lost.
    let info = a.symbol_info("XAUUSD").unwrap();
    assert_eq!((info.bid, info.ask, info.spread), (2300.00, 2300.30, 30));
    assert!(common::approx(info.trade_tick_value_profit, 1.0 / 1.10010));
    assert!(common::approx(info.trade_tick_value_loss, 1.0 / 1.10000));
    // Margin: 1 lot × 100 oz × 2300.30 / 100 = 2300.30 USD, at EURUSD's bid 1.10000 = 2091.18 EUR.
    assert_eq!(a.metrics().margin, 2_091.18);
    // A month later EURUSD is 1.20000/1.20010.
    let later = T0 + 30 * D;
    assert!(a.set_quote("EURUSD", eu(later, 1.20000)));
    // 2300.30 / 1.20000 = 1916.92.
    assert_eq!(a.metrics().margin, 1_916.92);
    let calc = a.calc_profit(OrderType::Buy, "XAUUSD", 1.0, 2300.30, 2310.50);
    assert_eq!(calc.unwrap(), 849.93);
    assert!(a.advance_through(
        "XAUUSD",
        &[pt(later, 2305.00, 2305.30), pt(later + M, 2310.50, 2310.80)]
    ));
    // TP at the point 2310.50: (2310.50 − 2300.30) × 100 = 1020 USD, a profit converted at the
    // side less favourable to the client (divided by EURUSD's ask 1.20010): 849.93 EUR; at the
    // rate of the opening it would have been 1020 / 1.10010 = 927.19.
    let d = a.deals().last().unwrap().clone();
    assert_eq!(
        (d.reason, d.price, d.profit),
        (DealReason::Tp, 2310.50, 849.93)
    );
    // The month's rollovers, passed on the way to the first point, are valued at the rates set
    // then (EURUSD bid 1.20000): XAUUSD long −45 points × 0.01 × 100 oz = −45 USD = −37.50 EUR a
    // day; from Thursday 4 January to Friday 2 February 00:00 thirty nights charge 28 + 3 + 1 = 32
    // days (four weeks, then Wednesday's triple and Thursday's night): −1200.00 EUR.
    assert_eq!(d.swap, -1_200.0);
    assert_eq!(a.metrics().balance, 10_000.0 + 849.93 - 1_200.0);
}

#[test]
fn the_conversion_symbols_a_pair_needs() {
    let s = builtin_symbols();
    let ok = |sym: &str, ccy: &str| conversion_symbols(&s, sym, ccy).unwrap();
    // Profit and margin in USD: through EURUSD (inverse).
    assert_eq!(ok("XAUUSD", "EUR"), vec!["EURUSD"]);
    // Profit JPY → EUR through EURJPY, margin USD → EUR through EURUSD.
    assert_eq!(ok("USDJPY", "EUR"), vec!["EURJPY", "EURUSD"]);
    // The symbol's own price converts its base and profit currencies.
    assert!(ok("EURUSD", "EUR").is_empty());
    assert!(ok("EURUSD", "USD").is_empty());
    assert!(ok("USDJPY", "USD").is_empty());
    // Profit JPY → USD through USDJPY, margin EUR → USD through EURUSD.
    assert_eq!(ok("EURJPY", "USD"), vec!["EURUSD", "USDJPY"]);
    // GBP has no direct symbol to CHF: through USD (GBPUSD, USDCHF).
    assert_eq!(ok("GBPUSD", "CHF"), vec!["USDCHF"]);
    assert_eq!(ok("EURJPY", "CHF"), vec!["EURUSD", "USDCHF", "USDJPY"]);
    assert_eq!(
        conversion_symbols(&s, "NOPE", "USD"),
        Err(ConversionError::UnknownSymbol("NOPE".into()))
    );
    assert_eq!(
        conversion_symbols(&s, "EURUSD", "ZAR"),
        Err(ConversionError::NoPath {
            from: "USD".into(),
            to: "ZAR".into()
        })
    );
}

#[test]
fn unmodelled_swap_modes_are_reported() {
    let mut syms = builtin_symbols();
    syms[0].info.swap_mode = SymbolSwapMode::InterestCurrent;
    let name = syms[0].info.name.clone();
    let a = BacktestAccount::new(
        AccountSettings::simulated("USD", 100, RetailHedging, 50.0, 30.0),
        1_000.0,
        syms,
        0,
        T0,
        Costs::default(),
    );
    assert_eq!(
        a.unmodelled_swaps(),
        vec![(name, SymbolSwapMode::InterestCurrent)]
    );
    assert!(usd().unmodelled_swaps().is_empty());
}

#[test]
fn a_money_stop_out_level_compares_equity() {
    // An account whose stop-out level is 300 (money): the same position as above is closed once
    // equity is at most 300, though the margin level (272 / 880.08 = 30.9 %) is far above 0.3 %.
    let mut a = BacktestAccount::new(
        AccountSettings {
            margin_so_mode: mt5::AccountStopoutMode::Money,
            ..AccountSettings::simulated("USD", 100, RetailHedging, 500.0, 300.0)
        },
        1_000.0,
        builtin_symbols(),
        OFFSET_S,
        T0,
        Costs::default(),
    );
    assert!(a.advance_through("EURUSD", &[eu(T0, 1.10000)]));
    buy(&mut a, 0.8, 0.0, 0.0);
    assert_eq!(
        a.account_info().margin_so_mode,
        mt5::AccountStopoutMode::Money
    );
    // Bid 1.09200: equity 1000 − 648 = 352 > 300, open; bid 1.09100: 272 ≤ 300, closed there.
    assert!(a.advance_through("EURUSD", &[eu(T0 + M, 1.09200)]));
    assert_eq!(a.positions().len(), 1);
    assert!(a.advance_through("EURUSD", &[eu(T0 + 2 * M, 1.09100)]));
    assert!(a.positions().is_empty());
    let d = a.deals().last().unwrap();
    assert_eq!(
        (d.reason, d.price, d.profit),
        (DealReason::So, 1.09100, -728.0)
    );
}
