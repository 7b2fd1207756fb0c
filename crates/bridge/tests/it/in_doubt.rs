//! Orders in doubt are never called failed: an order whose answer was lost is `unknown` (504 with
//! its journal id) until the broker's history settles it, its key answers 409
//! `order_outcome_unknown` meanwhile and replays the real outcome after; an order that certainly
//! did not run is `not_executed` (503) and its key may be sent again. The crash cases run `serve`
//! and a `sim-agent` as separate processes and kill them mid-order.

use crate::common;
use crate::common::routes;

use common::procs::{free_port, start_agent_with, start_serve, wait_status, Proc, AGENT_TOKEN};
use common::TestApp;
use mt5_sim::config::FaultConfig;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

fn buy() -> Value {
    json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})
}

/// `POST /api/v1/orders` with an Idempotency-Key on `base`: status, Retry-After, body.
pub(crate) async fn place(base: &str, token: &str, key: &str) -> (u16, Option<String>, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&buy())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, retry, resp.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn get(base: &str, token: &str, path: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Polls the entry until its status is not `unknown`/`pending`, within `secs`.
async fn settled(base: &str, token: &str, id: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let (s, b) = get(base, token, &routes::journal_entry(id)).await;
        assert_eq!(s, 200, "{b}");
        let status = b["entry"]["status"].as_str().unwrap().to_string();
        if status != "unknown" && status != "pending" {
            return b["entry"].clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "entry {id} still {status} after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn positions(base: &str, token: &str) -> usize {
    let (s, b) = get(base, token, routes::POSITIONS).await;
    assert_eq!(s, 200, "{b}");
    b["positions"].as_array().unwrap().len()
}

fn faults(f: FaultConfig) -> mt5_sim::config::SimConfig {
    let mut sim = common::sim_config();
    sim.faults = f;
    sim
}

/// The broker executes the order and the answer is lost: 504 `unknown`, then the reconciler finds
/// it by its client id and the key replays the real outcome. Nothing is sent twice.
async fn answer_lost(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "lost answer")
        .await;
    let (s, _, b) = place(&app.base, &t, "lost-1").await;
    assert_eq!(s, 504, "{b}");
    assert_eq!(b["error"]["code"], "terminal_timeout", "{b}");
    assert_eq!(b["error"]["details"]["status"], "unknown", "{b}");
    let id = b["error"]["details"]["journal_id"]
        .as_str()
        .unwrap()
        .to_string();

    let entry = settled(&app.base, &t, &id, 20).await;
    assert_eq!(entry["status"], "done", "{entry}");
    assert_eq!(entry["retcode"], 10009, "{entry}");
    assert!(entry["order"].as_u64().is_some(), "{entry}");
    assert!(entry["deal"].as_u64().is_some(), "{entry}");

    // The key replays the settled truth and sends nothing.
    let (s, _, b) = place(&app.base, &t, "lost-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009, "{b}");
    assert_eq!(b["order"], entry["order"], "{b}");
    assert_eq!(positions(&app.base, &t).await, 1);

    // Only its owner sees the entry; a malformed id names the field.
    let other = app.token(Uuid::new_v4());
    let (s, b) = get(&app.base, &other, &routes::journal_entry(&id)).await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (404, &json!("journal_entry_not_found"))
    );
    let (s, b) = get(&app.base, &t, "/api/v1/journal/not-a-uuid").await;
    assert_eq!((s, &b["error"]["code"]), (422, &json!("validation_failed")));
    assert_eq!(b["error"]["details"]["fields"][0]["field"], "id", "{b}");
    let (s, b) = get(
        &app.base,
        &t,
        &format!("/api/v1/journal/{}", Uuid::new_v4()),
    )
    .await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (404, &json!("journal_entry_not_found"))
    );
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_answer_is_lost_settles_done_sqlite() {
    let sim = faults(FaultConfig {
        order_answer_lost: 1.0,
        ..Default::default()
    });
    common::run_on_with(common::Db::Sqlite, sim, |_| {}, answer_lost).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_answer_is_lost_settles_done_postgres() {
    let sim = faults(FaultConfig {
        order_answer_lost: 1.0,
        ..Default::default()
    });
    common::run_on_with(common::Db::Postgres, sim, |_| {}, answer_lost).await;
}

/// The order never reaches the broker but the caller cannot tell: `unknown`, its key answers 409
/// `order_outcome_unknown` with `Retry-After` while the reconciler looks, then `not_executed` once
/// the deadline and the grace period passed; the key may then be sent again and is sent.
async fn dropped_order(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "dropped")
        .await;
    let (s, _, b) = place(&app.base, &t, "dropped-1").await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (504, &json!("terminal_timeout")),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["status"], "unknown", "{b}");
    let id = b["error"]["details"]["journal_id"]
        .as_str()
        .unwrap()
        .to_string();

    // In doubt: the same key sends nothing and says so.
    let (s, retry, b) = place(&app.base, &t, "dropped-1").await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (409, &json!("order_outcome_unknown")),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["journal_id"], json!(id), "{b}");
    assert!(
        retry.is_some_and(|r| r.parse::<u64>().is_ok()),
        "Retry-After"
    );
    assert_eq!(positions(&app.base, &t).await, 0);

    let entry = settled(&app.base, &t, &id, 30).await;
    assert_eq!(entry["status"], "not_executed", "{entry}");
    assert_eq!(entry["order"], Value::Null, "{entry}");

    // A terminal that delivers now: the key is taken over by a new entry, which is sent.
    app.kill();
    let app2 = app
        .relaunch_with(common::sim_config(), |env| {
            env.insert("TERMINAL_TIMEOUT_MS", "1000".into());
        })
        .await;
    let (s, _, b) = place(&app2.base, &t, "dropped-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009, "{b}");
    assert_eq!(positions(&app2.base, &t).await, 1);
    let (_, j) = get(&app2.base, &t, routes::JOURNAL).await;
    let statuses: Vec<_> = j["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].clone(), e["idempotency_key"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!("done"), json!("dropped-1")),
            (json!("not_executed"), Value::Null)
        ],
        "{j}"
    );
    // The same key again replays the order that was sent.
    let (s, _, again) = place(&app2.base, &t, "dropped-1").await;
    assert_eq!((s, &again["order"]), (200, &b["order"]), "{again}");
    assert_eq!(positions(&app2.base, &t).await, 1);
    app2.kill();
    app
}

