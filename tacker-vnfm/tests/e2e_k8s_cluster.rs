//! The "Kubernetes cluster built by a MgmtDriver" scenario through the REST API of the
//! `vnfm` server, with the operator's `--k8s-cluster-*` flags: VNF-A's VMs are sshd
//! servers on loopback addresses (the simulated VIM hands those addresses out); its
//! package's installation script starts a real Kubernetes control plane
//! (`scripts/k8s-cluster.sh`) on the first master, and nodes join and leave it; the
//! VNFM registers the cluster as a Kubernetes VIM, VNF-B (a CNF) is deployed on it by
//! the real Kubernetes infra driver; VNF-A's workers are scaled out and in and one is
//! healed; VNF-A cannot be terminated while VNF-B runs, and its terminate removes the
//! VIM.
//!
//! Outside CI the test skips when sshd or the control plane's binaries are missing;
//! under `CI=true` their absence is a failure.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tacker_mgmt_k8s_cluster::testkit::{LocalControlPlanes, SshHosts, sshd_available};

use common::{Client, Server, assert_problem, temp_dir};

const SCRIPT: &str = "Scripts/install_local_k8s.sh";
const KUBERNETES: &str = "ETSINFV.KUBERNETES.V_1";

/// The package directory of VNF-A with the local installation script added.
fn vnf_a_package(planes: &LocalControlPlanes, dir: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/k8s-cluster-vnf");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&source)
        .arg(dir)
        .status()
        .expect("cp runs");
    assert!(copied.success());
    std::fs::write(dir.join("k8s-cluster-vnf").join(SCRIPT), planes.script())
        .expect("the script is written");
}

/// `(name, role label present, uid)` of the nodes of the cluster.
fn nodes(planes: &LocalControlPlanes, api: Ipv4Addr) -> Vec<(String, String)> {
    let out = Command::new(std::env::var("TACKER_TEST_K8S_KUBECTL").unwrap_or("kubectl".into()))
        .arg("--kubeconfig")
        .arg(planes.admin_kubeconfig(api))
        .args([
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.metadata.uid}{\"\\n\"}{end}",
        ])
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "kubectl: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(n, u)| (n.to_owned(), u.to_owned()))
        .collect()
}

fn node_name(address: Ipv4Addr) -> String {
    format!("node-{}", address.to_string().replace('.', "-"))
}

fn names(nodes: &[(String, String)]) -> BTreeSet<String> {
    nodes.iter().map(|(n, _)| n.clone()).collect()
}

fn expected(addresses: &[Ipv4Addr]) -> BTreeSet<String> {
    addresses.iter().map(|a| node_name(*a)).collect()
}

