//! OpenAPI schemas of the MT5 vocabulary as the HTTP API writes it: enums by their lower-case MT5
//! names (`unknown_<n>` for a value outside the list), and the structures of [`crate::types`] with
//! their times as RFC 3339 UTC (null where MT5 reports 0), as the service converts them.

use crate::enums::Mt5Enum;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// The form of a value the service does not know: `unknown_` and MT5's integer, as `name()` writes
/// it (no sign but `-`, no leading zeros).
pub const UNKNOWN_PATTERN: &str = "^unknown_(0|-?[1-9][0-9]*)$";

/// What a request may send for an MT5 enum: one of its names.
pub fn input_schema<E: Mt5Enum>() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::names()))
        .description(Some(format!(
            "MT5's {}_* constant, lower-case without the prefix (accepted in any case on input)",
            E::TYPE_NAME
        )))
        .into()
}

/// What an answer may hold for an MT5 enum: one of its names, or `unknown_<n>` for a value MT5
/// reported that the list does not have.
pub fn answer_schema<E: Mt5Enum>() -> RefOr<Schema> {
    let known = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(E::names()));
    let unknown = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(UNKNOWN_PATTERN))
        .description(Some(
            "a value the service does not know: `unknown_` and MT5's integer",
        ));
    AnyOfBuilder::new()
        .item(known)
        .item(unknown)
        .description(Some(format!(
            "MT5's {}_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) \
             for a value the service does not know",
            E::TYPE_NAME
        )))
        .into()
}
