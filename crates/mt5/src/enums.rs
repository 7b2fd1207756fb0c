//! MT5 enumerations with their numeric values.
//!
//! JSON form, one rule everywhere: the lower-case MT5 constant name without its prefix
//! (`ORDER_TYPE_BUY_LIMIT` → `"buy_limit"`, `DEAL_ENTRY_OUT_BY` → `"out_by"`). Parsing from a name is
//! case-insensitive. [`numeric`] serializes the MT5 number instead, for the terminal-agent protocol.
//!
//! Values MT5 reports that a list here does not have (servers add deal types and reasons, brokers
//! run newer builds) are carried, not refused: every enum has an `Unknown(n)` variant holding MT5's
//! integer, written `"unknown_<n>"` in JSON and `n` in the numeric form. Only MT5's answers can hold
//! one: parsing a name ([`Mt5Enum::from_name`], `FromStr`, a string in `Deserialize`) knows the
//! listed names alone, so a request can never ask for `unknown_<n>`. `Deserialize` also reads MT5's
//! integer, any integer, which is how the agent protocol's answers arrive; the HTTP API reads its
//! request fields by name only.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::fmt;

/// The JSON name prefix of a value outside an enum's list: `unknown_<MT5 integer>`.
pub const UNKNOWN_PREFIX: &str = "unknown_";

/// Common behaviour of every MT5 enum: its MT5 number and its JSON name.
pub trait Mt5Enum: Sized + Copy + PartialEq + 'static {
    /// The enum's MT5 type name, for error messages (e.g. `ORDER_TYPE`).
    const TYPE_NAME: &'static str;
    /// Every known variant, in MT5 numeric order (never an `Unknown`).
    fn all() -> &'static [Self];
    /// MT5's integer (for an unknown value, the integer MT5 reported).
    fn code(self) -> i64;
    /// The known variant with this MT5 integer; `None` outside the list.
    fn from_code(code: i64) -> Option<Self>;
    /// MT5's integer as this enum: the known variant, else `Unknown(code)`. For what MT5 reports.
    fn from_code_or_unknown(code: i64) -> Self;
    /// The JSON name of a known variant; `None` for an unknown value.
    fn known_name(self) -> Option<&'static str>;
    /// The JSON name: the known name, or `unknown_<n>` for a value outside the list.
    fn name(self) -> Cow<'static, str> {
        match self.known_name() {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(format!("{UNKNOWN_PREFIX}{}", self.code())),
        }
    }
    /// Whether the value is one of the list (not an `Unknown`).
    fn is_known(self) -> bool {
        self.known_name().is_some()
    }
    /// The known variant with this JSON name, in any case. `unknown_<n>` and any other name are
    /// `None`: a name is only ever read from a request, and a request may not name an unknown value.
    fn from_name(name: &str) -> Option<Self> {
        Self::all()
            .iter()
            .copied()
            .find(|v| v.known_name().is_some_and(|n| n.eq_ignore_ascii_case(name)))
    }
    /// The accepted names, for validation messages.
    fn names() -> Vec<&'static str> {
        Self::all().iter().filter_map(|v| v.known_name()).collect()
    }
}

/// The MT5 integer in an `unknown_<n>` JSON name, for turning an answer written by name back into
/// MT5's numbers (the agent protocol). Never used to read a request.
pub(crate) fn unknown_code(name: &str) -> Option<i64> {
    let digits = name.strip_prefix(UNKNOWN_PREFIX)?;
    // Exactly what `name()` writes: no sign but `-`, no leading zeros or spaces.
    let n: i64 = digits.parse().ok()?;
    (n.to_string() == digits).then_some(n)
}

/// OpenAPI schemas of the enums as the HTTP API writes them (feature `openapi`): their lower-case
/// MT5 names, and `unknown_<n>` in answers for a value outside the list. The structures of
/// [`crate::types`] derive theirs, with times as RFC 3339 UTC (null where MT5 reports 0), as the
/// service converts them.
#[cfg(feature = "openapi")]
pub mod openapi {
    use super::Mt5Enum;
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
    use utoipa::openapi::RefOr;

    /// The form of a value the service does not know: `unknown_` and MT5's integer, as `name()` writes
    /// it (no sign but `-`, no leading zeros).
    pub const UNKNOWN_PATTERN: &str = "^unknown_(0|-?[1-9][0-9]*)$";

