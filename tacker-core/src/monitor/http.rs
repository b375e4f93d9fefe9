//! `HttpMonitor`: an HTTP/1.1 `GET` per VNFC, healthy when the answer has the expected
//! status.
//!
//! Parameters (`vnfConfigurableProperties.monitoring.http`): `url` (required; a
//! template, see [`crate::monitor`]; `http://` only), `expectedStatus` (default 200),
//! and the common `intervalMs`, `timeoutMs`, `failureThreshold`, `cpdId`.

use async_trait::async_trait;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::probe::{Probe, ProbeFactory, ProbeRunner, ProbeSettings, VnfcEndpoint, expand};
use super::{HealthEvent, MonitorDriver, MonitorTarget};
use crate::model::KeyValuePairs;
use crate::{Error, Result, TenantId};

/// Probes each VNFC with an HTTP `GET`.
#[derive(Debug)]
pub struct HttpMonitor {
    runner: ProbeRunner,
}

impl HttpMonitor {
    /// A monitor that runs at most `max_concurrent_probes` probes at once.
    pub fn new(max_concurrent_probes: usize) -> Self {
        Self {
            runner: ProbeRunner::new(max_concurrent_probes),
        }
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

#[derive(Debug)]
struct Factory;

struct HttpProbe {
    url: String,
    expected_status: u16,
}

/// `host:port` and the request target of an `http://` URL.
fn split_url(url: &str) -> std::result::Result<(String, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(index) => rest.split_at(index),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("'{url}' has no usable host"));
    }
    let has_port = match authority.rfind(']') {
        Some(bracket) => authority[bracket..].contains(':'),
        None => authority.contains(':'),
    };
    let connect = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok((connect, authority.to_owned(), path.to_owned()))
}

#[async_trait]
impl Probe for HttpProbe {
    async fn probe(&self, endpoint: &VnfcEndpoint) -> std::result::Result<(), String> {
        let url = expand(&self.url, endpoint);
        let (connect, host, path) = split_url(&url)?;
        let mut stream = tokio::net::TcpStream::connect(&connect)
            .await
            .map_err(|e| format!("GET {url}: connecting: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tacker-vnfm-monitor\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| format!("GET {url}: sending: {e}"))?;
        // The status line is all that matters; read until it is complete (bounded).
        let mut head = Vec::with_capacity(256);
        let mut buffer = [0u8; 256];
        while !head.contains(&b'\n') && head.len() < 4096 {
            let read = stream
                .read(&mut buffer)
                .await
                .map_err(|e| format!("GET {url}: reading: {e}"))?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(buffer.get(..read).unwrap_or_default());
        }
        let line = String::from_utf8_lossy(&head);
        let status = line
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| format!("GET {url}: no HTTP status line in the answer"))?;
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

    fn probe(&self, params: &KeyValuePairs, _settings: &ProbeSettings) -> Result<Arc<dyn Probe>> {
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
        split_url(&expand(url, &sample)).map_err(|e| {
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
            url: url.to_owned(),
            expected_status,
        }))
    }
}

#[async_trait]
impl MonitorDriver for HttpMonitor {
    fn name(&self) -> &str {
        "http"
    }

    async fn watch(&self, target: MonitorTarget, events: mpsc::Sender<HealthEvent>) -> Result<()> {
        self.runner.watch(&Factory, target, events)
    }

    async fn stop(&self, tenant: &TenantId, vnf_instance_id: &str) -> Result<()> {
        self.runner.stop(tenant, vnf_instance_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_connect_address_host_and_target() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/health?x=1").expect("split"),
            (
                "127.0.0.1:8080".to_owned(),
                "127.0.0.1:8080".to_owned(),
                "/health?x=1".to_owned()
            )
        );
        assert_eq!(
            split_url("http://[::1]/").expect("split").0,
            "[::1]:80".to_owned()
        );
        assert_eq!(
            split_url("http://[::1]:81").expect("split"),
            ("[::1]:81".to_owned(), "[::1]:81".to_owned(), "/".to_owned())
        );
        assert!(split_url("https://127.0.0.1/").is_err());
        assert!(split_url("http:///x").is_err());
    }
}
