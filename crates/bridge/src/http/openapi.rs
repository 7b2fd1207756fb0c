//! The OpenAPI 3.1 document of the HTTP API, served at `/openapi.json`, and the `/docs` page
//! (Swagger UI, its files built into the binary).
//!
//! Operations come from the `#[utoipa::path]` annotations on the handlers. Schemas come from the
//! types themselves:
//! - answers: the structures the handlers serialize (`AccountSummary`, `JournalEntryView`, …, in
//!   the handler modules; MT5's structures from the `mt5` crate's `openapi` feature, written with
//!   their times in RFC 3339 UTC by `times::Utc`; the error body from `error.rs`);
//! - request bodies and query strings: the types that parse them (`#[derive(Request)]` beside
//!   `ToSchema` or `IntoParams`, `http/validate.rs`), beside their handlers;
//!
//! What is left here: the document's assembly, the shared error responses, input vocabularies
//! (`LoginInput`, `TimeInput`, `PlaceOrderType`, …), the headers, and the modifier that closes
//! every object schema. `tests/it/openapi.rs` checks every route against the document and every
//! response against its schema.

pub use super::accounts::{
    Account, AccountEnvelope, AccountList, AccountSummary, AccountType, AccountUpdated, AuditPage,
    ConnectResponse, CurrentAccountResponse, SwitchResponse,
};
pub use super::market::AccountInfoBody;
pub use crate::error::ErrorBody;
use crate::error::{ApiError, ErrorCode};
pub use crate::risk::RiskLimits;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use mt5::enums::Mt5Enum;
pub use mt5::openapi::UNKNOWN_PATTERN;
pub use mt5::{
    OrderCheckResult, OrderSendResult, PositionType, Rate, SymbolInfo, Tick, TradeDeal, TradeOrder,
    TradePosition,
};
use std::borrow::Cow;
use std::sync::LazyLock;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response as OaResponse, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};
use uuid::Uuid;

/// Where the document is served, and the page that shows it.
pub const DOCUMENT_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mt5-bridge",
        description = "One HTTP API for many users trading on their own MetaTrader 5 accounts. \
            Every `/api/v1` route needs `Authorization: Bearer <Supabase JWT>`. Errors are \
            `{\"success\": false, \"error\": {\"code\", \"message\", \"details\"}}`; the codes are in \
            docs/errors.md, the enums in docs/enums.md. The live stream `GET /api/v1/stream` (a \
            WebSocket) is described by the AsyncAPI document at [/asyncapi.json](/asyncapi.json).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        super::healthz,
        super::readyz,
        super::metrics,
        document,
        super::asyncapi::document,
        super::accounts::connect,
        super::accounts::list,
        super::accounts::audit_log,
        super::accounts::current,
        super::accounts::get_one,
        super::accounts::update,
        super::accounts::delete,
        super::accounts::switch,
        super::market::account,
        super::market::symbols,
        super::market::symbol,
        super::market::tick,
        super::market::rates,
        super::positions::positions,
        super::positions::modify_position,
        super::positions::close_position,
        super::orders::orders,
        super::orders::place_order,
        super::orders::check_order,
        super::orders::modify_order,
        super::orders::cancel_order,
        super::history::history_deals,
        super::history::history_orders,
        super::history::journal,
        super::history::journal_entry,
        super::stream::stream,
        super::algorithms::list,
        super::algorithms::create,
        super::algorithms::execute,
        super::algorithms::runs,
        super::algorithms::run,
        super::algorithms::get_one,
        super::algorithms::update,
        super::algorithms::delete,
    ),
    components(
        schemas(ErrorBody, ErrorCode, TimeInput, TimeframeInput),
        responses(
            InvalidJson,
            Unauthorized,
            PayloadTooLarge,
            RateLimited,
            Internal,
            TerminalUnavailable,
            DatabaseUnavailable,
            TerminalTimeout,
            NoAccountToActOn,
            TradingReadInvalid,
            CredentialsInvalid,
            InProgressOrCredentialsInvalid,
            TradingDisabledOrReadOnly
        )
    ),
    modifiers(&SecuritySchemes, &ClosedObjects, &AtLeastOneField),
    tags(
        (name = "accounts", description = "The user's MT5 accounts: connect, list, switch, update, delete (docs/api.md)"),
        (name = "trading", description = "Quotes, bars, positions, orders and history on the resolved account (docs/api.md)"),
        (name = "algorithms", description = "Built-in strategies, saved configurations, executions and runs (docs/algorithms.md)"),
        (name = "service", description = "Health, readiness, metrics and this document; no user token"),
    )
)]
pub struct ApiDoc;

/// The bearer schemes: a user's Supabase JWT, and `METRICS_TOKEN` for `/metrics`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A Supabase access token (audience `authenticated`), or one from `mt5-bridge token`",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`METRICS_TOKEN`; without it configured `/metrics` answers 401",
                    ))
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()));

