//! [`OutboundPolicy`]: which addresses and schemes the VNFM's own outbound requests may
//! reach — notification callbacks and their OAuth 2.0 token endpoints, the callback
//! check, package downloads (`upload_from_uri`), VIM endpoints (Keystone and the
//! services of its catalog, Kubernetes API servers), and the probes of the HTTP health
//! monitor (`monitor::HttpMonitor`, feature `monitors`).
//!
//! Those URLs come from API clients, so without a policy the VNFM is a channel into
//! whatever its own network reaches (server-side request forgery): the cloud's metadata
//! service, link-local management interfaces, internal admin APIs.
//!
//! A policy is applied to every address a host name resolves to, right before
//! connecting (so a name cannot be re-pointed between a check and the connection), to
//! URLs with a literal address, and to every redirect hop. The HTTP clients of
//! `tacker-api` and of the drivers take one; this crate holds only the rules and a
//! resolver that filters through them.
//!
//! # How an address is judged
//!
//! 1. An address embedding an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, and the
//!    NAT64 prefix `64:ff9b::/96`) is judged as that IPv4 address.
//! 2. The operator's rules ([`OutboundPolicy::allow`], [`OutboundPolicy::deny`]): the
//!    most specific rule (longest prefix) that contains the address decides; between
//!    an allow and a deny rule of equal length, deny wins.
//! 3. Otherwise the built-in ranges decide:
//!    - always denied: the cloud metadata addresses ([`METADATA_ADDRESSES`]), link-local
//!      (`169.254.0.0/16`, `fe80::/10`), unspecified (`0.0.0.0/8`, `::`; connecting to
//!      them reaches the local host), multicast and broadcast;
//!    - loopback (`127.0.0.0/8`, `::1`): allowed while [`OutboundPolicy::allow_loopback`]
//!      is on (the default, since the embedded and simulated setups run on one host);
//!    - private (`10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `100.64.0.0/10`,
//!      `fc00::/7`): allowed while [`OutboundPolicy::allow_private`] is on (the
//!      default, since VIMs usually live on private networks);
//!    - everything else is allowed.
//!
//! So an explicit allow rule is the only way to reach a metadata or link-local
//! address, and an explicit deny rule closes any range.
//!
//! Schemes: only those listed ([`OutboundPolicy::schemes`]; `http` and `https` by
//! default) are used.
//!
//! ```
//! use tacker_core::outbound::{Cidr, OutboundPolicy};
//! let policy = OutboundPolicy::default()
//!     .allow_private(false)
//!     .allow(Cidr::parse("10.20.0.0/16").expect("a CIDR"));
//! assert!(policy.check_ip("10.20.1.5".parse().expect("an address")).is_ok());
//! assert!(policy.check_ip("10.30.1.5".parse().expect("an address")).is_err());
//! assert!(policy.check_ip("169.254.169.254".parse().expect("an address")).is_err());
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::Error;

/// A range of addresses: an address and a prefix length (`10.0.0.0/8`, `fe80::/10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The range of `address` with `prefix` bits. Fails when the prefix is longer than
    /// the address or the address has bits set beyond it.
    pub fn new(address: IpAddr, prefix: u8) -> Result<Self, String> {
        let max = max_prefix(address);
        if prefix > max {
            return Err(format!(
                "/{prefix} is longer than the {max} bits of {address}"
            ));
        }
        let cidr = Self { address, prefix };
        let network = cidr.network();
        if network != address {
            return Err(format!(
                "{address}/{prefix} has bits set beyond the prefix; did you mean {network}/{prefix}?"
            ));
        }
        Ok(cidr)
    }

    /// Parses `10.0.0.0/8`, `fd00::/8`, or a single address (`169.254.169.254`, `::1`),
    /// which is the range of that address alone. An IPv4-mapped IPv6 range
    /// (`::ffff:10.0.0.0/104`) becomes its IPv4 range.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address_text, prefix_text) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address_text
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or a CIDR range"))?;
        let prefix = match prefix_text {
            None => max_prefix(address),
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .map_err(|_| format!("{text:?} has an invalid prefix length"))?,
            Some(_) => return Err(format!("{text:?} has an invalid prefix length")),
        };
        if let IpAddr::V6(v6) = address
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix >= 96
        {
            return Self::new(IpAddr::V4(v4), prefix - 96).map_err(|e| format!("{text:?}: {e}"));
        }
        Self::new(address, prefix).map_err(|e| format!("{text:?}: {e}"))
    }

    /// The first address of the range.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn network(&self) -> IpAddr {
        match self.address {
            IpAddr::V4(a) => {
                let bits = u32::from(a) & mask32(self.prefix);
                IpAddr::V4(Ipv4Addr::from(bits))
            }
            IpAddr::V6(a) => {
                let bits = u128::from(a) & mask128(self.prefix);
                IpAddr::V6(Ipv6Addr::from(bits))
            }
        }
    }

    /// Whether `address` lies in the range (of the same family; callers canonicalise
    /// IPv4-mapped addresses first).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = mask32(self.prefix);
                u32::from(a) & mask == u32::from(net) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = mask128(self.prefix);
                u128::from(a) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
    Cidr {
        address: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
        prefix,
    }
}

