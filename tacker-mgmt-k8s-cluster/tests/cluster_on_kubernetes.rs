//! VNF-A builds a "cluster" whose install script reports a Kubernetes API server that
//! really answers (the API-server double of `tacker-drivers-k8s`); the engine registers
//! it as a Kubernetes VIM through the real Kubernetes VIM driver, and VNF-B is
//! instantiated on it by the real Kubernetes infra driver.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tacker_core::model::{InstantiationState, TerminateVnfRequest, TerminationType};
use tacker_core::store::ListQuery;
use tacker_drivers_k8s::testkit::{ApiServerConfig, ApiServerDouble, TEST_CA_CERT};
use tacker_drivers_k8s::{INSTANCE_LABEL, KubernetesInfraDriver, KubernetesVimDriver};

use support::{
    Env, Harness, VNF_A_VNFD_ID, VNF_B_VNFD_ID, instantiate_a, instantiate_b, sshd_available,
};

fn terminate() -> TerminateVnfRequest {
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnf_b_runs_on_the_kubernetes_vim_that_vnf_a_registered() {
    if !sshd_available() {
        return;
    }
    let double = ApiServerDouble::start(ApiServerConfig {
        https: true,
        pod_ready_delay: Duration::from_millis(20),
        ..ApiServerConfig::default()
    })
    .await
    .expect("the API-server double starts on loopback");
    let h = Harness::start(2, 2, &[]);
    h.serve_cluster(
        &double.endpoint(),
        double.token().expect("the double has a token"),
        TEST_CA_CERT,
    );
    let env = Env::with_kubernetes(
        &h,
        Arc::new(KubernetesInfraDriver::new().with_timeout(Duration::from_secs(60))),
        Arc::new(KubernetesVimDriver::new()),
    )
    .await;

    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &a, instantiate_a(h.params(Some("cluster-a"))))
            .await,
    )
    .await;
    let vims = env
        .vims
        .list(&env.tenant, &ListQuery::all())
        .await
        .expect("VIMs")
        .items;
    let vim = vims
        .iter()
        .find(|v| v.name == "cluster-a")
        .expect("VNF-A registered its cluster as a VIM");
    assert_eq!(vim.interface_info["endpoint"], double.endpoint().as_str());

    let b = env.create(VNF_B_VNFD_ID, "vnf-b").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &b, instantiate_b(&vim.id))
            .await,
    )
    .await;
    let held = double.objects_labelled(INSTANCE_LABEL, &b);
    assert!(
        held.iter()
            .any(|(kind, ns, name)| kind == "Deployment" && ns == "default" && name == "app"),
        "VNF-B's Deployment is on the cluster: {held:?}"
    );
    let vnf_b = env.lcm.instance(&env.tenant, &b).await.expect("VNF-B");
    let info = vnf_b.instantiated_vnf_info.expect("VNF-B is instantiated");
    assert_eq!(info.vnfc_resource_info.len(), 1);
    assert_eq!(
        double.pod_names("default"),
        vec![
            info.vnfc_resource_info[0]
                .compute_resource
                .resource_id
                .clone()
        ]
    );

    env.complete(env.lcm.terminate(&env.tenant, &b, terminate()).await)
        .await;
    assert_eq!(double.objects_labelled(INSTANCE_LABEL, &b), Vec::new());
    env.complete(env.lcm.terminate(&env.tenant, &a, terminate()).await)
        .await;
    let vnf_a = env.lcm.instance(&env.tenant, &a).await.expect("VNF-A");
    assert_eq!(
        vnf_a.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(
        env.vims
            .list(&env.tenant, &ListQuery::all())
            .await
            .expect("VIMs")
            .items
            .iter()
            .all(|v| v.name != "cluster-a"),
        "the cluster's VIM went with VNF-A"
    );
    env.shutdown().await;
}
