//! Authentication and authorization of API requests.
//!
//! An [`Authenticator`] is built from an [`AuthConfig`], which a server can load from
//! a file or the environment (YAML or JSON through serde, camelCase fields). It runs
//! in one of these modes:
//!
//! - **none**: every request acts for one tenant with every right (a server should only
//!   allow this when it listens on loopback);
//! - **basic** and/or **oauth2**: a request presents either HTTP Basic credentials of a
//!   configured user (RFC 7617) or an OAuth 2.0 bearer token (RFC 6750), a JWT signed
//!   with HS256, RS256 or ES256 by a configured key;
//! - **clientCertificates** (alone or beside basic/oauth2): a request without an
//!   `Authorization` header acts for the entry matching the client certificate its
//!   connection presented (verified by the TLS server against its client CAs).
//!
//! ```yaml
//! basic:
//!   users:
//!     - name: operator
//!       # a PHC string: made by tacker_api::rest::auth::hash_password, or an
//!       # Argon2 hash ("$argon2id$v=19$m=19456,t=2,p=1$…")
//!       passwordHash: "$pbkdf2-sha256$i=600000,l=32$c2FsdHNhbHRzYWx0c2FsdA$…"
//!       tenant: default
//!       scopes: [vnflcm, vnfpkgm, "vims:readonly"]
//! oauth2:
//!   issuer: https://idp.example.com/realms/nfv
//!   audience: tacker
//!   leewaySeconds: 60
//!   tenantClaim: tenant
//!   defaultTenant: default
//!   keys:
//!     - kid: idp-2024
//!       alg: RS256
//!       publicKeyPem: |
//!         -----BEGIN PUBLIC KEY-----
//!         …
//!         -----END PUBLIC KEY-----
//!   jwks: '{"keys": [{"kty": "EC", "crv": "P-256", "kid": "ec1", "x": "…", "y": "…"}]}'
//! clientCertificates:            # mutual TLS (vnfm --tls-client-ca)
//!   - subject: "CN=nfvo.example,O=Example Operator"
//!     tenant: default
//!     scopes: [vnflcm, vnfpkgm]
//!   - commonName: em.example
//!     tenant: default
//!     scopes: ["vnflcm:readonly"]
//! adminScope: admin
//! publicPaths: [/healthz]
//! realm: tacker
//! ```
//!
//! Authorization is by scope: a request to `/<api>/…` (`vnflcm`, `vnfpkgm`, `vims`,
//! `vnffm`, … — the first path segment) needs the scope `<api>`, or `<api>:readonly`
//! for `GET` and `HEAD`; the admin scope allows everything. The `api_versions`
//! resources need authentication but no scope; the public paths need neither.
//!
//! No or invalid credentials are answered with 401 and a `WWW-Authenticate` challenge
//! per enabled scheme; a missing scope with 403. Both carry a `ProblemDetails` body
//! saying what is wrong.

mod jwt;
mod keys;
mod password;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT;
use serde::Deserialize;
use tacker_core::TenantId;
use tokio::sync::Semaphore;

use super::Principal;
use super::sol013::ApiError;
use crate::serve::ClientCertificate;
use jwt::{JwtVerifier, TokenError};
pub use password::{
    DEFAULT_ITERATIONS, MAX_ARGON2_LANES, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PASSES, MAX_ITERATIONS,
    MIN_ITERATIONS, hash_password, hash_password_with_iterations,
};
use password::{LoginCache, PasswordHash};

/// How requests are authenticated: exactly one of `none`, or `basic` and/or `oauth2`.
/// In files the fields are camelCase (`adminScope`, `publicPaths`, …) and unknown
/// fields are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    /// No authentication: every request acts for one tenant with the admin scope.
    /// Excludes `basic` and `oauth2`. In a file, `none: {}` and a bare `none:` (null)
    /// both turn it on with the default tenant.
    #[serde(deserialize_with = "present")]
    pub none: Option<NoneConfig>,
    /// HTTP Basic authentication of configured users.
    pub basic: Option<BasicConfig>,
    /// OAuth 2.0 bearer tokens (JWTs).
    pub oauth2: Option<OAuth2Config>,
    /// Clients known by the certificate they present in the TLS handshake (mutual
    /// TLS: the server's `--tls-client-ca` verifies it first). A request without an
    /// `Authorization` header acts for the entry matching its certificate.
    pub client_certificates: Vec<CertificateUser>,
    /// The scope allowing every request to every API (default `admin`).
    pub admin_scope: String,
    /// Paths served without authentication, e.g. `/healthz` (the default). An entry
    /// ending in `*` matches every path starting with what precedes the `*`. `/metrics`
    /// is not public unless listed; otherwise it needs the scope `metrics`.
    pub public_paths: Vec<String>,
    /// The realm named in `WWW-Authenticate` challenges (default `tacker`).
    pub realm: String,
}

