//! The two Helm packages of the corpus through the REST API on a real Kubernetes
//! control plane (`scripts/k8s-cluster.sh`, whose `env` sets `TACKER_TEST_K8S_*`):
//! the `vnfm` server registers the cluster as a Kubernetes VIM (bearer token, CA
//! checked) and renders the charts with a real helm v3 (`TACKER_TEST_HELM`).
//! `v2-helm-instantiate` goes through instantiate, scale out, scale in, heal, a change
//! of package to a chart whose pods are never scheduled (FAILED_TEMP with the reason,
//! then rolled back to the old chart), a change of package that completes, and
//! terminate, after which nothing of it is left in the cluster; `v1-helm-chart` (v1
//! parameters: one release per VDU) is instantiated, scaled out and in, healed and
//! terminated (its change of package and rollback are in the driver's Helm tests). A variant
//! of `v2-helm-instantiate` whose Service exposes an external CP changes its external
//! connectivity.
//!
//! Outside CI the test skips when the cluster or helm is missing; under `CI=true` their
//! absence is a failure.

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Client, Server, corpus_package, temp_dir};

/// The cluster of the test, from `scripts/k8s-cluster.sh env`.
struct Cluster {
    server: String,
    ca_pem: String,
    token: String,
    kubectl: String,
    admin_kubeconfig: String,
    namespace: String,
}

fn required(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {name} is not set (.ci/run starts the cluster and builds helm)"
            );
            eprintln!("skipped: {name} is not set");
            None
        }
    }
}

