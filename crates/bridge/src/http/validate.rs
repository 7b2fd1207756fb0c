//! Requests that parse and document themselves, reporting every field at fault at once.
//!
//! A request body or query string is one type: it derives its document (`utoipa::ToSchema`, or
//! `IntoParams` for a query) and its parser (`#[derive(Request)]`, `crates/bridge-macros`) from
//! the same fields, names and limits. The parser reads the body as a JSON object (a query as an
//! object of strings) through [`Fields`], which collects every fault (unknown names, wrong types,
//! empty or over-long strings, numbers out of bounds, bad enums) instead of stopping at the first
//! as serde would, and keeps absent, null and a value apart ([`Opt`]). A body whose schema is
//! built by hand (the algorithms' shapes per strategy) implements [`Request`] beside its schema.
//!
//! The test `parsers_give_the_verdicts_of_their_documented_schemas` holds every parser to its
//! schema in the served document, at the schema's own edges.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// The derive of [`Request`] (the trait and its derive go by one name, as serde's do).
pub use mt5_bridge_macros::Request;

pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    seen: BTreeSet<&'static str>,
    errors: Vec<FieldError>,
    /// What a name the request does not have is called (a body's field, a query's parameter).
    unknown: &'static str,
    /// Whether such a name passes unremarked ([`Request::IGNORE_UNKNOWN`]).
    ignore_unknown: bool,
}

/// A field that is absent, explicitly null, or has a value.
#[derive(Debug, Clone, PartialEq)]
pub enum Opt<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Opt<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Opt::Value(v) => Some(v),
            _ => None,
        }
    }
    pub fn is_absent(&self) -> bool {
        matches!(self, Opt::Absent)
    }
}

impl Opt<f64> {
    /// A price level of a modification, as MT5 takes it (it resends every level): absent keeps
    /// `current`, null removes it (0), a value replaces it.
    pub fn level(&self, current: f64) -> f64 {
        match self {
            Opt::Absent => current,
            Opt::Null => 0.0,
            Opt::Value(v) => *v,
        }
    }
}

/// What a field's documented schema limits, as the `Request` derive passes it to the field's
/// reader: the numbers of its `#[schema]` (or `#[param]`) attribute, written once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rule {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<f64>,
    pub exclusive_minimum: Option<f64>,
    pub maximum: Option<f64>,
}

