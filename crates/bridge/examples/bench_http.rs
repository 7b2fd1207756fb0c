//! The HTTP benchmark: throughput and latency of `GET /api/v1/accounts` and `POST /api/v1/orders`
//! at several connection counts, on SQLite and on Postgres, and the service's resident memory.
//!
//! The service runs as a separate process (the release `mt5-bridge serve`), so its memory can be
//! read from `/proc/<pid>/status`; the load generator in this process shares the machine's cores with
//! it. Each point is a closed loop: N workers, each with its own keep-alive connection, send one
//! request after another for `--seconds` after a warm-up, and every latency is recorded.
//!
//! Run: `cargo build --release -p mt5-bridge && cargo run --release -p mt5-bridge --example
//! bench_http` (see docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;
use support::service::{
    bridge_binary, connect_users, credentials_key, proc_status_kb, random_secret, start_server,
    tail, Server,
};
use support::{machine, percentile};

use clap::Parser;
#[path = "../tests/support/postgres_db.rs"]
mod postgres_db;
use postgres_db::{fresh_postgres_database, TestDatabase};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "bench_http",
    about = "HTTP throughput, latency and memory of mt5-bridge"
)]
struct Args {
    /// Measured seconds per point (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Warm-up seconds per point, not measured.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Concurrent connections to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    connections: Vec<usize>,
    /// Endpoints to run, comma-separated: `accounts`, `orders`.
    #[arg(long, value_delimiter = ',', default_value = "accounts,orders")]
    endpoints: Vec<String>,
    /// Databases to run, comma-separated: `sqlite`, `postgres` (postgres needs --postgres).
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    databases: Vec<String>,
    /// Admin URL of a Postgres server that may create databases; without it Postgres is skipped.
    #[arg(long)]
    postgres: Option<String>,
    /// The `mt5-bridge` binary (default: MT5_BRIDGE_BIN, else next to this example's directory).
    #[arg(long)]
    bin: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Accounts,
    Orders,
}

impl Endpoint {
    fn parse(s: &str) -> Option<Endpoint> {
        match s {
            "accounts" => Some(Endpoint::Accounts),
            "orders" => Some(Endpoint::Orders),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Endpoint::Accounts => "GET /api/v1/accounts",
            Endpoint::Orders => "POST /api/v1/orders",
        }
    }
}

/// What one (endpoint, connections) point measured.
struct Point {
    endpoint: Endpoint,
    connections: usize,
    seconds: f64,
    /// Latencies of the 2xx answers completed inside the window, sorted.
    latencies: Vec<Duration>,
    errors: u64,
    /// The first error seen, to show what went wrong.
    first_error: Option<String>,
    peak_rss_kb: Option<u64>,
}

impl Point {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }
}

/// What one database's run measured.
struct DbRun {
    database: String,
    idle_rss_kb: Option<u64>,
    hwm_kb: Option<u64>,
    points: Vec<Point>,
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.2}", d.as_secs_f64() * 1000.0),
        None => "–".to_string(),
    }
}

fn mb(kb: Option<u64>) -> String {
    match kb {
        Some(kb) => format!("{:.1}", kb as f64 / 1024.0),
        None => "–".to_string(),
    }
}

