//! The terminal-agent protocol's messages: one type per request body, argument list and answer,
//! serialized by one end and read by the other (`agent/client.rs` and `agent/server.rs` both use
//! these, as mini-redis's commands parse and write their own frames). MT5's structures travel in
//! [`mt5::wire`]'s form (enum fields as integers) inside them.
//!
//! The same types make the protocol's JSON Schema ([`protocol_schema`]), committed as
//! `agent/tests/protocol.schema.json`: the conformance suite checks every request it sends and
//! every answer it gets against it, for the Python agent and `sim-agent` alike, and a test here
//! fails when the committed file is not what the types make.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// The protocol version both sides speak: `sim-agent` reports it, the bridge sends its messages.
pub const PROTOCOL_VERSION: &str = "3";

/// The versions a bridge accepts from an agent: 3, and 2 (no `client_id`, no ledger: its orders
/// in doubt are settled from the broker's history). Bridges roll out first, then agents.
pub const ACCEPTED_VERSIONS: &[&str] = &["2", "3"];

/// The longest `client_id` an agent keeps (the bridge's are 12 characters).
pub const CLIENT_ID_MAX: usize = 64;

/// Whether `id` is a `client_id` the protocol carries: 1 to [`CLIENT_ID_MAX`] characters from
/// `A-Za-z0-9_-`.
pub fn is_wire_client_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= CLIENT_ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// An account as the protocol names it (`expected`, `actual`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WireAccount {
    pub login: u64,
    pub server: String,
}

impl From<&mt5::AccountKey> for WireAccount {
    fn from(k: &mt5::AccountKey) -> Self {
        WireAccount {
            login: k.login,
            server: k.server.clone(),
        }
    }
}

impl From<WireAccount> for mt5::AccountKey {
    fn from(w: WireAccount) -> Self {
        mt5::AccountKey::new(w.login, w.server)
    }
}

/// The session a call expects (`expected`): the account and the credential's tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WireSession {
    pub login: u64,
    pub server: String,
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub session_tag: mt5::SessionTag,
}

impl From<&mt5::Expected> for WireSession {
    fn from(e: &mt5::Expected) -> Self {
        WireSession {
            login: e.account.login,
            server: e.account.server.clone(),
            session_tag: e.tag,
        }
    }
}

/// An account password as a login carries it: written out only into the request body, never
/// shown by `Debug` (there is none) or logged.
pub struct WirePassword(pub SecretString);

impl Serialize for WirePassword {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose_secret())
    }
}

impl<'de> Deserialize<'de> for WirePassword {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SecretString::deserialize(d).map(WirePassword)
    }
}

/// Body of `POST /v1/login`.
// No `Debug`: it holds the password.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LoginBody {
    pub login: u64,
    #[schema(value_type = String)]
    pub password: WirePassword,
    pub server: String,
    /// Kept as the session's tag; calls must name it (never logged).
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub session_tag: mt5::SessionTag,
    pub timeout_ms: u64,
    #[serde(default)]
    pub lease: Option<u64>,
}

/// Answer of `POST /v1/login`: the account, in the protocol's form.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LoginAnswer {
    #[schema(value_type = structures::AccountInfo)]
    pub account_info: Value,
}

/// Body of `POST /v1/logout` (`{}` will do).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct LogoutBody {
    #[serde(default)]
    pub lease: Option<u64>,
}

/// Answer of `POST /v1/logout` (and of the simulator's admin call): `{}`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

