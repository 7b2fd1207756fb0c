-- Algorithm configurations (a user's named parameter sets for the built-in strategies) and runs (one
-- row per execution of a strategy on one of the user's accounts). Users manage their own
-- configurations fully; runs they may read, start and finish but never delete (no DELETE policy or
-- grant), so the record of what ran stays. Written to be re-runnable, like the mt5_accounts migration.

CREATE TABLE IF NOT EXISTS algorithm_configs (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    kind VARCHAR(64) NOT NULL,  -- the built-in strategy it configures
    parameters JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT algorithm_configs_user_id_name_key UNIQUE (user_id, name)
);

CREATE TABLE IF NOT EXISTS algorithm_runs (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    algorithm_id VARCHAR(255) NOT NULL,  -- a built-in name, or a configuration's id as text
    algorithm_kind VARCHAR(64) NOT NULL,
    parameters JSONB NOT NULL,
    dry_run BOOLEAN NOT NULL DEFAULT false,
    status VARCHAR(20) NOT NULL DEFAULT 'running'
        CHECK (status IN ('running', 'done', 'failed')),
    trades JSONB NOT NULL DEFAULT '[]',
    skipped JSONB NOT NULL DEFAULT '[]',
    error TEXT,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    finished_at TIMESTAMP WITH TIME ZONE
);

-- Keyset pagination of a user's runs, newest first.
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_user_started
    ON algorithm_runs(user_id, started_at DESC, id DESC);
-- Deleting an account cascades to its runs; this keeps that from scanning the table.
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_account
    ON algorithm_runs(account_id);

-- Row Level Security
ALTER TABLE algorithm_configs ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own algorithm configs" ON algorithm_configs;
CREATE POLICY "Users can view own algorithm configs" ON algorithm_configs
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can insert own algorithm configs" ON algorithm_configs;
CREATE POLICY "Users can insert own algorithm configs" ON algorithm_configs
    FOR INSERT TO authenticated WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can update own algorithm configs" ON algorithm_configs;
CREATE POLICY "Users can update own algorithm configs" ON algorithm_configs
    FOR UPDATE TO authenticated
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can delete own algorithm configs" ON algorithm_configs;
CREATE POLICY "Users can delete own algorithm configs" ON algorithm_configs
    FOR DELETE TO authenticated USING ((select auth.uid()) = user_id);

ALTER TABLE algorithm_runs ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own algorithm runs" ON algorithm_runs;
CREATE POLICY "Users can view own algorithm runs" ON algorithm_runs
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can insert own algorithm runs" ON algorithm_runs;
CREATE POLICY "Users can insert own algorithm runs" ON algorithm_runs
    FOR INSERT TO authenticated WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can update own algorithm runs" ON algorithm_runs;
CREATE POLICY "Users can update own algorithm runs" ON algorithm_runs
    FOR UPDATE TO authenticated
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

-- As for mt5_accounts: take back Supabase's default grants and give the signed-in role only what it
-- needs; anon gets nothing.
REVOKE ALL ON public.algorithm_configs FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.algorithm_configs TO authenticated;
REVOKE ALL ON public.algorithm_runs FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON public.algorithm_runs TO authenticated;

-- updated_at follows every update of a configuration, whoever makes it.
CREATE OR REPLACE FUNCTION public.algorithm_configs_set_updated_at() RETURNS trigger
    LANGUAGE plpgsql SET search_path TO '' AS
$$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS algorithm_configs_set_updated_at ON public.algorithm_configs;
CREATE TRIGGER algorithm_configs_set_updated_at
    BEFORE UPDATE ON public.algorithm_configs
    FOR EACH ROW EXECUTE FUNCTION public.algorithm_configs_set_updated_at();
