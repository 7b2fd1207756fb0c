//! Simulated terminals on one broker: one truth for every terminal, the account guard, logins,
//! latency, seeded faults and the audit trail.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns unwrap too

mod common;

use common::*;
use mt5::retcode::DONE;
use mt5::{
    Expected, HistorySelect, OrderType, PositionFilter, Terminal, TerminalError, TradeRequest,
};
use mt5_sim::config::{FaultConfig, StateLocation};
use mt5_sim::market::ManualClock;
use mt5_sim::terminal::{sim_terminals, SimTerminal, TerminalOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

async fn memory_broker() -> (Arc<mt5_sim::broker::Broker>, ManualClock) {
    let clock = ManualClock::new(T0);
    let broker = broker_on(StateLocation::Memory, Arc::new(clock.clone())).await;
    (broker, clock)
}

fn at(login: u64) -> Expected {
    Expected::new(session(login))
}

#[tokio::test]
async fn two_terminals_see_one_truth() {
    let (broker, clock) = memory_broker().await;
    let ts = sim_terminals(2, broker.clone(), TerminalOptions::default());
    assert_eq!((ts[0].id(), ts[1].id()), ("sim-0", "sim-1"));
    for t in &ts {
        let info = t.login(&session(1), &password(1), LONG).await.unwrap();
        assert_eq!((info.login, info.balance), (1, 10_000.0));
    }
    let r = ts[0]
        .order_send(&at(1), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert_eq!(r.retcode, DONE);
    assert_eq!(r.request_id, 1);
    let seen = ts[1].positions(&at(1), &PositionFilter::All).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].ticket, r.order);
    clock.advance_ms(5_000);
    let c = ts[1]
        .order_send(&at(1), &close("EURUSD", OrderType::Sell, 0.1, r.order))
        .await
        .unwrap();
    assert_eq!(c.retcode, DONE);
    assert!(ts[0]
        .positions(&at(1), &PositionFilter::All)
        .await
        .unwrap()
        .is_empty());
    let deals = ts[0]
        .history_deals(&at(1), &HistorySelect::Position { position: r.order })
        .await
        .unwrap();
    assert_eq!(deals.len(), 2);
    assert_eq!(deals[1].time, (T0 + 5_000) / 1000 + OFFSET_S);
    let info = ts[0].account_info(&at(1)).await.unwrap();
    assert_eq!(info.balance, 10_000.0 + deals[1].profit);
}

#[tokio::test]
async fn the_guard_refuses_another_account_and_executes_nothing() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("guarded".into(), broker.clone(), TerminalOptions::default());
    // Logged out: every operation is refused.
    let err = t.positions(&at(1), &PositionFilter::All).await.unwrap_err();
    assert_eq!(
        err,
        TerminalError::WrongAccount {
            expected: key(1),
            actual: None
        }
    );
    t.login(&session(1), &password(1), LONG).await.unwrap();
    let err = t
        .order_send(&at(2), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TerminalError::WrongAccount {
            expected: key(2),
            actual: Some(key(1))
        }
    );
    assert!(t.account_info(&at(2)).await.is_err());
    assert!(t.symbol_info_tick(&at(2), "EURUSD").await.is_err());
    let audit = broker.audit().await.unwrap();
    assert!(audit.iter().all(|a| a.login != 2), "{audit:?}");
    let b = broker.account_state(&key(2)).await.unwrap().unwrap();
    assert!(b.positions.is_empty());
    // The right account works.
    assert_eq!(
        t.order_send(&at(1), &market("EURUSD", OrderType::Buy, 0.1))
            .await
            .unwrap()
            .retcode,
        DONE
    );
}

