//! Fidelity of the API-server double: the same sequence of calls against the double and
//! against the real cluster of `scripts/k8s-cluster.sh` (when `TACKER_TEST_K8S_SERVER`
//! is set), comparing what the Kubernetes driver relies on: the status codes of create,
//! get, update, patch (server-side apply and merge), delete and the `scale`
//! subresource; `Status` answers (kind, reason, details); 409 on a stale
//! `resourceVersion`; server-side apply's fields and managers; lists and watches with a
//! label selector; a Service's address from the service range, kept when an apply
//! drops its external IPs; foreground deletion (the owner keeps `deletionTimestamp` and the
//! `foregroundDeletion` finalizer until its dependents are gone). What legitimately
//! differs (uids, timestamps, `resourceVersion` values, fields only the real server
//! defaults) is left out; every other difference is reported.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ApiResource, DynamicObject, WatchEvent, WatchParams};
use kube::client::Body;
use serde_json::{Value, json};

use support::cluster::Cluster;
use tacker_drivers_k8s::FIELD_MANAGER;

/// Whether `check` answers `Some` within `limit` (polled every 100 ms), and its answer.
async fn within<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One call's answer: its status code and body.
struct Answer {
    code: u16,
    body: Value,
}

/// Raw calls to one API server, as the driver's identity.
struct Wire {
    client: kube::Client,
    ns: String,
}

impl Wire {
    async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<Value>,
    ) -> Answer {
        let bytes = match (&body, content_type) {
            (None, _) => Vec::new(),
            (Some(value), _) => serde_json::to_vec(value).expect("a JSON body"),
        };
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("Content-Type", content_type)
            .header("Accept", "application/json")
            .body(Body::from(bytes))
            .expect("a request");
        let response = tokio::time::timeout(Duration::from_secs(20), self.client.send(request))
            .await
            .unwrap_or_else(|_| panic!("{method} {path}: no answer within 20 s"))
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let code = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect_bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: reading the answer: {e}"));
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Answer { code, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, "application/json", None).await
    }
    async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, "application/json", Some(body))
            .await
    }
    async fn put(&self, path: &str, body: Value) -> Answer {
        self.call("PUT", path, "application/json", Some(body)).await
    }
    async fn merge(&self, path: &str, body: Value) -> Answer {
        self.call("PATCH", path, "application/merge-patch+json", Some(body))
            .await
    }
    async fn apply(&self, path: &str, manager: &str, body: Value) -> Answer {
        let path = format!("{path}?fieldManager={manager}&force=true");
        self.call("PATCH", &path, "application/apply-patch+yaml", Some(body))
            .await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> Answer {
        self.call("DELETE", path, "application/json", body).await
    }

    fn cm(&self, name: &str) -> String {
        format!("/api/v1/namespaces/{}/configmaps/{name}", self.ns)
    }
    fn cms(&self) -> String {
        format!("/api/v1/namespaces/{}/configmaps", self.ns)
    }
    fn deployment(&self, name: &str) -> String {
        format!("/apis/apps/v1/namespaces/{}/deployments/{name}", self.ns)
    }
}

/// The managers of the real cluster's controllers, which add their entries to
/// `managedFields` when they get to it (the double's controllers add none).
const CLUSTER_MANAGERS: &[&str] = &[
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kubelet",
];

/// An object without what legitimately differs: uids, resource versions, timestamps
/// (a set `deletionTimestamp` stays as `"<set>"`), the managed fields of others and
/// the times of ours, the annotations controllers add.
fn object(value: &Value) -> Value {
    let mut out = value.clone();
    let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) else {
        return out;
    };
    for key in ["uid", "resourceVersion", "creationTimestamp", "selfLink"] {
        meta.remove(key);
    }
    if meta.contains_key("deletionTimestamp") {
        meta.insert("deletionTimestamp".into(), json!("<set>"));
    }
    if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        annotations.retain(|k, _| !k.contains("kubernetes.io/"));
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
    if let Some(owners) = meta
        .get_mut("ownerReferences")
        .and_then(Value::as_array_mut)
    {
        for owner in owners {
            if let Some(owner) = owner.as_object_mut() {
                owner.remove("uid");
            }
        }
    }
    if let Some(fields) = meta.get("managedFields").and_then(Value::as_array) {
        // Ordered by operation, manager and subresource: the API server orders entries
        // of one operation by their time, to the second, which two runs need not share.
        let mut ours: Vec<Value> = fields
            .iter()
            .filter(|f| {
                let manager = f["manager"].as_str().unwrap_or_default();
                !CLUSTER_MANAGERS.iter().any(|m| manager.starts_with(m))
            })
            .map(|f| {
                json!({
                    "manager": f["manager"], "operation": f["operation"],
                    "apiVersion": f["apiVersion"], "fieldsType": f["fieldsType"],
                    "subresource": f["subresource"],
                })
            })
            .collect();
        ours.sort_by_key(|f| {
            (
                f["operation"].to_string(),
                f["manager"].to_string(),
                f["subresource"].to_string(),
            )
        });
        meta.insert("managedFields".into(), Value::Array(ours));
    }
    out
}

