#!/usr/bin/env bash
# SOL013 filters at scale through the standalone server: `vnfm` (release build) over
# 10,000 seeded VNF instances (half INSTANTIATED, see `seed-instances`), with the
# `http-load` client of this crate on the same machine, on SQLite and, when
# TACKER_TEST_POSTGRES names a server (`postgres://user@host:port`), on PostgreSQL.
#
#   benches/http-filter.sh [SECONDS_PER_RUN]   (default 10; warm-up 2 s before each run)
#   NO_BUILD=1 benches/http-filter.sh          (use the binaries already built)
#   INSTANCES=100000 benches/http-filter.sh    (another size, at least 5,000)
#
# Each store is measured with 8 keep-alive clients on GET /vnflcm/v2/vnf_instances with:
#   - a selective filter on an attribute that is not a typed column, deep in arrays:
#     (eq,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId,server-VDU1-4242)
#     (one instance);
#   - a substring filter: (cont,vnfInstanceDescription,instance 424) (eleven instances);
#   - a filter the attribute index cannot answer, which tests every instance (the path
#     every filter on such an attribute took before the index):
#     (ncont,vnfInstanceDescription,benchmark) (no instance).
# For each: req/s, latency p50/p90/p99/max and the server's CPU per request (from
# /proc/PID/stat over the measured window). Every answer is checked for 200 and a JSON
# array; the first of each client and every 10th after it must hold exactly the
# expected number of instances. The client shares the 2 cores with the server, so the
# numbers are a floor. Everything is bounded (start-up and request timeouts); servers,
# data directories and the PostgreSQL database are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
instances=${INSTANCES:-10000}
# The filters below pick instance 4242 and instances 424 and 4240-4249.
if [ "$instances" -lt 5000 ]; then
    echo "INSTANCES must be at least 5000 (the filters name instance 4249)" >&2; exit 2
fi
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release"
work=$(mktemp -d)
# shellcheck source=benches/vnfm-servers.sh
source benches/vnfm-servers.sh
trap 'cleanup_servers; rm -rf "$work"' EXIT

if [ -z "${NO_BUILD:-}" ]; then
    echo "== building release binaries"
    cargo build --release -q -p tacker-vnfm --bin vnfm \
        -p tacker-benches --bin seed-instances --bin http-load
fi

# load LABEL FILTER ITEMS: one measured run with 8 clients.
load() {
    "$bin/http-load" "$base/vnflcm/v2/vnf_instances?filter=$2" --label "$1" --clients 8 \
        --duration "$seconds" --warmup 2 -H "Version: 2.3.0" --expect-items "$3" \
        --check-every 10 --timeout 10 --server-pid "$server_pid" --clock-ticks "$(getconf CLK_TCK)"
}

measure() {
    local store=$1
    load "$store: eq on a deep attribute (1 of $instances)" \
        "(eq,instantiatedVnfInfo/vnfcResourceInfo/computeResource/resourceId,server-VDU1-4242)" 1
    load "$store: cont (11 of $instances)" "(cont,vnfInstanceDescription,instance%20424)" 11
    load "$store: unindexable ncont (0 of $instances)" "(ncont,vnfInstanceDescription,benchmark)" 0
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== SQLite, $instances instances"
"$bin/seed-instances" --data-dir "$work/sqlite" --instances "$instances" --packages 1
start_server "$work/sqlite"
measure sqlite
stop_servers

if [ -n "${TACKER_TEST_POSTGRES:-}" ]; then
    echo "== PostgreSQL, $instances instances"
    create_pg "tacker_filter_bench_$$"
    "$bin/seed-instances" --data-dir "$work/pg" --database-url "$pg_url" \
        --instances "$instances" --packages 1
    start_server "$work/pg" "$pg_url"
    measure postgresql
    stop_servers
else
    echo "== PostgreSQL skipped: TACKER_TEST_POSTGRES not set"
fi
echo "== done"
