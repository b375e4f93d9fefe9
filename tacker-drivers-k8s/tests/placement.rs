//! Placement of a CNF's pods: a VNFD anti-affinity rule (scope NFVI_NODE) and the zones
//! a grant gives. On the double the rendered workload carries the terms; on the real
//! cluster of `scripts/k8s-cluster.sh` (two kwok nodes) the scheduler honours them:
//! anti-affine pods land on different nodes and a third one is not scheduled, and the
//! pods of a VDU granted zone `zone-b` run on the node of that zone, a later scale keeping
//! the constraint.

mod support;

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;
use support::cluster::Cluster;
use support::cnf::Cnf;
use tacker_core::infra::{InfraDriver, ScaleTarget};
use tacker_core::model::{Grant, GrantRequest, ScaleInfo, ScaleType};
use tacker_core::sim::AppliedOperation;
use tacker_core::vnfd::PlacementRule;
use tacker_core::{Error, new_id};
use tacker_drivers_k8s::placement::{ZONE_LABEL, ZONES_METADATA};

const MANIFEST: &str = "Files/kubernetes/deployment_scale.yaml";
const DEPLOYMENT: &str = "vdu1-scale";

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

/// Labels the two kwok nodes with zones `zone-a` and `zone-b` (idempotent).
async fn zone_nodes(cluster: &Cluster) {
    let Some(real) = cluster.real_parts() else {
        return;
    };
    let nodes: Api<DynamicObject> = Api::all_with(
        real.admin.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(
            &kube::core::GroupVersionKind::gvk("", "v1", "Node"),
            "nodes",
        ),
    );
    for (node, zone) in [("kwok-node-0", "zone-a"), ("kwok-node-1", "zone-b")] {
        nodes
            .patch(
                node,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"labels": {ZONE_LABEL: zone}}})),
            )
            .await
            .unwrap_or_else(|e| panic!("labelling {node}: {e}"));
    }
}

async fn deployment(cluster: &Cluster) -> serde_json::Value {
    cluster
        .object("apps", "deployments", cluster.namespace(), DEPLOYMENT)
        .await
        .expect("the Deployment exists")
}

