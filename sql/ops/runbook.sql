-- Read-only operator runbooks (see docs/runbook.md). Each is a plain query
-- an operator can read with \sf; the data-changing runbooks are in Rust.
-- Each first asks loyalty.require_caller() whether its caller may run it, so
-- a blanket GRANT EXECUTE opens none of them: trusted back ends only.

-- list_partial_completions and recover_partial_completions are in Rust
-- (src/ops/runbook.rs): one slip whose points cannot be computed must not stop
-- the listing or the recovery of the others.
COMMENT ON FUNCTION loyalty.list_partial_completions(integer) IS
    'Runbook: closed slips whose points were never posted, oldest first, with the last failure if recorded.';

CREATE FUNCTION loyalty.verify_player_balance(p_player_id uuid)
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint, lifetime_points bigint,
               ledger_lifetime bigint, entries bigint, chain_breaks bigint, ok boolean,
               held_points bigint, live_hold_points bigint, standing_ok boolean, standing jsonb,
               ledger_standing jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_player_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_player_id is required', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- RECONCILIATION entries bring the stored balance back to the ledger's
    -- sum and are left out of it (the registry's in_balance,
    -- src/domain/kinds.rs); before/after breaks count only after the last
    -- one (an operator reviewed and closed what came before, and the
    -- ledger still shows it).
    WITH l AS (
        SELECT coalesce(sum(e.points_change) FILTER (WHERE e.in_balance), 0)::bigint AS bal,
               coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)),
                        0)::bigint AS life,
               count(*) AS n,
               count(*) FILTER (WHERE e.seq > coalesce(e.last_reconciled, 0) AND e.prev_after IS NOT NULL
                                  AND e.prev_after <> e.balance_before) AS breaks
          FROM (SELECT x.points_change, x.balance_before, x.seq,
                       x.transaction_type,
                       x.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.in_balance)
                           AS in_balance,
                       lag(x.balance_after) OVER (ORDER BY x.seq) AS prev_after,
                       max(x.seq) FILTER (WHERE x.transaction_type = 'RECONCILIATION') OVER () AS last_reconciled
                  FROM loyalty.loyalty_ledger x WHERE x.player_id = p_player_id) e
    )
    -- and the held points against the player's live holds (reference §15)
    , h AS (
        SELECT coalesce(sum(x.points), 0)::bigint AS live
          FROM loyalty.hold x
         WHERE x.player_id = p_player_id AND x.status IN ('PENDING_APPROVAL', 'ACTIVE')
    )
    -- and the tier state against the ledger's replay (SPEC §20)
    SELECT p_player_id, p.current_balance::bigint, l.bal, p.lifetime_points::bigint, l.life, l.n, l.breaks,
           p.current_balance IS NOT DISTINCT FROM l.bal AND p.lifetime_points IS NOT DISTINCT FROM l.life
           AND l.breaks = 0 AND coalesce(p.held_points, 0) = h.live AND coalesce(sc.ok, true),
           coalesce(p.held_points, 0)::bigint, h.live, coalesce(sc.ok, true), sc.standing, sc.ledger_standing
      FROM l CROSS JOIN h LEFT JOIN loyalty.player_loyalty p ON p.player_id = p_player_id
      LEFT JOIN LATERAL (SELECT c.* FROM loyalty.standing_check(p.player_id) c
                          WHERE p.player_id IS NOT NULL) sc ON true
     WHERE p.player_id IS NOT NULL OR l.n > 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'PLAYER_NOT_FOUND',
            DETAIL = format('no balance and no ledger entries for player %s', p_player_id), ERRCODE = 'PT404';
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.verify_player_balance(uuid) IS
    'Runbook: one player''s balance and lifetime points against the ledger sums, the before/after chain, held points against live holds, and the tier state (tier, credits, period, retained tier) against the ledger''s replay.';

