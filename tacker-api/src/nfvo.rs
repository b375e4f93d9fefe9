//! [`NfvoConnection`]: how the VNFM reaches its NFVO (URL, TLS, client certificate,
//! OAuth 2.0 client credentials, outbound policy, retries), shared by the SOL003
//! interfaces it consumes: granting ([`crate::HttpGrantProvider`]) and package
//! management ([`crate::NfvoPackageSource`]).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Client, Method, Response, StatusCode};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::{Error, Result};
use url::Url;

use crate::http::{self, DRIVER, ReadError};

/// The largest JSON answer read from the NFVO or an EM (a Grant, a VnfPkgInfo, an
/// LcmCoord, a ProblemDetails).
const MAX_ANSWER: u64 = 4 << 20;
use crate::oauth::{OauthClient, TokenCache};

/// How a task the NFVO (or an EM) runs asynchronously is polled: the first interval
/// (doubling), the longest, and how long it may take in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling {
    pub(crate) interval: Duration,
    pub(crate) max_interval: Duration,
    pub(crate) deadline: Duration,
}

/// What one answer of an asynchronous task came to.
pub(crate) enum Polled<T> {
    /// The result.
    Done(T),
    /// Not decided yet; poll this URL.
    Pending(Url),
}

/// OAuth 2.0 client credentials for the NFVO.
#[derive(Clone)]
pub(crate) struct Oauth2 {
    pub(crate) token_endpoint: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

/// The NFVO's API root and how to talk to it. Built by
/// [`HttpGrantProviderBuilder`](crate::grant::HttpGrantProviderBuilder) and taken from
/// the provider with [`HttpGrantProvider::connection`](crate::HttpGrantProvider::connection).
/// Cheap to clone; clones share the token cache.
#[derive(Clone)]
pub struct NfvoConnection {
    pub(crate) client: Client,
    pub(crate) base: Url,
    pub(crate) timeout: Duration,
    pub(crate) policy: Arc<OutboundPolicy>,
    pub(crate) oauth2: Option<Oauth2>,
    pub(crate) tokens: TokenCache,
    pub(crate) attempts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl std::fmt::Debug for NfvoConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfvoConnection")
            .field("base", &http::redact(&self.base))
            .field("oauth2", &self.oauth2.as_ref().map(|o| &o.client_id))
            .finish_non_exhaustive()
    }
}

impl NfvoConnection {
    /// The NFVO's API root (ends with `/`).
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// A URL under the API root.
    pub(crate) fn join(&self, path: &str) -> Result<Url> {
        self.base
            .join(path)
            .map_err(|e| Error::Internal(format!("the NFVO URL of {path}: {e}")))
    }

    /// One request accepting `accept`, with a bearer token when OAuth 2.0 is configured (renewed once
    /// when the NFVO answers 401).
    pub(crate) async fn send(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        version: &HeaderValue,
        accept: &'static str,
    ) -> Result<Response> {
        http::check_url(&self.policy, "the NFVO URL", url)?;
        let mut token = self.token().await?;
        for renewed in [false, true] {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .header(ACCEPT, accept)
                .header("Version", version.clone());
            if let Some(body) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .await
                .map_err(|e| http::transport_error(method, url, &e, self.timeout))?;
            if response.status() != StatusCode::UNAUTHORIZED || renewed {
                return Ok(response);
            }
            let (Some(oauth2), Some(used)) = (&self.oauth2, &token) else {
                return Ok(response);
            };
            drop(response);
            self.tokens.forget(&oauth_client(oauth2), used);
            token = self.token().await?;
        }
        Err(Error::Internal(
            "unreachable: the loop always returns".into(),
        ))
    }

    async fn token(&self) -> Result<Option<String>> {
        let Some(oauth2) = &self.oauth2 else {
            return Ok(None);
        };
        let context = format!(
            "no OAuth 2.0 token for the NFVO {}",
            http::redact(&self.base)
        );
        self.tokens
            .token(
                &self.client,
                &self.policy,
                self.timeout,
                &oauth_client(oauth2),
                &context,
            )
            .await
            .map(Some)
    }

