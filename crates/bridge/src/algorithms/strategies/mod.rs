//! Built-in trading strategies: pure functions from closed bars and open positions to intents.
//!
//! A strategy never talks to a terminal. The executor fetches [`Strategy::bars_needed`] bars, drops
//! the forming one, passes the strategy's open positions on the symbol, and turns the returned
//! [`Intent`]s into orders (sizing entries by risk, then the risk checks and the journal).
//! Parameters are validated against the same tables that [`Strategy::schema`] publishes, so the
//! schema and the checks cannot drift apart. All maths is on `f64` and a non-finite or degenerate
//! value yields no intent, never a panic.

mod core;
mod donchian_breakout;
mod indicators;
mod ma_crossover;
mod params;
mod rsi_reversion;

pub use self::core::{Intent, Params, Specific, Strategy};
pub use donchian_breakout::DonchianBreakout;
pub use ma_crossover::MaCrossover;
pub use rsi_reversion::RsiReversion;

/// The built-in strategies, in the order they are listed.
pub fn builtin() -> Vec<Box<dyn Strategy>> {
    vec![
        Box::new(MaCrossover),
        Box::new(RsiReversion),
        Box::new(DonchianBreakout),
    ]
}

/// A built-in strategy by its name.
pub fn find(name: &str) -> Option<Box<dyn Strategy>> {
    builtin().into_iter().find(|s| s.name() == name)
}

#[cfg(test)]
mod tests {
    use super::core::*;
    use super::indicators::*;
    use super::*;
    use mt5::util::PriceGrid;
    use mt5::{PositionType, Rate, Timeframe, TradePosition};
    use serde_json::{json, Map, Value};

    fn grid(digits: u32) -> PriceGrid {
        PriceGrid::of_digits(digits)
    }

    /// Bars with the given closes and a fixed half-range, so every true range is 2 × `half`
    /// while consecutive closes move by at most `half` (the ATR is then exactly 2 × `half`).
    fn bars(closes: &[f64], half: f64) -> Vec<Rate> {
        closes
            .iter()
            .enumerate()
            .map(|(i, &c)| Rate {
                time: 1_700_000_000 + 3600 * i as i64,
                open: c,
                high: c + half,
                low: c - half,
                close: c,
                tick_volume: 100,
                ..Rate::default()
            })
            .collect()
    }

    fn position(ticket: u64, side: PositionType) -> TradePosition {
        TradePosition {
            ticket,
            r#type: side,
            symbol: "EURUSD".into(),
            volume: 0.1,
            ..TradePosition::default()
        }
    }

    fn params(s: &dyn Strategy, v: Value) -> Params {
        match s.validate(&v) {
            Ok(p) => p,
            Err(e) => panic!("{v} refused: {e:?}"),
        }
    }

    fn errors(s: &dyn Strategy, v: Value) -> Vec<(String, String)> {
        match s.validate(&v) {
            Ok(p) => panic!("{v} accepted: {p:?}"),
            Err(e) => e.into_iter().map(|f| (f.field, f.message)).collect(),
        }
    }

    fn fields(s: &dyn Strategy, v: Value) -> Vec<String> {
        let mut f: Vec<String> = errors(s, v).into_iter().map(|(f, _)| f).collect();
        f.sort();
        f
    }

    /// (side, sl, tp) of the only entry among the intents.
    fn the_entry(intents: &[Intent]) -> (PositionType, f64, Option<f64>) {
        let entries: Vec<_> = intents
            .iter()
            .filter_map(|i| match i {
                Intent::Entry { side, sl, tp, .. } => Some((*side, *sl, *tp)),
                Intent::Exit { .. } => None,
            })
            .collect();
        assert_eq!(entries.len(), 1, "{intents:?}");
        entries[0]
    }

    fn exits(intents: &[Intent]) -> Vec<u64> {
        intents
            .iter()
            .filter_map(|i| match i {
                Intent::Exit { ticket, .. } => Some(*ticket),
                Intent::Entry { .. } => None,
            })
            .collect()
    }