/// The document as served (built once).
pub fn document_json() -> Result<&'static str, ApiError> {
    DOCUMENT
        .as_deref()
        .map_err(|e| ApiError::Internal(format!("the OpenAPI document cannot be serialized: {e}")))
}

/// The OpenAPI document (this one).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    operation_id = "openapi_document",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = inline(Object)),
        (status = 500, response = Internal),
    ),
    security(())
)]
pub async fn document() -> Response {
    match document_json() {
        Ok(doc) => ([(header::CONTENT_TYPE, "application/json")], doc).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The `/docs` page: Swagger UI served from the binary, reading [`DOCUMENT_PATH`]. The online
/// validator is off so the page makes no request to another host.
pub fn docs_page() -> SwaggerUi {
    SwaggerUi::new(DOCS_PATH).config(
        Config::new([DOCUMENT_PATH])
            .validator_url("none")
            .try_it_out_enabled(true),
    )
}

// ---- Shared pieces ----

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

/// Every object the service writes or reads has a fixed set of properties (requests with another
/// are refused; answers never carry one), so every object schema with properties is closed,
/// whether derived or built here; free-form objects (no properties) say `additionalProperties:
/// true`. A structure with a
/// flattened one (`#[serde(flatten)]`, derived as `allOf`) is written as one object, as serde
/// writes it, so that closing it keeps the flattened fields.
struct ClosedObjects;

fn close(schema: &mut RefOr<Schema>) {
    use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, Object};
    let RefOr::T(schema) = schema else { return };
    if let Schema::AllOf(all) = schema {
        if all
            .items
            .iter()
            .all(|i| matches!(i, RefOr::T(Schema::Object(_))))
        {
            let mut merged = Object::with_type(Type::Object);
            merged.description = all.description.take();
            for item in all.items.drain(..) {
                if let RefOr::T(Schema::Object(o)) = item {
                    merged.properties.extend(o.properties);
                    merged.required.extend(o.required);
                    if merged.description.is_none() {
                        merged.description = o.description;
                    }
                }
            }
            *schema = Schema::Object(merged);
        }
    }
    match schema {
        Schema::Object(o) => {
            if o.additional_properties.is_none() {
                if !o.properties.is_empty() {
                    o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
                } else if is_object_type(&o.schema_type) {
                    // Said outright, so generated clients read it as a map of anything, not as
                    // an object with no keys.
                    o.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
                }
            }
            o.properties.values_mut().for_each(close);
        }
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                close(items);
            }
        }
        Schema::OneOf(o) => o.items.iter_mut().for_each(close),
        Schema::AnyOf(o) => o.items.iter_mut().for_each(close),
        Schema::AllOf(o) => o.items.iter_mut().for_each(close),
        _ => {}
    }
}

fn is_object_type(t: &utoipa::openapi::schema::SchemaType) -> bool {
    use utoipa::openapi::schema::SchemaType;
    match t {
        SchemaType::Type(t) => *t == Type::Object,
        SchemaType::Array(ts) => ts.contains(&Type::Object),
        SchemaType::AnyValue => false,
    }
}

impl Modify for ClosedObjects {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.schemas.values_mut().for_each(close);
        }
        // Schemas written inline in an operation's body or answers.
        let close_content = |content: &mut utoipa::openapi::Content| {
            if let Some(schema) = content.schema.as_mut() {
                close(schema);
            }
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                if let Some(body) = op.request_body.as_mut() {
                    body.content.values_mut().for_each(close_content);
                }
                for response in op.responses.responses.values_mut() {
                    if let RefOr::T(r) = response {
                        r.content.values_mut().for_each(close_content);
                    }
                }
            }
        }
    }
}

/// Bodies that must set at least one of their fields (`minProperties: 1`; the derive's own
/// attribute for it writes `maxProperties`).
struct AtLeastOneField;

