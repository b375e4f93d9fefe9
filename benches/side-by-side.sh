#!/usr/bin/env bash
# This VNFM and OpenStack Tacker 16 side by side: the same workloads against both, one
# after the other, each repeated and alternated, with the ratios printed.
#
#   benches/side-by-side.sh                        # this VNFM alone
#   TACKER_URL=http://127.0.0.1:9880 TACKER_PIDS="123 456" benches/side-by-side.sh
#   TACKER_REAL_DIR=/scratch/tacker benches/side-by-side.sh
#
# Tacker is measured when one is reachable: at TACKER_URL (noauth, as the recipe of
# ../shared/tools/tacker runs it; TACKER_PIDS names its processes for CPU and RSS, the
# API server first), or started from PyPI with that recipe when TACKER_REAL_DIR is set
# (its port TACKER_PORT, default 9880; RABBIT_PORT 5673 and PG_PORT 5433 unless set).
# Without either it prints this VNFM's figures alone.
#
# Workloads, each on both servers, alternated (ours, Tacker, ours, …) ROUNDS times
# (default 3), medians reported:
#   startup            process start to the first answer of the LCM API (Tacker: only
#                      when this script starts it; with the conductor's queues ready)
#   onboarding         PUT package_content of the v1-functional corpus package (a fresh
#                      vnfdId each time) to ONBOARDED, by /vnfpkgm/v1 as python-tackerclient
#   package list       GET /vnfpkgm/v1/vnf_packages with 10 and with 100 packages:
#                      req/s, p50 and the server's CPU per request (1 client, keep-alive)
#   create             POST /vnflcm/v2/vnf_instances (NOT_INSTANTIATED), latency
#   instance list      GET /vnflcm/v2/vnf_instances with 10 and with LARGE (1,000) instances: the
#                      first page, and the full listing by the Link headers (Tacker pages
#                      nothing by default: its first page is the full listing)
#   failing instantiate  POST instantiate with a VIM whose Keystone does not answer
#                      (../shared/tools/tacker/inst_req_v2.json) to FAILED_TEMP
#   RSS                VmRSS at the end (Tacker: the sum over its processes)
# Every loop is bounded (polls time out, loads run SECONDS seconds, default 5).
# The client runs on the same machine: figures are a floor on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rounds=${ROUNDS:-3}
# The larger instance list (Tacker takes about a second per create once it holds a few
# dozen: LARGE=200 keeps a run with Tacker under a quarter of an hour).
large=${LARGE:-1000}
seconds=${SECONDS_PER_LOAD:-5}
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release"
corpus=${CORPUS:-$repo/../shared/corpus}
recipe=${TACKER_RECIPE:-$repo/../shared/tools/tacker}
work=$(mktemp -d)
ours_pid=
ours_url=
tacker_url=${TACKER_URL:-}
tacker_pids=${TACKER_PIDS:-}
started_tacker=

