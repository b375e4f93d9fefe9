//! The double's controllers: what kube-controller-manager, the scheduler and the
//! kubelet would do for the objects it stores. Deployments get ReplicaSets (a new one
//! per pod template, old ones scaled down once the new one is ready), ReplicaSets,
//! StatefulSets, DaemonSets and Jobs get pods, pods become Ready after a delay unless a
//! fault holds them back, claims are bound, Services get Endpoints, owners' deletion
//! cascades (background and foreground), and terminating namespaces are emptied.

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use tokio::time::{Duration, Instant};

use super::resources::ResourceType;
use super::state::{Key, LabelSelector, PodFault, Store, meta_mut, name_of, now_rfc3339, uid_of};

/// The node every pod is scheduled on.
pub const NODE_NAME: &str = "double-node-1";

const FOREGROUND: &str = "foregroundDeletion";

/// Fills in what the API server defaults on create.
pub fn defaults(t: &ResourceType, object: &mut Value) {
    match (t.group, t.kind) {
        ("", "Namespace") => object["status"] = json!({"phase": "Active"}),
        ("", "PersistentVolumeClaim") => object["status"] = json!({"phase": "Pending"}),
        ("", "PersistentVolume") => object["status"] = json!({"phase": "Available"}),
        ("", "Pod") => {
            // The scheduler binds a pod to the one node when its node selector fits,
            // else the pod stays Pending, unschedulable, as kube-scheduler leaves it.
            let scheduled = if object["spec"]["nodeName"].is_null() {
                let fits = node_matches(&object["spec"]["nodeSelector"]);
                if fits {
                    object["spec"]["nodeName"] = json!(NODE_NAME);
                }
                fits
            } else {
                true
            };
            let condition = if scheduled {
                json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now_rfc3339()})
            } else {
                json!({
                    "type": "PodScheduled", "status": "False", "lastTransitionTime": now_rfc3339(),
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                })
            };
            object["status"] = json!({
                "phase": "Pending",
                "conditions": [condition],
                "qosClass": "BestEffort",
            });
        }
        ("", "Service") => {
            let spec = &mut object["spec"];
            if spec["type"].is_null() {
                spec["type"] = json!("ClusterIP");
            }
            if spec["sessionAffinity"].is_null() {
                spec["sessionAffinity"] = json!("None");
            }
            // A cluster IP from the service range (10.96.0.0/16, that of
            // scripts/k8s-cluster.sh), as the allocator gives one; ExternalName
            // Services get none.
            if spec["type"] != "ExternalName" && spec["clusterIP"].is_null() {
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                object["metadata"]["namespace"]
                    .to_string()
                    .hash(&mut hasher);
                object["metadata"]["name"].to_string().hash(&mut hasher);
                let n = hasher.finish();
                let ip = format!("10.96.{}.{}", (n >> 8) % 256, 1 + n % 254);
                object["spec"]["clusterIP"] = json!(ip);
            }
            let spec = &mut object["spec"];
            if spec["clusterIPs"].is_null() && spec["clusterIP"].is_string() {
                spec["clusterIPs"] = json!([spec["clusterIP"]]);
                spec["ipFamilies"] = json!(["IPv4"]);
                spec["ipFamilyPolicy"] = json!("SingleStack");
            }
        }
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet") => {
            if object["spec"]["replicas"].is_null() {
                object["spec"]["replicas"] = json!(1);
            }
            let (field, strategy) = match t.kind {
                "Deployment" => (
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                ),
                "StatefulSet" => (
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                ),
                _ => ("", Value::Null),
            };
            if !field.is_empty() && object["spec"][field].is_null() {
                object["spec"][field] = strategy;
            }
            if t.kind == "Deployment" {
                for (field, value) in [
                    ("revisionHistoryLimit", 10),
                    ("progressDeadlineSeconds", 600),
                ] {
                    if object["spec"][field].is_null() {
                        object["spec"][field] = json!(value);
                    }
                }
            }
            if t.kind == "StatefulSet" && object["spec"]["podManagementPolicy"].is_null() {
                object["spec"]["podManagementPolicy"] = json!("OrderedReady");
            }
            object["status"] = json!({});
        }
        ("apps", "DaemonSet") => {
            if object["spec"]["updateStrategy"].is_null() {
                object["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}});
            }
            object["status"] = json!({});
        }
        ("batch", "Job") => {
            for (field, value) in [("completions", 1), ("parallelism", 1), ("backoffLimit", 6)] {
                if object["spec"][field].is_null() {
                    object["spec"][field] = json!(value);
                }
            }
            object["status"] = json!({});
        }
        _ => {}
    }
}