/// A field that is on when present, even when its value is null.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(
        Option::<T>::deserialize(deserializer)?.unwrap_or_default(),
    ))
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            none: None,
            basic: None,
            oauth2: None,
            client_certificates: Vec::new(),
            admin_scope: "admin".to_owned(),
            public_paths: vec!["/healthz".to_owned()],
            realm: "tacker".to_owned(),
        }
    }
}

impl AuthConfig {
    /// No authentication: everything acts for `tenant`.
    pub fn none(tenant: TenantId) -> Self {
        Self {
            none: Some(NoneConfig { tenant }),
            ..Self::default()
        }
    }
}

/// The `none` mode.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct NoneConfig {
    /// The tenant every request acts for (default `default`).
    pub tenant: TenantId,
}

/// A client known by its certificate: exactly one of `subject` (the whole subject as an
/// RFC 4514 string, e.g. `CN=nfvo.example,O=Example`: the same attributes in any order,
/// compared without case) and `commonName`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CertificateUser {
    /// The certificate's whole subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// The certificate's common name.
    #[serde(default)]
    pub common_name: Option<String>,
    /// The tenant the client acts for (default `default`).
    #[serde(default)]
    pub tenant: TenantId,
    /// What the client may do.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl CertificateUser {
    fn matches(&self, certificate: &ClientCertificate) -> bool {
        match (&self.subject, &self.common_name) {
            (Some(subject), _) => normalized_name(subject) == normalized_name(&certificate.subject),
            (None, Some(name)) => certificate.common_name.as_deref() == Some(name.as_str()),
            (None, None) => false,
        }
    }
}

/// The attributes of an RFC 4514 name, without spaces around separators, in lower
/// case and sorted (a name written most-specific-first matches one written in
/// certificate order).
fn normalized_name(name: &str) -> Vec<String> {
    let mut parts: Vec<String> = name
        .split(',')
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            format!("{}={}", key.trim(), value.trim()).to_lowercase()
        })
        .collect();
    parts.sort();
    parts
}

/// HTTP Basic authentication.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicConfig {
    /// The users.
    pub users: Vec<BasicUser>,
    /// For how long a successful login is remembered, so that the next requests with
    /// the same credentials skip the (deliberately slow) password hashing: seconds,
    /// default 300; 0 checks the hash on every request.
    pub cache_seconds: u64,
}

impl Default for BasicConfig {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            cache_seconds: 300,
        }
    }
}

/// A user of Basic authentication.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicUser {
    /// The user name (without `:`).
    pub name: String,
    /// The password's hash as a PHC string: PBKDF2 (`$pbkdf2-sha256$i=<iterations>,l=<length>$<salt>$<hash>`
    /// as [`hash_password`] makes it, or `$pbkdf2-sha512$…`) with [`MIN_ITERATIONS`] to
    /// [`MAX_ITERATIONS`] iterations, or Argon2 (`$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>`,
    /// or `$argon2i$…`) with at most [`MAX_ARGON2_MEMORY_KIB`] KiB, [`MAX_ARGON2_PASSES`]
    /// passes and [`MAX_ARGON2_LANES`] lanes. The older form
    /// `pbkdf2-sha256$<iterations>$<salt-base64>$<hash-base64>` is still understood.
    pub password_hash: String,
    /// The tenant the user acts for (default `default`).
    #[serde(default)]
    pub tenant: TenantId,
    /// What the user may do, e.g. `vnflcm`, `vnfpkgm:readonly`, `admin`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for BasicUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicUser")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("tenant", &self.tenant)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// OAuth 2.0 bearer tokens: JWTs (compact JWS) signed by one of the keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2Config {
    /// Keys tokens may be signed with.
    pub keys: Vec<JwtKey>,
    /// More keys as the text of a JWK Set (`{"keys": [...]}`, RFC 7517): RSA (`n`,
    /// `e`), EC P-256 (`x`, `y`) and `oct` keys; keys of other kinds or for
    /// encryption are skipped.
    pub jwks: Option<String>,
    /// The `iss` tokens must have; any when unset.
    pub issuer: Option<String>,
    /// The audience tokens must be for (the `aud` claim, a string or an array); any
    /// when unset.
    pub audience: Option<String>,
    /// The clock skew allowed when checking `exp`, `nbf` and `iat`, in seconds
    /// (default 60).
    pub leeway_seconds: u64,
    /// The claim naming the tenant of the caller (default `tenant`).
    pub tenant_claim: String,
    /// The tenant of tokens without the tenant claim; such tokens are refused (403)
    /// when unset.
    pub default_tenant: Option<TenantId>,
}

