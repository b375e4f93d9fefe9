//! [`HttpNotificationSink`]: delivers notifications to subscribers' callbacks over HTTP,
//! with the SOL013 headers and the authentication the subscription asked for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Method, Response, StatusCode, redirect};
use tacker_core::model::{AuthType, SubscriptionAuthentication};
use tacker_core::notify::{NotificationSink, NotificationTarget};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::{Error, Result};
use url::Url;

use crate::http::{self, ClientSettings, DRIVER, ReadError};

/// The `Version` header sent when none is configured: the version of the SOL003 VNF
/// LCM notification interface of `/vnflcm/v2`.
pub const DEFAULT_VERSION: &str = "2.0.0";

/// The largest token endpoint answer read.
const MAX_TOKEN_RESPONSE: u64 = 64 << 10;

/// How long before its announced expiry a cached token is replaced, at most.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Builds an [`HttpNotificationSink`].
#[derive(Debug, Clone)]
pub struct HttpNotificationSinkBuilder {
    version: String,
    settings: ClientSettings,
}

impl Default for HttpNotificationSinkBuilder {
    fn default() -> Self {
        Self {
            version: DEFAULT_VERSION.to_owned(),
            settings: ClientSettings {
                timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(5),
                read_timeout: None,
                extra_ca_pem: None,
                verify_tls: true,
                policy: Arc::new(OutboundPolicy::default()),
            },
        }
    }
}

impl HttpNotificationSinkBuilder {
    /// The `Version` header of every request (SOL013): the version of the notification
    /// interface, e.g. "2.0.0" for VNF LCM v2 (the default) or the VNF package
    /// management one for a package-notification sink.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The longest a request may take, answer included (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The longest connecting may take, TLS included (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Trusts the certificate authorities of this PEM bundle besides the system's.
    pub fn extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings.extra_ca_pem = Some(pem.into());
        self
    }

    /// Whether server certificates are verified (default `true`). Turn it off only for
    /// tests.
    pub fn verify_tls(mut self, verify: bool) -> Self {
        self.settings.verify_tls = verify;
        self
    }

    /// Where requests may go (default [`OutboundPolicy::default`]: no cloud metadata
    /// or link-local address). Applied to literal addresses before sending, to every
    /// address a host name resolves to before connecting, and to every redirect hop.
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.settings.policy = Arc::new(policy);
        self
    }

    /// The sink. Fails with `InvalidRequest` for a version that cannot be a header
    /// value or a CA bundle that is not PEM.
    pub fn build(self) -> Result<HttpNotificationSink> {
        let version = HeaderValue::from_str(&self.version).map_err(|_| {
            Error::InvalidRequest(format!(
                "'{}' cannot be sent as a Version header",
                self.version
            ))
        })?;
        // A callback that redirects is answering something other than 204.
        let client = http::build_client(&self.settings, redirect::Policy::none())?;
        Ok(HttpNotificationSink {
            client,
            policy: self.settings.policy,
            version,
            timeout: self.settings.timeout,
            tokens: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

/// Delivers notifications by HTTP `POST` to the subscription's callback URI and tests
/// callbacks with `GET`, as SOL003 and SOL013 specify.
///
/// Every request carries `Accept: application/json` and the configured `Version`
/// header; a delivery carries the notification as `application/json`. The
/// subscription's `authentication` selects how the sink authenticates:
/// `OAUTH2_CLIENT_CREDENTIALS` (preferred when its parameters are given) sends a bearer
/// token obtained with the client credentials grant, cached per token endpoint and
/// client until shortly before it expires and renewed once when the callback answers
/// 401; `BASIC` sends HTTP basic credentials; `TLS_CERT` alone is refused as not
/// supported. Redirects are not followed. Requests go only where the sink's
/// [`OutboundPolicy`] allows (checked after name resolution), and errors quote the
/// callback's status line, never its body. Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct HttpNotificationSink {
    client: Client,
    policy: Arc<OutboundPolicy>,
    version: HeaderValue,
    timeout: Duration,
    tokens: Arc<Mutex<HashMap<TokenKey, CachedToken>>>,
}

impl std::fmt::Debug for HttpNotificationSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("HttpNotificationSink")
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .field("cached_tokens", &cached)
            .finish_non_exhaustive()
    }
}

