-- The SQLite counterpart of the Postgres `algorithm_configs` and `algorithm_runs`: the same columns,
-- checks, unique key and indexes, with the storage conventions of 20240101000001_accounts.sql (UUIDs
-- and timestamps as TEXT, JSON as text). There is no RLS and no trigger: every user-facing query
-- filters by user_id, and the store sets updated_at itself.

CREATE TABLE IF NOT EXISTS algorithm_configs (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    -- The length checks mirror the VARCHAR limits of the Postgres schema.
    name TEXT NOT NULL CHECK (length(name) <= 255),
    kind TEXT NOT NULL CHECK (length(kind) <= 64),
    parameters TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,

    UNIQUE (user_id, name)
);

CREATE TABLE IF NOT EXISTS algorithm_runs (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    algorithm_id TEXT NOT NULL CHECK (length(algorithm_id) <= 255),
    algorithm_kind TEXT NOT NULL CHECK (length(algorithm_kind) <= 64),
    parameters TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    trades TEXT NOT NULL DEFAULT '[]',
    skipped TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);

CREATE INDEX IF NOT EXISTS idx_algorithm_runs_user_started
    ON algorithm_runs(user_id, started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_account
    ON algorithm_runs(account_id);
