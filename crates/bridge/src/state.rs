//! The application state every handler and the domain code share: the store, the pool, limits,
//! metrics and the background handles. Its own module, below the HTTP layer and the application
//! builder, so that the code using it does not depend on either.

use crate::auth::Authenticator;
use crate::context::SessionStore;
use crate::limits::{Limits, RateLimiter};
use crate::pool::TerminalPool;
use crate::store::Store;
use crate::vault::Vault;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Users this process remembers having ensured in the store, at most.
pub const KNOWN_USERS_MAX: usize = 65_536;

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub vault: Arc<Vault>,
    /// Session tags and refused credentials: which session serves which row.
    pub credentials: Arc<crate::credentials::Credentials>,
    pub auth: Arc<Authenticator>,
    pub pool: Arc<TerminalPool>,
    pub sessions: Arc<dyn SessionStore>,
    /// Users already ensured in the store by this process (one write per user, not per request).
    pub known_users: Arc<Mutex<HashSet<Uuid>>>,
    pub limiter: Arc<dyn RateLimiter>,
    pub limits: Limits,
    pub idempotency_ttl_s: i64,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The trade servers' clock offsets as the agents measured them (shared by every agent).
    pub server_clocks: Arc<crate::agent::clock::ServerClocks>,
    /// Shared state of replicas (REDIS_URL); `None` keeps everything in this process.
    pub redis: Option<crate::shared_state::Redis>,
    /// JWT_REQUIRE_AAL2: storing credentials needs a session that passed MFA.
    pub require_aal2: bool,
    /// SUPABASE_URL and SUPABASE_PUBLISHABLE_KEY, for the console's page and its CSP.
    pub console: Arc<ConsoleSettings>,
    /// Settles orders in doubt in the background (woken by the order path).
    pub reconciler: Arc<crate::trading::reconcile::handle::Reconciler>,
    /// Changes for the live stream, and its open connections.
    pub events: Arc<crate::events::Events>,
    /// The `ticks` channel's quote readers, one per trade server watched.
    pub ticks: Arc<crate::ticks::TickHub>,
    /// STREAM_MAX_CONNECTIONS_PER_USER and STREAM_BUFFER.
    pub stream: StreamSettings,
    /// The backtest workers' settings and bell.
    pub backtests: Arc<crate::backtest::handle::Backtests>,
    /// This process run: the replica's id under Redis ownership, else made at start. Journal
    /// entries record it, so the reconciler tells an entry of a dead run from one in flight.
    pub process_run_id: String,
    /// UTC time for the bot scheduler and the closed-bar rule (tests move it).
    pub clock: Arc<dyn mt5::clock::Clock>,
    /// The bot scheduler's settings and bell.
    pub bots: Arc<crate::bots::handle::Bots>,
}

/// The live stream's limits.
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// Open streams a user may have at once (STREAM_MAX_CONNECTIONS_PER_USER).
    pub max_connections_per_user: usize,
    /// Messages a client may fall behind before it is closed as a slow consumer (STREAM_BUFFER).
    pub buffer: usize,
    /// How often `positions` and `account` subscriptions are read again (STREAM_POLL_MS).
    pub poll: std::time::Duration,
    /// Streams upgraded and not yet signed in, at once (STREAM_MAX_PENDING).
    pub max_pending: usize,
    /// Distinct `ticks` symbols per user across their streams (STREAM_MAX_SYMBOLS_PER_USER).
    pub max_symbols_per_user: usize,
    /// Changes kept per streaming user (STREAM_USER_BUFFER).
    pub user_buffer: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            max_connections_per_user: 5,
            buffer: 1000,
            poll: std::time::Duration::from_millis(1000),
            max_pending: 256,
            max_symbols_per_user: 200,
            user_buffer: 1024,
        }
    }
}

/// The console's Supabase project (SUPABASE_URL, SUPABASE_PUBLISHABLE_KEY; both or neither),
/// for its page (`/console/config.json`) and its Content-Security-Policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsoleSettings {
    /// The project's origin, e.g. `https://abcd.supabase.co`, without a trailing slash.
    pub supabase_url: Option<String>,
    pub supabase_publishable_key: Option<String>,
}
