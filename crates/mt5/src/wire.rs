//! The terminal-agent protocol's JSON form of the MT5 structures: the same field names, with every
//! enum field as MT5's integer instead of its name.
//!
//! Domain structs serialize enums by name (see [`crate::enums`]); the agent protocol speaks the
//! numbers the `MetaTrader5` package returns. Rather than a second set of structs, each structure has
//! a table of which field holds which enum, and the conversion rewrites those fields in the JSON
//! value. Arrays of a structure are converted element by element.
//!
//! Any integer is carried: one outside an enum's list reads as its `Unknown(n)` and is written back
//! as `n`, so a deal reason a server adds does not make a whole answer unreadable.

use crate::enums::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The structures that cross the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AccountInfo,
    SymbolInfo,
    Tick,
    Rate,
    TradeRequest,
    OrderCheckResult,
    OrderSendResult,
    TradePosition,
    TradeOrder,
    TradeDeal,
}

/// One enum field: its name and the conversion of its enum's JSON names to MT5's integers.
struct EnumField {
    field: &'static str,
    to_code: fn(&str) -> Option<i64>,
}

/// The integer of a name as the domain structs write it: a known name, or `unknown_<n>`.
fn code_of<E: Mt5Enum>(name: &str) -> Option<i64> {
    E::from_name(name)
        .map(|e| e.code())
        .or_else(|| unknown_code(name))
}

macro_rules! fields {
    ($($field:literal => $ty:ty),* $(,)?) => {
        &[$(EnumField { field: $field, to_code: code_of::<$ty> }),*]
    };
}

const ACCOUNT_INFO: &[EnumField] = fields!(
    "trade_mode" => AccountTradeMode,
    "margin_so_mode" => AccountStopoutMode,
    "margin_mode" => AccountMarginMode,
);
const SYMBOL_INFO: &[EnumField] = fields!(
    "chart_mode" => SymbolChartMode,
    "trade_calc_mode" => SymbolCalcMode,
    "trade_mode" => SymbolTradeMode,
    "trade_exemode" => SymbolTradeExecution,
    "swap_mode" => SymbolSwapMode,
    "swap_rollover3days" => DayOfWeek,
    "order_gtc_mode" => SymbolOrdersGtc,
    "option_mode" => SymbolOptionMode,
    "option_right" => SymbolOptionRight,
);
const TRADE_REQUEST: &[EnumField] = fields!(
    "action" => TradeAction,
    "type" => OrderType,
    "type_filling" => OrderFilling,
    "type_time" => OrderTime,
);
const TRADE_POSITION: &[EnumField] = fields!(
    "type" => PositionType,
    "reason" => PositionReason,
);
const TRADE_ORDER: &[EnumField] = fields!(
    "type" => OrderType,
    "type_time" => OrderTime,
    "type_filling" => OrderFilling,
    "state" => OrderState,
    "reason" => OrderReason,
);
const TRADE_DEAL: &[EnumField] = fields!(
    "type" => DealType,
    "entry" => DealEntry,
    "reason" => DealReason,
);

impl Kind {
    fn fields(self) -> &'static [EnumField] {
        match self {
            Kind::AccountInfo => ACCOUNT_INFO,
            Kind::SymbolInfo => SYMBOL_INFO,
            Kind::TradeRequest => TRADE_REQUEST,
            Kind::TradePosition => TRADE_POSITION,
            Kind::TradeOrder => TRADE_ORDER,
            Kind::TradeDeal => TRADE_DEAL,
            Kind::Tick | Kind::Rate | Kind::OrderCheckResult | Kind::OrderSendResult => &[],
        }
    }

    /// Structures nested under a field (`request` of the trade results).
    fn nested(self) -> Option<(&'static str, Kind)> {
        match self {
            Kind::OrderCheckResult | Kind::OrderSendResult => Some(("request", Kind::TradeRequest)),
            _ => None,
        }
    }
}

/// Direction of a conversion.
#[derive(Clone, Copy)]
enum Dir {
    /// Names (as the domain structs write them) to MT5's integers.
    ToCodes,
    /// Integers as they came from the other side, checked: integral floats (Python may hand an
    /// enum over as `2.0`) become integers; the domain structs read any integer.
    FromCodes,
}

