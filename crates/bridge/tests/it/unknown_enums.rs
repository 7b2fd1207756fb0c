//! Values MT5 reports outside the service's enum lists are carried, not fatal: the simulated
//! terminals report them (`MT5_SIM_UNKNOWN_ENUMS`), in process and through `mt5-bridge sim-agent`,
//! and every route that returns them answers 200 with `unknown_<n>`; orders, algorithms, risk
//! checks and reconciliation keep working; requests cannot send such a value.


use crate::common;

use common::procs::{free_port, start_agent_with, AGENT_TOKEN};
use common::TestApp;
use mt5::clock::ManualClock;
use mt5_sim::config::{FaultConfig, SimConfig, UnknownEnums};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

fn fields(b: &Value) -> Vec<&str> {
    b["error"]["details"]["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default()
}

fn sim_with(unknown: UnknownEnums) -> SimConfig {
    SimConfig {
        unknown_enums: unknown,
        ..common::sim_config()
    }
}

/// The values the service only shows, plus unknown states of filled history orders.
fn shown_and_states() -> UnknownEnums {
    UnknownEnums {
        order_state: true,
        ..UnknownEnums::shown()
    }
}

const MA: &str = "ma_crossover";

fn ma_params() -> Value {
    json!({"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3})
}

/// A service whose terminals report `unknown`, its broker's clock stopped at a moment
/// `ma_crossover` signals an entry on EURUSD (so a run has something to size and send); also a
/// history query around that moment.
async fn app_at_signal(db: common::Db, unknown: UnknownEnums) -> (TestApp, String) {
    let sim = sim_with(unknown);
    let now_ms = common::signal_time(&sim, &ma_params());
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(ManualClock::new(now_ms)))
            .await
            .unwrap();
    let range = format!("from={}&to={}", now_ms / 1000 - 3600, now_ms / 1000 + 3600);
    (common::spawn_on_broker(db, sim, broker).await, range)
}

/// What the terminals report on every read route, with the integers of docs/simulator.md.
async fn reads_show_unknown_values(app: &TestApp, t: &str) {
    let (s, b) = app.get("/api/v1/account", t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["margin_mode"], &b["margin_so_mode"], &b["trade_mode"]),
        (&json!("unknown_15"), &json!("unknown_14"), &json!("demo"))
    );

    let (s, b) = app.get("/api/v1/symbols", t).await;
    assert_eq!(s, 200, "{b}");
    let symbols = b["symbols"].as_array().unwrap();
    assert!(symbols.len() >= 5, "{b}");
    assert!(symbols.iter().all(|s| s["trade_calc_mode"] == "unknown_77"));
    let (s, b) = app.get("/api/v1/symbols?group=*USD*", t).await;
    assert_eq!(s, 200, "{b}");
    assert!(!b["symbols"].as_array().unwrap().is_empty());

    let (s, b) = app.get("/api/v1/symbols/EURUSD", t).await;
    assert_eq!(s, 200, "{b}");
    for (field, want) in [
        ("trade_calc_mode", "unknown_77"),
        ("swap_mode", "unknown_55"),
        ("trade_exemode", "unknown_44"),
        ("order_gtc_mode", "unknown_33"),
        ("chart_mode", "unknown_22"),
        ("swap_rollover3days", "unknown_12"),
        ("option_mode", "unknown_66"),
        ("option_right", "unknown_88"),
        ("trade_mode", "full"),
    ] {
        assert_eq!(b[field], want, "{field}: {b}");
    }
    let (s, b) = app.get("/api/v1/symbols/EURUSD/tick", t).await;
    assert_eq!(s, 200, "{b}");
}

/// Every route that returns enum values answers with `unknown_<n>` where the terminal reports one,
/// and trading on such a symbol works: orders, checks, closes, the journal, a dry run.
async fn answers_carry_unknown_values(app: TestApp, range: &str) -> TestApp {
    let (t, account_id) = app.trader(10001).await;
    reads_show_unknown_values(&app, &t).await;

    // An order on a symbol whose calc, swap and execution modes the service does not know: the
    // filling follows the symbol's own bits.
    let (s, b) = app
        .post(
            "/api/v1/orders/check",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(0)), "{b}");
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");
    assert_eq!(b["request"]["type_filling"], "ioc", "{b}");
    let ticket = b["order"].as_u64().unwrap();
    let (s, b) = app.get("/api/v1/symbols/EURUSD", &t).await;
    assert_eq!(s, 200);
    let ask = b["ask"].as_f64().unwrap();
    let limit_price = ((ask - 0.01) * 1e5).round() / 1e5;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1, "price": limit_price}),
        )
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");
    let pending = b["order"].as_u64().unwrap();

    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    let p = &b["positions"][0];
    assert_eq!(
        (&p["ticket"], &p["type"], &p["reason"]),
        (&json!(ticket), &json!("buy"), &json!("unknown_97"))
    );
    let (s, b) = app.get("/api/v1/positions?symbol=EURUSD", &t).await;
    assert_eq!((s, b["positions"].as_array().unwrap().len()), (200, 1));
    let (s, b) = app.get("/api/v1/orders", &t).await;
    assert_eq!(s, 200, "{b}");
    let o = &b["orders"][0];
    assert_eq!(
        (&o["ticket"], &o["type"], &o["state"], &o["reason"]),
        (
            &json!(pending),
            &json!("buy_limit"),
            &json!("placed"),
            &json!("unknown_98")
        )
    );
    let (s, b) = app
        .put(
            &format!("/api/v1/orders/{pending}"),
            &t,
            json!({"sl": ((limit_price - 0.005) * 1e5).round() / 1e5}),
        )
        .await;
    assert_eq!((s, &b["changed"]), (200, &json!(true)), "{b}");
    let (s, b) = app.delete(&format!("/api/v1/orders/{pending}"), &t).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(&format!("/api/v1/positions/{ticket}/close"), &t, json!({}))
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");

    // History: reasons and the balance deal's type are unknown; trade deals keep buy and sell;
    // filled orders report an unknown state, the canceled one its own.
    let (s, b) = app.get(&format!("/api/v1/history/deals?{range}"), &t).await;
    assert_eq!(s, 200, "{b}");
    let deals = b["deals"].as_array().unwrap();
    assert_eq!(deals.len(), 3, "{b}");
    assert!(deals.iter().all(|d| d["reason"] == "unknown_99"), "{b}");
    let types: Vec<&str> = deals.iter().filter_map(|d| d["type"].as_str()).collect();
    assert!(
        types.contains(&"buy") && types.contains(&"sell"),
        "{types:?}"
    );
    assert!(types.contains(&"unknown_57"), "the balance deal: {types:?}");
    let (s, b) = app
        .get(&format!("/api/v1/history/deals?{range}&limit=1"), &t)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deals"].as_array().unwrap().len(), 1);
    assert!(b["next_cursor"].is_string(), "{b}");
    let (s, b) = app
        .get(&format!("/api/v1/history/orders?{range}"), &t)
        .await;
    assert_eq!(s, 200, "{b}");
    let orders = b["orders"].as_array().unwrap();
    let state_of = |ticket: u64| {
        orders
            .iter()
            .find(|o| o["ticket"] == ticket)
            .map(|o| o["state"].clone())
    };
    assert_eq!(state_of(ticket), Some(json!("unknown_17")), "{b}");
    assert_eq!(state_of(pending), Some(json!("canceled")), "{b}");
    assert!(orders.iter().all(|o| o["reason"] == "unknown_98"), "{b}");

    // The journal keeps and shows what was answered.
    let (s, b) = app.get("/api/v1/journal", &t).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "done"));

    // An algorithm sizes and plans on such a symbol.
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &t,
            json!({"account_id": account_id, "algorithm_id": MA, "dry_run": true,
                   "parameters": ma_params()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let trades = b["trades"].as_array().unwrap();
    assert_eq!(trades.len(), 1, "{b}");
    assert!(trades[0]["volume"].as_f64().unwrap() > 0.0, "{b}");

    // Risk checks read the same answers: the balance deal of unknown type (a gain) does not
    // hide or add a loss, and an order within the limits passes.
    let (s, _) = app
        .put(
            &format!("/api/v1/accounts/{account_id}"),
            &t,
            json!({"risk_limits": {"max_daily_loss": 0.05, "max_risk_per_trade": 0.02}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app.get("/api/v1/symbols/EURUSD", &t).await;
    assert_eq!(s, 200);
    let bid = b["bid"].as_f64().unwrap();
    let sl = ((bid - 0.002) * 1e5).round() / 1e5;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1, "sl": sl}),
        )
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_unknown_values_sqlite() {
    let (app, range) = app_at_signal(common::Db::Sqlite, shown_and_states()).await;
    answers_carry_unknown_values(app, &range)
        .await
        .shutdown()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_unknown_values_postgres() {
    if common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    let (app, range) = app_at_signal(common::Db::Postgres, shown_and_states()).await;
    answers_carry_unknown_values(app, &range)
        .await
        .shutdown()
        .await;
}

/// A request cannot send `unknown_<n>` (or any name not listed) in any enum field: 422
/// `validation_failed` naming the field, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_refuse_unknown_names() {
    common::run_on_with(
        common::Db::Sqlite,
        sim_with(UnknownEnums::shown()),
        |_| {},
        |app| async move {
            let (t, _) = app.trader(10001).await;
            let order = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
            for (field, value) in [
                ("type", "unknown_5"),
                ("type", "unknown_0"),
                ("type", "UNKNOWN_1"),
                ("type_filling", "unknown_1"),
                ("type_time", "unknown_0"),
            ] {
                let mut body = order.clone();
                body[field] = json!(value);
                for route in ["/api/v1/orders", "/api/v1/orders/check"] {
                    let (s, b) = app.post(route, &t, body.clone()).await;
                    assert_eq!((s, code(&b)), (422, "validation_failed"), "{route} {b}");
                    assert_eq!(fields(&b), vec![field], "{route} {b}");
                }
            }
            // A number is no way around it either.
            let mut body = order.clone();
            body["type"] = json!(5);
            let (s, b) = app.post("/api/v1/orders", &t, body).await;
            assert_eq!((s, fields(&b)), (422, vec!["type"]), "{b}");

            let (s, b) = app.post("/api/v1/orders", &t, order.clone()).await;
            assert_eq!(s, 200, "{b}");
            let ticket = b["order"].as_u64().unwrap();
            let (s, b) = app
                .post(
                    &format!("/api/v1/positions/{ticket}/close"),
                    &t,
                    json!({"type_filling": "unknown_2"}),
                )
                .await;
            assert_eq!((s, fields(&b)), (422, vec!["type_filling"]), "{b}");
            let (s, b) = app
                .get("/api/v1/symbols/EURUSD/rates?timeframe=unknown_16385", &t)
                .await;
            assert_eq!((s, fields(&b)), (422, vec!["timeframe"]), "{b}");
            let (s, b) = app.get("/api/v1/positions", &t).await;
            assert_eq!(
                (s, b["positions"].as_array().unwrap().len()),
                (200, 1),
                "only the valid order ran: {b}"
            );
            app
        },
    )
    .await;
}

/// A symbol whose trade mode the service does not know: the order goes to the trade server, which
/// enforces its own modes. A symbol whose filling modes it does not know: a market order or close
/// must name `type_filling` (422 naming it, nothing sent); pending orders use RETURN; algorithms
/// skip the trade and say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_trade_and_filling_modes_get_clear_answers() {
    let unknown = UnknownEnums {
        trade_mode: true,
        filling_mode: true,
        ..UnknownEnums::none()
    };
    let (app, _) = app_at_signal(common::Db::Sqlite, unknown).await;
    let (t, account_id) = app.trader(10001).await;
    let (s, b) = app.get("/api/v1/symbols/EURUSD", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["trade_mode"], &b["filling_mode"]),
        (&json!("unknown_9"), &json!(16))
    );
    let ask = b["ask"].as_f64().unwrap();

    let buy = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
    for route in ["/api/v1/orders", "/api/v1/orders/check"] {
        let (s, b) = app.post(route, &t, buy.clone()).await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{route} {b}");
        assert_eq!(fields(&b), vec!["type_filling"], "{b}");
        let message = b["error"]["details"]["fields"][0]["message"]
            .as_str()
            .unwrap();
        assert!(message.contains("filling_mode (16)"), "{message}");
    }
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!((s, b["positions"].as_array().unwrap().len()), (200, 0));
    let (_, j) = app.get("/api/v1/journal", &t).await;
    assert_eq!(j["entries"][0]["status"], "refused", "{j}");

    let mut named = buy.clone();
    named["type_filling"] = json!("ioc");
    let (s, b) = app.post("/api/v1/orders", &t, named).await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");
    let ticket = b["order"].as_u64().unwrap();
    let price = ((ask - 0.01) * 1e5).round() / 1e5;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1, "price": price}),
        )
        .await;
    assert_eq!(
        (s, &b["request"]["type_filling"]),
        (200, &json!("return")),
        "{b}"
    );

    let close = format!("/api/v1/positions/{ticket}/close");
    let (s, b) = app.post(&close, &t, json!({})).await;
    assert_eq!((s, fields(&b)), (422, vec!["type_filling"]), "{b}");
    let (s, b) = app.post(&close, &t, json!({"type_filling": "fok"})).await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");

    // The run plans nothing it cannot fill, and says why.
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &t,
            json!({"account_id": account_id, "algorithm_id": MA, "dry_run": true,
                   "parameters": ma_params()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["trades_executed"], 0, "{b}");
    let reason = b["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("filling_mode (16)"), "{reason}");
    app.shutdown().await;
}

/// An account whose trade mode the service does not know counts as live: it may be real money.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_account_trade_mode_counts_as_live() {
    let unknown = UnknownEnums {
        account_trade_mode: true,
        ..UnknownEnums::none()
    };
    let (app, _) = app_at_signal(common::Db::Sqlite, unknown).await;
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &t,
            json!({"account_name": "a", "login": "10001", "password": "Sim-10001!",
                   "server": "Sim-Demo", "account_type": "demo"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "account_type_mismatch"), "{b}");
    let account_id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "odd mode")
        .await;
    let (s, b) = app.get("/api/v1/account", &t).await;
    assert_eq!((s, &b["trade_mode"]), (200, &json!("unknown_13")), "{b}");
    let run = json!({"account_id": account_id, "algorithm_id": MA, "dry_run": true,
                     "parameters": ma_params()});
    let (s, b) = app
        .post("/api/v1/algorithms/execute", &t, run.clone())
        .await;
    assert_eq!((s, code(&b)), (422, "live_confirmation_required"), "{b}");
    let mut confirmed = run;
    confirmed["confirm_live"] = json!(true);
    let (s, b) = app.post("/api/v1/algorithms/execute", &t, confirmed).await;
    assert_eq!(s, 200, "{b}");
    app.shutdown().await;
}

