//! `GET /api/v1/stream`: who may open a stream, what it sends, and its limits, as a client sees
//! them over a real WebSocket.

use crate::common;
use crate::common::routes;

use common::TestApp;
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn stream_url(app: &TestApp) -> String {
    format!("{}/api/v1/stream", app.base.replacen("http://", "ws://", 1))
}

/// Opens a stream, with the token on the upgrade when given.
async fn open(app: &TestApp, token: Option<&str>) -> Result<Ws, WsError> {
    let mut req = stream_url(app).into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next JSON message (pings and pongs skipped), or None when the stream closed first.
async fn next(ws: &mut Ws) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a message within 15 s")?;
        match msg.ok()? {
            Message::Text(t) => return Some(serde_json::from_str(&t).unwrap()),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// The close code the server sent, after any messages before it.
async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("closed within 15 s")?;
        if let Ok(Message::Close(frame)) = msg {
            return frame.map(|f| f.code);
        }
    }
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn ready_stream(app: &TestApp, token: &str) -> Ws {
    let mut ws = open(app, Some(token)).await.unwrap();
    let ready = next(&mut ws).await.unwrap();
    assert_eq!(ready["type"], "ready", "{ready}");
    ws
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_changes_reach_their_user_s_stream_and_nobody_else_s() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (ta, tb) = (app.token(alice), app.token(bob));
    let account = app
        .connect(&ta, 10001, "Sim-10001!", "Sim-Demo", "alice")
        .await;
    let bobs = app
        .connect(&tb, 10002, "Sim-10002!", "Sim-Demo", "bob")
        .await;

    let mut ws = open(&app, Some(&ta)).await.unwrap();
    let ready = next(&mut ws).await.unwrap();
    assert_eq!(ready, json!({"type": "ready", "user_id": alice}));
    // The current account by default.
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "o1", "channel": "orders"}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "subscribed", "id": "o1", "account_id": account})
    );
    // Bob cannot subscribe to Alice's account, and his own stream hears nothing of her orders.
    let mut other = ready_stream(&app, &tb).await;
    send(
        &mut other,
        json!({"type": "subscribe", "id": "x", "channel": "orders", "account_id": account}),
    )
    .await;
    let refused = next(&mut other).await.unwrap();
    assert_eq!(
        (&refused["type"], &refused["id"], &refused["code"]),
        (&json!("error"), &json!("x"), &json!("account_not_found")),
        "{refused}"
    );
    send(
        &mut other,
        json!({"type": "subscribe", "id": "mine", "channel": "orders", "account_id": bobs}),
    )
    .await;
    assert_eq!(next(&mut other).await.unwrap()["type"], "subscribed");

    let (s, placed) = app
        .post(
            routes::ORDERS,
            &ta,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{placed}");
    let (_, journal) = app.get("/api/v1/journal", &ta).await;
    let entry = journal["entries"][0].clone();
    // Each change as GET /api/v1/journal shows the entry when it is read (`pending` when
    // journaled, unless it was done by then), ending with `done`; the same view is sent once.
    let mut seen = Vec::new();
    let mut last_seq = 0;
    while seen.last().map(|e: &Value| e["status"].clone()) != Some(json!("done")) {
        let event = next(&mut ws).await.unwrap();
        assert_eq!(event["type"], "event", "{event}");
        assert_eq!(event["id"], "o1");
        assert_eq!(event["channel"], "orders");
        assert_eq!(event["account_id"], json!(account));
        let seq = event["seq"].as_u64().unwrap();
        assert!(seq > last_seq, "seq increases: {event}");
        last_seq = seq;
        assert_eq!(event["data"]["id"], entry["id"], "{event}");
        seen.push(event["data"].clone());
    }
    assert!(seen.windows(2).all(|w| w[0] != w[1]), "{seen:?}");
    assert!(seen.len() <= 2, "{seen:?}");
    assert_eq!(
        seen.last().unwrap(),
        &entry,
        "the final event is the entry as listed"
    );
    assert_eq!(seen.last().unwrap()["order"], placed["order"]);
    // Nothing reached Bob's stream.
    let quiet = tokio::time::timeout(Duration::from_millis(300), other.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "{quiet:?}"
    );

    // After unsubscribing, no more events.
    send(&mut ws, json!({"type": "unsubscribe", "id": "o1"})).await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "unsubscribed", "id": "o1"})
    );
    let (s, _) = app
        .post(
            routes::ORDERS,
            &ta,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200);
    let quiet = tokio::time::timeout(Duration::from_millis(300), ws.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "{quiet:?}"
    );

    let (_, _, metrics) = app
        .call_full(Method::GET, "/metrics", Some(common::METRICS_TOKEN), None)
        .await;
    let text = metrics.as_str().unwrap();
    assert!(text.contains("mt5b_stream_connections 2\n"), "{text}");
    assert!(
        text.contains("mt5b_stream_events_total{channel=\"orders\"} "),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_authenticates_with_its_first_message() {
    let app = common::spawn(common::Db::Sqlite).await;
    let user = Uuid::new_v4();
    let mut ws = open(&app, None).await.unwrap();
    send(&mut ws, json!({"type": "auth", "token": app.token(user)})).await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "ready", "user_id": user})
    );
    // A new token of the same user keeps the stream; another user's closes it.
    send(&mut ws, json!({"type": "auth", "token": app.token(user)})).await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "ready");
    send(
        &mut ws,
        json!({"type": "auth", "token": app.token(Uuid::new_v4())}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["code"], "unauthorized");
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Library(4001)));

    for first in [
        json!({"type": "auth", "token": "not-a-jwt"}),
        json!({"type": "subscribe", "id": "a", "channel": "orders"}),
    ] {
        let mut ws = open(&app, None).await.unwrap();
        send(&mut ws, first.clone()).await;
        let refused = next(&mut ws).await.unwrap();
        assert_eq!(refused["code"], "unauthorized", "{first}: {refused}");
        assert_eq!(close_code(&mut ws).await, Some(CloseCode::Library(4001)));
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_or_a_plain_request_is_refused_without_upgrading() {
    let app = common::spawn(common::Db::Sqlite).await;
    match open(&app, Some("not-a-jwt")).await {
        Err(WsError::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("upgraded with a bad token: {:?}", other.map(|_| ())),
    }
    let t = app.token(Uuid::new_v4());
    let (s, headers, b) = app
        .call_full(Method::GET, routes::STREAM, Some(&t), None)
        .await;
    assert_eq!((s, code(&b)), (426, "upgrade_required"), "{b}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_and_subscriptions_are_limited() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("STREAM_MAX_CONNECTIONS_PER_USER", "2".into());
    })
    .await;
    let user = Uuid::new_v4();
    let t = app.token(user);
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    let mut first = ready_stream(&app, &t).await;
    let second = ready_stream(&app, &t).await;
    match open(&app, Some(&t)).await {
        Err(WsError::Http(resp)) => {
            assert_eq!(resp.status(), 429);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
            assert_eq!(
                body["error"]["details"]["scope"], "streams_per_user",
                "{body}"
            );
        }
        other => panic!("a third stream opened: {:?}", other.map(|_| ())),
    }
    // Another user is not counted against this one; a closed stream gives its place back.
    ready_stream(&app, &app.token(Uuid::new_v4())).await;
    drop(second);
    let mut third = None;
    for _ in 0..50 {
        if let Ok(mut ws) = open(&app, Some(&t)).await {
            assert_eq!(next(&mut ws).await.unwrap()["type"], "ready");
            third = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        third.is_some(),
        "the closed stream's place was not given back"
    );

    for i in 0..50 {
        send(
            &mut first,
            json!({"type": "subscribe", "id": format!("s{i}"), "channel": "orders"}),
        )
        .await;
        assert_eq!(next(&mut first).await.unwrap()["type"], "subscribed");
    }
    send(
        &mut first,
        json!({"type": "subscribe", "id": "s50", "channel": "orders"}),
    )
    .await;
    let refused = next(&mut first).await.unwrap();
    assert_eq!(
        (
            &refused["id"],
            &refused["code"],
            &refused["details"]["scope"]
        ),
        (
            &json!("s50"),
            &json!("rate_limited"),
            &json!("subscriptions_per_connection")
        ),
        "{refused}"
    );
    // Bad subscriptions name their fields; the stream stays open.
    send(
        &mut first,
        json!({"type": "subscribe", "id": "s0", "channel": "quotes", "account_id": "nope"}),
    )
    .await;
    let refused = next(&mut first).await.unwrap();
    assert_eq!(refused["code"], "validation_failed", "{refused}");
    let fields: Vec<&str> = refused["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "channel", "account_id"], "{refused}");
    send(&mut first, json!({"type": "unsubscribe", "id": "s1"})).await;
    assert_eq!(next(&mut first).await.unwrap()["type"], "unsubscribed");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithm_runs_reach_the_runs_channel() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account) = app.trader(10001).await;
    let mut ws = ready_stream(&app, &t).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "r", "channel": "runs", "account_id": account}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    let (s, b) = app
        .post(
            routes::EXECUTE,
            &t,
            json!({"account_id": account, "algorithm_id": "ma_crossover",
                   "parameters": {"symbol": "EURUSD"}, "dry_run": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, run) = app
        .get(
            &format!("/api/v1/algorithms/runs/{}", b["run_id"].as_str().unwrap()),
            &t,
        )
        .await;
    // Started (`running`, unless it was done when read), then done: as the runs route shows it.
    loop {
        let event = next(&mut ws).await.unwrap();
        assert_eq!(
            (&event["type"], &event["channel"], &event["id"]),
            (&json!("event"), &json!("runs"), &json!("r")),
            "{event}"
        );
        assert_eq!(event["data"]["id"], b["run_id"]);
        if event["data"]["status"] == "done" {
            assert_eq!(event["data"], run["run"]);
            break;
        }
        assert_eq!(event["data"]["status"], "running", "{event}");
    }
    app.shutdown().await;
}

/// A connection that upgrades without a token and sends nothing is closed after 10 s (4001).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_connection_is_closed_after_ten_seconds() {
    let app = common::spawn(common::Db::Sqlite).await;
    let mut ws = open(&app, None).await.unwrap();
    let started = std::time::Instant::now();
    let refused = next(&mut ws).await;
    assert_eq!(
        refused.as_ref().map(|r| r["code"].clone()),
        Some(json!("unauthorized")),
        "{refused:?}"
    );
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Library(4001)));
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "closed after {:?}",
        started.elapsed()
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_and_account_come_whole_on_subscribe_and_after_each_order() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account) = app.trader(10001).await;
    let mut ws = ready_stream(&app, &t).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "p", "channel": "positions"}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "subscribed", "id": "p", "account_id": account})
    );
    let first = next(&mut ws).await.unwrap();
    assert_eq!(
        (&first["type"], &first["channel"], &first["data"]),
        (
            &json!("event"),
            &json!("positions"),
            &json!({"positions": []})
        ),
        "{first}"
    );
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "a", "channel": "account"}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    let info = next(&mut ws).await.unwrap();
    assert_eq!(info["channel"], "account", "{info}");
    assert_eq!(info["data"]["account_id"], json!(account));
    assert_eq!(info["data"]["login"], 10001);

    let (s, placed) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{placed}");
    let (_, positions) = app.get("/api/v1/positions", &t).await;
    let mut got_positions = None;
    let mut got_account = None;
    while got_positions.is_none() || got_account.is_none() {
        let e = next(&mut ws).await.unwrap();
        assert_eq!(e["type"], "event", "{e}");
        match e["channel"].as_str() {
            Some("positions") => got_positions = Some(e["data"].clone()),
            Some("account") => got_account = Some(e["data"].clone()),
            other => panic!("{other:?}: {e}"),
        }
    }
    let got = got_positions.unwrap();
    assert_eq!(got["positions"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(
        got["positions"][0]["ticket"],
        positions["positions"][0]["ticket"]
    );
    assert_eq!(got_account.unwrap()["account_id"], json!(account));
    app.shutdown().await;
}

/// Between the account's own orders, `positions` follows what changes at the broker (here the
/// price, and so the profit) by reading again every STREAM_POLL_MS from the idle terminal already
/// on the account; each event differs from the one before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positions_follow_the_market_between_orders() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("STREAM_POLL_MS", "100".into());
    })
    .await;
    let (t, _) = app.trader(10001).await;
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let logins = app.state.pool.logins();
    let mut ws = ready_stream(&app, &t).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "p", "channel": "positions"}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    let mut seen: Vec<Value> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < 3 && std::time::Instant::now() < deadline {
        let e = next(&mut ws).await.unwrap();
        assert_eq!(e["channel"], "positions", "{e}");
        seen.push(e["data"].clone());
    }
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] != w[1]),
        "an unchanged body was sent again"
    );
    assert!(seen
        .iter()
        .all(|d| d["positions"].as_array().unwrap().len() == 1));
    assert_eq!(app.state.pool.logins(), logins, "polls never log in");
    app.shutdown().await;
}

