//! Keystone v3: what a VIM's `VimConnectionInfo` says about authentication, and a
//! session that holds one token per VIM, renews it before it expires (and once on a
//! 401), and finds service endpoints in the token's catalog.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tacker_core::model::{KeyValuePairs, VimConnectionInfo};
use tacker_core::outbound::{self, OutboundPolicy};
use tacker_core::{Error, Result};
use tokio::sync::Mutex;
use url::Url;

use crate::DRIVER;

/// The longest OpenStack error message an error quotes.
const REASON_CHARS: usize = 200;

/// Who authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user and password (`accessInfo.username`, `password`, `userDomain` or
    /// `userDomainId`).
    Password {
        /// The user name.
        username: String,
        /// The user's domain.
        user_domain: DomainRef,
        /// The password.
        password: String,
    },
    /// An application credential (`accessInfo.applicationCredentialId` and
    /// `applicationCredentialSecret`).
    ApplicationCredential {
        /// The credential's id.
        id: String,
        /// Its secret.
        secret: String,
    },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Password {
                username,
                user_domain,
                ..
            } => f
                .debug_struct("Password")
                .field("username", username)
                .field("user_domain", user_domain)
                .finish_non_exhaustive(),
            Self::ApplicationCredential { id, .. } => f
                .debug_struct("ApplicationCredential")
                .field("id", id)
                .finish_non_exhaustive(),
        }
    }
}

/// A domain named by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    /// By id (`default` when nothing is given).
    Id(String),
    /// By name.
    Name(String),
}

impl DomainRef {
    fn to_json(&self) -> Value {
        match self {
            Self::Id(id) => json!({ "id": id }),
            Self::Name(name) => json!({ "name": name }),
        }
    }
}

/// The project a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectScope {
    /// By id (`accessInfo.projectId`).
    Id(String),
    /// By name and domain (`accessInfo.project` with `projectDomain` or
    /// `projectDomainId`).
    Name {
        /// The project name.
        name: String,
        /// Its domain.
        domain: DomainRef,
    },
}

/// Everything needed to authenticate against one VIM, read from its
/// `VimConnectionInfo`:
///
/// | field | meaning |
/// |---|---|
/// | `interfaceInfo.endpoint` | Keystone's v3 URL, e.g. `https://keystone.example:5000/v3` |
/// | `interfaceInfo.ssl_ca_cert` | PEM certificates trusted besides the system's |
/// | `interfaceInfo.skipCertificateVerification` (or `skip_certificate_verification`) | `true` turns TLS verification off (default `false`) |
/// | `interfaceInfo.interface` | endpoint interface to use: `public` (default), `internal`, `admin` |
/// | `accessInfo.username`, `password` | password authentication |
/// | `accessInfo.userDomain` / `userDomainId` | the user's domain (default id `default`) |
/// | `accessInfo.applicationCredentialId`, `applicationCredentialSecret` | application-credential authentication instead of a password |
/// | `accessInfo.project` / `projectId` | the project scope |
/// | `accessInfo.projectDomain` / `projectDomainId` | the project's domain (default id `default`) |
/// | `accessInfo.region` | the region whose endpoints are used (default: any) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneConfig {
    /// Keystone's v3 URL.
    pub auth_url: Url,
    /// Who authenticates.
    pub credential: Credential,
    /// The project scope; application credentials carry their own.
    pub project: Option<ProjectScope>,
    /// The region of the endpoints to use.
    pub region: Option<String>,
    /// The endpoint interface.
    pub interface: String,
    /// Extra trusted CA certificates (PEM).
    pub ca_pem: Option<String>,
    /// Whether TLS certificates are verified.
    pub verify_tls: bool,
}

fn text_field(map: &KeyValuePairs, section: &str, key: &str) -> Result<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err(Error::InvalidRequest(format!(
            "vimConnectionInfo.{section}.{key} is empty"
        ))),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::InvalidRequest(format!(
            "vimConnectionInfo.{section}.{key} must be a string, not {other}"
        ))),
    }
}

