//! Algorithms end to end on the simulated broker: the seed's request, risk sizing, the journal and
//! runs, dry runs, live confirmation, saved configurations and isolation, and levels the broker
//! accepts (the tick grid, the stops and freeze levels).


use crate::common;

use mt5::clock::ManualClock;
use mt5::util::{PriceGrid, Rounding};
use mt5_bridge::algorithms::levels::{self, Quote, Rule};
use mt5_bridge::algorithms::strategies::Intent;
use mt5_sim::market::Market;
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

async fn app_at_signal() -> (common::TestApp, ManualClock) {
    let sim = common::sim_config();
    let params = json!({"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3});
    let clock = ManualClock::new(common::signal_time(&sim, &params));
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(clock.clone()))
            .await
            .unwrap();
    (
        common::spawn_on_broker(common::Db::Sqlite, sim, broker).await,
        clock,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_request_runs_risk_sized_and_journaled() {
    let (app, _clock) = app_at_signal().await;
    let t = app.token(Uuid::new_v4());
    let account_id = app
        .connect(&t, 5042856355, "V!QzRxQ7", "MetaQuotes-Demo", "demo")
        .await;

    // The seed's request, with a built-in algorithm id.
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &t,
            json!({"account_id": account_id, "algorithm_id": "ma_crossover",
                   "parameters": {"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    let trades = b["trades"].as_array().unwrap();
    assert_eq!(b["trades_executed"], trades.len());
    assert!(!trades.is_empty(), "the signal produced a trade: {b}");
    let run_id = b["run_id"].as_str().unwrap().to_string();
    let trade = &trades[0];
    assert_eq!(trade["symbol"], "EURUSD");
    assert!(["buy", "sell"].contains(&trade["type"].as_str().unwrap()));
    let ticket = trade["ticket"].as_u64().unwrap();

    // Sized by risk: 1 % of 100000 USD lost at the SL, rounded down to the volume step.
    let (_, p) = app.get("/api/v1/positions", &t).await;
    let pos = p["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ticket"] == ticket)
        .unwrap()
        .clone();
    let sl_distance = (pos["price_open"].as_f64().unwrap() - pos["sl"].as_f64().unwrap()).abs();
    let expected = (1000.0 / (sl_distance / 0.00001 * 1.0) / 0.01 + 1e-9).floor() * 0.01;
    let volume = pos["volume"].as_f64().unwrap();
    assert!(
        (volume - expected).abs() < 0.0101,
        "volume {volume} vs risk-sized {expected}"
    );
    assert_eq!(trade["volume"], pos["volume"]);

    // Journaled with the algorithm and the run; the run is listed.
    let (_, j) = app.get("/api/v1/journal", &t).await;
    let e = &j["entries"][0];
    assert_eq!(e["source"], "algorithm");
    assert_eq!(e["algorithm_id"], "ma_crossover");
    assert_eq!(e["run_id"], run_id.as_str());
    assert_eq!(e["status"], "done");
    let (_, r) = app.get("/api/v1/algorithms/runs", &t).await;
    assert_eq!(r["runs"][0]["id"], run_id.as_str());
    assert_eq!(r["runs"][0]["status"], "done");
    assert_eq!(r["runs"][0]["trades_executed"], trades.len());
    let (s, r) = app
        .get(&format!("/api/v1/algorithms/runs/{run_id}"), &t)
        .await;
    assert_eq!(s, 200);
    assert_eq!(r["run"]["account_id"], account_id.as_str());

    // Executing did not change the current account (it is still the default).
    let (_, c) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!(c["account"]["id"], account_id.as_str());

    // A dry run plans the same kind of trade and sends nothing.
    let before = p["positions"].as_array().unwrap().len();
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &t,
            json!({"account_id": account_id, "algorithm_id": "ma_crossover", "dry_run": true,
            "parameters": {"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["trades"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["ticket"].is_null()),
        "{b}"
    );
    let (_, p) = app.get("/api/v1/positions", &t).await;
    assert_eq!(p["positions"].as_array().unwrap().len(), before);

    // Risk limits apply to algorithm orders: refused entries land in skipped.
    let (s, _) = app
        .put(
            &format!("/api/v1/accounts/{account_id}"),
            &t,
            json!({"risk_limits": {"max_risk_per_trade": 0.0001}}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &t,
            json!({"account_id": account_id, "algorithm_id": "ma_crossover",
            "parameters": {"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["trades_executed"], 0);
    let reasons: Vec<&str> = b["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap())
        .collect();
    assert!(
        !reasons.is_empty() && reasons.iter().all(|r| r.contains("risk_limit_exceeded")),
        "{b}"
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_saved_configurations() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (ta, tb) = (app.token(Uuid::new_v4()), app.token(Uuid::new_v4()));
    let a_account = app.connect(&ta, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    let live = {
        let (s, b) = app
            .post("/api/v1/accounts/connect", &ta, json!({"account_name": "live", "login": 20001, "password": "Live-20001!", "server": "Sim-Live", "account_type": "live"}))
            .await;
        assert_eq!(s, 201, "{b}");
        b["account_id"].as_str().unwrap().to_string()
    };
    let body = |account: &str, algo: &str| json!({"account_id": account, "algorithm_id": algo, "parameters": {"symbol": "EURUSD"}});

    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &ta,
            body(&live, "ma_crossover"),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "live_confirmation_required"));
    let mut confirmed = body(&live, "ma_crossover");
    confirmed["confirm_live"] = json!(true);
    confirmed["dry_run"] = json!(true);
    let (s, b) = app.post("/api/v1/algorithms/execute", &ta, confirmed).await;
    assert_eq!(s, 200, "{b}");

    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &tb,
            body(&a_account, "ma_crossover"),
        )
        .await;
    assert_eq!(
        (s, code(&b)),
        (404, "account_not_found"),
        "another user's account"
    );
    for algo in ["nope", &Uuid::new_v4().to_string()] {
        let (s, b) = app
            .post("/api/v1/algorithms/execute", &ta, body(&a_account, algo))
            .await;
        assert_eq!((s, code(&b)), (404, "algorithm_not_found"), "{algo}");
    }
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &ta,
            json!({"account_id": a_account, "algorithm_id": "rsi_reversion",
            "parameters": {"symbol": "EURUSD", "risk_per_trade": 2, "colour": "red"}}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    let fields: Vec<&str> = b["error"]["details"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"parameters.risk_per_trade") && fields.contains(&"parameters.colour"),
        "{fields:?}"
    );

    // The catalogue and saved configurations.
    let (s, b) = app.get("/api/v1/algorithms", &ta).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = b["builtin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for n in ["ma_crossover", "rsi_reversion", "donchian_breakout"] {
        assert!(names.contains(&n), "{names:?}");
    }
    assert!(b["builtin"][0]["parameters"].is_object() || b["builtin"][0]["parameters"].is_array());
    assert_eq!(b["saved"], json!([]));
    let (s, b) = app
        .post("/api/v1/algorithms", &ta, json!({"name": "my breakout", "kind": "donchian_breakout", "parameters": {"symbol": "GBPUSD", "channel_period": 30}}))
        .await;
    assert_eq!(s, 201, "{b}");
    let config_id = b["algorithm"]["id"].as_str().unwrap().to_string();
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &ta,
            json!({"name": "bad", "kind": "martingale", "parameters": {"symbol": "X"}}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    let (s, b) = app
        .put(
            &format!("/api/v1/algorithms/{config_id}"),
            &ta,
            json!({"parameters": {"symbol": "GBPUSD", "channel_period": 40}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["algorithm"]["parameters"]["channel_period"], 40);
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &ta,
            json!({"account_id": a_account, "algorithm_id": config_id, "dry_run": true}),
        )
        .await;
    assert_eq!(s, 200, "a saved configuration runs: {b}");
    let (_, runs) = app.get("/api/v1/algorithms/runs", &ta).await;
    assert_eq!(runs["runs"][0]["algorithm_id"], config_id.as_str());
    assert_eq!(runs["runs"][0]["algorithm"], "donchian_breakout");

    // Another user sees none of it.
    for path in [
        format!("/api/v1/algorithms/{config_id}"),
        format!(
            "/api/v1/algorithms/runs/{}",
            runs["runs"][0]["id"].as_str().unwrap()
        ),
    ] {
        let (s, b) = app.get(&path, &tb).await;
        assert_eq!(s, 404, "{path}: {b}");
    }
    let (_, b) = app.get("/api/v1/algorithms", &tb).await;
    assert_eq!(b["saved"], json!([]));
    let (_, b) = app.get("/api/v1/algorithms/runs", &tb).await;
    assert_eq!(b["runs"], json!([]));
    let (s, b) = app
        .delete(&format!("/api/v1/algorithms/{config_id}"), &tb)
        .await;
    assert_eq!((s, code(&b)), (404, "algorithm_not_found"));
    let (s, _) = app
        .delete(&format!("/api/v1/algorithms/{config_id}"), &ta)
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .get(&format!("/api/v1/algorithms/{config_id}"), &ta)
        .await;
    assert_eq!(s, 404);
    app.shutdown().await;
}

/// Users may write their own configurations (and account rows) directly through Supabase's Data
/// API, past the API's checks. A configuration or risk limits the API would refuse must be
/// refused by name when it is about to run: not a 500, not defaults in its place, and no run.
async fn planted_configurations(app: common::TestApp) -> common::TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let account_id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "algo")
        .await;
    let valid = r#"{"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3}"#;
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &t,
            json!({"name": "mine", "kind": "ma_crossover", "parameters": serde_json::from_str::<Value>(valid).unwrap()}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let config_id = b["algorithm"]["id"].as_str().unwrap().to_string();
    let run_it = json!({"account_id": account_id, "algorithm_id": config_id, "dry_run": true});

    for (kind, parameters, field) in [
        (
            "ma_crossover",
            r#"{"symbol": "EURUSD", "max_positions": "lots"}"#,
            "parameters.max_positions",
        ),
        (
            "ma_crossover",
            r#"{"symbol": "EURUSD", "max_positions": -5}"#,
            "parameters.max_positions",
        ),
        (
            "ma_crossover",
            r#"{"symbol": "EURUSD", "risk_per_trade": 7}"#,
            "parameters.risk_per_trade",
        ),
        (
            "ma_crossover",
            r#"{"symbol": "EURUSD", "colour": "red"}"#,
            "parameters.colour",
        ),
        ("ma_crossover", r#""EURUSD""#, "parameters"),
        ("ma_crossover", "[1, 2]", "parameters"),
        ("martingale", valid, "kind"),
    ] {
        let changed = app
            .as_data_api_user(
                user,
                &format!(
                    "update algorithm_configs set kind = '{kind}', parameters = '{parameters}' \
                     where id = '{config_id}'"
                ),
            )
            .await;
        assert_eq!(changed, 1, "configurations are the user's to write");
        let (s, b) = app
            .post("/api/v1/algorithms/execute", &t, run_it.clone())
            .await;
        assert_eq!(
            (s, code(&b)),
            (422, "validation_failed"),
            "{kind} {parameters}: {b}"
        );
        let fields = b["error"]["details"]["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "{kind} {parameters}: {b}");
        assert_eq!(fields[0]["field"], field, "{kind} {parameters}: {b}");
        assert!(
            fields[0]["message"]
                .as_str()
                .unwrap()
                .contains("saved configuration"),
            "{b}"
        );
        // The request's own value does not excuse the stored one.
        let mut overridden = run_it.clone();
        overridden["parameters"] = json!({"max_positions": 2});
        let (s, b) = app.post("/api/v1/algorithms/execute", &t, overridden).await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    }
    // Bad risk limits on the account refuse a built-in strategy's run the same way.
    app.as_data_api_user(
        user,
        &format!(
            "update algorithm_configs set kind = 'ma_crossover', parameters = '{valid}' \
             where id = '{config_id}'"
        ),
    )
    .await;
    app.as_data_api_user(
        user,
        &format!(
            "update mt5_accounts set risk_limits = '{{\"max_positions\": \"lots\"}}' \
             where id = '{account_id}'"
        ),
    )
    .await;
    for algorithm in ["ma_crossover", config_id.as_str()] {
        let (s, b) = app
            .post(
                "/api/v1/algorithms/execute",
                &t,
                json!({"account_id": account_id, "algorithm_id": algorithm, "dry_run": true,
                       "parameters": {"symbol": "EURUSD"}}),
            )
            .await;
        assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
        assert_eq!(
            b["error"]["details"]["fields"][0]["field"], "risk_limits.max_positions",
            "{b}"
        );
    }
    // No run was recorded for any of it.
    let (_, runs) = app.get("/api/v1/algorithms/runs", &t).await;
    assert_eq!(runs["runs"], json!([]), "{runs}");

    // Repaired through the API, the configuration runs.
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{account_id}"),
            &t,
            json!({"risk_limits": null}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.post("/api/v1/algorithms/execute", &t, run_it).await;
    assert_eq!(s, 200, "{b}");
    app
}
both_backends!(
    planted_configurations_are_refused_by_name,
    planted_configurations
);

/// Orders the broker received for one MT5 login (its audit trail).
async fn orders_sent(app: &common::TestApp, login: u64) -> usize {
    app.broker
        .audit()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.login == login && r.operation == "order_send")
        .count()
}

/// Live confirmation cannot be dodged by clearing or rewriting the row's `account_type`: the
/// simulator's 20001 on Sim-Live is a real-mode account, and its terminal says so. The label is
/// cleared through the API and rewritten as the user could through the Data API (on Postgres as
/// role `authenticated` with the user's claims); each time a run without `confirm_live`, dry or
/// not, answers `422 live_confirmation_required` and the broker receives no order. Confirmed, the
/// run trades.
async fn live_confirmation_follows_the_terminal(db: common::Db) {
    if db == common::Db::Postgres && common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    let sim = common::sim_config();
    let params = json!({"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3});
    let clock = ManualClock::new(common::signal_time(&sim, &params));
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(clock.clone()))
            .await
            .unwrap();
    let app = common::spawn_on_broker(db, sim, broker).await;
    let user = Uuid::new_v4();
    let t = app.token(user);
    let id = app
        .connect(&t, 20001, "Live-20001!", "Sim-Live", "real money")
        .await;
    let (_, b) = app.get(&format!("/api/v1/accounts/{id}"), &t).await;
    assert_eq!(b["account"]["account_type"], "live", "from the terminal");
    let run = |dry_run: bool, confirm_live: Option<bool>| {
        let mut body = json!({"account_id": id, "algorithm_id": "ma_crossover",
                              "dry_run": dry_run, "parameters": params.clone()});
        if let Some(c) = confirm_live {
            body["confirm_live"] = json!(c);
        }
        body
    };
    let refused_everywhere = |label: String| {
        let app = &app;
        let t = &t;
        let run = &run;
        async move {
            for dry_run in [false, true] {
                for confirm in [None, Some(false)] {
                    let (s, b) = app
                        .post("/api/v1/algorithms/execute", t, run(dry_run, confirm))
                        .await;
                    assert_eq!(
                        (s, code(&b)),
                        (422, "live_confirmation_required"),
                        "{label}, dry_run {dry_run}, confirm_live {confirm:?}: {b}"
                    );
                }
            }
        }
    };

    // Cleared through the API.
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"account_type": null}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["account"]["account_type"], Value::Null);
    refused_everywhere("cleared by PUT".into()).await;

    // Rewritten outside the API: cleared, a false `demo`, another spelling of live.
    for label in ["null", "'demo'", "'Live'"] {
        let changed = app
            .as_data_api_user(
                user,
                &format!("update mt5_accounts set account_type = {label} where id = '{id}'"),
            )
            .await;
        assert_eq!(changed, 1, "the row is the user's to write");
        refused_everywhere(format!("rewritten to {label}")).await;
    }
    assert_eq!(orders_sent(&app, 20001).await, 0, "nothing was sent");
    let (_, p) = app.get("/api/v1/positions", &t).await;
    assert_eq!(p["positions"], json!([]), "{p}");
    // The terminal's refusals are recorded as failed runs, with the reason.
    let (_, r) = app.get("/api/v1/algorithms/runs", &t).await;
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 16, "{r}");
    for run in runs {
        assert_eq!(run["status"], "failed", "{run}");
        assert_eq!(run["trades_executed"], 0, "{run}");
        assert!(
            run["error"]
                .as_str()
                .unwrap()
                .starts_with("live_confirmation_required"),
            "{run}"
        );
    }

    // Confirmed, the run trades.
    let (s, b) = app
        .post("/api/v1/algorithms/execute", &t, run(false, Some(true)))
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["trades_executed"].as_u64().unwrap() >= 1, "{b}");
    assert!(orders_sent(&app, 20001).await >= 1);
    let (_, p) = app.get("/api/v1/positions", &t).await;
    assert!(!p["positions"].as_array().unwrap().is_empty(), "{p}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_confirmation_follows_the_terminal_sqlite() {
    live_confirmation_follows_the_terminal(common::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_confirmation_follows_the_terminal_postgres() {
    live_confirmation_follows_the_terminal(common::Db::Postgres).await;
}

// ------------------------------------------------------------------ what the broker accepts
//
// US100 in the simulator moves in ticks of 0.25 with 2 digits, has a stops level of 100 points
// (1.00) and a freeze level of 50 points (0.50); the broker refuses levels off the tick (10016)
// and inside the stops level (10016), and a close while the SL is inside the freeze level (10029).

/// The rule an entry's SL/TP break at the quote in `info` (None: the broker takes them).
fn stops_verdict(info: &mt5::SymbolInfo, entry: &Intent) -> Option<Rule> {
    let Intent::Entry { side, sl, tp, .. } = entry else {
        return None;
    };
    let q = Quote {
        bid: info.bid,
        ask: info.ask,
    };
    levels::check_entry(info, *side, q, *sl, tp.unwrap_or(0.0))
        .err()
        .map(|v| v.rule)
}

/// A whole number of US100 ticks (0.25), counted in integer ticks.
fn on_the_tick(x: &Value) -> bool {
    let x = x.as_f64().unwrap();
    mt5::util::volume_units(x, 0.25).is_some()
}

/// An app on the simulator whose clock stands at `t`.
async fn app_at(sim: mt5_sim::config::SimConfig, t: i64) -> (common::TestApp, ManualClock) {
    let clock = ManualClock::new(t);
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(clock.clone()))
            .await
            .unwrap();
    (
        common::spawn_on_broker(common::Db::Sqlite, sim, broker).await,
        clock,
    )
}

fn reasons(b: &Value) -> Vec<String> {
    b["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reason"].as_str().unwrap().to_string())
        .collect()
}

/// An ATR stop of 0.01 ATR lies inside the stops level: the entry is skipped with reason
/// `stops_level`, nothing is journaled and the broker receives nothing; the run records the skip
/// and a dry run reports the same one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_inside_the_stops_level_is_skipped_and_never_sent() {
    let sim = common::sim_config();
    let params = json!({"symbol": "US100", "risk_per_trade": 0.01, "max_positions": 3,
                        "atr_sl_multiplier": 0.01});
    let t = common::signal_time_where(&sim, &params, |info, e| {
        stops_verdict(info, e) == Some(Rule::StopsLevel)
    });
    let (app, _clock) = app_at(sim, t).await;
    let token = app.token(Uuid::new_v4());
    let account_id = app
        .connect(&token, 10001, "Sim-10001!", "Sim-Demo", "index")
        .await;
    let run = |dry_run: bool| {
        json!({"account_id": account_id, "algorithm_id": "ma_crossover", "dry_run": dry_run,
               "parameters": params.clone()})
    };

    let (s, live) = app
        .post("/api/v1/algorithms/execute", &token, run(false))
        .await;
    assert_eq!(s, 200, "{live}");
    assert_eq!(live["trades_executed"], 0, "{live}");
    let live_reasons = reasons(&live);
    assert_eq!(live_reasons.len(), 1, "{live}");
    assert!(
        live_reasons[0].starts_with("stops_level: SL "),
        "{}",
        live_reasons[0]
    );
    assert_eq!(live["skipped"][0]["intent"]["action"], "open");
    assert_eq!(live["skipped"][0]["intent"]["symbol"], "US100");

    // Nothing reached the broker and nothing was journaled.
    assert_eq!(orders_sent(&app, 10001).await, 0);
    let (_, j) = app.get("/api/v1/journal", &token).await;
    assert_eq!(j["entries"], json!([]), "{j}");
    let (_, p) = app.get("/api/v1/positions", &token).await;
    assert_eq!(p["positions"], json!([]), "{p}");

    // The run records it.
    let run_id = live["run_id"].as_str().unwrap();
    let (_, r) = app
        .get(&format!("/api/v1/algorithms/runs/{run_id}"), &token)
        .await;
    assert_eq!(r["run"]["status"], "done", "{r}");
    assert_eq!(r["run"]["skipped"], live["skipped"], "{r}");

    // A dry run plans nothing and reports the same skip.
    let (s, dry) = app
        .post("/api/v1/algorithms/execute", &token, run(true))
        .await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(dry["trades"], json!([]), "{dry}");
    assert_eq!(reasons(&dry), live_reasons);
    assert_eq!(orders_sent(&app, 10001).await, 0);
    app.shutdown().await;
}

/// With the default ATR stop the entry is sent, and every price of it (the fill, the SL, the
/// TP) is a whole number of ticks of 0.25, as read back from the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn algorithm_prices_are_whole_ticks() {
    let sim = common::sim_config();
    let params = json!({"symbol": "US100", "risk_per_trade": 0.01, "max_positions": 3,
                        "tp_rr": 1.7});
    let t = common::signal_time_where(&sim, &params, |info, e| stops_verdict(info, e).is_none());
    let (app, _clock) = app_at(sim, t).await;
    let token = app.token(Uuid::new_v4());
    let account_id = app
        .connect(&token, 10001, "Sim-10001!", "Sim-Demo", "index")
        .await;
    let (s, b) = app
        .post(
            "/api/v1/algorithms/execute",
            &token,
            json!({"account_id": account_id, "algorithm_id": "ma_crossover",
                   "parameters": params}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["trades_executed"], 1, "{b}");
    let trade = &b["trades"][0];
    for field in ["price", "sl", "tp"] {
        assert!(on_the_tick(&trade[field]), "{field}: {trade}");
    }
    let (_, p) = app.get("/api/v1/positions", &token).await;
    let pos = &p["positions"][0];
    assert_eq!(pos["ticket"], trade["ticket"], "{p}");
    assert_eq!(
        (&pos["sl"], &pos["tp"]),
        (&trade["sl"], &trade["tp"]),
        "{p}"
    );
    for field in ["price_open", "sl", "tp"] {
        assert!(on_the_tick(&pos[field]), "{field}: {pos}");
    }
    // The journal holds the levels that were sent.
    let (_, j) = app.get("/api/v1/journal", &token).await;
    let e = &j["entries"][0];
    assert_eq!(e["status"], "done", "{j}");
    assert_eq!(
        (&e["request"]["sl"], &e["request"]["tp"]),
        (&pos["sl"], &pos["tp"])
    );
    app.shutdown().await;
}

/// A position of the algorithm whose SL lies within the freeze level of the bid cannot be closed:
/// the exit is skipped with reason `freeze_level`, no close is sent (live or dry), and the
/// position stays open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exit_inside_the_freeze_level_is_skipped_and_never_sent() {
    let sim = common::sim_config();
    // A down-cross: the strategy closes its longs (and would sell, but one position is its limit).
    let params = json!({"symbol": "US100", "risk_per_trade": 0.01, "max_positions": 1});
    let feed = mt5_sim::prices::PriceFeed::new(
        sim.seed,
        mt5_sim::symbols::builtin_symbols(),
        sim.server_time_offset_s,
    );
    let bid = |at: i64| feed.quote("US100", at).unwrap().bid;
    let grid = PriceGrid::of(&mt5_sim::symbols::builtin_symbol("US100").unwrap().info);
    // The exit moment, and an SL 0.25 to 0.50 under its bid (within the freeze level), placed
    // earlier when the bid stood more than the stops level above it and never fell to it since.
    let mut found = None;
    let mut skip_until = i64::MAX;
    while found.is_none() {
        let t = common::signal_time_where(&sim, &params, |info, e| {
            info.time * 1000 < skip_until
                && matches!(
                    e,
                    Intent::Entry {
                        side: mt5::PositionType::Sell,
                        ..
                    }
                )
        });
        skip_until = t - 60_000;
        let sl = grid.round(bid(t) - 0.25, Rounding::Down).unwrap();
        let lowest_since = |from: i64| {
            (0..=(t - from) / 250)
                .map(|k| bid(from + k * 250))
                .fold(f64::INFINITY, f64::min)
        };
        found = (1..=600i64)
            .map(|k| t - k * 1000)
            .find(|&at| bid(at) - sl > 1.5 && lowest_since(at) > sl)
            .map(|at| (t, at, sl));
    }
    let (t, placed_at, sl) = found.unwrap();

    let (app, clock) = app_at(sim, placed_at).await;
    let token = app.token(Uuid::new_v4());
    let account_id = app
        .connect(&token, 10001, "Sim-10001!", "Sim-Demo", "index")
        .await;
    let magic = mt5_bridge::algorithms::executor::magic_for("ma_crossover");
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &token,
            json!({"symbol": "US100", "type": "buy", "volume": 0.1, "sl": sl, "magic": magic}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let ticket = b["order"].as_u64().unwrap();
    assert_eq!(orders_sent(&app, 10001).await, 1);

    clock.set(t);
    let run = |dry_run: bool| {
        json!({"account_id": account_id, "algorithm_id": "ma_crossover", "dry_run": dry_run,
               "parameters": params.clone()})
    };
    for dry_run in [true, false] {
        let (s, b) = app
            .post("/api/v1/algorithms/execute", &token, run(dry_run))
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["trades"], json!([]), "dry_run {dry_run}: {b}");
        let close = b["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["intent"]["action"] == "close")
            .unwrap_or_else(|| panic!("no exit among {b}"));
        assert_eq!(close["intent"]["ticket"], ticket);
        let reason = close["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("freeze_level: the position's SL "),
            "{reason}"
        );
    }
    // Only the placement reached the broker; the position is still open.
    assert_eq!(orders_sent(&app, 10001).await, 1);
    let (_, p) = app.get("/api/v1/positions", &token).await;
    assert_eq!(p["positions"][0]["ticket"], ticket, "{p}");
    let (_, j) = app.get("/api/v1/journal", &token).await;
    assert_eq!(j["entries"].as_array().unwrap().len(), 1, "{j}");
    app.shutdown().await;
}

/// Parameters each valid on their own that contradict each other are `invalid_combination`,
/// naming the second; with another parameter at fault too, the whole is `validation_failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contradicting_parameters_are_an_invalid_combination() {
    let app = common::spawn(common::Db::Sqlite).await;
    let t = app.token(Uuid::new_v4());
    let create = |parameters: serde_json::Value| json!({"name": format!("c-{}", Uuid::new_v4()), "kind": "ma_crossover", "parameters": parameters});
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &t,
            create(json!({"symbol": "EURUSD", "fast_period": 30, "slow_period": 10})),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_combination"), "{b}");
    assert_eq!(
        b["error"]["details"]["fields"],
        json!([{"field": "parameters.slow_period", "message": "must be greater than fast_period"}])
    );
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &t,
            create(json!({"symbol": "EUR USD", "fast_period": 30, "slow_period": 10})),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"), "{b}");
    // Whole numbers written as floats are whole numbers.
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &t,
            create(json!({"symbol": "EURUSD", "fast_period": 10.0, "slow_period": 30.0})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // A name in use is a conflict with what is saved, not an invalid field.
    let name = b["algorithm"]["name"].clone();
    let (s, b) = app
        .post(
            "/api/v1/algorithms",
            &t,
            json!({"name": name, "kind": "ma_crossover", "parameters": {"symbol": "EURUSD"}}),
        )
        .await;
    assert_eq!((s, code(&b)), (409, "algorithm_exists"), "{b}");
    // New parameters that do not fit the saved strategy (kind left out) are a combination.
    let id = {
        let (_, list) = app.get("/api/v1/algorithms", &t).await;
        list["saved"][0]["id"].as_str().unwrap().to_string()
    };
    let (s, b) = app
        .put(
            &format!("/api/v1/algorithms/{id}"),
            &t,
            json!({"parameters": {"symbol": "EURUSD", "channel_period": 20}}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_combination"), "{b}");
    app.shutdown().await;
}
