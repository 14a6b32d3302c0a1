#!/usr/bin/env bash
# How far a set-based batch can go on these tables: single
# complete_rating_slip calls, complete_rating_slips with 8 slips, and the
# leanest set-based batch of 8 (bench/batch_ceiling.sql: four statements,
# less work than the extension must do), in alternating rounds, 4 clients,
# synchronous_commit off, on one cluster with bench/run.sh's settings.
# Prints each side's median slips per second and the ratios to single calls.
# Usage: bash bench/batch_ceiling.sh [rounds] [seconds]    (3 × 5 s: about 4 minutes)
source "$(dirname "$0")/../scripts/lib.sh"
ROUNDS=${1:-3}
SECS=${2:-5}
setup || exit 1
install_extension --release >/dev/null || exit 1
trap cluster_stop EXIT
cluster_start "shared_buffers = '1GB'" "work_mem = '64MB'" "synchronous_commit = off" "max_wal_size = '8GB'" \
    "checkpoint_timeout = '30min'" "jit = off" "autovacuum = off" >/dev/null
# slips for 6,000 single and 20,000 batched completions a second, with room
W1_SLIPS=$((6000 * ROUNDS * SECS))
W1B_SLIPS=$((20000 * ROUNDS * SECS))
createdb bc
psql -X -q -v ON_ERROR_STOP=1 -d bc -v w1_slips="$W1_SLIPS" -v w1b_slips="$W1B_SLIPS" -v w1_lean_slips=1 \
    -c 'CREATE EXTENSION casino_loyalty' -f "$ROOT/bench/comparator.sql" -f "$ROOT/bench/load.sql" \
    -f "$ROOT/bench/batch_ceiling.sql" -c 'VACUUM ANALYZE' -c CHECKPOINT || exit 1
tps() {
    pgbench -n -M prepared -c 4 -j 4 -T "$SECS" -D w1_slips="$W1_SLIPS" -f "$ROOT/bench/workloads/$1.sql" bc 2>&1 |
        awk '/^tps/ {print $3} /aborted|error/ {print "FAILED: " $0 > "/dev/stderr"}'
}
declare -A got
for r in $(seq 1 "$ROUNDS"); do
    for w in w1_ext w1b_ext w1b_ceiling; do
        got[$w]+="$(tps "$w") "
    done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
single=$(echo "${got[w1_ext]}" | median)
batch=$(echo "${got[w1b_ext]}" | median)
ceil=$(echo "${got[w1b_ceiling]}" | median)
echo "calls per second, each round: singles ${got[w1_ext]}| batch ${got[w1b_ext]}| ceiling ${got[w1b_ceiling]}"
awk -v s="$single" -v b="$batch" -v c="$ceil" 'BEGIN {
    printf "complete_rating_slip, single calls:   %6.0f slips/s\n", s
    printf "complete_rating_slips, 8 per call:    %6.0f slips/s  %.2fx singles\n", b * 8, b * 8 / s
    printf "leanest set-based batch, 8 per call:  %6.0f slips/s  %.2fx singles\n", c * 8, c * 8 / s }'
psql -X -q -d bc -tAc "SELECT 'slips paid twice: ' || count(*) FROM (SELECT rating_slip_id FROM loyalty.loyalty_ledger
    WHERE rating_slip_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d"
