#!/usr/bin/env bash
# A replicated cluster (SPEC §18). A primary and a hot standby made with
# pg_basebackup, streaming, and then:
#   1. the standby: every reading function answers as the primary does
#      after catch-up, health_check reports without raising alerts, and
#      every writing function refuses with 25006 before doing anything;
#   2. failover with synchronous replication: client processes load the
#      primary with completions, rewards and holds, recording what was
#      acknowledged; the primary is SIGKILLed; the standby is promoted; the
#      clients reconnect and retry what was in flight by its key; every
#      acknowledged call is there exactly once and the books are whole;
#   3. the same with asynchronous replication, which may lose the last
#      acknowledged commits (README, "Deployment"), but never half a call.
# Expects the extension installed (scripts/test.sh does that first).
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"

STANDBY_DIR=
stop_all() {
    if [ -n "$STANDBY_DIR" ] && [ -d "$STANDBY_DIR" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$STANDBY_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$STANDBY_DIR"
        STANDBY_DIR=
    fi
    cluster_stop
}
trap stop_all EXIT

STARTED=()  # every data directory the suite started a server in
RATER=5afe0000-0000-4000-8000-0000000000a1
AWARDER=5afe0000-0000-4000-8000-0000000000a2
REDEEMER=5afe0000-0000-4000-8000-0000000000a3
PLAYERS=240

# p HOST PORT SQL: one statement as the superuser on database loyalty.
p() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$1" -p "$2" -d loyalty -c "$3"; }

# A primary (synchronous_standby_names from $1) with the extension, staff,
# players with points and one open slip each; then its standby, caught up.
start_pair() {
    local sync_names=$1
    cluster_start "wal_level = replica" "max_wal_senders = 4" "hot_standby = on" "wal_keep_size = '256MB'" \
        "synchronous_commit = on" >/dev/null || exit 1
    PRIMARY_HOST=$PGHOST PRIMARY_PORT=$PGPORT
    createdb loyalty
    p "$PRIMARY_HOST" "$PRIMARY_PORT" "CREATE EXTENSION casino_loyalty" >/dev/null
    psql -X -q -v ON_ERROR_STOP=1 -d loyalty >/dev/null <<SQL || exit 1
SELECT loyalty.configure(p_rate_limit_count => 1000000, p_alert_reward_count => 1000000,
                         p_correlation_id => 'replication:setup');
SELECT loyalty.upsert_staff('$RATER', '{loyalty:rate}'), loyalty.upsert_staff('$AWARDER', '{loyalty:award}'),
       loyalty.upsert_staff('$REDEEMER', '{loyalty:redeem}');
CREATE TABLE public.player AS
    SELECT g AS n, ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid AS id
      FROM generate_series(1, $PLAYERS) g;
SELECT count(*) FROM public.player p,
       LATERAL loyalty.manual_reward(p.id, 5000, 'a floor with history', '$AWARDER', p_reward_id => 'seed:' || p.n);
CREATE TABLE public.slip AS
    SELECT p.n, s.id FROM public.player p,
           LATERAL loyalty.open_rating_slip(p.id, 'BLACKJACK', 25, p_start_time => now() - interval '1 hour',
                                            p_staff_id => '$RATER') s;
SQL
    STANDBY_DIR="$(mktemp -d /tmp/casino_loyalty_standby.XXXXXX)"
    chmod 755 "$STANDBY_DIR"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$STANDBY_DIR"
    STANDBY_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    as_pg "$PG_BIN/pg_basebackup" -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PGUSER" -D "$STANDBY_DIR/data" \
        -X stream -c fast -R -d "application_name=standby1" >/dev/null || exit 1
    # its own socket and port; after a promotion it waits for no standby
    cat >>"$STANDBY_DIR/data/postgresql.conf" <<CONF
unix_socket_directories = '$STANDBY_DIR'
port = $STANDBY_PORT
synchronous_standby_names = ''
CONF
    as_pg "$PG_BIN/pg_ctl" -D "$STANDBY_DIR/data" -l "$STANDBY_DIR/server.log" -w -t 60 start >/dev/null || exit 1
    STANDBY_HOST=$STANDBY_DIR
    STARTED+=("$PGDATA" "$STANDBY_DIR/data")
    # synchronous from now on (before, every commit would wait for it)
    p "$PRIMARY_HOST" "$PRIMARY_PORT" "ALTER SYSTEM SET synchronous_standby_names = '$sync_names'" >/dev/null
    p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT pg_reload_conf()" >/dev/null
    caught_up
    if [ -n "$sync_names" ]; then
        for i in $(seq 1 100); do
            [ "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] \
                && break
            sleep 0.1
        done
    fi
}

# Wait until the standby has replayed everything the primary has written.
caught_up() {
    local lsn i
    lsn=$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT pg_current_wal_lsn()")
    for i in $(seq 1 100); do
        [ "$(p "$STANDBY_HOST" "$STANDBY_PORT" "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && return 0
        sleep 0.1
    done
    echo "FAIL: the standby did not catch up"; FAILED=1
}

# ---------------------------------------------------------------------------
if [ -z "${REPLICATION_SKIP_STANDBY:-}" ]; then
say "a primary and a synchronous hot standby"
start_pair standby1
expect "the standby streams synchronously" "standby1|sync" \
    "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT application_name || '|' || sync_state FROM pg_stat_replication")"
expect "and is in recovery" t "$(p "$STANDBY_HOST" "$STANDBY_PORT" "SELECT pg_is_in_recovery()")"

# Some of everything on the primary: a completion, a redemption, a held
# slip, a tampered balance (a finding for the health check).
p "$PRIMARY_HOST" "$PRIMARY_PORT" "
    SELECT count(*) FROM loyalty.complete_rating_slip((SELECT id FROM public.slip WHERE n = 1), 'replication:complete-1',
                                                       p_staff_id => '$RATER');
    SELECT count(*) FROM loyalty.redeem_points((SELECT id FROM public.player WHERE n = 2), 300, 'kiosk 1',
                                               'free play at kiosk 1', '$REDEEMER', 'kiosk-1:1');
    SELECT count(*) FROM loyalty.hold_points((SELECT id FROM public.player WHERE n = 3), 200, 'bar', 'a round at the bar',
                                             '$REDEEMER', 'bar:1');
    UPDATE loyalty.player_loyalty SET current_balance = current_balance + 1
     WHERE player_id = (SELECT id FROM public.player WHERE n = 4);" >/dev/null
caught_up

# Every reading function, on both servers, with fixed arguments.
reads="SELECT * FROM loyalty.player_balance_at((SELECT id FROM public.player WHERE n = 1), (SELECT max(created_at) FROM loyalty.loyalty_ledger))
SELECT * FROM loyalty.player_statement((SELECT id FROM public.player WHERE n = 2), '2000-01-01', '2100-01-01')
SELECT * FROM loyalty.verify_ledger_chain((SELECT id FROM public.player WHERE n = 3))
SELECT h -> 'heads' FROM loyalty.ledger_chain_heads() h
SELECT count(*) FROM loyalty.verify_all_chains()
SELECT count(*) FROM loyalty.verify_all_balances()
SELECT * FROM loyalty.verify_player_balance((SELECT id FROM public.player WHERE n = 4))
SELECT count(*) FROM loyalty.list_held_slips()
SELECT count(*) FROM loyalty.list_partial_completions()
SELECT * FROM loyalty.export_ledger('-infinity', 'infinity')
SELECT * FROM loyalty.reward_history((SELECT id FROM public.player WHERE n = 5), '2000-01-01', '2100-01-01')
SELECT * FROM loyalty.staff_activity('$AWARDER', '2000-01-01', '2100-01-01') s WHERE s::text NOT LIKE '(window,%'
SELECT * FROM loyalty.manual_reward_frequency('2000-01-01', '2100-01-01')
SELECT * FROM loyalty.lookup_correlation('replication:complete-1')
SELECT * FROM loyalty.exception_report(current_date - 1, current_date + 1)
SELECT * FROM loyalty.slip_points((SELECT id FROM public.slip WHERE n = 1))
SELECT * FROM loyalty.calculate_points('BLACKJACK', 25, 3600)
SELECT * FROM loyalty.manual_reward_key((SELECT id FROM public.player WHERE n = 7), '$AWARDER', 5, 'a long enough reason', p_at => '2026-01-01')
SELECT * FROM loyalty.hash_idempotency_key('{\"a\": 1}')
SELECT * FROM loyalty_api.player_loyalty
SELECT (m).* FROM (SELECT m FROM loyalty.metrics() m) x"
same=0 differ=""
while IFS= read -r sql; do
    # (sorted: a function without ORDER BY may return its rows in any order)
    a=$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "$sql" 2>&1 | sort || true)
    b=$(p "$STANDBY_HOST" "$STANDBY_PORT" "$sql" 2>&1 | sort || true)
    if [ "$a" = "$b" ] && [ -n "$a" ] && ! grep -q ERROR <<<"$a"; then
        same=$((same + 1))
    else
        differ+=" [$sql: $(diff <(echo "$a") <(echo "$b") | head -c 600 || true)]"
    fi
done <<<"$reads"
expect "the standby answers every reading function as the primary does ($(wc -l <<<"$reads") functions)" \
    "$(wc -l <<<"$reads")|" "$same|$differ"

expect "health_check on the standby reports the tampered balance, raising no alert" "BALANCE_MISMATCH|false|" \
    "$(p "$STANDBY_HOST" "$STANDBY_PORT" "SELECT kind || '|' || new_alert || '|' || coalesce(alert_id::text, '')
                                            FROM loyalty.health_check() WHERE kind = 'BALANCE_MISMATCH'")"
alert=$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT alert_id FROM loyalty.health_check()
                                           WHERE kind = 'BALANCE_MISMATCH' AND new_alert")
expect "the primary's health check raises it" 1 "$(grep -c . <<<"$alert")"
caught_up
expect "then the standby's names the primary's alert, and still raises none" "BALANCE_MISMATCH|false|$alert" \
    "$(p "$STANDBY_HOST" "$STANDBY_PORT" "SELECT kind || '|' || new_alert || '|' || alert_id
                                            FROM loyalty.health_check() WHERE kind = 'BALANCE_MISMATCH'")"
expect "and the standby has no alert the primary does not" \
    "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT count(*) FROM loyalty.alert")" \
    "$(p "$STANDBY_HOST" "$STANDBY_PORT" "SELECT count(*) FROM loyalty.alert")"

