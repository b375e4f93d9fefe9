//! `HttpMonitor`: an HTTP `GET` per VNFC with `reqwest`, healthy when the answer has the
//! expected status.
//!
//! Parameters (`vnfConfigurableProperties.monitoring.http`): `url` (required; a
//! template, see [`crate::monitor`]; `http://` only), `expectedStatus` (default 200),
//! and the common `intervalMs`, `timeoutMs`, `failureThreshold`, `cpdId`.
//!
//! Every probe opens a new connection (none is kept for the next probe, so a server that
//! stops accepting connections is noticed), goes to the address directly (no proxy),
//! follows no redirect (a redirect is a status like any other), reads the status line
//! and the headers but never the body, and ends within the probe's timeout. It goes only
//! where the monitor's [`OutboundPolicy`] allows: a literal address is checked before
//! connecting, the addresses of a host name as it is resolved.

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONNECTION, HeaderValue};
use reqwest::{Client, Url, redirect};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use super::probe::{ProbeSettings, VnfcEndpoint};
use super::runner::{Probe, ProbeFactory, ProbeRunner, expand};
use super::{HealthEvent, MonitorDriver, MonitorTarget};
use crate::model::KeyValuePairs;
use crate::outbound::{self, OutboundPolicy};
use crate::{Error, Result, TenantId};

/// The `User-Agent` of the probes.
const USER_AGENT: &str = "tacker-vnfm-monitor";
/// The most header lines an answer may have (hyper bounds the bytes of the head too, to
/// about 400 KiB).
const MAX_HEADERS: usize = 100;

/// Probes each VNFC with an HTTP `GET`.
#[derive(Debug)]
pub struct HttpMonitor {
    runner: ProbeRunner,
    policy: Arc<OutboundPolicy>,
    /// The client, or why it could not be built.
    client: std::result::Result<Client, String>,
}

impl HttpMonitor {
    /// A monitor that runs at most `max_concurrent_probes` probes at once, going where
    /// [`OutboundPolicy::default`] allows (loopback and private addresses, not the
    /// cloud metadata or link-local ones).
    pub fn new(max_concurrent_probes: usize) -> Self {
        let policy = Arc::new(OutboundPolicy::default());
        Self {
            runner: ProbeRunner::new(max_concurrent_probes),
            client: build_client(&policy),
            policy,
        }
    }

    /// The monitor going only where `policy` allows. Applies to the instances watched
    /// from now on.
    pub fn outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.policy = Arc::new(policy);
        self.client = build_client(&self.policy);
        self
    }

    /// How many instances it watches.
    pub fn watching(&self) -> usize {
        self.runner.watching()
    }
}

impl Default for HttpMonitor {
    fn default() -> Self {
        Self::new(64)
    }
}

/// Resolves host names with the system's resolver and keeps only the addresses the
/// policy allows, so that the addresses checked are the ones connected to.
struct PolicyResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // reqwest puts the URL's port in place of 0.
            let addresses = policy
                .resolve(&host, 0)
                .await
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// The client of the probes. Its TLS configuration (ring, no trusted roots) only
/// satisfies reqwest: probes are `http://`.
fn build_client(policy: &Arc<OutboundPolicy>) -> std::result::Result<Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("the HTTP monitor's TLS configuration: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Client::builder()
        .tls_backend_preconfigured(tls)
        .http1_only()
        .http1_max_headers(MAX_HEADERS)
        .no_proxy()
        .redirect(redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .dns_resolver(PolicyResolver {
            policy: policy.clone(),
        })
        .build()
        .map_err(|e| format!("cannot build the HTTP monitor's client: {}", chain(&e)))
}

/// `error` and its sources, joined by ": ", without repeating what an outer message
/// already says.
fn chain(error: &dyn std::error::Error) -> String {
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

#[derive(Debug)]
struct Factory {
    client: Client,
    policy: Arc<OutboundPolicy>,
}

struct HttpProbe {
    client: Client,
    policy: Arc<OutboundPolicy>,
    url: String,
    expected_status: u16,
    timeout: Duration,
}

/// Parses an `http://` URL with a host and no user information.
fn parse_url(url: &str) -> std::result::Result<Url, String> {
    let rest = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .and_then(|_| url.get(7..))
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("'{url}' has no usable host"));
    }
    let parsed = Url::parse(url).map_err(|e| format!("'{url}' is not a usable URL: {e}"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("'{url}' has no usable host"));
    }
    Ok(parsed)
}

