#!/usr/bin/env bash
# Smoke test of the cluster that scripts/k8s-cluster.sh started, with kubectl (and curl for
# the raw credentials that tests get): a Deployment's Pods become Running and Ready and are
# scaled, deleted and gone; a namespace's deletion finishes; the VIM user is refused, then
# allowed after a RoleBinding, by bearer token and by client certificate; a
# SelfSubjectAccessReview answers. Every wait is bounded (K8S_SMOKE_TIMEOUT seconds, 90).
#
#   scripts/k8s-cluster.sh smoke      (or: eval "$(scripts/k8s-cluster.sh env)"; bash this)
set -euo pipefail

: "${KUBECONFIG:?run through scripts/k8s-cluster.sh smoke, or eval the output of its env}"
KUBECTL=${TACKER_TEST_K8S_KUBECTL:-kubectl}
TIMEOUT=${K8S_SMOKE_TIMEOUT:-90}
NS=k8s-cluster-smoke
USER_NAME=$TACKER_TEST_K8S_USER
passed=0 failed=0
T0=$(date +%s.%N)

log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
k() { "$KUBECTL" --request-timeout=20s "$@"; }
vim_k() { "$KUBECTL" --request-timeout=20s --kubeconfig "$TACKER_TEST_K8S_VIM_KUBECONFIG" "$@"; }

check() { # description command...
    local what=$1; shift
    if "$@"; then
        passed=$((passed + 1)); log "ok: $what ($(elapsed)s)"
    else
        failed=$((failed + 1)); log "FAILED: $what ($(elapsed)s)"
    fi
}

# until SECONDS command...: true as soon as the command succeeds, false after SECONDS
until_ok() {
    local secs=$1 i; shift
    for ((i = 0; i < secs * 2; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.5
    done
    return 1
}

running_ready() { # the number of Pods of app=web that are Running and Ready, and no others
    k -n "$NS" get pods -l app=web -o jsonpath='{range .items[*]}{.status.phase}/{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' |
        awk -v want="$1" 'NF { n++; if ($0 == "Running/True") ok++ } END { exit !(n == want && ok == want) }'
}
none_left() { # kubectl get ARGS... answers, and with nothing
    local out
    out=$(k get "$@" --ignore-not-found -o name) && [ -z "$out" ]
}
no_pods() { none_left -n "$NS" pods -l app=web; }
ns_gone() { none_left namespace "$NS"; }
ready_replicas() { [ "$(k -n "$NS" get deployment web -o jsonpath='{.status.readyReplicas}')" = "$1" ]; }
# kubectl auth can-i as the VIM user: exactly "yes" or "no" (an error is neither)
can_i() { # context answer
    [ "$(vim_k --context "$1" auth can-i create deployments.apps -n "$NS" 2>/dev/null)" = "$2" ]
}

ssar() { # SelfSubjectAccessReview as the VIM user (client certificate), by kubectl; prints allowed
    vim_k --context "$USER_NAME" create --validate=false -o jsonpath='{.status.allowed}' -f - <<EOF
apiVersion: authorization.k8s.io/v1
kind: SelfSubjectAccessReview
spec:
  resourceAttributes: {group: apps, resource: deployments, verb: create, namespace: $NS}
EOF
}
ssar_allowed() { [ "$(ssar)" = true ]; }

curl_ssar() { # the same with curl and the raw values of `env`: --token or --cert
    local auth=()
    if [ "$1" = token ]; then auth=(-H "Authorization: Bearer $TACKER_TEST_K8S_TOKEN")
    else auth=(--cert "$TACKER_TEST_K8S_CLIENT_CERT" --key "$TACKER_TEST_K8S_CLIENT_KEY"); fi
    curl -sf --max-time 10 --cacert "$TACKER_TEST_K8S_CA" "${auth[@]}" -H 'Content-Type: application/json' \
        -X POST "$TACKER_TEST_K8S_SERVER/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" \
        -d "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\",\"spec\":{\"resourceAttributes\":{\"group\":\"apps\",\"resource\":\"deployments\",\"verb\":\"create\",\"namespace\":\"$NS\"}}}" |
        tr -d ' \n' | grep -q '"allowed":true'
}

log "kubectl: $KUBECTL ($("$KUBECTL" version --client 2>/dev/null | head -1))"
k version 2>/dev/null | sed 's/^/  /' >&2 || true
k get nodes -o wide >&2

if ! ns_gone; then
    log "removing $NS left from an earlier run"
    k delete namespace "$NS" --wait=false >/dev/null
    until_ok "$TIMEOUT" ns_gone || { log "namespace $NS does not go away"; exit 1; }
fi
k create namespace "$NS" >/dev/null
check "the namespace's default ServiceAccount exists" until_ok "$TIMEOUT" k -n "$NS" get serviceaccount default

check "the VIM user may not create Deployments before a binding (token)" can_i "$USER_NAME-token" no
check "the VIM user may not create Deployments before a binding (certificate)" can_i "$USER_NAME" no
k -n "$NS" create rolebinding tacker-vim-edit --clusterrole=edit --user="$USER_NAME" >/dev/null
check "kubectl auth can-i as the VIM user by bearer token" until_ok 20 can_i "$USER_NAME-token" yes
check "kubectl auth can-i as the VIM user by client certificate" until_ok 20 can_i "$USER_NAME" yes
check "a SelfSubjectAccessReview by kubectl answers allowed" ssar_allowed
check "a SelfSubjectAccessReview by curl with TACKER_TEST_K8S_TOKEN answers allowed" curl_ssar token
check "a SelfSubjectAccessReview by curl with TACKER_TEST_K8S_CLIENT_CERT/KEY answers allowed" curl_ssar cert

# The VIM user creates the Deployment (as the VNFM will).
vim_k --context "$USER_NAME-token" -n "$NS" create -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: nginx:1.27, ports: [{containerPort: 80}]}
EOF
check "2 Pods Running and Ready" until_ok "$TIMEOUT" running_ready 2
check "the Deployment reports 2 ready replicas" until_ok "$TIMEOUT" ready_replicas 2
vim_k --context "$USER_NAME" -n "$NS" scale deployment web --replicas=3 >/dev/null
check "scaled: 3 Pods Running and Ready" until_ok "$TIMEOUT" running_ready 3
check "the Deployment reports 3 ready replicas" until_ok "$TIMEOUT" ready_replicas 3
k -n "$NS" get deployment,replicaset,pods -o wide >&2
vim_k --context "$USER_NAME-token" -n "$NS" delete deployment web --wait=false >/dev/null
check "the Deployment's Pods are gone after its deletion" until_ok "$TIMEOUT" no_pods
k delete namespace "$NS" --wait=false >/dev/null
check "the namespace's deletion finishes" until_ok "$TIMEOUT" ns_gone

log "$passed passed, $failed failed in $(elapsed)s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
