//! One execution of an algorithm on an account: read the latest closed bars and the strategy's
//! positions, evaluate the strategy (its levels on the symbol's tick grid), hold back what the
//! symbol's stops and freeze levels forbid, size each entry by risk, apply the risk checks, and
//! send each order through the same pipeline as `POST /orders` (journaled with the algorithm and
//! run ids, counted against the trade limit). `dry_run` plans the same trades and sends nothing.

use super::levels::{self, Quote};
use super::strategies::{Intent as StrategyIntent, Params, Strategy};
use crate::error::{ApiError, ApiResult};
use crate::pool::Purpose;
use crate::risk::sizing::{size_by_risk, Sized};
use crate::risk::RiskLimits;
use crate::state::AppState;
use crate::store::algorithms::{NewAlgorithmRun, RunFinish, RUN_DONE, RUN_FAILED};
use crate::store::{AccountRow, UserCtx};
use crate::trading::prepare::market_price_on_grid;
use crate::trading::{
    default_filling, filling_unknown, on_terminal, request_hash, risk_refusal, submit, Close,
    Command, Guard, HeldBack, Intent, Place, Source, FILLING_MODE,
};
use mt5::util::{PriceGrid, Rounding};
use mt5::{
    AccountTradeMode, OrderType, PositionFilter, PositionType, RatesRange, SymbolInfo,
    TradePosition,
};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// The magic number an algorithm's orders carry, so its positions can be told from the others.
pub fn magic_for(algorithm_id: &str) -> u64 {
    let h = u64::from_str_radix(&request_hash(&json!(algorithm_id)), 16).unwrap_or(0);
    1_000_000_000 + h % 1_000_000_000
}

/// What the strategy sees: closed bars, its own positions on the symbol, the symbol, equity;
/// and whether the terminal reports a real-money account.
struct View {
    symbol: SymbolInfo,
    bars: Vec<mt5::Rate>,
    own: Vec<TradePosition>,
    equity: f64,
    real: bool,
}

async fn view(
    state: &AppState,
    row: &AccountRow,
    strategy: &dyn Strategy,
    p: &Params,
    magic: u64,
    purpose: Purpose,
) -> ApiResult<View> {
    let symbol = p.symbol.clone();
    let timeframe = p.timeframe;
    // One more bar than needed: the last one returned is still forming and is dropped.
    let count = strategy.bars_needed(p).saturating_add(1);
    // A run that will trade reads on a session that may trade: a read-only (investor) session
    // refuses it here, with `read_only_account`, before any intent is evaluated or sent.
    on_terminal(state, row, purpose, move |t, at| {
        let symbol = symbol.clone();
        Box::pin(async move {
            let info = t.symbol_info(&at, &symbol).await?;
            let mut bars = t
                .copy_rates(
                    &at,
                    &symbol,
                    timeframe,
                    RatesRange::FromPos { start: 0, count },
                )
                .await?;
            bars.pop();
            let own = t
                .positions(&at, &PositionFilter::Symbol(symbol.clone()))
                .await?
                .into_iter()
                .filter(|p| p.magic == magic)
                .collect();
            let account = t.account_info(&at).await?;
            Ok(View {
                symbol: info,
                bars,
                own,
                equity: account.equity,
                // A trade mode the service does not know may be real money: it counts as live.
                real: !matches!(
                    account.trade_mode,
                    AccountTradeMode::Demo | AccountTradeMode::Contest
                ),
            })
        })
    })
    .await
}

fn skip(intent: Value, reason: impl Into<String>) -> SkippedIntent {
    SkippedIntent {
        intent,
        reason: reason.into(),
    }
}

/// A trade a run placed (or, dry, would have placed): an entry, or an exit closing a position.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AlgorithmTrade {
    Entry(EntryTrade),
    Exit(ExitTrade),
}

/// An entry a run placed, with its levels.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryTrade {
    /// The order's ticket; null in a dry run.
    #[schema(required = true)]
    pub ticket: Option<u64>,
    pub symbol: String,
    #[serde(rename = "type")]
    pub side: PositionType,
    pub volume: f64,
    pub price: f64,
    pub sl: f64,
    /// Null when the strategy sets none.
    #[schema(required = true)]
    pub tp: Option<f64>,
}

