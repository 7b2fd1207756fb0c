//! Configuration: command-line flags with environment variables, validated at startup with every
//! bad value reported at once, and the embedded default's generated keys.
//!
//! Secrets (`JWT_SECRET`, `CREDENTIALS_KEY`, `CREDENTIALS_OLD_KEYS`, `METRICS_TOKEN`, `AGENT_TOKEN`,
//! `AGENT_TOKENS`, `REDIS_URL`) are read from the environment only, never from flags, so they do not
//! show in process listings.

use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::auth::AuthConfig;
use crate::vault::{parse_old_keys, CredentialKey, Vault};

#[derive(Debug, Parser)]
#[command(
    name = "mt5-bridge",
    version,
    about = "One HTTP API for many users trading on their own MetaTrader 5 accounts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(CommonArgs),
    /// Print a JWT for a user, signed with the secret `serve` uses (for the embedded default and tests).
    Token(TokenArgs),
    /// Re-encrypt every stored credential under the current CREDENTIALS_KEY.
    RotateKey(CommonArgs),
    /// Serve the terminal-agent protocol over one simulated terminal (broker state shared through
    /// MT5_SIM_STATE, default `<data dir>/sim-broker.db`).
    SimAgent(SimAgentArgs),
    /// Move the single-account bridge's MT5_LOGIN / MT5_PASSWORD / MT5_SERVER to a user's default
    /// account, verifying the login first. Running it again changes nothing.
    ImportLegacyAccount(ImportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    /// The user (UUID) who gets the account.
    #[arg(long)]
    pub user: String,
    /// The account's name.
    #[arg(long, default_value = "Imported MT5 account")]
    pub name: String,
    /// Read MT5_LOGIN, MT5_PASSWORD and MT5_SERVER from this env file instead of the environment.
    #[arg(long)]
    pub env_file: Option<PathBuf>,
}

