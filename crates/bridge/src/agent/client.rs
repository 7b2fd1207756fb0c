//! [`AgentTerminal`]: an [`mt5::Terminal`] that drives one terminal agent over the protocol.
//!
//! One `reqwest::Client` per agent keeps its connections alive between calls. Every call has a
//! deadline; protocol errors map back to [`TerminalError`] so the pool treats an agent exactly as
//! it treats the simulator: a dead or restarted agent is a connection error, after which the pool
//! logs in again.
//!
//! `https://` agents are verified against the public (webpki) roots plus the roots of
//! AGENT_CA_FILE. Redirects are never followed: every request carries the agent's token and a
//! login carries an account password, so an agent that answers 3xx is an error, not a pointer.

use super::wire::{
    CallAnswer, CallBody, ErrorBody, FilterArgs, GroupArgs, Health, HistoryArgs, LedgerAnswer,
    LedgerArgs, LoginAnswer, LoginBody, LogoutBody, MarginArgs, NoArgs, Operation,
    Page as WirePage, ProfitArgs, RatesArgs, RequestArgs, SymbolArgs, WirePassword, WireSession,
    ACCEPTED_VERSIONS,
};
use async_trait::async_trait;
use mt5::error::last_error;
use mt5::wire::{fill_missing, from_wire, to_wire, Kind};
use mt5::{
    AccountInfo, AccountKey, Expected, HistorySelect, Mt5Enum, OrderCheckResult, OrderSendResult,
    OrderType, Page, PageRequest, PositionFilter, Rate, RatesRange, Session, SymbolInfo, Terminal,
    TerminalError, Tick, Timeframe, TradeDeal, TradeOrder, TradePosition, TradeRequest,
};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Default deadline of one call (not of a login, which names its own).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Extra time a login's HTTP request gets beyond the login's own bound, for the answer to arrive.
const LOGIN_SLACK: Duration = Duration::from_secs(5);

/// A terminal reached through its agent. See the module documentation.
pub struct AgentTerminal {
    id: String,
    base: String,
    token: SecretString,
    http: reqwest::Client,
    call_timeout: Duration,
    /// Set when replicas share agents: calls carry its token, and stop when it is not held.
    fence: Option<Arc<crate::ownership::Fence>>,
    /// The agent answered health with a version this bridge speaks (checked before the first
    /// login).
    version_ok: std::sync::atomic::AtomicBool,
    /// The protocol version the agent last reported (0: not yet, or not one this bridge speaks).
    version: std::sync::atomic::AtomicU8,
    /// The agent's ledger as its health last reported it (v3).
    ledger: std::sync::Mutex<Option<super::wire::LedgerHealth>>,
    /// Server-time offsets, shared by the pool's agents (one measurement serves them all).
    clocks: Arc<super::clock::ServerClocks>,
}

impl std::fmt::Debug for AgentTerminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTerminal")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The HTTP client of an agent: TLS 1.2 or later verified against the public roots and
/// `extra_roots` (AGENT_CA_FILE), redirects never followed.
pub fn http_client(
    extra_roots: &[reqwest::Certificate],
) -> Result<reqwest::Client, reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        // Below the Python agent's 30 s idle timeout: the client drops an idle connection before
        // the agent closes it, so no request is sent on a connection the agent is closing.
        .pool_idle_timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .min_tls_version(reqwest::tls::Version::TLS_1_2);
    for root in extra_roots {
        builder = builder.add_root_certificate(root.clone());
    }
    builder.build()
}

impl AgentTerminal {
    /// An agent at `base_url` (`https://host:port` or `http://host:port`) answering to `token`,
    /// its certificate checked against the public roots.
    pub fn new(base_url: &str, token: SecretString) -> Result<Self, String> {
        Self::with_roots(base_url, token, &[])
    }

