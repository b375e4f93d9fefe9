//! `PingMonitor`: ICMP echo to each VNFC, or a TCP connect where raw sockets are not
//! allowed.
//!
//! Parameters (`vnfConfigurableProperties.monitoring.ping`): `mode` (`icmp`, `tcp`, or
//! `auto`, the default: ICMP when this process may open a raw ICMP socket, else TCP),
//! `tcpPort` (required for TCP), `count` (echo requests per round, default 1; the round
//! succeeds at the first reply), and the common `intervalMs`, `timeoutMs` (per echo or
//! connect), `failureThreshold`, `cpdId`. ICMP echo covers IPv4 VNFC addresses; IPv6
//! addresses are probed over TCP.

use async_trait::async_trait;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use super::probe::{ProbeSettings, VnfcEndpoint};
use super::runner::{Probe, ProbeFactory, ProbeRunner};
use super::{HealthEvent, MonitorDriver, MonitorTarget};
use crate::model::KeyValuePairs;
use crate::{Error, Result, TenantId};

/// How a [`PingMonitor`] probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingMode {
    /// ICMP echo (needs a raw socket).
    Icmp,
    /// A TCP connect to `tcpPort`.
    Tcp,
    /// ICMP if raw sockets are allowed, else TCP.
    Auto,
}

/// Probes each VNFC with ICMP echo or a TCP connect.
#[derive(Debug)]
pub struct PingMonitor {
    runner: ProbeRunner,
}

impl PingMonitor {
    /// A monitor that runs at most `max_concurrent_probes` probes at once.
    pub fn new(max_concurrent_probes: usize) -> Self {
        Self {
            runner: ProbeRunner::new(max_concurrent_probes),
        }
    }

    /// Whether this process may send ICMP echo (open a raw ICMP socket).
    pub fn icmp_allowed() -> bool {
        raw_icmp_socket().is_ok()
    }

    /// How many instances it watches.
    pub fn watching(&self) -> usize {
        self.runner.watching()
    }
}

impl Default for PingMonitor {
    fn default() -> Self {
        Self::new(64)
    }
}

/// `SOCK_RAW` (Linux and the BSDs).
const SOCK_RAW: i32 = 3;

fn raw_icmp_socket() -> std::io::Result<socket2::Socket> {
    socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::from(SOCK_RAW),
        Some(socket2::Protocol::ICMPV4),
    )
}

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = match pair {
            [high, low] => u16::from_be_bytes([*high, *low]),
            [high] => u16::from_be_bytes([*high, 0]),
            _ => 0,
        };
        sum = sum.wrapping_add(u32::from(word));
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn echo_request(identifier: u16, sequence: u16) -> Vec<u8> {
    let mut packet = vec![8u8, 0, 0, 0];
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&sequence.to_be_bytes());
    packet.extend_from_slice(b"tacker-vnfm-ping");
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// Whether an IPv4 datagram (as a raw socket reads it) is the echo reply we wait for.
fn is_reply(datagram: &[u8], from: std::net::Ipv4Addr, identifier: u16, sequence: u16) -> bool {
    let Some(first) = datagram.first() else {
        return false;
    };
    let header = usize::from(first & 0x0f) * 4;
    let source = datagram
        .get(12..16)
        .map(|b| std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3]));
    let Some(icmp) = datagram.get(header..header + 8) else {
        return false;
    };
    source == Some(from)
        && icmp[0] == 0
        && icmp[4..6] == identifier.to_be_bytes()
        && icmp[6..8] == sequence.to_be_bytes()
}

/// One ICMP echo round trip (blocking; run on the blocking pool).
fn icmp_echo(
    address: std::net::Ipv4Addr,
    identifier: u16,
    sequence: u16,
    timeout: Duration,
) -> std::result::Result<(), String> {
    let socket = raw_icmp_socket().map_err(|e| format!("opening an ICMP socket: {e}"))?;
    let target = socket2::SockAddr::from(SocketAddr::new(IpAddr::V4(address), 0));
    socket
        .send_to(&echo_request(identifier, sequence), &target)
        .map_err(|e| format!("sending ICMP echo to {address}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; 1500];
    let mut reader = &socket;
    // Every other ICMP packet of the host reaches a raw socket too: skip them until the
    // reply comes or time is up (each read waits at most the time left).
    for _ in 0..10_000 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| format!("ICMP socket: {e}"))?;
        match reader.read(&mut buffer) {
            Ok(read) => {
                if is_reply(
                    buffer.get(..read).unwrap_or_default(),
                    address,
                    identifier,
                    sequence,
                ) {
                    return Ok(());
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) => return Err(format!("receiving from {address}: {e}")),
        }
    }
    Err(format!(
        "no ICMP echo reply from {address} within {} ms",
        timeout.as_millis()
    ))
}

struct PingProbe {
    icmp: bool,
    tcp_port: Option<u16>,
    count: u32,
    timeout: Duration,
}

impl PingProbe {
    async fn tcp(&self, address: IpAddr) -> std::result::Result<(), String> {
        let port = self
            .tcp_port
            .ok_or_else(|| format!("no tcpPort to probe {address} over TCP"))?;
        match tokio::time::timeout(
            self.timeout,
            tokio::net::TcpStream::connect(SocketAddr::new(address, port)),
        )
        .await
        {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("TCP connect to {address}:{port}: {e}")),
            Err(_) => Err(format!(
                "TCP connect to {address}:{port}: no answer within {} ms",
                self.timeout.as_millis()
            )),
        }
    }
}

