-- The `mt5_accounts` table, its indexes and Row Level Security policies exactly as specified, so
-- this migration applies unchanged on Supabase and on plain PostgreSQL with the auth shim. It also
-- adopts a table created earlier from the same specification (indexes, policies and the trigger are
-- created only if missing or re-created identically).

CREATE TABLE IF NOT EXISTS mt5_accounts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
    account_name VARCHAR(255) NOT NULL,
    login VARCHAR(50) NOT NULL,
    server VARCHAR(255) NOT NULL,
    encrypted_password TEXT NOT NULL,  -- an application-layer AES-256-GCM envelope
    is_active BOOLEAN DEFAULT true,
    is_default BOOLEAN DEFAULT false,
    broker_name VARCHAR(100),
    account_type VARCHAR(20),  -- 'demo' or 'live'
    risk_limits JSONB,  -- max_daily_loss, max_risk_per_trade, etc.
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),

    UNIQUE(user_id, login, server)  -- One account per user per login/server
);

-- Indexes
CREATE INDEX IF NOT EXISTS idx_mt5_accounts_user_id ON mt5_accounts(user_id);
CREATE INDEX IF NOT EXISTS idx_mt5_accounts_active ON mt5_accounts(user_id, is_active) WHERE is_active = true;

-- Row Level Security
ALTER TABLE mt5_accounts ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own accounts" ON mt5_accounts;
CREATE POLICY "Users can view own accounts" ON mt5_accounts
    FOR SELECT USING (auth.uid() = user_id);

DROP POLICY IF EXISTS "Users can insert own accounts" ON mt5_accounts;
CREATE POLICY "Users can insert own accounts" ON mt5_accounts
    FOR INSERT WITH CHECK (auth.uid() = user_id);

DROP POLICY IF EXISTS "Users can update own accounts" ON mt5_accounts;
CREATE POLICY "Users can update own accounts" ON mt5_accounts
    FOR UPDATE USING (auth.uid() = user_id);

DROP POLICY IF EXISTS "Users can delete own accounts" ON mt5_accounts;
CREATE POLICY "Users can delete own accounts" ON mt5_accounts
    FOR DELETE USING (auth.uid() = user_id);

-- Supabase's default privileges hand every new public table to anon and authenticated; take them
-- back and grant the signed-in role only what it needs. anon gets nothing.
REVOKE ALL ON public.mt5_accounts FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.mt5_accounts TO authenticated;

-- updated_at follows every update, whoever makes it.
CREATE OR REPLACE FUNCTION public.mt5_accounts_set_updated_at() RETURNS trigger
    LANGUAGE plpgsql SET search_path TO '' AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mt5_accounts_set_updated_at ON public.mt5_accounts;
CREATE TRIGGER mt5_accounts_set_updated_at
    BEFORE UPDATE ON public.mt5_accounts
    FOR EACH ROW EXECUTE FUNCTION public.mt5_accounts_set_updated_at();
