//! Built-in symbols with the contract specifications a retail MT5 broker publishes.
//!
//! Forex majors copy MetaQuotes-Demo (contract 100000, 0.01–500 lots, FOK|IOC, no stops or freeze
//! level on EURUSD). A few symbols deliberately carry the restrictions real brokers impose (stops and
//! freeze levels, a volume limit, FOK-only filling, a tick size coarser than the point) so that every
//! trade rule of the engine has a symbol on which it can be exercised.

use crate::market::SymbolSpec;
use mt5::{
    expiration_mode, filling_mode, order_mode, DayOfWeek, SymbolCalcMode, SymbolChartMode,
    SymbolInfo, SymbolOrdersGtc, SymbolSwapMode, SymbolTradeExecution, SymbolTradeMode,
};

/// The parts that differ between the built-in symbols; everything else is common to all of them.
struct Def {
    name: &'static str,
    description: &'static str,
    group: &'static str,
    base: &'static str,
    profit: &'static str,
    margin: &'static str,
    calc_mode: SymbolCalcMode,
    digits: u32,
    /// `trade_tick_size`; `None` = one point.
    tick_size: Option<f64>,
    contract: f64,
    volume_min: f64,
    volume_max: f64,
    volume_step: f64,
    volume_limit: f64,
    stops_level: u32,
    freeze_level: u32,
    filling: u32,
    swap_long: f64,
    swap_short: f64,
    spread_points: i32,
    base_price: f64,
    volatility: f64,
}

impl Def {
    #[allow(clippy::too_many_arguments)] // reason: one row of the forex table reads best as a call
    fn forex(
        name: &'static str,
        description: &'static str,
        digits: u32,
        spread_points: i32,
        base_price: f64,
        volatility: f64,
        swap_long: f64,
        swap_short: f64,
    ) -> Def {
        let (base, profit) = name.split_at(3);
        Def {
            name,
            description,
            group: "Forex",
            base,
            profit,
            margin: base,
            calc_mode: SymbolCalcMode::Forex,
            digits,
            tick_size: None,
            contract: 100_000.0,
            volume_min: 0.01,
            volume_max: 500.0,
            volume_step: 0.01,
            volume_limit: 0.0,
            stops_level: 0,
            freeze_level: 0,
            filling: filling_mode::FOK | filling_mode::IOC,
            swap_long,
            swap_short,
            spread_points,
            base_price,
            volatility,
        }
    }

    fn build(self) -> SymbolSpec {
        let point = 10f64.powi(-(self.digits as i32));
        let info = SymbolInfo {
            custom: false,
            chart_mode: SymbolChartMode::Bid,
            select: true,
            visible: true,
            digits: self.digits,
            spread: self.spread_points,
            spread_float: true,
            trade_calc_mode: self.calc_mode,
            trade_mode: SymbolTradeMode::Full,
            trade_stops_level: self.stops_level,
            trade_freeze_level: self.freeze_level,
            trade_exemode: SymbolTradeExecution::Market,
            swap_mode: SymbolSwapMode::Points,
            swap_rollover3days: DayOfWeek::Wednesday,
            margin_hedged_use_leg: false,
            expiration_mode: expiration_mode::GTC
                | expiration_mode::DAY
                | expiration_mode::SPECIFIED
                | expiration_mode::SPECIFIED_DAY,
            filling_mode: self.filling,
            order_mode: order_mode::ALL,
            order_gtc_mode: SymbolOrdersGtc::Gtc,
            point,
            trade_tick_size: self.tick_size.unwrap_or(point),
            trade_contract_size: self.contract,
            volume_min: self.volume_min,
            volume_max: self.volume_max,
            volume_step: self.volume_step,
            volume_limit: self.volume_limit,
            swap_long: self.swap_long,
            swap_short: self.swap_short,
            // Hedged (opposite) volume is charged like one leg, as on MetaQuotes-Demo.
            margin_hedged: self.contract,
            currency_base: self.base.to_string(),
            currency_profit: self.profit.to_string(),
            currency_margin: self.margin.to_string(),
            description: self.description.to_string(),
            name: self.name.to_string(),
            path: format!("{}\\{}", self.group, self.name),
            ..SymbolInfo::default()
        };
        SymbolSpec {
            info,
            base_price: self.base_price,
            volatility: self.volatility,
            spread_points: self.spread_points,
            sessions: Vec::new(),
        }
    }
}

