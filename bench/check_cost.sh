#!/usr/bin/env bash
# What CHECK constraints cost a single-row statement. PostgreSQL keeps a
# table's CHECKs as text and parses and plans every one of them again for
# each INSERT or UPDATE statement; a domain's constraints are parsed once per
# backend and cached. Three copies of the ledger and of the balance table,
# same indexes and NOT NULLs: "domains" as the extension defines them (its
# single-column rules are domains, its multi-column rules table CHECKs),
# "checks" with every domain rule written as a table CHECK on the base type
# instead (how 0.2.0 had them before), and "bare" with no rule at all.
# 20,000 single-row statements per measurement; µs per statement.
# Usage: bash bench/check_cost.sh [rounds]      (5 rounds: about 2 minutes)
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
-- "domains": the tables as they are; "bare": base types, no CHECK;
-- "checks": base types, each domain's rule as a table CHECK on its column
CREATE TABLE cc.domains (LIKE loyalty.loyalty_ledger INCLUDING ALL);
CREATE TABLE cc.checks (LIKE loyalty.loyalty_ledger INCLUDING ALL);
CREATE TABLE cc.bare (LIKE loyalty.loyalty_ledger INCLUDING DEFAULTS INCLUDING INDEXES);
CREATE TABLE cc.pdomains (LIKE loyalty.player_loyalty INCLUDING ALL);
CREATE TABLE cc.pchecks (LIKE loyalty.player_loyalty INCLUDING ALL);
CREATE TABLE cc.pbare (LIKE loyalty.player_loyalty INCLUDING DEFAULTS INCLUDING INDEXES);
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS tbl, a.attname, format_type(t.typbasetype, t.typtypmod) AS base,
           (SELECT string_agg(replace(pg_get_constraintdef(k.oid), 'VALUE', quote_ident(a.attname)), ' AND ')
              FROM pg_constraint k WHERE k.contypid = t.oid) AS rule
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      JOIN pg_type t ON t.oid = a.atttypid AND t.typtype = 'd'
     WHERE c.oid IN ('cc.checks'::regclass, 'cc.bare'::regclass, 'cc.pchecks'::regclass, 'cc.pbare'::regclass)
  LOOP
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s', r.tbl, r.attname, r.base);
    IF r.tbl::text IN ('cc.checks', 'cc.pchecks') THEN
      EXECUTE format('ALTER TABLE %s ADD %s', r.tbl, r.rule);
    END IF;
  END LOOP;
END $$;
SELECT c.relname, count(k.oid) AS table_checks,
       count(*) FILTER (WHERE t.typtype = 'd') AS domain_columns
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'c' AND a.attnum = 1
 WHERE c.relnamespace = 'cc'::regnamespace AND c.relkind = 'r' GROUP BY 1 ORDER BY 1;
INSERT INTO cc.pdomains (player_id) SELECT gen_random_uuid() FROM generate_series(1, 1000);
INSERT INTO cc.pchecks SELECT * FROM cc.pdomains;
INSERT INTO cc.pbare SELECT * FROM cc.pdomains;
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
for r in $(seq "${1:-5}"); do
  psql -X -At -d cc -c "SELECT 'ledger domains ' || round(cc.ins('cc.domains', 20000)::numeric, 2)" \
                    -c "SELECT 'ledger checks ' || round(cc.ins('cc.checks', 20000)::numeric, 2)" \
                    -c "SELECT 'ledger bare ' || round(cc.ins('cc.bare', 20000)::numeric, 2)" \
                    -c "SELECT 'player domains ' || round(cc.upd('cc.pdomains', 20000)::numeric, 2)" \
                    -c "SELECT 'player checks ' || round(cc.upd('cc.pchecks', 20000)::numeric, 2)" \
                    -c "SELECT 'player bare ' || round(cc.upd('cc.pbare', 20000)::numeric, 2)"
done | sort | awk '{k=$1" "$2; v[k]=v[k]" "$3} END {for (k in v) print k":"v[k]}' | sort
