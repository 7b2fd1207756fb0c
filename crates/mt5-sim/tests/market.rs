//! The simulated market seen from outside: deterministic prices, bars and their ranges, server-clock
//! alignment, currency conversion and quoted symbol info.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use mt5::{last_error, RatesRange, TerminalError, Timeframe};
use mt5_sim::market::{Favour, Market, SymbolSpec};
use mt5_sim::prices::{max_bars, PriceFeed, MAX_BARS_DAILY, MAX_BARS_INTRADAY};
use mt5_sim::symbols::{builtin_symbol, builtin_symbols};

/// 2024-11-25 12:25:23.456 UTC, a Monday.
const NOW: i64 = 1_732_537_523_456;
const DAY_MS: i64 = 86_400_000;

fn feed(seed: u64, offset_s: i64) -> PriceFeed {
    PriceFeed::new(seed, builtin_symbols(), offset_s)
}

fn code(e: &TerminalError) -> i32 {
    e.last_error().0
}

#[test]
fn same_seed_same_prices_other_seed_other_prices() {
    let a = feed(7, 7200);
    let b = feed(7, 7200);
    let c = feed(8, 7200);
    let mut differs = 0;
    for s in builtin_symbols() {
        let name = &s.info.name;
        for k in 0..200i64 {
            let t = NOW - k * 3_600_123;
            assert_eq!(a.tick(name, t), b.tick(name, t), "{name} at {t}");
            if a.tick(name, t) != c.tick(name, t) {
                differs += 1;
            }
        }
        let range = RatesRange::FromPos {
            start: 0,
            count: 500,
        };
        assert_eq!(
            a.rates(name, Timeframe::M15, range, NOW).unwrap(),
            b.rates(name, Timeframe::M15, range, NOW).unwrap()
        );
        assert_ne!(
            a.rates(name, Timeframe::M15, range, NOW).unwrap(),
            c.rates(name, Timeframe::M15, range, NOW).unwrap()
        );
    }
    assert!(differs > 1_300, "only {differs} of 1400 ticks differ");
}

#[test]
fn symbols_have_independent_paths() {
    let f = feed(42, 0);
    let a: Vec<f64> = (0..50)
        .map(|k| f.quote("EURUSD", NOW + k * 60_000).unwrap().bid / 1.08)
        .collect();
    let b: Vec<f64> = (0..50)
        .map(|k| f.quote("GBPUSD", NOW + k * 60_000).unwrap().bid / 1.27)
        .collect();
    assert_ne!(a, b);
}

#[test]
fn prices_stay_within_half_of_base_for_decades() {
    let f = feed(42, 0);
    for s in builtin_symbols() {
        let name = &s.info.name;
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        // Every 7 hours over 20 years, on both sides of now.
        for k in -12_500i64..12_500 {
            let q = f.quote(name, NOW + k * 7 * 3_600_000).unwrap();
            lo = lo.min(q.bid);
            hi = hi.max(q.ask);
        }
        assert!(lo > 0.5 * s.base_price, "{name} fell to {lo}");
        assert!(hi < 1.5 * s.base_price, "{name} rose to {hi}");
        // It does wander: a flat line would pass the bounds too.
        assert!(hi / lo > 1.05, "{name} barely moves: {lo}..{hi}");
    }
}

#[test]
fn ticks_are_normalized_and_move_every_few_seconds() {
    let f = feed(42, 10_800);
    for s in builtin_symbols() {
        let info = &s.info;
        let scale = 10f64.powi(info.digits as i32);
        let mut changes = 0;
        let mut prev = f.tick(&info.name, NOW).unwrap();
        for k in 1..=120i64 {
            let t = f.tick(&info.name, NOW + k * 1000).unwrap();
            assert_eq!(t.flags, 6, "BID|ASK");
            // The last tick: the start of its 250 ms grid cell, on the server clock.
            let utc = NOW + k * 1000;
            assert_eq!(t.time_msc, utc - utc % 250 + 10_800_000);
            assert_eq!(t.time, utc / 1000 + 10_800);
            assert!(((t.bid * scale) - (t.bid * scale).round()).abs() < 1e-6);
            let spread = ((t.ask - t.bid) * scale).round() as i32;
            assert_eq!(spread, s.spread_points, "{}", info.name);
            if t.bid != prev.bid {
                changes += 1;
            }
            prev = t;
        }
        assert!(
            changes >= 80,
            "{}: bid changed in {changes} of 120 s",
            info.name
        );
    }
}

