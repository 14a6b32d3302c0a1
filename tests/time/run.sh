#!/usr/bin/env bash
# Tiers that age, on the server's own clock moved by libfaketime (Debian
# `faketime`): a throwaway cluster whose processes read the time through
# libfaketime, with the offset in a file this script rewrites (read again on
# every clock call), so the extension runs unchanged and only the clock moves.
# A casino with qualification years starting 1 October (gaming day 06:00,
# UTC) lives through two rollovers (SPEC §16). Expects the extension
# installed (scripts/test.sh does that first).
source "$(dirname "$0")/../../scripts/lib.sh"
cd "$ROOT"
LIBFAKETIME="$(libfaketime)" || { echo "libfaketime missing (Debian package faketime)"; exit 1; }
CLOCK_DIR="$(mktemp -d /tmp/casino_loyalty_clock.XXXXXX)"
chmod 755 "$CLOCK_DIR"
CLOCK="$CLOCK_DIR/offset"
echo "+0" >"$CLOCK" && chmod 644 "$CLOCK"
trap 'cluster_stop; rm -rf "$CLOCK_DIR"' EXIT
# the server's clock = real time + the offset in $CLOCK
at() {  # at 'YYYY-MM-DD HH:MM:SS' (UTC): move the server's clock there
    local offset=$(($(date -ud "$1" +%s) - $(date +%s)))
    if [ "$offset" -ge 0 ]; then echo "+$offset"; else echo "$offset"; fi >"$CLOCK"
}
at '2026-06-15 12:00:00'
CLUSTER_ENV=(LD_PRELOAD="$LIBFAKETIME" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1)
cluster_start "autovacuum = off" >/dev/null || exit 1

q() {  # q SQL: one psql call as the owner; stdout, or "ERROR <sqlstate>"
    local out
    if out=$(psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=sqlstate -d loyalty_time -c "$1" 2>&1); then
        printf '%s' "$out"
    else
        printf 'ERROR %s' "$(grep -o 'ERROR: *[0-9A-Z]\{5\}' <<<"$out" | head -1 | awk '{print $2}')"
    fi
}
staff=5afe0000-0000-4000-8000-00000000a0d1
A=00000000-0000-4000-8000-0000000000a1  # GOLD in the first year, a little play in the second
B=00000000-0000-4000-8000-0000000000b1  # SILVER in the first year, nothing after
C=00000000-0000-4000-8000-0000000000c1  # GOLD, then most of it taken back by an adjustment
D=00000000-0000-4000-8000-0000000000d1  # plays just after the rollover, before the sweep
E=00000000-0000-4000-8000-0000000000e1  # SILVER by lifetime points before the casino switched
reward() {  # reward PLAYER POINTS: a manual reward by the pit boss, as a trusted back end
    q "SELECT transaction_type || ' ' || tier_before || '>' || tier_after
         FROM loyalty.manual_reward('$1', $2, 'qualification test reward', '$staff')"
}
standing() {  # standing PLAYER: tier, progress, credits, period, retained tier
    q "SELECT tier || ' ' || tier_progress || ' ' || tier_credits || ' ' || tier_period || ' '
              || coalesce(retained_tier, '-') FROM loyalty.player_loyalty WHERE player_id = '$1'"
}
roll() {  # roll: the rollover's rows, one line per player rolled
    q "SELECT string_agg(right(player_id::text, 2) || ':' || tier_before || '>' || tier_after || ' '
                         || period_credits || ' ' || coalesce(retained_tier, '-'), ', ' ORDER BY player_id)
         FROM loyalty.roll_tier_period()"
}
drift() { q "SELECT count(*) FROM loyalty.health_check() WHERE kind = 'TIER_DRIFT'"; }

createdb loyalty_time && q "CREATE EXTENSION casino_loyalty" >/dev/null
expect "the server's clock is moved" "2026-06-15 12:00" "$(q "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')")"
q "INSERT INTO loyalty.staff (staff_id, permissions) VALUES ('$staff', '{loyalty:award}')" >/dev/null
expect "under LIFETIME (the default) E earns" "MANUAL_BONUS BRONZE>BRONZE" "$(reward $E 6000)"
expect "and reaches SILVER by lifetime points" "MANUAL_BONUS BRONZE>SILVER" "$(reward $E 6001)"

