//! Real OpenSSH servers on loopback addresses as the "VMs" of a VNF, the packages, and
//! an LCM engine with the simulated VIM and the driver.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tacker_core::lcm::{Executor, LcmConfig, VnfLcm};
use tacker_core::model::{
    CreateVnfPkgInfoRequest, CreateVnfRequest, InstantiateVnfRequest, KeyValuePairs,
    LcmOperationStateType as State, VimConnectionInfo, VnfLcmOpOcc,
};
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver};
use tacker_core::store::MemoryStore;
use tacker_core::vim::{Sealer, SealingKey, VimRegistration, VimRegistry};
use tacker_core::{Result, TenantId};
use tacker_core::{VimType, Vnfm};
use tacker_mgmt_k8s_cluster::{KUBERNETES_VIM_TYPE, KubernetesClusterMgmtDriver, SshSettings};
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

/// How long an operation may take in these tests.
pub const WAIT: Duration = Duration::from_secs(120);

/// The VNF-A package: the example package of the repository.
pub const VNF_A_DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/packages/k8s-cluster-vnf"
);
/// Its VNFD id.
pub const VNF_A_VNFD_ID: &str = "6b1f3c4e-2a7d-4b0e-9c1a-4d5e6f708192";
/// The VNF-B (CNF) VNFD id.
pub const VNF_B_VNFD_ID: &str = "6b1f3c4e-2a7d-4b0e-9c1a-4d5e6f7081b0";
/// The test installation script's path in the package.
pub const TEST_SCRIPT: &str = "Scripts/test_install.sh";

/// The stand-in for kubeadm: records what it is asked to do in `$STATE/log`, prints the
/// access information, and fails an action while `$STATE/fail-<action>` exists.
const TEST_SCRIPT_TEXT: &str = r#"#!/bin/bash
# Test stand-in for kubeadm: records each call, prints access information.
set -eu
STATE='__STATE__'
action="$1"
via="$(printf '%s' "${SSH_CONNECTION:-}" | cut -d' ' -f3)"
if [ -e "$STATE/hang-$action" ]; then
    echo "[preflight] $action hangs on $K8S_NODE_ADDRESS" >&2
    sleep 8
fi
if [ -e "$STATE/fail-$action" ]; then
    echo "[preflight] running $action on $K8S_NODE_ADDRESS" >&2
    echo "error execution phase $action: simulated failure on $K8S_NODE_ADDRESS" >&2
    exit 3
fi
gen="$(cat "$STATE/generation" 2>/dev/null || echo 1)"
printf '%s via=%s node=%s role=%s api=%s pod=%s svc=%s masters=%s token=%s hash=%s key=%s remove=%s/%s/%s proxy=%s nodecidr=%s\n' \
    "$action" "$via" "$K8S_NODE_ADDRESS" "$K8S_NODE_ROLE" "$K8S_API_ADDRESS" "${K8S_POD_CIDR:-}" \
    "${K8S_SERVICE_CIDR:-}" "${K8S_MASTER_ADDRESSES:-}" "${K8S_JOIN_TOKEN:-}" "${K8S_CA_CERT_HASH:-}" \
    "${K8S_CERTIFICATE_KEY:-}" "${K8S_REMOVE_NODE_NAME:-}" "${K8S_REMOVE_NODE_ROLE:-}" \
    "${K8S_REMOVE_NODE_ADDRESS:-}" "${K8S_HTTP_PROXY:-}" "${K8S_NODE_CIDR:-}" >> "$STATE/log"
