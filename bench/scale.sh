#!/usr/bin/env bash
# Costs that stay flat: the health check, the partial-completion listing, a
# completion, a manual reward, a balance as of a time and a statement, per
# call inside one backend, at 1 million and at 10 million ledger rows
# (100,000 and 1,000,000 players, ten entries each, real hash chains, one
# closed slip per player with 100 owed; and one player with 100,000 entries
# of their own, whose statement of 100 entries is measured beside a
# ten-entry player's whole statement). Each
# measurement runs SCALE_REPS times (default 5) at each size; the report is
# the median per call and the 10M/1M ratio (target: at most 1.5).
# Usage: bash bench/scale.sh       (about 25 minutes; not part of the tests)
source "$(dirname "$0")/../scripts/lib.sh"
REPS=${SCALE_REPS:-5}
OUT="$ROOT/bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
setup
install_extension --release
trap cluster_stop EXIT
cluster_start "shared_buffers = '2GB'" "work_mem = '64MB'" "maintenance_work_mem = '1GB'" \
    "synchronous_commit = off" "max_wal_size = '16GB'" "checkpoint_timeout = '30min'" "jit = off" \
    "autovacuum = off"
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
createdb scale
psql_q -d scale -c 'CREATE EXTENSION casino_loyalty' \
    -c "INSERT INTO loyalty.staff (staff_id, permissions)
        SELECT ('5afe0000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, '{loyalty:award}'::text[]
          FROM generate_series(1, 50) g
        UNION ALL SELECT '00000000-0000-4000-8000-00000000f100', '{loyalty:rate}'" \
    -c "UPDATE loyalty.config SET rate_limit_count = 100000000, alert_reward_count = 100000000"

# measure LABEL: per-call microseconds of each operation, REPS times
measure() {
    local label=$1 rep
    psql_q -d scale -c "VACUUM ANALYZE" -c CHECKPOINT
    # the first run after a load sees every row as new; then steady state
    psql_q -d scale -At -c "SELECT count(*) FROM loyalty.health_check()" >/dev/null
    for rep in $(seq "$REPS"); do
        PGOPTIONS="-c bench.rep=$rep -c bench.label=$label" psql -X -At -d scale 2>&1 <<'SQL' \
            | grep -o 'health_ms=.*' | sed "s/^/$label /"
DO $$
DECLARE t0 timestamptz; h float8; l float8; c float8; r float8; b float8; w float8; s float8;
        f timestamptz; u timestamptz;
        rep int := current_setting('bench.rep')::int; tag text := current_setting('bench.label') || '-' || rep;
        off int := CASE current_setting('bench.label') WHEN '1M' THEN 0 ELSE 50 END;
BEGIN
  t0 := clock_timestamp();
  PERFORM count(*) FROM loyalty.health_check();
  h := extract(epoch FROM clock_timestamp() - t0) * 1e3;
  t0 := clock_timestamp();
  FOR i IN 1..20 LOOP PERFORM count(*) FROM loyalty.list_partial_completions(100); END LOOP;
  l := extract(epoch FROM clock_timestamp() - t0) * 1e3 / 20;
  t0 := clock_timestamp();
  FOR i IN 1..500 LOOP
    -- players of their own at each size: a second slip over the first's hour is SLIP_OVERLAP
    PERFORM c.status FROM loyalty.open_rating_slip(('00000000-0000-4000-8000-' || lpad(to_hex(1000 + i * 97 + rep + off), 12, '0'))::uuid,
                                                   'BLACKJACK', 25, NULL, NULL, now() - interval '1 hour', p_staff_id => '00000000-0000-4000-8000-00000000f100') o,
                          LATERAL loyalty.complete_rating_slip(o.id, p_staff_id => '00000000-0000-4000-8000-00000000f100') c;
  END LOOP;
  c := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 500;
  t0 := clock_timestamp();
  FOR i IN 1..2000 LOOP
    PERFORM loyalty.manual_reward(('00000000-0000-4000-8000-' || lpad(to_hex(2000 + (i * 7919) % 90000), 12, '0'))::uuid,
        5, 'scale bench reward', ('5afe0000-0000-4000-8000-' || lpad(to_hex(1 + i % 50), 12, '0'))::uuid,
        p_reward_id => tag || '-' || i);
  END LOOP;
  r := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 2000;
  -- a balance as of a time: a random player (ten entries) at a random instant of their history
  t0 := clock_timestamp();
  FOR i IN 1..2000 LOOP
    PERFORM * FROM loyalty.player_balance_at(('00000000-0000-4000-8000-' || lpad(to_hex(1 + (i * 7919 + rep) % 100000), 12, '0'))::uuid,
        timestamptz '2026-01-01 12:05+00' + ((i * 31) % 300) * interval '1 day');
  END LOOP;
  b := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 2000;
  -- the 100,000-entry player's statement of 100 entries from the middle of their history
  SELECT min(created_at) FILTER (WHERE seq = 50000 + rep * 1000), min(created_at) FILTER (WHERE seq = 50100 + rep * 1000)
    INTO f, u FROM loyalty.loyalty_ledger WHERE player_id = '00000000-0000-4000-8000-0000000fffff' AND seq IN (50000 + rep * 1000, 50100 + rep * 1000);
  t0 := clock_timestamp();
  FOR i IN 1..200 LOOP
    PERFORM count(*) FROM loyalty.player_statement('00000000-0000-4000-8000-0000000fffff', f, u);
  END LOOP;
  w := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 200;
  -- a ten-entry player's whole statement
  t0 := clock_timestamp();
  FOR i IN 1..200 LOOP
    PERFORM count(*) FROM loyalty.player_statement(('00000000-0000-4000-8000-' || lpad(to_hex(1 + (i * 7919) % 100000), 12, '0'))::uuid,
        timestamptz '2025-01-01', timestamptz '2027-01-01');
  END LOOP;
  s := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 200;
  RAISE NOTICE 'health_ms=% partial_ms=% completion_us=% reward_us=% balance_at_us=% whale_statement_100_us=% statement_10_us=%',
    round(h::numeric, 2), round(l::numeric, 3), round(c::numeric, 1), round(r::numeric, 1), round(b::numeric, 1),
    round(w::numeric, 1), round(s::numeric, 1);
END $$;
SQL
    done | tee -a "$OUT/raw.txt"
}

say "one player with 100,000 entries (real rewards, one at a time)"
psql_q -d scale -c "
DO \$\$
BEGIN
  FOR i IN 1..100000 LOOP
    PERFORM loyalty.manual_reward('00000000-0000-4000-8000-0000000fffff', 1 + i % 100, 'scale bench whale',
        '5afe0000-0000-4000-8000-000000000001', p_reward_id => 'whale-' || i);
    IF i % 10000 = 0 THEN COMMIT; END IF;
  END LOOP;
END \$\$"
say "loading 1,000,000 ledger rows"
psql_q -d scale -v first=1 -v last=100000 -f "$ROOT/bench/scale_load.sql" >/dev/null
psql_q -d scale -At -c "SELECT 'chains broken in a sample: ' || count(*) FROM (SELECT player_id FROM loyalty.player_loyalty
    ORDER BY player_id LIMIT 200) p, LATERAL loyalty.verify_ledger_chain(p.player_id) v WHERE NOT v.ok" | tee "$OUT/check1.txt"
