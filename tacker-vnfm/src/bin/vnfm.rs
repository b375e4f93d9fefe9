//! `vnfm`: the tacker VNF Manager as a standalone server speaking the ETSI NFV REST APIs.
//!
//! `cargo run --release --bin vnfm` starts on `127.0.0.1:9890` with an SQLite store and
//! package files under `./tacker-data/`, and the simulated VIM registered as the default
//! VIM, so packages can be onboarded and VNFs instantiated at once. Every flag can also
//! be set by its environment variable (`--help` lists them).
//!
//! Health monitoring runs too: instances whose `vnfConfigurableProperties.monitoring`
//! asks for `http`, `ping` or `alertmanager` are watched after instantiate, FM alarms
//! are raised and cleared at `/vnffm/v1`, Alertmanager posts alerts to
//! `POST /monitoring/v1/alertmanager`, and `isAutohealEnabled` / `isAutoscaleEnabled`
//! let the VNFM heal and scale on its own (see `tacker_core::monitor`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tacker_api::grant::HttpGrantProviderBuilder;
use tacker_api::metrics::Metrics;
use tacker_api::rest::auth::{AuthConfig, Authenticator};
use tacker_api::{
    Api, ApiConfig, HttpClients, HttpGrantProvider, HttpLcmCoordinator, HttpNotificationSink,
    NfvoPackageSource,
};
use tacker_core::csar::{PackageTrust, SignaturePolicy};
use tacker_core::lcm::LcmConfig;
use tacker_core::mgmt::{MgmtDriver, NoopMgmtDriver};
use tacker_core::monitor::{AutoHealConfig, AutoScaleConfig};
use tacker_core::outbound::{Cidr, OutboundPolicy};
use tacker_core::package::PackageManagerConfig;
use tacker_core::sim::{SIM_VIM_TYPE, SimInfraDriver, SimOperation};
use tacker_core::store::Store;
use tacker_core::vim::{Sealer, SealingKey, VimRegistration};
use tacker_core::{BuiltinMonitors, Error, Result, TenantId, VimType, Vnfm};
use tacker_drivers_k8s::HelmConfig;
use tacker_drivers_openstack::OpenStackOptions;
use tacker_drivers_openstack::userdata::UserDataRunner;
use tacker_mgmt_k8s_cluster::{KubernetesClusterMgmtDriver, SshSettings};
use tacker_mgmt_scripts::{AnsibleMgmtDriver, PythonScriptMgmtDriver, ScriptNetwork};
use tacker_sandbox::{Sandbox, SandboxConfig};
use tacker_store::{SqlStore, SqlStoreOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AuthMode {
    /// No authentication: every request acts for the default tenant (loopback only).
    None,
    /// HTTP basic, users from `--auth-config`.
    Basic,
    /// OAuth 2.0 bearer tokens (JWT), keys from `--auth-config`.
    Oauth2,
    /// Client certificates of mutual TLS (`--tls-client-ca`), mapped to tenants and
    /// scopes by the `clientCertificates` of `--auth-config`.
    Certificate,
}

#[derive(Debug, Parser)]
#[command(
    name = "vnfm",
    about = "The tacker VNF Manager: ETSI SOL002/SOL003/SOL005 REST APIs over the embedded VNFM",
    version
)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, env = "TACKER_LISTEN", default_value = "127.0.0.1:9890")]
    listen: SocketAddr,
    /// Directory of the SQLite database, the package files and the sealing key.
    #[arg(long, env = "TACKER_DATA_DIR", default_value = "./tacker-data")]
    data_dir: PathBuf,
    /// Database: `postgres://…` for several VNFM processes on one database (TLS with
    /// `?sslmode=verify-full&sslrootcert=ca.pem`); default: SQLite in the data directory.
    #[arg(long, env = "TACKER_DATABASE_URL")]
    database_url: Option<String>,
    /// Connections in the database pool.
    #[arg(long, env = "TACKER_DB_MAX_CONNECTIONS", default_value_t = 16)]
    db_max_connections: u32,
    /// How far (milliseconds) the attribute index that answers filtered lists may fall
    /// behind the commits: records changed within this period are indexed together,
    /// off the path of the requests and operations that changed them (filtered lists
    /// stay exact). 0 writes the index in every commit.
    #[arg(long, env = "TACKER_DB_INDEX_LAG_MS", default_value_t = 200)]
    db_index_lag_ms: u64,
    /// The URL clients reach this server at, for `_links` and `Location`
    /// (default: from `--listen`).
    #[arg(long, env = "TACKER_PUBLIC_URL")]
    public_url: Option<String>,
    /// TLS certificate chain (PEM); with `--tls-key`, the server speaks HTTPS only.
    #[arg(long, env = "TACKER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "TACKER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Certificate authorities (PEM bundle) of client certificates: with it the server
    /// asks clients for a certificate in the TLS handshake (mutual TLS). The auth
    /// file's `clientCertificates` map certificate subjects to tenants and scopes.
    #[arg(long, env = "TACKER_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// `required`: a client without a certificate of those CAs fails the handshake;
    /// `optional`: such a client may still authenticate by the auth file's other means.
    #[arg(
        long,
        env = "TACKER_TLS_CLIENT_AUTH",
        default_value = "required",
        value_parser = ["required", "optional"],
        requires = "tls_client_ca"
    )]
    tls_client_auth: String,
    /// How clients authenticate.
    #[arg(long, env = "TACKER_AUTH", value_enum, default_value = "none")]
    auth: AuthMode,
    /// Users and token keys (YAML or JSON), for `--auth basic|oauth2`.
    #[arg(long, env = "TACKER_AUTH_CONFIG")]
    auth_config: Option<PathBuf>,
    /// Log filter (`info`, `debug`, `tacker_core=debug,info`, …).
    #[arg(long, env = "TACKER_LOG", default_value = "info")]
    log: String,
    /// The key sealing VIM and subscription credentials at rest (hex, 32 bytes);
    /// default: `<data-dir>/sealing.key`, created at first start.
    #[arg(long, env = "TACKER_SEALING_KEY_FILE")]
    sealing_key_file: Option<PathBuf>,
    /// Seconds open requests get to finish at shutdown.
    #[arg(long, env = "TACKER_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// Do not register the simulated VIM as the default VIM at first start.
    #[arg(long, env = "TACKER_NO_SIM_VIM")]
    no_sim_vim: bool,
    /// Seconds an operation's lease lasts without renewal: how soon another executor
    /// takes over the operations of a process that died.
    #[arg(long, env = "TACKER_OP_LEASE_TTL", default_value_t = 30)]
    op_lease_ttl: u64,
    /// The largest VNF package accepted, in bytes, by `PUT …/package_content` and
    /// `upload_from_uri` (more is refused with 413). Uploads are streamed: memory use
    /// does not grow with this limit, but the spool directory and the package store
    /// need room for it.
    #[arg(long, env = "TACKER_MAX_PACKAGE_SIZE", default_value_t = 8 << 30)]
    max_package_size: u64,
    /// Items per page of every list (SOL013 paging; a `Link: rel="next"` header leads
    /// to the next page when more follow).
    #[arg(
        long,
        env = "TACKER_PAGE_SIZE",
        default_value_t = 100,
        value_parser = clap::value_parser!(u16).range(1..=1000)
    )]
    page_size: u16,
    /// Where package uploads and downloads are spooled while they are onboarded
    /// (default: `<data-dir>/spool`).
    #[arg(long, env = "TACKER_SPOOL_DIR")]
    spool_dir: Option<PathBuf>,
    /// A management driver name whose hooks are skipped (repeatable): an explicit
    /// opt-in for packages whose LCM hooks should not run here. Without a driver for
    /// every hook a flavour binds (this, `--script-mgmt-driver` or
    /// `--k8s-cluster-mgmt-driver`), instantiation is refused (422, naming the hook,
    /// the artifact and its file).
    #[arg(long = "noop-mgmt-driver", value_name = "NAME")]
    noop_mgmt_drivers: Vec<String>,
    /// The helm v3 binary that renders the Helm charts of CNF packages.
    #[arg(long, env = "TACKER_HELM_BINARY", default_value = "helm")]
    helm_binary: PathBuf,
    /// Seconds a Kubernetes operation waits for its objects to become ready (or gone)
    /// before it fails.
    #[arg(long, env = "TACKER_KUBERNETES_TIMEOUT", default_value_t = 300)]
    kubernetes_timeout: u64,
    /// The Python interpreter that runs packages' user-data classes
    /// (`lcm-operation-user-data`), confined by bubblewrap: a virtual environment with
    /// the helper modules the classes import (`scripts/tacker-userdata.sh venv` makes
    /// one with Tacker's published modules). Without it such packages are refused.
    #[arg(long, env = "TACKER_USER_DATA_PYTHON")]
    user_data_python: Option<PathBuf>,
    /// Seconds one user-data class call may run before it is stopped.
    #[arg(long, env = "TACKER_USER_DATA_TIMEOUT", default_value_t = 60)]
    user_data_timeout: u64,
    /// Address space one user-data class call may use, in MiB.
    #[arg(long, env = "TACKER_USER_DATA_MEMORY_MIB", default_value_t = 1024)]
    user_data_memory_mib: u64,
    #[command(flatten)]
    package_trust: PackageTrustArgs,
    #[command(flatten)]
    notifications: NotificationArgs,
    #[command(flatten)]
    nfvo: NfvoArgs,
    #[command(flatten)]
    k8s_cluster: K8sClusterArgs,
    #[command(flatten)]
    scripts: ScriptArgs,
    #[command(flatten)]
    sim: SimArgs,
    #[command(flatten)]
    monitors: MonitorArgs,
    #[command(flatten)]
    outbound: OutboundArgs,
}

