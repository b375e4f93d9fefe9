//! The Kubernetes infra driver with the CNF corpus packages: every workload kind as a
//! VDU, scale, heal, operate, terminate, change of package and its rollback, bad
//! requests, on the API-server double and on the real cluster of
//! `scripts/k8s-cluster.sh` (when `TACKER_TEST_K8S_SERVER` is set); on the double
//! only, with its fault injection: readiness failures that end in an error after the
//! deadline and complete when retried once the fault is cleared, and rollbacks that
//! remove what was applied.

mod support;

use support::cluster::Cluster;
use support::cnf::{Cnf, changed};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tacker_core::infra::VNFC_POWER_STATE;
use tacker_core::infra::{InfraDriver, Rollback, ScaleTarget};
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, ChangeType, ExtManagedVirtualLinkData, InstantiateVnfRequest,
    KeyValuePairs, OperateVnfRequest, ScaleInfo, ScaleType, StopType, VnfOperationalStateType,
};
use tacker_core::package::PackageFiles;
use tacker_core::sim::AppliedOperation;
use tacker_core::{Error, new_id};
use tacker_drivers_k8s::INSTANCE_LABEL;
use tacker_drivers_k8s::testkit::PodFault;

const CNF_RESOURCES: &[&str] = &[
    "Files/kubernetes/storage-class.yaml",
    "Files/kubernetes/persistent-volume-0.yaml",
    "Files/kubernetes/persistent-volume-1.yaml",
    "Files/kubernetes/config-map.yaml",
    "Files/kubernetes/role_rolebinding_SA.yaml",
    "Files/kubernetes/replicaset_service_secret.yaml",
    "Files/kubernetes/pod.yaml",
    "Files/kubernetes/deployment.yaml",
    "Files/kubernetes/statefulset.yaml",
    "Files/kubernetes/daemon-set.yaml",
];

