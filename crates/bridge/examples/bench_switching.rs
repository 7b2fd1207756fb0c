//! The switching benchmark: the terminal pool against the naive design (one terminal, a login per
//! request) under an open-loop workload of many users on few terminals.
//!
//! Each (terminals, policy) run starts the real service in-process on port 0, with a fresh SQLite
//! database in a temporary directory and an in-memory simulated broker whose logins take
//! `--login-latency-ms`. The users' accounts are connected before the measured window, then one
//! precomputed arrival schedule (the same for every run) is fired at its times whatever the service
//! answers: users drawn by Zipf popularity (user k with weight 1/k^s, `--zipf-s`, or uniformly with
//! `--uniform`), 45 % `GET /account`, 45 %
//! `GET /positions`, 10 % market orders. Latency counts from the scheduled arrival, so a slow service
//! cannot hide its queue. After the window the broker's audit trail is checked: every order answered
//! with a ticket ran under the login of the account that sent it.
//!
//! Run: `cargo run --release -p mt5-bridge --example bench_switching` (see docs/BENCHMARKS.md).

#[path = "support/mod.rs"]
mod support;
use support::{machine, percentile};

use clap::Parser;
use mt5::{AccountKey, AccountMarginMode, AccountTradeMode};
use mt5_bridge::app::{Application, Overrides};
use mt5_bridge::config::{Cli, Command, ServeSettings};
use mt5_bridge::pool::TerminalPool;
use mt5_sim::config::{AccountSpec, FaultConfig, SimConfig, StateLocation, SIM_COMPANY};
use mt5_sim::state::AuditRecord;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

const SERVER: &str = "Sim-Bench";
const FIRST_LOGIN: u64 = 40001;

#[derive(Debug, Parser)]
#[command(
    name = "bench_switching",
    about = "Terminal pool vs naive switching, open loop"
)]
struct Args {
    /// Length of the measured window of each run, in seconds.
    #[arg(long, default_value_t = 120.0)]
    seconds: f64,
    /// Arrivals per second, all users together.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Terminal counts to run, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    terminals: Vec<usize>,
    /// Policies to run, comma-separated: `naive`, `pool`, `adaptive`.
    #[arg(long, value_delimiter = ',', default_value = "naive,pool,adaptive")]
    policies: Vec<String>,
    /// Seed of the arrival schedule.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Users, one account each.
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// How long a simulated login takes, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    login_latency_ms: u64,
    /// The pool's residency window (`POOL_RESIDENCY_MS`); the service's default when not given.
    #[arg(long)]
    residency_ms: Option<u64>,
    /// The popularity exponent: user k is drawn with weight 1/k^s.
    #[arg(long, default_value_t = 1.0)]
    zipf_s: f64,
    /// Every user equally popular (the same as `--zipf-s 0`).
    #[arg(long)]
    uniform: bool,
}

impl Args {
    fn exponent(&self) -> f64 {
        if self.uniform {
            0.0
        } else {
            self.zipf_s
        }
    }

    fn popularity(&self) -> String {
        if self.exponent() == 0.0 {
            "uniform".to_string()
        } else {
            format!("Zipf s = {}", self.exponent())
        }
    }

    /// Users in the top tenth of popularity (ranks below this), at least one.
    fn top_tenth(&self) -> usize {
        self.users.div_ceil(10).max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Account,
    Positions,
    Order,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Account => "GET /account",
            Kind::Positions => "GET /positions",
            Kind::Order => "POST /orders",
        }
    }

    fn is_read(self) -> bool {
        self != Kind::Order
    }
}

#[derive(Debug, Clone, Copy)]
struct Arrival {
    /// Offset from the start of the window.
    at: Duration,
    /// 0-based popularity rank: user 0 is the most popular.
    user: usize,
    kind: Kind,
}

/// Poisson arrivals at `rate`/s over `seconds`, users by Zipf 1/k^s, kinds 45/45/10.
fn schedule(args: &Args) -> Vec<Arrival> {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let s = args.exponent();
    let weights: Vec<f64> = (1..=args.users).map(|k| (k as f64).powf(-s)).collect();
    let total: f64 = weights.iter().sum();
    let mut out = Vec::new();
    let mut t = 0.0f64;
    loop {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u: f64 = rng.gen();
        t += -(1.0 - u).ln() / args.rate;
        if t >= args.seconds {
            return out;
        }
        let mut pick = rng.gen::<f64>() * total;
        let mut user = args.users - 1;
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                user = i;
                break;
            }
            pick -= w;
        }
        let k: f64 = rng.gen();
        let kind = if k < 0.45 {
            Kind::Account
        } else if k < 0.90 {
            Kind::Positions
        } else {
            Kind::Order
        };
        out.push(Arrival {
            at: Duration::from_secs_f64(t),
            user,
            kind,
        });
    }
}