const fn v6(segments: [u16; 8], prefix: u8) -> Cidr {
    let [a, b, c, d, e, f, g, h] = segments;
    Cidr {
        address: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
        prefix,
    }
}

/// The cloud metadata services, denied unless an allow rule names them: AWS, GCP,
/// Azure, OpenStack and most others (`169.254.169.254`), AWS over IPv6
/// (`fd00:ec2::254`), Alibaba Cloud (`100.100.100.200`), Oracle Cloud's legacy address
/// (`192.0.0.192`) and AWS ECS task metadata (`169.254.170.2`).
pub const METADATA_ADDRESSES: &[Cidr] = &[
    v4(169, 254, 169, 254, 32),
    v4(169, 254, 170, 2, 32),
    v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
    v4(100, 100, 100, 200, 32),
    v4(192, 0, 0, 192, 32),
];

/// Ranges always denied unless an allow rule opens them, with their names.
const ALWAYS_DENIED: &[(&str, Cidr)] = &[
    ("link-local", v4(169, 254, 0, 0, 16)),
    ("link-local", v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10)),
    ("unspecified", v4(0, 0, 0, 0, 8)),
    ("unspecified", v6([0, 0, 0, 0, 0, 0, 0, 0], 128)),
    ("multicast", v4(224, 0, 0, 0, 4)),
    ("multicast", v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8)),
    ("broadcast", v4(255, 255, 255, 255, 32)),
];

/// Loopback ranges.
const LOOPBACK: &[Cidr] = &[v4(127, 0, 0, 0, 8), v6([0, 0, 0, 0, 0, 0, 0, 1], 128)];

/// Private ranges: RFC 1918, shared address space (RFC 6598), unique local IPv6.
const PRIVATE: &[Cidr] = &[
    v4(10, 0, 0, 0, 8),
    v4(172, 16, 0, 0, 12),
    v4(192, 168, 0, 0, 16),
    v4(100, 64, 0, 0, 10),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
];

/// The NAT64 well-known prefix (RFC 6052), whose addresses reach IPv4 ones.
const NAT64: Cidr = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// The address an outbound connection to `address` really reaches, as far as the policy
/// can tell: IPv4-mapped and NAT64 addresses are their IPv4 address.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(a) => {
            if let Some(mapped) = a.to_ipv4_mapped() {
                return IpAddr::V4(mapped);
            }
            if NAT64.contains(address) {
                let low = (u128::from(a) & u128::from(u32::MAX)) as u32;
                return IpAddr::V4(Ipv4Addr::from(low));
            }
            address
        }
        IpAddr::V4(_) => address,
    }
}

/// Which rule judged an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// An operator's allow rule.
    Allow(Cidr),
    /// An operator's deny rule.
    Deny(Cidr),
    /// A cloud metadata address (denied).
    Metadata(Cidr),
    /// A built-in range denied always, e.g. link-local (name, range).
    Builtin(&'static str, Cidr),
    /// Loopback, allowed or not by `allow_loopback`.
    Loopback(Cidr),
    /// A private range, allowed or not by `allow_private`.
    Private(Cidr),
    /// No rule: a public address, allowed.
    Public,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow(cidr) => write!(f, "rule allow {cidr}"),
            Self::Deny(cidr) => write!(f, "rule deny {cidr}"),
            Self::Metadata(cidr) => write!(
                f,
                "built-in rule deny {cidr} (a cloud metadata address; only an allow rule opens it)"
            ),
            Self::Builtin(name, cidr) => write!(
                f,
                "built-in rule deny {name} {cidr} (only an allow rule opens it)"
            ),
            Self::Loopback(cidr) => write!(f, "loopback {cidr} (allow-loopback)"),
            Self::Private(cidr) => write!(f, "private range {cidr} (allow-private)"),
            Self::Public => f.write_str("public address"),
        }
    }
}