/// Runs `body` on the double and, as a second test, on the real cluster.
macro_rules! on_both {
    ($double:ident, $real:ident, $body:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $double() {
            $body(Cluster::double(Duration::from_millis(20)).await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $real() {
            if let Some(cluster) = Cluster::real(stringify!($body)).await {
                $body(cluster).await;
            }
        }
    };
}

on_both!(
    every_workload_kind_on_the_double,
    every_workload_kind_on_the_real_cluster,
    every_workload_kind_instantiates_scales_heals_and_terminates
);

async fn every_workload_kind_instantiates_scales_heals_and_terminates(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v2-cnf-instantiate-cnf-resources");
    let flavour = vnfd.flavour("simple").expect("flavour simple").clone();
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));

    let instantiated = cnf.instantiate(CNF_RESOURCES).await;
    // A DaemonSet has a pod on every node, whatever the VNFD says.
    let nodes = cluster.schedulable_nodes().await;
    let expected: BTreeMap<String, u32> = flavour
        .vdus
        .iter()
        .map(|vdu| {
            let count = if vdu.id == "VDU6" {
                nodes
            } else {
                flavour.vdu_instances_at_level(vdu, None)
            };
            (vdu.id.clone(), count)
        })
        .collect();
    assert_eq!(cnf.counts(), expected, "one VNFC per pod, per VDU");
    let kinds: BTreeMap<String, String> = instantiated
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| {
            (
                v.vdu_id.clone(),
                v.compute_resource
                    .vim_level_resource_type
                    .clone()
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("VDU1".to_owned(), "Pod".to_owned()),
            ("VDU2".to_owned(), "Deployment".to_owned()),
            ("VDU3".to_owned(), "ReplicaSet".to_owned()),
            ("VDU5".to_owned(), "StatefulSet".to_owned()),
            ("VDU6".to_owned(), "DaemonSet".to_owned()),
        ])
    );
    for vnfc in &instantiated.resources.vnfc_resource_info {
        let pod = cluster
            .object("", "pods", &ns, &vnfc.compute_resource.resource_id)
            .await
            .unwrap_or_else(|| panic!("pod of VNFC {} exists", vnfc.id));
        assert_eq!(
            pod["metadata"]["labels"][INSTANCE_LABEL],
            cnf.record.id.as_str()
        );
    }
    assert_eq!(
        changed(&instantiated, ChangeType::Added).len(),
        instantiated.resources.vnfc_resource_info.len()
    );
    let held = cnf.labelled().await;
    for (kind, name) in [
        (
            "StorageClass",
            &*cluster.cluster_scoped_name("curry-sc-local"),
        ),
        (
            "PersistentVolume",
            &*cluster.cluster_scoped_name("curry-sc-pv"),
        ),
        ("ConfigMap", "curry-test001"),
        ("Role", "curry-role"),
        ("RoleBinding", "curry-rolebinding"),
        ("ServiceAccount", "curry-sa"),
        ("Service", "curry-svc-vdu001-multiple"),
        ("Secret", "curry-sc-multiple"),
        ("PersistentVolumeClaim", "www-vdu5-0"),
    ] {
        assert!(
            held.iter().any(|(k, _, n)| k == kind && n == name),
            "{kind} {name} is applied and labelled: {held:?}"
        );
    }
    let deployment = cluster
        .object("apps", "deployments", &ns, "vdu2")
        .await
        .expect("the Deployment exists");
    assert_eq!(
        deployment["metadata"]["managedFields"][0]["manager"], "tacker-vnfm",
        "objects are applied server-side by our field manager"
    );

    // Scale the StatefulSet and the ReplicaSet out and back in.
    let before = cnf.counts();
    let out = cnf.scale("vdu5_aspect", 1, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU5"], before["VDU5"] + 1);
    assert_eq!(changed(&out, ChangeType::Added).len(), 1);
    assert!(
        cluster
            .object("", "persistentvolumeclaims", &ns, "www-vdu5-1")
            .await
            .is_some(),
        "the new StatefulSet pod has its claim"
    );
    let out = cnf.scale("vdu3_aspect", 2, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU3"], before["VDU3"] + 2);
    assert_eq!(changed(&out, ChangeType::Added).len(), 2);
    let added = changed(&out, ChangeType::Added);
    let scaled_in = cnf.scale("vdu3_aspect", 0, ScaleType::ScaleIn).await;
    assert_eq!(cnf.counts()["VDU3"], before["VDU3"]);
    assert_eq!(
        changed(&scaled_in, ChangeType::Removed),
        added,
        "scale in removes the newest pods"
    );

    // Heal a Deployment pod (replaced by its ReplicaSet) and the bare Pod (re-created).
    let (vdu2_vnfc, vdu2_pod) = cnf.vnfc_of("VDU2");
    let (vdu1_vnfc, vdu1_pod) = cnf.vnfc_of("VDU1");
    let old_uid = cluster
        .object("", "pods", &ns, &vdu1_pod)
        .await
        .expect("the bare pod exists")["metadata"]["uid"]
        .clone();
    let healed = cnf.heal(vec![vdu2_vnfc.clone(), vdu1_vnfc.clone()]).await;
    assert_eq!(
        changed(&healed, ChangeType::Modified),
        BTreeSet::from([vdu1_vnfc.clone(), vdu2_vnfc.clone()])
    );
    assert_ne!(
        cnf.vnfc_of("VDU2").1,
        vdu2_pod,
        "a new pod serves VDU2's VNFC"
    );
    assert!(cluster.object("", "pods", &ns, &vdu2_pod).await.is_none());
    let new_uid = cluster
        .object("", "pods", &ns, &vdu1_pod)
        .await
        .expect("the bare pod is back")["metadata"]["uid"]
        .clone();
    assert_ne!(old_uid, new_uid, "the bare pod was re-created");

    // Whole-VNF heal re-applies the manifests (a deleted ConfigMap comes back) and
    // replaces every pod.
    let client = tacker_drivers_k8s::connect(&cnf.vim)
        .await
        .expect("a client");
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, &ns);
    maps.delete("curry-test001", &kube::api::DeleteParams::default())
        .await
        .expect("the ConfigMap is deleted behind the VNFM's back");
    let before: BTreeSet<String> = cluster.pod_names(&ns).await.into_iter().collect();
    let healed = cnf.heal(Vec::new()).await;
    assert_eq!(
        changed(&healed, ChangeType::Modified).len(),
        healed.resources.vnfc_resource_info.len()
    );
    assert!(
        cluster
            .object("", "configmaps", &ns, "curry-test001")
            .await
            .is_some(),
        "whole-VNF heal re-applied the ConfigMap"
    );
    let after: BTreeSet<String> = cluster.pod_names(&ns).await.into_iter().collect();
    assert!(
        before
            .intersection(&after)
            .all(|p| p == &vdu1_pod || p.starts_with("vdu5-")),
        "only the bare pod and the StatefulSet's pods keep their names: {before:?} {after:?}"
    );

    let terminated = cnf.terminate().await;
    assert!(terminated.resources.vnfc_resource_info.is_empty());
    assert_eq!(
        changed(&terminated, ChangeType::Removed).len(),
        healed.resources.vnfc_resource_info.len()
    );
    assert_eq!(
        cnf.labelled().await,
        Vec::new(),
        "terminate leaves nothing behind"
    );
    assert!(
        cluster.pod_names(&ns).await.is_empty(),
        "the pods went with their workloads"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workload_that_never_becomes_ready_fails_then_a_retry_completes() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    // Faults are injected into the double: this runs on it only.
    let double = Arc::new(support::double(Duration::from_millis(20)).await);
    let cluster = Arc::new(Cluster::of_double(double.clone()));
    let (vnfd, package) = support::corpus_package(&corpus, "v1-cnf-scale");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(2));
    let files = ["Files/kubernetes/deployment_scale.yaml"];
    let request = cnf.instantiate_request(&files);

    double.inject_fault("nginx", PodFault::ImagePull);
    let op = new_id();
    let failed = cnf.driver.instantiate(&cnf.ctx(&op), &request).await;
    match failed {
        Err(Error::Driver {
            retryable, source, ..
        }) => {
            let message = source.to_string();
            assert!(retryable, "a readiness timeout may pass when retried");
            assert!(
                message.contains("vdu1-scale") && message.contains("ErrImagePull"),
                "the error names the workload and why its pods wait: {message}"
            );
        }
        other => panic!("instantiate with an unpullable image must fail, not {other:?}"),
    }
    assert!(
        !cnf.labelled().await.is_empty(),
        "the failed instantiate applied the Deployment"
    );

    // Retry after the fault is cleared: the same call completes.
    double.clear_faults();
    let outcome = cnf
        .driver
        .instantiate(&cnf.ctx(&op), &request)
        .await
        .expect("the retried instantiate completes");
    assert_eq!(outcome.resources.vnfc_resource_info.len(), 1);
    cnf.record(AppliedOperation::Instantiate(&request), &outcome);

    // A scale out whose new pods never become ready fails; its rollback removes them.
    double.inject_fault("nginx", PodFault::NeverReady);
    let target = ScaleTarget::new(
        vec![ScaleInfo {
            aspect_id: "vdu1_aspect".to_owned(),
            vnfd_id: None,
            scale_level: 2,
        }],
        Some(ScaleType::ScaleOut),
    );
    let op = new_id();
    let failed = cnf.driver.scale(&cnf.ctx(&op), &target).await;
    assert!(matches!(failed, Err(Error::Driver { .. })), "{failed:?}");
    assert_eq!(
        double.pod_names("default").len(),
        3,
        "the scale out started"
    );
    double.clear_faults();
    let rolled_back = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::Scale(&target))
        .await
        .expect("the rollback of scale out completes");
    assert_eq!(
        rolled_back.resources.vnfc_resource_info,
        cnf.record
            .instantiated_vnf_info
            .as_ref()
            .expect("instantiated")
            .vnfc_resource_info,
        "rollback of scale out returns to the recorded VNFC"
    );
    assert!(rolled_back.resource_changes.is_empty());
    assert_eq!(double.pod_names("default").len(), 1);

    // Rollback of instantiate removes everything that was applied.
    let op = new_id();
    let mut fresh = Cnf::new(
        cluster.clone(),
        cnf.vnfd.clone(),
        (*cnf.package).clone(),
        Duration::from_secs(2),
    );
    fresh.record.id = cnf.record.id.clone();
    let removed = fresh
        .driver
        .rollback(&fresh.ctx(&op), &Rollback::Instantiate(&request))
        .await
        .expect("rollback of instantiate completes");
    assert!(removed.resources.vnfc_resource_info.is_empty());
    assert_eq!(
        cnf.labelled().await,
        Vec::new(),
        "rollback removed what was applied"
    );
}