/// Body of `POST /v1/call/<operation>`; `args` are the operation's (see `operations`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CallBody {
    pub expected: WireSession,
    /// The call's remaining budget in milliseconds, from when the agent receives it: after it, the
    /// agent starts no MT5 call and answers `504 deadline_exceeded` ("not sent"). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(default)]
    pub lease: Option<u64>,
    /// `order_send` (v3, required there): the caller's id for this order, the key of the agent's
    /// ledger. An `order_send` with an id already answered replays that answer; one with an id
    /// the ledger settled as never received is refused (`409 client_id_settled`). Other
    /// operations ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: Option<String>,
    /// The operation's arguments (absent or `null`: none).
    #[serde(default = "empty_object")]
    #[schema(value_type = Option<Object>)]
    pub args: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// Answer of `POST /v1/call/<operation>`: the operation's result (see `operations`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallAnswer {
    #[schema(value_type = Value)]
    pub result: Value,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub connected: bool,
    /// The account the terminal is on; `null` while logged out.
    #[schema(required = true)]
    pub login: Option<u64>,
    #[schema(required = true)]
    pub server: Option<String>,
    /// `python` or `sim`.
    pub agent: String,
    pub version: String,
    /// The tag of the current session; `null` when logged out or unknown.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$", required = true)]
    pub session_tag: Option<mt5::SessionTag>,
    /// The newest lease the agent has seen (fencing), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<u64>,
    /// `terminal_info()`'s `connected`, `trade_allowed` and `tradeapi_disabled`; `null` when unread.
    #[serde(default)]
    #[schema(value_type = Option<TerminalInfo>)]
    pub terminal_info: Option<mt5::TerminalFlags>,
    /// The agent's ledger (v3; absent from a v2 agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerHealth>,
}

/// The ledger as `/v1/health` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LedgerHealth {
    /// The ledger's id, made at random when its file was created; `null` when it cannot be read.
    #[schema(required = true)]
    pub id: Option<String>,
    /// How long entries are kept, in seconds (7 days by default).
    pub retention_s: u64,
    /// Why the ledger cannot be used (a corrupted file): the agent then refuses `order_send`
    /// (`503 ledger_unavailable`) until an operator moves the file aside. `null` when usable.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// What a ledger knows of one `client_id`, for the session that asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LedgerState {
    /// The terminal answered; `answer` is what the agent answered (MT5's result, or an error
    /// that proves nothing ran).
    Answered,
    /// Received by this agent process, the call still running: ask again.
    Running,
    /// Received before the agent's last restart (or the call failed in a way that proves
    /// nothing), never answered: the agent cannot tell whether MT5 ran it.
    Interrupted,
    /// Never received: the agent has recorded a tombstone, and refuses any later `order_send`
    /// with this id (`409 client_id_settled`).
    NeverReceived,
    /// The entry belongs to another session (another account, or another credential): the agent
    /// cannot tell this caller anything.
    Unknown,
}

impl LedgerState {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerState::Answered => "answered",
            LedgerState::Running => "running",
            LedgerState::Interrupted => "interrupted",
            LedgerState::NeverReceived => "never_received",
            LedgerState::Unknown => "unknown",
        }
    }
}

/// An `order_send`'s stored answer: the result, or the error the agent answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredAnswer {
    /// The HTTP status the agent answered (200 with a result).
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<structures::OrderSendResult>)]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// One `client_id` in a `ledger` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LedgerEntry {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub client_id: String,
    pub state: LedgerState,
    /// With `answered` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<StoredAnswer>,
}

/// The schema of [`mt5::TerminalFlags`] as health writes it.
#[derive(ToSchema)]
#[allow(dead_code)] // reason: only its schema is used; health carries `mt5::TerminalFlags`
pub struct TerminalInfo {
    connected: bool,
    trade_allowed: bool,
    tradeapi_disabled: bool,
}

/// MT5's `last_error()`: `[code, message]`.
pub struct LastError;

impl PartialSchema for LastError {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .prefix_items([
                Schema::from(ObjectBuilder::new().schema_type(Type::Integer)),
                Schema::from(ObjectBuilder::new().schema_type(Type::String)),
            ])
            .min_items(Some(2))
            .max_items(Some(2))
            .description(Some("MT5's last_error(): [code, message]"))
            .into()
    }
}

impl ToSchema for LastError {}

/// The `error` object of every failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default)]
    #[schema(value_type = Option<LastError>)]
    pub last_error: Option<(i32, String)>,
    #[serde(default)]
    pub actual: Option<WireAccount>,
    /// `invalid_argument` only: MT5's code (-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mt5_code: Option<i32>,
    /// `invalid_argument` only: the argument MT5 named, else `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The body of every failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

// ---- The operations' arguments ----

/// `account_info`, `server_time_offset`: none.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct NoArgs {}

/// `symbols`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct GroupArgs {
    #[serde(default)]
    pub group: Option<String>,
}