/// Deletes an object with a propagation policy (`Background`, `Foreground`,
/// `Orphan`). Returns the answer's status code and the object as it is after the call.
pub fn delete(store: &mut Store, key: &Key, policy: &str) -> (StatusCode, Value) {
    let Some(current) = store.objects.get(key).cloned() else {
        return (StatusCode::NOT_FOUND, Value::Null);
    };
    let uid = uid_of(&current).unwrap_or_default();
    let is_namespace = key.group.is_empty() && key.plural == "namespaces";
    let has_dependents = store.objects.values().any(|o| owned_by(o, &uid));
    if policy == "Orphan" {
        let dependents: Vec<Key> = store
            .objects
            .iter()
            .filter(|(_, o)| owned_by(o, &uid))
            .map(|(k, _)| k.clone())
            .collect();
        for dependent in dependents {
            if let Some(mut object) = store.objects.get(&dependent).cloned() {
                if let Some(refs) = object["metadata"]["ownerReferences"].as_array_mut() {
                    refs.retain(|r| r["uid"].as_str() != Some(uid.as_str()));
                }
                store.update(&dependent, object);
            }
        }
    }
    let other_finalizers = current["metadata"]["finalizers"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x.as_str() != Some(FOREGROUND)));
    if is_namespace || other_finalizers || (policy == "Foreground" && has_dependents) {
        let mut next = current;
        let meta = meta_mut(&mut next);
        if meta.get("deletionTimestamp").is_none() {
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if policy == "Foreground" && !is_namespace {
            let finalizers = meta.entry("finalizers").or_insert_with(|| json!([]));
            if let Some(list) = finalizers.as_array_mut()
                && !list.iter().any(|f| f == FOREGROUND)
            {
                list.push(json!(FOREGROUND));
            }
        }
        if is_namespace {
            next["status"]["phase"] = json!("Terminating");
        }
        let stored = store.update(key, next).unwrap_or_default();
        return (StatusCode::OK, stored);
    }
    let removed = store.remove(key).unwrap_or_default();
    (StatusCode::OK, removed)
}

fn owned_by(object: &Value, uid: &str) -> bool {
    !uid.is_empty()
        && object["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|refs| refs.iter().any(|r| r["uid"].as_str() == Some(uid)))
}

fn deleting(object: &Value) -> bool {
    object["metadata"].get("deletionTimestamp").is_some()
}

fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn int(value: &Value, default: i64) -> i64 {
    value.as_i64().unwrap_or(default)
}

/// Writes `status` when it changed.
fn set_status(store: &mut Store, key: &Key, status: Value) {
    if let Some(current) = store.objects.get(key)
        && current["status"] != status
    {
        let mut next = current.clone();
        next["status"] = status;
        store.update(key, next);
    }
}

/// The pods that `owner_uid` controls, oldest first, without terminating ones.
fn owned_pods(store: &Store, namespace: &str, owner_uid: &str) -> Vec<(Key, Value)> {
    let mut pods: Vec<(Key, Value)> = store
        .of_type("", "pods", Some(namespace))
        .filter(|(_, p)| owned_by(p, owner_uid) && !deleting(p))
        .map(|(k, p)| (k.clone(), p.clone()))
        .collect();
    pods.sort_by_key(|(_, p)| store.seq_of(&uid_of(p).unwrap_or_default()));
    pods
}

/// A pod's `controller.kubernetes.io/pod-deletion-cost` (0 without one).
fn deletion_cost(pod: &Value) -> i64 {
    pod["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"]
        .as_str()
        .and_then(|c| c.parse::<i32>().ok())
        .map_or(0, i64::from)
}

fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn template_hash(template: &Value) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    template.to_string().hash(&mut hasher);
    format!("{:010x}", hasher.finish() & 0xff_ffff_ffff)
}

