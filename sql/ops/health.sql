-- Self-detection (docs/reference.md §10, docs/runbook.md §9): health_check()
-- finds what would otherwise wait for an operator to ask, raises one alert
-- per finding while it stays unresolved, and resolves alerts whose
-- condition is gone. metrics() gives the numbers an operator graphs.

CREATE FUNCTION loyalty.health_check()
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

CREATE FUNCTION loyalty.metrics(p_property_id text DEFAULT NULL)
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