impl Cluster {
    fn from_env(label: &str) -> Option<Self> {
        let server = required("TACKER_TEST_K8S_SERVER")?;
        let ca = required("TACKER_TEST_K8S_CA")?;
        let token = required("TACKER_TEST_K8S_TOKEN")?;
        let admin_kubeconfig = required("TACKER_TEST_K8S_ADMIN_KUBECONFIG")?;
        let kubectl =
            std::env::var("TACKER_TEST_K8S_KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
        let cluster = Self {
            server,
            ca_pem: std::fs::read_to_string(ca).expect("the cluster's CA reads"),
            token,
            kubectl,
            admin_kubeconfig,
            namespace: format!("{label}-{}", &tacker_core::new_id().replace('-', "")[20..]),
        };
        cluster.admin(&["create", "namespace", &cluster.namespace]);
        // The VIM's identity may deploy CNFs (RBAC is on); created once per cluster.
        let bound = cluster.try_admin(&[
            "create",
            "clusterrolebinding",
            "tacker-vim-e2e",
            "--clusterrole=cluster-admin",
            "--user=tacker-vim",
        ]);
        assert!(
            bound.status.success()
                || String::from_utf8_lossy(&bound.stderr).contains("already exists"),
            "binding the VIM user: {bound:?}"
        );
        Some(cluster)
    }

    fn try_admin(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.admin_kubeconfig)
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    fn admin(&self, args: &[&str]) -> String {
        let out = self.try_admin(args);
        assert!(out.status.success(), "kubectl {args:?}: {out:?}");
        String::from_utf8(out.stdout).expect("kubectl prints text")
    }

    /// `kind/name` of every object labelled with the instance in the namespace.
    fn labelled(&self, instance_id: &str) -> Vec<String> {
        let listed = self.admin(&[
            "get",
            "deployments,replicasets,pods,services,serviceaccounts,configmaps",
            "-n",
            &self.namespace,
            "-l",
            &format!("vnf-instance-id={instance_id}"),
            "-o",
            "name",
        ]);
        listed.lines().map(str::to_owned).collect()
    }

    fn deployment(&self, name: &str) -> Value {
        let text = self.admin(&[
            "get",
            "deployment",
            name,
            "-n",
            &self.namespace,
            "-o",
            "json",
        ]);
        serde_json::from_str(&text).expect("a Deployment in JSON")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.try_admin(&["delete", "namespace", &self.namespace, "--wait=false"]);
    }
}

fn helm() -> Option<String> {
    required("TACKER_TEST_HELM")
}

fn vnfcs(instance: &Value) -> Vec<(String, String, String)> {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|v| {
                    let text = |p: &str| {
                        v.pointer(p)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (
                        text("/id"),
                        text("/vduId"),
                        text("/computeResource/resourceId"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn count(instance: &Value, vdu: &str) -> usize {
    vnfcs(instance).iter().filter(|(_, v, _)| v == vdu).count()
}

/// A copy of `v2-helm-instantiate` as another VNFD of the same product (`vnfd_id`), its
/// chart packaged again by helm with `values` edited by `edit`, its digest in
/// TOSCA.meta updated.
fn variant(helm: &str, vnfd_id: &str, edit: impl Fn(String) -> String) -> PathBuf {
    variant_with(helm, vnfd_id, |path, text| {
        if path == VALUES { edit(text) } else { text }
    })
}

const VALUES: &str = "Files/kubernetes/test-chart/values.yaml";
const SERVICE_TEMPLATE: &str = "Files/kubernetes/test-chart/templates/service.yaml";
const FLAVOUR: &str = "Definitions/sample_cnf_df_simple.yaml";

/// [`variant`] with `edit` given each of [`VALUES`], [`SERVICE_TEMPLATE`] and
/// [`FLAVOUR`] (path, text).
fn variant_with(helm: &str, vnfd_id: &str, edit: impl Fn(&str, String) -> String) -> PathBuf {
    let source = corpus_package("v2-helm-instantiate").expect("the corpus is present");
    let dir = temp_dir("helm-variant");
    copy_dir(&source, &dir);
    let original = "b1bb0ce7-ebca-4fa7-95ed-4840d7000000";
    for name in ["sample_cnf_top.vnfd.yaml", "sample_cnf_types.yaml"] {
        let file = dir.join("Definitions").join(name);
        let text = std::fs::read_to_string(&file).expect("the VNFD reads");
        std::fs::write(&file, text.replace(original, vnfd_id)).expect("the VNFD writes");
    }
    for path in [VALUES, SERVICE_TEMPLATE, FLAVOUR] {
        let file = dir.join(path);
        let text = std::fs::read_to_string(&file).expect("a package file reads");
        std::fs::write(&file, edit(path, text)).expect("a package file writes");
    }
    let chart_dir = dir.join("Files/kubernetes/test-chart");
    let out = Command::new(helm)
        .arg("package")
        .arg(&chart_dir)
        .arg("--destination")
        .arg(dir.join("Files/kubernetes"))
        .env("HOME", &dir)
        .output()
        .expect("helm package runs");
    assert!(out.status.success(), "helm package: {out:?}");
    let chart = std::fs::read(dir.join("Files/kubernetes/test-chart-0.1.0.tgz")).expect("chart");
    let old_chart =
        std::fs::read(source.join("Files/kubernetes/test-chart-0.1.0.tgz")).expect("chart");
    let digest = |bytes: &[u8]| {
        tacker_core::csar::digest_hex(tacker_core::csar::HashAlgorithm::Sha256, &mut &bytes[..])
            .expect("hashing works")
    };
    let meta = dir.join("TOSCA-Metadata/TOSCA.meta");
    let text = std::fs::read_to_string(&meta).expect("TOSCA.meta reads");
    std::fs::write(&meta, text.replace(&digest(&old_chart), &digest(&chart)))
        .expect("TOSCA.meta writes");
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from)
        .expect("a directory reads")
        .flatten()
    {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("a file copies");
        }
    }
}

/// Heals a VNFC of VDU2 over REST: it keeps its id on a new pod.
async fn heal_a_vnfc_of_vdu2(api: &Client, path: &str) {
    let of_vdu2 = |instance: &Value| {
        vnfcs(instance)
            .into_iter()
            .find(|(_, vdu, _)| vdu == "VDU2")
            .expect("a VNFC of VDU2")
    };
    let (vnfc, _, pod) = of_vdu2(&api.get(path).await.body);
    let op = api
        .run_op(&format!("{path}/heal"), json!({"vnfcInstanceId": [vnfc]}))
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let (same, _, new_pod) = of_vdu2(&api.get(path).await.body);
    assert_eq!(same, vnfc);
    assert_ne!(new_pod, pod, "heal replaced the pod");
}

async fn create(api: &Client, vnfd_id: &str) -> String {
    let created = api
        .post("/vnflcm/v2/vnf_instances", json!({"vnfdId": vnfd_id}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

fn start(helm: &str, label: &str) -> (Server, Client) {
    let data = temp_dir(label);
    let server = Server::start(
        &data,
        &[
            "--no-sim-vim",
            "--helm-binary",
            helm,
            "--kubernetes-timeout",
            "30",
            "--noop-mgmt-driver",
            "sample-script",
        ],
    );
    let api = Client::new(&server.url);
    (server, api)
}

async fn register(api: &Client, cluster: &Cluster) {
    let vim = api
        .post(
            "/vims",
            json!({
                "name": "kubernetes",
                "vimType": "ETSINFV.KUBERNETES.V_1",
                "interfaceInfo": {"endpoint": cluster.server, "ssl_ca_cert": cluster.ca_pem},
                "accessInfo": {"bearer_token": cluster.token},
                "isDefault": true,
            }),
        )
        .await;
    assert_eq!(vim.status, StatusCode::CREATED, "{:?}", vim.body);
}

/// A `vnfm` server with the cluster as its default VIM, `package` onboarded and an
/// instance of it created: the server, its client, the VNFD id and the instance id.
async fn created(
    helm: &str,
    cluster: &Cluster,
    package: &Path,
    label: &str,
) -> (Server, Client, String, String) {
    let (server, api) = start(helm, label);
    register(&api, cluster).await;
    let vnfd_id = api.onboard(package).await["vnfdId"]
        .as_str()
        .expect("vnfdId")
        .to_owned();
    let id = create(&api, &vnfd_id).await;
    (server, api, vnfd_id, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2_helm_cnf_lives_and_changes_package_on_a_real_cluster() {
    let (Some(package), Some(helm)) = (corpus_package("v2-helm-instantiate"), helm()) else {
        return;
    };
    let Some(cluster) = Cluster::from_env("helm-v2") else {
        return;
    };
    let (server, api, vnfd_id, id) = created(&helm, &cluster, &package, "e2e-helm-v2").await;
    let path = format!("/vnflcm/v2/vnf_instances/{id}");
    let release = format!("vnf{}", id.replace('-', ""));

    let op = api
        .run_op(
            &format!("{path}/instantiate"),
            json!({
                "flavourId": "simple",
                "instantiationLevelId": "instantiation_level_1",
                "additionalParams": {
                    "namespace": cluster.namespace,
                    "helm_chart_path": "Files/kubernetes/test-chart-0.1.0.tgz",
                    "helm_parameters": {"service.port": 8081},
                    "helm_value_names": {
                        "VDU1": {"replica": "replicaCountVdu1"},
                        "VDU2": {"replica": "replicaCountVdu2"}
                    }
                }
            }),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = api.get(&path).await.body;
    assert_eq!(
        (count(&instance, "VDU1"), count(&instance, "VDU2")),
        (1, 1),
        "{instance:#}"
    );
    let deployment = cluster.deployment(&format!("vdu1-{release}"));
    assert_eq!(deployment["status"]["readyReplicas"], 1, "real pods, Ready");
    let pods = cluster.admin(&["get", "pods", "-n", &cluster.namespace, "-o", "name"]);
    for (_, _, pod) in vnfcs(&instance) {
        assert!(
            pods.contains(&format!("pod/{pod}")),
            "{pod} is a pod of the cluster: {pods}"
        );
    }

    for (direction, expected) in [("SCALE_OUT", 2), ("SCALE_IN", 1)] {
        let op = api
            .run_op(
                &format!("{path}/scale"),
                json!({"type": direction, "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
            )
            .await;
        assert_eq!(op["operationState"], "COMPLETED", "{direction}: {op:#}");
        let instance = api.get(&path).await.body;
        assert_eq!(count(&instance, "VDU1"), expected, "{direction}");
        assert_eq!(
            cluster.deployment(&format!("vdu1-{release}"))["spec"]["replicas"],
            expected
        );
    }

    heal_a_vnfc_of_vdu2(&api, &path).await;

    // A new package whose chart's pods no node takes: FAILED_TEMP with the reason,
    // then rolled back to the old chart.
    let stuck_id = "b1bb0ce7-ebca-4fa7-95ed-4840d7000b01";
    let stuck = variant(&helm, stuck_id, |values| {
        values.replace(
            "nodeSelector: {}",
            "nodeSelector:\n  tacker-e2e/nowhere: \"true\"",
        )
    });
    api.onboard(&stuck).await;
    let op = api
        .run_op(
            &format!("{path}/change_vnfpkg"),
            json!({"vnfdId": stuck_id, "additionalParams": {"upgrade_type": "RollingUpdate"}}),
        )
        .await;
    assert_eq!(op["operationState"], "FAILED_TEMP", "{op:#}");
    let detail = op["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("not scheduled"),
        "the error says why the pods wait: {detail}"
    );
    let op_path = format!(
        "/vnflcm/v2/vnf_lcm_op_occs/{}",
        op["id"].as_str().expect("op id")
    );
    let rolled = api.run_op(&format!("{op_path}/rollback"), json!({})).await;
    assert_eq!(rolled["operationState"], "ROLLED_BACK", "{rolled:#}");
    let instance = api.get(&path).await.body;
    assert_eq!(instance["vnfdId"], vnfd_id.as_str());
    let deployment = cluster.deployment(&format!("vdu1-{release}"));
    assert!(
        deployment["spec"]["template"]["spec"]["nodeSelector"].is_null(),
        "the old chart again: {deployment:#}"
    );
    assert_eq!(deployment["status"]["readyReplicas"], 1);

    // A new package whose chart runs another image: the VNF moves to it.
    let new_id = "b1bb0ce7-ebca-4fa7-95ed-4840d7000b02";
    let newer = variant(&helm, new_id, |values| {
        values.replace("repository: nginx", "repository: registry.local/nginx")
    });
    api.onboard(&newer).await;
    let op = api
        .run_op(&format!("{path}/change_vnfpkg"), json!({"vnfdId": new_id}))
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = api.get(&path).await.body;
    assert_eq!(instance["vnfdId"], new_id);
    assert_eq!(
        cluster.deployment(&format!("vdu1-{release}"))["spec"]["template"]["spec"]["containers"][0]
            ["image"],
        "registry.local/nginx:1.16.0"
    );

    let op = api
        .run_op(
            &format!("{path}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(
        cluster.labelled(&id),
        Vec::<String>::new(),
        "terminate leaves nothing"
    );
    assert!(server.terminate(), "the server stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_helm_cnf_installs_a_release_per_vdu_on_a_real_cluster() {
    let (Some(package), Some(helm)) = (corpus_package("v1-helm-chart"), helm()) else {
        return;
    };
    let Some(cluster) = Cluster::from_env("helm-v1") else {
        return;
    };
    let (server, api, _, id) = created(&helm, &cluster, &package, "e2e-helm-v1").await;
    let path = format!("/vnflcm/v2/vnf_instances/{id}");
    let release = |name: &str| {
        json!({"exthelmchart": "false",
               "helmchartfile_path": "Files/kubernetes/localhelm-0.1.0.tgz",
               "helmreleasename": name,
               "helmparameter": ["service.port=8081"]})
    };
    let op = api
        .run_op(
            &format!("{path}/instantiate"),
            json!({
                "flavourId": "helmchart",
                "additionalParams": {
                    "namespace": cluster.namespace,
                    "using_helm_install_param": [release("vdu1"), release("vdu2")]
                }
            }),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    let instance = api.get(&path).await.body;
    assert_eq!(
        (count(&instance, "VDU1"), count(&instance, "VDU2")),
        (1, 1),
        "{instance:#}"
    );
    assert_eq!(
        cluster.deployment("vdu1-localhelm")["status"]["readyReplicas"],
        1
    );
    let op = api
        .run_op(
            &format!("{path}/scale"),
            json!({"type": "SCALE_OUT", "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(count(&api.get(&path).await.body, "VDU1"), 2);
    let op = api
        .run_op(
            &format!("{path}/scale"),
            json!({"type": "SCALE_IN", "aspectId": "vdu1_aspect", "numberOfSteps": 1}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(count(&api.get(&path).await.body, "VDU1"), 1);
    heal_a_vnfc_of_vdu2(&api, &path).await;
    let op = api
        .run_op(
            &format!("{path}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(cluster.labelled(&id), Vec::<String>::new());
    assert!(server.terminate(), "the server stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chart_whose_pods_never_run_fails_with_the_reason_and_its_rollback_leaves_nothing() {
    let (Some(package), Some(helm)) = (corpus_package("v2-helm-instantiate"), helm()) else {
        return;
    };
    let Some(cluster) = Cluster::from_env("helm-stuck") else {
        return;
    };
    let (server, api, _, id) = created(&helm, &cluster, &package, "e2e-helm-stuck").await;
    let path = format!("/vnflcm/v2/vnf_instances/{id}");
    let op = api
        .run_op(
            &format!("{path}/instantiate"),
            json!({
                "flavourId": "simple",
                "additionalParams": {
                    "namespace": cluster.namespace,
                    "helm_chart_path": "Files/kubernetes/test-chart-0.1.0.tgz",
                    "helm_parameters": {"nodeSelector.tacker-e2e/nowhere": "true"}
                }
            }),
        )
        .await;
    assert_eq!(op["operationState"], "FAILED_TEMP", "{op:#}");
    let detail = op["error"]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("not scheduled"),
        "the error says why the pods wait: {detail}"
    );
    assert!(
        !cluster.labelled(&id).is_empty(),
        "the chart's objects were applied"
    );
    let op_path = format!(
        "/vnflcm/v2/vnf_lcm_op_occs/{}",
        op["id"].as_str().expect("op id")
    );
    let rolled = api.run_op(&format!("{op_path}/rollback"), json!({})).await;
    assert_eq!(rolled["operationState"], "ROLLED_BACK", "{rolled:#}");
    assert_eq!(
        cluster.labelled(&id),
        Vec::<String>::new(),
        "the rollback leaves nothing"
    );
    let instance = api.get(&path).await.body;
    assert_eq!(instance["instantiationState"], "NOT_INSTANTIATED");
    assert!(server.terminate(), "the server stops cleanly");
}

/// External connectivity through the REST API: the chart's Service exposes the VduCp
/// `VDU1_CP1` (added to the VNFD, the Service annotated); instantiate puts the CP on a
/// link with a fixed address, which the Service gets as its external IP; a change of
/// external connectivity moves it to another link and address; a CP the flavour does
/// not have is refused up front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_helm_cnf_changes_its_external_connectivity_over_rest_on_a_real_cluster() {
    let (Some(_), Some(helm)) = (corpus_package("v2-helm-instantiate"), helm()) else {
        return;
    };
    let Some(cluster) = Cluster::from_env("helm-ext") else {
        return;
    };
    let vnfd_id = "b1bb0ce7-ebca-4fa7-95ed-4840d7000e01";
    let package = variant_with(&helm, vnfd_id, |path, text| {
        match path {
        SERVICE_TEMPLATE => text.replace(
            "  labels:\n",
            "  annotations:\n    tacker-vnfm/ext-cp: VDU1_CP1\n  labels:\n",
        ),
        FLAVOUR => text.replace(
            "    VDU2:\n",
            "    VDU1_CP1:\n      type: tosca.nodes.nfv.VduCp\n      properties:\n        layer_protocols: [ ipv4 ]\n        order: 0\n      requirements:\n        - virtual_binding: VDU1\n\n    VDU2:\n",
        ),
        _ => text,
    }
    });
    let (server, api, _, id) = created(&helm, &cluster, &package, "e2e-helm-ext").await;
    let path = format!("/vnflcm/v2/vnf_instances/{id}");
    let release = format!("vnf{}", id.replace('-', ""));
    let link = |id: &str, network: &str, address: &str| {
        json!({
            "id": id,
            "resourceId": network,
            "extCps": [{
                "cpdId": "VDU1_CP1",
                "cpConfig": {"web": {"cpProtocolData": [{
                    "layerProtocol": "IP_OVER_ETHERNET",
                    "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "fixedAddresses": [address]}]}
                }]}}
            }]
        })
    };
    let external_ips = || {
        cluster.admin(&[
            "get",
            "service",
            &format!("{release}-test-chart"),
            "-n",
            &cluster.namespace,
            "-o",
            "jsonpath={.spec.externalIPs}",
        ])
    };
    // Refused up front, naming the cause: a chart the package lacks, Helm parameters
    // of the wrong shape, a fixed address that is no address.
    let chart = "Files/kubernetes/test-chart-0.1.0.tgz";
    for (params, links, cause) in [
        (
            json!({"helm_chart_path": "Files/kubernetes/missing-0.1.0.tgz"}),
            json!([]),
            "missing-0.1.0.tgz",
        ),
        (
            json!({"helm_chart_path": chart, "helm_parameters": ["service.port=80"]}),
            json!([]),
            "helm_parameters",
        ),
        (
            json!({"helm_chart_path": chart}),
            json!([link("ext-a", "external-a", "198.51.100.300")]),
            "198.51.100.300",
        ),
    ] {
        let refused = api
            .post(
                &format!("{path}/instantiate"),
                json!({"flavourId": "simple", "extVirtualLinks": links, "additionalParams": params}),
            )
            .await;
        assert!(
            refused.status.is_client_error(),
            "{params}: {:?}",
            refused.body
        );
        assert!(
            refused.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains(cause)),
            "{params}: the detail names {cause}: {:?}",
            refused.body
        );
    }

    let op = api
        .run_op(
            &format!("{path}/instantiate"),
            json!({
                "flavourId": "simple",
                "extVirtualLinks": [link("ext-a", "external-a", "198.51.100.11")],
                "additionalParams": {
                    "namespace": cluster.namespace,
                    "helm_chart_path": "Files/kubernetes/test-chart-0.1.0.tgz",
                    "helm_value_names": {
                        "VDU1": {"replica": "replicaCountVdu1"},
                        "VDU2": {"replica": "replicaCountVdu2"}
                    }
                }
            }),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(external_ips(), r#"["198.51.100.11"]"#);
    let instance = api.get(&path).await.body;
    let info = &instance["instantiatedVnfInfo"];
    assert_eq!(info["extVirtualLinkInfo"][0]["id"], "ext-a", "{info:#}");
    assert_eq!(info["extCpInfo"][0]["cpdId"], "VDU1_CP1", "{info:#}");
    assert_eq!(
        info["extCpInfo"][0]["cpProtocolInfo"][0]["ipOverEthernet"]["ipAddresses"][0]["addresses"],
        json!(["198.51.100.11"])
    );

    let op = api
        .run_op(
            &format!("{path}/change_ext_conn"),
            json!({"extVirtualLinks": [link("ext-b", "external-b", "198.51.100.12")]}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(external_ips(), r#"["198.51.100.12"]"#);
    let instance = api.get(&path).await.body;
    let links: Vec<&str> = instance["instantiatedVnfInfo"]["extVirtualLinkInfo"]
        .as_array()
        .map(|l| l.iter().filter_map(|l| l["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(links, ["ext-b"], "the CP left ext-a: {instance:#}");

    let mut unknown = link("ext-c", "external-c", "198.51.100.13");
    unknown["extCps"][0]["cpdId"] = json!("VDU2_CP9");
    let refused = api
        .post(
            &format!("{path}/change_ext_conn"),
            json!({"extVirtualLinks": [unknown]}),
        )
        .await;
    // 400: SOL003 declares no 422 for change_ext_conn.
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{:?}",
        refused.body
    );
    common::assert_problem(&refused, "an unknown external CP");

    let op = api
        .run_op(
            &format!("{path}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(op["operationState"], "COMPLETED", "{op:#}");
    assert_eq!(cluster.labelled(&id), Vec::<String>::new());
    assert!(server.terminate(), "the server stops cleanly");
}
