-- The SQLite counterpart of the Postgres `trade_journal`: the same columns, checks, unique keys and
-- indexes, with the storage conventions of 20240101000001_accounts.sql (UUIDs and timestamps as
-- TEXT, JSON as text). There is no RLS: every user-facing query filters by user_id.

CREATE TABLE IF NOT EXISTS trade_journal (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    -- The length checks mirror the VARCHAR limits of the Postgres schema.
    client_id TEXT NOT NULL CHECK (length(client_id) <= 32),
    idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) <= 255),
    request_hash TEXT CHECK (request_hash IS NULL OR length(request_hash) <= 128),
    source TEXT NOT NULL CHECK (source IN ('api', 'algorithm')),
    algorithm_id TEXT CHECK (algorithm_id IS NULL OR length(algorithm_id) <= 255),
    run_id TEXT,
    action TEXT NOT NULL CHECK (length(action) <= 32),
    request TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'rejected', 'refused', 'failed')),
    retcode INTEGER,
    "order" INTEGER,
    deal INTEGER,
    volume REAL,
    price REAL,
    error TEXT,
    response TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT,

    UNIQUE (client_id)
);

CREATE UNIQUE INDEX IF NOT EXISTS idx_trade_journal_idempotency
    ON trade_journal(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_trade_journal_user_created
    ON trade_journal(user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_trade_journal_account_created
    ON trade_journal(account_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_trade_journal_pending
    ON trade_journal(status) WHERE status = 'pending';
