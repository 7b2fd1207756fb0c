//! The routes the tests call, named once: a path that changes changes here.

use std::fmt::Display;

pub const ACCOUNTS: &str = "/api/v1/accounts";
pub const CONNECT: &str = "/api/v1/accounts/connect";
pub const CURRENT_ACCOUNT: &str = "/api/v1/accounts/current";
pub const AUDIT: &str = "/api/v1/audit";
pub const ACCOUNT: &str = "/api/v1/account";
pub const SYMBOLS: &str = "/api/v1/symbols";
pub const POSITIONS: &str = "/api/v1/positions";
pub const ORDERS: &str = "/api/v1/orders";
pub const ORDERS_CHECK: &str = "/api/v1/orders/check";
pub const HISTORY_DEALS: &str = "/api/v1/history/deals";
pub const HISTORY_ORDERS: &str = "/api/v1/history/orders";
pub const JOURNAL: &str = "/api/v1/journal";
pub const STREAM: &str = "/api/v1/stream";
pub const ALGORITHMS: &str = "/api/v1/algorithms";
pub const EXECUTE: &str = "/api/v1/algorithms/execute";
pub const RUNS: &str = "/api/v1/algorithms/runs";
pub const BOTS: &str = "/api/v1/bots";
pub const KILL_SWITCH: &str = "/api/v1/bots/kill_switch";

pub fn bot(id: impl Display) -> String {
    format!("{BOTS}/{id}")
}

/// `/bots/{id}/pause`, `/resume` or `/stop`.
pub fn bot_action(id: impl Display, action: &str) -> String {
    format!("{BOTS}/{id}/{action}")
}

pub fn account(id: impl Display) -> String {
    format!("{ACCOUNTS}/{id}")
}

pub fn switch(id: impl Display) -> String {
    format!("{ACCOUNTS}/{id}/switch")
}

pub fn symbol(name: impl Display) -> String {
    format!("{SYMBOLS}/{name}")
}

pub fn tick(name: impl Display) -> String {
    format!("{SYMBOLS}/{name}/tick")
}

pub fn rates(name: impl Display) -> String {
    format!("{SYMBOLS}/{name}/rates")
}

pub fn position(ticket: impl Display) -> String {
    format!("{POSITIONS}/{ticket}")
}

pub fn close_position(ticket: impl Display) -> String {
    format!("{POSITIONS}/{ticket}/close")
}

pub fn order(ticket: impl Display) -> String {
    format!("{ORDERS}/{ticket}")
}

pub fn journal_entry(id: impl Display) -> String {
    format!("{JOURNAL}/{id}")
}

pub fn algorithm(id: impl Display) -> String {
    format!("{ALGORITHMS}/{id}")
}

pub fn run(id: impl Display) -> String {
    format!("{RUNS}/{id}")
}

pub const BACKTESTS: &str = "/api/v1/backtests";

pub fn backtest(id: impl Display) -> String {
    format!("{BACKTESTS}/{id}")
}

pub fn backtest_trades(id: impl Display) -> String {
    format!("{BACKTESTS}/{id}/trades")
}

pub fn backtest_equity(id: impl Display) -> String {
    format!("{BACKTESTS}/{id}/equity")
}
