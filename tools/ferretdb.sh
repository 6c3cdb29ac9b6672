#!/usr/bin/env bash
# MongoDB-protocol test server for the Orchestrator: FerretDB v1.24 embedded in the small Go
# program in tools/ferretdb/, on PostgreSQL (default; tools/postgres.sh starts a private one)
# or on SQLite files.
#
#   tools/ferretdb.sh build              build once into the cache, print binary path
#   tools/ferretdb.sh start [DATA_DIR]   start in background, print MONGO_URI (one line)
#   tools/ferretdb.sh stop               stop the server started by `start` (and its PostgreSQL)
#   tools/ferretdb.sh status             print the URI if running (exit 1 if not)
#
# Environment:
#   FERRETDB_BACKEND        postgresql (default) or sqlite. With postgresql, DATA_DIR is the
#                           PostgreSQL data directory, unless FERRETDB_POSTGRESQL_URL is set.
#   FERRETDB_POSTGRESQL_URL use this PostgreSQL database instead of starting one
#   FERRETDB_PORT           fixed port for `start` (default: a free loopback port)
#   FERRETDB_STATE          state file (default: ${TMPDIR:-/tmp}/orchestrator-ferretdb.state)
#   FERRETDB_CACHE_DIR      binary cache (default: ${XDG_CACHE_HOME:-$HOME/.cache}/orchestrator-ferretdb)
#   FERRETDB_START_TIMEOUT  seconds to wait for ping (default 30)
#   FERRETDB_STOP_TIMEOUT   seconds to wait after SIGTERM before SIGKILL (default 10)
#   FERRETDB_LOG_LEVEL      server log level (default warn)
#
# Only the MONGO_URI goes to stdout; everything else goes to stderr.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SRC_DIR="$SCRIPT_DIR/ferretdb"
# shellcheck source=tools/common.sh
source "$SCRIPT_DIR/common.sh"
CACHE_DIR="${FERRETDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/orchestrator-ferretdb}"
STATE_FILE="${FERRETDB_STATE:-${TMPDIR:-/tmp}/orchestrator-ferretdb.state}"
START_TIMEOUT="${FERRETDB_START_TIMEOUT:-30}"
STOP_TIMEOUT="${FERRETDB_STOP_TIMEOUT:-10}"
LOG_LEVEL="${FERRETDB_LOG_LEVEL:-warn}"
BACKEND="${FERRETDB_BACKEND:-postgresql}"
PG_STATE_FILE="$STATE_FILE.postgres"

