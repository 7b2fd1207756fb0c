-- The SQLite counterpart of the Postgres `audit_log`: the same columns, check and index, with the
-- storage conventions of 20240101000001_accounts.sql (UUIDs and timestamps as TEXT, JSON as text).
-- account_id has no foreign key so a row outlives its account. There is no RLS: every user-facing
-- query filters by user_id.

CREATE TABLE IF NOT EXISTS audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT,
    event TEXT NOT NULL CHECK (event IN ('account_connected', 'connect_failed',
        'password_changed', 'password_change_failed', 'account_deleted', 'account_switched',
        'key_rotated')),
    details TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_audit_log_user_created
    ON audit_log(user_id, created_at DESC);
