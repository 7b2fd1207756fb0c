//! Account risk limits (`mt5_accounts.risk_limits`): the known keys and their validation.
//! The trading and algorithm layers enforce them; here they are parsed and checked.

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RiskLimits {
    /// Fraction of the day's starting equity that may be lost in a day, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_daily_loss: Option<f64>,
    /// Fraction of equity that one trade may lose at its stop loss, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_risk_per_trade: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_positions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_volume_per_trade: Option<f64>,
    /// Kill switch: false refuses every new order on the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trading_enabled: Option<bool>,
}

const KNOWN: &[&str] = &[
    "max_daily_loss",
    "max_risk_per_trade",
    "max_positions",
    "max_volume_per_trade",
    "trading_enabled",
];

/// Validates a `risk_limits` object; errors name `risk_limits.<key>`.
pub fn parse(value: &Value) -> Result<RiskLimits, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(obj) = value.as_object() else {
        return Err(vec![FieldError::new(
            "risk_limits",
            "must be an object or null",
        )]);
    };
    let mut limits = RiskLimits::default();
    for key in obj.keys() {
        if !KNOWN.contains(&key.as_str()) {
            let k: String = key.chars().take(64).collect();
            errors.push(FieldError::new(
                format!("risk_limits.{k}"),
                format!("unknown risk limit; known: {}", KNOWN.join(", ")),
            ));
        }
    }
    limits.max_daily_loss = fraction(obj, "max_daily_loss", &mut errors);
    limits.max_risk_per_trade = fraction(obj, "max_risk_per_trade", &mut errors);
    limits.max_positions = match obj.get("max_positions") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                errors.push(FieldError::new(
                    "risk_limits.max_positions",
                    "must be a positive integer",
                ));
                None
            }
        },
    };
    limits.max_volume_per_trade = match obj.get("max_volume_per_trade") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Some(x),
            _ => {
                errors.push(FieldError::new(
                    "risk_limits.max_volume_per_trade",
                    "must be a positive number",
                ));
                None
            }
        },
    };
    limits.trading_enabled = match obj.get("trading_enabled") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.push(FieldError::new(
                "risk_limits.trading_enabled",
                "must be true or false",
            ));
            None
        }
    };
    if errors.is_empty() {
        Ok(limits)
    } else {
        Err(errors)
    }
}

fn fraction(obj: &Map<String, Value>, key: &str, errors: &mut Vec<FieldError>) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 && x <= 1.0 => Some(x),
            _ => {
                errors.push(FieldError::new(
                    format!("risk_limits.{key}"),
                    "must be a fraction in (0, 1]",
                ));
                None
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_and_invalid() {
        let l = parse(&json!({"max_daily_loss": 0.03, "max_risk_per_trade": 0.01})).unwrap();
        assert_eq!(l.max_daily_loss, Some(0.03));
        assert_eq!(
            serde_json::to_value(&l).unwrap(),
            json!({"max_daily_loss": 0.03, "max_risk_per_trade": 0.01})
        );
        let errs = parse(&json!({"max_daily_loss": 0, "max_positions": 1.5, "trading_enabled": "no", "x": 1, "max_risk_per_trade": 1.5})).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "risk_limits.x",
                "risk_limits.max_daily_loss",
                "risk_limits.max_risk_per_trade",
                "risk_limits.max_positions",
                "risk_limits.trading_enabled"
            ]
        );
        assert!(parse(&json!([1])).is_err());
        assert_eq!(
            parse(&json!({"max_daily_loss": 1})).unwrap().max_daily_loss,
            Some(1.0)
        );
    }
}
