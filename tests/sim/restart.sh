#!/usr/bin/env bash
# restart.sh OFFSET MODE: stop the simulation's server (MODE immediate: a
# crash, every backend killed, recovery at start; fast: a clean stop) and
# start it again with its clock OFFSET seconds ahead (libfaketime reads the
# offset from its environment once, at each process's start: nothing is
# read in a signal handler, where PostgreSQL's timeouts read the clock).
# restart.sh sigkill PID: SIGKILL one backend; the postmaster resets every
# backend and recovers by itself, the clock as it was; returns once the
# server accepts connections again.
# The simulator calls it for its clock jumps and crashes.
source "$(dirname "$0")/../../scripts/lib.sh"
if [ "$1" = sigkill ]; then
    as_pg kill -9 "$2" 2>/dev/null || true
    sleep 0.2
    for _ in $(seq 600); do
        "$PG_BIN/pg_isready" -q && exit 0
        sleep 0.1
    done
    exit 1
fi
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m "$2" -w stop >/dev/null 2>&1 || true
as_pg env LD_PRELOAD="$(libfaketime)" FAKETIME="+$1" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null