fn dropped_settings(env: &mut std::collections::HashMap<&'static str, String>) {
    env.insert("TERMINAL_TIMEOUT_MS", "1000".into());
    env.insert("RECONCILE_GRACE_MS", "1500".into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_never_arrived_is_not_executed_and_its_key_sends_again_sqlite() {
    let sim = faults(FaultConfig {
        order_dropped: 1.0,
        ..Default::default()
    });
    common::run_on_with(common::Db::Sqlite, sim, dropped_settings, dropped_order).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_never_arrived_is_not_executed_and_its_key_sends_again_postgres() {
    let sim = faults(FaultConfig {
        order_dropped: 1.0,
        ..Default::default()
    });
    common::run_on_with(common::Db::Postgres, sim, dropped_settings, dropped_order).await;
}

/// A terminal that loses its connection before the order is sent: 503 `terminal_unavailable` with
/// the journal id and `not_executed`; nothing ran, so the same key is sent again (a new entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_that_was_never_sent_answers_503_not_executed() {
    let sim = faults(FaultConfig {
        disconnect: 1.0,
        ..Default::default()
    });
    let app = common::spawn_with(common::Db::Sqlite, sim, |_| {}).await;
    let (t, _) = app.trader(10003).await;
    let (s, _, first) = place(&app.base, &t, "never-1").await;
    assert_eq!(
        (s, &first["error"]["code"]),
        (503, &json!("terminal_unavailable")),
        "{first}"
    );
    assert_eq!(
        first["error"]["details"]["status"], "not_executed",
        "{first}"
    );
    let id = first["error"]["details"]["journal_id"].as_str().unwrap();
    let (_, e) = get(&app.base, &t, &routes::journal_entry(id)).await;
    assert_eq!(e["entry"]["status"], "not_executed", "{e}");
    assert_eq!(e["entry"]["error"], "terminal_unavailable", "{e}");
    // Sent again under the same key: a new entry, not a replay.
    let (s, _, second) = place(&app.base, &t, "never-1").await;
    assert_eq!(s, 503, "{second}");
    assert_ne!(
        second["error"]["details"]["journal_id"], first["error"]["details"]["journal_id"],
        "{second}"
    );
    // No message names the terminal's internals.
    assert_eq!(
        first["error"]["message"],
        "no terminal is available: the order was not sent"
    );
    let (s, _, b) = app
        .call_full(Method::GET, routes::JOURNAL, Some(&t), None)
        .await;
    assert_eq!(s, 200);
    assert!(b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "not_executed"));
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Processes killed mid-order
// ---------------------------------------------------------------------------------------------

struct Deployment {
    dir: tempfile::TempDir,
    agent_port: u16,
    key: String,
}

impl Deployment {
    fn new() -> Self {
        let key = mt5_bridge::vault::CredentialKey::generate("d1").to_base64();
        Deployment {
            dir: tempfile::tempdir().unwrap(),
            agent_port: free_port(),
            key: secrecy::ExposeSecret::expose_secret(&key).to_string(),
        }
    }

    /// A sim-agent whose orders take `order_latency_ms` at the broker.
    async fn agent(&self, order_latency_ms: u64) -> Proc {
        start_agent_with(
            self.dir.path(),
            self.agent_port,
            &[("MT5_SIM_ORDER_LATENCY_MS", order_latency_ms.to_string())],
        )
        .await
    }

    async fn serve(&self, n: usize) -> Proc {
        let d = self.dir.path();
        let env = vec![
            ("DATA_DIR", d.join("bridge").display().to_string()),
            (
                "DATABASE_URL",
                format!("sqlite://{}?mode=rwc", d.join("bridge.db").display()),
            ),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            ("CREDENTIALS_KEY", self.key.clone()),
            ("CREDENTIALS_KEY_ID", "d1".to_string()),
            (
                "TERMINALS",
                format!("agent:http://127.0.0.1:{}", self.agent_port),
            ),
            ("AGENT_TOKEN", AGENT_TOKEN.to_string()),
            ("TERMINAL_TIMEOUT_MS", "4000".to_string()),
            ("RECONCILE_GRACE_MS", "1000".to_string()),
            ("RUST_LOG", "info".to_string()),
        ];
        let p = start_serve(free_port(), &env, &d.join(format!("serve-{n}.log"))).await;
        wait_status(&format!("{}/readyz", p.url), None, 200, "serve ready").await;
        p
    }
}

pub(crate) async fn connect(base: &str, token: &str, login: u64) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/accounts/connect"))
        .bearer_auth(token)
        .json(&json!({"account_name": "crash", "login": login.to_string(),
                      "password": format!("Sim-{login}!"), "server": "Sim-Demo",
                      "account_type": "demo", "set_as_default": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        201,
        "{}",
        resp.text().await.unwrap()
    );
}

/// `kill -9` of `serve` while its order is at the broker: the agent runs the order to its end, the
/// restarted service settles the entry from the broker's history, and the key replays it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_killed_mid_order_settles_from_history_after_a_restart() {
    let d = Deployment::new();
    let _agent = d.agent(2_500).await;
    let mut serve = d.serve(1).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let base = serve.url.clone();
    let token = t.clone();
    let order = tokio::spawn(async move { place(&base, &token, "crash-1").await });
    // The order reaches the agent at once and waits 2.5 s at the broker: kill the service then.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    serve.kill();
    assert!(order.await.is_err(), "the client lost its answer");

    let serve = d.serve(2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let entry = loop {
        let (s, b) = get(&serve.url, &t, routes::JOURNAL).await;
        assert_eq!(s, 200, "{b}");
        let e = b["entries"][0].clone();
        if e["status"] != "pending" && e["status"] != "unknown" {
            break e;
        }
        assert!(std::time::Instant::now() < deadline, "still open: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(entry["status"], "done", "{entry}");
    assert_eq!(entry["retcode"], 10009, "{entry}");
    let (s, _, b) = place(&serve.url, &t, "crash-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["order"], entry["order"], "{b}");
    assert_eq!(positions(&serve.url, &t).await, 1, "sent exactly once");
}

/// `kill -9` of the agent while an order waits at it: the bridge lost its answer, so the order is
/// `unknown` (504), never failed. The order never reached the broker: once the agent is back and
/// the grace period passed, it is `not_executed` and its key is sent again. The agent's ledger
/// survives with its id and tells `interrupted` (it cannot tell), so nothing is guessed from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_killed_mid_order_is_unknown_then_not_executed() {
    let d = Deployment::new();
    let mut agent = d.agent(3_000).await;
    let ledger_id = agent_ledger_id(&agent.url).await;
    let serve = d.serve(1).await;
    let t = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    connect(&serve.url, &t, 10001).await;

    let base = serve.url.clone();
    let token = t.clone();
    let order = tokio::spawn(async move { place(&base, &token, "agent-crash-1").await });
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    agent.kill();
    let (s, _, b) = order.await.unwrap();
    assert_eq!(
        (s, &b["error"]["code"]),
        (504, &json!("terminal_timeout")),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["status"], "unknown", "{b}");
    let id = b["error"]["details"]["journal_id"]
        .as_str()
        .unwrap()
        .to_string();

    let agent = d.agent(0).await;
    assert_eq!(
        agent_ledger_id(&agent.url).await,
        ledger_id,
        "the ledger survived"
    );
    let entry = settled(&serve.url, &t, &id, 40).await;
    assert_eq!(entry["status"], "not_executed", "{entry}");
    assert_eq!(positions(&serve.url, &t).await, 0);
    let (s, _, b) = place(&serve.url, &t, "agent-crash-1").await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(positions(&serve.url, &t).await, 1);
}

/// The ledger id the agent at `url` reports.
async fn agent_ledger_id(url: &str) -> String {
    let h: Value = reqwest::Client::new()
        .get(format!("{url}/v1/health"))
        .bearer_auth(AGENT_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    h["ledger"]["id"].as_str().unwrap().to_string()
}

/// Runs `sql` on the Postgres server as its admin (on the `postgres` database, not the test's).
async fn as_admin(sql: &str) {
    use sqlx::Connection;
    let url = common::postgres_url().expect("TEST_DATABASE_URL");
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
}

/// The database goes away while an order is at the broker: the broker executes it, its outcome
/// cannot be written, and the client gets `503 journal_unavailable` with the journal id (never a
/// 500). As soon as the database is back (no restart of the service), the entry is settled from
/// the broker's history and the key replays the real outcome, sending nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_outcome_could_not_be_written_is_settled_when_the_database_is_back() {
    if common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    let mut sim = common::sim_config();
    sim.order_latency_ms = 2_000;
    common::run_on_with(
        common::Db::Postgres,
        sim,
        |env| {
            env.insert("TERMINAL_TIMEOUT_MS", "5000".into());
        },
        |app| async move {
            let (t, _) = app.trader(10001).await;
            let db = app.pg.as_ref().expect("a database of its own").name.clone();
            let order = {
                let (base, t) = (app.base.clone(), t.clone());
                tokio::spawn(async move { place(&base, &t, "db-gone-1").await })
            };
            // Wait until the entry is written (pending) and the order is at the broker, then
            // cut the service off its database: every connection ends, no new one is allowed.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let (_, b) = get(&app.base, &t, routes::JOURNAL).await;
                if b["entries"].as_array().is_some_and(|e| !e.is_empty()) {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "no entry was written");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            as_admin(&format!(
                r#"alter database "{db}" allow_connections false;
                   select pg_terminate_backend(pid) from pg_stat_activity
                    where datname = '{db}' and pid <> pg_backend_pid();"#
            ))
            .await;

            let (s, retry, b) = order.await.unwrap();
            assert_eq!(s, 503, "{b}");
            assert_eq!(b["error"]["code"], "journal_unavailable", "{b}");
            assert_eq!(b["error"]["details"]["status"], "pending", "{b}");
            assert_eq!(retry.as_deref(), Some("1"));
            let id = b["error"]["details"]["journal_id"]
                .as_str()
                .unwrap()
                .to_string();
            // The broker did execute it.
            let sent: Vec<_> = app
                .broker
                .audit()
                .await
                .unwrap()
                .into_iter()
                .filter(|r| r.operation == "order_send" && r.login == 10001)
                .collect();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].retcode, 10009);

            // While it is away, requests that need it answer 503, not 500.
            let (s, b) = get(&app.base, &t, routes::JOURNAL).await;
            assert_eq!(
                (s, &b["error"]["code"]),
                (503, &json!("database_unavailable"))
            );

            as_admin(&format!(r#"alter database "{db}" allow_connections true"#)).await;
            let entry = settled(&app.base, &t, &id, 30).await;
            assert_eq!(entry["status"], "done", "{entry}");
            assert_eq!(entry["order"], sent[0].order, "{entry}");
            let (s, _, b) = place(&app.base, &t, "db-gone-1").await;
            assert_eq!(s, 200, "{b}");
            assert_eq!(b["order"], sent[0].order, "{b}");
            assert_eq!(positions(&app.base, &t).await, 1);
            app
        },
    )
    .await;
}
