//! Trading on the resolved account through the real server and the simulated broker: every
//! endpoint, the journal, idempotency, limits, the kill switch and recovery after a crash.

use crate::common;
use crate::common::routes;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

async fn user_with_account(app: &TestApp, login: u64, password: &str) -> (String, String) {
    let t = app.token(Uuid::new_v4());
    let id = app
        .connect(&t, login, password, "Sim-Demo", "trading")
        .await;
    (t, id)
}

async fn every_endpoint(app: TestApp) -> TestApp {
    let (t, account_id) = user_with_account(&app, 10001, "Sim-10001!").await;

    let (s, b) = app.get("/api/v1/account", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["login"], 10001);
    assert_eq!(b["account_id"], account_id.as_str());
    assert_eq!(b["balance"], 10000.0);
    assert_eq!(b["margin_mode"], "retail_hedging");
    assert_eq!(b["trade_mode"], "demo");
    assert_eq!(b["currency"], "USD");

    let (s, b) = app.get("/api/v1/symbols", &t).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = b["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for sym in ["EURUSD", "GBPUSD", "USDJPY", "EURJPY", "XAUUSD"] {
        assert!(names.contains(&sym), "{sym} in {names:?}");
    }
    let (s, b) = app.get("/api/v1/symbols/EURUSD", &t).await;
    assert_eq!(s, 200);
    assert_eq!(b["digits"], 5);
    assert_eq!(b["trade_contract_size"], 100000.0);
    assert_eq!(b["trade_calc_mode"], "forex");
    assert!(
        b["time"].as_str().unwrap().ends_with('Z'),
        "times are RFC 3339 UTC: {}",
        b["time"]
    );
    let (s, b) = app.get("/api/v1/symbols/NOPE", &t).await;
    assert_eq!((s, code(&b)), (404, "symbol_not_found"));

    let (s, tick) = app.get("/api/v1/symbols/EURUSD/tick", &t).await;
    assert_eq!(s, 200);
    assert!(tick["ask"].as_f64().unwrap() > tick["bid"].as_f64().unwrap());

    let (s, b) = app
        .get("/api/v1/symbols/EURUSD/rates?timeframe=M1&count=10", &t)
        .await;
    assert_eq!(s, 200, "{b}");
    let bars = b["rates"].as_array().unwrap();
    assert_eq!(bars.len(), 10);
    for bar in bars {
        assert!(bar["low"].as_f64().unwrap() <= bar["high"].as_f64().unwrap());
        assert!(bar["time"].as_str().unwrap().ends_with('Z'));
    }
    let (s, b) = app.get("/api/v1/symbols/EURUSD/rates?timeframe=H1&from=2026-01-05T00:00:00Z&to=2026-01-05T05:00:00Z", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["rates"].as_array().unwrap().len(), 6);
    assert_eq!(b["rates"][0]["time"], "2026-01-05T00:00:00Z");
    for bad in [
        "timeframe=X1",
        "count=0",
        "count=10001",
        "from=yesterday",
        "bogus=1",
    ] {
        let (s, b) = app
            .get(&format!("/api/v1/symbols/EURUSD/rates?{bad}"), &t)
            .await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{bad}");
    }

    // Market order, check, pending lifecycle, SL/TP, partial and full close.
    let (s, b) = app
        .post(
            routes::ORDERS_CHECK,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 0);
    assert!(b["margin"].as_f64().unwrap() > 0.0);
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1, "comment": "first"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009);
    let ticket = b["order"].as_u64().unwrap();
    assert!(b["deal"].as_u64().unwrap() > 0);
    assert_eq!(b["volume"], 0.1);
    let fill = b["price"].as_f64().unwrap();

    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200);
    let pos = &b["positions"][0];
    assert_eq!(pos["ticket"], ticket);
    assert_eq!(pos["type"], "buy");
    assert_eq!(pos["volume"], 0.1);
    assert_eq!(pos["price_open"], fill);
    assert!(
        pos["comment"].as_str().unwrap().ends_with("first"),
        "{}",
        pos["comment"]
    );

    let (s, b) = app
        .put(
            &routes::position(ticket),
            &t,
            json!({"sl": ((fill - 0.0100) * 1e5).round() / 1e5}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["retcode"], &b["changed"]),
        (&json!(10009), &json!(true)),
        "{b}"
    );
    // The same levels again: MT5 answers 10025 NO_CHANGES, a success that changed nothing.
    let (s, b) = app
        .put(
            &routes::position(ticket),
            &t,
            json!({"sl": ((fill - 0.0100) * 1e5).round() / 1e5}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["retcode"], &b["changed"]),
        (&json!(10025), &json!(false)),
        "{b}"
    );
    let (_, j) = app.get("/api/v1/journal", &t).await;
    assert_eq!(j["entries"][0]["action"], "modify_position", "{j}");
    assert_eq!(j["entries"][0]["status"], "done", "{j}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert!(b["positions"][0]["sl"].as_f64().unwrap() > 0.0);
    let (s, b) = app
        .put(&routes::position(ticket), &t, json!({"sl": null}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"][0]["sl"], 0.0);

    let limit_price = ((tick["bid"].as_f64().unwrap() - 0.0200) * 1e5).round() / 1e5;
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.2, "price": limit_price}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!([10008, 10009].contains(&b["retcode"].as_u64().unwrap()));
    let pending = b["order"].as_u64().unwrap();
    let (_, b) = app.get("/api/v1/orders", &t).await;
    assert_eq!(b["orders"][0]["ticket"], pending);
    assert_eq!(b["orders"][0]["type"], "buy_limit");
    let new_price = ((limit_price - 0.0010) * 1e5).round() / 1e5;
    let (s, b) = app
        .put(&routes::order(pending), &t, json!({"price": new_price}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/orders", &t).await;
    assert_eq!(b["orders"][0]["price_open"], new_price);
    let (s, b) = app.delete(&routes::order(pending), &t).await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/orders", &t).await;
    assert_eq!(b["orders"], json!([]));

    let (s, b) = app
        .post(&routes::close_position(ticket), &t, json!({"volume": 0.04}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"][0]["volume"], 0.06);
    let (s, b) = app
        .call(
            Method::POST,
            &routes::close_position(ticket),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"], json!([]));

    let (s, b) = app.get("/api/v1/history/deals", &t).await;
    assert_eq!(s, 200, "{b}");
    let deals = b["deals"].as_array().unwrap();
    let entries: Vec<&str> = deals
        .iter()
        .filter(|d| d["position_id"] == ticket)
        .map(|d| d["entry"].as_str().unwrap())
        .collect();
    assert_eq!(entries, ["in", "out", "out"], "{deals:?}");
    let (s, b) = app.get("/api/v1/history/deals?limit=1", &t).await;
    assert_eq!(s, 200);
    assert_eq!(b["deals"].as_array().unwrap().len(), 1);
    let cursor = b["next_cursor"].as_str().unwrap().to_string();
    let (_, b2) = app
        .get(
            &format!("/api/v1/history/deals?limit=1&cursor={cursor}"),
            &t,
        )
        .await;
    assert_ne!(b["deals"][0]["ticket"], b2["deals"][0]["ticket"]);
    let (s, b) = app.get("/api/v1/history/orders", &t).await;
    assert_eq!(s, 200);
    assert!(
        b["orders"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["ticket"] == pending && o["state"] == "canceled"),
        "{b}"
    );

    let (s, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "close_position",
            "close_position",
            "cancel_order",
            "modify_order",
            "place",
            "modify_position",
            "modify_position",
            "modify_position",
            "place"
        ]
    );
    assert!(
        b["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "done"),
        "{b}"
    );
    let (_, page) = app.get("/api/v1/journal?limit=3", &t).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 3);
    let next = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page2) = app
        .get(&format!("/api/v1/journal?limit=3&cursor={next}"), &t)
        .await;
    assert_eq!(page2["entries"][0]["action"], "modify_order");

    // Broker rejections keep MT5's numbers; bad input is a validation error.
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.015}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "trade_rejected"), "{b}");
    assert_eq!(b["error"]["details"]["retcode"], 10014);
    assert_eq!(b["error"]["details"]["retcode_name"], "INVALID_VOLUME");
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "market", "volume": -1}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    let mut fields: Vec<&str> = b["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["type", "volume"]);
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1}),
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (422, "invalid_combination"),
        "price required for pending: {b}"
    );
    assert_eq!(b["error"]["details"]["fields"][0]["field"], "price", "{b}");
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "NOPE", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "symbol_not_found"), "{b}");
    let (s, b) = app
        .put("/api/v1/positions/999", &t, json!({"sl": 1.0}))
        .await;
    assert_eq!((s, code(&b)), (404, "position_not_found"));
    let (s, b) = app.delete("/api/v1/orders/999", &t).await;
    assert_eq!((s, code(&b)), (404, "order_not_found"));
    let (s, b) = app.delete("/api/v1/orders/abc", &t).await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    app
}
both_backends!(every_trading_endpoint, every_endpoint);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_resolution_and_isolation() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (ta, first) = user_with_account(&app, 10001, "Sim-10001!").await;
    let second = app
        .connect(&ta, 10002, "Sim-10002!", "Sim-Demo", "second")
        .await;
    let (tb, b_account) = user_with_account(&app, 10003, "Sim-10003!").await;

    // Default, then the current account after a switch, then the header.
    let (_, b) = app.get("/api/v1/account", &ta).await;
    assert_eq!(b["account_id"], first.as_str());
    app.post(&routes::switch(&second), &ta, json!({})).await;
    let (_, b) = app.get("/api/v1/account", &ta).await;
    assert_eq!(b["login"], 10002);
    let resp = app
        .client
        .get(format!("{}/api/v1/account", app.base))
        .bearer_auth(&ta)
        .header("x-account-id", &first)
        .send()
        .await
        .unwrap();
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["login"], 10001);

    // Another user's account in the header is 404; a malformed one 422.
    for (hdr, want) in [
        (b_account.as_str(), (404, "account_not_found")),
        ("nope", (422, "validation_failed")),
    ] {
        let resp = app
            .client
            .post(format!("{}/api/v1/orders", app.base))
            .bearer_auth(&ta)
            .header("x-account-id", hdr)
            .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let b: Value = resp.json().await.unwrap();
        assert_eq!((status, code(&b)), want);
    }
    // B's orders are only B's.
    let (s, _) = app
        .post(
            routes::ORDERS,
            &tb,
            json!({"symbol": "EURUSD", "type": "sell", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, b) = app.get("/api/v1/positions", &ta).await;
    assert_eq!(b["positions"], json!([]));
    let (_, b) = app.get("/api/v1/journal", &ta).await;
    assert_eq!(b["entries"], json!([]));
    let (_, b) = app.get("/api/v1/journal", &tb).await;
    assert_eq!(b["entries"].as_array().unwrap().len(), 1);
    // A user with no account.
    let t0 = app.token(Uuid::new_v4());
    let (s, b) = app.get("/api/v1/positions", &t0).await;
    assert_eq!((s, code(&b)), (404, "no_account"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_switch_refuses_and_journals() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, id) = user_with_account(&app, 10001, "Sim-10001!").await;
    let (s, _) = app
        .put(
            &routes::account(&id),
            &t,
            json!({"risk_limits": {"trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, code(&b)), (403, "trading_disabled"));
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"], json!([]));
    let (_, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(b["entries"][0]["status"], "refused");
    // Reads still work; re-enabling trading lets orders through.
    let (s, _) = app.get("/api/v1/account", &t).await;
    assert_eq!(s, 200);
    app.put(
        &routes::account(&id),
        &t,
        json!({"risk_limits": {"trading_enabled": true}}),
    )
    .await;
    let (s, _) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TRADE_LIMIT_PER_HOUR", "2".into());
        env.insert("SWITCH_LIMIT_PER_HOUR", "2".into());
        env.insert("CONNECT_FAIL_LIMIT", "2".into());
    })
    .await;
    let (t, a) = user_with_account(&app, 10001, "Sim-10001!").await;
    let b_id = app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "b").await;

    // Trades per account: place and close count; order_check does not.
    let (s, b) = app
        .post(
            routes::ORDERS_CHECK,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ticket = b["order"].as_u64().unwrap();
    let (s, _) = app
        .post(&routes::close_position(ticket), &t, json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, h, b) = app
        .call_full(
            Method::POST,
            routes::ORDERS,
            Some(&t),
            Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})),
        )
        .await;
    assert_eq!((s, code(&b)), (429, "rate_limited"), "{b}");
    assert_eq!(b["error"]["details"]["limit"], 2);
    assert_eq!(b["error"]["details"]["scope"], "trades_per_account");
    let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 3000 && retry <= 3600, "{retry}");
    // The limit is per account: the other account still trades.
    let resp = app
        .client
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(&t)
        .header("x-account-id", &b_id)
        .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    // Switches that change the current account: a → b, b → a, then refused; a → a is free.
    let (s, _) = app.post(&routes::switch(&b_id), &t, json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&routes::switch(&a), &t, json!({})).await;
    assert_eq!(s, 200);
    let (s, _) = app.post(&routes::switch(&a), &t, json!({})).await;
    assert_eq!(s, 200, "switching to the current account does not count");
    let (s, b) = app.post(&routes::switch(&b_id), &t, json!({})).await;
    assert_eq!((s, code(&b)), (429, "rate_limited"));
    assert_eq!(b["error"]["details"]["scope"], "switches_per_user");

    // Failed connects: two refusals, then even the right password waits.
    for _ in 0..2 {
        let (s, b) = app.post("/api/v1/accounts/connect", &t, json!({"account_name": "x", "login": 10003, "password": "bad", "server": "Sim-Demo"})).await;
        assert_eq!((s, code(&b)), (422, "mt5_login_failed"));
    }
    let (s, b) = app.post("/api/v1/accounts/connect", &t, json!({"account_name": "x", "login": 10003, "password": "Sim-10003!", "server": "Sim-Demo"})).await;
    assert_eq!((s, code(&b)), (429, "rate_limited"));
    assert_eq!(b["error"]["details"]["scope"], "failed_connects_per_user");
    // Another user is not affected.
    let t2 = app.token(Uuid::new_v4());
    let (s, _) = app.post("/api/v1/accounts/connect", &t2, json!({"account_name": "x", "login": 10003, "password": "Sim-10003!", "server": "Sim-Demo"})).await;
    assert_eq!(s, 201);
    app.shutdown().await;
}

async fn idempotency(app: TestApp) -> TestApp {
    let (t, _) = user_with_account(&app, 10002, "Sim-10002!").await;
    let send = |key: &str, volume: f64| {
        app.client
            .post(format!("{}/api/v1/orders", app.base))
            .bearer_auth(&t)
            .header("idempotency-key", key)
            .json(&json!({"symbol": "USDJPY", "type": "buy", "volume": volume}))
            .send()
    };
    let first: Value = send("k-1", 0.1).await.unwrap().json().await.unwrap();
    let again: Value = send("k-1", 0.1).await.unwrap().json().await.unwrap();
    assert_eq!(first, again, "a repeated key returns the first response");
    let resp = send("k-1", 0.2).await.unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(code(&b), "idempotency_key_reused");

    // Concurrent retries of one key: one order, every answer the same.
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let req = app
                .client
                .post(format!("{}/api/v1/orders", app.base))
                .bearer_auth(&t)
                .header("idempotency-key", "k-2")
                .json(&json!({"symbol": "USDJPY", "type": "buy", "volume": 0.3}));
            tokio::spawn(async move { req.send().await })
        })
        .collect();
    let mut orders = Vec::new();
    for h in handles {
        let r = h.await.unwrap().unwrap();
        let status = r.status().as_u16();
        let b: Value = r.json().await.unwrap();
        if status == 200 {
            orders.push(b["order"].as_u64().unwrap());
        } else {
            assert_eq!((status, code(&b)), (409, "request_in_progress"));
        }
    }
    assert!(!orders.is_empty());
    orders.dedup();
    assert_eq!(orders.len(), 1, "one order for one key");
    // The netting account holds exactly 0.1 + 0.3 lots: nothing was sent twice.
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"].as_array().unwrap().len(), 1);
    assert!(
        (b["positions"][0]["volume"].as_f64().unwrap() - 0.4).abs() < 1e-9,
        "{b}"
    );
    let (_, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(b["entries"].as_array().unwrap().len(), 2);
    app
}
both_backends!(idempotency_keys, idempotency);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_limits_refuse_exactly_what_they_should() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TRADE_LIMIT_PER_HOUR", "100".into());
    })
    .await;
    let (t, id) = user_with_account(&app, 10001, "Sim-10001!").await;
    let set = |limits: Value| {
        let app = &app;
        let t = t.clone();
        let id = id.clone();
        async move {
            let (s, b) = app
                .put(&routes::account(&id), &t, json!({ "risk_limits": limits }))
                .await;
            assert_eq!(s, 200, "{b}");
        }
    };
    let order = |body: Value| {
        let app = &app;
        let t = t.clone();
        async move { app.post("/api/v1/orders", &t, body).await }
    };
    let refused = |b: &Value, limit: &str| {
        assert_eq!(code(b), "risk_limit_exceeded", "{b}");
        assert_eq!(b["error"]["details"]["limit"], limit, "{b}");
    };
    let (_, tick) = app.get("/api/v1/symbols/EURUSD/tick", &t).await;
    let ask = tick["ask"].as_f64().unwrap();
    let sl_200 = ((ask - 0.00200) * 1e5).round() / 1e5;

    // max_volume_per_trade
    set(json!({"max_volume_per_trade": 0.5})).await;
    let (s, b) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.6})).await;
    assert_eq!(s, 422);
    refused(&b, "max_volume_per_trade");
    assert_eq!(b["error"]["details"]["max"], 0.5);
    let (s, b) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.5})).await;
    assert_eq!(s, 200, "{b}");
    let first = b["order"].as_u64().unwrap();

    // max_positions: one is open already.
    set(json!({"max_positions": 1})).await;
    let (s, b) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})).await;
    assert_eq!(s, 422);
    refused(&b, "max_positions");
    assert_eq!(b["error"]["details"]["open_positions"], 1);
    let (s, _) = app
        .post(&routes::close_position(first), &t, json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, b) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})).await;
    assert_eq!(s, 200, "{b}");
    let second = b["order"].as_u64().unwrap();
    app.post(&routes::close_position(second), &t, json!({}))
        .await;

    // max_risk_per_trade: 1 % of 10000 USD equity (minus the spreads paid) ≈ 99.9 USD.
    set(json!({"max_risk_per_trade": 0.01})).await;
    let (s, b) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})).await;
    assert_eq!(s, 422);
    refused(&b, "max_risk_per_trade");
    assert_eq!(b["error"]["details"]["sl"], Value::Null);
    // 1 lot with SL 200 points away loses 200 USD at SL: refused; 0.1 lot loses 20 USD: allowed.
    let (s, b) =
        order(json!({"symbol": "EURUSD", "type": "buy", "volume": 1.0, "sl": sl_200})).await;
    assert_eq!(s, 422, "{b}");
    refused(&b, "max_risk_per_trade");
    let loss = b["error"]["details"]["loss_at_sl"].as_f64().unwrap();
    assert!((loss - 200.0).abs() < 5.0, "loss at SL {loss}");
    let (s, b) =
        order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1, "sl": sl_200})).await;
    assert_eq!(s, 200, "{b}");

    // max_daily_loss: the open position's floating loss (the spread) already exceeds 0.01 % of the day's equity.
    set(json!({"max_daily_loss": 0.0001})).await;
    let (s, b) =
        order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01, "sl": sl_200})).await;
    assert_eq!(s, 422, "{b}");
    refused(&b, "max_daily_loss");
    assert!(
        b["error"]["details"]["floating"].as_f64().unwrap() < 0.0,
        "{b}"
    );

    // Without limits, the same order goes through; refusals are journaled as refused.
    set(Value::Null).await;
    let (s, _) = order(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.6})).await;
    assert_eq!(s, 200);
    let (_, b) = app.get("/api/v1/journal?limit=500", &t).await;
    let refused_entries = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == "refused")
        .count();
    assert_eq!(refused_entries, 5);
    app.shutdown().await;
}

