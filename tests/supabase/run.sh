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
# Supabase loads safeupdate on the API role; no package ships it here, so
# every PostgREST-shaped session loads a guard with its behaviour
# (no_unqualified_writes.c: UPDATE or DELETE without WHERE is refused, in
# functions too).
guard="$CLUSTER_DIR/no_unqualified_writes.so"
clang -shared -fPIC -O2 -Wno-ignored-attributes -I"$("$PG_BIN/pg_config" --includedir-server)" \
    -o "$guard" tests/supabase/no_unqualified_writes.c || { echo "the safeupdate guard does not build"; exit 1; }
chmod 755 "$guard"
psql -X -q -v ON_ERROR_STOP=1 -U supabase_admin -d postgres \
    -c "ALTER ROLE authenticator SET session_preload_libraries = '$guard'" >/dev/null || exit 1

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
expect "pg_cron runs the rollover every minute and inactivity expiry hourly" \
    "casino-loyalty-expire-points 17 * * * *|casino-loyalty-roll-tiers * * * * *" \
    "$(q supabase_admin "SELECT string_agg(jobname || ' ' || schedule, '|' ORDER BY jobname) FROM cron.job
                          WHERE jobname IN ('casino-loyalty-roll-tiers', 'casino-loyalty-expire-points')")"
# the same migration where pg_cron is not enabled (a database without it):
# it applies whole, and schedules nothing
psql -X -q -v ON_ERROR_STOP=1 -U supabase_admin -d postgres -c "CREATE DATABASE nocron" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -U supabase_admin -d nocron -c "CREATE EXTENSION casino_loyalty" >/dev/null
expect "without pg_cron the migration applies as postgres" ok \
    "$(psql -X -q -v ON_ERROR_STOP=1 -U postgres -d nocron -f supabase/migrations/20261126000000_casino_loyalty.sql \
           >/dev/null 2>&1 && echo ok)"
expect "and sets the casino's time zone (its transaction committed)" "America/Los_Angeles|false" \
    "$(psql -X -q -At -U supabase_admin -d nocron -c "SELECT casino_timezone || '|' ||
            EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')::text FROM loyalty.config")"
expect "the outbox is in Realtime's publication" 1 \
    "$(q supabase_admin "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                            AND schemaname = 'loyalty' AND tablename = 'notification'")"

# Requests through the authenticator, as PostgREST makes them.
expect "authenticator that has not switched role can call nothing" "ERROR 42501" \
    "$(q authenticator "SELECT loyalty_api.open_rating_slip('$player', 'BLACKJACK', 25)")"
expect "the API role's sessions refuse an UPDATE without WHERE (the safeupdate guard is loaded)" "ERROR 21000" \
    "$(q authenticator "CREATE TEMP TABLE scratch (a int); UPDATE scratch SET a = 1")"
# Through loyalty_api, the schema the README exposes.
slip=$(rpc authenticated "$(claims $staff)" \
    "SELECT id FROM loyalty_api.open_rating_slip('$player', 'BLACKJACK', 25, p_start_time => now() - interval '1 hour')")
expect "the pit boss (auth.uid()) opens a slip through loyalty_api" 36 "${#slip}"
expect "and a rater completes it" "COMPLETED|350" \
    "$(rpc authenticated "$(claims $staff)" \
        "SELECT status || '|' || points_earned FROM loyalty_api.complete_rating_slip(p_slip_id => '$slip')")"
expect "the player reads their own balance (the view, through RLS)" "$player|350|0" \
    "$(rpc authenticated "$(claims $player)" \
        "SELECT player_id || '|' || current_balance || '|' || held_points FROM loyalty_api.player_loyalty")"
expect "and nobody else's: the pit boss without view_all sees no balance" 0 \
    "$(rpc authenticated "$(claims $staff)" "SELECT count(*) FROM loyalty_api.player_loyalty")"
expect "the player reads their statement" "OPENING|||0
ENTRY|GAMEPLAY|350|350
TOTAL|GAMEPLAY|350|
CLOSING||350|350" \
    "$(rpc authenticated "$(claims $player)" \
        "SELECT concat_ws('|', line, coalesce(transaction_type, ''), coalesce(points_change::text, ''),
                          coalesce(balance_after::text, ''))
           FROM loyalty_api.player_statement('$player', now() - interval '1 day') WITH ORDINALITY s
          ORDER BY s.ordinality")"
