//! Two `serve` replicas on one database, a private Redis and two sim-agents on one broker state:
//! a concurrent multi-user workload through both, limits that hold across replicas, agents shared
//! one each under Redis leases, a replica that dies, and Redis going away and coming back.

use crate::common;
use crate::common::routes;

use common::procs::AGENT_TOKEN;
use common::procs::{free_port, start_agent_with, start_serve, wait_status, Proc, RedisServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};
use uuid::Uuid;

const USERS: u64 = 6;
const SERVER: &str = "Sim-Replicas";
const TRADE_LIMIT: usize = 8;
const SWITCH_LIMIT: usize = 3;

fn login_of(k: u64) -> u64 {
    30_001 + k
}

fn password_of(login: u64) -> String {
    format!("Pw-{login}!")
}

/// Accounts for the users, plus two for the switching user and one for the stream.
fn accounts_toml(dir: &Path) -> String {
    let mut s = String::new();
    for k in 0..USERS + 3 {
        let login = login_of(k);
        s.push_str(&format!(
            "[[accounts]]\nlogin = {login}\npassword = \"{}\"\nserver = \"{SERVER}\"\nname = \"Replica {k}\"\n\
             balance = 10000\ncurrency = \"USD\"\nleverage = 100\nmargin_mode = \"hedging\"\ntrade_mode = \"demo\"\n\n",
            password_of(login)
        ));
    }
    let path = dir.join("accounts.toml");
    std::fs::write(&path, s).unwrap();
    path.display().to_string()
}

async fn api(
    base: &str,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    account: Option<&str>,
) -> (u16, Value) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut rb = client
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(a) = account {
        rb = rb.header("X-Account-Id", a);
    }
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn connect(base: &str, token: &str, login: u64) -> String {
    let (s, b) = api(
        base,
        Method::POST,
        routes::CONNECT,
        token,
        Some(
            json!({"account_name": format!("acct {login}"), "login": login.to_string(),
                    "password": password_of(login), "server": SERVER}),
        ),
        None,
    )
    .await;
    assert_eq!(s, 201, "connect {login}: {b}");
    b["account_id"].as_str().unwrap().to_string()
}