CREATE FUNCTION loyalty.verify_all_balances()
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint,
               lifetime_points bigint, ledger_lifetime bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT loyalty.require_caller();
    -- Only mismatches; an empty result is a clean bill of health.
    SELECT coalesce(p.player_id, l.player_id), p.current_balance, coalesce(l.bal, 0),
           p.lifetime_points, coalesce(l.life, 0)
      FROM loyalty.player_loyalty p
      FULL JOIN (SELECT e.player_id,
                        coalesce(sum(e.points_change)
                                     FILTER (WHERE e.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k
                                                                           WHERE k.in_balance)),
                                 0)::bigint AS bal,
                        coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)),
                                 0)::bigint AS life
                   FROM loyalty.loyalty_ledger e GROUP BY e.player_id) l ON l.player_id = p.player_id
     WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
        OR p.current_balance <> l.bal OR p.lifetime_points <> l.life
$$;
COMMENT ON FUNCTION loyalty.verify_all_balances() IS
    'Runbook: every player whose balance or lifetime points differ from the ledger (empty = all consistent).';

CREATE FUNCTION loyalty.export_ledger(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
                                      p_from_day date DEFAULT NULL, p_to_day date DEFAULT NULL)
RETURNS SETOF loyalty.loyalty_ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF (p_from IS NULL) <> (p_to IS NULL) OR (p_from_day IS NULL) <> (p_to_day IS NULL)
       OR (p_from IS NULL) = (p_from_day IS NULL) OR p_from > p_to OR p_from_day > p_to_day THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give p_from <= p_to (times) or p_from_day <= p_to_day (gaming days), not both', ERRCODE = 'PT422';
    END IF;
    IF p_from IS NOT NULL THEN
        RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                      WHERE l.created_at >= p_from AND l.created_at < p_to ORDER BY l.id;
    ELSE
        -- A gaming day lies within three days of its entries' UTC dates
        -- whatever the time zone and day start, so the created_at index
        -- narrows the scan and gaming_day decides.
        RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                      WHERE l.gaming_day BETWEEN p_from_day AND p_to_day
                        AND l.created_at >= (p_from_day - 3)::timestamp AT TIME ZONE 'UTC'
                        AND l.created_at < (p_to_day + 4)::timestamp AT TIME ZONE 'UTC'
                      ORDER BY l.id;
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.export_ledger(timestamptz, timestamptz, date, date) IS
    'Runbook: ledger operations with created_at in [p_from, p_to), or with gaming_day in [p_from_day, p_to_day], in entry order (\copy-able).';

CREATE FUNCTION loyalty.lookup_correlation(p_correlation_id text)
RETURNS TABLE (kind text, id text, player_id uuid, at timestamptz, details jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT loyalty.require_caller();
    SELECT 'ledger', l.id::text, l.player_id, l.created_at,
           jsonb_build_object('transaction_type', l.transaction_type, 'points_change', l.points_change,
                              'balance_before', l.balance_before, 'balance_after', l.balance_after,
                              'rating_slip_id', l.rating_slip_id, 'idempotency_key', l.idempotency_key,
                              'staff_id', l.staff_id, 'reason', l.reason)
      FROM loyalty.loyalty_ledger l WHERE l.correlation_id = p_correlation_id
    UNION ALL
    SELECT 'pending_accrual', p.rating_slip_id::text, p.player_id, p.failed_at,
           jsonb_build_object('error_code', p.error_code, 'error_message', p.error_message,
                              'attempts', p.attempts, 'resolved_at', p.resolved_at)
      FROM loyalty.pending_accrual p WHERE p.correlation_id = p_correlation_id
    UNION ALL
    SELECT 'rating_slip', s.id::text, s.player_id, s.updated_at,
           jsonb_build_object('status', s.status, 'game_type', s.game_type, 'average_bet', s.average_bet,
                              'accrued_ledger_id', s.accrued_ledger_id)
      FROM loyalty.rating_slip s WHERE s.correlation_id = p_correlation_id
    ORDER BY 4, 1
$$;
COMMENT ON FUNCTION loyalty.lookup_correlation(text) IS
    'Runbook: everything a request (by correlation id) touched: ledger rows, pending accruals, slips.';

CREATE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
                                                p_bucket interval DEFAULT '1 hour',
                                                p_from_day date DEFAULT NULL, p_to_day date DEFAULT NULL)