/// An exit a run placed: the order closing `position`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExitTrade {
    /// The closing order's ticket; null in a dry run.
    #[schema(required = true)]
    pub ticket: Option<u64>,
    /// The position closed.
    pub position: u64,
    pub symbol: String,
    #[serde(rename = "type")]
    pub side: PositionType,
    pub volume: f64,
    pub price: f64,
}

/// An entry or exit a run did not send, with why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedIntent {
    /// What the strategy wanted (`action` `open` or `close`, symbol, …).
    #[schema(value_type = Object)]
    pub intent: Value,
    pub reason: String,
}

/// What a run did: the trades it placed (or would have, dry) and the intents it did not send.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: Uuid,
    pub dry_run: bool,
    pub trades: Vec<AlgorithmTrade>,
    pub skipped: Vec<SkippedIntent>,
}

fn error_reason(e: &ApiError) -> String {
    let (_, code) = e.status_and_code();
    match e {
        ApiError::TradeRejected { retcode, comment } => format!(
            "{code}: {retcode} {} ({comment})",
            mt5::retcode::name(*retcode)
        ),
        other => format!("{code}: {}", other.public_message()),
    }
}

/// The skip reason of a trade whose symbol leaves no filling policy to pick (as the API answers it).
fn filling_reason(info: &SymbolInfo) -> String {
    format!("{FILLING_MODE}: {}", filling_unknown(info))
}

/// The price a market order of `order_type` goes out at: the ask for a buy, the bid for a sell,
/// on the symbol's tick grid.
fn market_price(grid: PriceGrid, order_type: OrderType, q: Quote) -> f64 {
    market_price_on_grid(grid, order_type, q)
}

/// An entry's SL and TP on the tick grid: the SL away from the price (down for a buy, up for a
/// sell) so it is never tighter than planned, the TP to the nearest tick (see
/// `strategies::entry`; the built-in strategies already deliver them so, and a level on the grid
/// stays put). `None` when either is not a finite price, or the side is not buy or sell.
fn levels_on_grid(
    grid: PriceGrid,
    side: PositionType,
    sl: f64,
    tp: Option<f64>,
) -> Option<(f64, Option<f64>)> {
    let away = match side {
        PositionType::Buy => Rounding::Down,
        PositionType::Sell => Rounding::Up,
        PositionType::Unknown(_) => return None,
    };
    let sl = grid.round(sl, away)?;
    let tp = match tp {
        Some(tp) => Some(grid.round(tp, Rounding::Nearest)?),
        None => None,
    };
    Some((sl, tp))
}

/// The skip reason for a failed submission: the rule the order was held back for, else the error.
fn reason_for(held: &HeldBack, e: &ApiError) -> String {
    match held.rule() {
        Some(bad) => bad.reason(),
        None => error_reason(e),
    }
}

pub struct Execution<'a> {
    pub account: &'a AccountRow,
    pub algorithm_id: String,
    pub strategy: &'a dyn Strategy,
    pub params: Params,
    pub raw_parameters: Value,
    pub dry_run: bool,
    /// The request's `confirm_live`: needed when the terminal reports a real-money account.
    pub confirm_live: bool,
}

/// Runs one pass; returns the response body. The account's stored risk limits are validated
/// first: a value the service cannot read is a `validation_failed` and no run is recorded.
pub async fn execute(state: &AppState, user: &UserCtx, ex: Execution<'_>) -> ApiResult<RunReport> {
    let limits = RiskLimits::stored(ex.account.risk_limits.as_ref())?;
    let run = state
        .store
        .create_run(
            user,
            NewAlgorithmRun {
                id: Uuid::new_v4(),
                account_id: ex.account.id,
                algorithm_id: ex.algorithm_id.clone(),
                algorithm_kind: ex.strategy.name().to_string(),
                parameters: ex.raw_parameters.clone(),
                dry_run: ex.dry_run,
            },
        )
        .await?;
    state.events.run_changed(user.user_id, run.id);
    let result = pass(state, user, &ex, &limits, run.id).await;
    let finish = match &result {
        Ok((trades, skipped)) => RunFinish {
            status: RUN_DONE.into(),
            trades: serde_json::to_value(trades).unwrap_or_else(|_| json!([])),
            skipped: serde_json::to_value(skipped).unwrap_or_else(|_| json!([])),
            error: None,
        },
        Err(e) => RunFinish {
            status: RUN_FAILED.into(),
            trades: json!([]),
            skipped: json!([]),
            error: Some(error_reason(e)),
        },
    };
    state.store.finish_run(user, run.id, finish).await?;
    state.events.run_changed(user.user_id, run.id);
    let (trades, skipped) = result?;
    Ok(RunReport {
        run_id: run.id,
        dry_run: ex.dry_run,
        trades,
        skipped,
    })
}

