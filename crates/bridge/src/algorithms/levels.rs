//! The symbol's trade levels, checked before an algorithm sends anything (MT5_REFERENCE §8.4):
//! SL, TP and pending prices must lie more than `trade_stops_level` points from the market, and a
//! position whose SL or TP lies within `trade_freeze_level` points of the market may not be closed
//! or changed. A broker answers such a request with 10016 (invalid stops), 10015 (invalid price)
//! or 10029 (frozen); checking first keeps a plan the broker would refuse from being sent at all.
//!
//! Distances are counted in whole points (rounded from the price difference, never compared as
//! raw floats) and must be strictly greater than the level. MT5's own text says "≥" while
//! MetaQuotes' sample checks and the freeze-level table use ">"; brokers differ, and the quote
//! moves between this check and the broker's, so the stricter rule is the one that does not send
//! an order that a strict broker would refuse. A level of 0 still requires the right side of the
//! market (a stop at the price itself is always refused); a freeze level of 0 freezes nothing.

use mt5::{OrderType, PositionType, SymbolInfo};

/// Which rule a plan breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `trade_stops_level`: an SL, TP or pending price too close to the market, or on its wrong side.
    StopsLevel,
    /// `trade_freeze_level`: a position's SL or TP too close to the market to close or change it.
    FreezeLevel,
}

/// A level the broker would refuse, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: Rule,
    /// What is too close: `sl`, `tp` or `price`; `type` when the side is one the service does
    /// not know.
    pub field: &'static str,
    pub message: String,
}

impl Violation {
    /// The stable code: `stops_level` or `freeze_level`.
    pub fn code(&self) -> &'static str {
        match self.rule {
            Rule::StopsLevel => "stops_level",
            Rule::FreezeLevel => "freeze_level",
        }
    }

    /// As an algorithm run's `skipped` reason: `stops_level: SL 1.08100 is …`.
    pub fn reason(&self) -> String {
        format!("{}: {}", self.code(), self.message)
    }
}

/// Levels cannot be measured for a side the service does not know (a position type MT5 reported
/// outside its list): refused, never measured on a guessed side.
fn no_side(rule: Rule, what: impl std::fmt::Display) -> Violation {
    Violation {
        rule,
        field: "type",
        message: format!("{what} has no side the service knows to measure its levels from"),
    }
}

/// The market at the moment of the check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub bid: f64,
    pub ask: f64,
}

/// One point of the symbol (`10^-digits` when the symbol reports none).
fn point(info: &SymbolInfo) -> f64 {
    if info.point.is_finite() && info.point > 0.0 {
        info.point
    } else {
        mt5::util::PriceGrid::of_digits(info.digits).tick()
    }
}

/// `a − b` in whole points (saturating: a non-finite difference reads as "no distance").
fn points(info: &SymbolInfo, a: f64, b: f64) -> i64 {
    let d = ((a - b) / point(info)).round();
    if d.is_finite() {
        d as i64
    } else {
        0
    }
}

fn fmt(info: &SymbolInfo, price: f64) -> String {
    format!("{price:.prec$}", prec = info.digits.min(10) as usize)
}

/// A level `distance` points on its right side of `reference` (0 or less: at it, or on the wrong
/// side).
struct Gap<'a> {
    field: &'static str,
    level: f64,
    reference_name: &'a str,
    reference: f64,
    distance: i64,
}

fn stops_check(info: &SymbolInfo, gap: Gap<'_>, side_word: &str) -> Result<(), Violation> {
    let required = i64::from(info.trade_stops_level);
    if gap.distance > required {
        return Ok(());
    }
    let name = if gap.field == "price" {
        "price".to_string()
    } else {
        gap.field.to_uppercase()
    };
    let message = if gap.distance <= 0 {
        format!(
            "{name} {} is not {side_word} the {} {}",
            fmt(info, gap.level),
            gap.reference_name,
            fmt(info, gap.reference),
        )
    } else {
        format!(
            "{name} {} is {} points {side_word} the {} {}; the symbol's stops level needs more than {required}",
            fmt(info, gap.level),
            gap.distance,
            gap.reference_name,
            fmt(info, gap.reference),
        )
    };
    Err(Violation {
        rule: Rule::StopsLevel,
        field: gap.field,
        message,
    })
}