/// An order whose answer was lost is settled by the reconciler from its deal, though the history
/// reports its state as one the service does not know.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_settles_an_unknown_state_by_its_deal() {
    let sim = SimConfig {
        faults: FaultConfig {
            order_answer_lost: 1.0,
            ..FaultConfig::none()
        },
        ..sim_with(shown_and_states())
    };
    common::run_on_with(
        common::Db::Sqlite,
        sim,
        |_| {},
        |app| async move {
            let (t, _) = app.trader(10001).await;
            let (s, b) = app
                .post(
                    "/api/v1/orders",
                    &t,
                    json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
                )
                .await;
            assert_eq!((s, code(&b)), (504, "terminal_timeout"), "{b}");
            let id = b["error"]["details"]["journal_id"]
                .as_str()
                .unwrap()
                .to_string();
            let (s, h) = app.get("/api/v1/history/orders", &t).await;
            assert_eq!(s, 200, "{h}");
            assert_eq!(h["orders"][0]["state"], "unknown_17", "{h}");

            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            let entry = loop {
                let (s, b) = app.get(&format!("/api/v1/journal/{id}"), &t).await;
                assert_eq!(s, 200, "{b}");
                if !["unknown", "pending"].contains(&b["entry"]["status"].as_str().unwrap()) {
                    break b["entry"].clone();
                }
                assert!(std::time::Instant::now() < deadline, "still in doubt: {b}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            assert_eq!(
                (&entry["status"], &entry["retcode"]),
                (&json!("done"), &json!(10009)),
                "{entry}"
            );
            assert_eq!(entry["order"], h["orders"][0]["ticket"], "{entry}");
            assert!(entry["deal"].as_u64().is_some(), "{entry}");
            app
        },
    )
    .await;
}

