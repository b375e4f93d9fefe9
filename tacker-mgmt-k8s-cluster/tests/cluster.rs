//! The driver against real OpenSSH servers: each "VM" of VNF-A is an `sshd` on its own
//! loopback address, which the simulated VIM reports as the VNFC's CP address; the
//! package's test script stands in for kubeadm.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use support::{
    Env, Harness, VNF_A_VNFD_ID, VNF_B_VNFD_ID, instantiate_a, instantiate_b, sshd_available,
};
use tacker_core::mgmt::{MgmtContext, MgmtDriver, MgmtOutcome, MgmtRequestContext};
use tacker_core::model::{
    HealVnfRequest, InstantiationState, KeyValuePairs, LcmOperationStateType as State, ScaleType,
    ScaleVnfRequest, TerminateVnfRequest, TerminationType, VnfInstance,
};
use tacker_core::store::{ListQuery, OpOccRecord, StoreExt, VimRecord};
use tacker_core::vim::{VimInfo, VimRegistration};
use tacker_core::{Error, Result};
use tacker_mgmt_k8s_cluster::{
    ClusterState, KUBERNETES_VIM_TYPE, KubernetesClusterMgmtDriver, Role,
};

fn terminate(force: bool) -> TerminateVnfRequest {
    let mut additional_params = KeyValuePairs::new();
    if force {
        additional_params.insert("force_terminate".into(), json!(true));
    }
    TerminateVnfRequest {
        termination_type: TerminationType::Forceful,
        graceful_termination_timeout: None,
        additional_params,
    }
}

fn scale(scale_type: ScaleType) -> ScaleVnfRequest {
    ScaleVnfRequest {
        scale_type,
        aspect_id: "worker_instance".into(),
        number_of_steps: Some(1),
        additional_params: KeyValuePairs::new(),
    }
}

fn heal(vnfcs: &[&str]) -> HealVnfRequest {
    HealVnfRequest {
        vnfc_instance_id: vnfcs.iter().map(|v| (*v).to_owned()).collect(),
        ..HealVnfRequest::default()
    }
}

/// (action, the address it ran on) of each recorded call.
fn summary(h: &Harness) -> Vec<(String, String)> {
    h.log()
        .iter()
        .map(|c| (c.action.clone(), c.get("via").to_owned()))
        .collect()
}

fn calls(expected: &[(&str, std::net::Ipv4Addr)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, via)| ((*a).to_owned(), via.to_string()))
        .collect()
}

async fn k8s_vims(env: &Env) -> Vec<VimInfo> {
    env.vims
        .list(&env.tenant, &ListQuery::all())
        .await
        .expect("VIMs")
        .items
        .into_iter()
        .filter(|v| v.vim_type == KUBERNETES_VIM_TYPE)
        .collect()
}

async fn instance(env: &Env, id: &str) -> VnfInstance {
    env.lcm.instance(&env.tenant, id).await.expect("instance")
}

fn cluster_state(instance: &VnfInstance) -> ClusterState {
    ClusterState::of(instance)
        .expect("readable state")
        .expect("the driver recorded the cluster")
}