hash="sha256:$(printf '%064d' 7)"
case "$action" in
    install)
        echo "[init] Using Kubernetes version: v1.31.0"
        if [ -e "$STATE/server" ]; then
            # A cluster that really answers: the API server the test runs.
            echo "tacker.server=$(cat "$STATE/server")"
            echo "tacker.bearer_token=$(cat "$STATE/token")"
            echo "tacker.ssl_ca_cert_b64=$(base64 -w0 < "$STATE/ca.pem")"
        else
            echo "tacker.server=https://$K8S_API_ADDRESS:6443"
            echo "tacker.bearer_token=token-generation-$gen"
            echo "tacker.ssl_ca_cert_b64=$(printf -- '-----BEGIN CERTIFICATE-----\nMIIBgeneration%s\n-----END CERTIFICATE-----\n' "$gen" | base64 -w0)"
        fi
        echo "tacker.ssl_ca_cert_hash=$hash"
        echo "tacker.join_token=abcdef.00000000000000g$gen"
        echo "tacker.certificate_key=cafe$gen"
        echo "tacker.node_name=node-$K8S_NODE_ADDRESS"
        ;;
    token)
        echo "tacker.join_token=fresh0.00000000000000g$gen"
        echo "tacker.ssl_ca_cert_hash=$hash"
        echo "tacker.certificate_key=beef$gen"
        ;;
    join-master|join-worker)
        echo "[preflight] Running pre-flight checks"
        echo "tacker.node_name=node-$K8S_NODE_ADDRESS"
        ;;
    remove-node) ;;
    *) echo "unknown action $action" >&2; exit 2 ;;
esac
"#;

const VNF_B_TOP: &str = r#"tosca_definitions_version: tosca_simple_yaml_1_3
description: VNF-B, a CNF deployed on the cluster VNF-A built
imports:
  - cnf_df.yaml
node_types:
  tosca.nodes.nfv.VNF:
    derived_from: tosca.nodes.Root
  tosca.nodes.nfv.Vdu.Compute:
    derived_from: tosca.nodes.Root
  example.Cnf:
    derived_from: tosca.nodes.nfv.VNF
topology_template:
  node_templates:
    VNF:
      type: example.Cnf
      properties:
        descriptor_id: 6b1f3c4e-2a7d-4b0e-9c1a-4d5e6f7081b0
        descriptor_version: '1.0'
        provider: Example Networks
        product_name: Sample CNF
        software_version: '1.0'
        vnfm_info: [ tacker ]
"#;

const VNF_B_DF: &str = r#"tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  substitution_mappings:
    node_type: example.Cnf
    properties:
      flavour_id: simple
  node_templates:
    VNF:
      type: example.Cnf
      properties:
        flavour_description: One pod
    app:
      type: tosca.nodes.nfv.Vdu.Compute
      properties:
        name: app
        vdu_profile:
          min_number_of_instances: 1
          max_number_of_instances: 1
        sw_image_data:
          name: nginx
          version: '1.27'
          container_format: bare
          disk_format: raw
          min_disk: 1 GB
          size: 1 GB
"#;

pub use tacker_mgmt_k8s_cluster::testkit::{SshHosts, sshd_available};

/// The SSH "VMs" of one test ([`SshHosts`]), the test script's state and the directory
/// the driver uploads scripts to.
pub struct Harness {
    /// The servers.
    pub hosts: SshHosts,
    /// Where the test script writes its log and looks for fault files.
    pub state: PathBuf,
    /// Where the driver uploads scripts.
    pub remote: PathBuf,
    /// The driver's command timeout in these tests.
    pub command_timeout: Duration,
}

impl std::ops::Deref for Harness {
    type Target = SshHosts;
    fn deref(&self) -> &SshHosts {
        &self.hosts
    }
}

impl std::ops::DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut SshHosts {
        &mut self.hosts
    }
}

impl Harness {
    /// [`SshHosts::start`], with the test script's state directory.
    pub fn start(masters: usize, workers: usize, down: &[usize]) -> Self {
        let hosts = SshHosts::start(masters, workers, down);
        let state = hosts.dir.join("state");
        let remote = hosts.dir.join("remote");
        std::fs::create_dir_all(&state).expect("state dir");
        Self {
            hosts,
            state,
            remote,
            command_timeout: Duration::from_secs(30),
        }
    }

