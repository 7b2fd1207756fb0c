//! One backtest over bars already in hand: the strategy driver of live runs
//! ([`crate::algorithms::driver::pass`]) on every decision bar, its orders filled by the
//! simulator's own engine on a historical clock ([`mt5_sim::backtest::BacktestAccount`]).
//!
//! The fill model (docs/backtests.md):
//! - a decision is made on the close of bar *t* and sent at the open of bar *t+1*: the strategy
//!   sees exactly the window a live run reads (`bars_needed` closed bars ending at *t*), and the
//!   quote it acts on is bar *t+1*'s open, so nothing is filled inside the bar it was decided on;
//! - SL, TP, pending orders and stop-outs are checked along each bar's path in MT5's order:
//!   bullish (close > open) open → low → high → close, bearish open → high → low → close, a doji
//!   opposite to the bar before; with `m1_ohlc` the path walks the M1 bars inside the decision
//!   bar, each in that order;
//! - the spread is the bar's `spread` (MT5 records the bar's smallest), a fixed number of points,
//!   or the larger of the two; slippage (adverse, in points) moves market fills.

use super::report::{self, CurvePoint, Report, Trade};
use crate::algorithms::driver::{
    self, AlgorithmTrade, Entry, Exit, Market, Sent, SkippedIntent, Venue,
};
use crate::algorithms::strategies::{Params, Strategy};
use crate::error::ApiResult;
use crate::risk::{self, RiskLimits};
use crate::trading::close_request;
use mt5::{DealEntry, DealType, PositionType, Rate, SymbolInfo, TradeRequest};
use mt5_sim::backtest::BacktestAccount;
use mt5_sim::engine::{AccountSettings, Costs};
use mt5_sim::market::{PricePoint, SymbolSpec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// How prices move inside a decision bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Decisions and fills on each bar's open; the path through the bar's own OHLC.
    OpenPrices,
    /// Decisions on the strategy's timeframe; the path through the M1 bars inside each bar.
    M1Ohlc,
}

/// The spread a fill pays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    /// The bar's `spread` field (MT5 records the bar's smallest spread: a lower bound of the cost).
    Bar,
    /// A fixed number of points.
    Fixed(u32),
    /// The larger of the bar's and these points.
    Larger(u32),
}

impl Spread {
    fn points(self, bar: &Rate) -> f64 {
        let of_bar = bar.spread.max(0) as f64;
        match self {
            Spread::Bar => of_bar,
            Spread::Fixed(p) => f64::from(p),
            Spread::Larger(p) => of_bar.max(f64::from(p)),
        }
    }
}

/// What a backtest is run with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub model: Model,
    pub spread: Spread,
    pub slippage_points: u32,
    pub commission_per_lot: f64,
    pub initial_deposit: f64,
    /// The simulated account's terms: the real account's currency, leverage, margin mode, margin
    /// call and stop-out levels.
    pub account: AccountSettings,
    /// The trade server's clock minus UTC, in seconds (bar times are server times).
    pub server_offset_s: i64,
    /// Equity curve buckets at most.
    pub max_curve_points: usize,
}

/// The history a backtest runs on, bar times on the server's clock.
pub struct History<'a> {
    /// The strategy's timeframe, oldest first; the first `bars_needed - 1` are warm-up only.
    pub bars: &'a [Rate],
    /// M1 bars over the same span (`m1_ohlc` only).
    pub m1: &'a [Rate],
    /// The bars' timeframe length, in seconds.
    pub bar_seconds: i64,
    /// The symbols that convert the traded symbol's profit and margin currencies to the
    /// account's (direct, inverse or through USD, as the engine converts), with their bars on the
    /// same timeframe: each trade is valued at the rates of its time.
    pub conversions: &'a [(SymbolInfo, Vec<Rate>)],
}

/// One decision: what the driver did on a bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The decision bar's open time (server seconds).
    pub bar_time: i64,
    pub trades: Vec<AlgorithmTrade>,
    pub skipped: Vec<SkippedIntent>,
}