/// A type a request field holds, read from the body under its [`Rule`].
pub trait Field: Sized {
    fn read(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<Self>;
}

impl Field for String {
    fn read(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<Self> {
        match f.string(name, rule.max_length.unwrap_or(usize::MAX)) {
            // Not blank is one character at least; a longer least is said as such.
            Opt::Value(s) if rule.min_length.is_some_and(|min| s.chars().count() < min) => {
                let min = rule.min_length.unwrap_or_default();
                f.error(name, format!("must be at least {min} characters"));
                Opt::Absent
            }
            other => other,
        }
    }
}

impl Field for f64 {
    fn read(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<Self> {
        f.number_in(name, rule)
    }
}

impl Field for u64 {
    fn read(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Self> {
        f.uint(name)
    }
}

impl Field for bool {
    fn read(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Self> {
        f.boolean(name)
    }
}

impl Field for uuid::Uuid {
    fn read(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Self> {
        f.uuid(name)
    }
}

/// MT5's enums by their JSON names, any of them.
macro_rules! mt5_fields {
    ($($enum:ty),+) => {$(
        impl Field for $enum {
            fn read(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<Self> {
                f.mt5_enum(name, <$enum as mt5::enums::Mt5Enum>::all())
            }
        }
    )+};
}

mt5_fields!(mt5::OrderFilling, mt5::OrderTime);

/// A whole number within the rule's bounds, as a JSON number or (a query's) a string of digits.
impl Field for u32 {
    fn read(f: &mut Fields<'_>, name: &'static str, rule: &Rule) -> Opt<Self> {
        let n = match f.raw(name) {
            None => return Opt::Absent,
            Some(Value::Null) => return Opt::Null,
            Some(Value::String(s)) => s.parse::<u32>().ok(),
            Some(v) => crate::fields::whole_u64(v).and_then(|n| u32::try_from(n).ok()),
        };
        let within = |n: &u32| {
            rule.minimum.is_none_or(|m| f64::from(*n) >= m)
                && rule.maximum.is_none_or(|m| f64::from(*n) <= m)
        };
        match n.filter(within) {
            Some(n) => Opt::Value(n),
            None => {
                let from = rule.minimum.unwrap_or(0.0);
                let message = match rule.maximum {
                    Some(to) => format!("must be an integer from {from} to {to}"),
                    None => format!("must be an integer from {from}"),
                };
                f.error(name, message);
                Opt::Absent
            }
        }
    }
}

/// A time field (`with = input_time`): RFC 3339 or epoch seconds, as UTC epoch seconds.
pub fn input_time(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<i64> {
    f.time(name)
}

/// A symbol field's further check (`check = symbol_fault`): the service's symbol rule.
pub fn symbol_fault(symbol: &str) -> Option<&'static str> {
    (!crate::fields::is_symbol(symbol)).then_some(crate::fields::SYMBOL_RULE)
}

/// A request body (or query string) as one type: it documents itself (`utoipa::ToSchema`) and
/// parses itself (`#[derive(Request)]`, from the same fields and limits), reporting every field
/// at fault in one answer.
pub trait Request: Sized {
    /// Whether names the type does not have pass unremarked instead of being refused.
    const IGNORE_UNKNOWN: bool = false;

    /// Reads every field; a field at fault is reported on `f` and holds its default.
    fn read(f: &mut Fields<'_>) -> Self;

    /// Checks fields against each other, once all are read (`f.at_fault` tells which failed).
    fn check(&self, _f: &mut Fields<'_>) {}

    /// The body, or `422` naming every field at fault (unknown ones included).
    fn parse(body: &Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(body)?;
        f.ignore_unknown = Self::IGNORE_UNKNOWN;
        let request = Self::read(&mut f);
        request.check(&mut f);
        f.finish()?;
        Ok(request)
    }

    /// The query string, or `422` naming every parameter at fault (unknown ones included).
    fn parse_query(q: &HashMap<String, String>) -> Result<Self, ApiError> {
        let obj = query_object(q.iter());
        let mut f = Fields::query(&obj);
        f.ignore_unknown = Self::IGNORE_UNKNOWN;
        let request = Self::read(&mut f);
        request.check(&mut f);
        f.finish()?;
        Ok(request)
    }

    /// The query string as written, a parameter this type reads given at most once: a repeated
    /// one is refused naming it (the rest unread, as a query that cannot be read).
    fn parse_query_pairs(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let obj = query_object(pairs.iter().map(|(k, v)| (k, v)));
        let mut f = Fields::query(&obj);
        f.ignore_unknown = Self::IGNORE_UNKNOWN;
        let request = Self::read(&mut f);
        let repeated = pairs.iter().enumerate().find(|(i, (k, _))| {
            f.seen.contains(k.as_str()) && pairs[..*i].iter().any(|(earlier, _)| earlier == k)
        });
        if let Some((_, (name, _))) = repeated {
            return Err(ApiError::validation(
                name.clone(),
                "cannot be read (each parameter at most once, as text)",
            ));
        }
        request.check(&mut f);
        f.finish()?;
        Ok(request)
    }
}

/// A query string's parameters as a JSON object of strings (of a repeated one, the last).
fn query_object<'q>(pairs: impl Iterator<Item = (&'q String, &'q String)>) -> Map<String, Value> {
    pairs
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

/// A query parameter taken as given (`with = any_text`): what it must be is the handler's to
/// judge (an opaque cursor, MT5's group filter).
pub fn any_text(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<String> {
    match f.raw(name) {
        None => Opt::Absent,
        Some(Value::String(s)) => Opt::Value(s.clone()),
        Some(Value::Null) => Opt::Null,
        Some(_) => {
            f.error(name, "must be a string");
            Opt::Absent
        }
    }
}

/// A UUID query parameter (`with = query_uuid`), exactly as written.
pub fn query_uuid(f: &mut Fields<'_>, name: &'static str, _: &Rule) -> Opt<uuid::Uuid> {
    match f.raw(name) {
        None => Opt::Absent,
        Some(Value::String(s)) => match uuid::Uuid::parse_str(s) {
            Ok(id) => Opt::Value(id),
            Err(_) => {
                f.error(name, "must be a UUID");
                Opt::Absent
            }
        },
        Some(_) => {
            f.error(name, "must be a UUID");
            Opt::Absent
        }
    }
}

impl<'a> Fields<'a> {
    /// The body must be a JSON object.
    pub fn new(body: &'a Value) -> Result<Self, ApiError> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                seen: BTreeSet::new(),
                errors: Vec::new(),
                unknown: "unknown field",
                ignore_unknown: false,
            }),
            None => Err(ApiError::validation("body", "must be a JSON object")),
        }
    }

    /// A query string's parameters, each a string.
    fn query(obj: &'a Map<String, Value>) -> Self {
        Fields {
            obj,
            seen: BTreeSet::new(),
            errors: Vec::new(),
            unknown: "unknown query parameter",
            ignore_unknown: false,
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A field valid on its own that cannot go with another of the body's
    /// (`invalid_combination` when nothing else is at fault).
    pub fn conflict(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::combination(field, message));
    }

    fn raw(&mut self, name: &'static str) -> Option<&'a Value> {
        self.seen.insert(name);
        self.obj.get(name)
    }

    /// A string of 1..=max characters (after trimming for the emptiness check).
    pub fn string(&mut self, name: &'static str, max: usize) -> Opt<String> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::String(s)) => {
                if s.trim().is_empty() {
                    self.error(name, "must not be empty");
                    Opt::Absent
                } else if s.chars().count() > max {
                    self.error(name, format!("must be at most {max} characters"));
                    Opt::Absent
                } else if s.chars().any(|c| c.is_control()) {
                    self.error(name, "must not contain control characters");
                    Opt::Absent
                } else {
                    Opt::Value(s.clone())
                }
            }
            Some(_) => {
                self.error(name, "must be a string");
                Opt::Absent
            }
        }
    }

    /// A required field's value; absent or null is "is required" (unless it is already at
    /// fault), and the default stands in for it.
    pub fn required<T: Default>(&mut self, name: &'static str, value: Opt<T>) -> T {
        match value {
            Opt::Value(v) => v,
            Opt::Absent | Opt::Null => {
                if !self.at_fault(name) {
                    self.error(name, "is required");
                }
                T::default()
            }
        }
    }

    /// Whether `name` has been reported at fault.
    pub fn at_fault(&self, name: &str) -> bool {
        self.errors.iter().any(|e| e.field == name)
    }

    /// Whether the body has `name` at all (null included).
    pub fn has(&self, name: &str) -> bool {
        self.obj.contains_key(name)
    }

    /// A UUID (a string).
    pub fn uuid(&mut self, name: &'static str) -> Opt<uuid::Uuid> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::String(s)) => match uuid::Uuid::parse_str(s.trim()) {
                Ok(id) => Opt::Value(id),
                Err(_) => {
                    self.error(name, "must be a UUID");
                    Opt::Absent
                }
            },
            Some(_) => {
                self.error(name, "must be a UUID");
                Opt::Absent
            }
        }
    }

