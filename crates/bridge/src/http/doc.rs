//! The vocabulary the handlers' OpenAPI annotations share: the error responses and the sets of
//! them routes repeat, the input vocabularies (`LoginInput`, `TimeInput`, `PlaceOrderType`, …),
//! the headers, `True`/`Success`, health and readiness. A leaf of the HTTP layer: it names no
//! handler, so every handler may name it (the document itself is assembled in `openapi.rs`).

pub use crate::error::ErrorBody;
use crate::error::ErrorCode;
pub use crate::risk::RiskLimits;
use mt5::enums::Mt5Enum;
pub use mt5::openapi::UNKNOWN_PATTERN;
pub use mt5::{
    OrderCheckResult, OrderSendResult, PositionType, Rate, SymbolInfo, Tick, TradeDeal, TradeOrder,
    TradePosition,
};
use std::borrow::Cow;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response as OaResponse, ResponseBuilder};
use utoipa::{IntoParams, PartialSchema, ToResponse, ToSchema};
use uuid::Uuid;

/// `true`: the body of a success that carries it.
fn always_true() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
}

// The schema of the error codes is made from `ErrorCode`'s own table.
impl PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("A stable error code; see docs/errors.md"))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

/// The names a request may send for an MT5 enum (no `unknown_<n>`), as their own components.
macro_rules! mt5_input_enums {
    ($($name:ident => $enum:ident),+ $(,)?) => {$(
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                mt5::openapi::input_schema::<mt5::$enum>()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

mt5_input_enums!(
    OrderFillingInput => OrderFilling,
    OrderTimeInput => OrderTime,
    TimeframeInput => Timeframe,
);

/// `true`: the `success` of an answer that carries it (always true there; errors say `false`).
#[derive(Debug, Clone, Copy)]
pub struct True;

impl serde::Serialize for True {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(true)
    }
}

impl PartialSchema for True {
    fn schema() -> RefOr<Schema> {
        always_true().into()
    }
}

impl ToSchema for True {}

/// A success with nothing more to say.
#[derive(serde::Serialize, ToSchema)]
pub struct Success {
    pub success: True,
}

fn error_response(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    )
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

/// Reusable error responses (`#/components/responses/...`), one per status that many routes share.
macro_rules! error_responses {
    ($($(#[$m:meta])* $name:ident => $description:literal $(, header $h:literal => $hd:literal)?;)+) => {$(
        $(#[$m])*
        pub struct $name;
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<OaResponse>) {
                #[allow(unused_mut)] // only some responses add a header
                let mut b = error_response($description);
                $(b = b.header($h, string_header($hd));)?
                (stringify!($name), b.build().into())
            }
        }
    )+};
}

error_responses! {
    InvalidJson => "`invalid_json`: the body is not valid JSON";
    Unauthorized => "`unauthorized`: missing, malformed or expired token, or one this service does not accept",
        header "WWW-Authenticate" => "`Bearer`";
    PayloadTooLarge => "`payload_too_large`: the body is over 64 KiB";
    RateLimited => "`rate_limited`: a limit was reached; `details` has `scope` (`switches_per_user`, `trades_per_account`, `failed_connects_per_user`, `failed_logins_per_login`, `refusals_per_user`, `dry_runs_per_user`, `queue_per_user`, `streams_per_user`), `limit`, `window_seconds` (0 for `queue_per_user` and `streams_per_user`), `retry_after_seconds`",
        header "Retry-After" => "Seconds until a retry may pass";
    Internal => "`internal_error`: a fault of the service, never of the input (logged with the request id)";
    TerminalUnavailable => "`terminal_unavailable`: no terminal can serve the request now (for an order, `details` has `journal_id` and `status` `not_executed`: nothing ran and its key may be sent again); `database_unavailable`: the database does not answer; `journal_unavailable`: an order was sent but its outcome could not be recorded (`details.journal_id`; it settles from the broker's history); or, with `REDIS_URL`, `redis_unavailable`: Redis does not answer",
        header "Retry-After" => "With `database_unavailable`, `journal_unavailable` and `redis_unavailable`: seconds to wait";
    DatabaseUnavailable => "`database_unavailable`: the database does not answer; nothing was done",
        header "Retry-After" => "Seconds to wait";
    TerminalTimeout => "`terminal_timeout`: the terminal did not answer in time; for an order, `details` has `journal_id` and `status` `unknown`: it may have executed; `GET /api/v1/journal/{id}` shows it once the broker's history settles it";
    NoAccountToActOn => "`account_not_found` (`X-Account-Id` names no account of the user's); `no_account` (none to act on)";
    TradingReadInvalid => "`validation_failed`: a parameter or a stored setting (e.g. `risk_limits`) is invalid; `invalid_combination`: parameters valid one by one that cannot go together (`count` with `from`/`to`, `from` after `to`, a window over 366 days, `from`/`to` other than the `cursor`'s window)";
    CredentialsInvalid => "`account_credentials_invalid`: the account's stored credential cannot serve (`details.reason`: `undecryptable`, or `refused_by_mt5` with MT5's error); nothing ran. Set the password again";
    InProgressOrCredentialsInvalid => "`request_in_progress`: a request with this `Idempotency-Key` is still running after a 2 s wait (`details.journal_id`; `Retry-After: 1`); `order_outcome_unknown`: the order sent with this key is `unknown` (`details.journal_id`; `Retry-After`); `account_credentials_invalid`: the stored credential cannot serve (`details.reason`); nothing was sent",
        header "Retry-After" => "With `request_in_progress` and `order_outcome_unknown`: seconds until a retry may be answered";
    TradingDisabledOrReadOnly => "`trading_disabled`: the account's kill switch is on; `read_only_account`: the terminal reports that trading is not allowed on this account (an investor password); nothing was sent (journaled as `refused`)";
}

/// Sets of the reusable responses above that many routes share whole: a route lists its own
/// success (and its 404 or 422 where they say more) beside one of these. Each is a `$ref` per
/// status, the same document as listing them one by one.
macro_rules! response_sets {
    ($($(#[$m:meta])* $name:ident => [$($status:literal => $response:ident),+ $(,)?];)+) => {$(
        $(#[$m])*
        pub struct $name;
        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<String, RefOr<OaResponse>> {
                [$(($status, <$response as ToResponse<'static>>::response().0)),+]
                    .into_iter()
                    .map(|(status, name)| {
                        (status.to_string(), RefOr::Ref(Ref::from_response_name(name)))
                    })
                    .collect()
            }
        }
    )+};
}

response_sets! {
    /// A read on the resolved account's terminal: 401, 409, 422, 500, 503, 504 (404 is the route's).
    TerminalReadErrors => [
        "401" => Unauthorized, "409" => CredentialsInvalid, "422" => TradingReadInvalid,
        "500" => Internal, "503" => TerminalUnavailable, "504" => TerminalTimeout,
    ];
    /// An order sent on the resolved account: 400, 401, 403, 409, 413, 429, 500, 503, 504 (404 and
    /// 422 are the route's).
    OrderErrors => [
        "400" => InvalidJson, "401" => Unauthorized, "403" => TradingDisabledOrReadOnly,
        "409" => InProgressOrCredentialsInvalid, "413" => PayloadTooLarge, "429" => RateLimited,
        "500" => Internal, "503" => TerminalUnavailable, "504" => TerminalTimeout,
    ];
}

/// An RFC 3339 time, or epoch seconds (UTC).
pub struct TimeInput;

impl PartialSchema for TimeInput {
    fn schema() -> RefOr<Schema> {
        // The years say what the service accepts whatever the offset: from 1970-01-01T00:00:00Z
        // to before 2100-01-01T00:00:00Z (`times::TIME_RULE`).
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    )))
                    .pattern(Some(TIME_INPUT_PATTERN)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(crate::times::EARLIEST_INPUT_S))
                    .maximum(Some(crate::times::END_OF_INPUT_S - 1)),
            )
            .description(Some(
                "An RFC 3339 time (any offset) or epoch seconds (UTC), from 1970 to before 2100",
            ))
            .into()
    }
}

/// The years an RFC 3339 input time may name whatever its offset (1971 to 2098).
pub const TIME_INPUT_PATTERN: &str = "^(197[1-9]|19[89][0-9]|20[0-8][0-9]|209[0-8])-";

impl ToSchema for TimeInput {}

// ---- Service ----

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Ok,
}

/// `GET /healthz`'s answer.
#[derive(serde::Serialize, ToSchema)]
pub struct Health {
    pub status: HealthStatus,
}

#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    NotReady,
}

