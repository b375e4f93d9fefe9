#!/usr/bin/env bash
# Fuzzes every parser of outside input with cargo-fuzz for a given time per target.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets: csar (arbitrary zip bytes), vnfd (TOSCA.meta, manifest or VNFD text),
# filter (SOL013 filter expressions), list_query (list query strings: filter, attribute
# selectors, paging markers), json_body (JSON request bodies and their limits),
# request_head (request targets through the guard layer, Range and Version headers),
# bearer_token (OAuth 2.0 JWTs), heat_template (a package's top Heat template through the
# OpenStack driver's reordering), mgmt_params (the management drivers' request parameters:
# k8s_cluster_installation_param and ansible). FUZZ_TARGET_DIR (default fuzz/target) is where the
# instrumented build goes.
# Seeds come from ../shared/corpus when it is there. Crashes land in
# fuzz/artifacts/<target>/; reproduce with `cargo fuzz run <target> <file>`.
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csar vnfd filter list_query json_body request_head bearer_token heat_template mgmt_params)
target_dir=${FUZZ_TARGET_DIR:-fuzz/target}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

corpus=../shared/corpus
mkdir -p fuzz/corpus/csar fuzz/corpus/vnfd fuzz/corpus/filter fuzz/corpus/list_query \
    fuzz/corpus/json_body fuzz/corpus/request_head fuzz/corpus/bearer_token fuzz/corpus/heat_template \
    fuzz/corpus/mgmt_params
# Seeds of the client-input targets: a few well-formed inputs of each.
printf '%s' '(eq,instantiationState,INSTANTIATED);(in,vnfProvider,a,b)' > fuzz/corpus/filter/seed-1
printf '%s' "(cont,metadata/note,'a,b (c)');(gt,instantiatedVnfInfo/scaleStatus/scaleLevel,1)" > fuzz/corpus/filter/seed-2
printf '%s' '0filter=(eq,id,x)&fields=metadata,instantiatedVnfInfo/vnfcResourceInfo&exclude_default' > fuzz/corpus/list_query/seed-1
printf '%s' '1filter=(neq,a.b,c)&nextpage_opaque_marker=3031' > fuzz/corpus/list_query/seed-2
printf '%s' '0{"vnfdId":"x","vnfInstanceName":"n","metadata":{"a":[1,2,{"b":null}]}}' > fuzz/corpus/json_body/seed-1
printf '%s' '1{"flavourId":"simple","extVirtualLinks":[{"id":"l","resourceId":"r","extCps":[]}]}' > fuzz/corpus/json_body/seed-2
printf '%s' '5{"callbackUri":"http://127.0.0.1/cb","filter":{"notificationTypes":["VnfLcmOperationOccurrenceNotification"]}}' > fuzz/corpus/json_body/seed-3
printf '%s\n%s' '/vnflcm/v2/vnf_instances/a%20b?filter=(eq,id,%C2%85)' 'bytes=0-99' > fuzz/corpus/request_head/seed-1
printf '%s\n%s' '/vnfpkgm/v2/vnf_packages/x/artifacts/a/b.txt' '2.3.0' > fuzz/corpus/request_head/seed-2
printf '%s' '{"script_path":"Scripts/i.sh","master_node":{"vdu_id":"m","ssh_cp_name":"c","nic_cp_name":"c","username":"u","password":"p","ssh_host_key_fingerprints":["SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"],"cluster_cp_name":"c"}}' > fuzz/corpus/mgmt_params/seed-1
printf '%s' '{"ansible":{"user":"ubuntu","port":2222,"cp":{"VDU1":"CP1"},"known_hosts":"[h]:22 ssh-ed25519 AAAA","vars":{"a":1}}}' > fuzz/corpus/mgmt_params/seed-2
printf '%s' 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwidGVuYW50IjoidCJ9.c2ln' > fuzz/corpus/bearer_token/seed-1
if [ -d "$corpus" ]; then
    for pkg in "$corpus"/*/package; do
        name=$(basename "$(dirname "$pkg")")
        [ -f "fuzz/corpus/csar/$name.zip" ] || (cd "$pkg" && python3 -c '
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for root, _, files in os.walk("."):
        for f in files:
            p = os.path.join(root, f)
            if os.path.getsize(p) < 1 << 20:
                z.write(p, os.path.relpath(p, "."))
' "$OLDPWD/fuzz/corpus/csar/$name.zip")
        find "$pkg" -name '*.yaml' -size -64k | head -3 | while read -r y; do
            { printf '\002'; cat "$y"; } > "fuzz/corpus/vnfd/$name-$(basename "$y")"
        done
        for t in "$pkg"/BaseHOT/*/*.yaml; do
            [ -f "$t" ] && cp "$t" "fuzz/corpus/heat_template/$name-$(basename "$t")"
        done
        for m in "$pkg"/TOSCA-Metadata/TOSCA.meta; do
            [ -f "$m" ] && { printf '\000'; cat "$m"; } > "fuzz/corpus/vnfd/$name-meta"
        done
    done
fi

for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run --target-dir "$target_dir" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -timeout=10 -print_final_stats=1
done