/// A `Status` answer's shape: kind, apiVersion, status, reason, code, details.
fn status(value: &Value) -> Value {
    json!({
        "kind": value["kind"], "apiVersion": value["apiVersion"], "status": value["status"],
        "reason": value["reason"], "code": value["code"],
        "details": {"name": value["details"]["name"], "group": value["details"]["group"],
                    "kind": value["details"]["kind"]},
    })
}

/// What a test compares of a ConfigMap.
fn config_map(value: &Value) -> Value {
    let o = object(value);
    json!({"kind": o["kind"], "apiVersion": o["apiVersion"], "metadata": o["metadata"], "data": o["data"]})
}

/// What a test compares of a Deployment: metadata and what was applied of the spec.
fn deployment(value: &Value) -> Value {
    let o = object(value);
    let spec = &o["spec"];
    let container = &spec["template"]["spec"]["containers"][0];
    json!({
        "kind": o["kind"], "apiVersion": o["apiVersion"], "metadata": o["metadata"],
        "spec": {
            "replicas": spec["replicas"], "selector": spec["selector"],
            "template": {"metadata": {"labels": spec["template"]["metadata"]["labels"]},
                         "spec": {"containers": [{"name": container["name"], "image": container["image"]}]}},
        },
    })
}

/// What the driver reads of a Service: its type, whether its cluster address is one
/// address of the service range (10.96.0.0/16), and its external IPs.
fn service(value: &Value) -> Value {
    let spec = &value["spec"];
    let address = spec["clusterIP"].as_str().unwrap_or_default();
    json!({
        "kind": value["kind"], "type": spec["type"],
        "clusterIP in range": address.starts_with("10.96.")
            && address.parse::<std::net::Ipv4Addr>().is_ok(),
        "clusterIPs": spec["clusterIPs"].as_array().map(|a| a.len() == 1 && a[0] == spec["clusterIP"]),
        "ipFamilies": spec["ipFamilies"], "ipFamilyPolicy": spec["ipFamilyPolicy"],
        "sessionAffinity": spec["sessionAffinity"], "externalIPs": spec["externalIPs"],
    })
}

/// The body as `shape` sees it when the call succeeded, else as a `Status`.
fn seen(answer: &Answer, shape: fn(&Value) -> Value) -> Value {
    let body = if answer.body["kind"] == "Status" {
        status(&answer.body)
    } else {
        shape(&answer.body)
    };
    json!({"code": answer.code, "body": body})
}

