#!/usr/bin/env bash
# A sweep beside the floor (SPEC §20): 100,000 players due to roll into a
# new qualification year (SWEEP_PLAYERS to change), the rollover called
# again and again until it finds nobody (as pg_cron's every-minute job
# would, back to back), while one floor session completes slips for
# players the rollover is rolling. Reports the floor's longest call, how
# many completions went PARTIAL (a wait past the accrual lock timeout would
# make one), and the rollover's calls and time. Not part of the tests.
# Usage: bash bench/sweep_floor.sh   (about 2 minutes)
source "$(dirname "$0")/../scripts/lib.sh"
PLAYERS=${SWEEP_PLAYERS:-100000}
setup
install_extension --release
trap cluster_stop EXIT
cluster_start "synchronous_commit = off" "autovacuum = off" >/dev/null
psql_q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
createdb sweep
psql_q -d sweep -c 'CREATE EXTENSION casino_loyalty' \
    -c "INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('00000000-0000-4000-8000-00000000f100', '{loyalty:rate}')" \
    -c "SELECT loyalty.configure(p_tier_basis => 'PERIOD')" \
    -c "INSERT INTO loyalty.player_loyalty (player_id, tier_period, tier_credits)
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, DATE '2020-01-01', g % 60000
          FROM generate_series(1, $PLAYERS) g" -c "VACUUM ANALYZE" >/dev/null
# the floor: a completion for a player spread over the rollover's order,
# each slip its own hour of the last day
floor_sql="$CLUSTER_DIR/floor.sql"
{
    echo '\timing on'
    for i in $(seq 300); do
        p=$(( (i * 331) % PLAYERS + 1 ))
        echo "SELECT 'floor ' || c.status FROM loyalty.open_rating_slip(('00000000-0000-4000-8000-' || lpad(to_hex($p), 12, '0'))::uuid,
                'BLACKJACK', 25, p_start_time => now() - interval '1 hour', p_staff_id => '00000000-0000-4000-8000-00000000f100') o,
              LATERAL loyalty.complete_rating_slip(o.id, p_staff_id => '00000000-0000-4000-8000-00000000f100') c;"
    done
} >"$floor_sql"
psql -X -q -At -d sweep -f "$floor_sql" >"$CLUSTER_DIR/floor.out" 2>&1 &
floor=$!
start=$(date +%s%N)
calls=0
while :; do
    n=$(psql_q -d sweep -c "SELECT count(*) FROM loyalty.roll_tier_period(100000)")
    calls=$((calls + 1))
    [ "$n" = 0 ] && [ "$(psql_q -d sweep -c "SELECT count(*) FROM loyalty.player_loyalty WHERE tier_period < loyalty.tier_period_of()")" = 0 ] && break
done
took=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$floor"
longest=$(awk '/^floor /{want=1; next} want && /^Time:/{ if ($2 > max) max = $2; want=0 } END { printf "%.0f", max }' "$CLUSTER_DIR/floor.out")
echo "sweep: $PLAYERS players rolled in $calls calls of roll_tier_period, $took ms in all"
echo "floor: $(grep -c '^floor COMPLETED' "$CLUSTER_DIR/floor.out") completed, $(grep -c '^floor PARTIAL' "$CLUSTER_DIR/floor.out") partial; the longest completion took $longest ms"
