#!/usr/bin/env bash
# Benchmarks: casino_loyalty (release build) against the hand-written
# PL/pgSQL comparator in bench/comparator.sql, on one throwaway cluster with
# fixed settings, in one run. Writes bench/results/<stamp>/results.md and
# the raw pgbench output beside it.
# Each pair (extension, comparator) runs in alternation for BENCH_ROUNDS
# rounds, so drift on a shared machine (the other core, the growing tables,
# checkpoints) lands on both sides; the report takes each side's median TPS.
#   bash bench/run.sh                                # 3 rounds of 10 s
#   BENCH_ROUNDS=5 BENCH_SECONDS=20 bash bench/run.sh
#   BENCH_ONLY=w6 bash bench/run.sh                  # only the workloads named w6*
source "$(dirname "$0")/../scripts/lib.sh"

SECONDS_PER=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
W="$ROOT/bench/workloads"

setup
install_extension --release
trap cluster_stop EXIT
# fsync on (a real server); commits are asynchronous unless a run asks for
# synchronous_commit = on (the "sync on" rows).
cluster_start "shared_buffers = '1GB'" "work_mem = '64MB'" "maintenance_work_mem = '512MB'" \
    "synchronous_commit = off" "fsync = on" "max_wal_size = '8GB'" "checkpoint_timeout = '30min'" \
    "jit = off" "autovacuum = off"
chmod 777 "$OUT"

# Open slips for W1 and W1b, each side completing each slip once: enough
# for 6,000 single completions and 10,000 batched ones per second on every
# round, with commits asynchronous and synchronous (measured: about 4,500
# and 7,300). A side that runs out gets errors, not an empty loop.
W1_SLIPS=$((6000 * ROUNDS * SECONDS_PER * 2))
W1B_SLIPS=$((10000 * ROUNDS * SECONDS_PER * 2))
W1_LEAN_SLIPS=$((25000 * ROUNDS * SECONDS_PER * 2))

psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
say "loading data (10,000 players with history, $((W1_SLIPS + W1B_SLIPS + 200000)) open slips each for its own player)"
createdb bench
psql_q -d bench -v w1_slips="$W1_SLIPS" -v w1b_slips="$W1B_SLIPS" -v w1_lean_slips="$W1_LEAN_SLIPS" \
    -c 'CREATE EXTENSION casino_loyalty' \
    -f "$ROOT/bench/comparator.sql" -f "$ROOT/bench/load.sql" -f "$ROOT/bench/lean.sql" -c "VACUUM ANALYZE"
say "loading W4 data (100,000 players, 1,000,000 ledger rows, 1,000,000 closed slips)"
createdb bench_w4
psql_q -d bench_w4 -c 'CREATE EXTENSION casino_loyalty' -f "$ROOT/bench/load_w4.sql"

# The loads end with VACUUM ANALYZE, so plans see real sizes; autovacuum is
# off and the load is checkpointed so no background pass lands on one side.
psql_q -d bench -c CHECKPOINT

# Both key functions must agree, on every payload, before we time them.
psql_q -d bench -tA -c "SELECT 'W3 keys agree: ' || bool_and(loyalty.hash_idempotency_key(doc)
    = encode(digest(canonical, 'sha256'), 'hex')) FROM bench.payload" | tee "$OUT/w3_agree.txt"
grep -q 'agree: true' "$OUT/w3_agree.txt"

# run NAME DB CLIENTS SCRIPT [extra pgbench args]; $SYNC=on runs with
# synchronous_commit = on
run() {
    local name=$1 db=$2 clients=$3 script=$4; shift 4
    say "$name: $clients clients, $SECONDS_PER s, synchronous_commit ${SYNC:-off}"
    (cd "$OUT" && PGOPTIONS="-c synchronous_commit=${SYNC:-off}" \
        pgbench -n -M prepared -c "$clients" -j "$clients" -T "$SECONDS_PER" -D w1_slips="$W1_SLIPS" -D w1_lean_slips="$W1_LEAN_SLIPS" \
        -l --log-prefix="$name.log" -f "$script" "$@" "$db" >"$name.out" 2>&1) || true
    grep -E "^tps|failed|aborted|actually processed" "$OUT/$name.out" || cat "$OUT/$name.out"
}