/// The fewest logins any schedule serving `seq` in order on `slots` terminals needs: Belady's
/// furthest-in-future eviction, starting with `initial` held.
fn belady_misses(seq: &[usize], slots: usize, initial: &[usize]) -> u64 {
    if slots == 0 {
        return seq.len() as u64;
    }
    let mut next_use = vec![usize::MAX; seq.len()];
    let mut first_use: HashMap<usize, usize> = HashMap::new();
    for i in (0..seq.len()).rev() {
        if let Some(&j) = first_use.get(&seq[i]) {
            next_use[i] = j;
        }
        first_use.insert(seq[i], i);
    }
    // (account, index of its next use)
    let mut held: Vec<(usize, usize)> = Vec::new();
    for &a in initial.iter().take(slots) {
        if !held.iter().any(|h| h.0 == a) {
            held.push((a, first_use.get(&a).copied().unwrap_or(usize::MAX)));
        }
    }
    let mut misses = 0;
    for (i, &a) in seq.iter().enumerate() {
        if let Some(h) = held.iter_mut().find(|h| h.0 == a) {
            h.1 = next_use[i];
            continue;
        }
        misses += 1;
        if held.len() < slots {
            held.push((a, next_use[i]));
        } else if let Some(victim) = held.iter_mut().max_by_key(|h| h.1) {
            *victim = (a, next_use[i]);
        }
    }
    misses
}

fn bench_accounts(users: usize) -> Vec<AccountSpec> {
    (0..users as u64)
        .map(|i| AccountSpec {
            login: FIRST_LOGIN + i,
            password: SecretString::from(format!("Bench-{}!", FIRST_LOGIN + i)),
            investor_password: None,
            server: SERVER.to_string(),
            name: format!("Bench user {}", i + 1),
            balance: 100_000.0,
            currency: "USD".to_string(),
            leverage: 100,
            margin_mode: AccountMarginMode::RetailHedging,
            trade_mode: AccountTradeMode::Demo,
            company: SIM_COMPANY.to_string(),
            limit_orders: 0,
            limit_positions: 0,
            margin_so_call: 50.0,
            margin_so_so: 30.0,
            trade_allowed: true,
        })
        .collect()
}

/// Settings as `mt5-bridge serve` would parse them, so new flags keep their defaults here too.
fn settings(
    dir: &Path,
    terminals: usize,
    policy: &str,
    residency_ms: Option<u64>,
    jwt_secret: &SecretString,
) -> Result<ServeSettings, String> {
    let db = format!("sqlite://{}?mode=rwc", dir.join("bridge.db").display());
    let mut argv: Vec<String> = [
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
        &format!("sim:{terminals}"),
        "--pool-policy",
        policy,
        // Nothing may time out or be refused inside the window: the backlog is what we measure.
        "--terminal-timeout-ms",
        "600000",
        "--pool-queue-limit",
        "1000000",
        "--pool-queue-limit-per-user",
        "1000000",
        "--switch-limit-per-hour",
        "1000000",
        "--trade-limit-per-hour",
        "1000000",
        "--connect-fail-limit",
        "1000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(ms) = residency_ms {
        argv.extend(["--pool-residency-ms".to_string(), ms.to_string()]);
    }
    let cli = Cli::try_parse_from(argv).map_err(|e| format!("serve flags: {e}"))?;
    let Command::Serve(args) = cli.command else {
        return Err("serve flags did not parse as `serve`".into());
    };
    let key = mt5_bridge::vault::CredentialKey::generate("bench1").to_base64();
    let secret = jwt_secret.expose_secret().to_string();
    let lookup = move |name: &str| match name {
        "JWT_SECRET" => Some(secret.clone()),
        "CREDENTIALS_KEY" => Some(key.expose_secret().to_string()),
        "CREDENTIALS_KEY_ID" => Some("bench1".to_string()),
        _ => None,
    };
    ServeSettings::load(&args, &lookup).map_err(|e| e.to_string())
}

/// A completed read of an account logged in at arrival.
struct WarmRead {
    index: usize,
    latency: Duration,
    lateness: Duration,
    /// The account logged in again between the arrival and the answer: the terminal had left it.
    relogin: bool,
    /// When the broker ran operations of this kind for this account in that span, in ms after
    /// the arrival (the audit's clock has millisecond resolution).
    ops_at_ms: Vec<i64>,
    /// Operations the terminal ran on the login current at the arrival, before its next login.
    turn_ops: Option<usize>,
}

/// One finished request.
struct Done {
    index: usize,
    status: u16,
    finished: Instant,
    ticket: Option<u64>,
}

