//! The live stream's messages (docs/streaming.md): one type each, named once with its fields and
//! their schemas by [`messages!`]. The stream writes the server's messages with these types, the
//! AsyncAPI document (`/asyncapi.json`, `http/asyncapi.rs`) is made from them, and the TypeScript
//! client's stream types are generated from that document (`clients/typescript`, with a drift test
//! as for `schema.ts`); a client (or a test) reads them back with [`StreamMessage::from_json`].
//!
//! A message is written as a JSON object of its fields plus `type`, the keys in sorted order.

use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::borrow::Cow;
use uuid::Uuid;

/// The channels this service streams.
pub const CHANNELS: &[&str] = &[
    "orders",
    "runs",
    "positions",
    "account",
    "ticks",
    "backtests",
    "bots",
];
/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 50;
/// Symbols one `ticks` subscription may name.
pub const MAX_SYMBOLS: usize = 50;

/// A message of the stream: its `type`, what it is for, the schema of its payload.
pub trait StreamMessage: Serialize + DeserializeOwned {
    /// The `type` it is written with.
    const TYPE: &'static str;

    /// What it is for (the AsyncAPI message's summary).
    fn summary() -> String;

    /// The JSON Schema of the whole message, `type` included.
    fn payload() -> Value;

    /// The message as it is sent: its fields and its `type`.
    fn to_json(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), json!(Self::TYPE));
        }
        v
    }

    /// The message read back, if `v` is one of this type.
    fn from_json(v: &Value) -> Option<Self> {
        if v.get("type")?.as_str()? != Self::TYPE {
            return None;
        }
        serde_json::from_value(v.clone()).ok()
    }
}

/// The schema of a subscription's `id`.
fn id() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 128,
        "description": "The client's name for the subscription, unique on the connection"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// An object of exactly these properties, the listed ones required.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// Defines each message once: its struct (the fields a message carries besides `type`; `opt` ones,
/// listed after the `req` ones, left out when absent), its [`StreamMessage`] impl and its payload's
/// schema, `type` first among the required fields.
macro_rules! messages {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident = $tag:literal, summary: $summary:expr, {
            $(req $field:ident: $ty:ty => $schema:expr,)*
            $(opt $ofield:ident: $oty:ty => $oschema:expr,)*
        }
    )+) => {$(
        $(#[doc = $doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(pub $field: $ty,)*
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $ofield: Option<$oty>,
            )*
        }

        impl $name {
            /// Every field a message of this type may have, `type` included.
            pub const FIELDS: &'static [&'static str] =
                &["type", $(stringify!($field),)* $(stringify!($ofield),)*];
        }

        impl StreamMessage for $name {
            const TYPE: &'static str = $tag;

            fn summary() -> String {
                ($summary).to_string()
            }

            fn payload() -> Value {
                let mut properties = serde_json::Map::new();
                properties.insert("type".into(), json!({"const": $tag}));
                $(properties.insert(stringify!($field).into(), $schema);)*
                $(properties.insert(stringify!($ofield).into(), $oschema);)*
                object(Value::Object(properties), &["type", $(stringify!($field)),*])
            }
        }
    )+};
}

// Sent by the client.
messages! {
    /// Authenticate, or renew the token.
    Auth = "auth",
    summary: "Authenticate (the first message without an Authorization header), or renew the token",
    {
        req token: String => json!({"type": "string", "description": "A Supabase JWT of the same user (`sub`) on renewal"}),
    }

    /// Subscribe to a channel of one of the user's accounts.
    Subscribe = "subscribe",
    summary: "Subscribe to a channel of one of the user's accounts",
    {
        req id: String => id(),
        req channel: String => json!({"type": "string", "enum": CHANNELS}),
        opt account_id: Uuid => json!({"type": "string", "format": "uuid", "description": "Default: the current account"}),
        opt symbols: Vec<String> => json!({"type": "array", "items": {"type": "string", "pattern": crate::fields::SYMBOL_PATTERN}, "minItems": 1, "maxItems": MAX_SYMBOLS, "description": "Required for `ticks`, refused on the other channels"}),
    }

    /// End a subscription.
    Unsubscribe = "unsubscribe",
    summary: "End a subscription",
    {
        req id: String => id(),
    }
}

