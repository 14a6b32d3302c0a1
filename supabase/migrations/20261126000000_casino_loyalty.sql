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

-- The health check and the hold expiry every minute, where pg_cron is enabled (Dashboard ->
-- Database -> Extensions). The job runs as `postgres`, so it switches to
-- service_role first.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron')
       AND NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'casino-loyalty-health') THEN
        PERFORM cron.schedule('casino-loyalty-health', '* * * * *',
                              'SET ROLE service_role; SELECT count(*) FROM loyalty.health_check()');
    END IF;
    -- Holds past their deadline release their points (reference §15).
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron')
       AND NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'casino-loyalty-expire-holds') THEN
        PERFORM cron.schedule('casino-loyalty-expire-holds', '* * * * *',
                              'SET ROLE service_role; SELECT count(*) FROM loyalty.expire_holds()');
    END IF;
    -- Qualification years (only moves tiers under tier_basis = 'PERIOD'):
    -- hourly, so a year starts within the hour of its gaming-day start in
    -- any time zone; every other run finds nobody (reference §4).
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron')
       AND NOT EXISTS (SELECT 1 FROM cron.job WHERE jobname = 'casino-loyalty-roll-tiers') THEN
        PERFORM cron.schedule('casino-loyalty-roll-tiers', '7 * * * *',
                              'SET ROLE service_role; SELECT count(*) FROM loyalty.roll_tier_period(100000)');
    END IF;
END
$$;

COMMIT;