/// A pending order opens a position when it fills: the risk stage of the order pipeline holds it
/// to the account's limits as it does a market order, and nothing is placed when it is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_orders_meet_the_risk_limits() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, id) = user_with_account(&app, 10001, "Sim-10001!").await;
    let (s, b) = app
        .put(
            &routes::account(&id),
            &t,
            json!({ "risk_limits": {"max_volume_per_trade": 0.5, "max_risk_per_trade": 0.01} }),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, tick) = app.get("/api/v1/symbols/EURUSD/tick", &t).await;
    let ask = tick["ask"].as_f64().unwrap();
    let below = |points: f64| ((ask - points * 1e-5) * 1e5).round() / 1e5;
    let pending = |volume: f64, sl: f64| json!({"symbol": "EURUSD", "type": "buy_limit", "volume": volume, "price": below(500.0), "sl": sl});
    // Over the volume limit.
    let (s, b) = app
        .post("/api/v1/orders", &t, pending(0.6, below(700.0)))
        .await;
    assert_eq!((s, code(&b)), (422, "risk_limit_exceeded"), "{b}");
    assert_eq!(
        b["error"]["details"]["limit"], "max_volume_per_trade",
        "{b}"
    );
    // Without a stop loss its risk is unbounded; 0.5 lot with a stop 300 points under its price
    // loses ~150 USD there, over 1 % of 10000 USD.
    let (s, b) = app.post("/api/v1/orders", &t, pending(0.1, 0.0)).await;
    assert_eq!((s, code(&b)), (422, "risk_limit_exceeded"), "{b}");
    assert_eq!(b["error"]["details"]["limit"], "max_risk_per_trade", "{b}");
    let (s, b) = app
        .post("/api/v1/orders", &t, pending(0.5, below(800.0)))
        .await;
    assert_eq!((s, code(&b)), (422, "risk_limit_exceeded"), "{b}");
    assert_eq!(b["error"]["details"]["limit"], "max_risk_per_trade", "{b}");
    // Nothing was placed; all three are journaled as refused.
    let (_, o) = app.get("/api/v1/orders", &t).await;
    assert_eq!(o["orders"], json!([]), "{o}");
    let (_, j) = app.get("/api/v1/journal", &t).await;
    let statuses: Vec<&str> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["refused", "refused", "refused"], "{j}");
    // Within the limits it is placed.
    let (s, b) = app
        .post("/api/v1/orders", &t, pending(0.1, below(700.0)))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, o) = app.get("/api/v1/orders", &t).await;
    assert_eq!(o["orders"].as_array().unwrap().len(), 1, "{o}");
    app.shutdown().await;
}

