//! A logged-in terminal serves only the credential that logged it in, attacked from outside: a row
//! planted with another user's login (as Supabase's Data API allows), an investor password beside
//! the master password's session, a password changed at the broker, and retries after MT5 refused
//! a stored password. Each runs on SQLite and, with TEST_DATABASE_URL, on Postgres.


use crate::common;

use common::{Db, TestApp};
use mt5::AccountKey;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use uuid::Uuid;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

/// A request with `X-Account-Id`.
async fn with_account(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    account: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut rb = app
        .client
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("x-account-id", account);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Writes an `mt5_accounts` row directly, as the user's own database role would: on Postgres as
/// `authenticated` with the user's claims (what the seed's INSERT policy lets the Data API do),
/// on SQLite straight into the file.
async fn plant_account(
    app: &TestApp,
    user: Uuid,
    login: &str,
    server: &str,
    envelope: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    let now = "2026-01-01T00:00:00.000000Z";
    let n = app
        .as_data_api_user(
            user,
            &format!(
                "insert into mt5_accounts (id, user_id, account_name, login, server, \
                 encrypted_password, created_at, updated_at) values ('{id}', '{user}', 'planted', \
                 '{login}', '{server}', '{envelope}', '{now}', '{now}')"
            ),
        )
        .await;
    assert_eq!(n, 1, "the seed's policy lets a user insert their own row");
    id
}

/// The stored envelope of a row (read as the service's own connection would).
async fn envelope_of(app: &TestApp, user: Uuid, id: &str) -> String {
    let ctx = mt5_bridge::store::UserCtx {
        user_id: user,
        email: None,
        claims: Value::Null,
    };
    app.state
        .store
        .get_account(&ctx, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap()
        .encrypted_password
}

fn order_sends(audit: &[mt5_sim::state::AuditRecord], login: u64) -> usize {
    audit
        .iter()
        .filter(|r| r.login == login && r.operation == "order_send")
        .count()
}

fn failed_logins(audit: &[mt5_sim::state::AuditRecord], login: u64) -> usize {
    audit
        .iter()
        .filter(|r| r.login == login && r.operation == "login_failed")
        .count()
}

/// A row planted with a victim's login and server rides nothing: not the victim's live session,
/// not with a made-up ciphertext, not with the victim's own ciphertext copied over.
async fn planted_rows_cannot_ride_a_victims_session(app: TestApp) -> TestApp {
    let victim = Uuid::new_v4();
    let tv = app.token(victim);
    let victim_account = app
        .connect(&tv, 10001, "Sim-10001!", "Sim-Demo", "mine")
        .await;
    let (s, b) = app.get("/api/v1/account", &tv).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &tv,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    let copied = envelope_of(&app, victim, &victim_account).await;
    let forged = "v1:t1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let sends_before = order_sends(&app.broker.audit().await.unwrap(), 10001);
    let logins_before = app.state.pool.logins();
    for envelope in [forged, copied.as_str(), "not an envelope"] {
        // Each attacker is a signed-in user of the service (and so exists in auth.users).
        let attacker = Uuid::new_v4();
        let ta = app.token(attacker);
        assert_eq!(app.get("/api/v1/accounts", &ta).await.0, 200);
        let planted = plant_account(&app, attacker, "10001", "Sim-Demo", envelope).await;
        let planted = planted.to_string();
        let (s, b) = with_account(
            &app,
            reqwest::Method::GET,
            "/api/v1/account",
            &ta,
            &planted,
            None,
        )
        .await;
        assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
        assert_eq!(b["error"]["details"], json!({"reason": "undecryptable"}));
        assert!(!b.to_string().contains("10000"), "no balance leaks: {b}");
        for (method, path, body) in [
            (
                reqwest::Method::POST,
                "/api/v1/orders",
                Some(json!({"symbol": "EURUSD", "type": "sell", "volume": 0.1})),
            ),
            (reqwest::Method::GET, "/api/v1/positions", None),
            (
                reqwest::Method::POST,
                "/api/v1/positions/1/close",
                Some(json!({})),
            ),
        ] {
            let (s, b) = with_account(&app, method.clone(), path, &ta, &planted, body).await;
            assert_eq!(
                (s, code(&b)),
                (409, "account_credentials_invalid"),
                "{method} {path}: {b}"
            );
        }
        // It cannot even be made current (switching reads the account's balance).
        let (s, b) = app
            .post(
                &format!("/api/v1/accounts/{planted}/switch"),
                &ta,
                json!({}),
            )
            .await;
        assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
        // Audited once for the planted row, under the attacker's own user.
        let (_, log) = app.get("/api/v1/audit", &ta).await;
        let invalid: Vec<&Value> = log["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "credentials_invalid")
            .collect();
        assert_eq!(invalid.len(), 1, "{log}");
        assert_eq!(invalid[0]["account_id"], planted.as_str());
        assert_eq!(invalid[0]["details"]["reason"], "undecryptable");
    }
    let audit = app.broker.audit().await.unwrap();
    assert_eq!(
        order_sends(&audit, 10001),
        sends_before,
        "nothing reached the victim's account"
    );
    assert_eq!(app.state.pool.logins(), logins_before, "no login was tried");
    // The victim still has exactly their own position.
    let (s, b) = app.get("/api/v1/positions", &tv).await;
    assert_eq!(s, 200);
    assert_eq!(b["positions"].as_array().map(Vec::len), Some(1), "{b}");
    app
}
both_backends!(planted_rows, planted_rows_cannot_ride_a_victims_session);

/// Account 10001 with an investor (read-only) password besides its master password.
fn sim_with_investor() -> mt5_sim::config::SimConfig {
    let mut sim = common::sim_config();
    for a in &mut sim.accounts {
        if a.login == 10001 && a.server == "Sim-Demo" {
            a.investor_password = Some(SecretString::from("Investor-10001!"));
        }
    }
    sim
}

/// The investor password connects (MT5 accepts it) and reads, but never trades through the
/// master password's session, nor through its own.
async fn investor_password_never_trades(db: Db) {
    common::run_on_with(db, sim_with_investor(), |_| {}, |app| async move {
    let owner = app.token(Uuid::new_v4());
    app.connect(&owner, 10001, "Sim-10001!", "Sim-Demo", "master")
        .await;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &owner,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, accounts) = app.get("/api/v1/accounts", &owner).await;
    assert_eq!(accounts["accounts"][0]["trade_allowed"], true, "{accounts}");

    let viewer = app.token(Uuid::new_v4());
    let logins_before = app.state.pool.logins();
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &viewer,
            json!({"account_name": "watch", "login": "10001", "password": "Investor-10001!", "server": "Sim-Demo"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["account"]["trade_allowed"], false, "{b}");
    let viewer_account = b["account_id"].as_str().unwrap().to_string();
    assert!(
        app.state.pool.logins() > logins_before,
        "the investor password logs in on its own session"
    );
    let (s, b) = app
        .get(&format!("/api/v1/accounts/{viewer_account}"), &viewer)
        .await;
    assert_eq!(
        (s, &b["account"]["trade_allowed"]),
        (200, &json!(false)),
        "{b}"
    );

    // Reads and checks work.
    let (s, b) = app.get("/api/v1/account", &viewer).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.get("/api/v1/positions", &viewer).await;
    assert_eq!((s, b["positions"].as_array().map(Vec::len)), (200, Some(1)));
    let (s, b) = app
        .post(
            "/api/v1/orders/check",
            &viewer,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Every trade is refused before anything is sent, whichever session is logged in now.
    let sends_before = order_sends(&app.broker.audit().await.unwrap(), 10001);
    let (_, positions) = app.get("/api/v1/positions", &viewer).await;
    let position = positions["positions"][0]["ticket"].as_u64().unwrap();
    for round in 0..2 {
        // Round 1: the master password's session is the one logged in (the owner just read).
        if round == 1 {
            assert_eq!(app.get("/api/v1/account", &owner).await.0, 200);
        }
        for (method, path, body) in [
            (
                reqwest::Method::POST,
                "/api/v1/orders".to_string(),
                json!({"symbol": "EURUSD", "type": "sell", "volume": 0.1}),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/orders".to_string(),
                json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1, "price": 0.5}),
            ),
            (
                reqwest::Method::POST,
                format!("/api/v1/positions/{position}/close"),
                json!({}),
            ),
            (
                reqwest::Method::PUT,
                format!("/api/v1/positions/{position}"),
                json!({"sl": 0.5}),
            ),
        ] {
            let (s, b) = app
                .call(method.clone(), &path, Some(&viewer), Some(body))
                .await;
            assert_eq!(
                (s, code(&b)),
                (403, "read_only_account"),
                "round {round}: {method} {path}: {b}"
            );
        }
    }
    // Algorithms: a dry run works, a run that would trade is refused before anything runs.
    for (dry_run, want) in [(true, 200), (false, 403)] {
        let (s, b) = app
            .post(
                "/api/v1/algorithms/execute",
                &viewer,
                json!({"account_id": viewer_account, "algorithm_id": "ma_crossover", "dry_run": dry_run,
                       "parameters": {"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3}}),
            )
            .await;
        assert_eq!(s, want, "dry_run {dry_run}: {b}");
        if !dry_run {
            assert_eq!(code(&b), "read_only_account", "{b}");
        }
    }
    let audit = app.broker.audit().await.unwrap();
    assert_eq!(
        order_sends(&audit, 10001),
        sends_before,
        "no trade request reached the broker"
    );
    let (_, positions) = app.get("/api/v1/positions", &owner).await;
    assert_eq!(positions["positions"].as_array().map(Vec::len), Some(1));
    // The journal says what happened: refused, not sent.
    let (_, journal) = app.get("/api/v1/journal", &viewer).await;
    let entries = journal["entries"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty(), "{journal}");
    assert!(
        entries.iter().all(|e| e["status"] == "refused"),
        "{journal}"
    );
    // The owner still trades.
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &owner,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investor_password_never_trades_sqlite() {
    investor_password_never_trades(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn investor_password_never_trades_postgres() {
    investor_password_never_trades(Db::Postgres).await;
}

/// After the password changes at the broker, the stored one is refused once by MT5 and never
/// tried again; the owner sets the new one and trades again.
async fn a_password_changed_at_the_broker(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let id = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "netting")
        .await;
    assert!(app.broker.set_password(
        &AccountKey::new(10002, "Sim-Demo"),
        SecretString::from("Changed-10002!")
    ));
    // The open session still works, as on a real server: MT5 keeps it.
    assert_eq!(app.get("/api/v1/account", &t).await.0, 200);

    // A new process must log in, and MT5 refuses the stored password.
    app.kill();
    let app2 = app.relaunch().await;
    let failed_before = failed_logins(&app2.broker.audit().await.unwrap(), 10002);
    let (s, b) = app2.get("/api/v1/account", &t).await;
    assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
    assert_eq!(b["error"]["details"]["reason"], "refused_by_mt5");
    assert_eq!(b["error"]["details"]["mt5_error_code"], -6);
    assert!(b["error"]["details"]["mt5_error_name"].is_string(), "{b}");
    assert!(!b.to_string().contains("Sim-10002!"), "{b}");

    // Retries, in parallel, answer at once without another login at the broker.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (base, client, t) = (app2.base.clone(), app2.client.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(&t)
                .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}))
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap())
        }));
    }
    for task in tasks {
        let (s, b) = task.await.unwrap();
        assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
    }
    let audit = app2.broker.audit().await.unwrap();
    assert_eq!(
        failed_logins(&audit, 10002) - failed_before,
        1,
        "MT5 saw the refused password once"
    );
    assert_eq!(order_sends(&audit, 10002), 0);
    let (_, log) = app2.get("/api/v1/audit", &t).await;
    let events: Vec<&str> = log["entries"]
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["event"].as_str()).collect())
        .unwrap_or_default();
    assert!(events.contains(&"credentials_invalid"), "{log}");

    // The old password is refused by PUT too; the new one is verified, stored and used.
    let (s, b) = app2
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": "Sim-10002!"}),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "mt5_login_failed"), "{b}");
    let (s, b) = app2
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": "Changed-10002!"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app2.get("/api/v1/account", &t).await;
    assert_eq!((s, &b["login"]), (200, &json!(10002)), "{b}");
    let (s, b) = app2
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    // The relaunched process shares the test's database, which the first one owns and drops.
    app2.shutdown().await;
    app
}
both_backends!(broker_password_change, a_password_changed_at_the_broker);

