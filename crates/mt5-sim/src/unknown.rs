//! Enum values outside MT5's lists, as a simulated terminal reports them when
//! `MT5_SIM_UNKNOWN_ENUMS` asks for it ([`UnknownEnums`]).
//!
//! Real servers report values the `MetaTrader5` package does not list (deal types and reasons added
//! server-side, modes of newer builds). The injection rewrites what the terminal answers, never the
//! broker's state, so the simulated broker trades exactly as without it. Each field gets its own
//! integer, so a test can tell which one it is looking at; docs/simulator.md lists them.

use crate::config::UnknownEnums;
use mt5::{
    AccountInfo, AccountMarginMode, AccountStopoutMode, AccountTradeMode, DayOfWeek, DealReason,
    DealType, OrderReason, OrderState, PositionReason, SymbolCalcMode, SymbolChartMode, SymbolInfo,
    SymbolOptionMode, SymbolOptionRight, SymbolOrdersGtc, SymbolSwapMode, SymbolTradeExecution,
    SymbolTradeMode, TradeDeal, TradeOrder, TradePosition,
};

/// `TradeDeal.type` of deals that are not trades (balance, credit, ...); buy and sell deals keep
/// theirs.
pub const DEAL_TYPE: i64 = 57;
/// `TradeDeal.reason`.
pub const DEAL_REASON: i64 = 99;
/// `TradeOrder.reason`, active and history orders.
pub const ORDER_REASON: i64 = 98;
/// `TradePosition.reason`.
pub const POSITION_REASON: i64 = 97;
/// `TradeOrder.state` of filled history orders (with `order_state`).
pub const ORDER_STATE: i64 = 17;
/// `SymbolInfo.trade_calc_mode`.
pub const CALC_MODE: i64 = 77;
/// `SymbolInfo.swap_mode`.
pub const SWAP_MODE: i64 = 55;
/// `SymbolInfo.trade_exemode`.
pub const TRADE_EXEMODE: i64 = 44;
/// `SymbolInfo.order_gtc_mode`.
pub const ORDER_GTC_MODE: i64 = 33;
/// `SymbolInfo.chart_mode`.
pub const CHART_MODE: i64 = 22;
/// `SymbolInfo.swap_rollover3days`.
pub const ROLLOVER_DAY: i64 = 12;
/// `SymbolInfo.option_mode`.
pub const OPTION_MODE: i64 = 66;
/// `SymbolInfo.option_right`.
pub const OPTION_RIGHT: i64 = 88;
/// `SymbolInfo.trade_mode` (with `trade_mode`).
pub const SYMBOL_TRADE_MODE: i64 = 9;
/// `SymbolInfo.filling_mode` (with `filling_mode`): a bit MT5 does not define, and no FOK, IOC or
/// BOC bit.
pub const FILLING_MODE: u32 = 16;
/// `AccountInfo.margin_so_mode`.
pub const MARGIN_SO_MODE: i64 = 14;
/// `AccountInfo.margin_mode`.
pub const MARGIN_MODE: i64 = 15;
/// `AccountInfo.trade_mode` (with `account_trade_mode`).
pub const ACCOUNT_TRADE_MODE: i64 = 13;

impl UnknownEnums {
    pub fn account(&self, a: &mut AccountInfo) {
        if self.shown {
            a.margin_so_mode = AccountStopoutMode::Unknown(MARGIN_SO_MODE);
            a.margin_mode = AccountMarginMode::Unknown(MARGIN_MODE);
        }
        if self.account_trade_mode {
            a.trade_mode = AccountTradeMode::Unknown(ACCOUNT_TRADE_MODE);
        }
    }

    pub fn symbol(&self, s: &mut SymbolInfo) {
        if self.shown {
            s.trade_calc_mode = SymbolCalcMode::Unknown(CALC_MODE);
            s.swap_mode = SymbolSwapMode::Unknown(SWAP_MODE);
            s.trade_exemode = SymbolTradeExecution::Unknown(TRADE_EXEMODE);
            s.order_gtc_mode = SymbolOrdersGtc::Unknown(ORDER_GTC_MODE);
            s.chart_mode = SymbolChartMode::Unknown(CHART_MODE);
            s.swap_rollover3days = DayOfWeek::Unknown(ROLLOVER_DAY);
            s.option_mode = SymbolOptionMode::Unknown(OPTION_MODE);
            s.option_right = SymbolOptionRight::Unknown(OPTION_RIGHT);
        }
        if self.trade_mode {
            s.trade_mode = SymbolTradeMode::Unknown(SYMBOL_TRADE_MODE);
        }
        if self.filling_mode {
            s.filling_mode = FILLING_MODE;
        }
    }

    pub fn position(&self, p: &mut TradePosition) {
        if self.shown {
            p.reason = PositionReason::Unknown(POSITION_REASON);
        }
    }

    /// An active order, or one from the history (`history`: its state may be rewritten).
    pub fn order(&self, o: &mut TradeOrder, history: bool) {
        if self.shown {
            o.reason = OrderReason::Unknown(ORDER_REASON);
        }
        if self.order_state && history && o.state == OrderState::Filled {
            o.state = OrderState::Unknown(ORDER_STATE);
        }
    }

