-- A minimal stand-in for Supabase's `auth` schema on plain PostgreSQL.
--
-- On Supabase, GoTrue owns `auth` (and `auth.users` already exists when user migrations run), so the
-- whole block is skipped there. Roles are cluster-wide and several databases of one cluster may
-- run this at the same moment, so each role creation tolerates a concurrent creator.
do $shim$
begin
  if to_regclass('auth.users') is not null then
    return;
  end if;

  -- The same order everywhere, so concurrent migrators wait on each other instead of deadlocking.
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
      create role anon nologin noinherit;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
      create role authenticated nologin noinherit;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
      create role service_role nologin noinherit bypassrls;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;

  create schema if not exists auth;

  create table if not exists auth.users (
    id uuid primary key,
    email text,
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz default now()
  );
  -- The marker tells the application that it owns this table and may add users to it.
  comment on table auth.users is 'mt5-bridge auth shim';

  create or replace function auth.uid() returns uuid
    language sql stable set search_path to '' as
  $f$ select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid $f$;

  create or replace function auth.role() returns text
    language sql stable set search_path to '' as
  $f$ select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text $f$;

  create or replace function auth.jwt() returns jsonb
    language sql stable set search_path to '' as
  $f$ select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb $f$;

  grant usage on schema auth to anon, authenticated, service_role;
  grant usage on schema public to anon, authenticated, service_role;

  -- The login role switches to `authenticated` per transaction, so it must be a member.
  -- Memberships are cluster-wide too; a concurrent grant of the same one is harmless.
  begin
    if not exists (
      select from pg_catalog.pg_auth_members m
      join pg_catalog.pg_roles r on r.oid = m.roleid
      where r.rolname = 'anon' and m.member = (select oid from pg_catalog.pg_roles where rolname = current_user)
    ) then
      grant anon to current_user;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (
      select from pg_catalog.pg_auth_members m
      join pg_catalog.pg_roles r on r.oid = m.roleid
      where r.rolname = 'authenticated' and m.member = (select oid from pg_catalog.pg_roles where rolname = current_user)
    ) then
      grant authenticated to current_user;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    if not exists (
      select from pg_catalog.pg_auth_members m
      join pg_catalog.pg_roles r on r.oid = m.roleid
      where r.rolname = 'service_role' and m.member = (select oid from pg_catalog.pg_roles where rolname = current_user)
    ) then
      grant service_role to current_user;
    end if;
  exception when duplicate_object or unique_violation then null;
  end;
end
$shim$;