    /// A finite number within `rule`'s bounds.
    pub fn number_in(&mut self, name: &'static str, rule: &Rule) -> Opt<f64> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x)
                    if x.is_finite()
                        && rule.exclusive_minimum.is_none_or(|m| x > m)
                        && rule.minimum.is_none_or(|m| x >= m)
                        && rule.maximum.is_none_or(|m| x <= m) =>
                {
                    Opt::Value(x)
                }
                _ => {
                    let message = match (rule.exclusive_minimum, rule.minimum, rule.maximum) {
                        (Some(0.0), None, None) => "must be a finite positive number".to_string(),
                        (None, Some(0.0), None) => "must be a finite number ≥ 0".to_string(),
                        (gt, ge, le) => {
                            let mut m = "must be a finite number".to_string();
                            if let Some(gt) = gt {
                                m.push_str(&format!(" > {gt}"));
                            }
                            if let Some(ge) = ge {
                                m.push_str(&format!(" ≥ {ge}"));
                            }
                            if let Some(le) = le {
                                m.push_str(&format!(" ≤ {le}"));
                            }
                            m
                        }
                    };
                    self.error(name, message);
                    Opt::Absent
                }
            },
            Some(_) => {
                self.error(name, "must be a number");
                Opt::Absent
            }
        }
    }

    pub fn boolean(&mut self, name: &'static str) -> Opt<bool> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::Bool(b)) => Opt::Value(*b),
            Some(_) => {
                self.error(name, "must be true or false");
                Opt::Absent
            }
        }
    }

