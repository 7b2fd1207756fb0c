//! Property tests: after any sequence of random operations the account adds up as MT5's does.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::*;
use mt5::util::volume_units;
use mt5::{
    AccountMarginMode, DealEntry, DealType, OrderTime, OrderType, PositionType, TradeAction,
    TradeRequest,
};
use mt5_sim::market::Market;
use proptest::prelude::*;

const SYMBOLS: [&str; 4] = ["EURUSD", "USDJPY", "XAUUSD", "EURJPY"];

#[derive(Debug, Clone)]
enum Op {
    Open {
        sym: usize,
        buy: bool,
        units: i64,
    },
    Close {
        pick: usize,
        part: u8,
    },
    CloseBy {
        pick: usize,
    },
    Pending {
        sym: usize,
        kind: u8,
        points: i64,
        units: i64,
    },
    Remove {
        pick: usize,
    },
    Sltp {
        pick: usize,
        points: i64,
    },
    Move {
        sym: usize,
        points: i64,
    },
    Wait {
        secs: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize, any::<bool>(), 1..60i64).prop_map(|(sym, buy, units)| Op::Open { sym, buy, units }),
        2 => (any::<usize>(), 1..=4u8).prop_map(|(pick, part)| Op::Close { pick, part }),
        1 => any::<usize>().prop_map(|pick| Op::CloseBy { pick }),
        2 => (0..4usize, 0..4u8, 5..400i64, 1..40i64)
            .prop_map(|(sym, kind, points, units)| Op::Pending { sym, kind, points, units }),
        1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
        1 => (any::<usize>(), 20..500i64).prop_map(|(pick, points)| Op::Sltp { pick, points }),
        4 => (0..4usize, -300..300i64).prop_map(|(sym, points)| Op::Move { sym, points }),
        2 => (1..30i64).prop_map(|secs| Op::Wait { secs }),
    ]
}

fn info(m: &FixedMarket, sym: &str) -> mt5::SymbolInfo {
    m.spec(sym).unwrap().info.clone()
}

fn request(m: &FixedMarket, a: &mut Acct, op: &Op) -> Option<TradeRequest> {
    let positions = a.positions(m);
    let orders = a.pending(m);
    match *op {
        Op::Open { sym, buy, units } => {
            let s = SYMBOLS[sym];
            let t = if buy { OrderType::Buy } else { OrderType::Sell };
            Some(market(s, t, units as f64 * info(m, s).volume_step))
        }
        Op::Close { pick, part } => {
            let p = positions.get(pick % positions.len().max(1))?;
            let step = info(m, &p.symbol).volume_step;
            let units = volume_units(p.volume, step)?;
            let close_units = (units * i64::from(part) / 4).max(1);
            let t = match p.r#type {
                PositionType::Buy => OrderType::Sell,
                PositionType::Sell => OrderType::Buy,
                PositionType::Unknown(_) => return None,
            };
            Some(close(&p.symbol, t, close_units as f64 * step, p.ticket))
        }
        Op::CloseBy { pick } => {
            let p = positions.get(pick % positions.len().max(1))?;
            let by = positions
                .iter()
                .find(|q| q.symbol == p.symbol && q.r#type != p.r#type)?;
            Some(TradeRequest {
                action: TradeAction::CloseBy,
                position: p.ticket,
                position_by: by.ticket,
                ..Default::default()
            })
        }
        Op::Pending {
            sym,
            kind,
            points,
            units,
        } => {
            let s = SYMBOLS[sym];
            let i = info(m, s);
            let (bid, ask) = m.bid_ask(s);
            let d = points as f64 * i.point;
            let (t, price) = match kind {
                0 => (OrderType::BuyLimit, ask - d),
                1 => (OrderType::BuyStop, ask + d),
                2 => (OrderType::SellLimit, bid + d),
                _ => (OrderType::SellStop, bid - d),
            };
            let mut r = pending(
                s,
                t,
                units as f64 * i.volume_step,
                mt5::util::normalize(price, i.digits),
            );
            r.type_time = OrderTime::Gtc;
            Some(r)
        }
        Op::Remove { pick } => {
            let o = orders.get(pick % orders.len().max(1))?;
            Some(TradeRequest {
                action: TradeAction::Remove,
                order: o.ticket,
                ..Default::default()
            })
        }
        Op::Sltp { pick, points } => {
            let p = positions.get(pick % positions.len().max(1))?;
            let i = info(m, &p.symbol);
            let d = points as f64 * i.point;
            let (sl, tp) = match p.r#type {
                PositionType::Buy => (p.price_current - d, p.price_current + d),
                PositionType::Sell => (p.price_current + d, p.price_current - d),
                PositionType::Unknown(_) => return None,
            };
            Some(sltp(
                p.ticket,
                mt5::util::normalize(sl, i.digits),
                mt5::util::normalize(tp, i.digits),
            ))
        }
        Op::Move { .. } | Op::Wait { .. } => None,
    }
}