/// What one worker saw.
#[derive(Default)]
struct WorkerResult {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

/// One closed-loop worker with its own keep-alive connection.
async fn worker(
    base: String,
    token: String,
    endpoint: Endpoint,
    measure_from: Instant,
    end: Instant,
    buy_first: bool,
) -> WorkerResult {
    let mut out = WorkerResult::default();
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            out.errors += 1;
            out.first_error = Some(format!("client: {e}"));
            return out;
        }
    };
    let accounts_url = format!("{base}/api/v1/accounts");
    let orders_url = format!("{base}/api/v1/orders");
    let mut buy = buy_first;
    loop {
        let start = Instant::now();
        if start >= end {
            return out;
        }
        let rb = match endpoint {
            Endpoint::Accounts => client.get(&accounts_url),
            Endpoint::Orders => {
                // Buys and sells alternate on the netting account, so its one position stays small
                // and every order costs the same however long the run.
                let side = if buy { "buy" } else { "sell" };
                buy = !buy;
                client
                    .post(&orders_url)
                    .json(&json!({"symbol": "EURUSD", "type": side, "volume": 0.01}))
            }
        };
        let result = match rb.bearer_auth(&token).send().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(_) if status.is_success() => Ok(()),
                    Ok(body) => Err(format!(
                        "{status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    )),
                    Err(e) => Err(format!("body: {e}")),
                }
            }
            Err(e) => Err(format!("send: {e}")),
        };
        let done = Instant::now();
        if start < measure_from || done > end {
            continue;
        }
        match result {
            Ok(()) => out.latencies.push(done - start),
            Err(e) => {
                out.errors += 1;
                if out.first_error.is_none() {
                    out.first_error = Some(e);
                }
            }
        }
    }
}