on_both!(
    change_of_package_on_the_double,
    change_of_package_on_the_real_cluster,
    change_of_package_rolls_out_and_its_rollback_restores
);

async fn change_of_package_rolls_out_and_its_rollback_restores(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v2-cnf-container-update-before");
    let (new_vnfd, new_package) = cluster.package(&corpus, "v2-cnf-container-update-after");
    let files_before: Vec<String> = package
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("Files/kubernetes/"))
        .collect();
    let files_after: Vec<String> = new_package
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("Files/kubernetes/"))
        .collect();
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));
    let before_refs: Vec<&str> = files_before.iter().map(String::as_str).collect();
    cnf.instantiate(&before_refs).await;
    let recorded = cnf.counts();
    let (_, deployment_pod) = cnf.vnfc_of("VDU1");

    let mut params = KeyValuePairs::new();
    params.insert(
        "lcm-kubernetes-def-files".into(),
        serde_json::json!(files_after),
    );
    let request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        additional_params: params,
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let op = new_id();
    let changed_outcome = cnf
        .driver
        .change_vnfpkg(&cnf.ctx(&op), &request, &new_vnfd, &new_package)
        .await
        .expect("change of package completes");
    let deployment = cluster
        .object("apps", "deployments", &ns, "vdu1-update")
        .await
        .expect("the Deployment exists");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"], "cirros",
        "the new manifest is applied"
    );
    assert!(
        cluster
            .object("", "configmaps", &ns, "cm-data")
            .await
            .is_some()
            && cluster
                .object("", "secrets", &ns, "secret-data")
                .await
                .is_some(),
        "objects of the new package exist"
    );
    assert!(
        changed(&changed_outcome, ChangeType::Removed)
            .iter()
            .any(|id| id == &deployment_pod),
        "the Deployment's pods were replaced by the rollout"
    );
    let mut counts = BTreeMap::new();
    for vnfc in &changed_outcome.resources.vnfc_resource_info {
        *counts.entry(vnfc.vdu_id.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts, recorded, "the change keeps the VNFCs per VDU");

    // Roll back: the old manifests again.
    let rolled_back = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::ChangeVnfpkg(&request))
        .await
        .expect("rollback of change of package completes");
    let deployment = cluster
        .object("apps", "deployments", &ns, "vdu1-update")
        .await
        .expect("the Deployment exists");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx"
    );
    let mut counts = BTreeMap::new();
    for vnfc in &rolled_back.resources.vnfc_resource_info {
        *counts.entry(vnfc.vdu_id.clone()).or_insert(0) += 1;
    }
    assert_eq!(counts, recorded);
    cnf.record(AppliedOperation::Rollback, &rolled_back);
    cnf.terminate().await;
    assert_eq!(cnf.labelled().await, Vec::new());
}

