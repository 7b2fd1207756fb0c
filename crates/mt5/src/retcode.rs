//! Trade server return codes (`retcode`), with MT5's constant names and meanings.

/// One return code: number, constant name (`TRADE_RETCODE_` prefix dropped) and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retcode {
    pub code: u32,
    pub name: &'static str,
    pub description: &'static str,
}

pub const REQUOTE: u32 = 10004;
pub const REJECT: u32 = 10006;
pub const CANCEL: u32 = 10007;
pub const PLACED: u32 = 10008;
pub const DONE: u32 = 10009;
pub const DONE_PARTIAL: u32 = 10010;
pub const ERROR: u32 = 10011;
pub const TIMEOUT: u32 = 10012;
pub const INVALID: u32 = 10013;
pub const INVALID_VOLUME: u32 = 10014;
pub const INVALID_PRICE: u32 = 10015;
pub const INVALID_STOPS: u32 = 10016;
pub const TRADE_DISABLED: u32 = 10017;
pub const MARKET_CLOSED: u32 = 10018;
pub const NO_MONEY: u32 = 10019;
pub const PRICE_CHANGED: u32 = 10020;
pub const PRICE_OFF: u32 = 10021;
pub const INVALID_EXPIRATION: u32 = 10022;
pub const ORDER_CHANGED: u32 = 10023;
pub const TOO_MANY_REQUESTS: u32 = 10024;
pub const NO_CHANGES: u32 = 10025;
pub const SERVER_DISABLES_AT: u32 = 10026;
pub const CLIENT_DISABLES_AT: u32 = 10027;
pub const LOCKED: u32 = 10028;
pub const FROZEN: u32 = 10029;
pub const INVALID_FILL: u32 = 10030;
pub const CONNECTION: u32 = 10031;
pub const ONLY_REAL: u32 = 10032;
pub const LIMIT_ORDERS: u32 = 10033;
pub const LIMIT_VOLUME: u32 = 10034;
pub const INVALID_ORDER: u32 = 10035;
pub const POSITION_CLOSED: u32 = 10036;
pub const INVALID_CLOSE_VOLUME: u32 = 10038;
pub const CLOSE_ORDER_EXIST: u32 = 10039;
pub const LIMIT_POSITIONS: u32 = 10040;
pub const REJECT_CANCEL: u32 = 10041;
pub const LONG_ONLY: u32 = 10042;
pub const SHORT_ONLY: u32 = 10043;
pub const CLOSE_ONLY: u32 = 10044;
pub const FIFO_CLOSE: u32 = 10045;
pub const HEDGE_PROHIBITED: u32 = 10046;
/// `order_check` success: retcode 0 with comment "Done".
pub const CHECK_OK: u32 = 0;

