#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1 for tests: etcd, kube-apiserver,
# kube-controller-manager and kube-scheduler of one release, built from its Go modules
# (scripts/k8s-cluster/go.mod), and kwok for simulated nodes, so that Pods are scheduled and
# become Running and Ready without containers. See scripts/k8s-cluster/README.md.
#
#   scripts/k8s-cluster.sh build [NAME...]  build the missing binaries (all, or those named)
#   scripts/k8s-cluster.sh up               build if needed, start, wait until usable (idempotent)
#   scripts/k8s-cluster.sh down             stop what `up` started (binaries and state stay)
#   scripts/k8s-cluster.sh env              print `export` lines: eval "$(scripts/k8s-cluster.sh env)"
#   scripts/k8s-cluster.sh status           processes, their RSS, /readyz
#   scripts/k8s-cluster.sh smoke            scripts/k8s-cluster-smoke.sh against the running cluster
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MOD=$REPO/scripts/k8s-cluster
BASE=${K8S_CLUSTER_CACHE:-$REPO/target/k8s-cluster} # binaries and Go caches
BIN=$BASE/bin
GO_DIR=$BASE/go
RUN=${K8S_CLUSTER_DIR:-$REPO/target/k8s-cluster/run} # PKI, etcd data, logs, pids
PKI=$RUN/pki
LOGS=$RUN/logs
PIDS=$RUN/pids

# The address every component listens on (another loopback address gives a second cluster
# on the same ports).
ADDRESS=${K8S_CLUSTER_ADDRESS:-127.0.0.1}
API_PORT=${K8S_CLUSTER_API_PORT:-16443}
ETCD_PORT=${K8S_CLUSTER_ETCD_PORT:-12379}
ETCD_PEER_PORT=${K8S_CLUSTER_ETCD_PEER_PORT:-12380}
KCM_PORT=${K8S_CLUSTER_KCM_PORT:-16257}
SCHED_PORT=${K8S_CLUSTER_SCHED_PORT:-16259}
KWOK_PORT=${K8S_CLUSTER_KWOK_PORT:-16247}
NODES=${K8S_CLUSTER_NODES:-2}
SERVICE_CIDR=${K8S_CLUSTER_SERVICE_CIDR:-10.96.0.0/16}
VIM_USER=tacker-vim
VIM_GROUP=tacker-vims

# The versions come from go.mod, so that the two cannot disagree.
mod_version() { awk -v m="$1" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$MOD/go.mod"; }
KUBE_VERSION=$(mod_version k8s.io/kubernetes)
KWOK_VERSION=$(mod_version sigs.k8s.io/kwok)
ETCD_VERSION=$(mod_version go.etcd.io/etcd/server/v3)

CONTROL_PLANE=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() { printf '[k8s-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- build ----
go_env() {
    export GOPATH=$GO_DIR GOMODCACHE=$GO_DIR/pkg/mod GOCACHE=$GO_DIR/cache
    export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
}

# A digest of what the binaries are built from: a change rebuilds them all.
recipe_digest() {
    { cat "$MOD/go.mod" "$MOD/go.sum" "$MOD/etcd/main.go"; declare -f build_one write_kwok_stages; } |
        sha256sum | cut -c1-16
}

package_of() {
    case $1 in
        etcd) echo ./etcd ;;
        kwok) echo sigs.k8s.io/kwok/cmd/kwok ;;
        kube-apiserver | kube-controller-manager | kube-scheduler | kubectl) echo "k8s.io/kubernetes/cmd/$1" ;;
        *) die "no such binary: $1" ;;
    esac
}