/// What one (terminals, policy) run measured.
struct RunResult {
    terminals: usize,
    policy: String,
    /// The pool's residency window in this run.
    residency: Duration,
    max_batch: u32,
    max_turn: Duration,
    /// Logins in the window, and those whose turn served `max_batch` operations.
    turns: usize,
    turns_full: usize,
    seconds: f64,
    arrivals: usize,
    /// Latency of each arrival that completed (2xx) within the window.
    latency: Vec<Option<Duration>>,
    /// How late the load generator fired each request after its scheduled arrival.
    lateness: Vec<Duration>,
    logged_in_at_arrival: Vec<bool>,
    /// Completed logged-in reads, with what the broker's audit shows of them.
    warm_reads: Vec<WarmRead>,
    residency_holds: u64,
    residency_hits: u64,
    kept_holds: u64,
    /// Terminals kept, sampled every 20th arrival.
    kept_samples: Vec<usize>,
    non_2xx: usize,
    logins: u64,
    initial_held: usize,
    belady: u64,
    /// Terminals not logging in on average over the window (T less logins × login time / window),
    /// and Belady's bound on that many slots: a terminal that is logging in holds no account.
    free_slots: usize,
    belady_free: u64,
    orders_checked: usize,
    cross_account: usize,
    orders_without_audit: usize,
    unmatched_order_sends: usize,
    guard_mismatches: u64,
}

fn ms(d: Option<Duration>) -> String {
    match d {
        Some(d) => format!("{:.1}", d.as_secs_f64() * 1000.0),
        None => "–".to_string(),
    }
}

struct Cell {
    arrivals: usize,
    completed: usize,
    p50: Option<Duration>,
    p99: Option<Duration>,
}

impl RunResult {
    fn cell(&self, arrivals: &[Arrival], select: impl Fn(usize, &Arrival) -> bool) -> Cell {
        let mut n = 0;
        let mut done: Vec<Duration> = Vec::new();
        for (i, a) in arrivals.iter().enumerate() {
            if select(i, a) {
                n += 1;
                if let Some(d) = self.latency[i] {
                    done.push(d);
                }
            }
        }
        done.sort();
        Cell {
            arrivals: n,
            completed: done.len(),
            p50: percentile(&done, 0.50),
            p99: percentile(&done, 0.99),
        }
    }

    fn completed(&self) -> usize {
        self.latency.iter().filter(|l| l.is_some()).count()
    }

    fn throughput(&self) -> f64 {
        self.completed() as f64 / self.seconds
    }

    fn per_1000(&self, n: u64) -> f64 {
        n as f64 * 1000.0 / self.arrivals.max(1) as f64
    }

    fn warm_read(&self, arrivals: &[Arrival]) -> Cell {
        self.cell(arrivals, |i, a| {
            a.kind.is_read() && self.logged_in_at_arrival[i]
        })
    }

    fn markdown(&self, arrivals: &[Arrival]) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### T = {}, policy `{}`{}\n",
            self.terminals,
            self.policy,
            self.residency_label()
        );
        let _ = writeln!(
            s,
            "| requests | arrived | completed | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|"
        );
        let rows: Vec<(String, Cell)> = vec![
            (
                Kind::Account.label().into(),
                self.cell(arrivals, |_, a| a.kind == Kind::Account),
            ),
            (
                Kind::Positions.label().into(),
                self.cell(arrivals, |_, a| a.kind == Kind::Positions),
            ),
            (
                Kind::Order.label().into(),
                self.cell(arrivals, |_, a| a.kind == Kind::Order),
            ),
            (
                "reads, account logged in at arrival".into(),
                self.warm_read(arrivals),
            ),
            (
                "reads, account not logged in at arrival".into(),
                self.cell(arrivals, |i, a| {
                    a.kind.is_read() && !self.logged_in_at_arrival[i]
                }),
            ),
            ("all".into(), self.cell(arrivals, |_, _| true)),
        ];
        for (label, c) in rows {
            let _ = writeln!(
                s,
                "| {label} | {} | {} | {} | {} |",
                c.arrivals,
                c.completed,
                ms(c.p50),
                ms(c.p99)
            );
        }
        let completed = self.completed();
        let _ = writeln!(
            s,
            "\nCompleted {completed} of {} arrivals in {:.0} s: **{:.2} requests/s**. \
             Logins in the window: {} = **{:.1} per 1000 arrivals** ({:.1} per 1000 completed); \
             Belady bound on {} terminals: {} = **{:.1} per 1000 arrivals** (initial slots: the {} \
             account(s) logged in when the window opened). Non-2xx answers: {}. Unfinished at the \
             end of the window: {}. Cross-account executions: **{}** ({} orders checked against the \
             broker's audit, {} without an audit record, {} audited sends still in flight at the end, \
             guard mismatches {}).\n",
            self.arrivals,
            self.seconds,
            self.throughput(),
            self.logins,
            self.per_1000(self.logins),
            self.logins as f64 * 1000.0 / completed.max(1) as f64,
            self.terminals,
            self.belady,
            self.per_1000(self.belady),
            self.initial_held,
            self.non_2xx,
            self.arrivals - completed - self.non_2xx,
            self.cross_account,
            self.orders_checked,
            self.orders_without_audit,
            self.unmatched_order_sends,
            self.guard_mismatches,
        );
        let mut late = self.lateness.clone();
        late.sort();
        let _ = writeln!(
            s,
            "Load generator: requests fired p50 {} ms, p99 {} ms, max {} ms after their scheduled \
             arrival (included in every latency above).",
            ms(percentile(&late, 0.50)),
            ms(percentile(&late, 0.99)),
            ms(late.last().copied()),
        );
        if self.policy != "naive" {
            let _ = writeln!(
                s,
                "Residency: {} times an idle terminal was kept from a waiting account; {} requests \
                 served by a terminal while it was kept. Logins that served `max_batch` ({}) \
                 operations, so that their turn ended by the count: {} of {}.",
                self.residency_holds, self.residency_hits, self.max_batch, self.turns_full, self.turns
            );
        }
        if self.policy == "adaptive" {
            let _ = writeln!(
                s,
                "Keeping: {} times a waiting account found only kept terminals idle; terminals kept \
                 {:.1} on average (sampled at every 20th arrival), at most {}.",
                self.kept_holds,
                self.kept_samples.iter().sum::<usize>() as f64
                    / self.kept_samples.len().max(1) as f64,
                self.kept_samples.iter().max().copied().unwrap_or(0),
            );
        }
        let warm = self.warm_read(arrivals);
        let slow: Vec<&WarmRead> = self
            .warm_reads
            .iter()
            .filter(|r| r.latency >= Duration::from_millis(50))
            .collect();
        let relogin = slow.iter().filter(|r| r.relogin).count();
        let _ = writeln!(
            s,
            "Logged-in reads answered in 50 ms or more: {} of {} completed ({} of them after their \
             account logged in again, i.e. the terminal had left it before the request reached \
             the pool).",
            slow.len(),
            warm.completed,
            relogin
        );
        for r in slow {
            let a = &arrivals[r.index];
            let _ = writeln!(
                s,
                "- arrival {} at {:.3} s, user {}, {}: {} ms (fired {} ms late){}; the broker ran \
                 {} for this account at {:?} ms after the arrival; the login current at the \
                 arrival served {} operations (`max_batch` {})",
                r.index,
                a.at.as_secs_f64(),
                a.user + 1,
                a.kind.label(),
                ms(Some(r.latency)),
                ms(Some(r.lateness)),
                if r.relogin { ", after a new login" } else { "" },
                a.kind.label(),
                r.ops_at_ms,
                r.turn_ops.map_or("?".to_string(), |n| n.to_string()),
                self.max_batch,
            );
        }
        s.push('\n');
        s
    }

    fn residency_label(&self) -> String {
        if self.policy != "naive" {
            format!(", residency {} ms", self.residency.as_millis())
        } else {
            String::new()
        }
    }
}

