#!/usr/bin/env bash
# The main job: a throwaway cluster, the extension, and a player's balance
# moving through the loyalty functions, printed as tables.
source "$(dirname "$0")/lib.sh"

setup
install_extension
trap cluster_stop EXIT
cluster_start
createdb -h "$PGHOST" -p "$PGPORT" demo
say "demo"
psql -X -q -v ON_ERROR_STOP=1 -v host="$PGHOST" -v port="$PGPORT" -d demo -f "$ROOT/scripts/demo.sql"
