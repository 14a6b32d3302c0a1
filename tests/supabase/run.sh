#!/usr/bin/env bash
# Self-hosted Supabase, step by step: a throwaway cluster bootstrapped the
# way the supabase/postgres image is (bootstrap.sql: supabase_admin is the
# superuser, postgres is not, authenticator is NOINHERIT, auth.uid()), then
# every step of README.md's "Supabase" section, read from the README and run
# as the role it names, then checks of what a Supabase project relies on.
# Expects the extension installed (scripts/test.sh does that first).
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
trap cluster_stop EXIT
CLUSTER_SUPERUSER=supabase_admin cluster_start "shared_preload_libraries = 'pg_cron'" \
    "cron.use_background_workers = on" "max_worker_processes = 20" "wal_level = logical" >/dev/null || exit 1

q() {  # q ROLE SQL: one psql call as ROLE in database postgres; stdout, or "ERROR <sqlstate>"
    local role="$1" sql="$2" out
    if out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -U "$role" -d postgres -c "$sql" 2>&1); then
        printf '%s' "$out"
    else
        printf 'ERROR %s' "$(grep -o 'ERROR: *[0-9A-Z]\{5\}' <<<"$out" | head -1 | awk '{print $2}')"
    fi
}

psql -X -q -v ON_ERROR_STOP=1 -U supabase_admin -d postgres -f tests/supabase/bootstrap.sql >/dev/null \
    || { echo "bootstrap failed"; exit 1; }

# README.md's steps: each ```sql block after a <!-- supabase-step: ROLE --> line.
python3 - <<'PY' >"$CLUSTER_DIR/steps"
import re
text = open("README.md").read()
section = text[text.index("## Supabase\n"):]
section = section[:section.index("\n## ", 1)]
for n, (role, sql) in enumerate(re.findall(r"<!-- supabase-step: (\w+) -->\n```sql\n(.*?)```", section, re.S)):
    path = f"{__import__('os').environ['CLUSTER_DIR']}/step{n}.sql"
    open(path, "w").write(sql)
    print(role, path)
PY
steps=0
while read -r role file; do
    steps=$((steps + 1))
    if psql -X -q -v ON_ERROR_STOP=1 -U "$role" -d postgres -f "$file" >"$file.out" 2>&1; then
        echo "ok: README step $steps as $role"
    else
        echo "FAIL: README step $steps as $role"; cat "$file.out"; FAILED=1
    fi
done <"$CLUSTER_DIR/steps"
expect "README has the three executable steps" 3 "$steps"

staff=5afe0000-0000-4000-8000-00000000b055
player=00000000-0000-4000-8000-00000000c001
claims() { printf '{"role":"authenticated","sub":"%s"}' "$1"; }
# what PostgREST does for one request: log in as authenticator, then per transaction
rpc() {  # rpc ROLE CLAIMS SQL
    q authenticator "BEGIN; SET LOCAL ROLE $1; SELECT set_config('request.jwt.claims', '$2', true); $3; COMMIT;" \
        | tail -n +2
}

expect "the extension belongs to supabase_admin" supabase_admin \
    "$(q postgres "SELECT extowner::regrole FROM pg_extension WHERE extname = 'casino_loyalty'")"
expect "postgres is no superuser" f "$(q postgres "SELECT rolsuper FROM pg_roles WHERE rolname = 'postgres'")"
expect "postgres cannot write the tables (why the admin API exists)" "ERROR 42501" \
    "$(q postgres "INSERT INTO loyalty.staff (staff_id) VALUES (gen_random_uuid())")"
expect "postgres without SET ROLE is not trusted" "ERROR PT401" \
    "$(q postgres "SELECT loyalty.upsert_staff(gen_random_uuid(), '{loyalty:award}')")"
expect "the migration set the time zone, audited as service_role from postgres" \
    "America/Los_Angeles|service_role (session postgres)" \
    "$(q supabase_admin "SELECT c.casino_timezone || '|' || a.actor FROM loyalty.config c, loyalty.admin_audit a
                          WHERE a.correlation_id = 'migration:20261126000000_casino_loyalty'")"
