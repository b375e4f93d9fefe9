//! CNFs from Helm charts (the two Helm packages of the corpus) through the Kubernetes
//! infra driver, rendered by a real `helm` v3 binary, on the API-server double and on
//! the real cluster of `scripts/k8s-cluster.sh` (when `TACKER_TEST_K8S_SERVER` is set):
//! instantiate with Tacker's v2 and v1 parameters, scale out and in through the
//! replica values, heal, change of package (a new chart) and its rollback, terminate;
//! pods that never become ready (a node selector no node has; on the double also an
//! image that cannot be pulled) fail the operation with the reason, and its rollback
//! leaves nothing behind; bad chart parameters are refused before anything is applied.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::cluster::Cluster;
use support::cnf::{Cnf, changed};
use tacker_core::infra::{InfraDriver, Rollback};
use tacker_core::model::{
    ChangeCurrentVnfPkgRequest, ChangeType, InstantiateVnfRequest, KeyValuePairs, ScaleType,
};
use tacker_core::sim::AppliedOperation;
use tacker_core::{Error, new_id};
use tacker_drivers_k8s::testkit::PodFault;
use tacker_drivers_k8s::{HelmConfig, KubernetesInfraDriver};

const CHART: &str = "Files/kubernetes/test-chart-0.1.0.tgz";

fn params(value: Value) -> KeyValuePairs {
    value.as_object().cloned().unwrap_or_default()
}

/// The v2 parameters of the `v2-helm-instantiate` package, as Tacker's tests give them.
fn v2_params(namespace: &str) -> KeyValuePairs {
    params(json!({
        "namespace": namespace,
        "helm_chart_path": CHART,
        "helm_parameters": {"service.port": 8081},
        "helm_value_names": {
            "VDU1": {"replica": "replicaCountVdu1"},
            "VDU2": {"replica": "replicaCountVdu2"}
        }
    }))
}

fn driver(helm: &Path, timeout: Duration) -> KubernetesInfraDriver {
    KubernetesInfraDriver::new()
        .with_timeout(timeout)
        .helm(HelmConfig::default().with_binary(helm))
}

fn release_of(cnf: &Cnf) -> String {
    format!("vnf{}", cnf.record.id.replace('-', ""))
}

/// The chart of `v2-helm-instantiate` with another image, packaged by helm.
fn repackaged_chart(helm: &Path, corpus: &Path, image: &str) -> Vec<u8> {
    let source = corpus.join("v2-helm-instantiate/package/Files/kubernetes/test-chart");
    let work = support::scratch_dir("chart");
    let chart = work.join("test-chart");
    std::fs::create_dir_all(chart.join("templates")).expect("chart directory");
    for entry in walk(&source) {
        let relative = entry.strip_prefix(&source).expect("below the chart");
        let target = chart.join(relative);
        std::fs::create_dir_all(target.parent().expect("a parent")).expect("directory");
        let mut bytes = std::fs::read(&entry).expect("a chart file reads");
        if relative == Path::new("values.yaml") {
            bytes = String::from_utf8(bytes)
                .expect("values are text")
                .replace("repository: nginx", &format!("repository: {image}"))
                .into_bytes();
        }
        std::fs::write(target, bytes).expect("a chart file writes");
    }
    package_chart(helm, &chart, &work, "test-chart-0.1.0.tgz")
}

/// The chart in `chart` packaged by helm as `file`; `work` is removed afterwards.
fn package_chart(helm: &Path, chart: &Path, work: &Path, file: &str) -> Vec<u8> {
    let out = std::process::Command::new(helm)
        .arg("package")
        .arg(chart)
        .arg("--destination")
        .arg(work)
        .env("HOME", work)
        .output()
        .expect("helm package runs");
    assert!(out.status.success(), "helm package: {out:?}");
    let bytes = std::fs::read(work.join(file)).expect("the packaged chart");
    let _ = std::fs::remove_dir_all(work);
    bytes
}

/// The packaged chart of `v1-helm-chart` (only its `.tgz` is in the package) with
/// another image: unpacked by tar, packaged again by helm.
fn repackaged_v1_chart(helm: &Path, corpus: &Path, image: &str) -> Vec<u8> {
    let work = support::scratch_dir("v1-chart");
    let out = std::process::Command::new("tar")
        .arg("xzf")
        .arg(corpus.join("v1-helm-chart/package").join(V1_CHART))
        .arg("-C")
        .arg(&work)
        .output()
        .expect("tar runs");
    assert!(out.status.success(), "tar: {out:?}");
    let chart = work.join("localhelm");
    let values = chart.join("values.yaml");
    let text = std::fs::read_to_string(&values).expect("values read");
    let changed = text.replace("repository: nginx", &format!("repository: {image}"));
    assert_ne!(changed, text, "the chart names the nginx image");
    std::fs::write(&values, changed).expect("values write");
    package_chart(helm, &chart, &work, "localhelm-0.1.0.tgz")
}

