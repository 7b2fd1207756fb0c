//! The backtest benchmark, engine and strategy alone: `backtest::run::run` over the simulator's
//! EURUSD history already in memory (no terminal, no cache, no store), all costs on, one core.
//! `ma_crossover` on M1 with `open_prices` and on H1 with `m1_ohlc` (the path through every M1
//! bar), over `--years` of the simulator's 24/7 history; bars per second and the peak resident
//! memory.
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_backtest -- --years 1`
//! (docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use mt5::{RatesRange, Timeframe};
use mt5_bridge::algorithms::strategies;
use mt5_bridge::backtest::run::{self, History, Model, Settings, Spread};
use mt5_bridge::risk::RiskLimits;
use serde_json::json;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(name = "bench_backtest", about = "Backtest speed of mt5-bridge")]
struct Args {
    /// Years of history.
    #[arg(long, default_value_t = 1)]
    years: u32,
}

/// `count` bars of `timeframe` ending before `end_ms`, read in the feed's pages (it keeps a
/// terminal's bars-in-chart limit), oldest first.
fn bars(
    feed: &mt5_sim::prices::PriceFeed,
    timeframe: Timeframe,
    count: usize,
    end_ms: i64,
) -> Vec<mt5::Rate> {
    let page = 10_000usize;
    let seconds = timeframe.seconds().unwrap_or(60);
    let mut out: Vec<mt5::Rate> = Vec::with_capacity(count);
    let mut end = end_ms;
    while out.len() < count {
        let want = page.min(count - out.len());
        let got = feed
            .rates(
                "EURUSD",
                timeframe,
                RatesRange::FromPos {
                    start: 1,
                    count: want as u32,
                },
                end,
            )
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        end -= seconds * 1000 * got.len() as i64;
        let mut page_bars = got;
        page_bars.append(&mut out);
        out = page_bars;
    }
    out
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match support::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("machine: {}", support::machine());
    let feed = mt5_sim::prices::PriceFeed::new(7, mt5_sim::symbols::builtin_symbols(), 0);
    let end_ms = 1_735_689_600_000; // 2025-01-01
    let minutes = 525_600 * args.years as usize;
    let loaded = Instant::now();
    let m1 = bars(&feed, Timeframe::M1, minutes, end_ms);
    let h1 = bars(&feed, Timeframe::H1, minutes / 60, end_ms);
    println!(
        "history: {} M1 and {} H1 bars generated in {:.1} s",
        m1.len(),
        h1.len(),
        loaded.elapsed().as_secs_f64()
    );
    let info = match feed.symbol_info("EURUSD", end_ms, "USD") {
        Some(i) => i,
        None => return ExitCode::FAILURE,
    };
    let settings = |model| Settings {
        model,
        spread: Spread::Larger(12),
        slippage_points: 1,
        commission_per_lot: 3.5,
        initial_deposit: 10_000.0,
        account: mt5_sim::engine::AccountSettings::simulated(
            "USD",
            100,
            mt5::AccountMarginMode::RetailHedging,
            50.0,
            30.0,
        ),
        server_offset_s: 0,
        max_curve_points: 10_000,
    };
    let Some(strategy) = strategies::find("ma_crossover") else {
        return ExitCode::FAILURE;
    };
    for (label, timeframe, bar_seconds, model, decision_bars) in [
        ("M1 open_prices", "M1", 60, Model::OpenPrices, &m1),
        ("H1 m1_ohlc", "H1", 3600, Model::M1Ohlc, &h1),
    ] {
        let walked = m1.len();
        let Ok(params) = strategy.validate(&json!({
            "symbol": "EURUSD", "timeframe": timeframe, "risk_per_trade": 0.01, "max_positions": 3,
        })) else {
            return ExitCode::FAILURE;
        };
        let history = History {
            bars: decision_bars,
            m1: &m1,
            bar_seconds,
            conversions: &[],
        };
        let started = Instant::now();
        let outcome = rt.block_on(run::run(
            strategy.as_ref(),
            &params,
            &RiskLimits::default(),
            &info,
            &history,
            &settings(model),
            1,
            &AtomicBool::new(false),
            &mut |_| {},
        ));
        let took = started.elapsed().as_secs_f64();
        match outcome {
            Ok(o) => println!(
                "{label}: {} decision bars, {walked} M1 bars walked in {took:.2} s: {:.0} M1 bars/s; {} trades, net {:.2}; peak RSS {:.0} MB",
                decision_bars.len(),
                walked as f64 / took,
                o.report.total_trades,
                o.report.net_profit,
                peak_rss_mb()
            ),
            Err(e) => {
                eprintln!("{label}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