impl HttpProbe {
    /// What a failed request says: refused by the policy, timed out, not connected, or
    /// something else on the way.
    fn failure(&self, url: &Url, error: &reqwest::Error) -> String {
        if let Some(refused) = outbound::find_refusal(error) {
            return format!("GET {url}: {refused}");
        }
        if error.is_timeout() {
            return format!(
                "GET {url}: no answer within {} ms",
                self.timeout.as_millis()
            );
        }
        // reqwest's own message repeats the URL; the sources say what happened.
        let cause = match std::error::Error::source(error) {
            Some(source) => chain(source),
            None => chain(error),
        };
        if error.is_connect() {
            format!("GET {url}: connecting: {cause}")
        } else {
            format!("GET {url}: {cause}")
        }
    }
}

#[async_trait]
impl Probe for HttpProbe {
    async fn probe(&self, endpoint: &VnfcEndpoint) -> std::result::Result<(), String> {
        let url = parse_url(&expand(&self.url, endpoint))?;
        self.policy
            .check_target(url.scheme(), url.host_str().unwrap_or_default())
            .map_err(|refused| format!("GET {url}: {refused}"))?;
        let response = self
            .client
            .get(url.clone())
            .header(ACCEPT, HeaderValue::from_static("*/*"))
            .header(CONNECTION, HeaderValue::from_static("close"))
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| self.failure(&url, &e))?;
        // The status is all that matters; the body is never read.
        let status = response.status().as_u16();
        drop(response);
        if status == self.expected_status {
            Ok(())
        } else {
            Err(format!(
                "GET {url}: status {status}, expected {}",
                self.expected_status
            ))
        }
    }
}

impl ProbeFactory for Factory {
    fn name(&self) -> &'static str {
        "http"
    }

    fn probe(&self, params: &KeyValuePairs, settings: &ProbeSettings) -> Result<Arc<dyn Probe>> {
        let url = params
            .get("url")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| {
                Error::InvalidRequest(
                    "vnfConfigurableProperties.monitoring.http.url: required, a string such as http://{address}:8080/health".to_owned(),
                )
            })?;
        // Check the template's shape with a sample address.
        let sample = VnfcEndpoint {
            vnfc_id: "vnfc".to_owned(),
            vdu_id: "vdu".to_owned(),
            address: std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            resource_id: String::new(),
        };
        parse_url(&expand(url, &sample)).map_err(|e| {
            Error::InvalidRequest(format!(
                "vnfConfigurableProperties.monitoring.http.url: {e}"
            ))
        })?;
        let expected_status = match params.get("expectedStatus") {
            None => 200,
            Some(value) => value
                .as_u64()
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| (100..=599).contains(v))
                .ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "vnfConfigurableProperties.monitoring.http.expectedStatus: expected an HTTP status, found {value}"
                    ))
                })?,
        };
        Ok(Arc::new(HttpProbe {
            client: self.client.clone(),
            policy: self.policy.clone(),
            url: url.to_owned(),
            expected_status,
            timeout: settings.timeout,
        }))
    }
}

#[async_trait]
impl MonitorDriver for HttpMonitor {
    fn name(&self) -> &str {
        "http"
    }

    async fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()> {
        let client = self.client.clone().map_err(Error::Internal)?;
        let factory = Factory {
            client,
            policy: self.policy.clone(),
        };
        self.runner.watch(&factory, target, events)
    }

