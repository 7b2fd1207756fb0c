//! `/metrics` and `/readyz` through the real server: requests counted by route template, terminal
//! logins, orders by retcode, switches and rate limits; no identifier in any label; the scrape
//! token; readiness.

use crate::common;
use crate::common::routes;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// The scrape's status, content type and text.
async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, Value) {
    let (s, headers, body) = app.call_full(Method::GET, "/metrics", token, None).await;
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (s, ctype, body)
}

/// A scrape with the harness's `METRICS_TOKEN`, as a configured Prometheus sends it.
async fn metrics_text(app: &TestApp) -> String {
    let (s, ctype, body) = scrape(app, Some(common::METRICS_TOKEN)).await;
    assert_eq!(s, 200, "{body}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    body.as_str().expect("text body").to_string()
}

/// The value of the sample line `series` (its name and exactly its labels, in any order: label
/// sets are unordered in the exposition format), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    let wanted = parse_series(series);
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (s, v) = l.rsplit_once(' ')?;
            (parse_series(s) == wanted).then_some(v)
        })
        .and_then(|v| v.parse().ok())
}

/// `name{a="x",b="y"}` as its name and label set (values unescaped).
fn parse_series(series: &str) -> (String, std::collections::BTreeSet<(String, String)>) {
    let Some((name, rest)) = series.split_once('{') else {
        return (series.to_string(), Default::default());
    };
    let mut labels = std::collections::BTreeSet::new();
    let mut chars = rest.trim_end_matches('}').chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        chars.next(); // the opening quote
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => {}
                },
                '"' => break,
                c => value.push(c),
            }
        }
        chars.next_if_eq(&',');
        labels.insert((key, value));
    }
    (name.to_string(), labels)
}

#[test]
fn series_match_whatever_the_label_order() {
    let text = "x_total{b=\"2\",a=\"q\\\"1\"} 5\nx_total{a=\"3\"} 1\n";
    assert_eq!(value(text, "x_total{a=\"q\\\"1\",b=\"2\"}"), Some(5.0));
    assert_eq!(value(text, "x_total{b=\"2\",a=\"q\\\"1\"}"), Some(5.0));
    assert_eq!(value(text, "x_total{a=\"3\"}"), Some(1.0));
    assert_eq!(value(text, "x_total{a=\"2\"}"), None);
    assert_eq!(value(text, "x_total"), None);
}

fn label_sets(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| Some(&l[l.find('{')?..=l.rfind('}')?]))
        .collect()
}

