//! Account risk limits (`mt5_accounts.risk_limits`): the known keys and their validation.
//! The trading and algorithm layers enforce them; here they are parsed and checked.

use crate::error::{ApiError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod sizing;

/// The account's risk limits; an unset limit is absent (docs/algorithms.md).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskLimits {
    /// Fraction of the day's starting equity that may be lost in a day, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = f64, required = false, exclusive_minimum = 0, maximum = 1)]
    pub max_daily_loss: Option<f64>,
    /// Fraction of equity one trade may lose at its stop loss, in (0, 1].
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = f64, required = false, exclusive_minimum = 0, maximum = 1)]
    pub max_risk_per_trade: Option<f64>,
    /// Open positions the account may hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64, required = false, minimum = 1)]
    pub max_positions: Option<u64>,
    /// Lots one order may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = f64, required = false, exclusive_minimum = 0)]
    pub max_volume_per_trade: Option<f64>,
    /// The kill switch: `false` refuses every new order (`403 trading_disabled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
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
        Some(v) => match crate::fields::whole_u64(v) {
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

    /// The keys `parse` accepts are the documented ones.
    #[test]
    fn known_keys_are_the_schema_properties() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(RiskLimits::schema()).unwrap();
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.sort_unstable();
        let mut known = KNOWN.to_vec();
        known.sort_unstable();
        assert_eq!(documented, known);
    }

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

    fn stored_fields(v: Value) -> Vec<String> {
        match RiskLimits::stored(Some(&v)) {
            Err(ApiError::Validation(fields)) => fields.into_iter().map(|f| f.field).collect(),
            other => panic!("{v}: expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_deal_types_count_only_their_losses() {
        let deal = |t: mt5::DealType, profit: f64| mt5::TradeDeal {
            r#type: t,
            profit,
            commission: -1.0,
            ..Default::default()
        };
        assert_eq!(day_result(&deal(mt5::DealType::Sell, 10.0)), Some(9.0));
        assert_eq!(day_result(&deal(mt5::DealType::Balance, -50.0)), None);
        assert_eq!(day_result(&deal(mt5::DealType::Unknown(57), 1000.0)), None);
        assert_eq!(
            day_result(&deal(mt5::DealType::Unknown(57), -20.0)),
            Some(-21.0)
        );
    }

    #[test]
    fn stored_values_are_validated_again() {
        assert_eq!(RiskLimits::stored(None).unwrap(), RiskLimits::default());
        assert_eq!(
            RiskLimits::stored(Some(&Value::Null)).unwrap(),
            RiskLimits::default()
        );
        assert_eq!(
            RiskLimits::stored(Some(&json!({"max_positions": 3, "trading_enabled": false})))
                .unwrap(),
            RiskLimits {
                max_positions: Some(3),
                trading_enabled: Some(false),
                ..RiskLimits::default()
            }
        );
        // What a direct write can plant: wrong types, negative numbers, unknown keys, non-objects.
        for (planted, field) in [
            (
                json!({"max_positions": "lots"}),
                "risk_limits.max_positions",
            ),
            (json!({"max_positions": -5}), "risk_limits.max_positions"),
            (
                json!({"max_volume_per_trade": -0.1}),
                "risk_limits.max_volume_per_trade",
            ),
            (
                json!({"max_daily_loss": "5%"}),
                "risk_limits.max_daily_loss",
            ),
            (
                json!({"trading_enabled": "no"}),
                "risk_limits.trading_enabled",
            ),
            (json!({"max_lots": 1}), "risk_limits.max_lots"),
            (json!(-5), "risk_limits"),
            (json!("none"), "risk_limits"),
            (json!([1]), "risk_limits"),
        ] {
            assert_eq!(stored_fields(planted), vec![field]);
        }
    }
}

/// Why the risk checks refused an order: the limit and the numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRefusal {
    /// `max_daily_loss`, `max_risk_per_trade`, `max_positions`, `max_volume_per_trade`.
    pub limit: &'static str,
    pub message: String,
    pub details: serde_json::Value,
}

