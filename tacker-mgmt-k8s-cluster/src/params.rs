//! `additionalParams.k8s_cluster_installation_param`: parsing, and the checks against
//! the VNFD and the package that run when an operation is requested.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value};
use tacker_core::model::KeyValuePairs;
use tacker_core::package::PackageFiles;
use tacker_core::vnfd::DeploymentFlavour;
use tacker_core::{Error, Result};

use crate::hostkey::HostKeyPolicy;
use crate::ssh::Credentials;
use russh::keys::PrivateKey;

/// The `additionalParams` key the driver reads.
pub const PARAM: &str = "k8s_cluster_installation_param";

/// The role of a node in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A control-plane node.
    Master,
    /// A worker node.
    Worker,
}

impl Role {
    /// `master` or `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Master => "master",
            Self::Worker => "worker",
        }
    }
}

/// How to reach the nodes of one VDU.
#[derive(Debug, Clone)]
pub struct NodeParams {
    /// `additionalParams.k8s_cluster_installation_param.master_node` or `…worker_node`.
    pub field: String,
    /// The VDU whose VNFCs are these nodes.
    pub vdu_id: String,
    /// The CP whose address SSH connects to.
    pub ssh_cp_name: String,
    /// The CP whose address the cluster uses (the node's internal address).
    pub nic_cp_name: String,
    /// The SSH port (`ssh_port`, default 22).
    pub ssh_port: u16,
    /// The user to log in as.
    pub username: String,
    /// Password or private key.
    pub credentials: Credentials,
    /// The host keys the nodes may present.
    pub host_keys: Arc<HostKeyPolicy>,
}

/// The parameters of the master nodes.
#[derive(Debug, Clone)]
pub struct MasterParams {
    /// How to reach them.
    pub node: NodeParams,
    /// The CP that gives the cluster's API address: a CP of the master VDU (the first
    /// master's address) or an external CP.
    pub cluster_cp_name: String,
    /// The pod network CIDR (`kubeadm init --pod-network-cidr`).
    pub pod_cidr: Option<String>,
    /// The service CIDR (`kubeadm init --service-cidr`).
    pub cluster_cidr: Option<String>,
}

/// Proxy settings for the nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyParams {
    /// `http_proxy`.
    pub http_proxy: Option<String>,
    /// `https_proxy`.
    pub https_proxy: Option<String>,
    /// `no_proxy`.
    pub no_proxy: Option<String>,
    /// The CIDR of the nodes' addresses, added to `no_proxy`.
    pub k8s_node_cidr: Option<String>,
}

/// `k8s_cluster_installation_param`, parsed and checked. `Debug` shows no secret.
#[derive(Clone)]
pub struct ClusterParams {
    /// The installation script: a path inside the package.
    pub script_path: String,
    /// The name to register the cluster's VIM under; `None` for
    /// `kubernetes_vim_<vnfInstanceId>`.
    pub vim_name: Option<String>,
    /// The masters.
    pub master: MasterParams,
    /// The workers (a cluster of masters only has none).
    pub worker: Option<NodeParams>,
    /// Proxy settings.
    pub proxy: ProxyParams,
    /// The parameters as given, to be recorded sealed.
    pub raw: Value,
}

impl std::fmt::Debug for ClusterParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterParams")
            .field("script_path", &self.script_path)
            .field("vim_name", &self.vim_name)
            .field("master", &self.master)
            .field("worker", &self.worker)
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

fn unprocessable(field: &str, message: impl std::fmt::Display) -> Error {
    Error::Unprocessable(format!("{field}: {message}"))
}

