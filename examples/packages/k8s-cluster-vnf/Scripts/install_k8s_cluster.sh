#!/usr/bin/env bash
# Builds a Kubernetes cluster with kubeadm on Ubuntu 22.04 / 24.04 VMs.
#
# The tacker-mgmt-k8s-cluster MgmtDriver uploads this script to each node and runs
#   env K8S_...='...' bash install_k8s_cluster.sh <action>
# as the node's user (root, or a user with password-less sudo). Actions:
#   install      on the first master: kubeadm init, CNI, an API token for the VNFM
#   join-master  kubeadm join --control-plane
#   join-worker  kubeadm join
#   token        on a master: fresh join parameters
#   remove-node  on a master: drain and delete K8S_REMOVE_NODE_NAME (and its etcd member)
# Every action is idempotent: the driver may run it again after a failure.
#
# The driver reads the lines "tacker.<key>=<value>" on stdout (see the crate
# documentation); everything else goes to stderr, whose tail the driver reports when
# the script fails.
set -euo pipefail

ACTION="${1:?usage: $0 install|join-master|join-worker|token|remove-node}"
K8S_MINOR="${K8S_MINOR:-v1.31}"
FLANNEL_URL="${FLANNEL_URL:-https://github.com/flannel-io/flannel/releases/download/v0.26.1/kube-flannel.yml}"
POD_CIDR="${K8S_POD_CIDR:-10.244.0.0/16}"
SERVICE_CIDR="${K8S_SERVICE_CIDR:-10.96.0.0/12}"
API_ADDRESS="${K8S_API_ADDRESS:?K8S_API_ADDRESS is required}"
NODE_ADDRESS="${K8S_NODE_ADDRESS:?K8S_NODE_ADDRESS is required}"
SA_NAMESPACE=kube-system
SA_NAME=tacker-vnfm

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo -E); fi
run() { "${SUDO[@]}" "$@"; }
log() { printf '[%s] %s: %s\n' "$(date -u +%H:%M:%S)" "$(hostname)" "$*" >&2; }
kubectl_admin() { run kubectl --kubeconfig /etc/kubernetes/admin.conf "$@"; }

# Everything the commands print goes to stderr; stdout carries only the report.
exec 3>&1 1>&2
report() { printf 'tacker.%s=%s\n' "$1" "$2" >&3; }

setup_proxy() {
    [ -n "${K8S_HTTP_PROXY:-}${K8S_HTTPS_PROXY:-}" ] || return 0
    local no_proxy_list="localhost,127.0.0.1,${API_ADDRESS},${NODE_ADDRESS},${POD_CIDR},${SERVICE_CIDR},.svc,.cluster.local"
    [ -n "${K8S_MASTER_ADDRESSES:-}" ] && no_proxy_list="${no_proxy_list},${K8S_MASTER_ADDRESSES}"
    [ -n "${K8S_NODE_CIDR:-}" ] && no_proxy_list="${no_proxy_list},${K8S_NODE_CIDR}"
    [ -n "${K8S_NO_PROXY:-}" ] && no_proxy_list="${no_proxy_list},${K8S_NO_PROXY}"
    export http_proxy="${K8S_HTTP_PROXY:-}" https_proxy="${K8S_HTTPS_PROXY:-${K8S_HTTP_PROXY:-}}"
    export HTTP_PROXY="$http_proxy" HTTPS_PROXY="$https_proxy" no_proxy="$no_proxy_list" NO_PROXY="$no_proxy_list"
    run mkdir -p /etc/systemd/system/containerd.service.d
    printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n' \
        "$http_proxy" "$https_proxy" "$no_proxy_list" |
        run tee /etc/systemd/system/containerd.service.d/http-proxy.conf >/dev/null
    printf 'Acquire::http::Proxy "%s";\nAcquire::https::Proxy "%s";\n' "$http_proxy" "$https_proxy" |
        run tee /etc/apt/apt.conf.d/95tacker-proxy >/dev/null
}

prepare_node() {
    setup_proxy
    log "preparing the node (containerd, kubeadm ${K8S_MINOR})"
    run swapoff -a
    run sed -i '/\sswap\s/s/^\([^#]\)/#\1/' /etc/fstab
    printf 'overlay\nbr_netfilter\n' | run tee /etc/modules-load.d/k8s.conf >/dev/null
    run modprobe overlay
    run modprobe br_netfilter
    printf 'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n' |
        run tee /etc/sysctl.d/k8s.conf >/dev/null
    run sysctl --system >/dev/null
    if ! command -v kubeadm >/dev/null 2>&1; then
        run env DEBIAN_FRONTEND=noninteractive apt-get update -q
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd
        run mkdir -p /etc/apt/keyrings
        curl -fsSL "https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/Release.key" |
            run gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
        echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/${K8S_MINOR}/deb/ /" |
            run tee /etc/apt/sources.list.d/kubernetes.list >/dev/null
        run env DEBIAN_FRONTEND=noninteractive apt-get update -q
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kubelet kubeadm kubectl
        run apt-mark hold kubelet kubeadm kubectl
    fi
    run mkdir -p /etc/containerd
    if ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null; then
        containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' |
            run tee /etc/containerd/config.toml >/dev/null
    fi
    run systemctl daemon-reload
    run systemctl restart containerd
    echo "KUBELET_EXTRA_ARGS=--node-ip=${NODE_ADDRESS}" | run tee /etc/default/kubelet >/dev/null
    run systemctl enable --now kubelet
}

