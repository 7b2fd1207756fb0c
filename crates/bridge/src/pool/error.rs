//! Why the pool could not run an operation ([`PoolError`]), and the password source's own failure
//! ([`PasswordUnavailable`]).
//!
//! The pool sits below the HTTP layer and names none of its types: `error.rs` turns a
//! [`PoolError`] into the API's answer in one `From`, so the pool's outcomes map to the API's
//! codes once.

use mt5::TerminalError;

/// Why the pool could not run an operation.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No terminal can serve: none configured, the pool closed, the queue full, or the guard
    /// refused twice (`terminal_unavailable`).
    #[error("no terminal is available: {0}")]
    Unavailable(String),
    /// Every terminal in service has trading switched off; the order was not sent.
    #[error("every terminal in service has trading switched off")]
    TradingDisabled,
    /// The user already has `limit` requests waiting (`429`, scope `queue_per_user`).
    #[error("the user already has {limit} requests waiting")]
    UserQueueFull { limit: u32 },
    /// The session reports that trading is not allowed on the account.
    #[error("trading is not allowed on the account")]
    ReadOnly,
    /// The deadline passed, waiting included.
    #[error("the deadline passed")]
    Timeout,
    /// A login failed (MT5 refused it, or the terminal could not be reached).
    #[error("login failed: {0}")]
    Login(#[source] TerminalError),
    /// The operation failed on the terminal.
    #[error(transparent)]
    Terminal(TerminalError),
    /// The password source could not give a password (a credential known to be bad, a store
    /// that did not answer); no login was tried.
    #[error(transparent)]
    Password(#[from] PasswordUnavailable),
}

/// The password source's failure, carrying the caller's own error untouched: the pool only
/// passes it back, so the caller answers it exactly as it would have without the pool (the
/// API's `From<PoolError>` takes its `ApiError` back out).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct PasswordUnavailable(Box<dyn std::error::Error + Send + Sync>);

impl PasswordUnavailable {
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        PasswordUnavailable(cause.into())
    }

    /// The caller's error, to be taken back by `downcast`.
    pub fn into_inner(self) -> Box<dyn std::error::Error + Send + Sync> {
        self.0
    }
}

impl PoolError {
    /// How an operation's failure on a terminal is answered: a terminal whose own trading switch
    /// is off is `TradingDisabled` (orders go elsewhere), anything else the terminal's error.
    pub fn of_terminal(e: TerminalError) -> PoolError {
        if e.is_trading_disabled() {
            PoolError::TradingDisabled
        } else {
            PoolError::Terminal(e)
        }
    }
}

/// Whether a failure ends the use of the lease it happened on: the connection lost, another
/// session on the terminal (the guard refused), or its trading switch off. The pool then forgets
/// the session, takes the terminal out or keeps orders off it.
pub fn ends_lease(e: &TerminalError) -> bool {
    e.is_connection() || e.is_trading_disabled() || matches!(e, TerminalError::WrongAccount { .. })
}
