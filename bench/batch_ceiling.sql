-- The set-based batch at its leanest, for bench/batch_ceiling.sh: eight
-- slips closed and paid in four statements on the extension's own tables
-- (lock the slips, lock their players, one INSERT of the ledger rows under
-- their unique key, one UPDATE of the slips and one of the balances). It
-- does less than complete_rating_slips must: no caller check, no approval
-- thresholds, no chain hash (md5 of the slip stands in), no tier, no
-- savepoint, no log line. Whatever it reaches is a ceiling for a set-based
-- extension batch on these tables.
CREATE SCHEMA ceiling;
CREATE FUNCTION ceiling.complete_slips(p_ids uuid[]) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, loyalty, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    CREATE TEMP TABLE IF NOT EXISTS batch (id uuid, player_id uuid, pts bigint) ON COMMIT DELETE ROWS;
    INSERT INTO batch
    SELECT s.id, s.player_id,
           floor(s.average_bet * s.house_edge / 100 * s.decisions_per_hour
                 * floor(extract(epoch FROM now() - s.start_time)) / 3600
                 * s.points_conversion_rate * s.point_multiplier)::bigint
      FROM (SELECT * FROM loyalty.rating_slip WHERE id = ANY (p_ids) AND status = 'OPEN'
             ORDER BY id FOR UPDATE) s;
    PERFORM FROM (SELECT FROM loyalty.player_loyalty
                   WHERE player_id IN (SELECT player_id FROM batch) ORDER BY player_id FOR UPDATE) p;
    WITH e AS (
        INSERT INTO loyalty.loyalty_ledger (player_id, rating_slip_id, idempotency_key, transaction_type,
            event_type, points_change, source, staff_id, balance_before, balance_after, tier_before,
            tier_after, correlation_id, created_at, seq, prev_hash, row_hash, gaming_day)
        SELECT b.player_id, b.id, 'gameplay:' || b.id, 'GAMEPLAY', 'RATING_SLIP_COMPLETED', b.pts,
               'ceiling', '00000000-0000-4000-8000-00000000f100', p.current_balance,
               p.current_balance + b.pts, p.tier, p.tier, 'ceiling', clock_timestamp(),
               p.chain_seq + 1, coalesce(p.chain_head, ''), md5(b.id::text), current_date
          FROM batch b JOIN loyalty.player_loyalty p USING (player_id)
        ON CONFLICT (player_id, idempotency_key) DO NOTHING
        RETURNING id, rating_slip_id, player_id, points_change, seq, row_hash),
    s AS (
        UPDATE loyalty.rating_slip r
           SET status = 'CLOSED', end_time = now(), duration_seconds = 5400,
               closed_by = '00000000-0000-4000-8000-00000000f100', correlation_id = 'ceiling',
               accrued_ledger_id = e.id, updated_at = now()
          FROM e WHERE r.id = e.rating_slip_id),
    u AS (
        UPDATE loyalty.player_loyalty p
           SET current_balance = current_balance + e.points_change,
               lifetime_points = lifetime_points + e.points_change, chain_seq = e.seq,
               chain_head = e.row_hash, updated_at = now(), gameplay_day = current_date,
               gameplay_day_points = e.points_change, last_earned_at = now(), chain_head_at = now()
          FROM e WHERE p.player_id = e.player_id)
    SELECT count(*) INTO n FROM e;
    RETURN n;
END
$$;
