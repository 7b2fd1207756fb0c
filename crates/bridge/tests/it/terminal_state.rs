//! What a terminal says of itself: orders stay off terminals whose trading is switched off ("Algo
//! Trading" off, as `terminal_info()` reports it) while reads still go there; with no terminal able
//! to trade, orders answer `503 terminal_trading_disabled` and nothing is sent; a 10027 that slips
//! through answers the same. And the trade server's name: MT5 finds a server whatever its case and
//! surrounding blanks, so a connect stores the terminal's own spelling.


use crate::common;

use common::TestApp;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn buy() -> Value {
    json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})
}

/// The terminals that ran a trade at the broker (its audit trail), oldest first.
async fn order_terminals(app: &TestApp, login: u64) -> Vec<String> {
    app.broker
        .audit()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "order_send" && r.login == login)
        .map(|r| r.terminal_id)
        .collect()
}

/// `POST /api/v1/orders` with an Idempotency-Key: status and body.
async fn place_keyed(app: &TestApp, token: &str, key: &str) -> (u16, Value) {
    let resp = app
        .client
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&buy())
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Switches "Algo Trading" of both simulated terminals, behind the pool's back.
fn set_all_trading(app: &TestApp, on: bool) {
    for id in ["sim-0", "sim-1"] {
        app.broker.set_algo_trading(id, on);
    }
}

async fn trading_disabled_count(app: &TestApp) -> u64 {
    let (s, b) = app.get("/readyz", "").await;
    assert_eq!(s, 200, "reads still work, so the service stays ready: {b}");
    b["terminals_trading_disabled"].as_u64().unwrap()
}

async fn orders_stay_off_terminals_that_cannot_trade(app: TestApp) -> TestApp {
    let (t, _) = app.trader(10001).await;
    let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(trading_disabled_count(&app).await, 0);

    // A user at each terminal switches "Algo Trading" off, behind the pool's back.
    set_all_trading(&app, false);
    let sent_before = order_terminals(&app, 10001).await.len();
    for _ in 0..3 {
        let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (503, Some("terminal_trading_disabled")),
            "{b}"
        );
    }
    // Nothing reached the broker, and each entry says it did not run.
    assert_eq!(order_terminals(&app, 10001).await.len(), sent_before);
    let (_, journal) = app.get("/api/v1/journal?limit=3", &t).await;
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{journal}");
    for e in entries {
        assert_eq!(e["status"], "not_executed", "{e}");
        assert_eq!(e["error"], "terminal_trading_disabled", "{e}");
    }
    assert_eq!(trading_disabled_count(&app).await, 2);
    // Reads still go to those terminals.
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["positions"].as_array().unwrap().len(), 1, "{b}");

    // One terminal trades again: the pool notices within a few seconds and orders go there only.
    app.broker.set_algo_trading("sim-1", true);
    let deadline = Instant::now() + Duration::from_secs(15);
    while trading_disabled_count(&app).await != 1 {
        assert!(
            Instant::now() < deadline,
            "the pool never saw sim-1 trade again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..4 {
        let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
        assert_eq!(s, 200, "{b}");
        // A read in between may move the account to either terminal.
        let (s, _) = app.get("/api/v1/account", &t).await;
        assert_eq!(s, 200);
    }
    let after = order_terminals(&app, 10001).await;
    assert_eq!(after.len(), sent_before + 4);
    assert!(
        after[sent_before..].iter().all(|id| id == "sim-1"),
        "orders went only to the terminal that trades: {after:?}"
    );
    app
}
both_backends!(
    orders_stay_off_terminals_that_cannot_trade,
    orders_stay_off_terminals_that_cannot_trade
);

async fn a_not_executed_order_may_be_sent_again_once_trading_is_back(app: TestApp) -> TestApp {
    let (t, _) = app.trader(10002).await;
    set_all_trading(&app, false);
    let (s, b) = place_keyed(&app, &t, "algo-off-1").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("terminal_trading_disabled"))
    );
    set_all_trading(&app, true);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (s, b) = place_keyed(&app, &t, "algo-off-1").await;
        if s == 200 {
            assert_eq!(b["retcode"], 10009, "{b}");
            break;
        }
        assert_eq!(b["error"]["code"], "terminal_trading_disabled", "{b}");
        assert!(Instant::now() < deadline, "trading never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The key now holds the order that ran: replayed, not sent again.
    let (s, b) = place_keyed(&app, &t, "algo-off-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(order_terminals(&app, 10002).await.len(), 1);
    app
}
both_backends!(
    a_not_executed_order_may_be_sent_again_once_trading_is_back,
    a_not_executed_order_may_be_sent_again_once_trading_is_back
);

async fn a_server_is_stored_as_the_terminal_spells_it(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &t,
            json!({"account_name": "Spelled", "login": "10003", "password": "Sim-10003!",
                   "server": "  sim-DEMO "}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["account"]["server"], "Sim-Demo", "{b}");
    let id = b["account_id"].as_str().unwrap().to_string();
    let (_, list) = app.get("/api/v1/accounts", &t).await;
    let row = list["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(row["server"], "Sim-Demo", "{row}");
    // The same account in another spelling is the same account.
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &t,
            json!({"account_name": "Again", "login": "10003", "password": "Sim-10003!",
                   "server": "SIM-DEMO"}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("account_exists")),
        "{b}"
    );
    // And it trades.
    let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
    assert_eq!(s, 200, "{b}");
    app
}
both_backends!(
    a_server_is_stored_as_the_terminal_spells_it,
    a_server_is_stored_as_the_terminal_spells_it
);

async fn an_order_leaves_a_terminal_that_stopped_trading(app: TestApp) -> TestApp {
    let (t, _) = app.trader(10001).await;
    let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
    assert_eq!(s, 200, "{b}");
    let first = order_terminals(&app, 10001).await;
    let on = first.last().unwrap().clone();
    let other = if on == "sim-0" { "sim-1" } else { "sim-0" };

    // The terminal holding the account stops trading; the pool has not heard yet, so the next
    // order meets MT5's 10027 there: nothing runs, and the pool learns it.
    app.broker.set_algo_trading(&on, false);
    let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (503, Some("terminal_trading_disabled")),
        "{b}"
    );
    assert_eq!(trading_disabled_count(&app).await, 1);
    // The account is still logged in there, yet the next order goes to the other terminal.
    let (s, b) = app.post("/api/v1/orders", &t, buy()).await;
    assert_eq!(s, 200, "{b}");
    let after = order_terminals(&app, 10001).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[1], other, "{after:?}");
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["positions"].as_array().unwrap().len(), 2, "{b}");
    app
}
both_backends!(
    an_order_leaves_a_terminal_that_stopped_trading,
    an_order_leaves_a_terminal_that_stopped_trading
);