/// The objects of `kind` in `namespace` labelled with the VNF instance.
fn labelled(planes: &LocalControlPlanes, api: Ipv4Addr, kind: &str, instance: &str) -> Vec<String> {
    let out = Command::new(std::env::var("TACKER_TEST_K8S_KUBECTL").unwrap_or("kubectl".into()))
        .arg("--kubeconfig")
        .arg(planes.admin_kubeconfig(api))
        .args(["get", kind, "--all-namespaces", "-l"])
        .arg(format!("{}={instance}", tacker_drivers_k8s::INSTANCE_LABEL))
        .args([
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}{\"\\n\"}{end}",
        ])
        .output()
        .expect("kubectl runs");
    assert!(out.status.success(), "kubectl: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn completed(op: &Value, what: &str) {
    assert_eq!(op["operationState"], "COMPLETED", "{what}: {op:#}");
}

async fn create(client: &Client, vnfd_id: &str, name: &str) -> String {
    let created = client
        .post(
            "/vnflcm/v2/vnf_instances",
            json!({"vnfdId": vnfd_id, "vnfInstanceName": name}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

/// The worker VNFCs of VNF-A: `(vnfc id, address)`.
fn workers(instance: &Value) -> Vec<(String, String)> {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .expect("VNFCs")
        .iter()
        .filter(|v| v["vduId"] == "workerNode")
        .map(|v| {
            let address = v["vnfcCpInfo"][0]["cpProtocolInfo"][0]["ipOverEthernet"]["ipAddresses"]
                [0]["addresses"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (v["id"].as_str().expect("VNFC id").to_owned(), address)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_built_by_vnf_a_hosts_vnf_b_through_the_rest_api() {
    if !sshd_available() {
        return;
    }
    let dir = temp_dir("k8s-cluster-e2e");
    let planes = LocalControlPlanes::new(dir.join("clusters"));
    if !planes.available() {
        return;
    }
    let hosts = SshHosts::start(2, 3, &[]);
    let (m, w) = (hosts.masters.clone(), hosts.workers.clone());
    let api = m[0];

    // The operator's configuration: its key, and a known_hosts for the masters; the
    // request vouches for the workers' host keys with fingerprints.
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, hosts.known_hosts(&m)).expect("known_hosts");
    let join = |a: &[Ipv4Addr]| {
        a.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let addresses = format!("masterNode={};workerNode={}", join(&m), join(&w));
    let data = dir.join("data");
    let server = Server::start(
        &data,
        &[
            "--sim-vdu-addresses",
            &addresses,
            "--k8s-cluster-mgmt-driver",
            "kubernetes_mgmt.py",
            "--k8s-cluster-ssh-key",
            &hosts.client_key_file.display().to_string(),
            "--k8s-cluster-known-hosts",
            &known_hosts.display().to_string(),
            "--k8s-cluster-remote-dir",
            &dir.join("remote").display().to_string(),
            "--k8s-cluster-connect-attempts",
            "3",
            "--kubernetes-timeout",
            "60",
        ],
    );
    let client = Client::new(&server.url);
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).expect("packages dir");
    vnf_a_package(&planes, &packages);
    let vnf_a = client.onboard(&packages.join("k8s-cluster-vnf")).await;
    let vnf_b = client
        .onboard(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/cluster-cnf"))
        .await;

    // VNF-A: two masters, two workers, made a cluster and registered as a VIM.
    let a = create(&client, vnf_a["vnfdId"].as_str().expect("vnfdId"), "vnf-a").await;
    let worker_fingerprints: Vec<String> = w.iter().map(|a| hosts.host_fingerprint(*a)).collect();
    let params = json!({
        "script_path": SCRIPT,
        "vim_name": "cluster-a",
        "master_node": {
            "vdu_id": "masterNode", "ssh_cp_name": "masterNode_CP1", "nic_cp_name": "masterNode_CP1",
            "username": hosts.username, "ssh_port": hosts.port, "cluster_cp_name": "masterNode_CP1"
        },
        "worker_node": {
            "vdu_id": "workerNode", "ssh_cp_name": "workerNode_CP1", "nic_cp_name": "workerNode_CP1",
            "username": hosts.username, "ssh_port": hosts.port,
            "ssh_host_key_fingerprints": worker_fingerprints
        }
    });
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/instantiate"),
            json!({"flavourId": "simple", "additionalParams": {"k8s_cluster_installation_param": params}}),
        )
        .await;
    completed(&op, "instantiate VNF-A");
    assert_eq!(
        names(&nodes(&planes, api)),
        expected(&[m[0], m[1], w[0], w[1]])
    );
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    let entry = &instance["vimConnectionInfo"]["cluster-a"];
    assert_eq!(entry["vimType"], KUBERNETES, "{instance:#}");
    assert_eq!(
        entry["interfaceInfo"]["endpoint"],
        format!("https://{api}:16443")
    );
    assert!(
        entry
            .get("accessInfo")
            .is_none_or(|a| a.as_object().is_some_and(|o| o.is_empty()))
    );
    let vim_id = entry["vimId"].as_str().expect("vimId").to_owned();
    let vims = client.get("/vims").await.body;
    let vim = vims
        .as_array()
        .expect("VIM list")
        .iter()
        .find(|v| v["name"] == "cluster-a")
        .expect("the cluster is a registered VIM");
    assert!(
        !vim.to_string().contains(
            std::fs::read_to_string(
                dir.join("clusters")
                    .join(format!("cluster-{api}/pki/vim.token"))
            )
            .expect("token")
            .trim()
        )
    );

    // VNF-B on the cluster's VIM.
    let b = create(&client, vnf_b["vnfdId"].as_str().expect("vnfdId"), "vnf-b").await;
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{b}/instantiate"),
            json!({
                "flavourId": "simple",
                "vimConnectionInfo": {"k8s": {"vimId": vim_id, "vimType": KUBERNETES}},
                "additionalParams": {"lcm-kubernetes-def-files": ["Files/kubernetes/app.yaml"]}
            }),
        )
        .await;
    completed(&op, "instantiate VNF-B");
    assert_eq!(
        labelled(&planes, api, "deployments", &b),
        vec!["app".to_owned()]
    );
    assert_eq!(labelled(&planes, api, "pods", &b).len(), 1);

    // Workers join and leave.
    let scale =
        |kind: &str| json!({"type": kind, "aspectId": "worker_instance", "numberOfSteps": 1});
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/scale"),
            scale("SCALE_OUT"),
        )
        .await;
    completed(&op, "scale out VNF-A");
    assert_eq!(
        names(&nodes(&planes, api)),
        expected(&[m[0], m[1], w[0], w[1], w[2]])
    );
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/scale"),
            scale("SCALE_IN"),
        )
        .await;
    completed(&op, "scale in VNF-A");
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    let remaining = workers(&instance);
    assert_eq!(remaining.len(), 2, "{instance:#}");
    let remaining_addresses: Vec<Ipv4Addr> = remaining
        .iter()
        .map(|(_, a)| a.parse().expect("address"))
        .collect();
    assert_eq!(
        names(&nodes(&planes, api)),
        expected(&[&m[..], &remaining_addresses[..]].concat())
    );

    // Heal a worker: its node leaves and joins again (a new Node object).
    let (healed, healed_address) = remaining[0].clone();
    let healed_name = node_name(healed_address.parse().expect("address"));
    let uid_before = nodes(&planes, api)
        .into_iter()
        .find(|(n, _)| *n == healed_name)
        .expect("the worker's node")
        .1;
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/heal"),
            json!({"vnfcInstanceId": [healed]}),
        )
        .await;
    completed(&op, "heal a worker of VNF-A");
    let after = nodes(&planes, api);
    let uid_after = &after
        .iter()
        .find(|(n, _)| *n == healed_name)
        .expect("the node is back")
        .1;
    assert_ne!(*uid_after, uid_before, "the healed worker joined again");
    assert_eq!(after.len(), 4);

    // VNF-A cannot go while VNF-B runs on its cluster.
    let refused = client
        .post(
            &format!("/vnflcm/v2/vnf_instances/{a}/terminate"),
            json!({"terminationType": "FORCEFUL"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{:?}", refused.body);
    assert_problem(&refused, "terminate VNF-A while VNF-B uses its VIM");
    assert!(
        refused.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("cluster-a")),
        "{:?}",
        refused.body
    );

    let terminate = json!({"terminationType": "FORCEFUL"});
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{b}/terminate"),
            terminate.clone(),
        )
        .await;
    completed(&op, "terminate VNF-B");
    assert!(labelled(&planes, api, "deployments", &b).is_empty());
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/terminate"),
            terminate,
        )
        .await;
    completed(&op, "terminate VNF-A");
    let vims = client.get("/vims").await.body;
    assert!(
        vims.as_array()
            .expect("VIM list")
            .iter()
            .all(|v| v["name"] != "cluster-a"),
        "the cluster's VIM went with VNF-A: {vims:#}"
    );
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    assert!(
        instance["vimConnectionInfo"].get("cluster-a").is_none(),
        "{instance:#}"
    );

    drop(server);
    planes.stop();
    drop(hosts);
    let _ = std::fs::remove_dir_all(&dir);
}
