//! The integration tests of the service, one binary (one link of the whole service instead of one
//! per file): a module per subject, the shared harness in `common/` (the real server on port 0
//! with its own database) and `store_support/` (the store contract suites' databases), the
//! Postgres helpers in `../support/`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test should panic loudly on the unexpected

#[path = "../support/skip.rs"]
pub mod skip;

#[path = "../support/postgres_db.rs"]
pub mod postgres_db;

#[macro_use]
pub mod common;
#[macro_use]
pub mod store_support;

mod abuse;
mod agent;
mod agent_transport;
mod algorithm_store_contract;
mod api_accounts;
mod api_algorithms;
mod api_bots;
mod api_trading;
mod audit_contract;
mod auth;
mod backtest_api;
mod backtest_store_contract;
mod backtests;
mod cli;
mod console;
mod credentials;
mod hostile;
mod import_legacy;
mod in_doubt;
mod journal_contract;
mod layers;
mod ledger;
mod observability;
mod openapi;
mod pool;
mod pool_down;
mod recovery;
mod redis_state;
mod replicas;
mod rotate_key;
mod secrets;
mod store_contract;
mod strategies;
mod stream;
mod stress;
mod supabase_migrations;
mod terminal_state;
mod unknown_enums;
mod vault;
mod writes;
