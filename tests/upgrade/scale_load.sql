-- A database of the newest release at scale, for the update's stop
-- (tests/upgrade/window.sh; its columns are those of 0.2.0, which every
-- later release keeps):
-- :players players with ten ledger rows each (manual bonuses of 100; every
-- fiftieth player's first was a voucher), balances that match, and one
-- closed slip each (the first hundred owed). The hashes are stand-ins: the
-- update neither reads nor checks them, and nothing here verifies chains.
\set ON_ERROR_STOP on
INSERT INTO loyalty.loyalty_ledger (id, player_id, idempotency_key, transaction_type, event_type, points_change,
       balance_before, balance_after, tier_before, tier_after, correlation_id, source, created_at, seq, prev_hash,
       row_hash, gaming_day, reward_id)
SELECT nextval('loyalty.loyalty_ledger_id_seq'), ('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid,
       'scale:' || g, 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', 100, (g - 1) * 100, g * 100, 'BRONZE', 'BRONZE',
       'scale', 'scale', now() - interval '30 days' + g * interval '1 minute', g, md5(p::text || g), md5(p::text || g || 'x'),
       current_date - 30, CASE WHEN g = 1 AND p % 50 = 0 THEN 'voucher-' || p END
  FROM generate_series(1, :players) p, generate_series(1, 10) g;
INSERT INTO loyalty.player_loyalty (player_id, current_balance, lifetime_points, tier, chain_seq, chain_head)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid, 1000, 1000, 'BRONZE', 10, md5(p::text || 10 || 'x')
  FROM generate_series(1, :players) p;
INSERT INTO loyalty.rating_slip (player_id, game_type, house_edge, decisions_per_hour, points_conversion_rate,
       point_multiplier, average_bet, start_time, end_time, status, duration_seconds, accrued_ledger_id,
       approval_threshold_points)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid, 'CRAPS', 1.4, 48, 10, 1.0, 25,
       now() - interval '40 days', now() - interval '40 days' + interval '2 hours', 'CLOSED', 7200,
       CASE WHEN p <= 100 THEN NULL ELSE p END, 25000
  FROM generate_series(1, :players) p;
ANALYZE;