/// How notifications reach subscribers' callbacks.
#[derive(Debug, clap::Args)]
struct NotificationArgs {
    /// The client certificate chain and private key (PEM, one file) presented to
    /// callbacks whose subscription asks for `TLS_CERT` authentication (mutual TLS).
    /// Without it such subscriptions are refused.
    #[arg(
        long = "notification-client-cert",
        env = "TACKER_NOTIFICATION_CLIENT_CERT"
    )]
    notification_client_cert: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted for callbacks' servers besides the
    /// system's.
    #[arg(long = "notification-ca", env = "TACKER_NOTIFICATION_CA")]
    notification_ca: Option<PathBuf>,
}

impl NotificationArgs {
    /// A sink of its own when either flag is given (else the default one stays).
    fn sink(&self, outbound: &OutboundPolicy) -> Result<Option<HttpNotificationSink>> {
        if self.notification_client_cert.is_none() && self.notification_ca.is_none() {
            return Ok(None);
        }
        let read = |flag: &str, path: &Path| {
            std::fs::read(path).map_err(|e| io_error(&format!("reading {flag}"), path, e))
        };
        let mut builder = HttpNotificationSink::builder().outbound_policy(outbound.clone());
        if let Some(path) = &self.notification_client_cert {
            builder = builder.client_identity_pem(read("--notification-client-cert", path)?);
        }
        if let Some(path) = &self.notification_ca {
            builder = builder.extra_ca_pem(read("--notification-ca", path)?);
        }
        builder.build().map(Some)
    }
}

