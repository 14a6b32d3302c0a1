-- casino_loyalty 0.3.0 -> 0.4.0.
--
-- `ALTER EXTENSION casino_loyalty UPDATE` runs this file in one transaction,
-- after the 0.4.0 shared library has been installed. It must carry a 0.3.0
-- database to exactly the schema a fresh 0.4.0 install creates: the upgrade
-- suite (tests/upgrade) compares the two and fails on any difference.
--
-- 0.4.0 is not released yet (sql/RELEASED), so every 0.4.0 change appends its
-- step here, in the order the changes were made; once 0.4.0 is released this
-- file never changes again (CONTRIBUTING.md, docs/releasing.md).
\echo Use "ALTER EXTENSION casino_loyalty UPDATE TO '0.4.0'" to load this file. \quit

-- Every table at once before anything else (loyalty.lock_for_update: a writer
-- waits for the update, none is made its deadlock victim).
SELECT loyalty.lock_for_update();

-- Every C function points at this release's library file, so a database
-- keeps calling the library its definitions were made with until it is
-- updated; steps below that redefine a function name the same file.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid, p.probin FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                                     AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'casino_loyalty'
         WHERE p.prolang = (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'c')
           AND p.probin IS DISTINCT FROM 'casino_loyalty-@CARGO_VERSION@'
    LOOP
        EXECUTE pg_catalog.replace(pg_catalog.pg_get_functiondef(f.oid),
                                   'AS ' || pg_catalog.quote_literal(f.probin) || ', ',
                                   'AS ''casino_loyalty-@CARGO_VERSION@'', ');
    END LOOP;
END
$$;


-- The ledger kinds' registry (src/domain/kinds.rs) as rows: the exception
-- report, the health check, the metrics and the runbooks pick kinds from it
-- by what they are, no longer by lists of names of their own.
CREATE FUNCTION loyalty.ledger_kinds()
RETURNS TABLE (kind text, event_type text, sign text, earns text, tier_credits text, in_balance bool,
               manual_reward bool, exception bool)
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'ledger_kinds_wrapper';
REVOKE ALL ON FUNCTION loyalty.ledger_kinds FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.ledger_kinds TO authenticated, service_role;
ALTER FUNCTION loyalty.ledger_kinds SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION loyalty.ledger_kinds() IS
    'The ledger kinds and what each is: its event, sign, whether it earns (lifetime points, the inactivity clock), what it does to tier credits, whether it counts in the balance, is a manual reward, and is listed as it is by the exception report. The one list (src/domain/kinds.rs); SQL picks kinds from it.';
