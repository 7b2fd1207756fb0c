//! Test harness: the real server on port 0 with its own database (a fresh SQLite file, or a fresh
//! Postgres database when TEST_DATABASE_URL is set) and its own in-memory simulated broker.

pub mod procs;
pub mod routes;
pub mod terminal;

pub use crate::skip;

pub use crate::postgres_db;
use mt5_bridge::app::{AppState, Application, Overrides};
use mt5_bridge::config::{CommonArgs, ServeArgs, ServeSettings};
use mt5_sim::broker::Broker;
use mt5_sim::config::{default_accounts, FaultConfig, SimConfig, StateLocation};
use postgres_db::{fresh_postgres_database, TestDatabase};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-secret-with-at-least-32-characters-long!!";
/// The `METRICS_TOKEN` every test app gets unless its tweak removes it (without one, `/metrics`
/// answers 401 to everyone).
pub const METRICS_TOKEN: &str = "test-metrics-token-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub broker: Arc<Broker>,
    pub state: AppState,
    pub data_dir: tempfile::TempDir,
    pub database_url: String,
    pub pg: Option<TestDatabase>,
    /// The environment it was built with (keys included), to start it again on the same data.
    pub env: HashMap<&'static str, String>,
    pub sim: SimConfig,
    server: tokio::task::JoinHandle<()>,
}

pub fn sim_config() -> SimConfig {
    SimConfig {
        accounts: default_accounts(),
        state: StateLocation::Memory,
        seed: 7,
        login_latency_ms: 0,
        call_latency_ms: 0,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    }
}

/// The Postgres admin URL, or None (SQLite only) when TEST_DATABASE_URL is unset.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

pub async fn spawn(db: Db) -> TestApp {
    spawn_with(db, sim_config(), |_| {}).await
}

