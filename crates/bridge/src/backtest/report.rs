//! The report of a trading record, as MetaTrader 5's Strategy Tester reports one: one code for
//! backtests and for live accounts (built from their deals). Pure: trades and a balance/equity
//! curve in, numbers out. docs/backtests.md gives every formula.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A closed trade (a round trip): what `GET /api/v1/backtests/{id}/trades` lists.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Trade {
    /// Entry time, UTC seconds.
    pub time: i64,
    #[serde(rename = "type")]
    pub side: mt5::PositionType,
    pub volume: f64,
    pub price_open: f64,
    pub time_close: i64,
    pub price_close: f64,
    pub sl: f64,
    pub tp: f64,
    /// In the account currency, costs excluded.
    pub profit: f64,
    pub swap: f64,
    /// Entry and exit commissions together (negative: charged).
    pub commission: f64,
    /// What the spread cost this trade (positive: a cost), included in `profit`.
    #[serde(skip)]
    pub spread_cost: f64,
    /// What slippage cost this trade (positive: a cost), included in `profit`.
    #[serde(skip)]
    pub slippage_cost: f64,
}

impl Trade {
    /// What the trade added to the balance: profit, swap and commission.
    pub fn net(&self) -> f64 {
        self.profit + self.swap + self.commission
    }
}

/// One bucket of the balance and equity curve: the balance at its end and the equity's lowest,
/// highest and last value within it (so a drawdown inside a bucket is kept).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct CurvePoint {
    /// The bucket's start, UTC seconds.
    pub time: i64,
    pub balance: f64,
    pub equity: f64,
    pub equity_min: f64,
    pub equity_max: f64,
}

/// Costs broken down, each a positive amount paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Costs {
    pub spread: f64,
    pub commission: f64,
    pub swap: f64,
    pub slippage: f64,
}

/// The report's numbers (docs/backtests.md#report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Report {
    pub initial_deposit: f64,
    /// Gross profit plus gross loss: every trade's profit, swap and commission.
    pub net_profit: f64,
    /// The sum of the winning trades' results.
    pub gross_profit: f64,
    /// The sum of the losing trades' results (zero or negative).
    pub gross_loss: f64,
    /// Gross profit over the gross loss's size; null without a losing trade.
    #[schema(required = true)]
    pub profit_factor: Option<f64>,
    /// Net profit per trade; null without trades.
    #[schema(required = true)]
    pub expected_payoff: Option<f64>,
    /// The largest fall of the balance from a peak, in money.
    pub max_drawdown_balance: f64,
    /// The same fall as a percentage of that peak.
    pub max_drawdown_balance_pct: f64,
    /// The largest fall of the equity from a peak (the curve's lowest and highest points).
    pub max_drawdown_equity: f64,
    pub max_drawdown_equity_pct: f64,
    /// Net profit over the maximal equity drawdown; null when there was none.
    #[schema(required = true)]
    pub recovery_factor: Option<f64>,
    /// The mean of the trades' returns (result over the balance before the trade) over their
    /// standard deviation; not annualised; null with fewer than two trades or no variation.
    #[schema(required = true)]
    pub sharpe_ratio: Option<f64>,
    pub total_trades: u64,
    /// Winning trades over all trades (0 to 1); null without trades.
    #[schema(required = true)]
    pub win_rate: Option<f64>,
    pub largest_win: f64,
    /// Zero or negative.
    pub largest_loss: f64,
    pub average_win: f64,
    pub average_loss: f64,
    pub longest_winning_streak: u64,
    pub longest_losing_streak: u64,
    pub costs: Costs,
}

/// The largest fall from a running peak over the values in order, in money, and as a
/// percentage of the peak it fell from (MT5's "maximal drawdown": the first such fall when two
/// are equal).
pub fn max_drawdown(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let mut peak = f64::NEG_INFINITY;
    let (mut money, mut pct) = (0.0_f64, 0.0_f64);
    for v in values {
        if v > peak {
            peak = v;
        }
        let fall = peak - v;
        if fall > money {
            money = fall;
            pct = if peak > 0.0 { fall / peak * 100.0 } else { 0.0 };
        }
    }
    (money, pct)
}

