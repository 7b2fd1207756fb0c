//! Streams across two replicas (one Postgres database, one Redis, one simulated broker state):
//! streams per user are counted across replicas and freed when a replica dies, a deleted account
//! ends its subscriptions on the other replica, one user's burst on one replica does not cost
//! another user's changes on their way to the other, and without Redis a stream is not opened.

use crate::common;
use crate::common::procs::{free_port, start_serve, Proc, RedisServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A stream on `base`, signed in on the upgrade; the refusal's status and body otherwise.
async fn stream(base: &str, token: &str) -> Result<Ws, (u16, Value)> {
    let mut req = format!("{}/api/v1/stream", base.replacen("http://", "ws://", 1))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, _)) => {
            let m = next(&mut ws, 10).await.expect("ready");
            assert_eq!(m["type"], "ready", "{m}");
            Ok(ws)
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("{e}"),
    }
}

async fn next(ws: &mut Ws, secs: u64) -> Option<Value> {
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

async fn api(
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn connect(base: &str, token: &str, login: u64) -> String {
    let (s, b) = api(
        base,
        reqwest::Method::POST,
        "/api/v1/accounts/connect",
        token,
        Some(json!({"account_name": "Main", "login": login.to_string(),
                    "password": format!("Sim-{login}!"), "server": "Sim-Demo"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    b["account_id"].as_str().unwrap().to_string()
}

struct Replicas {
    one: Proc,
    two: Proc,
    redis: RedisServer,
    _pg: common::postgres_db::TestDatabase,
}

async fn replicas(dir: &Path) -> Option<Replicas> {
    let Some(admin) = common::postgres_url() else {
        common::skip::postgres_skipped();
        return None;
    };
    let pg = common::postgres_db::fresh_postgres_database(&admin)
        .await
        .unwrap();
    let redis = RedisServer::start(dir).await;
    let key = mt5_bridge::vault::CredentialKey::generate("h1").to_base64();
    let env = |n: usize| {
        vec![
            (
                "DATA_DIR",
                dir.join(format!("replica-{n}")).display().to_string(),
            ),
            ("DATABASE_URL", pg.url.clone()),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            (
                "CREDENTIALS_KEY",
                secrecy::ExposeSecret::expose_secret(&key).to_string(),
            ),
            ("CREDENTIALS_KEY_ID", "h1".to_string()),
            ("TERMINALS", "sim:2".to_string()),
            ("MT5_SIM_STATE", dir.join("broker.db").display().to_string()),
            ("REDIS_URL", redis.url()),
            ("REFUSAL_LIMIT_PER_HOUR", "100000".to_string()),
            ("TRADE_LIMIT_PER_HOUR", "100000".to_string()),
            ("RUST_LOG", "warn".to_string()),
        ]
    };
    let one = start_serve(free_port(), &env(1), &dir.join("replica-1.log")).await;
    let two = start_serve(free_port(), &env(2), &dir.join("replica-2.log")).await;
    Some(Replicas {
        one,
        two,
        redis,
        _pg: pg,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_counted_ended_and_fed_across_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut r) = replicas(dir.path()).await else {
        return;
    };
    let (one, two) = (r.one.url.clone(), r.two.url.clone());

    // A deleted account's subscriptions end on the other replica within 2 s, and nothing follows.
    let v = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let account = connect(&one, &v, 10001).await;
    let mut vs = stream(&two, &v).await.unwrap();
    vs.send(Message::text(
        json!({"type": "subscribe", "id": "o", "channel": "orders", "account_id": account})
            .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut vs, 10).await.unwrap()["type"], "subscribed");
    let (s, b) = api(
        &one,
        reqwest::Method::DELETE,
        &format!("/api/v1/accounts/{account}"),
        &v,
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let m = next(&mut vs, 2).await.expect("the error within 2 s");
    assert_eq!(
        (&m["type"], &m["id"], &m["code"]),
        (&json!("error"), &json!("o"), &json!("account_not_found")),
        "{m}"
    );
    assert_eq!(next(&mut vs, 1).await, None, "nothing after the error");

    // B's every change made on replica 1 during A's flood there reaches B's stream on replica 2.
    let a = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let a_account = connect(&one, &a, 10002).await;
    let (s, _) = api(
        &one,
        reqwest::Method::PUT,
        &format!("/api/v1/accounts/{a_account}"),
        &a,
        Some(json!({"risk_limits": {"trading_enabled": false}})),
    )
    .await;
    assert_eq!(s, 200);
    let b = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let b_account = connect(&one, &b, 10003).await;
    let mut bs = stream(&two, &b).await.unwrap();
    bs.send(Message::text(
        json!({"type": "subscribe", "id": "o", "channel": "orders", "account_id": b_account})
            .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next(&mut bs, 10).await.unwrap()["type"], "subscribed");
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (one, a) = (one.clone(), a.clone());
            tokio::spawn(async move {
                for _ in 0..400 {
                    let (s, _) = api(
                        &one,
                        reqwest::Method::POST,
                        "/api/v1/orders",
                        &a,
                        Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
                    )
                    .await;
                    assert_eq!(s, 403);
                }
            })
        })
        .collect();
    let mut b_entries = BTreeSet::new();
    for _ in 0..20 {
        let (s, body) = api(
            &one,
            reqwest::Method::POST,
            "/api/v1/orders",
            &b,
            Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    for f in flood {
        f.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while b_entries.len() < 20 {
        assert!(
            Instant::now() < deadline,
            "B heard {} of 20 orders",
            b_entries.len()
        );
        let m = next(&mut bs, 20).await.expect("B's stream stays open");
        if m["type"] == "event" && m["data"]["status"] == "done" {
            b_entries.insert(m["data"]["id"].as_str().unwrap().to_string());
        }
    }

    // Five streams of one user on replica 1: the sixth, on replica 2, is refused.
    let u = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(stream(&one, &u).await.unwrap());
    }
    let Err((status, body)) = stream(&two, &u).await else {
        panic!("a sixth stream is refused");
    };
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["details"]["scope"], "streams_per_user");

    // Replica 1 dies with them open: within 30 s the user opens five on replica 2.
    r.one.kill();
    let killed = Instant::now();
    let mut on_two = Vec::new();
    while on_two.len() < 5 {
        assert!(
            killed.elapsed() < Duration::from_secs(32),
            "a dead replica's streams still count after {:?}",
            killed.elapsed()
        );
        match stream(&two, &u).await {
            Ok(ws) => on_two.push(ws),
            Err((429, _)) => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(other) => panic!("{other:?}"),
        }
    }
    drop(held);

    // Redis away: a stream cannot be counted, so it is not opened.
    r.redis.stop();
    let other = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let Err((status, body)) = stream(&two, &other).await else {
        panic!("refused without Redis");
    };
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "redis_unavailable");
    drop(r.two);
}