/// The simulator's symbols: EURUSD, GBPUSD, USDJPY, USDCHF, EURJPY, XAUUSD, US500 and US100.
///
/// Restrictions worth knowing when testing trade rules:
/// - EURUSD: stops level 0, freeze level 0 (as MetaQuotes-Demo).
/// - GBPUSD: stops level 10 points, freeze level 5 points.
/// - XAUUSD: stops level 50 points, freeze level 10 points; 0.01–100 lots of 100 oz.
/// - US500: FOK filling only, volume limit 50 lots, 0.1–100 lots of 1 index unit.
/// - US100: prices in ticks of 0.25 with 2 digits (as the Nasdaq-100 future: a price such as
///   18000.10 is refused), stops level 100 points (1.00), freeze level 50 points (0.50).
pub fn builtin_symbols() -> Vec<SymbolSpec> {
    let mut gbpusd = Def::forex(
        "GBPUSD",
        "Great Britain Pound vs US Dollar",
        5,
        15,
        1.27,
        0.08,
        -4.5,
        0.6,
    );
    gbpusd.stops_level = 10;
    gbpusd.freeze_level = 5;

    let xauusd = Def {
        name: "XAUUSD",
        description: "Gold vs US Dollar",
        group: "Metals",
        base: "XAU",
        profit: "USD",
        margin: "USD",
        calc_mode: SymbolCalcMode::CfdLeverage,
        digits: 2,
        tick_size: None,
        contract: 100.0,
        volume_min: 0.01,
        volume_max: 100.0,
        volume_step: 0.01,
        volume_limit: 0.0,
        stops_level: 50,
        freeze_level: 10,
        filling: filling_mode::FOK | filling_mode::IOC,
        swap_long: -45.0,
        swap_short: 20.0,
        spread_points: 30,
        base_price: 2300.0,
        volatility: 0.15,
    };

    let us500 = Def {
        name: "US500",
        description: "US 500 Cash Index",
        group: "Indices",
        base: "USD",
        profit: "USD",
        margin: "USD",
        calc_mode: SymbolCalcMode::Cfd,
        digits: 2,
        tick_size: None,
        contract: 1.0,
        volume_min: 0.1,
        volume_max: 100.0,
        volume_step: 0.1,
        volume_limit: 50.0,
        stops_level: 0,
        freeze_level: 0,
        filling: filling_mode::FOK,
        swap_long: -60.0,
        swap_short: -25.0,
        spread_points: 50,
        base_price: 5000.0,
        volatility: 0.18,
    };

    // An index whose tick (0.25) is 25 points: prices on `digits` alone are not enough.
    let us100 = Def {
        name: "US100",
        description: "US Tech 100 Cash Index",
        group: "Indices",
        base: "USD",
        profit: "USD",
        margin: "USD",
        calc_mode: SymbolCalcMode::CfdLeverage,
        digits: 2,
        tick_size: Some(0.25),
        contract: 1.0,
        volume_min: 0.1,
        volume_max: 100.0,
        volume_step: 0.1,
        volume_limit: 0.0,
        stops_level: 100,
        freeze_level: 50,
        filling: filling_mode::FOK | filling_mode::IOC,
        swap_long: -80.0,
        swap_short: -30.0,
        // Four ticks, so the ask stays on the tick grid.
        spread_points: 100,
        base_price: 18_000.0,
        volatility: 0.2,
    };

    vec![
        Def::forex("EURUSD", "Euro vs US Dollar", 5, 10, 1.08, 0.07, -7.2, 2.1).build(),
        gbpusd.build(),
        Def::forex(
            "USDJPY",
            "US Dollar vs Japanese Yen",
            3,
            12,
            150.0,
            0.10,
            14.5,
            -30.8,
        )
        .build(),
        Def::forex(
            "USDCHF",
            "US Dollar vs Swiss Franc",
            5,
            15,
            0.88,
            0.07,
            6.3,
            -13.4,
        )
        .build(),
        Def::forex(
            "EURJPY",
            "Euro vs Japanese Yen",
            3,
            17,
            162.0,
            0.10,
            -0.2,
            -1.2,
        )
        .build(),
        xauusd.build(),
        us500.build(),
        us100.build(),
    ]
}

/// One built-in symbol by its exact (case-sensitive) name.
pub fn builtin_symbol(name: &str) -> Option<SymbolSpec> {
    builtin_symbols().into_iter().find(|s| s.info.name == name)
}