    async fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        self.runner.stop(tenant, vnf_instance_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Cidr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn urls_must_be_http_with_a_host() {
        let url = parse_url("http://127.0.0.1:8080/health?x=1").expect("parse");
        assert_eq!(url.host_str(), Some("127.0.0.1"));
        assert_eq!(url.port(), Some(8080));
        assert_eq!(url.path(), "/health");
        assert_eq!(url.query(), Some("x=1"));
        let url = parse_url("http://[::1]/").expect("parse");
        assert_eq!(url.host_str(), Some("[::1]"));
        assert_eq!(url.port_or_known_default(), Some(80));
        let url = parse_url("HTTP://[::1]:81").expect("parse");
        assert_eq!((url.port(), url.path()), (Some(81), "/"));
        for bad in [
            "https://127.0.0.1/",
            "ftp://127.0.0.1/",
            "http:///x",
            "http://",
            "http://user@127.0.0.1/",
            "http://[::1/",
            "127.0.0.1:80",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    fn endpoint(address: std::net::IpAddr) -> VnfcEndpoint {
        VnfcEndpoint {
            vnfc_id: "c1".to_owned(),
            vdu_id: "VDU1".to_owned(),
            address,
            resource_id: "r1".to_owned(),
        }
    }

    fn probe(monitor: &HttpMonitor, url: &str, timeout: Duration) -> HttpProbe {
        HttpProbe {
            client: monitor.client.clone().expect("a client"),
            policy: monitor.policy.clone(),
            url: url.to_owned(),
            expected_status: 204,
            timeout,
        }
    }

    /// A server answering one request with `answer`, returning what it received.
    async fn one_answer(answer: &'static [u8]) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => request.extend_from_slice(buffer.get(..read).unwrap_or_default()),
                }
            }
            let _ = stream.write_all(answer).await;
            let _ = stream.shutdown().await;
            request
        });
        (port, server)
    }

    #[tokio::test]
    async fn a_probe_reads_the_status_and_sends_a_plain_get() {
        let monitor = HttpMonitor::new(1);
        let (port, server) = one_answer(b"HTTP/1.1 204 No Content\r\nServer: test\r\n\r\n").await;
        let url = format!("http://{{address}}:{port}/health/{{vnfcId}}");
        let outcome = probe(&monitor, &url, Duration::from_secs(5))
            .probe(&endpoint("127.0.0.1".parse().expect("address")))
            .await;
        assert_eq!(outcome, Ok(()));
        let request = String::from_utf8(server.await.expect("server")).expect("text");
        assert!(
            request.starts_with("GET /health/c1 HTTP/1.1\r\n"),
            "{request}"
        );
        let request = request.to_ascii_lowercase();
        assert!(
            request.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
        assert!(
            request.contains("user-agent: tacker-vnfm-monitor\r\n"),
            "{request}"
        );
        assert!(request.contains("connection: close\r\n"), "{request}");

        // Another status, and a redirect (not followed), are failures.
        for (answer, status) in [
            (&b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"[..], 500),
            (
                &b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"[..],
                302,
            ),
        ] {
            let (port, _server) = one_answer(answer).await;
            let outcome = probe(
                &monitor,
                &format!("http://{{address}}:{port}/"),
                Duration::from_secs(5),
            )
            .probe(&endpoint("127.0.0.1".parse().expect("address")))
            .await;
            let error = outcome.expect_err("the wrong status");
            assert!(
                error.contains(&format!("status {status}, expected 204")),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn a_probe_without_an_answer_in_time_fails() {
        let monitor = HttpMonitor::new(1);
        // Accepts, never answers.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let _server = tokio::spawn(async move {
            let accepted = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(accepted);
        });
        let error = probe(
            &monitor,
            &format!("http://{{address}}:{port}/"),
            Duration::from_millis(200),
        )
        .probe(&endpoint("127.0.0.1".parse().expect("address")))
        .await
        .expect_err("a timeout");
        assert!(error.contains("no answer within 200 ms"), "{error}");
        // An answer that is not HTTP.
        let (port, _server) = one_answer(b"SSH-2.0-OpenSSH\r\n\r\n").await;
        let error = probe(
            &monitor,
            &format!("http://{{address}}:{port}/"),
            Duration::from_secs(5),
        )
        .probe(&endpoint("127.0.0.1".parse().expect("address")))
        .await
        .expect_err("not HTTP");
        assert!(
            error.starts_with(&format!("GET http://127.0.0.1:{port}/: ")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_outbound_policy_decides_where_probes_go() {
        // Refused before connecting: a metadata address by default, loopback when the
        // policy says so.
        let monitor = HttpMonitor::new(1);
        let error = probe(&monitor, "http://{address}/latest", Duration::from_secs(1))
            .probe(&endpoint("169.254.169.254".parse().expect("address")))
            .await
            .expect_err("refused");
        assert!(error.contains("the outbound policy refuses"), "{error}");
        let strict = HttpMonitor::new(1).outbound_policy(
            OutboundPolicy::default()
                .allow_loopback(false)
                .deny(Cidr::parse("10.0.0.0/8").expect("a CIDR")),
        );
        let (port, _server) = one_answer(b"HTTP/1.1 204 No Content\r\n\r\n").await;
        let url = format!("http://{{address}}:{port}/");
        let error = probe(&strict, &url, Duration::from_secs(1))
            .probe(&endpoint("127.0.0.1".parse().expect("address")))
            .await
            .expect_err("loopback refused");
        assert!(error.contains("loopback"), "{error}");
        // A host name: its addresses are checked as it is resolved.
        let error = probe(
            &strict,
            &format!("http://localhost:{port}/"),
            Duration::from_secs(1),
        )
        .probe(&endpoint("127.0.0.1".parse().expect("address")))
        .await
        .expect_err("localhost refused");
        assert!(
            error.contains("the outbound policy refuses localhost"),
            "{error}"
        );
        // The default monitor reaches loopback by name too.
        let outcome = probe(
            &monitor,
            &format!("http://localhost:{port}/"),
            Duration::from_secs(5),
        )
        .probe(&endpoint("127.0.0.1".parse().expect("address")))
        .await;
        assert_eq!(outcome, Ok(()));
    }
}