cleanup() {
    if [ -n "$ours_pid" ] && kill -0 "$ours_pid" 2>/dev/null; then
        kill -TERM "$ours_pid" 2>/dev/null || true
        wait "$ours_pid" 2>/dev/null || true
    fi
    if [ -n "$started_tacker" ]; then
        bash "$recipe/run-tacker.sh" stop-all >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

json() { # KEY: the value of KEY in the JSON object on stdin (empty when missing)
    python3 -c 'import sys, json
try:
    v = json.load(sys.stdin).get(sys.argv[1], "")
except Exception:
    v = ""
print(v if isinstance(v, str) else json.dumps(v))' "$1"
}
now_ms() { date +%s%3N; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------- servers
if [ -z "${NO_BUILD:-}" ]; then
    echo "== building release binaries"
    cargo build --release -q -p tacker-vnfm --bin vnfm -p tacker-benches --bin http-load
fi

start_ours() { # starts vnfm on a fresh data directory; sets ms to the time to its first answer
    local dir=$work/ours t0 base=
    rm -rf "$dir"; mkdir -p "$dir"
    t0=$(now_ms)
    "$bin/vnfm" --listen 127.0.0.1:0 --data-dir "$dir" --log warn \
        > "$work/ours.out" 2> "$work/ours.err" &
    ours_pid=$!
    for _ in $(seq 600); do
        base=$(sed -n 's|^vnfm listening on \(http://[^ ]*\) .*|\1|p' "$work/ours.out" | head -n 1)
        if [ -n "$base" ] && curl -sf -o /dev/null "$base/vnflcm/v2/api_versions"; then
            break
        fi
        kill -0 "$ours_pid" 2>/dev/null || { cat "$work/ours.err" >&2; exit 1; }
        sleep 0.01
    done
    [ -n "$base" ] || { echo "vnfm did not start" >&2; exit 1; }
    ours_url=$base
    ms=$(( $(now_ms) - t0 ))
}

stop_ours() {
    kill -TERM "$ours_pid" 2>/dev/null || true
    wait "$ours_pid" 2>/dev/null || true
    ours_pid=
}

start_tacker() { # (re)starts Tacker with the recipe; sets ms to the time until it is ready
    local t0
    bash "$recipe/run-tacker.sh" stop >/dev/null 2>&1 || true
    t0=$(now_ms)
    bash "$recipe/run-tacker.sh" start > "$work/tacker-start.log" 2>&1 \
        || { cat "$work/tacker-start.log" >&2; exit 1; }
    ms=$(( $(now_ms) - t0 ))
    tacker_pids="$(cat "$TACKER_REAL_DIR/run/server.pid") $(cat "$TACKER_REAL_DIR/run/conductor.pid")"
}

declare -A startup
if [ -z "$tacker_url" ] && [ -n "${TACKER_REAL_DIR:-}" ]; then
    export TACKER_PORT=${TACKER_PORT:-9880} RABBIT_PORT=${RABBIT_PORT:-5673} PG_PORT=${PG_PORT:-5433}
    mkdir -p "$TACKER_REAL_DIR"
    cp "$recipe/requirements.lock.txt" "$TACKER_REAL_DIR/"
    cp -r "$recipe/shim" "$TACKER_REAL_DIR/"
    echo "== installing and starting Tacker 16 from PyPI in $TACKER_REAL_DIR (port $TACKER_PORT)"
    bash "$recipe/run-tacker.sh" install > "$work/tacker-install.log" 2>&1 \
        || { tail -20 "$work/tacker-install.log" >&2; exit 1; }
    # A fresh database: the counts of packages and instances must be this run's.
    { bash "$recipe/run-tacker.sh" setup && bash "$recipe/run-tacker.sh" reset-db; } \
        > "$work/tacker-setup.log" 2>&1 || { tail -20 "$work/tacker-setup.log" >&2; exit 1; }
    started_tacker=1
    tacker_url=http://127.0.0.1:$TACKER_PORT
fi
servers=(ours)
[ -n "$tacker_url" ] && servers+=(tacker)

for round in $(seq "$rounds"); do
    if [ -n "$ours_pid" ]; then stop_ours; fi
    start_ours
    startup[ours]+="$ms "
    if [ -n "$started_tacker" ]; then
        start_tacker
        startup[tacker]+="$ms "
    fi
done
if [ -n "$tacker_url" ] && [ -z "$tacker_pids" ]; then
    echo "TACKER_PIDS not set: Tacker's CPU and RSS are not measured" >&2
fi
url_of() { if [ "$1" = ours ]; then echo "$ours_url"; else echo "$tacker_url"; fi; }
pid_of() { if [ "$1" = ours ]; then echo "$ours_pid"; else echo "${tacker_pids%% *}"; fi; }
pids_of() { if [ "$1" = ours ]; then echo "$ours_pid"; else echo "$tacker_pids"; fi; }
echo "== vnfm at $ours_url${tacker_url:+; Tacker at $tacker_url}; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------------------- packages
package_zip() { # OUT VNFD_ID: v1-functional with its descriptor id replaced
    local out=$1 vnfd=$2 dir=$work/pkg-$RANDOM
    cp -r "$corpus/v1-functional/package" "$dir"
    sed -i "s/b1bb0ce7-ebca-4fa7-95ed-4840d7000000/$vnfd/g" "$dir"/Definitions/*.yaml
    (cd "$dir" && zip -qr "$out" .)
    rm -rf "$dir"
}

declare -A vnfd_of
onboard() { # SERVER: onboards one package; sets ms to the time from PUT to ONBOARDED
    local server=$1 url id vnfd zip t0 state=
    url=$(url_of "$server")
    vnfd=$(python3 -c 'import uuid; print(uuid.uuid4())')
    zip=$work/$vnfd.zip
    package_zip "$zip" "$vnfd"
    id=$(curl -sf -X POST -H 'Content-Type: application/json' -d '{}' \
        "$url/vnfpkgm/v1/vnf_packages" | json id)
    [ -n "$id" ] || { echo "$server: package creation failed" >&2; exit 1; }
    t0=$(now_ms)
    curl -sf -o /dev/null -X PUT -H 'Content-Type: application/zip' --data-binary "@$zip" \
        "$url/vnfpkgm/v1/vnf_packages/$id/package_content" \
        || { echo "$server: upload refused" >&2; exit 1; }
    for _ in $(seq 3000); do
        state=$(curl -sf "$url/vnfpkgm/v1/vnf_packages/$id" | json onboardingState)
        [ "$state" = ONBOARDED ] || [ "$state" = CREATED ] && break
        sleep 0.01
    done
    [ "$state" = ONBOARDED ] || { echo "$server: package $id ended $state" >&2; exit 1; }
    ms=$(( $(now_ms) - t0 ))
    rm -f "$zip"
    vnfd_of[$server]=$vnfd
    echo "$vnfd" >> "$work/$server.vnfds"
}

declare -A results lists
ms=0
record() { results["$1|$2"]=$3; }

packages_to() { # SERVER N: onboards until the server holds N packages
    local count
    count=$(wc -l < "$work/$1.vnfds")
    while [ "$count" -lt "$2" ]; do
        onboard "$1"
        count=$((count + 1))
    done
}

load() { # SERVER PATH VERSION ITEMS LABEL: one http-load run; prints "req/s p50 us/request"
    local server=$1 out args=()
    local pid; pid=$(pid_of "$server")
    [ -n "$pid" ] && args=(--server-pid "$pid" --clock-ticks "$(getconf CLK_TCK)")
    out=$("$bin/http-load" "$(url_of "$server")$2" --label "$5" --clients 1 \
        --duration "$seconds" --warmup 1 -H "Version: $3" --expect-items "$4" \
        --check-every 10 --timeout 30 "${args[@]}") || { echo "$out" >&2; exit 1; }
    echo "$out" | sed 's/^/    /' >&2
    echo "$out" | awk '
        /req\/s/ { for (i = 1; i <= NF; i++) { if ($(i+1) == "req/s;") rps = $i; if ($i == "p50") p50 = $(i+1) } }
        /server CPU/ { for (i = 1; i <= NF; i++) if ($(i+1) == "us") cpu = $i }
        END { printf "%s %s %s\n", rps, p50, (cpu == "" ? "-" : cpu) }'
}

walk() { # SERVER PATH VERSION: the ms of a full listing by the Link headers
    local out
    out=$("$bin/http-load" "$(url_of "$1")$2" --label "walk" --walk --max-pages 2000 \
        -H "Version: $3" --timeout 60) || { echo "$out" >&2; exit 1; }
    echo "$out" | sed 's/^/    /' >&2
    echo "$out" | sed -n 's/.* in \([0-9.]*\) s:.*/\1/p' | awk '{ printf "%.1f\n", $1 * 1000 }'
}

create() { # SERVER: creates one instance; sets ms to its latency and keeps its id
    local url t0 answer id
    url=$(url_of "$1")
    t0=$(now_ms)
    answer=$(curl -sf -X POST -H 'Version: 2.0.0' -H 'Content-Type: application/json' \
        -d "{\"vnfdId\": \"${vnfd_of[$1]}\", \"vnfInstanceName\": \"side-by-side\"}" \
        "$url/vnflcm/v2/vnf_instances") || { echo "$1: create refused" >&2; exit 1; }
    ms=$(( $(now_ms) - t0 ))
    id=$(echo "$answer" | json id)
    echo "$id" >> "$work/$1.instances"
}

instances_to() { # SERVER N
    local count=0
    [ -f "$work/$1.instances" ] && count=$(wc -l < "$work/$1.instances")
    while [ "$count" -lt "$2" ]; do
        create "$1"
        count=$((count + 1))
    done
}

fail_instantiate() { # SERVER: sets ms to the time from POST instantiate to FAILED_TEMP
    local url id t0 location state=
    url=$(url_of "$1")
    create "$1"
    id=$(tail -n 1 "$work/$1.instances")
    t0=$(now_ms)
    location=$(curl -s -D - -o /dev/null -X POST -H 'Version: 2.0.0' \
        -H 'Content-Type: application/json' -d "@$recipe/inst_req_v2.json" \
        "$url/vnflcm/v2/vnf_instances/$id/instantiate" \
        | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
    [ -n "$location" ] || { echo "$1: instantiate not accepted" >&2; exit 1; }
    for _ in $(seq 6000); do
        state=$(curl -sf -H 'Version: 2.0.0' "$location" | json operationState)
        [ "$state" = FAILED_TEMP ] || [ "$state" = COMPLETED ] || [ "$state" = FAILED ] && break
        sleep 0.01
    done
    [ "$state" = FAILED_TEMP ] || { echo "$1: instantiate ended $state" >&2; exit 1; }
    ms=$(( $(now_ms) - t0 ))
}

rss_mib() { # SERVER
    local total=0 pid kb
    for pid in $(pids_of "$1"); do
        kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    awk -v kb="$total" 'BEGIN { printf "%.1f\n", kb / 1024 }'
}

for server in "${servers[@]}"; do : > "$work/$server.vnfds"; done

echo "== onboarding (ms, $rounds rounds)"
declare -A samples
for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do onboard "$server"; samples[$server]+="$ms "; done
done
for server in "${servers[@]}"; do
    record onboarding "$server" "$(echo "${samples[$server]}" | tr ' ' '\n' | grep . | median)"
    echo "  $server: median ${results["onboarding|$server"]} ms"
done

for n in 10 100; do
    echo "== package list with $n packages"
    for server in "${servers[@]}"; do packages_to "$server" "$n"; done
    for round in $(seq "$rounds"); do
        for server in "${servers[@]}"; do
            figures=$(load "$server" /vnfpkgm/v1/vnf_packages 1.3.0 "$n" "$server packages ($n)")
            read -r rps p50 cpu <<< "$figures"
            lists["pl$n|$server"]+="$rps,$p50,$cpu "
        done
    done
done

list_instances() { # N: the instance list workloads with N instances
    local n=$1 server round first figures rps p50 cpu
    echo "== instance list with $n instances"
    for server in "${servers[@]}"; do
        # The instances of the create rounds count; a list of exactly N is what is measured.
        instances_to "$server" "$n"
    done
    for round in $(seq "$rounds"); do
        for server in "${servers[@]}"; do
            first=$(( n < 100 ? n : 100 ))
            if [ "$server" = tacker ]; then first=$n; fi
            figures=$(load "$server" /vnflcm/v2/vnf_instances 2.0.0 "$first" "$server instances ($n), first page")
            read -r rps p50 cpu <<< "$figures"
            lists["il$n|$server"]+="$rps,$p50,$cpu "
            figures=$(walk "$server" /vnflcm/v2/vnf_instances 2.0.0)
            lists["walk$n|$server"]+="$figures "
        done
    done
}

list_instances 10

echo "== create (ms, 10 per round)"
unset samples; declare -A samples
for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do
        for _ in $(seq 10); do create "$server"; samples[$server]+="$ms "; done
    done
done
for server in "${servers[@]}"; do
    record create "$server" "$(echo "${samples[$server]}" | tr ' ' '\n' | grep . | median)"
    echo "  $server: median ${results["create|$server"]} ms"
done

list_instances "$large"

echo "== failing instantiate (ms)"
unset samples; declare -A samples
for round in $(seq "$rounds"); do
    for server in "${servers[@]}"; do fail_instantiate "$server"; samples[$server]+="$ms "; done
done
for server in "${servers[@]}"; do
    record "failing instantiate" "$server" "$(echo "${samples[$server]}" | tr ' ' '\n' | grep . | median)"
    record "RSS (MiB)" "$server" "$(rss_mib "$server")"
    record "startup" "$server" "$(echo "${startup[$server]:-}" | tr ' ' '\n' | grep . | median)"
done

field() { # "a,b,c a,b,c …" INDEX: the median of one field
    echo "$1" | tr ' ' '\n' | grep . | cut -d, -f"$2" | grep -v '^-$' | median
}
for key in pl10 pl100 il10 "il$large"; do
    for server in "${servers[@]}"; do
        data=${lists["$key|$server"]:-}
        record "$key req/s" "$server" "$(field "$data" 1)"
        record "$key p50 ms" "$server" "$(field "$data" 2)"
        record "$key CPU us/req" "$server" "$(field "$data" 3)"
    done
done
for n in 10 "$large"; do
    for server in "${servers[@]}"; do
        record "walk$n ms" "$server" "$(echo "${lists["walk$n|$server"]}" | tr ' ' '\n' | grep . | median)"
    done
done

echo
echo "== medians of $rounds rounds (ratio: Tacker / this VNFM; above 1 means this VNFM is ahead,"
echo "   except for req/s where it is this VNFM / Tacker)"
printf '%-34s %14s %14s %8s\n' workload vnfm tacker ratio
row() { # KEY LABEL HIGHER_IS_BETTER
    local ours=${results["$1|ours"]:--} theirs=${results["$1|tacker"]:--} ratio=-
    if [ "$ours" != - ] && [ "$theirs" != - ] && [ -n "$ours" ] && [ -n "$theirs" ]; then
        ratio=$(awk -v a="$ours" -v b="$theirs" -v up="$3" 'BEGIN {
            if (up) { if (b > 0) printf "%.1f", a / b; else print "-" }
            else { if (a > 0) printf "%.1f", b / a; else print "-" } }')
    fi
    printf '%-34s %14s %14s %8s\n' "$2" "$ours" "${theirs}" "$ratio"
}
row startup "startup (ms)" 0
row onboarding "onboarding (ms)" 0
row "pl10 req/s" "package list, 10: req/s" 1
row "pl10 p50 ms" "package list, 10: p50 (ms)" 0
row "pl10 CPU us/req" "package list, 10: CPU (us/req)" 0
row "pl100 req/s" "package list, 100: req/s" 1
row "pl100 p50 ms" "package list, 100: p50 (ms)" 0
row "pl100 CPU us/req" "package list, 100: CPU (us/req)" 0
row create "create (ms)" 0
row "il10 req/s" "instance list, 10: req/s" 1
row "il10 p50 ms" "instance list, 10: p50 (ms)" 0
row "il10 CPU us/req" "instance list, 10: CPU (us/req)" 0
row "il$large req/s" "instances $large, first page: req/s" 1
row "il$large p50 ms" "instances $large, first page: p50" 0
row "il$large CPU us/req" "instances $large, first page: CPU" 0
row "walk10 ms" "instances 10, full listing (ms)" 0
row "walk$large ms" "instances $large, full listing (ms)" 0
row "failing instantiate" "failing instantiate (ms)" 0
row "RSS (MiB)" "RSS at the end (MiB)" 0