on_both!(
    bad_requests_on_the_double,
    bad_requests_on_the_real_cluster,
    bad_requests_are_refused_before_anything_is_applied
);

async fn bad_requests_are_refused_before_anything_is_applied(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v1-cnf-scale");
    let cnf = Cnf::new(
        cluster.clone(),
        vnfd.clone(),
        package,
        Duration::from_secs(5),
    );
    let op = new_id();

    let unlisted = cnf
        .driver
        .instantiate(
            &cnf.ctx(&op),
            &cnf.instantiate_request(&["Definitions/helloworld3_df_simple.yaml"]),
        )
        .await;
    match unlisted {
        Err(Error::Unprocessable(m)) => assert!(m.contains("helloworld3_df_simple.yaml"), "{m}"),
        other => panic!("an unlisted file must be Unprocessable, not {other:?}"),
    }

    let tampered = support::with_changed_file(
        &corpus,
        "v1-cnf-scale",
        "TOSCA-Metadata/TOSCA.meta",
        std::fs::read_to_string(corpus.join("v1-cnf-scale/package/TOSCA-Metadata/TOSCA.meta"))
            .expect("TOSCA.meta reads"),
    )
    .with_file(
        "Files/kubernetes/deployment_scale.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: vdu1-scale\n",
    );
    let cnf_tampered = Cnf::new(
        cluster.clone(),
        vnfd.clone(),
        tampered,
        Duration::from_secs(5),
    );
    let result = cnf_tampered
        .driver
        .instantiate(
            &cnf_tampered.ctx(&op),
            &cnf_tampered.instantiate_request(&["Files/kubernetes/deployment_scale.yaml"]),
        )
        .await;
    match result {
        Err(Error::Unprocessable(m)) => assert!(
            m.contains("deployment_scale.yaml") && m.contains("digest"),
            "{m}"
        ),
        other => panic!("a file whose digest differs must be Unprocessable, not {other:?}"),
    }

    let mut request = cnf.instantiate_request(&["Files/kubernetes/deployment_scale.yaml"]);
    request
        .additional_params
        .insert("namespace".into(), serde_json::json!("elsewhere"));
    match cnf.driver.instantiate(&cnf.ctx(&op), &request).await {
        Err(Error::Unprocessable(m)) => assert!(
            m.contains("vdu1-scale") && m.contains("elsewhere") && m.contains(&ns),
            "{m}"
        ),
        other => panic!("a namespace conflict must be Unprocessable, not {other:?}"),
    }

    let missing = cnf
        .driver
        .instantiate(
            &cnf.ctx(&op),
            &InstantiateVnfRequest {
                flavour_id: "simple".to_owned(),
                ..InstantiateVnfRequest::default()
            },
        )
        .await;
    assert!(
        matches!(missing, Err(Error::InvalidRequest(_))),
        "{missing:?}"
    );
    // A Kubernetes VIM has no VIM networks for externally managed links.
    let mut request = cnf.instantiate_request(&["Files/kubernetes/deployment_scale.yaml"]);
    request.ext_managed_virtual_links = vec![ExtManagedVirtualLinkData {
        id: "managed-1".to_owned(),
        vnf_virtual_link_desc_id: "internalVL1".to_owned(),
        vim_connection_id: None,
        resource_provider_id: None,
        resource_id: "net-1".to_owned(),
        vnf_link_port: Vec::new(),
        ext_managed_multisite_virtual_link_id: None,
    }];
    match cnf.driver.instantiate(&cnf.ctx(&op), &request).await {
        Err(Error::Unprocessable(m)) => assert!(
            m.contains("managed-1") && m.contains("Kubernetes VIM"),
            "{m}"
        ),
        other => panic!("an externally managed link must be Unprocessable, not {other:?}"),
    }
    assert_eq!(cnf.labelled().await, Vec::new(), "nothing was applied");
}

