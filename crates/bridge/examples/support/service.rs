//! Running `mt5-bridge serve` as its own process for a benchmark: the binary, a simulated broker
//! whose one account no run can exhaust, readiness, the log, and users with tokens.

use mt5_bridge::auth::mint_token;
use mt5_bridge::vault::CredentialKey;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use uuid::Uuid;

pub const LOGIN: u64 = 70001;
pub const PASSWORD: &str = "Bench-70001!";
pub const SERVER: &str = "Sim-Bench";

/// A field (`VmRSS`, `VmHWM`) of /proc/<pid>/status, in kB.
pub fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// `explicit`, else MT5_BRIDGE_BIN, else `mt5-bridge` in the directory above the example's own
/// (`target/release/examples/bench_x` → `target/release/mt5-bridge`).
pub fn bridge_binary(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(b) = explicit {
        return Ok(b.to_path_buf());
    }
    if let Some(b) = std::env::var_os("MT5_BRIDGE_BIN") {
        return Ok(PathBuf::from(b));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("mt5-bridge"))
        .ok_or("cannot locate mt5-bridge next to the example; set MT5_BRIDGE_BIN")?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: run `cargo build --release -p mt5-bridge` first or set MT5_BRIDGE_BIN",
            bin.display()
        ))
    }
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = l
        .local_addr()
        .map_err(|e| format!("local_addr: {e}"))?
        .port();
    Ok(port)
}

/// The simulated broker's accounts: one netting account with a balance no benchmark can exhaust,
/// so orders keep being accepted for the whole run.
pub const ACCOUNTS_TOML: &str = r#"
[[accounts]]
login = 70001
password = "Bench-70001!"
server = "Sim-Bench"
name = "HTTP bench"
balance = 1000000000000.0
currency = "USD"
leverage = 100
margin_mode = "netting"
trade_mode = "demo"
limit_orders = 0
limit_positions = 0
"#;

/// A random secret of 48 characters (the JWT secret of a run).
pub fn random_secret() -> SecretString {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    let secret: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    SecretString::from(secret)
}

/// The running service and what it needs to be reached.
pub struct Server {
    pub child: Child,
    pub pid: u32,
    pub base: String,
    pub log: PathBuf,
}

/// Starts `serve` in `dir` (SQLite there unless `database_url`), with `TERMINALS=sim:2`, limits far
/// above any load, `RUST_LOG=warn`, and `extra` settings on top; returns once `/readyz` answers.
pub async fn start_server(
    bin: &Path,
    dir: &Path,
    database_url: Option<&str>,
    jwt_secret: &SecretString,
    credentials_key: &SecretString,
    extra: &[(&str, String)],
) -> Result<Server, String> {
    let accounts = dir.join("accounts.toml");
    std::fs::write(&accounts, ACCOUNTS_TOML).map_err(|e| format!("accounts file: {e}"))?;
    let port = free_port()?;
    let log = dir.join(format!("server-{port}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("log file: {e}"))?;
    let log_err = log_file.try_clone().map_err(|e| format!("log file: {e}"))?;
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .env_clear()
        .env("DATA_DIR", dir)
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("TERMINALS", "sim:2")
        .env("MT5_SIM_STATE", "memory")
        .env("MT5_SIM_ACCOUNTS", &accounts)
        .env("TRADE_LIMIT_PER_HOUR", "1000000000")
        .env("SWITCH_LIMIT_PER_HOUR", "1000000000")
        .env("CONNECT_FAIL_LIMIT", "1000000000")
        .env("POOL_QUEUE_LIMIT", "1000000")
        .env("LOG_FORMAT", "json")
        // Logging every request at info level would dominate the measurement.
        .env("RUST_LOG", "warn")
        .env("JWT_SECRET", jwt_secret.expose_secret())
        .env("CREDENTIALS_KEY", credentials_key.expose_secret())
        .env("CREDENTIALS_KEY_ID", "bench1")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let pid = child.id().ok_or("the server exited at once")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "the server exited with {status}; its log:\n{}",
                tail(&log)
            ));
        }
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server was not ready within 60 s; its log:\n{}",
                tail(&log)
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Server {
        child,
        pid,
        base,
        log,
    })
}

/// A new credential key for a run (`CREDENTIALS_KEY`, id `bench1`).
pub fn credentials_key() -> SecretString {
    CredentialKey::generate("bench1").to_base64()
}

/// The last 20 lines of a log.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Mints a token per user and connects the benchmark account for each (rows are per user).
pub async fn connect_users(
    base: &str,
    jwt_secret: &SecretString,
    count: usize,
) -> Result<Vec<String>, String> {
    let client = reqwest::Client::new();
    let mut tokens = Vec::with_capacity(count);
    for i in 0..count {
        let token = mint_token(
            jwt_secret,
            Uuid::new_v4(),
            Some(&format!("bench{i}@example.com")),
            Duration::from_secs(6 * 3600),
            "authenticated",
            None,
        )
        .map_err(|e| format!("mint token: {e}"))?;
        let resp = client
            .post(format!("{base}/api/v1/accounts/connect"))
            .bearer_auth(&token)
            .json(&json!({
                "account_name": format!("Bench {i}"),
                "login": LOGIN,
                "password": PASSWORD,
                "server": SERVER,
                "set_as_default": true,
            }))
            .send()
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let status = resp.status();
        if status.as_u16() != 201 {
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            return Err(format!("connect answered {status}: {body}"));
        }
        tokens.push(token);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_status_reads_this_process() {
        let me = std::process::id();
        assert!(proc_status_kb(me, "VmRSS").is_some_and(|kb| kb > 0));
        assert!(proc_status_kb(me, "NoSuchField").is_none());
    }
}
