//! The broker on a SQLite state file: restarts keep everything, several processes share one truth,
//! tickets stay unique; history selections.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::*;
use mt5::retcode::DONE;
use mt5::{DealEntry, DealType, HistorySelect, OrderState, OrderType, PositionFilter};
use mt5_sim::config::StateLocation;
use mt5_sim::market::{ManualClock, SystemClock};
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

const CHILD_STATE: &str = "MT5_SIM_TEST_CHILD_STATE";
const CHILD_ORDERS: &str = "MT5_SIM_TEST_CHILD_ORDERS";

fn sqlite(path: &std::path::Path) -> StateLocation {
    StateLocation::Sqlite(path.to_path_buf())
}

#[tokio::test]
async fn a_restart_keeps_positions_orders_balance_and_deals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join("broker.db");
    let clock = ManualClock::new(T0);
    let broker = broker_on(sqlite(&path), Arc::new(clock.clone())).await;
    let b = broker
        .order_send("t", &key(1), &market("EURUSD", OrderType::Buy, 0.3))
        .await
        .unwrap();
    clock.advance_ms(1_000);
    let c = broker
        .order_send(
            "t",
            &key(1),
            &close("EURUSD", OrderType::Sell, 0.1, b.order),
        )
        .await
        .unwrap();
    assert_eq!(c.retcode, DONE);
    let p = broker
        .order_send(
            "t",
            &key(1),
            &pending("GBPUSD", OrderType::SellLimit, 0.2, 1.3000),
        )
        .await
        .unwrap();
    assert_eq!(p.retcode, DONE);
    let before = broker.account_info("t", &key(1)).await.unwrap();
    let deals_before = broker
        .history_deals(
            "t",
            &key(1),
            &HistorySelect::Range {
                from: 0,
                to: i64::MAX / 2000,
                group: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(deals_before.len(), 3, "deposit, open, partial close");
    drop(broker);

    let reopened = broker_on(sqlite(&path), Arc::new(clock.clone())).await;
    let after = reopened.account_info("t", &key(1)).await.unwrap();
    assert_eq!(after.balance, before.balance);
    assert_eq!(after.equity, before.equity);
    let positions = reopened
        .positions("t", &key(1), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].ticket, b.order);
    assert!(approx(positions[0].volume, 0.2));
    let orders = reopened
        .orders("t", &key(1), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!((orders[0].ticket, orders[0].price_open), (p.order, 1.3));
    let deals_after = reopened
        .history_deals(
            "t",
            &key(1),
            &HistorySelect::Range {
                from: 0,
                to: i64::MAX / 2000,
                group: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(deals_after, deals_before);
    // Tickets continue after the restart instead of starting over.
    let n = reopened
        .order_send("t", &key(1), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert!(n.order > p.order && n.deal > n.order);
    // The other accounts were kept untouched.
    let other = reopened.account_info("t", &key(2)).await.unwrap();
    assert_eq!(other.balance, 10_000.0);
}

#[tokio::test]
async fn history_selects_by_range_ticket_position_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let clock = ManualClock::new(T0);
    for state in [StateLocation::Memory, sqlite(&path)] {
        clock.set(T0);
        let broker = broker_on(state, Arc::new(clock.clone())).await;
        let k = key(1);
        let e = broker
            .order_send("t", &k, &market("EURUSD", OrderType::Buy, 0.1))
            .await
            .unwrap();
        clock.advance_ms(60_000);
        let g = broker
            .order_send("t", &k, &market("GBPUSD", OrderType::Sell, 0.1))
            .await
            .unwrap();
        clock.advance_ms(60_000);
        let x = broker
            .order_send("t", &k, &close("EURUSD", OrderType::Sell, 0.1, e.order))
            .await
            .unwrap();
        let o = broker
            .order_send("t", &k, &pending("EURUSD", OrderType::BuyLimit, 0.1, 1.0))
            .await
            .unwrap();
        let rm = mt5::TradeRequest {
            action: mt5::TradeAction::Remove,
            order: o.order,
            ..Default::default()
        };
        assert_eq!(broker.order_send("t", &k, &rm).await.unwrap().retcode, DONE);

        let by_pos = broker
            .history_deals("t", &k, &HistorySelect::Position { position: e.order })
            .await
            .unwrap();
        let entries: Vec<DealEntry> = by_pos.iter().map(|d| d.entry).collect();
        assert_eq!(entries, vec![DealEntry::In, DealEntry::Out]);
        let by_ticket = broker
            .history_deals("t", &k, &HistorySelect::Ticket { ticket: x.order })
            .await
            .unwrap();
        assert_eq!(by_ticket.len(), 1);
        assert_eq!(by_ticket[0].ticket, x.deal);
        let server0 = T0 / 1000 + OFFSET_S;
        let first_minute = broker
            .history_deals(
                "t",
                &k,
                &HistorySelect::Range {
                    from: server0,
                    to: server0 + 59,
                    group: None,
                },
            )
            .await
            .unwrap();
        let types: Vec<DealType> = first_minute.iter().map(|d| d.r#type).collect();
        assert_eq!(types, vec![DealType::Balance, DealType::Buy]);
        let gbp = broker
            .history_deals(
                "t",
                &k,
                &HistorySelect::Range {
                    from: 0,
                    to: server0 + 3600,
                    group: Some("GBP*".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(gbp.len(), 1);
        assert_eq!(gbp[0].order, g.order);
        let orders = broker
            .history_orders("t", &k, &HistorySelect::Ticket { ticket: o.order })
            .await
            .unwrap();
        assert_eq!(orders.len(), 1);
        assert_eq!(orders[0].state, OrderState::Canceled);
        let all_orders = broker
            .history_orders(
                "t",
                &k,
                &HistorySelect::Range {
                    from: 0,
                    to: server0 + 3600,
                    group: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(all_orders.len(), 4);
        // Another account's history is its own.
        let none = broker
            .history_deals("t", &key(3), &HistorySelect::Position { position: e.order })
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}

/// Runs in a child process only (the parent sets the variables): trades on the shared file and
/// prints what it did.
#[tokio::test]
async fn child_process_trades_on_the_shared_state() {
    let Ok(path) = std::env::var(CHILD_STATE) else {
        return;
    };
    let n: usize = std::env::var(CHILD_ORDERS).unwrap().parse().unwrap();
    let broker = broker_on(sqlite(&PathBuf::from(path)), Arc::new(SystemClock)).await;
    let seen = broker
        .positions("child", &key(2), &PositionFilter::All)
        .await
        .unwrap();
    println!("CHILD_SAW={}", seen.len());
    for _ in 0..n {
        let r = broker
            .order_send("child", &key(1), &market("GBPUSD", OrderType::Sell, 0.01))
            .await
            .unwrap();
        assert_eq!(r.retcode, DONE);
        println!("CHILD_ORDER={} {}", r.order, r.deal);
    }
}

fn spawn_child(path: &std::path::Path, orders: usize) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_trades_on_the_shared_state",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_STATE, path)
        .env(CHILD_ORDERS, orders.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn child_lines(out: &std::process::Output, prefix: &str) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| {
            l.find(prefix)
                .map(|i| l[i + prefix.len()..].trim().to_string())
        })
        .collect()
}

#[tokio::test]
async fn two_processes_share_one_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let broker = broker_on(sqlite(&path), Arc::new(SystemClock)).await;
    let mine = broker
        .order_send("parent", &key(2), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert_eq!(mine.retcode, DONE);

    // The child sees the parent's position, and the parent then sees the child's.
    let out = spawn_child(&path, 1).wait_with_output().unwrap();
    assert_eq!(child_lines(&out, "CHILD_SAW="), vec!["1".to_string()]);
    let child_order: u64 = child_lines(&out, "CHILD_ORDER=")[0]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let positions = broker
        .positions("parent", &key(1), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].ticket, child_order);
    assert!(child_order > mine.deal);

    // Both processes trade on account 1 at the same time: nothing is lost, tickets stay unique.
    let child = spawn_child(&path, 15);
    let mut tickets = HashSet::new();
    for _ in 0..15 {
        let r = broker
            .order_send("parent", &key(1), &market("EURUSD", OrderType::Buy, 0.01))
            .await
            .unwrap();
        assert_eq!(r.retcode, DONE);
        assert!(tickets.insert(r.order) && tickets.insert(r.deal));
    }
    let out = child.wait_with_output().unwrap();
    for line in child_lines(&out, "CHILD_ORDER=") {
        for t in line.split(' ') {
            assert!(
                tickets.insert(t.parse().unwrap()),
                "ticket {t} issued twice"
            );
        }
    }
    assert_eq!(tickets.len(), 60);
    let positions = broker
        .positions("parent", &key(1), &PositionFilter::All)
        .await
        .unwrap();
    assert_eq!(positions.len(), 31);
    let deals = broker
        .history_deals(
            "parent",
            &key(1),
            &HistorySelect::Range {
                from: 0,
                to: i64::MAX / 2000,
                group: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(deals.len(), 32, "deposit plus one deal per order");
    // Audit records from both processes, each on the account it acted for.
    let audit = broker.audit().await.unwrap();
    let child_sends = audit
        .iter()
        .filter(|a| a.terminal_id == "child" && a.operation == "order_send")
        .count();
    assert_eq!(child_sends, 16);
    assert!(audit
        .iter()
        .filter(|a| a.operation == "order_send")
        .all(|a| (a.terminal_id == "child") == (a.symbol == "GBPUSD")));
}

#[tokio::test]
async fn same_requests_on_a_fixed_clock_give_same_results() {
    async fn run(state: StateLocation) -> Vec<String> {
        let clock = ManualClock::new(T0);
        let broker = broker_on(state, Arc::new(clock.clone())).await;
        let mut out = Vec::new();
        for i in 0..6u64 {
            clock.advance_ms(1_500);
            let t = if i % 2 == 0 {
                OrderType::Buy
            } else {
                OrderType::Sell
            };
            let r = broker
                .order_send("t", &key(2), &market("EURUSD", t, 0.01 * (i + 1) as f64))
                .await
                .unwrap();
            out.push(serde_json::to_string(&r).unwrap());
        }
        let p = broker
            .positions("t", &key(2), &PositionFilter::All)
            .await
            .unwrap();
        out.push(serde_json::to_string(&p).unwrap());
        let d = broker
            .history_deals(
                "t",
                &key(2),
                &HistorySelect::Range {
                    from: 0,
                    to: i64::MAX / 2000,
                    group: None,
                },
            )
            .await
            .unwrap();
        out.push(serde_json::to_string(&d).unwrap());
        out
    }
    let dir = tempfile::tempdir().unwrap();
    let a = run(StateLocation::Memory).await;
    let b = run(StateLocation::Memory).await;
    let c = run(sqlite(&dir.path().join("d.db"))).await;
    assert_eq!(a, b);
    assert_eq!(a, c);
}

/// Four processes opening one new state file at the same moment all start (creating the file,
/// switching it to WAL, the schema and the accounts race), several times over, and all trade.
#[tokio::test]
async fn four_processes_start_together_on_a_new_state_file() {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("fresh-{round}.db"));
        let children: Vec<_> = (0..4).map(|_| spawn_child(&path, 1)).collect();
        let mut tickets = HashSet::new();
        for child in children {
            let out = child.wait_with_output().unwrap();
            for line in child_lines(&out, "CHILD_ORDER=") {
                assert!(tickets.insert(line.clone()), "a ticket given twice: {line}");
            }
        }
        assert_eq!(tickets.len(), 4, "round {round}: every process traded");
    }
}
