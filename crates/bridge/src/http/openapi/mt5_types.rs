//! MT5's structures as the API returns them: the `mt5` crate's fields, with times as RFC 3339 UTC
//! (null where MT5 reports 0) and enums by their lower-case MT5 names (docs/enums.md), or
//! `unknown_<n>` for a value MT5 reports outside the lists.

use mt5::enums::Mt5Enum;
use std::borrow::Cow;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

/// The form of a value the service does not know: `unknown_` and MT5's integer, as `name()` writes
/// it (no sign but `-`, no leading zeros).
pub const UNKNOWN_PATTERN: &str = "^unknown_(0|-?[1-9][0-9]*)$";

/// A string schema listing an MT5 enum's JSON names, taken from the `mt5` crate itself: what a
/// request may send.
pub fn mt5_enum_schema<E: Mt5Enum>() -> RefOr<Schema> {
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
pub fn mt5_enum_answer_schema<E: Mt5Enum>() -> RefOr<Schema> {
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

/// Doc-only stand-ins for the `mt5` enums as answers hold them (the schema traits cannot be
/// implemented on another crate's types), named as the enums are.
macro_rules! mt5_enums {
    ($($name:ident),+ $(,)?) => {$(
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                mt5_enum_answer_schema::<mt5::$name>()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

/// Doc-only stand-ins for the `mt5` enums as requests send them: the listed names only.
macro_rules! mt5_input_enums {
    ($($name:ident => $enum:ident),+ $(,)?) => {$(
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                mt5_enum_schema::<mt5::$enum>()
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    )+};
}

mt5_input_enums!(OrderFillingInput => OrderFilling, OrderTimeInput => OrderTime);

mt5_enums!(
    AccountTradeMode,
    AccountStopoutMode,
    AccountMarginMode,
    SymbolChartMode,
    SymbolCalcMode,
    SymbolTradeMode,
    SymbolTradeExecution,
    SymbolSwapMode,
    DayOfWeek,
    SymbolOrdersGtc,
    SymbolOptionMode,
    SymbolOptionRight,
    TradeAction,
    OrderType,
    OrderFilling,
    OrderTime,
    OrderState,
    OrderReason,
    PositionType,
    PositionReason,
    DealType,
    DealEntry,
    DealReason,
);

/// MT5's `account_info()`, live from the terminal, plus the bridge's `account_id`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountInfo {
    /// The bridge's id of the account (not an MT5 field).
    pub account_id: Uuid,
    pub login: u64,
    pub trade_mode: AccountTradeMode,
    pub leverage: u32,
    pub limit_orders: u32,
    pub margin_so_mode: AccountStopoutMode,
    pub trade_allowed: bool,
    pub trade_expert: bool,
    pub margin_mode: AccountMarginMode,
    pub currency_digits: u32,
    pub fifo_close: bool,
    pub balance: f64,
    pub credit: f64,
    pub profit: f64,
    pub equity: f64,
    pub margin: f64,
    pub margin_free: f64,
    pub margin_level: f64,
    pub margin_so_call: f64,
    pub margin_so_so: f64,
    pub margin_initial: f64,
    pub margin_maintenance: f64,
    pub assets: f64,
    pub liabilities: f64,
    pub commission_blocked: f64,
    pub name: String,
    pub server: String,
    pub currency: String,
    pub company: String,
}

/// MT5's `symbol_info()`: all 96 fields, named as the `MetaTrader5` package names them.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SymbolInfo {
    pub custom: bool,
    pub chart_mode: SymbolChartMode,
    pub select: bool,
    pub visible: bool,
    pub session_deals: u64,
    pub session_buy_orders: u64,
    pub session_sell_orders: u64,
    pub volume: u64,
    pub volumehigh: u64,
    pub volumelow: u64,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time: Option<String>,
    pub digits: u32,
    pub spread: i32,
    pub spread_float: bool,
    pub ticks_bookdepth: u32,
    pub trade_calc_mode: SymbolCalcMode,
    pub trade_mode: SymbolTradeMode,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub start_time: Option<String>,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub expiration_time: Option<String>,
    pub trade_stops_level: u32,
    pub trade_freeze_level: u32,
    pub trade_exemode: SymbolTradeExecution,
    pub swap_mode: SymbolSwapMode,
    pub swap_rollover3days: DayOfWeek,
    pub margin_hedged_use_leg: bool,
    /// SYMBOL_EXPIRATION_* bits.
    pub expiration_mode: u32,
    /// SYMBOL_FILLING_* bits.
    pub filling_mode: u32,
    /// SYMBOL_ORDER_* bits.
    pub order_mode: u32,
    pub order_gtc_mode: SymbolOrdersGtc,
    pub option_mode: SymbolOptionMode,
    pub option_right: SymbolOptionRight,
    pub bid: f64,
    pub bidhigh: f64,
    pub bidlow: f64,
    pub ask: f64,
    pub askhigh: f64,
    pub asklow: f64,
    pub last: f64,
    pub lasthigh: f64,
    pub lastlow: f64,
    pub volume_real: f64,
    pub volumehigh_real: f64,
    pub volumelow_real: f64,
    pub option_strike: f64,
    pub point: f64,
    pub trade_tick_value: f64,
    pub trade_tick_value_profit: f64,
    pub trade_tick_value_loss: f64,
    pub trade_tick_size: f64,
    pub trade_contract_size: f64,
    pub trade_accrued_interest: f64,
    pub trade_face_value: f64,
    pub trade_liquidity_rate: f64,
    pub volume_min: f64,
    pub volume_max: f64,
    pub volume_step: f64,
    pub volume_limit: f64,
    pub swap_long: f64,
    pub swap_short: f64,
    pub margin_initial: f64,
    pub margin_maintenance: f64,
    pub session_volume: f64,
    pub session_turnover: f64,
    pub session_interest: f64,
    pub session_buy_orders_volume: f64,
    pub session_sell_orders_volume: f64,
    pub session_open: f64,
    pub session_close: f64,
    pub session_aw: f64,
    pub session_price_settlement: f64,
    pub session_price_limit_min: f64,
    pub session_price_limit_max: f64,
    pub margin_hedged: f64,
    pub price_change: f64,
    pub price_volatility: f64,
    pub price_theoretical: f64,
    pub price_greeks_delta: f64,
    pub price_greeks_theta: f64,
    pub price_greeks_gamma: f64,
    pub price_greeks_vega: f64,
    pub price_greeks_rho: f64,
    pub price_greeks_omega: f64,
    pub price_sensitivity: f64,
    pub basis: String,
    pub category: String,
    pub currency_base: String,
    pub currency_profit: String,
    pub currency_margin: String,
    pub bank: String,
    pub description: String,
    pub exchange: String,
    pub formula: String,
    pub isin: String,
    pub name: String,
    pub page: String,
    pub path: String,
}

/// MT5's `symbol_info_tick()`: the last quote.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Tick {
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time: Option<String>,
    pub bid: f64,
    pub ask: f64,
    pub last: f64,
    pub volume: u64,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_msc: Option<String>,
    /// TICK_FLAG_* bits.
    pub flags: u32,
    pub volume_real: f64,
}

/// One bar of MT5's `copy_rates_*`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time: Option<String>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub tick_volume: u64,
    /// Spread in points.
    pub spread: i32,
    pub real_volume: u64,
}

/// The trade request MT5 received (`order_check` / `order_send`); unused fields are 0 or empty, as in MT5.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradeRequest {
    pub action: TradeAction,
    pub magic: u64,
    pub order: u64,
    pub symbol: String,
    pub volume: f64,
    pub price: f64,
    pub stoplimit: f64,
    pub sl: f64,
    pub tp: f64,
    pub deviation: u64,
    pub r#type: OrderType,
    pub type_filling: OrderFilling,
    pub type_time: OrderTime,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub expiration: Option<String>,
    pub comment: String,
    pub position: u64,
    pub position_by: u64,
}

