-- The SQLite counterpart of Postgres migration 20240101000010_journal_outcomes.sql: the journal
-- statuses `unknown` (an order in doubt) and `not_executed` (it certainly did not run), and the
-- index of open entries (pending or unknown). SQLite cannot change a CHECK, so the journal is
-- rebuilt: create, copy, drop, rename, re-index. Rows keep their values; nothing is rewritten.

CREATE TABLE trade_journal_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL,
    -- The length checks mirror the VARCHAR limits of the Postgres schema.
    client_id TEXT NOT NULL CHECK (length(client_id) <= 32),
    idempotency_key TEXT CHECK (idempotency_key IS NULL OR length(idempotency_key) <= 255),
    request_hash TEXT CHECK (request_hash IS NULL OR length(request_hash) <= 128),
    source TEXT NOT NULL CHECK (source IN ('api', 'algorithm')),
    algorithm_id TEXT CHECK (algorithm_id IS NULL OR length(algorithm_id) <= 255),
    run_id TEXT,
    action TEXT NOT NULL CHECK (length(action) <= 32),
    request TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'unknown', 'done', 'rejected', 'refused',
        'not_executed', 'failed')),
    retcode INTEGER,
    "order" INTEGER,
    deal INTEGER,
    volume REAL,
    price REAL,
    error TEXT,
    response TEXT,
    created_at TEXT NOT NULL,
    completed_at TEXT,

    UNIQUE (client_id),
    CONSTRAINT trade_journal_account_id_user_id_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);

INSERT INTO trade_journal_new (id, user_id, account_id, client_id, idempotency_key, request_hash,
    source, algorithm_id, run_id, action, request, status, retcode, "order", deal, volume, price,
    error, response, created_at, completed_at)
SELECT id, user_id, account_id, client_id, idempotency_key, request_hash,
    source, algorithm_id, run_id, action, request, status, retcode, "order", deal, volume, price,
    error, response, created_at, completed_at
FROM trade_journal;

DROP TABLE trade_journal;
ALTER TABLE trade_journal_new RENAME TO trade_journal;

CREATE UNIQUE INDEX IF NOT EXISTS idx_trade_journal_idempotency
    ON trade_journal(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_trade_journal_user_created
    ON trade_journal(user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_trade_journal_account_created
    ON trade_journal(account_id, created_at DESC);
CREATE INDEX IF NOT EXISTS idx_trade_journal_open
    ON trade_journal(status) WHERE status IN ('pending', 'unknown');
