//! The API-server double's wire behaviour as kube-rs (a real client) sees it: errors as
//! `Status` objects, optimistic concurrency, selectors, patches, server-side apply,
//! watches, the scale subresource, foreground deletion, Jobs and namespaces.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;
use std::time::Duration;

use tacker_drivers_k8s::connect;

fn config_map(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"},
    }))
    .expect("a ConfigMap")
}

fn api_status(error: kube::Error) -> (u16, String) {
    match error {
        kube::Error::Api(status) => (status.code, status.reason),
        other => panic!("expected a Status answer, got {other}"),
    }
}

async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_sees_a_faithful_api_server() {
    let double = support::double(Duration::from_millis(20)).await;
    let client = connect(&support::vim_of(&double)).await.expect("a client");
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    // Create, conflict on create, not found, stale replace.
    let created = maps
        .create(
            &PostParams::default(),
            &config_map("one", json!({"tier": "a"})),
        )
        .await
        .expect("created");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let again = maps
        .create(&PostParams::default(), &config_map("one", json!({})))
        .await
        .expect_err("a second create conflicts");
    assert_eq!(api_status(again), (409, "AlreadyExists".to_owned()));
    let missing = maps.get("none").await.expect_err("absent");
    assert_eq!(api_status(missing), (404, "NotFound".to_owned()));
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some([("key".to_owned(), "new".to_owned())].into());
    maps.replace("one", &PostParams::default(), &fresh)
        .await
        .expect("a replace with the current resourceVersion");
    stale.data = Some([("key".to_owned(), "stale".to_owned())].into());
    let conflict = maps
        .replace("one", &PostParams::default(), &stale)
        .await
        .expect_err("a stale resourceVersion conflicts");
    assert_eq!(api_status(conflict), (409, "Conflict".to_owned()));

    // Label selectors.
    maps.create(
        &PostParams::default(),
        &config_map("two", json!({"tier": "b"})),
    )
    .await
    .expect("created");
    maps.create(&PostParams::default(), &config_map("three", json!({})))
        .await
        .expect("created");
    let names = |list: kube::core::ObjectList<ConfigMap>| -> Vec<String> {
        list.items
            .into_iter()
            .filter_map(|m| m.metadata.name)
            .collect()
    };
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier=a"))
                .await
                .expect("list")
        ),
        vec!["one"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("tier in (a,b)"))
                .await
                .expect("list")
        ),
        vec!["one", "two"]
    );
    assert_eq!(
        names(
            maps.list(&ListParams::default().labels("!tier"))
                .await
                .expect("list")
        ),
        vec!["three"]
    );

    // Patches and server-side apply.
    let patched = maps
        .patch(
            "two",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"extra": "x"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(patched.data.as_ref().map(|d| d.len()), Some(2));
    let patched = maps
        .patch(
            "two",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "remove", "path": "/data/extra"}]))
                    .expect("a JSON patch"),
            ),
        )
        .await
        .expect("JSON patch");
    assert_eq!(patched.data.as_ref().map(|d| d.len()), Some(1));
    let applied = maps
        .patch(
            "four",
            &PatchParams::apply("wire-test").force(),
            &Patch::Apply(config_map("four", json!({"tier": "c"}))),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        applied
            .metadata
            .managed_fields
            .as_ref()
            .and_then(|m| m[0].manager.clone()),
        Some("wire-test".to_owned())
    );
    let no_manager = maps
        .patch(
            "four",
            &PatchParams::default(),
            &Patch::Apply(config_map("four", json!({}))),
        )
        .await
        .expect_err("apply needs a field manager");
    assert_eq!(api_status(no_manager).0, 400);

    // A watch from a resourceVersion sees what happens after it.
    let version = maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list version");
    let mut events = maps
        .watch(
            &WatchParams::default().labels("tier=w").timeout(20),
            &version,
        )
        .await
        .expect("a watch")
        .boxed();
    maps.create(
        &PostParams::default(),
        &config_map("watched", json!({"tier": "w"})),
    )
    .await
    .expect("created");
    maps.delete("watched", &DeleteParams::default())
        .await
        .expect("deleted");
    let first = within("the ADDED event", events.try_next())
        .await
        .expect("an event");
    assert!(
        matches!(first, Some(WatchEvent::Added(m)) if m.metadata.name.as_deref() == Some("watched"))
    );
    let second = within("the DELETED event", events.try_next())
        .await
        .expect("an event");
    assert!(matches!(second, Some(WatchEvent::Deleted(_))));

    // A Deployment: ReplicaSet and pods, the scale subresource, foreground deletion.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
        },
    }))
    .expect("a Deployment");
    deployments
        .create(&PostParams::default(), &deployment)
        .await
        .expect("created");
    let available = |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .is_some_and(|s| s.available_replicas == Some(d_replicas(d)))
    };
    fn d_replicas(d: Option<&Deployment>) -> i32 {
        d.and_then(|d| d.spec.as_ref())
            .and_then(|s| s.replicas)
            .unwrap_or(1)
    }
    within(
        "two ready replicas",
        await_condition(deployments.clone(), "web", available),
    )
    .await
    .expect("the watch works");
    let scale = deployments
        .get_scale("web")
        .await
        .expect("the scale subresource");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale.status.and_then(|s| s.selector).as_deref(),
        Some("app=web")
    );
    deployments
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scaled");
    within(
        "three ready replicas",
        await_condition(deployments.clone(), "web", available),
    )
    .await
    .expect("the watch works");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    assert_eq!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods")
            .items
            .len(),
        3
    );
    let deleting = deployments
        .delete("web", &DeleteParams::foreground())
        .await
        .expect("deleted");
    let deleting = deleting
        .left()
        .expect("foreground deletion answers the object");
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert_eq!(
        deleting.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_owned()])
    );
    let uid = deleting.metadata.uid.clone().expect("uid");
    within(
        "the Deployment is gone",
        await_condition(deployments.clone(), "web", conditions::is_deleted(&uid)),
    )
    .await
    .expect("the watch works");
    let sets: Api<ReplicaSet> = Api::namespaced(client.clone(), "default");
    assert!(
        sets.list(&ListParams::default())
            .await
            .expect("sets")
            .items
            .is_empty()
    );
    assert!(
        pods.list(&ListParams::default().labels("app=web"))
            .await
            .expect("pods")
            .items
            .is_empty()
    );

    // A Job runs its completions, at most `parallelism` at a time.
    let jobs: Api<Job> = Api::namespaced(client.clone(), "default");
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch"},
        "spec": {"completions": 3, "parallelism": 2, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}},
    }))
    .expect("a Job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("created");
    let complete = |j: Option<&Job>| {
        j.and_then(|j| j.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "Complete" && c.status == "True")
            })
    };
    let done = within(
        "the Job completes",
        await_condition(jobs.clone(), "batch", complete),
    )
    .await
    .expect("the watch works")
    .expect("the Job exists");
    assert_eq!(done.status.and_then(|s| s.succeeded), Some(3));

    // A namespace and its contents go together.
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "scratch"}})).expect("a Namespace"),
        )
        .await
        .expect("created");
    let scratch: Api<ConfigMap> = Api::namespaced(client.clone(), "scratch");
    scratch
        .create(&PostParams::default(), &config_map("inside", json!({})))
        .await
        .expect("created");
    let deleted = namespaces
        .delete("scratch", &DeleteParams::default())
        .await
        .expect("deleted")
        .left()
        .expect("the namespace is answered");
    assert_eq!(
        deleted.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    let uid = deleted.metadata.uid.expect("uid");
    within(
        "the namespace is gone",
        await_condition(namespaces.clone(), "scratch", conditions::is_deleted(&uid)),
    )
    .await
    .expect("the watch works");
    let refused = scratch
        .create(&PostParams::default(), &config_map("late", json!({})))
        .await
        .expect_err("no namespace, no object");
    assert_eq!(api_status(refused).0, 404);

    // Without the token: 401.
    let mut anonymous = support::vim_of(&double);
    anonymous
        .access_info
        .insert("bearer_token".into(), json!("wrong"));
    let stranger = connect(&anonymous).await.expect("a client");
    let denied = Api::<ConfigMap>::namespaced(stranger, "default")
        .get("one")
        .await
        .expect_err("a wrong token is refused");
    assert_eq!(api_status(denied), (401, "Unauthorized".to_owned()));
}