    /// What a request may send for an MT5 enum: one of its names.
    pub fn input_schema<E: Mt5Enum>() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(E::names()))
            .description(Some(format!(
                "MT5's {}_* constant, lower-case without the prefix (accepted in any case on input)",
                E::TYPE_NAME
            )))
            .into()
    }

    /// What an answer may hold for an MT5 enum: one of its names, or `unknown_<n>` for a value MT5
    /// reported that the list does not have.
    pub fn answer_schema<E: Mt5Enum>() -> RefOr<Schema> {
        let known = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(E::names()));
        let unknown = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(UNKNOWN_PATTERN))
            .description(Some(
                "a value the service does not know: `unknown_` and MT5's integer",
            ));
        AnyOfBuilder::new()
            .item(known)
            .item(unknown)
            .description(Some(format!(
                "MT5's {}_* constant, lower-case without the prefix; `unknown_<n>` (n: MT5's integer) \
                 for a value the service does not know",
                E::TYPE_NAME
            )))
            .into()
    }
}

macro_rules! mt5_enum {
    ($(#[$meta:meta])* $name:ident = $type_name:literal { $($(#[$vmeta:meta])* $variant:ident = $code:literal => $json:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value MT5 reported that this list does not have: MT5's integer, written
            /// `unknown_<n>` in JSON. Never accepted by name. Build it with
            /// [`Mt5Enum::from_code_or_unknown`], which keeps known integers known.
            Unknown(i64),
        }

        impl Mt5Enum for $name {
            const TYPE_NAME: &'static str = $type_name;
            fn all() -> &'static [Self] { &[$($name::$variant),+] }
            fn code(self) -> i64 { match self { $($name::$variant => $code,)+ $name::Unknown(n) => n } }
            fn from_code(code: i64) -> Option<Self> { match code { $($code => Some($name::$variant),)+ _ => None } }
            fn from_code_or_unknown(code: i64) -> Self {
                Self::from_code(code).unwrap_or($name::Unknown(code))
            }
            fn known_name(self) -> Option<&'static str> {
                match self { $($name::$variant => Some($json),)+ $name::Unknown(_) => None }
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                crate::enums::openapi::answer_schema::<$name>()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl Default for $name {
            /// The variant with MT5's lowest value (what an omitted request field means).
            fn default() -> Self { <$name as Mt5Enum>::all()[0] }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.name()) }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as Mt5Enum>::from_name(s).ok_or_else(|| UnknownVariant::new::<$name>(s))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(&self.name()) }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(NameOrCode::<$name>::new())
            }
        }
    };
}

/// Reads an enum from its JSON name (known names only, any case) or from MT5's integer (any: one
/// outside the list is `Unknown(n)`), the form MT5 and the agent protocol give. The HTTP API reads
/// request fields by name through [`Mt5Enum::from_name`], so neither form lets a request through
/// with an unknown value.
struct NameOrCode<E>(std::marker::PhantomData<E>);

impl<E> NameOrCode<E> {
    fn new() -> Self {
        NameOrCode(std::marker::PhantomData)
    }
}

impl<E: Mt5Enum> serde::de::Visitor<'_> for NameOrCode<E> {
    type Value = E;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an {} name or MT5 integer", E::TYPE_NAME)
    }

    fn visit_str<Err: serde::de::Error>(self, s: &str) -> Result<E, Err> {
        E::from_name(s).ok_or_else(|| Err::custom(UnknownVariant::new::<E>(s)))
    }

    fn visit_i64<Err: serde::de::Error>(self, n: i64) -> Result<E, Err> {
        Ok(E::from_code_or_unknown(n))
    }

    fn visit_u64<Err: serde::de::Error>(self, n: u64) -> Result<E, Err> {
        i64::try_from(n)
            .map(E::from_code_or_unknown)
            .map_err(|_| Err::custom(format!("{} value {n} is out of range", E::TYPE_NAME)))
    }
}

/// A name that is not one of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {type_name} '{value}', expected one of: {expected}")]
pub struct UnknownVariant {
    pub type_name: &'static str,
    pub value: String,
    pub expected: String,
}

impl UnknownVariant {
    pub fn new<E: Mt5Enum>(value: &str) -> Self {
        UnknownVariant {
            type_name: E::TYPE_NAME,
            value: value.chars().take(64).collect(),
            expected: E::names().join(", "),
        }
    }
}

