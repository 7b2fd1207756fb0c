//! The broker on the simulated price feed: SL, TP and pending orders trigger at the moment the
//! feed's quote crosses them, found with the feed's own search; bars come from the feed.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

use mt5::retcode::DONE;
use mt5::{
    AccountKey, DealReason, Expected, HistorySelect, OrderFilling, OrderType, PositionFilter,
    RatesRange, Terminal, Timeframe, TradeAction, TradeRequest,
};
use mt5_sim::broker::{open_from_config_with_clock, Broker};
use mt5_sim::config::{SimConfig, StateLocation};
use mt5_sim::market::{ManualClock, Market};
use mt5_sim::prices::PriceFeed;
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

/// 2024-01-03 10:00:00 UTC, a Wednesday.
const T0: i64 = 1_704_276_000_000;
/// Searches stay within the window the engine samples every second.
const WINDOW_MS: i64 = 3_000_000;

fn account() -> AccountKey {
    AccountKey::new(10001, "Sim-Demo")
}

async fn setup() -> (Arc<Broker>, Arc<PriceFeed>, ManualClock) {
    let clock = ManualClock::new(T0);
    let mut cfg = SimConfig::defaults(StateLocation::Memory);
    cfg.server_time_offset_s = 7200;
    let (broker, feed) = open_from_config_with_clock(&cfg, Arc::new(clock.clone()))
        .await
        .unwrap();
    (broker, feed, clock)
}

fn deal(symbol: &str, t: OrderType, volume: f64) -> TradeRequest {
    TradeRequest {
        action: TradeAction::Deal,
        symbol: symbol.into(),
        volume,
        r#type: t,
        type_filling: OrderFilling::Ioc,
        ..Default::default()
    }
}

/// The smallest distance (in points, from the list) at which `find` finds a crossing in the window.
fn level_reached(
    from: f64,
    point: f64,
    digits: u32,
    sign: f64,
    find: impl Fn(f64) -> Option<i64>,
) -> (f64, i64) {
    for points in [200.0, 100.0, 50.0, 20.0, 10.0, 5.0] {
        let level = mt5::util::normalize(from + sign * points * point, digits);
        if let Some(t) = find(level) {
            return (level, t);
        }
    }
    panic!("the feed never moved 5 points in {WINDOW_MS} ms");
}

#[tokio::test]
async fn take_profit_triggers_when_the_feed_crosses_it() {
    let (broker, feed, clock) = setup().await;
    let info = feed.spec("EURUSD").unwrap().info.clone();
    let q = feed.quote("EURUSD", T0).unwrap();
    let (tp, hit) = level_reached(q.bid, info.point, info.digits, 1.0, |lvl| {
        feed.first_cross("EURUSD", T0 + 1000, T0 + WINDOW_MS, 1000, lvl, true)
    });
    let mut req = deal("EURUSD", OrderType::Buy, 0.1);
    req.tp = tp;
    let r = broker.order_send("t", &account(), &req).await.unwrap();
    assert_eq!(r.retcode, DONE);
    clock.set(hit - 1000);
    let open = broker
        .positions("t", &account(), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(open.len(), 1, "closed before the bid reached {tp}");
    clock.set(hit);
    assert!(broker
        .positions("t", &account(), &PositionFilter::All)
        .await
        .unwrap()
        .is_empty());
    let deals = broker
        .history_deals(
            "t",
            &account(),
            &HistorySelect::Position { position: r.order },
        )
        .await
        .unwrap();
    let out = deals.last().unwrap();
    assert_eq!(out.reason, DealReason::Tp);
    assert_eq!(out.price, feed.quote("EURUSD", hit).unwrap().bid);
    assert!(out.price >= tp);
    assert_eq!(out.time_msc, hit + 7_200_000);
    assert!(out.profit > 0.0);
}

#[tokio::test]
async fn stop_loss_of_a_sell_triggers_on_the_ask() {
    let (broker, feed, clock) = setup().await;
    let info = feed.spec("GBPUSD").unwrap().info.clone();
    let q = feed.quote("GBPUSD", T0).unwrap();
    let (sl, hit) = level_reached(q.ask, info.point, info.digits, 1.0, |lvl| {
        feed.find_time("GBPUSD", T0 + 1000, T0 + WINDOW_MS, 1000, |q| q.ask >= lvl)
    });
    let mut req = deal("GBPUSD", OrderType::Sell, 0.2);
    req.sl = sl;
    let r = broker.order_send("t", &account(), &req).await.unwrap();
    assert_eq!(r.retcode, DONE, "{r:?}");
    clock.set(hit - 1000);
    assert_eq!(
        broker
            .positions("t", &account(), &PositionFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
    clock.set(hit);
    let deals = broker
        .history_deals(
            "t",
            &account(),
            &HistorySelect::Position { position: r.order },
        )
        .await
        .unwrap();
    let out = deals.last().unwrap();
    assert_eq!(out.reason, DealReason::Sl);
    assert!(out.price >= sl);
    assert!(out.profit < 0.0);
}

#[tokio::test]
async fn a_buy_limit_fills_when_the_ask_comes_down_to_it() {
    let (broker, feed, clock) = setup().await;
    let info = feed.spec("EURUSD").unwrap().info.clone();
    let q = feed.quote("EURUSD", T0).unwrap();
    let (price, hit) = level_reached(q.ask, info.point, info.digits, -1.0, |lvl| {
        feed.find_time("EURUSD", T0 + 1000, T0 + WINDOW_MS, 1000, |q| q.ask <= lvl)
    });
    let req = TradeRequest {
        action: TradeAction::Pending,
        symbol: "EURUSD".into(),
        volume: 0.1,
        price,
        r#type: OrderType::BuyLimit,
        type_filling: OrderFilling::Return,
        ..Default::default()
    };
    let o = broker.order_send("t", &account(), &req).await.unwrap();
    assert_eq!(o.retcode, DONE, "{o:?}");
    clock.set(hit - 1000);
    assert_eq!(
        broker
            .orders("t", &account(), &PositionFilter::All)
            .await
            .unwrap()
            .len(),
        1
    );
    clock.set(hit);
    let positions = broker
        .positions("t", &account(), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].ticket, o.order);
    assert!(positions[0].price_open <= price);
}

#[tokio::test]
async fn terminals_read_bars_and_ticks_from_the_feed() {
    let (broker, feed, clock) = setup().await;
    clock.set(T0 + 90_000);
    let t = SimTerminal::new("feed".into(), broker, TerminalOptions::default());
    let session = mt5::Session::new(account(), mt5::SessionTag::from_bytes([7; 32]));
    let at = Expected::new(session.clone());
    t.login(
        &session,
        &SecretString::from("Sim-10001!"),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let tick = t.symbol_info_tick(&at, "EURUSD").await.unwrap();
    assert_eq!(tick, feed.tick("EURUSD", T0 + 90_000).unwrap());
    let bars = t
        .copy_rates(
            &at,
            "EURUSD",
            Timeframe::M1,
            RatesRange::FromPos { start: 0, count: 5 },
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 5);
    assert!(bars.windows(2).all(|w| w[1].time - w[0].time == 60));
    assert_eq!(bars.last().unwrap().close, tick.bid);
    assert!(t
        .copy_rates(
            &at,
            "NOPE",
            Timeframe::M1,
            RatesRange::FromPos { start: 0, count: 5 }
        )
        .await
        .is_err());
}
