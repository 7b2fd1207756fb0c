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

/// Money moved in and out of the account that is not trading: excluded from P&L.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct BalanceOperations {
    /// Balance deals with a positive amount.
    pub deposits: f64,
    /// Balance deals with a negative amount (as a positive sum).
    pub withdrawals: f64,
    /// Credit, bonus and correction deals, net.
    pub credit: f64,
}

/// What a live account's deals show of costs; what they cannot show is null.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct AccountCosts {
    pub commission: f64,
    pub swap: f64,
    /// Deals' fees, and the broker's commission and charge deals.
    pub fee: f64,
    /// Null: deal history records no spread.
    #[schema(required = true)]
    pub spread: Option<f64>,
    /// What the journal's market orders paid against the price they asked for (filled worse is
    /// positive, better negative), in the account currency; orders sent outside the service are
    /// not in it. Null when no such order of the window could be valued.
    #[schema(required = true)]
    pub slippage: Option<f64>,
}

/// A market order of the journal as filled: what it asked for and what it got.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalFill {
    pub symbol: String,
    pub magic: u64,
    pub buy: bool,
    pub volume: f64,
    /// The price the request carried (the quote it was sent at).
    pub requested: f64,
    pub filled: f64,
    /// Account currency per unit of price per lot (tick value over tick size), if known.
    pub value_per_price: Option<f64>,
}

/// The slippage of `fills` (filled worse than requested is a cost), for the `symbol` and `magic`
/// filters; `None` when none could be valued.
pub fn journal_slippage(
    fills: &[JournalFill],
    symbol: Option<&str>,
    magic: Option<u64>,
) -> Option<f64> {
    let mut total = None;
    for f in fills {
        if symbol.is_some_and(|s| f.symbol != s) || magic.is_some_and(|m| f.magic != m) {
            continue;
        }
        let Some(value) = f.value_per_price.filter(|v| v.is_finite()) else {
            continue;
        };
        if f.requested <= 0.0 || f.filled <= 0.0 || f.volume <= 0.0 {
            continue;
        }
        let worse = if f.buy {
            f.filled - f.requested
        } else {
            f.requested - f.filled
        };
        *total.get_or_insert(0.0) += worse * value * f.volume;
    }
    total.map(|t: f64| (t * 100.0).round() / 100.0)
}

/// A report field the account's deals cannot give, and why.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Unavailable {
    pub field: &'static str,
    pub reason: &'static str,
}

/// The report of a live account's trading over a window, from its deals: the backtest report's
/// numbers where deals give them.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AccountReport {
    /// The balance before the window's first deal.
    pub initial_balance: f64,
    /// The balance after the window's last deal.
    pub final_balance: f64,
    /// The trades' results (profit, swap, commission, fee); balance operations are not P&L.
    pub net_profit: f64,
    pub gross_profit: f64,
    pub gross_loss: f64,
    #[schema(required = true)]
    pub profit_factor: Option<f64>,
    #[schema(required = true)]
    pub expected_payoff: Option<f64>,
    /// Of the balance moved by trades alone, from the initial balance.
    pub max_drawdown_balance: f64,
    pub max_drawdown_balance_pct: f64,
    /// Null: deal history has no equity.
    #[schema(required = true)]
    pub max_drawdown_equity: Option<f64>,
    #[schema(required = true)]
    pub max_drawdown_equity_pct: Option<f64>,
    /// Net profit over the balance drawdown (the equity's is unknown); null without one.
    #[schema(required = true)]
    pub recovery_factor: Option<f64>,
    #[schema(required = true)]
    pub sharpe_ratio: Option<f64>,
    pub total_trades: u64,
    #[schema(required = true)]
    pub win_rate: Option<f64>,
    pub largest_win: f64,
    pub largest_loss: f64,
    pub average_win: f64,
    pub average_loss: f64,
    pub longest_winning_streak: u64,
    pub longest_losing_streak: u64,
    pub costs: AccountCosts,
    pub balance_operations: BalanceOperations,
    /// The fields the deals cannot give, with why.
    pub unavailable: Vec<Unavailable>,
}

