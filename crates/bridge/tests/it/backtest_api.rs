//! Backtests through the API on the simulated broker: submission checks, the job to its report,
//! the bar cache, sweeps and their ranking, cancellation, the daily budget, isolation between
//! users, and a replica killed mid-sweep.

use crate::common;
use crate::common::routes;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

fn fields(b: &Value) -> Vec<String> {
    b["error"]["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["field"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn days_ago(d: i64) -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() - d * 86_400
}

fn body(account_id: &str, from: i64, to: i64) -> Value {
    json!({
        "account_id": account_id,
        "algorithm_id": "ma_crossover",
        "parameters": {"symbol": "EURUSD", "timeframe": "H1", "risk_per_trade": 0.01},
        "from": from,
        "to": to,
        "spread": "larger",
        "spread_points": 10,
        "commission_per_lot": 3.5,
        "slippage_points": 1,
    })
}

/// Polls the backtest until its status is one of `statuses` (60 s at most).
async fn wait_for(app: &common::TestApp, t: &str, id: &str, statuses: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (s, b) = app.get(&routes::backtest(id), t).await;
        assert_eq!(s, 200, "{b}");
        if statuses.contains(&b["status"].as_str().unwrap_or("")) {
            return b;
        }
        assert!(
            Instant::now() < deadline,
            "backtest still {}: {b}",
            b["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn all_trades(app: &common::TestApp, t: &str, id: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", routes::backtest_trades(id)),
            None => format!("{}?limit=2", routes::backtest_trades(id)),
        };
        let (s, b) = app.get(&path, t).await;
        assert_eq!(s, 200, "{b}");
        out.extend(b["trades"].as_array().unwrap().iter().cloned());
        match b["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

async fn a_backtest_runs_on_the_brokers_history_and_reads_it_once(
    app: common::TestApp,
) -> common::TestApp {
    let (t, account_id) = app.trader(10001).await;
    let (_, account) = app.get(routes::ACCOUNT, &t).await;
    let balance = account["balance"].as_f64().unwrap();
    let (from, to) = (days_ago(30), days_ago(1));
    let (s, b) = app
        .post(routes::BACKTESTS, &t, body(&account_id, from, to))
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["status"], "queued");
    assert_eq!(b["combinations"], 1);
    let id = b["id"].as_str().unwrap().to_string();

    let done = wait_for(&app, &t, &id, &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["progress"], 1.0);
    // The normalized request: the account's terms and the deposit it started with.
    let request = &done["request"];
    assert_eq!(request["initial_deposit"], balance);
    assert_eq!(request["account"]["currency"], "USD");
    assert_eq!(request["model"], "open_prices");
    assert_eq!(request["spread"], "larger");
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let result = &results[0];
    assert_eq!(result["rank"], 1);
    assert!(result["history_chunks_from_terminal"].as_u64().unwrap() >= 1);
    let report = &done["report"];
    assert_eq!(report, &result["report"]);
    assert_eq!(report["initial_deposit"], balance);
    // The first decision bar is at or after `from` (the warm-up came from before it).
    let start = time::OffsetDateTime::parse(
        done["history_start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!(
        start >= from && start < from + 2 * 3600,
        "{start} vs {from}"
    );

    // Its trades, paged, are the report's; the curve ends at the deposit plus the net profit.
    let trades = all_trades(&app, &t, &id).await;
    assert_eq!(
        trades.len() as u64,
        report["total_trades"].as_u64().unwrap()
    );
    assert!(
        !trades.is_empty(),
        "a month of H1 crosses its averages: {done}"
    );
    let net: f64 = trades
        .iter()
        .map(|t| {
            t["profit"].as_f64().unwrap()
                + t["swap"].as_f64().unwrap()
                + t["commission"].as_f64().unwrap()
        })
        .sum();
    assert!((net - report["net_profit"].as_f64().unwrap()).abs() < 1e-6);
    for tr in &trades {
        assert!(
            tr["commission"].as_f64().unwrap() < 0.0,
            "commission charged: {tr}"
        );
        assert!(["buy", "sell"].contains(&tr["type"].as_str().unwrap()));
        assert!(tr["time"].as_str().unwrap() <= tr["time_close"].as_str().unwrap());
    }
    assert!(report["costs"]["spread"].as_f64().unwrap() > 0.0);
    let (s, curve) = app
        .get(&format!("{}?points=5", routes::backtest_equity(&id)), &t)
        .await;
    assert_eq!(s, 200, "{curve}");
    let points = curve["points"].as_array().unwrap();
    assert!(!points.is_empty() && points.len() <= 5, "{curve}");
    let last = points.last().unwrap();
    let end = balance + report["net_profit"].as_f64().unwrap();
    assert!(
        (last["balance"].as_f64().unwrap() - end).abs() < 1e-6,
        "{last} vs {end}"
    );
    for p in points {
        let (lo, eq, hi) = (
            p["equity_min"].as_f64().unwrap(),
            p["equity"].as_f64().unwrap(),
            p["equity_max"].as_f64().unwrap(),
        );
        assert!(lo <= eq && eq <= hi, "{p}");
    }

    // The same backtest again: every bar from the cache, the same result.
    let (s, b) = app
        .post(routes::BACKTESTS, &t, body(&account_id, from, to))
        .await;
    assert_eq!(s, 202, "{b}");
    let again = wait_for(&app, &t, b["id"].as_str().unwrap(), &["done", "failed"]).await;
    assert_eq!(again["status"], "done", "{again}");
    assert_eq!(
        again["results"][0]["history_chunks_from_terminal"], 0,
        "{again}"
    );
    assert_eq!(again["report"], done["report"]);

    // Both are listed, newest first; a finished one is deleted for good.
    let (_, list) = app.get(&format!("{}?limit=1", routes::BACKTESTS), &t).await;
    assert_eq!(list["backtests"][0]["id"], again["id"]);
    let cursor = list["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = app
        .get(&format!("{}?cursor={cursor}", routes::BACKTESTS), &t)
        .await;
    assert_eq!(rest["backtests"][0]["id"], id.as_str());
    let (s, _) = app.delete(&routes::backtest(&id), &t).await;
    assert_eq!(s, 204);
    let (s, b) = app.get(&routes::backtest(&id), &t).await;
    assert_eq!((s, code(&b)), (404, "backtest_not_found"));
    app
}

both_backends!(
    backtest_end_to_end,
    a_backtest_runs_on_the_brokers_history_and_reads_it_once
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_checked_before_anything_runs() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account_id) = app.trader(10001).await;
    let good = body(&account_id, days_ago(10), days_ago(1));
    let with = |patch: Value| {
        let mut b = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            with(json!({"parameters": {"symbol": "EURUSD", "fast_period": 0}})),
            422,
            "validation_failed",
            "parameters.fast_period",
        ),
        (
            with(json!({"parameters": {"symbol": "EURUSD", "fast_period": 30, "slow_period": 10}})),
            422,
            "invalid_combination",
            "parameters.slow_period",
        ),
        (
            with(json!({"from": days_ago(1), "to": days_ago(2)})),
            422,
            "invalid_combination",
            "from",
        ),
        (
            with(json!({"from": days_ago(4000), "to": days_ago(1)})),
            422,
            "invalid_combination",
            "to",
        ),
        (
            with(
                json!({"sweep": {"fast_period": (2..19).collect::<Vec<_>>(), "slow_period": (20..37).collect::<Vec<_>>()}}),
            ),
            422,
            "invalid_combination",
            "sweep",
        ),
        (
            with(json!({"sweep": {"fast_period": []}})),
            422,
            "validation_failed",
            "sweep.fast_period",
        ),
        // Left out: required unless `bot_id` (a backtest of a bot), a rule across fields.
        (
            with(json!({"from": null})),
            422,
            "invalid_combination",
            "from",
        ),
        (
            with(json!({"model": "every_tick"})),
            422,
            "validation_failed",
            "model",
        ),
        (
            with(json!({"initial_deposit": -5})),
            422,
            "validation_failed",
            "initial_deposit",
        ),
        (
            with(json!({"rank_by": "luck"})),
            422,
            "validation_failed",
            "rank_by",
        ),
        (
            with(json!({"leverage": 500})),
            422,
            "validation_failed",
            "leverage",
        ),
        (
            with(json!({"spread": "bar", "spread_points": 5})),
            422,
            "invalid_combination",
            "spread_points",
        ),
        (
            with(json!({"algorithm_id": "martingale"})),
            404,
            "algorithm_not_found",
            "",
        ),
        (
            with(json!({"account_id": Uuid::new_v4()})),
            404,
            "account_not_found",
            "",
        ),
    ];
    for (b, status, want, field) in cases {
        let (s, got) = app.post(routes::BACKTESTS, &t, b.clone()).await;
        assert_eq!((s, code(&got)), (status, want), "{b} → {got}");
        if !field.is_empty() {
            assert!(
                fields(&got).contains(&field.to_string()),
                "{field} in {got}"
            );
        }
    }
    // Another user's account is not found either; nothing was queued for anyone.
    let (t2, _) = app.trader(10002).await;
    let (s, got) = app.post(routes::BACKTESTS, &t2, good.clone()).await;
    assert_eq!((s, code(&got)), (404, "account_not_found"));
    let (_, list) = app.get(routes::BACKTESTS, &t).await;
    assert_eq!(list["backtests"], json!([]));
    // An unknown symbol passes the submission (no terminal is read) and fails the job.
    let (s, b) = app
        .post(
            routes::BACKTESTS,
            &t,
            with(json!({"parameters": {"symbol": "NOSUCH"}})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let failed = wait_for(&app, &t, b["id"].as_str().unwrap(), &["done", "failed"]).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "symbol_not_found");
    assert_eq!(failed["report"], Value::Null);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_ranks_every_combination_and_other_users_see_none_of_it() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account_id) = app.trader(10001).await;
    let mut b = body(&account_id, days_ago(30), days_ago(1));
    b["sweep"] = json!({"fast_period": [5, 8], "slow_period": [20, 30]});
    b["rank_by"] = json!("max_drawdown_equity");
    let (s, created) = app.post(routes::BACKTESTS, &t, b).await;
    assert_eq!(s, 202, "{created}");
    assert_eq!(created["combinations"], 4);
    let id = created["id"].as_str().unwrap().to_string();
    let done = wait_for(&app, &t, &id, &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    let results = done["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let mut combos: Vec<(u64, u64)> = results
        .iter()
        .map(|r| {
            (
                r["parameters"]["fast_period"].as_u64().unwrap(),
                r["parameters"]["slow_period"].as_u64().unwrap(),
            )
        })
        .collect();
    combos.sort();
    assert_eq!(combos, vec![(5, 20), (5, 30), (8, 20), (8, 30)]);
    // Ranked lowest drawdown first, and `report` is the best's.
    let dd: Vec<f64> = results
        .iter()
        .map(|r| r["report"]["max_drawdown_equity"].as_f64().unwrap())
        .collect();
    assert!(dd.windows(2).all(|w| w[0] <= w[1]), "{dd:?}");
    let ranks: Vec<u64> = results
        .iter()
        .map(|r| r["rank"].as_u64().unwrap())
        .collect();
    assert_eq!(ranks, vec![1, 2, 3, 4]);
    assert_eq!(done["report"], results[0]["report"]);
    // A chosen combination's trades and curve.
    let worst = results[3]["combination"].as_u64().unwrap();
    let (s, page) = app
        .get(
            &format!("{}?combination={worst}", routes::backtest_trades(&id)),
            &t,
        )
        .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["combination"], worst);
    let (s, bad) = app
        .get(
            &format!("{}?combination=4", routes::backtest_equity(&id)),
            &t,
        )
        .await;
    assert_eq!((s, code(&bad)), (422, "validation_failed"));

    // The list carries the best combination only; the backtest itself every one.
    let (_, list) = app.get(routes::BACKTESTS, &t).await;
    assert_eq!(list["backtests"][0]["results"].as_array().unwrap().len(), 1);
    assert_eq!(list["backtests"][0]["results"][0], results[0]);
    // Another user: not found on every route; their list is empty.
    let other = app.token(Uuid::new_v4());
    for path in [
        routes::backtest(&id),
        routes::backtest_trades(&id),
        routes::backtest_equity(&id),
    ] {
        let (s, b) = app.get(&path, &other).await;
        assert_eq!((s, code(&b)), (404, "backtest_not_found"), "{path}");
    }
    let (s, b) = app.delete(&routes::backtest(&id), &other).await;
    assert_eq!((s, code(&b)), (404, "backtest_not_found"));
    let (_, list) = app.get(routes::BACKTESTS, &other).await;
    assert_eq!(list["backtests"], json!([]));
    let (s, _) = app.get(&routes::backtest(&id), &t).await;
    assert_eq!(s, 200, "still there for its owner");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canceling_stops_a_running_sweep_and_keeps_no_results() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account_id) = app.trader(10001).await;
    let mut b = body(&account_id, days_ago(30), days_ago(1));
    b["sweep"] = json!({"fast_period": (2..18).collect::<Vec<_>>(), "slow_period": (20..36).collect::<Vec<_>>()});
    let (s, created) = app.post(routes::BACKTESTS, &t, b).await;
    assert_eq!(s, 202, "{created}");
    assert_eq!(created["combinations"], 256);
    let id = created["id"].as_str().unwrap().to_string();
    wait_for(&app, &t, &id, &["running"]).await;
    let (s, canceled) = app.delete(&routes::backtest(&id), &t).await;
    assert_eq!(s, 202, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, after) = app.get(&routes::backtest(&id), &t).await;
    assert_eq!(after["status"], "canceled");
    assert_eq!(after["results"], json!([]), "{after}");
    assert_eq!(after["report"], Value::Null);
    // The worker is free: the next backtest runs to the end.
    let (s, next) = app
        .post(
            routes::BACKTESTS,
            &t,
            body(&account_id, days_ago(10), days_ago(1)),
        )
        .await;
    assert_eq!(s, 202, "{next}");
    let done = wait_for(&app, &t, next["id"].as_str().unwrap(), &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    // The canceled one still shows no result.
    let (_, after) = app.get(&routes::backtest(&id), &t).await;
    assert_eq!(after["results"], json!([]));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_budget_answers_429_until_the_day_turns() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        // Nine days of H1 cost 216 bar-evaluations: two fit, a third does not.
        env.insert("BACKTEST_WORK_PER_DAY", "500".into());
    })
    .await;
    let (t, account_id) = app.trader(10001).await;
    let b = body(&account_id, days_ago(10), days_ago(1));
    for _ in 0..2 {
        let (s, got) = app.post(routes::BACKTESTS, &t, b.clone()).await;
        assert_eq!(s, 202, "{got}");
    }
    let (s, headers, got) = app
        .call_full(Method::POST, routes::BACKTESTS, Some(&t), Some(b.clone()))
        .await;
    assert_eq!((s, code(&got)), (429, "rate_limited"), "{got}");
    let details = &got["error"]["details"];
    assert_eq!(details["scope"], "backtest_work_per_day");
    assert_eq!(details["limit"], 500);
    assert_eq!(details["window_seconds"], 86_400);
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    assert!((1..=86_400).contains(&retry), "{retry}");
    assert!(
        (now + retry) % 86_400 < 5,
        "until the UTC day turns: {retry}"
    );
    // Another user has their own budget.
    let (t2, account2) = app.trader(10002).await;
    let (s, got) = app
        .post(
            routes::BACKTESTS,
            &t2,
            body(&account2, days_ago(10), days_ago(1)),
        )
        .await;
    assert_eq!(s, 202, "{got}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_sweep_leaves_its_units_to_the_other() {
    if common::postgres_url().is_none() {
        crate::skip::postgres_skipped();
        return;
    }
    let first = common::spawn(common::Db::Postgres).await;
    let (t, account_id) = first.trader(10001).await;
    let mut b = body(&account_id, days_ago(30), days_ago(1));
    b["sweep"] = json!({"fast_period": [5, 6, 7, 8]});
    let (s, created) = first.post(routes::BACKTESTS, &t, b).await;
    assert_eq!(s, 202, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    wait_for(&first, &t, &id, &["running"]).await;
    // The first replica dies holding a unit; the second takes it once its lease runs out.
    first.kill();
    let second = first.relaunch().await;
    let done = wait_for(&second, &t, &id, &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    let mut combos: Vec<u64> = done["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["parameters"]["fast_period"].as_u64().unwrap())
        .collect();
    combos.sort();
    assert_eq!(combos, vec![5, 6, 7, 8], "each combination exactly once");
    second.shutdown().await;
    first.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_report_is_made_from_the_deals_as_a_backtest_report_is() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account_id) = app.trader(10001).await;
    let start = time::OffsetDateTime::now_utc().unix_timestamp() - 5;
    // Each market deal's answer: the price its request carried and the price it got.
    let mut answers: Vec<Value> = Vec::new();
    for side in ["buy", "sell"] {
        let (s, b) = app
            .post(
                routes::ORDERS,
                &t,
                json!({"symbol": "EURUSD", "type": side, "volume": 0.1, "magic": 77}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        answers.push(b);
    }
    let (_, positions) = app.get(routes::POSITIONS, &t).await;
    for p in positions["positions"].as_array().unwrap() {
        let (s, b) = app
            .post(&routes::close_position(&p["ticket"]), &t, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        answers.push(b);
    }
    let report_path = format!("{}/report?from={start}", routes::account(&account_id));
    let (s, b) = app.get(&report_path, &t).await;
    assert_eq!(s, 200, "{b}");
    let r = &b["report"];
    // What the deals say, summed here independently.
    let (_, deals) = app
        .get(
            &format!("{}?from={start}&limit=1000", routes::HISTORY_DEALS),
            &t,
        )
        .await;
    let deals = deals["deals"].as_array().unwrap().clone();
    let trading: Vec<&Value> = deals
        .iter()
        .filter(|d| ["buy", "sell"].contains(&d["type"].as_str().unwrap()))
        .collect();
    let closes = trading.iter().filter(|d| d["entry"] == "out").count();
    assert_eq!(r["total_trades"], closes as u64, "{b}");
    assert_eq!(closes, 2);
    let net: f64 = trading
        .iter()
        .map(|d| {
            ["profit", "swap", "commission", "fee"]
                .iter()
                .map(|k| d[k].as_f64().unwrap())
                .sum::<f64>()
        })
        .sum();
    assert!(
        (r["net_profit"].as_f64().unwrap() - net).abs() < 1e-6,
        "{net} {b}"
    );
    let (_, account) = app.get(routes::ACCOUNT, &t).await;
    let balance = account["balance"].as_f64().unwrap();
    assert!((r["final_balance"].as_f64().unwrap() - balance).abs() < 1e-6);
    // The balance before the window, moved by the trades and the balance operations in it.
    let ops = &r["balance_operations"];
    let moved = net + ops["deposits"].as_f64().unwrap() - ops["withdrawals"].as_f64().unwrap()
        + ops["credit"].as_f64().unwrap();
    assert!(
        (r["initial_balance"].as_f64().unwrap() + moved - balance).abs() < 1e-6,
        "{b}"
    );
    assert_eq!(r["max_drawdown_equity"], Value::Null);
    assert_eq!(r["costs"]["spread"], Value::Null);
    // Slippage from the journal's orders: filled against asked, valued at the symbol's tick value.
    let (_, sym) = app.get(&routes::symbol("EURUSD"), &t).await;
    let value =
        sym["trade_tick_value"].as_f64().unwrap() / sym["trade_tick_size"].as_f64().unwrap();
    let slippage: f64 = answers
        .iter()
        .filter_map(|a| {
            let req = a.get("request")?;
            let (asked, got) = (req["price"].as_f64()?, a["price"].as_f64()?);
            let worse = if req["type"] == "buy" {
                got - asked
            } else {
                asked - got
            };
            Some(worse * value * a["volume"].as_f64()?)
        })
        .sum();
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.get("request").is_some())
            .count(),
        4,
        "{answers:?}"
    );
    let reported = r["costs"]["slippage"]
        .as_f64()
        .expect("slippage from the journal");
    assert!(
        (reported - slippage).abs() < 0.011,
        "{reported} vs {slippage}"
    );
    assert!(r["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["field"] == "max_drawdown_equity"));
    // Filters: a magic number no order had, a symbol no order had.
    for filter in ["magic=78", "symbol=GBPUSD"] {
        let (s, b) = app.get(&format!("{report_path}&{filter}"), &t).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["report"]["total_trades"], 0, "{filter}: {b}");
    }
    let (s, b) = app.get(&format!("{report_path}&magic=77"), &t).await;
    assert_eq!((s, &b["report"]["total_trades"]), (200, &json!(2)), "{b}");
    // A window over 366 days, and another user's account.
    let (s, b) = app
        .get(
            &format!(
                "{}/report?from={}&to={}",
                routes::account(&account_id),
                start - 400 * 86_400,
                start
            ),
            &t,
        )
        .await;
    assert_eq!((s, code(&b)), (422, "invalid_combination"), "{b}");
    let (t2, _) = app.trader(10002).await;
    let (s, b) = app.get(&report_path, &t2).await;
    assert_eq!((s, code(&b)), (404, "account_not_found"));
    app.shutdown().await;
}

/// A window older than the terminal keeps ("Max. bars in chart", 10,000 H1 bars on the simulator
/// by default): the backtest runs on what there is and says where it started, never silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_before_the_terminal_s_history_says_where_it_started() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (t, account_id) = app.trader(10001).await;
    let (from, to) = (days_ago(700), days_ago(1));
    let (s, b) = app
        .post(routes::BACKTESTS, &t, body(&account_id, from, to))
        .await;
    assert_eq!(s, 202, "{b}");
    let done = wait_for(&app, &t, b["id"].as_str().unwrap(), &["done", "failed"]).await;
    assert_eq!(done["status"], "done", "{done}");
    let start = time::OffsetDateTime::parse(
        done["history_start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    // 10,000 H1 bars reach about 416 days back; the warm-up takes some of them.
    let oldest = time::OffsetDateTime::now_utc().unix_timestamp() - 10_000 * 3600;
    assert!(
        start > from + 200 * 86_400,
        "history_start {start} vs from {from}"
    );
    assert!(
        start >= oldest && start < oldest + 10 * 86_400,
        "{start} vs {oldest}"
    );
    assert_eq!(
        done["request"]["from"], from,
        "the request keeps what was asked"
    );
    app.shutdown().await;
}
