-- The SQLite counterpart of the Postgres schema: `auth_users` stands in for `auth.users`, and
-- `mt5_accounts` has the same columns, unique key and indexes. UUIDs are TEXT (hyphenated, lower
-- case), timestamps are TEXT in fixed-width UTC RFC 3339 with microseconds (so they sort as text),
-- risk_limits is JSON text. There is no RLS: every query filters by user_id.

CREATE TABLE IF NOT EXISTS auth_users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS mt5_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES auth_users(id) ON DELETE CASCADE,
    -- The length checks mirror the VARCHAR limits of the Postgres schema.
    account_name TEXT NOT NULL CHECK (length(account_name) <= 255),
    login TEXT NOT NULL CHECK (length(login) <= 50),
    server TEXT NOT NULL CHECK (length(server) <= 255),
    encrypted_password TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_default INTEGER NOT NULL DEFAULT 0,
    broker_name TEXT CHECK (broker_name IS NULL OR length(broker_name) <= 100),
    account_type TEXT CHECK (account_type IS NULL OR length(account_type) <= 20),
    risk_limits TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,

    UNIQUE(user_id, login, server)
);

CREATE INDEX IF NOT EXISTS idx_mt5_accounts_user_id ON mt5_accounts(user_id);
CREATE INDEX IF NOT EXISTS idx_mt5_accounts_active ON mt5_accounts(user_id, is_active) WHERE is_active = 1;
