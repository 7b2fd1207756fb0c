//! Request-body validation that reports every field at fault at once.
//!
//! Bodies are parsed to a JSON object first and each field is read through [`Fields`], which
//! collects errors (unknown fields, wrong types, empty or over-long strings, bad enums) instead of
//! stopping at the first as serde would.

use crate::error::{ApiError, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    seen: BTreeSet<&'static str>,
    errors: Vec<FieldError>,
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

impl<'a> Fields<'a> {
    /// The body must be a JSON object.
    pub fn new(body: &'a Value) -> Result<Self, ApiError> {
        match body.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                seen: BTreeSet::new(),
                errors: Vec::new(),
            }),
            None => Err(ApiError::validation("body", "must be a JSON object")),
        }
    }

    pub fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
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
            Some(Value::Number(n)) => n.as_u64(),
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
            Some(Value::Number(n)) if n.as_u64().is_some() => Opt::Value(n.as_u64().unwrap_or(0)),
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
            Err(ApiError::Validation(self.errors))
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
