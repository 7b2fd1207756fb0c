//! What a backtest was asked to do, as stored (the normalized request), and what it costs.
//!
//! A submission is checked whole before it is stored: the strategy's parameters (each
//! combination of a sweep, validated as `/algorithms/execute` validates them), the window and the
//! costs. Nothing is read from a terminal then: an unknown symbol fails the job when it starts.

use super::run::{Model, Spread};
use crate::error::{ApiError, FieldError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Combinations a sweep may have.
pub const MAX_COMBINATIONS: usize = 256;

/// The report fields a sweep may be ranked by, each "higher is better" but the drawdowns.
pub const RANK_METRICS: &[&str] = &[
    "net_profit",
    "profit_factor",
    "expected_payoff",
    "recovery_factor",
    "sharpe_ratio",
    "win_rate",
    "total_trades",
    "max_drawdown_balance",
    "max_drawdown_balance_pct",
    "max_drawdown_equity",
    "max_drawdown_equity_pct",
];

/// Whether a metric ranks lowest first.
pub fn lower_is_better(metric: &str) -> bool {
    metric.starts_with("max_drawdown")
}

/// How the spread is charged, as the request names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpreadMode {
    Bar,
    Fixed,
    Larger,
}

/// The simulated account's terms, read from the real account when the first unit starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountTerms {
    pub currency: String,
    pub leverage: u32,
    pub margin_mode: mt5::AccountMarginMode,
    pub margin_so_mode: mt5::AccountStopoutMode,
    pub margin_so_call: f64,
    pub margin_so_so: f64,
    /// The trade server as `account_info().server` reports it (the bar cache's key).
    pub server: String,
}

/// The normalized request, stored with the backtest and shown in `request`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// A built-in strategy's name or a saved configuration's id, as submitted.
    pub algorithm_id: String,
    /// The strategy the parameters are for (a configuration's kind, copied at submission).
    pub kind: String,
    /// The parameters every combination starts from (a configuration's, overridden by the
    /// request's), as validated.
    pub parameters: Map<String, Value>,
    /// A sweep's grid: parameter → the values it takes (absent for a plain backtest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_by: Option<String>,
    /// UTC epoch seconds.
    pub from: i64,
    pub to: i64,
    pub model: Model,
    /// Absent until the job starts: then the account's balance when not given.
    #[serde(default)]
    pub initial_deposit: Option<f64>,
    pub spread: SpreadMode,
    #[serde(default)]
    pub spread_points: u32,
    pub commission_per_lot: f64,
    pub slippage_points: u32,
    /// Filled in when the first unit starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<AccountTerms>,
    /// The trade server's clock minus UTC when the job started (seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_offset_s: Option<i64>,
    /// A backtest of a bot over its live period: the bot and its magic number (its live trades
    /// are compared with the backtest's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<BotRef>,
}

/// The bot a backtest replays.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BotRef {
    pub id: uuid::Uuid,
    pub magic: i64,
}