#[derive(Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Failed,
}

/// `GET /readyz`'s answer.
#[derive(serde::Serialize, ToSchema)]
pub struct Readiness {
    pub status: ReadyStatus,
    pub checks: ReadinessChecks,
    /// Terminals in service whose trading is switched off (`terminal_info()`: "Algo Trading" off
    /// or `tradeapi_disabled`). They still serve reads; orders go to the others, and answer
    /// `503 terminal_trading_disabled` when none is left. Not a readiness failure.
    pub terminals_trading_disabled: usize,
}

/// One entry per check.
#[derive(serde::Serialize, ToSchema)]
pub struct ReadinessChecks {
    /// A trivial query on the store.
    pub store: CheckStatus,
    /// The pool has at least one terminal in service.
    pub terminals: CheckStatus,
    /// Redis answers a PING (only with `REDIS_URL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, value_type = CheckStatus)]
    pub redis: Option<CheckStatus>,
}

// ---- Accounts ----

/// An MT5 login: a positive integer, as a JSON number or a string of digits.
pub struct LoginInput;

impl PartialSchema for LoginInput {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    // The largest integer every JSON reader keeps exactly.
                    .maximum(Some(9_007_199_254_740_991_u64)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[1-9][0-9]{0,18}$")),
            )
            .description(Some(
                "A positive integer, as a JSON number or a string of digits",
            ))
            .into()
    }
}

impl ToSchema for LoginInput {}

// ---- Trading ----

/// The account a trading route acts on.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct AccountHeader {
    /// One of the user's accounts (another's is `404 account_not_found`); when absent, the current
    /// account (the last switch), else the default.
    #[param(rename = "X-Account-Id", required = false, value_type = Uuid)]
    pub x_account_id: Option<Uuid>,
}

/// A trading route that sends an order.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct OrderHeaders {
    /// One of the user's accounts; when absent, the current account, else the default.
    #[param(rename = "X-Account-Id", required = false, value_type = Uuid)]
    pub x_account_id: Option<Uuid>,
    /// Up to 255 characters: the same key returns the first response and sends nothing.
    #[param(
        rename = "Idempotency-Key",
        required = false,
        value_type = String,
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]([ -~]{0,253}[!-~])?$"
    )]
    pub idempotency_key: Option<String>,
}

/// The order types `POST /orders` places.
pub struct PlaceOrderType;

impl PartialSchema for PlaceOrderType {
    fn schema() -> RefOr<Schema> {
        let names: Vec<&str> = <mt5::OrderType as Mt5Enum>::all()
            .iter()
            .filter(|t| t.is_market() || t.is_pending())
            .filter_map(|t| t.known_name())
            .collect();
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .description(Some(
                "A market or pending order type (accepted in any case)",
            ))
            .into()
    }
}

impl ToSchema for PlaceOrderType {}

// ---- Algorithms ----
