"""The agent's ledger of the orders it was given (protocol v3): one SQLite file per agent.

Before an `order_send` reaches the terminal, a `received` row keyed by the call's `client_id` is committed
(`synchronous=FULL`) with the login, the server and SHA-256 of the session tag (never the tag itself). After
the terminal answers, the answer is stored (`answered`): MT5's result whatever its retcode, or an error that
proves nothing ran (-2, -8, the agent's own refusals before the call). Any other failure leaves the row
unanswered (`interrupted`: the agent cannot tell). The `ledger` operation answers for client ids from the rows
of the asking session only, and records a tombstone for an id it never received, so that a late `order_send`
with it is refused (`409 client_id_settled`). Every step runs under the ledger's own lock, never the
terminal's: a query answers while a call holds the terminal, and a call and a query cannot cross.

A missing file is created with a new random id; a file that cannot be read (corrupted, not a ledger) makes
the agent refuse orders, with the reason in /v1/health, until an operator moves it aside. Entries older than
the retention (7 days by default) are dropped. `sim-agent` keeps the same format
(crates/bridge/src/agent/ledger.rs).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger("mt5_agent")

DEFAULT_RETENTION_S = 7 * 86_400
# How often, at most, old entries are dropped while the agent runs.
_PURGE_EVERY_S = 60

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS ledger_entries (
        client_id TEXT PRIMARY KEY,
        login INTEGER NOT NULL,
        server TEXT NOT NULL,
        session_sha256 TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('received', 'answered', 'interrupted', 'tombstone')),
        run_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        answer TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ledger_entries_received_at ON ledger_entries (received_at)",
)

# What `begin` decides for an order_send.
FRESH = "fresh"  # the `received` row is committed: the call may go to the terminal
REPLAY = "replay"  # answered before for this session: the stored answer, sent again
IN_DOUBT = "in_doubt"  # received before and never answered: the outcome is unknown
SETTLED = "settled"  # a tombstone: refused, never sent
OTHER_SESSION = "other_session"  # the id was used by another session: refused


class LedgerUnusable(Exception):
    """The ledger file cannot be used: orders are refused until an operator moves it aside."""


@dataclass(frozen=True)
class Session:
    login: int
    server: str
    tag: str

    def key(self) -> tuple[int, str, str]:
        """The row's login, server (case and surrounding spaces aside) and SHA-256 of the tag's hex."""
        return (self.login, self.server.strip().lower(), hashlib.sha256(self.tag.encode("ascii")).hexdigest())


class Ledger:
    """The ledger at `path`. Opening never raises: a file that cannot be used is reported by `health()`
    and refuses every operation."""

    def __init__(self, path: str, retention_s: int = DEFAULT_RETENTION_S) -> None:
        if retention_s <= 0:
            raise ValueError("the retention must be positive")
        self.path = path
        self.retention_s = int(retention_s)
        self.run_id = secrets.token_hex(16)
        self.id: str | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._last_purge = 0.0
        try:
            self._conn, self.id = self._open()
        except (sqlite3.Error, OSError, LedgerUnusable) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            LOG.error("ledger %s unusable (%s): orders are refused until it is moved aside", path, self.error)

    def _open(self) -> tuple[sqlite3.Connection, str]:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        existed = os.path.exists(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            check = conn.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise LedgerUnusable(f"integrity check failed: {check[0] if check else 'no answer'}")
            for statement in _SCHEMA:
                conn.execute(statement)
            row = conn.execute("SELECT value FROM ledger_meta WHERE key = 'id'").fetchone()
            if row is not None:
                ledger_id = str(row[0])
            else:
                count = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
                if existed and count > 0:
                    raise LedgerUnusable("the file holds entries but no ledger id")
                ledger_id = secrets.token_hex(16)
                conn.execute("INSERT INTO ledger_meta (key, value) VALUES ('id', ?)", (ledger_id,))
            self._purge(conn)
            return conn, ledger_id
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def health(self) -> dict[str, Any]:
        return {"id": self.id, "retention_s": self.retention_s, "error": self.error}

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerUnusable(self.error or "the ledger is closed")
        return self._conn

    def _purge(self, conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute("DELETE FROM ledger_entries WHERE received_at < ?", (int(now) - self.retention_s,))
        self._last_purge = now

    def begin(self, client_id: str, session: Session) -> tuple[str, dict[str, Any] | None]:
        """Under the ledger's lock: what an order_send with `client_id` may do; a new one gets its
        `received` row, committed (synchronous=FULL) before this returns."""
        with self._lock:
            conn = self._connection()
            try:
                if time.time() - self._last_purge >= _PURGE_EVERY_S:
                    self._purge(conn)
                row = conn.execute(
                    "SELECT login, server, session_sha256, state, answer FROM ledger_entries"
                    " WHERE client_id = ?",
                    (client_id,),
                ).fetchone()
                if row is not None:
                    if row[3] == "tombstone":
                        return SETTLED, None
                    if tuple(row[:3]) != session.key():
                        return OTHER_SESSION, None
                    if row[3] == "answered" and row[4]:
                        return REPLAY, json.loads(row[4])
                    return IN_DOUBT, None
                login, server, digest = session.key()
                conn.execute(
                    "INSERT INTO ledger_entries"
                    " (client_id, login, server, session_sha256, state, run_id, received_at)"
                    " VALUES (?, ?, ?, ?, 'received', ?, ?)",
                    (client_id, login, server, digest, self.run_id, int(time.time())),
                )
                return FRESH, None
            except (sqlite3.Error, ValueError) as exc:
                raise LedgerUnusable(f"{type(exc).__name__}: {exc}") from exc

    def answered(self, client_id: str, answer: dict[str, Any]) -> None:
        """The terminal's answer (or an error proving nothing ran), stored for replays and queries."""
        self._finish(
            "UPDATE ledger_entries SET state = 'answered', answer = ?"
            " WHERE client_id = ? AND state = 'received'",
            (json.dumps(answer, separators=(",", ":")), client_id),
        )

    def forget(self, client_id: str) -> None:
        """Nothing ran and nothing is to be remembered: the call may come again."""
        self._finish("DELETE FROM ledger_entries WHERE client_id = ? AND state = 'received'", (client_id,))

    def interrupted(self, client_id: str) -> None:
        """No answer that proves anything: cannot tell."""
        self._finish(
            "UPDATE ledger_entries SET state = 'interrupted' WHERE client_id = ? AND state = 'received'",
            (client_id,),
        )

    def _finish(self, sql: str, params: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._connection().execute(sql, params)
            except (sqlite3.Error, LedgerUnusable) as exc:
                # The row stays `received`: after a restart it reads `interrupted` (cannot tell).
                LOG.error("the ledger did not record an order's end: %s", exc)

    def query(self, session: Session, client_ids: list[str]) -> dict[str, Any]:
        """The `ledger` operation: for each id, what the ledger knows for `session`; an id it never
        received gets a tombstone first (committed before this returns)."""
        with self._lock:
            conn = self._connection()
            entries: list[dict[str, Any]] = []
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for client_id in client_ids:
                        entries.append(self._lookup(conn, session, client_id))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, ValueError) as exc:
                raise LedgerUnusable(f"{type(exc).__name__}: {exc}") from exc
            return {"ledger_id": self.id, "entries": entries}

    def _lookup(self, conn: sqlite3.Connection, session: Session, client_id: str) -> dict[str, Any]:
        row = conn.execute(
            "SELECT login, server, session_sha256, state, run_id, answer FROM ledger_entries"
            " WHERE client_id = ?",
            (client_id,),
        ).fetchone()
        if row is None:
            login, server, digest = session.key()
            conn.execute(
                "INSERT INTO ledger_entries"
                " (client_id, login, server, session_sha256, state, run_id, received_at)"
                " VALUES (?, ?, ?, ?, 'tombstone', ?, ?)",
                (client_id, login, server, digest, self.run_id, int(time.time())),
            )
            return {"client_id": client_id, "state": "never_received"}
        if tuple(row[:3]) != session.key():
            # Another account or another credential: this caller learns nothing.
            return {"client_id": client_id, "state": "unknown"}
        state, run_id, answer = row[3], row[4], row[5]
        if state == "tombstone":
            return {"client_id": client_id, "state": "never_received"}
        if state == "answered" and answer:
            return {"client_id": client_id, "state": "answered", "answer": json.loads(answer)}
        if state == "received" and run_id == self.run_id:
            return {"client_id": client_id, "state": "running"}
        return {"client_id": client_id, "state": "interrupted"}
