#!/usr/bin/env bash
# What CHECK constraints cost a single-row statement: PostgreSQL keeps them
# as text and parses and plans every CHECK of a table again for each INSERT
# or UPDATE statement. Copies of the ledger and the balance table, with their
# CHECKs and without (same indexes, same NOT NULLs); 20,000 single-row
# statements per measurement, 5 rounds. µs per statement.
# Usage: bash bench/check_cost.sh      (about 3 minutes)
source "$(dirname "$0")/../scripts/lib.sh"
setup || exit 1
install_extension --release >/dev/null || exit 1
trap cluster_stop EXIT
cluster_start "shared_buffers = '1GB'" "synchronous_commit = off" "autovacuum = off" >/dev/null
createdb cc
psql -X -q -v ON_ERROR_STOP=1 -d cc <<'SQL'
CREATE EXTENSION casino_loyalty;
CREATE SCHEMA cc;
CREATE SEQUENCE cc.ids;
-- copies with every index; "checks" keeps the table's CHECKs, "bare" only NOT NULL
CREATE TABLE cc.checks (LIKE loyalty.loyalty_ledger INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE cc.bare (LIKE loyalty.loyalty_ledger INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE cc.pchecks (LIKE loyalty.player_loyalty INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
CREATE TABLE cc.pbare (LIKE loyalty.player_loyalty INCLUDING DEFAULTS INCLUDING INDEXES);
INSERT INTO cc.pchecks (player_id) SELECT gen_random_uuid() FROM generate_series(1, 1000);
INSERT INTO cc.pbare SELECT * FROM cc.pchecks;
CREATE FUNCTION cc.ins(t regclass, n int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
  FOR i IN 1..n LOOP
    EXECUTE format('INSERT INTO %s (id, player_id, idempotency_key, transaction_type, event_type, points_change,
        balance_before, balance_after, tier_before, tier_after, correlation_id, seq, prev_hash, row_hash, gaming_day)
        VALUES ($1, gen_random_uuid(), ''k'', ''GAMEPLAY'', ''RATING_SLIP_COMPLETED'', 5, 0, 5, ''BRONZE'', ''BRONZE'',
                ''c'', 1, ''a'', ''b'', ''2026-11-26'')', t) USING nextval('cc.ids');
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$;
CREATE FUNCTION cc.upd(t regclass, n int) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp(); ids uuid[];
BEGIN
  EXECUTE format('SELECT array_agg(player_id) FROM %s', t) INTO ids;
  FOR i IN 1..n LOOP
    EXECUTE format('UPDATE %s SET current_balance = current_balance + 1, lifetime_points = lifetime_points + 1,
                    updated_at = now(), chain_seq = chain_seq + 1, chain_head = ''x'' WHERE player_id = $1', t)
      USING ids[1 + i % 1000];
  END LOOP;
  RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
END $$;
SQL
for r in 1 2 3 4 5; do
  psql -X -At -d cc -c "SELECT 'ledger checks ' || round(cc.ins('cc.checks', 20000)::numeric, 2)" \
                    -c "SELECT 'ledger bare ' || round(cc.ins('cc.bare', 20000)::numeric, 2)" \
                    -c "SELECT 'player checks ' || round(cc.upd('cc.pchecks', 20000)::numeric, 2)" \
                    -c "SELECT 'player bare ' || round(cc.upd('cc.pbare', 20000)::numeric, 2)"
done | sort | awk '{k=$1" "$2; v[k]=v[k]" "$3} END {for (k in v) print k":"v[k]}'