    /// As [`AgentTerminal::new`], trusting `extra_roots` (AGENT_CA_FILE) besides the public roots.
    pub fn with_roots(
        base_url: &str,
        token: SecretString,
        extra_roots: &[reqwest::Certificate],
    ) -> Result<Self, String> {
        let base = base_url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) || base.len() < 10 {
            return Err(format!(
                "agent address must be http(s)://host:port (got {:?})",
                base.chars().take(100).collect::<String>()
            ));
        }
        let http = http_client(extra_roots).map_err(|e| format!("HTTP client: {e}"))?;
        Ok(AgentTerminal {
            id: format!("agent:{base}"),
            base,
            token,
            http,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            fence: None,
            version_ok: std::sync::atomic::AtomicBool::new(false),
            version: std::sync::atomic::AtomicU8::new(0),
            ledger: std::sync::Mutex::new(None),
            clocks: Arc::default(),
        })
    }

    /// Sets the deadline of one call.
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Shares server-time offsets with the other agents holding `clocks`.
    pub fn with_clocks(mut self, clocks: Arc<super::clock::ServerClocks>) -> Self {
        self.clocks = clocks;
        self
    }

    /// Measures the server-time offset of `at`'s server (`null` from the agent: it cannot tell)
    /// and records it.
    async fn measure_offset(&self, at: &Expected) -> Result<i64, TerminalError> {
        let now = std::time::Instant::now();
        let measured: Option<i64> = self
            .call_value(at, Operation::ServerTimeOffset, &NoArgs {})
            .await?;
        Ok(self.clocks.record(&at.account.server, measured, now))
    }

    /// Drives the agent only under a lease of this fence (see `crate::ownership`).
    pub fn with_fence(mut self, fence: Arc<crate::ownership::Fence>) -> Self {
        self.fence = Some(fence);
        self
    }

    /// The lease to send: none without ownership; an error when this replica does not hold it.
    fn lease(&self) -> Result<Option<u64>, TerminalError> {
        match &self.fence {
            None => Ok(None),
            Some(f) => f.token().map(Some).ok_or_else(|| {
                TerminalError::NotSent("this replica does not hold the terminal's lease".into())
            }),
        }
    }

    /// How long the agent's ledger keeps an entry, as its health last reported it (v3).
    pub fn ledger_retention(&self) -> Option<Duration> {
        self.ledger
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|l| Duration::from_secs(l.retention_s)))
    }

    fn remember_ledger(&self, h: &Health) {
        if let Ok(mut ledger) = self.ledger.lock() {
            ledger.clone_from(&h.ledger);
        }
    }

    /// The protocol version the agent reported at its last health check (2 or 3), if any.
    pub fn protocol_version(&self) -> Option<u8> {
        Some(self.version.load(std::sync::atomic::Ordering::Relaxed)).filter(|v| *v > 0)
    }

    /// Refuses an agent of a protocol version this bridge does not speak (before 2 it would not
    /// check session tags), so it is kept out of the pool (an error log names it) until it is
    /// upgraded. Versions 2 and 3 are kept: a v2 agent has no ledger, and its orders in doubt
    /// are settled from the broker's history.
    fn check_version(&self, h: &Health) -> Result<(), TerminalError> {
        use std::sync::atomic::Ordering;
        self.remember_ledger(h);
        if ACCEPTED_VERSIONS.contains(&h.version.as_str()) {
            let v = h.version.parse::<u8>().unwrap_or(0);
            self.version.store(v, Ordering::Relaxed);
            self.version_ok.store(true, Ordering::Relaxed);
            return Ok(());
        }
        self.version.store(0, Ordering::Relaxed);
        self.version_ok.store(false, Ordering::Relaxed);
        let version: String = h.version.chars().take(20).collect();
        tracing::error!(
            terminal = %self.id,
            agent_version = %version,
            accepted = ?ACCEPTED_VERSIONS,
            "terminal agent speaks another protocol version: kept out of the pool"
        );
        Err(TerminalError::Unavailable(format!(
            "the agent speaks protocol version {version:?}, not one of {ACCEPTED_VERSIONS:?}"
        )))
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Health, TerminalError> {
        let resp = self
            .http
            .get(format!("{}/v1/health", self.base))
            .bearer_auth(self.token.expose_secret())
            .timeout(self.call_timeout)
            .send()
            .await
            .map_err(transport)?;
        let v = self.answer(resp, None).await?;
        serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))
    }

    async fn post(
        &self,
        path: &str,
        body: &impl Serialize,
        timeout: Duration,
        expected: Option<&AccountKey>,
    ) -> Result<Value, TerminalError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
            .json(body)
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        self.answer(resp, expected).await
    }

    /// The JSON of a 2xx answer, or the protocol error as a [`TerminalError`].
    async fn answer(
        &self,
        resp: reqwest::Response,
        expected: Option<&AccountKey>,
    ) -> Result<Value, TerminalError> {
        let status = resp.status();
        if status.is_redirection() {
            // Not followed: the request carried the token (and a login, a password).
            tracing::error!(
                terminal = %self.id,
                status = status.as_u16(),
                "terminal agent answered a redirect: not followed"
            );
            return Err(TerminalError::Unavailable(format!(
                "the agent answered a redirect (HTTP {}), which is not followed",
                status.as_u16()
            )));
        }
        let bytes = read_limited(resp).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| bad_answer(&e.to_string()));
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes)
            .ok()
            .map(|b| b.error);
        let message = detail
            .as_ref()
            .map(|d| d.message.clone())
            .unwrap_or_else(|| format!("agent answered HTTP {}", status.as_u16()));
        let last = detail.as_ref().and_then(|d| d.last_error.clone());
        if status == StatusCode::CONFLICT
            && detail.as_ref().is_some_and(|d| d.code == "stale_lease")
        {
            // Another replica took the terminal over: stop driving it at once.
            if let Some(f) = &self.fence {
                f.clear();
            }
            tracing::warn!(terminal = %self.id, "agent refused a stale lease");
            return Err(TerminalError::NotSent(
                "another replica holds the terminal".into(),
            ));
        }
        if status == StatusCode::CONFLICT
            && detail
                .as_ref()
                .is_some_and(|d| d.code == "client_id_settled")
        {
            // The agent's ledger settled this order as never received: it is not sent, ever.
            return Err(TerminalError::NotSent(
                "the agent's ledger settled this order as never received".into(),
            ));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE
            && detail
                .as_ref()
                .is_some_and(|d| d.code == "ledger_unavailable")
        {
            // Refused before the terminal: nothing ran.
            tracing::error!(terminal = %self.id, error = %message, "agent's ledger unusable: it refuses orders");
            return Err(TerminalError::NotSent(format!(
                "the agent's ledger is unusable: {}",
                message.chars().take(200).collect::<String>()
            )));
        }
        if status == StatusCode::UNPROCESSABLE_ENTITY
            && detail.as_ref().is_some_and(|d| d.code == "invalid_lease")
        {
            // The agent's clock is more than a day behind Redis's: nothing ran, and nothing will
            // until one of the clocks is set right.
            tracing::error!(terminal = %self.id, "agent refused the lease as too far ahead of its clock: check the clocks of Redis and the agent");
            return Err(TerminalError::NotSent(
                "the agent refused the lease (clocks apart)".into(),
            ));
        }
        Err(match status {
            StatusCode::CONFLICT => TerminalError::WrongAccount {
                expected: expected
                    .cloned()
                    .unwrap_or_else(|| AccountKey::new(0, String::new())),
                actual: detail.and_then(|d| d.actual).map(AccountKey::from),
            },
            StatusCode::UNPROCESSABLE_ENTITY => match last {
                Some((code, message)) => TerminalError::Mt5 { code, message },
                None => TerminalError::mt5(last_error::FAIL, message),
            },
            StatusCode::SERVICE_UNAVAILABLE => match last {
                // Keep MT5's IPC code when the agent gives one; it is a connection error too.
                Some((code, message)) if code <= last_error::INTERNAL_FAIL => {
                    TerminalError::Mt5 { code, message }
                }
                _ => TerminalError::Unavailable(message),
            },
            // Refused before it started: not a lost answer, nothing ran.
            StatusCode::GATEWAY_TIMEOUT
                if detail
                    .as_ref()
                    .is_some_and(|d| d.code == "deadline_exceeded") =>
            {
                TerminalError::NotSent(message)
            }
            StatusCode::GATEWAY_TIMEOUT => TerminalError::Timeout,
            StatusCode::BAD_REQUEST => TerminalError::mt5(last_error::INVALID_PARAMS, message),
            StatusCode::UNAUTHORIZED => {
                TerminalError::NotSent("the agent refused the token (check AGENT_TOKEN)".into())
            }
            StatusCode::NOT_FOUND => TerminalError::mt5(
                last_error::FAIL,
                format!("the agent does not know this operation: {message}"),
            ),
            _ => TerminalError::Unavailable(message),
        })
    }

    /// `POST /v1/call/<operation>`: the raw `result`.
    async fn call(
        &self,
        at: &Expected,
        operation: Operation,
        args: &impl Serialize,
    ) -> Result<Value, TerminalError> {
        // The pool's own lease numbers mean nothing to the agent: only ownership fences.
        let lease = self.lease()?;
        self.call_under(at, operation, args, lease).await
    }

    /// `ledger`: what the agent's ledger knows of `client_ids` for `session` (v3 agents only).
    /// It needs no lease (any replica may ask) and no login: the agent never calls MT5 for it.
    pub async fn ledger(
        &self,
        session: &Session,
        client_ids: &[String],
    ) -> Result<LedgerAnswer, TerminalError> {
        if self.ledger_retention().is_none() {
            // Asked before any health check (a reconciler right after a restart): the ledger's
            // retention comes with health.
            if let Ok(h) = self.health().await {
                self.remember_ledger(&h);
            }
        }
        let at = Expected::new(session.clone());
        let args = LedgerArgs {
            client_ids: client_ids.to_vec(),
        };
        let v = self.call_under(&at, Operation::Ledger, &args, None).await?;
        serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))
    }

    async fn call_under(
        &self,
        at: &Expected,
        operation: Operation,
        args: &impl Serialize,
        lease: Option<u64>,
    ) -> Result<Value, TerminalError> {
        // What remains of the operation's budget, at most the per-call timeout; once it has
        // passed, nothing is sent.
        let budget = at
            .remaining()
            .map_or(self.call_timeout, |r| r.min(self.call_timeout));
        if budget.is_zero() {
            return Err(TerminalError::NotSent(
                "the operation's deadline passed before the call".into(),
            ));
        }
        let body = CallBody {
            expected: WireSession::from(at),
            deadline_ms: Some(u64::try_from(budget.as_millis()).unwrap_or(u64::MAX).max(1)),
            lease,
            // Every order carries its id (a v2 agent ignores it); an order sent without one by the
            // service's pipeline (a test, a tool) gets a fresh one.
            client_id: (operation == Operation::OrderSend).then(|| {
                at.client_id
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
            }),
            args: serde_json::to_value(args).map_err(|e| bad_answer(&e.to_string()))?,
        };
        let v = self
            .post(
                &format!("/v1/call/{}", operation.name()),
                &body,
                budget,
                Some(&at.account),
            )
            .await?;
        let answer: CallAnswer =
            serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))?;
        Ok(answer.result)
    }

    /// A call whose result is a number (no structure).
    async fn call_value<T: DeserializeOwned>(
        &self,
        at: &Expected,
        operation: Operation,
        args: &impl Serialize,
    ) -> Result<T, TerminalError> {
        let v = self.call(at, operation, args).await?;
        serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))
    }

    /// A call whose result is a structure `S`, or a list of them (`T` = `S` or `Vec<S>`).
    async fn call_as<S, T>(
        &self,
        at: &Expected,
        operation: Operation,
        kind: Kind,
        args: &impl Serialize,
    ) -> Result<T, TerminalError>
    where
        S: Serialize + Default,
        T: DeserializeOwned,
    {
        let mut v = self.call(at, operation, args).await?;
        fill_missing::<S>(kind, &mut v);
        from_wire(kind, v).map_err(|e| bad_answer(&e))
    }
}

