//! The HTTP error type: every failure a client can see, each with its stable code ([`ErrorCode`]:
//! status and meaning, the table docs/errors.md is checked against). Bodies are `{"success": false, "error": {code, message, details}}`.

pub use crate::error_code::ErrorCode;
use crate::pool::{PasswordUnavailable, PoolError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use mt5::TerminalError;
use serde::Serialize;
use serde_json::{json, Value};

/// One field at fault in a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// The field is valid on its own and refused only with another (`invalid_combination`).
    #[serde(skip)]
    pub combination: bool,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
            combination: false,
        }
    }

    /// A field valid on its own that cannot go with another the request sets (a pending order
    /// without a price, `count` with `from`): what no schema of one field can say.
    pub fn combination(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            combination: true,
            ..FieldError::new(field, message)
        }
    }
}

/// Why a stored credential cannot serve (`account_credentials_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CredentialProblem {
    /// The ciphertext does not open under its row binding (altered, moved or not ours).
    Undecryptable,
    /// MT5 refused the password (e.g. changed at the broker); MT5's own code and message.
    RefusedByMt5 { code: i32, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("anonymous users may not store MT5 credentials")]
    AnonymousNotAllowed,
    /// JWT_REQUIRE_AAL2 is set and the token's `aal` is not `aal2`.
    #[error("multi-factor authentication is required to store MT5 credentials")]
    MfaRequired,
    #[error("account not found")]
    AccountNotFound,
    #[error("no MT5 account: connect one first")]
    NoAccount,
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("this route is a WebSocket: send an upgrade request")]
    UpgradeRequired,
    #[error("this MT5 login and server are already connected")]
    AccountExists,
    #[error("a saved algorithm with this name exists")]
    AlgorithmExists,
    /// The user has as many saved configurations as `ALGORITHMS_PER_USER` allows.
    #[error("saved algorithms are limited to {limit} per user: delete one first")]
    AlgorithmLimitReached { limit: u32, current: u64 },
    #[error("request body is larger than 64 KiB")]
    PayloadTooLarge,
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("request validation failed")]
    Validation(Vec<FieldError>),
    /// Fields each valid on their own that cannot go together.
    #[error("these fields cannot go together")]
    InvalidCombination(Vec<FieldError>),
    #[error("MT5 refused the login: {message}")]
    Mt5LoginFailed { code: i32, message: String },
    /// The row's stored credential cannot serve: it does not decrypt for the row, or MT5 refused
    /// it. Nothing was sent; setting the password again through the API clears it.
    #[error("the stored MT5 credential of this account cannot be used: set its password again")]
    AccountCredentialsInvalid(CredentialProblem),
    #[error("the terminal reports that trading is not allowed on this account")]
    ReadOnlyAccount,
    #[error("the account type does not match what the terminal reports")]
    AccountTypeMismatch { declared: String, reported: String },
    #[error("no terminal is available: {0}")]
    TerminalUnavailable(String),
    #[error("the terminal did not answer in time")]
    TerminalTimeout,
    /// Every terminal in service has trading switched off ("Algo Trading" off, or the API barred
    /// from trading): the order was not sent. Reads still work.
    #[error("no terminal can trade now: trading is switched off on every terminal; the order was not sent")]
    TerminalTradingDisabled,
    /// An order reached the terminal side and its answer was lost: its journal entry is `unknown`
    /// until the broker's history settles it. Answered as `terminal_timeout`.
    #[error("the terminal did not answer in time: the order's outcome is unknown until the broker's history settles it")]
    OrderInDoubt { journal_id: uuid::Uuid },
    /// An order certainly did not run (never sent, or refused before it started): its entry is
    /// `not_executed` and its key may be sent again. Answered as `terminal_unavailable`.
    #[error("no terminal is available: the order was not sent")]
    OrderNotSent { journal_id: uuid::Uuid, why: String },
    /// An earlier request with this key is `unknown`: it may have executed.
    #[error("the outcome of the order sent with this Idempotency-Key is not known yet")]
    OrderOutcomeUnknown { journal_id: uuid::Uuid },
    /// The broker answered but the journal could not record it; it settles from the broker's
    /// history once the database is back.
    #[error("the order was sent but its outcome could not be recorded: it settles from the broker's history when the database is back")]
    OutcomeNotRecorded { journal_id: uuid::Uuid, why: String },
    #[error("journal entry not found")]
    JournalEntryNotFound,
    /// The database does not answer (restarting, unreachable); nothing was done.
    #[error("the database is unavailable: {0}")]
    DatabaseUnavailable(String),
    /// Redis (sessions, rate limits, terminal ownership) is away; nothing was done.
    #[error("shared state (Redis) is unavailable: {0}")]
    StateUnavailable(String),
    /// HTTP_MAX_CONNECTIONS sockets or STREAM_MAX_PENDING unauthenticated streams are open.
    #[error("the service has too many open connections, try again shortly")]
    TooManyConnections,
    #[error("too many requests: limit of {limit} per {window_s} s for {scope}")]
    RateLimited {
        scope: &'static str,
        limit: u32,
        window_s: u64,
        retry_after_s: u64,
    },
    #[error("symbol not found")]
    SymbolNotFound,
    #[error("position not found")]
    PositionNotFound,
    #[error("order not found")]
    OrderNotFound,
    #[error("the broker rejected the request: {comment}")]
    TradeRejected { retcode: u32, comment: String },
    #[error("trading is disabled on this account (risk_limits.trading_enabled is false)")]
    TradingDisabled,
    #[error("{message}")]
    RiskLimitExceeded {
        limit: &'static str,
        message: String,
        details: Value,
    },
    #[error("algorithm not found")]
    AlgorithmNotFound,
    #[error("algorithm run not found")]
    RunNotFound,
    #[error("backtest not found")]
    BacktestNotFound,
    #[error("bot not found")]
    BotNotFound,
    /// On a netting account another running or paused bot trades the symbol.
    #[error("another bot of this netting account trades {symbol}: one position per symbol")]
    BotSymbolTaken { symbol: String, bot_id: uuid::Uuid },
    /// BOTS_PER_USER or BOTS_PER_ACCOUNT reached.
    #[error("bots are limited to {limit} per {per} ({setting}): delete a stopped one first")]
    BotLimitReached {
        setting: &'static str,
        per: &'static str,
        limit: u32,
        current: u64,
    },
    /// The bot's state does not allow the change (e.g. deleting a running bot).
    #[error("the bot is {state}: {message}")]
    BotStateConflict {
        state: String,
        message: &'static str,
    },
    #[error("this is a live account: send \"confirm_live\": true to run an algorithm on it")]
    LiveConfirmationRequired,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    RequestInProgress { journal_id: uuid::Uuid },
    /// Unexpected failure (store down, bug). Logged once by middleware; the client sees no detail.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    /// One field valid on its own that cannot go with the others given (`invalid_combination`).
    pub fn combination(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidCombination(vec![FieldError::combination(field, message)])
    }

    /// The refusal of these fields: `invalid_combination` when every one of them is valid on its
    /// own, else `validation_failed` (listing them all).
    pub fn fields(errors: Vec<FieldError>) -> Self {
        if !errors.is_empty() && errors.iter().all(|e| e.combination) {
            ApiError::InvalidCombination(errors)
        } else {
            ApiError::Validation(errors)
        }
    }

    /// Its stable code (with the status and meaning in [`ErrorCode`]'s table).
    pub fn code(&self) -> ErrorCode {
        use ApiError::*;
        match self {
            Unauthorized(_) => ErrorCode::Unauthorized,
            AnonymousNotAllowed => ErrorCode::AnonymousNotAllowed,
            MfaRequired => ErrorCode::MfaRequired,
            AccountNotFound => ErrorCode::AccountNotFound,
            NoAccount => ErrorCode::NoAccount,
            RouteNotFound => ErrorCode::NotFound,
            MethodNotAllowed => ErrorCode::MethodNotAllowed,
            UpgradeRequired => ErrorCode::UpgradeRequired,
            AccountExists => ErrorCode::AccountExists,
            AlgorithmExists => ErrorCode::AlgorithmExists,
            AlgorithmLimitReached { .. } => ErrorCode::AlgorithmLimitReached,
            PayloadTooLarge => ErrorCode::PayloadTooLarge,
            InvalidJson(_) => ErrorCode::InvalidJson,
            Validation(_) => ErrorCode::ValidationFailed,
            InvalidCombination(_) => ErrorCode::InvalidCombination,
            Mt5LoginFailed { .. } => ErrorCode::Mt5LoginFailed,
            AccountCredentialsInvalid(_) => ErrorCode::AccountCredentialsInvalid,
            ReadOnlyAccount => ErrorCode::ReadOnlyAccount,
            AccountTypeMismatch { .. } => ErrorCode::AccountTypeMismatch,
            TerminalUnavailable(_) => ErrorCode::TerminalUnavailable,
            TerminalTimeout | OrderInDoubt { .. } => ErrorCode::TerminalTimeout,
            OrderNotSent { .. } => ErrorCode::TerminalUnavailable,
            TerminalTradingDisabled => ErrorCode::TerminalTradingDisabled,
            OrderOutcomeUnknown { .. } => ErrorCode::OrderOutcomeUnknown,
            OutcomeNotRecorded { .. } => ErrorCode::JournalUnavailable,
            JournalEntryNotFound => ErrorCode::JournalEntryNotFound,
            DatabaseUnavailable(_) => ErrorCode::DatabaseUnavailable,
            StateUnavailable(_) => ErrorCode::RedisUnavailable,
            TooManyConnections => ErrorCode::TooManyConnections,
            RateLimited { .. } => ErrorCode::RateLimited,
            SymbolNotFound => ErrorCode::SymbolNotFound,
            PositionNotFound => ErrorCode::PositionNotFound,
            OrderNotFound => ErrorCode::OrderNotFound,
            TradeRejected { .. } => ErrorCode::TradeRejected,
            TradingDisabled => ErrorCode::TradingDisabled,
            AlgorithmNotFound => ErrorCode::AlgorithmNotFound,
            RunNotFound => ErrorCode::RunNotFound,
            BacktestNotFound => ErrorCode::BacktestNotFound,
            BotNotFound => ErrorCode::BotNotFound,
            BotSymbolTaken { .. } => ErrorCode::BotSymbolTaken,
            BotLimitReached { .. } => ErrorCode::BotLimitReached,
            BotStateConflict { .. } => ErrorCode::BotStateConflict,
            LiveConfirmationRequired => ErrorCode::LiveConfirmationRequired,
            RiskLimitExceeded { .. } => ErrorCode::RiskLimitExceeded,
            IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            RequestInProgress { .. } => ErrorCode::RequestInProgress,
            Internal(_) => ErrorCode::InternalError,
        }
    }

    /// (status, stable code), from [`ErrorCode`].
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let code = self.code();
        (code.status(), code.as_str())
    }

    pub fn details(&self) -> Value {
        match self {
            ApiError::Validation(fields) | ApiError::InvalidCombination(fields) => {
                json!({ "fields": fields })
            }
            ApiError::Mt5LoginFailed { code, message } => json!({
                "mt5_error_code": code,
                "mt5_error_name": mt5::error::last_error::name(*code),
                "mt5_error_message": message,
            }),
            ApiError::AccountCredentialsInvalid(CredentialProblem::Undecryptable) => {
                json!({ "reason": "undecryptable" })
            }
            ApiError::AccountCredentialsInvalid(CredentialProblem::RefusedByMt5 {
                code,
                message,
            }) => {
                json!({
                    "reason": "refused_by_mt5",
                    "mt5_error_code": code,
                    "mt5_error_name": mt5::error::last_error::name(*code),
                    "mt5_error_message": message,
                })
            }
            ApiError::AlgorithmLimitReached { limit, current } => {
                json!({ "limit": limit, "current": current })
            }
            ApiError::BotLimitReached {
                setting,
                limit,
                current,
                ..
            } => {
                json!({ "limit": limit, "current": current, "setting": setting })
            }
            ApiError::BotSymbolTaken { symbol, bot_id } => {
                json!({ "symbol": symbol, "bot_id": bot_id })
            }
            ApiError::BotStateConflict { state, .. } => json!({ "state": state }),
            ApiError::AccountTypeMismatch { declared, reported } => {
                json!({ "account_type": declared, "terminal_account_type": reported })
            }
            ApiError::RateLimited {
                scope,
                limit,
                window_s,
                retry_after_s,
            } => json!({
                "scope": scope, "limit": limit, "window_seconds": window_s, "retry_after_seconds": retry_after_s,
            }),
            ApiError::TradeRejected { retcode, comment } => json!({
                "retcode": retcode, "retcode_name": mt5::retcode::name(*retcode), "comment": comment,
            }),
            ApiError::RiskLimitExceeded { details, .. } => details.clone(),
            ApiError::OrderInDoubt { journal_id } => {
                json!({ "journal_id": journal_id, "status": "unknown" })
            }
            ApiError::OrderNotSent { journal_id, .. } => {
                json!({ "journal_id": journal_id, "status": "not_executed" })
            }
            ApiError::OrderOutcomeUnknown { journal_id }
            | ApiError::RequestInProgress { journal_id } => json!({ "journal_id": journal_id }),
            ApiError::OutcomeNotRecorded { journal_id, .. } => {
                json!({ "journal_id": journal_id, "status": "pending" })
            }
            _ => Value::Null,
        }
    }

    /// The message the client sees: internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal error".to_string(),
            ApiError::TerminalUnavailable(_) => {
                "no terminal is available, try again later".to_string()
            }
            ApiError::StateUnavailable(_) => {
                "shared state is unavailable, try again later".to_string()
            }
            ApiError::DatabaseUnavailable(_) => {
                "the database is unavailable, try again later".to_string()
            }
            other => other.to_string(),
        }
    }

    /// Maps a terminal failure met while logging in to verify credentials.
    pub fn from_login_error(e: TerminalError) -> Self {
        if e.is_auth_failure() {
            let (code, message) = e.last_error();
            return ApiError::Mt5LoginFailed { code, message };
        }
        ApiError::from(e)
    }
}