#[test]
fn ticks_sit_on_the_tick_grid() {
    let f = feed(1, 0);
    let a = f.quote("EURUSD", NOW - NOW % 250).unwrap();
    let b = f.quote("EURUSD", NOW - NOW % 250 + 249).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.time_msc, NOW - NOW % 250);
    assert!(f.quote("NOPE", NOW).is_none());
    assert!(f.tick("eurusd", NOW).is_none());
}

fn check_ohlc(f: &PriceFeed, symbol: &str, tf: Timeframe, count: u32, offset_s: i64) {
    let bars = f
        .rates(symbol, tf, RatesRange::FromPos { start: 0, count }, NOW)
        .unwrap();
    assert_eq!(bars.len(), count as usize, "{symbol} {tf}");
    let spec = builtin_symbol(symbol).unwrap();
    for w in bars.windows(2) {
        assert!(w[0].time < w[1].time, "{tf}: times must increase");
    }
    for r in &bars {
        assert!(r.low <= r.open.min(r.close), "{symbol} {tf} {r:?}");
        assert!(r.high >= r.open.max(r.close), "{symbol} {tf} {r:?}");
        assert!(r.low > 0.0);
        assert_eq!(r.spread, spec.spread_points);
        assert_eq!(r.real_volume, 0);
        assert!(r.tick_volume >= 1);
    }
    let last = bars.last().unwrap();
    assert!(last.time <= NOW / 1000 + offset_s, "no bar in the future");
}

#[test]
fn bars_are_ohlc_consistent() {
    let f = feed(42, 7200);
    check_ohlc(&f, "EURUSD", Timeframe::M1, 10_000, 7200);
    check_ohlc(&f, "XAUUSD", Timeframe::H4, 10_000, 7200);
    check_ohlc(&f, "USDJPY", Timeframe::M15, 10_000, 7200);
    check_ohlc(&f, "US500", Timeframe::D1, 1_000, 7200);
    check_ohlc(&f, "EURJPY", Timeframe::W1, 1_000, 7200);
    check_ohlc(&f, "GBPUSD", Timeframe::MN1, 1_000, 7200);
}

#[test]
fn bars_are_not_flat() {
    let f = feed(42, 0);
    let bars = f
        .rates(
            "EURUSD",
            Timeframe::H1,
            RatesRange::FromPos {
                start: 1,
                count: 100,
            },
            NOW,
        )
        .unwrap();
    let ranged = bars.iter().filter(|r| r.high > r.low).count();
    assert!(ranged >= 95, "{ranged} of 100 H1 bars have a range");
    let points: Vec<f64> = bars.iter().map(|r| (r.high - r.low) / 0.00001).collect();
    let mean = points.iter().sum::<f64>() / points.len() as f64;
    // EURUSD at ~7 % a year moves some 5-25 pips an hour.
    assert!((30.0..400.0).contains(&mean), "mean H1 range {mean} points");
}

#[test]
fn forming_bar_agrees_with_the_tick() {
    for offset in [0, 7200, -18_000] {
        let f = feed(5, offset);
        for tf in [
            Timeframe::M1,
            Timeframe::M5,
            Timeframe::H1,
            Timeframe::H4,
            Timeframe::D1,
            Timeframe::W1,
            Timeframe::MN1,
        ] {
            for now in [NOW, NOW + 37_250, NOW + 5 * DAY_MS + 1] {
                let tick = f.tick("EURUSD", now).unwrap();
                let bars = f
                    .rates(
                        "EURUSD",
                        tf,
                        RatesRange::FromPos { start: 0, count: 2 },
                        now,
                    )
                    .unwrap();
                let forming = bars[1];
                assert_eq!(forming.close, tick.bid, "{tf} offset {offset}");
                assert!(forming.high >= tick.bid && forming.low <= tick.bid);
                assert!(forming.time <= tick.time);
                // Open = the bid at the bar's start (server time → UTC).
                let open_tick = f.tick("EURUSD", (forming.time - offset) * 1000).unwrap();
                assert_eq!(forming.open, open_tick.bid, "{tf}");
                // The previous bar closes just before the forming one opens.
                let prev_close = f
                    .tick("EURUSD", (forming.time - offset) * 1000 - 1)
                    .unwrap();
                assert_eq!(bars[0].close, prev_close.bid, "{tf}");
            }
        }
    }
}

