-- W4: 100,000 players, 1,000,000 ledger rows (chained before/after) and
-- 1,000,000 closed slips of which 100 are partial completions.
CREATE TEMP TABLE e AS
SELECT p, g, (1 + (g * 7919) % 500)::bigint AS pts
  FROM generate_series(1, 100000) p, generate_series(1, 10) g;
INSERT INTO loyalty.loyalty_ledger (player_id, idempotency_key, transaction_type, event_type, points_change,
       balance_before, balance_after, tier_before, tier_after, correlation_id, source, seq, prev_hash, row_hash)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid, 'bench:' || g, 'MANUAL_BONUS',
       'POINTS_UPDATE_REQUESTED', pts,
       sum(pts) OVER w - pts, sum(pts) OVER w, 'BRONZE', 'BRONZE', 'bench-w4', 'bench', g, repeat('0', 64),
       repeat('0', 64)
  FROM e WINDOW w AS (PARTITION BY p ORDER BY g);
INSERT INTO loyalty.player_loyalty (player_id, current_balance, lifetime_points)
SELECT player_id, sum(points_change), sum(points_change) FROM loyalty.loyalty_ledger GROUP BY player_id;
INSERT INTO loyalty.rating_slip (player_id, game_type, house_edge, decisions_per_hour, points_conversion_rate,
       point_multiplier, average_bet, start_time, end_time, status, duration_seconds, accrued_ledger_id,
       approval_threshold_points)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 100000), 12, '0'))::uuid, 'CRAPS', 1.4, 48, 10, 1.0,
       25, now() - interval '3 hours', now() - interval '1 hour', 'CLOSED', 7200,
       CASE WHEN g % 10000 = 0 THEN NULL ELSE g END, 25000
  FROM generate_series(1, 1000000) g;
VACUUM ANALYZE;
