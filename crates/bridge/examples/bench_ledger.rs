//! The cost of `sim-agent`'s ledger per order: what an `order_send` adds before and after the
//! terminal sees it (the `received` row committed with `synchronous=FULL`, then the stored answer),
//! and a `ledger` query of one id, on a file in a temporary directory.
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_ledger [-- ORDERS]` (see
//! docs/BENCHMARKS.md). The file system under the temporary directory decides most of it.

use mt5::{AccountKey, Session, SessionTag};
use mt5_bridge::agent::ledger::{Begin, Finish, Ledger, DEFAULT_RETENTION};
use mt5_bridge::agent::wire::StoredAnswer;
use serde_json::json;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let orders: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().map_err(|e| format!("ORDERS: {e}")))
        .transpose()?
        .unwrap_or(2_000);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let ledger = Ledger::open(&dir.path().join("ledger.db"), DEFAULT_RETENTION).await;
    if let Some(e) = ledger.health().error {
        return Err(e);
    }
    let tag = SessionTag::from_hex(&"ab".repeat(32)).ok_or("tag")?;
    let session = Session::new(AccountKey::new(70_001, "Sim-Bench"), tag);
    let answer = StoredAnswer {
        status: 200,
        result: Some(
            json!({"retcode": 10009, "deal": 1, "order": 2, "volume": 0.01,
                            "price": 1.1, "comment": "Request executed"}),
        ),
        error: None,
    };
    let (mut before, mut after, mut query) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..orders {
        let id = format!("bench{i}");
        let t = Instant::now();
        match ledger.begin(&id, &session).await {
            Ok(Begin::Fresh) => {}
            other => return Err(format!("begin: {other:?}")),
        }
        before.push(t.elapsed());
        let t = Instant::now();
        ledger
            .finish(&id, Finish::Answered(answer.clone()))
            .await
            .map_err(|e| e.to_string())?;
        after.push(t.elapsed());
        let t = Instant::now();
        ledger
            .query(&session, std::slice::from_ref(&id))
            .await
            .map_err(|e| e.to_string())?;
        query.push(t.elapsed());
    }
    println!("| step ({orders} orders) | p50 ms | p99 ms |");
    println!("|---|---:|---:|");
    for (name, mut v) in [
        ("`received` row, before the terminal", before),
        ("stored answer, after the terminal", after),
        ("`ledger` query of one id", query),
    ] {
        v.sort();
        println!(
            "| {name} | {} | {} |",
            ms(percentile(&v, 50.0)),
            ms(percentile(&v, 99.0))
        );
    }
    Ok(())
}
