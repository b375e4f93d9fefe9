//! Real OpenSSH servers on loopback addresses as the "VMs" of a VNF, the packages, and
//! an LCM engine with the simulated VIM and the driver.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
use tacker_mgmt_k8s_cluster::hostkey::fingerprint;
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

static NEXT_HARNESS: AtomicU32 = AtomicU32::new(0);

/// Whether the tests can run: OpenSSH's server is installed. Under `CI=true` its
/// absence is a failure (`.ci/run` installs it).
pub fn sshd_available() -> bool {
    if Path::new("/usr/sbin/sshd").exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "/usr/sbin/sshd is missing: install openssh-server (.ci/run does)"
    );
    eprintln!("skipped: /usr/sbin/sshd is missing (apt-get install openssh-server)");
    false
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("run a helper command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn keygen(path: &Path) {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test", "-f"])
        .arg(path));
}

/// The base64 of an OpenSSH public key file.
fn public_key_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("public key");
    text.split_whitespace()
        .nth(1)
        .expect("key field")
        .to_owned()
}

/// One `sshd -D` on one address; killed when dropped.
pub struct Sshd {
    child: Child,
    /// Where it listens.
    pub address: Ipv4Addr,
    /// Its host key's fingerprint.
    pub fingerprint: String,
    /// Its host public key (base64).
    pub public_key: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SSH "VMs" of one test: a temp directory, a client key, sshd per address.
pub struct Harness {
    /// The temp directory.
    pub dir: PathBuf,
    /// Where the test script writes its log and looks for fault files.
    pub state: PathBuf,
    /// Where the driver uploads scripts.
    pub remote: PathBuf,
    /// The user the nodes are logged in as (this process's user).
    pub username: String,
    /// The client private key (OpenSSH format).
    pub client_key: String,
    /// The master addresses, in the order the sim gives them out.
    pub masters: Vec<Ipv4Addr>,
    /// The worker addresses, likewise.
    pub workers: Vec<Ipv4Addr>,
    /// The SSH port of every node.
    pub port: u16,
    /// The servers, by address.
    pub sshds: BTreeMap<Ipv4Addr, Sshd>,
    /// The driver's command timeout in these tests.
    pub command_timeout: Duration,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.sshds.clear();
        if std::env::var_os("TACKER_KEEP_TEST_DIRS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_on_all(addresses: &[Ipv4Addr], port: u16) -> bool {
    addresses
        .iter()
        .all(|a| TcpListener::bind(SocketAddr::from((*a, port))).is_ok())
}

impl Harness {
    /// Starts sshd on `masters` master and `workers` worker addresses, except on the
    /// addresses `down` names (indexes into the masters, then the workers), which stay
    /// silent until [`Harness::bring_up`]. Every address has its host key already.
    pub fn start(masters: usize, workers: usize, down: &[usize]) -> Self {
        let number = NEXT_HARNESS.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // A block of 127.0.0.0/8 per test and process: 127.<100..199>.<test>.<node>.
        let second = u8::try_from(100 + pid % 100).expect("octet");
        let third = u8::try_from(number % 250 + 1).expect("octet");
        let masters_at: Vec<Ipv4Addr> = (0..masters)
            .map(|i| Ipv4Addr::new(127, second, third, u8::try_from(10 + i).expect("octet")))
            .collect();
        let workers_at: Vec<Ipv4Addr> = (0..workers)
            .map(|i| Ipv4Addr::new(127, second, third, u8::try_from(50 + i).expect("octet")))
            .collect();
        let dir = std::env::temp_dir().join(format!("tacker-k8s-mgmt-{pid}-{number}"));
        let _ = std::fs::remove_dir_all(&dir);
        let state = dir.join("state");
        let remote = dir.join("remote");
        std::fs::create_dir_all(&state).expect("state dir");
        // sshd running as root wants its privilege separation directory.
        let _ = std::fs::create_dir_all("/run/sshd");
        let username = run(Command::new("id").arg("-un")).trim().to_owned();
        let client = dir.join("client_key");
        keygen(&client);
        let client_key = std::fs::read_to_string(&client).expect("client key");
        std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
            .expect("authorized_keys");
        let all: Vec<Ipv4Addr> = masters_at
            .iter()
            .chain(workers_at.iter())
            .copied()
            .collect();
        for address in &all {
            let node_dir = dir.join(format!("sshd-{address}"));
            std::fs::create_dir_all(&node_dir).expect("node dir");
            keygen(&node_dir.join("host_key"));
        }
        let mut harness = Self {
            dir,
            state,
            remote,
            username,
            client_key,
            masters: masters_at,
            workers: workers_at,
            port: 0,
            sshds: BTreeMap::new(),
            command_timeout: Duration::from_secs(30),
        };
        let seed = u64::from(pid) * 7919 + u64::from(number) * 104_729;
        for attempt in 0..20u64 {
            let port = u16::try_from(20_000 + (seed + attempt * 1_543) % 40_000).expect("port");
            if !free_on_all(&all, port) {
                continue;
            }
            harness.port = port;
            let mut started = true;
            for (_, address) in all.iter().enumerate().filter(|(i, _)| !down.contains(i)) {
                match harness.start_sshd(*address) {
                    Ok(sshd) => {
                        harness.sshds.insert(*address, sshd);
                    }
                    Err(error) => {
                        eprintln!("sshd on {address}:{port} did not start ({error}); another port");
                        started = false;
                        break;
                    }
                }
            }
            if started {
                return harness;
            }
            harness.sshds.clear();
        }
        panic!("no port was free for the test sshd servers");
    }

