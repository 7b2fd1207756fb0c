//! What can be asked of the order pipeline, as one type ([`Command`]), and how each command
//! becomes an MT5 request on the terminal under the order's own lease ([`Command::prepare`]).
//! The HTTP routes and the algorithms' intents build commands; nothing else builds an order's
//! request. Prices and quotes are read at the moment of sending, never earlier.

use super::requests::{
    close_request, default_filling, filling_unknown, market_price, order_comment, NewOrder,
    FILLING_MODE,
};
use crate::algorithms::levels::{self, Quote, Violation};
use crate::store::journal::JournalAction;
use mt5::util::{PriceGrid, Rounding};
use mt5::{
    Expected, OrderFilling, OrderTime, OrderType, PositionType, SymbolInfo, Terminal,
    TerminalError, TradeAction, TradeOrder, TradePosition, TradeRequest,
};
use std::sync::{Arc, Mutex};

/// What a command's preparation decided, under the lease and before anything is sent: send this
/// request (with the server-time offset read for its answer), refuse it by a risk limit, or
/// hold it back because the broker would refuse it at the quote of the moment.
#[derive(Debug, Clone)]
pub enum Prepared {
    Send {
        request: mt5::TradeRequest,
        offset_s: i64,
    },
    Refused(crate::risk::RiskRefusal),
    /// Not sent: a level the broker would refuse (`code` is the rule, e.g. `stops_level`;
    /// `field` the request field at fault). Journaled `refused`, answered `validation_failed`.
    Unsendable {
        code: &'static str,
        field: &'static str,
        message: String,
    },
}

/// An order held back because [`default_filling`] picks no policy for its symbol.
pub fn filling_required(info: &mt5::SymbolInfo) -> Prepared {
    Prepared::Unsendable {
        code: FILLING_MODE,
        field: "type_filling",
        message: filling_unknown(info),
    }
}

/// One order the pipeline is asked to journal and send.
#[derive(Debug, Clone)]
pub enum Command {
    /// A new order, market or pending.
    Place(Place),
    /// New levels of a pending order.
    ModifyOrder(ModifyOrder),
    /// New SL and TP of a position.
    ModifyPosition {
        ticket: u64,
        symbol: String,
        sl: f64,
        tp: f64,
    },
    /// Close a position, or part of it.
    Close(Close),
    /// Cancel a pending order.
    Cancel { ticket: u64 },
}

/// A new order as asked: the market price is read when it is sent.
#[derive(Debug, Clone)]
pub struct Place {
    pub symbol: String,
    pub r#type: OrderType,
    pub volume: f64,
    /// The pending order's price; `None`: the market's, at the moment of sending.
    pub price: Option<f64>,
    /// The limit price of a stop-limit order.
    pub stoplimit: Option<f64>,
    pub sl: f64,
    pub tp: f64,
    pub deviation: u64,
    /// `None`: the symbol's default ([`default_filling`]).
    pub type_filling: Option<OrderFilling>,
    pub type_time: OrderTime,
    /// UTC seconds; sent on the trade server's clock.
    pub expiration_utc: Option<i64>,
    pub magic: u64,
    /// The user's part of the comment, after the client id.
    pub comment: Option<String>,
    /// An algorithm's entry: priced on the symbol's grid and its levels checked at the quote of
    /// the moment.
    pub guard: Option<Guard>,
}

/// New levels of a pending order: MT5's MODIFY resends every level, so absent ones are the order's
/// own (resolved by the caller from `existing`).
#[derive(Debug, Clone)]
pub struct ModifyOrder {
    pub existing: TradeOrder,
    pub price: f64,
    pub sl: f64,
    pub tp: f64,
    pub stoplimit: f64,
    pub expiration: Expiration,
}

/// A modification's expiration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expiration {
    /// The order's own.
    Keep,
    /// Good till cancelled.
    Remove,
    /// At this UTC time (seconds).
    At(i64),
}

