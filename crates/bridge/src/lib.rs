//! mt5-bridge: one HTTP API for many users trading on their own MetaTrader 5 accounts.
//!
//! - [`config`]: flags and environment, validated at startup; the embedded default's generated keys.
//! - [`app`]: builds the application (store, vault, auth, terminals, router); used by `main` and tests.
//! - [`cli`]: the commands `serve`, `migrate`, `token`, `rotate-key`, `sim-agent`, `import-legacy-account`.
//! - `import` (private): moving the single-account bridge's MT5_LOGIN/PASSWORD/SERVER to a user's account.
//! - [`http`]: router, middleware, extractors, validation and the endpoint handlers.
//! - `server` (private): serving a router over HTTP/1 with header and body timeouts and a connection cap.
//! - [`error`]: `ApiError`, mapped to its stable code; `error_code` (private): `ErrorCode`, the one
//!   table of codes, statuses and meanings (docs/errors.md is checked against it).
//! - `state` (private): `AppState`, shared by handlers and domain code (re-exported by [`app`]).
//! - `fields` (private): field rules the HTTP layer and the strategies share (symbols).
//! - `unavailable` (private): the shared-state outage, a leaf (re-exported by [`shared_state`]).
//! - [`auth`]: access-token (JWT) verification, Supabase-compatible, and local token minting.
//! - [`store`]: the account store (Postgres with RLS, or SQLite) and its migrations.
//! - [`vault`]: credential encryption (AES-256-GCM envelopes bound to their row).
//! - [`credentials`]: session tags (which session serves which row) and refused credentials.
//! - [`pool`]: the terminal pool: leases on terminals logged in to an account, with the guard.
//! - [`context`]: each user's current account.
//! - [`accounts`]: a user's accounts: connect (the password verified under the guessing limits),
//!   update, switch, delete and their audit entries; the import command's verification.
//! - [`risk`]: account risk limits, their validation and the checks on every new order.
//! - [`backtest`]: backtests on the broker's history; the report of a trading record.
//! - [`bots`]: strategies run on every closed bar, exactly once, by a scheduler per replica.
//! - [`algorithms`]: strategies, risk sizing and the executor of algorithm runs.
//! - [`trading`]: the order pipeline: kill switch, rate limit, idempotency, journal, send, reconcile.
//! - [`limits`]: rate limits (switches, trades, failed connects).
//! - [`shared_state`]: sessions and rate limits in Redis (`REDIS_URL`), shared by replicas.
//! - `ownership` (private): which replica drives which terminal agent: Redis leases with fencing tokens.
//! - `events`: changes as they happen (journal entries), for the live stream, and its open connections.
//! - [`ticks`]: the stream's `ticks` channel at its source: one quote reader per trade server.
//! - `metrics` (private): Prometheus metrics (`/metrics`): requests, terminals, pool, orders, limits.
//! - `swept` (private): maps swept of stale entries as they grow (in-memory sessions, limits, pool rates).
//! - `times` (private): MT5 server times to RFC 3339 UTC and back.
//! - [`agent`]: the terminal-agent protocol: `sim-agent` (server) and `AgentTerminal` (client).

pub mod accounts;
pub mod agent;
pub mod algorithms;
pub mod app;
pub mod auth;
pub mod backtest;
pub mod bars;
pub mod bots;
pub mod cli;
pub mod config;
pub mod context;
pub mod credentials;
pub mod error;
mod error_code;
pub mod events;
mod fields;
pub mod http;
mod import;
pub mod limits;
mod metrics;
mod ownership;
pub mod pool;
pub mod risk;
mod server;
pub mod shared_state;
mod state;
pub mod store;
mod swept;
pub mod ticks;
mod times;
pub mod trading;
pub use trading::reconcile;
mod unavailable;
pub mod vault;
