-- Read-only operator runbooks (see docs/runbook.md). Each is a plain query
-- an operator can read with \sf; the data-changing runbooks are in Rust.
-- Each first asks loyalty.require_caller() whether its caller may run it, so
-- a blanket GRANT EXECUTE opens none of them: trusted back ends only.

-- list_partial_completions and recover_partial_completions are in Rust
-- (src/runbook.rs): one slip whose points cannot be computed must not stop
-- the listing or the recovery of the others.
COMMENT ON FUNCTION loyalty.list_partial_completions(integer) IS
    'Runbook: closed slips whose points were never posted, oldest first, with the last failure if recorded.';

CREATE FUNCTION loyalty.verify_player_balance(p_player_id uuid)
RETURNS TABLE (player_id uuid, current_balance bigint, ledger_balance bigint, lifetime_points bigint,
               ledger_lifetime bigint, entries bigint, chain_breaks bigint, ok boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_player_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_player_id is required', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    WITH l AS (
        SELECT coalesce(sum(e.points_change), 0)::bigint AS bal,
               coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0), 0)::bigint AS life,
               count(*) AS n,
               count(*) FILTER (WHERE e.prev_after IS NOT NULL AND e.prev_after <> e.balance_before) AS breaks
          FROM (SELECT x.points_change, x.balance_before,
                       lag(x.balance_after) OVER (ORDER BY x.id) AS prev_after
                  FROM loyalty.loyalty_ledger x WHERE x.player_id = p_player_id) e
    )
    SELECT p_player_id, p.current_balance, l.bal, p.lifetime_points, l.life, l.n, l.breaks,
           p.current_balance IS NOT DISTINCT FROM l.bal AND p.lifetime_points IS NOT DISTINCT FROM l.life
           AND l.breaks = 0
      FROM l LEFT JOIN loyalty.player_loyalty p ON p.player_id = p_player_id
     WHERE p.player_id IS NOT NULL OR l.n > 0;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING MESSAGE = 'PLAYER_NOT_FOUND',
            DETAIL = format('no balance and no ledger entries for player %s', p_player_id), ERRCODE = 'PT404';
    END IF;
END
$$;
COMMENT ON FUNCTION loyalty.verify_player_balance(uuid) IS
    'Runbook: one player''s balance and lifetime points against the ledger sums, and the before/after chain.';

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
      FULL JOIN (SELECT e.player_id, sum(e.points_change)::bigint AS bal,
                        coalesce(sum(e.points_change) FILTER (WHERE e.points_change > 0), 0)::bigint AS life
                   FROM loyalty.loyalty_ledger e GROUP BY e.player_id) l ON l.player_id = p.player_id
     WHERE p.player_id IS NULL OR l.player_id IS NULL AND (p.current_balance <> 0 OR p.lifetime_points <> 0)
        OR p.current_balance <> l.bal OR p.lifetime_points <> l.life
$$;
COMMENT ON FUNCTION loyalty.verify_all_balances() IS
    'Runbook: every player whose balance or lifetime points differ from the ledger (empty = all consistent).';

CREATE FUNCTION loyalty.export_ledger(p_from timestamptz, p_to timestamptz)
RETURNS SETOF loyalty.loyalty_ledger
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_from and p_to are required and p_from must not be after p_to', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY SELECT * FROM loyalty.loyalty_ledger l
                  WHERE l.created_at >= p_from AND l.created_at < p_to ORDER BY l.id;
END
$$;
COMMENT ON FUNCTION loyalty.export_ledger(timestamptz, timestamptz) IS
    'Runbook: ledger operations with created_at in [p_from, p_to), in entry order (\copy-able).';

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

CREATE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz, p_to timestamptz,
                                                p_bucket interval DEFAULT '1 hour')
RETURNS TABLE (staff_id uuid, bucket_start timestamptz, rewards bigint, bonuses bigint,
               adjustments bigint, points_total bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller();
    IF p_from IS NULL OR p_to IS NULL OR p_from > p_to OR p_bucket IS NULL
       OR p_bucket < interval '1 minute' OR extract(month FROM p_bucket) <> 0 OR extract(year FROM p_bucket) <> 0 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'p_from <= p_to are required; p_bucket is at least 1 minute and given in days or less',
            ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    SELECT l.staff_id, date_bin(p_bucket, l.created_at, p_from), count(*),
           count(*) FILTER (WHERE l.transaction_type = 'MANUAL_BONUS'),
           count(*) FILTER (WHERE l.transaction_type = 'ADJUSTMENT'),
           sum(l.points_change)::bigint
      FROM loyalty.loyalty_ledger l
     -- manual rewards are these two kinds (src/kinds.rs), whoever else
     -- appears in staff_id on other kinds
     WHERE l.transaction_type IN ('MANUAL_BONUS', 'ADJUSTMENT') AND l.created_at >= p_from AND l.created_at < p_to
     GROUP BY 1, 2 ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.manual_reward_frequency(timestamptz, timestamptz, interval) IS
    'Dashboard: manual rewards per staff member per time bucket in [p_from, p_to).';