at '2027-03-15 12:00:00'
expect "nine months on" "2027-03-15" "$(q "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')")"
e_row=$(q "SELECT md5(p::text) FROM loyalty.player_loyalty p WHERE player_id = '$E'")
expect "the casino turns the period basis on, years from 1 October" "PERIOD 10-01" \
    "$(q "SELECT tier_basis || ' ' || tier_period_start FROM loyalty.configure(p_tier_basis => 'PERIOD',
            p_tier_period_start => '10-01', p_max_reward_points => 100000, p_rate_limit_count => 1000,
            p_alert_reward_count => 1000, p_correlation_id => 'time:policy')")"
expect "the switch touches no player's row (it locks none)" "$e_row" \
    "$(q "SELECT md5(p::text) FROM loyalty.player_loyalty p WHERE player_id = '$E'")"
expect "E keeps SILVER through the current year: the tier held under LIFETIME is the retained tier" \
    "true SILVER SILVER" \
    "$(q "SELECT c.ok || ' ' || (c.ledger_standing ->> 'retained_tier') || ' ' || p.tier
            FROM loyalty.player_loyalty p, loyalty.standing_check(p.player_id) c WHERE p.player_id = '$E'")"
expect "the current year began 2026-10-01" 2026-10-01 "$(q "SELECT loyalty.tier_period_of()")"
expect "the next sweep brings E's standing into it, SILVER kept (no change, no notification)" \
    "e1:SILVER>SILVER 12001 SILVER" "$(roll)"
expect "A reaches GOLD" "MANUAL_BONUS BRONZE>GOLD" "$(reward $A 60000)"
expect "B reaches SILVER" "MANUAL_BONUS BRONZE>SILVER" "$(reward $B 20000)"
expect "D reaches SILVER" "MANUAL_BONUS BRONZE>SILVER" "$(reward $D 15000)"
expect "C reaches GOLD" "MANUAL_BONUS BRONZE>GOLD" "$(reward $C 60000)"
expect "an adjustment takes C's credits back but not the tier inside the year" "ADJUSTMENT GOLD>GOLD" "$(reward $C -55000)"
expect "C: GOLD held, 5,000 credits, 10% of the way to keeping it" "GOLD 10 5000 2026-10-01 -" "$(standing $C)"
expect "retier_players keeps every tier held in the year" "" "$(q "SELECT string_agg(player_id::text, ',') FROM loyalty.retier_players()")"
expect "the health check finds no tier drift" 0 "$(drift)"

at '2027-10-01 05:59:00'
expect "one minute before the gaming day of 1 October the year has not turned" 2026-10-01 "$(q "SELECT loyalty.tier_period_of()")"
expect "and the rollover finds nobody" "" "$(roll)"

at '2027-10-01 06:00:30'
expect "at the gaming-day start of 1 October a new year begins" 2027-10-01 "$(q "SELECT loyalty.tier_period_of()")"
expect "D plays before the sweep: the post itself rolls D (SILVER kept) and counts the points in the new year" \
    "MANUAL_BONUS SILVER>SILVER" "$(reward $D 100)"
expect "D: SILVER retained, 100 credits of the new year" "SILVER 1 100 2027-10-01 SILVER" "$(standing $D)"
notes_before=$(q "SELECT count(*) FROM loyalty.notification WHERE kind = 'TIER_CHANGED'")
expect "the rollover: each keeps what last year's credits reached; C and E fall" \
    "a1:GOLD>GOLD 60000 GOLD, b1:SILVER>SILVER 20000 SILVER, c1:GOLD>BRONZE 5000 BRONZE, e1:SILVER>BRONZE 0 BRONZE" \
    "$(roll)"
expect "each fall is a tier-change notification" \
    "$C GOLD>BRONZE