# pair EXT CMP DB CLIENTS [SUFFIX] [LEAN]: the sides in alternation, ROUNDS
# times (SUFFIX names the runs of a second setting, e.g. _sync; LEAN, the
# lean hand-written way of bench/lean.sql, runs third in each round)
pair() {
    local ext=$1 cmp=$2 db=$3 clients=$4 sfx=${5:-} lean=${6:-} r
    [[ -z "${BENCH_ONLY:-}" || "$ext" == "$BENCH_ONLY"* ]] || return 0
    for r in $(seq 1 "$ROUNDS"); do
        run "$ext$sfx.r$r" "$db" "$clients" "$W/$ext.sql"
        [ -z "$cmp" ] || run "$cmp$sfx.r$r" "$db" "$clients" "$W/$cmp.sql"
        [ -z "$lean" ] || run "$lean$sfx.r$r" "$db" "$clients" "$W/$lean.sql"
    done
}
pair w1_ext w1_cmp bench 4 "" w1_lean
pair w1b_ext w1b_cmp bench 4
pair w2_ext_reward w2_cmp_reward bench 8
pair w2_ext_inc w2_cmp_inc bench 8
pair w3_ext w3_pgcrypto bench 2
pair w4_verify_ext w4_verify_hand bench_w4 1
pair w4_partial "" bench_w4 1
pair w6_ext_redeem w6_cmp_redeem bench 4
pair w6_ext_hold_capture w6_cmp_hold_capture bench 4
# durable commits: every commit waits for its WAL flush
SYNC=on pair w1_ext w1_cmp bench 4 _sync w1_lean
SYNC=on pair w1b_ext w1b_cmp bench 4 _sync
SYNC=on pair w2_ext_reward w2_cmp_reward bench 8 _sync

