-- The service's own records become read-only for users.
--
-- A user holds Supabase's Data API: role `authenticated` with their own JWT claims. Whatever that
-- role may write, a user can write directly, past the service. The trade journal (behind
-- idempotency and reconciliation), the audit log and the algorithm runs are the service's record
-- of what it did, so from here on users only read their own rows there. Only
-- `mt5_bridge_writer` writes them, and the service switches to it inside the user's
-- claims-setting transaction, so the policies still tie every row to the claims' user
-- (`auth.uid() = user_id`). Algorithm configurations stay the user's to write.
--
-- `mt5_bridge_writer` cannot log in. It is a member of `authenticated`, so it reads what the user
-- reads (the same SELECT grants and policies) and may call `auth.uid()`. On Supabase, `postgres`
-- may grant that membership but may not grant USAGE on schema `auth`. The role that runs this
-- migration is made a member of the writer so it can switch to it; a different login role needs
-- `GRANT mt5_bridge_writer TO <role>` (docs/database.md).
--
-- Roles and memberships are cluster-wide, and several databases of one cluster may run this at
-- the same moment, so each change tolerates a concurrent one (as the auth shim does). The rest of
-- the file is per database and can be re-run.

do $writer$
begin
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'mt5_bridge_writer') then
      create role mt5_bridge_writer nologin inherit;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not pg_catalog.pg_has_role('mt5_bridge_writer', 'authenticated', 'USAGE') then
      grant authenticated to mt5_bridge_writer;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  -- A superuser may switch to any role, so it needs no grant. From PostgreSQL 16, switching needs
  -- the SET option, and a CREATEROLE creator holds the role without it by default.
  begin
    if current_setting('server_version_num')::int >= 160000 then
      if not pg_catalog.pg_has_role(current_user, 'mt5_bridge_writer', 'SET') then
        execute format('grant mt5_bridge_writer to %I with set true', current_user);
      end if;
    elsif not pg_catalog.pg_has_role(current_user, 'mt5_bridge_writer', 'MEMBER') then
      execute format('grant mt5_bridge_writer to %I', current_user);
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
end
$writer$;

-- trade_journal: users read their own entries. The service adds and completes them as the writer.
DROP POLICY IF EXISTS "Users can insert own journal entries" ON trade_journal;
DROP POLICY IF EXISTS "Users can update own journal entries" ON trade_journal;
REVOKE ALL ON public.trade_journal FROM anon, authenticated;
GRANT SELECT ON public.trade_journal TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.trade_journal TO mt5_bridge_writer;

DROP POLICY IF EXISTS "Service can insert own journal entries" ON trade_journal;
CREATE POLICY "Service can insert own journal entries" ON trade_journal
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Service can update own journal entries" ON trade_journal;
CREATE POLICY "Service can update own journal entries" ON trade_journal
    FOR UPDATE TO mt5_bridge_writer
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

-- audit_log: users read their own entries. The service appends them as the writer (or, for
-- service events with no user, as the connecting role). Nobody updates or deletes them.
DROP POLICY IF EXISTS "Users can insert own audit entries" ON audit_log;
REVOKE ALL ON public.audit_log FROM anon, authenticated;
GRANT SELECT ON public.audit_log TO authenticated;
GRANT INSERT ON public.audit_log TO mt5_bridge_writer;

DROP POLICY IF EXISTS "Service can insert own audit entries" ON audit_log;
CREATE POLICY "Service can insert own audit entries" ON audit_log
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);

-- algorithm_runs: users read their own runs. The service starts and finishes them as the writer.
DROP POLICY IF EXISTS "Users can insert own algorithm runs" ON algorithm_runs;
DROP POLICY IF EXISTS "Users can update own algorithm runs" ON algorithm_runs;
REVOKE ALL ON public.algorithm_runs FROM anon, authenticated;
GRANT SELECT ON public.algorithm_runs TO authenticated;
GRANT SELECT, INSERT, UPDATE ON public.algorithm_runs TO mt5_bridge_writer;

DROP POLICY IF EXISTS "Service can insert own algorithm runs" ON algorithm_runs;
CREATE POLICY "Service can insert own algorithm runs" ON algorithm_runs
    FOR INSERT TO mt5_bridge_writer WITH CHECK ((select auth.uid()) = user_id);

DROP POLICY IF EXISTS "Service can update own algorithm runs" ON algorithm_runs;
CREATE POLICY "Service can update own algorithm runs" ON algorithm_runs
    FOR UPDATE TO mt5_bridge_writer
    USING ((select auth.uid()) = user_id) WITH CHECK ((select auth.uid()) = user_id);

-- The journal and runs check that the account is the user's (an INSERT … WHERE EXISTS on
-- mt5_accounts). The seed's mt5_accounts policies apply to every role, so a SELECT grant is enough.
GRANT SELECT ON public.mt5_accounts TO mt5_bridge_writer;