#[tokio::test]
async fn failed_logins_leave_the_terminal_logged_out() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("t".into(), broker.clone(), TerminalOptions::default());
    t.login(&session(1), &password(1), LONG).await.unwrap();
    assert_eq!(t.current().await.unwrap(), Some(session(1)));
    let wrong_pw = t
        .login(&session(2), &secrecy::SecretString::from("nope"), LONG)
        .await
        .unwrap_err();
    assert_eq!(wrong_pw, TerminalError::auth_failed());
    assert_eq!(t.current().await.unwrap(), None);
    let unknown = t
        .login(
            &mt5::Session::new(mt5::AccountKey::new(99, SERVER), tag(99)),
            &password(99),
            LONG,
        )
        .await
        .unwrap_err();
    assert!(unknown.is_auth_failure());
    let wrong_server = t
        .login(
            &mt5::Session::new(mt5::AccountKey::new(1, "Other-Server"), tag(1)),
            &password(1),
            LONG,
        )
        .await
        .unwrap_err();
    assert!(wrong_server.is_auth_failure());
    // Another account's password does not open this one.
    assert!(t.login(&session(1), &password(2), LONG).await.is_err());
    assert_eq!(t.current().await.unwrap(), None);
    let info = t.login(&session(2), &password(2), LONG).await.unwrap();
    assert_eq!(info.margin_mode, mt5::AccountMarginMode::RetailNetting);
    t.logout().await.unwrap();
    assert_eq!(t.current().await.unwrap(), None);
    // Errors never carry the password.
    assert!(!format!("{wrong_pw:?} {wrong_pw}").contains("pw-"));
}

#[tokio::test]
async fn latency_is_respected_and_bounded_by_the_login_timeout() {
    let (broker, _clock) = memory_broker().await;
    let opts = TerminalOptions {
        login_latency: Duration::from_millis(120),
        call_latency: Duration::from_millis(40),
        ..Default::default()
    };
    let t = SimTerminal::new("slow".into(), broker, opts);
    let start = Instant::now();
    t.login(&session(1), &password(1), LONG).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(120));
    let start = Instant::now();
    t.account_info(&at(1)).await.unwrap();
    t.account_info(&at(1)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(80));
    let start = Instant::now();
    let err = t
        .login(&session(2), &password(2), Duration::from_millis(30))
        .await
        .unwrap_err();
    assert_eq!(err, TerminalError::Timeout);
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(30) && waited < Duration::from_millis(120));
    assert_eq!(t.current().await.unwrap(), None);
}

/// The outcome of each of `n` calls on a faulty terminal, as a string per call.
async fn fault_trace(seed: u64, n: usize) -> Vec<String> {
    let (broker, _clock) = memory_broker().await;
    let opts = TerminalOptions {
        faults: FaultConfig {
            login_fail: 0.2,
            disconnect: 0.1,
            timeout: 0.2,
            ..Default::default()
        },
        fault_seed: seed,
        ..Default::default()
    };
    let t = SimTerminal::new("faulty".into(), broker, opts);
    let mut out = Vec::new();
    for _ in 0..n {
        if t.current().await.unwrap().is_none() {
            match t.login(&session(1), &password(1), LONG).await {
                Ok(_) => out.push("login".to_string()),
                Err(e) => out.push(format!("login {e}")),
            }
            continue;
        }
        match t.account_info(&at(1)).await {
            Ok(_) => out.push("ok".into()),
            Err(e) => out.push(format!("{e}")),
        }
    }
    out
}

#[tokio::test]
async fn faults_are_reproducible_for_a_seed() {
    let a = fault_trace(7, 200).await;
    let b = fault_trace(7, 200).await;
    let c = fault_trace(8, 200).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    for kind in [
        "ok",
        "login",
        "login MT5 error -6: Terminal: Authorization failed",
        "MT5 error -10004: No IPC connection",
        "terminal call timed out",
    ] {
        assert!(a.iter().any(|o| o == kind), "{kind} never happened: {a:?}");
    }
}

