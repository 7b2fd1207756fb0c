//! The MetaTrader 5 domain: everything above the terminal speaks this vocabulary.
//!
//! Names follow the official `MetaTrader5` Python package so that anyone who knows MT5 recognises every
//! field. Enums carry MT5's numeric values and serialize, everywhere in JSON, as the lower-case MT5
//! constant name without its prefix (`ORDER_TYPE_BUY_LIMIT` → `"buy_limit"`); the numeric form is
//! available through [`enums::numeric`] for the terminal-agent protocol. A value MT5 reports outside
//! an enum's list is carried as its `Unknown(n)` (`"unknown_<n>"`), never refused.
//!
//! - [`enums`]: the MT5 enumerations (with `Unknown(n)` for values outside their lists) and bit flags.
//! - [`types`]: AccountInfo, SymbolInfo, Tick, Rate, TradeRequest, OrderCheckResult, OrderSendResult,
//!   TradePosition, TradeOrder, TradeDeal.
//! - [`retcode`]: trade server return codes with names and meanings.
//! - [`error`]: terminal error codes (`last_error`) and [`TerminalError`].
//! - [`terminal`]: the async [`Terminal`] trait every backend (simulator, agent) implements.
//! - [`util`]: symbol group masks, volume-step and price-tick arithmetic in integer units.
//! - [`wire`]: the structures in the terminal-agent protocol's form (enums as MT5 integers).
//! - `openapi` (feature `openapi`): the structures' and enums' OpenAPI schemas as the HTTP API
//!   writes them (times as RFC 3339 UTC, enums by name).

pub mod clock;
pub mod enums;
pub mod error;
pub mod retcode;
pub mod session;
pub mod terminal;
pub mod types;
pub mod util;
pub mod wire;

#[cfg(feature = "openapi")]
pub use enums::openapi;
pub use enums::*;
pub use error::{last_error, TerminalError};
pub use session::{same_server, AccountKey, Expected, Session, SessionTag};
pub use terminal::{
    HistorySelect, Page, PageRequest, PositionFilter, RatesRange, Terminal, TerminalFlags,
};
pub use types::*;