fn new_pod(store: &mut Store, owner: &Value, name: String, template: &Value, pod_delay: Duration) {
    let namespace = owner["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": template["metadata"]["labels"].clone(),
            "ownerReferences": [controller_ref(owner)],
        },
        "spec": template["spec"].clone(),
    });
    if let Some(annotations) = template["metadata"].get("annotations") {
        pod["metadata"]["annotations"] = annotations.clone();
    }
    let t = super::resources::find("", "v1", "pods").expect("pods are served");
    defaults(t, &mut pod);
    let key = Key::of("", "pods", namespace, &name);
    if store.objects.contains_key(&key) {
        return;
    }
    let stored = store.insert(key, pod);
    if let Some(uid) = uid_of(&stored) {
        store.ready_at.insert(uid, Instant::now() + pod_delay);
    }
}

fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(5)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// One pass of every controller. Returns whether anything is still in motion (a pod
/// waiting to become ready), so the caller knows to come back soon.
pub fn reconcile(store: &mut Store, pod_delay: Duration) -> bool {
    namespaces(store);
    garbage_collect(store);
    deployments(store);
    replica_sets(store, pod_delay);
    stateful_sets(store, pod_delay);
    daemon_sets(store, pod_delay);
    let pending = pods(store);
    jobs(store, pod_delay);
    claims(store);
    services(store);
    pending
}

fn namespaces(store: &mut Store) {
    let terminating: Vec<String> = store
        .of_type("", "namespaces", None)
        .filter(|(_, ns)| deleting(ns))
        .map(|(k, _)| k.name.clone())
        .collect();
    for ns in terminating {
        let contents: Vec<Key> = store
            .objects
            .keys()
            .filter(|k| k.namespace == ns)
            .cloned()
            .collect();
        if contents.is_empty() {
            store.remove(&Key::of("", "namespaces", "", &ns));
        } else {
            for key in contents {
                store.remove(&key);
            }
        }
    }
}

fn garbage_collect(store: &mut Store) {
    // Foreground deletion: remove dependents first, then the owner.
    let foreground: Vec<(Key, String)> = store
        .objects
        .iter()
        .filter(|(_, o)| {
            deleting(o)
                && o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x == FOREGROUND))
        })
        .map(|(k, o)| (k.clone(), uid_of(o).unwrap_or_default()))
        .collect();
    for (key, uid) in foreground {
        let dependents: Vec<Key> = store
            .objects
            .iter()
            .filter(|(_, o)| owned_by(o, &uid))
            .map(|(k, _)| k.clone())
            .collect();
        if dependents.is_empty() {
            let others = store.objects.get(&key).is_some_and(|o| {
                o["metadata"]["finalizers"]
                    .as_array()
                    .is_some_and(|f| f.iter().any(|x| x != FOREGROUND))
            });
            if !others {
                store.remove(&key);
            }
        } else {
            // The garbage collector deletes a dependent in the foreground only when
            // it has dependents of its own.
            for dependent in dependents {
                let Some(object) = store.objects.get(&dependent).filter(|d| !deleting(d)) else {
                    continue;
                };
                let own = uid_of(object).unwrap_or_default();
                let policy = if store.objects.values().any(|o| owned_by(o, &own)) {
                    "Foreground"
                } else {
                    "Background"
                };
                delete(store, &dependent, policy);
            }
        }
    }
    // Background: dependents whose owners are all gone.
    let orphans: Vec<Key> = store
        .objects
        .iter()
        .filter(|(_, o)| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| {
                    !refs.is_empty()
                        && refs
                            .iter()
                            .all(|r| r["uid"].as_str().is_none_or(|uid| !store.uid_exists(uid)))
                })
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in orphans {
        delete(store, &key, "Background");
    }
}