/// The largest agent reply read: a bigger one is refused (`terminal_unavailable`), never buffered.
pub const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// The reply's body, at most [`MAX_REPLY_BYTES`], read as it arrives.
async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, TerminalError> {
    let too_big = || bad_answer("the reply is larger than 32 MiB");
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_REPLY_BYTES as u64)
    {
        return Err(too_big());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl AgentTerminal {
    /// One page of a history call: the agent reads the selection and sends only the page.
    async fn history_page<S>(
        &self,
        at: &Expected,
        operation: Operation,
        kind: Kind,
        select: &HistorySelect,
        page: PageRequest,
    ) -> Result<Page<S>, TerminalError>
    where
        S: Serialize + Default + DeserializeOwned,
    {
        let args = HistoryArgs {
            offset: Some(page.offset),
            limit: Some(page.limit),
            ..history_args(select)
        };
        let v = self.call(at, operation, &args).await?;
        let WirePage { mut items, next } =
            serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))?;
        fill_missing::<S>(kind, &mut items);
        let items = from_wire(kind, items).map_err(|e| bad_answer(&e))?;
        Ok(Page { items, next })
    }
}

/// A transport failure: deadline → `Timeout`; no connection made → `NotSent`; a connection lost
/// on the way → `Unavailable` (the call may have run).
fn transport(e: reqwest::Error) -> TerminalError {
    if e.is_timeout() {
        TerminalError::Timeout
    } else if e.is_connect() {
        // A certificate that does not verify is a connect error too; say so, as its fix differs.
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            let why = s.to_string();
            if why.contains("certificate") {
                return TerminalError::NotSent(format!(
                    "{}: the agent's TLS certificate was refused ({}): is its CA in AGENT_CA_FILE?",
                    mt5::error::NO_CONNECTION,
                    why.chars().take(200).collect::<String>()
                ));
            }
            source = s.source();
        }
        // No connection was made, so the request never left.
        TerminalError::NotSent(mt5::error::NO_CONNECTION.into())
    } else {
        TerminalError::Unavailable("connection to the agent lost".into())
    }
}