fn web(labels: Value, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "fid-web", "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "fid-web"}},
            "template": {
                "metadata": {"labels": {"app": "fid-web"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    })
}

/// The sequence, on one API server; what it saw, step by step.
async fn run(wire: &Wire) -> BTreeMap<String, Value> {
    let mut seen_at: BTreeMap<String, Value> = BTreeMap::new();
    let mut step = |name: &str, value: Value| {
        let n = seen_at.len();
        seen_at.insert(format!("{n:02} {name}"), value);
    };
    let cm_body = |name: &str, app: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "labels": {"app": app}}, "data": {"k": "v"}})
    };

    // Create, conflict on create, get, not found.
    let created = wire.post(&wire.cms(), cm_body("fid-cm", "fid")).await;
    step("create ConfigMap", seen(&created, config_map));
    let again = wire.post(&wire.cms(), cm_body("fid-cm", "fid")).await;
    step("create it again", seen(&again, config_map));
    let got = wire.get(&wire.cm("fid-cm")).await;
    step("get ConfigMap", seen(&got, config_map));
    step(
        "get a missing ConfigMap",
        seen(&wire.get(&wire.cm("fid-none")).await, config_map),
    );
    step(
        "get in a missing namespace",
        seen(
            &wire
                .get("/api/v1/namespaces/fid-no-such-namespace/configmaps/x")
                .await,
            config_map,
        ),
    );
    step(
        "get a Deployment of a missing kind group",
        seen(
            &wire
                .get(&format!(
                    "/apis/nosuch.example.com/v1/namespaces/{}/things/x",
                    wire.ns
                ))
                .await,
            config_map,
        ),
    );

    // Update with the current resourceVersion, then with the stale one: 409.
    let mut fresh = got.body.clone();
    fresh["data"]["k"] = json!("fresh");
    let updated = wire.put(&wire.cm("fid-cm"), fresh).await;
    step(
        "update with the current resourceVersion",
        seen(&updated, config_map),
    );
    let mut stale = got.body.clone();
    stale["data"]["k"] = json!("stale");
    step(
        "update with a stale resourceVersion",
        seen(&wire.put(&wire.cm("fid-cm"), stale).await, config_map),
    );
    step(
        "merge patch",
        seen(
            &wire
                .merge(
                    &wire.cm("fid-cm"),
                    json!({"data": {"k2": "v2"}, "metadata": {"labels": {"extra": "1"}}}),
                )
                .await,
            config_map,
        ),
    );
    step(
        "merge patch of a missing ConfigMap",
        seen(
            &wire
                .merge(&wire.cm("fid-none"), json!({"data": {"k": "v"}}))
                .await,
            config_map,
        ),
    );
    step(
        "create an invalid ConfigMap",
        seen(
            &wire.post(&wire.cms(), cm_body("Not_A_Name", "fid")).await,
            config_map,
        ),
    );

    // Server-side apply: create, then change; a field left out goes.
    let path = wire.deployment("fid-web");
    let first = wire
        .apply(
            &path,
            FIELD_MANAGER,
            web(json!({"app": "fid-web", "tier": "a"}), "nginx"),
        )
        .await;
    step("apply creates a Deployment", seen(&first, deployment));
    let second = wire
        .apply(
            &path,
            FIELD_MANAGER,
            web(json!({"app": "fid-web"}), "nginx:1.27"),
        )
        .await;
    step(
        "apply again: a new image, a label left out",
        seen(&second, deployment),
    );
    step(
        "merge patch by another manager",
        seen(
            &wire
                .call(
                    "PATCH",
                    &format!("{path}?fieldManager=tacker-fidelity"),
                    "application/merge-patch+json",
                    Some(json!({"metadata": {"labels": {"patched": "yes"}}})),
                )
                .await,
            deployment,
        ),
    );
    step(
        "apply of a ConfigMap that does not exist creates it",
        seen(
            &wire
                .apply(
                    &wire.cm("fid-applied"),
                    FIELD_MANAGER,
                    cm_body("fid-applied", "fid"),
                )
                .await,
            config_map,
        ),
    );

    // The scale subresource.
    let scale = |value: &Value| {
        json!({"kind": value["kind"], "apiVersion": value["apiVersion"],
               "metadata": {"name": value["metadata"]["name"], "namespace": value["metadata"]["namespace"]},
               "spec": value["spec"], "status": {"selector": value["status"]["selector"]}})
    };
    step(
        "get scale",
        seen(&wire.get(&format!("{path}/scale")).await, scale),
    );
    step(
        "merge patch of scale",
        seen(
            &wire
                .merge(&format!("{path}/scale"), json!({"spec": {"replicas": 2}}))
                .await,
            scale,
        ),
    );
    step(
        "the Deployment after the scale",
        seen(&wire.get(&path).await, deployment),
    );
    step(
        "scale of a missing Deployment",
        seen(
            &wire
                .get(&format!("{}/scale", wire.deployment("fid-none")))
                .await,
            scale,
        ),
    );

    // A list with a label selector.
    wire.post(&wire.cms(), cm_body("fid-other", "other")).await;
    let list = wire
        .get(&format!("{}?labelSelector=app%3Dfid", wire.cms()))
        .await;
    let mut names: Vec<Value> = list.body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| i["metadata"]["name"].clone())
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| n.as_str().unwrap_or_default().to_owned());
    step(
        "list with a label selector",
        json!({"code": list.code, "kind": list.body["kind"], "apiVersion": list.body["apiVersion"],
               "names": names, "has resourceVersion": list.body["metadata"]["resourceVersion"].is_string()}),
    );

    // A watch with a label selector, from the list's resourceVersion.
    step("watch", watch(wire, &list.body).await);

    // Foreground deletion: the owner waits for a dependent that a finalizer holds.
    step("foreground deletion", foreground(wire).await);

    // A scale in removes the pod of the lowest deletion cost, whatever its age.
    step("scale in by deletion cost", deletion_cost(wire).await);

    // Deleting the Deployment (foreground) takes its ReplicaSets and pods with it.
    let deleted = wire
        .delete(
            &path,
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})),
        )
        .await;
    step(
        "delete the Deployment, foreground",
        json!({"code": deleted.code}),
    );
    let gone = within(Duration::from_secs(30), || async {
        (wire.get(&path).await.code == 404).then_some(())
    })
    .await
    .is_some();
    let left = wire
        .get(&format!(
            "/apis/apps/v1/namespaces/{}/replicasets?labelSelector=app%3Dfid-web",
            wire.ns
        ))
        .await;
    step(
        "the Deployment's ReplicaSets once it is gone",
        json!({"gone": gone, "replicasets": left.body["items"].as_array().map(Vec::len)}),
    );

    // A Service: the cluster gives it an address of the service range, which stays when
    // an apply of ours drops the external IPs it applied before.
    let service_path = format!("/api/v1/namespaces/{}/services/fid-svc", wire.ns);
    let service_body = |external: &[&str]| {
        let mut spec =
            json!({"selector": {"app": "fid-web"}, "ports": [{"port": 80, "protocol": "TCP"}]});
        if !external.is_empty() {
            spec["externalIPs"] = json!(external);
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fid-svc"}, "spec": spec})
    };
    let with_ip = wire
        .apply(
            &service_path,
            FIELD_MANAGER,
            service_body(&["198.51.100.7"]),
        )
        .await;
    step(
        "apply a Service with an external IP",
        seen(&with_ip, service),
    );
    let without = wire
        .apply(&service_path, FIELD_MANAGER, service_body(&[]))
        .await;
    step("apply it without the external IP", seen(&without, service));
    let same_address = with_ip.body["spec"]["clusterIP"] == without.body["spec"]["clusterIP"];
    step("the Service keeps its address", json!(same_address));
    step(
        "delete the Service",
        json!({"code": wire.delete(&service_path, None).await.code}),
    );

    // Delete, and delete what is not there.
    let deleted = wire.delete(&wire.cm("fid-cm"), None).await;
    step(
        "delete ConfigMap",
        json!({"code": deleted.code, "kind": deleted.body["kind"],
               "status": deleted.body["status"]}),
    );
    step(
        "delete it again",
        seen(&wire.delete(&wire.cm("fid-cm"), None).await, config_map),
    );
    seen_at
}