/// Which signers of VNF packages are trusted (SOL004 security options).
#[derive(Debug, clap::Args)]
struct PackageTrustArgs {
    /// The certificate authorities (PEM bundle) whose signing certificates may sign
    /// packages: the manifest's CMS signature and single artifacts' signatures are
    /// checked against them.
    #[arg(long = "package-trust-ca", env = "TACKER_PACKAGE_TRUST_CA")]
    trust_ca: Option<PathBuf>,
    /// What packages must show: `require` (a signed manifest listing every file),
    /// `if-present` (signatures found are checked) or `ignore`. Default: `if-present`
    /// with `--package-trust-ca`, else `ignore`.
    #[arg(long = "package-signatures", env = "TACKER_PACKAGE_SIGNATURES")]
    signature_policy: Option<SignaturePolicy>,
    /// A tenant's own policy, `TENANT=POLICY` (repeatable).
    #[arg(long = "package-signatures-tenant", value_name = "TENANT=POLICY", value_parser = tenant_policy)]
    tenant_policies: Vec<(TenantId, SignaturePolicy)>,
}

fn tenant_policy(text: &str) -> std::result::Result<(TenantId, SignaturePolicy), String> {
    let (tenant, policy) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not TENANT=POLICY"))?;
    if tenant.is_empty() {
        return Err(format!("'{text}' names no tenant"));
    }
    Ok((TenantId::new(tenant), policy.parse()?))
}

impl PackageTrustArgs {
    /// The trust the package manager checks signatures with, if any is configured.
    fn trust(&self) -> Result<Option<PackageTrust>> {
        let default = self.signature_policy.unwrap_or(if self.trust_ca.is_some() {
            SignaturePolicy::IfPresent
        } else {
            SignaturePolicy::Ignore
        });
        if self.trust_ca.is_none()
            && self.tenant_policies.is_empty()
            && default == SignaturePolicy::Ignore
        {
            return Ok(None);
        }
        let mut trust = match &self.trust_ca {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| io_error("reading --package-trust-ca", path, e))?;
                PackageTrust::from_pem(&pem, default).map_err(|e| {
                    Error::InvalidRequest(format!("--package-trust-ca {}: {e}", path.display()))
                })?
            }
            None => PackageTrust::new(default),
        };
        for (tenant, policy) in &self.tenant_policies {
            trust = trust.with_tenant_policy(tenant.clone(), *policy);
        }
        tracing::info!(
            policy = %default,
            trusted_cas = trust.anchor_count(),
            tenants = self.tenant_policies.len(),
            "package signatures are checked"
        );
        Ok(Some(trust))
    }
}

/// The simulated VIM's flags.
#[derive(Debug, clap::Args)]
struct SimArgs {
    /// Latency of every simulated VIM call, in milliseconds (for demonstrations).
    #[arg(long, env = "TACKER_SIM_LATENCY_MS", default_value_t = 0)]
    sim_latency_ms: u64,
    /// Addresses the simulated VIM gives the first CP of a VDU's VNFCs, in order:
    /// `VDU1=127.0.0.5,127.0.0.6;VDU2=127.0.0.7` (for pointing monitors at real hosts).
    #[arg(long, env = "TACKER_SIM_VDU_ADDRESSES", value_parser = vdu_addresses)]
    sim_vdu_addresses: Option<VduAddresses>,
    /// Heal moves a replaced VNFC of the simulated VIM to its VDU's next free
    /// configured address.
    #[arg(long, env = "TACKER_SIM_HEAL_READDRESSES")]
    sim_heal_readdresses: bool,
}

/// The NFVO that grants the operations (default: the local grant, which approves
/// everything).
#[derive(Debug, clap::Args)]
struct NfvoArgs {
    /// The NFVO's API root: every LCM operation asks
    /// `POST {url}/grant/v1/grants` (SOL003) for its grant.
    #[arg(long = "nfvo-url", env = "TACKER_NFVO_URL")]
    url: Option<String>,
    /// OAuth 2.0 token endpoint for the NFVO (client credentials).
    #[arg(
        long = "nfvo-token-url",
        env = "TACKER_NFVO_TOKEN_URL",
        requires = "client_id"
    )]
    token_url: Option<String>,
    /// OAuth 2.0 client id.
    #[arg(
        long = "nfvo-client-id",
        env = "TACKER_NFVO_CLIENT_ID",
        requires = "client_secret_file"
    )]
    client_id: Option<String>,
    /// A file holding the OAuth 2.0 client secret.
    #[arg(
        long = "nfvo-client-secret-file",
        env = "TACKER_NFVO_CLIENT_SECRET_FILE"
    )]
    client_secret_file: Option<PathBuf>,
    /// The client certificate chain and private key (PEM, one file) presented to the
    /// NFVO (mutual TLS).
    #[arg(long = "nfvo-client-cert", env = "TACKER_NFVO_CLIENT_CERT")]
    client_cert: Option<PathBuf>,
    /// Certificate authorities (PEM) trusted for the NFVO besides the system's.
    #[arg(long = "nfvo-ca", env = "TACKER_NFVO_CA")]
    ca: Option<PathBuf>,
    /// The API root of the EM (or NFVO) that runs the LCM coordination actions VNFDs
    /// declare (SOL002 `{url}/lcmcoord/v1/coordinations`), reached with the NFVO's
    /// authentication flags. Without it, operations whose VNFD declares coordination
    /// actions are refused.
    #[arg(long = "lcm-coordination-url", env = "TACKER_LCM_COORDINATION_URL")]
    coordination_url: Option<String>,
    /// Seconds the NFVO has to decide an asynchronous grant (and an asynchronous
    /// coordination to finish).
    #[arg(
        long = "nfvo-grant-deadline",
        env = "TACKER_NFVO_GRANT_DEADLINE",
        default_value_t = 300
    )]
    grant_deadline: u64,
}