kiosk=5afe0000-0000-4000-8000-00000000c105
expect "a kiosk account gets loyalty:redeem through the admin API" "{loyalty:redeem}" \
    "$(rpc service_role '{"role":"service_role"}' \
        "SELECT permissions FROM loyalty.upsert_staff('$kiosk', '{loyalty:redeem}', p_correlation_id => 'onboarding:kiosk-1')")"
expect "the kiosk redeems 100 points of free play through loyalty_api" "CAPTURED|100|250" \
    "$(rpc authenticated "$(claims $kiosk)" \
        "SELECT status || '|' || captured_points || '|' || balance_after FROM loyalty_api.redeem_points(
            p_player_id => '$player', p_points => 100, p_outlet => 'kiosk 7', p_reason => 'free play at kiosk 7',
            p_request_id => 'kiosk-7:0001')")"
expect "its retry by request id is the same redemption" "true|250" \
    "$(rpc authenticated "$(claims $kiosk)" \
        "SELECT idempotent_hit || '|' || balance_after FROM loyalty_api.redeem_points(
            p_player_id => '$player', p_points => 100, p_outlet => 'kiosk 7', p_reason => 'free play at kiosk 7',
            p_request_id => 'kiosk-7:0001')")"
expect "the player reads their own notifications through loyalty_api" "HOLD" \
    "$(rpc authenticated "$(claims $player)" "SELECT string_agg(DISTINCT kind, ',') FROM loyalty_api.notification")"
expect "the loyalty schema still answers (a project that exposed it keeps working until it switches)" 250 \
    "$(rpc authenticated "$(claims $player)" "SELECT current_balance FROM loyalty.player_loyalty")"
expect "a third-party (non-UUID) sub is UNAUTHORIZED, not 22P02" "ERROR PT401" \
    "$(q authenticator "BEGIN; SET LOCAL ROLE authenticated;
        SELECT set_config('request.jwt.claims', '{\"role\":\"authenticated\",\"sub\":\"google-oauth2|42\"}', true);
        SELECT loyalty_api.open_rating_slip('$player', 'BLACKJACK', 25); COMMIT;")"
