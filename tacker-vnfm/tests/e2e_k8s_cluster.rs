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
//! The scenario runs on the simulated VIM (`--sim-vdu-addresses` gives out the sshd
//! addresses) and on real Heat, Nova and Neutron (`TACKER_TEST_OS_FULL=1`), where VNF-A's
//! ports are on a Neutron subnet inside 127.0.0.0/8 whose allocation pool is exactly the
//! sshd addresses, so the VMs' fixed IPs are where the sshd servers listen.
//!
//! Outside CI the tests skip when sshd, the control plane's binaries or the cloud are
//! missing; under `CI=true` their absence is a failure.

#[path = "../../tacker-drivers-openstack/tests/cloud/mod.rs"]
mod cloud;
mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::{Value, json};
use tacker_mgmt_k8s_cluster::testkit::{LocalControlPlanes, SshHosts, sshd_available};

use common::{Client, Server, assert_problem, registration, temp_dir};

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

/// Where VNF-A's VMs live.
enum Cloud {
    /// The simulated VIM, which gives out the sshd addresses in order.
    Sim,
    /// Heat on the VIM registered as `vim_id`; VNF-A's CPs on `network` / `subnet`.
    Heat {
        vim_id: String,
        network: String,
        subnet: String,
    },
}

/// The VNFC addresses of a VDU of an instance.
fn addresses(instance: &Value, vdu: &str) -> Vec<Ipv4Addr> {
    instance["instantiatedVnfInfo"]["vnfcResourceInfo"]
        .as_array()
        .expect("VNFCs")
        .iter()
        .filter(|v| v["vduId"] == vdu)
        .map(|v| {
            v["vnfcCpInfo"][0]["cpProtocolInfo"][0]["ipOverEthernet"]["ipAddresses"][0]["addresses"]
                [0]
            .as_str()
            .unwrap_or_default()
            .parse()
            .expect("an IPv4 address")
        })
        .collect()
}

/// The nodes VNF-A's VNFCs should be: one per master and worker address.
fn cluster_of(instance: &Value) -> BTreeSet<String> {
    let mut all = addresses(instance, "masterNode");
    all.extend(addresses(instance, "workerNode"));
    expected(&all)
}