/// MT5's `-2` (invalid arguments) as `validation_failed`: the argument its message names
/// (`Invalid "volume" argument`), else `request`, with MT5's message.
pub fn invalid_argument(message: &str) -> ApiError {
    let field = message
        .split('"')
        .nth(1)
        .filter(|f| {
            !f.is_empty()
                && f.len() <= 64
                && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .unwrap_or("request");
    ApiError::validation(field, message.chars().take(200).collect::<String>())
}

impl From<TerminalError> for ApiError {
    fn from(e: TerminalError) -> Self {
        if e.is_timeout() {
            return ApiError::TerminalTimeout;
        }
        match e {
            TerminalError::Mt5 { code, message } if code == mt5::error::last_error::AUTH_FAILED => {
                ApiError::Mt5LoginFailed { code, message }
            }
            // Terminal calls name a symbol when MT5 can answer "not found" (-4).
            e if e.is_not_found() => ApiError::SymbolNotFound,
            // MT5 refused the arguments (-2): a request error naming the argument, not an outage.
            TerminalError::Mt5 { code, message }
                if code == mt5::error::last_error::INVALID_PARAMS =>
            {
                invalid_argument(&message)
            }
            TerminalError::WrongAccount { .. } => {
                ApiError::TerminalUnavailable("terminal guard mismatch".into())
            }
            other => ApiError::TerminalUnavailable(other.to_string()),
        }
    }
}

/// The pool's outcomes as the API answers them: the one place they map to codes.
impl From<PoolError> for ApiError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Unavailable(why) => ApiError::TerminalUnavailable(why),
            PoolError::TradingDisabled => ApiError::TerminalTradingDisabled,
            PoolError::UserQueueFull { limit } => ApiError::RateLimited {
                scope: "queue_per_user",
                limit,
                window_s: 0,
                retry_after_s: 1,
            },
            PoolError::ReadOnly => ApiError::ReadOnlyAccount,
            PoolError::Timeout => ApiError::TerminalTimeout,
            PoolError::Login(e) => ApiError::from_login_error(e),
            PoolError::Terminal(e) => ApiError::from(e),
            // The password source's refusal is an `ApiError` of its caller's, answered as is.
            PoolError::Password(e) => match e.into_inner().downcast::<ApiError>() {
                Ok(e) => *e,
                Err(other) => ApiError::Internal(format!("password: {other}")),
            },
        }
    }
}

