-- The SQLite counterpart of Postgres migration 20240101000014_bots.sql: `bots`, `bot_passes`,
-- `bot_waves`, and algorithm_runs with `bot_id`, `bar_time` and the status `skipped` (a CHECK
-- SQLite cannot alter: the table is rebuilt, its rows kept). UUIDs and timestamps as TEXT, JSON as
-- text; `due_at` and `lease_until` are Unix milliseconds (compared by the scheduler).

CREATE TABLE IF NOT EXISTS bots (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    algorithm_id TEXT NOT NULL CHECK (length(algorithm_id) <= 255),
    algorithm_kind TEXT NOT NULL CHECK (length(algorithm_kind) <= 64),
    parameters TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    confirm_live INTEGER NOT NULL DEFAULT 0,
    magic INTEGER NOT NULL CHECK (magic >= 2000000000 AND magic < 2147483648),
    netting INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'paused', 'stopped', 'faulted')),
    state_reason TEXT,
    last_bar_time INTEGER,
    due_at INTEGER NOT NULL,
    passes INTEGER NOT NULL DEFAULT 0,
    trades INTEGER NOT NULL DEFAULT 0,
    skipped_bars INTEGER NOT NULL DEFAULT 0,
    missed_bars INTEGER NOT NULL DEFAULT 0,
    refused_bars INTEGER NOT NULL DEFAULT 0,
    last_run_id TEXT,
    last_skip_reason TEXT,
    open_positions TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (account_id, magic)
);

CREATE INDEX IF NOT EXISTS idx_bots_user_created ON bots(user_id, created_at, id);
CREATE INDEX IF NOT EXISTS idx_bots_state_due ON bots(state, due_at);

CREATE TABLE IF NOT EXISTS bot_passes (
    bot_id TEXT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    bar_time INTEGER NOT NULL,
    replica TEXT NOT NULL,
    inputs TEXT NOT NULL DEFAULT '{}',
    intents TEXT NOT NULL DEFAULT '[]',
    run_id TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (bot_id, bar_time)
);

CREATE INDEX IF NOT EXISTS idx_bot_passes_created ON bot_passes(created_at);

CREATE TABLE IF NOT EXISTS bot_waves (
    account_id TEXT PRIMARY KEY NOT NULL,
    replica TEXT NOT NULL,
    lease_until INTEGER NOT NULL
);

CREATE TABLE algorithm_runs_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    algorithm_id TEXT NOT NULL CHECK (length(algorithm_id) <= 255),
    algorithm_kind TEXT NOT NULL CHECK (length(algorithm_kind) <= 64),
    parameters TEXT NOT NULL,
    dry_run INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'done', 'failed', 'skipped')),
    trades TEXT NOT NULL DEFAULT '[]',
    skipped TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    bot_id TEXT,
    bar_time INTEGER
);

INSERT INTO algorithm_runs_new (id, user_id, account_id, algorithm_id, algorithm_kind, parameters,
    dry_run, status, trades, skipped, error, started_at, finished_at)
SELECT id, user_id, account_id, algorithm_id, algorithm_kind, parameters, dry_run, status, trades,
    skipped, error, started_at, finished_at FROM algorithm_runs;

DROP TABLE algorithm_runs;
ALTER TABLE algorithm_runs_new RENAME TO algorithm_runs;

CREATE INDEX IF NOT EXISTS idx_algorithm_runs_user_started
    ON algorithm_runs(user_id, started_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_account
    ON algorithm_runs(account_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_algorithm_runs_bot_bar
    ON algorithm_runs(bot_id, bar_time) WHERE bot_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_bot_started
    ON algorithm_runs(bot_id, started_at DESC, id DESC) WHERE bot_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_trade_journal_run
    ON trade_journal(run_id) WHERE run_id IS NOT NULL;
