# Helpers for the bench scripts that run `vnfm` servers (sourced, not run). The script
# sets `bin` (the directory of the release binaries) and `work` (a scratch directory)
# before sourcing, and calls `cleanup_servers` on exit.
#
#   start_server DIR [DATABASE_URL]   starts one more vnfm on a free port of 127.0.0.1
#                                     (its data in DIR, its store at DATABASE_URL when
#                                     given); sets `base` and `server_pid`, appends the
#                                     pid to `pids`. Exits if it does not start in 60 s.
#   stop_servers                      stops them all (TERM, then KILL after 5 s).
#   create_pg NAME                    a fresh database NAME on TACKER_TEST_POSTGRES;
#                                     sets `pg_url` (with `sslmode=$PG_SSLMODE`, default
#                                     `disable`); dropped again by drop_pg.
#   cleanup_servers                   stop_servers and drop_pg.

pids=()
server_pid=
base=
pg_db=
pg_url=

start_server() {
    local dir=$1 n=${#pids[@]}
    local db=()
    if [ -n "${2:-}" ]; then db=(--database-url "$2"); fi
    "$bin/vnfm" --listen 127.0.0.1:0 --data-dir "$dir" "${db[@]}" --log warn \
        > "$work/server$n.out" 2> "$work/server$n.err" &
    server_pid=$!
    pids+=("$server_pid")
    base=
    for _ in $(seq 600); do
        base=$(sed -n 's|^vnfm listening on \(http://[^ ]*\) .*|\1|p' "$work/server$n.out" | head -n 1)
        [ -n "$base" ] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "vnfm exited:" >&2; cat "$work/server$n.err" >&2; exit 1
        fi
        sleep 0.1
    done
    echo "vnfm did not start within 60 s" >&2; cat "$work/server$n.err" >&2; exit 1
}

stop_servers() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
    server_pid=
}

drop_pg() {
    if [ -n "$pg_db" ]; then
        psql "${TACKER_TEST_POSTGRES%/}/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
        pg_db=
    fi
}

create_pg() {
    drop_pg
    pg_db=$1
    psql "${TACKER_TEST_POSTGRES%/}/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
    # Without TLS unless PG_SSLMODE says otherwise: on loopback the benches measure the
    # VNFM, and TLS to PostgreSQL costs both sides about a third of their CPU here.
    pg_url="${TACKER_TEST_POSTGRES%/}/$pg_db?sslmode=${PG_SSLMODE:-disable}"
}

cleanup_servers() {
    stop_servers
    drop_pg
}