/// `sim-agent`'s settings. Its bearer token is `AGENT_TOKEN`, read from the environment only (a
/// flag would show in process listings).
#[derive(Debug, Clone, Args)]
pub struct SimAgentArgs {
    /// Where the simulator's state lives by default (`sim-broker.db`).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "AGENT_BIND", default_value = "127.0.0.1:9101")]
    pub bind: String,
    /// The agent's ledger of the orders it was given (default `<DATA_DIR>/agent-ledger-<port>.db`;
    /// one file per agent, never the simulator's broker file).
    #[arg(long, env = "AGENT_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// How long the ledger keeps an entry, in seconds (default 7 days).
    #[arg(long, env = "AGENT_LEDGER_RETENTION_S", default_value_t = 7 * 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub ledger_retention_s: u64,
    /// `text` or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Where the embedded default keeps its SQLite database, generated keys and simulator state.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; default: a SQLite file in the data dir.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// `text` or `json`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Address to listen on.
    #[arg(long, env = "BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Comma-separated browser origins allowed by CORS (e.g. `https://app.example.com`).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "")]
    pub cors_allowed_origins: String,
    /// Terminals to drive, comma-separated: `sim:N` (simulated terminals on the built-in broker)
    /// and `agent:https://host:port` (terminal agents; tokens from AGENT_TOKENS / AGENT_TOKEN).
    #[arg(long, env = "TERMINALS", default_value = "sim:2")]
    pub terminals: String,
    /// PEM file of a private CA trusted for agents' TLS certificates, on top of the public roots.
    #[arg(long, env = "AGENT_CA_FILE")]
    pub agent_ca_file: Option<PathBuf>,
    /// Allow plain `http://` agents on hosts other than loopback: their traffic (the token and
    /// account passwords included) then crosses the network in clear text.
    #[arg(long, env = "AGENT_ALLOW_INSECURE")]
    pub agent_allow_insecure: bool,
    /// How long a user's current-account choice lives without use, in seconds.
    #[arg(long, env = "SESSION_TTL_S", default_value_t = 86_400)]
    pub session_ttl_s: u64,
    /// Deadline for one terminal operation, queueing included, in milliseconds.
    #[arg(long, env = "TERMINAL_TIMEOUT_MS", default_value_t = 30_000)]
    pub terminal_timeout_ms: u64,
    /// `pool` (affinity, batching, fairness) or `naive` (one terminal, a login per request).
    #[arg(long, env = "POOL_POLICY", default_value = "adaptive")]
    pub pool_policy: String,
    /// Most requests waiting for a terminal at once; more get 503.
    #[arg(long, env = "POOL_QUEUE_LIMIT", default_value_t = 1024)]
    pub pool_queue_limit: usize,
    /// Most requests of one user waiting for a terminal at once; more answer 429 `rate_limited`
    /// (scope `queue_per_user`).
    #[arg(long, env = "POOL_QUEUE_LIMIT_PER_USER", default_value_t = 64)]
    pub pool_queue_limit_per_user: usize,
    /// How long a terminal stays idle on a hot account after its last use while other accounts
    /// wait, within the account's turn, in milliseconds; 0 turns residency off.
    #[arg(long, env = "POOL_RESIDENCY_MS", default_value_t = 500)]
    pub pool_residency_ms: u64,
    /// Switches of the current account per user per hour.
    #[arg(long, env = "SWITCH_LIMIT_PER_HOUR", default_value_t = 10)]
    pub switch_limit_per_hour: u32,
    /// Orders sent to the broker per account per hour.
    #[arg(long, env = "TRADE_LIMIT_PER_HOUR", default_value_t = 100)]
    pub trade_limit_per_hour: u32,
    /// Failed connects (MT5 refused the login) per user per 15 minutes.
    #[arg(long, env = "CONNECT_FAIL_LIMIT", default_value_t = 5)]
    pub connect_fail_limit: u32,
    /// Failed logins with a new password per MT5 login and server, across all users, per 15
    /// minutes (connects and password changes only).
    #[arg(long, env = "LOGIN_FAIL_LIMIT", default_value_t = 20)]
    pub login_fail_limit: u32,
    /// Refused orders per user per hour (kill switch, risk limits, levels, read-only session);
    /// while spent, order requests answer 429 `rate_limited` (scope `refusals_per_user`).
    #[arg(long, env = "REFUSAL_LIMIT_PER_HOUR", default_value_t = 600)]
    pub refusal_limit_per_hour: u32,
    /// Dry runs of algorithms and bot replays per user per hour (scope `dry_runs_per_user`).
    #[arg(long, env = "DRY_RUN_LIMIT_PER_HOUR", default_value_t = 600)]
    pub dry_run_limit_per_hour: u32,
    /// Saved algorithm configurations per user; more answer 409 `algorithm_limit_reached`.
    #[arg(long, env = "ALGORITHMS_PER_USER", default_value_t = 100)]
    pub algorithms_per_user: u32,
    /// Backtest units this process runs at once (default: the cores minus one, at least one).
    #[arg(long, env = "BACKTEST_WORKERS")]
    pub backtest_workers: Option<usize>,
    /// The longest backtest window, in days; longer answers 422 `invalid_combination`.
    #[arg(long, env = "BACKTEST_MAX_WINDOW_DAYS", default_value_t = 3660)]
    pub backtest_max_window_days: u32,
    /// Backtests kept per user: the oldest finished ones beyond it are removed.
    #[arg(long, env = "BACKTESTS_KEPT_PER_USER", default_value_t = 200)]
    pub backtests_kept_per_user: u32,
    /// Bar-evaluations (bars × combinations) per user per UTC day; beyond it 429 `rate_limited`
    /// (scope `backtest_work_per_day`).
    #[arg(long, env = "BACKTEST_WORK_PER_DAY", default_value_t = 200_000_000)]
    pub backtest_work_per_day: u64,
    /// The bar cache's bound in MiB, least recently used chunks removed first.
    #[arg(long, env = "BAR_CACHE_MAX_MB", default_value_t = 2048)]
    pub bar_cache_max_mb: u64,
    /// Bots a user may have; beyond it 409 `bot_limit_reached`.
    #[arg(long, env = "BOTS_PER_USER", default_value_t = 50)]
    pub bots_per_user: u32,
    /// Bots an account may have; beyond it 409 `bot_limit_reached`.
    #[arg(long, env = "BOTS_PER_ACCOUNT", default_value_t = 20)]
    pub bots_per_account: u32,
    /// Days a bot's runs and recorded passes are kept.
    #[arg(long, env = "BOT_RUNS_KEPT_DAYS", default_value_t = 30)]
    pub bot_runs_kept_days: u32,
    /// How long an Idempotency-Key is remembered, in seconds.
    #[arg(long, env = "IDEMPOTENCY_TTL_S", default_value_t = 86_400)]
    pub idempotency_ttl_s: u64,
    /// How long after an order's deadline the reconciler keeps looking for an order in doubt
    /// before it settles it as not executed, in milliseconds.
    #[arg(long, env = "RECONCILE_GRACE_MS", default_value_t = 60_000)]
    pub reconcile_grace_ms: u64,
    /// Prefix of every Redis key (with REDIS_URL), so deployments can share one Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "mt5-bridge:")]
    pub redis_key_prefix: String,
    /// Lifetime of a replica's lease on a terminal agent (with REDIS_URL), in milliseconds:
    /// renewed every third of it; how long a failed replica's agents wait for a new owner.
    #[arg(long, env = "TERMINAL_LEASE_TTL_MS", default_value_t = 6_000)]
    pub terminal_lease_ttl_ms: u64,
    /// Storing MT5 credentials (connects, password changes) needs a session that passed MFA: the
    /// token's `aal` must be `aal2`, else 403 mfa_required. `--jwt-require-aal2` alone means true.
    #[arg(
        long,
        env = "JWT_REQUIRE_AAL2",
        default_value_t = false,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub jwt_require_aal2: bool,
    /// Live streams (`GET /api/v1/stream`) a user may have open at once; the next is refused with
    /// 429 rate_limited (scope `streams_per_user`).
    #[arg(long, env = "STREAM_MAX_CONNECTIONS_PER_USER", default_value_t = 5)]
    pub stream_max_connections_per_user: usize,
    /// Messages a stream's client may fall behind before it is closed (4008 slow_consumer).
    #[arg(long, env = "STREAM_BUFFER", default_value_t = 1000)]
    pub stream_buffer: usize,
    /// How often a stream's `positions` and `account` subscriptions are read again, in
    /// milliseconds (only from a terminal already on the account and idle).
    #[arg(long, env = "STREAM_POLL_MS", default_value_t = 1000)]
    pub stream_poll_ms: u64,
    /// Streams upgraded but not yet signed in, at once in this process; more get 503
    /// too_many_connections.
    #[arg(long, env = "STREAM_MAX_PENDING", default_value_t = 256)]
    pub stream_max_pending: usize,
    /// Distinct `ticks` symbols one user may watch across their streams; more get rate_limited
    /// (scope `symbols_per_user`).
    #[arg(long, env = "STREAM_MAX_SYMBOLS_PER_USER", default_value_t = 200)]
    pub stream_max_symbols_per_user: usize,
    /// Changes kept for a user's streams that have not read them yet; a stream further behind is
    /// closed as a slow consumer.
    #[arg(long, env = "STREAM_USER_BUFFER", default_value_t = 1024)]
    pub stream_user_buffer: usize,
    /// How long a connection may take to send a request head (and may stay idle between
    /// requests), in milliseconds.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    pub http_header_timeout_ms: u64,
    /// How long a request's whole body may take to arrive, in milliseconds.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_body_timeout_ms: u64,
    /// Sockets open at once (WebSockets included); default three quarters of the open-files soft
    /// limit. Over it a socket is answered 503 too_many_connections and closed.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS")]
    pub http_max_connections: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The user id (UUID) to put in `sub`.
    #[arg(long)]
    pub user: String,
    #[arg(long)]
    pub email: Option<String>,
    /// Lifetime, e.g. `30m`, `1h`, `7d`.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    /// The `aal` claim: `aal1` (a password sign-in) or `aal2` (a session that passed MFA, which
    /// JWT_REQUIRE_AAL2 asks for to store credentials).
    #[arg(long, default_value = "aal1", value_parser = ["aal1", "aal2"])]
    pub aal: String,
}