fn apply(m: &FixedMarket, a: &mut Acct, op: &Op) {
    match *op {
        Op::Move { sym, points } => {
            let s = SYMBOLS[sym];
            let i = info(m, s);
            let (bid, ask) = m.bid_ask(s);
            let d = points as f64 * i.point;
            if bid + d > 0.0 {
                m.set(
                    s,
                    mt5::util::normalize(bid + d, i.digits),
                    mt5::util::normalize(ask + d, i.digits),
                );
            }
            a.tick(1_000);
        }
        Op::Wait { secs } => a.tick(secs * 1000),
        _ => {
            if let Some(req) = request(m, a, op) {
                let r = a.send(m, &req);
                assert!(r.retcode >= 10004 && r.retcode <= 10046, "{r:?}");
            }
        }
    }
}

fn check_invariants(m: &FixedMarket, a: &mut Acct, initial: f64) {
    let metrics = a.metrics(m);
    let positions = a.positions(m);
    let floating: f64 = positions.iter().map(|p| p.profit + p.swap).sum();
    assert!(
        (metrics.equity - (metrics.balance + metrics.credit + floating)).abs() < 1e-6,
        "equity {} != balance {} + floating {}",
        metrics.equity,
        metrics.balance,
        floating
    );
    assert!((metrics.margin_free - (metrics.equity - metrics.margin)).abs() < 1e-6);
    for p in &positions {
        let step = info(m, &p.symbol).volume_step;
        assert!(volume_units(p.volume, step).is_some_and(|u| u > 0), "{p:?}");
        assert_eq!(p.ticket, p.identifier);
    }
    let mut realised = 0.0;
    for d in a.deals.iter().filter(|d| d.r#type != DealType::Balance) {
        let step = info(m, &d.symbol).volume_step;
        assert!(volume_units(d.volume, step).is_some_and(|u| u > 0), "{d:?}");
        if d.entry == DealEntry::In {
            assert_eq!(d.profit, 0.0, "{d:?}");
        }
        realised += d.profit;
    }
    assert!(
        (metrics.balance - (initial + realised)).abs() < 1e-6,
        "balance {} vs {} + {}",
        metrics.balance,
        initial,
        realised
    );
    // A closed position's deals carry its whole realised profit, and nothing else does.
    let open: std::collections::HashSet<u64> = positions.iter().map(|p| p.ticket).collect();
    let mut by_position: std::collections::HashMap<u64, f64> = Default::default();
    for d in a.deals.iter().filter(|d| d.r#type != DealType::Balance) {
        *by_position.entry(d.position_id).or_default() += d.profit;
    }
    let total: f64 = by_position.values().sum();
    assert!((total - realised).abs() < 1e-6);
    for (id, _) in by_position.iter().filter(|(id, _)| !open.contains(id)) {
        let st = &a.st;
        assert!(st.position(*id).is_none());
    }
    // Tickets are unique across orders, deals and positions.
    let mut seen = std::collections::HashSet::new();
    for d in &a.deals {
        assert!(seen.insert(d.ticket), "deal ticket {} reused", d.ticket);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn accounts_add_up_after_any_operations(
        hedging in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let m = FixedMarket::new();
        let mode = if hedging { AccountMarginMode::RetailHedging } else { AccountMarginMode::RetailNetting };
        let initial = 50_000.0;
        let mut a = Acct::new(mode, initial);
        for op in &ops {
            apply(&m, &mut a, op);
            check_invariants(&m, &mut a, initial);
        }
    }

    #[test]
    fn the_same_operations_give_the_same_account(
        hedging in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..25),
    ) {
        let run = || {
            let m = FixedMarket::new();
            let mode = if hedging { AccountMarginMode::RetailHedging } else { AccountMarginMode::RetailNetting };
            let mut a = Acct::new(mode, 20_000.0);
            for op in &ops {
                apply(&m, &mut a, op);
            }
            (a.st, a.deals, a.orders)
        };
        prop_assert_eq!(run(), run());
    }
}

