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

-- The balance primitive (a DIRECT_INCREMENT entry per call): owner and
-- service_role only.
GRANT EXECUTE ON FUNCTION loyalty.increment_player_loyalty TO service_role;
-- Pure functions: no data, no side effects.
GRANT EXECUTE ON FUNCTION loyalty.hash_idempotency_key, loyalty.calculate_points
    TO authenticated, service_role;
-- Floor operations. Each function checks its caller itself (src/auth/mod.rs):
-- rating needs loyalty:rate, accrual and recovery loyalty:recover, approval
-- loyalty:approve, and nobody acts on their own play.
GRANT EXECUTE ON FUNCTION loyalty.open_rating_slip, loyalty.update_rating_slip_bet,
    loyalty.complete_rating_slip, loyalty.complete_rating_slips, loyalty.accrue_points_from_slip,
    loyalty.recover_slip_loyalty,
    loyalty.slip_points, loyalty.approve_slip, loyalty.reject_slip, loyalty.list_held_slips
    TO authenticated, service_role;
-- Manual rewards: callable by anyone so that every rejection (anon
-- included) is answered with its spec code and logged; the checks are inside.
GRANT EXECUTE ON FUNCTION loyalty.manual_reward TO anon, authenticated, service_role;
GRANT EXECUTE ON FUNCTION loyalty.manual_reward_key TO authenticated, service_role;
-- Comps: staff with loyalty:redeem hold, capture and void; loyalty:approve
-- approves and reverses (each checks its caller itself).
GRANT EXECUTE ON FUNCTION loyalty.hold_points, loyalty.approve_hold, loyalty.capture_hold,
    loyalty.void_hold, loyalty.redeem_points, loyalty.reverse_redemption
    TO authenticated, service_role;
-- Statements: the player their own, loyalty:view_all staff anyone's (each
-- checks that itself).
GRANT EXECUTE ON FUNCTION loyalty.player_balance_at, loyalty.player_statement TO authenticated, service_role;
-- The exception report: loyalty:audit staff and trusted back ends (it checks that itself).
GRANT EXECUTE ON FUNCTION loyalty.exception_report, loyalty.property_summary TO authenticated, service_role;
-- Pure: the ledger kinds and the staff permissions, what each is, and which
-- kinds add to lifetime points (the runbooks and RLS-free reads).
GRANT EXECUTE ON FUNCTION loyalty.lifetime_credit, loyalty.ledger_kinds, loyalty.permissions
    TO authenticated, service_role;
-- Identity helpers the RLS policies call as the querying role.
GRANT EXECUTE ON FUNCTION loyalty.caller_uid, loyalty.caller_has_permission
    TO anon, authenticated, service_role;
-- Operator runbooks and the dashboard: owner (psql) and service_role only
-- (each also refuses any other caller itself).
GRANT EXECUTE ON FUNCTION loyalty.list_partial_completions, loyalty.recover_partial_completions,
    loyalty.verify_player_balance, loyalty.verify_all_balances, loyalty.rebuild_player_balance,
    loyalty.export_ledger, loyalty.lookup_correlation, loyalty.manual_reward_frequency,
    loyalty.verify_ledger_chain, loyalty.verify_ledger_chain_since, loyalty.verify_all_chains,
    loyalty.ledger_chain_heads,
    loyalty.verify_chain_heads, loyalty.health_check, loyalty.retier_players,
    loyalty.claim_notifications, loyalty.mark_notifications_delivered, loyalty.expire_holds
    TO service_role;
GRANT EXECUTE ON FUNCTION loyalty.expire_inactive_points, loyalty.roll_tier_period TO service_role;
-- When the current qualification period began (a date anyone may know).
GRANT EXECUTE ON FUNCTION loyalty.tier_period_of TO authenticated, service_role;
-- Read-only views of operations for staff with loyalty:view_all (each
-- checks that itself) and trusted back ends.
GRANT EXECUTE ON FUNCTION loyalty.metrics, loyalty.reward_history, loyalty.staff_activity,
    loyalty.acknowledge_alert, loyalty.ledger_standing, loyalty.standing_check
    TO authenticated, service_role;
