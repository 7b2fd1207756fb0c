//! Streams against each other: a user's flood of changes neither closes nor wakes other users'
//! streams, a client that stops reading is cut off and its place given back, a deleted account
//! ends its subscriptions, and a changed password is the one later reads use.

use crate::common::{self, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn stream_url(app: &TestApp) -> String {
    format!("{}/api/v1/stream", app.base.replacen("http://", "ws://", 1))
}

async fn open(app: &TestApp, token: &str) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = stream_url(app).into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next JSON message within `secs` (pings skipped); None when the stream closed or nothing
/// came.
async fn next_within(ws: &mut Ws, secs: u64) -> Option<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await.ok()?? {
            Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn ready(app: &TestApp, token: &str) -> Ws {
    let mut ws = open(app, token).await.unwrap();
    let m = next_within(&mut ws, 10).await.unwrap();
    assert_eq!(m["type"], "ready", "{m}");
    ws
}

async fn subscribe(ws: &mut Ws, sub: Value) -> Value {
    ws.send(Message::text(sub.to_string())).await.unwrap();
    loop {
        let m = next_within(ws, 30).await.expect("an answer to subscribe");
        if m["type"] != "event" {
            return m;
        }
    }
}

async fn metric(app: &TestApp, name: &str) -> u64 {
    let mut rb = app.client.get(format!("{}/metrics", app.base));
    if let Some(t) = app.env.get("METRICS_TOKEN") {
        rb = rb.bearer_auth(t);
    }
    let text = rb.send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .unwrap_or(0)
}

/// A client that stops reading entirely: one send waits 5 s, then the socket is dropped and the
/// user's place given back (no 4008: it could not be received).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_and_its_place_given_back() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("STREAM_MAX_CONNECTIONS_PER_USER", "1".into());
        // The queue never fills: only the send timeout can end this connection.
        env.insert("STREAM_BUFFER", "1000000".into());
        env.insert("METRICS_TOKEN", "metrics-token-for-tests".into());
    })
    .await;
    let t = app.token(Uuid::new_v4());
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
    assert_eq!(next_within(&mut slow, 10).await.unwrap()["type"], "ready");
    // The only stream this user may have.
    assert!(open(&app, &t).await.is_err(), "a second stream is refused");

    // Thousands of answers it never reads: megabytes backed up to the server.
    let long_id = "x".repeat(120);
    let flood =
        json!({"type": "subscribe", "id": long_id, "channel": "nope", "junk": 1}).to_string();
    let (mut sink, _never_read) = slow.split();
    for _ in 0..20_000 {
        if sink.send(Message::text(flood.clone())).await.is_err() {
            break;
        }
    }
    let stopped = Instant::now();
    let mut reopened = None;
    while stopped.elapsed() < Duration::from_secs(15) {
        if let Ok(ws) = open(&app, &t).await {
            reopened = Some((stopped.elapsed(), ws));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (after, _ws) = reopened.expect("the place of a client that stopped reading is given back");
    assert!(
        after <= Duration::from_secs(7),
        "the place came back only after {after:?} (one send's 5 s + 1 s)"
    );
    assert!(metric(&app, "mt5b_stream_slow_consumer_total").await >= 1);
    app.shutdown().await;
}

/// User A's burst of refused orders: B's stream, busy for seconds on a read that waits for the
/// terminal, is not closed when it comes back (it never saw A's changes), and none of 1,000 idle
/// streams of 200 other users reads one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_s_flood_neither_closes_nor_wakes_other_users_streams() {
    let mut sim = common::sim_config();
    sim.order_latency_ms = 12_000;
    // D's order must outlast A's flood, not time out.
    let app = common::spawn_with(common::Db::Sqlite, sim, |env| {
        env.insert("TERMINALS", "sim:1".into());
        env.insert("TERMINAL_TIMEOUT_MS", "30000".into());
        env.insert("METRICS_TOKEN", "metrics-token-for-tests".into());
    })
    .await;
    let (a, a_account) = app.trader(10001).await;
    let (b, b_account) = app.trader(10002).await;
    let (d, _) = app.trader(10003).await;
    let (s, body) = app
        .put(
            &format!("/api/v1/accounts/{a_account}"),
            &a,
            json!({"risk_limits": {"trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    let mut idle = Vec::new();
    for _ in 0..200 {
        let t = app.token(Uuid::new_v4());
        for _ in 0..5 {
            idle.push(ready(&app, &t).await);
        }
    }
    let mut bs = ready(&app, &b).await;
    let sub = subscribe(
        &mut bs,
        json!({"type": "subscribe", "id": "o", "channel": "orders"}),
    )
    .await;
    assert_eq!(sub["type"], "subscribed", "{sub}");

    // D's order holds the only terminal for 12 s; B's positions subscription waits behind it.
    let d_order = {
        let app_base = app.base.clone();
        let client = app.client.clone();
        tokio::spawn(async move {
            client
                .post(format!("{app_base}/api/v1/orders"))
                .bearer_auth(&d)
                .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    bs.send(Message::text(
        json!({"type": "subscribe", "id": "p", "channel": "positions"}).to_string(),
    ))
    .await
    .unwrap();

    let read_before = metric(&app, "mt5b_stream_changes_read_total").await;
    // A's burst: every order refused by the kill switch, journaled and published.
    let flood_started = Instant::now();
    let refused = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, a, refused) = (
                app.client.clone(),
                format!("{}/api/v1/orders", app.base),
                a.clone(),
                refused.clone(),
            );
            tokio::spawn(async move {
                for _ in 0..625 {
                    let r = client
                        .post(&url)
                        .bearer_auth(&a)
                        .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 403);
                    refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let flood = flood_started.elapsed();
    assert_eq!(refused.load(std::sync::atomic::Ordering::Relaxed), 5_000);
    assert_eq!(
        metric(&app, "mt5b_stream_changes_read_total").await,
        read_before,
        "another user's changes were read by streams that are not theirs"
    );
    assert_eq!(d_order.await.unwrap(), 200);

    // B's stream comes back from its wait open, with its snapshot, and hears B's next order.
    let mut got_snapshot = false;
    while !got_snapshot {
        let m = next_within(&mut bs, 30)
            .await
            .unwrap_or_else(|| panic!("B's stream was closed by A's flood ({flood:?})"));
        got_snapshot = m["type"] == "event" && m["channel"] == "positions";
        assert_ne!(m["type"], "error", "{m}");
    }
    let (s, body) = app
        .post(
            "/api/v1/orders",
            &b,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let mut heard = false;
    while !heard {
        let m = next_within(&mut bs, 30).await.expect("B's order event");
        heard = m["channel"] == "orders" && m["account_id"] == json!(b_account);
    }
    assert!(metric(&app, "mt5b_stream_changes_read_total").await > read_before);
    assert_eq!(metric(&app, "mt5b_stream_slow_consumer_total").await, 0);
    drop(idle);
    app.shutdown().await;
}

/// Deleting an account ends every subscription on it with `account_not_found`, and nothing comes
/// after; a new password is what the subscriptions on the account go on with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_ends_its_subscriptions_and_a_new_password_is_used() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account) = app.trader(10001).await;
    let other = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "Second")
        .await;
    let mut ws = ready(&app, &t).await;
    for (id, channel, on) in [
        ("o1", "orders", &account),
        ("p1", "positions", &account),
        ("o2", "orders", &other),
        ("p2", "positions", &other),
    ] {
        let m = subscribe(
            &mut ws,
            json!({"type": "subscribe", "id": id, "channel": channel, "account_id": on}),
        )
        .await;
        assert_eq!(m["type"], "subscribed", "{m}");
    }
    let m = subscribe(
        &mut ws,
        json!({"type": "subscribe", "id": "t1", "channel": "ticks", "account_id": account, "symbols": ["EURUSD"]}),
    )
    .await;
    assert_eq!(m["type"], "subscribed", "{m}");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A new password, set at the broker and then here: the subscriptions made before it go on
    // with it, never with the old one.
    let key = mt5::AccountKey::new(10002, "Sim-Demo");
    assert!(app
        .broker
        .set_password(&key, secrecy::SecretString::from("New-10002!")));
    let (s, body) = app
        .put(
            &format!("/api/v1/accounts/{other}"),
            &t,
            json!({"password": "New-10002!"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let changed_at = app.broker.clock().now_ms();
    let placed = app
        .client
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(&t)
        .header("X-Account-Id", &other)
        .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status().as_u16(), 200);
    // After the order, the positions of the other account are read again, as the new password.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut positions_of_other = false;
    while Instant::now() < deadline && !positions_of_other {
        if let Some(m) = next_within(&mut ws, 2).await {
            assert_ne!(m["type"], "error", "{m}");
            positions_of_other = m["id"] == "p2" && m["type"] == "event";
        }
    }
    assert!(
        positions_of_other,
        "the subscription went on after the password change"
    );
    let audit = app.broker.audit().await.unwrap();
    assert!(
        !audit
            .iter()
            .any(|r| r.login == 10002 && r.operation == "login_failed" && r.utc_ms >= changed_at),
        "a read tried the old password after the change"
    );

    // Delete the first account: each of its subscriptions ends with account_not_found.
    let (s, body) = app.delete(&format!("/api/v1/accounts/{account}"), &t).await;
    assert_eq!(s, 200, "{body}");
    let mut ended = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while ended.len() < 3 {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            .max(1);
        let m = next_within(&mut ws, left).await.expect("within 2 s");
        if m["type"] == "error" {
            assert_eq!(m["code"], "account_not_found", "{m}");
            ended.insert(m["id"].as_str().unwrap().to_string());
        } else {
            assert!(
                m["id"] != "o1" && m["id"] != "p1" && m["id"] != "t1" || Instant::now() < deadline,
                "{m}"
            );
        }
    }
    assert_eq!(
        ended.into_iter().collect::<Vec<_>>(),
        ["o1", "p1", "t1"],
        "every subscription on the deleted account, and only those"
    );
    // Nothing of the deleted account's comes after.
    let quiet_until = Instant::now() + Duration::from_millis(1_500);
    while Instant::now() < quiet_until {
        if let Some(m) = next_within(&mut ws, 1).await {
            assert!(
                m["account_id"] != json!(account),
                "an event of the deleted account after its error: {m}"
            );
        }
    }
    app.shutdown().await;
}