/// The order ticket in an order response.
fn ticket_of(body: &Value) -> Option<u64> {
    body.get("order")
        .or_else(|| body.pointer("/result/order"))
        .and_then(Value::as_u64)
        .filter(|t| *t != 0)
}

struct User {
    account_id: String,
    token: String,
    key: AccountKey,
}

async fn connect_all(
    client: &reqwest::Client,
    base: &str,
    accounts: &[AccountSpec],
    jwt_secret: &SecretString,
) -> Result<Vec<User>, String> {
    let mut tasks = Vec::new();
    for spec in accounts {
        let user = Uuid::new_v4();
        let token = mt5_bridge::auth::mint_token(
            jwt_secret,
            user,
            Some("bench@example.com"),
            Duration::from_secs(6 * 3600),
            "authenticated",
            None,
        )
        .map_err(|e| format!("token: {e}"))?;
        let body = json!({
            "account_name": spec.name,
            "login": spec.login.to_string(),
            "password": spec.password.expose_secret(),
            "server": spec.server,
        });
        let req = client
            .post(format!("{base}/api/v1/accounts/connect"))
            .bearer_auth(&token)
            .json(&body);
        let key = spec.key();
        tasks.push(tokio::spawn(async move {
            let resp = req
                .send()
                .await
                .map_err(|e| format!("connect {}: {e}", key.login))?;
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            match v.get("account_id").and_then(Value::as_str) {
                Some(id) if status == 201 => Ok(User {
                    account_id: id.to_string(),
                    token,
                    key,
                }),
                _ => Err(format!(
                    "connect {} answered {status}: {}",
                    key.login,
                    v.get("error").cloned().unwrap_or(Value::Null)
                )),
            }
        }));
    }
    let mut users = Vec::new();
    for t in tasks {
        users.push(t.await.map_err(|e| format!("connect task: {e}"))??);
    }
    Ok(users)
}

/// Checks every answered order against the broker's audit trail.
struct AuditCheck {
    checked: usize,
    cross_account: usize,
    missing: usize,
    unmatched: usize,
}