mt5_enum!(
    /// ORDER_TYPE_*
    OrderType = "ORDER_TYPE" {
    Buy = 0 => "buy", Sell = 1 => "sell", BuyLimit = 2 => "buy_limit", SellLimit = 3 => "sell_limit",
    BuyStop = 4 => "buy_stop", SellStop = 5 => "sell_stop", BuyStopLimit = 6 => "buy_stop_limit",
    SellStopLimit = 7 => "sell_stop_limit", CloseBy = 8 => "close_by",
});

impl OrderType {
    /// Buy side (buy, buy_limit, buy_stop, buy_stop_limit).
    pub fn is_buy(self) -> bool {
        matches!(
            self,
            OrderType::Buy | OrderType::BuyLimit | OrderType::BuyStop | OrderType::BuyStopLimit
        )
    }
    /// Sell side (sell, sell_limit, sell_stop, sell_stop_limit).
    pub fn is_sell(self) -> bool {
        matches!(
            self,
            OrderType::Sell | OrderType::SellLimit | OrderType::SellStop | OrderType::SellStopLimit
        )
    }
    pub fn is_market(self) -> bool {
        matches!(self, OrderType::Buy | OrderType::Sell)
    }
    /// A pending type (limit, stop, stop-limit). False for close_by and for an unknown type: no
    /// rule for pending orders is applied to a type the service cannot read.
    pub fn is_pending(self) -> bool {
        self.is_limit() || self.is_stop() || self.is_stop_limit()
    }
    pub fn is_limit(self) -> bool {
        matches!(self, OrderType::BuyLimit | OrderType::SellLimit)
    }
    pub fn is_stop(self) -> bool {
        matches!(self, OrderType::BuyStop | OrderType::SellStop)
    }
    pub fn is_stop_limit(self) -> bool {
        matches!(self, OrderType::BuyStopLimit | OrderType::SellStopLimit)
    }
    /// The market side this order trades on: buy or sell (close_by is taken as sell, as MT5's
    /// `type % 2` does). `None` for an unknown type, whose side cannot be told.
    pub fn side(self) -> Option<PositionType> {
        if self.is_buy() {
            Some(PositionType::Buy)
        } else if self.is_sell() || self == OrderType::CloseBy {
            Some(PositionType::Sell)
        } else {
            None
        }
    }
    /// The SYMBOL_ORDER_* bit that must be set in `order_mode` for this type; `None` for an
    /// unknown type, which no bit permits.
    pub fn order_mode_bit(self) -> Option<u32> {
        match self {
            OrderType::Buy | OrderType::Sell => Some(order_mode::MARKET),
            OrderType::BuyLimit | OrderType::SellLimit => Some(order_mode::LIMIT),
            OrderType::BuyStop | OrderType::SellStop => Some(order_mode::STOP),
            OrderType::BuyStopLimit | OrderType::SellStopLimit => Some(order_mode::STOP_LIMIT),
            OrderType::CloseBy => Some(order_mode::CLOSEBY),
            OrderType::Unknown(_) => None,
        }
    }
}

mt5_enum!(
    /// ORDER_STATE_*
    OrderState = "ORDER_STATE" {
    Started = 0 => "started", Placed = 1 => "placed", Canceled = 2 => "canceled", Partial = 3 => "partial",
    Filled = 4 => "filled", Rejected = 5 => "rejected", Expired = 6 => "expired", RequestAdd = 7 => "request_add",
    RequestModify = 8 => "request_modify", RequestCancel = 9 => "request_cancel",
});

mt5_enum!(
    /// ORDER_FILLING_*
    OrderFilling = "ORDER_FILLING" {
    Fok = 0 => "fok", Ioc = 1 => "ioc", Return = 2 => "return", Boc = 3 => "boc",
});

mt5_enum!(
    /// ORDER_TIME_*
    OrderTime = "ORDER_TIME" {
    Gtc = 0 => "gtc", Day = 1 => "day", Specified = 2 => "specified", SpecifiedDay = 3 => "specified_day",
});

mt5_enum!(
    /// ORDER_REASON_*
    OrderReason = "ORDER_REASON" {
    Client = 0 => "client", Mobile = 1 => "mobile", Web = 2 => "web", Expert = 3 => "expert",
    Sl = 4 => "sl", Tp = 5 => "tp", So = 6 => "so",
});

mt5_enum!(
    /// TRADE_ACTION_*
    TradeAction = "TRADE_ACTION" {
    Deal = 1 => "deal", Pending = 5 => "pending", Sltp = 6 => "sltp", Modify = 7 => "modify",
    Remove = 8 => "remove", CloseBy = 10 => "close_by",
});

