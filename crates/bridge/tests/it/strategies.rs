//! The built-in strategies and risk sizing walked over the simulator's price feed: every intent is
//! well formed (stops on the right side, on the symbol's tick grid), every sized volume is on the
//! grid and risks no more than asked, and each strategy does trade over a few thousand bars.

use mt5::util::PriceGrid;
use mt5::{PositionType, RatesRange, Timeframe, TradePosition};
use mt5_bridge::algorithms::sizing::{loss_at_sl, size_by_risk, Sized};
use mt5_bridge::algorithms::strategies::{builtin, find, Intent};
use mt5_sim::prices::PriceFeed;
use mt5_sim::symbols::builtin_symbols;
use serde_json::json;

/// 2025-03-03 12:00 UTC, a Monday.
const NOW_MS: i64 = 1_741_003_200_000;
const EQUITY: f64 = 10_000.0;

#[test]
fn strategies_on_the_simulated_feed() {
    let feed = PriceFeed::new(20250303, builtin_symbols(), 7200);
    for symbol in ["EURUSD", "USDJPY", "XAUUSD", "US100"] {
        let info = feed
            .symbol_info(symbol, NOW_MS, "USD")
            .expect("symbol info");
        let grid = PriceGrid::of(&info);
        // Closed bars only: the forming bar (the last one) is dropped.
        let mut all = feed
            .rates(
                symbol,
                Timeframe::H1,
                RatesRange::FromPos {
                    start: 0,
                    count: 3000,
                },
                NOW_MS,
            )
            .expect("rates");
        all.pop();
        assert!(all.len() > 2500, "{symbol}: {} bars", all.len());
        for strategy in builtin() {
            let name = strategy.name();
            let p = strategy
                .validate(&json!({"symbol": symbol, "tp_rr": 2.0, "max_positions": 3}))
                .expect("valid parameters");
            let need = strategy.bars_needed(&p) as usize;
            let (mut entries, mut exits, mut sized) = (0, 0, 0);
            // A few open positions of each side so exits have something to close.
            let positions = [
                position(1, PositionType::Buy),
                position(2, PositionType::Sell),
            ];
            for end in need..=all.len() {
                let window = &all[end - need..end];
                let close = window[need - 1].close;
                let intents = strategy.evaluate(&p, window, &positions, grid);
                for intent in &intents {
                    match intent {
                        Intent::Entry {
                            side,
                            sl,
                            tp,
                            reason,
                        } => {
                            entries += 1;
                            assert!(!reason.is_empty());
                            let sign = side.sign().expect("entries are buy or sell");
                            assert!(
                                (close - sl) * sign > 0.0,
                                "{name} {symbol}: SL {sl} vs {close}"
                            );
                            assert_eq!(mt5::util::normalize(*sl, info.digits), *sl);
                            assert!(grid.ticks(*sl).is_some(), "{symbol}: SL {sl} off the tick");
                            let tp = tp.expect("tp_rr is set");
                            assert!(
                                (tp - close) * sign > 0.0,
                                "{name} {symbol}: TP {tp} vs {close}"
                            );
                            assert_eq!(mt5::util::normalize(tp, info.digits), tp);
                            assert!(grid.ticks(tp).is_some(), "{symbol}: TP {tp} off the tick");
                            // TP at twice the SL distance, within the rounding of both.
                            let ratio = (tp - close).abs() / (close - sl).abs();
                            assert!((ratio - 2.0).abs() < 0.05, "{name} {symbol}: R:R {ratio}");
                            if check_sizing(&info, close, *sl, p.risk_per_trade) {
                                sized += 1;
                            }
                        }
                        Intent::Exit { ticket, reason } => {
                            exits += 1;
                            assert!(*ticket == 1 || *ticket == 2, "{ticket}");
                            assert!(!reason.is_empty());
                        }
                    }
                }
            }
            assert!(
                entries > 0,
                "{name} {symbol}: no entry in {} bars",
                all.len()
            );
            assert!(exits > 0, "{name} {symbol}: no exit in {} bars", all.len());
            assert!(sized > 0, "{name} {symbol}: every entry skipped by sizing");
        }
    }
}

/// Checks one sizing; true when it produced a volume.
fn check_sizing(info: &mt5::SymbolInfo, entry: f64, sl: f64, risk: f64) -> bool {
    match size_by_risk(EQUITY, risk, entry, sl, info) {
        Sized::Volume(v) => {
            let units = mt5::util::volume_units(v, info.volume_step);
            assert!(units.is_some(), "{v} not on the step {}", info.volume_step);
            assert!(v >= info.volume_min && v <= info.volume_max, "{v}");
            let loss = loss_at_sl(v, entry, sl, info);
            assert!(loss <= risk * EQUITY * (1.0 + 1e-9), "{v} lots lose {loss}");
            // One more step would risk more than asked: the volume is the largest allowed.
            let next = v + info.volume_step;
            if next <= info.volume_max {
                assert!(loss_at_sl(next, entry, sl, info) > risk * EQUITY * (1.0 - 1e-9));
            }
            true
        }
        Sized::Skip(reason) => {
            assert!(reason.contains("volume_min"), "{reason}");
            let min_loss = loss_at_sl(info.volume_min, entry, sl, info);
            assert!(min_loss > risk * EQUITY, "skipped though {min_loss} fits");
            false
        }
    }
}

fn position(ticket: u64, side: PositionType) -> TradePosition {
    TradePosition {
        ticket,
        r#type: side,
        volume: 0.1,
        ..TradePosition::default()
    }
}

#[test]
fn find_resolves_every_builtin_and_nothing_else() {
    for s in builtin() {
        let found = find(s.name()).expect("builtin by name");
        assert_eq!(found.schema(), s.schema());
    }
    assert!(find("").is_none());
    assert!(find("ma_crossover ").is_none());
}
