#!/usr/bin/env bash
# The upgrade suite: for every released version, install it from git history,
# give it real data, install the current build, ALTER EXTENSION ... UPDATE, and
# prove that
#   1. every row of every 0.x table (and both id sequences) is unchanged,
#      and verify_all_balances() finds nothing;
#   2. the pg_regress files and the client tests pass on every upgraded
#      database (the caller, scripts/test.sh, runs them on each afterwards:
#      this script prints the upgraded databases' names on its last line);
#   3. the upgraded schema equals a fresh install's, object by object.
#
# Runs against the throwaway cluster that scripts/test.sh started (PGHOST,
# PGPORT, PGUSER, CLUSTER_DIR). Leaves the current build installed.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/window.sh"
cd "$ROOT"

fail() { echo "upgrade suite: $*" >&2; exit 1; }
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

CURRENT=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml)
WORK="$CLUSTER_DIR/upgrade"
mkdir -p "$WORK"
FRESH_DB=loyalty_upgrade_fresh

# The released versions, oldest first (sql/RELEASED: "version commit").
mapfile -t RELEASES < <(grep -v '^#' sql/RELEASED | awk 'NF == 2')
[ ${#RELEASES[@]} -gt 0 ] || fail "sql/RELEASED lists no released version"

# A source tree of a released version, from this repository's own history.
checkout_release() {
    local version="$1" commit="$2" dir="$3"
    git cat-file -e "$commit^{commit}" 2>/dev/null \
        || fail "release $version is commit $commit (sql/RELEASED), which this clone does not have; the upgrade suite builds every release from git history, so it needs a full clone (git fetch --unshallow)"
    rm -rf "$dir" && mkdir -p "$dir"
    git archive "$commit" | tar -x -C "$dir"
    [ "$(sed -n 's/^version = "\(.*\)"/\1/p' "$dir/Cargo.toml")" = "$version" ] \
        || fail "commit $commit does not hold version $version in its Cargo.toml"
}

# From 0.3.0 on, a trusted back end names the staff member it acts for on
# the floor (p_staff_id, someone holding loyalty:rate); before, the argument
# does not exist. floor_arg VERSION STAFF prints what a floor call appends.
names_floor_staff() { case "$1" in 0.1.0|0.2.0) return 1 ;; *) return 0 ;; esac; }
FLOOR_STAFF=5afe0000-0000-4000-8000-000000000003
floor_arg() { if names_floor_staff "$1"; then echo ", p_staff_id => '$2'"; fi; }

# Partial completions need a second session: it holds the player's row lock
# while the floor's completion times out on it, so the accrual fails for real
# (55P03) and 0.x writes its pending_accrual row. One of the two slips is then
# recovered, so both a resolved and an owed pending row cross the upgrade.
make_partials() {
    local db="$1" version="$2" player='00000000-0000-4000-8000-0000000000a5' floor ends=""
    floor=$(floor_arg "$version" "$FLOOR_STAFF")
    # from 0.3.0 a player's slips may not overlap: each starts after the
    # last one's end
    names_floor_staff "$version" && ends=", p_end_time => now() - make_interval(hours => 3 - n) + interval '30 minutes'"

    PGAPPNAME=upgrade-locker psql -X -q -d "$db" -c "BEGIN;
        SELECT 1 FROM loyalty.player_loyalty WHERE player_id = '$player' FOR UPDATE;
        SELECT pg_sleep(120); COMMIT" >/dev/null 2>&1 &
    local locker=$!
    for _ in $(seq 200); do
        [ "$(psql_q -d "$db" -c "SELECT count(*) FROM pg_stat_activity
              WHERE application_name = 'upgrade-locker' AND wait_event = 'PgSleep'")" = 1 ] && break
        sleep 0.05
    done
    local slips
    slips=$(psql_q -d "$db" <<SQL
SET lock_timeout = '200ms';
SELECT o.id || ' ' || c.status || ' ' || coalesce(c.error_code, '-')
  FROM generate_series(1, 2) AS n,
       LATERAL loyalty.open_rating_slip('$player', 'BLACKJACK', 50, p_start_time => now() - make_interval(hours => 3 - n) $floor) AS o,
       LATERAL loyalty.complete_rating_slip(o.id, 'upgrade-seed-partial-' || n $floor $ends) AS c;
SQL
    )
    psql_q -d "$db" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE application_name = 'upgrade-locker'" >/dev/null
    wait "$locker" || true
    echo "$slips"
    [ "$(grep -c ' PARTIAL_COMPLETION 55P03$' <<<"$slips")" = 2 ] \
        || fail "expected two partial completions (lock timeout), got: $slips"
    psql_q -d "$db" -c "SELECT points_earned FROM loyalty.recover_slip_loyalty('$(head -1 <<<"$slips" | cut -d' ' -f1)', 'upgrade-seed-recover')" >/dev/null
}

