//! Ansible playbooks of a VNF package, run against the instance's VNFCs.
//!
//! A hook bound to an artifact the operator hands to [`AnsibleMgmtDriver`] runs the
//! artifact's file as a playbook (`ansible-playbook` of the interpreter the sandbox is
//! given: a virtual environment with `ansible-core`, e.g. `scripts/ansible.sh`), in the
//! sandbox, with the host's network (Ansible must reach the VNFCs). Typical bindings:
//! `instantiate_end`, `scale_end`, `heal_end`, `change_current_package_end`,
//! `modify_information_end` and `terminate_start`; any hook may be bound.
//!
//! **Inventory.** Every VNFC of the instance (as the hook sees it: before the operation
//! for `*_start` hooks, after it for `*_end` hooks) is a host named by its VNFC id, in
//! the group of its VDU (the VDU id, characters Ansible does not allow in group names
//! replaced by `_`), with `ansible_host` the first address of its CP named in
//! `additionalParams.ansible.cp.<vduId>` (default: its first CP with an address), and the
//! host variables `vdu_id` and `vnfc_id`. VNFCs without an address are left out.
//!
//! **Extra variables.** `tacker_hook` (e.g. `scale_end`), `tacker_vnf_instance_id`,
//! `tacker_vnf_instance` (the instance without VIM credentials), `tacker_request` (the
//! operation's request), `tacker_grant_request`, `tacker_csar_dir` (a read-only copy of
//! the package), and every entry of `additionalParams.ansible.vars`.
//!
//! Settings a request gives in `additionalParams.ansible` are kept in the instance's
//! `metadata.ansibleSettings` and used by later operations whose request gives none.
//!
//! **SSH.** The operator's private key logs in as `additionalParams.ansible.user`, else
//! the operator's default user, on `additionalParams.ansible.port` (22). Host keys are
//! checked against the operator's `known_hosts` (never accepted blindly); a request's
//! `additionalParams.ansible.known_hosts` lines are added only where the operator allows
//! it ([`AnsibleMgmtDriver::host_keys_from_request`]).
//!
//! A failed playbook fails the hook with the end of Ansible's output (the failed task
//! and the recap); the time limit and memory limit are the sandbox's.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use tacker_core::mgmt::{HookFailure, MgmtContext, MgmtDriver, MgmtOutcome, MgmtRequestContext};
use tacker_core::model::{KeyValuePairs, VnfInstance, without_access_info};
use tacker_core::{Error, Result};
use tacker_sandbox::{JOB_DIR, Job, Network, Sandbox, SandboxError};

use crate::{CSAR, bound_file, copy_package, last_chars, retryable};

/// Runs `ansible-playbook` in-process inside the sandbox.
const RUNNER: &str = include_str!("ansible_runner.py");

/// How much of Ansible's output goes into a hook's error.
const QUOTED_OUTPUT: usize = 3000;

/// The `additionalParams` key of a request's Ansible settings.
pub const ANSIBLE_PARAM: &str = "ansible";

/// Runs a package's Ansible playbooks (see the module documentation).
#[derive(Clone)]
pub struct AnsibleMgmtDriver {
    name: String,
    sandbox: Arc<Sandbox>,
    private_key: Arc<String>,
    known_hosts: Arc<String>,
    default_user: Option<String>,
    host_keys_from_request: bool,
}

impl std::fmt::Debug for AnsibleMgmtDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnsibleMgmtDriver")
            .field("name", &self.name)
            .field("default_user", &self.default_user)
            .field("known_hosts_lines", &self.known_hosts.lines().count())
            .field("host_keys_from_request", &self.host_keys_from_request)
            .finish_non_exhaustive()
    }
}

/// A request's `additionalParams.ansible`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AnsibleSettings {
    /// The user to log in as.
    pub user: String,
    /// The SSH port.
    pub port: u16,
    /// The CP whose address is used, per VDU id.
    pub cps: Map<String, Value>,
    /// `known_hosts` lines the request adds.
    pub known_hosts: Option<String>,
    /// Extra variables for the playbook.
    pub vars: Map<String, Value>,
}