# Every writing function (volatile, callable by an API role), and each of
# their loyalty_api wrappers, called with NULL for every argument: on the
# standby each refuses with 25006 and its sentence before looking at one.
refusals=$(psql -X -q -At -h "$STANDBY_HOST" -p "$STANDBY_PORT" -d loyalty 2>&1 <<'SQL' | sed -n 's/^NOTICE:  //p'
DO $$
DECLARE
    f record;
    v_state text;
    v_msg text;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure::text AS fn,
               format('SELECT * FROM %s(%s)', p.oid::regproc,
                      (SELECT string_agg('NULL::' || format_type(t, NULL), ', ')
                         FROM unnest(p.proargtypes) t)) AS sql
          FROM pg_proc p
         WHERE p.pronamespace IN ('loyalty'::regnamespace, 'loyalty_api'::regnamespace)
           AND p.provolatile = 'v' AND p.prorettype <> 'trigger'::regtype
           AND p.proname <> 'health_check'  -- it reports on a standby (above)
           AND (has_function_privilege('service_role', p.oid, 'EXECUTE')
                OR has_function_privilege('authenticated', p.oid, 'EXECUTE'))
         ORDER BY 1
    LOOP
        BEGIN
            EXECUTE f.sql;
            v_state := 'none'; v_msg := 'answered';
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
        END;
        RAISE NOTICE '%=%:%', f.fn, v_state, v_msg;
    END LOOP;
END
$$;
SQL
)
writers=$(grep -c . <<<"$refusals")
expect "every writing function and wrapper refuses with 25006 READ_ONLY_STANDBY on the standby ($writers of them)" \
    "" "$(grep -v '=25006:READ_ONLY_STANDBY$' <<<"$refusals")"