const V1_CHART: &str = "Files/kubernetes/localhelm-0.1.0.tgz";

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn image_of(cluster: &Cluster, ns: &str, name: &str) -> Value {
    cluster
        .object("apps", "deployments", ns, name)
        .await
        .unwrap_or_else(|| panic!("Deployment {ns}/{name} exists"))["spec"]["template"]["spec"]
        ["containers"][0]["image"]
        .clone()
}

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
    a_v2_chart_on_the_double,
    a_v2_chart_on_the_real_cluster,
    a_v2_chart_goes_through_its_whole_life
);

async fn a_v2_chart_goes_through_its_whole_life(cluster: Cluster) {
    let (Some(corpus), Some(helm)) = (support::corpus(), support::helm_binary()) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (vnfd, package) = cluster.package(&corpus, "v2-helm-instantiate");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));
    cnf.driver = driver(&helm, Duration::from_secs(60));
    let ns = cluster.namespace();
    let outcome = cnf
        .instantiate_with(InstantiateVnfRequest {
            flavour_id: "simple".into(),
            additional_params: v2_params(ns),
            ..InstantiateVnfRequest::default()
        })
        .await;
    let release = release_of(&cnf);
    assert_eq!(
        cnf.counts(),
        BTreeMap::from([("VDU1".into(), 1), ("VDU2".into(), 1)])
    );
    assert_eq!(changed(&outcome, ChangeType::Added).len(), 2);
    for vnfc in &outcome.resources.vnfc_resource_info {
        assert_eq!(
            vnfc.compute_resource.vim_level_resource_type.as_deref(),
            Some("Deployment")
        );
        assert!(
            vnfc.compute_resource
                .resource_id
                .starts_with(&format!("{}-{release}-", vnfc.vdu_id.to_lowercase())),
            "the VNFC is a pod of the release's Deployment: {vnfc:?}"
        );
    }
    // The chart's values: the parameters given, the replica counts mapped.
    let service = cluster
        .object("", "services", ns, &format!("{release}-test-chart"))
        .await
        .expect("the chart's Service exists");
    assert_eq!(service["spec"]["ports"][0]["port"], 8081);
    assert_eq!(
        outcome.metadata["helm_chart_path"], CHART,
        "the chart is recorded for later operations"
    );
    assert_eq!(outcome.metadata["namespace"], ns);
    assert_eq!(
        image_of(&cluster, ns, &format!("vdu1-{release}")).await,
        "nginx:1.16.0"
    );

    // Scale out and in through the mapped replica value.
    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU1"], 2);
    let deployment = cluster
        .object("apps", "deployments", ns, &format!("vdu1-{release}"))
        .await
        .expect("the Deployment exists");
    assert_eq!(deployment["spec"]["replicas"], 2);
    cnf.scale("vdu1_aspect", 0, ScaleType::ScaleIn).await;
    assert_eq!(cnf.counts()["VDU1"], 1);

    // Heal one VNFC: a new pod, the same VNFC id.
    let (vnfc, pod) = cnf.vnfc_of("VDU2");
    let healed = cnf.heal(vec![vnfc.clone()]).await;
    let (same, new_pod) = cnf.vnfc_of("VDU2");
    assert_eq!(same, vnfc);
    assert_ne!(new_pod, pod, "{healed:?}");

    // Change of package: a chart with another image; the rollback restores the old one.
    let new_chart = repackaged_chart(&helm, &corpus, "cirros");
    let new_package = support::with_changed_file(&corpus, "v2-helm-instantiate", CHART, &new_chart);
    let new_vnfd = cnf.vnfd.clone();
    let request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        additional_params: params(json!({"helm_chart_path": CHART})),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let op = new_id();
    let switched = cnf
        .driver
        .change_vnfpkg(&cnf.ctx(&op), &request, &new_vnfd, &new_package)
        .await
        .expect("change of package completes");
    assert_eq!(
        image_of(&cluster, ns, &format!("vdu1-{release}")).await,
        "cirros:1.16.0"
    );
    assert_eq!(
        cluster
            .object("", "services", ns, &format!("{release}-test-chart"))
            .await
            .expect("the Service stays")["spec"]["ports"][0]["port"],
        8081,
        "the recorded values apply to the new chart"
    );
    assert_eq!(switched.resources.vnfc_resource_info.len(), 2);
    let rolled_back = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::ChangeVnfpkg(&request))
        .await
        .expect("rollback of change of package completes");
    assert_eq!(
        image_of(&cluster, ns, &format!("vdu1-{release}")).await,
        "nginx:1.16.0"
    );
    cnf.record(AppliedOperation::Rollback, &rolled_back);
    assert_eq!(cnf.counts().values().sum::<u32>(), 2);

    cnf.terminate().await;
    assert_eq!(cnf.labelled().await, Vec::new(), "terminate leaves nothing");
}