/// Which cached token serves a callback.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct TokenKey {
    token_endpoint: String,
    client_id: String,
}

/// A bearer token and when to stop using it.
#[derive(Clone)]
struct CachedToken {
    access_token: String,
    /// `None` when the endpoint gave no lifetime: used until a callback rejects it.
    refresh_after: Option<Instant>,
}

/// The client credentials of `OAUTH2_CLIENT_CREDENTIALS`.
struct OauthClient<'a> {
    token_endpoint: Url,
    client_id: &'a str,
    client_password: &'a str,
}

impl OauthClient<'_> {
    fn key(&self) -> TokenKey {
        TokenKey {
            token_endpoint: self.token_endpoint.to_string(),
            client_id: self.client_id.to_owned(),
        }
    }
}

/// How to authenticate to one callback.
enum Auth<'a> {
    None,
    Basic { user: &'a str, password: &'a str },
    Oauth2(OauthClient<'a>),
}

/// The credentials of one request.
enum Credentials<'a> {
    None,
    Basic { user: &'a str, password: &'a str },
    Bearer(&'a str),
}

/// Chooses the authentication of a subscription: OAuth 2.0 when asked for and its
/// parameters are given, else basic, else nothing when nothing is asked for.
fn auth_of(authentication: Option<&SubscriptionAuthentication>) -> Result<Auth<'_>> {
    let Some(authentication) = authentication else {
        return Ok(Auth::None);
    };
    let wants = |auth_type: AuthType| authentication.auth_type.contains(&auth_type);
    if wants(AuthType::Oauth2ClientCredentials)
        && let Some(params) = &authentication.params_oauth2_client_credentials
    {
        let missing = |field: &str| {
            Error::InvalidRequest(format!(
                "paramsOauth2ClientCredentials.{field} is needed for OAUTH2_CLIENT_CREDENTIALS"
            ))
        };
        let endpoint = params
            .token_endpoint
            .as_deref()
            .ok_or_else(|| missing("tokenEndpoint"))?;
        return Ok(Auth::Oauth2(OauthClient {
            token_endpoint: http::parse_http_url("the token endpoint", endpoint)?,
            client_id: params
                .client_id
                .as_deref()
                .ok_or_else(|| missing("clientId"))?,
            client_password: params
                .client_password
                .as_deref()
                .ok_or_else(|| missing("clientPassword"))?,
        }));
    }
    if wants(AuthType::Basic)
        && let Some(params) = &authentication.params_basic
    {
        let user = params.user_name.as_deref().ok_or_else(|| {
            Error::InvalidRequest("paramsBasic.userName is needed for BASIC".to_owned())
        })?;
        return Ok(Auth::Basic {
            user,
            password: params.password.as_deref().unwrap_or_default(),
        });
    }
    if wants(AuthType::Oauth2ClientCredentials) {
        return Err(Error::InvalidRequest(
            "OAUTH2_CLIENT_CREDENTIALS needs paramsOauth2ClientCredentials".to_owned(),
        ));
    }
    if wants(AuthType::Basic) {
        return Err(Error::InvalidRequest(
            "BASIC needs paramsBasic with the userName and password".to_owned(),
        ));
    }
    if wants(AuthType::TlsCert) {
        return Err(Error::NotSupported(
            "TLS_CERT (mutual TLS) authentication to notification callbacks is not \
             supported yet; use BASIC or OAUTH2_CLIENT_CREDENTIALS"
                .to_owned(),
        ));
    }
    Ok(Auth::None)
}

/// When a token announced to live `expires_in` from `issued` should be replaced:
/// a tenth of its life early, at most [`MAX_REFRESH_MARGIN`].
/// `None` when that lies beyond what the clock can count.
fn refresh_after(issued: Instant, expires_in: Duration) -> Option<Instant> {
    issued.checked_add(expires_in - (expires_in / 10).min(MAX_REFRESH_MARGIN))
}