RETURNS TABLE (staff_id uuid, bucket_start timestamptz, rewards bigint, bonuses bigint,
               adjustments bigint, points_total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_origin timestamptz := p_from;
BEGIN
    PERFORM loyalty.require_caller();
    IF (p_from IS NULL) <> (p_to IS NULL) OR (p_from_day IS NULL) <> (p_to_day IS NULL)
       OR (p_from IS NULL) = (p_from_day IS NULL) OR p_from > p_to OR p_from_day > p_to_day OR p_bucket IS NULL
       OR p_bucket < interval '1 minute' OR extract(month FROM p_bucket) <> 0 OR extract(year FROM p_bucket) <> 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give p_from <= p_to or p_from_day <= p_to_day; p_bucket is at least 1 minute and given in days or less',
            ERRCODE = 'PT422';
    END IF;
    IF p_from_day IS NOT NULL THEN
        -- buckets start at the first gaming day's start, casino time
        SELECT (p_from_day + c.gaming_day_start) AT TIME ZONE c.casino_timezone INTO v_origin FROM loyalty.config c;
    END IF;
    RETURN QUERY
    SELECT l.staff_id, date_bin(p_bucket, l.created_at, v_origin), count(*),
           count(*) FILTER (WHERE l.transaction_type = 'MANUAL_BONUS'),
           count(*) FILTER (WHERE l.transaction_type = 'ADJUSTMENT'),
           sum(l.points_change)::bigint
      FROM loyalty.loyalty_ledger l
     -- manual rewards are the kinds the registry calls so
     -- (src/domain/kinds.rs), whoever else appears in staff_id on other kinds
     WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.manual_reward)
       AND CASE WHEN p_from IS NOT NULL THEN l.created_at >= p_from AND l.created_at < p_to
                ELSE l.gaming_day BETWEEN p_from_day AND p_to_day
                     AND l.created_at >= (p_from_day - 3)::timestamp AT TIME ZONE 'UTC'
                     AND l.created_at < (p_to_day + 4)::timestamp AT TIME ZONE 'UTC' END
     GROUP BY 1, 2 ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.manual_reward_frequency(timestamptz, timestamptz, interval, date, date) IS
    'Dashboard: manual rewards per staff member per time bucket, for created_at in [p_from, p_to) or gaming days [p_from_day, p_to_day].';

-- Runbook 2, duplicate manual reward: each manual reward a player received
-- in [p_from, p_to), with its key, who issued it and every retry that was
-- answered with it as an idempotent hit (a retry writes no ledger row; the
-- write path records it in reward_replay).
CREATE FUNCTION loyalty.reward_history(p_player_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ledger_entry_id bigint, created_at timestamptz, gaming_day date, transaction_type text,
               points_change bigint, idempotency_key text, staff_id uuid, reward_id text, reason text,
               correlation_id text, retries bigint, retried_by uuid[], retry_correlation_ids text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    IF p_player_id IS NULL OR p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_player_id, p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- (casts: the columns are domains, RETURN QUERY wants the declared types)
    SELECT l.id, l.created_at::timestamptz, l.gaming_day, l.transaction_type::text, l.points_change,
           l.idempotency_key::text, l.staff_id, l.reward_id, l.reason, l.correlation_id,
           count(r.at), coalesce(array_agg(r.staff_id ORDER BY r.at) FILTER (WHERE r.at IS NOT NULL), '{}'),
           coalesce(array_agg(r.correlation_id ORDER BY r.at) FILTER (WHERE r.at IS NOT NULL), '{}')
      FROM loyalty.loyalty_ledger l
      LEFT JOIN loyalty.reward_replay r ON r.player_id = l.player_id AND r.ledger_entry_id = l.id
     WHERE l.player_id = p_player_id
       AND l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.manual_reward)
       AND l.created_at >= p_from AND l.created_at < p_to
     GROUP BY l.player_id, l.id  -- the primary key: every other column follows
     ORDER BY l.seq;