impl Spec {
    pub fn spread(&self) -> Spread {
        match self.spread {
            SpreadMode::Bar => Spread::Bar,
            SpreadMode::Fixed => Spread::Fixed(self.spread_points),
            SpreadMode::Larger => Spread::Larger(self.spread_points),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    pub fn from_value(v: &Value) -> Result<Spec, ApiError> {
        serde_json::from_value(v.clone())
            .map_err(|e| ApiError::Internal(format!("stored backtest request: {e}")))
    }
}

/// The combinations of `base` and a sweep's grid, in the grid's order (the last key varies
/// fastest). A grid value that is not a non-empty array, or a product over
/// [`MAX_COMBINATIONS`], is an error naming `sweep` or `sweep.<key>`.
pub fn combinations(
    base: &Map<String, Value>,
    sweep: Option<&Map<String, Value>>,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let Some(sweep) = sweep.filter(|s| !s.is_empty()) else {
        return Ok(vec![base.clone()]);
    };
    let mut errors = Vec::new();
    let mut product: usize = 1;
    for (key, values) in sweep {
        match values.as_array() {
            Some(a) if !a.is_empty() && a.len() <= MAX_COMBINATIONS => {
                product = product.saturating_mul(a.len());
            }
            _ => errors.push(FieldError::new(
                format!("sweep.{key}"),
                format!("must be an array of 1 to {MAX_COMBINATIONS} values"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if product > MAX_COMBINATIONS {
        return Err(ApiError::combination(
            "sweep",
            format!("the grid has {product} combinations; at most {MAX_COMBINATIONS}"),
        ));
    }
    let mut out = vec![base.clone()];
    for (key, values) in sweep {
        let values = values.as_array().cloned().unwrap_or_default();
        out = out
            .into_iter()
            .flat_map(|p| {
                values.iter().map(move |v| {
                    let mut p = p.clone();
                    p.insert(key.clone(), v.clone());
                    p
                })
            })
            .collect();
    }
    Ok(out)
}

/// Bar-evaluations a backtest costs: the bars of its window (M1 bars for `m1_ohlc`, whose path
/// walks them) times its combinations. Windows are counted as whole calendar time, so a broker's
/// weekends make the estimate high, never low.
pub fn work(spec_window_s: i64, timeframe: mt5::Timeframe, model: Model, combos: usize) -> u64 {
    let bar_s = match model {
        Model::M1Ohlc => 60,
        Model::OpenPrices => timeframe.seconds().unwrap_or(30 * 86_400),
    }
    .max(60);
    let bars = (spec_window_s.max(0) / bar_s).max(1) as u64;
    bars.saturating_mul(combos as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_grid_expands_to_every_combination_in_order() {
        let base = json!({"symbol": "EURUSD", "fast_period": 5})
            .as_object()
            .cloned()
            .unwrap();
        let sweep = json!({"fast_period": [5, 10], "slow_period": [20, 30, 40]})
            .as_object()
            .cloned()
            .unwrap();
        let c = combinations(&base, Some(&sweep)).unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c[0]["fast_period"], 5);
        assert_eq!(c[0]["slow_period"], 20);
        assert_eq!(c[1]["slow_period"], 30);
        assert_eq!(c[5]["fast_period"], 10);
        assert_eq!(c[5]["slow_period"], 40);
        assert!(c.iter().all(|p| p["symbol"] == "EURUSD"));
        assert_eq!(combinations(&base, None).unwrap(), vec![base.clone()]);
    }

    #[test]
    fn grids_over_the_cap_or_with_empty_axes_are_refused() {
        let base = Map::new();
        let big: Vec<u32> = (0..17).collect();
        let sweep = json!({"a": big, "b": big}).as_object().cloned().unwrap();
        let e = combinations(&base, Some(&sweep)).unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_combination");
        let sweep = json!({"a": [], "b": 3}).as_object().cloned().unwrap();
        match combinations(&base, Some(&sweep)).unwrap_err() {
            ApiError::Validation(f) => {
                let names: Vec<_> = f.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(names, ["sweep.a", "sweep.b"]);
            }
            other => panic!("{other:?}"),
        }
        // 16 × 16 = 256 is allowed.
        let ok: Vec<u32> = (0..16).collect();
        let sweep = json!({"a": ok, "b": ok}).as_object().cloned().unwrap();
        assert_eq!(combinations(&base, Some(&sweep)).unwrap().len(), 256);
    }

    #[test]
    fn the_default_budget_admits_a_year_sweep_and_ten_decades_a_day() {
        let year = 365 * 86_400;
        let sweep = work(
            year,
            mt5::Timeframe::M1,
            Model::OpenPrices,
            MAX_COMBINATIONS,
        );
        // Ten years with their leap days.
        let decade = work(
            10 * year + 3 * 86_400,
            mt5::Timeframe::M1,
            Model::OpenPrices,
            1,
        );
        let budget = crate::backtest::handle::BacktestSettings::default().work_per_day;
        assert!(
            sweep + 10 * decade <= budget,
            "{sweep} + 10 × {decade} > {budget}"
        );
        // And the 429 answer's limit (a u32) can name it.
        assert!(budget <= u64::from(u32::MAX));
    }

    #[test]
    fn work_counts_bars_times_combinations() {
        let year = 365 * 86_400;
        assert_eq!(
            work(year, mt5::Timeframe::M1, Model::OpenPrices, 1),
            525_600
        );
        assert_eq!(
            work(year, mt5::Timeframe::H1, Model::OpenPrices, 2),
            2 * 8_760
        );
        assert_eq!(work(year, mt5::Timeframe::H1, Model::M1Ohlc, 1), 525_600);
    }
}