/// The VNFC ids of a VDU, in `vnfcResourceInfo` order.
fn vnfcs(instance: &VnfInstance, vdu: &str) -> Vec<String> {
    instance
        .instantiated_vnf_info
        .as_ref()
        .map(|i| {
            i.vnfc_resource_info
                .iter()
                .filter(|v| v.vdu_id == vdu)
                .map(|v| v.id.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn detail(op: &tacker_core::model::VnfLcmOpOcc) -> String {
    op.error
        .as_ref()
        .map(|e| e.detail.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_vnf_hosts_a_cnf_and_its_vim_goes_with_it() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 2, &[]);
    let env = Env::new(&h).await;
    let (m, w) = (h.masters.clone(), h.workers.clone());
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &a, instantiate_a(h.params(Some("cluster-a"))))
            .await,
    )
    .await;

    // Install on the first master, join the other masters, then the workers.
    assert_eq!(
        summary(&h),
        calls(&[
            ("install", m[0]),
            ("join-master", m[1]),
            ("join-worker", w[0]),
            ("join-worker", w[1]),
        ])
    );
    let log = h.log();
    let install = &log[0];
    assert_eq!(install.get("role"), "master");
    assert_eq!(install.get("node"), m[0].to_string());
    assert_eq!(install.get("api"), m[0].to_string());
    assert_eq!(install.get("pod"), "10.244.0.0/16");
    assert_eq!(install.get("svc"), "10.96.0.0/12");
    assert_eq!(install.get("masters"), format!("{},{}", m[0], m[1]));
    assert_eq!(install.get("proxy"), "http://proxy.example:3128");
    assert_eq!(install.get("nodecidr"), "127.0.0.0/8");
    for join in &log[1..2] {
        assert_eq!(join.get("role"), "master");
        assert_eq!(join.get("token"), "abcdef.00000000000000g1");
        assert_eq!(join.get("hash"), format!("sha256:{:064}", 7));
        assert_eq!(join.get("key"), "cafe1");
    }
    for join in &log[2..] {
        assert_eq!(join.get("role"), "worker");
        assert_eq!(join.get("token"), "abcdef.00000000000000g1");
        assert_eq!(join.get("key"), "", "workers get no certificate key");
    }

    // The script came from the package over SFTP, once per content.
    let uploaded: Vec<_> = std::fs::read_dir(&h.remote)
        .expect("upload directory")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(uploaded.len(), 1, "{uploaded:?}");
    assert!(
        uploaded[0].to_string_lossy().ends_with("-test_install.sh"),
        "{uploaded:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&uploaded[0]).expect("uploaded script"),
        h.script()
    );

    // The cluster is a registered VIM, its credentials sealed.
    let vims = k8s_vims(&env).await;
    assert_eq!(vims.len(), 1);
    let vim = &vims[0];
    assert_eq!(vim.name, "cluster-a");
    assert_eq!(
        vim.interface_info["endpoint"],
        json!(format!("https://{}:6443", m[0]))
    );
    assert!(
        vim.interface_info["ssl_ca_cert"]
            .as_str()
            .is_some_and(|pem| pem.contains("MIIBgeneration1"))
    );
    assert_eq!(vim.extra["producedByVnfInstanceId"], json!(a));
    let opened = env
        .vims
        .connection_info(&env.tenant, &vim.id)
        .await
        .expect("credentials");
    assert_eq!(
        opened.access_info["bearer_token"],
        json!("token-generation-1")
    );
    let record = env
        .store
        .get_typed::<VimRecord>(&env.tenant, &vim.id)
        .await
        .expect("record");
    assert!(!record.value.access_info.0.contains("token-generation"));

    // VNF-A's vimConnectionInfo names it, without credentials; its own VIM stays.
    let vnf_a = instance(&env, &a).await;
    let entry = &vnf_a.vim_connection_info["cluster-a"];
    assert_eq!(entry.vim_id.as_deref(), Some(vim.id.as_str()));
    assert_eq!(entry.vim_type, KUBERNETES_VIM_TYPE);
    assert!(entry.access_info.is_empty());
    assert_eq!(
        entry.interface_info["endpoint"],
        vim.interface_info["endpoint"]
    );
    assert_eq!(vnf_a.vim_connection_info.len(), 2);
    let state = cluster_state(&vnf_a);
    assert_eq!(state.vim_name, "cluster-a");
    assert_eq!(state.nodes.len(), 4);
    assert_eq!(
        state
            .nodes
            .iter()
            .filter(|n| n.role == Role::Master)
            .count(),
        2
    );
    assert_eq!(state.nodes[0].name, format!("node-{}", m[0]));

    // No secret is readable in the instance or in the operations' records.
    let mut readable = serde_json::to_string(&vnf_a).expect("json");
    for op in env
        .store
        .list_typed::<OpOccRecord>(&env.tenant, &ListQuery::all())
        .await
        .expect("ops")
        .items
    {
        readable.push_str(&serde_json::to_string(&op.value.steps).expect("json"));
    }
    assert!(!readable.contains("token-generation"));
    assert!(!readable.contains("PRIVATE KEY"));

    // VNF-B goes onto the cluster.
    let b = env.create(VNF_B_VNFD_ID, "vnf-b").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &b, instantiate_b(&vim.id))
            .await,
    )
    .await;
    assert!(env.k8s_sim.deployment(&env.tenant, &b).is_some());

    // VNF-A cannot go while VNF-B is on its cluster.
    match env.lcm.terminate(&env.tenant, &a, terminate(false)).await {
        Err(error @ Error::Conflict(_)) => {
            assert_eq!(error.status(), 409);
            let message = error.to_string();
            assert!(
                message.contains(&b) && message.contains("cluster-a"),
                "{message}"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }

    env.complete(env.lcm.terminate(&env.tenant, &b, terminate(false)).await)
        .await;
    h.clear_log();
    env.complete(env.lcm.terminate(&env.tenant, &a, terminate(false)).await)
        .await;
    assert!(
        h.log().is_empty(),
        "terminate_end needs no SSH: the VMs are gone"
    );
    assert!(matches!(
        env.vims.get(&env.tenant, &vim.id).await,
        Err(Error::NotFound { .. })
    ));
    let vnf_a = instance(&env, &a).await;
    assert_eq!(
        vnf_a.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(!vnf_a.vim_connection_info.contains_key("cluster-a"));
    assert!(ClusterState::of(&vnf_a).expect("state").is_none());
    assert!(env.vm_sim.deployment(&env.tenant, &a).is_none());
    // The terminated VNF-B's reference to the VIM went with it.
    assert!(instance(&env, &b).await.vim_connection_info.is_empty());
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_scale_and_nodes_heal() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 3, &[]);
    let env = Env::new(&h).await;
    let (m, w) = (h.masters.clone(), h.workers.clone());
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &a, instantiate_a(h.params(None)))
            .await,
    )
    .await;
    let vim = k8s_vims(&env).await.remove(0);
    assert_eq!(vim.name, format!("kubernetes_vim_{a}"));

    // Scale out: a fresh token from the first master, then the new worker joins.
    h.clear_log();
    env.complete(
        env.lcm
            .scale(&env.tenant, &a, scale(ScaleType::ScaleOut))
            .await,
    )
    .await;
    assert_eq!(
        summary(&h),
        calls(&[("token", m[0]), ("join-worker", w[2])])
    );
    assert_eq!(h.log()[1].get("token"), "fresh0.00000000000000g1");
    let vnf_a = instance(&env, &a).await;
    assert_eq!(cluster_state(&vnf_a).nodes.len(), 5);

    // Scale in: the newest worker is drained and deleted through a master first.
    h.clear_log();
    env.complete(
        env.lcm
            .scale(&env.tenant, &a, scale(ScaleType::ScaleIn))
            .await,
    )
    .await;
    assert_eq!(summary(&h), calls(&[("remove-node", m[0])]));
    assert_eq!(
        h.log()[0].get("remove"),
        format!("node-{}/worker/{}", w[2], w[2])
    );
    let vnf_a = instance(&env, &a).await;
    let state = cluster_state(&vnf_a);
    assert_eq!(state.nodes.len(), 4);
    assert!(!state.nodes.iter().any(|n| n.address == w[2].to_string()));

    // Heal a worker: removed from the cluster, then joined again.
    let workers = vnfcs(&vnf_a, "workerNode");
    h.clear_log();
    env.complete(env.lcm.heal(&env.tenant, &a, heal(&[&workers[0]])).await)
        .await;
    assert_eq!(
        summary(&h),
        calls(&[
            ("remove-node", m[0]),
            ("token", m[0]),
            ("join-worker", w[0])
        ])
    );
    assert_eq!(
        h.log()[0].get("remove"),
        format!("node-{}/worker/{}", w[0], w[0])
    );

    // Heal a master: its node and etcd member go through another master, and it joins
    // as a master again with a fresh certificate key.
    let masters = vnfcs(&vnf_a, "masterNode");
    h.clear_log();
    env.complete(env.lcm.heal(&env.tenant, &a, heal(&[&masters[1]])).await)
        .await;
    assert_eq!(
        summary(&h),
        calls(&[
            ("remove-node", m[0]),
            ("token", m[0]),
            ("join-master", m[1])
        ])
    );
    assert_eq!(
        h.log()[0].get("remove"),
        format!("node-{}/master/{}", m[1], m[1])
    );
    assert_eq!(h.log()[2].get("key"), "beef1");

    // The first master is healed through the second.
    h.clear_log();
    env.complete(env.lcm.heal(&env.tenant, &a, heal(&[&masters[0]])).await)
        .await;
    assert_eq!(
        summary(&h),
        calls(&[
            ("remove-node", m[1]),
            ("token", m[1]),
            ("join-master", m[0])
        ])
    );

    // Every master at once cannot be healed node by node.
    let all: Vec<&str> = masters.iter().map(String::as_str).collect();
    match env.lcm.heal(&env.tenant, &a, heal(&all)).await {
        Err(Error::Unprocessable(message)) => {
            assert!(message.starts_with("vnfcInstanceId:"), "{message}");
        }
        other => panic!("expected 422, got {other:?}"),
    }

    // Healing the whole VNF re-installs the cluster; the VIM gets the new credentials.
    h.set_generation(2);
    h.clear_log();
    env.complete(env.lcm.heal(&env.tenant, &a, heal(&[])).await)
        .await;
    let actions: Vec<String> = h.log().iter().map(|c| c.action.clone()).collect();
    assert_eq!(
        actions,
        ["install", "join-master", "join-worker", "join-worker"]
    );
    let vims = k8s_vims(&env).await;
    assert_eq!(vims.len(), 1);
    assert_eq!(vims[0].id, vim.id, "the same VIM, updated");
    let opened = env
        .vims
        .connection_info(&env.tenant, &vim.id)
        .await
        .expect("credentials");
    assert_eq!(
        opened.access_info["bearer_token"],
        json!("token-generation-2")
    );
    assert!(
        opened.interface_info["ssl_ca_cert"]
            .as_str()
            .is_some_and(|pem| pem.contains("MIIBgeneration2"))
    );

    // A forced terminate leaves a VIM that VNF-B still uses registered.
    let b = env.create(VNF_B_VNFD_ID, "vnf-b").await;
    env.complete(
        env.lcm
            .instantiate(&env.tenant, &b, instantiate_b(&vim.id))
            .await,
    )
    .await;
    env.complete(env.lcm.terminate(&env.tenant, &a, terminate(true)).await)
        .await;
    assert!(env.vims.get(&env.tenant, &vim.id).await.is_ok());
    assert!(
        !instance(&env, &a)
            .await
            .vim_connection_info
            .values()
            .any(|v| v.vim_type == KUBERNETES_VIM_TYPE)
    );
    env.complete(env.lcm.terminate(&env.tenant, &b, terminate(false)).await)
        .await;
    env.lcm
        .delete_vnf(&env.tenant, &b)
        .await
        .expect("delete VNF-B");
    env.vims
        .delete(&env.tenant, &vim.id)
        .await
        .expect("the VIM can go once nobody uses it");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_key_fails_the_step_naming_the_node() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 2, &[1, 2, 3]);
    let env = Env::new(&h).await;
    let mut params = h.params(None);
    params["master_node"]["ssh_host_key_fingerprints"] = json!([h.stranger_fingerprint()]);
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(params))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let message = detail(&op);
    assert!(message.contains("master node"), "{message}");
    assert!(
        message.contains(&format!("{}:{}", h.masters[0], h.port)),
        "{message}"
    );
    assert!(message.contains("host key is refused"), "{message}");
    assert!(
        message.contains(&h.host_fingerprint(h.masters[0])),
        "the presented key is named: {message}"
    );
    assert!(h.log().is_empty(), "nothing ran");
    assert!(!h.remote.exists(), "nothing was uploaded");
    assert!(k8s_vims(&env).await.is_empty());

    // A changed key in known_hosts is refused the same way.
    let mut params = h.params(None);
    params["master_node"]
        .as_object_mut()
        .expect("object")
        .remove("ssh_host_key_fingerprints");
    params["master_node"]["known_hosts"] = json!(format!(
        "[{}]:{} ssh-ed25519 {}\n",
        h.masters[0],
        h.port,
        h.host_key(h.masters[1])
    ));
    let rolled_back = env
        .finish(env.lcm.rollback(&env.tenant, &op.id).await)
        .await;
    assert_eq!(rolled_back.operation_state, State::RolledBack);
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(params))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    assert!(detail(&op).contains("CHANGED"), "{}", detail(&op));
    assert!(h.log().is_empty());
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_node_fails_after_the_configured_attempts() {
    if !sshd_available() {
        return;
    }
    let mut h = Harness::start(2, 2, &[3]);
    let env = Env::new(&h).await;
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let started = Instant::now();
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(h.params(None)))
                .await,
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(op.operation_state, State::FailedTemp);
    let message = detail(&op);
    assert!(message.contains("worker node"), "{message}");
    assert!(
        message.contains(&format!("{}:{}", h.workers[1], h.port)),
        "{message}"
    );
    assert!(message.contains("after 3 attempt(s)"), "{message}");
    let actions: Vec<String> = h.log().iter().map(|c| c.action.clone()).collect();
    assert_eq!(actions, ["install", "join-master", "join-worker"]);
    assert!(k8s_vims(&env).await.is_empty());

    // The node comes up: the retry runs the hook again (every action is idempotent).
    let worker = h.workers[1];
    h.bring_up(worker);
    h.clear_log();
    env.complete(env.lcm.retry(&env.tenant, &op.id).await).await;
    assert_eq!(h.log().len(), 4);
    assert_eq!(k8s_vims(&env).await.len(), 1);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_script_reports_its_stderr_and_a_retry_succeeds() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 2, &[]);
    let env = Env::new(&h).await;
    h.inject_fault("join-worker");
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(h.params(None)))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let message = detail(&op);
    let failing = env
        .vm_sim
        .deployment(&env.tenant, &a)
        .expect("the VMs exist")
        .servers
        .into_iter()
        .find(|s| s.addresses.contains(&std::net::IpAddr::V4(h.workers[0])))
        .expect("the first worker's VM");
    assert!(
        message.contains(&format!("worker node {}", failing.vnfc_id)),
        "the failing node is named: {message}"
    );
    assert!(message.contains(&h.workers[0].to_string()), "{message}");
    assert!(message.contains("exited with status 3"), "{message}");
    assert!(
        message.contains(&format!(
            "error execution phase join-worker: simulated failure on {}",
            h.workers[0]
        )),
        "the stderr tail: {message}"
    );
    assert!(k8s_vims(&env).await.is_empty());

    h.heal_fault("join-worker");
    env.complete(env.lcm.retry(&env.tenant, &op.id).await).await;
    assert_eq!(k8s_vims(&env).await.len(), 1);
    let vnf_a = instance(&env, &a).await;
    assert_eq!(cluster_state(&vnf_a).nodes.len(), 4);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_script_times_out() {
    if !sshd_available() {
        return;
    }
    let mut h = Harness::start(2, 2, &[1, 2, 3]);
    h.command_timeout = Duration::from_secs(2);
    let env = Env::new(&h).await;
    h.inject_hang("install");
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let started = Instant::now();
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(h.params(None)))
                .await,
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(op.operation_state, State::FailedTemp);
    let message = detail(&op);
    assert!(message.contains("master node"), "{message}");
    assert!(
        message.contains("`Scripts/test_install.sh install` did not finish within 2s"),
        "{message}"
    );
    assert!(
        message.contains("install hangs"),
        "the stderr tail: {message}"
    );
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_script_is_not_run() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 2, &[1, 2, 3]);
    let env = Env::new(&h).await;
    // Someone put other content where the driver would upload the script.
    use sha2::Digest;
    let digest = sha2::Sha256::digest(h.script().as_bytes());
    let prefix: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    std::fs::create_dir_all(&h.remote).expect("remote dir");
    let planted = h.remote.join(format!("{prefix}-test_install.sh"));
    std::fs::write(&planted, "echo planted >> /dev/null\n").expect("planted file");
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(h.params(None)))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    let message = detail(&op);
    assert!(message.contains("exists with other content"), "{message}");
    assert!(h.log().is_empty(), "nothing ran");
    env.shutdown().await;
}