async fn traffic_is_counted(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);
    let first = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "one")
        .await;
    let second = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "two")
        .await;

    let (s, b) = app.get("/api/v1/accounts", &t).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.get(&routes::account(&first), &t).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.get(&routes::account(&second), &t).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.post(&routes::switch(&second), &t, json!({})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009);
    let (s, _) = app.get("/api/v1/no/such/route", &t).await;
    assert_eq!(s, 404);

    let text = metrics_text(&app).await;
    let req = |route: &str, method: &str, status: u16| {
        value(
            &text,
            &format!(
                "mt5b_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(req("/api/v1/accounts", "GET", 200), Some(1.0), "{text}");
    // Two different ids, one route template.
    assert_eq!(req("/api/v1/accounts/{account_id}", "GET", 200), Some(2.0));
    assert_eq!(req("/api/v1/accounts/connect", "POST", 201), Some(2.0));
    assert_eq!(
        req("/api/v1/accounts/{account_id}/switch", "POST", 200),
        Some(1.0)
    );
    assert_eq!(req("/api/v1/orders", "POST", 200), Some(1.0));
    assert_eq!(req("unmatched", "GET", 404), Some(1.0));
    assert_eq!(
        value(
            &text,
            "mt5b_http_request_duration_seconds_count{route=\"/api/v1/accounts/{account_id}\",method=\"GET\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "mt5b_http_request_duration_seconds_bucket{route=\"/api/v1/accounts\",method=\"GET\",le=\"+Inf\"}"
        ),
        Some(1.0)
    );
    assert!(text.contains("# TYPE mt5b_http_request_duration_seconds histogram\n"));

    // Two connects each verified a login; the order needed a terminal on 10002.
    let logins = value(&text, "mt5b_terminal_logins_total").unwrap();
    assert!(logins >= 2.0, "{text}");
    assert_eq!(logins, app.state.pool.logins() as f64);
    assert_eq!(value(&text, "mt5b_terminal_failed_logins_total"), Some(0.0));
    assert_eq!(value(&text, "mt5b_guard_mismatches_total"), Some(0.0));
    assert!(value(&text, "mt5b_pool_leases_total").unwrap() >= 3.0);
    assert_eq!(value(&text, "mt5b_pool_queue_depth"), Some(0.0));
    assert_eq!(value(&text, "mt5b_pool_terminals"), Some(2.0));
    assert!(value(&text, "mt5b_pool_lease_wait_seconds_total").unwrap() >= 0.0);
    assert_eq!(value(&text, "mt5b_account_switches_total"), Some(1.0));
    assert_eq!(
        value(&text, "mt5b_orders_total{retcode=\"10009\"}"),
        Some(1.0)
    );

    // Nothing that identifies a user, an account or a credential.
    for secret in [
        first.as_str(),
        second.as_str(),
        &user.to_string(),
        &t,
        "Sim-10001!",
        "Sim-10002!",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
    for labels in label_sets(&text) {
        assert!(
            !labels.contains("10001") && !labels.contains("10002"),
            "a login in labels: {labels}"
        );
    }
    app
}

both_backends!(traffic, traffic_is_counted);

async fn ready(app: TestApp) -> TestApp {
    let (s, b) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"status": "ready", "checks": {"store": "ok", "terminals": "ok"},
               "terminals_trading_disabled": 0})
    );
    app
}

both_backends!(readyz, ready);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_closed_without_a_token() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.remove("METRICS_TOKEN");
    })
    .await;
    // Traffic worth reading: a user with an account.
    let t = app.token(Uuid::new_v4());
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "one")
        .await;

    // No scrape reads the metrics, whatever it sends: not nothing, not a guess, not the harness's
    // token, not a user's access token.
    for token in [
        None,
        Some(""),
        Some(common::METRICS_TOKEN),
        Some(t.as_str()),
    ] {
        let (s, ctype, b) = scrape(&app, token).await;
        assert_eq!(s, 401, "{token:?}: {b}");
        assert!(ctype.starts_with("application/json"), "{ctype}");
        assert_eq!(b["success"], false);
        assert_eq!(b["error"]["code"], "unauthorized", "{b}");
        assert!(
            !b.to_string().contains("mt5b_"),
            "metrics leaked in a refusal: {b}"
        );
    }
    // The rest of the service is unaffected.
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_token_is_required_when_set() {
    let token = "metrics-scrape-token-0123456789";
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("METRICS_TOKEN", token.to_string());
    })
    .await;

    let (s, _, b) = scrape(&app, None).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["success"], false);
    assert_eq!(b["error"]["code"], "unauthorized");
    let (s, _, b) = scrape(&app, Some("metrics-scrape-token-012345678")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    // A user's access token is not a metrics token.
    let user_token = app.token(Uuid::new_v4());
    let (s, _, _) = scrape(&app, Some(&user_token)).await;
    assert_eq!(s, 401);

    let (s, ctype, b) = scrape(&app, Some(token)).await;
    assert_eq!(s, 200, "{b}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = b.as_str().unwrap();
    assert!(!text.contains(token));
    // The refused scrapes were counted under their route, the token nowhere.
    assert_eq!(
        value(
            text,
            "mt5b_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"}"
        ),
        Some(3.0),
        "{text}"
    );
    // Readiness needs no token.
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_counted_by_scope() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("SWITCH_LIMIT_PER_HOUR", "1".to_string());
    })
    .await;
    let t = app.token(Uuid::new_v4());
    let first = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "one")
        .await;
    let second = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "two")
        .await;
    let (s, b) = app.post(&routes::switch(&second), &t, json!({})).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app.post(&routes::switch(&first), &t, json!({})).await;
    assert_eq!(s, 429, "{b}");

    let text = metrics_text(&app).await;
    assert_eq!(
        value(
            &text,
            "mt5b_rate_limited_total{scope=\"switches_per_user\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "mt5b_account_switches_total"), Some(1.0));
    assert_eq!(
        value(
            &text,
            "mt5b_http_requests_total{route=\"/api/v1/accounts/{account_id}/switch\",method=\"POST\",status=\"429\"}"
        ),
        Some(1.0)
    );
    app.shutdown().await;
}

/// The readiness answer of a router over `state`, called in-process.
async fn readiness_of(state: mt5_bridge::app::AppState) -> (u16, Value) {
    use tower::ServiceExt;
    let router = mt5_bridge::http::router(state, &[]);
    let req = axum::http::Request::builder()
        .uri("/readyz")
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_failing_check() {
    let app = common::spawn(common::Db::Sqlite).await;
    let (s, b) = readiness_of(app.state.clone()).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("ready")));

    let mut no_terminals = app.state.clone();
    no_terminals.pool = std::sync::Arc::new(mt5_bridge::pool::TerminalPool::new(
        Vec::new(),
        mt5_bridge::pool::PoolOptions::default(),
    ));
    let (s, b) = readiness_of(no_terminals).await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(
        b,
        json!({"status": "not_ready", "checks": {"store": "ok", "terminals": "failed"},
               "terminals_trading_disabled": 0})
    );

    // A database without the schema: every query fails.
    let mut broken_store = app.state.clone();
    let url = format!(
        "sqlite://{}?mode=rwc",
        app.data_dir.path().join("unmigrated.db").display()
    );
    broken_store.store = mt5_bridge::store::open(&url).await.unwrap();
    let (s, b) = readiness_of(broken_store).await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(
        b,
        json!({"status": "not_ready", "checks": {"store": "failed", "terminals": "ok"}, "terminals_trading_disabled": 0})
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_and_refusals_are_counted() {
    use mt5_bridge::store::journal::{Begin, JournalStatus, NewJournalEntry};
    use std::time::Duration;
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINAL_TIMEOUT_MS", "300".into());
        env.insert("RECONCILE_GRACE_MS", "0".into());
    })
    .await;
    let user = Uuid::new_v4();
    let t = app.token(user);
    let account_id = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "reconcile")
        .await;

    // Kill switch: refused before sending.
    let (s, b) = app
        .put(
            &routes::account(&account_id),
            &t,
            json!({"risk_limits": {"trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(
            routes::ORDERS,
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("trading_disabled"))
    );

    // An intent left pending that never reached the broker.
    let ctx = mt5_bridge::store::UserCtx {
        user_id: user,
        email: None,
        claims: json!({"sub": user, "role": "authenticated"}),
    };
    let new = NewJournalEntry {
        id: Uuid::new_v4(),
        account_id: Uuid::parse_str(&account_id).unwrap(),
        client_id: "mbobsnotsent".into(),
        idempotency_key: None,
        request_hash: None,
        source: "api".into(),
        algorithm_id: None,
        run_id: None,
        action: "place".into(),
        request: json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        status: JournalStatus::Pending,
        error: None,
        process_run_id: None,
    };
    let Begin::Created(_) = app.state.store.begin(&ctx, new, 86_400).await.unwrap() else {
        panic!("created")
    };
    // Past its deadline and the grace period, the reconciler settles it: not_executed.
    let mut settled = false;
    for _ in 0..100 {
        let text = metrics_text(&app).await;
        if value(
            &text,
            "mt5b_journal_reconciled_total{status=\"not_executed\"}",
        ) == Some(1.0)
        {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled, "the reconciler settled the entry");
    let text = metrics_text(&app).await;
    assert_eq!(
        value(&text, "mt5b_journal_reconciled_total{status=\"failed\"}"),
        None,
        "{text}"
    );
    assert_eq!(
        value(&text, "mt5b_orders_total{retcode=\"refused\"}"),
        Some(1.0)
    );
    assert_eq!(value(&text, "mt5b_orders_total{retcode=\"10009\"}"), None);
    app.shutdown().await;
}
