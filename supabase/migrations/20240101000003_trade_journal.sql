-- The trade journal: every order intent, written `pending` before it is sent and completed with its
-- result after; also the record behind `Idempotency-Key`. Users may read, add and complete their own
-- entries but never delete one (there is no DELETE policy or grant): the journal is append-only for
-- them. Written to be re-runnable, like the mt5_accounts migration.

CREATE TABLE IF NOT EXISTS trade_journal (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    account_id UUID NOT NULL REFERENCES mt5_accounts(id) ON DELETE CASCADE,
    client_id VARCHAR(32) NOT NULL,
    idempotency_key VARCHAR(255),
    request_hash VARCHAR(128),
    source VARCHAR(20) NOT NULL CHECK (source IN ('api', 'algorithm')),
    algorithm_id VARCHAR(255),
    run_id UUID,
    action VARCHAR(32) NOT NULL,
    request JSONB NOT NULL,
    status VARCHAR(20) NOT NULL
        CHECK (status IN ('pending', 'done', 'rejected', 'refused', 'failed')),
    retcode INTEGER,
    "order" BIGINT,
    deal BIGINT,
    volume DOUBLE PRECISION,
    price DOUBLE PRECISION,
    error TEXT,
    response JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE,

    -- The short id in the MT5 order comment must find exactly one entry.
    CONSTRAINT trade_journal_client_id_key UNIQUE (client_id)
);

-- A key is unique per user only while an entry holds it; an expired entry gives it up (NULL).
CREATE UNIQUE INDEX IF NOT EXISTS idx_trade_journal_idempotency
    ON trade_journal(user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- Keyset pagination of a user's entries, newest first.
CREATE INDEX IF NOT EXISTS idx_trade_journal_user_created
    ON trade_journal(user_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS idx_trade_journal_account_created
    ON trade_journal(account_id, created_at DESC);
-- Reconciliation reads only pending entries, a tiny fraction of the table.
CREATE INDEX IF NOT EXISTS idx_trade_journal_pending
    ON trade_journal(status) WHERE status = 'pending';

-- Row Level Security
ALTER TABLE trade_journal ENABLE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS "Users can view own journal entries" ON trade_journal;
CREATE POLICY "Users can view own journal entries" ON trade_journal
    FOR SELECT TO authenticated USING ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can insert own journal entries" ON trade_journal;
CREATE POLICY "Users can insert own journal entries" ON trade_journal
    FOR INSERT TO authenticated WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Users can update own journal entries" ON trade_journal;
CREATE POLICY "Users can update own journal entries" ON trade_journal
    FOR UPDATE TO authenticated
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

-- As for mt5_accounts: take back Supabase's default grants; no DELETE for anyone but the owner.
REVOKE ALL ON public.trade_journal FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE ON public.trade_journal TO authenticated;