impl RiskLimits {
    /// An account's stored limits, validated again as on write: users may write their account
    /// rows directly (Supabase's Data API), past the API's checks. A bad stored value is a
    /// `validation_failed` naming the field (`risk_limits.<key>`, or `risk_limits` for a
    /// non-object), so nothing runs under limits the service cannot read. It is never taken as
    /// "no limit". NULL or absent means no limits.
    pub fn stored(value: Option<&Value>) -> Result<RiskLimits, ApiError> {
        match value {
            None | Some(Value::Null) => Ok(RiskLimits::default()),
            Some(v) => parse(v).map_err(|errors| {
                ApiError::Validation(
                    errors
                        .into_iter()
                        .map(|e| {
                            FieldError::new(
                                e.field,
                                format!(
                                    "the account's stored value is invalid ({}): set risk_limits \
                                     again with PUT /api/v1/accounts/{{account_id}}",
                                    e.message
                                ),
                            )
                        })
                        .collect(),
                )
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.max_daily_loss.is_none()
            && self.max_risk_per_trade.is_none()
            && self.max_positions.is_none()
            && self.max_volume_per_trade.is_none()
    }
}

/// Money lost if an order of `volume` opened at `entry` is closed at `sl`, in the account currency,
/// from MT5's loss-side tick value.
pub fn loss_at_sl(volume: f64, entry: f64, sl: f64, symbol: &mt5::SymbolInfo) -> f64 {
    if symbol.trade_tick_size <= 0.0 || !(entry.is_finite() && sl.is_finite() && volume.is_finite())
    {
        return f64::INFINITY;
    }
    let tick_value = if symbol.trade_tick_value_loss > 0.0 {
        symbol.trade_tick_value_loss
    } else {
        symbol.trade_tick_value
    };
    (entry - sl).abs() / symbol.trade_tick_size * tick_value * volume
}

/// What a deal adds to the day's realised result: a trade's profit, swap, commission and fee;
/// nothing for money moved in or out (balance, credit, bonus, ...). A deal type the service does
/// not know counts only when it loses money: it may be a charge or a trade, and counting its loss
/// can only make the limit stricter, while counting a gain it cannot explain (a deposit?) could
/// hide the day's losses.
fn day_result(d: &mt5::TradeDeal) -> Option<f64> {
    use mt5::DealType;
    let result = d.profit + d.swap + d.commission + d.fee;
    match d.r#type {
        DealType::Buy | DealType::Sell => Some(result),
        DealType::Unknown(_) => (result < 0.0).then_some(result),
        DealType::Balance
        | DealType::Credit
        | DealType::Charge
        | DealType::Correction
        | DealType::Bonus
        | DealType::Commission
        | DealType::CommissionDaily
        | DealType::CommissionMonthly
        | DealType::CommissionAgentDaily
        | DealType::CommissionAgentMonthly
        | DealType::Interest
        | DealType::BuyCanceled
        | DealType::SellCanceled
        | DealType::Dividend
        | DealType::DividendFranked
        | DealType::Tax => None,
    }
}

fn refusal(limit: &'static str, message: String, details: Value) -> Option<RiskRefusal> {
    Some(RiskRefusal {
        limit,
        message,
        details,
    })
}

/// What the account's limits are checked against at the moment of an order: read from the
/// terminal under the order's own lease when live ([`read_snapshot`]), filled by the backtester's
/// engine at simulated time. Only what the set limits need is read; the rest is left default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Equity, balance, floating profit, currency.
    pub account: mt5::AccountInfo,
    /// Every open position of the account.
    pub positions: Vec<mt5::TradePosition>,
    /// The broker day's realised result: deals since the server's midnight ([`day_realised`]).
    pub day_realised: f64,
    /// The trade server's time, in seconds (the day the realised result belongs to).
    pub server_time: i64,
    /// The ordered symbol's specification (its loss-side tick value prices the loss at SL).
    pub symbol: mt5::SymbolInfo,
}

/// What the limits in force need read for a check; None when nothing is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    pub positions: bool,
    /// Account info and the symbol (`max_risk_per_trade`, `max_daily_loss`).
    pub account: bool,
    /// The day's deals (`max_daily_loss`).
    pub day: bool,
}

impl Needs {
    pub fn of(limits: &RiskLimits, request_max_positions: Option<u64>) -> Option<Needs> {
        if limits.is_empty() && request_max_positions.is_none() {
            return None;
        }
        let account = limits.max_risk_per_trade.is_some() || limits.max_daily_loss.is_some();
        Some(Needs {
            positions: true,
            account,
            day: limits.max_daily_loss.is_some(),
        })
    }
}

/// The realised result of the broker day's deals (trades, swaps, commissions and fees; money moved
/// in or out does not count).
pub fn day_realised(deals: &[mt5::TradeDeal]) -> f64 {
    deals.iter().filter_map(day_result).sum()
}

