//! [`HttpGrantProvider`]: asks an NFVO for grants over SOL003
//! `VNFLifecycleOperationGranting` (`POST {nfvo}/grant/v1/grants`).
//!
//! - **201 Created** with the Grant: the decision.
//! - **202 Accepted** with `Location`: the NFVO decides later; the grant is polled
//!   (`GET` of the location) with a growing interval until it answers 200 with the
//!   Grant, within a deadline. A grant that is not ready by then fails retryably (the
//!   operation goes FAILED_TEMP; a retry asks again).
//! - **403 Forbidden**: a refusal, `Error::Forbidden` with the `detail` of the NFVO's
//!   ProblemDetails (sanitised, bounded); the operation ends ROLLED_BACK with it.
//! - **5xx, 408, 429, no connection, a timeout**: tried again with backoff, a bounded
//!   number of times, then a retryable error.
//! - **another 4xx**: the request is not acceptable to the NFVO; a non-retryable error
//!   naming the status (the body is not quoted).
//!
//! The NFVO is reached where the outbound policy allows, with the operator's extra CA
//! bundle, OAuth 2.0 client credentials (token cached until shortly before expiry,
//! renewed once on 401) and/or a client certificate (mutual TLS). A Grant is checked to
//! be for the operation that asked (`vnfLcmOpOccId`, `vnfInstanceId`) and to approve
//! every resource the request lists; one that leaves a resource out is a refusal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, Response, StatusCode, redirect};
use tacker_core::grant::GrantProvider;
use tacker_core::model::{Grant, GrantRequest, ProblemDetails};
use tacker_core::outbound::{self, OutboundPolicy};
use tacker_core::{Error, Result, TenantId};
use url::Url;

use crate::http::{self, ClientSettings, DRIVER};
use crate::nfvo::{NfvoConnection, Oauth2, Polled, Polling};
use crate::oauth::TokenCache;

/// The `Version` of the SOL003 granting interface sent when none is configured (the
/// version of `../shared/etsi`'s SOL003 v3.7.1 document).
pub const DEFAULT_GRANT_API_VERSION: &str = "1.7.0";

/// What the grant interface answers.
const JSON: &str = "application/json";

/// How much of an NFVO's refusal is quoted.
const MAX_REASON: usize = 1000;

/// Builds an [`HttpGrantProvider`].
#[derive(Clone)]
pub struct HttpGrantProviderBuilder {
    base: String,
    version: String,
    timeout: Duration,
    connect_timeout: Duration,
    extra_ca_pem: Option<Vec<u8>>,
    client_identity_pem: Option<Vec<u8>>,
    oauth2: Option<(String, String, String)>,
    policy: OutboundPolicy,
    attempts: u32,
    backoff: Duration,
    max_backoff: Duration,
    poll_interval: Duration,
    max_poll_interval: Duration,
    deadline: Duration,
}

