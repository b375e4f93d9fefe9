//! `KubernetesClusterMgmtDriver`: the hooks.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tacker_core::lcm::OpRequest;
use tacker_core::mgmt::{
    MgmtContext, MgmtDriver, MgmtOutcome, MgmtRequestContext, PRODUCED_BY_VNF_INSTANCE,
};
use tacker_core::model::{
    CpProtocolInfo, InstantiatedVnfInfo, KeyValuePairs, LcmOperationType as Op, ScaleType,
    VimConnectionInfo, VnfInstance,
};
use tacker_core::store::{ListQuery, Sealed};
use tacker_core::vim::Sealer;
use tacker_core::vnfd::{DeploymentFlavour, HookPhase};
use tacker_core::{Error, Result, TenantId};
use tokio_util::sync::CancellationToken;

use crate::hostkey::HostKeyPolicy;
use crate::params::{ClusterParams, NodeParams, OperatorDefaults, PARAM, Role};
use crate::script::{AccessInfo, Action, ApiAuth, JoinInfo, MARKER, ScriptOutput, command_line};
use crate::ssh::{Session, SshError, SshSettings, Target, stderr_suffix};

/// The `vimType` of the VIM a cluster is registered as.
pub const KUBERNETES_VIM_TYPE: &str = "ETSINFV.KUBERNETES.V_1";

/// The key of the instance `metadata` entry where the driver records the cluster.
pub const METADATA_KEY: &str = "k8sCluster";

/// What the driver records about a cluster in the VNF instance's `metadata`
/// (under [`METADATA_KEY`]); no secret is readable in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterState {
    /// The name the cluster's VIM is registered under.
    pub vim_name: String,
    /// The API endpoint.
    pub server: String,
    /// The nodes in the cluster.
    pub nodes: Vec<NodeState>,
    /// `k8s_cluster_installation_param` as last given, sealed (for scale and heal).
    pub sealed_params: Sealed,
}

/// One node of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeState {
    /// The VNFC.
    pub vnfc_id: String,
    /// Its VDU.
    pub vdu_id: String,
    /// Master or worker.
    pub role: Role,
    /// The Kubernetes node name (what the script printed as `node_name`).
    pub name: String,
    /// Its address on the `nic_cp_name` CP.
    pub address: String,
}

impl ClusterState {
    /// The state recorded on an instance, if any.
    pub fn of(instance: &VnfInstance) -> Result<Option<Self>> {
        match instance.metadata.get(METADATA_KEY) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone()).map(Some).map_err(|e| {
                Error::Unprocessable(format!(
                    "metadata.{METADATA_KEY} of VNF instance {} is not what this driver recorded: {e}",
                    instance.id
                ))
            }),
        }
    }
}

/// The MgmtDriver that installs a Kubernetes cluster on the VMs of a VNF. See the
/// crate documentation.
#[derive(Debug, Clone)]
pub struct KubernetesClusterMgmtDriver {
    name: String,
    sealer: Sealer,
    ssh: SshSettings,
    defaults: OperatorDefaults,
}

impl KubernetesClusterMgmtDriver {
    /// The name VNFDs select the driver by unless told otherwise: the file name of
    /// Tacker's driver, so Tacker's packages work unchanged.
    pub const DEFAULT_NAME: &'static str = "kubernetes_mgmt.py";

    /// A driver that seals the installation parameters it records with `sealer` (use
    /// the VNFM's sealing key, so any VNFM process sharing the store can open them).
    pub fn new(sealer: Sealer) -> Self {
        Self {
            name: Self::DEFAULT_NAME.to_owned(),
            sealer,
            ssh: SshSettings::default(),
            defaults: OperatorDefaults::default(),
        }
    }

    /// The operator's SSH key (OpenSSH or PEM, ed25519 or ECDSA): nodes whose
    /// parameters give neither `password` nor `private_key` are logged in to with it.
    /// Fails on a key that cannot be read.
    pub fn ssh_private_key(mut self, pem: &str, passphrase: Option<&str>) -> Result<Self> {
        let key = russh::keys::decode_secret_key(pem, passphrase).map_err(|e| {
            Error::InvalidRequest(format!(
                "the operator's SSH key is not a readable OpenSSH or PEM private key (ed25519 or ECDSA): {e}"
            ))
        })?;
        self.defaults.private_key = Some(Arc::new(key));
        Ok(self)
    }

