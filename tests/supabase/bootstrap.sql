-- A cluster shaped like self-hosted Supabase (the supabase/postgres image),
-- for tests/supabase/run.sh: the cluster's superuser is supabase_admin;
-- `postgres` is an ordinary role that can create roles and databases and
-- bypasses RLS, a member of the three API roles; PostgREST logs in as
-- `authenticator` (NOINHERIT) and switches to anon, authenticated or
-- service_role per request; auth.uid() reads the JWT's sub the way
-- Supabase Auth defines it. Only what the extension's behaviour depends on
-- is reproduced here.
CREATE ROLE postgres LOGIN CREATEDB CREATEROLE REPLICATION BYPASSRLS;
CREATE ROLE anon NOLOGIN;
CREATE ROLE authenticated NOLOGIN;
CREATE ROLE service_role NOLOGIN BYPASSRLS;
CREATE ROLE authenticator LOGIN NOINHERIT;
GRANT anon, authenticated, service_role TO authenticator;
GRANT anon, authenticated, service_role TO postgres;
ALTER ROLE anon SET statement_timeout = '3s';
ALTER ROLE authenticated SET statement_timeout = '8s';
ALTER ROLE authenticator SET statement_timeout = '8s';
GRANT ALL ON DATABASE postgres TO postgres;
GRANT ALL ON SCHEMA public TO postgres;

CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role, postgres;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid
$$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text
$$;

-- Realtime's publication, and pg_cron as the image ships it.
CREATE PUBLICATION supabase_realtime;
CREATE EXTENSION pg_cron;
GRANT USAGE ON SCHEMA cron TO postgres;