# Every row of every table the old version has, in those columns and a stable
# order, plus the id sequences: what the upgrade must keep.
snapshot() {
    local db="$1" out="$2" columns="$3"
    : >"$out"
    while IFS='|' read -r table cols; do
        {
            echo "## $table"
            psql_q -d "$db" -F '|' -c "SELECT $cols FROM loyalty.$table ORDER BY $cols"
        } >>"$out"
    done <"$columns"
    for seq in loyalty_ledger_id_seq alert_id_seq; do
        echo "## $seq $(psql_q -d "$db" -c "SELECT last_value || ' ' || is_called FROM loyalty.$seq")" >>"$out"
    done
}

# The extension's whole schema as pg_dump writes it. A plain --schema-only
# dump writes only "CREATE EXTENSION" for an extension's objects; in
# --binary-upgrade mode it writes every member object (table, function,
# policy, grant, comment) as pg_upgrade needs them. The object ids it pins are
# dropped, and the entries are sorted, so the dumps of two databases compare
# object by object: column order, constraint names, defaults, function
# bodies, ACLs and comments all count.
schema_of() {
    local db="$1"
    "$PG_BIN/pg_dump" --schema-only --binary-upgrade "$db"
    # the tables pg_dump keeps, each with its condition, by name: the
    # order they were registered in means nothing to pg_dump
    psql_q -d "$db" -c "SELECT '-- extension ' || extversion || ' config '
                               || (SELECT string_agg(u.t::regclass::text || coalesce(' WHERE ' || nullif(u.w, ''), ''),
                                                     ', ' ORDER BY u.t::regclass::text)
                                     FROM unnest(extconfig, extcondition) AS u(t, w))
                          FROM pg_extension WHERE extname = 'casino_loyalty'"
}

normalize_schema() {
    python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
# object ids pinned for pg_upgrade differ between any two databases; the
# extension's creation line carries them too (its version and config tables
# are compared through the "-- extension" line instead)
text = "\n".join(l for l in text.splitlines()
                 if "binary_upgrade_set_next_" not in l
                 and not l.startswith("-- For binary upgrade")
                 and "binary_upgrade_create_empty_extension" not in l
                 and not l.startswith(("\\restrict ", "\\unrestrict ")))  # a random key per dump
# so do the frozen transaction ids pg_upgrade restores per table
text = re.sub(r"UPDATE pg_catalog\.pg_class\nSET relfrozenxid = '\d+', relminmxid = '\d+'\nWHERE oid = [^;]*;\n", "", text)
# ADD COLUMN ... DEFAULT leaves the default for rows older than the column
# in pg_attribute.attmissingval: how old rows are stored, not the schema
text = re.sub(r"-- set missing value\.\nSELECT pg_catalog\.binary_upgrade_set_missing_value\([^;]*\);\n", "", text)
# what the removals leave behind
text = re.sub(r"\n{3,}", "\n\n", text)
entries = re.split(r"\n--\n-- (?=Name: |TOC entry )", text)
# a sequence's position is data, compared by the snapshot, not schema
entries = [e.strip() for e in entries if e.strip() and "; Type: SEQUENCE SET;" not in e.split("\n", 1)[0]]
print("\n=====\n".join(sorted(entries)))
PY
}

