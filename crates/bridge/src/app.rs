//! Building the application: state, terminals, router, listener. `main` and the integration tests
//! both call [`Application::build`]; tests bind port 0 and read the port it got.

use crate::auth::Authenticator;
use crate::config::{ServeSettings, Settings};
use crate::context::{MemorySessions, SessionStore};
use crate::limits::{MemoryRateLimiter, RateLimiter};
use crate::pool::TerminalPool;
use crate::store::Store;
use mt5::clock::{Clock, SystemClock};
use mt5::Terminal;
use mt5_sim::broker::Broker;
use mt5_sim::config::{SimConfig, StateLocation};
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use secrecy::ExposeSecret;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

pub use crate::state::{AppState, KNOWN_USERS_MAX};

/// What tests (and embedders) may supply instead of building from the environment.
#[derive(Default)]
pub struct Overrides {
    /// The simulator's settings; default: `SimConfig::from_env` with state in the data dir.
    pub sim: Option<SimConfig>,
    /// A broker to attach the simulated terminals to (tests share it to read the audit trail).
    pub broker: Option<Arc<Broker>>,
    /// The clock of rate limits (tests move it); default: the system clock.
    pub clock: Option<Arc<dyn Clock>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Config(String),
    #[error("database: {0}")]
    Store(String),
    #[error("simulator: {0}")]
    Sim(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Auth(String),
}

/// Opens the store named by the settings and applies pending migrations.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, StartupError> {
    if settings.database_kind == crate::config::DatabaseKind::Sqlite {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
            StartupError::Config(format!(
                "cannot create data dir {}: {e}",
                settings.data_dir.display()
            ))
        })?;
    }
    let store = crate::store::open(&settings.database_url)
        .await
        .map_err(|e| StartupError::Store(e.to_string()))?;
    store
        .migrate()
        .await
        .map_err(|e| StartupError::Store(e.to_string()))?;
    Ok(store)
}

/// The terminals named by `TERMINALS` (simulated ones on the broker of the simulator settings),
/// and, when `fences` is set, a fence per agent (replicas share agents under Redis leases).
pub async fn build_terminals(
    settings: &ServeSettings,
    overrides: &mut Overrides,
    mut fences: Option<&mut Vec<crate::ownership::Owned>>,
    clocks: &Arc<crate::agent::clock::ServerClocks>,
) -> Result<Vec<Arc<dyn Terminal>>, StartupError> {
    let sim = match overrides.sim.take() {
        Some(s) => s,
        None => SimConfig::from_env(StateLocation::Sqlite(
            settings.base.data_dir.join("sim-broker.db"),
        ))
        .map_err(|e| StartupError::Sim(e.to_string()))?,
    };
    let broker = match overrides.broker.take() {
        Some(b) => b,
        None => {
            if let StateLocation::Sqlite(path) = &sim.state {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| StartupError::Sim(e.to_string()))?;
                }
            }
            mt5_sim::broker::open_from_config(&sim)
                .await
                .map_err(|e| StartupError::Sim(e.to_string()))?
                .0
        }
    };
    let opts = TerminalOptions::from_config(&sim);
    let mut terminals: Vec<Arc<dyn Terminal>> = (0..settings.terminals.sim)
        .map(|i| {
            let mut o = opts;
            o.fault_seed = opts.fault_seed.wrapping_add(i as u64);
            Arc::new(SimTerminal::new(format!("sim-{i}"), broker.clone(), o)) as Arc<dyn Terminal>
        })
        .collect();
    for url in &settings.terminals.agents {
        let token = settings.agent_token_for(url).ok_or_else(|| {
            StartupError::Config(format!(
                "TERMINALS names agent {url} without a token: set AGENT_TOKEN or AGENT_TOKENS"
            ))
        })?;
        let mut agent =
            crate::agent::client::AgentTerminal::with_roots(url, token, &settings.agent_roots)
                .map_err(StartupError::Config)?
                .with_call_timeout(settings.pool.timeout)
                .with_clocks(clocks.clone());
        if let Some(owned) = fences.as_deref_mut() {
            let fence = crate::ownership::Fence::new();
            agent = agent.with_fence(fence.clone());
            owned.push(crate::ownership::Owned {
                // Every replica names an agent by its address, so they agree on the lease key.
                id: agent.id().trim_start_matches("agent:").to_string(),
                slot: terminals.len(),
                fence,
            });
        }
        terminals.push(Arc::new(agent));
    }
    Ok(terminals)
}

pub struct Application {
    listener: TcpListener,
    port: u16,
    router: axum::Router,
    state: AppState,
    limits: crate::server::ServerLimits,
}

