//! The terminal-agent protocol end to end: two `mt5-bridge sim-agent` processes on one shared
//! simulator state, driven over HTTP directly and through the bridge's pool.

use crate::common;
use crate::common::routes;

use mt5::{AccountKey, Session, SessionTag};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use uuid::Uuid;

use common::procs::{free_port, start_agent_with, Proc as Agent, AGENT_TOKEN as TOKEN};

/// Starts an agent on a free port with the broker state in `dir`, and waits until it answers.
async fn start_agent(dir: &Path) -> Agent {
    start_agent_on(dir, free_port()).await
}

/// As [`start_agent`], on a given port (a restart).
async fn start_agent_on(dir: &Path, port: u16) -> Agent {
    start_agent_with(dir, port, &[]).await
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

/// The session tag these tests log account `login` in with (the bridge derives real ones).
fn tag_of(login: u64) -> SessionTag {
    SessionTag::from_bytes([(login % 251) as u8; 32])
}

fn session_of(login: u64) -> Session {
    Session::new(AccountKey::new(login, "Sim-Demo"), tag_of(login))
}

async fn call(agent: &Agent, op: &str, login: u64, args: Value) -> (u16, Value) {
    call_as(agent, op, login, &tag_of(login).to_hex(), args).await
}

async fn call_as(agent: &Agent, op: &str, login: u64, tag: &str, args: Value) -> (u16, Value) {
    let mut body = json!({"expected": {"login": login, "server": "Sim-Demo", "session_tag": tag}, "lease": null, "args": args});
    if op == "order_send" {
        // Every v3 order carries its id.
        body["client_id"] = json!(Uuid::new_v4().simple().to_string());
    }
    post(agent, &format!("/v1/call/{op}"), body).await
}

async fn login(agent: &Agent, login: u64, password: &str) -> (u16, Value) {
    post(
        agent,
        "/v1/login",
        json!({"login": login, "password": password, "server": "Sim-Demo",
               "session_tag": tag_of(login).to_hex(), "timeout_ms": 10000}),
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
    let ledger_id = h["ledger"]["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(ledger_id.len(), 32, "{h}");
    assert_eq!(
        h,
        json!({"connected": true, "login": null, "server": null, "agent": "sim", "version": "3",
               "session_tag": null,
               "terminal_info": {"connected": true, "trade_allowed": true, "tradeapi_disabled": false},
               "ledger": {"id": ledger_id, "retention_s": 604800, "error": null}})
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
    assert_eq!(h["session_tag"], json!(tag_of(10001).to_hex()));

    // A login without a session tag, or with a malformed one, is refused before anything runs.
    for tag in [Value::Null, json!("ABC"), json!("A".repeat(64)), json!(7)] {
        let (s, b) = post(
            &a2,
            "/v1/login",
            json!({"login": 10002, "password": "Sim-10002!", "server": "Sim-Demo",
                   "session_tag": tag, "timeout_ms": 1000}),
        )
        .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("bad_request")),
            "{b}"
        );
    }

    // The right account with another credential's tag: 409, and nothing runs.
    let other_tag = tag_of(7).to_hex();
    let (s, b) = call_as(&a1, "order_send", 10001, &other_tag, buy("EURUSD", 0.1)).await;
    assert_eq!(s, 409, "{b}");
    assert_eq!(b["error"]["code"], "wrong_account");
    assert!(
        !b.to_string().contains(&other_tag),
        "the tag is not echoed: {b}"
    );
    let (s, b) = post(
        &a1,
        "/v1/call/positions",
        json!({"expected": {"login": 10001, "server": "Sim-Demo"}, "args": {}}),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{b}"
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
            routes::ORDERS,
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
        .post(&routes::close_position(ticket), &t, json!({}))
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
                routes::ORDERS,
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

    // The killed agent comes back on its address; now the other one dies. The pool logs in on
    // the restarted agent and carries on.
    let port: u16 = agents[holder]
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    agents[holder] = start_agent_on(dir.path(), port).await;
    agents[1 - holder].kill();
    let mut failures = 0;
    let mut served = 0;
    for i in 0..6 {
        let (s, b) = if i % 2 == 0 {
            app.get("/api/v1/positions", &t).await
        } else {
            app.post(
                routes::ORDERS,
                &t,
                json!({"symbol": "EURUSD", "type": "sell", "volume": 0.01}),
            )
            .await
        };
        if s == 200 {
            served += 1;
        } else {
            assert_eq!(s, 503, "{b}");
            assert_eq!(served, 0, "a failure after recovery: {b}");
            failures += 1;
        }
    }
    assert!(
        failures <= 1,
        "{failures} failed requests after the second kill"
    );
    let (_, h) = request(
        Method::GET,
        &format!("{}/v1/health", agents[holder].url),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(h["login"], 10001, "the restarted agent was logged in again");

    let (s, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(s, 200);
    let entries = b["entries"].as_array().unwrap();
    assert!(entries.len() >= 6, "{b}");
    assert!(
        entries.iter().all(|e| e["status"] != "pending"),
        "no journal entry is left pending: {b}"
    );
    app.shutdown().await;
}

/// Serves the protocol in-process over a simulated terminal with the given options.
async fn in_process_agent(
    offset_s: i64,
    call_latency_ms: u64,
) -> (String, std::sync::Arc<mt5_sim::terminal::SimTerminal>) {
    let mut cfg = common::sim_config();
    cfg.server_time_offset_s = offset_s;
    cfg.call_latency_ms = call_latency_ms;
    let (broker, _feed) = mt5_sim::broker::open_from_config(&cfg).await.unwrap();
    let sim = std::sync::Arc::new(mt5_sim::terminal::SimTerminal::new(
        "sim-in-process".into(),
        broker,
        mt5_sim::terminal::TerminalOptions::from_config(&cfg),
    ));
    let router =
        mt5_bridge::agent::server::router(sim.clone(), secrecy::SecretString::from(TOKEN), "sim");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_terminal_maps_the_protocol_back_to_terminal_results_and_errors() {
    use mt5::{
        Expected, HistorySelect, OrderType, PositionFilter, RatesRange, Terminal, TerminalError,
        Timeframe, TradeAction, TradeRequest,
    };
    use mt5_bridge::agent::client::AgentTerminal;
    use secrecy::SecretString;

    let (url, sim) = in_process_agent(7200, 0).await;
    let agent = AgentTerminal::new(&url, SecretString::from(TOKEN)).unwrap();
    let first = session_of(10001);
    let second = session_of(10002);
    let at = Expected::new(first.clone());
    let timeout = Duration::from_secs(10);

    let err = agent
        .login(&first, &SecretString::from("wrong"), timeout)
        .await
        .unwrap_err();
    assert!(err.is_auth_failure(), "{err:?}");
    assert_eq!(err.last_error().0, -6);
    assert_eq!(agent.current().await.unwrap(), None);

    let info = agent
        .login(&first, &SecretString::from("Sim-10001!"), timeout)
        .await
        .unwrap();
    assert_eq!(info.login, 10001);
    assert_eq!(info.margin_mode, mt5::AccountMarginMode::RetailHedging);
    assert_eq!(agent.current().await.unwrap(), Some(first.clone()));

    // Every read equals what the terminal itself answers.
    assert_eq!(
        agent.account_info(&at).await.unwrap(),
        sim.account_info(&at).await.unwrap()
    );
    // Quotes (and tick values, which follow them) move between two reads: compare the contract.
    let still = |s: mt5::SymbolInfo| {
        let sizes = [
            s.point,
            s.trade_contract_size,
            s.volume_min,
            s.volume_max,
            s.volume_step,
        ];
        let levels = (
            s.digits,
            s.trade_stops_level,
            s.trade_freeze_level,
            s.filling_mode,
        );
        (s.name, s.currency_base, s.currency_profit, sizes, levels)
    };
    assert_eq!(
        still(agent.symbol_info(&at, "XAUUSD").await.unwrap()),
        still(sim.symbol_info(&at, "XAUUSD").await.unwrap())
    );
    let jpy = |v: Vec<mt5::SymbolInfo>| v.into_iter().map(still).collect::<Vec<_>>();
    assert_eq!(
        jpy(agent.symbols(&at, Some("*JPY*")).await.unwrap()),
        jpy(sim.symbols(&at, Some("*JPY*")).await.unwrap())
    );
    for range in [
        RatesRange::FromPos { start: 3, count: 7 },
        RatesRange::Range {
            from: 1_767_571_200,
            to: 1_767_589_200,
        },
    ] {
        assert_eq!(
            agent
                .copy_rates(&at, "EURUSD", Timeframe::H1, range)
                .await
                .unwrap(),
            sim.copy_rates(&at, "EURUSD", Timeframe::H1, range)
                .await
                .unwrap()
        );
    }
    assert_eq!(agent.server_time_offset_s(&at).await.unwrap(), 7200);
    let margin = agent
        .order_calc_margin(&at, OrderType::Sell, "EURUSD", 1.0, 1.1)
        .await
        .unwrap();
    assert_eq!(
        margin,
        sim.order_calc_margin(&at, OrderType::Sell, "EURUSD", 1.0, 1.1)
            .await
            .unwrap()
    );
    let profit = agent
        .order_calc_profit(&at, OrderType::Buy, "EURUSD", 1.0, 1.1, 1.2)
        .await
        .unwrap();
    assert!((profit - 10_000.0).abs() < 1e-6, "{profit}");

    let err = agent.symbol_info(&at, "NOPE").await.unwrap_err();
    assert_eq!(err, TerminalError::not_found());

    // Trading: the result and what the broker then holds.
    let request = TradeRequest {
        action: TradeAction::Deal,
        symbol: "EURUSD".into(),
        volume: 0.2,
        r#type: OrderType::Sell,
        type_filling: mt5::OrderFilling::Ioc,
        deviation: 10,
        comment: "x".repeat(40),
        ..Default::default()
    };
    let check = agent.order_check(&at, &request).await.unwrap();
    assert_eq!(check.retcode, 0);
    assert_eq!(check.request.r#type, OrderType::Sell);
    let sent = agent.order_send(&at, &request).await.unwrap();
    assert_eq!(sent.retcode, 10009, "{sent:?}");
    let positions = agent
        .positions(&at, &PositionFilter::Ticket(sent.order))
        .await
        .unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].r#type, mt5::PositionType::Sell);
    assert_eq!(positions[0].comment, "x".repeat(27));
    assert_eq!(
        positions,
        sim.positions(&at, &PositionFilter::Symbol("EURUSD".into()))
            .await
            .unwrap()
    );
    let deals = agent
        .history_deals(
            &at,
            &HistorySelect::Position {
                position: sent.order,
            },
        )
        .await
        .unwrap();
    assert_eq!(deals.len(), 1);
    assert_eq!(deals[0].entry, mt5::DealEntry::In);
    let orders = agent
        .history_orders(&at, &HistorySelect::Ticket { ticket: sent.order })
        .await
        .unwrap();
    assert_eq!(orders[0].state, mt5::OrderState::Filled);
    assert!(agent
        .orders(&at, &PositionFilter::All)
        .await
        .unwrap()
        .is_empty());

    // The guard: the expected account comes back with what the terminal holds.
    let err = agent
        .order_send(&Expected::new(second.clone()), &request)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TerminalError::WrongAccount {
            expected: second.account.clone(),
            actual: Some(first.account.clone()),
        }
    );
    assert_eq!(
        agent
            .positions(&at, &PositionFilter::All)
            .await
            .unwrap()
            .len(),
        1,
        "nothing ran"
    );
    agent.logout().await.unwrap();
    assert_eq!(agent.current().await.unwrap(), None);

    // Connection problems are connection errors; a wrong token is not silently accepted.
    let wrong = AgentTerminal::new(&url, SecretString::from("not-the-token")).unwrap();
    let err = wrong.current().await.unwrap_err();
    assert!(
        matches!(err, TerminalError::NotSent(ref m) if m.contains("AGENT_TOKEN")),
        "{err:?}"
    );
    let closed = AgentTerminal::new(
        &format!("http://127.0.0.1:{}", free_port()),
        SecretString::from(TOKEN),
    )
    .unwrap();
    let err = closed.account_info(&at).await.unwrap_err();
    // No connection was made: nothing was sent, and the terminal is out of reach.
    assert!(
        matches!(err, TerminalError::NotSent(_)) && err.is_connection() && err.is_not_sent(),
        "{err:?}"
    );

    // A call slower than its deadline is a timeout.
    let (slow_url, _slow) = in_process_agent(0, 800).await;
    let slow = AgentTerminal::new(&slow_url, SecretString::from(TOKEN))
        .unwrap()
        .with_call_timeout(Duration::from_millis(200));
    slow.login(&first, &SecretString::from("Sim-10001!"), timeout)
        .await
        .unwrap();
    assert_eq!(
        slow.account_info(&at).await.unwrap_err(),
        TerminalError::Timeout
    );
}

/// An agent that speaks protocol v1 would not check session tags: it is never used.
#[tokio::test]
async fn an_agent_of_another_protocol_version_is_kept_out() {
    use mt5::Terminal;
    use mt5_bridge::agent::client::AgentTerminal;
    use secrecy::SecretString;
    let logins = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = logins.clone();
    let app = axum::Router::new()
        .route(
            "/v1/health",
            axum::routing::get(|| async {
                axum::Json(
                    json!({"connected": true, "login": 10001, "server": "Sim-Demo",
                                  "agent": "python", "version": "1"}),
                )
            }),
        )
        .route(
            "/v1/login",
            axum::routing::post(move || {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async { axum::Json(json!({"account_info": {"login": 10001}})) }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let agent = AgentTerminal::new(
        &format!("http://127.0.0.1:{port}"),
        SecretString::from(TOKEN),
    )
    .unwrap();
    let err = agent
        .login(
            &session_of(10001),
            &SecretString::from("Sim-10001!"),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, mt5::TerminalError::Unavailable(m) if m.contains("protocol version")),
        "{err:?}"
    );
    assert!(agent.current().await.is_err());
    assert_eq!(
        logins.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no login was sent"
    );
}

/// The sim-agent's admin call changes a password as the broker would: the old one is refused from
/// the next login on; the call needs the agent's token and never echoes the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_agent_changes_a_password_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_agent(dir.path()).await;
    let body = json!({"login": 10002, "server": "Sim-Demo", "password": "Changed-10002!"});
    let url = format!("{}/v1/sim/password", a.url);
    for token in [None, Some("wrong-token")] {
        let (s, _) = request(Method::POST, &url, token, Some(body.clone())).await;
        assert_eq!(s, 401);
    }
    assert_eq!(login(&a, 10002, "Sim-10002!").await.0, 200);
    let (s, b) = request(Method::POST, &url, Some(TOKEN), Some(body)).await;
    assert_eq!((s, b), (200, json!({})));
    let (s, b) = login(&a, 10002, "Sim-10002!").await;
    assert_eq!((s, &b["error"]["last_error"][0]), (422, &json!(-6)), "{b}");
    assert_eq!(login(&a, 10002, "Changed-10002!").await.0, 200);
    let (s, b) = request(
        Method::POST,
        &url,
        Some(TOKEN),
        Some(json!({"login": 99, "server": "Sim-Demo", "password": "Secret-99!"})),
    )
    .await;
    assert_eq!(s, 422, "{b}");
    assert!(!b.to_string().contains("Secret-99!"));
}

/// An agent reply over 32 MiB is refused, not buffered: the request answers 503. The reply is
/// chunked (no length up front), so the limit holds while reading.
#[tokio::test]
async fn an_oversized_agent_reply_is_refused() {
    use mt5::Terminal;
    use mt5_bridge::agent::client::{AgentTerminal, MAX_REPLY_BYTES};
    use secrecy::SecretString;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = vec![b'7'; 1 << 20];
                for _ in 0..(MAX_REPLY_BYTES >> 20) + 2 {
                    let frame =
                        [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
                    if sock.write_all(&frame).await.is_err() {
                        return;
                    }
                }
                let _ = sock.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    let agent = AgentTerminal::new(
        &format!("http://127.0.0.1:{port}"),
        SecretString::from(TOKEN),
    )
    .unwrap();
    let at = mt5::Expected::new(session_of(10001));
    let err = agent
        .positions(&at, &mt5::PositionFilter::All)
        .await
        .unwrap_err();
    assert!(format!("{err}").contains("larger than 32 MiB"), "{err:?}");
    let api = mt5_bridge::error::ApiError::from(err);
    assert_eq!(api.status_and_code().1, "terminal_unavailable");
}

/// A call that has started runs to its end even if the bridge goes away: an order whose caller
/// hung up mid-call is still placed (the reconciler finds it), never half-dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_flight_completes_after_the_caller_hangs_up() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_agent_with(
        dir.path(),
        free_port(),
        &[("MT5_SIM_CALL_LATENCY_MS", "400".to_string())],
    )
    .await;
    assert_eq!(login(&a, 10002, "Sim-10002!").await.0, 200);
    let (_, before) = call(&a, "positions", 10002, json!({})).await;
    let before = before["result"].as_array().unwrap().len();
    // The caller gives up after 100 ms, while the call sleeps its latency before reaching the broker.
    let body = json!({"expected": {"login": 10002, "server": "Sim-Demo",
                                   "session_tag": tag_of(10002).to_hex()},
                      "lease": null, "deadline_ms": 30000, "client_id": "hung-up-caller",
                      "args": buy("EURUSD", 0.1)});
    let gave_up = reqwest::Client::new()
        .post(format!("{}/v1/call/order_send", a.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(gave_up.is_err(), "the caller hung up before the answer");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = call(&a, "positions", 10002, json!({})).await;
    assert_eq!(
        after["result"].as_array().unwrap().len(),
        before + 1,
        "the order that had started was placed: {after}"
    );
}

/// `sim-agent`'s ledger: an order killed mid-call (kill -9 of the agent) reads `interrupted` after
/// the restart — never `never_received`, never a replayable answer — and the ledger keeps its id;
/// an answered id replays without a second order; a tombstoned id is refused without reaching
/// the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_ledger_survives_a_kill_and_tells_what_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let slow = [("MT5_SIM_CALL_LATENCY_MS", "1500".to_string())];
    let mut a = start_agent_with(dir.path(), port, &slow).await;
    let (_, h) = request(
        Method::GET,
        &format!("{}/v1/health", a.url),
        Some(TOKEN),
        None,
    )
    .await;
    let ledger_id = h["ledger"]["id"].as_str().unwrap().to_string();
    assert_eq!(login(&a, 10002, "Sim-10002!").await.0, 200);
    let (_, before) = call(&a, "positions", 10002, json!({})).await;
    let before = before["result"].as_array().unwrap().len();
    let send = |client_id: &'static str, url: String| async move {
        let body = json!({"expected": {"login": 10002, "server": "Sim-Demo",
                                       "session_tag": tag_of(10002).to_hex()},
                          "lease": null, "client_id": client_id, "args": buy("EURUSD", 0.1)});
        request(
            Method::POST,
            &format!("{url}/v1/call/order_send"),
            Some(TOKEN),
            Some(body),
        )
        .await
    };
    let ledger = |ids: Value, url: String| async move {
        let body = json!({"expected": {"login": 10002, "server": "Sim-Demo",
                                       "session_tag": tag_of(10002).to_hex()},
                          "args": {"client_ids": ids}});
        request(
            Method::POST,
            &format!("{url}/v1/call/ledger"),
            Some(TOKEN),
            Some(body),
        )
        .await
    };
    // Killed while the call sleeps its latency, after the ledger's `received` row.
    let url = a.url.clone();
    let inflight = tokio::spawn(send("killed-mid-call", url));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (s, b) = ledger(json!(["killed-mid-call"]), a.url.clone()).await;
    assert_eq!(
        (s, b["result"]["entries"][0]["state"].as_str()),
        (200, Some("running")),
        "{b}"
    );
    a.kill();
    let _ = inflight.await;
    let a = start_agent_with(dir.path(), port, &[]).await;
    let (_, h) = request(
        Method::GET,
        &format!("{}/v1/health", a.url),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(
        h["ledger"]["id"],
        ledger_id.as_str(),
        "the id survives: {h}"
    );
    let (s, b) = ledger(json!(["killed-mid-call", "never-sent"]), a.url.clone()).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"]["ledger_id"], ledger_id.as_str());
    assert_eq!(b["result"]["entries"][0]["state"], "interrupted", "{b}");
    assert_eq!(b["result"]["entries"][1]["state"], "never_received", "{b}");
    // The agent restarted: the bridge logs in again. The tombstoned id is refused, not sent.
    assert_eq!(login(&a, 10002, "Sim-10002!").await.0, 200);
    let (s, b) = send("never-sent", a.url.clone()).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("client_id_settled")),
        "{b}"
    );
    // A new id runs once; sent again, it replays the answer.
    let (s, first) = send("placed-once", a.url.clone()).await;
    assert_eq!(s, 200, "{first}");
    let (s, again) = send("placed-once", a.url.clone()).await;
    assert_eq!((s, &again), (200, &first));
    let (_, after) = call(&a, "positions", 10002, json!({})).await;
    assert_eq!(
        after["result"].as_array().unwrap().len(),
        before + 1,
        "one position: {after}"
    );
}
