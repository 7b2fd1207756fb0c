-- The SQLite counterpart of Postgres migration 20240101000009_audit_credentials_invalid.sql: the
-- audit event `credentials_invalid` (MT5 refused an account's stored credentials). SQLite cannot
-- change a CHECK, so the table is rebuilt with the full list. Rows keep their rowids, which break
-- ties between entries written in the same microsecond.

CREATE TABLE audit_log_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT,
    event TEXT NOT NULL CHECK (event IN ('account_connected', 'connect_failed',
        'password_changed', 'password_change_failed', 'account_deleted', 'account_switched',
        'key_rotated', 'credentials_invalid')),
    details TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

INSERT INTO audit_log_new (rowid, id, user_id, account_id, event, details, created_at)
SELECT rowid, id, user_id, account_id, event, details, created_at FROM audit_log;

DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE INDEX IF NOT EXISTS idx_audit_log_user_created
    ON audit_log(user_id, created_at DESC);