fn deployments(store: &mut Store) {
    let list: Vec<(Key, Value)> = store
        .of_type("apps", "deployments", None)
        .filter(|(_, d)| !deleting(d))
        .map(|(k, d)| (k.clone(), d.clone()))
        .collect();
    for (key, deployment) in list {
        let uid = uid_of(&deployment).unwrap_or_default();
        let desired = int(&deployment["spec"]["replicas"], 1);
        let template = deployment["spec"]["template"].clone();
        let hash = template_hash(&template);
        let rs_name = format!("{}-{hash}", key.name);
        let rs_key = Key::of("apps", "replicasets", &key.namespace, &rs_name);
        if !store.objects.contains_key(&rs_key) {
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = deployment["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let revision = store
                .of_type("apps", "replicasets", Some(&key.namespace))
                .filter(|(_, rs)| owned_by(rs, &uid))
                .count()
                + 1;
            let rs = json!({
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": rs_name,
                    "namespace": key.namespace,
                    "labels": rs_template["metadata"]["labels"].clone(),
                    "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
                    "ownerReferences": [controller_ref(&deployment)],
                },
                "spec": {"replicas": 0, "selector": selector, "template": rs_template},
                "status": {"replicas": 0},
            });
            store.insert(rs_key.clone(), rs);
        }
        // The new ReplicaSet gets every replica; old ones go to zero once it is ready.
        let sets: Vec<(Key, Value)> = store
            .of_type("apps", "replicasets", Some(&key.namespace))
            .filter(|(_, rs)| owned_by(rs, &uid))
            .map(|(k, rs)| (k.clone(), rs.clone()))
            .collect();
        let new_ready = sets
            .iter()
            .find(|(k, _)| *k == rs_key)
            .map(|(_, rs)| int(&rs["status"]["readyReplicas"], 0))
            .unwrap_or(0);
        let (mut total, mut updated, mut ready) = (0, 0, 0);
        for (rs_key_i, rs) in &sets {
            let target = if *rs_key_i == rs_key {
                desired
            } else if new_ready >= desired {
                0
            } else {
                int(&rs["spec"]["replicas"], 0)
            };
            if int(&rs["spec"]["replicas"], 0) != target {
                let mut next = rs.clone();
                next["spec"]["replicas"] = json!(target);
                store.update(rs_key_i, next);
            }
            let replicas = int(&rs["status"]["replicas"], 0);
            total += replicas;
            ready += int(&rs["status"]["readyReplicas"], 0);
            if *rs_key_i == rs_key {
                updated = replicas;
            }
        }
        let complete = updated == desired && total == desired && new_ready == desired;
        let generation = int(&deployment["metadata"]["generation"], 1);
        let mut status = json!({
            "observedGeneration": generation,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Available",
                    "status": if ready >= desired { "True" } else { "False" },
                    "reason": if ready >= desired { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
                    "message": format!("ReplicaSet \"{rs_name}\" {}", if complete { "has successfully progressed." } else { "is progressing." }),
                },
            ],
        });
        if total > ready {
            status["unavailableReplicas"] = json!(total - ready);
        }
        set_status(store, &key, status);
    }
}

fn replica_sets(store: &mut Store, pod_delay: Duration) {
    let list: Vec<(Key, Value)> = store
        .of_type("apps", "replicasets", None)
        .filter(|(_, rs)| !deleting(rs))
        .map(|(k, rs)| (k.clone(), rs.clone()))
        .collect();
    for (key, rs) in list {
        let uid = uid_of(&rs).unwrap_or_default();
        let desired = int(&rs["spec"]["replicas"], 1);
        let mut pods = owned_pods(store, &key.namespace, &uid);
        let have = i64::try_from(pods.len()).unwrap_or(i64::MAX);
        if have < desired {
            for _ in have..desired {
                let name = format!("{}-{}", key.name, random_suffix());
                new_pod(store, &rs, name, &rs["spec"]["template"], pod_delay);
            }
        } else if have > desired {
            // As the ReplicaSet controller ranks them: pods not ready first, then the
            // lowest `controller.kubernetes.io/pod-deletion-cost`, then the newest.
            let ranked: Vec<(bool, i64, usize)> = pods
                .iter()
                .enumerate()
                .map(|(age, (_, p))| (pod_ready(p), deletion_cost(p), usize::MAX - age))
                .collect();
            let mut order: Vec<usize> = (0..pods.len()).collect();
            order.sort_by_key(|i| ranked[*i]);
            let excess = usize::try_from(have - desired).unwrap_or(0);
            let victims: BTreeSet<usize> = order.into_iter().take(excess).collect();
            for (i, (pod_key, _)) in pods.drain(..).enumerate() {
                if victims.contains(&i) {
                    store.remove(&pod_key);
                }
            }
        }
        let pods = owned_pods(store, &key.namespace, &uid);
        let ready = pods.iter().filter(|(_, p)| pod_ready(p)).count();
        let mut status = json!({
            "replicas": pods.len(),
            "fullyLabeledReplicas": pods.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": int(&rs["metadata"]["generation"], 1),
        });
        if ready == 0
            && let Some(map) = status.as_object_mut()
        {
            map.remove("readyReplicas");
            map.remove("availableReplicas");
        }
        set_status(store, &key, status);
    }
}

