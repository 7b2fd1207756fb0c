//! One strategy driver for every venue. What a pass does between "bars and positions" and "an
//! order" is this one code path: evaluate the strategy, fit its levels to the symbol's price grid
//! and its stops and freeze levels, size each entry by risk, then hand each order to a [`Venue`]:
//! the live terminal through the order pipeline, a dry run that only asks the risk limits, or the
//! backtester's engine on a historical clock. Whatever the venue, the same bars and positions give
//! the same decisions.

use super::levels::{self, Quote};
use super::strategies::{Intent as StrategyIntent, Params, Strategy};
use crate::error::ApiResult;
use crate::risk::sizing::{size_by_risk, Sized};
use crate::trading::prepare::market_price_on_grid;
use crate::trading::{default_filling, filling_unknown, NewOrder, FILLING_MODE};
use mt5::util::{PriceGrid, Rounding};
use mt5::{OrderFilling, OrderType, PositionType, SymbolInfo, TradePosition, TradeRequest};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// A trade a run placed (or, dry, would have placed): an entry, or an exit closing a position.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AlgorithmTrade {
    Entry(EntryTrade),
    Exit(ExitTrade),
}

/// An entry a run placed, with its levels.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkippedIntent {
    /// What the strategy wanted (`action` `open` or `close`, symbol, …).
    #[schema(value_type = Object)]
    pub intent: Value,
    pub reason: String,
}

fn skip(intent: Value, reason: impl Into<String>) -> SkippedIntent {
    SkippedIntent {
        intent,
        reason: reason.into(),
    }
}

/// What the strategy decides on: its closed bars, its own positions on the symbol, the symbol as
/// the venue reports it now (its quote included) and the account's equity.
pub struct Market<'a> {
    pub symbol: &'a SymbolInfo,
    pub bars: &'a [mt5::Rate],
    pub own: &'a [TradePosition],
    pub equity: f64,
}

/// An entry the driver decided on: the request to send (at the quote the strategy saw; a live
/// venue prices it again at the moment of sending) and what it is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What the strategy wanted, as a run's `skipped` shows it.
    pub described: Value,
    pub side: PositionType,
    pub r#type: OrderType,
    pub volume: f64,
    /// The market price on the grid at the strategy's quote.
    pub price: f64,
    pub sl: f64,
    pub tp: Option<f64>,
    pub type_filling: OrderFilling,
    pub request: TradeRequest,
}

/// An exit the driver decided on: the order closing `position` at the market.
#[derive(Debug, Clone)]
pub struct Exit {
    pub described: Value,
    pub position: TradePosition,
    /// The closing order's side and type (the position's other side).
    pub side: PositionType,
    pub r#type: OrderType,
    pub type_filling: OrderFilling,
    /// The market price on the grid at the strategy's quote.
    pub price: f64,
}

/// What a venue did with an order: filled (the ticket when there is one, the volume and price)
/// or not sent, with the reason a run's `skipped` gives.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Filled {
        ticket: Option<u64>,
        volume: f64,
        price: f64,
    },
    Skipped(String),
}

/// Where a pass's orders go. An `Err` ends the pass (the run fails); a refused order is
/// [`Sent::Skipped`].
#[async_trait::async_trait]
pub trait Venue: Send {
    async fn enter(&mut self, entry: &Entry) -> ApiResult<Sent>;
    async fn exit(&mut self, exit: &Exit) -> ApiResult<Sent>;
}