// Sent by the server.
messages! {
    /// Authenticated (also after a renewal).
    Ready = "ready",
    summary: "Authenticated (also after a renewal)",
    {
        req user_id: Uuid => uuid(),
    }

    /// The subscription is on, for this account (absent: a `backtests` subscription for every
    /// account of the user's).
    Subscribed = "subscribed",
    summary: "The subscription is on, for this account (or, `backtests` and `bots` without `account_id`, for all of the user's)",
    {
        req id: String => id(),
        opt account_id: Uuid => uuid(),
    }

    /// The subscription is off.
    Unsubscribed = "unsubscribed",
    summary: "The subscription is off",
    {
        req id: String => id(),
    }

    /// A message refused (`id` names its subscription), or why the stream closes.
    StreamError = "error",
    summary: format!("A message refused (`id` names its subscription), or why the stream closes: the HTTP API's codes, plus `token_expired`; `rate_limited` at {MAX_SUBSCRIPTIONS} subscriptions (scope `subscriptions_per_connection`) or past the user's distinct ticks symbols (scope `symbols_per_user`); `account_not_found` naming each subscription of an account that was deleted"),
    {
        req code: Cow<'static, str> => json!({"anyOf": [{"$ref": "#/components/schemas/ErrorCode"}, {"const": TOKEN_EXPIRED}]}),
        req message: String => json!({"type": "string"}),
        opt id: String => id(),
        opt details: Value => json!({"type": ["object", "null"], "additionalProperties": true}),
    }

    /// A `ticks` subscription waits for a terminal.
    Status = "status",
    summary: "A `ticks` subscription waits: no terminal is logged in to an account of that server now (said once per wait; the next tick event ends it)",
    {
        req id: String => id(),
        req state: Cow<'static, str> => json!({"enum": [WAITING_FOR_TERMINAL]}),
    }
}

/// The stream's own error code, besides the HTTP API's: the token expired.
pub const TOKEN_EXPIRED: &str = "token_expired";
/// `status`'s only state.
pub const WAITING_FOR_TERMINAL: &str = "waiting_for_terminal";

impl StreamError {
    /// The error of an API error: its code, public message and details (`null` when none).
    pub fn of(id: Option<&str>, e: &ApiError) -> Self {
        StreamError {
            id: id.map(str::to_string),
            code: Cow::Borrowed(e.code().as_str()),
            message: e.public_message(),
            details: Some(e.details()),
        }
    }

    /// An error with only a code and a message (a refused sign-in, an expired token).
    pub fn plain(code: &'static str, message: impl Into<String>) -> Self {
        StreamError {
            id: None,
            code: Cow::Borrowed(code),
            message: message.into(),
            details: None,
        }
    }
}

impl Status {
    /// `waiting_for_terminal` for subscription `id`.
    pub fn waiting(id: &str) -> Self {
        Status {
            id: id.to_string(),
            state: Cow::Borrowed(WAITING_FOR_TERMINAL),
        }
    }
}

/// What each channel's events carry: the schema (of /openapi.json, or [`STREAM_TICK`]) of `data`.
pub const EVENT_DATA: &[(&str, &str)] = &[
    ("orders", "JournalEntry"),
    ("runs", "AlgorithmRun"),
    ("positions", "PositionList"),
    ("account", "AccountInfo"),
    ("ticks", STREAM_TICK),
    ("backtests", "BacktestView"),
    ("bots", "BotView"),
];

/// The schema of a `ticks` event's data (`StreamTick`, made in `http/asyncapi.rs` from the tick
/// route's own field schemas).
pub const STREAM_TICK: &str = "StreamTick";