fn convert(kind: Kind, value: &mut Value, dir: Dir) -> Result<(), String> {
    match value {
        Value::Array(items) => {
            for item in items {
                convert(kind, item, dir)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for f in kind.fields() {
                let Some(v) = map.get_mut(f.field) else {
                    continue;
                };
                match dir {
                    Dir::ToCodes => {
                        if let Value::String(name) = v {
                            let code = (f.to_code)(name).ok_or_else(|| {
                                format!("{:?}.{}: unknown value '{name}'", kind, f.field)
                            })?;
                            *v = Value::from(code);
                        }
                    }
                    Dir::FromCodes => {
                        if v.is_i64() || v.is_string() {
                            // An integer reads as its enum (unknown ones too); a name is read
                            // by name, known names only.
                            continue;
                        }
                        match v.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15) {
                            Some(x) => *v = Value::from(x as i64),
                            None => {
                                return Err(format!(
                                    "{:?}.{}: expected an integer, got {v}",
                                    kind, f.field
                                ))
                            }
                        }
                    }
                }
            }
            if let Some((field, nested)) = kind.nested() {
                if let Some(v) = map.get_mut(field) {
                    convert(nested, v, dir)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// A structure (or a slice of them) in the protocol's form: enum fields as MT5 integers.
pub fn to_wire<T: Serialize + ?Sized>(kind: Kind, value: &T) -> Value {
    // Domain structs always serialize, and every name they write (`unknown_<n>` included) has
    // its integer.
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    let _ = convert(kind, &mut v, Dir::ToCodes);
    v
}

/// A structure (or a `Vec` of them) from the protocol's form. An integer outside an enum's list is
/// its `Unknown(n)`; a non-integer enum value, or a missing or mistyped field, is an error.
pub fn from_wire<T: DeserializeOwned>(kind: Kind, mut value: Value) -> Result<T, String> {
    convert(kind, &mut value, Dir::FromCodes)?;
    serde_json::from_value(value).map_err(|e| format!("{kind:?}: {e}"))
}

/// Adds to a structure in protocol form (or each element of a list) the fields it lacks, with
/// `T::default()`'s values: MT5 builds differ in which fields they report (e.g. `TradeDeal.fee` is
/// recent), and a missing field should not make a whole answer unreadable.
pub fn fill_missing<T: Serialize + Default>(kind: Kind, value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| fill_missing::<T>(kind, v)),
        Value::Object(map) => {
            if let Value::Object(defaults) = to_wire(kind, &T::default()) {
                for (k, v) in defaults {
                    map.entry(k).or_insert(v);
                }
            }
        }
        _ => {}
    }
}

/// The JSON Schema of a structure in the protocol's form, made from the structure itself: its
/// serde form (every field, in MT5's order) with the enum fields rewritten as above, so an enum
/// field is an `integer` because the conversion writes one, a count an `integer` and a price a
/// `number` because serde writes them so. Every field is required (MT5 reports them all; an
/// older build's missing one is [`fill_missing`]'s business, not the protocol's); other fields are
/// allowed, as newer builds add some.
pub fn schema(kind: Kind) -> Value {
    use crate::types::*;
    let sample = match kind {
        Kind::AccountInfo => to_wire(kind, &AccountInfo::default()),
        Kind::SymbolInfo => to_wire(kind, &SymbolInfo::default()),
        Kind::Tick => to_wire(kind, &Tick::default()),
        Kind::Rate => to_wire(kind, &Rate::default()),
        Kind::TradeRequest => to_wire(kind, &TradeRequest::default()),
        Kind::OrderCheckResult => to_wire(kind, &OrderCheckResult::default()),
        Kind::OrderSendResult => to_wire(kind, &OrderSendResult::default()),
        Kind::TradePosition => to_wire(kind, &TradePosition::default()),
        Kind::TradeOrder => to_wire(kind, &TradeOrder::default()),
        Kind::TradeDeal => to_wire(kind, &TradeDeal::default()),
    };
    schema_of(kind, &sample)
}

fn schema_of(kind: Kind, sample: &Value) -> Value {
    let Value::Object(fields) = sample else {
        return Value::Object(Default::default());
    };
    let mut properties = serde_json::Map::new();
    for (name, value) in fields {
        let enum_field = kind.fields().iter().any(|f| f.field == name.as_str());
        let field = match (value, kind.nested()) {
            (Value::Object(_), Some((nested, inner))) if nested == name.as_str() => {
                schema_of(inner, value)
            }
            (Value::Number(n), _) if n.is_f64() => serde_json::json!({"type": "number"}),
            (Value::Number(_), _) if enum_field => serde_json::json!({
                "type": "integer",
                "description": "MT5's integer of the enum (docs/enums.md); any integer is carried",
            }),
            (Value::Number(_), _) => serde_json::json!({"type": "integer"}),
            (Value::Bool(_), _) => serde_json::json!({"type": "boolean"}),
            (Value::String(_), _) => serde_json::json!({"type": "string"}),
            _ => serde_json::json!({}),
        };
        properties.insert(name.clone(), field);
    }
    let required: Vec<&String> = fields.keys().collect();
    serde_json::json!({
        "type": "object",
        "description": format!("{kind:?} in the protocol's form: MT5's field names, enum fields as integers"),
        "properties": properties,
        "required": required,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::*;
    use std::fmt::Debug;

    fn round_trip<T>(kind: Kind, v: T) -> Value
    where
        T: Serialize + DeserializeOwned + PartialEq + Debug,
    {
        let wire = to_wire(kind, &v);
        let back: T = from_wire(kind, wire.clone()).unwrap();
        assert_eq!(back, v);
        // As a list too.
        let list = to_wire(kind, &vec![&v, &v]);
        let back: Vec<T> = from_wire(kind, list).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[1], v);
        wire
    }

    fn request() -> TradeRequest {
        TradeRequest {
            action: TradeAction::Pending,
            magic: 7,
            symbol: "EURUSD".into(),
            volume: 0.1,
            price: 1.05,
            r#type: OrderType::SellStopLimit,
            type_filling: OrderFilling::Return,
            type_time: OrderTime::Specified,
            expiration: 1_700_000_000,
            comment: "c".into(),
            ..Default::default()
        }
    }

    #[test]
    fn every_structure_round_trips_with_numbers() {
        let a = round_trip(
            Kind::AccountInfo,
            AccountInfo {
                login: 5,
                trade_mode: AccountTradeMode::Real,
                margin_so_mode: AccountStopoutMode::Money,
                margin_mode: AccountMarginMode::RetailHedging,
                balance: 10.5,
                ..Default::default()
            },
        );
        assert_eq!(a["trade_mode"], 2);
        assert_eq!(a["margin_so_mode"], 1);
        assert_eq!(a["margin_mode"], 2);

        let s = round_trip(
            Kind::SymbolInfo,
            SymbolInfo {
                chart_mode: SymbolChartMode::Last,
                trade_calc_mode: SymbolCalcMode::ExchStocks,
                trade_mode: SymbolTradeMode::Full,
                trade_exemode: SymbolTradeExecution::Market,
                swap_mode: SymbolSwapMode::ReopenBid,
                swap_rollover3days: DayOfWeek::Wednesday,
                order_gtc_mode: SymbolOrdersGtc::DailyNoStops,
                option_mode: SymbolOptionMode::American,
                option_right: SymbolOptionRight::Put,
                name: "EURUSD".into(),
                ..Default::default()
            },
        );
        assert_eq!(s["trade_calc_mode"], 32);
        assert_eq!(s["swap_rollover3days"], 3);
        assert_eq!(s["trade_exemode"], 2);
        assert_eq!(s["option_right"], 1);

        let t = round_trip(
            Kind::Tick,
            Tick {
                time: 1,
                bid: 1.1,
                ask: 1.2,
                flags: 6,
                ..Default::default()
            },
        );
        assert_eq!(t["flags"], 6);
        round_trip(
            Kind::Rate,
            Rate {
                time: 60,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                tick_volume: 3,
                spread: 2,
                real_volume: 0,
            },
        );

        let r = round_trip(Kind::TradeRequest, request());
        assert_eq!(r["action"], 5);
        assert_eq!(r["type"], 7);
        assert_eq!(r["type_filling"], 2);
        assert_eq!(r["type_time"], 2);

        let c = round_trip(
            Kind::OrderCheckResult,
            OrderCheckResult {
                retcode: 0,
                margin: 3.0,
                request: request(),
                ..Default::default()
            },
        );
        assert_eq!(c["request"]["type"], 7);
        let o = round_trip(
            Kind::OrderSendResult,
            OrderSendResult {
                retcode: 10009,
                deal: 4,
                order: 5,
                request: request(),
                ..Default::default()
            },
        );
        assert_eq!(o["request"]["action"], 5);
        assert_eq!(o["retcode"], 10009);

        let p = round_trip(
            Kind::TradePosition,
            TradePosition {
                ticket: 9,
                r#type: PositionType::Sell,
                reason: PositionReason::Expert,
                ..Default::default()
            },
        );
        assert_eq!(p["type"], 1);
        assert_eq!(p["reason"], 3);

        let o = round_trip(
            Kind::TradeOrder,
            TradeOrder {
                ticket: 9,
                r#type: OrderType::BuyStop,
                type_time: OrderTime::Day,
                type_filling: OrderFilling::Ioc,
                state: OrderState::Filled,
                reason: OrderReason::Tp,
                ..Default::default()
            },
        );
        assert_eq!(o["type"], 4);
        assert_eq!(o["state"], 4);
        assert_eq!(o["reason"], 5);
        assert_eq!(o["type_filling"], 1);

        let d = round_trip(
            Kind::TradeDeal,
            TradeDeal {
                ticket: 9,
                r#type: DealType::Tax,
                entry: DealEntry::OutBy,
                reason: DealReason::Split,
                ..Default::default()
            },
        );
        assert_eq!(d["type"], 17);
        assert_eq!(d["entry"], 3);
        assert_eq!(d["reason"], 9);
    }

    #[test]
    fn unknown_codes_are_carried_and_wrong_types_refused() {
        let mut p = to_wire(Kind::TradePosition, &TradePosition::default());
        p["type"] = Value::from(5);
        let pos = from_wire::<TradePosition>(Kind::TradePosition, p.clone()).unwrap();
        assert_eq!(pos.r#type, PositionType::Unknown(5));
        p["type"] = Value::Bool(true);
        let err = from_wire::<TradePosition>(Kind::TradePosition, p.clone()).unwrap_err();
        assert!(err.contains("type") && err.contains("integer"), "{err}");
        p["type"] = Value::from(1.5);
        assert!(from_wire::<TradePosition>(Kind::TradePosition, p.clone()).is_err());
        p["type"] = Value::from(u64::MAX);
        assert!(from_wire::<TradePosition>(Kind::TradePosition, p.clone()).is_err());
        // A name is read by name: known names only, never `unknown_<n>`.
        p["type"] = Value::from("unknown_5");
        assert!(from_wire::<TradePosition>(Kind::TradePosition, p.clone()).is_err());
        p["type"] = Value::from("sell");
        let pos = from_wire::<TradePosition>(Kind::TradePosition, p).unwrap();
        assert_eq!(pos.r#type, PositionType::Sell);
        // A missing field of a full structure is an error, not a silent default.
        let mut a = to_wire(Kind::AccountInfo, &AccountInfo::default());
        a.as_object_mut().unwrap().remove("balance");
        assert!(from_wire::<AccountInfo>(Kind::AccountInfo, a.clone()).is_err());
        // Unless the caller fills what an older MT5 build does not report.
        a["balance"] = Value::Null;
        a.as_object_mut().unwrap().remove("balance");
        a["login"] = Value::from(77);
        fill_missing::<AccountInfo>(Kind::AccountInfo, &mut a);
        let info: AccountInfo = from_wire(Kind::AccountInfo, a).unwrap();
        assert_eq!((info.login, info.balance), (77, 0.0));
        let mut list = serde_json::json!([{"ticket": 5, "type": 1, "entry": 1}]);
        fill_missing::<TradeDeal>(Kind::TradeDeal, &mut list);
        let deals: Vec<TradeDeal> = from_wire(Kind::TradeDeal, list).unwrap();
        assert_eq!(
            (
                deals[0].ticket,
                deals[0].r#type,
                deals[0].entry,
                deals[0].fee
            ),
            (5, DealType::Sell, DealEntry::Out, 0.0)
        );
    }

    #[test]
    fn unknown_values_round_trip_as_their_integers() {
        // What a server may report that the lists do not have, in every structure that has enums.
        let a = round_trip(
            Kind::AccountInfo,
            AccountInfo {
                trade_mode: AccountTradeMode::Unknown(3),
                margin_so_mode: AccountStopoutMode::Unknown(4),
                margin_mode: AccountMarginMode::Unknown(5),
                ..Default::default()
            },
        );
        assert_eq!(
            (&a["trade_mode"], &a["margin_so_mode"], &a["margin_mode"]),
            (&Value::from(3), &Value::from(4), &Value::from(5))
        );
        let s = round_trip(
            Kind::SymbolInfo,
            SymbolInfo {
                chart_mode: SymbolChartMode::Unknown(2),
                trade_calc_mode: SymbolCalcMode::Unknown(77),
                trade_mode: SymbolTradeMode::Unknown(9),
                trade_exemode: SymbolTradeExecution::Unknown(6),
                swap_mode: SymbolSwapMode::Unknown(-1),
                swap_rollover3days: DayOfWeek::Unknown(7),
                order_gtc_mode: SymbolOrdersGtc::Unknown(3),
                option_mode: SymbolOptionMode::Unknown(2),
                option_right: SymbolOptionRight::Unknown(2),
                ..Default::default()
            },
        );
        assert_eq!(s["trade_calc_mode"], 77);
        assert_eq!(s["swap_mode"], -1);
        let r = TradeRequest {
            action: TradeAction::Unknown(2),
            r#type: OrderType::Unknown(12),
            type_filling: OrderFilling::Unknown(9),
            type_time: OrderTime::Unknown(8),
            ..request()
        };
        let w = round_trip(Kind::TradeRequest, r.clone());
        assert_eq!(
            (&w["action"], &w["type"]),
            (&Value::from(2), &Value::from(12))
        );
        let c = round_trip(
            Kind::OrderSendResult,
            OrderSendResult {
                request: r,
                ..Default::default()
            },
        );
        assert_eq!(c["request"]["type_filling"], 9);
        let p = round_trip(
            Kind::TradePosition,
            TradePosition {
                r#type: PositionType::Unknown(5),
                reason: PositionReason::Unknown(11),
                ..Default::default()
            },
        );
        assert_eq!(
            (&p["type"], &p["reason"]),
            (&Value::from(5), &Value::from(11))
        );
        let o = round_trip(
            Kind::TradeOrder,
            TradeOrder {
                r#type: OrderType::Unknown(12),
                type_time: OrderTime::Unknown(8),
                type_filling: OrderFilling::Unknown(9),
                state: OrderState::Unknown(17),
                reason: OrderReason::Unknown(30),
                ..Default::default()
            },
        );
        assert_eq!(
            (&o["state"], &o["reason"]),
            (&Value::from(17), &Value::from(30))
        );
        let d = round_trip(
            Kind::TradeDeal,
            TradeDeal {
                r#type: DealType::Unknown(99),
                entry: DealEntry::Unknown(7),
                reason: DealReason::Unknown(42),
                ..Default::default()
            },
        );
        assert_eq!(
            (&d["type"], &d["entry"], &d["reason"]),
            (&Value::from(99), &Value::from(7), &Value::from(42))
        );
        // As MT5's integers straight from the other side (a float from Python included).
        let mut list = serde_json::json!([{"ticket": 5, "type": 99.0, "entry": 1, "reason": 42}]);
        fill_missing::<TradeDeal>(Kind::TradeDeal, &mut list);
        let deals: Vec<TradeDeal> = from_wire(Kind::TradeDeal, list).unwrap();
        assert_eq!(
            (deals[0].r#type, deals[0].entry, deals[0].reason),
            (
                DealType::Unknown(99),
                DealEntry::Out,
                DealReason::Unknown(42)
            )
        );
    }

    #[test]
    fn a_structure_s_schema_is_its_wire_form() {
        let s = schema(Kind::TradeDeal);
        let wire = to_wire(Kind::TradeDeal, &TradeDeal::default());
        let fields = wire.as_object().unwrap();
        assert_eq!(s["required"].as_array().unwrap().len(), fields.len());
        assert_eq!(s["properties"]["type"]["type"], "integer");
        assert_eq!(s["properties"]["ticket"]["type"], "integer");
        assert_eq!(s["properties"]["price"]["type"], "number");
        assert_eq!(s["properties"]["symbol"]["type"], "string");
        let r = schema(Kind::OrderSendResult);
        assert_eq!(
            r["properties"]["request"]["properties"]["action"]["type"],
            "integer"
        );
        assert_eq!(
            schema(Kind::AccountInfo)["properties"]["trade_allowed"]["type"],
            "boolean"
        );
    }

    #[test]
    fn floats_from_python_and_partial_requests_are_accepted() {
        let mut d = to_wire(Kind::TradeDeal, &TradeDeal::default());
        d["entry"] = Value::from(1.0);
        let deal: TradeDeal = from_wire(Kind::TradeDeal, d).unwrap();
        assert_eq!(deal.entry, DealEntry::Out);
        // A request names only the fields it needs; the rest are MT5's zeros.
        let r: TradeRequest = from_wire(
            Kind::TradeRequest,
            serde_json::json!({"action": 1, "symbol": "X", "type": 1, "volume": 0.5}),
        )
        .unwrap();
        assert_eq!(r.action, TradeAction::Deal);
        assert_eq!(r.r#type, OrderType::Sell);
        assert_eq!(r.type_filling, OrderFilling::Fok);
    }
}