$E SILVER>BRONZE" \
    "$(q "SELECT player_id || ' ' || (payload ->> 'tier_before') || '>' || (payload ->> 'tier_after')
            FROM loyalty.notification WHERE kind = 'TIER_CHANGED' AND ledger_entry_id IS NULL ORDER BY player_id")"
expect "two notifications, no more" "$((notes_before + 2))" "$(q "SELECT count(*) FROM loyalty.notification WHERE kind = 'TIER_CHANGED'")"
rows_after_first=$(q "SELECT md5(string_agg(p::text, '|' ORDER BY player_id)) FROM loyalty.player_loyalty p")
expect "a second rollover the same day finds nobody" "" "$(roll)"
expect "and changes nothing" "$rows_after_first" "$(q "SELECT md5(string_agg(p::text, '|' ORDER BY player_id)) FROM loyalty.player_loyalty p")"
expect "nor notifies" "$((notes_before + 2))" "$(q "SELECT count(*) FROM loyalty.notification WHERE kind = 'TIER_CHANGED'")"
expect "A keeps GOLD through the second year with no credits" "GOLD 0 0 2027-10-01 GOLD" "$(standing $A)"
expect "A plays a little" "MANUAL_BONUS GOLD>GOLD" "$(reward $A 1000)"
expect "the health check finds no tier drift" 0 "$(drift)"

at '2028-10-01 07:00:00'
expect "B, who did not play all year, is adjusted before the sweep: rolled first, in a step of its own, so the adjustment records no fall" \
    "ADJUSTMENT BRONZE>BRONZE" "$(reward $B -1)"
expect "the fall is the roll's own notification, with no ledger entry" "SILVER>BRONZE" \
    "$(q "SELECT (payload ->> 'tier_before') || '>' || (payload ->> 'tier_after') FROM loyalty.notification
           WHERE kind = 'TIER_CHANGED' AND player_id = '$B' AND ledger_entry_id IS NULL ORDER BY id DESC LIMIT 1")"
expect "the second rollover: A falls to what 1,000 credits reach; the others who did not play fall too" \
    "a1:GOLD>BRONZE 1000 BRONZE, c1:BRONZE>BRONZE 0 BRONZE, d1:SILVER>BRONZE 100 BRONZE, e1:BRONZE>BRONZE 0 BRONZE" \
    "$(roll)"
expect "run twice, it finds nobody" "" "$(roll)"
expect "A: BRONZE, a new year" "BRONZE 0 0 2028-10-01 BRONZE" "$(standing $A)"
expect "lifetime points never fell" "61000 20000 60000 15100 12001" \
    "$(q "SELECT string_agg(lifetime_points::text, ' ' ORDER BY player_id) FROM loyalty.player_loyalty")"
expect "every balance equals its ledger, every chain verifies (no mismatch, no break)" "0 0" \
    "$(q "SELECT count(*) FROM loyalty.verify_all_balances()") $(q "SELECT count(*) FROM loyalty.verify_all_chains()")"
expect "every stored standing is what the ledger gives" "" \
    "$(q "SELECT string_agg(p.player_id || ' ' || c.standing || ' ' || c.ledger_standing, E'\n')
            FROM loyalty.player_loyalty p, loyalty.standing_check(p.player_id) c WHERE NOT c.ok")"
expect "the health check finds no tier drift" 0 "$(drift)"
at '2027-10-01 05:00:00'
expect "a clock stepped back behind A's last entry: the new entry is dated no earlier than it" \
    "MANUAL_BONUS BRONZE>BRONZE t" \
    "$(reward $A 10) $(q "SELECT bool_and(created_at >= prev) FROM (SELECT created_at, lag(created_at) OVER (ORDER BY seq) AS prev
                            FROM loyalty.loyalty_ledger WHERE player_id = '$A') e WHERE prev IS NOT NULL")"
expect "so it falls on the last entry's gaming day, and a balance as of then includes it" "2027-10-01 61010" \
    "$(q "SELECT l.gaming_day || ' ' || b.balance FROM loyalty.loyalty_ledger l,
                 LATERAL loyalty.player_balance_at(l.player_id, l.created_at) b
           WHERE l.player_id = '$A' ORDER BY l.seq DESC LIMIT 1")"
expect "a player cannot call the rollover (no grant)" "ERROR 42501" \
    "$(q "BEGIN; SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', '{\"sub\":\"$A\"}', true);
           SELECT * FROM loyalty.roll_tier_period(); COMMIT;")"
q "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty TO authenticated" >/dev/null
expect "nor after a blanket grant: the rollover is trusted back ends' alone" "ERROR PT403" \
    "$(q "BEGIN; SET LOCAL ROLE authenticated; SELECT set_config('request.jwt.claims', '{\"sub\":\"$A\"}', true);
           SELECT * FROM loyalty.roll_tier_period(); COMMIT;")"
expect "the service role may (pg_cron's job runs as it)" 0 \
    "$(q "BEGIN; SET LOCAL ROLE service_role; SELECT count(*) FROM loyalty.roll_tier_period(); COMMIT;" | tail -1)"

[ "$FAILED" = 0 ] && echo "time: every check passed"
exit "$FAILED"
