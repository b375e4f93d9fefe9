#!/bin/bash
# The installation script of test packages whose "VMs" are sshd servers on loopback
# addresses of this machine: the same actions and output as the kubeadm script of
# examples/packages/k8s-cluster-vnf, but `install` starts the real Kubernetes control
# plane of scripts/k8s-cluster.sh on the first master's address, and nodes join and
# leave as kwok nodes of that cluster. The test that packages it fills in the
# placeholders below.
set -euo pipefail
CLUSTER_SH='__CLUSTER_SH__'   # scripts/k8s-cluster.sh
STATE='__STATE__'             # where each cluster keeps its PKI, etcd data and logs
action="$1"

cluster_env() { # the cluster whose first master is $1
    export K8S_CLUSTER_ADDRESS="$1" K8S_CLUSTER_DIR="$STATE/cluster-$1" K8S_CLUSTER_NODES=0
    __CLUSTER_CACHE__
}

api() { # as the cluster's admin: api METHOD PATH [curl args...]
    local method=$1 path=$2; shift 2
    local pki="$K8S_CLUSTER_DIR/pki"
    curl -sS --fail-with-body --max-time 10 -X "$method" --cacert "$pki/ca.crt" \
        --cert "$pki/admin.crt" --key "$pki/admin.key" \
        -H 'Content-Type: application/json' "$@" "https://$K8S_CLUSTER_ADDRESS:16443$path"
}

joined() { # with the join token: joined METHOD PATH [curl args...]
    local method=$1 path=$2; shift 2
    curl -sS --fail-with-body --max-time 10 -X "$method" --cacert "$ca_file" \
        -H "Authorization: Bearer $K8S_JOIN_TOKEN" -H 'Content-Type: application/json' \
        "$@" "https://$api_host:16443$path"
}

ca_hash() { # sha256 of the CA's public key, as kubeadm prints it
    openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -c1-64
}

node_name() { echo "node-${1//./-}"; }

join_info() {
    local pki="$K8S_CLUSTER_DIR/pki"
    echo "tacker.join_token=$(cat "$pki/join.token")"
    echo "tacker.ssl_ca_cert_hash=sha256:$(ca_hash "$pki/ca.crt")"
    echo "tacker.certificate_key=$(sha256sum "$pki/ca.key" | cut -c1-64)"
}

# A node joins: it checks the cluster's CA against the hash it was given (as kubeadm
# does), then the node registers itself with the join token and waits to be Ready.
join() { # role
    api_host="${K8S_API_ADDRESS}"
    local discovered; discovered="$(mktemp)"; ca_file="$discovered"
    trap "rm -f '$discovered'" EXIT
    # The CA comes from the cluster's public cluster-info and must match the hash.
    curl -sS --fail --max-time 10 -k "https://$api_host:16443/api/v1/namespaces/kube-public/configmaps/cluster-info" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["ca.crt"], end="")' >"$discovered"
    [ "sha256:$(ca_hash "$discovered")" = "$K8S_CA_CERT_HASH" ] ||
        { echo "the cluster's CA does not match $K8S_CA_CERT_HASH" >&2; exit 4; }
    local name; name="$(node_name "$K8S_NODE_ADDRESS")"
    local labels="\"kubernetes.io/hostname\": \"$name\", \"kubernetes.io/os\": \"linux\", \"type\": \"kwok\""
    [ "$1" = master ] && labels="$labels, \"node-role.kubernetes.io/control-plane\": \"\""
    joined GET "/api/v1/nodes/$name" >/dev/null 2>&1 ||
        joined POST /api/v1/nodes -d "{\"apiVersion\": \"v1\", \"kind\": \"Node\",
            \"metadata\": {\"name\": \"$name\", \"labels\": {$labels},
              \"annotations\": {\"kwok.x-k8s.io/node\": \"fake\", \"node.alpha.kubernetes.io/ttl\": \"0\"}},
            \"status\": {\"addresses\": [{\"type\": \"InternalIP\", \"address\": \"$K8S_NODE_ADDRESS\"}]}}" >/dev/null
    local i
    for ((i = 0; i < 240; i++)); do
        if joined GET "/api/v1/nodes/$name" | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; then
            echo "[kubelet-start] node $name is Ready" >&2
            echo "tacker.node_name=$name"
            return 0
        fi
        sleep 0.25
    done
    echo "node $name did not become Ready" >&2
    exit 5
}

case "$action" in
    install)
        cluster_env "$K8S_API_ADDRESS"
        # `up` is idempotent: a component that died while starting (a busy machine) is
        # started again by a second run.
        bash "$CLUSTER_SH" up >&2 || { sleep 2; bash "$CLUSTER_SH" up >&2; }
        pki="$K8S_CLUSTER_DIR/pki"
        # What `kubeadm init` sets up: the VIM's identity may deploy anywhere, joining
        # nodes may register themselves, and the CA is public for discovery.
        api POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings -d '{"metadata": {"name": "tacker-vim-admin"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "tacker-vims"}]}' >/dev/null 2>&1 || true
        api POST /apis/rbac.authorization.k8s.io/v1/clusterroles -d '{"metadata": {"name": "k8s-cluster-joiner"},
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "create"]}]}' >/dev/null 2>&1 || true
        api POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings -d '{"metadata": {"name": "k8s-cluster-joiners"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "k8s-cluster-joiner"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "k8s-cluster-joiners"}]}' >/dev/null 2>&1 || true
        api POST /api/v1/namespaces -d '{"metadata": {"name": "kube-public"}}' >/dev/null 2>&1 || true
        ca_json="$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$pki/ca.crt")"
        api GET /api/v1/namespaces/kube-public/configmaps/cluster-info >/dev/null 2>&1 ||
            api POST /api/v1/namespaces/kube-public/configmaps -d "{\"metadata\": {\"name\": \"cluster-info\"}, \"data\": {\"ca.crt\": $ca_json}}" >/dev/null
        api POST /apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles -d '{"metadata": {"name": "cluster-info-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cluster-info"], "verbs": ["get"]}]}' >/dev/null 2>&1 || true
        api POST /apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/rolebindings -d '{"metadata": {"name": "cluster-info-reader"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cluster-info-reader"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:anonymous"}]}' >/dev/null 2>&1 || true
        echo "tacker.server=https://$K8S_API_ADDRESS:16443"
        echo "tacker.bearer_token=$(cat "$pki/vim.token")"
        echo "tacker.ssl_ca_cert_b64=$(base64 -w0 <"$pki/ca.crt")"
        join_info
        export K8S_JOIN_TOKEN="$(cat "$pki/join.token")"
        export K8S_CA_CERT_HASH="sha256:$(ca_hash "$pki/ca.crt")"
        join master
        ;;
    token)
        cluster_env "$K8S_API_ADDRESS"
        join_info
        ;;
    join-master) join master ;;
    join-worker) join worker ;;
    remove-node)
        cluster_env "$K8S_API_ADDRESS"
        echo "[reset] draining and deleting node $K8S_REMOVE_NODE_NAME" >&2
        api DELETE "/api/v1/nodes/$K8S_REMOVE_NODE_NAME" >/dev/null 2>&1 || true
        ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
esac
