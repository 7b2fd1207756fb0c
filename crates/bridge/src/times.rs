//! Times at the API boundary: MT5 reports the trade server's wall clock as epoch seconds; clients
//! see RFC 3339 UTC. Inputs (`from`, `to`, `expiration`) accept RFC 3339 or epoch seconds (UTC).

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A UTC instant as the API writes it (RFC 3339).
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Fields holding server-clock epoch seconds, and those holding milliseconds.
pub(crate) const SECONDS_FIELDS: &[&str] = &[
    "time",
    "time_setup",
    "time_done",
    "time_expiration",
    "time_update",
    "start_time",
    "expiration_time",
];
pub(crate) const MILLIS_FIELDS: &[&str] = &[
    "time_msc",
    "time_setup_msc",
    "time_done_msc",
    "time_update_msc",
];

/// RFC 3339 UTC of a server-clock epoch-seconds value; 0 (MT5's "none") is null.
pub fn server_secs_to_rfc3339(server_s: i64, offset_s: i64) -> Value {
    if server_s == 0 {
        return Value::Null;
    }
    // Values come from the terminal: an absurd one is shown as null, never an overflow.
    server_s
        .checked_sub(offset_s)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

fn server_millis_to_rfc3339(server_ms: i64, offset_s: i64) -> Value {
    if server_ms == 0 {
        return Value::Null;
    }
    let utc_ms = i128::from(server_ms) - i128::from(offset_s) * 1000;
    OffsetDateTime::from_unix_timestamp_nanos(utc_ms * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// Converts every MT5 time field of a serialized structure (or list of them) to RFC 3339 UTC.
pub fn convert_times(v: &mut Value, offset_s: i64) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| convert_times(i, offset_s)),
        Value::Object(obj) => {
            for (k, val) in obj.iter_mut() {
                if let Some(n) = val.as_i64() {
                    if SECONDS_FIELDS.contains(&k.as_str()) {
                        *val = server_secs_to_rfc3339(n, offset_s);
                    } else if MILLIS_FIELDS.contains(&k.as_str()) {
                        *val = server_millis_to_rfc3339(n, offset_s);
                    }
                } else if k == "request" {
                    if let Some(exp) = val.get_mut("expiration") {
                        if let Some(n) = exp.as_i64() {
                            *exp = server_secs_to_rfc3339(n, offset_s);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

/// Serializes an MT5 structure with its times in RFC 3339 UTC.
pub fn to_json<T: serde::Serialize>(value: &T, offset_s: i64) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    convert_times(&mut v, offset_s);
    v
}

/// An MT5 structure (or a list of them) as the API writes it: its times in RFC 3339 UTC, given
/// the trade server's offset from UTC in seconds. Its OpenAPI schema is the structure's own
/// (`mt5`'s `openapi` feature describes the times as the API writes them).
pub struct Utc<T>(pub T, pub i64);

impl<T: serde::Serialize> serde::Serialize for Utc<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        to_json(&self.0, self.1).serialize(serializer)
    }
}

/// Parses an input time: RFC 3339 (any offset) or epoch seconds (UTC), as a string or a number.
/// Returns UTC epoch seconds.
pub fn parse_input_time(v: &Value) -> Option<i64> {
    let t = match v {
        Value::Number(_) => crate::fields::whole_i64(v),
        Value::String(s) => {
            let s = s.trim();
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                OffsetDateTime::parse(s, &Rfc3339)
                    .ok()
                    .map(|t| t.unix_timestamp())
            }
        }
        _ => None,
    }?;
    (EARLIEST_INPUT_S..END_OF_INPUT_S).contains(&t).then_some(t)
}

/// Input times are refused outside `[1970-01-01T00:00:00Z, 2100-01-01T00:00:00Z)`: no
/// arithmetic on a time (server offsets, windows) can then overflow.
pub const EARLIEST_INPUT_S: i64 = 0;
pub const END_OF_INPUT_S: i64 = 4_102_444_800;
/// The longest history or rates window a request may ask for.
pub const MAX_WINDOW_S: i64 = 366 * 86_400;

/// What is wrong with `[from, to]` (UTC epoch seconds) as a history or rates window, if anything:
/// `from` after `to`, or longer than [`MAX_WINDOW_S`]. Both times are valid on their own, so the
/// callers refuse it as `invalid_combination` naming `from`.
pub fn window_fault(from: i64, to: i64) -> Option<&'static str> {
    if from > to {
        Some("must not be after to")
    } else if to - from > MAX_WINDOW_S {
        Some("the window from `from` to `to` must be at most 366 days")
    } else {
        None
    }
}
/// What an input time field's error says.
pub const TIME_RULE: &str =
    "must be an RFC 3339 time or epoch seconds from 1970-01-01T00:00:00Z to before 2100-01-01T00:00:00Z";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_ordered_and_at_most_366_days() {
        assert_eq!(window_fault(0, MAX_WINDOW_S), None);
        assert_eq!(window_fault(5, 5), None);
        assert_eq!(window_fault(6, 5), Some("must not be after to"));
        assert!(window_fault(0, MAX_WINDOW_S + 1)
            .unwrap()
            .contains("366 days"));
    }
    use serde_json::json;

    #[test]
    fn conversions() {
        assert_eq!(
            server_secs_to_rfc3339(1_700_000_000 + 7200, 7200),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(server_secs_to_rfc3339(0, 7200), Value::Null);
        let mut v =
            json!([{"time": 1_700_007_200i64, "time_msc": 1_700_007_200_123i64, "volume": 5}]);
        convert_times(&mut v, 7200);
        assert_eq!(
            v,
            json!([{"time": "2023-11-14T22:13:20Z", "time_msc": "2023-11-14T22:13:20.123Z", "volume": 5}])
        );
        assert_eq!(
            parse_input_time(&json!("2023-11-14T22:13:20Z")),
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_input_time(&json!("2023-11-15T00:13:20+02:00")),
            Some(1_700_000_000)
        );
        assert_eq!(parse_input_time(&json!(1_700_000_000)), Some(1_700_000_000));
        assert_eq!(parse_input_time(&json!("1700000000")), Some(1_700_000_000));
        assert_eq!(parse_input_time(&json!("yesterday")), None);
        assert_eq!(parse_input_time(&json!(-5)), None);
    }
}