ca_cert_hash() {
    run openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt |
        openssl pkey -pubin -outform der |
        openssl dgst -sha256 -hex | sed 's/^.* //'
}

report_join() {
    report join_token "$(run kubeadm token create --ttl 2h)"
    report ssl_ca_cert_hash "sha256:$(ca_cert_hash)"
    report certificate_key "$(run kubeadm init phase upload-certs --upload-certs 2>/dev/null | tail -n 1)"
}

api_token() {
    kubectl_admin -n "$SA_NAMESPACE" create serviceaccount "$SA_NAME" --dry-run=client -o yaml |
        kubectl_admin apply -f - >/dev/null
    kubectl_admin create clusterrolebinding "$SA_NAME" --clusterrole=cluster-admin \
        --serviceaccount="$SA_NAMESPACE:$SA_NAME" --dry-run=client -o yaml |
        kubectl_admin apply -f - >/dev/null
    cat <<EOF | kubectl_admin apply -f - >/dev/null
apiVersion: v1
kind: Secret
metadata:
  name: ${SA_NAME}-token
  namespace: ${SA_NAMESPACE}
  annotations:
    kubernetes.io/service-account.name: ${SA_NAME}
type: kubernetes.io/service-account-token
EOF
    local token=""
    for _ in $(seq 1 60); do
        token="$(kubectl_admin -n "$SA_NAMESPACE" get secret "${SA_NAME}-token" -o jsonpath='{.data.token}' 2>/dev/null || true)"
        [ -n "$token" ] && break
        sleep 2
    done
    [ -n "$token" ] || { log "the service account token was not issued"; exit 1; }
    echo "$token" | base64 -d
}

install() {
    prepare_node
    if [ ! -f /etc/kubernetes/admin.conf ]; then
        log "kubeadm init (API ${API_ADDRESS}:6443, pods ${POD_CIDR}, services ${SERVICE_CIDR})"
        run kubeadm init \
            --control-plane-endpoint "${API_ADDRESS}:6443" \
            --apiserver-advertise-address "${NODE_ADDRESS}" \
            --pod-network-cidr "${POD_CIDR}" \
            --service-cidr "${SERVICE_CIDR}" \
            --upload-certs
    else
        log "the control plane is already initialised"
    fi
    if ! kubectl_admin -n kube-flannel get daemonset kube-flannel-ds >/dev/null 2>&1; then
        log "installing flannel for ${POD_CIDR}"
        curl -fsSL "$FLANNEL_URL" | sed "s#10.244.0.0/16#${POD_CIDR}#" | kubectl_admin apply -f -
    fi
    report server "https://${API_ADDRESS}:6443"
    report bearer_token "$(api_token)"
    report ssl_ca_cert_b64 "$(run base64 -w0 /etc/kubernetes/pki/ca.crt)"
    report_join
    report node_name "$(hostname)"
}

join() {
    local control_plane=("$@")
    prepare_node
    if [ ! -f /etc/kubernetes/kubelet.conf ]; then
        log "kubeadm join ${API_ADDRESS}:6443 ${control_plane[*]:+as a control-plane node}"
        run kubeadm join "${API_ADDRESS}:6443" \
            --token "${K8S_JOIN_TOKEN:?}" \
            --discovery-token-ca-cert-hash "${K8S_CA_CERT_HASH:?}" \
            "${control_plane[@]}"
    else
        log "this node has already joined"
    fi
    report node_name "$(hostname)"
}

remove_node() {
    local name="${K8S_REMOVE_NODE_NAME:?}" role="${K8S_REMOVE_NODE_ROLE:-worker}"
    if kubectl_admin get node "$name" >/dev/null 2>&1; then
        log "draining ${name}"
        kubectl_admin drain "$name" --ignore-daemonsets --delete-emptydir-data --force --timeout=300s ||
            log "drain of ${name} did not finish; deleting it anyway"
    fi
    if [ "$role" = master ] && [ -n "${K8S_REMOVE_NODE_ADDRESS:-}" ]; then
        local etcd_pod member
        etcd_pod="etcd-$(hostname)"
        member="$(kubectl_admin -n kube-system exec "$etcd_pod" -- etcdctl \
            --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt \
            --cert /etc/kubernetes/pki/etcd/server.crt --key /etc/kubernetes/pki/etcd/server.key \
            member list | awk -F', ' -v peer="https://${K8S_REMOVE_NODE_ADDRESS}:2380" '$4 == peer { print $1 }')"
        if [ -n "$member" ]; then
            log "removing etcd member ${member} (${K8S_REMOVE_NODE_ADDRESS})"
            kubectl_admin -n kube-system exec "$etcd_pod" -- etcdctl \
                --endpoints https://127.0.0.1:2379 --cacert /etc/kubernetes/pki/etcd/ca.crt \
                --cert /etc/kubernetes/pki/etcd/server.crt --key /etc/kubernetes/pki/etcd/server.key \
                member remove "$member"
        fi
    fi
    kubectl_admin delete node "$name" --ignore-not-found
}

case "$ACTION" in
    install) install ;;
    join-master) join --control-plane --certificate-key "${K8S_CERTIFICATE_KEY:?}" --apiserver-advertise-address "${NODE_ADDRESS}" ;;
    join-worker) join ;;
    token) report_join ;;
    remove-node) remove_node ;;
    *) log "unknown action ${ACTION}"; exit 2 ;;
esac