say "invariants after the run"
# (the increment workload's player moves without ledger rows by design)
psql_q -d bench -c "SELECT 'extension mismatches' AS check, count(*) FROM loyalty.verify_all_balances()
      WHERE player_id <> '00000000-0000-4000-8000-00000000cafe'
    UNION ALL SELECT 'extension ledger rows', count(*) FROM loyalty.loyalty_ledger
    UNION ALL SELECT 'comparator mismatches', count(*) FROM cmp.player_loyalty p
      JOIN (SELECT player_id, sum(points_change) s FROM cmp.loyalty_ledger GROUP BY 1) l USING (player_id)
     WHERE p.current_balance <> l.s
    UNION ALL SELECT 'extension slips paid twice', count(*) FROM (SELECT rating_slip_id FROM loyalty.loyalty_ledger
      WHERE transaction_type = 'GAMEPLAY' AND rating_slip_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d
    UNION ALL SELECT 'comparator slips paid twice', count(*) FROM (SELECT rating_slip_id FROM cmp.loyalty_ledger
      WHERE transaction_type = 'GAMEPLAY' AND rating_slip_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d
    UNION ALL SELECT 'extension slips completed', count(*) FROM loyalty.rating_slip s JOIN bench.slip b USING (id)
      WHERE s.status = 'CLOSED'
    UNION ALL SELECT 'comparator slips completed', count(*) FROM cmp.rating_slip s JOIN bench.slip b USING (id)
      WHERE s.status = 'CLOSED'
    UNION ALL SELECT 'broken chains among 2,000 players the run paid', count(*)
      FROM (SELECT DISTINCT player_id FROM loyalty.loyalty_ledger WHERE source LIKE 'complete_rating_slip%'
             LIMIT 2000) p, LATERAL loyalty.verify_ledger_chain(p.player_id) v WHERE NOT v.ok
    UNION ALL SELECT 'extension held points that are not the live holds', count(*) FROM loyalty.player_loyalty p
      LEFT JOIN (SELECT player_id, sum(points) AS live FROM loyalty.hold
                  WHERE status IN ('ACTIVE', 'PENDING_APPROVAL') GROUP BY 1) h USING (player_id)
     WHERE p.held_points <> coalesce(h.live, 0)
    UNION ALL SELECT 'comparator held points that are not the live holds', count(*) FROM cmp.player_loyalty p
      LEFT JOIN (SELECT player_id, sum(points) AS live FROM cmp.hold
                  WHERE status IN ('ACTIVE', 'PENDING_APPROVAL') GROUP BY 1) h USING (player_id)
     WHERE p.held_points <> coalesce(h.live, 0)
    UNION ALL SELECT 'extension holds captured / redemption entries', (SELECT count(*) FROM loyalty.hold
      WHERE status = 'CAPTURED') - (SELECT count(*) FROM loyalty.loyalty_ledger WHERE transaction_type = 'REDEMPTION')
    UNION ALL SELECT 'comparator holds captured / redemption entries', (SELECT count(*) FROM cmp.hold
      WHERE status = 'CAPTURED') - (SELECT count(*) FROM cmp.loyalty_ledger WHERE transaction_type = 'REDEMPTION')
    UNION ALL SELECT 'extension holds captured', count(*) FROM loyalty.hold WHERE status = 'CAPTURED'
    UNION ALL SELECT 'comparator holds captured', count(*) FROM cmp.hold WHERE status = 'CAPTURED'
    UNION ALL SELECT 'lean mismatches', count(*) FROM lean.player_loyalty p
      JOIN (SELECT player_id, sum(points_change) s FROM lean.loyalty_ledger GROUP BY 1) l USING (player_id)
     WHERE p.current_balance <> l.s
    UNION ALL SELECT 'lean slips paid twice', count(*) FROM (SELECT rating_slip_id FROM lean.loyalty_ledger
      GROUP BY 1 HAVING count(*) > 1) d
    UNION ALL SELECT 'lean slips completed', count(*) FROM lean.rating_slip WHERE status = 'CLOSED'
    UNION ALL SELECT 'deadlocks (pg_stat_database)', deadlocks FROM pg_stat_database WHERE datname = 'bench'" \
    | tee "$OUT/invariants.txt"
psql_q -d bench_w4 -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
    SELECT s.id FROM loyalty.rating_slip s
     WHERE s.status = 'CLOSED' AND s.accrued_ledger_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM loyalty.loyalty_ledger l
                        WHERE l.player_id = s.player_id AND l.idempotency_key = 'gameplay:' || s.id::text)
     ORDER BY s.end_time, s.id LIMIT 100" | tee "$OUT/w4_partial_plan.txt"

if [[ -z "${BENCH_ONLY:-}" || w5 == "$BENCH_ONLY"* ]]; then
    say "W5: one backend, 1,000,000 calls"
    psql -X -v ON_ERROR_STOP=1 -d bench -f "$ROOT/bench/w5_memory.sql" | tee "$OUT/w5_memory.txt"
else
    : >"$OUT/w5_memory.txt"
fi

say "results"
SPEC='[
 {"title":"W1 complete slip","ext":"w1_ext","ext_label":"complete_rating_slip","cmp":"w1_cmp","cmp_label":"PL/pgSQL comparator","lean":"w1_lean","lean_label":"lean PL/pgSQL (bench/lean.sql)","clients":4},
 {"title":"W1b complete 8 slips per call (slips/s)","ext":"w1b_ext","ext_label":"complete_rating_slips","cmp":"w1b_cmp","cmp_label":"PL/pgSQL batch loop","clients":4,"per_call":8},
 {"title":"W2 hot player reward","ext":"w2_ext_reward","ext_label":"manual_reward","cmp":"w2_cmp_reward","cmp_label":"PL/pgSQL comparator","clients":8},
 {"title":"W2 hot player increment","ext":"w2_ext_inc","ext_label":"increment_player_loyalty","cmp":"w2_cmp_inc","cmp_label":"PL/pgSQL comparator","clients":8},
 {"title":"W3 key hashing","ext":"w3_ext","ext_label":"hash_idempotency_key","cmp":"w3_pgcrypto","cmp_label":"pgcrypto digest(canonical text)","clients":2},
 {"title":"W4 verify all (1M rows)","ext":"w4_verify_ext","ext_label":"verify_all_balances()","cmp":"w4_verify_hand","cmp_label":"hand-written GROUP BY","clients":1},
 {"title":"W4 list partial completions (1M closed)","ext":"w4_partial","ext_label":"list_partial_completions(100)","clients":1},
 {"title":"W6 free play in one call","ext":"w6_ext_redeem","ext_label":"redeem_points","cmp":"w6_cmp_redeem","cmp_label":"PL/pgSQL comparator","clients":4},
 {"title":"W6 hold, then capture in part","ext":"w6_ext_hold_capture","ext_label":"hold_points + capture_hold","cmp":"w6_cmp_hold_capture","cmp_label":"PL/pgSQL comparator","clients":4},
 {"title":"W1 complete slip, sync on","ext":"w1_ext_sync","ext_label":"complete_rating_slip","cmp":"w1_cmp_sync","cmp_label":"PL/pgSQL comparator","lean":"w1_lean_sync","lean_label":"lean PL/pgSQL (bench/lean.sql)","clients":4},
 {"title":"W1b 8 slips per call, sync on (slips/s)","ext":"w1b_ext_sync","ext_label":"complete_rating_slips","cmp":"w1b_cmp_sync","cmp_label":"PL/pgSQL batch loop","clients":4,"per_call":8},
 {"title":"W2 hot player reward, sync on","ext":"w2_ext_reward_sync","ext_label":"manual_reward","cmp":"w2_cmp_reward_sync","cmp_label":"PL/pgSQL comparator","clients":8}
]'
BATCH='[["synchronous_commit off","w1b_ext","w1_ext","w1b_cmp"],["synchronous_commit on","w1b_ext_sync","w1_ext_sync","w1b_cmp_sync"]]'
{
    echo "# Benchmark run $(basename "$OUT")"
    echo
    echo "Command: \`bash bench/run.sh\` (BENCH_ROUNDS=$ROUNDS, BENCH_SECONDS=$SECONDS_PER), $(nproc) cores, PostgreSQL $PG_MAJOR, release build."
    echo
    python3 "$ROOT/bench/report.py" "$OUT" "$ROUNDS" "$SPEC" "$BATCH"
    echo
    echo '```'
    cat "$OUT/invariants.txt" "$OUT/w4_partial_plan.txt" "$OUT/w5_memory.txt"
    echo '```'
} >"$OUT/results.md"
rm -f "$OUT"/*.log*
cat "$OUT/results.md"