impl Modify for AtLeastOneField {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for name in ["ModifyPositionRequest"] {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(name) {
                o.min_properties = Some(1);
            }
        }
    }
}

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
    InProgressOrCredentialsInvalid => "`request_in_progress`: a request with this `Idempotency-Key` is still running; `order_outcome_unknown`: the order sent with this key is `unknown` (`details.journal_id`; `Retry-After`); `account_credentials_invalid`: the stored credential cannot serve (`details.reason`); nothing was sent",
        header "Retry-After" => "With `order_outcome_unknown`: seconds until the outcome may be known";
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn schema(doc: &Value, name: &str) -> Value {
        doc["components"]["schemas"][name].clone()
    }

    #[test]
    fn schemas_of_the_real_structures_are_closed_and_keep_their_times() {
        let doc: Value = serde_json::from_str(document_json().unwrap()).unwrap();
        let info = schema(&doc, "AccountInfo");
        assert_eq!(info["properties"]["account_id"]["format"], "uuid");
        assert_eq!(info["properties"]["login"]["type"], "integer");
        assert!(info["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from("company")));
        assert_eq!(info["additionalProperties"], Value::Bool(false));
        let modify = schema(&doc, "ModifyResult");
        assert!(modify["properties"]["changed"].is_object());
        assert!(modify["properties"]["request"].is_object());
        assert_eq!(modify["additionalProperties"], Value::Bool(false));
        let position = schema(&doc, "TradePosition");
        assert_eq!(position["additionalProperties"], Value::Bool(false));
        assert_eq!(position["properties"]["time"]["format"], "date-time");
        assert_eq!(
            position["properties"]["time"]["type"],
            serde_json::json!(["string", "null"])
        );
        assert_eq!(position["properties"]["ticket"]["type"], "integer");
        assert_eq!(
            position["properties"]["type"]["$ref"],
            "#/components/schemas/PositionType"
        );
        assert!(schema(&doc, "PositionType")["anyOf"].is_array());
        // Free-form objects say so, for generated clients.
        let detail = schema(&doc, "ErrorDetail");
        assert_eq!(
            detail["properties"]["details"]["additionalProperties"],
            true
        );
        let entry = schema(&doc, "JournalEntry");
        assert_eq!(entry["properties"]["request"]["additionalProperties"], true);
        let error = schema(&doc, "ErrorBody");
        assert_eq!(
            error["properties"]["success"]["enum"],
            serde_json::json!([false])
        );
        assert_eq!(error["additionalProperties"], Value::Bool(false));
    }

    /// The fields the service converts to RFC 3339 are exactly those the derived schemas call
    /// date-times (`expiration` of a trade request is converted where it appears, in `request`).
    #[test]
    fn converted_time_fields_are_the_documented_date_times() {
        let doc: Value = serde_json::from_str(document_json().unwrap()).unwrap();
        for name in [
            "AccountInfo",
            "SymbolInfo",
            "Tick",
            "Rate",
            "TradeRequest",
            "OrderCheckResult",
            "OrderSendResult",
            "TradePosition",
            "TradeOrder",
            "TradeDeal",
        ] {
            let props = schema(&doc, name)["properties"].clone();
            let props = props.as_object().unwrap_or_else(|| panic!("{name}"));
            for (field, s) in props {
                let converted = crate::times::SECONDS_FIELDS.contains(&field.as_str())
                    || crate::times::MILLIS_FIELDS.contains(&field.as_str())
                    || (name == "TradeRequest" && field == "expiration");
                assert_eq!(
                    s["format"] == "date-time",
                    converted,
                    "{name}.{field}: converted {converted}, documented {s}"
                );
            }
        }
    }

    /// The create and execute bodies list every built-in strategy with its parameters exactly as
    /// the strategy states them (nothing lost on the way into the document).
    /// Numbers as floats (`0` and `0.0` are one number), and no `"default": null` (no default).
    fn same(v: &Value) -> Value {
        match v {
            Value::Number(n) => serde_json::json!(n.as_f64()),
            Value::Array(a) => Value::Array(a.iter().map(same).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .filter(|(k, v)| !(k.as_str() == "default" && v.is_null()))
                    .map(|(k, v)| (k.clone(), same(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn strategy_bodies_carry_each_strategy_s_own_parameters() {
        let doc: Value = serde_json::from_str(document_json().unwrap()).unwrap();
        let strategies = crate::algorithms::strategies::builtin();
        let create = schema(&doc, "CreateAlgorithmRequest");
        let shapes = create["oneOf"].as_array().unwrap();
        assert_eq!(shapes.len(), strategies.len());
        let execute = schema(&doc, "ExecuteRequest");
        let runs = execute["oneOf"].as_array().unwrap();
        assert_eq!(
            runs.len(),
            strategies.len() + 1,
            "one per strategy, and a saved one"
        );
        for (i, strategy) in strategies.iter().enumerate() {
            assert_eq!(
                shapes[i]["properties"]["kind"]["enum"],
                serde_json::json!([strategy.name()])
            );
            let own = same(&strategy.schema());
            assert_eq!(
                same(&shapes[i]["properties"]["parameters"]),
                own,
                "{}",
                strategy.name()
            );
            assert_eq!(
                same(&runs[i]["properties"]["parameters"]),
                own,
                "{}",
                strategy.name()
            );
            assert_eq!(shapes[i]["additionalProperties"], false);
        }
        let saved = &runs[strategies.len()]["properties"];
        assert_eq!(saved["algorithm_id"]["format"], "uuid");
        assert!(saved["parameters"]["properties"]["fast_period"].is_object());
        assert!(saved["parameters"].get("required").is_none());
    }
}