/// Applies the account's risk limits (and a request's own `max_positions`) to a new order, as a
/// pure function of the moment's [`Snapshot`]: nothing here reads a clock or a terminal.
/// `max_daily_loss` counts the broker day's realised loss and the open floating loss against the
/// equity at the day's start (balance minus the day's realised result), plus this order's loss at
/// its SL when it has one.
pub fn check(
    limits: &RiskLimits,
    request_max_positions: Option<u64>,
    snapshot: &Snapshot,
    req: &mt5::TradeRequest,
) -> Option<RiskRefusal> {
    if let Some(r) = volume_refusal(limits, req) {
        return Some(r);
    }
    let open = snapshot.positions.len();
    for (name, max) in [
        ("max_positions", limits.max_positions),
        ("request max_positions", request_max_positions),
    ] {
        if let Some(max) = max {
            if open as u64 >= max {
                return refusal(
                    "max_positions",
                    format!("{open} open positions reach the {name} of {max}"),
                    serde_json::json!({"limit": "max_positions", "source": if name == "max_positions" { "account" } else { "request" }, "max": max, "open_positions": open}),
                );
            }
        }
    }
    let info = &snapshot.account;
    let loss = (req.sl > 0.0).then(|| loss_at_sl(req.volume, req.price, req.sl, &snapshot.symbol));
    if let Some(max) = limits.max_risk_per_trade {
        let Some(loss) = loss else {
            return refusal(
                "max_risk_per_trade",
                "an order without a stop loss is refused while max_risk_per_trade is set".into(),
                serde_json::json!({"limit": "max_risk_per_trade", "max": max, "sl": null}),
            );
        };
        let allowed = max * info.equity;
        if loss > allowed + 1e-9 {
            return refusal(
                "max_risk_per_trade",
                format!(
                    "the loss at SL, {loss:.2} {}, is above {allowed:.2} ({max} of equity)",
                    info.currency
                ),
                serde_json::json!({"limit": "max_risk_per_trade", "max": max, "equity": info.equity, "loss_at_sl": loss, "allowed_loss": allowed}),
            );
        }
    }
    if let Some(max) = limits.max_daily_loss {
        let realised = snapshot.day_realised;
        let start_equity = info.balance - realised;
        let day_loss = (-(realised + info.profit)).max(0.0);
        let projected = day_loss + loss.unwrap_or(0.0);
        let allowed = max * start_equity;
        if day_loss >= allowed || projected > allowed + 1e-9 {
            return refusal(
                "max_daily_loss",
                format!("the day's loss would reach {projected:.2} {} of the {allowed:.2} allowed ({max} of the day's starting equity)", info.currency),
                serde_json::json!({"limit": "max_daily_loss", "max": max, "day_start_equity": start_equity, "realised_today": realised, "floating": info.profit, "loss_at_sl": loss, "allowed_loss": allowed}),
            );
        }
    }
    None
}

fn volume_refusal(limits: &RiskLimits, req: &mt5::TradeRequest) -> Option<RiskRefusal> {
    let max = limits.max_volume_per_trade?;
    (req.volume > max + 1e-12).then(|| RiskRefusal {
        limit: "max_volume_per_trade",
        message: format!(
            "volume {} is above the account's max_volume_per_trade {max}",
            req.volume
        ),
        details: serde_json::json!({"limit": "max_volume_per_trade", "max": max, "volume": req.volume}),
    })
}

/// Reads what `needs` asks for from the terminal (under the caller's lease): the live venue's
/// [`Snapshot`]. The broker day starts at the server's midnight, from the terminal's clock offset.
pub async fn read_snapshot(
    t: &dyn mt5::Terminal,
    at: &mt5::Expected,
    needs: Needs,
    symbol: &str,
) -> Result<Snapshot, mt5::TerminalError> {
    let mut snap = Snapshot::default();
    if needs.positions {
        snap.positions = t.positions(at, &mt5::PositionFilter::All).await?;
    }
    if needs.account {
        snap.account = t.account_info(at).await?;
        snap.symbol = t.symbol_info(at, symbol).await?;
    }
    if needs.day {
        let offset = t.server_time_offset_s(at).await?;
        snap.server_time = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .saturating_add(offset);
        let day_start = snap.server_time - snap.server_time.rem_euclid(86_400);
        let deals = t
            .history_deals(
                at,
                &mt5::HistorySelect::Range {
                    from: day_start,
                    to: snap.server_time + 1,
                    group: None,
                },
            )
            .await?;
        snap.day_realised = day_realised(&deals);
    }
    Ok(snap)
}

/// The live risk stage: reads the snapshot the limits need from the terminal under the same lease
/// as the send, so the numbers are the ones the order meets, then [`check`]s. An order over
/// `max_volume_per_trade` is refused before anything is read.
pub async fn check_new_order(
    t: &dyn mt5::Terminal,
    at: &mt5::Expected,
    limits: &RiskLimits,
    req: &mt5::TradeRequest,
    request_max_positions: Option<u64>,
) -> Result<Option<RiskRefusal>, mt5::TerminalError> {
    let Some(needs) = Needs::of(limits, request_max_positions) else {
        return Ok(None);
    };
    if let Some(r) = volume_refusal(limits, req) {
        return Ok(Some(r));
    }
    let snapshot = read_snapshot(t, at, needs, &req.symbol).await?;
    Ok(check(limits, request_max_positions, &snapshot, req))
}