impl Default for OAuth2Config {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            jwks: None,
            issuer: None,
            audience: None,
            leeway_seconds: 60,
            tenant_claim: "tenant".to_owned(),
            default_tenant: None,
        }
    }
}

/// The signature algorithms of tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum JwsAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    #[serde(rename = "HS256")]
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA keys of 2048 to 8192 bits).
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
}

/// A key tokens may be signed with. It only verifies tokens of its `alg`.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtKey {
    /// The algorithm: `HS256`, `RS256` or `ES256`.
    pub alg: JwsAlgorithm,
    /// The key id: a token naming a `kid` is only checked with the keys of that id.
    #[serde(default)]
    pub kid: Option<String>,
    /// HS256: the shared secret as text (its UTF-8 bytes), at least 32 bytes.
    #[serde(default)]
    pub secret: Option<String>,
    /// HS256: the shared secret in base64 or base64url, at least 32 bytes decoded.
    #[serde(default)]
    pub secret_base64: Option<String>,
    /// RS256 and ES256: the public key as PEM, `-----BEGIN PUBLIC KEY-----`
    /// (SubjectPublicKeyInfo; an RSA key may also be `BEGIN RSA PUBLIC KEY`).
    #[serde(default)]
    pub public_key_pem: Option<String>,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("JwtKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("secret", &redacted(&self.secret))
            .field("secret_base64", &redacted(&self.secret_base64))
            .field(
                "public_key_pem",
                &self.public_key_pem.as_ref().map(|_| "<pem>"),
            )
            .finish()
    }
}

/// A configuration an [`Authenticator`] cannot be built from (or a password that
/// could not be hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfigError(String);

impl AuthConfigError {
    fn new(detail: impl Into<String>) -> Self {
        Self(detail.into())
    }
}

impl std::fmt::Display for AuthConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "authentication configuration: {}", self.0)
    }
}

impl std::error::Error for AuthConfigError {}

impl From<AuthConfigError> for tacker_core::Error {
    fn from(error: AuthConfigError) -> Self {
        Self::InvalidRequest(error.to_string())
    }
}

