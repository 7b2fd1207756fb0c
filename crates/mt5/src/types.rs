//! MT5 structures with the field names and order of the `MetaTrader5` Python package.
//!
//! Times are integer epoch seconds on the trade server's clock, as MT5 reports them; the HTTP layer
//! converts them to UTC. Enum fields serialize by name (see [`crate::enums`]).

use crate::enums::*;
use serde::{Deserialize, Serialize};

/// `account_info()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountInfo {
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

/// `symbol_info()`: all 96 fields in the package's order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time: i64,
    pub digits: u32,
    pub spread: i32,
    pub spread_float: bool,
    pub ticks_bookdepth: u32,
    pub trade_calc_mode: SymbolCalcMode,
    pub trade_mode: SymbolTradeMode,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub start_time: i64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub expiration_time: i64,
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

/// `symbol_info_tick()`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tick {
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time: i64,
    pub bid: f64,
    pub ask: f64,
    pub last: f64,
    pub volume: u64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_msc: i64,
    /// TICK_FLAG_* bits.
    pub flags: u32,
    pub volume_real: f64,
}

/// One bar of `copy_rates_*` (the numpy rates dtype).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rate {
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub tick_volume: u64,
    /// Spread in points.
    pub spread: i32,
    pub real_volume: u64,
}

/// The request dict of `order_check` / `order_send`. Omitted fields are 0 / empty, as in MT5.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
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
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub expiration: i64,
    pub comment: String,
    pub position: u64,
    pub position_by: u64,
}

/// The longest order comment sent to MT5, in ASCII characters: terminals keep about this many
/// (servers up to 31), so the bridge's own client id, which leads the comment, always survives.
pub const COMMENT_MAX: usize = 27;

/// `order_check()` result: values **after** the hypothetical operation; success is retcode 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// `order_send()` result, also for server rejections (look at `retcode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// `positions_get()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradePosition {
    pub ticket: u64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time: i64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_msc: i64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_update: i64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_update_msc: i64,
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

/// `orders_get()` and `history_orders_get()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradeOrder {
    pub ticket: u64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_setup: i64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_setup_msc: i64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_done: i64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_done_msc: i64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_expiration: i64,
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

/// `history_deals_get()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TradeDeal {
    pub ticket: u64,
    pub order: u64,
    /// Trade-server epoch seconds; the API writes RFC 3339 UTC, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time: i64,
    /// Trade-server epoch milliseconds; the API writes RFC 3339 UTC with milliseconds, null for 0.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub time_msc: i64,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_json_uses_mt5_names() {
        let req = TradeRequest {
            action: TradeAction::Pending,
            symbol: "EURUSD".into(),
            volume: 0.1,
            r#type: OrderType::BuyLimit,
            ..Default::default()
        };
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(v["type"], "buy_limit");
        assert_eq!(v["action"], "pending");
        assert_eq!(v["type_filling"], "fok");
        let back: TradeRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, req);
        // Omitted keys default to 0 / empty, as in MT5.
        let r: TradeRequest = serde_json::from_str(r#"{"symbol":"X"}"#).unwrap();
        assert_eq!(r.action, TradeAction::Deal);
        assert_eq!(r.r#type, OrderType::Buy);
    }

    #[test]
    fn symbol_info_has_96_fields() {
        let v = serde_json::to_value(SymbolInfo::default()).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 96);
        let a = serde_json::to_value(AccountInfo::default()).unwrap();
        assert_eq!(a.as_object().unwrap().len(), 28);
        assert_eq!(
            serde_json::to_value(TradeOrder::default())
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            24
        );
        assert_eq!(
            serde_json::to_value(TradePosition::default())
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            19
        );
        assert_eq!(
            serde_json::to_value(TradeDeal::default())
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            18
        );
    }
}