[ "$writers" -ge 40 ] || { echo "FAIL: only $writers writing functions found"; FAILED=1; }
expect "with its sentence" \
    "DETAIL:  this server is a hot standby (in recovery) and takes no writes: call the primary" \
    "$(psql -X -q -At -h "$STANDBY_HOST" -p "$STANDBY_PORT" -d loyalty -v VERBOSITY=verbose \
         -c "SELECT loyalty_api.manual_reward(NULL, NULL, NULL, NULL)" 2>&1 | grep '^DETAIL')"
stop_all
fi

# ---------------------------------------------------------------------------
# failover MODE: sync or async. Three client processes each run one
# completion, one reward and one hold per round against whatever server the
# file "target" names, recording every acknowledged call (acked) and every
# call that failed for want of a server and was retried by its key (retried).
CLIENTS=3
ROUNDS=70
client() {
    local k=$1 dir=$2 r n kind key sql out tries
    for r in $(seq 1 "$ROUNDS"); do
        n=$(( (r - 1) * CLIENTS + k ))
        for kind in complete reward hold; do
            case $kind in
                complete) key="slip:$n"
                    sql="SELECT status FROM loyalty.complete_rating_slip((SELECT id FROM public.slip WHERE n = $n),
                                                                          p_staff_id => '$RATER')" ;;
                reward) key="c$k-r$r"
                    sql="SELECT idempotent_hit FROM loyalty.manual_reward((SELECT id FROM public.player WHERE n = $n),
                             7, 'failover reward', '$AWARDER', p_reward_id => '$key')" ;;
                hold) key="c$k-h$r"
                    sql="SELECT idempotent_hit FROM loyalty.hold_points((SELECT id FROM public.player WHERE n = $n),
                             3, 'bar', 'failover hold', '$REDEEMER', '$key', p_ttl => '1 day')" ;;
            esac
            tries=0
            while :; do
                read -r host port <"$dir/target"
                # the answer is stdout's first line; a server that dies just
                # after answering may add a FATAL line on stderr
                if out=$(p "$host" "$port" "$sql" 2>"$dir/stderr.$k"); then
                    echo "$kind $key $(head -1 <<<"$out")" >>"$dir/acked.$k"
                    break
                fi
                out=$(cat "$dir/stderr.$k")
                tries=$((tries + 1))
                # no server, or not yet one that takes writes: the same call
                # again, by its key, for up to a minute
                case "$out" in
                    *"could not connect"*|*"server closed"*|*"terminating connection"*|*"connection to server"*|*READ_ONLY_STANDBY*)
                        if [ "$tries" -lt 600 ]; then
                            echo "$kind $key" >>"$dir/retried.$k"; sleep 0.1; continue
                        fi ;;
                esac
                echo "$kind $key $out" | tr '\n' ' ' >>"$dir/refused.$k"; echo >>"$dir/refused.$k"
                break
            done
        done
    done
}