/// The next JSON message of a live stream.
async fn stream_message(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a stream message within 10 s")
            .unwrap()
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Which replica holds each agent's lease, as Redis says.
async fn lease_owners(redis: &RedisServer, agents: &[Proc]) -> Vec<Option<String>> {
    let mut c = redis.connection().await;
    let mut owners = Vec::new();
    for a in agents {
        let key = format!("mt5-bridge:terminal:{}", a.url);
        let owner: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg("replica")
            .query_async(&mut c)
            .await
            .unwrap();
        owners.push(owner);
    }
    owners
}

async fn agent_lease(agent: &Proc) -> u64 {
    let (s, h) = api(
        &agent.url,
        Method::GET,
        "/v1/health",
        AGENT_TOKEN,
        None,
        None,
    )
    .await;
    assert_eq!(s, 200, "{h}");
    h["lease"].as_u64().unwrap_or(0)
}

/// Polls `f` every 200 ms until it returns true, or panics after `secs`.
async fn eventually<F, Fut>(secs: u64, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One user's part of the workload: orders, reads and closes, alternating replicas. Returns the
/// tickets still open, and every ticket it placed.
async fn user_workload(
    bases: [String; 2],
    token: String,
    account: String,
    login: u64,
) -> (BTreeSet<u64>, Vec<u64>) {
    let mut open = BTreeSet::new();
    let mut placed = Vec::new();
    for i in 0..4usize {
        let base = &bases[i % 2];
        let (s, b) = api(
            base,
            Method::GET,
            routes::ACCOUNT,
            &token,
            None,
            Some(&account),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["login"], login, "the account read is the user's own");
        let (s, b) = api(
            &bases[(i + 1) % 2],
            Method::POST,
            routes::ORDERS,
            &token,
            Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
            Some(&account),
        )
        .await;
        assert_eq!(s, 200, "order of {login}: {b}");
        assert_eq!(b["retcode"], 10009, "{b}");
        let ticket = b["order"].as_u64().unwrap();
        open.insert(ticket);
        placed.push(ticket);
        let (s, b) = api(
            base,
            Method::GET,
            routes::POSITIONS,
            &token,
            None,
            Some(&account),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let seen: BTreeSet<u64> = b["positions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["ticket"].as_u64().unwrap())
            .collect();
        assert_eq!(seen, open, "{login} sees exactly its own positions");
        if i % 2 == 1 {
            let (s, b) = api(
                base,
                Method::POST,
                &routes::close_position(ticket),
                &token,
                Some(json!({})),
                Some(&account),
            )
            .await;
            assert_eq!(s, 200, "close {ticket}: {b}");
            open.remove(&ticket);
        }
    }
    (open, placed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_agents_limits_and_sessions_through_redis() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts_toml(dir.path());
    let mut redis = RedisServer::start(dir.path()).await;
    let agent_env = [
        ("MT5_SIM_ACCOUNTS", accounts),
        ("MT5_SIM_LOGIN_LATENCY_MS", "50".to_string()),
    ];
    let agents = vec![
        start_agent_with(dir.path(), free_port(), &agent_env).await,
        start_agent_with(dir.path(), free_port(), &agent_env).await,
    ];
    // Both replicas on one database: Postgres when the suite has one, else one SQLite file.
    let pg = match common::postgres_url() {
        Some(admin) => Some(
            common::postgres_db::fresh_postgres_database(&admin)
                .await
                .unwrap(),
        ),
        None => None,
    };
    let database_url = match &pg {
        Some(t) => t.url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bridge.db").display()
        ),
    };
    let key = mt5_bridge::vault::CredentialKey::generate("r1").to_base64();
    let env = |n: usize| {
        vec![
            (
                "DATA_DIR",
                dir.path()
                    .join(format!("replica-{n}"))
                    .display()
                    .to_string(),
            ),
            ("DATABASE_URL", database_url.clone()),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            (
                "CREDENTIALS_KEY",
                secrecy::ExposeSecret::expose_secret(&key).to_string(),
            ),
            ("CREDENTIALS_KEY_ID", "r1".to_string()),
            (
                "TERMINALS",
                format!("agent:{},agent:{}", agents[0].url, agents[1].url),
            ),
            ("AGENT_TOKEN", AGENT_TOKEN.to_string()),
            ("REDIS_URL", redis.url()),
            ("TERMINAL_LEASE_TTL_MS", "3000".to_string()),
            ("TERMINAL_TIMEOUT_MS", "20000".to_string()),
            ("TRADE_LIMIT_PER_HOUR", TRADE_LIMIT.to_string()),
            ("SWITCH_LIMIT_PER_HOUR", SWITCH_LIMIT.to_string()),
            ("RUST_LOG", "info".to_string()),
        ]
    };
    // One after the other, so that migrations do not race.
    let mut r1 = start_serve(free_port(), &env(1), &dir.path().join("replica-1.log")).await;
    wait_status(&format!("{}/readyz", r1.url), None, 200, "replica 1 ready").await;
    let r2 = start_serve(free_port(), &env(2), &dir.path().join("replica-2.log")).await;
    wait_status(&format!("{}/readyz", r2.url), None, 200, "replica 2 ready").await;

    // The agents are shared: one each, under leases held by different replicas.
    eventually(30, "each replica holds one agent", || async {
        let owners = lease_owners(&redis, &agents).await;
        owners.iter().all(Option::is_some) && owners[0] != owners[1]
    })
    .await;

    // The workload: every user at once, each request alternating replicas.
    let bases = [r1.url.clone(), r2.url.clone()];
    let mut users = Vec::new();
    for k in 0..USERS {
        let token = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
        let account = connect(&bases[(k % 2) as usize], &token, login_of(k)).await;
        users.push((token, account, login_of(k)));
    }
    let tasks: Vec<_> = users
        .iter()
        .map(|(token, account, login)| {
            tokio::spawn(user_workload(
                bases.clone(),
                token.clone(),
                account.clone(),
                *login,
            ))
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let mut ticket_owner: HashMap<u64, u64> = HashMap::new();
    for ((token, account, login), (open, placed)) in users.iter().zip(&results) {
        for t in placed {
            ticket_owner.insert(*t, *login);
        }
        for base in &bases {
            let (s, b) = api(
                base,
                Method::GET,
                routes::POSITIONS,
                token,
                None,
                Some(account),
            )
            .await;
            assert_eq!(s, 200, "{b}");
            let have: BTreeSet<u64> = b["positions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["ticket"].as_u64().unwrap())
                .collect();
            assert_eq!(&have, open, "positions of {login} on {base}");
        }
    }
    // Both agents really worked, under fencing tokens.
    for a in &agents {
        assert!(agent_lease(a).await > 0, "{} saw no lease", a.url);
    }

    // The trade limit holds across replicas: 6 trades were made on user 0's account (4 orders,
    // 2 closes), so exactly 2 more pass, whichever replica they reach.
    let (token, account, _) = &users[0];
    let mut outcomes = Vec::new();
    for i in 0..4 {
        let (s, b) = api(
            &bases[i % 2],
            Method::POST,
            routes::ORDERS,
            token,
            Some(json!({"symbol": "EURUSD", "type": "sell", "volume": 0.01})),
            Some(account),
        )
        .await;
        if s == 429 {
            assert_eq!(b["error"]["code"], "rate_limited", "{b}");
            assert_eq!(b["error"]["details"]["limit"], TRADE_LIMIT, "{b}");
        } else if let Some(t) = b["order"].as_u64() {
            ticket_owner.insert(t, users[0].2);
        }
        outcomes.push(s);
    }
    assert_eq!(
        outcomes,
        vec![200, 200, 429, 429],
        "trade limit across replicas"
    );

    // The current account lives in Redis: a switch on one replica is seen on the other, and the
    // switch limit counts switches on both.
    let token = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let a = connect(&bases[0], &token, login_of(USERS)).await;
    let b_acc = connect(&bases[1], &token, login_of(USERS + 1)).await;
    let mut switches = Vec::new();
    for i in 0..(SWITCH_LIMIT + 1) {
        let target = if i % 2 == 0 { &b_acc } else { &a };
        let (s, body) = api(
            &bases[i % 2],
            Method::POST,
            &routes::switch(target),
            &token,
            None,
            None,
        )
        .await;
        if s == 200 {
            let (_, cur) = api(
                &bases[(i + 1) % 2],
                Method::GET,
                routes::CURRENT_ACCOUNT,
                &token,
                None,
                None,
            )
            .await;
            assert_eq!(
                &cur["account"]["id"],
                &json!(target),
                "the other replica sees the switch: {cur}"
            );
        } else {
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        }
        switches.push(s);
    }
    assert_eq!(
        switches,
        vec![200, 200, 200, 429],
        "switch limit across replicas"
    );

    // Every order ran under the login of the account it was meant for, on one of the two agents.
    let broker_cfg = mt5_sim::config::SimConfig {
        accounts: mt5_sim::config::load_accounts_file(&dir.path().join("accounts.toml")).unwrap(),
        state: mt5_sim::config::StateLocation::Sqlite(dir.path().join("shared-broker.db")),
        ..common::sim_config()
    };
    let (broker, _) = mt5_sim::broker::open_from_config(&broker_cfg)
        .await
        .unwrap();
    let audit = broker.audit().await.unwrap();
    let terminals = common::assert_orders_ran_under_their_logins(&audit, &ticket_owner);
    assert_eq!(
        terminals.len(),
        2,
        "orders went through both agents: {terminals:?}"
    );

    // A stream on one replica hears the orders placed through the other (the Redis relay).
    {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};
        let token = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
        let account = connect(&bases[0], &token, login_of(USERS + 2)).await;
        let mut req = format!("{}/api/v1/stream", bases[1].replacen("http://", "ws://", 1))
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(stream_message(&mut ws).await["type"], "ready");
        ws.send(Message::text(
            json!({"type": "subscribe", "id": "o", "channel": "orders", "account_id": account})
                .to_string(),
        ))
        .await
        .unwrap();
        assert_eq!(stream_message(&mut ws).await["type"], "subscribed");
        let (s, placed) = api(
            &bases[0],
            Method::POST,
            routes::ORDERS,
            &token,
            Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
            Some(&account),
        )
        .await;
        assert_eq!(s, 200, "{placed}");
        loop {
            let event = stream_message(&mut ws).await;
            assert_eq!(event["type"], "event", "{event}");
            assert_eq!(event["account_id"], json!(account));
            if event["data"]["status"] == "done" {
                assert_eq!(event["data"]["order"], placed["order"], "{event}");
                break;
            }
        }

        // Orders fired at once through one replica all reach the stream on the other (the relay
        // batches them), and another user's stream there, on a row of the same MT5 account,
        // hears none of them.
        let other = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
        let others_account = connect(&bases[0], &other, login_of(USERS + 2)).await;
        let mut req = format!("{}/api/v1/stream", bases[1].replacen("http://", "ws://", 1))
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("Authorization", format!("Bearer {other}").parse().unwrap());
        let (mut theirs, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(stream_message(&mut theirs).await["type"], "ready");
        theirs
            .send(Message::text(
                json!({"type": "subscribe", "id": "o", "channel": "orders", "account_id": others_account})
                    .to_string(),
            ))
            .await
            .unwrap();
        assert_eq!(stream_message(&mut theirs).await["type"], "subscribed");
        let burst = (0..TRADE_LIMIT - 2).map(|_| {
            api(
                &bases[0],
                Method::POST,
                routes::ORDERS,
                &token,
                Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
                Some(&account),
            )
        });
        let mut wanted = BTreeSet::new();
        for (s, placed) in futures_util::future::join_all(burst).await {
            assert_eq!(s, 200, "{placed}");
            wanted.insert(placed["order"].as_u64().unwrap());
        }
        let mut heard = BTreeSet::new();
        while heard != wanted {
            let event = stream_message(&mut ws).await;
            assert_eq!(event["account_id"], json!(account), "{event}");
            if event["data"]["status"] == "done" {
                heard.insert(event["data"]["order"].as_u64().unwrap());
            }
        }
        let quiet = tokio::time::timeout(Duration::from_millis(500), async {
            use futures_util::StreamExt;
            loop {
                match theirs.next().await {
                    Some(Ok(Message::Text(t))) => return t.to_string(),
                    Some(Ok(_)) => continue,
                    _ => return String::new(),
                }
            }
        })
        .await;
        assert!(quiet.is_err(), "another user's stream heard {quiet:?}");
    }

    // A replica dies: once its leases run out, the other takes its agent over and serves everyone.
    let before = agent_lease(&agents[0])
        .await
        .max(agent_lease(&agents[1]).await);
    r1.kill();
    eventually(30, "replica 2 holds both agents", || async {
        let owners = lease_owners(&redis, &agents).await;
        owners[0].is_some() && owners[0] == owners[1]
    })
    .await;
    for (token, account, login) in &users {
        let mut ok = false;
        for _ in 0..50 {
            let (s, b) = api(
                &bases[1],
                Method::GET,
                routes::ACCOUNT,
                token,
                None,
                Some(account),
            )
            .await;
            if s == 200 {
                assert_eq!(b["login"], *login);
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(ok, "{login} served by the surviving replica");
    }
    let after = agent_lease(&agents[0])
        .await
        .max(agent_lease(&agents[1]).await);
    assert!(
        after > before,
        "the takeover used a newer fencing token ({before} → {after})"
    );

    // Redis goes away: what needs it answers 503 redis_unavailable, and nothing hangs.
    redis.stop();
    let (token, account, login) = &users[1];
    eventually(10, "503 redis_unavailable while Redis is away", || async {
        let (s, b) = api(
            &bases[1],
            Method::GET,
            routes::CURRENT_ACCOUNT,
            token,
            None,
            None,
        )
        .await;
        s == 503 && b["error"]["code"] == "redis_unavailable"
    })
    .await;
    let (s, b) = api(&bases[1], Method::GET, "/readyz", token, None, None).await;
    assert_eq!((s, &b["checks"]["redis"]), (503, &json!("failed")), "{b}");
    // It comes back (empty): requests succeed again, leases are taken anew.
    redis.restart().await;
    eventually(30, "orders pass again after Redis returns", || async {
        let (s, _) = api(
            &bases[1],
            Method::POST,
            routes::ORDERS,
            token,
            Some(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
            Some(account),
        )
        .await;
        s == 200
    })
    .await;
    let (s, b) = api(
        &bases[1],
        Method::GET,
        routes::ACCOUNT,
        token,
        None,
        Some(account),
    )
    .await;
    assert_eq!((s, &b["login"]), (200, &json!(login)), "{b}");
    // Nothing was lost: every journal entry of every user is settled.
    for (token, _, login) in &users {
        let (s, b) = api(
            &bases[1],
            Method::GET,
            "/api/v1/journal?limit=100",
            token,
            None,
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let entries = b["entries"].as_array().unwrap();
        assert!(!entries.is_empty(), "{login} has a journal");
        assert!(
            entries.iter().all(|e| e["status"] != "pending"),
            "{login}: every entry settled: {b}"
        );
    }
    drop(pg);
}

/// Two replicas run the same bots (paper, M1) on one Postgres: each bar is claimed once, counted
/// once, and when one replica is killed (SIGKILL) right after a bar closes, mid-wave, the next
/// bars are served by the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bots_decide_each_bar_once_across_replicas_and_survive_a_killed_one() {
    let Some(admin) = common::postgres_url() else {
        crate::skip::postgres_skipped();
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let accounts = accounts_toml(dir.path());
    let redis = RedisServer::start(dir.path()).await;
    // Slow logins make a wave last long enough to be cut in the middle.
    let agent_env = [
        ("MT5_SIM_ACCOUNTS", accounts),
        ("MT5_SIM_LOGIN_LATENCY_MS", "700".to_string()),
    ];
    let agents = [
        start_agent_with(dir.path(), free_port(), &agent_env).await,
        start_agent_with(dir.path(), free_port(), &agent_env).await,
    ];
    let pg = common::postgres_db::fresh_postgres_database(&admin)
        .await
        .unwrap();
    let key = mt5_bridge::vault::CredentialKey::generate("b1").to_base64();
    let env = |n: usize| {
        vec![
            (
                "DATA_DIR",
                dir.path().join(format!("bots-{n}")).display().to_string(),
            ),
            ("DATABASE_URL", pg.url.clone()),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            (
                "CREDENTIALS_KEY",
                secrecy::ExposeSecret::expose_secret(&key).to_string(),
            ),
            ("CREDENTIALS_KEY_ID", "b1".to_string()),
            (
                "TERMINALS",
                format!("agent:{},agent:{}", agents[0].url, agents[1].url),
            ),
            ("AGENT_TOKEN", AGENT_TOKEN.to_string()),
            ("REDIS_URL", redis.url()),
            ("TERMINAL_LEASE_TTL_MS", "3000".to_string()),
            ("RUST_LOG", "info".to_string()),
        ]
    };
    let mut r1 = start_serve(free_port(), &env(1), &dir.path().join("bots-1.log")).await;
    wait_status(&format!("{}/readyz", r1.url), None, 200, "replica 1 ready").await;
    let r2 = start_serve(free_port(), &env(2), &dir.path().join("bots-2.log")).await;
    wait_status(&format!("{}/readyz", r2.url), None, 200, "replica 2 ready").await;

    let token = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let mut bots = Vec::new();
    for k in 0..3 {
        let account = connect(&r1.url, &token, login_of(k)).await;
        for symbol in ["EURUSD", "GBPUSD"] {
            let (s, b) = api(
                &r2.url,
                Method::POST,
                routes::BOTS,
                &token,
                Some(
                    json!({"name": format!("{k} {symbol}"), "account_id": account,
                    "algorithm_id": "ma_crossover", "dry_run": true,
                    "parameters": {"symbol": symbol, "timeframe": "M1"}}),
                ),
                None,
            )
            .await;
            assert_eq!(s, 201, "{b}");
            bots.push(b["id"].as_str().unwrap().to_string());
        }
    }
    let state = |base: String, id: String, token: String| async move {
        api(&base, Method::GET, &routes::bot(&id), &token, None, None)
            .await
            .1
    };
    // At least one: a minute may close while the others are still on their first (M1, real time).
    eventually(60, "every bot's first pass", || async {
        for id in &bots {
            let b = state(r2.url.clone(), id.clone(), token.clone()).await;
            if b["passes"].as_i64().unwrap_or(0) < 1 {
                return false;
            }
        }
        true
    })
    .await;

    // Kill replica 1 just after the next minute closes, while the waves log in.
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let boundary = now - now.rem_euclid(60_000) + 60_000;
    tokio::time::sleep(Duration::from_millis((boundary + 400 - now) as u64)).await;
    r1.kill();
    let killed_at = time::OffsetDateTime::now_utc();
    // The survivor serves the bar after the one cut (and that one too once the lease runs out).
    let after = boundary + 60_000;
    let bar_after = time::OffsetDateTime::from_unix_timestamp((after - 60_000) / 1000).unwrap();
    eventually(150, "the survivor serves the next bar", || async {
        for id in &bots {
            let b = state(r2.url.clone(), id.clone(), token.clone()).await;
            let Some(t) = b["last_bar_time"].as_str() else {
                return false;
            };
            let t = time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .unwrap();
            if t < bar_after {
                return false;
            }
        }
        true
    })
    .await;

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&pg.url).await.unwrap();
    for id in &bots {
        let bot: Uuid = id.parse().unwrap();
        let rows: Vec<(i64, String, time::OffsetDateTime)> = sqlx::query_as(
            "select bar_time, replica, created_at from bot_passes where bot_id = $1 \
             order by bar_time",
        )
        .bind(bot)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let b = state(r2.url.clone(), id.clone(), token.clone()).await;
        assert_eq!(
            b["passes"].as_i64().unwrap(),
            rows.len() as i64,
            "every claim counted once: {b} {rows:?}"
        );
        assert!(
            rows.windows(2).all(|w| w[0].0 < w[1].0),
            "each bar claimed once, in order: {rows:?}"
        );
        let survivor: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.2 > killed_at)
            .map(|r| r.1.as_str())
            .collect();
        assert_eq!(
            survivor.len(),
            1,
            "after the kill one replica serves: {rows:?}"
        );
    }
    let (runs,): (i64,) = sqlx::query_as(
        "select count(*) from (select bot_id, bar_time from algorithm_runs \
         where bot_id is not null group by 1, 2 having count(*) > 1) d",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(runs, 0, "no bar has two runs");
    drop(r2);
}
