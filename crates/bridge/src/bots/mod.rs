//! Bots: a strategy that runs on every closed bar of one of the user's accounts, unattended,
//! deciding each bar exactly once across restarts and replicas (docs/bots.md).
//!
//! - [`rules`]: the closed-bar rule and the boundaries, pure.
//! - [`scheduler`]: the background task that finds due bots and runs their accounts' waves.
//! - [`wave`]: one account's wave: one pool operation reads the bars, positions and account,
//!   then each bot's pass claims its bar and decides through the shared strategy driver.
//! - [`handle`]: settings and the scheduler's bell, in the application state.

pub mod handle;
pub mod rules;
pub mod scheduler;
pub mod wave;

/// Why a bot is in its state, or why a bar was skipped: stable words clients may match.
pub mod reason {
    pub const USER: &str = "user";
    pub const KILL_SWITCH: &str = "kill_switch";
    pub const ACCOUNT_DELETED: &str = "account_deleted";
    pub const DAILY_LOSS_REACHED: &str = "daily_loss_reached";
    pub const LIVE_CONFIRMATION_REQUIRED: &str = "live_confirmation_required";
    pub const INVALID_CONFIGURATION: &str = "invalid_configuration";
    pub const ORDER_IN_DOUBT: &str = "order_in_doubt";
    pub const TRADING_DISABLED: &str = "trading_disabled";
    pub const SERVER_TIME_UNKNOWN: &str = "server_time_unknown";
    pub const REFUSALS_PER_USER: &str = "refusals_per_user";
    pub const CLOSE_FAILED: &str = "close_failed";
}

/// Consecutive bars whose orders were all refused before a bot is `faulted`.
pub const REFUSED_BARS_FAULT: i32 = 10;
