//! The per-operation cost of binding a session to its credential: what every terminal operation
//! now does before it reaches the pool (the row's session tag from the in-process cache, keyed by
//! row id and SHA-256 of the envelope), and what the first operation of a row in a process does
//! (decrypt the envelope and compute the HMAC tag).
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_session_tag` (see docs/BENCHMARKS.md).

use mt5_bridge::credentials::{Credentials, MemoryRefused};
use mt5_bridge::store::AccountRow;
use mt5_bridge::vault::{Binding, CredentialKey, Vault};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

const ROWS: usize = 1_000;
const ROUNDS: usize = 200;

fn row(vault: &Vault, i: usize) -> Result<AccountRow, String> {
    let (id, user_id) = (Uuid::new_v4(), Uuid::new_v4());
    let login = (70_000 + i).to_string();
    let server = "Sim-Bench".to_string();
    let envelope = vault
        .encrypt(
            &SecretString::from(format!("Bench-{i}!")),
            &Binding {
                account_id: id,
                user_id,
                login: &login,
                server: &server,
            },
        )
        .map_err(|e| e.to_string())?;
    let now = time::OffsetDateTime::now_utc();
    Ok(AccountRow {
        id,
        user_id,
        account_name: format!("bench {i}"),
        login,
        server,
        encrypted_password: envelope,
        is_active: true,
        is_default: false,
        broker_name: None,
        account_type: None,
        risk_limits: None,
        trade_allowed: None,
        created_at: now,
        updated_at: now,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("b.db").display());
    let store = mt5_bridge::store::open(&url)
        .await
        .map_err(|e| e.to_string())?;
    let vault = Arc::new(Vault::new(CredentialKey::generate("bench"), vec![]));
    let creds = Credentials::new(vault.clone(), Arc::new(MemoryRefused::default()), store);
    let rows: Vec<AccountRow> = (0..ROWS)
        .map(|i| row(&vault, i))
        .collect::<Result<_, _>>()?;

    // First operation of each row in this process: decrypt + HMAC, then cached.
    let t = Instant::now();
    for r in &rows {
        creds.session(r).await.map_err(|e| e.to_string())?;
    }
    let first_us = t.elapsed().as_secs_f64() * 1e6 / ROWS as f64;

    // Every later operation: hash the envelope, look the tag up.
    let t = Instant::now();
    for _ in 0..ROUNDS {
        for r in &rows {
            std::hint::black_box(creds.session(r).await.map_err(|e| e.to_string())?);
        }
    }
    let n = (ROUNDS * ROWS) as f64;
    let cached_us = t.elapsed().as_secs_f64() * 1e6 / n;

    println!("rows: {ROWS}, cached lookups: {}", ROUNDS * ROWS);
    println!("first operation of a row (decrypt + HMAC-SHA256): {first_us:.2} us");
    println!("every later operation (SHA-256 of the envelope + cache lookup): {cached_us:.3} us");
    Ok(())
}