/// At most `max` characters of `text`, with everything but printable ASCII replaced:
/// for echoing request data in messages and headers.
fn printable(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

struct BasicAccount {
    hash: PasswordHash,
    tenant: TenantId,
    scopes: Vec<String>,
}

struct BasicUsers {
    accounts: HashMap<String, BasicAccount>,
    /// Checked for unknown users: as costly as the costliest configured hash.
    unmatchable: PasswordHash,
    cache: Option<LoginCache>,
    /// Bounds the password checks running at once (each may take a hash's memory).
    checks: Arc<Semaphore>,
}

impl BasicUsers {
    fn new(config: &BasicConfig) -> Result<Self, AuthConfigError> {
        if config.users.is_empty() {
            return Err(AuthConfigError::new("basic needs at least one user"));
        }
        let mut accounts = HashMap::new();
        for (index, user) in config.users.iter().enumerate() {
            if user.name.is_empty() || user.name.contains(':') {
                return Err(AuthConfigError::new(format!(
                    "basic.users[{index}]: the name is empty or contains ':'"
                )));
            }
            let hash = PasswordHash::parse(&user.password_hash).map_err(|detail| {
                AuthConfigError::new(format!(
                    "basic.users[{index}] ('{}'): the passwordHash {detail}",
                    user.name
                ))
            })?;
            let account = BasicAccount {
                hash,
                tenant: user.tenant.clone(),
                scopes: user.scopes.clone(),
            };
            if accounts.insert(user.name.clone(), account).is_some() {
                return Err(AuthConfigError::new(format!(
                    "basic.users: '{}' is configured twice",
                    user.name
                )));
            }
        }
        let unmatchable = accounts
            .values()
            .map(|account| &account.hash)
            .max_by_key(|hash| hash.cost())
            .map(PasswordHash::unmatchable)
            .ok_or_else(|| AuthConfigError::new("basic needs at least one user"))?;
        let cache = match config.cache_seconds {
            0 => None,
            seconds => Some(LoginCache::new(Duration::from_secs(seconds))?),
        };
        let parallel = std::thread::available_parallelism().map_or(1, usize::from);
        Ok(Self {
            accounts,
            unmatchable,
            cache,
            checks: Arc::new(Semaphore::new(parallel.max(2))),
        })
    }
}

/// Whether `password` matches `hash`, checked on a blocking thread once one of the
/// `checks` permits is free.
async fn check_password(checks: &Arc<Semaphore>, hash: PasswordHash, password: String) -> bool {
    let Ok(permit) = checks.clone().acquire_owned().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let matches = hash.verify(password.as_bytes());
        drop(permit);
        matches
    })
    .await
    .unwrap_or(false)
}

/// Verifies the credentials of requests and the scopes their paths need.
pub struct Authenticator {
    /// The principal of every request in the `none` mode.
    anonymous: Option<Principal>,
    basic: Option<BasicUsers>,
    bearer: Option<JwtVerifier>,
    certificates: Vec<CertificateUser>,
    admin_scope: String,
    public_paths: Vec<String>,
    realm: String,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Option<Vec<&String>> = self
            .basic
            .as_ref()
            .map(|basic| basic.accounts.keys().collect());
        f.debug_struct("Authenticator")
            .field("none", &self.anonymous.as_ref().map(|p| &p.tenant))
            .field("basic_users", &users)
            .field("oauth2", &self.bearer)
            .field("admin_scope", &self.admin_scope)
            .field("public_paths", &self.public_paths)
            .field("realm", &self.realm)
            .finish()
    }
}

/// Why a request is refused.
#[derive(Debug)]
enum Denied {
    /// 401: no or bad credentials; `token` when a bearer token was refused.
    Unauthenticated { detail: String, token: bool },
    /// 403: authenticated but not allowed; `scope` names the missing scope of a
    /// bearer-token caller.
    Forbidden {
        detail: String,
        scope: Option<String>,
    },
}

impl Denied {
    fn credentials(detail: impl Into<String>) -> Self {
        Self::Unauthenticated {
            detail: detail.into(),
            token: false,
        }
    }
}

/// The outcome of the credential check: the principal, and whether it came from a
/// bearer token.
struct Authenticated {
    principal: Principal,
    bearer: bool,
}

