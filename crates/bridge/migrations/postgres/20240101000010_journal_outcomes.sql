-- Two journal statuses for orders whose answer was lost: `unknown` (in doubt until the broker's
-- history settles it) and `not_executed` (it certainly did not run; its key may be sent again).
-- The status list is a CHECK on trade_journal.status, created unnamed: it is found by what it is
-- and replaced by a named one with the full list. Reconciliation reads open entries (pending or
-- unknown), so the partial index covers both. Re-runnable.

DO $statuses$
DECLARE
    old_check record;
BEGIN
    FOR old_check IN
        SELECT c.conname
        FROM pg_catalog.pg_constraint c
        WHERE c.conrelid = 'public.trade_journal'::regclass
          AND c.contype = 'c'
          AND c.conkey = ARRAY[(
              SELECT attnum FROM pg_catalog.pg_attribute
              WHERE attrelid = 'public.trade_journal'::regclass AND attname = 'status'
          )]::int2[]
    LOOP
        EXECUTE format('ALTER TABLE public.trade_journal DROP CONSTRAINT %I', old_check.conname);
    END LOOP;
END
$statuses$;

ALTER TABLE public.trade_journal ADD CONSTRAINT trade_journal_status_check CHECK (status IN (
    'pending', 'unknown', 'done', 'rejected', 'refused', 'not_executed', 'failed'));

DROP INDEX IF EXISTS public.idx_trade_journal_pending;
CREATE INDEX IF NOT EXISTS idx_trade_journal_open
    ON public.trade_journal(status) WHERE status IN ('pending', 'unknown');