log() { printf 'ferretdb.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# --- build ------------------------------------------------------------------

source_key() {
    command -v go >/dev/null 2>&1 || die "go not found in PATH (Go >= 1.24 is needed to build FerretDB)"
    {
        cat "$SRC_DIR/main.go" "$SRC_DIR/go.mod" "$SRC_DIR/go.sum"
        go env GOVERSION GOOS GOARCH
    } | sha256sum | cut -c1-16
}

do_build() {
    local key bin tmp lock
    key="$(source_key)"
    bin="$CACHE_DIR/ferretdb-$key"
    if [[ -x "$bin" ]]; then
        printf '%s\n' "$bin"
        return 0
    fi
    mkdir -p "$CACHE_DIR"
    lock="$CACHE_DIR/.build.lock"
    # Serialize concurrent builds (e.g. parallel test workers).
    exec 9>"$lock"
    if command -v flock >/dev/null 2>&1; then flock 9; fi
    if [[ ! -x "$bin" ]]; then
        tmp="$bin.tmp.$$"
        log "building FerretDB into $bin (first build takes ~2 minutes) ..."
        local start=$SECONDS
        # -mod=readonly: go.mod/go.sum are committed and must be complete.
        if ! (cd "$SRC_DIR" && GOFLAGS=-mod=readonly go build -trimpath -o "$tmp" . >"$tmp.log" 2>&1); then
            cat "$tmp.log" >&2
            if grep -q 'invalid reference to runtime' "$tmp.log"; then
                log "link error on runtime internals: retrying with -ldflags=-checklinkname=0"
                (cd "$SRC_DIR" && GOFLAGS=-mod=readonly go build -trimpath -ldflags=-checklinkname=0 -o "$tmp" .) >&2 \
                    || { rm -f "$tmp" "$tmp.log"; die "go build failed"; }
            else
                rm -f "$tmp" "$tmp.log"
                die "go build failed"
            fi
        fi
        rm -f "$tmp.log"
        mv -f "$tmp" "$bin"
        log "built in $((SECONDS - start))s"
    fi
    exec 9>&-
    printf '%s\n' "$bin"
}

# --- state --------------------------------------------------------------------

pid_is_ours() { # PID -> true if it is alive and is our ferretdb binary
    local pid="$1"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    if [[ -r "/proc/$pid/cmdline" ]]; then
        tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'ferretdb' || return 1
    fi
    return 0
}

# Wait until the port accepts connections and a pymongo ping succeeds.
wait_ready() { # PID PORT TIMEOUT
    python3 - "$1" "$2" "$3" <<'PY'
import os, socket, sys, time
pid, port, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + timeout
try:
    import pymongo
except ImportError:
    pymongo = None
    print("ferretdb.sh: warning: pymongo not installed, checking the TCP port only", file=sys.stderr)

def alive():
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A zombie child of ours still answers kill(0): check /proc state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True

while time.monotonic() < deadline:
    if not alive():
        print("ferretdb.sh: server process exited during startup", file=sys.stderr)
        sys.exit(1)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        time.sleep(0.1)
        continue
    if pymongo is None:
        sys.exit(0)
    try:
        c = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/",
                                serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
        try:
            c.admin.command("ping")
        finally:
            c.close()
        sys.exit(0)
    except Exception as e:  # not ready yet
        last = e
        time.sleep(0.2)
print(f"ferretdb.sh: server not ready after {timeout:.0f}s", file=sys.stderr)
sys.exit(1)
PY
}

# --- start / stop -------------------------------------------------------------

do_start() {
    local data_dir="${1:-}" tmp_data=0 bin port logf pid uri old_pid
    old_pid="$(state_get PID)"
    if pid_is_ours "$old_pid"; then
        die "already running (pid $old_pid, $(state_get URI)); run '$0 stop' first or set FERRETDB_STATE"
    fi
    rm -f "$STATE_FILE"

    bin="$(do_build)"

    local backend_args own_pg=0
    case "$BACKEND" in
        postgresql)
            local pg_url="${FERRETDB_POSTGRESQL_URL:-}"
            if [[ -z "$pg_url" ]]; then
                pg_url="$(POSTGRES_STATE="$PG_STATE_FILE" bash "$SCRIPT_DIR/postgres.sh" start $data_dir)" \
                    || die "could not start PostgreSQL (tools/postgres.sh)"
                own_pg=1
            fi
            backend_args=(-postgresql-url "$pg_url")
            data_dir="postgresql"
            ;;
        sqlite)
            if [[ -z "$data_dir" ]]; then
                data_dir="$(mktemp -d "${TMPDIR:-/tmp}/orchestrator-ferretdb-data.XXXXXX")"
                tmp_data=1
            fi
            mkdir -p "$data_dir"
            data_dir="$(cd "$data_dir" && pwd)"
            backend_args=(-data "$data_dir")
            ;;
        *) die "FERRETDB_BACKEND must be postgresql or sqlite, not '$BACKEND'" ;;
    esac

    port="${FERRETDB_PORT:-$(free_port)}"
    [[ "$port" =~ ^[0-9]+$ ]] || die "bad port: $port"
    logf="$(mktemp "${TMPDIR:-/tmp}/orchestrator-ferretdb.XXXXXX.log")"

    # setsid: own process group/session, so a Ctrl-C in the caller's terminal
    # does not hit it; stdio detached so `$(tools/ferretdb.sh start)` returns.
    setsid "$bin" -listen "127.0.0.1:$port" "${backend_args[@]}" -log-level "$LOG_LEVEL" \
        </dev/null >"$logf" 2>&1 &
    pid=$!
    uri="mongodb://127.0.0.1:$port/"

    {
        echo "PID=$pid"
        echo "PORT=$port"
        echo "URI=$uri"
        echo "LOG=$logf"
        echo "DATA=$data_dir"
        echo "TMPDATA=$tmp_data"
        echo "BIN=$bin"
        echo "BACKEND=$BACKEND"
        echo "OWNPG=$own_pg"
    } >"$STATE_FILE"

    if ! wait_ready "$pid" "$port" "$START_TIMEOUT"; then
        log "FerretDB failed to start on 127.0.0.1:$port (data $data_dir); last lines of $logf:"
        tail -n 30 "$logf" >&2 || true
        kill -KILL "$pid" 2>/dev/null || true
        do_stop_postgres "$own_pg"
        rm -f "$STATE_FILE"
        die "start failed"
    fi
    log "started pid $pid on port $port, backend $BACKEND, data $data_dir, log $logf, state $STATE_FILE"
    printf '%s\n' "$uri"
}

do_stop_postgres() { # OWNPG -> stop the PostgreSQL that `start` started, if it did
    if [[ "$1" == 1 ]]; then
        POSTGRES_STATE="$PG_STATE_FILE" bash "$SCRIPT_DIR/postgres.sh" stop || true
    fi
}

do_stop() {
    local pid logf data tmp_data i
    if [[ ! -f "$STATE_FILE" ]]; then
        log "not running (no state file $STATE_FILE)"
        return 0
    fi
    pid="$(state_get PID)"
    logf="$(state_get LOG)"
    data="$(state_get DATA)"
    tmp_data="$(state_get TMPDATA)"
    if pid_is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
            pid_is_ours "$pid" || break
            sleep 0.1
        done
        if pid_is_ours "$pid"; then
            log "pid $pid still alive after ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
        fi
        log "stopped pid $pid (log $logf)"
    else
        log "pid ${pid:-?} not running"
    fi
    if [[ "$tmp_data" == 1 && -n "$data" && -d "$data" ]]; then
        rm -rf "$data"
    fi
    do_stop_postgres "$(state_get OWNPG)"
    rm -f "$STATE_FILE"
}

do_status() {
    local pid
    pid="$(state_get PID)"
    if pid_is_ours "$pid"; then
        log "running: pid $pid, log $(state_get LOG), data $(state_get DATA)"
        state_get URI
    else
        log "not running"
        return 1
    fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    build) do_build ;;
    start) do_start "$@" ;;
    stop) do_stop ;;
    status) do_status ;;
    *) usage ;;
esac