/// The whole scenario on `cloud`, through `client`.
async fn scenario(
    client: &Client,
    hosts: &SshHosts,
    planes: &LocalControlPlanes,
    cloud: &Cloud,
    dir: &Path,
) {
    let packages = dir.join("packages");
    std::fs::create_dir_all(&packages).expect("packages dir");
    vnf_a_package(planes, &packages);
    let vnf_a = client.onboard(&packages.join("k8s-cluster-vnf")).await;
    let vnf_b = client
        .onboard(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packages/cluster-cnf"))
        .await;
    let m = hosts.masters.clone();

    // VNF-A: two masters, two workers, made a cluster and registered as a VIM. On the
    // simulated VIM the workers' host keys come from the request; on Heat, where which
    // VM gets which address is Neutron's choice, all come from the operator.
    let a = create(client, vnf_a["vnfdId"].as_str().expect("vnfdId"), "vnf-a").await;
    let mut worker = json!({
        "vdu_id": "workerNode", "ssh_cp_name": "workerNode_CP1", "nic_cp_name": "workerNode_CP1",
        "username": hosts.username, "ssh_port": hosts.port
    });
    if matches!(cloud, Cloud::Sim) {
        let prints: Vec<String> = hosts
            .workers
            .iter()
            .map(|a| hosts.host_fingerprint(*a))
            .collect();
        worker["ssh_host_key_fingerprints"] = json!(prints);
    }
    let params = json!({
        "script_path": SCRIPT,
        "vim_name": "cluster-a",
        "master_node": {
            "vdu_id": "masterNode", "ssh_cp_name": "masterNode_CP1", "nic_cp_name": "masterNode_CP1",
            "username": hosts.username, "ssh_port": hosts.port, "cluster_cp_name": "masterNode_CP1"
        },
        "worker_node": worker
    });
    let mut request = json!({
        "flavourId": "simple",
        "additionalParams": {"k8s_cluster_installation_param": params}
    });
    if let Cloud::Heat {
        vim_id,
        network,
        subnet,
    } = cloud
    {
        let cp = |cpd: &str| {
            json!({"cpdId": cpd, "cpConfig": {"c": {"cpProtocolData": [{
                "layerProtocol": "IP_OVER_ETHERNET",
                "ipOverEthernet": {"ipAddresses": [{"type": "IPV4", "subnetId": subnet}]}
            }]}}})
        };
        request["vimConnectionInfo"] = json!({"openstack": {
            "vimId": vim_id, "vimType": "ETSINFV.OPENSTACK_KEYSTONE.V_3"
        }});
        request["extVirtualLinks"] = json!([{
            "id": "loopback", "resourceId": network,
            "extCps": [cp("masterNode_CP1"), cp("workerNode_CP1")]
        }]);
    }
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/instantiate"),
            request,
        )
        .await;
    completed(&op, "instantiate VNF-A");
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    let masters = addresses(&instance, "masterNode");
    assert_eq!(masters.len(), 2, "{instance:#}");
    assert_eq!(addresses(&instance, "workerNode").len(), 2, "{instance:#}");
    // The API is on the first master (in VNFC order), whichever address that is.
    let api = masters[0];
    assert!(m.contains(&api) || hosts.workers.contains(&api));
    assert_eq!(names(&nodes(planes, api)), cluster_of(&instance));
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
    let token = std::fs::read_to_string(
        dir.join("clusters")
            .join(format!("cluster-{api}/pki/vim.token")),
    )
    .expect("token");
    assert!(
        !vim.to_string().contains(token.trim()),
        "no credentials in {vim}"
    );

    // VNF-B on the cluster's VIM.
    let b = create(client, vnf_b["vnfdId"].as_str().expect("vnfdId"), "vnf-b").await;
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
        labelled(planes, api, "deployments", &b),
        vec!["app".to_owned()]
    );
    assert_eq!(labelled(planes, api, "pods", &b).len(), 1);

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
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    assert_eq!(addresses(&instance, "workerNode").len(), 3);
    assert_eq!(names(&nodes(planes, api)), cluster_of(&instance));
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
    assert_eq!(names(&nodes(planes, api)), cluster_of(&instance));

    // Heal a worker: its node leaves and joins again (a new Node object).
    let (healed, _) = remaining[0].clone();
    let uid = |instance: &Value| {
        let address = workers(instance)
            .into_iter()
            .find(|(id, _)| *id == healed)
            .map(|(_, a)| a)
            .expect("the healed worker");
        let name = node_name(address.parse().expect("address"));
        nodes(planes, api)
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("node {name}"))
            .1
    };
    let uid_before = uid(&instance);
    let op = client
        .run_op(
            &format!("/vnflcm/v2/vnf_instances/{a}/heal"),
            json!({"vnfcInstanceId": [healed]}),
        )
        .await;
    completed(&op, "heal a worker of VNF-A");
    let instance = client
        .get(&format!("/vnflcm/v2/vnf_instances/{a}"))
        .await
        .body;
    assert_ne!(uid(&instance), uid_before, "the healed worker joined again");
    assert_eq!(names(&nodes(planes, api)), cluster_of(&instance));

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
    assert!(labelled(planes, api, "deployments", &b).is_empty());
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
}

/// The two scenarios start a control plane each; one at a time keeps a two-core
/// machine from starving them.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// sshd and the control plane's binaries, or `None` (the test skips).
fn prerequisites(dir: &Path) -> Option<LocalControlPlanes> {
    if !sshd_available() {
        return None;
    }
    let planes = LocalControlPlanes::new(dir.join("clusters"));
    planes.available().then_some(planes)
}

