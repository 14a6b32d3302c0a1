-- Scale data for bench/scale.sh: players :first .. :last, ten ledger rows
-- each, with real hash chains (docs/reference.md §9, computed here in SQL
-- from the documented rule, one seq per pass), balances that match, and one
-- closed, paid slip per player (players 1-100: owed, at every scale). Run
-- once per range.
\set ON_ERROR_STOP on
CREATE TEMP TABLE s AS
SELECT p AS pn, ('00000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid AS player_id, g AS seq,
       nextval('loyalty.loyalty_ledger_id_seq') AS id,
       (1 + (p * 7 + g * 7919) % 500)::bigint AS pts,
       timestamptz '2026-01-01 12:00+00' + (p % 300) * interval '1 day' + g * interval '1 minute' AS created_at
  FROM generate_series(:first, :last) p, generate_series(1, 10) g;
ALTER TABLE s ADD COLUMN bal bigint, ADD COLUMN canon text, ADD COLUMN prev_hash text, ADD COLUMN row_hash text,
    ADD COLUMN gaming_day date;
UPDATE s SET bal = x.bal FROM (SELECT player_id, seq, sum(pts) OVER (PARTITION BY player_id ORDER BY seq) AS bal
                                  FROM s) x
 WHERE x.player_id = s.player_id AND x.seq = s.seq;
UPDATE s SET gaming_day = loyalty.gaming_day(created_at);
-- RFC 8785 canonical JSON of the hashed fields: members in key order, every
-- value a string or null (these values need no escaping).
UPDATE s SET canon = '{"balance_after":"' || bal || '","balance_before":"' || (bal - pts)
    || '","correlation_id":"bench-scale","created_at_unix_micros":"'
    || (extract(epoch FROM created_at) * 1000000)::bigint || '","event_type":"POINTS_UPDATE_REQUESTED","gaming_day":"'
    || to_char(gaming_day, 'YYYY-MM-DD') || '","id":"' || id || '","idempotency_key":"scale:' || seq
    || '","player_id":"' || player_id || '","points_change":"' || pts
    || '","rating_slip_id":null,"reason":null,"reward_id":null,"seq":"' || seq
    || '","session_id":null,"source":"bench","staff_id":null,"tier_after":"BRONZE","tier_before":"BRONZE","transaction_type":"MANUAL_BONUS","visit_id":null}';
CREATE INDEX ON s (seq, player_id);
UPDATE s SET prev_hash = repeat('0', 64) WHERE seq = 1;
UPDATE s SET row_hash = encode(sha256(convert_to(prev_hash || canon, 'UTF8')), 'hex') WHERE seq = 1;
SELECT format('UPDATE s SET prev_hash = p.row_hash FROM s p WHERE s.seq = %s AND p.seq = %s AND p.player_id = s.player_id;
               UPDATE s SET row_hash = encode(sha256(convert_to(prev_hash || canon, ''UTF8'')), ''hex'') WHERE seq = %s;',
              g, g - 1, g)
  FROM generate_series(2, 10) g \gexec
INSERT INTO loyalty.loyalty_ledger (id, player_id, idempotency_key, transaction_type, event_type, points_change,
       balance_before, balance_after, tier_before, tier_after, correlation_id, source, created_at, seq, prev_hash,
       row_hash, gaming_day)
SELECT id, player_id, 'scale:' || seq, 'MANUAL_BONUS', 'POINTS_UPDATE_REQUESTED', pts, bal - pts, bal, 'BRONZE',
       'BRONZE', 'bench-scale', 'bench', created_at, seq, prev_hash, row_hash, gaming_day
  FROM s ORDER BY player_id, seq;
INSERT INTO loyalty.player_loyalty (player_id, current_balance, lifetime_points, tier, chain_seq, chain_head, chain_head_at)
SELECT player_id, bal, bal, 'BRONZE', 10, row_hash, created_at FROM s WHERE seq = 10;
INSERT INTO loyalty.rating_slip (player_id, game_type, house_edge, decisions_per_hour, points_conversion_rate,
       point_multiplier, average_bet, start_time, end_time, status, duration_seconds, accrued_ledger_id,
       approval_threshold_points)
SELECT player_id, 'CRAPS', 1.4, 48, 10, 1.0, 25, created_at - interval '2 hours', created_at, 'CLOSED', 7200,
       CASE WHEN pn <= 100 THEN NULL ELSE id END, 25000
  FROM s WHERE seq = 10;
DROP TABLE s;
