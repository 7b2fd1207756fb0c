//! The live stream's order-event latency: how long after an order's answer its `orders` event
//! (the completed journal entry) reaches a subscriber, with 1 and with many users trading at once,
//! on one replica and, with `--postgres` and `--redis`, across two (the order placed through one,
//! the stream opened on the other).
//!
//! Each user opens `GET /api/v1/stream` (Authorization header), subscribes to `orders`, and
//! places market orders one after another for `--seconds`. For every order the client records
//! when it sent the request, when the answer came, and when the event of the completed entry
//! came. The service completes the entry before it answers, so "answer → event" is the change's
//! delivery time minus the answer's own (sub-millisecond on loopback) trip.
//!
//! Run: `cargo build --release -p mt5-bridge && cargo run --release -p mt5-bridge --example
//! bench_stream` (see docs/BENCHMARKS.md).

#[path = "../tests/support/postgres_db.rs"]
mod postgres_db;
#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use postgres_db::{fresh_postgres_database, TestDatabase};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::service::{
    bridge_binary, connect_users, credentials_key, random_secret, start_server, Server,
};
use support::{machine, percentile};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(
    name = "bench_stream",
    about = "Order-event latency of the live stream"
)]
struct Args {
    /// Seconds each point places orders.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Users trading at once, comma-separated (each with its own stream).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    users: Vec<usize>,
    /// Admin URL of a Postgres server that may create databases (with --redis: the two-replica run).
    #[arg(long)]
    postgres: Option<String>,
    /// Redis URL (with --postgres: the two-replica run).
    #[arg(long)]
    redis: Option<String>,
    /// The `mt5-bridge` binary (default: MT5_BRIDGE_BIN, else next to this example's directory).
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// What the client saw of one order.
#[derive(Clone, Copy)]
struct Seen {
    sent: Instant,
    answered: Instant,
}

struct PointResult {
    setup: &'static str,
    users: usize,
    orders: usize,
    missed: usize,
    /// Answer → event, ms (negative: the event came first).
    after_answer: Vec<f64>,
    /// Request sent → event, ms.
    after_request: Vec<f64>,
}

/// The `p` quantile of signed milliseconds, as the table prints it.
fn quantile(sorted: &[f64], p: f64) -> String {
    percentile(sorted, p).map_or_else(|| "–".into(), |ms| format!("{ms:.2}"))
}

/// One user's stream and orders for the point: returns each order's times and the arrival of
/// each completed entry's event, by order ticket.
async fn trade_and_listen(
    order_base: String,
    stream_base: String,
    token: String,
    seconds: f64,
) -> Result<(HashMap<u64, Seen>, HashMap<u64, Instant>), String> {
    let url = format!(
        "{}/api/v1/stream",
        stream_base.replacen("http://", "ws://", 1)
    );
    let mut req = url
        .into_client_request()
        .map_err(|e| format!("stream url: {e}"))?;
    let auth = format!("Bearer {token}")
        .parse()
        .map_err(|e| format!("header: {e}"))?;
    req.headers_mut().insert("Authorization", auth);
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| format!("stream: {e}"))?;
    ws.send(Message::text(
        json!({"type": "subscribe", "id": "o", "channel": "orders"}).to_string(),
    ))
    .await
    .map_err(|e| format!("subscribe: {e}"))?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .map_err(|_| "no answer to subscribe".to_string())?;
        if let Some(Ok(Message::Text(t))) = msg {
            let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
            if v["type"] == "subscribed" {
                break;
            }
            if v["type"] == "error" {
                return Err(format!("subscribe refused: {v}"));
            }
        }
    }
    let arrivals: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let reader = {
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                let at = Instant::now();
                let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if v["channel"] == "orders" && v["data"]["status"] == "done" {
                    if let Some(order) = v["data"]["order"].as_u64() {
                        if let Ok(mut a) = arrivals.lock() {
                            a.entry(order).or_insert(at);
                        }
                    }
                }
            }
        })
    };
    let client = reqwest::Client::new();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut seen = HashMap::new();
    let mut buy = true;
    while Instant::now() < end {
        let sent = Instant::now();
        let resp = client
            .post(format!("{order_base}/api/v1/orders"))
            .bearer_auth(&token)
            .json(&json!({"symbol": "EURUSD", "type": if buy { "buy" } else { "sell" }, "volume": 0.01}))
            .send()
            .await
            .map_err(|e| format!("order: {e}"))?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let answered = Instant::now();
        if !status.is_success() {
            return Err(format!("order answered {status}: {body}"));
        }
        if let Some(order) = body["order"].as_u64() {
            seen.insert(order, Seen { sent, answered });
        }
        buy = !buy;
    }
    // Stragglers: a second is ten times the aim.
    tokio::time::sleep(Duration::from_secs(1)).await;
    reader.abort();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    Ok((seen, arrivals))
}

