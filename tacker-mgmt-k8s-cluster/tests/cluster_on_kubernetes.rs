//! VNF-A builds a "cluster" whose install script reports a Kubernetes API server that
//! really answers; the engine registers it as a Kubernetes VIM through the real
//! Kubernetes VIM driver, and VNF-B is instantiated on it by the real Kubernetes infra
//! driver. The API server is the double of `tacker-drivers-k8s`, and the real control
//! plane of `scripts/k8s-cluster.sh` when `TACKER_TEST_K8S_SERVER` names it (under
//! `CI=true` its absence is a failure).

mod support;

use std::sync::Arc;
use std::time::Duration;

use tacker_core::model::{InstantiationState, TerminateVnfRequest, TerminationType};
use tacker_core::store::ListQuery;
use tacker_drivers_k8s::KUBERNETES_VIM_TYPE;
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

/// The API server VNF-A's cluster reports.
enum Target {
    Double(ApiServerDouble),
    Real {
        server: String,
        token: String,
        ca_pem: String,
        kubectl: String,
        admin_kubeconfig: String,
    },
}

impl Target {
    fn endpoint(&self) -> String {
        match self {
            Self::Double(double) => double.endpoint(),
            Self::Real { server, .. } => server.clone(),
        }
    }

    /// `(kind, namespace, name)` of the Deployments and Pods labelled with `instance`.
    fn labelled(&self, instance: &str) -> Vec<(String, String, String)> {
        match self {
            Self::Double(double) => double
                .objects_labelled(INSTANCE_LABEL, instance)
                .into_iter()
                .filter(|(kind, _, _)| kind == "Deployment" || kind == "Pod")
                .collect(),
            Self::Real {
                kubectl,
                admin_kubeconfig,
                ..
            } => {
                let out = std::process::Command::new(kubectl)
                    .args(["--kubeconfig", admin_kubeconfig, "get", "deployments,pods"])
                    .args(["--all-namespaces", "-l", &format!("{INSTANCE_LABEL}={instance}")])
                    .args([
                        "-o",
                        "jsonpath={range .items[*]}{.kind} {.metadata.namespace} {.metadata.name}{\"\\n\"}{end}",
                    ])
                    .output()
                    .expect("kubectl runs");
                assert!(out.status.success(), "kubectl: {out:?}");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|line| {
                        let mut parts = line.split(' ');
                        Some((
                            parts.next()?.to_owned(),
                            parts.next()?.to_owned(),
                            parts.next()?.to_owned(),
                        ))
                    })
                    .collect()
            }
        }
    }

    fn pods(&self, instance: &str) -> Vec<String> {
        self.labelled(instance)
            .into_iter()
            .filter(|(kind, _, _)| kind == "Pod")
            .map(|(_, _, name)| name)
            .collect()
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
    vnf_b_on(Target::Double(double)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vnf_b_runs_on_a_real_control_plane_that_vnf_a_registered() {
    if !sshd_available() {
        return;
    }
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(server), Some(token), Some(ca), Some(admin_kubeconfig)) = (
        var("TACKER_TEST_K8S_SERVER"),
        var("TACKER_TEST_K8S_TOKEN"),
        var("TACKER_TEST_K8S_CA"),
        var("TACKER_TEST_K8S_ADMIN_KUBECONFIG"),
    ) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but TACKER_TEST_K8S_* are not set (.ci/run starts the cluster)"
        );
        eprintln!("skipped: no real Kubernetes control plane (TACKER_TEST_K8S_SERVER)");
        return;
    };
    let kubectl = var("TACKER_TEST_K8S_KUBECTL").unwrap_or_else(|| "kubectl".to_owned());
    // The VIM's identity may deploy (RBAC is on); the binding is shared by the tests.
    let bound = std::process::Command::new(&kubectl)
        .args([
            "--kubeconfig",
            &admin_kubeconfig,
            "create",
            "clusterrolebinding",
        ])
        .args([
            "tacker-vim-e2e",
            "--clusterrole=cluster-admin",
            "--user=tacker-vim",
        ])
        .output()
        .expect("kubectl runs");
    assert!(
        bound.status.success() || String::from_utf8_lossy(&bound.stderr).contains("already exists"),
        "{bound:?}"
    );
    vnf_b_on(Target::Real {
        server,
        token,
        ca_pem: std::fs::read_to_string(ca).expect("the cluster's CA reads"),
        kubectl,
        admin_kubeconfig,
    })
    .await;
}

async fn vnf_b_on(target: Target) {
    let h = Harness::start(2, 2, &[]);
    match &target {
        Target::Double(double) => h.serve_cluster(
            &double.endpoint(),
            double.token().expect("the double has a token"),
            TEST_CA_CERT,
        ),
        Target::Real {
            server,
            token,
            ca_pem,
            ..
        } => h.serve_cluster(server, token, ca_pem),
    }
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
    assert_eq!(vim.interface_info["endpoint"], target.endpoint().as_str());
    assert_eq!(vim.vim_type, KUBERNETES_VIM_TYPE);

    let b = env.create(VNF_B_VNFD_ID, "vnf-b").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &b, instantiate_b(&vim.id))
            .await,
    )
    .await;
    let held = target.labelled(&b);
    assert!(
        held.iter()
            .any(|(kind, ns, name)| kind == "Deployment" && ns == "default" && name == "app"),
        "VNF-B's Deployment is on the cluster: {held:?}"
    );
    let vnf_b = env.lcm.instance(&env.tenant, &b).await.expect("VNF-B");
    let info = vnf_b.instantiated_vnf_info.expect("VNF-B is instantiated");
    assert_eq!(info.vnfc_resource_info.len(), 1);
    assert_eq!(
        target.pods(&b),
        vec![
            info.vnfc_resource_info[0]
                .compute_resource
                .resource_id
                .clone()
        ]
    );

    env.complete(env.lcm.terminate(&env.tenant, &b, terminate()).await)
        .await;
    assert_eq!(target.labelled(&b), Vec::new());
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