pub async fn spawn_with(
    db: Db,
    sim: SimConfig,
    tweak: impl FnOnce(&mut HashMap<&'static str, String>),
) -> TestApp {
    let (data_dir, database_url, pg, env) = prepare(db, tweak).await;
    let (broker, _feed) = mt5_sim::broker::open_from_config(&sim)
        .await
        .expect("sim broker");
    launch(data_dir, database_url, pg, env, sim, broker).await
}

/// Like `spawn_with`, on a broker the test built (e.g. with a clock it controls).
pub async fn spawn_on_broker(db: Db, sim: SimConfig, broker: Arc<Broker>) -> TestApp {
    spawn_on_broker_with(db, sim, broker, |_| {}).await
}

/// `spawn_on_broker` with settings of the test's.
pub async fn spawn_on_broker_with(
    db: Db,
    sim: SimConfig,
    broker: Arc<Broker>,
    tweak: impl FnOnce(&mut HashMap<&'static str, String>),
) -> TestApp {
    let (data_dir, database_url, pg, env) = prepare(db, tweak).await;
    launch(data_dir, database_url, pg, env, sim, broker).await
}

type Prepared = (
    tempfile::TempDir,
    String,
    Option<TestDatabase>,
    HashMap<&'static str, String>,
);

async fn prepare(db: Db, tweak: impl FnOnce(&mut HashMap<&'static str, String>)) -> Prepared {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let pg = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            let admin = postgres_url().expect("TEST_DATABASE_URL");
            Some(
                fresh_postgres_database(&admin)
                    .await
                    .expect("a fresh Postgres database"),
            )
        }
    };
    let database_url = match &pg {
        Some(t) => t.url.clone(),
        None => format!(
            "sqlite://{}?mode=rwc",
            data_dir.path().join("bridge.db").display()
        ),
    };
    let mut env: HashMap<&'static str, String> = HashMap::new();
    env.insert("JWT_SECRET", JWT_SECRET.to_string());
    env.insert(
        "CREDENTIALS_KEY",
        secrecy::ExposeSecret::expose_secret(
            &mt5_bridge::vault::CredentialKey::generate("t1").to_base64(),
        )
        .to_string(),
    );
    env.insert("CREDENTIALS_KEY_ID", "t1".to_string());
    env.insert("METRICS_TOKEN", METRICS_TOKEN.to_string());
    tweak(&mut env);
    (data_dir, database_url, pg, env)
}

async fn launch(
    data_dir: tempfile::TempDir,
    database_url: String,
    pg: Option<TestDatabase>,
    env: HashMap<&'static str, String>,
    sim: SimConfig,
    broker: Arc<Broker>,
) -> TestApp {
    let num = |k: &str, default: u64| env.get(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let text = |k: &str, default: &str| env.get(k).cloned().unwrap_or_else(|| default.to_string());
    let args = ServeArgs {
        common: CommonArgs {
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database_url.clone()),
            log_format: "text".into(),
        },
        bind: "127.0.0.1:0".into(),
        cors_allowed_origins: text("CORS_ALLOWED_ORIGINS", ""),
        terminals: text("TERMINALS", "sim:2"),
        agent_ca_file: env.get("AGENT_CA_FILE").map(std::path::PathBuf::from),
        agent_allow_insecure: env.get("AGENT_ALLOW_INSECURE").map(String::as_str) == Some("true"),
        session_ttl_s: 3600,
        terminal_timeout_ms: num("TERMINAL_TIMEOUT_MS", 10_000),
        pool_policy: text("POOL_POLICY", "adaptive"),
        pool_queue_limit: num("POOL_QUEUE_LIMIT", 1024) as usize,
        pool_queue_limit_per_user: num("POOL_QUEUE_LIMIT_PER_USER", 64) as usize,
        pool_residency_ms: num("POOL_RESIDENCY_MS", 500),
        switch_limit_per_hour: num("SWITCH_LIMIT_PER_HOUR", 1000) as u32,
        trade_limit_per_hour: num("TRADE_LIMIT_PER_HOUR", 10_000) as u32,
        connect_fail_limit: num("CONNECT_FAIL_LIMIT", 1000) as u32,
        login_fail_limit: num("LOGIN_FAIL_LIMIT", 1000) as u32,
        refusal_limit_per_hour: num("REFUSAL_LIMIT_PER_HOUR", 10_000) as u32,
        dry_run_limit_per_hour: num("DRY_RUN_LIMIT_PER_HOUR", 10_000) as u32,
        algorithms_per_user: num("ALGORITHMS_PER_USER", 100) as u32,
        backtest_workers: Some(num("BACKTEST_WORKERS", 1) as usize),
        backtest_max_window_days: num("BACKTEST_MAX_WINDOW_DAYS", 3660) as u32,
        backtests_kept_per_user: num("BACKTESTS_KEPT_PER_USER", 200) as u32,
        backtest_work_per_day: num("BACKTEST_WORK_PER_DAY", 200_000_000),
        bar_cache_max_mb: num("BAR_CACHE_MAX_MB", 2048),
        bots_per_user: num("BOTS_PER_USER", 50) as u32,
        bots_per_account: num("BOTS_PER_ACCOUNT", 20) as u32,
        bot_runs_kept_days: num("BOT_RUNS_KEPT_DAYS", 30) as u32,
        idempotency_ttl_s: num("IDEMPOTENCY_TTL_S", 86_400),
        reconcile_grace_ms: num("RECONCILE_GRACE_MS", 60_000),
        redis_key_prefix: text("REDIS_KEY_PREFIX", "mt5-bridge:"),
        terminal_lease_ttl_ms: num("TERMINAL_LEASE_TTL_MS", 6_000),
        jwt_require_aal2: text("JWT_REQUIRE_AAL2", "false") == "true",
        stream_max_connections_per_user: num("STREAM_MAX_CONNECTIONS_PER_USER", 5) as usize,
        stream_buffer: num("STREAM_BUFFER", 1000) as usize,
        stream_poll_ms: num("STREAM_POLL_MS", 1000),
        stream_max_pending: num("STREAM_MAX_PENDING", 256) as usize,
        stream_max_symbols_per_user: num("STREAM_MAX_SYMBOLS_PER_USER", 200) as usize,
        stream_user_buffer: num("STREAM_USER_BUFFER", 1024) as usize,
        http_header_timeout_ms: num("HTTP_HEADER_TIMEOUT_MS", 10_000),
        http_body_timeout_ms: num("HTTP_BODY_TIMEOUT_MS", 30_000),
        http_max_connections: env.get("HTTP_MAX_CONNECTIONS").and_then(|v| v.parse().ok()),
    };
    let lookup = |k: &str| env.get(k).cloned();
    let settings = ServeSettings::load(&args, &lookup).expect("settings");
    let app = Application::build(
        settings,
        Overrides {
            sim: Some(sim.clone()),
            broker: Some(broker.clone()),
            // The broker's clock: a test that moves it moves the bot scheduler's too.
            clock: Some(broker.clock().clone()),
        },
    )
    .await
    .expect("application builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let server = tokio::spawn(async move {
        let _ = app.run_until_stopped(std::future::pending()).await;
    });
    TestApp {
        base,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client"),
        broker,
        state,
        data_dir,
        database_url,
        pg,
        env,
        sim,
        server,
    }
}

impl TestApp {
    pub fn token(&self, user: Uuid) -> String {
        mint(user, Duration::from_secs(3600))
    }