/// The agent answered something that is not the protocol.
fn bad_answer(why: &str) -> TerminalError {
    TerminalError::mt5(
        last_error::FAIL,
        format!(
            "malformed answer from the agent: {}",
            why.chars().take(200).collect::<String>()
        ),
    )
}

fn filter_args(f: &PositionFilter) -> FilterArgs {
    match f {
        PositionFilter::All => FilterArgs::default(),
        PositionFilter::Symbol(s) => FilterArgs {
            symbol: Some(s.clone()),
            ..FilterArgs::default()
        },
        PositionFilter::Group(g) => FilterArgs {
            group: Some(g.clone()),
            ..FilterArgs::default()
        },
        PositionFilter::Ticket(t) => FilterArgs {
            ticket: Some(*t),
            ..FilterArgs::default()
        },
    }
}

fn history_args(h: &HistorySelect) -> HistoryArgs {
    match h {
        HistorySelect::Range { from, to, group } => HistoryArgs {
            date_from: Some(*from),
            date_to: Some(*to),
            group: group.clone(),
            ..HistoryArgs::default()
        },
        HistorySelect::Ticket { ticket } => HistoryArgs {
            ticket: Some(*ticket),
            ..HistoryArgs::default()
        },
        HistorySelect::Position { position } => HistoryArgs {
            position: Some(*position),
            ..HistoryArgs::default()
        },
    }
}