/// Which database the store uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// Terminal backends to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalsSpec {
    pub sim: usize,
    /// Base URLs of terminal agents, in order.
    pub agents: Vec<String>,
}

/// Validated settings shared by every command.
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub database_kind: DatabaseKind,
    pub auth: AuthConfig,
    /// The HS256 secret used by `token` (same as auth.hs256_secret).
    pub jwt_secret: Option<SecretString>,
    /// The credential vault built from CREDENTIALS_KEY (+ old keys).
    pub vault: std::sync::Arc<Vault>,
    pub log_json: bool,
    /// Things done while loading (keys generated), to log once tracing is up.
    pub notes: Vec<String>,
}

/// Settings of `serve` on top of [`Settings`].
pub struct ServeSettings {
    pub base: Settings,
    pub bind: SocketAddr,
    pub cors_origins: Vec<String>,
    /// SUPABASE_URL and SUPABASE_PUBLISHABLE_KEY: the console's e-mail sign-in.
    pub console: crate::state::ConsoleSettings,
    pub terminals: TerminalsSpec,
    /// The bearer token of the terminal agents without their own (AGENT_TOKEN).
    pub agent_token: Option<SecretString>,
    /// Tokens of single agents (AGENT_TOKENS), keyed by the agent's URL as in `terminals.agents`.
    pub agent_tokens: HashMap<String, SecretString>,
    /// Roots trusted for agents' TLS certificates on top of the public ones (AGENT_CA_FILE).
    pub agent_roots: Vec<reqwest::Certificate>,
    pub session_ttl: Duration,
    pub pool: crate::pool::PoolOptions,
    pub limits: crate::limits::Limits,
    pub idempotency_ttl_s: i64,
    /// BACKTEST_WORKERS, BACKTEST_MAX_WINDOW_DAYS, BACKTESTS_KEPT_PER_USER, BACKTEST_WORK_PER_DAY,
    /// BAR_CACHE_MAX_MB.
    pub backtests: crate::backtest::handle::BacktestSettings,
    /// BOTS_PER_USER, BOTS_PER_ACCOUNT, BOT_RUNS_KEPT_DAYS.
    pub bots: crate::bots::handle::BotSettings,
    /// RECONCILE_GRACE_MS: how long past its deadline an order in doubt is looked for.
    pub reconcile_grace: Duration,
    /// Bearer token `/metrics` requires; unset, `/metrics` answers 401 to everyone.
    pub metrics_token: Option<SecretString>,
    /// Redis for state shared by replicas (REDIS_URL); in memory when unset. May hold a password.
    pub redis_url: Option<SecretString>,
    pub redis_key_prefix: String,
    pub terminal_lease_ttl: Duration,
    /// JWT_REQUIRE_AAL2: connects and password changes need an `aal2` token.
    pub require_aal2: bool,
    /// STREAM_MAX_CONNECTIONS_PER_USER and STREAM_BUFFER.
    pub stream: crate::state::StreamSettings,
    /// HTTP_HEADER_TIMEOUT_MS, HTTP_BODY_TIMEOUT_MS, HTTP_MAX_CONNECTIONS.
    pub http: crate::server::ServerLimits,
}