#[async_trait]
impl Probe for PingProbe {
    fn attempts(&self) -> u32 {
        self.count
    }

    async fn probe(&self, endpoint: &VnfcEndpoint) -> std::result::Result<(), String> {
        let mut last = String::new();
        let mut random = [0u8; 2];
        let identifier = match getrandom::fill(&mut random) {
            Ok(()) => u16::from_be_bytes(random),
            Err(_) => 0x7ac4,
        };
        for sequence in 0..self.count {
            let outcome = match endpoint.address {
                IpAddr::V4(v4) if self.icmp => {
                    let timeout = self.timeout;
                    let sequence = u16::try_from(sequence).unwrap_or(u16::MAX);
                    tokio::task::spawn_blocking(move || {
                        icmp_echo(v4, identifier, sequence, timeout)
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("ICMP probe task: {e}")))
                }
                address => self.tcp(address).await,
            };
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) => last = error,
            }
        }
        Err(last)
    }
}

#[derive(Debug)]
struct Factory;

impl ProbeFactory for Factory {
    fn name(&self) -> &'static str {
        "ping"
    }

    fn probe(&self, params: &KeyValuePairs, settings: &ProbeSettings) -> Result<Arc<dyn Probe>> {
        let invalid = |name: &str, expected: &str, found: &serde_json::Value| {
            Error::InvalidRequest(format!(
                "vnfConfigurableProperties.monitoring.ping.{name}: expected {expected}, found {found}"
            ))
        };
        let mode = match params.get("mode") {
            None => PingMode::Auto,
            Some(value) => match value.as_str() {
                Some("icmp") => PingMode::Icmp,
                Some("tcp") => PingMode::Tcp,
                Some("auto") => PingMode::Auto,
                _ => return Err(invalid("mode", "icmp, tcp or auto", value)),
            },
        };
        let tcp_port = match params.get("tcpPort") {
            None => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid("tcpPort", "a TCP port", value))?,
            ),
        };
        let count = match params.get("count") {
            None => 1,
            Some(value) => value
                .as_u64()
                .filter(|c| (1..=100).contains(c))
                .and_then(|c| u32::try_from(c).ok())
                .ok_or_else(|| invalid("count", "a count between 1 and 100", value))?,
        };
        let icmp = match mode {
            PingMode::Icmp => {
                raw_icmp_socket().map_err(|e| {
                    Error::NotSupported(format!(
                        "vnfConfigurableProperties.monitoring.ping.mode icmp: this VNFM may not send ICMP echo ({e}); use mode tcp with a tcpPort"
                    ))
                })?;
                true
            }
            PingMode::Tcp => false,
            PingMode::Auto => PingMonitor::icmp_allowed(),
        };
        if !icmp && tcp_port.is_none() {
            return Err(Error::InvalidRequest(
                "vnfConfigurableProperties.monitoring.ping.tcpPort: required when probing over TCP (mode tcp, or auto without ICMP)".to_owned(),
            ));
        }
        Ok(Arc::new(PingProbe {
            icmp,
            tcp_port,
            count,
            timeout: settings.timeout,
        }))
    }
}

#[async_trait]
impl MonitorDriver for PingMonitor {
    fn name(&self) -> &str {
        "ping"
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
    fn echo_requests_carry_a_valid_checksum() {
        let packet = echo_request(0x1234, 7);
        assert_eq!(
            checksum(&packet),
            0,
            "a packet with its checksum sums to zero"
        );
        assert_eq!(packet[0], 8);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn only_the_matching_reply_counts() {
        let from = std::net::Ipv4Addr::new(127, 0, 0, 1);
        let mut datagram = vec![0x45u8; 1];
        datagram.extend_from_slice(&[0; 11]);
        datagram.extend_from_slice(&from.octets());
        datagram.extend_from_slice(&[127, 0, 0, 1]);
        let mut reply = echo_request(9, 1);
        reply[0] = 0;
        datagram.extend_from_slice(&reply);
        assert!(is_reply(&datagram, from, 9, 1));
        assert!(!is_reply(&datagram, from, 9, 2));
        assert!(!is_reply(&datagram, from, 8, 1));
        assert!(!is_reply(
            &datagram,
            std::net::Ipv4Addr::new(127, 0, 0, 2),
            9,
            1
        ));
        assert!(!is_reply(&datagram[..20], from, 9, 1));
    }
}