async fn run_point(
    setup: &'static str,
    order_server: &Server,
    stream_server: &Server,
    tokens: &[String],
    users: usize,
    seconds: f64,
) -> Result<PointResult, String> {
    let mut tasks = Vec::new();
    for token in tokens.iter().take(users) {
        tasks.push(tokio::spawn(trade_and_listen(
            order_server.base.clone(),
            stream_server.base.clone(),
            token.clone(),
            seconds,
        )));
    }
    let mut result = PointResult {
        setup,
        users,
        orders: 0,
        missed: 0,
        after_answer: Vec::new(),
        after_request: Vec::new(),
    };
    for t in tasks {
        let (seen, arrivals) = t.await.map_err(|e| format!("worker: {e}"))??;
        for (order, s) in seen {
            result.orders += 1;
            match arrivals.get(&order) {
                Some(at) => {
                    let ms = |from: Instant| {
                        if *at >= from {
                            at.duration_since(from).as_secs_f64() * 1000.0
                        } else {
                            -(from.duration_since(*at).as_secs_f64() * 1000.0)
                        }
                    };
                    result.after_answer.push(ms(s.answered));
                    result.after_request.push(ms(s.sent));
                }
                None => result.missed += 1,
            }
        }
    }
    result.after_answer.sort_by(f64::total_cmp);
    result.after_request.sort_by(f64::total_cmp);
    Ok(result)
}

async fn single(args: &Args, bin: &Path) -> Result<Vec<PointResult>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let secret = random_secret();
    let server = start_server(bin, dir.path(), None, &secret, &credentials_key(), &[]).await?;
    let max = args.users.iter().copied().max().unwrap_or(1);
    let tokens = connect_users(&server.base, &secret, max).await?;
    let mut out = Vec::new();
    for &u in &args.users {
        eprintln!("one replica (SQLite): {u} users...");
        out.push(
            run_point(
                "1 replica, SQLite",
                &server,
                &server,
                &tokens,
                u,
                args.seconds,
            )
            .await?,
        );
    }
    Ok(out)
}

async fn replicas(
    args: &Args,
    bin: &Path,
    admin: &str,
    redis: &str,
) -> Result<Vec<PointResult>, String> {
    let db: TestDatabase = fresh_postgres_database(admin)
        .await
        .map_err(|e| format!("create the Postgres database: {e}"))?;
    let outcome = async {
        let (dir_a, dir_b) = (
            tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?,
            tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?,
        );
        let (secret, key) = (random_secret(), credentials_key());
        let prefix = format!("bench-stream-{}:", uuid::Uuid::new_v4());
        let extra = [
            ("REDIS_URL", redis.to_string()),
            ("REDIS_KEY_PREFIX", prefix),
        ];
        let a = start_server(bin, dir_a.path(), Some(&db.url), &secret, &key, &extra).await?;
        let b = start_server(bin, dir_b.path(), Some(&db.url), &secret, &key, &extra).await?;
        let max = args.users.iter().copied().max().unwrap_or(1);
        let tokens = connect_users(&a.base, &secret, max).await?;
        let mut out = Vec::new();
        for &u in &args.users {
            eprintln!("two replicas (Postgres, Redis): {u} users...");
            out.push(
                run_point(
                    "2 replicas: order on one, stream on the other (Postgres, Redis)",
                    &a,
                    &b,
                    &tokens,
                    u,
                    args.seconds,
                )
                .await?,
            );
        }
        Ok::<_, String>(out)
    }
    .await;
    if let Err(e) = db.drop().await {
        eprintln!("dropping the benchmark database failed: {e}");
    }
    outcome
}

fn report(points: &[PointResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| setup | users | orders | events missed | answer → event p50 ms | p99 ms | max ms | request → event p50 ms | p99 ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for p in points {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.setup,
            p.users,
            p.orders,
            p.missed,
            quantile(&p.after_answer, 0.5),
            quantile(&p.after_answer, 0.99),
            quantile(&p.after_answer, 1.0),
            quantile(&p.after_request, 0.5),
            quantile(&p.after_request, 0.99),
        );
    }
    s
}

fn main() -> ExitCode {
    match bench(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn bench(args: Args) -> Result<(), String> {
    if args.seconds.is_nan()
        || args.seconds <= 0.0
        || args.users.is_empty()
        || args.users.contains(&0)
    {
        return Err("--seconds and --users must be positive".into());
    }
    let bin = bridge_binary(args.bin.as_deref())?;
    let rt = support::runtime()?;
    println!("## Stream benchmark\n");
    println!(
        "- Date: {}",
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    println!("- Machine: {}", machine());
    println!(
        "- Each point: {} s of market orders per user, one after another\n",
        args.seconds
    );
    let mut points = rt
        .block_on(single(&args, &bin))
        .map_err(|e| format!("one-replica run failed: {e}"))?;
    match (&args.postgres, &args.redis) {
        (Some(pg), Some(redis)) => points.extend(
            rt.block_on(replicas(&args, &bin, pg, redis))
                .map_err(|e| format!("two-replica run failed: {e}"))?,
        ),
        _ => eprintln!("two replicas: skipped (needs --postgres and --redis)"),
    }
    println!("{}", report(&points));
    Ok(())
}