/// Every configuration problem found, reported together.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<String>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "invalid configuration:")?;
        for e in &self.0 {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

const GENERATED_KEY_ID: &str = "local-1";
const JWT_SECRET_FILE: &str = "jwt_secret";
const CREDENTIALS_KEY_FILE: &str = "credentials_key";

impl Settings {
    /// Loads settings from the flags and the environment (`lookup` reads a variable).
    pub fn load(
        args: &CommonArgs,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigErrors> {
        let mut errors = Vec::new();
        let mut notes = Vec::new();
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let data_dir = args.data_dir.clone();
        let (database_url, database_kind) = match &args.database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                (url.clone(), DatabaseKind::Postgres)
            }
            Some(url) if url.starts_with("sqlite:") => (url.clone(), DatabaseKind::Sqlite),
            Some(_) => {
                errors.push(
                    "DATABASE_URL must start with postgres://, postgresql:// or sqlite:"
                        .to_string(),
                );
                (String::new(), DatabaseKind::Sqlite)
            }
            None => {
                let path = absolute(&data_dir.join("mt5-bridge.db"));
                (
                    format!("sqlite://{}?mode=rwc", path.display()),
                    DatabaseKind::Sqlite,
                )
            }
        };
        let embedded = database_kind == DatabaseKind::Sqlite;

        let log_json = match args.log_format.as_str() {
            "text" => false,
            "json" => true,
            _ => {
                errors.push("LOG_FORMAT must be `text` or `json`".to_string());
                false
            }
        };

        // JWT verification keys.
        let jwks_url = get("JWT_JWKS_URL");
        if let Some(Err(rule)) = jwks_url.as_deref().map(crate::auth::parse_jwks_url) {
            errors.push(rule.to_string());
        }
        let mut jwt_secret = get("JWT_SECRET").map(SecretString::from);
        if jwt_secret.is_none() && jwks_url.is_none() {
            if embedded {
                match read_or_generate(&data_dir, JWT_SECRET_FILE, generate_jwt_secret) {
                    Ok((s, generated)) => {
                        if generated {
                            notes.push(format!(
                                "generated a JWT secret in {} (set JWT_SECRET or JWT_JWKS_URL in production)",
                                data_dir.join(JWT_SECRET_FILE).display()
                            ));
                        }
                        jwt_secret = Some(s);
                    }
                    Err(e) => errors.push(e),
                }
            } else {
                errors.push(
                    "set JWT_SECRET (Supabase's JWT secret) or JWT_JWKS_URL (its JWKS endpoint)"
                        .to_string(),
                );
            }
        }
        let audience = get("JWT_AUDIENCE").unwrap_or_else(|| "authenticated".to_string());
        let issuer = get("JWT_ISSUER");

        // Credential encryption key.
        let key_id = get("CREDENTIALS_KEY_ID");
        let credentials_key = match get("CREDENTIALS_KEY") {
            Some(b64) => {
                let id = key_id.clone().unwrap_or_else(|| "k1".to_string());
                match CredentialKey::from_base64(&id, b64.trim()) {
                    Ok(k) => Some(k),
                    Err(_) => {
                        errors.push(
                            "CREDENTIALS_KEY must be the base64 encoding of exactly 32 bytes"
                                .to_string(),
                        );
                        None
                    }
                }
            }
            None if embedded => {
                let generated = read_or_generate(&data_dir, CREDENTIALS_KEY_FILE, || {
                    CredentialKey::generate(GENERATED_KEY_ID).to_base64()
                });
                match generated {
                    Ok((b64, generated)) => {
                        if generated {
                            notes.push(format!(
                                "generated a credentials key in {} (set CREDENTIALS_KEY in production)",
                                data_dir.join(CREDENTIALS_KEY_FILE).display()
                            ));
                        }
                        let id = key_id
                            .clone()
                            .unwrap_or_else(|| GENERATED_KEY_ID.to_string());
                        match CredentialKey::from_base64(&id, b64.expose_secret().trim()) {
                            Ok(k) => Some(k),
                            Err(_) => {
                                errors.push(format!(
                                    "{} is not a valid key file",
                                    data_dir.join(CREDENTIALS_KEY_FILE).display()
                                ));
                                None
                            }
                        }
                    }
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            }
            None => {
                errors.push("set CREDENTIALS_KEY (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)".to_string());
                None
            }
        };
        let old_credentials_keys = match get("CREDENTIALS_OLD_KEYS") {
            Some(s) => match parse_old_keys(&s) {
                Ok(keys) => keys,
                Err(_) => {
                    errors.push(
                        "CREDENTIALS_OLD_KEYS must be `id:base64,id:base64` with 32-byte keys"
                            .to_string(),
                    );
                    Vec::new()
                }
            },
            None => Vec::new(),
        };

        match (errors.is_empty(), credentials_key) {
            (true, Some(credentials_key)) => Ok(Settings {
                data_dir,
                database_url,
                database_kind,
                auth: AuthConfig {
                    hs256_secret: jwt_secret.clone(),
                    jwks_url,
                    audience,
                    issuer,
                    jwks_cache_ttl: Duration::from_secs(600),
                    leeway_s: 30,
                },
                jwt_secret,
                vault: std::sync::Arc::new(Vault::new(credentials_key, old_credentials_keys)),
                log_json,
                notes,
            }),
            _ => Err(ConfigErrors(errors)),
        }
    }
}

impl ServeSettings {
    pub fn load(
        args: &ServeArgs,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ServeSettings, ConfigErrors> {
        let mut errors = Vec::new();
        let base = Settings::load(&args.common, lookup);
        let bind = match args.bind.parse::<SocketAddr>() {
            Ok(b) => Some(b),
            Err(_) => {
                errors.push(format!(
                    "BIND must be an address like 127.0.0.1:8080 (got {:?})",
                    args.bind
                ));
                None
            }
        };
        let cors_origins: Vec<String> = args
            .cors_allowed_origins
            .split(',')
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .filter(|s| !s.is_empty())
            .collect();
        for o in &cors_origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                errors.push(format!("CORS_ALLOWED_ORIGINS entries must be origins like https://app.example.com (got {o:?})"));
            }
        }
        let terminals = match parse_terminals(&args.terminals) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let agents: &[String] = terminals.as_ref().map_or(&[], |t| &t.agents);
        let mut notes = Vec::new();
        for url in agents {
            if url.starts_with("http://") && !is_loopback(url) {
                if args.agent_allow_insecure {
                    notes.push(format!(
                        "terminal agent {url} is reached over plain http (AGENT_ALLOW_INSECURE): \
                         its token and account passwords cross the network in clear text"
                    ));
                } else {
                    errors.push(format!(
                        "TERMINALS: agent {url} is plain http on another host than loopback: use \
                         https:// (with AGENT_CA_FILE for a private CA), or set \
                         AGENT_ALLOW_INSECURE=true to send its traffic in clear text"
                    ));
                }
            }
        }
        let agent_roots = match &args.agent_ca_file {
            Some(path) => load_agent_ca(path).unwrap_or_else(|e| {
                errors.push(e);
                Vec::new()
            }),
            None => Vec::new(),
        };
        let agent_token = lookup("AGENT_TOKEN")
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretString::from(v.trim().to_string()));
        let agent_tokens = match lookup("AGENT_TOKENS").map(zeroize::Zeroizing::new) {
            Some(raw) if !raw.trim().is_empty() => {
                // Keys can only be checked against a valid TERMINALS.
                let known = terminals.as_ref().map(|t| t.agents.as_slice());
                parse_agent_tokens(&raw, known).unwrap_or_else(|mut e| {
                    errors.append(&mut e);
                    HashMap::new()
                })
            }
            _ => HashMap::new(),
        };
        if agent_token.is_none() {
            let without: Vec<&str> = agents
                .iter()
                .filter(|a| !agent_tokens.contains_key(*a))
                .map(String::as_str)
                .collect();
            if !without.is_empty() {
                errors.push(format!(
                    "TERMINALS names agents without a token ({}): set AGENT_TOKEN to their \
                     bearer token, or give each its own in AGENT_TOKENS",
                    without.join(", ")
                ));
            }
        }
        if args.session_ttl_s == 0 {
            errors.push("SESSION_TTL_S must be positive".to_string());
        }
        if args.terminal_timeout_ms == 0 {
            errors.push("TERMINAL_TIMEOUT_MS must be positive".to_string());
        }
        let policy = match args.pool_policy.parse::<crate::pool::Policy>() {
            Ok(p) => Some(p),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if args.pool_queue_limit == 0 {
            errors.push("POOL_QUEUE_LIMIT must be positive".to_string());
        }
        if args.pool_queue_limit_per_user == 0 {
            errors.push("POOL_QUEUE_LIMIT_PER_USER must be positive".to_string());
        }
        if args.pool_residency_ms > 10_000 {
            errors.push(
                "POOL_RESIDENCY_MS must be at most 10000 (0 turns residency off)".to_string(),
            );
        }
        for (name, v) in [
            ("SWITCH_LIMIT_PER_HOUR", args.switch_limit_per_hour),
            ("TRADE_LIMIT_PER_HOUR", args.trade_limit_per_hour),
            ("CONNECT_FAIL_LIMIT", args.connect_fail_limit),
            ("LOGIN_FAIL_LIMIT", args.login_fail_limit),
            ("REFUSAL_LIMIT_PER_HOUR", args.refusal_limit_per_hour),
            ("DRY_RUN_LIMIT_PER_HOUR", args.dry_run_limit_per_hour),
            ("ALGORITHMS_PER_USER", args.algorithms_per_user),
        ] {
            if v == 0 {
                errors.push(format!("{name} must be positive"));
            }
        }
        if args.algorithms_per_user > crate::store::algorithms::MAX_CONFIGS_PAGE {
            errors.push(format!(
                "ALGORITHMS_PER_USER must be at most {} (one page lists them all)",
                crate::store::algorithms::MAX_CONFIGS_PAGE
            ));
        }
        if args.backtest_workers == Some(0) || args.backtest_workers.is_some_and(|n| n > 256) {
            errors.push("BACKTEST_WORKERS must be from 1 to 256".to_string());
        }
        if !(1..=36_600).contains(&args.backtest_max_window_days) {
            errors.push("BACKTEST_MAX_WINDOW_DAYS must be from 1 to 36600".to_string());
        }
        if args.bots_per_user == 0 || args.bots_per_account == 0 {
            errors.push("BOTS_PER_USER and BOTS_PER_ACCOUNT must be positive".to_string());
        }
        if !(1..=3660).contains(&args.bot_runs_kept_days) {
            errors.push("BOT_RUNS_KEPT_DAYS must be from 1 to 3660".to_string());
        }
        if args.backtests_kept_per_user == 0 {
            errors.push("BACKTESTS_KEPT_PER_USER must be positive".to_string());
        }
        if args.backtest_work_per_day == 0 || args.backtest_work_per_day > u64::from(u32::MAX) {
            errors.push(format!(
                "BACKTEST_WORK_PER_DAY must be from 1 to {}",
                u32::MAX
            ));
        }
        if args.bar_cache_max_mb == 0 || args.bar_cache_max_mb > 1 << 30 {
            errors.push("BAR_CACHE_MAX_MB must be from 1 to 1073741824".to_string());
        }
        if args.idempotency_ttl_s == 0 {
            errors.push("IDEMPOTENCY_TTL_S must be positive".to_string());
        }
        if args.reconcile_grace_ms > 86_400_000 {
            errors.push("RECONCILE_GRACE_MS must be at most 86400000 (one day)".to_string());
        }
        let redis_url = lookup("REDIS_URL")
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        if let Some(url) = &redis_url {
            // The URL is not quoted back: it may carry a password.
            if !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("redis+unix://")
                || url.starts_with("unix://"))
            {
                errors.push("REDIS_URL must be a redis://, rediss:// or unix:// URL".to_string());
            }
        }
        if args.terminal_lease_ttl_ms < 300 {
            errors.push("TERMINAL_LEASE_TTL_MS must be at least 300".to_string());
        }
        if args.stream_max_connections_per_user == 0 {
            errors.push("STREAM_MAX_CONNECTIONS_PER_USER must be at least 1".to_string());
        }
        if args.stream_buffer == 0 {
            errors.push("STREAM_BUFFER must be at least 1".to_string());
        }
        if args.stream_poll_ms < 50 {
            errors.push("STREAM_POLL_MS must be at least 50".to_string());
        }
        if args.stream_max_pending == 0 {
            errors.push("STREAM_MAX_PENDING must be at least 1".to_string());
        }
        if args.stream_max_symbols_per_user == 0 {
            errors.push("STREAM_MAX_SYMBOLS_PER_USER must be at least 1".to_string());
        }
        if args.stream_user_buffer < 16 {
            errors.push("STREAM_USER_BUFFER must be at least 16".to_string());
        }
        if args.http_header_timeout_ms < 100 {
            errors.push("HTTP_HEADER_TIMEOUT_MS must be at least 100".to_string());
        }
        if args.http_body_timeout_ms < 100 {
            errors.push("HTTP_BODY_TIMEOUT_MS must be at least 100".to_string());
        }
        if args.http_max_connections == Some(0) {
            errors.push("HTTP_MAX_CONNECTIONS must be at least 1".to_string());
        }
        let base = match base {
            Ok(mut b) => {
                b.notes.append(&mut notes);
                Some(b)
            }
            Err(ConfigErrors(mut e)) => {
                e.append(&mut errors);
                errors = e;
                None
            }
        };
        let console = load_console(lookup, &mut errors);
        match (base, bind, terminals, policy) {
            (Some(base), Some(bind), Some(terminals), Some(policy)) if errors.is_empty() => {
                Ok(ServeSettings {
                    base,
                    bind,
                    cors_origins,
                    console,
                    terminals,
                    agent_token,
                    agent_tokens,
                    agent_roots,
                    session_ttl: Duration::from_secs(args.session_ttl_s),
                    pool: crate::pool::PoolOptions {
                        policy,
                        queue_limit: args.pool_queue_limit,
                        queue_limit_per_user: args.pool_queue_limit_per_user,
                        timeout: Duration::from_millis(args.terminal_timeout_ms),
                        residency: Duration::from_millis(args.pool_residency_ms),
                        ..Default::default()
                    },
                    limits: crate::limits::Limits {
                        switch_per_user: crate::limits::Limit {
                            max: args.switch_limit_per_hour,
                            window: Duration::from_secs(3600),
                        },
                        trade_per_account: crate::limits::Limit {
                            max: args.trade_limit_per_hour,
                            window: Duration::from_secs(3600),
                        },
                        connect_failures_per_user: crate::limits::Limit {
                            max: args.connect_fail_limit,
                            window: Duration::from_secs(900),
                        },
                        login_failures_per_login: crate::limits::Limit {
                            max: args.login_fail_limit,
                            window: Duration::from_secs(900),
                        },
                        refusals_per_user: crate::limits::Limit {
                            max: args.refusal_limit_per_hour,
                            window: Duration::from_secs(3600),
                        },
                        dry_runs_per_user: crate::limits::Limit {
                            max: args.dry_run_limit_per_hour,
                            window: Duration::from_secs(3600),
                        },
                        algorithms_per_user: args.algorithms_per_user,
                    },
                    idempotency_ttl_s: args.idempotency_ttl_s.min(i64::MAX as u64) as i64,
                    backtests: crate::backtest::handle::BacktestSettings {
                        workers: args
                            .backtest_workers
                            .unwrap_or_else(crate::backtest::handle::default_workers),
                        max_window_days: args.backtest_max_window_days,
                        kept_per_user: args.backtests_kept_per_user,
                        work_per_day: args.backtest_work_per_day,
                        bar_cache_max_bytes: args.bar_cache_max_mb.saturating_mul(1024 * 1024),
                    },
                    bots: crate::bots::handle::BotSettings {
                        per_user: args.bots_per_user,
                        per_account: args.bots_per_account,
                        runs_kept: Duration::from_secs(u64::from(args.bot_runs_kept_days) * 86_400),
                    },
                    reconcile_grace: Duration::from_millis(args.reconcile_grace_ms),
                    metrics_token: lookup("METRICS_TOKEN")
                        .filter(|v| !v.trim().is_empty())
                        .map(SecretString::from),
                    redis_url: redis_url.map(SecretString::from),
                    redis_key_prefix: args.redis_key_prefix.clone(),
                    terminal_lease_ttl: Duration::from_millis(args.terminal_lease_ttl_ms),
                    require_aal2: args.jwt_require_aal2,
                    stream: crate::state::StreamSettings {
                        max_connections_per_user: args.stream_max_connections_per_user,
                        buffer: args.stream_buffer,
                        poll: Duration::from_millis(args.stream_poll_ms),
                        max_pending: args.stream_max_pending,
                        max_symbols_per_user: args.stream_max_symbols_per_user,
                        user_buffer: args.stream_user_buffer,
                    },
                    http: crate::server::ServerLimits {
                        header_timeout: Duration::from_millis(args.http_header_timeout_ms),
                        body_timeout: Duration::from_millis(args.http_body_timeout_ms),
                        max_connections: args
                            .http_max_connections
                            .unwrap_or_else(crate::server::default_max_connections),
                        body_limit: crate::http::BODY_LIMIT,
                    },
                })
            }
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// The bearer token of the agent at `url` (as in `terminals.agents`): its own from
    /// AGENT_TOKENS, else AGENT_TOKEN.
    pub fn agent_token_for(&self, url: &str) -> Option<SecretString> {
        self.agent_tokens
            .get(url)
            .or(self.agent_token.as_ref())
            .cloned()
    }
}

/// `sim:N` (N ≥ 1) and `agent:https://host:port` (or `http://`). Several entries are
/// comma-separated. An agent is kept as written, without `agent:` and a trailing slash: that
/// string names it in AGENT_TOKENS and in Redis leases.
pub fn parse_terminals(spec: &str) -> Result<TerminalsSpec, String> {
    let mut sim = 0usize;
    let mut agents = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match part.split_once(':') {
            Some(("agent", url)) => {
                let url = url.trim().trim_end_matches('/');
                if !is_agent_url(url) {
                    return Err(format!(
                        "TERMINALS: `{part}` must be agent:https://host:port (or agent:http://)"
                    ));
                }
                if agents.iter().any(|a| a == url) {
                    return Err(format!("TERMINALS: `{part}` is named twice"));
                }
                agents.push(url.to_string())
            }
            Some(("sim", n)) => match n.parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => sim += n,
                _ => {
                    return Err(format!(
                        "TERMINALS: `{part}` must be sim:N with N from 1 to 256"
                    ))
                }
            },
            _ => {
                return Err(format!(
                "TERMINALS: unknown terminal `{part}` (expected sim:N or agent:https://host:port)"
            ))
            }
        }
    }
    if sim == 0 && agents.is_empty() {
        return Err("TERMINALS must name at least one terminal, e.g. sim:2".to_string());
    }
    Ok(TerminalsSpec { sim, agents })
}