CREATE OR REPLACE FUNCTION loyalty.exception_report(p_from_gaming_day date, p_to_gaming_day date)
RETURNS TABLE (event text, gaming_day date, at timestamptz, player_id uuid, initiator text, approver text,
               amount bigint, reason text, correlation_id text, reference text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:audit']);
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- manual adds and adjustments, reconciliations, reversals, expiries,
    -- direct increments: the ledger's own rows of every kind the registry
    -- calls an exception (src/domain/kinds.rs; a gaming day lies within
    -- three days of its rows' UTC dates, so the created_at index narrows
    -- the scan)
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), NULL::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || coalesce(' reverses ledger:' || l.reverses_entry_id, '')
      FROM loyalty.loyalty_ledger l
     WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.exception)
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
       AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
    UNION ALL
    -- held slips decided by a second person
    SELECT 'SLIP_' || s.approval_status::text, loyalty.gaming_day(s.decided_at), s.decided_at::timestamptz,
           s.player_id, s.closed_by::text, s.decided_by::text, l.points_change, s.decision_reason,
           s.correlation_id, 'slip:' || s.id
      FROM loyalty.rating_slip s
      LEFT JOIN loyalty.loyalty_ledger l ON l.player_id = s.player_id AND l.id = s.accrued_ledger_id
     WHERE s.approval_status IN ('APPROVED', 'REJECTED')
       AND loyalty.gaming_day(s.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- comps above the approval threshold, approved by a second person,
    -- with what moved: the points captured (0 while none were, and for a
    -- hold voided or expired), the hold's state in the reference
    SELECT 'HOLD_APPROVED', loyalty.gaming_day(h.approved_at), h.approved_at::timestamptz, h.player_id,
           h.staff_id::text, h.approved_by::text, -coalesce(h.captured_points, 0), h.reason, h.correlation_id,
           'hold:' || h.hold_id || ' ' || h.status::text
      FROM loyalty.hold h
     WHERE h.approved_by IS NOT NULL
       AND loyalty.gaming_day(h.approved_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- and the REDEMPTION entries that captured those comps
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), h.approved_by::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || ' hold:' || h.hold_id
      FROM loyalty.hold h
      JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
     WHERE h.approved_by IS NOT NULL
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
    UNION ALL
    -- every change made through the admin API
    SELECT 'ADMIN_' || upper(a.action), loyalty.gaming_day(a.at), a.at::timestamptz, NULL::uuid, a.actor,
           NULL::text, NULL::bigint, NULL::text, a.correlation_id, a.target
      FROM loyalty.admin_audit a
     WHERE loyalty.gaming_day(a.at) BETWEEN p_from_gaming_day AND p_to_gaming_day
     ORDER BY 3, 1, 10;
END
$$;
COMMENT ON FUNCTION loyalty.exception_report(date, date) IS
    'Exception report for the gaming days [p_from_gaming_day, p_to_gaming_day]: manual adds and adjustments, direct increments, reconciliations, redemption reversals, expiries, slip approvals and rejections, approved comps above the threshold with the points they captured and their REDEMPTION entries, admin API changes; each with initiator and approver. loyalty:audit staff and trusted back ends.';
CREATE OR REPLACE FUNCTION loyalty.verify_player_balance(p_player_id uuid)
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
CREATE OR REPLACE FUNCTION loyalty.verify_all_balances()
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
CREATE OR REPLACE FUNCTION loyalty.manual_reward_frequency(p_from timestamptz DEFAULT NULL, p_to timestamptz DEFAULT NULL,
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
CREATE OR REPLACE FUNCTION loyalty.reward_history(p_player_id uuid, p_from timestamptz, p_to timestamptz)
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
CREATE OR REPLACE FUNCTION loyalty.staff_activity(p_staff_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (kind text, at timestamptz, player_id uuid, points_change bigint, detail jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
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
    UNION ALL
    SELECT 'retry', r.at::timestamptz, r.player_id, NULL::bigint,
           jsonb_build_object('ledger_entry_id', r.ledger_entry_id, 'correlation_id', r.correlation_id)
      FROM loyalty.reward_replay r
     WHERE r.staff_id = p_staff_id AND r.at >= p_from AND r.at < p_to
    UNION ALL
    SELECT 'alert', a.created_at::timestamptz, a.player_id, NULL::bigint,
           jsonb_build_object('alert_id', a.id, 'kind', a.kind, 'severity', a.severity,
                              'acknowledged_at', a.acknowledged_at, 'acknowledged_by', a.acknowledged_by,
                              'details', a.details)
      FROM loyalty.alert a
     WHERE a.staff_id = p_staff_id AND a.created_at >= p_from AND a.created_at < p_to
    UNION ALL
    SELECT 'window', now(), NULL::uuid, NULL::bigint,
           jsonb_build_object('rate_count', w.rate_count, 'rate_window', w.rate_window,
                              'alert_count', w.alert_count, 'alert_window', w.alert_window)
      FROM loyalty.reward_window w WHERE w.staff_id = p_staff_id
    ORDER BY 2, 1;
END
$$;
COMMENT ON FUNCTION loyalty.staff_activity(uuid, timestamptz, timestamptz) IS
    'Runbook (rate limit and alert response): one staff member''s manual rewards, retries and alerts in [p_from, p_to), and their rate windows now.';
CREATE OR REPLACE FUNCTION loyalty.health_check()
RETURNS TABLE (kind text, severity text, subject text, alert_id bigint, new_alert boolean, details jsonb)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    c          loyalty.config%ROWTYPE;
    st         loyalty.health_state%ROWTYPE;
    v_started  timestamptz := clock_timestamp();
    v_found    jsonb := '[]';
    v_sweep    uuid[];
    v_players  uuid[];
    v_chained  uuid[];
    v_changed  uuid[];
    v_xmin     bigint := txid_snapshot_xmin(txid_current_snapshot());
    v_digest   text;
    v_full_tiers boolean;
    v_unacked  jsonb;
    f          record;
    v_id       bigint;
    v_count    integer := 0;
    -- On a hot standby (SPEC §18) the check reports what it finds and
    -- writes nothing: no alert, no chain position, no state.
    v_standby  boolean := pg_is_in_recovery();
    v_chains   jsonb;
BEGIN
    PERFORM loyalty.require_caller();
    IF v_standby THEN
        SELECT * INTO st FROM loyalty.health_state;
    ELSE
        -- One run at a time: the state row is the lock (a second caller
        -- waits, then sees the first run's alerts and raises no duplicates).
        INSERT INTO loyalty.health_state (singleton) VALUES (true) ON CONFLICT DO NOTHING;
        SELECT * INTO st FROM loyalty.health_state FOR UPDATE;
    END IF;
    SELECT * INTO c FROM loyalty.config;

    -- Closed slips still owed their points, older than the threshold.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PARTIAL_COMPLETION_STALE', 'severity', 'WARNING',
                   'fingerprint', 'PARTIAL_COMPLETION_STALE:' || s.rating_slip_id, 'subject', s.rating_slip_id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.rating_slip_id, 'end_time', s.end_time,
                                                 'age_seconds', floor(extract(epoch FROM v_started - s.end_time)),
                                                 'last_error', p.error_code)))
          FROM loyalty.partial_completion s
          LEFT JOIN loyalty.pending_accrual p ON p.rating_slip_id = s.rating_slip_id
         WHERE s.end_time < v_started - c.partial_stale_after),
        '[]');

    -- A slip that was paid but is still marked owed.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'PENDING_ROW_WRONG', 'severity', 'WARNING',
                   'fingerprint', 'PENDING_ROW_WRONG:' || p.rating_slip_id, 'subject', p.rating_slip_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('rating_slip_id', p.rating_slip_id, 'ledger_entry_id', l.id,
                                                 'failed_at', p.failed_at)))
          FROM loyalty.pending_accrual p
          JOIN loyalty.loyalty_ledger l
            ON l.player_id = p.player_id AND l.idempotency_key = 'gameplay:' || p.rating_slip_id::text
         WHERE p.resolved_at IS NULL),
        '[]');

    -- Slips held for a second person's approval for too long.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'APPROVAL_OVERDUE', 'severity', 'WARNING',
                   'fingerprint', 'APPROVAL_OVERDUE:' || s.id, 'subject', s.id::text,
                   'player_id', s.player_id,
                   'details', jsonb_build_object('rating_slip_id', s.id, 'held_since', s.end_time,
                                                 'closed_by', s.closed_by)))
          FROM loyalty.rating_slip s
         WHERE s.approval_status = 'HELD' AND s.end_time < v_started - c.approval_overdue_after),
        '[]');

    -- Players to verify: every player with a ledger entry written since the
    -- last run started (less a margin for transactions that commit late),
    -- every player whose balance row was written since (by a transaction
    -- that had not finished when the last run started: a change made behind
    -- the write path's back writes no ledger entry, but it writes the row),
    -- every player with an unresolved balance or chain alert, and the next
    -- slice of the rolling sweep, which reaches everyone.
    v_sweep := ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                      WHERE st.sweep_after IS NULL OR p.player_id > st.sweep_after
                      ORDER BY p.player_id LIMIT c.health_sweep_players);
    v_chained := v_sweep || ARRAY(SELECT a.player_id FROM loyalty.alert a
                                   WHERE a.kind = 'CHAIN_BROKEN' AND a.resolved_at IS NULL
                                     AND a.player_id IS NOT NULL);
    v_changed := ARRAY(SELECT DISTINCT l.player_id FROM loyalty.loyalty_ledger l
                        WHERE st.last_run_at IS NULL OR l.created_at >= st.last_run_at - interval '10 minutes')
        || ARRAY(SELECT p.player_id FROM loyalty.player_loyalty p
                  WHERE st.changed_since_xid IS NOT NULL
                    AND age(p.xmin) <= CASE WHEN v_standby THEN txid_snapshot_xmax(txid_current_snapshot())
                                            ELSE txid_current() END - st.changed_since_xid);
    v_players := v_chained || v_changed
        || ARRAY(SELECT a.player_id FROM loyalty.alert a
                  WHERE a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH', 'STANDING_MISMATCH') AND a.resolved_at IS NULL
                    AND a.player_id IS NOT NULL);
    v_players := ARRAY(SELECT DISTINCT u FROM unnest(v_players) u);
    v_chained := ARRAY(SELECT DISTINCT u FROM unnest(v_chained) u);
    v_changed := ARRAY(SELECT DISTINCT u FROM unnest(v_changed) u WHERE u <> ALL (v_chained));

    -- Stored balance or lifetime points that differ from the ledger
    -- (the kinds outside the balance left out of the sum, as in
    -- verify_player_balance).
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'BALANCE_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'BALANCE_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('current_balance', p.current_balance, 'ledger_balance', l.bal,
                                                 'lifetime_points', p.lifetime_points, 'ledger_lifetime', l.life)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(e.points_change)
                              FILTER (WHERE e.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k
                                                                    WHERE k.in_balance)), 0) AS bal,
                     coalesce(sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)), 0) AS life
                FROM loyalty.loyalty_ledger e WHERE e.player_id = u.player_id) l
         WHERE p.current_balance <> l.bal OR p.lifetime_points <> l.life),
        '[]');

    -- Tier state that the ledger does not give (SPEC §20): tier credits,
    -- qualification period, retained tier and tier, against the replay of
    -- the player's entries (loyalty.standing_check).
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'STANDING_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'STANDING_MISMATCH:' || u.player_id, 'subject', u.player_id::text,
                   'player_id', u.player_id,
                   'details', jsonb_build_object('standing', sc.standing, 'ledger_standing', sc.ledger_standing)))
          FROM unnest(v_players) u(player_id)
          CROSS JOIN LATERAL loyalty.standing_check(u.player_id) sc
         WHERE NOT sc.ok),
        '[]');

    -- Held points that are not the sum of the player's live holds
    -- (reference §15): for the players verified above.
    v_found := v_found || coalesce((
        SELECT jsonb_agg(jsonb_build_object(
                   'kind', 'HOLD_MISMATCH', 'severity', 'CRITICAL',
                   'fingerprint', 'HOLD_MISMATCH:' || p.player_id, 'subject', p.player_id::text,
                   'player_id', p.player_id,
                   'details', jsonb_build_object('held_points', p.held_points, 'live_hold_points', h.live)))
          FROM unnest(v_players) u(player_id)
          JOIN loyalty.player_loyalty p ON p.player_id = u.player_id
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(x.points), 0) AS live FROM loyalty.hold x
               WHERE x.player_id = u.player_id AND x.status IN ('PENDING_APPROVAL', 'ACTIVE')) h
         WHERE p.held_points <> h.live),
        '[]');

    -- Live holds past their deadline that two expiry sweeps (one a minute)
    -- should have released: expire_holds is not running.
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'HOLD_EXPIRY_LATE', 'severity', 'WARNING', 'fingerprint', 'HOLD_EXPIRY_LATE',
                   'subject', 'holds', 'player_id', NULL,
                   'details', jsonb_build_object('holds', count(*), 'oldest_expires_at', min(x.expires_at),
                                                 'sample', (array_agg(x.hold_id ORDER BY x.expires_at))[1:20])))
          FROM loyalty.hold x
         WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE') AND x.expires_at < v_started - interval '2 minutes'
        HAVING count(*) > 0),
        '[]');

    -- Hash chains (src/ledger/chain/): whole for the sweep slice and for
    -- players already alerted (so an alert resolves once the chain verifies
    -- again); for the other changed players, incrementally from where the
    -- last run verified each one. Every chain that verifies stores its head
    -- as the next run's position (chain_verified).
    SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') INTO v_chains FROM (
        SELECT u.player_id, v.*
          FROM unnest(v_chained) u(player_id)
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id) v
        UNION ALL
        SELECT u.player_id, v.*
          FROM unnest(v_changed) u(player_id)
          LEFT JOIN loyalty.chain_verified cv ON cv.player_id = u.player_id
          CROSS JOIN LATERAL loyalty.verify_ledger_chain_since(u.player_id, cv.seq, cv.row_hash) v) r;
    IF NOT v_standby THEN
        INSERT INTO loyalty.chain_verified AS cv (player_id, seq, row_hash)
        SELECT r.player_id, r.head_seq, r.head_hash
          FROM jsonb_to_recordset(v_chains) AS r(player_id uuid, ok boolean, head_seq bigint, head_hash text)
         WHERE r.ok
        ON CONFLICT (player_id) DO UPDATE
           SET seq = EXCLUDED.seq, row_hash = EXCLUDED.row_hash, verified_at = now();
    END IF;
    SELECT v_found || coalesce(jsonb_agg(jsonb_build_object(
               'kind', 'CHAIN_BROKEN', 'severity', 'CRITICAL',
               'fingerprint', 'CHAIN_BROKEN:' || r.player_id, 'subject', r.player_id::text,
               'player_id', r.player_id,
               'details', jsonb_build_object('break_seq', r.break_seq, 'break_kind', r.break_kind,
                                             'detail', r.detail))) FILTER (WHERE NOT r.ok),
           '[]')
      INTO v_found
      FROM jsonb_to_recordset(v_chains)
           AS r(player_id uuid, ok boolean, break_seq bigint, break_kind text, detail text);

    -- Stored tiers that disagree with the ladder: everyone when the ladder
    -- changed since the last full check or a drift alert is unresolved,
    -- else the players verified above. One finding for the whole ladder.
    SELECT md5(string_agg(t.tier || ':' || t.threshold_points, ',' ORDER BY t.threshold_points)
               || (SELECT cf.tier_basis FROM loyalty.config cf))
      INTO v_digest FROM loyalty.tier t;
    v_full_tiers := v_digest IS DISTINCT FROM st.ladder_digest
        OR EXISTS (SELECT 1 FROM loyalty.alert a WHERE a.kind = 'TIER_DRIFT' AND a.resolved_at IS NULL);
    v_found := v_found || coalesce((
        SELECT jsonb_build_array(jsonb_build_object(
                   'kind', 'TIER_DRIFT', 'severity', 'WARNING', 'fingerprint', 'TIER_DRIFT', 'subject', 'ladder',
                   'player_id', NULL,
                   'details', jsonb_build_object('players', count(*),
                                                 'sample', (array_agg(jsonb_build_object(
                                                     'player_id', d.player_id, 'tier', d.tier,
                                                     'ladder_tier', d.ladder_tier) ORDER BY d.player_id))[1:20])))
          FROM (SELECT p.player_id, p.tier,
                       loyalty.player_tier(p.lifetime_points, p.tier_credits, p.retained_tier, p.tier) AS ladder_tier
                  FROM loyalty.player_loyalty p
                 WHERE v_full_tiers OR p.player_id = ANY (v_players)) d
         WHERE d.tier <> d.ladder_tier
        HAVING count(*) > 0),
        '[]');

    -- Raise one alert per finding (none while one is unresolved) and report it.
    FOR f IN SELECT * FROM jsonb_to_recordset(v_found)
                 AS x(kind text, severity text, fingerprint text, subject text, player_id uuid, details jsonb)
    LOOP
        v_id := NULL;
        IF NOT v_standby THEN
            INSERT INTO loyalty.alert AS a (kind, severity, fingerprint, player_id, details)
            VALUES (f.kind, f.severity, f.fingerprint, f.player_id, f.details)
            ON CONFLICT (fingerprint) WHERE resolved_at IS NULL AND fingerprint IS NOT NULL DO NOTHING
            RETURNING a.id INTO v_id;
        END IF;
        new_alert := v_id IS NOT NULL;
        IF new_alert THEN
            PERFORM loyalty.announce_alert(v_id);
        ELSE
            SELECT a.id INTO v_id FROM loyalty.alert a WHERE a.fingerprint = f.fingerprint AND a.resolved_at IS NULL;
        END IF;
        kind := f.kind; severity := f.severity; subject := f.subject; alert_id := v_id; details := f.details;
        v_count := v_count + 1;
        RETURN NEXT;
    END LOOP;

    -- Resolve what this run checked and no longer found.
    IF NOT v_standby THEN
        UPDATE loyalty.alert a SET resolved_at = v_started
         WHERE a.resolved_at IS NULL AND a.fingerprint IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(v_found) x WHERE x ->> 'fingerprint' = a.fingerprint)
           AND (a.kind IN ('PARTIAL_COMPLETION_STALE', 'PENDING_ROW_WRONG', 'APPROVAL_OVERDUE', 'HOLD_EXPIRY_LATE')
                OR a.kind = 'TIER_DRIFT' AND v_full_tiers
                OR a.kind IN ('BALANCE_MISMATCH', 'HOLD_MISMATCH', 'STANDING_MISMATCH')
                   AND a.player_id = ANY (v_players)
                OR a.kind = 'CHAIN_BROKEN' AND a.player_id = ANY (v_chained));
    END IF;

    -- Open alerts nobody took on: reported, not alerted about again.
    SELECT jsonb_build_object('alerts', count(*), 'oldest', min(a.created_at),
                              'critical', count(*) FILTER (WHERE a.severity = 'CRITICAL')),
           CASE WHEN bool_or(a.severity = 'CRITICAL') THEN 'CRITICAL'
                WHEN bool_or(a.severity = 'WARNING') THEN 'WARNING' ELSE 'INFO' END
      INTO v_unacked, severity
      FROM loyalty.alert a
     WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
       AND a.created_at < v_started - c.alert_ack_overdue_after;
    IF (v_unacked ->> 'alerts')::bigint > 0 THEN
        kind := 'ALERT_UNACKNOWLEDGED'; subject := 'alerts'; alert_id := NULL; new_alert := false;
        details := v_unacked;
        v_count := v_count + 1;
        RETURN NEXT;
    END IF;

    IF v_standby THEN
        RETURN;
    END IF;
    UPDATE loyalty.health_state h
       SET last_run_at = v_started,
           sweep_after = CASE WHEN cardinality(v_sweep) < c.health_sweep_players THEN NULL
                              ELSE v_sweep[cardinality(v_sweep)] END,
           ladder_digest = CASE WHEN v_full_tiers THEN v_digest ELSE h.ladder_digest END,
           last_findings = v_count,
           changed_since_xid = v_xmin
     WHERE h.singleton;  -- the one row (and safeupdate refuses an UPDATE with no WHERE)
