//! The terminal-agent protocol end to end: two `mt5-bridge sim-agent` processes on one shared
//! simulator state, driven over HTTP directly and through the bridge's pool.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test should panic loudly on the unexpected

mod common;

use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const TOKEN: &str = "agent-test-token-0123456789";

/// A `sim-agent` child process, killed on drop.
struct Agent {
    child: Child,
    url: String,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts an agent on a free port with the broker state in `dir`, and waits until it answers.
async fn start_agent(dir: &Path) -> Agent {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mt5-bridge"));
    cmd.arg("sim-agent")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("AGENT_TOKEN", TOKEN)
        .env("DATA_DIR", dir.join("data"))
        .env("MT5_SIM_STATE", dir.join("shared-broker.db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in [
        "MT5_SIM_ACCOUNTS",
        "MT5_SIM_FAULTS",
        "MT5_SIM_LOGIN_LATENCY_MS",
        "MT5_SIM_CALL_LATENCY_MS",
        "MT5_SIM_SERVER_TIME_OFFSET_S",
        "MT5_SIM_SEED",
        "AGENT_BIND",
    ] {
        cmd.env_remove(var);
    }
    let agent = Agent {
        child: cmd.spawn().expect("sim-agent starts"),
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get(format!("{}/v1/health", agent.url))
            .bearer_auth(TOKEN)
            .send()
            .await;
        if matches!(&r, Ok(resp) if resp.status() == 200) {
            return agent;
        }
        assert!(Instant::now() < deadline, "sim-agent did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn request(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, url);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn post(agent: &Agent, path: &str, body: Value) -> (u16, Value) {
    request(
        Method::POST,
        &format!("{}{path}", agent.url),
        Some(TOKEN),
        Some(body),
    )
    .await
}

async fn call(agent: &Agent, op: &str, login: u64, args: Value) -> (u16, Value) {
    post(
        agent,
        &format!("/v1/call/{op}"),
        json!({"expected": {"login": login, "server": "Sim-Demo"}, "lease": null, "args": args}),
    )
    .await
}

async fn login(agent: &Agent, login: u64, password: &str) -> (u16, Value) {
    post(
        agent,
        "/v1/login",
        json!({"login": login, "password": password, "server": "Sim-Demo", "timeout_ms": 10000}),
    )
    .await
}

fn buy(symbol: &str, volume: f64) -> Value {
    json!({"request": {
        "action": 1, "magic": 0, "order": 0, "symbol": symbol, "volume": volume, "price": 0.0,
        "stoplimit": 0.0, "sl": 0.0, "tp": 0.0, "deviation": 20, "type": 0, "type_filling": 1,
        "type_time": 0, "expiration": 0, "comment": "through the agent, a long comment", "position": 0,
        "position_by": 0
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sim_agents_speak_the_protocol_on_one_broker() {
    let dir = tempfile::tempdir().unwrap();
    let a1 = start_agent(dir.path()).await;
    let a2 = start_agent(dir.path()).await;

    // The token comes first, on every path, known or not.
    for (method, path) in [
        (Method::GET, "/v1/health"),
        (Method::POST, "/v1/login"),
        (Method::POST, "/v1/logout"),
        (Method::POST, "/v1/call/account_info"),
        (Method::POST, "/v1/call/no_such_operation"),
        (Method::GET, "/no/such/path"),
    ] {
        for token in [None, Some("wrong-token"), Some("")] {
            let (s, b) = request(
                method.clone(),
                &format!("{}{path}", a1.url),
                token,
                Some(json!({})),
            )
            .await;
            assert_eq!(s, 401, "{method} {path} with {token:?}: {b}");
            assert_eq!(b["error"]["code"], "unauthorized");
        }
    }
    let (s, b) = request(
        Method::GET,
        &format!("{}/no/such/path", a1.url),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("unknown_operation"))
    );
    let (s, b) = call(&a1, "no_such_operation", 10001, json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("unknown_operation"))
    );

    let (s, h) = request(
        Method::GET,
        &format!("{}/v1/health", a1.url),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        h,
        json!({"connected": true, "login": null, "server": null, "agent": "sim", "version": "1"})
    );

    // Refused credentials: MT5's -6, and the password is not echoed.
    let (s, b) = login(&a1, 10001, "not-the-password").await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["code"], "mt5_error");
    assert_eq!(b["error"]["last_error"][0], -6);
    assert!(!b.to_string().contains("not-the-password"));
    let (s, b) = post(&a1, "/v1/login", json!({"login": "x"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")));
    let (s, b) = post(
        &a1,
        "/v1/login",
        json!({"login": 10001, "password": 31337, "server": "Sim-Demo", "timeout_ms": 1000}),
    )
    .await;
    assert_eq!(s, 400);
    assert!(!b.to_string().contains("31337"), "{b}");

    let (s, b) = login(&a1, 10001, "Sim-10001!").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["account_info"]["login"], 10001);
    assert_eq!(
        b["account_info"]["margin_mode"], 2,
        "enums are MT5 integers"
    );
    assert_eq!(b["account_info"]["trade_mode"], 0);
    let (_, h) = request(
        Method::GET,
        &format!("{}/v1/health", a1.url),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        (h["login"].as_u64(), h["server"].as_str()),
        (Some(10001), Some("Sim-Demo"))
    );

    // The wrong expected account: 409 with what the terminal holds, and nothing runs.
    let (s, b) = call(&a1, "order_send", 10002, buy("EURUSD", 0.1)).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "wrong_account");
    assert_eq!(
        b["error"]["actual"],
        json!({"login": 10001, "server": "Sim-Demo"})
    );
    let (s, b) = call(&a1, "positions", 10001, json!({})).await;
    assert_eq!((s, b["result"].clone()), (200, json!([])));
    let (s, b) = call(&a2, "account_info", 10001, json!({})).await;
    assert_eq!(s, 409, "a terminal logged in to nothing refuses too: {b}");
    assert_eq!(b["error"]["actual"], Value::Null);

    // Malformed calls and MT5 failures.
    let (s, b) = request(
        Method::POST,
        &format!("{}/v1/call/positions", a1.url),
        Some(TOKEN),
        Some(Value::String("{not json".into())),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{b}"
    );
    let (s, b) = call(
        &a1,
        "positions",
        10001,
        json!({"symbol": "EURUSD", "ticket": 1}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = call(&a1, "symbol_info", 10001, json!({"symbol": "NOPE"})).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["last_error"][0], -4);

    // Reads.
    let (s, b) = call(&a1, "symbol_info", 10001, json!({"symbol": "EURUSD"})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["trade_calc_mode"], 0);
    assert_eq!(b["result"]["digits"], 5);
    let (s, b) = call(
        &a1,
        "copy_rates",
        10001,
        json!({"symbol": "EURUSD", "timeframe": 16385, "mode": "from_pos", "start": 0, "count": 5}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let bars = b["result"].as_array().unwrap();
    assert_eq!(bars.len(), 5);
    assert!(bars[0]["time"].as_i64().unwrap() < bars[4]["time"].as_i64().unwrap());
    let (s, b) = call(&a1, "server_time_offset", 10001, json!({})).await;
    assert_eq!((s, b["result"].clone()), (200, json!(0)));
    let (s, b) = call(
        &a1,
        "order_calc_margin",
        10001,
        json!({"action": 0, "symbol": "EURUSD", "volume": 1.0, "price": 1.1}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["result"].as_f64().unwrap() > 0.0);

    // One broker state: an order sent through agent 1 is a position seen through agent 2.
    let (s, b) = call(&a1, "order_send", 10001, buy("EURUSD", 0.1)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["retcode"], 10009, "{b}");
    assert_eq!(b["result"]["request"]["action"], 1);
    let ticket = b["result"]["order"].as_u64().unwrap();
    let (s, b) = login(&a2, 10001, "Sim-10001!").await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(&a2, "positions", 10001, json!({"symbol": "EURUSD"})).await;
    assert_eq!(s, 200, "{b}");
    let positions = b["result"].as_array().unwrap();
    assert_eq!(positions.len(), 1, "{b}");
    assert_eq!(positions[0]["ticket"], ticket);
    assert_eq!(positions[0]["type"], 0);
    assert_eq!(positions[0]["volume"], 0.1);
    assert_eq!(
        positions[0]["comment"].as_str().unwrap().len(),
        27,
        "comments are cut to 27 characters: {}",
        positions[0]["comment"]
    );
    let (s, b) = call(&a2, "history_deals", 10001, json!({"position": ticket})).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"][0]["entry"], 0);

    let (s, b) = post(&a2, "/v1/logout", json!({})).await;
    assert_eq!((s, b), (200, json!({})));
    let (s, _) = call(&a2, "positions", 10001, json!({})).await;
    assert_eq!(s, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_trades_through_agents_and_survives_losing_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut agents = [start_agent(dir.path()).await, start_agent(dir.path()).await];
    let terminals = format!("agent:{},agent:{}", agents[0].url, agents[1].url);
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", terminals);
        env.insert("AGENT_TOKEN", TOKEN.to_string());
        env.insert("TERMINAL_TIMEOUT_MS", "10000".to_string());
    })
    .await;
    assert_eq!(
        app.state.pool.size(),
        2,
        "the pool drives the two agents and no simulated terminal"
    );
    let t = app.token(Uuid::new_v4());
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "via agents")
        .await;

    let (s, b) = app.get("/api/v1/account", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["login"], 10001);
    assert_eq!(b["margin_mode"], "retail_hedging");
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009);
    let ticket = b["order"].as_u64().unwrap();
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["positions"][0]["ticket"], ticket);
    assert_eq!(b["positions"][0]["type"], "buy");
    let (s, b) = app
        .post(&format!("/api/v1/positions/{ticket}/close"), &t, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(b["positions"], json!([]));

    // Kill the agent the account is logged in on; the other one takes over.
    let mut holder = None;
    for (i, a) in agents.iter().enumerate() {
        let (_, h) = request(
            Method::GET,
            &format!("{}/v1/health", a.url),
            Some(TOKEN),
            None,
        )
        .await;
        if h["login"] == 10001 {
            holder = Some(i);
        }
    }
    let holder = holder.expect("one agent holds the login");
    agents[holder].kill();

    let mut failures = 0;
    let mut tickets = Vec::new();
    for i in 0..6 {
        let (s, b) = if i % 2 == 0 {
            app.post(
                "/api/v1/orders",
                &t,
                json!({"symbol": "EURUSD", "type": "sell", "volume": 0.01}),
            )
            .await
        } else {
            app.get("/api/v1/positions", &t).await
        };
        if s == 200 {
            if let Some(o) = b["order"].as_u64() {
                tickets.push(o);
            }
        } else {
            assert_eq!(s, 503, "a lost agent is terminal_unavailable: {b}");
            failures += 1;
            assert!(tickets.is_empty(), "a failure after recovery: {b}");
        }
    }
    assert!(failures <= 1, "{failures} failed requests after the kill");
    assert!(tickets.len() >= 2, "{tickets:?}");
    let (_, b) = app.get("/api/v1/positions", &t).await;
    let open: Vec<u64> = b["positions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ticket"].as_u64().unwrap())
        .collect();
    for t in &tickets {
        assert!(open.contains(t), "{t} in {open:?}");
    }

    let (s, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(s, 200);
    let entries = b["entries"].as_array().unwrap();
    assert!(entries.len() >= 4, "{b}");
    assert!(
        entries.iter().all(|e| e["status"] != "pending"),
        "no journal entry is left pending: {b}"
    );
    app.shutdown().await;
}
