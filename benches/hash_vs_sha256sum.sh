#!/usr/bin/env bash
# Digest verification throughput of the package reader against sha256sum, on one
# 1 GiB file (the size of a real VM image): both read the same file from the page
# cache, the reader through Csar::verify_hashes of a package that lists it.
#   benches/hash_vs_sha256sum.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg/Files/images" "$work/pkg/TOSCA-Metadata"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/pkg/Files/images/image.img"
cargo build --release -q -p tacker-benches --bin hash-verify
digest=$(sha256sum "$work/pkg/Files/images/image.img" | cut -d' ' -f1)
printf 'Entry-Definitions: vnfd.yaml\n\nName: Files/images/image.img\nAlgorithm: SHA-256\nHash: %s\n' "$digest" \
    > "$work/pkg/TOSCA-Metadata/TOSCA.meta"
echo "tosca_definitions_version: tosca_simple_yaml_1_3" > "$work/pkg/vnfd.yaml"

best_sum=999999; best_ours=999999
for run in 1 2 3; do
    start=$(date +%s.%N); sha256sum "$work/pkg/Files/images/image.img" > /dev/null; end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc); best_sum=$(echo "if ($t < $best_sum) $t else $best_sum" | bc)
    t=$(target/release/hash-verify "$work/pkg" | cut -d' ' -f1); best_ours=$(echo "if ($t < $best_ours) $t else $best_ours" | bc)
done
echo "file: ${size_mib} MiB"
echo "sha256sum:     best of 3 $(printf '%.3f' "$best_sum") s  ($(echo "$size_mib / $best_sum" | bc) MiB/s)"
echo "verify_hashes: best of 3 $(printf '%.3f' "$best_ours") s  ($(echo "$size_mib / $best_ours" | bc) MiB/s)"
echo "ratio (ours / sha256sum throughput): $(echo "scale=2; $best_sum / $best_ours" | bc)"