END
$$;
COMMENT ON FUNCTION loyalty.health_check() IS
    'Finds stale partial completions, paid slips marked owed, balance/ledger mismatches, tier standings the ledger does not give, held points that are not the live holds, holds past due and not expired, broken hash chains, tier drift, overdue approvals and unacknowledged alerts; one alert per finding while unresolved.';
CREATE OR REPLACE FUNCTION loyalty.metrics()
RETURNS TABLE (gaming_day date, slips_open bigint, slips_completed_today bigint, slips_held_today bigint,
               partial_completions bigint, oldest_partial_seconds bigint, rewards_today bigint,
               reward_points_today bigint, alerts_open_info bigint, alerts_open_warning bigint,
               alerts_open_critical bigint, notifications_pending bigint, last_health_check timestamptz,
               last_health_check_age_seconds bigint, holds_live bigint, points_held bigint,
               holds_past_due bigint, points_redeemed_today bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    c     loyalty.config%ROWTYPE;
    v_day date;
    v_day_start timestamptz;
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:view_all']);
    SELECT * INTO c FROM loyalty.config;
    v_day := loyalty.gaming_day(now());
    v_day_start := (v_day + c.gaming_day_start) AT TIME ZONE c.casino_timezone;
    RETURN QUERY
    SELECT v_day,
           (SELECT count(*) FROM loyalty.rating_slip s WHERE s.status = 'OPEN'),
           -- completed = paid: the day's gameplay entries (an index range, not a slip scan)
           (SELECT count(*) FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'GAMEPLAY' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day'),
           (SELECT count(*) FROM loyalty.rating_slip s
             WHERE s.approval_status = 'HELD' AND s.end_time >= v_day_start
               AND s.end_time < v_day_start + interval '1 day'),
           o.n, o.age,
           r.n, r.pts,
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'INFO'),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'WARNING'),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'CRITICAL'),
           (SELECT count(*) FROM loyalty.notification n WHERE n.delivered_at IS NULL),
           h.last_run_at::timestamptz,
           floor(extract(epoch FROM clock_timestamp() - h.last_run_at))::bigint,
           hl.n, hl.pts, hl.late,
           (SELECT coalesce(-sum(l.points_change), 0)::bigint FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'REDEMPTION' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day')
      FROM (SELECT count(*) AS n, floor(extract(epoch FROM clock_timestamp() - min(s.end_time)))::bigint AS age
              FROM loyalty.partial_completion s) o,
           (SELECT count(*) AS n, coalesce(sum(l.points_change), 0)::bigint AS pts
              FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.manual_reward)
               AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day') r,
           (SELECT count(*) AS n, coalesce(sum(x.points), 0)::bigint AS pts,
                   count(*) FILTER (WHERE x.expires_at <= clock_timestamp()) AS late
              FROM loyalty.hold x WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE')) hl
      LEFT JOIN loyalty.health_state h ON true;
END
$$;
COMMENT ON FUNCTION loyalty.metrics() IS
    'Dashboard: one row of the numbers an operator graphs (docs/monitoring.md).';

-- The staff permissions' registry (src/domain/permissions.rs): the staff
-- table's checks call it, the admin API's refusal says the rule from it.
CREATE FUNCTION loyalty.are_permissions(p_permissions text[]) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'are_permissions_wrapper';
CREATE FUNCTION loyalty.permissions_separated(p_permissions text[]) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'permissions_separated_wrapper';
CREATE FUNCTION loyalty.permissions()
RETURNS TABLE (permission text, lets text, grants_or_receives bool, reviews bool)
IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'permissions_wrapper';
REVOKE ALL ON FUNCTION loyalty.are_permissions, loyalty.permissions_separated, loyalty.permissions FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.permissions TO authenticated, service_role;
ALTER FUNCTION loyalty.permissions SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.are_permissions SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.permissions_separated SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION loyalty.permissions() IS
    'The staff permissions: what each lets a staff member do, whether it grants or receives points, whether it reviews (never held with one that grants or receives). The one list (src/domain/permissions.rs).';
ALTER TABLE loyalty.staff
    DROP CONSTRAINT staff_permissions_check,
    DROP CONSTRAINT staff_audit_separation_check,
    ADD CONSTRAINT staff_permissions_check CHECK (loyalty.are_permissions(permissions)),
    ADD CONSTRAINT staff_audit_separation_check CHECK (loyalty.permissions_separated(permissions));
COMMENT ON COLUMN loyalty.staff.permissions IS 'Granted permissions, each one of loyalty.permissions() (what it lets a staff member do); one that reviews is never held with one that grants or receives points: whoever reviews neither grants nor receives.';
CREATE OR REPLACE FUNCTION loyalty.upsert_staff(p_staff_id uuid, p_permissions text[] DEFAULT NULL,
                                     p_active boolean DEFAULT NULL, p_correlation_id text DEFAULT NULL)
RETURNS loyalty.staff
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_primary boolean := loyalty.require_primary();  -- first: a standby refuses before anything runs
    v_actor  text := loyalty.require_caller();
    v_corr   text := loyalty.resolve_correlation_id(p_correlation_id);
    v_before loyalty.staff;
    v_after  loyalty.staff;
    v_con    text;
BEGIN
    IF p_staff_id IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'p_staff_id is required', ERRCODE = 'PT422';
    END IF;
    SELECT * INTO v_before FROM loyalty.staff s WHERE s.staff_id = p_staff_id FOR UPDATE;
    BEGIN
        IF NOT FOUND THEN
            INSERT INTO loyalty.staff (staff_id, permissions, active)
            VALUES (p_staff_id, coalesce(p_permissions, '{}'), coalesce(p_active, true))
            RETURNING * INTO v_after;
        ELSE
            UPDATE loyalty.staff s
               SET permissions = coalesce(p_permissions, s.permissions), active = coalesce(p_active, s.active),
                   updated_at = now()
             WHERE s.staff_id = p_staff_id
            RETURNING * INTO v_after;
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
    RETURN v_after;
END
$$;
COMMENT ON FUNCTION loyalty.upsert_staff(uuid, text[], boolean, text) IS
    'Admin (trusted back ends): add a staff member or change their permissions or active flag; audited.';

-- Column comments name the registry instead of listing kinds (a list in a
-- comment drifts: the one on tier_credits left DIRECT_INCREMENT out).
COMMENT ON COLUMN loyalty.player_loyalty.lifetime_points IS 'All points ever earned (the entries whose kind earns, loyalty.ledger_kinds(), summed by loyalty.lifetime_credit); decides the tier. Spending and reversals never change it.';
COMMENT ON COLUMN loyalty.player_loyalty.last_earned_at IS 'When the player last earned points (an entry whose kind earns, loyalty.ledger_kinds()), kept by the write path: inactivity expiry counts from it.';
COMMENT ON COLUMN loyalty.player_loyalty.tier_credits IS 'Tier credits earned in tier_period (what an entry adds or takes is its kind''s tier_credits in loyalty.ledger_kinds(); never below 0); the tier under config.tier_basis = PERIOD.';
COMMENT ON COLUMN loyalty.loyalty_ledger.transaction_type IS 'The entry''s kind: one of loyalty.ledger_kinds(), which says what each kind is, earns and counts (src/domain/kinds.rs).';
COMMENT ON COLUMN loyalty.loyalty_ledger.event_type IS 'The event the entry records: its kind''s event_type in loyalty.ledger_kinds().';

-- Properties (SPEC §22): one enterprise, several casinos, one account per
-- player. The database becomes an enterprise with one property, MAIN,
-- whose settings are all the enterprise's (NULL falls back to
-- loyalty.config), so every 0.3.0 call works unchanged. New columns on the
-- big tables are added without a rewrite or a scan: a constant default
-- fills existing rows from the catalog (they were all at MAIN), then the
-- default becomes a fresh install's. Ledger entries written
-- before properties keep no property (their hashes cover none); their
-- gameplay counts at MAIN.
CREATE DOMAIN loyalty.property_code AS text
    CONSTRAINT property_code_check CHECK (VALUE ~ '^[A-Z0-9][A-Z0-9_-]{0,31}$');
COMMENT ON DOMAIN loyalty.property_code IS 'A property''s code: 1 to 32 of A-Z, 0-9, _ and -, starting with a letter or digit (LV-STRIP).';
CREATE TABLE loyalty.property (
    property_id     loyalty.property_code NOT NULL,
    name            text    NOT NULL CONSTRAINT property_name_check CHECK (name <> ''),
    time_zone       text    -- NULL (the enterprise's) passes; an unknown zone fails to convert
                    CONSTRAINT property_time_zone_check CHECK (time_zone <> '' AND (now() AT TIME ZONE time_zone) < 'infinity'),
    gaming_day_start time,
    active          boolean NOT NULL DEFAULT true,
    daily_approval_threshold_points bigint CONSTRAINT property_daily_approval_threshold_points_check
                    CHECK (daily_approval_threshold_points >= 0),
    cents_per_point numeric(12,4) CONSTRAINT property_cents_per_point_check CHECK (cents_per_point BETWEEN 0 AND 10000),
    max_redemption_points bigint CONSTRAINT property_max_redemption_points_check
                    CHECK (max_redemption_points BETWEEN 1 AND 1000000000000),
    redemption_approval_points bigint CONSTRAINT property_redemption_approval_points_check
                    CHECK (redemption_approval_points >= 0),
    seeded          boolean NOT NULL DEFAULT false,
    created_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    updated_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT property_pkey PRIMARY KEY (property_id)
);
COMMENT ON TABLE loyalty.property IS 'The enterprise''s properties (casinos). Each setting left NULL falls back to loyalty.config; the tier ladder, tier basis and expiry are the enterprise''s. Never deleted: made inactive.';
COMMENT ON COLUMN loyalty.property.property_id IS 'The property''s code (LV-STRIP); slips, holds, vouchers and ledger entries name it.';
COMMENT ON COLUMN loyalty.property.name IS 'The property''s name, for people.';
COMMENT ON COLUMN loyalty.property.time_zone IS 'IANA time zone its gaming days are computed in (NULL: config.casino_timezone).';
COMMENT ON COLUMN loyalty.property.gaming_day_start IS 'Local time its gaming day starts (NULL: config.gaming_day_start).';
COMMENT ON COLUMN loyalty.property.active IS 'An inactive property takes no new slip, reward, hold or redemption; what it started can still be finished.';
COMMENT ON COLUMN loyalty.property.daily_approval_threshold_points IS 'Daily four-eyes threshold of a player''s gameplay at this property on its gaming day (NULL: config.daily_approval_threshold_points).';
COMMENT ON COLUMN loyalty.property.cents_per_point IS 'What a point is worth in a comp here, in cents (NULL: config.cents_per_point).';
COMMENT ON COLUMN loyalty.property.max_redemption_points IS 'Most points one hold or redemption here may take (NULL: config.max_redemption_points).';
COMMENT ON COLUMN loyalty.property.redemption_approval_points IS 'A hold here of more points than this waits for a second person (NULL: config.redemption_approval_points).';
COMMENT ON COLUMN loyalty.property.seeded IS 'True while the row is as the install seeded it (MAIN); an owner edit clears it.';
COMMENT ON COLUMN loyalty.property.created_at IS 'Audit: when the property was added.';
COMMENT ON COLUMN loyalty.property.updated_at IS 'Audit: when the property last changed.';

INSERT INTO loyalty.property (property_id, name, seeded) VALUES ('MAIN', 'Main', true);
CREATE TRIGGER property_merge_seeded BEFORE INSERT ON loyalty.property
    FOR EACH ROW EXECUTE FUNCTION loyalty.merge_seeded_row();
CREATE TRIGGER property_seeded_row_edited BEFORE UPDATE ON loyalty.property
    FOR EACH ROW EXECUTE FUNCTION loyalty.seeded_row_edited();
CREATE TRIGGER property_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON loyalty.property
    FOR EACH STATEMENT EXECUTE FUNCTION loyalty.tier_ladder_changed();
SELECT pg_catalog.pg_extension_config_dump('loyalty.property', '');
CREATE TABLE loyalty.staff_property (
    staff_id    uuid    NOT NULL,
    property_id loyalty.property_code NOT NULL,
    permissions text[]  NOT NULL,
    updated_at  loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT staff_property_pkey PRIMARY KEY (staff_id, property_id),
    CONSTRAINT staff_property_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES loyalty.staff (staff_id),
    CONSTRAINT staff_property_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id)
);
COMMENT ON TABLE loyalty.staff_property IS 'Permissions a staff member holds at one property only (staff.permissions hold at every property). Inactive staff hold none anywhere.';
COMMENT ON COLUMN loyalty.staff_property.staff_id IS 'The staff member (loyalty.staff).';
COMMENT ON COLUMN loyalty.staff_property.property_id IS 'Where these permissions hold.';
COMMENT ON COLUMN loyalty.staff_property.permissions IS 'Permissions held at this property, each one of loyalty.permissions(); with the enterprise-wide ones, a reviewer there neither grants nor receives.';
COMMENT ON COLUMN loyalty.staff_property.updated_at IS 'Audit: when the row last changed.';
CREATE INDEX staff_property_property_idx ON loyalty.staff_property (property_id);
ALTER TABLE loyalty.staff_property
    ADD CONSTRAINT staff_property_permissions_check CHECK (loyalty.are_permissions(permissions)),
    ADD CONSTRAINT staff_property_audit_separation_check CHECK (loyalty.permissions_separated(permissions));
SELECT pg_catalog.pg_extension_config_dump('loyalty.staff_property', '');
ALTER TABLE loyalty.property        ENABLE ROW LEVEL SECURITY;
ALTER TABLE loyalty.staff_property  ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON loyalty.property TO anon, authenticated, service_role;
CREATE POLICY property_read ON loyalty.property FOR SELECT TO anon, authenticated, service_role USING (true);
GRANT SELECT ON loyalty.staff_property TO authenticated, service_role;
CREATE POLICY staff_property_read ON loyalty.staff_property FOR SELECT TO authenticated
    USING (staff_id = (SELECT loyalty.caller_uid())
           OR (SELECT loyalty.caller_has_permission('loyalty:view_all')));
CREATE POLICY staff_property_service ON loyalty.staff_property FOR SELECT TO service_role USING (true);

-- Where a row that names no property happened: the enterprise's only
-- active property. The default of the property columns of slips, holds and
-- vouchers, which the functions always set: it serves rows an owner writes
-- by hand, and calls of the previous version still in flight when an
-- update commits (a 0.3.0 database has one property).
CREATE FUNCTION loyalty.sole_property() RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_ids text[];
BEGIN
    SELECT array_agg(p.property_id::text ORDER BY p.property_id) INTO v_ids FROM loyalty.property p WHERE p.active;
    IF cardinality(v_ids) IS DISTINCT FROM 1 THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', ERRCODE = 'PT422',
            DETAIL = 'the enterprise has no single active property: name the property';
    END IF;
    RETURN v_ids[1];
END
$$;
COMMENT ON FUNCTION loyalty.sole_property() IS
    'Internal: the enterprise''s only active property (VALIDATION_ERROR when it has several or none); the default of the property columns.';
REVOKE ALL ON FUNCTION loyalty.sole_property FROM PUBLIC;
ALTER TABLE loyalty.rating_slip ADD COLUMN property_id text NOT NULL DEFAULT 'MAIN';
ALTER TABLE loyalty.rating_slip ALTER COLUMN property_id SET DEFAULT loyalty.sole_property();
ALTER TABLE loyalty.rating_slip
    ADD CONSTRAINT rating_slip_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id);
