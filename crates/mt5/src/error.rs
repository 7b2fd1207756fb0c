//! Terminal errors: MT5's `last_error()` codes and the failures a terminal backend can report.

use crate::session::AccountKey;
use serde::{Deserialize, Serialize};

/// `last_error()` codes (RES_*), as the `MetaTrader5` package defines them.
pub mod last_error {
    pub const OK: i32 = 1;
    pub const FAIL: i32 = -1;
    pub const INVALID_PARAMS: i32 = -2;
    pub const NO_MEMORY: i32 = -3;
    pub const NOT_FOUND: i32 = -4;
    pub const INVALID_VERSION: i32 = -5;
    pub const AUTH_FAILED: i32 = -6;
    pub const UNSUPPORTED: i32 = -7;
    pub const AUTO_TRADING_DISABLED: i32 = -8;
    pub const INTERNAL_FAIL: i32 = -10000;
    pub const INTERNAL_FAIL_SEND: i32 = -10001;
    pub const INTERNAL_FAIL_RECEIVE: i32 = -10002;
    pub const INTERNAL_FAIL_INIT: i32 = -10003;
    pub const INTERNAL_FAIL_CONNECT: i32 = -10004;
    pub const INTERNAL_FAIL_TIMEOUT: i32 = -10005;

    /// (code, constant name, meaning) for docs and tests.
    pub const TABLE: &[(i32, &str, &str)] = &[
        (OK, "RES_S_OK", "Success"),
        (FAIL, "RES_E_FAIL", "Terminal: Call failed"),
        (INVALID_PARAMS, "RES_E_INVALID_PARAMS", "Invalid arguments"),
        (NO_MEMORY, "RES_E_NO_MEMORY", "No memory"),
        (NOT_FOUND, "RES_E_NOT_FOUND", "Terminal: Not found"),
        (INVALID_VERSION, "RES_E_INVALID_VERSION", "Invalid version"),
        (
            AUTH_FAILED,
            "RES_E_AUTH_FAILED",
            "Terminal: Authorization failed",
        ),
        (UNSUPPORTED, "RES_E_UNSUPPORTED", "Unsupported method"),
        (
            AUTO_TRADING_DISABLED,
            "RES_E_AUTO_TRADING_DISABLED",
            "Terminal: Autotrading disabled",
        ),
        (
            INTERNAL_FAIL,
            "RES_E_INTERNAL_FAIL",
            "Internal IPC general error",
        ),
        (
            INTERNAL_FAIL_SEND,
            "RES_E_INTERNAL_FAIL_SEND",
            "IPC send failed",
        ),
        (
            INTERNAL_FAIL_RECEIVE,
            "RES_E_INTERNAL_FAIL_RECEIVE",
            "IPC receive failed",
        ),
        (
            INTERNAL_FAIL_INIT,
            "RES_E_INTERNAL_FAIL_INIT",
            "IPC initialize failed",
        ),
        (
            INTERNAL_FAIL_CONNECT,
            "RES_E_INTERNAL_FAIL_CONNECT",
            "No IPC connection",
        ),
        (
            INTERNAL_FAIL_TIMEOUT,
            "RES_E_INTERNAL_FAIL_TIMEOUT",
            "IPC timeout",
        ),
    ];

    pub fn name(code: i32) -> &'static str {
        TABLE
            .iter()
            .find(|r| r.0 == code)
            .map(|r| r.1)
            .unwrap_or("RES_E_UNKNOWN")
    }
}

/// The [`TerminalError::NotSent`] reason of a terminal that cannot be reached at all.
pub const NO_CONNECTION: &str = "cannot connect to the terminal";

/// What a terminal backend reports when a call does not produce its result.
///
/// Messages never carry a password: a backend builds them from MT5's own texts.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TerminalError {
    /// MT5 answered `None`/`False`; `last_error()` gave this code and message.
    #[error("MT5 error {code}: {message}")]
    Mt5 { code: i32, message: String },
    /// The terminal is not logged in to the account the caller expected; nothing was executed.
    #[error("terminal is logged in to another account than expected")]
    WrongAccount {
        expected: AccountKey,
        actual: Option<AccountKey>,
    },
    /// The call did not complete within its deadline.
    #[error("terminal call timed out")]
    Timeout,
    /// The terminal cannot be reached (process down, connection lost). For a call that was on
    /// its way this does not say whether it ran: its answer may be what was lost.
    #[error("terminal unavailable: {0}")]
    Unavailable(String),
    /// The call provably never reached MT5 (no connection could be opened, the agent refused it
    /// before starting, its deadline had passed): nothing ran.
    #[error("terminal call not sent: {0}")]
    NotSent(String),
}