/// Closing `volume` of `position` with an order of `r#type` (the other side) at the market.
#[derive(Debug, Clone)]
pub struct Close {
    pub position: TradePosition,
    pub r#type: OrderType,
    pub volume: f64,
    pub deviation: u64,
    /// `None`: the symbol's default.
    pub type_filling: Option<OrderFilling>,
    pub comment: Option<String>,
    /// An algorithm's exit: priced on the grid, the position's levels checked against the freeze
    /// level at the quote of the moment.
    pub guard: Option<Guard>,
}

/// An algorithm's order: the symbol as the strategy saw it (its levels), the grid its prices keep
/// to, and where a rule that held the order back is told to the run.
#[derive(Debug, Clone)]
pub struct Guard {
    pub info: SymbolInfo,
    pub grid: PriceGrid,
    pub held: HeldBack,
}

/// A level check that failed under the lease, at the quote the order would have gone out at:
/// the order is held back (journaled `refused`) and the run's `skipped` names the rule.
#[derive(Debug, Clone, Default)]
pub struct HeldBack(Arc<Mutex<Option<Violation>>>);

impl HeldBack {
    fn hold(&self, bad: Violation) -> Prepared {
        let prepared = Prepared::Unsendable {
            code: bad.code(),
            field: bad.field,
            message: bad.message.clone(),
        };
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(bad);
        }
        prepared
    }

    /// The rule that held the order back, if one did.
    pub fn rule(&self) -> Option<Violation> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// The price a market order of `order_type` goes out at on the symbol's tick grid (a broker's
/// quote already is; a quote that is not stays as it came).
pub fn market_price_on_grid(grid: PriceGrid, order_type: OrderType, q: Quote) -> f64 {
    let raw = market_price(order_type, q.bid, q.ask);
    grid.round(raw, Rounding::Nearest).unwrap_or(raw)
}

impl Command {
    /// What the journal records it as.
    pub fn action(&self) -> JournalAction {
        match self {
            Command::Place(_) => JournalAction::Place,
            Command::ModifyOrder(_) => JournalAction::ModifyOrder,
            Command::ModifyPosition { .. } => JournalAction::ModifyPosition,
            Command::Close(_) => JournalAction::ClosePosition,
            Command::Cancel { .. } => JournalAction::CancelOrder,
        }
    }

    /// The request to send, on the terminal under the order's lease, with the server-time offset
    /// its answer is shown in; or why it is not sent. `client_id` starts the order's comment.
    pub async fn prepare(
        &self,
        t: &dyn Terminal,
        at: &Expected,
        client_id: &str,
    ) -> Result<Prepared, TerminalError> {
        match self {
            Command::Place(p) => p.prepare(t, at, client_id).await,
            Command::ModifyOrder(m) => {
                let offset = t.server_time_offset_s(at).await?;
                let existing = &m.existing;
                let (type_time, expiration) = match m.expiration {
                    Expiration::At(e) => (OrderTime::Specified, e.saturating_add(offset)),
                    Expiration::Remove => (OrderTime::Gtc, 0),
                    Expiration::Keep => (existing.type_time, existing.time_expiration),
                };
                let request = TradeRequest {
                    action: TradeAction::Modify,
                    order: existing.ticket,
                    symbol: existing.symbol.clone(),
                    price: m.price,
                    sl: m.sl,
                    tp: m.tp,
                    stoplimit: m.stoplimit,
                    type_time,
                    expiration,
                    ..Default::default()
                };
                Ok(Prepared::Send {
                    request,
                    offset_s: offset,
                })
            }
            Command::ModifyPosition {
                ticket,
                symbol,
                sl,
                tp,
            } => {
                let request = TradeRequest {
                    action: TradeAction::Sltp,
                    position: *ticket,
                    symbol: symbol.clone(),
                    sl: *sl,
                    tp: *tp,
                    ..Default::default()
                };
                as_it_is(t, at, request).await
            }
            Command::Close(c) => c.prepare(t, at, client_id).await,
            Command::Cancel { ticket } => {
                let request = TradeRequest {
                    action: TradeAction::Remove,
                    order: *ticket,
                    ..Default::default()
                };
                as_it_is(t, at, request).await
            }
        }
    }
}

