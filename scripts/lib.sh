# Shared shell helpers: idempotent set-up and a throwaway PostgreSQL cluster.
# Sourced by demo.sh, test.sh and bench scripts; works as root and as a user
# with sudo.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR=15
PG_CONFIG=/usr/bin/pg_config
PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
PGRX_VERSION=0.18.0
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# Debian packages, cargo-pgrx and `cargo pgrx init`, each only if missing.
setup() {
    local pkgs=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib postgresql-$PG_MAJOR-cron
                libclang-dev clang sudo faketime)
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        "${SUDO[@]}" apt-get update -qq
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
        say "installing cargo-pgrx $PGRX_VERSION (a few minutes, once)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    if ! grep -qs "pg$PG_MAJOR" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
        say "cargo pgrx init --pg$PG_MAJOR $PG_CONFIG"
        cargo pgrx init --pg$PG_MAJOR "$PG_CONFIG"
    fi
}

# Build the extension and install it into the system PostgreSQL.
install_extension() {
    install_extension_from "$ROOT" "$@"
}

# Build and install the extension from a source tree (the upgrade suite builds
# each released version from git history). Every tree builds in a target dir
# of its own: a cdylib's file name carries no hash, so two trees built in one
# target dir overwrite each other's library while cargo calls both fresh.
install_extension_from() {
    local src="$1" target="$ROOT/target"
    shift
    [ "$src" = "$ROOT" ] || target="$ROOT/target/releases/$(basename "$src")"
    say "building and installing casino_loyalty $(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml") into PostgreSQL $PG_MAJOR"
    local flags=(--pg-config "$PG_CONFIG")
    [ "$(id -u)" -eq 0 ] || flags+=(--sudo)
    (cd "$src" && CARGO_TARGET_DIR="$target" cargo pgrx install "${flags[@]}" "$@" >/dev/null)
    control_names_library "$src"
}

# From 0.3.0 each release has a library file of its own
# (casino_loyalty-X.Y.Z.so, which cargo pgrx installs when the control file
# names no module_pathname), so a database keeps calling the library its
# definitions were made with until it is updated. The update scripts of
# releases before 0.3.0 name their library MODULE_PATHNAME, which
# PostgreSQL fills from the installed control file's module_pathname: it
# is the new build's library, as it always was.
control_names_library() {
    local src="$1" version control
    grep -q '^module_pathname' "$src/casino_loyalty.control" && return 0
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/Cargo.toml")
    control="$("$PG_CONFIG" --sharedir)/extension/casino_loyalty.control"
    printf "# what MODULE_PATHNAME means in the update scripts of releases before 0.3.0\nmodule_pathname = '\$libdir/casino_loyalty-%s'\n" \
        "$version" | "${SUDO[@]}" tee -a "$control" >/dev/null
}

# Run a command as the cluster's OS user: `postgres` when we are root
# (initdb refuses root), ourselves otherwise.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Start a throwaway cluster in a temp dir with a private socket dir and a
# free port; exports PGHOST, PGPORT, PGUSER, PGDATA, PGLOG. Stopped by
# cluster_stop, which callers register with `trap cluster_stop EXIT`.
cluster_start() {
    CLUSTER_DIR="$(mktemp -d /tmp/casino_loyalty.XXXXXX)"
    chmod 755 "$CLUSTER_DIR"
    [ "$(id -u)" -ne 0 ] || chown postgres: "$CLUSTER_DIR"
    export CLUSTER_DIR PGDATA="$CLUSTER_DIR/data" PGHOST="$CLUSTER_DIR" PGLOG="$CLUSTER_DIR/server.log"
    PGPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    export PGPORT
    if [ "$(id -u)" -eq 0 ]; then export PGUSER=postgres; else export PGUSER="$(id -un)"; fi
    # a cluster whose bootstrap superuser has another name (Supabase's
    # supabase_admin: tests/supabase)
    [ -z "${CLUSTER_SUPERUSER:-}" ] || export PGUSER="$CLUSTER_SUPERUSER"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U "$PGUSER" -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$CLUSTER_DIR'
port = $PGPORT
fsync = off
max_connections = 100
log_line_prefix = '%m [%p] '
lc_messages = 'C'
CONF
    for conf in "$@"; do echo "$conf" >>"$PGDATA/postgresql.conf"; done
    # CLUSTER_ENV: VAR=value words for the server's environment (the time
    # suite preloads libfaketime)
    as_pg env ${CLUSTER_ENV[@]+"${CLUSTER_ENV[@]}"} "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGLOG" -w -t 60 start >/dev/null
    say "throwaway cluster on socket $PGHOST port $PGPORT"
}

# The path of libfaketime (Debian faketime, which setup installs), for a
# server whose clock a script moves (the demo's last section, tests/time).
libfaketime() {
    dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$'
}

# expect WHAT WANT GOT: one check of a shell-driven suite; a mismatch prints
# both and sets FAILED=1.
FAILED=0
expect() {
    if [ "$2" = "$3" ]; then
        echo "ok: $1"
    else
        echo "FAIL: $1"; echo "  want: $2"; echo "  got:  $3"; FAILED=1
    fi
}

cluster_stop() {
    if [ -n "${CLUSTER_DIR:-}" ] && [ -d "$CLUSTER_DIR" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
        rm -rf "$CLUSTER_DIR"
        CLUSTER_DIR=
    fi
}
