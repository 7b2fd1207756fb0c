//! The AsyncAPI 3.0 document of the live stream (`GET /api/v1/stream`), served at
//! `/asyncapi.json`. Its message payloads are written here; the data they carry (journal entries,
//! algorithm runs, error codes) are the OpenAPI document's own schemas, copied in whole, so the two
//! documents cannot disagree.

use super::openapi::document_json;
use super::stream::{CHANNELS, MAX_SUBSCRIPTIONS, MAX_SYMBOLS};
use crate::error::ApiError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

fn message(name: &str, summary: &str, payload: Value) -> Value {
    json!({"name": name, "summary": summary, "contentType": "application/json", "payload": payload})
}

/// An object of exactly these properties, the listed ones required.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

fn build() -> Result<Value, String> {
    let openapi: Value = serde_json::from_str(document_json().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let mut schemas: Map<String, Value> = openapi["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let id = json!({"type": "string", "minLength": 1, "maxLength": 128,
        "description": "The client's name for the subscription, unique on the connection"});
    let uuid = json!({"type": "string", "format": "uuid"});
    let channel = json!({"type": "string", "enum": CHANNELS});
    // A tick event's data: the tick route's own field schemas, the symbol added.
    let tick = &openapi["components"]["schemas"]["Tick"]["properties"];
    let mut tick_fields = Map::new();
    tick_fields.insert(
        "symbol".into(),
        json!({"type": "string", "pattern": crate::fields::SYMBOL_PATTERN}),
    );
    for field in crate::ticks::TICK_FIELDS {
        let schema = tick
            .get(*field)
            .cloned()
            .ok_or_else(|| format!("the Tick schema has no `{field}`"))?;
        tick_fields.insert((*field).into(), schema);
    }
    let mut required = vec!["symbol"];
    required.extend_from_slice(crate::ticks::TICK_FIELDS);
    schemas.insert(
        "StreamTick".into(),
        object(Value::Object(tick_fields), &required),
    );
    let event = |channel: &str, data: &str| {
        object(
            json!({
                "type": {"const": "event"}, "id": id, "channel": {"const": channel},
                "account_id": uuid, "seq": {"type": "integer", "minimum": 1},
                "data": {"$ref": format!("#/components/schemas/{data}")},
            }),
            &["type", "id", "channel", "account_id", "seq", "data"],
        )
    };
    schemas.insert(
        "StreamEvent".into(),
        json!({
            "oneOf": [
                event("orders", "JournalEntry"),
                event("runs", "AlgorithmRun"),
                event("positions", "PositionList"),
                event("account", "AccountInfo"),
                event("ticks", "StreamTick"),
            ],
            "description": "A change on a subscription: `seq` increases by one with every event of the connection. `positions` and `account` carry the whole body of GET /api/v1/positions and GET /api/v1/account: on subscribe, after each of the account's orders completes, and when a poll every STREAM_POLL_MS (from a terminal already on the account and idle) finds it changed. `ticks` carries one symbol's last quote (times as GET /api/v1/symbols/{symbol}/tick gives them) when it changed, at most every 250 ms per symbol, read from any terminal logged in to an account of that server",
        }),
    );
    let messages = json!({
        "auth": message("auth", "Authenticate (the first message without an Authorization header), or renew the token",
            object(json!({"type": {"const": "auth"}, "token": {"type": "string", "description": "A Supabase JWT of the same user (`sub`) on renewal"}}), &["type", "token"])),
        "subscribe": message("subscribe", "Subscribe to a channel of one of the user's accounts",
            object(json!({"type": {"const": "subscribe"}, "id": id, "channel": channel,
                "account_id": {"type": "string", "format": "uuid", "description": "Default: the current account"},
                "symbols": {"type": "array", "items": {"type": "string", "pattern": crate::fields::SYMBOL_PATTERN}, "minItems": 1, "maxItems": MAX_SYMBOLS, "description": "Required for `ticks`, refused on the other channels"}}),
                &["type", "id", "channel"])),
        "unsubscribe": message("unsubscribe", "End a subscription",
            object(json!({"type": {"const": "unsubscribe"}, "id": id}), &["type", "id"])),
        "ready": message("ready", "Authenticated (also after a renewal)",
            object(json!({"type": {"const": "ready"}, "user_id": uuid}), &["type", "user_id"])),
        "subscribed": message("subscribed", "The subscription is on, for this account",
            object(json!({"type": {"const": "subscribed"}, "id": id, "account_id": uuid}), &["type", "id", "account_id"])),
        "unsubscribed": message("unsubscribed", "The subscription is off",
            object(json!({"type": {"const": "unsubscribed"}, "id": id}), &["type", "id"])),
        "error": message("error", &format!("A message refused (`id` names its subscription), or why the stream closes: the HTTP API's codes, plus `token_expired`; `rate_limited` at {MAX_SUBSCRIPTIONS} subscriptions (scope `subscriptions_per_connection`) or past the user's distinct ticks symbols (scope `symbols_per_user`); `account_not_found` naming each subscription of an account that was deleted"),
            json!({"type": "object", "properties": {
                "type": {"const": "error"}, "id": id,
                "code": {"anyOf": [{"$ref": "#/components/schemas/ErrorCode"}, {"const": "token_expired"}]},
                "message": {"type": "string"},
                "details": {"type": ["object", "null"], "additionalProperties": true}},
                "required": ["type", "code", "message"], "additionalProperties": false})),
        "status": message("status", "A `ticks` subscription waits: no terminal is logged in to an account of that server now (said once per wait; the next tick event ends it)",
            object(json!({"type": {"const": "status"}, "id": id, "state": {"enum": ["waiting_for_terminal"]}}), &["type", "id", "state"])),
        "event": message("event", "A change on a subscription", json!({"$ref": "#/components/schemas/StreamEvent"})),
    });
    let refs = |names: &[&str]| -> Value {
        Value::Array(
            names
                .iter()
                .map(|n| json!({"$ref": format!("#/channels/stream/messages/{n}")}))
                .collect(),
        )
    };
    Ok(json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "mt5-bridge live stream",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "GET /api/v1/stream: authenticate with `Authorization: Bearer` on the upgrade, or with an `auth` message within 10 s (else close 4001). Close codes: 4001 unauthenticated or token expired, 4008 slow_consumer (STREAM_BUFFER messages behind), 4029 too many streams of this user, 1009 a message or frame over 64 KiB, 1013 the stream cannot be counted (Redis unreachable). A client that stops reading is cut off after one send waited 5 s. Pings every 20 s. docs/streaming.md has the details; the schemas are those of /openapi.json.",
        },
        "defaultContentType": "application/json",
        "channels": {
            "stream": {
                "address": "/api/v1/stream",
                "messages": messages,
            }
        },
        "operations": {
            "sendAuth": {"action": "send", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&["auth"])},
            "sendSubscription": {"action": "send", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&["subscribe", "unsubscribe"])},
            "receiveAnswers": {"action": "receive", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&["ready", "subscribed", "unsubscribed", "error"])},
            "receiveEvents": {"action": "receive", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&["event", "status"])},
        },
        "components": {"schemas": schemas},
    }))
}