-- The admin API: trusted back ends only (each refuses anyone else itself).
GRANT EXECUTE ON FUNCTION loyalty.upsert_staff, loyalty.deactivate_staff, loyalty.upsert_game_settings,
    loyalty.upsert_tier, loyalty.delete_tier, loyalty.configure, loyalty.upsert_property,
    loyalty.upsert_property_game
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
ALTER TABLE loyalty.reward_window   ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.seed_removed    ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.notification    ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.health_state    ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.admin_audit     ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.reward_replay   ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.voucher         ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.chain_verified  ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.hold            ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.property        ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.property_game   ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.staff_property  ENABLE ROW LEVEL SECURITY;

-- Reads. Nobody but the owner writes any table directly: every write goes
-- through the functions above (no INSERT/UPDATE/DELETE grants, no write
-- policies). Identity functions are wrapped in scalar subqueries so they
-- run once per statement, not once per row; every filtered column leads an
-- index (player_id, staff_id are primary-key prefixes).
GRANT SELECT ON loyalty.player_loyalty, loyalty.loyalty_ledger, loyalty.rating_slip,
    loyalty.pending_accrual, loyalty.alert, loyalty.staff
    TO authenticated, service_role;

-- A player reads their own balance and ledger rows; staff with
-- loyalty:view_all read everyone's.
CREATE POLICY player_loyalty_read ON loyalty.player_loyalty FOR SELECT TO authenticated
    USING (player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY loyalty_ledger_read ON loyalty.loyalty_ledger FOR SELECT TO authenticated
    USING (player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
-- Operational tables: staff with loyalty:view_all only.
CREATE POLICY rating_slip_read ON loyalty.rating_slip FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY pending_accrual_read ON loyalty.pending_accrual FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY alert_read ON loyalty.alert FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
-- A staff member reads their own row; view_all reads all.
CREATE POLICY staff_read ON loyalty.staff FOR SELECT TO authenticated
    USING (staff_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
-- The outbox: a player reads their own tier changes, holds and expiry warnings (Supabase Realtime's
-- table feed applies the same policy); alerts are for view_all staff.
GRANT SELECT ON loyalty.notification TO authenticated, service_role;
CREATE POLICY notification_read ON loyalty.notification FOR SELECT TO authenticated
    USING (kind IN ('TIER_CHANGED', 'HOLD', 'POINTS_EXPIRING') AND player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
-- Audit trails: view_all staff.
GRANT SELECT ON loyalty.admin_audit, loyalty.reward_replay TO authenticated, service_role;
CREATE POLICY admin_audit_read ON loyalty.admin_audit FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY reward_replay_read ON loyalty.reward_replay FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
-- service_role is the trusted back end (Supabase gives it BYPASSRLS; on
-- plain PostgreSQL these policies do the same for reads).
CREATE POLICY player_loyalty_service ON loyalty.player_loyalty FOR SELECT TO service_role USING (true);
CREATE POLICY loyalty_ledger_service ON loyalty.loyalty_ledger FOR SELECT TO service_role USING (true);
CREATE POLICY rating_slip_service ON loyalty.rating_slip FOR SELECT TO service_role USING (true);
CREATE POLICY pending_accrual_service ON loyalty.pending_accrual FOR SELECT TO service_role USING (true);
CREATE POLICY alert_service ON loyalty.alert FOR SELECT TO service_role USING (true);
CREATE POLICY staff_service ON loyalty.staff FOR SELECT TO service_role USING (true);
CREATE POLICY notification_service ON loyalty.notification FOR SELECT TO service_role USING (true);
CREATE POLICY admin_audit_service ON loyalty.admin_audit FOR SELECT TO service_role USING (true);
CREATE POLICY reward_replay_service ON loyalty.reward_replay FOR SELECT TO service_role USING (true);
GRANT SELECT ON loyalty.voucher TO authenticated, service_role;
CREATE POLICY voucher_read ON loyalty.voucher FOR SELECT TO authenticated
    USING ((SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY voucher_service ON loyalty.voucher FOR SELECT TO service_role USING (true);
GRANT SELECT ON loyalty.chain_verified TO service_role;
-- A player reads their own holds; staff with loyalty:view_all everyone's.
GRANT SELECT ON loyalty.hold TO authenticated, service_role;
CREATE POLICY hold_read ON loyalty.hold FOR SELECT TO authenticated
    USING (player_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY hold_service ON loyalty.hold FOR SELECT TO service_role USING (true);
CREATE POLICY chain_verified_service ON loyalty.chain_verified FOR SELECT TO service_role USING (true);

-- Reference data anyone may read.
GRANT SELECT ON loyalty.tier, loyalty.game_settings TO anon, authenticated, service_role;
CREATE POLICY tier_read ON loyalty.tier FOR SELECT TO anon, authenticated, service_role USING (true);
CREATE POLICY game_settings_read ON loyalty.game_settings FOR SELECT TO anon, authenticated, service_role USING (true);
-- The enterprise's properties: where a player may play and spend.
GRANT SELECT ON loyalty.property TO anon, authenticated, service_role;
CREATE POLICY property_read ON loyalty.property FOR SELECT TO anon, authenticated, service_role USING (true);
GRANT SELECT ON loyalty.property_game TO anon, authenticated, service_role;
CREATE POLICY property_game_read ON loyalty.property_game FOR SELECT TO anon, authenticated, service_role USING (true);
-- Staff permissions at a property: the staff member their own, view_all everyone's.
GRANT SELECT ON loyalty.staff_property TO authenticated, service_role;
CREATE POLICY staff_property_read ON loyalty.staff_property FOR SELECT TO authenticated
    USING (staff_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY staff_property_service ON loyalty.staff_property FOR SELECT TO service_role USING (true);

-- The write paths run only key lookups and single-row writes, so one
-- generic plan per statement per connection is right for every argument.
-- Left to the plan cache's heuristic, a statement whose generic cost
-- estimate looks high (the rate-limit count: an open-ended time range under
-- a LIMIT taken from settings) is re-planned on every call, which made
-- manual_reward spend a fifth of its time in the planner.
ALTER FUNCTION loyalty.increment_player_loyalty SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.manual_reward SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.open_rating_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.update_rating_slip_bet SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.complete_rating_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.complete_rating_slips SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.accrue_points_from_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.recover_slip_loyalty SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.hold_points SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.redeem_points SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.capture_hold SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION loyalty.void_hold SET plan_cache_mode = force_generic_plan;

-- Tables only the owner touches (settings, the health check's state, the
-- rate-limit windows, seed tombstones) say so with a policy that admits
-- nobody: the owner bypasses RLS, no role holds a grant on them, and every
-- table with RLS on has a policy (Supabase's linter, rule 0008).
CREATE POLICY config_owner_only ON loyalty.config USING (false) WITH CHECK (false);
CREATE POLICY health_state_owner_only ON loyalty.health_state USING (false) WITH CHECK (false);
CREATE POLICY reward_window_owner_only ON loyalty.reward_window USING (false) WITH CHECK (false);
CREATE POLICY seed_removed_owner_only ON loyalty.seed_removed USING (false) WITH CHECK (false);

-- Functions that run no SQL pin a search path too, so no function the
-- extension creates depends on the caller's (linter rule 0011).
ALTER FUNCTION loyalty.hash_idempotency_key SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.is_ledger_kind SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.is_ledger_event SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.lifetime_credit SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.ledger_kinds SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.permissions SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.are_permissions SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.permissions_separated SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.resolve_correlation_id SET search_path = pg_catalog, pg_temp;

-- The exposed schema (sql/api.sql): the API roles reach the wrappers, each
-- wrapper EXECUTE for exactly the roles that may execute its namesake, and
-- the two views for the roles that read the tables behind them.
GRANT USAGE ON SCHEMA loyalty_api TO anon, authenticated, service_role;
GRANT SELECT ON loyalty_api.player_loyalty, loyalty_api.notification TO authenticated, service_role;
SELECT loyalty.refresh_api();
