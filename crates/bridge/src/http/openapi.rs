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
//! The operations come from the one list of routes (`http/routes.rs`, utoipa-axum's
//! `OpenApiRouter`): the router serves them and the document is assembled from them, so no module
//! names every handler twice. What is left here: the document's parts besides its operations, the
//! shared error responses, input vocabularies
//! (`LoginInput`, `TimeInput`, `PlaceOrderType`, …), the headers, and the modifier that closes
//! every object schema. `tests/it/openapi.rs` checks every route against the document and every
//! response against its schema.

pub use super::accounts::{
    Account, AccountEnvelope, AccountList, AccountSummary, AccountType, AccountUpdated, AuditPage,
    ConnectResponse, CurrentAccountResponse, SwitchResponse,
};
pub use super::doc::*;
pub use super::market::AccountInfoBody;
pub use crate::error::ErrorBody;
use crate::error::ErrorCode;
pub use crate::risk::RiskLimits;
pub use mt5::openapi::UNKNOWN_PATTERN;
pub use mt5::{
    OrderCheckResult, OrderSendResult, PositionType, Rate, SymbolInfo, Tick, TradeDeal, TradeOrder,
    TradePosition,
};
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

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
    tags(
        (name = "accounts", description = "The user's MT5 accounts: connect, list, switch, update, delete (docs/api.md)"),
        (name = "trading", description = "Quotes, bars, positions, orders and history on the resolved account (docs/api.md)"),
        (name = "algorithms", description = "Built-in strategies, saved configurations, executions and runs (docs/algorithms.md)"),
        (name = "backtests", description = "Backtests and parameter sweeps on the broker's own history (docs/backtests.md)"),
        (name = "bots", description = "Strategies that run on every closed bar of an account, unattended (docs/bots.md)"),
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

/// The document's parts besides its operations ([`ApiDoc`]), the operations the routes carry
/// (`http/routes.rs` lists each route once), then the modifiers that need every operation in place.
pub fn assemble(operations: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let mut doc = operations;
    for m in [
        &SecuritySchemes as &dyn Modify,
        &ClosedObjects,
        &AtLeastOneField,
    ] {
        m.modify(&mut doc);
    }
    doc
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

#[cfg(test)]
mod tests {
    use crate::http::routes::document_json;
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