upgraded=""
for release in "${RELEASES[@]}"; do
    read -r version commit <<<"$release"
    [ "$version" != "$CURRENT" ] || continue
    say "upgrade from $version (commit ${commit:0:12}) to $CURRENT"
    db="loyalty_upgrade_${version//./_}"
    src="$ROOT/target/release-src/$version"
    checkout_release "$version" "$commit" "$src"
    install_extension_from "$src" || fail "building $version failed"

    psql_q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    psql_q -d "$db" -c "CREATE EXTENSION casino_loyalty VERSION '$version'" >/dev/null
    floor=$(floor_arg "$version" "$FLOOR_STAFF")
    if names_floor_staff "$version"; then named=true; else named=false; fi
    psql -X -q -v ON_ERROR_STOP=1 -v named="$named" -v floor="$floor" -d "$db" -f tests/upgrade/seed.sql \
        >"$WORK/seed-$version.out" || { cat "$WORK/seed-$version.out"; fail "seeding $version failed"; }
    make_partials "$db" "$version" >"$WORK/partials-$version.out"
    psql_q -d "$db" -c "SELECT table_name || '|' || string_agg(column_name, ', ' ORDER BY ordinal_position)
                          FROM information_schema.columns WHERE table_schema = 'loyalty'
                           AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'loyalty')
                         GROUP BY table_name ORDER BY table_name" >"$WORK/columns-$version"
    snapshot "$db" "$WORK/before-$version" "$WORK/columns-$version"
    grep -q "^## pending_accrual" "$WORK/before-$version" || fail "snapshot has no pending_accrual"

    # the window between installing the new build and updating (SPEC §20):
    # on a copy of the database, old definitions keep working, and a writer
    # keeps writing through the update in one backend
    win="${db}_window"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $win" -c "CREATE DATABASE $win TEMPLATE $db" >/dev/null
    window_staff='5afe0000-0000-4000-8000-0000000000e1'
    window_permissions='{loyalty:award}'
    names_floor_staff "$version" && window_permissions='{loyalty:award,loyalty:rate}'
    psql_q -d "$win" -c "INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('$window_staff', '$window_permissions')" \
        -c "UPDATE loyalty.config SET rate_limit_count = 100000, alert_reward_count = 100000" >/dev/null

    install_extension || fail "building $CURRENT failed"

    old_definitions_work "$win" "$version" "$window_staff" "$(floor_arg "$version" "$window_staff")" >"$WORK/window-$version.out" \
        || { cat "$WORK/window-$version.out"; fail "calls through $version's definitions failed once $CURRENT's files were installed"; }
    # releases before 0.3.0 named one file for every version; from 0.3.0
    # each names its own
    case "$version" in
        0.1.0|0.2.0) own_library='$libdir/casino_loyalty' ;;
        *) own_library="casino_loyalty-$version" ;;
    esac
    grep -qxF "library $own_library" "$WORK/window-$version.out" \
        || { cat "$WORK/window-$version.out"; fail "$version's definitions do not call $version's library"; }
    echo "window: $version's definitions work with $CURRENT installed: $(grep -v '^library' "$WORK/window-$version.out" | tr '\n' ' ')"
    # (0.1.0 to 0.2.0 is a released step that takes its locks as it goes: a
    # writer can be its deadlock victim, so no writer runs through it)
    if [ "$version" != 0.1.0 ]; then
    writer_script 80 "$window_staff" "writer-$version" >"$WORK/writer-$version.sql"
    psql -X -q -At -d "$win" -f "$WORK/writer-$version.sql" >"$WORK/writer-$version.out" 2>&1 &
    writer=$!
    sleep 0.5
    psql_q -d "$win" -c "ALTER EXTENSION casino_loyalty UPDATE" >/dev/null || fail "ALTER EXTENSION UPDATE of $win failed"
    wait "$writer" || { tail -5 "$WORK/writer-$version.out"; fail "the writer failed through the update from $version"; }
    calls=$(writer_check "$WORK/writer-$version.out" "$version" "$CURRENT") || fail "writer through the update: $calls"
    echo "window: a writer made $calls rewards through the update from $version in one backend, through both versions' definitions"
    fi
    psql_q -d postgres -c "DROP DATABASE $win" >/dev/null

    psql_q -d "$db" -c "ALTER EXTENSION casino_loyalty UPDATE" >/dev/null || fail "ALTER EXTENSION UPDATE from $version failed"
    [ "$(psql_q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'casino_loyalty'")" = "$CURRENT" ] \
        || fail "after the update the extension is not at $CURRENT"

    # 1. the data is all there, and the balances still agree with the ledger
    snapshot "$db" "$WORK/after-$version" "$WORK/columns-$version"
    if ! diff -u "$WORK/before-$version" "$WORK/after-$version"; then
        fail "rows changed in the upgrade from $version (diff above: - before, + after)"
    fi
    mismatches=$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.verify_all_balances()")
    [ "$mismatches" = 0 ] || fail "verify_all_balances() reports $mismatches players after the upgrade from $version"
    # the upgrade sealed the old rows into valid chains
    broken=$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.verify_all_chains()")
    [ "$broken" = 0 ] || fail "verify_all_chains() reports $broken broken chains after the upgrade from $version"
    sealed=$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.loyalty_ledger WHERE seq IS NOT NULL")
    [ "$sealed" -gt 0 ] || fail "no sealed ledger rows after the upgrade from $version"
    echo "data: $(grep -c -v '^##' "$WORK/after-$version") rows unchanged, balances verified, $sealed ledger rows sealed into valid chains"

    # what the write path derives from the ledger (SPEC §20): the update
    # itself derives nothing (it would scan the ledger with writers
    # stopped); the rollover sweep, or the player's next post, derives each
    # row it brought, and then every row equals the ledger's replay, what a
    # fresh install fed the same history holds, and the checks find nothing
    for _ in $(seq 50); do
        [ "$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.player_loyalty WHERE tier_period IS NULL AND chain_seq > 0")" = 0 ] && break
        psql_q -d "$db" -c "SELECT count(*) FROM loyalty.roll_tier_period(100000)" >/dev/null
    done
    underived=$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.player_loyalty WHERE tier_period IS NULL AND chain_seq > 0")
    [ "$underived" = 0 ] || fail "$underived rows brought by the update from $version were never derived"
    differ=$(psql_q -d "$db" -c "SELECT string_agg(p.player_id::text, ' ') FROM loyalty.player_loyalty p,
                                        LATERAL loyalty.ledger_standing(p.player_id) s
                                  WHERE (p.tier, p.tier_credits, p.tier_period, p.retained_tier, p.last_earned_at,
                                         p.chain_head_at, p.gameplay_day, p.gameplay_day_points)
                                        IS DISTINCT FROM (s.tier, s.tier_credits, s.tier_period, s.retained_tier,
                                         s.last_earned_at, s.chain_head_at, s.gameplay_day, s.gameplay_day_points)")
    [ -z "$differ" ] || fail "derived values differ from the ledger's replay after the update from $version: $differ"
    findings=$(psql_q -d "$db" -c "SELECT coalesce(string_agg(kind || ' ' || subject, ', '), '') FROM loyalty.health_check()
                                    WHERE kind IN ('BALANCE_MISMATCH', 'STANDING_MISMATCH', 'HOLD_MISMATCH', 'CHAIN_BROKEN', 'TIER_DRIFT')")
    [ -z "$findings" ] || fail "health_check finds, after the update from $version: $findings"
    [ "$(psql_q -d "$db" -c "SELECT count(*) FROM loyalty.player_loyalty p, LATERAL loyalty.verify_player_balance(p.player_id) v WHERE NOT v.ok")" = 0 ] \
        || fail "verify_player_balance finds a player wrong after the update from $version"
    echo "derived: every row's tier credits, period, retained tier, last earning and chain head time equal the ledger's replay; the checks find nothing"

    # the upgraded database survives pg_dump / pg_restore whole: every
    # column of every table, the owner's edits and deleted seeds included
    restored="${db}_restored"
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $restored" -c "CREATE DATABASE $restored" >/dev/null
    "$PG_BIN/pg_dump" -Fc -f "$WORK/dump-$version" "$db" || fail "pg_dump of the upgraded database failed"
    "$PG_BIN/pg_restore" --exit-on-error -d "$restored" "$WORK/dump-$version" \
        || fail "pg_restore of the upgraded database failed"
    psql_q -d "$db" -c "SELECT table_name || '|' || string_agg(column_name, ', ' ORDER BY ordinal_position)
                          FROM information_schema.columns WHERE table_schema = 'loyalty'
                           AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'loyalty')
                         GROUP BY table_name ORDER BY table_name" >"$WORK/columns-now"
    snapshot "$db" "$WORK/upgraded-$version" "$WORK/columns-now"
    snapshot "$restored" "$WORK/restored-$version" "$WORK/columns-now"
    if ! diff -u "$WORK/upgraded-$version" "$WORK/restored-$version"; then
        fail "a dump and restore of the database upgraded from $version changed rows (diff above)"
    fi
    awk '/^## /{section=$2} section=="game_settings" && /^CRAPS\|/' "$WORK/restored-$version" | grep -q . \
        && fail "the restore brought back the seeded game the owner deleted on $version"
    awk '/^## /{section=$2} section=="seed_removed" && /^game_settings\|CRAPS\|/' "$WORK/restored-$version" | grep -q . \
        || fail "the upgrade from $version left no tombstone for the seeded game the owner deleted"
    [ "$(psql_q -d "$restored" -c "SELECT count(*) FROM loyalty.verify_all_chains()")" = 0 ] \
        || fail "chains broke in the dump and restore of the database upgraded from $version"
    psql_q -d postgres -c "DROP DATABASE $restored" >/dev/null
    echo "restore: the upgraded database dumps and restores unchanged, chains valid"

    # 3. the same schema as a fresh install
    psql_q -d postgres -c "DROP DATABASE IF EXISTS $FRESH_DB" -c "CREATE DATABASE $FRESH_DB" >/dev/null
    psql_q -d "$FRESH_DB" -c "CREATE EXTENSION casino_loyalty" >/dev/null
    schema_of "$FRESH_DB" >"$WORK/schema-fresh.sql"
    schema_of "$db" >"$WORK/schema-upgraded-$version.sql"
    normalize_schema "$WORK/schema-fresh.sql" >"$WORK/schema-fresh.norm"
    normalize_schema "$WORK/schema-upgraded-$version.sql" >"$WORK/schema-upgraded-$version.norm"
    # the dump must show every member object, or the comparison proves nothing
    members=$(psql_q -d "$FRESH_DB" -c "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
                                         WHERE e.extname = 'casino_loyalty' AND d.deptype = 'e'")
    [ "$(grep -c '^ALTER EXTENSION casino_loyalty ADD' "$WORK/schema-fresh.norm")" = "$members" ] \
        || fail "the fresh install's dump does not list all $members extension members"
    if ! diff -u "$WORK/schema-fresh.norm" "$WORK/schema-upgraded-$version.norm"; then
        fail "the schema upgraded from $version differs from a fresh $CURRENT install (diff above: - fresh, + upgraded)"
    fi
    echo "schema: equal to a fresh $CURRENT install ($members member objects, $(grep -c '^=====$' "$WORK/schema-fresh.norm") dump entries)"
    psql_q -d postgres -c "DROP DATABASE $FRESH_DB" >/dev/null

    # 2. is the caller's: the suites assume the seeded settings, so the
    # owner's edits (proven kept above) go back to the seeds first
    psql_q -d "$db" -f tests/upgrade/reset_settings.sql >/dev/null || fail "resetting the settings failed"
    upgraded="$upgraded $db"
done
[ -n "$upgraded" ] || fail "no released version older than $CURRENT to upgrade from"

# the update's stop at scale, from the newest release: 200,000 players and
# 2,000,000 ledger rows (UPGRADE_SCALE_PLAYERS to change)
read -r version commit <<<"${RELEASES[-1]}"
update_at_scale "$version" "$ROOT/target/release-src/$version" "${UPGRADE_SCALE_PLAYERS:-200000}"
echo "${upgraded# }"