async fn run_point(
    args: &Args,
    server: &Server,
    users: &[String],
    endpoint: Endpoint,
    connections: usize,
) -> Point {
    let now = Instant::now();
    let measure_from = now + Duration::from_secs_f64(args.warmup);
    let end = measure_from + Duration::from_secs_f64(args.seconds);
    let peak = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop, pid) = (peak.clone(), stop.clone(), server.pid);
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Some(kb) = proc_status_kb(pid, "VmRSS") {
                    peak.fetch_max(kb, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut handles = Vec::with_capacity(connections);
    for i in 0..connections {
        let token = users
            .get(i % users.len().max(1))
            .cloned()
            .unwrap_or_default();
        handles.push(tokio::spawn(worker(
            server.base.clone(),
            token,
            endpoint,
            measure_from,
            end,
            i % 2 == 0,
        )));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for h in handles {
        match h.await {
            Ok(w) => {
                latencies.extend(w.latencies);
                errors += w.errors;
                if first_error.is_none() {
                    first_error = w.first_error;
                }
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| format!("worker: {e}"));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.await;
    latencies.sort();
    let peak = peak.load(Ordering::Relaxed);
    Point {
        endpoint,
        connections,
        seconds: args.seconds,
        latencies,
        errors,
        first_error,
        peak_rss_kb: (peak > 0).then_some(peak),
    }
}

async fn run_database(args: &Args, bin: &Path, database: &str) -> Result<DbRun, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let pg: Option<TestDatabase> = if database == "postgres" {
        let admin = args
            .postgres
            .as_deref()
            .ok_or("postgres needs --postgres")?;
        Some(
            fresh_postgres_database(admin)
                .await
                .map_err(|e| format!("create the Postgres database: {e}"))?,
        )
    } else {
        None
    };
    let outcome = run_with_server(args, bin, dir.path(), database, pg.as_ref()).await;
    if let Some(pg) = pg {
        if let Err(e) = pg.drop().await {
            eprintln!("dropping the benchmark database failed: {e}");
        }
    }
    outcome
}

async fn run_with_server(
    args: &Args,
    bin: &Path,
    dir: &Path,
    database: &str,
    pg: Option<&TestDatabase>,
) -> Result<DbRun, String> {
    let jwt_secret = random_secret();
    let mut server = start_server(
        bin,
        dir,
        pg.map(|d| d.url.as_str()),
        &jwt_secret,
        &credentials_key(),
        &[],
    )
    .await?;
    let max_conn = args.connections.iter().copied().max().unwrap_or(1);
    eprintln!(
        "{database}: server pid {} up, connecting {max_conn} users",
        server.pid
    );
    let users = connect_users(&server.base, &jwt_secret, max_conn).await?;
    // Let the allocator and the runtime settle before reading the idle figure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss_kb = proc_status_kb(server.pid, "VmRSS");
    let mut points = Vec::new();
    for e in &args.endpoints {
        let Some(endpoint) = Endpoint::parse(e) else {
            continue;
        };
        for &c in &args.connections {
            eprintln!("{database}: {} with {c} connections...", endpoint.label());
            let p = run_point(args, &server, &users, endpoint, c).await;
            eprintln!(
                "  {:.0} requests/s, p50 {} ms, p99 {} ms, errors {}{}",
                p.throughput(),
                ms(percentile(&p.latencies, 0.5)),
                ms(percentile(&p.latencies, 0.99)),
                p.errors,
                p.first_error
                    .as_deref()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default()
            );
            points.push(p);
        }
    }
    let hwm_kb = proc_status_kb(server.pid, "VmHWM");
    if let Ok(Some(status)) = server.child.try_wait() {
        return Err(format!(
            "the server exited with {status} during the run; its log:\n{}",
            tail(&server.log)
        ));
    }
    let _ = server.child.kill().await;
    Ok(DbRun {
        database: database.to_string(),
        idle_rss_kb,
        hwm_kb,
        points,
    })
}

fn report(runs: &[DbRun]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| database | endpoint | connections | requests/s | p50 ms | p99 ms | completed | errors | \
         peak RSS MB |\n|---|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in runs {
        for p in &r.points {
            let _ = writeln!(
                s,
                "| {} | `{}` | {} | {:.0} | {} | {} | {} | {} | {} |",
                r.database,
                p.endpoint.label(),
                p.connections,
                p.throughput(),
                ms(percentile(&p.latencies, 0.5)),
                ms(percentile(&p.latencies, 0.99)),
                p.latencies.len(),
                p.errors,
                mb(p.peak_rss_kb),
            );
        }
    }
    let _ = writeln!(s);
    for r in runs {
        let _ = writeln!(
            s,
            "- {}: idle RSS {} MB (after start-up and the connects, before load); peak RSS sampled \
             under load {} MB; VmHWM at the end {} MB.",
            r.database,
            mb(r.idle_rss_kb),
            mb(r.points.iter().filter_map(|p| p.peak_rss_kb).max()),
            mb(r.hwm_kb),
        );
        for p in r.points.iter().filter(|p| p.errors > 0) {
            let _ = writeln!(
                s,
                "  - {} at {}: {} errors, first: {}",
                p.endpoint.label(),
                p.connections,
                p.errors,
                p.first_error.as_deref().unwrap_or("?")
            );
        }
    }
    s
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.seconds > 0.0 && args.warmup >= 0.0) {
        eprintln!("--seconds must be positive and --warmup not negative");
        return ExitCode::FAILURE;
    }
    if args.connections.is_empty() || args.connections.contains(&0) {
        eprintln!("--connections must be positive");
        return ExitCode::FAILURE;
    }
    if let Some(e) = args.endpoints.iter().find(|e| Endpoint::parse(e).is_none()) {
        eprintln!("unknown endpoint {e:?}: expected accounts or orders");
        return ExitCode::FAILURE;
    }
    if let Some(d) = args
        .databases
        .iter()
        .find(|d| *d != "sqlite" && *d != "postgres")
    {
        eprintln!("unknown database {d:?}: expected sqlite or postgres");
        return ExitCode::FAILURE;
    }
    let bin = match bridge_binary(args.bin.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match support::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let mut head = String::new();
    let _ = writeln!(head, "## HTTP benchmark\n");
    let _ = writeln!(
        head,
        "- Date: {}",
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let _ = writeln!(head, "- Machine: {}", machine());
    let _ = writeln!(
        head,
        "- Points: {} s each after a {} s warm-up; connections {:?}",
        args.seconds, args.warmup, args.connections
    );
    println!("{head}");
    let mut runs = Vec::new();
    for database in &args.databases {
        if database == "postgres" && args.postgres.is_none() {
            eprintln!("postgres: skipped (no --postgres URL)");
            continue;
        }
        match rt.block_on(run_database(&args, &bin, database)) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("{database} run failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", report(&runs));
    ExitCode::SUCCESS
}