// ---------------------------------------------------------------- on the simulated price feed

#[derive(Debug, Clone)]
enum FeedOp {
    Open {
        sym: usize,
        buy: bool,
        units: i64,
        sl: i64,
        tp: i64,
    },
    Wait {
        secs: i64,
    },
}

fn feed_op() -> impl Strategy<Value = FeedOp> {
    prop_oneof![
        2 => (0..4usize, any::<bool>(), 1..50i64, 0..300i64, 0..300i64)
            .prop_map(|(sym, buy, units, sl, tp)| FeedOp::Open { sym, buy, units, sl, tp }),
        3 => (1..900i64).prop_map(|secs| FeedOp::Wait { secs }),
    ]
}

/// The level in a server-side close's comment: `[sl 1.10500]` → 1.105.
fn level_of(comment: &str) -> Option<f64> {
    comment
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(' ')
        .nth(1)?
        .parse()
        .ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn feed_triggers_fire_on_the_right_side_and_accounts_add_up(
        seed in 0..1000u64,
        hedging in any::<bool>(),
        ops in proptest::collection::vec(feed_op(), 1..30),
    ) {
        let feed = mt5_sim::prices::PriceFeed::new(seed, mt5_sim::symbols::builtin_symbols(), OFFSET_S);
        let mode = if hedging { AccountMarginMode::RetailHedging } else { AccountMarginMode::RetailNetting };
        let initial = 100_000.0;
        let mut a = Acct::new(mode, initial);
        for op in &ops {
            match *op {
                FeedOp::Open { sym, buy, units, sl, tp } => {
                    let s = SYMBOLS[sym];
                    let i = feed.spec(s).unwrap().info.clone();
                    let q = feed.quote(s, a.now).unwrap();
                    let t = if buy { OrderType::Buy } else { OrderType::Sell };
                    let mut req = market(s, t, units as f64 * i.volume_step);
                    let sign = if buy { 1.0 } else { -1.0 };
                    let reference = if buy { q.bid } else { q.ask };
                    if sl > 0 {
                        req.sl = mt5::util::normalize(reference - sign * (sl + 60) as f64 * i.point, i.digits);
                    }
                    if tp > 0 {
                        req.tp = mt5::util::normalize(reference + sign * (tp + 60) as f64 * i.point, i.digits);
                    }
                    let r = a.send(&feed, &req);
                    prop_assert!(r.retcode == mt5::retcode::DONE || r.retcode == mt5::retcode::NO_MONEY, "{:?}", r);
                }
                FeedOp::Wait { secs } => a.tick(secs * 1000),
            }
            let m = a.metrics(&feed);
            let positions = a.positions(&feed);
            let floating: f64 = positions.iter().map(|p| p.profit + p.swap).sum();
            prop_assert!((m.equity - (m.balance + floating)).abs() < 1e-6);
            let realised: f64 = a.deals.iter().skip(1).map(|d| d.profit).sum();
            prop_assert!((m.balance - (initial + realised)).abs() < 1e-6);
        }
        for d in &a.deals {
            let Some(level) = level_of(&d.comment) else { continue };
            // A sell deal closes a buy (checked against the bid), a buy deal closes a sell (ask).
            match (d.reason, d.r#type) {
                (mt5::DealReason::Tp, DealType::Sell) | (mt5::DealReason::Sl, DealType::Buy) => {
                    prop_assert!(d.price >= level - 1e-9, "{:?}", d)
                }
                (mt5::DealReason::Tp, DealType::Buy) | (mt5::DealReason::Sl, DealType::Sell) => {
                    prop_assert!(d.price <= level + 1e-9, "{:?}", d)
                }
                _ => {}
            }
        }
    }
}
