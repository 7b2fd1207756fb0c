//! The backtest benchmark, engine and strategy alone: `backtest::run::run` over the simulator's
//! EURUSD history already in memory (no terminal, no cache, no store), all costs on, one core.
//! `ma_crossover` on M1 with `open_prices` and on H1 with `m1_ohlc` (the path through every M1
//! bar), over `--years` of the simulator's 24/7 history; bars per second and the peak resident
//! memory.
//!
//! With `--end-to-end`, the whole job instead: `mt5-bridge serve` (release, SQLite, the simulator
//! with `MT5_SIM_MAX_BARS` covering the years, one worker) runs the same two backtests through
//! `POST /api/v1/backtests`, twice each: the first reads the history from the terminal into the
//! bar cache, the second from the cache. The rate is M1 bars walked over the time from the job's
//! start to its stored result (`started_at` to `finished_at`), and the server's peak RSS.
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_backtest -- --years 1`, and with
//! `--end-to-end` after `cargo build --release -p mt5-bridge` (docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;

use clap::Parser;
use mt5::{RatesRange, Timeframe};
use mt5_bridge::algorithms::strategies;
use mt5_bridge::backtest::run::{self, History, Model, Settings, Spread};
use mt5_bridge::risk::RiskLimits;
use serde_json::json;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(name = "bench_backtest", about = "Backtest speed of mt5-bridge")]
struct Args {
    /// Years of history.
    #[arg(long, default_value_t = 1)]
    years: u32,
    /// Through the service: job start to stored result, with the history cached.
    #[arg(long)]
    end_to_end: bool,
    /// With --end-to-end: the terminal is a `sim-agent` process, read over the agent protocol.
    #[arg(long)]
    agent: bool,
    /// With --end-to-end: the store (a Postgres URL); SQLite in a temporary directory otherwise.
    #[arg(long)]
    database_url: Option<String>,
}

/// The time between two RFC 3339 stamps, in seconds.
fn seconds_between(a: &serde_json::Value, b: &serde_json::Value) -> Option<f64> {
    let parse = |v: &serde_json::Value| {
        time::OffsetDateTime::parse(v.as_str()?, &time::format_description::well_known::Rfc3339)
            .ok()
    };
    Some((parse(b)? - parse(a)?).as_seconds_f64())
}

async fn end_to_end(years: u32, agent: bool, database_url: Option<String>) -> Result<(), String> {
    let bin = support::service::bridge_binary(None)?;
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let secret = support::service::random_secret();
    let key = support::service::credentials_key();
    let minutes = 525_600 * u64::from(years);
    let max_bars = (minutes + 200_000).to_string();
    let mut settings: Vec<(&str, String)> = vec![
        ("MT5_SIM_MAX_BARS", max_bars.clone()),
        ("BACKTEST_WORKERS", "1".into()),
        ("BACKTEST_MAX_WINDOW_DAYS", "36600".into()),
        ("BACKTEST_WORK_PER_DAY", "4000000000".into()),
        ("TERMINAL_TIMEOUT_MS", "120000".into()),
    ];
    // The terminal over the agent protocol: a sim-agent process with the same accounts.
    let _agent = if agent {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("port: {e}"))?
            .port();
        let accounts = dir.path().join("agent-accounts.toml");
        std::fs::write(&accounts, support::service::ACCOUNTS_TOML)
            .map_err(|e| format!("accounts: {e}"))?;
        let child = tokio::process::Command::new(&bin)
            .args(["sim-agent", "--bind", &format!("127.0.0.1:{port}")])
            .env("AGENT_TOKEN", "bench-agent-token")
            .env("DATA_DIR", dir.path().join("agent"))
            .env("MT5_SIM_STATE", "memory")
            .env("MT5_SIM_ACCOUNTS", &accounts)
            .env("MT5_SIM_MAX_BARS", &max_bars)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("sim-agent: {e}"))?;
        settings.push(("TERMINALS", format!("agent:http://127.0.0.1:{port}")));
        settings.push(("AGENT_TOKEN", "bench-agent-token".into()));
        settings.push(("AGENT_ALLOW_INSECURE", "true".into()));
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        Some(child)
    } else {
        None
    };
    let server = support::service::start_server(
        &bin,
        dir.path(),
        database_url.as_deref(),
        &secret,
        &key,
        &settings,
    )
    .await?;
    let tokens = support::service::connect_users(&server.base, &secret, 1).await?;
    let token = tokens.first().ok_or("no user")?;
    let client = reqwest::Client::new();
    let accounts: serde_json::Value = client
        .get(format!("{}/api/v1/accounts", server.base))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("accounts: {e}"))?
        .json()
        .await
        .map_err(|e| format!("accounts: {e}"))?;
    let account = accounts["accounts"][0]["id"].clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    // Whole minutes back from an hour ago, so the window's bars have all closed.
    let to = now - now % 3600 - 3600;
    let from = to - minutes as i64 * 60;
    for (label, timeframe, model) in [
        ("M1 open_prices", "M1", "open_prices"),
        ("H1 m1_ohlc", "H1", "m1_ohlc"),
    ] {
        for pass in ["history from the terminal", "history from the cache"] {
            let body = serde_json::json!({
                "account_id": account, "algorithm_id": "ma_crossover",
                "parameters": {"symbol": "EURUSD", "timeframe": timeframe,
                               "risk_per_trade": 0.01, "max_positions": 3},
                "from": from, "to": to, "model": model, "initial_deposit": 10000,
                "spread": "larger", "spread_points": 12, "slippage_points": 1,
                "commission_per_lot": 3.5,
            });
            let created: serde_json::Value = client
                .post(format!("{}/api/v1/backtests", server.base))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_err(|e| format!("submit: {e}"))?
                .json()
                .await
                .map_err(|e| format!("submit: {e}"))?;
            let id = created["id"]
                .as_str()
                .ok_or_else(|| format!("not queued: {created}"))?
                .to_string();
            let done = loop {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let b: serde_json::Value = client
                    .get(format!("{}/api/v1/backtests/{id}", server.base))
                    .bearer_auth(token)
                    .send()
                    .await
                    .map_err(|e| format!("poll: {e}"))?
                    .json()
                    .await
                    .map_err(|e| format!("poll: {e}"))?;
                match b["status"].as_str() {
                    Some("done") => break b,
                    Some("failed") | Some("canceled") => return Err(format!("{label}: {b}")),
                    _ => {}
                }
            };
            let took =
                seconds_between(&done["started_at"], &done["finished_at"]).ok_or("no times")?;
            let result = &done["results"][0];
            println!(
                "{label}, {pass}: {minutes} M1 bars in {took:.2} s from job start to stored result: {:.0} M1 bars/s; chunks {} ({} from the terminal); {} trades; server peak RSS {} MB",
                minutes as f64 / took,
                result["history_chunks"],
                result["history_chunks_from_terminal"],
                done["report"]["total_trades"],
                support::service::proc_status_kb(server.pid, "VmHWM").unwrap_or(0) / 1024,
            );
        }
    }
    // What the bar cache takes per bar: every M1 and H1 bar read is in it.
    let cached_bars = minutes + minutes / 60;
    let bytes = match &database_url {
        None => std::fs::metadata(dir.path().join("mt5-bridge.db"))
            .map(|m| m.len())
            .unwrap_or(0),
        Some(url) => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            let (n,): (i64,) = sqlx::query_as("select pg_total_relation_size('bar_cache')::bigint")
                .fetch_one(&mut conn)
                .await
                .map_err(|e| format!("postgres: {e}"))?;
            n.max(0) as u64
        }
    };
    let what = if database_url.is_none() {
        "the whole SQLite file"
    } else {
        "pg_total_relation_size of bar_cache"
    };
    println!(
        "bar cache: {cached_bars} bars in {bytes} bytes ({what}): {:.1} bytes a bar",
        bytes as f64 / cached_bars as f64
    );
    Ok(())
}

/// `count` bars of `timeframe` ending before `end_ms`, read in the feed's pages (it keeps a
/// terminal's bars-in-chart limit), oldest first.
fn bars(
    feed: &mt5_sim::prices::PriceFeed,
    timeframe: Timeframe,
    count: usize,
    end_ms: i64,
) -> Vec<mt5::Rate> {
    let page = 10_000usize;
    let seconds = timeframe.seconds().unwrap_or(60);
    let mut out: Vec<mt5::Rate> = Vec::with_capacity(count);
    let mut end = end_ms;
    while out.len() < count {
        let want = page.min(count - out.len());
        let got = feed
            .rates(
                "EURUSD",
                timeframe,
                RatesRange::FromPos {
                    start: 1,
                    count: want as u32,
                },
                end,
            )
            .unwrap_or_default();
        if got.is_empty() {
            break;
        }
        end -= seconds * 1000 * got.len() as i64;
        let mut page_bars = got;
        page_bars.append(&mut out);
        out = page_bars;
    }
    out
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match support::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    println!("machine: {}", support::machine());
    if args.end_to_end {
        return match rt.block_on(end_to_end(
            args.years,
            args.agent,
            args.database_url.clone(),
        )) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let feed = mt5_sim::prices::PriceFeed::new(7, mt5_sim::symbols::builtin_symbols(), 0);
    let end_ms = 1_735_689_600_000; // 2025-01-01
    let minutes = 525_600 * args.years as usize;
    let loaded = Instant::now();
    let m1 = bars(&feed, Timeframe::M1, minutes, end_ms);
    let h1 = bars(&feed, Timeframe::H1, minutes / 60, end_ms);
    println!(
        "history: {} M1 and {} H1 bars generated in {:.1} s",
        m1.len(),
        h1.len(),
        loaded.elapsed().as_secs_f64()
    );
    let info = match feed.symbol_info("EURUSD", end_ms, "USD") {
        Some(i) => i,
        None => return ExitCode::FAILURE,
    };
    let settings = |model| Settings {
        model,
        spread: Spread::Larger(12),
        slippage_points: 1,
        commission_per_lot: 3.5,
        initial_deposit: 10_000.0,
        account: mt5_sim::engine::AccountSettings::simulated(
            "USD",
            100,
            mt5::AccountMarginMode::RetailHedging,
            50.0,
            30.0,
        ),
        server_offset_s: 0,
        max_curve_points: 10_000,
    };
    let Some(strategy) = strategies::find("ma_crossover") else {
        return ExitCode::FAILURE;
    };
    for (label, timeframe, bar_seconds, model, decision_bars) in [
        ("M1 open_prices", "M1", 60, Model::OpenPrices, &m1),
        ("H1 m1_ohlc", "H1", 3600, Model::M1Ohlc, &h1),
    ] {
        let walked = m1.len();
        let Ok(params) = strategy.validate(&json!({
            "symbol": "EURUSD", "timeframe": timeframe, "risk_per_trade": 0.01, "max_positions": 3,
        })) else {
            return ExitCode::FAILURE;
        };
        let history = History {
            bars: decision_bars,
            m1: &m1,
            bar_seconds,
            conversions: &[],
        };
        let started = Instant::now();
        let outcome = rt.block_on(run::run(
            strategy.as_ref(),
            &params,
            &RiskLimits::default(),
            &info,
            &history,
            &settings(model),
            1,
            &AtomicBool::new(false),
            &mut |_| {},
        ));
        let took = started.elapsed().as_secs_f64();
        match outcome {
            Ok(o) => println!(
                "{label}: {} decision bars, {walked} M1 bars walked in {took:.2} s: {:.0} M1 bars/s; {} trades, net {:.2}; peak RSS {:.0} MB",
                decision_bars.len(),
                walked as f64 / took,
                o.report.total_trades,
                o.report.net_profit,
                peak_rss_mb()
            ),
            Err(e) => {
                eprintln!("{label}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