    /// `k8s_cluster_installation_param` for these nodes.
    pub fn params(&self, vim_name: Option<&str>) -> Value {
        let mut params = json!({
            "script_path": TEST_SCRIPT,
            "master_node": {
                "vdu_id": "masterNode",
                "ssh_cp_name": "masterNode_CP1",
                "nic_cp_name": "masterNode_CP1",
                "username": self.username,
                "private_key": self.client_key,
                "ssh_port": self.port,
                "ssh_host_key_fingerprints": self.master_fingerprints(),
                "cluster_cp_name": "masterNode_CP1",
                "pod_cidr": "10.244.0.0/16",
                "cluster_cidr": "10.96.0.0/12"
            },
            "worker_node": {
                "vdu_id": "workerNode",
                "ssh_cp_name": "workerNode_CP1",
                "nic_cp_name": "workerNode_CP1",
                "username": self.username,
                "private_key": self.client_key,
                "ssh_port": self.port,
                "known_hosts": self.worker_known_hosts()
            },
            "proxy": {
                "http_proxy": "http://proxy.example:3128",
                "k8s_node_cidr": "127.0.0.0/8"
            }
        });
        if let Some(name) = vim_name {
            params["vim_name"] = json!(name);
        }
        params
    }

    /// The calls the test script recorded, one per line.
    pub fn log(&self) -> Vec<Call> {
        std::fs::read_to_string(self.state.join("log"))
            .unwrap_or_default()
            .lines()
            .map(Call::parse)
            .collect()
    }

    /// Forgets the recorded calls.
    pub fn clear_log(&self) {
        let _ = std::fs::remove_file(self.state.join("log"));
    }

    /// Makes the script fail `action` until [`Harness::heal_fault`].
    pub fn inject_fault(&self, action: &str) {
        std::fs::write(self.state.join(format!("fail-{action}")), b"").expect("fault file");
    }

    /// Makes the script hang for 8 s in `action`.
    pub fn inject_hang(&self, action: &str) {
        std::fs::write(self.state.join(format!("hang-{action}")), b"").expect("hang file");
    }

    /// Removes the fault of `action`.
    pub fn heal_fault(&self, action: &str) {
        let _ = std::fs::remove_file(self.state.join(format!("fail-{action}")));
    }

    /// Makes the next `install` print credentials of another generation.
    pub fn set_generation(&self, generation: u32) {
        std::fs::write(self.state.join("generation"), generation.to_string())
            .expect("generation file");
    }

    /// Makes `install` report a real API server: its endpoint, bearer token and CA.
    pub fn serve_cluster(&self, endpoint: &str, token: &str, ca_pem: &str) {
        std::fs::write(self.state.join("server"), endpoint).expect("server file");
        std::fs::write(self.state.join("token"), token).expect("token file");
        std::fs::write(self.state.join("ca.pem"), ca_pem).expect("CA file");
    }

    /// The test script as it goes into the package.
    pub fn script(&self) -> String {
        TEST_SCRIPT_TEXT.replace("__STATE__", &self.state.display().to_string())
    }

    /// The driver's SSH settings for tests: short timeouts, few attempts.
    pub fn ssh_settings(&self) -> SshSettings {
        SshSettings {
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            command_timeout: self.command_timeout,
            upload_timeout: Duration::from_secs(15),
            remote_dir: self.remote.display().to_string(),
        }
    }
}

/// One call of the test script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The action.
    pub action: String,
    /// The `key=value` fields.
    pub fields: BTreeMap<String, String>,
}

impl Call {
    fn parse(line: &str) -> Self {
        let mut words = line.split(' ');
        let action = words.next().unwrap_or_default().to_owned();
        let fields = words
            .filter_map(|w| w.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Self { action, fields }
    }

    /// A field.
    pub fn get(&self, key: &str) -> &str {
        self.fields.get(key).map_or("", String::as_str)
    }
}

fn zip_dir(root: &Path, extra: &[(&str, String)]) -> Bytes {
    fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("package dir")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let name = path
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((name, std::fs::read(&path).expect("file")));
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    for (name, content) in extra {
        files.push(((*name).to_owned(), content.as_bytes().to_vec()));
    }
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(name, SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(&content).expect("zip write");
    }
    Bytes::from(writer.finish().expect("zip").into_inner())
}

fn zip_files(files: &[(&str, &str)]) -> Bytes {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        writer
            .start_file(*name, SimpleFileOptions::default())
            .expect("zip entry");
        writer.write_all(content.as_bytes()).expect("zip write");
    }
    Bytes::from(writer.finish().expect("zip").into_inner())
}

/// VNF-B's Kubernetes manifest: the Deployment of its VDU `app`.
pub const VNF_B_MANIFEST: &str = "Files/kubernetes/app.yaml";