impl Application {
    pub async fn build(
        settings: ServeSettings,
        mut overrides: Overrides,
    ) -> Result<Application, StartupError> {
        let store = open_store(&settings.base).await?;
        let vault = settings.base.vault.clone();
        let auth = Arc::new(
            Authenticator::new(settings.base.auth.clone())
                .map_err(|e| StartupError::Auth(e.to_string()))?,
        );
        let redis = match &settings.redis_url {
            Some(url) => Some(
                crate::shared_state::Redis::connect(
                    url.expose_secret(),
                    &settings.redis_key_prefix,
                )
                .map_err(StartupError::Config)?,
            ),
            None => None,
        };
        let mut owned = Vec::new();
        let process_run_id = uuid::Uuid::new_v4().simple().to_string();
        let server_clocks = Arc::new(crate::agent::clock::ServerClocks::default());
        let terminals = build_terminals(
            &settings,
            &mut overrides,
            redis.as_ref().map(|_| &mut owned),
            &server_clocks,
        )
        .await?;
        let pool = Arc::new(TerminalPool::new(terminals, settings.pool.clone()));
        let clock = overrides
            .clock
            .take()
            .unwrap_or_else(|| Arc::new(SystemClock) as Arc<dyn Clock>);
        let bot_clock = clock.clone();
        let (sessions, limiter): (Arc<dyn SessionStore>, Arc<dyn RateLimiter>) = match &redis {
            Some(r) => {
                if !owned.is_empty() && settings.pool.policy != crate::pool::Policy::Naive {
                    let ownership = crate::ownership::Ownership::new(
                        r.clone(),
                        settings.terminal_lease_ttl,
                        owned,
                    )
                    .with_replica(process_run_id.clone());
                    tracing::info!(
                        replica = ownership.replica(),
                        "sharing terminal agents through Redis leases"
                    );
                    ownership.start(pool.clone());
                }
                (
                    Arc::new(crate::shared_state::RedisSessions::new(
                        r.clone(),
                        settings.session_ttl,
                    )),
                    Arc::new(crate::shared_state::RedisRateLimiter::new(r.clone(), clock)),
                )
            }
            None => (
                Arc::new(MemorySessions::new(settings.session_ttl)),
                Arc::new(MemoryRateLimiter::new(clock)),
            ),
        };
        let refused: Arc<dyn crate::credentials::RefusedStore> = match &redis {
            Some(r) => Arc::new(crate::shared_state::RedisRefused::new(r.clone())),
            None => Arc::new(crate::credentials::MemoryRefused::default()),
        };
        let credentials = Arc::new(crate::credentials::Credentials::new(
            vault.clone(),
            refused,
            store.clone(),
        ));
        let state = AppState {
            store,
            vault,
            credentials,
            auth,
            ticks: Arc::new(crate::ticks::TickHub::new(pool.clone())),
            pool,
            sessions,
            known_users: Arc::new(Mutex::new(HashSet::new())),
            limiter,
            limits: settings.limits,
            idempotency_ttl_s: settings.idempotency_ttl_s,
            metrics: Arc::new(
                crate::metrics::Metrics::new(settings.metrics_token.clone())
                    .map_err(|e| StartupError::Config(format!("metrics: {e}")))?,
            ),
            server_clocks,
            redis,
            require_aal2: settings.require_aal2,
            console: Arc::new(settings.console.clone()),
            reconciler: Arc::new(crate::trading::reconcile::Reconciler::new(
                settings.reconcile_grace,
            )),
            events: Arc::new(crate::events::Events::new(
                settings.stream.user_buffer,
                settings.stream.max_pending,
            )),
            stream: settings.stream,
            backtests: Arc::new(crate::backtest::handle::Backtests::new(settings.backtests)),
            bots: Arc::new(crate::bots::handle::Bots::new(
                settings.bots,
                &process_run_id,
            )),
            process_run_id,
            clock: bot_clock,
        };
        if let Some(r) = &state.redis {
            crate::shared_state::relay_journal(r.clone(), state.events.clone());
        }
        // Orders left in doubt (by a previous run, or by this one) are settled against the
        // broker's state, from now on and in the background.
        crate::trading::reconcile::spawn(state.clone());
        crate::backtest::jobs::spawn(state.clone());
        crate::bots::scheduler::spawn(state.clone());
        let router = crate::http::router(state.clone(), &settings.cors_origins);
        let listener = crate::server::bind(settings.bind).map_err(|source| StartupError::Bind {
            addr: settings.bind.to_string(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or(settings.bind.port());
        tracing::info!(
            max_connections = settings.http.max_connections,
            open_files_soft_limit = crate::server::open_files_soft_limit(),
            "connection cap (HTTP_MAX_CONNECTIONS)"
        );
        Ok(Application {
            listener,
            port,
            router,
            state,
            limits: settings.http,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let reconciler = self.state.reconciler.clone();
        let backtests = self.state.backtests.clone();
        let bots = self.state.bots.clone();
        let served = crate::server::serve(self.listener, self.router, self.limits, shutdown).await;
        reconciler.stop();
        backtests.stop();
        bots.stop();
        served
    }
}