/// An outbound request the policy refuses: what was refused and the rule that refused
/// it. Its message names the host, the address and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host name or address of the URL, if known.
    pub host: Option<String>,
    /// The address refused, if an address was the reason.
    pub address: Option<IpAddr>,
    /// The scheme refused, if the scheme was the reason.
    pub scheme: Option<String>,
    /// The rule that refused it (`None` for a refused scheme).
    pub rule: Option<Rule>,
    /// How many more addresses the host resolved to were refused besides `address`.
    pub others: usize,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the outbound policy refuses ")?;
        if let Some(scheme) = &self.scheme {
            return write!(f, "the scheme {scheme:?}");
        }
        match (&self.host, self.address) {
            (Some(host), Some(address)) if host.trim_matches(['[', ']']) != address.to_string() => {
                write!(f, "{host} (address {address}")?;
                if self.others > 0 {
                    write!(f, " and {} more", self.others)?;
                }
                f.write_str(")")?;
            }
            (_, Some(address)) => write!(f, "address {address}")?,
            (Some(host), None) => write!(f, "{host}")?,
            (None, None) => f.write_str("the request")?,
        }
        match &self.rule {
            Some(Rule::Loopback(_)) => {
                write!(f, ": {} is not allowed", self.rule_text())
            }
            Some(Rule::Private(_)) => {
                write!(f, ": {} is not allowed", self.rule_text())
            }
            Some(_) => write!(f, ": denied by {}", self.rule_text()),
            None => Ok(()),
        }
    }
}

impl Refused {
    fn rule_text(&self) -> String {
        self.rule.as_ref().map(Rule::to_string).unwrap_or_default()
    }
}

impl std::error::Error for Refused {}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        Error::InvalidRequest(refused.to_string())
    }
}

/// Why [`OutboundPolicy::resolve`] gave no address.
#[derive(Debug)]
pub enum ResolveError {
    /// The policy refuses every address of the host.
    Refused(Refused),
    /// The host name could not be resolved.
    Lookup {
        /// The host name.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(refused) => refused.fmt(f),
            Self::Lookup { host, source } => write!(f, "cannot resolve {host}: {source}"),
        }
    }
}

impl std::error::Error for ResolveError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Refused(refused) => Some(refused),
            Self::Lookup { source, .. } => Some(source),
        }
    }
}

/// Finds a [`Refused`] in `error` or its sources: how a client tells a policy
/// refusal (the request is invalid) from a transport failure (try again later).
pub fn find_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused);
        }
        if let Some(ResolveError::Refused(refused)) = e.downcast_ref::<ResolveError>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

/// Which outbound requests the VNFM makes: schemes, and addresses by range. See the
/// [module documentation](self) for how an address is judged.
///
/// The default allows `http` and `https`, loopback and private addresses, and denies the
/// cloud metadata addresses, link-local, unspecified, multicast and broadcast
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    schemes: Vec<String>,
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
    allow_private: bool,
    allow_loopback: bool,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            schemes: vec!["http".to_owned(), "https".to_owned()],
            allow: Vec::new(),
            deny: Vec::new(),
            allow_private: true,
            allow_loopback: true,
        }
    }
}

