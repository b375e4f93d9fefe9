//! A `MgmtDriver` that installs a Kubernetes cluster on the VMs of a VNF over SSH and
//! registers the cluster as a new VIM: the "deploy a Kubernetes cluster with
//! MgmtDriver" design, where VNF-A creates VMs and builds a cluster on them, and VNF-B
//! is then instantiated on that cluster.
//!
//! # Selection
//!
//! [`KubernetesClusterMgmtDriver`] is registered with the engine
//! (`Vnfm::builder().mgmt_driver(…)`) and selected by the VNFD's `Vnflcm` interface:
//! the hooks `instantiate_end`, `terminate_end`, `scale_start`, `scale_end`,
//! `heal_start` and `heal_end` bound to an artifact whose name or file name is the
//! driver's name (default `kubernetes_mgmt.py`, as in Tacker's packages). Other hooks
//! bound to it do nothing.
//!
//! # Parameters
//!
//! `additionalParams.k8s_cluster_installation_param` of the instantiate request (a
//! scale or heal request may give it again; otherwise the one recorded at
//! instantiation is used):
//!
//! | field | |
//! |---|---|
//! | `script_path` | the installation script, a file of the VNF package |
//! | `vim_name` | the name of the VIM to register (default `kubernetes_vim_<vnfInstanceId>`) |
//! | `master_node`, `worker_node` | `vdu_id`, `ssh_cp_name`, `nic_cp_name`, `username`, `password` or `private_key` (OpenSSH or PEM, ed25519 or ECDSA; `private_key_passphrase`), `ssh_port` (22), and the host keys: `ssh_host_key_fingerprints` (a list of `SHA256:…` as `ssh-keygen -l` prints them) and/or `known_hosts` (text in OpenSSH's format, hashed names allowed) |
//! | `master_node.cluster_cp_name` | the CP giving the API address: a CP of the master VDU (the first master's address) or an external CP |
//! | `master_node.pod_cidr`, `master_node.cluster_cidr` | pod and service CIDRs |
//! | `proxy` | `http_proxy`, `https_proxy`, `no_proxy`, `k8s_node_cidr` |
//!
//! Missing or malformed parameters, VDUs and CPs the flavour does not have, and a
//! script the package does not hold are refused when the operation is requested
//! (`Unprocessable`, 422, naming the field).
//!
//! # What the operator configures
//!
//! [`KubernetesClusterMgmtDriver::ssh_private_key`] is used for nodes whose parameters
//! give neither `password` nor `private_key`. [`KubernetesClusterMgmtDriver::known_hosts`]
//! decides the host keys of every host it has an entry for (a request cannot override
//! it); the request's fingerprints or `known_hosts` decide for the others, unless
//! [`KubernetesClusterMgmtDriver::host_keys_from_request`] forbids requests to give any.
//! `vnfm` exposes them as `--k8s-cluster-mgmt-driver`, `--k8s-cluster-ssh-key`,
//! `--k8s-cluster-known-hosts` and `--k8s-cluster-no-request-host-keys`.
//!
//! Node addresses come from the instance the infra driver produced: for each VNFC of
//! the master and worker VDUs, the address of its CP named `ssh_cp_name` (SSH) and
//! `nic_cp_name` (the node's cluster address).
//!
//! # SSH
//!
//! Every connection verifies the server's host key against the node's fingerprints
//! or `known_hosts` before authenticating; an unknown or changed key fails the step
//! with a message naming the node, and nothing is sent to that server. Connections are
//! retried with exponential backoff up to [`SshSettings::connect_attempts`]; commands
//! and uploads have timeouts (a command that times out is sent SIGTERM). Before it runs
//! on a node, the script is uploaded over SFTP to
//! `<remote_dir>/<16 hex digits of its SHA-256>-<file name>` (`remote_dir` defaults to
//! `.tacker-k8s-cluster` in the user's home): created whole by a rename, never
//! rewritten; a file already there runs only if it holds the same content.
//! Private keys are ed25519 or ECDSA (the crate is built without RSA).
//!
//! # The installation script
//!
//! The driver runs `env K8S_…='…' … bash <script> <action>` as the node's user (the
//! script uses `sudo` where it needs root). Every action must be idempotent: a hook may
//! run again after a crash or a retry. Parameters:
//!
//! | variable | |
//! |---|---|
//! | `K8S_NODE_ROLE` | `master` or `worker`: the node it runs on |
//! | `K8S_NODE_ADDRESS` | that node's `nic_cp_name` address |
//! | `K8S_API_ADDRESS` | the cluster's API address (`cluster_cp_name`) |
//! | `K8S_MASTER_ADDRESSES` | the masters' addresses, comma-separated |
//! | `K8S_POD_CIDR`, `K8S_SERVICE_CIDR` | when given |
//! | `K8S_HTTP_PROXY`, `K8S_HTTPS_PROXY`, `K8S_NO_PROXY`, `K8S_NODE_CIDR` | when given |
//! | `K8S_JOIN_TOKEN`, `K8S_CA_CERT_HASH` | joins |
//! | `K8S_CERTIFICATE_KEY` | `join-master` |
//! | `K8S_REMOVE_NODE_NAME`, `K8S_REMOVE_NODE_ROLE`, `K8S_REMOVE_NODE_ADDRESS` | `remove-node` |
//!
//! Actions: `install` (first master), `join-master`, `join-worker`, `token` (on a
//! master: fresh join parameters), `remove-node` (on a master: drain and delete the
//! node; for a master also remove its etcd member).
//!
//! The script reports on stdout with lines `tacker.<key>=<value>`; every other line
//! is ignored. A non-zero exit fails the step with the tail of stderr.
//!
//! | key | printed by | |
//! |---|---|---|
//! | `server` | `install` | the API endpoint, `https://<address>:6443` |
//! | `bearer_token`, or `username` and `password` | `install` | the API credentials |
//! | `ssl_ca_cert_b64` | `install` | the cluster CA certificate (PEM), base64 on one line |
//! | `ssl_ca_cert_hash` | `install`, `token` | `sha256:<64 hex>` of the CA public key |
//! | `join_token` | `install`, `token` | a kubeadm bootstrap token |
//! | `certificate_key` | `install`, `token` | the control-plane certificate key (needed to join masters) |
//! | `node_name` | `install`, `join-*` | the Kubernetes node name (default: the node's address) |
//!
//! `examples/packages/k8s-cluster-vnf/Scripts/install_k8s_cluster.sh` is a kubeadm
//! implementation for Ubuntu VMs.
//!
//! # What each hook does
//!
//! - `instantiate_end`: `install` on the first master, `join-master` on the other
//!   masters, then `join-worker` on the workers; the cluster is returned as the VIM to
//!   register ([`MgmtOutcome::registered_vims`](tacker_core::mgmt::MgmtOutcome)):
//!   vimType `ETSINFV.KUBERNETES.V_1`, `interfaceInfo` `endpoint` and `ssl_ca_cert`,
//!   `accessInfo` `bearer_token` (or `username`/`password`). The engine registers it
//!   (credentials sealed) and adds the entry to the instance's `vimConnectionInfo`.
//!   The nodes, the VIM name and the parameters (sealed) are recorded in the instance's
//!   `metadata.k8sCluster` ([`ClusterState`]).
//! - `terminate_end`: the VIM is deregistered (the engine refuses the terminate, 409,
//!   while other instances are deployed on it, unless `additionalParams.force_terminate`).
//! - `scale_start`: for a scale-in, drains and deletes the nodes of the VNFCs to be
//!   removed, through a remaining master. `scale_end`: joins the new VNFCs with a fresh
//!   token from a master (and removes nodes whose VNFC is gone).
//! - `heal_start`: removes the healed VNFCs' nodes through a master that is not being
//!   healed (etcd member too for a master). `heal_end`: joins them again. Healing the
//!   whole VNF re-installs the cluster and updates the registered VIM's credentials.
//! - a rolled back instantiation leaves no VIM registered (the engine deregisters it).
//!
//! Every step logs the node and the action it runs (`tracing`).

mod driver;
pub mod hostkey;
pub mod params;
pub mod script;
pub mod ssh;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use driver::{
    ClusterState, KUBERNETES_VIM_TYPE, KubernetesClusterMgmtDriver, METADATA_KEY, NodeState,
};
pub use params::{ClusterParams, OperatorDefaults, PARAM, Role};
pub use ssh::SshSettings;
