//! A CNF of the corpus through the REST API on a Kubernetes VIM: the `vnfm` server
//! registers the API-server double of `tacker-drivers-k8s` as a Kubernetes VIM, then
//! instantiates, scales, heals and terminates the package `v1-cnf-scale` on it.

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use common::{Client, Server, corpus_package, temp_dir};
use tacker_drivers_k8s::INSTANCE_LABEL;
use tacker_drivers_k8s::testkit::{ApiServerConfig, ApiServerDouble};

fn pods(instance: &Value) -> Vec<(String, String)> {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .map(|vnfcs| {
            vnfcs
                .iter()
                .map(|v| {
                    (
                        v["id"].as_str().unwrap_or_default().to_owned(),
                        v["computeResource"]["resourceId"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cnf_is_instantiated_scaled_healed_and_terminated_over_rest_on_kubernetes() {
    let Some(package_dir) = corpus_package("v1-cnf-scale") else {
        return;
    };
    let double = ApiServerDouble::start(ApiServerConfig {
        pod_ready_delay: Duration::from_millis(20),
        ..ApiServerConfig::default()
    })
    .await
    .expect("the API-server double starts");
    let data = temp_dir("e2e-k8s");
    let server = Server::start(&data, &["--no-sim-vim"]);
    let api = Client::new(&server.url);

    let vim = api
        .post(
            "/vims",
            json!({
                "name": "double",
                "vimType": "ETSINFV.KUBERNETES.V_1",
                "interfaceInfo": {"endpoint": double.endpoint()},
                "accessInfo": {"bearer_token": double.token()},
                "isDefault": true,
            }),
        )
        .await;
    assert_eq!(vim.status, StatusCode::CREATED, "{:?}", vim.body);
    assert!(
        vim.body
            .get("accessInfo")
            .is_none_or(|a| a.get("bearer_token").is_none()),
        "the token is never returned: {:?}",
        vim.body
    );

    let package = api.onboard(&package_dir).await;
    let vnfd_id = package["vnfdId"].as_str().expect("vnfdId").to_owned();
    let created = api
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": "cnf"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let instance_path = format!("/vnflcm/v2/vnf_instances/{id}");

    // What the Kubernetes driver would refuse once the operation runs is refused up
    // front, naming the cause: a manifest the package lacks, a namespace that is no
    // name.
    let deployment = "Files/kubernetes/deployment_scale.yaml";
    for (files, cause) in [
        (
            json!({"lcm-kubernetes-def-files": ["Files/kubernetes/missing.yaml"]}),
            "Files/kubernetes/missing.yaml",
        ),
        (
            json!({"lcm-kubernetes-def-files": [deployment], "namespace": 5}),
            "additionalParams.namespace",
        ),
    ] {
        let refused = api
            .post(
                &format!("{instance_path}/instantiate"),
                json!({"flavourId": "simple", "additionalParams": files}),
            )
            .await;
        assert!(
            refused.status.is_client_error(),
            "{files}: {:?}",
            refused.body
        );
        common::assert_problem(&refused, "instantiate with bad manifests");
        assert!(
            refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(cause)),
            "{files}: the detail names {cause}: {:?}",
            refused.body
        );
    }
    let ops = api.get("/vnflcm/v2/vnf_lcm_op_occs").await.body;
    assert_eq!(ops, json!([]), "no operation was started");
    assert_eq!(
        api.get(&instance_path).await.body["instantiationState"],
        "NOT_INSTANTIATED"
    );

    let accepted = api
        .post(
            &format!("{instance_path}/instantiate"),
            json!({
                "flavourId": "simple",
                "instantiationLevelId": "instantiation_level_1",
                "additionalParams": {
                    "lcm-kubernetes-def-files": ["Files/kubernetes/deployment_scale.yaml"],
                },
            }),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = api.get(&instance_path).await.body;
    let vnfcs = pods(&instance);
    assert_eq!(vnfcs.len(), 1, "{instance:#}");
    assert_eq!(
        instance["instantiatedVnfInfo"]["vnfcResourceInfo"][0]["computeResource"]["vimLevelResourceType"],
        "Deployment"
    );
    assert_eq!(
        double.pod_names("default"),
        vec![vnfcs[0].1.clone()],
        "the VNFC is the pod on the cluster"
    );
    assert!(
        double
            .objects_labelled(INSTANCE_LABEL, &id)
            .iter()
            .any(|(kind, _, name)| kind == "Deployment" && name == "vdu1-scale")
    );

    // Scale out and in.
    for (direction, expected) in [("SCALE_OUT", 2), ("SCALE_IN", 1)] {
        let accepted = api
            .post(
                &format!("{instance_path}/scale"),
                json!({"type": direction, "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
        let op = api.wait_for_op(&accepted.location()).await;
        assert_eq!(op["operationState"], "COMPLETED", "{direction}: {op:#}");
        let instance = api.get(&instance_path).await.body;
        assert_eq!(pods(&instance).len(), expected, "{direction}: {instance:#}");
        assert_eq!(double.pod_names("default").len(), expected);
    }

    // Heal the VNFC: a new pod, the same VNFC id.
    let (vnfc, pod) = pods(&api.get(&instance_path).await.body)[0].clone();
    let accepted = api
        .post(
            &format!("{instance_path}/heal"),
            json!({"vnfcInstanceId": [vnfc], "cause": "e2e"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let healed = pods(&api.get(&instance_path).await.body);
    assert_eq!(healed.len(), 1);
    assert_eq!(healed[0].0, vnfc, "the VNFC keeps its id");
    assert_ne!(healed[0].1, pod, "a new pod serves it");

    // A change of external connectivity naming a CP the package does not have is
    // refused up front (400: SOL003 declares no 422 for this operation).
    let refused = api
        .post(
            &format!("{instance_path}/change_ext_conn"),
            json!({"extVirtualLinks": [{"id": "ext-1", "resourceId": "net-1",
                                        "extCps": [{"cpdId": "VDU1_CP1"}]}]}),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "change_ext_conn on Kubernetes: {:?}",
        refused.body
    );
    common::assert_problem(&refused, "change_ext_conn on Kubernetes");
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("VDU1_CP1")),
        "{:?}",
        refused.body
    );
    let instance = api.get(&instance_path).await.body;
    assert_eq!(instance["instantiationState"], "INSTANTIATED");

    // Terminate.
    let accepted = api
        .post(
            &format!("{instance_path}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{:?}", accepted.body);
    let op = api.wait_for_op(&accepted.location()).await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(double.objects_labelled(INSTANCE_LABEL, &id), Vec::new());
    assert!(double.pod_names("default").is_empty());
    assert!(server.terminate(), "the server stops cleanly");
}
