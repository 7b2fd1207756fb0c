-- The SQLite counterpart of Postgres migration 20240101000008_account_status.sql: what MT5's
-- account_info() reported for an account row at its last successful login (`trade_allowed`),
-- written by the service only. The storage conventions follow 20240101000001_accounts.sql. The key
-- on (account_id, user_id) ties a row to its account's owner, and a row goes with its account.
-- There is no RLS here.

CREATE TABLE IF NOT EXISTS mt5_account_status (
    account_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    trade_allowed INTEGER NOT NULL CHECK (trade_allowed IN (0, 1)),
    updated_at TEXT NOT NULL,

    CONSTRAINT mt5_account_status_account_id_user_id_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);
