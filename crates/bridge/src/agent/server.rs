//! The agent side of the protocol over any [`Terminal`]; `mt5-bridge sim-agent` serves it over one
//! simulated terminal on the shared simulator broker.
//!
//! The bearer token is checked before routing, so an unknown path without it is 401, not 404.
//! The account guard is the terminal's own ([`TerminalError::WrongAccount`]): it checks and acts
//! under one lock, so a `409 wrong_account` means nothing ran.

use super::ledger::{Begin, Finish, Ledger};
use super::mt5_comment;
use super::wire::{
    is_wire_client_id, CallAnswer, CallBody, Empty, ErrorBody, ErrorDetail, FilterArgs, GroupArgs,
    Health, HistoryArgs, LedgerArgs, LoginAnswer, LoginBody, LogoutBody, MarginArgs, Operation,
    Page, ProfitArgs, RatesArgs, RequestArgs, StoredAnswer, SymbolArgs, WireAccount,
    LEDGER_QUERY_MAX, PROTOCOL_VERSION,
};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mt5::wire::{from_wire, to_wire, Kind};
use mt5::{
    AccountKey, Expected, HistorySelect, Mt5Enum, OrderType, PositionFilter, RatesRange, Session,
    Terminal, TerminalError, Timeframe, TradeAction, TradeRequest,
};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
struct AgentState {
    terminal: Arc<dyn Terminal>,
    token: Arc<SecretString>,
    agent: &'static str,
    /// The newest lease seen; held for the whole of every login, logout and call, so that a
    /// stale lease can never act after a newer one did.
    fence: Arc<tokio::sync::Mutex<Option<u64>>>,
    /// The same number for /v1/health, which must not wait behind a long call (0: none yet).
    newest_lease: Arc<AtomicU64>,
    /// The ledger of the orders this agent was given (`sim-agent` always keeps one).
    ledger: Option<Arc<Ledger>>,
}