#[tokio::test]
async fn a_timed_out_order_send_still_executes() {
    let (broker, _clock) = memory_broker().await;
    let opts = TerminalOptions {
        faults: FaultConfig {
            login_fail: 0.0,
            disconnect: 0.0,
            timeout: 1.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = SimTerminal::new("lossy".into(), broker.clone(), opts);
    t.login(&session(1), &password(1), LONG).await.unwrap();
    let mut req = market("EURUSD", OrderType::Buy, 0.1);
    req.comment = "intent-42".into();
    let err = t.order_send(&at(1), &req).await.unwrap_err();
    assert!(err.is_timeout());
    let st = broker.account_state(&key(1)).await.unwrap().unwrap();
    assert_eq!(st.positions.len(), 1);
    assert_eq!(st.positions[0].comment, "intent-42");
    let sent: Vec<_> = broker
        .audit()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.operation == "order_send")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].retcode, sent[0].comment.as_str()),
        (DONE, "intent-42")
    );
}

#[tokio::test]
async fn a_disconnect_drops_the_login_and_runs_nothing() {
    let (broker, _clock) = memory_broker().await;
    let opts = TerminalOptions {
        faults: FaultConfig {
            login_fail: 0.0,
            disconnect: 1.0,
            timeout: 0.0,
            ..Default::default()
        },
        ..Default::default()
    };
    let t = SimTerminal::new("flaky".into(), broker.clone(), opts);
    t.login(&session(1), &password(1), LONG).await.unwrap();
    let err = t
        .order_send(&at(1), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap_err();
    assert_eq!(err, TerminalError::no_ipc());
    assert_eq!(t.current().await.unwrap(), None);
    let st = broker.account_state(&key(1)).await.unwrap().unwrap();
    assert!(st.positions.is_empty());
}

#[tokio::test]
async fn the_audit_trail_names_the_right_account_for_every_operation() {
    let (broker, _clock) = memory_broker().await;
    let ts = sim_terminals(2, broker.clone(), TerminalOptions::default());
    ts[0].login(&session(1), &password(1), LONG).await.unwrap();
    ts[1].login(&session(2), &password(2), LONG).await.unwrap();
    let mut expected = Vec::new();
    for (i, t) in ts.iter().enumerate() {
        let login = i as u64 + 1;
        let a = at(login);
        let mut req = market("EURUSD", OrderType::Buy, 0.1);
        req.comment = format!("for-{login}");
        let r = t.order_send(&a, &req).await.unwrap();
        t.order_check(&a, &req).await.unwrap();
        t.positions(&a, &PositionFilter::All).await.unwrap();
        t.orders(&a, &PositionFilter::All).await.unwrap();
        t.account_info(&a).await.unwrap();
        t.symbol_info(&a, "EURUSD").await.unwrap();
        t.symbol_info_tick(&a, "EURUSD").await.unwrap();
        t.order_calc_margin(&a, OrderType::Buy, "EURUSD", 0.1, 1.1)
            .await
            .unwrap();
        t.history_deals(
            &a,
            &HistorySelect::Range {
                from: 0,
                to: i64::MAX / 2000,
                group: None,
            },
        )
        .await
        .unwrap();
        expected.push((login, t.id().to_string(), r.order, r.deal));
    }
    let audit = broker.audit().await.unwrap();
    assert!(audit.windows(2).all(|w| w[0].seq < w[1].seq));
    for (login, terminal, order, deal) in expected {
        let mine: Vec<_> = audit.iter().filter(|a| a.terminal_id == terminal).collect();
        assert!(mine.len() >= 10, "{mine:?}");
        assert!(mine.iter().all(|a| a.login == login && a.server == SERVER));
        let send = mine.iter().find(|a| a.operation == "order_send").unwrap();
        assert_eq!((send.order, send.deal, send.retcode), (order, deal, DONE));
        assert_eq!(send.comment, format!("for-{login}"));
        assert_eq!(send.symbol, "EURUSD");
        for op in [
            "login",
            "order_check",
            "positions",
            "orders",
            "account_info",
            "symbol_info",
        ] {
            assert!(mine.iter().any(|a| a.operation == op), "{op} not audited");
        }
    }
}

#[tokio::test]
async fn market_data_and_errors_look_like_mt5() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("md".into(), broker, TerminalOptions::default());
    t.login(&session(1), &password(1), LONG).await.unwrap();
    let tick = t.symbol_info_tick(&at(1), "EURUSD").await.unwrap();
    assert_eq!((tick.bid, tick.ask), (1.099, 1.0991));
    assert_eq!(tick.time, T0 / 1000 + OFFSET_S);
    assert_eq!(
        t.symbol_info(&at(1), "NOPE").await.unwrap_err(),
        TerminalError::not_found()
    );
    let all = t.symbols(&at(1), None).await.unwrap();
    assert_eq!(all.len(), 8);
    let usd = t.symbols(&at(1), Some("*USD")).await.unwrap();
    assert!(usd.iter().all(|s| s.name.ends_with("USD")) && usd.len() == 3);
    let info = t.symbol_info(&at(1), "USDJPY").await.unwrap();
    assert!(info.trade_tick_value > 0.0);
    let m = t
        .order_calc_margin(&at(1), OrderType::Buy, "EURUSD", 0.1, 1.0991)
        .await
        .unwrap();
    assert_eq!(m, 109.91);
    let bad = TradeRequest {
        symbol: "EURUSD".into(),
        volume: 0.015,
        ..Default::default()
    };
    let r = t.order_send(&at(1), &bad).await.unwrap();
    assert_eq!((r.retcode, r.order, r.deal), (10014, 0, 0));
}

