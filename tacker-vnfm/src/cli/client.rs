//! The HTTP client of the VNFM's ETSI REST APIs: the `Version` header, authentication,
//! ProblemDetails errors and paged lists.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, LINK, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::Error;
use super::config::{Auth, Settings};

/// At most this many pages are fetched for one list.
pub const MAX_PAGES: usize = 1000;

/// The media type of JSON merge patches (RFC 7396).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// One of the VNFM's APIs: where it lives and which `Version` it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// VNF lifecycle management, `/vnflcm/v2` (SOL003/SOL002).
    Lcm,
    /// VNF package management, `/vnfpkgm/v2` (SOL005).
    Pkgm,
    /// The VIM registry, `/vims`.
    Vims,
}

impl Api {
    /// The path segments under the endpoint where the API's resources live.
    pub fn root(self) -> &'static [&'static str] {
        match self {
            Api::Lcm => &["vnflcm", "v2"],
            Api::Pkgm => &["vnfpkgm", "v2"],
            Api::Vims => &[],
        }
    }

    /// The value of the `Version` header sent with every request to this API.
    pub fn version(self) -> &'static str {
        match self {
            Api::Lcm => "2.3.0",
            Api::Pkgm => "2.4.0",
            Api::Vims => "1.0.0",
        }
    }
}

/// An ETSI ProblemDetails (RFC 7807) as the server returned it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// The HTTP status.
    pub status: u16,
    /// A short summary.
    #[serde(default)]
    pub title: Option<String>,
    /// What went wrong in this case.
    #[serde(default)]
    pub detail: Option<String>,
}

impl Problem {
    /// Reads a ProblemDetails from a JSON value, e.g. an op occurrence's `error`.
    pub fn from_value(value: &Value) -> Option<Self> {
        serde_json::from_value(value.clone()).ok()
    }

    fn from_response(status: StatusCode, body: &[u8]) -> Self {
        let parsed = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| Self::from_value(&v));
        let reason = status.canonical_reason().map(str::to_owned);
        match parsed {
            Some(mut problem) => {
                if problem.title.as_deref().is_none_or(str::is_empty) {
                    problem.title = reason;
                }
                problem
            }
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let detail = (!text.is_empty()).then(|| truncate(text, 500));
                Problem {
                    status: status.as_u16(),
                    title: reason,
                    detail,
                }
            }
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.status)?;
        if let Some(title) = &self.title {
            write!(f, " {title}")?;
        }
        match &self.detail {
            Some(detail) if !detail.is_empty() => write!(f, ": {detail}"),
            _ => Ok(()),
        }
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Finds the `rel="next"` target among `Link` header values (RFC 8288). Each value may
/// hold several comma-separated links; `rel` may hold several space-separated relation
/// types, quoted or not.
pub fn next_link<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<String> {
    values.into_iter().find_map(|value| {
        split_links(value).into_iter().find_map(|(target, params)| {
            params
                .iter()
                .any(|(name, value)| {
                    name.eq_ignore_ascii_case("rel")
                        && value
                            .split_ascii_whitespace()
                            .any(|rel| rel.eq_ignore_ascii_case("next"))
                })
                .then_some(target)
        })
    })
}

type Link = (String, Vec<(String, String)>);

/// Splits one `Link` header value into its links: target and parameters.
fn split_links(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(body) = rest.strip_prefix('<') else {
            return links;
        };
        let Some(end) = body.find('>') else {
            return links;
        };
        let target = body[..end].trim().to_owned();
        rest = &body[end + 1..];
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(after) = rest.strip_prefix(';') else {
                break;
            };
            let after = after.trim_start();
            let name_end = after.find(['=', ';', ',']).unwrap_or(after.len());
            let name = after[..name_end].trim().to_owned();
            rest = &after[name_end..];
            let mut value = String::new();
            if let Some(v) = rest.strip_prefix('=') {
                let v = v.trim_start();
                if let Some(quoted) = v.strip_prefix('"') {
                    let mut chars = quoted.char_indices();
                    let mut consumed = quoted.len();
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    value.push(escaped);
                                }
                            }
                            '"' => {
                                consumed = i + 1;
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    rest = &quoted[consumed..];
                } else {
                    let end = v.find([';', ',']).unwrap_or(v.len());
                    value = v[..end].trim().to_owned();
                    rest = &v[end..];
                }
            }
            params.push((name, value));
        }
        links.push((target, params));
    }
}

/// The client of one VNFM endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    auth: Auth,
}