/// The nodes the instance's pods run on.
async fn pod_nodes(cnf: &Cnf) -> Vec<String> {
    let mut nodes = Vec::new();
    for vnfc in cnf
        .record
        .instantiated_vnf_info
        .iter()
        .flat_map(|i| i.vnfc_resource_info.iter())
    {
        let pod = cnf
            .cluster
            .object(
                "",
                "pods",
                cnf.cluster.namespace(),
                &vnfc.compute_resource.resource_id,
            )
            .await
            .expect("the pod exists");
        nodes.push(
            pod["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    nodes.sort();
    nodes
}

fn scale_out(steps: u32) -> ScaleTarget {
    ScaleTarget::new(
        vec![ScaleInfo {
            aspect_id: "vdu1_aspect".to_owned(),
            vnfd_id: None,
            scale_level: steps,
        }],
        Some(ScaleType::ScaleOut),
    )
}

on_both!(
    anti_affinity_on_the_double,
    anti_affinity_on_the_real_cluster,
    anti_affine_pods_spread_over_nodes_and_one_too_many_is_not_scheduled
);

async fn anti_affine_pods_spread_over_nodes_and_one_too_many_is_not_scheduled(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (mut vnfd, package) = cluster.package(&corpus, "v1-cnf-scale");
    for flavour in &mut vnfd.flavours {
        flavour.placement_rules.push(PlacementRule {
            id: "vdu1_anti_affinity".to_owned(),
            anti_affinity: true,
            scope: "nfvi_node".to_owned(),
            targets: vec!["VDU1".to_owned()],
        });
    }
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(20));
    cnf.instantiate(&[MANIFEST]).await;

    let template = deployment(&cluster).await["spec"]["template"].clone();
    assert_eq!(
        template["metadata"]["labels"]["placement.tacker.etsi/vdu1_anti_affinity"],
        "member"
    );
    let terms = &template["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(
        terms[0]["topologyKey"], "kubernetes.io/hostname",
        "{template:#}"
    );
    assert_eq!(
        terms[0]["labelSelector"]["matchLabels"]["placement.tacker.etsi/vdu1_anti_affinity"],
        "member"
    );
    if !cluster.is_real() {
        cnf.terminate().await;
        return;
    }

    // Two nodes: two anti-affine pods run on both, a third is never scheduled.
    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    let nodes = pod_nodes(&cnf).await;
    assert_eq!(nodes.len(), 2, "{nodes:?}");
    assert_ne!(
        nodes[0], nodes[1],
        "anti-affine pods share a node: {nodes:?}"
    );
    let op = new_id();
    let failed = cnf
        .driver
        .scale(&cnf.ctx(&op), &scale_out(2))
        .await
        .expect_err("a third anti-affine pod has no node");
    match &failed {
        Error::Driver { source, .. } => {
            assert!(source.to_string().contains("Unschedulable"), "{source}")
        }
        other => panic!("expected a driver error naming the scheduling, not {other}"),
    }
    cnf.terminate().await;
}

on_both!(
    zones_on_the_double,
    zones_on_the_real_cluster,
    granted_zones_hold_the_pods_and_later_operations_keep_them
);

async fn granted_zones_hold_the_pods_and_later_operations_keep_them(cluster: Cluster) {
    let Some(corpus) = support::corpus() else {
        return;
    };
    zone_nodes(&cluster).await;
    let cluster = Arc::new(cluster);
    let (vnfd, package) = cluster.package(&corpus, "v1-cnf-scale");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(30));
    let op = new_id();
    let request: GrantRequest = serde_json::from_value(json!({
        "vnfInstanceId": cnf.record.id,
        "vnfLcmOpOccId": op,
        "vnfdId": cnf.vnfd.descriptor_id,
        "operation": "INSTANTIATE",
        "isAutomaticInvocation": false,
        "addResources": [{"id": "res-1", "type": "COMPUTE", "vduId": "VDU1", "resourceTemplateId": "VDU1"}],
        "_links": {"vnfLcmOpOcc": {"href": "http://vnfm/op"}, "vnfInstance": {"href": "http://vnfm/vnf"}},
    }))
    .expect("a grant request");
    let grant: Grant = serde_json::from_value(json!({
        "id": "grant-1",
        "vnfInstanceId": cnf.record.id,
        "vnfLcmOpOccId": op,
        "zones": [{"id": "z1", "zoneId": "zone-b"}],
        "addResources": [{"resourceDefinitionId": "res-1", "zoneId": "z1"}],
        "_links": {"self": {"href": "http://nfvo/grant"}, "vnfLcmOpOcc": {"href": "http://vnfm/op"}, "vnfInstance": {"href": "http://vnfm/vnf"}},
    }))
    .expect("a grant");
    let instantiate = cnf.instantiate_request(&[MANIFEST]);
    let ctx = cnf
        .ctx(&op)
        .with_grant(Some(&grant))
        .with_grant_request(Some(&request));
    let outcome = cnf
        .driver
        .instantiate(&ctx, &instantiate)
        .await
        .unwrap_or_else(|e| panic!("instantiate failed: {e}"));
    cnf.record(AppliedOperation::Instantiate(&instantiate), &outcome);

    let zone_term = json!({"key": ZONE_LABEL, "operator": "In", "values": ["zone-b"]});
    let affinity = |deployment: &serde_json::Value| {
        deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
            ["matchExpressions"]
            .clone()
    };
    let first = deployment(&cluster).await;
    assert_eq!(affinity(&first), json!([zone_term.clone()]));
    let vnfcs = &cnf
        .record
        .instantiated_vnf_info
        .as_ref()
        .expect("instantiated")
        .vnfc_resource_info;
    assert!(!vnfcs.is_empty());
    for vnfc in vnfcs {
        assert_eq!(vnfc.zone_id.as_deref(), Some("zone-b"));
        assert_eq!(vnfc.metadata[ZONES_METADATA], json!(["zone-b"]));
    }

    // A scale whose grant places nothing keeps the recorded zone: the pod template is
    // the same (no rollout), and the new pod is in the zone too.
    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    let scaled = deployment(&cluster).await;
    assert_eq!(affinity(&scaled), json!([zone_term]));
    assert_eq!(
        scaled["spec"]["template"], first["spec"]["template"],
        "the pod template is unchanged"
    );
    if cluster.is_real() {
        let nodes = pod_nodes(&cnf).await;
        assert_eq!(nodes, vec!["kwok-node-1".to_owned(); nodes.len()]);
        assert_eq!(nodes.len(), 2);
    }
    cnf.terminate().await;
}