const VNF_B_DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  replicas: 1
  selector:
    matchLabels:
      app: cnf-b
  template:
    metadata:
      labels:
        app: cnf-b
    spec:
      containers:
      - name: app
        image: nginx:1.27
"#;

fn vnf_b_package() -> Bytes {
    use sha2::Digest;
    let meta = "TOSCA-Meta-File-Version: 1.0\nCSAR-Version: 1.1\nCreated-by: test\nEntry-Definitions: Definitions/cnf_top.yaml\nETSI-Entry-Manifest: cnf.mf\n";
    let digest: String = sha2::Sha256::digest(VNF_B_DEPLOYMENT.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let manifest = format!(
        "metadata:\n  vnf_provider_id: Example Networks\n  vnf_product_name: Sample CNF\n  vnf_release_date_time: 2026-11-22T00:00:00+00:00\n  vnf_package_version: 1.0\n  compatible_specification_versions: 3.3.1\n\nSource: {VNF_B_MANIFEST}\nAlgorithm: SHA-256\nHash: {digest}\n"
    );
    zip_files(&[
        ("TOSCA-Metadata/TOSCA.meta", meta),
        ("cnf.mf", &manifest),
        ("Definitions/cnf_top.yaml", VNF_B_TOP),
        ("Definitions/cnf_df.yaml", VNF_B_DF),
        (VNF_B_MANIFEST, VNF_B_DEPLOYMENT),
    ])
}

/// Puts another MgmtDriver in front of the real one.
pub type WrapDriver =
    Box<dyn FnOnce(Arc<KubernetesClusterMgmtDriver>) -> Arc<dyn tacker_core::mgmt::MgmtDriver>>;

/// The engine, its store, VIM registry and simulated VIMs.
pub struct Env {
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The VIM registry.
    pub vims: VimRegistry,
    /// The simulated OpenStack-like VIM the VMs of VNF-A live on.
    pub vm_sim: SimInfraDriver,
    /// The simulated Kubernetes VIM VNF-B is deployed to.
    pub k8s_sim: SimInfraDriver,
    /// The engine.
    pub lcm: VnfLcm,
    /// The tenant.
    pub tenant: TenantId,
    /// The driver as registered.
    pub driver: Arc<KubernetesClusterMgmtDriver>,
    executor: Option<Executor>,
}

impl Env {
    /// An engine whose VMs are `harness`'s sshd servers; the VNF-A package carries the
    /// harness's test script.
    pub async fn new(harness: &Harness) -> Self {
        Self::with_driver(harness, None).await
    }

    /// The same, with another MgmtDriver registered in place of the real one.
    pub async fn with_driver(harness: &Harness, replacement: Option<WrapDriver>) -> Self {
        Self::build(harness, replacement, None).await
    }

    /// An engine whose Kubernetes VIMs are served by these drivers (the real ones)
    /// instead of the simulated Kubernetes VIM.
    pub async fn with_kubernetes(
        harness: &Harness,
        infra: Arc<dyn tacker_core::infra::InfraDriver>,
        vim: Arc<dyn tacker_core::vim::VimDriver>,
    ) -> Self {
        Self::build(harness, None, Some((infra, vim))).await
    }

    async fn build(
        harness: &Harness,
        replacement: Option<WrapDriver>,
        kubernetes: Option<(
            Arc<dyn tacker_core::infra::InfraDriver>,
            Arc<dyn tacker_core::vim::VimDriver>,
        )>,
    ) -> Self {
        let store = Arc::new(MemoryStore::new());
        let key = SealingKey::generate().expect("key");
        let sealer = Sealer::new(&key);
        let tenant = TenantId::default();
        let vm_sim = SimInfraDriver::builder()
            .vdu_addresses(
                "masterNode",
                harness.masters.iter().map(|a| std::net::IpAddr::V4(*a)),
            )
            .vdu_addresses(
                "workerNode",
                harness.workers.iter().map(|a| std::net::IpAddr::V4(*a)),
            )
            .build();
        let k8s_sim = SimInfraDriver::builder()
            .vim_type(KUBERNETES_VIM_TYPE)
            .build();
        let kubernetes_type = match kubernetes {
            Some((infra, vim)) => VimType::new(infra, vim).expect("one vimType"),
            None => k8s_sim.as_vim_type(),
        };
        let driver =
            Arc::new(KubernetesClusterMgmtDriver::new(sealer).ssh_settings(harness.ssh_settings()));
        let mgmt: Arc<dyn tacker_core::mgmt::MgmtDriver> = match replacement {
            Some(wrap) => wrap(driver.clone()),
            None => driver.clone(),
        };
        let vnfm = Vnfm::builder()
            .store(store.clone())
            .sealing_key(key)
            .vim_type(vm_sim.as_vim_type())
            .vim_type(kubernetes_type)
            .mgmt_driver(mgmt)
            .lcm_config(LcmConfig {
                lease_ttl: Duration::from_secs(10),
                poll_interval: Duration::from_millis(20),
                ..LcmConfig::default()
            })
            .build()
            .expect("vnfm");
        let packages = vnfm.packages();
        for zip in [
            zip_dir(Path::new(VNF_A_DIR), &[(TEST_SCRIPT, harness.script())]),
            vnf_b_package(),
        ] {
            let package = packages
                .create(&tenant, CreateVnfPkgInfoRequest::default())
                .await
                .expect("package");
            packages
                .upload_content(&tenant, &package.id, zip)
                .await
                .expect("onboarding");
        }
        let vims = vnfm.vims().clone();
        vims.register(
            &tenant,
            VimRegistration {
                name: "openstack".into(),
                vim_type: SIM_VIM_TYPE.into(),
                is_default: true,
                ..VimRegistration::default()
            },
        )
        .await
        .expect("the VMs' VIM");
        let lcm = vnfm.lcm().clone();
        let executor = Some(lcm.start());
        Self {
            store,
            vims,
            vm_sim,
            k8s_sim,
            lcm,
            tenant,
            driver,
            executor,
        }
    }

    /// Stops the executor.
    pub async fn shutdown(mut self) {
        if let Some(executor) = self.executor.take() {
            executor.shutdown().await;
        }
    }

    /// A new VNF identifier.
    pub async fn create(&self, vnfd_id: &str, name: &str) -> String {
        self.lcm
            .create_vnf(
                &self.tenant,
                CreateVnfRequest {
                    vnfd_id: vnfd_id.into(),
                    vnf_instance_name: Some(name.into()),
                    ..CreateVnfRequest::default()
                },
            )
            .await
            .expect("create VNF")
            .id
    }

    /// Waits for an accepted operation to end.
    pub async fn finish(&self, op: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
        let op = op.expect("the request is accepted");
        self.lcm
            .wait_for(&self.tenant, &op.id, &[], WAIT)
            .await
            .expect("the operation ends")
    }

    /// Waits and checks that it COMPLETED.
    pub async fn complete(&self, op: Result<VnfLcmOpOcc>) -> VnfLcmOpOcc {
        let op = self.finish(op).await;
        assert_eq!(
            op.operation_state,
            State::Completed,
            "{} {}: {:?}",
            op.operation,
            op.id,
            op.error
        );
        op
    }
}

/// An instantiate request of VNF-A with these parameters.
pub fn instantiate_a(params: Value) -> InstantiateVnfRequest {
    let mut additional = KeyValuePairs::new();
    additional.insert("k8s_cluster_installation_param".into(), params);
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params: additional,
        ..InstantiateVnfRequest::default()
    }
}

/// An instantiate request of VNF-B on the VIM `vim_id`.
pub fn instantiate_b(vim_id: &str) -> InstantiateVnfRequest {
    let mut additional = KeyValuePairs::new();
    additional.insert("lcm-kubernetes-def-files".into(), json!([VNF_B_MANIFEST]));
    InstantiateVnfRequest {
        flavour_id: "simple".into(),
        additional_params: additional,
        vim_connection_info: BTreeMap::from([(
            "k8s".to_owned(),
            VimConnectionInfo {
                vim_id: Some(vim_id.to_owned()),
                vim_type: KUBERNETES_VIM_TYPE.to_owned(),
                interface_info: KeyValuePairs::new(),
                access_info: KeyValuePairs::new(),
                extra: KeyValuePairs::new(),
            },
        )]),
        ..InstantiateVnfRequest::default()
    }
}