#[cfg(test)]
mod check_tests {
    use super::*;

    fn order(volume: f64, price: f64, sl: f64) -> mt5::TradeRequest {
        mt5::TradeRequest {
            symbol: "EURUSD".into(),
            volume,
            price,
            sl,
            ..Default::default()
        }
    }

    fn snapshot(open: usize, balance: f64, profit: f64, realised: f64) -> Snapshot {
        Snapshot {
            account: mt5::AccountInfo {
                balance,
                equity: balance + profit,
                profit,
                currency: "USD".into(),
                ..Default::default()
            },
            positions: vec![mt5::TradePosition::default(); open],
            day_realised: realised,
            server_time: 1_700_000_000,
            // EURUSD: a tick of 0.00001 is worth 1 USD per lot.
            symbol: mt5::SymbolInfo {
                trade_tick_size: 0.00001,
                trade_tick_value: 1.0,
                trade_tick_value_loss: 1.0,
                ..Default::default()
            },
        }
    }

    #[test]
    fn nothing_set_refuses_nothing() {
        assert_eq!(
            check(
                &RiskLimits::default(),
                None,
                &snapshot(99, 0.0, -1e9, -1e9),
                &order(100.0, 1.0, 0.0)
            ),
            None
        );
    }

    #[test]
    fn volume_and_positions() {
        let limits = RiskLimits {
            max_volume_per_trade: Some(1.0),
            max_positions: Some(3),
            ..Default::default()
        };
        let r = check(
            &limits,
            None,
            &snapshot(0, 1e4, 0.0, 0.0),
            &order(1.5, 1.1, 0.0),
        )
        .unwrap();
        assert_eq!(r.limit, "max_volume_per_trade");
        assert_eq!(
            check(
                &limits,
                None,
                &snapshot(2, 1e4, 0.0, 0.0),
                &order(1.0, 1.1, 0.0)
            ),
            None
        );
        let r = check(
            &limits,
            None,
            &snapshot(3, 1e4, 0.0, 0.0),
            &order(1.0, 1.1, 0.0),
        )
        .unwrap();
        assert_eq!(
            (r.limit, &r.details["source"]),
            ("max_positions", &serde_json::json!("account"))
        );
        // A request's own max_positions, with no account limit.
        let r = check(
            &RiskLimits::default(),
            Some(1),
            &snapshot(1, 1e4, 0.0, 0.0),
            &order(0.1, 1.1, 0.0),
        )
        .unwrap();
        assert_eq!(r.details["source"], "request");
    }

    #[test]
    fn risk_per_trade_prices_the_loss_at_the_stop() {
        let limits = RiskLimits {
            max_risk_per_trade: Some(0.01),
            ..Default::default()
        };
        // 1 lot, 100 points to the stop: 100 USD against 1% of 10,000 USD = 100 allowed.
        assert_eq!(
            check(
                &limits,
                None,
                &snapshot(0, 1e4, 0.0, 0.0),
                &order(1.0, 1.10000, 1.09900)
            ),
            None
        );
        let r = check(
            &limits,
            None,
            &snapshot(0, 1e4, 0.0, 0.0),
            &order(1.0, 1.10000, 1.09899),
        )
        .unwrap();
        assert_eq!(r.limit, "max_risk_per_trade");
        let r = check(
            &limits,
            None,
            &snapshot(0, 1e4, 0.0, 0.0),
            &order(1.0, 1.1, 0.0),
        )
        .unwrap();
        assert_eq!(r.details["sl"], serde_json::Value::Null);
    }

    #[test]
    fn the_day_counts_realised_floating_and_the_new_stop() {
        let limits = RiskLimits {
            max_daily_loss: Some(0.05),
            ..Default::default()
        };
        // The day started at 10,000 (balance 9,700 after -300 realised): 500 may be lost.
        let snap = snapshot(0, 9_700.0, -150.0, -300.0);
        assert_eq!(check(&limits, None, &snap, &order(0.1, 1.1, 0.0)), None);
        // 450 lost; a stop 60 USD away would make 510.
        let r = check(&limits, None, &snap, &order(0.6, 1.10000, 1.09900)).unwrap();
        assert_eq!(
            (r.limit, &r.details["allowed_loss"]),
            ("max_daily_loss", &serde_json::json!(500.0))
        );
        // Already at the limit: even an order without a stop is refused.
        let r = check(
            &limits,
            None,
            &snapshot(0, 9_700.0, -200.0, -300.0),
            &order(0.1, 1.1, 0.0),
        );
        assert_eq!(r.map(|r| r.limit), Some("max_daily_loss"));
        assert_eq!(day_realised(&[]), 0.0);
    }
}