impl AgentState {
    /// Checks `lease` against the newest seen and takes the fence for the operation. No lease
    /// (a bridge without shared ownership) is not fenced. A lease no bridge can have issued (see
    /// [`lease_is_plausible`]) is refused before the fence, so it never becomes the newest.
    async fn fence(
        &self,
        lease: Option<u64>,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<u64>>, AgentFailure> {
        if let Some(given) = lease {
            if !lease_is_plausible(given, unix_micros_now()) {
                tracing::warn!(
                    lease = given,
                    "refused a lease more than {} s ahead of this agent's clock",
                    MAX_LEASE_AHEAD.as_secs()
                );
                return Err(AgentFailure::InvalidLease { given });
            }
        }
        let mut newest = self.fence.lock().await;
        if let Some(given) = lease {
            match *newest {
                Some(n) if given < n => {
                    return Err(AgentFailure::StaleLease { given, newest: n });
                }
                _ => {
                    *newest = Some(given);
                    self.newest_lease.store(given, Ordering::Relaxed);
                }
            }
        }
        Ok(newest)
    }
}

/// How far ahead of the agent's clock a lease may be. A bridge's lease is at most its Redis's
/// clock in microseconds plus the leases issued since (`crate::ownership`), so a day covers any
/// clock skew and any number of owner changes; beyond it the lease is forged or broken, and
/// taking it as the newest would lock every replica out of this terminal until a restart.
pub const MAX_LEASE_AHEAD: Duration = Duration::from_secs(86_400);

/// Microseconds since the Unix epoch on this machine's clock (0 before 1970).
fn unix_micros_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whether `lease` is at most `now_micros` plus [`MAX_LEASE_AHEAD`].
fn lease_is_plausible(lease: u64, now_micros: u64) -> bool {
    let ahead = u64::try_from(MAX_LEASE_AHEAD.as_micros()).unwrap_or(u64::MAX);
    lease <= now_micros.saturating_add(ahead)
}

/// Why a request failed, as the protocol reports it.
#[derive(Debug)]
pub enum AgentFailure {
    BadRequest(String),
    Unauthorized,
    UnknownOperation(String),
    /// A lease older than the newest seen: its replica no longer owns this terminal.
    StaleLease {
        given: u64,
        newest: u64,
    },
    /// A lease further ahead of the agent's clock than any bridge issues ([`MAX_LEASE_AHEAD`]).
    InvalidLease {
        given: u64,
    },
    Terminal(TerminalError),
    /// The call's deadline passed before it could start: nothing was sent to MT5.
    DeadlineExceeded,
    /// The ledger settled this `client_id` as never received: refused, never sent.
    ClientIdSettled,
    /// The ledger cannot be used: orders are refused, nothing was sent.
    LedgerUnavailable(String),
    /// An `order_send` with this `client_id` was received before and never answered.
    InDoubt,
    /// What the ledger stored for this `client_id`'s error, answered again.
    Stored(u16, Box<ErrorDetail>),
}

impl From<TerminalError> for AgentFailure {
    fn from(e: TerminalError) -> Self {
        AgentFailure::Terminal(e)
    }
}

fn error_response(status: StatusCode, detail: ErrorDetail) -> Response {
    (status, Json(ErrorBody { error: detail })).into_response()
}

impl IntoResponse for AgentFailure {
    fn into_response(self) -> Response {
        let (status, detail) = self.parts();
        error_response(status, detail)
    }
}

impl AgentFailure {
    /// The status and the error body the protocol answers with.
    fn parts(self) -> (StatusCode, ErrorDetail) {
        let plain = |code: &str, message: String| ErrorDetail {
            code: code.to_string(),
            message,
            last_error: None,
            actual: None,
            mt5_code: None,
            field: None,
        };
        match self {
            AgentFailure::BadRequest(m) => {
                (StatusCode::BAD_REQUEST, plain("bad_request", m))
            }
            AgentFailure::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                plain("unauthorized", "missing or wrong bearer token".into()),
            ),
            AgentFailure::UnknownOperation(p) => (
                StatusCode::NOT_FOUND,
                plain("unknown_operation", format!("no such operation: {p}")),
            ),
            AgentFailure::DeadlineExceeded => (
                StatusCode::GATEWAY_TIMEOUT,
                plain(
                    "deadline_exceeded",
                    "the call's deadline passed before it started: nothing was sent".into(),
                ),
            ),
            AgentFailure::ClientIdSettled => (
                StatusCode::CONFLICT,
                plain(
                    "client_id_settled",
                    "this client_id was settled as never received: the order is refused and was not sent".into(),
                ),
            ),
            AgentFailure::LedgerUnavailable(why) => (
                StatusCode::SERVICE_UNAVAILABLE,
                plain(
                    "ledger_unavailable",
                    format!("{why}: orders are refused until an operator moves the ledger aside; nothing was sent"),
                ),
            ),
            AgentFailure::InDoubt => (
                StatusCode::GATEWAY_TIMEOUT,
                plain(
                    "timeout",
                    "an order_send with this client_id was received before and never answered: its outcome is unknown".into(),
                ),
            ),
            AgentFailure::Stored(status, detail) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
                *detail,
            ),
            AgentFailure::StaleLease { given, newest } => (
                StatusCode::CONFLICT,
                plain(
                    "stale_lease",
                    format!("lease {given} is older than lease {newest}: another bridge replica holds this terminal"),
                ),
            ),
            AgentFailure::InvalidLease { given } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                plain(
                    "invalid_lease",
                    format!(
                        "lease {given} is more than {} s ahead of this agent's clock: no bridge issues it",
                        MAX_LEASE_AHEAD.as_secs()
                    ),
                ),
            ),
            AgentFailure::Terminal(e) => {
                let message = e.to_string();
                let last = Some(e.last_error());
                match e {
                    TerminalError::WrongAccount { actual, .. } => (
                        StatusCode::CONFLICT,
                        ErrorDetail {
                            actual: actual.as_ref().map(WireAccount::from),
                            ..plain("wrong_account", message)
                        },
                    ),
                    // The terminal refused to start it (its deadline had passed): not sent.
                    TerminalError::NotSent(_) => AgentFailure::DeadlineExceeded.parts(),
                    ref e if e.is_timeout() => (
                        StatusCode::GATEWAY_TIMEOUT,
                        ErrorDetail {
                            last_error: last,
                            ..plain("timeout", message)
                        },
                    ),
                    ref e if e.is_connection() => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorDetail {
                            last_error: last,
                            ..plain("not_connected", message)
                        },
                    ),
                    // MT5 refused an argument before doing anything: name it, as the Python
                    // agent does ('Invalid "volume" argument' → "volume", else "request").
                    TerminalError::Mt5 { code, message: mt5 }
                        if code == mt5::error::last_error::INVALID_PARAMS =>
                    {
                        let field = mt5
                            .split('"')
                            .nth(1)
                            .filter(|f| !f.is_empty())
                            .unwrap_or("request")
                            .to_string();
                        (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            ErrorDetail {
                                last_error: last,
                                mt5_code: Some(code),
                                field: Some(field),
                                ..plain("invalid_argument", message)
                            },
                        )
                    }
                    _ => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorDetail {
                            last_error: last,
                            ..plain("mt5_error", message)
                        },
                    ),
                }
            }
        }
    }
}

