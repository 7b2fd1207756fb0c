//! How fast the engine evaluates a backtest's points: `cargo run --release -p mt5-sim --example
//! bench_points [points]`. Prints points per second for an idle account, one open position with
//! SL and TP, and the same on a EUR account valued through EURUSD. A benchmark, not a test.

use mt5::AccountMarginMode;
use mt5_sim::backtest::BacktestAccount;
use mt5_sim::engine::{AccountSettings, Costs};
use mt5_sim::market::PricePoint;
use mt5_sim::symbols::builtin_symbols;
use std::time::Instant;

/// 2024-01-01 00:00 UTC.
const START: i64 = 1_704_067_200_000;

fn account(currency: &str) -> BacktestAccount {
    let mut a = BacktestAccount::new(
        AccountSettings::simulated(currency, 100, AccountMarginMode::RetailHedging, 50.0, 30.0),
        1_000_000.0,
        builtin_symbols(),
        7200,
        START,
        Costs {
            commission_per_lot: 7.0,
            ..Default::default()
        },
    );
    a.set_quote("EURUSD", point(0, 1.1));
    a.advance_through("XAUUSD", &[xau(0, 2300.0)]);
    a
}

fn point(i: i64, bid: f64) -> PricePoint {
    PricePoint {
        time_ms: START + i * 15_000,
        bid,
        ask: bid + 0.0001,
    }
}

fn xau(i: i64, bid: f64) -> PricePoint {
    PricePoint {
        time_ms: START + i * 15_000,
        bid,
        ask: bid + 0.30,
    }
}

/// `n` points of a gentle zigzag that never reaches ±40 from 2300: no SL or TP is hit.
fn path(n: i64) -> Vec<PricePoint> {
    (1..=n)
        .map(|i| {
            let w = (i % 400) as f64 / 10.0;
            let bid = if (i / 400) % 2 == 0 { w } else { 40.0 - w };
            xau(i, ((2280.0 + bid) * 100.0).round() / 100.0)
        })
        .collect()
}

fn run(label: &str, mut a: BacktestAccount, points: &[PricePoint], bar: usize) {
    let t = Instant::now();
    for chunk in points.chunks(bar) {
        a.advance_through("XAUUSD", chunk);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:<40} {:>12.0} points/s ({} points, {:.3} s; {} open, balance {:.2})",
        points.len() as f64 / s,
        points.len(),
        s,
        a.state().positions.len(),
        a.state().balance
    );
}

fn main() {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4_000_000);
    let points = path(n);
    run("idle account, 4 points a call", account("USD"), &points, 4);
    let open = |ccy: &str| {
        let mut a = account(ccy);
        let mut req = mt5::TradeRequest {
            action: mt5::TradeAction::Deal,
            symbol: "XAUUSD".into(),
            volume: 1.0,
            r#type: mt5::OrderType::Buy,
            type_filling: mt5::OrderFilling::Ioc,
            sl: 2200.0,
            tp: 2400.0,
            ..Default::default()
        };
        req.comment = "bench".into();
        assert_eq!(a.order_send(&req).retcode, mt5::retcode::DONE);
        a
    };
    run(
        "one position with SL/TP, USD account",
        open("USD"),
        &points,
        4,
    );
    run(
        "one position with SL/TP, EUR account",
        open("EUR"),
        &points,
        4,
    );
    run("one position, one point a call", open("USD"), &points, 1);
}
