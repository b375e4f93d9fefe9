//! [`HttpPackageFetcher`]: downloads VNF packages for SOL005 "upload from URI".

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::{Client, Method};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::package::PackageFetcher;
use tacker_core::{Error, Result};

use crate::http::{self, ClientSettings, DRIVER, ReadError};

/// The most redirects one download follows.
pub const MAX_REDIRECTS: usize = 5;

/// Builds an [`HttpPackageFetcher`].
#[derive(Debug, Clone)]
pub struct HttpPackageFetcherBuilder {
    settings: ClientSettings,
}

impl Default for HttpPackageFetcherBuilder {
    fn default() -> Self {
        Self {
            settings: ClientSettings {
                timeout: Duration::from_secs(30 * 60),
                connect_timeout: Duration::from_secs(10),
                read_timeout: Some(Duration::from_secs(60)),
                extra_ca_pem: None,
                verify_tls: true,
                client_identity_pem: None,
                policy: Arc::new(OutboundPolicy::default()),
            },
        }
    }
}

impl HttpPackageFetcherBuilder {
    /// The longest a whole download may take (default 30 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The longest connecting may take, TLS included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The longest the server may stay silent during a download (default 60 s).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.settings.read_timeout = Some(timeout);
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

    /// The fetcher. Fails with `InvalidRequest` for a CA bundle that is not PEM.
    pub fn build(self) -> Result<HttpPackageFetcher> {
        let redirects = http::guarded_redirects(self.settings.policy.clone(), MAX_REDIRECTS);
        Ok(HttpPackageFetcher {
            client: http::build_client(&self.settings, redirects)?,
            timeout: self.settings.timeout,
            policy: self.settings.policy,
        })
    }
}

/// Downloads packages with `GET` from `http` and `https` URIs.
///
/// It connects only where its [`OutboundPolicy`] allows (checked after name resolution
/// and on every redirect hop) and never quotes the server's body in an error.
/// It follows at most [`MAX_REDIRECTS`] redirects, only to `http`/`https` (basic
/// credentials go along to the same host only), refuses a `Content-Length` above the
/// limit before reading the body, and stops reading as soon as more than the limit has
/// arrived, so it never holds more than the limit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpPackageFetcher {
    client: Client,
    timeout: Duration,
    policy: Arc<OutboundPolicy>,
}

impl HttpPackageFetcher {
    /// A builder with the defaults: 30 min per download, 60 s of silence at most, TLS
    /// verified against the system's roots.
    pub fn builder() -> HttpPackageFetcherBuilder {
        HttpPackageFetcherBuilder::default()
    }

    /// A fetcher with the defaults of [`HttpPackageFetcher::builder`].
    pub fn new() -> Result<Self> {
        Self::builder().build()
    }

    /// Sends `GET uri` (checked against the outbound policy) and returns a 2xx answer
    /// whose body is still to be read; any other answer is a driver error quoting its
    /// status line only.
    async fn get(
        &self,
        uri: &str,
        basic_auth: Option<(&str, &str)>,
    ) -> Result<(Method, url::Url, reqwest::Response)> {
        let url = http::parse_http_url("the package URI", uri)?;
        http::check_url(&self.policy, "the package URI", &url)?;
        let method = Method::GET;
        let mut request = self.client.get(url.clone());
        if let Some((user, password)) = basic_auth {
            request = request.basic_auth(user, Some(password));
        }
        let response = request
            .send()
            .await
            .map_err(|e| http::transport_error(&method, &url, &e, self.timeout))?;
        let status = response.status();
        if !status.is_success() {
            let message = http::status_message(&method, &url, response).await;
            return Err(Error::driver(
                DRIVER,
                http::status_retryable(status),
                message,
            ));
        }
        Ok((method, url, response))
    }
}

#[async_trait]
impl PackageFetcher for HttpPackageFetcher {
    /// The body of `GET uri`. A URI other than `http`/`https` fails with
    /// `InvalidRequest`, a body above `limit` with `Unprocessable`, any answer but 2xx
    /// and any transport failure with a driver error (retryable for connection
    /// failures, timeouts, 5xx, 408 and 429) naming the URL and the answer.
    async fn fetch(
        &self,
        uri: &str,
        basic_auth: Option<(&str, &str)>,
        limit: u64,
    ) -> Result<Bytes> {
        let (method, url, mut response) = self.get(uri, basic_auth).await?;
        let announced = response.content_length();
        match http::read_limited(&mut response, limit).await {
            Ok(content) => {
                tracing::debug!(url = %http::redact(&url), bytes = content.len(), "package fetched");
                Ok(content)
            }
            Err(ReadError::TooLarge) => {
                let shown = http::redact(&url);
                Err(Error::Unprocessable(match announced {
                    Some(length) if length > limit => format!(
                        "GET {shown} announces {length} bytes (Content-Length), more than \
                         the limit of {limit} bytes for a package"
                    ),
                    _ => format!(
                        "GET {shown} sent more than the limit of {limit} bytes for a \
                         package; the download was stopped"
                    ),
                }))
            }
            Err(ReadError::Transport(e)) => {
                Err(http::transport_error(&method, &url, &e, self.timeout))
            }
        }
    }

    /// Streams the body of `GET uri` into `out`, never holding more than one chunk:
    /// the same checks as [`HttpPackageFetcher::fetch`], and more than `limit` bytes
    /// (announced or received) is `TooLarge` naming the limit.
    async fn fetch_to(
        &self,
        uri: &str,
        basic_auth: Option<(&str, &str)>,
        limit: u64,
        out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send),
    ) -> Result<u64> {
        use tokio::io::AsyncWriteExt as _;
        let (method, url, mut response) = self.get(uri, basic_auth).await?;
        let shown = http::redact(&url);
        if let Some(length) = response.content_length().filter(|&length| length > limit) {
            return Err(Error::TooLarge(format!(
                "GET {shown} announces {length} bytes (Content-Length), more than the maximum \
                 package size of {limit} bytes"
            )));
        }
        let mut received: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| http::transport_error(&method, &url, &e, self.timeout))?
        {
            received = received.saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
            if received > limit {
                return Err(Error::TooLarge(format!(
                    "GET {shown} sent more than the maximum package size of {limit} bytes; \
                     the download was stopped"
                )));
            }
            out.write_all(&chunk).await.map_err(|e| {
                Error::Internal(format!("cannot write the downloaded package: {e}"))
            })?;
        }
        tracing::debug!(url = %shown, bytes = received, "package fetched");
        Ok(received)
    }
}