/// The protocol's router over `terminal`, answering only requests bearing `token` (no ledger:
/// orders run without one, and the `ledger` operation answers `503 ledger_unavailable`).
pub fn router(terminal: Arc<dyn Terminal>, token: SecretString, agent: &'static str) -> Router {
    router_with(terminal, token, agent, None, Router::new())
}

/// As [`router`], keeping `ledger`.
pub fn router_with_ledger(
    terminal: Arc<dyn Terminal>,
    token: SecretString,
    agent: &'static str,
    ledger: Arc<Ledger>,
) -> Router {
    router_with(terminal, token, agent, Some(ledger), Router::new())
}

/// As [`router`], with `extra` routes (the simulator's admin call) behind the same token check.
fn router_with(
    terminal: Arc<dyn Terminal>,
    token: SecretString,
    agent: &'static str,
    ledger: Option<Arc<Ledger>>,
    extra: Router,
) -> Router {
    let state = AgentState {
        terminal,
        token: Arc::new(token),
        agent,
        fence: Arc::new(tokio::sync::Mutex::new(None)),
        newest_lease: Arc::new(AtomicU64::new(0)),
        ledger,
    };
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/login", post(login))
        .route("/v1/logout", post(logout))
        .route("/v1/call/{operation}", post(call))
        .fallback(unknown)
        .with_state(state.clone())
        .merge(extra)
        // `layer` (not `route_layer`) also covers the fallback: the token comes before routing.
        .layer(axum::middleware::from_fn_with_state(state, require_token))
}

async fn require_token(State(st): State<AgentState>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !crate::auth::bearer_is(given, &st.token) {
        return AgentFailure::Unauthorized.into_response();
    }
    next.run(req).await
}

async fn unknown(req: Request) -> Response {
    AgentFailure::UnknownOperation(req.uri().path().chars().take(100).collect()).into_response()
}

async fn health(State(st): State<AgentState>) -> Response {
    let (connected, current) = match st.terminal.current().await {
        Ok(c) => (true, c),
        Err(_) => (false, None),
    };
    Json(Health {
        connected,
        login: current.as_ref().map(|s| s.account.login),
        server: current.as_ref().map(|s| s.account.server.clone()),
        agent: st.agent.to_string(),
        version: PROTOCOL_VERSION.to_string(),
        session_tag: current.map(|s| s.tag),
        lease: Some(st.newest_lease.load(Ordering::Relaxed)).filter(|l| *l > 0),
        terminal_info: if connected {
            st.terminal.terminal_flags().await.ok().flatten()
        } else {
            None
        },
        ledger: st.ledger.as_ref().map(|l| l.health()),
    })
    .into_response()
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AgentFailure> {
    let body = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| AgentFailure::BadRequest(format!("invalid JSON: {e}")))
}

fn args<T: DeserializeOwned>(v: Value) -> Result<T, AgentFailure> {
    serde_json::from_value(v).map_err(|e| AgentFailure::BadRequest(format!("invalid args: {e}")))
}