on_both!(
    operate_on_the_double,
    operate_on_the_real_cluster,
    operate_stops_every_workload_kind_and_starts_it_again
);

async fn operate_stops_every_workload_kind_and_starts_it_again(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v2-cnf-instantiate-cnf-resources");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));
    cnf.instantiate(CNF_RESOURCES).await;
    let before = cnf.counts();
    let ids: BTreeSet<String> = cnf
        .record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter().map(|v| v.id.clone()))
        .collect();
    let replicas = async |name: &str| {
        cluster
            .object("apps", "deployments", &ns, name)
            .await
            .map(|d| d["spec"]["replicas"].clone())
    };
    let deployment_replicas = replicas("vdu2").await;

    let stop = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Stopped,
        stop_type: Some(StopType::Graceful),
        graceful_stop_timeout: Some(1),
        additional_params: KeyValuePairs::new(),
    };
    let op = new_id();
    let stopped = cnf
        .driver
        .operate(&cnf.ctx(&op), &stop)
        .await
        .unwrap_or_else(|e| panic!("stop fails: {e}"));
    assert_eq!(
        cluster.pod_names(&ns).await,
        Vec::<String>::new(),
        "no pod runs"
    );
    assert!(
        stopped
            .resources
            .vnfc_resource_info
            .iter()
            .all(|v| v.metadata[VNFC_POWER_STATE] == "STOPPED"),
        "the VNFCs stay, stopped: {stopped:?}"
    );
    assert_eq!(replicas("vdu2").await, Some(serde_json::json!(0)));
    cnf.record(AppliedOperation::Operate(&stop), &stopped);

    let start = OperateVnfRequest {
        change_state_to: VnfOperationalStateType::Started,
        ..stop.clone()
    };
    let start = OperateVnfRequest {
        stop_type: None,
        graceful_stop_timeout: None,
        ..start
    };
    let op = new_id();
    let started = cnf
        .driver
        .operate(&cnf.ctx(&op), &start)
        .await
        .expect("start completes");
    cnf.record(AppliedOperation::Operate(&start), &started);
    assert_eq!(cnf.counts(), before, "every VDU has its pods again");
    let again: BTreeSet<String> = started
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| v.id.clone())
        .collect();
    assert_eq!(again, ids, "the VNFCs keep their ids");
    assert_eq!(
        replicas("vdu2").await,
        deployment_replicas,
        "the replicas come back"
    );
    cnf.terminate().await;
    assert_eq!(cnf.labelled().await, Vec::new());
}