impl OutboundPolicy {
    /// The default policy (see the type's documentation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the schemes allowed (case-insensitive; default `http`, `https`). The
    /// clients never use a scheme other than `http`/`https`, so this can only narrow
    /// them, e.g. to `https` alone.
    pub fn schemes<I, S>(mut self, schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.schemes = schemes
            .into_iter()
            .map(|s| s.as_ref().trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .collect();
        self
    }

    /// Adds an allow rule: addresses in `cidr` are allowed unless a more specific deny
    /// rule covers them. This is how a metadata or link-local address is opened.
    pub fn allow(mut self, cidr: Cidr) -> Self {
        self.allow.push(cidr);
        self
    }

    /// Adds a deny rule: addresses in `cidr` are refused unless a more specific allow
    /// rule covers them.
    pub fn deny(mut self, cidr: Cidr) -> Self {
        self.deny.push(cidr);
        self
    }

    /// Whether private addresses (RFC 1918, `100.64.0.0/10`, `fc00::/7`) not covered
    /// by a rule are allowed (default `true`).
    pub fn allow_private(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Whether loopback addresses (`127.0.0.0/8`, `::1`) not covered by a rule are
    /// allowed (default `true`).
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        self.allow_loopback = allow;
        self
    }

    /// The schemes allowed.
    pub fn allowed_schemes(&self) -> &[String] {
        &self.schemes
    }

    /// The allow rules.
    pub fn allow_rules(&self) -> &[Cidr] {
        &self.allow
    }

    /// The deny rules.
    pub fn deny_rules(&self) -> &[Cidr] {
        &self.deny
    }

    /// Whether private ranges are allowed.
    pub fn private_allowed(&self) -> bool {
        self.allow_private
    }

    /// Whether loopback is allowed.
    pub fn loopback_allowed(&self) -> bool {
        self.allow_loopback
    }

    /// Judges `address`: whether it is allowed and which rule said so.
    pub fn judge(&self, address: IpAddr) -> (bool, Rule) {
        let address = canonical(address);
        let best = |rules: &[Cidr]| {
            rules
                .iter()
                .filter(|c| c.contains(address))
                .max_by_key(|c| c.prefix())
                .copied()
        };
        match (best(&self.allow), best(&self.deny)) {
            (Some(a), Some(d)) if a.prefix() > d.prefix() => return (true, Rule::Allow(a)),
            (_, Some(d)) => return (false, Rule::Deny(d)),
            (Some(a), None) => return (true, Rule::Allow(a)),
            (None, None) => {}
        }
        if let Some(cidr) = METADATA_ADDRESSES.iter().find(|c| c.contains(address)) {
            return (false, Rule::Metadata(*cidr));
        }
        if let Some((name, cidr)) = ALWAYS_DENIED.iter().find(|(_, c)| c.contains(address)) {
            return (false, Rule::Builtin(name, *cidr));
        }
        if let Some(cidr) = LOOPBACK.iter().find(|c| c.contains(address)) {
            return (self.allow_loopback, Rule::Loopback(*cidr));
        }
        if let Some(cidr) = PRIVATE.iter().find(|c| c.contains(address)) {
            return (self.allow_private, Rule::Private(*cidr));
        }
        (true, Rule::Public)
    }

    /// Refuses `address` unless the policy allows it.
    pub fn check_ip(&self, address: IpAddr) -> Result<(), Refused> {
        let (allowed, rule) = self.judge(address);
        if allowed {
            Ok(())
        } else {
            Err(Refused {
                host: None,
                address: Some(address),
                scheme: None,
                rule: Some(rule),
                others: 0,
            })
        }
    }

    /// Refuses `scheme` unless it is allowed.
    pub fn check_scheme(&self, scheme: &str) -> Result<(), Refused> {
        if self.schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            Ok(())
        } else {
            Err(Refused {
                host: None,
                address: None,
                scheme: Some(scheme.to_owned()),
                rule: None,
                others: 0,
            })
        }
    }

    /// Checks what can be checked of a URL before any name is resolved: the scheme, and
    /// the host when it is a literal address (`127.0.0.1`, `[::1]`). Host names pass;
    /// their addresses are checked by [`OutboundPolicy::resolve`] when connecting.
    pub fn check_target(&self, scheme: &str, host: &str) -> Result<(), Refused> {
        self.check_scheme(scheme)?;
        if let Some(address) = literal_address(host) {
            self.check_ip(address).map_err(|mut refused| {
                refused.host = Some(host.to_owned());
                refused
            })?;
        }
        Ok(())
    }