/// ADDED, MODIFIED and DELETED of the labelled ConfigMap, nothing of the other.
async fn watch(wire: &Wire, list: &Value) -> Value {
    let resource = ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let api: Api<DynamicObject> = Api::namespaced_with(wire.client.clone(), &wire.ns, &resource);
    let version = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_owned();
    let params = WatchParams::default().labels("app=fid-watch").timeout(20);
    let mut stream = api
        .watch(&params, &version)
        .await
        .expect("the watch starts")
        .boxed();
    let body = |name: &str, app: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": name, "labels": {"app": app}}, "data": {"k": "v"}})
    };
    wire.post(&wire.cms(), body("fid-unwatched", "not-watched"))
        .await;
    wire.post(&wire.cms(), body("fid-watched", "fid-watch"))
        .await;
    wire.merge(&wire.cm("fid-watched"), json!({"data": {"k": "changed"}}))
        .await;
    wire.merge(&wire.cm("fid-unwatched"), json!({"data": {"k": "changed"}}))
        .await;
    wire.delete(&wire.cm("fid-watched"), None).await;
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Ok(Some(event))) = tokio::time::timeout_at(deadline, stream.try_next()).await {
        let (kind, object) = match event {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => {
                events.push(json!({"error": e.code}));
                break;
            }
        };
        let name = object.metadata.name.clone().unwrap_or_default();
        events.push(json!({"type": kind, "name": name, "data": object.data["data"]}));
        if kind == "DELETED" {
            break;
        }
    }
    Value::Array(events)
}