impl AnsibleMgmtDriver {
    /// Runs the hooks bound to the artifact `name`, in `sandbox` (its interpreter must
    /// have `ansible-core`), logging in with the operator's OpenSSH `private_key` and
    /// checking host keys against the operator's `known_hosts` text. Fails when either
    /// is empty or the key is not a private key.
    pub fn new(
        name: impl Into<String>,
        sandbox: Arc<Sandbox>,
        private_key: impl Into<String>,
        known_hosts: impl Into<String>,
    ) -> Result<Self> {
        let private_key = private_key.into();
        let known_hosts = known_hosts.into();
        if !private_key.contains("PRIVATE KEY-----") {
            return Err(Error::InvalidRequest(
                "the Ansible driver's SSH key is not a private key in OpenSSH or PEM form".into(),
            ));
        }
        if known_hosts
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        {
            return Err(Error::InvalidRequest(
                "the Ansible driver's known_hosts is empty: the VNFCs' host keys could not be checked".into(),
            ));
        }
        Ok(Self {
            name: name.into(),
            sandbox,
            private_key: Arc::new(private_key),
            known_hosts: Arc::new(known_hosts),
            default_user: None,
            host_keys_from_request: false,
        })
    }

    /// The user to log in as when a request names none.
    #[must_use]
    pub fn default_user(mut self, user: impl Into<String>) -> Self {
        self.default_user = Some(user.into());
        self
    }

    /// Whether a request's `additionalParams.ansible.known_hosts` is added to the
    /// operator's (default false; OpenSSH then accepts a key either vouches for).
    #[must_use]
    pub fn host_keys_from_request(mut self, allowed: bool) -> Self {
        self.host_keys_from_request = allowed;
        self
    }

    fn failure(&self, retryable: bool, message: String) -> Error {
        Error::driver(
            self.name.clone(),
            retryable,
            HookFailure {
                message,
                data: KeyValuePairs::new(),
            },
        )
    }

    fn settings(&self, additional_params: Option<&Map<String, Value>>) -> Result<AnsibleSettings> {
        AnsibleSettings::parse(
            additional_params,
            self.default_user.as_deref(),
            self.host_keys_from_request,
        )
    }
}

impl AnsibleSettings {
    /// Reads `additionalParams.ansible` of a request (`None`: none given), with the
    /// operator's default user and whether requests may add host keys. Errors are
    /// `Unprocessable`, naming the field.
    pub fn parse(
        additional_params: Option<&Map<String, Value>>,
        default_user: Option<&str>,
        host_keys_from_request: bool,
    ) -> Result<Self> {
        let field = |name: &str| format!("additionalParams.{ANSIBLE_PARAM}.{name}");
        let empty = Map::new();
        let params = match additional_params.and_then(|p| p.get(ANSIBLE_PARAM)) {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => {
                return Err(Error::Unprocessable(format!(
                    "additionalParams.{ANSIBLE_PARAM}: is not an object"
                )));
            }
        };
        let user = match params.get("user") {
            Some(Value::String(user)) if valid_user(user) => user.clone(),
            Some(_) => {
                return Err(Error::Unprocessable(format!(
                    "{}: is not a user name (letters, digits, '.', '_', '-')",
                    field("user")
                )));
            }
            None => default_user.map(str::to_owned).ok_or_else(|| {
                Error::Unprocessable(format!(
                    "{}: is required (the operator configured no default user)",
                    field("user")
                ))
            })?,
        };
        let port = match params.get("port") {
            None => 22,
            Some(value) => value
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
                .ok_or_else(|| {
                    Error::Unprocessable(format!("{}: is not a TCP port", field("port")))
                })?,
        };
        let cps = match params.get("cp") {
            None => Map::new(),
            Some(Value::Object(map)) if map.values().all(Value::is_string) => map.clone(),
            Some(_) => {
                return Err(Error::Unprocessable(format!(
                    "{}: is not an object of VDU ids to CP names",
                    field("cp")
                )));
            }
        };
        let known_hosts = match params.get("known_hosts") {
            None => None,
            Some(Value::String(_)) if !host_keys_from_request => {
                return Err(Error::Unprocessable(format!(
                    "{}: host keys come from the operator's known_hosts only",
                    field("known_hosts")
                )));
            }
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                return Err(Error::Unprocessable(format!(
                    "{}: is not known_hosts text",
                    field("known_hosts")
                )));
            }
        };
        let vars = match params.get("vars") {
            None => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => {
                return Err(Error::Unprocessable(format!(
                    "{}: is not an object",
                    field("vars")
                )));
            }
        };
        Ok(Self {
            user,
            port,
            cps,
            known_hosts,
            vars,
        })
    }
}

fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user.len() <= 64
        && !user.starts_with('-')
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// An Ansible group name for a VDU id.
fn group_name(vdu_id: &str) -> String {
    let mut name: String = vdu_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.is_empty() {
        name.insert(0, '_');
    }
    name
}

/// The inventory (INI) of the instance's VNFCs that have an address.
fn inventory(instance: &VnfInstance, settings: &AnsibleSettings) -> (String, usize) {
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut hosts = 0;
    let vnfcs = instance
        .instantiated_vnf_info
        .as_ref()
        .map(|i| i.vnfc_resource_info.as_slice())
        .unwrap_or_default();
    for vnfc in vnfcs {
        let wanted = settings.cps.get(&vnfc.vdu_id).and_then(Value::as_str);
        let address = vnfc
            .vnfc_cp_info
            .iter()
            .filter(|cp| wanted.is_none_or(|w| cp.cpd_id == w))
            .flat_map(|cp| &cp.cp_protocol_info)
            .filter_map(|p| p.ip_over_ethernet.as_ref())
            .flat_map(|ip| &ip.ip_addresses)
            .flat_map(|a| &a.addresses)
            .find(|a| a.parse::<std::net::IpAddr>().is_ok());
        let Some(address) = address else {
            continue;
        };
        hosts += 1;
        // Ids and addresses are the VNFM's; quoting keeps the INI unambiguous anyway.
        groups
            .entry(group_name(&vnfc.vdu_id))
            .or_default()
            .push(format!(
                "{id} ansible_host={address} vdu_id={vdu} vnfc_id={id}",
                id = sanitize(&vnfc.id),
                vdu = sanitize(&vnfc.vdu_id),
            ));
    }
    let mut text = String::new();
    for (group, lines) in groups {
        text.push_str(&format!("[{group}]\n"));
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "[all:vars]\nansible_user={}\nansible_port={}\nansible_python_interpreter=/usr/bin/python3\n",
        settings.user, settings.port
    ));
    (text, hosts)
}

/// `text` with only characters that cannot break an INI line or an Ansible host name.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[async_trait]
impl MgmtDriver for AnsibleMgmtDriver {
    fn name(&self) -> &str {
        &self.name
    }

    async fn validate_request(&self, ctx: &MgmtRequestContext<'_>) -> Result<()> {
        bound_file(
            &ctx.hook.sol001_name(),
            ctx.binding,
            ctx.package,
            "playbook",
        )?;
        let params: Map<String, Value> = ctx.additional_params.clone().into_iter().collect();
        let recorded = recorded_params(ctx.vnf_instance);
        self.settings(
            Some(&params)
                .filter(|p| p.contains_key(ANSIBLE_PARAM))
                .or(recorded.as_ref()),
        )
        .map(|_| ())
    }

