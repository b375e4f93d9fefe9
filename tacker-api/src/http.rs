//! What the HTTP clients of this crate share: building a `reqwest` client on rustls
//! with the ring provider that connects only where the [`OutboundPolicy`] allows,
//! checking URIs, and turning transport failures and unwelcome answers into [`Error`]s
//! that name the URL and the status, never the peer's body.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, Method, Response, StatusCode, redirect};
use tacker_core::outbound::{self, OutboundPolicy};
use tacker_core::{Error, Result};
use url::Url;

/// The `driver` name of the errors this crate returns.
pub(crate) const DRIVER: &str = "http";

/// How much of an unwelcome answer's body an error message quotes.
const SNIPPET_BYTES: usize = 512;

/// Timeouts and TLS settings of one client.
#[derive(Clone)]
pub(crate) struct ClientSettings {
    /// Total time for one request, from sending to the end of the body.
    pub timeout: Duration,
    /// Time to establish the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest silence while reading, if any.
    pub read_timeout: Option<Duration>,
    /// Extra certificate authorities (PEM) trusted besides the system's.
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Whether server certificates are verified.
    pub verify_tls: bool,
    /// The client certificate chain and its private key (PEM, in one buffer) presented
    /// to servers that ask for one (mutual TLS).
    pub client_identity_pem: Option<Vec<u8>>,
    /// Where requests may go.
    pub policy: Arc<OutboundPolicy>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("verify_tls", &self.verify_tls)
            .field("client_identity", &self.client_identity_pem.is_some())
            .field("policy", &self.policy)
            .finish()
    }
}

/// Installs rustls's ring provider as the process default, once. A provider installed
/// before (by us or by the embedder) is kept.
pub(crate) fn install_crypto_provider() {
    // An `Err` only says that a provider is installed already, which is what we want.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// Resolves host names with the system's resolver and keeps only the addresses the
/// outbound policy allows, so the check and the connection use the same addresses.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let addresses = policy.resolve(&host, 0).await.map_err(|e| {
                if let outbound::ResolveError::Refused(refused) = &e {
                    tracing::warn!(%host, %refused, "outbound request refused");
                }
                Box::new(e) as Box<dyn std::error::Error + Send + Sync>
            })?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Refuses `url` when its scheme or literal address is outside the policy. Host names
/// are checked after resolution, when connecting.
pub(crate) fn check_url(policy: &OutboundPolicy, what: &str, url: &Url) -> Result<()> {
    policy
        .check_target(url.scheme(), url.host_str().unwrap_or_default())
        .map_err(|refused| {
            tracing::warn!(url = %redact(url), %refused, "outbound request refused");
            Error::InvalidRequest(format!("{what} {}: {refused}", redact(url)))
        })
}

/// A redirect policy that follows at most `max` redirects, only to `http`/`https` URLs
/// that the outbound policy allows (literal addresses here; names when connecting).
pub(crate) fn guarded_redirects(policy: Arc<OutboundPolicy>, max: usize) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            let error = format!("more than {max} redirects");
            return attempt.error(error);
        }
        if !is_http(attempt.url()) {
            let error = format!(
                "refused the redirect to {}: only http and https are followed",
                redact(attempt.url())
            );
            return attempt.error(error);
        }
        let url = attempt.url();
        match policy.check_target(url.scheme(), url.host_str().unwrap_or_default()) {
            Ok(()) => attempt.follow(),
            Err(refused) => {
                tracing::warn!(url = %redact(url), %refused, "redirect refused");
                attempt.error(refused)
            }
        }
    })
}