const TABLE: &[Retcode] = &[
    Retcode {
        code: 0,
        name: "OK",
        description: "Done (order_check passed)",
    },
    Retcode {
        code: REQUOTE,
        name: "REQUOTE",
        description: "Requote",
    },
    Retcode {
        code: REJECT,
        name: "REJECT",
        description: "Request rejected",
    },
    Retcode {
        code: CANCEL,
        name: "CANCEL",
        description: "Request canceled by trader",
    },
    Retcode {
        code: PLACED,
        name: "PLACED",
        description: "Order placed",
    },
    Retcode {
        code: DONE,
        name: "DONE",
        description: "Request completed",
    },
    Retcode {
        code: DONE_PARTIAL,
        name: "DONE_PARTIAL",
        description: "Only part of the request was completed",
    },
    Retcode {
        code: ERROR,
        name: "ERROR",
        description: "Request processing error",
    },
    Retcode {
        code: TIMEOUT,
        name: "TIMEOUT",
        description: "Request canceled by timeout",
    },
    Retcode {
        code: INVALID,
        name: "INVALID",
        description: "Invalid request",
    },
    Retcode {
        code: INVALID_VOLUME,
        name: "INVALID_VOLUME",
        description: "Invalid volume in the request",
    },
    Retcode {
        code: INVALID_PRICE,
        name: "INVALID_PRICE",
        description: "Invalid price in the request",
    },
    Retcode {
        code: INVALID_STOPS,
        name: "INVALID_STOPS",
        description: "Invalid stops in the request",
    },
    Retcode {
        code: TRADE_DISABLED,
        name: "TRADE_DISABLED",
        description: "Trade is disabled",
    },
    Retcode {
        code: MARKET_CLOSED,
        name: "MARKET_CLOSED",
        description: "Market is closed",
    },
    Retcode {
        code: NO_MONEY,
        name: "NO_MONEY",
        description: "There is not enough money to complete the request",
    },
    Retcode {
        code: PRICE_CHANGED,
        name: "PRICE_CHANGED",
        description: "Prices changed",
    },
    Retcode {
        code: PRICE_OFF,
        name: "PRICE_OFF",
        description: "There are no quotes to process the request",
    },
    Retcode {
        code: INVALID_EXPIRATION,
        name: "INVALID_EXPIRATION",
        description: "Invalid order expiration date in the request",
    },
    Retcode {
        code: ORDER_CHANGED,
        name: "ORDER_CHANGED",
        description: "Order state changed",
    },
    Retcode {
        code: TOO_MANY_REQUESTS,
        name: "TOO_MANY_REQUESTS",
        description: "Too frequent requests",
    },
    Retcode {
        code: NO_CHANGES,
        name: "NO_CHANGES",
        description: "No changes in request",
    },
    Retcode {
        code: SERVER_DISABLES_AT,
        name: "SERVER_DISABLES_AT",
        description: "Autotrading disabled by server",
    },
    Retcode {
        code: CLIENT_DISABLES_AT,
        name: "CLIENT_DISABLES_AT",
        description: "Autotrading disabled by client terminal",
    },
    Retcode {
        code: LOCKED,
        name: "LOCKED",
        description: "Request locked for processing",
    },
    Retcode {
        code: FROZEN,
        name: "FROZEN",
        description: "Order or position frozen",
    },
    Retcode {
        code: INVALID_FILL,
        name: "INVALID_FILL",
        description: "Invalid order filling type",
    },
    Retcode {
        code: CONNECTION,
        name: "CONNECTION",
        description: "No connection with the trade server",
    },
    Retcode {
        code: ONLY_REAL,
        name: "ONLY_REAL",
        description: "Operation is allowed only for live accounts",
    },
    Retcode {
        code: LIMIT_ORDERS,
        name: "LIMIT_ORDERS",
        description: "The number of pending orders has reached the limit",
    },
    Retcode {
        code: LIMIT_VOLUME,
        name: "LIMIT_VOLUME",
        description: "The volume of orders and positions for the symbol has reached the limit",
    },
    Retcode {
        code: INVALID_ORDER,
        name: "INVALID_ORDER",
        description: "Incorrect or prohibited order type",
    },
    Retcode {
        code: POSITION_CLOSED,
        name: "POSITION_CLOSED",
        description: "Position with the specified POSITION_IDENTIFIER has already been closed",
    },
    Retcode {
        code: INVALID_CLOSE_VOLUME,
        name: "INVALID_CLOSE_VOLUME",
        description: "A close volume exceeds the current position volume",
    },
    Retcode {
        code: CLOSE_ORDER_EXIST,
        name: "CLOSE_ORDER_EXIST",
        description: "A close order already exists for a specified position",
    },
    Retcode {
        code: LIMIT_POSITIONS,
        name: "LIMIT_POSITIONS",
        description: "The number of open positions has reached the limit",
    },
    Retcode {
        code: REJECT_CANCEL,
        name: "REJECT_CANCEL",
        description: "The pending order activation request is rejected, the order is canceled",
    },
    Retcode {
        code: LONG_ONLY,
        name: "LONG_ONLY",
        description: "Only long positions are allowed",
    },
    Retcode {
        code: SHORT_ONLY,
        name: "SHORT_ONLY",
        description: "Only short positions are allowed",
    },
    Retcode {
        code: CLOSE_ONLY,
        name: "CLOSE_ONLY",
        description: "Only position closing is allowed",
    },
    Retcode {
        code: FIFO_CLOSE,
        name: "FIFO_CLOSE",
        description: "Position closing is allowed only by FIFO rule",
    },
    Retcode {
        code: HEDGE_PROHIBITED,
        name: "HEDGE_PROHIBITED",
        description: "Opposite positions on a single symbol are disabled",
    },
];

/// Every return code, for docs and tests.
pub fn all() -> &'static [Retcode] {
    TABLE
}

pub fn lookup(code: u32) -> Option<&'static Retcode> {
    TABLE.iter().find(|r| r.code == code)
}

/// The constant name for a retcode (`"INVALID_STOPS"`), or `"UNKNOWN"`.
pub fn name(code: u32) -> &'static str {
    lookup(code).map(|r| r.name).unwrap_or("UNKNOWN")
}

/// MT5's usual server comment for a retcode (what `OrderSendResult::comment` holds).
pub fn comment(code: u32) -> &'static str {
    match code {
        0 => "Done",
        DONE => "Request executed",
        PLACED => "Request executed",
        INVALID => "Invalid request",
        INVALID_VOLUME => "Invalid volume",
        INVALID_PRICE => "Invalid price",
        INVALID_STOPS => "Invalid stops",
        MARKET_CLOSED => "Market closed",
        NO_MONEY => "No money",
        INVALID_FILL => "Unsupported filling mode",
        FROZEN => "Frozen",
        CLIENT_DISABLES_AT => "AutoTrading disabled by client",
        other => lookup(other)
            .map(|r| r.description)
            .unwrap_or("Unknown error"),
    }
}

/// Success outcomes for order_send: placed, done, done partially.
pub fn is_success(code: u32) -> bool {
    matches!(code, PLACED | DONE | DONE_PARTIAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_comments() {
        assert_eq!(name(10016), "INVALID_STOPS");
        assert_eq!(comment(10016), "Invalid stops");
        assert_eq!(comment(10009), "Request executed");
        assert_eq!(name(1), "UNKNOWN");
        assert!(is_success(10008) && is_success(10009) && !is_success(10019));
        let mut codes: Vec<u32> = all().iter().map(|r| r.code).collect();
        codes.dedup();
        assert_eq!(codes.len(), all().len());
    }
}