    /// One of the given lower-case strings.
    pub fn one_of(&mut self, name: &'static str, allowed: &[&str]) -> Opt<String> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::String(s)) if allowed.contains(&s.as_str()) => Opt::Value(s.clone()),
            Some(_) => {
                self.error(name, format!("must be one of: {}", allowed.join(", ")));
                Opt::Absent
            }
        }
    }

    /// An MT5 login: a positive integer, as a JSON number or a string of digits.
    pub fn login(&mut self, name: &'static str) -> Opt<u64> {
        let parsed = match self.raw(name) {
            None => return Opt::Absent,
            Some(Value::Null) => return Opt::Null,
            Some(v @ Value::Number(_)) => crate::fields::whole_u64(v),
            Some(Value::String(s)) => {
                let t = s.trim();
                if !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit()) {
                    t.parse::<u64>().ok()
                } else {
                    None
                }
            }
            Some(_) => None,
        };
        match parsed {
            Some(v) if v > 0 => Opt::Value(v),
            _ => {
                self.error(name, "must be a positive integer");
                Opt::Absent
            }
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self, name: &'static str) -> Opt<u64> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(v @ Value::Number(_)) if crate::fields::whole_u64(v).is_some() => {
                Opt::Value(crate::fields::whole_u64(v).unwrap_or(0))
            }
            Some(_) => {
                self.error(name, "must be a non-negative integer");
                Opt::Absent
            }
        }
    }

    /// A time: RFC 3339 or epoch seconds (UTC); returns UTC epoch seconds.
    pub fn time(&mut self, name: &'static str) -> Opt<i64> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(v) => match crate::times::parse_input_time(v) {
                Some(t) => Opt::Value(t),
                None => {
                    self.error(name, crate::times::TIME_RULE);
                    Opt::Absent
                }
            },
        }
    }

    /// An MT5 enum by its JSON name (e.g. an order type).
    pub fn mt5_enum<E: mt5::enums::Mt5Enum + PartialEq>(
        &mut self,
        name: &'static str,
        allowed: &[E],
    ) -> Opt<E> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::String(s)) => match E::from_name(s).filter(|e| allowed.contains(e)) {
                Some(e) => Opt::Value(e),
                None => {
                    let names: Vec<&str> = allowed.iter().filter_map(|e| e.known_name()).collect();
                    self.error(name, format!("must be one of: {}", names.join(", ")));
                    Opt::Absent
                }
            },
            Some(_) => {
                self.error(name, "must be a string");
                Opt::Absent
            }
        }
    }

    /// A raw value for fields with their own validation (e.g. risk_limits).
    pub fn value(&mut self, name: &'static str) -> Opt<&'a Value> {
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(v) => Opt::Value(v),
        }
    }

    pub fn extend(&mut self, errors: Vec<FieldError>) {
        self.errors.extend(errors);
    }

    /// Fails with every error collected, unknown fields included.
    pub fn finish(mut self) -> Result<(), ApiError> {
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.ignore_unknown && !self.seen.contains(k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let name: String = k.chars().take(64).collect();
            self.errors.push(FieldError::new(name, self.unknown));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error() {
        let body = json!({"name": "", "login": "12a", "flag": "yes", "extra": 1});
        let mut f = Fields::new(&body).unwrap();
        let name = f.string("name", 10);
        f.required("name", name);
        let login = f.login("login");
        f.required("login", login);
        f.boolean("flag");
        let server = f.string("server", 10);
        f.required("server", server);
        let Err(ApiError::Validation(errs)) = f.finish() else {
            panic!("expected errors")
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "login", "flag", "server", "extra"]);
    }

    /// A request as the handlers declare one.
    #[derive(utoipa::ToSchema, Request)]
    #[request(check = sl_needs_volume)]
    struct Sample {
        #[schema(max_length = 5)]
        name: String,
        #[schema(exclusive_minimum = 0)]
        volume: f64,
        #[request(default = 20)]
        deviation: u64,
        filling: Option<mt5::OrderFilling>,
        #[schema(value_type = Option<f64>, minimum = 0)]
        sl: Opt<f64>,
    }

    fn sl_needs_volume(r: &Sample, f: &mut Fields<'_>) {
        if matches!(r.sl, Opt::Value(_)) && f.at_fault("volume") {
            f.conflict("sl", "needs a volume");
        }
    }

    fn faults(body: Value) -> Vec<(String, String)> {
        match Sample::parse(&body) {
            Err(ApiError::Validation(e)) | Err(ApiError::InvalidCombination(e)) => {
                e.into_iter().map(|e| (e.field, e.message)).collect()
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => Vec::new(),
        }
    }

    /// The derived parser reads every field before it refuses, so one answer names every field
    /// at fault (wrong types and unknown enum names included), in the order declared, then the
    /// combinations, then unknown names; limits come from the schema attributes.
    #[test]
    fn a_derived_parser_names_every_field_at_fault_at_once() {
        let all = faults(json!({
            "name": "toolong", "volume": "1", "filling": "sometimes", "sl": 1, "zz": true
        }));
        let named: Vec<&str> = all.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(named, ["name", "volume", "filling", "sl", "zz"], "{all:?}");
        assert_eq!(all[0].1, "must be at most 5 characters");
        assert_eq!(all[1].1, "must be a number");
        assert!(all[2].1.starts_with("must be one of: "), "{all:?}");
        assert_eq!(all[4].1, "unknown field");
        let missing = faults(json!({"sl": -1}));
        assert_eq!(
            missing,
            [
                ("name".to_string(), "is required".to_string()),
                ("volume".to_string(), "is required".to_string()),
                ("sl".to_string(), "must be a finite number ≥ 0".to_string()),
            ]
        );
        // Null is absent for a required field too.
        assert_eq!(
            faults(json!({"name": null, "volume": 0}))[1].1,
            "must be a finite positive number"
        );
    }

    /// Absent, null and a value stay apart where the type says so (`Opt`); defaults fill only
    /// what is absent or null.
    #[test]
    fn absent_null_and_a_value_stay_apart() {
        let read = |body: Value| Sample::parse(&body).unwrap_or_else(|e| panic!("{e:?}"));
        let absent = read(json!({"name": "a", "volume": 0.1}));
        assert_eq!(
            (absent.deviation, absent.filling, absent.sl),
            (20, None, Opt::Absent)
        );
        let null = read(
            json!({"name": "a", "volume": 0.1, "sl": null, "deviation": null, "filling": null}),
        );
        assert_eq!(
            (null.deviation, null.filling, null.sl),
            (20, None, Opt::Null)
        );
        let given =
            read(json!({"name": "a", "volume": 0.1, "sl": 0, "deviation": 3, "filling": "fok"}));
        assert_eq!(
            (
                given.name.as_str(),
                given.volume,
                given.deviation,
                given.filling,
                given.sl
            ),
            ("a", 0.1, 3, Some(mt5::OrderFilling::Fok), Opt::Value(0.0))
        );
    }

    type Parse = fn(&Value) -> Result<(), ApiError>;

    fn body<T: Request>(body: &Value) -> Result<(), ApiError> {
        T::parse(body).map(|_| ())
    }

    /// A query string written as a JSON object of scalars.
    fn query<T: Request>(q: &Value) -> Result<(), ApiError> {
        let q: HashMap<String, String> = q
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| match v {
                Value::String(s) => (k.clone(), s.clone()),
                other => (k.clone(), other.to_string()),
            })
            .collect();
        T::parse_query(&q).map(|_| ())
    }

    /// Every request body by its schema's name in the API document, and its parser.
    fn bodies() -> Vec<(&'static str, Parse)> {
        use crate::http::{accounts, algorithms, orders, positions};
        vec![
            ("PlaceOrderRequest", body::<orders::PlaceOrderRequest>),
            ("ModifyOrderRequest", body::<orders::ModifyOrderRequest>),
            (
                "ModifyPositionRequest",
                body::<positions::ModifyPositionRequest>,
            ),
            (
                "ClosePositionRequest",
                body::<positions::ClosePositionRequest>,
            ),
            (
                "CreateAlgorithmRequest",
                body::<algorithms::CreateAlgorithmRequest>,
            ),
            (
                "UpdateAlgorithmRequest",
                body::<algorithms::UpdateAlgorithmRequest>,
            ),
            ("ExecuteRequest", body::<algorithms::ExecuteRequest>),
            ("ConnectRequest", body::<accounts::ConnectRequest>),
            (
                "UpdateAccountRequest",
                body::<accounts::UpdateAccountRequest>,
            ),
        ]
    }

    /// A query's documented parameters as an object schema.
    fn params<T: utoipa::IntoParams>() -> Value {
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in T::into_params(|| None) {
            let p = serde_json::to_value(p).unwrap();
            let name = p["name"].as_str().unwrap().to_string();
            if p["required"] == true {
                required.push(json!(name));
            }
            props.insert(name, p["schema"].clone());
        }
        json!({"type": "object", "properties": props, "required": required})
    }

    /// Every query string: its documented parameters, its parser, whether it lets other names
    /// pass.
    fn queries() -> Vec<(&'static str, Value, Parse, bool)> {
        fn q<T: Request + utoipa::IntoParams>(
            name: &'static str,
        ) -> (&'static str, Value, Parse, bool) {
            (name, params::<T>(), query::<T>, T::IGNORE_UNKNOWN)
        }
        use crate::http::{accounts, algorithms, history, market, trading};
        vec![
            q::<trading::SymbolFilter>("SymbolFilter"),
            q::<market::SymbolsQuery>("SymbolsQuery"),
            q::<market::RatesQuery>("RatesQuery"),
            q::<history::HistoryQuery>("HistoryQuery"),
            q::<history::JournalQuery>("JournalQuery"),
            q::<algorithms::AlgorithmsQuery>("AlgorithmsQuery"),
            q::<algorithms::PageQuery>("PageQuery"),
            q::<accounts::ListAccountsQuery>("ListAccountsQuery"),
            q::<accounts::AuditQuery>("AuditQuery"),
        ]
    }

    /// Where the document is stricter than the parser by design: (request, field, why).
    const LENIENT: &[(&str, &str, &str)] = &[
        (
            "ExecuteRequest",
            "algorithm_id",
            "a name of no built-in strategy and no saved configuration is 404 algorithm_not_found",
        ),
        (
            "ConnectRequest",
            "login",
            "documented up to 2^53 - 1 (what every JSON reader keeps exactly); a larger whole \
             number is still a login MT5 may judge",
        ),
        (
            "SymbolFilter",
            "symbol",
            "a filter that names no symbol matches nothing",
        ),
        (
            "HistoryQuery",
            "cursor",
            "opaque: the handler reads it (history_cursor.rs) and refuses what it did not issue",
        ),
        ("JournalQuery", "cursor", "opaque: the handler reads it"),
        ("AlgorithmsQuery", "cursor", "opaque: the handler reads it"),
        ("PageQuery", "cursor", "opaque: the handler reads it"),
    ];

    fn resolve<'v>(doc: &'v Value, s: &'v Value) -> &'v Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => resolve(
                doc,
                &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
            ),
            None => s,
        }
    }

    /// The schema's JSON types, null left out, and whether it is nullable.
    fn types(s: &Value) -> (Vec<&str>, bool) {
        let all: Vec<&str> = match &s["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let nullable = all.contains(&"null");
        (all.into_iter().filter(|t| *t != "null").collect(), nullable)
    }

    fn num(s: &Value, key: &str) -> Option<f64> {
        s.get(key).and_then(Value::as_f64)
    }

    /// `x` as the schema's kind of number.
    fn number(whole: bool, x: f64) -> Value {
        if whole {
            json!(x as i64)
        } else {
            json!(x)
        }
    }

    /// A value the schema accepts.
    fn sample(doc: &Value, s: &Value) -> Value {
        let s = resolve(doc, s);
        if let Some(first) = s["oneOf"].get(0).or(s["anyOf"].get(0)) {
            return sample(doc, first);
        }
        if let Some(first) = s["enum"].get(0) {
            return first.clone();
        }
        match types(s).0.first().copied() {
            Some("string") => match s["format"].as_str() {
                Some("uuid") => json!(uuid::Uuid::nil()),
                Some("date-time") => json!("2024-01-02T03:04:05Z"),
                // A string of digits (`LoginInput`'s).
                _ if s["pattern"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("^[1-9]")) =>
                {
                    json!("1")
                }
                _ => json!("x".repeat(num(s, "minLength").unwrap_or(1.0) as usize)),
            },
            Some("number") => json!(num(s, "exclusiveMinimum")
                .map(|e| e + 1.0)
                .or(num(s, "minimum"))
                .unwrap_or(1.0)),
            Some("integer") => number(true, num(s, "minimum").unwrap_or(0.0)),
            Some("boolean") => json!(true),
            Some("object") => {
                let mut o = Map::new();
                for r in s["required"].as_array().into_iter().flatten() {
                    let r = r.as_str().unwrap_or_default();
                    o.insert(r.into(), sample(doc, &s["properties"][r]));
                }
                Value::Object(o)
            }
            _ => Value::Null,
        }
    }

    /// What the schema says of a value.
    #[derive(Clone, Copy, PartialEq, Debug)]
    enum Says {
        Accept,
        Refuse,
        /// Refuse: a value of another JSON type (which a query string cannot tell).
        OtherType,
    }

    /// Values at the schema's edges, each with what the schema says of it.
    fn edges(doc: &Value, s: &Value) -> Vec<(Value, Says)> {
        use Says::*;
        let s = resolve(doc, s);
        let mut out = Vec::new();
        for item in s["oneOf"].as_array().into_iter().flatten() {
            out.push((sample(doc, item), Accept));
            // A value of another type than one item's may be another item's.
            out.extend(
                edges(doc, item)
                    .into_iter()
                    .filter(|(_, says)| *says != OtherType),
            );
        }
        let (types, nullable) = types(s);
        if nullable {
            out.push((Value::Null, Accept));
        }
        if let Some(names) = s["enum"].as_array() {
            out.extend(names.iter().map(|n| (n.clone(), Accept)));
            out.push((json!("zz_not_a_name"), Refuse));
            return out;
        }
        match types.first().copied() {
            Some("string") => {
                if let Some(max) = num(s, "maxLength") {
                    out.push((json!("x".repeat(max as usize)), Accept));
                    out.push((json!("x".repeat(max as usize + 1)), Refuse));
                }
                if let Some(min) = num(s, "minLength").filter(|m| *m >= 1.0) {
                    out.push((json!(""), Refuse));
                    out.push((json!("x".repeat(min as usize)), Accept));
                    if min > 1.0 {
                        out.push((json!("x".repeat(min as usize - 1)), Refuse));
                    }
                }
                match s["format"].as_str() {
                    Some("uuid") => out.push((json!("not-a-uuid"), Refuse)),
                    Some("date-time") => out.push((json!("not a time"), Refuse)),
                    // Every pattern of the document refuses a control character and a blank.
                    _ if s.get("pattern").is_some() => {
                        out.push((json!("x\u{1}x"), Refuse));
                        out.push((json!(" "), Refuse));
                    }
                    _ => {}
                }
                out.push((json!(1), OtherType));
            }
            Some(t @ ("number" | "integer")) => {
                let whole = t == "integer";
                // The nearest value past a bound: the next integer, or the next double.
                let below = |x: f64| number(whole, if whole { x - 1.0 } else { x.next_down() });
                let above = |x: f64| number(whole, if whole { x + 1.0 } else { x.next_up() });
                if let Some(e) = num(s, "exclusiveMinimum") {
                    out.push((number(whole, e), Refuse));
                    out.push((above(e), Accept));
                }
                if let Some(m) = num(s, "minimum") {
                    out.push((number(whole, m), Accept));
                    out.push((below(m), Refuse));
                }
                if let Some(m) = num(s, "maximum") {
                    out.push((number(whole, m), Accept));
                    out.push((above(m), Refuse));
                }
                if whole {
                    out.push((json!(num(s, "minimum").unwrap_or(0.0) + 0.5), Refuse));
                }
                out.push((json!("1"), OtherType));
            }
            Some("boolean") => out.push((json!("true"), OtherType)),
            Some("object") => out.push((json!("{}"), OtherType)),
            _ => {}
        }
        out
    }

    /// The parser's verdict: `Ok` when nothing but combinations is at fault, else the fields.
    fn verdict(parse: Parse, body: &Value) -> Result<(), Vec<String>> {
        match parse(body) {
            Ok(()) | Err(ApiError::InvalidCombination(_)) => Ok(()),
            Err(ApiError::Validation(fields)) => Err(fields.into_iter().map(|f| f.field).collect()),
            Err(other) => Err(vec![format!("{other:?}")]),
        }
    }

    /// Holds `parse` to `schema` at the schema's edges; what disagrees goes to `faults`.
    fn hold(
        doc: &Value,
        name: &str,
        schema: &Value,
        parse: Parse,
        query: bool,
        ignore_unknown: bool,
    ) -> Vec<String> {
        let mut faults = Vec::new();
        let shapes: Vec<&Value> = match schema["oneOf"].as_array() {
            Some(shapes) => shapes.iter().collect(),
            None => vec![schema],
        };
        let required_in_all = |p: &str| {
            shapes.iter().all(|sh| {
                sh["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == p))
            })
        };
        let at_least_one = num(schema, "minProperties").is_some_and(|m| m >= 1.0);
        for shape in &shapes {
            let Some(props) = shape["properties"].as_object() else {
                faults.push(format!("{name}: not an object schema"));
                continue;
            };
            let mut base = sample(doc, shape);
            if base.as_object().is_some_and(Map::is_empty) && at_least_one {
                if let Some((p, s)) = props.iter().next() {
                    base[p] = sample(doc, s);
                }
            }
            let mut check = |body: &Value, field: &str, accepted: bool| match (
                verdict(parse, body),
                accepted,
            ) {
                (Ok(()), true) => {}
                (Err(named), false) if named.iter().any(|n| n == field) => {}
                (got, _) => {
                    let want = if accepted {
                        "accepted".to_string()
                    } else {
                        format!("refused naming `{field}`")
                    };
                    faults.push(format!(
                        "{name}: {body} should be {want}, the parser says {got:?}"
                    ))
                }
            };
            check(&base, "", true);
            let mut unknown = base.clone();
            unknown["zz_unknown"] = json!(1);
            check(&unknown, "zz_unknown", ignore_unknown);
            if at_least_one {
                let first = props.keys().next().map(String::as_str).unwrap_or_default();
                check(&json!({}), first, false);
            }
            for (p, s) in props {
                let lenient = LENIENT.iter().any(|(r, f, _)| *r == name && f == p);
                let mut values = edges(doc, s);
                values.push((json!([]), Says::OtherType));
                for (value, says) in values {
                    let scalar = !matches!(value, Value::Null | Value::Array(_) | Value::Object(_));
                    if (says != Says::Accept && lenient)
                        || (query && (says == Says::OtherType || !scalar))
                    {
                        continue;
                    }
                    let mut body = base.clone();
                    body[p.as_str()] = value;
                    check(&body, p, says == Says::Accept);
                }
                if required_in_all(p) {
                    let mut absent = base.clone();
                    if let Some(o) = absent.as_object_mut() {
                        o.remove(p.as_str());
                    }
                    check(&absent, p, false);
                    if !query {
                        let mut null = base.clone();
                        null[p.as_str()] = Value::Null;
                        check(&null, p, false);
                    }
                }
            }
        }
        faults
    }

    /// Each request's parser gives the verdicts its documented schema states, at the schema's
    /// own edges: the bounds of each length and number (`minLength`, `maxLength`, `minimum`,
    /// `exclusiveMinimum`, `maximum`), each enum name and a name that is none, formats, null
    /// where nullable, a value of another type, each required field left out, and a name the
    /// schema does not have. A bound changed on one side only, or a field documented but not read
    /// (the parser calls it unknown), fails here; `LENIENT` lists where the parser takes more by
    /// design, and why.
    #[test]
    fn parsers_give_the_verdicts_of_their_documented_schemas() {
        let doc: Value =
            serde_json::from_str(crate::http::routes::document_json().unwrap()).unwrap();
        let mut faults = Vec::new();
        for (name, parse) in bodies() {
            let schema = resolve(&doc, &doc["components"]["schemas"][name]);
            assert!(schema.is_object(), "{name} is not in the document");
            faults.extend(hold(&doc, name, schema, parse, false, false));
        }
        for (name, schema, parse, ignore_unknown) in queries() {
            faults.extend(hold(&doc, name, &schema, parse, true, ignore_unknown));
        }
        assert!(faults.is_empty(), "{}", faults.join("\n"));
    }

    #[test]
    fn logins() {
        for (v, ok) in [
            (json!(5042856355u64), true),
            (json!("5042856355"), true),
            (json!(0), false),
            (json!(-1), false),
            (json!(1.5), false),
            (json!("abc"), false),
            (json!(""), false),
        ] {
            let body = json!({ "login": v });
            let mut f = Fields::new(&body).unwrap();
            assert_eq!(matches!(f.login("login"), Opt::Value(_)), ok, "{body}");
        }
    }
}