/// `http(s)://host[:port]` and nothing else: no user, path, query or fragment.
fn is_agent_url(url: &str) -> bool {
    let hostport = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match (hostport, reqwest::Url::parse(url)) {
        (Some(hp), Ok(u)) => {
            !hp.is_empty()
                && !hp.contains(['/', '?', '#', '@'])
                && u.host_str().is_some_and(|h| !h.is_empty())
        }
        _ => false,
    }
}

/// Whether an agent URL's host is loopback: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = u.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// AGENT_CA_FILE's certificates, checked by building the agents' HTTP client with them.
fn load_agent_ca(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path)
        .map_err(|e| format!("AGENT_CA_FILE: cannot read {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
    if certs.is_empty() {
        return Err(format!(
            "AGENT_CA_FILE: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    crate::agent::client::http_client(&certs).map_err(|_| {
        format!(
            "AGENT_CA_FILE: {} holds a certificate that cannot be a trusted root",
            path.display()
        )
    })?;
    Ok(certs)
}

/// AGENT_TOKENS: a JSON object from agent URLs, as written in TERMINALS without `agent:` (a
/// trailing slash aside), to their tokens. A key that names no agent of `known` is an error
/// naming the key. No error quotes a token, nor a serde message that could.
fn parse_agent_tokens(
    raw: &str,
    known: Option<&[String]>,
) -> Result<HashMap<String, SecretString>, Vec<String>> {
    const SHAPE: &str =
        r#"a JSON object mapping agent URLs to tokens, e.g. {"https://10.0.0.5:9101": "…"}"#;
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        vec![format!(
            "AGENT_TOKENS must be {SHAPE}: malformed JSON at line {} column {}",
            e.line(),
            e.column()
        )]
    })?;
    let serde_json::Value::Object(map) = value else {
        return Err(vec![format!("AGENT_TOKENS must be {SHAPE}")]);
    };
    let mut errors = Vec::new();
    let mut tokens = HashMap::new();
    for (key, token) in map {
        let url = key.trim().trim_end_matches('/').to_string();
        let shown: String = url.chars().take(200).collect();
        if known.is_some_and(|agents| !agents.contains(&url)) {
            let hint = if url.starts_with("agent:") {
                " (write keys without `agent:`)"
            } else {
                ""
            };
            errors.push(format!(
                "AGENT_TOKENS: `{shown}` is not an agent of TERMINALS{hint}"
            ));
            continue;
        }
        let token = match token {
            serde_json::Value::String(mut t) if !t.trim().is_empty() => {
                let token = SecretString::from(t.trim());
                zeroize::Zeroize::zeroize(&mut t);
                token
            }
            _ => {
                errors.push(format!(
                    "AGENT_TOKENS: the token of `{shown}` must be a non-empty string"
                ));
                continue;
            }
        };
        if tokens.insert(url, token).is_some() {
            errors.push(format!("AGENT_TOKENS names `{shown}` twice"));
        }
    }
    if errors.is_empty() {
        Ok(tokens)
    } else {
        Err(errors)
    }
}