expect "the README's pit boss exists with her permissions" "{loyalty:rate,loyalty:award}|true" \
    "$(q supabase_admin "SELECT permissions::text || '|' || active FROM loyalty.staff WHERE staff_id = '$staff'")"
expect "pg_cron runs the health check every minute" "* * * * *|postgres" \
    "$(q supabase_admin "SELECT schedule || '|' || username FROM cron.job WHERE jobname = 'casino-loyalty-health'")"
expect "the outbox is in Realtime's publication" 1 \
    "$(q supabase_admin "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                            AND schemaname = 'loyalty' AND tablename = 'notification'")"

# Requests through the authenticator, as PostgREST makes them.
expect "authenticator that has not switched role can call nothing" "ERROR 42501" \
    "$(q authenticator "SELECT loyalty.open_rating_slip('$player', 'BLACKJACK', 25)")"
slip=$(rpc authenticated "$(claims $staff)" \
    "SELECT id FROM loyalty.open_rating_slip('$player', 'BLACKJACK', 25, NULL, NULL, now() - interval '1 hour')")
expect "the pit boss (auth.uid()) opens a slip" 36 "${#slip}"
expect "and closes it" COMPLETED \
    "$(rpc authenticated "$(claims $staff)" "SELECT status FROM loyalty.complete_rating_slip('$slip')")"
expect "the player reads their balance through RLS" 350 \
    "$(rpc authenticated "$(claims $player)" "SELECT current_balance FROM loyalty.player_loyalty")"
expect "a third-party (non-UUID) sub is UNAUTHORIZED, not 22P02" "ERROR PT401" \
    "$(q authenticator "BEGIN; SET LOCAL ROLE authenticated;
        SELECT set_config('request.jwt.claims', '{\"role\":\"authenticated\",\"sub\":\"google-oauth2|42\"}', true);
        SELECT loyalty.open_rating_slip('$player', 'BLACKJACK', 25); COMMIT;")"
expect "anon is nobody" "ERROR PT401" \
    "$(q authenticator "BEGIN; SET LOCAL ROLE anon; SELECT * FROM loyalty.manual_reward('$player', 5,
        'a long enough reason', '$staff'); COMMIT;")"
expect "the service-role back end changes a game through the admin API" 2.5000 \
    "$(rpc service_role '{"role":"service_role"}' \
        "SELECT house_edge FROM loyalty.upsert_game_settings('BLACKJACK', p_house_edge => 2.5,
                                                             p_correlation_id => 'backend:edge')")"
expect "and retires the pit boss" f \
    "$(rpc service_role '{"role":"service_role"}' \
        "SELECT active FROM loyalty.deactivate_staff('$staff', p_correlation_id => 'backend:offboard')")"
expect "postgres (non-superuser) adds a tier" 75000 \
    "$(q postgres "BEGIN; SET LOCAL ROLE service_role;
                   SELECT threshold_points FROM loyalty.upsert_tier('DIAMOND', 75000, 'migration:diamond'); COMMIT;")"
expect "every admin change is audited: who, what, before and after, correlation id" \
    "configure|config|service_role (session postgres)|true|true
upsert_staff|staff:$staff|service_role (session postgres)|false|true
upsert_game_settings|game_settings:BLACKJACK|service_role (session authenticator)|true|true
deactivate_staff|staff:$staff|service_role (session authenticator)|true|true
upsert_tier|tier:DIAMOND|service_role (session postgres)|false|true" \
    "$(q supabase_admin "SELECT action || '|' || target || '|' || actor || '|' || (before IS NOT NULL) || '|' ||
                               (after IS NOT NULL AND correlation_id <> '')
                          FROM loyalty.admin_audit ORDER BY id")"
expect "each kept updated_at" t \
    "$(q supabase_admin "SELECT bool_and(updated_at > now() - interval '1 hour') FROM (
          SELECT updated_at FROM loyalty.config UNION ALL
          SELECT updated_at FROM loyalty.staff WHERE staff_id = '$staff' UNION ALL
          SELECT updated_at FROM loyalty.game_settings WHERE game_type = 'BLACKJACK' UNION ALL
          SELECT updated_at FROM loyalty.tier WHERE tier = 'DIAMOND') u")"

[ "$FAILED" = 0 ] && echo "supabase: every step and check passed"
exit "$FAILED"
