//! The parameter tables: one description drives both the schema and the validation.

use crate::error::FieldError;
use mt5::enums::Mt5Enum;
use mt5::Timeframe;
use serde_json::{json, Map, Value};

use super::core::*;

// ---------------------------------------------------------------------------------------------
// Parameter tables: one description drives both the schema and the validation.

use crate::fields::{is_symbol, SYMBOL_MAX, SYMBOL_RULE};
/// Periods above this would ask the terminal for thousands of bars per evaluation.
pub(super) const PERIOD_MAX: u32 = 500;

#[derive(Debug, Clone, Copy)]
pub(super) struct IntParam {
    pub(super) key: &'static str,
    pub(super) default: u32,
    pub(super) min: u32,
    pub(super) max: u32,
    pub(super) description: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Bound {
    pub(super) value: f64,
    pub(super) inclusive: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct NumParam {
    pub(super) key: &'static str,
    /// `None`: the parameter is optional and null/absent means "not used".
    pub(super) default: Option<f64>,
    pub(super) min: Bound,
    pub(super) max: Bound,
    pub(super) description: &'static str,
}

pub(super) const fn incl(value: f64) -> Bound {
    Bound {
        value,
        inclusive: true,
    }
}

pub(super) const fn excl(value: f64) -> Bound {
    Bound {
        value,
        inclusive: false,
    }
}

impl IntParam {
    pub(super) fn schema(&self) -> Value {
        json!({
            "type": "integer", "default": self.default, "minimum": self.min, "maximum": self.max,
            "description": self.description,
        })
    }
}

impl NumParam {
    pub(super) fn schema(&self) -> Value {
        let mut s = Map::new();
        match self.default {
            Some(d) => {
                s.insert("type".into(), json!("number"));
                s.insert("default".into(), json!(d));
            }
            None => {
                s.insert("type".into(), json!(["number", "null"]));
                s.insert("default".into(), Value::Null);
            }
        }
        let lo = if self.min.inclusive {
            "minimum"
        } else {
            "exclusiveMinimum"
        };
        s.insert(lo.into(), json!(self.min.value));
        let hi = if self.max.inclusive {
            "maximum"
        } else {
            "exclusiveMaximum"
        };
        s.insert(hi.into(), json!(self.max.value));
        s.insert("description".into(), json!(self.description));
        Value::Object(s)
    }

    pub(super) fn accepts(&self, x: f64) -> bool {
        let above = if self.min.inclusive {
            x >= self.min.value
        } else {
            x > self.min.value
        };
        let below = if self.max.inclusive {
            x <= self.max.value
        } else {
            x < self.max.value
        };
        x.is_finite() && above && below
    }

    pub(super) fn range_text(&self) -> String {
        format!(
            "{}{}, {}{}",
            if self.min.inclusive { "[" } else { "(" },
            self.min.value,
            self.max.value,
            if self.max.inclusive { "]" } else { ")" },
        )
    }
}

pub(super) const RISK_PER_TRADE: NumParam = NumParam {
    key: "risk_per_trade",
    default: Some(0.01),
    min: excl(0.0),
    max: incl(1.0),
    description: "Fraction of equity lost if the stop loss is hit; sizes each entry.",
};
pub(super) const MAX_POSITIONS: IntParam = IntParam {
    key: "max_positions",
    default: 1,
    min: 1,
    max: 100,
    description: "Most positions this strategy holds on the symbol at once.",
};
pub(super) const ATR_PERIOD: IntParam = IntParam {
    key: "atr_period",
    default: 14,
    min: 1,
    max: PERIOD_MAX,
    description: "Bars of the Wilder ATR that sets the stop-loss distance.",
};
pub(super) const ATR_SL_MULTIPLIER: NumParam = NumParam {
    key: "atr_sl_multiplier",
    default: Some(2.0),
    min: excl(0.0),
    max: incl(100.0),
    description: "Stop loss at this many ATRs from the last close.",
};
pub(super) const TP_RR: NumParam = NumParam {
    key: "tp_rr",
    default: None,
    min: excl(0.0),
    max: incl(100.0),
    description: "Take profit at this multiple of the stop-loss distance; null = no take profit.",
};

pub(super) const FAST_PERIOD: IntParam = IntParam {
    key: "fast_period",
    default: 10,
    min: 1,
    max: PERIOD_MAX - 1,
    description: "Bars of the fast simple moving average.",
};
pub(super) const SLOW_PERIOD: IntParam = IntParam {
    key: "slow_period",
    default: 30,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the slow simple moving average; must be greater than fast_period.",
};
pub(super) const RSI_PERIOD: IntParam = IntParam {
    key: "rsi_period",
    default: 14,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the Wilder RSI.",
};
pub(super) const OVERSOLD: NumParam = NumParam {
    key: "oversold",
    default: Some(30.0),
    min: excl(0.0),
    max: excl(100.0),
    description: "Buy when the RSI crosses up through this level; must be below overbought.",
};
pub(super) const OVERBOUGHT: NumParam = NumParam {
    key: "overbought",
    default: Some(70.0),
    min: excl(0.0),
    max: excl(100.0),
    description: "Sell when the RSI crosses down through this level; must be above oversold.",
};
pub(super) const CHANNEL_PERIOD: IntParam = IntParam {
    key: "channel_period",
    default: 20,
    min: 2,
    max: PERIOD_MAX,
    description: "Bars of the Donchian channel whose break opens a position.",
};
pub(super) const EXIT_PERIOD: IntParam = IntParam {
    key: "exit_period",
    default: 10,
    min: 1,
    max: PERIOD_MAX - 1,
    description: "Bars of the opposite channel whose break closes a position; must be less than channel_period.",
};

/// The JSON Schema of a strategy: the common parameters plus its own.
pub(super) fn schema_with(ints: &[IntParam], nums: &[NumParam]) -> Value {
    let mut props = Map::new();
    props.insert(
        "symbol".into(),
        json!({
            "type": "string", "minLength": 1, "maxLength": SYMBOL_MAX,
            "pattern": crate::fields::SYMBOL_PATTERN,
            "description": "The symbol to trade, as the broker names it (e.g. EURUSD).",
        }),
    );
    let timeframes: Vec<String> = Timeframe::all()
        .iter()
        .map(|t| timeframe_name(*t))
        .collect();
    props.insert(
        "timeframe".into(),
        json!({
            "type": "string", "enum": timeframes, "default": "H1",
            "description": "Bar period the strategy reads (case-insensitive).",
        }),
    );
    for p in [RISK_PER_TRADE, ATR_SL_MULTIPLIER, TP_RR]
        .iter()
        .chain(nums)
    {
        props.insert(p.key.into(), p.schema());
    }
    for p in [MAX_POSITIONS, ATR_PERIOD].iter().chain(ints) {
        props.insert(p.key.into(), p.schema());
    }
    json!({
        "type": "object",
        "required": ["symbol"],
        "additionalProperties": false,
        "properties": props,
    })
}

/// The common parameters, validated.
pub(super) struct Common {
    pub(super) symbol: String,
    pub(super) timeframe: Timeframe,
    pub(super) risk_per_trade: f64,
    pub(super) max_positions: u32,
    pub(super) atr_period: u32,
    pub(super) atr_sl_multiplier: f64,
    pub(super) tp_rr: Option<f64>,
}

/// Reads a parameters object, collecting every error (named `parameters.<key>`) and the keys
/// it has looked at, so unknown keys can be reported at the end.
pub(super) struct Reader<'a> {
    pub(super) obj: Option<&'a Map<String, Value>>,
    pub(super) seen: Vec<&'static str>,
    pub(super) errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(params: &'a Value) -> Result<Self, Vec<FieldError>> {
        let obj = match params {
            Value::Object(obj) => Some(obj),
            // No parameters at all reads as an empty object: the missing symbol is reported.
            Value::Null => None,
            _ => return Err(vec![FieldError::new("parameters", "must be a JSON object")]),
        };
        Ok(Reader {
            obj,
            seen: Vec::new(),
            errors: Vec::new(),
        })
    }

    pub(super) fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors
            .push(FieldError::new(format!("parameters.{key}"), message));
    }