/// A password source's refusal (`?` inside one), handed back through the pool untouched.
impl From<ApiError> for PasswordUnavailable {
    fn from(e: ApiError) -> Self {
        PasswordUnavailable::new(e)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(_) => ApiError::AccountExists,
            crate::store::StoreError::Database(msg) => ApiError::Internal(format!("store: {msg}")),
            crate::store::StoreError::Unavailable(msg) => ApiError::DatabaseUnavailable(msg),
        }
    }
}

impl From<crate::unavailable::Unavailable> for ApiError {
    fn from(e: crate::unavailable::Unavailable) -> Self {
        ApiError::StateUnavailable(e.0)
    }
}

/// Carried in response extensions so the logging middleware can log internal errors once, with
/// the request id, without the handler logging them too.
#[derive(Debug, Clone)]
pub struct InternalErrorNote(pub String);

impl ApiError {
    /// The body a client gets: the one place it is built (responses, and the journal's stored
    /// outcomes that replays answer with).
    pub fn body(&self) -> Value {
        let body = ErrorBody {
            success: false,
            error: ErrorDetail {
                code: self.code(),
                message: self.public_message(),
                details: self.details(),
            },
        };
        serde_json::to_value(body).unwrap_or(Value::Null)
    }
}

/// Every error response: `{"success": false, "error": {"code", "message", "details"}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    #[schema(schema_with = always_false)]
    pub success: bool,
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// For people; may change.
    pub message: String,
    /// Per code (docs/errors.md): e.g. `fields` for `validation_failed`, `retcode`, `retcode_name`
    /// and `comment` for `trade_rejected`; null when the code has none.
    #[schema(required = true, value_type = Option<Object>)]
    pub details: Value,
}

/// `false`: the `success` of every error body.
fn always_false() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([false]))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code().status();
        let body = self.body();
        let mut resp = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_s, .. } = &self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        match &self {
            // Redis and the database reconnect within a second or two when they are back.
            ApiError::StateUnavailable(_)
            | ApiError::DatabaseUnavailable(_)
            | ApiError::TooManyConnections
            | ApiError::OutcomeNotRecorded { .. }
            // The first request of the key is still running: it ends within its deadline.
            | ApiError::RequestInProgress { .. } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // The reconciler looks again every second or two while an entry is unknown.
            ApiError::OrderOutcomeUnknown { .. } => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Internal(msg)
        | ApiError::TerminalUnavailable(msg)
        | ApiError::StateUnavailable(msg)
        | ApiError::DatabaseUnavailable(msg)
        | ApiError::OrderNotSent { why: msg, .. }
        | ApiError::OutcomeNotRecorded { why: msg, .. } = &self
        {
            resp.extensions_mut().insert(InternalErrorNote(msg.clone()));
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