impl Client {
    /// A client for `settings`: rustls with the ring provider, the system's roots plus
    /// the configured CA file.
    pub fn new(settings: &Settings) -> Result<Self, Error> {
        // Another part of the process may have installed a provider already: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .user_agent(concat!("tacker-cli/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &settings.ca_cert {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Usage(format!("CA certificate {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Usage(format!("CA certificate {}: {e}", path.display())))?;
            builder = builder.tls_certs_merge(certs);
        }
        if settings.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Other(format!("HTTP client: {e}")))?;
        Ok(Self {
            http,
            endpoint: settings.endpoint.clone(),
            auth: settings.auth.clone(),
        })
    }

    /// The endpoint's base URL.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The URL of `segments` under `api`'s root; each segment is percent-encoded (so an
    /// id can never escape its place in the path).
    pub fn url(&self, api: Api, segments: &[&str]) -> Result<Url, Error> {
        let mut url = self.endpoint.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|()| Error::Usage(format!("endpoint {} has no path", self.endpoint)))?;
            path.pop_if_empty();
            path.extend(api.root());
            path.extend(segments);
        }
        Ok(url)
    }

    /// A URL the server gave (a `Link` or `Location`) made safe to call with our
    /// credentials: relative references are resolved against `base`, and a URL of
    /// another origin is re-targeted at our endpoint's origin, keeping path and query.
    pub fn server_url(&self, base: &Url, given: &str) -> Result<Url, Error> {
        let mut url = base
            .join(given)
            .map_err(|e| Error::Protocol(format!("bad URL {given:?} from the server: {e}")))?;
        if url.origin() != self.endpoint.origin() {
            url.set_scheme(self.endpoint.scheme())
                .and_then(|()| url.set_host(self.endpoint.host_str()).map_err(drop))
                .and_then(|()| url.set_port(self.endpoint.port()))
                .map_err(|()| Error::Protocol(format!("cannot use URL {given:?}")))?;
        }
        Ok(url)
    }

    /// A request to `url` with the `Version` header of `api`, the credentials, and
    /// `Accept: application/json`.
    pub fn request(&self, method: Method, api: Api, url: Url) -> RequestBuilder {
        let builder = self
            .http
            .request(method, url)
            .header("Version", api.version())
            .header(ACCEPT, "application/json");
        match &self.auth {
            Auth::None => builder,
            Auth::Basic { username, password } => builder.basic_auth(username, Some(password)),
            Auth::Bearer(token) => builder.bearer_auth(token),
        }
    }

    /// Sends `request`; a status of 400 or above becomes [`Error::Problem`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_client_error() || status.is_server_error() {
            let body = response.bytes().await.map_err(transport)?;
            return Err(Error::Problem(Problem::from_response(status, &body)));
        }
        if status.is_redirection() {
            let to = header_str(response.headers(), LOCATION).unwrap_or("?");
            return Err(Error::Protocol(format!(
                "unexpected {status} redirect to {to}"
            )));
        }
        Ok(response)
    }

    /// `GET url` and its JSON body.
    pub async fn get_json(&self, api: Api, url: Url) -> Result<Value, Error> {
        let response = self.send(self.request(Method::GET, api, url)).await?;
        json_body(response).await
    }

    /// `GET url` of a list, following `Link: <…>; rel="next"` through at most
    /// [`MAX_PAGES`] pages (warning on stderr when it stops there), and the
    /// concatenated items.
    pub async fn list(&self, api: Api, url: Url) -> Result<Vec<Value>, Error> {
        let mut items = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            if pages == MAX_PAGES {
                eprintln!(
                    "warning: stopped after {MAX_PAGES} pages of {url}; narrow the list with \
                     --filter"
                );
                break;
            }
            pages += 1;
            let response = self
                .send(self.request(Method::GET, api, url.clone()))
                .await?;
            let link = next_link(
                response
                    .headers()
                    .get_all(LINK)
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
            match json_body(response).await? {
                Value::Array(page) => items.extend(page),
                other => {
                    return Err(Error::Protocol(format!(
                        "expected a JSON array from {url}, got {}",
                        kind(&other)
                    )));
                }
            }
            if let Some(link) = link {
                let target = self.server_url(&url, &link)?;
                if target == url {
                    return Err(Error::Protocol(format!("the next page of {url} is itself")));
                }
                next = Some(target);
            }
        }
        Ok(items)
    }

    /// Sends a request with a JSON body (or none) and returns the response.
    pub async fn send_json(
        &self,
        method: Method,
        api: Api,
        url: Url,
        body: Option<&Value>,
        content_type: &str,
    ) -> Result<Response, Error> {
        let mut request = self.request(method, api, url);
        if let Some(body) = body {
            let bytes =
                serde_json::to_vec(body).map_err(|e| Error::Other(format!("request body: {e}")))?;
            request = request
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_str(content_type)
                        .map_err(|e| Error::Other(format!("content type {content_type:?}: {e}")))?,
                )
                .body(bytes);
        }
        self.send(request).await
    }
}

