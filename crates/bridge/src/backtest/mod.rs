//! Backtests: the same strategy code as a live run, on the broker's own history, filled by the
//! simulator's matching engine on a historical clock (docs/backtests.md).
//!
//! - [`report`]: the report of a trading record, one code for backtests and live accounts.

pub mod report;
