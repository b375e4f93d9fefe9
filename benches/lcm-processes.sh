#!/usr/bin/env bash
# LCM state changes per second through `vnfm` (release build, the simulated VIM with no
# latency) on SQLite, on PostgreSQL, and with two `vnfm` processes on one PostgreSQL
# database (when TACKER_TEST_POSTGRES names a server, `postgres://user@host:port`).
#
#   benches/lcm-processes.sh [SECONDS_PER_RUN]   (default 10)
#   NO_BUILD=1 benches/lcm-processes.sh          (use the binaries already built)
#   WORKERS=16 benches/lcm-processes.sh          (concurrent instances, default 8)
#
# The `lcm-load` binary of this crate onboards the v1-functional corpus package, then
# each worker instantiates and terminates its own instance in a closed loop, following
# every operation to COMPLETED (see its documentation); every operation is three state
# changes (STARTING, PROCESSING, COMPLETED). With two processes the workers send their
# requests to both in turn, and each operation runs in whichever process claims it.
# The processes of one run share a data directory (package files, sealing key). Server
# CPU is read from /proc/PID/stat around each run. Everything is bounded (start-up and
# request timeouts); servers, data directories and the database are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
workers=${WORKERS:-8}
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release"
corpus="$(cd .. && pwd)/shared/corpus"
work=$(mktemp -d)
pids=()
pg_db=

stop_servers() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
drop_pg() {
    if [ -n "$pg_db" ]; then
        psql "${TACKER_TEST_POSTGRES%/}/postgres" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
    fi
}
trap 'stop_servers; drop_pg; rm -rf "$work"' EXIT

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building release binaries"
    cargo build --release -q -p tacker-vnfm --bin vnfm -p tacker-benches --bin lcm-load
fi
(cd "$corpus/v1-functional/package" && zip -qr "$work/package.zip" .)

# start_server DIR [DATABASE_URL]: starts one more vnfm; appends its pid, sets base.
start_server() {
    local dir=$1 n=${#pids[@]}
    local db=()
    if [ -n "${2:-}" ]; then db=(--database-url "$2"); fi
    "$bin/vnfm" --listen 127.0.0.1:0 --data-dir "$dir" "${db[@]}" --log warn \
        > "$work/server$n.out" 2> "$work/server$n.err" &
    pids+=($!)
    base=
    for _ in $(seq 600); do
        base=$(sed -n 's|^vnfm listening on \(http://[^ ]*\) .*|\1|p' "$work/server$n.out" | head -n 1)
        [ -n "$base" ] && break
        if ! kill -0 "${pids[$n]}" 2>/dev/null; then
            echo "vnfm exited:" >&2; cat "$work/server$n.err" >&2; exit 1
        fi
        sleep 0.1
    done
    [ -n "$base" ] || { echo "vnfm did not start within 60 s" >&2; exit 1; }
}

cpu_ticks() { # the user+system ticks of the running servers
    local total=0
    for pid in "${pids[@]}"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$total"
}

run() { # LABEL URL…: one measured run
    local label=$1 args=() before after
    shift
    for server in "$@"; do args+=(--url "$server"); done
    before=$(cpu_ticks)
    "$bin/lcm-load" "${args[@]}" --package "$work/package.zip" --workers "$workers" \
        --duration "$seconds" --timeout 30 | sed "s/^/$label: /"
    after=$(cpu_ticks)
    echo "  vnfm CPU: $(awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
        'BEGIN { printf "%.2f s (%.0f%% of one core)", t / hz, 100 * t / hz / s }')"
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
start_server "$work/sqlite"
run "sqlite, 1 process" "$base"
stop_servers

if [ -n "${TACKER_TEST_POSTGRES:-}" ]; then
    # A fresh database and data directory for each run (each onboards the package).
    for processes in 1 2; do
        drop_pg
        pg_db="tacker_lcm_bench_$$_$processes"
        psql "${TACKER_TEST_POSTGRES%/}/postgres" -qc "CREATE DATABASE $pg_db" >/dev/null
        url="${TACKER_TEST_POSTGRES%/}/$pg_db"
        bases=()
        for _ in $(seq "$processes"); do
            start_server "$work/pg-$processes" "$url"
            bases+=("$base")
        done
        run "postgresql, $processes process(es)" "${bases[@]}"
        stop_servers
    done
else
    echo "== PostgreSQL skipped: TACKER_TEST_POSTGRES not set"
fi
echo "== done"