fn stateful_sets(store: &mut Store, pod_delay: Duration) {
    let list: Vec<(Key, Value)> = store
        .of_type("apps", "statefulsets", None)
        .filter(|(_, s)| !deleting(s))
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    for (key, sts) in list {
        let uid = uid_of(&sts).unwrap_or_default();
        let desired = usize::try_from(int(&sts["spec"]["replicas"], 1)).unwrap_or(0);
        let template = &sts["spec"]["template"];
        let hash = template_hash(template);
        let revision = format!("{}-{hash}", key.name);
        // Ordered: create the next ordinal only when the ones before are ready.
        for ordinal in 0..desired {
            let name = format!("{}-{ordinal}", key.name);
            let pod_key = Key::of("", "pods", &key.namespace, &name);
            let current = store.objects.get(&pod_key).cloned();
            match current {
                None => {
                    for claim in sts["spec"]["volumeClaimTemplates"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                    {
                        let claim_name = format!("{}-{name}", name_of(&claim));
                        let claim_key =
                            Key::of("", "persistentvolumeclaims", &key.namespace, &claim_name);
                        if !store.objects.contains_key(&claim_key) {
                            let mut labels = claim["metadata"]["labels"].clone();
                            if let Some(selector) =
                                sts["spec"]["selector"]["matchLabels"].as_object()
                            {
                                for (k, v) in selector {
                                    labels[k] = v.clone();
                                }
                            }
                            let pvc = json!({
                                "apiVersion": "v1",
                                "kind": "PersistentVolumeClaim",
                                "metadata": {"name": claim_name, "namespace": key.namespace, "labels": labels},
                                "spec": claim["spec"].clone(),
                                "status": {"phase": "Pending"},
                            });
                            store.insert(claim_key, pvc);
                        }
                    }
                    let mut pod_template = template.clone();
                    pod_template["metadata"]["labels"]["controller-revision-hash"] =
                        json!(revision);
                    pod_template["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] =
                        json!(name);
                    new_pod(store, &sts, name, &pod_template, pod_delay);
                    break;
                }
                Some(pod) if deleting(&pod) => break,
                Some(pod) => {
                    let pod_revision = pod["metadata"]["labels"]["controller-revision-hash"]
                        .as_str()
                        .unwrap_or_default();
                    if pod_revision != revision {
                        // Rolling update: replace from the highest ordinal down; one
                        // at a time keeps the update ordered.
                        store.remove(&pod_key);
                        break;
                    }
                    if !pod_ready(&pod) {
                        break;
                    }
                }
            }
        }
        // Scale down from the highest ordinal.
        let extra: Vec<Key> = store
            .of_type("", "pods", Some(&key.namespace))
            .filter(|(_, p)| owned_by(p, &uid))
            .filter(|(k, _)| {
                k.name
                    .rsplit_once('-')
                    .and_then(|(_, n)| n.parse::<usize>().ok())
                    .is_none_or(|n| n >= desired)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for pod_key in extra {
            store.remove(&pod_key);
        }
        let pods = owned_pods(store, &key.namespace, &uid);
        let ready = pods.iter().filter(|(_, p)| pod_ready(p)).count();
        let updated = pods
            .iter()
            .filter(|(_, p)| p["metadata"]["labels"]["controller-revision-hash"] == json!(revision))
            .count();
        set_status(
            store,
            &key,
            json!({
                "observedGeneration": int(&sts["metadata"]["generation"], 1),
                "replicas": pods.len(),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": updated,
                "updatedReplicas": updated,
                "currentRevision": revision,
                "updateRevision": revision,
            }),
        );
    }
}

/// The labels of the double's one node.
const NODE_LABELS: &[(&str, &str)] = &[
    ("kubernetes.io/hostname", "double-node"),
    ("kubernetes.io/os", "linux"),
    ("kubernetes.io/arch", "amd64"),
];

/// Whether a pod template's `nodeSelector` fits the double's node.
fn node_matches(selector: &Value) -> bool {
    selector.as_object().is_none_or(|wanted| {
        wanted
            .iter()
            .all(|(key, value)| NODE_LABELS.iter().any(|(k, v)| k == key && value == v))
    })
}

fn daemon_sets(store: &mut Store, pod_delay: Duration) {
    let list: Vec<(Key, Value)> = store
        .of_type("apps", "daemonsets", None)
        .filter(|(_, d)| !deleting(d))
        .map(|(k, d)| (k.clone(), d.clone()))
        .collect();
    for (key, ds) in list {
        let uid = uid_of(&ds).unwrap_or_default();
        let hash = template_hash(&ds["spec"]["template"]);
        let pods = owned_pods(store, &key.namespace, &uid);
        let current = pods
            .iter()
            .find(|(_, p)| p["metadata"]["labels"]["controller-revision-hash"] == json!(hash));
        // The double's one node runs the DaemonSet's pod if its node selector fits.
        let wanted = node_matches(&ds["spec"]["template"]["spec"]["nodeSelector"]);
        for (pod_key, pod) in &pods {
            if !wanted || pod["metadata"]["labels"]["controller-revision-hash"] != json!(hash) {
                store.remove(pod_key);
            }
        }
        if wanted && current.is_none() {
            let mut template = ds["spec"]["template"].clone();
            template["metadata"]["labels"]["controller-revision-hash"] = json!(hash);
            let name = format!("{}-{}", key.name, random_suffix());
            new_pod(store, &ds, name, &template, pod_delay);
        }
        let pods = owned_pods(store, &key.namespace, &uid);
        let ready = pods.iter().filter(|(_, p)| pod_ready(p)).count();
        set_status(
            store,
            &key,
            json!({
                "observedGeneration": int(&ds["metadata"]["generation"], 1),
                "desiredNumberScheduled": u32::from(wanted),
                "currentNumberScheduled": pods.len(),
                "updatedNumberScheduled": pods.len(),
                "numberReady": ready,
                "numberAvailable": ready,
                "numberMisscheduled": 0,
            }),
        );
    }
}

/// Moves pods towards Ready. Returns whether some pod still waits for its time.
fn pods(store: &mut Store) -> bool {
    let now = Instant::now();
    let mut waiting = false;
    let list: Vec<(Key, Value)> = store
        .of_type("", "pods", None)
        .filter(|(_, p)| !deleting(p))
        .map(|(k, p)| (k.clone(), p.clone()))
        .collect();
    for (key, pod) in list {
        let Some(uid) = uid_of(&pod) else { continue };
        let phase = pod["status"]["phase"]
            .as_str()
            .unwrap_or("Pending")
            .to_owned();
        // Unscheduled pods run nowhere.
        if phase == "Succeeded" || phase == "Failed" || pod["spec"]["nodeName"].is_null() {
            continue;
        }
        let ready_at = *store.ready_at.entry(uid.clone()).or_insert(now);
        if ready_at > now {
            waiting = true;
            continue;
        }
        let images: Vec<String> = pod["spec"]["containers"]
            .as_array()
            .map(|c| {
                c.iter()
                    .map(|c| c["image"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let fault = store
            .faults
            .iter()
            .find(|(pattern, _)| images.iter().any(|i| i.contains(pattern.as_str())))
            .map(|(_, f)| *f);
        let started = pod["status"]["startTime"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(now_rfc3339);
        let ip = match pod["status"]["podIP"].as_str() {
            Some(ip) => ip.to_owned(),
            None => {
                store.next_ip += 1;
                format!("10.244.{}.{}", store.next_ip / 250, store.next_ip % 250 + 2)
            }
        };
        let containers = pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let (phase, ready, statuses) = match fault {
            Some(PodFault::ImagePull) => (
                "Pending",
                false,
                containers
                    .iter()
                    .map(|c| json!({
                        "name": c["name"], "image": c["image"], "imageID": "", "ready": false,
                        "started": false, "restartCount": 0,
                        "state": {"waiting": {"reason": "ErrImagePull", "message": format!("failed to pull image {}: not found", c["image"].as_str().unwrap_or_default())}},
                    }))
                    .collect::<Vec<_>>(),
            ),
            Some(PodFault::NeverReady) => (
                "Running",
                false,
                containers
                    .iter()
                    .map(|c| json!({
                        "name": c["name"], "image": c["image"], "imageID": "", "ready": false,
                        "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": started}},
                    }))
                    .collect(),
            ),
            None => (
                "Running",
                true,
                containers
                    .iter()
                    .map(|c| json!({
                        "name": c["name"], "image": c["image"], "imageID": "", "ready": true,
                        "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": started}},
                    }))
                    .collect(),
            ),
        };
        let flag = |b: bool| if b { "True" } else { "False" };
        let mut status = json!({
            "phase": phase,
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": flag(ready)},
                {"type": "ContainersReady", "status": flag(ready)},
                {"type": "PodScheduled", "status": "True"},
            ],
            "hostIP": "192.0.2.10",
            "startTime": started,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        });
        if phase == "Running" {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        // Keep transition times stable: only a real change is written.
        let comparable = |s: &Value| {
            let mut s = s.clone();
            if let Some(conditions) = s["conditions"].as_array_mut() {
                for c in conditions {
                    if let Some(c) = c.as_object_mut() {
                        c.remove("lastTransitionTime");
                    }
                }
            }
            s
        };
        if comparable(&pod["status"]) != comparable(&status) {
            set_status(store, &key, status);
        }
    }
    waiting
}

fn jobs(store: &mut Store, pod_delay: Duration) {
    let list: Vec<(Key, Value)> = store
        .of_type("batch", "jobs", None)
        .filter(|(_, j)| !deleting(j))
        .map(|(k, j)| (k.clone(), j.clone()))
        .collect();
    for (key, job) in list {
        let completions = int(&job["spec"]["completions"], 1).max(1);
        let parallelism = int(&job["spec"]["parallelism"], 1).max(1);
        let mut succeeded = int(&job["status"]["succeeded"], 0);
        if succeeded >= completions {
            continue;
        }
        let uid = uid_of(&job).unwrap_or_default();
        // A ready pod of a Job has run its command: it succeeds.
        for (pod_key, pod) in owned_pods(store, &key.namespace, &uid) {
            if pod_ready(&pod) && pod["status"]["phase"] != "Succeeded" {
                let mut done = pod.clone();
                done["status"]["phase"] = json!("Succeeded");
                if let Some(conditions) = done["status"]["conditions"].as_array_mut() {
                    for c in conditions.iter_mut() {
                        if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                            c["status"] = json!("False");
                        }
                    }
                }
                store.update(&pod_key, done);
                succeeded += 1;
            }
        }
        let active = i64::try_from(
            owned_pods(store, &key.namespace, &uid)
                .iter()
                .filter(|(_, p)| p["status"]["phase"] != "Succeeded")
                .count(),
        )
        .unwrap_or(i64::MAX);
        let wanted = parallelism.min(completions - succeeded) - active;
        for _ in 0..wanted.max(0) {
            let mut template = job["spec"]["template"].clone();
            template["metadata"]["labels"]["job-name"] = json!(key.name);
            let name = format!("{}-{}", key.name, random_suffix());
            new_pod(store, &job, name, &template, pod_delay);
        }
        let started = job["status"]["startTime"]
            .as_str()
            .map_or_else(now_rfc3339, str::to_owned);
        let mut status = json!({
            "startTime": started,
            "active": active + wanted.max(0),
            "succeeded": succeeded,
        });
        if succeeded >= completions {
            status = json!({
                "startTime": started,
                "completionTime": now_rfc3339(),
                "succeeded": succeeded,
                "conditions": [
                    {"type": "SuccessCriteriaMet", "status": "True"},
                    {"type": "Complete", "status": "True"},
                ],
            });
        }
        set_status(store, &key, status);
    }
}

fn claims(store: &mut Store) {
    let pending: Vec<(Key, Value)> = store
        .of_type("", "persistentvolumeclaims", None)
        .filter(|(_, c)| c["status"]["phase"] != "Bound" && !deleting(c))
        .map(|(k, c)| (k.clone(), c.clone()))
        .collect();
    for (key, claim) in pending {
        let mut next = claim.clone();
        if next["spec"]["volumeName"].is_null() {
            next["spec"]["volumeName"] =
                json!(format!("pvc-{}", uid_of(&claim).unwrap_or_default()));
        }
        next["status"] = json!({
            "phase": "Bound",
            "accessModes": claim["spec"]["accessModes"].clone(),
            "capacity": claim["spec"]["resources"]["requests"].clone(),
        });
        store.update(&key, next);
    }
}

fn services(store: &mut Store) {
    let list: Vec<(Key, Value)> = store
        .of_type("", "services", None)
        .map(|(k, s)| (k.clone(), s.clone()))
        .collect();
    let mut wanted = BTreeSet::new();
    for (key, service) in list {
        wanted.insert(key.clone());
        let Some(selector) = service["spec"]["selector"].as_object() else {
            continue;
        };
        let selector = LabelSelector::from_match_labels(selector);
        let addresses: Vec<Value> = store
            .of_type("", "pods", Some(&key.namespace))
            .filter(|(_, p)| selector.matches(p) && pod_ready(p) && !deleting(p))
            .map(|(_, p)| {
                json!({
                    "ip": p["status"]["podIP"],
                    "nodeName": NODE_NAME,
                    "targetRef": {"kind": "Pod", "namespace": key.namespace, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]},
                })
            })
            .collect();
        let ports: Vec<Value> = service["spec"]["ports"]
            .as_array()
            .map(|ports| {
                ports
                    .iter()
                    .map(|p| {
                        json!({
                            "name": p.get("name").cloned().unwrap_or(json!("")),
                            "port": p.get("targetPort").filter(|t| t.is_number()).cloned().unwrap_or_else(|| p["port"].clone()),
                            "protocol": p.get("protocol").cloned().unwrap_or(json!("TCP")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let subsets = if addresses.is_empty() {
            json!([])
        } else {
            json!([{"addresses": addresses, "ports": ports}])
        };
        let ep_key = Key::of("", "endpoints", &key.namespace, &key.name);
        match store.objects.get(&ep_key).cloned() {
            None => {
                store.insert(
                    ep_key,
                    json!({
                        "apiVersion": "v1",
                        "kind": "Endpoints",
                        "metadata": {
                            "name": key.name,
                            "namespace": key.namespace,
                            "labels": service["metadata"]["labels"].clone(),
                            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": now_rfc3339()},
                        },
                        "subsets": subsets,
                    }),
                );
            }
            Some(current) if current["subsets"] != subsets => {
                let mut next = current;
                next["subsets"] = subsets;
                store.update(&ep_key, next);
            }
            Some(_) => {}
        }
    }
    // Endpoints of deleted services go with them.
    let stale: Vec<Key> = store
        .of_type("", "endpoints", None)
        .filter(|(k, e)| {
            e["metadata"]["annotations"]
                .get("endpoints.kubernetes.io/last-change-trigger-time")
                .is_some()
                && !wanted.contains(&Key::of("", "services", &k.namespace, &k.name))
        })
        .map(|(k, _)| k.clone())
        .collect();
    for key in stale {
        store.remove(&key);
    }
}
