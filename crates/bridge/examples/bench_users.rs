//! Memory per user: drives N distinct users once each through `mt5-bridge serve` (a separate
//! process, so its resident memory can be read from /proc) and reports its RSS before and after.
//!
//! Each user lists its accounts (the user is ensured in the store and remembered) and connects
//! with a wrong password (a failed login: rate-limit windows per user and per MT5 login, an audit
//! entry). Maps keyed by user must stay bounded, so the growth should not scale with N.
//!
//! Run: `cargo build -p mt5-bridge && cargo run -p mt5-bridge --example bench_users -- --users
//! 100000` (see docs/BENCHMARKS.md).

use clap::Parser;
use mt5_bridge::auth::mint_token;
use mt5_bridge::vault::CredentialKey;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::Command;
use uuid::Uuid;

#[derive(Debug, Parser)]
#[command(
    name = "bench_users",
    about = "Resident memory of mt5-bridge over many distinct users"
)]
struct Args {
    /// Distinct users, each seen once.
    #[arg(long, default_value_t = 100_000)]
    users: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The mt5-bridge binary (default: next to this example, or MT5_BRIDGE_BIN).
    #[arg(long)]
    bin: Option<PathBuf>,
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn binary(args: &Args) -> Result<PathBuf, String> {
    if let Some(b) = &args.bin {
        return Ok(b.clone());
    }
    if let Some(b) = std::env::var_os("MT5_BRIDGE_BIN") {
        return Ok(PathBuf::from(b));
    }
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("mt5-bridge"))
        .filter(|b| b.is_file())
        .ok_or_else(|| "build mt5-bridge first or set MT5_BRIDGE_BIN".to_string())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let bin = binary(&args)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let secret = SecretString::from("bench-users-secret-with-at-least-32-characters");
    let key = CredentialKey::generate("bench1").to_base64();
    let mut child = Command::new(&bin)
        .arg("serve")
        .env_clear()
        .env("DATA_DIR", dir.path())
        .env("BIND", format!("127.0.0.1:{port}"))
        .env("TERMINALS", "sim:2")
        .env("MT5_SIM_STATE", "memory")
        .env("CONNECT_FAIL_LIMIT", "1000000000")
        .env("LOGIN_FAIL_LIMIT", "1000000000")
        .env("RUST_LOG", "error")
        .env("JWT_SECRET", secret.expose_secret())
        .env("CREDENTIALS_KEY", key.expose_secret())
        .env("CREDENTIALS_KEY_ID", "bench1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("spawn {}: {e}", bin.display()))?;
    let pid = child.id().ok_or("the server exited at once")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if Instant::now() > deadline {
            return Err("the server did not become ready".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Warm up the paths once, so the baseline includes what every request needs anyway.
    let secret_for_users = secret.clone();
    let one_user = move |client: reqwest::Client, base: String, i: usize| {
        let secret = secret_for_users.clone();
        async move {
            let token = mint_token(
                &secret,
                Uuid::new_v4(),
                None,
                Duration::from_secs(3600),
                "authenticated",
                None,
            )
            .map_err(|e| e.to_string())?;
            let ok = |r: reqwest::Response| r.status().is_client_error() || r.status().is_success();
            let a = client
                .get(format!("{base}/api/v1/accounts"))
                .bearer_auth(&token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let c = client
                .post(format!("{base}/api/v1/accounts/connect"))
                .bearer_auth(&token)
                .json(
                    &json!({"account_name": "x", "login": (10_000_000 + i).to_string(),
                              "password": "wrong", "server": "Sim-Demo"}),
                )
                .send()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<bool, String>(ok(a) && ok(c))
        }
    };
    for i in 0..200 {
        one_user(client.clone(), base.clone(), i).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kb(pid).ok_or("cannot read the server's RSS")?;
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(200));
    let failures = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (client, base, next, failures) =
            (client.clone(), base.clone(), next.clone(), failures.clone());
        let users = args.users + 200;
        let one_user = one_user.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= users {
                    return;
                }
                if !matches!(one_user(client.clone(), base.clone(), i).await, Ok(true)) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in workers {
        w.await.map_err(|e| e.to_string())?;
    }
    let elapsed = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kb(pid).ok_or("cannot read the server's RSS")?;
    let _ = child.kill().await;
    println!(
        "users: {}, requests: {}, failures: {}, {:.1} s",
        args.users,
        args.users * 2,
        failures.load(Ordering::Relaxed),
        elapsed.as_secs_f64()
    );
    println!(
        "server RSS: {:.1} MB before, {:.1} MB after, growth {:.1} MB",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0
    );
    Ok(())
}
