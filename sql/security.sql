-- Roles, privileges and row-level security. Runs last.
--
-- The policies expect the three roles PostgREST/Supabase use. On plain
-- PostgreSQL they are created here, NOLOGIN, if missing: anon (no identity),
-- authenticated (a signed-in user; identity from auth.uid() or the JWT sub),
-- service_role (trusted back end).
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA loyalty TO anon, authenticated, service_role;

-- Nothing is callable by default; each grant below is deliberate.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA loyalty FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA loyalty FROM PUBLIC;

-- The balance primitive writes no ledger row: owner and service_role only.
GRANT EXECUTE ON FUNCTION loyalty.increment_player_loyalty TO service_role;
-- Pure functions: no data, no side effects.
GRANT EXECUTE ON FUNCTION loyalty.hash_idempotency_key, loyalty.calculate_points
    TO authenticated, service_role;
-- Floor operations: authenticated callers must be active staff (checked
-- inside each function; recovery also needs loyalty:recover).
GRANT EXECUTE ON FUNCTION loyalty.open_rating_slip, loyalty.update_rating_slip_bet,
    loyalty.complete_rating_slip, loyalty.accrue_points_from_slip, loyalty.recover_slip_loyalty,
    loyalty.slip_points
    TO authenticated, service_role;
-- Operator runbooks: owner (psql) and service_role only.
GRANT EXECUTE ON FUNCTION loyalty.list_partial_completions, loyalty.recover_partial_completions,
    loyalty.verify_player_balance, loyalty.verify_all_balances, loyalty.rebuild_player_balance,
    loyalty.export_ledger, loyalty.lookup_correlation
    TO service_role;

-- Row-level security on every table. The functions run as the owner, who
-- bypasses RLS; no policy means no rows for anyone else.
ALTER TABLE loyalty.config          ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.tier            ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.game_settings   ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.staff           ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.rating_slip     ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.player_loyalty  ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.loyalty_ledger  ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.pending_accrual ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.alert           ENABLE ROW LEVEL SECURITY;

-- Reference data anyone signed in may read.
GRANT SELECT ON loyalty.tier, loyalty.game_settings TO anon, authenticated, service_role;
CREATE POLICY tier_read ON loyalty.tier FOR SELECT TO anon, authenticated, service_role USING (true);
CREATE POLICY game_settings_read ON loyalty.game_settings FOR SELECT TO anon, authenticated, service_role USING (true);
