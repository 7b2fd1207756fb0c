-- Backtests (docs/backtests.md): what a user asked for and what it came to, read-only for users;
-- the job queue and the bar cache, the service's own data, readable by no API role.
--
-- A backtest is one request; each parameter combination of it (one for a plain backtest, up to 256
-- for a sweep) is a unit of work in `backtest_jobs` and, once run, a row of `backtest_results`
-- with its report, trades and equity curve. Users read `backtests` and `backtest_results` through
-- the Data API (their own rows); only `mt5_bridge_writer` writes them. Both are tied to the account
-- by (account_id, user_id), so no row can point at another user's account. Re-runnable.

CREATE TABLE IF NOT EXISTS backtests (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
    -- The normalized request: strategy, parameters (a grid for a sweep), window, model, costs,
    -- and the account's terms as read when the first unit started.
    request JSONB NOT NULL,
    combinations INTEGER NOT NULL CHECK (combinations BETWEEN 1 AND 256),
    rank_by VARCHAR(40),
    -- Bar-evaluations the request costs (bars × combinations), counted against the daily budget.
    work BIGINT NOT NULL CHECK (work >= 0),
    progress DOUBLE PRECISION NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    history_start TIMESTAMP WITH TIME ZONE,
    error JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    started_at TIMESTAMP WITH TIME ZONE,
    finished_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT backtests_account_id_user_id_fkey FOREIGN KEY (account_id, user_id)
        REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_backtests_user_created ON backtests(user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_backtests_account ON backtests(account_id);

CREATE TABLE IF NOT EXISTS backtest_results (
    backtest_id UUID NOT NULL REFERENCES backtests(id) ON DELETE CASCADE,
    combination INTEGER NOT NULL CHECK (combination >= 0),
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID NOT NULL,
    parameters JSONB NOT NULL,
    report JSONB NOT NULL,
    -- The closed trades, oldest first, and the equity curve's buckets.
    trades JSONB NOT NULL DEFAULT '[]',
    equity JSONB NOT NULL DEFAULT '[]',
    history_start TIMESTAMP WITH TIME ZONE,
    notes JSONB NOT NULL DEFAULT '{}',
    finished_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    PRIMARY KEY (backtest_id, combination),
    CONSTRAINT backtest_results_account_id_user_id_fkey FOREIGN KEY (account_id, user_id)
        REFERENCES mt5_accounts (id, user_id) ON DELETE CASCADE
);

CREATE INDEX IF NOT EXISTS idx_backtest_results_account ON backtest_results(account_id);

ALTER TABLE backtests ENABLE ROW LEVEL SECURITY;
ALTER TABLE backtest_results ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own backtests" ON backtests;
CREATE POLICY "Users can view own backtests" ON backtests
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can insert own backtests" ON backtests;
CREATE POLICY "Service can insert own backtests" ON backtests
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can update own backtests" ON backtests;
CREATE POLICY "Service can update own backtests" ON backtests
    FOR UPDATE TO mt5_bridge_writer
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can delete own backtests" ON backtests;
CREATE POLICY "Service can delete own backtests" ON backtests
    FOR DELETE TO mt5_bridge_writer USING ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can view own backtest results" ON backtest_results;
CREATE POLICY "Users can view own backtest results" ON backtest_results
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can insert own backtest results" ON backtest_results;
CREATE POLICY "Service can insert own backtest results" ON backtest_results
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);
DROP POLICY IF EXISTS "Service can delete own backtest results" ON backtest_results;
CREATE POLICY "Service can delete own backtest results" ON backtest_results
    FOR DELETE TO mt5_bridge_writer USING ((select auth.uid()) = user_id);

REVOKE ALL ON public.backtests FROM anon, authenticated;
GRANT SELECT ON public.backtests TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.backtests TO mt5_bridge_writer;
REVOKE ALL ON public.backtest_results FROM anon, authenticated;
GRANT SELECT ON public.backtest_results TO authenticated;
GRANT SELECT, INSERT, DELETE ON public.backtest_results TO mt5_bridge_writer;

-- The units of work: one per combination, claimed by a worker under a lease. Every write of a
-- unit's progress or result names its claim number; a unit whose lease ran out is queued again
-- and its next claim makes the old worker's writes fail.
CREATE TABLE IF NOT EXISTS backtest_jobs (
    backtest_id UUID NOT NULL REFERENCES backtests(id) ON DELETE CASCADE,
    combination INTEGER NOT NULL CHECK (combination >= 0),
    user_id UUID NOT NULL,
    parameters JSONB NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'canceled')),
    claim BIGINT NOT NULL DEFAULT 0,
    -- Runs that ended on an outage (terminal, database) and were queued again; a queued unit's
    -- lease_until is then the time before which it is not taken.
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until TIMESTAMP WITH TIME ZONE,
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    started_at TIMESTAMP WITH TIME ZONE,

    PRIMARY KEY (backtest_id, combination)
);

CREATE INDEX IF NOT EXISTS idx_backtest_jobs_status ON backtest_jobs(status, created_at);
CREATE INDEX IF NOT EXISTS idx_backtest_jobs_user_status ON backtest_jobs(user_id, status);

-- Bar-evaluations each user spent per UTC day, so deleting a backtest gives nothing back.
CREATE TABLE IF NOT EXISTS backtest_budget (
    user_id UUID NOT NULL,
    day DATE NOT NULL,
    work BIGINT NOT NULL,
    PRIMARY KEY (user_id, day)
);

-- Bars read from the brokers, per trade server (as account_info().server reports it, lower-cased
-- and trimmed), symbol, timeframe and chunk of months (server time). `final_until` is the server
-- time up to which the chunk's bars were closed when read: a chunk that ended before it is never
-- read again. BAR_CACHE_MAX_MB bounds the table, least recently used first.
CREATE TABLE IF NOT EXISTS bar_cache (
    server TEXT NOT NULL,
    symbol TEXT NOT NULL,
    timeframe VARCHAR(8) NOT NULL,
    chunk BIGINT NOT NULL,
    bars BYTEA NOT NULL,
    final_until BIGINT NOT NULL,
    last_used TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (server, symbol, timeframe, chunk)
);

CREATE INDEX IF NOT EXISTS idx_bar_cache_last_used ON bar_cache(last_used);

-- Service data: no API role may read or write it, RLS on with no policy as a second lock.
ALTER TABLE backtest_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE backtest_budget ENABLE ROW LEVEL SECURITY;
ALTER TABLE bar_cache ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.backtest_jobs FROM anon, authenticated;
REVOKE ALL ON public.backtest_budget FROM anon, authenticated;
REVOKE ALL ON public.bar_cache FROM anon, authenticated;