    /// `send` again while the NFVO cannot answer (no connection, 5xx, 408, 429), at
    /// most `attempts` times in all, with a doubling delay.
    pub(crate) async fn send_with_retries(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Bytes>,
        version: &HeaderValue,
        accept: &'static str,
    ) -> Result<Response> {
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            let outcome = self.send(method, url, body, version, accept).await;
            let retry = match &outcome {
                Ok(response) => http::status_retryable(response.status()),
                Err(error) => error.is_retryable(),
            };
            if !retry || attempt >= self.attempts {
                return outcome;
            }
            let why = match &outcome {
                Ok(response) => format!("answered {}", response.status()),
                Err(error) => error.to_string(),
            };
            tracing::warn!(url = %http::redact(url), attempt, %why, "the NFVO cannot answer now; trying again");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.max_backoff);
            attempt += 1;
        }
    }
}

impl NfvoConnection {
    /// The body of an answer to `method url`, at most [`MAX_ANSWER`] bytes.
    pub(crate) async fn read_answer(
        &self,
        response: &mut Response,
        method: &Method,
        url: &Url,
    ) -> Result<Bytes> {
        http::read_limited(response, MAX_ANSWER)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge => Error::driver(
                    DRIVER,
                    false,
                    format!(
                        "{method} {} answered more than {MAX_ANSWER} bytes",
                        http::redact(url)
                    ),
                ),
                ReadError::Transport(e) => http::transport_error(method, url, &e, self.timeout),
            })
    }

    /// Where a 202 Accepted to `method url` says to poll: its `Location` (resolved
    /// against `url`, http(s) and allowed by the outbound policy), or, answering a poll
    /// without one, `url` again.
    pub(crate) fn pending_location(
        &self,
        method: &Method,
        url: &Url,
        response: &Response,
        what: &str,
    ) -> Result<Url> {
        let shown = http::redact(url);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let Some(location) = location else {
            if *method == Method::GET {
                return Ok(url.clone());
            }
            return Err(Error::driver(
                DRIVER,
                false,
                format!("{method} {shown} answered 202 without a Location"),
            ));
        };
        let next = url.join(&location).map_err(|e| {
            Error::driver(
                DRIVER,
                false,
                format!("{method} {shown} answered 202 with a Location that is not a URI: {e}"),
            )
        })?;
        if !http::is_http(&next) {
            return Err(Error::driver(
                DRIVER,
                false,
                format!("{method} {shown} answered 202 with a Location that is not http(s)"),
            ));
        }
        http::check_url(&self.policy, what, &next)?;
        Ok(next)
    }

    /// Polls `pending` (GET, with `version`) until `answer` makes a result of an
    /// answer, with the growing interval of `polling`, until its deadline counted from
    /// `started`; then a retryable error saying `late`.
    pub(crate) async fn poll<T, F, Fut>(
        &self,
        mut pending: Url,
        version: &HeaderValue,
        polling: Polling,
        started: Instant,
        late: impl Fn(&Url) -> String,
        mut answer: F,
    ) -> Result<T>
    where
        F: FnMut(Url, Response) -> Fut,
        Fut: Future<Output = Result<Polled<T>>>,
    {
        let mut interval = polling.interval;
        loop {
            let waited = started.elapsed();
            if waited >= polling.deadline {
                return Err(Error::driver(DRIVER, true, late(&pending)));
            }
            tokio::time::sleep(interval.min(polling.deadline - waited)).await;
            interval = (interval * 2).min(polling.max_interval);
            let response = self
                .send_with_retries(&Method::GET, &pending, None, version, "application/json")
                .await?;
            match answer(pending.clone(), response).await? {
                Polled::Done(result) => return Ok(result),
                Polled::Pending(next) => pending = next,
            }
        }
    }
}

fn oauth_client(oauth2: &Oauth2) -> OauthClient<'_> {
    OauthClient {
        token_endpoint: oauth2.token_endpoint.clone(),
        client_id: &oauth2.client_id,
        client_password: &oauth2.client_secret,
    }
}