    /// The operator's `known_hosts` (OpenSSH's format, hashed names allowed): it
    /// decides for every host it has an entry for; a request's
    /// `ssh_host_key_fingerprints` and `known_hosts` only for the others (or never, with
    /// [`KubernetesClusterMgmtDriver::host_keys_from_request`]). Fails, naming the line,
    /// on a malformed file.
    pub fn known_hosts(mut self, text: &str) -> Result<Self> {
        let policy = HostKeyPolicy::new(&[], Some(text))
            .map_err(|e| Error::InvalidRequest(format!("the operator's known_hosts: {e}")))?;
        self.defaults.known_hosts = Some(Arc::new(policy));
        Ok(self)
    }

    /// Whether requests may give host keys (default true). When false, requests that
    /// give `ssh_host_key_fingerprints` or `known_hosts` are refused (422), and only the
    /// operator's `known_hosts` decides: set it too.
    pub fn host_keys_from_request(mut self, allowed: bool) -> Self {
        self.defaults.reject_request_host_keys = !allowed;
        self
    }

    /// Selected by another artifact name or file name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// SSH timeouts, retries and the remote directory.
    pub fn ssh_settings(mut self, settings: SshSettings) -> Self {
        self.ssh = settings;
        self
    }

    fn error(&self, retryable: bool, message: impl Into<String>) -> Error {
        Error::driver(self.name.clone(), retryable, message.into())
    }

    fn ssh_error(&self, error: SshError) -> Error {
        if error.cancelled {
            return Error::Cancelled(error.message);
        }
        self.error(error.retryable, error.message)
    }

    fn seal_context(tenant: &TenantId, vnf_instance_id: &str) -> String {
        format!("{tenant}/vnf_instances/{vnf_instance_id}/{PARAM}")
    }

    fn seal(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        params: &ClusterParams,
    ) -> Result<Sealed> {
        self.sealer
            .seal_json(&Self::seal_context(tenant, vnf_instance_id), &params.raw)
    }

    fn open(
        &self,
        tenant: &TenantId,
        vnf_instance_id: &str,
        sealed: &Sealed,
    ) -> Result<ClusterParams> {
        let raw: Value = self
            .sealer
            .open_json(&Self::seal_context(tenant, vnf_instance_id), sealed)
            .map_err(|e| {
                Error::Unprocessable(format!(
                    "additionalParams.{PARAM}: the parameters recorded at instantiation cannot be opened ({e}); give them again in the request"
                ))
            })?;
        ClusterParams::parse_with(&raw, &self.defaults)
    }

    /// The parameters of an operation: from its request, else as recorded.
    fn params_for(
        &self,
        tenant: &TenantId,
        instance: &VnfInstance,
        additional_params: Option<&KeyValuePairs>,
        required: bool,
    ) -> Result<ClusterParams> {
        if let Some(params) = additional_params
            .map(|p| ClusterParams::from_additional_params_with(p, &self.defaults))
            .transpose()?
            .flatten()
        {
            return Ok(params);
        }
        if !required && let Some(state) = ClusterState::of(instance)? {
            return self.open(tenant, &instance.id, &state.sealed_params);
        }
        Err(Error::Unprocessable(format!(
            "additionalParams.{PARAM}: is required{}",
            if required {
                String::new()
            } else {
                format!(
                    " (VNF instance {} has no cluster recorded by this driver)",
                    instance.id
                )
            }
        )))
    }
}

fn request_additional_params(ctx: &MgmtContext<'_>) -> Option<KeyValuePairs> {
    ctx.op_occ
        .operation_params
        .as_ref()
        .and_then(|p| p.get("additionalParams"))
        .and_then(|p| p.as_object())
        .cloned()
}

/// A VNFC that is a node of the cluster, with its current addresses.
#[derive(Debug, Clone)]
struct Node {
    vnfc_id: String,
    vdu_id: String,
    role: Role,
    ssh_address: String,
    nic_address: String,
    label: String,
}

fn first_address(protocols: &[CpProtocolInfo]) -> Option<String> {
    protocols
        .iter()
        .filter_map(|p| p.ip_over_ethernet.as_ref())
        .flat_map(|ip| ip.ip_addresses.iter())
        .flat_map(|a| a.addresses.iter())
        .next()
        .cloned()
}

/// The address of a VNFC's CP (or of the external CP it is exposed as).
fn cp_address(
    info: &InstantiatedVnfInfo,
    vnfc: &tacker_core::model::VnfcResourceInfo,
    cpd_id: &str,
) -> Option<String> {
    let cp = vnfc.vnfc_cp_info.iter().find(|cp| cp.cpd_id == cpd_id)?;
    first_address(&cp.cp_protocol_info).or_else(|| {
        let ext = cp.vnf_ext_cp_id.as_ref()?;
        info.ext_cp_info
            .iter()
            .find(|e| &e.id == ext)
            .and_then(|e| first_address(&e.cp_protocol_info))
    })
}

