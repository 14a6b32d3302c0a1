#!/usr/bin/env bash
# The simulation test (SPEC §21): a throwaway cluster whose clock the
# simulator moves (libfaketime; tests/sim/restart.sh restarts the server
# with its clock further ahead, or after a crash), a database with the
# installed build, then the seeded run. SIM_SECONDS (default 60) and
# SIM_SEED run it longer or again; the seed is printed first.
# Expects the extension installed (scripts/test.sh does that first).
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
LIBFAKETIME="$(libfaketime)" || { echo "libfaketime missing (Debian package faketime)"; exit 1; }
trap cluster_stop EXIT
CLUSTER_ENV=(LD_PRELOAD="$LIBFAKETIME" FAKETIME="+0")
cluster_start "max_connections = 60" "deadlock_timeout = '200ms'" >/dev/null || exit 1
createdb loyalty_sim && psql -X -q -d loyalty_sim -c 'CREATE EXTENSION casino_loyalty' || exit 1
(cd tests && cargo build --quiet --bin sim) || exit 1
SIM_DB=loyalty_sim SIM_RESTART="$ROOT/tests/sim/restart.sh" "$(cd tests && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/sim"