/// `symbol_info`, `symbol_info_tick`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SymbolArgs {
    pub symbol: String,
}

/// `copy_rates`: `from_pos` takes `start` and `count`, `from` `date_from` and `count`, `range`
/// `date_from` and `date_to`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RatesArgs {
    pub symbol: String,
    /// MT5's TIMEFRAME integer.
    pub timeframe: i64,
    /// `from_pos`, `from` or `range`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<i64>,
}

/// `positions`, `orders`: at most one of them.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct FilterArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
}

/// `order_calc_margin` (`action`: ORDER_TYPE buy 0 / sell 1).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MarginArgs {
    pub action: i64,
    pub symbol: String,
    pub volume: f64,
    pub price: f64,
}

/// `order_calc_profit`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfitArgs {
    pub action: i64,
    pub symbol: String,
    pub volume: f64,
    pub price_open: f64,
    pub price_close: f64,
}

/// `order_check`, `order_send`: a TradeRequest in [`mt5::wire`] form (the fields it needs; the
/// rest are MT5's zeros).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestArgs {
    #[schema(value_type = structures::TradeRequestArgs)]
    pub request: Value,
}

/// `history_deals`, `history_orders`: `date_from` and `date_to` (and `group`), or `ticket`, or
/// `position`; with `limit` (1 to 10000), one page from `offset`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct HistoryArgs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 10000)]
    pub limit: Option<u32>,
}

/// `ledger`: the client ids to look up (1 to 100), for the call's `expected` session.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LedgerArgs {
    #[schema(min_items = 1, max_items = 100)]
    pub client_ids: Vec<String>,
}

/// The most client ids one `ledger` call looks up.
pub const LEDGER_QUERY_MAX: usize = 100;

/// Result of `ledger`: the ledger's id and one entry per client id asked, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LedgerAnswer {
    pub ledger_id: String,
    pub entries: Vec<LedgerEntry>,
}

/// A page of a history call: the items from `offset` and the offset of the next page.
#[derive(Debug, Serialize, Deserialize)]
pub struct Page {
    pub items: Value,
    pub next: Option<u64>,
}

/// The structures as results name them, each described by [`mt5::wire::schema`].
pub mod structures {
    // Named from their crates, not `super`: this file stays a leaf of `agent/`.
    use mt5::wire::Kind;
    use serde_json::{json, Value};
    use std::borrow::Cow;
    use utoipa::openapi::{RefOr, Schema};
    use utoipa::{PartialSchema, ToSchema};

    macro_rules! structures {
        ($($name:ident => $kind:ident),+ $(,)?) => {$(
            #[doc = concat!("The schema of `", stringify!($kind), "` in the protocol's form.")]
            pub struct $name;
            impl PartialSchema for $name {
                fn schema() -> RefOr<Schema> {
                    from_json(mt5::wire::schema(Kind::$kind))
                }
            }
            impl ToSchema for $name {
                fn name() -> Cow<'static, str> {
                    Cow::Borrowed(stringify!($name))
                }
            }
        )+};
    }

    structures!(
        AccountInfo => AccountInfo,
        SymbolInfo => SymbolInfo,
        Tick => Tick,
        Rate => Rate,
        OrderCheckResult => OrderCheckResult,
        OrderSendResult => OrderSendResult,
        TradePosition => TradePosition,
        TradeOrder => TradeOrder,
        TradeDeal => TradeDeal,
    );

    /// A TradeRequest as a call sends it: the fields of `TradeRequest`, none required.
    pub struct TradeRequestArgs;

    impl PartialSchema for TradeRequestArgs {
        fn schema() -> RefOr<Schema> {
            let mut s = mt5::wire::schema(Kind::TradeRequest);
            if let Some(o) = s.as_object_mut() {
                o.remove("required");
                o.insert(
                    "description".into(),
                    json!("A TradeRequest in the protocol's form: the fields the action needs, the others MT5's zeros"),
                );
            }
            from_json(s)
        }
    }

    impl ToSchema for TradeRequestArgs {}

    /// A schema written as JSON (the structures' come as JSON from the `mt5` crate).
    fn from_json(v: Value) -> RefOr<Schema> {
        serde_json::from_value(v).unwrap_or_else(|_| RefOr::T(Schema::default()))
    }
}