fn nodes_of(instance: &VnfInstance, params: &ClusterParams) -> Result<Vec<Node>> {
    let Some(info) = instance.instantiated_vnf_info.as_ref() else {
        return Ok(Vec::new());
    };
    let mut nodes = Vec::new();
    for vnfc in &info.vnfc_resource_info {
        let (role, node) = if vnfc.vdu_id == params.master.node.vdu_id {
            (Role::Master, &params.master.node)
        } else if let Some(worker) = params.worker.as_ref().filter(|w| w.vdu_id == vnfc.vdu_id) {
            (Role::Worker, worker)
        } else {
            continue;
        };
        let address = |field: &str, cp: &str| {
            cp_address(info, vnfc, cp).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "{}.{field}: VNFC {} of VDU {} has no address on CP '{cp}'",
                    node.field, vnfc.id, vnfc.vdu_id
                ))
            })
        };
        let ssh_address = address("ssh_cp_name", &node.ssh_cp_name)?;
        let nic_address = address("nic_cp_name", &node.nic_cp_name)?;
        nodes.push(Node {
            label: format!(
                "{} node {} (VDU {}, {ssh_address}:{})",
                role.as_str(),
                vnfc.id,
                vnfc.vdu_id,
                node.ssh_port
            ),
            vnfc_id: vnfc.id.clone(),
            vdu_id: vnfc.vdu_id.clone(),
            role,
            ssh_address,
            nic_address,
        });
    }
    Ok(nodes)
}

/// The address of the cluster's API: the first master's address on `cluster_cp_name`,
/// or the address of the external or VIP CP of that name.
fn api_address(
    instance: &VnfInstance,
    params: &ClusterParams,
    masters: &[&Node],
) -> Result<String> {
    let cp = &params.master.cluster_cp_name;
    let info = instance.instantiated_vnf_info.as_ref();
    if let Some(info) = info {
        for master in masters {
            if let Some(vnfc) = info
                .vnfc_resource_info
                .iter()
                .find(|v| v.id == master.vnfc_id)
                && let Some(address) = cp_address(info, vnfc, cp)
            {
                return Ok(address);
            }
        }
        if let Some(address) = info
            .vip_cp_info
            .iter()
            .filter(|v| &v.cpd_id == cp)
            .find_map(|v| first_address(&v.cp_protocol_info))
            .or_else(|| {
                info.ext_cp_info
                    .iter()
                    .filter(|e| &e.cpd_id == cp)
                    .find_map(|e| first_address(&e.cp_protocol_info))
            })
        {
            return Ok(address);
        }
    }
    Err(Error::Unprocessable(format!(
        "{}.cluster_cp_name: no master VNFC, VIP CP or external CP '{cp}' of VNF instance {} has an address",
        params.master.node.field, instance.id
    )))
}

/// One hook's work: the parameters, the script, the nodes as the instance has them.
struct Run<'a> {
    driver: &'a KubernetesClusterMgmtDriver,
    ctx: &'a MgmtContext<'a>,
    params: ClusterParams,
    script_name: String,
    script: Vec<u8>,
    nodes: Vec<Node>,
}

impl<'a> Run<'a> {
    async fn new(
        driver: &'a KubernetesClusterMgmtDriver,
        ctx: &'a MgmtContext<'a>,
        params: ClusterParams,
    ) -> Result<Self> {
        let script = ctx.package.read(&params.script_path).await.map_err(|e| {
            Error::Unprocessable(format!(
                "additionalParams.{PARAM}.script_path: '{}' cannot be read from the package: {e}",
                params.script_path
            ))
        })?;
        let script_name = params
            .script_path
            .rsplit('/')
            .next()
            .unwrap_or("install.sh")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let nodes = nodes_of(ctx.vnf_instance, &params)?;
        Ok(Self {
            driver,
            ctx,
            params,
            script_name,
            script,
            nodes,
        })
    }

    fn cancel(&self) -> &CancellationToken {
        self.ctx.cancel
    }

