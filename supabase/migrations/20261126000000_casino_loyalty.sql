-- casino_loyalty in a self-hosted Supabase project (README.md, "Supabase").
-- Run as `postgres` like every project migration (`supabase migration up`,
-- or `psql -f`), after supabase_admin created the extension.
--
-- On Supabase the extension belongs to supabase_admin, so `postgres` has no
-- privilege on its tables (INSERT INTO loyalty.staff: permission denied).
-- Everything below goes through the admin API instead, as service_role:
-- `postgres` is a member of it, and SET ROLE makes it the trusted back end
-- (membership alone is not trusted).
--
-- PostgREST exposes `loyalty_api` (README step 3), never `loyalty`: the
-- wrappers there are what browsers and kiosks call.

BEGIN;

-- Fails here, with its own message, if supabase_admin has not created it.
CREATE EXTENSION IF NOT EXISTS casino_loyalty;

SET LOCAL ROLE service_role;

-- The casino's time zone and gaming-day start; edit to yours. Audited in
-- loyalty.admin_audit under this correlation id.
SELECT loyalty.configure(p_casino_timezone => 'America/Los_Angeles',
                         p_gaming_day_start => '06:00',
                         p_correlation_id => 'migration:20261126000000_casino_loyalty');

RESET ROLE;

-- The health check, the hold expiry and the qualification-year rollover every
-- minute, inactivity expiry hourly, where pg_cron is enabled (Dashboard ->
-- Database -> Extensions); without it the migration applies all the same.
-- Each sweep stops at half the accrual lock timeout and skips busy players,
-- so running it often never holds the floor. The jobs run as `postgres`, so
-- each switches to service_role first. (The test of cron.job sits inside the
-- test of pg_cron: PL/pgSQL plans a whole IF condition before it runs it,
-- and cron.job does not exist without pg_cron.)
DO $$
DECLARE
    job record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron') THEN
        FOR job IN
            SELECT * FROM (VALUES
                ('casino-loyalty-health', '* * * * *', 'SELECT count(*) FROM loyalty.health_check()'),
                ('casino-loyalty-expire-holds', '* * * * *', 'SELECT count(*) FROM loyalty.expire_holds()'),
                -- only moves tiers under tier_basis = 'PERIOD'; every other
                -- run finds nobody (reference §4)
                ('casino-loyalty-roll-tiers', '* * * * *', 'SELECT count(*) FROM loyalty.roll_tier_period(100000)'),
                ('casino-loyalty-expire-points', '17 * * * *', 'SELECT count(*) FROM loyalty.expire_inactive_points()'))
                AS j(name, schedule, command)
        LOOP
            IF NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = job.name) THEN
                PERFORM cron.schedule(job.name, job.schedule, 'SET ROLE service_role; ' || job.command);
            END IF;
        END LOOP;
    END IF;
END
$$;

COMMIT;