    /// A token whose `aal` claim is `aal` (left out when `None`).
    pub fn token_with_aal(&self, user: Uuid, aal: Option<mt5_bridge::auth::Aal>) -> String {
        mint_with_aal(user, Duration::from_secs(3600), aal)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, _, v) = self.call_full(method, path, token, body).await;
        (status, v)
    }

    pub async fn call_full(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut rb = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, v)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Connects one of the simulator's default accounts; returns its id.
    pub async fn connect(
        &self,
        token: &str,
        login: u64,
        password: &str,
        server: &str,
        name: &str,
    ) -> String {
        let (status, body) = self
            .post(
                routes::CONNECT,
                token,
                serde_json::json!({ "account_name": name, "login": login.to_string(), "password": password, "server": server }),
            )
            .await;
        assert_eq!(status, 201, "connect {login}: {body}");
        body["account_id"].as_str().expect("account_id").to_string()
    }

    /// A new user with the simulator's Sim-Demo account `login` connected (its default password,
    /// `Sim-<login>!`): their token and the account's id.
    #[allow(dead_code)] // reason: each test binary compiles this module; not all use every helper
    pub async fn trader(&self, login: u64) -> (String, String) {
        let t = self.token(Uuid::new_v4());
        let id = self
            .connect(&t, login, &format!("Sim-{login}!"), "Sim-Demo", "Main")
            .await;
        (t, id)
    }

    /// Runs `sql` as `user` could without the service, and returns the rows it changed. On Postgres
    /// that is Supabase's Data API: a transaction as `authenticated` with the user's own claims, so
    /// RLS applies. SQLite has no such door; the SQL runs as is there (to plant the same rows).
    pub async fn as_data_api_user(&self, user: Uuid, sql: &str) -> u64 {
        use sqlx::{Connection, Executor};
        // By the URL, not by `pg`: a relaunched app shares the test's database without owning it.
        if !self.database_url.starts_with("postgres") {
            let mut conn = sqlx::SqliteConnection::connect(&self.database_url)
                .await
                .expect("sqlite connection");
            return conn.execute(sql).await.expect(sql).rows_affected();
        }
        let mut conn = sqlx::PgConnection::connect(&self.database_url)
            .await
            .expect("postgres connection");
        let mut tx = conn.begin().await.expect("begin");
        tx.execute("set local role authenticated")
            .await
            .expect("set role");
        sqlx::query("select set_config('request.jwt.claims', $1, true)")
            .bind(serde_json::json!({"sub": user.to_string(), "role": "authenticated"}).to_string())
            .execute(&mut *tx)
            .await
            .expect("claims");
        let done = tx.execute(sql).await.expect(sql).rows_affected();
        tx.commit().await.expect("commit");
        done
    }

    /// Stops serving, as a crash would: nothing is completed or flushed.
    pub fn kill(&self) {
        self.server.abort();
        self.state.reconciler.stop();
        self.state.backtests.stop();
    }

    /// A new service process on the same database, keys and broker (a restart).
    pub async fn relaunch(&self) -> TestApp {
        self.relaunch_with(self.sim.clone(), |_| {}).await
    }

    /// As [`TestApp::relaunch`], with the terminals of `sim` (its faults and latencies; the
    /// broker stays the same) and the settings `tweak` changes.
    #[allow(dead_code)] // reason: each test binary compiles this module; not all use every helper
    pub async fn relaunch_with(
        &self,
        sim: SimConfig,
        tweak: impl FnOnce(&mut HashMap<&'static str, String>),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut env = self.env.clone();
        tweak(&mut env);
        launch(
            data_dir,
            self.database_url.clone(),
            None,
            env,
            sim,
            self.broker.clone(),
        )
        .await
    }

    pub async fn shutdown(self) {
        // Every order path settles its trade-limit slot itself: none may reach the fallback.
        if let Some(token) = self.env.get("METRICS_TOKEN") {
            let scraped = self
                .client
                .get(format!("{}/metrics", self.base))
                .bearer_auth(token)
                .send()
                .await;
            // A test that replaced the token (or stopped the app) cannot be scraped; any app that
            // answers must show the counter, at zero.
            if let Ok(Ok(resp)) = scraped.map(|r| r.error_for_status()) {
                let text = resp.text().await.unwrap_or_default();
                let fallbacks = text
                    .lines()
                    .find_map(|l| l.strip_prefix("mt5b_trade_slot_fallback_total "))
                    .map(str::trim);
                assert_eq!(
                    fallbacks,
                    Some("0"),
                    "a trade slot was released by its fallback, not by the order pipeline"
                );
            }
        }
        self.server.abort();
        self.state.reconciler.stop();
        self.state.backtests.stop();
        if let Some(pg) = self.pg {
            let _ = pg.drop().await;
        }
    }
}