/// Parses `30s`, `15m`, `1h`, `7d` (or plain seconds).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 30m, 1h, 7d)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("invalid duration unit in {s:?} (use s, m, h or d)")),
    };
    if secs == 0 {
        return Err("duration must be positive".to_string());
    }
    Ok(Duration::from_secs(secs))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

fn generate_jwt_secret() -> SecretString {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let s = base64::engine::general_purpose::STANDARD.encode(bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    SecretString::from(s)
}

/// Reads a key file from the data dir, or creates it (mode 0600) with `make`. Returns whether it
/// was generated now.
fn read_or_generate(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> SecretString,
) -> Result<(SecretString, bool), String> {
    let path = dir.join(name);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => {
            return Ok((SecretString::from(s.trim().to_string()), false))
        }
        Ok(_) => {
            return Err(format!(
                "{} is empty: delete it to regenerate",
                path.display()
            ))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {e}", path.display()));
        }
        Err(_) => {}
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", dir.display()))?;
    let secret = make();
    write_private(&path, secret.expose_secret())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((secret, true))
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // create_new: two processes starting at once must not overwrite each other's key.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    f.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{content}\n"))
}

/// SUPABASE_URL and SUPABASE_PUBLISHABLE_KEY (environment-only, both or neither): the console's
/// Supabase project. The URL must be an origin (`https://`, or `http://` to a loopback host): the
/// console's Content-Security-Policy lets the page reach it. The key is a publishable (or legacy
/// anon) key, public by design. Both reach the page through `GET /console/config.json`.
fn load_console(
    lookup: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> crate::state::ConsoleSettings {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let (url, key) = (get("SUPABASE_URL"), get("SUPABASE_PUBLISHABLE_KEY"));
    if url.is_some() != key.is_some() {
        errors.push("SUPABASE_URL and SUPABASE_PUBLISHABLE_KEY must be set together".into());
        return crate::state::ConsoleSettings::default();
    }
    let origin = url.as_deref().and_then(|raw| {
        let origin = reqwest::Url::parse(raw).ok().filter(|u| {
            (u.scheme() == "https" || (u.scheme() == "http" && is_loopback(raw)))
                && u.host_str().is_some()
                && u.username().is_empty()
                && u.password().is_none()
                && u.path() == "/"
                && u.query().is_none()
                && u.fragment().is_none()
        });
        if origin.is_none() {
            errors.push(format!(
                "SUPABASE_URL must be an origin like https://<ref>.supabase.co (http:// only to a loopback host), got {raw:?}"
            ));
        }
        origin.map(|u| u.origin().ascii_serialization())
    });
    if let Some(k) = &key {
        if k.len() > 4096 || !k.bytes().all(|b| b.is_ascii_graphic()) {
            errors.push(
                "SUPABASE_PUBLISHABLE_KEY must be the project's publishable or anon key (printable, no spaces)"
                    .into(),
            );
        }
    }
    crate::state::ConsoleSettings {
        supabase_url: origin,
        supabase_publishable_key: key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminals_spec() {
        assert_eq!(
            parse_terminals("sim:4").unwrap(),
            TerminalsSpec {
                sim: 4,
                agents: vec![]
            }
        );
        assert_eq!(
            parse_terminals("sim:1,sim:2").unwrap(),
            TerminalsSpec {
                sim: 3,
                agents: vec![]
            }
        );
        assert_eq!(
            parse_terminals("agent:http://10.0.0.5:9101/, sim:1,agent:https://a.example:9102")
                .unwrap(),
            TerminalsSpec {
                sim: 1,
                agents: vec![
                    "http://10.0.0.5:9101".to_string(),
                    "https://a.example:9102".to_string()
                ]
            }
        );
        assert!(parse_terminals("agent:10.0.0.5:9101").is_err());
        assert!(parse_terminals("agent:http://").is_err());
        assert!(parse_terminals("agent:https://user:pw@a.example:1").is_err());
        assert!(parse_terminals("agent:https://a.example:1/path").is_err());
        assert!(parse_terminals("agent:https://a.example:1?x=1").is_err());
        assert!(parse_terminals("agent:https://a.example:99999").is_err());
        assert!(parse_terminals("agent:https://[::1]:9101").is_ok());
        assert!(parse_terminals("agent:http://a:1,agent:http://a:1").is_err());
        assert!(parse_terminals("sim:0").is_err());
        assert!(parse_terminals("ftp:1").is_err());
        assert!(parse_terminals("").is_err());
    }

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://127.0.0.1:9101",
            "http://127.8.9.10:1",
            "http://localhost:9101",
            "http://LOCALHOST:9101",
            "http://[::1]:9101",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "http://10.1.2.3:9101",
            "http://128.0.0.1:9101",
            "http://localhost.example.com:1",
            "http://[::2]:1",
            "http://0.0.0.0:1",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    const SECRET: &str = "tok-3f9a-never-shown";

    fn agents() -> Vec<String> {
        vec![
            "https://10.0.0.5:9101".to_string(),
            "https://10.0.0.6:9101".to_string(),
        ]
    }

    #[test]
    fn agent_tokens_are_keyed_by_the_url_as_in_terminals() {
        let raw = format!(
            r#"{{"https://10.0.0.5:9101/": "{SECRET}", " https://10.0.0.6:9101": " other "}}"#
        );
        let tokens = parse_agent_tokens(&raw, Some(&agents())).unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens["https://10.0.0.5:9101"].expose_secret(), SECRET);
        assert_eq!(tokens["https://10.0.0.6:9101"].expose_secret(), "other");
    }

    #[test]
    fn bad_agent_tokens_name_the_key_and_never_the_token() {
        let cases = [
            (
                format!(r#"{{"https://10.0.0.9:9101": "{SECRET}"}}"#),
                "`https://10.0.0.9:9101` is not an agent of TERMINALS",
            ),
            (
                format!(r#"{{"agent:https://10.0.0.5:9101": "{SECRET}"}}"#),
                "without `agent:`",
            ),
            (
                r#"{"https://10.0.0.5:9101": ""}"#.to_string(),
                "must be a non-empty string",
            ),
            (
                r#"{"https://10.0.0.5:9101": 42}"#.to_string(),
                "must be a non-empty string",
            ),
            (
                format!(
                    r#"{{"https://10.0.0.5:9101": "{SECRET}", "https://10.0.0.5:9101/": "{SECRET}"}}"#
                ),
                "twice",
            ),
            (
                format!(r#"{{"https://10.0.0.5:9101": "{SECRET}""#),
                "malformed JSON",
            ),
            (format!(r#""{SECRET}""#), "must be a JSON object"),
            (format!(r#"["{SECRET}"]"#), "must be a JSON object"),
            (SECRET.to_string(), "malformed JSON"),
        ];
        for (raw, want) in cases {
            let errors = parse_agent_tokens(&raw, Some(&agents())).unwrap_err();
            let text = errors.join("\n");
            assert!(text.contains(want), "{raw}: {text}");
            assert!(text.contains("AGENT_TOKENS"), "{text}");
            assert!(!text.contains("3f9a"), "a token leaked: {text}");
        }
    }

    fn serve_args(terminals: &str) -> ServeArgs {
        let Command::Serve(mut args) = Cli::try_parse_from(["mt5-bridge", "serve"])
            .unwrap()
            .command
        else {
            unreachable!("serve parses as serve")
        };
        args.terminals = terminals.to_string();
        args.agent_ca_file = None;
        args.agent_allow_insecure = false;
        args
    }

    fn load(args: &ServeArgs, env: &[(&str, &str)]) -> Result<ServeSettings, String> {
        let mut vars: HashMap<String, String> = [
            ("JWT_SECRET", "a-test-secret-of-at-least-32-characters"),
            (
                "CREDENTIALS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ServeSettings::load(args, &|k| vars.get(k).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn plain_http_agents_must_be_on_loopback_unless_allowed() {
        let mut args = serve_args("agent:http://10.1.2.3:9101,agent:http://127.0.0.1:9102");
        let err = load(&args, &[("AGENT_TOKEN", SECRET)]).err().unwrap();
        assert!(err.contains("http://10.1.2.3:9101"), "{err}");
        assert!(err.contains("AGENT_ALLOW_INSECURE"), "{err}");
        assert!(!err.contains("127.0.0.1:9102"), "loopback is fine: {err}");
        args.agent_allow_insecure = true;
        let settings = load(&args, &[("AGENT_TOKEN", SECRET)]).unwrap();
        assert!(
            settings
                .base
                .notes
                .iter()
                .any(|n| n.contains("http://10.1.2.3:9101")),
            "an insecure agent is warned about"
        );
        assert!(load(
            &serve_args("agent:https://10.1.2.3:9101"),
            &[("AGENT_TOKEN", SECRET)]
        )
        .is_ok());
    }

    #[test]
    fn each_agent_gets_its_own_token_or_the_default() {
        let args = serve_args("agent:https://10.0.0.5:9101,agent:https://10.0.0.6:9101/");
        let own = r#"{"https://10.0.0.5:9101": "five"}"#;
        let s = load(&args, &[("AGENT_TOKENS", own), ("AGENT_TOKEN", "default")]).unwrap();
        let token = |url: &str| {
            s.agent_token_for(url)
                .map(|t| t.expose_secret().to_string())
        };
        assert_eq!(token("https://10.0.0.5:9101").as_deref(), Some("five"));
        assert_eq!(token("https://10.0.0.6:9101").as_deref(), Some("default"));

        let err = load(&args, &[("AGENT_TOKENS", own)]).err().unwrap();
        assert!(err.contains("https://10.0.0.6:9101"), "{err}");
        assert!(err.contains("AGENT_TOKEN"), "{err}");
        assert!(!err.contains("five"), "{err}");
        let both = r#"{"https://10.0.0.5:9101": "five", "https://10.0.0.6:9101": "six"}"#;
        assert!(load(&args, &[("AGENT_TOKENS", both)]).is_ok());
    }

    #[test]
    fn an_unusable_agent_ca_file_names_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = serve_args("agent:https://10.0.0.5:9101");
        args.agent_ca_file = Some(dir.path().join("missing.pem"));
        let err = load(&args, &[("AGENT_TOKEN", SECRET)]).err().unwrap();
        assert!(err.contains("AGENT_CA_FILE: cannot read"), "{err}");
        let not_pem = dir.path().join("not.pem");
        std::fs::write(&not_pem, "just text\n").unwrap();
        args.agent_ca_file = Some(not_pem);
        let err = load(&args, &[("AGENT_TOKEN", SECRET)]).err().unwrap();
        assert!(
            err.contains("AGENT_CA_FILE") && err.contains("no PEM certificate"),
            "{err}"
        );
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        args.agent_ca_file = Some(garbage);
        let err = load(&args, &[("AGENT_TOKEN", SECRET)]).err().unwrap();
        assert!(err.contains("AGENT_CA_FILE"), "{err}");
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