/// What a backtest came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub trades: Vec<Trade>,
    pub curve: Vec<CurvePoint>,
    pub report: Report,
    /// The first decision bar's open time (server seconds): later than asked when the history
    /// holds fewer bars than the warm-up needs.
    pub history_start: Option<i64>,
    pub decisions: Vec<Decision>,
    /// Bars in which both a position's SL and its TP lay (the path decided which was hit).
    pub sl_and_tp_in_one_bar: u64,
    /// Symbols whose swap mode the engine does not model (charged no swap).
    pub unmodelled_swaps: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("the backtest was canceled")]
    Canceled,
    #[error("the symbol's timeframe has no fixed length")]
    Timeframe,
    #[error("{0}")]
    Api(#[from] crate::error::ApiError),
}

/// The points of one bar's path, in MT5's order, with its spread; `bullish_before` decides a doji.
fn bar_path(
    bar: &Rate,
    seconds: i64,
    spread: f64,
    point: f64,
    offset_s: i64,
    bullish_before: bool,
) -> [PricePoint; 4] {
    let bullish = if bar.close == bar.open {
        !bullish_before
    } else {
        bar.close > bar.open
    };
    let (second, third) = if bullish {
        (bar.low, bar.high)
    } else {
        (bar.high, bar.low)
    };
    let start = (bar.time - offset_s) * 1000;
    let step = (seconds * 1000 / 4).max(1);
    let at = |i: i64, bid: f64| PricePoint {
        time_ms: start + i * step,
        bid,
        ask: bid + spread * point,
    };
    [
        at(0, bar.open),
        at(1, second),
        at(2, third),
        at(3, bar.close),
    ]
}

/// The bids at which the account's open positions' SL and TP, and its pending orders, trigger:
/// a buy's levels and sell orders meet the bid, a sell's levels and buy orders the ask (the bid
/// plus the spread).
fn pending_levels(account: &BacktestAccount, spread: f64) -> Vec<f64> {
    let st = account.state();
    let mut levels = Vec::new();
    for p in &st.positions {
        let on_ask = p.side == PositionType::Sell;
        for level in [p.sl, p.tp] {
            if level > 0.0 {
                levels.push(if on_ask { level - spread } else { level });
            }
        }
    }
    for o in &st.orders {
        let on_ask = o.r#type.is_buy();
        for level in [o.price, o.stoplimit] {
            if level > 0.0 {
                levels.push(if on_ask { level - spread } else { level });
            }
        }
    }
    levels
}

/// The points from `a` (exclusive) to `b` (inclusive) on a continuous path: each level strictly
/// between them, in the order the price meets it, then `b`.
fn through(a: PricePoint, b: PricePoint, levels: &[f64], spread: f64) -> Vec<PricePoint> {
    let (lo, hi) = (a.bid.min(b.bid), a.bid.max(b.bid));
    let mut inside: Vec<f64> = levels
        .iter()
        .copied()
        .filter(|l| *l > lo && *l < hi)
        .collect();
    if b.bid >= a.bid {
        inside.sort_by(f64::total_cmp);
    } else {
        inside.sort_by(|x, y| y.total_cmp(x));
    }
    inside.dedup();
    let span = (b.bid - a.bid).abs().max(f64::MIN_POSITIVE);
    let mut points: Vec<PricePoint> = inside
        .into_iter()
        .map(|bid| {
            let share = (bid - a.bid).abs() / span;
            PricePoint {
                time_ms: a.time_ms + ((b.time_ms - a.time_ms) as f64 * share) as i64,
                bid,
                ask: bid + spread,
            }
        })
        .collect();
    points.push(b);
    points
}

/// The venue of a backtest: the engine, at the quote of the decision bar's next open.
struct Engine<'a> {
    account: &'a mut BacktestAccount,
    symbol: &'a SymbolInfo,
    limits: &'a RiskLimits,
    slippage: f64,
    offset_s: i64,
    /// The quote the orders meet now.
    quote: PricePoint,
    /// Each position's SL and TP as entered, and what its entry's spread and slippage cost.
    entries: &'a mut HashMap<u64, EntryCosts>,
}

#[derive(Debug, Clone, Copy, Default)]
struct EntryCosts {
    sl: f64,
    tp: f64,
    spread_cost: f64,
    slippage_cost: f64,
}