async fn login(State(st): State<AgentState>, body: Bytes) -> Response {
    // No parser detail here: it could quote a mistyped password.
    let b: LoginBody = match parse(&body) {
        Ok(b) => b,
        Err(_) => {
            return AgentFailure::BadRequest(
                "expected {login: int, password: str, server: str, session_tag: 64 hex, timeout_ms: int}"
                    .into(),
            )
            .into_response()
        }
    };
    let _fence = match st.fence(b.lease).await {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let session = Session::new(AccountKey::new(b.login, b.server), b.session_tag);
    let account = &session.account;
    let timeout = Duration::from_millis(b.timeout_ms.clamp(1, 600_000));
    let result =
        match tokio::time::timeout(timeout, st.terminal.login(&session, &b.password.0, timeout))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(TerminalError::Timeout),
        };
    match result {
        Ok(info) => Json(LoginAnswer {
            account_info: to_wire(Kind::AccountInfo, &info),
        })
        .into_response(),
        Err(e) => {
            tracing::info!(login = account.login, server = %account.server, error = %e, "login failed");
            AgentFailure::Terminal(e).into_response()
        }
    }
}

async fn logout(State(st): State<AgentState>, body: Bytes) -> Response {
    let b: LogoutBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let _fence = match st.fence(b.lease).await {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    match st.terminal.logout().await {
        Ok(()) => Json(Empty {}).into_response(),
        Err(e) => AgentFailure::Terminal(e).into_response(),
    }
}

/// The page a history call asks for, if any; a limit must be 1..=10000.
fn page_of(a: &HistoryArgs) -> Result<Option<mt5::PageRequest>, AgentFailure> {
    match a.limit {
        None if a.offset.is_some() => Err(AgentFailure::BadRequest(
            "args.offset needs args.limit".into(),
        )),
        None => Ok(None),
        Some(limit) if (1..=10_000).contains(&limit) => Ok(Some(mt5::PageRequest {
            offset: a.offset.unwrap_or(0),
            limit,
        })),
        Some(_) => Err(AgentFailure::BadRequest(
            "args.limit must be from 1 to 10000".into(),
        )),
    }
}

/// A page in the protocol's form: `{"items": [..], "next": int|null}`.
fn page_json<T: serde::Serialize>(kind: Kind, page: mt5::Page<T>) -> Value {
    let page = Page {
        items: to_wire(kind, &page.items),
        next: page.next,
    };
    serde_json::to_value(page).unwrap_or(Value::Null)
}

fn missing(field: &str) -> AgentFailure {
    AgentFailure::BadRequest(format!("args.{field} is required"))
}

fn filter(a: FilterArgs) -> Result<PositionFilter, AgentFailure> {
    match (a.symbol, a.group, a.ticket) {
        (None, None, None) => Ok(PositionFilter::All),
        (Some(s), None, None) => Ok(PositionFilter::Symbol(s)),
        (None, Some(g), None) => Ok(PositionFilter::Group(g)),
        (None, None, Some(t)) => Ok(PositionFilter::Ticket(t)),
        _ => Err(AgentFailure::BadRequest(
            "at most one of symbol, group, ticket".into(),
        )),
    }
}

fn history(a: HistoryArgs) -> Result<HistorySelect, AgentFailure> {
    match (a.ticket, a.position, a.date_from, a.date_to) {
        (Some(ticket), None, None, None) => Ok(HistorySelect::Ticket { ticket }),
        (None, Some(position), None, None) => Ok(HistorySelect::Position { position }),
        (None, None, Some(from), Some(to)) => Ok(HistorySelect::Range {
            from,
            to,
            group: a.group,
        }),
        _ => Err(AgentFailure::BadRequest(
            "give date_from and date_to, or ticket, or position".into(),
        )),
    }
}

fn rates(a: &RatesArgs) -> Result<RatesRange, AgentFailure> {
    match a.mode.as_str() {
        "from_pos" => Ok(RatesRange::FromPos {
            start: a.start.ok_or_else(|| missing("start"))?,
            count: a.count.ok_or_else(|| missing("count"))?,
        }),
        "from" => Ok(RatesRange::From {
            date: a.date_from.ok_or_else(|| missing("date_from"))?,
            count: a.count.ok_or_else(|| missing("count"))?,
        }),
        "range" => Ok(RatesRange::Range {
            from: a.date_from.ok_or_else(|| missing("date_from"))?,
            to: a.date_to.ok_or_else(|| missing("date_to"))?,
        }),
        other => Err(AgentFailure::BadRequest(format!(
            "args.mode must be from_pos, from or range (got {:?})",
            other.chars().take(20).collect::<String>()
        ))),
    }
}

fn trade_request(v: Value) -> Result<TradeRequest, AgentFailure> {
    // MT5's order_check/order_send refuse a request without the fields its action needs (-2,
    // naming the field) rather than sending zeros.
    let action = v.get("action").and_then(Value::as_i64);
    let needs: &[&str] = match action {
        None => &["action"],
        Some(a) if a == TradeAction::Deal.code() || a == TradeAction::Pending.code() => {
            &["symbol", "volume", "type"]
        }
        Some(_) => &[],
    };
    if let Some(missing) = needs.iter().find(|k| v.get(**k).is_none()) {
        return Err(TerminalError::invalid_argument(missing).into());
    }
    let mut r: TradeRequest = from_wire(Kind::TradeRequest, v)
        .map_err(|e| AgentFailure::BadRequest(format!("args.request: {e}")))?;
    r.comment = mt5_comment(&r.comment);
    Ok(r)
}

async fn ok<T, F>(kind: Option<Kind>, fut: F) -> Result<Value, AgentFailure>
where
    T: serde::Serialize,
    F: Future<Output = Result<T, TerminalError>>,
{
    let v = fut.await?;
    Ok(match kind {
        Some(k) => to_wire(k, &v),
        None => serde_json::to_value(&v).unwrap_or(Value::Null),
    })
}

async fn call(
    State(st): State<AgentState>,
    Path(operation): Path<String>,
    body: Bytes,
) -> Response {
    // The deadline counts from receipt, on this process's clock (the bridge's need not agree).
    let received = std::time::Instant::now();
    // A call runs to its end even if the bridge goes away meanwhile, as a terminal does: an order
    // half-sent and then dropped would be the worst of both.
    let task = tokio::spawn(async move { dispatch(&st, &operation, &body, received).await });
    match task.await {
        Ok(Ok(result)) => Json(CallAnswer { result }).into_response(),
        Ok(Err(e)) => e.into_response(),
        Err(_) => AgentFailure::Terminal(TerminalError::call_failed()).into_response(),
    }
}

async fn dispatch(
    st: &AgentState,
    operation: &str,
    body: &[u8],
    received: std::time::Instant,
) -> Result<Value, AgentFailure> {
    let Some(operation) = Operation::from_name(operation) else {
        return Err(AgentFailure::UnknownOperation(format!(
            "/v1/call/{}",
            operation.chars().take(60).collect::<String>()
        )));
    };
    let b: CallBody = parse(body)?;
    if operation == Operation::Ledger {
        // No lease, no terminal, no login: only the ledger's own lock.
        return ledger_query(st, b).await;
    }
    let client_id = match (operation, &st.ledger) {
        (Operation::OrderSend, Some(_)) => match b.client_id.as_deref() {
            Some(id) if is_wire_client_id(id) => Some(id.to_string()),
            Some(_) => {
                return Err(AgentFailure::BadRequest(
                    "client_id must be 1 to 64 characters from A-Za-z0-9_-".into(),
                ))
            }
            None => {
                return Err(AgentFailure::BadRequest(
                    "order_send needs a client_id (protocol v3)".into(),
                ))
            }
        },
        _ => None,
    };
    let _fence = st.fence(b.lease).await?;
    // Under the terminal's lock, just before the call: past the deadline nothing starts.
    if b.deadline_ms
        .is_some_and(|ms| received.elapsed() >= Duration::from_millis(ms))
    {
        return Err(AgentFailure::DeadlineExceeded);
    }
    let at = Expected {
        account: AccountKey::new(b.expected.login, b.expected.server),
        tag: b.expected.session_tag,
        lease: b.lease,
        deadline: b
            .deadline_ms
            .and_then(|ms| received.checked_add(Duration::from_millis(ms))),
        client_id: None,
    };
    let t = st.terminal.as_ref();
    let a = if b.args.is_null() { json!({}) } else { b.args };
    match operation {
        Operation::AccountInfo => ok(Some(Kind::AccountInfo), t.account_info(&at)).await,
        Operation::Symbols => {
            let g: GroupArgs = args(a)?;
            ok(Some(Kind::SymbolInfo), t.symbols(&at, g.group.as_deref())).await
        }
        Operation::SymbolInfo => {
            let s: SymbolArgs = args(a)?;
            ok(Some(Kind::SymbolInfo), t.symbol_info(&at, &s.symbol)).await
        }
        Operation::SymbolInfoTick => {
            let s: SymbolArgs = args(a)?;
            ok(Some(Kind::Tick), t.symbol_info_tick(&at, &s.symbol)).await
        }
        Operation::CopyRates => {
            let r: RatesArgs = args(a)?;
            // Integers go to the terminal as they came (the protocol keeps MT5's numbers); it
            // answers one it does not take as MT5 does.
            let tf = Timeframe::from_code_or_unknown(r.timeframe);
            let range = rates(&r)?;
            ok(Some(Kind::Rate), t.copy_rates(&at, &r.symbol, tf, range)).await
        }
        Operation::Positions => {
            let f = filter(args(a)?)?;
            ok(Some(Kind::TradePosition), t.positions(&at, &f)).await
        }
        Operation::Orders => {
            let f = filter(args(a)?)?;
            ok(Some(Kind::TradeOrder), t.orders(&at, &f)).await
        }
        Operation::OrderCalcMargin => {
            let m: MarginArgs = args(a)?;
            let action = OrderType::from_code_or_unknown(m.action);
            ok(
                None,
                t.order_calc_margin(&at, action, &m.symbol, m.volume, m.price),
            )
            .await
        }
        Operation::OrderCalcProfit => {
            let p: ProfitArgs = args(a)?;
            let action = OrderType::from_code_or_unknown(p.action);
            ok(
                None,
                t.order_calc_profit(
                    &at,
                    action,
                    &p.symbol,
                    p.volume,
                    p.price_open,
                    p.price_close,
                ),
            )
            .await
        }
        Operation::OrderCheck => {
            let r: RequestArgs = args(a)?;
            let req = trade_request(r.request)?;
            ok(Some(Kind::OrderCheckResult), t.order_check(&at, &req)).await
        }
        Operation::OrderSend => {
            let r: RequestArgs = args(a)?;
            let req = trade_request(r.request)?;
            match (&st.ledger, client_id) {
                (Some(ledger), Some(id)) => order_send_ledgered(t, &at, &req, ledger, &id).await,
                _ => ok(Some(Kind::OrderSendResult), t.order_send(&at, &req)).await,
            }
        }
        Operation::HistoryDeals => {
            let a: HistoryArgs = args(a)?;
            let page = page_of(&a)?;
            let h = history(a)?;
            match page {
                Some(p) => Ok(page_json(
                    Kind::TradeDeal,
                    t.history_deals_page(&at, &h, p).await?,
                )),
                None => ok(Some(Kind::TradeDeal), t.history_deals(&at, &h)).await,
            }
        }
        Operation::HistoryOrders => {
            let a: HistoryArgs = args(a)?;
            let page = page_of(&a)?;
            let h = history(a)?;
            match page {
                Some(p) => Ok(page_json(
                    Kind::TradeOrder,
                    t.history_orders_page(&at, &h, p).await?,
                )),
                None => ok(Some(Kind::TradeOrder), t.history_orders(&at, &h)).await,
            }
        }
        Operation::ServerTimeOffset => ok(None, t.server_time_offset_s(&at)).await,
        Operation::Ledger => Err(AgentFailure::UnknownOperation("/v1/call/ledger".into())),
    }
}

/// `order_send` through the ledger: a `received` row committed before the terminal sees it, the
/// answer stored after; an id already answered replays its answer without executing again.
async fn order_send_ledgered(
    t: &dyn Terminal,
    at: &Expected,
    req: &TradeRequest,
    ledger: &Ledger,
    client_id: &str,
) -> Result<Value, AgentFailure> {
    let session = Session::new(at.account.clone(), at.tag);
    let begun = ledger
        .begin(client_id, &session)
        .await
        .map_err(|e| AgentFailure::LedgerUnavailable(e.to_string()))?;
    match begun {
        Begin::Fresh => {}
        Begin::Replay(stored) => return replayed(stored),
        Begin::InDoubt => return Err(AgentFailure::InDoubt),
        Begin::Settled => return Err(AgentFailure::ClientIdSettled),
        Begin::OtherSession => {
            return Err(AgentFailure::BadRequest(
                "this client_id was used by another session".into(),
            ))
        }
    }
    let sent = t.order_send(at, req).await;
    let (finish, answer) = match sent {
        Ok(result) => {
            let v = to_wire(Kind::OrderSendResult, &result);
            let stored = StoredAnswer {
                status: 200,
                result: Some(v.clone()),
                error: None,
            };
            (Finish::Answered(stored), Ok(v))
        }
        Err(e) => {
            let finish = match &e {
                // Refused before the terminal for the session or the deadline: nothing ran, and
                // the bridge may send it again after logging in.
                TerminalError::WrongAccount { .. } | TerminalError::NotSent(_) => Finish::Forget,
                // MT5 refused before sending (-2, -8): nothing ran; the same answer every time.
                e if e.is_not_sent() => {
                    let (status, detail) = AgentFailure::Terminal(e.clone()).parts();
                    Finish::Answered(StoredAnswer {
                        status: status.as_u16(),
                        result: None,
                        error: Some(detail),
                    })
                }
                _ => Finish::Interrupted,
            };
            (finish, Err(AgentFailure::Terminal(e)))
        }
    };
    if let Err(e) = ledger.finish(client_id, finish).await {
        // The row stays `received`: after a restart it reads `interrupted` (cannot tell).
        tracing::error!(error = %e, "the ledger did not record an order's answer");
    }
    answer
}

/// A stored answer, answered again.
fn replayed(stored: StoredAnswer) -> Result<Value, AgentFailure> {
    match (stored.status, stored.result, stored.error) {
        (200, Some(result), _) => Ok(result),
        (status, _, Some(detail)) => Err(AgentFailure::Stored(status, Box::new(detail))),
        _ => Err(AgentFailure::InDoubt),
    }
}

/// The `ledger` operation: under the ledger's lock only, for the call's `expected` session.
async fn ledger_query(st: &AgentState, b: CallBody) -> Result<Value, AgentFailure> {
    let a: LedgerArgs = args(if b.args.is_null() { json!({}) } else { b.args })?;
    if a.client_ids.is_empty() || a.client_ids.len() > LEDGER_QUERY_MAX {
        return Err(AgentFailure::BadRequest(format!(
            "args.client_ids must hold 1 to {LEDGER_QUERY_MAX} ids"
        )));
    }
    if !a.client_ids.iter().all(|id| is_wire_client_id(id)) {
        return Err(AgentFailure::BadRequest(
            "each client_id must be 1 to 64 characters from A-Za-z0-9_-".into(),
        ));
    }
    let Some(ledger) = &st.ledger else {
        return Err(AgentFailure::LedgerUnavailable(
            "this agent keeps no ledger".into(),
        ));
    };
    let session = Session::new(
        AccountKey::new(b.expected.login, b.expected.server),
        b.expected.session_tag,
    );
    let answer = ledger
        .query(&session, &a.client_ids)
        .await
        .map_err(|e| AgentFailure::LedgerUnavailable(e.to_string()))?;
    serde_json::to_value(answer).map_err(|e| AgentFailure::BadRequest(e.to_string()))
}

/// `POST /v1/sim/password` (the simulator's own admin call, not part of the protocol):
/// `{"login", "server", "password"}` changes the account's master password as the broker would,
/// so the next login with the old one is refused. Kept in this sim-agent's process only.
async fn sim_password(State(broker): State<Arc<mt5_sim::broker::Broker>>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Body {
        login: u64,
        server: String,
        password: SecretString,
    }
    // No parser detail: it could quote the password.
    let Ok(b) = serde_json::from_slice::<Body>(&body) else {
        return AgentFailure::BadRequest(
            "expected {login: int, server: str, password: str}".into(),
        )
        .into_response();
    };
    if secrecy::ExposeSecret::expose_secret(&b.password).is_empty() {
        return AgentFailure::BadRequest("password must not be empty".into()).into_response();
    }
    if broker.set_password(&AccountKey::new(b.login, b.server), b.password) {
        Json(Empty {}).into_response()
    } else {
        AgentFailure::Terminal(TerminalError::auth_failed()).into_response()
    }
}

/// Where `sim-agent` keeps its ledger and for how long.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// The file (default `<data_dir>/agent-ledger-<port>.db`).
    pub path: Option<std::path::PathBuf>,
    pub retention: Duration,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            path: None,
            retention: super::ledger::DEFAULT_RETENTION,
        }
    }
}