impl Authenticator {
    /// An authenticator of `config`; fails when the configuration is inconsistent or
    /// a key or password hash is unusable.
    pub fn new(config: AuthConfig) -> Result<Self, AuthConfigError> {
        if config.admin_scope.trim().is_empty() {
            return Err(AuthConfigError::new("adminScope is empty"));
        }
        if config.realm.is_empty()
            || !config
                .realm
                .chars()
                .all(|c| (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\')
        {
            return Err(AuthConfigError::new(
                "realm must be printable ASCII without quotes or backslashes",
            ));
        }
        if let Some(path) = config.public_paths.iter().find(|p| !p.starts_with('/')) {
            return Err(AuthConfigError::new(format!(
                "publicPaths: '{path}' does not start with '/'"
            )));
        }
        for (index, user) in config.client_certificates.iter().enumerate() {
            if user.subject.is_some() == user.common_name.is_some() {
                return Err(AuthConfigError::new(format!(
                    "clientCertificates[{index}]: give exactly one of subject and commonName"
                )));
            }
        }
        let certificates = !config.client_certificates.is_empty();
        let anonymous = match (&config.none, &config.basic, &config.oauth2) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(AuthConfigError::new(
                    "none excludes basic and oauth2: choose one",
                ));
            }
            (Some(_), None, None) if certificates => {
                return Err(AuthConfigError::new(
                    "none excludes clientCertificates: choose one",
                ));
            }
            (None, None, None) if !certificates => {
                return Err(AuthConfigError::new(
                    "no authentication mode: configure none, basic, oauth2 or clientCertificates",
                ));
            }
            (Some(none), _, _) => Some(Principal {
                subject: "anonymous".to_owned(),
                tenant: none.tenant.clone(),
                scopes: vec![config.admin_scope.clone()],
            }),
            (None, _, _) => None,
        };
        let basic = config.basic.as_ref().map(BasicUsers::new).transpose()?;
        let bearer = config.oauth2.as_ref().map(JwtVerifier::new).transpose()?;
        Ok(Self {
            anonymous,
            basic,
            bearer,
            certificates: config.client_certificates,
            admin_scope: config.admin_scope,
            public_paths: config.public_paths,
            realm: config.realm,
        })
    }

    fn is_public(&self, path: &str) -> bool {
        self.public_paths
            .iter()
            .any(|public| match public.strip_suffix('*') {
                Some(prefix) => path.starts_with(prefix),
                None => path == public,
            })
    }

    /// The principal of a request, `None` on a public path.
    async fn check(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        client: Option<&ClientCertificate>,
    ) -> Result<Option<Principal>, Denied> {
        if self.is_public(path) {
            return Ok(None);
        }
        let authenticated = match (&self.anonymous, client) {
            (Some(principal), _) => Authenticated {
                principal: principal.clone(),
                bearer: false,
            },
            (None, Some(client))
                if !self.certificates.is_empty() && !headers.contains_key(AUTHORIZATION) =>
            {
                self.certificate(client)?
            }
            (None, _) => self.credentials(headers).await?,
        };
        self.authorize(&authenticated, method, path)?;
        Ok(Some(authenticated.principal))
    }

