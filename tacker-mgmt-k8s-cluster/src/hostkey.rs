//! Which SSH host keys a node may present: SHA-256 fingerprints and `known_hosts` text.
//!
//! There is no "accept anything" policy: a policy with neither fingerprints nor
//! `known_hosts` entries cannot be built, and every connection of this crate checks the
//! server's key against one before authenticating.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use russh::keys::ssh_key::public::KeyData;
use russh::keys::{HashAlg, parse_public_key_base64};

/// The host keys a node may present.
#[derive(Clone, PartialEq, Eq)]
pub struct HostKeyPolicy {
    /// SHA-256 fingerprints, as `SHA256:` and unpadded base64.
    fingerprints: Vec<String>,
    /// Parsed `known_hosts` lines.
    known_hosts: Vec<KnownHost>,
    /// The policy that decides for hosts this one has no entry for.
    fallback: Option<Box<HostKeyPolicy>>,
}

impl std::fmt::Debug for HostKeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKeyPolicy")
            .field("fingerprints", &self.fingerprints)
            .field("known_hosts_lines", &self.known_hosts.len())
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
struct KnownHost {
    revoked: bool,
    hosts: Vec<HostPattern>,
    key: KeyData,
}

#[derive(Clone, PartialEq, Eq)]
enum HostPattern {
    /// A name or address pattern with `*` and `?`, possibly negated with `!`.
    Plain { pattern: String, negated: bool },
    /// `|1|salt|hash`: HMAC-SHA1 of the host name keyed by the salt.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
}

/// Why a presented host key is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyRejection {
    /// The presented key's type and fingerprint, e.g. `ssh-ed25519 SHA256:…`.
    pub presented: String,
    /// What was expected instead.
    pub reason: String,
}

impl std::fmt::Display for HostKeyRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "it presented {}: {}", self.presented, self.reason)
    }
}

/// Normalises a fingerprint given by a user: `SHA256:` prefix, no base64 padding.
/// `None` when it is not a SHA-256 fingerprint.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let text = text.trim();
    let body = text.strip_prefix("SHA256:")?;
    let body = body.trim_end_matches('=');
    let bytes = STANDARD_NO_PAD.decode(body).ok()?;
    (bytes.len() == 32).then(|| format!("SHA256:{body}"))
}

/// The SHA-256 fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &KeyData) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The host name a `known_hosts` line names a node by: `address`, or `[address]:port`
/// when the port is not 22.
pub fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_owned()
    } else {
        format!("[{host}]:{port}")
    }
}

fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    // Iterative matching with one backtrack point for the last `*`.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p].eq_ignore_ascii_case(&text[t])) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

impl HostPattern {
    fn parse(text: &str) -> Result<Self, String> {
        if let Some(hashed) = text.strip_prefix("|1|") {
            let (salt, hash) = hashed
                .split_once('|')
                .ok_or_else(|| format!("hashed host '{text}' is not |1|salt|hash"))?;
            let salt = STANDARD
                .decode(salt)
                .map_err(|e| format!("hashed host '{text}': bad salt: {e}"))?;
            let hash = STANDARD
                .decode(hash)
                .map_err(|e| format!("hashed host '{text}': bad hash: {e}"))?;
            return Ok(Self::Hashed { salt, hash });
        }
        let (pattern, negated) = match text.strip_prefix('!') {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        if pattern.is_empty() {
            return Err("empty host pattern".to_owned());
        }
        Ok(Self::Plain {
            pattern: pattern.to_owned(),
            negated,
        })
    }

    /// `Some(true)` for a match, `Some(false)` for a negated match (the line does not
    /// apply), `None` when the pattern says nothing about the name.
    fn matches(&self, name: &str) -> Option<bool> {
        match self {
            Self::Plain { pattern, negated } => {
                wildcard_match(pattern.as_bytes(), name.as_bytes()).then_some(!negated)
            }
            Self::Hashed { salt, hash } => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
                ring::hmac::verify(&key, name.as_bytes(), hash)
                    .is_ok()
                    .then_some(true)
            }
        }
    }
}