async fn pass(
    state: &AppState,
    user: &UserCtx,
    ex: &Execution<'_>,
    limits: &RiskLimits,
    run_id: Uuid,
) -> ApiResult<(Vec<AlgorithmTrade>, Vec<SkippedIntent>)> {
    let magic = magic_for(&ex.algorithm_id);
    let purpose = if ex.dry_run {
        Purpose::Read
    } else {
        Purpose::Trade
    };
    let v = view(state, ex.account, ex.strategy, &ex.params, magic, purpose).await?;
    // The account is live when MT5 says so, whatever its row says: the row's `account_type` is
    // only a label the user may clear or rewrite (PUT, or the Data API). Checked on the session
    // that would send, before any intent is evaluated, so nothing is sent without the confirmation.
    if v.real && !ex.confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    let grid = PriceGrid::of(&v.symbol);
    let intents = ex.strategy.evaluate(&ex.params, &v.bars, &v.own, grid);
    let quote = Quote {
        bid: v.symbol.bid,
        ask: v.symbol.ask,
    };
    let (mut trades, mut skipped) = (Vec::new(), Vec::new());
    let mut own_open = v.own.len() as u64;
    let max_positions = u64::from(ex.params.max_positions);

    for intent in intents {
        match intent {
            StrategyIntent::Entry {
                side,
                sl,
                tp,
                reason,
            } => {
                let described = json!({"action": "open", "symbol": ex.params.symbol, "type": side, "sl": sl, "tp": tp, "reason": reason});
                // Strategies emit buy or sell entries only.
                let Some(r#type) = side.order_type() else {
                    skipped.push(skip(described, format!("an entry on side {side}")));
                    continue;
                };
                let entry = market_price(grid, r#type, quote);
                if own_open >= max_positions {
                    skipped.push(skip(
                        described,
                        format!("max_positions ({max_positions}) of the request reached"),
                    ));
                    continue;
                }
                let Some((sl, tp)) = levels_on_grid(grid, side, sl, tp) else {
                    skipped.push(skip(described, "stops_level: the SL or TP is not a price"));
                    continue;
                };
                // The levels the broker would refuse at this quote are never sent (nor journaled).
                if let Err(bad) = levels::check_entry(&v.symbol, side, quote, sl, tp.unwrap_or(0.0))
                {
                    skipped.push(skip(described, bad.reason()));
                    continue;
                }
                let volume =
                    match size_by_risk(v.equity, ex.params.risk_per_trade, entry, sl, &v.symbol) {
                        Sized::Volume(vol) => vol,
                        Sized::Skip(why) => {
                            skipped.push(skip(described, why));
                            continue;
                        }
                    };
                let Some(type_filling) = default_filling(&v.symbol, r#type) else {
                    skipped.push(skip(described, filling_reason(&v.symbol)));
                    continue;
                };
                let req = crate::trading::NewOrder {
                    symbol: ex.params.symbol.clone(),
                    r#type,
                    volume,
                    price: entry,
                    stoplimit: 0.0,
                    sl,
                    tp: tp.unwrap_or(0.0),
                    deviation: 20,
                    type_filling,
                    type_time: Default::default(),
                    expiration: 0,
                    magic,
                    comment: String::new(),
                }
                .request();
                if ex.dry_run {
                    let refusal = risk_refusal(state, ex.account, limits, &req).await?;
                    match refusal {
                        Some(r) => skipped.push(skip(
                            described,
                            format!("risk_limit_exceeded: {}", r.message),
                        )),
                        None => {
                            own_open += 1;
                            trades.push(AlgorithmTrade::Entry(EntryTrade {
                                ticket: None,
                                symbol: req.symbol.clone(),
                                side,
                                volume,
                                price: entry,
                                sl,
                                tp,
                            }));
                        }
                    }
                    continue;
                }
                let held = HeldBack::default();
                let intent = Intent {
                    command: Command::Place(Place {
                        symbol: req.symbol.clone(),
                        r#type,
                        volume,
                        price: None,
                        stoplimit: None,
                        sl,
                        tp: tp.unwrap_or(0.0),
                        deviation: 20,
                        type_filling: Some(type_filling),
                        type_time: Default::default(),
                        expiration_utc: None,
                        magic,
                        comment: Some("algo".into()),
                        guard: Some(Guard {
                            info: v.symbol.clone(),
                            grid,
                            held: held.clone(),
                        }),
                    }),
                    request: json!({"symbol": req.symbol, "type": side, "volume": volume, "sl": sl, "tp": tp, "magic": magic}),
                    idempotency_key: None,
                    source: Source::Algorithm {
                        algorithm_id: ex.algorithm_id.clone(),
                        run_id,
                    },
                };
                match submit(state, user, ex.account, intent).await {
                    Ok(done) => {
                        own_open += 1;
                        let result = done.result.as_deref();
                        trades.push(AlgorithmTrade::Entry(EntryTrade {
                            ticket: result.map(|r| r.order),
                            symbol: ex.params.symbol.clone(),
                            side,
                            volume: result.map_or(volume, |r| r.volume),
                            price: result.map_or(entry, |r| r.price),
                            sl,
                            tp,
                        }));
                    }
                    Err(e) => skipped.push(skip(described, reason_for(&held, &e))),
                }
            }
            StrategyIntent::Exit { ticket, reason } => {
                let Some(pos) = v.own.iter().find(|p| p.ticket == ticket).cloned() else {
                    continue;
                };
                let described = json!({"action": "close", "ticket": ticket, "symbol": pos.symbol, "reason": reason});
                // The closing order trades on the other side; a type the service does not know
                // has no side to tell, and nothing is sent on a guess.
                let Some((close_side, close_type)) = pos
                    .r#type
                    .opposite()
                    .and_then(|side| Some((side, side.order_type()?)))
                else {
                    skipped.push(skip(
                        described,
                        format!(
                            "position type {}: the service cannot tell which order closes it",
                            pos.r#type
                        ),
                    ));
                    continue;
                };
                // A position whose SL or TP is within the freeze level cannot be closed: not sent.
                if let Err(bad) =
                    levels::check_position_change(&v.symbol, pos.r#type, quote, pos.sl, pos.tp)
                {
                    skipped.push(skip(described, bad.reason()));
                    continue;
                }
                let Some(filling) = default_filling(&v.symbol, close_type) else {
                    skipped.push(skip(described, filling_reason(&v.symbol)));
                    continue;
                };
                if ex.dry_run {
                    let price = market_price(grid, close_type, quote);
                    trades.push(AlgorithmTrade::Exit(ExitTrade {
                        ticket: None,
                        position: ticket,
                        symbol: pos.symbol.clone(),
                        side: close_side,
                        volume: pos.volume,
                        price,
                    }));
                    continue;
                }
                // What the trade says if the broker's answer lacks its volume or price.
                let (pos_volume, quoted) = (pos.volume, market_price(grid, close_type, quote));
                let held = HeldBack::default();
                let intent = Intent {
                    command: Command::Close(Close {
                        volume: pos.volume,
                        position: pos,
                        r#type: close_type,
                        deviation: 20,
                        type_filling: Some(filling),
                        comment: Some("algo exit".into()),
                        guard: Some(Guard {
                            info: v.symbol.clone(),
                            grid,
                            held: held.clone(),
                        }),
                    }),
                    request: json!({"ticket": ticket, "volume": pos_volume}),
                    idempotency_key: None,
                    source: Source::Algorithm {
                        algorithm_id: ex.algorithm_id.clone(),
                        run_id,
                    },
                };
                match submit(state, user, ex.account, intent).await {
                    Ok(done) => {
                        let result = done.result.as_deref();
                        trades.push(AlgorithmTrade::Exit(ExitTrade {
                            ticket: result.map(|r| r.order),
                            position: ticket,
                            symbol: ex.params.symbol.clone(),
                            side: close_side,
                            volume: result.map_or(pos_volume, |r| r.volume),
                            price: result.map_or(quoted, |r| r.price),
                        }));
                    }
                    Err(e) => skipped.push(skip(described, reason_for(&held, &e))),
                }
            }
        }
    }
    Ok((trades, skipped))
}
