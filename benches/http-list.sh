#!/usr/bin/env bash
# The REST list path of the standalone server under load: `vnfm` (release build, SQLite
# store in a fresh data directory, no authentication) and the `http-load` client of this
# crate on the same machine.
#
#   benches/http-list.sh [SECONDS_PER_RUN]      (default 10; warm-up 2 s before each run)
#   NO_BUILD=1 benches/http-list.sh             (use the binaries already built)
#
# 1. Seeds 10,000 VNF instances (half INSTANTIATED) and 10 ONBOARDED packages with
#    `seed-instances`, starts `vnfm`, and measures GET /vnflcm/v2/vnf_instances (the
#    first page: 100 instances and a `Link: rel="next"`) with 1 and with 8 keep-alive
#    clients, then GET /vnfpkgm/v2/vnf_packages and /vnfpkgm/v1/vnf_packages (10
#    packages) with 1 client: req/s, latency p50/p90/p99/max, and the server's CPU time
#    in the measured window (from /proc/PID/stat); then the instance list with only 10
#    instances, the size of the OpenStack Tacker reference number.
# 2. Seeds a fresh data directory with 100,000 instances, starts `vnfm`, reads its RSS
#    (VmRSS, VmHWM of /proc/PID/status) idle, after 1,000 first-page requests from
#    8 clients, and after each of two walks of all 1,000 pages.
#
# The server CPU is read from /proc/PID/stat at the start and end of the measured
# window, with the busy share of all cores (/proc/stat) beside it: what the server
# does not use went to the client or to other work on the machine.
# Every answer is checked for 200 and a JSON array body; the first of each client and
# every 10th after it are parsed and must hold exactly 100 (or 10) objects with an id.
# The client and the server share the machine: on 2 cores the client takes part of the
# CPU, so the numbers are a floor; the load average is printed before each part so
# contention from other work shows. Everything is bounded (timeouts on start-up and on
# every request) and the servers and the data directories are removed on exit.
# Binaries go to ${CARGO_TARGET_DIR:-target}/release.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release"
work=$(mktemp -d)
server_pid=

stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building release binaries"
    # One invocation for both packages: building them apart unifies features differently
    # and rebuilds the shared crates.
    cargo build --release -q -p tacker-vnfm --bin vnfm \
        -p tacker-benches --bin seed-instances --bin http-load
fi

# start_server DIR: starts vnfm on a free port; sets server_pid and base.
start_server() {
    local dir=$1
    "$bin/vnfm" --listen 127.0.0.1:0 --data-dir "$dir" --log warn \
        > "$work/server.out" 2> "$work/server.err" &
    server_pid=$!
    base=
    for _ in $(seq 300); do
        base=$(sed -n 's|^vnfm listening on \(http://[^ ]*\) .*|\1|p' "$work/server.out" | head -n 1)
        [ -n "$base" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "vnfm exited:" >&2; cat "$work/server.err" >&2; exit 1
        fi
        sleep 0.1
    done
    if [ -z "$base" ]; then
        echo "vnfm did not start within 30 s" >&2; cat "$work/server.err" >&2; exit 1
    fi
    echo "vnfm pid $server_pid at $base"
}

server_memory() {
    awk '/^VmRSS|^VmHWM/ { printf "%s %.1f MiB  ", $1, $2 / 1024 } END { print "" }' \
        "/proc/$server_pid/status"
}

# load LABEL URL VERSION ITEMS CLIENTS: one measured run, with the server's CPU time.
load() {
    "$bin/http-load" "$2" --label "$1" --clients "$5" --duration "$seconds" --warmup 2 \
        -H "Version: $3" --expect-items "$4" --check-every 10 --timeout 10 \
        --server-pid "$server_pid" --clock-ticks "$(getconf CLK_TCK)"
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== 10,000 instances, 10 packages"
"$bin/seed-instances" --data-dir "$work/10k" --instances 10000 --packages 10
start_server "$work/10k"
echo "idle: $(server_memory)"
load "instances, 1 client" "$base/vnflcm/v2/vnf_instances" 2.3.0 100 1
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
load "instances, 8 clients" "$base/vnflcm/v2/vnf_instances" 2.3.0 100 8
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
load "packages v2, 1 client" "$base/vnfpkgm/v2/vnf_packages" 2.4.0 10 1
load "packages v1, 1 client" "$base/vnfpkgm/v1/vnf_packages" 1.3.0 10 1
echo "after the load: $(server_memory)"
stop_server
rm -rf "$work/10k"

echo "== 10 instances (the size of the OpenStack Tacker reference)"
"$bin/seed-instances" --data-dir "$work/10" --instances 10 --packages 1
start_server "$work/10"
load "instances (10), 1 client" "$base/vnflcm/v2/vnf_instances" 2.3.0 10 1
stop_server
rm -rf "$work/10"

echo "== 100,000 instances"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin/seed-instances" --data-dir "$work/100k" --instances 100000 --packages 1
start_server "$work/100k"
sleep 1
echo "idle: $(server_memory)"
"$bin/http-load" "$base/vnflcm/v2/vnf_instances" --label "instances (100k), 8 clients" \
    --clients 8 --warmup 0 --duration 60 --max-requests 1000 -H "Version: 2.3.0" \
    --expect-items 100 --check-every 10 --timeout 10
echo "after 1,000 first pages: $(server_memory)"
"$bin/http-load" "$base/vnflcm/v2/vnf_instances" --label "walk of 100k instances" \
    --walk --max-pages 2000 -H "Version: 2.3.0" --timeout 10
echo "after the walk: $(server_memory)"
"$bin/http-load" "$base/vnflcm/v2/vnf_instances" --label "second walk" \
    --walk --max-pages 2000 -H "Version: 2.3.0" --timeout 10
echo "after a second walk: $(server_memory)"
stop_server
echo "== done"
