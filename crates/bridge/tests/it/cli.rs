//! The binary as a new user runs it: `token`, `migrate`, `serve` on the embedded default (SQLite,
//! generated keys in the data dir, simulated terminals), then the seed's connect request.


use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mt5-bridge");

fn clean_env(cmd: &mut Command) -> &mut Command {
    for k in [
        "DATABASE_URL",
        "JWT_SECRET",
        "JWT_JWKS_URL",
        "CREDENTIALS_KEY",
        "CREDENTIALS_KEY_ID",
        "CREDENTIALS_OLD_KEYS",
        "BIND",
        "DATA_DIR",
        "MT5_SIM_STATE",
        "MT5_SIM_ACCOUNTS",
        "MT5_SIM_FAULTS",
        "MT5_SIM_LOGIN_LATENCY_MS",
        "TERMINALS",
        "REDIS_URL",
        "TERMINAL_LEASE_TTL_MS",
        "JWT_REQUIRE_AAL2",
    ] {
        cmd.env_remove(k);
    }
    cmd
}

fn token(data_dir: &std::path::Path, user: &str) -> String {
    let out = clean_env(&mut Command::new(BIN))
        .args([
            "token",
            "--user",
            user,
            "--email",
            "a@example.com",
            "--ttl",
            "1h",
        ])
        .env("DATA_DIR", data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap();
    assert_eq!(t.lines().count(), 1, "one line");
    t.trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn embedded_default_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let user = uuid::Uuid::new_v4().to_string();
    let t = token(dir.path(), &user);
    // The token carries Supabase's claims.
    let payload = t.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], user.as_str());
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["email"], "a@example.com");
    assert_eq!(claims["is_anonymous"], false);
    assert!(claims["session_id"].is_string());
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 3600);
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.path().join("jwt_secret")), 0o600);
        assert_eq!(mode(&dir.path().join("credentials_key")), 0o600);
    }
    // A second token uses the same secret (the file is not regenerated).
    let secret_before = std::fs::read(dir.path().join("jwt_secret")).unwrap();
    let _ = token(dir.path(), &user);
    assert_eq!(
        secret_before,
        std::fs::read(dir.path().join("jwt_secret")).unwrap()
    );

    let out = clean_env(&mut Command::new(BIN))
        .arg("migrate")
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let log_path = dir.path().join("serve.log");
    let mut child = clean_env(&mut Command::new(BIN))
        .arg("serve")
        .env("DATA_DIR", dir.path())
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "serve did not come up: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resp = client
        .post(format!("{base}/api/v1/accounts/connect"))
        .bearer_auth(&t)
        .json(&json!({
            "account_name": "My Demo Account", "login": "5042856355", "password": "V!QzRxQ7",
            "server": "MetaQuotes-Demo", "broker_name": "MetaQuotes", "account_type": "demo", "set_as_default": true
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["account"]["login"], 5042856355u64);
    assert!(resp_has_request_id(&client, &base, &t).await);

    // Graceful shutdown on SIGTERM.
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "exit status {status}");
                break;
            }
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    #[cfg(not(unix))]
    let _ = child.kill();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("account connected"), "{log}");
    assert!(!log.contains("V!QzRxQ7"), "the password is in the log");
    // Nothing in the data dir holds the password in plaintext.
    for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("V!QzRxQ7"),
            "{} holds the password",
            entry.path().display()
        );
    }
}

async fn resp_has_request_id(client: &reqwest::Client, base: &str, t: &str) -> bool {
    let r = client
        .get(format!("{base}/api/v1/accounts"))
        .bearer_auth(t)
        .send()
        .await
        .unwrap();
    r.headers().contains_key("x-request-id")
}

#[test]
fn bad_configuration_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = clean_env(&mut Command::new(BIN))
        .arg("serve")
        .env("DATA_DIR", dir.path())
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env("BIND", "not-an-address")
        .env("TERMINALS", "sim:0")
        .env("REDIS_URL", "http://user:hunter2-redis@cache.internal:6379")
        .env("TERMINAL_LEASE_TTL_MS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "BIND",
        "TERMINALS",
        "JWT_SECRET",
        "CREDENTIALS_KEY",
        "REDIS_URL",
        "TERMINAL_LEASE_TTL_MS",
    ] {
        assert!(err.contains(needle), "missing {needle} in: {err}");
    }
    assert!(!err.contains("hunter2"), "the Redis password leaked: {err}");
}