/// A client with `settings` and the redirect `policy`.
pub(crate) fn build_client(settings: &ClientSettings, policy: redirect::Policy) -> Result<Client> {
    install_crypto_provider();
    let mut builder = Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
        .dns_resolver(PolicyResolver {
            policy: settings.policy.clone(),
        })
        .redirect(policy);
    if let Some(read_timeout) = settings.read_timeout {
        builder = builder.read_timeout(read_timeout);
    }
    if let Some(pem) = &settings.extra_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            Error::InvalidRequest(format!("the extra CA bundle is not valid PEM: {e}"))
        })?;
        if certs.is_empty() {
            return Err(Error::InvalidRequest(
                "the extra CA bundle holds no certificate".to_owned(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    if !settings.verify_tls {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    if let Some(pem) = &settings.client_identity_pem {
        let identity = reqwest::Identity::from_pem(pem).map_err(|e| {
            Error::InvalidRequest(format!(
                "the client certificate and key are not a PEM certificate chain and private key: {}",
                chain(&e)
            ))
        })?;
        builder = builder.identity(identity);
    }
    builder
        .build()
        .map_err(|e| Error::Internal(format!("cannot build the HTTP client: {}", chain(&e))))
}

/// Whether `url` may be fetched: `http` or `https` with a host.
pub(crate) fn is_http(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

/// Parses `uri` as an `http`/`https` URL; `what` names it in the error
/// (e.g. "callback URI").
pub(crate) fn parse_http_url(what: &str, uri: &str) -> Result<Url> {
    let url = Url::parse(uri.trim())
        .map_err(|e| Error::InvalidRequest(format!("{what} '{uri}' is not a URI: {e}")))?;
    if !is_http(&url) {
        return Err(Error::InvalidRequest(format!(
            "{what} '{}' must be an http or https URI",
            redact(&url)
        )));
    }
    Ok(url)
}

/// `url` without the password of its user information, for messages and logs.
pub(crate) fn redact(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only fails for URLs that cannot have user information, which have no password.
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// `error` and its sources, joined by ": ", without repeating a cause that an outer
/// message already quotes.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether an answer with `status` may turn out differently later.
pub(crate) fn status_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        )
        || status.as_u16() == 425
}

/// A request that did not get an answer: the connection, TLS, a timeout, a redirect
/// refused by the policy, or the body broke off.
pub(crate) fn transport_error(
    method: &Method,
    url: &Url,
    error: &reqwest::Error,
    timeout: Duration,
) -> Error {
    let target = format!("{method} {}", redact(url));
    if let Some(refused) = outbound::find_refusal(error) {
        let mut message = format!("{target}: {refused}");
        if let Some(last) = error.url().filter(|last| *last != url) {
            message.push_str(&format!(" (at {})", redact(last)));
        }
        return Error::InvalidRequest(message);
    }
    if error.is_timeout() {
        return Error::driver(
            DRIVER,
            true,
            format!("{target}: no complete answer within {timeout:?}"),
        );
    }
    // reqwest's own message only repeats the URL; the sources say what happened.
    let mut cause = match std::error::Error::source(error) {
        Some(source) => chain(source),
        None => chain(error),
    };
    if let Some(last) = error.url().filter(|last| *last != url) {
        cause.push_str(&format!(" (at {})", redact(last)));
    }
    if error.is_connect() {
        return Error::driver(DRIVER, true, format!("{target}: cannot connect: {cause}"));
    }
    if error.is_redirect() {
        return Error::driver(DRIVER, false, format!("{target}: {cause}"));
    }
    if error.is_builder() {
        return Error::InvalidRequest(format!("{target}: {cause}"));
    }
    Error::driver(DRIVER, true, format!("{target}: {cause}"))
}

/// Why [`read_limited`] stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// More than the limit arrived (or was announced by `Content-Length`).
    TooLarge,
    /// The body broke off or timed out.
    Transport(reqwest::Error),
}

/// The most that [`read_limited`] reserves up front, whatever `Content-Length` says.
const MAX_PREALLOCATION: u64 = 16 << 20;

/// Reads `response`'s body, stopping as soon as more than `limit` bytes arrive; the
/// bytes kept never exceed `limit`.
pub(crate) async fn read_limited(
    response: &mut Response,
    limit: u64,
) -> std::result::Result<Bytes, ReadError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit) {
        return Err(ReadError::TooLarge);
    }
    let reserve = announced.unwrap_or(0).min(limit).min(MAX_PREALLOCATION);
    let mut body = BytesMut::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        let total = u64::try_from(body.len())
            .unwrap_or(u64::MAX)
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
        if total > limit {
            return Err(ReadError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads at most a few hundred bytes of `response`'s body, as text for a log line;
/// empty when there is no body or it cannot be read. Never for an error a client sees.
async fn body_snippet(mut response: Response) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() <= SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(SNIPPET_BYTES);
    outbound::sanitize_reason(&String::from_utf8_lossy(&bytes), SNIPPET_BYTES)
}

/// The message for an unwelcome `status`: "`METHOD url` answered `status`", the status
/// line only. The peer's body may be anything the VNFM's network reaches (a metadata
/// service, an internal API), so it is never quoted to the client; the start of it goes
/// to the debug log.
pub(crate) async fn status_message(method: &Method, url: &Url, response: Response) -> String {
    let status = response.status();
    let final_url = response.url().clone();
    let mut message = format!("{method} {}", redact(url));
    if final_url != *url {
        message.push_str(&format!(" (redirected to {})", redact(&final_url)));
    }
    message.push_str(&format!(" answered {status}"));
    if tracing::enabled!(tracing::Level::DEBUG) {
        let body = body_snippet(response).await;
        tracing::debug!(url = %redact(&final_url), %status, %body, "unwelcome answer");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_pass() {
        assert!(parse_http_url("URI", "http://example.com/x").is_ok());
        assert!(parse_http_url("URI", "HTTPS://example.com").is_ok());
        for bad in [
            "ftp://example.com/x",
            "file:///etc/passwd",
            "example.com",
            "",
        ] {
            let error = parse_http_url("URI", bad).expect_err("must be refused");
            assert!(matches!(error, Error::InvalidRequest(_)), "{bad}: {error}");
        }
    }

    #[test]
    fn passwords_are_not_shown() {
        let url = Url::parse("http://user:secret@example.com/p").expect("valid URL");
        let shown = redact(&url);
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("user"), "{shown}");
    }

    #[test]
    fn server_errors_and_throttling_are_retryable() {
        assert!(status_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(status_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(!status_retryable(StatusCode::NOT_FOUND));
        assert!(!status_retryable(StatusCode::UNAUTHORIZED));
    }
}
