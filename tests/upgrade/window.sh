# Sourced by tests/upgrade/run.sh. Upgrades without an outage (SPEC §20): a
# casino installs the new build's files, then updates its databases one by
# one. In between, calls through the old version's definitions run the old
# version's library (a library file per release from 0.3.0 on), and a
# writer keeps writing through ALTER EXTENSION UPDATE, in the same backend
# before and after it.

# writer_script DB N STAFF TAG: N manual rewards in their own transactions,
# each followed by the extension version its definitions were at (so the
# output shows the writer crossing the update), 20 ms apart.
writer_script() {
    local n="$1" staff="$2" tag="$3" i
    echo '\set ON_ERROR_STOP on'
    echo '\timing on'
    for i in $(seq "$n"); do
        echo "SELECT 'call $i ' || r.ledger_entry_id || ' ' || (SELECT extversion FROM pg_extension WHERE extname = 'casino_loyalty')
                FROM loyalty.manual_reward('00000000-0000-4000-8000-00000000beef', 1, 'window writer reward',
                                           '$staff', NULL, '$tag-$i') r;"
        echo "SELECT pg_sleep(0.02);"
    done
}

# writer_check OUT FROM TO: every call answered, and both versions seen.
writer_check() {
    local out="$1" from="$2" to="$3" calls
    calls=$(grep -c '^call ' "$out")
    grep -q "^call .* $from$" "$out" || { echo "the writer made no call before the update"; return 1; }
    grep -q "^call .* $to$" "$out" || { echo "the writer made no call after the update"; return 1; }
    echo "$calls"
}

# longest_call OUT: the longest reward call of a writer's output, in ms.
longest_call() {
    awk '/^call /{want=1; next} want && /^Time:/{ if ($2 > max) max = $2; want=0 } END { printf "%.0f", max }' "$1"
}

# old_definitions_work DB VERSION STAFF FLOOR: with the new build's files
# installed and the database still at VERSION, the floor's calls through
# VERSION's definitions work: open and complete a slip (FLOOR: what names
# the staff member rating it, where VERSION asks), a manual reward, and
# (from 0.2.0) the health check.
old_definitions_work() {
    local db="$1" version="$2" staff="$3" floor="$4" player='00000000-0000-4000-8000-00000000bee2' out
    out=$(psql_q -d "$db" <<SQL
SELECT 'open ' || (o.id IS NOT NULL) || ' complete ' || c.status
  FROM loyalty.open_rating_slip('$player', 'BLACKJACK', 25, NULL, NULL, now() - interval '1 hour' $floor) o,
       LATERAL loyalty.complete_rating_slip(o.id $floor) c;
SELECT 'reward ' || transaction_type FROM loyalty.manual_reward('$player', 50, 'window check reward', '$staff', NULL, 'window-$version');
SELECT 'library ' || (SELECT probin FROM pg_proc WHERE proname = 'complete_rating_slip' AND pronamespace = 'loyalty'::regnamespace);
SQL
    ) || return 1
    echo "$out"
    if [ "$version" != 0.1.0 ]; then
        psql_q -d "$db" -c "SELECT 'health ' || count(*) FROM loyalty.health_check()" || return 1
    fi
}

# update_at_scale VERSION SRC PLAYERS: a database of VERSION (built from SRC)
# with PLAYERS players and ten ledger rows each, updated to this build while
# a writer (rewards, as above) runs; prints how long the update took and the
# writer's longest call. Writers wait on the update's locks; they never fail.
update_at_scale() {
    local version="$1" src="$2" players="$3" db=loyalty_upgrade_scale staff='5afe0000-0000-4000-8000-0000000000e2'
    install_extension_from "$src" >/dev/null || fail "building $version failed"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    psql_q -d "$db" -c "CREATE EXTENSION casino_loyalty VERSION '$version'" \
        -c "INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('$staff', '{loyalty:award}')" \
        -c "UPDATE loyalty.config SET rate_limit_count = 100000, alert_reward_count = 100000" >/dev/null
    psql_q -d "$db" -v players="$players" -f tests/upgrade/scale_load.sql >/dev/null || fail "loading the scale data failed"
    install_extension >/dev/null || fail "building $CURRENT failed"
    writer_script 150 "$staff" scale >"$WORK/writer-scale.sql"
    psql -X -q -At -d "$db" -f "$WORK/writer-scale.sql" >"$WORK/writer-scale.out" 2>&1 &
    local writer=$! took
    sleep 1
    took=$(psql_q -d "$db" -c '\timing on' -c "ALTER EXTENSION casino_loyalty UPDATE" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    wait "$writer" || { tail -5 "$WORK/writer-scale.out"; fail "the writer failed through the update at scale"; }
    local calls
    calls=$(writer_check "$WORK/writer-scale.out" "$version" "$CURRENT") || fail "writer through the update at scale: $calls"
    echo "scale: $players players, $(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.loyalty_ledger") ledger rows: ALTER EXTENSION UPDATE from $version took ${took%.*} ms; a writer's $calls rewards all succeeded, the longest took $(longest_call "$WORK/writer-scale.out") ms"
    psql_q -d postgres -c "DROP DATABASE $db" >/dev/null
}