/// Two users holding the same valid password share one session: no extra login.
async fn same_password_shares_one_session(app: TestApp) -> TestApp {
    let a = app.token(Uuid::new_v4());
    let b = app.token(Uuid::new_v4());
    app.connect(&a, 10001, "Sim-10001!", "Sim-Demo", "a").await;
    app.connect(&b, 10001, "Sim-10001!", "Sim-Demo", "b").await;
    let before = app.state.pool.logins();
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/account", &a).await.0, 200);
        assert_eq!(app.get("/api/v1/account", &b).await.0, 200);
    }
    assert_eq!(app.state.pool.logins(), before);
    assert!(
        app.state
            .pool
            .stats()
            .guard_mismatches
            .load(Ordering::Relaxed)
            == 0
    );
    app
}
both_backends!(shared_session, same_password_shares_one_session);

/// Runs `sql` (one statement, `$1` = the row id) on the row as its owner's database role would
/// (the seed's UPDATE policy allows it on Postgres).
async fn update_row(app: &TestApp, user: Uuid, sql: &str, id: Uuid) {
    let n = app
        .as_data_api_user(user, &sql.replace("$1", &format!("'{id}'")))
        .await;
    assert_eq!(n, 1);
}

/// An owner who rewrites their own row's login or ciphertext through the Data API gets a row that
/// serves nothing until the password is set again through the API.
async fn rows_rewritten_outside_the_api(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "mine")
        .await;
    let uuid: Uuid = id.parse().unwrap();
    assert_eq!(app.get("/api/v1/account", &t).await.0, 200);
    // Pointed at another login (10002, which a terminal may well be logged in to).
    let other = app.token(Uuid::new_v4());
    app.connect(&other, 10002, "Sim-10002!", "Sim-Demo", "theirs")
        .await;
    assert_eq!(app.get("/api/v1/account", &other).await.0, 200);
    update_row(
        &app,
        user,
        "update mt5_accounts set login = '10002' where id = $1",
        uuid,
    )
    .await;
    let (s, b) = app.get("/api/v1/account", &t).await;
    assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
    assert_eq!(b["error"]["details"]["reason"], "undecryptable");
    // Back to its login but with a ciphertext of its own making: still nothing.
    update_row(
        &app,
        user,
        "update mt5_accounts set login = '10001', encrypted_password = 'v1:t1:AAAA' where id = $1",
        uuid,
    )
    .await;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!((s, code(&b)), (409, "account_credentials_invalid"), "{b}");
    // The password set again through the API (verified by a login) makes it whole.
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": "Sim-10001!"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.get("/api/v1/account", &t).await;
    assert_eq!((s, &b["login"]), (200, &json!(10001)), "{b}");
    app
}
both_backends!(rewritten_rows, rows_rewritten_outside_the_api);