fn check_audit(
    audit: &[AuditRecord],
    orders: &[(u64, AccountKey)],
    window_start_ms: i64,
) -> AuditCheck {
    let sends: HashMap<u64, &AuditRecord> = audit
        .iter()
        .filter(|r| r.operation == "order_send" && r.order != 0)
        .map(|r| (r.order, r))
        .collect();
    let mut check = AuditCheck {
        checked: 0,
        cross_account: 0,
        missing: 0,
        unmatched: 0,
    };
    for (ticket, key) in orders {
        match sends.get(ticket) {
            Some(r) => {
                check.checked += 1;
                if r.login != key.login || r.server != key.server {
                    check.cross_account += 1;
                }
            }
            None => check.missing += 1,
        }
    }
    let answered: std::collections::HashSet<u64> = orders.iter().map(|(t, _)| *t).collect();
    check.unmatched = sends
        .values()
        .filter(|r| r.utc_ms >= window_start_ms && !answered.contains(&r.order))
        .count();
    check
}

/// What the broker's audit shows of a logged-in read that took `latency`: whether its account
/// logged in again before the answer, and when operations of its kind for its account ran.
fn slow_read(
    audit: &[AuditRecord],
    key: &AccountKey,
    kind: Kind,
    arrival_utc_ms: i64,
    latency: Duration,
) -> (bool, Vec<i64>, Option<usize>) {
    let end = arrival_utc_ms + latency.as_millis() as i64 + 1;
    let operation = match kind {
        Kind::Account => "account_info",
        Kind::Positions => "positions",
        Kind::Order => "order_send",
    };
    let mine = |r: &&AuditRecord| {
        // The two clocks are read a moment apart and truncated to milliseconds.
        r.login == key.login
            && r.server == key.server
            && (arrival_utc_ms - 1..=end).contains(&r.utc_ms)
    };
    // A login recorded in the arrival's own millisecond may be the one that made it logged in.
    let relogin = audit
        .iter()
        .filter(mine)
        .any(|r| r.operation == "login" && r.utc_ms > arrival_utc_ms);
    let ops = audit
        .iter()
        .filter(mine)
        .filter(|r| r.operation == operation)
        .map(|r| r.utc_ms - arrival_utc_ms)
        .collect();
    // The login the account was on at the arrival, and how many operations its terminal ran on
    // it before logging in to anything else (the audit is in execution order).
    let turn_ops = audit
        .iter()
        .rposition(|r| {
            r.operation == "login"
                && r.login == key.login
                && r.server == key.server
                && r.utc_ms <= arrival_utc_ms
        })
        .and_then(|i| {
            let terminal = &audit[i].terminal_id;
            let rest = audit.get(i + 1..)?;
            Some(
                rest.iter()
                    .filter(|r| &r.terminal_id == terminal)
                    .take_while(|r| r.operation != "login")
                    .count(),
            )
        });
    (relogin, ops, turn_ops)
}

/// Logins in the window, and how many of them served `max_batch` operations or more before the
/// terminal logged in again (turns that the operation count ended).
fn turns_at_max_batch(
    audit: &[AuditRecord],
    window_start_ms: i64,
    max_batch: u32,
) -> (usize, usize) {
    let mut ops: HashMap<&str, Option<usize>> = HashMap::new();
    let mut turns = 0;
    let mut full = 0;
    let mut close = |n: Option<usize>| {
        if n.is_some_and(|n| n >= max_batch as usize) {
            full += 1;
        }
    };
    for r in audit {
        let current = ops.entry(r.terminal_id.as_str()).or_default();
        if r.operation == "login" {
            close(current.take());
            if r.utc_ms >= window_start_ms {
                turns += 1;
                *current = Some(0);
            }
        } else if let Some(n) = current {
            *n += 1;
        }
    }
    for n in ops.into_values() {
        close(n);
    }
    (turns, full)
}