impl KnownHost {
    fn parse(line: &str) -> Result<Option<Self>, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let mut revoked = false;
        if let Some(marker) = first.strip_prefix('@') {
            match marker {
                "revoked" => revoked = true,
                "cert-authority" => {
                    return Err(
                        "@cert-authority lines are not supported: give the hosts' own keys"
                            .to_owned(),
                    );
                }
                other => return Err(format!("unknown marker @{other}")),
            }
            first = fields.next().unwrap_or_default();
        }
        let hosts = first
            .split(',')
            .map(HostPattern::parse)
            .collect::<Result<Vec<_>, _>>()?;
        let key_type = fields
            .next()
            .ok_or_else(|| "a line needs hosts, a key type and a key".to_owned())?;
        let key_text = fields
            .next()
            .ok_or_else(|| "a line needs hosts, a key type and a key".to_owned())?;
        let key = parse_public_key_base64(key_text)
            .map_err(|e| format!("the {key_type} key cannot be read: {e}"))?;
        if key.algorithm().as_str() != key_type {
            return Err(format!(
                "the key is {}, the line says {key_type}",
                key.algorithm().as_str()
            ));
        }
        Ok(Some(Self {
            revoked,
            hosts,
            key: key.key_data().clone(),
        }))
    }

    fn applies_to(&self, name: &str) -> bool {
        let mut matched = false;
        for pattern in &self.hosts {
            match pattern.matches(name) {
                Some(false) => return false,
                Some(true) => matched = true,
                None => {}
            }
        }
        matched
    }
}

impl HostKeyPolicy {
    /// A policy from fingerprints (`SHA256:…`) and `known_hosts` text. Fails, naming
    /// the entry, on a malformed one, and when both are empty.
    pub fn new(fingerprints: &[String], known_hosts: Option<&str>) -> Result<Self, String> {
        let mut normalized = Vec::with_capacity(fingerprints.len());
        for (index, text) in fingerprints.iter().enumerate() {
            normalized.push(normalize_fingerprint(text).ok_or_else(|| {
                format!(
                    "[{index}] '{text}' is not a SHA-256 fingerprint (SHA256: and 43 base64 characters, as ssh-keygen -l prints it)"
                )
            })?);
        }
        let mut lines = Vec::new();
        for (number, line) in known_hosts.unwrap_or_default().lines().enumerate() {
            if let Some(entry) =
                KnownHost::parse(line).map_err(|e| format!("line {}: {e}", number + 1))?
            {
                lines.push(entry);
            }
        }
        if normalized.is_empty() && lines.iter().all(|l| l.revoked) {
            return Err(
                "no host key is given: the nodes' SSH host keys cannot be verified".to_owned(),
            );
        }
        Ok(Self {
            fingerprints: normalized,
            known_hosts: lines,
            fallback: None,
        })
    }

    /// This policy, deferring to `fallback` for a host it has no `known_hosts` entry
    /// (and no fingerprint) for: the operator's `known_hosts` decides for the hosts it
    /// knows, a request's host keys for the others.
    #[must_use]
    pub fn with_fallback(mut self, fallback: HostKeyPolicy) -> Self {
        self.fallback = Some(Box::new(fallback));
        self
    }