    fn masters(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.role == Role::Master)
            .collect()
    }

    fn node_params(&self, role: Role) -> Result<&NodeParams> {
        self.params.nodes(role).ok_or_else(|| {
            Error::Unprocessable(format!("additionalParams.{PARAM}.worker_node: is required"))
        })
    }

    fn target(&self, node: &Node) -> Result<Target> {
        let params = self.node_params(node.role)?;
        Ok(Target {
            label: node.label.clone(),
            host: node.ssh_address.clone(),
            port: params.ssh_port,
            username: params.username.clone(),
            credentials: params.credentials.clone(),
            host_keys: params.host_keys.clone(),
        })
    }

    /// The parameters every action gets.
    fn base_env(&self, node: &Node, api_address: &str) -> Vec<(&'static str, String)> {
        let masters: Vec<&str> = self
            .masters()
            .iter()
            .map(|m| m.nic_address.as_str())
            .collect();
        let mut env = vec![
            ("K8S_NODE_ROLE", node.role.as_str().to_owned()),
            ("K8S_NODE_ADDRESS", node.nic_address.clone()),
            ("K8S_API_ADDRESS", api_address.to_owned()),
            ("K8S_MASTER_ADDRESSES", masters.join(",")),
        ];
        let optional = [
            ("K8S_POD_CIDR", &self.params.master.pod_cidr),
            ("K8S_SERVICE_CIDR", &self.params.master.cluster_cidr),
            ("K8S_HTTP_PROXY", &self.params.proxy.http_proxy),
            ("K8S_HTTPS_PROXY", &self.params.proxy.https_proxy),
            ("K8S_NO_PROXY", &self.params.proxy.no_proxy),
            ("K8S_NODE_CIDR", &self.params.proxy.k8s_node_cidr),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                env.push((name, value.clone()));
            }
        }
        env
    }

    /// Uploads the script to `node` and runs one action there.
    async fn act(
        &self,
        node: &Node,
        action: Action,
        env: &[(&'static str, String)],
    ) -> Result<ScriptOutput> {
        let settings = &self.driver.ssh;
        let target = self.target(node)?;
        tracing::info!(
            node = node.label,
            action = action.as_str(),
            script = self.params.script_path,
            "connecting to run the cluster script"
        );
        let session = Session::connect(&target, settings, self.cancel())
            .await
            .map_err(|e| self.driver.ssh_error(e))?;
        let result = async {
            let path = session
                .upload(
                    &settings.remote_dir,
                    &self.script_name,
                    &self.script,
                    settings.upload_timeout,
                    self.cancel(),
                )
                .await?;
            let command = command_line(&path, action, env);
            let shown: Vec<&str> = env
                .iter()
                .filter(|(name, _)| !is_secret(name))
                .map(|(name, _)| *name)
                .collect();
            tracing::info!(
                node = node.label,
                action = action.as_str(),
                script = path,
                env = shown.join(","),
                "running the cluster script"
            );
            let what = format!("`{} {}`", self.params.script_path, action.as_str());
            session
                .run(
                    &command,
                    &what,
                    MARKER,
                    settings.command_timeout,
                    self.cancel(),
                )
                .await
        }
        .await;
        session.close().await;
        let output = result.map_err(|e| self.driver.ssh_error(e))?;
        if output.status != Some(0) {
            let how = match (&output.status, &output.signal) {
                (Some(status), _) => format!("exited with status {status}"),
                (None, Some(signal)) => format!("was killed by signal {signal}"),
                (None, None) => "ended without an exit status".to_owned(),
            };
            tracing::warn!(
                node = node.label,
                action = action.as_str(),
                how,
                stderr = output.stderr_tail,
                "the cluster script failed"
            );
            return Err(self.driver.error(
                false,
                format!(
                    "{}: `{} {}` {how}{}",
                    node.label,
                    self.params.script_path,
                    action.as_str(),
                    stderr_suffix(&output.stderr_tail)
                ),
            ));
        }
        Ok(ScriptOutput::parse(&output.marked_lines))
    }

    fn bad_output(&self, node: &Node, action: Action, problem: String) -> Error {
        self.driver.error(
            false,
            format!(
                "{}: `{} {}` succeeded but {problem}",
                node.label,
                self.params.script_path,
                action.as_str()
            ),
        )
    }

    fn state_of(&self, node: &Node, output: &ScriptOutput) -> NodeState {
        NodeState {
            vnfc_id: node.vnfc_id.clone(),
            vdu_id: node.vdu_id.clone(),
            role: node.role,
            name: output
                .get("node_name")
                .map(str::to_owned)
                .unwrap_or_else(|| node.nic_address.clone()),
            address: node.nic_address.clone(),
        }
    }

    /// Installs the cluster: the first master, then the other masters, then the workers.
    async fn install(&self) -> Result<(AccessInfo, Vec<NodeState>)> {
        let masters = self.masters();
        let Some(first) = masters.first().copied() else {
            return Err(Error::Unprocessable(format!(
                "{}.vdu_id: VNF instance {} has no VNFC of VDU {}",
                self.params.master.node.field,
                self.ctx.vnf_instance.id,
                self.params.master.node.vdu_id
            )));
        };
        let api = api_address(self.ctx.vnf_instance, &self.params, &masters)?;
        let output = self
            .act(first, Action::Install, &self.base_env(first, &api))
            .await?;
        let access = AccessInfo::from_output(&output)
            .map_err(|problem| self.bad_output(first, Action::Install, problem))?;
        let mut states = vec![self.state_of(first, &output)];
        let others: Vec<&Node> = masters[1..]
            .iter()
            .copied()
            .chain(self.nodes.iter().filter(|n| n.role == Role::Worker))
            .collect();
        if !others.is_empty() {
            let join = JoinInfo::from_output(&output, masters.len() > 1)
                .map_err(|problem| self.bad_output(first, Action::Install, problem))?;
            for node in others {
                states.push(self.join(node, &join, &api).await?);
            }
        }
        Ok((access, states))
    }

    /// Joins a node with the given join parameters.
    async fn join(&self, node: &Node, join: &JoinInfo, api: &str) -> Result<NodeState> {
        let action = match node.role {
            Role::Master => Action::JoinMaster,
            Role::Worker => Action::JoinWorker,
        };
        let mut env = self.base_env(node, api);
        env.push(("K8S_JOIN_TOKEN", join.token.clone()));
        env.push(("K8S_CA_CERT_HASH", join.ca_cert_hash.clone()));
        if node.role == Role::Master {
            let key = join.certificate_key.clone().ok_or_else(|| {
                self.driver.error(
                    false,
                    format!("{}: no certificate key to join a master with", node.label),
                )
            })?;
            env.push(("K8S_CERTIFICATE_KEY", key));
        }
        let output = self.act(node, action, &env).await?;
        Ok(self.state_of(node, &output))
    }

    /// Fresh join parameters from a master.
    async fn token(&self, master: &Node, api: &str, for_masters: bool) -> Result<JoinInfo> {
        let output = self
            .act(master, Action::Token, &self.base_env(master, api))
            .await?;
        JoinInfo::from_output(&output, for_masters)
            .map_err(|problem| self.bad_output(master, Action::Token, problem))
    }

    /// Drains and deletes `victim` through the master `via`.
    async fn remove(&self, via: &Node, victim: &NodeState, api: &str) -> Result<()> {
        let mut env = self.base_env(via, api);
        env.push(("K8S_REMOVE_NODE_NAME", victim.name.clone()));
        env.push(("K8S_REMOVE_NODE_ROLE", victim.role.as_str().to_owned()));
        env.push(("K8S_REMOVE_NODE_ADDRESS", victim.address.clone()));
        tracing::info!(
            via = via.label,
            node = victim.name,
            role = victim.role.as_str(),
            "removing a node from the cluster"
        );
        self.act(via, Action::RemoveNode, &env).await.map(drop)
    }

    /// The VIM of the cluster.
    fn vim(&self, access: &AccessInfo) -> VimConnectionInfo {
        let mut interface_info = KeyValuePairs::new();
        interface_info.insert("endpoint".into(), json!(access.server));
        interface_info.insert("ssl_ca_cert".into(), json!(access.ssl_ca_cert));
        let mut access_info = KeyValuePairs::new();
        match &access.auth {
            ApiAuth::BearerToken(token) => {
                access_info.insert("bearer_token".into(), json!(token));
            }
            ApiAuth::Basic { username, password } => {
                access_info.insert("username".into(), json!(username));
                access_info.insert("password".into(), json!(password));
            }
        }
        VimConnectionInfo {
            vim_id: None,
            vim_type: KUBERNETES_VIM_TYPE.to_owned(),
            interface_info,
            access_info,
            extra: KeyValuePairs::new(),
        }
    }

    fn state(
        &self,
        vim_name: String,
        server: String,
        nodes: Vec<NodeState>,
    ) -> Result<ClusterState> {
        Ok(ClusterState {
            vim_name,
            server,
            nodes,
            sealed_params: self.driver.seal(
                self.ctx.tenant,
                &self.ctx.vnf_instance.id,
                &self.params,
            )?,
        })
    }

    /// Installs and reports the cluster as the VIM to register.
    async fn install_outcome(&self) -> Result<MgmtOutcome> {
        let (access, nodes) = self.install().await?;
        let previous = ClusterState::of(self.ctx.vnf_instance)?.map(|s| s.vim_name);
        let vim_name = match &previous {
            // A heal re-installs the cluster under the name it is registered under.
            Some(name) if self.params.vim_name.is_none() => name.clone(),
            _ => self.params.vim_name_for(&self.ctx.vnf_instance.id),
        };
        let state = self.state(vim_name.clone(), access.server.clone(), nodes)?;
        let mut outcome = MgmtOutcome::new();
        if let Some(previous) = previous.filter(|p| p != &vim_name) {
            outcome = outcome.with_deregistered_vim(previous);
        }
        Ok(outcome
            .with_registered_vim(vim_name, self.vim(&access))
            .with_metadata_entry(
                METADATA_KEY,
                serde_json::to_value(&state).unwrap_or_default(),
            ))
    }

    /// A master of `state` that is present and not in `excluded`.
    fn healthy_master(&self, state: &ClusterState, excluded: &BTreeSet<&str>) -> Option<&Node> {
        self.nodes.iter().find(|n| {
            n.role == Role::Master
                && !excluded.contains(n.vnfc_id.as_str())
                && state.nodes.iter().any(|s| s.vnfc_id == n.vnfc_id)
        })
    }

    fn no_master(&self, what: &str) -> Error {
        self.driver.error(
            false,
            format!(
                "no master node of the cluster of VNF instance {} is left to {what} through",
                self.ctx.vnf_instance.id
            ),
        )
    }

    /// Removes the nodes of `victims` (VNFC ids) through a master not among them.
    async fn remove_nodes(&self, state: &ClusterState, victims: &BTreeSet<&str>) -> Result<()> {
        let leaving: Vec<&NodeState> = state
            .nodes
            .iter()
            .filter(|n| victims.contains(n.vnfc_id.as_str()))
            .collect();
        if leaving.is_empty() {
            return Ok(());
        }
        let via = self
            .healthy_master(state, victims)
            .ok_or_else(|| self.no_master("remove nodes"))?;
        let api = api_address(self.ctx.vnf_instance, &self.params, &[via])?;
        for victim in leaving {
            self.remove(via, victim, &api).await?;
        }
        Ok(())
    }

    /// Brings the cluster to the instance's VNFCs: joins VNFCs that are not nodes and
    /// those in `rejoin`. With `remove_departed` (no `*_start` hook did it), first
    /// removes the nodes whose VNFC is gone and those in `rejoin`.
    async fn reconcile(
        &self,
        state: ClusterState,
        rejoin: &BTreeSet<&str>,
        remove_departed: bool,
    ) -> Result<MgmtOutcome> {
        let present: BTreeSet<&str> = self.nodes.iter().map(|n| n.vnfc_id.as_str()).collect();
        if remove_departed {
            let leaving: BTreeSet<&str> = state
                .nodes
                .iter()
                .map(|n| n.vnfc_id.as_str())
                .filter(|id| !present.contains(id) || rejoin.contains(id))
                .collect();
            self.remove_nodes(&state, &leaving).await?;
        }
        let joining: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| {
                rejoin.contains(n.vnfc_id.as_str())
                    || !state.nodes.iter().any(|s| s.vnfc_id == n.vnfc_id)
            })
            .collect();
        let mut nodes: Vec<NodeState> = state
            .nodes
            .iter()
            .filter(|s| present.contains(s.vnfc_id.as_str()))
            .cloned()
            .collect();
        if !joining.is_empty() {
            let excluded: BTreeSet<&str> = joining.iter().map(|n| n.vnfc_id.as_str()).collect();
            let via = self
                .healthy_master(&state, &excluded)
                .ok_or_else(|| self.no_master("join nodes"))?;
            let api = api_address(self.ctx.vnf_instance, &self.params, &[via])?;
            let for_masters = joining.iter().any(|n| n.role == Role::Master);
            let join = self.token(via, &api, for_masters).await?;
            // Masters first, then workers, each in VNFC order.
            let mut ordered = joining.clone();
            ordered.sort_by_key(|n| n.role == Role::Worker);
            for node in ordered {
                let joined = self.join(node, &join, &api).await?;
                nodes.retain(|s| s.vnfc_id != joined.vnfc_id);
                nodes.push(joined);
            }
        }
        // Keep the order of the instance's VNFCs.
        let order: BTreeMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.vnfc_id.as_str(), i))
            .collect();
        nodes.sort_by_key(|n| order.get(n.vnfc_id.as_str()).copied().unwrap_or(usize::MAX));
        let state = self.state(state.vim_name, state.server, nodes)?;
        Ok(MgmtOutcome::new().with_metadata_entry(
            METADATA_KEY,
            serde_json::to_value(&state).unwrap_or_default(),
        ))
    }
}