/// The `error` code of an OAuth 2.0 error answer, when it is one: at most 64 printable
/// ASCII characters without quotes or backslashes (RFC 6749 §5.2).
fn oauth_error_code(body: &[u8]) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = json.get("error")?.as_str()?;
    let valid = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| matches!(b, 0x20..=0x7e) && b != b'"' && b != b'\\');
    valid.then(|| code.to_owned())
}

/// `expires_in` of a token response: seconds as a number or, leniently, a string.
fn expires_in(value: Option<&serde_json::Value>) -> Option<Duration> {
    let seconds = match value? {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| s as u64)
        }),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(Duration::from_secs(seconds))
}

impl HttpNotificationSink {
    /// A builder with the defaults: version [`DEFAULT_VERSION`], 10 s timeout, TLS
    /// verified against the system's roots.
    pub fn builder() -> HttpNotificationSinkBuilder {
        HttpNotificationSinkBuilder::default()
    }

    /// A sink with the defaults of [`HttpNotificationSink::builder`].
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// The `Version` header this sink sends.
    pub fn version(&self) -> &str {
        self.version.to_str().unwrap_or_default()
    }

    fn cached_token(&self, key: &TokenKey) -> Option<String> {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = tokens.get(key)?;
        if cached
            .refresh_after
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            tokens.remove(key);
            return None;
        }
        Some(cached.access_token.clone())
    }

    /// Drops `used` from the cache, unless another request has replaced it already.
    fn forget_token(&self, key: &TokenKey, used: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.get(key).is_some_and(|t| t.access_token == used) {
            tokens.remove(key);
        }
    }

    /// A bearer token for `client`, from the cache or the token endpoint.
    async fn token(&self, client: &OauthClient<'_>, callback: &Url) -> Result<String> {
        let key = client.key();
        if let Some(token) = self.cached_token(&key) {
            return Ok(token);
        }
        let token = self.request_token(client, callback).await?;
        let access_token = token.access_token.clone();
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, token);
        Ok(access_token)
    }

    /// The client credentials grant (RFC 6749 §4.4) at `client.token_endpoint`.
    async fn request_token(&self, client: &OauthClient<'_>, callback: &Url) -> Result<CachedToken> {
        let endpoint = &client.token_endpoint;
        http::check_url(&self.policy, "the token endpoint", endpoint)?;
        let context = || {
            format!(
                "no OAuth 2.0 token for the callback {}",
                http::redact(callback)
            )
        };
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .finish();
        let issued = Instant::now();
        let mut response = self
            .client
            .post(endpoint.clone())
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .basic_auth(client.client_id, Some(client.client_password))
            .body(form)
            .send()
            .await
            .map_err(|e| {
                let error = http::transport_error(&Method::POST, endpoint, &e, self.timeout);
                if let Error::InvalidRequest(refused) = error {
                    return Error::InvalidRequest(format!("{}: {refused}", context()));
                }
                Error::driver(
                    DRIVER,
                    error.is_retryable(),
                    format!("{}: {error}", context()),
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            let mut message = format!("POST {} answered {status}", http::redact(endpoint));
            // RFC 6749 §5.2: the error code is a short token of printable ASCII; it is
            // the only part of the answer quoted.
            if let Ok(body) = http::read_limited(&mut response, MAX_TOKEN_RESPONSE).await
                && let Some(code) = oauth_error_code(&body)
            {
                message.push_str(&format!(" (error {code})"));
            }
            return Err(Error::driver(
                DRIVER,
                http::status_retryable(status),
                format!("{}: {message}", context()),
            ));
        }
        let shown = http::redact(endpoint);
        let body = http::read_limited(&mut response, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => Error::driver(
                    DRIVER,
                    false,
                    format!(
                        "{}: POST {shown} answered more than {MAX_TOKEN_RESPONSE} bytes",
                        context()
                    ),
                ),
                ReadError::Transport(e) => {
                    let error = http::transport_error(&Method::POST, endpoint, &e, self.timeout);
                    Error::driver(DRIVER, true, format!("{}: {error}", context()))
                }
            })?;
        let invalid = |why: &str| {
            Error::driver(
                DRIVER,
                false,
                format!("{}: POST {shown} answered {status} with {why}", context()),
            )
        };
        let json: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| invalid(&format!("no JSON ({e})")))?;
        let access_token = json
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("no access_token"))?;
        if let Some(token_type) = json.get("token_type").and_then(serde_json::Value::as_str)
            && !token_type.eq_ignore_ascii_case("bearer")
        {
            return Err(invalid(&format!(
                "token_type '{token_type}' where Bearer was expected"
            )));
        }
        Ok(CachedToken {
            access_token: access_token.to_owned(),
            refresh_after: expires_in(json.get("expires_in"))
                .and_then(|lifetime| refresh_after(issued, lifetime)),
        })
    }

    /// One request to a callback with `credentials`.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        credentials: Credentials<'_>,
    ) -> Result<Response> {
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json")
            .header("Version", self.version.clone());
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        request = match credentials {
            Credentials::None => request,
            Credentials::Basic { user, password } => request.basic_auth(user, Some(password)),
            Credentials::Bearer(token) => request.bearer_auth(token),
        };
        request
            .send()
            .await
            .map_err(|e| http::transport_error(method, url, &e, self.timeout))
    }

    /// A request to a callback with the subscription's authentication; with OAuth 2.0,
    /// a 401 renews the token and tries once more.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        auth: &Auth<'_>,
    ) -> Result<Response> {
        match auth {
            Auth::None => self.send(method, url, body, Credentials::None).await,
            Auth::Basic { user, password } => {
                let credentials = Credentials::Basic { user, password };
                self.send(method, url, body, credentials).await
            }
            Auth::Oauth2(client) => {
                let token = self.token(client, url).await?;
                let response = self
                    .send(method, url, body, Credentials::Bearer(&token))
                    .await?;
                if response.status() != StatusCode::UNAUTHORIZED {
                    return Ok(response);
                }
                drop(response);
                tracing::debug!(
                    callback = %http::redact(url),
                    "the callback refused the cached token; getting a new one"
                );
                self.forget_token(&client.key(), &token);
                let token = self.token(client, url).await?;
                self.send(method, url, body, Credentials::Bearer(&token))
                    .await
            }
        }
    }
}