impl Engine<'_> {
    /// The money of `points` for `volume` lots of the symbol.
    fn points_money(&self, points: f64, volume: f64) -> f64 {
        let s = self.symbol;
        if s.trade_tick_size <= 0.0 {
            return 0.0;
        }
        points * s.point / s.trade_tick_size * s.trade_tick_value * volume
    }

    /// Sends `request` at the quote moved `slippage` against it, then puts the quote back.
    fn send(&mut self, request: &TradeRequest) -> mt5::OrderSendResult {
        let q = self.quote;
        let slipped = PricePoint {
            time_ms: q.time_ms,
            bid: q.bid - self.slippage,
            ask: q.ask + self.slippage,
        };
        self.account.set_quote(&request.symbol, slipped);
        let result = self.account.order_send(request);
        self.account.set_quote(&request.symbol, q);
        result
    }

    fn snapshot(&mut self) -> risk::Snapshot {
        let account = self.account.account_info();
        let positions = self.account.positions();
        let server_time = self.account.now_utc_ms() / 1000 + self.offset_s;
        let day_start = server_time - server_time.rem_euclid(86_400);
        // Deals are in time order: the day's are the tail, found by bisection (no copy of a
        // history that grows with the backtest).
        let deals = self.account.deals();
        let day = &deals[deals.partition_point(|d| d.time < day_start)..];
        let mut symbol = self.symbol.clone();
        symbol.bid = self.quote.bid;
        symbol.ask = self.quote.ask;
        risk::Snapshot {
            account,
            positions,
            day_realised: risk::day_realised(day),
            server_time,
            symbol,
        }
    }
}

/// Why the engine refused an order, as a live run's `skipped` says it (the one success rule of
/// the pipeline's answers decides).
fn rejected(result: &mt5::OrderSendResult) -> Option<String> {
    crate::trading::send_outcome(result, 0)
        .err()
        .map(|e| driver::skip_reason(&e))
}

#[async_trait::async_trait]
impl Venue for Engine<'_> {
    async fn enter(&mut self, entry: &Entry) -> ApiResult<Sent> {
        let snapshot = self.snapshot();
        if let Some(r) = risk::check(self.limits, None, &snapshot, &entry.request) {
            return Ok(Sent::Skipped(format!("risk_limit_exceeded: {}", r.message)));
        }
        let mut request = entry.request.clone();
        request.price = if entry.r#type.is_buy() {
            self.quote.ask
        } else {
            self.quote.bid
        };
        let result = self.send(&request);
        if let Some(why) = rejected(&result) {
            return Ok(Sent::Skipped(why));
        }
        let spread_points = (self.quote.ask - self.quote.bid) / self.symbol.point.max(1e-12);
        let costs = EntryCosts {
            sl: entry.sl,
            tp: entry.tp.unwrap_or(0.0),
            spread_cost: self.points_money(spread_points, result.volume),
            slippage_cost: self
                .points_money(self.slippage / self.symbol.point.max(1e-12), result.volume),
        };
        // A market deal's position carries the order's ticket as its id.
        self.entries.insert(result.order, costs);
        Ok(Sent::Filled {
            ticket: Some(result.order),
            volume: result.volume,
            price: result.price,
        })
    }

    async fn exit(&mut self, exit: &Exit) -> ApiResult<Sent> {
        let pos = &exit.position;
        let price = if exit.r#type.is_buy() {
            self.quote.ask
        } else {
            self.quote.bid
        };
        let request = close_request(
            pos,
            exit.r#type,
            pos.volume,
            price,
            20,
            exit.type_filling,
            String::new(),
        );
        let result = self.send(&request);
        if let Some(why) = rejected(&result) {
            return Ok(Sent::Skipped(why));
        }
        let slip = self.points_money(self.slippage / self.symbol.point.max(1e-12), result.volume);
        if let Some(c) = self.entries.get_mut(&pos.ticket) {
            c.slippage_cost += slip;
        }
        Ok(Sent::Filled {
            ticket: Some(result.order),
            volume: result.volume,
            price: result.price,
        })
    }
}

