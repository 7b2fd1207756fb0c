//! Nothing lost: an order intent journaled as pending whose service died between send and
//! completion is settled after the next start from the broker's history, by its client id: done
//! when the broker has it, not_executed once its deadline and the grace period passed without a
//! trace. (tests/in_doubt.rs kills real processes mid-order.)

use crate::common;
use crate::common::routes;

use mt5::{AccountKey, Expected, OrderType, Terminal, TradeAction, TradeRequest};
use mt5_bridge::store::journal::{Begin, JournalStatus, NewJournalEntry};
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

async fn crash_between_send_and_completion(app: common::TestApp) -> common::TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let account_id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "recovery")
        .await;
    let (_, me) = app.get(&routes::account(&account_id), &t).await;
    assert_eq!(me["account"]["login"], 10001);

    // What the service had done when it died: the intents written as pending ...
    let ctx = mt5_bridge::store::UserCtx {
        user_id: user,
        email: None,
        claims: json!({"sub": user, "role": "authenticated"}),
    };
    let mut pending = Vec::new();
    for client_id in ["mbrecvsent22", "mbrecvmiss22"] {
        let new = NewJournalEntry {
            id: Uuid::new_v4(),
            account_id: Uuid::parse_str(&account_id).unwrap(),
            client_id: client_id.into(),
            idempotency_key: None,
            request_hash: None,
            source: "api".into(),
            algorithm_id: None,
            run_id: None,
            action: "place".into(),
            request: json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
            status: JournalStatus::Pending,
            error: None,
            process_run_id: None,
        };
        let Begin::Created(e) = app.state.store.begin(&ctx, new, 86_400).await.unwrap() else {
            panic!("created")
        };
        pending.push(e.id);
    }
    // ... and the first one reached the broker (with its client id in the comment).
    let terminal = SimTerminal::new(
        "crashed-process".into(),
        app.broker.clone(),
        TerminalOptions::default(),
    );
    // A terminal of the crashed process: its own session (the tag is only compared by the terminal).
    let key = mt5::Session::new(
        AccountKey::new(10001, "Sim-Demo"),
        mt5::SessionTag::from_bytes([3; 32]),
    );
    terminal
        .login(
            &key,
            &SecretString::from("Sim-10001!"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    let at = Expected::new(key);
    let tick = terminal.symbol_info_tick(&at, "EURUSD").await.unwrap();
    let sent = terminal
        .order_send(
            &at,
            &TradeRequest {
                action: TradeAction::Deal,
                symbol: "EURUSD".into(),
                volume: 0.1,
                price: tick.ask,
                r#type: OrderType::Buy,
                type_filling: mt5::OrderFilling::Ioc,
                comment: "mbrecvsent22".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sent.retcode, 10009);
    app.kill();

    // The restarted service settles both, once their deadline (500 ms here) has passed.
    let app2 = app
        .relaunch_with(app.sim.clone(), |env| {
            env.insert("TERMINAL_TIMEOUT_MS", "500".into());
            env.insert("RECONCILE_GRACE_MS", "0".into());
        })
        .await;
    let mut done = false;
    for _ in 0..200 {
        let (_, b) = app2.get("/api/v1/journal", &t).await;
        let entries = b["entries"].as_array().unwrap().clone();
        // Settled: neither in flight (pending) nor in doubt (unknown) any more.
        if entries
            .iter()
            .all(|e| e["status"] != "pending" && e["status"] != "unknown")
        {
            let sent_entry = entries
                .iter()
                .find(|e| e["client_id"] == "mbrecvsent22")
                .unwrap();
            assert_eq!(sent_entry["status"], "done");
            assert_eq!(sent_entry["order"], sent.order);
            assert_eq!(sent_entry["deal"], sent.deal);
            let lost = entries
                .iter()
                .find(|e| e["client_id"] == "mbrecvmiss22")
                .unwrap();
            assert_eq!(lost["status"], "not_executed");
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(done, "pending intents were reconciled");
    // Exactly one position: nothing was sent again.
    let (_, b) = app2.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"].as_array().unwrap().len(), 1);
    app2.kill();
    app
}
both_backends!(
    pending_intents_are_reconciled_after_a_restart,
    crash_between_send_and_completion
);