mt5_enum!(
    /// POSITION_TYPE_*
    PositionType = "POSITION_TYPE" { Buy = 0 => "buy", Sell = 1 => "sell" });

impl PositionType {
    /// The other side; `None` for an unknown type, whose opposite cannot be told either.
    pub fn opposite(self) -> Option<PositionType> {
        match self {
            PositionType::Buy => Some(PositionType::Sell),
            PositionType::Sell => Some(PositionType::Buy),
            PositionType::Unknown(_) => None,
        }
    }
    /// The market order type that trades on this side (buy → buy); `None` for an unknown type.
    pub fn order_type(self) -> Option<OrderType> {
        match self {
            PositionType::Buy => Some(OrderType::Buy),
            PositionType::Sell => Some(OrderType::Sell),
            PositionType::Unknown(_) => None,
        }
    }
    /// +1 for buy, -1 for sell; `None` for an unknown type.
    pub fn sign(self) -> Option<f64> {
        match self {
            PositionType::Buy => Some(1.0),
            PositionType::Sell => Some(-1.0),
            PositionType::Unknown(_) => None,
        }
    }
}

mt5_enum!(
    /// POSITION_REASON_*
    PositionReason = "POSITION_REASON" {
    Client = 0 => "client", Mobile = 1 => "mobile", Web = 2 => "web", Expert = 3 => "expert",
});

mt5_enum!(
    /// DEAL_TYPE_* (and DEAL_DIVIDEND, DEAL_DIVIDEND_FRANKED, DEAL_TAX, which have no TYPE_ in their name).
    DealType = "DEAL_TYPE" {
    Buy = 0 => "buy", Sell = 1 => "sell", Balance = 2 => "balance", Credit = 3 => "credit", Charge = 4 => "charge",
    Correction = 5 => "correction", Bonus = 6 => "bonus", Commission = 7 => "commission",
    CommissionDaily = 8 => "commission_daily", CommissionMonthly = 9 => "commission_monthly",
    CommissionAgentDaily = 10 => "commission_agent_daily", CommissionAgentMonthly = 11 => "commission_agent_monthly",
    Interest = 12 => "interest", BuyCanceled = 13 => "buy_canceled", SellCanceled = 14 => "sell_canceled",
    Dividend = 15 => "dividend", DividendFranked = 16 => "dividend_franked", Tax = 17 => "tax",
});

mt5_enum!(
    /// DEAL_ENTRY_*
    DealEntry = "DEAL_ENTRY" { In = 0 => "in", Out = 1 => "out", InOut = 2 => "inout", OutBy = 3 => "out_by" });

mt5_enum!(
    /// DEAL_REASON_*
    DealReason = "DEAL_REASON" {
    Client = 0 => "client", Mobile = 1 => "mobile", Web = 2 => "web", Expert = 3 => "expert", Sl = 4 => "sl",
    Tp = 5 => "tp", So = 6 => "so", Rollover = 7 => "rollover", Vmargin = 8 => "vmargin", Split = 9 => "split",
});

mt5_enum!(
    /// ACCOUNT_TRADE_MODE_*
    AccountTradeMode = "ACCOUNT_TRADE_MODE" { Demo = 0 => "demo", Contest = 1 => "contest", Real = 2 => "real" });

mt5_enum!(
    /// ACCOUNT_STOPOUT_MODE_*
    AccountStopoutMode = "ACCOUNT_STOPOUT_MODE" { Percent = 0 => "percent", Money = 1 => "money" });

mt5_enum!(
    /// ACCOUNT_MARGIN_MODE_*
    AccountMarginMode = "ACCOUNT_MARGIN_MODE" {
    RetailNetting = 0 => "retail_netting", Exchange = 1 => "exchange", RetailHedging = 2 => "retail_hedging",
});

impl AccountMarginMode {
    /// Retail hedging; false for netting, exchange and a mode the service does not know.
    pub fn is_hedging(self) -> bool {
        self == AccountMarginMode::RetailHedging
    }
}

mt5_enum!(
    /// SYMBOL_CHART_MODE_*
    SymbolChartMode = "SYMBOL_CHART_MODE" { Bid = 0 => "bid", Last = 1 => "last" });