/// Users may write their own account rows directly (Supabase's Data API), past the API's checks.
/// Risk limits the API would refuse must neither read as "no limits" nor fail with a 500: the
/// order is refused by name, before anything is journaled or sent.
async fn planted_risk_limits(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "planted")
        .await;
    let order = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
    for (planted, field) in [
        (r#"{"max_positions": "lots"}"#, "risk_limits.max_positions"),
        (r#"{"max_positions": -5}"#, "risk_limits.max_positions"),
        (r#"{"max_positions": 2.5}"#, "risk_limits.max_positions"),
        (
            r#"{"max_volume_per_trade": -1}"#,
            "risk_limits.max_volume_per_trade",
        ),
        (
            r#"{"trading_enabled": "no"}"#,
            "risk_limits.trading_enabled",
        ),
        (r#"{"max_lots": 1}"#, "risk_limits.max_lots"),
        ("-5", "risk_limits"),
        (r#""none""#, "risk_limits"),
    ] {
        let changed = app
            .as_data_api_user(
                user,
                &format!("update mt5_accounts set risk_limits = '{planted}' where id = '{id}'"),
            )
            .await;
        assert_eq!(changed, 1, "the user may write their own row");
        let (s, b) = app.post("/api/v1/orders", &t, order.clone()).await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{planted}: {b}");
        let fields = b["error"]["details"]["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "{planted}: {b}");
        assert_eq!(fields[0]["field"], field, "{planted}: {b}");
        assert!(
            fields[0]["message"]
                .as_str()
                .unwrap()
                .contains("stored value"),
            "{planted}: {b}"
        );
    }
    // Nothing was journaled or sent.
    let (_, j) = app.get("/api/v1/journal", &t).await;
    assert_eq!(j["entries"], json!([]), "{j}");
    let (_, p) = app.get("/api/v1/positions", &t).await;
    assert_eq!(p["positions"], json!([]), "{p}");
    // Limits set again through the API apply as before.
    let (s, b) = app
        .put(
            &routes::account(&id),
            &t,
            json!({"risk_limits": {"max_positions": 1}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.post("/api/v1/orders", &t, order.clone()).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.post("/api/v1/orders", &t, order).await;
    assert_eq!((s, code(&b)), (422, "risk_limit_exceeded"), "{b}");
    app
}
both_backends!(planted_risk_limits_are_refused_by_name, planted_risk_limits);

/// GET `path` on the account `account` (the `X-Account-Id` header).
async fn get_on(app: &TestApp, path: &str, token: &str, account: &str) -> (u16, Value) {
    let resp = app
        .client
        .get(format!("{}{}", app.base, path))
        .bearer_auth(token)
        .header("x-account-id", account)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn tickets(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["ticket"].as_u64().unwrap())
        .collect()
}

/// The field a 422 names.
fn field(b: &Value) -> String {
    b["error"]["details"]["fields"][0]["field"]
        .as_str()
        .unwrap_or("<none>")
        .to_string()
}

/// History pages keep the window of their first page: deals and orders that arrive between pages
/// are in none of them, and every one of the window's is in exactly one. Cursors are opaque,
/// bound to their route and account; anything else given as a cursor is a 422 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_keep_the_window_of_their_first_page() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    let app = common::spawn(common::Db::Sqlite).await;
    let (t, a) = user_with_account(&app, 10001, "Sim-10001!").await;
    let b = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "other")
        .await;
    let place = |side: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let (s, r) = app
                .call(
                    Method::POST,
                    routes::ORDERS,
                    Some(t),
                    Some(json!({"symbol": "EURUSD", "type": side, "volume": 0.01})),
                )
                .await;
            assert_eq!(s, 200, "{r}");
            (r["order"].as_u64().unwrap(), r["deal"].as_u64().unwrap())
        }
    };
    // Five deals and five orders in the window: three opens, two closes (on the default, `a`).
    let mut opened = Vec::new();
    for side in ["buy", "sell", "buy"] {
        opened.push(place(side).await.0);
    }
    for ticket in &opened[..2] {
        let (s, r) = app
            .post(&routes::close_position(ticket), &t, json!({}))
            .await;
        assert_eq!(s, 200, "{r}");
    }

    for (route, list) in [
        ("/api/v1/history/deals", "deals"),
        ("/api/v1/history/orders", "orders"),
    ] {
        let (_, all) = get_on(&app, &format!("{route}?limit=1000"), &t, &a).await;
        let window = tickets(&all[list]);
        assert!(window.len() >= 5, "{all}");

        // Page 1; then new trades; then the cursors to the end.
        let (s, page) = get_on(&app, &format!("{route}?limit=2"), &t, &a).await;
        assert_eq!(s, 200, "{page}");
        let mut seen = tickets(&page[list]);
        let mut cursor = page["next_cursor"].as_str().unwrap().to_string();
        assert!(
            cursor.parse::<u64>().is_err(),
            "an opaque cursor, not an offset: {cursor}"
        );
        let first_cursor = cursor.clone();
        let mut arrived = Vec::new();
        for side in ["sell", "buy"] {
            let (order, deal) = place(side).await;
            arrived.push(if list == "deals" { deal } else { order });
        }
        let mut pages = 1;
        loop {
            let (s, page) = get_on(&app, &format!("{route}?limit=2&cursor={cursor}"), &t, &a).await;
            assert_eq!(s, 200, "{page}");
            seen.extend(tickets(&page[list]));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = next.to_string(),
                None => break,
            }
        }
        assert_eq!(
            seen, window,
            "{list}: each once, in order, none of {arrived:?}"
        );
        assert!(pages >= 3, "{pages} pages");
        // The new ones exist: a new first page shows them.
        let (_, now) = get_on(&app, &format!("{route}?limit=1000"), &t, &a).await;
        let now = tickets(&now[list]);
        assert!(
            arrived.iter().all(|n| now.contains(n)),
            "{now:?} {arrived:?}"
        );

        // `from` and `to` may not change under a cursor.
        for (q, name) in [("to=2020-01-01T00:00:00Z", "to"), ("from=0", "from")] {
            let (s, e) = get_on(
                &app,
                &format!("{route}?limit=2&{q}&cursor={first_cursor}"),
                &t,
                &a,
            )
            .await;
            assert_eq!(
                (s, code(&e), field(&e)),
                (422, "invalid_combination", name.to_string()),
                "{e}"
            );
        }

        // Not a cursor of this route, account or form: 422 naming `cursor`.
        let other_route = if list == "deals" {
            routes::HISTORY_ORDERS
        } else {
            routes::HISTORY_DEALS
        };
        let crafted = |record: Value| URL_SAFE_NO_PAD.encode(record.to_string());
        let record = json!({"v": 1, "list": list, "account": a, "from": 0, "to": 86_400,
                            "as_of_ms": 86_400_000, "offset": 0});
        let mut far = record.clone();
        far["offset"] = json!(1u64 << 40);
        let mut before_1970 = record.clone();
        before_1970["from"] = json!(-86_400);
        let mut after_2100 = record.clone();
        after_2100["to"] = json!(4_102_444_800i64);
        let mut year_long = record.clone();
        year_long["to"] = json!(400 * 86_400);
        let mut v2 = record.clone();
        v2["v"] = json!(2);
        for (path, account, why) in [
            (format!("{route}?cursor=2"), &a, "an old numeric cursor"),
            (format!("{route}?cursor=0"), &a, "an old numeric cursor"),
            (
                format!("{other_route}?cursor={first_cursor}"),
                &a,
                "another route's",
            ),
            (
                format!("{route}?cursor={first_cursor}"),
                &b,
                "another account's",
            ),
            (format!("{route}?cursor=not-a-cursor_"), &a, "garbled"),
            (format!("{route}?cursor=AAAAAAAA"), &a, "base64 of zeros"),
            (
                format!("{route}?cursor={}", URL_SAFE_NO_PAD.encode("hello, world")),
                &a,
                "base64 garbage",
            ),
            (
                format!("{route}?cursor={}", crafted(far)),
                &a,
                "a huge offset",
            ),
            (
                format!("{route}?cursor={}", crafted(before_1970)),
                &a,
                "before 1970",
            ),
            (
                format!("{route}?cursor={}", crafted(after_2100)),
                &a,
                "after 2100",
            ),
            (
                format!("{route}?cursor={}", crafted(year_long)),
                &a,
                "over 366 days",
            ),
            (
                format!("{route}?cursor={}", crafted(v2)),
                &a,
                "another version",
            ),
        ] {
            let (s, e) = get_on(&app, &path, &t, account).await;
            assert_eq!(
                (s, code(&e), field(&e)),
                (422, "validation_failed", "cursor".to_string()),
                "{why}: {e}"
            );
        }
        // A crafted cursor within bounds is only a query the user could have made.
        let (s, e) = get_on(&app, &format!("{route}?cursor={}", crafted(record)), &t, &a).await;
        assert_eq!(s, 200, "{e}");
        assert_eq!(e[list], json!([]), "nothing in 1970");
    }
    // Another user's cursor names an account that is not theirs.
    let (t2, a2) = user_with_account(&app, 10003, "Sim-10003!").await;
    let (_, page) = get_on(&app, "/api/v1/history/deals?limit=1", &t, &a).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (s, e) = get_on(
        &app,
        &format!("/api/v1/history/deals?cursor={cursor}"),
        &t2,
        &a2,
    )
    .await;
    assert_eq!((s, field(&e)), (422, "cursor".to_string()), "{e}");
    app.shutdown().await;
}

/// A window older than the history the terminal keeps has no bars: MT5 answers it with `-1 Call
/// failed`, which is no fault of the terminal (an empty list, not a 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_older_than_the_terminal_s_history_are_none() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, _) = user_with_account(&app, 10001, "Sim-10001!").await;
    for q in [
        "to=30853",
        "from=0&to=86400",
        "timeframe=M1&from=1000000&to=1003600",
    ] {
        let (s, b) = app
            .get(&format!("/api/v1/symbols/USDJPY/rates?{q}"), &t)
            .await;
        assert_eq!((s, &b["rates"]), (200, &json!([])), "{q}: {b}");
    }
    // Recent bars are still there.
    let (s, b) = app.get("/api/v1/symbols/USDJPY/rates?count=3", &t).await;
    assert_eq!(
        (s, b["rates"].as_array().map(Vec::len)),
        (200, Some(3)),
        "{b}"
    );
    app.shutdown().await;
}

/// A repeated key whose first request is still running waits at most 2 s: a double-click's second
/// request replays the first's answer; past 2 s it answers `409 request_in_progress` with the
/// entry's `journal_id` and `Retry-After: 1`, and nothing is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_key_waits_at_most_two_seconds() {
    let sim = mt5_sim::config::SimConfig {
        order_latency_ms: 4_000,
        ..common::sim_config()
    };
    let app = common::spawn_with(common::Db::Sqlite, sim, |_| {}).await;
    let (t, _) = user_with_account(&app, 10001, "Sim-10001!").await;
    let send = |key: &str| {
        app.client
            .post(format!("{}/api/v1/orders", app.base))
            .bearer_auth(&t)
            .header("idempotency-key", key)
            .json(&json!({"symbol": "USDJPY", "type": "buy", "volume": 0.1}))
            .send()
    };
    let first = tokio::spawn(send("slow-key"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let resp = send("slow-key").await.unwrap();
    let waited = started.elapsed();
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let status = resp.status().as_u16();
    let b: Value = resp.json().await.unwrap();
    assert_eq!((status, code(&b)), (409, "request_in_progress"), "{b}");
    assert!(
        waited >= std::time::Duration::from_millis(1_800)
            && waited < std::time::Duration::from_millis(3_000),
        "waited {waited:?}"
    );
    let first: Value = first.await.unwrap().unwrap().json().await.unwrap();
    assert!(first["order"].as_u64().is_some(), "{first}");
    let (_, journal) = app.get("/api/v1/journal", &t).await;
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(b["error"]["details"]["journal_id"], entries[0]["id"]);
    // Done now: the key replays the first answer.
    let again: Value = send("slow-key").await.unwrap().json().await.unwrap();
    assert_eq!(again, first);
}

/// A double-click: the second request arrives while the first (1 s at the broker) runs, and gets
/// the first's answer, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_replays_the_first_answer() {
    let sim = mt5_sim::config::SimConfig {
        order_latency_ms: 1_000,
        ..common::sim_config()
    };
    let app = common::spawn_with(common::Db::Sqlite, sim, |_| {}).await;
    let (t, _) = user_with_account(&app, 10001, "Sim-10001!").await;
    let send = |key: &str| {
        app.client
            .post(format!("{}/api/v1/orders", app.base))
            .bearer_auth(&t)
            .header("idempotency-key", key)
            .json(&json!({"symbol": "USDJPY", "type": "buy", "volume": 0.1}))
            .send()
    };
    let first = tokio::spawn(send("click"));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let second = send("click").await.unwrap();
    assert_eq!(second.status().as_u16(), 200);
    let second: Value = second.json().await.unwrap();
    let first: Value = first.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(first, second);
}