fn now_utc_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn run_once(
    args: &Args,
    arrivals: &[Arrival],
    terminals: usize,
    policy: &str,
    dir: &Path,
) -> Result<RunResult, String> {
    let mut secret_bytes = [0u8; 32];
    rand::rngs::OsRng.fill(&mut secret_bytes);
    let jwt_secret = SecretString::from(
        secret_bytes
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>(),
    );
    let accounts = bench_accounts(args.users);
    let sim = SimConfig {
        accounts: accounts.clone(),
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
    let (broker, _feed) = mt5_sim::broker::open_from_config(&sim)
        .await
        .map_err(|e| format!("sim broker: {e}"))?;
    let settings = settings(dir, terminals, policy, args.residency_ms, &jwt_secret)?;
    let (residency, max_batch, max_turn) = (
        settings.pool.residency,
        settings.pool.max_batch,
        settings.pool.max_turn,
    );
    let app = Application::build(
        settings,
        Overrides {
            sim: Some(sim),
            broker: Some(broker.clone()),
            clock: None,
        },
    )
    .await
    .map_err(|e| format!("application: {e}"))?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool: Arc<TerminalPool> = app.state().pool.clone();
    tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("http client: {e}"))?;

    eprintln!(
        "  connecting {} accounts (logins of {} ms)...",
        accounts.len(),
        args.login_latency_ms
    );
    let users = Arc::new(connect_all(&client, &base, &accounts, &jwt_secret).await?);
    let index_of: HashMap<AccountKey, usize> = users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.key.clone(), i))
        .collect();
    let held: Vec<usize> = pool
        .logged_in_accounts()
        .into_iter()
        .flatten()
        .filter_map(|k| index_of.get(&k.account).copied())
        .collect();
    let logins_before = pool.logins();
    let stat = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let guard_before = stat(&pool.stats().guard_mismatches);
    let holds_before = stat(&pool.stats().residency_holds);
    let hits_before = stat(&pool.stats().residency_hits);
    let kept_before = stat(&pool.stats().kept_holds);

    eprintln!("  window of {:.0} s...", args.seconds);
    let (tx, mut rx) = mpsc::unbounded_channel::<Done>();
    let window_start_ms = now_utc_ms();
    let t0 = tokio::time::Instant::now();
    let deadline = t0 + Duration::from_secs_f64(args.seconds);
    let mut logged_in_at_arrival = vec![false; arrivals.len()];
    let mut lateness = vec![Duration::ZERO; arrivals.len()];
    let mut kept_samples: Vec<usize> = Vec::new();
    let mut handles = Vec::with_capacity(arrivals.len());
    for (index, a) in arrivals.iter().enumerate() {
        tokio::time::sleep_until(t0 + a.at).await;
        lateness[index] = tokio::time::Instant::now().saturating_duration_since(t0 + a.at);
        let user = users.get(a.user).ok_or("arrival names an unknown user")?;
        logged_in_at_arrival[index] = pool.is_account_logged_in(&user.key);
        if index % 20 == 0 {
            kept_samples.push(pool.terminals_kept());
        }
        let rb = match a.kind {
            Kind::Account => client.get(format!("{base}/api/v1/account")),
            Kind::Positions => client.get(format!("{base}/api/v1/positions")),
            Kind::Order => client
                .post(format!("{base}/api/v1/orders"))
                .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01})),
        }
        .bearer_auth(&user.token)
        .header("X-Account-Id", &user.account_id);
        let tx = tx.clone();
        handles.push(tokio::spawn(async move {
            let (status, ticket) = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    (status, ticket_of(&body))
                }
                Err(_) => (0, None),
            };
            let _ = tx.send(Done {
                index,
                status,
                finished: Instant::now(),
                ticket,
            });
        }));
    }
    tokio::time::sleep_until(deadline).await;
    let logins = pool.logins().saturating_sub(logins_before);
    // A request that finished just before the deadline may still be sending its report.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for h in &handles {
        h.abort();
    }
    drop(tx);
    let deadline_std = deadline.into_std();
    let t0_std = t0.into_std();
    let mut latency = vec![None; arrivals.len()];
    let mut non_2xx = 0;
    let mut orders: Vec<(u64, AccountKey)> = Vec::new();
    while let Ok(d) = rx.try_recv() {
        if d.finished > deadline_std {
            continue;
        }
        let Some(a) = arrivals.get(d.index) else {
            continue;
        };
        if (200..300).contains(&d.status) {
            latency[d.index] = Some(d.finished.saturating_duration_since(t0_std + a.at));
            if let (Some(t), Some(u)) = (d.ticket, users.get(a.user)) {
                orders.push((t, u.key.clone()));
            }
        } else {
            non_2xx += 1;
        }
    }
    let records = broker.audit().await.map_err(|e| format!("audit: {e}"))?;
    let audit = check_audit(&records, &orders, window_start_ms);
    let guard_mismatches = stat(&pool.stats().guard_mismatches).saturating_sub(guard_before);
    let residency_holds = stat(&pool.stats().residency_holds).saturating_sub(holds_before);
    let residency_hits = stat(&pool.stats().residency_hits).saturating_sub(hits_before);
    let kept_holds = stat(&pool.stats().kept_holds).saturating_sub(kept_before);
    let (turns, turns_full) = turns_at_max_batch(&records, window_start_ms, max_batch);
    let mut warm_reads = Vec::new();
    for (index, a) in arrivals.iter().enumerate() {
        let (Some(latency), true, true) = (
            latency[index],
            a.kind.is_read(),
            logged_in_at_arrival[index],
        ) else {
            continue;
        };
        let Some(u) = users.get(a.user) else {
            continue;
        };
        let arrival_ms = window_start_ms + a.at.as_millis() as i64;
        let (relogin, ops_at_ms, turn_ops) =
            slow_read(&records, &u.key, a.kind, arrival_ms, latency);
        warm_reads.push(WarmRead {
            index,
            latency,
            lateness: lateness[index],
            relogin,
            ops_at_ms,
            turn_ops,
        });
    }
    let seq: Vec<usize> = arrivals.iter().map(|a| a.user).collect();
    let logging_in = logins as f64 * args.login_latency_ms as f64 / 1000.0 / args.seconds;
    let free_slots = terminals.saturating_sub(logging_in.round() as usize);
    Ok(RunResult {
        free_slots,
        belady_free: belady_misses(&seq, free_slots, &held),
        terminals,
        policy: policy.to_string(),
        seconds: args.seconds,
        arrivals: arrivals.len(),
        residency,
        max_batch,
        max_turn,
        turns,
        turns_full,
        latency,
        lateness,
        logged_in_at_arrival,
        warm_reads,
        residency_holds,
        residency_hits,
        kept_holds,
        kept_samples,
        non_2xx,
        logins,
        initial_held: held.len(),
        belady: belady_misses(&seq, terminals, &held),
        orders_checked: audit.checked,
        cross_account: audit.cross_account,
        orders_without_audit: audit.missing,
        unmatched_order_sends: audit.unmatched,
        guard_mismatches,
    })
}