#[test]
fn from_pos_semantics_and_history_limit() {
    let f = feed(3, 7200);
    let pos = |start, count| {
        f.rates(
            "EURUSD",
            Timeframe::M1,
            RatesRange::FromPos { start, count },
            NOW,
        )
    };
    let five = pos(0, 5).unwrap();
    assert_eq!(five.len(), 5);
    let now_server_s = NOW / 1000 + 7200;
    assert_eq!(five[4].time, now_server_s - now_server_s % 60);
    assert_eq!(pos(1, 3).unwrap(), five[1..4].to_vec());
    // Beyond the history only what exists is returned; nothing left is an error.
    let limit = MAX_BARS_INTRADAY;
    assert_eq!(max_bars(Timeframe::M1), limit);
    assert_eq!(max_bars(Timeframe::H12), limit);
    assert_eq!(max_bars(Timeframe::D1), MAX_BARS_DAILY);
    assert_eq!(max_bars(Timeframe::MN1), MAX_BARS_DAILY);
    let tail = pos(limit - 3, 10).unwrap();
    assert_eq!(tail.len(), 3);
    assert_eq!(tail[2].time, five[4].time - i64::from(limit - 3) * 60);
    assert_eq!(pos(0, u32::MAX).unwrap().len(), limit as usize);
    let err = pos(limit, 1).unwrap_err();
    assert_eq!(err, TerminalError::call_failed());
    assert_eq!(code(&err), last_error::FAIL);
    let err = pos(0, 0).unwrap_err();
    assert_eq!(err, TerminalError::invalid_argument("count"));
    assert_eq!(code(&err), last_error::INVALID_PARAMS);
    let d1 = f
        .rates(
            "EURUSD",
            Timeframe::D1,
            RatesRange::FromPos {
                start: MAX_BARS_DAILY - 1,
                count: 5,
            },
            NOW,
        )
        .unwrap();
    assert_eq!(d1.len(), 1);
}

#[test]
fn from_date_semantics() {
    let f = feed(3, 0);
    let from = |date, count| {
        f.rates(
            "GBPUSD",
            Timeframe::M5,
            RatesRange::From { date, count },
            NOW,
        )
    };
    let all = f
        .rates(
            "GBPUSD",
            Timeframe::M5,
            RatesRange::FromPos {
                start: 0,
                count: 100,
            },
            NOW,
        )
        .unwrap();
    // A date exactly on a bar's open includes that bar as the last.
    let t = all[50].time;
    let got = from(t, 3).unwrap();
    assert_eq!(got, all[48..51].to_vec());
    // A date inside a bar: the bar that opened before it is the last.
    assert_eq!(from(t + 299, 3).unwrap(), all[48..51].to_vec());
    assert_eq!(from(t - 1, 3).unwrap(), all[47..50].to_vec());
    // A date in the future ends at the forming bar.
    let future = from(NOW / 1000 + 86_400, 2).unwrap();
    assert_eq!(future, all[98..100].to_vec());
    // Before the history: nothing left.
    let oldest = all[99].time - i64::from(MAX_BARS_INTRADAY - 1) * 300;
    assert_eq!(from(oldest, 5).unwrap().len(), 1);
    assert_eq!(
        from(oldest - 1, 5).unwrap_err(),
        TerminalError::call_failed()
    );
    assert_eq!(
        from(t, 0).unwrap_err(),
        TerminalError::invalid_argument("count")
    );
}

#[test]
fn range_semantics() {
    let f = feed(3, 3600);
    let range = |from, to| f.rates("USDCHF", Timeframe::M1, RatesRange::Range { from, to }, NOW);
    let all = f
        .rates(
            "USDCHF",
            Timeframe::M1,
            RatesRange::FromPos {
                start: 0,
                count: 30,
            },
            NOW,
        )
        .unwrap();
    let t = all[10].time;
    // Both ends inclusive on the open time.
    assert_eq!(range(t, t + 120).unwrap(), all[10..13].to_vec());
    assert_eq!(range(t + 1, t + 120).unwrap(), all[11..13].to_vec());
    assert_eq!(range(t, t + 119).unwrap(), all[10..12].to_vec());
    assert_eq!(range(t, t).unwrap(), all[10..11].to_vec());
    // Past now: up to the forming bar; entirely in the future: no bars.
    assert_eq!(range(t, t + 10 * 86_400).unwrap(), all[10..30].to_vec());
    assert!(range(NOW / 1000 + 7200, NOW / 1000 + 9000)
        .unwrap()
        .is_empty());
    // Only what the history holds; a range entirely before it fails.
    let oldest = all[29].time - i64::from(MAX_BARS_INTRADAY - 1) * 60;
    let early = range(oldest - 600, oldest + 60).unwrap();
    assert_eq!(early.len(), 2);
    assert_eq!(early[0].time, oldest);
    assert_eq!(
        range(oldest - 600, oldest - 60).unwrap_err(),
        TerminalError::call_failed()
    );
    let err = range(t + 1, t).unwrap_err();
    assert_eq!(code(&err), last_error::INVALID_PARAMS);
}