measure 1M
say "loading 9,000,000 more ledger rows"
for chunk in $(seq 1 9); do
    psql_q -d scale -v first=$((chunk * 100000 + 1)) -v last=$(((chunk + 1) * 100000)) \
        -f "$ROOT/bench/scale_load.sql" >/dev/null
done
psql_q -d scale -At -c "SELECT 'ledger rows: ' || count(*) FROM loyalty.loyalty_ledger" | tee "$OUT/check10.txt"
measure 10M
say "invariants"
psql_q -d scale -At -c "SELECT 'balance mismatches: ' || count(*) FROM loyalty.verify_all_balances()" | tee -a "$OUT/check10.txt"
python3 - "$OUT/raw.txt" <<'PY' | tee "$OUT/results.md"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, rest = line.split(" ", 1)
    for k, v in re.findall(r"(\w+)=([\d.]+)", rest):
        rows.setdefault(k, {}).setdefault(label, []).append(float(v))
print("| per call | 1M rows (median) | 10M rows (median) | 10M / 1M | rounds 1M | rounds 10M |")
print("|---|---|---|---|---|---|")
for k, v in rows.items():
    a, b = statistics.median(v["1M"]), statistics.median(v["10M"])
    print(f"| {k} | {a:g} | {b:g} | **{b / a:.2f}×** | {', '.join(f'{x:g}' for x in v['1M'])} | "
          f"{', '.join(f'{x:g}' for x in v['10M'])} |")
PY