// ---- The operations ----

/// Adds a type's schema (and those it names) to the document's definitions; a reference to it.
type Define = fn(&mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema>;

/// What a call's result is.
enum Returns {
    /// One structure.
    One(Define),
    /// A list of structures.
    List(Define),
    /// A list, or with `limit` a page of them.
    Paged(Define),
    /// A number.
    Number,
    /// An integer, or `null`.
    OptionalInteger,
}

macro_rules! operations {
    ($($variant:ident = $name:literal, $args:ty, $result:expr;)+) => {
        /// The operations of `POST /v1/call/<operation>`: each named once, with its arguments'
        /// type and its result, so the agent's routing, the client's calls and the schema agree.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Operation {
            $($variant,)+
        }

        impl Operation {
            /// Every operation, in docs/agent-protocol.md's order.
            pub const ALL: &'static [Operation] = &[$(Operation::$variant,)+];

            /// The operation as its path names it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Operation::$variant => $name,)+
                }
            }

            /// The operation a path names, if any.
            pub fn from_name(name: &str) -> Option<Operation> {
                Self::ALL.iter().copied().find(|o| o.name() == name)
            }

            /// The arguments' schema (a reference), with it and the schemas it names added to
            /// `defs`.
            fn args_schema(self, defs: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
                match self {
                    $(Operation::$variant => define::<$args>(defs),)+
                }
            }

            fn result(self) -> Returns {
                match self {
                    $(Operation::$variant => $result,)+
                }
            }
        }
    };
}

operations! {
    AccountInfo = "account_info", NoArgs, Returns::One(define::<structures::AccountInfo>);
    Symbols = "symbols", GroupArgs, Returns::List(define::<structures::SymbolInfo>);
    SymbolInfo = "symbol_info", SymbolArgs, Returns::One(define::<structures::SymbolInfo>);
    SymbolInfoTick = "symbol_info_tick", SymbolArgs, Returns::One(define::<structures::Tick>);
    CopyRates = "copy_rates", RatesArgs, Returns::List(define::<structures::Rate>);
    Positions = "positions", FilterArgs, Returns::List(define::<structures::TradePosition>);
    Orders = "orders", FilterArgs, Returns::List(define::<structures::TradeOrder>);
    OrderCalcMargin = "order_calc_margin", MarginArgs, Returns::Number;
    OrderCalcProfit = "order_calc_profit", ProfitArgs, Returns::Number;
    OrderCheck = "order_check", RequestArgs, Returns::One(define::<structures::OrderCheckResult>);
    OrderSend = "order_send", RequestArgs, Returns::One(define::<structures::OrderSendResult>);
    HistoryDeals = "history_deals", HistoryArgs, Returns::Paged(define::<structures::TradeDeal>);
    HistoryOrders = "history_orders", HistoryArgs, Returns::Paged(define::<structures::TradeOrder>);
    ServerTimeOffset = "server_time_offset", NoArgs, Returns::OptionalInteger;
    Ledger = "ledger", LedgerArgs, Returns::One(define::<LedgerAnswer>);
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// A type's schema and those it names, added to `defs`; a reference to it.
fn define<T: ToSchema>(defs: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    let name = T::name();
    T::schemas(defs);
    defs.push((name.to_string(), T::schema()));
    reference(&name)
}

/// The protocol's JSON Schema (2020-12), made from the types above: the bodies and answers of
/// each endpoint, each operation's `args` and `result`, the error body; every named type under
/// `$defs`.
pub fn protocol_schema() -> Value {
    let mut defs: Vec<(String, RefOr<Schema>)> = Vec::new();
    let health = define::<Health>(&mut defs);
    let login = define::<LoginBody>(&mut defs);
    let login_answer = define::<LoginAnswer>(&mut defs);
    let logout = define::<LogoutBody>(&mut defs);
    let empty = define::<Empty>(&mut defs);
    let call = define::<CallBody>(&mut defs);
    let call_answer = define::<CallAnswer>(&mut defs);
    let error = define::<ErrorBody>(&mut defs);
    let mut operations = Map::new();
    for op in Operation::ALL {
        let args = op.args_schema(&mut defs);
        let result: RefOr<Schema> = match op.result() {
            Returns::One(define) => define(&mut defs),
            Returns::List(define) => ArrayBuilder::new().items(define(&mut defs)).into(),
            Returns::Paged(define) => {
                let items = define(&mut defs);
                let page = ObjectBuilder::new()
                    .property("items", ArrayBuilder::new().items(items.clone()))
                    .property(
                        "next",
                        ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                                Type::Integer,
                                Type::Null,
                            ]))
                            .minimum(Some(0)),
                    )
                    .required("items")
                    .required("next")
                    .description(Some("With `limit`: one page, and the offset of the next (`null` after the last)"));
                OneOfBuilder::new()
                    .item(ArrayBuilder::new().items(items))
                    .item(page)
                    .into()
            }
            Returns::Number => ObjectBuilder::new().schema_type(Type::Number).into(),
            Returns::OptionalInteger => ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Integer,
                    Type::Null,
                ]))
                .into(),
        };
        operations.insert(op.name().into(), json!({"args": args, "result": result}));
    }
    let mut all = Map::new();
    for (name, schema) in defs {
        all.insert(name, json!(schema));
    }
    let mut doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": "Generated from crates/bridge/src/agent/wire.rs: `UPDATE_SCHEMA=1 cargo test -p mt5-bridge --lib protocol_schema` writes it; do not edit",
        "title": format!("mt5-bridge terminal-agent protocol v{PROTOCOL_VERSION} (docs/agent-protocol.md)"),
        "endpoints": {
            "GET /v1/health": {"answer": health},
            "POST /v1/login": {"request": login, "answer": login_answer},
            "POST /v1/logout": {"request": logout, "answer": empty},
            "POST /v1/call/{operation}": {"request": call, "answer": call_answer},
        },
        "operations": operations,
        "error": error,
        "$defs": all,
    });
    rebase_refs(&mut doc);
    doc
}