    /// The principal the `Authorization` header proves.
    async fn credentials(&self, headers: &HeaderMap) -> Result<Authenticated, Denied> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let value = match (values.next(), values.next()) {
            (None, _) => {
                let schemes = self.schemes();
                let certificate = if self.certificates.is_empty() {
                    ""
                } else if schemes.is_empty() {
                    "present a client certificate this server knows in the TLS handshake"
                } else {
                    ", or present a client certificate this server knows"
                };
                return Err(Denied::credentials(if schemes.is_empty() {
                    format!("this resource needs authentication: {certificate}")
                } else {
                    format!(
                        "this resource needs authentication: send an Authorization header ({}){certificate}",
                        schemes.join(" or ")
                    )
                }));
            }
            (Some(_), Some(_)) => {
                return Err(Denied::credentials(
                    "the request has more than one Authorization header",
                ));
            }
            (Some(value), None) => value,
        };
        let value = value
            .to_str()
            .map_err(|_| Denied::credentials("the Authorization header is not ASCII text"))?
            .trim();
        let (scheme, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            match &self.basic {
                Some(users) => self.basic(users, credentials).await,
                None => Err(Denied::credentials(format!(
                    "Basic authentication is not enabled on this server; use {}",
                    self.schemes().join(" or ")
                ))),
            }
        } else if scheme.eq_ignore_ascii_case("bearer") {
            match &self.bearer {
                Some(verifier) => Self::bearer(verifier, credentials),
                None => Err(Denied::credentials(format!(
                    "bearer tokens are not enabled on this server; use {}",
                    self.schemes().join(" or ")
                ))),
            }
        } else {
            Err(Denied::credentials(format!(
                "the Authorization scheme '{}' is not supported; use {}",
                printable(scheme, 32),
                self.schemes().join(" or ")
            )))
        }
    }

    /// The principal a verified client certificate stands for.
    fn certificate(&self, client: &ClientCertificate) -> Result<Authenticated, Denied> {
        let user = self
            .certificates
            .iter()
            .find(|user| user.matches(client))
            .ok_or_else(|| {
                Denied::credentials(format!(
                    "the client certificate of '{}' is not one this server knows",
                    printable(&client.subject, 200)
                ))
            })?;
        Ok(Authenticated {
            principal: Principal {
                subject: format!("certificate:{}", client.subject),
                tenant: user.tenant.clone(),
                scopes: user.scopes.clone(),
            },
            bearer: false,
        })
    }

    fn schemes(&self) -> Vec<&'static str> {
        let mut schemes = Vec::new();
        if self.basic.is_some() {
            schemes.push("Basic");
        }
        if self.bearer.is_some() {
            schemes.push("Bearer");
        }
        schemes
    }

    async fn basic(&self, users: &BasicUsers, encoded: &str) -> Result<Authenticated, Denied> {
        let decoded = STANDARD_PAD_INDIFFERENT
            .decode(encoded)
            .map_err(|_| Denied::credentials("the Basic credentials are not base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| Denied::credentials("the Basic credentials are not UTF-8 text"))?;
        let (name, password) = text.split_once(':').ok_or_else(|| {
            Denied::credentials("the Basic credentials are not of the form user:password")
        })?;
        let account = users.accounts.get(name);
        let cached = match (account, &users.cache) {
            (Some(_), Some(cache)) => cache.hit(name, password.as_bytes()),
            _ => false,
        };
        let matches = cached || {
            let hash = account.map_or_else(|| users.unmatchable.clone(), |a| a.hash.clone());
            check_password(&users.checks, hash, password.to_owned()).await
        };
        match account {
            Some(account) if matches => {
                if let (false, Some(cache)) = (cached, &users.cache) {
                    cache.store(name, password.as_bytes());
                }
                Ok(Authenticated {
                    principal: Principal {
                        subject: name.to_owned(),
                        tenant: account.tenant.clone(),
                        scopes: account.scopes.clone(),
                    },
                    bearer: false,
                })
            }
            _ => Err(Denied::credentials(
                "the user name or the password is wrong",
            )),
        }
    }

    fn bearer(verifier: &JwtVerifier, token: &str) -> Result<Authenticated, Denied> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        match verifier.verify(token, now) {
            Ok(principal) => Ok(Authenticated {
                principal,
                bearer: true,
            }),
            Err(TokenError::Invalid(detail)) => Err(Denied::Unauthenticated {
                detail: format!("the bearer token is refused: {detail}"),
                token: true,
            }),
            Err(TokenError::NoTenant(detail)) => Err(Denied::Forbidden {
                detail,
                scope: None,
            }),
        }
    }

    /// Checks that the principal has a scope the path and method need.
    fn authorize(
        &self,
        authenticated: &Authenticated,
        method: &Method,
        path: &str,
    ) -> Result<(), Denied> {
        let Some(api) = path
            .strip_prefix('/')
            .and_then(|rest| rest.split('/').next())
            .filter(|api| !api.is_empty())
        else {
            return Ok(());
        };
        let read_only = method == Method::GET || method == Method::HEAD;
        if read_only && is_api_versions(path) {
            return Ok(());
        }
        let allowed = authenticated.principal.scopes.iter().any(|scope| {
            *scope == self.admin_scope
                || scope == api
                || (read_only && scope.strip_suffix(":readonly") == Some(api))
        });
        if allowed {
            return Ok(());
        }
        let api = printable(api, 64);
        let detail = if read_only {
            format!(
                "{method} {} needs the scope '{api}' or '{api}:readonly' (or '{}')",
                printable(path, 256),
                self.admin_scope
            )
        } else {
            format!(
                "{method} {} needs the scope '{api}' (or '{}'); '{api}:readonly' only allows GET and HEAD",
                printable(path, 256),
                self.admin_scope
            )
        };
        Err(Denied::Forbidden {
            detail,
            scope: authenticated.bearer.then_some(api),
        })
    }

    /// The answer refusing a request.
    fn refuse(&self, denied: Denied) -> Response {
        match denied {
            Denied::Unauthenticated { detail, token } => {
                let mut challenges = Vec::new();
                if self.basic.is_some() {
                    challenges.push(format!("Basic realm=\"{}\", charset=\"UTF-8\"", self.realm));
                }
                if self.bearer.is_some() {
                    let mut challenge = format!("Bearer realm=\"{}\"", self.realm);
                    if token {
                        let description = printable(&detail, 300).replace(['"', '\\'], "'");
                        challenge.push_str(&format!(
                            ", error=\"invalid_token\", error_description=\"{description}\""
                        ));
                    }
                    challenges.push(challenge);
                }
                let mut response = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
                for challenge in challenges {
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        response.headers_mut().append(WWW_AUTHENTICATE, value);
                    }
                }
                response
            }
            Denied::Forbidden { detail, scope } => {
                let mut response = ApiError::new(StatusCode::FORBIDDEN, detail).into_response();
                if let Some(scope) = scope {
                    let challenge = format!(
                        "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
                        self.realm,
                        scope.replace(['"', '\\'], "'")
                    );
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        response.headers_mut().append(WWW_AUTHENTICATE, value);
                    }
                }
                response
            }
        }
    }
}