#[async_trait]
impl NotificationSink for HttpNotificationSink {
    /// Posts `notification` to the callback. SOL003 specifies 204 No Content as the
    /// answer; any 2xx is accepted. Another status fails, retryable for 5xx, 408 and
    /// 429; so does a connection failure or a timeout, always retryable. Invalid
    /// authentication parameters fail with `InvalidRequest`, `TLS_CERT` alone with
    /// `NotSupported`.
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()> {
        let url = http::parse_http_url("the callback URI", &target.callback_uri)?;
        http::check_url(&self.policy, "the callback URI", &url)?;
        let auth = auth_of(target.authentication.as_ref())?;
        let body = serde_json::to_vec(notification)
            .map(Bytes::from)
            .map_err(|e| Error::Internal(format!("cannot serialise a notification: {e}")))?;
        let context = || {
            let id = notification
                .get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("without id");
            format!(
                "notification {id} of subscription {}",
                target.subscription_id
            )
        };
        let response = self
            .exchange(&Method::POST, &url, Some(&body), &auth)
            .await
            .map_err(|e| match e {
                Error::Driver {
                    driver,
                    retryable,
                    source,
                } => Error::driver(driver, retryable, format!("{}: {source}", context())),
                other => other,
            })?;
        let status = response.status();
        if status.is_success() {
            tracing::debug!(callback = %http::redact(&url), %status, "notification delivered");
            return Ok(());
        }
        let message = http::status_message(&Method::POST, &url, response).await;
        Err(Error::driver(
            DRIVER,
            http::status_retryable(status),
            format!("{}: {message}", context()),
        ))
    }