static DOCUMENT: LazyLock<Result<String, String>> =
    LazyLock::new(|| build().map(|v| v.to_string()));

/// The AsyncAPI document of the live stream.
#[utoipa::path(
    get,
    path = "/asyncapi.json",
    tag = "service",
    operation_id = "asyncapi_document",
    responses(
        (status = 200, description = "The AsyncAPI 3.0 document of `GET /api/v1/stream`", body = inline(Object)),
        (status = 500, response = super::openapi::Internal),
    ),
    security(())
)]
pub async fn document() -> Response {
    match DOCUMENT.as_deref() {
        Ok(doc) => (
            [(header::CONTENT_TYPE, "application/json")],
            doc.to_string(),
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("the AsyncAPI document cannot be built: {e}"))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_events_carry_the_api_s_schemas() {
        let doc = build().unwrap();
        assert_eq!(doc["asyncapi"], "3.0.0");
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                        out.push(r.to_string());
                    }
                    o.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 20);
        for r in &all {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
        let events = doc["components"]["schemas"]["StreamEvent"]["oneOf"]
            .as_array()
            .unwrap();
        let channels: Vec<&Value> = events
            .iter()
            .map(|e| &e["properties"]["channel"]["const"])
            .collect();
        assert_eq!(
            channels,
            [
                &json!("orders"),
                &json!("runs"),
                &json!("positions"),
                &json!("account"),
                &json!("ticks")
            ]
        );
        assert_eq!(
            doc["channels"]["stream"]["messages"]["subscribe"]["payload"]["properties"]["channel"]
                ["enum"],
            json!(CHANNELS)
        );
        assert!(doc["components"]["schemas"]["JournalEntry"]["properties"]["status"].is_object());
    }
}