/// The round trips the account's deals make: one per closing deal (a partial close is its own
/// trade), valued as the deals say.
fn round_trips(
    deals: &[mt5::TradeDeal],
    entries: &HashMap<u64, EntryCosts>,
    offset_s: i64,
    stop_slippage: &dyn Fn(f64) -> f64,
) -> Vec<Trade> {
    let mut opened: HashMap<u64, &mt5::TradeDeal> = HashMap::new();
    let mut trades = Vec::new();
    for d in deals {
        if !matches!(d.r#type, DealType::Buy | DealType::Sell) {
            continue;
        }
        match d.entry {
            DealEntry::In => {
                opened.insert(d.position_id, d);
            }
            DealEntry::Out | DealEntry::OutBy | DealEntry::InOut => {
                let Some(open) = opened.get(&d.position_id) else {
                    continue;
                };
                let costs = entries.get(&d.position_id).copied().unwrap_or_default();
                let share = if open.volume > 0.0 {
                    d.volume / open.volume
                } else {
                    1.0
                };
                trades.push(Trade {
                    time: open.time - offset_s,
                    side: if open.r#type == DealType::Buy {
                        PositionType::Buy
                    } else {
                        PositionType::Sell
                    },
                    volume: d.volume,
                    price_open: open.price,
                    time_close: d.time - offset_s,
                    price_close: d.price,
                    sl: costs.sl,
                    tp: costs.tp,
                    profit: d.profit,
                    swap: d.swap,
                    commission: d.commission + open.commission * share,
                    spread_cost: costs.spread_cost * share,
                    // A stop loss or stop-out filled worse by the stop slippage.
                    slippage_cost: costs.slippage_cost * share
                        + if matches!(d.reason, mt5::DealReason::Sl | mt5::DealReason::So) {
                            stop_slippage(d.volume)
                        } else {
                            0.0
                        },
                });
            }
            DealEntry::Unknown(_) => {}
        }
    }
    trades
}

/// The engine's symbol specification of the broker's symbol: today's specification, its spread
/// set per point of the path.
pub fn spec_of(info: &SymbolInfo) -> SymbolSpec {
    SymbolSpec {
        info: info.clone(),
        base_price: 0.0,
        volatility: 0.0,
        spread_points: info.spread.max(0),
        sessions: Vec::new(),
    }
}