impl TerminalError {
    pub fn mt5(code: i32, message: impl Into<String>) -> Self {
        TerminalError::Mt5 {
            code,
            message: message.into(),
        }
    }
    pub fn auth_failed() -> Self {
        Self::mt5(last_error::AUTH_FAILED, "Terminal: Authorization failed")
    }
    pub fn not_found() -> Self {
        Self::mt5(last_error::NOT_FOUND, "Terminal: Not found")
    }
    pub fn call_failed() -> Self {
        Self::mt5(last_error::FAIL, "Terminal: Call failed")
    }
    pub fn invalid_argument(field: &str) -> Self {
        Self::mt5(
            last_error::INVALID_PARAMS,
            format!("Invalid \"{field}\" argument"),
        )
    }
    pub fn no_ipc() -> Self {
        Self::mt5(last_error::INTERNAL_FAIL_CONNECT, "No IPC connection")
    }
    pub fn ipc_timeout() -> Self {
        Self::mt5(last_error::INTERNAL_FAIL_TIMEOUT, "IPC timeout")
    }
    /// MT5's `(code, message)` pair, as `last_error()` would give it.
    pub fn last_error(&self) -> (i32, String) {
        match self {
            TerminalError::Mt5 { code, message } => (*code, message.clone()),
            TerminalError::WrongAccount { .. } => {
                (last_error::FAIL, "Terminal: wrong account".into())
            }
            TerminalError::Timeout => (last_error::INTERNAL_FAIL_TIMEOUT, "IPC timeout".into()),
            TerminalError::Unavailable(_) | TerminalError::NotSent(_) => (
                last_error::INTERNAL_FAIL_CONNECT,
                "No IPC connection".into(),
            ),
        }
    }
    /// A failed login because the credentials (login, password or server) were refused.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self, TerminalError::Mt5 { code, .. } if *code == last_error::AUTH_FAILED || *code == last_error::UNSUPPORTED)
    }
    /// The terminal or its connection is the problem, not the request: retrying elsewhere may succeed.
    pub fn is_connection(&self) -> bool {
        match self {
            TerminalError::Unavailable(_) | TerminalError::Timeout => true,
            TerminalError::NotSent(why) => why.starts_with(NO_CONNECTION),
            TerminalError::Mt5 { code, .. } => *code <= last_error::INTERNAL_FAIL,
            TerminalError::WrongAccount { .. } => false,
        }
    }
    /// Whether the terminal itself is out of reach (take it out of service until it answers).
    pub fn is_terminal_down(&self) -> bool {
        match self {
            TerminalError::Unavailable(_) => true,
            TerminalError::NotSent(why) => why.starts_with(NO_CONNECTION),
            _ => false,
        }
    }
    /// Whether the call certainly did not run: an order that failed so may be sent again.
    pub fn is_not_sent(&self) -> bool {
        match self {
            TerminalError::NotSent(_) | TerminalError::WrongAccount { .. } => true,
            // MT5 refuses bad arguments and disabled algo trading before anything leaves the
            // terminal.
            TerminalError::Mt5 { code, .. } => {
                *code == last_error::INVALID_PARAMS || *code == last_error::AUTO_TRADING_DISABLED
            }
            _ => false,
        }
    }
    /// Whether the terminal refused to trade because trading is switched off on it (MT5's `-8`,
    /// "Autotrading disabled"): nothing ran; another terminal may trade.
    pub fn is_trading_disabled(&self) -> bool {
        matches!(self, TerminalError::Mt5 { code, .. } if *code == last_error::AUTO_TRADING_DISABLED)
    }
    pub fn trading_disabled() -> Self {
        Self::mt5(
            last_error::AUTO_TRADING_DISABLED,
            "Terminal: Autotrading disabled",
        )
    }
    /// MT5 answered "not found" (-4): for the calls that name a symbol, the symbol is unknown.
    pub fn is_not_found(&self) -> bool {
        matches!(self, TerminalError::Mt5 { code, .. } if *code == last_error::NOT_FOUND)
    }
    pub fn is_timeout(&self) -> bool {
        matches!(self, TerminalError::Timeout)
            || matches!(self, TerminalError::Mt5 { code, .. } if *code == last_error::INTERNAL_FAIL_TIMEOUT)
    }
}
