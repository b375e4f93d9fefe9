//! [`HttpNotificationSink`]: delivers notifications to subscribers' callbacks over HTTP,
//! with the SOL013 headers and the authentication the subscription asked for.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Method, Response, StatusCode, redirect};
use tacker_core::model::{AuthType, SubscriptionAuthentication};
use tacker_core::notify::{NotificationSink, NotificationTarget};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::{Error, Result};
use url::Url;

use crate::http::{self, ClientSettings, DRIVER};
use crate::oauth::{OauthClient, TokenCache};

/// The `Version` header sent when none is configured: the version of the SOL003 VNF
/// LCM notification interface of `/vnflcm/v2`.
pub const DEFAULT_VERSION: &str = "2.0.0";

/// Builds an [`HttpNotificationSink`].
#[derive(Debug, Clone)]
pub struct HttpNotificationSinkBuilder {
    version: String,
    settings: ClientSettings,
    identity: Option<Vec<u8>>,
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
                client_identity_pem: None,
                policy: Arc::new(OutboundPolicy::default()),
            },
            identity: None,
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

    /// The client certificate chain and private key (PEM, one file) presented to
    /// callbacks whose subscription asks for `TLS_CERT` authentication (SOL013 mutual
    /// TLS). Other callbacks never see it.
    pub fn client_identity_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.identity = Some(pem.into());
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
        let mutual = match self.identity {
            None => None,
            Some(pem) => {
                let settings = ClientSettings {
                    client_identity_pem: Some(pem),
                    ..self.settings.clone()
                };
                Some(http::build_client(&settings, redirect::Policy::none())?)
            }
        };
        Ok(HttpNotificationSink {
            client,
            mutual,
            policy: self.settings.policy,
            version,
            timeout: self.settings.timeout,
            tokens: TokenCache::default(),
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
/// 401; `BASIC` sends HTTP basic credentials; `TLS_CERT` (alone or with one of them)
/// connects with the client certificate of
/// [`HttpNotificationSinkBuilder::client_identity_pem`], and is refused as not
/// supported when the sink has none. Redirects are not followed. Requests go only where the sink's
/// [`OutboundPolicy`] allows (checked after name resolution), and errors quote the
/// callback's status line, never its body. Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct HttpNotificationSink {
    client: Client,
    /// The client presenting the VNFM's certificate, for `TLS_CERT` subscriptions.
    mutual: Option<Client>,
    policy: Arc<OutboundPolicy>,
    version: HeaderValue,
    timeout: Duration,
    tokens: TokenCache,
}

impl std::fmt::Debug for HttpNotificationSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self.tokens.len();
        f.debug_struct("HttpNotificationSink")
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .field("cached_tokens", &cached)
            .field("client_certificate", &self.mutual.is_some())
            .finish_non_exhaustive()
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
    Ok(Auth::None)
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

    /// The client for a subscription: the one with the VNFM's certificate when it asks
    /// for `TLS_CERT`.
    fn client_for(&self, authentication: Option<&SubscriptionAuthentication>) -> Result<&Client> {
        let wants_tls = authentication.is_some_and(|a| a.auth_type.contains(&AuthType::TlsCert));
        if !wants_tls {
            return Ok(&self.client);
        }
        self.mutual.as_ref().ok_or_else(|| {
            Error::NotSupported(
                "TLS_CERT (mutual TLS) authentication to notification callbacks needs the \
                 VNFM's client certificate, and none is configured (vnfm \
                 --notification-client-cert); use BASIC or OAUTH2_CLIENT_CREDENTIALS"
                    .to_owned(),
            )
        })
    }

    /// The `Version` header this sink sends.
    pub fn version(&self) -> &str {
        self.version.to_str().unwrap_or_default()
    }

    /// A bearer token for `client`, from the cache or the token endpoint.
    async fn token(&self, client: &OauthClient<'_>, callback: &Url) -> Result<String> {
        let context = format!(
            "no OAuth 2.0 token for the callback {}",
            http::redact(callback)
        );
        self.tokens
            .token(&self.client, &self.policy, self.timeout, client, &context)
            .await
    }

    /// One request to a callback with `credentials`.
    async fn send(
        &self,
        client: &Client,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        credentials: Credentials<'_>,
    ) -> Result<Response> {
        let mut request = client
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
        connection: &Client,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        auth: &Auth<'_>,
    ) -> Result<Response> {
        match auth {
            Auth::None => {
                self.send(connection, method, url, body, Credentials::None)
                    .await
            }
            Auth::Basic { user, password } => {
                let credentials = Credentials::Basic { user, password };
                self.send(connection, method, url, body, credentials).await
            }
            Auth::Oauth2(client) => {
                let token = self.token(client, url).await?;
                let response = self
                    .send(connection, method, url, body, Credentials::Bearer(&token))
                    .await?;
                if response.status() != StatusCode::UNAUTHORIZED {
                    return Ok(response);
                }
                drop(response);
                tracing::debug!(
                    callback = %http::redact(url),
                    "the callback refused the cached token; getting a new one"
                );
                self.tokens.forget(client, &token);
                let token = self.token(client, url).await?;
                self.send(connection, method, url, body, Credentials::Bearer(&token))
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
    /// authentication parameters fail with `InvalidRequest`, `TLS_CERT` without a
    /// client certificate with `NotSupported`.
    async fn deliver(
        &self,
        target: &NotificationTarget,
        notification: &serde_json::Value,
    ) -> Result<()> {
        let url = http::parse_http_url("the callback URI", &target.callback_uri)?;
        http::check_url(&self.policy, "the callback URI", &url)?;
        let auth = auth_of(target.authentication.as_ref())?;
        let connection = self.client_for(target.authentication.as_ref())?;
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
            .exchange(connection, &Method::POST, &url, Some(&body), &auth)
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
        let connection = self.client_for(target.authentication.as_ref())?;
        let failed = |why: String| {
            Error::Unprocessable(format!("the notification endpoint test failed: {why}"))
        };
        let response = self
            .exchange(connection, &Method::GET, &url, None, &auth)
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
        let mut tls = authentication(vec![AuthType::TlsCert]);
        tls.params_basic = None;
        tls.params_oauth2_client_credentials = None;
        assert!(matches!(auth_of(Some(&tls)), Ok(Auth::None)));
        let sink = HttpNotificationSink::new().expect("sink");
        let error = sink.client_for(Some(&tls)).expect_err("no certificate");
        assert!(matches!(error, Error::NotSupported(_)), "{error}");
        assert!(
            error.to_string().contains("--notification-client-cert"),
            "{error}"
        );
        assert!(sink.client_for(None).is_ok());
    }
}
