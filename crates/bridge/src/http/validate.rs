//! Request-body validation that reports every field at fault at once.
//!
//! Bodies are parsed to a JSON object first and each field is read through [`Fields`], which
//! collects errors (unknown fields, wrong types, empty or over-long strings, bad enums) instead of
//! stopping at the first as serde would.
//!
//! A body's documented type (`Fields::of::<T>`, `T` the request's OpenAPI schema) is the contract
//! the reads are held to: in debug builds, and so in every test, `finish` answers
//! `500 internal_error` when the handler read a field the schema does not have, left one it has
//! unread, or checked a string length or a number's sign other than the schema says. The document
//! and the validator cannot drift apart unnoticed.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    seen: BTreeSet<&'static str>,
    errors: Vec<FieldError>,
    /// The documented body: its schema's name and the schema (as JSON), when bound.
    documented: Option<(String, fn() -> Value)>,
    /// What each read checked, to hold it to the schema.
    rules: Vec<(&'static str, Rule)>,
}

/// The part of a read's check the schema states too.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    /// A string of at most this many characters.
    MaxLength(usize),
    /// A number > 0 (`true`) or ≥ 0.
    Number { positive: bool },
    /// Anything else the read checks by itself.
    Other,
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

impl<'a> Fields<'a> {
    /// The body must be a JSON object.
    pub fn new(body: &'a Value) -> Result<Self, ApiError> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                seen: BTreeSet::new(),
                errors: Vec::new(),
                documented: None,
                rules: Vec::new(),
            }),
            None => Err(ApiError::validation("body", "must be a JSON object")),
        }
    }

    /// A body documented as `T` (its OpenAPI schema): the reads are held to it (module docs).
    pub fn of<T: utoipa::ToSchema>(body: &'a Value) -> Result<Self, ApiError> {
        let mut f = Fields::new(body)?;
        // Only debug builds hold the reads to the schema (`finish`); a release build pays nothing.
        if cfg!(debug_assertions) {
            f.documented = Some((T::name().into_owned(), || {
                serde_json::to_value(T::schema()).unwrap_or(Value::Null)
            }));
        }
        Ok(f)
    }

    fn rule(&mut self, name: &'static str, rule: Rule) {
        self.rules.push((name, rule));
    }

    /// Where the reads and the documented schema disagree (empty when they agree or unbound).
    fn drift(&self) -> Vec<String> {
        let Some((type_name, schema)) = &self.documented else {
            return Vec::new();
        };
        let schema = schema();
        // A body of several shapes (`oneOf`): its fields are those of any shape, and the rules of
        // each field are its shape's, which the reads cannot tell apart; only the names are held.
        let variants: Vec<&Map<String, Value>> = match schema.get("oneOf").and_then(Value::as_array)
        {
            Some(shapes) => shapes
                .iter()
                .filter_map(|v| v.get("properties").and_then(Value::as_object))
                .collect(),
            None => schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .collect(),
        };
        if variants.is_empty() {
            return vec![format!("{type_name} is not an object schema")];
        }
        let several = variants.len() > 1;
        let mut union = Map::new();
        for v in &variants {
            for (k, p) in v.iter() {
                union.entry(k.clone()).or_insert_with(|| p.clone());
            }
        }
        let props = &union;
        let mut out = Vec::new();
        for name in props.keys() {
            if !self.seen.contains(name.as_str()) {
                out.push(format!("`{name}` is in {type_name} but never read"));
            }
        }
        for (name, rule) in &self.rules {
            let Some(p) = props.get(*name) else {
                out.push(format!("`{name}` is read but not in {type_name}"));
                continue;
            };
            let stated = |k: &str| p.get(k).and_then(Value::as_f64);
            if several {
                continue;
            }
            match rule {
                Rule::MaxLength(max)
                    if stated("maxLength") != Some(*max as f64)
                        || stated("minLength") != Some(1.0)
                        || !matches!(
                            p.get("pattern").and_then(Value::as_str),
                            Some(crate::fields::TEXT_PATTERN | crate::fields::SYMBOL_PATTERN)
                        ) =>
                {
                    out.push(format!(
                        "`{name}`: read as text of 1 to {max} characters, {type_name} says {p}"
                    ))
                }
                Rule::Number { positive: true } if stated("exclusiveMinimum") != Some(0.0) => {
                    out.push(format!("`{name}`: read as > 0, {type_name} says {p}"))
                }
                Rule::Number { positive: false } if stated("minimum") != Some(0.0) => {
                    out.push(format!("`{name}`: read as ≥ 0, {type_name} says {p}"))
                }
                _ => {}
            }
        }
        out
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
        if self.seen.insert(name) {
            self.rules.push((name, Rule::Other));
        }
        self.obj.get(name)
    }

    /// A string of 1..=max characters (after trimming for the emptiness check).
    pub fn string(&mut self, name: &'static str, max: usize) -> Opt<String> {
        self.rule(name, Rule::MaxLength(max));
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

    /// A required string: absent or null is an error.
    pub fn required_string(&mut self, name: &'static str, max: usize) -> Option<String> {
        match self.string(name, max) {
            Opt::Value(v) => Some(v),
            Opt::Null | Opt::Absent => {
                if !self.errors.iter().any(|e| e.field == name) {
                    self.error(name, "is required");
                }
                None
            }
        }
    }

    /// A required UUID (a string).
    pub fn required_uuid(&mut self, name: &'static str) -> Option<uuid::Uuid> {
        match self.raw(name) {
            None | Some(Value::Null) => {
                self.error(name, "is required");
                None
            }
            Some(Value::String(s)) => match uuid::Uuid::parse_str(s.trim()) {
                Ok(id) => Some(id),
                Err(_) => {
                    self.error(name, "must be a UUID");
                    None
                }
            },
            Some(_) => {
                self.error(name, "must be a UUID");
                None
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
    pub fn login(&mut self, name: &'static str) -> Option<u64> {
        let parsed = match self.raw(name) {
            None | Some(Value::Null) => {
                self.error(name, "is required");
                return None;
            }
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
            Some(v) if v > 0 => Some(v),
            _ => {
                self.error(name, "must be a positive integer");
                None
            }
        }
    }

    /// A finite number; `positive` also requires > 0 (else ≥ 0).
    pub fn number(&mut self, name: &'static str, positive: bool) -> Opt<f64> {
        self.rule(name, Rule::Number { positive });
        match self.raw(name) {
            None => Opt::Absent,
            Some(Value::Null) => Opt::Null,
            Some(Value::Number(n)) => match n.as_f64() {
                Some(x) if x.is_finite() && (x > 0.0 || (!positive && x == 0.0)) => Opt::Value(x),
                _ => {
                    self.error(
                        name,
                        if positive {
                            "must be a finite positive number"
                        } else {
                            "must be a finite number ≥ 0"
                        },
                    );
                    Opt::Absent
                }
            },
            Some(_) => {
                self.error(name, "must be a number");
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
        if cfg!(debug_assertions) {
            let drift = self.drift();
            if !drift.is_empty() {
                return Err(ApiError::Internal(format!(
                    "the body's reads disagree with its documented schema: {}",
                    drift.join("; ")
                )));
            }
        }
        let unknown: Vec<String> = self
            .obj
            .keys()
            .filter(|k| !self.seen.contains(k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            let name: String = k.chars().take(64).collect();
            self.errors.push(FieldError::new(name, "unknown field"));
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
        f.required_string("name", 10);
        f.login("login");
        f.boolean("flag");
        f.required_string("server", 10);
        let Err(ApiError::Validation(errs)) = f.finish() else {
            panic!("expected errors")
        };
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["name", "login", "flag", "server", "extra"]);
    }

    #[derive(utoipa::ToSchema)]
    #[allow(dead_code)]
    struct Documented {
        #[schema(
            min_length = 1,
            max_length = 10,
            pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
        )]
        name: String,
        #[schema(exclusive_minimum = 0)]
        volume: f64,
        flag: bool,
    }

    fn drift_of(read: impl Fn(&mut Fields<'_>)) -> String {
        let body = json!({});
        let mut f = Fields::of::<Documented>(&body).unwrap();
        read(&mut f);
        match f.finish() {
            Err(ApiError::Internal(m)) => m,
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn reads_are_held_to_the_documented_schema() {
        let agree = drift_of(|f| {
            f.string("name", 10);
            f.number("volume", true);
            f.boolean("flag");
        });
        assert!(agree.starts_with("Ok"), "{agree}");
        let unread = drift_of(|f| {
            f.string("name", 10);
            f.number("volume", true);
        });
        assert!(
            unread.contains("`flag` is in Documented but never read"),
            "{unread}"
        );
        let undocumented = drift_of(|f| {
            f.string("name", 10);
            f.number("volume", true);
            f.boolean("flag");
            f.uint("magic");
        });
        assert!(
            undocumented.contains("`magic` is read but not in Documented"),
            "{undocumented}"
        );
        let longer = drift_of(|f| {
            f.string("name", 11);
            f.number("volume", true);
            f.boolean("flag");
        });
        assert!(
            longer.contains("`name`: read as text of 1 to 11"),
            "{longer}"
        );
        let sign = drift_of(|f| {
            f.string("name", 10);
            f.number("volume", false);
            f.boolean("flag");
        });
        assert!(sign.contains("`volume`: read as ≥ 0"), "{sign}");
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
            assert_eq!(f.login("login").is_some(), ok, "{body}");
        }
    }
}
