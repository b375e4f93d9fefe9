#!/usr/bin/env bash
# Fuzzes the package reader (CSAR + VNFD) with cargo-fuzz for a given time.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# Targets: csar (arbitrary zip bytes), vnfd (TOSCA.meta, manifest or VNFD text).
# Seeds come from ../shared/corpus when it is there. Crashes land in
# fuzz/artifacts/<target>/; reproduce with `cargo fuzz run <target> <file>`.
# cargo-fuzz needs nightly-only compiler flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csar vnfd)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1

corpus=../shared/corpus
mkdir -p fuzz/corpus/csar fuzz/corpus/vnfd
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
        for m in "$pkg"/TOSCA-Metadata/TOSCA.meta; do
            [ -f "$m" ] && { printf '\000'; cat "$m"; } > "fuzz/corpus/vnfd/$name-meta"
        done
    done
fi

for target in "${targets[@]}"; do
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=1048576 -timeout=10 -print_final_stats=1
done
