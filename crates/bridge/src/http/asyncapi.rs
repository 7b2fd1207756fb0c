//! The AsyncAPI 3.0 document of the live stream (`GET /api/v1/stream`), served at
//! `/asyncapi.json`. Its messages are the stream's own types (`http/stream/messages.rs`), each
//! giving its payload's schema; the data they carry (journal entries, algorithm runs, error codes)
//! are the OpenAPI document's own schemas, copied in whole, so the two documents cannot disagree.

use super::stream::messages::{
    Auth, Event, Ready, Status, StreamError, StreamMessage, Subscribe, Subscribed, Unsubscribe,
    Unsubscribed, STREAM_EVENT, STREAM_TICK,
};
use serde_json::{json, Map, Value};

/// The AsyncAPI message of `M`, under its `type`.
fn message<M: StreamMessage>(messages: &mut Map<String, Value>) {
    messages.insert(
        M::TYPE.into(),
        json!({"name": M::TYPE, "summary": M::summary(), "contentType": "application/json", "payload": M::payload()}),
    );
}

/// An object of exactly these properties, the listed ones required.
fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// The document, its data schemas copied from the OpenAPI document `openapi` (its JSON).
pub fn build(openapi: &str) -> Result<Value, String> {
    let openapi: Value = serde_json::from_str(openapi).map_err(|e| e.to_string())?;
    let mut schemas: Map<String, Value> = openapi["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
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
        STREAM_TICK.into(),
        object(Value::Object(tick_fields), &required),
    );
    schemas.insert(STREAM_EVENT.into(), Event::schema());
    let mut messages = Map::new();
    message::<Auth>(&mut messages);
    message::<Subscribe>(&mut messages);
    message::<Unsubscribe>(&mut messages);
    message::<Ready>(&mut messages);
    message::<Subscribed>(&mut messages);
    message::<Unsubscribed>(&mut messages);
    message::<StreamError>(&mut messages);
    message::<Status>(&mut messages);
    message::<Event>(&mut messages);
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
            "sendAuth": {"action": "send", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&[Auth::TYPE])},
            "sendSubscription": {"action": "send", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&[Subscribe::TYPE, Unsubscribe::TYPE])},
            "receiveAnswers": {"action": "receive", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&[Ready::TYPE, Subscribed::TYPE, Unsubscribed::TYPE, StreamError::TYPE])},
            "receiveEvents": {"action": "receive", "channel": {"$ref": "#/channels/stream"}, "messages": refs(&[Event::TYPE, Status::TYPE])},
        },
        "components": {"schemas": schemas},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves_and_events_carry_the_api_s_schemas() {
        let doc = build(crate::http::routes::document_json().unwrap()).unwrap();
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
                &json!("ticks"),
                &json!("backtests"),
                &json!("bots")
            ]
        );
        assert_eq!(
            doc["channels"]["stream"]["messages"]["subscribe"]["payload"]["properties"]["channel"]
                ["enum"],
            json!(crate::http::stream::CHANNELS)
        );
        assert!(doc["components"]["schemas"]["JournalEntry"]["properties"]["status"].is_object());
    }
}