fn is_secret(name: &str) -> bool {
    matches!(name, "K8S_JOIN_TOKEN" | "K8S_CERTIFICATE_KEY")
}

/// The VNFCs a scale-in removes, as the engine's grant and infra drivers pick them: per
/// VDU, the last ones of `vnfcResourceInfo` beyond the new count.
fn scale_in_victims(
    flavour: &DeploymentFlavour,
    info: &InstantiatedVnfInfo,
    request: &OpRequest,
) -> BTreeSet<String> {
    let before: BTreeMap<String, u32> = info
        .scale_status
        .iter()
        .map(|s| (s.aspect_id.clone(), s.scale_level))
        .collect();
    let mut after = before.clone();
    match request {
        OpRequest::Scale(r) => {
            if r.scale_type != ScaleType::ScaleIn {
                return BTreeSet::new();
            }
            let current = before.get(&r.aspect_id).copied().unwrap_or(0);
            let steps = r.number_of_steps.unwrap_or(1);
            after.insert(r.aspect_id.clone(), current.saturating_sub(steps));
        }
        OpRequest::ScaleToLevel(r) => match &r.instantiation_level_id {
            Some(level) => after.extend(flavour.scale_levels_at(Some(level))),
            None => {
                for info in &r.scale_info {
                    after.insert(info.aspect_id.clone(), info.scale_level);
                }
            }
        },
        _ => return BTreeSet::new(),
    }
    let mut victims = BTreeSet::new();
    for vdu in &flavour.vdus {
        let (old, new) = (
            flavour.vdu_instances(vdu, &before),
            flavour.vdu_instances(vdu, &after),
        );
        if new < old {
            let of_vdu: Vec<&str> = info
                .vnfc_resource_info
                .iter()
                .filter(|v| v.vdu_id == vdu.id)
                .map(|v| v.id.as_str())
                .collect();
            let keep = usize::try_from(new).unwrap_or(usize::MAX).min(of_vdu.len());
            victims.extend(of_vdu[keep..].iter().map(|v| (*v).to_owned()));
        }
    }
    victims
}