fn rates_args(symbol: &str, tf: Timeframe, range: RatesRange) -> RatesArgs {
    let (mode, start, count, date_from, date_to) = match range {
        RatesRange::FromPos { start, count } => ("from_pos", Some(start), Some(count), None, None),
        RatesRange::From { date, count } => ("from", None, Some(count), Some(date), None),
        RatesRange::Range { from, to } => ("range", None, None, Some(from), Some(to)),
    };
    RatesArgs {
        symbol: symbol.to_string(),
        timeframe: tf.code(),
        mode: mode.to_string(),
        start,
        count,
        date_from,
        date_to,
    }
}

#[async_trait]
impl Terminal for AgentTerminal {
    fn id(&self) -> &str {
        &self.id
    }

    async fn login(
        &self,
        session: &Session,
        password: &SecretString,
        timeout: Duration,
    ) -> Result<AccountInfo, TerminalError> {
        if !self.version_ok.load(std::sync::atomic::Ordering::Relaxed) {
            self.check_version(&self.health().await?)?;
        }
        let account = &session.account;
        let body = LoginBody {
            login: account.login,
            password: WirePassword(password.clone()),
            server: account.server.clone(),
            session_tag: session.tag,
            timeout_ms: timeout.as_millis().min(u128::from(u64::MAX)) as u64,
            lease: self.lease()?,
        };
        let v = self
            .post("/v1/login", &body, timeout + LOGIN_SLACK, Some(account))
            .await?;
        let LoginAnswer { account_info } =
            serde_json::from_value(v).map_err(|e| bad_answer(&e.to_string()))?;
        let mut info = account_info;
        fill_missing::<AccountInfo>(Kind::AccountInfo, &mut info);
        let info = from_wire(Kind::AccountInfo, info).map_err(|e| bad_answer(&e))?;
        // The broker's clock is read at login, not on every request that reports times.
        if self
            .clocks
            .current(&account.server, std::time::Instant::now())
            .is_none()
        {
            if let Err(e) = self.measure_offset(&Expected::new(session.clone())).await {
                tracing::warn!(terminal = %self.id, error = %e, "server time offset not measured at login");
            }
        }
        Ok(info)
    }

