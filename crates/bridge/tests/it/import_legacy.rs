//! `mt5-bridge import-legacy-account`: the single-account bridge's settings become the user's
//! default account after a verified login; a second run changes nothing; a refused login stores
//! nothing. An operator's command: the user's guessing limits do not stop it (nor does it spend
//! them), while MT5 still refuses a wrong password.


use crate::common;

use common::procs::RedisServer;
use common::Db;
use serde_json::{json, Value};
use std::process::Command;
use uuid::Uuid;

fn import(dir: &std::path::Path, user: Uuid, env_file: &std::path::Path) -> std::process::Output {
    import_with(dir, user, env_file, &[])
}

fn import_with(
    dir: &std::path::Path,
    user: Uuid,
    env_file: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mt5-bridge"))
        .args([
            "import-legacy-account",
            "--user",
            &user.to_string(),
            "--name",
            "Legacy demo",
            "--env-file",
        ])
        .arg(env_file)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[tokio::test]
async fn import_is_verified_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let user = Uuid::new_v4();
    let bad = dir.path().join("bad.env");
    std::fs::write(
        &bad,
        "MT5_LOGIN=5042856355\nMT5_PASSWORD=wrong\nMT5_SERVER=MetaQuotes-Demo\n",
    )
    .unwrap();
    let out = import(dir.path(), user, &bad);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("wrong"), "the password is echoed: {err}");

    let good = dir.path().join("legacy.env");
    std::fs::write(&good, "# the single-account bridge\nMT5_LOGIN=5042856355\nMT5_PASSWORD=\"V!QzRxQ7\"\nMT5_SERVER=MetaQuotes-Demo\n").unwrap();
    let out = import(dir.path(), user, &good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported"));
    let again = import(dir.path(), user, &good);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).starts_with("already imported"));

    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("mt5-bridge.db").display()
    );
    let store = mt5_bridge::store::open(&url).await.unwrap();
    let ctx = mt5_bridge::store::UserCtx {
        user_id: user,
        email: None,
        claims: json!({"sub": user, "role": "authenticated"}),
    };
    let rows = store.list_accounts(&ctx, true).await.unwrap();
    assert_eq!(rows.len(), 1, "exactly one account after two runs");
    let row = &rows[0];
    assert_eq!(
        (row.login.as_str(), row.server.as_str()),
        ("5042856355", "MetaQuotes-Demo")
    );
    assert!(row.is_default && row.is_active);
    assert_eq!(row.account_name, "Legacy demo");
    assert_eq!(row.account_type.as_deref(), Some("demo"));
    assert!(!row.encrypted_password.contains("V!QzRxQ7"));
}

/// A user whose failed-connect window is spent (CONNECT_FAIL_LIMIT=1, counted in a Redis the
/// command is given too) is refused further guesses through the API, but the operator's import
/// for that user still verifies with MT5: a wrong password is MT5's refusal, not `rate_limited`,
/// and the right one is imported. The API's window is neither reset nor spent by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_is_not_held_to_the_guessing_limits() {
    let dir = tempfile::tempdir().unwrap();
    let redis = RedisServer::start(dir.path()).await;
    let prefix = format!("import-{}:", Uuid::new_v4().simple());
    let app = common::spawn_with(Db::Sqlite, common::sim_config(), |env| {
        env.insert("CONNECT_FAIL_LIMIT", "1".into());
        env.insert("REDIS_URL", redis.url());
        env.insert("REDIS_KEY_PREFIX", prefix.clone());
    })
    .await;
    let user = Uuid::new_v4();
    let token = app.token(user);
    let guess = |i: u32| {
        json!({"account_name": "guess", "login": "10001", "password": format!("guess-{i}"),
            "server": "Sim-Demo"})
    };
    let code = |b: &Value| b["error"]["code"].as_str().unwrap_or("<none>").to_string();
    let (s, b) = app.post("/api/v1/accounts/connect", &token, guess(1)).await;
    assert_eq!((s, code(&b)), (422, "mt5_login_failed".into()), "{b}");
    let (s, b) = app.post("/api/v1/accounts/connect", &token, guess(2)).await;
    assert_eq!((s, code(&b)), (429, "rate_limited".into()), "{b}");
    assert_eq!(b["error"]["details"]["scope"], "failed_connects_per_user");

    let shared = [
        ("CONNECT_FAIL_LIMIT", "1".to_string()),
        ("REDIS_URL", redis.url()),
        ("REDIS_KEY_PREFIX", prefix.clone()),
    ];
    let shared: Vec<(&str, &str)> = shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let data = tempfile::tempdir().unwrap();
    let bad = data.path().join("bad.env");
    std::fs::write(
        &bad,
        "MT5_LOGIN=5042856355\nMT5_PASSWORD=wrong\nMT5_SERVER=MetaQuotes-Demo\n",
    )
    .unwrap();
    let out = import_with(data.path(), user, &bad, &shared);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MT5 refused the login"), "{err}");
    assert!(!err.contains("too many requests"), "{err}");

    let good = data.path().join("legacy.env");
    std::fs::write(
        &good,
        "MT5_LOGIN=5042856355\nMT5_PASSWORD=\"V!QzRxQ7\"\nMT5_SERVER=MetaQuotes-Demo\n",
    )
    .unwrap();
    let out = import_with(data.path(), user, &good, &shared);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported"));

    // The user's window through the API is as the guesses left it.
    let (s, b) = app.post("/api/v1/accounts/connect", &token, guess(3)).await;
    assert_eq!((s, code(&b)), (429, "rate_limited".into()), "{b}");
    app.shutdown().await;
}