mt5_enum!(
    /// SYMBOL_CALC_MODE_*
    SymbolCalcMode = "SYMBOL_CALC_MODE" {
    Forex = 0 => "forex", Futures = 1 => "futures", Cfd = 2 => "cfd", CfdIndex = 3 => "cfdindex",
    CfdLeverage = 4 => "cfdleverage", ForexNoLeverage = 5 => "forex_no_leverage", ExchStocks = 32 => "exch_stocks",
    ExchFutures = 33 => "exch_futures", ExchOptions = 34 => "exch_options", ExchOptionsMargin = 36 => "exch_options_margin",
    ExchBonds = 37 => "exch_bonds", ExchStocksMoex = 38 => "exch_stocks_moex", ExchBondsMoex = 39 => "exch_bonds_moex",
    ServCollateral = 64 => "serv_collateral",
});

mt5_enum!(
    /// SYMBOL_TRADE_MODE_*
    SymbolTradeMode = "SYMBOL_TRADE_MODE" {
    Disabled = 0 => "disabled", LongOnly = 1 => "longonly", ShortOnly = 2 => "shortonly",
    CloseOnly = 3 => "closeonly", Full = 4 => "full",
});

mt5_enum!(
    /// SYMBOL_TRADE_EXECUTION_*
    SymbolTradeExecution = "SYMBOL_TRADE_EXECUTION" {
    Request = 0 => "request", Instant = 1 => "instant", Market = 2 => "market", Exchange = 3 => "exchange",
});

mt5_enum!(
    /// SYMBOL_SWAP_MODE_*
    SymbolSwapMode = "SYMBOL_SWAP_MODE" {
    Disabled = 0 => "disabled", Points = 1 => "points", CurrencySymbol = 2 => "currency_symbol",
    CurrencyMargin = 3 => "currency_margin", CurrencyDeposit = 4 => "currency_deposit",
    InterestCurrent = 5 => "interest_current", InterestOpen = 6 => "interest_open",
    ReopenCurrent = 7 => "reopen_current", ReopenBid = 8 => "reopen_bid",
});

mt5_enum!(
    /// DAY_OF_WEEK_*
    DayOfWeek = "DAY_OF_WEEK" {
    Sunday = 0 => "sunday", Monday = 1 => "monday", Tuesday = 2 => "tuesday", Wednesday = 3 => "wednesday",
    Thursday = 4 => "thursday", Friday = 5 => "friday", Saturday = 6 => "saturday",
});

mt5_enum!(
    /// SYMBOL_ORDERS_* (the GTC mode of a symbol)
    SymbolOrdersGtc = "SYMBOL_ORDERS" { Gtc = 0 => "gtc", Daily = 1 => "daily", DailyNoStops = 2 => "daily_no_stops" });

mt5_enum!(
    /// SYMBOL_OPTION_RIGHT_*
    SymbolOptionRight = "SYMBOL_OPTION_RIGHT" { Call = 0 => "call", Put = 1 => "put" });

mt5_enum!(
    /// SYMBOL_OPTION_MODE_*
    SymbolOptionMode = "SYMBOL_OPTION_MODE" { European = 0 => "european", American = 1 => "american" });

mt5_enum!(
    /// BOOK_TYPE_*
    BookType = "BOOK_TYPE" { Sell = 1 => "sell", Buy = 2 => "buy", SellMarket = 3 => "sell_market", BuyMarket = 4 => "buy_market" });

mt5_enum!(
    /// TIMEFRAME_*. Names parse case-insensitively, so `M1`, `h4` and `MN1` are all accepted.
    Timeframe = "TIMEFRAME" {
    M1 = 1 => "m1", M2 = 2 => "m2", M3 = 3 => "m3", M4 = 4 => "m4", M5 = 5 => "m5", M6 = 6 => "m6",
    M10 = 10 => "m10", M12 = 12 => "m12", M15 = 15 => "m15", M20 = 20 => "m20", M30 = 30 => "m30",
    H1 = 16385 => "h1", H2 = 16386 => "h2", H3 = 16387 => "h3", H4 = 16388 => "h4", H6 = 16390 => "h6",
    H8 = 16392 => "h8", H12 = 16396 => "h12", D1 = 16408 => "d1", W1 = 32769 => "w1", MN1 = 49153 => "mn1",
});

impl Timeframe {
    /// Bar length in seconds; months are calendar months, so `None` for MN1, and `None` for a
    /// timeframe outside the list (MT5 only ever takes timeframes, it never reports one).
    pub fn seconds(self) -> Option<i64> {
        if !self.is_known() {
            return None;
        }
        let code = self.code();
        match code & 0xC000 {
            0 => Some(code * 60),
            0x4000 => Some((code & 0x3FFF) * 3600),
            0x8000 => Some((code & 0x3FFF) * 7 * 86400),
            _ => None,
        }
    }
}