    /// Checks the key a node at `host`:`port` presented.
    pub fn check(&self, host: &str, port: u16, key: &KeyData) -> Result<(), HostKeyRejection> {
        let name = known_hosts_name(host, port);
        let print = fingerprint(key);
        let presented = format!("{} {print}", key.algorithm().as_str());
        let applicable: Vec<&KnownHost> = self
            .known_hosts
            .iter()
            .filter(|l| l.applies_to(&name))
            .collect();
        if applicable.iter().any(|l| l.revoked && &l.key == key) {
            return Err(HostKeyRejection {
                presented,
                reason: format!("known_hosts marks this key @revoked for {name}"),
            });
        }
        if self.fingerprints.contains(&print)
            || applicable.iter().any(|l| !l.revoked && &l.key == key)
        {
            return Ok(());
        }
        if let Some(fallback) = &self.fallback
            && !applicable.iter().any(|l| !l.revoked)
        {
            return fallback.check(host, port, key);
        }
        let reason = if applicable.iter().any(|l| !l.revoked) {
            format!(
                "known_hosts holds another key for {name}: the host key has CHANGED (or another machine answers at this address)"
            )
        } else if self.fingerprints.is_empty() {
            format!("known_hosts holds no key for {name}")
        } else {
            format!(
                "it is not one of the {} expected fingerprint(s){}",
                self.fingerprints.len(),
                if self.known_hosts.is_empty() {
                    String::new()
                } else {
                    format!(" and known_hosts holds no key for {name}")
                }
            )
        };
        Err(HostKeyRejection { presented, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbieU1ebz9/cu7/QEXn9OIeZJ";
    const OTHER: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIEIzO6O8oxjbqq0vpXJ9USJnD9nqe0ATBQnn06zm8gxn";

    fn key(text: &str) -> KeyData {
        parse_public_key_base64(text)
            .expect("test key")
            .key_data()
            .clone()
    }

    #[test]
    fn fingerprints_are_normalised_and_matched() {
        let print = fingerprint(&key(KEY));
        assert!(print.starts_with("SHA256:"));
        let policy = HostKeyPolicy::new(&[format!("{print}=")], None).expect("policy");
        assert!(policy.check("10.0.0.1", 22, &key(KEY)).is_ok());
        let refused = policy
            .check("10.0.0.1", 22, &key(OTHER))
            .expect_err("other key");
        assert!(refused.presented.contains("ssh-ed25519 SHA256:"));
        assert!(refused.reason.contains("not one of the 1 expected"));
        assert!(HostKeyPolicy::new(&["MD5:aa:bb".to_owned()], None).is_err());
        assert!(HostKeyPolicy::new(&[], None).is_err());
        assert!(HostKeyPolicy::new(&[], Some("# only a comment\n")).is_err());
    }

    #[test]
    fn known_hosts_lines_match_by_name_port_and_pattern() {
        let text = format!(
            "10.0.0.1,10.0.0.2 ssh-ed25519 {KEY}\n[10.0.0.3]:2222 ssh-ed25519 {KEY} comment\n10.1.* ssh-ed25519 {KEY}\n!10.1.0.9,10.1.0.* ssh-ed25519 {OTHER}\n"
        );
        let policy = HostKeyPolicy::new(&[], Some(&text)).expect("policy");
        assert!(policy.check("10.0.0.2", 22, &key(KEY)).is_ok());
        assert!(policy.check("10.0.0.3", 2222, &key(KEY)).is_ok());
        assert!(policy.check("10.0.0.3", 22, &key(KEY)).is_err());
        assert!(policy.check("10.1.7.7", 22, &key(KEY)).is_ok());
        assert!(policy.check("10.1.0.8", 22, &key(OTHER)).is_ok());
        assert!(policy.check("10.1.0.9", 22, &key(OTHER)).is_err());
        let changed = policy
            .check("10.0.0.1", 22, &key(OTHER))
            .expect_err("changed");
        assert!(changed.reason.contains("CHANGED"), "{changed}");
    }

    #[test]
    fn hashed_hosts_and_revoked_keys() {
        let salt = [7u8; 20];
        let hmac = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
        let tag = ring::hmac::sign(&hmac, b"[127.0.0.5]:2200");
        let line = format!(
            "|1|{}|{} ssh-ed25519 {KEY}\n@revoked * ssh-ed25519 {OTHER}\n",
            STANDARD.encode(salt),
            STANDARD.encode(tag.as_ref())
        );
        let print = fingerprint(&key(OTHER));
        let policy = HostKeyPolicy::new(&[print], Some(&line)).expect("policy");
        assert!(policy.check("127.0.0.5", 2200, &key(KEY)).is_ok());
        assert!(policy.check("127.0.0.6", 2200, &key(KEY)).is_err());
        let revoked = policy
            .check("127.0.0.5", 2200, &key(OTHER))
            .expect_err("revoked wins over the fingerprint");
        assert!(revoked.reason.contains("@revoked"));
    }

    #[test]
    fn malformed_known_hosts_lines_are_named() {
        let error = HostKeyPolicy::new(&[], Some("\n10.0.0.1 ssh-ed25519\n")).expect_err("bad");
        assert!(error.starts_with("line 2:"), "{error}");
        let error =
            HostKeyPolicy::new(&[], Some(&format!("h ssh-rsa {KEY}"))).expect_err("wrong type");
        assert!(error.contains("the line says ssh-rsa"), "{error}");
        assert!(
            HostKeyPolicy::new(&[], Some(&format!("@cert-authority * ssh-ed25519 {KEY}"))).is_err()
        );
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match(b"*", b"anything"));
        assert!(wildcard_match(b"a?c*", b"abcdef"));
        assert!(!wildcard_match(b"a?c", b"abcd"));
        assert!(wildcard_match(b"*.example.com", b"node.Example.com"));
        assert!(!wildcard_match(b"", b"x"));
    }

    #[test]
    fn the_operators_known_hosts_decides_for_the_hosts_it_knows() {
        let operator = HostKeyPolicy::new(&[], Some(&format!("10.0.0.1 ssh-ed25519 {KEY}\n")))
            .expect("operator file");
        let request = HostKeyPolicy::new(&[fingerprint(&key(OTHER))], None).expect("request");
        let policy = operator.with_fallback(request);
        // The operator's entry wins over the request's fingerprint for its host.
        assert!(policy.check("10.0.0.1", 22, &key(KEY)).is_ok());
        let changed = policy
            .check("10.0.0.1", 22, &key(OTHER))
            .expect_err("the request cannot override the operator's pin");
        assert!(changed.reason.contains("CHANGED"), "{}", changed.reason);
        // Other hosts are decided by the request.
        assert!(policy.check("10.0.0.2", 22, &key(OTHER)).is_ok());
        assert!(policy.check("10.0.0.2", 22, &key(KEY)).is_err());
    }
}