/// What a run's `skipped` says of an order the venue refused: the error's code, and for a broker's
/// rejection its retcode, name and comment.
pub fn skip_reason(e: &crate::error::ApiError) -> String {
    let (_, code) = e.status_and_code();
    match e {
        crate::error::ApiError::TradeRejected { retcode, comment } => format!(
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

/// One pass of `strategy` on `market`: its intents, fitted, sized and handed to `venue` in order.
/// Entries stop at the request's `max_positions` of the strategy's own positions.
pub async fn pass(
    strategy: &dyn Strategy,
    params: &Params,
    market: &Market<'_>,
    magic: u64,
    venue: &mut dyn Venue,
) -> ApiResult<(Vec<AlgorithmTrade>, Vec<SkippedIntent>)> {
    let symbol = market.symbol;
    let grid = PriceGrid::of(symbol);
    let intents = strategy.evaluate(params, market.bars, market.own, grid);
    let quote = Quote {
        bid: symbol.bid,
        ask: symbol.ask,
    };
    let (mut trades, mut skipped) = (Vec::new(), Vec::new());
    let mut own_open = market.own.len() as u64;
    let max_positions = u64::from(params.max_positions);

    for intent in intents {
        match intent {
            StrategyIntent::Entry {
                side,
                sl,
                tp,
                reason,
            } => {
                let described = json!({"action": "open", "symbol": params.symbol, "type": side, "sl": sl, "tp": tp, "reason": reason});
                // Strategies emit buy or sell entries only.
                let Some(r#type) = side.order_type() else {
                    skipped.push(skip(described, format!("an entry on side {side}")));
                    continue;
                };
                let price = market_price_on_grid(grid, r#type, quote);
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
                if let Err(bad) = levels::check_entry(symbol, side, quote, sl, tp.unwrap_or(0.0)) {
                    skipped.push(skip(described, bad.reason()));
                    continue;
                }
                let volume =
                    match size_by_risk(market.equity, params.risk_per_trade, price, sl, symbol) {
                        Sized::Volume(vol) => vol,
                        Sized::Skip(why) => {
                            skipped.push(skip(described, why));
                            continue;
                        }
                    };
                let Some(type_filling) = default_filling(symbol, r#type) else {
                    skipped.push(skip(described, filling_reason(symbol)));
                    continue;
                };
                let request = NewOrder {
                    symbol: params.symbol.clone(),
                    r#type,
                    volume,
                    price,
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
                let entry = Entry {
                    described,
                    side,
                    r#type,
                    volume,
                    price,
                    sl,
                    tp,
                    type_filling,
                    request,
                };
                match venue.enter(&entry).await? {
                    Sent::Filled {
                        ticket,
                        volume,
                        price,
                    } => {
                        own_open += 1;
                        trades.push(AlgorithmTrade::Entry(EntryTrade {
                            ticket,
                            symbol: params.symbol.clone(),
                            side,
                            volume,
                            price,
                            sl,
                            tp,
                        }));
                    }
                    Sent::Skipped(reason) => skipped.push(skip(entry.described, reason)),
                }
            }
            StrategyIntent::Exit { ticket, reason } => {
                let Some(pos) = market.own.iter().find(|p| p.ticket == ticket).cloned() else {
                    continue;
                };
                let described = json!({"action": "close", "ticket": ticket, "symbol": pos.symbol, "reason": reason});
                // The closing order trades on the other side; a type the service does not know
                // has no side to tell, and nothing is sent on a guess.
                let Some((side, r#type)) = pos
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
                    levels::check_position_change(symbol, pos.r#type, quote, pos.sl, pos.tp)
                {
                    skipped.push(skip(described, bad.reason()));
                    continue;
                }
                let Some(type_filling) = default_filling(symbol, r#type) else {
                    skipped.push(skip(described, filling_reason(symbol)));
                    continue;
                };
                let exit = Exit {
                    described,
                    price: market_price_on_grid(grid, r#type, quote),
                    position: pos,
                    side,
                    r#type,
                    type_filling,
                };
                match venue.exit(&exit).await? {
                    Sent::Filled {
                        ticket: order,
                        volume,
                        price,
                    } => trades.push(AlgorithmTrade::Exit(ExitTrade {
                        ticket: order,
                        position: ticket,
                        symbol: exit.position.symbol.clone(),
                        side,
                        volume,
                        price,
                    })),
                    Sent::Skipped(reason) => skipped.push(skip(exit.described, reason)),
                }
            }
        }
    }
    Ok((trades, skipped))
}
