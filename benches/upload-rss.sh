#!/usr/bin/env bash
# Memory of a large package upload: `vnfm` (release build, SQLite store and package
# files in a fresh data directory, no authentication, loopback) takes a 2 GiB VNF
# package by `PUT …/package_content`, and its resident memory is sampled throughout.
#
#   benches/upload-rss.sh [SIZE_MIB]     (default 2048)
#   NO_BUILD=1 benches/upload-rss.sh     (use the vnfm already built)
#   GOAL_MB=100 benches/upload-rss.sh    (the most the peak may exceed idle, in MB)
#
# 1. Writes the package with benches/big_csar.py: the sample VNF of
#    examples/packages/sample-vnf plus a SIZE_MIB MiB artifact stored uncompressed and
#    listed in the manifest with its SHA-256, so onboarding reads and hashes all of it.
# 2. Starts `vnfm` with `--max-package-size` just above the package, waits 2 s and
#    reads its idle RSS (VmRSS of /proc/PID/status).
# 3. Creates a package, uploads the zip with curl (`PUT`, application/zip, 202
#    expected once onboarded) while VmRSS is sampled every 50 ms, and checks the
#    package is ONBOARDED with the checksum of the file.
# 4. Downloads the package content (`GET …/package_content`) and a 64 MiB range of
#    the artifact (`GET …/artifacts/Files/images/big.bin`, `Range`), checking sizes.
# 5. Uploads a package one byte above a `--max-package-size` of a second server and
#    expects 413 ProblemDetails naming the limit, the package still CREATED.
#
# Prints idle RSS, the peak (VmHWM, the kernel's own high-water mark, and the highest
# VmRSS sample) and the difference, per phase; exits non-zero when the peak exceeds
# idle by more than GOAL_MB (default 100) or any check fails. The package, the data
# directories and the servers are removed on exit. Needs python3 and curl; binaries go
# to ${CARGO_TARGET_DIR:-target}/release. The package spool and the package store are
# on the data directory's disk: it needs about 3 × SIZE_MIB free.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-2048}
goal_mb=${GOAL_MB:-100}
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/upload-rss.XXXXXX")
server_pid=
sampler_pid=