/// Finds a symbol by its exact (case-sensitive) name in a list.
pub fn symbol_by_name<'a>(symbols: &'a [SymbolSpec], name: &str) -> Option<&'a SymbolSpec> {
    symbols.iter().find(|s| s.info.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_match_metaquotes_demo() {
        let syms = builtin_symbols();
        for name in ["EURUSD", "GBPUSD", "USDJPY", "USDCHF", "EURJPY"] {
            let s = &symbol_by_name(&syms, name).unwrap().info;
            assert_eq!(s.trade_contract_size, 100_000.0, "{name}");
            assert_eq!(s.volume_min, 0.01, "{name}");
            assert_eq!(s.volume_max, 500.0, "{name}");
            assert_eq!(s.volume_step, 0.01, "{name}");
            assert_eq!(s.volume_limit, 0.0, "{name}");
            assert_eq!(s.filling_mode, 3, "{name}");
            assert_eq!(s.margin_hedged, 100_000.0, "{name}");
            assert_eq!(s.trade_calc_mode, SymbolCalcMode::Forex, "{name}");
            let digits = if name.ends_with("JPY") { 3 } else { 5 };
            assert_eq!(s.digits, digits, "{name}");
            assert_eq!(s.path, format!("Forex\\{name}"));
            assert_eq!(s.currency_base, &name[..3]);
            assert_eq!(s.currency_profit, &name[3..]);
            assert_eq!(s.currency_margin, &name[..3]);
        }
        let eurusd = builtin_symbol("EURUSD").unwrap().info;
        assert_eq!(eurusd.point, 0.00001);
        assert_eq!(eurusd.trade_tick_size, 0.00001);
        assert_eq!(eurusd.trade_stops_level, 0);
        assert_eq!(eurusd.trade_freeze_level, 0);
        assert_eq!(builtin_symbol("USDJPY").unwrap().info.point, 0.001);
    }

    #[test]
    fn common_fields_are_filled() {
        for spec in builtin_symbols() {
            let s = &spec.info;
            assert_eq!(s.expiration_mode, 15, "{}", s.name);
            assert_eq!(s.order_mode, 127, "{}", s.name);
            assert_eq!(s.trade_mode, SymbolTradeMode::Full);
            assert_eq!(s.trade_exemode, SymbolTradeExecution::Market);
            assert_eq!(s.swap_rollover3days, DayOfWeek::Wednesday);
            assert_eq!(s.order_gtc_mode, SymbolOrdersGtc::Gtc);
            assert_eq!(s.chart_mode, SymbolChartMode::Bid);
            assert!(s.select && s.visible && s.spread_float);
            assert_eq!(s.spread, spec.spread_points);
            assert!(spec.spread_points > 0);
            assert!(spec.sessions.is_empty());
            assert!(spec.base_price > 0.0);
            assert!((0.05..=0.2).contains(&spec.volatility));
            assert!(!s.description.is_empty() && s.path.ends_with(&s.name));
            assert_eq!(s.bid, 0.0);
        }
    }

    #[test]
    fn restricted_symbols_exist_for_the_trade_rules() {
        let xau = builtin_symbol("XAUUSD").unwrap().info;
        assert_eq!((xau.trade_stops_level, xau.trade_freeze_level), (50, 10));
        assert_eq!((xau.digits, xau.trade_contract_size), (2, 100.0));
        assert_eq!(
            (xau.volume_min, xau.volume_max, xau.volume_step),
            (0.01, 100.0, 0.01)
        );
        let gbp = builtin_symbol("GBPUSD").unwrap().info;
        assert_eq!((gbp.trade_stops_level, gbp.trade_freeze_level), (10, 5));
        let us500 = builtin_symbol("US500").unwrap().info;
        assert_eq!(us500.filling_mode, filling_mode::FOK);
        assert_eq!(us500.volume_limit, 50.0);
        assert_eq!((us500.volume_min, us500.volume_step), (0.1, 0.1));
        let us100 = builtin_symbol("US100").unwrap().info;
        assert_eq!(
            (us100.digits, us100.point, us100.trade_tick_size),
            (2, 0.01, 0.25)
        );
        assert_eq!(
            (us100.trade_stops_level, us100.trade_freeze_level),
            (100, 50)
        );
        // Every other symbol moves in points.
        for s in builtin_symbols().iter().filter(|s| s.info.name != "US100") {
            assert_eq!(s.info.trade_tick_size, s.info.point, "{}", s.info.name);
        }
        assert!(builtin_symbol("eurusd").is_none());
    }
}
