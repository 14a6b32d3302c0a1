#!/usr/bin/env bash
# What the tamper-evident hash chain costs a post, part by part, on this
# build (bench/chain_cost.sh compares whole builds, which differ in more
# than the chain):
#  1. hashing: one player with 20,000 entries; verify_ledger_chain reads
#     every row and recomputes its canonical JSON and SHA-256, the work a
#     post does for its one row, against the same rows read by a plain
#     query; the difference per row is the hashing;
#  2. SQL: the ledger insert and the balance update on copies of the tables
#     with the chain's columns and (player_id, seq) index and without them.
# It also prints what a whole reward costs in the server, the denominator.
# 7 rounds each (or the first argument), alternating; µs per row or statement.
# Usage: bash bench/chain_parts.sh [rounds]      (7 rounds: about 3 minutes)
source "$(dirname "$0")/../scripts/lib.sh"
setup || exit 1
install_extension --release >/dev/null || exit 1
trap cluster_stop EXIT
cluster_start "shared_buffers = '512MB'" "synchronous_commit = off" "autovacuum = off" >/dev/null
createdb cp
psql -X -q -v ON_ERROR_STOP=1 -d cp 2>&1 <<'SQL' | sed -n 's/.*NOTICE:  //p'
CREATE EXTENSION casino_loyalty;
UPDATE loyalty.config SET rate_limit_count = 100000000, alert_reward_count = 100000000;
INSERT INTO loyalty.staff (staff_id, permissions)
SELECT ('5afe0000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, '{loyalty:award}' FROM generate_series(1, 50) g;
-- one player with 20,000 entries (one transaction: untimed, the player's
-- row is rewritten 20,000 times in it)
DO $$
BEGIN
  FOR i IN 1..20000 LOOP
    PERFORM loyalty.manual_reward('00000000-0000-4000-8000-00000000c4a1', 1 + i % 7, 'chain parts bench',
                                  '5afe0000-0000-4000-8000-000000000001', p_reward_id => 'r-' || i);
  END LOOP;
END $$;
-- the denominator: a reward's cost in the server on this build, 5,000
-- rewards to as many players from 50 staff members (as bench/chain_cost.sh)
DO $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  FOR i IN 1..5000 LOOP
    PERFORM loyalty.manual_reward(('00000000-0000-4000-8000-' || lpad(to_hex(100 + i), 12, '0'))::uuid,
        5, 'chain parts bench', ('5afe0000-0000-4000-8000-' || lpad(to_hex(1 + i % 50), 12, '0'))::uuid,
        p_reward_id => 'd-' || i);
  END LOOP;
  RAISE NOTICE 'reward: % µs per call', round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / 5000)::numeric, 1);
END $$;
VACUUM ANALYZE loyalty.loyalty_ledger;
SQL
for r in $(seq "${1:-7}"); do
  psql -X -At -d cp \
    -c "CREATE FUNCTION pg_temp.us(q text) RETURNS numeric LANGUAGE plpgsql AS \$f\$
        DECLARE t0 timestamptz := clock_timestamp();
        BEGIN EXECUTE q; RETURN round((extract(epoch FROM clock_timestamp() - t0) * 1e6 / 20000)::numeric, 3); END \$f\$" \
    -c "SELECT 'verify ' || pg_temp.us('SELECT * FROM loyalty.verify_ledger_chain(''00000000-0000-4000-8000-00000000c4a1'')')" \
    -c "SELECT 'read ' || pg_temp.us('SELECT count(*) FROM (SELECT * FROM loyalty.loyalty_ledger
                                        WHERE player_id = ''00000000-0000-4000-8000-00000000c4a1'' ORDER BY seq) x')"
done | awk '{v[$1]=v[$1]" "$2} END {for (k in v) print k":"v[k]}' | sort
psql -X -At -d cp -c "SELECT 'chain ok: ' || ok || ', entries ' || entries
                        FROM loyalty.verify_ledger_chain('00000000-0000-4000-8000-00000000c4a1')"

# The chain's SQL: copies of the ledger and the balance table as defined
# ("chain") and without the chain's columns and index ("nochain"); 20,000
# single-row inserts and balance updates each, alternating, µs per statement.
psql -X -q -v ON_ERROR_STOP=1 -d cp <<'SQL'
CREATE SCHEMA cc;
CREATE SEQUENCE cc.ids;
CREATE TABLE cc.chain (LIKE loyalty.loyalty_ledger INCLUDING ALL);
CREATE TABLE cc.nochain (LIKE loyalty.loyalty_ledger INCLUDING ALL);
ALTER TABLE cc.nochain DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN row_hash;
CREATE TABLE cc.pchain (LIKE loyalty.player_loyalty INCLUDING ALL);
CREATE TABLE cc.pnochain (LIKE loyalty.player_loyalty INCLUDING ALL);
ALTER TABLE cc.pnochain DROP COLUMN chain_seq, DROP COLUMN chain_head;
INSERT INTO cc.pchain (player_id) SELECT gen_random_uuid() FROM generate_series(1, 1000);
INSERT INTO cc.pnochain (player_id) SELECT player_id FROM cc.pchain;
CREATE FUNCTION cc.ins(chain boolean, n int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); h text := repeat('ab', 32);
BEGIN
  FOR i IN 1..n LOOP
    IF chain THEN
      INSERT INTO cc.chain (id, player_id, idempotency_key, transaction_type, event_type, points_change,
          balance_before, balance_after, tier_before, tier_after, correlation_id, gaming_day, seq, prev_hash, row_hash)
      VALUES (nextval('cc.ids'), gen_random_uuid(), 'k', 'GAMEPLAY', 'RATING_SLIP_COMPLETED', 5, 0, 5, 'BRONZE',
              'BRONZE', 'c', '2026-11-26', 1, h, h);
    ELSE
      INSERT INTO cc.nochain (id, player_id, idempotency_key, transaction_type, event_type, points_change,
          balance_before, balance_after, tier_before, tier_after, correlation_id, gaming_day)
      VALUES (nextval('cc.ids'), gen_random_uuid(), 'k', 'GAMEPLAY', 'RATING_SLIP_COMPLETED', 5, 0, 5, 'BRONZE',
              'BRONZE', 'c', '2026-11-26');
    END IF;
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$;
CREATE FUNCTION cc.upd(chain boolean, n int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); ids uuid[]; h text := repeat('cd', 32);
BEGIN
  SELECT array_agg(player_id) INTO ids FROM cc.pchain;
  FOR i IN 1..n LOOP
    IF chain THEN
      UPDATE cc.pchain SET current_balance = current_balance + 1, lifetime_points = lifetime_points + 1,
             updated_at = now(), chain_seq = chain_seq + 1, chain_head = h WHERE player_id = ids[1 + i % 1000];
    ELSE
      UPDATE cc.pnochain SET current_balance = current_balance + 1, lifetime_points = lifetime_points + 1,
             updated_at = now() WHERE player_id = ids[1 + i % 1000];
    END IF;
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$;
SQL
for r in $(seq "${1:-7}"); do
  if [ $((r % 2)) = 1 ]; then order="true false"; else order="false true"; fi
  for chain in $order; do
    psql -X -At -d cp -c "SELECT 'insert_chain=$chain ' || round(cc.ins($chain, 20000)::numeric, 2)" \
                      -c "SELECT 'update_chain=$chain ' || round(cc.upd($chain, 20000)::numeric, 2)"
  done
done | awk '{v[$1]=v[$1]" "$2} END {for (k in v) print k":"v[k]}' | sort