/// utoipa writes references as OpenAPI's `#/components/schemas/X`; this document keeps them under
/// `$defs`.
fn rebase_refs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    *r = format!("#/$defs/{name}");
                }
            }
            o.values_mut().for_each(rebase_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rebase_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schema is what the types make (`UPDATE_SCHEMA=1` writes it).
    #[test]
    fn protocol_schema_is_current() {
        // Resolved at run time, from the package directory (see error_code's doc test).
        let path = std::path::Path::new("../../agent/tests/protocol.schema.json");
        let want = serde_json::to_string_pretty(&protocol_schema()).unwrap() + "\n";
        if std::env::var("UPDATE_SCHEMA").is_ok() {
            std::fs::write(path, &want).unwrap();
            return;
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "agent/tests/protocol.schema.json is not what agent/wire.rs makes: run UPDATE_SCHEMA=1 cargo test -p mt5-bridge --lib protocol_schema"
        );
    }

    #[test]
    fn every_reference_resolves_and_every_operation_is_described() {
        let doc = protocol_schema();
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                        out.push(r.to_string());
                    }
                    o.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        for r in &all {
            let pointer = r.strip_prefix('#').unwrap();
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
            assert!(doc["operations"][op.name()]["result"].is_object());
        }
        assert_eq!(Operation::from_name("nothing"), None);
        let call = &doc["$defs"]["CallBody"];
        assert_eq!(call["required"], json!(["expected"]));
        assert_eq!(
            doc["$defs"]["WireSession"]["properties"]["session_tag"]["pattern"],
            "^[0-9a-f]{64}$"
        );
    }

    #[test]
    fn a_message_reads_back_as_it_was_written() {
        let tag = mt5::SessionTag::from_hex(&"ab".repeat(32)).unwrap();
        let body = LoginBody {
            login: 5,
            password: WirePassword(SecretString::from("pw")),
            server: "S".into(),
            session_tag: tag,
            timeout_ms: 10,
            lease: None,
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["password"], "pw");
        assert_eq!(v["lease"], Value::Null);
        let back: LoginBody = serde_json::from_value(v).unwrap();
        assert_eq!((back.login, back.session_tag), (5, tag));
        let args = serde_json::to_value(FilterArgs::default()).unwrap();
        assert_eq!(args, json!({}));
    }
}
