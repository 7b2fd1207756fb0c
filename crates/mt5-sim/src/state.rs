//! Where broker state lives: one interface ([`StateStore`]), two implementations.
//!
//! - [`MemoryState`]: one process, lost on exit (tests, the embedded default).
//! - [`SqliteState`]: a SQLite file shared by every process that names it and kept across restarts.
//!   Every operation on an account is one write transaction (`BEGIN IMMEDIATE`) that reads the
//!   account's state blob, applies the engine, writes the state back, appends the new deals, history
//!   orders and the audit record, and takes tickets from the counter table — so two processes never
//!   interleave on one account and tickets stay unique across them. WAL mode and a busy timeout let
//!   readers and the next writer wait instead of failing.
//!
//! The state never holds a password: the broker checks credentials against its configured accounts.

use crate::engine::AccountState;
use async_trait::async_trait;
use mt5::{AccountKey, HistorySelect, TradeDeal, TradeOrder};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// First ticket a fresh state hands out (tickets look like a real server's, and are unique
/// across orders, deals and positions).
pub const FIRST_TICKET: u64 = 100_000_001;
/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Failures of the simulator's own machinery (not trade rejections, which are retcodes).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("broker state store: {0}")]
    Store(String),
    #[error("unknown account {0}")]
    UnknownAccount(AccountKey),
    #[error("stored state of account {0} is unreadable: {1}")]
    Corrupt(AccountKey, String),
    #[error("simulator configuration: {0}")]
    Config(String),
}

impl From<sqlx::Error> for SimError {
    fn from(e: sqlx::Error) -> Self {
        SimError::Store(e.to_string())
    }
}

/// One operation the broker executed, for the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct AuditRecord {
    /// Assigned by the store, increasing.
    pub seq: u64,
    pub utc_ms: i64,
    pub terminal_id: String,
    pub login: u64,
    pub server: String,
    /// `order_send`, `order_check`, `positions`, `account_info`, ...
    pub operation: String,
    pub symbol: String,
    /// The request's comment, when there is one.
    pub comment: String,
    /// Trade retcode for order_send/order_check; 0 otherwise.
    pub retcode: u32,
    pub order: u64,
    pub deal: u64,
}

/// What an operation on an account leaves for the store to append.
#[derive(Debug, Default)]
pub struct Applied {
    pub deals: Vec<TradeDeal>,
    pub orders: Vec<TradeOrder>,
    pub audit: Option<AuditRecord>,
}

/// An operation on one account's state, given a ticket allocator; runs inside the store's
/// transaction, so it must not block.
pub type AccountOp<'a> =
    &'a mut (dyn FnMut(&mut AccountState, &mut dyn FnMut() -> u64) -> Applied + Send);

/// Creates a new account's state and its balance deal, given a ticket allocator.
pub type AccountInit<'a> =
    &'a mut (dyn FnMut(&mut dyn FnMut() -> u64) -> (AccountState, TradeDeal) + Send);