/// A ReplicaSet of three pods scaled to two: the pod with the lowest
/// `controller.kubernetes.io/pod-deletion-cost` goes (the driver marks the pods a scale
/// out added so).
async fn deletion_cost(wire: &Wire) -> Value {
    let rs = format!("/apis/apps/v1/namespaces/{}/replicasets/fid-rs", wire.ns);
    let created = wire
        .post(
            &format!("/apis/apps/v1/namespaces/{}/replicasets", wire.ns),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "fid-rs"},
                   "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "fid-rs"}},
                            "template": {"metadata": {"labels": {"app": "fid-rs"}},
                                         "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
        )
        .await;
    let pods_path = format!(
        "/api/v1/namespaces/{}/pods?labelSelector=app%3Dfid-rs",
        wire.ns
    );
    let names = |answer: &Answer| -> Vec<String> {
        let mut names: Vec<String> = answer.body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                    .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let three = within(Duration::from_secs(30), || async {
        let pods = names(&wire.get(&pods_path).await);
        (pods.len() == 3).then_some(pods)
    })
    .await;
    let Some(three) = three else {
        return json!({"create": created.code, "three pods": false});
    };
    // The first by name: any of them, not the newest by design.
    let chosen = three[0].clone();
    let marked = wire
        .merge(
            &format!("/api/v1/namespaces/{}/pods/{chosen}", wire.ns),
            json!({"metadata": {"annotations": {"controller.kubernetes.io/pod-deletion-cost": "-100"}}}),
        )
        .await;
    let scaled = wire
        .merge(&format!("{rs}/scale"), json!({"spec": {"replicas": 2}}))
        .await;
    let two = within(Duration::from_secs(30), || async {
        let pods = names(&wire.get(&pods_path).await);
        (pods.len() == 2).then_some(pods)
    })
    .await;
    let deleted = wire
        .delete(
            &rs,
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})),
        )
        .await;
    json!({
        "create": created.code, "mark": marked.code, "scale": scaled.code, "delete": deleted.code,
        "two pods": two.is_some(),
        "the marked pod went": two.is_some_and(|pods| !pods.contains(&chosen)),
    })
}

/// An owner deleted in the foreground while a finalizer holds its dependent.
async fn foreground(wire: &Wire) -> Value {
    let owner = wire
        .post(
            &wire.cms(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fid-owner"}}),
        )
        .await;
    let uid = owner.body["metadata"]["uid"].clone();
    let dependent = wire
        .post(
            &wire.cms(),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                "name": "fid-dependent", "finalizers": ["tacker.test/hold"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "fid-owner",
                                     "uid": uid, "blockOwnerDeletion": true}],
            }}),
        )
        .await;
    let mut out = vec![json!({"create owner": owner.code, "create dependent": dependent.code})];
    let deleted = wire
        .delete(
            &wire.cm("fid-owner"),
            Some(json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})),
        )
        .await;
    out.push(json!({"delete owner": seen(&deleted, config_map)}));
    // The garbage collector deletes the dependent, which its finalizer holds.
    let held = within(Duration::from_secs(30), || async {
        let got = wire.get(&wire.cm("fid-dependent")).await;
        got.body["metadata"]["deletionTimestamp"]
            .is_string()
            .then_some(got)
    })
    .await;
    out.push(json!({"dependent": held.as_ref().map(|h| seen(h, config_map))}));
    out.push(json!({"owner meanwhile": seen(&wire.get(&wire.cm("fid-owner")).await, config_map)}));
    let released = wire
        .merge(
            &wire.cm("fid-dependent"),
            json!({"metadata": {"finalizers": null}}),
        )
        .await;
    out.push(json!({"release the dependent": released.code}));
    let gone = within(Duration::from_secs(30), || async {
        (wire.get(&wire.cm("fid-owner")).await.code == 404).then_some(())
    })
    .await;
    out.push(json!({"owner gone": gone.is_some()}));
    out.push(json!({"dependent at the end": wire.get(&wire.cm("fid-dependent")).await.code}));
    Value::Array(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_double_answers_as_the_real_api_server_does() {
    let Some(real) = Cluster::real("the_double_answers_as_the_real_api_server_does").await else {
        return;
    };
    let double = Cluster::double(Duration::from_millis(20)).await;
    let ns = real.namespace().to_owned();
    let on_double = Wire {
        client: tacker_drivers_k8s::connect(&double.vim())
            .await
            .expect("a client of the double"),
        ns: ns.clone(),
    };
    // The double gets the real test's namespace too, so that paths and names agree.
    let made = on_double
        .post(
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
    assert_eq!(made.code, 201, "{}", made.body);
    let on_real = Wire {
        client: tacker_drivers_k8s::connect(&real.vim())
            .await
            .expect("a client of the real cluster"),
        ns,
    };
    let (expected, actual) = tokio::join!(run(&on_real), run(&on_double));
    let mut differences = Vec::new();
    for (step, real_seen) in &expected {
        let double_seen = actual.get(step).unwrap_or(&Value::Null);
        if double_seen != real_seen {
            differences.push(format!(
                "{step}:\n  real:   {real_seen}\n  double: {double_seen}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "the double differs from the real API server in {} step(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
}
