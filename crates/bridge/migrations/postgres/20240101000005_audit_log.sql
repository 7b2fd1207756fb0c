-- The audit log: one row per security-relevant event (connects, failed connects, password changes,
-- deletes, switches, key rotations). Rows hold only non-secret facts in `details`. account_id has no
-- foreign key so a row outlives a hard delete of its account; user_id is null for service events
-- such as a key rotation. Users read and append their own rows; nobody but the owner role updates
-- or deletes them. Written to be re-runnable, like the mt5_accounts migration.

CREATE TABLE IF NOT EXISTS audit_log (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID,
    event VARCHAR(40) NOT NULL CHECK (event IN ('account_connected', 'connect_failed',
        'password_changed', 'password_change_failed', 'account_deleted', 'account_switched',
        'key_rotated')),
    details JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

-- A user's entries, newest first.
CREATE INDEX IF NOT EXISTS idx_audit_log_user_created
    ON audit_log(user_id, created_at DESC);

-- Row Level Security
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own audit entries" ON audit_log;
CREATE POLICY "Users can view own audit entries" ON audit_log
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);

-- The service writes a user's entries inside that user's transaction.
DROP POLICY IF EXISTS "Users can insert own audit entries" ON audit_log;
CREATE POLICY "Users can insert own audit entries" ON audit_log
    FOR INSERT TO authenticated WITH CHECK ((select auth.uid()) = user_id);

-- As for mt5_accounts: take back Supabase's default grants; no UPDATE or DELETE, so the record
-- stays; anon gets nothing.
REVOKE ALL ON public.audit_log FROM anon, authenticated;
GRANT SELECT, INSERT ON public.audit_log TO authenticated;