/// Where broker state lives. See the module documentation.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Creates the account with `init` unless it exists; existing state is kept. True if created.
    async fn ensure_account(
        &self,
        key: &AccountKey,
        init: AccountInit<'_>,
    ) -> Result<bool, SimError>;

    /// Runs `op` on the account's state atomically and stores what it produced.
    async fn transact(&self, key: &AccountKey, op: AccountOp<'_>) -> Result<(), SimError>;

    /// Appends an audit record that changes no account (market data reads).
    async fn record(&self, audit: AuditRecord) -> Result<(), SimError>;

    async fn history_deals(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, SimError>;

    async fn history_orders(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, SimError>;

    /// The whole audit trail, oldest first.
    async fn audit(&self) -> Result<Vec<AuditRecord>, SimError>;

    /// The account's stored state (for inspection).
    async fn load(&self, key: &AccountKey) -> Result<Option<AccountState>, SimError>;
}

/// Opens the store a [`crate::config::StateLocation`] names.
pub async fn open_state(
    location: &crate::config::StateLocation,
) -> Result<Arc<dyn StateStore>, SimError> {
    Ok(match location {
        crate::config::StateLocation::Memory => Arc::new(MemoryState::default()),
        crate::config::StateLocation::Sqlite(path) => Arc::new(SqliteState::open(path).await?),
    })
}

/// Which history rows a selection wants, in server-clock terms.
fn deal_selected(d: &TradeDeal, select: &HistorySelect) -> bool {
    match select {
        HistorySelect::Range { from, to, group } => {
            d.time >= *from
                && d.time <= *to
                && group
                    .as_deref()
                    .is_none_or(|g| mt5::util::group_matches(g, &d.symbol))
        }
        HistorySelect::Ticket { ticket } => d.order == *ticket,
        HistorySelect::Position { position } => d.position_id == *position,
    }
}

fn order_selected(o: &TradeOrder, select: &HistorySelect) -> bool {
    match select {
        HistorySelect::Range { from, to, group } => {
            o.time_setup >= *from
                && o.time_setup <= *to
                && group
                    .as_deref()
                    .is_none_or(|g| mt5::util::group_matches(g, &o.symbol))
        }
        HistorySelect::Ticket { ticket } => o.ticket == *ticket,
        HistorySelect::Position { position } => o.position_id == *position,
    }
}

// ------------------------------------------------------------------------------------------ memory

#[derive(Default)]
struct MemoryInner {
    accounts: HashMap<AccountKey, AccountState>,
    deals: Vec<(AccountKey, TradeDeal)>,
    orders: Vec<(AccountKey, TradeOrder)>,
    audit: Vec<AuditRecord>,
    /// Last ticket handed out; 0 = none yet.
    last_ticket: u64,
}

impl MemoryInner {
    fn push_audit(&mut self, mut a: AuditRecord) {
        a.seq = self.audit.len() as u64 + 1;
        self.audit.push(a);
    }
}

/// Broker state in this process's memory.
#[derive(Default)]
pub struct MemoryState {
    inner: Mutex<MemoryInner>,
}

impl MemoryState {
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryInner>, SimError> {
        self.inner
            .lock()
            .map_err(|_| SimError::Store("memory state lock poisoned".into()))
    }
}

#[async_trait]
impl StateStore for MemoryState {
    async fn ensure_account(
        &self,
        key: &AccountKey,
        init: AccountInit<'_>,
    ) -> Result<bool, SimError> {
        let mut g = self.lock()?;
        if g.accounts.contains_key(key) {
            return Ok(false);
        }
        let inner = &mut *g;
        let mut last = inner.last_ticket.max(FIRST_TICKET - 1);
        let (state, deal) = init(&mut || {
            last += 1;
            last
        });
        inner.last_ticket = last;
        inner.accounts.insert(key.clone(), state);
        inner.deals.push((key.clone(), deal));
        Ok(true)
    }

    async fn transact(&self, key: &AccountKey, op: AccountOp<'_>) -> Result<(), SimError> {
        let mut g = self.lock()?;
        let inner = &mut *g;
        let mut last = inner.last_ticket.max(FIRST_TICKET - 1);
        let state = inner
            .accounts
            .get_mut(key)
            .ok_or_else(|| SimError::UnknownAccount(key.clone()))?;
        let applied = op(state, &mut || {
            last += 1;
            last
        });
        inner.last_ticket = last;
        inner
            .deals
            .extend(applied.deals.into_iter().map(|d| (key.clone(), d)));
        inner
            .orders
            .extend(applied.orders.into_iter().map(|o| (key.clone(), o)));
        if let Some(a) = applied.audit {
            inner.push_audit(a);
        }
        Ok(())
    }

    async fn record(&self, audit: AuditRecord) -> Result<(), SimError> {
        self.lock()?.push_audit(audit);
        Ok(())
    }

    async fn history_deals(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, SimError> {
        let g = self.lock()?;
        let mut out: Vec<TradeDeal> = g
            .deals
            .iter()
            .filter(|(k, d)| k == key && deal_selected(d, select))
            .map(|(_, d)| d.clone())
            .collect();
        out.sort_by_key(|d| (d.time_msc, d.ticket));
        Ok(out)
    }

    async fn history_orders(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, SimError> {
        let g = self.lock()?;
        let mut out: Vec<TradeOrder> = g
            .orders
            .iter()
            .filter(|(k, o)| k == key && order_selected(o, select))
            .map(|(_, o)| o.clone())
            .collect();
        out.sort_by_key(|o| (o.time_setup_msc, o.ticket));
        Ok(out)
    }

    async fn audit(&self) -> Result<Vec<AuditRecord>, SimError> {
        Ok(self.lock()?.audit.clone())
    }

    async fn load(&self, key: &AccountKey) -> Result<Option<AccountState>, SimError> {
        Ok(self.lock()?.accounts.get(key).cloned())
    }
}

// ------------------------------------------------------------------------------------------ sqlite

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        state TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (login, server)
    )",
    "CREATE TABLE IF NOT EXISTS deals (
        ticket INTEGER PRIMARY KEY,
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        time_msc INTEGER NOT NULL,
        order_ticket INTEGER NOT NULL,
        position_id INTEGER NOT NULL,
        body TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS deals_account_time ON deals (login, server, time_msc)",
    "CREATE TABLE IF NOT EXISTS history_orders (
        ticket INTEGER PRIMARY KEY,
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        time_setup_msc INTEGER NOT NULL,
        position_id INTEGER NOT NULL,
        body TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS history_orders_account_time
        ON history_orders (login, server, time_setup_msc)",
    "CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        utc_ms INTEGER NOT NULL,
        terminal_id TEXT NOT NULL,
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        operation TEXT NOT NULL,
        symbol TEXT NOT NULL,
        comment TEXT NOT NULL,
        retcode INTEGER NOT NULL,
        order_ticket INTEGER NOT NULL,
        deal_ticket INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )",
];

/// Broker state in a SQLite file. See the module documentation.
pub struct SqliteState {
    pool: SqlitePool,
}

fn to_i64(v: u64) -> i64 {
    // Tickets and logins stay far below 2^63; saturate rather than wrap if one ever did not.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn json<T: Serialize>(v: &T) -> Result<String, SimError> {
    serde_json::to_string(v).map_err(|e| SimError::Store(e.to_string()))
}

/// SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
fn is_locked(code: Option<&str>) -> bool {
    code.and_then(|c| c.parse::<i32>().ok())
        .is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

impl SqliteState {
    /// Opens (creating if needed) the state file and its tables. Several processes may open one new
    /// file at once: switching a new file to WAL takes an exclusive lock for which SQLite does not
    /// wait (its busy handler is not used for it), so an open that meets a locked file is retried
    /// with a short backoff, within the busy timeout.
    pub async fn open(path: &Path) -> Result<Self, SimError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| SimError::Store(format!("cannot create {}: {e}", dir.display())))?;
        }
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(10);
        loop {
            match Self::open_once(path).await {
                Err(sqlx::Error::Database(e))
                    if is_locked(e.code().as_deref()) && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                other => return Ok(other?),
            }
        }
    }

    async fn open_once(path: &Path) -> Result<Self, sqlx::Error> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        // The schema and the ticket counter in one immediate transaction: one process creates
        // them, the others wait for it (busy timeout) and find them there.
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT OR IGNORE INTO counters (name, value) VALUES ('ticket', ?)")
            .bind(to_i64(FIRST_TICKET - 1))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(SqliteState { pool })
    }

    async fn last_ticket(tx: &mut Tx) -> Result<u64, SimError> {
        let row = sqlx::query("SELECT value FROM counters WHERE name = 'ticket'")
            .fetch_one(&mut **tx)
            .await?;
        Ok(to_u64(row.try_get::<i64, _>(0)?))
    }

    async fn set_last_ticket(tx: &mut Tx, v: u64) -> Result<(), SimError> {
        sqlx::query("UPDATE counters SET value = ? WHERE name = 'ticket'")
            .bind(to_i64(v))
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn insert_deal(tx: &mut Tx, key: &AccountKey, d: &TradeDeal) -> Result<(), SimError> {
        sqlx::query(
            "INSERT INTO deals (ticket, login, server, time_msc, order_ticket, position_id, body)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(d.ticket))
        .bind(to_i64(key.login))
        .bind(&key.server)
        .bind(d.time_msc)
        .bind(to_i64(d.order))
        .bind(to_i64(d.position_id))
        .bind(json(d)?)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_order(tx: &mut Tx, key: &AccountKey, o: &TradeOrder) -> Result<(), SimError> {
        sqlx::query(
            "INSERT INTO history_orders (ticket, login, server, time_setup_msc, position_id, body)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(to_i64(o.ticket))
        .bind(to_i64(key.login))
        .bind(&key.server)
        .bind(o.time_setup_msc)
        .bind(to_i64(o.position_id))
        .bind(json(o)?)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn insert_audit<'e, E>(exec: E, a: &AuditRecord) -> Result<(), SimError>
    where
        E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
    {
        sqlx::query(
            "INSERT INTO audit (utc_ms, terminal_id, login, server, operation, symbol, comment,
                                retcode, order_ticket, deal_ticket)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(a.utc_ms)
        .bind(&a.terminal_id)
        .bind(to_i64(a.login))
        .bind(&a.server)
        .bind(&a.operation)
        .bind(&a.symbol)
        .bind(&a.comment)
        .bind(i64::from(a.retcode))
        .bind(to_i64(a.order))
        .bind(to_i64(a.deal))
        .execute(exec)
        .await?;
        Ok(())
    }

    async fn read_state(tx: &mut Tx, key: &AccountKey) -> Result<Option<AccountState>, SimError> {
        let row = sqlx::query("SELECT state FROM accounts WHERE login = ? AND server = ?")
            .bind(to_i64(key.login))
            .bind(&key.server)
            .fetch_optional(&mut **tx)
            .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let text: String = row.try_get(0)?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| SimError::Corrupt(key.clone(), e.to_string()))
            }
        }
    }

    /// The selection as SQL over (login, server) plus the indexed columns; a group filter is
    /// applied afterwards on the decoded rows.
    fn history_sql(
        table: &str,
        time_col: &str,
        ticket_col: &str,
        select: &HistorySelect,
    ) -> String {
        let cond = match select {
            HistorySelect::Range { .. } => format!("{time_col} BETWEEN ? AND ?"),
            HistorySelect::Ticket { .. } => format!("{ticket_col} = ?"),
            HistorySelect::Position { .. } => "position_id = ?".to_string(),
        };
        format!(
            "SELECT body FROM {table} WHERE login = ? AND server = ? AND {cond}
             ORDER BY {time_col}, ticket"
        )
    }

    async fn history<T: serde::de::DeserializeOwned>(
        &self,
        key: &AccountKey,
        sql: &str,
        select: &HistorySelect,
    ) -> Result<Vec<T>, SimError> {
        let mut q = sqlx::query(sql).bind(to_i64(key.login)).bind(&key.server);
        q = match select {
            HistorySelect::Range { from, to, .. } => q
                .bind(from.saturating_mul(1000))
                .bind(to.saturating_mul(1000).saturating_add(999)),
            HistorySelect::Ticket { ticket } => q.bind(to_i64(*ticket)),
            HistorySelect::Position { position } => q.bind(to_i64(*position)),
        };
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let body: String = r.try_get(0)?;
                serde_json::from_str(&body)
                    .map_err(|e| SimError::Corrupt(key.clone(), e.to_string()))
            })
            .collect()
    }
}

