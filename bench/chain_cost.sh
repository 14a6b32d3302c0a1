#!/usr/bin/env bash
# What the tamper-evident hash chain costs per call: this build against an
# earlier commit (default: the last one before the chain), both release
# builds, measured inside one backend (no client round trips): 5,000 manual
# rewards spread over 50 staff members and 1,000 completions per round,
# alternating which side goes first, a CHECKPOINT before each side.
# Usage: bash bench/chain_cost.sh [base commit] [rounds]   (about 8 minutes)
source "$(dirname "$0")/../scripts/lib.sh"
BASE="${1:-851e9db}"
ROUNDS="${2:-4}"
setup || exit 1
cd "$ROOT"
OLD="$ROOT/target/release-src/base-$BASE"
[ -d "$OLD" ] || { mkdir -p "$OLD" && git archive "$BASE" | tar -x -C "$OLD"; }
install_extension_from "$OLD" --release && install_extension --release || exit 1
trap cluster_stop EXIT
cluster_start "shared_buffers = '512MB'" "synchronous_commit = off" "autovacuum = off"

run_side() {
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS chain_cost" -c "CREATE DATABASE chain_cost"
    psql -X -q -d chain_cost -c "CREATE EXTENSION casino_loyalty" \
        -c "UPDATE loyalty.config SET rate_limit_count = 100000000, alert_reward_count = 100000000" \
        -c "INSERT INTO loyalty.staff (staff_id, permissions)
            SELECT ('5afe0000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, '{loyalty:award}'
              FROM generate_series(1, 50) g
        UNION ALL SELECT '00000000-0000-4000-8000-00000000f100', '{loyalty:rate}'"
    psql -X -q -d postgres -c CHECKPOINT
    psql -X -At -d chain_cost 2>&1 <<'SQL' | grep -o 'reward_us=.*'
DO $$
DECLARE t0 timestamptz; r double precision; c double precision;
BEGIN
  t0 := clock_timestamp();
  FOR i IN 1..5000 LOOP
    PERFORM loyalty.manual_reward(('00000000-0000-4000-8000-' || lpad(to_hex(1 + (i * 7919) % 100000), 12, '0'))::uuid,
        5, 'bench reward comp', ('5afe0000-0000-4000-8000-' || lpad(to_hex(1 + i % 50), 12, '0'))::uuid,
        p_reward_id => 'r-' || i);
  END LOOP;
  r := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 5000;
  t0 := clock_timestamp();
  FOR i IN 1..1000 LOOP
    PERFORM c.status FROM loyalty.open_rating_slip(('00000000-0000-4000-8000-' || lpad(to_hex(200000 + i), 12, '0'))::uuid,
                                                   'BLACKJACK', 25, NULL, NULL, now() - interval '1 hour', p_staff_id => '00000000-0000-4000-8000-00000000f100') o,
                          LATERAL loyalty.complete_rating_slip(o.id, p_staff_id => '00000000-0000-4000-8000-00000000f100') c;
  END LOOP;
  c := extract(epoch FROM clock_timestamp() - t0) * 1e6 / 1000;
  RAISE NOTICE 'reward_us=% completion_us=%', round(r::numeric, 1), round(c::numeric, 1);
END $$;
SQL
}

for round in $(seq "$ROUNDS"); do
    order="base this"
    [ $((round % 2)) = 0 ] && order="this base"
    for side in $order; do
        if [ "$side" = base ]; then install_extension_from "$OLD" --release >/dev/null; else install_extension --release >/dev/null; fi
        echo "round $round $side $(run_side)"
    done
done