impl NfvoArgs {
    /// A client of the NFVO's kind for `url`: this NFVO's authentication (OAuth 2.0,
    /// client certificate) and CAs, under the outbound policy.
    fn builder(&self, url: &str, outbound: &OutboundPolicy) -> Result<HttpGrantProviderBuilder> {
        let read = |flag: &str, path: &Path| {
            std::fs::read(path).map_err(|e| io_error(&format!("reading {flag}"), path, e))
        };
        let mut builder = HttpGrantProvider::builder(url)
            .outbound_policy(outbound.clone())
            .polling(
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(self.grant_deadline.max(1)),
            );
        if let (Some(token_url), Some(client_id), Some(secret_file)) =
            (&self.token_url, &self.client_id, &self.client_secret_file)
        {
            let secret = read("--nfvo-client-secret-file", secret_file)?;
            let secret = String::from_utf8_lossy(&secret).trim().to_owned();
            builder = builder.oauth2(token_url, client_id, secret);
        }
        if let Some(path) = &self.client_cert {
            builder = builder.client_identity_pem(read("--nfvo-client-cert", path)?);
        }
        if let Some(path) = &self.ca {
            builder = builder.extra_ca_pem(read("--nfvo-ca", path)?);
        }
        Ok(builder)
    }

    /// The NFVO's grant provider, when `--nfvo-url` is given.
    fn grants(&self, outbound: &OutboundPolicy) -> Result<Option<HttpGrantProvider>> {
        let Some(url) = &self.url else {
            return Ok(None);
        };
        let grants = self
            .builder(url, outbound)?
            .build()
            .map_err(|e| Error::InvalidRequest(format!("--nfvo-url {url}: {e}")))?;
        tracing::info!(nfvo = %url, "operations are granted by the NFVO");
        Ok(Some(grants))
    }

    /// The coordinator of LCM coordination actions, when `--lcm-coordination-url` is
    /// given (it is reached with the NFVO's authentication).
    fn coordinator(&self, outbound: &OutboundPolicy) -> Result<Option<HttpLcmCoordinator>> {
        let Some(url) = &self.coordination_url else {
            return Ok(None);
        };
        let connection = self
            .builder(url, outbound)?
            .build()
            .map_err(|e| Error::InvalidRequest(format!("--lcm-coordination-url {url}: {e}")))?
            .connection();
        tracing::info!(endpoint = %url, "LCM coordination actions run with this endpoint");
        Ok(Some(HttpLcmCoordinator::new(connection).polling(
            Duration::from_secs(1),
            Duration::from_secs(10),
            Duration::from_secs(self.grant_deadline.max(1)),
        )))
    }
}

/// The flags of the drivers that run a package's own LCM scripts
/// (`tacker_mgmt_scripts`).
#[derive(Debug, clap::Args)]
struct ScriptArgs {
    /// Run the LCM hooks bound to this artifact name or file name as Tacker v2 runs
    /// them: the package's Python script with a pickled dict on stdin, confined by
    /// bubblewrap (repeatable; Tacker's packages name it `sample-script`).
    #[arg(
        long = "script-mgmt-driver",
        env = "TACKER_SCRIPT_MGMT_DRIVER",
        value_name = "NAME",
        value_delimiter = ','
    )]
    python_names: Vec<String>,
    /// The Python interpreter that runs packages' scripts (a virtual environment's
    /// brings the modules the scripts import).
    #[arg(
        long = "script-python",
        env = "TACKER_SCRIPT_PYTHON",
        default_value = "python3"
    )]
    python: PathBuf,
    /// Seconds one script may run before it is stopped.
    #[arg(
        long = "script-timeout",
        env = "TACKER_SCRIPT_TIMEOUT",
        default_value_t = 600
    )]
    timeout: u64,
    /// Address space one script may use, in MiB.
    #[arg(
        long = "script-memory-mib",
        env = "TACKER_SCRIPT_MEMORY_MIB",
        default_value_t = 1024
    )]
    memory_mib: u64,
    /// Whether scripts may use the host's network (`shared`, for scripts that
    /// configure the VNFCs over the network) or none (the default).
    #[arg(
        long = "script-network",
        env = "TACKER_SCRIPT_NETWORK",
        value_enum,
        default_value = "none"
    )]
    network: ScriptNetworkArg,
    /// Run the LCM hooks bound to this artifact name or file name as an Ansible
    /// playbook against the instance's VNFCs (repeatable).
    #[arg(
        long = "ansible-mgmt-driver",
        env = "TACKER_ANSIBLE_MGMT_DRIVER",
        value_name = "NAME",
        value_delimiter = ','
    )]
    ansible_names: Vec<String>,
    /// The Python interpreter with ansible-core (`scripts/ansible.sh` makes one).
    #[arg(long = "ansible-python", env = "TACKER_ANSIBLE_PYTHON")]
    ansible_python: Option<PathBuf>,
    /// The SSH private key playbooks log in to the VNFCs with.
    #[arg(
        long = "ansible-ssh-key",
        env = "TACKER_ANSIBLE_SSH_KEY",
        value_name = "FILE"
    )]
    ansible_ssh_key: Option<PathBuf>,
    /// The VNFCs' host keys (OpenSSH's known_hosts format): a host it does not vouch
    /// for is never configured.
    #[arg(
        long = "ansible-known-hosts",
        env = "TACKER_ANSIBLE_KNOWN_HOSTS",
        value_name = "FILE"
    )]
    ansible_known_hosts: Option<PathBuf>,
    /// The user playbooks log in as when a request names none.
    #[arg(long = "ansible-user", env = "TACKER_ANSIBLE_USER")]
    ansible_user: Option<String>,
    /// Let requests add host keys (`additionalParams.ansible.known_hosts`).
    #[arg(
        long = "ansible-request-host-keys",
        env = "TACKER_ANSIBLE_REQUEST_HOST_KEYS"
    )]
    ansible_request_host_keys: bool,
    /// Seconds one playbook may run before it is stopped.
    #[arg(
        long = "ansible-timeout",
        env = "TACKER_ANSIBLE_TIMEOUT",
        default_value_t = 1800
    )]
    ansible_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScriptNetworkArg {
    /// No network in the sandbox.
    None,
    /// The host's network.
    Shared,
}

