#!/usr/bin/env bash
# Every test, against real PostgreSQL 15 servers:
#   lint      cargo fmt --check and clippy -D warnings over every Rust file
#   frozen    released upgrade scripts are unchanged (sql/RELEASED), the open
#             one's function bodies equal the install SQL's, and each check
#             itself refuses what it should
#   unit      pure Rust core, no database      (cargo test --lib)
#   pgrx      #[pg_test] suites in pgrx-tests/  (cargo pgrx test, its own cluster)
#   regress   pg_regress files in tests/pg_regress/ (throwaway cluster)
#   isolation pg_isolation_regress specs in tests/isolation/ (exact interleavings)
#   client    multi-session tests in tests/client/  (same throwaway cluster)
#   upgrade   every released version installed from git history, given data,
#             upgraded with ALTER EXTENSION UPDATE, compared with a fresh
#             install; then regress and client again on each upgraded database
#   supabase  a second cluster bootstrapped like self-hosted Supabase, README's
#             Supabase steps run as the roles they name, then what a project
#             relies on (tests/supabase/run.sh)
#   replication  a primary and a hot standby (pg_basebackup, streaming): the
#             standby's answers and refusals, then SIGKILL of the primary
#             under load and promotion, synchronous and asynchronous
#             (tests/replication/run.sh)
#   time      a cluster on a clock moved by libfaketime: qualification years
#             roll over twice (tests/time/run.sh)
#   sim       the simulation test: seeded random operations of every kind by
#             every kind of caller, with faults and clock jumps, checked
#             against a model (tests/sim/run.sh; SIM_SECONDS, default 60,
#             and SIM_SEED run it longer or again)
# Ends with one summary line per suite and "suites: N passed, N failed".
source "$(dirname "$0")/lib.sh"
set +e  # run every suite, then report
# Every server these tests start runs with Rust backtraces on, the hostile
# case: no client may ever see one (pgrx-tests/robustness.rs checks).
export RUST_BACKTRACE=1

setup || exit 1
cd "$ROOT"
declare -a NAMES=() RESULTS=()
record() { NAMES+=("$1"); RESULTS+=("$2"); }

