//! Trading algorithms: built-in strategies (pure: bars and positions in, intents out), risk sizing,
//! and the executor that runs one pass of a strategy on an account through the order pipeline.
//!
//! - [`strategies`]: `ma_crossover`, `rsi_reversion`, `donchian_breakout`, their parameters and schemas.
//! - [`sizing`]: volume from risk: a fraction of equity lost at the SL, rounded down to the step.
//! - [`levels`]: the symbol's stops and freeze levels, checked before anything is sent.
//! - [`driver`]: the one strategy driver: evaluate, fit to the grid and the levels, size, and hand
//!   each order to a venue (live, dry run, backtest).
//! - [`executor`]: reads bars and positions, runs the driver on the live or dry venue, records the run.

pub mod driver;
pub mod executor;
pub mod levels;
// Sizing lives with the risk limits (`crate::risk::sizing`); the old path stays for callers.
pub use crate::risk::sizing;
pub mod strategies;
