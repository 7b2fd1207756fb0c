//! Memory per user: drives N distinct users once each through `mt5-bridge serve` (a separate
//! process, so its resident memory can be read from /proc) and reports its RSS before and after.
//!
//! Each user lists its accounts (the user is ensured in the store and remembered) and connects
//! with a wrong password (a failed login: rate-limit windows per user and per MT5 login, an audit
//! entry). Maps keyed by user must stay bounded, so the growth should not scale with N.
//!
//! Run: `cargo build -p mt5-bridge && cargo run -p mt5-bridge --example bench_users -- --users
//! 100000` (see docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use mt5_bridge::auth::mint_token;
use secrecy::SecretString;
use serde_json::json;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::service::{bridge_binary, credentials_key, proc_status_kb, start_server};
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

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let bin = bridge_binary(args.bin.as_deref())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let secret = SecretString::from("bench-users-secret-with-at-least-32-characters");
    let extra = [
        ("LOGIN_FAIL_LIMIT", "1000000000".to_string()),
        ("RUST_LOG", "error".to_string()),
    ];
    let mut server =
        start_server(&bin, dir.path(), None, &secret, &credentials_key(), &extra).await?;
    let (pid, base) = (server.pid, server.base.clone());
    let client = reqwest::Client::new();
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
    let before = proc_status_kb(pid, "VmRSS").ok_or("cannot read the server's RSS")?;
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
    let after = proc_status_kb(pid, "VmRSS").ok_or("cannot read the server's RSS")?;
    let _ = server.child.kill().await;
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
