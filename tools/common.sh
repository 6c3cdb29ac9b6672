# Shared by tools/ferretdb.sh and tools/postgres.sh (sourced): their state files and ports.

state_get() { # KEY -> value from the state file $STATE_FILE (empty if missing)
    [[ -f "$STATE_FILE" ]] || return 0
    sed -n "s/^$1=//p" "$STATE_FILE" | head -n1
}

free_port() { # a free TCP port on 127.0.0.1
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
