//! Writes a user can cause are bounded, attacked as an abuser would: refused orders and dry runs
//! fired in parallel past their budgets, saved configurations past their cap, and a burst of
//! writes that must not leave SQLite's write-ahead log large.


use crate::common;

use common::{Db, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

/// Sends `n` copies of a request in parallel; returns the answers.
async fn flood(app: &TestApp, n: usize, path: &str, token: &str, body: Value) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (url, client) = (format!("{}{path}", app.base), app.client.clone());
            let (token, body) = (token.to_string(), body.clone());
            tokio::spawn(async move {
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let s = r.status().as_u16();
                (s, r.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(answers: &[(u16, Value)], status: u16, want: &str) -> usize {
    answers
        .iter()
        .filter(|(s, b)| *s == status && code(b) == want)
        .count()
}

/// Every answer in `answers` with status 429 names `scope` and the budget.
fn limited_by(answers: &[(u16, Value)], scope: &str, limit: u64) -> usize {
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    for (_, b) in &limited {
        assert_eq!(code(b), "rate_limited", "{b}");
        assert_eq!(b["error"]["details"]["scope"], scope, "{b}");
        assert_eq!(b["error"]["details"]["limit"], limit, "{b}");
        assert_eq!(b["error"]["details"]["window_seconds"], 3600, "{b}");
    }
    limited.len()
}

async fn journal_len(app: &TestApp, token: &str) -> usize {
    let (s, b) = app.get("/api/v1/journal?limit=500", token).await;
    assert_eq!(s, 200, "{b}");
    b["entries"].as_array().unwrap().len()
}

/// With the kill switch on, 60 parallel orders and REFUSAL_LIMIT_PER_HOUR=20: 20 are refused and
/// journaled, the other 40 answer 429 `refusals_per_user` with nothing journaled; while the budget
/// is spent, every order request of the user is slowed, on any of their accounts, and refusals
/// found under the lease (a risk limit) spend it too. Another user is not affected.
async fn refusal_flood(db: Db) {
    common::run_on_with(
        db,
        common::sim_config(),
        |env| {
            env.insert("REFUSAL_LIMIT_PER_HOUR", "20".into());
        },
        |app| async move {
            let (t, id) = app.trader(10001).await;
            let (s, b) = app
                .put(
                    &format!("/api/v1/accounts/{id}"),
                    &t,
                    json!({"risk_limits": {"trading_enabled": false}}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            let order = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
            let answers = flood(&app, 60, "/api/v1/orders", &t, order.clone()).await;
            assert_eq!(count(&answers, 403, "trading_disabled"), 20, "{answers:?}");
            assert_eq!(
                limited_by(&answers, "refusals_per_user", 20),
                40,
                "{answers:?}"
            );
            assert_eq!(
                journal_len(&app, &t).await,
                20,
                "only the refusals are rows"
            );

            // A valid order on another account of the same user is slowed too, and not journaled.
            let other = app
                .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "second")
                .await;
            let r = app
                .client
                .post(format!("{}/api/v1/orders", app.base))
                .bearer_auth(&t)
                .header("x-account-id", &other)
                .json(&order)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 429);
            assert!(r.headers().contains_key("retry-after"));
            assert_eq!(journal_len(&app, &t).await, 20);
            // So is a run that may trade (a dry run has its own budget).
            let (s, b) = app
                .post(
                    "/api/v1/algorithms/execute",
                    &t,
                    json!({"account_id": other, "algorithm_id": "ma_crossover",
                           "parameters": {"symbol": "EURUSD"}}),
                )
                .await;
            assert_eq!(
                (s, b["error"]["details"]["scope"].clone()),
                (429, json!("refusals_per_user")),
                "{b}"
            );

            // Another user's orders go on.
            let (t2, _) = app.trader(10003).await;
            let (s, b) = app.post("/api/v1/orders", &t2, order.clone()).await;
            assert_eq!(s, 200, "{b}");

            // A refusal under the lease (a risk limit) spends the budget when it is journaled.
            let (t3, id3) = app.trader(10002).await;
            let (s, b) = app
                .put(
                    &format!("/api/v1/accounts/{id3}"),
                    &t3,
                    json!({"risk_limits": {"max_volume_per_trade": 0.01}}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            for i in 0..20 {
                let (s, b) = app.post("/api/v1/orders", &t3, order.clone()).await;
                assert_eq!(
                    (s, code(&b)),
                    (422, "risk_limit_exceeded"),
                    "order {i}: {b}"
                );
            }
            let (s, b) = app.post("/api/v1/orders", &t3, order.clone()).await;
            assert_eq!(
                (s, b["error"]["details"]["scope"].clone()),
                (429, json!("refusals_per_user")),
                "{b}"
            );
            assert_eq!(journal_len(&app, &t3).await, 20);
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_flood_sqlite() {
    refusal_flood(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_flood_postgres() {
    refusal_flood(Db::Postgres).await;
}

/// 30 parallel dry runs with DRY_RUN_LIMIT_PER_HOUR=10: 10 run and are stored, 20 answer 429
/// `dry_runs_per_user` and store nothing. Runs that may trade are not counted against it.
async fn dry_run_flood(db: Db) {
    common::run_on_with(
        db,
        common::sim_config(),
        |env| {
            env.insert("DRY_RUN_LIMIT_PER_HOUR", "10".into());
        },
        |app| async move {
            let (t, id) = app.trader(10001).await;
            let run = json!({"account_id": id, "algorithm_id": "ma_crossover", "dry_run": true,
                             "parameters": {"symbol": "EURUSD"}});
            let answers = flood(&app, 30, "/api/v1/algorithms/execute", &t, run.clone()).await;
            assert_eq!(
                answers.iter().filter(|(s, _)| *s == 200).count(),
                10,
                "{answers:?}"
            );
            assert_eq!(
                limited_by(&answers, "dry_runs_per_user", 10),
                20,
                "{answers:?}"
            );
            let (s, b) = app.get("/api/v1/algorithms/runs?limit=500", &t).await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(
                b["runs"].as_array().unwrap().len(),
                10,
                "only the runs that ran are rows"
            );
            // A run that may trade is not a dry run.
            let mut live = run.clone();
            live["dry_run"] = json!(false);
            let (s, b) = app.post("/api/v1/algorithms/execute", &t, live).await;
            assert_eq!(s, 200, "{b}");
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_flood_sqlite() {
    dry_run_flood(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_flood_postgres() {
    dry_run_flood(Db::Postgres).await;
}

/// 12 parallel creates with ALGORITHMS_PER_USER=5: exactly 5 are saved, the others answer 409
/// `algorithm_limit_reached` with the cap and the count; the saved ones page with `next_cursor`
/// (`builtin` in every page), and without `limit` one page holds them all. Deleting one frees a
/// place.
async fn configurations_over_the_cap(db: Db) {
    common::run_on_with(
        db,
        common::sim_config(),
        |env| {
            env.insert("ALGORITHMS_PER_USER", "5".into());
        },
        |app| async move {
            let t = app.token(Uuid::new_v4());
            let tasks: Vec<_> = (0..12)
                .map(|i| {
                    let (url, client, t) = (
                        format!("{}/api/v1/algorithms", app.base),
                        app.client.clone(),
                        t.clone(),
                    );
                    tokio::spawn(async move {
                        let r = client
                            .post(url)
                            .bearer_auth(t)
                            .json(&json!({"name": format!("config {i}"), "kind": "ma_crossover",
                                          "parameters": {"symbol": "EURUSD"}}))
                            .send()
                            .await
                            .unwrap();
                        let s = r.status().as_u16();
                        (s, r.json::<Value>().await.unwrap_or(Value::Null))
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 5, "{answers:?}");
            let over: Vec<_> = answers.iter().filter(|(s, _)| *s == 409).collect();
            assert_eq!(over.len(), 7, "{answers:?}");
            for (_, b) in over {
                assert_eq!(code(b), "algorithm_limit_reached", "{b}");
                assert_eq!(b["error"]["details"], json!({"limit": 5, "current": 5}), "{b}");
            }

            // Without `limit`: one page of all of them, no next page.
            let (s, all) = app.get("/api/v1/algorithms", &t).await;
            assert_eq!(s, 200, "{all}");
            assert_eq!(all["saved"].as_array().unwrap().len(), 5);
            assert_eq!(all["next_cursor"], Value::Null);
            let builtin = all["builtin"].clone();
            assert!(!builtin.as_array().unwrap().is_empty());

            // Pages of 2: 2, 2, 1, each with the built-in strategies, in creation order.
            let mut seen = Vec::new();
            let mut path = "/api/v1/algorithms?limit=2".to_string();
            for want in [2, 2, 1] {
                let (s, b) = app.get(&path, &t).await;
                assert_eq!(s, 200, "{b}");
                assert_eq!(b["builtin"], builtin);
                let saved = b["saved"].as_array().unwrap();
                assert_eq!(saved.len(), want, "{b}");
                seen.extend(saved.iter().map(|c| c["id"].clone()));
                match b["next_cursor"].as_str() {
                    Some(c) => path = format!("/api/v1/algorithms?limit=2&cursor={c}"),
                    None => assert_eq!(want, 1, "only the last page has no cursor"),
                }
            }
            let ids: Vec<Value> = all["saved"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
            assert_eq!(seen, ids);

            // A limit past the cap is the cap; one out of range, or a cursor not from this list,
            // is refused naming it.
            let (s, b) = app.get("/api/v1/algorithms?limit=10000", &t).await;
            assert_eq!((s, b["saved"].as_array().unwrap().len()), (200, 5), "{b}");
            assert_eq!(b["next_cursor"], Value::Null);
            for (query, field) in [("limit=10001", "limit"), ("limit=0", "limit"), ("cursor=x", "cursor")] {
                let (s, b) = app.get(&format!("/api/v1/algorithms?{query}"), &t).await;
                assert_eq!((s, code(&b)), (422, "validation_failed"), "{query}: {b}");
                assert_eq!(b["error"]["details"]["fields"][0]["field"], field, "{b}");
            }

            // Deleting one frees a place; another user has places of their own.
            let first = ids[0].as_str().unwrap();
            assert_eq!(app.delete(&format!("/api/v1/algorithms/{first}"), &t).await.0, 200);
            let again = json!({"name": "again", "kind": "ma_crossover", "parameters": {"symbol": "EURUSD"}});
            assert_eq!(app.post("/api/v1/algorithms", &t, again.clone()).await.0, 201);
            let (s, b) = app.post("/api/v1/algorithms", &t, again.clone()).await;
            assert_eq!((s, code(&b)), (409, "algorithm_limit_reached"), "{b}");
            let other = app.token(Uuid::new_v4());
            assert_eq!(app.post("/api/v1/algorithms", &other, again).await.0, 201);
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_over_the_cap_sqlite() {
    configurations_over_the_cap(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configurations_over_the_cap_postgres() {
    configurations_over_the_cap(Db::Postgres).await;
}

/// Sends `n` copies of a POST, 25 at a time; every answer must be `want`.
async fn post_many(app: &TestApp, n: usize, path: &str, token: &str, body: Value, want: u16) {
    let mut left = n;
    while left > 0 {
        let batch = left.min(25);
        for (s, b) in flood(app, batch, path, token, body.clone()).await {
            assert_eq!(s, want, "{b}");
        }
        left -= batch;
    }
}

/// Follows a list from `first` (a path with `limit`), returning each page's length and whether it
/// had a `next_cursor`; `key` is the list's field.
async fn pages(app: &TestApp, token: &str, first: &str, key: &str) -> Vec<(usize, bool)> {
    let mut out = Vec::new();
    let mut path = first.to_string();
    loop {
        let (s, b) = app.get(&path, token).await;
        assert_eq!(s, 200, "{path}: {b}");
        let n = b[key].as_array().unwrap().len();
        match b["next_cursor"].as_str() {
            Some(c) => {
                out.push((n, true));
                let sep = if first.contains('?') { '&' } else { '?' };
                path = format!("{first}{sep}cursor={c}");
            }
            None => {
                out.push((n, false));
                return out;
            }
        }
    }
}

/// A list read at its largest `limit` still pages: 501 journal entries and 501 runs at
/// `limit=500` answer 500 and a `next_cursor`, then the last one. Saved configurations past the
/// cap (written through the Data API, or kept from a larger cap) page the same at the default
/// `limit`, which is the cap.
async fn lists_at_their_largest_limit_page(db: Db) {
    common::run_on_with(
        db,
        common::sim_config(),
        |env| {
            env.insert("ALGORITHMS_PER_USER", "3".into());
        },
        |app| async move {
            let (t, id) = app.trader(10001).await;
            // Refusals by the kill switch: the quickest rows to make.
            let (s, b) = app
                .put(
                    &format!("/api/v1/accounts/{id}"),
                    &t,
                    json!({"risk_limits": {"trading_enabled": false}}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            let order = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
            post_many(&app, 501, "/api/v1/orders", &t, order, 403).await;
            assert_eq!(
                pages(&app, &t, "/api/v1/journal?limit=500", "entries").await,
                [(500, true), (1, false)]
            );
            let run = json!({"account_id": id, "algorithm_id": "ma_crossover", "dry_run": true,
                             "parameters": {"symbol": "EURUSD"}});
            post_many(&app, 501, "/api/v1/algorithms/execute", &t, run, 200).await;
            assert_eq!(
                pages(&app, &t, "/api/v1/algorithms/runs?limit=500", "runs").await,
                [(500, true), (1, false)]
            );

            let user = Uuid::new_v4();
            let u = app.token(user);
            for i in 0..3 {
                let c = json!({"name": format!("c{i}"), "kind": "ma_crossover", "parameters": {"symbol": "EURUSD"}});
                assert_eq!(app.post("/api/v1/algorithms", &u, c).await.0, 201);
            }
            let planted = if app.database_url.starts_with("postgres") {
                format!(
                    "insert into algorithm_configs (id, user_id, name, kind, parameters) values \
                     ('{}', '{user}', 'planted', 'ma_crossover', '{{\"symbol\": \"EURUSD\"}}')",
                    Uuid::new_v4()
                )
            } else {
                format!(
                    "insert into algorithm_configs (id, user_id, name, kind, parameters, created_at, \
                     updated_at) values ('{}', '{user}', 'planted', 'ma_crossover', \
                     '{{\"symbol\": \"EURUSD\"}}', '2099-01-01T00:00:00.000000Z', \
                     '2099-01-01T00:00:00.000000Z')",
                    Uuid::new_v4()
                )
            };
            assert_eq!(app.as_data_api_user(user, &planted).await, 1);
            assert_eq!(
                pages(&app, &u, "/api/v1/algorithms", "saved").await,
                [(3, true), (1, false)]
            );
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_at_their_largest_limit_page_sqlite() {
    lists_at_their_largest_limit_page(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_at_their_largest_limit_page_postgres() {
    lists_at_their_largest_limit_page(Db::Postgres).await;
}

/// A burst of 50 users × 100 configurations (with readers listing them meanwhile) leaves SQLite's
/// write-ahead log at most 64 MiB within 15 s after it, and smaller than it grew: the log is
/// checkpointed and truncated, not kept at the size of its largest burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_writes_leaves_the_wal_small() {
    let app = common::spawn(Db::Sqlite).await;
    let wal = app.data_dir.path().join("bridge.db-wal");
    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let started = std::time::Instant::now();
    let users: Vec<String> = (0..50).map(|_| app.token(Uuid::new_v4())).collect();
    let tasks: Vec<_> = users
        .iter()
        .cloned()
        .map(|t| {
            let (base, client) = (app.base.clone(), app.client.clone());
            tokio::spawn(async move {
                for i in 0..100 {
                    let r = client
                        .post(format!("{base}/api/v1/algorithms"))
                        .bearer_auth(&t)
                        .json(&json!({"name": format!("config {i} {}", "x".repeat(200)),
                                      "kind": "ma_crossover", "parameters": {"symbol": "EURUSD"}}))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 201);
                    if i % 10 == 0 {
                        // A reader holding a snapshot now and then, as clients listing do.
                        let r = client
                            .get(format!("{base}/api/v1/algorithms"))
                            .bearer_auth(&t)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                    }
                }
            })
        })
        .collect();
    let mut peak = 0;
    for t in tasks {
        while !t.is_finished() {
            peak = peak.max(size(&wal));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        t.await.unwrap();
    }
    peak = peak.max(size(&wal));
    let burst = started.elapsed();
    let (s, b) = app.get("/api/v1/algorithms", &users[0]).await;
    assert_eq!((s, b["saved"].as_array().unwrap().len()), (200, 100));
    assert!(peak > 0, "the burst went through the log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now = size(&wal);
        if now <= 64 * 1024 * 1024 && now < peak {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the WAL is {now} bytes 15 s after a burst of {burst:?} (peak {peak})"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.shutdown().await;
}
