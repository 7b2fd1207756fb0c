//! Orders in doubt settle in seconds through the agent's ledger (protocol v3): `serve` killed
//! (SIGKILL) before the agent received the order, while the order is at the agent, and after the
//! agent answered; each time the restarted service, with the default deadline (30 s) and grace
//! period (60 s), settles the entry within 5 s of its restart (counted from the process's start),
//! and the order runs at most once.
//! A v2 agent (no ledger) is reconciled as before.
//!
//! A test double between `serve` and the `sim-agent` holds an `order_send` request (not delivered:
//! the agent never received it) or its answer (the agent ran it; `serve` never heard), or poses as
//! a v2 agent.

use crate::common;
use crate::in_doubt::{connect, get, place, positions};

use common::procs::{free_port, start_agent_with, start_serve, wait_status, Proc, AGENT_TOKEN};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// What the double does with an `order_send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    /// Passes it on.
    Nothing,
    /// Keeps the request: the agent never receives it (the double can deliver it later).
    Request,
    /// Passes it on and keeps the answer: the agent ran it, the caller never hears.
    Answer,
}

struct Double {
    agent: String,
    hold: Mutex<Hold>,
    /// Poses as a v2 agent: health says version 2 without a ledger; `ledger` is unknown.
    v2: bool,
    held_request: Mutex<Option<Value>>,
    held_answer: Mutex<Option<Value>>,
    /// Orders passed on to the agent (counted before they leave).
    orders_in: AtomicUsize,
    ledger_calls: AtomicUsize,
}

/// Starts the double in front of the agent at `agent`; its port.
async fn start_double(agent: &str, hold: Hold, v2: bool) -> (u16, Arc<Double>) {
    let double = Arc::new(Double {
        agent: agent.to_string(),
        hold: Mutex::new(hold),
        v2,
        held_request: Mutex::new(None),
        held_answer: Mutex::new(None),
        orders_in: AtomicUsize::new(0),
        ledger_calls: AtomicUsize::new(0),
    });
    let d = double.clone();
    let app = axum::Router::new().fallback(
        move |method: axum::http::Method,
              uri: axum::http::Uri,
              headers: axum::http::HeaderMap,
              body: axum::body::Bytes| {
            let d = d.clone();
            async move { relay(&d, method, uri.path(), headers, body).await }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, double)
}

async fn relay(
    d: &Double,
    method: axum::http::Method,
    path: &str,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    use axum::http::StatusCode;
    if path == "/v1/call/ledger" {
        d.ledger_calls.fetch_add(1, Ordering::SeqCst);
        if d.v2 {
            let e = json!({"error": {"code": "unknown_operation", "message": "unknown operation 'ledger'",
                                     "last_error": null, "actual": null}});
            return (StatusCode::NOT_FOUND, axum::Json(e));
        }
    }
    let order = path == "/v1/call/order_send";
    let hold = *d.hold.lock().unwrap();
    if order && hold == Hold::Request {
        *d.held_request.lock().unwrap() = serde_json::from_slice(&body).ok();
        std::future::pending::<()>().await;
    }
    if order {
        d.orders_in.fetch_add(1, Ordering::SeqCst);
    }
    let mut rb = reqwest::Client::new().request(
        reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap(),
        format!("{}{path}", d.agent),
    );
    if let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) {
        rb = rb.header("authorization", auth);
    }
    let resp = rb
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
    let mut answer: Value = resp.json().await.unwrap_or(Value::Null);
    if order && hold == Hold::Answer {
        *d.held_answer.lock().unwrap() = Some(answer.clone());
        std::future::pending::<()>().await;
    }
    if d.v2 && path == "/v1/health" {
        answer["version"] = json!("2");
        if let Some(o) = answer.as_object_mut() {
            o.remove("ledger");
        }
    }
    (status, axum::Json(answer))
}

/// `serve`, the agent (through the double) and their data in one directory.
struct Deployment {
    dir: tempfile::TempDir,
    key: String,
    agent_port: u16,
}

impl Deployment {
    fn new() -> Self {
        let key = mt5_bridge::vault::CredentialKey::generate("l1").to_base64();
        Deployment {
            dir: tempfile::tempdir().unwrap(),
            key: secrecy::ExposeSecret::expose_secret(&key).to_string(),
            agent_port: free_port(),
        }
    }

    async fn agent(&self, order_latency_ms: u64) -> Proc {
        start_agent_with(
            self.dir.path(),
            self.agent_port,
            &[("MT5_SIM_ORDER_LATENCY_MS", order_latency_ms.to_string())],
        )
        .await
    }