impl std::fmt::Debug for HttpGrantProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGrantProviderBuilder")
            .field("base", &self.base)
            .field("version", &self.version)
            .field(
                "oauth2",
                &self.oauth2.as_ref().map(|(url, id, _)| (url, id)),
            )
            .field("client_certificate", &self.client_identity_pem.is_some())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl HttpGrantProviderBuilder {
    /// The `Version` header (default [`DEFAULT_GRANT_API_VERSION`]).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Total time of one request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Certificate authorities (PEM) trusted for the NFVO besides the system's.
    pub fn extra_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_ca_pem = Some(pem.into());
        self
    }

    /// The client certificate chain and its private key (PEM, concatenated) presented
    /// to the NFVO (mutual TLS).
    pub fn client_identity_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_identity_pem = Some(pem.into());
        self
    }

    /// OAuth 2.0 client credentials: tokens from `token_endpoint` for `client_id`.
    pub fn oauth2(
        mut self,
        token_endpoint: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        self.oauth2 = Some((
            token_endpoint.into(),
            client_id.into(),
            client_secret.into(),
        ));
        self
    }

    /// Where the NFVO (and its token endpoint) may be reached.
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Tries of one request when the NFVO cannot answer (default 4), the first delay
    /// between them (500 ms, doubling) and the longest (8 s).
    pub fn retries(mut self, attempts: u32, backoff: Duration, max_backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self.max_backoff = max_backoff.max(backoff);
        self
    }

    /// Polling of an asynchronous grant: the first interval (1 s, doubling), the
    /// longest (10 s), and how long the NFVO has to decide (300 s).
    pub fn polling(
        mut self,
        interval: Duration,
        max_interval: Duration,
        deadline: Duration,
    ) -> Self {
        self.poll_interval = interval;
        self.max_poll_interval = max_interval.max(interval);
        self.deadline = deadline;
        self
    }

    /// The provider. Fails on a base URL that is not http(s), invalid PEM, or an
    /// invalid token endpoint.
    pub fn build(self) -> Result<HttpGrantProvider> {
        let mut base = http::parse_http_url("the NFVO URL", &self.base)?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let oauth2 = match self.oauth2 {
            None => None,
            Some((endpoint, client_id, client_secret)) => Some(Oauth2 {
                token_endpoint: http::parse_http_url("the NFVO's token endpoint", &endpoint)?,
                client_id,
                client_secret,
            }),
        };
        let version = HeaderValue::from_str(&self.version).map_err(|_| {
            Error::InvalidRequest(format!("'{}' is not a Version header value", self.version))
        })?;
        let policy = Arc::new(self.policy);
        let settings = ClientSettings {
            timeout: self.timeout,
            connect_timeout: self.connect_timeout,
            read_timeout: None,
            extra_ca_pem: self.extra_ca_pem,
            verify_tls: true,
            client_identity_pem: self.client_identity_pem,
            policy: policy.clone(),
        };
        Ok(HttpGrantProvider {
            nfvo: NfvoConnection {
                client: http::build_client(&settings, redirect::Policy::none())?,
                base,
                timeout: self.timeout,
                policy,
                oauth2,
                tokens: TokenCache::default(),
                attempts: self.attempts,
                backoff: self.backoff,
                max_backoff: self.max_backoff,
            },
            version,
            poll_interval: self.poll_interval,
            max_poll_interval: self.max_poll_interval,
            deadline: self.deadline,
        })
    }
}

/// Grants from an NFVO over HTTP (see the module documentation). Cheap to clone.
#[derive(Clone)]
pub struct HttpGrantProvider {
    nfvo: NfvoConnection,
    version: HeaderValue,
    poll_interval: Duration,
    max_poll_interval: Duration,
    deadline: Duration,
}

impl std::fmt::Debug for HttpGrantProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpGrantProvider")
            .field("nfvo", &self.nfvo)
            .field("version", &self.version)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl HttpGrantProvider {
    /// A builder for the NFVO at `base` (its API root: the grants are at
    /// `{base}/grant/v1/grants`), with the defaults of [`HttpGrantProviderBuilder`].
    pub fn builder(base: impl Into<String>) -> HttpGrantProviderBuilder {
        HttpGrantProviderBuilder {
            base: base.into(),
            version: DEFAULT_GRANT_API_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            extra_ca_pem: None,
            client_identity_pem: None,
            oauth2: None,
            policy: OutboundPolicy::default(),
            attempts: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            poll_interval: Duration::from_secs(1),
            max_poll_interval: Duration::from_secs(10),
            deadline: Duration::from_secs(300),
        }
    }

    fn grants_url(&self) -> Result<Url> {
        self.nfvo.join("grant/v1/grants")
    }

    /// The NFVO this provider asks: its URL, authentication and TLS, for the other
    /// SOL003 interfaces the VNFM consumes (package management).
    pub fn connection(&self) -> NfvoConnection {
        self.nfvo.clone()
    }

    /// Reads the answer to a grant request or a poll.
    async fn answer(
        &self,
        method: &Method,
        url: &Url,
        mut response: Response,
        request: &GrantRequest,
    ) -> Result<Polled<Box<Grant>>> {
        let status = response.status();
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                let body = self.nfvo.read_answer(&mut response, method, url).await?;
                let grant: Grant = serde_json::from_slice(&body).map_err(|e| {
                    Error::driver(
                        DRIVER,
                        false,
                        format!(
                            "{method} {} answered {status} without a valid Grant: {e}",
                            http::redact(url)
                        ),
                    )
                })?;
                if grant.vnf_lcm_op_occ_id != request.vnf_lcm_op_occ_id
                    || grant.vnf_instance_id != request.vnf_instance_id
                {
                    return Err(Error::driver(
                        DRIVER,
                        false,
                        format!(
                            "{method} {} answered a Grant for operation {} of VNF instance {}, not for operation {} of {}",
                            http::redact(url),
                            grant.vnf_lcm_op_occ_id,
                            grant.vnf_instance_id,
                            request.vnf_lcm_op_occ_id,
                            request.vnf_instance_id
                        ),
                    ));
                }
                unapproved(request, &grant)?;
                Ok(Polled::Done(Box::new(grant)))
            }
            StatusCode::ACCEPTED => Ok(Polled::Pending(self.nfvo.pending_location(
                method,
                url,
                &response,
                "the grant's Location",
            )?)),
            StatusCode::FORBIDDEN => {
                let reason = match self.nfvo.read_answer(&mut response, method, url).await {
                    Ok(body) => serde_json::from_slice::<ProblemDetails>(&body)
                        .map(|p| outbound::sanitize_reason(&p.detail, MAX_REASON))
                        .unwrap_or_default(),
                    Err(_) => String::new(),
                };
                Err(Error::Forbidden(if reason.is_empty() {
                    format!(
                        "the NFVO refused the grant ({method} {} answered 403)",
                        http::redact(url)
                    )
                } else {
                    format!("the NFVO refused the grant: {reason}")
                }))
            }
            _ => {
                let message = http::status_message(method, url, response).await;
                Err(Error::driver(
                    DRIVER,
                    http::status_retryable(status),
                    message,
                ))
            }
        }
    }
}