COMMENT ON COLUMN loyalty.rating_slip.property_id IS 'The property the play happened at: its gaming day, thresholds and staff decide the slip.';
ALTER TABLE loyalty.hold ADD COLUMN property_id text NOT NULL DEFAULT 'MAIN';
ALTER TABLE loyalty.hold ALTER COLUMN property_id SET DEFAULT loyalty.sole_property();
ALTER TABLE loyalty.hold
    ADD CONSTRAINT hold_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id);
COMMENT ON COLUMN loyalty.hold.property_id IS 'The property the comp is given at: its limits and staff decide the hold.';
ALTER TABLE loyalty.voucher ADD COLUMN property_id text NOT NULL DEFAULT 'MAIN';
ALTER TABLE loyalty.voucher ALTER COLUMN property_id SET DEFAULT loyalty.sole_property();
COMMENT ON COLUMN loyalty.voucher.property_id IS 'Where it was paid; an id pays once in the whole enterprise, wherever it is presented.';
ALTER TABLE loyalty.loyalty_ledger ADD COLUMN property_id text;
ALTER TABLE loyalty.alert ADD COLUMN property_id text;
COMMENT ON COLUMN loyalty.alert.property_id IS 'Where it happened (a held slip''s, a comp''s, a reward''s property); NULL for a finding of the whole enterprise (health_check).';
ALTER TABLE loyalty.notification ADD COLUMN property_id text;
COMMENT ON COLUMN loyalty.notification.property_id IS 'Where the event happened (a hold''s or an alert''s property); NULL for an enterprise event (a tier change, an expiry warning).';
COMMENT ON COLUMN loyalty.loyalty_ledger.gaming_day IS 'The gaming day when the entry was written: its property''s (time zone and day start), or the enterprise''s (loyalty.config) for an entry with no property.';
COMMENT ON COLUMN loyalty.loyalty_ledger.property_id IS 'Where it happened (loyalty.property); NULL for enterprise events (expiry, a tier roll, a reconciliation, a direct increment) and for entries written before 0.4.0, all at the one property the upgrade named MAIN.';
ALTER TABLE loyalty.player_loyalty ADD COLUMN gameplay_property text DEFAULT 'MAIN';
ALTER TABLE loyalty.player_loyalty ALTER COLUMN gameplay_property DROP DEFAULT;
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day IS 'Gaming day of the player''s last GAMEPLAY entry, at gameplay_property (the daily approval threshold counts within it).';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_day_points IS 'GAMEPLAY points posted at gameplay_property on gameplay_day, kept by the write path under the player''s lock.';
COMMENT ON COLUMN loyalty.player_loyalty.gameplay_property IS 'Property of the player''s last GAMEPLAY entry: gameplay_day_points counts there (a payment at another property counts its day from the ledger).';