    fn start_sshd(&self, address: Ipv4Addr) -> std::result::Result<Sshd, String> {
        let node_dir = self.dir.join(format!("sshd-{address}"));
        let host_key = node_dir.join("host_key");
        let config = node_dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {address}:{port}\nHostKey {host_key}\nPidFile {pid}\nAuthorizedKeysFile {keys}\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\nMaxStartups 50\nLogLevel ERROR\n",
                port = self.port,
                host_key = host_key.display(),
                pid = node_dir.join("sshd.pid").display(),
                keys = self.dir.join("authorized_keys").display(),
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(node_dir.join("sshd.log")).map_err(|e| e.to_string())?;
        let mut child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| e.to_string())?;
        let sshd = Sshd {
            fingerprint: self.host_fingerprint(address),
            public_key: self.host_key(address),
            address,
            child: {
                // Wait (bounded) until it accepts connections, or has exited.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    if let Ok(Some(status)) = child.try_wait() {
                        let text =
                            std::fs::read_to_string(node_dir.join("sshd.log")).unwrap_or_default();
                        return Err(format!("sshd exited with {status}: {text}"));
                    }
                    let target = SocketAddr::from((address, self.port));
                    if TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok() {
                        break;
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err("sshd did not listen within 10 s".to_owned());
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                child
            },
        };
        Ok(sshd)
    }

    /// Starts the sshd of an address left down.
    pub fn bring_up(&mut self, address: Ipv4Addr) {
        let sshd = self.start_sshd(address).expect("sshd starts");
        self.sshds.insert(address, sshd);
    }

    /// Stops the sshd of an address.
    pub fn take_down(&mut self, address: Ipv4Addr) {
        self.sshds.remove(&address);
    }

    /// The host public key (base64) of an address.
    pub fn host_key(&self, address: Ipv4Addr) -> String {
        public_key_text(
            &self
                .dir
                .join(format!("sshd-{address}"))
                .join("host_key.pub"),
        )
    }

    /// The fingerprint of an address's host key.
    pub fn host_fingerprint(&self, address: Ipv4Addr) -> String {
        let key = russh::keys::parse_public_key_base64(&self.host_key(address)).expect("key");
        fingerprint(key.key_data())
    }

    /// The fingerprint of a key no node has (the client's own key).
    pub fn stranger_fingerprint(&self) -> String {
        let key = russh::keys::parse_public_key_base64(&public_key_text(
            &self.dir.join("client_key.pub"),
        ))
        .expect("key");
        fingerprint(key.key_data())
    }

    /// The fingerprints of the masters' host keys.
    pub fn master_fingerprints(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|a| self.host_fingerprint(*a))
            .collect()
    }

    /// `known_hosts` text for the workers.
    pub fn worker_known_hosts(&self) -> String {
        self.workers
            .iter()
            .map(|a| format!("[{a}]:{} ssh-ed25519 {}\n", self.port, self.host_key(*a)))
            .collect()
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
