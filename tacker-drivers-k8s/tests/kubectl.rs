//! Fidelity of the API-server double, checked with a real client: Debian's `kubectl`
//! applies, reads, scales, watches the rollout of and deletes the manifests of the CNF
//! corpus packages, as it would on a real cluster.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tacker_drivers_k8s::testkit::{ApiServerConfig, ApiServerDouble, TEST_CA_CERT};

/// `kubectl` (`TACKER_KUBECTL`, else the one on `PATH`), or `None` (after saying so)
/// when it is missing outside CI.
fn kubectl_binary() -> Option<PathBuf> {
    if let Some(chosen) = std::env::var_os("TACKER_KUBECTL") {
        return Some(PathBuf::from(chosen));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but kubectl is missing: .ci/run installs the kubernetes-client package"
        );
        eprintln!("skipped: kubectl is not installed (Debian package kubernetes-client)");
    }
    found
}

struct Kubectl {
    binary: PathBuf,
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    fn new(binary: PathBuf, double: &ApiServerDouble) -> Self {
        let dir = support::scratch_dir("kubectl");
        let kubeconfig = dir.join("config");
        let user = match double.token() {
            Some(token) => format!("    token: {token}\n"),
            None => "    username: tester\n".to_owned(),
        };
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\n    certificate-authority-data: {}\nusers:\n- name: tester\n  user:\n{user}contexts:\n- name: double\n  context:\n    cluster: double\n    user: tester\n    namespace: default\ncurrent-context: double\n",
            double.endpoint(),
            STANDARD.encode(TEST_CA_CERT),
        );
        std::fs::write(&kubeconfig, config).expect("the kubeconfig is written");
        Self {
            binary,
            kubeconfig,
            cache: dir.join("cache"),
        }
    }

    /// Runs kubectl; returns its standard output, panicking with its error output when
    /// it fails.
    async fn run(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.try_run(args).await;
        assert!(ok, "kubectl {} failed:\n{err}\n{out}", args.join(" "));
        out
    }

    async fn try_run(&self, args: &[&str]) -> (bool, String, String) {
        let mut command = Command::new(&self.binary);
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .arg("--request-timeout=30s")
            .args(args)
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(90), command.output())
            .await
            .unwrap_or_else(|_| panic!("kubectl {} did not finish in 90 s", args.join(" ")))
            .expect("kubectl runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    async fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.run(&all).await;
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl output is not JSON ({e}): {out}"))
    }
}

