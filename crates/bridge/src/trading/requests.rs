//! The MT5 requests the service builds, one copy each: the comment with the client id that finds an
//! order again, the filling policy, the price a market order takes, the close of a position.

use mt5::{OrderFilling, OrderTime, OrderType, TradeAction, TradePosition, TradeRequest};
use rand::Rng;

/// The client id takes the first 12 characters of the comment ([`COMMENT_MAX`] in all).
pub use mt5::COMMENT_MAX;

const CLIENT_ID_LEN: usize = 12;

/// The characters of a client id after its `mb` prefix (no `l`, `o`, `0`, `1`).
const CLIENT_ID_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Whether `id` has the service's client-id form, `^mb[a-km-np-z2-9]{10}$`: reconciliation
/// looks up only ids the service made, never one written into the journal by anyone else.
pub fn is_client_id(id: &str) -> bool {
    id.len() == CLIENT_ID_LEN
        && id.starts_with("mb")
        && id.bytes().skip(2).all(|b| CLIENT_ID_ALPHABET.contains(&b))
}

/// Whether a broker comment carries `client_id`: its first 12 characters are the id and it ends
/// there or goes on with a space (the user's comment). A prefix alone is not enough: another
/// order's comment could start with the same characters and go on.
pub fn comment_has_client_id(comment: &str, client_id: &str) -> bool {
    match comment.strip_prefix(client_id) {
        Some(rest) => is_client_id(client_id) && (rest.is_empty() || rest.starts_with(' ')),
        None => false,
    }
}

/// A fresh client id: `mb` + 10 base-32 characters, unique enough to find an order in history.
pub fn new_client_id() -> String {
    const ALPHABET: &[u8] = CLIENT_ID_ALPHABET;
    let mut rng = rand::thread_rng();
    let mut s = String::from("mb");
    while s.len() < CLIENT_ID_LEN {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

/// The MT5 comment: the client id, then as much of the user's comment as fits (ASCII only).
pub fn order_comment(client_id: &str, user_comment: Option<&str>) -> String {
    let mut c = client_id.to_string();
    if let Some(u) = user_comment {
        let clean: String = u
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || " _-.".contains(*ch))
            .collect();
        let clean = clean.trim();
        if !clean.is_empty() {
            c.push(' ');
            c.push_str(clean);
        }
    }
    c.chars().take(COMMENT_MAX).collect()
}

/// The filling policy MT5 will accept for this symbol: IOC, else FOK, else RETURN; pending: RETURN.
///
/// `None` when the symbol's `filling_mode` has bits the service does not know and none of FOK and
/// IOC: it accepts something the service cannot name, and RETURN would be a guess. The caller then
/// asks for an explicit `type_filling` ([`super::filling_required`]) rather than send an order on a guess.
pub fn default_filling(
    info: &mt5::SymbolInfo,
    order_type: mt5::OrderType,
) -> Option<mt5::OrderFilling> {
    use mt5::filling_mode::{BOC, FOK, IOC};
    use mt5::SymbolTradeExecution as Exec;
    if order_type.is_pending() {
        return Some(mt5::OrderFilling::Return);
    }
    match info.trade_exemode {
        // Request and Instant execution fill FOK whatever is asked.
        Exec::Request | Exec::Instant => return Some(mt5::OrderFilling::Fok),
        // An execution mode the service does not know: the symbol's filling bits still say what
        // it accepts, and they are read as for Market and Exchange execution.
        Exec::Market | Exec::Exchange | Exec::Unknown(_) => {}
    }
    let bits = info.filling_mode;
    if bits & IOC != 0 {
        Some(mt5::OrderFilling::Ioc)
    } else if bits & FOK != 0 {
        Some(mt5::OrderFilling::Fok)
    } else if bits & !(FOK | IOC | BOC) != 0 {
        None
    } else {
        Some(mt5::OrderFilling::Return)
    }
}

/// The code an order is held back with when [`default_filling`] picks no policy for its symbol
/// (it is answered `validation_failed` naming `type_filling`).
pub const FILLING_MODE: &str = "filling_mode";

/// Why [`default_filling`] picked no policy for `info`: the order must name `type_filling`.
pub fn filling_unknown(info: &mt5::SymbolInfo) -> String {
    use mt5::enums::Mt5Enum;
    format!(
        "{}'s filling_mode ({}) has only filling policies the service does not know, so none is \
         picked for you; name type_filling: one of {}",
        info.name,
        info.filling_mode,
        mt5::OrderFilling::names().join(", ")
    )
}

/// The side of the book a market order of `order_type` fills on: the ask for a buy, the bid for
/// a sell (the one copy of that pick).
pub fn market_price(order_type: OrderType, bid: f64, ask: f64) -> f64 {
    if order_type.is_buy() {
        ask
    } else {
        bid
    }
}

/// The market order that closes `volume` of `position` with an order of `close_type` (the other
/// side) at `price`: the one copy of the close request, for the API and the algorithms.
pub fn close_request(
    position: &TradePosition,
    close_type: OrderType,
    volume: f64,
    price: f64,
    deviation: u64,
    type_filling: OrderFilling,
    comment: String,
) -> TradeRequest {
    TradeRequest {
        action: TradeAction::Deal,
        position: position.ticket,
        symbol: position.symbol.clone(),
        volume,
        price,
        deviation,
        r#type: close_type,
        type_filling,
        magic: position.magic,
        comment,
        ..Default::default()
    }
}

/// A new order, market or pending, as the service sends it: the API's and the algorithms' orders
/// both go through [`NewOrder::request`], the one copy of that request.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub symbol: String,
    pub r#type: OrderType,
    pub volume: f64,
    pub price: f64,
    /// The limit price of a stop-limit order (0 otherwise).
    pub stoplimit: f64,
    pub sl: f64,
    pub tp: f64,
    pub deviation: u64,
    pub type_filling: OrderFilling,
    pub type_time: OrderTime,
    /// On the trade server's clock (0: none).
    pub expiration: i64,
    pub magic: u64,
    pub comment: String,
}

impl NewOrder {
    /// The request: a deal for a market type, a pending order otherwise.
    pub fn request(self) -> TradeRequest {
        TradeRequest {
            action: if self.r#type.is_market() {
                TradeAction::Deal
            } else {
                TradeAction::Pending
            },
            magic: self.magic,
            symbol: self.symbol,
            volume: self.volume,
            price: self.price,
            stoplimit: self.stoplimit,
            sl: self.sl,
            tp: self.tp,
            deviation: self.deviation,
            r#type: self.r#type,
            type_filling: self.type_filling,
            type_time: self.type_time,
            expiration: self.expiration,
            comment: self.comment,
            ..Default::default()
        }
    }
}