    /// A parameter valid on its own that contradicts another (`invalid_combination` when
    /// nothing else is at fault).
    pub(super) fn conflict(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push(FieldError::combination(
            format!("parameters.{key}"),
            message,
        ));
    }

    /// The value under `key`; JSON null counts as absent.
    pub(super) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.obj.and_then(|o| o.get(key)).filter(|v| !v.is_null())
    }

    pub(super) fn symbol(&mut self) -> Option<String> {
        let msg = SYMBOL_RULE;
        match self.get("symbol") {
            None => {
                self.error("symbol", "is required");
                None
            }
            Some(Value::String(s)) => {
                let t = s.trim();
                if !is_symbol(t) {
                    self.error("symbol", msg);
                    None
                } else {
                    Some(t.to_string())
                }
            }
            Some(_) => {
                self.error("symbol", msg);
                None
            }
        }
    }

    pub(super) fn timeframe(&mut self) -> Option<Timeframe> {
        match self.get("timeframe") {
            None => Some(Timeframe::H1),
            Some(v) => match v.as_str().and_then(Timeframe::from_name) {
                Some(tf) => Some(tf),
                None => {
                    let names: Vec<String> = Timeframe::all()
                        .iter()
                        .map(|t| timeframe_name(*t))
                        .collect();
                    self.error("timeframe", format!("must be one of: {}", names.join(", ")));
                    None
                }
            },
        }
    }

    pub(super) fn int(&mut self, p: &IntParam) -> Option<u32> {
        match self.get(p.key) {
            None => Some(p.default),
            Some(v) => match crate::fields::whole_u64(v) {
                Some(n) if n >= u64::from(p.min) && n <= u64::from(p.max) => u32::try_from(n).ok(),
                _ => {
                    self.error(
                        p.key,
                        format!("must be an integer from {} to {}", p.min, p.max),
                    );
                    None
                }
            },
        }
    }

    /// `Some(None)` is an optional number left out; `None` is an error.
    pub(super) fn number(&mut self, p: &NumParam) -> Option<Option<f64>> {
        match self.get(p.key) {
            None => Some(p.default),
            Some(v) => match v.as_f64() {
                Some(x) if p.accepts(x) => Some(Some(x)),
                _ => {
                    self.error(p.key, format!("must be a number in {}", p.range_text()));
                    None
                }
            },
        }
    }

    /// A number that has a default, so it is never left out once valid.
    pub(super) fn required_number(&mut self, p: &NumParam) -> Option<f64> {
        self.number(p).flatten()
    }

    pub(super) fn common(&mut self) -> Option<Common> {
        let symbol = self.symbol();
        let timeframe = self.timeframe();
        let risk_per_trade = self.required_number(&RISK_PER_TRADE);
        let max_positions = self.int(&MAX_POSITIONS);
        let atr_period = self.int(&ATR_PERIOD);
        let atr_sl_multiplier = self.required_number(&ATR_SL_MULTIPLIER);
        let tp_rr = self.number(&TP_RR);
        Some(Common {
            symbol: symbol?,
            timeframe: timeframe?,
            risk_per_trade: risk_per_trade?,
            max_positions: max_positions?,
            atr_period: atr_period?,
            atr_sl_multiplier: atr_sl_multiplier?,
            tp_rr: tp_rr?,
        })
    }

    /// Reports unknown keys and returns the parameters if nothing was at fault.
    pub(super) fn finish(
        mut self,
        common: Option<Common>,
        specific: Option<Specific>,
    ) -> Result<Params, Vec<FieldError>> {
        if let Some(obj) = self.obj {
            for key in obj.keys() {
                if !self.seen.contains(&key.as_str()) {
                    let k: String = key.chars().take(64).collect();
                    self.error(&k, "unknown parameter");
                }
            }
        }
        match (common, specific) {
            (Some(c), Some(specific)) if self.errors.is_empty() => Ok(Params {
                symbol: c.symbol,
                timeframe: c.timeframe,
                risk_per_trade: c.risk_per_trade,
                max_positions: c.max_positions,
                atr_period: c.atr_period,
                atr_sl_multiplier: c.atr_sl_multiplier,
                tp_rr: c.tp_rr,
                specific,
            }),
            _ => {
                if self.errors.is_empty() {
                    // Unreachable in practice: a missing value always comes with its error.
                    self.errors
                        .push(FieldError::new("parameters", "invalid parameters"));
                }
                Err(self.errors)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
