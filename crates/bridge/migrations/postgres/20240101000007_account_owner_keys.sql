-- A journal entry belongs to its account's owner, as a constraint rather than only a check in the
-- service's INSERT. A foreign key on account_id alone accepts any account id, because FK checks
-- ignore RLS. A key on (account_id, user_id) accepts only the account of the row's user, so
-- neither a direct write nor a bug in the writer can point an entry at someone else's account.
--
-- mt5_accounts gains UNIQUE (id, user_id), the target of such keys. id alone is already unique,
-- so this adds no rule for account rows and changes none of the seed's columns or policies. The
-- journal's key keeps the old key's ON DELETE CASCADE and replaces it.
--
-- The service has always written an entry with its account's user, so existing rows satisfy the
-- key. If one does not, the migration stops and names the problem; it never drops or rewrites rows.
-- Re-runnable.

DO $keys$
DECLARE
    mismatched bigint;
    old_key record;
BEGIN
    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_constraint
        WHERE conrelid = 'public.mt5_accounts'::regclass AND conname = 'mt5_accounts_id_user_id_key'
    ) THEN
        ALTER TABLE public.mt5_accounts
            ADD CONSTRAINT mt5_accounts_id_user_id_key UNIQUE (id, user_id);
    END IF;

    IF NOT EXISTS (
        SELECT FROM pg_catalog.pg_constraint
        WHERE conrelid = 'public.trade_journal'::regclass
          AND conname = 'trade_journal_account_id_user_id_fkey'
    ) THEN
        SELECT count(*) INTO mismatched
        FROM public.trade_journal j
        WHERE NOT EXISTS (
            SELECT 1 FROM public.mt5_accounts a WHERE a.id = j.account_id AND a.user_id = j.user_id
        );
        IF mismatched > 0 THEN
            RAISE EXCEPTION 'trade_journal: % entries have a user_id that is not their account''s user_id', mismatched
                USING HINT = 'Nothing was changed. Find them with: SELECT j.id, j.user_id, a.user_id '
                    'FROM trade_journal j JOIN mt5_accounts a ON a.id = j.account_id '
                    'WHERE a.user_id IS DISTINCT FROM j.user_id; fix or remove them, then migrate again.';
        END IF;
        ALTER TABLE public.trade_journal
            ADD CONSTRAINT trade_journal_account_id_user_id_fkey
            FOREIGN KEY (account_id, user_id) REFERENCES public.mt5_accounts (id, user_id)
            ON DELETE CASCADE;
    END IF;

    -- The key on account_id alone is now redundant. It may have any name, so it is found by what it is.
    FOR old_key IN
        SELECT c.conname
        FROM pg_catalog.pg_constraint c
        WHERE c.conrelid = 'public.trade_journal'::regclass
          AND c.contype = 'f'
          AND c.confrelid = 'public.mt5_accounts'::regclass
          AND c.conkey = ARRAY[(
              SELECT attnum FROM pg_catalog.pg_attribute
              WHERE attrelid = 'public.trade_journal'::regclass AND attname = 'account_id'
          )]::int2[]
    LOOP
        EXECUTE format('ALTER TABLE public.trade_journal DROP CONSTRAINT %I', old_key.conname);
    END LOOP;
END
$keys$;
