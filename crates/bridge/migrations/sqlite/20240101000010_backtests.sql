-- The SQLite counterpart of the Postgres backtest tables (20240101000012_backtests.sql): the same
-- columns and checks, with this tree's storage conventions (UUIDs and timestamps as TEXT, JSON as
-- text, bars as BLOB). Times the queue compares (lease_until, started_at) are Unix milliseconds.

CREATE TABLE IF NOT EXISTS backtests (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
    request TEXT NOT NULL,
    combinations INTEGER NOT NULL CHECK (combinations BETWEEN 1 AND 256),
    rank_by TEXT,
    work INTEGER NOT NULL CHECK (work >= 0),
    progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    history_start TEXT,
    error TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);

CREATE INDEX IF NOT EXISTS idx_backtests_user_created ON backtests(user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_backtests_account ON backtests(account_id);

CREATE TABLE IF NOT EXISTS backtest_results (
    backtest_id TEXT NOT NULL REFERENCES backtests(id) ON DELETE CASCADE,
    combination INTEGER NOT NULL CHECK (combination >= 0),
    user_id TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    parameters TEXT NOT NULL,
    report TEXT NOT NULL,
    trades TEXT NOT NULL DEFAULT '[]',
    equity TEXT NOT NULL DEFAULT '[]',
    history_start TEXT,
    notes TEXT NOT NULL DEFAULT '{}',
    finished_at TEXT NOT NULL,
    PRIMARY KEY (backtest_id, combination)
);

CREATE TABLE IF NOT EXISTS backtest_jobs (
    backtest_id TEXT NOT NULL REFERENCES backtests(id) ON DELETE CASCADE,
    combination INTEGER NOT NULL CHECK (combination >= 0),
    user_id TEXT NOT NULL,
    parameters TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
    claim INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until INTEGER,
    progress REAL NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at INTEGER,
    PRIMARY KEY (backtest_id, combination)
);

CREATE INDEX IF NOT EXISTS idx_backtest_jobs_status ON backtest_jobs(status, created_at);
CREATE INDEX IF NOT EXISTS idx_backtest_jobs_user_status ON backtest_jobs(user_id, status);

CREATE TABLE IF NOT EXISTS backtest_budget (
    user_id TEXT NOT NULL,
    day TEXT NOT NULL,
    work INTEGER NOT NULL,
    PRIMARY KEY (user_id, day)
);

CREATE TABLE IF NOT EXISTS bar_cache (
    server TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    chunk INTEGER NOT NULL,
    bars BLOB NOT NULL,
    final_until INTEGER NOT NULL,
    last_used INTEGER NOT NULL,
    PRIMARY KEY (server, symbol, timeframe, chunk)
);

CREATE INDEX IF NOT EXISTS idx_bar_cache_last_used ON bar_cache(last_used);