/// `vnfm` with the operator's cluster-driver flags; `known` are the hosts its
/// known_hosts vouches for.
fn start_vnfm(hosts: &SshHosts, dir: &Path, known: &[Ipv4Addr], sim: Option<String>) -> Server {
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, hosts.known_hosts(known)).expect("known_hosts");
    let mut args = vec![
        "--k8s-cluster-mgmt-driver".to_owned(),
        "kubernetes_mgmt.py".to_owned(),
        "--k8s-cluster-ssh-key".to_owned(),
        hosts.client_key_file.display().to_string(),
        "--k8s-cluster-known-hosts".to_owned(),
        known_hosts.display().to_string(),
        "--k8s-cluster-remote-dir".to_owned(),
        dir.join("remote").display().to_string(),
        "--k8s-cluster-connect-attempts".to_owned(),
        "3".to_owned(),
        "--kubernetes-timeout".to_owned(),
        "60".to_owned(),
    ];
    if let Some(addresses) = sim {
        args.extend(["--sim-vdu-addresses".to_owned(), addresses]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start(&dir.join("data"), &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_built_by_vnf_a_hosts_vnf_b_on_the_simulated_vim() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = temp_dir("k8s-cluster-sim");
    let Some(planes) = prerequisites(&dir) else {
        return;
    };
    let hosts = SshHosts::start(2, 3, &[]);
    let join = |a: &[Ipv4Addr]| {
        a.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let addresses = format!(
        "masterNode={};workerNode={}",
        join(&hosts.masters),
        join(&hosts.workers)
    );
    // The operator's known_hosts has the masters; the request vouches for the workers.
    let server = start_vnfm(&hosts, &dir, &hosts.masters, Some(addresses));
    let client = Client::new(&server.url);
    scenario(&client, &hosts, &planes, &Cloud::Sim, &dir).await;
    drop(server);
    planes.stop();
    drop(hosts);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_built_by_vnf_a_hosts_vnf_b_on_heat() {
    let Some(registration) = registration() else {
        return;
    };
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if var("TACKER_TEST_OS_FULL").as_deref() != Some("1") {
        assert!(
            var("CI").as_deref() != Some("true"),
            "CI=true but the full OpenStack set is not running"
        );
        eprintln!("skipped: needs the full OpenStack set (TACKER_TEST_OS_FULL=1)");
        return;
    }
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = temp_dir("k8s-cluster-heat");
    let Some(planes) = prerequisites(&dir) else {
        return;
    };
    let hosts = SshHosts::start(2, 3, &[]);
    let all: Vec<Ipv4Addr> = hosts
        .masters
        .iter()
        .chain(&hosts.workers)
        .copied()
        .collect();

    // The VNF's images and flavours, and a network whose addresses are the sshd ones.
    let auth_url = var("OS_AUTH_URL").unwrap_or_default();
    let admin = cloud::Admin::login(
        &auth_url,
        &var("OS_ADMIN_USERNAME").unwrap_or_else(|| "admin".into()),
        &var("OS_ADMIN_PASSWORD").unwrap_or_else(|| "admin-secret".into()),
        &var("OS_ADMIN_PROJECT_NAME").unwrap_or_else(|| "admin".into()),
    )
    .await;
    admin
        .ensure_image("ubuntu-24.04-server-cloudimg-amd64")
        .await;
    admin.ensure_flavor("masterNode", 64, 1, 1).await;
    admin.ensure_flavor("workerNode", 64, 1, 1).await;
    let demo = cloud::Admin::login(
        &auth_url,
        &var("OS_USERNAME").unwrap_or_else(|| "demo".into()),
        &var("OS_PASSWORD").unwrap_or_default(),
        &var("OS_PROJECT_NAME").unwrap_or_else(|| "demo".into()),
    )
    .await;
    let octets = all[0].octets();
    let cidr = format!("{}.{}.{}.0/24", octets[0], octets[1], octets[2]);
    let pools: Vec<(String, String)> = [&hosts.masters, &hosts.workers]
        .into_iter()
        .map(|group| (group[0].to_string(), group[group.len() - 1].to_string()))
        .collect();
    let (network, subnet) = demo
        .loopback_network(&format!("k8s-cluster-{}", octets[2]), &cidr, &pools)
        .await;

    let server = start_vnfm(&hosts, &dir, &all, None);
    let client = Client::new(&server.url);
    let vim = client.post("/vims", registration).await;
    assert_eq!(vim.status, StatusCode::CREATED, "{:?}", vim.body);
    let vim_id = vim.body["id"].as_str().expect("vim id").to_owned();
    let cloud = Cloud::Heat {
        vim_id,
        network: network.clone(),
        subnet,
    };
    scenario(&client, &hosts, &planes, &cloud, &dir).await;
    drop(server);
    demo.delete_network(&network).await;
    planes.stop();
    drop(hosts);
    let _ = std::fs::remove_dir_all(&dir);
}
