#!/usr/bin/env bash
# The main job: a throwaway cluster, the extension, and a player's balance
# moving through the loyalty functions, printed as tables.
source "$(dirname "$0")/lib.sh"

setup
install_extension
# The server reads its clock through libfaketime with an offset of 0 until
# the last section moves it a year on (a tier rollover, as it happens).
DEMO_CLOCK_DIR="$(mktemp -d /tmp/casino_loyalty_clock.XXXXXX)"
chmod 755 "$DEMO_CLOCK_DIR"
export DEMO_CLOCK="$DEMO_CLOCK_DIR/offset"
echo "+0" >"$DEMO_CLOCK" && chmod 644 "$DEMO_CLOCK"
trap 'cluster_stop; rm -rf "$DEMO_CLOCK_DIR"' EXIT
CLUSTER_ENV=(LD_PRELOAD="$(libfaketime)" FAKETIME_TIMESTAMP_FILE="$DEMO_CLOCK" FAKETIME_NO_CACHE=1)
cluster_start
createdb -h "$PGHOST" -p "$PGPORT" demo
say "demo"
psql -X -q -v ON_ERROR_STOP=1 -v host="$PGHOST" -v port="$PGPORT" -d demo -f "$ROOT/scripts/demo.sql"