#[test]
fn unknown_symbol_is_not_found() {
    let f = feed(3, 0);
    let err = f
        .rates(
            "EURUSDX",
            Timeframe::M1,
            RatesRange::FromPos { start: 0, count: 1 },
            NOW,
        )
        .unwrap_err();
    assert_eq!(err, TerminalError::not_found());
    assert_eq!(code(&err), last_error::NOT_FOUND);
    assert!(f.symbol_info("EURUSDX", NOW, "USD").is_none());
}

fn weekday(server_s: i64) -> i64 {
    // 1970-01-01 was a Thursday; Sunday = 0.
    (server_s.div_euclid(86_400) + 4).rem_euclid(7)
}

#[test]
fn bars_align_on_the_server_clock() {
    let offset = 7200;
    let f = feed(11, offset);
    let get = |tf, count| {
        f.rates("EURUSD", tf, RatesRange::FromPos { start: 0, count }, NOW)
            .unwrap()
    };
    for r in get(Timeframe::H4, 500) {
        assert_eq!(r.time % 14_400, 0);
    }
    for r in get(Timeframe::M30, 500) {
        assert_eq!(r.time % 1_800, 0);
    }
    let d1 = get(Timeframe::D1, 300);
    for r in &d1 {
        assert_eq!(r.time % 86_400, 0, "D1 opens at server midnight");
    }
    // Server midnight is 22:00 UTC the day before at UTC+2.
    let server_now = NOW / 1000 + offset;
    assert_eq!(d1[299].time, server_now - server_now % 86_400);
    let late_utc = (server_now - server_now % 86_400 + 86_400 - offset) * 1000 + 1000;
    let next_day = f
        .rates(
            "EURUSD",
            Timeframe::D1,
            RatesRange::FromPos { start: 0, count: 1 },
            late_utc,
        )
        .unwrap();
    assert_eq!(next_day[0].time, d1[299].time + 86_400);
    for r in get(Timeframe::W1, 300) {
        assert_eq!(r.time % 86_400, 0);
        assert_eq!(weekday(r.time), 0, "W1 opens on Sunday");
    }
    let mn = get(Timeframe::MN1, 400);
    for w in mn.windows(2) {
        let a = time::OffsetDateTime::from_unix_timestamp(w[0].time).unwrap();
        let b = time::OffsetDateTime::from_unix_timestamp(w[1].time).unwrap();
        assert_eq!((a.day(), a.hour(), a.minute(), a.second()), (1, 0, 0, 0));
        assert_eq!(b.day(), 1);
        let months =
            |d: time::OffsetDateTime| i64::from(d.year()) * 12 + i64::from(u8::from(d.month()));
        assert_eq!(months(b) - months(a), 1);
    }
    let last = time::OffsetDateTime::from_unix_timestamp(mn[399].time).unwrap();
    assert_eq!((last.year(), u8::from(last.month())), (2024, 11));
}

