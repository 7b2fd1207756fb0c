-- What MT5's account_info() reported for an account row at its last successful login, kept for
-- the service. For now that is only whether the broker allows trading (`trade_allowed`). Users
-- may write their own mt5_accounts rows, so this cannot be a column there. It is a table that
-- users read and only the service writes (as `mt5_bridge_writer`, migration 6). The key on
-- (account_id, user_id) ties a row to its account's owner. A row goes with its account.
-- Re-runnable.

CREATE TABLE IF NOT EXISTS mt5_account_status (
    account_id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    trade_allowed BOOLEAN NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    CONSTRAINT mt5_account_status_account_id_user_id_fkey
        FOREIGN KEY (account_id, user_id) REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);

-- Row Level Security
ALTER TABLE mt5_account_status ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own account status" ON mt5_account_status;
CREATE POLICY "Users can view own account status" ON mt5_account_status
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Service can insert own account status" ON mt5_account_status;
CREATE POLICY "Service can insert own account status" ON mt5_account_status
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Service can update own account status" ON mt5_account_status;
CREATE POLICY "Service can update own account status" ON mt5_account_status
    FOR UPDATE TO mt5_bridge_writer
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

-- As for mt5_accounts: take back Supabase's default grants. Users only read; anon gets nothing.
REVOKE ALL ON public.mt5_account_status FROM anon, authenticated;
GRANT SELECT ON public.mt5_account_status TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.mt5_account_status TO mt5_bridge_writer;