pub fn mint(user: Uuid, ttl: Duration) -> String {
    mt5_bridge::auth::mint_token(
        &SecretString::from(JWT_SECRET),
        user,
        Some("user@example.com"),
        ttl,
        "authenticated",
        None,
    )
    .expect("token")
}

pub fn mint_with_aal(user: Uuid, ttl: Duration, aal: Option<mt5_bridge::auth::Aal>) -> String {
    let opts = mt5_bridge::auth::MintOptions {
        email: Some("user@example.com"),
        aal,
        ..mt5_bridge::auth::MintOptions::new("authenticated", ttl)
    };
    mt5_bridge::auth::mint_token_with(&SecretString::from(JWT_SECRET), user, &opts).expect("token")
}

/// Runs a scenario on SQLite, or on Postgres when TEST_DATABASE_URL is set (else prints a skip).
pub async fn run_on<F, Fut>(db: Db, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    run_on_with(db, sim_config(), |_| {}, scenario).await;
}

/// As [`run_on`], on a service built with `sim` and the settings `tweak` sets.
#[allow(dead_code)] // reason: each test binary compiles this module; not all use every helper
pub async fn run_on_with<F, Fut>(
    db: Db,
    sim: SimConfig,
    tweak: impl FnOnce(&mut HashMap<&'static str, String>),
    scenario: F,
) where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = TestApp>,
{
    if db == Db::Postgres && postgres_url().is_none() {
        skip::postgres_skipped();
        return;
    }
    let app = spawn_with(db, sim, tweak).await;
    let app = scenario(app).await;
    app.shutdown().await;
}

/// Declares a scenario test on both databases.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $scenario:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                common::run_on(common::Db::Sqlite, $scenario).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                common::run_on(common::Db::Postgres, $scenario).await;
            }
        }
    };
}

/// A moment (a minute past an hour, within the last 2000 hours) at which `ma_crossover` with
/// `params` enters a position on `params.symbol` (EURUSD when absent) in the simulator's prices.
pub fn signal_time(sim: &mt5_sim::config::SimConfig, params: &serde_json::Value) -> i64 {
    signal_time_where(sim, params, |_, _| true)
}

/// As [`signal_time`], at a moment where `accept(symbol info then, the entry)` holds (the symbol
/// info carries that moment's bid and ask, as the terminal will report them).
pub fn signal_time_where(
    sim: &mt5_sim::config::SimConfig,
    params: &serde_json::Value,
    accept: impl Fn(&mt5::SymbolInfo, &mt5_bridge::algorithms::strategies::Intent) -> bool,
) -> i64 {
    let feed = mt5_sim::prices::PriceFeed::new(
        sim.seed,
        mt5_sim::symbols::builtin_symbols(),
        sim.server_time_offset_s,
    );
    let strategy = mt5_bridge::algorithms::strategies::find("ma_crossover").unwrap();
    let p = strategy.validate(params).unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let hour = 3_600_000;
    let mut t = now - now % hour + 60_000;
    for _ in 0..2000 {
        t -= hour;
        let count = strategy.bars_needed(&p) + 1;
        let mut bars = feed
            .rates(
                &p.symbol,
                p.timeframe,
                mt5::RatesRange::FromPos { start: 0, count },
                t,
            )
            .unwrap();
        bars.pop();
        let info = feed.symbol_info(&p.symbol, t, "USD").unwrap();
        let grid = mt5::util::PriceGrid::of(&info);
        if strategy.evaluate(&p, &bars, &[], grid).iter().any(|i| {
            matches!(i, mt5_bridge::algorithms::strategies::Intent::Entry { .. })
                && accept(&info, i)
        }) {
            return t;
        }
    }
    panic!("no such ma_crossover signal in 2000 hours of simulated prices");
}

/// Checks the broker's audit trail against who placed which order (ticket → login): every such
/// order ran under its own login, and every one is there. Returns the terminals that ran them.
pub fn assert_orders_ran_under_their_logins(
    audit: &[mt5_sim::state::AuditRecord],
    owners: &HashMap<u64, u64>,
) -> std::collections::BTreeSet<String> {
    let mut checked = 0;
    let mut terminals = std::collections::BTreeSet::new();
    for rec in audit
        .iter()
        .filter(|r| r.operation == "order_send" && r.order != 0)
    {
        if let Some(login) = owners.get(&rec.order) {
            assert_eq!(
                rec.login, *login,
                "order {} ran under {} instead of {}",
                rec.order, rec.login, login
            );
            terminals.insert(rec.terminal_id.clone());
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        owners.len(),
        "every order the users made is in the audit trail"
    );
    terminals
}