/// The report of `trades` (in the order they closed) from `initial_deposit`, with the equity
/// curve's buckets for the equity drawdown (its lowest and highest point of each bucket, in time
/// order; the balance drawdown comes from the trades themselves).
pub fn report(initial_deposit: f64, trades: &[Trade], curve: &[CurvePoint]) -> Report {
    let mut gross_profit = 0.0;
    let mut gross_loss = 0.0;
    let (mut wins, mut losses) = (0u64, 0u64);
    let (mut largest_win, mut largest_loss) = (0.0_f64, 0.0_f64);
    let (mut streak_win, mut streak_loss, mut best_win, mut best_loss) = (0u64, 0u64, 0u64, 0u64);
    let mut balance = initial_deposit;
    let mut balances = vec![initial_deposit];
    let mut returns = Vec::with_capacity(trades.len());
    let mut costs = Costs::default();
    for t in trades {
        let net = t.net();
        if balance != 0.0 {
            returns.push(net / balance);
        }
        balance += net;
        balances.push(balance);
        costs.spread += t.spread_cost;
        costs.slippage += t.slippage_cost;
        costs.commission -= t.commission;
        costs.swap -= t.swap;
        if net > 0.0 {
            gross_profit += net;
            wins += 1;
            largest_win = largest_win.max(net);
            streak_win += 1;
            streak_loss = 0;
        } else {
            gross_loss += net;
            losses += 1;
            largest_loss = largest_loss.min(net);
            streak_loss += 1;
            streak_win = 0;
        }
        best_win = best_win.max(streak_win);
        best_loss = best_loss.max(streak_loss);
    }
    let total = trades.len() as u64;
    let net_profit = gross_profit + gross_loss;
    let (max_drawdown_balance, max_drawdown_balance_pct) = max_drawdown(balances);
    // Within a bucket the order of its highest and lowest points is not kept: taking the highest
    // first makes the drawdown never smaller than the true one (exact when a bucket is one point),
    // so a drawdown is never smoothed away by the bucketing.
    let equity_points = curve.iter().flat_map(|p| [p.equity_max, p.equity_min]);
    let (curve_dd, curve_pct) = max_drawdown(std::iter::once(initial_deposit).chain(equity_points));
    let (max_drawdown_equity, max_drawdown_equity_pct) = if curve.is_empty() {
        (max_drawdown_balance, max_drawdown_balance_pct)
    } else {
        (curve_dd, curve_pct)
    };
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let sharpe_ratio = (returns.len() >= 2)
        .then(|| {
            let m = mean(&returns);
            let var =
                returns.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
            let sd = var.sqrt();
            (sd > 0.0).then(|| m / sd)
        })
        .flatten();
    Report {
        initial_deposit,
        net_profit,
        gross_profit,
        gross_loss,
        profit_factor: (gross_loss < 0.0).then(|| gross_profit / -gross_loss),
        expected_payoff: (total > 0).then(|| net_profit / total as f64),
        max_drawdown_balance,
        max_drawdown_balance_pct,
        max_drawdown_equity,
        max_drawdown_equity_pct,
        recovery_factor: (max_drawdown_equity > 0.0).then(|| net_profit / max_drawdown_equity),
        sharpe_ratio,
        total_trades: total,
        win_rate: (total > 0).then(|| wins as f64 / total as f64),
        largest_win,
        largest_loss,
        average_win: if wins > 0 {
            gross_profit / wins as f64
        } else {
            0.0
        },
        average_loss: if losses > 0 {
            gross_loss / losses as f64
        } else {
            0.0
        },
        longest_winning_streak: best_win,
        longest_losing_streak: best_loss,
        costs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trade(profit: f64, swap: f64, commission: f64) -> Trade {
        Trade {
            time: 0,
            side: mt5::PositionType::Buy,
            volume: 1.0,
            price_open: 1.0,
            time_close: 1,
            price_close: 1.0,
            sl: 0.0,
            tp: 0.0,
            profit,
            swap,
            commission,
            spread_cost: 2.0,
            slippage_cost: 0.5,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Worked out by hand: deposit 10,000; results +100, -50, +200, -30, -20 (after costs).
    #[test]
    fn every_metric_equals_its_worked_out_value() {
        let trades = [
            trade(107.0, -2.0, -5.0), // +100
            trade(-43.0, -2.0, -5.0), // -50
            trade(207.0, -2.0, -5.0), // +200
            trade(-23.0, -2.0, -5.0), // -30
            trade(-13.0, -2.0, -5.0), // -20
        ];
        let r = report(10_000.0, &trades, &[]);
        assert!(close(r.gross_profit, 300.0));
        assert!(close(r.gross_loss, -100.0));
        assert!(close(r.net_profit, 200.0));
        assert!(close(r.profit_factor.unwrap(), 3.0));
        assert!(close(r.expected_payoff.unwrap(), 40.0));
        assert_eq!(r.total_trades, 5);
        assert!(close(r.win_rate.unwrap(), 0.4));
        assert!(close(r.largest_win, 200.0));
        assert!(close(r.largest_loss, -50.0));
        assert!(close(r.average_win, 150.0));
        assert!(close(r.average_loss, -100.0 / 3.0));
        assert_eq!((r.longest_winning_streak, r.longest_losing_streak), (1, 2));
        // Balance: 10000, 10100, 10050, 10250, 10220, 10200: the largest fall is 50, first from
        // 10,100 (then again from 10,250).
        assert!(close(r.max_drawdown_balance, 50.0));
        assert!(close(r.max_drawdown_balance_pct, 50.0 / 10_100.0 * 100.0));
        // Without a curve the equity drawdown is the balance's.
        assert!(close(r.max_drawdown_equity, 50.0));
        assert!(close(r.recovery_factor.unwrap(), 4.0));
        assert!(close(r.costs.commission, 25.0));
        assert!(close(r.costs.swap, 10.0));
        assert!(close(r.costs.spread, 10.0));
        assert!(close(r.costs.slippage, 2.5));
        // Returns: 100/10000, -50/10100, 200/10050, -30/10250, -20/10220.
        let rs = [
            100.0 / 10_000.0,
            -50.0 / 10_100.0,
            200.0 / 10_050.0,
            -30.0 / 10_250.0,
            -20.0 / 10_220.0,
        ];
        let m = rs.iter().sum::<f64>() / 5.0;
        let sd = (rs.iter().map(|r| (r - m).powi(2)).sum::<f64>() / 4.0).sqrt();
        assert!(close(r.sharpe_ratio.unwrap(), m / sd));
    }

    #[test]
    fn the_equity_curve_keeps_drawdowns_inside_a_bucket() {
        let curve = [
            CurvePoint {
                time: 0,
                balance: 10_000.0,
                equity: 10_050.0,
                equity_min: 9_900.0,
                equity_max: 10_100.0,
            },
            CurvePoint {
                time: 60,
                balance: 10_080.0,
                equity: 10_080.0,
                equity_min: 9_700.0,
                equity_max: 10_080.0,
            },
        ];
        let r = report(10_000.0, &[trade(85.0, 0.0, -5.0)], &curve);
        // Peak 10,100 (first bucket), trough 9,700 (second): 400.
        assert!(close(r.max_drawdown_equity, 400.0));
        assert!(close(r.max_drawdown_equity_pct, 400.0 / 10_100.0 * 100.0));
        assert!(close(r.recovery_factor.unwrap(), 80.0 / 400.0));
    }

    #[test]
    fn no_trades_no_ratios() {
        let r = report(5_000.0, &[], &[]);
        assert_eq!(
            (
                r.profit_factor,
                r.expected_payoff,
                r.win_rate,
                r.sharpe_ratio,
                r.recovery_factor
            ),
            (None, None, None, None, None)
        );
        assert_eq!(r.net_profit, 0.0);
    }
}
