-- A new audit event, `login_guessing_blocked`: the per-login guessing window refuses other users'
-- guesses at a login the row's owner holds with a trading credential (at most one entry per row
-- per window). The event list is the named CHECK of migration 9, replaced with the full list.
-- Re-runnable.

ALTER TABLE public.audit_log DROP CONSTRAINT IF EXISTS audit_log_event_check;

ALTER TABLE public.audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN (
    'account_connected', 'connect_failed', 'password_changed', 'password_change_failed',
    'account_deleted', 'account_switched', 'key_rotated', 'credentials_invalid',
    'login_guessing_blocked'));
