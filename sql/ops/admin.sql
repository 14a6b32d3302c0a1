-- The admin API (docs/reference.md §10): what an owner would otherwise do
-- with INSERT/UPDATE on loyalty tables, for trusted back ends only
-- (service_role, the owner, a superuser). On Supabase the extension's owner
-- is supabase_admin, so `postgres` and a service-role back end have no
-- table privileges: these functions are how they run the casino.
--
-- Each change is audited in loyalty.admin_audit (who, when, the row before
-- and after, the correlation id) in the same transaction, and maintains
-- updated_at. A NULL argument keeps the current value. A value the table's
-- constraints refuse is VALIDATION_ERROR naming the constraint (never the
-- value: DETAIL echoes no input).

CREATE FUNCTION loyalty.admin_audit_write(p_actor text, p_action text, p_target text, p_before jsonb,
                                          p_after jsonb, p_correlation_id text)
RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    INSERT INTO loyalty.admin_audit (actor, action, target, before, after, correlation_id)
    VALUES (p_actor, p_action, p_target, p_before, p_after, p_correlation_id);
$$;
COMMENT ON FUNCTION loyalty.admin_audit_write(text, text, text, jsonb, jsonb, text) IS
    'Internal: one admin_audit row (called by the admin API functions).';

-- A constraint refused the change: VALIDATION_ERROR naming the constraint.
CREATE FUNCTION loyalty.admin_refused(p_constraint text, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
        DETAIL = concat('refused by ', coalesce(nullif(p_constraint, ''), 'a constraint of the table'),
                        CASE WHEN p_hint IS NOT NULL THEN ' (' || p_hint || ')' END);
END
$$;
COMMENT ON FUNCTION loyalty.admin_refused(text, text) IS
    'Internal: raise VALIDATION_ERROR for a change a constraint refused.';

CREATE FUNCTION loyalty.upsert_staff(p_staff_id uuid, p_permissions text[] DEFAULT NULL,
                                     p_active boolean DEFAULT NULL, p_correlation_id text DEFAULT NULL,
                                     p_property_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.staff;
    v_after  loyalty.staff;
    v_at_before loyalty.staff_property;
    v_at_after  loyalty.staff_property;
    v_con    text;
BEGIN
    IF p_staff_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_staff_id is required', ERRCODE = 'PT422';
    END IF;
    IF p_property_id IS NOT NULL AND NOT EXISTS (SELECT FROM loyalty.property p WHERE p.property_id = p_property_id) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such property', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.staff s WHERE s.staff_id = p_staff_id FOR UPDATE;
    BEGIN
        -- with p_property_id, p_permissions are those held at that property
        -- only (an empty list removes them); staff.permissions hold at every
        -- property
        IF NOT FOUND THEN
            INSERT INTO loyalty.staff (staff_id, permissions, active)
            VALUES (p_staff_id, CASE WHEN p_property_id IS NULL THEN coalesce(p_permissions, '{}') ELSE '{}' END,
                    coalesce(p_active, true))
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.staff s
               SET permissions = CASE WHEN p_property_id IS NULL THEN coalesce(p_permissions, s.permissions)
                                      ELSE s.permissions END,
                   active = coalesce(p_active, s.active), updated_at = now()
             WHERE s.staff_id = p_staff_id
            RETURNING * INTO v_after;
        END IF;
        IF p_property_id IS NOT NULL AND p_permissions IS NOT NULL THEN
            SELECT * INTO v_at_before FROM loyalty.staff_property g
             WHERE g.staff_id = p_staff_id AND g.property_id = p_property_id FOR UPDATE;
            IF cardinality(p_permissions) = 0 THEN
                DELETE FROM loyalty.staff_property g WHERE g.staff_id = p_staff_id AND g.property_id = p_property_id;
            ELSE
                INSERT INTO loyalty.staff_property AS g (staff_id, property_id, permissions)
                VALUES (p_staff_id, p_property_id, p_permissions)
                ON CONFLICT (staff_id, property_id) DO UPDATE SET permissions = EXCLUDED.permissions, updated_at = now()
                RETURNING * INTO v_at_after;
            END IF;
        END IF;
        -- whoever reviews anywhere grants and receives nowhere: every
        -- permission they hold, at every property, taken together
        IF NOT loyalty.permissions_separated(v_after.permissions
               || ARRAY(SELECT p.permission FROM loyalty.staff_property g, unnest(g.permissions) p(permission)
                         WHERE g.staff_id = p_staff_id)) THEN
            RAISE check_violation USING CONSTRAINT = 'staff_property_audit_separation_check';
        END IF;
    EXCEPTION WHEN check_violation OR not_null_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        -- the rule, said from the one list of permissions
        PERFORM loyalty.admin_refused(v_con,
            (SELECT format('permissions are %s; %s never with %s',
                           string_agg(p.permission, ', ' ORDER BY p.n),
                           string_agg(p.permission, ', ' ORDER BY p.n) FILTER (WHERE p.reviews),
                           string_agg(p.permission, ', ' ORDER BY p.n) FILTER (WHERE p.grants_or_receives))
               FROM loyalty.permissions() WITH ORDINALITY p(permission, lets, grants_or_receives, reviews, n)));
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_staff', 'staff:' || p_staff_id,
        CASE WHEN v_before.staff_id IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    IF p_property_id IS NOT NULL AND p_permissions IS NOT NULL THEN
        PERFORM loyalty.admin_audit_write(v_actor, 'upsert_staff', 'staff:' || p_staff_id || '@' || p_property_id,
            CASE WHEN v_at_before.staff_id IS NOT NULL THEN to_jsonb(v_at_before) END,
            CASE WHEN v_at_after.staff_id IS NOT NULL THEN to_jsonb(v_at_after) END, v_corr);
    END IF;
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_staff(uuid, text[], boolean, text, text) IS
    'Admin (trusted back ends): add a staff member or change their permissions (at every property, or with p_property_id at that one only; an empty list there removes them) or active flag; audited.';

CREATE FUNCTION loyalty.deactivate_staff(p_staff_id uuid, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.staff;
    v_after  loyalty.staff;
BEGIN
    SELECT * INTO v_before FROM loyalty.staff s WHERE s.staff_id = p_staff_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'INVALID_STAFF_ID', DETAIL = 'no such staff member', ERRCODE = 'PT403';
    END IF;
    -- Inactive staff hold no permission (the checks read `active`); the
    -- row stays, so their past entries keep naming them.
    UPDATE loyalty.staff s SET active = false, updated_at = now()
     WHERE s.staff_id = p_staff_id RETURNING * INTO v_after;
    PERFORM loyalty.admin_audit_write(v_actor, 'deactivate_staff', 'staff:' || p_staff_id,
                                      to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.deactivate_staff(uuid, text) IS
    'Admin (trusted back ends): a staff member loses every permission at once; audited.';

CREATE FUNCTION loyalty.upsert_game_settings(p_game_type text, p_house_edge numeric DEFAULT NULL,
    p_decisions_per_hour integer DEFAULT NULL, p_points_conversion_rate numeric DEFAULT NULL,
    p_point_multiplier numeric DEFAULT NULL, p_min_average_bet numeric DEFAULT NULL,
    p_max_average_bet numeric DEFAULT NULL, p_approval_threshold_points bigint DEFAULT NULL,
    p_correlation_id text DEFAULT NULL)
RETURNS loyalty.game_settings
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.game_settings;
    v_after  loyalty.game_settings;
    v_con    text;
BEGIN
    IF p_game_type IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_game_type is required', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.game_settings g WHERE g.game_type = p_game_type FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.game_settings (game_type, house_edge, decisions_per_hour, points_conversion_rate,
                                               point_multiplier, min_average_bet, max_average_bet,
                                               approval_threshold_points)
            VALUES (p_game_type, p_house_edge, p_decisions_per_hour, p_points_conversion_rate,
                    coalesce(p_point_multiplier, 1), coalesce(p_min_average_bet, 1),
                    coalesce(p_max_average_bet, 100000), coalesce(p_approval_threshold_points, 25000))
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.game_settings g
               SET house_edge = coalesce(p_house_edge, g.house_edge),
                   decisions_per_hour = coalesce(p_decisions_per_hour, g.decisions_per_hour),
                   points_conversion_rate = coalesce(p_points_conversion_rate, g.points_conversion_rate),
                   point_multiplier = coalesce(p_point_multiplier, g.point_multiplier),
                   min_average_bet = coalesce(p_min_average_bet, g.min_average_bet),
                   max_average_bet = coalesce(p_max_average_bet, g.max_average_bet),
                   approval_threshold_points = coalesce(p_approval_threshold_points, g.approval_threshold_points),
                   updated_at = now()
             WHERE g.game_type = p_game_type
            RETURNING * INTO v_after;
        END IF;
    EXCEPTION WHEN check_violation OR not_null_violation OR numeric_value_out_of_range THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con,
            'a new game needs p_house_edge, p_decisions_per_hour and p_points_conversion_rate');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_game_settings', 'game_settings:' || p_game_type,
        CASE WHEN v_before.game_type IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_game_settings(text, numeric, integer, numeric, numeric, numeric, numeric, bigint, text) IS
    'Admin (trusted back ends): add a game or change its settings (NULL keeps a value); audited. Open slips keep the settings they were opened with.';

CREATE FUNCTION loyalty.upsert_tier(p_tier text, p_threshold_points bigint, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.tier;
    v_after  loyalty.tier;
    v_con    text;
BEGIN
    IF p_tier IS NULL OR p_threshold_points IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_tier and p_threshold_points are required',
            ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.tier t WHERE t.tier = p_tier FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.tier (tier, threshold_points) VALUES (p_tier, p_threshold_points)
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.tier t SET threshold_points = p_threshold_points, updated_at = now()
             WHERE t.tier = p_tier RETURNING * INTO v_after;
        END IF;
        -- the threshold key is deferred (restores reshuffle); check it now
        SET CONSTRAINTS loyalty.tier_threshold_points_key IMMEDIATE;
        SET CONSTRAINTS loyalty.tier_threshold_points_key DEFERRED;
    EXCEPTION WHEN check_violation OR not_null_violation OR unique_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con, 'tier names are A-Z, 0-9, _; thresholds are unique and 0 or more');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_tier', 'tier:' || p_tier,
        CASE WHEN v_before.tier IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_tier(text, bigint, text) IS
    'Admin (trusted back ends): add a tier or move its threshold; audited. Stored tiers follow with retier_players().';

CREATE FUNCTION loyalty.delete_tier(p_tier text, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.tier
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.tier;
BEGIN
    -- Locks the whole ladder: two deletes at once must not both pass the
    -- "one tier remains" check.
    PERFORM 1 FROM loyalty.tier FOR UPDATE;
    SELECT * INTO v_before FROM loyalty.tier t WHERE t.tier = p_tier;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such tier', ERRCODE = 'PT422';
    END IF;
    IF (SELECT count(*) FROM loyalty.tier) = 1 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'the ladder needs at least one tier',
            ERRCODE = 'PT422';
    END IF;
    DELETE FROM loyalty.tier t WHERE t.tier = p_tier;
    PERFORM loyalty.admin_audit_write(v_actor, 'delete_tier', 'tier:' || p_tier, to_jsonb(v_before), NULL, v_corr);
    RETURN v_before;
END
$$;
COMMENT ON FUNCTION loyalty.delete_tier(text, text) IS
    'Admin (trusted back ends): remove a tier from the ladder (never the last one); audited. Stored tiers follow with retier_players().';

CREATE FUNCTION loyalty.configure(p_casino_timezone text DEFAULT NULL, p_gaming_day_start time DEFAULT NULL,
    p_max_reward_points bigint DEFAULT NULL, p_rate_limit_count integer DEFAULT NULL,
    p_rate_limit_window interval DEFAULT NULL, p_alert_reward_count integer DEFAULT NULL,
    p_alert_window interval DEFAULT NULL, p_accrual_lock_timeout interval DEFAULT NULL,
    p_partial_stale_after interval DEFAULT NULL, p_approval_overdue_after interval DEFAULT NULL,
    p_alert_ack_overdue_after interval DEFAULT NULL, p_health_sweep_players integer DEFAULT NULL,
    p_notification_claim_timeout interval DEFAULT NULL, p_correlation_id text DEFAULT NULL,
    p_daily_approval_threshold_points bigint DEFAULT NULL, p_cents_per_point numeric DEFAULT NULL,
    p_max_redemption_points bigint DEFAULT NULL, p_redemption_approval_points bigint DEFAULT NULL,
    p_points_inactivity_expiry interval DEFAULT NULL, p_expiry_warning interval DEFAULT NULL,
    p_tier_basis text DEFAULT NULL, p_tier_period_start text DEFAULT NULL)
RETURNS loyalty.config
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.config;
    v_after  loyalty.config;
    v_con    text;
BEGIN
    SELECT * INTO v_before FROM loyalty.config FOR UPDATE;
    BEGIN
        UPDATE loyalty.config c
           SET casino_timezone = coalesce(p_casino_timezone, c.casino_timezone),
               gaming_day_start = coalesce(p_gaming_day_start, c.gaming_day_start),
               max_reward_points = coalesce(p_max_reward_points, c.max_reward_points),
               rate_limit_count = coalesce(p_rate_limit_count, c.rate_limit_count),
               rate_limit_window = coalesce(p_rate_limit_window, c.rate_limit_window),
               alert_reward_count = coalesce(p_alert_reward_count, c.alert_reward_count),
               alert_window = coalesce(p_alert_window, c.alert_window),
               accrual_lock_timeout = coalesce(p_accrual_lock_timeout, c.accrual_lock_timeout),
               partial_stale_after = coalesce(p_partial_stale_after, c.partial_stale_after),
               approval_overdue_after = coalesce(p_approval_overdue_after, c.approval_overdue_after),
               alert_ack_overdue_after = coalesce(p_alert_ack_overdue_after, c.alert_ack_overdue_after),
               health_sweep_players = coalesce(p_health_sweep_players, c.health_sweep_players),
               notification_claim_timeout = coalesce(p_notification_claim_timeout, c.notification_claim_timeout),
               daily_approval_threshold_points = coalesce(p_daily_approval_threshold_points,
                                                          c.daily_approval_threshold_points),
               cents_per_point = coalesce(p_cents_per_point, c.cents_per_point),
               max_redemption_points = coalesce(p_max_redemption_points, c.max_redemption_points),
               redemption_approval_points = coalesce(p_redemption_approval_points, c.redemption_approval_points),
               -- '0' turns inactivity expiry off again (NULL keeps the value, as everywhere)
               points_inactivity_expiry = CASE WHEN p_points_inactivity_expiry = '0'::interval THEN NULL
                                               ELSE coalesce(p_points_inactivity_expiry, c.points_inactivity_expiry) END,
               expiry_warning = coalesce(p_expiry_warning, c.expiry_warning),
               tier_basis = coalesce(p_tier_basis, c.tier_basis),
               tier_period_start = coalesce(p_tier_period_start, c.tier_period_start),
               -- turning the period basis on: through this qualification
               -- year every player keeps the tier they hold (the write path
               -- reads it when it next touches them; no player is locked here)
               tier_basis_since = CASE WHEN c.tier_basis = 'LIFETIME' AND p_tier_basis = 'PERIOD'
                                       THEN clock_timestamp() ELSE c.tier_basis_since END,
               updated_at = now()
         WHERE c.singleton
        RETURNING * INTO v_after;
    EXCEPTION WHEN check_violation OR invalid_parameter_value OR numeric_value_out_of_range THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(coalesce(nullif(v_con, ''), 'config_casino_timezone_check'),
                                      'see docs/reference.md for each setting''s range');
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'configure', 'config', to_jsonb(v_before), to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.configure(text, time, bigint, integer, interval, integer, interval, interval, interval, interval, interval, integer, interval, text, bigint, numeric, bigint, bigint, interval, interval, text, text) IS
    'Admin (trusted back ends): casino time zone, gaming-day start, limits, thresholds and the tier basis (NULL keeps a value); audited. Turning tier_basis to PERIOD keeps every player''s tier through the current period (tier_basis_since), without locking any player.';

-- The enterprise's properties (SPEC §22). A NULL argument keeps the current
-- value of an existing property; a new one needs p_name. Its settings left
-- NULL fall back to loyalty.config; p_clear names settings to set back to
-- NULL (the enterprise's) explicitly. A property is never deleted:
-- p_active => false stops new slips, rewards and holds there.
CREATE FUNCTION loyalty.upsert_property(p_property_id text, p_name text DEFAULT NULL,
    p_time_zone text DEFAULT NULL, p_gaming_day_start time DEFAULT NULL, p_active boolean DEFAULT NULL,
    p_daily_approval_threshold_points bigint DEFAULT NULL, p_cents_per_point numeric DEFAULT NULL,
    p_max_redemption_points bigint DEFAULT NULL, p_redemption_approval_points bigint DEFAULT NULL,
    p_clear text[] DEFAULT NULL, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.property
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.property;
    v_after  loyalty.property;
    v_con    text;
    v_clear  text[] := coalesce(p_clear, '{}');
BEGIN
    IF p_property_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_property_id is required', ERRCODE = 'PT422';
    END IF;
    IF NOT v_clear <@ ARRAY['time_zone', 'gaming_day_start', 'daily_approval_threshold_points', 'cents_per_point',
                            'max_redemption_points', 'redemption_approval_points'] THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
            DETAIL = 'p_clear names time_zone, gaming_day_start, daily_approval_threshold_points, cents_per_point, max_redemption_points or redemption_approval_points';
    END IF;
    SELECT * INTO v_before FROM loyalty.property p WHERE p.property_id = p_property_id FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.property (property_id, name, time_zone, gaming_day_start, active,
                                          daily_approval_threshold_points, cents_per_point, max_redemption_points,
                                          redemption_approval_points)
            VALUES (p_property_id, p_name, p_time_zone, p_gaming_day_start, coalesce(p_active, true),
                    p_daily_approval_threshold_points, p_cents_per_point, p_max_redemption_points,
                    p_redemption_approval_points)
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.property p
               SET name = coalesce(p_name, p.name),
                   time_zone = CASE WHEN 'time_zone' = ANY (v_clear) THEN NULL
                                    ELSE coalesce(p_time_zone, p.time_zone) END,
                   gaming_day_start = CASE WHEN 'gaming_day_start' = ANY (v_clear) THEN NULL
                                           ELSE coalesce(p_gaming_day_start, p.gaming_day_start) END,
                   active = coalesce(p_active, p.active),
                   daily_approval_threshold_points = CASE WHEN 'daily_approval_threshold_points' = ANY (v_clear) THEN NULL
                       ELSE coalesce(p_daily_approval_threshold_points, p.daily_approval_threshold_points) END,
                   cents_per_point = CASE WHEN 'cents_per_point' = ANY (v_clear) THEN NULL
                       ELSE coalesce(p_cents_per_point, p.cents_per_point) END,
                   max_redemption_points = CASE WHEN 'max_redemption_points' = ANY (v_clear) THEN NULL
                       ELSE coalesce(p_max_redemption_points, p.max_redemption_points) END,
                   redemption_approval_points = CASE WHEN 'redemption_approval_points' = ANY (v_clear) THEN NULL
                       ELSE coalesce(p_redemption_approval_points, p.redemption_approval_points) END,
                   updated_at = now()
             WHERE p.property_id = p_property_id
            RETURNING * INTO v_after;
        END IF;
    EXCEPTION WHEN check_violation OR not_null_violation OR invalid_parameter_value THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con);
    END;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_property', 'property:' || p_property_id,
        CASE WHEN v_before.property_id IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_property(text, text, text, time, boolean, bigint, numeric, bigint, bigint, text[], text) IS
    'Admin (trusted back ends): add a property or change it (NULL keeps a value; p_clear sets settings back to the enterprise''s); audited. Never deleted: p_active => false.';

-- A property's own table limits and slip threshold for a game (SPEC §22).
-- A NULL argument keeps the current value; p_clear names settings to give
-- back to the game; clearing every setting removes the row.
CREATE FUNCTION loyalty.upsert_property_game(p_property_id text, p_game_type text,
    p_min_average_bet numeric DEFAULT NULL, p_max_average_bet numeric DEFAULT NULL,
    p_approval_threshold_points bigint DEFAULT NULL, p_clear text[] DEFAULT NULL,
    p_correlation_id text DEFAULT NULL)
RETURNS loyalty.property_game
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.property_game;
    v_after  loyalty.property_game;
    v_con    text;
    v_clear  text[] := coalesce(p_clear, '{}');
BEGIN
    IF p_property_id IS NULL OR p_game_type IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_property_id and p_game_type are required',
            ERRCODE = 'PT422';
    END IF;
    IF NOT v_clear <@ ARRAY['min_average_bet', 'max_average_bet', 'approval_threshold_points'] THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
            DETAIL = 'p_clear names min_average_bet, max_average_bet or approval_threshold_points';
    END IF;
    SELECT * INTO v_before FROM loyalty.property_game g
     WHERE g.property_id = p_property_id AND g.game_type = p_game_type FOR UPDATE;
    BEGIN
        INSERT INTO loyalty.property_game AS g (property_id, game_type, min_average_bet, max_average_bet,
                                                approval_threshold_points)
        VALUES (p_property_id, p_game_type, p_min_average_bet, p_max_average_bet, p_approval_threshold_points)
        ON CONFLICT (property_id, game_type) DO UPDATE
           SET min_average_bet = CASE WHEN 'min_average_bet' = ANY (v_clear) THEN NULL
                                      ELSE coalesce(EXCLUDED.min_average_bet, g.min_average_bet) END,
               max_average_bet = CASE WHEN 'max_average_bet' = ANY (v_clear) THEN NULL
                                      ELSE coalesce(EXCLUDED.max_average_bet, g.max_average_bet) END,
               approval_threshold_points = CASE WHEN 'approval_threshold_points' = ANY (v_clear) THEN NULL
                   ELSE coalesce(EXCLUDED.approval_threshold_points, g.approval_threshold_points) END,
               updated_at = now()
        RETURNING * INTO v_after;
    EXCEPTION WHEN check_violation OR not_null_violation OR foreign_key_violation THEN
        GET STACKED DIAGNOSTICS v_con = CONSTRAINT_NAME;
        PERFORM loyalty.admin_refused(v_con);
    END;
    IF v_after.min_average_bet IS NULL AND v_after.max_average_bet IS NULL
       AND v_after.approval_threshold_points IS NULL THEN
        DELETE FROM loyalty.property_game g WHERE g.property_id = p_property_id AND g.game_type = p_game_type;
    END IF;
    PERFORM loyalty.admin_audit_write(v_actor, 'upsert_property_game',
        'property:' || p_property_id || ' game:' || p_game_type,
        CASE WHEN v_before.property_id IS NOT NULL THEN to_jsonb(v_before) END, to_jsonb(v_after), v_corr);
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_property_game(text, text, numeric, numeric, bigint, text[], text) IS
    'Admin (trusted back ends): a property''s own table limits and slip threshold for a game (NULL keeps a value; p_clear gives settings back to the game; every one cleared removes the row); audited. Limits narrow the game''s, never widen them.';
