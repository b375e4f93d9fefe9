//! What the HTTP clients of this crate share: building a `reqwest` client on rustls
//! with the ring provider, checking URIs, and turning transport failures and unwelcome
//! answers into [`Error`]s that name the URL and what the peer said.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::{Client, Method, Response, StatusCode, redirect};
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
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("verify_tls", &self.verify_tls)
            .finish()
    }
}

/// Installs rustls's ring provider as the process default, once. A provider installed
/// before (by us or by the embedder) is kept.
pub(crate) fn install_crypto_provider() {
    // An `Err` only says that a provider is installed already, which is what we want.
    let _already_installed = rustls::crypto::ring::default_provider().install_default();
}

/// A client with `settings` and the redirect `policy`.
pub(crate) fn build_client(settings: &ClientSettings, policy: redirect::Policy) -> Result<Client> {
    install_crypto_provider();
    let mut builder = Client::builder()
        .timeout(settings.timeout)
        .connect_timeout(settings.connect_timeout)
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

/// Reads at most a few hundred bytes of `response`'s body, as text for an error
/// message; empty when there is no body or it cannot be read.
pub(crate) async fn body_snippet(mut response: Response) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() <= SNIPPET_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    let truncated = bytes.len() > SNIPPET_BYTES;
    bytes.truncate(SNIPPET_BYTES);
    // Do not end in the middle of a character that the cut split.
    if let Err(e) = std::str::from_utf8(&bytes)
        && e.error_len().is_none()
    {
        bytes.truncate(e.valid_up_to());
    }
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else if truncated {
        format!("{text}…")
    } else {
        text.to_owned()
    }
}

/// The message for an unwelcome `status`: "`METHOD url` answered `status`[: body]".
pub(crate) async fn status_message(method: &Method, url: &Url, response: Response) -> String {
    let status = response.status();
    let final_url = response.url().clone();
    let mut message = format!("{method} {}", redact(url));
    if final_url != *url {
        message.push_str(&format!(" (redirected to {})", redact(&final_url)));
    }
    message.push_str(&format!(" answered {status}"));
    let body = body_snippet(response).await;
    if !body.is_empty() {
        message.push_str(": ");
        message.push_str(&body);
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