/// The same through `mt5-bridge sim-agent`: the agent protocol carries MT5's integers, and the
/// bridge's agent client reads them into the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_agent_carries_unknown_integers_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let agent = start_agent_with(
        dir.path(),
        free_port(),
        &[("MT5_SIM_UNKNOWN_ENUMS", "true,order_state".to_string())],
    )
    .await;

    // The protocol itself: integers, as a real terminal's agent gives them.
    let client = reqwest::Client::new();
    let tag = "ab".repeat(32);
    let login = client
        .post(format!("{}/v1/login", agent.url))
        .bearer_auth(AGENT_TOKEN)
        .json(
            &json!({"login": 10002, "password": "Sim-10002!", "server": "Sim-Demo",
                      "session_tag": tag, "timeout_ms": 10000}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    let login: Value = login.json().await.unwrap();
    assert_eq!(login["account_info"]["margin_mode"], 15, "{login}");
    let expected = json!({"login": 10002, "server": "Sim-Demo", "session_tag": tag});
    let call = |op: &'static str, args: Value| {
        let client = client.clone();
        let url = format!("{}/v1/call/{op}", agent.url);
        let body = json!({"expected": expected, "args": args});
        async move {
            let resp = client
                .post(url)
                .bearer_auth(AGENT_TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200, "{op}");
            resp.json::<Value>().await.unwrap()["result"].clone()
        }
    };
    let info = call("symbol_info", json!({"symbol": "EURUSD"})).await;
    assert_eq!(
        (&info["trade_calc_mode"], &info["trade_exemode"]),
        (&json!(77), &json!(44))
    );
    let deals = call(
        "history_deals",
        json!({"date_from": 0, "date_to": 4_000_000_000i64}),
    )
    .await;
    assert_eq!(
        (&deals[0]["type"], &deals[0]["reason"]),
        (&json!(57), &json!(99))
    );

    // The bridge on that agent: every route answers, with unknown_<n>.
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", format!("agent:{}", agent.url));
        env.insert("AGENT_TOKEN", AGENT_TOKEN.to_string());
    })
    .await;
    let (t, _) = app.trader(10001).await;
    reads_show_unknown_values(&app, &t).await;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "sell", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, &b["retcode"]), (200, &json!(10009)), "{b}");
    let ticket = b["order"].as_u64().unwrap();
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (&b["positions"][0]["type"], &b["positions"][0]["reason"]),
        (&json!("sell"), &json!("unknown_97"))
    );
    let (s, b) = app.get("/api/v1/orders", &t).await;
    assert_eq!((s, &b["orders"]), (200, &json!([])), "{b}");
    let (s, b) = app.get("/api/v1/history/deals", &t).await;
    assert_eq!(s, 200, "{b}");
    let deals = b["deals"].as_array().unwrap();
    assert!(deals.iter().any(|d| d["type"] == "unknown_57"), "{b}");
    assert!(deals.iter().all(|d| d["reason"] == "unknown_99"), "{b}");
    let (s, b) = app.get("/api/v1/history/orders?limit=10", &t).await;
    assert_eq!(s, 200, "{b}");
    let order = b["orders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["ticket"] == ticket)
        .unwrap();
    assert_eq!(
        (&order["state"], &order["reason"]),
        (&json!("unknown_17"), &json!("unknown_98"))
    );
    app.shutdown().await;
}