#[test]
fn conversion_directions() {
    let f = feed(21, 0);
    let t = NOW;
    let q = |s: &str| f.quote(s, t).unwrap();
    let (eurusd, usdjpy, usdchf, gbpusd, eurjpy) = (
        q("EURUSD"),
        q("USDJPY"),
        q("USDCHF"),
        q("GBPUSD"),
        q("EURJPY"),
    );
    let conv = |a, from, to, fav| f.convert(a, from, to, t, fav).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);

    assert_eq!(conv(123.45, "USD", "USD", Favour::Profit), 123.45);
    // Direct symbol: multiply by bid (profit), ask (loss), mid.
    assert!(close(
        conv(100.0, "EUR", "USD", Favour::Profit),
        100.0 * eurusd.bid
    ));
    assert!(close(
        conv(100.0, "EUR", "USD", Favour::Loss),
        100.0 * eurusd.ask
    ));
    assert!(close(
        conv(100.0, "EUR", "USD", Favour::Mid),
        100.0 * (eurusd.bid + eurusd.ask) / 2.0
    ));
    // Inverse symbol: divide by ask (profit), bid (loss).
    assert!(close(
        conv(1000.0, "JPY", "USD", Favour::Profit),
        1000.0 / usdjpy.ask
    ));
    assert!(close(
        conv(1000.0, "JPY", "USD", Favour::Loss),
        1000.0 / usdjpy.bid
    ));
    assert!(close(
        conv(100.0, "USD", "EUR", Favour::Profit),
        100.0 / eurusd.ask
    ));
    // JPY → EUR has its own symbol (EURJPY), no detour through USD.
    assert!(close(
        conv(1000.0, "JPY", "EUR", Favour::Profit),
        1000.0 / eurjpy.ask
    ));
    // No symbol: two legs through USD, each at the same side.
    assert!(close(
        conv(100.0, "EUR", "CHF", Favour::Profit),
        100.0 * eurusd.bid * usdchf.bid
    ));
    assert!(close(
        conv(100.0, "GBP", "JPY", Favour::Loss),
        100.0 * gbpusd.ask * usdjpy.ask
    ));
    assert!(close(
        conv(100.0, "CHF", "GBP", Favour::Profit),
        100.0 / usdchf.ask / gbpusd.ask
    ));
    // The client always gets the worse side.
    for (from, to) in [
        ("EUR", "USD"),
        ("JPY", "USD"),
        ("USD", "EUR"),
        ("GBP", "CHF"),
    ] {
        assert!(conv(100.0, from, to, Favour::Profit) < conv(100.0, from, to, Favour::Loss));
    }
    assert!(f.convert(1.0, "XYZ", "USD", t, Favour::Mid).is_none());
    assert!(f.convert(1.0, "EUR", "AUD", t, Favour::Mid).is_none());
}

#[test]
fn tick_values_in_the_account_currency() {
    let f = feed(21, 7200);
    let t = NOW;
    let eurusd = f.symbol_info("EURUSD", t, "USD").unwrap();
    assert!((eurusd.trade_tick_value - 1.0).abs() < 1e-12);
    assert_eq!(eurusd.trade_tick_value_profit, eurusd.trade_tick_value);
    assert!((eurusd.trade_tick_value_loss - 1.0).abs() < 1e-12);

    let usdjpy_q = f.quote("USDJPY", t).unwrap();
    let usdjpy = f.symbol_info("USDJPY", t, "USD").unwrap();
    // 0.001 × 100000 = 100 JPY per tick, converted at the side less favourable to the client.
    assert!((usdjpy.trade_tick_value_profit - 100.0 / usdjpy_q.ask).abs() < 1e-12);
    assert!((usdjpy.trade_tick_value_loss - 100.0 / usdjpy_q.bid).abs() < 1e-12);
    assert_eq!(usdjpy.trade_tick_value, usdjpy.trade_tick_value_profit);

    // The MT5 documentation's EURJPY sample: 0.89777 (profit) < 0.89783 (loss) on a USD account.
    let eurjpy = f.symbol_info("EURJPY", t, "USD").unwrap();
    assert!((eurjpy.trade_tick_value_profit - 100.0 / usdjpy_q.ask).abs() < 1e-12);
    assert!((eurjpy.trade_tick_value_loss - 100.0 / usdjpy_q.bid).abs() < 1e-12);
    assert!(eurjpy.trade_tick_value_profit < eurjpy.trade_tick_value_loss);

    // A EUR account converts the USD tick value through EURUSD.
    let eurusd_q = f.quote("EURUSD", t).unwrap();
    let on_eur = f.symbol_info("EURUSD", t, "EUR").unwrap();
    assert!((on_eur.trade_tick_value_profit - 1.0 / eurusd_q.ask).abs() < 1e-12);
    assert!((on_eur.trade_tick_value_loss - 1.0 / eurusd_q.bid).abs() < 1e-12);

    let gold = f.symbol_info("XAUUSD", t, "USD").unwrap();
    assert!((gold.trade_tick_value - 1.0).abs() < 1e-12, "0.01 × 100 oz");
    let index = f.symbol_info("US500", t, "USD").unwrap();
    assert!((index.trade_tick_value - 0.01).abs() < 1e-12);
}