stop_server() {
    if [ -n "$sampler_pid" ]; then
        kill "$sampler_pid" 2>/dev/null || true
        wait "$sampler_pid" 2>/dev/null || true
        sampler_pid=
    fi
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
    echo "== building vnfm (release)"
    cargo build --release -q -p tacker-vnfm --bin vnfm
fi

echo "== writing a ${size_mib} MiB package"
package="$work/big.zip"
package_sha=$(python3 benches/big_csar.py "$package" "$size_mib")
package_size=$(stat -c %s "$package")
echo "package: $package_size bytes, sha256 $package_sha"

# start_server DIR MAX_PACKAGE_SIZE: starts vnfm on a free port; sets server_pid, base.
start_server() {
    local dir=$1 limit=$2
    "$bin/vnfm" --listen 127.0.0.1:0 --data-dir "$dir" --log warn \
        --max-package-size "$limit" > "$work/server.out" 2> "$work/server.err" &
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

status_kb() { # status_kb FIELD: a VmXXX field of the server, in kB
    awk -v f="$1:" '$1 == f { print $2 }' "/proc/$server_pid/status"
}

# Samples VmRSS every 50 ms into $work/samples until killed.
start_sampler() {
    : > "$work/samples"
    (
        while kill -0 "$server_pid" 2>/dev/null; do
            awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status" >> "$work/samples" 2>/dev/null || true
            sleep 0.05
        done
    ) &
    sampler_pid=$!
}

stop_sampler() {
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=
}

failed=0
# report PHASE IDLE_KB: prints the phase's peak against idle and checks the goal.
report() {
    local phase=$1 idle=$2
    local hwm sampled peak diff
    hwm=$(status_kb VmHWM)
    sampled=$(sort -n "$work/samples" | tail -n 1)
    sampled=${sampled:-0}
    peak=$(( hwm > sampled ? hwm : sampled ))
    diff=$(( peak - idle ))
    printf '%-28s idle %7.1f MB   peak %7.1f MB (VmHWM %.1f, highest sample %.1f)   above idle %7.1f MB\n' \
        "$phase" "$(echo "$idle / 1024" | bc -l)" "$(echo "$peak / 1024" | bc -l)" \
        "$(echo "$hwm / 1024" | bc -l)" "$(echo "$sampled / 1024" | bc -l)" "$(echo "$diff / 1024" | bc -l)"
    if [ "$diff" -gt $(( goal_mb * 1024 )) ]; then
        echo "FAIL: $phase peaked $(( diff / 1024 )) MB above idle; the goal is under $goal_mb MB" >&2
        failed=1
    fi
}

api="/vnfpkgm/v2/vnf_packages"
version=(-H "Version: 2.4.0")

create_package() {
    curl -sS --max-time 10 "${version[@]}" -H 'Content-Type: application/json' \
        -d '{}' "$base$api" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

echo "== upload"
start_server "$work/data" $(( package_size + 1024 ))
sleep 2
idle=$(status_kb VmRSS)
id=$(create_package)
start_sampler
start=$(date +%s.%N)
code=$(curl -sS --max-time 1800 -o "$work/put.out" -w '%{http_code}' -X PUT "${version[@]}" \
    -H 'Content-Type: application/zip' -T "$package" "$base$api/$id/package_content")
end=$(date +%s.%N)
stop_sampler
if [ "$code" != 202 ]; then
    echo "FAIL: PUT package_content answered $code: $(cat "$work/put.out")" >&2; exit 1
fi
printf 'upload of %s bytes: %.1f s\n' "$package_size" "$(echo "$end - $start" | bc -l)"
curl -sS --max-time 10 "${version[@]}" "$base$api/$id" > "$work/info.json"
python3 - "$work/info.json" "$package_sha" <<'EOF'
import json, sys
info = json.load(open(sys.argv[1]))
assert info["onboardingState"] == "ONBOARDED", info
assert info["checksum"]["hash"] == sys.argv[2], (info["checksum"], sys.argv[2])
print("package ONBOARDED, checksum matches the file")
EOF
report "PUT package_content" "$idle"

echo "== downloads"
start_sampler
got=$(curl -sS --max-time 1800 "${version[@]}" -o /dev/null -w '%{size_download}' \
    "$base$api/$id/package_content")
[ "$got" = "$package_size" ] || { echo "FAIL: package_content sent $got of $package_size bytes" >&2; exit 1; }
got=$(curl -sS --max-time 600 "${version[@]}" -o /dev/null -w '%{http_code} %{size_download}' \
    -H 'Range: bytes=1048576-68157439' "$base$api/$id/artifacts/Files/images/big.bin")
[ "$got" = "206 67108864" ] || { echo "FAIL: the artifact range answered $got" >&2; exit 1; }
stop_sampler
echo "GET package_content: $package_size bytes; GET artifact range: 64 MiB"
report "GET content + artifact range" "$idle"
stop_server

echo "== above --max-package-size"
start_server "$work/data-small" $(( package_size - 1 ))
id=$(create_package)
code=$(curl -sS --max-time 600 -o "$work/put.out" -w '%{http_code}' -X PUT "${version[@]}" \
    -H 'Content-Type: application/zip' -T "$package" "$base$api/$id/package_content")
python3 - "$work/put.out" "$code" $(( package_size - 1 )) <<'EOF'
import json, sys
problem = json.load(open(sys.argv[1]))
assert sys.argv[2] == "413" and problem["status"] == 413, (sys.argv[2], problem)
assert sys.argv[3] in problem["detail"], problem
print(f"413: {problem['detail']}")
EOF
state=$(curl -sS --max-time 10 "${version[@]}" "$base$api/$id" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["onboardingState"])')
[ "$state" = CREATED ] || { echo "FAIL: the refused package is $state" >&2; exit 1; }
leftovers=$(find "$work/data-small/packages" "$work/data-small/spool" -type f | wc -l)
[ "$leftovers" = 0 ] || { echo "FAIL: $leftovers files left behind" >&2; exit 1; }
echo "package still CREATED, nothing stored or spooled"
stop_server

if [ "$failed" != 0 ]; then
    exit 1
fi
echo "OK: peak under $goal_mb MB above idle"