/// A change that names a user but another user's row (a forged relay message, a bug in a
/// publisher) shows that user nothing: the stream reads the row as its own user, and the store
/// does not give it.
async fn forged_changes_show_nothing(db: common::Db) {
    use mt5_bridge::events::{Change, Kind};
    if db == common::Db::Postgres && common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    let app = common::spawn(db).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (ta, tb) = (app.token(alice), app.token(bob));
    app.connect(&ta, 10001, "Sim-10001!", "Sim-Demo", "alice")
        .await;
    let bobs = app
        .connect(&tb, 10002, "Sim-10002!", "Sim-Demo", "bob")
        .await;
    let mut ws = ready_stream(&app, &ta).await;
    for (id, channel) in [("o", "orders"), ("r", "runs"), ("p", "positions")] {
        send(
            &mut ws,
            json!({"type": "subscribe", "id": id, "channel": channel}),
        )
        .await;
        assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
        if channel == "positions" {
            assert_eq!(next(&mut ws).await.unwrap()["channel"], "positions");
        }
    }
    let (s, _) = app
        .post(
            routes::ORDERS,
            &tb,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, run) = app
        .post(
            routes::EXECUTE,
            &tb,
            json!({"account_id": bobs, "algorithm_id": "ma_crossover",
                   "parameters": {"symbol": "EURUSD"}, "dry_run": true}),
        )
        .await;
    assert_eq!(s, 200, "{run}");
    let (_, journal) = app.get("/api/v1/journal", &tb).await;
    let entry = Uuid::parse_str(journal["entries"][0]["id"].as_str().unwrap()).unwrap();
    let run_id = Uuid::parse_str(run["run_id"].as_str().unwrap()).unwrap();
    for (kind, id) in [(Kind::Journal, entry), (Kind::Run, run_id)] {
        app.state.events.deliver(Change {
            user_id: alice,
            kind,
            id,
        });
    }
    let quiet = tokio::time::timeout(Duration::from_millis(500), ws.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "Alice saw Bob's row: {quiet:?}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_changes_show_nothing_sqlite() {
    forged_changes_show_nothing(common::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_changes_show_nothing_postgres() {
    forged_changes_show_nothing(common::Db::Postgres).await;
}

/// Upgrades fired at once by one user still open at most STREAM_MAX_CONNECTIONS_PER_USER streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_upgrades_keep_the_stream_limit() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("STREAM_MAX_CONNECTIONS_PER_USER", "2".into());
    })
    .await;
    let t = app.token(Uuid::new_v4());
    let attempts = (0..12).map(|_| open(&app, Some(&t)));
    let results = futures_util::future::join_all(attempts).await;
    let (opened, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    assert_eq!(opened.len(), 2, "streams opened at once");
    for r in refused {
        match r {
            Err(WsError::Http(resp)) => assert_eq!(resp.status(), 429),
            Err(other) => panic!("{other}"),
            Ok(_) => unreachable!(),
        }
    }
    app.shutdown().await;
}

/// `ticks` reads quotes only from a terminal already logged in to an account of that server:
/// with none, the subscription hears `waiting_for_terminal`; once a request logs a terminal in
/// there, ticks flow, each with the tick route's fields and times, never faster than every 250 ms
/// per symbol. The reads never log in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_wait_for_a_terminal_on_the_server_then_flow() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", "sim:1".into());
    })
    .await;
    let (t, sim_demo) = app.trader(10001).await;
    // The only terminal moves to another server.
    app.connect(&t, 5042856355, "V!QzRxQ7", "MetaQuotes-Demo", "b")
        .await;
    let logins = app.state.pool.logins();
    let mut ws = ready_stream(&app, &t).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "q", "channel": "ticks", "account_id": sim_demo,
               "symbols": ["EURUSD", "GBPUSD", "EURUSD"]}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "subscribed", "id": "q", "account_id": sim_demo})
    );
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "status", "id": "q", "state": "waiting_for_terminal"})
    );
    // Said once per wait, not once per symbol or per round.
    let quiet = tokio::time::timeout(Duration::from_millis(800), ws.next()).await;
    assert!(
        !matches!(quiet, Ok(Some(Ok(Message::Text(_))))),
        "{quiet:?}"
    );
    assert_eq!(app.state.pool.logins(), logins, "tick reads never log in");

    // A request on the Sim-Demo account puts the terminal there.
    let status = app
        .client
        .get(format!("{}/api/v1/account", app.base))
        .bearer_auth(&t)
        .header("X-Account-Id", &sim_demo)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let mut times: std::collections::HashMap<String, Vec<(std::time::Instant, Value)>> =
        Default::default();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut last_seq = 0;
    while std::time::Instant::now() < deadline {
        let e = next(&mut ws).await.unwrap();
        // One sequence per connection: the first event is 1, then one more each.
        assert_eq!(e["seq"], last_seq + 1, "{e}");
        last_seq += 1;
        assert_eq!(
            (&e["type"], &e["id"], &e["channel"], &e["account_id"]),
            (
                &json!("event"),
                &json!("q"),
                &json!("ticks"),
                &json!(sim_demo)
            ),
            "{e}"
        );
        let data = e["data"].as_object().unwrap();
        let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["ask", "bid", "last", "symbol", "time", "time_msc"]);
        let (bid, ask) = (data["bid"].as_f64().unwrap(), data["ask"].as_f64().unwrap());
        assert!(0.0 < bid && bid < ask, "{e}");
        for field in ["time", "time_msc"] {
            let text = data[field].as_str().unwrap();
            assert!(
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "{field}: {text}"
            );
        }
        let symbol = data["symbol"].as_str().unwrap().to_string();
        times
            .entry(symbol)
            .or_default()
            .push((std::time::Instant::now(), e["data"].clone()));
    }
    let mut symbols: Vec<&String> = times.keys().collect();
    symbols.sort();
    assert_eq!(
        symbols,
        ["EURUSD", "GBPUSD"],
        "each symbol once, deduplicated"
    );
    for (symbol, seen) in &times {
        // 3 s at one read per 250 ms: at most 12 rounds (13 with the edges).
        assert!(seen.len() <= 13, "{symbol}: {} ticks in 3 s", seen.len());
        assert!(
            seen.windows(2).all(|w| w[0].1 != w[1].1),
            "{symbol}: an unchanged tick was sent again"
        );
    }
    // The same quote as the tick route gives (both read from the same account now).
    let tick: Value = app
        .client
        .get(format!("{}/api/v1/symbols/EURUSD/tick", app.base))
        .bearer_auth(&t)
        .header("X-Account-Id", &sim_demo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = &times["EURUSD"].last().unwrap().1;
    assert!(
        (last["bid"].as_f64().unwrap() - tick["bid"].as_f64().unwrap()).abs() < 0.01,
        "{last} vs {tick}"
    );

    let (_, _, metrics) = app
        .call_full(Method::GET, "/metrics", Some(common::METRICS_TOKEN), None)
        .await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains("mt5b_stream_events_total{channel=\"ticks\"} "),
        "{text}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tick_subscriptions_are_checked() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, other) = (app.token(Uuid::new_v4()), app.token(Uuid::new_v4()));
    let account = app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    let mut ws = ready_stream(&app, &t).await;
    let refused = |v: &Value| {
        assert_eq!(v["type"], "error", "{v}");
        let mut fields: Vec<String> = v["details"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap().to_string())
            .collect();
        fields.sort();
        (v["code"].as_str().unwrap().to_string(), fields)
    };
    for (body, field) in [
        (json!({"channel": "ticks"}), "symbols"),
        (json!({"channel": "ticks", "symbols": []}), "symbols"),
        (json!({"channel": "ticks", "symbols": "EURUSD"}), "symbols"),
        (
            json!({"channel": "ticks", "symbols": ["EURUSD", "EUR USD"]}),
            "symbols[1]",
        ),
        (json!({"channel": "ticks", "symbols": [7]}), "symbols[0]"),
        (
            json!({"channel": "ticks", "symbols": vec!["EURUSD"; 51]}),
            "symbols",
        ),
        (
            json!({"channel": "orders", "symbols": ["EURUSD"]}),
            "symbols",
        ),
    ] {
        let mut msg = body.clone();
        msg["type"] = json!("subscribe");
        msg["id"] = json!("s");
        send(&mut ws, msg).await;
        let answer = next(&mut ws).await.unwrap();
        assert_eq!(
            refused(&answer),
            ("validation_failed".to_string(), vec![field.to_string()]),
            "{body}: {answer}"
        );
        assert_eq!(answer["id"], "s");
    }
    // Another user cannot watch quotes through this account.
    let mut theirs = ready_stream(&app, &other).await;
    send(
        &mut theirs,
        json!({"type": "subscribe", "id": "x", "channel": "ticks", "account_id": account,
               "symbols": ["EURUSD"]}),
    )
    .await;
    assert_eq!(
        next(&mut theirs).await.unwrap()["code"],
        "account_not_found"
    );

    // A symbol the server does not have is named once, then left out; the others go on.
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "t", "channel": "ticks", "symbols": ["NOSUCH", "EURUSD"]}),
    )
    .await;
    assert_eq!(next(&mut ws).await.unwrap()["type"], "subscribed");
    let mut missing = 0;
    let mut ticks = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        let m = next(&mut ws).await.unwrap();
        match m["type"].as_str() {
            Some("error") => {
                missing += 1;
                assert_eq!(
                    (&m["id"], &m["code"], &m["details"]),
                    (
                        &json!("t"),
                        &json!("symbol_not_found"),
                        &json!({"symbol": "NOSUCH"})
                    ),
                    "{m}"
                );
            }
            Some("event") => {
                ticks += 1;
                assert_eq!(m["data"]["symbol"], "EURUSD", "{m}");
            }
            _ => panic!("{m}"),
        }
    }
    assert_eq!(missing, 1);
    assert!(ticks >= 1);
    app.shutdown().await;
}