/// SYMBOL_FILLING_* bits of `SymbolInfo::filling_mode` (not exported by the Python package).
pub mod filling_mode {
    pub const FOK: u32 = 1;
    pub const IOC: u32 = 2;
    pub const BOC: u32 = 4;
}

/// SYMBOL_EXPIRATION_* bits of `SymbolInfo::expiration_mode`.
pub mod expiration_mode {
    pub const GTC: u32 = 1;
    pub const DAY: u32 = 2;
    pub const SPECIFIED: u32 = 4;
    pub const SPECIFIED_DAY: u32 = 8;
}

/// SYMBOL_ORDER_* bits of `SymbolInfo::order_mode`.
pub mod order_mode {
    pub const MARKET: u32 = 1;
    pub const LIMIT: u32 = 2;
    pub const STOP: u32 = 4;
    pub const STOP_LIMIT: u32 = 8;
    pub const SL: u32 = 16;
    pub const TP: u32 = 32;
    pub const CLOSEBY: u32 = 64;
    pub const ALL: u32 = 127;
}

/// TICK_FLAG_* bits of `Tick::flags`.
pub mod tick_flag {
    pub const BID: u32 = 0x02;
    pub const ASK: u32 = 0x04;
    pub const LAST: u32 = 0x08;
    pub const VOLUME: u32 = 0x10;
    pub const BUY: u32 = 0x20;
    pub const SELL: u32 = 0x40;
}

/// Serde helpers for the numeric (MT5 integer) form, used by the terminal-agent protocol:
/// `#[serde(with = "mt5::enums::numeric")]`. Any integer is read: one outside the list is
/// `Unknown(n)`, and is written back as `n`.
pub mod numeric {
    use super::Mt5Enum;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<E: Mt5Enum, S: Serializer>(v: &E, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(v.code())
    }

    pub fn deserialize<'de, E: Mt5Enum, D: Deserializer<'de>>(d: D) -> Result<E, D::Error> {
        i64::deserialize(d).map(E::from_code_or_unknown)
    }
}

