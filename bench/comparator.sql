-- The PL/pgSQL comparator: the same steps as casino_loyalty's hot paths,
-- written the way a good Supabase engineer would write them by hand, with
-- the same checks the extension makes since 0.2.0 (who is calling, the
-- approval threshold, the accrual lock timeout, self-dealing, the rate
-- limit and the frequency alert) and the same settings (generic plans).
-- Own copies of the tables (same columns, constraints and indexes) so both
-- sides start from the same data. Not made: the hash chain, the window
-- row of the rate limiter (counted by query instead), the log lines and
-- the outbox; BENCHMARKS.md says what those cost.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE SCHEMA cmp;
CREATE TABLE cmp.tier (LIKE loyalty.tier INCLUDING ALL);
INSERT INTO cmp.tier SELECT * FROM loyalty.tier;
CREATE TABLE cmp.rating_slip (LIKE loyalty.rating_slip INCLUDING ALL);
CREATE TABLE cmp.player_loyalty (LIKE loyalty.player_loyalty INCLUDING ALL);
CREATE TABLE cmp.loyalty_ledger (LIKE loyalty.loyalty_ledger INCLUDING ALL);
-- The comparator keeps no hash chain (the chain is the extension's own
-- addition; BENCHMARKS.md measures what it costs).
ALTER TABLE cmp.loyalty_ledger ALTER COLUMN seq DROP NOT NULL, ALTER COLUMN prev_hash DROP NOT NULL,
    ALTER COLUMN row_hash DROP NOT NULL;
CREATE TABLE cmp.staff (LIKE loyalty.staff INCLUDING ALL);

CREATE FUNCTION cmp.increment(p_player_id uuid, p_delta bigint,
    OUT balance_before bigint, OUT balance_after bigint, OUT tier_before text, OUT tier_after text,
    OUT tier_progress smallint, OUT lifetime_points bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    r cmp.player_loyalty;
    t_name text; t_thr bigint; n_thr bigint;
BEGIN
    SELECT * INTO r FROM cmp.player_loyalty WHERE player_id = p_player_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO cmp.player_loyalty (player_id) VALUES (p_player_id) ON CONFLICT DO NOTHING;
        SELECT * INTO r FROM cmp.player_loyalty WHERE player_id = p_player_id FOR UPDATE;
    END IF;
    balance_before := r.current_balance;
    balance_after := r.current_balance + p_delta;
    IF balance_after < 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'INSUFFICIENT_BALANCE', ERRCODE = 'PT409';
    END IF;
    lifetime_points := r.lifetime_points + greatest(p_delta, 0);
    SELECT t.tier, t.threshold_points INTO t_name, t_thr FROM cmp.tier t
     WHERE t.threshold_points <= lifetime_points ORDER BY t.threshold_points DESC LIMIT 1;
    SELECT min(t.threshold_points) INTO n_thr FROM cmp.tier t WHERE t.threshold_points > t_thr;
    tier_progress := CASE WHEN n_thr IS NULL THEN 100
                          ELSE least(100, greatest(0, round(100.0 * (lifetime_points - t_thr) / (n_thr - t_thr)))) END;
    tier_before := r.tier;
    tier_after := t_name;
    UPDATE cmp.player_loyalty SET current_balance = balance_after, lifetime_points = increment.lifetime_points,
           tier = t_name, tier_progress = increment.tier_progress, updated_at = now()
     WHERE player_id = p_player_id;
END
$$;

-- Who may act: a trusted back end (superuser, owner, service_role), as the
-- extension checks before anything else.
CREATE FUNCTION cmp.require_trusted() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = session_user
                      AND (r.rolsuper OR pg_has_role(session_user, 'service_role', 'MEMBER'))) THEN
        RAISE EXCEPTION USING MESSAGE = 'UNAUTHORIZED', ERRCODE = 'PT401';
    END IF;
END
$$;