#[tokio::test]
async fn a_session_serves_only_the_credential_tag_it_logged_in_with() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("t".into(), broker, TerminalOptions::default());
    t.login(&session(1), &password(1), LONG).await.unwrap();
    // Same login and server, another credential's tag: refused, nothing runs.
    let other = Expected::new(mt5::Session::new(key(1), tag(200)));
    let err = t
        .order_send(&other, &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TerminalError::WrongAccount { actual: Some(a), .. } if *a == key(1)),
        "{err:?}"
    );
    assert!(t.account_info(&other).await.is_err());
    let positions = t.positions(&at(1), &PositionFilter::All).await.unwrap();
    assert!(positions.is_empty(), "{positions:?}");
    assert_eq!(t.current().await.unwrap(), Some(session(1)));
}

#[tokio::test]
async fn an_investor_login_reads_but_the_server_refuses_its_trades() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("t".into(), broker.clone(), TerminalOptions::default());
    let investor = mt5::Session::new(key(1), tag(101));
    let info = t
        .login(&investor, &investor_password(1), LONG)
        .await
        .unwrap();
    assert!(!info.trade_allowed);
    let at_inv = Expected::new(investor.clone());
    assert!(!t.account_info(&at_inv).await.unwrap().trade_allowed);
    let r = t
        .order_send(&at_inv, &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert_eq!(r.retcode, mt5::retcode::TRADE_DISABLED);
    assert_eq!(r.order, 0);
    assert!(t
        .positions(&at_inv, &PositionFilter::All)
        .await
        .unwrap()
        .is_empty());
    // The master password on the same terminal trades again.
    let info = t.login(&session(1), &password(1), LONG).await.unwrap();
    assert!(info.trade_allowed);
    let r = t
        .order_send(&at(1), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert_eq!(r.retcode, DONE);
}

#[tokio::test]
async fn a_password_changed_at_the_broker_refuses_the_old_one() {
    let (broker, _clock) = memory_broker().await;
    let t = SimTerminal::new("t".into(), broker.clone(), TerminalOptions::default());
    t.login(&session(1), &password(1), LONG).await.unwrap();
    assert!(broker.set_password(&key(1), secrecy::SecretString::from("new-pw")));
    assert!(!broker.set_password(&key(77), secrecy::SecretString::from("x")));
    // The open session goes on, as on a real server; the next login with the old one fails.
    assert!(t.account_info(&at(1)).await.is_ok());
    let err = t.login(&session(1), &password(1), LONG).await.unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    let new = mt5::Session::new(key(1), tag(9));
    t.login(&new, &secrecy::SecretString::from("new-pw"), LONG)
        .await
        .unwrap();
    // The investor password is unchanged.
    t.login(
        &mt5::Session::new(key(1), tag(10)),
        &investor_password(1),
        LONG,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn unknown_enum_values_are_reported_not_kept() {
    use mt5::{DealReason, DealType, OrderState, SymbolCalcMode, SymbolTradeMode};
    use mt5_sim::config::UnknownEnums;
    let (broker, _clock) = memory_broker().await;
    let opts = TerminalOptions {
        unknown_enums: UnknownEnums {
            order_state: true,
            trade_mode: true,
            filling_mode: true,
            account_trade_mode: true,
            ..UnknownEnums::shown()
        },
        ..Default::default()
    };
    let odd = SimTerminal::new("odd".into(), broker.clone(), opts);
    let plain = SimTerminal::new("plain".into(), broker, TerminalOptions::default());
    let login = odd.login(&session(1), &password(1), LONG).await.unwrap();
    assert_eq!(login.trade_mode, mt5::AccountTradeMode::Unknown(13));
    assert_eq!(login.margin_mode, mt5::AccountMarginMode::Unknown(15));
    plain.login(&session(1), &password(1), LONG).await.unwrap();
    let info = odd.symbol_info(&at(1), "EURUSD").await.unwrap();
    assert_eq!(info.trade_calc_mode, SymbolCalcMode::Unknown(77));
    assert_eq!(
        (info.trade_mode, info.filling_mode),
        (SymbolTradeMode::Unknown(9), 16)
    );
    let all = odd.symbols(&at(1), None).await.unwrap();
    assert!(all
        .iter()
        .all(|s| s.trade_calc_mode == SymbolCalcMode::Unknown(77)));
    // The broker trades on its own known specs all the same.
    let r = odd
        .order_send(&at(1), &market("EURUSD", OrderType::Buy, 0.1))
        .await
        .unwrap();
    assert_eq!(r.retcode, DONE);
    let pos = odd.positions(&at(1), &PositionFilter::All).await.unwrap();
    assert_eq!(pos[0].reason, mt5::PositionReason::Unknown(97));
    assert_eq!(pos[0].r#type, mt5::PositionType::Buy, "sides stay known");
    let history = HistorySelect::Range {
        from: 0,
        to: i64::MAX / 2000,
        group: None,
    };
    let deals = odd.history_deals(&at(1), &history).await.unwrap();
    assert!(deals.iter().all(|d| d.reason == DealReason::Unknown(99)));
    assert!(deals.iter().any(|d| d.r#type == DealType::Buy));
    assert!(
        deals.iter().any(|d| d.r#type == DealType::Unknown(57)),
        "the balance deal"
    );
    let orders = odd.history_orders(&at(1), &history).await.unwrap();
    assert_eq!(orders[0].state, OrderState::Unknown(17));
    assert_eq!(orders[0].reason, mt5::OrderReason::Unknown(98));
    // Another terminal on the same broker reports the same facts with known values.
    let seen = plain.history_orders(&at(1), &history).await.unwrap();
    assert_eq!(seen[0].state, OrderState::Filled);
    let deals = plain.history_deals(&at(1), &history).await.unwrap();
    assert!(deals.iter().all(|d| d.reason != DealReason::Unknown(99)));
    let info = plain.symbol_info(&at(1), "EURUSD").await.unwrap();
    assert_eq!(info.trade_mode, SymbolTradeMode::Full);
    assert_ne!(info.filling_mode, 16);
}
