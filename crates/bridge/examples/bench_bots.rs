//! The bots benchmark: bar-close waves through the terminal pool.
//!
//! Each (scenario, policy) run starts the real service in-process on port 0 with a fresh SQLite
//! database and an in-memory simulated broker whose logins take `--login-latency-ms`, on `--terminals`
//! simulated terminals. Every user connects one account and creates `bots per account` paper bots
//! (M1, ma_crossover, on a few symbols). The service's and the broker's clock is real time shifted
//! into the past: each wave starts by moving it to the next minute's boundary, from where it runs on
//! in real time, so the scheduler, the terminals and the bars see a bar close at that instant.
//!
//! Per wave it reports: terminal logins; the time from the bar's close to each pass's bars in hand
//! (recorded by the service with each pass) p50/p99/max; passes missing after the wave (bots whose
//! bar was not evaluated) and bars skipped; the interactive load's answers (`--interactive-rate`
//! requests a second of `GET /api/v1/account` by random users) that were 429 or 503; and
//! `mt5b_stream_slow_consumer_total` with `--streams` users streaming the `bots` channel. The bound
//! B = ⌈accounts / terminals⌉ × (login + 500 ms) + bots per account × pass time, the pass time
//! measured (the median gap between consecutive passes of one account's wave).
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_bots` (see docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;
use support::{machine, percentile};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use mt5::clock::Clock;
use mt5_bridge::app::{Application, Overrides};
use mt5_bridge::config::{Cli, Command, ServeSettings};
use mt5_sim::config::{AccountSpec, FaultConfig, SimConfig, StateLocation};
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const SERVER: &str = "Sim-Bots";
const FIRST_LOGIN: u64 = 60_001;
const SYMBOLS: [&str; 5] = ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "EURJPY"];
const METRICS_TOKEN: &str = "bench-bots-metrics-token-0123456789";

#[derive(Debug, Parser)]
#[command(
    name = "bench_bots",
    about = "Bar-close waves of bots through the pool"
)]
struct Args {
    /// Scenarios `USERSxBOTS` (one account per user), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "200x1,100x10")]
    scenarios: Vec<String>,
    /// Policies, comma-separated: `pool`, `adaptive`.
    #[arg(long, value_delimiter = ',', default_value = "adaptive,pool")]
    policies: Vec<String>,
    #[arg(long, default_value_t = 20)]
    terminals: usize,
    #[arg(long, default_value_t = 1500)]
    login_latency_ms: u64,
    /// Measured waves per run (after the first, which creates the bots' starting point).
    #[arg(long, default_value_t = 5)]
    waves: usize,
    /// Interactive requests per second during the waves, all users together.
    #[arg(long, default_value_t = 2.0)]
    interactive_rate: f64,
    /// Users streaming the `bots` channel.
    #[arg(long, default_value_t = 20)]
    streams: usize,
    #[arg(long, default_value_t = 7)]
    seed: u64,
}

/// Real time shifted by a settable amount: set to a moment, it runs on from there.
#[derive(Clone)]
struct ShiftedClock(Arc<AtomicI64>);

fn real_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl ShiftedClock {
    fn at(utc_ms: i64) -> Self {
        ShiftedClock(Arc::new(AtomicI64::new(utc_ms - real_ms())))
    }
    fn set(&self, utc_ms: i64) {
        self.0.store(utc_ms - real_ms(), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        real_ms() + self.0.load(Ordering::SeqCst)
    }
}

fn settings(
    dir: &Path,
    args: &Args,
    policy: &str,
    jwt_secret: &SecretString,
) -> Result<ServeSettings, String> {
    let db = format!("sqlite://{}?mode=rwc", dir.join("bridge.db").display());
    let argv: Vec<String> = [
        "mt5-bridge",
        "serve",
        "--data-dir",
        &dir.display().to_string(),
        "--database-url",
        &db,
        "--log-format",
        "text",
        "--bind",
        "127.0.0.1:0",
        "--terminals",
        &format!("sim:{}", args.terminals),
        "--pool-policy",
        policy,
        "--switch-limit-per-hour",
        "1000000",
        "--connect-fail-limit",
        "1000000",
        "--login-fail-limit",
        "1000000",
        "--dry-run-limit-per-hour",
        "1000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cli = Cli::try_parse_from(argv).map_err(|e| format!("serve flags: {e}"))?;
    let Command::Serve(serve) = cli.command else {
        return Err("serve flags did not parse as `serve`".into());
    };
    let key = mt5_bridge::vault::CredentialKey::generate("bots1").to_base64();
    let secret = jwt_secret.expose_secret().to_string();
    let lookup = move |name: &str| match name {
        "JWT_SECRET" => Some(secret.clone()),
        "CREDENTIALS_KEY" => Some(key.expose_secret().to_string()),
        "CREDENTIALS_KEY_ID" => Some("bots1".to_string()),
        "METRICS_TOKEN" => Some(METRICS_TOKEN.to_string()),
        _ => None,
    };
    ServeSettings::load(&serve, &lookup).map_err(|e| e.to_string())
}

fn accounts(users: usize, template: &AccountSpec) -> Vec<AccountSpec> {
    (0..users as u64)
        .map(|k| {
            let mut a = template.clone();
            a.login = FIRST_LOGIN + k;
            a.password = SecretString::from(format!("Pw-{}!", a.login));
            a.server = SERVER.to_string();
            a.name = format!("Bots {k}");
            a
        })
        .collect()
}

struct User {
    token: String,
    account_id: String,
}

/// One wave's measurements.
struct Wave {
    logins: u64,
    delays_ms: Vec<i64>,
    pass_gaps_ms: Vec<i64>,
    missing: u64,
    skipped: i64,
    refused: u64,
    /// Interactive requests sent during the wave (each may log a terminal in).
    interactive: u64,
    slow_consumers: f64,
    seconds: f64,
}

async fn metric(client: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = match client
        .get(format!("{base}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
    {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn open_stream(base: &str, token: &str) -> Result<tokio::task::JoinHandle<()>, String> {
    let url = format!("{}/api/v1/stream", base.replacen("http://", "ws://", 1));
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
        json!({"type": "subscribe", "id": "b", "channel": "bots"}).to_string(),
    ))
    .await
    .map_err(|e| format!("subscribe: {e}"))?;
    // Read everything, as a client keeping up would.
    Ok(tokio::spawn(async move {
        while let Some(Ok(_)) = ws.next().await {}
    }))
}

#[allow(clippy::too_many_lines)] // reason: one run, start to finish, reads best in one place
async fn run_once(
    args: &Args,
    users_n: usize,
    bots_per: usize,
    policy: &str,
) -> Result<Vec<Wave>, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill(&mut secret);
    let jwt_secret = SecretString::from(
        secret
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    );
    let template = mt5_sim::config::default_accounts()
        .into_iter()
        .find(|a| a.login == 10001)
        .ok_or("no template account")?;
    let sim = SimConfig {
        accounts: accounts(users_n, &template),
        state: StateLocation::Memory,
        seed: args.seed,
        login_latency_ms: args.login_latency_ms,
        call_latency_ms: 0,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    };
    // A minute boundary well inside the simulated history, plus 30 s.
    let now = real_ms();
    let start = now - now.rem_euclid(60_000) - 200 * 3_600_000;
    let clock = ShiftedClock::at(start + 30_000);
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(clock.clone()))
            .await
            .map_err(|e| format!("sim broker: {e}"))?;
    let app = Application::build(
        settings(dir.path(), args, policy, &jwt_secret)?,
        Overrides {
            sim: Some(sim.clone()),
            broker: Some(broker.clone()),
            clock: Some(Arc::new(clock.clone())),
        },
    )
    .await
    .map_err(|e| format!("application: {e}"))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.state().pool.clone();
    let db = app.state().store.clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .map_err(|e| format!("http client: {e}"))?;

    eprintln!(
        "  {policy}: connecting {users_n} accounts, {} bots...",
        users_n * bots_per
    );
    let mut users = Vec::new();
    let mut connects = Vec::new();
    for spec in &sim.accounts {
        let token = mt5_bridge::auth::mint_token(
            &jwt_secret,
            Uuid::new_v4(),
            Some("bench@example.com"),
            Duration::from_secs(6 * 3600),
            "authenticated",
            None,
        )
        .map_err(|e| format!("token: {e}"))?;
        let req = client
            .post(format!("{base}/api/v1/accounts/connect"))
            .bearer_auth(&token)
            .json(
                &json!({"account_name": spec.name, "login": spec.login.to_string(),
                "password": spec.password.expose_secret(), "server": spec.server}),
            );
        connects.push(tokio::spawn(async move {
            let r = req.send().await.map_err(|e| format!("connect: {e}"))?;
            let v: Value = r.json().await.unwrap_or(Value::Null);
            v["account_id"]
                .as_str()
                .map(|id| User {
                    token,
                    account_id: id.to_string(),
                })
                .ok_or(format!("connect: {v}"))
        }));
    }
    for c in connects {
        users.push(c.await.map_err(|e| format!("connect task: {e}"))??);
    }
    let users = Arc::new(users);
    // Each user's bots one after the other, the users in parallel (a creation reads the account).
    let mut creations = Vec::new();
    for u in users.iter() {
        let (client, base, token, account) = (
            client.clone(),
            base.clone(),
            u.token.clone(),
            u.account_id.clone(),
        );
        creations.push(tokio::spawn(async move {
            for b in 0..bots_per {
                let r = client
                    .post(format!("{base}/api/v1/bots"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("b{b}"), "account_id": account,
                        "algorithm_id": "ma_crossover", "dry_run": true,
                        "parameters": {"symbol": SYMBOLS[b % SYMBOLS.len()], "timeframe": "M1"}}))
                    .send()
                    .await
                    .map_err(|e| format!("bot: {e}"))?;
                if r.status().as_u16() != 201 {
                    return Err(format!("bot: {}", r.text().await.unwrap_or_default()));
                }
            }
            Ok::<(), String>(())
        }));
    }
    for c in creations {
        c.await.map_err(|e| format!("bot task: {e}"))??;
    }
    let total = (users_n * bots_per) as i64;
    let sqlite = format!("sqlite://{}", dir.path().join("bridge.db").display());
    let mut conn = {
        use sqlx::Connection;
        sqlx::SqliteConnection::connect(&sqlite)
            .await
            .map_err(|e| format!("sqlite: {e}"))?
    };
    let passed = |n: i64| format!("select count(*) from bots where passes >= {n}");
    // The first passes (bots are due at creation).
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let (n,): (i64,) = sqlx::query_as(&passed(1))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("count: {e}"))?;
        if n >= total {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("first passes: {n} of {total}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = db;
    let mut streams = Vec::new();
    for u in users.iter().take(args.streams) {
        streams.push(open_stream(&base, &u.token).await?);
    }
    // The interactive load, through every wave.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    let load = {
        let (client, base, users, stop, refused, sent) = (
            client.clone(),
            base.clone(),
            users.clone(),
            stop.clone(),
            refused.clone(),
            sent.clone(),
        );
        let period = Duration::from_secs_f64(1.0 / args.interactive_rate.max(0.01));
        let seed = args.seed;
        tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let mut tick = tokio::time::interval(period);
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let u = &users[rng.gen_range(0..users.len())];
                sent.fetch_add(1, Ordering::SeqCst);
                let req = client
                    .get(format!("{base}/api/v1/account"))
                    .bearer_auth(&u.token)
                    .header("X-Account-Id", &u.account_id);
                let refused = refused.clone();
                tokio::spawn(async move {
                    let s = req.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                    if s == 429 || s == 503 {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        })
    };

    // One wave unmeasured: the bots' first passes came at their creation, spread over the setup
    // (and the clock ran on meanwhile); from here on every bot is due at the same boundary.
    let mut waves = Vec::new();
    for w in 1..=args.waves + 1 {
        let logins_before = pool.stats().logins.load(Ordering::SeqCst);
        let refused_before = refused.load(Ordering::SeqCst);
        let sent_before = sent.load(Ordering::SeqCst);
        let now = clock.now_ms();
        let boundary = now - now.rem_euclid(60_000) + 60_000;
        let bar = boundary / 1000 - 60;
        let began = Instant::now();
        clock.set(boundary);
        let want = w as i64 + 1;
        let deadline = Instant::now() + Duration::from_secs(55);
        loop {
            let (n,): (i64,) = sqlx::query_as(&passed(want))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| format!("count: {e}"))?;
            if n >= total || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seconds = began.elapsed().as_secs_f64();
        // Let the last writes land before reading.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select b.account_id, p.inputs from bot_passes p join bots b on b.id = p.bot_id \
             where p.bar_time = ?1",
        )
        .bind(bar)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("passes: {e}"))?;
        let mut delays = Vec::new();
        let mut by_account: std::collections::HashMap<String, Vec<i64>> = Default::default();
        for (account, inputs) in &rows {
            let v: Value = serde_json::from_str(inputs).unwrap_or(Value::Null);
            if let Some(d) = v["delay_ms"].as_i64() {
                delays.push(d);
                by_account.entry(account.clone()).or_default().push(d);
            }
        }
        let mut gaps = Vec::new();
        for ds in by_account.values_mut() {
            ds.sort_unstable();
            gaps.extend(ds.windows(2).map(|w| w[1] - w[0]));
        }
        delays.sort_unstable();
        gaps.sort_unstable();
        let (skipped,): (i64,) = sqlx::query_as("select coalesce(sum(skipped_bars), 0) from bots")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("skipped: {e}"))?;
        if w == 1 {
            continue;
        }
        waves.push(Wave {
            logins: pool.stats().logins.load(Ordering::SeqCst) - logins_before,
            missing: (total - rows.len() as i64).max(0) as u64,
            delays_ms: delays,
            pass_gaps_ms: gaps,
            skipped,
            refused: refused.load(Ordering::SeqCst) - refused_before,
            interactive: sent.load(Ordering::SeqCst) - sent_before,
            slow_consumers: metric(&client, &base, "mt5b_stream_slow_consumer_total").await,
            seconds,
        });
    }
    stop.store(true, Ordering::SeqCst);
    let _ = load.await;
    for s in streams {
        s.abort();
    }
    Ok(waves)
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
    println!("# bench_bots");
    println!("machine: {}", machine());
    println!(
        "terminals: {}, logins: {} ms, waves: {}, interactive: {}/s, streams: {}",
        args.terminals, args.login_latency_ms, args.waves, args.interactive_rate, args.streams
    );
    for scenario in &args.scenarios {
        let Some((u, b)) = scenario.split_once('x') else {
            eprintln!("scenario {scenario}: USERSxBOTS");
            return ExitCode::FAILURE;
        };
        let (Ok(users), Ok(bots)) = (u.parse::<usize>(), b.parse::<usize>()) else {
            eprintln!("scenario {scenario}: USERSxBOTS");
            return ExitCode::FAILURE;
        };
        for policy in &args.policies {
            let waves = match rt.block_on(run_once(&args, users, bots, policy)) {
                Ok(w) => w,
                Err(e) => {
                    eprintln!("{scenario} {policy}: {e}");
                    return ExitCode::FAILURE;
                }
            };
            println!();
            println!(
                "## {users} users x 1 account x {bots} M1 bots, POOL_POLICY={policy}, {} terminals",
                args.terminals
            );
            println!("| wave | logins | interactive requests | delay p50 ms | p99 ms | max ms | pass ms (p50) | B ms | p99/B | missing | skipped (total) | 429/503 | slow consumers | wave s |");
            println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            for (i, w) in waves.iter().enumerate() {
                let p = |q: f64| percentile(&w.delays_ms, q).unwrap_or(-1);
                let pass = percentile(&w.pass_gaps_ms, 0.5).unwrap_or(0);
                let rounds = users.div_ceil(args.terminals) as i64;
                let bound = rounds * (args.login_latency_ms as i64 + 500) + bots as i64 * pass;
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {:.1} |",
                    i + 1,
                    w.logins,
                    w.interactive,
                    p(0.5),
                    p(0.99),
                    w.delays_ms.last().copied().unwrap_or(-1),
                    pass,
                    bound,
                    p(0.99) as f64 / bound.max(1) as f64,
                    w.missing,
                    w.skipped,
                    w.refused,
                    w.slow_consumers,
                    w.seconds
                );
            }
        }
    }
    ExitCode::SUCCESS
}