impl ScriptArgs {
    /// One Ansible driver per name, sharing one sandbox.
    async fn ansible_drivers(&self, data_dir: &Path) -> Result<Vec<AnsibleMgmtDriver>> {
        if self.ansible_names.is_empty() {
            return Ok(Vec::new());
        }
        let needed =
            |flag: &str| Error::InvalidRequest(format!("--ansible-mgmt-driver needs {flag}"));
        let python = self
            .ansible_python
            .clone()
            .ok_or_else(|| needed("--ansible-python (scripts/ansible.sh makes one)"))?;
        let key_file = self
            .ansible_ssh_key
            .as_ref()
            .ok_or_else(|| needed("--ansible-ssh-key"))?;
        let hosts_file = self
            .ansible_known_hosts
            .as_ref()
            .ok_or_else(|| needed("--ansible-known-hosts"))?;
        let key = std::fs::read_to_string(key_file)
            .map_err(|e| io_error("reading --ansible-ssh-key", key_file, e))?;
        let known_hosts = std::fs::read_to_string(hosts_file)
            .map_err(|e| io_error("reading --ansible-known-hosts", hosts_file, e))?;
        let config = SandboxConfig {
            python,
            time_limit: Duration::from_secs(self.ansible_timeout.max(1)),
            memory_limit: self.memory_mib.max(256) << 20,
            scratch_root: Some(data_dir.join("sandbox")),
            ..SandboxConfig::default()
        };
        let sandbox = Arc::new(Sandbox::new(config).await.map_err(|e| {
            Error::InvalidRequest(format!("--ansible-mgmt-driver needs the sandbox: {e}"))
        })?);
        self.ansible_names
            .iter()
            .map(|name| {
                let mut driver = AnsibleMgmtDriver::new(
                    name,
                    sandbox.clone(),
                    key.clone(),
                    known_hosts.clone(),
                )?
                .host_keys_from_request(self.ansible_request_host_keys);
                if let Some(user) = &self.ansible_user {
                    driver = driver.default_user(user);
                }
                Ok(driver)
            })
            .collect()
    }

    /// One driver per name, sharing one sandbox.
    async fn drivers(&self, data_dir: &Path) -> Result<Vec<PythonScriptMgmtDriver>> {
        if self.python_names.is_empty() {
            return Ok(Vec::new());
        }
        let config = SandboxConfig {
            python: self.python.clone(),
            time_limit: Duration::from_secs(self.timeout.max(1)),
            memory_limit: self.memory_mib.max(64) << 20,
            scratch_root: Some(data_dir.join("sandbox")),
            ..SandboxConfig::default()
        };
        let sandbox = Arc::new(Sandbox::new(config).await.map_err(|e| {
            Error::InvalidRequest(format!("--script-mgmt-driver needs the sandbox: {e}"))
        })?);
        let network = match self.network {
            ScriptNetworkArg::None => ScriptNetwork::None,
            ScriptNetworkArg::Shared => ScriptNetwork::Shared,
        };
        Ok(self
            .python_names
            .iter()
            .map(|name| PythonScriptMgmtDriver::new(name, sandbox.clone()).network(network))
            .collect())
    }
}

/// The Kubernetes-cluster management driver's flags (`tacker_mgmt_k8s_cluster`).
#[derive(Debug, clap::Args)]
struct K8sClusterArgs {
    /// Run the LCM hooks bound to this artifact name or file name with the driver that
    /// installs a Kubernetes cluster on the VNF's VMs over SSH and registers it as a VIM
    /// (repeatable; Tacker's packages name it `kubernetes_mgmt.py`).
    #[arg(
        long = "k8s-cluster-mgmt-driver",
        env = "TACKER_K8S_CLUSTER_MGMT_DRIVER",
        value_name = "NAME",
        value_delimiter = ','
    )]
    names: Vec<String>,
    /// The SSH private key (OpenSSH or PEM, ed25519 or ECDSA) the driver logs in to
    /// nodes with when the request gives neither `password` nor `private_key`.
    #[arg(
        long = "k8s-cluster-ssh-key",
        env = "TACKER_K8S_CLUSTER_SSH_KEY",
        value_name = "FILE"
    )]
    ssh_key: Option<PathBuf>,
    /// A `known_hosts` file (OpenSSH's format) that decides the host keys of the nodes
    /// it has entries for; requests' `ssh_host_key_fingerprints` or `known_hosts`
    /// decide for the others. A node whose key nothing vouches for is never logged in to.
    #[arg(
        long = "k8s-cluster-known-hosts",
        env = "TACKER_K8S_CLUSTER_KNOWN_HOSTS",
        value_name = "FILE"
    )]
    known_hosts: Option<PathBuf>,
    /// Refuse requests that give host keys: only `--k8s-cluster-known-hosts` decides.
    #[arg(
        long = "k8s-cluster-no-request-host-keys",
        env = "TACKER_K8S_CLUSTER_NO_REQUEST_HOST_KEYS",
        requires = "known_hosts"
    )]
    no_request_host_keys: bool,
    /// Seconds one installation step on a node may run.
    #[arg(
        long = "k8s-cluster-command-timeout",
        env = "TACKER_K8S_CLUSTER_COMMAND_TIMEOUT",
        default_value_t = 1800
    )]
    command_timeout: u64,
    /// SSH connection attempts per node before a step fails (5 s apart, doubling up to
    /// a minute): VMs take a while to start their SSH server.
    #[arg(
        long = "k8s-cluster-connect-attempts",
        env = "TACKER_K8S_CLUSTER_CONNECT_ATTEMPTS",
        default_value_t = 10
    )]
    connect_attempts: u32,
    /// The directory on the nodes that scripts are uploaded to (a relative path is in
    /// the login user's home).
    #[arg(
        long = "k8s-cluster-remote-dir",
        env = "TACKER_K8S_CLUSTER_REMOTE_DIR",
        default_value = ".tacker-k8s-cluster"
    )]
    remote_dir: String,
}