/// MT5's `order_check()` result: the account **after** the hypothetical operation; retcode 0 means it would pass.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderCheckResult {
    pub retcode: u32,
    pub balance: f64,
    pub equity: f64,
    pub profit: f64,
    pub margin: f64,
    pub margin_free: f64,
    pub margin_level: f64,
    pub comment: String,
    pub request: TradeRequest,
}

/// MT5's `order_send()` result of an accepted request (retcode 10008 placed, 10009 done, 10010 partial); a rejection is `422 trade_rejected` instead.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderSendResult {
    pub retcode: u32,
    pub deal: u64,
    pub order: u64,
    pub volume: f64,
    pub price: f64,
    pub bid: f64,
    pub ask: f64,
    pub comment: String,
    pub request_id: u64,
    pub retcode_external: i64,
    pub request: TradeRequest,
}

/// The result of a modify (an order's or a position's levels): MT5's `order_send()` result with
/// `changed`: true when the change was applied (10009), false when there was nothing to change
/// (10025 `NO_CHANGES`, still a success).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyResult {
    pub retcode: u32,
    pub deal: u64,
    pub order: u64,
    pub volume: f64,
    pub price: f64,
    pub bid: f64,
    pub ask: f64,
    pub comment: String,
    pub request_id: u64,
    pub retcode_external: i64,
    pub request: TradeRequest,
    pub changed: bool,
}

/// An open position (MT5's `positions_get()`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradePosition {
    pub ticket: u64,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time: Option<String>,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_msc: Option<String>,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_update: Option<String>,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_update_msc: Option<String>,
    pub r#type: PositionType,
    pub magic: u64,
    pub identifier: u64,
    pub reason: PositionReason,
    pub volume: f64,
    pub price_open: f64,
    pub sl: f64,
    pub tp: f64,
    pub price_current: f64,
    pub swap: f64,
    pub profit: f64,
    pub symbol: String,
    pub comment: String,
    pub external_id: String,
}

/// An order: active pending (MT5's `orders_get()`) or from history (`history_orders_get()`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradeOrder {
    pub ticket: u64,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_setup: Option<String>,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_setup_msc: Option<String>,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_done: Option<String>,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_done_msc: Option<String>,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_expiration: Option<String>,
    pub r#type: OrderType,
    pub type_time: OrderTime,
    pub type_filling: OrderFilling,
    pub state: OrderState,
    pub magic: u64,
    pub position_id: u64,
    pub position_by_id: u64,
    pub reason: OrderReason,
    pub volume_initial: f64,
    pub volume_current: f64,
    pub price_open: f64,
    pub sl: f64,
    pub tp: f64,
    pub price_current: f64,
    pub price_stoplimit: f64,
    pub symbol: String,
    pub comment: String,
    pub external_id: String,
}

/// A deal from history (MT5's `history_deals_get()`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TradeDeal {
    pub ticket: u64,
    pub order: u64,
    /// RFC 3339 UTC; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time: Option<String>,
    /// RFC 3339 UTC with milliseconds; null when MT5 reports none (0).
    #[schema(required = true, format = DateTime)]
    pub time_msc: Option<String>,
    pub r#type: DealType,
    pub entry: DealEntry,
    pub magic: u64,
    pub position_id: u64,
    pub reason: DealReason,
    pub volume: f64,
    pub price: f64,
    pub commission: f64,
    pub swap: f64,
    pub profit: f64,
    pub fee: f64,
    pub symbol: String,
    pub comment: String,
    pub external_id: String,
}
