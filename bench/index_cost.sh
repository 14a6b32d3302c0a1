#!/usr/bin/env bash
# What each index costs a write, measured where the noise is small: the same
# 200,000 ledger rows (a fifth of them manual rewards) inserted into a copy
# of loyalty.loyalty_ledger with every index of the real table ("all"), and
# with all but one; the same for closing 100,000 slips (the completion's
# UPDATE) in a copy of loyalty.rating_slip. Same CHECK constraints on every
# copy; ROUNDS rounds (default 5), order alternating. The report gives the
# median time and what leaving the index out saves per row.
# Usage: bash bench/index_cost.sh [rounds]     (a few minutes)
source "$(dirname "$0")/../scripts/lib.sh"
ROUNDS="${1:-5}"
setup || exit 1
install_extension --release >/dev/null || exit 1
trap cluster_stop EXIT
cluster_start "shared_buffers = '2GB'" "synchronous_commit = off" "autovacuum = off" \
    "max_wal_size = '8GB'" >/dev/null
createdb idx
psql -X -q -v ON_ERROR_STOP=1 -d idx <<'SQL'
CREATE EXTENSION casino_loyalty;
CREATE SCHEMA ic;
CREATE TABLE ic.src AS
SELECT g AS id, ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50000), 12, '0'))::uuid AS player_id,
       CASE WHEN g % 5 = 0 THEN NULL ELSE gen_random_uuid() END AS rating_slip_id,
       CASE WHEN g % 5 = 0 THEN 'manual:' ELSE 'gameplay:' END || g AS idempotency_key,
       CASE WHEN g % 5 = 0 THEN 'MANUAL_BONUS' ELSE 'GAMEPLAY' END AS transaction_type,
       CASE WHEN g % 5 = 0 THEN '5afe0000-0000-4000-8000-000000000001'::uuid END AS staff_id,
       g / 50000 + 1 AS seq, gen_random_uuid()::text AS correlation_id,
       now() + g * interval '1 millisecond' AS created_at
  FROM generate_series(1, 200000) g;
-- a copy of a loyalty table with its CHECKs and every index but ic.skip
CREATE FUNCTION ic.copy(p_table text, p_skip text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS ic.%I', p_table);
    EXECUTE format('CREATE TABLE ic.%I (LIKE loyalty.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p_table, p_table);
    FOR r IN SELECT c.relname, pg_get_indexdef(i.indexrelid) AS def
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = format('loyalty.%I', p_table)::regclass LOOP
        IF r.relname <> p_skip THEN
            EXECUTE replace(replace(r.def, format('ON loyalty.%s ', p_table), format('ON ic.%s ', p_table)),
                            format('INDEX %s ON', r.relname), format('INDEX ic_%s ON', r.relname));
        END IF;
    END LOOP;
END $$;
CREATE FUNCTION ic.ledger(p_skip text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
    PERFORM ic.copy('loyalty_ledger', p_skip);
    t0 := clock_timestamp();
    INSERT INTO ic.loyalty_ledger (id, player_id, rating_slip_id, idempotency_key, transaction_type, event_type,
           points_change, balance_before, balance_after, tier_before, tier_after, correlation_id, created_at, seq,
           prev_hash, row_hash, gaming_day, staff_id)
    SELECT id, player_id, rating_slip_id, idempotency_key, transaction_type, 'POINTS_UPDATE_REQUESTED', 5, 0, 5,
           'BRONZE', 'BRONZE', correlation_id, created_at, seq, repeat('a', 64), repeat('b', 64), '2026-11-26',
           staff_id
      FROM ic.src;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1e3;
END $$;
CREATE FUNCTION ic.slips(p_skip text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz;
BEGIN
    PERFORM ic.copy('rating_slip', p_skip);
    INSERT INTO ic.rating_slip (id, player_id, game_type, house_edge, decisions_per_hour, points_conversion_rate,
           point_multiplier, average_bet, start_time, approval_threshold_points)
    SELECT gen_random_uuid(), gen_random_uuid(), 'BLACKJACK', 2, 70, 10, 1, 25, now() - interval '1 hour', 25000
      FROM ic.src WHERE id <= 100000;
    t0 := clock_timestamp();
    -- what store_closed writes when a slip completes
    UPDATE ic.rating_slip SET status = 'CLOSED', end_time = now(), duration_seconds = 3600,
           closed_by = NULL, correlation_id = gen_random_uuid()::text, accrued_ledger_id = 1, updated_at = now();
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1e3;
END $$;
SQL

run() {  # kind variant -> "kind variant ms"
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -d idx -c CHECKPOINT -c "SELECT '$1 $2 ' || round(ic.$1('$2')::numeric, 1)"
}
L=(all loyalty_ledger_created_idx loyalty_ledger_correlation_idx loyalty_ledger_staff_idx loyalty_ledger_slip_idx
   loyalty_ledger_player_id_seq_key loyalty_ledger_player_id_idempotency_key_key)
S=(all rating_slip_player_idx rating_slip_correlation_idx rating_slip_unaccrued_idx rating_slip_held_idx
   rating_slip_one_open_per_player)
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then l=("${L[@]}"); s=("${S[@]}"); else
        l=($(printf '%s\n' "${L[@]}" | tac)); s=($(printf '%s\n' "${S[@]}" | tac)); fi
    for v in "${l[@]}"; do run ledger "$v"; done
    for v in "${s[@]}"; do run slips "$v"; done
done >"$CLUSTER_DIR/raw"
python3 - "$CLUSTER_DIR/raw" <<'PY'
import statistics, sys
d = {}
for line in open(sys.argv[1]):
    kind, variant, ms = line.split()
    d.setdefault(kind, {}).setdefault(variant, []).append(float(ms))
rows = {"ledger": 200000, "slips": 100000}
print("| table | without | median ms | saves per row (µs) | rounds ms |")
print("|---|---|---|---|---|")
for kind, variants in d.items():
    base = statistics.median(variants["all"])
    for v, ms in variants.items():
        m = statistics.median(ms)
        print(f"| {kind} | {v} | {m:.0f} | {(base - m) * 1000 / rows[kind]:+.2f} | {', '.join(f'{x:.0f}' for x in ms)} |")
PY