say "lint (rustfmt, clippy -D warnings)"
lint() {
    # pgrx-tests/ files are include!d into src/lib.rs, which cargo fmt does
    # not follow: rustfmt checks them one by one.
    cargo fmt --all -- --check \
        && rustfmt --edition 2021 --check pgrx-tests/*.rs \
        && (cd tests && cargo fmt --all -- --check) \
        && cargo clippy --quiet --all-targets -- -D warnings \
        && (cd tests && cargo clippy --quiet --all-targets -- -D warnings)
}
lint && record lint pass || record lint FAIL

say "frozen releases (sql/RELEASED), and the open upgrade script's copies of the install SQL"
bash scripts/check_released.sh && bash tests/upgrade/check_released_test.sh \
    && python3 scripts/upgrade_copy.py check && bash tests/upgrade/upgrade_copy_test.sh \
    && record frozen pass || record frozen FAIL

say "unit tests (pure core)"
cargo test --lib --quiet -- ::unit:: && record unit pass || record unit FAIL

say "pgrx tests (#[pg_test], in-database)"
PGRX_DATA="$(mktemp -d /tmp/casino_loyalty_pgrx.XXXXXX)"
chmod 755 "$PGRX_DATA"
# Its own target dir: the test build (features pg15 pg_test) writes the same
# unhashed libcasino_loyalty.so as the install build, and cargo would then
# take either for the other.
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PGRX_DATA"
    CARGO_TARGET_DIR="$ROOT/target/pgrx-test" \
        cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DATA" && record pgrx pass || record pgrx FAIL
else
    # installing into the system PostgreSQL needs root, whose build output
    # must stay out of the user's target dir
    sudo chown postgres: "$PGRX_DATA"
    sudo --preserve-env=PATH,HOME,CARGO_HOME,RUSTUP_HOME,PGRX_HOME,RUST_BACKTRACE env CARGO_TARGET_DIR="$ROOT/target/root" \
        cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DATA" && record pgrx pass || record pgrx FAIL
fi
"${SUDO[@]}" rm -rf "$PGRX_DATA"

install_extension || exit 1
trap cluster_stop EXIT
# pg_cron loaded as on Supabase: the health check runs on a schedule
# (tests/client/operations.rs); its jobs run in background workers.
cluster_start "shared_preload_libraries = 'pg_cron'" "cron.use_background_workers = on" \
    "max_worker_processes = 20" || exit 1

# pg_regress over tests/pg_regress; on a database that already has the
# extension (an upgraded one), without the file that creates it.
regress() {
    local db="$1" out="$CLUSTER_DIR/regress-$1" tests
    mkdir -p "$out"
    tests=$(cd tests/pg_regress/sql && ls *.sql | sed 's/\.sql$//' | sort)
    [ "$2" = with-setup ] || tests=$(grep -v '^00_setup$' <<<"$tests")
    # shellcheck disable=SC2086
    "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress" \
        --use-existing --dbname="$db" --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
        --bindir="$PG_BIN" --inputdir=tests/pg_regress --outputdir="$out" $tests \
        || { cat "$out/regression.diffs" 2>/dev/null; return 1; }
}

client() {
    (cd tests && LOYALTY_TEST_DB="$1" PG_BIN="$PG_BIN" cargo test --quiet --no-fail-fast)
}

createdb loyalty_regress && createdb loyalty_client && createdb loyalty_isolation \
    && psql -X -q -d loyalty_client -c 'CREATE EXTENSION casino_loyalty' \
    && psql -X -q -d loyalty_isolation -c 'CREATE EXTENSION casino_loyalty' || exit 1

say "pg_regress (tests/pg_regress)"
regress loyalty_regress with-setup && record regress pass || record regress FAIL

say "isolation specs (tests/isolation, exact interleavings)"
ISOLATION_OUT="$CLUSTER_DIR/isolation"
mkdir -p "$ISOLATION_OUT"
# shellcheck disable=SC2046
"$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" \
    --use-existing --dbname=loyalty_isolation --host="$PGHOST" --port="$PGPORT" --user="$PGUSER" \
    --inputdir=tests/isolation --outputdir="$ISOLATION_OUT" \
    $(cd tests/isolation/specs && ls *.spec | sed 's/\.spec$//' | sort) \
    && record isolation pass || { record isolation FAIL; cat "$ISOLATION_OUT/regression.diffs" 2>/dev/null; }

say "client tests (tests/client, real connections)"
client loyalty_client && record client pass || record client FAIL

say "upgrade (tests/upgrade: released versions -> this build)"
UPGRADE_LOG="$CLUSTER_DIR/upgrade.log"
bash tests/upgrade/run.sh | tee "$UPGRADE_LOG"
if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    # every release's upgraded database gets the whole suite (SPEC §14)
    upgrade_ok=1
    for upgraded_db in $(tail -1 "$UPGRADE_LOG"); do
        say "pg_regress and client tests on the upgraded database $upgraded_db"
        regress "$upgraded_db" without-setup && client "$upgraded_db" || upgrade_ok=0
    done
    [ "$upgrade_ok" = 1 ] && record upgrade pass || record upgrade FAIL
else
    record upgrade FAIL
fi

say "supabase (tests/supabase: README's self-hosted steps on a Supabase-shaped cluster)"
bash tests/supabase/run.sh && record supabase pass || record supabase FAIL

say "replication (tests/replication: a hot standby, and failover under load, sync and async)"
bash tests/replication/run.sh && record replication pass || record replication FAIL

say "time (tests/time: tier periods on a server clock moved by libfaketime)"
bash tests/time/run.sh && record time pass || record time FAIL

say "sim (tests/sim: seeded operations, faults and clock jumps against a model)"
SIM_SECONDS="${SIM_SECONDS:-60}" bash tests/sim/run.sh && record sim pass || record sim FAIL

say "summary"
passed=0; failed=0
for i in "${!NAMES[@]}"; do
    printf '  %-8s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}"
    if [ "${RESULTS[$i]}" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "suites: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    say "server log: crashes and pg_cron lines (the cluster is removed on exit)"
    grep -E 'FATAL|PANIC|terminated by signal|cron' "$PGLOG" | tail -40
fi
[ "$failed" -eq 0 ]