build_one() {
    local name=$1 pkg ld="-s -w" p minor
    pkg=$(package_of "$name")
    if [[ $pkg == k8s.io/kubernetes/* ]]; then
        minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
        for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
            ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
        done
    fi
    local t0; t0=$(now)
    log "building $name ($pkg)"
    (cd "$MOD" && go_env && nice -n 10 go build -trimpath -ldflags "$ld" -o "$BIN/$name.tmp" "$pkg")
    mv "$BIN/$name.tmp" "$BIN/$name"
    echo "$(date -Is) $name $(since "$t0")s $(($(stat -c %s "$BIN/$name") / 1048576))MiB go$(go env GOVERSION | sed 's/^go//')" \
        | tee -a "$BASE/build-times.txt" >&2
}

# kwok's own default stages (what kwokctl configures): nodes become Ready and keep a
# lease; Pods become Running and Ready, Jobs' Pods complete, deleted Pods go away.
write_kwok_stages() {
    local dir f
    dir=$(cd "$MOD" && go_env && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
    [ -d "$dir" ] || die "kwok's module is not in the module cache"
    {
        for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
            pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
            echo "---"
            cat "$dir/kustomize/stage/$f"
        done
    } >"$BIN/kwok-stages.yaml.tmp"
    mv "$BIN/kwok-stages.yaml.tmp" "$BIN/kwok-stages.yaml"
}

# The kubectl that the smoke test and `env` name: K8S_CLUSTER_KUBECTL, else ours if built,
# else the one on PATH (.ci/run installs Debian's kubernetes-client), else none.
find_kubectl() {
    if [ -n "${K8S_CLUSTER_KUBECTL:-}" ]; then echo "$K8S_CLUSTER_KUBECTL"
    elif [ -x "$BIN/kubectl" ]; then echo "$BIN/kubectl"
    else command -v kubectl || true; fi
}

cmd_build() {
    mkdir -p "$BIN"
    local digest wanted=("$@") missing=() b
    digest=$(recipe_digest)
    if [ "$(cat "$BIN/.recipe" 2>/dev/null)" != "$digest" ]; then
        [ -f "$BIN/.recipe" ] && log "scripts/k8s-cluster changed: rebuilding the binaries"
        rm -f "$BIN"/*
        echo "$digest" >"$BIN/.recipe"
    fi
    if [ ${#wanted[@]} -eq 0 ]; then
        wanted=("${CONTROL_PLANE[@]}")
        [ -n "$(find_kubectl)" ] || wanted+=(kubectl)
    fi
    for b in "${wanted[@]}"; do [ -x "$BIN/$b" ] || missing+=("$b"); done
    if [ ${#missing[@]} -gt 0 ]; then
        command -v go >/dev/null || die "go is not installed"
        log "Kubernetes $KUBE_VERSION, kwok $KWOK_VERSION, etcd $ETCD_VERSION; Go caches under $GO_DIR"
        for b in "${missing[@]}"; do build_one "$b"; done
    fi
    [ -s "$BIN/kwok-stages.yaml" ] || write_kwok_stages
}

# ----------------------------------------------------------------- pki -----
address_sans() {
    if [ "$ADDRESS" = 127.0.0.1 ]; then echo "IP:127.0.0.1"; else echo "IP:127.0.0.1,IP:$ADDRESS"; fi
}

sign() { # name subject extensions
    local name=$1 subject=$2 ext=$3
    openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
    openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr"
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" "$ext" >"$PKI/$name.ext"
    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
        -days 3650 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
    rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ensure_pki() {
    [ -f "$PKI/.done" ] && return 0
    command -v openssl >/dev/null || die "openssl is not installed"
    rm -rf "$PKI"; mkdir -p "$PKI"
    openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
    openssl req -x509 -new -nodes -key "$PKI/ca.key" -subj "/CN=k8s-cluster-ca" -days 3650 -sha256 \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
        -out "$PKI/ca.crt"
    local svc_ip
    svc_ip=$(awk -F'[./]' '{ printf "%d.%d.%d.%d", $1, $2, $3, $4 + 1 }' <<<"$SERVICE_CIDR")
    sign apiserver "/CN=kube-apiserver" "extendedKeyUsage=serverAuth
subjectAltName=$(address_sans),DNS:localhost,IP:$svc_ip,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign admin "/O=system:masters/CN=k8s-cluster-admin" "extendedKeyUsage=clientAuth"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "extendedKeyUsage=clientAuth"
    sign kube-controller-manager "/CN=system:kube-controller-manager" "extendedKeyUsage=clientAuth"
    sign kube-scheduler "/CN=system:kube-scheduler" "extendedKeyUsage=clientAuth"
    sign kwok "/CN=kwok" "extendedKeyUsage=serverAuth
subjectAltName=$(address_sans),DNS:localhost"
    sign vim "/O=$VIM_GROUP/CN=$VIM_USER" "extendedKeyUsage=clientAuth"
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    openssl rand -hex 32 >"$PKI/vim.token"
    # A token in kubeadm's bootstrap-token shape for nodes that join (no rights until a
    # binding grants the group some).
    echo "$(openssl rand -hex 3).$(openssl rand -hex 8)" >"$PKI/join.token"
    {
        echo "$(cat "$PKI/vim.token"),$VIM_USER,$VIM_USER,$VIM_GROUP"
        echo "$(cat "$PKI/join.token"),k8s-cluster-joiner,k8s-cluster-joiner,k8s-cluster-joiners"
    } >"$PKI/tokens.csv"
    chmod 600 "$PKI"/*.key "$PKI/vim.token" "$PKI/join.token" "$PKI/tokens.csv"
    touch "$PKI/.done"
}

kubeconfig() { # file user cert key
    cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8s-cluster
  cluster:
    server: https://$ADDRESS:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $3
    client-key: $4
contexts:
- name: $2
  context: {cluster: k8s-cluster, user: $2}
current-context: $2
EOF
    chmod 600 "$1"
}

write_kubeconfigs() {
    kubeconfig "$RUN/admin.kubeconfig" admin "$PKI/admin.crt" "$PKI/admin.key"
    kubeconfig "$RUN/kube-controller-manager.kubeconfig" kube-controller-manager \
        "$PKI/kube-controller-manager.crt" "$PKI/kube-controller-manager.key"
    kubeconfig "$RUN/kube-scheduler.kubeconfig" kube-scheduler "$PKI/kube-scheduler.crt" "$PKI/kube-scheduler.key"
    # The VIM user, by client certificate (context tacker-vim, the default) or by bearer
    # token (context tacker-vim-token).
    cat >"$RUN/vim.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: k8s-cluster
  cluster:
    server: https://$ADDRESS:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $VIM_USER
  user:
    client-certificate: $PKI/vim.crt
    client-key: $PKI/vim.key
- name: $VIM_USER-token
  user:
    token: $(cat "$PKI/vim.token")
contexts:
- name: $VIM_USER
  context: {cluster: k8s-cluster, user: $VIM_USER}
- name: $VIM_USER-token
  context: {cluster: k8s-cluster, user: $VIM_USER-token}
current-context: $VIM_USER
EOF
    chmod 600 "$RUN/vim.kubeconfig"
}

# ------------------------------------------------------------- processes ---
# A pid file whose process still runs our binary (not a reused pid).
alive() {
    local f=$PIDS/$1.pid
    [ -f "$f" ] && tr '\0' ' ' 2>/dev/null <"/proc/$(cat "$f")/cmdline" | grep -qF "$BIN/$1 "
}

start() { # name binary args...
    local name=$1; shift
    if alive "$name"; then return 0; fi
    mkdir -p "$PIDS" "$LOGS"
    nohup "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
    echo $! >"$PIDS/$name.pid"
    log "started $name (pid $!)"
}

api() { # curl as the admin user: api PATH [curl args...]
    local path=$1; shift
    curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
        "$@" "https://$ADDRESS:$API_PORT$path"
}

show_log() { # name: the end of a component's log, on standard error
    [ -f "$LOGS/$1.log" ] || return 0
    log "last lines of $LOGS/$1.log:"
    tail -n "${2:-15}" "$LOGS/$1.log" | cut -c1-400 >&2
}

# Waits for a command to succeed; stops early when a component that was started has died.
wait_for() { # what seconds command...
    local what=$1 secs=$2 i n; shift 2
    for ((i = 0; i < secs * 4; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        for n in "${CONTROL_PLANE[@]}"; do
            if [ -f "$PIDS/$n.pid" ] && ! alive "$n"; then
                show_log "$n" 30
                die "$n exited while waiting for $what"
            fi
        done
        sleep 0.25
    done
    for n in "${CONTROL_PLANE[@]}"; do show_log "$n" 5; done
    die "timed out after ${secs}s waiting for $what (logs in $LOGS)"
}

# Ready, and its lease renewed by this kwok (not a status left from an earlier run).
node_ready() { # name since-epoch-seconds
    api "/api/v1/nodes/$1" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"' || return 1
    local renew
    renew=$(api "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$1" |
        sed -n 's/.*"renewTime": *"\([^"]*\)".*/\1/p')
    [ -n "$renew" ] && [ "$(date -d "$renew" +%s)" -ge "$2" ]
}

node_manifest() {
    cat <<EOF
{"apiVersion": "v1", "kind": "Node",
 "metadata": {"name": "$1",
  "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
  "labels": {"kubernetes.io/hostname": "$1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
             "type": "kwok", "k8s-cluster/fake-node": "true"}}}
EOF
}

cmd_up() {
    local t0; t0=$(now)
    if alive kube-apiserver && api /readyz >/dev/null 2>&1 && all_alive; then
        log "already up (https://$ADDRESS:$API_PORT)"
        return 0
    fi
    local n
    for n in "${CONTROL_PLANE[@]}"; do alive "$n" || rm -f "$PIDS/$n.pid"; done
    cmd_build
    ensure_pki
    mkdir -p "$RUN" "$LOGS" "$PIDS"
    write_kubeconfigs
    local t1; t1=$(now)

    start etcd "$BIN/etcd" --name k8s-cluster --data-dir "$RUN/etcd" \
        --listen-client-url "http://$ADDRESS:$ETCD_PORT" --listen-peer-url "http://$ADDRESS:$ETCD_PEER_PORT"
    wait_for "etcd" 30 curl -sf --max-time 2 "http://$ADDRESS:$ETCD_PORT/health"

    start kube-apiserver "$BIN/kube-apiserver" \
        --etcd-servers "http://$ADDRESS:$ETCD_PORT" \
        --bind-address $ADDRESS --advertise-address $ADDRESS --secure-port "$API_PORT" \
        --endpoint-reconciler-type none \
        --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
        --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
        --authorization-mode Node,RBAC \
        --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-cluster-ip-range "$SERVICE_CIDR" \
        --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
        --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
        --kubelet-certificate-authority "$PKI/ca.crt" \
        --kubelet-preferred-address-types InternalIP \
        --allow-privileged=true --profiling=false --cert-dir "$RUN/kube-apiserver"
    wait_for "kube-apiserver /readyz" 120 api /readyz
    log "kube-apiserver ready after $(since "$t1")s"
    # Fake nodes left from an earlier run are made anew (kwok would take up to a lease's
    # duration to take them over); their Pods are then garbage-collected.
    local i name
    api "/api/v1/nodes?labelSelector=k8s-cluster%2Ffake-node%3Dtrue" -X DELETE >/dev/null
    for name in $(api /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases |
        sed -n 's/.*"name": *"\(kwok-node-[0-9]*\)".*/\1/p' | sort -u); do
        api "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$name" -X DELETE >/dev/null || true
    done

    start kube-controller-manager "$BIN/kube-controller-manager" \
        --kubeconfig "$RUN/kube-controller-manager.kubeconfig" \
        --authentication-kubeconfig "$RUN/kube-controller-manager.kubeconfig" \
        --authorization-kubeconfig "$RUN/kube-controller-manager.kubeconfig" --authentication-skip-lookup \
        --bind-address $ADDRESS --secure-port "$KCM_PORT" --cert-dir "$RUN/kube-controller-manager" \
        --leader-elect=false --use-service-account-credentials=true \
        --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
        --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
        --service-cluster-ip-range "$SERVICE_CIDR" --profiling=false
    start kube-scheduler "$BIN/kube-scheduler" \
        --kubeconfig "$RUN/kube-scheduler.kubeconfig" \
        --authentication-kubeconfig "$RUN/kube-scheduler.kubeconfig" \
        --authorization-kubeconfig "$RUN/kube-scheduler.kubeconfig" --authentication-skip-lookup \
        --bind-address $ADDRESS --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false
    start kwok "$BIN/kwok" \
        --kubeconfig "$RUN/admin.kubeconfig" --config "$BIN/kwok-stages.yaml" \
        --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
        --node-ip $ADDRESS --node-port "$KWOK_PORT" --server-address "$ADDRESS:$KWOK_PORT" \
        --tls-cert-file "$PKI/kwok.crt" --tls-private-key-file "$PKI/kwok.key" \
        --node-lease-duration-seconds 40

    for ((i = 0; i < NODES; i++)); do
        name=kwok-node-$i
        api "/api/v1/nodes/$name" >/dev/null 2>&1 ||
            api /api/v1/nodes -X POST -H 'Content-Type: application/json' -d "$(node_manifest "$name")" >/dev/null ||
            die "could not create node $name"
    done
    for ((i = 0; i < NODES; i++)); do
        wait_for "node kwok-node-$i Ready" 60 node_ready "kwok-node-$i" "${t1%.*}"
    done
    log "nodes Ready after $(since "$t1")s"
    wait_for "ServiceAccount default/default" 60 api /api/v1/namespaces/default/serviceaccounts/default
    log "up: Kubernetes $KUBE_VERSION at https://$ADDRESS:$API_PORT, $NODES node(s) Ready," \
        "$(since "$t1")s after the start of etcd ($(since "$t0")s in all)"
}

all_alive() {
    local n
    for n in "${CONTROL_PLANE[@]}"; do alive "$n" || return 1; done
}

# Stops the named processes: SIGTERM to all, then up to 10 s for them to end, then SIGKILL.
stop_all() {
    local n pid pids=() i
    for n in "$@"; do
        alive "$n" || { rm -f "$PIDS/$n.pid"; continue; }
        pid=$(cat "$PIDS/$n.pid")
        kill "$pid" 2>/dev/null || true
        pids+=("$n:$pid")
    done
    for n in "${pids[@]}"; do
        pid=${n#*:}
        for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
        rm -f "$PIDS/${n%%:*}.pid"
        log "stopped ${n%%:*} (pid $pid)"
    done
}

cmd_down() {
    stop_all kwok kube-scheduler kube-controller-manager kube-apiserver
    stop_all etcd
    if [ "${1:-}" = --purge ]; then rm -rf "${RUN:?}"; log "removed $RUN"; fi
}

cmd_env() {
    [ -f "$PKI/vim.token" ] || die "no cluster state in $RUN: run 'scripts/k8s-cluster.sh up' first"
    local kubectl; kubectl=$(find_kubectl)
    cat <<EOF
export KUBECONFIG=$RUN/admin.kubeconfig
export TACKER_TEST_K8S_ADMIN_KUBECONFIG=$RUN/admin.kubeconfig
export TACKER_TEST_K8S_SERVER=https://$ADDRESS:$API_PORT
export TACKER_TEST_K8S_CA=$PKI/ca.crt
export TACKER_TEST_K8S_USER=$VIM_USER
export TACKER_TEST_K8S_TOKEN=$(cat "$PKI/vim.token")
export TACKER_TEST_K8S_CLIENT_CERT=$PKI/vim.crt
export TACKER_TEST_K8S_CLIENT_KEY=$PKI/vim.key
export TACKER_TEST_K8S_VIM_KUBECONFIG=$RUN/vim.kubeconfig
export TACKER_TEST_K8S_VERSION=$KUBE_VERSION
EOF
    [ -z "$kubectl" ] || echo "export TACKER_TEST_K8S_KUBECTL=$kubectl"
}

cmd_status() {
    local n pid
    for n in "${CONTROL_PLANE[@]}"; do
        if alive "$n"; then
            pid=$(cat "$PIDS/$n.pid")
            printf '%-24s pid %-8s RSS %5s MiB\n' "$n" "$pid" "$(($(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status") / 1024))"
        else
            printf '%-24s not running\n' "$n"
        fi
    done
    if api /readyz >/dev/null 2>&1; then echo "readyz: ok"; else echo "readyz: not ready"; fi
}

case "${1:-}" in
    build) shift; cmd_build "$@" ;;
    up) cmd_up ;;
    down) shift; cmd_down "${1:-}" ;;
    env) cmd_env ;;
    status) cmd_status ;;
    smoke) shift; eval "$(cmd_env)"; exec bash "$REPO/scripts/k8s-cluster-smoke.sh" "$@" ;;
    *) echo "usage: $0 build [NAME...] | up | down [--purge] | env | status | smoke" >&2; exit 2 ;;
esac
