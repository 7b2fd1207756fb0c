-- The SQLite counterpart of Postgres migration 20240101000011_audit_login_guessing_blocked.sql:
-- the audit event `login_guessing_blocked`. SQLite cannot change a CHECK, so the table is rebuilt
-- with the full list, as in migration 7. Rows keep their rowids, which break ties between entries
-- written in the same microsecond.

CREATE TABLE audit_log_new (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT REFERENCES auth_users(id) ON DELETE CASCADE,
    account_id TEXT,
    event TEXT NOT NULL CHECK (event IN ('account_connected', 'connect_failed',
        'password_changed', 'password_change_failed', 'account_deleted', 'account_switched',
        'key_rotated', 'credentials_invalid', 'login_guessing_blocked')),
    details TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);

INSERT INTO audit_log_new (rowid, id, user_id, account_id, event, details, created_at)
SELECT rowid, id, user_id, account_id, event, details, created_at FROM audit_log;

DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;

CREATE INDEX IF NOT EXISTS idx_audit_log_user_created
    ON audit_log(user_id, created_at DESC);