/// SL and TP (0 = none) of a position opened now on `side` by a market order: a buy's levels are
/// measured from the bid (where it closes), a sell's from the ask.
pub fn check_entry(
    info: &SymbolInfo,
    side: PositionType,
    q: Quote,
    sl: f64,
    tp: f64,
) -> Result<(), Violation> {
    let (reference_name, reference) = match side {
        PositionType::Buy => ("bid", q.bid),
        PositionType::Sell => ("ask", q.ask),
        PositionType::Unknown(_) => return Err(no_side(Rule::StopsLevel, format!("side {side}"))),
    };
    levels_from(info, side, reference_name, reference, sl, tp)
}

/// SL and TP measured from `reference` for a position (or order) on `side`.
fn levels_from(
    info: &SymbolInfo,
    side: PositionType,
    reference_name: &str,
    reference: f64,
    sl: f64,
    tp: f64,
) -> Result<(), Violation> {
    let sign = match side {
        PositionType::Buy => 1,
        PositionType::Sell => -1,
        PositionType::Unknown(_) => return Err(no_side(Rule::StopsLevel, format!("side {side}"))),
    };
    let (below, above) = if sign > 0 {
        ("below", "above")
    } else {
        ("above", "below")
    };
    if sl != 0.0 {
        let distance = sign * points(info, reference, sl);
        stops_check(
            info,
            Gap {
                field: "sl",
                level: sl,
                reference_name,
                reference,
                distance,
            },
            below,
        )?;
    }
    if tp != 0.0 {
        let distance = sign * points(info, tp, reference);
        stops_check(
            info,
            Gap {
                field: "tp",
                level: tp,
                reference_name,
                reference,
                distance,
            },
            above,
        )?;
    }
    Ok(())
}

/// A pending order: its price on the right side of the market (limits below the ask / above the
/// bid, stops above the ask / below the bid) and more than the stops level away, then its SL and
/// TP measured from the price it opens at (the stop-limit price for stop-limit orders).
pub fn check_pending(
    info: &SymbolInfo,
    order_type: OrderType,
    price: f64,
    stoplimit: f64,
    q: Quote,
    sl: f64,
    tp: f64,
) -> Result<(), Violation> {
    let (reference_name, reference, distance, word) = match order_type {
        OrderType::BuyLimit => ("ask", q.ask, points(info, q.ask, price), "below"),
        OrderType::SellLimit => ("bid", q.bid, points(info, price, q.bid), "above"),
        OrderType::BuyStop | OrderType::BuyStopLimit => {
            ("ask", q.ask, points(info, price, q.ask), "above")
        }
        OrderType::SellStop | OrderType::SellStopLimit => {
            ("bid", q.bid, points(info, q.bid, price), "below")
        }
        // A market order has no price to check here.
        _ => {
            return match order_type.side() {
                Some(side) => check_entry(info, side, q, sl, tp),
                None => Err(no_side(
                    Rule::StopsLevel,
                    format!("order type {order_type}"),
                )),
            }
        }
    };
    stops_check(
        info,
        Gap {
            field: "price",
            level: price,
            reference_name,
            reference,
            distance,
        },
        word,
    )?;
    let open = if order_type.is_stop_limit() {
        stoplimit
    } else {
        price
    };
    let Some(side) = order_type.side() else {
        return Err(no_side(
            Rule::StopsLevel,
            format!("order type {order_type}"),
        ));
    };
    levels_from(info, side, "open price", open, sl, tp)
}