impl K8sClusterArgs {
    /// One driver per name, sealing what it records with the VNFM's key.
    fn drivers(&self, key: &SealingKey) -> Result<Vec<KubernetesClusterMgmtDriver>> {
        if self.names.is_empty() {
            return Ok(Vec::new());
        }
        let mut driver = KubernetesClusterMgmtDriver::new(Sealer::new(key))
            .ssh_settings(SshSettings {
                command_timeout: Duration::from_secs(self.command_timeout.max(1)),
                connect_attempts: self.connect_attempts.max(1),
                remote_dir: self.remote_dir.clone(),
                ..SshSettings::default()
            })
            .host_keys_from_request(!self.no_request_host_keys);
        if let Some(path) = &self.ssh_key {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| io_error("reading --k8s-cluster-ssh-key", path, e))?;
            driver = driver.ssh_private_key(&pem, None).map_err(|e| {
                Error::InvalidRequest(format!("--k8s-cluster-ssh-key {}: {e}", path.display()))
            })?;
        }
        if let Some(path) = &self.known_hosts {
            let text = std::fs::read_to_string(path)
                .map_err(|e| io_error("reading --k8s-cluster-known-hosts", path, e))?;
            driver = driver.known_hosts(&text).map_err(|e| {
                Error::InvalidRequest(format!("--k8s-cluster-known-hosts {}: {e}", path.display()))
            })?;
        }
        Ok(self
            .names
            .iter()
            .map(|name| driver.clone().named(name))
            .collect())
    }
}

/// The built-in monitors' and policies' flags.
#[derive(Debug, clap::Args)]
struct MonitorArgs {
    /// Milliseconds over which failures of one instance are gathered into one
    /// automatic heal.
    #[arg(long, env = "TACKER_AUTOHEAL_WINDOW_MS", default_value_t = 2000)]
    autoheal_window_ms: u64,
    /// Automatic heals of one VNFC before the whole VNF is healed, then escalated.
    #[arg(long, env = "TACKER_AUTOHEAL_MAX_VNFC_HEALS", default_value_t = 2)]
    autoheal_max_vnfc_heals: u32,
    /// Seconds an aspect rests after an automatic scale.
    #[arg(long, env = "TACKER_AUTOSCALE_COOLDOWN", default_value_t = 300)]
    autoscale_cooldown: u64,
    /// Probes run at once by each of the HTTP and ping monitors.
    #[arg(long, env = "TACKER_MONITOR_MAX_PROBES", default_value_t = 64)]
    monitor_max_probes: usize,
}

/// The outbound policy's flags.
#[derive(Debug, clap::Args)]
struct OutboundArgs {
    /// Outbound policy (callbacks, package downloads, VIM endpoints): a range the VNFM
    /// may reach (repeatable, or comma-separated), e.g. 10.20.0.0/16 or a single
    /// address. The most specific allow or deny rule decides; only an allow rule opens
    /// the cloud metadata and link-local addresses, which are denied otherwise.
    #[arg(
        long = "outbound-allow",
        env = "TACKER_OUTBOUND_ALLOW",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_cidr
    )]
    outbound_allow: Vec<Cidr>,
    /// Outbound policy: a range the VNFM must not reach (repeatable, or
    /// comma-separated).
    #[arg(
        long = "outbound-deny",
        env = "TACKER_OUTBOUND_DENY",
        value_name = "CIDR",
        value_delimiter = ',',
        value_parser = parse_cidr
    )]
    outbound_deny: Vec<Cidr>,
    /// Outbound policy: whether private addresses (10/8, 172.16/12, 192.168/16,
    /// 100.64/10, fc00::/7) not covered by a rule may be reached.
    #[arg(long, env = "TACKER_OUTBOUND_ALLOW_PRIVATE", default_value_t = true, action = clap::ArgAction::Set)]
    outbound_allow_private: bool,
    /// Outbound policy: whether loopback addresses (127/8, ::1) not covered by a rule
    /// may be reached.
    #[arg(long, env = "TACKER_OUTBOUND_ALLOW_LOOPBACK", default_value_t = true, action = clap::ArgAction::Set)]
    outbound_allow_loopback: bool,
    /// Outbound policy: the URL schemes used (comma-separated), `http,https` or only
    /// `https`.
    #[arg(
        long,
        env = "TACKER_OUTBOUND_SCHEMES",
        value_delimiter = ',',
        default_value = "http,https",
        value_parser = ["http", "https"]
    )]
    outbound_schemes: Vec<String>,
}

fn parse_cidr(text: &str) -> std::result::Result<Cidr, String> {
    Cidr::parse(text)
}

impl OutboundArgs {
    /// The one outbound policy of every client this server builds.
    fn policy(&self) -> OutboundPolicy {
        let mut policy = OutboundPolicy::default()
            .schemes(&self.outbound_schemes)
            .allow_private(self.outbound_allow_private)
            .allow_loopback(self.outbound_allow_loopback);
        for cidr in &self.outbound_allow {
            policy = policy.allow(*cidr);
        }
        for cidr in &self.outbound_deny {
            policy = policy.deny(*cidr);
        }
        policy
    }
}

/// `--sim-vdu-addresses`: addresses per VDU.
#[derive(Debug, Clone)]
struct VduAddresses(Vec<(String, Vec<std::net::IpAddr>)>);

/// Parses `VDU1=addr,addr;VDU2=addr`.
fn vdu_addresses(text: &str) -> std::result::Result<VduAddresses, String> {
    text.split(';')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (vdu, addresses) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not VDU=address,address"))?;
            let addresses = addresses
                .split(',')
                .map(|a| {
                    a.trim()
                        .parse()
                        .map_err(|e| format!("'{a}' of {vdu} is not an IP address: {e}"))
                })
                .collect::<std::result::Result<Vec<_>, String>>()?;
            Ok((vdu.trim().to_owned(), addresses))
        })
        .collect::<std::result::Result<Vec<_>, String>>()
        .map(VduAddresses)
}

