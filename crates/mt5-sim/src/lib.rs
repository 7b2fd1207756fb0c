//! A simulated MT5 trade server and terminal that behave like MetaTrader 5.
//!
//! Built as MT5 is: one trade server (the [`broker::Broker`]) holds the accounts, positions, orders
//! and deals; a [`terminal::SimTerminal`] is only a client of it that holds a login. Every terminal
//! that names the same broker state (in memory, or a SQLite file shared by processes and kept across
//! restarts) sees one truth.
//!
//! - [`market`]: the interfaces between the market (prices, symbols) and the trade server; the clock.
//! - [`symbols`]: built-in symbols with real contract specifications.
//! - [`prices`]: the deterministic price feed (ticks and bars as a function of seed, symbol, time).
//! - [`config`]: simulator settings from the environment and the accounts file.
//! - [`engine`]: trading rules on one account: validation with MT5's return codes, execution,
//!   netting and hedging, SL/TP and pending triggers, margin and profit.
//! - [`state`]: where broker state lives: memory, or a SQLite file shared by processes.
//! - [`backtest`]: the engine on a historical clock: one account in memory, prices set point by
//!   point by its owner.
//! - [`broker`]: the trade server: accounts, logins, the audit trail.
//! - [`terminal`]: a simulated terminal implementing [`mt5::Terminal`], with latency and faults.
//! - [`unknown`]: enum values outside MT5's lists that a terminal can be set to report.

pub mod backtest;
pub mod broker;
pub mod config;
pub mod engine;
pub mod market;
pub mod prices;
pub mod state;
pub mod symbols;
pub mod terminal;
pub mod unknown;