#[test]
fn token_rejects_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = clean_env(&mut Command::new(BIN))
        .args(["token", "--user", "nope"])
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = clean_env(&mut Command::new(BIN))
        .args([
            "token",
            "--user",
            &uuid::Uuid::new_v4().to_string(),
            "--ttl",
            "1y",
        ])
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Runs a command that must exit by itself: one that serves instead is killed and fails the test.
fn output_within(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after 30 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// The claims of a token printed by `token` with `extra` arguments.
fn minted_claims(data_dir: &std::path::Path, extra: &[&str]) -> Value {
    use base64::Engine;
    let out = clean_env(&mut Command::new(BIN))
        .args(["token", "--user", &uuid::Uuid::new_v4().to_string()])
        .args(extra)
        .env("DATA_DIR", data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = String::from_utf8(out.stdout).unwrap();
    let payload = t.trim().split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn token_mints_aal1_by_default_and_aal2_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let c = minted_claims(dir.path(), &[]);
    assert_eq!(c["aal"], "aal1");
    assert_eq!(c["amr"][0]["method"], "password");
    let c = minted_claims(dir.path(), &["--aal", "aal1"]);
    assert_eq!(c["aal"], "aal1");
    let c = minted_claims(dir.path(), &["--aal", "aal2"]);
    assert_eq!(c["aal"], "aal2");
    let methods: Vec<&str> = c["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["totp", "password"]);

    let out = clean_env(&mut Command::new(BIN))
        .args([
            "token",
            "--user",
            &uuid::Uuid::new_v4().to_string(),
            "--aal",
            "aal3",
        ])
        .env("DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn a_key_set_over_plain_http_fails_startup() {
    let dir = tempfile::tempdir().unwrap();
    // With another bad value, to see both reported at once.
    let out = clean_env(&mut Command::new(BIN))
        .arg("serve")
        .env("DATA_DIR", dir.path())
        .env(
            "JWT_JWKS_URL",
            "http://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json",
        )
        .env("BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("JWT_JWKS_URL must be an https:// URL"),
        "{err}"
    );
    assert!(err.contains("BIND"), "{err}");

    // Alone, it still stops the service before it listens.
    let out = output_within(
        clean_env(&mut Command::new(BIN))
            .arg("serve")
            .env("DATA_DIR", dir.path())
            .env(
                "JWT_JWKS_URL",
                "http://10.1.2.3/auth/v1/.well-known/jwks.json",
            )
            .env("BIND", format!("127.0.0.1:{}", free_port())),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_JWKS_URL"));

    // A bad JWT_REQUIRE_AAL2 is not taken for false.
    let out = output_within(
        clean_env(&mut Command::new(BIN))
            .arg("serve")
            .env("DATA_DIR", dir.path())
            .env("JWT_REQUIRE_AAL2", "ture")
            .env("BIND", format!("127.0.0.1:{}", free_port())),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JWT_REQUIRE_AAL2"));
}

/// A child process killed (and reaped) on drop, so a failing test leaves no server behind.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` at `RUST_LOG=trace`, every library's logs on: a stream's token reaches no log line,
/// neither whole nor its signature. tungstenite logs each message it reads at `trace`, and a
/// browser sends its token as the stream's first message. Also: without `METRICS_TOKEN` the
/// service says at startup that `/metrics` is closed, and it is.
#[tokio::test]
async fn trace_logs_never_hold_a_stream_token() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().unwrap();
    let t = token(dir.path(), &uuid::Uuid::new_v4().to_string());
    let signature = t.rsplit('.').next().unwrap().to_string();
    assert!(signature.len() >= 40, "{t}");
    let port = free_port();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let child = clean_env(&mut Command::new(BIN))
        .arg("serve")
        .env("DATA_DIR", dir.path())
        .env("BIND", format!("127.0.0.1:{port}"))
        // Everything at trace, tungstenite's modules named too: no directive turns them on.
        .env(
            "RUST_LOG",
            "trace,tungstenite::protocol=trace,tokio_tungstenite=trace",
        )
        .env_remove("METRICS_TOKEN")
        .env_remove("LOG_FORMAT")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(client.get(format!("{base}/healthz")).send().await, Ok(r) if r.status().is_success())
    {
        assert!(Instant::now() < deadline, "serve did not come up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A browser's stream: the token in the first message, then again (a refreshed token), then
    // a subscription and a clean close. Every frame is read and written at `trace`.
    let url = format!("ws://127.0.0.1:{port}/api/v1/stream");
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .unwrap();
    let next = |m: Option<Result<Message, _>>| -> serde_json::Value {
        match m {
            Some(Ok(Message::Text(s))) => serde_json::from_str(&s).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    for _ in 0..2 {
        let auth = json!({"type": "auth", "token": t}).to_string();
        ws.send(Message::text(auth)).await.unwrap();
        let ready = next(ws.next().await);
        assert_eq!(ready["type"], "ready", "{ready}");
    }
    let subscribe = json!({"type": "subscribe", "id": "o", "channel": "orders"});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    // No account yet: refused, but answered (and logged at trace).
    let answer = next(ws.next().await);
    assert_eq!(answer["id"], "o", "{answer}");
    ws.close(None).await.unwrap();

    let (s, body) = {
        let r = client.get(format!("{base}/metrics")).send().await.unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );

    // Stop it and read everything it wrote (stdout and stderr).
    #[cfg(unix)]
    {
        let _ = Command::new("kill")
            .args(["-TERM", &child.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.0.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    #[cfg(not(unix))]
    let _ = child.0.kill();
    let log = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()).into_owned();
    // RUST_LOG was honoured (the database's statements are logged at debug: a quiet log cannot
    // pass), and the stream was served. Without the filter, tungstenite's lines at trace hold
    // every message, the `auth` one included.
    assert!(log.contains(" DEBUG "), "not a verbose log: {log:.2000}");
    assert!(
        log.contains("/api/v1/stream"),
        "the stream is not in the log"
    );
    assert!(!log.contains(&t), "the stream's token is in the log");
    assert!(
        !log.contains(&signature),
        "the stream token's signature is in the log"
    );
    assert!(
        log.contains("METRICS_TOKEN is not set"),
        "no startup warning about /metrics"
    );
}