on_both!(
    v1_parameters_on_the_double,
    v1_parameters_on_the_real_cluster,
    v1_parameters_install_one_release_per_vdu
);

async fn v1_parameters_install_one_release_per_vdu(cluster: Cluster) {
    let (Some(corpus), Some(helm)) = (support::corpus(), support::helm_binary()) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v1-helm-chart");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(60));
    cnf.driver = driver(&helm, Duration::from_secs(60));
    let release = |name: &str| {
        json!({"exthelmchart": "false", "helmchartfile_path": V1_CHART,
               "helmreleasename": name, "helmparameter": ["service.port=8081"]})
    };
    let flavour = cnf.vnfd.flavours[0].id.clone();
    let outcome = cnf
        .instantiate_with(InstantiateVnfRequest {
            flavour_id: flavour,
            additional_params: params(json!({
                "namespace": ns,
                "using_helm_install_param": [release("vdu1"), release("vdu2")]
            })),
            ..InstantiateVnfRequest::default()
        })
        .await;
    let vdus: Vec<&str> = outcome
        .resources
        .vnfc_resource_info
        .iter()
        .map(|v| v.vdu_id.as_str())
        .collect();
    assert_eq!(vdus, ["VDU1", "VDU2"], "{outcome:?}");
    assert!(
        cluster
            .object("apps", "deployments", &ns, "vdu1-localhelm")
            .await
            .is_some()
    );
    cnf.scale("vdu1_aspect", 1, ScaleType::ScaleOut).await;
    assert_eq!(cnf.counts()["VDU1"], 2);
    cnf.scale("vdu1_aspect", 0, ScaleType::ScaleIn).await;
    assert_eq!(cnf.counts()["VDU1"], 1);

    // Heal the VNFC of the second release: a new pod, the same VNFC id.
    let (vnfc, pod) = cnf.vnfc_of("VDU2");
    cnf.heal(vec![vnfc.clone()]).await;
    let (same, new_pod) = cnf.vnfc_of("VDU2");
    assert_eq!(same, vnfc);
    assert_ne!(new_pod, pod, "heal replaced the pod");

    // Change of package: the same releases from the new package's chart (another
    // image); the rollback restores the old chart.
    let new_chart = repackaged_v1_chart(&helm, &corpus, "cirros");
    let new_package = support::with_changed_file(&corpus, "v1-helm-chart", V1_CHART, &new_chart);
    let new_vnfd = cnf.vnfd.clone();
    let request = ChangeCurrentVnfPkgRequest {
        vnfd_id: new_vnfd.descriptor_id.clone(),
        ..ChangeCurrentVnfPkgRequest::default()
    };
    let op = new_id();
    let switched = cnf
        .driver
        .change_vnfpkg(&cnf.ctx(&op), &request, &new_vnfd, &new_package)
        .await
        .expect("change of package completes");
    assert_eq!(switched.resources.vnfc_resource_info.len(), 2);
    for deployment in ["vdu1-localhelm", "vdu2-localhelm"] {
        assert_eq!(
            image_of(&cluster, &ns, deployment).await,
            "cirros:1.16.0",
            "{deployment} runs the new chart's image"
        );
    }
    let rolled_back = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::ChangeVnfpkg(&request))
        .await
        .expect("rollback of change of package completes");
    cnf.record(AppliedOperation::Rollback, &rolled_back);
    for deployment in ["vdu1-localhelm", "vdu2-localhelm"] {
        assert_eq!(
            image_of(&cluster, &ns, deployment).await,
            "nginx:1.16.0",
            "{deployment} runs the old chart's image again"
        );
    }
    assert_eq!(
        cnf.counts(),
        BTreeMap::from([("VDU1".into(), 1), ("VDU2".into(), 1)])
    );

    cnf.terminate().await;
    assert_eq!(cnf.labelled().await, Vec::new());
}