    async fn logout(&self) -> Result<(), TerminalError> {
        let body = LogoutBody {
            lease: self.lease()?,
        };
        self.post("/v1/logout", &body, self.call_timeout, None)
            .await
            .map(|_| ())
    }

    async fn current(&self) -> Result<Option<Session>, TerminalError> {
        // Not ours to use: the pool must not take it back on a probe.
        self.lease()?;
        let h = self.health().await?;
        self.check_version(&h)?;
        if !h.connected {
            return Err(TerminalError::Unavailable(
                "the agent's terminal is not connected".into(),
            ));
        }
        Ok(match (h.login, h.server, h.session_tag) {
            (Some(login), Some(server), Some(tag)) => {
                Some(Session::new(AccountKey::new(login, server), tag))
            }
            _ => None,
        })
    }

    async fn terminal_flags(&self) -> Result<Option<mt5::TerminalFlags>, TerminalError> {
        let h = self.health().await?;
        self.check_version(&h)?;
        Ok(h.terminal_info)
    }

    async fn account_info(&self, at: &Expected) -> Result<AccountInfo, TerminalError> {
        self.call_as::<AccountInfo, _>(at, Operation::AccountInfo, Kind::AccountInfo, &NoArgs {})
            .await
    }

    async fn symbols(
        &self,
        at: &Expected,
        group: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        let args = GroupArgs {
            group: group.map(str::to_string),
        };
        self.call_as::<SymbolInfo, _>(at, Operation::Symbols, Kind::SymbolInfo, &args)
            .await
    }

    async fn symbol_info(&self, at: &Expected, symbol: &str) -> Result<SymbolInfo, TerminalError> {
        self.call_as::<SymbolInfo, _>(
            at,
            Operation::SymbolInfo,
            Kind::SymbolInfo,
            &SymbolArgs {
                symbol: symbol.to_string(),
            },
        )
        .await
    }

    async fn symbol_info_tick(&self, at: &Expected, symbol: &str) -> Result<Tick, TerminalError> {
        self.call_as::<Tick, _>(
            at,
            Operation::SymbolInfoTick,
            Kind::Tick,
            &SymbolArgs {
                symbol: symbol.to_string(),
            },
        )
        .await
    }

    async fn copy_rates(
        &self,
        at: &Expected,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
    ) -> Result<Vec<Rate>, TerminalError> {
        self.call_as::<Rate, _>(
            at,
            Operation::CopyRates,
            Kind::Rate,
            &rates_args(symbol, timeframe, range),
        )
        .await
    }