/// A change on a subscription: `data` is the channel's ([`EVENT_DATA`]). Borrows what it sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<'a> {
    pub id: Cow<'a, str>,
    pub channel: Cow<'a, str>,
    pub account_id: Uuid,
    /// Increases by one with every event of the connection, across its subscriptions.
    pub seq: u64,
    pub data: Cow<'a, Value>,
}

impl Event<'_> {
    /// The schema of every event: one object per channel, its `data` the channel's schema.
    pub fn schema() -> Value {
        let events: Vec<Value> = EVENT_DATA
            .iter()
            .map(|(channel, data)| {
                object(
                    json!({
                        "type": {"const": Self::TYPE}, "id": id(), "channel": {"const": channel},
                        "account_id": uuid(), "seq": {"type": "integer", "minimum": 1},
                        "data": {"$ref": format!("#/components/schemas/{data}")},
                    }),
                    &["type", "id", "channel", "account_id", "seq", "data"],
                )
            })
            .collect();
        json!({
            "oneOf": events,
            "description": "A change on a subscription: `seq` increases by one with every event of the connection. `positions` and `account` carry the whole body of GET /api/v1/positions and GET /api/v1/account: on subscribe, after each of the account's orders completes, and when a poll every STREAM_POLL_MS (from a terminal already on the account and idle) finds it changed. `ticks` carries one symbol's last quote (times as GET /api/v1/symbols/{symbol}/tick gives them) when it changed, at most every 250 ms per symbol, read from any terminal logged in to an account of that server",
        })
    }
}

/// The name of [`Event::schema`] among the document's schemas.
pub const STREAM_EVENT: &str = "StreamEvent";

impl StreamMessage for Event<'_> {
    const TYPE: &'static str = "event";

    fn summary() -> String {
        "A change on a subscription".into()
    }

    fn payload() -> Value {
        json!({"$ref": format!("#/components/schemas/{STREAM_EVENT}")})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_with_their_type_and_read_back() {
        let ready = Ready {
            user_id: Uuid::nil(),
        };
        let v = ready.to_json();
        assert_eq!(v, json!({"type": "ready", "user_id": Uuid::nil()}));
        assert_eq!(Ready::from_json(&v), Some(ready));
        assert_eq!(Subscribed::from_json(&v), None);
        let e = StreamError::plain("unauthorized", "no");
        assert_eq!(
            e.to_json().to_string(),
            r#"{"code":"unauthorized","message":"no","type":"error"}"#
        );
        let e = StreamError::of(Some("q"), &ApiError::SymbolNotFound);
        assert_eq!(e.to_json()["details"], Value::Null);
        assert_eq!(e.to_json()["id"], "q");
        let data = json!({"a": 1});
        let event = Event {
            id: "o".into(),
            channel: "orders".into(),
            account_id: Uuid::nil(),
            seq: 3,
            data: Cow::Borrowed(&data),
        };
        let v = event.to_json();
        assert_eq!(v["data"], data);
        assert_eq!(Event::from_json(&v).map(|e| e.seq), Some(3));
    }

    #[test]
    fn a_payload_requires_type_and_its_required_fields_only() {
        let p = Subscribe::payload();
        assert_eq!(p["required"], json!(["type", "id", "channel"]));
        assert_eq!(p["properties"]["type"], json!({"const": "subscribe"}));
        assert_eq!(p["additionalProperties"], false);
        assert_eq!(
            StreamError::payload()["required"],
            json!(["type", "code", "message"])
        );
        assert_eq!(
            Subscribe::FIELDS,
            ["type", "id", "channel", "account_id", "symbols"]
        );
        let channels: Vec<&str> = EVENT_DATA.iter().map(|(c, _)| *c).collect();
        assert_eq!(channels, CHANNELS, "every channel's events are described");
    }
}