CREATE FUNCTION cmp.complete_rating_slip(p_slip_id uuid, OUT status text, OUT points_earned bigint,
                                         OUT balance_after bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    s cmp.rating_slip;
    v_end timestamptz := now();
    v_dur integer;
    v_key text;
    inc record;
    v_id bigint;
    v_prev_timeout text;
    v_timeout interval;
BEGIN
    PERFORM cmp.require_trusted();
    SELECT * INTO s FROM cmp.rating_slip WHERE id = p_slip_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'SLIP_NOT_FOUND', ERRCODE = 'PT404';
    END IF;
    IF s.status = 'CLOSED' THEN
        status := 'ALREADY_COMPLETED';
        RETURN;
    END IF;
    v_dur := floor(extract(epoch FROM v_end - s.start_time));
    IF v_dur < 0 OR v_dur > 86400 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422';
    END IF;
    points_earned := floor(s.average_bet * s.house_edge * s.decisions_per_hour * v_dur
                           * s.points_conversion_rate * s.point_multiplier / 360000);
    -- four eyes: above the threshold the slip closes and waits
    IF points_earned > s.approval_threshold_points THEN
        UPDATE cmp.rating_slip SET status = 'CLOSED', end_time = v_end, duration_seconds = v_dur,
               approval_status = 'HELD', updated_at = now()
         WHERE id = p_slip_id;
        status := 'HELD_FOR_APPROVAL';
        RETURN;
    END IF;
    UPDATE cmp.rating_slip SET status = 'CLOSED', end_time = v_end, duration_seconds = v_dur, updated_at = now()
     WHERE id = p_slip_id;
    v_key := 'gameplay:' || p_slip_id;
    BEGIN
        -- idempotency check, then lock and update the balance, then the ledger row
        PERFORM 1 FROM cmp.loyalty_ledger WHERE player_id = s.player_id AND idempotency_key = v_key;
        IF FOUND THEN
            status := 'ALREADY_COMPLETED';
            RETURN;
        END IF;
        -- wait on a busy player at most config.accrual_lock_timeout
        SELECT current_setting('lock_timeout'), c.accrual_lock_timeout INTO v_prev_timeout, v_timeout
          FROM loyalty.config c;
        PERFORM set_config('lock_timeout', (extract(epoch FROM v_timeout) * 1000)::bigint || 'ms', true);
        SELECT * INTO inc FROM cmp.increment(s.player_id, points_earned);
        PERFORM set_config('lock_timeout', v_prev_timeout, true);
        INSERT INTO cmp.loyalty_ledger (player_id, rating_slip_id, visit_id, session_id, idempotency_key,
               transaction_type, event_type, points_change, source, balance_before, balance_after,
               tier_before, tier_after, correlation_id)
        VALUES (s.player_id, s.id, s.visit_id, s.session_id, v_key, 'GAMEPLAY', 'RATING_SLIP_COMPLETED',
                points_earned, 'complete_rating_slip', inc.balance_before, inc.balance_after,
                inc.tier_before, inc.tier_after, coalesce(current_setting('loyalty.correlation_id', true), gen_random_uuid()::text))
        RETURNING id INTO v_id;
        UPDATE cmp.rating_slip SET accrued_ledger_id = v_id WHERE id = p_slip_id;
        balance_after := inc.balance_after;
        status := 'COMPLETED';
    EXCEPTION WHEN OTHERS THEN
        status := 'PARTIAL_COMPLETION';
    END;
END
$$;

CREATE FUNCTION cmp.manual_reward(p_player_id uuid, p_points bigint, p_reason text, p_staff_id uuid,
                                  p_reward_id text DEFAULT NULL,
                                  OUT ledger_entry_id bigint, OUT balance_after bigint, OUT idempotent_hit boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    v_perms text[];
    v_key text;
    v_recent bigint;
    v_alert bigint;
    cfg record;
    inc record;
BEGIN
    PERFORM cmp.require_trusted();
    SELECT max_reward_points, rate_limit_count, rate_limit_window, alert_reward_count, alert_window,
           casino_timezone, gaming_day_start
      INTO cfg FROM loyalty.config;
    IF p_player_id = p_staff_id THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    SELECT permissions INTO v_perms FROM cmp.staff WHERE staff_id = p_staff_id AND active;
    IF NOT FOUND OR NOT 'loyalty:award' = ANY (v_perms) THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    IF abs(p_points) > cfg.max_reward_points THEN
        RAISE EXCEPTION USING MESSAGE = 'REWARD_EXCEEDS_LIMIT', ERRCODE = 'PT422';
    END IF;
    IF p_points = 0 OR length(btrim(p_reason)) < 10 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422';
    END IF;
    v_key := 'manual:' || encode(public.digest(
        CASE WHEN p_reward_id IS NOT NULL THEN jsonb_build_object('reward_id', p_reward_id)::text
             ELSE jsonb_build_object('player_id', p_player_id, 'staff_id', p_staff_id, 'points', p_points,
                                     'reason', p_reason, 'gaming_day',
                                     ((now() AT TIME ZONE cfg.casino_timezone) - (cfg.gaming_day_start - time '00:00'))::date)::text END,
        'sha256'), 'hex');
    PERFORM pg_advisory_xact_lock(1, hashtext(p_staff_id::text));
    SELECT id, cmp.loyalty_ledger.balance_after INTO ledger_entry_id, balance_after
      FROM cmp.loyalty_ledger WHERE player_id = p_player_id AND idempotency_key = v_key;
    IF FOUND THEN
        idempotent_hit := true;
        RETURN;
    END IF;
    SELECT count(*) INTO v_recent FROM (SELECT 1 FROM cmp.loyalty_ledger
     WHERE staff_id = p_staff_id AND created_at > now() - cfg.rate_limit_window LIMIT cfg.rate_limit_count) r;
    IF v_recent >= cfg.rate_limit_count THEN
        RAISE EXCEPTION USING MESSAGE = 'RATE_LIMIT_EXCEEDED', ERRCODE = 'PT429';
    END IF;
    SELECT count(*) INTO v_alert FROM (SELECT 1 FROM cmp.loyalty_ledger
     WHERE staff_id = p_staff_id AND created_at > now() - cfg.alert_window LIMIT cfg.alert_reward_count) r;
    IF v_alert = cfg.alert_reward_count THEN
        INSERT INTO loyalty.alert (kind, staff_id, player_id) VALUES ('MANUAL_REWARD_FREQUENCY', p_staff_id, p_player_id);
    END IF;
    SELECT * INTO inc FROM cmp.increment(p_player_id, p_points);
    INSERT INTO cmp.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
           reason, source, staff_id, reward_id, balance_before, balance_after, tier_before, tier_after,
           correlation_id)
    VALUES (p_player_id, v_key, CASE WHEN p_points > 0 THEN 'MANUAL_BONUS' ELSE 'ADJUSTMENT' END,
            'POINTS_UPDATE_REQUESTED', p_points, p_reason, 'manual_reward', p_staff_id, p_reward_id,
            inc.balance_before, inc.balance_after, inc.tier_before, inc.tier_after,
            coalesce(current_setting('loyalty.correlation_id', true), gen_random_uuid()::text))
    RETURNING id INTO ledger_entry_id;
    balance_after := inc.balance_after;
    idempotent_hit := false;
END
$$;


-- A table in one call, by hand: every slip locked first in id order, then
-- each completed in its own exception block (a savepoint), in player order.
CREATE FUNCTION cmp.complete_rating_slips(p_slip_ids uuid[])
RETURNS TABLE (ordinal integer, slip_id uuid, status text, points_earned bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    r record;
    c record;
BEGIN
    PERFORM cmp.require_trusted();
    IF p_slip_ids IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_slip_ids is required', ERRCODE = 'PT422';
    END IF;
    PERFORM 1 FROM cmp.rating_slip s WHERE s.id = ANY (p_slip_ids) ORDER BY s.id FOR UPDATE;
    FOR r IN SELECT u.id, min(u.ord)::integer AS ord, s.player_id
               FROM unnest(p_slip_ids) WITH ORDINALITY u(id, ord)
               JOIN cmp.rating_slip s ON s.id = u.id
              GROUP BY u.id, s.player_id ORDER BY s.player_id, u.id LOOP
        BEGIN
            SELECT * INTO c FROM cmp.complete_rating_slip(r.id);
            ordinal := r.ord; slip_id := r.id; status := c.status; points_earned := c.points_earned;
        EXCEPTION WHEN OTHERS THEN
            ordinal := r.ord; slip_id := r.id; status := 'REFUSED'; points_earned := NULL;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

-- Comps by hand (W6): the same checks as the extension's hold_points,
-- capture_hold and redeem_points (trusted caller naming an active staff
-- member with loyalty:redeem, not the player, the redemption cap, a request
-- id that finds the first hold, the player's lock, available = balance -
-- held), then the hold row, the REDEMPTION entry and the balance. Not made:
-- the approval threshold's alert, the log lines and the outbox rows.
CREATE TABLE cmp.hold (LIKE loyalty.hold INCLUDING ALL);

CREATE FUNCTION cmp.hold_points(p_player_id uuid, p_points bigint, p_outlet text, p_reason text,
                                p_staff_id uuid, p_request_id text DEFAULT NULL, p_ttl interval DEFAULT '30 minutes',
                                OUT hold_id uuid, OUT status text, OUT available_after bigint,
                                OUT idempotent_hit boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    cfg record;
    r cmp.player_loyalty;
    h cmp.hold;
    v_key text := 'hold:req:' || coalesce(p_request_id, gen_random_uuid()::text);
BEGIN
    PERFORM cmp.require_trusted();
    IF NOT EXISTS (SELECT 1 FROM cmp.staff s WHERE s.staff_id = p_staff_id AND s.active
                      AND 'loyalty:redeem' = ANY (s.permissions)) THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    IF p_player_id = p_staff_id THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    SELECT max_redemption_points, redemption_approval_points, cents_per_point INTO cfg FROM loyalty.config;
    IF p_points IS NULL OR p_points <= 0 OR length(btrim(p_reason)) < 10 OR btrim(p_outlet) = ''
       OR p_ttl < interval '1 second' OR p_ttl > interval '7 days' THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422';
    END IF;
    IF p_points > cfg.max_redemption_points THEN
        RAISE EXCEPTION USING MESSAGE = 'REDEMPTION_EXCEEDS_LIMIT', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO r FROM cmp.player_loyalty p WHERE p.player_id = p_player_id FOR UPDATE;
    SELECT * INTO h FROM cmp.hold x WHERE x.player_id = p_player_id AND x.idempotency_key = v_key;
    IF FOUND THEN
        IF h.points <> p_points OR h.outlet <> p_outlet OR h.reason <> p_reason THEN
            RAISE EXCEPTION USING MESSAGE = 'IDEMPOTENCY_CONFLICT', ERRCODE = 'PT409';
        END IF;
        hold_id := h.hold_id; status := h.status; available_after := r.current_balance - r.held_points;
        idempotent_hit := true;
        RETURN;
    END IF;
    IF r.player_id IS NULL OR r.current_balance - r.held_points < p_points THEN
        RAISE EXCEPTION USING MESSAGE = 'INSUFFICIENT_BALANCE', ERRCODE = 'PT409';
    END IF;
    UPDATE cmp.player_loyalty p SET held_points = p.held_points + p_points, updated_at = now()
     WHERE p.player_id = p_player_id;
    INSERT INTO cmp.hold (player_id, points, outlet, comp_value_cents, status, expires_at, staff_id, reason,
                          idempotency_key, correlation_id)
    VALUES (p_player_id, p_points, p_outlet, floor(p_points * cfg.cents_per_point)::bigint,
            CASE WHEN p_points > cfg.redemption_approval_points THEN 'PENDING_APPROVAL' ELSE 'ACTIVE' END,
            clock_timestamp() + p_ttl, p_staff_id, p_reason, v_key,
            coalesce(current_setting('loyalty.correlation_id', true), gen_random_uuid()::text))
    RETURNING cmp.hold.hold_id, cmp.hold.status INTO hold_id, status;
    available_after := r.current_balance - r.held_points - p_points;
    idempotent_hit := false;
END
$$;

CREATE FUNCTION cmp.capture_hold(p_hold_id uuid, p_points bigint DEFAULT NULL, p_staff_id uuid DEFAULT NULL,
                                 OUT status text, OUT ledger_entry_id bigint, OUT available_after bigint,
                                 OUT idempotent_hit boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    v_player uuid;
    r cmp.player_loyalty;
    h cmp.hold;
    v_take bigint;
BEGIN
    PERFORM cmp.require_trusted();
    IF NOT EXISTS (SELECT 1 FROM cmp.staff s WHERE s.staff_id = p_staff_id AND s.active
                      AND 'loyalty:redeem' = ANY (s.permissions)) THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    SELECT x.player_id INTO v_player FROM cmp.hold x WHERE x.hold_id = p_hold_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'HOLD_NOT_FOUND', ERRCODE = 'PT404';
    END IF;
    IF v_player = p_staff_id THEN
        RAISE EXCEPTION USING MESSAGE = 'FORBIDDEN', ERRCODE = 'PT403';
    END IF;
    SELECT * INTO r FROM cmp.player_loyalty p WHERE p.player_id = v_player FOR UPDATE;
    SELECT * INTO h FROM cmp.hold x WHERE x.player_id = v_player AND x.hold_id = p_hold_id FOR UPDATE;
    IF h.status = 'CAPTURED' THEN
        status := h.status; ledger_entry_id := h.ledger_entry_id;
        available_after := r.current_balance - r.held_points; idempotent_hit := true;
        RETURN;
    END IF;
    IF h.status <> 'ACTIVE' OR h.expires_at <= clock_timestamp() THEN
        RAISE EXCEPTION USING MESSAGE = 'HOLD_NOT_ACTIVE', ERRCODE = 'PT409';
    END IF;
    v_take := coalesce(p_points, h.points);
    IF v_take < 1 OR v_take > h.points THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422';
    END IF;
    INSERT INTO cmp.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
           reason, source, staff_id, balance_before, balance_after, tier_before, tier_after, correlation_id)
    VALUES (v_player, 'redemption:' || p_hold_id, 'REDEMPTION', 'POINTS_REDEEMED', -v_take, h.reason,
            'capture_hold', p_staff_id, r.current_balance, r.current_balance - v_take, r.tier, r.tier,
            coalesce(current_setting('loyalty.correlation_id', true), gen_random_uuid()::text))
    RETURNING id INTO ledger_entry_id;
    UPDATE cmp.player_loyalty p SET current_balance = r.current_balance - v_take,
           held_points = r.held_points - h.points, updated_at = now()
     WHERE p.player_id = v_player;
    UPDATE cmp.hold x SET status = 'CAPTURED', captured_points = v_take, ledger_entry_id = capture_hold.ledger_entry_id,
           decided_at = clock_timestamp(), decided_by = p_staff_id
     WHERE x.player_id = v_player AND x.hold_id = p_hold_id;
    status := 'CAPTURED';
    available_after := r.current_balance - v_take - (r.held_points - h.points);
    idempotent_hit := false;
END
$$;

CREATE FUNCTION cmp.redeem_points(p_player_id uuid, p_points bigint, p_outlet text, p_reason text,
                                  p_staff_id uuid, p_request_id text DEFAULT NULL,
                                  OUT status text, OUT available_after bigint, OUT idempotent_hit boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, cmp, pg_temp AS $$
DECLARE
    h record;
    c record;
BEGIN
    SELECT * INTO h FROM cmp.hold_points(p_player_id, p_points, p_outlet, p_reason, p_staff_id,
                                         'redeem:' || p_request_id, '30 minutes');
    IF h.idempotent_hit OR h.status <> 'ACTIVE' THEN
        status := h.status; available_after := h.available_after; idempotent_hit := h.idempotent_hit;
        RETURN;
    END IF;
    SELECT * INTO c FROM cmp.capture_hold(h.hold_id, NULL, p_staff_id);
    status := c.status; available_after := c.available_after; idempotent_hit := false;
END
$$;

-- The extension's write functions run with generic plans (sql/security.sql);
-- so do these.
ALTER FUNCTION cmp.increment SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.complete_rating_slip SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.complete_rating_slips SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.manual_reward SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.hold_points SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.capture_hold SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION cmp.redeem_points SET plan_cache_mode = force_generic_plan;