    fn agent_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.agent_port)
    }

    /// `serve` on the double at `double`, with the default deadline and grace period unless
    /// `extra` sets them.
    async fn serve(&self, n: usize, double: u16, extra: &[(&'static str, &str)]) -> Proc {
        let terminals = format!("agent:http://127.0.0.1:{double}");
        self.serve_on(n, &terminals, extra).await
    }

    async fn serve_on(&self, n: usize, terminals: &str, extra: &[(&'static str, &str)]) -> Proc {
        let d = self.dir.path();
        let mut env = vec![
            ("DATA_DIR", d.join("bridge").display().to_string()),
            (
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", self.db().display()),
            ),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            ("CREDENTIALS_KEY", self.key.clone()),
            ("CREDENTIALS_KEY_ID", "l1".to_string()),
            ("TERMINALS", terminals.to_string()),
            ("AGENT_TOKEN", AGENT_TOKEN.to_string()),
            ("RUST_LOG", "info".to_string()),
        ];
        for (k, v) in extra {
            env.push((k, v.to_string()));
        }
        let p = start_serve(free_port(), &env, &d.join(format!("serve-{n}.log"))).await;
        wait_status(&format!("{}/readyz", p.url), None, 200, "serve ready").await;
        p
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("bridge.db")
    }

    /// The journal's route columns of its only entry, read as the database has them.
    async fn route(&self) -> (Option<i64>, Option<String>, Option<String>) {
        use sqlx::Connection;
        let url = format!("sqlite://{}", self.db().display());
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_as(
            "select terminal_index, ledger_id, process_run_id from trade_journal order by created_at limit 1",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
    }
}

/// Waits until `ready` says yes (at most `secs`).
async fn until(secs: u64, what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The only journal entry once it is settled, and how long that took from `from`; fails past
/// `secs`.
async fn settled_within(base: &str, token: &str, from: Instant, secs: u64) -> (Value, Duration) {
    loop {
        let (s, b) = get(base, token, "/api/v1/journal").await;
        assert_eq!(s, 200, "{b}");
        let e = b["entries"][0].clone();
        if e["status"] != "pending" && e["status"] != "unknown" {
            return (e, from.elapsed());
        }
        assert!(
            from.elapsed() < Duration::from_secs(secs),
            "still {} {} s after the restart: {e}",
            e["status"],
            secs
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn health(agent: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{agent}/v1/health"))
        .bearer_auth(AGENT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `serve` killed before the agent received the order: the restarted service asks the agent's
/// ledger, which has never seen it and records a tombstone, so the entry is `not_executed` within
/// 5 s; the key then places the order once; the original call, delivered late, is refused
/// (`409 client_id_settled`) without reaching the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_before_the_agent_received_the_order() {
    let d = Deployment::new();
    let _agent = d.agent(0).await;
    let (double_port, double) = start_double(&d.agent_url(), Hold::Request, false).await;
    let mut serve = d.serve(1, double_port, &[]).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let (base, token) = (serve.url.clone(), t.clone());
    let order = tokio::spawn(async move { place(&base, &token, "before-1").await });
    until(20, "the order reaching the double", || {
        double.held_request.lock().unwrap().is_some()
    })
    .await;
    serve.kill();
    assert!(order.await.is_err(), "the client lost its answer");
    let (terminal, ledger_id, run) = d.route().await;
    assert_eq!(terminal, Some(0));
    assert_eq!(
        ledger_id.as_deref(),
        health(&d.agent_url()).await["ledger"]["id"].as_str()
    );
    assert!(run.is_some());

    *double.hold.lock().unwrap() = Hold::Nothing;
    let restarted = Instant::now();
    let serve = d.serve(2, double_port, &[]).await;
    let (entry, took) = settled_within(&serve.url, &t, restarted, 5).await;
    assert_eq!(entry["status"], "not_executed", "{entry}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("restart to settled: {} ms", took.as_millis());
    assert_eq!(positions(&serve.url, &t).await, 0);

    // The key may be sent again: one order, one position.
    let (s, _, b) = place(&serve.url, &t, "before-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(positions(&serve.url, &t).await, 1);

    // The original call arrives at last: refused, nothing runs.
    let late = double.held_request.lock().unwrap().clone().unwrap();
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/call/order_send", d.agent_url()))
        .bearer_auth(AGENT_TOKEN)
        .json(&late)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(b["error"]["code"], "client_id_settled", "{b}");
    assert_eq!(
        positions(&serve.url, &t).await,
        1,
        "the late call ran nothing"
    );
}

/// `serve` killed while the order is at the agent (2.5 s at the broker): the restarted service
/// finds it `running`, asks again each second, and settles it with MT5's own answer within 5 s;
/// the key replays it and no second order is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_while_the_order_is_at_the_agent() {
    let d = Deployment::new();
    let _agent = d.agent(2_500).await;
    let (double_port, double) = start_double(&d.agent_url(), Hold::Nothing, false).await;
    let mut serve = d.serve(1, double_port, &[]).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let (base, token) = (serve.url.clone(), t.clone());
    let order = tokio::spawn(async move { place(&base, &token, "at-agent-1").await });
    // The order is at the agent once the double passed it on (it answers 2.5 s later).
    until(20, "the order leaving the double", || {
        double.orders_in.load(Ordering::SeqCst) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    serve.kill();
    assert!(order.await.is_err(), "the client lost its answer");

    let restarted = Instant::now();
    let serve = d.serve(2, double_port, &[]).await;
    let (entry, took) = settled_within(&serve.url, &t, restarted, 5).await;
    assert_eq!(entry["status"], "done", "{entry}");
    assert_eq!(entry["retcode"], 10009, "{entry}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("restart to settled: {} ms", took.as_millis());
    assert!(double.ledger_calls.load(Ordering::SeqCst) >= 1);
    let (s, _, b) = place(&serve.url, &t, "at-agent-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["order"], entry["order"], "{b}");
    assert_eq!(double.orders_in.load(Ordering::SeqCst), 1);
    assert_eq!(positions(&serve.url, &t).await, 1, "sent exactly once");
}

/// `serve` killed after the agent answered (the answer never reached it): within 5 s of the
/// restart the entry is settled with exactly what the terminal returned, and the key replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_after_the_agent_answered() {
    let d = Deployment::new();
    let _agent = d.agent(0).await;
    let (double_port, double) = start_double(&d.agent_url(), Hold::Answer, false).await;
    let mut serve = d.serve(1, double_port, &[]).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let (base, token) = (serve.url.clone(), t.clone());
    let order = tokio::spawn(async move { place(&base, &token, "answered-1").await });
    until(20, "the agent answering", || {
        double.held_answer.lock().unwrap().is_some()
    })
    .await;
    serve.kill();
    assert!(order.await.is_err(), "the client lost its answer");
    let answered = double.held_answer.lock().unwrap().clone().unwrap();
    let mt5_order = answered["result"]["order"].as_u64().unwrap();

    *double.hold.lock().unwrap() = Hold::Nothing;
    let restarted = Instant::now();
    let serve = d.serve(2, double_port, &[]).await;
    let (entry, took) = settled_within(&serve.url, &t, restarted, 5).await;
    assert_eq!(entry["status"], "done", "{entry}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("restart to settled: {} ms", took.as_millis());
    assert_eq!(entry["order"], mt5_order, "{entry}");
    assert_eq!(entry["deal"], answered["result"]["deal"], "{entry}");
    let (s, _, b) = place(&serve.url, &t, "answered-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["order"], mt5_order, "{b}");
    assert_eq!(double.orders_in.load(Ordering::SeqCst), 1);
    assert_eq!(positions(&serve.url, &t).await, 1, "sent exactly once");
}

/// A v2 agent (no ledger): the bridge keeps it in its pool and trades through it, its entries
/// record no ledger, and an order in doubt is settled as before, from the broker's history once
/// its deadline passed, without asking any ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_agent_is_reconciled_as_before() {
    let d = Deployment::new();
    let _agent = d.agent(0).await;
    let (double_port, double) = start_double(&d.agent_url(), Hold::Answer, true).await;
    let short = [
        ("TERMINAL_TIMEOUT_MS", "4000"),
        ("RECONCILE_GRACE_MS", "1000"),
    ];
    let mut serve = d.serve(1, double_port, &short).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let (base, token) = (serve.url.clone(), t.clone());
    let order = tokio::spawn(async move { place(&base, &token, "v2-1").await });
    until(20, "the agent answering", || {
        double.held_answer.lock().unwrap().is_some()
    })
    .await;
    serve.kill();
    assert!(order.await.is_err(), "the client lost its answer");
    let (terminal, ledger_id, _) = d.route().await;
    assert_eq!(
        (terminal, ledger_id),
        (None, None),
        "a v2 agent keeps no ledger: no route"
    );

    *double.hold.lock().unwrap() = Hold::Nothing;
    let serve = d.serve(2, double_port, &short).await;
    let (entry, _) = settled_within(&serve.url, &t, Instant::now(), 30).await;
    assert_eq!(entry["status"], "done", "{entry}");
    assert_eq!(
        double.ledger_calls.load(Ordering::SeqCst),
        0,
        "no ledger asked"
    );
    assert_eq!(positions(&serve.url, &t).await, 1);
}

/// A v3 bridge keeps a v2 agent and a v3 agent in one pool and trades through both; the entries
/// sent through the v3 agent record their route and its ledger, those through the v2 agent none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_and_a_v3_agent_serve_side_by_side() {
    let d = Deployment::new();
    let _old = d.agent(0).await;
    let new_port = free_port();
    let _new = start_agent_with(d.dir.path(), new_port, &[]).await;
    let new_url = format!("http://127.0.0.1:{new_port}");
    let (double_port, double) = start_double(&d.agent_url(), Hold::Nothing, true).await;
    let terminals = format!("agent:http://127.0.0.1:{double_port},agent:{new_url}");
    let serve = d.serve_on(1, &terminals, &[]).await;
    let (t1, t2) = (
        common::mint(Uuid::new_v4(), Duration::from_secs(3600)),
        common::mint(Uuid::new_v4(), Duration::from_secs(3600)),
    );
    connect(&serve.url, &t1, 10001).await;
    connect(&serve.url, &t2, 10002).await;
    // Both accounts at once: each needs a terminal of its own.
    let (a, b) = tokio::join!(
        place(&serve.url, &t1, "side-1"),
        place(&serve.url, &t2, "side-2")
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    use sqlx::Connection;
    let url = format!("sqlite://{}", d.db().display());
    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let mut routes: Vec<(Option<i64>, Option<String>)> =
        sqlx::query_as("select terminal_index, ledger_id from trade_journal")
            .fetch_all(&mut c)
            .await
            .unwrap();
    routes.sort();
    let ledger = health(&new_url).await["ledger"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(routes, vec![(None, None), (Some(1), Some(ledger))]);
    assert_eq!(double.ledger_calls.load(Ordering::SeqCst), 0);
}

/// Replicas under Redis: the replica that sent an order is killed after the agent answered; a
/// replica started in its place finds the entry `pending` from a run whose heartbeat is gone from
/// Redis, asks the agent's ledger, and settles it with the terminal's answer within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_settles_the_orders_of_a_dead_one() {
    let d = Deployment::new();
    let redis = common::procs::RedisServer::start(d.dir.path()).await;
    let url = redis.url();
    let shared = [
        ("REDIS_URL", url.as_str()),
        ("TERMINAL_LEASE_TTL_MS", "1500"),
    ];
    let _agent = d.agent(0).await;
    let (double_port, double) = start_double(&d.agent_url(), Hold::Answer, false).await;
    let mut first = d.serve(1, double_port, &shared).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    // The replica takes the agent's lease shortly after it starts.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/accounts/connect", first.url))
            .bearer_auth(&t)
            .json(
                &json!({"account_name": "replica", "login": "10001", "password": "Sim-10001!",
                          "server": "Sim-Demo", "account_type": "demo", "set_as_default": true}),
            )
            .send()
            .await
            .unwrap();
        if resp.status().as_u16() == 201 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", resp.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (base, token) = (first.url.clone(), t.clone());
    let order = tokio::spawn(async move { place(&base, &token, "replica-1").await });
    until(20, "the agent answering", || {
        double.held_answer.lock().unwrap().is_some()
    })
    .await;
    first.kill();
    assert!(order.await.is_err(), "the client lost its answer");
    let answered = double.held_answer.lock().unwrap().clone().unwrap();
    let (_, _, run) = d.route().await;
    assert!(run.is_some());

    *double.hold.lock().unwrap() = Hold::Nothing;
    let restarted = Instant::now();
    let second = d.serve(2, double_port, &shared).await;
    let (entry, took) = settled_within(&second.url, &t, restarted, 5).await;
    assert_eq!(entry["status"], "done", "{entry}");
    assert_eq!(entry["order"], answered["result"]["order"], "{entry}");
    assert!(double.ledger_calls.load(Ordering::SeqCst) >= 1);
    eprintln!("restart to settled (replicas): {} ms", took.as_millis());
    assert_eq!(positions(&second.url, &t).await, 1, "sent exactly once");
}

/// Every journal entry records the process run that wrote it, whatever terminal its order went to
/// (here a simulated one, which keeps no ledger and so gets no route).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_entry_records_the_process_run_that_wrote_it() {
    let app = common::spawn(common::Db::Sqlite).await;
    let user = Uuid::new_v4();
    let t = app.token(user);
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "run")
        .await;
    let (s, b) = app
        .post(
            common::routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, j) = app.get(common::routes::JOURNAL, &t).await;
    let id = Uuid::parse_str(j["entries"][0]["id"].as_str().unwrap()).unwrap();
    let entry = app
        .state
        .store
        .get_entry(&mt5_bridge::store::UserCtx::service_for(user), id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.route.process_run_id.as_deref(),
        Some(app.state.process_run_id.as_str())
    );
    assert_eq!(
        (entry.route.terminal_index, entry.route.ledger_id.as_deref()),
        (None, None)
    );
    app.shutdown().await;
}