/// Refuses a Grant that leaves out resources the request asked for: the operation
/// needs all of them (SOL003: what the NFVO does not approve cannot be changed).
fn unapproved(request: &GrantRequest, grant: &Grant) -> Result<()> {
    let lists = [
        ("addResources", &request.add_resources, &grant.add_resources),
        (
            "removeResources",
            &request.remove_resources,
            &grant.remove_resources,
        ),
        (
            "updateResources",
            &request.update_resources,
            &grant.update_resources,
        ),
        (
            "tempResources",
            &request.temp_resources,
            &grant.temp_resources,
        ),
    ];
    let mut missing = Vec::new();
    for (name, asked, approved) in lists {
        for definition in asked {
            if !approved
                .iter()
                .any(|info| info.resource_definition_id == definition.id)
            {
                missing.push(format!(
                    "{name} {} ({})",
                    definition.id, definition.resource_template_id
                ));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Forbidden(format!(
        "the NFVO did not approve {}",
        missing.join(", ")
    )))
}

#[async_trait]
impl GrantProvider for HttpGrantProvider {
    async fn grant(&self, _tenant: &TenantId, request: &GrantRequest) -> Result<Grant> {
        let url = self.grants_url()?;
        http::check_url(&self.nfvo.policy, "the NFVO URL", &url)?;
        let body = serde_json::to_vec(request)
            .map(Bytes::from)
            .map_err(|e| Error::Internal(format!("cannot serialise a grant request: {e}")))?;
        let started = Instant::now();
        let response = self
            .nfvo
            .send_with_retries(&Method::POST, &url, Some(&body), &self.version, JSON)
            .await?;
        let pending = match self.answer(&Method::POST, &url, response, request).await? {
            Polled::Done(grant) => return Ok(*grant),
            Polled::Pending(next) => next,
        };
        tracing::info!(grant = %http::redact(&pending), "the NFVO decides the grant asynchronously; polling");
        let polling = Polling {
            interval: self.poll_interval,
            max_interval: self.max_poll_interval,
            deadline: self.deadline,
        };
        let late = |pending: &Url| {
            format!(
                "the NFVO did not decide the grant {} within {:?}",
                http::redact(pending),
                self.deadline
            )
        };
        self.nfvo
            .poll(
                pending,
                &self.version,
                polling,
                started,
                late,
                |url, response| async move {
                    self.answer(&Method::GET, &url, response, request).await
                },
            )
            .await
            .map(|grant| *grant)
    }

    fn grant_uri(&self, grant_id: &str) -> Option<String> {
        self.nfvo
            .join(&format!("grant/v1/grants/{grant_id}"))
            .ok()
            .map(|u| u.to_string())
    }
}