/// Maps a transport error to [`Error::Transport`], with its sources.
pub fn transport(error: reqwest::Error) -> Error {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    Error::Transport(message)
}

/// The body of `response` as JSON.
pub async fn json_body(response: Response) -> Result<Value, Error> {
    let url = response.url().clone();
    let bytes = response.bytes().await.map_err(transport)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Protocol(format!("invalid JSON from {url}: {e}")))
}

/// A header's value as text, if present and visible ASCII.
pub fn header_str(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A short name of a JSON value's type, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::config::{Partial, resolve};

    #[test]
    fn next_link_is_found_among_links_and_relations() {
        assert_eq!(
            next_link([
                "<http://h/vnflcm/v2/vnf_instances?nextpage_opaque_marker=abc>; rel=\"next\""
            ]),
            Some("http://h/vnflcm/v2/vnf_instances?nextpage_opaque_marker=abc".to_owned())
        );
        assert_eq!(
            next_link([
                "<http://h/a?p=1>; rel=\"prev\", <http://h/a?p=3>; title=\"x, y\"; rel=next"
            ]),
            Some("http://h/a?p=3".to_owned())
        );
        assert_eq!(
            next_link([
                "<http://h/a?p=0>; rel=\"first\"",
                "<http://h/a?p=2>;REL=\"prev NEXT\""
            ]),
            Some("http://h/a?p=2".to_owned())
        );
        assert_eq!(next_link(["<http://h/a>; rel=\"prev\""]), None);
        assert_eq!(next_link(["garbage"]), None);
        assert_eq!(next_link(["<http://h/a; rel=next"]), None);
        assert_eq!(next_link(Vec::<&str>::new()), None);
        assert_eq!(
            next_link(["<http://h/a>; title=\"a \\\"quoted\\\" rel=next\"; rel=\"other\""]),
            None
        );
    }

    fn client(endpoint: &str) -> Client {
        let flags = Partial {
            endpoint: Some(endpoint.to_owned()),
            ..Partial::default()
        };
        let settings = resolve(&flags, &Partial::default(), &Partial::default()).expect("s");
        Client::new(&settings).expect("client")
    }

    #[test]
    fn urls_are_built_under_the_api_root_with_encoded_segments() {
        let c = client("http://127.0.0.1:9890");
        assert_eq!(
            c.url(Api::Lcm, &["vnf_instances", "a/b c"])
                .expect("url")
                .as_str(),
            "http://127.0.0.1:9890/vnflcm/v2/vnf_instances/a%2Fb%20c"
        );
        assert_eq!(
            c.url(Api::Vims, &["vims"]).expect("url").as_str(),
            "http://127.0.0.1:9890/vims"
        );
        let c = client("https://proxy.example/tacker/");
        assert_eq!(
            c.url(Api::Pkgm, &["vnf_packages"]).expect("url").as_str(),
            "https://proxy.example/tacker/vnfpkgm/v2/vnf_packages"
        );
    }

    #[test]
    fn server_urls_of_another_origin_are_retargeted() {
        let c = client("https://vnfm.example:9890");
        let base = c.url(Api::Lcm, &["vnf_instances"]).expect("url");
        assert_eq!(
            c.server_url(&base, "https://vnfm.example:9890/x?y=1")
                .expect("u")
                .as_str(),
            "https://vnfm.example:9890/x?y=1"
        );
        assert_eq!(
            c.server_url(&base, "http://10.0.0.5:9890/vnflcm/v2/vnf_lcm_op_occs/1")
                .expect("u")
                .as_str(),
            "https://vnfm.example:9890/vnflcm/v2/vnf_lcm_op_occs/1"
        );
        assert_eq!(
            c.server_url(&base, "/vnflcm/v2/vnf_instances?marker=2")
                .expect("u")
                .as_str(),
            "https://vnfm.example:9890/vnflcm/v2/vnf_instances?marker=2"
        );
    }

    #[test]
    fn problems_are_read_or_synthesised() {
        let p = Problem::from_response(
            StatusCode::CONFLICT,
            br#"{"status":409,"title":"Conflict","detail":"busy"}"#,
        );
        assert_eq!(p.to_string(), "409 Conflict: busy");
        let p = Problem::from_response(StatusCode::NOT_FOUND, b"");
        assert_eq!(p.to_string(), "404 Not Found");
        let p = Problem::from_response(StatusCode::BAD_GATEWAY, b"upstream down\n");
        assert_eq!(p.to_string(), "502 Bad Gateway: upstream down");
        let p = Problem::from_response(StatusCode::BAD_REQUEST, br#"{"status":400,"detail":"x"}"#);
        assert_eq!(p.to_string(), "400 Bad Request: x");
    }
}