/// Whether the `*_start` hook of the running operation is bound to an implementation
/// (then it removed the departing nodes already).
fn start_bound(ctx: &MgmtContext<'_>) -> bool {
    let start = tacker_core::vnfd::LcmHook::new(ctx.hook.operation, HookPhase::Start);
    ctx.flavour
        .lcm_operation(&start.sol001_name())
        .is_some_and(|b| b.implementation.is_some())
}

fn heal_targets(request: &OpRequest) -> Option<Vec<String>> {
    match request {
        OpRequest::Heal(r) if !r.vnfc_instance_id.is_empty() => Some(r.vnfc_instance_id.clone()),
        _ => None,
    }
}

#[async_trait]
impl MgmtDriver for KubernetesClusterMgmtDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        let operation = ctx.hook.operation;
        let params = match (operation, ctx.hook.phase) {
            (Op::Instantiate, HookPhase::End) => self.params_for(
                ctx.tenant,
                ctx.vnf_instance,
                Some(ctx.additional_params),
                true,
            )?,
            (Op::Scale | Op::ScaleToLevel | Op::Heal, HookPhase::Start | HookPhase::End) => self
                .params_for(
                    ctx.tenant,
                    ctx.vnf_instance,
                    Some(ctx.additional_params),
                    false,
                )?,
            _ => return Ok(()),
        };
        params.check_against(ctx.flavour, ctx.package)?;
        if operation == Op::Instantiate
            && let Some(vims) = ctx.vims
        {
            let name = params.vim_name_for(&ctx.vnf_instance.id);
            let taken = vims
                .list(ctx.tenant, &ListQuery::all())
                .await?
                .items
                .into_iter()
                .find(|v| {
                    v.name == name
                        && v.extra
                            .get(PRODUCED_BY_VNF_INSTANCE)
                            .and_then(Value::as_str)
                            != Some(ctx.vnf_instance.id.as_str())
                });
            if let Some(taken) = taken {
                return Err(Error::Unprocessable(format!(
                    "additionalParams.{PARAM}.vim_name: a VIM named '{name}' is already registered ({}); choose another name",
                    taken.id
                )));
            }
        }
        if operation == Op::Heal
            && let Ok(request) = OpRequest::from_params(Op::Heal, ctx.request)
            && let Some(targets) = heal_targets(&request)
            && let Some(state) = ClusterState::of(ctx.vnf_instance)?
        {
            let masters: Vec<&NodeState> = state
                .nodes
                .iter()
                .filter(|n| n.role == Role::Master)
                .collect();
            if !masters.is_empty() && masters.iter().all(|m| targets.contains(&m.vnfc_id)) {
                return Err(Error::Unprocessable(format!(
                    "vnfcInstanceId: names every master of the cluster ({}); a master is healed through another one, so heal them one at a time or heal the whole VNF (no vnfcInstanceId) to re-install the cluster",
                    masters
                        .iter()
                        .map(|m| m.vnfc_id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let operation = ctx.hook.operation;
        let phase = ctx.hook.phase;
        let hook = ctx.hook.sol001_name();
        tracing::info!(
            vnf_instance = ctx.vnf_instance.id,
            hook,
            "Kubernetes cluster hook"
        );
        let additional = request_additional_params(ctx);
        let request = OpRequest::from_params(
            operation,
            ctx.op_occ.operation_params.as_ref().unwrap_or(&Value::Null),
        )
        .ok();
        match (operation, phase) {
            (Op::Instantiate, HookPhase::End) => {
                let params =
                    self.params_for(ctx.tenant, ctx.vnf_instance, additional.as_ref(), true)?;
                Run::new(self, ctx, params).await?.install_outcome().await
            }
            (Op::Terminate, HookPhase::End) => {
                // The VMs are gone; only the VIM registration is left to undo.
                Ok(match ClusterState::of(ctx.vnf_instance)? {
                    Some(state) => MgmtOutcome::new()
                        .with_deregistered_vim(state.vim_name)
                        .with_metadata_entry(METADATA_KEY, Value::Null),
                    None => MgmtOutcome::new(),
                })
            }
            (Op::Scale | Op::ScaleToLevel, HookPhase::Start) => {
                let (Some(request), Some(info)) =
                    (request, ctx.vnf_instance.instantiated_vnf_info.as_ref())
                else {
                    return Ok(MgmtOutcome::default());
                };
                let victims = scale_in_victims(ctx.flavour, info, &request);
                let Some(state) = ClusterState::of(ctx.vnf_instance)? else {
                    return Ok(MgmtOutcome::default());
                };
                if victims.is_empty() {
                    return Ok(MgmtOutcome::default());
                }
                let params =
                    self.params_for(ctx.tenant, ctx.vnf_instance, additional.as_ref(), false)?;
                let run = Run::new(self, ctx, params).await?;
                let victims: BTreeSet<&str> = victims.iter().map(String::as_str).collect();
                run.remove_nodes(&state, &victims).await?;
                Ok(MgmtOutcome::default())
            }
            (Op::Scale | Op::ScaleToLevel, HookPhase::End) => {
                let Some(state) = ClusterState::of(ctx.vnf_instance)? else {
                    return Ok(MgmtOutcome::default());
                };
                let params =
                    self.params_for(ctx.tenant, ctx.vnf_instance, additional.as_ref(), false)?;
                Run::new(self, ctx, params)
                    .await?
                    .reconcile(state, &BTreeSet::new(), !start_bound(ctx))
                    .await
            }
            (Op::Heal, HookPhase::Start) => {
                let Some(targets) = request.as_ref().and_then(heal_targets) else {
                    // Healing the whole VNF re-installs the cluster at heal_end.
                    return Ok(MgmtOutcome::default());
                };
                let Some(state) = ClusterState::of(ctx.vnf_instance)? else {
                    return Ok(MgmtOutcome::default());
                };
                let params =
                    self.params_for(ctx.tenant, ctx.vnf_instance, additional.as_ref(), false)?;
                let run = Run::new(self, ctx, params).await?;
                let victims: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
                run.remove_nodes(&state, &victims).await?;
                Ok(MgmtOutcome::default())
            }
            (Op::Heal, HookPhase::End) => {
                let params =
                    self.params_for(ctx.tenant, ctx.vnf_instance, additional.as_ref(), false)?;
                let run = Run::new(self, ctx, params).await?;
                match (
                    request.as_ref().and_then(heal_targets),
                    ClusterState::of(ctx.vnf_instance)?,
                ) {
                    (Some(targets), Some(state)) => {
                        let rejoin: BTreeSet<&str> = targets.iter().map(String::as_str).collect();
                        run.reconcile(state, &rejoin, !start_bound(ctx)).await
                    }
                    _ => run.install_outcome().await,
                }
            }
            _ => {
                tracing::info!(
                    vnf_instance = ctx.vnf_instance.id,
                    hook,
                    "nothing to do for this hook"
                );
                Ok(MgmtOutcome::default())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc as StdArc;

    #[test]
    fn state_round_trips_through_metadata() {
        let state = ClusterState {
            vim_name: "c".into(),
            server: "https://10.0.0.1:6443".into(),
            nodes: vec![NodeState {
                vnfc_id: "v1".into(),
                vdu_id: "masterNode".into(),
                role: Role::Master,
                name: "m1".into(),
                address: "10.0.0.1".into(),
            }],
            sealed_params: Sealed("sealed".into()),
        };
        let mut instance = tacker_core::sim::sample_instance("vnf-1", "vnfd");
        instance.metadata.insert(
            METADATA_KEY.into(),
            serde_json::to_value(&state).expect("json"),
        );
        assert_eq!(ClusterState::of(&instance).expect("state"), Some(state));
        instance.metadata.insert(METADATA_KEY.into(), json!(3));
        assert!(ClusterState::of(&instance).is_err());
        let driver = KubernetesClusterMgmtDriver::new(Sealer::ephemeral().expect("key")).named("x");
        assert_eq!(driver.name(), "x");
        let _ = StdArc::new(driver);
    }
}
