#!/usr/bin/env bash
# A private PostgreSQL server for FerretDB's PostgreSQL backend (tests, CI, benchmarks).
#
#   tools/postgres.sh start [DATA_DIR]   initdb (if new) and start; print the connection URL (one line)
#   tools/postgres.sh stop               stop the server started by `start` (fast shutdown)
#   tools/postgres.sh status             print the URL if running (exit 1 if not)
#
# The server is Debian's PostgreSQL (package `postgresql`, installed with apt-get when missing
# and the script runs as root). It gets its own data directory (a temporary one unless given,
# removed by `stop`), its own free port on 127.0.0.1 only, its socket inside the data
# directory, and a generated password (scram-sha-256) for the role `orchestrator`, which owns
# the database `ferretdb`. Run as root, it runs the server as the unprivileged user `postgres`.
# Durability is off (fsync, synchronous_commit, full_page_writes): this is a test server.
#
# Environment:
#   POSTGRES_PORT           fixed port (default: a free loopback port)
#   POSTGRES_STATE          state file (default: ${TMPDIR:-/tmp}/orchestrator-postgres.state)
#   POSTGRES_START_TIMEOUT  seconds to wait for the server (default 60)
#
# Only the URL goes to stdout; everything else goes to stderr.
set -euo pipefail

# shellcheck source=tools/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
STATE_FILE="${POSTGRES_STATE:-${TMPDIR:-/tmp}/orchestrator-postgres.state}"
START_TIMEOUT="${POSTGRES_START_TIMEOUT:-60}"
ROLE=orchestrator
DATABASE=ferretdb

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

bindir() { # the newest installed PostgreSQL's bin directory (empty if none)
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        printf '%s\n' "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

ensure_installed() {
    [[ -n "$(bindir)" ]] && return 0
    [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not installed; install Debian's package: sudo apt-get install postgresql"
    log "installing PostgreSQL (apt-get install postgresql) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends postgresql >&2 \
        || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends postgresql >&2; } \
        || die "apt-get install postgresql failed"
    # The package starts a cluster of its own on port 5432; this script never uses it.
    [[ -n "$(bindir)" ]] || die "PostgreSQL installed but initdb not found"
}

# Run a command as the server's user: `postgres` when we are root (PostgreSQL refuses root).
as_server_user() {
    if [[ "$(id -u)" == 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

do_start() {
    local data_dir="${1:-}" tmp_data=0 bin port logf password url old_pid
    old_pid="$(state_get PID)"
    if [[ -n "$old_pid" ]] && kill -0 "$old_pid" 2>/dev/null; then
        die "already running (pid $old_pid); run '$0 stop' first or set POSTGRES_STATE"
    fi
    rm -f "$STATE_FILE"
    ensure_installed
    bin="$(bindir)"

    if [[ -z "$data_dir" ]]; then
        data_dir="$(mktemp -d "${TMPDIR:-/tmp}/orchestrator-postgres.XXXXXX")"
        tmp_data=1
    fi
    mkdir -p "$data_dir"
    data_dir="$(cd "$data_dir" && pwd)"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$data_dir"
        as_server_user test -w "$data_dir" -a -w "$(dirname "$data_dir")" \
            || die "the server runs as the user postgres, who cannot write $data_dir or its parent: choose a directory postgres can reach (or none: a temporary one)"
    fi
    chmod 700 "$data_dir"

    port="${POSTGRES_PORT:-$(free_port)}"
    [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
    logf="$data_dir.log"
    [[ "$(id -u)" == 0 ]] && { : >"$logf"; chown postgres: "$logf"; }

    if [[ ! -f "$data_dir/PG_VERSION" ]]; then
        password="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
        local pwfile="$data_dir.pw"
        (umask 077; printf '%s\n' "$password" >"$pwfile")
        [[ "$(id -u)" == 0 ]] && chown postgres: "$pwfile"
        as_server_user "$bin/initdb" --pgdata="$data_dir" --username="$ROLE" --pwfile="$pwfile" \
            --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$logf.initdb" 2>&1 \
            || { cat "$logf.initdb" >&2; rm -f "$pwfile"; die "initdb failed"; }
        rm -f "$pwfile" "$logf.initdb"
        (umask 077; printf '%s\n' "$password" >"$data_dir.password")
    fi
    password="$(cat "$data_dir.password" 2>/dev/null)" || die "no password file beside $data_dir"

    # -c settings: loopback only, socket in the data directory (no /var/run/postgresql needed),
    # enough connections for several FerretDB pools, durability off for speed.
    as_server_user "$bin/pg_ctl" --pgdata="$data_dir" --log="$logf" --wait --timeout="$START_TIMEOUT" \
        --options="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$data_dir \
-c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
-c shared_buffers=256MB" start >&2 \
        || { tail -n 30 "$logf" >&2; die "pg_ctl start failed"; }

    url="postgres://$ROLE:$password@127.0.0.1:$port/$DATABASE"
    if ! PGPASSWORD="$password" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1; then
        PGPASSWORD="$password" "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$ROLE" "$DATABASE" \
            || die "createdb $DATABASE failed"
    fi

    {
        echo "PID=$(head -n1 "$data_dir/postmaster.pid")"
        echo "PORT=$port"
        echo "URL=$url"
        echo "LOG=$logf"
        echo "DATA=$data_dir"
        echo "TMPDATA=$tmp_data"
        echo "BIN=$bin"
    } >"$STATE_FILE"
    chmod 600 "$STATE_FILE"
    log "started on 127.0.0.1:$port, data $data_dir, log $logf, state $STATE_FILE"
    printf '%s\n' "$url"
}

do_stop() {
    local data bin tmp_data
    if [[ ! -f "$STATE_FILE" ]]; then
        log "not running (no state file $STATE_FILE)"
        return 0
    fi
    data="$(state_get DATA)"
    bin="$(state_get BIN)"
    tmp_data="$(state_get TMPDATA)"
    if [[ -n "$data" && -f "$data/postmaster.pid" ]]; then
        # fast: roll back open transactions and disconnect clients, then a clean shutdown.
        as_server_user "$bin/pg_ctl" --pgdata="$data" --mode=fast --wait --timeout=30 stop >&2 \
            || log "pg_ctl stop failed (see $(state_get LOG))"
    fi
    if [[ "$tmp_data" == 1 && -n "$data" && -d "$data" ]]; then
        rm -rf "$data" "$data.password" "$data.log"
    fi
    rm -f "$STATE_FILE"
    log "stopped"
}

do_status() {
    local pid
    pid="$(state_get PID)"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        state_get URL
    else
        log "not running"
        return 1
    fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start) do_start "$@" ;;
    stop) do_stop ;;
    status) do_status ;;
    *) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