/// Why the pods of the chart never become ready.
#[derive(Debug, Clone, Copy)]
enum NeverReady {
    /// `helm_parameters` give the pods a node selector that no node has: they stay
    /// Pending, unschedulable.
    NoNode,
    /// The double cannot pull the image (fault injection).
    ImagePull,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pods_fail_with_the_reason_on_the_double() {
    pods_that_never_become_ready_fail_with_the_reason_and_rollback_leaves_nothing(
        Cluster::double(Duration::from_millis(20)).await,
        NeverReady::NoNode,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpullable_images_fail_with_the_reason_on_the_double() {
    pods_that_never_become_ready_fail_with_the_reason_and_rollback_leaves_nothing(
        Cluster::double(Duration::from_millis(20)).await,
        NeverReady::ImagePull,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unschedulable_pods_fail_with_the_reason_on_the_real_cluster() {
    if let Some(cluster) = Cluster::real("unschedulable_pods_fail_with_the_reason").await {
        pods_that_never_become_ready_fail_with_the_reason_and_rollback_leaves_nothing(
            cluster,
            NeverReady::NoNode,
        )
        .await;
    }
}

async fn pods_that_never_become_ready_fail_with_the_reason_and_rollback_leaves_nothing(
    cluster: Cluster,
    why: NeverReady,
) {
    let (Some(corpus), Some(helm)) = (support::corpus(), support::helm_binary()) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let ns = cluster.namespace().to_owned();
    let (vnfd, package) = cluster.package(&corpus, "v2-helm-instantiate");
    let timeout = Duration::from_secs(3);
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, timeout);
    cnf.driver = driver(&helm, timeout);
    let mut additional_params = v2_params(&ns);
    let expected = match why {
        NeverReady::NoNode => {
            additional_params.insert(
                "helm_parameters".into(),
                json!({"service.port": 8081, "nodeSelector": {"tacker-test/no-such-node": "true"}}),
            );
            "Unschedulable"
        }
        NeverReady::ImagePull => {
            cluster
                .as_double()
                .expect("faults are injected into the double")
                .inject_fault("nginx", PodFault::ImagePull);
            "ErrImagePull"
        }
    };
    let request = InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params,
        ..InstantiateVnfRequest::default()
    };
    let op = new_id();
    match cnf.driver.instantiate(&cnf.ctx(&op), &request).await {
        Err(Error::Driver { source, .. }) => {
            let message = source.to_string();
            assert!(
                message.contains(expected) && message.contains("vdu1-"),
                "the error names the workload and why its pods wait ({expected}): {message}; pods {:?}",
                cluster.pod_names(&ns).await
            );
        }
        other => panic!(
            "pods that are never ready must fail instantiate, not {other:?}; pods {:?}",
            cluster.pod_names(&ns).await
        ),
    }
    assert!(
        !cnf.labelled().await.is_empty(),
        "the chart's objects were applied"
    );
    let removed = cnf
        .driver
        .rollback(&cnf.ctx(&op), &Rollback::Instantiate(&request))
        .await
        .expect("rollback of instantiate completes");
    assert!(removed.resources.vnfc_resource_info.is_empty());
    assert_eq!(
        cnf.labelled().await,
        Vec::new(),
        "the rollback leaves nothing behind"
    );
    assert!(cluster.pod_names(&ns).await.is_empty(), "no pod is left");
}

on_both!(
    bad_chart_parameters_on_the_double,
    bad_chart_parameters_on_the_real_cluster,
    bad_chart_parameters_are_refused_before_anything_is_applied
);

async fn bad_chart_parameters_are_refused_before_anything_is_applied(cluster: Cluster) {
    let (Some(corpus), Some(helm)) = (support::corpus(), support::helm_binary()) else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (vnfd, package) = cluster.package(&corpus, "v2-helm-instantiate");
    let mut cnf = Cnf::new(cluster.clone(), vnfd, package, Duration::from_secs(5));
    cnf.driver = driver(&helm, Duration::from_secs(5));
    let cases = [
        (
            json!({"helm_chart_path": "Files/kubernetes/missing.tgz"}),
            "does not list",
        ),
        (
            json!({"helm_chart_path": CHART, "helm_value_names": {"VDU9": {"replica": "x"}}}),
            "VDU9",
        ),
        (
            json!({"helm_chart_path": CHART, "helm_parameters": {"a=1,b": 2}}),
            "value path",
        ),
        (
            json!({"helm_chart_path": CHART, "helm_parameters": {"image": "not-a-map"}}),
            "rendering chart",
        ),
    ];
    for (given, expected) in cases {
        let request = InstantiateVnfRequest {
            flavour_id: "simple".into(),
            additional_params: params(given.clone()),
            ..InstantiateVnfRequest::default()
        };
        let op = new_id();
        let error = cnf
            .driver
            .instantiate(&cnf.ctx(&op), &request)
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, Error::InvalidRequest(m) | Error::Unprocessable(m) if m.contains(expected)),
            "{given}: {error}"
        );
        assert_eq!(cnf.labelled().await, Vec::new(), "{given}: nothing applied");
    }
    // A helm binary that is not there is a clear error too.
    cnf.driver = driver(Path::new("/nonexistent/helm"), Duration::from_secs(5));
    let error = cnf
        .driver
        .instantiate(
            &cnf.ctx(&new_id()),
            &InstantiateVnfRequest {
                flavour_id: "simple".into(),
                additional_params: v2_params("x"),
                ..InstantiateVnfRequest::default()
            },
        )
        .await
        .expect_err("no helm");
    assert!(
        matches!(&error, Error::Unprocessable(m) if m.contains("/nonexistent/helm")),
        "{error}"
    );
}