    async fn run_hook(&self, ctx: &MgmtContext<'_>) -> Result<MgmtOutcome> {
        let hook = ctx.hook.sol001_name();
        let playbook = bound_file(&hook, ctx.binding, ctx.package, "playbook")?;
        let request = ctx
            .op_occ
            .operation_params
            .clone()
            .unwrap_or_else(|| json!({}));
        let from_request = request
            .get("additionalParams")
            .and_then(Value::as_object)
            .filter(|p| p.contains_key(ANSIBLE_PARAM))
            .cloned();
        let recorded = recorded_params(ctx.vnf_instance);
        let settings = self.settings(from_request.as_ref().or(recorded.as_ref()))?;
        let (inventory, hosts) = inventory(ctx.vnf_instance, &settings);
        let sandbox_error = |error: SandboxError| {
            let retry = retryable(&error);
            self.failure(retry, format!("{hook} ({playbook}): {error}"))
        };
        let scratch = self.sandbox.scratch().await.map_err(sandbox_error)?;
        copy_package(ctx.package, &scratch).await?;
        let mut known_hosts = self.known_hosts.as_str().to_owned();
        if let Some(extra) = &settings.known_hosts {
            known_hosts.push('\n');
            known_hosts.push_str(extra);
        }
        let mut vars = settings.vars.clone();
        vars.insert("tacker_hook".into(), json!(hook));
        vars.insert("tacker_vnf_instance_id".into(), json!(ctx.vnf_instance.id));
        vars.insert(
            "tacker_vnf_instance".into(),
            without_access_info(serde_json::to_value(ctx.vnf_instance).unwrap_or_default()),
        );
        vars.insert("tacker_request".into(), request);
        vars.insert(
            "tacker_grant_request".into(),
            ctx.grant_request
                .map(|g| serde_json::to_value(g).unwrap_or_default())
                .unwrap_or(Value::Null),
        );
        vars.insert("tacker_csar_dir".into(), json!(format!("{JOB_DIR}/{CSAR}")));
        let (uid, gid) = ids();
        for (file, bytes) in [
            ("runner.py", RUNNER.as_bytes().to_vec()),
            ("inventory.ini", inventory.into_bytes()),
            ("known_hosts", known_hosts.into_bytes()),
            (
                "extra_vars.json",
                Value::Object(vars).to_string().into_bytes(),
            ),
            (
                "passwd",
                format!("{}:x:{uid}:{gid}::/tmp:/usr/sbin/nologin\n", settings.user).into_bytes(),
            ),
        ] {
            scratch.write(file, &bytes).await.map_err(sandbox_error)?;
        }
        scratch
            .write_private("id_key", self.private_key.as_bytes())
            .await
            .map_err(sandbox_error)?;
        tracing::info!(driver = %self.name, %hook, %playbook, hosts, instance = %ctx.vnf_instance.id, "running the package's playbook");
        let job = Job::python(&scratch, "runner.py")
            .args([
                format!("{JOB_DIR}/{CSAR}/{playbook}"),
                "-i".into(),
                format!("{JOB_DIR}/inventory.ini"),
                "--private-key".into(),
                format!("{JOB_DIR}/id_key"),
                "-e".into(),
                format!("@{JOB_DIR}/extra_vars.json"),
            ])
            .env("TACKER_KNOWN_HOSTS", format!("{JOB_DIR}/known_hosts"))
            .file_at("passwd", "/etc/passwd")
            .network(Network::Shared);
        let output = tokio::select! {
            output = self.sandbox.run(&job) => output,
            () = ctx.cancel.cancelled() => {
                return Err(Error::Cancelled(format!("{hook} ({playbook}) was cancelled")));
            }
        };
        match output {
            Ok(output) => {
                tracing::debug!(%hook, elapsed = ?output.elapsed, "playbook finished");
                // The settings a request gave are kept for the operations that follow.
                Ok(
                    match from_request.as_ref().and_then(|p| p.get(ANSIBLE_PARAM)) {
                        Some(given) => {
                            MgmtOutcome::new().with_metadata_entry(RECORDED, given.clone())
                        }
                        None => MgmtOutcome::new(),
                    },
                )
            }
            Err(SandboxError::Failed { status, stderr }) => Err(self.failure(
                // Unreachable hosts (4) may answer later.
                status == "exit code 4",
                format!(
                    "{hook} failed: playbook {playbook} ended with {status}: {}",
                    last_chars(stderr.trim(), QUOTED_OUTPUT)
                ),
            )),
            Err(other) => Err(sandbox_error(other)),
        }
    }
}

/// The instantiate request's `additionalParams` (where later operations find the
/// Ansible settings given at instantiation).
fn recorded_params(instance: &VnfInstance) -> Option<Map<String, Value>> {
    instance
        .metadata
        .get(RECORDED)
        .and_then(Value::as_object)
        .map(|ansible| {
            let mut params = Map::new();
            params.insert(ANSIBLE_PARAM.to_owned(), Value::Object(ansible.clone()));
            params
        })
}

/// The instance `metadata` key holding the Ansible settings of the instantiation.
const RECORDED: &str = "ansibleSettings";

/// The user and group this process runs as (the sandbox runs as them too).
fn ids() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    // The process's own /proc entry is owned by its effective ids.
    std::fs::metadata("/proc/self")
        .map(|m| (m.uid(), m.gid()))
        .unwrap_or((0, 0))
}
