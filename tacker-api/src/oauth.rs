//! OAuth 2.0 client credentials (RFC 6749 §4.4) for this crate's clients: tokens
//! obtained from a token endpoint, cached per endpoint and client until shortly before
//! they expire, and dropped when a server refuses them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Client, Method};
use tacker_core::outbound::OutboundPolicy;
use tacker_core::{Error, Result};
use url::Url;

use crate::http::{self, DRIVER, ReadError};

/// The largest token endpoint answer read.
const MAX_TOKEN_RESPONSE: u64 = 64 << 10;

/// How long before its announced expiry a cached token is replaced, at most.
const MAX_REFRESH_MARGIN: Duration = Duration::from_secs(30);

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

/// OAuth 2.0 client credentials: the token endpoint, the client id and its password.
pub(crate) struct OauthClient<'a> {
    /// Where tokens are obtained.
    pub token_endpoint: Url,
    /// The client id.
    pub client_id: &'a str,
    /// The client's password.
    pub client_password: &'a str,
}

impl OauthClient<'_> {
    fn key(&self) -> TokenKey {
        TokenKey {
            token_endpoint: self.token_endpoint.to_string(),
            client_id: self.client_id.to_owned(),
        }
    }
}

/// The tokens of a client, shared by its clones.
#[derive(Clone, Default)]
pub(crate) struct TokenCache {
    tokens: Arc<Mutex<HashMap<TokenKey, CachedToken>>>,
}

impl TokenCache {
    /// How many tokens are cached.
    pub(crate) fn len(&self) -> usize {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn cached(&self, key: &TokenKey) -> Option<String> {
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

    /// Drops `used` (a token the server refused) from the cache, unless another
    /// request has replaced it already.
    pub(crate) fn forget(&self, client: &OauthClient<'_>, used: &str) {
        let key = client.key();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if tokens.get(&key).is_some_and(|t| t.access_token == used) {
            tokens.remove(&key);
        }
    }

    /// A bearer token for `client`, from the cache or the token endpoint (through
    /// `http`, where `policy` allows, within `timeout`); `context` starts the errors.
    pub(crate) async fn token(
        &self,
        http: &Client,
        policy: &OutboundPolicy,
        timeout: Duration,
        client: &OauthClient<'_>,
        context: &str,
    ) -> Result<String> {
        let key = client.key();
        if let Some(token) = self.cached(&key) {
            return Ok(token);
        }
        let token = request_token(http, policy, timeout, client, context).await?;
        let access_token = token.access_token.clone();
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, token);
        Ok(access_token)
    }
}

/// The client credentials grant (RFC 6749 §4.4) at `client.token_endpoint`.
async fn request_token(
    http_client: &Client,
    policy: &OutboundPolicy,
    timeout: Duration,
    client: &OauthClient<'_>,
    context: &str,
) -> Result<CachedToken> {
    let endpoint = &client.token_endpoint;
    http::check_url(policy, "the token endpoint", endpoint)?;
    let context = || context.to_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .finish();
    let issued = Instant::now();
    let mut response = http_client
        .post(endpoint.clone())
        .header(ACCEPT, "application/json")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .basic_auth(client.client_id, Some(client.client_password))
        .body(form)
        .send()
        .await
        .map_err(|e| {
            let error = http::transport_error(&Method::POST, endpoint, &e, timeout);
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
                let error = http::transport_error(&Method::POST, endpoint, &e, timeout);
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

#[cfg(test)]
mod tests {
    use super::*;

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