    /// Keeps the addresses of `host` the policy allows; refuses when none is left,
    /// naming the first address refused and its rule.
    pub fn filter(
        &self,
        host: &str,
        addresses: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refused> {
        let mut allowed = Vec::new();
        let mut refused: Option<Refused> = None;
        for address in addresses {
            match self.check_ip(address.ip()) {
                Ok(()) => allowed.push(address),
                Err(r) => match &mut refused {
                    Some(first) => first.others += 1,
                    None => refused = Some(r),
                },
            }
        }
        if !allowed.is_empty() {
            if let Some(refused) = refused {
                tracing::debug!(%host, %refused, "some addresses of the host are refused; using the others");
            }
            return Ok(allowed);
        }
        let mut refused = refused.unwrap_or(Refused {
            host: None,
            address: None,
            scheme: None,
            rule: None,
            others: 0,
        });
        refused.host = Some(host.to_owned());
        Err(refused)
    }

    /// Resolves `host` (a name or a literal address) and keeps the addresses the policy
    /// allows, with `port`. Fails when the name cannot be resolved or every address is
    /// refused.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        if let Some(address) = literal_address(host) {
            return self
                .filter(host, [SocketAddr::new(address, port)])
                .map_err(ResolveError::Refused);
        }
        let found = tokio::net::lookup_host((host, port))
            .await
            .map_err(|source| ResolveError::Lookup {
                host: host.to_owned(),
                source,
            })?;
        self.filter(host, found).map_err(ResolveError::Refused)
    }
}

/// The address of a host that is a literal address, with or without IPv6 brackets.
pub fn literal_address(host: &str) -> Option<IpAddr> {
    let inner = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    inner.parse().ok()
}