fn manifest(corpus: &Path, package: &str, file: &str) -> String {
    corpus
        .join(package)
        .join("package/Files/kubernetes")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_scale_rollout_delete_on_corpus_manifests() {
    let Some(corpus) = support::corpus() else {
        return;
    };
    let Some(binary) = kubectl_binary() else {
        return;
    };
    // kubectl sends bearer tokens only over TLS: the double serves HTTPS.
    let double = ApiServerDouble::start(ApiServerConfig {
        https: true,
        pod_ready_delay: Duration::from_millis(100),
        ..ApiServerConfig::default()
    })
    .await
    .expect("the API-server double starts on loopback");
    let kubectl = Kubectl::new(binary, &double);

    let version = kubectl.json(&["version"]).await;
    assert_eq!(version["serverVersion"]["minor"], "33", "{version}");

    // A Deployment from the scale package: apply, read, scale, watch the rollout.
    let deployment = manifest(&corpus, "v1-cnf-scale", "deployment_scale.yaml");
    let applied = kubectl.run(&["apply", "-f", &deployment]).await;
    assert!(
        applied.contains("deployment.apps/vdu1-scale created"),
        "{applied}"
    );
    kubectl
        .run(&[
            "rollout",
            "status",
            "deployment/vdu1-scale",
            "--timeout=60s",
        ])
        .await;
    let read = kubectl.json(&["get", "deployment", "vdu1-scale"]).await;
    assert_eq!(read["kind"], "Deployment");
    assert_eq!(read["spec"]["replicas"], 1);
    assert_eq!(read["status"]["readyReplicas"], 1, "{read}");
    let again = kubectl.run(&["apply", "-f", &deployment]).await;
    assert!(
        again.contains("deployment.apps/vdu1-scale unchanged"),
        "{again}"
    );

    let scaled = kubectl
        .run(&["scale", "deployment/vdu1-scale", "--replicas=3"])
        .await;
    assert!(
        scaled.contains("deployment.apps/vdu1-scale scaled"),
        "{scaled}"
    );
    kubectl
        .run(&[
            "rollout",
            "status",
            "deployment/vdu1-scale",
            "--timeout=60s",
        ])
        .await;
    let pods = kubectl.json(&["get", "pods", "-l", "app=webserver"]).await;
    let items = pods["items"].as_array().expect("a pod list");
    assert_eq!(items.len(), 3, "three pods after scaling: {pods}");
    for pod in items {
        assert_eq!(pod["status"]["phase"], "Running", "{pod}");
    }
    let replica_sets = kubectl.json(&["get", "replicasets"]).await;
    assert_eq!(
        replica_sets["items"].as_array().map(Vec::len),
        Some(1),
        "one ReplicaSet behind the Deployment: {replica_sets}"
    );

    // A rolling update: a new image makes a new ReplicaSet; the old one drains.
    kubectl
        .run(&["set", "image", "deployment/vdu1-scale", "nginx=nginx:1.27"])
        .await;
    kubectl
        .run(&[
            "rollout",
            "status",
            "deployment/vdu1-scale",
            "--timeout=60s",
        ])
        .await;
    let pods = kubectl.json(&["get", "pods", "-l", "app=webserver"]).await;
    let images: Vec<&str> = pods["items"]
        .as_array()
        .expect("a pod list")
        .iter()
        .filter_map(|p| p["spec"]["containers"][0]["image"].as_str())
        .collect();
    assert_eq!(images, vec!["nginx:1.27"; 3], "{pods}");

    let deleted = kubectl
        .run(&["delete", "-f", &deployment, "--wait=true"])
        .await;
    assert!(
        deleted.contains("deployment.apps \"vdu1-scale\" deleted"),
        "{deleted}"
    );
    let (found, _, err) = kubectl.try_run(&["get", "deployment", "vdu1-scale"]).await;
    assert!(!found && err.contains("NotFound"), "{err}");
    let listed = kubectl.json(&["get", "pods", "-l", "app=webserver"]).await;
    let left = listed["items"].as_array().map_or(0, Vec::len);
    assert!(left <= 3, "{listed}");

    // Many kinds at once, in a namespace of their own, then deleted together.
    let files = [
        ("v2-cnf-instantiate-cnf-resources", "namespace.yaml"),
        ("v2-cnf-instantiate-cnf-resources", "config-map.yaml"),
        (
            "v2-cnf-instantiate-cnf-resources",
            "replicaset_service_secret.yaml",
        ),
        ("v2-cnf-instantiate-cnf-resources", "daemon-set.yaml"),
        ("v2-cnf-instantiate-cnf-resources", "pod.yaml"),
        (
            "v2-cnf-instantiate-cnf-resources",
            "role_rolebinding_SA.yaml",
        ),
        (
            "v2-cnf-instantiate-cnf-resources",
            "clusterrole_clusterrolebinding_SA.yaml",
        ),
    ];
    for (package, file) in files {
        let path = manifest(&corpus, package, file);
        kubectl.run(&["apply", "-f", &path]).await;
    }
    kubectl
        .run(&["rollout", "status", "daemonset/vdu6", "--timeout=60s"])
        .await;
    kubectl
        .run(&["wait", "--for=condition=Ready", "pod/vdu1", "--timeout=60s"])
        .await;
    let secret = kubectl.json(&["get", "secret", "curry-sc-multiple"]).await;
    assert_eq!(secret["data"]["param0"], "a2V5MQ==");
    let endpoints = kubectl
        .json(&["get", "endpoints", "curry-svc-vdu001-multiple"])
        .await;
    assert!(
        endpoints["subsets"][0]["addresses"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "the Service has endpoints: {endpoints}"
    );
    let namespace = kubectl.json(&["get", "namespace", "curry"]).await;
    assert_eq!(namespace["status"]["phase"], "Active");

    for (package, file) in files.iter().rev() {
        let path = manifest(&corpus, package, file);
        kubectl.run(&["delete", "-f", &path, "--wait=true"]).await;
    }
    let (found, _, err) = kubectl.try_run(&["get", "namespace", "curry"]).await;
    assert!(!found && err.contains("NotFound"), "{err}");
    let pods = kubectl.json(&["get", "pods"]).await;
    assert_eq!(
        pods["items"].as_array().map(Vec::len),
        Some(0),
        "deleting the owners removed their pods: {pods}"
    );
}
