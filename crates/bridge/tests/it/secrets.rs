//! Passwords never leave the service: not in responses, log lines, the data dir, the database or
//! Debug output. Logs of this whole test binary are captured, so every request here is covered.


use crate::common;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;

const PASSWORD: &str = "Sim-10003!";
const NEW_PASSWORD_ATTEMPT: &str = "Wr0ng-Pa55word#42";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let cap = Capture::default();
        let writer = cap.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(move || writer.clone())
            .init();
        cap
    })
}

fn assert_clean(haystack: &[u8], what: &str) {
    let text = String::from_utf8_lossy(haystack);
    for secret in [PASSWORD, NEW_PASSWORD_ATTEMPT] {
        assert!(!text.contains(secret), "{what} contains a password");
    }
}

async fn exercise(app: &common::TestApp) -> Vec<u8> {
    let t = app.token(Uuid::new_v4());
    let mut seen = Vec::new();
    let mut record = |v: &serde_json::Value| seen.extend_from_slice(v.to_string().as_bytes());
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, json!({"account_name": "secret test", "login": 10003, "password": PASSWORD, "server": "Sim-Demo"}))
        .await;
    assert_eq!(s, 201, "{b}");
    record(&b);
    let id = b["account_id"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/accounts".to_string(),
        format!("/api/v1/accounts/{id}"),
        "/api/v1/accounts/current".to_string(),
    ] {
        let (_, b) = app.get(&path, &t).await;
        record(&b);
    }
    let (_, b) = app
        .post(&format!("/api/v1/accounts/{id}/switch"), &t, json!({}))
        .await;
    record(&b);
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": NEW_PASSWORD_ATTEMPT}),
        )
        .await;
    assert_eq!(s, 422);
    record(&b);
    // A wrong-typed password field must not be echoed in validation errors either.
    let (_, b) = app
        .post("/api/v1/accounts/connect", &t, json!({"account_name": "", "login": 10003, "password": PASSWORD, "server": "Sim-Demo", "junk": PASSWORD}))
        .await;
    record(&b);
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 200);
    record(&b);
    seen
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_appear_nowhere_sqlite() {
    let cap = logs();
    let app = common::spawn(common::Db::Sqlite).await;
    let responses = exercise(&app).await;
    assert_clean(&responses, "a response");
    // Let WAL content reach the files we read; then scan every file in the data dir.
    let files = files_under(app.data_dir.path());
    assert!(!files.is_empty());
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert_clean(&bytes, &format!("file {}", f.display()));
    }
    // Debug output of a stored row.
    let user_rows = app.state.store.all_credentials().await.unwrap();
    assert!(!user_rows.is_empty());
    for row in &user_rows {
        let dbg = format!("{row:?}");
        assert_clean(dbg.as_bytes(), "AccountRow Debug");
        assert!(
            !dbg.contains(&row.encrypted_password),
            "ciphertext in Debug"
        );
    }
    assert_clean(&cap.0.lock().unwrap(), "the log");
    let log_text = String::from_utf8_lossy(&cap.0.lock().unwrap()).to_string();
    assert!(log_text.contains("account connected"), "logs were captured");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_appear_nowhere_postgres() {
    let Some(_) = common::postgres_url() else {
        common::skip::postgres_skipped();
        return;
    };
    let cap = logs();
    let app = common::spawn(common::Db::Postgres).await;
    let responses = exercise(&app).await;
    assert_clean(&responses, "a response");
    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    let dump: Vec<(String,)> = sqlx::query_as("select t::text from mt5_accounts t")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(!dump.is_empty());
    for (row,) in &dump {
        assert_clean(row.as_bytes(), "a database row");
    }
    pool.close().await;
    assert_clean(&cap.0.lock().unwrap(), "the log");
    app.shutdown().await;
}