failover() {
    local mode=$1 names dir pm acked retried inflight found lost
    [ "$mode" = sync ] && names=standby1 || names=''
    say "failover, $mode replication: SIGKILL the primary under load, promote the standby"
    start_pair "$names"
    dir="$STANDBY_DIR/clients"
    mkdir -p "$dir"
    echo "$PRIMARY_HOST $PRIMARY_PORT" >"$dir/target"
    local pids=()
    for k in $(seq 1 "$CLIENTS"); do client "$k" "$dir" & pids+=($!); done
    # let the load run, then the machine dies: the postmaster and every backend
    sleep 2
    pm=$(head -1 "$PGDATA/postmaster.pid")
    kill -9 "$pm" $(pgrep -P "$pm") 2>/dev/null || true
    as_pg "$PG_BIN/pg_ctl" -D "$STANDBY_DIR/data" -w -t 60 promote >/dev/null || { echo "FAIL: promote"; FAILED=1; }
    echo "$STANDBY_HOST $STANDBY_PORT" >"$dir/target"
    wait "${pids[@]}"
    PRIMARY_HOST=$STANDBY_HOST PRIMARY_PORT=$STANDBY_PORT
    cat "$dir"/acked.* >"$dir/acked"
    cat "$dir"/retried.* 2>/dev/null | sort -u >"$dir/retried" || true
    expect "$mode: no call was refused" "" "$(cat "$dir"/refused.* 2>/dev/null | head -3)"
    acked=$(wc -l <"$dir/acked")
    retried=$(wc -l <"$dir/retried")
    # what each acknowledged call left on the promoted server, by its key
    local q="CREATE TEMP TABLE acked (kind text, key text, answer text);
             COPY acked FROM STDIN WITH (DELIMITER ' ');"
    found=$( { echo "$q"; cat "$dir/acked"; echo '\.'; echo "
        SELECT count(*) FILTER (WHERE n = 1) || '|' || count(*) FILTER (WHERE n = 0) || '|'
               || count(*) FILTER (WHERE n > 1)
          FROM (SELECT a.key, CASE a.kind
                    WHEN 'complete' THEN (SELECT count(*) FROM loyalty.loyalty_ledger l JOIN public.slip s
                                             ON l.rating_slip_id = s.id AND 'slip:' || s.n = a.key
                                          WHERE l.transaction_type = 'GAMEPLAY')
                    WHEN 'reward' THEN (SELECT count(*) FROM loyalty.loyalty_ledger l WHERE l.reward_id = a.key)
                    ELSE (SELECT count(*) FROM loyalty.hold h WHERE h.idempotency_key = 'hold:req:' || a.key)
                END AS n
                  FROM acked a) x;"; } | psql -X -q -At -v ON_ERROR_STOP=1 -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -d loyalty)
    lost=$(cut -d'|' -f2 <<<"$found")
    inflight=$(grep -c . "$dir/retried" || true)
    echo "$mode failover: $acked calls acknowledged, $inflight in flight at the kill and retried by key" \
         "($(grep -c ' t$\| ALREADY_COMPLETED$' "$dir/acked" || true) answered as idempotent hits: a commit the client never saw)," \
         "$(cut -d'|' -f1 <<<"$found") found once after promotion, $lost lost, $(cut -d'|' -f3 <<<"$found") doubled"
    [ "$mode" = sync ] && expect "sync: every acknowledged call is on the promoted server exactly once" \
        "$acked|0|0" "$found"
    [ "$mode" = async ] && expect "async: no acknowledged call is there twice" 0 "$(cut -d'|' -f3 <<<"$found")"
    expect "$mode: every key the clients sent is there exactly once (the lost ones retried: none doubled)" 0 \
        "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT count(*) FROM (SELECT reward_id FROM loyalty.loyalty_ledger
            WHERE reward_id IS NOT NULL GROUP BY 1 HAVING count(*) > 1
            UNION ALL SELECT rating_slip_id::text FROM loyalty.loyalty_ledger WHERE transaction_type = 'GAMEPLAY'
            GROUP BY 1 HAVING count(*) > 1) d")"
    expect "$mode: the books are whole: balances equal the ledger, chains verify, holds equal held_points, pending rows true" \
        "0|0|0|0" \
        "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT
            (SELECT count(*) FROM loyalty.verify_all_balances()) || '|' ||
            (SELECT count(*) FROM loyalty.verify_all_chains()) || '|' ||
            (SELECT count(*) FROM loyalty.player_loyalty p LEFT JOIN (SELECT player_id, sum(points) AS live
                FROM loyalty.hold WHERE status IN ('ACTIVE', 'PENDING_APPROVAL') GROUP BY 1) h USING (player_id)
              WHERE p.held_points <> coalesce(h.live, 0)) || '|' ||
            (SELECT count(*) FROM loyalty.pending_accrual a JOIN loyalty.loyalty_ledger l
                ON l.player_id = a.player_id AND l.idempotency_key = 'gameplay:' || a.rating_slip_id
              WHERE a.resolved_at IS NULL)")"
    expect "$mode: the promoted server takes writes" COMPLETED \
        "$(p "$PRIMARY_HOST" "$PRIMARY_PORT" "SELECT status FROM loyalty.complete_rating_slip(
            (SELECT id FROM public.slip WHERE n = $PLAYERS), p_staff_id => '$RATER')")"
    stop_all
}
for mode in ${REPLICATION_MODES:-sync async}; do failover "$mode"; done

left=0
for d in "${STARTED[@]}"; do
    if pgrep -f -- "-D $d" >/dev/null; then left=$((left + 1)); fi
done
expect "no server process is left behind (${#STARTED[@]} servers started)" 0 "$left"

[ "$FAILED" = 0 ] && echo "replication: every check passed"
exit "$FAILED"