/// One row per run of the scale table in docs/BENCHMARKS.md.
fn scale_rows(args: &Args, results: &[RunResult], arrivals: &[Arrival]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| users / T | rate | popularity | policy | completed/s | logins /1000 | Belady /1000 | \
         ratio | Belady on slots not logging in /1000 | reads logged in at arrival | their p99 ms | all p50 ms | all p99 ms | outside top \
         tenth p50 ms | p99 ms | longest ms | wait bound ms | cross-account |\n\
         |---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let top = args.top_tenth();
    for r in results {
        let reads = arrivals.iter().filter(|a| a.kind.is_read()).count();
        let warm = r.warm_read(arrivals);
        let all = r.cell(arrivals, |_, _| true);
        let cold = r.cell(arrivals, |_, a| a.user >= top);
        let longest = r.latency.iter().flatten().max().copied();
        // docs/deploy.md: ⌈(n + 1) / R⌉ × (login + turn) with every other user waiting (n =
        // users − 1) and R the fewest terminals in rotation (all under `pool`, a quarter under
        // `adaptive`); `naive` has no bound.
        let rotating = match r.policy.as_str() {
            "adaptive" => r.terminals.div_ceil(4).max(1),
            _ => r.terminals,
        };
        let bound = (r.policy != "naive").then(|| {
            (Duration::from_millis(args.login_latency_ms) + r.max_turn)
                * args.users.div_ceil(rotating) as u32
        });
        let _ = writeln!(
            s,
            "| {} / {} | {}/s | {} | {} | {:.2} | {:.1} | {:.1} | {:.2} | {:.1} ({} slots) | \
             {:.1} % ({} of {}) | {} | \
             {} | {} | {} | {} | {} | {} | {} |",
            args.users,
            r.terminals,
            args.rate,
            args.popularity(),
            r.policy,
            r.throughput(),
            r.per_1000(r.logins),
            r.per_1000(r.belady),
            r.logins as f64 / r.belady.max(1) as f64,
            r.per_1000(r.belady_free),
            r.free_slots,
            warm.arrivals as f64 * 100.0 / reads.max(1) as f64,
            warm.arrivals,
            reads,
            ms(warm.p99),
            ms(all.p50),
            ms(all.p99),
            ms(cold.p50),
            ms(cold.p99),
            ms(longest),
            ms(bound),
            r.cross_account,
        );
    }
    s
}