/// The real driver, whose `instantiate_end` also reports a second VIM under a name
/// someone else registered: the engine registers the first, refuses the second, and
/// the step fails with the first one registered.
#[derive(Debug)]
struct AlsoClaimsATakenName(Arc<KubernetesClusterMgmtDriver>);

#[async_trait]
impl MgmtDriver for AlsoClaimsATakenName {
    fn name(&self) -> &str {
        self.0.name()
    }

    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        self.0.validate_request(ctx).await
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let mut outcome = self.0.run_hook(ctx).await?;
        if let Some((_, vim)) = outcome.registered_vims.first().cloned() {
            outcome.registered_vims.push(("taken".into(), vim));
        }
        Ok(outcome)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_instantiation_leaves_no_vim() {
    if !sshd_available() {
        return;
    }
    let h = Harness::start(2, 2, &[]);
    let env = Env::with_driver(
        &h,
        Some(Box::new(|driver| {
            Arc::new(AlsoClaimsATakenName(driver)) as Arc<dyn MgmtDriver>
        })),
    )
    .await;
    let mut access_info = KeyValuePairs::new();
    access_info.insert("bearer_token".into(), json!("someone else's"));
    env.vims
        .register(
            &env.tenant,
            VimRegistration {
                name: "taken".into(),
                vim_type: KUBERNETES_VIM_TYPE.into(),
                access_info,
                ..VimRegistration::default()
            },
        )
        .await
        .expect("another VIM");
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let op = env
        .finish(
            env.lcm
                .instantiate(&env.tenant, &a, instantiate_a(h.params(Some("cluster-a"))))
                .await,
        )
        .await;
    assert_eq!(op.operation_state, State::FailedTemp);
    assert!(detail(&op).contains("'taken'"), "{}", detail(&op));
    let names: BTreeSet<String> = k8s_vims(&env).await.into_iter().map(|v| v.name).collect();
    assert_eq!(names, BTreeSet::from(["cluster-a".into(), "taken".into()]));

    let after = env
        .finish(env.lcm.rollback(&env.tenant, &op.id).await)
        .await;
    assert_eq!(
        after.operation_state,
        State::RolledBack,
        "{:?}",
        after.error
    );
    let names: BTreeSet<String> = k8s_vims(&env).await.into_iter().map(|v| v.name).collect();
    assert_eq!(
        names,
        BTreeSet::from(["taken".into()]),
        "only the other VIM is left"
    );
    let vnf_a = instance(&env, &a).await;
    assert_eq!(
        vnf_a.instantiation_state,
        InstantiationState::NotInstantiated
    );
    assert!(!vnf_a.vim_connection_info.contains_key("cluster-a"));
    assert!(env.vm_sim.deployment(&env.tenant, &a).is_none());
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_refused_when_requested() {
    if !sshd_available() {
        return;
    }
    // No server is needed: nothing gets that far.
    let h = Harness::start(2, 2, &[0, 1, 2, 3]);
    let env = Env::new(&h).await;
    let a = env.create(VNF_A_VNFD_ID, "vnf-a").await;
    let refused = |request: tacker_core::model::InstantiateVnfRequest| {
        let lcm = env.lcm.clone();
        let tenant = env.tenant.clone();
        let a = a.clone();
        async move {
            match lcm.instantiate(&tenant, &a, request).await {
                Err(error @ Error::Unprocessable(_)) => {
                    assert_eq!(error.status(), 422);
                    error.to_string()
                }
                other => panic!("expected 422, got {other:?}"),
            }
        }
    };
    let base = "additionalParams.k8s_cluster_installation_param";
    let mut without = instantiate_a(Value::Null);
    without.additional_params.clear();
    assert!(
        refused(without)
            .await
            .contains(&format!("{base}: is required"))
    );

    let mutate = |path: &[&str], value: Option<Value>| {
        let mut params = h.params(None);
        let mut target = &mut params;
        for key in &path[..path.len() - 1] {
            target = &mut target[*key];
        }
        let last = path[path.len() - 1];
        match value {
            Some(value) => target[last] = value,
            None => {
                target.as_object_mut().expect("object").remove(last);
            }
        }
        instantiate_a(params)
    };
    let cases: Vec<(tacker_core::model::InstantiateVnfRequest, String)> = vec![
        (
            mutate(&["master_node", "username"], None),
            format!("{base}.master_node.username: is required"),
        ),
        (
            mutate(&["worker_node", "vdu_id"], Some(json!("nosuchVdu"))),
            format!("{base}.worker_node.vdu_id: 'nosuchVdu' is not a VDU"),
        ),
        (
            mutate(
                &["master_node", "ssh_cp_name"],
                Some(json!("workerNode_CP1")),
            ),
            format!(
                "{base}.master_node.ssh_cp_name: 'workerNode_CP1' is not a CP of VDU masterNode"
            ),
        ),
        (
            mutate(&["master_node", "cluster_cp_name"], Some(json!("VIP"))),
            format!("{base}.master_node.cluster_cp_name: 'VIP' is not a CP"),
        ),
        (
            mutate(&["script_path"], Some(json!("Scripts/missing.sh"))),
            format!("{base}.script_path: 'Scripts/missing.sh' is not a file of the VNF package"),
        ),
        (
            mutate(&["master_node", "pod_cidr"], Some(json!("10.244.0.0/40"))),
            format!("{base}.master_node.pod_cidr:"),
        ),
        (
            mutate(
                &["master_node", "ssh_host_key_fingerprints"],
                Some(json!(["MD5:00"])),
            ),
            format!("{base}.master_node.ssh_host_key_fingerprints: [0]"),
        ),
        (
            mutate(&["worker_node", "known_hosts"], None),
            format!("{base}.worker_node.ssh_host_key_fingerprints: no host key is given"),
        ),
        (
            mutate(&["vim_name"], Some(json!("openstack"))),
            format!("{base}.vim_name: a VIM named 'openstack' is already registered"),
        ),
        (
            mutate(
                &["worker_node", "private_key"],
                Some(json!("-----BEGIN OPENSSH PRIVATE KEY-----\nbroken\n")),
            ),
            format!("{base}.worker_node.private_key: is not a readable"),
        ),
    ];
    for (request, expected) in cases {
        let message = refused(request).await;
        assert!(
            message.contains(&expected),
            "{message}\n  expected: {expected}"
        );
    }
    let ops = env
        .lcm
        .op_occs(&env.tenant, &ListQuery::all())
        .await
        .expect("ops");
    assert!(ops.items.is_empty(), "no operation was accepted");
    env.shutdown().await;
}