/// Runs `strategy` over `history`. `cancel` is looked at every bar; `progress` gets the share of
/// decision bars done.
#[allow(clippy::too_many_arguments)] // reason: the backtest's inputs, each distinct
pub async fn run(
    strategy: &dyn Strategy,
    params: &Params,
    limits: &RiskLimits,
    symbol: &SymbolInfo,
    history: &History<'_>,
    settings: &Settings,
    magic: u64,
    cancel: &AtomicBool,
    progress: &mut (dyn FnMut(f64) + Send),
) -> Result<Outcome, BacktestError> {
    let bars = history.bars;
    let warm = strategy.bars_needed(params).max(1) as usize;
    let offset = settings.server_offset_s;
    let point = if symbol.point > 0.0 {
        symbol.point
    } else {
        10f64.powi(-(symbol.digits as i32))
    };
    let start_ms = bars.first().map_or(0, |b| (b.time - offset) * 1000);
    let specs = std::iter::once(spec_of(symbol))
        .chain(history.conversions.iter().map(|(info, _)| spec_of(info)))
        .collect();
    let mut account = BacktestAccount::new(
        settings.account.clone(),
        settings.initial_deposit,
        specs,
        offset,
        start_ms,
        Costs {
            commission_per_lot: settings.commission_per_lot,
            stop_slippage_points: f64::from(settings.slippage_points),
        },
    );
    let unmodelled_swaps = account
        .unmodelled_swaps()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    let mut entries: HashMap<u64, EntryCosts> = HashMap::new();
    let mut decisions = Vec::new();
    // One sample a decision bar (and one at the end), bucketed as they come: a ten-year M1 run
    // keeps its at most `max_curve_points` buckets, not millions of samples.
    let expected = bars.len().saturating_sub(warm.max(1)) + 1;
    let mut samples = Buckets::new(expected, settings.max_curve_points.max(1));
    let decision_bars = bars.len().saturating_sub(warm);
    let history_start = (bars.len() > warm).then(|| bars[warm].time);
    let mut bullish_before = true;
    let mut both_in_bar = 0u64;
    for t in (warm.saturating_sub(1))..bars.len().saturating_sub(1) {
        if cancel.load(Ordering::Relaxed) {
            return Err(BacktestError::Canceled);
        }
        let next = &bars[t + 1];
        let spread = settings.spread.points(next);
        let path: Vec<PricePoint> = match settings.model {
            Model::OpenPrices => bar_path(
                next,
                history.bar_seconds,
                spread,
                point,
                offset,
                bullish_before,
            )
            .to_vec(),
            Model::M1Ohlc => {
                let end = next.time + history.bar_seconds;
                let mut before = bullish_before;
                let mut points = Vec::new();
                // M1 bars are in time order: the decision bar's are found by bisection, not by a
                // scan of the whole history per bar.
                let first = history.m1.partition_point(|m| m.time < next.time);
                for m in history.m1[first..].iter().take_while(|m| m.time < end) {
                    let sp = settings.spread.points(m);
                    points.extend(bar_path(m, 60, sp, point, offset, before));
                    before = m.close >= m.open;
                }
                if points.is_empty() {
                    bar_path(
                        next,
                        history.bar_seconds,
                        spread,
                        point,
                        offset,
                        bullish_before,
                    )
                    .to_vec()
                } else {
                    points
                }
            }
        };
        bullish_before = next.close >= next.open;
        // The conversion rates of this bar: each conversion symbol's bar at or before it, its
        // open and the spread it recorded.
        for (info, rates) in history.conversions {
            let at = rates.partition_point(|r| r.time <= next.time);
            if let Some(r) = at.checked_sub(1).and_then(|i| rates.get(i)) {
                let p = if info.point > 0.0 { info.point } else { point };
                account.set_quote(
                    &info.name,
                    PricePoint {
                        time_ms: (next.time - offset) * 1000,
                        bid: r.open,
                        ask: r.open + f64::from(r.spread.max(0)) * p,
                    },
                );
            }
        }
        // The decision: on the close of bar t, at the open of bar t+1.
        let open = path[0];
        account.advance_through(&symbol.name, &[open]);
        let window = &bars[t + 1 - warm..=t];
        let mut seen = symbol.clone();
        seen.bid = open.bid;
        seen.ask = open.ask;
        let own: Vec<mt5::TradePosition> = account
            .positions()
            .into_iter()
            .filter(|p| p.magic == magic && p.symbol == symbol.name)
            .collect();
        let equity = account.account_info().equity;
        let market = Market {
            symbol: &seen,
            bars: window,
            own: &own,
            equity,
        };
        let mut venue = Engine {
            account: &mut account,
            symbol,
            limits,
            slippage: f64::from(settings.slippage_points) * point,
            offset_s: offset,
            quote: open,
            entries: &mut entries,
        };
        let (trades, skipped) = driver::pass(strategy, params, &market, magic, &mut venue).await?;
        if !trades.is_empty() || !skipped.is_empty() {
            decisions.push(Decision {
                bar_time: bars[t].time,
                trades,
                skipped,
            });
        }
        // The rest of the bar's path, point by point, with the equity at each.
        let levels: Vec<(f64, f64)> = account
            .state()
            .positions
            .iter()
            .filter(|p| p.sl > 0.0 && p.tp > 0.0)
            .map(|p| (p.sl, p.tp))
            .collect();
        let (lo, hi) = path.iter().fold((f64::MAX, f64::MIN), |(l, h), p| {
            (l.min(p.bid), h.max(p.bid))
        });
        if levels
            .iter()
            .any(|(sl, tp)| sl.min(*tp) >= lo && sl.max(*tp) <= hi)
        {
            both_in_bar += 1;
        }
        let (mut eq_min, mut eq_max) = (f64::MAX, f64::MIN);
        let spread_price = spread * point;
        for pair in path.windows(2) {
            // The path moves continuously from one point to the next: a level it passes is
            // reached at the level (the engine fills at the point it is given), unlike a gap.
            let levels = pending_levels(&account, spread_price);
            for p in through(pair[0], pair[1], &levels, spread_price) {
                account.advance_through(&symbol.name, std::slice::from_ref(&p));
                let equity = account.equity();
                eq_min = eq_min.min(equity);
                eq_max = eq_max.max(equity);
            }
        }
        let equity = account.equity();
        samples.push(CurvePoint {
            time: next.time - offset,
            balance: account.balance(),
            equity,
            equity_min: eq_min.min(equity),
            equity_max: eq_max.max(equity),
        });
        if decision_bars > 0 {
            progress((t + 2 - warm) as f64 / decision_bars as f64);
        }
    }
    // As MT5's tester ends a test: every position still open is closed at the last price, so
    // the report's trades and the curve's last balance agree.
    let open = account.positions();
    if let (false, Some(quote)) = (open.is_empty(), account.symbol_info(&symbol.name)) {
        for p in &open {
            let (close_type, price) = if p.r#type == PositionType::Buy {
                (mt5::OrderType::Sell, quote.bid)
            } else {
                (mt5::OrderType::Buy, quote.ask)
            };
            let filling = crate::trading::requests::default_filling(symbol, close_type)
                .unwrap_or(mt5::OrderFilling::Return);
            let request = close_request(
                p,
                close_type,
                p.volume,
                price,
                0,
                filling,
                "end of test".into(),
            );
            let _closed = account.order_send(&request);
        }
        let info = account.account_info();
        samples.push(CurvePoint {
            time: bars
                .last()
                .map_or(0, |b| b.time + history.bar_seconds - offset),
            balance: info.balance,
            equity: info.equity,
            equity_min: info.equity,
            equity_max: info.equity,
        });
    }
    let stop_slippage = |volume: f64| {
        if symbol.trade_tick_size <= 0.0 {
            return 0.0;
        }
        f64::from(settings.slippage_points) * symbol.point / symbol.trade_tick_size
            * symbol.trade_tick_value
            * volume
    };
    let trades = round_trips(account.deals(), &entries, offset, &stop_slippage);
    let curve = samples.into_points();
    let report = report::report(settings.initial_deposit, &trades, &curve);
    Ok(Outcome {
        trades,
        curve,
        report,
        history_start,
        decisions,
        sl_and_tp_in_one_bar: both_in_bar,
        unmodelled_swaps,
    })
}