/// Closing (or changing the SL/TP of) a position on `side` whose levels are `sl` and `tp`
/// (0 = none): refused while either lies within the freeze level of the price it closes at
/// (the bid for a buy, the ask for a sell), or already past it.
pub fn check_position_change(
    info: &SymbolInfo,
    side: PositionType,
    q: Quote,
    sl: f64,
    tp: f64,
) -> Result<(), Violation> {
    let freeze = i64::from(info.trade_freeze_level);
    if freeze == 0 {
        return Ok(());
    }
    let (reference_name, reference, sign) = match side {
        PositionType::Buy => ("bid", q.bid, 1),
        PositionType::Sell => ("ask", q.ask, -1),
        PositionType::Unknown(_) => {
            return Err(no_side(
                Rule::FreezeLevel,
                format!("a position of type {side}"),
            ))
        }
    };
    for (field, level, distance) in [
        ("sl", sl, sign * points(info, reference, sl)),
        ("tp", tp, sign * points(info, tp, reference)),
    ] {
        if level != 0.0 && distance <= freeze {
            return Err(Violation {
                rule: Rule::FreezeLevel,
                field,
                message: format!(
                    "the position's {} {} is {distance} points from the {reference_name} {}; \
                     the symbol's freeze level is {freeze} points, so the position cannot be \
                     closed or changed until the market moves away",
                    field.to_uppercase(),
                    fmt(info, level),
                    fmt(info, reference),
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index quoted with 2 digits, stops level 100 points (1.00), freeze level 40 (0.40).
    fn index() -> SymbolInfo {
        SymbolInfo {
            digits: 2,
            point: 0.01,
            trade_tick_size: 0.25,
            trade_stops_level: 100,
            trade_freeze_level: 40,
            ..SymbolInfo::default()
        }
    }

    const Q: Quote = Quote {
        bid: 5000.0,
        ask: 5000.5,
    };

    fn code(r: Result<(), Violation>) -> Option<(&'static str, &'static str)> {
        r.err().map(|v| (v.code(), v.field))
    }

    #[test]
    fn a_side_the_service_does_not_know_is_refused_not_guessed() {
        let s = index();
        let odd = PositionType::Unknown(5);
        assert_eq!(
            code(check_entry(&s, odd, Q, 4990.0, 0.0)),
            Some(("stops_level", "type"))
        );
        assert_eq!(
            code(check_position_change(&s, odd, Q, 4990.0, 0.0)),
            Some(("freeze_level", "type"))
        );
        assert_eq!(
            code(check_pending(
                &s,
                OrderType::Unknown(12),
                4990.0,
                0.0,
                Q,
                0.0,
                0.0
            )),
            Some(("stops_level", "type"))
        );
    }

    #[test]
    fn entries_keep_their_stops_outside_the_stops_level() {
        let s = index();
        // A buy is measured from the bid: 101 points below passes, exactly 100 does not.
        assert_eq!(
            code(check_entry(&s, PositionType::Buy, Q, 4998.99, 0.0)),
            None
        );
        assert_eq!(
            code(check_entry(&s, PositionType::Buy, Q, 4999.0, 0.0)),
            Some(("stops_level", "sl"))
        );
        assert_eq!(
            code(check_entry(&s, PositionType::Buy, Q, 4998.0, 5000.75)),
            Some(("stops_level", "tp"))
        );
        assert_eq!(
            code(check_entry(&s, PositionType::Buy, Q, 4998.0, 5001.25)),
            None
        );
        // A sell from the ask: the SL above, the TP below.
        assert_eq!(
            code(check_entry(&s, PositionType::Sell, Q, 5001.75, 4999.25)),
            None
        );
        assert_eq!(
            code(check_entry(&s, PositionType::Sell, Q, 5001.0, 0.0)),
            Some(("stops_level", "sl"))
        );
        // The wrong side is refused whatever the level, and said so.
        let free = SymbolInfo {
            trade_stops_level: 0,
            ..index()
        };
        let v = check_entry(&free, PositionType::Buy, Q, 5000.25, 0.0).unwrap_err();
        assert_eq!(
            v.reason(),
            "stops_level: SL 5000.25 is not below the bid 5000.00"
        );
        assert_eq!(
            code(check_entry(&free, PositionType::Buy, Q, 5000.0, 0.0)),
            Some(("stops_level", "sl")),
            "a stop at the price itself"
        );
        assert_eq!(
            code(check_entry(&free, PositionType::Buy, Q, 4999.99, 0.0)),
            None
        );
        let v = check_entry(&s, PositionType::Buy, Q, 4999.5, 0.0).unwrap_err();
        assert_eq!(
            v.reason(),
            "stops_level: SL 4999.50 is 50 points below the bid 5000.00; the symbol's stops \
             level needs more than 100"
        );
    }

    #[test]
    fn pending_prices_and_their_stops() {
        let s = index();
        let check = |t, price, sl, tp| code(check_pending(&s, t, price, 0.0, Q, sl, tp));
        assert_eq!(check(OrderType::BuyLimit, 4999.0, 0.0, 0.0), None);
        assert_eq!(
            check(OrderType::BuyLimit, 4999.75, 0.0, 0.0),
            Some(("stops_level", "price"))
        );
        assert_eq!(
            check(OrderType::BuyLimit, 5001.0, 0.0, 0.0),
            Some(("stops_level", "price")),
            "above the ask"
        );
        assert_eq!(check(OrderType::SellLimit, 5001.25, 0.0, 0.0), None);
        assert_eq!(check(OrderType::BuyStop, 5001.75, 0.0, 0.0), None);
        assert_eq!(
            check(OrderType::SellStop, 4999.5, 0.0, 0.0),
            Some(("stops_level", "price"))
        );
        // SL and TP from the open price.
        assert_eq!(
            check(OrderType::BuyLimit, 4990.0, 4989.5, 0.0),
            Some(("stops_level", "sl"))
        );
        assert_eq!(check(OrderType::BuyLimit, 4990.0, 4988.75, 4991.25), None);
        assert_eq!(
            check(OrderType::SellStop, 4990.0, 4990.75, 0.0),
            Some(("stops_level", "sl"))
        );
        // A stop-limit's levels are measured from its limit price.
        assert_eq!(
            code(check_pending(
                &s,
                OrderType::BuyStopLimit,
                5010.0,
                5005.0,
                Q,
                5004.5,
                0.0
            )),
            Some(("stops_level", "sl"))
        );
    }

    #[test]
    fn positions_freeze_near_their_levels() {
        let s = index();
        // A buy closes at the bid 5000.00: its SL 0.40 below is frozen, 0.41 is not.
        assert_eq!(
            code(check_position_change(&s, PositionType::Buy, Q, 4999.6, 0.0)),
            Some(("freeze_level", "sl"))
        );
        assert_eq!(
            code(check_position_change(
                &s,
                PositionType::Buy,
                Q,
                4999.59,
                0.0
            )),
            None
        );
        assert_eq!(
            code(check_position_change(
                &s,
                PositionType::Buy,
                Q,
                0.0,
                5000.25
            )),
            Some(("freeze_level", "tp"))
        );
        // A sell closes at the ask 5000.50.
        assert_eq!(
            code(check_position_change(
                &s,
                PositionType::Sell,
                Q,
                5000.75,
                0.0
            )),
            Some(("freeze_level", "sl"))
        );
        assert_eq!(
            code(check_position_change(
                &s,
                PositionType::Sell,
                Q,
                5001.0,
                4999.0
            )),
            None
        );
        // No levels, or no freeze level: nothing is frozen.
        assert_eq!(
            code(check_position_change(&s, PositionType::Buy, Q, 0.0, 0.0)),
            None
        );
        let unfrozen = SymbolInfo {
            trade_freeze_level: 0,
            ..index()
        };
        assert_eq!(
            code(check_position_change(
                &unfrozen,
                PositionType::Buy,
                Q,
                4999.99,
                0.0
            )),
            None
        );
        let v = check_position_change(&s, PositionType::Buy, Q, 4999.75, 0.0).unwrap_err();
        assert!(
            v.reason().starts_with(
                "freeze_level: the position's SL 4999.75 is 25 points from the bid 5000.00"
            ),
            "{}",
            v.reason()
        );
    }
}
