//! The OpenAPI document against the service: every route of the router is documented and every
//! documented operation exists; a scenario on the simulated broker calls every operation and checks
//! each response (status and body) against the document; `/openapi.json` and `/docs` answer without
//! a token and the page loads nothing from another host.
//!
//! The schemas are checked by a small validator of the JSON Schema subset the document uses (below,
//! with its own tests); it refuses a keyword it does not know rather than skip it.

use crate::common;
use crate::common::routes;

use mt5::clock::ManualClock;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use uuid::Uuid;

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

// ---------------------------------------------------------------------------------------------
// The validator
// ---------------------------------------------------------------------------------------------

/// Keywords that only annotate: they constrain nothing a response could break.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "example",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
];

/// Validates JSON values against schemas of one OpenAPI document (`$ref`s resolve in it).
struct Validator<'d> {
    doc: &'d Value,
}

impl<'d> Validator<'d> {
    fn new(doc: &'d Value) -> Self {
        Validator { doc }
    }

    fn resolve(&self, reference: &str) -> Result<&'d Value, String> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("only local references are supported: {reference}"))?;
        self.doc
            .pointer(pointer)
            .ok_or_else(|| format!("unresolved reference {reference}"))
    }

    /// Every disagreement of `value` with `schema`, each with the path to the value at fault.
    fn errors(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors, 0);
        errors
    }

    fn check(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>, depth: usize) {
        if depth > 64 {
            errors.push(format!("{at}: schema nesting too deep (a reference loop?)"));
            return;
        }
        let obj = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                errors.push(format!("{at}: no value is allowed here"));
                return;
            }
            Value::Object(o) => o,
            other => {
                errors.push(format!(
                    "{at}: a schema must be an object or a boolean: {other}"
                ));
                return;
            }
        };
        for (key, kw) in obj {
            match key.as_str() {
                "$ref" => match kw.as_str().map(|r| self.resolve(r)) {
                    Some(Ok(target)) => self.check(target, v, at, errors, depth + 1),
                    Some(Err(e)) => errors.push(format!("{at}: {e}")),
                    None => errors.push(format!("{at}: $ref must be a string")),
                },
                "type" => {
                    let types: Vec<&str> = match kw {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => {
                            errors.push(format!("{at}: bad type keyword {kw}"));
                            continue;
                        }
                    };
                    if !types.iter().any(|t| has_type(v, t)) {
                        errors.push(format!("{at}: {} is not of type {kw}", brief(v)));
                    }
                }
                "enum" => {
                    let allowed = kw.as_array().cloned().unwrap_or_default();
                    if !allowed.iter().any(|a| json_eq(a, v)) {
                        errors.push(format!("{at}: {} is not one of {kw}", brief(v)));
                    }
                }
                "const" => {
                    if !json_eq(kw, v) {
                        errors.push(format!("{at}: {} is not {kw}", brief(v)));
                    }
                }
                "properties" => {
                    if let (Some(props), Some(o)) = (kw.as_object(), v.as_object()) {
                        for (name, sub) in props {
                            if let Some(field) = o.get(name) {
                                self.check(sub, field, &format!("{at}.{name}"), errors, depth + 1);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(o) = v.as_object() {
                        for name in kw
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                        {
                            if !o.contains_key(name) {
                                errors.push(format!("{at}: required property `{name}` is missing"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(o) = v.as_object() {
                        let declared = obj.get("properties").and_then(Value::as_object);
                        for (name, field) in o {
                            if declared.is_some_and(|d| d.contains_key(name)) {
                                continue;
                            }
                            match kw {
                                Value::Bool(false) => errors
                                    .push(format!("{at}: property `{name}` is not in the schema")),
                                Value::Bool(true) => {}
                                sub => self.check(
                                    sub,
                                    field,
                                    &format!("{at}.{name}"),
                                    errors,
                                    depth + 1,
                                ),
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(items) = v.as_array() {
                        for (i, item) in items.iter().enumerate() {
                            self.check(kw, item, &format!("{at}[{i}]"), errors, depth + 1);
                        }
                    }
                }
                "oneOf" | "anyOf" | "allOf" => {
                    let subs = kw.as_array().cloned().unwrap_or_default();
                    let results: Vec<Vec<String>> = subs
                        .iter()
                        .map(|s| {
                            let mut e = Vec::new();
                            self.check(s, v, at, &mut e, depth + 1);
                            e
                        })
                        .collect();
                    let passing = results.iter().filter(|e| e.is_empty()).count();
                    let ok = match key.as_str() {
                        "oneOf" => passing == 1,
                        "anyOf" => passing >= 1,
                        _ => passing == subs.len(),
                    };
                    if !ok {
                        errors.push(format!(
                            "{at}: {} matches {passing} of the {} schemas of {key}: {:?}",
                            brief(v),
                            subs.len(),
                            results
                        ));
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let (Some(x), Some(bound)) = (v.as_f64(), kw.as_f64()) {
                        let ok = match key.as_str() {
                            "minimum" => x >= bound,
                            "maximum" => x <= bound,
                            "exclusiveMinimum" => x > bound,
                            _ => x < bound,
                        };
                        if !ok {
                            errors.push(format!("{at}: {x} breaks {key} {bound}"));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let (Some(s), Some(n)) = (v.as_str(), kw.as_u64()) {
                        let len = s.chars().count() as u64;
                        if (key == "minLength" && len < n) || (key == "maxLength" && len > n) {
                            errors.push(format!("{at}: length {len} breaks {key} {n}"));
                        }
                    }
                }
                "minProperties" | "maxProperties" => {
                    if let (Some(o), Some(n)) = (v.as_object(), kw.as_u64()) {
                        let len = o.len() as u64;
                        if (key == "minProperties" && len < n)
                            || (key == "maxProperties" && len > n)
                        {
                            errors.push(format!("{at}: {len} properties break {key} {n}"));
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let (Some(a), Some(n)) = (v.as_array(), kw.as_u64()) {
                        let len = a.len() as u64;
                        if (key == "minItems" && len < n) || (key == "maxItems" && len > n) {
                            errors.push(format!("{at}: {len} items break {key} {n}"));
                        }
                    }
                }
                "format" => {
                    if let (Some(s), Some(f)) = (v.as_str(), kw.as_str()) {
                        let ok = match f {
                            "date-time" => time::OffsetDateTime::parse(
                                s,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .is_ok(),
                            "uuid" => Uuid::parse_str(s).is_ok(),
                            _ => true,
                        };
                        if !ok {
                            errors.push(format!("{at}: {s:?} is not a {f}"));
                        }
                    }
                }
                // Regular expressions are not evaluated (no regex engine here), but for the one
                // answers use, `unknown_<n>` for an enum value the service does not know, checked
                // by hand; the others are on request fields, which the service validates itself.
                "pattern" => {
                    if kw.as_str() == Some(mt5_bridge::http::openapi::UNKNOWN_PATTERN) {
                        if let Some(s) = v.as_str() {
                            if !is_unknown_name(s) {
                                errors.push(format!("{at}: {s:?} is not unknown_<n>"));
                            }
                        }
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                other => errors.push(format!(
                    "{at}: the validator does not support the keyword `{other}`"
                )),
            }
        }
    }
}

/// `unknown_` and an integer as Rust writes it (what `UNKNOWN_PATTERN` matches).
fn is_unknown_name(s: &str) -> bool {
    s.strip_prefix("unknown_")
        .and_then(|d| d.parse::<i64>().ok().filter(|n| n.to_string() == d))
        .is_some()
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => {
            v.is_i64()
                || v.is_u64()
                || v.as_f64()
                    .is_some_and(|x| x.is_finite() && x.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality with numbers compared by value (1 equals 1.0).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn brief(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(80).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

#[test]
fn validator_accepts_what_a_schema_allows_and_refuses_the_rest() {
    let doc = json!({"components": {"schemas": {
        "Side": {"type": "string", "enum": ["buy", "sell"]},
        "Trade": {
            "type": "object",
            "required": ["ticket", "side", "time"],
            "properties": {
                "ticket": {"type": ["integer", "null"], "minimum": 0},
                "side": {"$ref": "#/components/schemas/Side"},
                "volume": {"type": "number", "exclusiveMinimum": 0},
                "time": {"type": ["string", "null"], "format": "date-time"},
                "id": {"type": "string", "format": "uuid"},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
                "kind": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Side"}]},
                "login": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "ok": {"type": "boolean", "enum": [true]},
            },
            "additionalProperties": false,
        },
        "Checks": {"type": "object", "additionalProperties": {"enum": ["ok", "failed"]}},
    }}});
    let v = Validator::new(&doc);
    let at_least_one = json!({"type": "object", "minProperties": 1});
    assert!(v.errors(&at_least_one, &json!({"sl": null})).is_empty());
    assert!(v.errors(&at_least_one, &json!({}))[0].contains("minProperties"));
    let trade = json!({"$ref": "#/components/schemas/Trade"});
    let good = json!({"ticket": 5, "side": "buy", "volume": 0.1, "time": "2026-01-05T00:00:00Z",
        "id": "6a0c1f34-8a1e-4d4e-9f3e-1c2b3a4d5e6f", "tags": ["a"], "kind": null, "login": "12",
        "ok": true});
    assert_eq!(v.errors(&trade, &good), Vec::<String>::new());
    assert!(v
        .errors(
            &trade,
            &json!({"ticket": null, "side": "sell", "time": null})
        )
        .is_empty());
    // 5.0 is an integer to JSON Schema; 5.5 is not.
    assert!(v
        .errors(&trade, &json!({"ticket": 5.0, "side": "buy", "time": null}))
        .is_empty());

    let bad = [
        (
            json!({"side": "buy", "time": null}),
            "required property `ticket`",
        ),
        (
            json!({"ticket": 5.5, "side": "buy", "time": null}),
            "not of type",
        ),
        (
            json!({"ticket": -1, "side": "buy", "time": null}),
            "minimum",
        ),
        (
            json!({"ticket": 1, "side": "hold", "time": null}),
            "not one of",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": "yesterday"}),
            "not a date-time",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "extra": 1}),
            "`extra` is not in the schema",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "volume": 0}),
            "exclusiveMinimum",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "id": "nope"}),
            "not a uuid",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "tags": ["long"]}),
            "maxLength",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "tags": "a"}),
            "not of type",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "kind": "up"}),
            "oneOf",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "login": true}),
            "anyOf",
        ),
        (
            json!({"ticket": 1, "side": "buy", "time": null, "ok": false}),
            "not one of",
        ),
        (json!([1]), "not of type"),
    ];
    for (value, expected) in bad {
        let errors = v.errors(&trade, &value);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{value} should fail with `{expected}`, got {errors:?}"
        );
    }
    let checks = json!({"$ref": "#/components/schemas/Checks"});
    assert!(v
        .errors(&checks, &json!({"store": "ok", "new": "failed"}))
        .is_empty());
    assert!(!v.errors(&checks, &json!({"store": "broken"})).is_empty());
    // A dangling reference and an unknown keyword are failures, never silently passed.
    assert!(!v
        .errors(&json!({"$ref": "#/components/schemas/Nope"}), &json!(1))
        .is_empty());
    assert!(!v.errors(&json!({"multipleOf": 2}), &json!(3)).is_empty());
    // oneOf: exactly one, not two.
    assert!(!v
        .errors(
            &json!({"oneOf": [{"type": "integer"}, {"type": "number"}]}),
            &json!(1)
        )
        .is_empty());
    // An answer's enum: a listed name, or `unknown_<n>`; nothing else.
    let answer = json!({"anyOf": [
        {"type": "string", "enum": ["buy", "sell"]},
        {"type": "string", "pattern": mt5_bridge::http::openapi::UNKNOWN_PATTERN},
    ]});
    for good in ["buy", "unknown_99", "unknown_-5", "unknown_0"] {
        assert!(v.errors(&answer, &json!(good)).is_empty(), "{good}");
    }
    for bad in [
        "bogus",
        "unknown_",
        "unknown_05",
        "unknown_+5",
        "unknown_x",
        "Buy",
    ] {
        assert!(!v.errors(&answer, &json!(bad)).is_empty(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// The router's routes, read from its source at run time
// ---------------------------------------------------------------------------------------------

/// The repository root: the first directory up from the working directory holding `Cargo.toml`
/// and `crates/bridge` (resolved at run time: a shared build cache may come from another checkout).
fn repo_root() -> PathBuf {
    let mut dir = std::env::current_dir().expect("working directory");
    loop {
        if dir.join("Cargo.toml").is_file() && dir.join("crates/bridge").is_dir() {
            return dir;
        }
        assert!(dir.pop(), "no repository root above the working directory");
    }
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(*m).is_some() {
                ops.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    ops
}

/// The document the service serves, as a test sees it without starting a server.
fn the_document() -> Value {
    serde_json::from_str(mt5_bridge::http::routes::document_json().expect("the document"))
        .expect("the document is JSON")
}

/// Routes are served and documented from one list (`http/routes.rs`): the router adds nothing but
/// the console, the API page and the fallbacks, so no route can bypass the document.
#[test]
fn no_route_bypasses_the_document() {
    for file in [
        "crates/bridge/src/http/mod.rs",
        "crates/bridge/src/http/routes.rs",
    ] {
        let source = std::fs::read_to_string(repo_root().join(file)).expect("the router's source");
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains(".route(") && !code.contains(".nest("),
            "{file} adds a route outside the documented list"
        );
    }
}

/// Every documented operation is served: called without a token, none answers the router's
/// `route_not_found` or `method_not_allowed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_routed() {
    let app = common::spawn(common::Db::Sqlite).await;
    let ops = documented_operations(&the_document());
    assert!(ops.len() >= 45, "{ops:?}");
    for (method, path) in ops {
        if path == "/api/v1/stream" {
            continue; // a WebSocket: tests/it/stream.rs opens it
        }
        // Path parameters by a value of the right form: a UUID fits every one of them.
        let mut concrete = String::new();
        let mut rest = path.as_str();
        while let Some(open) = rest.find('{') {
            concrete.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            concrete.push_str(&uuid::Uuid::new_v4().to_string());
            rest = &rest[close..];
        }
        concrete.push_str(rest);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let (status, b) = app.call(m, &concrete, None, None).await;
        assert!(
            !["route_not_found", "method_not_allowed"].contains(&code(&b)) && status != 405,
            "{method} {path}: {status} {b}"
        );
    }
    app.shutdown().await;
}

#[test]
fn the_document_is_whole() {
    let doc = the_document();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(doc["info"]["title"], "mt5-bridge");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"],
        json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": doc["components"]["securitySchemes"]["bearer"]["description"]})
    );

    // Every reference resolves.
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
    assert!(all.len() > 50);
    let v = Validator::new(&doc);
    for r in &all {
        assert!(v.resolve(r).is_ok(), "unresolved {r}");
    }

    // Operation ids are unique; /api/v1 needs the user's token, /metrics the scrape token, the
    // other service routes none.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in METHODS {
            let Some(op) = item.get(*m) else { continue };
            let id = op["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{m} {path}: no summary"
            );
            let security = &op["security"];
            if path.starts_with("/api/v1/") {
                assert_eq!(security, &json!([{"bearer": []}]), "{m} {path}");
                assert!(op["responses"]["401"].is_object(), "{m} {path}: no 401");
            } else if path == "/metrics" {
                // Closed without METRICS_TOKEN: the scrape token only, never open.
                assert_eq!(security, &json!([{"metrics_token": []}]), "{m} {path}");
                assert!(op["responses"]["401"].is_object(), "{m} {path}: no 401");
            } else {
                assert!(
                    security.as_array().unwrap().iter().any(|s| s == &json!({})),
                    "{m} {path} must be callable without a token: {security}"
                );
            }
        }
    }

    // The error codes are docs/errors.md's.
    let table = std::fs::read_to_string(repo_root().join("docs/errors.md")).unwrap();
    let documented: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| "))
        .filter_map(|l| l.split(" | `").nth(1))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect();
    let in_schema: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert!(documented.len() > 20);
    assert_eq!(in_schema, documented);
}

// ---------------------------------------------------------------------------------------------
// Responses against the document, on the simulated broker
// ---------------------------------------------------------------------------------------------

/// What a call sends as its body.
enum Body {
    None,
    /// Valid input: it is checked against the documented request body first.
    Json(Value),
    /// Deliberately invalid input (to get an error), sent unchecked.
    Invalid(Value),
    /// Raw bytes as JSON (e.g. malformed).
    Raw(&'static str),
}

/// Calls the service and checks each answer against the document, collecting disagreements.
struct Checked<'a> {
    app: &'a common::TestApp,
    doc: &'a Value,
    /// Statuses seen per (METHOD, path template).
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
    failures: Vec<String>,
}

impl<'a> Checked<'a> {
    fn operation(&self, method: &str, template: &str) -> &'a Value {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    #[allow(clippy::too_many_arguments)] // a request has that many parts
    async fn call(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Body,
    ) -> (u16, Value) {
        let op = self.operation(method, template);
        let name = format!("{method} {path}");
        let v = Validator::new(self.doc);
        let mut rb = self.app.client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{}", self.app.base, path),
        );
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        for (k, val) in headers {
            rb = rb.header(*k, *val);
        }
        match body {
            Body::None => {}
            Body::Json(b) => {
                let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                assert!(
                    schema.is_object(),
                    "{name}: a body sent to an operation without one"
                );
                let errors = v.errors(schema, &b);
                if !errors.is_empty() {
                    self.failures.push(format!(
                        "{name}: the request body disagrees with the document: {errors:?}"
                    ));
                }
                rb = rb.json(&b);
            }
            Body::Invalid(b) => rb = rb.json(&b),
            Body::Raw(s) => rb = rb.header("content-type", "application/json").body(s),
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(';').next().unwrap_or("").trim().to_string());
        let text = resp.text().await.unwrap_or_default();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
        self.seen
            .entry((method.to_string(), template.to_string()))
            .or_default()
            .insert(status);

        let mut response = &op["responses"][status.to_string()];
        if !response.is_object() {
            self.failures.push(format!(
                "{name}: status {status} is not documented (body {})",
                brief(&value)
            ));
            return (status, value);
        }
        if let Some(r) = response.get("$ref").and_then(Value::as_str) {
            response = v.resolve(r).unwrap();
        }
        let content = response["content"].as_object();
        match (content, content_type) {
            (None, _) if text.is_empty() => {}
            (Some(content), Some(ct)) => match content.get(&ct) {
                Some(media) => {
                    let errors = v.errors(&media["schema"], &value);
                    if !errors.is_empty() {
                        self.failures.push(format!(
                            "{name} → {status}: the body disagrees with the document: {errors:#?}"
                        ));
                    }
                }
                None => self.failures.push(format!(
                    "{name} → {status}: content type {ct} is not documented ({:?})",
                    content.keys().collect::<Vec<_>>()
                )),
            },
            (c, ct) => self.failures.push(format!(
                "{name} → {status}: content {ct:?} does not match the document's {c:?}"
            )),
        }
        (status, value)
    }

    async fn get(&mut self, template: &str, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", template, path, Some(token), &[], Body::None)
            .await
    }
}

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

async fn every_operation_answers_as_documented(db: common::Db) {
    if db == common::Db::Postgres && common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    let sim = common::sim_config();
    let params = json!({"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3});
    let now_ms = common::signal_time(&sim, &params);
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(ManualClock::new(now_ms)))
            .await
            .unwrap();
    let app = common::spawn_on_broker(db, sim, broker).await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut c = Checked {
        app: &app,
        doc: &doc,
        seen: BTreeMap::new(),
        failures: Vec::new(),
    };
    let t = app.token(Uuid::new_v4());
    let t = t.as_str();
    let ok = |s: u16, b: &Value, want: u16| assert_eq!(s, want, "{b}");

    // The service routes.
    for path in ["/healthz", "/readyz", "/openapi.json", "/asyncapi.json"] {
        let (s, b) = c.call("GET", path, path, None, &[], Body::None).await;
        ok(s, &b, 200);
    }
    let metrics = "/metrics";
    let (s, b) = c
        .call(
            "GET",
            metrics,
            metrics,
            Some(common::METRICS_TOKEN),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c.call("GET", metrics, metrics, None, &[], Body::None).await;
    ok(s, &b, 401);

    // Accounts.
    let connect = routes::CONNECT;
    let (s, b) = c
        .call("POST", connect, connect, Some(t), &[], Body::Json(json!({
            "account_name": "Hedging", "login": "10001", "password": "Sim-10001!",
            "server": "Sim-Demo", "broker_name": "Sim", "account_type": "demo", "set_as_default": true})))
        .await;
    ok(s, &b, 201);
    let acc1 = b["account_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .call("POST", connect, connect, Some(t), &[], Body::Json(json!({
            "account_name": "Netting", "login": 10002, "password": "Sim-10002!", "server": "Sim-Demo",
            "risk_limits": {"max_daily_loss": 0.5, "max_positions": 50, "trading_enabled": true}})))
        .await;
    ok(s, &b, 201);
    let acc2 = b["account_id"].as_str().unwrap().to_string();
    let (s, b) = c.get("/api/v1/accounts", routes::ACCOUNTS, t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .get("/api/v1/accounts/current", routes::CURRENT_ACCOUNT, t)
        .await;
    ok(s, &b, 200);
    let one = "/api/v1/accounts/{account_id}";
    let (s, b) = c.get(one, &routes::account(&acc2), t).await;
    ok(s, &b, 200);
    assert_eq!(b["account"]["risk_limits"]["max_positions"], 50);
    let (s, b) = c
        .call(
            "PUT",
            one,
            &routes::account(&acc2),
            Some(t),
            &[],
            Body::Json(json!({
            "account_name": "Netting USD", "risk_limits": {"max_risk_per_trade": 0.01},
            "broker_name": null})),
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "POST",
            "/api/v1/accounts/{account_id}/switch",
            &routes::switch(&acc1),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);

    // Reads on the resolved account.
    let (s, b) = c.get("/api/v1/account", routes::ACCOUNT, t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "GET",
            routes::ACCOUNT,
            routes::ACCOUNT,
            Some(t),
            &[("X-Account-Id", &acc2)],
            Body::None,
        )
        .await;
    ok(s, &b, 200);
    assert_eq!(b["account_id"], acc2.as_str());
    let (s, b) = c.get("/api/v1/symbols", routes::SYMBOLS, t).await;
    ok(s, &b, 200);
    assert!(b["symbols"].as_array().unwrap().len() >= 5);
    let (s, b) = c
        .get("/api/v1/symbols", "/api/v1/symbols?group=*JPY*", t)
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .get("/api/v1/symbols/{symbol}", "/api/v1/symbols/EURUSD", t)
        .await;
    ok(s, &b, 200);
    let (s, tick) = c
        .get(
            "/api/v1/symbols/{symbol}/tick",
            "/api/v1/symbols/EURUSD/tick",
            t,
        )
        .await;
    ok(s, &tick, 200);
    let (s, b) = c
        .get(
            "/api/v1/symbols/{symbol}/rates",
            "/api/v1/symbols/EURUSD/rates?timeframe=M5&count=5",
            t,
        )
        .await;
    ok(s, &b, 200);
    assert_eq!(b["rates"].as_array().unwrap().len(), 5);

    // Orders and positions.
    let (s, b) = c
        .call(
            "POST",
            routes::ORDERS_CHECK,
            routes::ORDERS_CHECK,
            Some(t),
            &[],
            Body::Json(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})),
        )
        .await;
    ok(s, &b, 200);
    let place = Body::Json(
        json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1, "comment": "openapi",
        "deviation": 10, "magic": 7}),
    );
    let (s, b) = c
        .call(
            "POST",
            routes::ORDERS,
            routes::ORDERS,
            Some(t),
            &[("Idempotency-Key", "open-1")],
            place,
        )
        .await;
    ok(s, &b, 200);
    let position = b["order"].as_u64().unwrap();
    let fill = b["price"].as_f64().unwrap();
    let (s, b) = c.get("/api/v1/positions", routes::POSITIONS, t).await;
    ok(s, &b, 200);
    assert_eq!(b["positions"][0]["ticket"], position);
    let (s, b) = c
        .get("/api/v1/positions", "/api/v1/positions?symbol=EURUSD", t)
        .await;
    ok(s, &b, 200);
    let pos = "/api/v1/positions/{ticket}";
    let (s, b) = c
        .call(
            "PUT",
            pos,
            &routes::position(position),
            Some(t),
            &[],
            Body::Json(json!({"sl": ((fill - 0.01) * 1e5).round() / 1e5, "tp": null})),
        )
        .await;
    ok(s, &b, 200);
    let close = "/api/v1/positions/{ticket}/close";
    let (s, b) = c
        .call(
            "POST",
            close,
            &routes::close_position(position),
            Some(t),
            &[],
            Body::Json(json!({"volume": 0.05})),
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "POST",
            close,
            &routes::close_position(position),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);

    let bid = tick["bid"].as_f64().unwrap();
    let limit_price = ((bid - 0.02) * 1e5).round() / 1e5;
    let (s, b) = c
        .call(
            "POST",
            routes::ORDERS,
            routes::ORDERS,
            Some(t),
            &[],
            Body::Json(
                json!({"symbol": "EURUSD", "type": "buy_limit", "volume": 0.1, "price": limit_price,
                "type_time": "specified", "expiration": "2099-01-01T00:00:00Z"}),
            ),
        )
        .await;
    ok(s, &b, 200);
    let order = b["order"].as_u64().unwrap();
    let (s, b) = c.get("/api/v1/orders", routes::ORDERS, t).await;
    ok(s, &b, 200);
    assert_eq!(b["orders"][0]["ticket"], order);
    let pending = "/api/v1/orders/{ticket}";
    let (s, b) = c
        .call(
            "PUT",
            pending,
            &routes::order(order),
            Some(t),
            &[],
            Body::Json(
                json!({"price": ((limit_price - 0.001) * 1e5).round() / 1e5, "expiration": null}),
            ),
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "DELETE",
            pending,
            &routes::order(order),
            Some(t),
            &[("Idempotency-Key", "cancel-1")],
            Body::None,
        )
        .await;
    ok(s, &b, 200);

    let range = format!("from={}&to={}", now_ms / 1000 - 3600, now_ms / 1000 + 3600);
    let (s, b) = c
        .get(
            routes::HISTORY_DEALS,
            &format!("/api/v1/history/deals?{range}&limit=1"),
            t,
        )
        .await;
    ok(s, &b, 200);
    assert!(b["next_cursor"].is_string(), "{b}");
    let (s, b) = c
        .get(
            routes::HISTORY_ORDERS,
            &format!("/api/v1/history/orders?{range}"),
            t,
        )
        .await;
    ok(s, &b, 200);
    assert!(b["orders"].as_array().unwrap().len() >= 3, "{b}");
    let (s, b) = c.get("/api/v1/journal", "/api/v1/journal?limit=2", t).await;
    ok(s, &b, 200);
    assert!(b["next_cursor"].is_string(), "{b}");
    let (s, b) = c
        .get(
            routes::JOURNAL,
            &format!("/api/v1/journal?account_id={acc1}"),
            t,
        )
        .await;
    ok(s, &b, 200);
    let entry_id = b["entries"][0]["id"].as_str().unwrap().to_string();
    let (s, b) = c
        .get("/api/v1/journal/{id}", &routes::journal_entry(&entry_id), t)
        .await;
    ok(s, &b, 200);
    assert_eq!(b["entry"]["id"], entry_id.as_str(), "{b}");

    // Algorithms.
    let (s, b) = c.get("/api/v1/algorithms", routes::ALGORITHMS, t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "POST",
            routes::ALGORITHMS,
            routes::ALGORITHMS,
            Some(t),
            &[],
            Body::Json(
                json!({"name": "EURUSD trend", "kind": "ma_crossover", "parameters": params}),
            ),
        )
        .await;
    ok(s, &b, 201);
    let algorithm = b["algorithm"]["id"].as_str().unwrap().to_string();
    let one_algo = "/api/v1/algorithms/{algorithm_id}";
    let (s, b) = c.get(one_algo, &routes::algorithm(&algorithm), t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "PUT",
            one_algo,
            &routes::algorithm(&algorithm),
            Some(t),
            &[],
            Body::Json(json!({"name": "EURUSD trend H1"})),
        )
        .await;
    ok(s, &b, 200);
    let execute = routes::EXECUTE;
    let (s, b) = c
        .call(
            "POST",
            execute,
            execute,
            Some(t),
            &[],
            Body::Json(json!({"account_id": acc1, "algorithm_id": algorithm, "dry_run": true})),
        )
        .await;
    ok(s, &b, 200);
    assert!(b["trades"][0]["ticket"].is_null(), "{b}");
    let (s, b) = c
        .call(
            "POST",
            execute,
            execute,
            Some(t),
            &[],
            Body::Json(
                json!({"account_id": acc1, "algorithm_id": "ma_crossover", "parameters": params}),
            ),
        )
        .await;
    ok(s, &b, 200);
    assert!(b["trades"][0]["ticket"].is_u64(), "{b}");
    let run = b["run_id"].as_str().unwrap().to_string();
    let (s, b) = c
        .get(routes::RUNS, "/api/v1/algorithms/runs?limit=1", t)
        .await;
    ok(s, &b, 200);
    assert!(b["next_cursor"].is_string(), "{b}");
    let (s, b) = c
        .get("/api/v1/algorithms/runs/{run_id}", &routes::run(&run), t)
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "DELETE",
            one_algo,
            &routes::algorithm(&algorithm),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);

    let (s, b) = c
        .call(
            "DELETE",
            one,
            &routes::account(&acc2),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .get(
            routes::ACCOUNTS,
            "/api/v1/accounts?include_inactive=true",
            t,
        )
        .await;
    ok(s, &b, 200);
    assert_eq!(b["accounts"].as_array().unwrap().len(), 2);
    let (s, b) = c.get("/api/v1/audit", "/api/v1/audit?limit=50", t).await;
    ok(s, &b, 200);
    assert_eq!(b["entries"][0]["event"], "account_deleted", "{b}");
    let (s, b) = c.get("/api/v1/audit", "/api/v1/audit?limit=0", t).await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));

    // Errors.
    let (s, b) = c
        .call(
            "GET",
            routes::ACCOUNTS,
            routes::ACCOUNTS,
            None,
            &[],
            Body::None,
        )
        .await;
    assert_eq!((s, code(&b)), (401, "unauthorized"));
    let (s, b) = c
        .call(
            "GET",
            routes::POSITIONS,
            routes::POSITIONS,
            Some("not.a.jwt"),
            &[],
            Body::None,
        )
        .await;
    assert_eq!((s, code(&b)), (401, "unauthorized"));
    let (s, b) = c
        .get(one, &format!("/api/v1/accounts/{}", Uuid::new_v4()), t)
        .await;
    assert_eq!((s, code(&b)), (404, "account_not_found"));
    let (s, b) = c
        .call(
            "GET",
            routes::ACCOUNT,
            routes::ACCOUNT,
            Some(t),
            &[("X-Account-Id", &acc2)],
            Body::None,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "account_not_found"));
    let (s, b) = c.get(one, "/api/v1/accounts/not-a-uuid", t).await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    let (s, b) = c
        .call(
            "POST",
            connect,
            connect,
            Some(t),
            &[],
            Body::Invalid(json!({"login": 0, "extra": 1})),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    assert!(b["error"]["details"]["fields"].as_array().unwrap().len() >= 4);
    let (s, b) = c
        .call(
            "POST",
            connect,
            connect,
            Some(t),
            &[],
            Body::Raw("{\"login\":"),
        )
        .await;
    assert_eq!((s, code(&b)), (400, "invalid_json"));
    let (s, b) = c
        .call("POST", connect, connect, Some(t), &[], Body::Json(json!({
            "account_name": "Again", "login": 10001, "password": "Sim-10001!", "server": "Sim-Demo"})))
        .await;
    assert_eq!((s, code(&b)), (409, "account_exists"));
    let (s, b) = c
        .call("POST", connect, connect, Some(t), &[], Body::Json(json!({
            "account_name": "Wrong", "login": 10003, "password": "wrong-password", "server": "Sim-Demo"})))
        .await;
    assert_eq!((s, code(&b)), (422, "mt5_login_failed"));
    let (s, b) = c
        .get("/api/v1/symbols/{symbol}", "/api/v1/symbols/NOPE", t)
        .await;
    assert_eq!((s, code(&b)), (404, "symbol_not_found"));
    let (s, b) = c
        .get(
            "/api/v1/symbols/{symbol}/rates",
            "/api/v1/symbols/EURUSD/rates?timeframe=X1",
            t,
        )
        .await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    let (s, b) = c
        .call(
            "POST",
            routes::ORDERS,
            routes::ORDERS,
            Some(t),
            &[],
            Body::Json(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.015})),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "trade_rejected"), "{b}");
    let (s, b) = c
        .call(
            "POST",
            routes::ORDERS,
            routes::ORDERS,
            Some(t),
            &[("Idempotency-Key", "open-1")],
            Body::Json(json!({"symbol": "EURUSD", "type": "sell", "volume": 0.1})),
        )
        .await;
    assert_eq!((s, code(&b)), (422, "idempotency_key_reused"));
    let (s, b) = c
        .call(
            "PUT",
            pos,
            &routes::position(position),
            Some(t),
            &[],
            Body::Json(json!({"sl": 1.0})),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "position_not_found"));
    let (s, b) = c
        .call(
            "DELETE",
            pending,
            &routes::order(order),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "order_not_found"));
    let (s, b) = c
        .call(
            "POST",
            execute,
            execute,
            Some(t),
            &[],
            // No saved configuration has this id.
            Body::Json(json!({"account_id": acc1, "algorithm_id": Uuid::new_v4()})),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "algorithm_not_found"));
    let (s, b) = c
        .get(
            "/api/v1/algorithms/runs/{run_id}",
            &format!("/api/v1/algorithms/runs/{}", Uuid::new_v4()),
            t,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "run_not_found"));
    let (s, b) = c.get("/api/v1/journal", "/api/v1/journal?limit=0", t).await;
    assert_eq!((s, code(&b)), (422, "validation_failed"));
    let (s, b) = c
        .get(
            "/api/v1/journal/{id}",
            &format!("/api/v1/journal/{}", Uuid::new_v4()),
            t,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "journal_entry_not_found"));
    let newcomer = app.token(Uuid::new_v4());
    let (s, b) = c.get("/api/v1/account", routes::ACCOUNT, &newcomer).await;
    assert_eq!((s, code(&b)), (404, "no_account"));
    let (s, b) = c
        .get(routes::CURRENT_ACCOUNT, routes::CURRENT_ACCOUNT, &newcomer)
        .await;
    assert_eq!((s, code(&b)), (404, "no_account"));

    // The account's report from its deals.
    let (s, b) = c
        .get(
            "/api/v1/accounts/{account_id}/report",
            &format!("{}/report?symbol=EURUSD", routes::account(&acc1)),
            t,
        )
        .await;
    ok(s, &b, 200);

    // Backtests: queued, polled to the end, read, deleted; a canceled one; one not found.
    let backtests = routes::BACKTESTS;
    let to = now_ms / 1000;
    let backtest_body = json!({"account_id": acc1, "algorithm_id": "ma_crossover",
        "parameters": {"symbol": "EURUSD", "timeframe": "H1"}, "from": to - 10 * 86_400, "to": to,
        "sweep": {"fast_period": [5, 8]}, "spread": "fixed", "spread_points": 10});
    let (s, b) = c
        .call(
            "POST",
            backtests,
            backtests,
            Some(t),
            &[],
            Body::Json(backtest_body.clone()),
        )
        .await;
    ok(s, &b, 202);
    let bt = b["id"].as_str().unwrap().to_string();
    let one = "/api/v1/backtests/{backtest_id}";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (s, b) = c.get(one, &routes::backtest(&bt), t).await;
        ok(s, &b, 200);
        if b["status"] == "done" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{b}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (s, b) = c.get(backtests, &format!("{backtests}?limit=1"), t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .get(
            "/api/v1/backtests/{backtest_id}/trades",
            &format!("{}?limit=1", routes::backtest_trades(&bt)),
            t,
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .get(
            "/api/v1/backtests/{backtest_id}/equity",
            &format!("{}?points=3&combination=1", routes::backtest_equity(&bt)),
            t,
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "DELETE",
            one,
            &routes::backtest(&bt),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 204);
    let (s, b) = c.get(one, &routes::backtest(&bt), t).await;
    assert_eq!((s, code(&b)), (404, "backtest_not_found"));
    let (s, b) = c
        .call(
            "POST",
            backtests,
            backtests,
            Some(t),
            &[],
            Body::Json(backtest_body),
        )
        .await;
    ok(s, &b, 202);
    let (s, b) = c
        .call(
            "DELETE",
            one,
            &routes::backtest(b["id"].as_str().unwrap()),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    assert!(s == 202 || s == 204, "{s} {b}");

    // Bots: a paper bot created, listed, read, edited, paused, resumed, stopped and deleted; the
    // kill switch.
    let bots = routes::BOTS;
    let one_bot = "/api/v1/bots/{bot_id}";
    let (s, b) = c
        .call(
            "POST",
            bots,
            bots,
            Some(t),
            &[],
            Body::Json(
                json!({"name": "doc", "account_id": acc1, "algorithm_id": "ma_crossover",
                "parameters": {"symbol": "EURUSD"}, "dry_run": true}),
            ),
        )
        .await;
    ok(s, &b, 201);
    let bot = b["id"].as_str().unwrap().to_string();
    let (s, b) = c.get(bots, &format!("{bots}?limit=1"), t).await;
    ok(s, &b, 200);
    let (s, b) = c.get(one_bot, &routes::bot(&bot), t).await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "PUT",
            one_bot,
            &routes::bot(&bot),
            Some(t),
            &[],
            Body::Json(json!({"parameters": {"risk_per_trade": 0.005}})),
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .get(
            "/api/v1/bots/{bot_id}/replay",
            &format!("{}/replay?from=2020-01-01T00:00:00Z", routes::bot(&bot)),
            t,
        )
        .await;
    ok(s, &b, 200);
    for action in ["pause", "resume", "stop"] {
        let (s, b) = c
            .call(
                "POST",
                &format!("/api/v1/bots/{{bot_id}}/{action}"),
                &routes::bot_action(&bot, action),
                Some(t),
                &[],
                Body::None,
            )
            .await;
        ok(s, &b, 200);
    }
    let (s, b) = c
        .call(
            "POST",
            routes::KILL_SWITCH,
            routes::KILL_SWITCH,
            Some(t),
            &[],
            Body::Json(json!({"account_id": acc1})),
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c
        .call(
            "DELETE",
            one_bot,
            &routes::bot(&bot),
            Some(t),
            &[],
            Body::None,
        )
        .await;
    ok(s, &b, 200);
    let (s, b) = c.get(one_bot, &routes::bot(&bot), t).await;
    assert_eq!((s, code(&b)), (404, "bot_not_found"));

    // A schema that disagrees with a real response is caught: the tick against a Tick schema whose
    // `bid` is a string, and against one that lacks `volume_real`.
    let tick_schema = json!({"$ref": "#/components/schemas/Tick"});
    let mut wrong = doc.clone();
    wrong["components"]["schemas"]["Tick"]["properties"]["bid"]["type"] = json!("string");
    assert!(!Validator::new(&wrong)
        .errors(&tick_schema, &tick)
        .is_empty());
    let mut wrong = doc.clone();
    wrong["components"]["schemas"]["Tick"]["properties"]
        .as_object_mut()
        .unwrap()
        .remove("volume_real");
    let errors = Validator::new(&wrong).errors(&tick_schema, &tick);
    assert!(
        errors.iter().any(|e| e.contains("volume_real")),
        "{errors:?}"
    );
    assert!(Validator::new(&doc).errors(&tick_schema, &tick).is_empty());

    // A status the document does not list is a disagreement too.
    let mut doctored = doc.clone();
    doctored["paths"]["/api/v1/symbols/{symbol}"]["get"]["responses"]
        .as_object_mut()
        .unwrap()
        .remove("404");
    let mut strict = Checked {
        app: &app,
        doc: &doctored,
        seen: BTreeMap::new(),
        failures: Vec::new(),
    };
    let (s, _) = strict
        .get("/api/v1/symbols/{symbol}", "/api/v1/symbols/NOPE", t)
        .await;
    assert_eq!(s, 404);
    assert!(
        strict.failures.len() == 1 && strict.failures[0].contains("status 404 is not documented"),
        "{:?}",
        strict.failures
    );

    // Every documented operation answered with a success at least once; the WebSocket's success
    // is its upgrade (101), which tests/stream.rs makes.
    let uncovered: Vec<_> = documented_operations(&doc)
        .into_iter()
        .filter(|(m, p)| doc["paths"][p][m.to_lowercase()]["responses"]["101"].is_null())
        .filter(|(m, p)| {
            !c.seen
                .get(&(m.clone(), p.clone()))
                .is_some_and(|s| s.iter().any(|s| (200..300).contains(s)))
        })
        .collect();
    assert!(
        uncovered.is_empty(),
        "operations never called with success: {uncovered:?}"
    );
    assert!(
        c.failures.is_empty(),
        "{} disagreements with the document:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_documented_sqlite() {
    every_operation_answers_as_documented(common::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_documented_postgres() {
    every_operation_answers_as_documented(common::Db::Postgres).await;
}

/// Answers that carry enum values the service does not know (`unknown_<n>`, from terminals set to
/// report them) agree with the document too, and a request naming one is a documented 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_with_unknown_values_agree_with_the_document() {
    let sim = mt5_sim::config::SimConfig {
        unknown_enums: mt5_sim::config::UnknownEnums {
            order_state: true,
            trade_mode: true,
            account_trade_mode: true,
            ..mt5_sim::config::UnknownEnums::shown()
        },
        ..common::sim_config()
    };
    let app = common::spawn_with(common::Db::Sqlite, sim, |_| {}).await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut c = Checked {
        app: &app,
        doc: &doc,
        seen: BTreeMap::new(),
        failures: Vec::new(),
    };
    let t = app.token(Uuid::new_v4());
    let t = t.as_str();
    let connect = routes::CONNECT;
    let (s, b) = c
        .call(
            "POST",
            connect,
            connect,
            Some(t),
            &[],
            Body::Json(
                json!({"account_name": "odd", "login": 10001, "password": "Sim-10001!",
                              "server": "Sim-Demo"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let orders = routes::ORDERS;
    let (s, b) = c
        .call(
            "POST",
            orders,
            orders,
            Some(t),
            &[],
            Body::Json(json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["request"]["type"], "buy");
    let (s, b) = c
        .call(
            "POST",
            orders,
            orders,
            Some(t),
            &[],
            Body::Invalid(json!({"symbol": "EURUSD", "type": "unknown_0", "volume": 0.1})),
        )
        .await;
    assert_eq!((s, &b["error"]["code"]), (422, &json!("validation_failed")));
    for (template, path, field, want) in [
        (
            routes::ACCOUNT,
            routes::ACCOUNT,
            "/trade_mode",
            "unknown_13",
        ),
        (
            routes::SYMBOLS,
            routes::SYMBOLS,
            "/symbols/0/trade_calc_mode",
            "unknown_77",
        ),
        (
            "/api/v1/symbols/{symbol}",
            "/api/v1/symbols/EURUSD",
            "/trade_mode",
            "unknown_9",
        ),
        (
            routes::POSITIONS,
            routes::POSITIONS,
            "/positions/0/reason",
            "unknown_97",
        ),
        ("/api/v1/orders", routes::ORDERS, "/orders", ""),
        (
            routes::HISTORY_DEALS,
            routes::HISTORY_DEALS,
            "/deals/0/reason",
            "unknown_99",
        ),
        (
            routes::HISTORY_ORDERS,
            routes::HISTORY_ORDERS,
            "/orders/0/state",
            "unknown_17",
        ),
    ] {
        let (s, b) = c.get(template, path, t).await;
        assert_eq!(s, 200, "{path}: {b}");
        if !want.is_empty() {
            assert_eq!(b.pointer(field), Some(&json!(want)), "{path}: {b}");
        }
    }
    // The validator does hold answers to the pattern: a name that is neither is a disagreement.
    let deal_schema = json!({"$ref": "#/components/schemas/TradeDeal"});
    let (_, deals) = c
        .get("/api/v1/history/deals", routes::HISTORY_DEALS, t)
        .await;
    let mut deal = deals["deals"][0].clone();
    assert!(Validator::new(&doc).errors(&deal_schema, &deal).is_empty());
    deal["reason"] = json!("unknown_x");
    assert!(!Validator::new(&doc).errors(&deal_schema, &deal).is_empty());
    // Requests keep the closed lists.
    let filling = &doc["components"]["schemas"]["OrderFillingInput"];
    assert!(
        filling["enum"].as_array().is_some_and(|e| !e.is_empty()),
        "{filling}"
    );
    assert!(!filling.to_string().contains("unknown"), "{filling}");
    assert!(
        c.failures.is_empty(),
        "{} disagreements with the document:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    app.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// The document and the page, without a token
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_the_page_need_no_token_and_no_other_host() {
    let app = common::spawn(common::Db::Sqlite).await;
    let resp = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let doc: Value = resp.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"][routes::ORDERS]["post"].is_object());

    // /docs sends the browser to /docs/ (the page's files are relative to it).
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    assert_eq!(resp.headers()["location"], "/docs/");

    let resp = app
        .client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");

    // The page and its start script name no other host, point at /openapi.json, and every file
    // the page loads is served from the binary.
    let init = app
        .client
        .get(format!("{}/docs/swagger-initializer.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    let init = init.text().await.unwrap();
    assert!(init.contains("\"/openapi.json\""), "{init}");
    for text in [&html, &init] {
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "the page refers to another host:\n{text}"
        );
    }
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css") || s.ends_with(".png"))
        .collect();
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in assets {
        let name = asset.trim_start_matches("./");
        let resp = app
            .client
            .get(format!("{}/docs/{name}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "/docs/{name}");
        assert!(!resp.bytes().await.unwrap().is_empty(), "/docs/{name}");
    }
    app.shutdown().await;
}