/// A table of every enum for docs and tests: (MT5 type, JSON name, MT5 value).
pub fn enum_table() -> Vec<(&'static str, &'static str, i64)> {
    fn rows<E: Mt5Enum>(out: &mut Vec<(&'static str, &'static str, i64)>) {
        out.extend(
            E::all()
                .iter()
                .filter_map(|v| Some((E::TYPE_NAME, v.known_name()?, v.code()))),
        );
    }
    let mut out = Vec::new();
    rows::<OrderType>(&mut out);
    rows::<OrderState>(&mut out);
    rows::<OrderFilling>(&mut out);
    rows::<OrderTime>(&mut out);
    rows::<OrderReason>(&mut out);
    rows::<TradeAction>(&mut out);
    rows::<PositionType>(&mut out);
    rows::<PositionReason>(&mut out);
    rows::<DealType>(&mut out);
    rows::<DealEntry>(&mut out);
    rows::<DealReason>(&mut out);
    rows::<AccountTradeMode>(&mut out);
    rows::<AccountStopoutMode>(&mut out);
    rows::<AccountMarginMode>(&mut out);
    rows::<SymbolChartMode>(&mut out);
    rows::<SymbolCalcMode>(&mut out);
    rows::<SymbolTradeMode>(&mut out);
    rows::<SymbolTradeExecution>(&mut out);
    rows::<SymbolSwapMode>(&mut out);
    rows::<DayOfWeek>(&mut out);
    rows::<SymbolOrdersGtc>(&mut out);
    rows::<SymbolOptionRight>(&mut out);
    rows::<SymbolOptionMode>(&mut out);
    rows::<BookType>(&mut out);
    rows::<Timeframe>(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_names_follow_the_rule() {
        assert_eq!(
            serde_json::to_string(&OrderType::BuyLimit).unwrap(),
            "\"buy_limit\""
        );
        assert_eq!(
            serde_json::to_string(&DealEntry::OutBy).unwrap(),
            "\"out_by\""
        );
        assert_eq!(
            serde_json::to_string(&AccountMarginMode::RetailHedging).unwrap(),
            "\"retail_hedging\""
        );
        assert_eq!(
            serde_json::to_string(&AccountTradeMode::Demo).unwrap(),
            "\"demo\""
        );
        assert_eq!(
            serde_json::from_str::<OrderType>("\"SELL_STOP\"").unwrap(),
            OrderType::SellStop
        );
        let err = serde_json::from_str::<OrderType>("\"market\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("buy_limit"), "{err}");
    }

    #[test]
    fn numeric_values_are_mt5s() {
        assert_eq!(Timeframe::H4.code(), 16388);
        assert_eq!(Timeframe::W1.code(), 32769);
        assert_eq!(Timeframe::MN1.code(), 49153);
        assert_eq!(Timeframe::H4.seconds(), Some(4 * 3600));
        assert_eq!(Timeframe::M15.seconds(), Some(900));
        assert_eq!(Timeframe::W1.seconds(), Some(7 * 86400));
        assert_eq!(Timeframe::MN1.seconds(), None);
        assert_eq!(TradeAction::CloseBy.code(), 10);
        assert_eq!(DealType::Tax.code(), 17);
        assert_eq!(SymbolCalcMode::ExchStocks.code(), 32);
        assert_eq!(Timeframe::from_code(16408), Some(Timeframe::D1));
    }

    #[test]
    fn every_enum_round_trips_by_name_and_code() {
        for (ty, name, code) in enum_table() {
            assert_eq!(name, name.to_lowercase(), "{ty}");
            assert!(!name.is_empty());
            let _ = code;
        }
        for v in OrderType::all() {
            assert_eq!(OrderType::from_code(v.code()), Some(*v));
            assert_eq!(OrderType::from_name(&v.name()), Some(*v));
        }
    }

    #[test]
    fn numeric_form() {
        #[derive(Serialize, Deserialize)]
        struct W {
            #[serde(with = "numeric")]
            t: OrderType,
        }
        let s = serde_json::to_string(&W {
            t: OrderType::SellStopLimit,
        })
        .unwrap();
        assert_eq!(s, r#"{"t":7}"#);
        // Any integer is read, and written back as it came.
        let w: W = serde_json::from_str(r#"{"t":99}"#).unwrap();
        assert_eq!(w.t, OrderType::Unknown(99));
        assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"t":99}"#);
        let w: W = serde_json::from_str(r#"{"t":-5}"#).unwrap();
        assert_eq!(w.t, OrderType::Unknown(-5));
        assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"t":-5}"#);
        let w: W = serde_json::from_str(r#"{"t":2}"#).unwrap();
        assert_eq!(w.t, OrderType::BuyLimit);
        assert!(serde_json::from_str::<W>(r#"{"t":"buy"}"#).is_err());
    }

    #[test]
    fn unknown_values_are_written_unknown_n() {
        let d = DealReason::from_code_or_unknown(99);
        assert_eq!(d, DealReason::Unknown(99));
        assert!(!d.is_known());
        assert_eq!(d.code(), 99);
        assert_eq!(d.known_name(), None);
        assert_eq!(d.name(), "unknown_99");
        assert_eq!(d.to_string(), "unknown_99");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"unknown_99\"");
        assert_eq!(
            serde_json::to_string(&SymbolCalcMode::Unknown(-5)).unwrap(),
            "\"unknown_-5\""
        );
        // A known integer stays known.
        assert_eq!(DealReason::from_code_or_unknown(4), DealReason::Sl);
        assert_eq!(DealReason::from_code(99), None);
        // MT5's integers read as the enum, unknown ones included (what the agent protocol carries).
        assert_eq!(
            serde_json::from_str::<DealType>("57").unwrap(),
            DealType::Unknown(57)
        );
        assert_eq!(
            serde_json::from_str::<DealType>("1").unwrap(),
            DealType::Sell
        );
        assert!(serde_json::from_str::<DealType>("18446744073709551615").is_err());
        assert!(serde_json::from_str::<DealType>("1.5").is_err());
        assert!(serde_json::from_str::<DealType>("true").is_err());
    }

    #[test]
    fn names_never_parse_to_unknown() {
        for name in [
            "unknown_99",
            "UNKNOWN_99",
            "unknown_0",
            "unknown_-5",
            "unknown",
            "99",
        ] {
            assert_eq!(OrderType::from_name(name), None, "{name}");
            assert!(name.parse::<DealReason>().is_err(), "{name}");
            let json = serde_json::to_string(name).unwrap();
            let err = serde_json::from_str::<OrderState>(&json).unwrap_err();
            assert!(err.to_string().contains("expected one of"), "{err}");
        }
        // Lists, names and the docs hold the known values only.
        assert!(OrderType::all().iter().all(|t| t.is_known()));
        assert!(!OrderType::names().iter().any(|n| n.starts_with("unknown")));
        assert!(!enum_table()
            .iter()
            .any(|(_, n, _)| n.starts_with("unknown")));
        // The default stays MT5's lowest known value.
        assert_eq!(OrderType::default(), OrderType::Buy);
        assert_eq!(BookType::default(), BookType::Sell);
        // The agent protocol's way back from a name to MT5's integer.
        assert_eq!(unknown_code("unknown_99"), Some(99));
        assert_eq!(unknown_code("unknown_-5"), Some(-5));
        for bad in [
            "unknown_",
            "unknown_+5",
            "unknown_05",
            "unknown_ 5",
            "buy",
            "unknown_x",
        ] {
            assert_eq!(unknown_code(bad), None, "{bad}");
        }
    }

    #[test]
    fn unknown_order_types_have_no_side_and_are_not_pending() {
        let t = OrderType::Unknown(12);
        assert!(!t.is_pending() && !t.is_market() && !t.is_buy() && !t.is_sell());
        assert!(!t.is_limit() && !t.is_stop() && !t.is_stop_limit());
        assert_eq!(t.side(), None);
        assert_eq!(t.order_mode_bit(), None);
        assert!(!OrderType::CloseBy.is_pending());
        assert!(OrderType::SellStopLimit.is_pending());
        assert_eq!(OrderType::SellLimit.side(), Some(PositionType::Sell));
        assert_eq!(OrderType::BuyStop.side(), Some(PositionType::Buy));
        assert_eq!(PositionType::Unknown(5).opposite(), None);
        assert_eq!(PositionType::Unknown(5).sign(), None);
        assert_eq!(PositionType::Unknown(5).order_type(), None);
        assert_eq!(PositionType::Sell.order_type(), Some(OrderType::Sell));
        assert_eq!(PositionType::Buy.opposite(), Some(PositionType::Sell));
        assert_eq!(Timeframe::Unknown(7).seconds(), None);
        assert!(!AccountMarginMode::Unknown(5).is_hedging());
    }
}

/// The enum table as docs/enums.md shows it.
pub fn enum_table_markdown() -> String {
    let mut out = String::from(
        "# MT5 enums in JSON\n\n\
         One rule everywhere: an enum is written as the lower-case MT5 constant name without its prefix\n\
         (`ORDER_TYPE_BUY_LIMIT` → `\"buy_limit\"`). Names are accepted in any case on input. The terminal-agent\n\
         protocol uses the numeric value instead.\n\n\
         A value the service does not know (a deal type, reason, state or mode MT5 reports that is not in\n\
         the tables below: servers and newer builds add them) is written `\"unknown_<n>\"`, where `n` is\n\
         MT5's integer (`\"unknown_99\"`, `\"unknown_-5\"`); the answer is given all the same. Requests\n\
         refuse it: an input field accepts only the names listed here (`422 validation_failed` naming\n\
         the field).\n\n\
         This file is checked by a test (`cargo test -p mt5 enum_doc`); regenerate it with\n\
         `UPDATE_DOCS=1 cargo test -p mt5 enum_doc`.\n",
    );
    let mut current = "";
    for (ty, name, code) in enum_table() {
        if ty != current {
            out.push_str(&format!("\n## {ty}_*\n\n| JSON | MT5 value |\n|---|---|\n"));
            current = ty;
        }
        out.push_str(&format!("| `{name}` | {code} |\n"));
    }
    out.push_str(
        "\n## Trade return codes (`retcode`)\n\n| code | name | meaning |\n|---|---|---|\n",
    );
    for r in crate::retcode::all() {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            r.code, r.name, r.description
        ));
    }
    out.push_str(
        "\n## Terminal error codes (`last_error`)\n\n| code | name | message |\n|---|---|---|\n",
    );
    for (code, name, msg) in crate::error::last_error::TABLE {
        out.push_str(&format!("| {code} | {name} | {msg} |\n"));
    }
    out
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn enum_doc_is_current() {
        // Resolved at run time (cargo runs tests in the package directory): a build cache shared by
        // checkouts in different folders must not point the test at another checkout's file.
        let path = std::path::Path::new("../../docs/enums.md");
        let want = super::enum_table_markdown();
        if std::env::var("UPDATE_DOCS").is_ok() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/enums.md is stale: run UPDATE_DOCS=1 cargo test -p mt5 enum_doc"
        );
    }
}
