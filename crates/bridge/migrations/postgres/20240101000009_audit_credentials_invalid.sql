-- A new audit event, `credentials_invalid`: MT5 refused an account's stored credentials. The
-- event list is a CHECK on audit_log.event. The check is found by what it is, because it was
-- created unnamed, and replaced by a named one with the full list. Re-runnable.

DO $events$
DECLARE
    old_check record;
BEGIN
    FOR old_check IN
        SELECT c.conname
        FROM pg_catalog.pg_constraint c
        WHERE c.conrelid = 'public.audit_log'::regclass
          AND c.contype = 'c'
          AND c.conkey = ARRAY[(
              SELECT attnum FROM pg_catalog.pg_attribute
              WHERE attrelid = 'public.audit_log'::regclass AND attname = 'event'
          )]::int2[]
    LOOP
        EXECUTE format('ALTER TABLE public.audit_log DROP CONSTRAINT %I', old_check.conname);
    END LOOP;
END
$events$;

ALTER TABLE public.audit_log ADD CONSTRAINT audit_log_event_check CHECK (event IN (
    'account_connected', 'connect_failed', 'password_changed', 'password_change_failed',
    'account_deleted', 'account_switched', 'key_rotated', 'credentials_invalid'));
