//! Limits attacked as an abuser would: password guesses fired in parallel, by one user and by many
//! users at one MT5 login, through connects and password changes.


use crate::common;

use common::{Db, TestApp};
use serde_json::{json, Value};
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

fn failed_logins(audit: &[mt5_sim::state::AuditRecord], login: u64) -> usize {
    audit
        .iter()
        .filter(|r| r.login == login && r.operation == "login_failed")
        .count()
}

/// Fires `bodies` as connects in parallel, each with its own token; returns the answers.
async fn connects(app: &TestApp, calls: Vec<(String, Value)>) -> Vec<(u16, Value)> {
    let tasks: Vec<_> = calls
        .into_iter()
        .map(|(token, body)| {
            let (base, client) = (app.base.clone(), app.client.clone());
            tokio::spawn(async move {
                let r = client
                    .post(format!("{base}/api/v1/accounts/connect"))
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

fn guess(login: u64, i: usize) -> Value {
    json!({"account_name": "guess", "login": login.to_string(), "password": format!("guess-{i}"), "server": "Sim-Demo"})
}

/// 20 parallel wrong-password connects by one user with CONNECT_FAIL_LIMIT=5: exactly 5 reach MT5.
async fn one_user_guessing_in_parallel(db: Db) {
    common::run_on_with(
        db,
        common::sim_config(),
        |env| {
            env.insert("CONNECT_FAIL_LIMIT", "5".into());
        },
        |app| async move {
            let t = app.token(Uuid::new_v4());
            let before = failed_logins(&app.broker.audit().await.unwrap(), 10003);
            let answers = connects(
                &app,
                (0..20).map(|i| (t.clone(), guess(10003, i))).collect(),
            )
            .await;
            let refused_by_mt5 = answers
                .iter()
                .filter(|(s, b)| (*s, code(b)) == (422, "mt5_login_failed"))
                .count();
            let limited: Vec<&(u16, Value)> = answers.iter().filter(|(s, _)| *s == 429).collect();
            assert_eq!(refused_by_mt5, 5, "{answers:?}");
            assert_eq!(limited.len(), 15, "{answers:?}");
            for (_, b) in limited {
                assert_eq!(
                    b["error"]["details"]["scope"], "failed_connects_per_user",
                    "{b}"
                );
            }
            let after = failed_logins(&app.broker.audit().await.unwrap(), 10003);
            assert_eq!(after - before, 5, "only 5 guesses reached the broker");
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_guessing_in_parallel_sqlite() {
    one_user_guessing_in_parallel(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_guessing_in_parallel_postgres() {
    one_user_guessing_in_parallel(Db::Postgres).await;
}

/// Many fresh users guessing at one login (a fresh count per sign-up must not help): at most
/// LOGIN_FAIL_LIMIT guesses reach MT5, and the owner, whose stored credential was verified once,
/// is never refused: not for reads and orders, and not for a password change, whose wrong
/// password reaches MT5 under the owner's own per-user window.
async fn many_users_guessing_one_login(db: Db) {
    common::run_on_with(db, common::sim_config(), |env| {
        env.insert("LOGIN_FAIL_LIMIT", "4".into());
    }, |app| async move {
    let owner = app.token(Uuid::new_v4());
    let id = app
        .connect(&owner, 10002, "Sim-10002!", "Sim-Demo", "mine")
        .await;
    let before = failed_logins(&app.broker.audit().await.unwrap(), 10002);
    let answers = connects(
        &app,
        (0..12)
            .map(|i| (app.token(Uuid::new_v4()), guess(10002, i)))
            .collect(),
    )
    .await;
    let reached = answers.iter().filter(|(s, _)| *s == 422).count();
    assert_eq!(reached, 4, "{answers:?}");
    for (s, b) in answers.iter().filter(|(s, _)| *s == 429) {
        assert_eq!(*s, 429);
        assert_eq!(
            b["error"]["details"]["scope"], "failed_logins_per_login",
            "{b}"
        );
        assert_eq!(b["error"]["details"]["window_seconds"], 900, "{b}");
    }
    assert_eq!(
        failed_logins(&app.broker.audit().await.unwrap(), 10002) - before,
        4
    );
    // The same login spelled with another case is the same count.
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &app.token(Uuid::new_v4()),
            json!({"account_name": "g", "login": "10002", "password": "x", "server": "SIM-DEMO"}),
        )
        .await;
    assert_eq!((s, code(&b)), (429, "rate_limited"), "{b}");
    // The owner's password change is not stopped by the per-login window: a wrong password
    // reaches MT5 (and counts in the owner's own per-user window only).
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &owner,
            json!({"password": "still-guessing"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "mt5_login_failed"), "{b}");
    // The owner's stored credential is not a guess: reads and orders go on.
    assert_eq!(app.get("/api/v1/account", &owner).await.0, 200);
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &owner,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // Successful connects give their slot back: another user connects with the right password.
    let other = app.token(Uuid::new_v4());
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &other,
            json!({"account_name": "ok", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    app
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_guessing_one_login_sqlite() {
    many_users_guessing_one_login(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_users_guessing_one_login_postgres() {
    many_users_guessing_one_login(Db::Postgres).await;
}

/// Account 10001 with an investor (read-only) password besides its master password.
fn sim_with_investor() -> mt5_sim::config::SimConfig {
    let mut sim = common::sim_config();
    for a in &mut sim.accounts {
        if a.login == 10001 && a.server == "Sim-Demo" {
            a.investor_password = Some(secrecy::SecretString::from("Investor-10001!"));
        }
    }
    sim
}

async fn audit_events(app: &TestApp, token: &str, event: &str) -> Vec<Value> {
    let (s, b) = app.get("/api/v1/audit?limit=500", token).await;
    assert_eq!(s, 200, "{b}");
    b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == event)
        .cloned()
        .collect()
}

/// The owner keeps their login: 4 throw-away users × 5 wrong passwords fill the per-login window
/// (the defaults, CONNECT_FAIL_LIMIT=5 and LOGIN_FAIL_LIMIT=20); the owner still changes their
/// password with the right one, while a new user's connect of that login, even with the right
/// password, and a user whose row holds the investor password are refused like anyone else.
/// After 20 more refused attempts the owner's audit log holds exactly one
/// `login_guessing_blocked`, naming the limit and nobody who guessed.
async fn owner_keeps_their_login(db: Db) {
    common::run_on_with(
        db,
        sim_with_investor(),
        |env| {
            env.insert("CONNECT_FAIL_LIMIT", "5".into());
            env.insert("LOGIN_FAIL_LIMIT", "20".into());
        },
        |app| async move {
            let owner = app.token(Uuid::new_v4());
            let id = app
                .connect(&owner, 10001, "Sim-10001!", "Sim-Demo", "mine")
                .await;
            let reader = app.token(Uuid::new_v4());
            let reader_id = app
                .connect(&reader, 10001, "Investor-10001!", "Sim-Demo", "read only")
                .await;

            let guessers: Vec<String> = (0..4).map(|_| app.token(Uuid::new_v4())).collect();
            let calls = guessers
                .iter()
                .flat_map(|t| (0..5).map(move |i| (t.clone(), guess(10001, i))))
                .collect();
            let answers = connects(&app, calls).await;
            assert!(
                answers.iter().all(|(s, b)| (*s, code(b)) == (422, "mt5_login_failed")),
                "every guess reached MT5: {answers:?}"
            );

            // The window is full: the owner's right password still goes through.
            let (s, b) = app
                .put(&format!("/api/v1/accounts/{id}"), &owner, json!({"password": "Sim-10001!"}))
                .await;
            assert_eq!(s, 200, "{b}");
            // Anyone else is refused, the right password or not, before any login.
            let before = failed_logins(&app.broker.audit().await.unwrap(), 10001);
            let (s, b) = app
                .post(
                    "/api/v1/accounts/connect",
                    &app.token(Uuid::new_v4()),
                    json!({"account_name": "late", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}),
                )
                .await;
            assert_eq!((s, b["error"]["details"]["scope"].clone()), (429, json!("failed_logins_per_login")), "{b}");
            // A row holding the investor password is not the owner's: refused like anyone else.
            let (s, b) = app
                .put(
                    &format!("/api/v1/accounts/{reader_id}"),
                    &reader,
                    json!({"password": "Investor-10001!"}),
                )
                .await;
            assert_eq!((s, b["error"]["details"]["scope"].clone()), (429, json!("failed_logins_per_login")), "{b}");

            // 20 more refused attempts: one entry in the owner's audit log for the window.
            let more = connects(
                &app,
                (0..20).map(|i| (app.token(Uuid::new_v4()), guess(10001, 100 + i))).collect(),
            )
            .await;
            assert!(more.iter().all(|(s, _)| *s == 429), "{more:?}");
            assert_eq!(failed_logins(&app.broker.audit().await.unwrap(), 10001), before, "no refused attempt reached MT5");
            let told = audit_events(&app, &owner, "login_guessing_blocked").await;
            assert_eq!(told.len(), 1, "{told:?}");
            assert_eq!(told[0]["account_id"], json!(id));
            let details = told[0]["details"].as_object().unwrap();
            assert_eq!(details["limit"], 20);
            assert_eq!(details["window_seconds"], 900);
            let mut keys: Vec<&str> = details.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["limit", "login", "server", "window_seconds"], "no one who guessed");
            // The read-only row's holder is not an owner, and is not told.
            assert!(audit_events(&app, &reader, "login_guessing_blocked").await.is_empty());

            // The owner's own guesses stay under their per-user window.
            for _ in 0..5 {
                let (s, b) = app
                    .put(&format!("/api/v1/accounts/{id}"), &owner, json!({"password": "wrong"}))
                    .await;
                assert_eq!((s, code(&b)), (422, "mt5_login_failed"), "{b}");
            }
            let (s, b) = app
                .put(&format!("/api/v1/accounts/{id}"), &owner, json!({"password": "wrong"}))
                .await;
            assert_eq!((s, b["error"]["details"]["scope"].clone()), (429, json!("failed_connects_per_user")), "{b}");
            app
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_keeps_their_login_sqlite() {
    owner_keeps_their_login(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_keeps_their_login_postgres() {
    owner_keeps_their_login(Db::Postgres).await;
}

async fn order_with(
    app: &TestApp,
    token: &str,
    account: &str,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(token)
        .header("x-account-id", account)
        .header("idempotency-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

/// An Idempotency-Key is bound to the account it acted on: the same key and body on another
/// account is not a retry (it used to replay the first account's order and place nothing).
async fn idempotency_keys_are_bound_to_their_account(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    let a = app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    let b = app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "b").await;
    let body = json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1});
    let (s, first) = order_with(&app, &t, &a, "key-1", body.clone()).await;
    assert_eq!(s, 200, "{first}");
    // A retry on the same account replays.
    let (s, again) = order_with(&app, &t, &a, "key-1", body.clone()).await;
    assert_eq!((s, &again["order"]), (200, &first["order"]), "{again}");
    // The same key and body on the other account: refused, and nothing is placed there.
    let (s, other) = order_with(&app, &t, &b, "key-1", body.clone()).await;
    assert_eq!(
        (s, code(&other)),
        (422, "idempotency_key_reused"),
        "{other}"
    );
    let positions = app
        .broker
        .account_state(&mt5::AccountKey::new(10002, "Sim-Demo"))
        .await
        .unwrap()
        .unwrap()
        .positions;
    assert!(positions.is_empty(), "{positions:?}");

    // An entry journaled before fingerprints (16-hex hash of the request alone) still replays.
    let (s, second) = order_with(&app, &t, &a, "key-2", body.clone()).await;
    assert_eq!(s, 200, "{second}");
    let (_, journal) = app.get("/api/v1/journal", &t).await;
    let stored = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["idempotency_key"] == "key-2")
        .unwrap()["request"]
        .clone();
    let old = mt5_bridge::trading::request_hash(&stored);
    let sql = "update trade_journal set request_hash = $1 where idempotency_key = 'key-2'";
    if app.database_url.starts_with("postgres") {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        let n = sqlx::query(sql)
            .bind(&old)
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(n.rows_affected(), 1);
    } else {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
        let n = sqlx::query(&sql.replace("$1", "?"))
            .bind(&old)
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(n.rows_affected(), 1);
        pool.close().await;
    }
    let (s, replay) = order_with(&app, &t, &a, "key-2", body).await;
    assert_eq!((s, &replay["order"]), (200, &second["order"]), "{replay}");
    app
}
both_backends!(
    idempotency_bound,
    idempotency_keys_are_bound_to_their_account
);

/// Times outside [1970, 2100) and windows over 366 days are refused naming the field.
async fn bounded_times(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    // Each time out of bounds is invalid; a window over 366 days is two valid times that cannot
    // go together.
    for (query, field, want) in [
        ("from=-1", "from", "validation_failed"),
        ("from=1969-12-31T23:59:59Z", "from", "validation_failed"),
        ("to=2100-01-01T00:00:00Z", "to", "validation_failed"),
        ("to=99999999999999999999", "to", "validation_failed"),
        (
            "from=2020-01-01T00:00:00Z&to=2021-01-02T00:00:01Z",
            "from",
            "invalid_combination",
        ),
        ("from=0&to=4102444799", "from", "invalid_combination"),
    ] {
        for path in [
            "/api/v1/history/deals",
            "/api/v1/history/orders",
            "/api/v1/symbols/EURUSD/rates",
        ] {
            let (s, b) = app.get(&format!("{path}?{query}"), &t).await;
            assert_eq!((s, code(&b)), (422, want), "{path}?{query}: {b}");
            assert_eq!(
                b["error"]["details"]["fields"][0]["field"], field,
                "{path}?{query}: {b}"
            );
        }
    }
    // The edges themselves are fine.
    let (s, b) = app
        .get(
            "/api/v1/history/deals?from=2020-01-01T00:00:00Z&to=2021-01-01T00:00:00Z",
            &t,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .get("/api/v1/symbols/EURUSD/rates?to=2099-12-31T23:59:59Z", &t)
        .await;
    assert_eq!(s, 200, "{b}");
    app
}
both_backends!(times_are_bounded, bounded_times);

/// A panic in a handler answers 500 in the error envelope; the connection is not dropped.
#[tokio::test]
async fn a_panicking_handler_answers_500_in_the_envelope() {
    async fn boom() -> &'static str {
        panic!("deliberate")
    }
    let app = axum::Router::new()
        .route("/boom", axum::routing::get(boom))
        .layer(mt5_bridge::http::catch_panics());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let r = reqwest::get(format!("http://127.0.0.1:{port}/boom"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b,
        json!({"success": false, "error": {"code": "internal_error", "message": "internal error", "details": null}})
    );
}

/// Extreme values of every numeric input of the order routes never get a 500 (or a dropped
/// connection): each is a 2xx or a 4xx with a stable code. A few hundred cases, so CI stays fast.
#[test]
fn extreme_numbers_never_answer_500() {
    use proptest::prelude::*;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, t) = rt.block_on(async {
        let app = common::spawn(Db::Sqlite).await;
        let t = app.token(Uuid::new_v4());
        app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "a").await;
        (app, t)
    });
    let number = prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(i64::MIN)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(f64::MAX)),
        Just(json!(f64::MIN)),
        Just(json!(f64::MIN_POSITIVE)),
        Just(json!(1e-300)),
        Just(json!(1e300)),
        Just(json!(0.1)),
        Just(json!("1e999")),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ];
    let fields = [
        "volume",
        "price",
        "sl",
        "tp",
        "deviation",
        "magic",
        "stoplimit",
    ];
    let config = ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(
        &(
            proptest::sample::select(fields.to_vec()),
            number.clone(),
            number.clone(),
            0..6usize,
        ),
        |(field, a, b, route)| {
            let (s, body) = rt.block_on(async {
                let mut order =
                    json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1, "price": 1.0});
                order[field] = a.clone();
                match route {
                    0 => app.post("/api/v1/orders", &t, order).await,
                    1 => app.post("/api/v1/orders/check", &t, order).await,
                    2 => {
                        app.put(
                            &format!("/api/v1/positions/{}", a.as_u64().unwrap_or(1)),
                            &t,
                            json!({"sl": a, "tp": b}),
                        )
                        .await
                    }
                    3 => {
                        app.put(
                            &format!("/api/v1/orders/{}", a.as_u64().unwrap_or(1)),
                            &t,
                            json!({"price": a, "sl": b}),
                        )
                        .await
                    }
                    4 => {
                        app.post(
                            &format!("/api/v1/positions/{}/close", b.as_u64().unwrap_or(1)),
                            &t,
                            json!({"volume": a}),
                        )
                        .await
                    }
                    _ => {
                        app.get(
                            &format!("/api/v1/history/deals?from={a}&to={b}&limit={a}"),
                            &t,
                        )
                        .await
                    }
                }
            });
            prop_assert!(s < 500, "route {route} {field}={a} {b}: {s} {body}");
            if s >= 400 {
                prop_assert!(body["error"]["code"].is_string(), "{body}");
            }
            Ok(())
        },
    );
    rt.block_on(app.shutdown());
    result.unwrap();
}