/// `text` fit for an error message that reaches an API client: control characters
/// dropped, whitespace runs collapsed, at most `max_chars` characters (an ellipsis
/// marks a cut). For the short reasons remote peers give, never for bodies.
pub fn sanitize_reason(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        {
            continue;
        }
        if space && !out.is_empty() {
            if count >= max_chars {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
        }
        space = false;
        if count >= max_chars {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("a CIDR")
    }

    #[test]
    fn cidrs_parse_and_match() {
        assert!(cidr("10.0.0.0/8").contains(ip("10.255.1.2")));
        assert!(!cidr("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(cidr("fe80::/10").contains(ip("febf::1")));
        assert!(!cidr("fe80::/10").contains(ip("fec0::1")));
        assert_eq!(cidr("127.0.0.2"), cidr("127.0.0.2/32"));
        assert_eq!(cidr("[::1]"), cidr("::1/128"));
        assert_eq!(cidr("::ffff:10.0.0.0/104"), cidr("10.0.0.0/8"));
        assert_eq!(cidr(" 10.0.0.0/8 ").to_string(), "10.0.0.0/8");
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "example.com/8",
            "",
            "/8",
            "10.0.0.0/8/8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad:?} must be refused");
        }
        let hint = Cidr::parse("10.1.2.3/8").expect_err("host bits");
        assert!(hint.contains("10.0.0.0/8"), "{hint}");
    }

    #[test]
    fn defaults_deny_metadata_and_link_local_and_allow_loopback_and_private() {
        let policy = OutboundPolicy::default();
        for denied in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.1.1",
            "fe80::1",
            "fd00:ec2::254",
            "100.100.100.200",
            "192.0.0.192",
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                policy.check_ip(ip(denied)).is_err(),
                "{denied} must be denied"
            );
        }
        for allowed in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "fd12::1",
            "8.8.8.8",
            "2001:db8::1",
        ] {
            assert!(
                policy.check_ip(ip(allowed)).is_ok(),
                "{allowed} must be allowed"
            );
        }
        assert!(policy.check_scheme("http").is_ok());
        assert!(policy.check_scheme("HTTPS").is_ok());
        assert!(policy.check_scheme("file").is_err());
        assert!(policy.check_scheme("gopher").is_err());
    }

    #[test]
    fn mapped_and_nat64_addresses_are_judged_as_ipv4() {
        let policy = OutboundPolicy::default();
        for denied in [
            "::ffff:169.254.169.254",
            "::ffff:a9fe:a9fe",
            "64:ff9b::169.254.169.254",
            "::ffff:0.0.0.0",
        ] {
            let refused = policy.check_ip(ip(denied)).expect_err(denied);
            assert!(
                matches!(refused.rule, Some(Rule::Metadata(_) | Rule::Builtin(..))),
                "{denied}: {refused}"
            );
        }
        let strict = OutboundPolicy::default()
            .allow_loopback(false)
            .allow_private(false);
        assert!(strict.check_ip(ip("::ffff:127.0.0.1")).is_err());
        assert!(strict.check_ip(ip("::ffff:10.0.0.1")).is_err());
        let deny = OutboundPolicy::default().deny(cidr("127.0.0.2/32"));
        assert!(deny.check_ip(ip("::ffff:127.0.0.2")).is_err());
    }

    #[test]
    fn operator_rules_decide_by_the_longest_prefix() {
        let policy = OutboundPolicy::default()
            .allow_private(false)
            .allow(cidr("10.20.0.0/16"))
            .deny(cidr("10.20.30.0/24"))
            .allow(cidr("10.20.30.40/32"))
            .allow(cidr("169.254.169.254/32"))
            .deny(cidr("8.8.8.0/24"));
        assert!(policy.check_ip(ip("10.20.1.1")).is_ok());
        assert!(policy.check_ip(ip("10.21.1.1")).is_err());
        assert!(policy.check_ip(ip("10.20.30.1")).is_err());
        assert!(policy.check_ip(ip("10.20.30.40")).is_ok());
        assert!(policy.check_ip(ip("169.254.169.254")).is_ok());
        assert!(policy.check_ip(ip("169.254.169.253")).is_err());
        assert!(policy.check_ip(ip("8.8.8.8")).is_err());
        assert!(policy.check_ip(ip("8.8.4.4")).is_ok());
        let tie = OutboundPolicy::default()
            .allow(cidr("127.0.0.0/8"))
            .deny(cidr("127.0.0.0/8"));
        assert!(tie.check_ip(ip("127.0.0.1")).is_err());
    }

    #[test]
    fn refusals_name_the_host_address_and_rule() {
        let policy = OutboundPolicy::default().deny(cidr("127.0.0.2/32"));
        let refused = policy
            .filter("callback.example", [SocketAddr::new(ip("127.0.0.2"), 80)])
            .expect_err("refused");
        let text = refused.to_string();
        assert!(text.contains("callback.example"), "{text}");
        assert!(text.contains("127.0.0.2"), "{text}");
        assert!(text.contains("rule deny 127.0.0.2/32"), "{text}");
        let metadata = policy
            .check_target("http", "169.254.169.254")
            .expect_err("refused")
            .to_string();
        assert!(metadata.contains("169.254.169.254/32"), "{metadata}");
        assert!(metadata.contains("metadata"), "{metadata}");
        let scheme = policy.check_target("file", "").expect_err("refused");
        assert!(scheme.to_string().contains("\"file\""), "{scheme}");
        let strict = OutboundPolicy::default().allow_private(false);
        let private = strict.check_ip(ip("10.0.0.1")).expect_err("refused");
        assert!(private.to_string().contains("allow-private"), "{private}");
    }

    #[test]
    fn filter_keeps_the_allowed_addresses() {
        let policy = OutboundPolicy::default().deny(cidr("127.0.0.1/32"));
        let kept = policy
            .filter(
                "localhost",
                [
                    SocketAddr::new(ip("127.0.0.1"), 80),
                    SocketAddr::new(ip("::1"), 80),
                ],
            )
            .expect("::1 is allowed");
        assert_eq!(kept, vec![SocketAddr::new(ip("::1"), 80)]);
    }

    #[tokio::test]
    async fn resolve_checks_the_resolved_addresses() {
        let policy = OutboundPolicy::default()
            .deny(cidr("127.0.0.0/8"))
            .deny(cidr("::1/128"));
        let error = policy
            .resolve("localhost", 8080)
            .await
            .expect_err("refused");
        assert!(matches!(error, ResolveError::Refused(_)), "{error}");
        assert!(error.to_string().contains("localhost"), "{error}");
        let found = OutboundPolicy::default()
            .resolve("127.0.0.1", 8080)
            .await
            .expect("allowed");
        assert_eq!(found, vec![SocketAddr::new(ip("127.0.0.1"), 8080)]);
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        assert!(find_refusal(boxed.as_ref()).is_some());
    }

    #[test]
    fn reasons_are_sanitized_and_bounded() {
        assert_eq!(sanitize_reason("  a\r\n\tb\u{1b}[31m c ", 100), "a b[31m c");
        assert_eq!(sanitize_reason("abcdef", 3), "abc…");
        assert_eq!(sanitize_reason("ab cdef", 2), "ab…");
        assert_eq!(sanitize_reason("", 3), "");
        assert_eq!(sanitize_reason("é\u{202e}x", 5), "éx");
    }
}