END
$$;
COMMENT ON FUNCTION loyalty.reward_history(uuid, timestamptz, timestamptz) IS
    'Runbook (duplicate manual reward): a player''s manual rewards in [p_from, p_to) with key, issuer and idempotent retries.';

-- Runbook 3, rate limit and alert response: one staff member's manual
-- rewards in [p_from, p_to), the alerts about them, and where their rate
-- windows stand now. Refused rewards are not here: a refusal aborts its
-- transaction and leaves no row by design; its manual_reward_rejected log
-- line (written at once) is the record (docs/runbook.md).
CREATE FUNCTION loyalty.staff_activity(p_staff_id uuid, p_from timestamptz, p_to timestamptz,
                                       p_property_id text DEFAULT NULL)
RETURNS TABLE (kind text, at timestamptz, player_id uuid, points_change bigint, detail jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    -- at one property (its rewards, retries and alerts), for view_all staff
    -- there; or everywhere, for view_all staff of every property
    PERFORM loyalty.require_caller_at(ARRAY['loyalty:view_all'], p_property_id);
    IF p_staff_id IS NULL OR p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_staff_id, p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- (casts: the columns are domains, RETURN QUERY wants the declared types)
    SELECT 'reward', l.created_at::timestamptz, l.player_id, l.points_change,
           jsonb_build_object('ledger_entry_id', l.id, 'transaction_type', l.transaction_type,
                              'idempotency_key', l.idempotency_key, 'reward_id', l.reward_id,
                              'reason', l.reason, 'correlation_id', l.correlation_id)
      FROM loyalty.loyalty_ledger l
     WHERE l.staff_id = p_staff_id
       AND l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.manual_reward)
       AND l.created_at >= p_from AND l.created_at < p_to
       AND (p_property_id IS NULL OR l.property_id = p_property_id)
    UNION ALL
    -- a retry is where the reward it replayed was given
    SELECT 'retry', r.at::timestamptz, r.player_id, NULL::bigint,
           jsonb_build_object('ledger_entry_id', r.ledger_entry_id, 'correlation_id', r.correlation_id)
      FROM loyalty.reward_replay r
     WHERE r.staff_id = p_staff_id AND r.at >= p_from AND r.at < p_to
       AND (p_property_id IS NULL
            OR EXISTS (SELECT FROM loyalty.loyalty_ledger x WHERE x.player_id = r.player_id
                                                             AND x.id = r.ledger_entry_id
                                                             AND x.property_id = p_property_id))
    UNION ALL
    SELECT 'alert', a.created_at::timestamptz, a.player_id, NULL::bigint,
           jsonb_build_object('alert_id', a.id, 'kind', a.kind, 'severity', a.severity,
                              'acknowledged_at', a.acknowledged_at, 'acknowledged_by', a.acknowledged_by,
                              'details', a.details)
      FROM loyalty.alert a
     WHERE a.staff_id = p_staff_id AND a.created_at >= p_from AND a.created_at < p_to
       AND (p_property_id IS NULL OR a.property_id = p_property_id)
    UNION ALL
    -- the rate-limit windows count every property's rewards
    SELECT 'window', now(), NULL::uuid, NULL::bigint,
           jsonb_build_object('rate_count', w.rate_count, 'rate_window', w.rate_window,
                              'alert_count', w.alert_count, 'alert_window', w.alert_window)
      FROM loyalty.reward_window w WHERE w.staff_id = p_staff_id AND p_property_id IS NULL
    ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.staff_activity(uuid, timestamptz, timestamptz, text) IS
    'Runbook (rate limit and alert response): one staff member''s manual rewards, retries and alerts in [p_from, p_to) (at p_property_id, or everywhere with their rate windows now). view_all staff of that property, or of every property.';
