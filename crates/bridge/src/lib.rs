//! mt5-bridge: one HTTP API for many users trading on their own MetaTrader 5 accounts.
//!
//! - [`auth`]: access-token (JWT) verification, Supabase-compatible, and local token minting.
//! - [`store`]: the account store (Postgres with RLS, or SQLite) and its migrations.
//! - [`vault`]: credential encryption (AES-256-GCM envelopes bound to their row).

pub mod auth;
pub mod store;
pub mod vault;