/// Sends `request` as it is (reads the server-time offset its answer is shown in).
pub async fn as_it_is(
    t: &dyn Terminal,
    at: &Expected,
    request: TradeRequest,
) -> Result<Prepared, TerminalError> {
    Ok(Prepared::Send {
        offset_s: t.server_time_offset_s(at).await?,
        request,
    })
}

impl Place {
    /// The request at the current quote, with the server-time offset; the inner `Err` says why
    /// `type_filling` must be named (the symbol leaves no default). Also `POST /orders/check`'s.
    pub async fn request(
        &self,
        t: &dyn Terminal,
        at: &Expected,
        comment: String,
    ) -> Result<Result<(TradeRequest, i64), String>, TerminalError> {
        let info = t.symbol_info(at, &self.symbol).await?;
        let Some(type_filling) = self
            .type_filling
            .or_else(|| default_filling(&info, self.r#type))
        else {
            return Ok(Err(filling_unknown(&info)));
        };
        let offset = t.server_time_offset_s(at).await?;
        let price = match self.price {
            Some(p) => p,
            None => {
                let tick = t.symbol_info_tick(at, &self.symbol).await?;
                market_price(self.r#type, tick.bid, tick.ask)
            }
        };
        Ok(Ok((
            self.new_order(price, type_filling, offset, comment),
            offset,
        )))
    }

    fn new_order(
        &self,
        price: f64,
        type_filling: OrderFilling,
        offset: i64,
        comment: String,
    ) -> TradeRequest {
        NewOrder {
            symbol: self.symbol.clone(),
            r#type: self.r#type,
            volume: self.volume,
            price,
            stoplimit: self.stoplimit.unwrap_or(0.0),
            sl: self.sl,
            tp: self.tp,
            deviation: self.deviation,
            type_filling,
            type_time: self.type_time,
            expiration: self
                .expiration_utc
                .map(|e| e.saturating_add(offset))
                .unwrap_or(0),
            magic: self.magic,
            comment,
        }
        .request()
    }

    async fn prepare(
        &self,
        t: &dyn Terminal,
        at: &Expected,
        client_id: &str,
    ) -> Result<Prepared, TerminalError> {
        let comment = order_comment(client_id, self.comment.as_deref());
        let Some(guard) = &self.guard else {
            return Ok(match self.request(t, at, comment).await? {
                Ok((request, offset_s)) => Prepared::Send { request, offset_s },
                Err(message) => Prepared::Unsendable {
                    code: FILLING_MODE,
                    field: "type_filling",
                    message,
                },
            });
        };
        // Filled at the quote of the moment, not the one the strategy saw, and its levels checked
        // against that same quote.
        let tick = t.symbol_info_tick(at, &self.symbol).await?;
        let now = Quote {
            bid: tick.bid,
            ask: tick.ask,
        };
        let side = if self.r#type.is_buy() {
            PositionType::Buy
        } else {
            PositionType::Sell
        };
        if let Err(bad) = levels::check_entry(&guard.info, side, now, self.sl, self.tp) {
            return Ok(guard.held.hold(bad));
        }
        let Some(type_filling) = self
            .type_filling
            .or_else(|| default_filling(&guard.info, self.r#type))
        else {
            return Ok(filling_required(&guard.info));
        };
        let price = market_price_on_grid(guard.grid, self.r#type, now);
        let offset = t.server_time_offset_s(at).await?;
        Ok(Prepared::Send {
            request: self.new_order(price, type_filling, offset, comment),
            offset_s: offset,
        })
    }
}

impl Close {
    async fn prepare(
        &self,
        t: &dyn Terminal,
        at: &Expected,
        client_id: &str,
    ) -> Result<Prepared, TerminalError> {
        let pos = &self.position;
        let comment = order_comment(client_id, self.comment.as_deref());
        let Some(guard) = &self.guard else {
            let info = t.symbol_info(at, &pos.symbol).await?;
            let tick = t.symbol_info_tick(at, &pos.symbol).await?;
            let Some(type_filling) = self
                .type_filling
                .or_else(|| default_filling(&info, self.r#type))
            else {
                return Ok(filling_required(&info));
            };
            let price = market_price(self.r#type, tick.bid, tick.ask);
            let request = close_request(
                pos,
                self.r#type,
                self.volume,
                price,
                self.deviation,
                type_filling,
                comment,
            );
            return as_it_is(t, at, request).await;
        };
        let tick = t.symbol_info_tick(at, &pos.symbol).await?;
        let now = Quote {
            bid: tick.bid,
            ask: tick.ask,
        };
        // A position whose SL or TP is within the freeze level cannot be closed: not sent.
        if let Err(bad) =
            levels::check_position_change(&guard.info, pos.r#type, now, pos.sl, pos.tp)
        {
            return Ok(guard.held.hold(bad));
        }
        let Some(type_filling) = self
            .type_filling
            .or_else(|| default_filling(&guard.info, self.r#type))
        else {
            return Ok(filling_required(&guard.info));
        };
        let request = close_request(
            pos,
            self.r#type,
            self.volume,
            market_price_on_grid(guard.grid, self.r#type, now),
            self.deviation,
            type_filling,
            comment,
        );
        as_it_is(t, at, request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_command_is_journaled_as_its_action() {
        let order = TradeOrder::default();
        let position = TradePosition::default();
        let cases = [
            (
                Command::Place(Place {
                    symbol: "EURUSD".into(),
                    r#type: OrderType::Buy,
                    volume: 0.1,
                    price: None,
                    stoplimit: None,
                    sl: 0.0,
                    tp: 0.0,
                    deviation: 20,
                    type_filling: None,
                    type_time: OrderTime::Gtc,
                    expiration_utc: None,
                    magic: 0,
                    comment: None,
                    guard: None,
                }),
                "place",
            ),
            (
                Command::ModifyOrder(ModifyOrder {
                    existing: order,
                    price: 1.0,
                    sl: 0.0,
                    tp: 0.0,
                    stoplimit: 0.0,
                    expiration: Expiration::Keep,
                }),
                "modify_order",
            ),
            (
                Command::ModifyPosition {
                    ticket: 1,
                    symbol: "EURUSD".into(),
                    sl: 0.0,
                    tp: 0.0,
                },
                "modify_position",
            ),
            (
                Command::Close(Close {
                    position,
                    r#type: OrderType::Sell,
                    volume: 0.1,
                    deviation: 20,
                    type_filling: None,
                    comment: None,
                    guard: None,
                }),
                "close_position",
            ),
            (Command::Cancel { ticket: 1 }, "cancel_order"),
        ];
        for (command, stored) in cases {
            assert_eq!(command.action().as_str(), stored);
            assert_eq!(JournalAction::parse(stored), Some(command.action()));
        }
        assert_eq!(JournalAction::parse("deposit"), None);
    }

    #[test]
    fn a_market_price_keeps_to_the_grid() {
        let grid = PriceGrid::of(&SymbolInfo {
            digits: 3,
            point: 0.001,
            trade_tick_size: 0.001,
            ..Default::default()
        });
        let q = Quote {
            bid: 1.10049,
            ask: 1.10151,
        };
        assert!((market_price_on_grid(grid, OrderType::Buy, q) - 1.102).abs() < 1e-12);
        assert!((market_price_on_grid(grid, OrderType::Sell, q) - 1.100).abs() < 1e-12);
    }
}
