//! Backtests: the same strategy code as a live run, on the broker's own history, filled by the
//! simulator's matching engine on a historical clock (docs/backtests.md).
//!
//! - [`report`]: the report of a trading record, one code for backtests and live accounts.
//! - [`run`]: one backtest over bars in hand: the live strategy driver, filled by the simulator's engine.
//! - [`spec`]: the normalized request, its combinations and what it costs.
//! - [`jobs`]: the workers that take units from the store's queue under leases.

pub mod handle;
pub mod jobs;
pub mod report;
pub mod run;
pub mod spec;