/// [`buckets`] made as the samples come, for `expected` samples at most `max` buckets (a sample
/// past `expected` joins the last bucket).
struct Buckets {
    size: usize,
    max: usize,
    taken: usize,
    points: Vec<CurvePoint>,
}

impl Buckets {
    fn new(expected: usize, max: usize) -> Self {
        let size = if expected <= max {
            1
        } else {
            expected.div_ceil(max)
        };
        Buckets {
            size,
            max,
            taken: 0,
            points: Vec::with_capacity(expected.min(max)),
        }
    }

    fn push(&mut self, p: CurvePoint) {
        let opens = self.taken.is_multiple_of(self.size) && self.points.len() < self.max;
        self.taken += 1;
        match self.points.last_mut() {
            Some(last) if !opens => {
                last.balance = p.balance;
                last.equity = p.equity;
                last.equity_min = last.equity_min.min(p.equity_min);
                last.equity_max = last.equity_max.max(p.equity_max);
            }
            _ => self.points.push(p),
        }
    }

    fn into_points(self) -> Vec<CurvePoint> {
        self.points
    }
}

/// At most `max` buckets of the samples: each keeps its first time, last balance and equity, and
/// the lowest and highest equity within it.
pub fn buckets(samples: &[CurvePoint], max: usize) -> Vec<CurvePoint> {
    if samples.len() <= max {
        return samples.to_vec();
    }
    let mut b = Buckets::new(samples.len(), max);
    for p in samples {
        b.push(*p);
    }
    b.into_points()
}

#[cfg(test)]
fn buckets_by_chunks(samples: &[CurvePoint], max: usize) -> Vec<CurvePoint> {
    if samples.len() <= max {
        return samples.to_vec();
    }
    let size = samples.len().div_ceil(max);
    samples
        .chunks(size)
        .filter_map(|chunk| {
            let first = chunk.first()?;
            let last = chunk.last()?;
            Some(CurvePoint {
                time: first.time,
                balance: last.balance,
                equity: last.equity,
                equity_min: chunk.iter().map(|p| p.equity_min).fold(f64::MAX, f64::min),
                equity_max: chunk.iter().map(|p| p.equity_max).fold(f64::MIN, f64::max),
            })
        })
        .collect()
}

#[cfg(test)]
mod bucket_tests {
    use super::*;

    #[test]
    fn buckets_made_as_samples_come_are_the_chunks_of_all_of_them() {
        let samples: Vec<CurvePoint> = (0..1234)
            .map(|i| {
                let e = 1000.0 + ((i * 37) % 101) as f64 - 50.0;
                CurvePoint {
                    time: i,
                    balance: 1000.0 + i as f64,
                    equity: e,
                    equity_min: e - (i % 7) as f64,
                    equity_max: e + (i % 5) as f64,
                }
            })
            .collect();
        for max in [1, 2, 10, 100, 617, 1233, 1234, 5000] {
            assert_eq!(
                buckets(&samples, max),
                buckets_by_chunks(&samples, max),
                "max {max}"
            );
            assert!(buckets(&samples, max).len() <= max);
        }
    }
}