#[test]
fn symbol_info_carries_the_quote_and_the_day() {
    let f = feed(21, 7200);
    let info = f.symbol_info("GBPUSD", NOW, "USD").unwrap();
    let tick = f.tick("GBPUSD", NOW).unwrap();
    assert_eq!(
        (info.bid, info.ask, info.time),
        (tick.bid, tick.ask, tick.time)
    );
    assert_eq!(info.name, "GBPUSD");
    assert_eq!(info.trade_stops_level, 10);
    assert_eq!(info.spread, 15);
    assert!(info.bidlow <= info.bid && info.bid <= info.bidhigh);
    assert!(info.asklow <= info.ask && info.ask <= info.askhigh);
    let d1 = f
        .rates(
            "GBPUSD",
            Timeframe::D1,
            RatesRange::FromPos { start: 0, count: 2 },
            NOW,
        )
        .unwrap();
    assert_eq!(info.session_open, d1[1].open);
    assert_eq!(info.session_close, d1[0].close);
    assert_eq!((info.bidhigh, info.bidlow), (d1[1].high, d1[1].low));
    let change = (info.bid - d1[0].close) / d1[0].close * 100.0;
    assert!((info.price_change - change).abs() < 0.006);
}

#[test]
fn sessions_decide_whether_a_symbol_trades() {
    let f = feed(1, 0);
    assert!(f.is_open("EURUSD", NOW));
    assert!(!f.is_open("NOPE", NOW));
    let mut spec: SymbolSpec = builtin_symbol("US500").unwrap();
    spec.info.name = "US500M".into();
    // Mondays 13:30–20:00 server time only.
    spec.sessions = vec![(1, 13 * 60 + 30, 20 * 60)];
    let f = PriceFeed::new(1, vec![spec], 3600);
    // NOW is Monday 12:25 UTC = 13:25 server time.
    assert!(!f.is_open("US500M", NOW));
    assert!(f.is_open("US500M", NOW + 5 * 60_000));
    assert!(!f.is_open("US500M", NOW + DAY_MS + 5 * 60_000));
    assert!(f.quote("US500M", NOW).is_some());
}

#[test]
fn first_cross_finds_the_trigger_moment() {
    let f = feed(42, 0);
    let start = f.quote("EURUSD", NOW).unwrap();
    let up = start.bid + 0.0005;
    let t = f
        .first_cross("EURUSD", NOW, NOW + 30 * DAY_MS, 1000, up, true)
        .expect("EURUSD rises 5 pips within a month");
    assert!(f.quote("EURUSD", t).unwrap().bid >= up);
    assert!(f.quote("EURUSD", t - 1000).unwrap().bid < up);
    let down = start.bid - 0.0005;
    let t = f
        .first_cross("EURUSD", NOW, NOW + 30 * DAY_MS, 1000, down, false)
        .expect("EURUSD falls 5 pips within a month");
    assert!(f.quote("EURUSD", t).unwrap().bid <= down);
    assert!(f.quote("EURUSD", t - 1000).unwrap().bid > down);
    assert_eq!(
        f.first_cross("EURUSD", NOW, NOW + DAY_MS, 1000, 100.0, true),
        None
    );
    assert_eq!(
        f.first_cross("EURUSD", NOW, NOW + DAY_MS, 0, 0.0, true),
        None
    );
    // Already beyond the level: the first moment is the start.
    assert_eq!(
        f.first_cross("EURUSD", NOW, NOW + DAY_MS, 1000, 0.5, true),
        Some(NOW)
    );
    let ask_up = f.find_time("EURUSD", NOW, NOW + DAY_MS, 500, |q| {
        q.ask >= start.ask + 0.0002
    });
    assert!(ask_up.is_some());
}

#[test]
fn market_trait_lists_the_symbols() {
    let f = feed(1, 0);
    let names: Vec<&str> = f.symbols().iter().map(|s| s.info.name.as_str()).collect();
    for n in [
        "EURUSD", "GBPUSD", "USDJPY", "USDCHF", "EURJPY", "XAUUSD", "US500", "US100",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    assert_eq!(f.spec("XAUUSD").unwrap().info.trade_freeze_level, 10);
    assert_eq!(f.server_time_offset_s(), 0);
}