/// A client that stops reading is closed with 4008 `slow_consumer` once STREAM_BUFFER messages
/// wait for it, and slows nobody meanwhile: the same user's other stream still gets its order's
/// event, and the order route still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_and_slows_nobody() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("STREAM_BUFFER", "8".into());
    })
    .await;
    let (t, account) = app.trader(10001).await;

    // A socket with a small receive buffer, so that not reading soon backs up to the server.
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    let mut req = stream_url(&app).into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {t}").parse().unwrap());
    let (mut slow, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp))
        .await
        .unwrap();
    assert_eq!(next(&mut slow).await.unwrap()["type"], "ready");
    let symbols = ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "EURJPY", "XAUUSD"];
    for i in 0..50 {
        send(
            &mut slow,
            json!({"type": "subscribe", "id": format!("t{i}"), "channel": "ticks", "symbols": symbols}),
        )
        .await;
    }
    let mut subscribed = 0;
    while subscribed < 50 {
        let m = next(&mut slow).await.unwrap();
        match m["type"].as_str() {
            Some("subscribed") => subscribed += 1,
            Some("event") => {}
            _ => panic!("{m}"),
        }
    }

    let mut fast = ready_stream(&app, &t).await;
    send(
        &mut fast,
        json!({"type": "subscribe", "id": "o", "channel": "orders"}),
    )
    .await;
    assert_eq!(next(&mut fast).await.unwrap()["type"], "subscribed");

    // `slow` reads nothing now. The server gives up on it.
    let closed = |app: &TestApp| {
        let app_base = app.base.clone();
        let client = app.client.clone();
        async move {
            let text = client
                .get(format!("{app_base}/metrics"))
                .bearer_auth(common::METRICS_TOKEN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("mt5b_stream_slow_consumer_total "))
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while closed(&app).await == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "a client 20 s behind was not closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Nobody else waited for it.
    let (s, placed) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{placed}");
    let event = next(&mut fast).await.unwrap();
    assert_eq!(
        (&event["channel"], &event["account_id"]),
        (&json!("orders"), &json!(account)),
        "{event}"
    );

    // What was queued, then the close that says why.
    assert_eq!(close_code(&mut slow).await, Some(CloseCode::Library(4008)));
    app.shutdown().await;
}

/// An idle stream is pinged every 20 s (proxies keep it open; a dead client is found).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_is_pinged_every_twenty_seconds() {
    let app = common::spawn(common::Db::Sqlite).await;
    let t = app.token(Uuid::new_v4());
    let mut ws = ready_stream(&app, &t).await;
    let opened = std::time::Instant::now();
    let ping = tokio::time::timeout(Duration::from_secs(25), async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => return std::time::Instant::now(),
                Some(Ok(Message::Text(t))) => panic!("unexpected {t}"),
                Some(Ok(_)) => continue,
                other => panic!("the stream ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a ping within 25 s");
    let after = ping.duration_since(opened);
    assert!(
        after >= Duration::from_secs(19),
        "pinged after {after:?}, not every 20 s"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backtest_progress_reaches_its_user_on_every_account_and_nobody_else() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (ta, tb) = (app.token(alice), app.token(bob));
    let first = app
        .connect(&ta, 10001, "Sim-10001!", "Sim-Demo", "first")
        .await;
    let second = app
        .connect(&ta, 10003, "Sim-10003!", "Sim-Demo", "second")
        .await;
    app.connect(&tb, 10002, "Sim-10002!", "Sim-Demo", "bob")
        .await;
    let mut ws = ready_stream(&app, &ta).await;
    // Without an account: every account of the user's.
    send(
        &mut ws,
        json!({"type": "subscribe", "id": "b", "channel": "backtests"}),
    )
    .await;
    assert_eq!(
        next(&mut ws).await.unwrap(),
        json!({"type": "subscribed", "id": "b"})
    );
    let mut theirs = ready_stream(&app, &tb).await;
    send(
        &mut theirs,
        json!({"type": "subscribe", "id": "b", "channel": "backtests"}),
    )
    .await;
    assert_eq!(next(&mut theirs).await.unwrap()["type"], "subscribed");

    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut ids = Vec::new();
    for account in [&first, &second] {
        let (s, b) = app
            .post(
                routes::BACKTESTS,
                &ta,
                json!({"account_id": account, "algorithm_id": "ma_crossover",
                       "parameters": {"symbol": "EURUSD", "timeframe": "H1"},
                       "from": now - 10 * 86_400, "to": now}),
            )
            .await;
        assert_eq!(s, 202, "{b}");
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    // Each backtest's events, in order of its statuses, until both are done.
    let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
    while ids
        .iter()
        .any(|id| seen.get(id).and_then(|s| s.last()).map(String::as_str) != Some("done"))
    {
        let e = next(&mut ws).await.unwrap();
        assert_eq!(
            (&e["type"], &e["channel"], &e["id"]),
            (&json!("event"), &json!("backtests"), &json!("b")),
            "{e}"
        );
        let id = e["data"]["id"].as_str().unwrap().to_string();
        assert!(ids.contains(&id), "{e}");
        assert_eq!(e["account_id"], e["data"]["account_id"]);
        seen.entry(id)
            .or_default()
            .push(e["data"]["status"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let statuses = &seen[id];
        // Queued, unless a worker took it before the stream read it.
        assert!(
            ["queued", "running"].contains(&statuses[0].as_str()),
            "{statuses:?}"
        );
        assert_eq!(
            statuses.last().map(String::as_str),
            Some("done"),
            "{statuses:?}"
        );
    }
    // Bob's stream heard nothing of them.
    let quiet = tokio::time::timeout(Duration::from_millis(500), theirs.next()).await;
    assert!(quiet.is_err(), "{quiet:?}");
    app.shutdown().await;
}