impl SimArgs {
    /// The simulated VIM of these flags, keeping its resources in `store`: they outlive
    /// this process, and every process sharing the database sees the same ones.
    fn vim_type(&self, store: Arc<dyn Store>) -> VimType {
        let mut sim = SimInfraDriver::builder()
            .store(store)
            .heal_readdresses(self.sim_heal_readdresses);
        for (vdu, addresses) in self.sim_vdu_addresses.iter().flat_map(|a| &a.0) {
            sim = sim.vdu_addresses(vdu, addresses.clone());
        }
        if self.sim_latency_ms > 0 {
            sim = sim
                .default_latency(Duration::from_millis(self.sim_latency_ms))
                .latency(SimOperation::Validate, Duration::ZERO);
        }
        sim.build().as_vim_type()
    }
}

impl MonitorArgs {
    fn settings(&self) -> BuiltinMonitors {
        BuiltinMonitors::default()
            .with_max_concurrent_probes(self.monitor_max_probes)
            .with_auto_heal(AutoHealConfig {
                window: Duration::from_millis(self.autoheal_window_ms),
                max_vnfc_heals: self.autoheal_max_vnfc_heals,
            })
            .with_auto_scale(AutoScaleConfig {
                cooldown: Duration::from_secs(self.autoscale_cooldown),
            })
    }
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> Error {
    Error::InvalidRequest(format!("{what} {}: {error}", path.display()))
}

fn auth_config(args: &Args) -> Result<Option<AuthConfig>> {
    if args.auth == AuthMode::None {
        if !args.listen.ip().is_loopback() {
            return Err(Error::InvalidRequest(format!(
                "--auth none is only allowed on a loopback address, not {}; use --auth basic or --auth oauth2",
                args.listen
            )));
        }
        return Ok(None);
    }
    let path = args.auth_config.as_ref().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "--auth {:?} needs --auth-config FILE with its users or keys",
            args.auth
        ))
    })?;
    let text =
        std::fs::read_to_string(path).map_err(|e| io_error("reading the auth config", path, e))?;
    let config: AuthConfig = tacker_core::vnfd::yaml::from_str(&text)
        .map_err(|e| Error::InvalidRequest(format!("auth config {}: {e}", path.display())))?;
    let (wanted, section) = match args.auth {
        AuthMode::Basic => (config.basic.is_some(), "basic"),
        AuthMode::Oauth2 => (config.oauth2.is_some(), "oauth2"),
        AuthMode::Certificate => (!config.client_certificates.is_empty(), "clientCertificates"),
        AuthMode::None => (true, "none"),
    };
    if !wanted || config.none.is_some() {
        return Err(Error::InvalidRequest(format!(
            "auth config {}: --auth {:?} needs a `{section}` section and no `none`",
            path.display(),
            args.auth,
        )));
    }
    if !config.client_certificates.is_empty() && args.tls_client_ca.is_none() {
        return Err(Error::InvalidRequest(format!(
            "auth config {}: clientCertificates need --tls-client-ca (and --tls-cert), so \
             that clients present certificates",
            path.display()
        )));
    }
    Ok(Some(config))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// The VNFM of these arguments: the store given, local files under the data directory,