expect "anon is nobody" "ERROR PT401" \
    "$(q authenticator "BEGIN; SET LOCAL ROLE anon; SELECT * FROM loyalty_api.manual_reward('$player', 5,
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
upsert_staff|staff:$kiosk|service_role (session authenticator)|false|true
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

# The trusted back end's runbooks, as service_role through the guarded API
# role: none of them runs an UPDATE or DELETE without WHERE.
expect "the runbooks and sweeps run under the safeupdate guard" "0|0|0|0|0|0|0|true" \
    "$(rpc service_role '{"role":"service_role"}' \
        "SELECT (SELECT count(*) FROM loyalty.health_check() WHERE new_alert AND kind <> 'ALERT_UNACKNOWLEDGED') || '|' ||
                (SELECT count(*) FROM loyalty.expire_holds()) || '|' ||
                (SELECT count(*) FROM loyalty.expire_inactive_points()) || '|' ||
                (SELECT attempted FROM loyalty.recover_partial_completions()) || '|' ||
                (SELECT count(*) FROM loyalty.retier_players()) || '|' ||
                (SELECT count(*) FROM loyalty.roll_tier_period()) || '|' ||
                (SELECT count(*) FROM loyalty.verify_all_balances()) || '|' ||
                (SELECT count(*) > 0 FROM (SELECT loyalty.mark_notifications_delivered(array_agg(id))
                                             FROM loyalty.claim_notifications()) d)")"

# What PostgREST can reach: only loyalty_api is exposed, so a function that
# is not in it answers 404. Checked from the catalog.
expect "loyalty_api holds exactly the client-facing functions" \
"accrue_points_from_slip approve_hold approve_slip calculate_points capture_hold complete_rating_slip complete_rating_slips hash_idempotency_key hold_points list_held_slips manual_reward manual_reward_key open_rating_slip player_balance_at player_statement recover_slip_loyalty redeem_points reject_slip reverse_redemption reward_history slip_points update_rating_slip_bet void_hold" \
    "$(q supabase_admin "SELECT string_agg(proname, ' ' ORDER BY proname) FROM pg_proc
                          WHERE pronamespace = 'loyalty_api'::regnamespace")"
expect "and two views, of a player's own balance and notifications, read as the caller" \
    "notification|v|security_invoker=true player_loyalty|v|security_invoker=true" \
    "$(q supabase_admin "SELECT string_agg(relname || '|' || relkind::text || '|' || array_to_string(reloptions, ','), ' '
                                          ORDER BY relname)
                          FROM pg_class WHERE relnamespace = 'loyalty_api'::regnamespace")"
expect "every wrapper is SECURITY INVOKER with search_path '' and calls its namesake in loyalty, nothing else" \
    "23|0|23" \
    "$(q supabase_admin "SELECT count(*) || '|' || count(*) FILTER (WHERE w.prosecdef) || '|' ||
                               count(*) FILTER (WHERE w.proconfig = ARRAY['search_path=\"\"'] AND (
            SELECT array_agg(d.refobjid::regproc::text) FROM pg_depend d
             WHERE d.classid = 'pg_proc'::regclass AND d.objid = w.oid AND d.refclassid = 'pg_proc'::regclass)
            = ARRAY['loyalty.' || w.proname])
                          FROM pg_proc w WHERE w.pronamespace = 'loyalty_api'::regnamespace")"
expect "no runbook, admin function or internal is in loyalty_api (its namesake is for trusted back ends or the owner)" 0 \
    "$(q supabase_admin "SELECT count(*) FROM pg_proc w JOIN pg_proc f ON f.proname = w.proname
                          AND f.pronamespace = 'loyalty'::regnamespace
                         WHERE w.pronamespace = 'loyalty_api'::regnamespace
                           AND NOT has_function_privilege('authenticated', f.oid, 'EXECUTE')")"
expect "each wrapper is executable by exactly the roles of its namesake" 0 \
    "$(q supabase_admin "SELECT count(*) FROM pg_proc w JOIN pg_proc f ON f.proname = w.proname
                          AND f.pronamespace = 'loyalty'::regnamespace, unnest(ARRAY['anon', 'authenticated', 'service_role']) r
                         WHERE w.pronamespace = 'loyalty_api'::regnamespace
                           AND has_function_privilege(r, w.oid, 'EXECUTE') <> has_function_privilege(r, f.oid, 'EXECUTE')")"

# Supabase's linter rules (lint.sql), on the schemas the README exposes.
exposed=$(grep -o 'PGRST_DB_SCHEMAS=[a-z_,]*' README.md | head -1 | cut -d= -f2)
expect "the README exposes loyalty_api and not loyalty" "loyalty_api|" \
    "$(tr ',' '\n' <<<"$exposed" | grep -x 'loyalty_api')|$(tr ',' '\n' <<<"$exposed" | grep -x 'loyalty')"
lint() { psql -X -q -At -v ON_ERROR_STOP=1 -v exposed="$exposed" -U supabase_admin -d postgres "$@"; }
lint -f tests/supabase/lint.sql >"$CLUSTER_DIR/lint.out" 2>&1
echo "lint: rule | what | objects checked | violations | offenders"
sed 's/^/  /' "$CLUSTER_DIR/lint.out"
expect "the linter's rules 0003 0007 0008 0009 0011 0028 0029 hold for everything the extension creates" \
    "0003|0 0007|0 0008|0 0009|0 0011|0 0028|0 0029|0" \
    "$(awk -F'|' '{printf "%s%s|%s", (NR > 1 ? " " : ""), $1, $4}' "$CLUSTER_DIR/lint.out")"
# The lint can fail: one violation of each rule planted, then rolled back.
expect "and it finds one planted violation of each rule" \
    "0003|loyalty.voucher:lint_planted 0007|loyalty.reward_replay 0008|loyalty.config loyalty.reward_replay 0009|loyalty.hold_pkey=loyalty.lint_planted 0011|loyalty.lifetime_credit(text,bigint) 0028|loyalty_api.manual_reward(uuid,bigint,text,uuid,uuid,text,text,text) 0029|loyalty_api.manual_reward(uuid,bigint,text,uuid,uuid,text,text,text)" \
    "$(lint -c BEGIN -c "ALTER FUNCTION loyalty.lifetime_credit RESET search_path" \
        -c "CREATE POLICY lint_planted ON loyalty.voucher FOR SELECT USING (player_id = auth.uid())" \
        -c "CREATE INDEX lint_planted ON loyalty.hold (player_id, hold_id)" \
        -c "ALTER FUNCTION loyalty_api.manual_reward SECURITY DEFINER" \
        -c "ALTER TABLE loyalty.reward_replay DISABLE ROW LEVEL SECURITY" \
        -c "DROP POLICY config_owner_only ON loyalty.config" \
        -f tests/supabase/lint.sql -c ROLLBACK 2>&1 | awk -F'|' '/^0/ {printf "%s%s|%s", n++ ? " " : "", $1, $5}')"

[ "$FAILED" = 0 ] && echo "supabase: every step and check passed"
exit "$FAILED"
