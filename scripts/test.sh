#!/usr/bin/env bash
# Every test, against real PostgreSQL 15 servers:
#   unit      pure Rust core, no database      (cargo test --lib)
#   pgrx      #[pg_test] suites in pgrx-tests/  (cargo pgrx test, its own cluster)
#   regress   pg_regress files in tests/pg_regress/ (throwaway cluster)
#   client    multi-session tests in tests/client/  (same throwaway cluster)
# Ends with one summary line per suite and "suites: N passed, N failed".
source "$(dirname "$0")/lib.sh"
set +e  # run every suite, then report

setup || exit 1
cd "$ROOT"
declare -a NAMES=() RESULTS=()
record() { NAMES+=("$1"); RESULTS+=("$2"); }

say "unit tests (pure core)"
cargo test --lib --quiet -- ::unit:: && record unit pass || record unit FAIL

say "pgrx tests (#[pg_test], in-database)"
PGRX_DATA="$(mktemp -d /tmp/casino_loyalty_pgrx.XXXXXX)"
chmod 755 "$PGRX_DATA"
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PGRX_DATA"
    cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DATA" && record pgrx pass || record pgrx FAIL
else
    # installing into the system PostgreSQL needs root; keep root's build
    # output out of the user's target dir
    sudo chown postgres: "$PGRX_DATA"
    sudo --preserve-env=PATH,HOME,CARGO_HOME,RUSTUP_HOME,PGRX_HOME env CARGO_TARGET_DIR="$ROOT/target/root" \
        cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DATA" && record pgrx pass || record pgrx FAIL
fi
"${SUDO[@]}" rm -rf "$PGRX_DATA"

install_extension || exit 1
trap cluster_stop EXIT
cluster_start || exit 1
createdb loyalty_regress && createdb loyalty_client \
    && psql -X -q -d loyalty_client -c 'CREATE EXTENSION casino_loyalty' || exit 1

say "pg_regress (tests/pg_regress)"
REGRESS_OUT="$CLUSTER_DIR/regress"
mkdir -p "$REGRESS_OUT"
TESTS=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
# shellcheck disable=SC2086
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
    --use-existing --dbname=loyalty_regress --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
    --bindir="$PG_BIN" --inputdir=tests/pg_regress --outputdir="$REGRESS_OUT" $TESTS \
    && record regress pass || { record regress FAIL; cat "$REGRESS_OUT/regression.diffs" 2>/dev/null; }

say "client tests (tests/client, real connections)"
(cd tests && LOYALTY_TEST_DB=loyalty_client PG_BIN="$PG_BIN" cargo test --quiet --no-fail-fast) \
    && record client pass || record client FAIL

say "summary"
passed=0; failed=0
for i in "${!NAMES[@]}"; do
    printf '  %-8s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}"
    if [ "${RESULTS[$i]}" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
