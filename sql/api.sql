-- loyalty_api: the schema a PostgREST/Supabase project exposes (reference
-- §1, README "Supabase"). It holds what players, floor staff and kiosks
-- call, as thin SECURITY INVOKER wrappers with the same names and named
-- arguments as in `loyalty`, and two views of a player's own rows. Every
-- rule stays in `loyalty`: a wrapper only calls its namesake, which checks
-- its caller itself. Runbooks, the admin API and internals are not here,
-- so PostgREST has no route to them.
CREATE SCHEMA loyalty_api;
COMMENT ON SCHEMA loyalty_api IS
    'Client-facing entry points of casino_loyalty (expose this schema, not loyalty).';

-- A player's own balance and own notifications, read through the tables'
-- row-level security as the caller (security_invoker): a player sees their
-- row, view_all staff everyone's, anyone else nothing.
CREATE VIEW loyalty_api.player_loyalty WITH (security_invoker = true) AS
    SELECT player_id, current_balance, held_points, lifetime_points, tier, tier_progress,
           tier_credits, tier_period, retained_tier, last_earned_at, updated_at
      FROM loyalty.player_loyalty;
CREATE VIEW loyalty_api.notification WITH (security_invoker = true) AS
    SELECT id, kind, player_id, alert_id, ledger_entry_id, payload, created_at, delivered_at
      FROM loyalty.notification;

-- The wrapped functions: the one list of what loyalty_api exposes.
CREATE FUNCTION loyalty.api_functions() RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY[
        -- rating slips and their approval
        'open_rating_slip', 'update_rating_slip_bet', 'complete_rating_slip',
        'complete_rating_slips', 'accrue_points_from_slip', 'recover_slip_loyalty',
        'slip_points', 'approve_slip', 'reject_slip', 'list_held_slips',
        -- points and keys a client computes before it calls
        'calculate_points', 'hash_idempotency_key', 'manual_reward_key',
        -- manual rewards
        'manual_reward', 'reward_history',
        -- comps: holds and redemption
        'hold_points', 'approve_hold', 'capture_hold', 'void_hold', 'redeem_points',
        'reverse_redemption',
        -- statements and balances as of a time
        'player_statement', 'player_balance_at'
    ]
$$;

-- (Re)create every wrapper from its namesake's catalog entry, so a wrapper
-- cannot drift from the function it calls: the arguments with their
-- defaults, the result, the volatility, and EXECUTE for exactly the roles
-- that may execute the namesake. Run at the end of installation and by
-- upgrades that change a wrapped signature. Builds DDL from the catalog
-- only (names quoted with format %I), never from a caller's input; with
-- only pg_catalog on its search_path every type prints schema-qualified.
CREATE FUNCTION loyalty.refresh_api() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f      record;
    v_call text;
    v_sig  text;
    v_to   text;
    n      integer := 0;
BEGIN
    FOR f IN
        SELECT p.oid, p.proname, p.provolatile, p.proretset,
               pg_get_function_arguments(p.oid) AS args,
               pg_get_function_identity_arguments(p.oid) AS ident,
               pg_get_function_result(p.oid) AS result,
               p.prorettype = 'pg_catalog.void'::regtype AS is_void,
               (SELECT string_agg(quote_ident(a.name) || ' => ' || quote_ident(a.name), ', ' ORDER BY a.ord)
                  FROM unnest(p.proargnames, coalesce(p.proargmodes, array_fill('i'::"char", ARRAY[p.pronargs])))
                       WITH ORDINALITY AS a(name, mode, ord)
                 WHERE a.mode IN ('i', 'b')) AS named
          FROM pg_proc p
         WHERE p.pronamespace = 'loyalty'::regnamespace
           AND p.proname = ANY (loyalty.api_functions())
         ORDER BY p.proname, p.oid
    LOOP
        v_call := format('loyalty.%I(%s)', f.proname, coalesce(f.named, ''));
        v_sig := format('loyalty_api.%I(%s)', f.proname, f.args);
        EXECUTE format(
            'CREATE OR REPLACE FUNCTION %s RETURNS %s LANGUAGE sql %s SECURITY INVOKER SET search_path = '''' '
            'BEGIN ATOMIC %s; END',
            v_sig, f.result,
            CASE f.provolatile WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
            CASE WHEN f.proretset THEN 'SELECT * FROM ' || v_call ELSE 'SELECT ' || v_call END);
        EXECUTE format('REVOKE ALL ON FUNCTION loyalty_api.%I(%s) FROM PUBLIC', f.proname, f.ident);
        SELECT string_agg(a.grantee::regrole::text, ', ') INTO v_to
          FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = f.oid AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0;
        IF v_to IS NOT NULL THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION loyalty_api.%I(%s) TO %s', f.proname, f.ident, v_to);
        END IF;
        EXECUTE format('COMMENT ON FUNCTION loyalty_api.%I(%s) IS %L', f.proname, f.ident,
                       format('Calls loyalty.%s with the same arguments, as the caller (reference §3).', f.proname));
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