/// A JSON object and the field path that leads to it.
struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(path: String, value: &'a Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Self { path, map }),
            other => Err(unprocessable(
                &path,
                format!("must be an object, not {}", kind(other)),
            )),
        }
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
            Some(Value::String(_)) => Err(unprocessable(&self.field(key), "must not be empty")),
            Some(other) => Err(unprocessable(
                &self.field(key),
                format!("must be a string, not {}", kind(other)),
            )),
        }
    }

    fn required(&self, key: &str) -> Result<String> {
        self.string(key)?
            .ok_or_else(|| unprocessable(&self.field(key), "is required"))
    }

    fn strings(&self, key: &str) -> Result<Vec<String>> {
        match self.present(key) {
            None => Ok(Vec::new()),
            Some(Value::String(text)) => Ok(vec![text.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(unprocessable(
                        &format!("{}[{i}]", self.field(key)),
                        format!("must be a string, not {}", kind(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(unprocessable(
                &self.field(key),
                format!("must be a string or a list of strings, not {}", kind(other)),
            )),
        }
    }

    fn object(&self, key: &str) -> Result<Option<Fields<'a>>> {
        self.present(key)
            .map(|value| Fields::of(self.field(key), value))
            .transpose()
    }

    fn port(&self, key: &str) -> Result<Option<u16>> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| unprocessable(&self.field(key), "must be a port, 1 to 65535")),
            Some(other) => Err(unprocessable(
                &self.field(key),
                format!("must be a number, not {}", kind(other)),
            )),
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Whether `text` is an IPv4 or IPv6 CIDR such as `10.244.0.0/16`.
pub fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<IpAddr>() else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    prefix <= if address.is_ipv4() { 32 } else { 128 }
}

fn cidr(fields: &Fields<'_>, key: &str) -> Result<Option<String>> {
    let value = fields.string(key)?;
    if let Some(text) = &value
        && !is_cidr(text)
    {
        return Err(unprocessable(
            &fields.field(key),
            format!("'{text}' is not a CIDR such as 10.244.0.0/16"),
        ));
    }
    Ok(value)
}

/// What the operator configured for every cluster: used where a request is silent, and
/// deciding whether a request may name host keys.
#[derive(Clone, Default)]
pub struct OperatorDefaults {
    /// The key to log in with when a node gives neither `password` nor `private_key`.
    pub private_key: Option<Arc<PrivateKey>>,
    /// The operator's `known_hosts`: it decides for the hosts it has entries for; the
    /// request's fingerprints and `known_hosts` (when accepted) for the others.
    pub known_hosts: Option<Arc<HostKeyPolicy>>,
    /// Whether a request may give `ssh_host_key_fingerprints` and `known_hosts` (default
    /// true). When false, only the operator's `known_hosts` decides.
    pub reject_request_host_keys: bool,
}

impl std::fmt::Debug for OperatorDefaults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorDefaults")
            .field(
                "private_key",
                &self
                    .private_key
                    .as_ref()
                    .map(|k| k.algorithm().as_str().to_owned()),
            )
            .field("known_hosts", &self.known_hosts)
            .field("reject_request_host_keys", &self.reject_request_host_keys)
            .finish()
    }
}

fn node(fields: &Fields<'_>, defaults: &OperatorDefaults) -> Result<NodeParams> {
    let username = fields.required("username")?;
    let password = fields.string("password")?;
    let private_key = fields.string("private_key")?;
    let passphrase = fields.string("private_key_passphrase")?;
    let credentials = match (password, private_key) {
        (Some(_), Some(_)) => {
            return Err(unprocessable(
                &fields.path,
                "give password or private_key, not both",
            ));
        }
        (None, None) => match &defaults.private_key {
            Some(key) => Credentials::PrivateKey(key.clone()),
            None => {
                return Err(unprocessable(
                    &fields.field("password"),
                    "is required (or private_key; the operator configured no SSH key)",
                ));
            }
        },
        (Some(password), None) => Credentials::Password(password),
        (None, Some(pem)) => {
            let key = russh::keys::decode_secret_key(&pem, passphrase.as_deref()).map_err(|e| {
                unprocessable(
                    &fields.field("private_key"),
                    format!("is not a readable OpenSSH or PEM private key (ed25519 or ECDSA): {e}"),
                )
            })?;
            Credentials::PrivateKey(Arc::new(key))
        }
    };
    let fingerprints = fields.strings("ssh_host_key_fingerprints")?;
    let known_hosts = fields.string("known_hosts")?;
    if defaults.reject_request_host_keys && (!fingerprints.is_empty() || known_hosts.is_some()) {
        let field = if known_hosts.is_some() {
            "known_hosts"
        } else {
            "ssh_host_key_fingerprints"
        };
        return Err(unprocessable(
            &fields.field(field),
            "host keys come from the operator's known_hosts only; the request may not give them",
        ));
    }
    if let Some(operator) = &defaults.known_hosts {
        let mut policy = HostKeyPolicy::clone(operator);
        if !fingerprints.is_empty() || known_hosts.is_some() {
            let request = HostKeyPolicy::new(&fingerprints, known_hosts.as_deref())
                .map_err(|e| host_key_error(fields, known_hosts.is_some(), e))?;
            policy = policy.with_fallback(request);
        }
        return node_params(fields, username, credentials, policy);
    }
    let host_keys = HostKeyPolicy::new(&fingerprints, known_hosts.as_deref())
        .map_err(|e| host_key_error(fields, known_hosts.is_some(), e))?;
    node_params(fields, username, credentials, host_keys)
}

fn host_key_error(fields: &Fields<'_>, known_hosts: bool, e: String) -> Error {
    let field = if known_hosts && !e.starts_with('[') {
        fields.field("known_hosts")
    } else {
        fields.field("ssh_host_key_fingerprints")
    };
    unprocessable(&field, e)
}

fn node_params(
    fields: &Fields<'_>,
    username: String,
    credentials: Credentials,
    host_keys: HostKeyPolicy,
) -> Result<NodeParams> {
    Ok(NodeParams {
        field: fields.path.clone(),
        vdu_id: fields.required("vdu_id")?,
        ssh_cp_name: fields.required("ssh_cp_name")?,
        nic_cp_name: fields.required("nic_cp_name")?,
        ssh_port: fields.port("ssh_port")?.unwrap_or(22),
        username,
        credentials,
        host_keys: Arc::new(host_keys),
    })
}

impl ClusterParams {
    /// Reads `k8s_cluster_installation_param` from `additionalParams`; `None` when absent.
    /// Errors are `Unprocessable` naming the field.
    pub fn from_additional_params(params: &KeyValuePairs) -> Result<Option<Self>> {
        Self::from_additional_params_with(params, &OperatorDefaults::default())
    }

    /// The same, falling back on the operator's defaults.
    pub fn from_additional_params_with(
        params: &KeyValuePairs,
        defaults: &OperatorDefaults,
    ) -> Result<Option<Self>> {
        match params.get(PARAM).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(value) => Self::parse_with(value, defaults).map(Some),
        }
    }

    /// Reads the parameters themselves, without operator defaults.
    pub fn parse(value: &Value) -> Result<Self> {
        Self::parse_with(value, &OperatorDefaults::default())
    }

    /// Reads the parameters, falling back on the operator's defaults.
    pub fn parse_with(value: &Value, defaults: &OperatorDefaults) -> Result<Self> {
        let top = Fields::of(format!("additionalParams.{PARAM}"), value)?;
        let script_path = top.required("script_path")?;
        let vim_name = top.string("vim_name")?;
        if let Some(name) = &vim_name
            && name.len() > 255
        {
            return Err(unprocessable(
                &top.field("vim_name"),
                "is longer than 255 characters",
            ));
        }
        let master_fields = top
            .object("master_node")?
            .ok_or_else(|| unprocessable(&top.field("master_node"), "is required"))?;
        let master = MasterParams {
            node: node(&master_fields, defaults)?,
            cluster_cp_name: master_fields.required("cluster_cp_name")?,
            pod_cidr: cidr(&master_fields, "pod_cidr")?,
            cluster_cidr: cidr(&master_fields, "cluster_cidr")?,
        };
        let worker = top
            .object("worker_node")?
            .map(|w| node(&w, defaults))
            .transpose()?;
        let proxy = match top.object("proxy")? {
            None => ProxyParams::default(),
            Some(proxy) => ProxyParams {
                http_proxy: proxy.string("http_proxy")?,
                https_proxy: proxy.string("https_proxy")?,
                no_proxy: proxy.string("no_proxy")?,
                k8s_node_cidr: cidr(&proxy, "k8s_node_cidr")?,
            },
        };
        if let Some(worker) = &worker
            && worker.vdu_id == master.node.vdu_id
        {
            return Err(unprocessable(
                &format!("{}.vdu_id", worker.field),
                format!(
                    "'{}' is the master VDU too; masters and workers are VNFCs of different VDUs",
                    worker.vdu_id
                ),
            ));
        }
        Ok(Self {
            script_path,
            vim_name,
            master,
            worker,
            proxy,
            raw: value.clone(),
        })
    }

    /// The VIM name: `vim_name`, or `kubernetes_vim_<vnfInstanceId>`.
    pub fn vim_name_for(&self, vnf_instance_id: &str) -> String {
        self.vim_name
            .clone()
            .unwrap_or_else(|| format!("kubernetes_vim_{vnf_instance_id}"))
    }

    /// The node parameters of a role.
    pub fn nodes(&self, role: Role) -> Option<&NodeParams> {
        match role {
            Role::Master => Some(&self.master.node),
            Role::Worker => self.worker.as_ref(),
        }
    }

    /// Checks the VDUs and CPs against the flavour, and the script against the package.
    pub fn check_against(
        &self,
        flavour: &DeploymentFlavour,
        package: &dyn PackageFiles,
    ) -> Result<()> {
        if !package.paths().iter().any(|p| p == &self.script_path) {
            return Err(unprocessable(
                &format!("additionalParams.{PARAM}.script_path"),
                format!("'{}' is not a file of the VNF package", self.script_path),
            ));
        }
        for node in std::iter::once(&self.master.node).chain(self.worker.as_ref()) {
            if flavour.vdu(&node.vdu_id).is_none() {
                return Err(unprocessable(
                    &format!("{}.vdu_id", node.field),
                    format!(
                        "'{}' is not a VDU of flavour {} (VDUs: {})",
                        node.vdu_id,
                        flavour.id,
                        flavour
                            .vdus
                            .iter()
                            .map(|v| v.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let cps: Vec<&str> = flavour
                .cps_of(&node.vdu_id)
                .into_iter()
                .map(|cp| cp.id.as_str())
                .collect();
            for (key, cp) in [
                ("ssh_cp_name", &node.ssh_cp_name),
                ("nic_cp_name", &node.nic_cp_name),
            ] {
                if !cps.contains(&cp.as_str()) {
                    return Err(unprocessable(
                        &format!("{}.{key}", node.field),
                        format!(
                            "'{cp}' is not a CP of VDU {} (its CPs: {})",
                            node.vdu_id,
                            cps.join(", ")
                        ),
                    ));
                }
            }
        }
        let cluster_cp = &self.master.cluster_cp_name;
        let known = flavour.vdu_cps.iter().any(|cp| &cp.id == cluster_cp)
            || flavour.ext_cps.iter().any(|cp| &cp.id == cluster_cp);
        if !known {
            return Err(unprocessable(
                &format!("{}.cluster_cp_name", self.master.node.field),
                format!("'{cluster_cp}' is not a CP of flavour {}", flavour.id),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "script_path": "Scripts/install.sh",
            "vim_name": "cluster-a",
            "master_node": {
                "vdu_id": "masterNode",
                "ssh_cp_name": "masterNode_CP1",
                "nic_cp_name": "masterNode_CP1",
                "username": "ubuntu",
                "password": "secret",
                "ssh_host_key_fingerprints": ["SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"],
                "cluster_cp_name": "masterNode_CP1",
                "pod_cidr": "10.244.0.0/16",
                "cluster_cidr": "10.96.0.0/12"
            },
            "worker_node": {
                "vdu_id": "workerNode",
                "ssh_cp_name": "workerNode_CP1",
                "nic_cp_name": "workerNode_CP1",
                "username": "ubuntu",
                "password": "secret",
                "ssh_host_key_fingerprints": "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
            },
            "proxy": {"http_proxy": "http://proxy:3128", "k8s_node_cidr": "10.10.0.0/24"}
        })
    }

    fn error_of(value: Value) -> String {
        match ClusterParams::parse(&value) {
            Err(Error::Unprocessable(message)) => message,
            other => panic!("expected Unprocessable, got {other:?}"),
        }
    }

    #[test]
    fn valid_parameters_parse() {
        let params = ClusterParams::parse(&valid()).expect("valid");
        assert_eq!(params.vim_name_for("x"), "cluster-a");
        assert_eq!(params.master.node.ssh_port, 22);
        assert_eq!(params.proxy.k8s_node_cidr.as_deref(), Some("10.10.0.0/24"));
        assert!(params.worker.is_some());
        let debug = format!("{params:?}");
        assert!(!debug.contains("secret\""), "no password in Debug: {debug}");
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = valid();
        v["master_node"]
            .as_object_mut()
            .expect("object")
            .remove("username");
        assert_eq!(
            error_of(v),
            "additionalParams.k8s_cluster_installation_param.master_node.username: is required"
        );
        let mut v = valid();
        v["master_node"]["pod_cidr"] = json!("10.244.0.0");
        assert!(error_of(v).contains("master_node.pod_cidr: '10.244.0.0' is not a CIDR"));
        let mut v = valid();
        v["worker_node"]["ssh_host_key_fingerprints"] = json!(["SHA256:short"]);
        assert!(error_of(v).contains("worker_node.ssh_host_key_fingerprints: [0]"));
        let mut v = valid();
        v["worker_node"]
            .as_object_mut()
            .expect("object")
            .remove("ssh_host_key_fingerprints");
        assert!(error_of(v).contains("worker_node.ssh_host_key_fingerprints: no host key"));
        let mut v = valid();
        v["master_node"]["private_key"] = json!("not a key");
        assert!(error_of(v).contains("master_node: give password or private_key, not both"));
        let mut v = valid();
        v["master_node"]
            .as_object_mut()
            .expect("object")
            .remove("password");
        v["master_node"]["private_key"] = json!("not a key");
        assert!(error_of(v).contains("master_node.private_key: is not a readable"));
        let mut v = valid();
        v["master_node"]["ssh_port"] = json!(70000);
        assert!(error_of(v).contains("master_node.ssh_port: must be a port"));
        let mut v = valid();
        v["worker_node"]["vdu_id"] = json!("masterNode");
        assert!(error_of(v).contains("worker_node.vdu_id: 'masterNode' is the master VDU too"));
        assert!(error_of(json!("x")).contains("k8s_cluster_installation_param: must be an object"));
        let mut v = valid();
        v["master_node"]["known_hosts"] = json!("10.0.0.1 ssh-ed25519");
        assert!(error_of(v).contains("master_node.known_hosts: line 1"));
    }

    #[test]
    fn cidrs() {
        assert!(is_cidr("10.0.0.0/8"));
        assert!(is_cidr("fd00::/64"));
        assert!(!is_cidr("10.0.0.0/33"));
        assert!(!is_cidr("10.0.0.0"));
        assert!(!is_cidr("x/8"));
    }

    #[test]
    fn operator_defaults_fill_in_and_may_forbid_request_host_keys() {
        let mut v = valid();
        v["master_node"]
            .as_object_mut()
            .expect("object")
            .remove("password");
        assert!(error_of(v.clone()).contains("the operator configured no SSH key"));

        let known = HostKeyPolicy::new(
            &[],
            Some("10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ\n"),
        )
        .expect("known_hosts");
        let key = PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(
            &[7; 32],
        ));
        let defaults = OperatorDefaults {
            private_key: Some(Arc::new(key)),
            known_hosts: Some(Arc::new(known)),
            reject_request_host_keys: false,
        };
        let params = ClusterParams::parse_with(&v, &defaults).expect("the operator's key is used");
        assert!(matches!(
            params.master.node.credentials,
            Credentials::PrivateKey(_)
        ));

        let strict = OperatorDefaults {
            reject_request_host_keys: true,
            ..defaults
        };
        let Err(Error::Unprocessable(message)) = ClusterParams::parse_with(&v, &strict) else {
            panic!("request host keys are refused");
        };
        assert!(
            message.ends_with("master_node.ssh_host_key_fingerprints: host keys come from the operator's known_hosts only; the request may not give them"),
            "{message}"
        );
    }
}
