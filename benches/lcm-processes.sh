#!/usr/bin/env bash
# LCM state changes per second through `vnfm` (release build, the simulated VIM with no
# latency) on SQLite, on PostgreSQL, and with two `vnfm` processes on one PostgreSQL
# database (when TACKER_TEST_POSTGRES names a server, `postgres://user@host:port`).
#
#   benches/lcm-processes.sh [SECONDS_PER_RUN]   (default 10)
#   NO_BUILD=1 benches/lcm-processes.sh          (use the binaries already built)
#   WORKERS=16 benches/lcm-processes.sh          (concurrent instances, default 8)
#   POLL_MS=5 benches/lcm-processes.sh           (longest pause between two polls of an
#                                                operation, default 20 ms)
#   PG_SSLMODE=require benches/lcm-processes.sh  (TLS to PostgreSQL; default off)
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
# shellcheck source=benches/vnfm-servers.sh
source benches/vnfm-servers.sh
trap 'cleanup_servers; rm -rf "$work"' EXIT

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building release binaries"
    cargo build --release -q -p tacker-vnfm --bin vnfm -p tacker-benches --bin lcm-load
fi
(cd "$corpus/v1-functional/package" && zip -qr "$work/package.zip" .)

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
        --duration "$seconds" --timeout 30 --poll-max-ms "${POLL_MS:-20}" | sed "s/^/$label: /"
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
        create_pg "tacker_lcm_bench_$$_$processes"
        bases=()
        for _ in $(seq "$processes"); do
            start_server "$work/pg-$processes" "$pg_url"
            bases+=("$base")
        done
        run "postgresql, $processes process(es)" "${bases[@]}"
        stop_servers
    done
else
    echo "== PostgreSQL skipped: TACKER_TEST_POSTGRES not set"
fi
echo "== done"
