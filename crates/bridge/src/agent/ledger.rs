//! The agent's ledger of the orders it was given (protocol v3), as `sim-agent` keeps it; the
//! Python agent keeps the same file format (agent/mt5_agent/ledger.py).
//!
//! Before an `order_send` reaches the terminal, a `received` row keyed by the call's `client_id`
//! is committed (`synchronous=FULL`) with the login, the server and SHA-256 of the session tag
//! (never the tag). After the terminal answers, the answer is stored (`answered`): MT5's result
//! whatever its retcode, or an error that proves nothing ran. Any other failure leaves the row
//! unanswered (`interrupted`: cannot tell). The `ledger` operation answers for client ids from the
//! rows of the asking session only, and records a tombstone for an id it never received, so that a
//! late `order_send` with it is refused (`409 client_id_settled`). Every step runs under the
//! ledger's own lock, never the terminal's: a query answers while a call holds the terminal, and a
//! call and a query cannot cross.
//!
//! A missing file is created with a new random id; a file that cannot be read (corrupted, not a
//! ledger) makes the agent refuse orders, with the reason in `/v1/health`, until an operator moves
//! it aside. Entries older than the retention (7 days by default) are dropped.

use super::wire::{LedgerAnswer, LedgerEntry, LedgerHealth, LedgerState, StoredAnswer};
use mt5::Session;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long entries are kept by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// How often, at most, old entries are dropped while the agent runs.
const PURGE_EVERY_S: i64 = 60;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_entries (
        client_id TEXT PRIMARY KEY,
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        session_sha256 TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('received', 'answered', 'interrupted', 'tombstone')),
        run_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        answer TEXT
    )",
    "CREATE INDEX IF NOT EXISTS ledger_entries_received_at ON ledger_entries (received_at)",
];

/// Why the ledger refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file cannot be used: orders are refused until an operator moves it aside.
    #[error("the agent's ledger is unusable: {0}")]
    Unusable(String),
}

/// What an `order_send` may do, as the ledger decides under its lock.
#[derive(Debug)]
pub enum Begin {
    /// New: the `received` row is committed; the call may go to the terminal.
    Fresh,
    /// Already answered for this session: the stored answer, sent again without executing.
    Replay(StoredAnswer),
    /// Received before and never answered (running, or interrupted): the outcome is unknown.
    InDoubt,
    /// A tombstone: the ledger told a caller it never received it. Refused, never sent.
    Settled,
    /// The id was used by another session: refused, nothing ran.
    OtherSession,
}

/// How an `order_send` ended, as the ledger keeps it.
#[derive(Debug)]
pub enum Finish {
    /// The terminal's result, or an error that proves nothing ran.
    Answered(StoredAnswer),
    /// Nothing ran and nothing is to be remembered (refused before the terminal for the session
    /// or the deadline): the row is dropped, the call may come again.
    Forget,
    /// No answer that proves anything: cannot tell.
    Interrupted,
}

/// The ledger: one SQLite file per agent.
pub struct Ledger {
    path: PathBuf,
    id: Option<String>,
    run_id: String,
    retention: Duration,
    /// The ledger's own lock (never the terminal's); `None` when the file is unusable.
    conn: tokio::sync::Mutex<Option<Conn>>,
    error: Option<String>,
}