/// Whether `path` is an `api_versions` resource of SOL013: `/<api>/api_versions` or
/// `/<api>/v<major>/api_versions` (and not, say, a resource whose id is
/// `api_versions`).
fn is_api_versions(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments[..] {
        [api, "api_versions"] => !api.is_empty(),
        [api, version, "api_versions"] => {
            !api.is_empty()
                && version.strip_prefix('v').is_some_and(|major| {
                    !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit())
                })
        }
        _ => false,
    }
}

/// Middleware: authenticates a request, checks the scope its path needs and records
/// its [`Principal`] in the request extensions; refuses it with 401 or 403 otherwise.
/// Requests to public paths pass without a principal.
pub async fn authenticate(
    State(authenticator): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = authenticator
        .check(
            request.method(),
            request.uri().path(),
            request.headers(),
            request.extensions().get::<ClientCertificate>(),
        )
        .await;
    match outcome {
        Ok(Some(principal)) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(denied) => {
            tracing::debug!(
                method = %request.method(),
                path = request.uri().path(),
                reason = ?denied,
                "request refused"
            );
            authenticator.refuse(denied)
        }
    }
}

/// Verifies `token` with a fixed HS256 key (for the fuzz targets).
#[doc(hidden)]
pub fn fuzz_verify_bearer(token: &str) {
    let config = OAuth2Config {
        keys: vec![JwtKey {
            alg: JwsAlgorithm::Hs256,
            kid: None,
            secret: Some("a shared secret of at least thirty-two bytes".to_owned()),
            secret_base64: None,
            public_key_pem: None,
        }],
        issuer: Some("https://idp.example".to_owned()),
        ..OAuth2Config::default()
    };
    if let Ok(verifier) = JwtVerifier::new(&config) {
        let _ = verifier.verify(token, 1.0e9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml_as_json: &str) -> AuthConfig {
        serde_json::from_str(yaml_as_json).expect("config")
    }

    #[test]
    fn configuration_defaults_and_validation() {
        let config = parse(r#"{"none": {}}"#);
        assert_eq!(config.admin_scope, "admin");
        assert_eq!(config.public_paths, ["/healthz"]);
        let authenticator = Authenticator::new(config).expect("none");
        assert_eq!(
            authenticator.anonymous.as_ref().map(|p| p.tenant.clone()),
            Some(TenantId::default())
        );
        assert!(Authenticator::new(parse("{}")).is_err());
        assert!(serde_json::from_str::<AuthConfig>(r#"{"nnone": {}}"#).is_err());
        let hash = hash_password_with_iterations("pw", 1000).expect("hash");
        let basic =
            format!(r#"{{"basic": {{"users": [{{"name": "a", "passwordHash": "{hash}"}}]}}}}"#);
        assert!(Authenticator::new(parse(&basic)).is_ok());
        let both = format!(
            r#"{{"none": {{}}, "basic": {{"users": [{{"name": "a", "passwordHash": "{hash}"}}]}}}}"#
        );
        assert!(Authenticator::new(parse(&both)).is_err());
        let twice = format!(
            r#"{{"basic": {{"users": [{{"name": "a", "passwordHash": "{hash}"}}, {{"name": "a", "passwordHash": "{hash}"}}]}}}}"#
        );
        assert!(Authenticator::new(parse(&twice)).is_err());
        let colon =
            format!(r#"{{"basic": {{"users": [{{"name": "a:b", "passwordHash": "{hash}"}}]}}}}"#);
        assert!(Authenticator::new(parse(&colon)).is_err());
        assert!(Authenticator::new(parse(r#"{"basic": {"users": []}}"#)).is_err());
        assert!(Authenticator::new(parse(r#"{"none": {}, "realm": "a\"b"}"#)).is_err());
        assert!(Authenticator::new(parse(r#"{"none": {}, "publicPaths": ["healthz"]}"#)).is_err());
        assert!(Authenticator::new(parse(r#"{"none": {}, "adminScope": ""}"#)).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let key = JwtKey {
            alg: JwsAlgorithm::Hs256,
            kid: None,
            secret: Some("very-secret-value-0123456789abcdef".to_owned()),
            secret_base64: None,
            public_key_pem: None,
        };
        assert!(!format!("{key:?}").contains("very-secret"));
        let user = BasicUser {
            name: "a".to_owned(),
            password_hash: "pbkdf2-sha256$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            tenant: TenantId::default(),
            scopes: Vec::new(),
        };
        assert!(!format!("{user:?}").contains("pbkdf2"));
    }

    #[test]
    fn unknown_users_cost_as_much_as_the_costliest_user() {
        let cheap = hash_password_with_iterations("a", 1000).expect("hash");
        let dear = hash_password_with_iterations("b", 3000).expect("hash");
        let config: BasicConfig = serde_json::from_str(&format!(
            r#"{{"users": [{{"name": "a", "passwordHash": "{cheap}"}}, {{"name": "b", "passwordHash": "{dear}"}}]}}"#
        ))
        .expect("config");
        let users = BasicUsers::new(&config).expect("users");
        let costliest = users.accounts.get("b").map(|account| account.hash.cost());
        assert_eq!(Some(users.unmatchable.cost()), costliest);
        assert!(!users.unmatchable.verify(b"b"));
    }

    #[tokio::test]
    async fn password_checks_wait_for_a_permit() {
        let hash = hash_password_with_iterations("pw", 1000).expect("hash");
        let hash = PasswordHash::parse(&hash).expect("parse");
        let checks = Arc::new(Semaphore::new(1));
        let outcomes = futures::future::join_all((0..6).map(|n| {
            let password = if n % 2 == 0 { "pw" } else { "nope" };
            check_password(&checks, hash.clone(), password.to_owned())
        }))
        .await;
        assert_eq!(outcomes, [true, false, true, false, true, false]);
        assert_eq!(checks.available_permits(), 1);
        // Closed permits (a server shutting down) fail closed.
        checks.close();
        assert!(!check_password(&checks, hash, "pw".to_owned()).await);
    }

    #[test]
    fn public_paths_match_exactly_or_by_prefix() {
        let authenticator = Authenticator::new(parse(
            r#"{"none": {}, "publicPaths": ["/healthz", "/static/*"]}"#,
        ))
        .expect("config");
        assert!(authenticator.is_public("/healthz"));
        assert!(!authenticator.is_public("/healthz/x"));
        assert!(authenticator.is_public("/static/a.css"));
        assert!(!authenticator.is_public("/static"));
        assert!(!authenticator.is_public("/metrics"));
    }

    #[test]
    fn api_versions_resources_are_recognised_strictly() {
        assert!(is_api_versions("/vims/api_versions"));
        assert!(is_api_versions("/vnflcm/v2/api_versions"));
        assert!(!is_api_versions("/api_versions"));
        assert!(!is_api_versions("/vnflcm/v2/vnf_instances/api_versions"));
        assert!(!is_api_versions("/vnflcm/x2/api_versions"));
        assert!(!is_api_versions("/vnflcm/v/api_versions"));
        let config = parse(r#"{"none": null}"#);
        assert!(config.none.is_some());
    }

    #[test]
    fn printable_truncates_and_replaces() {
        assert_eq!(printable("abc", 10), "abc");
        assert_eq!(printable("abcdef", 3), "abc…");
        assert_eq!(printable("a\nb\u{e9}", 10), "a?b?");
    }
}
