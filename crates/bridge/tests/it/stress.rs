//! Isolation under load: 20 users with their own accounts on 2 terminals with login latency,
//! hundreds of concurrent mixed operations (switch, read, order, close). At the end the broker's
//! audit trail shows every order ran under its own account's login, and every user's positions are
//! exactly what that user opened and did not close.

use crate::common;
use crate::common::routes;

use mt5::{AccountMarginMode, AccountTradeMode};
use mt5_sim::config::{AccountSpec, FaultConfig, SimConfig, StateLocation};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::Mutex;
use uuid::Uuid;

const USERS: usize = 20;
const OPS_PER_USER: usize = 16;

fn stress_accounts(n: usize) -> Vec<AccountSpec> {
    (0..n)
        .map(|i| AccountSpec {
            login: 30001 + i as u64,
            password: secrecy::SecretString::from(format!("Stress-{i}!")),
            investor_password: None,
            server: "Sim-Stress".into(),
            name: format!("stress {i}"),
            balance: 100_000.0,
            currency: "USD".into(),
            leverage: 100,
            margin_mode: AccountMarginMode::RetailHedging,
            trade_mode: AccountTradeMode::Demo,
            company: "Sim Broker Ltd.".into(),
            limit_orders: 200,
            limit_positions: 0,
            margin_so_call: 50.0,
            margin_so_so: 30.0,
            trade_allowed: true,
        })
        .collect()
}

/// What each (user, account) opened and closed, by ticket.
#[derive(Default)]
struct Book {
    open: BTreeSet<u64>,
    ticket_owner: HashMap<u64, u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_users_on_two_terminals_stay_isolated() {
    // Users 0..4 have two accounts each, the rest one: 24 accounts on 2 terminals.
    let accounts = stress_accounts(USERS + 4);
    let sim = SimConfig {
        accounts: accounts.clone(),
        state: StateLocation::Memory,
        seed: 11,
        login_latency_ms: 40,
        call_latency_ms: 1,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    };
    let app = Arc::new(
        common::spawn_with(common::Db::Sqlite, sim, |env| {
            env.insert("TERMINALS", "sim:2".into());
            env.insert("TERMINAL_TIMEOUT_MS", "120000".into());
        })
        .await,
    );

    // Connect every account (each user its own).
    let mut users = Vec::new();
    let mut next = 0usize;
    for u in 0..USERS {
        let token = app.token(Uuid::new_v4());
        let n = if u < 4 { 2 } else { 1 };
        let mut ids = Vec::new();
        for _ in 0..n {
            let spec = &accounts[next];
            next += 1;
            let id = app
                .connect(
                    &token,
                    spec.login,
                    &format!("Stress-{}!", spec.login - 30001),
                    "Sim-Stress",
                    "stress",
                )
                .await;
            ids.push((id, spec.login));
        }
        users.push((token, ids));
    }

    let books: Arc<Mutex<HashMap<String, Book>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut tasks = Vec::new();
    for (u, (token, ids)) in users.clone().into_iter().enumerate() {
        let app = app.clone();
        let books = books.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(u as u64);
            for _ in 0..OPS_PER_USER {
                let (account_id, login) = ids[rng.gen_range(0..ids.len())].clone();
                let with_account = |m: reqwest::Method, path: &str| {
                    app.client.request(m, format!("{}{}", app.base, path)).bearer_auth(&token).header("x-account-id", &account_id)
                };
                match rng.gen_range(0..10) {
                    0 if ids.len() > 1 => {
                        let (s, b) = app.post(&routes::switch(&account_id), &token, json!({})).await;
                        assert_eq!(s, 200, "{b}");
                        assert_eq!(b["account"]["login"], login);
                    }
                    0..=3 => {
                        let r = with_account(reqwest::Method::GET, routes::ACCOUNT).send().await.unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                        let b: Value = r.json().await.unwrap();
                        assert_eq!(b["login"], login, "account info of another account");
                    }
                    4..=6 => {
                        let side = if rng.gen_bool(0.5) { "buy" } else { "sell" };
                        let r = with_account(reqwest::Method::POST, routes::ORDERS)
                            .json(&json!({"symbol": "EURUSD", "type": side, "volume": 0.01 * rng.gen_range(1..5) as f64}))
                            .send()
                            .await
                            .unwrap();
                        let status = r.status().as_u16();
                        let b: Value = r.json().await.unwrap();
                        assert_eq!(status, 200, "{b}");
                        let ticket = b["order"].as_u64().unwrap();
                        let mut books = books.lock().await;
                        let book = books.entry(account_id.clone()).or_default();
                        book.open.insert(ticket);
                        book.ticket_owner.insert(ticket, login);
                    }
                    7..=8 => {
                        let ticket = {
                            let books = books.lock().await;
                            books.get(&account_id).and_then(|b| b.open.iter().next().copied())
                        };
                        if let Some(ticket) = ticket {
                            let r = with_account(reqwest::Method::POST, &routes::close_position(ticket)).send().await.unwrap();
                            let status = r.status().as_u16();
                            let b: Value = r.json().await.unwrap();
                            assert_eq!(status, 200, "{b}");
                            let mut books = books.lock().await;
                            let book = books.entry(account_id.clone()).or_default();
                            book.open.remove(&ticket);
                            if let Some(close_order) = b["order"].as_u64() {
                                book.ticket_owner.insert(close_order, login);
                            }
                        }
                    }
                    _ => {
                        let r = with_account(reqwest::Method::GET, routes::POSITIONS).send().await.unwrap();
                        assert_eq!(r.status().as_u16(), 200);
                        let b: Value = r.json().await.unwrap();
                        // Positions are only ever this account's: every ticket is one it opened.
                        let books = books.lock().await;
                        let owned = books.get(&account_id).map(|b| b.ticket_owner.clone()).unwrap_or_default();
                        for p in b["positions"].as_array().unwrap() {
                            let t = p["ticket"].as_u64().unwrap();
                            assert_eq!(owned.get(&t), Some(&login), "position {t} is not this account's");
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    // Every user's positions are exactly what that user opened and did not close.
    let books = books.lock().await;
    for (token, ids) in &users {
        for (account_id, _) in ids {
            let r = app
                .client
                .get(format!("{}/api/v1/positions", app.base))
                .bearer_auth(token)
                .header("x-account-id", account_id)
                .send()
                .await
                .unwrap();
            let b: Value = r.json().await.unwrap();
            let have: BTreeSet<u64> = b["positions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["ticket"].as_u64().unwrap())
                .collect();
            let want = books
                .get(account_id)
                .map(|b| b.open.clone())
                .unwrap_or_default();
            assert_eq!(have, want, "positions of account {account_id}");
        }
    }

    // The audit trail: every order ran under the login of the account it was meant for.
    let audit = app.broker.audit().await.unwrap();
    let owners: HashMap<u64, u64> = books
        .values()
        .flat_map(|b| b.ticket_owner.clone())
        .collect();
    common::assert_orders_ran_under_their_logins(&audit, &owners);
    let checked = owners.len();
    assert!(checked > 50, "the workload placed orders ({checked})");
    // And the journal holds every order exactly once.
    let mut journaled = 0;
    for (token, _) in &users {
        let (_, b) = app.get("/api/v1/journal?limit=500", token).await;
        for e in b["entries"].as_array().unwrap() {
            assert_eq!(e["status"], "done", "{e}");
            journaled += 1;
        }
    }
    assert_eq!(journaled, owners.len());
    assert_eq!(
        app.state
            .pool
            .stats()
            .guard_mismatches
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
}