-- Floor functions take p_property_id (default: the slip's or hold's
-- property, or the only one). A function dropped and made again would fail
-- a call already inside it: the update holds every table, such a call waits
-- inside for one, and once the update commits it looks its own definition
-- up by OID to form its result ("cache lookup failed for function"). So each
-- keeps its OID: the new definition is made beside it (an overload with the
-- added argument), then its arguments, body and comment move onto the old
-- catalog row and the new row is dropped. Grants, settings (plan_cache_mode),
-- extension membership and what depends on it stay; a call in flight ends
-- with the result columns it started with, which do not change.
CREATE FUNCTION loyalty.take_definition(p_name text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_keep oid;
    v_from oid;
    n      pg_catalog.pg_proc;
    v_drop text;
    v_comment text;
BEGIN
    -- the two overloads of p_name ('schema.function'): the one made before
    -- (fewer arguments) takes the definition of the one just made
    SELECT min(p.oid) FILTER (WHERE p.pronargs = r.lo), min(p.oid) FILTER (WHERE p.pronargs = r.hi)
      INTO v_keep, v_from
      FROM pg_catalog.pg_proc p,
           (SELECT min(q.pronargs) AS lo, max(q.pronargs) AS hi, count(*) AS k FROM pg_catalog.pg_proc q
             WHERE q.oid IN (SELECT x.oid FROM pg_catalog.pg_proc x
                              WHERE x.pronamespace = split_part(p_name, '.', 1)::regnamespace
                                AND x.proname = split_part(p_name, '.', 2))) r
     WHERE p.pronamespace = split_part(p_name, '.', 1)::regnamespace
       AND p.proname = split_part(p_name, '.', 2) AND r.k = 2 AND r.lo < r.hi;
    IF v_keep IS NULL OR v_from IS NULL THEN
        RAISE EXCEPTION 'take_definition: % has not exactly an old and a new overload', p_name;
    END IF;
    SELECT * INTO STRICT n FROM pg_catalog.pg_proc WHERE oid = v_from;
    v_drop := v_from::regprocedure::text;
    v_comment := pg_catalog.obj_description(v_from, 'pg_proc');
    EXECUTE 'DROP FUNCTION ' || v_drop;
    UPDATE pg_catalog.pg_proc o
       SET pronargs = n.pronargs, pronargdefaults = n.pronargdefaults, proargtypes = n.proargtypes,
           proallargtypes = n.proallargtypes, proargmodes = n.proargmodes, proargnames = n.proargnames,
           proargdefaults = n.proargdefaults, prosrc = n.prosrc, probin = n.probin, prosqlbody = n.prosqlbody
     WHERE o.oid = v_keep;
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', v_keep::regprocedure, v_comment);
END
$$;
CREATE FUNCTION loyalty."open_rating_slip"(
	"p_player_id" uuid,
	"p_game_type" TEXT,
	"p_average_bet" NUMERIC,
	"p_visit_id" uuid DEFAULT NULL,
	"p_session_id" uuid DEFAULT NULL,
	"p_start_time" timestamp with time zone DEFAULT now(),
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"id" uuid, 
	"player_id" uuid, 
	"visit_id" uuid, 
	"session_id" uuid, 
	"game_type" TEXT, 
	"average_bet" NUMERIC, 
	"start_time" timestamp with time zone, 
	"end_time" timestamp with time zone, 
	"status" TEXT, 
	"duration_seconds" INT, 
	"points_owed" bigint, 
	"accrued_ledger_id" bigint, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'open_rating_slip_wrapper';
CREATE FUNCTION loyalty."update_rating_slip_bet"(
	"p_slip_id" uuid,
	"p_average_bet" NUMERIC,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"id" uuid, 
	"player_id" uuid, 
	"visit_id" uuid, 
	"session_id" uuid, 
	"game_type" TEXT, 
	"average_bet" NUMERIC, 
	"start_time" timestamp with time zone, 
	"end_time" timestamp with time zone, 
	"status" TEXT, 
	"duration_seconds" INT, 
	"points_owed" bigint, 
	"accrued_ledger_id" bigint, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'update_rating_slip_bet_wrapper';
CREATE FUNCTION loyalty."complete_rating_slip"(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_atomic" bool DEFAULT false,
	"p_end_time" timestamp with time zone DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"status" TEXT, 
	"slip_id" uuid, 
	"player_id" uuid, 
	"visit_id" uuid, 
	"session_id" uuid, 
	"game_type" TEXT, 
	"average_bet" NUMERIC, 
	"start_time" timestamp with time zone, 
	"end_time" timestamp with time zone, 
	"duration_seconds" INT, 
	"ledger_entry_id" bigint, 
	"points_earned" bigint, 
	"balance_before" bigint, 
	"balance_after" bigint, 
	"tier_before" TEXT, 
	"tier_after" TEXT, 
	"idempotent_hit" bool, 
	"error_code" TEXT, 
	"error_message" TEXT, 
	"correlation_id" TEXT, 
	"recovery_needed" bool 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'complete_rating_slip_wrapper';
CREATE FUNCTION loyalty."complete_rating_slips"(
	"p_slip_ids" uuid[],
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_atomic" bool DEFAULT false,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ordinal" INT, 
	"slip_id" uuid, 
	"status" TEXT, 
	"player_id" uuid, 
	"ledger_entry_id" bigint, 
	"points_earned" bigint, 
	"balance_after" bigint, 
	"tier_after" TEXT, 
	"idempotent_hit" bool, 
	"error_code" TEXT, 
	"error_message" TEXT, 
	"recovery_needed" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'complete_rating_slips_wrapper';
CREATE FUNCTION loyalty."approve_slip"(
	"p_slip_id" uuid,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint, 
	"points_earned" bigint, 
	"balance_before" bigint, 
	"balance_after" bigint, 
	"tier_before" TEXT, 
	"tier_after" TEXT, 
	"idempotent_hit" bool, 
	"rating_slip_id" uuid, 
	"correlation_id" TEXT, 
	"status" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'approve_slip_wrapper';
CREATE FUNCTION loyalty."reject_slip"(
	"p_slip_id" uuid,
	"p_reason" TEXT,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"rating_slip_id" uuid, 
	"approval_status" TEXT, 
	"decided_by" uuid, 
	"decided_at" timestamp with time zone, 
	"decision_reason" TEXT, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'reject_slip_wrapper';
CREATE FUNCTION loyalty."manual_reward"(
	"p_player_id" uuid,
	"p_points" bigint,
	"p_reason" TEXT,
	"p_staff_id" uuid,
	"p_rating_slip_id" uuid DEFAULT NULL,
	"p_reward_id" TEXT DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint, 
	"player_id" uuid, 
	"points_change" bigint, 
	"transaction_type" TEXT, 
	"balance_before" bigint, 
	"balance_after" bigint, 
	"tier_before" TEXT, 
	"tier_after" TEXT, 
	"idempotent_hit" bool, 
	"row_locked" bool, 
	"idempotency_key" TEXT, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'manual_reward_wrapper';
CREATE FUNCTION loyalty."hold_points"(
	"p_player_id" uuid,
	"p_points" bigint,
	"p_outlet" TEXT,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_request_id" TEXT DEFAULT NULL,
	"p_ttl" interval DEFAULT '30 minutes',
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid, 
	"player_id" uuid, 
	"status" TEXT, 
	"points" bigint, 
	"captured_points" bigint, 
	"outlet" TEXT, 
	"comp_value_cents" bigint, 
	"expires_at" timestamp with time zone, 
	"ledger_entry_id" bigint, 
	"available_before" bigint, 
	"available_after" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'hold_points_wrapper';
CREATE FUNCTION loyalty."redeem_points"(
	"p_player_id" uuid,
	"p_points" bigint,
	"p_outlet" TEXT,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_request_id" TEXT DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid, 
	"player_id" uuid, 
	"status" TEXT, 
	"points" bigint, 
	"captured_points" bigint, 
	"outlet" TEXT, 
	"comp_value_cents" bigint, 
	"expires_at" timestamp with time zone, 
	"ledger_entry_id" bigint, 
	"available_before" bigint, 
	"available_after" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'redeem_points_wrapper';
CREATE FUNCTION loyalty."approve_hold"(
	"p_hold_id" uuid,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid, 
	"player_id" uuid, 
	"status" TEXT, 
	"points" bigint, 
	"captured_points" bigint, 
	"outlet" TEXT, 
	"comp_value_cents" bigint, 
	"expires_at" timestamp with time zone, 
	"ledger_entry_id" bigint, 
	"available_before" bigint, 
	"available_after" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'approve_hold_wrapper';
CREATE FUNCTION loyalty."capture_hold"(
	"p_hold_id" uuid,
	"p_points" bigint DEFAULT NULL,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid, 
	"player_id" uuid, 
	"status" TEXT, 
	"points" bigint, 
	"captured_points" bigint, 
	"outlet" TEXT, 
	"comp_value_cents" bigint, 
	"expires_at" timestamp with time zone, 
	"ledger_entry_id" bigint, 
	"available_before" bigint, 
	"available_after" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'capture_hold_wrapper';
CREATE FUNCTION loyalty."void_hold"(
	"p_hold_id" uuid,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"hold_id" uuid, 
	"player_id" uuid, 
	"status" TEXT, 
	"points" bigint, 
	"captured_points" bigint, 
	"outlet" TEXT, 
	"comp_value_cents" bigint, 
	"expires_at" timestamp with time zone, 
	"ledger_entry_id" bigint, 
	"available_before" bigint, 
	"available_after" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'void_hold_wrapper';
CREATE FUNCTION loyalty."reverse_redemption"(
	"p_ledger_entry_id" bigint,
	"p_reason" TEXT,
	"p_staff_id" uuid DEFAULT NULL,
	"p_correlation_id" TEXT DEFAULT NULL,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ledger_entry_id" bigint, 
	"reverses_entry_id" bigint, 
	"hold_id" uuid, 
	"player_id" uuid, 
	"points_change" bigint, 
	"balance_before" bigint, 
	"balance_after" bigint, 
	"idempotent_hit" bool, 
	"correlation_id" TEXT 
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'reverse_redemption_wrapper';
CREATE FUNCTION loyalty."list_held_slips"(
	"p_limit" INT DEFAULT 100,
	"p_property_id" TEXT DEFAULT NULL
) RETURNS TABLE (
	"rating_slip_id" uuid, 
	"player_id" uuid, 
	"game_type" TEXT, 
	"average_bet" NUMERIC, 
	"duration_seconds" INT, 
	"points" bigint, 
	"approval_threshold_points" bigint, 
	"opened_by" uuid, 
	"closed_by" uuid, 
	"held_since" timestamp with time zone 
)
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'list_held_slips_wrapper';
SELECT loyalty.take_definition(f) FROM unnest(ARRAY['loyalty.open_rating_slip', 'loyalty.update_rating_slip_bet', 'loyalty.complete_rating_slip', 'loyalty.complete_rating_slips', 'loyalty.approve_slip', 'loyalty.reject_slip', 'loyalty.manual_reward', 'loyalty.hold_points', 'loyalty.redeem_points', 'loyalty.approve_hold', 'loyalty.capture_hold', 'loyalty.void_hold', 'loyalty.reverse_redemption', 'loyalty.list_held_slips']) f;
CREATE FUNCTION loyalty."require_caller_at"(
	"p_permissions" TEXT[],
	"p_property_id" TEXT
) RETURNS TEXT
STABLE SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, loyalty, pg_temp
LANGUAGE c
AS 'casino_loyalty-@CARGO_VERSION@', 'require_caller_at_wrapper';
CREATE OR REPLACE FUNCTION loyalty.property_gaming_day(p_property_id text, p_at timestamptz) RETURNS date
LANGUAGE sql STABLE SET search_path = pg_catalog, loyalty, pg_temp
AS $$
    SELECT ((p_at AT TIME ZONE coalesce(p.time_zone, c.casino_timezone))
            - (coalesce(p.gaming_day_start, c.gaming_day_start) - time '00:00'))::date
      FROM loyalty.config c JOIN loyalty.property p ON p.property_id = p_property_id
$$;
COMMENT ON FUNCTION loyalty.property_gaming_day(text, timestamptz) IS
    'A property''s gaming day of p_at (its time zone and day start, else the enterprise''s); NULL for no such property.';
CREATE OR REPLACE FUNCTION loyalty.merge_seeded_row() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- The dumped row replaces the seeded one whole: every column, including
    -- those a later version adds, with nothing to list here.
    IF TG_TABLE_NAME = 'tier' THEN
        DELETE FROM loyalty.tier WHERE tier = NEW.tier;
    ELSIF TG_TABLE_NAME = 'game_settings' THEN
        DELETE FROM loyalty.game_settings WHERE game_type = NEW.game_type;
    ELSIF TG_TABLE_NAME = 'config' THEN
        DELETE FROM loyalty.config WHERE singleton = NEW.singleton;
    ELSIF TG_TABLE_NAME = 'property' THEN
        DELETE FROM loyalty.property WHERE property_id = NEW.property_id;
    END IF;
    RETURN NEW;
END
$$;
CREATE OR REPLACE FUNCTION loyalty.upsert_staff(p_staff_id uuid, p_permissions text[] DEFAULT NULL,
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
CREATE OR REPLACE FUNCTION loyalty.upsert_property(p_property_id text, p_name text DEFAULT NULL,
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
CREATE OR REPLACE FUNCTION loyalty.exception_report(p_from_gaming_day date, p_to_gaming_day date,
                                         p_property_id text DEFAULT NULL)
RETURNS TABLE (event text, gaming_day date, at timestamptz, player_id uuid, initiator text, approver text,
               amount bigint, reason text, correlation_id text, reference text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller_at(ARRAY['loyalty:audit'], p_property_id);
    IF p_property_id IS NOT NULL AND NOT EXISTS (SELECT FROM loyalty.property p WHERE p.property_id = p_property_id) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such property', ERRCODE = 'PT422';
    END IF;
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    -- manual adds and adjustments, reconciliations, reversals, expiries,
    -- direct increments: the ledger's own rows of every kind the registry
    -- calls an exception (src/domain/kinds.rs; a gaming day lies within
    -- three days of its rows' UTC dates, so the created_at index narrows
    -- the scan)
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), NULL::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || coalesce(' reverses ledger:' || l.reverses_entry_id, '')
      FROM loyalty.loyalty_ledger l
     WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.exception)
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
       AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
       AND (p_property_id IS NULL OR l.property_id = p_property_id)
    UNION ALL
    -- held slips decided by a second person
    SELECT 'SLIP_' || s.approval_status::text, loyalty.property_gaming_day(s.property_id, s.decided_at),
           s.decided_at::timestamptz,
           s.player_id, s.closed_by::text, s.decided_by::text, l.points_change, s.decision_reason,
           s.correlation_id, 'slip:' || s.id
      FROM loyalty.rating_slip s
      LEFT JOIN loyalty.loyalty_ledger l ON l.player_id = s.player_id AND l.id = s.accrued_ledger_id
     WHERE s.approval_status IN ('APPROVED', 'REJECTED')
       AND loyalty.property_gaming_day(s.property_id, s.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR s.property_id = p_property_id)
    UNION ALL
    -- comps above the approval threshold, approved by a second person,
    -- with what moved: the points captured (0 while none were, and for a
    -- hold voided or expired), the hold's state in the reference
    SELECT 'HOLD_APPROVED', loyalty.property_gaming_day(h.property_id, h.approved_at), h.approved_at::timestamptz,
           h.player_id,
           h.staff_id::text, h.approved_by::text, -coalesce(h.captured_points, 0), h.reason, h.correlation_id,
           'hold:' || h.hold_id || ' ' || h.status::text
      FROM loyalty.hold h
     WHERE h.approved_by IS NOT NULL
       AND loyalty.property_gaming_day(h.property_id, h.approved_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR h.property_id = p_property_id)
    UNION ALL
    -- and the REDEMPTION entries that captured those comps
    SELECT l.transaction_type::text, l.gaming_day, l.created_at::timestamptz, l.player_id,
           coalesce(l.staff_id::text, l.source), h.approved_by::text, l.points_change, l.reason, l.correlation_id,
           'ledger:' || l.id || ' hold:' || h.hold_id
      FROM loyalty.hold h
      JOIN loyalty.loyalty_ledger l ON l.player_id = h.player_id AND l.id = h.ledger_entry_id
     WHERE h.approved_by IS NOT NULL
       AND l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR h.property_id = p_property_id)
    UNION ALL
    -- every change made through the admin API
    SELECT 'ADMIN_' || upper(a.action), loyalty.gaming_day(a.at), a.at::timestamptz, NULL::uuid, a.actor,
           NULL::text, NULL::bigint, NULL::text, a.correlation_id, a.target
      FROM loyalty.admin_audit a
     WHERE loyalty.gaming_day(a.at) BETWEEN p_from_gaming_day AND p_to_gaming_day
       AND (p_property_id IS NULL OR a.target = 'property:' || p_property_id
            OR starts_with(a.target, 'property:' || p_property_id || ' game:')
            OR (starts_with(a.target, 'staff:') AND split_part(a.target, '@', 2) = p_property_id))
     ORDER BY 3, 1, 10;
END
$$;
COMMENT ON FUNCTION loyalty.exception_report(date, date, text) IS
    'Exception report for the gaming days [p_from_gaming_day, p_to_gaming_day] (at p_property_id, or everywhere): manual adds and adjustments, direct increments, reconciliations, redemption reversals, expiries, slip approvals and rejections, approved comps above the threshold with the points they captured and their REDEMPTION entries, admin API changes; each with initiator and approver. loyalty:audit staff (of that property, or of every property) and trusted back ends.';
CREATE OR REPLACE FUNCTION loyalty.property_summary(p_from_gaming_day date, p_to_gaming_day date)
RETURNS TABLE (property_id text, points_earned bigint, points_redeemed bigint, redeemed_from jsonb,
               points_expired bigint, comp_value_cents bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
BEGIN
    PERFORM loyalty.require_caller(ARRAY['loyalty:audit']);
    IF p_from_gaming_day IS NULL OR p_to_gaming_day IS NULL OR p_from_gaming_day > p_to_gaming_day
       OR NOT isfinite(p_from_gaming_day) OR NOT isfinite(p_to_gaming_day) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR',
            DETAIL = 'give finite gaming days p_from_gaming_day <= p_to_gaming_day (both included)', ERRCODE = 'PT422';
    END IF;
    RETURN QUERY
    WITH day AS (
        -- the range's entries: a gaming day lies within three days of its
        -- rows' UTC dates, so the created_at index narrows the scan
        SELECT l.*, l.property_id AS place
          FROM loyalty.loyalty_ledger l
         WHERE l.gaming_day BETWEEN p_from_gaming_day AND p_to_gaming_day
           AND l.created_at >= (p_from_gaming_day - 3)::timestamp AT TIME ZONE 'UTC'
           AND l.created_at < (p_to_gaming_day + 4)::timestamp AT TIME ZONE 'UTC'
    ),
    spent AS (
        -- each redemption (+) and reversal (-) in the range, with the
        -- redemption whose earnings split it
        SELECT d.place, d.player_id, coalesce(d.reverses_entry_id, d.id) AS redemption,
               -d.points_change AS points
          FROM day d WHERE d.transaction_type IN ('REDEMPTION', 'REDEMPTION_REVERSAL')
    ),
    earned_before AS (
        -- what each such redemption's player had earned at each property
        -- before it
        SELECT s.redemption, coalesce(e.property_id, '') AS earned_at,
               sum(loyalty.lifetime_credit(e.transaction_type, e.points_change)) AS earned
          FROM (SELECT DISTINCT x.player_id, x.redemption FROM spent x) s
          JOIN loyalty.loyalty_ledger r ON r.player_id = s.player_id AND r.id = s.redemption
          JOIN loyalty.loyalty_ledger e ON e.player_id = s.player_id AND e.seq < r.seq
         WHERE loyalty.lifetime_credit(e.transaction_type, e.points_change) > 0
         GROUP BY 1, 2
    ),
    split AS (
        SELECT s.place, b.earned_at, s.points,
               (s.points * b.earned) / sum(b.earned) OVER w AS share,
               row_number() OVER (PARTITION BY s.place, s.redemption, s.points ORDER BY b.earned DESC, b.earned_at) AS rank,
               s.redemption
          FROM spent s JOIN earned_before b ON b.redemption = s.redemption
        WINDOW w AS (PARTITION BY s.place, s.redemption, s.points)
    ),
    settled AS (
        -- whole points; what the truncation left goes to the largest share
        SELECT x.place, x.earned_at,
               sum(trunc(x.share) + CASE WHEN x.rank = 1 THEN x.points - r.whole ELSE 0 END)::bigint AS points
          FROM split x
          JOIN (SELECT y.place, y.redemption, y.points, sum(trunc(y.share)) AS whole
                  FROM split y GROUP BY 1, 2, 3) r
            ON r.place IS NOT DISTINCT FROM x.place AND r.redemption = x.redemption AND r.points = x.points
         GROUP BY 1, 2
        UNION ALL
        -- a redemption whose player had earned nothing before it
        SELECT s.place, '', sum(s.points)::bigint
          FROM spent s WHERE NOT EXISTS (SELECT FROM earned_before b WHERE b.redemption = s.redemption)
         GROUP BY 1
    ),
    places AS (
        SELECT d.place FROM day d
        UNION
        SELECT h.property_id::text FROM loyalty.hold h
         WHERE h.status = 'CAPTURED'
           AND loyalty.property_gaming_day(h.property_id, h.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day
    )
    SELECT pl.place,
           (SELECT coalesce(sum(loyalty.lifetime_credit(d.transaction_type, d.points_change)), 0)::bigint
              FROM day d WHERE d.place IS NOT DISTINCT FROM pl.place),
           (SELECT coalesce(sum(s.points), 0)::bigint FROM spent s WHERE s.place IS NOT DISTINCT FROM pl.place),
           (SELECT coalesce(jsonb_object_agg(t.earned_at, t.points), '{}'::jsonb)
              FROM (SELECT x.earned_at, sum(x.points) AS points FROM settled x
                     WHERE x.place IS NOT DISTINCT FROM pl.place GROUP BY 1 HAVING sum(x.points) <> 0) t),
           (SELECT coalesce(-sum(d.points_change), 0)::bigint
              FROM day d WHERE d.place IS NOT DISTINCT FROM pl.place AND d.transaction_type = 'EXPIRY'),
           (SELECT coalesce(sum(h.comp_value_cents), 0)::bigint FROM loyalty.hold h
             WHERE h.status = 'CAPTURED' AND h.property_id = pl.place
               AND loyalty.property_gaming_day(h.property_id, h.decided_at) BETWEEN p_from_gaming_day AND p_to_gaming_day)
      FROM places pl
     ORDER BY 1 NULLS LAST;
END
$$;
COMMENT ON FUNCTION loyalty.property_summary(date, date) IS
    'Per property, over its gaming days [p_from_gaming_day, p_to_gaming_day]: points earned, redeemed (net of reversals) and where the redeemed points were earned (redeemed_from: points per earning property, split in proportion to what the player had earned at each before the redemption), expired (the row with no property: an enterprise event), and the value of the comps captured. loyalty:audit staff of every property and trusted back ends.';
CREATE OR REPLACE FUNCTION loyalty.announce_alert(p_alert_id bigint) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO loyalty.notification (kind, player_id, alert_id, payload, property_id)
    SELECT 'ALERT', a.player_id, a.id, jsonb_build_object('alert_kind', a.kind, 'severity', a.severity),
           a.property_id
      FROM loyalty.alert a WHERE a.id = p_alert_id;
    -- Sent on commit only; a notification proves nothing (anyone may
    -- NOTIFY), so it carries the id and a listener reads the row.
    PERFORM pg_notify('loyalty_alert', jsonb_build_object('alert_id', p_alert_id)::text);
END
$$;
COMMENT ON FUNCTION loyalty.announce_alert(bigint) IS
    'Internal: the outbox row and wake-up of a new alert.';
CREATE OR REPLACE FUNCTION loyalty.metrics(p_property_id text DEFAULT NULL)
RETURNS TABLE (gaming_day date, slips_open bigint, slips_completed_today bigint, slips_held_today bigint,
               partial_completions bigint, oldest_partial_seconds bigint, rewards_today bigint,
               reward_points_today bigint, alerts_open_info bigint, alerts_open_warning bigint,
               alerts_open_critical bigint, notifications_pending bigint, last_health_check timestamptz,
               last_health_check_age_seconds bigint, holds_live bigint, points_held bigint,
               holds_past_due bigint, points_redeemed_today bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, loyalty, pg_temp
AS $$
DECLARE
    v_day date;
    v_day_start timestamptz;
BEGIN
    -- one property's figures on its gaming day, for its staff; or the whole
    -- enterprise's on the enterprise's day, for staff of every property
    PERFORM loyalty.require_caller_at(ARRAY['loyalty:view_all'], p_property_id);
    IF p_property_id IS NOT NULL AND NOT EXISTS (SELECT FROM loyalty.property p WHERE p.property_id = p_property_id) THEN
        RAISE EXCEPTION USING MESSAGE = 'VALIDATION_ERROR', DETAIL = 'no such property', ERRCODE = 'PT422';
    END IF;
    SELECT CASE WHEN p_property_id IS NULL THEN loyalty.gaming_day(now())
                ELSE loyalty.property_gaming_day(p_property_id, now()) END INTO v_day;
    SELECT (v_day + coalesce(p.gaming_day_start, c.gaming_day_start)) AT TIME ZONE coalesce(p.time_zone, c.casino_timezone)
      INTO v_day_start
      FROM loyalty.config c LEFT JOIN loyalty.property p ON p.property_id = p_property_id;
    RETURN QUERY
    SELECT v_day,
           (SELECT count(*) FROM loyalty.rating_slip s WHERE s.status = 'OPEN'
                                                         AND (p_property_id IS NULL OR s.property_id = p_property_id)),
           -- completed = paid: the day's gameplay entries (an index range, not a slip scan)
           (SELECT count(*) FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'GAMEPLAY' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day'
               AND (p_property_id IS NULL OR l.property_id = p_property_id)),
           (SELECT count(*) FROM loyalty.rating_slip s
             WHERE s.approval_status = 'HELD' AND s.end_time >= v_day_start
               AND s.end_time < v_day_start + interval '1 day'
               AND (p_property_id IS NULL OR s.property_id = p_property_id)),
           o.n, o.age,
           r.n, r.pts,
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'INFO'
                                                   AND (p_property_id IS NULL OR a.property_id = p_property_id)),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'WARNING'
                                                   AND (p_property_id IS NULL OR a.property_id = p_property_id)),
           (SELECT count(*) FROM loyalty.alert a WHERE a.acknowledged_at IS NULL AND a.resolved_at IS NULL
                                                   AND a.severity = 'CRITICAL'
                                                   AND (p_property_id IS NULL OR a.property_id = p_property_id)),
           (SELECT count(*) FROM loyalty.notification n WHERE n.delivered_at IS NULL
                                                          AND (p_property_id IS NULL OR n.property_id = p_property_id)),
           h.last_run_at::timestamptz,
           floor(extract(epoch FROM clock_timestamp() - h.last_run_at))::bigint,
           hl.n, hl.pts, hl.late,
           (SELECT coalesce(-sum(l.points_change), 0)::bigint FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type = 'REDEMPTION' AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day'
               AND (p_property_id IS NULL OR l.property_id = p_property_id))
      FROM (SELECT count(*) AS n, floor(extract(epoch FROM clock_timestamp() - min(s.end_time)))::bigint AS age
              FROM loyalty.partial_completion s
             WHERE p_property_id IS NULL
                OR EXISTS (SELECT FROM loyalty.rating_slip x WHERE x.id = s.rating_slip_id
                                                              AND x.property_id = p_property_id)) o,
           (SELECT count(*) AS n, coalesce(sum(l.points_change), 0)::bigint AS pts
              FROM loyalty.loyalty_ledger l
             WHERE l.transaction_type IN (SELECT k.kind FROM loyalty.ledger_kinds() k WHERE k.manual_reward)
               AND l.gaming_day = v_day
               AND l.created_at >= v_day_start - interval '1 day'
               AND (p_property_id IS NULL OR l.property_id = p_property_id)) r,
           (SELECT count(*) AS n, coalesce(sum(x.points), 0)::bigint AS pts,
                   count(*) FILTER (WHERE x.expires_at <= clock_timestamp()) AS late
              FROM loyalty.hold x WHERE x.status IN ('PENDING_APPROVAL', 'ACTIVE')
                                    AND (p_property_id IS NULL OR x.property_id = p_property_id)) hl
      LEFT JOIN loyalty.health_state h ON true;
END
$$;
COMMENT ON FUNCTION loyalty.metrics(text) IS
    'Dashboard: one row of the numbers an operator graphs (docs/monitoring.md); with p_property_id, that property''s on its gaming day (view_all staff of that property).';
CREATE OR REPLACE FUNCTION loyalty.staff_activity(p_staff_id uuid, p_from timestamptz, p_to timestamptz,
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
CREATE TABLE loyalty.property_game (
    property_id     loyalty.property_code NOT NULL,
    game_type       text    NOT NULL,
    min_average_bet numeric(14,4),
    max_average_bet numeric(14,4),
    approval_threshold_points bigint CONSTRAINT property_game_approval_threshold_points_check
                    CHECK (approval_threshold_points >= 0),
    updated_at      loyalty.finite_timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT property_game_pkey PRIMARY KEY (property_id, game_type),
    CONSTRAINT property_game_property_id_fkey FOREIGN KEY (property_id) REFERENCES loyalty.property (property_id),
    CONSTRAINT property_game_game_type_fkey FOREIGN KEY (game_type) REFERENCES loyalty.game_settings (game_type)
        ON DELETE CASCADE,
    CONSTRAINT property_game_bet_range_check
        CHECK (min_average_bet > 0 AND max_average_bet > 0 AND min_average_bet <= max_average_bet)
);
COMMENT ON TABLE loyalty.property_game IS 'A property''s own table limits and slip approval threshold for a game; NULL is the game''s (game_settings). Limits narrow the game''s, never widen them.';
COMMENT ON COLUMN loyalty.property_game.property_id IS 'The property.';
COMMENT ON COLUMN loyalty.property_game.game_type IS 'The game (game_settings).';
COMMENT ON COLUMN loyalty.property_game.min_average_bet IS 'The smallest average bet at this property''s tables (at least the game''s).';
COMMENT ON COLUMN loyalty.property_game.max_average_bet IS 'The largest average bet at this property''s tables (at most the game''s).';
COMMENT ON COLUMN loyalty.property_game.approval_threshold_points IS 'Four-eyes rule at this property: a slip earning more is held; snapshotted onto each slip at open.';
COMMENT ON COLUMN loyalty.property_game.updated_at IS 'Audit: when the row last changed.';
CREATE INDEX property_game_game_type_idx ON loyalty.property_game (game_type);
SELECT pg_catalog.pg_extension_config_dump('loyalty.property_game', '');
ALTER TABLE loyalty.property_game   ENABLE ROW LEVEL SECURITY;
GRANT SELECT ON loyalty.property_game TO anon, authenticated, service_role;
CREATE POLICY property_game_read ON loyalty.property_game FOR SELECT TO anon, authenticated, service_role USING (true);
CREATE OR REPLACE FUNCTION loyalty.upsert_property_game(p_property_id text, p_game_type text,
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
REVOKE ALL ON FUNCTION loyalty.upsert_property_game FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.upsert_property_game TO service_role;
SELECT loyalty.take_definition('loyalty.upsert_staff');
SELECT loyalty.take_definition('loyalty.metrics');
SELECT loyalty.take_definition('loyalty.staff_activity');
SELECT loyalty.take_definition('loyalty.exception_report');
REVOKE ALL ON FUNCTION loyalty.property_gaming_day, loyalty.upsert_property, loyalty.require_caller_at,
    loyalty.property_summary FROM PUBLIC;
GRANT EXECUTE ON FUNCTION loyalty.upsert_property TO service_role;
GRANT EXECUTE ON FUNCTION loyalty.property_summary TO authenticated, service_role;
-- the loyalty_api wrappers: refresh_api makes each changed one again beside
-- the old, which takes its definition as the functions did
SELECT loyalty.refresh_api();
SELECT loyalty.take_definition(f) FROM unnest(ARRAY['loyalty_api.open_rating_slip', 'loyalty_api.update_rating_slip_bet', 'loyalty_api.complete_rating_slip', 'loyalty_api.complete_rating_slips', 'loyalty_api.approve_slip', 'loyalty_api.reject_slip', 'loyalty_api.manual_reward', 'loyalty_api.hold_points', 'loyalty_api.redeem_points', 'loyalty_api.approve_hold', 'loyalty_api.capture_hold', 'loyalty_api.void_hold', 'loyalty_api.reverse_redemption', 'loyalty_api.list_held_slips']) f;
DROP FUNCTION loyalty.take_definition(text);