    pub fn deal(&self, d: &mut TradeDeal) {
        if self.shown {
            d.reason = DealReason::Unknown(DEAL_REASON);
            if !matches!(d.r#type, DealType::Buy | DealType::Sell) {
                d.r#type = DealType::Unknown(DEAL_TYPE);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mt5::enums::Mt5Enum;

    #[test]
    fn the_integers_are_outside_the_lists_and_distinct() {
        assert_eq!(DealType::from_code(DEAL_TYPE), None);
        assert_eq!(DealReason::from_code(DEAL_REASON), None);
        assert_eq!(OrderReason::from_code(ORDER_REASON), None);
        assert_eq!(PositionReason::from_code(POSITION_REASON), None);
        assert_eq!(OrderState::from_code(ORDER_STATE), None);
        assert_eq!(SymbolCalcMode::from_code(CALC_MODE), None);
        assert_eq!(SymbolSwapMode::from_code(SWAP_MODE), None);
        assert_eq!(SymbolTradeExecution::from_code(TRADE_EXEMODE), None);
        assert_eq!(SymbolOrdersGtc::from_code(ORDER_GTC_MODE), None);
        assert_eq!(SymbolChartMode::from_code(CHART_MODE), None);
        assert_eq!(DayOfWeek::from_code(ROLLOVER_DAY), None);
        assert_eq!(SymbolOptionMode::from_code(OPTION_MODE), None);
        assert_eq!(SymbolOptionRight::from_code(OPTION_RIGHT), None);
        assert_eq!(SymbolTradeMode::from_code(SYMBOL_TRADE_MODE), None);
        assert_eq!(AccountStopoutMode::from_code(MARGIN_SO_MODE), None);
        assert_eq!(AccountMarginMode::from_code(MARGIN_MODE), None);
        assert_eq!(AccountTradeMode::from_code(ACCOUNT_TRADE_MODE), None);
        use mt5::filling_mode::{BOC, FOK, IOC};
        assert_eq!(FILLING_MODE & (FOK | IOC | BOC), 0);
        let mut all = vec![
            DEAL_TYPE,
            DEAL_REASON,
            ORDER_REASON,
            POSITION_REASON,
            ORDER_STATE,
            CALC_MODE,
            SWAP_MODE,
            TRADE_EXEMODE,
            ORDER_GTC_MODE,
            CHART_MODE,
            ROLLOVER_DAY,
            OPTION_MODE,
            OPTION_RIGHT,
            SYMBOL_TRADE_MODE,
            MARGIN_SO_MODE,
            MARGIN_MODE,
            ACCOUNT_TRADE_MODE,
        ];
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "each field has its own integer");
    }

    #[test]
    fn only_what_is_asked_for_is_rewritten() {
        let none = UnknownEnums::none();
        let mut deal = TradeDeal {
            r#type: DealType::Balance,
            ..Default::default()
        };
        none.deal(&mut deal);
        assert_eq!(
            (deal.r#type, deal.reason),
            (DealType::Balance, DealReason::Client)
        );
        let shown = UnknownEnums::shown();
        shown.deal(&mut deal);
        assert_eq!(
            (deal.r#type, deal.reason),
            (DealType::Unknown(57), DealReason::Unknown(99))
        );
        let mut trade = TradeDeal {
            r#type: DealType::Sell,
            ..Default::default()
        };
        shown.deal(&mut trade);
        assert_eq!(trade.r#type, DealType::Sell, "trade deals keep their type");

        let mut filled = TradeOrder {
            state: OrderState::Filled,
            ..Default::default()
        };
        shown.order(&mut filled, true);
        assert_eq!(filled.state, OrderState::Filled);
        let states = UnknownEnums {
            order_state: true,
            ..UnknownEnums::none()
        };
        let mut active = filled.clone();
        states.order(&mut active, false);
        assert_eq!(active.state, OrderState::Filled);
        states.order(&mut filled, true);
        assert_eq!(filled.state, OrderState::Unknown(17));
        let mut canceled = TradeOrder {
            state: OrderState::Canceled,
            ..Default::default()
        };
        states.order(&mut canceled, true);
        assert_eq!(canceled.state, OrderState::Canceled);

        let mut s = SymbolInfo {
            trade_mode: SymbolTradeMode::Full,
            filling_mode: 3,
            ..Default::default()
        };
        shown.symbol(&mut s);
        assert_eq!(s.trade_calc_mode, SymbolCalcMode::Unknown(77));
        assert_eq!((s.trade_mode, s.filling_mode), (SymbolTradeMode::Full, 3));
        UnknownEnums {
            trade_mode: true,
            filling_mode: true,
            ..UnknownEnums::none()
        }
        .symbol(&mut s);
        assert_eq!(
            (s.trade_mode, s.filling_mode),
            (SymbolTradeMode::Unknown(9), 16)
        );

        let mut a = AccountInfo::default();
        shown.account(&mut a);
        assert_eq!(a.trade_mode, AccountTradeMode::Demo);
        assert_eq!(a.margin_mode, AccountMarginMode::Unknown(15));
    }
}