    async fn positions(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradePosition>, TerminalError> {
        self.call_as::<TradePosition, _>(
            at,
            Operation::Positions,
            Kind::TradePosition,
            &filter_args(filter),
        )
        .await
    }

    async fn orders(
        &self,
        at: &Expected,
        filter: &PositionFilter,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.call_as::<TradeOrder, _>(
            at,
            Operation::Orders,
            Kind::TradeOrder,
            &filter_args(filter),
        )
        .await
    }

    async fn order_calc_margin(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price: f64,
    ) -> Result<f64, TerminalError> {
        self.call_value(
            at,
            Operation::OrderCalcMargin,
            &MarginArgs {
                action: action.code(),
                symbol: symbol.to_string(),
                volume,
                price,
            },
        )
        .await
    }

    async fn order_calc_profit(
        &self,
        at: &Expected,
        action: OrderType,
        symbol: &str,
        volume: f64,
        price_open: f64,
        price_close: f64,
    ) -> Result<f64, TerminalError> {
        self.call_value(
            at,
            Operation::OrderCalcProfit,
            &ProfitArgs {
                action: action.code(),
                symbol: symbol.to_string(),
                volume,
                price_open,
                price_close,
            },
        )
        .await
    }

    async fn order_check(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderCheckResult, TerminalError> {
        self.call_as::<OrderCheckResult, _>(
            at,
            Operation::OrderCheck,
            Kind::OrderCheckResult,
            &RequestArgs {
                request: to_wire(Kind::TradeRequest, request),
            },
        )
        .await
    }

    async fn order_send(
        &self,
        at: &Expected,
        request: &TradeRequest,
    ) -> Result<OrderSendResult, TerminalError> {
        self.call_as::<OrderSendResult, _>(
            at,
            Operation::OrderSend,
            Kind::OrderSendResult,
            &RequestArgs {
                request: to_wire(Kind::TradeRequest, request),
            },
        )
        .await
    }

    async fn history_deals_page(
        &self,
        at: &Expected,
        select: &HistorySelect,
        page: PageRequest,
    ) -> Result<Page<TradeDeal>, TerminalError> {
        self.history_page::<TradeDeal>(at, Operation::HistoryDeals, Kind::TradeDeal, select, page)
            .await
    }

    async fn history_orders_page(
        &self,
        at: &Expected,
        select: &HistorySelect,
        page: PageRequest,
    ) -> Result<Page<TradeOrder>, TerminalError> {
        self.history_page::<TradeOrder>(
            at,
            Operation::HistoryOrders,
            Kind::TradeOrder,
            select,
            page,
        )
        .await
    }

    async fn history_deals(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, TerminalError> {
        self.call_as::<TradeDeal, _>(
            at,
            Operation::HistoryDeals,
            Kind::TradeDeal,
            &history_args(select),
        )
        .await
    }

    async fn history_orders(
        &self,
        at: &Expected,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, TerminalError> {
        self.call_as::<TradeOrder, _>(
            at,
            Operation::HistoryOrders,
            Kind::TradeOrder,
            &history_args(select),
        )
        .await
    }

    fn ledger_id(&self) -> Option<String> {
        if self.protocol_version() != Some(3) {
            return None;
        }
        self.ledger
            .lock()
            .ok()
            .and_then(|l| l.as_ref().and_then(|l| l.id.clone()))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }

    async fn server_time_offset_s(&self, at: &Expected) -> Result<i64, TerminalError> {
        match self
            .clocks
            .current(&at.account.server, std::time::Instant::now())
        {
            Some(offset) => Ok(offset),
            None => self.measure_offset(at).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_the_token_stays_hidden() {
        assert!(AgentTerminal::new("ftp://x", SecretString::from("t")).is_err());
        assert!(AgentTerminal::new("", SecretString::from("t")).is_err());
        let t = AgentTerminal::new("http://127.0.0.1:9101/", SecretString::from("s3cr3t-token"))
            .unwrap();
        assert_eq!(t.id(), "agent:http://127.0.0.1:9101");
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn rates_arguments() {
        let v = serde_json::to_value(rates_args(
            "EURUSD",
            Timeframe::H1,
            RatesRange::Range { from: 1, to: 2 },
        ))
        .unwrap();
        assert_eq!(v["timeframe"], 16385);
        assert_eq!(v["mode"], "range");
        assert_eq!(v["date_to"], 2);
        let v = serde_json::to_value(rates_args(
            "EURUSD",
            Timeframe::M1,
            RatesRange::FromPos { start: 0, count: 5 },
        ))
        .unwrap();
        assert_eq!(v["mode"], "from_pos");
        assert_eq!(v["count"], 5);
    }
}