struct Conn {
    conn: SqliteConnection,
    last_purge: i64,
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// SHA-256 of the session tag (its 64 hex characters), in hex: the ledger never keeps the tag.
fn tag_hash(session: &Session) -> String {
    let digest = Sha256::digest(session.tag.to_hex().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A server name as the ledger compares it (case and surrounding spaces aside, as sessions do).
fn server_key(server: &str) -> String {
    server.trim().to_lowercase()
}

impl Ledger {
    /// Opens (or creates, with a new random id) the ledger at `path`. Never fails: a file that
    /// cannot be used is reported by [`Ledger::health`] and refuses every operation.
    pub async fn open(path: &Path, retention: Duration) -> Ledger {
        let run_id = uuid::Uuid::new_v4().simple().to_string();
        let (conn, id, error) = match Self::open_file(path, retention).await {
            Ok((conn, id)) => (Some(conn), Some(id), None),
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "agent ledger unusable: orders are refused until it is moved aside");
                (None, None, Some(e))
            }
        };
        Ledger {
            path: path.to_path_buf(),
            id,
            run_id,
            retention,
            conn: tokio::sync::Mutex::new(conn),
            error,
        }
    }

    async fn open_file(path: &Path, retention: Duration) -> Result<(Conn, String), String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let existed = path.exists();
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .disable_statement_logging();
        let mut conn = opts.connect().await.map_err(|e| e.to_string())?;
        let check: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if check != "ok" {
            return Err(format!("integrity check failed: {check}"));
        }
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        let id: Option<String> =
            sqlx::query_scalar("SELECT value FROM ledger_meta WHERE key = 'id'")
                .fetch_optional(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        let id = match id {
            Some(id) => id,
            None => {
                let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_entries")
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                if existed && entries > 0 {
                    return Err("the file holds entries but no ledger id".into());
                }
                let id = uuid::Uuid::new_v4().simple().to_string();
                sqlx::query("INSERT INTO ledger_meta (key, value) VALUES ('id', ?)")
                    .bind(&id)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                id
            }
        };
        let mut c = Conn {
            conn,
            last_purge: 0,
        };
        purge(&mut c, retention).await.map_err(|e| e.to_string())?;
        Ok((c, id))
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ledger's id, `None` when the file is unusable.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The ledger as `/v1/health` reports it.
    pub fn health(&self) -> LedgerHealth {
        LedgerHealth {
            id: self.id.clone(),
            retention_s: self.retention.as_secs(),
            error: self.error.clone(),
        }
    }

    fn unusable(&self) -> LedgerError {
        LedgerError::Unusable(
            self.error
                .clone()
                .unwrap_or_else(|| "the ledger is closed".into()),
        )
    }

    /// Under the ledger's lock: what an `order_send` with `client_id` may do; a new one gets its
    /// `received` row, committed before this returns.
    pub async fn begin(&self, client_id: &str, session: &Session) -> Result<Begin, LedgerError> {
        let mut guard = self.conn.lock().await;
        let Some(c) = guard.as_mut() else {
            return Err(self.unusable());
        };
        let run = async {
            if now_s() - c.last_purge >= PURGE_EVERY_S {
                purge(c, self.retention).await?;
            }
            let row = sqlx::query(
                "SELECT login, server, session_sha256, state, answer FROM ledger_entries WHERE client_id = ?",
            )
            .bind(client_id)
            .fetch_optional(&mut c.conn)
            .await?;
            if let Some(row) = row {
                let state: String = row.try_get("state")?;
                if state == "tombstone" {
                    return Ok(Begin::Settled);
                }
                if !same_session(&row, session)? {
                    return Ok(Begin::OtherSession);
                }
                if state == "answered" {
                    let answer: Option<String> = row.try_get("answer")?;
                    if let Some(a) = answer.and_then(|a| serde_json::from_str(&a).ok()) {
                        return Ok(Begin::Replay(a));
                    }
                }
                return Ok(Begin::InDoubt);
            }
            sqlx::query(
                "INSERT INTO ledger_entries (client_id, login, server, session_sha256, state, run_id, received_at)
                 VALUES (?, ?, ?, ?, 'received', ?, ?)",
            )
            .bind(client_id)
            .bind(i64::try_from(session.account.login).unwrap_or(i64::MAX))
            .bind(server_key(&session.account.server))
            .bind(tag_hash(session))
            .bind(&self.run_id)
            .bind(now_s())
            .execute(&mut c.conn)
            .await?;
            Ok::<_, sqlx::Error>(Begin::Fresh)
        };
        run.await.map_err(|e| LedgerError::Unusable(e.to_string()))
    }

    /// Under the ledger's lock: how the `order_send` of `client_id` ended.
    pub async fn finish(&self, client_id: &str, how: Finish) -> Result<(), LedgerError> {
        let mut guard = self.conn.lock().await;
        let Some(c) = guard.as_mut() else {
            return Err(self.unusable());
        };
        let q = match &how {
            Finish::Answered(answer) => sqlx::query(
                "UPDATE ledger_entries SET state = 'answered', answer = ? WHERE client_id = ? AND state = 'received'",
            )
            .bind(serde_json::to_string(answer).unwrap_or_default())
            .bind(client_id),
            Finish::Forget => sqlx::query(
                "DELETE FROM ledger_entries WHERE client_id = ? AND state = 'received'",
            )
            .bind(client_id),
            Finish::Interrupted => sqlx::query(
                "UPDATE ledger_entries SET state = 'interrupted' WHERE client_id = ? AND state = 'received'",
            )
            .bind(client_id),
        };
        q.execute(&mut c.conn)
            .await
            .map(|_| ())
            .map_err(|e| LedgerError::Unusable(e.to_string()))
    }

    /// The `ledger` operation: for each id, what the ledger knows for `session`; an id it never
    /// received gets a tombstone first (committed before this returns).
    pub async fn query(
        &self,
        session: &Session,
        client_ids: &[String],
    ) -> Result<LedgerAnswer, LedgerError> {
        let mut guard = self.conn.lock().await;
        let (Some(c), Some(id)) = (guard.as_mut(), self.id.clone()) else {
            return Err(self.unusable());
        };
        let run = async {
            let mut tx = c.conn.begin().await?;
            let mut entries = Vec::with_capacity(client_ids.len());
            for client_id in client_ids {
                let row = sqlx::query(
                    "SELECT login, server, session_sha256, state, run_id, answer FROM ledger_entries WHERE client_id = ?",
                )
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?;
                let (state, answer) = match row {
                    None => {
                        sqlx::query(
                            "INSERT INTO ledger_entries (client_id, login, server, session_sha256, state, run_id, received_at)
                             VALUES (?, ?, ?, ?, 'tombstone', ?, ?)",
                        )
                        .bind(client_id)
                        .bind(i64::try_from(session.account.login).unwrap_or(i64::MAX))
                        .bind(server_key(&session.account.server))
                        .bind(tag_hash(session))
                        .bind(&self.run_id)
                        .bind(now_s())
                        .execute(&mut *tx)
                        .await?;
                        (LedgerState::NeverReceived, None)
                    }
                    Some(row) if !same_session(&row, session)? => (LedgerState::Unknown, None),
                    Some(row) => {
                        let state: String = row.try_get("state")?;
                        let run_id: String = row.try_get("run_id")?;
                        match state.as_str() {
                            "tombstone" => (LedgerState::NeverReceived, None),
                            "answered" => {
                                let answer: Option<String> = row.try_get("answer")?;
                                match answer.and_then(|a| serde_json::from_str(&a).ok()) {
                                    Some(a) => (LedgerState::Answered, Some(a)),
                                    None => (LedgerState::Interrupted, None),
                                }
                            }
                            "received" if run_id == self.run_id => (LedgerState::Running, None),
                            _ => (LedgerState::Interrupted, None),
                        }
                    }
                };
                entries.push(LedgerEntry {
                    client_id: client_id.clone(),
                    state,
                    answer,
                });
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(entries)
        };
        let entries = run
            .await
            .map_err(|e| LedgerError::Unusable(e.to_string()))?;
        Ok(LedgerAnswer {
            ledger_id: id,
            entries,
        })
    }
}

/// Whether a row was written for `session`: the same login, server and tag.
fn same_session(row: &sqlx::sqlite::SqliteRow, session: &Session) -> Result<bool, sqlx::Error> {
    let login: i64 = row.try_get("login")?;
    let server: String = row.try_get("server")?;
    let hash: String = row.try_get("session_sha256")?;
    Ok(u64::try_from(login).ok() == Some(session.account.login)
        && server == server_key(&session.account.server)
        && hash == tag_hash(session))
}

/// Drops the entries older than `retention`.
async fn purge(c: &mut Conn, retention: Duration) -> Result<(), sqlx::Error> {
    let now = now_s();
    let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    sqlx::query("DELETE FROM ledger_entries WHERE received_at < ?")
        .bind(now.saturating_sub(keep))
        .execute(&mut c.conn)
        .await?;
    c.last_purge = now;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mt5::{AccountKey, SessionTag};

    fn session(login: u64, tag: &str) -> Session {
        Session::new(
            AccountKey::new(login, "Sim-Demo"),
            SessionTag::from_hex(&tag.repeat(32)).unwrap(),
        )
    }

    #[tokio::test]
    async fn a_ledger_answers_its_own_session_only_and_keeps_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        let ledger = Ledger::open(&path, DEFAULT_RETENTION).await;
        let id = ledger.id().unwrap().to_string();
        let (me, other) = (session(1, "ab"), session(1, "cd"));
        assert!(matches!(
            ledger.begin("c1", &me).await.unwrap(),
            Begin::Fresh
        ));
        let ids = ["c1".to_string(), "c2".to_string()];
        let a = ledger.query(&me, &ids).await.unwrap();
        assert_eq!(a.entries[0].state, LedgerState::Running);
        assert_eq!(a.entries[1].state, LedgerState::NeverReceived);
        let answer = StoredAnswer {
            status: 200,
            result: Some(serde_json::json!({"retcode": 10009})),
            error: None,
        };
        ledger
            .finish("c1", Finish::Answered(answer.clone()))
            .await
            .unwrap();
        let a = ledger.query(&other, &ids[..1]).await.unwrap();
        assert_eq!(a.entries[0].state, LedgerState::Unknown);
        assert!(a.entries[0].answer.is_none());
        assert!(matches!(
            ledger.begin("c2", &me).await.unwrap(),
            Begin::Settled
        ));
        assert!(matches!(
            ledger.begin("c1", &me).await.unwrap(),
            Begin::Replay(a) if a == answer
        ));
        assert!(matches!(
            ledger.begin("c1", &other).await.unwrap(),
            Begin::OtherSession
        ));
        assert!(matches!(
            ledger.begin("c3", &me).await.unwrap(),
            Begin::Fresh
        ));
        drop(ledger);
        // A new run: the id is kept, an unanswered entry is interrupted.
        let ledger = Ledger::open(&path, DEFAULT_RETENTION).await;
        assert_eq!(ledger.id(), Some(id.as_str()));
        let a = ledger.query(&me, &["c3".to_string()]).await.unwrap();
        assert_eq!(a.entries[0].state, LedgerState::Interrupted);
        drop(ledger);
        // A corrupted file refuses everything and says why.
        std::fs::write(&path, b"not a ledger at all, just bytes").unwrap();
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let ledger = Ledger::open(&path, DEFAULT_RETENTION).await;
        assert!(ledger.health().error.is_some());
        assert!(ledger.begin("c9", &me).await.is_err());
    }
}