/// The report of an account's deals. `deals` run from the window's start to now (server times,
/// any order), so the balance before the window is `balance_now` less everything after it;
/// `[from, to]` is the window; `symbol` and `magic` keep only those trades (balance operations
/// are the account's and always counted).
pub fn account_report(
    deals: &[mt5::TradeDeal],
    balance_now: f64,
    from: i64,
    to: i64,
    symbol: Option<&str>,
    magic: Option<u64>,
) -> AccountReport {
    use mt5::{DealEntry, DealType};
    let mut deals: Vec<&mt5::TradeDeal> = deals.iter().filter(|d| d.time >= from).collect();
    deals.sort_by_key(|d| (d.time_msc, d.ticket));
    let effect = |d: &mt5::TradeDeal| d.profit + d.swap + d.commission + d.fee;
    let initial_balance = balance_now - deals.iter().map(|d| effect(d)).sum::<f64>();
    let in_window: Vec<&mt5::TradeDeal> = deals.iter().copied().filter(|d| d.time <= to).collect();
    let final_balance = initial_balance + in_window.iter().map(|d| effect(d)).sum::<f64>();
    let wanted = |d: &mt5::TradeDeal| {
        symbol.is_none_or(|s| d.symbol == s) && magic.is_none_or(|m| d.magic == m)
    };
    let mut ops = BalanceOperations::default();
    let mut costs = AccountCosts::default();
    let mut opened: std::collections::HashMap<u64, &mt5::TradeDeal> = Default::default();
    let mut trades = Vec::new();
    for d in &in_window {
        match d.r#type {
            DealType::Balance if d.profit >= 0.0 => ops.deposits += d.profit,
            DealType::Balance => ops.withdrawals -= d.profit,
            DealType::Credit | DealType::Bonus | DealType::Correction => ops.credit += d.profit,
            DealType::Buy | DealType::Sell if wanted(d) => {
                costs.commission -= d.commission;
                costs.swap -= d.swap;
                costs.fee -= d.fee;
                match d.entry {
                    DealEntry::In => {
                        opened.insert(d.position_id, *d);
                    }
                    DealEntry::Out | DealEntry::OutBy | DealEntry::InOut => {
                        let open = opened.get(&d.position_id).copied();
                        let share = open
                            .filter(|o| o.volume > 0.0)
                            .map_or(1.0, |o| d.volume / o.volume);
                        trades.push(Trade {
                            time: open.map_or(d.time, |o| o.time),
                            // The closing deal's side is the position's opposite.
                            side: if d.r#type == DealType::Sell {
                                mt5::PositionType::Buy
                            } else {
                                mt5::PositionType::Sell
                            },
                            volume: d.volume,
                            price_open: open.map_or(0.0, |o| o.price),
                            time_close: d.time,
                            price_close: d.price,
                            sl: 0.0,
                            tp: 0.0,
                            profit: d.profit,
                            swap: d.swap,
                            commission: d.commission
                                + d.fee
                                + open.map_or(0.0, |o| (o.commission + o.fee) * share),
                            spread_cost: 0.0,
                            slippage_cost: 0.0,
                        });
                    }
                    DealEntry::Unknown(_) => {}
                }
            }
            // The broker's own charges (commission, charge, tax, interest…) when not filtered out.
            DealType::Buy | DealType::Sell => {}
            _ if symbol.is_none() && magic.is_none() => costs.fee -= effect(d),
            _ => {}
        }
    }
    let r = report(initial_balance, &trades, &[]);
    AccountReport {
        initial_balance,
        final_balance,
        net_profit: r.net_profit,
        gross_profit: r.gross_profit,
        gross_loss: r.gross_loss,
        profit_factor: r.profit_factor,
        expected_payoff: r.expected_payoff,
        max_drawdown_balance: r.max_drawdown_balance,
        max_drawdown_balance_pct: r.max_drawdown_balance_pct,
        max_drawdown_equity: None,
        max_drawdown_equity_pct: None,
        recovery_factor: (r.max_drawdown_balance > 0.0)
            .then(|| r.net_profit / r.max_drawdown_balance),
        sharpe_ratio: r.sharpe_ratio,
        total_trades: r.total_trades,
        win_rate: r.win_rate,
        largest_win: r.largest_win,
        largest_loss: r.largest_loss,
        average_win: r.average_win,
        average_loss: r.average_loss,
        longest_winning_streak: r.longest_winning_streak,
        longest_losing_streak: r.longest_losing_streak,
        costs,
        balance_operations: ops,
        unavailable: vec![
            Unavailable {
                field: "max_drawdown_equity",
                reason: "deal history has no equity: only the balance after each trade is known",
            },
            Unavailable {
                field: "max_drawdown_equity_pct",
                reason: "deal history has no equity: only the balance after each trade is known",
            },
            Unavailable {
                field: "costs.spread",
                reason: "deal history records the fill price, not the spread paid",
            },
        ],
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

#[cfg(test)]
mod account_tests {
    use super::*;
    use mt5::{DealEntry, DealType, TradeDeal};

    fn deal(time: i64, kind: DealType, entry: DealEntry, position: u64, profit: f64) -> TradeDeal {
        TradeDeal {
            ticket: time as u64,
            time,
            time_msc: time * 1000,
            r#type: kind,
            entry,
            position_id: position,
            volume: 1.0,
            price: 1.1,
            profit,
            symbol: if position > 0 {
                "EURUSD".into()
            } else {
                String::new()
            },
            magic: position,
            ..Default::default()
        }
    }

    #[test]
    fn deposits_are_not_profit_and_the_balance_is_rebuilt_from_now() {
        let mut open = deal(100, DealType::Buy, DealEntry::In, 7, 0.0);
        open.commission = -2.0;
        let mut close = deal(200, DealType::Sell, DealEntry::Out, 7, 50.0);
        close.commission = -2.0;
        close.swap = -1.0;
        let mut open2 = deal(300, DealType::Sell, DealEntry::In, 8, 0.0);
        open2.commission = -2.0;
        let close2 = deal(400, DealType::Buy, DealEntry::Out, 8, -30.0);
        let deals = vec![
            deal(50, DealType::Balance, DealEntry::In, 0, 1000.0),
            open,
            close,
            deal(250, DealType::Balance, DealEntry::In, 0, -200.0),
            open2,
            close2,
            // After the window: counted to rebuild the balance, not reported.
            deal(900, DealType::Balance, DealEntry::In, 0, 500.0),
        ];
        // Balance now: 10000 before + 1000 - 2 + 50 - 2 - 1 - 200 - 2 - 30 + 500.
        let now = 10_000.0 + 1000.0 - 2.0 + 47.0 - 200.0 - 2.0 - 30.0 + 500.0;
        let r = account_report(&deals, now, 0, 500, None, None);
        assert!((r.initial_balance - 10_000.0).abs() < 1e-9, "{r:?}");
        assert!((r.final_balance - (now - 500.0)).abs() < 1e-9);
        assert_eq!(r.total_trades, 2);
        // 50 - 1 swap - 4 commission = 45; -30 - 2 commission = -32.
        assert!((r.gross_profit - 45.0).abs() < 1e-9);
        assert!((r.gross_loss + 32.0).abs() < 1e-9);
        assert!((r.net_profit - 13.0).abs() < 1e-9);
        assert_eq!(r.balance_operations.deposits, 1000.0);
        assert_eq!(r.balance_operations.withdrawals, 200.0);
        assert_eq!(r.costs.commission, 6.0);
        assert_eq!(r.costs.swap, 1.0);
        // The withdrawal is no drawdown: only the losing trade is.
        assert!((r.max_drawdown_balance - 32.0).abs() < 1e-9);
        assert_eq!(r.max_drawdown_equity, None);
        assert_eq!(r.costs.spread, None);
        assert!(r.unavailable.iter().any(|u| u.field == "costs.spread"));
        // Slippage: a buy filled 2 points worse, a sell 1 point better, valued 100,000 a unit of
        // price per lot; another symbol's fill only without the filter.
        let fill = |symbol: &str, buy, requested, filled| JournalFill {
            symbol: symbol.into(),
            magic: 7,
            buy,
            volume: 0.5,
            requested,
            filled,
            value_per_price: Some(100_000.0),
        };
        let fills = vec![
            fill("EURUSD", true, 1.10000, 1.10002),
            fill("EURUSD", false, 1.10000, 1.10001),
            fill("GBPUSD", true, 1.25000, 1.25010),
        ];
        assert_eq!(journal_slippage(&fills, Some("EURUSD"), None), Some(0.5));
        assert_eq!(journal_slippage(&fills, None, None), Some(5.5));
        assert_eq!(journal_slippage(&fills, None, Some(8)), None);
        // Filters: one position's trades only.
        let only = account_report(&deals, now, 0, 500, Some("EURUSD"), Some(8));
        assert_eq!(only.total_trades, 1);
        assert!((only.net_profit + 32.0).abs() < 1e-9);
        assert_eq!(only.balance_operations.deposits, 1000.0);
    }
}