fn domain(access: &KeyValuePairs, name_key: &str, id_key: &str) -> Result<DomainRef> {
    if let Some(id) = text_field(access, "accessInfo", id_key)? {
        return Ok(DomainRef::Id(id));
    }
    Ok(match text_field(access, "accessInfo", name_key)? {
        Some(name) => DomainRef::Name(name),
        None => DomainRef::Id("default".to_owned()),
    })
}

impl KeystoneConfig {
    /// Reads the configuration of `vim`; an error names the missing or malformed field.
    pub fn from_vim(vim: &VimConnectionInfo) -> Result<Self> {
        let interface = &vim.interface_info;
        let access = &vim.access_info;
        let endpoint = text_field(interface, "interfaceInfo", "endpoint")?.ok_or_else(|| {
            Error::InvalidRequest(
                "vimConnectionInfo.interfaceInfo.endpoint (the Keystone v3 URL) is missing"
                    .to_owned(),
            )
        })?;
        let mut auth_url = Url::parse(endpoint.trim()).map_err(|e| {
            Error::InvalidRequest(format!(
                "vimConnectionInfo.interfaceInfo.endpoint '{endpoint}' is not a URL: {e}"
            ))
        })?;
        if !matches!(auth_url.scheme(), "http" | "https") || auth_url.host_str().is_none() {
            return Err(Error::InvalidRequest(format!(
                "vimConnectionInfo.interfaceInfo.endpoint '{endpoint}' must be an http or https URL"
            )));
        }
        if !auth_url.path().ends_with('/') {
            let path = format!("{}/", auth_url.path());
            auth_url.set_path(&path);
        }
        let credential = match (
            text_field(access, "accessInfo", "applicationCredentialId")?,
            text_field(access, "accessInfo", "applicationCredentialSecret")?,
        ) {
            (Some(id), Some(secret)) => Credential::ApplicationCredential { id, secret },
            (Some(_), None) => {
                return Err(Error::InvalidRequest(
                    "vimConnectionInfo.accessInfo.applicationCredentialSecret is missing".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(Error::InvalidRequest(
                    "vimConnectionInfo.accessInfo.applicationCredentialId is missing".into(),
                ));
            }
            (None, None) => Credential::Password {
                username: text_field(access, "accessInfo", "username")?.ok_or_else(|| {
                    Error::InvalidRequest(
                        "vimConnectionInfo.accessInfo.username is missing (or give \
                         applicationCredentialId and applicationCredentialSecret)"
                            .into(),
                    )
                })?,
                user_domain: domain(access, "userDomain", "userDomainId")?,
                password: text_field(access, "accessInfo", "password")?.ok_or_else(|| {
                    Error::InvalidRequest("vimConnectionInfo.accessInfo.password is missing".into())
                })?,
            },
        };
        let project = match (
            text_field(access, "accessInfo", "projectId")?,
            text_field(access, "accessInfo", "project")?,
        ) {
            (Some(id), _) => Some(ProjectScope::Id(id)),
            (None, Some(name)) => Some(ProjectScope::Name {
                name,
                domain: domain(access, "projectDomain", "projectDomainId")?,
            }),
            (None, None) => None,
        };
        if project.is_none() && matches!(credential, Credential::Password { .. }) {
            return Err(Error::InvalidRequest(
                "vimConnectionInfo.accessInfo.project (or projectId) is missing: Heat needs a \
                 project-scoped token"
                    .into(),
            ));
        }
        // Both spellings: the Kubernetes VIM's `skip_certificate_verification` too.
        let skip_key = [
            "skipCertificateVerification",
            "skip_certificate_verification",
        ]
        .into_iter()
        .find(|key| interface.contains_key(*key))
        .unwrap_or("skipCertificateVerification");
        let verify_tls = match interface.get(skip_key) {
            None | Some(Value::Null) => true,
            Some(Value::Bool(skip)) => !skip,
            Some(other) => {
                return Err(Error::InvalidRequest(format!(
                    "vimConnectionInfo.interfaceInfo.{skip_key} must be a boolean, not {other}"
                )));
            }
        };
        let interface_name = text_field(interface, "interfaceInfo", "interface")?
            .unwrap_or_else(|| "public".to_owned());
        if !matches!(interface_name.as_str(), "public" | "internal" | "admin") {
            return Err(Error::InvalidRequest(format!(
                "vimConnectionInfo.interfaceInfo.interface must be public, internal or admin, \
                 not '{interface_name}'"
            )));
        }
        Ok(Self {
            auth_url,
            credential,
            project,
            region: text_field(access, "accessInfo", "region")?,
            interface: interface_name,
            ca_pem: text_field(interface, "interfaceInfo", "ssl_ca_cert")?,
            verify_tls,
        })
    }

    /// The body of `POST /v3/auth/tokens`.
    fn auth_body(&self) -> Value {
        let identity = match &self.credential {
            Credential::Password {
                username,
                user_domain,
                password,
            } => json!({
                "methods": ["password"],
                "password": {"user": {
                    "name": username,
                    "domain": user_domain.to_json(),
                    "password": password,
                }},
            }),
            Credential::ApplicationCredential { id, secret } => json!({
                "methods": ["application_credential"],
                "application_credential": {"id": id, "secret": secret},
            }),
        };
        let mut auth = json!({ "identity": identity });
        if matches!(self.credential, Credential::Password { .. })
            && let Some(project) = &self.project
        {
            auth["scope"] = match project {
                ProjectScope::Id(id) => json!({"project": {"id": id}}),
                ProjectScope::Name { name, domain } => {
                    json!({"project": {"name": name, "domain": domain.to_json()}})
                }
            };
        }
        json!({ "auth": auth })
    }

    /// Who this configuration authenticates as, for messages.
    pub fn principal(&self) -> String {
        match &self.credential {
            Credential::Password { username, .. } => format!("user '{username}'"),
            Credential::ApplicationCredential { id, .. } => {
                format!("application credential '{id}'")
            }
        }
    }
}

/// Counts shared by the sessions of one driver: how often Keystone was asked for a
/// token, against how many sessions and service calls.
#[derive(Debug, Default)]
pub struct SessionStats {
    sessions: AtomicU64,
    token_requests: AtomicU64,
    service_calls: AtomicU64,
}

impl SessionStats {
    /// Sessions opened.
    pub fn sessions(&self) -> u64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// `POST /v3/auth/tokens` requests sent.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// Requests sent to services (Heat, Nova) with a token.
    pub fn service_calls(&self) -> u64 {
        self.service_calls.load(Ordering::Relaxed)
    }
}

/// One endpoint of the catalog.
#[derive(Debug, Clone, Deserialize)]
struct CatalogEndpoint {
    interface: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    region_id: Option<String>,
    url: String,
}

/// One service of the catalog.
#[derive(Debug, Clone, Deserialize)]
struct CatalogService {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Debug, Deserialize)]
struct TokenProject {
    id: String,
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    expires_at: DateTime<Utc>,
    #[serde(default)]
    issued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
    #[serde(default)]
    project: Option<TokenProject>,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    token: TokenBody,
}

/// A token and what came with it.
struct Token {
    value: String,
    expires_at: DateTime<Utc>,
    renew_after: DateTime<Utc>,
    catalog: Vec<CatalogService>,
    project_id: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("expires_at", &self.expires_at)
            .field("renew_after", &self.renew_after)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

/// A Keystone session for one VIM: one token at a time, shared by every request.
///
/// The token is fetched on first use and renewed when half its lifetime (at most five
/// minutes before expiry) has passed, or when a service answers 401 — then the
/// request is sent once more with the new token. Concurrent callers wait for one
/// renewal instead of each authenticating.
#[derive(Debug)]
pub struct KeystoneSession {
    config: KeystoneConfig,
    http: Client,
    policy: Arc<OutboundPolicy>,
    token: Mutex<Option<Arc<Token>>>,
    stats: Arc<SessionStats>,
}

/// The longest a token is used before its expiry.
const RENEW_MARGIN: Duration = Duration::from_secs(300);

/// The message of an OpenStack error body (`{"error": {"message": …}}` from Keystone
/// and Heat, `{"<kind>": {"message": …}}` from Nova), sanitized and at most
/// [`REASON_CHARS`] characters. Any other body is not quoted: the endpoint may be
/// anything the VNFM's network reaches, and its answer must not reach API clients.
pub(crate) fn error_message(body: &str) -> String {
    if let Ok(value) = serde_json::from_str::<Value>(body)
        && let Some(object) = value.as_object()
    {
        for (_, inner) in object {
            if let Some(message) = inner.get("message").and_then(Value::as_str) {
                let kind = inner
                    .get("type")
                    .or_else(|| inner.get("title"))
                    .and_then(Value::as_str);
                let text = match kind {
                    Some(kind) => format!("{kind}: {}", message.trim()),
                    None => message.trim().to_owned(),
                };
                return outbound::sanitize_reason(&text, REASON_CHARS);
            }
        }
    }
    tracing::debug!(
        body = %outbound::sanitize_reason(body, 400),
        "an answer without an OpenStack error message"
    );
    "no OpenStack error message".to_owned()
}

/// Whether an HTTP status means "try again later".
pub(crate) fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

pub(crate) fn transport_error(what: &str, url: &str, error: &reqwest::Error) -> Error {
    if let Some(refused) = outbound::find_refusal(error) {
        return Error::InvalidRequest(format!("{what} {url}: {refused}"));
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    Error::driver(DRIVER, true, format!("{what} {url} failed: {text}"))
}

/// Whether a request failed because its connection broke (reset or closed before an
/// answer) rather than by a timeout, a refused connection or the outbound policy.
fn connection_broke(error: &reqwest::Error) -> bool {
    if error.is_timeout() || error.is_connect() || outbound::find_refusal(error).is_some() {
        return false;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && (hyper.is_incomplete_message() || hyper.is_canceled())
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Installs rustls's ring provider as the process default once; a provider installed
/// before (by the embedder) is kept.
fn install_crypto_provider() {
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves host names and keeps the addresses the outbound policy allows.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = policy.resolve(&host, 0).await.map_err(|e| {
                tracing::warn!(%host, error = %e, "outbound request to an OpenStack endpoint refused");
                Box::new(e) as Box<dyn std::error::Error + Send + Sync>
            })?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Refuses `url` when its scheme or literal address is outside `policy` (names are
/// checked when connecting).
pub(crate) fn check_url(policy: &OutboundPolicy, what: &str, url: &Url) -> Result<()> {
    policy
        .check_target(url.scheme(), url.host_str().unwrap_or_default())
        .map_err(|refused| Error::InvalidRequest(format!("{what} {url}: {refused}")))
}

/// An HTTP client with the TLS settings of `config` that connects only where `policy`
/// allows, and follows at most five redirects, each checked by the policy.
pub(crate) fn http_client(config: &KeystoneConfig, policy: &Arc<OutboundPolicy>) -> Result<Client> {
    install_crypto_provider();
    let hops = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > 5 {
            return attempt.error("more than 5 redirects");
        }
        let url = attempt.url();
        match hops.check_target(url.scheme(), url.host_str().unwrap_or_default()) {
            Ok(()) => attempt.follow(),
            Err(refused) => attempt.error(refused),
        }
    });
    let mut builder = Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .dns_resolver(PolicyResolver {
            policy: policy.clone(),
        })
        .redirect(redirects);
    if let Some(pem) = &config.ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            Error::InvalidRequest(format!(
                "vimConnectionInfo.interfaceInfo.ssl_ca_cert is not valid PEM: {e}"
            ))
        })?;
        if certs.is_empty() {
            return Err(Error::InvalidRequest(
                "vimConnectionInfo.interfaceInfo.ssl_ca_cert holds no certificate".into(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if !config.verify_tls {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {e}")))
}

impl KeystoneSession {
    /// A session for `config`; nothing is sent until the first request.
    pub fn new(config: KeystoneConfig, stats: Arc<SessionStats>) -> Result<Self> {
        Self::with_policy(config, stats, Arc::new(OutboundPolicy::default()))
    }

    /// A session for `config` whose requests (Keystone, and the services of its
    /// catalog) go only where `policy` allows. Fails with `InvalidRequest` when the
    /// Keystone URL itself is outside the policy.
    pub fn with_policy(
        config: KeystoneConfig,
        stats: Arc<SessionStats>,
        policy: Arc<OutboundPolicy>,
    ) -> Result<Self> {
        check_url(&policy, "Keystone at", &config.auth_url)?;
        let http = http_client(&config, &policy)?;
        stats.sessions.fetch_add(1, Ordering::Relaxed);
        Ok(Self {
            config,
            http,
            policy,
            token: Mutex::new(None),
            stats,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &KeystoneConfig {
        &self.config
    }

    /// The counters this session adds to.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    async fn authenticate(&self) -> Result<Token> {
        let url = self
            .config
            .auth_url
            .join("auth/tokens")
            .map_err(|e| Error::Internal(format!("cannot build the token URL: {e}")))?;
        self.stats.token_requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(keystone = %url, principal = %self.config.principal(), "requesting a token");
        let response = self
            .http
            .post(url.clone())
            .json(&self.config.auth_body())
            .send()
            .await
            .map_err(|e| transport_error("Keystone authentication at", url.as_str(), &e))?;
        let status = response.status();
        let subject = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .text()
            .await
            .map_err(|e| transport_error("reading Keystone's answer from", url.as_str(), &e))?;
        if !status.is_success() {
            let retryable = retryable_status(status);
            let hint = match status {
                StatusCode::UNAUTHORIZED => " (wrong credentials?)",
                StatusCode::NOT_FOUND => " (is the endpoint Keystone's v3 URL?)",
                _ => "",
            };
            return Err(Error::driver(
                DRIVER,
                retryable,
                format!(
                    "Keystone at {url} refused to authenticate {} scoped to {}: {status}{hint}: {}",
                    self.config.principal(),
                    self.scope_text(),
                    error_message(&body)
                ),
            ));
        }
        let value = subject.ok_or_else(|| {
            Error::driver(
                DRIVER,
                false,
                format!("Keystone at {url} answered {status} without an X-Subject-Token header"),
            )
        })?;
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!("Keystone at {url} answered a token body that does not parse: {e}"),
            )
        })?;
        let issued = parsed.token.issued_at.unwrap_or_else(Utc::now);
        let lifetime = parsed.token.expires_at - issued;
        let margin =
            (lifetime / 2).min(chrono::Duration::from_std(RENEW_MARGIN).unwrap_or_default());
        Ok(Token {
            value,
            expires_at: parsed.token.expires_at,
            renew_after: parsed.token.expires_at - margin,
            catalog: parsed.token.catalog,
            project_id: parsed.token.project.map(|p| p.id),
        })
    }

    fn scope_text(&self) -> String {
        match &self.config.project {
            Some(ProjectScope::Id(id)) => format!("project id '{id}'"),
            Some(ProjectScope::Name { name, .. }) => format!("project '{name}'"),
            None => "its own project".to_owned(),
        }
    }

    /// The current token, authenticating when there is none or it is due for renewal.
    async fn current(&self) -> Result<Arc<Token>> {
        let mut slot = self.token.lock().await;
        if let Some(token) = slot.as_ref()
            && Utc::now() < token.renew_after
        {
            return Ok(token.clone());
        }
        let token = Arc::new(self.authenticate().await?);
        *slot = Some(token.clone());
        Ok(token)
    }

    /// Forgets `stale` (a token a service refused), unless it was replaced already.
    async fn forget(&self, stale: &Arc<Token>) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| Arc::ptr_eq(t, stale)) {
            *slot = None;
        }
    }

    /// Checks the credentials now: authenticates unless a valid token is held.
    pub async fn check(&self) -> Result<()> {
        self.current().await.map(|_| ())
    }

    /// Makes the session use `token` (valid until `expires_at`) with the catalog of its
    /// current token — for an embedder that already holds a token, and for tests that
    /// hand it a token Keystone has revoked.
    pub async fn adopt_token(&self, token: String, expires_at: DateTime<Utc>) -> Result<()> {
        let current = self.current().await?;
        let adopted = Token {
            value: token,
            expires_at,
            renew_after: expires_at,
            catalog: current.catalog.clone(),
            project_id: current.project_id.clone(),
        };
        *self.token.lock().await = Some(Arc::new(adopted));
        Ok(())
    }

    /// The project the token is scoped to.
    pub async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.current().await?.project_id.clone())
    }

    /// The regions the catalog has endpoints in.
    pub async fn regions(&self) -> Result<Vec<String>> {
        let token = self.current().await?;
        let mut regions: Vec<String> = token
            .catalog
            .iter()
            .flat_map(|s| s.endpoints.iter())
            .filter_map(|e| e.region_id.clone().or_else(|| e.region.clone()))
            .collect();
        regions.sort();
        regions.dedup();
        Ok(regions)
    }

    /// The URL of `service_type` (`orchestration`, `compute`, …) in the catalog, for the
    /// configured region and interface. The error lists what the catalog offers.
    pub async fn endpoint(&self, service_type: &str) -> Result<Url> {
        let token = self.current().await?;
        self.endpoint_in(&token, service_type)
    }

    /// Whether the catalog lists `service_type` for the configured region and interface.
    pub async fn offers(&self, service_type: &str) -> Result<bool> {
        let token = self.current().await?;
        Ok(self.endpoint_in(&token, service_type).is_ok())
    }

    fn endpoint_in(&self, token: &Token, service_type: &str) -> Result<Url> {
        let region_matches = |e: &CatalogEndpoint| match &self.config.region {
            None => true,
            Some(region) => {
                e.region_id.as_deref() == Some(region) || e.region.as_deref() == Some(region)
            }
        };
        let found = token
            .catalog
            .iter()
            .filter(|s| s.service_type == service_type)
            .flat_map(|s| s.endpoints.iter())
            .find(|e| e.interface == self.config.interface && region_matches(e));
        let Some(endpoint) = found else {
            let offered: Vec<String> = token
                .catalog
                .iter()
                .flat_map(|s| {
                    s.endpoints.iter().map(move |e| {
                        format!(
                            "{} {} in {}",
                            s.service_type,
                            e.interface,
                            e.region_id
                                .as_deref()
                                .or(e.region.as_deref())
                                .unwrap_or("no region")
                        )
                    })
                })
                .collect();
            return Err(Error::driver(
                DRIVER,
                false,
                format!(
                    "the service catalog of {} has no {} endpoint of '{service_type}'{}; it offers: {}",
                    self.config.auth_url,
                    self.config.interface,
                    self.config
                        .region
                        .as_ref()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default(),
                    if offered.is_empty() {
                        "nothing".to_owned()
                    } else {
                        offered.join(", ")
                    }
                ),
            ));
        };
        let mut url = Url::parse(&endpoint.url).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!(
                    "the catalog's {service_type} endpoint '{}' is not a URL: {e}",
                    endpoint.url
                ),
            )
        })?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    /// Sends a request to `service_type` at `path` (relative to its endpoint) with the
    /// token; on 401 the token is renewed and the request sent once more. An
    /// idempotent request (GET, HEAD, PUT, DELETE) whose connection broke before an
    /// answer came (a kept-alive connection the service closed as it was reused) is
    /// sent once more on a fresh one. `build` adds the method-specific parts (body,
    /// query) and may be called more than once.
    pub(crate) async fn send(
        &self,
        service_type: &str,
        method: Method,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<(Url, Response)> {
        let mut renewed = false;
        let mut resent = false;
        loop {
            let token = self.current().await?;
            let base = self.endpoint_in(&token, service_type)?;
            let url = base
                .join(path.trim_start_matches('/'))
                .map_err(|e| Error::Internal(format!("cannot join '{path}' to {base}: {e}")))?;
            check_url(&self.policy, &format!("{method}"), &url)?;
            self.stats.service_calls.fetch_add(1, Ordering::Relaxed);
            let request = self
                .http
                .request(method.clone(), url.clone())
                .header("X-Auth-Token", &token.value)
                .header("Accept", "application/json");
            let response = match build(request).send().await {
                Ok(response) => response,
                Err(e) if !resent && method.is_idempotent() && connection_broke(&e) => {
                    tracing::info!(%url, error = %e, "the connection broke; sending the request once more");
                    resent = true;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(transport_error(&format!("{method}"), url.as_str(), &e)),
            };
            if response.status() == StatusCode::UNAUTHORIZED && !renewed {
                tracing::info!(%url, "the service refused the token; renewing it");
                renewed = true;
                self.forget(&token).await;
                continue;
            }
            return Ok((url, response));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vim(interface: Value, access: Value) -> VimConnectionInfo {
        VimConnectionInfo {
            vim_id: None,
            vim_type: crate::VIM_TYPE.into(),
            interface_info: serde_json::from_value(interface).expect("interface"),
            access_info: serde_json::from_value(access).expect("access"),
            extra: KeyValuePairs::new(),
        }
    }

    fn refusal(interface: Value, access: Value) -> String {
        match KeystoneConfig::from_vim(&vim(interface, access)) {
            Err(Error::InvalidRequest(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn password_credentials_with_names_and_defaults() {
        let config = KeystoneConfig::from_vim(&vim(
            json!({"endpoint": "https://keystone.example:5000/v3"}),
            json!({"username": "nfv", "password": "s3cret", "project": "vnfs",
                   "userDomain": "Users", "region": "RegionTwo"}),
        ))
        .expect("valid");
        assert_eq!(
            config.auth_url.as_str(),
            "https://keystone.example:5000/v3/"
        );
        assert_eq!(config.interface, "public");
        assert!(config.verify_tls, "TLS verification is on by default");
        assert_eq!(config.region.as_deref(), Some("RegionTwo"));
        let body = config.auth_body();
        assert_eq!(
            body["auth"]["identity"]["password"]["user"]["domain"],
            json!({"name": "Users"})
        );
        assert_eq!(
            body["auth"]["scope"]["project"],
            json!({"name": "vnfs", "domain": {"id": "default"}})
        );
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "Debug never shows the password"
        );
    }

    #[test]
    fn application_credentials_need_no_project() {
        let config = KeystoneConfig::from_vim(&vim(
            json!({"endpoint": "http://127.0.0.1:5000/v3", "skip_certificate_verification": true,
                   "interface": "internal"}),
            json!({"applicationCredentialId": "ac-1", "applicationCredentialSecret": "x"}),
        ))
        .expect("valid");
        assert!(!config.verify_tls);
        assert_eq!(config.interface, "internal");
        let body = config.auth_body();
        assert_eq!(
            body["auth"]["identity"]["methods"],
            json!(["application_credential"])
        );
        assert!(body["auth"].get("scope").is_none());
    }

    #[test]
    fn bad_fields_are_named() {
        let endpoint = json!({"endpoint": "http://127.0.0.1:5000/v3"});
        assert!(refusal(json!({}), json!({})).contains("interfaceInfo.endpoint"));
        assert!(refusal(json!({"endpoint": "ftp://x/v3"}), json!({})).contains("http or https"));
        assert!(refusal(endpoint.clone(), json!({"password": "p"})).contains("username"));
        assert!(
            refusal(endpoint.clone(), json!({"username": "u", "project": "p"}))
                .contains("accessInfo.password")
        );
        assert!(
            refusal(endpoint.clone(), json!({"username": "u", "password": "p"}))
                .contains("accessInfo.project")
        );
        assert!(
            refusal(endpoint.clone(), json!({"applicationCredentialId": "a"}))
                .contains("applicationCredentialSecret")
        );
        assert!(
            refusal(
                endpoint.clone(),
                json!({"username": 7, "password": "p", "project": "x"})
            )
            .contains("accessInfo.username must be a string")
        );
        let mut with_flag = endpoint.clone();
        with_flag["skipCertificateVerification"] = json!("yes");
        assert!(
            refusal(
                with_flag,
                json!({"username": "u", "password": "p", "project": "x"})
            )
            .contains("skipCertificateVerification must be a boolean")
        );
        let mut with_ca = endpoint;
        with_ca["ssl_ca_cert"] = json!("not a certificate");
        let config = KeystoneConfig::from_vim(&vim(
            with_ca,
            json!({"username": "u", "password": "p", "project": "x"}),
        ))
        .expect("parsed");
        match http_client(&config, &Arc::new(OutboundPolicy::default())) {
            Err(Error::InvalidRequest(message)) => {
                assert!(message.contains("ssl_ca_cert"), "{message}");
            }
            other => panic!("a bad CA bundle is refused, not {other:?}"),
        }
    }

    #[test]
    fn error_bodies_are_quoted_by_their_message() {
        assert_eq!(
            error_message(
                r#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#
            ),
            "Unauthorized: The request you have made requires authentication."
        );
        assert_eq!(
            error_message(
                r#"{"explanation": "x", "error": {"type": "StackValidationFailed", "message": "Property error"}}"#
            ),
            "StackValidationFailed: Property error"
        );
        assert_eq!(
            error_message("secret: plain text"),
            "no OpenStack error message"
        );
        let long = format!(
            r#"{{"error": {{"message": "a\u001b[2J{}"}}}}"#,
            "x".repeat(500)
        );
        let message = error_message(&long);
        assert!(message.chars().count() <= REASON_CHARS + 1, "{message}");
        assert!(!message.contains('\u{1b}'), "{message}");
    }

    /// A stand-in for Keystone and one `image` service on a loopback port, one request
    /// per connection. A request to the service whose number is in `broken` has its
    /// connection closed without an answer. Returns the address and the count of
    /// service requests.
    async fn flaky_cloud(
        broken: &'static [usize],
    ) -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut chunk = [0_u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&request).into_owned();
                    let (status, extra, body) = if head.starts_with("POST /v3/auth/tokens") {
                        let token = json!({"token": {
                            "expires_at": (Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
                            "catalog": [{"type": "image", "endpoints": [
                                {"interface": "public", "url": format!("http://{address}/image")}
                            ]}]
                        }});
                        ("201 Created", "X-Subject-Token: t-1\r\n", token.to_string())
                    } else {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        if broken.contains(&n) {
                            return;
                        }
                        ("200 OK", "", "{}".to_owned())
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        (address, calls)
    }

    fn flaky_session(address: std::net::SocketAddr) -> KeystoneSession {
        let config = KeystoneConfig::from_vim(&vim(
            json!({"endpoint": format!("http://{address}/v3")}),
            json!({"username": "nfv", "password": "pw", "project": "vnfs"}),
        ))
        .expect("valid");
        KeystoneSession::new(config, Arc::new(SessionStats::default())).expect("session")
    }

    #[tokio::test]
    async fn an_idempotent_request_is_sent_again_once_when_its_connection_breaks() {
        let (address, calls) = flaky_cloud(&[1]).await;
        let session = flaky_session(address);
        let (_, answer) = session
            .send("image", Method::GET, "v2/images", |r| r)
            .await
            .expect("the second connection answers");
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let (address, calls) = flaky_cloud(&[1, 2]).await;
        let session = flaky_session(address);
        let error = session
            .send("image", Method::DELETE, "v2/images/i-1", |r| r)
            .await
            .expect_err("sent twice at most");
        assert!(error.is_retryable(), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_request_that_may_have_acted_is_not_sent_again() {
        let (address, calls) = flaky_cloud(&[1]).await;
        let session = flaky_session(address);
        let error = session
            .send("image", Method::POST, "v2/images", |r| r.json(&json!({})))
            .await
            .expect_err("a POST whose connection broke fails");
        assert!(error.to_string().contains("POST"), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