/// the simulated, OpenStack and Kubernetes VIM types, the HTTP clients under the
/// outbound policy, and the built-in monitors and policies.
/// The sandbox of user-data classes, when `--user-data-python` names an interpreter.
async fn user_data(args: &Args, data_dir: &Path) -> Result<Option<UserDataRunner>> {
    let Some(python) = &args.user_data_python else {
        return Ok(None);
    };
    let config = SandboxConfig {
        python: python.clone(),
        time_limit: Duration::from_secs(args.user_data_timeout.max(1)),
        memory_limit: args.user_data_memory_mib.max(64) << 20,
        scratch_root: Some(data_dir.join("sandbox")),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(config).await.map_err(|e| {
        Error::InvalidRequest(format!("--user-data-python {}: {e}", python.display()))
    })?;
    tracing::info!(python = %python.display(), "user-data classes run in the sandbox");
    Ok(Some(UserDataRunner::new(Arc::new(sandbox))))
}

fn assemble(
    args: &Args,
    store: Arc<dyn Store>,
    data_dir: &Path,
    api_root: &str,
    user_data: Option<UserDataRunner>,
    scripts: Vec<Arc<dyn MgmtDriver>>,
) -> Result<(Vnfm, Option<Arc<NfvoPackageSource>>)> {
    let outbound = args.outbound.policy();
    tracing::info!(policy = ?outbound, "outbound policy");
    let mut vnfm = Vnfm::builder()
        .store(store.clone())
        .local_files(data_dir)
        .api_root(api_root)
        .outbound_policy(outbound.clone())
        .http_clients()?
        .package_config(PackageManagerConfig {
            trust: args.package_trust.trust()?,
            ..PackageManagerConfig::default().with_max_package_size(args.max_package_size)
        })
        .vim_type(args.sim.vim_type(store))
        .vim_type(tacker_drivers_openstack::vim_type(
            OpenStackOptions {
                user_data,
                ..OpenStackOptions::default()
            },
            outbound.clone(),
        )?)
        .vim_type(tacker_drivers_k8s::vim_type_with(
            outbound.clone(),
            HelmConfig::default().with_binary(&args.helm_binary),
            Duration::from_secs(args.kubernetes_timeout.max(1)),
        )?)
        .builtin_monitors(args.monitors.settings())
        .lcm_config(LcmConfig {
            lease_ttl: Duration::from_secs(args.op_lease_ttl.max(1)),
            ..LcmConfig::default()
        });
    let nfvo_packages = Arc::new(std::sync::OnceLock::new());
    if let Some(grants) = args.nfvo.grants(&outbound)? {
        // Packages not onboarded here come from the NFVO.
        let connection = grants.connection();
        let slot = nfvo_packages.clone();
        vnfm = vnfm.package_source_over_manager(move |manager| {
            let source = Arc::new(NfvoPackageSource::new(connection, manager));
            let _ = slot.set(source.clone());
            source
        });
        vnfm = vnfm.grant_provider(Arc::new(grants));
    }
    if let Some(coordinator) = args.nfvo.coordinator(&outbound)? {
        vnfm = vnfm.lcm_coordinator(Arc::new(coordinator));
    }
    if !args.no_sim_vim {
        let sim = VimRegistration::new("sim", SIM_VIM_TYPE);
        vnfm = vnfm.register_default_vim(sim.with_description("the simulated VIM").as_default());
    }
    // The key is resolved here, as the builder would, because the cluster driver
    // seals what it records with it too.
    let key_file = args
        .sealing_key_file
        .clone()
        .unwrap_or_else(|| data_dir.join("sealing.key"));
    let key = SealingKey::load_or_create(&key_file)?;
    for driver in args.k8s_cluster.drivers(&key)? {
        tracing::info!(name = driver.name(), "Kubernetes-cluster management driver");
        vnfm = vnfm.mgmt_driver(Arc::new(driver));
    }
    vnfm = vnfm.sealing_key(key);
    for driver in scripts {
        tracing::info!(name = driver.name(), "package scripts run in the sandbox");
        vnfm = vnfm.mgmt_driver(driver);
    }
    if let Some(spool_dir) = &args.spool_dir {
        vnfm = vnfm.spool_dir(spool_dir);
    }
    if let Some(sink) = args.notifications.sink(&outbound)? {
        vnfm = vnfm.notification_sink(Arc::new(sink));
    }
    for name in &args.noop_mgmt_drivers {
        vnfm = vnfm.mgmt_driver(Arc::new(NoopMgmtDriver::new(name)));
    }
    let vnfm = vnfm.build()?;
    Ok((vnfm, nfvo_packages.get().cloned()))
}

/// Subscribes to the NFVO's package notifications, trying again (a bounded number of
/// times, with a growing delay) while the NFVO cannot be reached.
fn subscribe_to_nfvo_packages(source: Arc<NfvoPackageSource>, api_root: &str) {
    let callback = format!(
        "{}{}",
        api_root.trim_end_matches('/'),
        tacker_api::rest::NFVO_PACKAGE_NOTIFICATIONS
    );
    tokio::spawn(async move {
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=10 {
            tokio::time::sleep(delay).await;
            match source.subscribe(&callback).await {
                Ok(_) => return,
                Err(error) => {
                    tracing::warn!(attempt, %error, "cannot subscribe to the NFVO's package notifications");
                }
            }
            delay = (delay * 2).min(Duration::from_secs(60));
        }
        tracing::error!(
            "gave up subscribing to the NFVO's package notifications; copies of its packages are still checked before each new instance"
        );
    });
}

async fn run(args: Args) -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let auth = auth_config(&args)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let clients = args.tls_client_ca.as_deref().map(|ca| {
                let auth = if args.tls_client_auth == "optional" {
                    tacker_api::serve::ClientAuth::Optional
                } else {
                    tacker_api::serve::ClientAuth::Required
                };
                (ca, auth)
            });
            Some(tacker_api::serve::tls_config_with_clients(
                cert, key, clients,
            )?)
        }
        _ => None,
    };
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| io_error("creating the data directory", &args.data_dir, e))?;
    let data_dir = args
        .data_dir
        .canonicalize()
        .map_err(|e| io_error("the data directory", &args.data_dir, e))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::InvalidRequest(format!("listening on {}: {e}", args.listen)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;

    let sqlite = format!("sqlite://{}?mode=rwc", data_dir.join("tacker.db").display());
    let options = SqlStoreOptions::default()
        .with_max_connections(args.db_max_connections)
        .with_index_lag(Duration::from_millis(args.db_index_lag_ms));
    let sql =
        SqlStore::connect_with(args.database_url.as_deref().unwrap_or(&sqlite), options).await?;
    tracing::info!(backend = ?sql.backend(), tls = sql.uses_tls().await.unwrap_or(false), "store ready");
    let store: Arc<dyn Store> = Arc::new(sql);
    let api_root = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let user_data = user_data(&args, &data_dir).await?;
    let mut scripts: Vec<Arc<dyn MgmtDriver>> = Vec::new();
    for driver in args.scripts.drivers(&data_dir).await? {
        scripts.push(Arc::new(driver));
    }
    for driver in args.scripts.ansible_drivers(&data_dir).await? {
        scripts.push(Arc::new(driver));
    }
    let (vnfm, nfvo_packages) = assemble(
        &args,
        store.clone(),
        &data_dir,
        &api_root,
        user_data,
        scripts,
    )?;
    vnfm.start().await?;
    let metrics = Metrics::new(Some(store));
    let watcher = metrics.watch_operations(vnfm.lcm());
    let mut api = Api::new(
        &vnfm,
        ApiConfig::default().with_page_size(usize::from(args.page_size)),
    )
    .with_metrics(metrics);
    if let Some(auth) = auth {
        let authenticator = Authenticator::new(auth)
            .map_err(|e| Error::InvalidRequest(format!("auth config: {e}")))?;
        api = api.with_authenticator(authenticator);
    }
    if let Some(source) = nfvo_packages {
        api = api.with_nfvo_packages(source.clone());
        subscribe_to_nfvo_packages(source, &api_root);
    }

    // The first line on stdout says where the server is, for scripts and tests.
    println!("vnfm listening on {scheme}://{local} (API root {api_root})");
    tracing::info!(%local, %api_root, data_dir = %data_dir.display(), "serving");
    let grace = Duration::from_secs(args.shutdown_grace);
    tacker_api::serve::serve(listener, api.router(), tls, shutdown_signal(), grace).await?;
    tracing::info!("stopped accepting requests; handing running operations back to the store");
    vnfm.shutdown().await;
    watcher.abort();
    tracing::info!("stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("vnfm: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vnfm: {error}");
            ExitCode::FAILURE
        }
    }
}
