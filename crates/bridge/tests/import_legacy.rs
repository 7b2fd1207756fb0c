//! `mt5-bridge import-legacy-account`: the single-account bridge's settings become the user's
//! default account after a verified login; a second run changes nothing; a refused login stores
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test should panic loudly on the unexpected

use serde_json::json;
use std::process::Command;
use uuid::Uuid;

fn import(dir: &std::path::Path, user: Uuid, env_file: &std::path::Path) -> std::process::Output {
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