#[async_trait]
impl StateStore for SqliteState {
    async fn ensure_account(
        &self,
        key: &AccountKey,
        init: AccountInit<'_>,
    ) -> Result<bool, SimError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if Self::read_state(&mut tx, key).await?.is_some() {
            tx.rollback().await?;
            return Ok(false);
        }
        let mut last = Self::last_ticket(&mut tx).await?;
        let (state, deal) = init(&mut || {
            last += 1;
            last
        });
        let now = now_ms();
        sqlx::query(
            "INSERT INTO accounts (login, server, state, created_ms, updated_ms)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(to_i64(key.login))
        .bind(&key.server)
        .bind(json(&state)?)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Self::insert_deal(&mut tx, key, &deal).await?;
        Self::set_last_ticket(&mut tx, last).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn transact(&self, key: &AccountKey, op: AccountOp<'_>) -> Result<(), SimError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let Some(mut state) = Self::read_state(&mut tx, key).await? else {
            tx.rollback().await?;
            return Err(SimError::UnknownAccount(key.clone()));
        };
        let mut last = Self::last_ticket(&mut tx).await?;
        let start = last;
        let applied = op(&mut state, &mut || {
            last += 1;
            last
        });
        sqlx::query("UPDATE accounts SET state = ?, updated_ms = ? WHERE login = ? AND server = ?")
            .bind(json(&state)?)
            .bind(now_ms())
            .bind(to_i64(key.login))
            .bind(&key.server)
            .execute(&mut *tx)
            .await?;
        if last != start {
            Self::set_last_ticket(&mut tx, last).await?;
        }
        for d in &applied.deals {
            Self::insert_deal(&mut tx, key, d).await?;
        }
        for o in &applied.orders {
            Self::insert_order(&mut tx, key, o).await?;
        }
        if let Some(a) = &applied.audit {
            Self::insert_audit(&mut *tx, a).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn record(&self, audit: AuditRecord) -> Result<(), SimError> {
        Self::insert_audit(&self.pool, &audit).await
    }

    async fn history_deals(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeDeal>, SimError> {
        let sql = Self::history_sql("deals", "time_msc", "order_ticket", select);
        let rows: Vec<TradeDeal> = self.history(key, &sql, select).await?;
        Ok(rows
            .into_iter()
            .filter(|d| deal_selected(d, select))
            .collect())
    }

    async fn history_orders(
        &self,
        key: &AccountKey,
        select: &HistorySelect,
    ) -> Result<Vec<TradeOrder>, SimError> {
        let sql = Self::history_sql("history_orders", "time_setup_msc", "ticket", select);
        let rows: Vec<TradeOrder> = self.history(key, &sql, select).await?;
        Ok(rows
            .into_iter()
            .filter(|o| order_selected(o, select))
            .collect())
    }

    async fn audit(&self) -> Result<Vec<AuditRecord>, SimError> {
        let rows = sqlx::query(
            "SELECT seq, utc_ms, terminal_id, login, server, operation, symbol, comment, retcode,
                    order_ticket, deal_ticket
             FROM audit ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    seq: to_u64(r.try_get(0)?),
                    utc_ms: r.try_get(1)?,
                    terminal_id: r.try_get(2)?,
                    login: to_u64(r.try_get(3)?),
                    server: r.try_get(4)?,
                    operation: r.try_get(5)?,
                    symbol: r.try_get(6)?,
                    comment: r.try_get(7)?,
                    retcode: u32::try_from(r.try_get::<i64, _>(8)?).unwrap_or(0),
                    order: to_u64(r.try_get(9)?),
                    deal: to_u64(r.try_get(10)?),
                })
            })
            .collect()
    }

    async fn load(&self, key: &AccountKey) -> Result<Option<AccountState>, SimError> {
        let mut tx = self.pool.begin().await?;
        let s = Self::read_state(&mut tx, key).await?;
        tx.rollback().await?;
        Ok(s)
    }
}
