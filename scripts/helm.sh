#!/usr/bin/env bash
# Prints the path of a helm v3 binary for the tests. It is built once from the
# helm.sh/helm/v3 Go module (with the machine's Go and the module proxy) and kept under
# target/tools, with the Go caches beside it, so a machine that keeps target/ builds it
# only once.
set -euo pipefail
cd "$(dirname "$0")/.."
HELM_VERSION="${HELM_VERSION:-v3.21.4}"
tools="$PWD/target/tools"
bin="$tools/bin/helm-$HELM_VERSION"
if [ ! -x "$bin" ]; then
    mkdir -p "$tools/bin"
    build="$(mktemp -d)"
    started=$(date +%s)
    env GOPATH="$tools/go" GOMODCACHE="$tools/go/mod" GOCACHE="$tools/go/cache" \
        GOBIN="$build" GOTOOLCHAIN=local CGO_ENABLED=0 \
        go install -trimpath -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" >&2
    mv "$build/helm" "$bin"
    rmdir "$build"
    echo "built helm $HELM_VERSION in $(( $(date +%s) - started )) s" >&2
fi
echo "$bin"