/// Runs `mt5-bridge sim-agent`: one simulated terminal on the broker named by the `MT5_SIM_*`
/// settings (default state: `<data_dir>/sim-broker.db`, shared by every agent that names it),
/// served on `bind` until `shutdown` resolves.
pub async fn run_sim_agent(
    bind: SocketAddr,
    token: SecretString,
    data_dir: &FsPath,
    ledger: LedgerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    use mt5_sim::config::{SimConfig, StateLocation};
    use mt5_sim::terminal::{SimTerminal, TerminalOptions};
    let cfg = SimConfig::from_env(StateLocation::Sqlite(data_dir.join("sim-broker.db")))
        .map_err(|e| format!("simulator: {e}"))?;
    if let StateLocation::Sqlite(path) = &cfg.state {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let (broker, _feed) = mt5_sim::broker::open_from_config(&cfg)
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let terminal = Arc::new(SimTerminal::new(
        format!("sim-agent-{}", bind.port()),
        broker.clone(),
        TerminalOptions::from_config(&cfg),
    ));
    let admin = Router::new()
        .route("/v1/sim/password", post(sim_password))
        .with_state(broker);
    // One file per agent, never the simulator's shared broker file.
    let ledger_path = ledger
        .path
        .unwrap_or_else(|| data_dir.join(format!("agent-ledger-{}.db", bind.port())));
    let ledger = Arc::new(Ledger::open(&ledger_path, ledger.retention).await);
    tracing::info!(path = %ledger.path().display(), id = ledger.id().unwrap_or("-"), "agent ledger");
    let app = router_with(terminal, token, "sim", Some(ledger), admin);
    let listener =
        crate::server::bind(bind).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(bind.port());
    // The same timeouts and connection cap as `serve`; bodies as large as axum's default limit
    // (2 MiB), which the agent's routes keep.
    let limits = crate::server::ServerLimits::defaults(2 * 1024 * 1024);
    tracing::info!(
        port,
        max_connections = limits.max_connections,
        "sim-agent listening"
    );
    crate::server::serve(listener, app, limits, shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_may_run_at_most_a_day_ahead_of_the_clock() {
        let now = 1_764_083_712_000_123;
        let day = 86_400_000_000;
        assert!(lease_is_plausible(now, now));
        assert!(lease_is_plausible(now + day, now));
        assert!(!lease_is_plausible(now + day + 1, now));
        assert!(!lease_is_plausible(1 << 63, now));
        assert!(!lease_is_plausible(u64::MAX, now));
        assert!(lease_is_plausible(u64::MAX, u64::MAX), "no overflow");
        let r = AgentFailure::InvalidLease { given: 1 << 63 }.into_response();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn wrong_account_carries_actual_and_status() {
        let e = TerminalError::WrongAccount {
            expected: AccountKey::new(1, "A"),
            actual: Some(AccountKey::new(2, "B")),
        };
        let r = AgentFailure::Terminal(e).into_response();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        assert_eq!(
            AgentFailure::Terminal(TerminalError::no_ipc())
                .into_response()
                .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            AgentFailure::Terminal(TerminalError::Timeout)
                .into_response()
                .status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            AgentFailure::Terminal(TerminalError::not_found())
                .into_response()
                .status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
}