fn summary(results: &[RunResult], arrivals: &[Arrival]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| T | policy | residency ms | completed/s | read p50 ms | read p99 ms | logged-in read p50 ms | \
         logged-in read p99 ms | order p50 ms | order p99 ms | logins /1000 | Belady bound /1000 | \
         cross-account |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let reads = r.cell(arrivals, |_, a| a.kind.is_read());
        let warm = r.warm_read(arrivals);
        let orders = r.cell(arrivals, |_, a| a.kind == Kind::Order);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} |",
            r.terminals,
            r.policy,
            if r.policy != "naive" {
                r.residency.as_millis().to_string()
            } else {
                "–".to_string()
            },
            r.throughput(),
            ms(reads.p50),
            ms(reads.p99),
            ms(warm.p50),
            ms(warm.p99),
            ms(orders.p50),
            ms(orders.p99),
            r.per_1000(r.logins),
            r.per_1000(r.belady),
            r.cross_account,
        );
    }
    let find = |p: &str| results.iter().find(|r| r.terminals == 2 && r.policy == p);
    for name in ["pool", "adaptive"] {
        let (Some(pool), Some(naive)) = (find(name), find("naive")) else {
            continue;
        };
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        let ratio = pool.throughput() / naive.throughput().max(f64::MIN_POSITIVE);
        let warm = pool.warm_read(arrivals).p99;
        let cross: usize = results.iter().map(|r| r.cross_account).sum();
        let _ = writeln!(s, "\nTargets at T = 2, policy `{name}`:\n");
        let _ = writeln!(
            s,
            "- throughput of the pool ≥ 10 × naive: {:.2} / {:.2} = {ratio:.1} × — {}",
            pool.throughput(),
            naive.throughput(),
            verdict(ratio >= 10.0)
        );
        let _ = writeln!(
            s,
            "- pool logins ≤ Belady bound: {} ≤ {} — {}",
            pool.logins,
            pool.belady,
            verdict(pool.logins <= pool.belady)
        );
        let _ = writeln!(
            s,
            "- p99 of reads of an account logged in at arrival < 50 ms: {} ms — {}",
            ms(warm),
            verdict(warm.is_some_and(|d| d < Duration::from_millis(50)))
        );
        let _ = writeln!(
            s,
            "- zero cross-account executions (all runs): {cross} — {}",
            verdict(cross == 0)
        );
    }
    s
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(args.seconds > 0.0 && args.rate > 0.0 && args.users > 0) {
        eprintln!("--seconds, --rate and --users must be positive");
        return ExitCode::FAILURE;
    }
    if let Some(p) = args
        .policies
        .iter()
        .find(|p| p.parse::<mt5_bridge::pool::Policy>().is_err())
    {
        eprintln!("unknown policy {p:?}: expected naive, pool or adaptive");
        return ExitCode::FAILURE;
    }
    if !(args.zipf_s >= 0.0 && args.zipf_s.is_finite()) {
        eprintln!("--zipf-s must be a finite number, 0 or more");
        return ExitCode::FAILURE;
    }
    if args.terminals.contains(&0) {
        eprintln!("--terminals must be positive");
        return ExitCode::FAILURE;
    }
    let arrivals = schedule(&args);
    let command = format!(
        "cargo run --release -p mt5-bridge --example bench_switching -- --seconds {} --rate {} \
         --terminals {} --policies {} --seed {} --users {} --login-latency-ms {}{}",
        args.seconds,
        args.rate,
        args.terminals
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(","),
        args.policies.join(","),
        args.seed,
        args.users,
        args.login_latency_ms,
        if args.uniform {
            " --uniform".to_string()
        } else {
            format!(" --zipf-s {}", args.zipf_s)
        }
    ) + &args
        .residency_ms
        .map(|ms| format!(" --residency-ms {ms}"))
        .unwrap_or_default();
    let mut report = String::new();
    let _ = writeln!(report, "## Switching benchmark\n");
    let _ = writeln!(
        report,
        "- Date: {}",
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    let _ = writeln!(report, "- Machine: {}", machine());
    let _ = writeln!(report, "- Command: `{command}`");
    let _ = writeln!(
        report,
        "- Workload: {} users with one account each, {} arrivals (Poisson, {}/s, seed {}), users \
         by {} popularity, 45 % GET /account, 45 % GET /positions, 10 % market orders; logins take \
         {} ms; window {} s per run.\n",
        args.users,
        arrivals.len(),
        args.rate,
        args.seed,
        args.popularity(),
        args.login_latency_ms,
        args.seconds
    );
    println!("{report}");

    let mut results = Vec::new();
    for &t in &args.terminals {
        for policy in &args.policies {
            eprintln!("run: T = {t}, policy {policy}");
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("temp dir: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // A runtime per run: dropping it ends everything the run left behind (the backlog of
            // requests still queued in the service), so runs do not disturb each other.
            let rt = match support::runtime() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            };
            let outcome = rt.block_on(run_once(&args, &arrivals, t, policy, dir.path()));
            rt.shutdown_timeout(Duration::from_secs(5));
            drop(dir);
            match outcome {
                Ok(r) => {
                    // Every logged-in read on stderr, for looking into the tail.
                    for w in &r.warm_reads {
                        let a = &arrivals[w.index];
                        eprintln!(
                            "  logged-in read {} at {:.3} s, user {}, {}: {} ms, fired {} ms \
                             late, ran at {:?} ms, its login served {:?} operations{}",
                            w.index,
                            a.at.as_secs_f64(),
                            a.user + 1,
                            a.kind.label(),
                            ms(Some(w.latency)),
                            ms(Some(w.lateness)),
                            w.ops_at_ms,
                            w.turn_ops,
                            if w.relogin { ", after a new login" } else { "" }
                        );
                    }
                    let table = r.markdown(&arrivals);
                    println!("{table}");
                    report.push_str(&table);
                    report.push('\n');
                    results.push(r);
                }
                Err(e) => {
                    eprintln!("run T = {t}, policy {policy} failed: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let s = summary(&results, &arrivals);
    println!("### Summary\n\n{s}");
    println!(
        "### Scale rows\n\n{}",
        scale_rows(&args, &results, &arrivals)
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn belady_counts_furthest_in_future_misses() {
        // 2 slots, a b c a b: a, b and c miss, c evicts b (a comes back sooner), a hits, b misses.
        assert_eq!(belady_misses(&[0, 1, 2, 0, 1], 2, &[]), 4);
        assert_eq!(belady_misses(&[0, 0, 0], 1, &[]), 1);
        assert_eq!(belady_misses(&[0, 1, 0, 1], 2, &[0, 1]), 0);
        assert_eq!(belady_misses(&[0, 1, 0, 1], 1, &[]), 4);
        assert_eq!(belady_misses(&[0, 1, 2], 0, &[]), 3);
    }
}