    fn ma(extra: Value) -> Params {
        let mut v = json!({"symbol": "EURUSD", "fast_period": 2, "slow_period": 4,
            "atr_period": 3, "atr_sl_multiplier": 2.0, "tp_rr": 2.0});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&MaCrossover, v)
    }

    // Fast SMA(2) 9.75 ≤ slow SMA(4) 9.875 on the previous bar, 10.25 > 10.125 on the last.
    const CROSS_UP: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0, 99.5, 101.0];
    const CROSS_DOWN: [f64; 7] = [100.0, 100.0, 100.0, 100.0, 100.0, 100.5, 99.0];

    #[test]
    fn registry() {
        let names: Vec<&str> = builtin().iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            vec!["ma_crossover", "rsi_reversion", "donchian_breakout"]
        );
        assert_eq!(
            find("rsi_reversion").map(|s| s.name()),
            Some("rsi_reversion")
        );
        assert!(find("RSI_REVERSION").is_none());
        assert!(find("martingale").is_none());
    }

    #[test]
    fn indicators_by_hand() {
        // Changes −1, −1, −1: RSI 0; then +1: gain 1/3, loss 2/3, RS 0.5, RSI 33.33.
        let rsi = wilder_rsi(&[100.0, 99.0, 98.0, 97.0, 98.0], 3);
        assert_eq!(rsi.len(), 2);
        assert_eq!(rsi[0], 0.0);
        assert!((rsi[1] - 100.0 / 3.0).abs() < 1e-9, "{rsi:?}");
        // Gain 5/9, loss 4/9 after one more up bar: RSI 100 − 100 / 2.25 = 55.56.
        let rsi = wilder_rsi(&[100.0, 99.0, 98.0, 99.0, 100.0], 3);
        assert!((rsi[1] - (100.0 - 100.0 / 2.25)).abs() < 1e-9, "{rsi:?}");
        assert_eq!(wilder_rsi(&[5.0; 6], 3), vec![50.0; 3]);
        assert!(wilder_rsi(&[1.0, 2.0, 3.0], 3).is_empty());
        // TRs 2, 2, 2 then 4 (a gap above the previous close): seed 2, then (2 × 2 + 4) / 3.
        let b = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        let atr = wilder_atr(&b, 3).unwrap_or(f64::NAN);
        assert!((atr - 8.0 / 3.0).abs() < 1e-12, "{atr}");
        assert_eq!(wilder_atr(&b[..3], 3), None);
        assert_eq!(wilder_atr(&b, 0), None);
        assert_eq!(sma(&[]), None);
        assert_eq!(sma(&[1.0, 2.0, 6.0]), Some(3.0));
    }

    #[test]
    fn ma_crossover_long_and_short_with_hand_sl_tp() {
        let p = ma(json!({}));
        // ATR(3) = 4 (every true range is 4): SL = 101 − 2 × 4 = 93, TP = 101 + 2 × 8 = 117.
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_UP, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, Some(117.0)));
        let Intent::Entry { reason, .. } = &out[0] else {
            panic!("{out:?}")
        };
        assert!(reason.contains("crossed above"), "{reason}");
        // SL = 99 + 8 = 107, TP = 99 − 16 = 83.
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_DOWN, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 107.0, Some(83.0)));
        // Without tp_rr there is no take profit.
        let p = ma(json!({"tp_rr": null}));
        let out = MaCrossover.evaluate(&p, &bars(&CROSS_UP, 2.0), &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, None));
    }

    #[test]
    fn sl_rounds_away_from_the_price_and_tp_to_the_nearest_tick() {
        // fast SMA(2) 1.09985 < slow SMA(5) 1.09994, then 1.10005 > 1.10002.
        let closes = [1.1, 1.1, 1.1, 1.1, 1.1, 1.0997, 1.1004];
        let p = ma(json!({"slow_period": 5, "atr_sl_multiplier": 1.33, "tp_rr": 1.5}));
        // ATR = 0.0014; SL distance 1.33 × 0.0014 = 0.001862 → 1.1004 − 0.001862 = 1.098538 →
        // down to 1.09853; TP 1.1004 + 1.5 × 0.001862 = 1.103193 → nearest 1.10319.
        let out = MaCrossover.evaluate(&p, &bars(&closes, 0.0007), &[], grid(5));
        assert_eq!(the_entry(&out), (PositionType::Buy, 1.09853, Some(1.10319)));
        // Three digits: 1.098 and 1.103.
        let out = MaCrossover.evaluate(&p, &bars(&closes, 0.0007), &[], grid(3));
        assert_eq!(the_entry(&out), (PositionType::Buy, 1.098, Some(1.103)));
        // On a 0.25 tick a sell's SL goes up: 99 + 7.9 = 106.9 → 107.0; TP 91.1 → 91.0.
        let index = mt5::SymbolInfo {
            digits: 2,
            point: 0.01,
            trade_tick_size: 0.25,
            ..mt5::SymbolInfo::default()
        };
        let quarter = PriceGrid::of(&index);
        let q = ma(json!({"atr_sl_multiplier": 1.975, "tp_rr": 1.0}));
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_DOWN, 2.0), &[], quarter);
        assert_eq!(the_entry(&out), (PositionType::Sell, 107.0, Some(91.0)));
        // A buy on a 0.25 tick: SL 101 − 7.9 = 93.1 → 93.0, TP 101 + 7.9 = 108.9 → 109.0.
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_UP, 2.0), &[], quarter);
        assert_eq!(the_entry(&out), (PositionType::Buy, 93.0, Some(109.0)));
        // A tick of 5 on a symbol without decimals: 101 − 7.9 = 93.1 → 90, TP 108.9 → 110.
        let nikkei = mt5::SymbolInfo {
            digits: 0,
            point: 1.0,
            trade_tick_size: 5.0,
            ..mt5::SymbolInfo::default()
        };
        let out = MaCrossover.evaluate(&q, &bars(&CROSS_UP, 2.0), &[], PriceGrid::of(&nikkei));
        assert_eq!(the_entry(&out), (PositionType::Buy, 90.0, Some(110.0)));
        for i in &out {
            if let Intent::Entry { sl, tp, .. } = i {
                assert!(PriceGrid::of(&nikkei).ticks(*sl).is_some(), "{sl}");
                assert!(tp.and_then(|t| PriceGrid::of(&nikkei).ticks(t)).is_some());
            }
        }
    }

    #[test]
    fn ma_crossover_quiet_series_give_nothing() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        let flat = bars(&[1.1; 100], 0.001);
        assert!(MaCrossover.evaluate(&p, &flat, &[], grid(5)).is_empty());
        // A steady trend keeps fast above (or below) slow: no cross, however long.
        let up: Vec<f64> = (0..100).map(|i| 1.0 + 0.001 * i as f64).collect();
        let down: Vec<f64> = up.iter().rev().copied().collect();
        let shorts = [position(1, PositionType::Sell)];
        assert!(MaCrossover
            .evaluate(&p, &bars(&up, 0.002), &shorts, grid(5))
            .is_empty());
        assert!(MaCrossover
            .evaluate(&p, &bars(&down, 0.002), &[], grid(5))
            .is_empty());
        // Too few bars: the crossing series cut to 4 bars (slow 4 needs 5), and an ATR of 14.
        let q = ma(json!({}));
        let b = bars(&CROSS_UP, 2.0);
        assert!(MaCrossover.evaluate(&q, &b[3..], &[], grid(2)).is_empty());
        assert!(MaCrossover.evaluate(&q, &[], &[], grid(2)).is_empty());
        let q = ma(json!({"atr_period": 14}));
        assert!(MaCrossover.evaluate(&q, &b, &[], grid(2)).is_empty());
        // A NaN close anywhere in the windows: nothing, no panic.
        let mut nan = CROSS_UP;
        nan[5] = f64::NAN;
        assert!(MaCrossover
            .evaluate(&ma(json!({})), &bars(&nan, 2.0), &[], grid(2))
            .is_empty());
    }

    #[test]
    fn ma_crossover_exits_the_opposite_side() {
        let b = bars(&CROSS_UP, 2.0);
        // A short is closed and, with nothing left open, the long is entered (a reversal).
        let out = MaCrossover.evaluate(
            &ma(json!({})),
            &b,
            &[position(7, PositionType::Sell)],
            grid(2),
        );
        assert_eq!(exits(&out), vec![7]);
        assert_eq!(the_entry(&out).0, PositionType::Buy);
        // A long stays open and fills the only slot: the short closes, no new entry.
        let open = [
            position(7, PositionType::Sell),
            position(8, PositionType::Buy),
        ];
        let out = MaCrossover.evaluate(&ma(json!({})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![7]);
        // With two slots the entry comes too.
        let out = MaCrossover.evaluate(&ma(json!({"max_positions": 2})), &b, &open, grid(2));
        assert_eq!(exits(&out), vec![7]);
        assert_eq!(the_entry(&out).0, PositionType::Buy);
        // A down cross closes the longs.
        let out = MaCrossover.evaluate(
            &ma(json!({"max_positions": 3})),
            &bars(&CROSS_DOWN, 2.0),
            &open,
            grid(2),
        );
        assert_eq!(exits(&out), vec![8]);
        assert_eq!(the_entry(&out).0, PositionType::Sell);
    }

    #[test]
    fn max_positions_is_respected() {
        let b = bars(&CROSS_UP, 2.0);
        let longs = [
            position(1, PositionType::Buy),
            position(2, PositionType::Buy),
        ];
        assert!(MaCrossover
            .evaluate(&ma(json!({"max_positions": 2})), &b, &longs, grid(2))
            .is_empty());
        assert!(MaCrossover
            .evaluate(&ma(json!({"max_positions": 1})), &b, &longs, grid(2))
            .is_empty());
        let out = MaCrossover.evaluate(&ma(json!({"max_positions": 3})), &b, &longs, grid(2));
        assert_eq!(the_entry(&out).0, PositionType::Buy);
    }

    fn rsi(extra: Value) -> Params {
        let mut v = json!({"symbol": "XAUUSD", "rsi_period": 3, "atr_period": 3,
            "atr_sl_multiplier": 2.0, "tp_rr": 1.5});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&RsiReversion, v)
    }

    #[test]
    fn rsi_dip_and_recovery_buys() {
        // RSI(3) 0 → 33.33 crosses up through 30. ATR(3) = 4: SL 98 − 8 = 90, TP 98 + 12 = 110.
        let b = bars(&[100.0, 99.0, 98.0, 97.0, 98.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({})), &b, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 90.0, Some(110.0)));
        // With oversold at 35 the RSI (33.33) has not crossed it yet.
        let out = RsiReversion.evaluate(&rsi(json!({"oversold": 35})), &b, &[], grid(2));
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn rsi_spike_and_fall_sells() {
        // RSI(3) 100 → 66.67 crosses down through 70: SL 102 + 8 = 110, TP 102 − 12 = 90.
        let b = bars(&[100.0, 101.0, 102.0, 103.0, 102.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({})), &b, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 110.0, Some(90.0)));
        // An open long closes on the same bar (66.67 ≥ 50) and its slot goes to the short.
        let out = RsiReversion.evaluate(
            &rsi(json!({})),
            &b,
            &[position(3, PositionType::Buy)],
            grid(2),
        );
        assert_eq!(exits(&out), vec![3]);
        assert_eq!(the_entry(&out).0, PositionType::Sell);
    }

    #[test]
    fn rsi_exits_at_the_midline() {
        let open = [
            position(1, PositionType::Buy),
            position(2, PositionType::Sell),
        ];
        // RSI 33.33 → 55.56: the long closes, the short stays, no entry.
        let up = bars(&[100.0, 99.0, 98.0, 99.0, 100.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({"max_positions": 5})), &up, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![1]);
        // RSI 66.67 → 44.44: the short closes, the long stays.
        let down = bars(&[100.0, 101.0, 102.0, 101.0, 100.0], 2.0);
        let out = RsiReversion.evaluate(&rsi(json!({"max_positions": 5})), &down, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![2]);
    }

    #[test]
    fn rsi_quiet_series_give_nothing() {
        let p = rsi(json!({}));
        assert!(RsiReversion
            .evaluate(&p, &bars(&[100.0; 30], 2.0), &[], grid(2))
            .is_empty());
        // Falling all the way: RSI stays at 0, never crosses up.
        let down: Vec<f64> = (0..30).map(|i| 200.0 - i as f64).collect();
        assert!(RsiReversion
            .evaluate(&p, &bars(&down, 2.0), &[], grid(2))
            .is_empty());
        // Four bars are one too few for RSI(3) on two bars.
        let b = bars(&[100.0, 99.0, 98.0, 97.0, 98.0], 2.0);
        assert!(RsiReversion.evaluate(&p, &b[1..], &[], grid(2)).is_empty());
        let mut broken = b.clone();
        broken[2].close = f64::NAN;
        assert!(RsiReversion.evaluate(&p, &broken, &[], grid(2)).is_empty());
        assert!(wilder_rsi(&[100.0, f64::NAN, 98.0, 97.0, 98.0], 3).is_empty());
        broken[2].close = 98.0;
        broken[3].high = f64::INFINITY;
        assert_eq!(wilder_atr(&broken, 3), None);
        // Another strategy's parameters: nothing.
        assert!(RsiReversion
            .evaluate(&ma(json!({})), &b, &[], grid(2))
            .is_empty());
    }

    fn donchian(extra: Value) -> Params {
        let mut v = json!({"symbol": "US500", "channel_period": 3, "exit_period": 2,
            "atr_period": 3, "atr_sl_multiplier": 2.0, "tp_rr": 1.0});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        params(&DonchianBreakout, v)
    }

    #[test]
    fn donchian_breakouts() {
        // 103 > the 3-bar high 101. ATR(3) = (2 × 2 + 4) / 3 = 8/3, SL distance 16/3:
        // SL 103 − 5.333 = 97.667 → down to 97.66, TP 103 + 5.333 = 108.33.
        let up = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        let out = DonchianBreakout.evaluate(&donchian(json!({})), &up, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Buy, 97.66, Some(108.33)));
        // 97 < the 3-bar low 99: SL 102.333 → up to 102.34, TP 91.67.
        let down = bars(&[100.0, 100.0, 100.0, 100.0, 97.0], 1.0);
        let out = DonchianBreakout.evaluate(&donchian(json!({})), &down, &[], grid(2));
        assert_eq!(the_entry(&out), (PositionType::Sell, 102.34, Some(91.67)));
        // Touching the high is not a break.
        let touch = bars(&[100.0, 100.0, 100.0, 100.0, 101.0], 1.0);
        assert!(DonchianBreakout
            .evaluate(&donchian(json!({})), &touch, &[], grid(2))
            .is_empty());
    }

    #[test]
    fn donchian_exits_on_the_short_channel() {
        let open = [
            position(1, PositionType::Buy),
            position(2, PositionType::Sell),
        ];
        // 98.5 is inside the 3-bar channel (95..101) but below the 2-bar low 99: the long exits.
        let b = bars(&[100.0, 96.0, 100.0, 100.0, 98.5], 1.0);
        let out =
            DonchianBreakout.evaluate(&donchian(json!({"max_positions": 5})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![1]);
        // 101.5 is inside the 3-bar channel (99..105) but above the 2-bar high 101: the short exits.
        let b = bars(&[100.0, 104.0, 100.0, 100.0, 101.5], 1.0);
        let out =
            DonchianBreakout.evaluate(&donchian(json!({"max_positions": 5})), &b, &open, grid(2));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(exits(&out), vec![2]);
    }

    #[test]
    fn donchian_quiet_series_give_nothing() {
        let p = donchian(json!({}));
        assert!(DonchianBreakout
            .evaluate(&p, &bars(&[100.0; 30], 1.0), &[], grid(2))
            .is_empty());
        let up = bars(&[100.0, 100.0, 100.0, 100.0, 103.0], 1.0);
        assert!(DonchianBreakout
            .evaluate(&p, &up[2..], &[], grid(2))
            .is_empty());
        // A NaN high inside the channel must not be skipped over as if it were not there.
        let mut broken = up.clone();
        broken[2].high = f64::NAN;
        assert!(DonchianBreakout
            .evaluate(&p, &broken, &[], grid(2))
            .is_empty());
        // A full slot blocks the entry.
        assert!(DonchianBreakout
            .evaluate(&p, &up, &[position(1, PositionType::Buy)], grid(2))
            .is_empty());
    }

    #[test]
    fn an_unusable_atr_gives_no_entry() {
        // Bars with no range and a one-bar cross: the ATR is tiny but positive. Rounded away from
        // the close at 0 digits the SL lands one tick below it, never on it (whether the broker
        // takes a stop that close is the executor's stops-level check).
        let b = bars(&CROSS_UP, 0.0);
        let out = MaCrossover.evaluate(&ma(json!({"atr_sl_multiplier": 0.01})), &b, &[], grid(0));
        // The TP (2 × 0.006 above 101) rounds onto the close: no entry with a target it is at.
        assert!(out.is_empty(), "{out:?}");
        let out = MaCrossover.evaluate(
            &ma(json!({"atr_sl_multiplier": 0.01, "tp_rr": null})),
            &b,
            &[],
            grid(0),
        );
        assert_eq!(the_entry(&out), (PositionType::Buy, 100.0, None));
        // A SL that would be below zero: no entry.
        let out = MaCrossover.evaluate(
            &ma(json!({"atr_sl_multiplier": 50})),
            &bars(&CROSS_UP, 2.0),
            &[],
            grid(2),
        );
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn defaults_are_applied() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        assert_eq!(
            p,
            Params {
                symbol: "EURUSD".into(),
                timeframe: Timeframe::H1,
                risk_per_trade: 0.01,
                max_positions: 1,
                atr_period: 14,
                atr_sl_multiplier: 2.0,
                tp_rr: None,
                specific: Specific::MaCrossover {
                    fast_period: 10,
                    slow_period: 30
                },
            }
        );
        let p = params(
            &RsiReversion,
            json!({"symbol": "EURUSD", "timeframe": "m15"}),
        );
        assert_eq!(p.timeframe, Timeframe::M15);
        assert_eq!(
            p.specific,
            Specific::RsiReversion {
                rsi_period: 14,
                oversold: 30.0,
                overbought: 70.0
            }
        );
        let p = params(
            &DonchianBreakout,
            json!({"symbol": "EURUSD", "timeframe": "MN1"}),
        );
        assert_eq!(p.timeframe, Timeframe::MN1);
        assert_eq!(
            p.specific,
            Specific::DonchianBreakout {
                channel_period: 20,
                exit_period: 10
            }
        );
        // Null means "use the default".
        let p = params(
            &MaCrossover,
            json!({"symbol": "EURUSD", "fast_period": null, "timeframe": null}),
        );
        assert_eq!(p.timeframe, Timeframe::H1);
        assert_eq!(
            p.specific,
            Specific::MaCrossover {
                fast_period: 10,
                slow_period: 30
            }
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let got = fields(
            &MaCrossover,
            json!({"symbol": 5, "timeframe": "H5", "risk_per_trade": 1.5, "max_positions": 0,
                "atr_period": -1, "atr_sl_multiplier": 0, "tp_rr": "x", "fast_period": 1.5,
                "slow_period": 100000, "bogus": 1}),
        );
        assert_eq!(
            got,
            vec![
                "parameters.atr_period",
                "parameters.atr_sl_multiplier",
                "parameters.bogus",
                "parameters.fast_period",
                "parameters.max_positions",
                "parameters.risk_per_trade",
                "parameters.slow_period",
                "parameters.symbol",
                "parameters.timeframe",
                "parameters.tp_rr",
            ]
        );
        let e = errors(&MaCrossover, json!({"symbol": "EURUSD", "bogus": 1}));
        assert_eq!(
            e,
            vec![(
                "parameters.bogus".to_string(),
                "unknown parameter".to_string()
            )]
        );
        let e = errors(&MaCrossover, json!({"risk_per_trade": 0}));
        assert_eq!(
            e,
            vec![
                ("parameters.symbol".to_string(), "is required".to_string()),
                (
                    "parameters.risk_per_trade".to_string(),
                    "must be a number in (0, 1]".to_string()
                ),
            ]
        );
        assert_eq!(fields(&MaCrossover, Value::Null), vec!["parameters.symbol"]);
        assert_eq!(fields(&MaCrossover, json!([1])), vec!["parameters"]);
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "  "})),
            vec!["parameters.symbol"]
        );
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "A".repeat(33)})),
            vec!["parameters.symbol"]
        );
        // Another strategy's keys are unknown here.
        assert_eq!(
            fields(&RsiReversion, json!({"symbol": "EURUSD", "fast_period": 5})),
            vec!["parameters.fast_period"]
        );
        // risk_per_trade may be exactly 1; max_positions 100 is the cap.
        assert!(MaCrossover
            .validate(&json!({"symbol": "EURUSD", "risk_per_trade": 1}))
            .is_ok());
        assert_eq!(
            fields(
                &MaCrossover,
                json!({"symbol": "EURUSD", "max_positions": 101})
            ),
            vec!["parameters.max_positions"]
        );
    }

    #[test]
    fn cross_field_rules() {
        let e = errors(
            &MaCrossover,
            json!({"symbol": "EURUSD", "fast_period": 30, "slow_period": 30}),
        );
        assert_eq!(
            e,
            vec![(
                "parameters.slow_period".to_string(),
                "must be greater than fast_period".to_string()
            )]
        );
        // The default slow (30) is checked against an explicit fast too.
        assert_eq!(
            fields(&MaCrossover, json!({"symbol": "EURUSD", "fast_period": 40})),
            vec!["parameters.slow_period"]
        );
        assert_eq!(
            fields(
                &RsiReversion,
                json!({"symbol": "EURUSD", "oversold": 70, "overbought": 70})
            ),
            vec!["parameters.oversold"]
        );
        assert_eq!(
            fields(&RsiReversion, json!({"symbol": "EURUSD", "oversold": 80})),
            vec!["parameters.oversold"]
        );
        assert_eq!(
            fields(
                &RsiReversion,
                json!({"symbol": "EURUSD", "overbought": 100})
            ),
            vec!["parameters.overbought"]
        );
        assert_eq!(
            fields(
                &DonchianBreakout,
                json!({"symbol": "EURUSD", "channel_period": 10, "exit_period": 10})
            ),
            vec!["parameters.exit_period"]
        );
    }

    #[test]
    fn schema_matches_validation() {
        for s in builtin() {
            let schema = s.schema();
            assert_eq!(schema["required"], json!(["symbol"]));
            assert_eq!(schema["additionalProperties"], json!(false));
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            // Every documented default, sent back, is accepted and equals the implicit defaults.
            let mut body = Map::new();
            for (k, v) in &props {
                assert!(v["description"].is_string(), "{} {k}", s.name());
                assert!(
                    v.get("default").is_some() || k == "symbol",
                    "{} {k}",
                    s.name()
                );
                if let Some(d) = v.get("default") {
                    body.insert(k.clone(), d.clone());
                }
            }
            body.insert("symbol".into(), json!("EURUSD"));
            let from_schema = params(s.as_ref(), Value::Object(body));
            let implicit = params(s.as_ref(), json!({"symbol": "EURUSD"}));
            assert_eq!(from_schema, implicit, "{}", s.name());
            // to_json lists exactly the schema's keys and validates back to the same Params.
            let round = implicit.to_json();
            let keys: Vec<&String> = round
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(keys, props.keys().collect::<Vec<_>>(), "{}", s.name());
            assert_eq!(params(s.as_ref(), round), implicit, "{}", s.name());
            assert!(!s.description().is_empty());
        }
        let schema = RsiReversion.schema();
        assert_eq!(
            schema["properties"]["oversold"]["exclusiveMaximum"],
            json!(100.0)
        );
        assert_eq!(
            schema["properties"]["risk_per_trade"]["maximum"],
            json!(1.0)
        );
        assert_eq!(schema["properties"]["timeframe"]["default"], json!("H1"));
        assert_eq!(
            schema["properties"]["tp_rr"]["type"],
            json!(["number", "null"])
        );
    }

    #[test]
    fn bars_needed_covers_the_warm_up() {
        let p = params(&MaCrossover, json!({"symbol": "EURUSD"}));
        // ATR(14): 15 bars + 5 × 14 of warm-up = 85 > slow 30 + 1.
        assert_eq!(MaCrossover.bars_needed(&p), 85);
        let p = params(
            &MaCrossover,
            json!({"symbol": "EURUSD", "slow_period": 200}),
        );
        assert_eq!(MaCrossover.bars_needed(&p), 201);
        let p = params(&RsiReversion, json!({"symbol": "EURUSD", "rsi_period": 20}));
        assert_eq!(RsiReversion.bars_needed(&p), 22 + 100);
        let p = params(
            &DonchianBreakout,
            json!({"symbol": "EURUSD", "channel_period": 100}),
        );
        assert_eq!(DonchianBreakout.bars_needed(&p), 101);
    }

    #[test]
    fn intents_serialize_with_an_action_tag() {
        let out = MaCrossover.evaluate(
            &ma(json!({})),
            &bars(&CROSS_UP, 2.0),
            &[position(9, PositionType::Sell)],
            grid(2),
        );
        let v = serde_json::to_value(&out).unwrap_or_default();
        assert_eq!(v[0]["action"], json!("exit"));
        assert_eq!(v[0]["ticket"], json!(9));
        assert_eq!(v[1]["action"], json!("entry"));
        assert_eq!(v[1]["side"], json!("buy"));
        assert_eq!(v[1]["sl"], json!(93.0));
        assert_eq!(v[1]["tp"], json!(117.0));
    }
}
