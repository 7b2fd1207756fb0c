-- Bots (docs/bots.md): a strategy that runs on every closed bar of one of the user's accounts.
--
-- `bots` is read-only for users (their own rows, through the Data API); only mt5_bridge_writer
-- writes it, with the user's claims, so a user can change neither a bot's state, its
-- `confirm_live`, its magic number nor its parameters except through the API's checks. A bot is
-- tied to its account by (account_id, user_id). Its magic number is unique per account and lies in
-- [2,000,000,000, 2^31): above the algorithms' [1e9, 2e9), a safe integer in JSON.
--
-- `bot_passes` is the exactly-once claim: one row per (bot, open time of the closed bar evaluated),
-- written before anything is sent, with the pass's inputs (the bars' range, the positions read) for
-- the replay. Service data: no API role reads or writes it.
--
-- algorithm_runs gains `bot_id` and `bar_time` (unique together) and the status `skipped`. A run's
-- bot_id is not a foreign key: runs keep it after their bot is deleted. Re-runnable.

CREATE TABLE IF NOT EXISTS bots (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID NOT NULL,
    name VARCHAR(100) NOT NULL CHECK (length(btrim(name)) > 0),
    -- A built-in strategy's name or a saved configuration's id, as given; its kind and parameters
    -- are copied here when the bot is created.
    algorithm_id VARCHAR(255) NOT NULL,
    algorithm_kind VARCHAR(64) NOT NULL,
    parameters JSONB NOT NULL,
    symbol VARCHAR(64) NOT NULL,
    timeframe VARCHAR(8) NOT NULL,
    dry_run BOOLEAN NOT NULL DEFAULT false,
    confirm_live BOOLEAN NOT NULL DEFAULT false,
    magic BIGINT NOT NULL CHECK (magic >= 2000000000 AND magic < 2147483648),
    -- Whether the account keeps one position per symbol (read from MT5 at creation).
    netting BOOLEAN NOT NULL DEFAULT false,
    state VARCHAR(16) NOT NULL DEFAULT 'running'
        CHECK (state IN ('running', 'paused', 'stopped', 'faulted')),
    state_reason VARCHAR(255),
    -- Open time (server clock, as MT5 reports bar times) of the last closed bar evaluated.
    last_bar_time BIGINT,
    -- When (UTC) the next bar is expected to close: the scheduler looks at the bot from then on.
    due_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    passes BIGINT NOT NULL DEFAULT 0,
    trades BIGINT NOT NULL DEFAULT 0,
    skipped_bars BIGINT NOT NULL DEFAULT 0,
    missed_bars BIGINT NOT NULL DEFAULT 0,
    -- Consecutive bars whose orders were all refused (10 faults the bot).
    refused_bars INTEGER NOT NULL DEFAULT 0,
    last_run_id UUID,
    last_skip_reason VARCHAR(255),
    -- After a stop whose closes failed: the positions left open.
    open_positions JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT bots_account_magic_key UNIQUE (account_id, magic),
    CONSTRAINT bots_account_id_user_id_fkey FOREIGN KEY (account_id, user_id)
        REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_bots_user_created ON bots(user_id, created_at, id);
CREATE INDEX IF NOT EXISTS idx_bots_running_due ON bots(due_at) WHERE state = 'running';

ALTER TABLE bots ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own bots" ON bots;
CREATE POLICY "Users can view own bots" ON bots
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can insert own bots" ON bots;
CREATE POLICY "Service can insert own bots" ON bots
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can update own bots" ON bots;
CREATE POLICY "Service can update own bots" ON bots
    FOR UPDATE TO mt5_bridge_writer
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can delete own bots" ON bots;
CREATE POLICY "Service can delete own bots" ON bots
    FOR DELETE TO mt5_bridge_writer USING ((select auth.uid()) = user_id);

REVOKE ALL ON public.bots FROM anon, authenticated;
GRANT SELECT ON public.bots TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.bots TO mt5_bridge_writer;

CREATE TABLE IF NOT EXISTS bot_passes (
    bot_id UUID NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    bar_time BIGINT NOT NULL,
    replica TEXT NOT NULL,
    -- The pass's inputs: the closed bars' range and the bot's positions as read.
    inputs JSONB NOT NULL DEFAULT '{}',
    -- The intents it decided (for the replay), and its run when it had one.
    intents JSONB NOT NULL DEFAULT '[]',
    run_id UUID,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (bot_id, bar_time)
);

CREATE INDEX IF NOT EXISTS idx_bot_passes_created ON bot_passes(created_at);

-- One replica at a time runs an account's wave: a lease per account.
CREATE TABLE IF NOT EXISTS bot_waves (
    account_id UUID PRIMARY KEY,
    replica TEXT NOT NULL,
    lease_until TIMESTAMP WITH TIME ZONE NOT NULL
);

ALTER TABLE bot_passes ENABLE ROW LEVEL SECURITY;
ALTER TABLE bot_waves ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.bot_passes FROM anon, authenticated;
REVOKE ALL ON public.bot_waves FROM anon, authenticated;

ALTER TABLE public.algorithm_runs ADD COLUMN IF NOT EXISTS bot_id UUID;
ALTER TABLE public.algorithm_runs ADD COLUMN IF NOT EXISTS bar_time BIGINT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_algorithm_runs_bot_bar
    ON public.algorithm_runs(bot_id, bar_time) WHERE bot_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_algorithm_runs_bot_started
    ON public.algorithm_runs(bot_id, started_at DESC, id DESC) WHERE bot_id IS NOT NULL;

DO $statuses$
DECLARE
    old_check record;
BEGIN
    FOR old_check IN
        SELECT c.conname
        FROM pg_catalog.pg_constraint c
        WHERE c.conrelid = 'public.algorithm_runs'::regclass
          AND c.contype = 'c'
          AND c.conkey = ARRAY[(
              SELECT attnum FROM pg_catalog.pg_attribute
              WHERE attrelid = 'public.algorithm_runs'::regclass AND attname = 'status'
          )]::int2[]
    LOOP
        EXECUTE format('ALTER TABLE public.algorithm_runs DROP CONSTRAINT %I', old_check.conname);
    END LOOP;
END
$statuses$;

ALTER TABLE public.algorithm_runs ADD CONSTRAINT algorithm_runs_status_check
    CHECK (status IN ('running', 'done', 'failed', 'skipped'));

-- A bot's orders in doubt are found through its runs.
CREATE INDEX IF NOT EXISTS idx_trade_journal_run
    ON public.trade_journal(run_id) WHERE run_id IS NOT NULL;