    /// Tests the callback with `GET`, which must answer 204 No Content. A callback that
    /// cannot be reached or answers otherwise fails with `Unprocessable` (422, as
    /// SOL003 specifies for a failed notification endpoint test), naming the URL and
    /// the answer's status line (never its body). A callback outside the outbound
    /// policy fails with `InvalidRequest` (400) naming the rule.
    async fn check_callback(&self, target: &NotificationTarget) -> Result<()> {
        let url = http::parse_http_url("the callback URI", &target.callback_uri)?;
        http::check_url(&self.policy, "the callback URI", &url)?;
        let auth = auth_of(target.authentication.as_ref())?;
        let failed = |why: String| {
            Error::Unprocessable(format!("the notification endpoint test failed: {why}"))
        };
        let response = self
            .exchange(&Method::GET, &url, None, &auth)
            .await
            .map_err(|e| match e {
                Error::Driver { source, .. } => failed(source.to_string()),
                other => other,
            })?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(());
        }
        let message = http::status_message(&Method::GET, &url, response).await;
        Err(failed(format!("{message} (204 was expected)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacker_core::model::{ParamsBasic, ParamsOauth2ClientCredentials};

    fn authentication(auth_type: Vec<AuthType>) -> SubscriptionAuthentication {
        SubscriptionAuthentication {
            auth_type,
            params_basic: Some(ParamsBasic {
                user_name: Some("user".into()),
                password: Some("pw".into()),
            }),
            params_oauth2_client_credentials: Some(ParamsOauth2ClientCredentials {
                client_id: Some("client".into()),
                client_password: Some("secret".into()),
                token_endpoint: Some("http://127.0.0.1:1/token".into()),
            }),
        }
    }

    #[test]
    fn oauth2_is_preferred_then_basic() {
        let both = authentication(vec![AuthType::Basic, AuthType::Oauth2ClientCredentials]);
        assert!(matches!(auth_of(Some(&both)), Ok(Auth::Oauth2(_))));
        let basic = authentication(vec![AuthType::Basic]);
        assert!(matches!(
            auth_of(Some(&basic)),
            Ok(Auth::Basic { user: "user", .. })
        ));
        let mut no_oauth_params = both.clone();
        no_oauth_params.params_oauth2_client_credentials = None;
        assert!(matches!(
            auth_of(Some(&no_oauth_params)),
            Ok(Auth::Basic { .. })
        ));
        assert!(matches!(auth_of(None), Ok(Auth::None)));
        assert!(matches!(
            auth_of(Some(&authentication(vec![]))),
            Ok(Auth::None)
        ));
    }

    #[test]
    fn missing_parameters_and_tls_cert_are_refused() {
        let mut basic = authentication(vec![AuthType::Basic]);
        basic.params_basic = None;
        assert!(matches!(
            auth_of(Some(&basic)),
            Err(Error::InvalidRequest(_))
        ));
        let mut oauth = authentication(vec![AuthType::Oauth2ClientCredentials]);
        if let Some(params) = &mut oauth.params_oauth2_client_credentials {
            params.token_endpoint = None;
        }
        let error = auth_of(Some(&oauth)).err().expect("refused");
        assert!(error.to_string().contains("tokenEndpoint"), "{error}");
        let tls = authentication(vec![AuthType::TlsCert]);
        assert!(matches!(auth_of(Some(&tls)), Err(Error::NotSupported(_))));
    }

    #[test]
    fn tokens_are_replaced_shortly_before_they_expire() {
        let now = Instant::now();
        let hour = refresh_after(now, Duration::from_secs(3600)).expect("in range");
        assert_eq!(hour - now, Duration::from_secs(3570));
        let minute = refresh_after(now, Duration::from_secs(60)).expect("in range");
        assert_eq!(minute - now, Duration::from_secs(54));
        assert_eq!(refresh_after(now, Duration::ZERO), Some(now));
        assert_eq!(refresh_after(now, Duration::MAX), None);
    }

    #[test]
    fn expires_in_is_read_leniently() {
        use serde_json::json;
        assert_eq!(
            expires_in(Some(&json!(300))),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            expires_in(Some(&json!("300"))),
            Some(Duration::from_secs(300))
        );
        assert_eq!(expires_in(Some(&json!(-1))), None);
        assert_eq!(expires_in(None), None);
    }
}
